//! `gatehouse compile`: tenant files (and a gateway file) into a policy bundle.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, bail, Context, Result};
use clap::Args;
use gatehouse_compiler::diagnostics::{Diagnostic, Human};
use gatehouse_compiler::{compile_paths, CompileError, CompileOptions};
use gatehouse_review::{clock, Exit};
use miette::{GraphicalReportHandler, GraphicalTheme};

#[derive(Debug, Args)]
pub struct CompileArgs {
    /// Gateway file (routes, token sources, mode). Built-in routes when omitted.
    #[arg(long)]
    pub gateway: Option<PathBuf>,
    /// Tenant files, or directories of them (*.yaml, *.yml, *.json).
    #[arg(required = true)]
    pub inputs: Vec<PathBuf>,
    /// Where to write the bundle.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Ed25519 private JWK (from `gatehouse keys generate --alg EdDSA`) that signs the bundle.
    #[arg(long)]
    pub sign_key: Option<PathBuf>,
    /// Revision string recorded in the bundle (default: derived from the inputs).
    #[arg(long)]
    pub revision: Option<String>,
    /// Monotonic serial recorded in the bundle; a running filter refuses a bundle whose serial
    /// is lower than the one in service (default: SOURCE_DATE_EPOCH, else the current Unix
    /// time in seconds).
    #[arg(long)]
    pub serial: Option<u64>,
    /// How diagnostics are printed: `human` (source snippets with labels and help; the default
    /// on a terminal), `short` (`file:line:column: error: message`, one line each; the default
    /// otherwise) or `json` (one JSON object per line on stdout, for editors and CI
    /// annotations).
    #[arg(long, value_enum)]
    pub error_format: Option<ErrorFormat>,
}

/// `--error-format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ErrorFormat {
    Human,
    Short,
    Json,
}

/// `gatehouse compile`.
pub fn run(args: CompileArgs) -> Result<ExitCode> {
    let serial = match args.serial {
        Some(serial) => serial,
        None => default_serial(
            std::env::var("SOURCE_DATE_EPOCH").ok().as_deref(),
            clock::now(),
        )?,
    };
    let options = CompileOptions {
        gateway: args.gateway,
        inputs: args.inputs,
        revision: args.revision,
        serial,
    };
    let policy = match compile_paths(&options) {
        Ok(policy) => policy,
        Err(CompileError::Invalid(diagnostics)) => {
            let format = args.error_format.unwrap_or_else(|| {
                if std::io::stderr().is_terminal() {
                    ErrorFormat::Human
                } else {
                    ErrorFormat::Short
                }
            });
            print_diagnostics(&diagnostics, format);
            bail!("{} error(s); no bundle written", diagnostics.len());
        }
        Err(err) => return Err(err.into()),
    };
    let signing_key = args
        .sign_key
        .as_deref()
        .map(gatehouse_deploy::keys::read_signing_key)
        .transpose()?;
    let bytes = gatehouse_engine::bundle::encode(&policy, signing_key.as_ref())
        .map_err(|e| anyhow!("{e}"))?;
    std::fs::write(&args.output, &bytes)
        .with_context(|| format!("writing `{}`", args.output.display()))?;
    let grants: usize = policy.tenants.iter().map(|t| t.grants.len()).sum();
    eprintln!(
        "wrote {} ({} bytes, {} tenant(s), {} grant(s), revision {}, serial {}{})",
        args.output.display(),
        bytes.len(),
        policy.tenants.len(),
        grants,
        gatehouse_engine::escape::for_terminal(&policy.revision),
        policy.serial,
        if signing_key.is_some() {
            ", signed"
        } else {
            ""
        }
    );
    Ok(Exit::Success.into())
}

/// The serial `gatehouse compile` records when `--serial` is not given: `SOURCE_DATE_EPOCH`
/// (reproducible builds) when set, else `now` (Unix seconds), so successive compiles increase.
pub fn default_serial(source_date_epoch: Option<&str>, now: i64) -> Result<u64> {
    match source_date_epoch.map(str::trim).filter(|s| !s.is_empty()) {
        Some(text) => text.parse().map_err(|_| {
            anyhow!("SOURCE_DATE_EPOCH `{text}` is not a Unix time in seconds (a serial)")
        }),
        None => u64::try_from(now).map_err(|_| anyhow!("the clock is before 1970: give --serial")),
    }
}

/// Prints compile diagnostics in `format`: human and short on stderr, JSON lines on stdout.
fn print_diagnostics(diagnostics: &[Diagnostic], format: ErrorFormat) {
    match format {
        ErrorFormat::Short => {
            let mut stderr = std::io::stderr().lock();
            for d in diagnostics {
                let _ = writeln!(stderr, "{d}");
            }
        }
        ErrorFormat::Json => {
            let mut stdout = std::io::stdout().lock();
            for d in diagnostics {
                let _ = writeln!(stdout, "{}", d.to_json());
            }
        }
        ErrorFormat::Human => {
            let theme = if std::io::stderr().is_terminal() {
                GraphicalTheme::unicode()
            } else {
                GraphicalTheme::unicode_nocolor()
            };
            let handler = GraphicalReportHandler::new_themed(theme);
            let mut stderr = std::io::stderr().lock();
            for d in diagnostics {
                let mut out = String::new();
                match handler.render_report(&mut out, &Human(d)) {
                    Ok(()) => {
                        let _ = write!(stderr, "{out}");
                    }
                    // A snippet that cannot be drawn still leaves the one-line form.
                    Err(_) => {
                        let _ = writeln!(stderr, "{d}");
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_serials() {
        assert_eq!(default_serial(None, 1_795_867_200).unwrap(), 1_795_867_200);
        assert_eq!(default_serial(Some(""), 42).unwrap(), 42);
        assert_eq!(
            default_serial(Some("1700000000"), 42).unwrap(),
            1_700_000_000
        );
        assert!(default_serial(Some("yesterday"), 42).is_err());
        assert!(default_serial(Some("-1"), 42).is_err());
        assert!(default_serial(None, -1).is_err());
    }
}
