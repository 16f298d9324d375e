#!/usr/bin/env bash
# make bench-render: the seed's chart rendered in-process by SurveyCharts (release build) and by
# the origin's matplotlib renderer, in the same run. Prints both medians and the ratio.
set -euo pipefail
cd "$(dirname "$0")/.."
spec=bench/tv-new-shows.json
runs=${BENCH_RUNS:-500}
peer=../shared/peers/matplotlib_pie.py

echo "bench-render: swift build -c release (surveycharts-bench)"
swift build -c release --product surveycharts-bench >/dev/null
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import matplotlib" 2>/dev/null; then
    echo "bench-render: creating .venv-bench with matplotlib from PyPI"
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q matplotlib
fi
mkdir -p .build/bench
ours=$(.build/release/surveycharts-bench render "$spec" --n "$runs" --out .build/bench/surveycharts.png)
theirs=$(.venv-bench/bin/python "$peer" "$spec" --n 200 --out .build/bench/matplotlib.png)
echo "$ours"
echo "$theirs"
python3 - "$ours" "$theirs" <<'PY'
import re, sys
def parse(line):
    m = re.search(r"median ([\d.]+) ms/chart, p90 ([\d.]+) ms, (\d+) bytes", line)
    return float(m.group(1)), int(m.group(3))
(ours_ms, ours_bytes), (theirs_ms, theirs_bytes) = parse(sys.argv[1]), parse(sys.argv[2])
print("render: surveycharts %.2f ms median, matplotlib %.2f ms: %.1f× faster (goal ≤ 0.5 ms)"
      % (ours_ms, theirs_ms, theirs_ms / ours_ms))
print("PNG bytes: surveycharts %d, matplotlib %d: %.2f× (goal ≤ 0.6)" % (ours_bytes, theirs_bytes, ours_bytes / theirs_bytes))
PY
