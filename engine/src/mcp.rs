//! MCP servers as OAuth 2.1 protected resources (SPEC 3.4; the MCP authorization specification,
//! RFC 9728 protected-resource metadata, RFC 8707 resource indicators), and what the filter
//! writes for them: the metadata document, the challenge parameters, refusals a JSON-RPC client
//! can show, and `tools/list` responses trimmed to the tools a caller may call ([`trim`]).
//!
//! Everything here is a pure function of the gateway file's [`McpResource`], the request and the
//! bytes given: nothing calls the network, so `gatehouse check`, the browser build and the filter
//! produce the same documents.

use serde_json::{json, Value};

use crate::authority;
use crate::model::{Gateway, IdentityProvider, McpResource, Refusal, ResolveTo, TokenSource};
use crate::reason::{ErrorKind, Reason};
use crate::request;

pub mod trim;

/// The JSON-RPC method whose target is a tool: the resource every listed tool is decided as.
pub const TOOLS_CALL: &str = "tools/call";
/// The JSON-RPC method whose responses are trimmed.
pub const TOOLS_LIST: &str = "tools/list";
/// RFC 9728 3.1: the well-known path the metadata of `https://host/path` is served at is this,
/// followed by `/path`.
pub const WELL_KNOWN: &str = "/.well-known/oauth-protected-resource";

/// The JSON-RPC error code of an authorization refusal: in the server-error range JSON-RPC 2.0
/// leaves to implementations (-32000 to -32099); the reason code is in `error.data.reason`.
pub const REFUSED_CODE: i64 = -32001;
/// The JSON-RPC error code that replaces a `tools/list` response the filter cannot trim
/// (JSON-RPC's "internal error": the client did nothing wrong).
pub const TRIM_FAILED_CODE: i64 = -32603;

/// A scope token (RFC 6749 3.3: `%x21 / %x23-5B / %x5D-7E`, at least one): what a route's
/// `scopes` may hold, so a scope never ends a challenge's quoted-string or splits in two.
pub fn is_scope_token(scope: &str) -> bool {
    !scope.is_empty()
        && scope
            .chars()
            .all(|c| c.is_ascii_graphic() && c != '"' && c != '\\')
}

/// An audience a route may accept: not empty, no control character, quote or backslash.
pub fn is_audience(audience: &str) -> bool {
    !audience.is_empty()
        && !audience
            .chars()
            .any(|c| c.is_control() || c == '"' || c == '\\')
}

/// The schemes a canonical resource URL may have.
pub fn is_scheme(scheme: &str) -> bool {
    matches!(scheme, "https" | "http")
}

/// The JSON-RPC method of a request on an MCP route, as far as the filter cares.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum McpMethod {
    ToolsList,
    ToolsCall,
    Other,
}

impl McpMethod {
    pub fn of(method: &str) -> McpMethod {
        match method {
            TOOLS_LIST => McpMethod::ToolsList,
            TOOLS_CALL => McpMethod::ToolsCall,
            _ => McpMethod::Other,
        }
    }
}

/// `scheme://authority` of the resource a request addresses: the configured scheme, else the
/// request's `:scheme` (`https` when absent, as `gatehouse check` sends none); the authority read
/// the one way [`authority::parse`] reads it, lowercase, without the scheme's default port.
pub fn origin(
    mcp: &McpResource,
    authority: &str,
    headers: &[(&str, &str)],
) -> Result<String, Reason> {
    let scheme = match &mcp.scheme {
        Some(scheme) => scheme.as_str(),
        None => match request::header(headers, ":scheme")? {
            None => "https",
            Some(s) if s.eq_ignore_ascii_case("https") => "https",
            Some(s) if s.eq_ignore_ascii_case("http") => "http",
            Some(_) => return Err(Reason::RequestAmbiguous),
        },
    };
    let parsed = authority::parse(authority)?;
    let default_port = if scheme == "https" { 443 } else { 80 };
    Ok(match parsed.port {
        Some(port) if port != default_port => format!("{scheme}://{}:{port}", parsed.host),
        _ => format!("{scheme}://{}", parsed.host),
    })
}

/// The canonical URL of the protected resource at `path` (query string dropped): what a token
/// for it carries in `aud` (RFC 8707) and what its metadata names as `resource`.
pub fn resource_url(origin: &str, path: &str) -> String {
    let (path, _) = request::split_query(path);
    format!("{origin}{path}")
}

/// Where the metadata of the resource at `path` is served (RFC 9728 3.1).
pub fn metadata_url(origin: &str, path: &str) -> String {
    let (path, _) = request::split_query(path);
    format!("{origin}{WELL_KNOWN}{path}")
}

