//! Token verification (step 4) per algorithm: the engine (parse the compact JWS, pick the key,
//! check the signature, then exp/nbf/iat) next to `ring` checking the same signature natively
//! (signature only: the floor). Same token, same key, same run.

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_bench::{fixtures, ops};
use std::hint::black_box;

fn verify(c: &mut Criterion) {
    for fixture in fixtures::tokens() {
        let ours = ops::Verifier::new(&fixture.jwks);
        let ring = fixtures::RingVerifier::new(&fixture);
        assert_eq!(ours.verify(&fixture.token, fixtures::NOW), Ok(()));
        assert!(ring.verify(&fixture.token));
        let mut group = c.benchmark_group(format!("verify/{}", fixture.alg));
        group.bench_function("gatehouse", |b| {
            b.iter(|| ours.verify(black_box(&fixture.token), fixtures::NOW))
        });
        group.bench_function("ring", |b| {
            b.iter(|| ring.verify(black_box(&fixture.token)))
        });
        group.finish();
    }
}

criterion_group!(benches, verify);
criterion_main!(benches);
