"""yipay_platform.py — a fake 易支付 (epay) merchant platform that signs and
verifies exactly like the real ones: MD5 over the non-empty parameters
except sign/sign_type, sorted by key, joined k=v with '&', merchant key
appended directly; lowercase hex.

  GET /submit.php?...            the cashier: 200 "cashier <out_trade_no>" when
                                 pid and sign check out (the order is kept),
                                 400 "sign error" / "pid error" otherwise.
  GET /test/notify?out_trade_no=X[&money=M][&trade_status=S]
                                 answers the query string of the signed
                                 notification the platform would send to the
                                 order's notify_url (what the test replays).
Writes submit-<out_trade_no>.json for every accepted cashier request."""
import hashlib
import itertools
import json
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import common


def sign(params, key):
    items = sorted((k, v) for k, v in params.items()
                   if v != "" and k not in ("sign", "sign_type"))
    text = "&".join("%s=%s" % kv for kv in items)
    return hashlib.md5((text + key).encode()).hexdigest()


def main():
    p = common.parser(__doc__)
    p.add_argument("--pid", required=True)
    p.add_argument("--key", required=True)
    args = p.parse_args()
    orders = {}
    trade_seq = itertools.count(2024000001)

    class Handler(BaseHTTPRequestHandler):
        def log_message(self, *a):
            pass

        def answer(self, code, text):
            self.send_response(code)
            self.send_header("Content-Type", "text/plain; charset=utf-8")
            self.end_headers()
            self.wfile.write(text.encode())

        def do_GET(self):
            url = urllib.parse.urlsplit(self.path)
            q = dict(urllib.parse.parse_qsl(url.query, keep_blank_values=True))
            if url.path == "/submit.php":
                if q.get("pid") != args.pid:
                    return self.answer(400, "pid error")
                if q.get("sign_type") != "MD5" or q.get("sign") != sign(q, args.key):
                    return self.answer(400, "sign error")
                for need in ("type", "out_trade_no", "notify_url", "name", "money"):
                    if not q.get(need):
                        return self.answer(400, "missing " + need)
                orders[q["out_trade_no"]] = q
                common.record(args.dir, "submit-%s.json" % q["out_trade_no"], json.dumps(q))
                return self.answer(200, "cashier " + q["out_trade_no"])
            if url.path == "/test/notify":
                order = orders.get(q.get("out_trade_no", ""))
                if not order:
                    return self.answer(404, "no such order")
                n = {
                    "pid": args.pid,
                    "trade_no": str(next(trade_seq)),
                    "out_trade_no": order["out_trade_no"],
                    "type": order["type"],
                    "name": order["name"],
                    "money": q.get("money", order["money"]),
                    "trade_status": q.get("trade_status", "TRADE_SUCCESS"),
                    "param": "",
                }
                n["sign"] = sign(n, args.key)
                n["sign_type"] = "MD5"
                return self.answer(200, urllib.parse.urlencode(n))
            return self.answer(404, "not found")

    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    common.ready(srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
