#!/usr/bin/env python3
"""tests/chat/evil_relay.py - a relay test double: an HTTP proxy in front of
the real `blindlink relay` that records all traffic (both directions, raw) and,
depending on the mode read from MODE_FILE when each answer passes, misbehaves the
way a malicious platform could:

  pass        forward unchanged (recording only)
  swap        answer GET /v1/banks/B/bundle with the bundle of bank
              $EVIL_BANK (a key the relay controls, validly self-signed)
  badsig      flip one byte of the signed prekey in bundles
  replay      deliver every envelope twice in poll answers
  alter       flip one byte inside every envelope body in poll answers

Also writes every POST /v1/send request (token and body) to SENDS_FILE as
JSON lines, so a test can re-inject one later (a replay by the relay).
Usage: evil_relay.py UPSTREAM_PORT PORT_FILE MODE_FILE TRAFFIC_FILE SENDS_FILE
"""
import base64
import http.client
import http.server
import json
import os
import sys
import threading

UP = int(sys.argv[1])
PORT_FILE, MODE_FILE, TRAFFIC, SENDS = sys.argv[2:6]
LOCK = threading.Lock()


def mode():
    try:
        with open(MODE_FILE) as f:
            return f.read().strip() or "pass"
    except OSError:
        return "pass"


def b64d(s):
    return base64.urlsafe_b64decode(s + "=" * (-len(s) % 4))


def b64e(b):
    return base64.urlsafe_b64encode(b).decode().rstrip("=")


def record(direction, data):
    with LOCK, open(TRAFFIC, "ab") as f:
        f.write(b"\n--- " + direction.encode() + b" ---\n" + data)


class Proxy(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def fetch(self, method, path, body):
        c = http.client.HTTPConnection("127.0.0.1", UP, timeout=60)
        hdr = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        c.request(method, path, body=body, headers=hdr)
        r = c.getresponse()
        data = r.read()
        c.close()
        return r.status, data

    def handle_any(self, method):
        n = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(n) if n else None
        record("request", (method + " " + self.path + "\n").encode() + str(self.headers).encode() + (body or b""))
        m = mode()
        if method == "POST" and self.path == "/v1/send" and body:
            with LOCK, open(SENDS, "a") as f:
                f.write(json.dumps({"auth": self.headers.get("Authorization"), "body": body.decode()}) + "\n")
        path = self.path
        if m == "swap" and path.startswith("/v1/banks/") and path.endswith("/bundle"):
            path = "/v1/banks/" + os.environ.get("EVIL_BANK", "evilbank") + "/bundle"
        status, data = self.fetch(method, path, body)
        m = mode()  # again: a long poll answers later, under the mode of that moment
        if status == 200 and path.endswith("/bundle") and m == "badsig":
            o = json.loads(data)
            spk = bytearray(b64d(o["spk"]))
            spk[0] ^= 1
            o["spk"] = b64e(bytes(spk))
            data = json.dumps(o).encode()
        if status == 200 and self.path.startswith("/v1/messages") and m in ("replay", "alter"):
            o = json.loads(data)
            out = []
            for msg in o.get("messages", []):
                if m == "replay":
                    out += [msg, dict(msg)]
                else:
                    b = bytearray(b64d(msg["body"]))
                    b[len(b) // 2] ^= 0x20
                    msg["body"] = b64e(bytes(b))
                    out.append(msg)
            o["messages"] = out
            data = json.dumps(o).encode()
        record("response", str(status).encode() + b"\n" + data)
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self):
        self.handle_any("GET")

    def do_POST(self):
        self.handle_any("POST")

    def do_PUT(self):
        self.handle_any("PUT")


srv = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Proxy)
srv.daemon_threads = True
with open(PORT_FILE + ".tmp", "w") as f:
    f.write(str(srv.server_address[1]))
os.rename(PORT_FILE + ".tmp", PORT_FILE)
srv.serve_forever()
