//! The compiler's entry points: files (or in-memory sources) -> [`Policy`], reporting every
//! error of the run.

use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use gatehouse_engine::model::Policy;

use crate::diagnostics::{parse_source, Code, Diagnostic, FileDiagnostics};
use crate::gateway::{default_gateway, lower_gateway};
use crate::lower::{lower, CredentialsSource, DirectorySource, TenantSource};
use crate::source::{
    parse_json_fast, CredentialsFile, DirectoryFile, GatewayFile, SpannedString, TenantFile,
};

/// What `gatehouse compile` compiles.
#[derive(Debug, Clone, Default)]
pub struct CompileOptions {
    /// The gateway file; `None` uses the built-in routes ([`crate::gateway::DEFAULT_GATEWAY_YAML`]).
    pub gateway: Option<PathBuf>,
    /// Tenant files, or directories whose `*.yaml`, `*.yml` and `*.json` files (directly inside,
    /// not in subdirectories) are tenant files, taken in sorted order. Files named
    /// `*.directory.json` (or `.yaml`, `.yml`) are directory files ([`is_directory_file`]).
    pub inputs: Vec<PathBuf>,
    /// `None`: a short hex digest of the compiled policy.
    pub revision: Option<String>,
    /// The bundle's monotonic serial (META). Always explicit here, so that the same options
    /// give the same bytes; `gatehouse compile` defaults it to `SOURCE_DATE_EPOCH` or the
    /// current Unix time.
    pub serial: u64,
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

/// Where a tenant's `jwks_file` is read from.
#[derive(Debug, Clone, Copy)]
pub enum Files<'a> {
    /// The file system (`gatehouse compile`).
    Disk,
    /// Only these `(name, text)` files, names compared component by component (`./` ignored,
    /// `..` resolved): the JavaScript package and the playground, which have no file system.
    Memory(&'a [(&'a Path, &'a str)]),
}

impl Files<'_> {
    /// The text of `path`, or why it cannot be had.
    pub fn read(&self, path: &Path) -> Result<String, String> {
        match self {
            Files::Disk => std::fs::read_to_string(path).map_err(|e| e.to_string()),
            Files::Memory(files) => {
                let wanted = normalized(path);
                files
                    .iter()
                    .find(|(name, _)| normalized(name) == wanted)
                    .map(|(_, text)| (*text).to_owned())
                    .ok_or_else(|| "no such file among the sources".to_owned())
            }
        }
    }
}

