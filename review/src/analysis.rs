//! `gatehouse who-can`, `what-can` and `diff`: where the policy comes from, and the reports
//! (text, JSON, Markdown). The answers themselves are the engine's
//! ([`gatehouse_engine::analysis`]).
//!
//! Names come from tenant files, so each report shows them escaped for where it goes (SPEC 5.2):
//! JSON as they are (serde escapes what JSON must), text through
//! [`for_terminal`], Markdown each in its own [`markdown_code`] span.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use gatehouse_compiler::compile::{compile_paths, CompileError, CompileOptions};
use gatehouse_engine::analysis::{
    Analysis, AnalysisError, Diff, DiffGroup, KeyChange, KeyChangeKind, Side, TenantDiff, WhatCan,
    WhoCan,
};
use gatehouse_engine::bundle::MAGIC;
use gatehouse_engine::credential::KeyId;
use gatehouse_engine::decide::GrantRef;
use gatehouse_engine::decide::Principal;
use gatehouse_engine::escape::{for_terminal, markdown_code, Phrase};
use gatehouse_engine::{Engine, LoadError, LoadOptions};
use serde_json::{json, Value};

use crate::Located;

/// Why a command's policy cannot be had.
#[derive(Debug, thiserror::Error)]
pub enum PolicyError {
    #[error("reading `{}`", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("give either --bundle or tenant files, not both")]
    Both,
    #[error("give --bundle BUNDLE, or tenant files or directories")]
    Neither,
    /// The tenant files do not compile: every error, located.
    #[error(transparent)]
    Invalid(Located),
    #[error(transparent)]
    Compile(CompileError),
    /// The compiled policy cannot be written as a bundle.
    #[error("{0}")]
    Encode(String),
    #[error("`{name}`: {error}")]
    Load { name: String, error: Box<LoadError> },
}

/// Where a command's policy comes from: a bundle, or tenant files compiled on the fly.
#[derive(Debug, Clone, Default)]
pub struct PolicySource {
    pub bundle: Option<PathBuf>,
    pub gateway: Option<PathBuf>,
    /// Tenant files or directories, as `gatehouse compile` takes them.
    pub inputs: Vec<PathBuf>,
}

impl PolicySource {
    /// One path that is either a bundle (by its magic bytes) or tenant files.
    pub fn path(path: &Path, gateway: Option<&Path>) -> PolicySource {
        let is_bundle =
            path.is_file() && std::fs::read(path).is_ok_and(|bytes| bytes.starts_with(&MAGIC));
        if is_bundle {
            PolicySource {
                bundle: Some(path.to_path_buf()),
                ..PolicySource::default()
            }
        } else {
            PolicySource {
                bundle: None,
                gateway: gateway.map(Path::to_path_buf),
                inputs: vec![path.to_path_buf()],
            }
        }
    }

    /// The engine for the policy: the bundle loaded, or the tenant files compiled and loaded.
    pub fn load(&self) -> Result<Engine, PolicyError> {
        let bytes = match (&self.bundle, self.inputs.is_empty()) {
            (Some(path), true) => std::fs::read(path).map_err(|source| PolicyError::Read {
                path: path.clone(),
                source,
            })?,
            (Some(_), false) => return Err(PolicyError::Both),
            (None, true) => return Err(PolicyError::Neither),
            (None, false) => {
                let options = CompileOptions {
                    gateway: self.gateway.clone(),
                    inputs: self.inputs.clone(),
                    revision: None,
                    serial: 0,
                };
                let policy = match compile_paths(&options) {
                    Ok(policy) => policy,
                    Err(CompileError::Invalid(diagnostics)) => {
                        return Err(PolicyError::Invalid(Located {
                            summary: format!("{} error(s) compiling the policy", diagnostics.len()),
                            diagnostics: diagnostics.iter().map(|d| d.to_string()).collect(),
                        }));
                    }
                    Err(err) => return Err(PolicyError::Compile(err)),
                };
                gatehouse_engine::bundle::encode(&policy, None)
                    .map_err(|e| PolicyError::Encode(e.to_string()))?
            }
        };
        let name = self
            .bundle
            .as_ref()
            .or(self.inputs.first())
            .map(|p| p.display().to_string())
            .unwrap_or_default();
        Engine::load(bytes, &LoadOptions::default()).map_err(|error| PolicyError::Load {
            name,
            error: Box::new(error),
        })
    }
}

