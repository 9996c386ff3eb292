//! The compiler's entry points: files (or in-memory sources) -> [`Policy`], reporting every
//! error of the run.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_engine::model::Policy;

use crate::diagnostics::{parse_source, Diagnostic, FileDiagnostics};
use crate::gateway::{default_gateway, lower_gateway};
use crate::lower::{lower, TenantSource};
use crate::source::{GatewayFile, TenantFile};

/// What `gatehouse compile` compiles.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// The gateway file; `None` uses the built-in routes ([`crate::gateway::DEFAULT_GATEWAY_YAML`]).
    pub gateway: Option<PathBuf>,
    /// Tenant files, or directories whose `*.yaml`, `*.yml` and `*.json` files (directly inside,
    /// not in subdirectories) are tenant files, taken in sorted order.
    pub inputs: Vec<PathBuf>,
    /// `None`: a short hex digest of the compiled policy.
    pub revision: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum CompileError {
    #[error("cannot read `{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("no tenant files given")]
    NoTenants,
    #[error("{} error(s)", .0.len())]
    Invalid(Vec<Diagnostic>),
}

/// Compiles the gateway file and the tenant files or directories of `opts`.
pub fn compile_paths(opts: &CompileOptions) -> Result<Policy, CompileError> {
    let gateway = opts
        .gateway
        .as_ref()
        .map(|path| read(path).map(|text| (path.clone(), text)))
        .transpose()?;
    let mut files = Vec::new();
    for input in &opts.inputs {
        if input.is_dir() {
            files.extend(tenant_files_in(input)?);
        } else {
            files.push(input.clone());
        }
    }
    let mut tenants = Vec::with_capacity(files.len());
    for file in files {
        let text = read(&file)?;
        tenants.push((file, text));
    }
    let tenant_refs: Vec<(&Path, &str)> = tenants
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    compile_sources(
        gateway.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
        &tenant_refs,
        opts.revision.as_deref(),
    )
}

/// Same from in-memory sources: `(name used in diagnostics, text)`. A tenant's `jwks_file`
/// paths are resolved relative to the directory of its name.
pub fn compile_sources(
    gateway: Option<(&Path, &str)>,
    tenants: &[(&Path, &str)],
    revision: Option<&str>,
) -> Result<Policy, CompileError> {
    if tenants.is_empty() {
        return Err(CompileError::NoTenants);
    }
    let mut out = Vec::new();
    let gateway = match gateway {
        None => Some(default_gateway()),
        Some((file, text)) => {
            let mut d = FileDiagnostics {
                file,
                text: Some(Arc::from(text)),
                out: &mut out,
            };
            parse_source::<GatewayFile>(&mut d, text).and_then(|g| lower_gateway(&mut d, &g))
        }
    };
    let mut parsed = Vec::with_capacity(tenants.len());
    for (file, text) in tenants {
        let text: Arc<str> = Arc::from(*text);
        let mut d = FileDiagnostics {
            file,
            text: Some(text.clone()),
            out: &mut out,
        };
        if let Some(spec) = parse_source::<TenantFile>(&mut d, &text) {
            parsed.push((*file, text, spec));
        }
    }
    let sources: Vec<TenantSource<'_>> = parsed
        .iter()
        .map(|(file, text, spec)| TenantSource {
            file,
            text: Some(text.clone()),
            base_dir: file.parent().unwrap_or(Path::new("")),
            spec,
        })
        .collect();
    let lowered = lower(
        gateway.clone().unwrap_or_else(default_gateway),
        &sources,
        revision,
    );
    match lowered {
        Ok(policy) if out.is_empty() && gateway.is_some() => Ok(policy),
        Ok(_) => Err(CompileError::Invalid(out)),
        Err(more) => {
            out.extend(more);
            Err(CompileError::Invalid(out))
        }
    }
}

fn read(path: &Path) -> Result<String, CompileError> {
    std::fs::read_to_string(path).map_err(|source| CompileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `*.yaml`, `*.yml` and `*.json` files directly inside `dir`, sorted.
fn tenant_files_in(dir: &Path) -> Result<Vec<PathBuf>, CompileError> {
    let io = |source| CompileError::Io {
        path: dir.to_path_buf(),
        source,
    };
    let mut files = Vec::new();
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        let is_tenant = path.is_file()
            && path
                .extension()
                .and_then(|e| e.to_str())
                .is_some_and(|e| matches!(e, "yaml" | "yml" | "json"));
        if is_tenant {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}
