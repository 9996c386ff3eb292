//! Benchmark fixtures shared by the criterion benches (`bench/benches/*.rs`) and the native side
//! of the wasm harness (`gatehouse-wasm-harness gen`): synthetic tenants compiled to bundles,
//! representative requests found in them, and signed tokens with the same keys prepared for
//! `ring`.
//!
//! Host-only (it runs the compiler and `ring`); the wasm side reads what this writes.
#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "bench code: a fixture that cannot be built ends the run"
)]

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine as _;
use gatehouse_compiler::compile::{compile_sources, Files, Sources};
use gatehouse_deploy::keys::{self, KeyAlg};
use gatehouse_engine::model::{Policy, RoleKind, Subject};
use gatehouse_engine::route::Body;
use gatehouse_engine::{Engine, Identity, LoadOptions, Reason, Request};
use gatehouse_testkit::synth::{self, Size};

use crate::ops;
use serde_json::{json, Map, Value};
use std::path::Path;

/// Tenant name of every synthetic tenant; hosts are `<name>.gw.example.com`.
pub const TENANT: &str = "synth";
pub const HOST: &str = "synth.gw.example.com";
/// The fixed clock of every benchmark (tokens are minted around it).
pub const NOW: i64 = 1_750_000_000;

/// A synthetic tenant compiled: the IR (for Cedar and for finding cases) and the bundle bytes.
#[derive(Debug)]
pub struct Fixture {
    pub size: Size,
    pub policy: Policy,
    pub bundle: Vec<u8>,
    pub source_len: usize,
}

pub fn tenant(size: Size) -> Fixture {
    let source = synth::tenant_json(TENANT, size, 42);
    let policy = compile_sources(&Sources {
        gateway: None,
        tenants: &[(Path::new("synth.json"), source.as_str())],
        files: Files::Disk,
        revision: Some("bench"),
        serial: 1,
    })
    .unwrap_or_else(|e| panic!("synthetic tenant does not compile: {e}"));
    let bundle = gatehouse_engine::bundle::encode(&policy, None).unwrap();
    Fixture {
        size,
        policy,
        bundle,
        source_len: source.len(),
    }
}

/// One representative request: what the filter sees (method, path, body) and, for Cedar, the
/// same question in IR indices.
#[derive(Debug, Clone)]
pub struct Case {
    pub name: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub body: String,
    /// `user:<email>`.
    pub subject: String,
    pub user: usize,
    pub resource: usize,
    pub action: String,
    pub allow: bool,
}

impl Case {
    pub fn request(&self) -> Request<'_> {
        Request {
            authority: HOST,
            method: self.method,
            path: self.path,
            headers: &[ops::CONTENT_TYPE],
            body: Body::Bytes(self.body.as_bytes()),
        }
    }

    pub fn identity(&self) -> Identity<'_> {
        Identity::Subject(&self.subject)
    }
}