/// `gatehouse who-can`'s question put to tenant `tenant` (or the only one): who may perform
/// `action` on `resource` (`type:path`) at `now`.
pub fn who_can<'e>(
    engine: &'e Engine,
    tenant: Option<&str>,
    resource: &str,
    action: &str,
    now: i64,
) -> Result<(Analysis<'e>, WhoCan), AnalysisError> {
    let a = engine.analysis(tenant)?;
    let resource = a.resource(resource)?;
    let action = a.action(resource, action)?;
    let who = a.who_can(resource, action, now);
    Ok((a, who))
}

/// `gatehouse what-can`'s question: what `subject` may do, optionally only on resources of
/// `resource_type` and for `action`.
pub fn what_can<'e>(
    engine: &'e Engine,
    tenant: Option<&str>,
    subject: &str,
    resource_type: Option<&str>,
    action: Option<&str>,
    now: i64,
) -> Result<(Analysis<'e>, WhatCan), AnalysisError> {
    let a = engine.analysis(tenant)?;
    let principal = a.principal(subject)?;
    let what = a.what_can(principal, resource_type, action, now)?;
    Ok((a, what))
}

/// `gatehouse what-can --credential`'s question: what a request presenting the API key of
/// `credential` may do. With `subject` (`--as`), the key must be that principal's.
pub fn what_can_credential<'e>(
    engine: &'e Engine,
    tenant: Option<&str>,
    subject: Option<&str>,
    credential: KeyId,
    resource_type: Option<&str>,
    action: Option<&str>,
    now: i64,
) -> Result<(Analysis<'e>, WhatCan), AnalysisError> {
    let a = engine.analysis(tenant)?;
    let key = a.credential(credential)?;
    if let Some(subject) = subject {
        let principal = a.principal(subject)?;
        let holder = key
            .principal
            .ok_or_else(|| AnalysisError::CredentialOrphaned {
                tenant: a.tenant_name().to_owned(),
                credential: credential.to_string(),
            })?;
        if holder != principal {
            return Err(AnalysisError::CredentialNotOf {
                credential: credential.to_string(),
                holder: a.principal_name(holder),
                subject: subject.to_owned(),
            });
        }
    }
    let what = a.what_can_credential(credential, resource_type, action, now)?;
    Ok((a, what))
}

/// The keys of `principal` listed by who-can, by id.
fn keys_of(who: &WhoCan, principal: Principal) -> Vec<KeyId> {
    who.credentials
        .iter()
        .filter(|(p, _)| *p == principal)
        .map(|(_, id)| *id)
        .collect()
}

/// The `who-can --json` document. Each allowed principal lists `credentials`: the ids of its
/// API keys that would be allowed too (live, and scoped to admit the request or unscoped).
pub fn who_can_json(a: &Analysis<'_>, who: &WhoCan) -> Value {
    json!({
        "tenant": a.tenant_name(),
        "resource": a.resource_key(who.resource),
        "action": a.action_name(who.action),
        "allowed": who.allowed.iter().map(|(p, g)| json!({
            "principal": a.principal_name(*p),
            "grant": a.grant_text(g),
            "credentials": keys_of(who, *p).iter().map(KeyId::to_string).collect::<Vec<_>>(),
        })).collect::<Vec<_>>(),
        "blocked": who.blocked.iter().map(|(p, r)| json!({
            "principal": a.principal_name(*p),
            "reason": r.code(),
        })).collect::<Vec<_>>(),
    })
}

/// `who-can` as text.
pub fn who_can_text(a: &Analysis<'_>, who: &WhoCan) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "who can {} {} (tenant {})",
        for_terminal(a.action_name(who.action)),
        for_terminal(&a.resource_key(who.resource)),
        for_terminal(a.tenant_name())
    );
    let rows: Vec<(String, String)> = who
        .allowed
        .iter()
        .map(|(p, g)| (terminal(a.principal_name(*p)), terminal(a.grant_text(g))))
        .collect();
    table(&mut out, "allowed", &rows);
    let rows: Vec<(String, String)> = who
        .blocked
        .iter()
        .map(|(p, r)| (terminal(a.principal_name(*p)), r.code().to_owned()))
        .collect();
    table(
        &mut out,
        "blocked (hold a grant, stopped by narrowing)",
        &rows,
    );
    // Only where the tenant has API keys, so that other tenants' reports read as before.
    if a.credentials().next().is_some() {
        let rows: Vec<(String, String)> = who
            .credentials
            .iter()
            .map(|(p, id)| (id.to_string(), terminal(a.principal_name(*p))))
            .collect();
        table(
            &mut out,
            "API keys of allowed principals (live, scope admits it)",
            &rows,
        );
    }
    out
}

