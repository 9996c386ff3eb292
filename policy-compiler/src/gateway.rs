//! The gateway file (SPEC 3.2) -> [`model::Gateway`], and the built-in default gateway.

use std::collections::BTreeSet;
use std::path::Path;

use gatehouse_engine::mcp::TOOLS_CALL;
use gatehouse_engine::model::{
    self, McpResource, Part, PathMatch, Refusal, Route, RouteTarget, Segment, Target, Template,
    TokenSource,
};
use marked_yaml::Span;

use crate::diagnostics::{parse_source, Code, Diagnostic, FileDiagnostics};
use crate::source::{
    AllowRefuseSpec, DefaultSpec, GatewayFile, McpSpec, ModeSpec, OverrideHeadersSpec, RefusalSpec,
    RouteSpec, SpannedString, TargetSpec, TokenSourceSpec,
};

/// Bodies larger than this are rejected unless the gateway file says otherwise.
pub const DEFAULT_MAX_BODY_BYTES: u32 = 65536;

/// The built-in routes used without a gateway file (SPEC 3.2). One definition: this text goes
/// through the same parser and lowering as a user's gateway file.
pub const DEFAULT_GATEWAY_YAML: &str = r#"default: deny
mode: enforce
max_body_bytes: 65536
token_sources: [{header: authorization, prefix: "Bearer "}]
routes:
  - name: chat
    match: {methods: [POST], path: /api/llm/v1/chat/completions}
    resource: "model:{body.model}"
    action: use
  - name: embeddings
    match: {methods: [POST], path: /api/llm/v1/embeddings}
    resource: "model:{body.model}"
    action: use
  - name: completions
    match: {methods: [POST], path: /api/llm/v1/completions}
    resource: "model:{body.model}"
    action: use
  - name: mcp
    match: {path: "/api/llm/mcp/{server}/server"}
    jsonrpc:
      "tools/call": {resource: "tool:{server}/{body.params.name}", action: use}
      "*": {resource: "mcp-server:{server}", action: read}
  - name: prompts
    match: {methods: [GET], path: "/api/prompts/{repo}/{prompt}"}
    resource: "prompt:{repo}/{prompt}"
    action: read
"#;

/// The built-in gateway: [`DEFAULT_GATEWAY_YAML`] compiled.
pub fn default_gateway() -> model::Gateway {
    match compile_gateway(Path::new("<default gateway>"), DEFAULT_GATEWAY_YAML) {
        Ok(gateway) => gateway,
        // Unreachable (a unit test compiles the text). Should it ever happen, a gateway with no
        // route and `default: deny` denies every request: failing closed.
        Err(_) => model::Gateway {
            default_authenticated: false,
            dry_run: false,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            token_sources: vec![TokenSource::bearer()],
            routes: Vec::new(),
            override_headers: model::OverrideHeaders::Remove,
            host_override_headers: model::OverrideHeaders::Remove,
            refuse_path_semicolons: false,
            refuse_cross_site_cookies: false,
        },
    }
}

/// Parses and lowers one gateway file, returning every error.
pub fn compile_gateway(file: &Path, text: &str) -> Result<model::Gateway, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut diags = FileDiagnostics {
        file,
        text: Some(text.into()),
        out: &mut out,
    };
    let gateway =
        parse_source::<GatewayFile>(&mut diags, text).and_then(|g| lower_gateway(&mut diags, &g));
    match gateway {
        Some(gateway) if out.is_empty() => Ok(gateway),
        _ => Err(out),
    }
}

