#!/bin/sh
# pg.sh: API token verification on PostgreSQL against LMDB, same run.
#
# Until `coder-cfg server` serves authenticated requests this measures the
# store level (bench/pg_verify.c: key and user in one read, SHA-256,
# constant-time compare)
# rather than HTTP.  It also reads PostgreSQL's own counters to report the
# statements (round trips) each verification costs.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
count=${COUNT:-20000}
tmp=$(mktemp -d /tmp/coder-cfg-bench.XXXXXX)
pgdir=$(mktemp -d /tmp/coder-cfg-bench-pg.XXXXXX)
cleanup() { tests/pg.sh stop "$pgdir" 2>/dev/null || true; rm -rf "$tmp"; }
trap cleanup EXIT INT TERM

# The program links through make, like the test suites.
make -s build/rel/bench/pg_verify >/dev/null
cp build/rel/bench/pg_verify "$tmp/pg_verify"

url=$(tests/pg.sh start "$pgdir")
commits() {
    psql -XAtq "$url" -c "SELECT xact_commit FROM pg_stat_database
        WHERE datname = current_database()"
}
for threads in 1 4; do
    echo "lmdb,     $threads thread(s):"
    mkdir -p "$tmp/lmdb$threads"
    "$tmp/pg_verify" lmdb "$tmp/lmdb$threads" "$threads" "$count"
    echo "postgres, $threads thread(s):"
    psql -XAtq "$url" -c "DROP SCHEMA IF EXISTS coder_cfg CASCADE" \
        2>/dev/null
    "$tmp/pg_verify" postgres "$url" "$threads" "$count"
done

# Round trips: one key_get_auth is one prepared statement in autocommit.
before=$(commits)
"$tmp/pg_verify" postgres "$url" 1 "$count" >/dev/null
sleep 1
after=$(commits)
awk -v d=$((after - before - 1000)) -v n="$count" 'BEGIN {
    printf "postgres transactions per verification: %.3f\n", d / n }'
