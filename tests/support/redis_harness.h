/*
 * redis_harness.h — a real redis-server for tests (Debian redis-server),
 * started by the test on a unix socket in a fresh temporary directory (no
 * TCP port, no persistence), stopped and restarted on the same socket as a
 * test needs, removed at the end. The server's log is <dir>/redis.log.
 */
#ifndef BILL_TEST_REDIS_HARNESS_H
#define BILL_TEST_REDIS_HARNESS_H

#include <sys/types.h>

typedef struct bill_test_redis {
    pid_t pid;          /* 0 while stopped */
    char dir[128];
    char sock[200];     /* <dir>/redis.sock */
    char url[220];      /* "unix://<sock>" */
} bill_test_redis;

/* Start in a new directory; 0, or -1 with a message on stderr. Waits until
 * it answers PING (at most 10 s). */
int bill_test_redis_start(bill_test_redis *r);
/* Start again on the same socket after bill_test_redis_kill. */
int bill_test_redis_restart(bill_test_redis *r);
/* SIGKILL (an outage: no goodbye on the connections) and reap. */
void bill_test_redis_kill(bill_test_redis *r);
/* Kill if running and remove the directory. */
void bill_test_redis_stop(bill_test_redis *r);

#endif
