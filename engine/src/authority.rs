//! The request's authority with one reading (SPEC 3.1 step 1).
//!
//! Envoy picks a virtual host by comparing the lowercased `:authority` with each virtual host's
//! domains (exact names first, then the longest `*suffix` wildcard). Gatehouse chooses the tenant
//! the same way, on the same string, and only for an authority that every reader takes apart the
//! same way: `host[:port]` where the host is
//!
//! - a registered name of ASCII letters, digits, `-`, `_` and `~` in non-empty labels joined by
//!   `.` (RFC 3986's `reg-name` without percent-encoding and sub-delimiters, and without a
//!   trailing dot, which Envoy only strips when told to);
//! - an IPv4 address in strict dotted-decimal form; a name whose last label is a number (`1.2.3`,
//!   `0x7f.1`, `010.0.0.1`) is refused, because URL parsers read it as an IPv4 address in
//!   another notation;
//! - an IPv6 literal in brackets (no zone, no `IPvFuture`);
//!
//! and the port, when present, is 1-65535 written without leading zeros. Anything else —
//! userinfo, brackets around a name, two colons, an empty port, spaces, a comma from a repeated
//! header — is [`Reason::AuthorityInvalid`], never a guess at what was meant.
//!
//! The port does not take part in tenant selection: the generated Envoy configurations set
//! `ignore_port_in_host_matching`, so Envoy's virtual-host choice ignores it too.

use std::borrow::Cow;
use std::net::Ipv6Addr;

use crate::reason::Reason;
use crate::request::is;

/// Longest host accepted, in bytes (a DNS name is at most 253).
pub const MAX_HOST_BYTES: usize = 253;

/// An authority read the one way it can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authority<'a> {
    /// Lowercase; an IPv6 literal keeps its brackets (`[::1]`), as Envoy compares it.
    pub host: Cow<'a, str>,
    pub port: Option<u16>,
}

/// Reads `:authority` (or `Host`) as described in the module documentation.
pub fn parse(authority: &str) -> Result<Authority<'_>, Reason> {
    let (host, port) = split_port(authority)?;
    if host.is_empty() || host.len() > MAX_HOST_BYTES + 2 {
        return Err(Reason::AuthorityInvalid);
    }
    if let Some(inner) = host.strip_prefix('[') {
        let inner = inner.strip_suffix(']').ok_or(Reason::AuthorityInvalid)?;
        // `Ipv6Addr`'s parser takes exactly RFC 4291 text forms: no zone identifier, no
        // brackets, no spaces.
        inner
            .parse::<Ipv6Addr>()
            .map_err(|_| Reason::AuthorityInvalid)?;
    } else if host.len() > MAX_HOST_BYTES || !is_name_or_ipv4(host) {
        return Err(Reason::AuthorityInvalid);
    }
    let host = if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    Ok(Authority { host, port })
}

/// `host` and the port after the last `:` outside brackets.
fn split_port(authority: &str) -> Result<(&str, Option<u16>), Reason> {
    let host_end = if authority.starts_with('[') {
        authority.find(is::<']'>).map_or(authority.len(), |i| i + 1)
    } else {
        authority.find(is::<':'>).unwrap_or(authority.len())
    };
    let (host, rest) = authority
        .split_at_checked(host_end)
        .ok_or(Reason::AuthorityInvalid)?;
    if rest.is_empty() {
        return Ok((host, None));
    }
    let digits = rest.strip_prefix(':').ok_or(Reason::AuthorityInvalid)?;
    let valid = !digits.is_empty()
        && digits.len() <= 5
        && digits.bytes().all(|b| b.is_ascii_digit())
        && !digits.starts_with('0');
    let port = valid
        .then(|| digits.parse::<u16>().ok())
        .flatten()
        .ok_or(Reason::AuthorityInvalid)?;
    Ok((host, Some(port)))
}

/// A registered name of unreserved characters in non-empty labels, or a strict IPv4 address.
fn is_name_or_ipv4(host: &str) -> bool {
    let mut last = "";
    for label in host.split(is::<'.'>) {
        if label.is_empty()
            || !label
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'~'))
        {
            return false;
        }
        last = label;
    }
    !looks_numeric(last) || is_strict_ipv4(host)
}

/// Whether a label is what URL parsers (WHATWG, `inet_aton`) take as a number: decimal digits,
/// or `0x` followed by hex digits.
fn looks_numeric(label: &str) -> bool {
    let hex = label
        .strip_prefix("0x")
        .or_else(|| label.strip_prefix("0X"));
    match hex {
        Some(digits) => digits.bytes().all(|b| b.is_ascii_hexdigit()),
        None => label.bytes().all(|b| b.is_ascii_digit()),
    }
}

/// Four decimal octets 0-255 without leading zeros.
fn is_strict_ipv4(host: &str) -> bool {
    let mut count = 0;
    for octet in host.split(is::<'.'>) {
        count += 1;
        let valid = !octet.is_empty()
            && octet.len() <= 3
            && octet.bytes().all(|b| b.is_ascii_digit())
            && (octet == "0" || !octet.starts_with('0'))
            && octet.parse::<u8>().is_ok();
        if !valid {
            return false;
        }
    }
    count == 4
}

