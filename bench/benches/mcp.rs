//! What trimming a `tools/list` response costs the filter (SPEC 3.4): the response parsed, each
//! listed tool decided as a `tools/call` of it would be, the kept ones written back. A caller
//! allowed half of the server's tools; 10, 100 and 1,000 tools as JSON, 100 as an event stream;
//! and the 100-tool JSON response read and written back without deciding (`parse_only`).
#![expect(clippy::unwrap_used, reason = "bench code")]

use criterion::{criterion_group, criterion_main, Criterion};
use gatehouse_bench::{fixtures, ops};
use gatehouse_engine::mcp::trim::{self, Kind};
use gatehouse_engine::route::Body;
use gatehouse_engine::{Identity, Request};
use std::hint::black_box;

fn trim(c: &mut Criterion) {
    let mut group = c.benchmark_group("mcp");
    for (tools, kinds) in [
        (10, &[Kind::Json][..]),
        (100, &[Kind::Json, Kind::EventStream][..]),
        (1000, &[Kind::Json][..]),
    ] {
        let fixture = fixtures::mcp(tools);
        let engine = fixtures::engine(&fixture.bundle);
        let headers = [ops::CONTENT_TYPE];
        let request = Request {
            authority: fixtures::HOST,
            method: "POST",
            path: fixture.path,
            headers: &headers,
            body: Body::Bytes(fixture.request_body.as_bytes()),
        };
        let outcome = engine.decide(&request, Identity::Subject(fixture.subject), fixtures::NOW);
        assert!(outcome.decision.is_allow(), "{:?}", outcome.decision);
        let grant = engine.tools_list_grant(&outcome, &request).unwrap();
        for &kind in kinds {
            let (label, body) = match kind {
                Kind::Json => ("trim_json", fixture.response_json.as_bytes()),
                Kind::EventStream => ("trim_sse", fixture.response_sse.as_bytes()),
            };
            let trimmed = engine.trim_tools_list(&grant, kind, body).unwrap();
            assert_eq!((trimmed.listed, trimmed.kept), (tools, tools / 2));
            eprintln!(
                "mcp/{label}/{tools}_tools: {} bytes in, {} out",
                body.len(),
                trimmed.body.len()
            );
            group.bench_function(format!("{label}/{tools}_tools"), |b| {
                b.iter(|| {
                    engine
                        .trim_tools_list(&grant, kind, black_box(body))
                        .unwrap()
                        .kept
                })
            });
            // The same response read and written back with no decision: what the decisions add
            // is the difference.
            if tools == 100 && kind == Kind::Json {
                group.bench_function(format!("parse_only/{tools}_tools"), |b| {
                    b.iter(|| {
                        trim::trim(kind, black_box(body), &mut |_| true)
                            .unwrap()
                            .kept
                    })
                });
            }
        }
    }
    group.finish();
}

criterion_group!(benches, trim);
criterion_main!(benches);