/// Finds, in a synthetic tenant, a user and a model for each of: allow through a team's grant
/// on the model, allow through a grant on the parent provider account (inheritance), deny
/// `no_grant`, deny `not_authorized_subject` (the restricted model `m8`). Each is checked by
/// deciding it.
pub fn cases(fixture: &Fixture, engine: &Engine) -> Vec<Case> {
    let t = &fixture.policy.tenants[0];
    let type_name = |i: usize| {
        t.resource_types[t.resources[i].resource_type.index()]
            .name
            .as_str()
    };
    let plain = |u: usize| {
        let user = &t.users[u];
        user.active
            && matches!(&t.roles[user.role.index()].kind, RoleKind::Tenant { permissions } if permissions.is_empty())
            && user
                .teams
                .iter()
                .all(|team| t.teams[team.index()].roles.is_empty())
    };
    let open_model = |r: usize| {
        type_name(r) == "model"
            && t.resources[r].enabled
            && t.resources[r].authorized_subjects.is_none()
    };
    let make = |name: &'static str, u: usize, r: usize| Case {
        name,
        method: "POST",
        path: "/api/llm/v1/chat/completions",
        body:
            json!({"model": t.resources[r].path, "messages": [{"role": "user", "content": "hi"}]})
                .to_string(),
        subject: format!("user:{}", t.users[u].email),
        user: u,
        resource: r,
        action: "use".to_owned(),
        allow: false,
    };
    let decide = |case: &Case| {
        let out = engine.decide(&case.request(), case.identity(), NOW);
        (out.decision.reason(), out.grant().unwrap_or_default())
    };
    let mut found = Vec::new();

    // Allow via a team grant on the model itself.
    'team: for g in &t.grants {
        let (Subject::Team(team), r) = (g.subject, g.resource.index()) else {
            continue;
        };
        if !open_model(r) {
            continue;
        }
        for u in (0..t.users.len()).filter(|&u| t.users[u].teams.contains(&team)) {
            if !plain(u) {
                continue;
            }
            let mut case = make("allow_team_grant", u, r);
            let (reason, grant) = decide(&case);
            if reason.is_none() && grant.starts_with("team:") && grant.contains(" on model:") {
                case.allow = true;
                found.push(case);
                break 'team;
            }
            break;
        }
    }
    // Allow via a user grant on the parent provider account.
    'inherit: for g in &t.grants {
        let (Subject::User(user), r) = (g.subject, g.resource.index()) else {
            continue;
        };
        if type_name(r) != "provider-account" || !plain(user.index()) {
            continue;
        }
        let children = (0..t.resources.len())
            .filter(|&c| t.resources[c].parent.map(|p| p.index()) == Some(r) && open_model(c));
        for c in children {
            let mut case = make("allow_inherited", user.index(), c);
            let (reason, grant) = decide(&case);
            if reason.is_none() && grant.contains(" on provider-account:") {
                case.allow = true;
                found.push(case);
                break 'inherit;
            }
        }
    }
    // Deny: no grant anywhere on the chain.
    let model = (0..t.resources.len()).find(|&r| open_model(r)).unwrap();
    if let Some(case) = (0..t.users.len())
        .filter(|&u| plain(u))
        .map(|u| make("deny_no_grant", u, model))
        .find(|case| decide(case).0 == Some(Reason::NoGrant))
    {
        found.push(case);
    }
    // Deny: the restricted model `m8` of an account, asked by someone outside its team.
    let restricted = (0..t.resources.len())
        .find(|&r| type_name(r) == "model" && t.resources[r].authorized_subjects.is_some())
        .unwrap();
    if let Some(case) = (0..t.users.len())
        .filter(|&u| plain(u))
        .map(|u| make("deny_not_authorized_subject", u, restricted))
        .find(|case| decide(case).0 == Some(Reason::NotAuthorizedSubject))
    {
        found.push(case);
    }
    assert_eq!(
        found.len(),
        4,
        "not every case was found in the synthetic tenant"
    );
    found
}

pub fn engine(bundle: &[u8]) -> Engine {
    Engine::load(bundle.to_vec(), &LoadOptions::default()).unwrap()
}

/// A token signed with a fresh key, the public JWK Set that verifies it, and the key material
/// in the form `ring` takes.
#[derive(Debug, Clone)]
pub struct TokenFixture {
    pub alg: &'static str,
    pub jwks: String,
    pub token: String,
}

/// Ordinary control-plane claims (about 330 bytes of JSON), `exp` an hour after [`NOW`].
pub fn claims() -> Value {
    json!({
        "iss": "https://synth.cp.example.com",
        "sub": "user:u17@synth.example.com",
        "tenant": TENANT,
        "aud": "gatehouse",
        "iat": NOW - 60,
        "nbf": NOW - 60,
        "exp": NOW + 3600,
        "jti": "6f1c2b9e-5b7a-4c1e-9d0f-2a3b4c5d6e7f",
        "email": "u17@synth.example.com",
        "name": "User Seventeen",
        "groups": ["g10", "g20", "g30"],
        "scope": "openid profile email"
    })
}

