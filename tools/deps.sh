#!/bin/sh
# deps.sh: install the Debian packages coder-cfg builds and tests with.
# Make runs it only when pkg-config cannot find a library; CI runs it
# through make as well.  It needs root (or sudo) and Debian's apt.
set -eu

pkgs="build-essential pkg-config check libcurl4-openssl-dev libgnutls28-dev
libjansson-dev libmicrohttpd-dev libpcre2-dev libpq-dev libsodium-dev
liblmdb-dev libmsgpack-dev uuid-dev libyaml-dev"
extra="postgresql-15 wrk lmdb-utils curl"

missing=""
for p in $pkgs $extra; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" ||
        missing="$missing $p"
done
[ -z "$missing" ] && exit 0

sudo=""
[ "$(id -u)" -ne 0 ] && sudo="sudo"
echo "deps.sh: installing:$missing" >&2
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq $missing >&2
