//! The analyses and API keys: who-can lists the live keys whose scope admits the request,
//! what-can narrows to a key's scope, diff lists key changes.

use super::{Analysis, KeyChangeKind};
use crate::bundle::{encode, LoadOptions};
use crate::credential::KeyId;
use crate::decide::{Engine, Principal};
use crate::model::{
    ActionSet, Credential, CredentialScope, Gateway, Grant, Policy, Resource, ResourceId,
    ResourceType, Role, RoleId, RoleKind, ScopePath, ScopeRule, Subject, Tenant, TenantConfig,
    TokenSource, TypeId, User, UserId, VirtualAccount, VirtualAccountId,
};
use crate::reason::Reason;

const NOW: i64 = 1_800_000_000;
const READ: u32 = 0;
const USE: u32 = 1;
const CI: Subject = Subject::VirtualAccount(VirtualAccountId(0));
const ALICE: Subject = Subject::User(UserId(0));

fn key(id: u64, principal: Subject, scope: Option<u32>) -> Credential {
    Credential {
        id,
        digest: [id as u8; 32],
        principal: Some(principal),
        expires: None,
        revoked: false,
        scope,
    }
}

/// Models `a/x`, `a/y`, `b/z`; `virtualaccount:ci` may read and use all three, `user:alice`
/// only `a/x`. The keys: 1 (ci, `model:a/*:use`), 2 (ci, unscoped), 3 (ci, revoked), 4 (ci,
/// expired), 5 (ci, `model:b/z`), 6 (alice, unscoped).
fn tenant() -> Tenant {
    let model = |path: &str| Resource {
        resource_type: TypeId(0),
        path: path.into(),
        parent: None,
        enabled: true,
        authorized_subjects: None,
    };
    let grant = |r: u32, subject| Grant {
        resource: ResourceId(r),
        subject,
        role: RoleId(1),
    };
    let mut grants = vec![grant(0, ALICE), grant(0, CI), grant(1, CI), grant(2, CI)];
    grants.sort();
    let rule = |path: ScopePath, actions: Option<u64>| ScopeRule {
        resource_type: TypeId(0),
        path,
        actions: actions.map(ActionSet),
    };
    Tenant {
        config: TenantConfig {
            name: "acme".into(),
            hosts: Vec::new(),
            issuer: "https://cp.acme.test".into(),
            keys: Vec::new(),
            audiences: vec!["gw".into()],
            clock_skew_seconds: 0,
            revoked_token_ids: Vec::new(),
            identity_providers: Vec::new(),
            actions: vec!["read".into(), "use".into()],
            resource_types: vec![ResourceType {
                name: "model".into(),
                parent: None,
                actions: ActionSet(0b11),
            }],
            roles: vec![
                Role {
                    name: "tenant-member".into(),
                    kind: RoleKind::Tenant {
                        permissions: Vec::new(),
                    },
                },
                Role {
                    name: "model-user".into(),
                    kind: RoleKind::Collaborator {
                        resource_type: TypeId(0),
                        actions: ActionSet(0b11),
                    },
                },
            ],
            jit_domains: Vec::new(),
            credential_scopes: vec![
                CredentialScope {
                    rules: vec![rule(ScopePath::Under("a".into()), Some(1 << USE))],
                },
                CredentialScope {
                    rules: vec![rule(ScopePath::Exact("b/z".into()), None)],
                },
            ],
        },
        users: vec![User {
            email: "alice@acme.test".into(),
            active: true,
            role: RoleId(0),
            teams: Vec::new(),
        }],
        teams: Vec::new(),
        virtual_accounts: vec![VirtualAccount {
            name: "ci".into(),
            expires: None,
            tokens_valid_after: None,
            rotation_grace: 0,
            idp_mappings: Vec::new(),
        }],
        resources: vec![model("a/x"), model("a/y"), model("b/z")],
        grants,
        credentials: vec![
            key(1, CI, Some(0)),
            key(2, CI, None),
            Credential {
                revoked: true,
                ..key(3, CI, None)
            },
            Credential {
                expires: Some(NOW - 1),
                ..key(4, CI, None)
            },
            key(5, CI, Some(1)),
            key(6, ALICE, None),
        ],
    }
}

fn engine(tenant: Tenant) -> Engine {
    let policy = Policy {
        revision: "1".into(),
        compiler_version: "test".into(),
        serial: 1,
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
        tenants: vec![tenant],
    };
    Engine::load(encode(&policy, None).unwrap(), &LoadOptions::default()).unwrap()
}

fn analysis(engine: &Engine) -> Analysis<'_> {
    engine.analysis(None).unwrap()
}

#[test]
fn who_can_lists_the_live_keys_whose_scope_admits_the_request() {
    let e = engine(tenant());
    let a = analysis(&e);
    let ci = Principal::VirtualAccount(VirtualAccountId(0));
    let alice = Principal::User(UserId(0));
    let x = a.resource("model:a/x").unwrap();
    let who = a.who_can(x, USE, NOW);
    assert_eq!(who.allowed.len(), 2);
    // Allowed order (users first), then id; 3 revoked, 4 expired, 5 scoped elsewhere.
    assert_eq!(
        who.credentials,
        vec![(alice, KeyId(6)), (ci, KeyId(1)), (ci, KeyId(2))]
    );
    // `read` is outside key 1's scope.
    let who = a.who_can(x, READ, NOW);
    assert_eq!(who.credentials, vec![(alice, KeyId(6)), (ci, KeyId(2))]);
    let z = a.resource("model:b/z").unwrap();
    let who = a.who_can(z, READ, NOW);
    assert_eq!(who.credentials, vec![(ci, KeyId(2)), (ci, KeyId(5))]);
    // Before key 4 expired.
    let who = a.who_can(z, READ, NOW - 10);
    assert_eq!(
        who.credentials,
        vec![(ci, KeyId(2)), (ci, KeyId(4)), (ci, KeyId(5))]
    );
}

