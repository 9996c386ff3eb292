//! `gatehouse inspect`: describe a bundle.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use gatehouse_review::{inspect, Exit};

#[derive(Debug, Args)]
pub struct InspectArgs {
    pub bundle: PathBuf,
    #[arg(long)]
    pub json: bool,
}

/// `gatehouse inspect`.
pub fn run(args: InspectArgs) -> Result<ExitCode> {
    let engine = super::load(&args.bundle, &[])?;
    print!("{}", inspect::inspect(&engine, args.json));
    Ok(Exit::Success.into())
}
