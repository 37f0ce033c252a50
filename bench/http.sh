#!/bin/sh
# http.sh: coder-cfg's HTTP speed as a ratio of the ceiling server's.
#
# Starts `coder-cfg server` (LMDB in a temporary directory) and
# ../shared/bench/ceiling.c side by side on loopback ports, and loads each
# in turn with the same wrk settings (-t2 -c64 -d5s by default), the
# ceiling answering a body of the same size as the endpoint.  Prints the
# median ratio over BENCH_ROUNDS rounds for
#   GET /api/v2/buildinfo                 (anonymous; target >= 0.8)
#   GET /api/v2/deployment/config         (owner token; target >= 0.7)
# and then the server's resident memory after 10,000 and after 1,000,000
# requests (target: within 10%).  It reports; it does not assert.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${CODER_CFG_BIN:-$here/../coder-cfg}
ceiling_src=${CEILING_SRC:-$here/../../shared/bench/ceiling.c}
rounds=${BENCH_ROUNDS:-3}
wrk_args=${BENCH_WRK:--t2 -c64 -d5s}
total=${BENCH_REQUESTS:-1000000}

for tool in wrk curl cc; do
    command -v $tool >/dev/null || { echo "http.sh: needs $tool" >&2; exit 1; }
done
tmp=$(mktemp -d) || exit 1
server_pid=
ceiling_pid=
cleanup() {
    [ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null
    [ -n "$ceiling_pid" ] && kill "$ceiling_pid" 2>/dev/null
    wait 2>/dev/null
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

cc -O2 -o "$tmp/ceiling" "$ceiling_src" \
    $(pkg-config --cflags --libs libmicrohttpd) || exit 1

export CODER_CONFIG_DIR="$tmp/store"
mkdir -p "$CODER_CONFIG_DIR"
"$bin" users create --username bench --email bench@example.test \
    --roles owner >/dev/null || exit 1
token=$("$bin" tokens create --username bench) || exit 1

port=$(free_port 1)
# The limiter stays on (and counts every request) but never refuses.
"$bin" server --http-address "127.0.0.1:$port" --update-check=false \
    --api-rate-limit 1000000000 --log-human "" 2>"$tmp/server.err" &
server_pid=$!
for i in $(seq 100); do
    curl -s -o /dev/null "http://127.0.0.1:$port/healthz" && break
    sleep 0.05
done

# Requests per second that wrk reports for url (with extra wrk flags).
rps() {
    wrk $wrk_args "$@" 2>/dev/null |
        awk '/^Requests\/sec:/ { printf "%d", $2 }'
}

median() {
    sort -n | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'
}

# Compares path on coder-cfg with a ceiling body of the same size.
compare() {
    name=$1 path=$2
    shift 2
    size=$(curl -s "$@" "http://127.0.0.1:$port$path" | wc -c)
    seed=$((seed + 1))
    cport=$(free_port "$seed")
    "$tmp/ceiling" "$cport" "$size" 2 &
    ceiling_pid=$!
    sleep 0.3
    : >"$tmp/ratios"
    for r in $(seq "$rounds"); do
        ours=$(rps "$@" "http://127.0.0.1:$port$path")
        top=$(rps "http://127.0.0.1:$cport/")
        [ -n "$ours" ] && [ -n "$top" ] || { echo "http.sh: a run failed" >&2
            exit 1; }
        echo "$ours $top" | awk '{ printf "%.3f\n", $1 / $2 }' \
            >>"$tmp/ratios"
        echo "  round $r: coder-cfg $ours req/s, ceiling $top req/s"
    done
    kill "$ceiling_pid"
    wait "$ceiling_pid" 2>/dev/null
    ceiling_pid=
    printf '%s (%s bytes): ratio %s (median of %s; wrk %s)\n' "$name" \
        "$size" "$(median <"$tmp/ratios")" "$rounds" "$wrk_args"
}

seed=1
echo "http.sh: coder-cfg against the ceiling"
compare buildinfo /api/v2/buildinfo
compare "deployment/config" /api/v2/deployment/config \
    -H "Coder-Session-Token: $token"

# Memory: about 10,000 requests, then about $total more (wrk runs for a
# duration, so the length comes from the measured rate), VmRSS after each.
rss() {
    awk '/^VmRSS:/ { print $2 }' "/proc/$server_pid/status"
}
# Runs wrk on deployment/config for about $1 requests; prints the count.
run_count() {
    rate=$(rps -d1s -H "Coder-Session-Token: $token" \
        "http://127.0.0.1:$port/api/v2/deployment/config")
    secs=$(( $1 / (rate > 0 ? rate : 1) ))
    [ "$secs" -lt 1 ] && secs=1
    wrk -t2 -c64 -d"${secs}s" -H "Coder-Session-Token: $token" \
        "http://127.0.0.1:$port/api/v2/deployment/config" 2>/dev/null |
        awk -v r="$rate" '/requests in/ { print $1 + r }'
}
# The first 10,000 requests come with the same load shape as the rest
# (64 connections), so the baseline already holds every connection's
# memory: each wrk thread stops after its share of the responses.
cat >"$tmp/stop.lua" <<'EOF'
local seen = 0
local share = tonumber(os.getenv("WRK_SHARE") or "5000")
function response(status, headers, body)
    seen = seen + 1
    if seen >= share then wrk.thread:stop() end
end
EOF
n1=$(WRK_SHARE=5000 wrk -t2 -c64 -d60s -s "$tmp/stop.lua" \
    -H "Coder-Session-Token: $token" \
    "http://127.0.0.1:$port/api/v2/deployment/config" 2>/dev/null |
    awk '/requests in/ { print $1 }')
first=$(rss)
n2=$(run_count "$total")
last=$(rss)
awk -v a="$first" -v b="$last" -v n1="$n1" -v n2="$n2" 'BEGIN {
    printf "memory: %d KiB after %d requests, %d KiB after %d more " \
        "(%+.1f%%)\n", a, n1, b, n2, (b - a) * 100 / a }'
