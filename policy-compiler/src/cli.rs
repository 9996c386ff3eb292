//! The pieces of the `gatehouse` command line that are worth testing without a process:
//! rendering decisions, describing bundles, keys, tokens and Envoy configuration.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{anyhow, bail, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::Args;
use gatehouse_engine::decide::Explanation;
use gatehouse_engine::escape::for_terminal;
use gatehouse_engine::route::Body;
use gatehouse_engine::{Decision, Engine, Identity, Outcome, Request};
use serde_json::{json, Value};

use crate::keys::{self, KeyAlg};

/// The exit status of every `gatehouse` command, one definition for the CLI and the scripts and
/// CI jobs that read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// 0: done; for `check`, allowed.
    Success = 0,
    /// 1: bad input, an unreadable or rejected bundle, a usage error.
    Error = 1,
    /// 2: the answer is negative: `check` denied.
    Negative = 2,
}

impl From<Exit> for std::process::ExitCode {
    fn from(exit: Exit) -> Self {
        std::process::ExitCode::from(exit as u8)
    }
}

/// An error whose details are located diagnostics (`file:line:column: error: ...`, one per
/// problem): `gatehouse` prints them as they are, then `error: <summary>`.
#[derive(Debug)]
pub struct Located {
    pub diagnostics: Vec<String>,
    pub summary: String,
}

impl std::fmt::Display for Located {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        for d in &self.diagnostics {
            writeln!(f, "{d}")?;
        }
        f.write_str(&self.summary)
    }
}

impl std::error::Error for Located {}

/// Current Unix time in seconds.
pub fn now() -> i64 {
    time::OffsetDateTime::now_utc().unix_timestamp()
}

/// The serial `gatehouse compile` records when `--serial` is not given: `SOURCE_DATE_EPOCH`
/// (reproducible builds) when set, else `now` (Unix seconds), so successive compiles increase.
pub fn default_serial(source_date_epoch: Option<&str>, now: i64) -> Result<u64> {
    match source_date_epoch.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => text.parse().map_err(|_| {
            anyhow!("SOURCE_DATE_EPOCH `{text}` is not a Unix time in seconds (a serial)")
        }),
        None => u64::try_from(now).map_err(|_| anyhow!("the clock is before 1970: give --serial")),
    }
}

/// RFC 3339 to Unix seconds.
pub fn parse_time(text: &str) -> Result<i64> {
    time::OffsetDateTime::parse(text, &time::format_description::well_known::Rfc3339)
        .map(|t| t.unix_timestamp())
        .map_err(|e| anyhow!("`{text}` is not an RFC 3339 time: {e}"))
}

