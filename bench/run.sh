#!/usr/bin/env bash
# Usage: bench/run.sh [sqlite|postgres|all]      (default: all)
#
# Runs the load benchmark in one go: builds the quickstart and baseline-axum
# in release mode, sets up knox-peer (Django + django-rest-knox), drives each
# server with the shared load.sh and prints the targets table, every ratio
# taken from this run. One server runs at a time, on 127.0.0.1 only, and every
# server this script starts is stopped when it exits.
#
# Environment:
#   BENCH_SHARED_DIR  the shared bench folder with load.sh, baseline-axum/ and
#                     knox-peer/ (default: ../shared/bench beside the project)
#   BENCH_PG_URL      PostgreSQL server where the script creates the databases
#                     knox_bench (ours) and knox_bench_peer (knox-peer). Both
#                     are dropped and created again at each run.
#                     (default: postgres://postgres@127.0.0.1:5432/test)
#   BENCH_RUST_LOG    log filter of our server (default: warn, so that logins
#                     are not logged one by one; knox-peer logs warnings only)
#   DURATION, CONNECTIONS, THREADS, ...   passed on to load.sh (10s, 64, 2)
#   KNOX_*            knox settings, passed on to both our server and knox-peer
#
# Output goes to target/bench/run-<time>/: results.txt (every load.sh line,
# tagged), report.md (the tables printed at the end) and the server logs.
set -euo pipefail

usage() { echo "usage: bench/run.sh [sqlite|postgres|all]" >&2; }

case "${1:-all}" in
sqlite) databases=(sqlite) ;;
postgres) databases=(postgres) ;;
all) databases=(sqlite postgres) ;;
*) usage; exit 2 ;;
esac

root="$(cd "$(dirname "$0")/.." && pwd)"
shared="${BENCH_SHARED_DIR:-$root/../shared/bench}"
pg_admin_url="${BENCH_PG_URL:-postgres://postgres@127.0.0.1:5432/test}"
target_dir="${CARGO_TARGET_DIR:-$root/target}"
bench_dir="$root/target/bench"
run_dir="$bench_dir/run-$(date -u +%Y%m%dT%H%M%SZ)"
results="$run_dir/results.txt"
quickstart="$target_dir/release/examples/quickstart"
baseline_target="$bench_dir/baseline"
baseline="$baseline_target/release/baseline-axum"
peer_venv="$bench_dir/peer-venv"
all_scenarios="me_valid me_invalid me_many_tokens login"

fail() { echo "bench/run.sh: $*" >&2; exit 1; }

# Prerequisites, checked before anything is built.
[ -x "$shared/load.sh" ] || fail "no load.sh in $shared; set BENCH_SHARED_DIR"
for tool in cargo curl python3 wrk; do
    command -v "$tool" >/dev/null ||
        fail "$tool is missing (wrk: apt-get update && apt-get install -y wrk)"
done
python3 -c 'import sys; sys.exit(sys.version_info < (3, 10))' ||
    fail "knox-peer needs Python 3.10 or newer; python3 is $(python3 --version)"
if [[ " ${databases[*]} " == *" postgres "* ]]; then
    command -v psql >/dev/null || fail "psql is missing (apt-get install -y postgresql-client)"
    psql "$pg_admin_url" -qtAX -c 'select 1' >/dev/null ||
        fail "PostgreSQL does not answer at $pg_admin_url; start it or set BENCH_PG_URL"
fi
mkdir -p "$run_dir"
: >"$results"

# Every server started below, stopped on exit however the script ends.
server_pids=()
stop_servers() {
    local pid
    for pid in "${server_pids[@]}"; do
        kill -TERM "$pid" 2>/dev/null || continue
        for _ in $(seq 50); do
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$pid" 2>/dev/null || true
    done
    server_pids=()
}
on_exit() {
    local status=$?
    stop_servers
    [ "$status" = 0 ] || echo "bench/run.sh: stopped with status $status; logs in $run_dir" >&2
}
trap on_exit EXIT
trap 'exit 130' INT TERM

