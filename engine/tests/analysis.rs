//! Property tests: who-can, what-can and diff equal, pair for pair, brute force over every
//! principal x resource x action through `Engine::decide` on random tenants.
#![expect(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::collections::BTreeSet;

use gatehouse_engine::analysis::{is_narrowing, Diff};
use gatehouse_engine::model::*;
use gatehouse_engine::{Engine, Reason};
use proptest::prelude::*;
use support::*;

/// `(allowed, grant text, reason)` from a request through `Engine::decide`.
fn ask(
    engine: &Engine,
    subject: &str,
    key: &str,
    action: &str,
) -> (bool, Option<String>, Option<Reason>) {
    let (ty, path) = key.split_once(':').unwrap();
    let outcome = outcome(engine, subject, ty, path, action);
    (
        outcome.decision.is_allow(),
        outcome.grant(),
        outcome.decision.reason(),
    )
}

/// The policy with every narrowing removed: who holds a grant that would allow.
fn stripped(p: &Policy) -> Policy {
    let mut p = p.clone();
    let t = &mut p.tenants[0];
    t.users.iter_mut().for_each(|u| u.active = true);
    t.virtual_accounts.iter_mut().for_each(|v| v.expires = None);
    for r in &mut t.resources {
        r.enabled = true;
        r.authorized_subjects = None;
    }
    p
}

/// `(key, actions of its type)` for every resource.
fn resources(p: &Policy) -> Vec<(String, Vec<&'static str>)> {
    let t = &p.tenants[0];
    t.resources
        .iter()
        .map(|r| {
            let ty = &t.config.resource_types[r.resource_type.index()];
            let actions = ACTIONS
                .iter()
                .enumerate()
                .filter(|(i, _)| ty.actions.contains(*i as u32))
                .map(|(_, a)| *a)
                .collect();
            (format!("{}:{}", ty.name, r.path), actions)
        })
        .collect()
}

/// The diff one wants from brute force: every (principal, resource, action) named on either side
/// whose decision differs, with (allowed before, allowed after).
fn brute_diff(a: &Policy, b: &Policy) -> BTreeSet<(String, String, String, bool, bool)> {
    let (ea, eb) = (load(a), load(b));
    let mut names: BTreeSet<String> = principals(a).into_iter().collect();
    names.extend(principals(b));
    let mut keys: BTreeSet<String> = resources(a).into_iter().map(|r| r.0).collect();
    keys.extend(resources(b).into_iter().map(|r| r.0));
    let mut out = BTreeSet::new();
    for p in &names {
        for k in &keys {
            for action in ACTIONS {
                let before = ask(&ea, p, k, action).0;
                let after = ask(&eb, p, k, action).0;
                if before != after {
                    out.insert((p.clone(), k.clone(), action.to_owned(), before, after));
                }
            }
        }
    }
    out
}

fn engine_diff(a: &Policy, b: &Policy) -> BTreeSet<(String, String, String, bool, bool)> {
    let (ea, eb) = (load(a), load(b));
    let diff = Diff::new(&ea, &eb, NOW);
    let mut out = BTreeSet::new();
    for t in &diff.tenants {
        for g in &t.groups {
            assert!(!g.causes.is_empty(), "a group without a cause");
            for c in t.changes(g) {
                let row = (
                    t.principal_name(c.principal),
                    t.resource_key(c.resource),
                    c.action.to_owned(),
                    c.before.is_ok(),
                    c.after.is_ok(),
                );
                assert!(out.insert(row.clone()), "listed twice: {row:?}");
            }
        }
    }
    out
}

