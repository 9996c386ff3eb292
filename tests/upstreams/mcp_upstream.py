#!/usr/bin/env python3
"""An MCP server behind the gateway, for the MCP authorization suite (tests/tests/mcp.rs).

Built on the official MCP Python SDK (`mcp`, pinned by `ensure_mcp` in scripts/lib.sh): an
`MCPServer` over Streamable HTTP at every path `/api/llm/mcp/<server>/server` (the gateway's MCP
route), with the tools

    search, create_issue, list_issues, delete_repo, secret_tool, unlisted

whatever the caller: this upstream lists and runs every tool it has, deciding nothing. What a
caller may see and call is the gateway's business. Each tool answers with one text block, the
JSON of what this upstream received from the gateway:

    {"tool": name, "arguments": {...}, "subject": x-gatehouse-subject,
     "tenant": x-gatehouse-tenant, "route": x-gatehouse-route,
     "authorization": whether an Authorization header arrived,
     "gatehouse": {every x-gatehouse-* header}}

so a test can tell that the client's token was not passed through.

Answers are JSON (`json_response=True`) unless the request carries `x-e2e-response: sse`, which
selects a second server whose answers are `text/event-stream` on the handshake-era protocol
(the SDK's 2026-07-28 protocol answers plain JSON either way).

    python mcp_upstream.py [PORT]   # prints "listening on 127.0.0.1:PORT" once it accepts
"""

import contextlib
import json
import logging
import socket
import sys

import uvicorn
from mcp.server.mcpserver import Context, MCPServer
from mcp.server.transport_security import TransportSecuritySettings

TOOLS = ["search", "create_issue", "list_issues", "delete_repo", "secret_tool", "unlisted"]
# The gateway's MCP route, for every server name; the SDK's app serves one fixed path, so the
# request's path is rewritten to it (and the server name kept for the answer).
MOUNT = "/mcp"


def seen(tool, arguments, ctx):
    headers = {k.lower(): v for k, v in (ctx.headers or {}).items()}
    return json.dumps(
        {
            "tool": tool,
            "arguments": arguments,
            "subject": headers.get("x-gatehouse-subject"),
            "tenant": headers.get("x-gatehouse-tenant"),
            "route": headers.get("x-gatehouse-route"),
            "authorization": "authorization" in headers,
            "gatehouse": {k: v for k, v in headers.items() if k.startswith("x-gatehouse-")},
        },
        sort_keys=True,
    )


def make_server():
    server = MCPServer("gatehouse-e2e-mcp")

    def add(name):
        async def tool(ctx: Context, query: str = "") -> str:
            return seen(name, {"query": query}, ctx)

        server.tool(name=name, description=f"the {name} tool", structured_output=False)(tool)

    for name in TOOLS:
        add(name)
    return server


def app_for(json_response):
    return make_server().streamable_http_app(
        streamable_http_path=MOUNT,
        json_response=json_response,
        # Envoy forwards the client's Host (127.0.0.1:<listener port>): not this server's own.
        transport_security=TransportSecuritySettings(enable_dns_rebinding_protection=False),
    )


JSON_APP = app_for(True)
SSE_APP = app_for(False)


def is_mcp_path(path):
    parts = path.split("/")
    return len(parts) == 6 and parts[:4] == ["", "api", "llm", "mcp"] and parts[5] == "server"


async def app(scope, receive, send):
    if scope["type"] == "lifespan":
        # Both SDK apps run their session managers inside their own lifespans.
        async with contextlib.AsyncExitStack() as stack:
            await stack.enter_async_context(JSON_APP.router.lifespan_context(JSON_APP))
            await stack.enter_async_context(SSE_APP.router.lifespan_context(SSE_APP))
            message = await receive()
            assert message["type"] == "lifespan.startup"
            await send({"type": "lifespan.startup.complete"})
            message = await receive()
            await send({"type": "lifespan.shutdown.complete"})
        return
    headers = dict(scope.get("headers") or [])
    target = SSE_APP if headers.get(b"x-e2e-response") == b"sse" else JSON_APP
    if scope["type"] == "http" and is_mcp_path(scope["path"]):
        scope = dict(scope, path=MOUNT, raw_path=MOUNT.encode())
    elif scope["type"] == "http":
        body = json.dumps({"error": f"no MCP server at {scope['path']}"}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": 404,
                "headers": [(b"content-type", b"application/json")],
            }
        )
        await send({"type": "http.response.body", "body": body})
        return
    await target(scope, receive, send)


def main():
    port = int(sys.argv[1]) if len(sys.argv) > 1 else 8081
    logging.getLogger("mcp").setLevel(logging.WARNING)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    # Connections made from now on wait in the backlog until uvicorn accepts them.
    print(f"listening on 127.0.0.1:{sock.getsockname()[1]}", flush=True)
    config = uvicorn.Config(app, log_level="warning", lifespan="on")
    uvicorn.Server(config).run(sockets=[sock])


if __name__ == "__main__":
    main()
