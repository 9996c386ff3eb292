#!/usr/bin/env python3
"""Calls a chat-completions API through the official OpenAI Python SDK, as an application would,
for the API-key suite (tests/tests/credentials.rs).

    python openai_client.py BASE_URL < CALLS_JSON

CALLS_JSON (standard input, so that no key shows in a process list) is a list of
{"key": API key, "model": model}; each call is
`OpenAI(base_url=BASE_URL, api_key=key, max_retries=0).chat.completions.create(...)`, and prints
one JSON line, in order:

    {"ok": true, "model": ..., "content": the assistant message's text}
    {"ok": false, "status": HTTP status, "reason": the gateway's `reason`, "body": the error body}
    {"ok": false, "error": "<exception class>", "detail": ...}      (no HTTP answer)

Exits 0 when every call produced a line, whatever the outcomes; the caller judges them.
"""

import json
import sys

import openai


def call(base_url, key, model):
    client = openai.OpenAI(base_url=base_url, api_key=key, max_retries=0, timeout=20.0)
    try:
        completion = client.chat.completions.create(
            model=model,
            messages=[{"role": "user", "content": "Say hello."}],
        )
    except openai.APIStatusError as e:
        try:
            body = e.response.json()
        except ValueError:
            body = e.response.text
        reason = body.get("reason") if isinstance(body, dict) else None
        return {"ok": False, "status": e.status_code, "reason": reason, "body": body}
    except openai.APIError as e:
        return {"ok": False, "error": type(e).__name__, "detail": str(e)}
    finally:
        client.close()
    return {
        "ok": True,
        "model": completion.model,
        "object": completion.object,
        "content": completion.choices[0].message.content,
    }


def main():
    base_url, calls = sys.argv[1], json.load(sys.stdin)
    for c in calls:
        print(json.dumps(call(base_url, c["key"], c["model"]), sort_keys=True), flush=True)


if __name__ == "__main__":
    main()
