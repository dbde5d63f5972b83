#!/usr/bin/env bash
# pg-test.sh: a throwaway PostgreSQL cluster for tests and benchmarks, on 127.0.0.1.
#   start DIR PORT        initdb + start; roles irisx_owner (owns the tables, runs migrations)
#                         and irisx_app (the API: no superuser, no BYPASSRLS, owns nothing);
#                         prints IRISX_TEST_PG_URL, IRISX_TEST_PG_MIGRATE_URL, IRISX_TEST_PG_ADMIN_URL
#   createdb DIR PORT NAME  another database set up the same way; prints its two URLs
#   stop DIR              fast shutdown of the cluster started in DIR (by its PID)
set -euo pipefail
BIN=$(ls -d /usr/lib/postgresql/*/bin | sort -V | tail -1)
cmd=${1:-}; DIR=${2:-}
[ -n "$cmd" ] && [ -n "$DIR" ] || { echo "usage: $0 start|createdb|stop DIR [PORT] [NAME]" >&2; exit 2; }

psql_admin() { "$BIN/psql" -X -q -v ON_ERROR_STOP=1 -h 127.0.0.1 -p "$PORT" -U postgres "$@"; }

prepare_db() { # NAME
  psql_admin -d postgres -c "CREATE DATABASE \"$1\" OWNER irisx_owner" >/dev/null
  psql_admin -d "$1" -c "REVOKE CREATE ON SCHEMA public FROM PUBLIC; ALTER SCHEMA public OWNER TO irisx_owner; GRANT USAGE ON SCHEMA public TO irisx_app;" >/dev/null
  echo "IRISX_TEST_PG_URL=postgres://irisx_app@127.0.0.1:$PORT/$1"
  echo "IRISX_TEST_PG_MIGRATE_URL=postgres://irisx_owner@127.0.0.1:$PORT/$1"
}

case "$cmd" in
start)
  PORT=${3:?port}
  mkdir -p "$DIR"; chmod 755 "$DIR"; chown postgres: "$DIR"
  runuser -u postgres -- "$BIN/initdb" -D "$DIR/data" -U postgres -A trust --no-sync -E UTF8 --locale=C.UTF-8 >"$DIR/initdb.log" 2>&1
  setpriv --reuid=postgres --regid=postgres --init-groups "$BIN/postgres" -D "$DIR/data" \
    -c listen_addresses=127.0.0.1 -p "$PORT" -k "$DIR" -c synchronous_commit=on \
    -c max_connections=200 >"$DIR/postgres.log" 2>&1 &
  echo $! >"$DIR/pid"
  for _ in $(seq 200); do "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" && break; sleep 0.05; done
  "$BIN/pg_isready" -q -h 127.0.0.1 -p "$PORT" || { cat "$DIR/postgres.log" >&2; exit 1; }
  psql_admin -d postgres -c "CREATE ROLE irisx_owner LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE; CREATE ROLE irisx_app LOGIN NOSUPERUSER NOBYPASSRLS NOCREATEDB NOCREATEROLE;" >/dev/null
  prepare_db irisx
  echo "IRISX_TEST_PG_ADMIN_URL=postgres://postgres@127.0.0.1:$PORT/postgres"
  ;;
createdb)
  PORT=${3:?port}; prepare_db "${4:?name}"
  ;;
stop)
  [ -f "$DIR/pid" ] || exit 0
  pid=$(cat "$DIR/pid")
  kill -INT "$pid" 2>/dev/null || true
  for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  rm -f "$DIR/pid"
  ;;
*) echo "unknown command $cmd" >&2; exit 2 ;;
esac
