#!/usr/bin/env bash
# make bench-stampede: the close stampede. A survey has just closed and none of its charts exists
# yet (a cold chart directory, pre-rendering off: the worst case, as if the close's pre-render had
# not run). 2,000 clients, split across 3 `serve` processes sharing one database and one chart
# directory, each ask for the results page and every chart it names (1x and 2x, wide and narrow)
# at once. Prints renders per chart (goal: 1, across the processes) and wrk's latency percentiles
# (goal: p99 ≤ 100 ms), for BENCH_ROUNDS (3) rounds, each with a fresh chart directory.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh wrk >/dev/null
echo "bench-stampede: swift build -c release (surveycharts)"
swift build -c release --product surveycharts >/dev/null
binary=.build/release/surveycharts
work=$(mktemp -d /tmp/surveycharts-bench-stampede.XXXXXX)
servers=()
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    rm -rf "$work"
}
trap cleanup EXIT
ulimit -n "$(ulimit -Hn)"
clients=${BENCH_CLIENTS:-2000}
processes=3
rounds=${BENCH_ROUNDS:-3}


start_servers() {  # $1: round
    ports=()
    for index in $(seq 1 "$processes"); do
        "$binary" serve --port 0 --metrics-address 127.0.0.1:0 --no-access-log --no-prerender --database "$work/surveys.sqlite3" \
            --charts-dir "$work/charts-$1" --today 2026-11-22 > "$work/serve-$1-$index.out" 2> "$work/serve-$1-$index.log" &
        servers+=("$!")
    done
    for index in $(seq 1 "$processes"); do
        for _ in $(seq 1 100); do grep -q "listening on" "$work/serve-$1-$index.out" 2>/dev/null && break; sleep 0.1; done
        ports+=("$(sed -nE 's/.*listening on http:\/\/127.0.0.1:([0-9]+).*/\1/p' "$work/serve-$1-$index.out")")
    done
}
stop_servers() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    servers=()
}
renders() {  # the charts drawn by every process of this round
    local total=0
    for index in $(seq 1 "$processes"); do
        local metrics
        metrics=$(sed -nE 's/.*metrics on (http:[^ ]+).*/\1/p' "$work/serve-$1-$index.out")
        local count
        count=$(curl -s "$metrics" | sed -nE 's/^surveycharts_chart_renders_total ([0-9.]+)$/\1/p')
        [ -n "$count" ] || { echo "bench-stampede: no render count from $metrics" >&2; exit 1; }
        total=$((total + ${count%.*}))
    done
    echo "$total"
}

# The demo database, made once by one process before three share it.
"$binary" serve --port 0 --metrics-address 127.0.0.1:0 --no-access-log --no-prerender --database "$work/surveys.sqlite3" \
    --charts-dir "$work/charts-0" --today 2026-11-22 > "$work/serve-0.out" 2> "$work/serve-0.log" &
servers+=("$!")
for _ in $(seq 1 100); do grep -q "listening on" "$work/serve-0.out" 2>/dev/null && break; sleep 0.1; done
stop_servers

results=()
for round in $(seq 1 "$rounds"); do
    start_servers "$round"
    # The demo's completed survey 1: its page and the chart URLs of results.json (what the page's
    # <img> and srcset name). results.json draws nothing; it only names the files.
    urls=$(curl -s "http://127.0.0.1:${ports[0]}/surveys/1/results.json" | python3 -c '
import json, sys
document = json.load(sys.stdin)
print("/surveys/1")
for question in document["questions"]:
    for key in ("chart", "narrowChart"):
        for scale in ("1x", "2x"):
            print(question[key][scale])')
    charts=$(($(wc -l <<<"$urls") - 1))
    # Each connection is a client: the page, then each chart in turn, then again, for 2 s. wrk's
    # latency covers every answer of the stampede, the first (cold) ones included.
    lua="$work/stampede.lua"
    {
        echo "local paths = {"
        while read -r url; do echo "  \"$url\","; done <<<"$urls"
        echo "}"
        cat <<'LUA'
local index = 0
request = function()
  index = index % #paths + 1
  return wrk.format("GET", paths[index])
end
LUA
    } > "$lua"
    outputs=()
    for index in $(seq 0 $((processes - 1))); do
        connections=$((clients / processes + (index < clients % processes ? 1 : 0)))
        wrk -t1 -c"$connections" -d2s --latency --timeout 10s -s "$lua" "http://127.0.0.1:${ports[$index]}/" \
            > "$work/wrk-$round-$index.txt" 2>&1 &
        outputs+=("$!")
    done
    for pid in "${outputs[@]}"; do wait "$pid"; done
    drawn=$(renders "$round")
    stop_servers
    for index in $(seq 0 $((processes - 1))); do
        if grep -q "Non-2xx or 3xx responses\|Socket errors" "$work/wrk-$round-$index.txt"; then
            echo "bench-stampede: round $round, process $index: wrk saw errors or non-2xx answers:" >&2
            cat "$work/wrk-$round-$index.txt" >&2
            exit 1
        fi
    done
    line=$(python3 - "$round" "$charts" "$drawn" "$work"/wrk-"$round"-*.txt <<'PY'
import re, sys
round_number, charts, drawn = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])
def ms(text):
    value, unit = re.match(r"([\d.]+)(us|ms|s)", text).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]
requests, p99s, p50s = 0, [], []
for path in sys.argv[4:]:
    out = open(path).read()
    requests += int(re.search(r"(\d+) requests in", out).group(1))
    p50s.append(ms(re.search(r"^\s+50%\s+(\S+)", out, re.M).group(1)))
    p99s.append(ms(re.search(r"^\s+99%\s+(\S+)", out, re.M).group(1)))
print("%d %d %d %d %.1f %.1f" % (round_number, charts, drawn, requests, max(p50s), max(p99s)))
PY
)
    read -r _ charts drawn requests p50 p99 <<<"$line"
    echo "bench-stampede: round $round: $charts charts, $drawn renders across $processes processes, $requests answers in 2 s, p50 ${p50} ms, p99 ${p99} ms (the worst process's)"
    results+=("$line")
done
python3 - "${results[@]}" <<'PY'
import statistics, sys
rows = [line.split() for line in sys.argv[1:]]
charts = int(rows[0][1])
renders = [int(row[2]) for row in rows]
p99 = [float(row[5]) for row in rows]
print("close stampede: %d clients over 3 processes, survey 1's page and %d charts: renders per chart %s "
      "(goal 1); p99 %.1f ms median of %d rounds (goal ≤ 100 ms); rounds: %s ms"
      % (int(__import__('os').environ.get('BENCH_CLIENTS', 2000)), charts,
         "/".join("%.2f" % (r / charts) for r in renders), statistics.median(p99), len(rows),
         ", ".join("%.1f" % p for p in p99)))
PY
