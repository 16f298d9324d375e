#!/usr/bin/env bash
# Runs a command beside a throwaway PostgreSQL cluster: initdb in a new temporary directory, a
# server on a free port of 127.0.0.1 (trust authentication, for the tests only), and
# SURVEYCHARTS_TEST_POSTGRES_URL pointing at it. The cluster is stopped and removed when the
# command ends, however it ends. If PostgreSQL cannot start, this fails loudly: it never lets the
# command run without it.
# Usage: scripts/with-postgres.sh COMMAND [ARGUMENTS...]
set -euo pipefail

bin=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1 || true)
if [ -z "$bin" ] || [ ! -x "$bin/initdb" ]; then
    echo "postgres: no PostgreSQL server found under /usr/lib/postgresql; run scripts/install-deps.sh postgresql" >&2
    exit 1
fi

work=$(mktemp -d /tmp/surveycharts-postgres.XXXXXX)
run_as=()
if [ "$(id -u)" -eq 0 ]; then
    # The server refuses to run as root: run it as Debian's postgres user.
    id postgres >/dev/null 2>&1 || { echo "postgres: the postgres user is missing" >&2; exit 1; }
    chown postgres "$work"
    run_as=(runuser -u postgres --)
fi

stop() {
    status=$?
    if [ -f "$work/data/postmaster.pid" ]; then
        "${run_as[@]}" "$bin/pg_ctl" -D "$work/data" -m immediate -w stop >/dev/null 2>&1 || true
    fi
    rm -rf "$work"
    exit $status
}
trap stop EXIT

port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if ! "${run_as[@]}" "$bin/initdb" -D "$work/data" -U surveycharts --auth=trust -E UTF8 --no-locale \
    >"$work/initdb.log" 2>&1; then
    echo "postgres: initdb failed:" >&2
    cat "$work/initdb.log" >&2
    exit 1
fi
if ! "${run_as[@]}" "$bin/pg_ctl" -D "$work/data" -l "$work/server.log" -w -t 30 \
    -o "-p $port -k $work -c listen_addresses=127.0.0.1 -c max_connections=300 -c shared_buffers=64MB" \
    start >/dev/null; then
    echo "postgres: the server did not start:" >&2
    cat "$work/server.log" >&2
    exit 1
fi
export SURVEYCHARTS_TEST_POSTGRES_URL="postgres://surveycharts@127.0.0.1:$port/postgres"
echo "postgres: a throwaway cluster ($("$bin/postgres" --version)) listens on 127.0.0.1:$port"
# The command runs in the background so that a signal reaches this script at once (bash runs traps
# only between commands): it is passed on, and the cluster goes when the command has ended.
"$@" &
child=$!
trap 'kill -TERM "$child" 2>/dev/null || true' INT TERM
status=0
wait "$child" || status=$?
while kill -0 "$child" 2>/dev/null; do wait "$child" || status=$?; done
exit "$status"
