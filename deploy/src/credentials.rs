//! `gatehouse credentials`: issuing, rotating, revoking and listing API keys (SPEC 2.7), offline,
//! against a policy directory.
//!
//! A tenant's keys are recorded in its credentials file (`<tenant>.credentials.json`, beside the
//! tenant file): ids and SHA-256 hashes of the secrets, never keys. A new key is checked before
//! anything is written: the policy directory is compiled with the changed file in memory, and a
//! key whose tenant, principal or scopes the policy does not have is refused. Files are written
//! whole, deterministically (keys sorted by id) and atomically (a temporary file renamed over the
//! old one). The key itself is returned once, to be printed, and kept nowhere.

mod text;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use gatehouse_compiler::compile::{compile_sources, tenant_files, Files, Sources};
use gatehouse_compiler::diagnostics::Diagnostic;
use gatehouse_compiler::source::{
    parse_json_fast, CredentialSpec, CredentialsFile, CredentialsSection, SpannedString,
};
use gatehouse_compiler::time::parse_time;
use gatehouse_compiler::CompileError;
use gatehouse_engine::credential::{self, IssuedKey, KeyId};
use gatehouse_engine::model::Policy;

pub use text::{
    check_output, default_secret_name, format_time, quote, render_file, render_key, FileFormat,
    OutputFormat, DEFAULT_ENV_NAME,
};

/// The `note` of a credentials file this tool creates.
pub const NOTE: &str = "Written by `gatehouse credentials`: key ids and SHA-256 hashes of their secrets, never keys. Review changes like the tenant file.";

/// Why a credentials command did nothing.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("`{}`: {source}", path.display())]
    Io {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A credentials file that does not read.
    #[error("`{}` is not a valid credentials file: {message}", path.display())]
    Malformed { path: PathBuf, message: String },
    /// A request refused: unknown tenant, principal or id, a past expiry, a revoked key...
    #[error("{0}")]
    Invalid(String),
    /// The policy directory would not compile with the new key: these diagnostics are new.
    #[error("{}", compile_message(.summary, .diagnostics))]
    Compile {
        summary: String,
        diagnostics: Vec<Diagnostic>,
    },
    /// The random source failed.
    #[error("reading the OS random source: {0}")]
    Random(String),
}

fn compile_message(summary: &str, diagnostics: &[Diagnostic]) -> String {
    let mut out = summary.to_owned();
    for d in diagnostics {
        out.push_str(&format!("\n  {d}"));
    }
    out
}

/// The policy directory the commands work on: tenant files, their credentials files, and the
/// gateway file the bundle is compiled with (`None`: the built-in routes).
#[derive(Debug, Clone)]
pub struct PolicyDir {
    pub dir: PathBuf,
    pub gateway: Option<PathBuf>,
}

/// One credentials file, read (or about to be created).
#[derive(Debug, Clone)]
pub struct Stored {
    pub path: PathBuf,
    pub file: CredentialsFile,
    /// Whether it is on disk yet.
    pub exists: bool,
}

impl Stored {
    pub fn tenant(&self) -> &str {
        self.file.credentials.tenant.as_str()
    }

    /// The file's text as this tool writes it.
    pub fn render(&self) -> String {
        render_file(&self.file, FileFormat::of(&self.path))
    }
}

/// Reads a credentials file from its text; `path` names it in errors.
pub fn parse_file(path: &Path, text: &str) -> Result<CredentialsFile, Error> {
    if path.extension().is_some_and(|e| e == "json") {
        if let Some(file) = parse_json_fast::<CredentialsFile>(text) {
            return Ok(file);
        }
    }
    marked_yaml::from_yaml::<CredentialsFile>(0, text).map_err(|e| Error::Malformed {
        path: path.to_path_buf(),
        message: e.to_string(),
    })
}

fn read(path: &Path) -> Result<String, Error> {
    std::fs::read_to_string(path).map_err(|source| Error::Io {
        path: path.to_path_buf(),
        source,
    })
}

fn spanned(text: impl Into<String>) -> SpannedString {
    marked_yaml::Spanned::new(marked_yaml::Span::new_blank(), text.into())
}

