//! What the filter does with one request, whichever way it is loaded into Envoy: the proxy-wasm
//! build (`gatehouse.wasm`) and the native dynamic module (`libgatehouse_module.so`) both drive
//! a [`Filter`] through their own [`Host`], so the decisions, replies, identity and override
//! header handling, metrics and denial log lines are one definition.
//!
//! The host is everything that crosses into Envoy; the filter never calls Envoy another way.
//! Every host error denies (503 `unavailable`: no decision was made), and a request is never
//! continued after a local reply, even one that could not be sent.

use std::borrow::Cow;
use std::rc::Rc;

use gatehouse_engine::headers::removed_before_forwarding;
use gatehouse_engine::logsafe::log_safe;
use gatehouse_engine::mcp::{self, trim};
use gatehouse_engine::model::TokenSource;
use gatehouse_engine::route::Body;
use gatehouse_engine::{Decision, Engine, Identity, Outcome, Reason, Request, ToolsListGrant};

use crate::reply::{self, Reply};

/// Headers the filter sets on allowed requests, after removing every incoming `x-gatehouse-*`
/// header (any case, `_` for `-`: `gatehouse_engine::headers`).
pub const HEADER_TENANT: &str = "x-gatehouse-tenant";
pub const HEADER_SUBJECT: &str = "x-gatehouse-subject";
pub const HEADER_ROUTE: &str = "x-gatehouse-route";
/// The id of the API key the caller presented (never the key).
pub const HEADER_CREDENTIAL: &str = "x-gatehouse-credential";

/// What the filter asks Envoy to do with the stream after a callback.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Continue,
    /// Hold the stream: the body is being buffered, or a local reply (or reset) ended it.
    Pause,
}

/// Something the filter counts ([`Host::count`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    Allowed,
    /// A denial that was enforced (a local reply was sent).
    Denied(Reason),
    /// A denial that dry-run mode let through.
    DryRunDenied(Reason),
    /// A protected-resource metadata document was served.
    MetadataServed,
    /// A denial was sent as a JSON-RPC answer (also counted as denied).
    JsonRpcRefusal,
    /// A `tools/list` response was trimmed: the upstream listed `listed` tools, `kept` remain.
    ToolsTrimmed {
        listed: usize,
        kept: usize,
    },
    /// A `tools/list` response could not be trimmed and was replaced by a JSON-RPC error.
    ToolsListRefused,
    /// A token was presented: found in the verified-token cache, or verified.
    TokenLookup {
        hit: bool,
    },
}

/// The calls into Envoy one request makes. Header names are Envoy's (lowercase); values that
/// are not UTF-8 read as text with U+FFFD in place of the bad bytes ([`text`]).
pub trait Host {
    /// Why a call failed; only ever logged.
    type Error: core::fmt::Debug;

