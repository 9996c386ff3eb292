//! Route matching, placeholder filling and token extraction: how a request's facts become a
//! route, a resource, an action and a token.

use std::borrow::Cow;

use serde_json::Value;

use crate::fold;
use crate::json;
use crate::model::{Gateway, Part, PathMatch, Route, RouteTarget, Segment, Target, Template};
use crate::reason::Reason;
use crate::request::{
    header, identity_content_encoding, is, json_content_type, query_param, split_query,
    without_path_parameters,
};

/// The request body as the engine sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body<'a> {
    /// No body was sent (or the route does not read it).
    Absent,
    Bytes(&'a [u8]),
    /// More than `max_body_bytes` arrived; the bytes were not kept.
    TooLarge,
}

/// Path captures of a matched route: `(name, raw segment)`.
pub type Captures<'r, 'p> = Vec<(&'r str, &'p str)>;

/// The first route that matches `method` and the path of `path` (query excluded). Methods are
/// case-sensitive (RFC 9110 9.1): `get` is not `GET`, for Gatehouse as for the upstream.
pub fn match_route<'g, 'p>(
    gateway: &'g Gateway,
    method: &str,
    path: &'p str,
) -> Option<(&'g Route, Captures<'g, 'p>)> {
    let (path, _) = split_query(path);
    gateway.routes.iter().find_map(|route| {
        if !route.methods.is_empty() && !route.methods.iter().any(|m| same(m, method)) {
            return None;
        }
        match_path(&route.path, path).map(|c| (route, c))
    })
}

/// [`match_route`], refusing (`path_not_canonical`) a path whose reading by a servlet container
/// (every segment without its `;` parameters) matches another route or fills other captures, and
/// any `;` parameter at all when the gateway file says `path_semicolons: refuse`. A `;` inside a
/// prefix route's tail, which both readings route the same, passes.
pub fn match_route_one_reading<'g, 'p>(
    gateway: &'g Gateway,
    method: &str,
    path: &'p str,
) -> Result<Option<(&'g Route, Captures<'g, 'p>)>, Reason> {
    let matched = match_route(gateway, method, path);
    if let Some(stripped) = without_path_parameters(path) {
        if gateway.refuse_path_semicolons {
            return Err(Reason::PathNotCanonical);
        }
        let same = match (&matched, match_route(gateway, method, &stripped)) {
            (None, None) => true,
            (Some((a, ours)), Some((b, theirs))) => core::ptr::eq(*a, b) && *ours == theirs,
            _ => false,
        };
        if !same {
            return Err(Reason::PathNotCanonical);
        }
    }
    Ok(matched)
}

/// `a == b` inline: these names and segments are a few bytes, and `==` on `str` calls
/// `memcmp` (a byte loop behind a call on wasm32) for each of the routes tried.
#[inline]
pub(crate) fn same(a: &str, b: &str) -> bool {
    crate::bundle::tables::cmp_bytes(a.as_bytes(), b.as_bytes()).is_eq()
}

fn match_path<'r, 'p>(pattern: &'r PathMatch, path: &'p str) -> Option<Captures<'r, 'p>> {
    match pattern {
        // On segment boundaries, as Envoy's `path_separated_prefix`: `/healthz` matches
        // `/healthz` and `/healthz/...`, never `/healthzadmin`.
        PathMatch::Prefix(prefix) => {
            let rest = path.strip_prefix(prefix.as_str())?;
            (rest.is_empty() || rest.starts_with('/') || prefix.ends_with('/')).then(Vec::new)
        }
        PathMatch::Template(segments) => {
            let mut rest = path.strip_prefix('/')?.split(is::<'/'>);
            let mut captures = Vec::new();
            for segment in segments {
                let got = rest.next()?;
                match segment {
                    Segment::Literal(lit) if same(lit, got) => {}
                    Segment::Literal(_) => return None,
                    Segment::Capture(_) if got.is_empty() => return None,
                    Segment::Capture(name) => captures.push((name.as_str(), got)),
                }
            }
            rest.next().is_none().then_some(captures)
        }
    }
}

/// Request facts a resource template can read.
#[derive(Debug)]
pub struct Facts<'a, 'r> {
    pub path: &'a str,
    pub headers: &'a [(&'a str, &'a str)],
    pub captures: &'a [(&'r str, &'a str)],
    /// The parsed body, when the route reads it.
    pub body: Option<BodyRef<'a>>,
}

