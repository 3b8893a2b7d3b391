/*
 * event_worker.c — a real event-worker process for the crash tests
 * (test_events.c): libbill's workers (bill_events_start, one thread, its
 * lease keeper) serving the kind "crash.test" until it is killed.
 *
 *   event_worker DATABASE_URL LEASE_SECS MARKER_FILE MODE
 *
 * The handler appends "start <pid> <event id>\n" to MARKER_FILE (O_APPEND,
 * one write, so two processes' lines never interleave), then in MODE
 * "block" sleeps until the process is killed, in MODE "finish" returns
 * success at once. The process runs until SIGKILL/SIGTERM.
 */
#include <bill/bill.h>
#include <bill/events.h>

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static const char *marker;
static int block;

static int handler(const bill_event *ev, void *user)
{
    (void)user;
    char line[96];
    int n = snprintf(line, sizeof line, "start %d %lld\n", (int)getpid(), (long long)ev->id);
    int fd = open(marker, O_WRONLY | O_APPEND | O_CREAT, 0644);
    if (fd < 0 || write(fd, line, (size_t)n) != n)
        return BILL_EIO;
    close(fd);
    while (block)
        pause(); /* until SIGKILL */
    return BILL_OK;
}

int main(int argc, char **argv)
{
    bill_db_options dbo;
    bill_db *db = NULL;
    bill_events_options eo;
    bill_events *ev = NULL;

    if (argc != 5) {
        fprintf(stderr, "usage: event_worker DATABASE_URL LEASE_SECS MARKER_FILE block|finish\n");
        return 2;
    }
    marker = argv[3];
    block = strcmp(argv[4], "block") == 0;
    bill_db_options_init(&dbo);
    dbo.url = argv[1];
    dbo.max_connections = 4;
    dbo.min_connections = 1;
    if (bill_db_open(&db, &dbo) != BILL_OK) {
        fprintf(stderr, "event_worker: %s\n", bill_error_last()->message);
        return 1;
    }
    bill_events_options_init(&eo);
    eo.lease_secs = atoi(argv[2]);
    eo.poll_interval_ms = 200;
    eo.worker_id = block ? "crash-blocker" : "crash-finisher";
    if (bill_events_new(&ev, db, &eo) != BILL_OK ||
        bill_events_register(ev, "crash.test", handler, NULL) != BILL_OK ||
        bill_events_start(ev, 1) != BILL_OK) {
        fprintf(stderr, "event_worker: %s\n", bill_error_last()->message);
        return 1;
    }
    for (;;)
        pause();
}
