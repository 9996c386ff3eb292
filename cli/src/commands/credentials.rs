//! `gatehouse credentials`: API keys recorded in the policy directory (docs/credentials.md).

use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand, ValueEnum};
use gatehouse_compiler::time::{parse_duration, parse_time};
use gatehouse_deploy::credentials::{
    self, CreateRequest, Expiry, Issued, KeyInfo, OutputFormat, PolicyDir, Principal, Revoked,
};
use gatehouse_engine::escape::for_terminal;
use gatehouse_review::Exit;

use super::{negative_if, now};

#[derive(Debug, Subcommand)]
pub enum CredentialsCommand {
    /// Issue an API key for a user or a virtual account and record its id and hash in the
    /// tenant's credentials file. The key is printed once, on stdout; nothing else keeps it.
    /// Exit 0 when issued, 1 when refused (unknown tenant, principal or scope; a past expiry)
    /// with nothing written.
    Create(CreateArgs),
    /// Replace a key: a new key for the same principal, scopes and description; the old one
    /// keeps working until the end of the grace period (or its own expiry, if sooner). Exit 0
    /// when rotated, 1 on an error (unknown id, a revoked or already rotated key).
    Rotate(RotateArgs),
    /// Revoke a key: refused from the next bundle on. Exit 0 when revoked or already revoked,
    /// 1 on an error (unknown id).
    Revoke(RevokeArgs),
    /// List keys: id, tenant, principal, scopes, created, expires and state (active, expired,
    /// revoked, rotating). Never secrets. Exit 0, or 1 on an error.
    List(ListArgs),
    /// Keys not revoked that expire within a duration. Exit 2 when there are any, 0 when none,
    /// 1 on an error: for cron jobs and CI alerts.
    Expiring(ExpiringArgs),
}

/// The policy directory and the gateway it is compiled with.
#[derive(Debug, Args)]
pub struct PolicyArgs {
    /// The policy directory: tenant files and their `*.credentials.json` files.
    #[arg(long)]
    pub policy: PathBuf,
    /// Gateway file the bundle is compiled with (built-in routes when omitted).
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// Act as if it were this time (RFC 3339) instead of now.
    #[arg(long, hide = true)]
    pub now: Option<String>,
}

impl PolicyArgs {
    fn dir(&self) -> PolicyDir {
        PolicyDir {
            dir: self.policy.clone(),
            gateway: self.gateway.clone(),
        }
    }
}

/// How the new key is printed.
#[derive(Debug, Args)]
pub struct OutputArgs {
    /// `plain` (the key), `env` (`NAME=<key>`), `json` or `kubernetes-secret` (a Secret
    /// manifest).
    #[arg(long, value_enum, default_value = "plain")]
    pub format: Format,
    /// The variable (`env`, default GATEHOUSE_API_KEY) or the Secret's name
    /// (`kubernetes-secret`, default `gatehouse-<tenant>-<principal>`).
    #[arg(long)]
    pub secret_name: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Plain,
    Env,
    Json,
    KubernetesSecret,
}

impl From<Format> for OutputFormat {
    fn from(format: Format) -> OutputFormat {
        match format {
            Format::Plain => OutputFormat::Plain,
            Format::Env => OutputFormat::Env,
            Format::Json => OutputFormat::Json,
            Format::KubernetesSecret => OutputFormat::KubernetesSecret,
        }
    }
}

/// `--expires` / `--expires-at`.
#[derive(Debug, Args)]
pub struct ExpiryArgs {
    /// Expire this long after now (`90s`, `15m`, `24h`, `90d`).
    #[arg(long, conflicts_with = "expires_at")]
    pub expires: Option<String>,
    /// Expire at this time (RFC 3339).
    #[arg(long)]
    pub expires_at: Option<String>,
}

