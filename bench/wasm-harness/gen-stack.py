#!/usr/bin/env python3
"""Worst-case stack fixtures for `gatehouse-wasm-harness run DIR stack/` (see scripts/bench-wasm.sh).

Writes DIR/stack.json: an RS512 token signed with an 8192-bit key (the engine's RSA cap), an
HS256 token whose claims nest 64 levels deep (the JSON depth limit), and request bodies nested
64 levels (accepted) and 65 / 10,000 levels (refused without recursing further).
Needs `openssl` and Python's `cryptography`.
"""
import base64, hashlib, hmac, json, os, subprocess, sys, tempfile
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding

def b64(b):
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

def uint(n):
    return b64(n.to_bytes((n.bit_length() + 7) // 8, "big"))

out, now = sys.argv[1], int(sys.argv[2])
claims = {"iss": "https://synth.cp.example.com", "sub": "user:u17@synth.example.com",
          "aud": "gatehouse", "iat": now - 60, "exp": now + 3600}

with tempfile.TemporaryDirectory() as tmp:
    pem = os.path.join(tmp, "k.pem")
    subprocess.run(["openssl", "genrsa", "-out", pem, "8192"], check=True, capture_output=True)
    key = serialization.load_pem_private_key(open(pem, "rb").read(), None)
pub = key.public_key().public_numbers()
rsa_jwks = json.dumps({"keys": [{"kty": "RSA", "kid": "r8k", "alg": "RS512", "use": "sig",
                                 "n": uint(pub.n), "e": uint(pub.e)}]})
signing = b64(json.dumps({"alg": "RS512", "kid": "r8k", "typ": "JWT"}).encode()) + "." + \
    b64(json.dumps(claims).encode())
rs512 = signing + "." + b64(key.sign(signing.encode(), padding.PKCS1v15(), hashes.SHA512()))

secret = b"\x5a" * 32
hs_jwks = json.dumps({"keys": [{"kty": "oct", "kid": "hs", "alg": "HS256", "k": b64(secret)}]})
deep = dict(claims)
nested = "x"
for _ in range(63):  # the claims object is level 1
    nested = [nested]
deep["nested"] = nested
signing = b64(json.dumps({"alg": "HS256", "kid": "hs"}).encode()) + "." + \
    b64(json.dumps(deep, separators=(",", ":")).encode())
hs_deep = signing + "." + b64(hmac.new(secret, signing.encode(), hashlib.sha256).digest())

def body(levels):  # the body object is level 1, `messages` adds levels - 1
    return '{"model":"pa0/m0","messages":' + "[" * (levels - 1) + "]" * (levels - 1) + "}"

json.dump({"now": now,
           "tokens": [{"name": "RS512_8192", "jwks": rsa_jwks, "token": rs512},
                      {"name": "HS256_claims_depth64", "jwks": hs_jwks, "token": hs_deep}],
           "bodies": [{"name": "body_depth64", "body": body(64)},
                      {"name": "body_depth65", "body": body(65)},
                      {"name": "body_depth10000", "body": body(10000)}]},
          open(out, "w"))
