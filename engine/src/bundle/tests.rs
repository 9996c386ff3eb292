//! The serial in META (since format 2.0): round trip, coverage by digest and signature, refusal of
//! corrupt or missing serials; the tables of format 3.0: lookups over a small tenant, and
//! refusal of tables that break an invariant `validate` checks.

use ed25519_dalek::SigningKey;

use super::encode::{assemble, postcard_bytes};
use super::format::section;
use super::*;
use crate::model::{Gateway, Policy};

fn policy(serial: u64) -> Policy {
    Policy {
        revision: "r".into(),
        compiler_version: "test".into(),
        serial,
        gateway: Gateway {
            default_authenticated: false,
            dry_run: false,
            max_body_bytes: 1024,
            token_sources: Vec::new(),
            routes: Vec::new(),
            override_headers: Default::default(),
            host_override_headers: Default::default(),
            refuse_path_semicolons: false,
            refuse_cross_site_cookies: false,
        },
        tenants: Vec::new(),
    }
}

fn decode(bytes: Vec<u8>) -> Result<Bundle, LoadError> {
    Bundle::decode(bytes, &LoadOptions::default())
}

/// A bundle of `policy(0)` whose META section is `meta`, digest and directory intact.
fn with_meta(meta: Vec<u8>) -> Vec<u8> {
    let gateway = postcard_bytes(&policy(0).gateway).unwrap_or_default();
    assemble(&[(section::META, meta), (section::GATEWAY, gateway)], None).unwrap_or_default()
}

/// A route's `mcp:` block holds what the compiler lets through, or the bundle does not load: its
/// values reach URLs, metadata documents and `WWW-Authenticate` parameters.
#[test]
fn mcp_blocks_are_checked_at_load() {
    use crate::model::{McpResource, PathMatch, Refusal, Route, RouteTarget};
    let with = |edit: &dyn Fn(&mut McpResource)| {
        let mut mcp = McpResource {
            authorization_servers: Vec::new(),
            scopes: vec!["mcp.tools".into()],
            audiences: vec!["api://mcp".into()],
            scheme: Some("https".into()),
            forward_token: false,
            refusal: Refusal::JsonRpc,
            trim_tools_list: true,
            max_response_bytes: 1024,
        };
        edit(&mut mcp);
        let mut policy = policy(1);
        policy.gateway.routes.push(Route {
            name: "mcp".into(),
            methods: Vec::new(),
            path: PathMatch::Prefix("/mcp".into()),
            public: false,
            target: RouteTarget::JsonRpc {
                methods: Vec::new(),
                fallback: None,
            },
            mcp: Some(mcp),
        });
        decode(encode(&policy, None).unwrap_or_default())
    };
    assert!(with(&|_| {}).is_ok());
    for (what, edit) in [
        (
            "scheme",
            &(|m: &mut McpResource| m.scheme = Some("ftp".into())) as &dyn Fn(&mut McpResource),
        ),
        ("scope with a space", &|m| m.scopes = vec!["a b".into()]),
        ("scope with a quote", &|m| m.scopes = vec!["a\"".into()]),
        ("empty scope", &|m| m.scopes = vec![String::new()]),
        ("audience with a line feed", &|m| {
            m.audiences = vec!["a\nb".into()]
        }),
        ("no response at all", &|m| m.max_response_bytes = 0),
    ] {
        assert!(
            matches!(with(edit), Err(LoadError::Corrupt(_))),
            "{what} loaded"
        );
    }
}

#[test]
fn serial_round_trips_and_is_in_meta() {
    for serial in [0, 1, 10, 1_795_867_200, u64::MAX] {
        let bytes = encode(&policy(serial), None).unwrap_or_default();
        let bundle = decode(bytes).unwrap_or_else(|e| panic!("{serial}: {e}"));
        assert_eq!(bundle.serial(), serial);
        assert_eq!(bundle.meta().serial, serial);
        assert_eq!(bundle.format_version(), (7, 0));
    }
    // META is `revision, compiler_version, tenant_count, serial` (docs/bundle-format.md
    // 3.1): the serial is the last field, a LEB128 varint.
    let meta = Meta {
        revision: "r".into(),
        compiler_version: "v".into(),
        tenant_count: 0,
        serial: 300,
    };
    assert_eq!(
        postcard_bytes(&meta).unwrap_or_default(),
        [1, b'r', 1, b'v', 0, 0xac, 0x02]
    );
}

