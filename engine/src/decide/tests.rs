//! The verified-token cache across bundles: an engine given the previous engine's cache keeps
//! its verified signatures while the tenant's verification settings are unchanged, and checks
//! everything else against its own bundle from the first request on.

use serde_json::{json, Value};

use super::{Decision, Engine, Identity, Request, SharedTokenCache};
use crate::bundle::{encode, LoadOptions};
use crate::jwt::test_support::{jwk, keys, sign, Signer};
use crate::model::{
    Algorithm, Gateway, Policy, Role, RoleId, RoleKind, Tenant, TenantConfig, TokenSource, User,
    VirtualAccount,
};
use crate::reason::Reason;
use crate::route::Body;

const NOW: i64 = 1_800_000_000;
const ISSUER: &str = "https://cp.acme.test";

/// One tenant, `acme`, whose gateway lets any valid principal through (`default:
/// authenticated`, no routes): the decision is steps 1-5.
fn policy(serial: u64) -> Policy {
    let user = |email: &str| User {
        email: email.into(),
        active: true,
        role: RoleId(0),
        teams: Vec::new(),
    };
    Policy {
        revision: serial.to_string(),
        compiler_version: "test".into(),
        serial,
        gateway: Gateway {
            default_authenticated: true,
            dry_run: false,
            max_body_bytes: 1024,
            token_sources: vec![TokenSource::bearer()],
            routes: Vec::new(),
            override_headers: Default::default(),
            host_override_headers: Default::default(),
            refuse_path_semicolons: false,
            refuse_cross_site_cookies: false,
        },
        tenants: vec![Tenant {
            config: TenantConfig {
                name: "acme".into(),
                hosts: Vec::new(),
                issuer: ISSUER.into(),
                keys: vec![jwk(Some("p256"), Signer::P256(&keys().p256))],
                audiences: vec!["gw".into()],
                clock_skew_seconds: 0,
                revoked_token_ids: Vec::new(),
                identity_providers: Vec::new(),
                actions: vec!["read".into()],
                resource_types: Vec::new(),
                roles: vec![Role {
                    name: "tenant-member".into(),
                    kind: RoleKind::Tenant {
                        permissions: Vec::new(),
                    },
                }],
                jit_domains: Vec::new(),
                credential_scopes: Vec::new(),
            },
            users: vec![user("alice@acme.test"), user("carol@acme.test")],
            teams: Vec::new(),
            virtual_accounts: vec![VirtualAccount {
                name: "ci".into(),
                expires: None,
                tokens_valid_after: None,
                rotation_grace: 0,
                idp_mappings: Vec::new(),
            }],
            resources: Vec::new(),
            grants: Vec::new(),
            credentials: Vec::new(),
        }],
    }
}

fn tenant(policy: &mut Policy) -> &mut Tenant {
    &mut policy.tenants[0]
}

fn engine(policy: &Policy, cache: &SharedTokenCache) -> Engine {
    let bytes = encode(policy, None).unwrap();
    Engine::load_with_shared_token_cache(bytes, &LoadOptions::default(), cache).unwrap()
}

fn token(sub: &str, extra: Value) -> String {
    let mut claims = json!({
        "iss": ISSUER, "tenant": "acme", "sub": sub, "aud": "gw",
        "iat": NOW - 60, "exp": NOW + 3600, "jti": format!("jti-{sub}"),
    });
    if let (Some(claims), Value::Object(extra)) = (claims.as_object_mut(), extra) {
        claims.extend(extra);
    }
    sign(
        Algorithm::ES256,
        Signer::P256(&keys().p256),
        &json!({"alg": "ES256", "kid": "p256"}),
        &claims,
    )
}

/// The decision on a request with `token`, whether the cache had it, and who the caller is.
fn decide(engine: &Engine, token: &str) -> (Decision, bool, Option<String>) {
    decide_at(engine, token, NOW)
}

/// [`decide`] at `now`.
fn decide_at(engine: &Engine, token: &str, now: i64) -> (Decision, bool, Option<String>) {
    let authorization = format!("Bearer {token}");
    let headers = [("authorization", authorization.as_str())];
    let request = Request {
        authority: "api.acme.test",
        method: "GET",
        path: "/anything",
        headers: &headers,
        body: Body::Absent,
    };
    let outcome = engine.decide(&request, Identity::Token, now);
    (outcome.decision, outcome.token_cache_hit, outcome.subject())
}

fn allowed(engine: &Engine, token: &str) -> (bool, Option<String>) {
    let (decision, hit, subject) = decide(engine, token);
    assert!(decision.is_allow(), "{decision:?}");
    (hit, subject)
}

#[track_caller]
fn denied(engine: &Engine, token: &str, reason: Reason) {
    let (decision, _, _) = decide(engine, token);
    assert_eq!(decision, Decision::Deny { reason });
}

