#!/usr/bin/env python3
"""Drives the official MCP Python SDK's client (`mcp.Client` over Streamable HTTP, pinned by
`ensure_mcp` in scripts/lib.sh) through the gateway, for the MCP authorization suite
(tests/tests/mcp.rs), as an application would.

    python mcp_client.py URL [--legacy] [--sse] [--oauth EMAIL] ACTION... < TOKEN

- URL: the MCP server's URL at the gateway.
- TOKEN (standard input, so that no token shows in a process list): a bearer token, sent as
  `Authorization: Bearer`; empty for none.
- `--legacy`: the handshake-era protocol (`mode="legacy"`: initialize, a session, SSE-capable
  answers) rather than the SDK's default (`mode="auto"`: `server/discover`, 2026-07-28).
- `--sse`: ask the test upstream for `text/event-stream` answers (`x-e2e-response: sse`).
- `--oauth EMAIL`: no token; the SDK's `OAuthClientProvider` answers the gateway's 401: it
  fetches the protected-resource metadata, the authorization server's metadata, registers a
  client, and runs the authorization-code flow with PKCE headlessly: the "browser" GETs the
  authorization URL signed in as EMAIL (`login_hint`) and hands the code back.
- ACTION: `list` (tools/list) or `call:<tool>` (tools/call with `{"query": "e2e"}`).

Prints one JSON line:

    {"connected": true, "results": [
        {"action": "list", "ok": true, "tools": [names, sorted]},
        {"action": "call:x", "ok": true, "is_error": bool, "text": the result's text},
        {"action": ..., "ok": false, "error": exception class, "code": JSON-RPC code,
         "message": ..., "data": ...}],
     "http": [every HTTP request the client made: "METHOD URL -> STATUS CONTENT-TYPE"]}
    {"connected": false, "error": ..., "code": ..., "message": ..., "data": ..., "http": [...]}

Exits 0 whenever it printed its line; the caller judges the outcome.
"""

import asyncio
import json
import sys
from urllib.parse import parse_qs, urlencode, urlparse

import anyio
import httpx2
from mcp import Client, MCPError
from mcp.client.auth import OAuthClientProvider
from mcp.client.streamable_http import streamable_http_client
from mcp.shared.auth import AuthorizationCodeResult, OAuthClientMetadata

TIMEOUT = 30
# Never contacted: the headless browser stops at the redirect and reads the code from it.
REDIRECT_URI = "http://127.0.0.1:9/callback"


class MemoryStorage:
    """The SDK's TokenStorage protocol, in memory (one run, one login)."""

    def __init__(self):
        self.tokens = None
        self.client_info = None

    async def get_tokens(self):
        return self.tokens

    async def set_tokens(self, tokens):
        self.tokens = tokens

    async def get_client_info(self):
        return self.client_info

    async def set_client_info(self, client_info):
        self.client_info = client_info


def oauth_provider(url, email, http_log):
    code = {}

    async def redirect_handler(authorization_url):
        # The browser: the user (EMAIL) signs in and approves; the server redirects back.
        separator = "&" if "?" in authorization_url else "?"
        signed_in = f"{authorization_url}{separator}{urlencode({'login_hint': email})}"
        async with httpx2.AsyncClient(follow_redirects=False, timeout=TIMEOUT) as browser:
            response = await browser.get(signed_in)
        http_log.append(f"GET {authorization_url} -> {response.status_code}")
        location = response.headers.get("location")
        if response.status_code != 302 or not location:
            raise RuntimeError(f"authorization refused ({response.status_code}): {response.text}")
        query = parse_qs(urlparse(location).query)
        code["code"] = query["code"][0]
        code["state"] = query.get("state", [None])[0]

    async def callback_handler():
        return AuthorizationCodeResult(code=code["code"], state=code["state"])

    return OAuthClientProvider(
        server_url=url,
        client_metadata=OAuthClientMetadata(
            client_name="gatehouse-e2e",
            redirect_uris=[REDIRECT_URI],
            grant_types=["authorization_code"],
            response_types=["code"],
            token_endpoint_auth_method="none",
        ),
        storage=MemoryStorage(),
        redirect_handler=redirect_handler,
        callback_handler=callback_handler,
    )


def failure(e):
    if isinstance(e, BaseExceptionGroup) and len(e.exceptions) == 1:
        return failure(e.exceptions[0])
    out = {"ok": False, "error": type(e).__name__, "message": str(e)}
    if isinstance(e, MCPError):
        out.update({"code": e.code, "message": e.message, "data": e.data})
    return out


async def act(client, action):
    if action == "list":
        listed = await client.list_tools()
        return {"action": action, "ok": True, "tools": sorted(t.name for t in listed.tools)}
    tool = action.removeprefix("call:")
    result = await client.call_tool(tool, {"query": "e2e"})
    text = "".join(getattr(block, "text", "") for block in result.content)
    return {"action": action, "ok": True, "is_error": bool(result.is_error), "text": text}


async def run(url, token, legacy, sse, oauth_email, actions):
    http_log = []

    async def log_response(response):
        kind = response.headers.get("content-type", "").split(";")[0]
        http_log.append(f"{response.request.method} {response.request.url} -> {response.status_code} {kind}")

    headers = {}
    if token:
        headers["authorization"] = f"Bearer {token}"
    if sse:
        headers["x-e2e-response"] = "sse"
    auth = oauth_provider(url, oauth_email, http_log) if oauth_email else None
    http = httpx2.AsyncClient(
        headers=headers,
        auth=auth,
        timeout=httpx2.Timeout(TIMEOUT),
        event_hooks={"response": [log_response]},
    )
    out = {"connected": False}
    try:
        with anyio.fail_after(TIMEOUT):
            async with http:
                transport = streamable_http_client(url, http_client=http)
                async with Client(transport, mode="legacy" if legacy else "auto") as client:
                    out = {"connected": True, "results": []}
                    for action in actions:
                        try:
                            out["results"].append(await act(client, action))
                        except Exception as e:  # every outcome is reported, none raised
                            out["results"].append({"action": action, **failure(e)})
    except TimeoutError:
        out.update({"error": "timeout", "message": f"no answer within {TIMEOUT} s"})
    except BaseException as e:  # the connection itself failed (refused handshake, OAuth...)
        if out.get("connected"):
            out["closing"] = failure(e)
        else:
            out.update(failure(e))
            out.pop("ok", None)
    out["http"] = http_log
    return out


def main():
    args = sys.argv[1:]
    url = args.pop(0)
    legacy = sse = False
    oauth_email = None
    actions = []
    while args:
        arg = args.pop(0)
        if arg == "--legacy":
            legacy = True
        elif arg == "--sse":
            sse = True
        elif arg == "--oauth":
            oauth_email = args.pop(0)
        else:
            actions.append(arg)
    token = sys.stdin.read().strip()
    out = asyncio.run(run(url, token, legacy, sse, oauth_email, actions))
    print(json.dumps(out, sort_keys=True, default=str), flush=True)


if __name__ == "__main__":
    main()
