//! `gatehouse check`: a request as its flags give it ([`CheckRequest`]), decided and explained
//! exactly as the filter decides it ([`check`]), and the answer as text or as the `--json` object
//! ([`render_outcome`], [`outcome_json`]). `gatehouse test` request cases and the JavaScript
//! package go through the same functions.

use std::fmt::Write as _;

use gatehouse_engine::analysis::{AnalysisError, ToolsList, ToolsQuery};
use gatehouse_engine::credential::KeyId;
use gatehouse_engine::decide::Explanation;
use gatehouse_engine::escape::for_terminal;
use gatehouse_engine::route::Body;
use gatehouse_engine::{Decision, Engine, Identity, Outcome, Request};
use serde_json::{json, Value};

/// Why a request cannot be put to the bundle.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CheckError {
    /// No `--host`, and no lone tenant to take it from.
    #[error("the bundle has several tenants: say which with --host")]
    SeveralTenants,
    /// `--as` and `--credential` name different principals.
    #[error(transparent)]
    Credential(Box<AnalysisError>),
    /// `--tools-list`: no path given, and no route of the gateway serves the server's tools.
    #[error(transparent)]
    Tools(Box<AnalysisError>),
}

/// A trusted bundle signing key that is not one.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("trusted key `{key}` {message}")]
pub struct TrustedKeyError {
    pub key: String,
    pub message: String,
}

/// The host `check` uses when none is given: that of a lone tenant.
pub fn default_host(engine: &Engine) -> Result<String, CheckError> {
    match engine.bundle().tenants() {
        [only] => Ok(host_of(only)),
        _ => Err(CheckError::SeveralTenants),
    }
}

/// A host the tenant serves: its first exact host, else a name under its first wildcard.
pub fn host_of(tenant: &gatehouse_engine::bundle::LoadedTenant) -> String {
    let hosts = &tenant.config.hosts;
    hosts
        .iter()
        .find(|h| !h.starts_with('*'))
        .cloned()
        .or_else(|| {
            hosts
                .first()
                .map(|h| format!("gatehouse{}", h.trim_start_matches('*')))
        })
        .unwrap_or_else(|| "localhost".to_owned())
}

/// A request as `gatehouse check` takes it (its flags); `gatehouse test` cases and the
/// JavaScript package give the same fields.
#[derive(Debug, Clone, Default)]
pub struct CheckRequest {
    pub method: String,
    /// With the query string, if any.
    pub path: String,
    /// `:authority`; `None`: the host of a lone tenant ([`default_host`]).
    pub host: Option<String>,
    /// `(name, value)`, in order.
    pub headers: Vec<(String, String)>,
    /// Sent as `Authorization: Bearer <token>`.
    pub token: Option<String>,
    /// Decide for this subject instead of a token (`user:<email>`, `virtualaccount:<name>`).
    /// With `credential`, the key's principal, which it must be.
    pub as_subject: Option<String>,
    /// Decide as a request presenting the API key of this id would be decided (every check but
    /// the secret's): its revocation, expiry, principal and scope.
    pub credential: Option<KeyId>,
    pub body: Option<Vec<u8>>,
    /// Send a body without the default `content-type: application/json`.
    pub no_content_type: bool,
}

/// A decision and its explanation, and what the filter answers besides the decision on an MCP
/// route.
#[derive(Debug)]
pub struct Checked<'e> {
    pub outcome: Outcome<'e>,
    pub explanation: Explanation,
    /// The `WWW-Authenticate` header of a denial ([`Engine::www_authenticate`]).
    pub www_authenticate: Option<String>,
    /// The protected-resource metadata the filter serves instead of deciding the request
    /// ([`Engine::protected_resource_metadata`]): the answer is then this document.
    pub document: Option<String>,
}

impl<'e> Checked<'e> {
    /// The decision of `request`, with the challenge and the metadata the filter adds to it.
    pub fn of(
        engine: &Engine,
        request: &Request<'_>,
        outcome: Outcome<'e>,
        explanation: Explanation,
    ) -> Checked<'e> {
        Checked {
            www_authenticate: engine.www_authenticate(&outcome, request),
            document: engine.protected_resource_metadata(request),
            outcome,
            explanation,
        }
    }
}

