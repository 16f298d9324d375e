#!/usr/bin/env bash
# Installs the Debian packages SurveyCharts builds and runs with, when any is missing.
# Usage: scripts/install-deps.sh [extra packages...]
set -euo pipefail

packages=(libcairo2-dev libpango1.0-dev libpng-dev libsqlite3-dev pkg-config fonts-dejavu-core fonts-wqy-microhei "$@")
missing=()
for package in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$package" 2>/dev/null | grep -q "install ok installed" || missing+=("$package")
done
if [ ${#missing[@]} -eq 0 ]; then
    echo "deps: all Debian packages present (${packages[*]})"
    exit 0
fi
echo "deps: installing ${missing[*]}"
sudo_cmd=()
[ "$(id -u)" -eq 0 ] || sudo_cmd=(sudo)
"${sudo_cmd[@]}" apt-get update -qq
DEBIAN_FRONTEND=noninteractive "${sudo_cmd[@]}" apt-get install -y -qq --no-install-recommends "${missing[@]}"
echo "deps: installed ${missing[*]}"
