//! `gatehouse`: compile, check, inspect, keys, tokens and Envoy configuration.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::{Args, Parser, Subcommand};
use gatehouse_compiler::{analysis, cli, compile_paths, CompileError, CompileOptions};
use gatehouse_engine::escape::for_terminal;
use gatehouse_engine::{Engine, LoadOptions};

/// Gatehouse: multi-tenant IAM policy for Envoy, compiled into a signed bundle.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile tenant files (and a gateway file) into a policy bundle.
    Compile(CompileArgs),
    /// Decide one request offline, exactly as the Envoy filter would.
    Check(CheckArgs),
    /// Every principal allowed an action on a resource, with its grant; and those a grant
    /// reaches but narrowing stops, with the reason.
    WhoCan(WhoCanArgs),
    /// Every (resource, action) a principal may perform, with the grant.
    WhatCan(WhatCanArgs),
    /// Every (principal, resource, action) whose decision differs between two policies,
    /// grouped by the source changes that cause it.
    Diff(DiffArgs),
    /// Run policy tests: request and access expectations (docs/analysis.md). Exit 0 when
    /// every case passes, 2 when one fails, 1 on an error.
    Test(TestArgs),
    /// Describe a bundle.
    Inspect(InspectArgs),
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Token tools.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Print an Envoy configuration that runs gatehouse.wasm with a bundle.
    EnvoyConfig(cli::EnvoyConfigArgs),
    /// Embed a bundle in gatehouse.wasm (used when the plugin configuration carries none);
    /// prints the module's SHA-256. `--oci` also writes an OCI image layout for Istio.
    Package(cli::PackageArgs),
    /// Write a synthetic tenant file for benchmarks (deterministic from the seed). Only in a
    /// binary built with the `test-support` feature (docs/benchmarks.md).
    #[cfg(feature = "test-support")]
    #[command(hide = true)]
    Synth(SynthArgs),
}

#[cfg(feature = "test-support")]
#[derive(Debug, Args)]
struct SynthArgs {
    #[arg(long, default_value = "synth")]
    name: String,
    #[arg(long, default_value_t = 1_000)]
    users: usize,
    #[arg(long, default_value_t = 100)]
    teams: usize,
    #[arg(long, default_value_t = 10_000)]
    grants: usize,
    #[arg(long, default_value_t = 1)]
    seed: u64,
    #[arg(short, long)]
    output: PathBuf,
}

#[derive(Debug, Args)]
struct CompileArgs {
    /// Gateway file (routes, token sources, mode). Built-in routes when omitted.
    #[arg(long)]
    gateway: Option<PathBuf>,
    /// Tenant files, or directories of them (*.yaml, *.yml, *.json).
    #[arg(required = true)]
    inputs: Vec<PathBuf>,
    /// Where to write the bundle.
    #[arg(short, long)]
    output: PathBuf,
    /// Ed25519 private JWK (from `gatehouse keys generate --alg EdDSA`) that signs the bundle.
    #[arg(long)]
    sign_key: Option<PathBuf>,
    /// Revision string recorded in the bundle (default: derived from the inputs).
    #[arg(long)]
    revision: Option<String>,
    /// Monotonic serial recorded in the bundle; a running filter refuses a bundle whose serial
    /// is lower than the one in service (default: SOURCE_DATE_EPOCH, else the current Unix
    /// time in seconds).
    #[arg(long)]
    serial: Option<u64>,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[arg(long)]
    bundle: PathBuf,
    #[arg(long)]
    method: String,
    /// Request path, with its query string if any.
    #[arg(long)]
    path: String,
    /// Host (`:authority`). Defaults to the host of a lone tenant.
    #[arg(long)]
    host: Option<String>,
    /// Extra request header, `name: value`. Repeatable.
    #[arg(short = 'H', long = "header")]
    headers: Vec<String>,
    /// Bearer token, sent as `Authorization: Bearer <token>`.
    #[arg(long, conflicts_with_all = ["token_file", "as_subject"])]
    token: Option<String>,
    #[arg(long, conflicts_with = "as_subject")]
    token_file: Option<PathBuf>,
    /// Skip the token and decide for this subject (`user:<email>`, `virtualaccount:<name>`).
    #[arg(long = "as")]
    as_subject: Option<String>,
    /// Request body (JSON text).
    #[arg(long, conflicts_with = "body_file")]
    body: Option<String>,
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Send a body without the default `content-type: application/json` (when no `-H` names one).
    #[arg(long)]
    no_content_type: bool,
    /// Decide at this time (RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    json: bool,
    /// Ed25519 public keys (base64) the bundle must be signed by, as in the filter's VM config.
    /// Write `--trusted-key=KEY` when a url-safe key starts with `-`.
    #[arg(long = "trusted-key")]
    trusted_keys: Vec<String>,
}

