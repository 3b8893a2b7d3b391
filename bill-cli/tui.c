/*
 * tui.c — `bill-cli tui`: start the interactive console, bill-tui, the way
 * `rustbill-cli tui` did (seed 000 §5.2).
 *
 * bill-tui is its own program (it links ncurses; bill-cli does not), so this
 * command only finds it and replaces itself with it (execv), passing the
 * global --config / --database-url / --now on: the console then picks the
 * same database (and clock) this CLI would. It looks next to bill-cli first (installed
 * programs share a bindir), then in the build tree's sibling folder
 * (build/bill-cli/bill-cli -> build/bill-tui/bill-tui).
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

/* Directory of the running bill-cli (from /proc/self/exe) into dir. */
static bool self_dir(char *dir, size_t size)
{
    char exe[PATH_MAX];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    if (n <= 0)
        return false;
    exe[n] = '\0';
    char *slash = strrchr(exe, '/');
    if (!slash)
        return false;
    *slash = '\0';
    snprintf(dir, size, "%s", exe[0] ? exe : "/");
    return true;
}

static int tui_run(cli_ctx *ctx, const cli_args *a)
{
    char dir[PATH_MAX], cand[2][PATH_MAX + 32];
    if (!self_dir(dir, sizeof dir))
        return cli_errorf("cannot find where bill-cli is installed (/proc/self/exe): %s",
                          strerror(errno));
    snprintf(cand[0], sizeof cand[0], "%s/bill-tui", dir);
    snprintf(cand[1], sizeof cand[1], "%s/../bill-tui/bill-tui", dir);
    const char *path = NULL;
    for (int i = 0; i < 2 && !path; i++)
        if (access(cand[i], X_OK) == 0)
            path = cand[i];
    if (!path)
        return cli_errorf("bill-tui is not installed: looked for %s and %s (it is built "
                          "with bill-cli when libncurses-dev is installed: ./dev build)",
                          cand[0], cand[1]);

    const char *argv[14];
    int n = 0;
    argv[n++] = "bill-tui";
    if (ctx->config_path) {
        argv[n++] = "--config";
        argv[n++] = ctx->config_path;
    }
    if (ctx->database_url) {
        argv[n++] = "--database-url";
        argv[n++] = ctx->database_url;
    }
    /* BILL_NOW reaches bill-tui through the environment; --now is passed on */
    if (ctx->now_source && strcmp(ctx->now_source, "--now") == 0) {
        argv[n++] = "--now";
        argv[n++] = ctx->now_text;
    }
    const char *refresh = cli_opt(a, "refresh");
    if (refresh) {
        argv[n++] = "--refresh";
        argv[n++] = refresh;
    }
    argv[n] = NULL;
    fflush(NULL);
    execv(path, (char *const *)argv);
    return cli_errorf("cannot start %s: %s", path, strerror(errno));
}

static const cli_optdef tui_opts[] = {
    {"refresh", "SECS", "dashboard refresh interval in seconds (default 5)", 0},
    {0},
};

const cli_cmd cli_tui_cmd = {
    .name = "tui",
    .summary = "Interactive console (bill-tui): dashboard, users, customers, products, "
               "plugins, instances, database",
    .description =
        "Starts bill-tui on this terminal with the same --config / --database-url / --now,\n"
        "so it uses the database this CLI would. Keys: see 'bill-tui --help' or press ? in it.",
    .opts = tui_opts,
    .run = tui_run,
};
