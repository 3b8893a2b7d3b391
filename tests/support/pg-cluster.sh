#!/usr/bin/env bash
# pg-cluster.sh — start or stop a throwaway PostgreSQL cluster for the tests.
#
#   pg-cluster.sh start DIR   initdb DIR/data (first time), start it listening
#                             only on a unix socket in DIR, print the env the
#                             test harness reads (eval "$(pg-cluster.sh start DIR)")
#   pg-cluster.sh stop DIR    stop it (fast) and remove DIR/data
#   pg-cluster.sh halt DIR    stop it (fast), keeping DIR/data: an outage that
#                             `start DIR` ends (outage tests)
#
# PostgreSQL refuses to run as root, so as root everything runs as the
# `postgres` system user (created by Debian's postgresql package). fsync is
# off: the data is disposable and speed matters. BILL_PG_SERVER_OPTS (e.g.
# "-c shared_buffers=1GB") is appended to the server's options: the
# benchmarks size the cluster like a production one with it.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
if [ -z "$cmd" ] || [ -z "$dir" ]; then
  echo "usage: $0 start|stop|halt DIR" >&2
  exit 2
fi

bindir=${BILL_PG_BINDIR:-}
if [ -z "$bindir" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1 || true)
fi
if [ ! -x "$bindir/initdb" ]; then
  echo "pg-cluster.sh: no PostgreSQL server binaries (initdb) found; install postgresql or set BILL_PG_BINDIR" >&2
  exit 1
fi

mkdir -p "$dir"
dir=$(cd "$dir" && pwd)
as_pg=()
if [ "$(id -u)" = 0 ]; then
  chmod 755 "$dir"
  chown postgres: "$dir"
  as_pg=(runuser -u postgres --)
fi

case "$cmd" in
  start)
    if [ ! -f "$dir/data/PG_VERSION" ]; then
      "${as_pg[@]}" "$bindir/initdb" -D "$dir/data" -U postgres --auth-local=trust \
        --auth-host=reject -E UTF8 --locale=C --no-sync >"$dir/initdb.log" 2>&1 || {
        echo "pg-cluster.sh: initdb failed:" >&2; tail -20 "$dir/initdb.log" >&2; exit 1; }
    fi
    if ! "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" status >/dev/null 2>&1; then
      "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t 60 \
        -o "-c listen_addresses='' -c unix_socket_directories='$dir' -c fsync=off \
-c synchronous_commit=off -c full_page_writes=off -c max_connections=300 \
-c shared_buffers=64MB ${BILL_PG_SERVER_OPTS:-}" start >/dev/null 2>&1 || {
        echo "pg-cluster.sh: PostgreSQL did not start:" >&2; tail -20 "$dir/postgresql.log" >&2; exit 1; }
    fi
    echo "export BILL_TEST_PG_HOST='$dir'"
    echo "export BILL_TEST_PG_PORT=5432"
    echo "export BILL_TEST_PG_USER=postgres"
    ;;
  stop)
    if [ -f "$dir/data/PG_VERSION" ]; then
      "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
      rm -rf "$dir/data" "$dir/initdb.log" "$dir/postgresql.log"
    fi
    ;;
  halt)
    if [ -f "$dir/data/PG_VERSION" ]; then
      "${as_pg[@]}" "$bindir/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
    fi
    ;;
  *)
    echo "usage: $0 start|stop|halt DIR" >&2
    exit 2
    ;;
esac
