//! The closed set of denial reasons (SPEC 3.3) and how each maps onto HTTP.
//!
//! Every reason is one row of the table below: its variant, its wire code, the `error` kind (and
//! so the HTTP status) of its denial, and its one-line description. Adding a reason is adding a
//! row; nothing else decides a reason's status.

/// The `error` member of a denial body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    Unauthorized,
    Forbidden,
    BadRequest,
    PayloadTooLarge,
    UnsupportedMediaType,
}

impl ErrorKind {
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::Unauthorized => "unauthorized",
            ErrorKind::Forbidden => "forbidden",
            ErrorKind::BadRequest => "bad_request",
            ErrorKind::PayloadTooLarge => "payload_too_large",
            ErrorKind::UnsupportedMediaType => "unsupported_media_type",
        }
    }

    pub fn status(self) -> u16 {
        match self {
            ErrorKind::Unauthorized => 401,
            ErrorKind::Forbidden => 403,
            ErrorKind::BadRequest => 400,
            ErrorKind::PayloadTooLarge => 413,
            ErrorKind::UnsupportedMediaType => 415,
        }
    }
}

macro_rules! reasons {
    ($( $(#[$meta:meta])* $variant:ident = $code:literal, $kind:ident, $doc:literal; )*) => {
        /// Why a request was denied. Each variant is one reason code of the specification.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Reason {
            $( #[doc = $doc] $(#[$meta])* $variant, )*
        }

        impl Reason {
            /// Every reason, in table order.
            pub const ALL: &'static [Reason] = &[$(Reason::$variant),*];

            /// The wire code, as it appears in responses, logs, metrics and
            /// `gatehouse check --json`.
            pub fn code(self) -> &'static str {
                match self { $(Reason::$variant => $code,)* }
            }

            /// The `error` kind of the denial, which fixes its HTTP status.
            pub fn error_kind(self) -> ErrorKind {
                match self { $(Reason::$variant => ErrorKind::$kind,)* }
            }

            /// What the reason means, one line (for docs and `gatehouse check`).
            pub fn description(self) -> &'static str {
                match self { $(Reason::$variant => $doc,)* }
            }
        }
    };
}

reasons! {
    TokenMissing = "token_missing", Unauthorized, "no token in any configured token source";
    TokenMalformed = "token_malformed", Unauthorized, "the token is not a well-formed compact JWS";
    AlgNotAllowed = "alg_not_allowed", Unauthorized, "the token's `alg` is not allowed for its key or issuer";
    IssuerUnknown = "issuer_unknown", Unauthorized, "the token's `iss` is no issuer of any tenant";
    KeyUnknown = "key_unknown", Unauthorized, "no key of the issuer has the token's `kid`";
    SignatureInvalid = "signature_invalid", Unauthorized, "the signature does not verify";
    TokenExpired = "token_expired", Unauthorized, "`exp` has passed (or is missing)";
    TokenNotYetValid = "token_not_yet_valid", Unauthorized, "`nbf` or `iat` is in the future";
    AudienceMismatch = "audience_mismatch", Unauthorized, "`aud` does not name a configured audience";
    TokenRevoked = "token_revoked", Unauthorized, "the token's `jti` is revoked, or it predates `tokens_valid_after`";
    TenantUnknown = "tenant_unknown", Forbidden, "the host names no tenant";
    TenantMismatch = "tenant_mismatch", Unauthorized, "the token belongs to another tenant";
    PrincipalUnknown = "principal_unknown", Unauthorized, "the token names no existing user or virtual account";
    PrincipalInactive = "principal_inactive", Unauthorized, "the user is deactivated";
    PrincipalExpired = "principal_expired", Unauthorized, "the virtual account has expired";
    NoRoute = "no_route", Forbidden, "no route matches the request";
    ResourceUnresolved = "resource_unresolved", Forbidden, "a placeholder of the route's resource cannot be filled";
    ResourceUnknown = "resource_unknown", Forbidden, "the resource does not exist in the tenant";
    ResourceDisabled = "resource_disabled", Forbidden, "the resource or an ancestor is disabled";
    NotAuthorizedSubject = "not_authorized_subject", Forbidden, "the resource admits only its authorized subjects";
    NoGrant = "no_grant", Forbidden, "no grant of the caller allows the action";
    BodyTooLarge = "body_too_large", PayloadTooLarge, "the body is larger than `max_body_bytes`";
    BodyInvalid = "body_invalid", BadRequest, "the body the route reads is not valid, unambiguous JSON";
    PathNotCanonical = "path_not_canonical", BadRequest, "the path is not in canonical form (dot or empty segments, encoded separators, backslashes)";
    UnsupportedMediaType = "unsupported_media_type", UnsupportedMediaType, "the route reads a JSON body but the Content-Type is not JSON, or the body is encoded (`Content-Encoding` other than `identity`)";
    AuthorityInvalid = "authority_invalid", BadRequest, "the `:authority` is not one plain `host[:port]` (a registered name, an IPv4 address or a bracketed IPv6 literal, and a valid port)";
    CrossSiteRequest = "cross_site_request", Forbidden, "a cookie-authenticated request came from another site (`Sec-Fetch-Site`, `Origin`) and the gateway file refuses those";
    CredentialUnknown = "credential_unknown", Unauthorized, "no API key of the tenant has the presented key's id";
    CredentialOutOfScope = "credential_out_of_scope", Forbidden, "the API key's scopes do not cover the requested resource and action";
    RequestAmbiguous = "request_ambiguous", BadRequest, "a fact the decision reads has more than one value (repeated parameter, header, cookie or token), or the request carries a refused override header";
    InsufficientScope = "insufficient_scope", Forbidden, "on an MCP route, the token lacks a scope the route requires (`scope` or `scp`)";
}

impl Reason {
    pub fn from_code(code: &str) -> Option<Reason> {
        Reason::ALL.iter().copied().find(|r| r.code() == code)
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
        for &r in Reason::ALL {
            assert!(seen.insert(r.code()), "duplicate code {}", r.code());
            assert_eq!(Reason::from_code(r.code()), Some(r));
        }
        assert_eq!(seen.len(), 31);
    }

    #[test]
    fn statuses_follow_the_spec() {
        use Reason::*;
        let by_status: [(u16, &[Reason]); 5] = [
            (
                401,
                &[
                    TokenMissing,
                    TenantMismatch,
                    PrincipalInactive,
                    TokenRevoked,
                    CredentialUnknown,
                ],
            ),
            (
                403,
                &[
                    TenantUnknown,
                    NoRoute,
                    NoGrant,
                    CredentialOutOfScope,
                    InsufficientScope,
                ],
            ),
            (413, &[BodyTooLarge]),
            (400, &[BodyInvalid, PathNotCanonical, RequestAmbiguous]),
            (415, &[UnsupportedMediaType]),
        ];
        let expected = by_status
            .iter()
            .flat_map(|(status, reasons)| reasons.iter().map(move |r| (*r, *status)));
        for (reason, status) in expected {
            assert_eq!(reason.status(), status, "{reason:?}");
        }
    }
}
