"""webhook_receiver.py — a webhook consumer as a customer would write it:
verifies X-Bill-Signature (t=<unix>,v1=<hex HMAC-SHA256(secret, "<t>.<body>")>)
and refuses replays: a timestamp older than 5 minutes (or more than 5 minutes
in the future), or a (timestamp, signature) pair seen before, gets 400.

Writes accepted-<n>.json (body) and accepted-<n>.sig (the header) for every
accepted delivery, and appends one line per refusal to rejected.log."""
import hashlib
import hmac
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import common

TOLERANCE = 300


def main():
    p = common.parser(__doc__)
    p.add_argument("--secret", required=True)
    args = p.parse_args()
    seen = set()
    lock = threading.Lock()
    counter = [0]

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def refuse(self, why):
            common.append(args.dir, "rejected.log", why)
            self.send_response(400)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(why.encode())

        def do_POST(self):
            body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
            header = self.headers.get("X-Bill-Signature", "")
            parts = dict(kv.split("=", 1) for kv in header.split(",") if "=" in kv)
            if "t" not in parts or "v1" not in parts:
                return self.refuse("missing signature")
            try:
                t = int(parts["t"])
            except ValueError:
                return self.refuse("bad timestamp")
            want = hmac.new(args.secret.encode(), parts["t"].encode() + b"." + body,
                            hashlib.sha256).hexdigest()
            if not hmac.compare_digest(want, parts["v1"]):
                return self.refuse("bad signature")
            if abs(time.time() - t) > TOLERANCE:
                return self.refuse("stale timestamp %d" % t)
            with lock:
                if (t, parts["v1"]) in seen:
                    return self.refuse("replayed timestamp %d" % t)
                seen.add((t, parts["v1"]))
                counter[0] += 1
                n = counter[0]
            common.record(args.dir, "accepted-%d.sig" % n, header)
            common.record(args.dir, "accepted-%d.json" % n, body)
            self.send_response(200)
            self.send_header("Content-Type", "text/plain")
            self.end_headers()
            self.wfile.write(b"ok")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    common.ready(srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