/// HS256, RS256 (2048), ES256, EdDSA.
pub fn tokens() -> Vec<TokenFixture> {
    let mut out = Vec::new();
    let hs_key = URL_SAFE_NO_PAD.encode([0x5au8; 32]);
    let hs = json!({"kty": "oct", "kid": "hs", "alg": "HS256", "k": hs_key}).to_string();
    out.push(sign("HS256", &hs, &format!(r#"{{"keys":[{hs}]}}"#)));
    for alg in [KeyAlg::Rs256, KeyAlg::Es256, KeyAlg::EdDsa] {
        let (private, jwks) = keys::generate(alg).unwrap();
        out.push(sign(alg.name(), &private, &jwks));
    }
    out
}

fn sign(alg: &'static str, private: &str, jwks: &str) -> TokenFixture {
    let token = keys::sign_jws(private, Some(alg), &Map::new(), &claims()).unwrap();
    TokenFixture {
        alg,
        jwks: jwks.to_owned(),
        token,
    }
}

/// The same verification `ring` does natively: signature over `header.payload` only (no
/// base64 of the header and claims, no JSON, no claim checks), i.e. the floor.
#[derive(Debug)]
pub struct RingVerifier {
    alg: &'static str,
    /// HMAC key, RSA `n`, SEC1 point or Ed25519 key.
    key: Vec<u8>,
    e: Vec<u8>,
    hmac: Option<ring::hmac::Key>,
}

impl RingVerifier {
    pub fn new(fixture: &TokenFixture) -> RingVerifier {
        let jwks: Value = serde_json::from_str(&fixture.jwks).unwrap();
        let jwk = &jwks["keys"][0];
        let b64 = |name: &str| URL_SAFE_NO_PAD.decode(jwk[name].as_str().unwrap()).unwrap();
        let (key, e) = match fixture.alg {
            "HS256" => (b64("k"), Vec::new()),
            "RS256" => (b64("n"), b64("e")),
            "ES256" => {
                let mut point = vec![4u8];
                point.extend(b64("x"));
                point.extend(b64("y"));
                (point, Vec::new())
            }
            "EdDSA" => (b64("x"), Vec::new()),
            other => panic!("no ring verifier for {other}"),
        };
        let hmac =
            (fixture.alg == "HS256").then(|| ring::hmac::Key::new(ring::hmac::HMAC_SHA256, &key));
        RingVerifier {
            alg: fixture.alg,
            key,
            e,
            hmac,
        }
    }

    /// Splits and base64-decodes the signature, then verifies it.
    pub fn verify(&self, token: &str) -> bool {
        use ring::signature;
        let Some((input, sig)) = token.rsplit_once('.') else {
            return false;
        };
        let Ok(sig) = URL_SAFE_NO_PAD.decode(sig) else {
            return false;
        };
        let input = input.as_bytes();
        match self.alg {
            "HS256" => ring::hmac::verify(self.hmac.as_ref().unwrap(), input, &sig).is_ok(),
            "RS256" => signature::RsaPublicKeyComponents {
                n: &self.key,
                e: &self.e,
            }
            .verify(&signature::RSA_PKCS1_2048_8192_SHA256, input, &sig)
            .is_ok(),
            "ES256" => {
                signature::UnparsedPublicKey::new(&signature::ECDSA_P256_SHA256_FIXED, &self.key)
                    .verify(input, &sig)
                    .is_ok()
            }
            "EdDSA" => signature::UnparsedPublicKey::new(&signature::ED25519, &self.key)
                .verify(input, &sig)
                .is_ok(),
            _ => false,
        }
    }
}

/// A control-plane token for the case's subject, signed with the synthetic tenant's key
/// (EdDSA), as the filter would receive it.
pub fn token_for(case: &Case) -> String {
    let mut claims = claims();
    claims["sub"] = json!(case.subject);
    claims["email"] = json!(case.subject.trim_start_matches("user:"));
    keys::sign_jws(synth::SYNTH_CP_PRIVATE_JWK, None, &Map::new(), &claims).unwrap()
}

/// `fixture`'s bundle with `count` API keys added for the case's user (ids 1, 2, ...; secrets
/// from a counter, so no key but the returned one is ever presented), and the key of id
/// `count / 2` (a key in the middle of the table: a full binary search) as it is presented.
pub fn with_api_keys(fixture: &Fixture, case: &Case, count: u64) -> (Vec<u8>, String) {
    use gatehouse_engine::credential::{self, KeyId};
    use gatehouse_engine::model::{Credential, UserId};
    let mut policy = fixture.policy.clone();
    let secret = |i: u64| format!("{i:0>43}");
    let user = u32::try_from(case.user).unwrap();
    policy.tenants[0].credentials = (1..=count)
        .map(|id| Credential {
            id,
            digest: credential::assemble(KeyId(id), &secret(id)).digest,
            principal: Some(Subject::User(UserId(user))),
            expires: Some(NOW + 86_400),
            revoked: false,
            scope: None,
        })
        .collect();
    let bundle = gatehouse_engine::bundle::encode(&policy, None).unwrap();
    let presented = count / 2;
    (
        bundle,
        credential::assemble(KeyId(presented), &secret(presented)).key,
    )
}

/// An MCP server of `tools` tools behind a trimming MCP route, a caller who may call every other
/// one (the rest admit only another user), and a `tools/list` response naming them all as a
/// server writes it (name, description, input schema).
#[derive(Debug)]
pub struct McpFixture {
    pub bundle: Vec<u8>,
    /// The `tools/list` request body.
    pub request_body: &'static str,
    /// The upstream's `application/json` response.
    pub response_json: String,
    /// The same response as one `text/event-stream` event.
    pub response_sse: String,
    /// `user:<email>` of the caller.
    pub subject: &'static str,
    pub path: &'static str,
}

pub fn mcp(tools: usize) -> McpFixture {
    let names: Vec<String> = (0..tools).map(|i| format!("tool_{i:04}")).collect();
    let tool_entries: Vec<Value> = names
        .iter()
        .enumerate()
        .map(|(i, name)| {
            if i % 2 == 0 {
                json!({"name": name})
            } else {
                json!({"name": name, "authorized_subjects": ["user:other@synth.example.com"]})
            }
        })
        .collect();
    let tenant = json!({
        "tenant": {"name": TENANT, "hosts": [HOST], "issuer": "https://synth.cp.example.com",
                   "jwks": serde_json::from_str::<Value>(synth::SYNTH_CP_JWKS).unwrap()},
        "users": [{"email": "caller@synth.example.com"}, {"email": "other@synth.example.com"}],
        "resources": [{
            "type": "mcp-server", "name": "github",
            "collaborators": [
                {"subject": "user:caller@synth.example.com", "role": "mcp-server-user"},
                {"subject": "user:other@synth.example.com", "role": "mcp-server-user"},
            ],
            "tools": tool_entries,
        }],
    })
    .to_string();
    let gateway = r#"
routes:
  - name: mcp
    match: {path: "/api/llm/mcp/{server}/server"}
    jsonrpc:
      "tools/call": {resource: "tool:{server}/{body.params.name}", action: use}
      "*": {resource: "mcp-server:{server}", action: read}
    mcp: {scheme: https}
"#;
    let policy = compile_sources(&Sources {
        gateway: Some((Path::new("gateway.yaml"), gateway)),
        tenants: &[(Path::new("synth.json"), tenant.as_str())],
        files: Files::Disk,
        revision: Some("bench-mcp"),
        serial: 1,
    })
    .unwrap_or_else(|e| panic!("MCP fixture does not compile: {e}"));
    let bundle = gatehouse_engine::bundle::encode(&policy, None).unwrap();
    let listed: Vec<Value> = names
        .iter()
        .map(|name| {
            json!({
                "name": name,
                "description": format!("Does what {name} does, on the repository given."),
                "inputSchema": {"type": "object",
                    "properties": {"repo": {"type": "string"}, "query": {"type": "string"}},
                    "required": ["repo"]},
            })
        })
        .collect();
    let response_json = json!({"jsonrpc": "2.0", "id": 1, "result": {"tools": listed}}).to_string();
    let response_sse = format!("event: message\ndata: {response_json}\n\n");
    McpFixture {
        bundle,
        request_body: r#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#,
        response_json,
        response_sse,
        subject: "user:caller@synth.example.com",
        path: "/api/llm/mcp/github/server",
    }
}
