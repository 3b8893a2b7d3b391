#!/usr/bin/python3
"""pair2pgbench.py [--prepared] CREATE_SQL PAY_SQL — join the statements one CreateOrder
and one PayOrder sent (as captured by pglog2sql.py) into one pgbench script
that creates a NEW order every transaction: the orders INSERT ... RETURNING
id and the payments INSERT ... RETURNING id store their ids with \\gset, and
every literal occurrence of the captured order/payment id is replaced by
that variable. Everything else (pool checks, locks, ledger, event) is
replayed exactly as the server sent it.

pgbench replaces :name everywhere, inside quotes too: with -M simple by the
value's text, with -M prepared by a parameter ($1), which inside a quoted
literal would be the two characters "$1". So --prepared writes a literal
that is exactly the id as the bare variable (a parameter the statement
types by its context) and a longer literal holding it as a concatenation,
('...' || :o_id || '...'), parenthesised so a cast after it still applies
to the whole text."""
import re
import sys

prepared = sys.argv[1] == '--prepared'
args = sys.argv[2:] if prepared else sys.argv[1:]
create = open(args[0]).read().splitlines()
pay = open(args[1]).read().splitlines()
oid = re.search(r"WHERE o\.id = '([0-9a-f-]{36})'", '\n'.join(pay)).group(1)
pid = re.search(r"gateway_payment_id = '([0-9a-f-]{36})'", '\n'.join(pay)).group(1)
ids = {oid: ':o_id', pid: ':p_id'}


def as_param(m):
    lit = m.group(0)
    body = lit[1:-1]
    if body in ids:
        return ids[body]
    if not any(i in body for i in ids):
        return lit
    parts = re.split('(' + '|'.join(ids) + ')', body)
    return '(' + ' || '.join(ids[x] if x in ids else "'" + x + "'" for x in parts if x != '') + ')'


out = []
for line in create + pay:
    if line.startswith('INSERT INTO orders ') and 'RETURNING id' in line:
        line = line.rstrip(';') + r' \gset o_'
    elif line.startswith('INSERT INTO payments ') and 'RETURNING id' in line:
        line = line.rstrip(';') + r' \gset p_'
    if prepared:
        out.append(re.sub(r"'(?:[^']|'')*'", as_param, line))
    else:
        out.append(line.replace(oid, ':o_id').replace(pid, ':p_id'))
print('\n'.join(out))
