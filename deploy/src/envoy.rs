//! Every Envoy configuration Gatehouse writes, built as data in one place.
//!
//! `gatehouse envoy-config`, `scripts/push-bundle.sh`, `scripts/bench-envoy.sh`, the end-to-end
//! tests and the committed `envoy/envoy.yaml` all come from the functions below, so a setting
//! (and the reason for it) is written once:
//!
//! - [`static_bootstrap`]: a complete bootstrap with the bundle inline;
//! - [`ecds_bootstrap`]: a bootstrap whose Gatehouse filter comes from a watched file (ECDS), so a
//!   new bundle applies without a restart; [`ecds_resource`] is the file it watches;
//! - [`baseline`]: the same listener with other HTTP filters (none, Envoy's native
//!   `jwt_authn` + `rbac`, or a no-op proxy-wasm filter), so benchmark ratios compare like with
//!   like.
//!
//! The production bootstraps are in `envoy/production.rs`, the benchmark baselines in
//! `envoy/baselines.rs`; what they share (the listener, connection manager, routes, clusters and
//! the wasm filter settings) is here.
//!
//! A configuration is a [`Config`]: a `serde_json::Value` plus the explanations that go with its
//! settings, rendered as commented YAML or as plain JSON ([`Format`]).

use std::path::{Path, PathBuf};
use std::str::FromStr;

use serde_json::{json, Value};

const HCM_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.network.http_connection_manager.v3.HttpConnectionManager";
const WASM_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.wasm.v3.Wasm";
const DYNAMIC_MODULE_TYPE: &str =
    "type.googleapis.com/envoy.extensions.filters.http.dynamic_modules.v3.DynamicModuleFilter";
const ROUTER_TYPE: &str = "type.googleapis.com/envoy.extensions.filters.http.router.v3.Router";

/// A `host:port` socket address (an IPv6 host may be written in brackets).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Addr {
    pub host: String,
    pub port: u16,
}

impl Addr {
    /// `127.0.0.1:port`.
    pub fn loopback(port: u16) -> Addr {
        Addr {
            host: "127.0.0.1".to_owned(),
            port,
        }
    }

    fn socket_address(&self) -> Value {
        json!({ "socket_address": { "address": self.host, "port_value": self.port } })
    }
}

impl FromStr for Addr {
    type Err = String;

    fn from_str(text: &str) -> Result<Addr, String> {
        let (host, port) = text
            .rsplit_once(':')
            .ok_or_else(|| format!("`{text}` is not `host:port`"))?;
        let port = port
            .parse()
            .map_err(|_| format!("`{text}` has a bad port"))?;
        let host = host.trim_start_matches('[').trim_end_matches(']');
        Ok(Addr {
            host: host.to_owned(),
            port,
        })
    }
}

/// Where allowed requests go.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Upstream {
    /// Envoy answers them itself: 200, `allowed`.
    #[default]
    Direct,
    /// The cluster `upstream` at this address.
    Cluster(Addr),
}

/// A further upstream for requests carrying `header: value` (checked before the catch-all
/// route); the differential suite sends each case to its upstream this way.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeaderRoute {
    pub header: String,
    pub value: String,
    /// Cluster name; must not be `upstream`.
    pub cluster: String,
    pub address: Addr,
}

/// What Envoy does to the path before routing (and so before the filter sees it).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum PathHandling {
    /// Normalised, `//` merged, encoded slashes refused with 400: what Gatehouse generates.
    #[default]
    Strict,
    /// Istio's default (`pathNormalization: BASE`): normalised, slashes not merged, escaped
    /// slashes kept.
    Istio,
    /// Envoy's path handling off: the filter sees every path exactly as sent.
    Raw,
}

/// `headers_with_underscores_action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Underscores {
    /// `REJECT_REQUEST`: what Gatehouse generates.
    #[default]
    Reject,
    /// `ALLOW`: Envoy's and Istio's default.
    Allow,
}

/// How the route configuration splits requests into virtual hosts.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum VirtualHosts {
    /// One virtual host, `all`, for every domain: what Gatehouse generates.
    #[default]
    One,
    /// One virtual host per tenant, `tenant:<name>`, whose domains are the tenant's `hosts`
    /// (a lone tenant without hosts: `*`), plus a catch-all `unmatched` for `*` when no tenant
    /// has it. Each adds [`VHOST_HEADER`] naming its tenant ([`NO_TENANT`] for the catch-all), or
    /// without an upstream answers with a body that names it: which tenant Envoy routed a
    /// request for, to compare with the one the filter chose.
    PerTenant(Vec<TenantHosts>),
}

