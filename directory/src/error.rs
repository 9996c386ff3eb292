//! The SCIM error (RFC 7644 3.12): a status, an optional `scimType` and a detail for the client.

use serde_json::{json, Value};

/// The schema URN of an error body.
pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// What a SCIM request answers when it fails. The detail goes to the identity provider's
/// provisioning log: it never names another tenant or says whether one exists.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{status} {}: {detail}", scim_type.unwrap_or("-"))]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<&'static str>,
    pub detail: String,
}

impl ScimError {
    fn new(status: u16, scim_type: Option<&'static str>, detail: impl Into<String>) -> ScimError {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }

    pub fn invalid_value(detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some("invalidValue"), detail)
    }

    pub fn invalid_syntax(detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some("invalidSyntax"), detail)
    }

    pub fn invalid_filter(detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some("invalidFilter"), detail)
    }

    pub fn invalid_path(detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some("invalidPath"), detail)
    }

    pub fn no_target(detail: impl Into<String>) -> ScimError {
        ScimError::new(400, Some("noTarget"), detail)
    }

    pub fn uniqueness(detail: impl Into<String>) -> ScimError {
        ScimError::new(409, Some("uniqueness"), detail)
    }

    pub fn not_found(detail: impl Into<String>) -> ScimError {
        ScimError::new(404, None, detail)
    }

    /// The one answer for a missing or wrong secret, an unknown tenant and a tenant that is not
    /// provisioned by SCIM alike.
    pub fn unauthorized() -> ScimError {
        ScimError::new(401, None, "authentication failed")
    }

    pub fn method_not_allowed() -> ScimError {
        ScimError::new(405, None, "method not allowed on this endpoint")
    }

    pub fn precondition_failed() -> ScimError {
        ScimError::new(412, None, "If-Match does not match the resource's version")
    }

    pub fn too_large(limit: usize) -> ScimError {
        ScimError::new(413, None, format!("request body larger than {limit} bytes"))
    }

    pub fn too_many_requests() -> ScimError {
        ScimError::new(429, None, "rate limit exceeded; retry later")
    }

    /// A failure of the service itself (the database); the cause is logged, not sent.
    pub fn internal() -> ScimError {
        ScimError::new(500, None, "internal error; the change was not applied")
    }

    /// The response body.
    pub fn body(&self) -> Value {
        let mut body = json!({
            "schemas": [ERROR_SCHEMA],
            "status": self.status.to_string(),
            "detail": self.detail,
        });
        if let (Some(t), Value::Object(map)) = (self.scim_type, &mut body) {
            map.insert("scimType".into(), Value::String(t.into()));
        }
        body
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn body_has_the_rfc_shape() {
        let body = ScimError::invalid_syntax("bad").body();
        assert_eq!(
            body,
            json!({"schemas": [ERROR_SCHEMA], "status": "400", "scimType": "invalidSyntax", "detail": "bad"})
        );
        assert!(ScimError::unauthorized().body().get("scimType").is_none());
    }
}
