//! The proxy-wasm contexts: [`Root`] loads the bundle once per configuration and shares it;
//! [`Filter`] decides each request.

use std::borrow::Cow;
use std::cell::RefCell;
use std::collections::BTreeMap;
use std::rc::Rc;

use gatehouse_engine::headers::removed_before_forwarding;
use gatehouse_engine::logsafe::log_safe;
use gatehouse_engine::mcp::{self, trim};
use gatehouse_engine::model::TokenSource;
use gatehouse_engine::route::Body;
use gatehouse_engine::{
    Decision, Engine, Identity, Outcome, Reason, Request, SharedTokenCache, ToolsListGrant,
};
use proxy_wasm::hostcalls;
use proxy_wasm::traits::{Context, HttpContext, RootContext};
use proxy_wasm::types::{Action, BufferType, ContextType};

use crate::config;
use crate::host::Host;
use crate::metrics::{self, Metrics};
use crate::reply::{self, Reply};

/// Headers the filter sets on allowed requests, after removing every incoming `x-gatehouse-*`
/// header (any case, `_` for `-`: `gatehouse_engine::headers`).
const HEADER_TENANT: &str = "x-gatehouse-tenant";
const HEADER_SUBJECT: &str = "x-gatehouse-subject";
const HEADER_ROUTE: &str = "x-gatehouse-route";
/// The id of the API key the caller presented (never the key).
const HEADER_CREDENTIAL: &str = "x-gatehouse-credential";

thread_local! {
    /// The serial this VM last accepted, per signer ([`config::SerialScope`]), whichever filter
    /// of the VM accepted it: never per filter name, which the resource carrying the bundle sets.
    /// Not in [`Root`]: Envoy gives each new plugin configuration a new root context in the same
    /// VM, so only VM-wide state sees the bundle a new configuration would replace.
    static SERIAL_IN_SERVICE: RefCell<BTreeMap<config::SerialScope, u64>> =
        const { RefCell::new(BTreeMap::new()) };

    /// The VM's verified-token cache, which the engine of every configuration the VM loads
    /// uses: VM-wide for the same reason, so that a new bundle keeps the signatures verified
    /// under the previous one while the keys and the rest of what verification reads are
    /// unchanged (`gatehouse_engine::cache` says why that is safe). Created by the first
    /// `on_vm_start`, with the VM configuration's `token_cache_entries`; a VM's configuration
    /// never changes (Envoy starts another VM for another one).
    static TOKEN_CACHE: RefCell<Option<SharedTokenCache>> = const { RefCell::new(None) };
}

/// The VM's verified-token cache, created with `entries` if it is the first asked for.
fn vm_token_cache(entries: usize) -> SharedTokenCache {
    TOKEN_CACHE.with(|cache| {
        cache
            .borrow_mut()
            .get_or_insert_with(|| SharedTokenCache::new(entries))
            .clone()
    })
}

/// One per plugin configuration (and per VM): parses once, shares read-only state.
#[derive(Debug)]
pub struct Root {
    trusted_keys: Vec<[u8; 32]>,
    /// The VM configuration's `allow_rollback`.
    allow_rollback: bool,
    /// The VM's verified-token cache, which every root context of the VM shares.
    token_cache: Option<SharedTokenCache>,
    engine: Option<Rc<Engine>>,
    metrics: Rc<Metrics>,
    /// Feature `test-hooks` (test builds): the VM configuration's `fixed_now`.
    #[cfg(feature = "test-hooks")]
    fixed_now: Option<i64>,
    #[cfg(feature = "test-hooks")]
    panic_path: Option<Rc<str>>,
}

impl Root {
    pub fn new() -> Root {
        Root {
            trusted_keys: Vec::new(),
            allow_rollback: false,
            token_cache: None,
            engine: None,
            metrics: Rc::new(Metrics::define()),
            #[cfg(feature = "test-hooks")]
            fixed_now: None,
            #[cfg(feature = "test-hooks")]
            panic_path: None,
        }
    }
}

impl Default for Root {
    fn default() -> Self {
        Root::new()
    }
}

impl Context for Root {
    fn on_done(&mut self) -> bool {
        self.metrics.retire(self.cache_stats());
        true
    }
}

impl Root {
    fn cache_stats(&self) -> Option<gatehouse_engine::cache::CacheStats> {
        self.token_cache.as_ref().map(SharedTokenCache::stats)
    }
}

