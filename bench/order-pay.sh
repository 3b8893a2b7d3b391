#!/usr/bin/env bash
# order-pay.sh — CreateOrder + PayOrder (from balance) through bill-server,
# beside pgbench running the SAME statements the server sends for one pair
# (captured from PostgreSQL's statement log, ids replaced by fresh
# gen_random_uuid() values) with the SAME number of database connections.
# Target (issue 13 goal 4): server pairs/s >= 0.9 x pgbench transactions/s;
# pgbench runs the script with -M simple and -M prepared (the stricter one).
#
#   bench/order-pay.sh BUILD_DIR [SECONDS] [DB_CONNECTIONS] [CONCURRENCY]
#
# CreateOrder alone is also loaded with h2load (one fixed request). The pair
# is driven by bench/order-pay.py (grpc.aio) because PayOrder needs the id
# that CreateOrder returned, which h2load cannot chain.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [SECONDS] [DB_CONNECTIONS] [CONCURRENCY]}" && pwd)
secs=${2:-20}
conns=${3:-10}
conc=${4:-20}
source "$here/lib-bench.sh"
bench_start op "$conns"
trap bench_stop EXIT
echo "== load before: $(cut -d' ' -f1-3 /proc/loadavg)"

bench_psql <<'SQL' >/dev/null
INSERT INTO product_categories (name) VALUES ('bench');
INSERT INTO product_groups (name, category_id) SELECT 'bench', id FROM product_categories;
INSERT INTO products (group_id, category_id, name, price) SELECT id, category_id, 'bench plan', 1.00 FROM product_groups;
INSERT INTO product_prices (product_id, cycle, price) SELECT id, 'monthly', 1.00 FROM products;
SQL
pid=$(bench_psql -tAc "SELECT id FROM products LIMIT 1")

# A customer with money, logged in through the API.
token=$(/usr/bin/python3 - "$port" <<'PY'
import sys, grpc
ch = grpc.insecure_channel('127.0.0.1:%s' % sys.argv[1])
f = lambda m: ch.unary_unary('/rustbill.identity.IdentityService/' + m)
ld = lambda n, s: bytes([(n << 3) | 2, len(s)]) + s.encode()
f('Register')(ld(1, 'bencher') + ld(2, 'b@example.com') + ld(4, 'Bench-Pass-1'))
raw = f('Login')(ld(1, 'bencher') + ld(2, 'Bench-Pass-1'))
n = raw[1] if raw[1] < 128 else (raw[1] & 0x7f) | (raw[2] << 7)
off = 2 if raw[1] < 128 else 3
print(raw[off:off + n].decode())
PY
)
cust=$(bench_psql -tAc "SELECT customer_id FROM customer_users WHERE username = 'bencher'")
"$build/bill-cli/bill-cli" --config "$work/config.toml" -q customer balance add "$cust" 9000000000.00 >/dev/null

# One pair with the statement log on -> pgbench script.
printf '\x00\x00\x00\x00\x26\x12\x24%s' "$pid" > "$work/create.req"
bench_capture_sql /rustbill.order.OrderService/CreateOrder "$work/create.req" "$work/create.sql" \
  "authorization: Bearer $token"
oid=$(bench_psql -tAc "SELECT id FROM orders ORDER BY created_at DESC LIMIT 1")
/usr/bin/python3 -c "import sys; m=b'\x0a\x24'+sys.argv[1].encode()+b'\x12\x07balance'; sys.stdout.buffer.write(b'\x00'+len(m).to_bytes(4,'big')+m)" "$oid" > "$work/pay.req"
bench_capture_sql /rustbill.order.OrderService/PayOrder "$work/pay.req" "$work/pay.sql" \
  "authorization: Bearer $token"
# paid, or already activated by the server's workers (a product without a
# provider runs at once)
case "$(bench_psql -tAc "SELECT status FROM orders WHERE id = '$oid'")" in
  paid|provisioning|active) ;;
  *) echo "capture pay failed"; exit 1 ;;
esac
/usr/bin/python3 "$here/pair2pgbench.py" "$work/create.sql" "$work/pay.sql" > "$work/pair.sql"
/usr/bin/python3 "$here/pair2pgbench.py" --prepared "$work/create.sql" "$work/pay.sql" > "$work/pair-prepared.sql"
echo "== SQL per CreateOrder+PayOrder pair (pgbench script):"; cat "$work/pair.sql"

echo "== h2load: CreateOrder alone, $conns connections x 4 streams, ${secs}s"
h2load -D "$secs" -c "$conns" -m 4 -t 2 -H 'content-type: application/grpc' -H 'te: trailers' \
  -H "authorization: Bearer $token" -d "$work/create.req" \
  "http://127.0.0.1:$port/rustbill.order.OrderService/CreateOrder" | tee "$work/h2load.out" |
  grep -E 'finished in|requests:|status codes'

echo "== order-pay.py: CreateOrder+PayOrder pairs, $conc in flight, ${secs}s"
out=$(/usr/bin/python3 "$here/order-pay.py" "$port" "$token" "$pid" "$secs" "$conc")
echo "$out"
srv=$(echo "$out" | sed -n 's/.*pairs_per_sec=\([0-9.]*\).*/\1/p')

echo "== pgbench: the same statements, $conns connections, ${secs}s, -M simple and -M prepared"
bench_pgbench "$work/pair.sql" "$conns" "$secs" simple | tee "$work/pgbench.out" | grep -E '^tps|latency average|failed|error|aborted'
pg=$(awk '/^tps/ {print $3; exit}' "$work/pgbench.out")
bench_pgbench "$work/pair-prepared.sql" "$conns" "$secs" prepared | tee "$work/pgbench.out" | grep -E '^tps|latency average|failed|error|aborted'
pgp=$(awk '/^tps/ {print $3; exit}' "$work/pgbench.out")
ratio=$(awk -v a="$srv" -v b="$pg" 'BEGIN {printf "%.2f", a / b}')
ratiop=$(awk -v a="$srv" -v b="$pgp" 'BEGIN {printf "%.2f", a / b}')
echo "RESULT order-pay server=${srv} pairs/s pgbench simple=${pg} tps (x${ratio}) prepared=${pgp} tps (x${ratiop}) (target >= 0.9) load=$(cut -d' ' -f1 /proc/loadavg)"
echo "== load after: $(cut -d' ' -f1-3 /proc/loadavg)"
