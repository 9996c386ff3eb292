//! The SCIM side of a request, apart from the HTTP transport (`http.rs`): routing, bearer
//! authentication, the rate limit, and each SCIM endpoint over the shared state. Every answer
//! to a SCIM request is `application/scim+json`; every failure a SCIM error body.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::time::Instant;

use serde_json::Value;

use crate::directory::{Directory, Stamp, Write};
use crate::discovery;
use crate::error::ScimError;
use crate::filter::Filter;
use crate::resource::Kind;
use crate::Shared;

pub const SCIM_JSON: &str = "application/scim+json";

/// What the service reads of a request besides its body.
#[derive(Debug, Clone, Default)]
pub struct Head {
    pub method: String,
    /// The path as sent, still percent-encoded.
    pub path: String,
    pub query: String,
    pub authorization: Option<String>,
    pub host: Option<String>,
    pub forwarded_proto: Option<String>,
    pub if_match: Option<String>,
}

impl Head {
    /// Whether the request carries a resource to read (POST, PUT, PATCH).
    pub fn has_body(&self) -> bool {
        matches!(self.method.as_str(), "POST" | "PUT" | "PATCH")
    }
}

/// A SCIM request that passed authentication and the rate limit.
#[derive(Debug, Clone)]
pub struct Authorized {
    tenant: String,
    segments: Vec<String>,
}

/// An answer before it is written.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub content_type: &'static str,
    pub headers: Vec<(&'static str, String)>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: SCIM_JSON,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    pub fn error(error: &ScimError) -> Reply {
        let mut reply = Reply::json(error.status, &error.body());
        if error.status == 401 {
            reply
                .headers
                .push(("WWW-Authenticate", "Bearer realm=\"scim\"".to_owned()));
        }
        reply
    }

    fn empty(status: u16) -> Reply {
        Reply {
            status,
            content_type: "",
            headers: Vec::new(),
            body: Vec::new(),
        }
    }

    fn header(mut self, name: &'static str, value: String) -> Reply {
        self.headers.push((name, value));
        self
    }
}

/// Which endpoints a listener serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Endpoints {
    /// SCIM and the operator's (`/healthz`, `/metrics`): one listener, no `--admin-listen`.
    All,
    /// SCIM only: the listener identity providers reach when the operator's have their own.
    Scim,
    /// `/healthz` and `/metrics` only (`--admin-listen`).
    Operator,
}

/// Everything before the body: the operator's endpoints (where `endpoints` has them), then the
/// tenant's authentication and rate limit. `Err` is the answer already.
pub fn begin(shared: &Shared, head: &Head, endpoints: Endpoints) -> Result<Authorized, Reply> {
    let operator = matches!(head.path.as_str(), "/healthz" | "/metrics");
    match endpoints {
        Endpoints::Operator if !operator => {
            return Err(Reply::error(&ScimError::not_found("no such endpoint")))
        }
        // Not even a 404 that says the operator's endpoints exist elsewhere: the same answer
        // as any unknown path.
        Endpoints::Scim if operator => {
            return Err(Reply::error(&ScimError::not_found("no such endpoint")))
        }
        _ => {}
    }
    match (head.method.as_str(), head.path.as_str()) {
        ("GET", "/healthz") => {
            let mut reply = Reply::json(200, &shared.metrics.health());
            reply.content_type = "application/json";
            return Err(reply);
        }
        ("GET", "/metrics") => {
            return Err(Reply {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                headers: Vec::new(),
                body: shared.metrics.prometheus().into_bytes(),
            })
        }
        _ => {}
    }
    let Some(rest) = head.path.strip_prefix("/scim/v2/") else {
        return Err(Reply::error(&ScimError::not_found("no such endpoint")));
    };
    let mut segments: Vec<String> = rest.split('/').map(|s| percent_decode(s, false)).collect();
    if segments.len() > 1 && segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    if segments.is_empty() {
        return Err(Reply::error(&ScimError::unauthorized()));
    }
    let tenant = segments.remove(0);
    let secret = head.authorization.as_deref().and_then(|v| {
        let (scheme, secret) = v.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| secret.trim().to_owned())
    });
    if !authorized(shared, &tenant, secret.as_deref()) {
        return Err(Reply::error(&ScimError::unauthorized()));
    }
    if let Err(wait) = shared.limiter.take(&tenant, Instant::now()) {
        let seconds = wait.as_secs_f64().ceil().max(1.0);
        return Err(Reply::error(&ScimError::too_many_requests())
            .header("Retry-After", format!("{seconds}")));
    }
    Ok(Authorized { tenant, segments })
}

