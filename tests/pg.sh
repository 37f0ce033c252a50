#!/bin/sh
# pg.sh: a throwaway PostgreSQL for the tests.
#
#   tests/pg.sh start DIR   initdb and start a server in DIR (created),
#                           listening on 127.0.0.1 and a socket in DIR;
#                           prints the connection URL on stdout
#   tests/pg.sh stop DIR    stop it and remove DIR
#   tests/pg.sh pause DIR   stop it but keep DIR (an outage in a test)
#   tests/pg.sh resume DIR  start a paused server again on its old port
#
# initdb refuses to run as root, so as root the server runs as the
# "postgres" user.  Authentication is "trust" on loopback only.
set -eu
PGBIN=${PGBIN:-/usr/lib/postgresql/15/bin}
usage="usage: pg.sh start|stop|pause|resume DIR"
cmd=${1:?$usage}
dir=${2:?$usage}

as_owner() {
    if [ "$(id -u)" -eq 0 ]; then
        su postgres -s /bin/sh -c "$1"
    else
        sh -c "$1"
    fi
}

# Starts the server in $dir on port $1 (loopback and a socket in $dir).
server_start() {
    as_owner "$PGBIN/pg_ctl -D '$dir/data' -l '$dir/server.log' \
        -o \"-p $1 -k '$dir' -c listen_addresses=127.0.0.1 \
        -c fsync=off -c max_connections=200\" -w -t 30 start \
        >/dev/null 2>&1"
}

case $cmd in
start)
    [ -x "$PGBIN/initdb" ] || { echo "pg.sh: no $PGBIN/initdb" >&2; exit 1; }
    mkdir -p "$dir"
    [ "$(id -u)" -eq 0 ] && chown postgres "$dir"
    as_owner "$PGBIN/initdb -D '$dir/data' -A trust -U postgres \
        >'$dir/initdb.log' 2>&1" || { cat "$dir/initdb.log" >&2; exit 1; }
    # A port from a range unlikely to be in use; retry a few on failure.
    for try in 1 2 3 4 5 6 7 8; do
        port=$(( 20000 + ($$ * 7 + try * 131) % 20000 ))
        if server_start "$port"; then
            echo "$port" >"$dir/port"
            echo "postgresql://postgres@127.0.0.1:$port/postgres"
            exit 0
        fi
    done
    cat "$dir/server.log" >&2 || true
    exit 1
    ;;
stop)
    if [ -d "$dir/data" ]; then
        as_owner "$PGBIN/pg_ctl -D '$dir/data' -m fast -w stop \
            >/dev/null 2>&1" || true
    fi
    rm -rf "$dir"
    ;;
pause)
    as_owner "$PGBIN/pg_ctl -D '$dir/data' -m fast -w stop >/dev/null 2>&1"
    ;;
resume)
    server_start "$(cat "$dir/port")"
    ;;
*)
    echo "$usage" >&2
    exit 2
    ;;
esac