#[test]
fn serial_is_covered_by_digest_and_signature() {
    let a = encode(&policy(10), None).unwrap_or_default();
    let b = encode(&policy(5), None).unwrap_or_default();
    assert_eq!(a.len(), b.len());
    assert_ne!(a.get(24..56), b.get(24..56), "same digest for two serials");
    // Same policy, same serial: same bytes (determinism).
    assert_eq!(a, encode(&policy(10), None).unwrap_or_default());

    // Rewriting the serial of a signed bundle in place breaks digest and signature.
    let key = SigningKey::from_bytes(&[7; 32]);
    let signed = encode(&policy(10), Some(&key)).unwrap_or_default();
    let pos = signed
        .len()
        .checked_sub(SIGNATURE_TRAILER_LEN)
        .and_then(|end| signed.get(..end))
        .and_then(|head| head.iter().rposition(|b| *b == 10));
    let mut forged = signed.clone();
    if let Some(b) = pos.and_then(|p| forged.get_mut(p)) {
        *b = 5;
    }
    assert_ne!(forged, signed);
    assert_eq!(decode(forged).err(), Some(LoadError::DigestMismatch));
    // With the digest recomputed, the signature still fails.
    let mut forged = encode(&policy(5), None).unwrap_or_default();
    forged.extend_from_slice(signed.get(signed.len() - 96..).unwrap_or_default());
    if let Some(flags) = forged.get_mut(12) {
        *flags = 1;
    }
    assert_eq!(decode(forged).err(), Some(LoadError::BadSignature));
}