/// Verified under bundle A, then B: B is another bundle (another serial, another user table in
/// which alice has another index) with the same keys and settings.
#[test]
fn a_token_verified_under_one_bundle_is_a_hit_under_the_next_with_the_same_keys() {
    let cache = SharedTokenCache::new(64);
    let alice = token("user:alice@acme.test", json!({}));
    let a = engine(&policy(1), &cache);
    assert_eq!(
        allowed(&a, &alice),
        (false, Some("user:alice@acme.test".into()))
    );
    assert!(allowed(&a, &alice).0);

    let mut next = policy(2);
    // A user before alice: every index after it moves.
    let first = User {
        email: "aaron@acme.test".into(),
        ..next.tenants[0].users[0].clone()
    };
    tenant(&mut next).users.insert(0, first);
    let b = engine(&next, &cache);
    assert_eq!(
        allowed(&b, &alice),
        (true, Some("user:alice@acme.test".into())),
        "the caller is resolved in B, not taken from A's indexes"
    );
    assert!(allowed(&b, &alice).0);
    // A, still serving requests begun before B, resolves against its own bundle.
    assert_eq!(
        allowed(&a, &alice),
        (true, Some("user:alice@acme.test".into()))
    );
    let stats = cache.stats();
    assert_eq!((stats.misses, stats.hits, stats.entries), (1, 4, 1));
}

/// Each change to what verification reads gives the tenant another scope: B verifies again.
#[test]
fn changed_verification_settings_verify_again() {
    type Change = fn(&mut TenantConfig);
    let changes: [(&str, Change); 6] = [
        ("another key in the set", |c| {
            c.keys
                .push(jwk(Some("ed25519"), Signer::Ed25519(&keys().ed25519)))
        }),
        ("other key material under the same kid", |c| {
            c.keys = vec![jwk(Some("p256"), Signer::P256(&keys().p256_other))]
        }),
        ("another audience", |c| c.audiences.push("other".into())),
        ("a clock skew", |c| c.clock_skew_seconds = 30),
        ("an identity provider", |c| {
            c.identity_providers.push(crate::model::IdentityProvider {
                name: "okta".into(),
                issuer: "https://okta.test".into(),
                keys: vec![jwk(Some("ed25519"), Signer::Ed25519(&keys().ed25519))],
                audiences: Vec::new(),
                algorithms: Vec::new(),
                resolve_to: crate::model::ResolveTo::VirtualAccount {
                    virtual_account_claim: vec!["sub".into()],
                },
            })
        }),
        ("another tenant name", |c| c.name = "acme2".into()),
    ];
    for (what, change) in changes {
        let cache = SharedTokenCache::new(64);
        let alice = token("user:alice@acme.test", json!({}));
        let a = engine(&policy(1), &cache);
        assert!(!allowed(&a, &alice).0);
        assert!(allowed(&a, &alice).0);
        let mut next = policy(2);
        change(&mut tenant(&mut next).config);
        let b = engine(&next, &cache);
        let (decision, hit, _) = decide(&b, &alice);
        assert!(!hit, "{what}: not a hit");
        match what {
            "other key material under the same kid" => {
                assert_eq!(
                    decision,
                    Decision::Deny {
                        reason: Reason::SignatureInvalid
                    },
                    "{what}"
                )
            }
            "another tenant name" => assert_eq!(
                decision,
                Decision::Deny {
                    reason: Reason::TenantMismatch
                },
                "{what}"
            ),
            _ => assert!(decision.is_allow(), "{what}: {decision:?}"),
        }
    }

    // Another issuer: the token names none of this tenant's, and is not a hit either.
    let cache = SharedTokenCache::new(64);
    let alice = token("user:alice@acme.test", json!({}));
    allowed(&engine(&policy(1), &cache), &alice);
    let mut next = policy(2);
    tenant(&mut next).config.issuer = "https://cp2.acme.test".into();
    let (decision, hit, _) = decide(&engine(&next, &cache), &alice);
    assert!(!hit);
    assert_eq!(
        decision,
        Decision::Deny {
            reason: Reason::IssuerUnknown
        }
    );
}

