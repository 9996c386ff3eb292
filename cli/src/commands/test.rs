//! `gatehouse test`: policy tests, request and access expectations.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use gatehouse_review::{analysis, clock, test as testing};

/// The policy under test is a bundle (`--bundle`) or tenant files compiled on the fly
/// (`--policy`, repeatable, with `--gateway`): the positional arguments are the test files.
#[derive(Debug, Args)]
pub struct TestArgs {
    /// A compiled bundle.
    #[arg(long, conflicts_with_all = ["gateway", "policy"], required_unless_present = "policy")]
    pub bundle: Option<PathBuf>,
    /// Gateway file of the policy compiled from `--policy` (built-in routes when omitted).
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// A tenant file, or a directory of them, compiled as `gatehouse compile` does. Repeatable.
    #[arg(long = "policy", value_name = "TENANT_FILE_OR_DIR")]
    pub policy: Vec<PathBuf>,
    /// Test files, or directories of them (*.yaml, *.yml, *.json).
    #[arg(required = true, value_name = "TESTS")]
    pub tests: Vec<PathBuf>,
    /// Also write the results as JUnit XML to this file.
    #[arg(long)]
    pub junit: Option<PathBuf>,
    /// The tenant of test files that name none (default: the bundle's only tenant).
    #[arg(long)]
    pub tenant: Option<String>,
    /// The clock (RFC 3339) of cases and files that give none (default: now).
    #[arg(long)]
    pub now: Option<String>,
    /// Print one JSON document with every result.
    #[arg(long)]
    pub json: bool,
}

/// `gatehouse test`: exit 0 when every case passes, 2 when one fails.
pub fn run(args: TestArgs) -> Result<ExitCode> {
    // The test files first: a bad one is reported without compiling anything.
    let files = testing::load(&args.tests)?;
    let engine = match &args.bundle {
        Some(bundle) => super::load(bundle, &[])?,
        None => analysis::PolicySource {
            bundle: None,
            gateway: args.gateway,
            inputs: args.policy,
        }
        .load()?,
    };
    let options = testing::RunOptions {
        tenant: args.tenant,
        now: args.now.as_deref().map(clock::parse_time).transpose()?,
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
