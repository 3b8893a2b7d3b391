#!/usr/bin/env bash
# pg-ha.sh — a real PostgreSQL HA pair for the failover test (tests/ha), built
# with Debian's pg_auto_failover (postgresql-15-auto-failover): a monitor, a
# primary and a secondary with synchronous replication, listening on loopback
# TCP ports and on unix sockets in DIR only, run as the `postgres` user when
# root (PostgreSQL refuses root). Everything lives in DIR (data, pg_autoctl's
# config and state via HOME/XDG_*, logs).
#
#   pg-ha.sh start DIR OWNER_PID   build and start the three nodes; waits until
#                                  the secondary is in sync, then prints
#                                  "URL <multi-host libpq URL of database bill>",
#                                  "PRIMARY n1", "SYNC <synchronous_standby_names>"
#   pg-ha.sh primary DIR           prints the node the monitor holds as primary
#   pg-ha.sh kill-primary DIR      SIGKILL the primary node as a crash does: its
#                                  pg_autoctl (so nothing restarts it) and its
#                                  postgres; prints the node's name
#   pg-ha.sh wait-promoted DIR NODE SECS   wait until NODE is the writable
#                                  primary as the monitor sees it
#   pg-ha.sh state DIR             the monitor's view (pg_autoctl show state)
#   pg-ha.sh stop DIR              stop whatever is left and remove DIR
#
# Failover timings (with the defaults a promotion begins ~20 s after the
# failure): the monitor checks health every second (pgautofailover.
# health_check_period 1000 ms, a check may take 2 s, one retry after 500 ms),
# holds a node that failed its check and sent no report for 3 s unhealthy
# (node_considered_unhealthy_timeout; both must hold, so a loaded machine
# does not fail over by itself) and waits 3 s for a lost primary to demote
# itself (primary_demote_timeout); keepers agree (network_partition_timeout
# 3 s, prepare_promotion_walreceiver 1 s). Writes are back 5-7 s after the
# kill.
#
# `start` leaves a watcher that runs `stop` when OWNER_PID exits or after
# 300 s, so no node outlives the test. Exit 77 when pg_autoctl is absent.
set -euo pipefail

cmd=${1:-}
dir=${2:-}
[ -n "$cmd" ] && [ -n "$dir" ] || { echo "usage: $0 start|primary|kill-primary|wait-promoted|state|stop DIR ..." >&2; exit 2; }
self=$(cd "$(dirname "$0")" && pwd)/$(basename "$0")

bindir=${BILL_PG_BINDIR:-}
if [ -z "$bindir" ]; then
  bindir=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -t/ -k5 -n | tail -1 || true)
fi

# Run a shell snippet as the PostgreSQL user, with pg_autoctl's files in DIR.
as_pg() {
  local env="export HOME='$dir' XDG_CONFIG_HOME='$dir/config' XDG_DATA_HOME='$dir/share' \
XDG_RUNTIME_DIR='$dir/run' PGHOST='$dir' PATH='$bindir':\$PATH; cd '$dir';"
  if [ "$(id -u)" = 0 ]; then runuser -u postgres -- bash -c "$env $1"
  else bash -c "$env $1"; fi
}

port_of() { cat "$dir/$1.port"; }

# SQL on the monitor's database (one value per line).
monitor_sql() { as_pg "psql -X -q -At -p $(port_of mon) -d pg_auto_failover -c \"$1\""; }

primary_node() {
  monitor_sql "SELECT nodename FROM pgautofailover.node WHERE reportedstate IN \
('primary', 'wait_primary', 'single') AND goalstate = reportedstate ORDER BY nodeid LIMIT 1"
}

# Settings every node's postgres reads last (postgresql.auto.conf wins over
# what pg_autoctl writes): sockets in DIR, a small footprint on a shared
# machine (pg_autoctl would size shared_buffers from the machine's RAM).
tune() {
  cat >>"$dir/$1/postgresql.auto.conf" <<EOF
unix_socket_directories = '$dir'
shared_buffers = '32MB'
work_mem = '4MB'
maintenance_work_mem = '32MB'
effective_cache_size = '256MB'
max_connections = 100
max_wal_size = '256MB'
EOF
}

run_node() { # name: start `pg_autoctl run` in its own session, remember its pgid
  as_pg "setsid pg_autoctl run --pgdata '$dir/$1' >'$dir/$1.log' 2>&1 </dev/null & echo \$! >'$dir/$1.pgid'"
}

