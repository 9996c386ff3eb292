#!/usr/bin/env python3
"""Writes this vector's credentials files and requests.json.

The keys are fixtures: each secret and id is derived from the key's name (SHA-256), so running
this again gives the same files. The format is Gatehouse's API key format (docs/credentials.md):
gh_key_<16 hex id>_<43 base62 secret><CRC-32 of the rest, 6 base62 digits>; the credentials
files record SHA-256 of the secret, as `gatehouse credentials create` does.
"""

import hashlib
import json
import zlib
from pathlib import Path

HERE = Path(__file__).resolve().parent
B62 = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
NOW = "2026-11-28T12:00:00Z"
CREATED = "2026-11-01T00:00:00Z"


def base62(n, width):
    out = ""
    for _ in range(width):
        out = B62[n % 62] + out
        n //= 62
    return out


def key(name, secret_seed=None):
    kid = hashlib.sha256(f"id:{name}".encode()).hexdigest()[:16]
    seed = hashlib.sha256(f"secret:{secret_seed or name}".encode()).digest()
    secret = base62(int.from_bytes(seed + seed[:8], "big"), 43)
    body = f"gh_key_{kid}_{secret}"
    text = body + base62(zlib.crc32(body.encode()), 6)
    return kid, secret, text


def record(name, principal, **fields):
    kid, secret, _ = key(name)
    out = {"id": kid, "sha256": hashlib.sha256(secret.encode()).hexdigest(),
           "principal": principal}
    if "scopes" in fields:
        out["scopes"] = fields.pop("scopes")
    out["description"] = name
    out["created"] = CREATED
    out.update(fields)
    return out


def credentials_file(tenant, records):
    return {"credentials": {"tenant": tenant,
                            "note": "Fixture keys of the credentials vector (make_vector.py)."},
            "keys": sorted(records, key=lambda r: r["id"])}


ACME = [
    record("ci-all", "virtualaccount:ci-bot"),
    record("ci-openai", "virtualaccount:ci-bot", scopes=["model:openai-main/*"]),
    record("ci-mini-use", "virtualaccount:ci-bot", scopes=["model:openai-main/gpt-4o-mini:use"]),
    record("ci-read-only", "virtualaccount:ci-bot", scopes=["model:*:read"]),
    record("ci-tools", "virtualaccount:ci-bot", scopes=["tool:github/*:use", "mcp-server:github"]),
    record("ci-revoked", "virtualaccount:ci-bot", revoked="2026-11-20T00:00:00Z"),
    record("ci-revoked-and-expired", "virtualaccount:ci-bot",
           expires="2026-11-10T00:00:00Z", revoked="2026-11-05T00:00:00Z"),
    record("ci-expired", "virtualaccount:ci-bot", expires="2026-11-20T00:00:00Z"),
    record("ci-expires-now", "virtualaccount:ci-bot", expires=NOW),
    record("ci-expires-next-second", "virtualaccount:ci-bot", expires="2026-11-28T12:00:01Z"),
    record("ci-rotated-old", "virtualaccount:ci-bot", expires="2026-11-28T13:00:00Z",
           replaced_by=key("ci-rotated-new")[0]),
    record("ci-rotated-new", "virtualaccount:ci-bot", replaces=key("ci-rotated-old")[0]),
    record("alice", "user:Alice@acme.com"),
    record("bob", "user:bob@acme.com"),
    record("old-bot", "virtualaccount:old-bot"),
    record("gone", "virtualaccount:deleted-bot"),
]
GLOBEX = [record("globex-batch", "virtualaccount:batch")]


def chat(model):
    return {"method": "POST", "path": "/api/llm/v1/chat/completions",
            "body": {"model": model, "messages": [{"role": "user", "content": "hello"}]}}


def bearer(name):
    return {"raw": key(name)[2]}


def case(name, request, token, expect, **extra):
    out = {"name": name, "request": request}
    if token is not None:
        out["token"] = token
    out.update(extra)
    out["expect"] = expect
    return out


def allow(principal, credential, **more):
    return {"decision": "allow", "status": 200, "reason": None, "tenant": "acme",
            "principal": principal, "credential": credential, **more}


def deny(status, reason, **more):
    return {"decision": "deny", "status": status, "reason": reason, **more}


