#!/usr/bin/env python3
"""A model provider's API in miniature, for the API-key suite (tests/tests/credentials.rs).

Answers `POST .../chat/completions` in the shape of OpenAI's chat-completions API (what the
official SDK parses): id, object "chat.completion", created, the request's model, one choice whose
assistant message is a JSON text of what this upstream received from the gateway:

    {"credential": x-gatehouse-credential, "subject": x-gatehouse-subject,
     "tenant": x-gatehouse-tenant, "route": x-gatehouse-route,
     "authorization": Authorization, "x-api-key": X-Api-Key,
     "gatehouse": {every x-gatehouse-* header}}

(null for a header it did not get), and usage. Anything else is a 404 in OpenAI's error shape.

    python3 tests/upstreams/openai_upstream.py [PORT]   # prints "listening on 127.0.0.1:PORT"
"""

import json
import time

import serve


class OpenAI(serve.JsonHandler):
    def answer(self):
        body = self._read_body()
        path = self.path.split("?", 1)[0]
        if self.command != "POST" or not path.endswith("/chat/completions"):
            self.reply_error(404, f"no route {self.command} {path}")
            return
        try:
            request = json.loads(body or b"{}")
        except ValueError:
            self.reply_error(400, "the body is not JSON")
            return
        headers = {k.lower(): v for k, v in self.headers.items()}
        seen = {
            "credential": headers.get("x-gatehouse-credential"),
            "subject": headers.get("x-gatehouse-subject"),
            "tenant": headers.get("x-gatehouse-tenant"),
            "route": headers.get("x-gatehouse-route"),
            "authorization": headers.get("authorization"),
            "x-api-key": headers.get("x-api-key"),
            "gatehouse": {k: v for k, v in headers.items() if k.startswith("x-gatehouse-")},
        }
        content = json.dumps(seen, sort_keys=True)
        self.reply_json(
            {
                "id": f"chatcmpl-e2e-{time.monotonic_ns()}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": request.get("model"),
                "choices": [
                    {
                        "index": 0,
                        "message": {"role": "assistant", "content": content},
                        "finish_reason": "stop",
                    }
                ],
                "usage": {"prompt_tokens": 1, "completion_tokens": 1, "total_tokens": 2},
            }
        )

    def reply_error(self, status, message):
        payload = json.dumps(
            {"error": {"message": message, "type": "invalid_request_error", "code": None}}
        ).encode()
        self.send_response(status)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)


if __name__ == "__main__":
    serve.main(OpenAI, 8081)
