#!/usr/bin/env python3
"""Writes this vector's credentials file and requests.json.

The API key is a fixture, derived from its name as in ../credentials/make_vector.py (SHA-256), so
running this again gives the same files.
"""

import hashlib
import json
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOW = "2026-11-28T12:00:00Z"
HOST = "acme.gw.example.com"
OKTA = "https://acme.okta.com/oauth2/default"
GITHUB_SSO = "https://sso.github.example.com"
WELL_KNOWN = "/.well-known/oauth-protected-resource"
GITHUB = "/api/llm/mcp/github/server"
JIRA = "/api/llm/mcp/jira/server"
ORIGIN = f"https://{HOST}"


def base62(n, width):
    out = ""
    for _ in range(width):
        out = B62[n % 62] + out
        n //= 62
    return out


def key(name):
    kid = hashlib.sha256(f"id:{name}".encode()).hexdigest()[:16]
    seed = hashlib.sha256(f"secret:{name}".encode()).digest()
    secret = base62(int.from_bytes(seed + seed[:8], "big"), 43)
    body = f"gh_key_{kid}_{secret}"
    return kid, secret, body + base62(zlib.crc32(body.encode()), 6)


def record(name, principal):
    kid, secret, _ = key(name)
    return {"id": kid, "sha256": hashlib.sha256(secret.encode()).hexdigest(),
            "principal": principal, "description": name, "created": "2026-11-01T00:00:00Z"}


def document(path):
    # The compiled tenant lists its identity providers by name: github-sso, then okta.
    return {"resource": ORIGIN + path, "authorization_servers": [GITHUB_SSO, OKTA],
            "scopes_supported": ["mcp.tools"], "bearer_methods_supported": ["header"]}


def challenge(path, error=None, scope="mcp.tools"):
    out = 'Bearer realm="acme"'
    if error:
        out += f', error="{error}"'
    if scope:
        out += f', scope="{scope}"'
    return out + f', resource_metadata="{ORIGIN}{WELL_KNOWN}{path}"'


def call(tool, path=GITHUB, rpc_id=1):
    body = {"jsonrpc": "2.0", "method": "tools/call", "params": {"name": tool, "arguments": {}}}
    if rpc_id is not None:
        body["id"] = rpc_id
    return {"method": "POST", "path": path, "body": body}


def get(path, **more):
    return {"method": "GET", "path": path, **more}


def okta(**claims):
    return {"profile": "okta", "claims": claims}


def case(name, request, expect, token=None, **extra):
    out = {"name": name, "request": request}
    if token is not None:
        out["token"] = token
    out.update(extra)
    out["expect"] = expect
    return out


def respond(path):
    return {"decision": "respond", "status": 200, "reason": None, "document": document(path)}


def allow(principal="user:alice@acme.com", **more):
    return {"decision": "allow", "status": 200, "reason": None, "tenant": "acme",
            "principal": principal, "www_authenticate": None, **more}


def deny(status, reason, www_authenticate=None, **more):
    return {"decision": "deny", "status": status, "reason": reason,
            "www_authenticate": www_authenticate, "document": None, **more}


API_KEY = key("mcp-ci")

