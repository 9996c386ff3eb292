//! The engine's hot paths timed outside criterion, so that the same code runs natively and as
//! `wasm32-wasip1` inside V8 (`scripts/bench-wasm.sh` runs both and prints the ratios).
//!
//! - `gatehouse-wasm-harness gen DIR` (native only): synthetic tenants compiled to bundles,
//!   representative requests, signed tokens and their JWK Sets, written to `DIR`.
//! - `gatehouse-wasm-harness run DIR [PREFIX]`: one line per benchmark,
//!   `name<TAB>median ns/op<TAB>min<TAB>max<TAB>iterations per sample`. Natively it also times
//!   `ring` verifying the same tokens.
#![expect(clippy::unwrap_used, clippy::indexing_slicing, reason = "bench code")]

#[cfg(not(target_arch = "wasm32"))]
use gatehouse_bench::fixtures;
use gatehouse_bench::ops;

use gatehouse_engine::route::Body;
use gatehouse_engine::{Engine, Identity, LoadOptions, Request};
use serde_json::Value;
use std::hint::black_box;
use std::path::Path;
use std::time::{Duration, Instant};

const SAMPLES: usize = 15;
const SAMPLE_TIME: Duration = Duration::from_millis(20);
const SIZES: [&str; 2] = ["small", "large"];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    match args.get(1).map(String::as_str) {
        #[cfg(not(target_arch = "wasm32"))]
        Some("gen") => gen(Path::new(&args[2])),
        Some("run") => run(Path::new(&args[2]), args.get(3).map_or("", String::as_str)),
        _ => {
            eprintln!("usage: gatehouse-wasm-harness gen DIR | run DIR [PREFIX]");
            std::process::exit(2);
        }
    }
}

