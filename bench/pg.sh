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

# The store objects come from the ordinary build.
make -s build/rel/tests/check_store >/dev/null
objs="build/rel/backends/*.o build/rel/core/buf.o build/rel/core/err.o
build/rel/core/jsonx.o build/rel/core/util.o"
pkgs="libpq lmdb msgpack libsodium jansson uuid"
# shellcheck disable=SC2086
cc -std=c11 -O2 -D_GNU_SOURCE -I. $(pkg-config --cflags $pkgs) -pthread \
    -o "$tmp/pg_verify" bench/pg_verify.c $objs \
    $(pkg-config --libs $pkgs) -lm

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
