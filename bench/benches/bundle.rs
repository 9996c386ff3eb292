//! Bundle compile time (synthetic tenant JSON -> `Policy` -> bundle bytes, what
//! `gatehouse compile` does between reading and writing files), load time (`Engine::load`:
//! digest, decode, validate every offset, prepare keys) and size per grant, across sizes.
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "bench code")]

use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use gatehouse_bench::fixtures;
use gatehouse_compiler::compile::{compile_sources, Sources};
use gatehouse_engine::{Engine, LoadOptions};
use gatehouse_testkit::synth::{self, Size};
use std::hint::black_box;
use std::path::Path;
use std::time::Duration;

const MEDIUM: Size = Size {
    users: 10_000,
    teams: 1_000,
    grants: 100_000,
};

fn sizes() -> [(&'static str, Size); 3] {
    [
        ("small", Size::SMALL),
        ("medium", MEDIUM),
        ("large", Size::LARGE),
    ]
}

fn compile(c: &mut Criterion) {
    let mut group = c.benchmark_group("compile");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(20));
    for (label, size) in sizes() {
        let source = synth::tenant_json(fixtures::TENANT, size, 42);
        group.bench_function(label, |b| {
            b.iter(|| {
                let policy = compile_sources(&Sources::tenants(&[(
                    Path::new("synth.json"),
                    black_box(source.as_str()),
                )]))
                .unwrap();
                gatehouse_engine::bundle::encode(&policy, None).unwrap()
            })
        });
    }
    group.finish();
}

fn load(c: &mut Criterion) {
    let mut group = c.benchmark_group("load");
    group.sample_size(20);
    for (label, size) in sizes() {
        let fixture = fixtures::tenant(size);
        report_size(label, &fixture);
        group.bench_function(label, |b| {
            b.iter_batched(
                || fixture.bundle.clone(),
                |bytes| Engine::load(bytes, &LoadOptions::default()).unwrap(),
                BatchSize::LargeInput,
            )
        });
    }
    // The large tenant with 100,000 API keys: what they add to the bundle and to its load.
    let fixture = fixtures::tenant(Size::LARGE);
    let engine = fixtures::engine(&fixture.bundle);
    let case = &fixtures::cases(&fixture, &engine)[0];
    let (keyed, _) = fixtures::with_api_keys(&fixture, case, 100_000);
    eprintln!(
        "bundle/large+100k API keys: {} B more than without = {:.2} B/key",
        keyed.len() - fixture.bundle.len(),
        (keyed.len() - fixture.bundle.len()) as f64 / 100_000.0
    );
    group.bench_function("large+100k_api_keys", |b| {
        b.iter_batched(
            || keyed.clone(),
            |bytes| Engine::load(bytes, &LoadOptions::default()).unwrap(),
            BatchSize::LargeInput,
        )
    });
    group.finish();
}

/// Bytes per grant, whole bundle and per table (criterion measures time, not size).
fn report_size(label: &str, fixture: &fixtures::Fixture) {
    let engine = fixtures::engine(&fixture.bundle);
    let bundle = engine.bundle();
    let tenant = &bundle.tenants()[0];
    let tables = bundle.tables(tenant);
    let grants = tables.grants.len() as f64;
    let per = |bytes: usize| bytes as f64 / grants;
    eprintln!(
        "bundle/{label}: {} grants, source {} B, bundle {} B = {:.2} B/grant \
         (grants {:.2} at {} B each, users {:.2}, user teams {:.2}, resources {:.2}, \
         strings {:.2}, teams {:.2}, rest {:.2})",
        tables.grants.len(),
        fixture.source_len,
        bundle.len(),
        per(bundle.len()),
        per(tables.grants.len() * tables.grants.values.width()),
        tables.grants.values.width(),
        per(core::mem::size_of_val(tables.users)),
        per(tables.user_teams.len() * tables.user_teams.width()),
        per(core::mem::size_of_val(tables.resources)),
        per(tables.strings.len()),
        per(core::mem::size_of_val(tables.teams)),
        per(core::mem::size_of_val(tables.domains)
            + core::mem::size_of_val(tables.team_roles)
            + core::mem::size_of_val(tables.virtual_accounts)
            + core::mem::size_of_val(tables.authorized)
            + core::mem::size_of_val(tables.mappings)),
    );
}

criterion_group!(benches, load, compile);
criterion_main!(benches);
