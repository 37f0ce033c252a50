#!/bin/sh
# cluster.sh: authenticated requests on PostgreSQL against LMDB, same run.
#
# Starts one `coder-cfg server` on LMDB and one on a throwaway PostgreSQL
# (tests/pg.sh, loaded with pg_stat_statements), makes an owner and a
# token on each, and loads GET /api/v2/deployment/config on each in turn
# with the same wrk settings (-t2 -c64 -d5s by default, BENCH_ROUNDS
# rounds).  Prints requests per second, the median ratio PG/LMDB (target
# >= 0.6) and the statements PostgreSQL ran per request, each statement
# being one round trip:
#   - under load, with one key seen again and again (target: 0);
#   - for keys last seen more than a second ago (target: at most 1).
# It reports; it does not assert.  Everything listens on 127.0.0.1.
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
bin=${CODER_CFG_BIN:-$top/coder-cfg}
rounds=${BENCH_ROUNDS:-3}
wrk_args=${BENCH_WRK:--t2 -c64 -d5s}
cold_keys=${BENCH_COLD_KEYS:-20}
path=/api/v2/deployment/config

for tool in wrk curl psql; do
    command -v $tool >/dev/null ||
        { echo "cluster.sh: needs $tool" >&2; exit 1; }
done
tmp=$(mktemp -d /tmp/coder-cfg-cluster.XXXXXX) || exit 1
# Apart from tmp: as root, pg.sh hands its directory to "postgres".
pgdir=$(mktemp -d /tmp/coder-cfg-cluster-pg.XXXXXX) || exit 1
lmdb_pid=
pg_pid=
cleanup() {
    [ -n "$lmdb_pid" ] && kill "$lmdb_pid" 2>/dev/null
    [ -n "$pg_pid" ] && kill "$pg_pid" 2>/dev/null
    wait 2>/dev/null
    "$top/tests/pg.sh" stop "$pgdir" 2>/dev/null
    rm -rf "$tmp"
}
trap cleanup EXIT INT TERM

# A port on 127.0.0.1 nobody listens on.
free_port() {
    p=$(( 20000 + ($$ * 7 + $1 * 131) % 30000 ))
    while curl -s -o /dev/null "http://127.0.0.1:$p/" 2>/dev/null; do
        p=$((p + 1))
    done
    echo $p
}

# PostgreSQL with statement counting (a restart loads the library).
url=$("$top/tests/pg.sh" start "$pgdir") || exit 1
sql() { psql -XAtq "$url" -c "$1"; }
sql "ALTER SYSTEM SET shared_preload_libraries = 'pg_stat_statements'"
"$top/tests/pg.sh" pause "$pgdir" && "$top/tests/pg.sh" resume "$pgdir" ||
    exit 1
sql "CREATE EXTENSION pg_stat_statements" || exit 1

# Statements run in the benchmark's database since the last reset, not
# counting the counters' own queries.
statements() {
    sql "SELECT coalesce(sum(calls), 0) FROM pg_stat_statements
        WHERE dbid = (SELECT oid FROM pg_database
                      WHERE datname = current_database())
          AND query NOT ILIKE '%pg_stat_statements%'"
}
reset_statements() { sql "SELECT pg_stat_statements_reset()" >/dev/null; }

# Starts a server in the background with the environment given.
start_server() {
    port=$1
    shift
    env "$@" "$bin" server --http-address "127.0.0.1:$port" \
        --update-check=false --api-rate-limit -1 --log-human "" \
        2>>"$tmp/server.err" &
}

wait_ready() {
    for i in $(seq 200); do
        curl -s -o /dev/null "http://127.0.0.1:$1/healthz" && return 0
        sleep 0.05
    done
    echo "cluster.sh: server on port $1 did not start" >&2
    cat "$tmp/server.err" >&2
    exit 1
}