/// A tenant's name and `hosts`, as the bundle has them (lowercased; exact names or `*.suffix`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TenantHosts {
    pub tenant: String,
    pub hosts: Vec<String>,
}

/// The request header a per-tenant virtual host adds ([`VirtualHosts::PerTenant`]).
pub const VHOST_HEADER: &str = "x-envoy-vhost";

/// [`VHOST_HEADER`] of the catch-all virtual host: with a space, never a tenant's name.
pub const NO_TENANT: &str = "no tenant";

/// Which build of the Gatehouse filter Envoy runs: the same decisions either way.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Build {
    /// `gatehouse.wasm` in Envoy's wasm filter (V8): Envoy, Envoy Gateway and Istio.
    #[default]
    Wasm,
    /// `libgatehouse_module.so` in Envoy's dynamic-modules filter: native code, one bundle per
    /// process; an Envoy whose dynamic-module ABI the module was built for (`docs/deployment.md`).
    Native,
}

impl Build {
    /// The filter's configuration type (ECDS `type_urls`).
    pub fn type_url(self) -> &'static str {
        match self {
            Build::Wasm => WASM_TYPE,
            Build::Native => DYNAMIC_MODULE_TYPE,
        }
    }

    /// The HTTP filter's name in a static bootstrap.
    pub fn filter_name(self) -> &'static str {
        match self {
            Build::Wasm => "envoy.filters.http.wasm",
            Build::Native => "envoy.filters.http.dynamic_modules",
        }
    }

    /// The prefix Envoy puts before the filter's own stats (`gatehouse.allowed`...).
    pub fn stats_prefix(self) -> &'static str {
        match self {
            Build::Wasm => "wasmcustom.",
            Build::Native => "dynamicmodulescustom.",
        }
    }
}

/// The Gatehouse filter's own settings (its configuration and module).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Filter {
    pub build: Build,
    /// The module as Envoy will see it (relative to Envoy's working directory, or absolute):
    /// `gatehouse.wasm`, or `libgatehouse_module.so` for [`Build::Native`].
    pub module: PathBuf,
    /// Base64 Ed25519 keys: when any, only bundles signed by one of them load.
    pub trusted_keys: Vec<String>,
    /// Accept a bundle with a lower serial than the one in service.
    pub allow_rollback: bool,
    /// Test build (`test-hooks`) only: the filter's clock, in Unix seconds.
    pub fixed_now: Option<i64>,
    /// Test build (`test-hooks`) only: a request to exactly this path panics the VM.
    pub panic_path: Option<String>,
    /// `token_cache_entries` in the VM configuration: how many verified tokens the filter's
    /// cache holds. Passed through as given; absent, the filter's default.
    pub token_cache_entries: Option<u32>,
}

/// Settings shared by every bootstrap: the listener, its connection manager and routes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Options {
    pub listen: Addr,
    pub admin: Addr,
    pub upstream: Upstream,
    pub header_routes: Vec<HeaderRoute>,
    pub paths: PathHandling,
    pub underscores: Underscores,
    pub virtual_hosts: VirtualHosts,
}

impl Default for Options {
    fn default() -> Options {
        Options {
            listen: Addr::loopback(10000),
            admin: Addr::loopback(9901),
            upstream: Upstream::Direct,
            header_routes: Vec::new(),
            paths: PathHandling::Strict,
            underscores: Underscores::Reject,
            virtual_hosts: VirtualHosts::One,
        }
    }
}

/// Output syntax.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// YAML with the settings' explanations as comments.
    #[default]
    Yaml,
    /// JSON (Envoy reads it from a file ending in `.json`).
    Json,
}

/// One generated configuration.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    header: Vec<String>,
    // INVARIANT: an object member whose key starts with `#` is the explanation (a string) of the
    // member named by the rest of the key. No Envoy field starts with `#`; `json` drops them.
    value: Value,
}

impl Config {
    /// The configuration as data (what Envoy reads), without explanations.
    pub fn json(&self) -> Value {
        without_notes(&self.value)
    }

