"""incus_server.py — a small Incus REST API 1.0 over HTTPS that demands a
client certificate (ssl.CERT_REQUIRED against --ca): a client without one,
or with one from another CA, fails the TLS handshake like real Incus.

Implements what provider-incus uses: GET /1.0, POST /1.0/instances (async,
validates source alias, limits.cpu, limits.memory, root disk size), GET
/1.0/operations/<id>/wait, GET /1.0/instances/<name>[/state], PUT
/1.0/instances/<name>/state (start/stop/restart), DELETE (stopped only).
Image alias "broken/image" makes the create operation fail like a missing
image does. A created instance boots: it reports Running without an
address on the first state read and gets 10.0.0.<n> on the next.

Writes create-<name>.json (request body), appends "METHOD PATH CN" to
requests.log and "<name> <action>" to actions.log."""
import itertools
import json
import re
import ssl
import threading
import urllib.parse
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import common


def main():
    p = common.parser(__doc__)
    p.add_argument("--cert", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--ca", required=True)
    args = p.parse_args()
    lock = threading.Lock()
    instances = {}
    ops = {}
    ipseq = itertools.count(10)

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *a):
            pass

        def send(self, code, doc):
            body = json.dumps(doc).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def error(self, code, msg):
            self.send(code, {"type": "error", "error": msg, "error_code": code})

        def sync(self, md):
            self.send(200, {"type": "sync", "status": "Success", "status_code": 200,
                            "metadata": md})

        def async_op(self, ok, err=""):
            oid = str(uuid.uuid4())
            ops[oid] = {"id": oid, "status": "Success" if ok else "Failure",
                        "status_code": 200 if ok else 400, "err": err}
            self.send(202, {"type": "async", "status": "Operation created", "status_code": 100,
                            "operation": "/1.0/operations/" + oid,
                            "metadata": {"id": oid, "status": "Running"}})

        def route(self, method):
            url = urllib.parse.urlsplit(self.path)
            cn = dict(x[0] for x in self.connection.getpeercert()["subject"]).get("commonName")
            common.append(args.dir, "requests.log", "%s %s %s" % (method, url.path, cn))
            n = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(n) or b"{}") if n else {}
            q = dict(urllib.parse.parse_qsl(url.query))
            if q.get("project", "default") != "default":
                return self.error(404, "Project not found")
            path = url.path
            with lock:
                if path == "/1.0" and method == "GET":
                    return self.sync({"api_version": "1.0", "auth": "trusted"})
                m = re.fullmatch(r"/1.0/operations/([0-9a-f-]+)/wait", path)
                if m and method == "GET":
                    op = ops.get(m.group(1))
                    return self.sync(op) if op else self.error(404, "Operation not found")
                if path == "/1.0/instances" and method == "POST":
                    return self.create(body)
                m = re.fullmatch(r"/1.0/instances/([a-z0-9-]+)(/state)?", path)
                if not m:
                    return self.error(404, "not found")
                name, state = m.group(1), m.group(2)
                inst = instances.get(name)
                if not inst:
                    return self.error(404, "Instance not found")
                if method == "GET" and not state:
                    return self.sync({"name": name, "status": inst["status"]})
                if method == "GET":
                    return self.state(name, inst)
                if method == "PUT" and state:
                    return self.action(name, inst, body)
                if method == "DELETE" and not state:
                    if inst["status"] != "Stopped":
                        return self.error(400, "Instance is running")
                    del instances[name]
                    common.append(args.dir, "actions.log", "%s delete" % name)
                    return self.async_op(True)
            return self.error(405, "method not allowed")

        def create(self, body):
            name = body.get("name", "")
            cfg = body.get("config", {})
            root = body.get("devices", {}).get("root", {})
            src = body.get("source", {})
            if not re.fullmatch(r"[a-z0-9-]{1,63}", name):
                return self.error(400, "Invalid instance name")
            if name in instances:
                return self.error(409, "Instance already exists")
            if src.get("type") != "image" or not src.get("alias"):
                return self.error(400, "Invalid source")
            if not re.fullmatch(r"\d+", cfg.get("limits.cpu", "")) or \
               not re.fullmatch(r"\d+GiB", cfg.get("limits.memory", "")) or \
               not re.fullmatch(r"\d+GiB", root.get("size", "")) or root.get("path") != "/":
                return self.error(400, "Invalid limits or root device")
            common.record(args.dir, "create-%s.json" % name, json.dumps(body))
            if src["alias"] == "broken/image":
                return self.async_op(False, "Failed getting image: alias not found")
            instances[name] = {"status": "Running" if body.get("start") else "Stopped",
                               "reads": 0, "ip": "10.0.0.%d" % next(ipseq)}
            return self.async_op(True)

        def state(self, name, inst):
            inst["reads"] += 1
            addrs = [{"family": "inet6", "address": "fe80::1", "scope": "link"}]
            if inst["status"] == "Running" and inst["reads"] > 1:
                addrs.insert(0, {"family": "inet", "address": inst["ip"], "scope": "global"})
            return self.sync({
                "status": inst["status"], "status_code": 103 if inst["status"] == "Running" else 102,
                "network": {
                    "lo": {"addresses": [{"family": "inet", "address": "127.0.0.1",
                                          "scope": "local"}]},
                    "eth0": {"addresses": addrs},
                }})

        def action(self, name, inst, body):
            act = body.get("action")
            common.append(args.dir, "actions.log", "%s %s" % (name, act))
            if act == "start":
                if inst["status"] == "Running":
                    return self.error(400, "The instance is already running")
                inst["status"] = "Running"
            elif act == "stop":
                if inst["status"] == "Stopped":
                    return self.error(400, "The instance is already stopped")
                inst["status"] = "Stopped"
            elif act == "restart":
                if inst["status"] != "Running":
                    return self.error(400, "The instance isn't running")
            else:
                return self.error(400, "Unknown action")
            return self.async_op(True)

        def do_GET(self):
            self.route("GET")

        def do_POST(self):
            self.route("POST")

        def do_PUT(self):
            self.route("PUT")

        def do_DELETE(self):
            self.route("DELETE")

    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(args.cert, args.key)
    ctx.load_verify_locations(args.ca)
    ctx.verify_mode = ssl.CERT_REQUIRED
    srv = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
    common.ready(srv.server_address[1])
    srv.serve_forever()


if __name__ == "__main__":
    main()
