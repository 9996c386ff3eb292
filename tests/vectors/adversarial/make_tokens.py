#!/usr/bin/env python3
"""Generates the adversarial token suite: tests/vectors/adversarial/requests.json, a golden vector
(format in tests/vectors/README.md), and, once, the keys.

Tokens are made with real JOSE libraries (PyJWT and jwcrypto from PyPI) wherever a library
agrees to make them, and by hand (still signed with PyJWT's algorithm implementations, so the
signature is genuine) where the library refuses or cannot express the attack. Every case's `note`
starts with which one made it.

    python3 -m venv /tmp/advvenv && /tmp/advvenv/bin/pip install jwcrypto PyJWT
    /tmp/advvenv/bin/python tests/vectors/adversarial/make_tokens.py

Keys under keys/ are generated only when missing (they are committed, test-only). ES256/ES384 and
PS256 signatures are randomised, so regenerating changes those tokens but not what the cases
expect. README.md next to this file describes the suite.
"""

import base64
import calendar
import hashlib
import hmac
import importlib.metadata
import json
import os
import sys
from datetime import datetime, timezone

import jwcrypto
import jwcrypto.jwt
import jwt
from jwcrypto import jwe as jwc_jwe
from jwcrypto import jwk as jwc_jwk
from jwcrypto import jws as jwc_jws
from jwt.algorithms import get_default_algorithms

HERE = os.path.dirname(os.path.abspath(__file__))
KEYS_DIR = os.path.join(HERE, "keys")


