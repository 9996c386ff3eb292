#![doc = include_str!("../README.md")]

mod commands;

use std::process::ExitCode;

use anyhow::Result;
use clap::{CommandFactory, Parser, Subcommand};
use gatehouse_engine::escape::for_terminal;
use gatehouse_review::Exit;

/// Gatehouse: multi-tenant IAM policy for Envoy, compiled into a signed bundle.
#[derive(Debug, Parser)]
#[command(name = "gatehouse", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Compile tenant files (and a gateway file) into a policy bundle.
    Compile(commands::compile::CompileArgs),
    /// Decide one request offline, exactly as the Envoy filter would.
    Check(commands::check::CheckArgs),
    /// Every principal allowed an action on a resource, with its grant; and those a grant
    /// reaches but narrowing stops, with the reason.
    WhoCan(commands::who_can::WhoCanArgs),
    /// Every (resource, action) a principal may perform, with the grant.
    WhatCan(commands::what_can::WhatCanArgs),
    /// Every (principal, resource, action) whose decision differs between two policies,
    /// grouped by the source changes that cause it.
    Diff(commands::diff::DiffArgs),
    /// Run policy tests: request and access expectations (docs/analysis.md). Exit 0 when
    /// every case passes, 2 when one fails, 1 on an error.
    Test(commands::test::TestArgs),
    /// Describe a bundle.
    Inspect(commands::inspect::InspectArgs),
    /// Key management.
    Keys {
        #[command(subcommand)]
        command: commands::keys::KeysCommand,
    },
    /// Token tools.
    Token {
        #[command(subcommand)]
        command: commands::token::TokenCommand,
    },
    /// API keys: issue, rotate, revoke and list the keys recorded in a policy directory
    /// (docs/credentials.md).
    Credentials {
        #[command(subcommand)]
        command: commands::credentials::CredentialsCommand,
    },
    /// The SCIM 2.0 provisioning service and its clients' secrets.
    Directory {
        #[command(subcommand)]
        command: commands::directory::DirectoryCommand,
    },
    /// Print an Envoy configuration that runs gatehouse.wasm with a bundle.
    EnvoyConfig(commands::envoy_config::EnvoyConfigArgs),
    /// Embed a bundle in gatehouse.wasm (used when the plugin configuration carries none);
    /// prints the module's SHA-256. `--oci` also writes an OCI image layout for Istio.
    Package(commands::package::PackageArgs),
    /// Print a shell completion script (bash, zsh, fish, powershell, elvish).
    Completions(commands::completions::CompletionsArgs),
    /// Print the man page (roff).
    Man,
    /// Print the JSON Schema of a tenant, gateway or test file, for editors and CI.
    Schema(commands::schema::SchemaArgs),
    /// Write a synthetic tenant file for benchmarks (deterministic from the seed). Only in a
    /// binary built with the `test-support` feature (docs/benchmarks.md).
    #[cfg(feature = "test-support")]
    #[command(hide = true)]
    Synth(commands::synth::SynthArgs),
}

fn main() -> ExitCode {
    // Usage errors exit 1 like every other error: 2 means "deny" to scripts calling `check`.
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(err) => {
            let _ = err.print();
            return if err.use_stderr() {
                Exit::Error.into()
            } else {
                Exit::Success.into()
            };
        }
    };
    match run(cli) {
        Ok(code) => code,
        Err(err) => {
            // Errors quote names from tenant and test files: shown escaped (SPEC 5.2). The
            // diagnostics are escaped already; escaping again changes nothing.
            match err.chain().find_map(gatehouse_review::located) {
                Some(located) => {
                    for d in &located.diagnostics {
                        eprintln!("{}", for_terminal(d));
                    }
                    eprintln!("error: {}", for_terminal(&located.summary));
                }
                None => eprintln!("error: {}", for_terminal(&format!("{err:#}"))),
            }
            Exit::Error.into()
        }
    }
}

fn run(cli: Cli) -> Result<ExitCode> {
    match cli.command {
        Command::Compile(args) => commands::compile::run(args),
        Command::Check(args) => commands::check::run(args),
        Command::WhoCan(args) => commands::who_can::run(args),
        Command::WhatCan(args) => commands::what_can::run(args),
        Command::Diff(args) => commands::diff::run(args),
        Command::Test(args) => commands::test::run(args),
        Command::Inspect(args) => commands::inspect::run(args),
        Command::Keys { command } => commands::keys::run(command),
        Command::Token { command } => commands::token::run(command),
        Command::Credentials { command } => commands::credentials::run(command),
        Command::Directory { command } => commands::directory::run(command),
        #[cfg(feature = "test-support")]
        Command::Synth(args) => commands::synth::run(args),
        Command::Package(args) => commands::package::run(args),
        Command::EnvoyConfig(args) => commands::envoy_config::run(args),
        Command::Completions(args) => {
            commands::completions::completions(&args, &mut Cli::command())
        }
        Command::Man => commands::completions::man(Cli::command()),
        Command::Schema(args) => commands::schema::run(args),
    }
}