/// A key's scope as the credentials file writes it; empty: the principal's whole access.
/// `None` for a revoked key: the bundle keeps no scope for it.
fn scope_of(a: &Analysis<'_>, what: &WhatCan) -> Option<Vec<String>> {
    let key = a.credential(what.credential?).ok()?;
    if key.revoked {
        return None;
    }
    Some(key.scope.map(|s| a.scope_rules(s)).unwrap_or_default())
}

/// The `what-can --json` document (pretty-printed text), written from typed rows: a tenant
/// admin's answer has every pair of the tenant.
pub fn what_can_json(a: &Analysis<'_>, what: &WhatCan) -> String {
    #[derive(serde::Serialize)]
    struct Allowed<'a> {
        resource: String,
        action: &'a str,
        grant: &'a str,
    }
    #[derive(serde::Serialize)]
    struct Blocked<'a> {
        resource: String,
        action: &'a str,
        reason: &'static str,
    }
    #[derive(serde::Serialize)]
    struct Doc<'a> {
        tenant: &'a str,
        principal: String,
        /// With `--credential`: the key's id and scope rules (empty: the whole access).
        #[serde(skip_serializing_if = "Option::is_none")]
        credential: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        scope: Option<Vec<String>>,
        denied: Option<&'static str>,
        allowed: Vec<Allowed<'a>>,
        blocked: Vec<Blocked<'a>>,
    }
    let mut grants = std::collections::HashMap::new();
    for (_, _, g) in &what.allowed {
        grants.entry(*g).or_insert_with(|| a.grant_text(g));
    }
    let doc = Doc {
        tenant: a.tenant_name(),
        principal: a.principal_name(what.principal),
        credential: what.credential.map(|id| id.to_string()),
        scope: scope_of(a, what),
        denied: what.denied.map(|r| r.code()),
        allowed: what
            .allowed
            .iter()
            .map(|(r, action, g)| Allowed {
                resource: a.resource_key(*r),
                action: a.action_name(*action),
                grant: grants.get(g).map_or("?", String::as_str),
            })
            .collect(),
        blocked: what
            .blocked
            .iter()
            .map(|(r, action, reason)| Blocked {
                resource: a.resource_key(*r),
                action: a.action_name(*action),
                reason: reason.code(),
            })
            .collect(),
    };
    // Plain structs of strings: serialising them cannot fail.
    serde_json::to_string_pretty(&doc).unwrap_or_default()
}

/// `what-can` as text.
pub fn what_can_text(a: &Analysis<'_>, what: &WhatCan) -> String {
    let mut out = String::new();
    match what.credential {
        Some(id) => {
            let _ = writeln!(
                out,
                "what API key {id} of {} can do (tenant {})",
                for_terminal(&a.principal_name(what.principal)),
                for_terminal(a.tenant_name())
            );
            let scope = match scope_of(a, what) {
                None => "(not kept for a revoked key)".to_owned(),
                Some(rules) if rules.is_empty() => {
                    "(none: the principal's whole access)".to_owned()
                }
                Some(rules) => {
                    let shown: Vec<String> = rules.into_iter().map(terminal).collect();
                    shown.join(", ")
                }
            };
            let _ = writeln!(out, "scope: {scope}");
        }
        None => {
            let _ = writeln!(
                out,
                "what {} can do (tenant {})",
                for_terminal(&a.principal_name(what.principal)),
                for_terminal(a.tenant_name())
            );
        }
    }
    let mut grants = GrantTexts::default();
    if let Some(reason) = what.denied {
        let why = match (what.credential, reason) {
            (Some(_), gatehouse_engine::Reason::TokenRevoked) => "the API key is revoked",
            (Some(_), gatehouse_engine::Reason::TokenExpired) => "the API key has expired",
            _ => reason.description(),
        };
        let _ = writeln!(out, "nothing: every request is denied ({reason}: {why})");
        return out;
    }
    let rows: Vec<(String, String)> = what
        .allowed
        .iter()
        .map(|(r, action, g)| {
            (
                format!(
                    "{} {}",
                    for_terminal(a.action_name(*action)),
                    for_terminal(&a.resource_key(*r))
                ),
                grants.text(a, g),
            )
        })
        .collect();
    table(&mut out, "allowed", &rows);
    let rows: Vec<(String, String)> = what
        .blocked
        .iter()
        .map(|(r, action, reason)| {
            (
                format!(
                    "{} {}",
                    for_terminal(a.action_name(*action)),
                    for_terminal(&a.resource_key(*r))
                ),
                reason.code().to_owned(),
            )
        })
        .collect();
    table(
        &mut out,
        "blocked (a grant reaches it, narrowing stops it)",
        &rows,
    );
    out
}

