#!/usr/bin/python3
"""pglog2sql.py — turn PostgreSQL statement-log lines (log_statement=all) on
stdin into a pgbench script on stdout: each "execute <name>: SQL" followed
by "DETAIL: parameters: $1 = '...', ..." becomes the SQL with the
parameters inlined as literals (NULL stays NULL), one statement per line.
Statements of our own ALTER SYSTEM / pg_reload_conf are dropped, and so are
the server's background ones (catalog version poll, SELECT 1 pings, event
workers' claims and lease renewals)."""
import re
import sys

stmts, cur = [], None
for line in sys.stdin:
    line = line.rstrip('\n')
    m = re.search(r'LOG:\s+(?:execute [^:]*|statement):\s(.*)$', line)
    if m:
        cur = [m.group(1)]
        stmts.append(cur)
        continue
    m = re.search(r'DETAIL:\s+parameters:\s(.*)$', line)
    if m and stmts:
        params = {}
        for pm in re.finditer(r"\$(\d+) = (NULL|'(?:[^']|'')*')", m.group(1)):
            params[int(pm.group(1))] = pm.group(2)
        sql = stmts[-1][0]
        stmts[-1][0] = re.sub(r'\$(\d+)', lambda x: params.get(int(x.group(1)), x.group(0)), sql)
        cur = None
        continue
    if cur is not None and line.startswith(('\t', ' ')) and 'LOG:' not in line:
        cur[0] += ' ' + line.strip()
for (sql,) in stmts:
    if 'ALTER SYSTEM' in sql or 'pg_reload_conf' in sql:
        continue
    # the server's background statements that may fall into the capture
    # window: the catalog cache's version poll and the pool's / health
    # monitor's liveness check (a busy pool sends no SELECT 1 per call)
    if 'FROM catalog_version' in sql or sql.strip().rstrip(';') == 'SELECT 1':
        continue
    # the event workers' claim and lease renewal polls
    if re.search(r'\bevents\b', sql) and 'locked_by' in sql:
        continue
    print(sql.strip().rstrip(';') + ';')