impl ExpiryArgs {
    fn expiry(&self) -> Result<Expiry> {
        Ok(match (&self.expires, &self.expires_at) {
            (Some(d), _) => Expiry::In(parse_duration(d)?),
            (None, Some(t)) => Expiry::At(parse_time(t)?),
            (None, None) => Expiry::None,
        })
    }
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The tenant (`tenant.name`).
    #[arg(long)]
    pub tenant: String,
    /// The virtual account the key acts as.
    #[arg(long, conflicts_with = "user", required_unless_present = "user")]
    pub virtual_account: Option<String>,
    /// The user (email, any case) the key acts as.
    #[arg(long)]
    pub user: Option<String>,
    #[command(flatten)]
    pub expiry: ExpiryArgs,
    /// Narrow the key: `type:path`, `type:prefix/*` or `type:*`, optionally `:action`.
    /// Repeatable; none: the principal's whole access.
    #[arg(long = "scope")]
    pub scopes: Vec<String>,
    /// What the key is for.
    #[arg(long)]
    pub description: Option<String>,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RotateArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The key's id (16 hex digits).
    #[arg(long)]
    pub id: String,
    /// Only look in this tenant's keys.
    #[arg(long)]
    pub tenant: Option<String>,
    /// How long the old key keeps working (`15m`, `24h`, `7d`).
    #[arg(long)]
    pub grace: String,
    /// The new key's expiry (default: as long a lifetime as the old key had; none if it had
    /// none).
    #[command(flatten)]
    pub expiry: ExpiryArgs,
    #[command(flatten)]
    pub output: OutputArgs,
}

#[derive(Debug, Args)]
pub struct RevokeArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// The key's id (16 hex digits).
    #[arg(long)]
    pub id: String,
    /// Only look in this tenant's keys.
    #[arg(long)]
    pub tenant: Option<String>,
}

#[derive(Debug, Args)]
pub struct ListArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// Only this tenant's keys.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExpiringArgs {
    #[command(flatten)]
    pub policy: PolicyArgs,
    /// How far ahead to look (`24h`, `14d`).
    #[arg(long)]
    pub within: String,
    /// Only this tenant's keys.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

/// `gatehouse credentials ...`.
pub fn run(command: CredentialsCommand) -> Result<ExitCode> {
    match command {
        CredentialsCommand::Create(args) => create(&args),
        CredentialsCommand::Rotate(args) => rotate(&args),
        CredentialsCommand::Revoke(args) => revoke(&args),
        CredentialsCommand::List(args) => list(&args),
        CredentialsCommand::Expiring(args) => expiring(&args),
    }
}

/// A library error as the CLI reports it: compile diagnostics one per line on stderr, then the
/// summary as the error.
fn reported<T>(result: Result<T, credentials::Error>) -> Result<T> {
    result.map_err(|err| match err {
        credentials::Error::Compile {
            summary,
            diagnostics,
        } => {
            for d in &diagnostics {
                eprintln!("{d}");
            }
            anyhow!("{summary}")
        }
        other => other.into(),
    })
}

fn random(buf: &mut [u8]) -> Result<(), getrandom::Error> {
    getrandom::getrandom(buf)
}

fn create(args: &CreateArgs) -> Result<ExitCode> {
    credentials::check_output(
        args.output.format.into(),
        args.output.secret_name.as_deref(),
    )?;
    let principal = match (&args.virtual_account, &args.user) {
        (Some(name), _) => Principal::VirtualAccount(name.clone()),
        (None, Some(email)) => Principal::User(email.clone()),
        (None, None) => return Err(anyhow!("give --virtual-account or --user")),
    };
    let request = CreateRequest {
        tenant: args.tenant.clone(),
        principal,
        expiry: args.expiry.expiry()?,
        scopes: args.scopes.clone(),
        description: args.description.clone(),
        now: now(args.policy.now.as_deref())?,
    };
    let issued = reported(args.policy.dir().create(&request, random))?;
    print_key(&issued, &args.output, "issued")
}

fn rotate(args: &RotateArgs) -> Result<ExitCode> {
    credentials::check_output(
        args.output.format.into(),
        args.output.secret_name.as_deref(),
    )?;
    let grace = parse_duration(&args.grace)?;
    let issued = reported(args.policy.dir().rotate(
        &args.id,
        args.tenant.as_deref(),
        grace,
        args.expiry.expiry()?,
        now(args.policy.now.as_deref())?,
        random,
    ))?;
    if let Some(until) = &issued.old_expires {
        eprintln!("API key {} keeps working until {until}", args.id);
    }
    print_key(&issued, &args.output, "issued (replacing the old one)")
}

