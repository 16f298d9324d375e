#!/usr/bin/env bash
# Fetches axe-core (the accessibility engine the browser tests run in each page) into
# .build/test-tools/axe.min.js. This machine reaches only Debian and PyPI; the PyPI wheel of
# axe-playwright-python ships axe.min.js (axe-core 4.x), so it comes from there.
set -euo pipefail
cd "$(dirname "$0")/.."
target=.build/test-tools/axe.min.js
if [ -s "$target" ]; then
    echo "axe: $target present"
    exit 0
fi
mkdir -p .build/test-tools
download=$(mktemp -d)
trap 'rm -rf "$download"' EXIT
echo "axe: fetching axe-playwright-python from PyPI for its axe.min.js"
python3 -m pip download --quiet --no-deps --only-binary=:all: --dest "$download" "axe-playwright-python==0.1.8"
python3 - "$download" "$target" <<'PY'
import glob, sys, zipfile
wheel = glob.glob(sys.argv[1] + "/*.whl")[0]
with zipfile.ZipFile(wheel) as archive:
    data = archive.read("axe_playwright_python/axe.min.js")
open(sys.argv[2], "wb").write(data)
print("axe: wrote %s (%d bytes)" % (sys.argv[2], len(data)))
PY
