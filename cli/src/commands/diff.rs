//! `gatehouse diff`: every decision that differs between two policies, grouped by cause.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;
use gatehouse_review::analysis;

#[derive(Debug, Args)]
pub struct DiffArgs {
    /// The policy before: a bundle, or a tenant file or directory.
    pub old: PathBuf,
    /// The policy after.
    pub new: PathBuf,
    /// Gateway file for OLD and NEW when they are tenant files.
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// Only this tenant.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Decide at this time (RFC 3339) instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// Print one JSON document.
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    /// Print Markdown for a pull-request comment.
    #[arg(long)]
    pub markdown: bool,
    /// Groups with more changes than this are summarised (counts, no rows) in --json.
    #[arg(long, default_value_t = 10_000)]
    pub max_rows: usize,
    /// Rows shown per group in the text and Markdown reports.
    #[arg(long, default_value_t = 10)]
    pub show: usize,
}

/// `gatehouse diff`: exit 2 when a decision changes.
pub fn run(args: DiffArgs) -> Result<ExitCode> {
    let now = super::now(args.now.as_deref())?;
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
    Ok(super::negative_if(diff.count() > 0))
}
