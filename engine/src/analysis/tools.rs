//! What an MCP client's `tools/list` shows a caller (`gatehouse check --tools-list`): every tool
//! the tenant has under `mcp-server:<server>`, each with the decision a `tools/call` of it gets.
//!
//! Each answer is [`Engine::decide`]'s for a request built as an MCP client sends it (a JSON-RPC
//! `POST` to the server's endpoint, same host, same caller), so the list is the one the filter
//! trims a `tools/list` response to: the route, the token or key, the principal, the key's scope
//! and step 7 all run as they do in Envoy. Nothing here decides.

use serde_json::json;

use crate::bundle::LoadedTenant;
use crate::decide::{Engine, Identity, Outcome, Request};
use crate::model::{Gateway, Part, PathMatch, RouteTarget, Segment};
use crate::route::Body;

use super::{Analysis, AnalysisError};

/// The resource type whose resources are MCP tools (SPEC 2.2).
const TOOL: &str = "tool";
/// The resource type of MCP servers, the tools' parent.
const SERVER: &str = "mcp-server";

/// Whose `tools/list`, where.
#[derive(Debug, Clone, Copy)]
pub struct ToolsQuery<'a> {
    /// `:authority`: selects the tenant, as for any request.
    pub authority: &'a str,
    /// The server's name, as in `mcp-server:<server>`.
    pub server: &'a str,
    /// The MCP endpoint's path; `None`: the one [`Engine::mcp_endpoint`] finds for `server`.
    pub path: Option<&'a str>,
    /// Headers every request carries (the token's, for [`Identity::Token`]). A JSON
    /// `content-type` is added unless one is given.
    pub headers: &'a [(&'a str, &'a str)],
}

/// The answer: the `tools/list` request's own decision, and a `tools/call` decision per tool.
#[derive(Debug, Clone)]
pub struct ToolsList<'e> {
    /// The path the requests were sent to.
    pub path: String,
    /// The `tools/list` request itself (`mcp-server:<server>` `read` with the example gateway):
    /// when it is denied, the client gets no list at all.
    pub list: Outcome<'e>,
    /// Every `tool` of the tenant under `mcp-server:<server>`, by name (the order of the
    /// tenant's resources), with the decision of a `tools/call` naming it. Empty when the host
    /// selects no tenant or the tenant has no such server.
    pub tools: Vec<(String, Outcome<'e>)>,
}

impl ToolsList<'_> {
    /// The tools a trimmed `tools/list` keeps: those whose `tools/call` is allowed, when the
    /// list itself is.
    pub fn shown(&self) -> impl Iterator<Item = &str> + '_ {
        let listed = self.list.decision.is_allow();
        self.tools
            .iter()
            .filter(move |(_, o)| listed && o.decision.is_allow())
            .map(|(name, _)| name.as_str())
    }
}

impl Engine {
    /// What `tools/list` on `query.server` shows the caller `identity` at `now`.
    ///
    /// Errors only when no path is given and no route of the gateway serves the server's
    /// `tools/call` ([`Engine::mcp_endpoint`]).
    pub fn tools_list<'e>(
        &'e self,
        query: &ToolsQuery<'_>,
        identity: Identity<'_>,
        now: i64,
    ) -> Result<ToolsList<'e>, AnalysisError> {
        let path = match query.path {
            Some(path) => path.to_owned(),
            None => {
                self.mcp_endpoint(query.server)
                    .ok_or_else(|| AnalysisError::McpRouteUnknown {
                        server: query.server.to_owned(),
                    })?
            }
        };
        let mut headers: Vec<(&str, &str)> = query.headers.to_vec();
        if !headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
        {
            headers.push(("content-type", "application/json"));
        }
        let decide = |body: &serde_json::Value| {
            let body = body.to_string();
            let max = self.bundle().gateway().max_body_bytes as usize;
            let request = Request {
                authority: query.authority,
                method: "POST",
                path: &path,
                headers: &headers,
                body: if body.len() > max {
                    Body::TooLarge
                } else {
                    Body::Bytes(body.as_bytes())
                },
            };
            self.decide(&request, identity, now)
        };
        let list = decide(&json!({"jsonrpc": "2.0", "id": 1, "method": "tools/list"}));
        let names = list
            .tenant
            .map(|tenant| tool_names(self, tenant, query.server))
            .unwrap_or_default();
        let tools = names
            .into_iter()
            .map(|name| {
                let call = json!({
                    "jsonrpc": "2.0",
                    "id": 1,
                    "method": "tools/call",
                    "params": {"name": name, "arguments": {}},
                });
                let outcome = decide(&call);
                (name, outcome)
            })
            .collect();
        Ok(ToolsList { path, list, tools })
    }

    /// The path an MCP client posts to for `server`: that of the first route (not public, any
    /// method or `POST`, a path template) that maps `tools/call` to a `tool` whose path starts
    /// with a capture of the route's path, that capture filled with `server`. `None` when no
    /// route does, or the route has other captures to fill.
    pub fn mcp_endpoint(&self, server: &str) -> Option<String> {
        endpoint(self.bundle().gateway(), server)
    }
}