/// The RFC 9728 document of the resource `resource`: its authorization servers are the issuers
/// of the tenant's identity providers the route names (by default every provider that resolves
/// tokens to users: those are the ones a person signs in with), in the bundle's order
/// of providers (sorted by name by the compiler).
pub fn metadata_document(
    mcp: &McpResource,
    gateway: &Gateway,
    providers: &[IdentityProvider],
    resource: &str,
) -> String {
    let servers: Vec<&str> = providers
        .iter()
        .filter(|p| {
            if mcp.authorization_servers.is_empty() {
                matches!(p.resolve_to, ResolveTo::User { .. })
            } else {
                mcp.authorization_servers.contains(&p.name)
            }
        })
        .map(|p| p.issuer.as_str())
        .collect();
    let mut methods: Vec<&str> = gateway
        .token_sources
        .iter()
        .filter_map(|s| match s {
            TokenSource::Header { .. } if s.is_bearer() => Some("header"),
            TokenSource::Query { .. } => Some("query"),
            TokenSource::Header { .. } | TokenSource::Cookie { .. } => None,
        })
        .collect();
    methods.dedup();
    let mut doc = json!({
        "resource": resource,
        "authorization_servers": servers,
        "bearer_methods_supported": methods,
    });
    if let (false, Some(doc)) = (mcp.scopes.is_empty(), doc.as_object_mut()) {
        doc.insert("scopes_supported".to_owned(), json!(mcp.scopes));
    }
    doc.to_string()
}

/// The parameters a challenge on a protected route adds to `WWW-Authenticate` (RFC 9728 5.1,
/// RFC 6750 3): where the metadata is, and the scopes the route needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    pub resource_metadata: String,
    /// Space-separated; empty when the route configures none.
    pub scope: String,
}

impl Challenge {
    pub fn new(mcp: &McpResource, origin: &str, path: &str) -> Challenge {
        Challenge {
            resource_metadata: metadata_url(origin, path),
            scope: mcp.scopes.join(" "),
        }
    }

    /// The parameters after `realm`, each `, name="value"`. Values are URLs and scope tokens
    /// the compiler checked, and the authority [`authority::parse`] accepted: none holds a `"`
    /// or `\`; any such character is dropped regardless, so the quoted-string cannot end early.
    pub fn params(&self, reason: Reason) -> String {
        let mut out = String::new();
        if reason == Reason::InsufficientScope {
            out.push_str(", error=\"insufficient_scope\"");
        }
        if !self.scope.is_empty() {
            out.push_str(&format!(", scope=\"{}\"", quoted(&self.scope)));
        }
        out.push_str(&format!(
            ", resource_metadata=\"{}\"",
            quoted(&self.resource_metadata)
        ));
        out
    }
}

/// A quoted-string's content: drops what would end it early.
pub(crate) fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
}

/// Whether a denial for `reason` is an authorization refusal a JSON-RPC client should see as a
/// JSON-RPC answer: the caller is known and may not do this. Authentication failures stay 401
/// (the OAuth dance starts there), `insufficient_scope` stays a 403 challenge (clients step up on
/// it), and malformed requests stay HTTP errors.
pub fn refusal_applies(reason: Reason) -> bool {
    reason.error_kind() == ErrorKind::Forbidden
        && !matches!(
            reason,
            Reason::InsufficientScope | Reason::TenantUnknown | Reason::NoRoute
        )
}

/// The body of a refusal of the JSON-RPC request with id `id` (its JSON text), in the shape the
/// route asks for; `None`: answer with the HTTP denial (`refusal: http`, or a request without an
/// id, such as a notification, which gets no JSON-RPC response).
pub fn refusal_body(
    refusal: Refusal,
    method: McpMethod,
    id: Option<&str>,
    reason: Reason,
) -> Option<String> {
    let id = id?;
    let text = format!("forbidden: {}", reason.code());
    let body = match (refusal, method) {
        (Refusal::Http, _) => return None,
        // `resultType` is required by clients of the 2026-07-28 protocol revision (the Python
        // SDK 2.x refuses a result without it) and ignored by earlier ones.
        (Refusal::ToolResult, McpMethod::ToolsCall) => json!({
            "content": [{"type": "text", "text": text}],
            "isError": true,
            "resultType": "complete",
        }),
        (Refusal::JsonRpc | Refusal::ToolResult, _) => json!({
            "code": REFUSED_CODE,
            "message": text,
            "data": {"error": "forbidden", "reason": reason.code()},
        }),
    };
    let member = if matches!(
        (refusal, method),
        (Refusal::ToolResult, McpMethod::ToolsCall)
    ) {
        "result"
    } else {
        "error"
    };
    Some(format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{id},\"{member}\":{body}}}"
    ))
}

/// The id of a JSON-RPC request body, as JSON text to echo in a response: a string or a number
/// (JSON-RPC 2.0 4); `None` when the body has none (a notification) or cannot be read.
pub fn request_id(body: &[u8]) -> Option<String> {
    let value = crate::json::parse_strict(body).ok()?;
    match value.get("id")? {
        id @ (Value::String(_) | Value::Number(_)) => Some(id.to_string()),
        _ => None,
    }
}

/// The JSON-RPC error that replaces a `tools/list` response the filter cannot trim.
pub fn trim_failed_body(id: Option<&str>, why: &str) -> String {
    let message = format!("gatehouse refused the tools/list response: {why}");
    format!(
        "{{\"jsonrpc\":\"2.0\",\"id\":{},\"error\":{{\"code\":{TRIM_FAILED_CODE},\"message\":{}}}}}",
        id.unwrap_or("null"),
        Value::String(message)
    )
}

#[cfg(test)]
mod tests;
