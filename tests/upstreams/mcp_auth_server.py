#!/usr/bin/env python3
"""A minimal OAuth 2.1 authorization server, for the MCP authorization suite (tests/tests/mcp.rs).

It plays the tenant's identity provider that the gateway's protected-resource metadata names:
the official MCP client finds it there and runs the authorization-code flow against it.

- `GET /.well-known/oauth-authorization-server`: RFC 8414 metadata, `issuer` = this server's URL
  (`http://127.0.0.1:PORT`, what the tenant file names as the provider's issuer).
- `POST /register`: RFC 7591 dynamic client registration, public clients only
  (`token_endpoint_auth_method: none`).
- `GET /authorize`: approves at once (no login page) for the user named by `login_hint` (the
  headless client adds it, as a browser's login would), and redirects to the client's registered
  `redirect_uri` with a code. PKCE S256 is required.
- `POST /token`: `authorization_code` only; checks the client, redirect URI, PKCE verifier and
  that `resource` (RFC 8707) is the one authorized, then issues an RS256 JWT:
  `iss`, `sub` and `email` (the user), `aud` (the `resource`), `scope` (the requested scopes),
  `iat`, `exp`, `jti`; header `kid`.
- `GET /_e2e/requests`: every request this server answered (method, path, query or form), for
  the test to check what the client sent.

The signing key is generated at start and written to KEY_DIR as `as.private.jwk.json` (the
private JWK, which the test also mints tokens with) and `as.jwks.json` (the public JWK Set the
tenant file lists) before the port is announced.

    python mcp_auth_server.py PORT KEY_DIR   # prints "listening on 127.0.0.1:PORT"
"""

import base64
import hashlib
import json
import secrets
import socket
import sys
import time
from pathlib import Path
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse
from starlette.routing import Route

TOKEN_TTL = 600

state = {"issuer": None, "key": None, "kid": None, "clients": {}, "codes": {}, "log": []}


def error(status, code, description):
    return JSONResponse({"error": code, "error_description": description}, status_code=status)


async def record(request, fields):
    state["log"].append(
        {"method": request.method, "path": request.url.path, "params": dict(fields)}
    )


async def metadata(request: Request):
    await record(request, request.query_params)
    issuer = state["issuer"]
    return JSONResponse(
        {
            "issuer": issuer,
            "authorization_endpoint": f"{issuer}/authorize",
            "token_endpoint": f"{issuer}/token",
            "registration_endpoint": f"{issuer}/register",
            "response_types_supported": ["code"],
            "grant_types_supported": ["authorization_code"],
            "code_challenge_methods_supported": ["S256"],
            "token_endpoint_auth_methods_supported": ["none"],
        }
    )


async def register(request: Request):
    try:
        body = await request.json()
    except ValueError:
        return error(400, "invalid_client_metadata", "not JSON")
    await record(request, {k: json.dumps(v) for k, v in body.items()})
    redirect_uris = body.get("redirect_uris") or []
    if not redirect_uris:
        return error(400, "invalid_redirect_uri", "no redirect_uris")
    client_id = "e2e-client-" + secrets.token_hex(8)
    client = {
        "client_id": client_id,
        "client_id_issued_at": int(time.time()),
        "redirect_uris": redirect_uris,
        "grant_types": ["authorization_code"],
        "response_types": ["code"],
        "token_endpoint_auth_method": "none",
        "client_name": body.get("client_name"),
    }
    if body.get("scope"):
        client["scope"] = body["scope"]
    state["clients"][client_id] = client
    return JSONResponse(client, status_code=201)