/// A principal's rows mostly share a few grants (a tenant admin's, all one): each is
/// rendered (for a terminal) once.
#[derive(Default)]
struct GrantTexts(std::collections::HashMap<GrantRef, String>);

impl GrantTexts {
    fn text(&mut self, a: &Analysis<'_>, grant: &GrantRef) -> String {
        self.0
            .entry(*grant)
            .or_insert_with(|| terminal(a.grant_text(grant)))
            .clone()
    }
}

/// `text` (a name, or a sentence of names) for a terminal.
fn terminal(text: String) -> String {
    match for_terminal(&text) {
        std::borrow::Cow::Borrowed(_) => text,
        std::borrow::Cow::Owned(shown) => shown,
    }
}

fn table(out: &mut String, title: &str, rows: &[(String, String)]) {
    let _ = writeln!(out, "{title}: {}", rows.len());
    let width = rows.iter().map(|(a, _)| a.len()).max().unwrap_or(0);
    for (a, b) in rows {
        let _ = writeln!(out, "  {a:<width$}  {b}");
    }
}

/// How much of a diff a report lists row by row.
#[derive(Debug, Clone, Copy)]
pub struct DiffLimits {
    /// Groups with more changes than this are summarised, their rows not listed (JSON).
    pub max_rows: usize,
    /// Rows shown per group in text and Markdown.
    pub shown: usize,
}

impl Default for DiffLimits {
    fn default() -> Self {
        DiffLimits {
            max_rows: 10_000,
            shown: 10,
        }
    }
}

struct Totals {
    changes: usize,
    gained: usize,
    groups: usize,
}

fn totals(diff: &Diff<'_>) -> Totals {
    let groups = diff.tenants.iter().flat_map(|t| &t.groups);
    let mut t = Totals {
        changes: 0,
        gained: 0,
        groups: 0,
    };
    for g in groups {
        t.changes += g.len();
        t.gained += g.gained();
        t.groups += 1;
    }
    t
}

fn side_json(t: &TenantDiff<'_>, side: &Side, new: bool) -> (Value, Value) {
    let (allowed, detail) = t.describe(side, new);
    let decision = if allowed { "allow" } else { "deny" };
    (json!(decision), json!(detail))
}

/// The `diff --json` document: `changes` lists every changed (principal, resource, action) of
/// the groups that are not summarised; `groups` gives every group with its counts.
pub fn diff_json(diff: &Diff<'_>, limits: DiffLimits) -> Value {
    let totals = totals(diff);
    let mut changes = Vec::new();
    let mut groups = Vec::new();
    for t in &diff.tenants {
        for g in &t.groups {
            let listed = g.len() <= limits.max_rows;
            if listed {
                for c in t.changes(g) {
                    let (before, before_detail) = side_json(t, &c.before, false);
                    let (after, after_detail) = side_json(t, &c.after, true);
                    let mut row = json!({
                        "tenant": t.tenant,
                        "principal": t.principal_name(c.principal),
                        "resource": t.resource_key(c.resource),
                        "action": c.action,
                        "before": before,
                        "after": after,
                        "causes": g.causes,
                    });
                    if let Some(map) = row.as_object_mut() {
                        let key = |allow: &Value, when: &str| {
                            format!(
                                "{when}_{}",
                                if allow == "allow" { "grant" } else { "reason" }
                            )
                        };
                        map.insert(key(&before, "before"), before_detail);
                        map.insert(key(&after, "after"), after_detail);
                    }
                    changes.push(row);
                }
            }
            groups.push(group_json(t, g, listed));
        }
    }
    json!({
        "summary": {
            "changes": totals.changes,
            "gained": totals.gained,
            "lost": totals.changes - totals.gained,
            "groups": totals.groups,
        },
        "changes": changes,
        "groups": groups,
        "notes": notes(diff),
        "credentials": diff
            .tenants
            .iter()
            .flat_map(|t| t.credentials.iter().map(|c| key_change_json(&t.tenant, c)))
            .collect::<Vec<_>>(),
    })
}

