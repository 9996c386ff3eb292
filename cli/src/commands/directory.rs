//! `gatehouse directory`: the provisioning service (`serve`) and its SCIM clients' secrets
//! (`token`). The service itself is `gatehouse_directory`.

use std::io::Write as _;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::{anyhow, bail, Result};
use clap::{Args, Subcommand};
use gatehouse_directory::publish::{EcdsTarget, PublishConfig};
use gatehouse_directory::store::sqlite::SqliteStore;
use gatehouse_directory::{token, Config, Limits};
use gatehouse_review::check::decode_public_key;
use gatehouse_review::Exit;

#[derive(Debug, Subcommand)]
pub enum DirectoryCommand {
    /// Run the SCIM 2.0 provisioning service: `/scim/v2/<tenant>/` for each tenant whose file
    /// says `provisioning: scim`. Every change is committed to the database, written to
    /// `<tenant>.directory.json` in the policy directory, compiled and published.
    Serve(Box<ServeArgs>),
    /// Print a new bearer secret for a tenant's SCIM client (only its SHA-256 is stored); or
    /// list (`--list`) or revoke (`--revoke ID`) them.
    Token(TokenArgs),
}

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The policy directory: tenant files, and the directory files the service writes.
    #[arg(long)]
    pub policy: PathBuf,
    /// The SQLite database (created if missing).
    #[arg(long)]
    pub db: PathBuf,
    /// Address to listen on (`127.0.0.1:0` picks a free port); the service prints
    /// `listening on http://IP:PORT` once it accepts connections.
    #[arg(long)]
    pub listen: String,
    /// Serve `/healthz` and `/metrics` on this address instead, and SCIM alone on `--listen`:
    /// the health endpoint shows compile errors that name tenants and users, so keep it off the
    /// address identity providers reach. The service then also prints
    /// `operator endpoints on http://IP:PORT`.
    #[arg(long)]
    pub admin_listen: Option<String>,
    /// Gateway file compiled with the policy. Built-in routes when omitted.
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// Write each published bundle as this ECDS file (what scripts/push-bundle.sh writes),
    /// atomically.
    #[arg(long, requires = "wasm")]
    pub publish: Option<PathBuf>,
    /// Path of gatehouse.wasm as Envoy sees it, for `--publish`.
    #[arg(long, requires = "publish")]
    pub wasm: Option<PathBuf>,
    /// Pin this bundle signing key (base64 Ed25519) in the ECDS file's VM configuration.
    #[arg(long = "trusted-key", requires = "publish")]
    pub trusted_keys: Vec<String>,
    /// Ed25519 private JWK (`gatehouse keys generate --alg EdDSA`) that signs every bundle.
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
    /// Run after each publish with `sh -c`, with GATEHOUSE_BUNDLE (the bundle's path) and
    /// GATEHOUSE_SERIAL set. Without `--bundle-out` the bundle goes to `<DB>.bundle`.
    #[arg(long)]
    pub on_publish: Option<String>,
    /// Write each published bundle here, atomically.
    #[arg(long)]
    pub bundle_out: Option<PathBuf>,
    /// Wait this long after a change before compiling, so a burst compiles once.
    #[arg(long, default_value_t = 100)]
    pub debounce_ms: u64,
    /// Largest request body accepted (413 above it).
    #[arg(long, default_value_t = 1024 * 1024)]
    pub max_body_bytes: usize,
    /// Requests a second per tenant, on average (429 with Retry-After above it).
    #[arg(long, default_value_t = 100.0)]
    pub rate_limit: f64,
    /// Requests per tenant at once.
    #[arg(long, default_value_t = 200.0)]
    pub rate_burst: f64,
    /// Threads doing SCIM work (database, files) at once.
    #[arg(long, default_value_t = 8)]
    pub workers: usize,
}

#[derive(Debug, Args)]
pub struct TokenArgs {
    /// The SQLite database the service uses.
    #[arg(long)]
    pub db: PathBuf,
    /// The tenant whose SCIM client gets the secret (with `--list`: only its tokens).
    #[arg(long)]
    pub tenant: Option<String>,
    /// List tokens: id, tenant, creation, revocation. Never the secrets.
    #[arg(long, conflicts_with = "revoke")]
    pub list: bool,
    /// Revoke the token with this id.
    #[arg(long)]
    pub revoke: Option<String>,
}

/// `gatehouse directory ...`.
pub fn run(command: DirectoryCommand) -> Result<ExitCode> {
    match command {
        DirectoryCommand::Serve(args) => serve(*args),
        DirectoryCommand::Token(args) => tokens(args),
    }
}

fn serve(args: ServeArgs) -> Result<ExitCode> {
    for key in &args.trusted_keys {
        decode_public_key(key)?;
    }
    let signing_key = args
        .sign_key
        .as_deref()
        .map(gatehouse_deploy::keys::read_signing_key)
        .transpose()?;
    let bundle_out = match (&args.bundle_out, &args.on_publish) {
        (Some(path), _) => Some(path.clone()),
        (None, Some(_)) => Some(args.db.with_extension("bundle")),
        (None, None) => None,
    };
    let ecds = match (args.publish, args.wasm) {
        (Some(path), Some(wasm)) => Some(EcdsTarget {
            path,
            wasm,
            trusted_keys: args.trusted_keys,
        }),
        _ => None,
    };
    let config = Config {
        listen: args.listen,
        admin_listen: args.admin_listen,
        publish: PublishConfig {
            policy_dir: args.policy,
            gateway: args.gateway,
            ecds,
            signing_key,
            bundle_out,
            on_publish: args.on_publish,
            debounce: Duration::from_millis(args.debounce_ms),
        },
        limits: Limits {
            max_body_bytes: args.max_body_bytes,
            rate: args.rate_limit,
            burst: args.rate_burst,
        },
        workers: args.workers,
    };
    let store = SqliteStore::open(&args.db)?;
    let running = gatehouse_directory::start(config, Box::new(store))?;
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "listening on http://{}", running.addr)?;
    if let Some(admin) = running.admin_addr {
        writeln!(stdout, "operator endpoints on http://{admin}")?;
    }
    stdout.flush()?;
    drop(stdout);
    running.wait();
    Ok(Exit::Success.into())
}

fn tokens(args: TokenArgs) -> Result<ExitCode> {
    let mut store = SqliteStore::open(&args.db)?;
    if args.list {
        let mut stdout = std::io::stdout().lock();
        for t in gatehouse_directory::store::Store::tokens(&mut store)? {
            if args
                .tenant
                .as_ref()
                .is_some_and(|tenant| *tenant != t.tenant)
            {
                continue;
            }
            let status = match &t.revoked {
                Some(at) => format!("revoked {at}"),
                None => "active".to_owned(),
            };
            writeln!(
                stdout,
                "{}\t{}\tcreated {}\t{status}",
                t.id, t.tenant, t.created
            )?;
        }
        return Ok(Exit::Success.into());
    }
    if let Some(id) = &args.revoke {
        token::revoke(&mut store, id)?;
        eprintln!("revoked {id}");
        return Ok(Exit::Success.into());
    }
    let Some(tenant) = &args.tenant else {
        bail!("give `--tenant` (or `--list`, `--revoke ID`)");
    };
    if tenant.is_empty() {
        return Err(anyhow!("`--tenant` is empty"));
    }
    let (id, secret) = token::issue(&mut store, tenant)?;
    println!("{secret}");
    eprintln!("token {id} for tenant {tenant}: the secret above is shown once; only its SHA-256 is stored");
    Ok(Exit::Success.into())
}