/// A body as read for a route: the whole tree, or only the fields the route's templates name.
#[derive(Debug, Clone, Copy)]
pub enum BodyRef<'a> {
    Tree(&'a Value),
    Fields(&'a BodyFields<'a, 'a>),
}

impl<'a> From<&'a Value> for BodyRef<'a> {
    fn from(v: &'a Value) -> Self {
        BodyRef::Tree(v)
    }
}

impl<'a> BodyRef<'a> {
    fn is_object(self) -> bool {
        match self {
            BodyRef::Tree(v) => v.is_object(),
            BodyRef::Fields(f) => f.fields.root_is_object,
        }
    }

    /// The string at a path of object keys (`None`: absent or not a string).
    fn str_at(self, path: BodyPath<'_>) -> Option<&'a str> {
        match self {
            BodyRef::Tree(v) => match path {
                BodyPath::Method => json::at_path(v, &["method"]),
                BodyPath::ParamsName => json::at_path(v, &["params", "name"]),
                BodyPath::Keys(keys) => json::at_path(v, keys),
            }
            .and_then(Value::as_str),
            BodyRef::Fields(f) => {
                let i = f.paths.get(..f.len)?.iter().position(|p| *p == path)?;
                f.fields.values.get(i)?.as_deref()
            }
        }
    }
}

/// A path a route reads from the body: JSON-RPC's `method`, its `params.name` (compared with
/// the `Mcp-Name` header), or a template's `{body.a.b}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyPath<'r> {
    Method,
    ParamsName,
    Keys(&'r [String]),
}

impl json::JsonPath for BodyPath<'_> {
    fn keys(&self) -> usize {
        match self {
            BodyPath::Method => 1,
            BodyPath::ParamsName => 2,
            BodyPath::Keys(k) => k.len(),
        }
    }
    fn key(&self, i: usize) -> &str {
        match self {
            BodyPath::Method => "method",
            BodyPath::ParamsName => ["params", "name"].get(i).copied().unwrap_or(""),
            BodyPath::Keys(k) => k.get(i).map_or("", String::as_str),
        }
    }
}

/// The fields of a body a route reads, extracted in one strict pass.
#[derive(Debug)]
pub struct BodyFields<'r, 'b> {
    paths: [BodyPath<'r>; json::MAX_FIELDS],
    len: usize,
    fields: json::Fields<'b>,
}

/// A body read for `route`: the fields its targets name when they are few (the usual case), the
/// whole tree otherwise. Either way the acceptance is [`json::parse_strict`]'s.
#[derive(Debug)]
#[allow(
    clippy::large_enum_variant,
    reason = "lives on the stack for one request; boxing the fields would allocate per request"
)]
pub enum ReadBody<'r, 'b> {
    Tree(Value),
    Fields(BodyFields<'r, 'b>),
}

impl ReadBody<'_, '_> {
    pub fn as_ref(&self) -> BodyRef<'_> {
        match self {
            ReadBody::Tree(v) => BodyRef::Tree(v),
            ReadBody::Fields(f) => BodyRef::Fields(f),
        }
    }
}

/// Read the body of a request on `route` (which reads it): a JSON Content-Type first
/// ([`json_content_type`]), then the strict parse.
pub fn read_body<'r, 'b>(
    route: &'r Route,
    headers: &[(&str, &str)],
    body: Body<'b>,
) -> Result<ReadBody<'r, 'b>, Reason> {
    if body == Body::TooLarge {
        return Err(Reason::BodyTooLarge);
    }
    json_content_type(headers)?;
    identity_content_encoding(headers)?;
    let bytes = match body {
        Body::TooLarge => return Err(Reason::BodyTooLarge),
        Body::Absent => return Err(Reason::BodyInvalid),
        Body::Bytes(bytes) => bytes,
    };
    let mut paths = [BodyPath::Method; json::MAX_FIELDS];
    let mut len = 0;
    let mut fits = true;
    let mut add = |p: BodyPath<'r>| {
        if paths.get(..len).is_some_and(|seen| seen.contains(&p)) {
            return;
        }
        match paths.get_mut(len) {
            Some(slot) => {
                *slot = p;
                len += 1;
            }
            None => fits = false,
        }
    };
    let add_template = |t: &'r Template, add: &mut dyn FnMut(BodyPath<'r>)| {
        for part in &t.path {
            if let Part::Body(keys) = part {
                add(BodyPath::Keys(keys));
            }
        }
    };
    match &route.target {
        RouteTarget::None => {}
        RouteTarget::One(t) => add_template(&t.resource, &mut add),
        RouteTarget::JsonRpc { methods, fallback } => {
            add(BodyPath::Method);
            add(BodyPath::ParamsName);
            for t in methods.iter().map(|(_, t)| t).chain(fallback) {
                add_template(&t.resource, &mut add);
            }
        }
    }
    if !fits {
        return parse_body(body).map(ReadBody::Tree);
    }
    let wanted: [&dyn json::JsonPath; json::MAX_FIELDS] = paths.each_ref().map(|p| p as _);
    let fields = json::extract_strict(bytes, wanted.get(..len).unwrap_or(&[]))
        .map_err(|_| Reason::BodyInvalid)?;
    Ok(ReadBody::Fields(BodyFields { paths, len, fields }))
}