/// Whether `host` (lowercase, as [`parse`] returns it) is served by a tenant listing `pattern`
/// (lowercase): an exact name, or `*` followed by a suffix that must match at least one more
/// character, as Envoy matches virtual-host domains. Returns the length of the matched pattern
/// text for wildcards (Envoy prefers the longest), `usize::MAX` for an exact match.
pub fn matches(pattern: &str, host: &str) -> Option<usize> {
    match pattern.strip_prefix('*') {
        None => (pattern == host).then_some(usize::MAX),
        Some(suffix) => {
            (host.len() > suffix.len() && host.ends_with(suffix)).then_some(suffix.len())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host(a: &str) -> Result<(String, Option<u16>), Reason> {
        parse(a).map(|a| (a.host.into_owned(), a.port))
    }

    #[test]
    fn accepted_authorities() {
        for (raw, h, p) in [
            ("acme.gw.example.com", "acme.gw.example.com", None),
            (
                "Acme.GW.example.com:8443",
                "acme.gw.example.com",
                Some(8443),
            ),
            ("localhost:10000", "localhost", Some(10000)),
            ("a_b-c~d.example", "a_b-c~d.example", None),
            ("127.0.0.1", "127.0.0.1", None),
            ("0.0.0.0:1", "0.0.0.0", Some(1)),
            ("255.255.255.255:65535", "255.255.255.255", Some(65535)),
            ("[::1]:10000", "[::1]", Some(10000)),
            ("[2001:DB8::1]", "[2001:db8::1]", None),
            ("[::ffff:1.2.3.4]", "[::ffff:1.2.3.4]", None),
            ("1x.example", "1x.example", None),
            ("x.1a", "x.1a", None),
        ] {
            assert_eq!(host(raw), Ok((h.to_owned(), p)), "{raw:?}");
        }
    }

    #[test]
    fn refused_authorities() {
        for raw in [
            "",
            ":80",
            "[acme.gw.example.com].globex.example.com",
            "[acme.gw.example.com]",
            "example.com.",
            ".example.com",
            "a..b",
            "example.com:",
            "example.com:0",
            "example.com:080",
            "example.com:65536",
            "example.com:123456",
            "example.com:80:80",
            "example.com:+80",
            "example.com: 80",
            "user@example.com",
            "example.com@evil.com",
            "ex%61mple.com",
            "exa mple.com",
            "example.com,example.org",
            "a!b.com",
            "a;b.com",
            "a(b).com",
            "ex\u{e4}mple.com",
            "a\tb",
            "1.2.3",
            "1.2.3.4.5",
            "01.2.3.4",
            "256.1.1.1",
            "0x7f.0.0.1",
            "example.0x1f",
            "4294967295",
            "example.123",
            "[::1",
            "::1",
            "[::1]x",
            "[::1]:",
            "[fe80::1%25eth0]",
            "[v1.abc]",
            "[1.2.3.4]",
        ] {
            assert_eq!(host(raw), Err(Reason::AuthorityInvalid), "{raw:?}");
        }
        let long = format!("{}.com", "a".repeat(250));
        assert_eq!(host(&long), Err(Reason::AuthorityInvalid));
    }

    #[test]
    fn wildcards_match_like_envoy_domains() {
        assert_eq!(
            matches("acme.example.com", "acme.example.com"),
            Some(usize::MAX)
        );
        assert_eq!(
            matches("*.acme.example.com", "a.acme.example.com"),
            Some(17)
        );
        assert_eq!(
            matches("*.acme.example.com", "a.b.acme.example.com"),
            Some(17)
        );
        assert_eq!(matches("*.acme.example.com", ".acme.example.com"), None);
        assert_eq!(matches("*.acme.example.com", "acme.example.com"), None);
        assert_eq!(matches("*.acme.example.com", "xacme.example.com"), None);
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Every authority Gatehouse accepts is an RFC 3986 authority without userinfo that an
        /// independent parser splits into the same host and port.
        #[test]
        fn accepted_authorities_agree_with_rfc3986(
            raw in "(\\[[0-9a-fA-F:.]{0,12}\\]|[a-zA-Z0-9._~%@!,;\\[\\]-]{0,14})(:[0-9]{0,6})?"
        ) {
            if let Ok(ours) = parse(&raw) {
                let uri = format!("http://{raw}/");
                let theirs = fluent_uri::Uri::parse(uri.as_str());
                proptest::prop_assert!(theirs.is_ok(), "{raw:?} accepted here, not by RFC 3986");
                let theirs = theirs.ok();
                let authority = theirs.as_ref().and_then(|u| u.authority());
                proptest::prop_assert!(authority.is_some_and(|a| a.userinfo().is_none()));
                let (h, p) = authority
                    .map(|a| (a.host().to_ascii_lowercase(), a.port_to_u16().ok().flatten()))
                    .unwrap_or_default();
                proptest::prop_assert_eq!(h, ours.host.as_ref());
                proptest::prop_assert_eq!(p, ours.port);
            }
        }
    }
}