wait_for() { # secs description command...
  local secs=$1 what=$2; shift 2
  for _ in $(seq 1 $((secs * 4))); do
    if "$@" >/dev/null 2>&1; then return 0; fi
    sleep 0.25
  done
  echo "pg-ha.sh: timed out after ${secs}s waiting for $what" >&2
  for f in "$dir"/*.log; do [ -f "$f" ] && { echo "---- $f" >&2; tail -15 "$f" >&2; }; done
  return 1
}

states_are() { # "n1:primary n2:secondary"
  [ "$(monitor_sql "SELECT string_agg(nodename || ':' || reportedstate, ' ' ORDER BY nodeid) \
FROM pgautofailover.node WHERE reportedstate = goalstate")" = "$1" ]
}

create_node() { # name port
  local name=$1 port=$2 monitor
  monitor="postgres://autoctl_node@127.0.0.1:$(port_of mon)/pg_auto_failover?sslmode=disable"
  echo "$port" >"$dir/$name.port"
  as_pg "pg_autoctl create postgres --pgdata '$dir/$name' --pgport $port --pghost '$dir' \
--hostname 127.0.0.1 --listen 127.0.0.1 --auth trust --no-ssl --monitor '$monitor' \
--name $name --dbname bill --pgctl '$bindir/pg_ctl' >'$dir/$name.create.log' 2>&1" || {
    echo "pg-ha.sh: pg_autoctl create postgres $name failed:" >&2; tail -20 "$dir/$name.create.log" >&2; return 1; }
  # before `run`: a running keeper rereads its file while `config set` writes it
  as_pg "pg_autoctl config set --pgdata '$dir/$name' timeout.network_partition_timeout 3 >/dev/null && \
pg_autoctl config set --pgdata '$dir/$name' timeout.prepare_promotion_walreceiver 1 >/dev/null"
}

start() {
  local owner=${3:?start needs OWNER_PID}
  command -v pg_autoctl >/dev/null || { echo "pg_autoctl not installed (Debian package postgresql-15-auto-failover): skipped"; exit 77; }
  [ -x "$bindir/initdb" ] || { echo "pg-ha.sh: no PostgreSQL server binaries found" >&2; exit 1; }
  mkdir -p "$dir"
  dir=$(cd "$dir" && pwd)
  chmod 755 "$dir"
  [ "$(id -u)" = 0 ] && chown postgres: "$dir"
  as_pg "mkdir -p run config share && chmod 700 run"
  # the watcher: nothing outlives the test (owner gone, or 300 s)
  setsid bash -c "for _ in \$(seq 1 300); do kill -0 $owner 2>/dev/null && [ -d '$dir' ] || break; sleep 1; done; \
[ -d '$dir' ] && '$self' stop '$dir'" </dev/null >/dev/null 2>&1 &

  read -r pm p1 p2 < <(python3 -c 'import socket
s = [socket.socket() for _ in range(3)]
for x in s: x.bind(("127.0.0.1", 0))
print(*[x.getsockname()[1] for x in s])')
  echo "$pm" >"$dir/mon.port"

  # monitor: our initdb (so the socket directory and sizes are ours from the
  # first start), the failover timings in its postgresql.auto.conf
  as_pg "initdb -D '$dir/mon' -U postgres --auth=trust -E UTF8 --locale=C --no-sync >'$dir/mon.initdb.log' 2>&1"
  tune mon
  cat >>"$dir/mon/postgresql.auto.conf" <<EOF
pgautofailover.health_check_period = 1000
pgautofailover.health_check_timeout = 2000
pgautofailover.health_check_max_retries = 1
pgautofailover.health_check_retry_delay = 500
pgautofailover.node_considered_unhealthy_timeout = 3000
pgautofailover.primary_demote_timeout = 3000
EOF
  # (--listen is accepted though `create monitor --help` does not list it;
  # without it the monitor listens on '*')
  as_pg "pg_autoctl create monitor --pgdata '$dir/mon' --pgport $pm --hostname 127.0.0.1 \
--listen 127.0.0.1 --auth trust --no-ssl --pgctl '$bindir/pg_ctl' >'$dir/mon.create.log' 2>&1" || {
    echo "pg-ha.sh: pg_autoctl create monitor failed:" >&2; tail -20 "$dir/mon.create.log" >&2; exit 1; }
  run_node mon
  wait_for 30 "the monitor" monitor_sql "SELECT 1"

  # primary: our initdb too; the secondary is a pg_basebackup of it (its
  # postgresql.auto.conf comes along)
  as_pg "initdb -D '$dir/n1' -U postgres --auth=trust -E UTF8 --locale=C --no-sync >'$dir/n1.initdb.log' 2>&1"
  tune n1
  create_node n1 "$p1"
  run_node n1
  wait_for 30 "n1 to run as single" states_are "n1:single"
  create_node n2 "$p2"
  run_node n2
  wait_for 60 "n1 primary, n2 secondary" states_are "n1:primary n2:secondary"
  local sync
  sync=$(as_pg "psql -X -At -p $p1 -d bill -c 'SHOW synchronous_standby_names'")
  [ -n "$sync" ] || { echo "pg-ha.sh: replication is not synchronous" >&2; exit 1; }
  echo "URL postgresql://127.0.0.1:$p1,127.0.0.1:$p2/bill?user=postgres&target_session_attrs=read-write&connect_timeout=2"
  echo "PRIMARY $(primary_node)"
  echo "SYNC $sync"
}

kill_primary() {
  local node
  node=$(primary_node)
  [ -n "$node" ] && [ -f "$dir/$node.pgid" ] || { echo "pg-ha.sh: no primary to kill" >&2; exit 1; }
  kill -KILL -- "-$(cat "$dir/$node.pgid")"
  echo "$node"
}

wait_promoted() {
  local node=$1 secs=$2
  wait_for "$secs" "$node to be promoted" \
    bash -c "[ \"\$('$self' primary '$dir')\" = '$node' ]"
}

stop() {
  [ -d "$dir" ] || return 0
  local name pgid
  for name in n2 n1 mon; do
    [ -f "$dir/$name.pgid" ] || continue
    pgid=$(cat "$dir/$name.pgid")
    if kill -0 -- "-$pgid" 2>/dev/null; then
      as_pg "pg_autoctl stop --pgdata '$dir/$name' --immediate" >/dev/null 2>&1 || true
      for _ in $(seq 1 40); do kill -0 -- "-$pgid" 2>/dev/null || break; sleep 0.25; done
      kill -KILL -- "-$pgid" 2>/dev/null || true
    fi
  done
  rm -rf "$dir"
}

case "$cmd" in
  start) start "$@" ;;
  primary) primary_node ;;
  kill-primary) kill_primary ;;
  wait-promoted) wait_promoted "${3:?node}" "${4:-30}" ;;
  state) as_pg "pg_autoctl show state --pgdata '$dir/mon'" ;;
  stop) stop ;;
  *) echo "usage: $0 start|primary|kill-primary|wait-promoted|state|stop DIR ..." >&2; exit 2 ;;
esac