    /// Every request header, in order (pseudo-headers included).
    fn request_headers(&mut self) -> Result<Vec<(String, String)>, Self::Error>;
    /// The buffered request body: the first `size` bytes (`None`: no body).
    fn request_body(&mut self, size: usize) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Envoy's clock, in Unix seconds.
    fn now(&mut self) -> Option<i64>;
    fn remove_header(&mut self, name: &str) -> Result<(), Self::Error>;
    fn set_header(&mut self, name: &str, value: &str) -> Result<(), Self::Error>;
    /// One response header (`None`: absent).
    fn response_header(&mut self, name: &str) -> Result<Option<String>, Self::Error>;
    fn remove_response_header(&mut self, name: &str) -> Result<(), Self::Error>;
    fn set_response_header(&mut self, name: &str, value: &str) -> Result<(), Self::Error>;
    /// The buffered response body: the first `size` bytes (`None`: no body).
    fn response_body(&mut self, size: usize) -> Result<Option<Vec<u8>>, Self::Error>;
    /// Replaces the first `size` buffered bytes of the response body with `body`.
    fn set_response_body(&mut self, size: usize, body: &[u8]) -> Result<(), Self::Error>;
    /// A local reply in place of the upstream's.
    fn send_reply(&mut self, reply: &Reply) -> Result<(), Self::Error>;
    /// Ends the response stream (the client sees a reset).
    fn reset_response(&mut self);
    fn log(&mut self, level: log::Level, line: &str);
    /// Adds to a metric. Metrics never decide a request: a host that cannot count drops it.
    fn count(&mut self, event: Event);
    /// Test builds: the request took this row of the host-call table (`plugin/src/host.rs`).
    #[cfg(feature = "test-hooks")]
    fn report(&mut self, _path: &'static str) {}
}

/// A header value as text without a copy when it is UTF-8 (the usual case). Invalid sequences
/// become U+FFFD, so such a token is malformed and such a placeholder names no resource.
pub fn text(value: Vec<u8>) -> String {
    String::from_utf8(value).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Test builds only: what the filter configuration may set to make a real Envoy replay golden
/// vectors (`fixed_now`) and prove that a panic fails closed (`panic_path`).
#[cfg(feature = "test-hooks")]
#[derive(Debug, Clone, Default)]
pub struct TestHooks {
    pub fixed_now: Option<i64>,
    pub panic_path: Option<Rc<str>>,
}

/// One per HTTP request.
#[derive(Debug)]
pub struct Filter<H> {
    engine: Option<Rc<Engine>>,
    host: H,
    /// Request headers, kept while the body is being buffered.
    headers: Vec<(String, String)>,
    waiting_for_body: bool,
    /// An allowed `tools/list` request on an MCP route that trims: its response is buffered
    /// and trimmed for the same caller.
    tools_list: Option<ToolsList>,
    /// Test builds: which row of the host-call table this request took.
    #[cfg(feature = "test-hooks")]
    path_kind: &'static str,
    #[cfg(feature = "test-hooks")]
    hooks: TestHooks,
}

/// A `tools/list` response on its way to the client.
#[derive(Debug)]
struct ToolsList {
    grant: ToolsListGrant,
    /// The request's JSON-RPC id (its JSON text), for the error that replaces a response the
    /// filter cannot trim.
    id: Option<String>,
    /// How the response is framed, once its headers are read.
    kind: trim::Kind,
    /// Set when the response cannot be trimmed: the body is discarded as it arrives and the
    /// error written at the end.
    refused: Option<trim::TrimError>,
}

impl<H: Host> Filter<H> {
    /// A filter deciding with `engine`; without one (no bundle loaded) it denies everything.
    pub fn new(engine: Option<Rc<Engine>>, host: H) -> Filter<H> {
        Filter {
            engine,
            host,
            headers: Vec::new(),
            waiting_for_body: false,
            tools_list: None,
            #[cfg(feature = "test-hooks")]
            path_kind: "none",
            #[cfg(feature = "test-hooks")]
            hooks: TestHooks::default(),
        }
    }

    /// Test builds: with the configuration's test hooks.
    #[cfg(feature = "test-hooks")]
    pub fn with_hooks(mut self, hooks: TestHooks) -> Filter<H> {
        self.hooks = hooks;
        self
    }

    pub fn host(&mut self) -> &mut H {
        &mut self.host
    }

    pub fn on_request_headers(&mut self, end_of_stream: bool) -> Action {
        let Some(engine) = self.engine.clone() else {
            return self.deny_without_policy();
        };
        self.headers = match self.host.request_headers() {
            Ok(headers) => headers,
            Err(status) => {
                let line = format!("cannot read request headers: {status:?}; denying");
                self.host.log(log::Level::Error, &line);
                return self.reply(&reply::unavailable());
            }
        };
        #[cfg(feature = "test-hooks")]
        self.panic_if_asked();
        let (authority, method, path) = (
            self.header(":authority"),
            self.header(":method"),
            self.header(":path"),
        );
        if path.starts_with(mcp::WELL_KNOWN) {
            let headers = self.header_refs();
            let request = Request {
                authority,
                method,
                path,
                headers: &headers,
                body: Body::Absent,
            };
            if let Some(document) = engine.protected_resource_metadata(&request) {
                self.host.count(Event::MetadataServed);
                return self.reply(&reply::metadata(document));
            }
        }
        if !end_of_stream && engine.needs_body(authority, method, path) {
            let max = u64::from(engine.bundle().gateway().max_body_bytes);
            let declared = self.header("content-length").parse::<u64>().ok();
            if declared.is_some_and(|len| len > max) {
                return self.decide(&engine, Body::TooLarge);
            }
            self.waiting_for_body = true;
            return Action::Pause;
        }
        self.decide(&engine, Body::Absent)
    }

    /// `body_size`: the bytes of the request body buffered so far, this chunk included.
    pub fn on_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        if !self.waiting_for_body {
            return Action::Continue;
        }
        let Some(engine) = self.engine.clone() else {
            return self.deny_without_policy();
        };
        let max = usize::try_from(engine.bundle().gateway().max_body_bytes).unwrap_or(usize::MAX);
        if body_size > max {
            // Envoy holds the buffered bytes; nothing more is read or kept.
            self.waiting_for_body = false;
            return self.decide(&engine, Body::TooLarge);
        }
        if !end_of_stream {
            return Action::Pause;
        }
        self.waiting_for_body = false;
        self.decide_with_buffered_body(&engine, body_size)
    }

    pub fn on_request_trailers(&mut self) -> Action {
        // Trailers end the body without an end_of_stream body callback.
        if !self.waiting_for_body {
            return Action::Continue;
        }
        self.waiting_for_body = false;
        let Some(engine) = self.engine.clone() else {
            return self.deny_without_policy();
        };
        let size = usize::try_from(engine.bundle().gateway().max_body_bytes).unwrap_or(usize::MAX);
        self.decide_with_buffered_body(&engine, size)
    }

    pub fn on_response_headers(&mut self, end_of_stream: bool) -> Action {
        if self.tools_list.is_none() {
            return Action::Continue;
        }
        if end_of_stream {
            // No body: nothing is listed.
            self.tools_list = None;
            return Action::Continue;
        }
        if let Err(status) = self.tools_list_headers() {
            let line = format!("cannot read the tools/list response headers: {status:?}");
            self.host.log(log::Level::Error, &line);
            if let Some(list) = self.tools_list.as_mut() {
                list.refused = Some(trim::TrimError::NotMcp);
            }
        }
        Action::Continue
    }

    /// `body_size`: the bytes of the response body buffered so far, this chunk included.
    pub fn on_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(list) = self.tools_list.as_mut() else {
            return Action::Continue;
        };
        let max = usize::try_from(list.grant.max_bytes()).unwrap_or(usize::MAX);
        if list.refused.is_some() || body_size > max {
            // Nothing of this body reaches the client; drop what is buffered as it comes.
            list.refused.get_or_insert(trim::TrimError::TooLarge);
            if !end_of_stream {
                if self.host.set_response_body(body_size, b"").is_err() {
                    self.host.reset_response();
                }
                return Action::Pause;
            }
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let Some(engine) = self.engine.clone() else {
            self.host.reset_response();
            return Action::Pause;
        };
        self.tools_list_body(&engine, body_size)
    }

    pub fn on_response_trailers(&mut self) -> Action {
        if self.tools_list.take().is_some() {
            // A body ended by trailers never reaches the end-of-stream body callback, so it
            // cannot be trimmed: end the stream rather than let the list through.
            self.host.log(
                log::Level::Warn,
                "tools/list response ended with trailers; resetting",
            );
            self.host.reset_response();
            return Action::Pause;
        }
        Action::Continue
    }

    /// The stream is done (logged): test builds report its host calls.
    pub fn on_done(&mut self) {
        #[cfg(feature = "test-hooks")]
        self.host.report(self.path_kind);
    }

    /// Test builds only: a request to the configured `panic_path` panics, so the end-to-end
    /// suite can show what Envoy does with a panicking filter (it must deny).
    #[cfg(feature = "test-hooks")]
    #[expect(
        clippy::panic,
        reason = "test-hooks builds only: proves a panic fails closed"
    )]
    fn panic_if_asked(&self) {
        if self
            .hooks
            .panic_path
            .as_deref()
            .is_some_and(|p| p == self.header(":path"))
        {
            panic!("test hook: panic_path requested");
        }
    }

    /// Envoy's clock, in Unix seconds; in test builds the configuration's `fixed_now` first.
    fn now(&mut self) -> Option<i64> {
        #[cfg(feature = "test-hooks")]
        if let Some(now) = self.hooks.fixed_now {
            return Some(now);
        }
        self.host.now()
    }

    fn header(&self, name: &str) -> &str {
        header(&self.headers, name)
    }

    fn decide_with_buffered_body(&mut self, engine: &Engine, size: usize) -> Action {
        match self.host.request_body(size) {
            Ok(Some(bytes)) => self.decide(engine, Body::Bytes(&bytes)),
            Ok(None) => self.decide(engine, Body::Absent),
            Err(status) => {
                let line = format!("cannot read request body: {status:?}; denying");
                self.host.log(log::Level::Error, &line);
                self.reply(&reply::unavailable())
            }
        }
    }

    fn decide(&mut self, engine: &Engine, body: Body<'_>) -> Action {
        let Some(now) = self.now() else {
            self.host.log(log::Level::Error, "no clock; denying");
            return self.reply(&reply::unavailable());
        };
        let headers = header_refs(&self.headers);
        let request = Request {
            authority: header(&self.headers, ":authority"),
            method: header(&self.headers, ":method"),
            path: header(&self.headers, ":path"),
            headers: &headers,
            body,
        };
        let outcome = engine.decide(&request, Identity::Token, now);
        // What the answer needs of the request, read now: `request` borrows `self`.
        let tools_list = engine.tools_list_grant(&outcome, &request);
        let challenge = engine.www_authenticate(&outcome, &request);
        if outcome.token_presented {
            self.host.count(Event::TokenLookup {
                hit: outcome.token_cache_hit,
            });
        }
        #[cfg(feature = "test-hooks")]
        {
            self.path_kind = match (outcome.decision.is_allow(), outcome.token_cache_hit) {
                (false, _) => "deny",
                (true, _) if matches!(body, Body::Bytes(_)) => "body",
                (true, true) => "cached",
                (true, false) if outcome.token_presented => "verified",
                (true, false) => "public",
            };
        }
        match outcome.decision {
            Decision::Allow { .. } => {
                self.host.count(Event::Allowed);
                self.forward(engine, &outcome, tools_list, body)
            }
            Decision::Deny { reason } if engine.bundle().gateway().dry_run => {
                log_denial(&mut self.host, &outcome, reason, true);
                self.host.count(Event::DryRunDenied(reason));
                self.forward(engine, &outcome, None, body)
            }
            Decision::Deny { reason } => {
                log_denial(&mut self.host, &outcome, reason, false);
                self.host.count(Event::Denied(reason));
                if let Some(refusal) = jsonrpc_refusal(&outcome, reason, body) {
                    self.host.count(Event::JsonRpcRefusal);
                    return self.reply(&reply::jsonrpc(refusal, reason));
                }
                let mut reply = reply::denial(reason, challenge);
                if outcome.route.is_some_and(|r| r.mcp.is_some()) {
                    // As on the JSON-RPC refusals of the same route, for clients and logs that
                    // read headers.
                    reply
                        .headers
                        .push(("x-gatehouse-reason", reason.code().to_owned()));
                }
                self.reply(&reply)
            }
        }
    }

    fn header_refs(&self) -> Vec<(&str, &str)> {
        header_refs(&self.headers)
    }

    /// Strip spoofed identity headers (any case, `_` read as `-`, as CGI-style upstreams read
    /// them) and, unless the gateway file keeps them, method/URL and host/prefix override headers;
    /// set ours; let the request through.
    ///
    /// On an MCP route the header the token came from is removed too, unless the route forwards
    /// it; an allowed `tools/list` asks for an uncompressed response, which is then trimmed.
    fn forward(
        &mut self,
        engine: &Engine,
        outcome: &Outcome<'_>,
        tools_list: Option<ToolsListGrant>,
        body: Body<'_>,
    ) -> Action {
        let gateway = engine.bundle().gateway();
        let strip_token = outcome
            .route
            .and_then(|r| r.mcp.as_ref())
            .is_some_and(|m| !m.forward_token);
        let token_header = |name: &str| {
            strip_token
                && gateway.token_sources.iter().any(|s| {
                    matches!(s, TokenSource::Header { name: n, .. } if n.eq_ignore_ascii_case(name))
                })
        };
        let encoding =
            |name: &str| tools_list.is_some() && name.eq_ignore_ascii_case("accept-encoding");
        for (name, _) in &self.headers {
            let remove =
                removed_before_forwarding(gateway, name) || token_header(name) || encoding(name);
            if remove && self.host.remove_header(name).is_err() {
                // A spoofed identity header that cannot be removed would reach the upstream as
                // if Gatehouse had set it; an override header, as a request nobody decided on.
                let line = format!("cannot remove {}; denying", log_safe(name));
                self.host.log(log::Level::Error, &line);
                return self.reply(&reply::unavailable());
            }
        }
        let subject = outcome.subject();
        let credential = outcome.credential.map(|id| id.to_string());
        let identity = [
            (HEADER_TENANT, outcome.tenant_name()),
            (HEADER_SUBJECT, subject.as_deref()),
            (HEADER_ROUTE, outcome.route_name()),
            (HEADER_CREDENTIAL, credential.as_deref()),
        ];
        for (name, value) in identity {
            if let Some(value) = value {
                if self.host.set_header(name, value).is_err() {
                    // Forwarding without the identity header would be forwarding a request the
                    // upstream cannot attribute; refuse instead.
                    self.host
                        .log(log::Level::Error, &format!("cannot set {name}; denying"));
                    return self.reply(&reply::unavailable());
                }
            }
        }
        if let Some(grant) = tools_list {
            self.tools_list = Some(ToolsList {
                grant,
                id: match body {
                    Body::Bytes(bytes) => mcp::request_id(bytes),
                    Body::Absent | Body::TooLarge => None,
                },
                kind: trim::Kind::Json,
                refused: None,
            });
        }
        Action::Continue
    }

    /// The response headers of a `tools/list` being trimmed: the body will change size, so
    /// `content-length` goes; a response the trimmer cannot read (another content type, a
    /// compressed body) is marked refused and will carry a JSON-RPC error instead.
    fn tools_list_headers(&mut self) -> Result<(), H::Error> {
        let content_type = self.host.response_header("content-type")?;
        let encoding = self.host.response_header("content-encoding")?;
        let Some(list) = self.tools_list.as_mut() else {
            return Ok(());
        };
        match content_type.as_deref().and_then(trim::kind) {
            Some(kind) => list.kind = kind,
            None => list.refused = Some(trim::TrimError::NotMcp),
        }
        if encoding.is_some_and(|e| !e.trim().eq_ignore_ascii_case("identity")) {
            list.refused = Some(trim::TrimError::Encoded);
        }
        let refused = list.refused.is_some();
        self.host.remove_response_header("content-length")?;
        if refused {
            self.host.remove_response_header("content-encoding")?;
            if content_type.as_deref().and_then(trim::kind).is_none() {
                self.host
                    .set_response_header("content-type", "application/json")?;
            }
        }
        Ok(())
    }

    /// The whole `tools/list` response body: trimmed, or replaced by a JSON-RPC error.
    fn tools_list_body(&mut self, engine: &Engine, size: usize) -> Action {
        let Some(list) = self.tools_list.take() else {
            return Action::Continue;
        };
        let result = match list.refused {
            Some(why) => Err(why),
            None => match self.host.response_body(size) {
                Ok(body) => {
                    engine.trim_tools_list(&list.grant, list.kind, &body.unwrap_or_default())
                }
                Err(_) => Err(trim::TrimError::NotJson),
            },
        };
        let body = match result {
            Ok(trimmed) => {
                self.host.count(Event::ToolsTrimmed {
                    listed: trimmed.listed,
                    kept: trimmed.kept,
                });
                trimmed.body
            }
            Err(why) => {
                self.host.count(Event::ToolsListRefused);
                let line = format!("tools/list response refused: {}", why.as_str());
                self.host.log(log::Level::Warn, &line);
                trim::refused(list.kind, list.id.as_deref(), why)
            }
        };
        if let Err(status) = self.host.set_response_body(size, &body) {
            // The untrimmed list must not reach the client: end the stream instead.
            let line = format!("cannot replace the tools/list response: {status:?}; resetting");
            self.host.log(log::Level::Error, &line);
            self.host.reset_response();
            return Action::Pause;
        }
        Action::Continue
    }

    /// No bundle loaded: no policy knows any tenant. Denied and counted as `tenant_unknown`.
    fn deny_without_policy(&mut self) -> Action {
        self.host.log(
            log::Level::Error,
            "no policy bundle loaded; denying (tenant_unknown)",
        );
        self.host.count(Event::Denied(Reason::TenantUnknown));
        self.reply(&reply::no_policy())
    }

    fn reply(&mut self, reply: &Reply) -> Action {
        if let Err(status) = self.host.send_reply(reply) {
            let line = format!("cannot send the local reply: {status:?}");
            self.host.log(log::Level::Error, &line);
        }
        // Never continue a denied request, even when the reply could not be sent.
        Action::Pause
    }
}

