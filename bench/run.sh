#!/bin/sh
# run.sh: every benchmark script in bench/ (each prints its own figures).
# Benchmarks report ratios against ../shared/bench/ceiling.c measured in
# the same run, never pass/fail timings.
set -u
here=$(cd "$(dirname "$0")" && pwd)
status=0
for b in "$here"/*.sh; do
    [ "$(basename "$b")" = run.sh ] && continue
    echo "== $(basename "$b")"
    sh "$b" || status=1
done
exit $status