#[test]
fn corrupt_serials_are_refused() {
    let base = [1, b'r', 1, b'v', 0];
    let cases: [(&str, Vec<u8>); 5] = [
        // A format 1.0 META: no serial at all.
        ("missing", base.to_vec()),
        // A varint cut short.
        ("truncated", [&base[..], &[0x80]].concat()),
        // Eleven continuation bytes: longer than any u64.
        ("overlong", [&base[..], &[0xff; 10], &[0x01]].concat()),
        // Ten bytes whose value exceeds u64::MAX.
        ("overflow", [&base[..], &[0xff; 9], &[0x7f]].concat()),
        ("trailing byte", [&base[..], &[0x05, 0x00]].concat()),
    ];
    for (what, meta) in cases {
        match decode(with_meta(meta)) {
            Err(LoadError::Corrupt(why)) => {
                assert!(why.to_string().contains("meta"), "{what}: {why}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
    // The largest serial, spelled canonically, loads.
    let max = [&base[..], &[0xff; 9], &[0x01]].concat();
    assert_eq!(
        decode(with_meta(max)).map(|b| b.serial()).ok(),
        Some(u64::MAX)
    );
}

#[test]
fn earlier_formats_are_refused() {
    for major in [1u16, 2, 3, 4, 5] {
        let mut bytes = encode(&policy(10), None).unwrap_or_default();
        if let Some(field) = bytes.get_mut(8..10) {
            field.copy_from_slice(&major.to_le_bytes());
        }
        let err = decode(bytes).err();
        assert_eq!(err, Some(LoadError::UnsupportedVersion { major, minor: 0 }));
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message,
            format!("unsupported bundle format {major}.0 (this build reads 7.x)")
        );
    }
}

/// A tenant that exercises every table: emails with and without a domain and sharing one, two
/// types one of whose names prefixes the other's, a child resource, a restricted resource, team
/// roles, grants to users, teams, a virtual account and `team:everyone`.
fn tenant_policy() -> Policy {
    use crate::model::{
        ActionSet, Grant, Resource, ResourceId, ResourceType, Role, RoleId, RoleKind, Subject,
        Team, TeamId, Tenant, TenantConfig, TypeId, User, UserId, VirtualAccount, VirtualAccountId,
    };
    let read = ActionSet(1);
    let config = TenantConfig {
        name: "t".into(),
        hosts: Vec::new(),
        issuer: "https://cp.example".into(),
        keys: Vec::new(),
        audiences: Vec::new(),
        clock_skew_seconds: 0,
        revoked_token_ids: Vec::new(),
        identity_providers: Vec::new(),
        actions: vec!["read".into()],
        resource_types: vec![
            ResourceType {
                name: "model".into(),
                parent: None,
                actions: read,
            },
            ResourceType {
                name: "model-x".into(),
                parent: None,
                actions: read,
            },
        ],
        roles: vec![
            Role {
                name: "model-user".into(),
                kind: RoleKind::Collaborator {
                    resource_type: TypeId(0),
                    actions: read,
                },
            },
            Role {
                name: "tenant-admin".into(),
                kind: RoleKind::TenantAdmin,
            },
            Role {
                name: "x-user".into(),
                kind: RoleKind::Collaborator {
                    resource_type: TypeId(1),
                    actions: read,
                },
            },
        ],
        jit_domains: vec!["acme.com".into()],
        credential_scopes: Vec::new(),
    };
    let user = |email: &str, teams: Vec<TeamId>| User {
        email: email.into(),
        active: true,
        role: RoleId(0),
        teams,
    };
    let resource =
        |ty: u32, path: &str, parent: Option<u32>, authorized: Option<Vec<Subject>>| Resource {
            resource_type: TypeId(ty),
            path: path.into(),
            parent: parent.map(ResourceId),
            enabled: true,
            authorized_subjects: authorized,
        };
    let grant = |r: u32, subject: Subject, role: u32| Grant {
        resource: ResourceId(r),
        subject,
        role: RoleId(role),
    };
    let tenant = Tenant {
        config,
        users: vec![
            user("a.b@x.com", vec![TeamId(1)]),
            user("a@x.com", vec![TeamId(0), TeamId(1)]),
            user("b@y.org", Vec::new()),
            user("noat", vec![TeamId(0)]),
        ],
        teams: vec![
            Team {
                name: "t0".into(),
                roles: Vec::new(),
                idp_mappings: Vec::new(),
            },
            Team {
                name: "t1".into(),
                roles: vec![RoleId(1)],
                idp_mappings: Vec::new(),
            },
        ],
        virtual_accounts: vec![VirtualAccount {
            name: "va0".into(),
            expires: None,
            tokens_valid_after: None,
            rotation_grace: 0,
            idp_mappings: Vec::new(),
        }],
        // Sorted by key: `model-x:a` < `model:a` < `model:a/b` ('-' < ':').
        resources: vec![
            resource(1, "a", None, None),
            resource(0, "a", None, None),
            resource(0, "a/b", Some(1), Some(vec![Subject::Team(TeamId(0))])),
        ],
        grants: vec![
            grant(0, Subject::VirtualAccount(VirtualAccountId(0)), 2),
            grant(1, Subject::User(UserId(1)), 0),
            grant(1, Subject::User(UserId(1)), 2),
            grant(1, Subject::Team(TeamId(0)), 0),
            grant(2, Subject::Everyone, 0),
        ],
        credentials: [
            (5, Subject::VirtualAccount(VirtualAccountId(0))),
            (9, Subject::User(UserId(1))),
        ]
        .into_iter()
        .map(|(id, principal)| crate::model::Credential {
            id,
            digest: [id as u8; 32],
            principal: Some(principal),
            expires: None,
            revoked: false,
            scope: None,
        })
        .collect(),
    };
    Policy {
        tenants: vec![tenant],
        ..policy(1)
    }
}

/// The sections of a bundle, by id.
fn sections_of(bytes: &[u8]) -> Vec<(u32, Vec<u8>)> {
    use super::format::{Directory, Reader};
    let body = bytes.get(HEADER_LEN..).unwrap_or_default();
    let directory = Directory::read(&mut Reader::new(body)).unwrap_or(Directory { entries: &[] });
    directory
        .entries
        .iter()
        .map(|e| {
            let range = e.range().unwrap_or(0..0);
            (e.id.get(), body.get(range).unwrap_or_default().to_vec())
        })
        .collect()
}

#[test]
fn tables_round_trip_and_look_up() {
    use crate::model::{ResourceId, RoleId, TeamId, UserId};
    let bytes = encode(&tenant_policy(), None).unwrap_or_default();
    let bundle = decode(bytes).unwrap_or_else(|e| panic!("{e}"));
    let tenant = bundle
        .tenants()
        .first()
        .unwrap_or_else(|| panic!("no tenant"));
    let t = bundle.tables(tenant);
    let emails: Vec<String> = t.users.iter().map(|u| t.email(u)).collect();
    assert_eq!(emails, ["a.b@x.com", "a@x.com", "b@y.org", "noat"]);
    // `@x.com` stored once, `@y.org` once; `noat` has no domain.
    assert_eq!(t.domains.len(), 2);
    assert_eq!(t.users.get(3).and_then(|u| u.domain()), None);
    for (i, email) in emails.iter().enumerate() {
        assert_eq!(t.user(email).map(|(id, _)| id), Some(UserId(i as u32)));
    }
    assert!(t.user("a@x.co").is_none() && t.user("a@x.comm").is_none() && t.user("").is_none());
    assert_eq!(
        t.teams_of(UserId(1)).collect::<Vec<_>>(),
        [TeamId(0), TeamId(1)]
    );
    assert_eq!(t.teams_of(UserId(2)).count(), 0);
    assert_eq!(t.teams_of(UserId(3)).collect::<Vec<_>>(), [TeamId(0)]);
    assert_eq!(t.teams_of(UserId(4)).count(), 0);
    assert_eq!(t.roles_of(TeamId(1)).collect::<Vec<_>>(), [RoleId(1)]);
    assert_eq!(t.roles_of(TeamId(0)).count(), 0);
    let keys: Vec<String> = t.resources.iter().map(|r| t.key(r)).collect();
    assert_eq!(keys, ["model-x:a", "model:a", "model:a/b"]);
    assert_eq!(
        t.resource("model-x", "a").map(|(id, _)| id),
        Some(ResourceId(0))
    );
    assert_eq!(
        t.resource("model", "a").map(|(id, _)| id),
        Some(ResourceId(1))
    );
    assert_eq!(
        t.resource("model", "a/b").map(|(id, _)| id),
        Some(ResourceId(2))
    );
    assert!(t.resource("model", "b").is_none() && t.resource("tool", "a").is_none());
    assert!(t.resource("model-x", "a/b").is_none());
    let roles = |r: u32, s: SubjectCode| {
        let n = t.subject_numbers().number(s).unwrap_or(u64::MAX);
        t.grants_of(ResourceId(r))
            .roles_of(n)
            .map(|r| r.0)
            .collect::<Vec<_>>()
    };
    assert_eq!(roles(1, SubjectCode::user(UserId(1))), [0, 2]);
    assert_eq!(roles(1, SubjectCode::team(TeamId(0))), [0]);
    assert!(roles(1, SubjectCode::user(UserId(0))).is_empty());
    assert!(roles(0, SubjectCode::user(UserId(1))).is_empty());
    assert_eq!(roles(2, SubjectCode::EVERYONE), [0]);
    assert_eq!(t.grants.len(), 5);
    // 4 users + 2 teams + 1 virtual account: everyone is 7; 3 roles take 2 bits: 1 byte.
    assert_eq!((t.grants.values.width(), t.grants.role_bits), (1, 2));
    assert!(t.authorizes(ResourceId(2), SubjectCode::team(TeamId(0))));
    assert!(!t.authorizes(ResourceId(2), SubjectCode::team(TeamId(1))));
    assert!(!t.authorizes(ResourceId(1), SubjectCode::team(TeamId(0))));
}

#[test]
fn corrupt_tables_are_refused() {
    type Edit = fn(&mut Vec<u8>);
    let cases: [(&str, u32, Edit, &str); 17] = [
        (
            "strings cut",
            section::STRINGS,
            |s| s.truncate(s.len().saturating_sub(1)),
            "out of bounds",
        ),
        // The emails (`local` and `domain`) of the first two users swapped.
        (
            "users swapped",
            section::USERS,
            |s| {
                let first: Vec<u8> = s.get(..8).unwrap_or_default().to_vec();
                s.copy_within(15..23, 0);
                s.get_mut(15..23)
                    .unwrap_or_default()
                    .copy_from_slice(&first);
            },
            "users not sorted",
        ),
        (
            "domain index",
            section::USERS,
            |s| s.get_mut(6..8).unwrap_or_default().copy_from_slice(&[5, 0]),
            "user record out of bounds",
        ),
        (
            "user flags",
            section::USERS,
            |s| set(s, 10, 3),
            "unknown flags",
        ),
        (
            "first run",
            section::USERS,
            |s| set(s, 11, 1),
            "user teams are not cut",
        ),
        (
            "team width",
            section::USER_TEAMS,
            |s| set(s, 0, 0),
            "user teams: bad width",
        ),
        (
            "team index",
            section::USER_TEAMS,
            |s| set(s, 1, 9),
            "in an unknown team",
        ),
        (
            "team order",
            section::USER_TEAMS,
            |s| set(s, 3, 0),
            "in an unknown team",
        ),
        (
            "team role",
            section::TEAM_ROLES,
            |s| set(s, 0, 9),
            "unknown role",
        ),
        (
            "role bits",
            section::GRANTS,
            |s| set(s, 1, 17),
            "more than 16 role bits",
        ),
        // Grant 0 is `(6 << 2) | 2`; role 3 does not exist.
        (
            "grant role",
            section::GRANTS,
            |s| set(s, 2, (6 << 2) | 3),
            "unknown subject or role",
        ),
        (
            "grant order",
            section::GRANTS,
            |s| s.get_mut(3..5).unwrap_or_default().reverse(),
            "not sorted",
        ),
        (
            "resource type",
            section::RESOURCES,
            |s| set(s, 6, 7),
            "unknown type",
        ),
        // API keys: 40-byte records, `id` (0..8), digest, `principal` (28..32), `expires`, `scope`
        // (36..40).
        (
            "credential order",
            section::CREDENTIALS,
            |s| s.get_mut(0..80).unwrap_or_default().rotate_left(40),
            "API keys not sorted",
        ),
        (
            "credential principal is a team",
            section::CREDENTIALS,
            |s| set(s, 31, 0x40),
            "names an unknown principal or scope",
        ),
        (
            "credential scope",
            section::CREDENTIALS,
            |s| set(s, 36, 7),
            "names an unknown principal or scope",
        ),
        // The restricted resource no longer restricted, its authorized run kept.
        (
            "authorized",
            section::RESOURCES,
            |s| set(s, 42 + 8, 0),
            "authorized subjects",
        ),
    ];
    fn set(s: &mut [u8], at: usize, value: u8) {
        if let Some(b) = s.get_mut(at) {
            *b = value;
        }
    }
    let good = encode(&tenant_policy(), None).unwrap_or_default();
    assert!(decode(good.clone()).is_ok());
    for (what, kind, edit, expected) in cases {
        let mut sections = sections_of(&good);
        let id = section::tenant(0, kind);
        if let Some((_, bytes)) = sections.iter_mut().find(|(i, _)| *i == id) {
            edit(bytes);
        }
        let bytes = assemble(&sections, None).unwrap_or_default();
        match decode(bytes) {
            Err(LoadError::Corrupt(why)) => {
                assert!(why.to_string().contains(expected), "{what}: {why}")
            }
            other => panic!("{what}: {other:?}"),
        }
    }
}

/// SPEC 2.7's budget: an API key adds exactly 40 bytes to the bundle, scoped or not (a scope is
/// stored once, however many keys share it); the keys load, and each is found by its id.
#[test]
fn api_keys_cost_forty_bytes_each() {
    use crate::model::{
        ActionSet, Credential, CredentialScope, ScopePath, ScopeRule, Subject, TypeId,
        VirtualAccountId,
    };
    let mut base = tenant_policy();
    if let Some(tenant) = base.tenants.get_mut(0) {
        tenant.credentials.clear();
    }
    let size = |policy: &Policy| encode(policy, None).map(|b| b.len()).unwrap_or_default();
    let keys = |policy: &mut Policy, count: u64, scope: Option<u32>| {
        if let Some(tenant) = policy.tenants.get_mut(0) {
            tenant.credentials = (1..=count)
                .map(|id| Credential {
                    id: id * 7919,
                    digest: [id as u8; 32],
                    principal: Some(Subject::VirtualAccount(VirtualAccountId(0))),
                    expires: Some(1_900_000_000),
                    revoked: id % 10 == 0,
                    scope,
                })
                .collect();
        }
    };
    let empty = size(&base);
    let mut unscoped = base.clone();
    keys(&mut unscoped, 100_000, None);
    assert_eq!(size(&unscoped) - empty, 100_000 * 40);

    let mut scoped = base.clone();
    if let Some(tenant) = scoped.tenants.get_mut(0) {
        tenant.config.credential_scopes = vec![CredentialScope {
            rules: vec![ScopeRule {
                resource_type: TypeId(0),
                path: ScopePath::Under("a".into()),
                actions: Some(ActionSet(1)),
            }],
        }];
    }
    let one_scope = size(&scoped);
    keys(&mut scoped, 100_000, Some(0));
    assert_eq!(size(&scoped) - one_scope, 100_000 * 40);

    let bundle = decode(encode(&scoped, None).unwrap_or_default()).expect("loads");
    let tables = bundle.tables(&bundle.tenants()[0]);
    assert_eq!(tables.credentials.len(), 100_000);
    let found = tables.credential(500 * 7919).expect("found by id");
    assert_eq!(found.digest, [(500u64 as u8); 20]);
    assert_eq!(found.state(), CredentialState::Revoked);
    assert_eq!(
        tables.credential(501 * 7919).map(|c| c.state()),
        Some(CredentialState::Live { scope: Some(0) })
    );
    assert!(tables.credential(501 * 7919 + 1).is_none());
}