    pub fn render(&self, format: Format) -> String {
        match format {
            Format::Json => format!("{:#}\n", self.json()),
            Format::Yaml => {
                let mut out = String::new();
                for line in &self.header {
                    push_comment(&mut out, 0, line);
                }
                if let Value::Object(top) = &self.value {
                    yaml::map(&mut out, 0, top);
                }
                out
            }
        }
    }
}

/// A proxy-wasm module and its configurations.
struct WasmModule<'a> {
    /// The filter's `name`, `root_id` and `vm_id`.
    name: &'a str,
    code: &'a Path,
    /// The VM configuration (JSON text); empty: none.
    vm_configuration: String,
    /// The plugin configuration (an `Any`); `None`: none.
    configuration: Option<Value>,
    configuration_note: &'a str,
}

/// A `Wasm` HTTP filter configuration: every wasm filter (Gatehouse, the benchmark floor) runs
/// with the same VM and failure settings.
fn wasm_filter(module: WasmModule<'_>) -> Value {
    let mut vm_config = json!({
        "vm_id": module.name,
        "runtime": "envoy.wasm.runtime.v8",
        "code": { "local": { "filename": display(module.code) } },
    });
    if let (false, Value::Object(map)) = (module.vm_configuration.is_empty(), &mut vm_config) {
        map.insert(
            "#configuration".into(),
            json!(
                "The VM configuration (README, \"Filter configuration\"). Whoever can change \
                 it (or the vm_id, or the code) is trusted like the operator: keep it apart \
                 from bundle pushes (docs/security.md, \"Delivery channels\"). Changing it \
                 starts a fresh VM."
            ),
        );
        map.insert(
            "configuration".into(),
            json!({
                "@type": "type.googleapis.com/google.protobuf.StringValue",
                "value": module.vm_configuration,
            }),
        );
    }
    let mut config = json!({
        "name": module.name,
        "root_id": module.name,
        "#failure_policy": "A VM that failed (or never loaded) denies: never fail open.",
        "failure_policy": "FAIL_CLOSED",
        "#allow_on_headers_stop_iteration": "Lets on_http_request_headers return StopIteration \
            and still receive the body: the filter holds the headers of a request whose route \
            reads the body until it has decided. Without it Envoy turns StopIteration into \
            StopAllIteration and such requests would stall.",
        "allow_on_headers_stop_iteration": true,
        "vm_config": vm_config,
    });
    if let Value::Object(map) = &mut config {
        // A note goes with the key that follows it: with no plugin configuration, the VM's.
        let note = json!(module.configuration_note);
        match module.configuration {
            Some(configuration) => {
                map.insert("#configuration".into(), note);
                map.insert("configuration".into(), configuration);
            }
            None => {
                map.insert("#vm_config".into(), note);
            }
        }
    }
    json!({
        "@type": WASM_TYPE,
        "config": config,
    })
}

/// A bootstrap: admin, one listener whose connection manager runs `filters` then the router,
/// and the clusters its routes name.
fn bootstrap(options: &Options, filters: Vec<Value>) -> Value {
    let mut clusters = Vec::new();
    if let Upstream::Cluster(addr) = &options.upstream {
        clusters.push(cluster("upstream", addr));
    }
    clusters.extend(
        options
            .header_routes
            .iter()
            .map(|r| cluster(&r.cluster, &r.address)),
    );
    json!({
        "admin": { "address": options.admin.socket_address() },
        "static_resources": {
            "listeners": [{
                "name": "gatehouse",
                "address": options.listen.socket_address(),
                "filter_chains": [{
                    "filters": [{
                        "name": "envoy.filters.network.http_connection_manager",
                        "typed_config": connection_manager(options, filters),
                    }],
                }],
            }],
            "clusters": clusters,
        },
    })
}

