//! Random tenants for property tests: a few users, teams, virtual accounts, servers with tools,
//! grants and narrowing, as a [`Policy`], plus the engine's answer to one question about them.
#![allow(dead_code, reason = "each test binary uses part of it")]

use gatehouse_engine::bundle;
use gatehouse_engine::model::*;
use gatehouse_engine::route::Body;
use gatehouse_engine::{Decision, Engine, Identity, LoadOptions, Reason, Request};
use proptest::prelude::*;

pub const ACTIONS: [&str; 4] = ["read", "use", "manage", "delete"];
pub const NOW: i64 = 1_800_000_000;

pub fn set(actions: &[&str]) -> ActionSet {
    ActionSet(
        actions
            .iter()
            .map(|a| 1u64 << ACTIONS.iter().position(|b| b == a).unwrap())
            .sum(),
    )
}

/// Roles: 0 tenant-member, 1 tenant-admin, 2 custom (server:read), 3 server-user,
/// 4 server-manager, 5 tool-user.
pub fn roles() -> Vec<Role> {
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
pub type Narrowing = (bool, Option<Vec<u32>>);
/// A server: its narrowing and its tools' narrowings.
pub type ServerShape = (bool, Option<Vec<u32>>, Vec<Narrowing>);
/// (key, type, path, parent key, enabled, authorized subjects)
pub type RawResource = (
    String,
    TypeId,
    String,
    Option<String>,
    bool,
    Option<Vec<Subject>>,
);

#[derive(Debug, Clone)]
pub struct Shape {
    pub users: Vec<(bool, u32, Vec<u32>)>,
    pub teams: Vec<Vec<u32>>,
    pub vas: Vec<Option<i64>>,
    /// Per server: (enabled, restricted subjects, tools: (enabled, restricted subjects)).
    pub servers: Vec<ServerShape>,
    pub grants: Vec<(u32, u32, u32)>,
}

pub fn shape() -> impl Strategy<Value = Shape> {
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
pub fn subject(shape: &Shape, n: u32) -> Option<Subject> {
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

pub fn subjects(shape: &Shape, list: &Option<Vec<u32>>) -> Option<Vec<Subject>> {
    list.as_ref().map(|l| {
        let mut s: Vec<Subject> = l.iter().filter_map(|n| subject(shape, *n)).collect();
        s.sort();
        s.dedup();
        s
    })
}

pub fn tenant(shape: &Shape) -> Tenant {
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
            rotation_grace: 0,
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
            jit_domains: vec![],
            credential_scopes: Vec::new(),
        },
        users,
        teams: team_list,
        virtual_accounts: vas,
        resources,
        grants,
        credentials: Vec::new(),
    }
}

/// One route per (type, action): `/<type>/<action>` with the resource path in `x-path`.
pub fn gateway() -> Gateway {
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
                mcp: None,
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
        host_override_headers: Default::default(),
        refuse_path_semicolons: false,
        refuse_cross_site_cookies: false,
    }
}

pub fn policy(shape: &Shape) -> Policy {
    Policy {
        revision: "r1".into(),
        compiler_version: "test".into(),
        serial: 1,
        gateway: gateway(),
        tenants: vec![tenant(shape)],
    }
}

/// The engine's outcome for `subject` performing `action` on `ty:path`, through a request on
/// the test gateway's route for (type, action).
pub fn outcome<'e>(
    engine: &'e Engine,
    subject: &str,
    ty: &str,
    path: &str,
    action: &str,
) -> gatehouse_engine::Outcome<'e> {
    let route = format!("/{ty}/{action}");
    let headers = [("x-path", path)];
    let request = Request {
        authority: "gw.test",
        method: "GET",
        path: &route,
        headers: &headers,
        body: Body::Absent,
    };
    engine.decide(&request, Identity::Subject(subject), NOW)
}

pub fn engine_decides(
    engine: &Engine,
    subject: &str,
    ty: &str,
    path: &str,
    action: &str,
) -> Result<(), Reason> {
    match outcome(engine, subject, ty, path, action).decision {
        Decision::Allow { .. } => Ok(()),
        Decision::Deny { reason } => Err(reason),
    }
}

/// Every principal of the policy's tenant, as subject references: users, then virtual accounts.
pub fn principals(p: &Policy) -> Vec<String> {
    let t = &p.tenants[0];
    let mut out: Vec<String> = t
        .users
        .iter()
        .map(|u| format!("user:{}", u.email))
        .collect();
    out.extend(
        t.virtual_accounts
            .iter()
            .map(|v| format!("virtualaccount:{}", v.name)),
    );
    out
}

/// Every (subject, resource, action) question worth asking of a policy.
pub fn questions(p: &Policy) -> Vec<(String, String, String, String)> {
    let t = &p.tenants[0];
    let mut subjects = principals(p);
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

pub fn load(p: &Policy) -> Engine {
    Engine::load(bundle::encode(p, None).unwrap(), &LoadOptions::default()).unwrap()
}
