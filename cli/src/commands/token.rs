//! `gatehouse token mint`: control-plane tokens for tests and demos.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, Subcommand};
use gatehouse_deploy::keys;
use gatehouse_review::{clock, Exit};
use serde_json::json;

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Mint a control-plane token signed with a private JWK.
    Mint(MintArgs),
}

/// `gatehouse token ...`.
pub fn run(command: TokenCommand) -> Result<ExitCode> {
    match command {
        TokenCommand::Mint(args) => {
            let tokens = mint(&args)?;
            match &args.out {
                Some(path) => std::fs::write(path, tokens)
                    .with_context(|| format!("writing `{}`", path.display()))?,
                None => print!("{tokens}"),
            }
            Ok(Exit::Success.into())
        }
    }
}

#[derive(Debug, Args)]
pub struct MintArgs {
    /// Private JWK file.
    #[arg(long)]
    pub key: PathBuf,
    #[arg(long)]
    pub issuer: String,
    /// Value of the `tenant` claim.
    #[arg(long)]
    pub tenant: Option<String>,
    /// `sub`, e.g. `user:alice@acme.com` or `virtualaccount:ci-bot`.
    #[arg(long)]
    pub sub: String,
    /// Lifetime: `90s`, `15m`, `1h`, `7d`.
    #[arg(long, default_value = "1h")]
    pub ttl: String,
    #[arg(long)]
    pub jti: Option<String>,
    /// `aud` claim; repeat for several.
    #[arg(long)]
    pub aud: Vec<String>,
    /// Extra claim `name=value` (value parsed as JSON when it parses, else a string).
    #[arg(long = "claim")]
    pub claims: Vec<String>,
    /// Issue as of this time (RFC 3339) instead of now.
    #[arg(long)]
    pub now: Option<String>,
    /// Mint this many tokens, one per line, the same but for `jti`: `<JTI>-1`, `<JTI>-2`, ...
    /// (`token-1`, ... without `--jti`).
    #[arg(long, value_parser = clap::value_parser!(u32).range(1..))]
    pub count: Option<u32>,
    /// Write the token(s) to this file, one per line, instead of standard output.
    #[arg(long)]
    pub out: Option<PathBuf>,
}

/// `gatehouse token mint`: the token, or with `--count` that many, one per line (each line
/// ends with a newline).
fn mint(args: &MintArgs) -> Result<String> {
    let key = std::fs::read_to_string(&args.key)
        .with_context(|| format!("reading `{}`", args.key.display()))?;
    let now = match &args.now {
        Some(t) => clock::parse_time(t)?,
        None => clock::now(),
    };
    let ttl = clock::parse_duration(&args.ttl)?;
    let Some(count) = args.count else {
        return Ok(format!(
            "{}\n",
            mint_one(args, &key, now, ttl, args.jti.clone())?
        ));
    };
    let base = args.jti.as_deref().unwrap_or("token");
    let mut out = String::new();
    for n in 1..=count {
        out.push_str(&mint_one(
            args,
            &key,
            now,
            ttl,
            Some(format!("{base}-{n}")),
        )?);
        out.push('\n');
    }
    Ok(out)
}

fn mint_one(args: &MintArgs, key: &str, now: i64, ttl: i64, jti: Option<String>) -> Result<String> {
    let mut claims = keys::token_claims(
        &args.issuer,
        &args.sub,
        args.tenant.as_deref(),
        jti.as_deref(),
        &args.aud,
    );
    for claim in &args.claims {
        let (name, value) = claim
            .split_once('=')
            .ok_or_else(|| anyhow!("claim `{claim}` is not `name=value`"))?;
        let value = serde_json::from_str(value).unwrap_or_else(|_| json!(value));
        claims.insert(name.to_owned(), value);
    }
    keys::mint(key, claims, now, ttl).map_err(|e| anyhow!("{e}"))
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use serde_json::Value;

    use super::*;

    #[test]
    fn mint_count_gives_distinct_tokens_that_differ_only_by_jti() {
        let args = MintArgs {
            key: gatehouse_testkit::repo_path("examples/acme/keys/okta.private.jwk.json"),
            issuer: "https://acme.okta.com/oauth2/default".into(),
            tenant: None,
            sub: "00u-carol".into(),
            ttl: "1h".into(),
            jti: Some("bench".into()),
            aud: vec!["api://gateway".into()],
            claims: vec!["email=carol@acme.com".into()],
            now: Some("2026-12-01T00:00:00Z".into()),
            count: Some(3),
            out: None,
        };
        let payload = |token: &str| -> Value {
            let part = token.split('.').nth(1).unwrap();
            let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(part)
                .unwrap();
            serde_json::from_slice(&bytes).unwrap()
        };
        let text = mint(&args).unwrap();
        assert!(text.ends_with('\n'));
        let tokens: Vec<&str> = text.lines().collect();
        assert_eq!(tokens.len(), 3);
        let mut claims: Vec<Value> = tokens.iter().map(|t| payload(t)).collect();
        for (n, claim) in claims.iter_mut().enumerate() {
            assert_eq!(claim["jti"], format!("bench-{}", n + 1));
            assert_eq!(claim["email"], "carol@acme.com");
            claim.as_object_mut().unwrap().remove("jti");
        }
        assert!(claims.iter().all(|c| *c == claims[0]));
        let header: Value = serde_json::from_slice(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD
                .decode(tokens[0].split('.').next().unwrap())
                .unwrap(),
        )
        .unwrap();
        assert_eq!(header["alg"], "RS256");
        // One token without --count, the --jti as given.
        let one = mint(&MintArgs {
            count: None,
            ..args
        })
        .unwrap();
        assert_eq!(one.lines().count(), 1);
        assert_eq!(payload(one.trim_end())["jti"], "bench");
    }
}
