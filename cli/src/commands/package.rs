//! `gatehouse package`: the bundle embedded in gatehouse.wasm, and an OCI image layout.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::Args;
use gatehouse_deploy::package;
use gatehouse_engine::escape::for_terminal;
use gatehouse_engine::Engine;
use gatehouse_review::check::decode_public_key;
use gatehouse_review::Exit;

/// `gatehouse package`: what was written on standard error, the module's SHA-256 on standard
/// output.
pub fn run(args: PackageArgs) -> Result<ExitCode> {
    let packaged = package(&args, std::env::var("SOURCE_DATE_EPOCH").ok().as_deref())?;
    for line in &packaged.summary {
        eprintln!("{line}");
    }
    println!("{}", packaged.sha256);
    Ok(Exit::Success.into())
}

#[derive(Debug, Args)]
pub struct PackageArgs {
    /// gatehouse.wasm as built (target/wasm32-wasip1/release/gatehouse.wasm).
    #[arg(long)]
    pub wasm: PathBuf,
    /// The policy bundle to embed; validated first, as `gatehouse inspect` does.
    #[arg(long)]
    pub bundle: PathBuf,
    /// Where to write the packaged module.
    #[arg(short, long)]
    pub output: PathBuf,
    /// Also write the packaged module as an OCI image layout into this new directory, in the
    /// format Istio's `WasmPlugin` pulls (push it with `skopeo copy oci:DIR:TAG docker://...`).
    #[arg(long)]
    pub oci: Option<PathBuf>,
    /// The image's tag in the layout.
    #[arg(long, default_value = "latest", requires = "oci")]
    pub tag: String,
    /// Refuse a bundle not signed by one of these Ed25519 public keys (base64), as a filter
    /// whose VM configuration pins them would.
    #[arg(long = "trusted-key")]
    pub trusted_keys: Vec<String>,
}

/// What `gatehouse package` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packaged {
    /// SHA-256 of the packaged module, hex: Envoy's remote `vm_config.code` needs it.
    pub sha256: String,
    /// What was written, one line each.
    pub summary: Vec<String>,
}

/// `gatehouse package`: the bundle embedded in the module (see [`package`]).
/// `source_date_epoch` dates the OCI image; without it no time is recorded.
fn package(args: &PackageArgs, source_date_epoch: Option<&str>) -> Result<Packaged> {
    let read =
        |path: &Path| std::fs::read(path).with_context(|| format!("reading `{}`", path.display()));
    let plugin = read(&args.wasm)?;
    let bundle = read(&args.bundle)?;
    let options = gatehouse_engine::LoadOptions {
        trusted_keys: args
            .trusted_keys
            .iter()
            .map(|k| decode_public_key(k))
            .collect::<Result<_, _>>()?,
    };
    let engine = Engine::load(bundle.clone(), &options)
        .map_err(|e| anyhow!("`{}`: {e}", args.bundle.display()))?;
    let created = source_date_epoch
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(package::oci::created_from_epoch)
        .transpose()?;
    if args.oci.is_some() {
        package::oci::check_tag(&args.tag)?;
    }
    let module =
        package::embed(&plugin, &bundle).map_err(|e| anyhow!("`{}`: {e}", args.wasm.display()))?;
    std::fs::write(&args.output, &module)
        .with_context(|| format!("writing `{}`", args.output.display()))?;
    let sha256 = package::sha256_hex(&module);
    let meta = engine.bundle().meta();
    let mut summary = vec![format!(
        "wrote {} ({} bytes, sha256 {sha256}): bundle revision `{}` serial {} ({} bytes) embedded",
        args.output.display(),
        module.len(),
        for_terminal(&meta.revision),
        meta.serial,
        bundle.len(),
    )];
    if let Some(dir) = &args.oci {
        let image = package::oci::write_layout(dir, &module, &args.tag, created.as_deref())?;
        summary.push(format!(
            "wrote the OCI image layout {} (tag `{}`, manifest {})",
            dir.display(),
            args.tag,
            image.manifest_digest
        ));
    }
    Ok(Packaged { sha256, summary })
}
