//! `gatehouse what-can`: every (resource, action) a principal may perform.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use gatehouse_review::analysis;

use super::SourceArgs;

#[derive(Debug, Args)]
pub struct WhatCanArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// `user:<email>` or `virtualaccount:<name>`. With --credential, the key's principal, which
    /// it must be.
    #[arg(long = "as", required_unless_present = "credential")]
    pub subject: Option<String>,
    /// What a request presenting the API key of this id (16 hex digits) may do: its principal's
    /// access narrowed by the key's scope; nothing if it is revoked or expired.
    #[arg(long, value_parser = super::key_id)]
    pub credential: Option<gatehouse_engine::credential::KeyId>,
    /// Only resources of this type.
    #[arg(long = "type")]
    pub resource_type: Option<String>,
    /// Only this action.
    #[arg(long)]
    pub action: Option<String>,
}

/// `gatehouse what-can`: exit 2 when nothing is allowed.
pub fn run(args: WhatCanArgs) -> Result<ExitCode> {
    let engine = args.source.engine()?;
    let now = args.source.now()?;
    let tenant = args.source.tenant.as_deref();
    let (resource_type, action) = (args.resource_type.as_deref(), args.action.as_deref());
    let (a, what) = match (args.credential, &args.subject) {
        (Some(id), subject) => analysis::what_can_credential(
            &engine,
            tenant,
            subject.as_deref(),
            id,
            resource_type,
            action,
            now,
        )?,
        (None, Some(subject)) => {
            analysis::what_can(&engine, tenant, subject, resource_type, action, now)?
        }
        (None, None) => anyhow::bail!("give --as SUBJECT or --credential ID"),
    };
    if args.source.json {
        println!("{}", analysis::what_can_json(&a, &what));
    } else {
        print!("{}", analysis::what_can_text(&a, &what));
    }
    Ok(super::negative_if(what.allowed.is_empty()))
}