fn endpoint(gateway: &Gateway, server: &str) -> Option<String> {
    gateway.routes.iter().find_map(|route| {
        let post = route.methods.is_empty() || route.methods.iter().any(|m| m == "POST");
        let (PathMatch::Template(segments), RouteTarget::JsonRpc { methods, .. }) =
            (&route.path, &route.target)
        else {
            return None;
        };
        if route.public || !post {
            return None;
        }
        let (_, call) = methods.iter().find(|(m, _)| m == "tools/call")?;
        if call.resource.resource_type != TOOL {
            return None;
        }
        let Some(Part::Capture(capture)) = call.resource.path.first() else {
            return None;
        };
        let mut path = String::new();
        for segment in segments {
            path.push('/');
            match segment {
                Segment::Literal(text) => path.push_str(text),
                Segment::Capture(name) if name == capture => path.push_str(server),
                Segment::Capture(_) => return None,
            }
        }
        Some(path)
    })
}

/// The names of the `tool` children of `mcp-server:<server>`, in the tenant's resource order.
fn tool_names(engine: &Engine, tenant: &LoadedTenant, server: &str) -> Vec<String> {
    let a = Analysis::new(engine, tenant);
    let tables = a.tables();
    let Some((id, _)) = tables.resource(SERVER, server) else {
        return Vec::new();
    };
    let tool_type = tenant
        .config
        .resource_types
        .iter()
        .position(|t| t.name == TOOL);
    let prefix = format!("{server}/");
    a.children_of(id)
        .iter()
        .filter_map(|child| {
            let record = tables.resources.get(child.index())?;
            if Some(record.resource_type().index()) != tool_type {
                return None;
            }
            let path = tables.str(record.path);
            path.strip_prefix(&prefix).map(str::to_owned)
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use crate::model::Target;
    use crate::model::Template;

    use super::*;

    fn template(path: &str) -> PathMatch {
        PathMatch::Template(
            path.trim_start_matches('/')
                .split('/')
                .map(
                    |s| match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
                        Some(name) => Segment::Capture(name.into()),
                        None => Segment::Literal(s.into()),
                    },
                )
                .collect(),
        )
    }

    fn jsonrpc(tool_path: Vec<Part>) -> RouteTarget {
        RouteTarget::JsonRpc {
            methods: vec![(
                "tools/call".into(),
                Target {
                    resource: Template {
                        resource_type: TOOL.into(),
                        path: tool_path,
                    },
                    action: "use".into(),
                },
            )],
            fallback: None,
        }
    }

    fn gateway(routes: Vec<(&str, RouteTarget)>) -> Gateway {
        let json = serde_json::json!({
            "default_authenticated": false,
            "dry_run": false,
            "max_body_bytes": 65536,
            "token_sources": [],
            "routes": [],
            "override_headers": "Remove",
            "host_override_headers": "Remove",
            "refuse_path_semicolons": false,
            "refuse_cross_site_cookies": false,
        });
        let mut gateway: Gateway = serde_json::from_value(json).unwrap();
        for (i, (path, target)) in routes.into_iter().enumerate() {
            let mut route = gateway_route(path, target);
            route.name = format!("r{i}");
            gateway.routes.push(route);
        }
        gateway
    }

    fn gateway_route(path: &str, target: RouteTarget) -> crate::model::Route {
        // Through serde, so that fields other work adds to routes take their defaults here.
        let mut route: crate::model::Route = serde_json::from_value(serde_json::json!({
            "name": "r",
            "methods": [],
            "path": {"Prefix": "/"},
            "public": false,
            "target": "None",
        }))
        .unwrap();
        route.path = template(path);
        route.target = target;
        route
    }

    #[test]
    fn the_endpoint_fills_the_capture_the_tool_path_starts_with() {
        let tool = vec![
            Part::Capture("server".into()),
            Part::Literal("/".into()),
            Part::Body(vec!["params".into(), "name".into()]),
        ];
        let g = gateway(vec![
            ("/api/llm/v1/chat", RouteTarget::None),
            ("/api/llm/mcp/{server}/server", jsonrpc(tool.clone())),
        ]);
        assert_eq!(
            endpoint(&g, "github").as_deref(),
            Some("/api/llm/mcp/github/server")
        );
        // Another capture the server name cannot fill: not a route to guess a path for.
        let g = gateway(vec![("/t/{team}/mcp/{server}", jsonrpc(tool))]);
        assert_eq!(endpoint(&g, "github"), None);
        // A tool path that does not start with a capture names no server.
        let g = gateway(vec![(
            "/mcp/{server}",
            jsonrpc(vec![
                Part::Literal("github/".into()),
                Part::Body(vec!["params".into(), "name".into()]),
            ]),
        )]);
        assert_eq!(endpoint(&g, "github"), None);
    }
}