/// Where an analysis command's policy comes from.
#[derive(Debug, Args)]
struct SourceArgs {
    /// The bundle to analyse.
    #[arg(long, conflicts_with_all = ["gateway", "inputs"])]
    bundle: Option<PathBuf>,
    /// Gateway file, when compiling tenant files on the fly.
    #[arg(long)]
    gateway: Option<PathBuf>,
    /// Tenant files or directories, compiled on the fly (instead of --bundle).
    inputs: Vec<PathBuf>,
    /// The tenant to ask about, when the bundle holds several.
    #[arg(long)]
    tenant: Option<String>,
    /// Decide at this time (RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Print one JSON document.
    #[arg(long)]
    json: bool,
}

impl SourceArgs {
    fn engine(&self) -> Result<Engine> {
        analysis::PolicySource {
            bundle: self.bundle.clone(),
            gateway: self.gateway.clone(),
            inputs: self.inputs.clone(),
        }
        .load()
    }

    fn now(&self) -> Result<i64> {
        match &self.now {
            Some(text) => cli::parse_time(text),
            None => Ok(cli::now()),
        }
    }
}

#[derive(Debug, Args)]
struct WhoCanArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// `TYPE:PATH`, e.g. `model:openai-main/gpt-4o`.
    #[arg(long)]
    resource: String,
    #[arg(long)]
    action: String,
}

#[derive(Debug, Args)]
struct WhatCanArgs {
    #[command(flatten)]
    source: SourceArgs,
    /// `user:<email>` or `virtualaccount:<name>`.
    #[arg(long = "as")]
    subject: String,
    /// Only resources of this type.
    #[arg(long = "type")]
    resource_type: Option<String>,
    /// Only this action.
    #[arg(long)]
    action: Option<String>,
}

#[derive(Debug, Args)]
struct DiffArgs {
    /// The policy before: a bundle, or a tenant file or directory.
    old: PathBuf,
    /// The policy after.
    new: PathBuf,
    /// Gateway file for OLD and NEW when they are tenant files.
    #[arg(long)]
    gateway: Option<PathBuf>,
    /// Only this tenant.
    #[arg(long)]
    tenant: Option<String>,
    /// Decide at this time (RFC 3339) instead of now.
    #[arg(long)]
    now: Option<String>,
    /// Print one JSON document.
    #[arg(long, conflicts_with = "markdown")]
    json: bool,
    /// Print Markdown for a pull-request comment.
    #[arg(long)]
    markdown: bool,
    /// Groups with more changes than this are summarised (counts, no rows) in --json.
    #[arg(long, default_value_t = 10_000)]
    max_rows: usize,
    /// Rows shown per group in the text and Markdown reports.
    #[arg(long, default_value_t = 10)]
    show: usize,
}

/// The policy under test is a bundle (`--bundle`) or tenant files compiled on the fly
/// (`--policy`, repeatable, with `--gateway`): the positional arguments are the test files.
#[derive(Debug, Args)]
struct TestArgs {
    /// A compiled bundle.
    #[arg(long, conflicts_with_all = ["gateway", "policy"], required_unless_present = "policy")]
    bundle: Option<PathBuf>,
    /// Gateway file of the policy compiled from `--policy` (built-in routes when omitted).
    #[arg(long)]
    gateway: Option<PathBuf>,
    /// A tenant file, or a directory of them, compiled as `gatehouse compile` does. Repeatable.
    #[arg(long = "policy", value_name = "TENANT_FILE_OR_DIR")]
    policy: Vec<PathBuf>,
    /// Test files, or directories of them (*.yaml, *.yml, *.json).
    #[arg(required = true, value_name = "TESTS")]
    tests: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long)]
    junit: Option<PathBuf>,
    /// The tenant of test files that name none (default: the bundle's only tenant).
    #[arg(long)]
    tenant: Option<String>,
    /// The clock (RFC 3339) of cases and files that give none (default: now).
    #[arg(long)]
    now: Option<String>,
    /// Print one JSON document with every result.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Args)]