impl PolicyDir {
    /// Every file `gatehouse compile DIR` reads, sorted.
    fn source_files(&self) -> Result<Vec<PathBuf>, Error> {
        tenant_files(std::slice::from_ref(&self.dir)).map_err(|e| match e {
            CompileError::Io { path, source } => Error::Io { path, source },
            other => Error::Invalid(other.to_string()),
        })
    }

    /// The credentials files of the directory, read and checked to parse.
    pub fn credentials_files(&self) -> Result<Vec<Stored>, Error> {
        let mut out = Vec::new();
        for path in self.source_files()? {
            if gatehouse_compiler::compile::is_credentials_file(&path) {
                let file = parse_file(&path, &read(&path)?)?;
                out.push(Stored {
                    path,
                    file,
                    exists: true,
                });
            }
        }
        Ok(out)
    }

    /// The credentials file of `tenant`: the one on disk naming it, else a new
    /// `<tenant>.credentials.json`.
    pub fn credentials_of(&self, tenant: &str) -> Result<Stored, Error> {
        let mut found = self
            .credentials_files()?
            .into_iter()
            .filter(|s| s.tenant() == tenant);
        match (found.next(), found.next()) {
            (Some(first), None) => Ok(first),
            (Some(first), Some(second)) => Err(Error::Invalid(format!(
                "tenant `{tenant}` has two credentials files, `{}` and `{}`",
                first.path.display(),
                second.path.display()
            ))),
            (None, _) => {
                if tenant.is_empty() || tenant.contains(['/', '\\']) || tenant.starts_with('.') {
                    return Err(Error::Invalid(format!("`{tenant}` is not a tenant name")));
                }
                Ok(Stored {
                    path: self.dir.join(format!("{tenant}.credentials.json")),
                    file: CredentialsFile {
                        credentials: CredentialsSection {
                            tenant: spanned(tenant),
                            note: Some(NOTE.to_owned()),
                        },
                        keys: Vec::new(),
                    },
                    exists: false,
                })
            }
        }
    }

    /// Compiles the directory, with `changed` (if any) in place of the file on disk at its path.
    fn compile(
        &self,
        changed: Option<(&Path, &str)>,
    ) -> Result<Result<Policy, Vec<Diagnostic>>, Error> {
        let gateway = self
            .gateway
            .as_ref()
            .map(|path| read(path).map(|text| (path.clone(), text)))
            .transpose()?;
        let mut sources = Vec::new();
        for path in self.source_files()? {
            if changed.is_some_and(|(p, _)| p == path) {
                continue;
            }
            let text = read(&path)?;
            sources.push((path, text));
        }
        if let Some((path, text)) = changed {
            sources.push((path.to_path_buf(), text.to_owned()));
            sources.sort_by(|a, b| a.0.cmp(&b.0));
        }
        let refs: Vec<(&Path, &str)> = sources
            .iter()
            .map(|(p, t)| (p.as_path(), t.as_str()))
            .collect();
        let result = compile_sources(&Sources {
            gateway: gateway.as_ref().map(|(p, t)| (p.as_path(), t.as_str())),
            tenants: &refs,
            files: Files::Disk,
            revision: None,
            serial: 1,
        });
        match result {
            Ok(policy) => Ok(Ok(policy)),
            Err(CompileError::Invalid(diagnostics)) => Ok(Err(diagnostics)),
            Err(CompileError::NoTenants) => Err(Error::Invalid(format!(
                "`{}` holds no tenant files",
                self.dir.display()
            ))),
            Err(CompileError::Io { path, source }) => Err(Error::Io { path, source }),
        }
    }

