//! `gatehouse keys generate`: a key pair, as JWKs.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use clap::Subcommand;
use gatehouse_deploy::keys::{self, KeyAlg};
use gatehouse_review::Exit;

#[derive(Debug, Subcommand)]
pub enum KeysCommand {
    /// Generate a key pair: a private JWK and a public JWK Set.
    Generate {
        #[arg(long)]
        alg: String,
        /// Directory to write `private.jwk.json` and `jwks.json` into.
        #[arg(long)]
        out: PathBuf,
    },
}

/// `gatehouse keys ...`.
pub fn run(command: KeysCommand) -> Result<ExitCode> {
    match command {
        KeysCommand::Generate { alg, out } => {
            for line in generate_keys(&alg, &out)? {
                println!("{line}");
            }
            Ok(Exit::Success.into())
        }
    }
}

/// `gatehouse keys generate`: writes `private.jwk.json` (mode 0600) and `jwks.json`.
fn generate_keys(alg: &str, out: &Path) -> Result<Vec<String>> {
    let alg: KeyAlg = alg.parse().map_err(|e| anyhow!("{e}"))?;
    let (private, public) = keys::generate(alg).map_err(|e| anyhow!("{e}"))?;
    std::fs::create_dir_all(out).with_context(|| format!("creating `{}`", out.display()))?;
    let private_path = out.join("private.jwk.json");
    let public_path = out.join("jwks.json");
    write_private(&private_path, &private)?;
    std::fs::write(&public_path, public.as_bytes())
        .with_context(|| format!("writing `{}`", public_path.display()))?;
    let mut lines = vec![
        format!("private key: {}", private_path.display()),
        format!("public JWK Set: {}", public_path.display()),
    ];
    if matches!(alg, KeyAlg::EdDsa) {
        let key = keys::signing_key_from_jwk(&private)?;
        lines.push(format!(
            "bundle signing public key (for trusted_keys): {}",
            STANDARD.encode(key.verifying_key().as_bytes())
        ));
    }
    Ok(lines)
}

fn write_private(path: &Path, text: &str) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(path)
            .with_context(|| format!("writing `{}`", path.display()))?;
        std::io::Write::write_all(&mut file, text.as_bytes())
            .with_context(|| format!("writing `{}`", path.display()))
    }
    #[cfg(not(unix))]
    {
        std::fs::write(path, text).with_context(|| format!("writing `{}`", path.display()))
    }
}
