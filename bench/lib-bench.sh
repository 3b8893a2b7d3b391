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
${BENCH_EXTRA_TOML:-}
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

# bench_second_server EXTRA_TOML: another bill-server on the same database
# (config.toml of the first with EXTRA_TOML appended, its own port);
# sets port2 and srv2_pid.
bench_second_server() {
  port2=$(/usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
  mkdir -p "$work/srv2"
  sed "s/^port = .*/port = $port2/" "$work/config.toml" > "$work/srv2/config.toml"
  printf '%s\n' "$1" >> "$work/srv2/config.toml"
  chmod 600 "$work/srv2/config.toml"
  (cd "$work/srv2" && exec "$build/bill-server/bill-server" --config "$work/srv2/config.toml" >"$work/srv2/server.log" 2>&1) &
  srv2_pid=$!
  for _ in $(seq 300); do
    curl -sf "http://127.0.0.1:$port2/health" >/dev/null 2>&1 && break
    sleep 0.2
  done
  curl -sf "http://127.0.0.1:$port2/health" >/dev/null || { cat "$work/srv2/server.log"; return 1; }
}

# bench_seed_catalog N: N active products in one group, each with a
# monthly price (what listproducts.sh and api-reads.sh page through).
bench_seed_catalog() {
  bench_psql <<SQL >/dev/null
INSERT INTO product_categories (name) VALUES ('bench');
INSERT INTO product_groups (name, category_id) SELECT 'bench', id FROM product_categories;
INSERT INTO products (group_id, category_id, name, description, specs, price, created_at)
SELECT g.id, g.category_id, 'bench product ' || n, 'a product for the benchmark',
       jsonb_build_object('cpu_cores', 2, 'region', 'hk'), 10.00,
       now() - (n || ' seconds')::interval
FROM product_groups g, generate_series(1, $1) n;
INSERT INTO product_prices (product_id, cycle, price) SELECT id, 'monthly', 10.00 FROM products;
ANALYZE;
SQL
}

# bench_h2load PORT PATH REQFILE CONNS STREAMS SECONDS [HEADER...]: h2load
# for SECONDS; prints one line "req/s p50 p99" (latencies in ms, from
# h2load's per-request log) and checks every answer was gRPC status 0
# (h2load only sees HTTP 200, so the first answer is checked with curl-like
# nghttp beforehand by the caller).
bench_h2load() {
  local p=$1 path=$2 req=$3 c=$4 m=$5 secs=$6; shift 6
  local hdrs=() log="$work/h2load.$$.log"
  for h in "$@"; do hdrs+=(-H "$h"); done
  rm -f "$log"
  h2load -D "$secs" -c "$c" -m "$m" -t "${BENCH_H2LOAD_THREADS:-1}" --log-file="$log" \
    -H 'content-type: application/grpc' -H 'te: trailers' "${hdrs[@]}" \
    -d "$req" "http://127.0.0.1:$p$path" > "$work/h2load.out"
  grep -q ' 0 failed, 0 errored' "$work/h2load.out" || { cat "$work/h2load.out" >&2; return 1; }
  local got; got=$(awk '/finished in/ {print $4}' "$work/h2load.out")
  /usr/bin/python3 - "$log" "$got" <<'PY'
import sys
d = sorted(int(l.split('\t')[2]) for l in open(sys.argv[1]) if l.count('\t') >= 2)
pc = lambda q: d[min(len(d) - 1, int(q * len(d)))] / 1000.0
print('%s %.2f %.2f' % (sys.argv[2], pc(0.50), pc(0.99)))
PY
}

# bench_grpc_status PORT PATH REQFILE [HEADER...]: the grpc-status of one
# call (h2load counts HTTP 200 as success even for a gRPC error).
bench_grpc_status() {
  local p=$1 path=$2 req=$3; shift 3
  local hdrs=()
  for h in "$@"; do hdrs+=(-H "$h"); done
  curl -s --http2-prior-knowledge -o /dev/null -D - -X POST -H 'content-type: application/grpc' \
    -H 'te: trailers' "${hdrs[@]}" --data-binary @"$req" "http://127.0.0.1:$p$path" |
    tr -d '\r' | awk -F': ' 'tolower($1) == "grpc-status" {print $2}' | tail -1
}

bench_stop() {
  [ -n "${srv2_pid:-}" ] && kill -TERM "$srv2_pid" 2>/dev/null && wait "$srv2_pid" 2>/dev/null || true
  [ -n "${srv_pid:-}" ] && kill -TERM "$srv_pid" 2>/dev/null && wait "$srv_pid" 2>/dev/null || true
  [ -n "${work:-}" ] && "$here/../tests/support/pg-cluster.sh" stop "$work/pg" || true
}

bench_psql() {
  runuser -u postgres -- psql -h "$pghost" -U postgres -d bench -v ON_ERROR_STOP=1 -q "$@"
}

# bench_capture_sql PATH REQFILE OUT [HEADER...]: run the call once with
# log_statement=all and keep the statements it sent on its own database
# connection (pglog2sql.py: the request's backend pid, up to the moment
# the answer was back), with parameters inlined, as a pgbench script.
bench_capture_sql() {
  local path=$1 req=$2 out=$3; shift 3
  local log="$work/pg/postgresql.log" hdrs=()
  for h in "$@"; do hdrs+=(-H "$h"); done
  bench_psql -c "ALTER SYSTEM SET log_statement = 'all'" -c "ALTER SYSTEM SET log_timezone = 'UTC'" \
    -c "ALTER SYSTEM SET log_line_prefix = '%m [%p] '" -c "SELECT pg_reload_conf()" >/dev/null
  sleep 0.5
  local before; before=$(wc -l < "$log")
  h2load -n 1 -c 1 -H 'content-type: application/grpc' -H 'te: trailers' "${hdrs[@]}" -d "$req" \
    "http://127.0.0.1:${PORT_OVERRIDE:-$port}$path" >/dev/null
  local until; until=$(date -u '+%Y-%m-%d %H:%M:%S.%3N')
  sleep 0.5
  bench_psql -c "ALTER SYSTEM RESET log_statement" -c "SELECT pg_reload_conf()" >/dev/null
  tail -n +"$((before + 1))" "$log" | /usr/bin/python3 "$here/pglog2sql.py" --until "$until" > "$out"
}

# bench_pgbench SCRIPT CONNECTIONS SECONDS [simple|prepared]: pgbench on the
# script; -M prepared (parse and plan once per connection) is the stricter
# reference for a server that prepares its statements.
bench_pgbench() {
  cp "$1" "$work/pgbench.sql"
  chmod 644 "$work/pgbench.sql"
  runuser -u postgres -- pgbench -n -h "$pghost" -U postgres -c "$2" -j 2 -T "$3" -M "${4:-simple}" \
    -f "$work/pgbench.sql" bench
}
