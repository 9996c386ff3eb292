//! `gatehouse envoy-config`: the Envoy configuration `--kind` names, from the one generator
//! ([`gatehouse_deploy::envoy`]).

use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use gatehouse_deploy::envoy::{self, Addr, Ecds, Filter, Options, Upstream, VirtualHosts};
use gatehouse_engine::Engine;
use gatehouse_review::check::decode_public_key;
use gatehouse_review::Exit;
use serde_json::Value;

/// `gatehouse envoy-config`.
pub fn run(args: EnvoyConfigArgs) -> Result<ExitCode> {
    print!("{}", envoy_config(&args)?);
    Ok(Exit::Success.into())
}

/// What `gatehouse envoy-config` prints (see [`gatehouse_deploy::envoy`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EnvoyConfigKind {
    /// A complete bootstrap with the bundle inline.
    Static,
    /// A bootstrap that reads the Gatehouse filter from the watched ECDS file (`--ecds-path`).
    EcdsBootstrap,
    /// The ECDS file alone: the Gatehouse filter with the bundle (what push-bundle.sh writes).
    EcdsResource,
    /// The same listener without a deciding filter (only `buffer`), for benchmarks.
    BaselineNone,
    /// The same listener with Envoy's native `jwt_authn` + `rbac` (`--jwt-*`, `--rbac-*`).
    BaselineJwtRbac,
    /// The same listener with a proxy-wasm filter that decides nothing (`bench/floor`:
    /// `--wasm`, `--floor`).
    BaselineWasm,
    /// The same listener with a native dynamic module that decides nothing
    /// (`bench/native-floor`: `--module`, `--floor`).
    BaselineNative,
}

#[derive(Debug, Args)]
pub struct EnvoyConfigArgs {
    /// Which configuration.
    #[arg(long, value_enum, default_value = "static")]
    pub kind: EnvoyConfigKind,
    #[arg(long, value_enum, default_value = "yaml")]
    pub format: Format,
    /// The policy bundle to embed (static, ecds-resource).
    #[arg(long)]
    pub bundle: Option<PathBuf>,
    /// No bundle in the plugin configuration: the filter loads the one embedded in the module
    /// (`gatehouse package`) instead (static, ecds-resource).
    #[arg(long, conflicts_with = "bundle")]
    pub embedded: bool,
    /// Path of gatehouse.wasm as Envoy will see it (static, ecds-resource), or of the floor
    /// module (baseline-wasm). For `static` and `baseline-wasm` it is made absolute; for
    /// `ecds-resource` it is written as given (relative to Envoy's working directory).
    #[arg(long)]
    pub wasm: Option<PathBuf>,
    /// Which build of the Gatehouse filter (static, ecds-bootstrap, ecds-resource): `wasm`
    /// (`--wasm`) or the native Envoy module `native` (`--module`).
    #[arg(long, value_enum, default_value = "wasm")]
    pub filter: FilterBuild,
    /// Path of libgatehouse_module.so (`--filter native`), or of the native floor module
    /// (baseline-native); made absolute for `static`, written as given for `ecds-resource`.
    #[arg(long)]
    pub module: Option<PathBuf>,
    /// baseline-wasm: what the floor filter does on each request.
    #[arg(long, value_enum, default_value = "empty")]
    pub floor: FloorMode,
    /// Listener address.
    #[arg(long, default_value = "127.0.0.1:10000")]
    pub listen: String,
    /// Upstream `host:port`; without it Envoy answers allowed requests itself (200, `allowed`).
    #[arg(long)]
    pub upstream: Option<String>,
    /// Admin interface address (stats at `/stats?filter=gatehouse`).
    #[arg(long, default_value = "127.0.0.1:9901")]
    pub admin: String,
    /// Pin these bundle signing keys (base64 Ed25519) in the VM configuration.
    #[arg(long = "trusted-key")]
    pub trusted_keys: Vec<String>,
    /// `"allow_rollback": true` in the VM configuration: accept a bundle with a lower serial.
    #[arg(long)]
    pub allow_rollback: bool,
    /// `"token_cache_entries": N` in the VM configuration: how many verified tokens the filter
    /// keeps. Without it, the filter's default.
    #[arg(long)]
    pub token_cache_entries: Option<u32>,
    /// Envoy's path handling.
    #[arg(long, value_enum, default_value = "strict")]
    pub paths: PathHandling,
    /// `headers_with_underscores_action`.
    #[arg(long, value_enum, default_value = "reject")]
    pub headers_with_underscores: Underscores,
    /// One virtual host per tenant of the bundle (`--bundle`, or the module's with
    /// `--embedded`), its `hosts` as domains, plus a catch-all; each adds `x-envoy-vhost`
    /// naming its tenant (or, without `--upstream`, names it in its answer). Not for
    /// ecds-resource, which has no listener.
    #[arg(long)]
    pub vhost_per_tenant: bool,
    /// The watched ECDS file (ecds-bootstrap); its directory is the watched directory.
    #[arg(long, default_value = "target/envoy/gatehouse-filter.yaml")]
    pub ecds_path: PathBuf,
    /// `version_info` of the ECDS resource (default: the bundle's SHA-256, 12 hex digits).
    #[arg(long)]
    pub version_info: Option<String>,
    /// baseline-jwt-rbac: the issuer `jwt_authn` accepts.
    #[arg(long)]
    pub jwt_issuer: Option<String>,
    /// baseline-jwt-rbac: the issuer's JWK Set file, inlined.
    #[arg(long)]
    pub jwt_jwks: Option<PathBuf>,
    /// baseline-jwt-rbac: an `aud` value `jwt_authn` accepts; repeat for several. None: `aud`
    /// is not checked.
    #[arg(long = "jwt-audience")]
    pub jwt_audiences: Vec<String>,
    /// baseline-jwt-rbac: clock skew allowed on `exp`/`nbf`.
    #[arg(long, default_value_t = 60)]
    pub jwt_clock_skew: u64,
    /// baseline-jwt-rbac: `jwt_cache_size`, the verified tokens `jwt_authn` keeps.
    #[arg(long, default_value_t = envoy::JWT_CACHE_SIZE)]
    pub jwt_cache_size: u32,
    /// baseline-jwt-rbac: the JWT payload claim rbac checks.
    #[arg(long, default_value = "sub")]
    pub rbac_claim: String,
    /// baseline-jwt-rbac: a value of `--rbac-claim` rbac allows; repeat for several.
    #[arg(long = "rbac-subject")]
    pub rbac_subjects: Vec<String>,
    /// baseline-jwt-rbac: the method rbac allows.
    #[arg(long, default_value = "POST")]
    pub rbac_method: String,
    /// baseline-jwt-rbac: the exact path rbac allows.
    #[arg(long)]
    pub rbac_path: Option<String>,
}

