//! The local reply of a denial (SPEC 3.3). Pure, so it is tested on the host.

use gatehouse_engine::Reason;

/// What the filter sends back instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// The reply for a denial. `challenge` is its `WWW-Authenticate`
/// (`gatehouse_engine::Engine::www_authenticate`). Only fixed strings reach the client: never
/// the token, never internal error text.
pub fn denial(reason: Reason, challenge: Option<String>) -> Reply {
    let kind = reason.error_kind();
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("cache-control", "no-store".to_owned()),
    ];
    if let Some(challenge) = challenge {
        headers.push(("www-authenticate", challenge));
    }
    Reply {
        status: u32::from(kind.status()),
        headers,
        body: format!(
            "{{\"error\":\"{}\",\"reason\":\"{}\"}}",
            kind.as_str(),
            reason.code()
        ),
    }
}

/// The reply when no policy is loaded (cannot happen through Envoy, which refuses a plugin whose
/// configuration fails, but the filter fails closed regardless): no policy knows any tenant, so
/// the request is denied as `tenant_unknown` — within the closed set of SPEC 3.3.
pub fn no_policy() -> Reply {
    denial(Reason::TenantUnknown, None)
}

/// A refusal on an MCP route as a JSON-RPC answer (`body` from `gatehouse_engine::mcp`): HTTP
/// 200, since JSON-RPC carries the error; the reason code is in the body and in
/// `x-gatehouse-reason`, for logs and clients that look at headers.
pub fn jsonrpc(body: String, reason: Reason) -> Reply {
    Reply {
        status: 200,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("cache-control", "no-store".to_owned()),
            ("x-gatehouse-reason", reason.code().to_owned()),
        ],
        body,
    }
}

/// An RFC 9728 protected-resource metadata document. Public (no token needed) and the same
/// for every caller, so browsers' MCP clients may read it cross-origin and caches may keep it
/// briefly.
pub fn metadata(document: String) -> Reply {
    Reply {
        status: 200,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("cache-control", "public, max-age=300".to_owned()),
            ("access-control-allow-origin", "*".to_owned()),
        ],
        body: document,
    }
}

/// The reply when the host fails the filter (a request header, the body or the clock cannot be
/// read, an identity header cannot be set): fail closed. No decision was made, so there is no
/// reason code; the cause is in Envoy's log.
pub fn unavailable() -> Reply {
    Reply {
        status: 503,
        headers: vec![
            ("content-type", "application/json".to_owned()),
            ("cache-control", "no-store".to_owned()),
        ],
        body: "{\"error\":\"unavailable\"}".to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header<'a>(reply: &'a Reply, name: &str) -> Option<&'a str> {
        reply
            .headers
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, v)| v.as_str())
    }

    #[test]
    fn other_statuses() {
        for (reason, status, kind) in [
            (Reason::NoGrant, 403, "forbidden"),
            (Reason::TenantUnknown, 403, "forbidden"),
            (Reason::BodyTooLarge, 413, "payload_too_large"),
            (Reason::BodyInvalid, 400, "bad_request"),
        ] {
            let reply = denial(reason, None);
            assert_eq!(reply.status, status);
            assert_eq!(header(&reply, "www-authenticate"), None);
            assert_eq!(header(&reply, "content-type"), Some("application/json"));
            let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
            assert_eq!(body["error"], kind);
            assert_eq!(body["reason"], reason.code());
        }
    }

    #[test]
    fn no_policy_is_tenant_unknown() {
        let reply = no_policy();
        assert_eq!(reply.status, 403);
        assert_eq!(
            reply.body,
            r#"{"error":"forbidden","reason":"tenant_unknown"}"#
        );
        assert_eq!(header(&reply, "www-authenticate"), None);
        assert_eq!(header(&reply, "content-type"), Some("application/json"));
    }

    #[test]
    fn unavailable_carries_no_reason_code() {
        let reply = unavailable();
        assert_eq!(reply.status, 503);
        let body: serde_json::Value = serde_json::from_str(&reply.body).unwrap();
        assert_eq!(body, serde_json::json!({"error": "unavailable"}));
    }
}