def ts(text):
    return calendar.timegm(datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").timetuple())


NOW_TEXT = "2026-11-28T12:00:00Z"
NOW = ts(NOW_TEXT)
# Long but fixed: valid at NOW and at any real time before 2036, so the same tokens replay
# through Envoy with its real clock.
IAT = ts("2026-01-01T00:00:00Z")
EXP = ts("2036-01-01T00:00:00Z")
# ci-bot's tokens_valid_after is 2026-06-01: its good tokens are issued after that.
VA_IAT = ts("2026-07-01T00:00:00Z")
SKEW = 60
# Times at which every case not marked `now_only` must give its answer too (see README.md).
ALSO_AT = ["2027-01-15T08:00:00Z", "2030-01-01T00:00:00Z", "2035-12-31T00:00:00Z"]

ACME_HOST = "acme.adv.test"
GLOBEX_HOST = "globex.adv.test"
ACME_PATH = "/api/prompts/prompts/summarize"
GLOBEX_PATH = "/api/prompts/playbooks/quarterly-report"
ACME_CP = "https://cp.acme.adv.test"
ACME_AUD = "https://acme.adv.test"
GLOBEX_CP = "https://cp.globex.adv.test"
OKTA = "https://okta.acme.adv.test"
CI = "https://ci.adv.test"
LEGACY = "https://legacy.acme.adv.test"
GLOBEX_SSO = "https://sso.globex.adv.test"

# name -> (kty, params, kid, alg pinned in the public JWK Set or None)
KEY_SPECS = {
    "acme-es256": ("EC", {"crv": "P-256"}, "acme-es256", None),
    "acme-es384": ("EC", {"crv": "P-384"}, "acme-es384", None),
    "acme-rs256": ("RSA", {"size": 2048}, "acme-rs256", "RS256"),
    "acme-rsa": ("RSA", {"size": 2048}, "acme-rsa", None),
    "acme-ed25519": ("OKP", {"crv": "Ed25519"}, "acme-ed25519", None),
    "okta": ("RSA", {"size": 2048}, "okta-1", None),
    "ci": ("OKP", {"crv": "Ed25519"}, "ci-1", None),
    "legacy-hs": ("oct", {"size": 256}, "legacy-hs-1", "HS256"),
    "globex-es256": ("EC", {"crv": "P-256"}, "globex-es256", None),
    "globex-sso": ("EC", {"crv": "P-256"}, "globex-sso-1", None),
    "attacker-es256": ("EC", {"crv": "P-256"}, "attacker-es256", None),
    "attacker-rsa": ("RSA", {"size": 2048}, "attacker-rsa", None),
    "attacker-ed25519": ("OKP", {"crv": "Ed25519"}, "attacker-ed25519", None),
    "attacker-hs": ("oct", {"size": 256}, "attacker-hs", "HS256"),
}
# Public JWK Sets the tenant files point at: file name -> key names.
JWKS_FILES = {
    "acme-cp": ["acme-es256", "acme-es384", "acme-rs256", "acme-rsa", "acme-ed25519"],
    "okta": ["okta"],
    "ci": ["ci"],
    "legacy-hs": ["legacy-hs"],
    "globex-cp": ["globex-es256"],
    "globex-sso": ["globex-sso"],
}


# ------------------------------------------------------------------------------------------------
# Keys


def ensure_keys():
    os.makedirs(KEYS_DIR, exist_ok=True)
    for name, (kty, params, kid, _alg) in KEY_SPECS.items():
        path = os.path.join(KEYS_DIR, f"{name}.private.jwk.json")
        if os.path.exists(path):
            continue
        key = jwc_jwk.JWK.generate(kty=kty, kid=kid, **params)
        private = key.export(as_dict=True) if kty == "oct" else key.export_private(as_dict=True)
        private["alg"] = default_alg(kty, params)
        with open(path, "w") as f:
            json.dump(private, f, indent=2, sort_keys=True)
            f.write("\n")
    for file_name, names in JWKS_FILES.items():
        keys = []
        for name in names:
            kty, _params, kid, alg = KEY_SPECS[name]
            key = load_jwk(name)
            # The symmetric "key set" is the secret itself: there is no public half.
            public = key.export(as_dict=True) if kty == "oct" else key.export_public(as_dict=True)
            public["kid"] = kid
            public["use"] = "sig"
            public.pop("alg", None)
            if alg:
                public["alg"] = alg
            keys.append(dict(sorted(public.items())))
        with open(os.path.join(KEYS_DIR, f"{file_name}.jwks.json"), "w") as f:
            json.dump({"keys": keys}, f, indent=2)
            f.write("\n")


def default_alg(kty, params):
    if kty == "EC":
        return {"P-256": "ES256", "P-384": "ES384"}[params["crv"]]
    return {"RSA": "RS256", "OKP": "EdDSA", "oct": "HS256"}[kty]


def load_jwk(name):
    with open(os.path.join(KEYS_DIR, f"{name}.private.jwk.json")) as f:
        return jwc_jwk.JWK(**json.load(f))


def pyjwt_key(name):
    """The private key as PyJWT (cryptography) wants it."""
    kty = KEY_SPECS[name][0]
    key = load_jwk(name)
    text = key.export() if kty == "oct" else key.export_private()
    algs = get_default_algorithms()
    family = {"RSA": "RS256", "EC": "ES256", "OKP": "EdDSA", "oct": "HS256"}[kty]
    return algs[family].from_jwk(text)


def public_pem(name):
    return load_jwk(name).export_to_pem(private_key=False, password=None)


def kid(name):
    return KEY_SPECS[name][2]


# ------------------------------------------------------------------------------------------------
# Token helpers


def b64(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def compact(obj):
    return json.dumps(obj, separators=(",", ":")).encode()


def sig_bytes(alg, key_name, message):
    """A genuine signature with PyJWT's implementation of `alg` (raw r||s for ECDSA)."""
    algorithm = get_default_algorithms()[alg]
    return algorithm.sign(message, pyjwt_key(key_name))


def raw(alg, key_name, header_bytes, payload_bytes):
    """Hand-assembled JWS over exact header/payload bytes, signed for real."""
    signing_input = f"{b64(header_bytes)}.{b64(payload_bytes)}"
    return f"{signing_input}.{b64(sig_bytes(alg, key_name, signing_input.encode()))}"


DROP = object()


def claims(base="acme", **changes):
    profiles = {
        "acme": {"iss": ACME_CP, "tenant": "acme", "sub": "user:carol@acme.com", "aud": ACME_AUD},
        "okta": {"iss": OKTA, "aud": "api://gateway", "sub": "00u1", "email": "carol@acme.com"},
        "ci": {"iss": CI, "repository": "acme/infra", "sub": "repo:acme/infra"},
        "legacy": {"iss": LEGACY, "email": "carol@acme.com"},
        "globex": {"iss": GLOBEX_CP, "tenant": "globex", "sub": "user:hank@globex.com"},
        "globex-sso": {"iss": GLOBEX_SSO, "email": "hank@globex.com"},
    }
    out = dict(profiles[base])
    out["iat"] = VA_IAT if base == "ci" else IAT
    out["exp"] = EXP
    for k, v in changes.items():
        if v is DROP:
            out.pop(k, None)
        else:
            out[k] = v
    return out


def pyjwt(alg, key_name, payload, headers=None, with_kid=True):
    h = {"kid": kid(key_name)} if with_kid else {}
    h.update(headers or {})
    return jwt.encode(payload, pyjwt_key(key_name), algorithm=alg, headers=h)


def split(token):
    return token.split(".")


def swap_header(token, header_obj):
    """Replace the header segment, keeping payload and signature."""
    _, p, s = split(token)
    return f"{b64(compact(header_obj))}.{p}.{s}"


# ------------------------------------------------------------------------------------------------
# The cases


CASES = []


def case(name, category, token, status, reason, *, library, host=ACME_HOST, path=ACME_PATH,
         note=None, fixed_clock=False, token_hex=None, method="GET", principal=None,
         expect_http=None):
    entry = {"name": name, "category": category, "note": f"{library}: {note}" if note else library}
    if fixed_clock:
        # Only meaningful at `now` (skew edges): left out where the vector is replayed on `also_at`
        # and on the real clock.
        entry["now_only"] = True
    entry["request"] = {"method": method, "path": path, "host": host}
    if token_hex is not None:
        # Requests in the vector are text: the bytes go as a filter that must not panic on them
        # passes them on, lossily (U+FFFD). hardening.rs `non_utf8_header_*` sends raw bytes.
        entry["token"] = {"raw": bytes.fromhex(token_hex).decode("utf-8", "replace")}
    elif token is not None:
        entry["token"] = {"raw": token}
    expect = {"decision": "allow" if status == 200 else "deny", "status": status, "reason": reason}
    if principal:
        expect["principal"] = principal
    entry["expect"] = expect
    if expect_http:
        # Where HTTP itself changes the input before any filter sees it.
        entry["expect_http"] = dict(expect_http, decision="deny" if expect_http["status"] != 200
                                    else "allow")
    if any(c["name"] == name for c in CASES):
        raise SystemExit(f"duplicate case name {name!r}")
    CASES.append(entry)


PYJWT = f"PyJWT {jwt.__version__}"
JWCRYPTO = f"jwcrypto {importlib.metadata.version('jwcrypto')}"
HAND = "hand (PyJWT signer)"


def controls():
    """Positive controls: without them a rejection could just be a broken set-up."""
    for alg, key in [("ES256", "acme-es256"), ("ES384", "acme-es384"), ("RS256", "acme-rs256"),
                     ("RS256", "acme-rsa"), ("RS384", "acme-rsa"), ("RS512", "acme-rsa"),
                     ("PS256", "acme-rsa"), ("PS384", "acme-rsa"), ("PS512", "acme-rsa"),
                     ("EdDSA", "acme-ed25519")]:
        case(f"control: valid {alg} control-plane token ({key})", "control",
             pyjwt(alg, key, claims()), 200, None, library=PYJWT, principal="user:carol@acme.com")
    case("control: valid ES256 token without kid (every fitting key is tried)", "control",
         pyjwt("ES256", "acme-es256", claims(), with_kid=False), 200, None, library=PYJWT)
    key = load_jwk("acme-ed25519")
    t = jwcrypto.jwt.JWT(header={"alg": "EdDSA", "kid": kid("acme-ed25519")}, claims=claims())
    t.make_signed_token(key)
    case("control: valid EdDSA token made by jwcrypto", "control", t.serialize(), 200, None,
         library=JWCRYPTO)
    case("control: okta user token (RS256, audience api://gateway)", "control",
         pyjwt("RS256", "okta", claims("okta")), 200, None, library=PYJWT,
         principal="user:carol@acme.com")
    case("control: okta email compares case-insensitively", "control",
         pyjwt("RS256", "okta", claims("okta", email="ALICE@Acme.COM")), 200, None,
         library=PYJWT, principal="user:alice@acme.com")
    case("control: ci virtual-account token issued after tokens_valid_after", "control",
         pyjwt("EdDSA", "ci", claims("ci")), 200, None, library=PYJWT,
         principal="virtualaccount:ci-bot")
    case("control: HS256 from the explicitly configured symmetric key", "control",
         pyjwt("HS256", "legacy-hs", claims("legacy")), 200, None, library=PYJWT)
    case("control: globex user at globex", "control", pyjwt("ES256", "globex-es256", claims("globex")),
         200, None, library=PYJWT, host=GLOBEX_HOST, path=GLOBEX_PATH,
         principal="user:hank@globex.com")
    case("control: a non-revoked jti", "control",
         pyjwt("ES256", "acme-es256", claims(jti="jti-fine-1")), 200, None, library=PYJWT)
    case("control: pretty-printed header and payload JSON (whitespace is legal JSON)", "control",
         raw("ES256", "acme-es256",
             json.dumps({"alg": "ES256", "kid": "acme-es256"}, indent=2).encode(),
             json.dumps(claims(), indent=2).encode()), 200, None, library=HAND)
    case("control: leading and trailing whitespace around the token is trimmed", "whitespace",
         " " + pyjwt("ES256", "acme-es256", claims()) + "  ", 200, None, library=PYJWT,
         note="HTTP strips optional whitespace around header values; Envoy does the same")
    case("control: a valid token carrying jku/x5u headers is verified with configured keys only",
         "embedded-key",
         pyjwt("ES256", "acme-es256", claims(), headers={
             "jku": "https://attacker.example/jwks.json", "x5u": "https://attacker.example/c.pem"}),
         200, None, library=PYJWT,
         note="the headers are ignored, not fatal: the signature is checked with the tenant's keys")
    # A 15 KiB token is under the engine's 16 KiB limit and the usual HTTP header limits.
    big = pyjwt("ES256", "acme-es256", claims(pad="x" * 11000))
    assert len(big) < 16 * 1024, len(big)
    case("control: a 15 KiB token is still accepted", "oversized", big, 200, None, library=PYJWT)
    case("control: exp = i64::MAX is a valid NumericDate", "exp-type",
         pyjwt("ES256", "acme-es256", claims(exp=2**63 - 1)), 200, None, library=PYJWT)
    case("control: public route with a garbage token is allowed", "control", "garbage", 200, None,
         library=HAND, path="/healthz", note="SPEC 3.1 step 2: a bad token on a public route is ignored")


def alg_none():
    good = pyjwt("ES256", "acme-es256", claims())
    unsigned = jwt.encode(claims(), None, algorithm="none")
    case("alg none made by PyJWT (empty signature)", "alg-none", unsigned, 401, "alg_not_allowed",
         library=PYJWT)
    h, p, _ = split(unsigned)
    case("alg none, two segments (unsecured JWT without the trailing dot)", "alg-none",
         f"{h}.{p}", 401, "token_malformed", library=HAND)
    for none in ["None", "NONE", "nOnE", "none "]:
        header = b64(compact({"alg": none, "typ": "JWT"}))
        case(f"alg {none!r}, empty signature", "alg-none", f"{header}.{p}.", 401,
             "alg_not_allowed", library=HAND)
    case("alg none header on a validly signed token (signature kept)", "alg-none",
         swap_header(good, {"alg": "none", "kid": "acme-es256"}), 401, "alg_not_allowed",
         library=HAND)
    case("alg none with kid of a real key", "alg-none",
         b64(compact({"alg": "none", "kid": "acme-es256"})) + f".{p}.", 401, "alg_not_allowed",
         library=HAND)


def hs_confusion():
    payload = claims()

    def hs(secret, hkid, alg="HS256"):
        header = {"alg": alg, "typ": "JWT"}
        if hkid:
            header["kid"] = hkid
        si = f"{b64(compact(header))}.{b64(compact(payload))}"
        digest = {"HS256": hashlib.sha256, "HS384": hashlib.sha384, "HS512": hashlib.sha512}[alg]
        return f"{si}.{b64(hmac.new(secret, si.encode(), digest).digest())}"

    # PyJWT refuses a PEM public key as an HMAC secret (InvalidKeyError), so these are by hand.
    try:
        jwt.encode(payload, public_pem("acme-rs256"), algorithm="HS256")
        refused = False
    except Exception:  # noqa: BLE001 - any refusal is what we document
        refused = True
    note = "PyJWT refuses this key as an HMAC secret" if refused else None
    for key_name in ["acme-rs256", "acme-rsa"]:
        pem = public_pem(key_name)
        case(f"HS256 with the PEM of RSA key {key_name} as secret, kid of that key",
             "hs-confusion", hs(pem, kid(key_name)), 401, "alg_not_allowed", library=HAND, note=note)
        case(f"HS256 with the PEM of RSA key {key_name} as secret, no kid", "hs-confusion",
             hs(pem, None), 401, "alg_not_allowed", library=HAND, note=note)
    n = base64.urlsafe_b64decode(load_jwk("acme-rsa").export_public(as_dict=True)["n"] + "==")
    case("HS512 with the raw RSA modulus as secret", "hs-confusion", hs(n, "acme-rsa", "HS512"),
         401, "alg_not_allowed", library=HAND)
    case("HS256 with the PEM of the P-256 key as secret", "hs-confusion",
         hs(public_pem("acme-es256"), "acme-es256"), 401, "alg_not_allowed", library=HAND)
    ed_x = base64.urlsafe_b64decode(load_jwk("acme-ed25519").export_public(as_dict=True)["x"] + "=")
    case("HS256 with the Ed25519 public key bytes as secret", "hs-confusion",
         hs(ed_x + ed_x, "acme-ed25519"), 401, "alg_not_allowed", library=HAND)
    okta = claims("okta")
    si = f"{b64(compact({'alg': 'HS256', 'kid': 'okta-1'}))}.{b64(compact(okta))}"
    tok = f"{si}.{b64(hmac.new(public_pem('okta'), si.encode(), hashlib.sha256).digest())}"
    case("HS256 at the okta IdP (allow-list RS256) with its PEM as secret", "hs-confusion", tok,
         401, "alg_not_allowed", library=HAND)
    case("HS256 at the symmetric IdP signed with another secret", "hs-confusion",
         pyjwt("HS256", "attacker-hs", claims("legacy"), headers={"kid": "legacy-hs-1"}), 401,
         "signature_invalid", library=PYJWT)
    case("HS384 at the symmetric IdP whose allow-list is HS256", "hs-confusion",
         pyjwt("HS384", "legacy-hs", claims("legacy")), 401, "alg_not_allowed", library=PYJWT)


def alg_mixups():
    p = claims()
    es = pyjwt("ES256", "acme-es256", p)
    rs = pyjwt("RS256", "acme-rsa", p)
    ps = pyjwt("PS256", "acme-rsa", p)
    case("header RS256 naming the P-256 key, ES256 signature", "alg-mixup",
         swap_header(es, {"alg": "RS256", "kid": "acme-es256"}), 401, "alg_not_allowed", library=HAND)
    case("header ES256 naming the RSA key, RS256 signature", "alg-mixup",
         swap_header(rs, {"alg": "ES256", "kid": "acme-rsa"}), 401, "alg_not_allowed", library=HAND)
    case("header PS256 over an RS256 signature (same key)", "alg-mixup",
         swap_header(rs, {"alg": "PS256", "kid": "acme-rsa"}), 401, "signature_invalid", library=HAND)
    case("header RS256 over a PS256 signature (same key)", "alg-mixup",
         swap_header(ps, {"alg": "RS256", "kid": "acme-rsa"}), 401, "signature_invalid", library=HAND)
    case("header RS384 over an RS256 signature", "alg-mixup",
         swap_header(rs, {"alg": "RS384", "kid": "acme-rsa"}), 401, "signature_invalid", library=HAND)
    case("PS256 correctly signed with a key whose JWK pins RS256", "alg-mixup",
         pyjwt("PS256", "acme-rs256", p), 401, "alg_not_allowed", library=PYJWT)
    case("header ES384 naming the P-256 key", "alg-mixup",
         swap_header(es, {"alg": "ES384", "kid": "acme-es256"}), 401, "alg_not_allowed", library=HAND)
    case("header ES384 naming the P-384 key over an ES256 signature", "alg-mixup",
         swap_header(es, {"alg": "ES384", "kid": "acme-es384"}), 401, "signature_invalid",
         library=HAND)
    case("header EdDSA naming the Ed25519 key over an ES256 signature", "alg-mixup",
         swap_header(es, {"alg": "EdDSA", "kid": "acme-ed25519"}), 401, "signature_invalid",
         library=HAND)
    case("PS256 at the okta IdP (allow-list RS256), validly signed", "alg-mixup",
         pyjwt("PS256", "okta", claims("okta")), 401, "alg_not_allowed", library=PYJWT)
    case("ES256 at the ci IdP (allow-list EdDSA)", "alg-mixup",
         pyjwt("ES256", "attacker-es256", claims("ci")), 401, "alg_not_allowed", library=PYJWT)
    # A DER-encoded ECDSA signature (what a non-JOSE library emits) is not a JOSE signature.
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec
    h, pl, _ = split(es)
    der = pyjwt_key("acme-es256").sign(f"{h}.{pl}".encode(), ec.ECDSA(hashes.SHA256()))
    case("ES256 with a DER-encoded signature instead of r||s", "alg-mixup", f"{h}.{pl}.{b64(der)}",
         401, "signature_invalid", library=HAND)
    case("unknown algorithm ES512", "alg-mixup", swap_header(es, {"alg": "ES512"}), 401,
         "alg_not_allowed", library=HAND)
    case("algorithm name in lower case (rs256)", "alg-mixup",
         swap_header(rs, {"alg": "rs256", "kid": "acme-rsa"}), 401, "alg_not_allowed", library=HAND)


def signatures():
    good = pyjwt("ES256", "acme-es256", claims())
    h, p, s = split(good)
    case("signature stripped (empty third segment)", "signature-stripped", f"{h}.{p}.", 401,
         "signature_invalid", library=HAND)
    # Cut whole bytes and re-encode: cutting characters would leave non-zero trailing bits
    # (token_malformed) for some signatures and not others.
    case("ECDSA signature truncated by 3 bytes", "signature-stripped",
         f"{h}.{p}.{b64(base64.urlsafe_b64decode(s + '==')[:-3])}", 401, "signature_invalid",
         library=HAND)
    rsa = pyjwt("RS256", "acme-rsa", claims())
    rh, rp, rsig = split(rsa)
    case("RSA signature truncated to 255 bytes", "signature-stripped",
         f"{rh}.{rp}.{b64(base64.urlsafe_b64decode(rsig + '==')[:-1])}", 401, "signature_invalid",
         library=HAND)
    case("RSA signature with a leading zero byte (257 bytes)", "signature-stripped",
         f"{rh}.{rp}.{b64(bytes(1) + base64.urlsafe_b64decode(rsig + '=='))}", 401,
         "signature_invalid", library=HAND)
    case("ECDSA signature of zeros (r = s = 0)", "signature-stripped", f"{h}.{p}.{b64(bytes(64))}",
         401, "signature_invalid", library=HAND)
    sig = bytearray(base64.urlsafe_b64decode(s + "=="))
    sig[10] ^= 1
    case("ECDSA signature with one bit flipped", "signature-stripped", f"{h}.{p}.{b64(bytes(sig))}",
         401, "signature_invalid", library=HAND)
    forged = b64(compact(claims(sub="user:alice@acme.com")))
    case("payload changed to another subject, original signature kept", "signature-stripped",
         f"{h}.{forged}.{s}", 401, "signature_invalid", library=HAND)
    other = pyjwt("ES256", "acme-es256", claims(sub="user:alice@acme.com"))
    case("signature moved from another valid token", "signature-stripped",
         f"{h}.{p}.{split(other)[2]}", 401, "signature_invalid", library=HAND)
    ed = pyjwt("EdDSA", "acme-ed25519", claims())
    eh, ep, es_ = split(ed)
    case("Ed25519 signature stripped", "signature-stripped", f"{eh}.{ep}.", 401,
         "signature_invalid", library=HAND)
    # Same key type, other key: the forger names the real kid, or none.
    for attacker, alg, real in [("attacker-es256", "ES256", "acme-es256"),
                                ("attacker-rsa", "RS256", "acme-rsa"),
                                ("attacker-rsa", "PS256", "acme-rsa"),
                                ("attacker-ed25519", "EdDSA", "acme-ed25519")]:
        case(f"{alg} signed by another {alg} key, kid of the real key", "signature-foreign-key",
             pyjwt(alg, attacker, claims(), headers={"kid": real}), 401, "signature_invalid",
             library=PYJWT)
        case(f"{alg} signed by another {alg} key, no kid", "signature-foreign-key",
             pyjwt(alg, attacker, claims(), with_kid=False), 401, "signature_invalid", library=PYJWT)
    case("signed by globex's key with acme's issuer (kid globex-es256)", "signature-foreign-key",
         pyjwt("ES256", "globex-es256", claims()), 401, "key_unknown", library=PYJWT)
    case("signed by globex's key with acme's issuer and acme's kid", "signature-foreign-key",
         pyjwt("ES256", "globex-es256", claims(), headers={"kid": "acme-es256"}), 401,
         "signature_invalid", library=PYJWT)


def kids():
    for label, value in [
        ("not in the set", "acme-es256-old"),
        ("in another case", "ACME-ES256"),
        ("path-like ../", "../../../../../../dev/null"),
        ("absolute path", "/etc/passwd"),
        ("file URL", "file:///etc/passwd"),
        ("SQL-like", "x' OR '1'='1"),
        ("SQL-like comment", "acme-es256' --"),
        ("with a NUL byte", "acme-es256\u0000"),
        ("with trailing space", "acme-es256 "),
        ("empty", ""),
        ("a URL", "https://attacker.example/jwks.json#acme-es256"),
        ("10 KiB long", "k" * 10240),
    ]:
        case(f"kid {label}", "kid", pyjwt("ES256", "acme-es256", claims(), headers={"kid": value}),
             401, "key_unknown", library=PYJWT)
    good = pyjwt("ES256", "acme-es256", claims())
    for label, value in [("a number", 1), ("null", None), ("an array", ["acme-es256"]),
                         ("an object", {"kid": "acme-es256"})]:
        h = {"alg": "ES256", "kid": value}
        h2, p, _ = split(good)
        token = raw("ES256", "acme-es256", compact(h), base64.urlsafe_b64decode(p + "=="))
        case(f"kid that is {label}", "kid", token, 401, "token_malformed", library=HAND)
    case("kid of the RSA key on an ES256 token signed by the P-256 key", "kid",
         pyjwt("ES256", "acme-es256", claims(), headers={"kid": "acme-rsa"}), 401,
         "alg_not_allowed", library=PYJWT)


def embedded_keys():
    att = load_jwk("attacker-es256")
    att_pub = att.export_public(as_dict=True)
    p = claims()

    def jwc(protected, key=att):
        s = jwc_jws.JWS(compact(p))
        s.add_signature(key, None, json.dumps(protected))
        return s.serialize(compact=True)

    case("embedded jwk of the attacker's key, kid of that key", "embedded-key",
         jwc({"alg": "ES256", "kid": "attacker-es256", "jwk": att_pub}), 401, "key_unknown",
         library=JWCRYPTO)
    case("embedded jwk of the attacker's key, no kid", "embedded-key",
         jwc({"alg": "ES256", "jwk": att_pub}), 401, "signature_invalid", library=JWCRYPTO)
    case("embedded jwk of the attacker's key, kid of the real key", "embedded-key",
         jwc({"alg": "ES256", "kid": "acme-es256", "jwk": dict(att_pub, kid="acme-es256")}), 401,
         "signature_invalid", library=JWCRYPTO)
    case("jku pointing at the attacker's key set", "embedded-key",
         jwc({"alg": "ES256", "kid": "attacker-es256", "jku": "https://attacker.example/jwks.json"}),
         401, "key_unknown", library=JWCRYPTO)
    case("jku with the real kid", "embedded-key",
         jwc({"alg": "ES256", "kid": "acme-es256", "jku": "https://attacker.example/jwks.json"}),
         401, "signature_invalid", library=JWCRYPTO)
    case("x5u with the real kid", "embedded-key",
         jwc({"alg": "ES256", "kid": "acme-es256", "x5u": "https://attacker.example/cert.pem"}),
         401, "signature_invalid", library=JWCRYPTO)
    # A self-signed certificate for the attacker's key, in x5c.
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509.oid import NameOID
    priv = pyjwt_key("attacker-es256")
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "cp.acme.adv.test")])
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(priv.public_key()).serial_number(1)
            .not_valid_before(datetime(2026, 1, 1, tzinfo=timezone.utc))
            .not_valid_after(datetime(2036, 1, 1, tzinfo=timezone.utc))
            .sign(priv, hashes.SHA256()))
    der = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
    case("x5c with a self-signed certificate for the attacker's key, no kid", "embedded-key",
         jwc({"alg": "ES256", "x5c": [der]}), 401, "signature_invalid", library=JWCRYPTO)
    case("x5c with the real kid", "embedded-key",
         jwc({"alg": "ES256", "kid": "acme-es256", "x5c": [der]}), 401, "signature_invalid",
         library=JWCRYPTO)
    hs_att = load_jwk("attacker-hs")
    sym = hs_att.export(as_dict=True)
    case("embedded symmetric jwk with an HS256 signature made with it", "embedded-key",
         jwc({"alg": "HS256", "jwk": sym}, key=hs_att), 401, "alg_not_allowed", library=JWCRYPTO)