/// `gatehouse check`: the request as the filter would see it, decided and explained at `now`.
pub fn check<'e>(
    engine: &'e Engine,
    request: &CheckRequest,
    now: i64,
) -> Result<Checked<'e>, CheckError> {
    let host = host_for(engine, request)?;
    let headers = headers_of(request);
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let max = engine.bundle().gateway().max_body_bytes as usize;
    let body = match &request.body {
        None => Body::Absent,
        Some(b) if b.len() > max => Body::TooLarge,
        Some(b) => Body::Bytes(b),
    };
    let facts = Request {
        authority: &host,
        method: &request.method,
        path: &request.path,
        headers: &header_refs,
        body,
    };
    let identity = identity_of(request);
    let (mut outcome, explanation) = engine.explain(&facts, identity, now);
    if let (Some(id), Some(subject)) = (request.credential, &request.as_subject) {
        if let Some(tenant) = outcome.tenant_name() {
            key_is_of(engine, tenant, id, subject)
                .map_err(|e| CheckError::Credential(Box::new(e)))?;
        }
    }
    // The key asked about, also when the decision stopped before resolving it (revoked,
    // expired, unknown).
    if outcome.credential.is_none() {
        outcome.credential = request.credential;
    }
    Ok(Checked::of(engine, &facts, outcome, explanation))
}

/// `gatehouse check --tools-list SERVER`: what `tools/list` on the MCP server shows the caller of
/// `request` (its host, headers, token, `--as` or `--credential`; its path if not empty, else the
/// server's endpoint from the gateway), each tool with the decision of a `tools/call` of it.
/// The request's method and body are not used: MCP clients `POST` JSON-RPC.
pub fn tools_list<'e>(
    engine: &'e Engine,
    request: &CheckRequest,
    server: &str,
    now: i64,
) -> Result<ToolsList<'e>, CheckError> {
    let host = host_for(engine, request)?;
    let headers = headers_of(request);
    let header_refs: Vec<(&str, &str)> = headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect();
    let query = ToolsQuery {
        authority: &host,
        server,
        path: Some(request.path.as_str()).filter(|p| !p.is_empty()),
        headers: &header_refs,
    };
    let mut list = engine
        .tools_list(&query, identity_of(request), now)
        .map_err(|e| CheckError::Tools(Box::new(e)))?;
    if let (Some(id), Some(subject)) = (request.credential, &request.as_subject) {
        if let Some(tenant) = list.list.tenant_name() {
            key_is_of(engine, tenant, id, subject)
                .map_err(|e| CheckError::Credential(Box::new(e)))?;
        }
    }
    if list.list.credential.is_none() {
        list.list.credential = request.credential;
    }
    Ok(list)
}

fn host_for(engine: &Engine, request: &CheckRequest) -> Result<String, CheckError> {
    match &request.host {
        Some(h) => Ok(h.clone()),
        None => default_host(engine),
    }
}

/// The request's headers, then the token as `Authorization: Bearer`, then a JSON content type
/// when there is a body and no header names one (as clients of JSON APIs send it).
fn headers_of(request: &CheckRequest) -> Vec<(String, String)> {
    let mut headers = request.headers.clone();
    if let Some(token) = &request.token {
        headers.push(("authorization".to_owned(), format!("Bearer {token}")));
    }
    if request.body.is_some()
        && !request.no_content_type
        && !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
    {
        headers.push(("content-type".to_owned(), "application/json".to_owned()));
    }
    headers
}

fn identity_of(request: &CheckRequest) -> Identity<'_> {
    match (request.credential, &request.as_subject) {
        (Some(id), _) => Identity::Credential(id),
        (None, Some(subject)) => Identity::Subject(subject),
        (None, None) => Identity::Token,
    }
}

/// With `--as` and `--credential`: the key of `id` must be `subject`'s. A key the tenant does not
/// have is left to the decision (`credential_unknown`).
fn key_is_of(engine: &Engine, tenant: &str, id: KeyId, subject: &str) -> Result<(), AnalysisError> {
    let a = engine.analysis(Some(tenant))?;
    let Ok(key) = a.credential(id) else {
        return Ok(());
    };
    let holder = key
        .principal
        .ok_or_else(|| AnalysisError::CredentialOrphaned {
            tenant: tenant.to_owned(),
            credential: id.to_string(),
        })?;
    if a.principal(subject).ok() == Some(holder) {
        return Ok(());
    }
    Err(AnalysisError::CredentialNotOf {
        credential: id.to_string(),
        holder: a.principal_name(holder),
        subject: subject.to_owned(),
    })
}

/// The `gatehouse check --json` object for a decision (SPEC 5), with its explanation.
pub fn outcome_json(outcome: &Outcome<'_>, explanation: &Explanation) -> Value {
    let (decision, status, reason) = decision_parts(outcome);
    json!({
        "decision": decision,
        "status": status,
        "reason": reason,
        "tenant": outcome.tenant_name(),
        "principal": outcome.subject(),
        "credential": outcome.credential.map(|id| id.to_string()),
        "route": outcome.route_name(),
        "resource": outcome.resource(),
        "action": outcome.action,
        "grant": outcome.grant(),
        "credential": outcome.credential.map(|id| id.to_string()),
        "explain": explanation,
    })
}