fn connection_manager(options: &Options, filters: Vec<Value>) -> Value {
    let mut hcm = json!({
        "@type": HCM_TYPE,
        "stat_prefix": "ingress",
        "#request_timeout": "A body that trickles in must not hold a request (and its buffer) \
            for the idle timeout: the whole request has 30 s.",
        "request_timeout": "30s",
        "route_config": route_config(options),
    });
    let (normalize, merge, escaped, why) = match options.paths {
        PathHandling::Strict => (
            true,
            true,
            "REJECT_REQUEST",
            "The filter sees the path Envoy routes on: normalised, no `//`, no encoded slashes.",
        ),
        PathHandling::Istio => (
            true,
            false,
            "KEEP_UNCHANGED",
            "Istio's default (pathNormalization BASE): RFC 3986 normalisation, slashes not \
             merged, escaped slashes kept; the filter sees raw `//` and `%2F` and refuses what \
             an upstream could read differently.",
        ),
        PathHandling::Raw => (
            false,
            false,
            "KEEP_UNCHANGED",
            "Envoy's path handling off: the filter sees every path exactly as sent, so the \
             engine's own canonical-path rule is what refuses the odd ones.",
        ),
    };
    let (underscores, underscores_why) = match options.underscores {
        Underscores::Reject => (
            "REJECT_REQUEST",
            "`x_gatehouse_subject` is `x-gatehouse-subject` to CGI, WSGI, PHP-FPM and Rack \
             upstreams: refuse (400) any header name with an underscore. (The filter removes \
             `x-gatehouse-*` under either spelling too, for proxies that allow them.)",
        ),
        Underscores::Allow => (
            "ALLOW",
            "Envoy's and Istio's default: header names with `_` reach the filter, which removes \
             `x-gatehouse-*` under either spelling.",
        ),
    };
    let mut router = filters;
    router.push(json!({
        "name": "envoy.filters.http.router",
        "typed_config": { "@type": ROUTER_TYPE },
    }));
    if let Value::Object(map) = &mut hcm {
        map.insert("#normalize_path".into(), json!(why));
        map.insert("normalize_path".into(), json!(normalize));
        map.insert("merge_slashes".into(), json!(merge));
        map.insert("path_with_escaped_slashes_action".into(), json!(escaped));
        map.insert(
            "#common_http_protocol_options".into(),
            json!(underscores_why),
        );
        map.insert(
            "common_http_protocol_options".into(),
            json!({ "headers_with_underscores_action": underscores }),
        );
        map.insert("http_filters".into(), Value::Array(router));
    }
    hcm
}

fn route_config(options: &Options) -> Value {
    let virtual_hosts = match &options.virtual_hosts {
        VirtualHosts::One => vec![json!({
            "name": "all",
            "domains": ["*"],
            "routes": routes(options, "allowed\n"),
        })],
        VirtualHosts::PerTenant(tenants) => per_tenant(options, tenants),
    };
    json!({
        "name": "local",
        "#ignore_port_in_host_matching": "The filter picks the tenant by the host without its \
            port: Envoy picks the virtual host the same way, so the two agree whatever port a \
            client writes.",
        "ignore_port_in_host_matching": true,
        "virtual_hosts": virtual_hosts,
    })
}

/// [`VirtualHosts::PerTenant`]: a virtual host per tenant with hosts (a lone tenant without
/// hosts serves every host, as in the filter; in a bundle of several every tenant lists hosts),
/// then the catch-all.
fn per_tenant(options: &Options, tenants: &[TenantHosts]) -> Vec<Value> {
    let lone = tenants.len() == 1;
    // (virtual host, domains, the tenant its header names)
    let mut layout: Vec<(String, Vec<String>, &str)> = tenants
        .iter()
        .filter(|t| lone || !t.hosts.is_empty())
        .map(|t| {
            let domains = if t.hosts.is_empty() {
                vec!["*".to_owned()]
            } else {
                t.hosts.clone()
            };
            (format!("tenant:{}", t.tenant), domains, t.tenant.as_str())
        })
        .collect();
    if !layout
        .iter()
        .any(|(_, domains, _)| domains.iter().any(|d| d == "*"))
    {
        layout.push(("unmatched".to_owned(), vec!["*".to_owned()], NO_TENANT));
    }
    layout
        .iter()
        .enumerate()
        .map(|(i, (name, domains, tenant))| vhost(options, name, domains, tenant, i == 0))
        .collect()
}