impl RootContext for Root {
    fn on_vm_start(&mut self, _vm_configuration_size: usize) -> bool {
        let raw = buffer(BufferType::VmConfiguration);
        match config::vm_settings(raw.as_deref()) {
            Ok(settings) => {
                if !settings.trusted_keys.is_empty() {
                    log::info!(
                        "{} trusted bundle signing key(s) pinned",
                        settings.trusted_keys.len()
                    );
                }
                if settings.allow_rollback {
                    log::warn!(
                        "allow_rollback: bundles older than the one in service are accepted"
                    );
                }
                self.trusted_keys = settings.trusted_keys;
                self.allow_rollback = settings.allow_rollback;
                self.token_cache = Some(vm_token_cache(settings.token_cache_entries));
                if let Err(status) = hostcalls::set_tick_period(metrics::FLUSH_PERIOD) {
                    // Counts then reach Envoy only when a configuration replaces this one.
                    log::warn!("cannot set a tick period for metrics: {status:?}");
                }
                #[cfg(feature = "test-hooks")]
                {
                    if let Some(now) = settings.fixed_now {
                        log::warn!("test build: the clock is fixed at {now} (fixed_now)");
                    }
                    self.fixed_now = settings.fixed_now;
                    self.panic_path = settings.panic_path.map(Rc::from);
                }
                true
            }
            Err(err) => {
                log::error!("refusing to start: {err}");
                false
            }
        }
    }

    fn on_configure(&mut self, _plugin_configuration_size: usize) -> bool {
        let token_cache = self
            .token_cache
            .get_or_insert_with(|| vm_token_cache(config::DEFAULT_TOKEN_CACHE_ENTRIES))
            .clone();
        let loaded = config::load_engine(
            buffer(BufferType::PluginConfiguration),
            &self.trusted_keys,
            &token_cache,
        )
        .and_then(|engine| {
            // Keyed by the signer, whose signature has just verified (and which pinning has
            // accepted): nothing else in the resource that carried the bundle enters the key.
            let scope = config::SerialScope::of(engine.bundle().signer());
            let in_service = serial_in_service(scope);
            config::check_serial(
                scope,
                engine.bundle().serial(),
                in_service,
                self.allow_rollback,
            )
            .map(|()| (engine, scope, in_service))
        });
        match loaded {
            Ok((engine, scope, in_service)) => {
                let bundle = engine.bundle();
                let meta = bundle.meta();
                if in_service.is_some_and(|s| meta.serial < s) {
                    log::warn!(
                        "rolling back from serial {} to serial {} of signer {scope} (allow_rollback)",
                        in_service.unwrap_or_default(),
                        meta.serial
                    );
                }
                SERIAL_IN_SERVICE.with(|s| s.borrow_mut().insert(scope, meta.serial));
                if let Err(status) = hostcalls::set_shared_data(
                    &scope.shared_data_key(),
                    Some(&meta.serial.to_le_bytes()),
                    None,
                ) {
                    log::warn!(
                        "cannot record serial {} in shared data: {status:?}",
                        meta.serial
                    );
                }
                log::info!(
                    "loaded bundle revision `{}` serial {} ({} tenant(s), {} bytes, mode {})",
                    meta.revision,
                    meta.serial,
                    bundle.tenants().len(),
                    bundle.len(),
                    if bundle.gateway().dry_run {
                        "dry-run"
                    } else {
                        "enforce"
                    },
                );
                self.metrics.bundle_loaded(
                    config::numeric_revision(&meta.revision),
                    config::digest48(bundle.digest()),
                );
                self.engine = Some(Rc::new(engine));
                true
            }
            Err(err) => {
                // Keep whatever engine this context already had: a rejected configuration never
                // replaces a good one (and Envoy itself keeps the previous filter configuration
                // when the new one fails to configure).
                log::error!("rejecting configuration: {err}");
                self.metrics.bundle_rejected();
                false
            }
        }
    }

    fn on_tick(&mut self) {
        self.metrics.flush(self.cache_stats());
    }

    fn create_http_context(&self, _context_id: u32) -> Option<Box<dyn HttpContext>> {
        // Always a context: the SDK panics on None. Without an engine, the filter denies.
        Some(Box::new(Filter {
            engine: self.engine.clone(),
            metrics: Rc::clone(&self.metrics),
            host: Host::default(),
            headers: Vec::new(),
            waiting_for_body: false,
            tools_list: None,
            #[cfg(feature = "test-hooks")]
            path_kind: "none",
            #[cfg(feature = "test-hooks")]
            fixed_now: self.fixed_now,
            #[cfg(feature = "test-hooks")]
            panic_path: self.panic_path.clone(),
        }))
    }

