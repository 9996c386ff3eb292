//! Steps 5-7 (token already verified: `Identity::Subject`) on the small and the 1M-grant
//! synthetic tenants, next to Cedar deciding the same questions over the same policy
//! (translation in `cedar.rs`). One criterion group per tenant size, so the two
//! engines share a run. Then steps 3-7 with a token (cached, uncached) and with an API key.
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "bench code")]

mod cedar;

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_bench::{fixtures, ops};
use gatehouse_testkit::synth::Size;
use std::hint::black_box;

fn decide(c: &mut Criterion) {
    for (label, size) in [("small", Size::SMALL), ("large", Size::LARGE)] {
        let fixture = fixtures::tenant(size);
        let engine = fixtures::engine(&fixture.bundle);
        let cases = fixtures::cases(&fixture, &engine);
        let cedar = cedar::Cedar::translate(&fixture.policy);
        if label == "small" {
            eprintln!("cedar policies:\n{}", cedar.policy_text);
        }
        let mut group = c.benchmark_group(format!("decide/{label}"));
        for case in &cases {
            let prepared = cedar::Cedar::prepare(case);
            // Same answer from both, or the comparison means nothing.
            assert_eq!(
                cedar.is_allowed(&prepared),
                case.allow,
                "cedar disagrees on {}",
                case.name
            );
            let request = case.request();
            group.bench_function(format!("gatehouse/{}", case.name), |b| {
                b.iter(|| {
                    engine
                        .decide(black_box(&request), case.identity(), fixtures::NOW)
                        .decision
                })
            });
            group.bench_function(format!("cedar/{}", case.name), |b| {
                b.iter(|| cedar.is_allowed(black_box(&prepared)))
            });
        }
        group.finish();

        // Steps 3-7 with a token: cached (a repeated token: hash, probe, compare), uncached
        // (the engine built without a cache: EdDSA verification every time), and the
        // token-less `Identity::Subject` path of the same request for reference.
        let case = &cases[0];
        let token = fixtures::token_for(case);
        let header = format!("Bearer {token}");
        let headers = [ops::CONTENT_TYPE, ("authorization", header.as_str())];
        let request = gatehouse_engine::Request {
            headers: &headers,
            ..case.request()
        };
        let uncached = fixtures::engine(&fixture.bundle).with_token_cache(0);
        let token_decision =
            engine.decide(&request, gatehouse_engine::Identity::Token, fixtures::NOW);
        assert!(token_decision.decision.is_allow());
        assert!(
            engine
                .decide(&request, gatehouse_engine::Identity::Token, fixtures::NOW)
                .token_cache_hit
        );
        let mut group = c.benchmark_group(format!("token/{label}"));
        group.bench_function("subject", |b| {
            b.iter(|| {
                engine
                    .decide(black_box(&request), case.identity(), fixtures::NOW)
                    .decision
            })
        });
        let by_token = |engine: &gatehouse_engine::Engine| {
            engine
                .decide(
                    black_box(&request),
                    gatehouse_engine::Identity::Token,
                    fixtures::NOW,
                )
                .decision
        };
        group.bench_function("token_cached", |b| b.iter(|| by_token(&engine)));
        group.bench_function("token_uncached", |b| b.iter(|| by_token(&uncached)));

        // The same request with an API key of the same user, in a tenant holding 100,000 keys:
        // checksum, binary search by id, SHA-256 of the secret, constant-time compare.
        let (keyed, key) = fixtures::with_api_keys(&fixture, case, 100_000);
        let keyed = fixtures::engine(&keyed);
        let header = format!("Bearer {key}");
        let headers = [ops::CONTENT_TYPE, ("authorization", header.as_str())];
        let key_request = gatehouse_engine::Request {
            headers: &headers,
            ..case.request()
        };
        let by_key = || {
            keyed
                .decide(
                    black_box(&key_request),
                    gatehouse_engine::Identity::Token,
                    fixtures::NOW,
                )
                .decision
        };
        assert!(by_key().is_allow());
        group.bench_function("api_key", |b| b.iter(by_key));
        group.finish();
    }
}

criterion_group!(benches, decide);
criterion_main!(benches);