/// `90`, `90s`, `15m`, `1h`, `7d` to seconds.
pub fn parse_duration(text: &str) -> Result<i64> {
    let (digits, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: i64 = digits
        .parse()
        .map_err(|_| anyhow!("`{text}` is not a duration like `90s`, `15m`, `1h` or `7d`"))?;
    let scale = match unit {
        "" | "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86400,
        _ => bail!("`{text}` is not a duration like `90s`, `15m`, `1h` or `7d`"),
    };
    n.checked_mul(scale)
        .ok_or_else(|| anyhow!("`{text}` is too long"))
}

/// The host `check` uses when none is given: that of a lone tenant.
pub fn default_host(engine: &Engine) -> Result<String> {
    match engine.bundle().tenants() {
        [only] => Ok(host_of(only)),
        _ => bail!("the bundle has several tenants: say which with --host"),
    }
}

/// A host the tenant serves: its first exact host, else a name under its first wildcard.
pub fn host_of(tenant: &gatehouse_engine::bundle::LoadedTenant) -> String {
    let hosts = &tenant.config.hosts;
    hosts
        .iter()
        .find(|h| !h.starts_with('*'))
        .cloned()
        .or_else(|| {
            hosts
                .first()
                .map(|h| format!("gatehouse{}", h.trim_start_matches('*')))
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A request as `gatehouse check` takes it (its flags); `gatehouse test` cases and the
/// JavaScript package give the same fields.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    pub method: String,
    /// With the query string, if any.
    pub path: String,
    /// `:authority`; `None`: the host of a lone tenant ([`default_host`]).
    pub host: Option<String>,
    /// `(name, value)`, in order.
    pub headers: Vec<(String, String)>,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Decide for this subject instead of a token (`user:<email>`, `virtualaccount:<name>`).
    pub as_subject: Option<String>,
    pub body: Option<Vec<u8>>,
    /// Send a body without the default `content-type: application/json`.
    pub no_content_type: bool,
}

/// A decision and its explanation.
#[derive(Debug)]
pub struct Checked<'e> {
    pub outcome: Outcome<'e>,
    pub explanation: Explanation,
}

/// `gatehouse check`: the request as the filter would see it, decided and explained at `now`.
pub fn check<'e>(engine: &'e Engine, request: &CheckRequest, now: i64) -> Result<Checked<'e>> {
    let host = match &request.host {
        Some(h) => h.clone(),
        None => default_host(engine)?,
    };
    let mut headers = request.headers.clone();
    if let Some(token) = &request.token {
        headers.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    // A body is JSON unless a header says otherwise, as clients of JSON APIs send it.
    if request.body.is_some()
        && !request.no_content_type
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let max = engine.bundle().gateway().max_body_bytes as usize;
    let body = match &request.body {
        None => Body::Absent,
        Some(b) if b.len() > max => Body::TooLarge,
        Some(b) => Body::Bytes(b),
    };
    let facts = Request {
        authority: &host,
        method: &request.method,
        path: &request.path,
        headers: &header_refs,
        body,
    };
    let identity = match &request.as_subject {
        Some(subject) => Identity::Subject(subject),
        None => Identity::Token,
    };
    let (outcome, explanation) = engine.explain(&facts, identity, now);
    Ok(Checked {
        outcome,
        explanation,
    })
}

/// The `gatehouse check --json` object for a decision (SPEC 5), with its explanation.
pub fn outcome_json(outcome: &Outcome<'_>, explanation: &Explanation) -> Value {
    let (decision, status, reason) = decision_parts(outcome);
    json!({
        "decision": decision,
        "status": status,
        "reason": reason,
        "tenant": outcome.tenant_name(),
        "principal": outcome.subject(),
        "route": outcome.route_name(),
        "resource": outcome.resource(),
        "action": outcome.action,
        "grant": outcome.grant(),
        "explain": explanation,
    })
}

fn decision_parts(outcome: &Outcome<'_>) -> (&'static str, u16, Option<&'static str>) {
    match outcome.decision {
        Decision::Allow { .. } => ("allow", 200, None),
        Decision::Deny { reason } => ("deny", reason.status(), Some(reason.code())),
    }
}

/// `gatehouse check` output: one JSON object, or a few aligned lines and the explanation (names
/// from the policy and the request escaped for a terminal).
pub fn render_outcome(outcome: &Outcome<'_>, explanation: &Explanation, as_json: bool) -> String {
    if as_json {
        return format!("{}\n", outcome_json(outcome, explanation));
    }
    let (decision, status, reason) = decision_parts(outcome);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{decision} {status}{}",
        reason.map(|r| format!(" {r}")).unwrap_or_default()
    );
    let rows = [
        ("tenant", outcome.tenant_name().map(str::to_owned)),
        ("principal", outcome.subject()),
        ("route", outcome.route_name().map(str::to_owned)),
        ("resource", outcome.resource()),
        ("action", outcome.action.map(str::to_owned)),
        ("grant", outcome.grant()),
    ];
    for (name, value) in rows {
        if let Some(value) = value {
            let _ = writeln!(out, "  {name:<10} {}", for_terminal(&value));
        }
    }
    out.push_str(&render_explanation(explanation));
    out
}

