//! What the engine decides for MCP routes beyond the seven steps (SPEC 3.4): the metadata a
//! protected route publishes, the challenge its denials carry, the audience and scopes its tokens
//! must hold, and which of the tools a `tools/list` response names the caller may call.

use std::borrow::Cow;

use crate::jwt::Token;
use crate::mcp::{self, trim, Challenge, McpMethod};
use crate::model::{McpResource, Part, PathMatch, RouteTarget, Segment};
use crate::reason::{ErrorKind, Reason};
use crate::request;
use crate::route::{self, Facts};

use super::{Caller, Engine, NoTrace, Outcome, Request};

/// What the filter keeps from an allowed `tools/list` request to trim its response: the caller
/// the request resolved to and the `tools/call` target with everything but the tool's name
/// filled from the request. Each listed tool is then decided as a `tools/call` of it would be.
#[derive(Debug, Clone)]
pub struct ToolsListGrant {
    /// Index of the tenant in the bundle of the engine that made it.
    tenant: usize,
    caller: Caller,
    resource_type: String,
    action: String,
    path: Vec<Piece>,
    /// The largest response body to buffer.
    max_bytes: u32,
}

impl ToolsListGrant {
    /// The route's `tools_list.max_bytes`.
    pub fn max_bytes(&self) -> u32 {
        self.max_bytes
    }
}

/// A part of the `tools/call` resource path: filled from the request, or the tool's name.
#[derive(Debug, Clone)]
enum Piece {
    Text(String),
    Name,
}

/// `{body.params.name}`: where a `tools/call` request names its tool.
const TOOL_NAME: [&str; 2] = ["params", "name"];

impl Engine {
    /// `GET /.well-known/oauth-protected-resource<path>`: the RFC 9728 metadata of the protected
    /// MCP route `<path>` addresses, for the request's tenant. The bare well-known path serves
    /// the one protected route when the gateway has exactly one and it addresses exactly one
    /// path. `None`: not such a request; decide it like any other.
    pub fn protected_resource_metadata(&self, request: &Request<'_>) -> Option<String> {
        if request.method != "GET" {
            return None;
        }
        let (path, _) = request::split_query(request.path);
        let rest = path.strip_prefix(mcp::WELL_KNOWN)?;
        request::canonical_path(request.path).ok()?;
        let tenant = self.tenant_for(request.authority).ok()?;
        let gateway = self.bundle.gateway();
        let (resource_path, route) = if rest.is_empty() {
            let mut protected = gateway.routes.iter().filter(|r| r.mcp.is_some());
            let (Some(only), None) = (protected.next(), protected.next()) else {
                return None;
            };
            let PathMatch::Template(segments) = &only.path else {
                return None;
            };
            let mut literal = String::new();
            for segment in segments {
                let Segment::Literal(text) = segment else {
                    return None;
                };
                literal.push('/');
                literal.push_str(text);
            }
            (Cow::Owned(literal), only)
        } else {
            if !rest.starts_with('/') {
                return None;
            }
            // The route a client's POST to that path would take.
            let (route, _) = route::match_route_one_reading(gateway, "POST", rest).ok()??;
            (Cow::Borrowed(rest), route)
        };
        let mcp = route.mcp.as_ref()?;
        let origin = mcp::origin(mcp, request.authority, request.headers).ok()?;
        Some(mcp::metadata_document(
            mcp,
            gateway,
            &tenant.config.identity_providers,
            &mcp::resource_url(&origin, &resource_path),
        ))
    }

    /// What a denial on a protected MCP route adds to its `WWW-Authenticate` challenge: every
    /// 401, and `insufficient_scope`. `None` for other routes and other denials.
    pub fn challenge(&self, outcome: &Outcome<'_>, request: &Request<'_>) -> Option<Challenge> {
        let reason = outcome.decision.reason()?;
        if reason.error_kind() != ErrorKind::Unauthorized && reason != Reason::InsufficientScope {
            return None;
        }
        let mcp = outcome.route?.mcp.as_ref()?;
        let origin = mcp::origin(mcp, request.authority, request.headers).ok()?;
        Some(Challenge::new(mcp, &origin, request.path))
    }

    /// The `WWW-Authenticate` header of a denial (RFC 6750 3): every 401 challenges with
    /// `Bearer realm="<tenant>"` (`gatehouse` before a tenant is known), plus
    /// `error="invalid_token"` when a token was presented; on a protected MCP route, 401s add
    /// `scope` and `resource_metadata` (RFC 9728 5.1), and `insufficient_scope` is a 403 with
    /// `error="insufficient_scope"`. `None`: the denial carries no challenge. Only fixed strings,
    /// compiler-checked names and the authority as parsed reach it.
    pub fn www_authenticate(&self, outcome: &Outcome<'_>, request: &Request<'_>) -> Option<String> {
        let reason = outcome.decision.reason()?;
        let unauthorized = reason.error_kind() == ErrorKind::Unauthorized;
        let mcp = self.challenge(outcome, request);
        if !unauthorized && mcp.is_none() {
            return None;
        }
        let realm = outcome.tenant_name().unwrap_or("gatehouse");
        let mut header = format!("Bearer realm=\"{}\"", mcp::quoted(realm));
        if outcome.token_presented && unauthorized {
            header.push_str(", error=\"invalid_token\"");
        }
        if let Some(mcp) = mcp {
            header.push_str(&mcp.params(reason));
        }
        Some(header)
    }