/// The key on stdout, what was done on stderr.
fn print_key(issued: &Issued, output: &OutputArgs, what: &str) -> Result<ExitCode> {
    let text =
        credentials::render_key(issued, output.format.into(), output.secret_name.as_deref())?;
    eprintln!(
        "API key {} {what} for {} of tenant {}{}; recorded in {}",
        issued.key.id,
        for_terminal(issued.record.principal.as_str()),
        for_terminal(&issued.tenant),
        issued
            .record
            .expires
            .as_ref()
            .map(|e| format!(", expires {}", e.as_str()))
            .unwrap_or_default(),
        issued.path.display()
    );
    for warning in &issued.warnings {
        eprintln!("warning: {}", for_terminal(warning));
    }
    eprintln!("compile and push the bundle for it to take effect; the key is shown only once");
    let mut stdout = std::io::stdout().lock();
    stdout
        .write_all(text.as_bytes())
        .and_then(|()| stdout.flush())
        .context("writing the key to stdout")?;
    Ok(Exit::Success.into())
}

fn revoke(args: &RevokeArgs) -> Result<ExitCode> {
    let now = now(args.policy.now.as_deref())?;
    match args
        .policy
        .dir()
        .revoke(&args.id, args.tenant.as_deref(), now)?
    {
        Revoked::Now { at, tenant, path } => {
            eprintln!(
                "API key {} of tenant {} revoked at {at}; recorded in {}",
                args.id,
                for_terminal(&tenant),
                path.display()
            );
            eprintln!("compile and push the bundle for it to take effect");
        }
        Revoked::Already { at, tenant, path } => eprintln!(
            "API key {} of tenant {} was already revoked at {at}; {} unchanged",
            args.id,
            for_terminal(&tenant),
            path.display()
        ),
    }
    Ok(Exit::Success.into())
}

fn list(args: &ListArgs) -> Result<ExitCode> {
    let now = now(args.policy.now.as_deref())?;
    let keys = args.policy.dir().list(args.tenant.as_deref(), now)?;
    print_keys(&keys, args.json)?;
    Ok(Exit::Success.into())
}

fn expiring(args: &ExpiringArgs) -> Result<ExitCode> {
    let now = now(args.policy.now.as_deref())?;
    let within = parse_duration(&args.within)?;
    let keys = args
        .policy
        .dir()
        .expiring(within, args.tenant.as_deref(), now)?;
    print_keys(&keys, args.json)?;
    if !args.json {
        eprintln!(
            "{} key(s) expire by {}",
            keys.len(),
            credentials::format_time(now.saturating_add(within))
        );
    }
    Ok(negative_if(!keys.is_empty()))
}

fn print_keys(keys: &[KeyInfo], json: bool) -> Result<()> {
    let mut stdout = std::io::stdout().lock();
    if json {
        let value = serde_json::json!({
            "keys": keys.iter().map(KeyInfo::to_json).collect::<Vec<_>>(),
        });
        writeln!(stdout, "{value:#}")?;
        return Ok(());
    }
    if keys.is_empty() {
        writeln!(stdout, "no API keys")?;
        return Ok(());
    }
    let rows: Vec<[String; 7]> = keys
        .iter()
        .map(|k| {
            [
                k.id.clone(),
                for_terminal(&k.tenant).into_owned(),
                k.state.name().to_owned(),
                for_terminal(&k.principal).into_owned(),
                k.created.clone(),
                k.expires.clone().unwrap_or_else(|| "-".to_owned()),
                if k.scopes.is_empty() {
                    "*".to_owned()
                } else {
                    for_terminal(&k.scopes.join(",")).into_owned()
                },
            ]
        })
        .collect();
    let header = [
        "ID",
        "TENANT",
        "STATE",
        "PRINCIPAL",
        "CREATED",
        "EXPIRES",
        "SCOPES",
    ];
    let mut widths = header.map(str::len);
    for row in &rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(cell.chars().count());
        }
    }
    let line = |cells: &[&str]| {
        let mut out = String::new();
        for (i, (cell, w)) in cells.iter().zip(widths).enumerate() {
            if i + 1 == cells.len() {
                out.push_str(cell);
            } else {
                out.push_str(&format!("{cell:<w$}  "));
            }
        }
        out
    };
    writeln!(stdout, "{}", line(&header))?;
    for row in &rows {
        let cells: Vec<&str> = row.iter().map(String::as_str).collect();
        writeln!(stdout, "{}", line(&cells))?;
    }
    Ok(())
}
