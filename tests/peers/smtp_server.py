"""smtp_server.py — a real SMTP server (aiosmtpd) that stores every message
it accepts as msg-<n>.eml (the raw DATA) plus msg-<n>.env ("MAIL FROM" and
"RCPT TO" lines). With --user/--password, AUTH (PLAIN/LOGIN) is required
before MAIL FROM (over plain TCP: loopback tests only)."""
import itertools
import socket
import threading
import time
import warnings

from aiosmtpd.controller import Controller
from aiosmtpd.smtp import AuthResult

import common


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def main():
    p = common.parser(__doc__)
    p.add_argument("--user")
    p.add_argument("--password")
    args = p.parse_args()
    seq = itertools.count(1)
    lock = threading.Lock()

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            with lock:
                n = next(seq)
            common.record(args.dir, "msg-%d.env" % n,
                          "MAIL FROM %s\n" % envelope.mail_from +
                          "".join("RCPT TO %s\n" % r for r in envelope.rcpt_tos))
            common.record(args.dir, "msg-%d.eml" % n, envelope.original_content or envelope.content)
            return "250 Message accepted for delivery"

    def authenticator(server, session, envelope, mechanism, auth_data):
        ok = (auth_data.login.decode() == args.user and
              auth_data.password.decode() == args.password)
        if not ok:
            common.append(args.dir, "auth.log", "denied %s" % auth_data.login.decode())
        # handled=False: aiosmtpd answers 535 itself (True means "already answered").
        return AuthResult(success=ok, handled=False)

    kw = {}
    if args.user:
        warnings.simplefilter("ignore")  # AUTH without TLS is on purpose (loopback)
        kw = dict(authenticator=authenticator, auth_required=True, auth_require_tls=False)
    port = free_port()
    ctl = Controller(Handler(), hostname="127.0.0.1", port=port, **kw)
    ctl.start()
    common.ready(port)
    try:
        while True:
            time.sleep(3600)
    finally:
        ctl.stop()


if __name__ == "__main__":
    main()
