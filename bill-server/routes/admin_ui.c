/*
 * admin_ui.c — the admin UI route: GET /admin/... serves the admin SPA's static
 * files from a directory (BILL_ADMIN_DIR, default ./admin-dist), falling back
 * to index.html for client-side routes. Runs on a worker (disk I/O).
 * Paths with ".." or NUL never leave the directory.
 */
#include "routes.h"

#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char *mime(const char *path)
{
    const char *dot = strrchr(path, '.');
    static const char *const map[][2] = {
        {".html", "text/html; charset=utf-8"}, {".js", "text/javascript"},
        {".css", "text/css"}, {".json", "application/json"}, {".svg", "image/svg+xml"},
        {".png", "image/png"}, {".ico", "image/x-icon"}, {".woff2", "font/woff2"},
        {".txt", "text/plain; charset=utf-8"}, {".map", "application/json"},
    };
    if (dot)
        for (size_t i = 0; i < sizeof map / sizeof map[0]; i++)
            if (strcmp(dot, map[i][0]) == 0)
                return map[i][1];
    return "application/octet-stream";
}

static bool read_file(const char *path, srv_buf *out)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return false;
    struct stat st;
    bool ok = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) && st.st_size < (64 << 20);
    char buf[65536];
    ssize_t n;
    while (ok && (n = read(fd, buf, sizeof buf)) > 0)
        ok = srv_buf_append(out, buf, (size_t)n) == 0;
    close(fd);
    return ok;
}

void srv_route_admin_job(srv_job *job)
{
    bill_srv *s = job->srv;
    srv_resp *r = &job->resp;
    const char *dir = s->admin_dir;
    struct stat st;
    if (!dir || !*dir || stat(dir, &st) != 0 || !S_ISDIR(st.st_mode)) {
        char msg[512];
        snprintf(msg, sizeof msg,
                 "admin UI is not installed: build the admin SPA and copy its dist/ to \"%s\" "
                 "(or set [server] admin_dir / BILL_ADMIN_DIR)\n", dir && *dir ? dir : "./admin-dist");
        srv_resp_simple(r, 404, "text/plain; charset=utf-8", msg);
        return;
    }
    const char *rel = job->req.path + 6; /* after "/admin" */
    while (*rel == '/')
        rel++;
    bool safe = strstr(rel, "..") == NULL && strlen(rel) < 900;
    char path[1024];
    if (safe && *rel) {
        snprintf(path, sizeof path, "%s/%s", dir, rel);
        if (read_file(path, &r->body)) {
            srv_resp_simple(r, 200, mime(path), NULL);
            return;
        }
        srv_buf_free(&r->body);
    }
    /* SPA fallback: client-side routes get index.html */
    snprintf(path, sizeof path, "%s/index.html", dir);
    if (read_file(path, &r->body)) {
        srv_resp_simple(r, 200, "text/html; charset=utf-8", NULL);
        srv_hdrs_addz(&r->hdrs, "cache-control", "no-cache");
        return;
    }
    srv_buf_free(&r->body);
    srv_resp_simple(r, 404, "text/plain", "admin UI index.html is missing\n");
}
