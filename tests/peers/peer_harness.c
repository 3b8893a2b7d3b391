/*
 * peer_harness.c — fork/exec a python3 peer from tests/peers and read its
 * "READY <port>" line (see peer_harness.h for the contract).
 */
#include "peer_harness.h"

#include <check.h>
#include <errno.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "tmpdir.h"

#ifndef PEERS_DIR
#error "PEERS_DIR must name tests/peers in the source tree"
#endif

void bill_peer_start(bill_peer *p, const char *script, const char *const *args)
{
    int fds[2];
    char path[512], line[128] = "";
    size_t used = 0;
    const char *argv[32];
    int n = 0;
    pid_t parent = getpid();

    memset(p, 0, sizeof *p);
    snprintf(p->dir, sizeof p->dir, "/tmp/bill-peer-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(p->dir));
    snprintf(path, sizeof path, "%s/%s", PEERS_DIR, script);
    argv[n++] = "/usr/bin/python3";
    argv[n++] = path;
    argv[n++] = "--dir";
    argv[n++] = p->dir;
    for (size_t i = 0; args && args[i] && n < 31; i++)
        argv[n++] = args[i];
    argv[n] = NULL;

    ck_assert_int_eq(pipe(fds), 0);
    p->pid = fork();
    ck_assert_int_ge(p->pid, 0);
    if (p->pid == 0) {
        /* Die with the test process, whatever way it ends. */
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent)
            _exit(1);
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    close(fds[1]);
    /* Read until the READY line, at most 15 s. */
    while (!strchr(line, '\n')) {
        struct pollfd pf = {.fd = fds[0], .events = POLLIN};
        ssize_t r;
        if (poll(&pf, 1, 15000) <= 0)
            break;
        r = read(fds[0], line + used, sizeof line - 1 - used);
        if (r <= 0)
            break;
        used += (size_t)r;
        line[used] = '\0';
        if (used >= sizeof line - 1)
            break;
    }
    close(fds[0]);
    if (sscanf(line, "READY %d", &p->port) != 1 || p->port <= 0) {
        bill_peer_stop(p);
        ck_abort_msg("peer %s did not start (said \"%s\")", script, line);
    }
}

void bill_peer_stop(bill_peer *p)
{
    if (p->pid > 0) {
        kill(p->pid, SIGTERM);
        waitpid(p->pid, NULL, 0);
        p->pid = 0;
    }
    if (p->dir[0] && !getenv("BILL_TEST_KEEP_PEER_DIR"))
        bill_test_rm_tree(p->dir);
    p->dir[0] = '\0';
}

char *bill_peer_slurp(const char *path, size_t *len)
{
    FILE *f = fopen(path, "rb");
    char *buf = NULL;
    size_t cap = 0, n = 0, r;
    if (!f)
        return NULL;
    do {
        if (n + 4096 + 1 > cap) {
            char *nb = realloc(buf, cap = cap * 2 + 8192);
            if (!nb) {
                free(buf);
                fclose(f);
                return NULL;
            }
            buf = nb;
        }
        r = fread(buf + n, 1, 4096, f);
        n += r;
    } while (r > 0);
    fclose(f);
    buf[n] = '\0';
    if (len)
        *len = n;
    return buf;
}

char *bill_peer_read(const bill_peer *p, const char *name)
{
    char path[600];
    snprintf(path, sizeof path, "%s/%s", p->dir, name);
    return bill_peer_slurp(path, NULL);
}

char *bill_peer_wait_file(const bill_peer *p, const char *name, int timeout_ms)
{
    for (int waited = 0;; waited += 20) {
        char *s = bill_peer_read(p, name);
        if (s || waited >= timeout_ms)
            return s;
        struct timespec ts = {0, 20 * 1000 * 1000};
        nanosleep(&ts, NULL);
    }
}

void bill_peer_start_incus(bill_peer *p, char certs[64])
{
    char cmd[512], cert[128], key[128], ca[128];
    snprintf(certs, 64, "/tmp/bill-incus-pki-XXXXXX");
    ck_assert_ptr_nonnull(mkdtemp(certs));
    snprintf(cmd, sizeof cmd, "sh %s/make_certs.sh %s", PEERS_DIR, certs);
    ck_assert_int_eq(system(cmd), 0);
    snprintf(cert, sizeof cert, "%s/server.pem", certs);
    snprintf(key, sizeof key, "%s/server.key", certs);
    snprintf(ca, sizeof ca, "%s/ca.pem", certs);
    const char *args[] = {"--cert", cert, "--key", key, "--ca", ca, NULL};
    bill_peer_start(p, "incus_server.py", args);
}

void bill_peer_stop_incus(bill_peer *p, const char *certs)
{
    bill_peer_stop(p);
    if (certs[0])
        ck_assert_int_eq(bill_test_rm_tree(certs), 0);
}
