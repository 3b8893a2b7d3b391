/* tmpdir.c — see tmpdir.h. */
#include "tmpdir.h"

#include <errno.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define MAX_DIRS 256

static struct {
    char path[256];
    pid_t owner;
} dirs[MAX_DIRS];
static int ndirs;
static int registered;

static int rm_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb;
    (void)flag;
    (void)ftw;
    if (remove(path) == 0 || errno == ENOENT)
        return 0;
    fprintf(stderr, "tmpdir: cannot remove %s: %s\n", path, strerror(errno));
    return -1;
}

int bill_test_rm_tree(const char *dir)
{
    if (nftw(dir, rm_entry, 16, FTW_DEPTH | FTW_PHYS) == 0 || errno == ENOENT)
        return 0;
    return -1;
}

static void rm_all(void)
{
    pid_t me = getpid();
    for (int i = 0; i < ndirs; i++)
        if (dirs[i].owner == me && dirs[i].path[0])
            bill_test_rm_tree(dirs[i].path);
}

void bill_test_rm_at_exit(const char *dir)
{
    const char *keep = getenv("BILL_TEST_KEEP_DIRS");
    if (!dir || !dir[0] || (keep && keep[0] && strcmp(keep, "0") != 0))
        return;
    if (ndirs == MAX_DIRS || strlen(dir) >= sizeof dirs[0].path) {
        fprintf(stderr, "tmpdir: %s is left in place (the list is full)\n", dir);
        return;
    }
    if (!registered) {
        if (atexit(rm_all) != 0) {
            fprintf(stderr, "tmpdir: atexit failed; %s is left in place\n", dir);
            return;
        }
        registered = 1;
    }
    snprintf(dirs[ndirs].path, sizeof dirs[ndirs].path, "%s", dir);
    dirs[ndirs].owner = getpid();
    ndirs++;
}
