# lib-bench.sh — shared setup for bench/listproducts.sh and bench/order-pay.sh
# (sourced, not run): a throwaway PostgreSQL cluster with the statement log
# available, a bill-server on it, helpers to capture the SQL one call sends
# and to run pgbench on it with the same connection count.
# Expects: $here (bench dir), $build (meson build dir).

bench_start() {   # NAME DB_CONNECTIONS
  work=$(mktemp -d "/tmp/bill-bench-$1.XXXXXX")
  chmod 755 "$work"
  eval "$("$here/../tests/support/pg-cluster.sh" start "$work/pg")"
  pghost=$BILL_TEST_PG_HOST
  runuser -u postgres -- psql -h "$pghost" -U postgres -qc 'CREATE DATABASE bench' >/dev/null 2>&1 || \
    psql -h "$pghost" -U postgres -qc 'CREATE DATABASE bench' >/dev/null
  port=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  cat > "$work/config.toml" <<TOML
[server]
host = "127.0.0.1"
port = $port
[db]
url = "postgresql://postgres@/bench?host=$pghost"
max_connections = $2
min_connections = $2
[jwt]
secret = "bench-secret-0123456789abcdef0123456789"
[bootstrap]
admin_username = "admin"
admin_password = "Bench-Admin-Pass-123!"
[rate_limit]
enabled = false
[log]
level = "warn"
TOML
  chmod 600 "$work/config.toml"
  # BENCH_WRAP: a command to run the server under, e.g.
  # BENCH_WRAP="valgrind --tool=callgrind --callgrind-out-file=/tmp/cg.out"
  (cd "$work" && exec ${BENCH_WRAP:-} "$build/bill-server/bill-server" --config "$work/config.toml" >"$work/server.log" 2>&1) &
  srv_pid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:$port/health" >/dev/null || { cat "$work/server.log"; return 1; }
  echo "== bill-server pid $srv_pid on port $port, PostgreSQL in $work/pg, $2 DB connections, $(nproc) cores"
}

bench_stop() {
  [ -n "${srv_pid:-}" ] && kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
  [ -n "${work:-}" ] && "$here/../tests/support/pg-cluster.sh" stop "$work/pg" || true
}

bench_psql() {
  runuser -u postgres -- psql -h "$pghost" -U postgres -d bench -v ON_ERROR_STOP=1 -q "$@"
}

# bench_capture_sql PATH REQFILE OUT [HEADER...]: run the call once with
# log_statement=all and keep the statements it sent, with parameters
# inlined, as a pgbench script.
bench_capture_sql() {
  local path=$1 req=$2 out=$3; shift 3
  local log="$work/pg/postgresql.log" hdrs=()
  for h in "$@"; do hdrs+=(-H "$h"); done
  bench_psql -c "ALTER SYSTEM SET log_statement = 'all'" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5
  local before; before=$(wc -l < "$log")
  h2load -n 1 -c 1 -H 'content-type: application/grpc' -H 'te: trailers' "${hdrs[@]}" -d "$req" \
    "http://127.0.0.1:$port$path" >/dev/null
  sleep 0.5
  bench_psql -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
  tail -n +"$((before + 1))" "$log" | /usr/bin/python3 "$here/pglog2sql.py" > "$out"
}

bench_pgbench() {   # SCRIPT CONNECTIONS SECONDS
  cp "$1" "$work/pgbench.sql"
  chmod 644 "$work/pgbench.sql"
  runuser -u postgres -- pgbench -n -h "$pghost" -U postgres -c "$2" -j 2 -T "$3" -f "$work/pgbench.sql" bench
}