def crit_b64_jwe():
    p = claims()
    case("crit naming a registered claim", "crit",
         pyjwt("ES256", "acme-es256", p, headers={"crit": ["exp"]}), 401, "token_malformed",
         library=PYJWT)
    case("crit naming an unknown extension that is present", "crit",
         pyjwt("ES256", "acme-es256", p, headers={"crit": ["urn:x:y"], "urn:x:y": True}), 401,
         "token_malformed", library=PYJWT)
    case("crit that is an empty array", "crit",
         pyjwt("ES256", "acme-es256", p, headers={"crit": []}), 401, "token_malformed", library=PYJWT)
    # RFC 7797 unencoded payload, as jwcrypto makes it (detached: the payload contains dots).
    key = load_jwk("acme-es256")
    s = jwc_jws.JWS(compact(p))
    s.add_signature(key, None, json.dumps(
        {"alg": "ES256", "kid": "acme-es256", "b64": False, "crit": ["b64"]}))
    try:
        b64_token = s.serialize(compact=True)
        lib = JWCRYPTO
    except Exception:  # noqa: BLE001 - jwcrypto refuses a compact unencoded payload with dots
        s.detach_payload()
        b64_token = s.serialize(compact=True)
        lib = JWCRYPTO + " (detached payload)"
    case("b64:false with crit [b64] (RFC 7797)", "b64", b64_token, 401, "token_malformed",
         library=lib)
    h = {"alg": "ES256", "kid": "acme-es256", "b64": False}
    case("b64:false without crit", "b64", raw("ES256", "acme-es256", compact(h), compact(p)), 401,
         "token_malformed", library=HAND)
    # A real JWE (RSA-OAEP-256 + A256GCM) to acme's RSA key: five segments.
    e = jwc_jwe.JWE(compact(p), json.dumps(
        {"alg": "RSA-OAEP-256", "enc": "A256GCM", "kid": "acme-rsa", "typ": "JWT"}))
    e.add_recipient(load_jwk("acme-rsa"))
    jwe_token = e.serialize(compact=True)
    assert jwe_token.count(".") == 4
    case("JWE compact serialization (5 segments)", "jwe", jwe_token, 401, "token_malformed",
         library=JWCRYPTO)
    e = jwc_jwe.JWE(compact(p), json.dumps({"alg": "dir", "enc": "A256GCM"}))
    e.add_recipient(jwc_jwk.JWK.generate(kty="oct", size=256))
    case("JWE with alg dir (5 segments, empty key segment)", "jwe", e.serialize(compact=True), 401,
         "token_malformed", library=JWCRYPTO)


