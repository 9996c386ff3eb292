//! Request headers the filter owns or must not forward as they came (SPEC 3.3). Pure functions,
//! so `gatehouse check` and the filter read a header name the same way.
//!
//! Names compare the way the laxest common upstream reads them: ASCII case-insensitively, with
//! `_` read as `-` (CGI, WSGI, PHP-FPM and Rack turn both into `HTTP_X_GATEHOUSE_SUBJECT`). So
//! `x_gatehouse_subject` is an identity header and `X_HTTP_Method_Override` an override header.

use crate::model::{Gateway, OverrideHeaders};

/// Every request header whose name starts with this (read as above) belongs to Gatehouse: removed
/// from every forwarded request, then `x-gatehouse-tenant`, `-subject` and `-route` are set.
pub const IDENTITY_PREFIX: &str = "x-gatehouse-";

/// Headers that ask an upstream to act on another method or URL than the one decided on.
pub const OVERRIDE_HEADERS: [&str; 5] = [
    "x-http-method-override",
    "x-http-method",
    "x-method-override",
    "x-original-url",
    "x-rewrite-url",
];

/// Headers from which upstream frameworks rebuild the request's host, port or base path
/// (Rack and Rails, Express with `trust proxy`, Spring's `ForwardedHeaderFilter`, Werkzeug's
/// `ProxyFix`, ASP.NET's forwarded-headers middleware, Traefik and nginx conventions). The filter
/// chose the tenant from `:authority`; an upstream that builds links, redirects, tenant lookups
/// or access checks from one of these would act for another host. `x-forwarded-for` and
/// `x-forwarded-proto` are not here: they carry the client and scheme, which Envoy itself sets.
pub const HOST_OVERRIDE_HEADERS: [&str; 12] = [
    "forwarded",
    "x-forwarded-host",
    "x-forwarded-server",
    "x-forwarded-port",
    "x-forwarded-prefix",
    "x-forwarded-path",
    "x-forwarded-uri",
    "x-original-host",
    "x-original-uri",
    "x-host",
    "x-http-host-override",
    "x-script-name",
];

/// A name byte as compared: ASCII lowercase, `_` as `-`.
fn fold(byte: u8) -> u8 {
    if byte == b'_' {
        b'-'
    } else {
        byte.to_ascii_lowercase()
    }
}

/// Whether `name` starts with `prefix` (lowercase, `-` separated) under [`fold`].
fn starts_with_folded(name: &str, prefix: &str) -> bool {
    name.len() >= prefix.len() && name.bytes().zip(prefix.bytes()).all(|(n, p)| fold(n) == p)
}

/// Whether `name` equals `canonical` (lowercase, `-` separated) under [`fold`].
fn eq_folded(name: &str, canonical: &str) -> bool {
    name.len() == canonical.len() && starts_with_folded(name, canonical)
}

/// Whether header names `a` and `b` are one name as CGI-style upstreams read them (any case, `_`
/// as `-`).
pub fn same_name(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).all(|(x, y)| fold(x) == fold(y))
}

/// Whether `name` is an `x-gatehouse-*` header, in any case and with `_` for `-`.
pub fn is_identity_header(name: &str) -> bool {
    starts_with_folded(name, IDENTITY_PREFIX)
}

/// Whether `name` is one of [`OVERRIDE_HEADERS`], in any case and with `_` for `-`.
pub fn is_override_header(name: &str) -> bool {
    OVERRIDE_HEADERS.iter().any(|h| eq_folded(name, h))
}

/// Whether `name` is one of [`HOST_OVERRIDE_HEADERS`], in any case and with `_` for `-`.
pub fn is_host_override_header(name: &str) -> bool {
    HOST_OVERRIDE_HEADERS.iter().any(|h| eq_folded(name, h))
}

/// The gateway file's setting that governs header `name`, if it is an override header of either
/// kind.
fn override_setting(gateway: &Gateway, name: &str) -> Option<OverrideHeaders> {
    if is_override_header(name) {
        Some(gateway.override_headers)
    } else if is_host_override_header(name) {
        Some(gateway.host_override_headers)
    } else {
        None
    }
}

/// Whether the filter removes this request header before forwarding the request: identity
/// headers always; method/URL override headers unless the gateway file says
/// `override_headers: keep`, host and prefix override headers unless it says
/// `host_override_headers: keep` (with `deny` a request that carries one is refused; in dry-run
/// it continues without it).
pub fn removed_before_forwarding(gateway: &Gateway, name: &str) -> bool {
    is_identity_header(name)
        || override_setting(gateway, name).is_some_and(|s| s != OverrideHeaders::Keep)
}