    /// Checks that `stored` with `key` added compiles and that `key`'s tenant and principal
    /// exist. Returns the principal as the file records it (a user's email lowercased).
    fn check_new_key(
        &self,
        stored: &Stored,
        key: &CredentialSpec,
        now: i64,
        expires: Option<i64>,
    ) -> Result<Vec<String>, Error> {
        let tenant = stored.tenant();
        let mut changed = stored.clone();
        changed.file.keys.push(key.clone());
        let text = changed.render();
        let policy = match self.compile(Some((&stored.path, &text)))? {
            Ok(policy) => policy,
            Err(after) => {
                let before = match self.compile(None)? {
                    Ok(policy) => {
                        // Unknown tenant or principal: say that rather than what it breaks.
                        find_principal(&policy, tenant, key.principal.as_str(), now, expires)?;
                        Vec::new()
                    }
                    Err(before) => before,
                };
                let seen: BTreeSet<(PathBuf, String)> = before
                    .iter()
                    .map(|d| (d.file.clone(), d.message.clone()))
                    .collect();
                let introduced: Vec<Diagnostic> = after
                    .into_iter()
                    .filter(|d| !seen.contains(&(d.file.clone(), d.message.clone())))
                    .collect();
                return Err(if introduced.is_empty() {
                    Error::Compile {
                        summary: format!(
                            "`{}` does not compile as it is ({} error(s)); fix it first",
                            self.dir.display(),
                            before.len()
                        ),
                        diagnostics: before,
                    }
                } else {
                    Error::Compile {
                        summary: format!(
                            "refused: the policy would not compile with this key ({} error(s)); nothing written",
                            introduced.len()
                        ),
                        diagnostics: introduced,
                    }
                });
            }
        };
        find_principal(&policy, tenant, key.principal.as_str(), now, expires)
    }
}

/// Whether `principal` (`user:<email>`, `virtualaccount:<name>`) is one of `tenant`'s; and
/// warnings for a key it would be issued at `now` expiring at `expires`: a principal that is
/// denied anyway (an inactive user, an expired virtual account) or expires sooner than the key.
fn find_principal(
    policy: &Policy,
    tenant: &str,
    principal: &str,
    now: i64,
    expires: Option<i64>,
) -> Result<Vec<String>, Error> {
    let Some(t) = policy.tenants.iter().find(|t| t.config.name == tenant) else {
        let names: Vec<&str> = policy
            .tenants
            .iter()
            .map(|t| t.config.name.as_str())
            .collect();
        return Err(Error::Invalid(format!(
            "no tenant `{tenant}` in the policy (tenants: {})",
            names.join(", ")
        )));
    };
    let unknown = || Error::Invalid(format!("tenant `{tenant}` has no principal `{principal}`"));
    let mut warnings = Vec::new();
    match principal.split_once(':') {
        Some(("user", email)) => {
            let user = t
                .users
                .iter()
                .find(|u| u.email.eq_ignore_ascii_case(email))
                .ok_or_else(unknown)?;
            if !user.active {
                warnings.push(format!(
                    "user `{}` is inactive: the key is refused while the user is",
                    user.email
                ));
            }
        }
        Some(("virtualaccount", name)) => {
            let account = t
                .virtual_accounts
                .iter()
                .find(|v| v.name == name)
                .ok_or_else(unknown)?;
            match account.expires {
                Some(end) if end <= now => warnings.push(format!(
                    "virtual account `{name}` expired at {}: the key is refused",
                    format_time(end)
                )),
                Some(end) if expires.is_none_or(|e| e > end) => warnings.push(format!(
                    "virtual account `{name}` expires at {}, before the key: the key is refused from then on",
                    format_time(end)
                )),
                _ => {}
            }
        }
        _ => return Err(unknown()),
    }
    Ok(warnings)
}

/// Writes `stored` to its path: a temporary file beside it, then renamed over it.
fn write(stored: &Stored) -> Result<(), Error> {
    let text = stored.render();
    let io = |source| Error::Io {
        path: stored.path.clone(),
        source,
    };
    let name = stored
        .path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("credentials");
    let tmp = stored
        .path
        .with_file_name(format!(".{name}.{}.tmp", std::process::id()));
    std::fs::write(&tmp, text.as_bytes()).map_err(io)?;
    std::fs::rename(&tmp, &stored.path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io(e)
    })
}

/// The principal of a new key: a user or a virtual account.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Principal {
    User(String),
    VirtualAccount(String),
}

impl Principal {
    /// As the credentials file writes it; emails lowercased.
    pub fn text(&self) -> String {
        match self {
            Principal::User(email) => format!("user:{}", email.to_ascii_lowercase()),
            Principal::VirtualAccount(name) => format!("virtualaccount:{name}"),
        }
    }
}

/// A new key's expiry, as asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// No expiry asked for.
    None,
    /// This many seconds from now.
    In(i64),
    /// At this Unix time.
    At(i64),
}

