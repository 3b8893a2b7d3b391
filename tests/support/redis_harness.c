/*
 * redis_harness.c — see redis_harness.h. redis-server runs in the
 * foreground as our child (so a crashed test leaves no daemon: it dies
 * with SIGKILL from stop, and `--daemonize no` keeps it ours).
 */
#include "redis_harness.h"

#include <hiredis/hiredis.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#ifndef REDIS_SERVER_BIN
#define REDIS_SERVER_BIN "/usr/bin/redis-server"
#endif

static int answers(const char *sock)
{
    struct timeval tv = {.tv_sec = 1};
    redisContext *c = redisConnectUnixWithTimeout(sock, tv);
    int ok = 0;
    if (c && !c->err) {
        redisReply *rep = redisCommand(c, "PING");
        ok = rep && rep->type == REDIS_REPLY_STATUS;
        if (rep)
            freeReplyObject(rep);
    }
    if (c)
        redisFree(c);
    return ok;
}

static int spawn(bill_test_redis *r)
{
    char log[200];
    snprintf(log, sizeof log, "%s/redis.log", r->dir);
    pid_t pid = fork();
    if (pid < 0) {
        perror("fork");
        return -1;
    }
    if (pid == 0) {
        prctl(PR_SET_PDEATHSIG, SIGKILL); /* never outlive the test */
        execl(REDIS_SERVER_BIN, "redis-server", "--port", "0", "--unixsocket", r->sock,
              "--unixsocketperm", "700", "--daemonize", "no", "--save", "", "--appendonly", "no",
              "--dir", r->dir, "--logfile", log, "--databases", "2", (char *)NULL);
        _exit(127);
    }
    r->pid = pid;
    for (int i = 0; i < 200; i++) {
        if (answers(r->sock))
            return 0;
        int st;
        if (waitpid(pid, &st, WNOHANG) == pid) {
            r->pid = 0;
            fprintf(stderr, "redis-server exited at start (see %s)\n", log);
            return -1;
        }
        struct timespec ts = {0, 50 * 1000000L};
        nanosleep(&ts, NULL);
    }
    fprintf(stderr, "redis-server did not answer within 10 s (see %s)\n", log);
    bill_test_redis_kill(r);
    return -1;
}

int bill_test_redis_start(bill_test_redis *r)
{
    memset(r, 0, sizeof *r);
    snprintf(r->dir, sizeof r->dir, "/tmp/bill-redis-XXXXXX");
    if (!mkdtemp(r->dir)) {
        perror("mkdtemp");
        return -1;
    }
    snprintf(r->sock, sizeof r->sock, "%s/redis.sock", r->dir);
    snprintf(r->url, sizeof r->url, "unix://%s", r->sock);
    return spawn(r);
}

int bill_test_redis_restart(bill_test_redis *r)
{
    if (r->pid > 0)
        return 0;
    return spawn(r);
}

void bill_test_redis_kill(bill_test_redis *r)
{
    if (r->pid <= 0)
        return;
    kill(r->pid, SIGKILL);
    waitpid(r->pid, NULL, 0);
    r->pid = 0;
    unlink(r->sock);
}

void bill_test_redis_stop(bill_test_redis *r)
{
    char path[200];
    bill_test_redis_kill(r);
    if (!r->dir[0])
        return;
    /* also what a server started by someone else on this socket left (the
     * e2e client restarts one) */
    unlink(r->sock);
    snprintf(path, sizeof path, "%s/redis.log", r->dir);
    unlink(path);
    rmdir(r->dir);
    r->dir[0] = '\0';
}
