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
    /// `user:<email>` or `virtualaccount:<name>`.
    #[arg(long = "as")]
    pub subject: String,
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
    Ok(super::negative_if(what.allowed.is_empty()))
}
