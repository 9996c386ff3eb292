//! Property tests: the bundle evaluator agrees with the naive reference evaluator over the model,
//! narrowing never grants, and bundles survive encoding exactly and reject corruption.
#![expect(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "test code: a panic is a test failure"
)]

use gatehouse_engine::bundle::{self, LoadError};
use gatehouse_engine::model::*;
use gatehouse_engine::route::Body;
use gatehouse_engine::{reference, Decision, Engine, Identity, LoadOptions, Reason, Request};
use proptest::prelude::*;

const ACTIONS: [&str; 4] = ["read", "use", "manage", "delete"];
const NOW: i64 = 1_800_000_000;

fn set(actions: &[&str]) -> ActionSet {
    ActionSet(
        actions
            .iter()
            .map(|a| 1u64 << ACTIONS.iter().position(|b| b == a).unwrap())
            .sum(),
    )
}

/// Roles: 0 tenant-member, 1 tenant-admin, 2 custom (server:read), 3 server-user,
/// 4 server-manager, 5 tool-user.
fn roles() -> Vec<Role> {
    let role = |name: &str, kind| Role {
        name: name.into(),
        kind,
    };
    vec![
        role(
            "tenant-member",
            RoleKind::Tenant {
                permissions: vec![],
            },
        ),
        role("tenant-admin", RoleKind::TenantAdmin),
        role(
            "server-reader",
            RoleKind::Tenant {
                permissions: vec![(TypeId(0), set(&["read"]))],
            },
        ),
        role(
            "server-user",
            RoleKind::Collaborator {
                resource_type: TypeId(0),
                actions: set(&["read", "use"]),
            },
        ),
        role(
            "server-manager",
            RoleKind::Collaborator {
                resource_type: TypeId(0),
                actions: set(&ACTIONS),
            },
        ),
        role(
            "tool-user",
            RoleKind::Collaborator {
                resource_type: TypeId(1),
                actions: set(&["read", "use"]),
            },
        ),
    ]
}

/// (enabled, restricted to these subject numbers)
type Narrowing = (bool, Option<Vec<u32>>);
/// A server: its narrowing and its tools' narrowings.
type ServerShape = (bool, Option<Vec<u32>>, Vec<Narrowing>);
/// (key, type, path, parent key, enabled, authorized subjects)
type RawResource = (
    String,
    TypeId,
    String,
    Option<String>,
    bool,
    Option<Vec<Subject>>,
);

#[derive(Debug, Clone)]
struct Shape {
    users: Vec<(bool, u32, Vec<u32>)>,
    teams: Vec<Vec<u32>>,
    vas: Vec<Option<i64>>,
    /// Per server: (enabled, restricted subjects, tools: (enabled, restricted subjects)).
    servers: Vec<ServerShape>,
    grants: Vec<(u32, u32, u32)>,
}

fn shape() -> impl Strategy<Value = Shape> {
    let subjects = prop::collection::vec(0u32..12, 0..3);
    let restricted = prop::option::weighted(0.2, subjects);
    let tool = (prop::bool::weighted(0.85), restricted.clone());
    let server = (
        prop::bool::weighted(0.85),
        restricted,
        prop::collection::vec(tool, 0..3),
    );
    (
        prop::collection::vec(
            (
                prop::bool::weighted(0.8),
                0u32..3,
                prop::collection::vec(0u32..4, 0..3),
            ),
            1..6,
        ),
        prop::collection::vec(
            prop::collection::vec(prop::sample::select(vec![0u32, 0, 0, 2, 1]), 0..2),
            0..4,
        ),
        prop::collection::vec(prop::option::of(NOW - 100..NOW + 100), 0..3),
        prop::collection::vec(server, 1..4),
        prop::collection::vec((0u32..100, 0u32..12, 3u32..6), 0..12),
    )
        .prop_map(|(users, teams, vas, servers, grants)| Shape {
            users,
            teams,
            vas,
            servers,
            grants,
        })
}

/// Subject number `n` (0..12) in a shape: users, then teams, then virtual accounts, then everyone.
fn subject(shape: &Shape, n: u32) -> Option<Subject> {
    let users = shape.users.len() as u32;
    let teams = shape.teams.len() as u32;
    let vas = shape.vas.len() as u32;
    if n < users {
        Some(Subject::User(UserId(n)))
    } else if n < users + teams {
        Some(Subject::Team(TeamId(n - users)))
    } else if n < users + teams + vas {
        Some(Subject::VirtualAccount(VirtualAccountId(n - users - teams)))
    } else if n == 11 {
        Some(Subject::Everyone)
    } else {
        None
    }
}

fn subjects(shape: &Shape, list: &Option<Vec<u32>>) -> Option<Vec<Subject>> {
    list.as_ref().map(|l| {
        let mut s: Vec<Subject> = l.iter().filter_map(|n| subject(shape, *n)).collect();
        s.sort();
        s.dedup();
        s
    })
}

