#!/usr/bin/env bash
# make bench-cache: cache hit latency and throughput, then cold stampedes: 1,000 concurrent gets in
# one process, and 4 processes × 250 at once on one directory. Prints renders (must be 1) and the
# waiting time relative to one render, measured in the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "bench-cache: swift build -c release (surveycharts-bench)"
swift build -c release --product surveycharts-bench >/dev/null
bench=.build/release/surveycharts-bench
directory=$(mktemp -d /tmp/surveycharts-bench-cache.XXXXXX)
trap 'rm -rf "$directory"' EXIT

$bench cache "$directory"

name="c-processes-$$.png"
start=$(python3 -c "import time; print(time.time() + 1.5)")
pids=()
for worker in 1 2 3 4; do
    $bench stampede-worker "$directory" "$name" 250 "$start" > "$directory/worker$worker.out" &
    pids+=($!)
done
for pid in "${pids[@]}"; do wait "$pid"; done
render_ms=$($bench render bench/tv-new-shows.json --n 50 | sed -E 's/.*median ([0-9.]+) ms.*/\1/')
python3 - "$directory" "$render_ms" <<'PY'
import glob, sys
renders, waits = 0, []
for path in sorted(glob.glob(sys.argv[1] + "/worker*.out")):
    line = open(path).read().strip()
    head, _, tail = line.partition(" waits ")
    renders += int(head.split()[1])
    waits += [float(x) for x in tail.split(",")]
waits.sort()
p50, p99 = waits[len(waits) // 2], waits[min(len(waits) - 1, int(len(waits) * 0.99))]
render = float(sys.argv[2])
print("cold stampede, 4 processes x 250: renders %d, wait p50 %.2f ms (%.1f× render), p99 %.2f ms (%.1f× render), render %.2f ms"
      % (renders, p50, p50 / render, p99, p99 / render, render))
PY
