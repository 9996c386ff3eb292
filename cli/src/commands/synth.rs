//! `gatehouse synth` (hidden; only in a binary built with the `test-support` feature): a
//! synthetic tenant file for benchmarks, deterministic from the seed (docs/benchmarks.md).

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use gatehouse_review::Exit;
use gatehouse_testkit::synth;

#[derive(Debug, Args)]
pub struct SynthArgs {
    #[arg(long, default_value = "synth")]
    pub name: String,
    #[arg(long, default_value_t = 1_000)]
    pub users: usize,
    #[arg(long, default_value_t = 100)]
    pub teams: usize,
    #[arg(long, default_value_t = 10_000)]
    pub grants: usize,
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    #[arg(short, long)]
    pub output: PathBuf,
}

/// `gatehouse synth`.
pub fn run(args: SynthArgs) -> Result<ExitCode> {
    let size = synth::Size {
        users: args.users,
        teams: args.teams,
        grants: args.grants,
    };
    let text = synth::tenant_json(&args.name, size, args.seed);
    std::fs::write(&args.output, text)
        .with_context(|| format!("writing `{}`", args.output.display()))?;
    Ok(Exit::Success.into())
}