/// The values of `--format`, `--floor`, `--paths` and `--headers-with-underscores`: the
/// generator's own settings ([`gatehouse_deploy::envoy`]), named and described for the command line.
macro_rules! value_enums {
    ($($(#[$doc:meta])* $name:ident => $target:ty { $($(#[$vdoc:meta])* $variant:ident),+ $(,)? })+) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
        pub enum $name {
            $($(#[$vdoc])* $variant,)+
        }

        impl From<$name> for $target {
            fn from(value: $name) -> $target {
                match value {
                    $($name::$variant => <$target>::$variant,)+
                }
            }
        }
    )+};
}

value_enums! {
    /// Which build of the Gatehouse filter.
    FilterBuild => gatehouse_deploy::envoy::Build {
        /// gatehouse.wasm in Envoy's wasm filter (Envoy, Envoy Gateway, Istio).
        Wasm,
        /// libgatehouse_module.so in Envoy's dynamic-modules filter (Envoy 1.40).
        Native,
    }
    /// Output syntax.
    Format => gatehouse_deploy::envoy::Format {
        /// YAML with the settings' explanations as comments.
        Yaml,
        /// JSON (Envoy reads it from a file ending in `.json`).
        Json,
    }
    /// What the floor filter does in `on_http_request_headers` (its plugin configuration).
    FloorMode => gatehouse_deploy::envoy::FloorMode {
        /// Returns `Continue`.
        Empty,
        /// Reads the request headers once and sets three headers the size of Gatehouse's
        /// identity headers.
        Headers,
    }
    /// What Envoy does to the path before routing (and so before the filter sees it).
    PathHandling => gatehouse_deploy::envoy::PathHandling {
        /// Normalised, `//` merged, encoded slashes refused with 400: what Gatehouse generates.
        Strict,
        /// Istio's default (`pathNormalization: BASE`): normalised, slashes not merged, escaped
        /// slashes kept.
        Istio,
        /// Envoy's path handling off: the filter sees every path exactly as sent.
        Raw,
    }
    /// `headers_with_underscores_action`.
    Underscores => gatehouse_deploy::envoy::Underscores {
        /// `REJECT_REQUEST`: what Gatehouse generates.
        Reject,
        /// `ALLOW`: Envoy's and Istio's default.
        Allow,
    }
}

/// `gatehouse envoy-config`: the Envoy configuration `--kind` names, from [`gatehouse_deploy::envoy`].
fn envoy_config(args: &EnvoyConfigArgs) -> Result<String> {
    for key in &args.trusted_keys {
        decode_public_key(key)?;
    }
    let addr = |text: &str| text.parse::<Addr>().map_err(|e| anyhow!("{e}"));
    let mut options = Options {
        listen: addr(&args.listen)?,
        admin: addr(&args.admin)?,
        upstream: match &args.upstream {
            Some(upstream) => Upstream::Cluster(addr(upstream)?),
            None => Upstream::Direct,
        },
        header_routes: Vec::new(),
        paths: args.paths.into(),
        underscores: args.headers_with_underscores.into(),
        virtual_hosts: VirtualHosts::One,
    };
    let kind = args.kind;
    let needs = |flag: &str| anyhow!("`--kind {}` needs `--{flag}`", kind_name(kind));
    let bundle = || -> Result<(&Path, Vec<u8>)> {
        let path = args.bundle.as_deref().ok_or_else(|| needs("bundle"))?;
        let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
        Ok((path, bytes))
    };
    if args.vhost_per_tenant {
        if kind == EnvoyConfigKind::EcdsResource {
            bail!("`--vhost-per-tenant` is for a configuration with a listener, not `--kind ecds-resource`");
        }
        // `static` reads its bundle (or the module's) below, and checks it there.
        if kind != EnvoyConfigKind::Static {
            let (path, bytes) = bundle()?;
            options.virtual_hosts = virtual_hosts(path, bytes)?;
        }
    }
    let filter = |module: PathBuf| Filter {
        build: args.filter.into(),
        module,
        trusted_keys: args.trusted_keys.clone(),
        allow_rollback: args.allow_rollback,
        fixed_now: None,
        panic_path: None,
        token_cache_entries: args.token_cache_entries,
    };
    let wasm = || args.wasm.clone().ok_or_else(|| needs("wasm"));
    let native = || args.module.clone().ok_or_else(|| needs("module"));
    // The Gatehouse filter's module: gatehouse.wasm, or libgatehouse_module.so.
    let module = || match args.filter {
        FilterBuild::Wasm => wasm(),
        FilterBuild::Native => native(),
    };
    if args.embedded && args.filter == FilterBuild::Native {
        bail!("`--embedded` is for gatehouse.wasm (`gatehouse package`): the native module reads its bundle from the configuration");
    }
    let config = match kind {
        EnvoyConfigKind::Static => {
            // A static configuration has no later update to fix a bad bundle with: refuse it now.
            let (source, bytes) = if args.embedded {
                let wasm = wasm()?;
                let module = std::fs::read(&wasm)
                    .with_context(|| format!("reading `{}`", wasm.display()))?;
                let embedded = gatehouse_deploy::package::embedded(&module)
                    .map_err(|e| anyhow!("`{}`: {e}", wasm.display()))?
                    .ok_or_else(|| {
                        anyhow!(
                            "`{}` embeds no bundle: `gatehouse package` it, or give `--bundle`",
                            wasm.display()
                        )
                    })?;
                (wasm, embedded)
            } else {
                let (path, bytes) = bundle()?;
                (path.to_path_buf(), bytes)
            };
            if args.vhost_per_tenant {
                options.virtual_hosts = virtual_hosts(&source, bytes.clone())?;
            } else {
                Engine::load(bytes.clone(), &gatehouse_engine::LoadOptions::default())
                    .map_err(|e| anyhow!("`{}`: {e}", source.display()))?;
            }
            let inline: &[u8] = if args.embedded { &[] } else { &bytes };
            let module = module()?;
            let module = std::path::absolute(&module).unwrap_or(module);
            envoy::static_bootstrap(&options, &filter(module), inline)
        }
        EnvoyConfigKind::EcdsBootstrap => {
            let ecds = Ecds {
                build: args.filter.into(),
                ..Ecds::file(&args.ecds_path)
            };
            envoy::ecds_bootstrap(&options, &ecds)
        }
        // Not loaded here: the filter validates it, and a bundle it rejects is a rejected ECDS
        // update (the previous one keeps serving).
        // With `--embedded`, what changes from one update to the next is the module.
        EnvoyConfigKind::EcdsResource => {
            let bytes = if args.embedded {
                Vec::new()
            } else {
                bundle()?.1
            };
            let wasm = module()?;
            let version = match &args.version_info {
                Some(v) => v.clone(),
                None => {
                    let versioned = if args.embedded {
                        std::fs::read(&wasm).with_context(|| {
                            format!(
                                "reading `{}` for the version (or give `--version-info`)",
                                wasm.display()
                            )
                        })?
                    } else {
                        bytes.clone()
                    };
                    hex(&<sha2::Sha256 as sha2::Digest>::digest(&versioned))
                        .chars()
                        .take(12)
                        .collect()
                }
            };
            envoy::ecds_resource(&filter(wasm), &bytes, &version)
        }
        EnvoyConfigKind::BaselineNone => envoy::baseline(&options, &envoy::Baseline::None),
        EnvoyConfigKind::BaselineJwtRbac => {
            let jwks_path = args.jwt_jwks.as_ref().ok_or_else(|| needs("jwt-jwks"))?;
            let jwks = std::fs::read_to_string(jwks_path)
                .with_context(|| format!("reading `{}`", jwks_path.display()))?;
            let jwks: Value = serde_json::from_str(&jwks)
                .with_context(|| format!("`{}` is not a JWK Set", jwks_path.display()))?;
            if args.rbac_subjects.is_empty() {
                return Err(needs("rbac-subject"));
            }
            let jwt = envoy::JwtRbac {
                issuer: args.jwt_issuer.clone().ok_or_else(|| needs("jwt-issuer"))?,
                jwks: jwks.to_string(),
                audiences: args.jwt_audiences.clone(),
                clock_skew_seconds: args.jwt_clock_skew,
                cache_size: args.jwt_cache_size,
                method: args.rbac_method.clone(),
                path: args.rbac_path.clone().ok_or_else(|| needs("rbac-path"))?,
                claim: args.rbac_claim.clone(),
                subjects: args.rbac_subjects.clone(),
            };
            envoy::baseline(&options, &envoy::Baseline::JwtRbac(jwt))
        }
        EnvoyConfigKind::BaselineNative => {
            let module = native()?;
            let module = std::path::absolute(&module).unwrap_or(module);
            let floor = envoy::NativeFloor {
                module,
                mode: args.floor.into(),
            };
            envoy::baseline(&options, &envoy::Baseline::Native(floor))
        }
        EnvoyConfigKind::BaselineWasm => {
            let wasm = wasm()?;
            let wasm = std::path::absolute(&wasm).unwrap_or(wasm);
            let floor = envoy::WasmFloor {
                wasm,
                mode: args.floor.into(),
            };
            envoy::baseline(&options, &envoy::Baseline::Wasm(floor))
        }
    };
    Ok(config.render(args.format.into()))
}

/// `--vhost-per-tenant`: the tenants of the bundle at `source` and their hosts.
fn virtual_hosts(source: &Path, bytes: Vec<u8>) -> Result<VirtualHosts> {
    let engine = Engine::load(bytes, &gatehouse_engine::LoadOptions::default())
        .map_err(|e| anyhow!("`{}`: {e}", source.display()))?;
    let tenants = engine
        .bundle()
        .tenants()
        .iter()
        .map(|t| envoy::TenantHosts {
            tenant: t.config.name.clone(),
            hosts: t.config.hosts.clone(),
        })
        .collect();
    Ok(VirtualHosts::PerTenant(tenants))
}

fn kind_name(kind: EnvoyConfigKind) -> String {
    clap::ValueEnum::to_possible_value(&kind)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