impl Expiry {
    fn at(self, now: i64) -> Option<i64> {
        match self {
            Expiry::None => None,
            Expiry::In(seconds) => Some(now.saturating_add(seconds)),
            Expiry::At(t) => Some(t),
        }
    }
}

/// `gatehouse credentials create`.
#[derive(Debug, Clone)]
pub struct CreateRequest {
    pub tenant: String,
    pub principal: Principal,
    pub expiry: Expiry,
    pub scopes: Vec<String>,
    pub description: Option<String>,
    pub now: i64,
}

/// A key issued and recorded.
#[derive(Debug)]
pub struct Issued {
    pub key: IssuedKey,
    pub tenant: String,
    /// What the credentials file now holds for it.
    pub record: CredentialSpec,
    /// The credentials file written.
    pub path: PathBuf,
    /// For a rotation: when the replaced key stops working (the end of the grace, or its own
    /// expiry if sooner).
    pub old_expires: Option<String>,
    /// Issued, but worth saying: the principal is inactive, or expires before the key.
    pub warnings: Vec<String>,
}

/// A new key for `stored`: an id no key of the file has, and its record.
fn issue<E: std::fmt::Display>(
    stored: &Stored,
    random: &mut impl FnMut(&mut [u8]) -> Result<(), E>,
) -> Result<IssuedKey, Error> {
    let taken: BTreeSet<&str> = stored.file.keys.iter().map(|k| k.id.as_str()).collect();
    loop {
        let key = credential::issue(&mut *random).map_err(|e| Error::Random(e.to_string()))?;
        if !taken.contains(key.id.to_string().as_str()) {
            return Ok(key);
        }
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn record(
    key: &IssuedKey,
    principal: String,
    scopes: &[String],
    description: Option<String>,
    now: i64,
    expires: Option<i64>,
) -> CredentialSpec {
    CredentialSpec {
        id: spanned(key.id.to_string()),
        sha256: spanned(hex(&key.digest)),
        principal: spanned(principal),
        scopes: scopes.iter().map(|s| spanned(s.clone())).collect(),
        description,
        created: spanned(format_time(now)),
        expires: expires.map(|t| spanned(format_time(t))),
        revoked: None,
        replaces: None,
        replaced_by: None,
    }
}

fn refuse_past(expires: Option<i64>, now: i64) -> Result<(), Error> {
    match expires {
        Some(t) if t <= now => Err(Error::Invalid(format!(
            "the expiry {} is not after now ({})",
            format_time(t),
            format_time(now)
        ))),
        _ => Ok(()),
    }
}

impl PolicyDir {
    /// Issues a key and records it in the tenant's credentials file, after checking the tenant,
    /// the principal, the scopes and the expiry. `random` fills buffers from the OS's random
    /// source.
    pub fn create<E: std::fmt::Display>(
        &self,
        request: &CreateRequest,
        mut random: impl FnMut(&mut [u8]) -> Result<(), E>,
    ) -> Result<Issued, Error> {
        let expires = request.expiry.at(request.now);
        refuse_past(expires, request.now)?;
        let mut stored = self.credentials_of(&request.tenant)?;
        let key = issue(&stored, &mut random)?;
        let record = record(
            &key,
            request.principal.text(),
            &request.scopes,
            request.description.clone(),
            request.now,
            expires,
        );
        let warnings = self.check_new_key(&stored, &record, request.now, expires)?;
        stored.file.keys.push(record.clone());
        write(&stored)?;
        Ok(Issued {
            key,
            tenant: request.tenant.clone(),
            record,
            path: stored.path,
            old_expires: None,
            warnings,
        })
    }

    /// The credentials file holding key `id` (of `tenant`, when given), and the key's index in it.
    pub fn find(&self, id: &str, tenant: Option<&str>) -> Result<(Stored, usize), Error> {
        if credential::is_key(id) {
            return Err(Error::Invalid(
                "give the key's id (the 16 hex digits after `gh_key_`), not the key".to_owned(),
            ));
        }
        id.parse::<KeyId>()
            .map_err(|e| Error::Invalid(format!("`{id}`: {e}")))?;
        for stored in self.credentials_files()? {
            if tenant.is_some_and(|t| t != stored.tenant()) {
                continue;
            }
            if let Some(i) = stored.file.keys.iter().position(|k| k.id.as_str() == id) {
                return Ok((stored, i));
            }
        }
        Err(Error::Invalid(match tenant {
            Some(t) => format!(
                "no API key `{id}` for tenant `{t}` in `{}`",
                self.dir.display()
            ),
            None => format!("no API key `{id}` in `{}`", self.dir.display()),
        }))
    }

    /// Replaces key `id`: a new key for the same principal, scopes and description, recorded as
    /// replacing it; the old key expires at the latest `grace` seconds from now. The new key's
    /// expiry: `expiry` if given, else the old key's lifetime from now, else none.
    pub fn rotate<E: std::fmt::Display>(
        &self,
        id: &str,
        tenant: Option<&str>,
        grace: i64,
        expiry: Expiry,
        now: i64,
        mut random: impl FnMut(&mut [u8]) -> Result<(), E>,
    ) -> Result<Issued, Error> {
        let (mut stored, index) = self.find(id, tenant)?;
        let old = stored
            .file
            .keys
            .get(index)
            .cloned()
            .ok_or_else(|| Error::Invalid(format!("no API key `{id}`")))?;
        if let Some(revoked) = &old.revoked {
            return Err(Error::Invalid(format!(
                "API key `{id}` was revoked at {}; issue a new one with `gatehouse credentials create`",
                revoked.as_str()
            )));
        }
        if let Some(by) = &old.replaced_by {
            return Err(Error::Invalid(format!(
                "API key `{id}` was already rotated: `{by}` replaces it"
            )));
        }
        if grace < 0 {
            return Err(Error::Invalid(
                "the grace period cannot be negative".to_owned(),
            ));
        }
        let time = |s: &SpannedString| {
            parse_time(s.as_str()).map_err(|e| Error::Malformed {
                path: stored.path.clone(),
                message: format!("key `{id}`: {e}"),
            })
        };
        let old_expires = old.expires.as_ref().map(time).transpose()?;
        let expires = match expiry {
            Expiry::None => match old_expires {
                Some(end) => {
                    Some(now.saturating_add(end.saturating_sub(time(&old.created)?).max(0)))
                }
                None => None,
            },
            given => given.at(now),
        };
        refuse_past(expires, now)?;
        let key = issue(&stored, &mut random)?;
        let scopes: Vec<String> = old.scopes.iter().map(|s| s.as_str().to_owned()).collect();
        let mut new = record(
            &key,
            old.principal.as_str().to_owned(),
            &scopes,
            old.description.clone(),
            now,
            expires,
        );
        new.replaces = Some(id.to_owned());
        let end_of_grace = now.saturating_add(grace);
        let old_end = old_expires.map_or(end_of_grace, |e| e.min(end_of_grace));
        if let Some(slot) = stored.file.keys.get_mut(index) {
            slot.replaced_by = Some(key.id.to_string());
            slot.expires = Some(spanned(format_time(old_end)));
        }
        let warnings = self.check_new_key(&stored, &new, now, expires)?;
        stored.file.keys.push(new.clone());
        write(&stored)?;
        Ok(Issued {
            key,
            tenant: stored.tenant().to_owned(),
            record: new,
            path: stored.path,
            old_expires: Some(format_time(old_end)),
            warnings,
        })
    }

    /// Revokes key `id` as of `now`. Nothing is written for a key revoked already.
    pub fn revoke(&self, id: &str, tenant: Option<&str>, now: i64) -> Result<Revoked, Error> {
        let (mut stored, index) = self.find(id, tenant)?;
        let tenant = stored.tenant().to_owned();
        let Some(key) = stored.file.keys.get_mut(index) else {
            return Err(Error::Invalid(format!("no API key `{id}`")));
        };
        if let Some(at) = &key.revoked {
            return Ok(Revoked::Already {
                at: at.as_str().to_owned(),
                tenant,
                path: stored.path,
            });
        }
        let at = format_time(now);
        key.revoked = Some(spanned(at.clone()));
        write(&stored)?;
        Ok(Revoked::Now {
            at,
            tenant,
            path: stored.path,
        })
    }

    /// Every key (of `tenant`, when given), sorted by tenant and id, with its state at `now`.
    pub fn list(&self, tenant: Option<&str>, now: i64) -> Result<Vec<KeyInfo>, Error> {
        let mut out = Vec::new();
        for stored in self.credentials_files()? {
            if tenant.is_some_and(|t| t != stored.tenant()) {
                continue;
            }
            for key in &stored.file.keys {
                out.push(KeyInfo::of(&stored, key, now)?);
            }
        }
        out.sort_by(|a, b| (&a.tenant, &a.id).cmp(&(&b.tenant, &b.id)));
        Ok(out)
    }

    /// Keys not revoked whose expiry lies in (now, now + within].
    pub fn expiring(
        &self,
        within: i64,
        tenant: Option<&str>,
        now: i64,
    ) -> Result<Vec<KeyInfo>, Error> {
        let until = now.saturating_add(within);
        Ok(self
            .list(tenant, now)?
            .into_iter()
            .filter(|k| {
                k.revoked_at.is_none() && k.expires_at.is_some_and(|t| now < t && t <= until)
            })
            .collect())
    }
}

/// What `revoke` did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Revoked {
    /// Recorded as revoked at `at`.
    Now {
        at: String,
        tenant: String,
        path: PathBuf,
    },
    /// Revoked already, at `at`; the file is unchanged.
    Already {
        at: String,
        tenant: String,
        path: PathBuf,
    },
}

/// A key's state at a time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum State {
    Active,
    Expired,
    Revoked,
    /// Replaced, still inside its grace.
    Rotating,
}

