#!/bin/sh
# options.sh: CPU time of one full option resolution plus `dump --output
# json`, with every option set from the environment and every YAML key
# set in a config file.  Prints milliseconds of user+system time per run
# (the goal is under 5 ms); it reports, it does not assert.
set -u
here=$(cd "$(dirname "$0")" && pwd)
bin=${CODER_CFG_BIN:-$here/../coder-cfg}
tsv=${OPTIONS_TSV:-$here/../../shared/reference/coder-options.tsv}
runs=${BENCH_RUNS:-200}

if [ ! -x "$bin" ] || [ ! -r "$tsv" ]; then
    echo "options.sh: needs $bin and $tsv" >&2
    exit 1
fi
tmp=$(mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT INT TERM

# A valid text for every row: its default when it has a static one, else
# a sample of its type.  Columns: json_path name flag short env yaml_path
# default value_type ...
awk -F'\t' '
function sample(type, def) {
    if (def != "" && def !~ /^<dynamic/) return def
    if (type ~ /Bool/) return "true"
    if (type ~ /Int64/) return "7"
    if (type ~ /Duration/) return "90m"
    if (type ~ /URL/) return "https://bench.example.test/x"
    if (type ~ /HostPort/) return "127.0.0.1:9999"
    if (type ~ /Enum\(/) { s = type; sub(/.*Enum\(/, "", s);
        sub(/[|)].*/, "", s); return s }
    if (type ~ /Regexp/) return "^bench-.*$"
    if (type ~ /Struct\[\[\]/) return "[]"
    if (type ~ /Struct/) return "{}"
    if (type ~ /StringArray/) return "bench-a,bench-b"
    if (type ~ /Validate\(String\)/) return "*.bench.example.test"
    return "bench value"
}
NR > 1 && $8 != "YAMLConfigPath" {
    v = sample($8, $7)
    if ($5 != "") print $5 "=" v > (dir "/env")
    if ($6 != "") print $6 "\t" $8 "\t" v > (dir "/yaml.tsv")
}' dir="$tmp" "$tsv"

# Nested YAML from the dotted paths: sorted paths keep groups together.
sort "$tmp/yaml.tsv" | awk -F'\t' '
function quote(s) { gsub(/\047/, "\047\047", s); return "\047" s "\047" }
{
    n = split($1, part, ".")
    same = 0
    while (same < n - 1 && same < pn && part[same + 1] == prev[same + 1])
        same++
    for (i = same + 1; i < n; i++)
        printf "%*s%s:\n", 2 * (i - 1), "", part[i]
    v = $3
    if ($2 ~ /^Struct/) out = v
    else if ($2 ~ /^Validate\(StringArray\)/) {
        gsub(/,/, ", ", v); out = "[" v "]"
    } else out = quote(v)
    printf "%*s%s: %s\n", 2 * (n - 1), "", part[n], out
    pn = n - 1
    for (i = 1; i <= n; i++) prev[i] = part[i]
}' > "$tmp/config.yaml"

# The timing loop runs inside the clean environment, so that `times`
# counts the coder-cfg children alone.
cat > "$tmp/loop.sh" <<'EOF'
i=0
while [ $i -lt "$1" ]; do
    "$2" dump --config "$3" --output json > /dev/null 2>&1
    i=$((i + 1))
done
times
EOF

# Every variable, in a clean environment.
set -- env -i PATH="$PATH"
while IFS= read -r kv; do
    set -- "$@" "$kv"
done < "$tmp/env"

if ! "$@" "$bin" dump --config "$tmp/config.yaml" --output json \
    > "$tmp/out.json" 2> "$tmp/err"; then
    echo "options.sh: dump failed:" >&2
    cat "$tmp/err" >&2
    exit 1
fi
nenv=$(wc -l < "$tmp/env")
nyaml=$(wc -l < "$tmp/yaml.tsv")
bytes=$(wc -c < "$tmp/out.json")

# POSIX `times` prints the shell's, then its children's user and system.
"$@" sh "$tmp/loop.sh" "$runs" "$bin" "$tmp/config.yaml" > "$tmp/times"
sed -n 2p "$tmp/times" | awk -v runs="$runs" -v nenv="$nenv" \
    -v nyaml="$nyaml" -v bytes="$bytes" '
function secs(t,   m) {
    m = t; sub(/m.*/, "", m); sub(/^[0-9]*m/, "", t); sub(/s$/, "", t)
    return m * 60 + t
}
{
    ms = (secs($1) + secs($2)) * 1000 / runs
    printf "options: %d env vars, %d yaml keys, %d bytes of json\n",
        nenv, nyaml, bytes
    printf "options: %.2f ms cpu per resolve+dump (%d runs; goal < 5)\n",
        ms, runs
}'