/// One API-key change: `tenant`, `id`, `principal`, `change` (its code), `description`, and
/// what the change needs: `scope` and `expires` of a created key; `before` and `after` of a
/// rescoped key (rule lists), an expiry or rotation (Unix seconds or null), a principal change;
/// `replacements` of a rotation.
fn key_change_json(tenant: &str, c: &KeyChange) -> Value {
    let mut row = json!({
        "tenant": tenant,
        "id": c.id.to_string(),
        "principal": c.principal,
        "change": c.kind.code(),
        "description": c.phrase(),
    });
    let extra = match &c.kind {
        KeyChangeKind::Created {
            scope,
            expires,
            revoked,
        } => json!({"scope": scope, "expires": expires, "revoked": revoked}),
        KeyChangeKind::Rescoped { before, after } => json!({"before": before, "after": after}),
        KeyChangeKind::Expiry { before, after } => json!({"before": before, "after": after}),
        KeyChangeKind::Rotated {
            before,
            after,
            replacements,
        } => json!({
            "before": before,
            "after": after,
            "replacements": replacements.iter().map(KeyId::to_string).collect::<Vec<_>>(),
        }),
        KeyChangeKind::PrincipalChanged { before, after } => {
            json!({"before": before, "after": after})
        }
        KeyChangeKind::Removed | KeyChangeKind::Revoked | KeyChangeKind::Unrevoked => json!({}),
    };
    if let (Some(row), Value::Object(extra)) = (row.as_object_mut(), extra) {
        row.extend(extra);
    }
    row
}

/// Every API-key change, each prefixed with its tenant.
fn key_changes(diff: &Diff<'_>) -> Vec<Phrase> {
    let mut out = Vec::new();
    for t in &diff.tenants {
        let tenant = Phrase::new().name(&t.tenant).word(": ");
        out.extend(
            t.credentials
                .iter()
                .map(|c| tenant.clone().then(&c.phrase())),
        );
    }
    out
}

/// Changes that no (principal, resource, action) shows: the gateway's, and those only token
/// requests read, each prefixed with its tenant.
fn notes(diff: &Diff<'_>) -> Vec<Phrase> {
    let mut out: Vec<Phrase> = diff
        .notes
        .iter()
        .map(|n| Phrase::new().word("gateway: ").then(n))
        .collect();
    for t in &diff.tenants {
        let tenant = Phrase::new().name(&t.tenant).word(": ");
        out.extend(t.notes.iter().map(|n| tenant.clone().then(n)));
    }
    out
}

fn group_json(t: &TenantDiff<'_>, g: &DiffGroup, listed: bool) -> Value {
    let (principals, resources) = t.extent(g);
    json!({
        "tenant": t.tenant,
        "causes": g.causes,
        "changes": g.len(),
        "gained": g.gained(),
        "lost": g.len() - g.gained(),
        "principals": principals,
        "resources": resources,
        "listed": listed,
    })
}