def times():
    expired = ts("2026-01-02T00:00:00Z")
    case("expired long ago", "time", pyjwt("ES256", "acme-es256", claims(exp=expired)), 401,
         "token_expired", library=PYJWT)
    # After the last instant a live replay can run at (the other tokens' exp), so the case holds
    # whenever it is replayed.
    future, later = ts("2036-06-01T00:00:00Z"), ts("2040-01-01T00:00:00Z")
    case("nbf in the future (2036)", "time",
         pyjwt("ES256", "acme-es256", claims(nbf=future, exp=later)), 401,
         "token_not_yet_valid", library=PYJWT)
    case("iat in the future (2036)", "time",
         pyjwt("ES256", "acme-es256", claims(iat=future, exp=later)), 401,
         "token_not_yet_valid", library=PYJWT)
    # Skew edges at the fixed clock: acme allows 60 s.
    for name, changes, status, reason in [
        ("exp exactly now - skew is expired", {"exp": NOW - SKEW}, 401, "token_expired"),
        ("exp one second later is valid", {"exp": NOW - SKEW + 1}, 200, None),
        ("exp exactly now is valid within skew", {"exp": NOW}, 200, None),
        ("nbf exactly now + skew is valid", {"nbf": NOW + SKEW}, 200, None),
        ("nbf one second past the skew is not yet valid", {"nbf": NOW + SKEW + 1}, 401,
         "token_not_yet_valid"),
        ("iat exactly now + skew is valid", {"iat": NOW + SKEW}, 200, None),
        ("iat one second past the skew is not yet valid", {"iat": NOW + SKEW + 1}, 401,
         "token_not_yet_valid"),
    ]:
        case(f"skew edge: {name}", "skew-edge", pyjwt("ES256", "acme-es256", claims(**changes)),
             status, reason, library=PYJWT, fixed_clock=True,
             note="depends on the fixed clock of this file: a live replay skips it")
    case("signature checked before time: expired and forged", "time",
         f"{'.'.join(split(pyjwt('ES256', 'acme-es256', claims(exp=expired)))[:2])}.{b64(bytes(64))}",
         401, "signature_invalid", library=HAND)


