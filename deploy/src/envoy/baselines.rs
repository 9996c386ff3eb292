//! Benchmark peers: the listener of the Gatehouse configurations with other HTTP filters (none,
//! Envoy's native `jwt_authn` + `rbac`, a proxy-wasm filter that decides nothing), so that a ratio
//! against one measures the filters and nothing else.

use std::path::PathBuf;

use serde_json::{json, Value};

use super::{bootstrap, display, wasm_filter, Config, Options, WasmModule, DYNAMIC_MODULE_TYPE};

/// A benchmark peer: the Gatehouse listener with other HTTP filters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Baseline {
    /// No filter that decides anything.
    None,
    /// Envoy's native `jwt_authn` + `rbac` doing the check Gatehouse does for one request.
    JwtRbac(JwtRbac),
    /// A proxy-wasm filter that decides nothing (`bench/floor`): what any wasm filter costs
    /// before it does its own work.
    Wasm(WasmFloor),
    /// A native dynamic module that decides nothing (`bench/native-floor`): what any native
    /// filter pays to be called and read the request.
    Native(NativeFloor),
}

/// The native floor module and what it does on each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NativeFloor {
    /// `libgatehouse_native_floor.so`.
    pub module: PathBuf,
    pub mode: FloorMode,
}

/// A `jwt_authn` provider and the one request `rbac` allows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JwtRbac {
    pub issuer: String,
    /// The provider's JWK Set (JSON text), inline.
    pub jwks: String,
    /// The `aud` values the provider accepts (one must be in the token); none: `aud` unchecked.
    pub audiences: Vec<String>,
    pub clock_skew_seconds: u64,
    /// `jwt_cache_size`: how many verified tokens `jwt_authn` keeps (per worker).
    pub cache_size: u32,
    /// The allowed request: method, exact path, and a JWT payload claim (`sub`, `email`, ...)
    /// equal to one of `subjects`.
    pub method: String,
    pub path: String,
    pub claim: String,
    pub subjects: Vec<String>,
}

/// The `jwt_cache_size` `gatehouse envoy-config` gives `jwt_authn` unless told otherwise.
pub const JWT_CACHE_SIZE: u32 = 1000;

/// The floor filter of `bench/floor` and what it does on each request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WasmFloor {
    /// The floor module as Envoy will see it.
    pub wasm: PathBuf,
    pub mode: FloorMode,
}

/// What the floor filter does in `on_http_request_headers` (its plugin configuration).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FloorMode {
    /// Returns `Continue`.
    Empty,
    /// Reads the request headers once and sets three headers the size of Gatehouse's
    /// identity headers.
    Headers,
}

impl FloorMode {
    /// The plugin configuration the floor filter reads.
    pub fn name(self) -> &'static str {
        match self {
            FloorMode::Empty => "empty",
            FloorMode::Headers => "headers",
        }
    }
}

/// The listener of [`static_bootstrap`] with other HTTP filters, for benchmarks: only the filters
/// differ, so a ratio against it measures the filters and nothing else.
pub fn baseline(options: &Options, baseline: &Baseline) -> Config {
    let buffer = json!({
        "#name": "Read the whole request before answering, as gatehouse does on a route that \
            reads the body: a direct_response sent while the body is still arriving makes Envoy \
            add `connection: close`, and the baseline would measure a new connection per request.",
        "name": "envoy.filters.http.buffer",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.buffer.v3.Buffer",
            "max_request_bytes": 65536,
        },
    });
    let (filters, what) = match baseline {
        Baseline::None => (vec![buffer], "no filter that decides (only `buffer`)"),
        Baseline::JwtRbac(jwt) => (
            vec![buffer, jwt_authn(jwt), rbac(jwt)],
            "Envoy's native jwt_authn (with its JWT cache) + rbac",
        ),
        Baseline::Wasm(floor) => (
            vec![
                buffer,
                json!({
                    "name": "envoy.filters.http.wasm",
                    "typed_config": wasm_filter(WasmModule {
                        name: "floor",
                        code: &floor.wasm,
                        vm_configuration: String::new(),
                        configuration: Some(json!({
                            "@type": "type.googleapis.com/google.protobuf.StringValue",
                            "value": floor.mode.name(),
                        })),
                        configuration_note: "What the floor filter does on each request.",
                    }),
                }),
            ],
            "a proxy-wasm filter that decides nothing (bench/floor)",
        ),
        Baseline::Native(floor) => (
            vec![
                buffer,
                json!({
                    "name": "envoy.filters.http.dynamic_modules",
                    "typed_config": {
                        "@type": DYNAMIC_MODULE_TYPE,
                        "dynamic_module_config": {
                            "module": { "local": { "filename": display(&floor.module) } },
                        },
                        "filter_name": "floor",
                        "#filter_config": "What the floor module does on each request.",
                        "filter_config": {
                            "@type": "type.googleapis.com/google.protobuf.StringValue",
                            "value": floor.mode.name(),
                        },
                    },
                }),
            ],
            "a native dynamic module that decides nothing (bench/native-floor)",
        ),
    };
    Config {
        header: vec![format!(
            "Generated by `gatehouse envoy-config`: a benchmark baseline, {what}; the listener and connection manager are those of the Gatehouse configuration."
        )],
        value: bootstrap(options, filters),
    }
}

fn jwt_authn(jwt: &JwtRbac) -> Value {
    let mut provider = json!({
        "issuer": jwt.issuer,
        "local_jwks": { "inline_string": jwt.jwks },
        "payload_in_metadata": "jwt_payload",
        "#jwt_cache_config": "Gatehouse caches verified tokens: so does the peer.",
        "jwt_cache_config": { "jwt_cache_size": jwt.cache_size },
        "clock_skew_seconds": jwt.clock_skew_seconds,
    });
    if let (false, Value::Object(map)) = (jwt.audiences.is_empty(), &mut provider) {
        map.insert("audiences".into(), json!(jwt.audiences));
    }
    json!({
        "name": "envoy.filters.http.jwt_authn",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.jwt_authn.v3.JwtAuthentication",
            "providers": { "issuer": provider },
            "rules": [{ "match": { "prefix": "/" }, "requires": { "provider_name": "issuer" } }],
        },
    })
}

fn rbac(jwt: &JwtRbac) -> Value {
    json!({
        "name": "envoy.filters.http.rbac",
        "typed_config": {
            "@type": "type.googleapis.com/envoy.extensions.filters.http.rbac.v3.RBAC",
            "rules": {
                "action": "ALLOW",
                "policies": {
                    "allowed": {
                        "permissions": [{
                            "and_rules": {
                                "rules": [
                                    { "header": { "name": ":method", "string_match": { "exact": jwt.method } } },
                                    { "url_path": { "path": { "exact": jwt.path } } },
                                ],
                            },
                        }],
                        "principals": jwt.subjects.iter().map(|subject| json!({
                            "metadata": {
                                "filter": "envoy.filters.http.jwt_authn",
                                "path": [{ "key": "jwt_payload" }, { "key": jwt.claim }],
                                "value": { "string_match": { "exact": subject } },
                            },
                        })).collect::<Vec<_>>(),
                    },
                },
            },
        },
    })
}
