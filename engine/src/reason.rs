//! The closed set of denial reasons (SPEC 3.3) and how each maps onto HTTP.

/// Why a request was denied. Each variant is one reason code of the specification.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Reason {
    TokenMissing,
    TokenMalformed,
    AlgNotAllowed,
    IssuerUnknown,
    KeyUnknown,
    SignatureInvalid,
    TokenExpired,
    TokenNotYetValid,
    AudienceMismatch,
    TokenRevoked,
    TenantUnknown,
    TenantMismatch,
    PrincipalUnknown,
    PrincipalInactive,
    PrincipalExpired,
    NoRoute,
    ResourceUnresolved,
    ResourceUnknown,
    ResourceDisabled,
    NotAuthorizedSubject,
    NoGrant,
    BodyTooLarge,
    BodyInvalid,
}

/// The `error` member of a denial body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unauthorized,
    Forbidden,
    BadRequest,
    PayloadTooLarge,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::PayloadTooLarge => "payload_too_large",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::BadRequest => 400,
            ErrorKind::PayloadTooLarge => 413,
        }
    }
}

impl Reason {
    pub const ALL: [Reason; 23] = [
        Reason::TokenMissing,
        Reason::TokenMalformed,
        Reason::AlgNotAllowed,
        Reason::IssuerUnknown,
        Reason::KeyUnknown,
        Reason::SignatureInvalid,
        Reason::TokenExpired,
        Reason::TokenNotYetValid,
        Reason::AudienceMismatch,
        Reason::TokenRevoked,
        Reason::TenantUnknown,
        Reason::TenantMismatch,
        Reason::PrincipalUnknown,
        Reason::PrincipalInactive,
        Reason::PrincipalExpired,
        Reason::NoRoute,
        Reason::ResourceUnresolved,
        Reason::ResourceUnknown,
        Reason::ResourceDisabled,
        Reason::NotAuthorizedSubject,
        Reason::NoGrant,
        Reason::BodyTooLarge,
        Reason::BodyInvalid,
    ];

    /// The wire code, as it appears in responses, logs, metrics and `gatehouse check --json`.
    pub fn code(self) -> &'static str {
        match self {
            Reason::TokenMissing => "token_missing",
            Reason::TokenMalformed => "token_malformed",
            Reason::AlgNotAllowed => "alg_not_allowed",
            Reason::IssuerUnknown => "issuer_unknown",
            Reason::KeyUnknown => "key_unknown",
            Reason::SignatureInvalid => "signature_invalid",
            Reason::TokenExpired => "token_expired",
            Reason::TokenNotYetValid => "token_not_yet_valid",
            Reason::AudienceMismatch => "audience_mismatch",
            Reason::TokenRevoked => "token_revoked",
            Reason::TenantUnknown => "tenant_unknown",
            Reason::TenantMismatch => "tenant_mismatch",
            Reason::PrincipalUnknown => "principal_unknown",
            Reason::PrincipalInactive => "principal_inactive",
            Reason::PrincipalExpired => "principal_expired",
            Reason::NoRoute => "no_route",
            Reason::ResourceUnresolved => "resource_unresolved",
            Reason::ResourceUnknown => "resource_unknown",
            Reason::ResourceDisabled => "resource_disabled",
            Reason::NotAuthorizedSubject => "not_authorized_subject",
            Reason::NoGrant => "no_grant",
            Reason::BodyTooLarge => "body_too_large",
            Reason::BodyInvalid => "body_invalid",
        }
    }

    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.into_iter().find(|r| r.code() == code)
    }

    /// Steps 1-5 are authentication failures (401), except `tenant_unknown` which, like route and
    /// authorization failures, is 403; body problems have their own statuses.
    pub fn error_kind(self) -> ErrorKind {
        match self {
            Reason::TenantUnknown
            | Reason::NoRoute
            | Reason::ResourceUnresolved
            | Reason::ResourceUnknown
            | Reason::ResourceDisabled
            | Reason::NotAuthorizedSubject
            | Reason::NoGrant => ErrorKind::Forbidden,
            Reason::BodyTooLarge => ErrorKind::PayloadTooLarge,
            Reason::BodyInvalid => ErrorKind::BadRequest,
            _ => ErrorKind::Unauthorized,
        }
    }

    pub fn status(self) -> u16 {
        self.error_kind().status()
    }
}

impl core::fmt::Display for Reason {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str(self.code())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = std::collections::BTreeSet::new();
        for r in Reason::ALL {
            assert!(seen.insert(r.code()), "duplicate code {}", r.code());
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        assert_eq!(seen.len(), 23);
    }

    #[test]
    fn statuses_follow_the_spec() {
        assert_eq!(Reason::TokenMissing.status(), 401);
        assert_eq!(Reason::TenantMismatch.status(), 401);
        assert_eq!(Reason::PrincipalInactive.status(), 401);
        assert_eq!(Reason::TokenRevoked.status(), 401);
        assert_eq!(Reason::TenantUnknown.status(), 403);
        assert_eq!(Reason::NoRoute.status(), 403);
        assert_eq!(Reason::NoGrant.status(), 403);
        assert_eq!(Reason::BodyTooLarge.status(), 413);
        assert_eq!(Reason::BodyInvalid.status(), 400);
    }
}