/// Lowers a parsed gateway file; `None` when it reported an error.
pub fn lower_gateway(
    diags: &mut FileDiagnostics<'_>,
    file: &GatewayFile,
) -> Option<model::Gateway> {
    let before = diags.count();
    let token_sources = match &file.token_sources {
        None => vec![TokenSource::bearer()],
        Some(sources) => {
            if sources.is_empty() {
                diags.at(
                    0,
                    0,
                    Code::Missing,
                    "`token_sources` must list at least one source",
                );
            }
            sources
                .iter()
                .enumerate()
                .filter_map(|(i, s)| token_source(diags, i, s))
                .collect()
        }
    };
    let max_body_bytes = file
        .max_body_bytes
        .as_ref()
        .map_or(DEFAULT_MAX_BODY_BYTES, |m| **m);
    let mut names = BTreeSet::new();
    let mut routes = Vec::new();
    for spec in &file.routes {
        if !names.insert(spec.name.as_str()) {
            diags.error(
                spec.name.span(),
                Code::Duplicate,
                format!("duplicate route `{}`", *spec.name),
            );
        }
        if let Some(route) = route(diags, spec) {
            routes.push(route);
        }
    }
    let gateway = model::Gateway {
        default_authenticated: file
            .default
            .as_ref()
            .is_some_and(|d| **d == DefaultSpec::Authenticated),
        dry_run: file.mode.as_ref().is_some_and(|m| **m == ModeSpec::DryRun),
        max_body_bytes,
        token_sources,
        routes,
        override_headers: override_headers(file.override_headers.as_deref()),
        host_override_headers: override_headers(file.host_override_headers.as_deref()),
        refuse_path_semicolons: refuse(file.path_semicolons.as_deref()),
        refuse_cross_site_cookies: refuse(file.cross_site_cookies.as_deref()),
    };
    (diags.count() == before).then_some(gateway)
}

fn override_headers(spec: Option<&OverrideHeadersSpec>) -> model::OverrideHeaders {
    match spec {
        None | Some(OverrideHeadersSpec::Remove) => model::OverrideHeaders::Remove,
        Some(OverrideHeadersSpec::Deny) => model::OverrideHeaders::Deny,
        Some(OverrideHeadersSpec::Keep) => model::OverrideHeaders::Keep,
    }
}

fn refuse(spec: Option<&AllowRefuseSpec>) -> bool {
    spec == Some(&AllowRefuseSpec::Refuse)
}

fn token_source(
    diags: &mut FileDiagnostics<'_>,
    index: usize,
    spec: &TokenSourceSpec,
) -> Option<TokenSource> {
    let given: Vec<&SpannedString> = [&spec.header, &spec.query, &spec.cookie]
        .into_iter()
        .flatten()
        .collect();
    let Some(first) = given.first() else {
        let span = spec
            .prefix
            .as_ref()
            .map_or(Span::new_blank(), |p| *p.span());
        diags.error(
            &span,
            Code::Missing,
            format!(
                "token source {} needs one of `header`, `query` or `cookie`",
                index + 1
            ),
        );
        return None;
    };
    if given.len() > 1 {
        diags.error(
            first.span(),
            Code::Conflict,
            "a token source takes only one of `header`, `query` or `cookie`",
        );
        return None;
    }
    for name in &given {
        if name.is_empty() || name.chars().any(|c| c.is_whitespace() || c.is_control()) {
            diags.error(
                name.span(),
                Code::Invalid,
                format!("invalid token source name `{}`", name.as_str()),
            );
            return None;
        }
    }
    if let Some(header) = &spec.header {
        let prefix = spec
            .prefix
            .as_ref()
            .map_or(String::new(), |p| p.to_string());
        return Some(TokenSource::Header {
            name: header.to_ascii_lowercase(),
            prefix,
        });
    }
    if let Some(prefix) = &spec.prefix {
        diags.error(
            prefix.span(),
            Code::Conflict,
            "`prefix` applies only to a `header` token source",
        );
        return None;
    }
    if let Some(query) = &spec.query {
        return Some(TokenSource::Query {
            name: query.to_string(),
        });
    }
    spec.cookie.as_ref().map(|c| TokenSource::Cookie {
        name: c.to_string(),
    })
}

