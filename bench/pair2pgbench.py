#!/usr/bin/python3
"""pair2pgbench.py CREATE_SQL PAY_SQL — join the statements one CreateOrder
and one PayOrder sent (as captured by pglog2sql.py) into one pgbench script
that creates a NEW order every transaction: the orders INSERT ... RETURNING
id and the payments INSERT ... RETURNING id store their ids with \\gset, and
every literal occurrence of the captured order/payment id is replaced by
that variable. Everything else (pool checks, locks, ledger, event) is
replayed exactly as the server sent it."""
import re
import sys

create = open(sys.argv[1]).read().splitlines()
pay = open(sys.argv[2]).read().splitlines()
oid = re.search(r"WHERE o\.id = '([0-9a-f-]{36})'", '\n'.join(pay)).group(1)
pid = re.search(r"gateway_payment_id = '([0-9a-f-]{36})'", '\n'.join(pay)).group(1)
out = []
for line in create + pay:
    if line.startswith('INSERT INTO orders ') and 'RETURNING id' in line:
        line = line.rstrip(';') + r' \gset o_'
    elif line.startswith('INSERT INTO payments ') and 'RETURNING id' in line:
        line = line.rstrip(';') + r' \gset p_'
    out.append(line.replace(oid, ':o_id').replace(pid, ':p_id'))
print('\n'.join(out))