fn tenant(shape: &Shape) -> Tenant {
    let teams = shape.teams.len() as u32;
    let users = shape
        .users
        .iter()
        .enumerate()
        .map(|(i, (active, role, member_of))| {
            let mut t: Vec<TeamId> = member_of
                .iter()
                .filter(|t| **t < teams)
                .map(|t| TeamId(*t))
                .collect();
            t.sort();
            t.dedup();
            User {
                email: format!("u{i}@x.test"),
                active: *active,
                role: RoleId(*role),
                teams: t,
            }
        })
        .collect();
    let team_list = shape
        .teams
        .iter()
        .enumerate()
        .map(|(i, roles)| {
            let mut r: Vec<RoleId> = roles.iter().map(|r| RoleId(*r)).collect();
            r.sort();
            r.dedup();
            Team {
                name: format!("t{i}"),
                roles: r,
                idp_mappings: vec![],
            }
        })
        .collect();
    let vas = shape
        .vas
        .iter()
        .enumerate()
        .map(|(i, expires)| VirtualAccount {
            name: format!("va{i}"),
            expires: *expires,
            tokens_valid_after: None,
            idp_mappings: vec![],
        })
        .collect();

    // Resources, keyed for sorting; parents by key.
    let mut raw: Vec<RawResource> = Vec::new();
    for (s, (enabled, restricted, tools)) in shape.servers.iter().enumerate() {
        let path = format!("s{s}");
        raw.push((
            format!("server:{path}"),
            TypeId(0),
            path.clone(),
            None,
            *enabled,
            subjects(shape, restricted),
        ));
        for (t, (enabled, restricted)) in tools.iter().enumerate() {
            raw.push((
                format!("tool:{path}/t{t}"),
                TypeId(1),
                format!("{path}/t{t}"),
                Some(format!("server:{path}")),
                *enabled,
                subjects(shape, restricted),
            ));
        }
    }
    raw.sort_by(|a, b| a.0.cmp(&b.0));
    let resources: Vec<Resource> = raw
        .iter()
        .map(|(_, ty, path, parent, enabled, authorized)| Resource {
            resource_type: *ty,
            path: path.clone(),
            parent: parent
                .as_ref()
                .map(|p| ResourceId(raw.iter().position(|r| &r.0 == p).unwrap() as u32)),
            enabled: *enabled,
            authorized_subjects: authorized.clone(),
        })
        .collect();
    let mut grants: Vec<Grant> = shape
        .grants
        .iter()
        .filter_map(|(r, s, role)| {
            let resource = (*r as usize) % resources.len();
            let is_tool = resources[resource].resource_type == TypeId(1);
            // Roles only on resources of their own type, as the compiler enforces.
            let role = match (is_tool, *role) {
                (true, _) => 5,
                (false, 5) => 3,
                (false, r) => r,
            };
            Some(Grant {
                resource: ResourceId(resource as u32),
                subject: subject(shape, *s)?,
                role: RoleId(role),
            })
        })
        .collect();
    grants.sort();
    grants.dedup();

    Tenant {
        config: TenantConfig {
            name: "t".into(),
            hosts: vec![],
            issuer: "https://issuer.test".into(),
            keys: vec![],
            audiences: vec![],
            clock_skew_seconds: 60,
            revoked_token_ids: vec![],
            identity_providers: vec![],
            actions: ACTIONS.iter().map(|a| a.to_string()).collect(),
            resource_types: vec![
                ResourceType {
                    name: "server".into(),
                    parent: None,
                    actions: set(&ACTIONS),
                },
                ResourceType {
                    name: "tool".into(),
                    parent: Some(TypeId(0)),
                    actions: set(&["read", "use"]),
                },
            ],
            roles: roles(),
        },
        users,
        teams: team_list,
        virtual_accounts: vas,
        resources,
        grants,
    }
}

/// One route per (type, action): `/<type>/<action>` with the resource path in `x-path`.
fn gateway() -> Gateway {
    let mut routes = Vec::new();
    for ty in ["server", "tool"] {
        for action in ACTIONS {
            routes.push(Route {
                name: format!("{ty}-{action}"),
                methods: vec![],
                path: PathMatch::Prefix(format!("/{ty}/{action}")),
                public: false,
                target: RouteTarget::One(Target {
                    resource: Template {
                        resource_type: ty.into(),
                        path: vec![Part::Header("x-path".into())],
                    },
                    action: action.into(),
                }),
            });
        }
    }
    Gateway {
        default_authenticated: false,
        dry_run: false,
        max_body_bytes: 1024,
        token_sources: vec![],
        routes,
        override_headers: Default::default(),
    }
}

