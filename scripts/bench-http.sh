#!/usr/bin/env bash
# make bench-http: warm chart hits against nginx and Caddy serving the same file from the same
# directory, the warm results page and ballots per second against the origin (Django + gunicorn,
# ../shared/peers/marketr), and the server's peak RSS, all in one run.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh nginx-light caddy wrk postgresql >/dev/null
# Ballots on PostgreSQL run against a throwaway cluster beside this run.
if [ -z "${SURVEYCHARTS_TEST_POSTGRES_URL:-}" ]; then exec scripts/with-postgres.sh "$0" "$@"; fi
echo "bench-http: swift build -c release (surveycharts)"
swift build -c release --product surveycharts >/dev/null
swift build -c release --product surveycharts-bench >/dev/null
binary=.build/release/surveycharts
work=$(mktemp -d /tmp/surveycharts-bench-http.XXXXXX)
# mktemp makes the directory 0700, and nginx's workers run as nobody: without this, nginx answered
# every chart 403 and earlier "× nginx" figures were measured against an error page.
chmod 755 "$work"
nginx_pid=""
caddy_pid=""
origin_pid=""
servers=()  # every `surveycharts serve` still running
cleanup() {
    for pid in "${servers[@]}"; do kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null || true; done
    [ -n "$caddy_pid" ] && kill "$caddy_pid" 2>/dev/null && wait "$caddy_pid" 2>/dev/null || true
    [ -n "$origin_pid" ] && kill "$origin_pid" 2>/dev/null || true
    [ -n "$nginx_pid" ] && kill "$nginx_pid" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT
duration=${BENCH_SECONDS:-8}

# start_server NAME ARGS...: `surveycharts serve --port 0 --static-dir static ARGS...`, output in
# $work/NAME.out and .log; waits until it listens, then sets $server_pid and $server_port.
start_server() {
    local name=$1
    shift
    "$binary" serve --port 0 --static-dir static "$@" > "$work/$name.out" 2> "$work/$name.log" &
    server_pid=$!
    servers+=("$server_pid")
    for _ in $(seq 1 100); do grep -q "listening on" "$work/$name.out" 2>/dev/null && break; sleep 0.1; done
    server_port=$(sed -nE 's/.*listening on http:\/\/127.0.0.1:([0-9]+).*/\1/p' "$work/$name.out")
}
# stop_server PID: stops one server started by start_server.
stop_server() {
    kill "$1"
    wait "$1" 2>/dev/null || true
}

start_server main --no-access-log --database "$work/surveys.sqlite3" --charts-dir "$work/piecharts"
main_pid=$server_pid
port=$server_port
chart=$(curl -s "http://127.0.0.1:$port/surveys/1/results.json" | python3 -c 'import json,sys; print(json.load(sys.stdin)["questions"][1]["chart"]["1x"])')
curl -s -o /dev/null "http://127.0.0.1:$port$chart"
# The chart bytes a results page costs (the seed's survey 1): phones load the narrow chart at 2x,
# desktops the wide one at 1x. Beside each: the same pixels as lossless RGB, the encoder before
# charts became palette PNGs.
page_bytes() {  # $1: chart key, $2: scale
    local files=()
    for url in $(curl -s "http://127.0.0.1:$port/surveys/1/results.json" | python3 -c "import json,sys
for q in json.load(sys.stdin)['questions']: print(q['$1']['$2'])"); do
        curl -s -o /dev/null "http://127.0.0.1:$port$url"
        files+=("$work${url}")
    done
    .build/release/surveycharts-bench png-bytes "${files[@]}"
}
phone_bytes=$(page_bytes narrowChart 2x)
desktop_bytes=$(page_bytes chart 1x)

nginx_port=$((port + 1))
mkdir -p "$work/nginx"
cat > "$work/nginx/nginx.conf" <<CONF
worker_processes auto;
pid $work/nginx/nginx.pid;
error_log $work/nginx/error.log;
daemon off;
events { worker_connections 1024; }
http {
    access_log off;
    sendfile on;
    tcp_nopush on;
    open_file_cache max=1000;
    client_body_temp_path $work/nginx;
    proxy_temp_path $work/nginx;
    fastcgi_temp_path $work/nginx;
    uwsgi_temp_path $work/nginx;
    scgi_temp_path $work/nginx;
    types { image/png png; }
    server {
        listen 127.0.0.1:$nginx_port;
        location /piecharts/ { alias $work/piecharts/; expires max; }
        # The results page's very bytes as a static file, logged as nginx logs by default.
        location /surveys/ {
            root $work/pages;
            default_type "text/html; charset=utf-8";
            access_log $work/nginx/page-access.log combined;
        }
    }
}
CONF
# The same page on a server with the access log on (the default), writing to a file; its bytes
# are what nginx serves beside it.
start_server logged --no-prerender --database "$work/logged.sqlite3" --charts-dir "$work/logged-charts"
logged_pid=$server_pid
logged_port=$server_port
mkdir -p "$work/pages/surveys"
curl -s "http://127.0.0.1:$logged_port/surveys/1" > "$work/pages/surveys/1"
chmod -R a+rX "$work/pages"
nginx -c "$work/nginx/nginx.conf" &
nginx_pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$nginx_port$chart" && break; sleep 0.1; done
# Every peer must serve the very bytes we serve, with a 200, before anything is timed.
expected_chart=$(curl -s "http://127.0.0.1:$port$chart" | sha256sum)
for peer in "$nginx_port"; do
    status=$(curl -s -o "$work/peer-chart" -w '%{http_code}' "http://127.0.0.1:$peer$chart")
    if [ "$status" != 200 ] || [ "$(sha256sum < "$work/peer-chart")" != "$expected_chart" ]; then
        echo "bench-http: the peer on port $peer answered $status, not our chart; nothing was measured" >&2
        cat "$work/nginx/error.log" >&2 || true
        exit 1
    fi
done

# rate: the requests a second of one wrk run (on standard input), or a failed run when any answer
# was not 2xx or 3xx: a benchmark of error pages measures nothing.
rate() {
    local output
    output=$(cat)
    if grep -q "Non-2xx or 3xx responses" <<<"$output"; then
        echo "bench-http: a wrk run got answers that were not 2xx or 3xx:" >&2
        echo "$output" >&2
        exit 1
    fi
    sed -nE 's/^Requests\/sec:[[:space:]]+([0-9.]+).*/\1/p' <<<"$output"
}
# Caddy's file server on the same directory (no access log, like the other two here).
caddy_port=$((port + 2))
caddy file-server --root "$work" --listen "127.0.0.1:$caddy_port" > "$work/caddy.log" 2>&1 &
caddy_pid=$!
for _ in $(seq 1 100); do curl -sf -o /dev/null "http://127.0.0.1:$caddy_port$chart" && break; sleep 0.1; done
if [ "$(curl -s "http://127.0.0.1:$caddy_port$chart" | sha256sum)" != "$expected_chart" ]; then
    echo "bench-http: Caddy did not serve our chart; nothing was measured" >&2
    exit 1
fi

if [ "$(curl -s "http://127.0.0.1:$nginx_port/surveys/1" | sha256sum)" != "$(curl -s "http://127.0.0.1:$logged_port/surveys/1" | sha256sum)" ]; then
    echo "bench-http: nginx does not serve the results page's bytes; nothing was measured" >&2
    exit 1
fi
# Chart hits (access log off on both sides) and the cached results page (the default access log
# on both sides), each against nginx serving the same bytes from a file, alternating in rounds.
chart_rounds=(); nginx_chart_rounds=(); page_rounds=(); nginx_page_rounds=()
for round in $(seq 1 "${BENCH_ROUNDS:-3}"); do
    chart_rounds+=("$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$port$chart" | rate)")
    nginx_chart_rounds+=("$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$nginx_port$chart" | rate)")
    page_rounds+=("$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$logged_port/surveys/1" | rate)")
    nginx_page_rounds+=("$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$nginx_port/surveys/1" | rate)")
    echo "bench-http: round $round: chart ${chart_rounds[-1]} vs nginx ${nginx_chart_rounds[-1]} req/s; page (logged) ${page_rounds[-1]} vs nginx ${nginx_page_rounds[-1]} req/s" >&2
done
ours=$(printf '%s\n' "${chart_rounds[@]}" | sort -n | sed -n "$(( (${#chart_rounds[@]} + 1) / 2 ))p")
theirs=$(printf '%s\n' "${nginx_chart_rounds[@]}" | sort -n | sed -n "$(( (${#nginx_chart_rounds[@]} + 1) / 2 ))p")
hits_line="${chart_rounds[*]}|${nginx_chart_rounds[*]}|${page_rounds[*]}|${nginx_page_rounds[*]}"
caddy_hits=$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$caddy_port$chart" | rate)
kill "$caddy_pid"; wait "$caddy_pid" 2>/dev/null || true; caddy_pid=""
page=$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$port/surveys/1" | rate)
logged_page=$(printf '%s\n' "${page_rounds[@]}" | sort -n | sed -n "$(( (${#page_rounds[@]} + 1) / 2 ))p")
# What a phone downloads for the results page, as browsers ask for it (gzip accepted): the HTML,
# the CSS and the narrow charts at 2x; beside it the same without compression.
gzip_bytes() { curl -s -H 'Accept-Encoding: gzip, deflate, br' -o /dev/null -w '%{size_download}' "$1"; }
plain_bytes() { curl -s -o /dev/null -w '%{size_download}' "$1"; }
phone_weight="$(gzip_bytes "http://127.0.0.1:$logged_port/surveys/1") $(plain_bytes "http://127.0.0.1:$logged_port/surveys/1") $(gzip_bytes "http://127.0.0.1:$logged_port/static/style.css") $(plain_bytes "http://127.0.0.1:$logged_port/static/style.css")"
stop_server "$logged_pid"
logged_lines=$(grep -c '"GET /surveys/1 HTTP/1.1" 200' "$work/logged.log" || true)
# form_post FILE BODY: a wrk script that POSTs BODY as a form.
form_post() {
    printf 'wrk.method = "POST"\nwrk.body = "%s"\nwrk.headers["Content-Type"] = "application/x-www-form-urlencoded"\n' \
        "$2" > "$1"
}
# ballot_post FILE: a wrk script that POSTs ballots as the vote form does, each with its own
# receipt (so the store keeps one receipt row per ballot, as it does for real voters): a new
# 5-letter prefix per script, a letter per wrk thread, a counter.
ballot_post() {
    local prefix
    prefix=$(python3 -c 'import random, string; print("".join(random.choices(string.ascii_letters, k=5)))')
    cat > "$1" <<LUA
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/x-www-form-urlencoded"
local threads = 0
function setup(thread)
    threads = threads + 1
    thread:set("letter", string.sub("ABCDEFGHIJKLMNOPQRSTUVWXYZ", threads, threads))
end
local counter = 0
function request()
    counter = counter + 1
    return wrk.format(nil, nil, nil, string.format("q3=7&q4=11&receipt=$prefix%s%016d", letter, counter))
end
LUA
}
ballot_post "$work/ballot.lua"
# The same ballots on a server that does not wait for the disk: what durability costs.
start_server fast --no-access-log --no-prerender --unsafe-non-durable-ballots \
    --database "$work/fast.sqlite3" --charts-dir "$work/fast-charts"
fast_port=$server_port
fast_ballots=$(wrk -t2 -c32 -d"${duration}s" -s "$work/ballot.lua" "http://127.0.0.1:$fast_port/surveys/2" | rate)
stop_server "$server_pid"
# Ballots, durable, on SQLite and on PostgreSQL (one local cluster, default settings: every commit
# waits for its WAL flush, as synchronous=FULL does), beside the cluster's own benchmark on the same
# cluster: `pgbench -N` (TPC-B without the teller and branch updates: 3 statements and a commit per
# transaction), 32 clients as wrk has 32 connections. The three alternate in rounds; medians.
pg_database="${SURVEYCHARTS_TEST_POSTGRES_URL%/*}/bench_http_$$"
psql "$SURVEYCHARTS_TEST_POSTGRES_URL" -q -c "CREATE DATABASE bench_http_$$"
psql "$SURVEYCHARTS_TEST_POSTGRES_URL" -q -c "CREATE DATABASE bench_pgbench_$$"
pgbench -i -q "${SURVEYCHARTS_TEST_POSTGRES_URL%/*}/bench_pgbench_$$" > "$work/pgbench-init.log" 2>&1
start_server pg --no-access-log --no-prerender --database "$pg_database" --charts-dir "$work/pg-charts"
pg_port=$server_port
rounds=${BENCH_ROUNDS:-3}
# ballot_round PORT: one wrk run of ballots; prints "rate acknowledged".
ballot_round() {
    local output
    ballot_post "$work/ballot.lua"
    output=$(wrk -t2 -c32 -d"${duration}s" -s "$work/ballot.lua" "http://127.0.0.1:$1/surveys/2")
    echo "$(rate <<<"$output") $(sed -nE 's/^ *([0-9]+) requests in .*/\1/p' <<<"$output")"
}
sqlite_rounds=(); pg_rounds=(); pgbench_rounds=(); sqlite_acknowledged=0; pg_acknowledged=0
for round in $(seq 1 "$rounds"); do
    r=""; a=""
    read -r r a < <(ballot_round "$port") || true
    [ -n "${a:-}" ] || { echo "bench-http: a SQLite ballot round failed; nothing was measured" >&2; exit 1; }
    sqlite_rounds+=("$r"); sqlite_acknowledged=$((sqlite_acknowledged + a))
    r=""; a=""
    read -r r a < <(ballot_round "$pg_port") || true
    [ -n "${a:-}" ] || { echo "bench-http: a PostgreSQL ballot round failed; nothing was measured" >&2; exit 1; }
    pg_rounds+=("$r"); pg_acknowledged=$((pg_acknowledged + a))
    tps=$(pgbench -N -c 32 -j 2 -T "$duration" "${SURVEYCHARTS_TEST_POSTGRES_URL%/*}/bench_pgbench_$$" 2>&1 \
        | sed -nE 's/^tps = ([0-9.]+) .*without initial connection time.*/\1/p')
    if [ -z "$tps" ]; then echo "bench-http: pgbench printed no tps; nothing was measured" >&2; exit 1; fi
    pgbench_rounds+=("$tps")
    echo "bench-http: ballots round $round: SQLite ${sqlite_rounds[-1]}/s, PostgreSQL ${pg_rounds[-1]}/s, pgbench -N $tps tps" >&2
done
pg_recorded=$("$binary" export --database "$pg_database" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["surveys"][1]["questions"][0]["answers"][0]["votes"])')
recorded=$("$binary" export --database "$work/surveys.sqlite3" | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["surveys"][1]["questions"][0]["answers"][0]["votes"])')
ballots_line="${sqlite_rounds[*]}|${pg_rounds[*]}|${pgbench_rounds[*]}|$sqlite_acknowledged|$pg_acknowledged"
# The origin: Django + gunicorn (2 workers) on SQLite, its virtualenv kept between runs, its
# database fresh in this run. Its results page /1/ (charts already drawn), and its ballots for the
# open survey 2 (answers 7 and 10, see the peer's seed_surveys.py).
origin_cache=${XDG_CACHE_HOME:-$HOME/.cache}/surveycharts-marketr-peer
if [ ! -x "$origin_cache/venv/bin/gunicorn" ]; then
    echo "bench-http: creating the origin's virtualenv (django, matplotlib, gunicorn from PyPI)"
    mkdir -p "$origin_cache"
    python3 -m venv "$origin_cache/venv"
    "$origin_cache/venv/bin/pip" install -q django matplotlib gunicorn
fi
mkdir -p "$work/origin"
ln -s "$origin_cache/venv" "$work/origin/venv"
origin_port=$((port + 3))
origin_out=$(../shared/peers/marketr/start.sh "$origin_port" "$work/origin")
origin_pid=$(echo "$origin_out" | sed -nE 's/^marketr pid ([0-9]+).*/\1/p')
curl -s -o /dev/null "http://127.0.0.1:$origin_port/1/"
origin_page=$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$origin_port/1/" | rate)
form_post "$work/origin-ballot.lua" "answer=7&1-answer=10"
origin_ballots=$(wrk -t2 -c32 -d"${duration}s" -s "$work/origin-ballot.lua" "http://127.0.0.1:$origin_port/2/" | rate)
kill "$origin_pid"; origin_pid=""
sleep 0.5
origin_recorded=$(python3 -c 'import sqlite3,sys; print(sqlite3.connect(sys.argv[1]).execute("SELECT votes FROM survey_answer WHERE id = 7").fetchone()[0])' "$work/origin/peer.sqlite3")
# A large site: 10,000 surveys of 10 questions (100,000 questions), 1,000 of them open today.
python3 - "$work/big.json" <<'GEN'
import datetime, json, sys
today = datetime.date.today()
def day(offset): return (today + datetime.timedelta(days=offset)).isoformat()
surveys = []
for n in range(10000):
    if n < 1000: opens, closes = -3, 3 + n % 20           # open today
    elif n < 1300: opens, closes = -30, -1 - n % 14       # closed in the last 14 days
    else: opens, closes = -400, -20 - n % 300             # older
    surveys.append({"title": "Survey %d" % n, "opens": day(opens), "closes": day(closes),
                    "questions": [{"text": "Question %d of survey %d?" % (q, n),
                                   "answers": [{"text": "Yes", "votes": n % 7}, {"text": "No", "votes": q}]}
                                  for q in range(10)]})
json.dump({"surveys": surveys}, open(sys.argv[1], "w"))
GEN
"$binary" import "$work/big.json" --database "$work/big.sqlite3" > /dev/null
start_server big --no-access-log --no-prerender --no-demo --database "$work/big.sqlite3" \
    --charts-dir "$work/big-charts"
big_port=$server_port
curl -s "http://127.0.0.1:$big_port/" > "$work/big-home.html"
big_bytes=$(wc -c < "$work/big-home.html")
big_links=$(grep -o '<a href="/surveys/' "$work/big-home.html" | wc -l)
big_home=$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$big_port/" | rate)
big_page=$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$big_port/?open=20&recent=6" | rate)
big_results=$(wrk -t2 -c64 -d"${duration}s" "http://127.0.0.1:$big_port/surveys/2000" | rate)
stop_server "$server_pid"
rss_kb=$(sed -nE 's/^VmHWM:[[:space:]]+([0-9]+) kB/\1/p' "/proc/$main_pid/status")
python3 - "$ours" "$theirs" "$page" "$ballots_line" "$recorded" "$rss_kb" "$duration" "$fast_ballots" "0" "$pg_recorded" "$logged_page" "$logged_lines" "$big_home" "$big_bytes" "$big_links" "$big_page" "$big_results" "$caddy_hits" "$origin_page" "$origin_ballots" "$origin_recorded" "$phone_bytes" "$desktop_bytes" "$hits_line" "$phone_weight" <<'PY'
import sys
import statistics
ours, theirs, page = (float(x) for x in sys.argv[1:4])
sqlite_runs, pg_runs, pgbench_runs, sqlite_acknowledged, pg_acknowledged = sys.argv[4].split("|")
sqlite_runs, pg_runs, pgbench_runs = ([float(x) for x in runs.split()] for runs in (sqlite_runs, pg_runs, pgbench_runs))
sqlite_acknowledged, pg_acknowledged = int(sqlite_acknowledged), int(pg_acknowledged)
ballots = statistics.median(sqlite_runs)
recorded, rss_kb, duration = int(sys.argv[5]), int(sys.argv[6]), int(sys.argv[7])
fast_ballots = float(sys.argv[8])
pg_recorded = int(sys.argv[10])
pg_ballots, pgbench = statistics.median(pg_runs), statistics.median(pgbench_runs)
logged_page, logged_lines = float(sys.argv[11]), int(sys.argv[12])
big_home, big_bytes, big_links = float(sys.argv[13]), int(sys.argv[14]), int(sys.argv[15])
big_page, big_results = float(sys.argv[16]), float(sys.argv[17])
caddy_hits, origin_page, origin_ballots, origin_recorded = float(sys.argv[18]), float(sys.argv[19]), float(sys.argv[20]), int(sys.argv[21])
chart_runs, nginx_chart_runs, page_runs, nginx_page_runs = ([float(x) for x in runs.split()] for runs in sys.argv[24].split("|"))
print("chart hits, same 6 KB file, access log off on both: surveycharts %.0f req/s, nginx %.0f req/s: %.2f× nginx "
      "(goal ≥ 0.7); Caddy %.0f req/s: %.2f× Caddy; medians of %d alternating rounds"
      % (ours, theirs, ours / theirs, caddy_hits, ours / caddy_hits, len(chart_runs)))
for index, (o, n) in enumerate(zip(chart_runs, nginx_chart_runs)):
    print("  round %d: surveycharts %.0f, nginx %.0f: %.2f×" % (index + 1, o, n, o / n))
page_median, nginx_page_median = statistics.median(page_runs), statistics.median(nginx_page_runs)
print("results page (cached), default access log on both: surveycharts %.0f req/s, nginx serving the same bytes as a "
      "file %.0f req/s: %.2f× nginx (goal ≥ 0.6); medians of %d alternating rounds"
      % (page_median, nginx_page_median, page_median / nginx_page_median, len(page_runs)))
for index, (o, n) in enumerate(zip(page_runs, nginx_page_runs)):
    print("  round %d: surveycharts %.0f, nginx %.0f: %.2f×" % (index + 1, o, n, o / n))
html_gzip, html_plain, css_gzip, css_plain = (int(x) for x in sys.argv[25].split())
print("results page (warm): %.0f req/s (target ≥ 5000)" % page)
print("results page, access log on: %.0f req/s (%d lines written, wrk counted about %.0f), off: %.0f req/s; "
      "the log keeps %.2f× (goal ≥ 0.9)" % (logged_page, logged_lines, logged_page * duration, page, logged_page / page))
print("results page vs the origin: surveycharts %.0f req/s with its default access log, Django+gunicorn (2 workers) "
      "%.0f req/s: %.1f× (goal ≥ 50)" % (logged_page, origin_page, logged_page / origin_page))
print("ballots (SQLite, 32 connections, median of %d rounds): %.0f ballots/s; %d recorded, %d answered 303 to wrk "
      "(%d more recorded: ballots under way when wrk stopped, at most 32 a round)"
      % (len(sqlite_runs), ballots, recorded, sqlite_acknowledged, recorded - sqlite_acknowledged))
print("ballots vs the origin: surveycharts %.0f/s (durable, %d recorded), Django+gunicorn %.0f/s (%d recorded): %.1f× "
      "(goal ≥ 40)" % (ballots, recorded, origin_ballots, origin_recorded, ballots / origin_ballots))
print("ballots, durable (synchronous=FULL): %.0f/s; not durable (NORMAL): %.0f/s; durability keeps %.2f× the rate"
      % (ballots, fast_ballots, ballots / fast_ballots))
print("ballots on PostgreSQL: %.0f/s, pgbench -N (32 clients, same cluster) %.0f tps, SQLite %.0f/s: %.2f× pgbench "
      "(goal ≥ 1.0), %.2f× SQLite (goal ≥ 0.5); medians of %d alternating rounds" % (pg_ballots, pgbench, ballots,
      pg_ballots / pgbench, pg_ballots / ballots, len(pg_runs)))
for index, (s_run, p_run, b_run) in enumerate(zip(sqlite_runs, pg_runs, pgbench_runs)):
    print("  round %d: PostgreSQL %.0f/s, pgbench %.0f tps, SQLite %.0f/s: %.2f× pgbench, %.2f× SQLite"
          % (index + 1, p_run, b_run, s_run, p_run / b_run, p_run / s_run))
print("ballots on PostgreSQL: %d recorded, %d answered 303 to wrk (%d more recorded: under way when wrk stopped)"
      % (pg_recorded, pg_acknowledged, pg_recorded - pg_acknowledged))
for name, extra in (("SQLite", recorded - sqlite_acknowledged), ("PostgreSQL", pg_recorded - pg_acknowledged)):
    if not 0 <= extra <= 32 * len(pg_runs):
        print("bench-http: %s recorded %d ballots more than it acknowledged; a ballot was lost or invented" % (name, extra))
        sys.exit(1)
print("home page, 10,000 surveys (1,000 open): %.0f req/s, %.1f KB, %d links; page 20 of the open list: %.0f req/s "
      "(goal ≥ 10000; the issue measured 159 req/s, 98 KB, 1,018 links unpaginated)" % (big_home, big_bytes / 1024, big_links, big_page))
print("results page, 10,000 surveys: %.0f req/s against %.0f with the demo's 4: %.2f×" % (big_results, page, big_results / page))
import re
for device, line in (("a phone (narrow charts at 2x)", sys.argv[22]), ("a desktop (wide charts at 1x)", sys.argv[23])):
    count, served, rgb = (int(x) for x in re.search(r"(\d+) files, (\d+) bytes served, (\d+) bytes as RGB", line).groups())
    print("results page charts for %s: %d bytes in %d charts, %d as lossless RGB: %d bytes (%.0f %%) less per page"
          % (device, served, count, rgb, rgb - served, 100 * (rgb - served) / rgb))
phone_charts = int(re.search(r"(\d+) bytes served", sys.argv[22]).group(1))
print("results page on a phone (gzip accepted, narrow charts at 2x): HTML %d B (%d as is), CSS %d B (%d as is), "
      "charts %d B: %.1f KB in all, %.1f KB without compression"
      % (html_gzip, html_plain, css_gzip, css_plain, phone_charts, (html_gzip + css_gzip + phone_charts) / 1024,
         (html_plain + css_plain + phone_charts) / 1024))
print("peak RSS: %.1f MB (target ≤ 100 MB)" % (rss_kb / 1024))
PY