/// The target a route maps this request to. `Ok(None)`: the route names no resource.
pub fn target<'g>(
    route: &'g Route,
    body: Option<BodyRef<'_>>,
) -> Result<Option<&'g Target>, Reason> {
    match &route.target {
        RouteTarget::None => Ok(None),
        RouteTarget::One(t) => Ok(Some(t)),
        RouteTarget::JsonRpc { methods, fallback } => {
            // A JSON-RPC batch could carry calls on several resources: refuse it rather than
            // decide on one of them.
            let body = body.ok_or(Reason::BodyInvalid)?;
            if !body.is_object() {
                return Err(Reason::BodyInvalid);
            }
            let method = body
                .str_at(BodyPath::Method)
                .ok_or(Reason::ResourceUnresolved)?;
            let found = methods
                .binary_search_by(|(m, _)| m.as_str().cmp(method))
                .ok()
                .and_then(|i| methods.get(i))
                .map(|(_, t)| t);
            if found.is_none() {
                // A method that only an upstream folding case or trimming space would route:
                // refuse it rather than send it to the fallback.
                let trimmed = method.trim_matches(|c: char| c.is_whitespace());
                if methods
                    .iter()
                    .any(|(m, _)| fold::eq_fold(m, trimmed) || m.as_str() == trimmed)
                {
                    return Err(Reason::RequestAmbiguous);
                }
            }
            found
                .or(fallback.as_ref())
                .map(Some)
                .ok_or(Reason::ResourceUnresolved)
        }
    }
}

/// Fill a template's path. Every placeholder must yield a non-empty string.
pub fn fill(template: &Template, facts: &Facts<'_, '_>) -> Result<String, Reason> {
    let mut out = String::new();
    for part in &template.path {
        out.push_str(&fill_part(part, facts)?);
    }
    Ok(out)
}

/// One placeholder (or literal) of a template, filled from the request; never empty but for a
/// literal.
pub fn fill_part<'a>(part: &'a Part, facts: &Facts<'a, '_>) -> Result<Cow<'a, str>, Reason> {
    let value: Cow<'_, str> = match part {
        Part::Literal(s) => Cow::Borrowed(s.as_str()),
        Part::Capture(name) => facts
            .captures
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| Cow::Borrowed(*v))
            .ok_or(Reason::ResourceUnresolved)?,
        Part::Body(path) => facts
            .body
            .and_then(|b| b.str_at(BodyPath::Keys(path)))
            .map(Cow::Borrowed)
            .ok_or(Reason::ResourceUnresolved)?,
        Part::Header(name) => header(facts.headers, name)?
            .map(Cow::Borrowed)
            .ok_or(Reason::ResourceUnresolved)?,
        Part::Query(name) => query_param(facts.path, name)?.ok_or(Reason::ResourceUnresolved)?,
    };
    if value.is_empty() && !matches!(part, Part::Literal(_)) {
        return Err(Reason::ResourceUnresolved);
    }
    Ok(value)
}

/// The `method` of a JSON-RPC body (`None`: absent or not a string).
pub fn jsonrpc_method<'a>(body: BodyRef<'a>) -> Option<&'a str> {
    body.str_at(BodyPath::Method)
}

/// A bodiless request of MCP's Streamable HTTP transport on an MCP route: `GET` (the server's
/// event stream) or `DELETE` (the end of a session).
pub fn mcp_bodiless(route: &Route, method: &str) -> bool {
    route.mcp.is_some() && matches!(method, "GET" | "DELETE")
}