def acme_es256(payload):
    """(token, library): `payload` signed with acme-es256 by PyJWT, or by hand where PyJWT refuses
    it (a non-string iss, a non-numeric exp, ...)."""
    try:
        return pyjwt("ES256", "acme-es256", payload), PYJWT
    except Exception:  # noqa: BLE001
        return raw("ES256", "acme-es256", compact({"alg": "ES256", "kid": "acme-es256"}),
                   compact(payload)), HAND


def exp_types():
    for label, value in [("missing", DROP), ("a string", str(EXP)), ("a float", float(EXP)),
                         ("a float with fraction", EXP + 0.5), ("huge (1e30)", 1e30),
                         ("an integer over u64", 10**20), ("null", None), ("a boolean", True),
                         ("an array", [EXP])]:
        token, lib = acme_es256(claims(exp=value))
        case(f"exp {label}", "exp-type", token, 401, "token_malformed", library=lib)
    case("exp negative", "exp-type", pyjwt("ES256", "acme-es256", claims(exp=-1)), 401,
         "token_expired", library=PYJWT)
    case("nbf as a string", "exp-type",
         raw("ES256", "acme-es256", compact({"alg": "ES256", "kid": "acme-es256"}),
             compact(claims(nbf="0"))), 401, "token_malformed", library=HAND)
    case("iat as a float", "exp-type",
         pyjwt("ES256", "acme-es256", claims(iat=IAT + 0.25)), 401, "token_malformed",
         library=PYJWT)


