"""HTTP server boilerplate shared by the test upstreams (scripts/echo_upstream.py,
tests/upstreams/form_upstream.py, tests/upstreams/wsgi_upstream.py).

Each upstream prints "listening on 127.0.0.1:PORT" (flushed) once ready, which the harness
(tests/src) waits for; PORT 0 picks a free port.
"""

import json
import sys
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def port_arg(default):
    """The port from argv[1], or `default`."""
    return int(sys.argv[1]) if len(sys.argv) > 1 else default


def serve(server):
    """Announce the bound port and serve until interrupted."""
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


class JsonHandler(BaseHTTPRequestHandler):
    """Answers every method through `answer()`, which replies with `reply_json`."""

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

    def reply_json(self, doc, extra_headers=()):
        """200 with `doc` as sorted-key JSON, plus `extra_headers` ((name, value) pairs)."""
        payload = json.dumps(doc, sort_keys=True).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        for name, value in extra_headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def answer(self):
        raise NotImplementedError

    def _dispatch(self):
        self.answer()

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _dispatch

    def log_message(self, fmt, *args):  # keep test output quiet
        pass


def main(handler_class, default_port):
    """Serve `handler_class` on 127.0.0.1 (port from argv[1], else `default_port`)."""
    server = ThreadingHTTPServer(("127.0.0.1", port_arg(default_port)), handler_class)
    server.daemon_threads = True
    serve(server)