/// A small change of the kinds reviewers see: a grant, a member, a role, a user, a resource.
fn mutate(p: &Policy, pick: usize, kind: u8) -> Policy {
    let mut q = p.clone();
    let t = &mut q.tenants[0];
    match kind {
        0 if !t.grants.is_empty() => {
            let n = t.grants.len();
            t.grants.remove(pick % n);
        }
        1 => {
            let n = t.resources.len();
            let r = ResourceId((pick % n) as u32);
            let role = if t.resources[r.index()].resource_type == TypeId(1) {
                5
            } else {
                3
            };
            t.grants.push(Grant {
                resource: r,
                subject: Subject::Everyone,
                role: RoleId(role),
            });
            t.grants.sort();
            t.grants.dedup();
        }
        2 => {
            let n = t.users.len();
            let u = &mut t.users[pick % n];
            u.active = !u.active;
        }
        3 => {
            let n = t.users.len();
            t.users[pick % n].role = RoleId(1);
        }
        4 if !t.teams.is_empty() => {
            let n = t.teams.len();
            t.teams[pick % n].roles = vec![RoleId(1)];
        }
        5 => {
            let n = t.users.len();
            let u = &mut t.users[pick % n];
            if u.teams.is_empty() {
                if !t.teams.is_empty() {
                    u.teams.push(TeamId(0));
                }
            } else {
                u.teams.remove(0);
            }
        }
        6 => {
            let n = t.resources.len();
            let r = &mut t.resources[pick % n];
            r.enabled = !r.enabled;
        }
        7 => {
            let n = t.resources.len();
            let r = &mut t.resources[pick % n];
            r.authorized_subjects = match r.authorized_subjects {
                None => Some(vec![Subject::User(UserId(0))]),
                Some(_) => None,
            };
        }
        _ => {
            // A custom tenant role that now also permits `use` on servers.
            if let RoleKind::Tenant { permissions } = &mut t.config.roles[2].kind {
                permissions[0].1 = ActionSet(permissions[0].1 .0 | 0b10);
            }
        }
    }
    q
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn who_can_is_brute_force(shape in shape()) {
        let p = policy(&shape);
        let engine = load(&p);
        let loose = load(&stripped(&p));
        let analysis = engine.analysis(None).unwrap();
        for (key, actions) in resources(&p) {
            for action in actions {
                let r = analysis.resource(&key).unwrap();
                let a = analysis.action(r, action).unwrap();
                let who = analysis.who_can(r, a, NOW);
                let allowed: Vec<(String, String)> = who
                    .allowed
                    .iter()
                    .map(|(p, g)| (analysis.principal_name(*p), analysis.grant_text(g)))
                    .collect();
                let blocked: Vec<(String, Reason)> = who
                    .blocked
                    .iter()
                    .map(|(p, r)| (analysis.principal_name(*p), *r))
                    .collect();
                let mut want_allowed = Vec::new();
                let mut want_blocked = Vec::new();
                for s in principals(&p) {
                    let (allow, grant, reason) = ask(&engine, &s, &key, action);
                    if allow {
                        want_allowed.push((s, grant.unwrap()));
                    } else if ask(&loose, &s, &key, action).0 {
                        let reason = reason.unwrap();
                        prop_assert!(is_narrowing(reason), "{s} {action} {key}: {reason}");
                        want_blocked.push((s, reason));
                    }
                }
                prop_assert_eq!(&allowed, &want_allowed, "allowed: {} {}", action, key);
                prop_assert_eq!(&blocked, &want_blocked, "blocked: {} {}", action, key);
            }
        }
    }

    #[test]
    fn what_can_is_brute_force(shape in shape()) {
        let p = policy(&shape);
        let engine = load(&p);
        let loose = load(&stripped(&p));
        let analysis = engine.analysis(None).unwrap();
        for s in principals(&p) {
            let principal = analysis.principal(&s).unwrap();
            let what = analysis.what_can(principal, None, None, NOW).unwrap();
            let allowed: Vec<(String, String, String)> = what
                .allowed
                .iter()
                .map(|(r, a, g)| (analysis.resource_key(*r), analysis.action_name(*a).to_owned(), analysis.grant_text(g)))
                .collect();
            let blocked: Vec<(String, String, Reason)> = what
                .blocked
                .iter()
                .map(|(r, a, reason)| (analysis.resource_key(*r), analysis.action_name(*a).to_owned(), *reason))
                .collect();
            let mut want_allowed = Vec::new();
            let mut want_blocked = Vec::new();
            let mut denied = None;
            for (key, actions) in resources(&p) {
                for action in actions {
                    let (allow, grant, reason) = ask(&engine, &s, &key, action);
                    if allow {
                        want_allowed.push((key.clone(), action.to_owned(), grant.unwrap()));
                    } else if matches!(reason, Some(Reason::PrincipalInactive | Reason::PrincipalExpired)) {
                        denied = reason;
                    } else if ask(&loose, &s, &key, action).0 {
                        want_blocked.push((key.clone(), action.to_owned(), reason.unwrap()));
                    }
                }
            }
            prop_assert_eq!(what.denied, denied, "{}", s);
            prop_assert_eq!(&allowed, &want_allowed, "allowed: {}", s);
            prop_assert_eq!(&blocked, &want_blocked, "blocked: {}", s);
            // A filtered question is the same answer, filtered.
            for action in ACTIONS {
                let only = analysis.what_can(principal, Some("tool"), Some(action), NOW).unwrap();
                let want: Vec<_> = what
                    .allowed
                    .iter()
                    .filter(|(r, a, _)| analysis.action_name(*a) == action && analysis.resource_key(*r).starts_with("tool:"))
                    .cloned()
                    .collect();
                prop_assert_eq!(only.allowed, want);
            }
        }
    }

    #[test]
    fn diff_of_unrelated_tenants_is_brute_force(a in shape(), b in shape()) {
        let (pa, pb) = (policy(&a), policy(&b));
        prop_assert_eq!(engine_diff(&pa, &pb), brute_diff(&pa, &pb));
    }

    #[test]
    fn diff_of_a_small_change_is_brute_force(shape in shape(), pick in 0usize..64, kind in 0u8..9) {
        let before = policy(&shape);
        let after = mutate(&before, pick, kind);
        prop_assert_eq!(engine_diff(&before, &after), brute_diff(&before, &after));
        prop_assert!(engine_diff(&before, &before).is_empty());
    }
}