/// `path` without `.` components and with `..` applied, for comparing in-memory names.
fn normalized(path: &Path) -> Vec<Component<'_>> {
    let mut out = Vec::new();
    for component in path.components() {
        match component {
            Component::CurDir => {}
            Component::ParentDir if matches!(out.last(), Some(Component::Normal(_))) => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// Compiles the gateway file and the tenant files or directories of `opts`.
pub fn compile_paths(opts: &CompileOptions) -> Result<Policy, CompileError> {
    let gateway = opts
        .gateway
        .as_ref()
        .map(|path| read(path).map(|text| (path.clone(), text)))
        .transpose()?;
    let files = tenant_files(&opts.inputs)?;
    let mut tenants = Vec::with_capacity(files.len());
    for file in files {
        let text = read(&file)?;
        tenants.push((file, text));
    }
    let tenant_refs: Vec<(&Path, &str)> = tenants
        .iter()
        .map(|(p, t)| (p.as_path(), t.as_str()))
        .collect();
    compile_sources(&Sources {
        gateway: gateway.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
        tenants: &tenant_refs,
        files: Files::Disk,
        revision: opts.revision.as_deref(),
        serial: opts.serial,
    })
}

/// One compile run from in-memory sources.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    /// `(name used in diagnostics, text)` of the gateway file; `None`: the built-in routes.
    pub gateway: Option<(&'a Path, &'a str)>,
    /// `(name used in diagnostics, text)` of each tenant file, and of each directory file (told
    /// apart by name: [`is_directory_file`]). A tenant's `jwks_file` paths are resolved relative
    /// to the directory of its name.
    pub tenants: &'a [(&'a Path, &'a str)],
    /// Where `jwks_file` paths are read from.
    pub files: Files<'a>,
    /// `None`: a short hex digest of the compiled policy.
    pub revision: Option<&'a str>,
    /// The bundle's monotonic serial ([`Policy::serial`]).
    pub serial: u64,
}

impl<'a> Sources<'a> {
    /// The tenant files alone, on disk, with the built-in routes, no revision and serial 1: what
    /// tests and tools compiling one snippet want.
    pub fn tenants(tenants: &'a [(&'a Path, &'a str)]) -> Sources<'a> {
        Sources {
            gateway: None,
            tenants,
            files: Files::Disk,
            revision: None,
            serial: 1,
        }
    }
}

/// Compiles in-memory sources.
///
/// Tenant files named `*.json` are first read with `serde_json` ([`parse_json_fast`]: about 8x
/// faster than the span-tracking YAML loader, and without its node tree); values read that way
/// have no line and column. So if the run finds any error and a file was read that way, the
/// whole run is redone with the YAML loader for every file, and its diagnostics (located, all
/// of them) are the answer: the result is always the YAML loader's.
pub fn compile_sources(sources: &Sources<'_>) -> Result<Policy, CompileError> {
    let mut fast = false;
    match compile_once(sources, true, &mut fast) {
        Err(CompileError::Invalid(_)) if fast => compile_once(sources, false, &mut false),
        result => result,
    }
}

/// One pass over `sources`; `json_fast`: try [`parse_json_fast`] on `*.json` tenants, and set
/// `fast` when one was read that way.
fn compile_once(
    sources: &Sources<'_>,
    json_fast: bool,
    fast: &mut bool,
) -> Result<Policy, CompileError> {
    let Sources {
        gateway,
        tenants,
        files,
        revision,
        serial,
    } = *sources;
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
    let mut directories = Vec::new();
    let mut credentials = Vec::new();
    for (file, text) in tenants {
        if is_directory_file(file) {
            if let Some(spec) = parse_one::<DirectoryFile>(file, text, json_fast, fast, &mut out) {
                directories.push(spec);
            }
        } else if is_credentials_file(file) {
            if let Some(spec) = parse_one::<CredentialsFile>(file, text, json_fast, fast, &mut out)
            {
                credentials.push(spec);
            }
        } else if let Some(spec) = parse_one::<TenantFile>(file, text, json_fast, fast, &mut out) {
            parsed.push(spec);
        }
    }
    let directory_of = match_companions(&parsed, &directories, "directory", &mut out, |d| {
        &d.directory.tenant
    });
    let credentials_of = match_companions(&parsed, &credentials, "credentials", &mut out, |c| {
        &c.credentials.tenant
    });
    let sources: Vec<TenantSource<'_>> = parsed
        .iter()
        .zip(directory_of)
        .zip(credentials_of)
        .map(|(((file, text, spec), directory), keys)| TenantSource {
            file,
            text: Some(text.clone()),
            base_dir: file.parent().unwrap_or(Path::new("")),
            files,
            spec,
            directory: directory
                .and_then(|i| directories.get(i))
                .map(|(file, text, spec)| DirectorySource {
                    file,
                    text: Some(text.clone()),
                    spec,
                }),
            credentials: keys
                .and_then(|i| credentials.get(i))
                .map(|(file, text, spec)| CredentialsSource {
                    file,
                    text: Some(text.clone()),
                    spec,
                }),
        })
        .collect();
    let lowered = lower(
        gateway.clone().unwrap_or_else(default_gateway),
        &sources,
        revision,
        serial,
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

/// One source file parsed: with `serde_json` first when `json_fast` and it is `*.json` (setting
/// `fast`), else with the span-tracking loader, which reports what is wrong into `out`.
fn parse_one<'p, T: serde::de::DeserializeOwned>(
    file: &'p Path,
    text: &str,
    json_fast: bool,
    fast: &mut bool,
    out: &mut Vec<Diagnostic>,
) -> Option<(&'p Path, Arc<str>, T)> {
    let is_json = file.extension().is_some_and(|e| e == "json");
    if json_fast && is_json {
        if let Some(spec) = parse_json_fast::<T>(text) {
            *fast = true;
            return Some((file, Arc::from(text), spec));
        }
    }
    let text: Arc<str> = Arc::from(text);
    let mut d = FileDiagnostics {
        file,
        text: Some(text.clone()),
        out,
    };
    let spec = parse_source::<T>(&mut d, &text)?;
    Some((file, text, spec))
}

/// Whether `path` names a directory file: `*.directory.json`, `*.directory.yaml` or
/// `*.directory.yml`, the users and team memberships the provisioning service keeps for one
/// tenant (`docs/provisioning.md`).
pub fn is_directory_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    [".directory.json", ".directory.yaml", ".directory.yml"]
        .iter()
        .any(|suffix| name.len() > suffix.len() && name.ends_with(suffix))
}

/// Whether `path` names a credentials file: `*.credentials.json` (or `.yaml`, `.yml`), the API
/// keys `gatehouse credentials` records for one tenant (`docs/credentials.md`).
pub fn is_credentials_file(path: &Path) -> bool {
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    [".credentials.json", ".credentials.yaml", ".credentials.yml"]
        .iter()
        .any(|suffix| name.len() > suffix.len() && name.ends_with(suffix))
}

/// For each tenant of `tenants`, the index in `companions` of its `what` file (directory,
/// credentials), which names its tenant in `tenant_of`. Such a file must name a tenant of the
/// run, and a tenant has at most one of each kind.
fn match_companions<T>(
    tenants: &[(&Path, Arc<str>, TenantFile)],
    companions: &[(&Path, Arc<str>, T)],
    what: &str,
    out: &mut Vec<Diagnostic>,
    tenant_of: impl Fn(&T) -> &SpannedString,
) -> Vec<Option<usize>> {
    let mut of: Vec<Option<usize>> = vec![None; tenants.len()];
    for (i, (file, text, spec)) in companions.iter().enumerate() {
        let named = tenant_of(spec);
        let mut d = FileDiagnostics {
            file,
            text: Some(text.clone()),
            out: &mut *out,
        };
        let Some(t) = tenants
            .iter()
            .position(|(_, _, t)| t.tenant.name.as_str() == named.as_str())
        else {
            d.report(
                named.span(),
                Code::UnknownSubject,
                format!(
                    "{what} file for tenant `{}`, which no tenant file defines",
                    named.as_str()
                ),
            )
            .suggest(
                named,
                tenants.iter().map(|(_, _, t)| t.tenant.name.as_str()),
            );
            continue;
        };
        match of.get_mut(t) {
            Some(Some(first)) => {
                let first = companions
                    .get(*first)
                    .map_or(Path::new("?"), |(f, _, _)| *f);
                d.error(
                    named.span(),
                    Code::Duplicate,
                    format!(
                        "tenant `{}` already has a {what} file, {}",
                        named.as_str(),
                        first.display()
                    ),
                );
            }
            Some(slot) => *slot = Some(i),
            None => {}
        }
    }
    of
}

/// The tenant files `gatehouse compile` reads for `inputs`: each file as given, and for each
/// directory its `*.yaml`, `*.yml` and `*.json` files (directly inside), sorted.
pub fn tenant_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, CompileError> {
    let mut files = Vec::new();
    for input in inputs {
        if input.is_dir() {
            files.extend(tenant_files_in(input)?);
        } else {
            files.push(input.clone());
        }
    }
    Ok(files)
}

fn read(path: &Path) -> Result<String, CompileError> {
    std::fs::read_to_string(path).map_err(|source| CompileError::Io {
        path: path.to_path_buf(),
        source,
    })
}

/// `*.yaml`, `*.yml` and `*.json` files directly inside `dir`, sorted (tenant files here, test
/// files for `gatehouse test`).
pub(crate) fn tenant_files_in(dir: &Path) -> Result<Vec<PathBuf>, CompileError> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lower::test_support::JWKS;
    use marked_yaml::Node;
    use serde_json::Value;

    /// A YAML tenant file as JSON, scalars typed the way the YAML loader would coerce them.
    fn yaml_to_json(node: &Node) -> Value {
        match node {
            Node::Scalar(s) => match s.as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                text => text
                    .parse::<u64>()
                    .map_or_else(|_| Value::String(text.to_owned()), Value::from),
            },
            Node::Sequence(items) => Value::Array(items.iter().map(yaml_to_json).collect()),
            Node::Mapping(map) => Value::Object(
                map.iter()
                    .map(|(k, v)| (k.as_str().to_owned(), yaml_to_json(v)))
                    .collect(),
            ),
        }
    }

    fn both_ways(name: &Path, text: &str) -> (String, String) {
        let mut used = false;
        let fast = compile_once(&Sources::tenants(&[(name, text)]), true, &mut used);
        assert!(used, "{}: the JSON fast path declined", name.display());
        let mut used = false;
        let slow = compile_once(&Sources::tenants(&[(name, text)]), false, &mut used);
        assert!(!used);
        let json = |r: Result<Policy, CompileError>| match r {
            Ok(policy) => serde_json::to_string(&policy).unwrap_or_default(),
            Err(e) => panic!("{}: {e:?}", name.display()),
        };
        (json(fast), json(slow))
    }

    #[test]
    fn json_fast_path_compiles_what_the_yaml_loader_compiles() {
        for tenant in ["acme", "globex"] {
            let dir = Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../examples")
                .join(tenant);
            let yaml = std::fs::read_to_string(dir.join("tenant.yaml")).unwrap_or_default();
            let node = marked_yaml::parse_yaml(0, &yaml).unwrap_or_else(|e| panic!("{e}"));
            let value = yaml_to_json(&node);
            let name = dir.join("tenant.json");
            for text in [
                value.to_string(),
                serde_json::to_string_pretty(&value).unwrap_or_default(),
            ] {
                let (fast, slow) = both_ways(&name, &text);
                assert_eq!(fast, slow, "{tenant}");
            }
        }
        let synth = gatehouse_testkit::synth::tenant_json(
            "synth",
            gatehouse_testkit::synth::Size::SMALL,
            42,
        );
        let (fast, slow) = both_ways(Path::new("synth.json"), &synth);
        assert_eq!(fast, slow);
    }

    #[test]
    fn json_input() {
        let text = format!(
            r#"{{"tenant": {{"name": "acme", "issuer": "https://cp", "jwks": {JWKS}}},
  "users": [{{"email": "A@x.com"}}],
  "resources": [{{"type": "mcp-server", "name": "gh", "collaborators": [{{"subject": "user:a@x.com", "role": "mcp-server-user"}}],
                 "tools": [{{"name": "t"}}]}}]}}"#
        );
        let policy =
            compile_sources(&Sources::tenants(&[(Path::new("acme.json"), &text)])).unwrap();
        assert_eq!(policy.tenants[0].users[0].email, "a@x.com");
        assert_eq!(policy.tenants[0].resources.len(), 2);
        assert_eq!(policy.tenants[0].grants.len(), 1);
        let errs = match compile_sources(&Sources::tenants(&[(
            Path::new("acme.json"),
            r#"{"tenant": {"name": "a", "issuer": "i", "jwks": {}, "colour": 1}}"#,
        )])) {
            Err(CompileError::Invalid(d)) => d,
            other => panic!("{other:?}"),
        };
        // The unknown field does not hide what lowering finds in the rest of the file.
        assert_eq!(errs.len(), 2, "{errs:?}");
        assert_eq!((errs[0].line, errs[0].column), (1, 53), "{}", errs[0]);
        assert!(
            errs[0].message.starts_with("unknown field `colour`"),
            "{}",
            errs[0]
        );
        assert_eq!(errs[0].code, crate::diagnostics::Code::UnknownField);
        assert_eq!(errs[1].code, crate::diagnostics::Code::Keys, "{}", errs[1]);
    }

    #[test]
    fn json_errors_are_located_by_the_yaml_loader() {
        let synth = gatehouse_testkit::synth::tenant_json(
            "synth",
            gatehouse_testkit::synth::Size::SMALL,
            42,
        );
        // A grant to an unknown user: a lowering error, found after the fast parse.
        let broken = synth.replacen("\"users\":[{\"email\":\"", "\"users\":[{\"email\":\"x", 1);
        assert_ne!(broken, synth);
        let name = Path::new("synth.json");
        let Err(CompileError::Invalid(fast)) =
            compile_sources(&Sources::tenants(&[(name, &broken)]))
        else {
            panic!("expected errors")
        };
        let slow = compile_once(&Sources::tenants(&[(name, &broken)]), false, &mut false);
        let Err(CompileError::Invalid(slow)) = slow else {
            panic!("expected errors")
        };
        assert_eq!(fast, slow);
        assert!(fast.iter().all(|d| d.line > 0 && d.column > 0), "{fast:?}");
    }
}