impl State {
    pub fn name(self) -> &'static str {
        match self {
            State::Active => "active",
            State::Expired => "expired",
            State::Revoked => "revoked",
            State::Rotating => "rotating",
        }
    }
}

/// One key as `list` and `expiring` show it: never a secret.
#[derive(Debug, Clone)]
pub struct KeyInfo {
    pub id: String,
    pub tenant: String,
    pub principal: String,
    pub scopes: Vec<String>,
    pub description: Option<String>,
    pub created: String,
    pub expires: Option<String>,
    pub revoked: Option<String>,
    pub replaces: Option<String>,
    pub replaced_by: Option<String>,
    pub state: State,
    pub expires_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub file: PathBuf,
}

impl KeyInfo {
    fn of(stored: &Stored, key: &CredentialSpec, now: i64) -> Result<KeyInfo, Error> {
        let time = |s: Option<&SpannedString>| {
            s.map(|s| {
                parse_time(s.as_str()).map_err(|e| Error::Malformed {
                    path: stored.path.clone(),
                    message: format!("key `{}`: {e}", key.id.as_str()),
                })
            })
            .transpose()
        };
        let expires_at = time(key.expires.as_ref())?;
        let revoked_at = time(key.revoked.as_ref())?;
        let state = if revoked_at.is_some() {
            State::Revoked
        } else if expires_at.is_some_and(|t| t <= now) {
            State::Expired
        } else if key.replaced_by.is_some() {
            State::Rotating
        } else {
            State::Active
        };
        Ok(KeyInfo {
            id: key.id.as_str().to_owned(),
            tenant: stored.tenant().to_owned(),
            principal: key.principal.as_str().to_owned(),
            scopes: key.scopes.iter().map(|s| s.as_str().to_owned()).collect(),
            description: key.description.clone(),
            created: key.created.as_str().to_owned(),
            expires: key.expires.as_ref().map(|s| s.as_str().to_owned()),
            revoked: key.revoked.as_ref().map(|s| s.as_str().to_owned()),
            replaces: key.replaces.clone(),
            replaced_by: key.replaced_by.clone(),
            state,
            expires_at,
            revoked_at,
            file: stored.path.clone(),
        })
    }

    /// As `--json` prints it.
    pub fn to_json(&self) -> serde_json::Value {
        serde_json::json!({
            "id": self.id,
            "tenant": self.tenant,
            "principal": self.principal,
            "scopes": self.scopes,
            "description": self.description,
            "created": self.created,
            "expires": self.expires,
            "revoked": self.revoked,
            "replaces": self.replaces,
            "replaced_by": self.replaced_by,
            "state": self.state.name(),
            "file": self.file.display().to_string(),
        })
    }
}
