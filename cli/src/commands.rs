//! One module per command: its flags and what it does with them. What several commands share
//! (loading a bundle, the clock, where an analysis command's policy comes from) is here.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use gatehouse_engine::{Engine, LoadOptions};
use gatehouse_review::check::decode_public_key;
use gatehouse_review::{analysis, clock, Exit};

pub mod check;
pub mod compile;
pub mod completions;
pub mod credentials;
pub mod diff;
pub mod directory;
pub mod envoy_config;
pub mod inspect;
pub mod keys;
pub mod package;
pub mod schema;
#[cfg(feature = "test-support")]
pub mod synth;
pub mod test;
pub mod token;
pub mod what_can;
pub mod who_can;

/// Where an analysis command's policy comes from.
#[derive(Debug, Args)]
pub struct SourceArgs {
    /// The bundle to analyse.
    #[arg(long, conflicts_with_all = ["gateway", "inputs"])]
    pub bundle: Option<PathBuf>,
    /// Gateway file, when compiling tenant files on the fly.
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// Tenant files or directories, compiled on the fly (instead of --bundle).
    pub inputs: Vec<PathBuf>,
    /// The tenant to ask about, when the bundle holds several.
    #[arg(long)]
    pub tenant: Option<String>,
    /// Decide at this time (RFC 3339) instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// Print one JSON document.
    #[arg(long)]
    pub json: bool,
}

impl SourceArgs {
    fn engine(&self) -> Result<Engine> {
        analysis::PolicySource {
            bundle: self.bundle.clone(),
            gateway: self.gateway.clone(),
            inputs: self.inputs.clone(),
        }
        .load()
        .map_err(Into::into)
    }

    fn now(&self) -> Result<i64> {
        now(self.now.as_deref())
    }
}

/// The bundle at `path`, loaded as the filter loads it (with these pinned keys).
pub fn load(path: &Path, trusted_keys: &[String]) -> Result<Engine> {
    let bytes = std::fs::read(path).with_context(|| format!("reading `{}`", path.display()))?;
    let options = LoadOptions {
        trusted_keys: trusted_keys
            .iter()
            .map(|k| decode_public_key(k))
            .collect::<Result<_, _>>()?,
    };
    Engine::load(bytes, &options).map_err(|e| anyhow!("`{}`: {e}", path.display()))
}

/// `--now` (RFC 3339), else the current time.
pub fn now(text: Option<&str>) -> Result<i64> {
    match text {
        Some(text) => Ok(clock::parse_time(text)?),
        None => Ok(clock::now()),
    }
}

/// Exit 2 when the answer is negative (nothing allowed, changes found), else 0.
pub fn negative_if(negative: bool) -> ExitCode {
    if negative {
        Exit::Negative
    } else {
        Exit::Success
    }
    .into()
}

/// `--credential`: an API key id, the 16 lowercase hex digits after `gh_key_`.
pub fn key_id(text: &str) -> Result<gatehouse_engine::credential::KeyId, String> {
    text.parse()
        .map_err(|e: gatehouse_engine::credential::KeyError| {
            format!("`{text}`: {e} (an API key id is the 16 hex digits after `gh_key_`)")
        })
}