/// The explanation as indented lines, its names escaped for a terminal.
pub fn render_explanation(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "why: {}", for_terminal(&e.summary));
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_owned()
        } else {
            let shown: Vec<_> = v.iter().map(|x| for_terminal(x)).collect();
            shown.join(", ")
        }
    };
    if !e.subjects.is_empty() {
        let _ = writeln!(out, "  subjects tried        {}", list(&e.subjects));
    }
    if !e.tenant_roles.is_empty() {
        let _ = writeln!(out, "  tenant roles          {}", list(&e.tenant_roles));
    }
    for s in &e.searched {
        let _ = writeln!(
            out,
            "  searched {}{}",
            for_terminal(&s.resource),
            if s.disabled { " (disabled)" } else { "" }
        );
        if let Some(authorized) = &s.authorized_subjects {
            let _ = writeln!(out, "    admits only         {}", list(authorized));
        }
        if let Some(admitted) = &s.admitted {
            let _ = writeln!(out, "    caller admitted as  {}", list(admitted));
        }
        let _ = writeln!(out, "    roles granting it   {}", list(&s.roles_granting));
        let _ = writeln!(out, "    caller holds        {}", list(&s.held));
        let more = s.granted_to_count.saturating_sub(s.granted_to.len());
        let _ = writeln!(
            out,
            "    granted to          {}{}",
            list(&s.granted_to),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        );
    }
    if !e.tenant_roles_granting.is_empty() {
        let _ = writeln!(
            out,
            "  tenant roles granting it {}",
            list(&e.tenant_roles_granting)
        );
    }
    out
}

/// `gatehouse inspect`.
pub fn inspect(engine: &Engine, as_json: bool) -> Result<String> {
    let bundle = engine.bundle();
    let (major, minor) = bundle.format_version();
    let gateway = bundle.gateway();
    let tenants: Vec<Value> = bundle
        .tenants()
        .iter()
        .map(|t| {
            let tables = bundle.tables(t);
            json!({
                "name": t.config.name,
                "hosts": t.config.hosts,
                "issuer": t.config.issuer,
                "keys": t.config.keys.len(),
                "identity_providers": t.config.identity_providers.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "users": tables.users.len(),
                "teams": tables.teams.len(),
                "virtual_accounts": tables.virtual_accounts.len(),
                "roles": t.config.roles.len(),
                "resources": tables.resources.len(),
                "grants": tables.grants.len(),
            })
        })
        .collect();
    let value = json!({
        "format": format!("{major}.{minor}"),
        "revision": bundle.meta().revision,
        "serial": bundle.serial(),
        "compiler_version": bundle.meta().compiler_version,
        "size_bytes": bundle.len(),
        "digest_sha256": hex(bundle.digest()),
        "signed_by": bundle.signer().map(|k| STANDARD.encode(k)),
        "mode": if gateway.dry_run { "dry-run" } else { "enforce" },
        "default": if gateway.default_authenticated { "authenticated" } else { "deny" },
        "max_body_bytes": gateway.max_body_bytes,
        "routes": gateway.routes.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "tenants": tenants,
    });
    if as_json {
        return Ok(format!("{value:#}\n"));
    }
    let mut out = String::new();
    let _ = writeln!(out, "gatehouse bundle, format {major}.{minor}");
    let _ = writeln!(
        out,
        "  revision         {}",
        for_terminal(&bundle.meta().revision)
    );
    let _ = writeln!(out, "  serial           {}", bundle.serial());
    let _ = writeln!(
        out,
        "  compiler         {}",
        for_terminal(&bundle.meta().compiler_version)
    );
    let _ = writeln!(out, "  size             {} bytes", bundle.len());
    let _ = writeln!(out, "  digest (sha256)  {}", hex(bundle.digest()));
    let _ = writeln!(
        out,
        "  signed by        {}",
        bundle
            .signer()
            .map_or_else(|| "(unsigned)".to_owned(), |k| STANDARD.encode(k))
    );
    let _ = writeln!(
        out,
        "  mode             {}, default {}, max body {} bytes",
        if gateway.dry_run {
            "dry-run"
        } else {
            "enforce"
        },
        if gateway.default_authenticated {
            "authenticated"
        } else {
            "deny"
        },
        gateway.max_body_bytes
    );
    let names: Vec<&str> = gateway.routes.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(
        out,
        "  routes           {}",
        for_terminal(&names.join(", "))
    );
    for t in bundle.tenants() {
        let tables = bundle.tables(t);
        let _ = writeln!(
            out,
            "tenant {}: {} users, {} teams, {} virtual accounts, {} roles, {} resources, {} grants",
            for_terminal(&t.config.name),
            tables.users.len(),
            tables.teams.len(),
            tables.virtual_accounts.len(),
            t.config.roles.len(),
            tables.resources.len(),
            tables.grants.len()
        );
    }
    Ok(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// `gatehouse keys generate`: writes `private.jwk.json` (mode 0600) and `jwks.json`.
pub fn generate_keys(alg: &str, out: &Path) -> Result<Vec<String>> {
    let alg: KeyAlg = alg.parse().map_err(|e| anyhow!("{e}"))?;
    let (private, public) = keys::generate(alg).map_err(|e| anyhow!("{e}"))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating `{}`", out.display()))?;
    let private_path = out.join("private.jwk.json");
    let public_path = out.join("jwks.json");
    write_private(&private_path, &private)?;
    std::fs::write(&public_path, public.as_bytes())
        .with_context(|| format!("writing `{}`", public_path.display()))?;
    let mut lines = vec![
        format!("private key: {}", private_path.display()),
        format!("public JWK Set: {}", public_path.display()),
    ];
    if matches!(alg, KeyAlg::EdDsa) {
        let key = signing_key_from_jwk(&private)?;
        lines.push(format!(
            "bundle signing public key (for trusted_keys): {}",
            STANDARD.encode(key.verifying_key().as_bytes())
        ));
    }
    Ok(lines)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing `{}`", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .with_context(|| format!("writing `{}`", path.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text).with_context(|| format!("writing `{}`", path.display()))
    }
}

/// An Ed25519 private JWK file (`kty: OKP`, `crv: Ed25519`, `d`) as a bundle signing key.
pub fn read_signing_key(path: &Path) -> Result<ed25519_dalek::SigningKey> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("reading `{}`", path.display()))?;
    signing_key_from_jwk(&text).with_context(|| format!("`{}`", path.display()))
}

