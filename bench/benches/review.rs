//! Access review on the 1M-grant synthetic tenant: `who-can` and `what-can` as the CLI answers
//! them (candidates from the tables, each decided by the engine), next to brute force (the
//! engine deciding every principal, or every resource and action) in the same run, and a `diff`
//! of two large tenants a few changes apart.
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "bench code")]

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_bench::fixtures;
use gatehouse_engine::analysis::Diff;
use gatehouse_engine::model::RoleKind;
use gatehouse_testkit::synth::{self, Size};
use std::hint::black_box;

fn analysis(c: &mut Criterion) {
    let fixture = fixtures::tenant(Size::LARGE);
    let engine = fixtures::engine(&fixture.bundle);
    let now = fixtures::NOW;
    let tenant = &fixture.policy.tenants[0];
    let admin_role = tenant
        .config
        .roles
        .iter()
        .position(|r| matches!(r.kind, RoleKind::TenantAdmin))
        .unwrap();
    let admin = tenant
        .users
        .iter()
        .find(|u| u.role.index() == admin_role && u.active)
        .unwrap();
    let member = tenant
        .users
        .iter()
        .find(|u| u.role.index() != admin_role && u.active && !u.teams.is_empty())
        .unwrap();

    let mut group = c.benchmark_group("analysis/large");
    group.sample_size(10);
    let a = engine.analysis(None).unwrap();
    for (label, key, action) in [
        (
            "model-use",
            format!("model:{}", synth::model_ref(0, 0)),
            "use",
        ),
        ("workspace-deploy", "workspace:c0/w0".to_owned(), "deploy"),
    ] {
        let r = a.resource(&key).unwrap();
        let act = a.action(r, action).unwrap();
        let who = a.who_can(r, act, now);
        eprintln!(
            "who-can {action} {key}: {} allowed, {} blocked",
            who.allowed.len(),
            who.blocked.len()
        );
        // A fresh analysis each time: the team-member index is built as a CLI call builds it.
        group.bench_function(format!("who-can/{label}"), |b| {
            b.iter(|| {
                let a = engine.analysis(None).unwrap();
                black_box(a.who_can(r, act, now).allowed.len())
            })
        });
        group.bench_function(format!("who-can-brute-force/{label}"), |b| {
            b.iter(|| {
                let a = engine.analysis(None).unwrap();
                a.principals()
                    .filter(|p| matches!(a.decide(*p, r, act, now), Ok(Some(_))))
                    .count()
            })
        });
    }
    for (label, user) in [("member", member), ("tenant-admin", admin)] {
        let subject = format!("user:{}", user.email);
        let p = a.principal(&subject).unwrap();
        let what = a.what_can(p, None, None, now).unwrap();
        eprintln!("what-can {subject}: {} allowed", what.allowed.len());
        group.bench_function(format!("what-can/{label}"), |b| {
            b.iter(|| {
                let a = engine.analysis(None).unwrap();
                black_box(a.what_can(p, None, None, now).unwrap().allowed.len())
            })
        });
        group.bench_function(format!("what-can-brute-force/{label}"), |b| {
            b.iter(|| {
                let a = engine.analysis(None).unwrap();
                let mut n = 0usize;
                for r in a.resources() {
                    for act in a.actions_of(r) {
                        n += usize::from(matches!(a.decide(p, r, act, now), Ok(Some(_))));
                    }
                }
                n
            })
        });
    }

    // Two large tenants a few changes apart: a grant added, a member removed, a user
    // deactivated, a model disabled; and, separately, a team made tenant-admin.
    let mut changed = fixture.policy.clone();
    {
        let t = &mut changed.tenants[0];
        let g = t.grants[0];
        t.grants.push(gatehouse_engine::model::Grant {
            subject: gatehouse_engine::model::Subject::Team(gatehouse_engine::model::TeamId(99)),
            ..g
        });
        t.grants.sort();
        t.grants.dedup();
        let u = t.users.iter_mut().find(|u| u.teams.len() > 1).unwrap();
        u.teams.pop();
        t.users[500].active = !t.users[500].active;
        let m = t
            .resources
            .iter_mut()
            .find(|r| r.parent.is_some() && r.enabled)
            .unwrap();
        m.enabled = false;
    }
    let mut admin_team = changed.clone();
    admin_team.tenants[0].teams[17].roles =
        vec![gatehouse_engine::model::RoleId(admin_role as u32)];
    for (label, policy) in [("few-changes", &changed), ("team-made-admin", &admin_team)] {
        let new = fixtures::engine(&gatehouse_engine::bundle::encode(policy, None).unwrap());
        let diff = Diff::new(&engine, &new, now);
        eprintln!(
            "diff {label}: {} changes in {} groups",
            diff.count(),
            diff.tenants.iter().map(|t| t.groups.len()).sum::<usize>()
        );
        group.bench_function(format!("diff/{label}"), |b| {
            b.iter(|| black_box(Diff::new(&engine, &new, now).count()))
        });
    }
    group.finish();
}

criterion_group!(benches, analysis);
criterion_main!(benches);