    fn get_type(&self) -> Option<ContextType> {
        Some(ContextType::HttpContext)
    }
}

/// One per HTTP request.
#[derive(Debug)]
pub struct Filter {
    engine: Option<Rc<Engine>>,
    metrics: Rc<Metrics>,
    host: Host,
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
    fixed_now: Option<i64>,
    #[cfg(feature = "test-hooks")]
    panic_path: Option<Rc<str>>,
}

impl Context for Filter {}

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

/// A header value as text without a copy when it is UTF-8 (the usual case). Invalid sequences
/// become U+FFFD, so such a token is malformed and such a placeholder names no resource.
fn text(value: Vec<u8>) -> String {
    String::from_utf8(value).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

impl HttpContext for Filter {
    fn on_http_request_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
        let Some(engine) = self.engine.clone() else {
            return self.deny_without_policy();
        };
        // Values as bytes: the SDK's `get_map` unwraps a UTF-8 conversion and a header value
        // with bytes 0x80-0xFF would panic the VM. (Names are HTTP tokens, ASCII by the time
        // Envoy's codec has accepted them.)
        self.headers = match self.host.request_headers() {
            Ok(headers) => headers
                .into_iter()
                .map(|(name, value)| (name, text(value)))
                .collect(),
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
                self.metrics.metadata_served();
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

    fn on_http_request_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
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

    #[cfg(feature = "test-hooks")]
    fn on_log(&mut self) {
        self.host.report(self.path_kind);
    }

    fn on_http_response_headers(&mut self, _num_headers: usize, end_of_stream: bool) -> Action {
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

    fn on_http_response_body(&mut self, body_size: usize, end_of_stream: bool) -> Action {
        let Some(list) = self.tools_list.as_mut() else {
            return Action::Continue;
        };
        let max = usize::try_from(list.grant.max_bytes()).unwrap_or(usize::MAX);
        if list.refused.is_some() || body_size > max {
            // Nothing of this body reaches the client; drop what is buffered as it comes.
            list.refused.get_or_insert(trim::TrimError::TooLarge);
            if !end_of_stream {
                if self.host.set_response_body(body_size, b"").is_err() {
                    let _ = proxy_wasm::hostcalls::reset_http_response();
                }
                return Action::Pause;
            }
        }
        if !end_of_stream {
            return Action::Pause;
        }
        let Some(engine) = self.engine.clone() else {
            let _ = proxy_wasm::hostcalls::reset_http_response();
            return Action::Pause;
        };
        self.tools_list_body(&engine, body_size)
    }

    fn on_http_response_trailers(&mut self, _num_trailers: usize) -> Action {
        if self.tools_list.take().is_some() {
            // A body ended by trailers never reaches the end-of-stream body callback, so it
            // cannot be trimmed: end the stream rather than let the list through.
            self.host.log(
                log::Level::Warn,
                "tools/list response ended with trailers; resetting",
            );
            let _ = proxy_wasm::hostcalls::reset_http_response();
            return Action::Pause;
        }
        Action::Continue
    }

    fn on_http_request_trailers(&mut self, _num_trailers: usize) -> Action {
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
}

impl Filter {
    /// Test builds only: a request to the configured `panic_path` panics the VM, so the
    /// end-to-end suite can show what Envoy does with a panicking filter (it must deny).
    #[cfg(feature = "test-hooks")]
    #[expect(
        clippy::panic,
        reason = "test-hooks builds only: proves a VM panic fails closed"
    )]
    fn panic_if_asked(&self) {
        if self
            .panic_path
            .as_deref()
            .is_some_and(|p| p == self.header(":path"))
        {
            panic!("test hook: panic_path requested");
        }
    }

    /// Envoy's clock, in Unix seconds.
    #[cfg(not(feature = "test-hooks"))]
    fn now(&self) -> Option<i64> {
        self.host.now()
    }

    /// The VM configuration's `fixed_now` if any, else Envoy's clock.
    #[cfg(feature = "test-hooks")]
    fn now(&self) -> Option<i64> {
        self.fixed_now.or_else(|| self.host.now())
    }

    fn header(&self, name: &str) -> &str {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map_or("", |(_, v)| v.as_str())
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
        let headers = self.header_refs();
        let request = Request {
            authority: self.header(":authority"),
            method: self.header(":method"),
            path: self.header(":path"),
            headers: &headers,
            body,
        };
        let outcome = engine.decide(&request, Identity::Token, now);
        // What the answer needs of the request, read now: `request` borrows `self`.
        let tools_list = engine.tools_list_grant(&outcome, &request);
        let challenge = engine.www_authenticate(&outcome, &request);
        if outcome.token_presented {
            self.metrics.token_lookup(outcome.token_cache_hit);
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
                self.metrics.allowed();
                self.forward(engine, &outcome, tools_list, body)
            }
            Decision::Deny { reason } if engine.bundle().gateway().dry_run => {
                log_denial(&self.host, &outcome, reason, true);
                self.metrics.dry_run_denied(reason);
                self.forward(engine, &outcome, None, body)
            }
            Decision::Deny { reason } => {
                log_denial(&self.host, &outcome, reason, false);
                self.metrics.denied(reason);
                if let Some(refusal) = jsonrpc_refusal(&outcome, reason, body) {
                    self.metrics.jsonrpc_refusal();
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
        self.headers
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_str()))
            .collect()
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

    /// No bundle loaded: no policy knows any tenant. Denied and counted as `tenant_unknown`.
    /// The response headers of a `tools/list` being trimmed: the body will change size, so
    /// `content-length` goes; a response the trimmer cannot read (another content type, a
    /// compressed body) is marked refused and will carry a JSON-RPC error instead.
    fn tools_list_headers(&mut self) -> Result<(), proxy_wasm::types::Status> {
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
                self.metrics.tools_trimmed(trimmed.listed, trimmed.kept);
                trimmed.body
            }
            Err(why) => {
                self.metrics.tools_list_refused();
                let line = format!("tools/list response refused: {}", why.as_str());
                self.host.log(log::Level::Warn, &line);
                trim::refused(list.kind, list.id.as_deref(), why)
            }
        };
        if let Err(status) = self.host.set_response_body(size, &body) {
            // The untrimmed list must not reach the client: end the stream instead.
            let line = format!("cannot replace the tools/list response: {status:?}; resetting");
            self.host.log(log::Level::Error, &line);
            let _ = proxy_wasm::hostcalls::reset_http_response();
            return Action::Pause;
        }
        Action::Continue
    }

    fn deny_without_policy(&self) -> Action {
        self.host.log(
            log::Level::Error,
            "no policy bundle loaded; denying (tenant_unknown)",
        );
        self.metrics.denied(Reason::TenantUnknown);
        self.reply(&reply::no_policy())
    }

    fn reply(&self, reply: &Reply) -> Action {
        let headers: Vec<(&str, &str)> = reply
            .headers
            .iter()
            .map(|(n, v)| (*n, v.as_str()))
            .collect();
        if let Err(status) = self
            .host
            .send_reply(reply.status, headers, reply.body.as_bytes())
        {
            let line = format!("cannot send the local reply: {status:?}");
            self.host.log(log::Level::Error, &line);
        }
        // Never continue a denied request, even when the reply could not be sent.
        Action::Pause
    }
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
fn log_denial(host: &Host, outcome: &Outcome<'_>, reason: Reason, dry_run: bool) {
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

/// The serial last accepted from `scope`'s signer. This VM's own first: a VM that serves a
/// bundle compares with it, so only the order in which it receives updates matters. A VM that
/// has accepted none from that signer yet (the fresh VM Envoy validates a new configuration in
/// on the main thread, or a new per-thread VM) compares with the last one any VM of its `vm_id`
/// accepted, from Envoy's shared data; without that, the fresh VM would accept an older bundle
/// and the per-thread VMs' refusal would fail them instead of leaving the old bundle serving.
fn serial_in_service(scope: config::SerialScope) -> Option<u64> {
    SERIAL_IN_SERVICE
        .with(|s| s.borrow().get(&scope).copied())
        .or_else(|| {
            hostcalls::get_shared_data(&scope.shared_data_key())
                .ok()
                .and_then(|(value, _)| value)
                .and_then(|value| config::serial_from_shared(&value))
        })
}

fn buffer(kind: BufferType) -> Option<Vec<u8>> {
    hostcalls::get_buffer(kind, 0, usize::MAX).ok().flatten()
}