fn signing_key_from_jwk(text: &str) -> Result<ed25519_dalek::SigningKey> {
    let jwk: Value = serde_json::from_str(text).context("not a JSON Web Key")?;
    let member = |name: &str| jwk.get(name).and_then(Value::as_str);
    if member("kty") != Some("OKP") || member("crv") != Some("Ed25519") {
        bail!(
            "bundle signing keys are Ed25519 private JWKs (`gatehouse keys generate --alg EdDSA`)"
        );
    }
    let d = member("d").ok_or_else(|| anyhow!("the JWK has no private part `d`"))?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(d)
        .context("`d` is not base64url")?;
    let seed: [u8; 32] = bytes
        .try_into()
        .map_err(|_| anyhow!("`d` is not 32 bytes"))?;
    Ok(ed25519_dalek::SigningKey::from_bytes(&seed))
}

/// A trusted bundle signing key: base64 (standard or url-safe) of the 32-byte Ed25519 key.
pub fn decode_public_key(text: &str) -> Result<[u8; 32]> {
    gatehouse_engine::trust::parse_trusted_key(text)
        .map_err(|e| anyhow!("trusted key `{}` {e}", text.trim()))
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// Private JWK file.
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub issuer: String,
    /// Value of the `tenant` claim.
    #[arg(long)]
    pub tenant: Option<String>,
    /// `sub`, e.g. `user:alice@acme.com` or `virtualaccount:ci-bot`.
    #[arg(long)]
    pub sub: String,
    /// Lifetime: `90s`, `15m`, `1h`, `7d`.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    #[arg(long)]
    pub jti: Option<String>,
    /// `aud` claim; repeat for several.
    #[arg(long)]
    pub aud: Vec<String>,
    /// Extra claim `name=value` (value parsed as JSON when it parses, else a string).
    #[arg(long = "claim")]
    pub claims: Vec<String>,
    /// Issue as of this time (RFC 3339) instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// Mint this many tokens, one per line, the same but for `jti`: `<JTI>-1`, `<JTI>-2`, ...
    /// (`token-1`, ... without `--jti`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Write the token(s) to this file, one per line, instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `gatehouse token mint`: the token, or with `--count` that many, one per line (each line
/// ends with a newline).
pub fn mint(args: &MintArgs) -> Result<String> {
    let key = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading `{}`", args.key.display()))?;
    let now = match &args.now {
        Some(t) => parse_time(t)?,
        None => now(),
    };
    let ttl = parse_duration(&args.ttl)?;
    let Some(count) = args.count else {
        return Ok(format!(
            "{}\n",
            mint_one(args, &key, now, ttl, args.jti.clone())?
        ));
    };
    let base = args.jti.as_deref().unwrap_or("token");
    let mut out = String::new();
    for n in 1..=count {
        out.push_str(&mint_one(
            args,
            &key,
            now,
            ttl,
            Some(format!("{base}-{n}")),
        )?);
        out.push('\n');
    }
    Ok(out)
}

fn mint_one(args: &MintArgs, key: &str, now: i64, ttl: i64, jti: Option<String>) -> Result<String> {
    let mut claims = keys::token_claims(
        &args.issuer,
        &args.sub,
        args.tenant.as_deref(),
        jti.as_deref(),
        &args.aud,
    );
    for claim in &args.claims {
        let (name, value) = claim
            .split_once('=')
            .ok_or_else(|| anyhow!("claim `{claim}` is not `name=value`"))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        claims.insert(name.to_owned(), value);
    }
    keys::mint(key, claims, now, ttl).map_err(|e| anyhow!("{e}"))
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// gatehouse.wasm as built (target/wasm32-wasip1/release/gatehouse.wasm).
    #[arg(long)]
    pub wasm: PathBuf,
    /// The policy bundle to embed; validated first, as `gatehouse inspect` does.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Where to write the packaged module.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the packaged module as an OCI image layout into this new directory, in the
    /// format Istio's `WasmPlugin` pulls (push it with `skopeo copy oci:DIR:TAG docker://...`).
    #[arg(long)]
    pub oci: Option<PathBuf>,
    /// The image's tag in the layout.
    #[arg(long, default_value = "latest", requires = "oci")]
    pub tag: String,
    /// Refuse a bundle not signed by one of these Ed25519 public keys (base64), as a filter
    /// whose VM configuration pins them would.
    #[arg(long = "trusted-key")]
    pub trusted_keys: Vec<String>,
}

/// What `gatehouse package` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packaged {
    /// SHA-256 of the packaged module, hex: Envoy's remote `vm_config.code` needs it.
    pub sha256: String,
    /// What was written, one line each.
    pub summary: Vec<String>,
}

