#!/usr/bin/env python3
"""A tiny HTTP upstream for the Gatehouse demo and end-to-end tests.

Answers every request with 200 and a JSON echo of what it received:
{"method": ..., "path": ..., "headers": {name: value, ...}, "body_bytes": N}
so the identity headers the filter adds (x-gatehouse-*) are visible to the caller.

    python3 scripts/echo_upstream.py [PORT]      # default 8080, listens on 127.0.0.1
Prints "listening on 127.0.0.1:PORT" once ready (PORT 0 picks a free port).
"""

import os
import sys

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "upstreams"))
import serve  # noqa: E402  (tests/upstreams/serve.py: the shared HTTP server boilerplate)


class Echo(serve.JsonHandler):
    def answer(self):
        body = self._read_body()
        self.reply_json(
            {
                "method": self.command,
                "path": self.path,
                "headers": {k.lower(): v for k, v in self.headers.items()},
                "body_bytes": len(body),
            }
        )


def main():
    serve.main(Echo, 8080)


if __name__ == "__main__":
    main()