#[cfg(not(target_arch = "wasm32"))]
fn gen(dir: &Path) {
    use gatehouse_testkit::synth::Size;
    use serde_json::json;
    std::fs::create_dir_all(dir).unwrap();
    let tokens: Vec<Value> = fixtures::tokens()
        .into_iter()
        .map(|t| json!({"alg": t.alg, "jwks": t.jwks, "token": t.token}))
        .collect();
    let tokens = json!({"now": fixtures::NOW, "tokens": tokens});
    std::fs::write(dir.join("tokens.json"), tokens.to_string()).unwrap();
    for (label, size) in SIZES.into_iter().zip([Size::SMALL, Size::LARGE]) {
        let fixture = fixtures::tenant(size);
        let engine = fixtures::engine(&fixture.bundle);
        let cases: Vec<Value> = fixtures::cases(&fixture, &engine)
            .into_iter()
            .map(|c| {
                json!({"name": c.name, "method": c.method, "path": c.path, "body": c.body,
                       "subject": c.subject, "allow": c.allow,
                       "token": fixtures::token_for(&c)})
            })
            .collect();
        std::fs::write(dir.join(format!("{label}.bundle")), &fixture.bundle).unwrap();
        std::fs::write(
            dir.join(format!("{label}.cases.json")),
            json!({"now": fixtures::NOW, "cases": cases}).to_string(),
        )
        .unwrap();
    }
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// `mem/<size>`, alone in a fresh process: the bundle's size natively; in wasm, the linear memory
/// after reading the bundle and loading it the way the plugin does (bytes handed to
/// `Engine::load` by value), which is what one VM holds.
fn mem(dir: &Path, size: &str) {
    let bytes = std::fs::read(dir.join(format!("{size}.bundle"))).unwrap();
    let len = bytes.len();
    let start = Instant::now();
    let engine = Engine::load(bytes, &LoadOptions::default()).unwrap();
    let load_ns = start.elapsed().as_nanos() as f64;
    #[cfg(target_arch = "wasm32")]
    let held = core::arch::wasm32::memory_size(0) * 65536;
    #[cfg(not(target_arch = "wasm32"))]
    let held = len;
    black_box(&engine);
    println!("mem/{size}/bytes\t{held}\t{held}\t{held}\t1");
    println!("mem/{size}/bundle_bytes\t{len}\t{len}\t{len}\t1");
    println!("mem/{size}/first_load_ns\t{load_ns:.0}\t{load_ns:.0}\t{load_ns:.0}\t1");
}

/// `stack/`: the deepest-recursing inputs, run once each (a wasm stack overflow traps): the large
/// bundle's load, an RS512 signature with an 8192-bit key (the engine's RSA cap), claims nested 64
/// levels deep, request bodies nested 64 (accepted), 65 and 10,000 levels (refused). Fixtures:
/// `stack.json` from `bench/wasm-harness/gen-stack.py`. Prints `stack/<case>/ok` lines.
fn stack(dir: &Path) {
    let large = std::fs::read(dir.join("large.bundle")).unwrap();
    black_box(Engine::load(large, &LoadOptions::default()).unwrap());
    println!("stack/load_large/ok\t1\t1\t1\t1");
    let fixture = read_json(&dir.join("stack.json"));
    let now = fixture["now"].as_i64().unwrap();
    for t in fixture["tokens"].as_array().unwrap() {
        let verifier = ops::Verifier::new(t["jwks"].as_str().unwrap());
        assert_eq!(verifier.verify(t["token"].as_str().unwrap(), now), Ok(()));
        println!("stack/{}/ok\t1\t1\t1\t1", t["name"].as_str().unwrap());
    }
    let engine = Engine::load(
        std::fs::read(dir.join("small.bundle")).unwrap(),
        &LoadOptions::default(),
    )
    .unwrap();
    let cases = read_json(&dir.join("small.cases.json"));
    let case = &cases["cases"][0];
    for b in fixture["bodies"].as_array().unwrap() {
        let request = Request {
            authority: "synth.gw.example.com",
            method: case["method"].as_str().unwrap(),
            path: case["path"].as_str().unwrap(),
            headers: &[ops::CONTENT_TYPE],
            body: Body::Bytes(b["body"].as_str().unwrap().as_bytes()),
        };
        let identity = Identity::Subject(case["subject"].as_str().unwrap());
        let allowed = engine.decide(&request, identity, now).decision.is_allow();
        let name = b["name"].as_str().unwrap();
        assert_eq!(allowed, name == "body_depth64", "{name}");
        println!("stack/{name}/ok\t1\t1\t1\t1");
    }
}

fn run(dir: &Path, filter: &str) {
    if let Some(size) = filter.strip_prefix("mem/") {
        return mem(dir, size.trim_end_matches('/'));
    }
    if filter.starts_with("stack/") {
        return stack(dir);
    }
    let bench = |name: &str, f: &mut dyn FnMut() -> bool| {
        if name.starts_with(filter) {
            measure(name, f);
        }
    };

    let tokens = read_json(&dir.join("tokens.json"));
    let now = tokens["now"].as_i64().unwrap();
    for t in tokens["tokens"].as_array().unwrap() {
        let alg = t["alg"].as_str().unwrap();
        let token = t["token"].as_str().unwrap();
        let jwks = t["jwks"].as_str().unwrap();
        let verifier = ops::Verifier::new(jwks);
        assert_eq!(verifier.verify(token, now), Ok(()));
        bench(&format!("verify/{alg}/gatehouse"), &mut || {
            verifier.verify(black_box(token), now).is_ok()
        });
        // Where the time goes: the token split and decoded (base64url, strict JSON), no signature.
        bench(&format!("verify/{alg}/parse"), &mut || {
            gatehouse_engine::jwt::Token::parse(black_box(token)).is_ok()
        });
        #[cfg(not(target_arch = "wasm32"))]
        {
            let fixture = fixtures::TokenFixture {
                alg: ["HS256", "RS256", "ES256", "EdDSA"]
                    .into_iter()
                    .find(|a| *a == alg)
                    .unwrap(),
                jwks: jwks.to_owned(),
                token: token.to_owned(),
            };
            let ring = fixtures::RingVerifier::new(&fixture);
            assert!(ring.verify(token));
            bench(&format!("verify/{alg}/ring"), &mut || {
                ring.verify(black_box(token))
            });
        }
    }

    for size in SIZES {
        let prefix = format!("decide/{size}/");
        let load = format!("load/{size}/");
        if !(prefix.starts_with(filter)
            || filter.starts_with(&prefix)
            || load.starts_with(filter)
            || filter.starts_with(&load))
        {
            continue;
        }
        let bundle = std::fs::read(dir.join(format!("{size}.bundle"))).unwrap();
        // `on_configure`: the plugin hands `Engine::load` a fresh copy of the configuration
        // buffer, so the copy is part of what is timed.
        bench(&format!("load/{size}/gatehouse"), &mut || {
            Engine::load(black_box(bundle.clone()), &LoadOptions::default()).is_ok()
        });
        let engine = Engine::load(bundle, &LoadOptions::default()).unwrap();
        let cases = read_json(&dir.join(format!("{size}.cases.json")));
        let now = cases["now"].as_i64().unwrap();
        for case in cases["cases"].as_array().unwrap() {
            let s = |k: &str| case[k].as_str().unwrap();
            let request = Request {
                authority: "synth.gw.example.com",
                method: s("method"),
                path: s("path"),
                headers: &[ops::CONTENT_TYPE],
                body: Body::Bytes(s("body").as_bytes()),
            };
            let identity = Identity::Subject(s("subject"));
            let allowed = engine.decide(&request, identity, now).decision.is_allow();
            assert_eq!(allowed, case["allow"].as_bool().unwrap(), "{}", s("name"));
            bench(
                &format!("decide/{size}/{}/gatehouse", s("name")),
                &mut || {
                    engine
                        .decide(black_box(&request), identity, now)
                        .decision
                        .is_allow()
                },
            );
        }
        // The first case again with its token: cached, and with no cache (EdDSA every time).
        let case = &cases["cases"][0];
        let s = |k: &str| case[k].as_str().unwrap();
        let header = format!("Bearer {}", s("token"));
        let headers = [ops::CONTENT_TYPE, ("authorization", header.as_str())];
        let request = Request {
            authority: "synth.gw.example.com",
            method: s("method"),
            path: s("path"),
            headers: &headers,
            body: Body::Bytes(s("body").as_bytes()),
        };
        let uncached = Engine::load(
            std::fs::read(dir.join(format!("{size}.bundle"))).unwrap(),
            &LoadOptions::default(),
        )
        .unwrap()
        .with_token_cache(0);
        assert!(engine
            .decide(&request, Identity::Token, now)
            .decision
            .is_allow());
        assert!(
            engine
                .decide(&request, Identity::Token, now)
                .token_cache_hit
        );
        bench(
            &format!("decide/{size}/token_cached/gatehouse"),
            &mut || {
                engine
                    .decide(black_box(&request), Identity::Token, now)
                    .decision
                    .is_allow()
            },
        );
        bench(
            &format!("decide/{size}/token_uncached/gatehouse"),
            &mut || {
                uncached
                    .decide(black_box(&request), Identity::Token, now)
                    .decision
                    .is_allow()
            },
        );
    }
}

/// Calibrates the iteration count to [`SAMPLE_TIME`] (which also warms up), then prints the
/// median, min and max of [`SAMPLES`] samples in ns per operation.
fn measure(name: &str, f: &mut dyn FnMut() -> bool) {
    let mut iters: u32 = 1;
    loop {
        let start = Instant::now();
        for _ in 0..iters {
            black_box(f());
        }
        if start.elapsed() >= SAMPLE_TIME || iters >= 1 << 24 {
            break;
        }
        iters *= 2;
    }
    let mut samples: Vec<f64> = (0..SAMPLES)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..iters {
                black_box(f());
            }
            start.elapsed().as_nanos() as f64 / f64::from(iters)
        })
        .collect();
    samples.sort_by(f64::total_cmp);
    println!(
        "{name}\t{:.1}\t{:.1}\t{:.1}\t{iters}",
        samples[SAMPLES / 2],
        samples[0],
        samples[SAMPLES - 1]
    );
}
