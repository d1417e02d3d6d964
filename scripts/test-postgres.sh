#!/usr/bin/env bash
# Start or stop a throwaway PostgreSQL server for the test suite, on 127.0.0.1 only.
#   scripts/test-postgres.sh start DIR PORT   -> prints the SQLAlchemy URL of a test database
#   scripts/test-postgres.sh stop DIR
# Uses the Debian packages (installs them if missing). The cluster lives in DIR, owned by the
# postgres user; nothing of the system cluster is touched.
set -euo pipefail
action=$1
dir=$2

pg_bin() {
  local version
  version=$(ls /usr/lib/postgresql 2>/dev/null | sort -V | tail -1 || true)
  if [ -z "$version" ]; then
    apt-get update -qq >/dev/null && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq postgresql >/dev/null
    version=$(ls /usr/lib/postgresql | sort -V | tail -1)
  fi
  echo "/usr/lib/postgresql/$version/bin"
}

as_postgres() {
  if [ "$(id -u)" = 0 ]; then su postgres -s /bin/sh -c "$*"; else sh -c "$*"; fi
}

case "$action" in
  start)
    port=$3
    bin=$(pg_bin)
    mkdir -p "$dir"
    chmod 755 "$dir"
    [ "$(id -u)" = 0 ] && chown postgres "$dir"
    as_postgres "$bin/initdb -D '$dir/data' -A trust -U postgres --no-sync >'$dir/initdb.log' 2>&1"
    as_postgres "$bin/pg_ctl -D '$dir/data' -l '$dir/server.log' -w -o \"-p $port -k '$dir' -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=200 -c autovacuum=off\" start >/dev/null"
    as_postgres "$bin/psql -h 127.0.0.1 -p $port -U postgres -q -c \"CREATE ROLE evidence LOGIN CREATEDB PASSWORD 'evidence-test'\" -c 'CREATE DATABASE evidence_test OWNER evidence'"
    echo "postgresql+psycopg://evidence:evidence-test@127.0.0.1:$port/evidence_test"
    ;;
  stop)
    bin=$(pg_bin)
    as_postgres "$bin/pg_ctl -D '$dir/data' -m fast -w stop >/dev/null" || true
    rm -rf "$dir"
    ;;
  *)
    echo "usage: $0 start DIR PORT | stop DIR" >&2
    exit 2
    ;;
esac
