#!/usr/bin/python3
"""pglog2sql.py [--until TS] — turn PostgreSQL statement-log lines
(log_statement=all, log_line_prefix starting '%m [%p] ', the default) on
stdin into a pgbench script on stdout: each "execute <name>: SQL" followed
by "DETAIL: parameters: $1 = '...', ..." becomes the SQL with the
parameters inlined as literals (NULL stays NULL), one statement per line.

Only the statements of the request's own connection are kept (issue 13:
the billing engine runs a provider-less order at once, and the event
worker's provisioning transaction that follows a PayOrder must not be
replayed as part of the pair): the request's backend is the pid of the
first statement that is not background work; its statements are kept
until that connection does background work (it went back to the pool and
a poller or worker took it) or until TS ("YYYY-MM-DD HH:MM:SS.mmm", UTC,
taken when the client had the answer). Statements of other backends in
that time are reported on stderr and dropped. Background work: our own
ALTER SYSTEM / pg_reload_conf, the catalog cache's version poll, the
pool's and health monitor's SELECT 1, the event workers' claims, lease
renewals and finishes."""
import re
import sys

until = None
if len(sys.argv) == 3 and sys.argv[1] == '--until':
    until = sys.argv[2]

PREFIX = re.compile(r'^(\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(?:\.\d+)?) \S+ \[(\d+)\] ')
stmts, cur = [], None   # [ts, pid, sql]
for line in sys.stdin:
    line = line.rstrip('\n')
    pm = PREFIX.match(line)
    ts, pid = (pm.group(1), pm.group(2)) if pm else (None, None)
    m = re.search(r'LOG:\s+(?:execute [^:]*|statement):\s(.*)$', line)
    if m:
        cur = [ts, pid, m.group(1)]
        stmts.append(cur)
        continue
    m = re.search(r'DETAIL:\s+parameters:\s(.*)$', line)
    if m and stmts:
        # the parameters of the last statement of the same backend
        target = next((s for s in reversed(stmts) if s[1] == pid), stmts[-1])
        params = {}
        for pm2 in re.finditer(r"\$(\d+) = (NULL|'(?:[^']|'')*')", m.group(1)):
            params[int(pm2.group(1))] = pm2.group(2)
        target[2] = re.sub(r'\$(\d+)', lambda x: params.get(int(x.group(1)), x.group(0)), target[2])
        cur = None
        continue
    if cur is not None and line.startswith(('\t', ' ')) and 'LOG:' not in line:
        cur[2] += ' ' + line.strip()


def background(sql):
    if 'ALTER SYSTEM' in sql or 'pg_reload_conf' in sql:
        return True
    # the catalog cache's version poll and the pool's / health monitor's
    # liveness check (a busy pool sends no SELECT 1 per call)
    if 'FROM catalog_version' in sql and 'products' not in sql or sql.strip().rstrip(';') == 'SELECT 1':
        return True
    # the event workers' claims, lease renewals and finishes
    return bool(re.search(r'\bevents\b', sql) and 'locked_by' in sql)


req = None
kept, dropped = [], []
for ts, pid, sql in stmts:
    if until and ts and ts[:23] > until:
        break
    if background(sql):
        if req is not None and pid == req and kept:
            break  # the request's connection went back to the pool
        continue
    if req is None:
        req = pid
    if pid == req:
        kept.append(sql)
    else:
        dropped.append((pid, sql))
for pid, sql in dropped:
    print('pglog2sql: dropped (backend %s, not the request\'s): %s' % (pid, sql[:160]), file=sys.stderr)
for sql in kept:
    print(sql.strip().rstrip(';') + ';')
