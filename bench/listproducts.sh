#!/usr/bin/env bash
# listproducts.sh — ListProducts (page 1 of 20 out of 10,000 active products)
# through bill-server with h2load, beside pgbench running the SAME SQL the
# server sends (captured from PostgreSQL's statement log) with the SAME
# number of database connections. Target: server >= 0.8 x pgbench.
#
#   bench/listproducts.sh BUILD_DIR [SECONDS] [DB_CONNECTIONS]
#
# Starts a throwaway PostgreSQL cluster (tests/support/pg-cluster.sh) and a
# bill-server on it, seeds the catalog with SQL, runs both loads, prints
# req/s and the ratio, stops everything. Needs h2load (nghttp2-client) and
# pgbench (postgresql-contrib / postgresql-15). Run as root or as a user that
# may run PostgreSQL. Leaves nothing behind but /tmp/bill-bench-lp.* logs.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [SECONDS] [DB_CONNECTIONS]}" && pwd)
secs=${2:-20}
conns=${3:-10}
source "$here/lib-bench.sh"
bench_start lp "$conns"
trap bench_stop EXIT

# 10,000 active products in one group, each with a monthly price.
bench_psql <<'SQL' >/dev/null
INSERT INTO product_categories (name) VALUES ('bench');
INSERT INTO product_groups (name, category_id) SELECT 'bench', id FROM product_categories;
INSERT INTO products (group_id, category_id, name, description, specs, price, created_at)
SELECT g.id, g.category_id, 'bench product ' || n, 'a product for the benchmark',
       jsonb_build_object('cpu_cores', 2, 'region', 'hk'), 10.00,
       now() - (n || ' seconds')::interval
FROM product_groups g, generate_series(1, 10000) n;
INSERT INTO product_prices (product_id, cycle, price) SELECT id, 'monthly', 10.00 FROM products;
ANALYZE;
SQL

# ListProductsRequest { pagination { page: 1, page_size: 20 } } in a gRPC frame.
printf '\x00\x00\x00\x00\x06\x0a\x04\x08\x01\x10\x14' > "$work/req"
bench_capture_sql "/rustbill.product.ProductService/ListProducts" "$work/req" "$work/lp.sql"
echo "== SQL per ListProducts call (from the statement log):"; cat "$work/lp.sql"

echo "== h2load: ListProducts, $conns connections x 4 streams, ${secs}s"
h2load -D "$secs" -c "$conns" -m 4 -t 2 -H 'content-type: application/grpc' -H 'te: trailers' \
  -d "$work/req" "http://127.0.0.1:$port/rustbill.product.ProductService/ListProducts" | tee "$work/h2load.out" |
  grep -E 'finished in|requests:|status codes|time for request'
srv=$(awk '/finished in/ {print $4}' "$work/h2load.out")

echo "== pgbench: the same statements, $conns connections, ${secs}s"
bench_pgbench "$work/lp.sql" "$conns" "$secs" | tee "$work/pgbench.out" | grep -E '^tps|latency average'
pg=$(awk '/^tps/ {print $3; exit}' "$work/pgbench.out")
ratio=$(awk -v a="$srv" -v b="$pg" 'BEGIN {printf "%.2f", a / b}')
echo "RESULT listproducts server=${srv} req/s pgbench=${pg} tps ratio=${ratio} (target >= 0.80)"
