#!/usr/bin/env python3
"""The form-decoding upstream of the differential suite (tests/tests/differential.rs).

Picks its body parser from Content-Type, as web frameworks do (the first Content-Type header, as
http.server's `headers.get` and the CGI environ read it):
  application/x-www-form-urlencoded -> urllib.parse.parse_qs
  multipart/form-data               -> the email package's MIME parser (what cgi.FieldStorage did)
  application/json, */*+json        -> json.loads
  anything else, or none            -> json.loads as well (a lenient server that sniffs JSON)
and answers 200 with the `model`, `method` and `params.name` it read.

    python3 tests/upstreams/form_upstream.py [PORT]   # prints "listening on 127.0.0.1:PORT"
"""

import json
import sys
import urllib.parse
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def first(values):
    return values[0] if values else None


def parse(content_type, body):
    """(parser name, {"model", "method", "params_name"}) of what this server reads."""
    media = (content_type or "").split(";")[0].strip().lower()
    if media == "application/x-www-form-urlencoded":
        form = urllib.parse.parse_qs(body.decode("utf-8", "replace"))
        return "form", {
            "model": first(form.get("model")),
            "method": first(form.get("method")),
            "params_name": first(form.get("params[name]") or form.get("params.name")),
        }
    if media == "multipart/form-data":
        head = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
        message = BytesParser(policy=HTTP).parsebytes(head + body)
        fields = {}
        for part in message.iter_parts() if message.is_multipart() else []:
            name = part.get_param("name", header="content-disposition")
            if name is not None and name not in fields:
                fields[name] = part.get_payload(decode=True).decode("utf-8", "replace")
        return "multipart", {
            "model": fields.get("model"),
            "method": fields.get("method"),
            "params_name": fields.get("params[name]"),
        }
    try:
        doc = json.loads(body)
    except ValueError:
        return "json-error", {}
    if not isinstance(doc, dict):
        return "json", {}
    params = doc.get("params")
    return "json", {
        "model": doc.get("model"),
        "method": doc.get("method"),
        "params_name": params.get("name") if isinstance(params, dict) else None,
    }


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True

    def _read_body(self):
        if "chunked" in (self.headers.get("transfer-encoding") or "").lower():
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    return body
                body += self.rfile.read(size)
                self.rfile.readline()
        length = int(self.headers.get("content-length") or 0)
        return self.rfile.read(length) if length > 0 else b""

    def _answer(self):
        body = self._read_body()
        content_type = self.headers.get("content-type")
        parser, fields = parse(content_type, body)
        payload = json.dumps(
            {
                "upstream": "form",
                "method": self.command,
                "path": self.path,
                "content_type": self.headers.get_all("content-type") or [],
                "parser": parser,
                "read": fields,
                "subject": self.headers.get_all("x-gatehouse-subject") or [],
                "route": self.headers.get_all("x-gatehouse-route") or [],
                "body_bytes": len(body),
            },
            sort_keys=True,
        ).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.send_header("x-differential-upstream", "form")
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _answer

    def log_message(self, fmt, *args):
        pass


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 0
    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    print(f"listening on 127.0.0.1:{server.server_address[1]}", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
