/*
 * peer_harness.h — start a real python3 test peer (fake webhook receiver,
 * SMTP server, Yipay platform, Incus API...) on loopback for a plugin test.
 *
 * Contract with every script in tests/peers/: it binds 127.0.0.1 port 0,
 * then prints exactly "READY <port>\n" on stdout and flushes. Everything it
 * wants the test to check it writes into the directory given with --dir.
 * The peer gets SIGTERM when the test process dies (PR_SET_PDEATHSIG), so
 * a failed assertion never leaves a server behind.
 */
#ifndef BILL_TEST_PEER_HARNESS_H
#define BILL_TEST_PEER_HARNESS_H

#include <stddef.h>
#include <sys/types.h>

typedef struct bill_peer {
    pid_t pid;
    int port;
    char dir[256];  /* scratch dir passed as --dir (created by the harness) */
} bill_peer;

/* Run /usr/bin/python3 PEERS_DIR/<script> --dir <tmpdir> <args...> (args is
 * NULL-terminated, may be NULL) and wait up to 15 s for its READY line.
 * Aborts the test (ck_abort) when the peer does not come up. */
void bill_peer_start(bill_peer *p, const char *script, const char *const *args);
/* SIGTERM, wait, remove the scratch dir. Safe to call twice. */
void bill_peer_stop(bill_peer *p);
/* The fake Incus API (incus_server.py) over TLS, with a fresh PKI from
 * make_certs.sh in `certs` (a new temporary directory, its name written
 * there): server.pem/.key, client.pem/.key, ca.pem. bill_peer_stop_incus
 * stops the peer and removes the PKI. */
void bill_peer_start_incus(bill_peer *p, char certs[64]);
void bill_peer_stop_incus(bill_peer *p, const char *certs);
/* Contents of <dir>/<name> (malloc'd, NUL-terminated) or NULL if missing. */
char *bill_peer_read(const bill_peer *p, const char *name);
/* Poll for <dir>/<name> to exist for up to timeout_ms; returns its text or NULL. */
char *bill_peer_wait_file(const bill_peer *p, const char *name, int timeout_ms);
/* Any file: contents (malloc'd) or NULL. */
char *bill_peer_slurp(const char *path, size_t *len);

#endif
