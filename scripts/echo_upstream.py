#!/usr/bin/env python3
"""A tiny HTTP upstream for the Gatehouse demo and end-to-end tests.

Answers every request with 200 and a JSON echo of what it received:
{"method": ..., "path": ..., "headers": {name: value, ...}, "body_bytes": N}
so the identity headers the filter adds (x-gatehouse-*) are visible to the caller.

    python3 scripts/echo_upstream.py [PORT]      # default 8080, listens on 127.0.0.1
Prints "listening on 127.0.0.1:PORT" once ready (PORT 0 picks a free port).
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


class Echo(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; without this, Nagle delays each reply ~40 ms.
    disable_nagle_algorithm = True

    def _read_body(self):
        # The whole body must be read, chunked ones included: bytes left in the socket would be
        # parsed as the next request on this keep-alive connection (Envoy: "protocol error").
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()  # the CRLF after each chunk
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _echo(self):
        body = self._read_body()
        payload = json.dumps(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(body),
            },
            sort_keys=True,
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _echo

    def log_message(self, fmt, *args):  # keep test output quiet
        pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8080
    server = ThreadingHTTPServer(("127.0.0.1", port), Echo)
    server.daemon_threads = True
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
