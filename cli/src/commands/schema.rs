//! `gatehouse schema`: the JSON Schema of a tenant, gateway or test file, generated from the
//! serde types the compiler and the test runner read (SPEC 5.2). The committed copies under
//! `schemas/` are this output, checked by `cli/tests/schemas.rs`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use gatehouse_review::Exit;

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Which file's schema.
    #[arg(value_enum)]
    pub file: SchemaFile,
}

/// The files `gatehouse schema` describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SchemaFile {
    /// A tenant file (SPEC 2.1).
    Tenant,
    /// A directory file: a SCIM-provisioned tenant's users and teams (SPEC 2.6).
    Directory,
    /// A credentials file: a tenant's API keys, ids and hashes (SPEC 2.7).
    Credentials,
    /// The gateway file (SPEC 3.2).
    Gateway,
    /// A `gatehouse test` file (docs/analysis.md).
    Tests,
}

/// `gatehouse schema`: pretty JSON, keys sorted, one trailing newline.
pub fn run(args: SchemaArgs) -> Result<ExitCode> {
    let schema = match args.file {
        SchemaFile::Tenant => gatehouse_compiler::source::schema::tenant(),
        SchemaFile::Directory => gatehouse_compiler::source::schema::directory(),
        SchemaFile::Credentials => gatehouse_compiler::source::schema::credentials(),
        SchemaFile::Gateway => gatehouse_compiler::source::schema::gateway(),
        SchemaFile::Tests => gatehouse_review::test::json_schema(),
    };
    println!("{}", serde_json::to_string_pretty(&schema)?);
    Ok(Exit::Success.into())
}