struct InspectArgs {
    bundle: PathBuf,
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum KeysCommand {
    /// Generate a key pair: a private JWK and a public JWK Set.
    Generate {
        #[arg(long)]
        alg: String,
        /// Directory to write `private.jwk.json` and `jwks.json` into.
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Mint a control-plane token signed with a private JWK.
    Mint(cli::MintArgs),
}

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error: 2 means "deny" to scripts calling `check`.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                cli::Exit::Error.into()
            } else {
                cli::Exit::Success.into()
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // Errors quote names from tenant and test files: shown escaped (SPEC 5.2). The
            // diagnostics are escaped already; escaping again changes nothing.
            match err.downcast_ref::<cli::Located>() {
                Some(located) => {
                    for d in &located.diagnostics {
                        eprintln!("{}", for_terminal(d));
                    }
                    eprintln!("error: {}", for_terminal(&located.summary));
                }
                None => eprintln!("error: {}", for_terminal(&format!("{err:#}"))),
            }
            cli::Exit::Error.into()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Compile(args) => compile(args),
        Command::Check(args) => check(args),
        Command::WhoCan(args) => who_can(args),
        Command::WhatCan(args) => what_can(args),
        Command::Diff(args) => diff(args),
        Command::Test(args) => test(args),
        Command::Inspect(args) => {
            let engine = load(&args.bundle, &[])?;
            print!("{}", cli::inspect(&engine, args.json)?);
            Ok(cli::Exit::Success.into())
        }
        Command::Keys {
            command: KeysCommand::Generate { alg, out },
        } => {
            let written = cli::generate_keys(&alg, &out)?;
            for line in written {
                println!("{line}");
            }
            Ok(cli::Exit::Success.into())
        }
        Command::Token {
            command: TokenCommand::Mint(args),
        } => {
            let tokens = cli::mint(&args)?;
            match &args.out {
                Some(path) => std::fs::write(path, tokens)
                    .with_context(|| format!("writing `{}`", path.display()))?,
                None => print!("{tokens}"),
            }
            Ok(cli::Exit::Success.into())
        }
        #[cfg(feature = "test-support")]
        Command::Synth(args) => {
            let size = gatehouse_compiler::synth::Size {
                users: args.users,
                teams: args.teams,
                grants: args.grants,
            };
            let text = gatehouse_compiler::synth::tenant_json(&args.name, size, args.seed);
            std::fs::write(&args.output, text)
                .with_context(|| format!("writing `{}`", args.output.display()))?;
            Ok(cli::Exit::Success.into())
        }
        Command::Package(args) => {
            let packaged = cli::package(&args, std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
            for line in &packaged.summary {
                eprintln!("{line}");
            }
            println!("{}", packaged.sha256);
            Ok(cli::Exit::Success.into())
        }
        Command::EnvoyConfig(args) => {
            print!("{}", cli::envoy_config(&args)?);
            Ok(cli::Exit::Success.into())
        }
    }
}

fn compile(args: CompileArgs) -> Result<ExitCode> {
    let serial = match args.serial {
        Some(serial) => serial,
        None => cli::default_serial(
            std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
            cli::now(),
        )?,
    };
    let options = CompileOptions {
        gateway: args.gateway,
        inputs: args.inputs,
        revision: args.revision,
        serial,
    };
    let policy = match compile_paths(&options) {
        Ok(policy) => policy,
        Err(CompileError::Invalid(diagnostics)) => {
            let mut stderr = std::io::stderr().lock();
            for d in &diagnostics {
                let _ = writeln!(stderr, "{d}");
            }
            bail!("{} error(s); no bundle written", diagnostics.len());
        }
        Err(err) => return Err(err.into()),
    };
    let signing_key = args
        .sign_key
        .as_deref()
        .map(cli::read_signing_key)
        .transpose()?;
    let bytes = gatehouse_engine::bundle::encode(&policy, signing_key.as_ref())
        .map_err(|e| anyhow!("{e}"))?;
    std::fs::write(&args.output, &bytes)
        .with_context(|| format!("writing `{}`", args.output.display()))?;
    let grants: usize = policy.tenants.iter().map(|t| t.grants.len()).sum();
    eprintln!(
        "wrote {} ({} bytes, {} tenant(s), {} grant(s), revision {}, serial {}{})",
        args.output.display(),
        bytes.len(),
        policy.tenants.len(),
        grants,
        gatehouse_engine::escape::for_terminal(&policy.revision),
        policy.serial,
        if signing_key.is_some() {
            ", signed"
        } else {
            ""
        }
    );
    Ok(cli::Exit::Success.into())
}

fn load(path: &Path, trusted_keys: &[String]) -> Result<Engine> {
    let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
    let options = LoadOptions {
        trusted_keys: trusted_keys
            .iter()
            .map(|k| cli::decode_public_key(k))
            .collect::<Result<_>>()?,
    };
    Engine::load(bytes, &options).map_err(|e| anyhow!("`{}`: {e}", path.display()))
}

fn check(args: CheckArgs) -> Result<ExitCode> {
    let engine = load(&args.bundle, &args.trusted_keys)?;
    let now = match &args.now {
        Some(text) => cli::parse_time(text)?,
        None => cli::now(),
    };
    let token = match (&args.token, &args.token_file) {
        (Some(t), _) => Some(t.trim().to_owned()),
        (None, Some(f)) => Some(
            std::fs::read_to_string(f)
                .with_context(|| format!("reading `{}`", f.display()))?
                .trim()
                .to_owned(),
        ),
        (None, None) => None,
    };
    let mut headers = Vec::new();
    for h in &args.headers {
        let (name, value) = h
            .split_once(':')
            .ok_or_else(|| anyhow!("header `{h}` is not `name: value`"))?;
        headers.push((name.trim().to_owned(), value.trim().to_owned()));
    }
    let body = match (&args.body, &args.body_file) {
        (Some(b), _) => Some(b.clone().into_bytes()),
        (None, Some(f)) => {
            Some(std::fs::read(f).with_context(|| format!("reading `{}`", f.display()))?)
        }
        (None, None) => None,
    };
    let request = cli::CheckRequest {
        method: args.method,
        path: args.path,
        host: args.host,
        headers,
        token,
        as_subject: args.as_subject,
        body,
        no_content_type: args.no_content_type,
    };
    let checked = cli::check(&engine, &request, now)?;
    print!(
        "{}",
        cli::render_outcome(&checked.outcome, &checked.explanation, args.json)
    );
    Ok(if checked.outcome.decision.is_allow() {
        cli::Exit::Success
    } else {
        cli::Exit::Negative
    }
    .into())
}

fn who_can(args: WhoCanArgs) -> Result<ExitCode> {
    let engine = args.source.engine()?;
    let now = args.source.now()?;
    let (a, who) = analysis::who_can(
        &engine,
        args.source.tenant.as_deref(),
        &args.resource,
        &args.action,
        now,
    )?;
    if args.source.json {
        println!("{:#}", analysis::who_can_json(&a, &who));
    } else {
        print!("{}", analysis::who_can_text(&a, &who));
    }
    Ok(negative_if(who.allowed.is_empty()))
}

fn what_can(args: WhatCanArgs) -> Result<ExitCode> {
    let engine = args.source.engine()?;
    let now = args.source.now()?;
    let (a, what) = analysis::what_can(
        &engine,
        args.source.tenant.as_deref(),
        &args.subject,
        args.resource_type.as_deref(),
        args.action.as_deref(),
        now,
    )?;
    if args.source.json {
        println!("{}", analysis::what_can_json(&a, &what));
    } else {
        print!("{}", analysis::what_can_text(&a, &what));
    }
    Ok(negative_if(what.allowed.is_empty()))
}

fn diff(args: DiffArgs) -> Result<ExitCode> {
    let now = match &args.now {
        Some(text) => cli::parse_time(text)?,
        None => cli::now(),
    };
    let gateway = args.gateway.as_deref();
    let old = analysis::PolicySource::path(&args.old, gateway).load()?;
    let new = analysis::PolicySource::path(&args.new, gateway).load()?;
    let mut diff = gatehouse_engine::analysis::Diff::new(&old, &new, now);
    if let Some(tenant) = &args.tenant {
        if !diff.tenants.iter().any(|t| &t.tenant == tenant) {
            bail!("neither policy has a tenant `{tenant}`");
        }
        diff.tenants.retain(|t| &t.tenant == tenant);
    }
    let limits = analysis::DiffLimits {
        max_rows: args.max_rows,
        shown: args.show,
    };
    if args.json {
        println!("{:#}", analysis::diff_json(&diff, limits));
    } else if args.markdown {
        print!("{}", analysis::diff_markdown(&diff, limits));
    } else {
        print!("{}", analysis::diff_text(&diff, limits));
    }
    Ok(negative_if(diff.count() > 0))
}

fn test(args: TestArgs) -> Result<ExitCode> {
    use gatehouse_compiler::testing;
    // The test files first: a bad one is reported without compiling anything.
    let files = testing::load(&args.tests)?;
    let engine = match &args.bundle {
        Some(bundle) => load(bundle, &[])?,
        None => analysis::PolicySource {
            bundle: None,
            gateway: args.gateway,
            inputs: args.policy,
        }
        .load()?,
    };
    let options = testing::RunOptions {
        tenant: args.tenant,
        now: args.now.as_deref().map(cli::parse_time).transpose()?,
    };
    let report = testing::run(&engine, &files, &options)?;
    if let Some(path) = &args.junit {
        std::fs::write(path, report.junit())
            .with_context(|| format!("writing `{}`", path.display()))?;
    }
    if args.json {
        println!("{:#}", report.json());
    } else {
        print!("{}", report.text());
    }
    Ok(report.exit().into())
}

/// Exit 2 when the answer is negative (nothing allowed, changes found), else 0.
fn negative_if(negative: bool) -> ExitCode {
    if negative {
        cli::Exit::Negative
    } else {
        cli::Exit::Success
    }
    .into()
}