/// `gatehouse package`: the bundle embedded in the module (see [`crate::package`]).
/// `source_date_epoch` dates the OCI image; without it no time is recorded.
pub fn package(args: &PackageArgs, source_date_epoch: Option<&str>) -> Result<Packaged> {
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading `{}`", path.display()));
    let plugin = read(&args.wasm)?;
    let bundle = read(&args.bundle)?;
    let options = gatehouse_engine::LoadOptions {
        trusted_keys: args
            .trusted_keys
            .iter()
            .map(|k| decode_public_key(k))
            .collect::<Result<_>>()?,
    };
    let engine = Engine::load(bundle.clone(), &options)
        .map_err(|e| anyhow!("`{}`: {e}", args.bundle.display()))?;
    let created = source_date_epoch
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(crate::package::oci::created_from_epoch)
        .transpose()?;
    if args.oci.is_some() {
        crate::package::oci::check_tag(&args.tag)?;
    }
    let module = crate::package::embed(&plugin, &bundle)
        .map_err(|e| anyhow!("`{}`: {e}", args.wasm.display()))?;
    std::fs::write(&args.output, &module)
        .with_context(|| format!("writing `{}`", args.output.display()))?;
    let sha256 = crate::package::sha256_hex(&module);
    let meta = engine.bundle().meta();
    let mut summary = vec![format!(
        "wrote {} ({} bytes, sha256 {sha256}): bundle revision `{}` serial {} ({} bytes) embedded",
        args.output.display(),
        module.len(),
        for_terminal(&meta.revision),
        meta.serial,
        bundle.len(),
    )];
    if let Some(dir) = &args.oci {
        let image = crate::package::oci::write_layout(dir, &module, &args.tag, created.as_deref())?;
        summary.push(format!(
            "wrote the OCI image layout {} (tag `{}`, manifest {})",
            dir.display(),
            args.tag,
            image.manifest_digest
        ));
    }
    Ok(Packaged { sha256, summary })
}