fn policy(shape: &Shape) -> Policy {
    Policy {
        revision: "r1".into(),
        compiler_version: "test".into(),
        serial: 1,
        gateway: gateway(),
        tenants: vec![tenant(shape)],
    }
}

fn engine_decides(
    engine: &Engine,
    subject: &str,
    ty: &str,
    path: &str,
    action: &str,
) -> Result<(), Reason> {
    let route = format!("/{ty}/{action}");
    let headers = [("x-path", path)];
    let request = Request {
        authority: "gw.test",
        method: "GET",
        path: &route,
        headers: &headers,
        body: Body::Absent,
    };
    match engine
        .decide(&request, Identity::Subject(subject), NOW)
        .decision
    {
        Decision::Allow { .. } => Ok(()),
        Decision::Deny { reason } => Err(reason),
    }
}

/// Every (subject, resource, action) question worth asking of a policy.
fn questions(p: &Policy) -> Vec<(String, String, String, String)> {
    let t = &p.tenants[0];
    let mut subjects: Vec<String> = t
        .users
        .iter()
        .map(|u| format!("user:{}", u.email))
        .collect();
    subjects.extend(
        t.virtual_accounts
            .iter()
            .map(|v| format!("virtualaccount:{}", v.name)),
    );
    subjects.push("user:nobody@x.test".into());
    let mut out = Vec::new();
    for s in &subjects {
        for r in &t.resources {
            let ty = &t.config.resource_types[r.resource_type.index()].name;
            for a in ACTIONS {
                out.push((s.clone(), ty.clone(), r.path.clone(), a.to_string()));
            }
        }
        out.push((s.clone(), "server".into(), "missing".into(), "read".into()));
    }
    out
}

fn load(p: &Policy) -> Engine {
    Engine::load(bundle::encode(p, None).unwrap(), &LoadOptions::default()).unwrap()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn bundle_evaluator_matches_reference(shape in shape()) {
        let p = policy(&shape);
        let engine = load(&p);
        for (s, ty, path, action) in questions(&p) {
            let expected = reference::decide(&p, 0, &s, &ty, &path, &action, NOW);
            let got = engine_decides(&engine, &s, &ty, &path, &action);
            prop_assert_eq!(got, expected, "{} {} {}:{}", s, action, ty, path);
        }
    }

    #[test]
    fn narrowing_never_grants(shape in shape(), pick in 0usize..64, kind in 0u8..3) {
        let before = policy(&shape);
        let mut after = before.clone();
        let t = &mut after.tenants[0];
        match kind {
            0 => { let n = t.users.len(); t.users[pick % n].active = false; }
            1 => { let n = t.resources.len(); t.resources[pick % n].enabled = false; }
            _ => {
                // Restrict to user 0, or to what was already allowed of that.
                let n = t.resources.len();
                let r = &mut t.resources[pick % n];
                let only = Subject::User(UserId(0));
                r.authorized_subjects = match &r.authorized_subjects {
                    None => Some(vec![only]),
                    Some(list) => Some(list.iter().copied().filter(|s| *s == only).collect()),
                };
            }
        }
        let (e1, e2) = (load(&before), load(&after));
        for (s, ty, path, action) in questions(&before) {
            let was = engine_decides(&e1, &s, &ty, &path, &action).is_ok();
            let is = engine_decides(&e2, &s, &ty, &path, &action).is_ok();
            prop_assert!(was || !is, "narrowing granted {} {} {}:{}", s, action, ty, path);
        }
    }

    #[test]
    fn corrupt_bundles_are_rejected_not_panicking(shape in shape(), at in 0usize..10_000, bit in 0u8..8) {
        let bytes = bundle::encode(&policy(&shape), None).unwrap();
        let mut flipped = bytes.clone();
        let i = at % flipped.len();
        flipped[i] ^= 1 << bit;
        // Bytes 10..12 are the format minor version, which readers accept whatever its value.
        if !(10..12).contains(&i) {
            prop_assert!(Engine::load(flipped, &LoadOptions::default()).is_err());
        }
        let cut = at % bytes.len();
        prop_assert!(Engine::load(bytes[..cut].to_vec(), &LoadOptions::default()).is_err());
    }
}

fn sample() -> Policy {
    policy(&Shape {
        users: vec![(true, 1, vec![0]), (true, 0, vec![0]), (false, 0, vec![0])],
        teams: vec![vec![]],
        vas: vec![Some(NOW + 10)],
        servers: vec![(true, None, vec![(true, None), (false, None)])],
        grants: vec![(0, 3, 3)],
    })
}

