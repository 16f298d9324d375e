#!/usr/bin/env bash
# Runs every fuzz target (Sources/FuzzTargets) under libFuzzer with AddressSanitizer, each for
# FUZZ_SECONDS (default 60), growing Fuzz/corpus/<target> and saving any crash to
# Fuzz/crashes/<target>/ (commit both: `make test` replays them).
# Usage: scripts/fuzz.sh [TARGET...]   (FUZZ_SECONDS=600 scripts/fuzz.sh http-date)
set -euo pipefail
cd "$(dirname "$0")/.."
seconds=${FUZZ_SECONDS:-60}
scratch=.build-fuzz
echo "fuzz: swift build -c release with libFuzzer and AddressSanitizer (SURVEYCHARTS_FUZZ=1, $scratch)"
SURVEYCHARTS_FUZZ=1 swift build -c release --scratch-path "$scratch" --product surveycharts-fuzz
binary="$scratch/release/surveycharts-fuzz"
targets=("$@")
if [ ${#targets[@]} -eq 0 ]; then
    mapfile -t targets < <(ls Fuzz/corpus)
fi
failed=0
for target in "${targets[@]}"; do
    mkdir -p "Fuzz/corpus/$target" "Fuzz/crashes/$target"
    work=$(mktemp -d /tmp/surveycharts-fuzz.XXXXXX)
    log="$work/log"
    echo "fuzz: $target for ${seconds}s"
    # New inputs go to a scratch corpus first, then are merged (minimised) into the tracked one.
    if ! SURVEYCHARTS_FUZZ_TARGET="$target" ASAN_OPTIONS=detect_leaks=1 "$binary" "$work" "Fuzz/corpus/$target" \
        -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=4096 -print_final_stats=1 \
        -artifact_prefix="Fuzz/crashes/$target/" >"$log" 2>&1; then
        echo "fuzz: $target FOUND A CRASH (saved under Fuzz/crashes/$target/):"
        tail -40 "$log"
        failed=1
    fi
    runs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' || echo 0)
    rate=$(grep -o 'exec/s: *[0-9]*' "$log" | tail -1 | grep -o '[0-9]*$' || echo 0)
    echo "fuzz: $target: $runs executions, about $rate a second"
    SURVEYCHARTS_FUZZ_TARGET="$target" "$binary" -merge=1 "Fuzz/corpus/$target" "$work" >/dev/null 2>&1 || true
    rm -rf "$work"
done
exit $failed