/// A push that changes the principal's standing is enforced on the first request after it,
/// though the signature is taken from the cache.
#[test]
fn principal_changes_apply_on_the_first_request_after_a_new_bundle() {
    type Change = fn(&mut Tenant);
    let cases: [(&str, Change, Reason); 5] = [
        (
            "user:alice@acme.test",
            |t| t.users[0].active = false,
            Reason::PrincipalInactive,
        ),
        (
            "user:alice@acme.test",
            |t| {
                t.users.remove(0);
            },
            Reason::PrincipalUnknown,
        ),
        (
            "user:alice@acme.test",
            |t| t.config.revoked_token_ids = vec!["jti-user:alice@acme.test".into()],
            Reason::TokenRevoked,
        ),
        (
            "virtualaccount:ci",
            |t| t.virtual_accounts[0].tokens_valid_after = Some(NOW - 30),
            Reason::TokenRevoked,
        ),
        (
            "virtualaccount:ci",
            |t| t.virtual_accounts[0].expires = Some(NOW - 1),
            Reason::PrincipalExpired,
        ),
    ];
    for (sub, change, reason) in cases {
        let cache = SharedTokenCache::new(64);
        let t = token(sub, json!({}));
        let a = engine(&policy(1), &cache);
        allowed(&a, &t);
        assert!(allowed(&a, &t).0, "{sub}: cached under A");
        let hits = cache.stats().hits;
        let mut next = policy(2);
        change(tenant(&mut next));
        let b = engine(&next, &cache);
        denied(&b, &t, reason);
        assert_eq!(
            cache.stats().hits,
            hits + 1,
            "{reason:?}: found in the cache"
        );
        denied(&b, &t, reason);
        // And back: a bundle that restores the principal allows again, still from the cache.
        let c = engine(&policy(3), &cache);
        assert!(allowed(&c, &t).0, "{reason:?}");
    }
}

/// An engine with a cache of its own shares nothing with another engine's.
#[test]
fn engines_with_their_own_cache_share_nothing() {
    let alice = token("user:alice@acme.test", json!({}));
    let a = engine(&policy(1), &SharedTokenCache::new(64));
    allowed(&a, &alice);
    let b = engine(&policy(2), &SharedTokenCache::new(64));
    assert!(!allowed(&b, &alice).0);
    let own = Engine::load(encode(&policy(3), None).unwrap(), &LoadOptions::default()).unwrap();
    assert!(!allowed(&own, &alice).0);
    assert!(allowed(&own, &alice).0);
}

/// A just-in-time member is never cached (an entry would not say who): a user a bundle lists is
/// cached and found by the next bundle, which no longer lists them but admits their domain, as
/// its member; and the member is verified on every request, never answered from an entry.
#[test]
fn just_in_time_members_are_resolved_by_each_bundle_and_never_cached() {
    let cache = SharedTokenCache::new(64);
    let carol = token("user:carol@acme.test", json!({}));
    let a = engine(&policy(1), &cache);
    assert_eq!(
        allowed(&a, &carol),
        (false, Some("user:carol@acme.test".into()))
    );

    let mut next = policy(2);
    tenant(&mut next)
        .users
        .retain(|u| u.email != "carol@acme.test");
    let b = engine(&next, &cache);
    denied(&b, &carol, Reason::PrincipalUnknown);
    tenant(&mut next).config.jit_domains = vec!["acme.test".into()];
    let c = engine(&next, &cache);
    for _ in 0..3 {
        // The entry A made is found (the signature is not checked again), then resolved anew.
        assert_eq!(
            allowed(&c, &carol),
            (true, Some("user:carol@acme.test".into()))
        );
    }
    let newbie = token("user:newbie@acme.test", json!({}));
    for _ in 0..3 {
        assert_eq!(
            allowed(&c, &newbie),
            (false, Some("user:newbie@acme.test".into()))
        );
    }
    denied(
        &c,
        &token("user:newbie@other.test", json!({})),
        Reason::PrincipalUnknown,
    );
}

/// A virtual-account token issued before `tokens_valid_after` is cached during the rotation's
/// grace; the cache must not outlive the grace.
#[test]
fn a_token_cached_during_a_rotation_grace_is_refused_when_the_grace_ends() {
    let mut policy = policy(1);
    let grace_end = NOW + 30;
    if let Some(va) = tenant(&mut policy).virtual_accounts.get_mut(0) {
        va.tokens_valid_after = Some(NOW - 10);
        va.rotation_grace = 40;
    }
    let engine = engine(&policy, &SharedTokenCache::new(16));
    let old = token("virtualaccount:ci", json!({"iat": NOW - 100}));
    let fresh = token("virtualaccount:ci", json!({"iat": NOW - 5}));
    let at = |t: &str, now: i64| {
        let (decision, hit, _) = decide_at(&engine, t, now);
        (decision, hit)
    };
    assert_eq!(at(&old, NOW), (Decision::Allow { grant: None }, false));
    assert_eq!(
        at(&old, grace_end - 1),
        (Decision::Allow { grant: None }, true)
    );
    let revoked = Decision::Deny {
        reason: Reason::TokenRevoked,
    };
    assert_eq!(at(&old, grace_end).0, revoked);
    assert_eq!(at(&old, grace_end + 1000).0, revoked);
    // A token issued after the cut-off does not depend on the grace.
    assert!(at(&fresh, grace_end + 1000).0.is_allow());
}