async def authorize(request: Request):
    q = request.query_params
    await record(request, q)
    client = state["clients"].get(q.get("client_id", ""))
    if client is None:
        return error(400, "invalid_client", "unknown client_id")
    redirect_uri = q.get("redirect_uri")
    if redirect_uri not in client["redirect_uris"]:
        return error(400, "invalid_request", "redirect_uri not registered")
    if q.get("response_type") != "code":
        return error(400, "unsupported_response_type", "code only")
    if q.get("code_challenge_method") != "S256" or not q.get("code_challenge"):
        return error(400, "invalid_request", "PKCE S256 required")
    email = q.get("login_hint")
    if not email:
        return error(400, "login_required", "no login_hint: nobody signed in")
    code = secrets.token_urlsafe(24)
    state["codes"][code] = {
        "client_id": client["client_id"],
        "redirect_uri": redirect_uri,
        "challenge": q["code_challenge"],
        "resource": q.get("resource"),
        "scope": q.get("scope"),
        "email": email,
    }
    params = {"code": code}
    if q.get("state") is not None:
        params["state"] = q["state"]
    return RedirectResponse(f"{redirect_uri}?{urlencode(params)}", status_code=302)


async def token(request: Request):
    form = await request.form()
    await record(request, {k: v for k, v in form.items() if k != "code_verifier"})
    if form.get("grant_type") != "authorization_code":
        return error(400, "unsupported_grant_type", "authorization_code only")
    grant = state["codes"].pop(form.get("code", ""), None)
    if grant is None:
        return error(400, "invalid_grant", "unknown or used code")
    if form.get("client_id") != grant["client_id"]:
        return error(400, "invalid_grant", "code issued to another client")
    if form.get("redirect_uri") != grant["redirect_uri"]:
        return error(400, "invalid_grant", "redirect_uri differs")
    verifier = form.get("code_verifier", "")
    digest = hashlib.sha256(verifier.encode()).digest()
    if base64.urlsafe_b64encode(digest).decode().rstrip("=") != grant["challenge"]:
        return error(400, "invalid_grant", "PKCE verifier does not match")
    resource = form.get("resource") or grant["resource"]
    if grant["resource"] is not None and resource != grant["resource"]:
        return error(400, "invalid_target", "resource differs from the authorized one")
    if not resource:
        return error(400, "invalid_target", "no resource: this server issues audience-bound tokens only")
    now = int(time.time())
    claims = {
        "iss": state["issuer"],
        "sub": grant["email"],
        "email": grant["email"],
        "aud": resource,
        "iat": now,
        "exp": now + TOKEN_TTL,
        "jti": secrets.token_hex(12),
    }
    if grant["scope"]:
        claims["scope"] = grant["scope"]
    access_token = jwt.encode(claims, state["key"], algorithm="RS256", headers={"kid": state["kid"]})
    answer = {"access_token": access_token, "token_type": "Bearer", "expires_in": TOKEN_TTL}
    if grant["scope"]:
        answer["scope"] = grant["scope"]
    return JSONResponse(answer, headers={"cache-control": "no-store"})


async def requests_log(_request: Request):
    return JSONResponse(state["log"])


app = Starlette(
    routes=[
        Route("/.well-known/oauth-authorization-server", metadata, methods=["GET"]),
        Route("/register", register, methods=["POST"]),
        Route("/authorize", authorize, methods=["GET"]),
        Route("/token", token, methods=["POST"]),
        Route("/_e2e/requests", requests_log, methods=["GET"]),
    ]
)


def write_keys(key_dir):
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(RSAAlgorithm.to_jwk(key.public_key()))
    kid = "e2e-as-" + secrets.token_hex(4)
    public.update({"kid": kid, "alg": "RS256", "use": "sig"})
    private = json.loads(RSAAlgorithm.to_jwk(key))
    private.update({"kid": kid, "alg": "RS256", "use": "sig"})
    key_dir.mkdir(parents=True, exist_ok=True)
    (key_dir / "as.private.jwk.json").write_text(json.dumps(private, indent=2) + "\n")
    (key_dir / "as.jwks.json").write_text(json.dumps({"keys": [public]}, indent=2) + "\n")
    state["key"], state["kid"] = key, kid


def main():
    port, key_dir = int(sys.argv[1]), Path(sys.argv[2])
    write_keys(key_dir)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(128)
    state["issuer"] = f"http://127.0.0.1:{sock.getsockname()[1]}"
    print(f"listening on 127.0.0.1:{sock.getsockname()[1]}", flush=True)
    uvicorn.Server(uvicorn.Config(app, log_level="warning", lifespan="off")).run(sockets=[sock])


if __name__ == "__main__":
    main()
