//! The local reply of a denial (SPEC 3.3). Pure, so it is tested on the host.

use gatehouse_engine::reason::ErrorKind;
use gatehouse_engine::Reason;

/// What the filter sends back instead of forwarding the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub status: u32,
    pub headers: Vec<(&'static str, String)>,
    pub body: String,
}

/// The reply for a denial. `tenant` names the realm of a 401; `token_presented` adds
/// `error="invalid_token"` (RFC 6750 3.1). Only fixed strings reach the client: never the token,
/// never internal error text.
pub fn denial(reason: Reason, tenant: Option<&str>, token_presented: bool) -> Reply {
    let kind = reason.error_kind();
    let mut headers = vec![
        ("content-type", "application/json".to_owned()),
        ("cache-control", "no-store".to_owned()),
    ];
    if kind == ErrorKind::Unauthorized {
        let realm = tenant.unwrap_or("gatehouse");
        let mut challenge = format!("Bearer realm=\"{}\"", quoted(realm));
        if token_presented {
            challenge.push_str(", error=\"invalid_token\"");
        }
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
    denial(Reason::TenantUnknown, None, false)
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

/// Tenant names are compiler-validated, but a realm is a quoted-string: drop what would end it.
fn quoted(text: &str) -> String {
    text.chars()
        .filter(|c| *c != '"' && *c != '\\' && !c.is_control())
        .collect()
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
    fn unauthorized() {
        let reply = denial(Reason::TokenMissing, Some("acme"), false);
        assert_eq!(reply.status, 401);
        assert_eq!(
            reply.body,
            r#"{"error":"unauthorized","reason":"token_missing"}"#
        );
        assert_eq!(
            header(&reply, "www-authenticate"),
            Some(r#"Bearer realm="acme""#)
        );
        let reply = denial(Reason::SignatureInvalid, None, true);
        assert_eq!(
            header(&reply, "www-authenticate"),
            Some(r#"Bearer realm="gatehouse", error="invalid_token""#)
        );
    }

    #[test]
    fn other_statuses() {
        for (reason, status, kind) in [
            (Reason::NoGrant, 403, "forbidden"),
            (Reason::TenantUnknown, 403, "forbidden"),
            (Reason::BodyTooLarge, 413, "payload_too_large"),
            (Reason::BodyInvalid, 400, "bad_request"),
        ] {
            let reply = denial(reason, Some("acme"), true);
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

    #[test]
    fn realm_is_a_quoted_string() {
        let reply = denial(Reason::TokenMissing, Some("a\"b\\c"), false);
        assert_eq!(
            header(&reply, "www-authenticate"),
            Some(r#"Bearer realm="abc""#)
        );
    }
}