def issuers():
    for label, value, reason in [
        ("unknown issuer", "https://evil.example", "issuer_unknown"),
        ("issuer with a trailing slash", ACME_CP + "/", "issuer_unknown"),
        ("issuer in another case", ACME_CP.upper(), "issuer_unknown"),
        ("issuer that is an array", [ACME_CP], "token_malformed"),
        ("missing issuer", DROP, "issuer_unknown"),
    ]:
        token, lib = acme_es256(claims(iss=value))
        case(label, "issuer", token, 401, reason, library=lib)
    # Cross-tenant.
    case("globex's control-plane token at acme's host", "cross-tenant",
         pyjwt("ES256", "globex-es256", claims("globex")), 401, "tenant_mismatch", library=PYJWT)
    case("acme's control-plane token at globex's host", "cross-tenant",
         pyjwt("ES256", "acme-es256", claims()), 401, "tenant_mismatch", library=PYJWT,
         host=GLOBEX_HOST, path=GLOBEX_PATH)
    case("acme's okta token at globex's host", "cross-tenant",
         pyjwt("RS256", "okta", claims("okta")), 401, "tenant_mismatch", library=PYJWT,
         host=GLOBEX_HOST, path=GLOBEX_PATH)
    case("globex's SSO token at acme's host", "cross-tenant",
         pyjwt("ES256", "globex-sso", claims("globex-sso")), 401, "tenant_mismatch", library=PYJWT)
    case("acme's CI repository at globex (shared CI issuer)", "cross-tenant",
         pyjwt("EdDSA", "ci", claims("ci")), 401, "principal_unknown", library=PYJWT,
         host=GLOBEX_HOST, path=GLOBEX_PATH)
    case("globex's CI repository at acme (shared CI issuer)", "cross-tenant",
         pyjwt("EdDSA", "ci", claims("ci", repository="globex/etl")), 401, "principal_unknown",
         library=PYJWT)
    case("acme issuer, globex key, at globex", "cross-tenant",
         pyjwt("ES256", "globex-es256", claims()), 401, "tenant_mismatch", library=PYJWT,
         host=GLOBEX_HOST, path=GLOBEX_PATH)
    case("unknown host", "cross-tenant", pyjwt("ES256", "acme-es256", claims()), 403,
         "tenant_unknown", library=PYJWT, host="evil.adv.test")


