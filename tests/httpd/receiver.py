#!/usr/bin/env python3
"""tests/httpd/receiver.py: a webhook receiver for tests/httpd/run.sh, on 127.0.0.1 only.

Usage: receiver.py DIR FAILS
Listens on a free loopback port and prints "listening PORT". Each POST is saved as DIR/N.body
and DIR/N.headers (JSON), answered 503 for the first FAILS requests and 204 after, and then
announced on stdout as "N STATUS" (flushed), so the test reads lines instead of sleeping.
"""
import http.server
import json
import os
import sys

out_dir, fails = sys.argv[1], int(sys.argv[2])
count = 0


class Hook(http.server.BaseHTTPRequestHandler):
    def do_POST(self):
        global count
        count += 1
        n = count
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        with open(os.path.join(out_dir, f"{n}.body"), "wb") as f:
            f.write(body)
        with open(os.path.join(out_dir, f"{n}.headers"), "w") as f:
            json.dump({k.lower(): v for k, v in self.headers.items()}, f)
        status = 503 if n <= fails else 204
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()
        print(n, status, flush=True)

    def log_message(self, *args):
        pass


server = http.server.HTTPServer(("127.0.0.1", 0), Hook)
print("listening", server.server_address[1], flush=True)
server.serve_forever()
