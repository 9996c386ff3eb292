//! `gatehouse who-can`: every principal allowed an action on a resource, and those a grant
//! reaches but narrowing stops.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use gatehouse_review::analysis;

use super::SourceArgs;

#[derive(Debug, Args)]
pub struct WhoCanArgs {
    #[command(flatten)]
    pub source: SourceArgs,
    /// `TYPE:PATH`, e.g. `model:openai-main/gpt-4o`.
    #[arg(long)]
    pub resource: String,
    #[arg(long)]
    pub action: String,
}

/// `gatehouse who-can`: exit 2 when nobody is allowed.
pub fn run(args: WhoCanArgs) -> Result<ExitCode> {
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
    Ok(super::negative_if(who.allowed.is_empty()))
}