def audiences_and_tenant():
    for label, value, status, reason in [
        ("aud of another service", "https://other.adv.test", 401, "audience_mismatch"),
        ("aud array containing ours", ["https://other.adv.test", ACME_AUD], 200, None),
        ("aud array without ours", ["https://other.adv.test"], 401, "audience_mismatch"),
        ("aud empty array", [], 401, "audience_mismatch"),
        ("aud missing", DROP, 401, "audience_mismatch"),
        ("aud in another case", ACME_AUD.upper(), 401, "audience_mismatch"),
        # Another JSON type than a string or an array of strings is malformed, not a mismatch.
        ("aud nested array", [[ACME_AUD]], 401, "token_malformed"),
        ("aud array with a non-string", [ACME_AUD, 5], 401, "token_malformed"),
        ("aud as an object", {ACME_AUD: True}, 401, "token_malformed"),
        ("aud with a trailing slash", ACME_AUD + "/", 401, "audience_mismatch"),
    ]:
        token, lib = acme_es256(claims(aud=value))
        case(label, "audience", token, status, reason, library=lib)
    case("okta token with the control plane's audience", "audience",
         pyjwt("RS256", "okta", claims("okta", aud=ACME_AUD)), 401, "audience_mismatch",
         library=PYJWT)
    for label, value, reason in [("of another tenant", "globex", "tenant_mismatch"),
                                 ("in another case", "ACME", "tenant_mismatch"),
                                 ("missing", DROP, "tenant_mismatch"),
                                 # Not a string: malformed, never read as absent.
                                 ("an array", ["acme"], "token_malformed")]:
        case(f"tenant claim {label}", "tenant-claim",
             pyjwt("ES256", "acme-es256", claims(tenant=value)), 401, reason,
             library=PYJWT)


def duplicates():
    header = b'{"alg":"ES256","kid":"acme-es256"}'
    body = compact(claims())[1:-1].decode()
    for label, h, p in [
        ("duplicate alg in the header (ES256 then none)",
         b'{"alg":"ES256","kid":"acme-es256","alg":"none"}', compact(claims())),
        ("duplicate alg in the header (none then ES256)",
         b'{"alg":"none","kid":"acme-es256","alg":"ES256"}', compact(claims())),
        ("duplicate kid in the header", b'{"alg":"ES256","kid":"acme-es256","kid":"acme-rsa"}',
         compact(claims())),
        ("duplicate sub in the payload", header,
         ('{' + body + ',"sub":"user:alice@acme.com"}').encode()),
        ("duplicate tenant in the payload", header, ('{' + body + ',"tenant":"globex"}').encode()),
        ("duplicate exp in the payload", header, ('{' + body + f',"exp":{EXP}}}').encode()),
        ("duplicate sub spelled with an escape", header,
         ('{' + body + ',"\\u0073ub":"user:alice@acme.com"}').encode()),
        ("duplicate member in a nested claim", header,
         ('{' + body + ',"ext":{"a":1,"a":2}}').encode()),
    ]:
        case(label, "duplicate-json", raw("ES256", "acme-es256", h, p), 401, "token_malformed",
             library=HAND, note="properly signed: only the duplicate makes it bad")


def encodings():
    header = b'{"alg":"ES256","kid":"acme-es256"}'
    good = pyjwt("ES256", "acme-es256", claims(note="~~~~>>>>????"))
    h, p, s = split(good)
    assert any(c in p for c in "-_"), "payload should exercise the url-safe alphabet"
    case("padding on the header segment", "base64", f"{h}==.{p}.{s}" if len(h) % 4 == 2
         else f"{h}=.{p}.{s}", 401, "token_malformed", library=HAND)
    case("padding on the signature segment (86 + ==)", "base64", f"{h}.{p}.{s}==", 401,
         "token_malformed", library=HAND)
    std = p.replace("-", "+").replace("_", "/")
    case("standard alphabet (+/) in the payload", "base64", f"{h}.{std}.{s}", 401,
         "token_malformed", library=HAND)
    # Non-zero unused trailing bits: the last character of a 64-byte signature (86 chars) carries
    # 4 unused bits.
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    last = alphabet.index(s[-1])
    sloppy = alphabet[last | 1]
    assert sloppy != s[-1]
    case("signature with non-zero trailing bits (decodes to the same bytes leniently)", "base64",
         f"{h}.{p}.{s[:-1]}{sloppy}", 401, "token_malformed", library=HAND)
    case("percent-encoded dot", "base64", f"{h}%2E{p}.{s}", 401, "token_malformed", library=HAND)
    case("impossible segment length", "base64", f"{h}.{p}A.{s}", 401, "token_malformed",
         library=HAND)
    # Whitespace inside the token.
    case("space inside the payload segment", "whitespace", f"{h}.{p[:10]} {p[10:]}.{s}", 401,
         "token_malformed", library=HAND)
    case("newline after a dot", "whitespace", f"{h}.\n{p}.{s}", 401, "token_malformed",
         library=HAND)
    case("tab inside the signature", "whitespace", f"{h}.{p}.{s[:5]}\t{s[5:]}", 401,
         "token_malformed", library=HAND)
    case("empty token after Bearer", "whitespace", "", 401, "token_malformed", library=HAND,
         note="a present but empty source is malformed, not missing. Over HTTP the header "
              "`Bearer ` loses its trailing space (HTTP trims header values), leaving no token",
         expect_http={"status": 401, "reason": "token_missing"})
    # Oversized.
    big = pyjwt("ES256", "acme-es256", claims(pad="x" * (64 * 1024)))
    case("64 KiB token, validly signed", "oversized", big, 401, "token_malformed", library=PYJWT,
         note="over the engine's 16 KiB limit; Envoy's default 60 KiB header limit may answer 431 "
              "before the filter runs, which is also a denial")
    big = pyjwt("ES256", "acme-es256", claims(pad="x" * (12 * 1024 + 200)))
    assert 16 * 1024 < len(big) < 17 * 1024, len(big)
    case("just over 16 KiB, validly signed", "oversized", big, 401, "token_malformed",
         library=PYJWT)
    deep = "[" * 5000 + "]" * 5000
    case("claim nested 5000 levels deep", "oversized",
         raw("ES256", "acme-es256", header, ('{' + compact(claims())[1:-1].decode()
                                             + ',"deep":' + deep + '}').encode()), 401,
         "token_malformed", library=HAND)
    # Non-UTF-8.
    case("payload that is not UTF-8 (a lone 0xff in a string)", "non-utf8",
         raw("ES256", "acme-es256", header,
             compact(claims())[:-1] + b',"x":"\xff\xfe"}'), 401, "token_malformed", library=HAND)
    case("header that is not UTF-8", "non-utf8",
         raw("ES256", "acme-es256", b'{"alg":"ES256","kid":"acme-es256","x":"\xc3"}',
             compact(claims())), 401, "token_malformed", library=HAND)
    case("payload with a lone surrogate escape", "non-utf8",
         raw("ES256", "acme-es256", header, compact(claims())[:-1] + b',"x":"\\ud800"}'), 401,
         "token_malformed", library=HAND)
    case("non-ASCII characters in the token text", "non-utf8", f"{h}.{p}é.{s}", 401,
         "token_malformed", library=HAND)
    raw_bytes = f"{h}.{p}.{s}".encode()[:-3] + b"\xff\xfe\x80"
    case("token header value with invalid UTF-8 bytes", "non-utf8", None, 401, "token_malformed",
         library=HAND, token_hex=raw_bytes.hex(),
         note="a transport sends these exact bytes; the engine takes text, so the vector carries "
              "them lossily converted (U+FFFD), as a filter must never panic on them")
    # Structure.
    case("three dots (four segments)", "base64", f"{h}.{p}.{s}.", 401, "token_malformed",
         library=HAND)
    case("header that is a JSON array", "base64",
         raw("ES256", "acme-es256", b'["alg","ES256"]', compact(claims())), 401, "token_malformed",
         library=HAND)
    case("payload that is a JSON string", "base64",
         raw("ES256", "acme-es256", header, b'"claims"'), 401, "token_malformed", library=HAND)