CI = "virtualaccount:ci-bot"
ID = lambda name: key(name)[0]  # noqa: E731
ci_all = key("ci-all")
wrong_secret = f"gh_key_{ci_all[0]}_{key('other', 'other')[1]}"
wrong_secret += base62(zlib.crc32(wrong_secret.encode()), 6)
unknown = key("never-issued")[2]
typo = ci_all[2][:30] + ("a" if ci_all[2][30] != "a" else "b") + ci_all[2][31:]
bad_checksum = ci_all[2][:-1] + ("0" if ci_all[2][-1] != "0" else "1")
tool_call = {"method": "POST", "path": "/api/llm/mcp/github/server",
             "body": {"jsonrpc": "2.0", "id": 1, "method": "tools/call",
                      "params": {"name": "create_issue", "arguments": {}}}}
tools_list = {"method": "POST", "path": "/api/llm/mcp/github/server",
              "body": {"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}
no_resource = {"method": "GET", "path": "/api/llm/v1/models"}

CASES = [
    case("an unscoped virtual-account key uses a model its account may use",
         chat("openai-main/gpt-4o"), bearer("ci-all"),
         allow(CI, ID("ci-all"), route="chat", resource="model:openai-main/gpt-4o", action="use",
               grant="virtualaccount:ci-bot provider-account-user on provider-account:openai-main")),
    case("the same key in x-api-key", {**chat("openai-main/gpt-4o"),
                                        "headers": {"x-api-key": ci_all[2]}}, None,
         allow(CI, ID("ci-all"))),
    case("the same key in both sources", {**chat("openai-main/gpt-4o"),
                                          "headers": {"x-api-key": ci_all[2],
                                                      "authorization": "Bearer " + ci_all[2]}},
         None, allow(CI, ID("ci-all"))),
    case("two different keys in two sources", {**chat("openai-main/gpt-4o"),
                                               "headers": {"x-api-key": key("alice")[2],
                                                           "authorization": "Bearer " + ci_all[2]}},
         None, deny(400, "request_ambiguous")),
    case("an unscoped key on a route that names no resource", no_resource, bearer("ci-all"),
         allow(CI, ID("ci-all"), resource=None)),
    case("a subtree scope admits a model under it", chat("openai-main/gpt-4o-mini"),
         bearer("ci-openai"), allow(CI, ID("ci-openai"))),
    case("a subtree scope refuses a model outside it", chat("anthropic-main/claude-sonnet"),
         bearer("ci-openai"),
         deny(403, "credential_out_of_scope", principal=CI, resource="model:anthropic-main/claude-sonnet")),
    case("the unscoped key of the same account may use that model",
         chat("anthropic-main/claude-sonnet"), bearer("ci-all"), allow(CI, ID("ci-all"))),
    case("a scope never adds access: a model nobody granted", chat("openai-main/gpt-5"),
         bearer("ci-openai"), deny(403, "resource_unknown")),
    case("an exact scope with an action admits that model", chat("openai-main/gpt-4o-mini"),
         bearer("ci-mini-use"), allow(CI, ID("ci-mini-use"))),
    case("an exact scope refuses its sibling", chat("openai-main/gpt-4o"), bearer("ci-mini-use"),
         deny(403, "credential_out_of_scope")),
    case("a scope of another action refuses `use`", chat("openai-main/gpt-4o"),
         bearer("ci-read-only"), deny(403, "credential_out_of_scope")),
    case("a scoped key on a route that names no resource", no_resource, bearer("ci-openai"),
         deny(403, "credential_out_of_scope")),
    case("a scope naming nothing the account holds: the grant still decides", tool_call,
         bearer("ci-tools"), deny(403, "no_grant", principal=CI)),
    case("a tool scope refuses a model", chat("openai-main/gpt-4o"), bearer("ci-tools"),
         deny(403, "credential_out_of_scope")),
    case("a revoked key", chat("openai-main/gpt-4o"), bearer("ci-revoked"),
         deny(401, "token_revoked")),
    case("revocation is checked before expiry", chat("openai-main/gpt-4o"),
         bearer("ci-revoked-and-expired"), deny(401, "token_revoked")),
    case("an expired key", chat("openai-main/gpt-4o"), bearer("ci-expired"),
         deny(401, "token_expired")),
    case("a key whose expiry is exactly now", chat("openai-main/gpt-4o"), bearer("ci-expires-now"),
         deny(401, "token_expired")),
    case("a key expiring one second from now", chat("openai-main/gpt-4o"),
         bearer("ci-expires-next-second"), allow(CI, ID("ci-expires-next-second"))),
    case("during a rotation's grace the old key works", chat("openai-main/gpt-4o"),
         bearer("ci-rotated-old"), allow(CI, ID("ci-rotated-old"))),
    case("during a rotation's grace the new key works", chat("openai-main/gpt-4o"),
         bearer("ci-rotated-new"), allow(CI, ID("ci-rotated-new"))),
    case("a user's key", chat("openai-main/gpt-4o"), bearer("alice"),
         allow("user:alice@acme.com", ID("alice"))),
    case("a deactivated user's key", chat("openai-main/gpt-4o"), bearer("bob"),
         deny(401, "principal_inactive")),
    case("the key of an expired virtual account", chat("openai-main/gpt-4o"), bearer("old-bot"),
         deny(401, "principal_expired")),
    case("the key of a virtual account the tenant no longer has", chat("openai-main/gpt-4o"),
         bearer("gone"), deny(401, "principal_unknown")),
    case("the right id with another secret", chat("openai-main/gpt-4o"), {"raw": wrong_secret},
         deny(401, "signature_invalid")),
    case("a well-formed key no tenant issued", chat("openai-main/gpt-4o"), {"raw": unknown},
         deny(401, "credential_unknown")),
    case("another tenant's key", chat("openai-main/gpt-4o"), bearer("globex-batch"),
         deny(401, "tenant_mismatch")),
    case("the other tenant's key on its own host",
         {**chat("openai-main/gpt-4o"), "host": "globex.gw.example.com"}, bearer("globex-batch"),
         {"decision": "allow", "status": 200, "reason": None, "tenant": "globex",
          "principal": "virtualaccount:batch", "credential": ID("globex-batch")}),
    case("a typo in the secret fails the checksum", chat("openai-main/gpt-4o"), {"raw": typo},
         deny(401, "token_malformed")),
    case("a changed checksum", chat("openai-main/gpt-4o"), {"raw": bad_checksum},
         deny(401, "token_malformed")),
    case("a truncated key", chat("openai-main/gpt-4o"), {"raw": ci_all[2][:-1]},
         deny(401, "token_malformed")),
    case("the prefix alone", chat("openai-main/gpt-4o"), {"raw": "gh_key_"},
         deny(401, "token_malformed")),
    case("an upper-case prefix is no key (and no JWS)", chat("openai-main/gpt-4o"),
         {"raw": "GH_KEY_" + ci_all[2][7:]}, deny(401, "token_malformed")),
    case("public routes ignore keys", {"method": "GET", "path": "/healthz"}, {"raw": unknown},
         {"decision": "allow", "status": 200, "reason": None}),
    # Rotation grace of virtual-account tokens (`tokens_valid_after` + `rotation_grace`).
    case("a token issued before the cut-off, inside the grace",
         chat("openai-main/gpt-4o"),
         {"profile": "cp", "claims": {"sub": "virtualaccount:grace-open", "iat": 1795860000}},
         allow("virtualaccount:grace-open", None)),
    case("a token issued before the cut-off, the grace ending exactly now",
         chat("openai-main/gpt-4o"),
         {"profile": "cp", "claims": {"sub": "virtualaccount:grace-closed", "iat": 1795860000}},
         deny(401, "token_revoked")),
    case("a token issued at the cut-off needs no grace",
         chat("openai-main/gpt-4o"),
         {"profile": "cp", "claims": {"sub": "virtualaccount:grace-closed", "iat": 1795867200 - 3600}},
         allow("virtualaccount:grace-closed", None)),
    case("a token without iat is before every cut-off: grace decides",
         chat("openai-main/gpt-4o"),
         {"profile": "cp", "claims": {"sub": "virtualaccount:grace-open"}, "omit": ["iat"]},
         allow("virtualaccount:grace-open", None)),
]


def main():
    write = lambda p, v: (HERE / p).write_text(json.dumps(v, indent=2) + "\n")  # noqa: E731
    write("tenant.credentials.json", credentials_file("acme", ACME))
    write("tenant-globex.credentials.json", credentials_file("globex", GLOBEX))
    vector = {
        "description": "API keys (SPEC 2.7): every key outcome, sources, scopes, rotation; and "
                       "the rotation grace of virtual-account tokens. Generated by make_vector.py.",
        "now": NOW,
        "host": "acme.gw.example.com",
        "token_profiles": {"cp": {"key": "acme-cp", "claims": {
            "iss": "https://acme.cp.example.com", "tenant": "acme"}}},
        "cases": CASES,
    }
    lines = json.dumps(vector, indent=1)
    (HERE / "requests.json").write_text(lines + "\n")


if __name__ == "__main__":
    main()
