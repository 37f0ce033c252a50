#!/bin/sh
# store.sh: the embedded store's hot paths (bench/store_bench.c).
#
#   - API token verification against 1k, 100k and 1M keys, on one core:
#     the cost should grow with the depth of the B-tree (log n), not n.
#   - CSP report and agent stats appends in batched durable commits, and
#     one commit per record for comparison.
#
# STORE_BENCH_QUICK=1 skips the 1M-key store.  Figures only, no verdicts.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
count=${COUNT:-200000}
tmp=$(mktemp -d /tmp/coder-cfg-bench-store.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM

make -s build/rel/tests/check_engine >/dev/null
objs="build/rel/backends/*.o build/rel/core/engine.o build/rel/core/buf.o
build/rel/core/err.o build/rel/core/jsonx.o build/rel/core/util.o"
pkgs="libpq lmdb msgpack libsodium jansson uuid"
# shellcheck disable=SC2086
cc -std=c11 -O2 -D_GNU_SOURCE -I. $(pkg-config --cflags $pkgs) -pthread \
    -o "$tmp/store_bench" bench/store_bench.c $objs \
    $(pkg-config --libs $pkgs) -lm

sizes="1000 100000 1000000"
[ "${STORE_BENCH_QUICK:-0}" = 1 ] && sizes="1000 100000"
run1() { taskset -c 0 "$@" 2>/dev/null || "$@"; }
echo "token verification, one core ($count random verifications):"
for n in $sizes; do
    run1 "$tmp/store_bench" verify "$tmp/v$n" "$n" "$count"
    rm -rf "$tmp/v$n"
done

echo "appends (target: 5000 records/s or more in batches):"
for kind in csp stats; do
    "$tmp/store_bench" append "$tmp/a-$kind-1000" "$kind" 1000 50000
    "$tmp/store_bench" append "$tmp/a-$kind-100" "$kind" 100 20000
    "$tmp/store_bench" append "$tmp/a-$kind-1" "$kind" 1 500
done