/// The `gatehouse check --json` object of a checked request: the metadata document the filter
/// serves (`{"decision":"respond","status":200,"document":{...}}`), else [`outcome_json`] with
/// the denial's `www_authenticate` header when it has one.
pub fn checked_json(checked: &Checked<'_>) -> Value {
    if let Some(document) = &checked.document {
        return respond_json(document);
    }
    let mut out = outcome_json(&checked.outcome, &checked.explanation);
    if let (Some(header), Some(out)) = (&checked.www_authenticate, out.as_object_mut()) {
        out.insert("www_authenticate".to_owned(), json!(header));
    }
    out
}

/// The filter answers the request itself with `document` (JSON the engine wrote).
fn respond_json(document: &str) -> Value {
    json!({
        "decision": "respond",
        "status": 200,
        "document": serde_json::from_str::<Value>(document).unwrap_or_else(|_| json!(document)),
    })
}

/// `gatehouse check` output of a checked request: [`render_outcome`] with the challenge, or the
/// metadata document the filter serves instead.
pub fn render_checked(checked: &Checked<'_>, as_json: bool) -> String {
    if as_json {
        return format!("{}\n", checked_json(checked));
    }
    if let Some(document) = &checked.document {
        let shown = serde_json::from_str::<Value>(document)
            .ok()
            .and_then(|v| serde_json::to_string_pretty(&v).ok())
            .unwrap_or_else(|| document.clone());
        let mut out = "respond 200 (protected-resource metadata)\n".to_owned();
        for line in shown.lines() {
            let _ = writeln!(out, "{}", for_terminal(line));
        }
        return out;
    }
    let mut out = render_outcome(&checked.outcome, &checked.explanation, false);
    if let Some(header) = &checked.www_authenticate {
        // After the rows, before the explanation.
        let at = out.find("\nwhy: ").map_or(out.len(), |i| i + 1);
        out.insert_str(
            at,
            &format!("  {:<10} {}\n", "challenge", for_terminal(header)),
        );
    }
    out
}

fn decision_parts(outcome: &Outcome<'_>) -> (&'static str, u16, Option<&'static str>) {
    match outcome.decision {
        Decision::Allow { .. } => ("allow", 200, None),
        Decision::Deny { reason } => ("deny", reason.status(), Some(reason.code())),
    }
}

/// The `gatehouse check --tools-list --json` object: the `tools/list` request's decision, every
/// tool of the server with its `tools/call` decision (`allowed`, and the `reason` or the
/// `grant`), and `shown`, the names a trimmed list keeps.
pub fn tools_list_json(server: &str, list: &ToolsList<'_>) -> Value {
    let decision = |o: &Outcome<'_>| {
        json!({
            "allowed": o.decision.is_allow(),
            "reason": o.decision.reason().map(|r| r.code()),
            "resource": o.resource(),
            "action": o.action,
            "grant": o.grant(),
        })
    };
    let tools: Vec<Value> = list
        .tools
        .iter()
        .map(|(name, o)| {
            let mut tool = decision(o);
            if let Some(fields) = tool.as_object_mut() {
                fields.insert("name".to_owned(), json!(name));
            }
            tool
        })
        .collect();
    json!({
        "tenant": list.list.tenant_name(),
        "principal": list.list.subject(),
        "credential": list.list.credential.map(|id| id.to_string()),
        "server": server,
        "path": list.path,
        "route": list.list.route_name(),
        "list": decision(&list.list),
        "tools": tools,
        "shown": list.shown().collect::<Vec<_>>(),
    })
}

