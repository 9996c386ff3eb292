#!/usr/bin/env python3
"""The form-decoding upstream of the differential suite (tests/tests/differential.rs).

Picks its body parser from Content-Type, as web frameworks do (the first Content-Type header, as
http.server's `headers.get` and the CGI environ read it):
  application/x-www-form-urlencoded -> urllib.parse.parse_qs
  multipart/form-data               -> the email package's MIME parser (what cgi.FieldStorage did)
  application/json, */*+json        -> json.loads
  anything else, or none            -> json.loads as well (a lenient server that sniffs JSON)
after undoing the body's Content-Encoding as request-decompressing middleware does (each coding
of the list, last applied first: gzip/x-gzip, deflate (zlib or raw), identity; others, such as
br, are left as they are), and answers 200 with the `model`, `method` and `params.name` it read.

    python3 tests/upstreams/form_upstream.py [PORT]   # prints "listening on 127.0.0.1:PORT"
"""

import json
import urllib.parse
import zlib
from email.parser import BytesParser
from email.policy import HTTP

import serve


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


def decode(codings, body):
    """`body` with its Content-Encoding undone; (what was undone, body)."""
    undone = []
    for coding in reversed([c.strip().lower() for c in ",".join(codings).split(",") if c.strip()]):
        try:
            if coding in ("gzip", "x-gzip"):
                body = zlib.decompress(body, 16 + zlib.MAX_WBITS)
            elif coding == "deflate":
                try:
                    body = zlib.decompress(body)
                except zlib.error:
                    body = zlib.decompress(body, -zlib.MAX_WBITS)
            elif coding != "identity":
                undone.append(f"{coding}: not supported, left as is")
                continue
        except zlib.error as e:
            undone.append(f"{coding}: {e}")
            continue
        undone.append(coding)
    return undone, body


class Handler(serve.JsonHandler):
    def answer(self):
        codings = self.headers.get_all("content-encoding") or []
        decoded, body = decode(codings, self._read_body())
        content_type = self.headers.get("content-type")
        parser, fields = parse(content_type, body)
        self.reply_json(
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
                "content_encoding": codings,
                "decoded": decoded,
            },
            [("x-differential-upstream", "form")],
        )


def main():
    serve.main(Handler, 0)


if __name__ == "__main__":
    main()
