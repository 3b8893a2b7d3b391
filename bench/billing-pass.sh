#!/usr/bin/env bash
# billing-pass.sh — one full billing pass over a generated book (docs/billing.md §6).
#
#   bench/billing-pass.sh [N ...]        default: 100000 1000000 instances
#
# For each N: a throwaway PostgreSQL cluster, the schema (bill-cli db migrate),
# then with SQL only: N/5 customers with 5 monthly instances each, anchors
# spread over the 28 days of February so that a quarter of the book is due
# within the 7-day lead time, 85 % of the customers able to pay their renewals
# from the balance, and 2 % of the instances already carrying a renewal 4 days
# overdue (to be suspended). Then one pass with `bill-cli --now … --json
# billing run --counts-only` (the engine's pass, as bill-server runs it: no
# per-invoice lists for a client to print), timed, with the statements it ran. As a reference in the same run,
# the floor: the same invoices, lines and notify events written by three plain
# INSERT … SELECT statements (rolled back) — what the rows alone cost.
#
# Run it on a quiet machine; it prints one Markdown table row per N for
# bench/RESULTS.md.
#
# BILL_BENCH_PROFILE=1: the cluster loads pg_stat_statements and logs every
# statement over BILL_BENCH_SLOW_MS (50) ms with its plan (auto_explain: EXPLAIN ANALYZE, BUFFERS,
# trigger times); after each pass the 15 statements with the most time
# (calls, total, mean, rows) go to stderr; the log is kept (its path is
# printed). Profiling slows the pass: its times are not the benchmark's.
#
# BUILD_DIR=DIR: use DIR/bill-cli/bill-cli (say an older commit's build, for a
# side-by-side in one sitting). BILL_BENCH_PASS_ARGS: extra `billing run`
# arguments, e.g. "--workers 1".
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=${BUILD_DIR:-$here/../build}
cli=$build/bill-cli/bill-cli
[ -x "$cli" ] || { echo "billing-pass.sh: build first (ninja -C build)" >&2; exit 1; }
read -r -a pass_args <<< "${BILL_BENCH_PASS_ARGS:-}"
sizes=("$@")
[ ${#sizes[@]} -gt 0 ] || sizes=(100000 1000000)

# Sized like a production server, not like the test harness's many small
# clusters (64 MB): the 1M book (~1.5 GB with its indexes) fits in shared
# buffers, and no checkpoint lands inside the timed pass. Override with
# BILL_PG_SERVER_OPTS.
export BILL_PG_SERVER_OPTS=${BILL_PG_SERVER_OPTS:--c shared_buffers=2GB -c max_wal_size=16GB -c checkpoint_timeout=30min}
work=$(mktemp -d /tmp/bill-bench-billing.XXXXXX)
chmod 755 "$work"
cleanup() { "$here/../tests/support/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true; rm -rf "$work"; }
trap cleanup EXIT
eval "$("$here/../tests/support/pg-cluster.sh" start "$work/pg")"
pghost=$BILL_TEST_PG_HOST
profile=${BILL_BENCH_PROFILE:-0}
psql_pg() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- psql -h "$pghost" -U postgres "$@"; else psql -h "$pghost" -U postgres "$@"; fi; }

if [ "$profile" = 1 ]; then
  # shared_preload_libraries is read at start: set it, then restart the cluster
  psql_pg -qc "ALTER SYSTEM SET shared_preload_libraries = pg_stat_statements, auto_explain" postgres
  psql_pg -qc "ALTER SYSTEM SET log_min_duration_statement = ${BILL_BENCH_SLOW_MS:-50}" postgres
  "$here/../tests/support/pg-cluster.sh" halt "$work/pg" >/dev/null
  eval "$("$here/../tests/support/pg-cluster.sh" start "$work/pg")"
  for kv in "log_min_duration = ${BILL_BENCH_SLOW_MS:-50}" "log_analyze = on" "log_buffers = on" "log_triggers = on" \
            "log_nested_statements = on"; do
    psql_pg -qc "ALTER SYSTEM SET auto_explain.$kv" postgres
  done
  psql_pg -qAtc "SELECT pg_reload_conf()" postgres >/dev/null
  cleanup() { "$here/../tests/support/pg-cluster.sh" halt "$work/pg" >/dev/null 2>&1 || true
              cp "$work/pg/postgresql.log" "/tmp/bill-bench-billing-$$.log" 2>/dev/null || true
              echo "slow-statement log: /tmp/bill-bench-billing-$$.log" >&2
              "$here/../tests/support/pg-cluster.sh" stop "$work/pg" >/dev/null 2>&1 || true
              rm -rf "$work"; }
fi
now="2027-02-22T00:00:00Z"   # lead cut 2027-03-01: anchors Jan 22..Jan 29 (+1 month) are due
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.0f GiB", $2/1048576}' /proc/meminfo), $(uname -sr), PostgreSQL $(psql_pg -tAc 'SHOW server_version' postgres)"
echo "server: $BILL_PG_SERVER_OPTS"
echo "bill-cli: $cli $(git -C "$(dirname "$cli")" rev-parse --short HEAD 2>/dev/null || true) ${BILL_BENCH_PASS_ARGS:-}"
echo "load before: $(cut -d' ' -f1-3 /proc/loadavg)"
echo
echo "| instances | pass (s) | statements | statements / instance | issued | auto-paid | short | suspended | floor: plain INSERTs (s) |"
echo "|---|---|---|---|---|---|---|---|---|"
for n in "${sizes[@]}"; do
  db="bench_$n"
  psql_pg -qc "DROP DATABASE IF EXISTS $db" postgres >/dev/null
  psql_pg -qc "CREATE DATABASE $db" postgres
  url="postgresql://postgres@/$db?host=$pghost"
  "$cli" -q --database-url "$url" db migrate >/dev/null
  psql_pg -q -v ON_ERROR_STOP=1 -v n="$n" "$db" <<'SQL'
SET synchronous_commit = off;
INSERT INTO products (id, name, price) VALUES ('00000000-0000-0000-0000-0000000000b1', 'Bench VPS', 10.00);
INSERT INTO product_prices (product_id, cycle, price) VALUES ('00000000-0000-0000-0000-0000000000b1', 'monthly', 10.00);
-- customers: 85 % with 100.00, 15 % with 5.00 (short)
INSERT INTO customers (id, name, balance, created_at)
SELECT ('00000000-0000-0000-0001-' || lpad(to_hex(c), 12, '0'))::uuid, 'bench ' || c,
       CASE WHEN c % 20 < 17 THEN 100.00 ELSE 5.00 END,
       '2026-12-01T00:00:00Z'::timestamptz + c * interval '1 millisecond'
  FROM generate_series(1, (:n / 5)) AS c;
-- instances: 5 per customer, anchors spread over 28 days
INSERT INTO instances (id, customer_id, product_id, status, billing_cycle, anchor_date,
                       current_period_start, next_due_date, created_at)
SELECT ('00000000-0000-0000-0002-' || lpad(to_hex(i), 12, '0'))::uuid,
       ('00000000-0000-0000-0001-' || lpad(to_hex((i - 1) / 5 + 1), 12, '0'))::uuid,
       '00000000-0000-0000-0000-0000000000b1', 'running', 'monthly',
       a, a, (a + interval '1 month')::date,
       '2026-12-15T00:00:00Z'::timestamptz + i * interval '1 millisecond'
  FROM generate_series(1, :n) AS i,
       LATERAL (SELECT CASE WHEN (i::bigint * 7919) % 50 = 3 THEN '2027-01-18'::date
                            ELSE '2027-01-22'::date + ((i::bigint * 7919) % 28)::int END) AS x(a);
-- 2 %: the February renewal was issued and is 4 days overdue
INSERT INTO invoices (customer_id, invoice_number, instance_id, billing_period_start,
                      billing_period_end, amount, total_amount, status, issued_at, due_date,
                      kind, product_id, billing_cycle)
SELECT customer_id, 'INV-2027-' || to_char(row_number() OVER (ORDER BY id), 'FM000000'), id,
       next_due_date, (next_due_date + interval '1 month')::date, 10.00, 10.00, 'overdue',
       '2027-02-10T00:00:00Z', next_due_date, 'renewal', product_id, 'monthly'
  FROM instances WHERE next_due_date = '2027-02-18';
INSERT INTO invoice_number_counters (year, last_value)
SELECT 2027, count(*) FROM invoices;
ANALYZE;
SQL
  due=$(psql_pg -tAc "SELECT count(*) FROM instances WHERE next_due_date <= '2027-03-01'" "$db")
  # the floor, before the pass (after it nothing is left to bill): the same
  # rows with plain INSERT ... SELECT, rolled back
  fstart=$(date +%s.%N)
  psql_pg -q -v ON_ERROR_STOP=1 "$db" <<'SQL' >/dev/null
BEGIN;
CREATE TEMP TABLE due AS SELECT i.id, i.customer_id, i.next_due_date FROM instances i
 WHERE i.status = 'running' AND i.next_due_date <= '2027-03-01'
   AND NOT EXISTS (SELECT 1 FROM invoices v WHERE v.instance_id = i.id);
WITH v AS (INSERT INTO invoices (customer_id, invoice_number, instance_id, billing_period_start,
           billing_period_end, amount, total_amount, status, issued_at, due_date, kind)
           SELECT customer_id, 'F-' || id, id, next_due_date, (next_due_date + interval '1 month')::date,
                  10.00, 10.00, 'issued', now(), next_due_date, 'renewal' FROM due
           RETURNING id, customer_id)
INSERT INTO invoice_items (invoice_id, customer_id, description, unit_price, amount)
SELECT id, customer_id, 'renewal', 10.00, 10.00 FROM v;
INSERT INTO events (kind, payload) SELECT 'notify', jsonb_build_object('customer_id', customer_id) FROM due;
ROLLBACK;
SQL
  fend=$(date +%s.%N)
  floor=$(echo "$fend - $fstart" | bc)
  # its rolled-back rows are dead tuples the pass should not have to step over
  psql_pg -qc "VACUUM ANALYZE invoices, invoice_items, events" "$db"
  [ "$profile" != 1 ] || psql_pg -qc "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset()" "$db" >/dev/null
  start=$(date +%s.%N)
  out=$("$cli" -q --now "$now" --database-url "$url" --json billing run --counts-only ${pass_args[@]+"${pass_args[@]}"})
  end=$(date +%s.%N)
  pass=$(echo "$end - $start" | bc)
  read -r stmts issued paid short susp < <(echo "$out" | /usr/bin/python3 -c '
import json, sys
d = json.load(sys.stdin)["counts"]
print(d["statements"], d["issued"], d["paid"], d["payment_failed"], d["suspended"])')
  if [ "$profile" = 1 ]; then
    psql_pg -P pager=off -c "SELECT calls, round(total_exec_time::numeric / 1000, 2) AS total_s,
        round(mean_exec_time::numeric, 2) AS mean_ms, rows,
        regexp_replace(left(query, 160), '\s+', ' ', 'g') AS query
      FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
      ORDER BY total_exec_time DESC LIMIT 15" "$db" >&2
  fi
  per=$(echo "scale=4; $stmts / $n" | bc)
  printf '| %s | %.1f | %s | %s | %s | %s | %s | %s | %.1f |\n' "$n" "$pass" "$stmts" "$per" \
    "$issued" "$paid" "$short" "$susp" "$floor"
  echo "  (due within the lead time: $due)" >&2
  psql_pg -qc "DROP DATABASE $db" postgres
done
echo
echo "load after: $(cut -d' ' -f1-3 /proc/loadavg)"