/// What `gatehouse envoy-config` prints (see [`crate::envoy`]).
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
    #[arg(long, default_value_t = crate::envoy::JWT_CACHE_SIZE)]
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
/// generator's own settings ([`crate::envoy`]), named and described for the command line.
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
    /// Output syntax.
    Format => crate::envoy::Format {
        /// YAML with the settings' explanations as comments.
        Yaml,
        /// JSON (Envoy reads it from a file ending in `.json`).
        Json,
    }
    /// What the floor filter does in `on_http_request_headers` (its plugin configuration).
    FloorMode => crate::envoy::FloorMode {
        /// Returns `Continue`.
        Empty,
        /// Reads the request headers once and sets three headers the size of Gatehouse's
        /// identity headers.
        Headers,
    }
    /// What Envoy does to the path before routing (and so before the filter sees it).
    PathHandling => crate::envoy::PathHandling {
        /// Normalised, `//` merged, encoded slashes refused with 400: what Gatehouse generates.
        Strict,
        /// Istio's default (`pathNormalization: BASE`): normalised, slashes not merged, escaped
        /// slashes kept.
        Istio,
        /// Envoy's path handling off: the filter sees every path exactly as sent.
        Raw,
    }
    /// `headers_with_underscores_action`.
    Underscores => crate::envoy::Underscores {
        /// `REJECT_REQUEST`: what Gatehouse generates.
        Reject,
        /// `ALLOW`: Envoy's and Istio's default.
        Allow,
    }
}