/// The rest of an authorized request, with its body (for POST, PUT and PATCH: read within the
/// size limit by the transport).
pub fn finish(
    shared: &Shared,
    head: &Head,
    authorized: &Authorized,
    addr: SocketAddr,
    body: Option<&[u8]>,
) -> Reply {
    if is_discovery(&authorized.segments) && head.method != "GET" {
        // Read-only endpoints (RFC 7644 4): refused for what the method is, whatever the body.
        return Reply::error(&ScimError::method_not_allowed()).header("Allow", "GET".to_owned());
    }
    let body = match body.map(|b| {
        serde_json::from_slice(b)
            .map_err(|e| ScimError::invalid_syntax(format!("the request body is not JSON: {e}")))
    }) {
        Some(Err(e)) => return Reply::error(&e),
        Some(Ok(value)) => Some(value),
        None => None,
    };
    let context = Context {
        shared,
        tenant: &authorized.tenant,
        base: base_url(head, &authorized.tenant, addr),
        if_match: head.if_match.clone(),
        params: parse_query(&head.query),
    };
    match context.route(&head.method, &authorized.segments, body) {
        Ok(reply) => reply,
        Err(e) => Reply::error(&e),
    }
}

/// `/ServiceProviderConfig`, `/ResourceTypes[/<name>]`, `/Schemas[/<urn>]`.
fn is_discovery(segments: &[String]) -> bool {
    match segments {
        [endpoint] => endpoint == "ServiceProviderConfig" || is_listing(endpoint),
        [endpoint, _] => is_listing(endpoint),
        _ => false,
    }
}

fn is_listing(endpoint: &str) -> bool {
    endpoint == "ResourceTypes" || endpoint == "Schemas"
}

/// A missing or wrong secret, a tenant that does not exist and one not provisioned by SCIM
/// all end here alike; the token lookup runs in every case.
fn authorized(shared: &Shared, tenant: &str, secret: Option<&str>) -> bool {
    let scim = shared.is_scim_tenant(tenant);
    let Ok(mut state) = shared.state.lock() else {
        return false;
    };
    let hashes = state.store.token_hashes(tenant).unwrap_or_else(|e| {
        eprintln!("reading tokens: {e}");
        Vec::new()
    });
    let valid = secret.is_some_and(|s| crate::token::matches(s, &hashes));
    if scim && valid && !state.directories.contains_key(tenant) {
        // A tenant whose first secret was issued while the service runs: its (empty) directory
        // file now, as at startup.
        let empty = crate::directory::Directory::default();
        let path = shared.directory_file(tenant);
        match crate::fs::write_atomic(&path, empty.render(tenant).as_bytes()) {
            Ok(()) => {
                state.directories.insert(tenant.to_owned(), empty);
                shared.signal.notify();
            }
            Err(e) => eprintln!("writing `{}`: {e}", path.display()),
        }
    }
    scim && valid
}

/// `http://host/scim/v2/<tenant>`, from the request's Host (what the client called).
fn base_url(head: &Head, tenant: &str, addr: SocketAddr) -> String {
    let host = head
        .host
        .clone()
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .unwrap_or_else(|| addr.to_string());
    let scheme = match head.forwarded_proto.as_deref() {
        Some(p) if p.eq_ignore_ascii_case("https") => "https",
        _ => "http",
    };
    format!("{scheme}://{host}/scim/v2/{tenant}")
}

fn parse_query(query: &str) -> HashMap<String, String> {
    query
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|pair| {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            (
                percent_decode(k, true).to_ascii_lowercase(),
                percent_decode(v, true),
            )
        })
        .collect()
}

