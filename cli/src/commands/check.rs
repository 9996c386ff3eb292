//! `gatehouse check`: one request decided offline, exactly as the Envoy filter would.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use gatehouse_review::check::{self, CheckRequest};
use gatehouse_review::Exit;

#[derive(Debug, Args)]
pub struct CheckArgs {
    #[arg(long)]
    pub bundle: PathBuf,
    #[arg(long, required_unless_present = "tools_list")]
    pub method: Option<String>,
    /// Request path, with its query string if any. With --tools-list, the MCP endpoint's path
    /// (default: the server's endpoint from the gateway's routes).
    #[arg(long, required_unless_present = "tools_list")]
    pub path: Option<String>,
    /// Host (`:authority`). Defaults to the host of a lone tenant.
    #[arg(long)]
    pub host: Option<String>,
    /// Extra request header, `name: value`. Repeatable.
    #[arg(short = 'H', long = "header")]
    pub headers: Vec<String>,
    /// Bearer token, sent as `Authorization: Bearer <token>`.
    #[arg(long, conflicts_with_all = ["token_file", "as_subject"])]
    pub token: Option<String>,
    #[arg(long, conflicts_with = "as_subject")]
    pub token_file: Option<PathBuf>,
    /// Skip the token and decide for this subject (`user:<email>`, `virtualaccount:<name>`).
    /// With --credential, the key's principal, which it must be.
    #[arg(long = "as")]
    pub as_subject: Option<String>,
    /// Decide as a request presenting the API key of this id (16 hex digits) would be decided:
    /// every check but the secret's (revoked, expired, its principal, its scope).
    #[arg(long, value_parser = super::key_id, conflicts_with_all = ["token", "token_file"])]
    pub credential: Option<gatehouse_engine::credential::KeyId>,
    /// Request body (JSON text).
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    #[arg(long)]
    pub body_file: Option<PathBuf>,
    /// Send a body without the default `content-type: application/json` (when no `-H` names one).
    #[arg(long)]
    pub no_content_type: bool,
    /// Decide at this time (RFC 3339) instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// Print one JSON object.
    #[arg(long)]
    pub json: bool,
    /// Instead of one request: what `tools/list` on this MCP server (`mcp-server:<SERVER>`)
    /// shows the caller, each of the tenant's tools with the decision a `tools/call` of it
    /// gets. Exit 0 when at least one tool is shown.
    #[arg(long, value_name = "SERVER", conflicts_with_all = ["method", "body", "body_file", "no_content_type"])]
    pub tools_list: Option<String>,
    /// Ed25519 public keys (base64) the bundle must be signed by, as in the filter's VM config.
    /// Write `--trusted-key=KEY` when a url-safe key starts with `-`.
    #[arg(long = "trusted-key")]
    pub trusted_keys: Vec<String>,
}

/// `gatehouse check`: exit 0 on allow (and on a metadata document the filter serves), 2 on deny;
/// with --tools-list, 0 when a tool is shown.
pub fn run(args: CheckArgs) -> Result<ExitCode> {
    let engine = super::load(&args.bundle, &args.trusted_keys)?;
    let now = super::now(args.now.as_deref())?;
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
    let request = CheckRequest {
        method: args.method.unwrap_or_default(),
        path: args.path.unwrap_or_default(),
        host: args.host,
        headers,
        token,
        as_subject: args.as_subject,
        credential: args.credential,
        body,
        no_content_type: args.no_content_type,
    };
    if let Some(server) = &args.tools_list {
        let list = check::tools_list(&engine, &request, server, now)?;
        if args.json {
            println!("{}", check::tools_list_json(server, &list));
        } else {
            print!("{}", check::render_tools_list(server, &list));
        }
        return Ok(super::negative_if(list.shown().next().is_none()));
    }
    let checked = check::check(&engine, &request, now)?;
    print!("{}", check::render_checked(&checked, args.json));
    Ok(
        if checked.document.is_some() || checked.outcome.decision.is_allow() {
            Exit::Success
        } else {
            Exit::Negative
        }
        .into(),
    )
}