#[test]
fn team_grant_inherits_to_tools_but_not_disabled_ones() {
    let p = sample();
    let engine = load(&p);
    let cases = [
        // Team t0 (subject 3) holds server-user on server:s0.
        ("user:u1@x.test", "tool", "s0/t0", "use", Ok(()), ""),
        (
            "user:u1@x.test",
            "server",
            "s0",
            "manage",
            Err(Reason::NoGrant),
            "",
        ),
        (
            "user:u0@x.test",
            "tool",
            "s0/t1",
            "use",
            Err(Reason::ResourceDisabled),
            "disabled denies tenant admins too",
        ),
        (
            "user:u2@x.test",
            "tool",
            "s0/t0",
            "use",
            Err(Reason::PrincipalInactive),
            "a team grant does not help a deactivated user",
        ),
        ("user:U1@X.test", "server", "s0", "read", Ok(()), ""),
        (
            "virtualaccount:va0",
            "server",
            "s0",
            "read",
            Err(Reason::NoGrant),
            "",
        ),
    ];
    for (subject, kind, key, action, expected, why) in cases {
        assert_eq!(
            engine_decides(&engine, subject, kind, key, action),
            expected,
            "{subject} {action} {kind}:{key}: {why}"
        );
    }
}

#[test]
fn allow_explains_the_grant() {
    let engine = load(&sample());
    let headers = [("x-path", "s0/t0")];
    let request = Request {
        authority: "gw.test",
        method: "GET",
        path: "/tool/use",
        headers: &headers,
        body: Body::Absent,
    };
    let outcome = engine.decide(&request, Identity::Subject("user:u1@x.test"), NOW);
    assert!(outcome.decision.is_allow());
    assert_eq!(
        outcome.grant().as_deref(),
        Some("team:t0 server-user on server:s0")
    );
    assert_eq!(outcome.subject().as_deref(), Some("user:u1@x.test"));
    assert_eq!(outcome.resource().as_deref(), Some("tool:s0/t0"));
    let admin = engine.decide(&request, Identity::Subject("user:u0@x.test"), NOW);
    assert_eq!(
        admin.grant().as_deref(),
        Some("user:u0@x.test tenant-admin (tenant role)")
    );
}

#[test]
fn encoding_is_deterministic_and_signed_bundles_verify() {
    let p = sample();
    assert_eq!(
        bundle::encode(&p, None).unwrap(),
        bundle::encode(&p, None).unwrap()
    );

    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let signed = bundle::encode(&p, Some(&key)).unwrap();
    assert_eq!(signed, bundle::encode(&p, Some(&key)).unwrap());
    let trusted = LoadOptions {
        trusted_keys: vec![key.verifying_key().to_bytes()],
    };
    let foreign = LoadOptions {
        trusted_keys: vec![other.verifying_key().to_bytes()],
    };
    let engine = Engine::load(signed.clone(), &trusted).unwrap();
    assert_eq!(
        engine.bundle().signer(),
        Some(&key.verifying_key().to_bytes())
    );
    assert_eq!(
        Engine::load(signed.clone(), &foreign).unwrap_err(),
        LoadError::UntrustedSigner
    );
    assert_eq!(
        Engine::load(bundle::encode(&p, None).unwrap(), &trusted).unwrap_err(),
        LoadError::Unsigned
    );
    // A signature over other bytes: flip a signature bit.
    let mut bad = signed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        Engine::load(bad, &trusted).unwrap_err(),
        LoadError::BadSignature
    );
}

#[test]
fn header_checks() {
    let bytes = bundle::encode(&sample(), None).unwrap();
    let mut future = bytes.clone();
    let next_major = bundle::FORMAT_MAJOR + 1;
    future[8..10].copy_from_slice(&next_major.to_le_bytes());
    assert_eq!(
        Engine::load(future, &LoadOptions::default()).unwrap_err(),
        LoadError::UnsupportedVersion {
            major: next_major,
            minor: 0
        }
    );
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(
        Engine::load(magic, &LoadOptions::default()).unwrap_err(),
        LoadError::BadMagic
    );
    assert!(matches!(
        Engine::load(bytes[..20].to_vec(), &LoadOptions::default()).unwrap_err(),
        LoadError::Truncated(_)
    ));
    let mut body = bytes.clone();
    let last = body.len() - 1;
    body[last] ^= 0x40;
    assert_eq!(
        Engine::load(body, &LoadOptions::default()).unwrap_err(),
        LoadError::DigestMismatch
    );
    let mut longer = bytes;
    longer.push(0);
    assert!(Engine::load(longer, &LoadOptions::default()).is_err());
}

#[test]
fn minor_versions_are_accepted() {
    let mut bytes = bundle::encode(&sample(), None).unwrap();
    bytes[10] = 7;
    let engine = Engine::load(bytes, &LoadOptions::default()).unwrap();
    assert_eq!(engine.bundle().format_version(), (bundle::FORMAT_MAJOR, 7));
}