free_port() {
    python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# KNOX_PEER_* variables are for knox-peer only: the quickstart rejects
# unknown KNOX_* variables at start-up.
ours_env=(env)
while read -r name; do
    ours_env+=(-u "$name")
done < <(compgen -e | grep '^KNOX_PEER_' || true)

echo "== build"
cargo build --release -p knox-examples --example quickstart --manifest-path "$root/Cargo.toml"
# baseline-axum's serve.sh builds inside shared/, which is read-only to us:
# build it into our target folder, and --locked keeps its Cargo.lock as it is.
cargo build --release --locked --manifest-path "$shared/baseline-axum/Cargo.toml" \
    --target-dir "$baseline_target"

# Runs load.sh against BASE and appends its lines to results.txt, tagged with
# DATABASE, SERVER and the connection mode. Extra arguments are VAR=VALUE
# settings for load.sh. When load.sh fails, its last error line goes to
# results.txt as `error=...`, the run goes on with the next server, and the
# report marks what is missing.
# Usage: load DATABASE SERVER keepalive|close BASE [VAR=VALUE...]
load() {
    local database="$1" server="$2" connection="$3" base="$4"
    shift 4
    local close=0 tag="database=$database server=$server connection=$connection"
    local out="$run_dir/load-$database-$server-$connection"
    [ "$connection" = close ] && close=1
    echo "== $database: $server, $connection"
    if env CONN_CLOSE="$close" "$@" "$shared/load.sh" "$base" 2>"$out.err" |
        tee "$out.txt" | sed "s/^/$tag /" | tee -a "$results"; then
        return 0
    fi
    cat "$out.err" >&2
    echo "$tag error=load.sh failed: $(tail -n 1 "$out.err")" | tee -a "$results" >&2
    load_failures=$((load_failures + 1))
    return 1
}
load_failures=0

# Usage: wait_for_http URL PID LOG
wait_for_http() {
    for _ in $(seq 100); do
        curl -s -o /dev/null "$1" && return 0
        kill -0 "$2" 2>/dev/null || fail "the server exited; see $3"
        sleep 0.1
    done
    fail "no answer at $1 after 10 s; see $3"
}

# Usage: bench_baseline DATABASE (the column the numbers belong to)
bench_baseline() {
    local port log pid
    port="$(free_port)"
    log="$run_dir/baseline-$1.log"
    "$baseline" "$port" >"$log" 2>&1 &
    pid=$!
    server_pids+=("$pid")
    wait_for_http "http://127.0.0.1:$port/me/" "$pid" "$log"

    load "$1" baseline keepalive "http://127.0.0.1:$port" SLASH="" SCENARIOS=me_valid || true
    stop_servers
}

# Usage: bench_ours DATABASE DATABASE_URL
bench_ours() {
    local port log pid
    port="$(free_port)"
    log="$run_dir/ours-$1"
    # load.sh takes a base URL without a path, so the routes go to the root.
    "${ours_env[@]}" DATABASE_URL="$2" PORT="$port" API_PREFIX="" \
        DEMO_PASSWORD_HASH=insecure-fast RUST_LOG="${BENCH_RUST_LOG:-warn}" \
        "$quickstart" >"$log.out" 2>"$log.err" &
    pid=$!
    server_pids+=("$pid")
    for _ in $(seq 300); do
        grep -q 'knox quickstart listening on' "$log.out" && break
        kill -0 "$pid" 2>/dev/null || fail "the quickstart exited; see $log.err"
        sleep 0.1
    done
    grep -q 'knox quickstart listening on' "$log.out" ||
        fail "the quickstart did not start within 30 s; see $log.err"

    local base="http://127.0.0.1:$port" measured=0
    load "$1" ours keepalive "$base" SLASH="" SCENARIOS="$all_scenarios" && measured=1
    load "$1" ours close "$base" SLASH="" SCENARIOS=me_valid && measured=1

    # VmHWM is the peak resident set size of the process so far, in kB. A
    # server that got no load would only show its idle size.
    if [ "$measured" = 1 ]; then
        local peak
        peak="$(awk '/^VmHWM:/ { print $2 }' "/proc/$pid/status")"
        echo "database=$1 server=ours peak_rss_kib=$peak" | tee -a "$results"
    fi
    stop_servers
}

# Usage: bench_peer DATABASE [DATABASE_URL]; without a URL the peer uses SQLite.
bench_peer() {
    # PYTHONDONTWRITEBYTECODE keeps Python from writing __pycache__ into shared/.
    local peer_env=(env)
    if [ -n "${2:-}" ]; then
        peer_env+=(DATABASE_URL="$2")
    else
        peer_env+=(-u DATABASE_URL KNOX_PEER_SQLITE="$run_dir/peer.sqlite3")
    fi
    peer_env+=(KNOX_PEER_VENV="$peer_venv" KNOX_PEER_FAST_HASHER=1 PYTHONDONTWRITEBYTECODE=1)
    echo "== $1: knox-peer setup"
    "${peer_env[@]}" "$shared/knox-peer/setup.sh"

    local port pid
    port="$(free_port)"
    pid="$("${peer_env[@]}" LOG="$run_dir/peer-$1.log" "$shared/knox-peer/serve.sh" "$port")"
    server_pids+=("$pid")

    local base="http://127.0.0.1:$port"
    load "$1" peer keepalive "$base" SLASH=/ SCENARIOS=login || true
    load "$1" peer close "$base" SLASH=/ SCENARIOS=me_valid || true
    stop_servers
}

# Usage: recreate_pg_database NAME; prints the URL of the new database.
recreate_pg_database() {
    psql "$pg_admin_url" -qtAX -v ON_ERROR_STOP=1 \
        -c "DROP DATABASE IF EXISTS $1 WITH (FORCE)" \
        -c "CREATE DATABASE $1" >/dev/null
    echo "${pg_admin_url%/*}/$1"
}

for database in "${databases[@]}"; do
    case "$database" in
    sqlite)
        bench_baseline sqlite
        bench_ours sqlite "sqlite://$run_dir/ours.sqlite3"
        bench_peer sqlite
        ;;
    postgres)
        ours_url="$(recreate_pg_database knox_bench)"
        peer_url="$(recreate_pg_database knox_bench_peer)"
        bench_baseline postgres
        bench_ours postgres "$ours_url"
        bench_peer postgres "$peer_url"
        ;;
    esac
done

echo
python3 "$root/bench/report.py" "$results" | tee "$run_dir/report.md"
echo
echo "raw results and logs: $run_dir"
if [ "$load_failures" != 0 ]; then
    echo "bench/run.sh: $load_failures load.sh runs failed; the report marks what they left unmeasured" >&2
    exit 1
fi