def principals():
    case("revoked jti", "revoked-jti",
         pyjwt("ES256", "acme-es256", claims(jti="jti-revoked-1")), 401, "token_revoked",
         library=PYJWT)
    case("revoked jti on an otherwise valid okta token", "revoked-jti",
         pyjwt("RS256", "okta", claims("okta", jti="jti-revoked-1")), 401, "token_revoked",
         library=PYJWT)
    case("VA token (ci IdP) issued before tokens_valid_after", "va-rotation",
         pyjwt("EdDSA", "ci", claims("ci", iat=IAT)), 401, "token_revoked", library=PYJWT)
    case("VA token (ci IdP) without iat while tokens_valid_after is set", "va-rotation",
         pyjwt("EdDSA", "ci", claims("ci", iat=DROP)), 401, "token_revoked", library=PYJWT)
    case("VA control-plane token issued before tokens_valid_after", "va-rotation",
         pyjwt("ES256", "acme-es256", claims(sub="virtualaccount:ci-bot")), 401, "token_revoked",
         library=PYJWT)
    case("control: VA control-plane token issued after tokens_valid_after", "control",
         pyjwt("ES256", "acme-es256", claims(sub="virtualaccount:ci-bot", iat=VA_IAT)), 200,
         None, library=PYJWT, principal="virtualaccount:ci-bot")
    case("deactivated user, control-plane token", "principal-inactive",
         pyjwt("ES256", "acme-es256", claims(sub="user:bob@acme.com")), 401, "principal_inactive",
         library=PYJWT)
    case("deactivated user, okta token", "principal-inactive",
         pyjwt("RS256", "okta", claims("okta", email="bob@acme.com")), 401, "principal_inactive",
         library=PYJWT)
    case("deactivated user, symmetric IdP token", "principal-inactive",
         pyjwt("HS256", "legacy-hs", claims("legacy", email="Bob@Acme.com")), 401,
         "principal_inactive", library=PYJWT)
    for label, payload, key, alg in [
        ("control-plane token for a user unknown to the tenant",
         claims(sub="user:mallory@acme.com"), "acme-es256", "ES256"),
        ("control-plane token for globex's user", claims(sub="user:hank@globex.com"),
         "acme-es256", "ES256"),
        ("control-plane sub without a subject prefix", claims(sub="carol@acme.com"), "acme-es256",
         "ES256"),
        ("control-plane sub for a team", claims(sub="team:everyone"), "acme-es256", "ES256"),
        ("control-plane token without sub", claims(sub=DROP), "acme-es256", "ES256"),
        ("control-plane sub for an unknown virtual account", claims(sub="virtualaccount:nobody"),
         "acme-es256", "ES256"),
        ("okta token for an unknown email", claims("okta", email="mallory@acme.com"), "okta",
         "RS256"),
        ("okta token without the email claim", claims("okta", email=DROP), "okta", "RS256"),
        ("ci token for an unmapped repository", claims("ci", repository="acme/unknown"), "ci",
         "EdDSA"),
    ]:
        case(label, "principal-unknown", pyjwt(alg, key, payload), 401, "principal_unknown",
             library=PYJWT)
    # An email claim that is not a string is malformed, never read as absent.
    case("okta token with email as an array", "principal-unknown",
         pyjwt("RS256", "okta", claims("okta", email=["carol@acme.com"])), 401,
         "token_malformed", library=PYJWT)
    case("expired virtual account (ci IdP)", "principal-expired",
         pyjwt("EdDSA", "ci", claims("ci", repository="acme/old")), 401, "principal_expired",
         library=PYJWT)
    case("expired virtual account (control-plane token)", "principal-expired",
         pyjwt("ES256", "acme-es256", claims(sub="virtualaccount:old-bot")), 401,
         "principal_expired", library=PYJWT)
    case("no token at all", "control", None, 401, "token_missing", library=HAND)


def main():
    ensure_keys()
    controls()
    alg_none()
    hs_confusion()
    alg_mixups()
    signatures()
    kids()
    embedded_keys()
    crit_b64_jwe()
    times()
    exp_types()
    issuers()
    audiences_and_tenant()
    duplicates()
    encodings()
    principals()
    # The generator really used both libraries (and made the rest by hand).
    for library in (PYJWT, JWCRYPTO, HAND):
        if not any(c["note"].startswith(library) for c in CASES):
            raise SystemExit(f"no case made by {library}")
    out = {
        "description": "Adversarial tokens (SPEC 7, issue 5 item 1). Generated by make_tokens.py "
                       f"with {PYJWT}, {JWCRYPTO}, python {sys.version.split()[0]}; see README.md.",
        "now": NOW_TEXT,
        # After every fixed `iat`, before every fixed `exp`: 2027-01-15, 2030-01-01, 2035-12-31.
        "also_at": ALSO_AT,
        "cases": CASES,
    }
    with open(os.path.join(HERE, "requests.json"), "w") as f:
        json.dump(out, f, indent=1, ensure_ascii=True)
        f.write("\n")
    counts = {}
    for c in CASES:
        counts[c["category"]] = counts.get(c["category"], 0) + 1
    print(f"{len(CASES)} cases: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))


if __name__ == "__main__":
    main()