/// A virtual host of [`per_tenant`]; the first carries the notes (`explain`).
fn vhost(options: &Options, name: &str, domains: &[String], tenant: &str, explain: bool) -> Value {
    let mut vhost = json!({
        "name": name,
        "domains": domains,
        "routes": routes(options, &format!("allowed, virtual host {name}\n")),
    });
    if let (Upstream::Cluster(_), Value::Object(map)) = (&options.upstream, &mut vhost) {
        if explain {
            let note = format!(
                "Added by the router, after the filter has decided: which tenant Envoy routed \
                 for, to compare with the filter's `x-gatehouse-tenant`. A client's own \
                 `{VHOST_HEADER}` is overwritten."
            );
            map.insert("#request_headers_to_add".into(), json!(note));
        }
        map.insert(
            "request_headers_to_add".into(),
            json!([{
                "header": { "key": VHOST_HEADER, "value": tenant },
                "append_action": "OVERWRITE_IF_EXISTS_OR_ADD",
            }]),
        );
    }
    vhost
}

fn routes(options: &Options, direct_body: &str) -> Vec<Value> {
    let mut routes: Vec<Value> = options
        .header_routes
        .iter()
        .map(|r| {
            json!({
                "match": {
                    "prefix": "/",
                    "headers": [{ "name": r.header, "string_match": { "exact": r.value } }],
                },
                "route": { "cluster": r.cluster },
            })
        })
        .collect();
    routes.push(match &options.upstream {
        Upstream::Cluster(_) => json!({
            "match": { "prefix": "/" },
            "route": { "cluster": "upstream" },
        }),
        Upstream::Direct => json!({
            "match": { "prefix": "/" },
            "direct_response": { "status": 200, "body": { "inline_string": direct_body } },
        }),
    });
    routes
}

fn cluster(name: &str, addr: &Addr) -> Value {
    json!({
        "name": name,
        "type": "STATIC",
        "connect_timeout": "1s",
        "load_assignment": {
            "cluster_name": name,
            "endpoints": [{ "lb_endpoints": [{ "endpoint": { "address": addr.socket_address() } }] }],
        },
    })
}

fn display(path: &Path) -> String {
    path.display().to_string()
}

fn without_notes(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, _)| !k.starts_with('#'))
                .map(|(k, v)| (k.clone(), without_notes(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_notes).collect()),
        other => other.clone(),
    }
}

mod baselines;
mod production;
mod yaml;