/// `diff --markdown`: for a pull-request comment. Counts first, then each group with its
/// causes and its first rows.
pub fn diff_markdown(diff: &Diff<'_>, limits: DiffLimits) -> String {
    let totals = totals(diff);
    let mut out = String::new();
    let _ = writeln!(out, "### Gatehouse access changes\n");
    let notes = notes(diff);
    if !notes.is_empty() {
        let _ = writeln!(
            out,
            "**Also changed** (affects token requests or routing, not counted below):\n"
        );
        for n in &notes {
            let _ = writeln!(out, "- {}", n.markdown());
        }
        out.push('\n');
    }
    let keys = key_changes(diff);
    if !keys.is_empty() {
        let _ = writeln!(
            out,
            "**API keys** (a key changes no principal's access, not counted below):\n"
        );
        for k in &keys {
            let _ = writeln!(out, "- {}", k.markdown());
        }
        out.push('\n');
    }
    if totals.changes == 0 {
        let _ = writeln!(out, "No decision changes.");
        return out;
    }
    let _ = writeln!(
        out,
        "**{} decision(s) change**: {} gained, {} lost, in {} group(s).\n",
        totals.changes,
        totals.gained,
        totals.changes - totals.gained,
        totals.groups
    );
    let _ = writeln!(
        out,
        "| # | tenant | cause | gained | lost | principals | resources |"
    );
    let _ = writeln!(out, "|---|---|---|---:|---:|---:|---:|");
    let mut n = 0;
    for t in &diff.tenants {
        for g in &t.groups {
            n += 1;
            let (p, r) = t.extent(g);
            let _ = writeln!(
                out,
                "| {n} | {} | {} | {} | {} | {p} | {r} |",
                cell(&markdown_code(&t.tenant)),
                cell(&causes_markdown(g)),
                g.gained(),
                g.len() - g.gained()
            );
        }
    }
    let mut n = 0;
    for t in &diff.tenants {
        for g in &t.groups {
            n += 1;
            let _ = writeln!(out, "\n#### {n}. {}\n", causes_markdown(g));
            let _ = writeln!(out, "| principal | action | resource | before | after |");
            let _ = writeln!(out, "|---|---|---|---|---|");
            for c in t.changes(g).take(limits.shown) {
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {} | {} |",
                    cell(&markdown_code(&t.principal_name(c.principal))),
                    cell(&markdown_code(c.action)),
                    cell(&markdown_code(&t.resource_key(c.resource))),
                    cell(&side_text(t, &c.before, false, markdown_code)),
                    cell(&side_text(t, &c.after, true, markdown_code)),
                );
            }
            if g.len() > limits.shown {
                let (p, r) = t.extent(g);
                let _ = writeln!(
                    out,
                    "\n_… and {} more ({} changes over {p} principal(s) and {r} resource(s) in all)._",
                    g.len() - limits.shown,
                    g.len()
                );
            }
        }
    }
    out
}

/// `diff` as text.
pub fn diff_text(diff: &Diff<'_>, limits: DiffLimits) -> String {
    let totals = totals(diff);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} decision(s) change: {} gained, {} lost, in {} group(s)",
        totals.changes,
        totals.gained,
        totals.changes - totals.gained,
        totals.groups
    );
    for n in notes(diff) {
        let _ = writeln!(out, "also changed: {}", n.for_terminal());
    }
    for k in key_changes(diff) {
        let _ = writeln!(out, "api key: {}", k.for_terminal());
    }
    for t in &diff.tenants {
        for g in &t.groups {
            let (p, r) = t.extent(g);
            let _ = writeln!(
                out,
                "\n[{}] {} ({} gained, {} lost; {p} principal(s), {r} resource(s))",
                for_terminal(&t.tenant),
                causes_text(g),
                g.gained(),
                g.len() - g.gained()
            );
            for c in t.changes(g).take(limits.shown) {
                let _ = writeln!(
                    out,
                    "  {} {} {}: {} -> {}",
                    for_terminal(&t.principal_name(c.principal)),
                    for_terminal(c.action),
                    for_terminal(&t.resource_key(c.resource)),
                    side_text(t, &c.before, false, |g| terminal(g.to_owned())),
                    side_text(t, &c.after, true, |g| terminal(g.to_owned()))
                );
            }
            if g.len() > limits.shown {
                let _ = writeln!(out, "  ... and {} more", g.len() - limits.shown);
            }
        }
    }
    out
}

fn causes_text(g: &DiffGroup) -> String {
    let causes: Vec<_> = g.causes.iter().map(Phrase::for_terminal).collect();
    causes.join("; ")
}

fn causes_markdown(g: &DiffGroup) -> String {
    let causes: Vec<String> = g.causes.iter().map(Phrase::markdown).collect();
    causes.join("; ")
}

/// A side's decision: `allow` with the grant (shown by `grant`), or `deny` with the reason.
fn side_text(t: &TenantDiff<'_>, side: &Side, new: bool, grant: fn(&str) -> String) -> String {
    match t.describe(side, new) {
        (true, Some(g)) => format!("allow ({})", grant(&g)),
        (true, None) => "allow".to_owned(),
        (false, reason) => format!("deny ({})", reason.unwrap_or_default()),
    }
}

/// Markdown (names already in code spans) for a GFM table cell: a `|` would end the cell, even
/// inside a code span.
fn cell(markdown: &str) -> String {
    markdown.replace('|', "\\|")
}