fn header<'h>(headers: &'h [(String, String)], name: &str) -> &'h str {
    headers
        .iter()
        .find(|(n, _)| n.eq_ignore_ascii_case(name))
        .map_or("", |(_, v)| v.as_str())
}

fn header_refs(headers: &[(String, String)]) -> Vec<(&str, &str)> {
    headers
        .iter()
        .map(|(n, v)| (n.as_str(), v.as_str()))
        .collect()
}

/// A denial on an MCP route shaped as the route's `refusal` asks: a JSON-RPC answer for an
/// authorization refusal of a request that carries an id; `None`: the HTTP denial.
fn jsonrpc_refusal(outcome: &Outcome<'_>, reason: Reason, body: Body<'_>) -> Option<String> {
    let mcp = outcome.route?.mcp.as_ref()?;
    let method = outcome.mcp_method?;
    if !mcp::refusal_applies(reason) {
        return None;
    }
    let Body::Bytes(bytes) = body else {
        return None;
    };
    let id = mcp::request_id(bytes)?;
    mcp::refusal_body(mcp.refusal, method, Some(&id), reason)
}

/// One line per denial; the token never appears (nor the query string, which may carry it).
/// Every value goes through [`log_safe`]: the subject comes from a token claim and the resource
/// path from the body, path or headers, so they could otherwise forge lines (a newline), reach a
/// terminal as escape sequences, or fill the log; names from the bundle pass unchanged.
fn log_denial(host: &mut impl Host, outcome: &Outcome<'_>, reason: Reason, dry_run: bool) {
    let subject = outcome.subject();
    let resource = outcome.resource();
    let line = format!(
        "{} reason={} status={} tenant={} subject={} route={} resource={} action={}",
        if dry_run {
            "dry-run deny (request continues)"
        } else {
            "deny"
        },
        reason.code(),
        reason.status(),
        field(outcome.tenant_name()),
        field(subject.as_deref()),
        field(outcome.route_name()),
        field(resource.as_deref()),
        field(outcome.action),
    );
    let level = if reason.status() == 401 {
        log::Level::Info
    } else {
        log::Level::Warn
    };
    host.log(level, &line);
}

/// A field of a log line: `-` when absent.
fn field(value: Option<&str>) -> Cow<'_, str> {
    log_safe(value.unwrap_or("-"))
}
