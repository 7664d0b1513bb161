#!/bin/sh
# pg-start.sh - a throwaway PostgreSQL server for tests.
#
#   eval "$(tests/support/pg-start.sh start DIR)"   # exports CAIRN_TEST_PG_URL
#   tests/support/pg-start.sh createdb NAME          # prints a URL for a new database
#   tests/support/pg-start.sh dropdb NAME
#   tests/support/pg-start.sh stop DIR
#
# start: when CAIRN_TEST_PG_URL is already set it is used as is (nothing is
# started). Otherwise initdb + pg_ctl run in DIR (created if missing; as the
# `postgres` user when run as root), listening only on 127.0.0.1 on a free
# port and on a unix socket in DIR, with fsync off; pg_ctl -w waits for the
# server with a deadline. Database cairn_test is created; the URL printed is
# postgresql://postgres@127.0.0.1:PORT/cairn_test.
# createdb/dropdb act on the server named by CAIRN_TEST_PG_URL.
# Errors go to stderr and exit non-zero; nothing is skipped silently.
set -eu

die() {
    echo "pg-start.sh: $*" >&2
    exit 1
}

# find_bin NAME: PATH first, then the Debian server directories.
find_bin() {
    if command -v "$1" >/dev/null 2>&1; then
        command -v "$1"
        return 0
    fi
    for d in /usr/lib/postgresql/*/bin; do
        if [ -x "$d/$1" ]; then
            echo "$d/$1"
            return 0
        fi
    done
    return 1
}

# as_pg CMD...: runs CMD as the unprivileged postgres user when we are root.
as_pg() {
    if [ "$(id -u)" = 0 ]; then
        if command -v runuser >/dev/null 2>&1; then
            runuser -u postgres -- "$@"
        else
            setpriv --reuid=postgres --regid=postgres --init-groups -- "$@"
        fi
    else
        "$@"
    fi
}

# url_with_db URL NAME: URL with its database replaced by NAME.
url_with_db() {
    echo "$1" | sed -E "s#^(postgres(ql)?://[^/?]*)(/[^?]*)?#\\1/$2#"
}

# port_free PORT: nothing accepts connections on 127.0.0.1:PORT.
port_free() {
    ! (ss -ltnH "sport = :$1" 2>/dev/null | grep -q .)
}

psql_cmd() {
    psql=$(find_bin psql) || die "psql not found (install postgresql-client)"
    "$psql" -X -q -v ON_ERROR_STOP=1 "$@"
}

cmd_start() {
    dir=$1
    if [ -n "${CAIRN_TEST_PG_URL:-}" ]; then
        mkdir -p "$dir"
        : >"$dir/external"
        echo "export CAIRN_TEST_PG_URL='$CAIRN_TEST_PG_URL'"
        return 0
    fi
    initdb=$(find_bin initdb) || die "initdb not found: install the postgresql package or set CAIRN_TEST_PG_URL"
    pg_ctl=$(find_bin pg_ctl) || die "pg_ctl not found: install the postgresql package or set CAIRN_TEST_PG_URL"
    mkdir -p "$dir"
    dir=$(cd "$dir" && pwd)
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || die "running as root and there is no 'postgres' user to run the server"
        chown postgres "$dir"
        chmod 700 "$dir"
    fi
    as_pg "$initdb" -D "$dir/data" -U postgres --auth=trust -E UTF8 --locale=C.UTF-8 \
        >"$dir/initdb.log" 2>&1 || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    tries=0
    while :; do
        tries=$((tries + 1))
        [ "$tries" -le 50 ] || die "no free port found"
        port=$(( ($$ * 7 + $(date +%N | sed 's/^0*//;s/^$/0/') / 1000 + tries * 131) % 30000 + 20000 ))
        port_free "$port" || continue
        if as_pg "$pg_ctl" -D "$dir/data" -l "$dir/server.log" -w -t 60 \
            -o "-c listen_addresses=127.0.0.1 -p $port -c unix_socket_directories=$dir -c fsync=off -c full_page_writes=off -c synchronous_commit=off -c max_connections=300" \
            start >/dev/null 2>&1; then
            break
        fi
        [ "$tries" -lt 5 ] || { cat "$dir/server.log" >&2 || true; die "postgres did not start"; }
    done
    echo "$port" >"$dir/port"
    url="postgresql://postgres@127.0.0.1:$port/cairn_test"
    psql_cmd -d "$(url_with_db "$url" postgres)" -c "CREATE DATABASE cairn_test" >&2 ||
        die "could not create database cairn_test"
    echo "export CAIRN_TEST_PG_URL='$url'"
}

cmd_stop() {
    dir=$1
    [ -d "$dir" ] || return 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        pg_ctl=$(find_bin pg_ctl) || die "pg_ctl not found"
        as_pg "$pg_ctl" -D "$dir/data" -m immediate stop >/dev/null 2>&1 || true
    fi
    rm -rf "$dir"
}

cmd_createdb() {
    [ -n "${CAIRN_TEST_PG_URL:-}" ] || die "CAIRN_TEST_PG_URL is not set"
    echo "$1" | grep -Eq '^[a-z_][a-z0-9_]*$' || die "bad database name '$1'"
    psql_cmd -d "$(url_with_db "$CAIRN_TEST_PG_URL" postgres)" -c "CREATE DATABASE $1" >&2 ||
        die "could not create database $1"
    url_with_db "$CAIRN_TEST_PG_URL" "$1"
}

cmd_dropdb() {
    [ -n "${CAIRN_TEST_PG_URL:-}" ] || die "CAIRN_TEST_PG_URL is not set"
    echo "$1" | grep -Eq '^[a-z_][a-z0-9_]*$' || die "bad database name '$1'"
    psql_cmd -d "$(url_with_db "$CAIRN_TEST_PG_URL" postgres)" -c "DROP DATABASE IF EXISTS $1" >&2
}

case "${1:-}" in
start) [ $# -eq 2 ] || die "usage: pg-start.sh start DIR"; cmd_start "$2" ;;
stop) [ $# -eq 2 ] || die "usage: pg-start.sh stop DIR"; cmd_stop "$2" ;;
createdb) [ $# -eq 2 ] || die "usage: pg-start.sh createdb NAME"; cmd_createdb "$2" ;;
dropdb) [ $# -eq 2 ] || die "usage: pg-start.sh dropdb NAME"; cmd_dropdb "$2" ;;
*) die "usage: pg-start.sh start DIR | stop DIR | createdb NAME | dropdb NAME" ;;
esac