fn percent_decode(text: &str, plus_is_space: bool) -> String {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let hex = |at: usize| bytes.get(at).and_then(|c| (*c as char).to_digit(16));
        match b {
            b'%' => match (hex(i + 1), hex(i + 2)) {
                (Some(h), Some(l)) => {
                    out.push(u8::try_from(h * 16 + l).unwrap_or(b'?'));
                    i += 3;
                    continue;
                }
                _ => out.push(b),
            },
            b'+' if plus_is_space => out.push(b' '),
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// One authenticated SCIM request.
struct Context<'a> {
    shared: &'a Shared,
    tenant: &'a str,
    base: String,
    if_match: Option<String>,
    params: HashMap<String, String>,
}

impl Context<'_> {
    fn route(
        &self,
        method: &str,
        segments: &[String],
        body: Option<Value>,
    ) -> Result<Reply, ScimError> {
        let base = self.base.as_str();
        let segments: Vec<&str> = segments.iter().map(String::as_str).collect();
        match (method, segments.as_slice()) {
            ("GET", ["ServiceProviderConfig"]) => {
                Ok(Reply::json(200, &discovery::service_provider_config(base)))
            }
            ("GET", ["ResourceTypes"]) => Ok(listing(discovery::resource_types(base))),
            ("GET", ["ResourceTypes", name]) => one(discovery::resource_types(base), name),
            ("GET", ["Schemas"]) => Ok(listing(discovery::schemas(base))),
            ("GET", ["Schemas", id]) => one(discovery::schemas(base), id),
            (method, [endpoint, rest @ ..]) => {
                let kind = match *endpoint {
                    e if e.eq_ignore_ascii_case("Users") => Kind::User,
                    e if e.eq_ignore_ascii_case("Groups") => Kind::Group,
                    _ => return Err(ScimError::not_found("no such endpoint")),
                };
                match (method, rest) {
                    ("GET", []) => self.list(kind),
                    ("POST", []) => self.create(kind, &body.unwrap_or(Value::Null)),
                    ("GET", [id]) => self.get(kind, id),
                    ("PUT", [id]) => self.change(kind, id, |dir, stamp, if_match| {
                        dir.replace(
                            kind,
                            id,
                            body.as_ref().unwrap_or(&Value::Null),
                            if_match,
                            stamp,
                        )
                    }),
                    ("PATCH", [id]) => self.change(kind, id, |dir, stamp, if_match| {
                        dir.patch(
                            kind,
                            id,
                            body.as_ref().unwrap_or(&Value::Null),
                            if_match,
                            stamp,
                        )
                    }),
                    ("DELETE", [id]) => {
                        let if_match = self.if_match.as_deref();
                        self.write(|dir, stamp| dir.delete(kind, id, if_match, stamp))?;
                        Ok(Reply::empty(204))
                    }
                    (_, [] | [_]) => Err(ScimError::method_not_allowed()),
                    _ => Err(ScimError::not_found("no such endpoint")),
                }
            }
            _ => Err(ScimError::not_found("no such endpoint")),
        }
    }

    fn list(&self, kind: Kind) -> Result<Reply, ScimError> {
        let filter = self
            .params
            .get("filter")
            .filter(|f| !f.trim().is_empty())
            .map(|f| Filter::parse(f))
            .transpose()?;
        let number = |name: &str| -> Result<Option<i64>, ScimError> {
            self.params
                .get(&name.to_ascii_lowercase())
                .map(|v| {
                    v.trim()
                        .parse::<i64>()
                        .map_err(|_| ScimError::invalid_value(format!("`{name}` is an integer")))
                })
                .transpose()
        };
        let start = number("startIndex")?.unwrap_or(1).max(1);
        let count = number("count")?
            .unwrap_or(discovery::MAX_RESULTS as i64)
            .clamp(0, discovery::MAX_RESULTS as i64);
        let start = usize::try_from(start).unwrap_or(1);
        let count = usize::try_from(count).unwrap_or(0);
        let state = self.state()?;
        let empty = Directory::default();
        let dir = state.directories.get(self.tenant).unwrap_or(&empty);
        let mut total = 0;
        let mut page = Vec::new();
        // Filters read the stored attributes; only the page is rendered.
        for resource in dir.candidates(kind, filter.as_ref()) {
            if filter.as_ref().is_some_and(|f| !f.matches(resource)) {
                continue;
            }
            total += 1;
            if total >= start && page.len() < count {
                page.push(self.project(resource.to_json(&self.base)));
            }
        }
        drop(state);
        Ok(Reply::json(
            200,
            &discovery::list_response(page, total, start),
        ))
    }

    fn get(&self, kind: Kind, id: &str) -> Result<Reply, ScimError> {
        let state = self.state()?;
        let resource = state
            .directories
            .get(self.tenant)
            .and_then(|d| d.get(kind, id))
            .ok_or_else(|| ScimError::not_found(format!("no {} with id `{id}`", kind.name())))?;
        let etag = resource.etag();
        let value = self.project(resource.to_json(&self.base));
        Ok(Reply::json(200, &value).header("ETag", etag))
    }

    fn create(&self, kind: Kind, body: &Value) -> Result<Reply, ScimError> {
        let writes = self.write(|dir, stamp| dir.create(kind, body, stamp))?;
        let Some(Write::Put(resource)) = writes.first() else {
            return Err(ScimError::internal());
        };
        let value = resource.to_json(&self.base);
        let location = format!("{}/{}/{}", self.base, kind.endpoint(), resource.id);
        Ok(Reply::json(201, &value)
            .header("Location", location)
            .header("ETag", resource.etag()))
    }

    fn change(
        &self,
        kind: Kind,
        id: &str,
        plan: impl FnOnce(&Directory, &Stamp, Option<&str>) -> Result<Vec<Write>, ScimError>,
    ) -> Result<Reply, ScimError> {
        let if_match = self.if_match.as_deref();
        let writes = self.write(|dir, stamp| plan(dir, stamp, if_match))?;
        let resource = writes
            .iter()
            .find_map(|w| match w {
                Write::Put(r) if r.kind == kind && r.id == id => Some(r),
                _ => None,
            })
            .ok_or_else(ScimError::internal)?;
        Ok(Reply::json(200, &resource.to_json(&self.base)).header("ETag", resource.etag()))
    }

    /// Plans a change against the tenant's directory, commits it as one transaction, then
    /// applies it in memory and marks the tenant's directory file for the publisher to write.
    /// Nothing is changed when planning or committing fails.
    fn write(
        &self,
        plan: impl FnOnce(&Directory, &Stamp) -> Result<Vec<Write>, ScimError>,
    ) -> Result<Vec<Write>, ScimError> {
        let new_id = crate::token::random::<16>().map_err(|e| {
            eprintln!("{e}");
            ScimError::internal()
        })?;
        let stamp = Stamp {
            now: crate::clock::now_rfc3339(),
            new_id: crate::token::hex(&new_id),
        };
        let mut guard = self.state()?;
        let state = &mut *guard;
        let empty = Directory::default();
        let writes = plan(state.directories.get(self.tenant).unwrap_or(&empty), &stamp)?;
        // The database is the record: the write is acknowledged once this commit is durable.
        // The directory file is derived from it by the publisher (and at startup).
        state.store.commit(self.tenant, &writes).map_err(|e| {
            eprintln!("tenant {}: commit failed: {e}", self.tenant);
            ScimError::internal()
        })?;
        state
            .directories
            .entry(self.tenant.to_owned())
            .or_default()
            .apply(&writes);
        state.changed(self.tenant);
        drop(guard);
        self.shared.metrics.write();
        self.shared.signal.notify();
        Ok(writes)
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, crate::State>, ScimError> {
        self.shared.state.lock().map_err(|_| ScimError::internal())
    }

    /// `attributes` / `excludedAttributes` (top-level names; `id`, `schemas` and `meta` stay).
    fn project(&self, value: Value) -> Value {
        let names = |param: &str| -> Option<Vec<String>> {
            self.params.get(param).map(|list| {
                list.split(',')
                    .map(|n| {
                        let n = n.trim();
                        let n = n.rsplit_once(':').map_or(n, |(_, a)| a);
                        n.split('.').next().unwrap_or(n).to_ascii_lowercase()
                    })
                    .filter(|n| !n.is_empty())
                    .collect()
            })
        };
        let Value::Object(mut map) = value else {
            return value;
        };
        let always = |k: &str| matches!(k, "id" | "schemas" | "meta");
        if let Some(keep) = names("attributes") {
            map.retain(|k, _| always(k) || keep.contains(&k.to_ascii_lowercase()));
        }
        if let Some(drop) = names("excludedattributes") {
            map.retain(|k, _| always(k) || !drop.contains(&k.to_ascii_lowercase()));
        }
        Value::Object(map)
    }
}

fn listing(resources: Vec<Value>) -> Reply {
    let total = resources.len();
    Reply::json(200, &discovery::list_response(resources, total, 1))
}

fn one(resources: Vec<Value>, id: &str) -> Result<Reply, ScimError> {
    resources
        .into_iter()
        .find(|r| r.get("id").and_then(Value::as_str) == Some(id))
        .map(|r| Reply::json(200, &r))
        .ok_or_else(|| ScimError::not_found(format!("no `{id}`")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_strings_as_identity_providers_encode_them() {
        let q =
            parse_query("filter=userName+eq+%22dale.mohr%40romaguera.uk%22&startIndex=1&count=100");
        assert_eq!(q["filter"], r#"userName eq "dale.mohr@romaguera.uk""#);
        assert_eq!(q["startindex"], "1");
        let q = parse_query(
            "excludedAttributes=members&filter=displayName%20eq%20%22Group1DisplayName%22",
        );
        assert_eq!(q["excludedattributes"], "members");
        assert_eq!(q["filter"], r#"displayName eq "Group1DisplayName""#);
        assert_eq!(percent_decode("%zz%4", false), "%zz%4");
        assert_eq!(percent_decode("a+b", false), "a+b");
    }
}