fn route(diags: &mut FileDiagnostics<'_>, spec: &RouteSpec) -> Option<Route> {
    let before = diags.count();
    let name_span = *spec.name.span();
    if spec.name.is_empty() {
        diags.error(&name_span, Code::Missing, "a route name must not be empty");
    }
    let mut methods = Vec::new();
    for method in spec.matcher.methods.iter().flatten() {
        if method.is_empty()
            || !method
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        {
            diags.error(
                method.span(),
                Code::Invalid,
                format!("invalid HTTP method `{}`", method.as_str()),
            );
        } else {
            methods.push(method.to_ascii_uppercase());
        }
    }
    methods.sort();
    methods.dedup();
    let path = match (&spec.matcher.path, &spec.matcher.path_prefix) {
        (Some(path), None) => path_template(diags, path).map(PathMatch::Template),
        (None, Some(prefix)) => {
            if !prefix.starts_with('/') {
                diags.error(
                    prefix.span(),
                    Code::Invalid,
                    format!("path prefix `{}` must start with `/`", prefix.as_str()),
                );
            }
            Some(PathMatch::Prefix(prefix.to_string()))
        }
        (Some(path), Some(_)) => {
            diags.error(
                path.span(),
                Code::Conflict,
                "a route matches `path` or `path_prefix`, not both",
            );
            None
        }
        (None, None) => {
            diags.error(
                &name_span,
                Code::Missing,
                format!(
                    "route `{}` needs `match.path` or `match.path_prefix`",
                    *spec.name
                ),
            );
            None
        }
    };
    let captures: Vec<&str> = match &path {
        Some(PathMatch::Template(segments)) => segments
            .iter()
            .filter_map(|s| match s {
                Segment::Capture(c) => Some(c.as_str()),
                Segment::Literal(_) => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    let public = spec.public.unwrap_or(false);
    let target = match (&spec.resource, &spec.action, &spec.jsonrpc) {
        (None, None, None) => Some(RouteTarget::None),
        (Some(_), _, _) | (_, Some(_), _) if public => {
            diags.error(
                &name_span,
                Code::Conflict,
                format!(
                    "public route `{}` takes no `resource` or `action`",
                    *spec.name
                ),
            );
            None
        }
        (_, _, Some(_)) if public => {
            diags.error(
                &name_span,
                Code::Conflict,
                format!("public route `{}` takes no `jsonrpc`", *spec.name),
            );
            None
        }
        (Some(resource), Some(action), None) => {
            target(diags, &captures, resource, action).map(RouteTarget::One)
        }
        (None, None, Some(entries)) => {
            let mut methods = Vec::new();
            let mut fallback = None;
            if entries.0.is_empty() {
                diags.error(
                    &name_span,
                    Code::Missing,
                    format!("route `{}` has an empty `jsonrpc` mapping", *spec.name),
                );
            }
            for (method, TargetSpec { resource, action }) in &entries.0 {
                let Some(t) = target(diags, &captures, resource, action) else {
                    continue;
                };
                if method.as_str() == "*" {
                    fallback = Some(t);
                } else if method.is_empty() {
                    diags.error(
                        method.span(),
                        Code::Missing,
                        "a JSON-RPC method name must not be empty",
                    );
                } else {
                    methods.push((method.to_string(), t));
                }
            }
            methods.sort_by(|a, b| a.0.cmp(&b.0));
            Some(RouteTarget::JsonRpc { methods, fallback })
        }
        (Some(resource), None, None) => {
            diags.error(
                resource.span(),
                Code::Missing,
                "a route with `resource` needs an `action`",
            );
            None
        }
        (None, Some(action), None) => {
            diags.error(
                action.span(),
                Code::Missing,
                "a route with `action` needs a `resource`",
            );
            None
        }
        (Some(resource), _, Some(_)) => {
            diags.error(
                resource.span(),
                Code::Conflict,
                "a route takes `resource` and `action`, or `jsonrpc`, not both",
            );
            None
        }
        (None, Some(action), Some(_)) => {
            diags.error(
                action.span(),
                Code::Conflict,
                "a route takes `resource` and `action`, or `jsonrpc`, not both",
            );
            None
        }
    };
    let mcp = spec
        .mcp
        .as_ref()
        .and_then(|m| mcp_resource(diags, spec, target.as_ref(), m));
    let (Some(path), Some(target)) = (path, target) else {
        return None;
    };
    (diags.count() == before).then(|| Route {
        name: spec.name.to_string(),
        methods,
        path,
        public,
        target,
        mcp,
    })
}

/// The default largest `tools/list` response the filter buffers to trim.
pub const DEFAULT_MAX_TOOLS_LIST_BYTES: u32 = 1 << 20;

/// `mcp:` of a route -> [`McpResource`]. The route must be a JSON-RPC route, and one that trims
/// `tools/list` must map `tools/call` (each listed tool is decided as a call of it would be).
fn mcp_resource(
    diags: &mut FileDiagnostics<'_>,
    route: &RouteSpec,
    target: Option<&RouteTarget>,
    spec: &McpSpec,
) -> Option<McpResource> {
    let before = diags.count();
    let name_span = *route.name.span();
    if route.public == Some(true) {
        diags.error(
            &name_span,
            Code::Conflict,
            format!(
                "public route `{}` cannot be an MCP protected resource",
                *route.name
            ),
        );
    }
    let trim = spec
        .tools_list
        .as_ref()
        .and_then(|t| t.trim)
        .unwrap_or(true);
    match target {
        Some(RouteTarget::JsonRpc { methods, .. })
            if trim && !methods.iter().any(|(m, _)| m == TOOLS_CALL) =>
        {
            diags.error(
                &name_span,
                Code::Missing,
                format!(
                    "MCP route `{}` trims `tools/list` and so needs a `\"tools/call\"` entry \
                     in `jsonrpc` (each tool is decided as a call of it would be); or set \
                     `tools_list: {{trim: false}}`",
                    *route.name
                ),
            );
        }
        // The target reported its own error.
        Some(RouteTarget::JsonRpc { .. }) | None => {}
        Some(_) => diags.error(
            &name_span,
            Code::Conflict,
            format!("MCP route `{}` needs a `jsonrpc` mapping", *route.name),
        ),
    }
    let scheme = spec.scheme.as_ref().and_then(|scheme| {
        if gatehouse_engine::mcp::is_scheme(scheme) {
            Some(scheme.to_string())
        } else {
            diags.error(
                scheme.span(),
                Code::Invalid,
                format!("scheme `{}` must be `https` or `http`", scheme.as_str()),
            );
            None
        }
    });
    let scopes = words(
        diags,
        spec.scopes.as_deref(),
        "scope",
        gatehouse_engine::mcp::is_scope_token,
    );
    let audiences = words(
        diags,
        spec.audiences.as_deref(),
        "audience",
        gatehouse_engine::mcp::is_audience,
    );
    let authorization_servers = words(
        diags,
        spec.authorization_servers.as_deref(),
        "identity provider name",
        |name| !name.is_empty() && !name.chars().any(char::is_control),
    );
    let max_response_bytes = match spec.tools_list.as_ref().and_then(|t| t.max_bytes.as_ref()) {
        None => DEFAULT_MAX_TOOLS_LIST_BYTES,
        Some(max) if **max == 0 => {
            diags.error(max.span(), Code::Invalid, "`max_bytes` must be at least 1");
            0
        }
        Some(max) => **max,
    };
    let refusal = match spec.refusal.as_deref() {
        None | Some(RefusalSpec::Jsonrpc) => Refusal::JsonRpc,
        Some(RefusalSpec::ToolResult) => Refusal::ToolResult,
        Some(RefusalSpec::Http) => Refusal::Http,
    };
    (diags.count() == before).then(|| McpResource {
        authorization_servers,
        scopes,
        audiences,
        scheme,
        forward_token: spec.forward_token.unwrap_or(false),
        refusal,
        trim_tools_list: trim,
        max_response_bytes,
    })
}

/// A list of names each of which `valid` admits, sorted and distinct.
fn words(
    diags: &mut FileDiagnostics<'_>,
    given: Option<&[SpannedString]>,
    what: &str,
    valid: impl Fn(&str) -> bool,
) -> Vec<String> {
    let mut out = Vec::new();
    for word in given.unwrap_or_default() {
        if !valid(word.as_str()) {
            diags.error(
                word.span(),
                Code::Invalid,
                format!("invalid {what} `{}`", word.as_str()),
            );
        } else {
            out.push(word.to_string());
        }
    }
    out.sort();
    out.dedup();
    out
}

/// `/api/llm/mcp/{server}/server` -> segments after the leading `/`: literals and one-segment
/// captures. A trailing `/` yields a final empty literal segment.
fn path_template(diags: &mut FileDiagnostics<'_>, path: &SpannedString) -> Option<Vec<Segment>> {
    let Some(rest) = path.strip_prefix('/') else {
        diags.error(
            path.span(),
            Code::Invalid,
            format!("path `{}` must start with `/`", path.as_str()),
        );
        return None;
    };
    let mut segments = Vec::new();
    let mut seen = BTreeSet::new();
    let mut ok = true;
    for segment in rest.split('/') {
        if let Some(name) = segment.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            if !is_identifier(name) {
                diags.error(
                    path.span(),
                    Code::Template,
                    format!("invalid capture `{{{name}}}` in path `{}`", path.as_str()),
                );
                ok = false;
            } else if !seen.insert(name) {
                diags.error(
                    path.span(),
                    Code::Duplicate,
                    format!(
                        "capture `{{{name}}}` appears twice in path `{}`",
                        path.as_str()
                    ),
                );
                ok = false;
            }
            segments.push(Segment::Capture(name.to_string()));
        } else if segment.contains(['{', '}']) {
            diags.error(
                path.span(),
                Code::Template,
                format!(
                    "a capture must be a whole segment: `{segment}` in path `{}`",
                    path.as_str()
                ),
            );
            ok = false;
        } else {
            segments.push(Segment::Literal(segment.to_string()));
        }
    }
    ok.then_some(segments)
}

fn target(
    diags: &mut FileDiagnostics<'_>,
    captures: &[&str],
    resource: &SpannedString,
    action: &SpannedString,
) -> Option<Target> {
    let template = template(diags, captures, resource);
    if action.is_empty() {
        diags.error(action.span(), Code::Missing, "an action must not be empty");
        return None;
    }
    template.map(|resource| Target {
        resource,
        action: action.to_string(),
    })
}

/// `type:{name}/{body.a.b}/{header.x}/{query.q}/literal` -> [`Template`]. Resource type names
/// are not checked here: each tenant has its own catalog, consulted at decision time.
fn template(
    diags: &mut FileDiagnostics<'_>,
    captures: &[&str],
    text: &SpannedString,
) -> Option<Template> {
    let span = text.span();
    let Some((resource_type, path)) = text.split_once(':') else {
        diags.error(
            span,
            Code::Template,
            format!(
                "resource template `{}` must look like `<type>:<path>`",
                text.as_str()
            ),
        );
        return None;
    };
    if !is_type_name(resource_type) {
        diags.error(
            span,
            Code::Template,
            format!(
                "invalid resource type `{resource_type}` in template `{}`",
                text.as_str()
            ),
        );
        return None;
    }
    if path.is_empty() {
        diags.error(
            span,
            Code::Template,
            format!("resource template `{}` has an empty path", text.as_str()),
        );
        return None;
    }
    let mut parts = Vec::new();
    let mut rest = path;
    while !rest.is_empty() {
        let (literal, placeholder) = match rest.split_once('{') {
            None => (rest, None),
            Some((literal, after)) => (literal, Some(after)),
        };
        if literal.contains('}') {
            diags.error(
                span,
                Code::Template,
                format!("unmatched `}}` in template `{}`", text.as_str()),
            );
            return None;
        }
        if !literal.is_empty() {
            parts.push(Part::Literal(literal.to_string()));
        }
        let Some(after) = placeholder else { break };
        let Some((placeholder, tail)) = after.split_once('}').filter(|(p, _)| !p.contains('{'))
        else {
            diags.error(
                span,
                Code::Template,
                format!("unclosed `{{` in template `{}`", text.as_str()),
            );
            return None;
        };
        parts.push(placeholder_part(diags, captures, text, placeholder)?);
        rest = tail;
    }
    Some(Template {
        resource_type: resource_type.to_string(),
        path: parts,
    })
}

fn placeholder_part(
    diags: &mut FileDiagnostics<'_>,
    captures: &[&str],
    text: &SpannedString,
    placeholder: &str,
) -> Option<Part> {
    let span = text.span();
    let bad = |diags: &mut FileDiagnostics<'_>| {
        diags.error(
            span,
            Code::Template,
            format!(
                "invalid placeholder `{{{placeholder}}}` in template `{}`",
                text.as_str()
            ),
        );
        None
    };
    if let Some(path) = placeholder.strip_prefix("body.") {
        let keys: Vec<String> = path.split('.').map(str::to_string).collect();
        if keys.iter().any(String::is_empty) {
            return bad(diags);
        }
        return Some(Part::Body(keys));
    }
    if let Some(name) = placeholder.strip_prefix("header.") {
        if name.is_empty()
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-_".contains(c))
        {
            return bad(diags);
        }
        return Some(Part::Header(name.to_ascii_lowercase()));
    }
    if let Some(name) = placeholder.strip_prefix("query.") {
        if name.is_empty() || name.contains(['&', '=', '#']) {
            return bad(diags);
        }
        return Some(Part::Query(name.to_string()));
    }
    if !is_identifier(placeholder) {
        return bad(diags);
    }
    if !captures.contains(&placeholder) {
        diags.error(
            span, Code::Template,
            format!("placeholder `{{{placeholder}}}` in template `{}` is not a capture of the route's path", text.as_str()),
        );
        return None;
    }
    Some(Part::Capture(placeholder.to_string()))
}

fn is_identifier(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
}

/// Resource type names: lowercase letters, digits and `-`.
pub(crate) fn is_type_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(text: &str) -> Result<model::Gateway, Vec<Diagnostic>> {
        compile_gateway(Path::new("gateway.yaml"), text)
    }

    fn errors(text: &str) -> Vec<String> {
        compile(text)
            .unwrap_err()
            .iter()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
            .collect()
    }

    #[test]
    fn default_gateway_parses() {
        let g = compile(DEFAULT_GATEWAY_YAML).unwrap();
        assert_eq!(g, default_gateway());
        assert!(!g.default_authenticated && !g.dry_run);
        assert_eq!(g.max_body_bytes, 65536);
        assert_eq!(g.token_sources, vec![TokenSource::bearer()]);
        let names: Vec<&str> = g.routes.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(
            names,
            ["chat", "embeddings", "completions", "mcp", "prompts"]
        );
        let chat = &g.routes[0];
        assert_eq!(chat.methods, ["POST"]);
        assert_eq!(
            chat.target,
            RouteTarget::One(Target {
                resource: Template {
                    resource_type: "model".into(),
                    path: vec![Part::Body(vec!["model".into()])]
                },
                action: "use".into(),
            })
        );
        let mcp = &g.routes[3];
        assert!(mcp.methods.is_empty());
        assert_eq!(
            mcp.path,
            PathMatch::Template(vec![
                Segment::Literal("api".into()),
                Segment::Literal("llm".into()),
                Segment::Literal("mcp".into()),
                Segment::Capture("server".into()),
                Segment::Literal("server".into()),
            ])
        );
        let RouteTarget::JsonRpc { methods, fallback } = &mcp.target else {
            panic!()
        };
        assert_eq!(methods.len(), 1);
        assert_eq!(methods[0].0, "tools/call");
        assert_eq!(
            methods[0].1.resource.path,
            vec![
                Part::Capture("server".into()),
                Part::Literal("/".into()),
                Part::Body(vec!["params".into(), "name".into()]),
            ]
        );
        assert_eq!(fallback.as_ref().unwrap().action, "read");
        let prompts = &g.routes[4];
        assert_eq!(prompts.methods, ["GET"]);
        assert_eq!(
            prompts.target,
            RouteTarget::One(Target {
                resource: Template {
                    resource_type: "prompt".into(),
                    path: vec![
                        Part::Capture("repo".into()),
                        Part::Literal("/".into()),
                        Part::Capture("prompt".into())
                    ],
                },
                action: "read".into(),
            })
        );
    }

    #[test]
    fn full_gateway_file() {
        let g = compile(
            r#"
default: authenticated
mode: dry-run
max_body_bytes: 1024
token_sources:
  - {header: X-Token}
  - {header: Authorization, prefix: "Bearer "}
  - {query: access_token}
  - {cookie: session}
routes:
  - name: health
    match: {path_prefix: /healthz}
    public: true
  - name: who
    match: {methods: [get, post], path: /whoami}
  - name: h
    match: {path: "/x/{id}/"}
    resource: "agent:t-{id}/{header.X-Org}/{query.v}"
    action: use
"#,
        )
        .unwrap();
        assert!(g.default_authenticated && g.dry_run);
        assert_eq!(g.max_body_bytes, 1024);
        assert_eq!(
            g.token_sources,
            vec![
                TokenSource::Header {
                    name: "x-token".into(),
                    prefix: String::new()
                },
                TokenSource::Header {
                    name: "authorization".into(),
                    prefix: "Bearer ".into()
                },
                TokenSource::Query {
                    name: "access_token".into()
                },
                TokenSource::Cookie {
                    name: "session".into()
                },
            ]
        );
        assert_eq!(g.routes[0].path, PathMatch::Prefix("/healthz".into()));
        assert!(g.routes[0].public);
        assert_eq!(g.routes[0].target, RouteTarget::None);
        assert_eq!(g.routes[1].methods, ["GET", "POST"]);
        assert_eq!(g.routes[1].target, RouteTarget::None);
        assert_eq!(
            g.routes[2].path,
            PathMatch::Template(vec![
                Segment::Literal("x".into()),
                Segment::Capture("id".into()),
                Segment::Literal("".into())
            ])
        );
        let RouteTarget::One(t) = &g.routes[2].target else {
            panic!()
        };
        assert_eq!(
            t.resource.path,
            vec![
                Part::Literal("t-".into()),
                Part::Capture("id".into()),
                Part::Literal("/".into()),
                Part::Header("x-org".into()),
                Part::Literal("/".into()),
                Part::Query("v".into()),
            ]
        );
    }

    #[test]
    fn json_gateway_file() {
        let g = compile(r#"{"routes": [{"name": "p", "match": {"path": "/p/{x}"}, "resource": "prompt:r/{x}", "action": "read"}]}"#)
            .unwrap();
        assert_eq!(g.routes.len(), 1);
    }

    #[test]
    fn errors_are_located_and_all_reported() {
        let errs = errors(
            r#"routes:
  - name: a
    match: {path: "/a/{x}"}
    resource: "tool:{y}/z"
    action: use
  - name: b
    match: {path_prefix: /b}
    resource: "noprefix"
    action: read
  - name: c
    match: {path: "/c"}
    jsonrpc:
      "*": {resource: "mcp-server:{body.}", action: read}
  - name: a
    match: {path: "/d"}
    resource: "model:x"
"#,
        );
        assert_eq!(
            errs,
            [
                "4:15 placeholder `{y}` in template `tool:{y}/z` is not a capture of the route's path",
                "8:15 resource template `noprefix` must look like `<type>:<path>`",
                "13:23 invalid placeholder `{body.}` in template `mcp-server:{body.}`",
                "14:11 duplicate route `a`",
                "16:15 a route with `resource` needs an `action`",
            ]
        );
    }

    #[test]
    fn unknown_field_and_bad_enum_are_located() {
        let errs = errors("mode: enforce\nroutes:\n  - name: a\n    match: {path: /a, host: x}\n");
        assert_eq!(errs.len(), 1);
        assert!(errs[0].starts_with("4:23 unknown field `host`"), "{errs:?}");
        let errs = errors("mode: loose\n");
        assert_eq!(errs.len(), 1);
        assert!(
            errs[0].starts_with("1:7 ") && errs[0].contains("unknown variant `loose`"),
            "{errs:?}"
        );
    }

    #[test]
    fn override_headers_setting() {
        use model::OverrideHeaders;
        assert_eq!(
            compile("routes: []\n").unwrap().override_headers,
            OverrideHeaders::Remove
        );
        assert_eq!(default_gateway().override_headers, OverrideHeaders::Remove);
        for (text, want) in [
            ("remove", OverrideHeaders::Remove),
            ("deny", OverrideHeaders::Deny),
            ("keep", OverrideHeaders::Keep),
        ] {
            let g = compile(&format!("override_headers: {text}\n")).unwrap();
            assert_eq!(g.override_headers, want);
        }
        let errs = errors("mode: enforce\noverride_headers: strip\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("2:19 ") && errs[0].contains("unknown variant `strip`"),
            "{errs:?}"
        );
        let errs = errors("override_header: deny\n");
        assert_eq!(errs.len(), 1, "{errs:?}");
        assert!(
            errs[0].starts_with("1:1 unknown field `override_header`"),
            "{errs:?}"
        );
    }

    #[test]
    fn token_source_errors() {
        let errs =
            errors("token_sources: [{query: a, cookie: b}, {prefix: x}, {cookie: c, prefix: y}]\n");
        assert_eq!(errs.len(), 3, "{errs:?}");
    }

    #[test]
    fn path_errors() {
        let errs = errors("routes:\n  - {name: a, match: {path: \"a/{x}\"}}\n  - {name: b, match: {path: \"/a/{x}/{x}\"}}\n  - {name: c, match: {path: \"/a/x{y}\"}}\n  - {name: d, match: {}}\n");
        assert_eq!(errs.len(), 4, "{errs:?}");
    }
}
