#!/usr/bin/env bash
# make bench-prerender: import 2,000 closed questions, pre-render all their charts (1x and 2x) into a
# cold chart directory, and print charts/s beside the origin's matplotlib rate from the same run.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "bench-prerender: swift build -c release (surveycharts)"
swift build -c release --product surveycharts >/dev/null
binary=.build/release/surveycharts
work=$(mktemp -d /tmp/surveycharts-bench-prerender.XXXXXX)
trap 'rm -rf "$work"' EXIT
python3 - "$work/surveys.json" <<'PY'
import json, random, sys
random.seed(7)
words = "comedy drama reality news sport film series documentary music cooking travel quiz".split()
surveys = []
for s in range(200):
    questions = []
    for q in range(10):
        answers = [{"text": " ".join(random.sample(words, random.randint(1, 4))).capitalize() + f" {a}",
                    "votes": random.choice([0, 1, 3, 12, 40, 250, 1999])} for a in range(random.randint(2, 8))]
        questions.append({"text": f"Question {q + 1} of survey {s + 1}: which {random.choice(words)} do you prefer?",
                          "answers": answers})
    surveys.append({"title": f"Closed survey {s + 1}", "opens": "2026-10-01", "closes": "2026-11-01",
                    "questions": questions})
json.dump({"surveys": surveys}, open(sys.argv[1], "w"))
PY
"$binary" import "$work/surveys.json" --database "$work/surveys.sqlite3"
# The command's default --jobs (twice the cores) unless BENCH_JOBS says otherwise.
jobs=${BENCH_JOBS:-$((2 * $(nproc)))}
result=$("$binary" prerender --all --jobs "$jobs" --database "$work/surveys.sqlite3" --charts-dir "$work/piecharts" \
    --today 2026-11-22 2>/dev/null)
echo "$result"
if [ ! -x .venv-bench/bin/python ] || ! .venv-bench/bin/python -c "import matplotlib" 2>/dev/null; then
    echo "bench-prerender: creating .venv-bench with matplotlib from PyPI"
    python3 -m venv .venv-bench
    .venv-bench/bin/pip install -q matplotlib
fi
theirs=$(.venv-bench/bin/python ../shared/peers/matplotlib_pie.py bench/tv-new-shows.json --n 60)
python3 - "$result" "$theirs" "$jobs" <<'PY'
import re, sys
ours = float(re.search(r"([\d.]+) charts/s", sys.argv[1]).group(1))
rendered = int(re.search(r"rendered (\d+)", sys.argv[1]).group(1))
median = float(re.search(r"median ([\d.]+) ms", sys.argv[2]).group(1))
print("surveycharts: %.0f charts/s (%d charts: each variant the pages use at 1x and 2x, of 2,000 questions; %s jobs; "
      "each chart fsynced before its name appears; goal ≥ 2000)" % (ours, rendered, sys.argv[3]))
print("origin (matplotlib): %.0f charts/s (1x only, one process, no file writes)" % (1000 / median))
print("ratio: %.1f×" % (ours / (1000 / median)))
PY
