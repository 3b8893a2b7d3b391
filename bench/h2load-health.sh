#!/usr/bin/env bash
# h2load-health.sh — unary gRPC Health/Check load against a running bill-server.
#
#   bench/h2load-health.sh [HOST:PORT] [REQUESTS]
#
# 100 connections x 10 concurrent streams (h2c prior knowledge), one empty
# HealthCheckRequest per call. Health/Check is answered on the loop thread
# from the DB monitor's cached status, so this measures the transport
# (HTTP/2 + gRPC framing), not PostgreSQL. Needs h2load (Debian nghttp2-client).
set -euo pipefail
target=${1:-127.0.0.1:50051}
n=${2:-500000}
req=$(mktemp)
trap 'rm -f "$req"' EXIT
printf '\x00\x00\x00\x00\x00' > "$req"   # gRPC frame: uncompressed, length 0
h2load -n "$n" -c 100 -m 10 -t "$(nproc)" \
  -H 'content-type: application/grpc' -H 'te: trailers' \
  -d "$req" "http://$target/grpc.health.v1.Health/Check"
