#!/usr/bin/python3
"""RustBill's real web front end against a real bill-server (issue 8): the
four vocabulary and access cases where the front end disagreed with the old
wire contract, each sent exactly as the browser sends it (pbwire.browser:
HTTP/1.1 POST, grpc-web+proto and grpc-web-text, the page's Origin, no
credentials where the page has none). docs/api-compat.md lists them.

  1. IntegrationService/ListGateways, anonymously (the public product page):
     "balance" and the configured gateway, no secret of its config.
  2. Ticket priority "medium" (the form's default), "normal" as its alias.
  3. SendVerificationCode with purpose "registration" ("register" alias).
  4. Payment status "success" after paying (and "refunded" after a refund).

Usage: test_frontend.py PORT SERVER_DIR BILL_CLI
"""
import json
import sys

from pbwire import expect, fail, enc, S, I, M, R, browser, bill_cli

PORT, SRV_DIR, CLI = int(sys.argv[1]), sys.argv[2], sys.argv[3]
ID = '/rustbill.identity.IdentityService/'
INT = '/rustbill.integration.IntegrationService/'
TIX = '/rustbill.ticket.TicketService/'
ORD = '/rustbill.order.OrderService/'
PAY = '/rustbill.payment.PaymentService/'
SECRET = 'Yipay-SECRET-key-0123456789'


def cli(*args):
    return bill_cli(CLI, SRV_DIR, *args, empty={})


def call(path, body, token=None, text=False):
    """The harness's relaxed [rate_limit]: no pacing needed."""
    return browser(PORT, path, body, token, text)


def ok(path, body, token=None, text=False):
    code, msg, m, raw, _ = call(path, body, token, text)
    expect(code == 'OK', '%s (%s): %s %s' % (path, 'text' if text else 'binary', code, msg))
    return m, raw


def gateways():
    iface = cli('plugin', 'create-interface', '--plugin', 'gateway-yipay', '--name', 'Alipay',
                '--config', json.dumps({'api_url': 'https://pay.example.com/', 'pid': '31337',
                                        'key': SECRET, 'public_base': 'https://bill.example.com'}))
    iface = iface.get('id') or fail('no interface id in %r' % iface)
    for text in (False, True):
        m, raw = ok(INT + 'ListGateways', b'', text=text)
        gws = [(S(g, 1), S(g, 2)) for g in R(m, 1)]
        expect(gws[0] == ('balance', 'Account balance') and (iface, 'Alipay') in gws,
               'anonymous ListGateways: %r' % gws)
        for secret in (SECRET, '31337', 'pay.example.com'):
            expect(secret.encode() not in raw, 'ListGateways leaks %r' % secret)
    print('ListGateways OK')


def tickets(token):
    for given, want in (('medium', 'medium'), ('normal', 'medium'), ('', 'medium'),
                        ('urgent', 'urgent')):
        m, _ = ok(TIX + 'CreateTicket', enc((2, 'Server down'), (3, 'since 9:00'), (4, given)),
                  token)
        expect(S(M(m, 1), 6) == want, 'priority %r stored as %r' % (given, S(M(m, 1), 6)))
    m, _ = ok(TIX + 'ListTickets', enc((4, 'medium')), token, text=True)
    expect(len(R(m, 1)) == 3, 'ListTickets medium: %d' % len(R(m, 1)))
    m, _ = ok(TIX + 'ListTickets', enc((4, 'normal')), token)
    expect(len(R(m, 1)) == 3, 'ListTickets normal (alias): %d' % len(R(m, 1)))
    code, msg, _, _, _ = call(TIX + 'CreateTicket', enc((2, 't'), (4, 'asap')), token)
    expect(code == 'INVALID_ARGUMENT' and 'low, medium, high, urgent' in msg,
           'priority asap: %s %s' % (code, msg))
    print('priority OK')


def codes():
    m, _ = ok(ID + 'SendVerificationCode', enc((1, 'new@example.com'), (2, 'registration')))
    expect(I(m, 1) == 1, 'registration code sent: %r' % m)
    # the alias is the same purpose: inside the cooldown of the code above
    m, _ = ok(ID + 'SendVerificationCode', enc((1, 'new@example.com'), (2, 'register')),
              text=True)
    expect(I(m, 1) == 0 and 0 < I(m, 3) <= 60, 'register alias: %r' % m)
    m, _ = ok(ID + 'SendVerificationCode', enc((1, 'new@example.com'), (2, 'reset_password')))
    expect(I(m, 1) == 1, 'reset_password code sent: %r' % m)
    code, msg, _, _, _ = call(ID + 'SendVerificationCode',
                                 enc((1, 'new@example.com'), (2, 'signup')))
    expect(code == 'INVALID_ARGUMENT' and 'registration' in msg, 'purpose signup: %s %s'
           % (code, msg))
    print('purpose OK')


def payments(token, cid):
    prod = cli('product', 'create', '--name', 'VPS-S', '--price-monthly', '10.00')['id']
    cli('customer', 'balance', 'add', cid, '25.00')
    oid = S(M(ok(ORD + 'CreateOrder', enc((2, prod), (8, 'monthly')), token)[0], 1), 1)
    m, _ = ok(ORD + 'PayOrder', enc((1, oid), (2, 'balance')), token)
    pay = S(M(m, 1), 1)
    for text in (False, True):
        m, _ = ok(PAY + 'GetPayment', enc((1, pay)), token, text=text)
        expect(S(M(m, 1), 9) == 'success', 'payment status %r' % S(M(m, 1), 9))
    m, _ = ok(PAY + 'ListPayments', enc((5, 'success')), token)
    expect([S(p, 1) for p in R(m, 1)] == [pay], 'ListPayments success: %r' % R(m, 1))
    code, msg, _, _, _ = call(PAY + 'ListPayments', enc((5, 'succeeded')), token)
    expect(code == 'INVALID_ARGUMENT' and 'pending, success, failed, refunded' in msg,
           'old word succeeded: %s %s' % (code, msg))
    cli('payment', 'refund', pay, '--amount', '4.00')   # partial: one of the four words
    m, _ = ok(PAY + 'GetPayment', enc((1, pay)), token)
    expect(S(M(m, 1), 9) == 'refunded', 'partly refunded payment: %r' % S(M(m, 1), 9))
    print('payment OK')


def main():
    gateways()
    ok(ID + 'Register', enc((1, 'webby'), (2, 'webby@example.com'), (3, 'Web'),
                            (4, 'Secret-Pass-1')))
    m, _ = ok(ID + 'Login', enc((1, 'webby'), (2, 'Secret-Pass-1')))
    token = S(m, 1)
    cid = S(M(ok(ID + 'GetMe', b'', token)[0], 1), 9)
    tickets(token)
    codes()
    payments(token, cid)
    print('frontend OK')


if __name__ == '__main__':
    main()
