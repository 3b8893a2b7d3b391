#!/bin/sh
# make_certs.sh DIR — a throwaway PKI for the mTLS tests, made with the
# openssl CLI: ca.pem (+key), server.pem/server.key for 127.0.0.1,
# client.pem/client.key signed by the CA, and rogue.pem/rogue.key signed by
# a different CA (a client certificate the peer must refuse).
set -eu
d="$1"
cd "$d"
q() { "$@" >/dev/null 2>&1; }
q openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 -subj "/CN=bill-test-ca"
q openssl req -x509 -newkey rsa:2048 -nodes -keyout rogueca.key -out rogueca.pem -days 2 -subj "/CN=rogue-ca"
printf 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n' > server.ext
printf 'extendedKeyUsage=clientAuth\n' > client.ext
q openssl req -newkey rsa:2048 -nodes -keyout server.key -out server.csr -subj "/CN=127.0.0.1"
q openssl x509 -req -in server.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out server.pem -days 2 -extfile server.ext
q openssl req -newkey rsa:2048 -nodes -keyout client.key -out client.csr -subj "/CN=libbill-client"
q openssl x509 -req -in client.csr -CA ca.pem -CAkey ca.key -CAcreateserial -out client.pem -days 2 -extfile client.ext
q openssl req -newkey rsa:2048 -nodes -keyout rogue.key -out rogue.csr -subj "/CN=rogue-client"
q openssl x509 -req -in rogue.csr -CA rogueca.pem -CAkey rogueca.key -CAcreateserial -out rogue.pem -days 2 -extfile client.ext
test -s server.pem && test -s client.pem && test -s rogue.pem