#[test]
fn what_can_a_key_is_its_principal_narrowed_to_the_scope() {
    let e = engine(tenant());
    let a = analysis(&e);
    let pairs = |what: &super::WhatCan| -> Vec<(String, String)> {
        what.allowed
            .iter()
            .map(|(r, act, _)| (a.resource_key(*r), a.action_name(*act).to_owned()))
            .collect()
    };
    let ci = a.principal("virtualaccount:ci").unwrap();
    let whole = a.what_can(ci, None, None, NOW).unwrap();
    assert_eq!(whole.allowed.len(), 6);
    assert_eq!(whole.credential, None);

    let scoped = a.what_can_credential(KeyId(1), None, None, NOW).unwrap();
    assert_eq!(scoped.principal, ci);
    assert_eq!(scoped.credential, Some(KeyId(1)));
    assert_eq!(scoped.denied, None);
    assert_eq!(
        pairs(&scoped),
        vec![
            ("model:a/x".to_owned(), "use".to_owned()),
            ("model:a/y".to_owned(), "use".to_owned())
        ]
    );
    assert_eq!(scoped.blocked.len(), 4);
    assert!(scoped
        .blocked
        .iter()
        .all(|(_, _, r)| *r == Reason::CredentialOutOfScope));

    // An unscoped key is the principal's whole access.
    let unscoped = a.what_can_credential(KeyId(2), None, None, NOW).unwrap();
    assert_eq!(unscoped.allowed, whole.allowed);
    assert!(unscoped.blocked.is_empty());

    // Filters still apply.
    let only = a
        .what_can_credential(KeyId(1), None, Some("read"), NOW)
        .unwrap();
    assert!(only.allowed.is_empty());

    // Revoked, expired: nothing, and why.
    let revoked = a.what_can_credential(KeyId(3), None, None, NOW).unwrap();
    assert_eq!(revoked.denied, Some(Reason::TokenRevoked));
    assert!(revoked.allowed.is_empty() && revoked.blocked.is_empty());
    let expired = a.what_can_credential(KeyId(4), None, None, NOW).unwrap();
    assert_eq!(expired.denied, Some(Reason::TokenExpired));

    assert!(matches!(
        a.what_can_credential(KeyId(99), None, None, NOW),
        Err(super::AnalysisError::CredentialUnknown { .. })
    ));
}

#[test]
fn keys_are_read_back_with_their_scope_rules() {
    let e = engine(tenant());
    let a = analysis(&e);
    let k = a.credential(KeyId(1)).unwrap();
    assert_eq!(
        k.principal,
        Some(Principal::VirtualAccount(VirtualAccountId(0)))
    );
    assert_eq!(a.scope_rules(k.scope.unwrap()), vec!["model:a/*:use"]);
    assert_eq!(a.scope_rules(1), vec!["model:b/z"]);
    let revoked = a.credential(KeyId(3)).unwrap();
    assert!(revoked.revoked);
    assert_eq!(a.credentials().count(), 6);
}

#[test]
fn diff_lists_key_changes() {
    let old = engine(tenant());
    let mut t = tenant();
    // 1 rescoped, 2 revoked, 5 rotated (expiry moved earlier, a new key for ci: 7), 6 removed.
    t.config.credential_scopes.push(CredentialScope {
        rules: vec![ScopeRule {
            resource_type: TypeId(0),
            path: ScopePath::Any,
            actions: Some(ActionSet(1 << READ)),
        }],
    });
    t.credentials[0].scope = Some(2);
    t.credentials[1].revoked = true;
    t.credentials[4].expires = Some(NOW + 3600);
    t.credentials.pop();
    t.credentials.push(key(7, CI, Some(0)));
    let new = engine(t);
    let diff = super::Diff::new(&old, &new, NOW);
    assert_eq!(diff.count(), 0, "keys change no --as triple");
    let changes = &diff.tenants[0].credentials;
    let kinds: Vec<(u64, &str)> = changes.iter().map(|c| (c.id.0, c.kind.code())).collect();
    assert_eq!(
        kinds,
        vec![
            (1, "rescoped"),
            (2, "revoked"),
            (5, "rotated"),
            (6, "removed"),
            (7, "created")
        ]
    );
    assert_eq!(
        changes[0].kind,
        KeyChangeKind::Rescoped {
            before: vec!["model:a/*:use".into()],
            after: vec!["model:*:read".into()],
        }
    );
    assert_eq!(
        changes[2].kind,
        KeyChangeKind::Rotated {
            before: None,
            after: Some(NOW + 3600),
            replacements: vec![KeyId(7)],
        }
    );
    assert_eq!(
        changes[3].principal.as_deref(),
        Some("user:alice@acme.test")
    );
    assert_eq!(
        changes[0].phrase().as_str(),
        "API key 0000000000000001 of virtualaccount:ci rescoped [model:a/*:use] -> [model:*:read]"
    );
}
