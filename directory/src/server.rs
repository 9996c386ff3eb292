//! The HTTP side: routing, bearer authentication, the rate and size limits, and each SCIM
//! endpoint over the shared state. Every answer to a SCIM request is `application/scim+json`;
//! every failure a SCIM error body.

use std::collections::HashMap;
use std::io::Read;
use std::net::SocketAddr;
use std::time::Instant;

use serde_json::Value;
use tiny_http::{Header, Request, Response, Server};

use crate::directory::{Directory, Stamp, Write};
use crate::discovery;
use crate::error::ScimError;
use crate::filter::Filter;
use crate::resource::Kind;
use crate::{Shared, State};

pub const SCIM_JSON: &str = "application/scim+json";

/// One request thread: answers requests until the listener closes.
pub fn serve(server: &Server, shared: &Shared, addr: SocketAddr) {
    while let Ok(mut request) = server.recv() {
        let reply = answer(shared, &mut request, addr);
        shared.metrics.request(reply.status);
        let mut response = Response::from_data(reply.body).with_status_code(reply.status);
        let headers = std::iter::once(("Content-Type", reply.content_type.to_owned()))
            .filter(|(_, v)| !v.is_empty())
            .chain(reply.headers);
        for (name, value) in headers {
            if let Ok(header) = Header::from_bytes(name.as_bytes(), value.as_bytes()) {
                response.add_header(header);
            }
        }
        let _ = request.respond(response);
    }
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
    fn json(status: u16, body: &Value) -> Reply {
        Reply {
            status,
            content_type: SCIM_JSON,
            headers: Vec::new(),
            body: body.to_string().into_bytes(),
        }
    }

    fn error(error: &ScimError) -> Reply {
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

fn answer(shared: &Shared, request: &mut Request, addr: SocketAddr) -> Reply {
    let url = request.url().to_owned();
    let (path, query) = url.split_once('?').unwrap_or((url.as_str(), ""));
    let method = request.method().as_str().to_ascii_uppercase();
    match (method.as_str(), path) {
        ("GET", "/healthz") => {
            let mut reply = Reply::json(200, &shared.metrics.health());
            reply.content_type = "application/json";
            return reply;
        }
        ("GET", "/metrics") => {
            return Reply {
                status: 200,
                content_type: "text/plain; version=0.0.4",
                headers: Vec::new(),
                body: shared.metrics.prometheus().into_bytes(),
            }
        }
        _ => {}
    }
    let Some(rest) = path.strip_prefix("/scim/v2/") else {
        return Reply::error(&ScimError::not_found("no such endpoint"));
    };
    let mut segments: Vec<String> = rest.split('/').map(|s| percent_decode(s, false)).collect();
    if segments.len() > 1 && segments.last().is_some_and(String::is_empty) {
        segments.pop();
    }
    let Some((tenant, segments)) = segments.split_first() else {
        return Reply::error(&ScimError::unauthorized());
    };
    let secret = header(request, "Authorization").and_then(|v| {
        let (scheme, secret) = v.trim().split_once(' ')?;
        scheme
            .eq_ignore_ascii_case("bearer")
            .then(|| secret.trim().to_owned())
    });
    if !authorized(shared, tenant, secret.as_deref()) {
        return Reply::error(&ScimError::unauthorized());
    }
    if let Err(wait) = shared.limiter.take(tenant, Instant::now()) {
        let seconds = wait.as_secs_f64().ceil().max(1.0);
        return Reply::error(&ScimError::too_many_requests())
            .header("Retry-After", format!("{seconds}"));
    }
    let body = if matches!(method.as_str(), "POST" | "PUT" | "PATCH") {
        match read_body(request, shared.limits.max_body_bytes) {
            Ok(body) => Some(body),
            Err(e) => return Reply::error(&e),
        }
    } else {
        None
    };
    let context = Context {
        shared,
        tenant,
        base: base_url(request, tenant, addr),
        if_match: header(request, "If-Match"),
        params: parse_query(query),
    };
    match context.route(&method, segments, body) {
        Ok(reply) => reply,
        Err(e) => Reply::error(&e),
    }
}

/// A missing or wrong secret, a tenant that does not exist and one not provisioned by SCIM
/// all end here alike; the token lookup runs in every case.
fn authorized(shared: &Shared, tenant: &str, secret: Option<&str>) -> bool {
    let hashes = match shared.state.lock() {
        Ok(mut state) => state.store.token_hashes(tenant).unwrap_or_else(|e| {
            eprintln!("reading tokens: {e}");
            Vec::new()
        }),
        Err(_) => return false,
    };
    let scim = shared.is_scim_tenant(tenant);
    let valid = secret.is_some_and(|s| crate::token::matches(s, &hashes));
    scim && valid
}

fn header(request: &Request, name: &str) -> Option<String> {
    request
        .headers()
        .iter()
        .find(|h| h.field.as_str().as_str().eq_ignore_ascii_case(name))
        .map(|h| h.value.as_str().to_owned())
}

fn read_body(request: &mut Request, limit: usize) -> Result<Value, ScimError> {
    if request.body_length().is_some_and(|n| n > limit) {
        return Err(ScimError::too_large(limit));
    }
    let mut bytes = Vec::new();
    let cap = u64::try_from(limit).unwrap_or(u64::MAX).saturating_add(1);
    request
        .as_reader()
        .take(cap)
        .read_to_end(&mut bytes)
        .map_err(|_| ScimError::invalid_syntax("the request body could not be read"))?;
    if bytes.len() > limit {
        return Err(ScimError::too_large(limit));
    }
    serde_json::from_slice(&bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("the request body is not JSON: {e}")))
}

/// `http://host/scim/v2/<tenant>`, from the request's Host (what the client called).
fn base_url(request: &Request, tenant: &str, addr: SocketAddr) -> String {
    let host = header(request, "Host")
        .filter(|h| {
            !h.is_empty()
                && h.chars()
                    .all(|c| c.is_ascii_alphanumeric() || ".-:[]_".contains(c))
        })
        .unwrap_or_else(|| addr.to_string());
    let scheme = match header(request, "X-Forwarded-Proto") {
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
        for resource in dir.list(kind) {
            let value = resource.to_json(&self.base);
            if filter.as_ref().is_some_and(|f| !f.matches(&value)) {
                continue;
            }
            total += 1;
            if total >= start && page.len() < count {
                page.push(self.project(value));
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
    /// applies it in memory and rewrites the tenant's directory file. Nothing is changed when
    /// planning or committing fails.
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
        let State { store, directories } = &mut *guard;
        let empty = Directory::default();
        let writes = plan(directories.get(self.tenant).unwrap_or(&empty), &stamp)?;
        store.commit(self.tenant, &writes).map_err(|e| {
            eprintln!("tenant {}: commit failed: {e}", self.tenant);
            ScimError::internal()
        })?;
        let dir = directories.entry(self.tenant.to_owned()).or_default();
        dir.apply(&writes);
        let path = self.shared.directory_file(self.tenant);
        if let Err(e) = crate::fs::write_atomic(&path, dir.render(self.tenant).as_bytes()) {
            // The change is committed (and so acknowledged); the file is written again by the
            // next change and at startup.
            let message = format!("writing `{}`: {e}", path.display());
            eprintln!("{message}");
            self.shared.metrics.failed(message);
        }
        drop(guard);
        self.shared.metrics.write();
        self.shared.signal.notify();
        Ok(writes)
    }

    fn state(&self) -> Result<std::sync::MutexGuard<'_, State>, ScimError> {
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