    /// For an allowed `tools/list` request on a route that trims it: what trimming its response
    /// needs. `None` when the response passes as it is (another method, a route that does not
    /// trim, a denial, dry-run mode, which enforces nothing).
    pub fn tools_list_grant(
        &self,
        outcome: &Outcome<'_>,
        request: &Request<'_>,
    ) -> Option<ToolsListGrant> {
        if !outcome.decision.is_allow()
            || outcome.mcp_method != Some(McpMethod::ToolsList)
            || self.bundle.gateway().dry_run
        {
            return None;
        }
        let route = outcome.route?;
        let mcp = route.mcp.as_ref().filter(|m| m.trim_tools_list)?;
        let RouteTarget::JsonRpc { methods, .. } = &route.target else {
            return None;
        };
        let target = methods
            .iter()
            .find(|(m, _)| m == mcp::TOOLS_CALL)
            .map(|(_, t)| t)?;
        let tenant = outcome.tenant?;
        let tenant_index = self
            .bundle
            .tenants()
            .iter()
            .position(|t| core::ptr::eq(t, tenant))?;
        let caller = outcome.caller.clone()?;
        let captures = route::match_route(self.bundle.gateway(), request.method, request.path)
            .map(|(_, c)| c)
            .unwrap_or_default();
        let facts = Facts {
            path: request.path,
            headers: request.headers,
            captures: &captures,
            body: None,
        };
        // A part that cannot be filled leaves no tool visible: a call of any tool would be
        // refused the same way.
        let path = target
            .resource
            .path
            .iter()
            .map(|part| match part {
                Part::Body(keys) if keys.iter().map(String::as_str).eq(TOOL_NAME) => {
                    Ok(Piece::Name)
                }
                part => route::fill_part(part, &facts).map(|v| Piece::Text(v.into_owned())),
            })
            .collect::<Result<Vec<_>, Reason>>()
            .unwrap_or_default();
        Some(ToolsListGrant {
            tenant: tenant_index,
            caller,
            resource_type: target.resource.resource_type.clone(),
            action: target.action.clone(),
            path,
            max_bytes: mcp.max_response_bytes,
        })
    }

    /// Whether the grant's caller may call the tool `name`: the decision a `tools/call` of it
    /// would get after the caller is known (steps 6 and 7, the API key's scope included).
    pub fn tool_allowed(&self, grant: &ToolsListGrant, name: &str) -> Result<(), Reason> {
        let tenant = self
            .bundle
            .tenants()
            .get(grant.tenant)
            .ok_or(Reason::ResourceUnknown)?;
        if name.is_empty() || grant.path.is_empty() {
            return Err(Reason::ResourceUnresolved);
        }
        let mut path = String::new();
        for piece in &grant.path {
            match piece {
                Piece::Text(text) => path.push_str(text),
                Piece::Name => path.push_str(name),
            }
        }
        let tables = self.bundle.tables(tenant);
        self.resource_step(
            tenant,
            &tables,
            &grant.caller,
            &grant.resource_type,
            &path,
            &grant.action,
            &mut NoTrace,
        )
        .map(|_| ())
    }

    /// A `tools/list` response body with every tool the grant's caller may not call removed.
    pub fn trim_tools_list(
        &self,
        grant: &ToolsListGrant,
        kind: trim::Kind,
        body: &[u8],
    ) -> Result<trim::Trimmed, trim::TrimError> {
        if body.len() > usize::try_from(grant.max_bytes).unwrap_or(usize::MAX) {
            return Err(trim::TrimError::TooLarge);
        }
        trim::trim(kind, body, &mut |name| {
            self.tool_allowed(grant, name).is_ok()
        })
    }
}

/// On a protected MCP route, a JWT must have been issued for it (RFC 8707): its `aud` names the
/// route's canonical resource URL or an audience the route accepts (`audience_mismatch`); then
/// it must carry every scope the route requires (`insufficient_scope`). Scopes are read from
/// `scope` (a space-separated string, RFC 9068) and `scp` (a string or an array of strings, as
/// Entra ID and Okta send it); a token carrying both with different scopes is read two ways and
/// refused (`token_malformed`).
pub(super) fn check_resource_token(
    mcp: &McpResource,
    request: &Request<'_>,
    raw: &str,
) -> Result<(), Reason> {
    let token = Token::parse(raw)?;
    let claims = token.claims();
    let origin = mcp::origin(mcp, request.authority, request.headers)?;
    let resource = mcp::resource_url(&origin, request.path);
    let issued_for_us = claims.strings("aud")?.is_some_and(|auds| {
        auds.iter()
            .any(|aud| aud == resource || mcp.audiences.iter().any(|a| a == aud))
    });
    if !issued_for_us {
        return Err(Reason::AudienceMismatch);
    }
    if mcp.scopes.is_empty() {
        return Ok(());
    }
    let scope = claims.string("scope")?.map(|s| words(std::iter::once(s)));
    let scp = claims.strings("scp")?.map(|list| words(list.iter()));
    let granted = match (scope, scp) {
        (Some(a), Some(b)) if a != b => return Err(Reason::TokenMalformed),
        (Some(a), _) | (None, Some(a)) => a,
        (None, None) => Vec::new(),
    };
    if mcp
        .scopes
        .iter()
        .all(|s| granted.binary_search(&s.as_str()).is_ok())
    {
        Ok(())
    } else {
        Err(Reason::InsufficientScope)
    }
}

/// The distinct scope tokens of space-separated lists, sorted.
fn words<'a>(lists: impl Iterator<Item = &'a str>) -> Vec<&'a str> {
    let mut words: Vec<&str> = lists
        .flat_map(|s| s.split(' '))
        .filter(|w| !w.is_empty())
        .collect();
    words.sort_unstable();
    words.dedup();
    words
}
