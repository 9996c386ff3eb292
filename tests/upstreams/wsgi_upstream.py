#!/usr/bin/env python3
"""The WSGI upstream of the differential suite (tests/tests/differential.rs).

A WSGI application under the standard library's reference server (wsgiref.simple_server), as
Python services behind a gateway read requests: headers through the CGI environ, where `-` and
`_` in a header name both become `_` (`x_gatehouse_subject` and `x-gatehouse-subject` are both
HTTP_X_GATEHOUSE_SUBJECT; wsgiref joins repeats with `,`). Answers 200 with JSON of the environ
keys it got.

wsgiref keeps header names with `_` (checked on Python 3.11): it does not drop them the way
gunicorn (22+), waitress, eventlet and werkzeug's development server (2.3+) do, so a forged
`x_gatehouse_subject` reaches the application as HTTP_X_GATEHOUSE_SUBJECT unless the proxy
refuses or removes it. That is the mapping the differential suite needs.

    python3 tests/upstreams/wsgi_upstream.py [PORT]   # prints "listening on 127.0.0.1:PORT"
"""

import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import serve

KEYS = [
    "REQUEST_METHOD",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "RAW_URI",
    "HTTP_X_GATEHOUSE_SUBJECT",
    "HTTP_X_GATEHOUSE_TENANT",
    "HTTP_X_GATEHOUSE_ROUTE",
    "HTTP_X_HTTP_METHOD_OVERRIDE",
    "HTTP_X_ORIGINAL_URL",
    "HTTP_X_REWRITE_URL",
    "HTTP_X_HTTP_METHOD",
    "HTTP_X_METHOD_OVERRIDE",
]


class Handler(WSGIRequestHandler):
    def get_environ(self):
        env = super().get_environ()
        env["RAW_URI"] = self.path  # as gunicorn and uWSGI provide it
        return env

    def log_message(self, fmt, *args):  # keep test output quiet
        pass


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    body = environ["wsgi.input"].read(length) if length > 0 else b""
    seen = {k: environ[k] for k in KEYS if k in environ}
    payload = json.dumps(
        {
            "upstream": "wsgi",
            "python": sys.version.split()[0],
            "environ": seen,
            # Every HTTP_X_GATEHOUSE_* key, whatever the spelling on the wire.
            "gatehouse": {k: v for k, v in environ.items() if k.startswith("HTTP_X_GATEHOUSE")},
            "body_bytes": len(body),
        },
        sort_keys=True,
    ).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("X-Differential-Upstream", "wsgi"),
        ],
    )
    return [payload]


def main():
    port = serve.port_arg(0)
    serve.serve(make_server("127.0.0.1", port, app, server_class=WSGIServer, handler_class=Handler))


if __name__ == "__main__":
    main()
