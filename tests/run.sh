#!/bin/sh
# run.sh: runs every test binary given, with a throwaway PostgreSQL.
#
# Each binary is a Check suite.  TEST_PG_URL names the PostgreSQL server
# (tests create their own databases in it); CODER_CFG_BIN names the
# coder-cfg binary under test.  Prints one closing line:
#   N passed, N failed
set -u
top=$(cd "$(dirname "$0")/.." && pwd)
pgdir=$(mktemp -d /tmp/coder-cfg-pg.XXXXXX)
export CK_DEFAULT_TIMEOUT=${CK_DEFAULT_TIMEOUT:-120}
# Suites that need a server of their own start it with this script.
export TEST_PG_SH="$top/tests/pg.sh"

cleanup() { "$top/tests/pg.sh" stop "$pgdir"; }
trap cleanup EXIT INT TERM

if url=$("$top/tests/pg.sh" start "$pgdir"); then
    export TEST_PG_URL="$url"
else
    echo "run.sh: could not start PostgreSQL; its tests will fail" >&2
    export TEST_PG_URL=""
fi

if [ "${SAN:-0}" = 1 ]; then
    export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
    export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1}
fi

# Totals are over test cases, read from each suite's Check summary line
# ("NN%: Checks: C, Failures: F, Errors: E"); a suite that dies before
# printing one counts as one failure.
passed=0
failed=0
failures=""
log=$(mktemp /tmp/coder-cfg-test.XXXXXX)
for t in "$@"; do
    name=$(basename "$t")
    echo "== $name"
    "$t" >"$log" 2>&1
    rc=$?
    cat "$log"
    line=$(grep -E '[0-9]+%: Checks: [0-9]+' "$log" | tail -n 1)
    if [ -n "$line" ]; then
        c=$(echo "$line" | sed -E 's/.*Checks: ([0-9]+).*/\1/')
        f=$(echo "$line" | sed -E 's/.*Failures: ([0-9]+).*/\1/')
        e=$(echo "$line" | sed -E 's/.*Errors: ([0-9]+).*/\1/')
        passed=$((passed + c - f - e))
        failed=$((failed + f + e))
        if [ $((f + e)) -gt 0 ]; then
            failures="$failures $name"
        elif [ "$rc" -ne 0 ]; then
            # Clean summary but a bad exit: a sanitizer report at exit.
            failed=$((failed + 1))
            failures="$failures $name(exit $rc)"
        fi
    else
        failed=$((failed + 1))
        failures="$failures $name"
    fi
done
rm -f "$log"

echo
[ -n "$failures" ] && echo "failed suites:$failures"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