/// Whether the request is refused as ambiguous (`request_ambiguous`) for its override headers:
/// one whose setting is `deny` is present, whatever its value.
pub fn override_refused(gateway: &Gateway, headers: &[(&str, &str)]) -> bool {
    headers
        .iter()
        .any(|(name, _)| override_setting(gateway, name) == Some(OverrideHeaders::Deny))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(override_headers: OverrideHeaders) -> Gateway {
        Gateway {
            default_authenticated: false,
            dry_run: false,
            max_body_bytes: 1024,
            token_sources: Vec::new(),
            routes: Vec::new(),
            override_headers,
            host_override_headers: override_headers,
            refuse_path_semicolons: false,
            refuse_cross_site_cookies: false,
        }
    }

    #[test]
    fn identity_headers_in_any_spelling() {
        for name in [
            "x-gatehouse-subject",
            "X-Gatehouse-Subject",
            "x_gatehouse_subject",
            "X_GATEHOUSE_TENANT",
            "x-gatehouse_route",
            "x_gatehouse-admin",
            "x-gatehouse-",
        ] {
            assert!(is_identity_header(name), "{name}");
        }
        for name in [
            "x-gatehouse",
            "x-gatehousesubject",
            "xx-gatehouse-subject",
            "x.gatehouse.subject",
            "",
            "authorization",
        ] {
            assert!(!is_identity_header(name), "{name}");
        }
    }

    #[test]
    fn override_headers_in_any_spelling() {
        for name in [
            "x-http-method-override",
            "X-HTTP-Method-Override",
            "x_http_method_override",
            "X-HTTP-Method",
            "x-method-override",
            "X_Original_URL",
            "x-rewrite-url",
        ] {
            assert!(is_override_header(name), "{name}");
        }
        for name in [
            "x-http-method-overrides",
            "x-http-methods",
            "x-original-url-2",
            "x-original",
            "x-forwarded-method",
            "",
        ] {
            assert!(!is_override_header(name), "{name}");
        }
    }

    #[test]
    fn host_override_headers_in_any_spelling() {
        for name in [
            "X-Forwarded-Host",
            "x_forwarded_host",
            "Forwarded",
            "X-HOST",
            "x-forwarded-prefix",
            "X_Forwarded_Port",
            "x-original-host",
            "X-Script-Name",
        ] {
            assert!(is_host_override_header(name), "{name}");
            assert!(!is_override_header(name), "{name}");
        }
        for name in [
            "x-forwarded-for",
            "x-forwarded-proto",
            "host",
            "x-hosts",
            "forwarded-host",
        ] {
            assert!(!is_host_override_header(name), "{name}");
        }
    }

    #[test]
    fn each_kind_follows_its_own_setting() {
        let mut g = gateway(OverrideHeaders::Remove);
        g.host_override_headers = OverrideHeaders::Deny;
        assert!(override_refused(&g, &[("x-forwarded-host", "evil")]));
        assert!(!override_refused(&g, &[("x-http-method", "DELETE")]));
        g.host_override_headers = OverrideHeaders::Keep;
        assert!(!removed_before_forwarding(&g, "x-forwarded-host"));
        assert!(removed_before_forwarding(&g, "x-http-method"));
    }

    #[test]
    fn refused_only_under_deny() {
        let headers = [("host", "a"), ("X_HTTP_Method_Override", "DELETE")];
        assert!(override_refused(&gateway(OverrideHeaders::Deny), &headers));
        assert!(!override_refused(
            &gateway(OverrideHeaders::Remove),
            &headers
        ));
        assert!(!override_refused(&gateway(OverrideHeaders::Keep), &headers));
        let clean = [("host", "a"), ("x-http-method-overrides", "DELETE")];
        assert!(!override_refused(&gateway(OverrideHeaders::Deny), &clean));
        assert!(!override_refused(&gateway(OverrideHeaders::Deny), &[]));
    }

    #[test]
    fn removal_follows_the_setting() {
        for setting in [
            OverrideHeaders::Remove,
            OverrideHeaders::Deny,
            OverrideHeaders::Keep,
        ] {
            let g = gateway(setting);
            assert!(removed_before_forwarding(&g, "x_gatehouse_subject"));
            assert!(!removed_before_forwarding(&g, "x-forwarded-for"));
            for name in [
                "X-Original-URL",
                "X_Forwarded_Host",
                "forwarded",
                "X-Forwarded-Prefix",
            ] {
                assert_eq!(
                    removed_before_forwarding(&g, name),
                    setting != OverrideHeaders::Keep,
                    "{name}"
                );
            }
            assert!(!removed_before_forwarding(&g, "x-forwarded-proto"));
        }
    }
}