/// MCP's Streamable HTTP transport (protocol revision 2026-07-28) repeats the JSON-RPC method in
/// `Mcp-Method` and a `tools/call`'s tool in `Mcp-Name`, and a server or gateway may route on
/// them: a request whose headers name another method or tool than its body is read two ways,
/// and refused (`request_ambiguous`). Absent headers are not required.
pub fn mcp_headers_agree(headers: &[(&str, &str)], body: BodyRef<'_>) -> Result<(), Reason> {
    let method = body.str_at(BodyPath::Method);
    if let Some(named) = header(headers, "mcp-method")? {
        if Some(named) != method {
            return Err(Reason::RequestAmbiguous);
        }
    }
    if method == Some(crate::mcp::TOOLS_CALL) {
        if let Some(named) = header(headers, "mcp-name")? {
            if Some(named) != body.str_at(BodyPath::ParamsName) {
                return Err(Reason::RequestAmbiguous);
            }
        }
    }
    Ok(())
}

/// Parse a body a route must read.
pub fn parse_body(body: Body<'_>) -> Result<Value, Reason> {
    match body {
        Body::TooLarge => Err(Reason::BodyTooLarge),
        Body::Absent => Err(Reason::BodyInvalid),
        Body::Bytes(bytes) => json::parse_strict(bytes).map_err(|_| Reason::BodyInvalid),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TokenSource;
    use crate::request::extract_token;

    fn seg(s: &str) -> Segment {
        match s.strip_prefix('{').and_then(|s| s.strip_suffix('}')) {
            Some(name) => Segment::Capture(name.into()),
            None => Segment::Literal(s.into()),
        }
    }

    fn template(path: &str) -> PathMatch {
        PathMatch::Template(path.trim_start_matches('/').split('/').map(seg).collect())
    }

    fn gateway() -> Gateway {
        Gateway {
            default_authenticated: false,
            dry_run: false,
            max_body_bytes: 1024,
            token_sources: vec![
                TokenSource::Header {
                    name: "authorization".into(),
                    prefix: "Bearer ".into(),
                },
                TokenSource::Query {
                    name: "access_token".into(),
                },
                TokenSource::Cookie { name: "gh".into() },
            ],
            routes: vec![
                Route {
                    name: "health".into(),
                    methods: vec![],
                    path: PathMatch::Prefix("/healthz".into()),
                    public: true,
                    target: RouteTarget::None,
                    mcp: None,
                },
                Route {
                    name: "mcp".into(),
                    methods: vec!["POST".into()],
                    path: template("/api/llm/mcp/{server}/server"),
                    public: false,
                    target: RouteTarget::None,
                    mcp: None,
                },
            ],
            override_headers: Default::default(),
            host_override_headers: Default::default(),
            refuse_path_semicolons: false,
            refuse_cross_site_cookies: false,
        }
    }

    #[test]
    fn first_match_wins_and_captures_one_segment() {
        let g = gateway();
        let (r, c) = match_route(&g, "POST", "/api/llm/mcp/github/server?x=1").unwrap();
        assert_eq!(r.name, "mcp");
        assert_eq!(c, vec![("server", "github")]);
        assert!(match_route(&g, "GET", "/api/llm/mcp/github/server").is_none());
        assert!(match_route(&g, "POST", "/api/llm/mcp/a/b/server").is_none());
        assert!(match_route(&g, "POST", "/api/llm/mcp//server").is_none());
        assert!(match_route(&g, "POST", "/api/llm/mcp/github/server/").is_none());
        assert_eq!(
            match_route(&g, "GET", "/healthz/live").unwrap().0.name,
            "health"
        );
        // Methods are case-sensitive; prefixes end on a segment boundary.
        assert!(match_route(&g, "post", "/api/llm/mcp/github/server").is_none());
        assert_eq!(match_route(&g, "GET", "/healthz").unwrap().0.name, "health");
        assert!(match_route(&g, "GET", "/healthzadmin").is_none());
        assert!(match_route(&g, "GET", "/healthz.json").is_none());
    }

    #[test]
    fn token_sources_in_order() {
        let g = gateway();
        let token = |path, h: &[(&str, &str)]| {
            extract_token(&g.token_sources, path, h).map(|t| t.map(|p| p.token.into_owned()))
        };
        let h = [("Authorization", "bearer abc")];
        assert_eq!(token("/", &h), Ok(Some("abc".into())));
        let h = [("authorization", "Basic abc")];
        assert_eq!(token("/", &h), Ok(None));
        assert_eq!(
            token("/x?a=1&access_token=t%2Bk", &[]),
            Ok(Some("t+k".into()))
        );
        let h = [("cookie", "a=b; gh=tok; c=d")];
        assert_eq!(token("/", &h), Ok(Some("tok".into())));
        // The same token in two sources is one token; different ones are refused.
        let h = [("authorization", "Bearer tok"), ("cookie", "gh=tok")];
        assert_eq!(token("/?access_token=tok", &h), Ok(Some("tok".into())));
        assert_eq!(
            token("/?access_token=other", &h),
            Err(Reason::RequestAmbiguous)
        );
        let h = [("authorization", "Bearer a"), ("authorization", "Bearer b")];
        assert_eq!(token("/", &h), Err(Reason::RequestAmbiguous));
    }

    #[test]
    fn fill_placeholders() {
        let t = Template {
            resource_type: "tool".into(),
            path: vec![
                Part::Capture("server".into()),
                Part::Literal("/".into()),
                Part::Body(vec!["params".into(), "name".into()]),
            ],
        };
        let body = json::parse_strict(br#"{"params":{"name":"create_issue"}}"#).unwrap();
        let captures = [("server", "github")];
        let facts = Facts {
            path: "/",
            headers: &[],
            captures: &captures,
            body: Some((&body).into()),
        };
        assert_eq!(fill(&t, &facts).unwrap(), "github/create_issue");
        let empty = json::parse_strict(br#"{"params":{"name":""}}"#).unwrap();
        let facts = Facts {
            body: Some((&empty).into()),
            ..facts
        };
        assert_eq!(fill(&t, &facts), Err(Reason::ResourceUnresolved));
    }

    #[test]
    fn jsonrpc_method_selection() {
        let tool = Target {
            resource: Template {
                resource_type: "tool".into(),
                path: vec![],
            },
            action: "use".into(),
        };
        let server = Target {
            action: "read".into(),
            ..tool.clone()
        };
        let route = Route {
            name: "mcp".into(),
            methods: vec![],
            path: PathMatch::Prefix("/".into()),
            public: false,
            target: RouteTarget::JsonRpc {
                methods: vec![("tools/call".into(), tool.clone())],
                fallback: Some(server.clone()),
            },
            mcp: None,
        };
        let call = json::parse_strict(br#"{"jsonrpc":"2.0","method":"tools/call"}"#).unwrap();
        let list = json::parse_strict(br#"{"jsonrpc":"2.0","method":"tools/list"}"#).unwrap();
        let batch = json::parse_strict(br#"[{"jsonrpc":"2.0","method":"tools/call"}]"#).unwrap();
        assert_eq!(target(&route, Some((&call).into())).unwrap(), Some(&tool));
        assert_eq!(target(&route, Some((&list).into())).unwrap(), Some(&server));
        assert_eq!(
            target(&route, Some((&batch).into())),
            Err(Reason::BodyInvalid)
        );
        for (body, want) in [
            (
                &br#"{"jsonrpc":"2.0","method":"tools/call"}"#[..],
                Ok(Some(&tool)),
            ),
            (
                br#"{"jsonrpc":"2.0","method":"tools/list"}"#,
                Ok(Some(&server)),
            ),
            (
                br#"[{"jsonrpc":"2.0","method":"tools/call"}]"#,
                Err(Reason::BodyInvalid),
            ),
            (br#"{"method":1}"#, Err(Reason::ResourceUnresolved)),
            // Routed only by an upstream that folds case or trims: refused, not the fallback.
            (br#"{"method":"Tools/Call"}"#, Err(Reason::RequestAmbiguous)),
            (
                br#"{"method":" tools/call"}"#,
                Err(Reason::RequestAmbiguous),
            ),
            (
                br#"{"method":"tools/call\n"}"#,
                Err(Reason::RequestAmbiguous),
            ),
            (
                br#"{"method":"tool\u017f/call"}"#,
                Err(Reason::RequestAmbiguous),
            ),
            (
                br#"{"method":"tools/list","METHOD":"tools/call"}"#,
                Err(Reason::BodyInvalid),
            ),
            (
                br#"{"method":"tools/call","method":"x"}"#,
                Err(Reason::BodyInvalid),
            ),
        ] {
            let read = read_body(
                &route,
                &[("content-type", "application/json")],
                Body::Bytes(body),
            );
            let got = read.and_then(|r| target(&route, Some(r.as_ref())));
            assert_eq!(got, want, "{}", String::from_utf8_lossy(body));
        }
        assert_eq!(parse_body(Body::TooLarge), Err(Reason::BodyTooLarge));
        assert_eq!(parse_body(Body::Bytes(b"{")), Err(Reason::BodyInvalid));
    }
}