/// `gatehouse check --tools-list` as text: the list's decision, then the tools shown (with the
/// grant) and those trimmed (with the reason), names escaped for a terminal.
pub fn render_tools_list(server: &str, list: &ToolsList<'_>) -> String {
    let mut out = String::new();
    let (decision, status, reason) = decision_parts(&list.list);
    let _ = writeln!(
        out,
        "tools/list on mcp-server:{}: {decision} {status}{}",
        for_terminal(server),
        reason.map(|r| format!(" {r}")).unwrap_or_default()
    );
    let rows = [
        ("tenant", list.list.tenant_name().map(str::to_owned)),
        ("principal", list.list.subject()),
        ("credential", list.list.credential.map(|id| id.to_string())),
        ("request", Some(format!("POST {}", list.path))),
        ("route", list.list.route_name().map(str::to_owned)),
    ];
    for (name, value) in rows {
        if let Some(value) = value {
            let _ = writeln!(out, "  {name:<10} {}", for_terminal(&value));
        }
    }
    if !list.list.decision.is_allow() {
        let _ = writeln!(out, "the client gets no list: tools/list itself is denied");
    }
    let width = list
        .tools
        .iter()
        .map(|(n, _)| for_terminal(n).chars().count())
        .max()
        .unwrap_or(0);
    let listed = list.list.decision.is_allow();
    let mut section = |title: &str, keep: bool| {
        let _ = writeln!(out, "{title}");
        let mut any = false;
        for (name, o) in &list.tools {
            if (listed && o.decision.is_allow()) != keep {
                continue;
            }
            any = true;
            let why = match o.decision.reason() {
                Some(reason) => reason.code().to_owned(),
                None if !listed => "allowed, but the list is denied".to_owned(),
                None => o.grant().unwrap_or_default(),
            };
            let _ = writeln!(
                out,
                "  {:<width$}  {}",
                for_terminal(name),
                for_terminal(&why)
            );
        }
        if !any {
            let _ = writeln!(out, "  (none)");
        }
    };
    section("shown (tools/call allowed)", true);
    section("trimmed", false);
    out
}

/// `gatehouse check` output: one JSON object, or a few aligned lines and the explanation (names
/// from the policy and the request escaped for a terminal).
pub fn render_outcome(outcome: &Outcome<'_>, explanation: &Explanation, as_json: bool) -> String {
    if as_json {
        return format!("{}\n", outcome_json(outcome, explanation));
    }
    let (decision, status, reason) = decision_parts(outcome);
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{decision} {status}{}",
        reason.map(|r| format!(" {r}")).unwrap_or_default()
    );
    let rows = [
        ("tenant", outcome.tenant_name().map(str::to_owned)),
        ("principal", outcome.subject()),
        ("route", outcome.route_name().map(str::to_owned)),
        ("resource", outcome.resource()),
        ("action", outcome.action.map(str::to_owned)),
        ("grant", outcome.grant()),
        ("credential", outcome.credential.map(|id| id.to_string())),
    ];
    for (name, value) in rows {
        if let Some(value) = value {
            let _ = writeln!(out, "  {name:<10} {}", for_terminal(&value));
        }
    }
    out.push_str(&render_explanation(explanation));
    out
}

/// The explanation as indented lines, its names escaped for a terminal.
pub fn render_explanation(e: &Explanation) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "why: {}", for_terminal(&e.summary));
    let list = |v: &[String]| {
        if v.is_empty() {
            "(none)".to_owned()
        } else {
            let shown: Vec<_> = v.iter().map(|x| for_terminal(x)).collect();
            shown.join(", ")
        }
    };
    if !e.subjects.is_empty() {
        let _ = writeln!(out, "  subjects tried        {}", list(&e.subjects));
    }
    if !e.tenant_roles.is_empty() {
        let _ = writeln!(out, "  tenant roles          {}", list(&e.tenant_roles));
    }
    for s in &e.searched {
        let _ = writeln!(
            out,
            "  searched {}{}",
            for_terminal(&s.resource),
            if s.disabled { " (disabled)" } else { "" }
        );
        if let Some(authorized) = &s.authorized_subjects {
            let _ = writeln!(out, "    admits only         {}", list(authorized));
        }
        if let Some(admitted) = &s.admitted {
            let _ = writeln!(out, "    caller admitted as  {}", list(admitted));
        }
        let _ = writeln!(out, "    roles granting it   {}", list(&s.roles_granting));
        let _ = writeln!(out, "    caller holds        {}", list(&s.held));
        let more = s.granted_to_count.saturating_sub(s.granted_to.len());
        let _ = writeln!(
            out,
            "    granted to          {}{}",
            list(&s.granted_to),
            if more > 0 {
                format!(" (and {more} more)")
            } else {
                String::new()
            }
        );
    }
    if !e.tenant_roles_granting.is_empty() {
        let _ = writeln!(
            out,
            "  tenant roles granting it {}",
            list(&e.tenant_roles_granting)
        );
    }
    out
}

/// A trusted bundle signing key: base64 (standard or url-safe) of the 32-byte Ed25519 key.
pub fn decode_public_key(text: &str) -> Result<[u8; 32], TrustedKeyError> {
    gatehouse_engine::trust::parse_trusted_key(text).map_err(|e| TrustedKeyError {
        key: text.trim().to_owned(),
        message: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine as _;

    use super::*;

    #[test]
    fn public_keys() {
        let key = STANDARD.encode([7u8; 32]);
        assert_eq!(decode_public_key(&key).unwrap(), [7u8; 32]);
        assert!(decode_public_key("AAAA").is_err());
    }
}
