#!/usr/bin/env python3
"""The forwarding-header upstream of the differential suite (tests/tests/differential.rs).

A WSGI application under wsgiref, as services behind a proxy rebuild their own URL: from the
CGI environ (where `-` and `_` in a header name both become `_`), it reads the host, port and
path prefix the way these frameworks do when told to trust the proxy:

  rack     Rack::Request (3.x): `Forwarded` host= (last element), else the last
           X-Forwarded-Host value; X-Forwarded-Port (last); SCRIPT_NAME
  express  req.hostname: the first X-Forwarded-Host value, else Host
  spring   ForwardedHeaderFilter: `Forwarded` host= (first element), else the first
           X-Forwarded-Host value, X-Forwarded-Port, X-Forwarded-Prefix as the context path
  other    what single-purpose middlewares read: X-Host, X-Original-Host, X-Forwarded-Server,
           X-HTTP-Host-Override (host), X-Forwarded-Path, X-Forwarded-Uri, X-Original-Uri
           (path), X-Script-Name (prefix)

and answers 200 with each reading and every forwarding header it got. Behind Gatehouse no
forwarding header may reach it: each reading is then the Host the client sent.

    python3 tests/upstreams/forwarded_upstream.py [PORT]   # prints "listening on 127.0.0.1:PORT"
"""

import json
import sys
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer, make_server

import serve

# The CGI names of the host- and prefix-override headers (any spelling on the wire).
FORWARDING = [
    "HTTP_FORWARDED",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_SERVER",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PREFIX",
    "HTTP_X_FORWARDED_PATH",
    "HTTP_X_FORWARDED_URI",
    "HTTP_X_ORIGINAL_HOST",
    "HTTP_X_ORIGINAL_URI",
    "HTTP_X_HOST",
    "HTTP_X_HTTP_HOST_OVERRIDE",
    "HTTP_X_SCRIPT_NAME",
]


class Handler(WSGIRequestHandler):
    def get_environ(self):
        env = super().get_environ()
        env["RAW_URI"] = self.path  # as gunicorn and uWSGI provide it
        return env

    def log_message(self, fmt, *args):  # keep test output quiet
        pass


def values(environ, key):
    """A comma-separated header as a list (wsgiref joins repeated headers with `,`)."""
    raw = environ.get(key)
    return [v.strip() for v in raw.split(",")] if raw else []


def forwarded_hosts(environ):
    """The host= parameter of each `Forwarded` element (RFC 7239), in order."""
    hosts = []
    for element in values(environ, "HTTP_FORWARDED"):
        for pair in element.split(";"):
            name, _, value = pair.strip().partition("=")
            if name.strip().lower() == "host":
                hosts.append(value.strip().strip('"'))
    return hosts


def readings(environ):
    host = environ.get("HTTP_HOST", "")
    fwd = forwarded_hosts(environ)
    xfh = values(environ, "HTTP_X_FORWARDED_HOST")
    xfport = values(environ, "HTTP_X_FORWARDED_PORT")
    rack_host = (fwd[-1] if fwd else None) or (xfh[-1] if xfh else None) or host
    if xfport:
        rack_host = rack_host.rsplit(":", 1)[0] + ":" + xfport[-1]
    spring_host = (fwd[0] if fwd else None) or (xfh[0] if xfh else None) or host
    if xfport and not fwd:
        spring_host = spring_host.rsplit(":", 1)[0] + ":" + xfport[0]
    other_host = host
    for key in ("HTTP_X_HOST", "HTTP_X_ORIGINAL_HOST", "HTTP_X_FORWARDED_SERVER",
                "HTTP_X_HTTP_HOST_OVERRIDE"):
        if environ.get(key):
            other_host = environ[key]
            break
    other_path = environ.get("PATH_INFO", "")
    for key in ("HTTP_X_FORWARDED_PATH", "HTTP_X_FORWARDED_URI", "HTTP_X_ORIGINAL_URI"):
        if environ.get(key):
            other_path = environ[key]
            break
    return {
        "rack": {"host": rack_host, "prefix": environ.get("SCRIPT_NAME", "")},
        "express": {"host": xfh[0] if xfh else host},
        "spring": {"host": spring_host, "prefix": environ.get("HTTP_X_FORWARDED_PREFIX", "")},
        "other": {
            "host": other_host,
            "path": other_path,
            "prefix": environ.get("HTTP_X_SCRIPT_NAME", ""),
        },
    }


def app(environ, start_response):
    length = int(environ.get("CONTENT_LENGTH") or 0)
    if length > 0:
        environ["wsgi.input"].read(length)
    payload = json.dumps(
        {
            "upstream": "forwarded",
            "host": environ.get("HTTP_HOST", ""),
            "path": environ.get("PATH_INFO", ""),
            "raw_uri": environ.get("RAW_URI", ""),
            "read": readings(environ),
            "forwarding": {k: environ[k] for k in FORWARDING if k in environ},
            "subject": environ.get("HTTP_X_GATEHOUSE_SUBJECT"),
            "route": environ.get("HTTP_X_GATEHOUSE_ROUTE"),
            "tenant": environ.get("HTTP_X_GATEHOUSE_TENANT"),
        },
        sort_keys=True,
    ).encode()
    start_response(
        "200 OK",
        [
            ("Content-Type", "application/json"),
            ("Content-Length", str(len(payload))),
            ("X-Differential-Upstream", "forwarded"),
        ],
    )
    return [payload]


def main():
    port = serve.port_arg(0)
    server = make_server("127.0.0.1", port, app, server_class=WSGIServer, handler_class=Handler)
    serve.serve(server)


if __name__ == "__main__":
    sys.exit(main())
