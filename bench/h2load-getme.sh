#!/usr/bin/env bash
# h2load-getme.sh — unary IdentityService/GetMe with a customer JWT against a
# running bill-server: the authenticated path (JWT layer on a worker thread,
# one indexed SELECT for the user, response back through the loop).
#
#   bench/h2load-getme.sh [HOST:PORT] [REQUESTS] [CONNECTIONS] [STREAMS]
#
# Registers a throw-away customer first (bench/customer-token.py; needs
# python3-grpcio and [rate_limit] register_per_sec >= 1). Needs h2load.
set -euo pipefail
target=${1:-127.0.0.1:50051}
n=${2:-200000}
c=${3:-100}
m=${4:-10}
here=$(cd "$(dirname "$0")" && pwd)
token=$(/usr/bin/python3 "$here/customer-token.py" "$target")
req=$(mktemp)
trap 'rm -f "$req"' EXIT
printf '\x00\x00\x00\x00\x00' > "$req"   # GetMeRequest{} in a gRPC frame
h2load -n "$n" -c "$c" -m "$m" -t "$(nproc)" \
  -H 'content-type: application/grpc' -H 'te: trailers' \
  -H "authorization: Bearer $token" \
  -d "$req" "http://$target/rustbill.identity.IdentityService/GetMe"