CASES = [
    # Metadata (RFC 9728): one document per server behind the route, no token needed.
    case("metadata of the github server", get(WELL_KNOWN + GITHUB), respond(GITHUB)),
    case("metadata of the jira server", get(WELL_KNOWN + JIRA), respond(JIRA)),
    case("metadata ignores a token and the query string",
         get(WELL_KNOWN + GITHUB + "?x=1"), respond(GITHUB), token=okta()),
    case("the root form names no one resource here: decided as any request",
         get(WELL_KNOWN), deny(403, "no_route")),
    case("metadata of a route that is not protected: decided as any request",
         get(WELL_KNOWN + "/api/plain/github"), deny(403, "no_route")),
    case("metadata is answered for GET only",
         {"method": "POST", "path": WELL_KNOWN + GITHUB, "body": {}}, deny(403, "no_route")),
    case("metadata on an unknown host", get(WELL_KNOWN + GITHUB, host="evil.example.com"),
         deny(403, "tenant_unknown")),
    # Challenges: every 401 on a protected route points at the metadata.
    case("no token: a challenge with the scope and the metadata",
         call("create_issue"), deny(401, "token_missing", challenge(GITHUB), route="mcp")),
    case("an expired token: invalid_token too", call("create_issue"),
         deny(401, "token_expired", challenge(GITHUB, "invalid_token")),
         token=okta(exp=1795860000)),
    case("no token on the route without scopes", call("create_issue", "/mcp/github"),
         deny(401, "token_missing", challenge("/mcp/github", scope=None))),
    case("no token on a route that is not protected: the bare challenge",
         call("create_issue", "/api/plain/github"),
         deny(401, "token_missing", 'Bearer realm="acme"')),
    # Audience (RFC 8707).
    case("aud is the canonical resource URL", call("create_issue"),
         allow(route="mcp", resource="tool:github/create_issue", action="use"), token=okta()),
    case("aud is the configured audience", call("create_issue"), allow(),
         token=okta(aud=["api://mcp", "other"])),
    case("aud is another server's URL", call("create_issue"),
         deny(401, "audience_mismatch", challenge(GITHUB, "invalid_token")),
         token=okta(aud=ORIGIN + JIRA)),
    case("aud with another scheme", call("create_issue"),
         deny(401, "audience_mismatch", challenge(GITHUB, "invalid_token")),
         token=okta(aud="http://acme.gw.example.com" + GITHUB)),
    case("no aud", call("create_issue"),
         deny(401, "audience_mismatch", challenge(GITHUB, "invalid_token")),
         token={"profile": "okta", "omit": ["aud"]}),
    case("the route without audiences takes its own URL",
         call("create_issue", "/mcp/github"), allow(route="mcp-rpc"),
         token=okta(aud=ORIGIN + "/mcp/github")),
    case("a token for the github server on the other route",
         call("create_issue", "/mcp/github"),
         deny(401, "audience_mismatch", challenge("/mcp/github", "invalid_token", scope=None)),
         token=okta()),
    case("a token on a route that is not protected is bound to nothing",
         call("create_issue", "/api/plain/github"), allow(route="plain"), token=okta(aud="x")),
    # Scopes.
    case("scope lacks the route's scope", call("create_issue"),
         deny(403, "insufficient_scope", challenge(GITHUB, "insufficient_scope")),
         token=okta(scope="mcp.read")),
    case("no scope at all", call("create_issue"),
         deny(403, "insufficient_scope", challenge(GITHUB, "insufficient_scope")),
         token={"profile": "okta", "omit": ["scope"]}),
    case("scp as an array", call("create_issue"), allow(),
         token={"profile": "okta", "claims": {"scp": ["mcp.read", "mcp.tools"]}, "omit": ["scope"]}),
    case("scp as a string", call("create_issue"), allow(),
         token={"profile": "okta", "claims": {"scp": "mcp.tools mcp.read"}, "omit": ["scope"]}),
    case("scope and scp agreeing", call("create_issue"), allow(),
         token=okta(scope="mcp.tools", scp=["mcp.tools"])),
    case("scope and scp disagreeing", call("create_issue"),
         deny(401, "token_malformed", challenge(GITHUB, "invalid_token")),
         token=okta(scope="mcp.tools", scp=["mcp.read"])),
    # API keys are not OAuth tokens: no audience, no scope.
    case("an API key on the protected route", call("create_issue"),
         allow("virtualaccount:ci-bot", credential=API_KEY[0]), token={"raw": API_KEY[2]}),
    case("an API key in x-api-key on the protected route",
         {**call("create_issue"), "headers": {"x-api-key": API_KEY[2]}},
         allow("virtualaccount:ci-bot", credential=API_KEY[0])),
    # Refusals after authentication carry no challenge.
    case("a user without a grant", call("create_issue"), deny(403, "no_grant"),
         token=okta(email="bob@acme.com")),
    case("a disabled tool", call("delete_repo"), deny(403, "resource_disabled"), token=okta()),
    case("a refused notification on a JSON-RPC refusal route is an HTTP denial",
         call("create_issue", "/mcp/github", rpc_id=None), deny(403, "no_grant"),
         token=okta(email="bob@acme.com", aud=ORIGIN + "/mcp/github")),
]


def main():
    creds = {"credentials": {"tenant": "acme",
                             "note": "Fixture key of the mcp vector (make_vector.py)."},
             "keys": [record("mcp-ci", "virtualaccount:ci-bot")]}
    (HERE / "tenant.credentials.json").write_text(json.dumps(creds, indent=2) + "\n")
    vector = {
        "description": "MCP routes as OAuth protected resources (SPEC 3.4): metadata documents, "
                       "challenges, audience and scope binding of tokens, API keys. Generated "
                       "by make_vector.py.",
        "now": NOW,
        "host": HOST,
        "token_profiles": {"okta": {"key": "okta", "claims": {
            "iss": OKTA, "email": "alice@acme.com", "aud": ORIGIN + GITHUB,
            "scope": "mcp.tools"}}},
        "cases": CASES,
    }
    (HERE / "requests.json").write_text(json.dumps(vector, indent=1) + "\n")


if __name__ == "__main__":
    main()