/// `gatehouse envoy-config`: the Envoy configuration `--kind` names, from [`crate::envoy`].
pub fn envoy_config(args: &EnvoyConfigArgs) -> Result<String> {
    use crate::envoy::{self, Addr, Ecds, Filter, Options, Upstream};
    for key in &args.trusted_keys {
        decode_public_key(key)?;
    }
    let addr = |text: &str| text.parse::<Addr>().map_err(|e| anyhow!("{e}"));
    let options = Options {
        listen: addr(&args.listen)?,
        admin: addr(&args.admin)?,
        upstream: match &args.upstream {
            Some(upstream) => Upstream::Cluster(addr(upstream)?),
            None => Upstream::Direct,
        },
        header_routes: Vec::new(),
        paths: args.paths.into(),
        underscores: args.headers_with_underscores.into(),
    };
    let kind = args.kind;
    let needs = |flag: &str| anyhow!("`--kind {}` needs `--{flag}`", kind_name(kind));
    let bundle = || -> Result<(&Path, Vec<u8>)> {
        let path = args.bundle.as_deref().ok_or_else(|| needs("bundle"))?;
        let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
        Ok((path, bytes))
    };
    let filter = |wasm: PathBuf| Filter {
        wasm,
        trusted_keys: args.trusted_keys.clone(),
        allow_rollback: args.allow_rollback,
        fixed_now: None,
        panic_path: None,
        token_cache_entries: args.token_cache_entries,
    };
    let wasm = || args.wasm.clone().ok_or_else(|| needs("wasm"));
    let config = match kind {
        EnvoyConfigKind::Static => {
            // A static configuration has no later update to fix a bad bundle with: refuse it now.
            let (source, bytes) = if args.embedded {
                let wasm = wasm()?;
                let module = std::fs::read(&wasm)
                    .with_context(|| format!("reading `{}`", wasm.display()))?;
                let embedded = crate::package::embedded(&module)
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
            Engine::load(bytes.clone(), &gatehouse_engine::LoadOptions::default())
                .map_err(|e| anyhow!("`{}`: {e}", source.display()))?;
            let inline: &[u8] = if args.embedded { &[] } else { &bytes };
            let wasm = wasm()?;
            let wasm = std::path::absolute(&wasm).unwrap_or(wasm);
            envoy::static_bootstrap(&options, &filter(wasm), inline)
        }
        EnvoyConfigKind::EcdsBootstrap => {
            envoy::ecds_bootstrap(&options, &Ecds::file(&args.ecds_path))
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
            let wasm = wasm()?;
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

fn kind_name(kind: EnvoyConfigKind) -> String {
    clap::ValueEnum::to_possible_value(&kind)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90").unwrap(), 90);
        assert_eq!(parse_duration("15m").unwrap(), 900);
        assert_eq!(parse_duration("1h").unwrap(), 3600);
        assert_eq!(parse_duration("7d").unwrap(), 604_800);
        assert!(parse_duration("1w").is_err());
        assert!(parse_duration("h").is_err());
    }

    #[test]
    fn default_serials() {
        assert_eq!(default_serial(None, 1_795_867_200).unwrap(), 1_795_867_200);
        assert_eq!(default_serial(Some(""), 42).unwrap(), 42);
        assert_eq!(
            default_serial(Some("1700000000"), 42).unwrap(),
            1_700_000_000
        );
        assert!(default_serial(Some("yesterday"), 42).is_err());
        assert!(default_serial(Some("-1"), 42).is_err());
        assert!(default_serial(None, -1).is_err());
    }

    #[test]
    fn times() {
        assert_eq!(parse_time("1970-01-01T00:01:00Z").unwrap(), 60);
        assert!(parse_time("yesterday").is_err());
    }

    #[test]
    fn mint_count_gives_distinct_tokens_that_differ_only_by_jti() {
        let args = MintArgs {
            key: Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples/acme/keys/okta.private.jwk.json"),
            issuer: "https://acme.okta.com/oauth2/default".into(),
            tenant: None,
            sub: "00u-carol".into(),
            ttl: "1h".into(),
            jti: Some("bench".into()),
            aud: vec!["api://gateway".into()],
            claims: vec!["email=carol@acme.com".into()],
            now: Some("2026-12-01T00:00:00Z".into()),
            count: Some(3),
            out: None,
        };
        let payload = |token: &str| -> Value {
            let part = token.split('.').nth(1).unwrap();
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        };
        let text = mint(&args).unwrap();
        assert!(text.ends_with('\n'));
        let tokens: Vec<&str> = text.lines().collect();
        assert_eq!(tokens.len(), 3);
        let mut claims: Vec<Value> = tokens.iter().map(|t| payload(t)).collect();
        for (n, claim) in claims.iter_mut().enumerate() {
            assert_eq!(claim["jti"], format!("bench-{}", n + 1));
            assert_eq!(claim["email"], "carol@acme.com");
            claim.as_object_mut().unwrap().remove("jti");
        }
        assert!(claims.iter().all(|c| *c == claims[0]));
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(tokens[0].split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "RS256");
        // One token without --count, the --jti as given.
        let one = mint(&MintArgs {
            count: None,
            ..args
        })
        .unwrap();
        assert_eq!(one.lines().count(), 1);
        assert_eq!(payload(one.trim_end())["jti"], "bench");
    }

    #[test]
    fn public_keys() {
        let key = STANDARD.encode([7u8; 32]);
        assert_eq!(decode_public_key(&key).unwrap(), [7u8; 32]);
        assert!(decode_public_key("AAAA").is_err());
    }
}