pub use baselines::{
    baseline, Baseline, FloorMode, JwtRbac, NativeFloor, WasmFloor, JWT_CACHE_SIZE,
};
pub use production::{ecds_bootstrap, ecds_resource, static_bootstrap, Ecds};
use yaml::push_comment;

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    use super::*;

    /// YAML (as [`Config::render`] writes it) read back with an independent parser.
    fn yaml_to_json(yaml: &yaml_rust2::Yaml) -> Value {
        use yaml_rust2::Yaml;
        match yaml {
            Yaml::Real(text) => json!(text.parse::<f64>().unwrap()),
            Yaml::Integer(i) => json!(i),
            Yaml::String(s) => json!(s),
            Yaml::Boolean(b) => json!(b),
            Yaml::Array(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
            Yaml::Hash(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.as_str().unwrap().to_owned(), yaml_to_json(v)))
                    .collect(),
            ),
            other => panic!("unexpected YAML node {other:?}"),
        }
    }

    fn round_trip(config: &Config) {
        let yaml = config.render(Format::Yaml);
        let docs = yaml_rust2::YamlLoader::load_from_str(&yaml).unwrap();
        assert_eq!(docs.len(), 1, "{yaml}");
        assert_eq!(yaml_to_json(&docs[0]), config.json(), "{yaml}");
        let json: Value = serde_json::from_str(&config.render(Format::Json)).unwrap();
        assert_eq!(json, config.json());
        assert!(!config.render(Format::Json).contains("\"#"));
    }

    fn floor(mode: FloorMode) -> Baseline {
        Baseline::Wasm(WasmFloor {
            wasm: "target/wasm32-wasip1/release/gatehouse_bench_floor.wasm".into(),
            mode,
        })
    }

    fn every_kind() -> Vec<Config> {
        let filter = Filter {
            build: Build::Wasm,
            module: "target/wasm32-wasip1/release/gatehouse.wasm".into(),
            trusted_keys: vec![STANDARD.encode([7u8; 32])],
            allow_rollback: true,
            fixed_now: Some(1_795_867_200),
            panic_path: Some("/panic \"now\"".into()),
            token_cache_entries: Some(60_000),
        };
        let routed = Options {
            upstream: Upstream::Cluster(Addr::loopback(8080)),
            header_routes: vec![HeaderRoute {
                header: "x-differential-upstream".into(),
                value: "wsgi".into(),
                cluster: "wsgi".into(),
                address: "[::1]:8081".parse().unwrap(),
            }],
            paths: PathHandling::Istio,
            underscores: Underscores::Allow,
            ..Options::default()
        };
        let jwt = JwtRbac {
            issuer: "https://acme.cp.example.com".into(),
            jwks: r#"{"keys":[{"kty":"EC","crv":"P-256","x":"a","y":"b"}]}"#.into(),
            audiences: vec!["api://gateway".into()],
            clock_skew_seconds: 60,
            cache_size: JWT_CACHE_SIZE,
            method: "POST".into(),
            path: "/api/llm/v1/chat/completions".into(),
            claim: "email".into(),
            subjects: vec!["carol@acme.com".into(), "dave@acme.com".into()],
        };
        let native = Filter {
            build: Build::Native,
            module: "target/native-release/libgatehouse_module.so".into(),
            ..filter.clone()
        };
        let native_floor = Baseline::Native(NativeFloor {
            module: "/tmp/libgatehouse_native_floor.so".into(),
            mode: FloorMode::Headers,
        });
        vec![
            static_bootstrap(&Options::default(), &native, b"GATEHSE\x01"),
            ecds_resource(&native, b"bundle", "1-abc"),
            ecds_bootstrap(
                &Options::default(),
                &Ecds {
                    build: Build::Native,
                    ..Ecds::default()
                },
            ),
            baseline(&routed, &native_floor),
            static_bootstrap(&Options::default(), &filter, b"GATEHSE\x01"),
            static_bootstrap(&routed, &Filter::default(), b""),
            ecds_bootstrap(&Options::default(), &Ecds::default()),
            ecds_bootstrap(
                &Options {
                    paths: PathHandling::Raw,
                    ..routed.clone()
                },
                &Ecds::file("/tmp/x/f.json"),
            ),
            ecds_resource(&filter, b"bundle", "1-abc"),
            baseline(&Options::default(), &Baseline::None),
            baseline(&routed, &Baseline::JwtRbac(jwt)),
            baseline(&Options::default(), &floor(FloorMode::Empty)),
            baseline(&routed, &floor(FloorMode::Headers)),
            static_bootstrap(&per_tenant(Upstream::Direct), &filter, b"GATEHSE\x01"),
            ecds_bootstrap(
                &per_tenant(Upstream::Cluster(Addr::loopback(8080))),
                &Ecds::default(),
            ),
        ]
    }

    fn per_tenant(upstream: Upstream) -> Options {
        Options {
            upstream,
            virtual_hosts: VirtualHosts::PerTenant(vec![
                TenantHosts {
                    tenant: "acme".into(),
                    hosts: vec!["*.acme.example.com".into(), "acme.gw.example.com".into()],
                },
                TenantHosts {
                    tenant: "globex".into(),
                    hosts: vec!["*.globex.example.com".into()],
                },
            ]),
            ..Options::default()
        }
    }

    fn virtual_hosts(config: &Config) -> Vec<Value> {
        config
            .json()
            .pointer("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/route_config/virtual_hosts")
            .and_then(Value::as_array)
            .unwrap()
            .clone()
    }

    #[test]
    fn a_virtual_host_per_tenant_names_its_tenant() {
        let routed = static_bootstrap(
            &per_tenant(Upstream::Cluster(Addr::loopback(8080))),
            &Filter::default(),
            b"",
        );
        let hosts = virtual_hosts(&routed);
        let summary: Vec<(&str, Value, &str)> = hosts
            .iter()
            .map(|h| {
                let added = &h["request_headers_to_add"][0];
                assert_eq!(added["header"]["key"], VHOST_HEADER);
                assert_eq!(added["append_action"], "OVERWRITE_IF_EXISTS_OR_ADD");
                (
                    h["name"].as_str().unwrap(),
                    h["domains"].clone(),
                    added["header"]["value"].as_str().unwrap(),
                )
            })
            .collect();
        assert_eq!(
            summary,
            [
                (
                    "tenant:acme",
                    json!(["*.acme.example.com", "acme.gw.example.com"]),
                    "acme"
                ),
                ("tenant:globex", json!(["*.globex.example.com"]), "globex"),
                ("unmatched", json!(["*"]), NO_TENANT),
            ]
        );
        // Without an upstream, the answer names the virtual host.
        let direct = virtual_hosts(&static_bootstrap(
            &per_tenant(Upstream::Direct),
            &Filter::default(),
            b"",
        ));
        assert!(direct[1].get("request_headers_to_add").is_none());
        assert_eq!(
            direct[1]["routes"][0]["direct_response"]["body"]["inline_string"],
            "allowed, virtual host tenant:globex\n"
        );
        // A lone tenant without hosts serves every host: no catch-all beside it.
        let lone = Options {
            virtual_hosts: VirtualHosts::PerTenant(vec![TenantHosts {
                tenant: "acme".into(),
                hosts: Vec::new(),
            }]),
            ..Options::default()
        };
        let hosts = virtual_hosts(&static_bootstrap(&lone, &Filter::default(), b""));
        assert_eq!(hosts.len(), 1);
        assert_eq!(hosts[0]["domains"], json!(["*"]));
        assert_eq!(hosts[0]["name"], "tenant:acme");
    }

    #[test]
    fn yaml_reads_back_as_the_json() {
        for config in every_kind() {
            round_trip(&config);
        }
    }

    #[test]
    fn scalars_that_look_like_something_else_are_quoted() {
        for s in [
            "",
            "true",
            "No",
            "null",
            "1",
            "1.5",
            "30s",
            "127.0.0.1",
            "@type",
            "-x",
            ".inf",
            "*",
            "a b",
            "a:b",
            "a#b",
            "~",
            "y",
        ] {
            assert!(yaml::scalar_text(s).starts_with('"'), "{s}");
        }
        for s in [
            "gatehouse",
            "envoy.wasm.runtime.v8",
            "/",
            "target/envoy",
            "REJECT_REQUEST",
        ] {
            assert_eq!(yaml::scalar_text(s), s);
        }
    }

    #[test]
    fn baselines_differ_from_gatehouse_only_by_their_http_filters() {
        let options = Options::default();
        let strip = |config: &Config| {
            let mut value = config.json();
            let hcm = value
                .pointer_mut("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
                .unwrap();
            let filters = hcm.as_object_mut().unwrap().remove("http_filters").unwrap();
            (value, filters)
        };
        let (gatehouse, _) = strip(&static_bootstrap(&options, &Filter::default(), b""));
        let jwt = JwtRbac {
            issuer: "https://cp.example.com".into(),
            jwks: r#"{"keys":[]}"#.into(),
            audiences: Vec::new(),
            clock_skew_seconds: 60,
            cache_size: 60_000,
            method: "GET".into(),
            path: "/".into(),
            claim: "sub".into(),
            subjects: vec!["user:a@b.c".into()],
        };
        for (kind, n) in [
            (Baseline::None, 2),
            (Baseline::JwtRbac(jwt), 4),
            (floor(FloorMode::Empty), 3),
            (floor(FloorMode::Headers), 3),
        ] {
            let (peer, filters) = strip(&baseline(&options, &kind));
            assert_eq!(peer, gatehouse);
            assert_eq!(filters.as_array().unwrap().len(), n);
            assert_eq!(filters[0]["name"], "envoy.filters.http.buffer");
        }
    }

    #[test]
    fn native_peer_settings() {
        let jwt = JwtRbac {
            issuer: "https://acme.okta.com/oauth2/default".into(),
            jwks: r#"{"keys":[]}"#.into(),
            audiences: vec!["api://gateway".into()],
            clock_skew_seconds: 60,
            cache_size: 60_000,
            method: "POST".into(),
            path: "/api/llm/v1/chat/completions".into(),
            claim: "email".into(),
            subjects: vec!["carol@acme.com".into(), "dave@acme.com".into()],
        };
        let config = baseline(&Options::default(), &Baseline::JwtRbac(jwt.clone())).json();
        let filters = config
            .pointer(
                "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
            )
            .unwrap();
        let provider = &filters[1]["typed_config"]["providers"]["issuer"];
        assert_eq!(provider["jwt_cache_config"]["jwt_cache_size"], 60_000);
        assert_eq!(provider["audiences"], json!(["api://gateway"]));
        let principals = filters[2]["typed_config"]["rules"]["policies"]["allowed"]["principals"]
            .as_array()
            .unwrap();
        assert_eq!(principals.len(), 2);
        assert_eq!(
            principals[1]["metadata"]["path"],
            json!([{ "key": "jwt_payload" }, { "key": "email" }])
        );
        assert_eq!(
            principals[1]["metadata"]["value"]["string_match"]["exact"],
            "dave@acme.com"
        );
        // No audiences: none written, so `jwt_authn` does not check `aud`.
        let unchecked = JwtRbac {
            audiences: Vec::new(),
            ..jwt
        };
        let config = baseline(&Options::default(), &Baseline::JwtRbac(unchecked)).json();
        let filters = config
            .pointer(
                "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters",
            )
            .unwrap();
        assert!(filters[1]["typed_config"]["providers"]["issuer"]
            .get("audiences")
            .is_none());
    }

    #[test]
    fn floor_filters_run_like_gatehouse() {
        let gatehouse = static_bootstrap(&Options::default(), &Filter::default(), b"").json();
        let gatehouse = gatehouse
            .pointer("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/0/typed_config/config")
            .unwrap();
        for mode in [FloorMode::Empty, FloorMode::Headers] {
            let config = baseline(&Options::default(), &floor(mode)).json();
            let wasm = config
                .pointer("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/1/typed_config/config")
                .unwrap();
            for setting in ["failure_policy", "allow_on_headers_stop_iteration"] {
                assert_eq!(wasm[setting], gatehouse[setting], "{setting}");
            }
            assert_eq!(
                wasm["vm_config"]["runtime"],
                gatehouse["vm_config"]["runtime"]
            );
            assert_eq!(wasm["vm_config"]["vm_id"], "floor");
            assert!(wasm["vm_config"].get("configuration").is_none());
            assert_eq!(wasm["configuration"]["value"], mode.name());
        }
    }

    #[test]
    fn an_empty_bundle_leaves_the_plugin_configuration_out() {
        let filter = Filter::default();
        let wasm = |config: &Config, pointer: &str| config.json().pointer(pointer).unwrap().clone();
        let resource = "/resources/0/typed_config/config";
        let inline = wasm(&ecds_resource(&filter, b"GATEHSE\x01", "1"), resource);
        assert_eq!(
            inline["configuration"]["value"],
            STANDARD.encode(b"GATEHSE\x01")
        );
        let embedded = wasm(&ecds_resource(&filter, b"", "1"), resource);
        assert!(embedded.get("configuration").is_none(), "{embedded}");
        assert_eq!(embedded["vm_config"], inline["vm_config"]);
        let listener = "/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/0/typed_config/config";
        let config = static_bootstrap(&Options::default(), &filter, b"");
        assert!(wasm(&config, listener).get("configuration").is_none());
        assert!(config.render(Format::Yaml).contains("embedded in the"));
    }

    #[test]
    fn settings_gatehouse_relies_on() {
        let config = static_bootstrap(&Options::default(), &Filter::default(), b"").json();
        let hcm = config
            .pointer("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config")
            .unwrap();
        assert_eq!(hcm["normalize_path"], true);
        assert_eq!(hcm["merge_slashes"], true);
        assert_eq!(hcm["path_with_escaped_slashes_action"], "REJECT_REQUEST");
        assert_eq!(
            hcm["common_http_protocol_options"]["headers_with_underscores_action"],
            "REJECT_REQUEST"
        );
        assert_eq!(hcm["request_timeout"], "30s");
        assert_eq!(hcm["route_config"]["ignore_port_in_host_matching"], true);
        let wasm = &hcm["http_filters"][0]["typed_config"]["config"];
        assert_eq!(wasm["failure_policy"], "FAIL_CLOSED");
        assert_eq!(wasm["allow_on_headers_stop_iteration"], true);
        assert_eq!(wasm["vm_config"]["runtime"], "envoy.wasm.runtime.v8");
        assert_eq!(
            wasm["vm_config"]["configuration"]["value"],
            r#"{"trusted_keys":[]}"#
        );
        let sized = Filter {
            token_cache_entries: Some(60_000),
            ..Filter::default()
        };
        let config = static_bootstrap(&Options::default(), &sized, b"").json();
        assert_eq!(
            config.pointer("/static_resources/listeners/0/filter_chains/0/filters/0/typed_config/http_filters/0/typed_config/config/vm_config/configuration/value").unwrap(),
            r#"{"token_cache_entries":60000,"trusted_keys":[]}"#
        );
    }
}
