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

make -s build/rel/bench/store_bench >/dev/null
cp build/rel/bench/store_bench "$tmp/store_bench"

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
