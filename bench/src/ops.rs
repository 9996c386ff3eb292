//! What the benchmarks time, engine side only: shared by the criterion benches and by the wasm
//! harness (`bench/wasm-harness`, which runs it natively and in V8).
#![expect(clippy::unwrap_used, reason = "bench code: a bad fixture ends the run")]

use gatehouse_engine::jwt::{self, KeySet, Token, Validation};
use gatehouse_engine::Reason;

/// The media type every benchmark request declares: routes that read the body refuse a body
/// that is not declared JSON (`unsupported_media_type`), as the filter sees real clients do.
pub const CONTENT_TYPE: (&str, &str) = ("content-type", "application/json");

/// Step 4 alone: parse the compact JWS, select the key, check the signature and the claims.
#[derive(Debug)]
pub struct Verifier {
    keys: KeySet,
}

impl Verifier {
    pub fn new(jwks: &str) -> Verifier {
        let jwks = jwt::parse_jwks(jwks).unwrap();
        Verifier {
            keys: KeySet::new(&jwks).unwrap(),
        }
    }

    pub fn verify(&self, token: &str, now: i64) -> Result<(), Reason> {
        let token = Token::parse(token)?;
        jwt::verify(
            &token,
            &Validation {
                keys: &self.keys,
                algorithms: &[],
                audiences: &[],
                clock_skew_seconds: 60,
                now,
            },
        )
    }
}