mkdir -p "$tmp/lmdb"
lmdb_env="CODER_CONFIG_DIR=$tmp/lmdb"
pg_env="CODER_PG_CONNECTION_URL=$url"
for e in "$lmdb_env" "$pg_env"; do
    env "HOME=$tmp" "$e" "$bin" users create --username bench \
        --email bench@example.test --roles owner >/dev/null || exit 1
done
lmdb_token=$(env "HOME=$tmp" "$lmdb_env" "$bin" tokens create \
    --username bench) || exit 1
pg_token=$(env "HOME=$tmp" "$pg_env" "$bin" tokens create \
    --username bench) || exit 1

lmdb_port=$(free_port 1)
start_server "$lmdb_port" "HOME=$tmp" "$lmdb_env"
lmdb_pid=$!
pg_port=$(free_port 2)
start_server "$pg_port" "HOME=$tmp" "CODER_CONFIG_DIR=$tmp/pgcfg" "$pg_env"
pg_pid=$!
wait_ready "$lmdb_port"
wait_ready "$pg_port"

# wrk's requests per second and request count on port with token.
load() {
    wrk $wrk_args -H "Coder-Session-Token: $2" \
        "http://127.0.0.1:$1$path" >"$tmp/wrk.out" 2>&1
    bad=$(awk '/Non-2xx/ { print $NF }' "$tmp/wrk.out")
    [ -n "$bad" ] && echo "  (warning: $bad non-2xx answers)"
    rps=$(awk '/^Requests\/sec:/ { printf "%d", $2 }' "$tmp/wrk.out")
    reqs=$(awk '/requests in/ { print $1 }' "$tmp/wrk.out")
}

median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Both keys are used once first, so last_used is fresh (hourly writes).
curl -s -o /dev/null -H "Coder-Session-Token: $lmdb_token" \
    "http://127.0.0.1:$lmdb_port$path"
curl -s -o /dev/null -H "Coder-Session-Token: $pg_token" \
    "http://127.0.0.1:$pg_port$path"
sleep 1.2

: >"$tmp/ratios"
: >"$tmp/trips"
for r in $(seq "$rounds"); do
    load "$lmdb_port" "$lmdb_token"
    lmdb_rps=$rps
    reset_statements
    load "$pg_port" "$pg_token"
    pg_rps=$rps
    n=$(statements)
    echo "round $r: lmdb $lmdb_rps req/s, postgres $pg_rps req/s," \
        "$n statements for $reqs requests"
    awk -v p="$pg_rps" -v l="$lmdb_rps" \
        'BEGIN { if (l > 0) printf "%.3f\n", p / l }' >>"$tmp/ratios"
    awk -v n="$n" -v q="$reqs" \
        'BEGIN { if (q > 0) printf "%.5f\n", n / q }' >>"$tmp/trips"
done
echo "postgres/lmdb throughput, median: $(median <"$tmp/ratios")" \
    "(target >= 0.6)"
echo "round trips per request under load, median: $(median <"$tmp/trips")"

# Keys last seen more than a second ago: each request reads the store.
i=0
: >"$tmp/cold"
while [ "$i" -lt "$cold_keys" ]; do
    env "HOME=$tmp" "$pg_env" "$bin" tokens create --username bench \
        >>"$tmp/cold" || exit 1
    i=$((i + 1))
done
use_cold() {
    while read -r t; do
        curl -s -o /dev/null -H "Coder-Session-Token: $t" \
            "http://127.0.0.1:$pg_port$path"
    done <"$tmp/cold"
}
use_cold
sleep 1.2
reset_statements
use_cold
n=$(statements)
awk -v n="$n" -v q="$cold_keys" 'BEGIN {
    printf "round trips per request, key not seen for 1 s: %.2f\n", n / q }'
reset_statements
use_cold
n=$(statements)
awk -v n="$n" -v q="$cold_keys" 'BEGIN {
    printf "round trips per request, key seen within 1 s: %.2f\n", n / q }'
