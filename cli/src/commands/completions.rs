//! `gatehouse completions` and `gatehouse man`: shell completions and a man page, generated from
//! the same clap definitions the binary parses with.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;
use gatehouse_review::Exit;

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

/// `gatehouse completions SHELL`: the completion script on stdout (for example
/// `gatehouse completions bash > /etc/bash_completion.d/gatehouse`).
pub fn completions(args: &CompletionsArgs, command: &mut clap::Command) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    clap_complete::generate(args.shell, command, "gatehouse", &mut out);
    out.flush().context("writing the completion script")?;
    Ok(Exit::Success.into())
}

/// `gatehouse man`: the roff man page on stdout (`gatehouse man > gatehouse.1`).
pub fn man(command: clap::Command) -> Result<ExitCode> {
    let mut out = std::io::stdout().lock();
    clap_mangen::Man::new(command)
        .render(&mut out)
        .context("writing the man page")?;
    out.flush().context("writing the man page")?;
    Ok(Exit::Success.into())
}
