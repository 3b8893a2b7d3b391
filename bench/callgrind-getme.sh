#!/usr/bin/env bash
# callgrind-getme.sh — instruction profile of bill-server answering
# IdentityService/GetMe (customer JWT) and anonymous ListProducts: runs the
# server under valgrind --tool=callgrind (instruction counts do not depend on
# the machine's load), sends N calls of each, prints callgrind_annotate's top.
#
#   bench/callgrind-getme.sh BUILD_DIR [CALLS]
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
build=$(cd "${1:?usage: $0 BUILD_DIR [CALLS]}" && pwd)
n=${2:-2000}
source "$here/lib-bench.sh"
out=$(mktemp /tmp/bill-callgrind.XXXXXX)
BENCH_WRAP="valgrind --tool=callgrind --callgrind-out-file=$out --dump-instr=no" bench_start cg 4
trap bench_stop EXIT
token=$(/usr/bin/python3 "$here/customer-token.py" "127.0.0.1:$port")
printf '\x00\x00\x00\x00\x00' > "$work/getme"
printf '\x00\x00\x00\x00\x06\x0a\x04\x08\x01\x10\x14' > "$work/lp"
valgrind_zero() { command -v callgrind_control >/dev/null && callgrind_control -z "$srv_pid" >/dev/null 2>&1 || true; }
valgrind_zero
h2load -n "$n" -c 4 -m 4 -t 1 -H 'content-type: application/grpc' -H 'te: trailers' \
  -H "authorization: Bearer $token" -d "$work/getme" \
  "http://127.0.0.1:$port/rustbill.identity.IdentityService/GetMe" | grep -E 'requests:|status codes'
h2load -n "$n" -c 4 -m 4 -t 1 -H 'content-type: application/grpc' -H 'te: trailers' \
  -d "$work/lp" "http://127.0.0.1:$port/rustbill.product.ProductService/ListProducts" | grep -E 'requests:|status codes'
bench_stop
trap - EXIT
callgrind_annotate --inclusive=yes "$out" | sed -n 1,80p
echo "profile: $out"
