//! Reading the facts of a request so that no common upstream reads them differently: the
//! canonical path, query parameters, headers, cookies, the token and the media type. A fact that
//! can be read two ways is refused ([`Reason::PathNotCanonical`], [`Reason::RequestAmbiguous`],
//! [`Reason::UnsupportedMediaType`]), never resolved by first-wins or last-wins.

use std::borrow::Cow;

use crate::headers;
use crate::model::TokenSource;
use crate::reason::Reason;

/// `(path, query)` of a request target.
pub fn split_query(path: &str) -> (&str, Option<&str>) {
    match path.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (path, None),
    }
}

/// Refuse a path that an upstream could read as another path (SPEC 3.1 step 2): Gatehouse decides
/// on the path as it arrives, and only when every common reading of it is the same.
///
/// Refused: a path not starting with `/`; dot segments (`.`, `..`) and empty segments (`//`, a
/// trailing `/`), which upstreams resolve or merge; a backslash, which some read as `/`;
/// percent-encodings of `/`, `\`, `.`, NUL and of every unreserved character (RFC 3986 2.3), which
/// upstreams decode before routing (`%2e%2e` is `..`, `%73erver` is `server`); a `%` that does not
/// start a valid escape; control characters, spaces and `#`. The query is not part of the path.
pub fn canonical_path(path: &str) -> Result<(), Reason> {
    let (path, _) = split_query(path);
    if path == "/" {
        return Ok(());
    }
    let rest = path.strip_prefix('/').ok_or(Reason::PathNotCanonical)?;
    for segment in rest.split('/') {
        if segment.is_empty() || segment == "." || segment == ".." {
            return Err(Reason::PathNotCanonical);
        }
        let mut bytes = segment.bytes();
        while let Some(b) = bytes.next() {
            match b {
                b'%' => {
                    let hi = bytes.next().and_then(hex).ok_or(Reason::PathNotCanonical)?;
                    let lo = bytes.next().and_then(hex).ok_or(Reason::PathNotCanonical)?;
                    let decoded = hi << 4 | lo;
                    if decoded.is_ascii_alphanumeric()
                        || matches!(decoded, b'-' | b'.' | b'_' | b'~' | b'/' | b'\\' | 0)
                    {
                        return Err(Reason::PathNotCanonical);
                    }
                }
                b'\\' | b'#' | b' ' => return Err(Reason::PathNotCanonical),
                b if b.is_ascii_control() => return Err(Reason::PathNotCanonical),
                _ => {}
            }
        }
    }
    Ok(())
}

/// The value of query parameter `name`, percent-decoded (`+` is a space). A value that does not
/// decode to UTF-8 counts as absent. Repeats with the same value are one value; repeats with
/// different values are [`Reason::RequestAmbiguous`] (upstreams disagree on first-wins and
/// last-wins).
pub fn query_param<'a>(path: &'a str, name: &str) -> Result<Option<Cow<'a, str>>, Reason> {
    let (_, query) = split_query(path);
    let Some(query) = query else {
        return Ok(None);
    };
    let values = query.split('&').filter_map(|pair| {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        (percent_decode(k)? == name).then(|| percent_decode(v))
    });
    single(values).map(Option::flatten)
}

/// The one value of an iterator of readings: none, one, or several equal ones.
fn single<T: PartialEq>(mut values: impl Iterator<Item = T>) -> Result<Option<T>, Reason> {
    let Some(first) = values.next() else {
        return Ok(None);
    };
    for other in values {
        if other != first {
            return Err(Reason::RequestAmbiguous);
        }
    }
    Ok(Some(first))
}

fn percent_decode(s: &str) -> Option<Cow<'_, str>> {
    if !s.bytes().any(|b| b == b'%' || b == b'+') {
        return Some(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(s.len());
    let mut bytes = s.bytes();
    while let Some(b) = bytes.next() {
        match b {
            b'+' => out.push(b' '),
            b'%' => {
                let hi = hex(bytes.next()?)?;
                let lo = hex(bytes.next()?)?;
                out.push(hi << 4 | lo);
            }
            _ => out.push(b),
        }
    }
    String::from_utf8(out).ok().map(Cow::Owned)
}

fn hex(b: u8) -> Option<u8> {
    match b {
        b'0'..=b'9' => Some(b - b'0'),
        b'a'..=b'f' => Some(b - b'a' + 10),
        b'A'..=b'F' => Some(b - b'A' + 10),
        _ => None,
    }
}

/// The value of header `name` (any case). Several headers of that name with one value are that
/// value; with different values, or spelled with `_` for `-` (which WSGI, CGI, PHP-FPM and Rack
/// read as the same header and Go does not), the request is [`Reason::RequestAmbiguous`].
pub fn header<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Result<Option<&'a str>, Reason> {
    let mut found = None;
    for (n, v) in headers {
        if !headers::same_name(n, name) {
            continue;
        }
        if !n.eq_ignore_ascii_case(name) {
            return Err(Reason::RequestAmbiguous);
        }
        match found {
            Some(seen) if seen != *v => return Err(Reason::RequestAmbiguous),
            _ => found = Some(*v),
        }
    }
    Ok(found)
}

/// The value of cookie `name` from every `cookie` header (surrounding double quotes removed). The
/// same cookie with different values is [`Reason::RequestAmbiguous`].
pub fn cookie<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Result<Option<&'a str>, Reason> {
    let values = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'))
        .filter_map(|pair| {
            let (k, v) = pair.trim().split_once('=')?;
            (k.trim() == name).then(|| v.trim().trim_matches('"'))
        });
    single(values)
}

/// The token the request carries. Every source is read: a source that is present but empty after
/// its prefix still counts as present (the token is then malformed, not missing), and sources
/// carrying different tokens, or one source repeated with different values, are
/// [`Reason::RequestAmbiguous`] — never first-wins.
pub fn extract_token<'a>(
    sources: &[TokenSource],
    path: &'a str,
    headers: &[(&'a str, &'a str)],
) -> Result<Option<Cow<'a, str>>, Reason> {
    let mut found: Option<Cow<'a, str>> = None;
    for source in sources {
        let token = match source {
            TokenSource::Header { name, prefix } => {
                let value = header(headers, name)?;
                // Envoy joins repeated headers of some names with `,` before the filter sees
                // them; a compact JWS has no comma, so a comma is a repeat.
                if value.is_some_and(|v| v.contains(',')) {
                    return Err(Reason::RequestAmbiguous);
                }
                value.and_then(|value| {
                    let head = value.get(..prefix.len())?;
                    head.eq_ignore_ascii_case(prefix)
                        .then(|| value.get(prefix.len()..))
                        .flatten()
                        .map(|t| Cow::Borrowed(t.trim()))
                })
            }
            TokenSource::Query { name } => query_param(path, name)?,
            TokenSource::Cookie { name } => cookie(headers, name)?.map(Cow::Borrowed),
        };
        match (&found, token) {
            (_, None) => {}
            (None, Some(t)) => found = Some(t),
            (Some(seen), Some(t)) if *seen == t => {}
            (Some(_), Some(_)) => return Err(Reason::RequestAmbiguous),
        }
    }
    Ok(found)
}

/// Whether a Content-Type names JSON: `application/json` or `application/<x>+json`, with
/// parameters, the only `charset` being UTF-8 (an upstream that honours another charset would
/// read other characters than the engine). Anything else, a missing header included, is
/// [`Reason::UnsupportedMediaType`]; several different ones are [`Reason::RequestAmbiguous`].
pub fn json_content_type(headers: &[(&str, &str)]) -> Result<(), Reason> {
    let value = header(headers, "content-type")?.ok_or(Reason::UnsupportedMediaType)?;
    // Envoy joins repeated headers with `,`; a media type has none.
    if value.contains(',') {
        return Err(Reason::RequestAmbiguous);
    }
    let mut parts = value.split(';');
    let media = parts.next().unwrap_or("").trim();
    let (kind, subtype) = media.split_once('/').ok_or(Reason::UnsupportedMediaType)?;
    let token = |s: &str| !s.is_empty() && s.bytes().all(is_tchar);
    if !token(kind) || !token(subtype) || !kind.eq_ignore_ascii_case("application") {
        return Err(Reason::UnsupportedMediaType);
    }
    let json = subtype.eq_ignore_ascii_case("json")
        || subtype
            .len()
            .checked_sub(5)
            .filter(|&i| i > 0)
            .and_then(|i| subtype.get(i..))
            .is_some_and(|tail| tail.eq_ignore_ascii_case("+json"));
    if !json {
        return Err(Reason::UnsupportedMediaType);
    }
    for param in parts {
        let (name, value) = param
            .trim()
            .split_once('=')
            .ok_or(Reason::UnsupportedMediaType)?;
        let name = name.trim();
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if !token(name)
            || value
                .bytes()
                .any(|b| b == b'"' || b == b'\\' || b.is_ascii_control())
        {
            return Err(Reason::UnsupportedMediaType);
        }
        if name.eq_ignore_ascii_case("charset")
            && !(value.eq_ignore_ascii_case("utf-8") || value.eq_ignore_ascii_case("utf8"))
        {
            return Err(Reason::UnsupportedMediaType);
        }
    }
    Ok(())
}

/// RFC 9110 `tchar`.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths() {
        for ok in [
            "/",
            "/healthz",
            "/api/llm/mcp/github/server",
            "/api/prompts/a%20b/c",
            "/a/b?x=../..&y=%2F",
            "/a/%E2%82%AC",
            "/a/..b/c.d/.e",
        ] {
            assert_eq!(canonical_path(ok), Ok(()), "{ok}");
        }
        for bad in [
            "",
            "healthz",
            "//healthz",
            "/healthz/",
            "/a//b",
            "/a/./b",
            "/a/../b",
            "/a/..",
            "/healthz/..%2F..%2Fapi",
            "/a%2fb",
            "/a%5Cb",
            "/a%5cb",
            "/a\\b",
            "/a/%2e%2e/b",
            "/a/%2E/b",
            "/a%00",
            "/a/%73erver",
            "/a/%7E",
            "/a/%",
            "/a/%4",
            "/a/%zz",
            "/a b",
            "/a#b",
            "/a\tb",
        ] {
            assert_eq!(
                canonical_path(bad),
                Err(Reason::PathNotCanonical),
                "{bad:?}"
            );
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// Whatever an upstream does with a canonical path — decode its escapes once, resolve
        /// dot segments, merge slashes, read `\` as `/` — it reads the same segments.
        #[test]
        fn canonical_paths_have_one_reading(path in "/[a-z./\\\\%0-9A-F~_-]{0,16}") {
            if canonical_path(&path).is_ok() {
                let decoded = percent_decode(&path).map(Cow::into_owned);
                for reading in [Some(path.clone()), decoded].into_iter().flatten() {
                    let segments: Vec<&str> = reading.split('/').skip(1).collect();
                    proptest::prop_assert!(path == "/" || segments.iter().all(|s| {
                        !s.is_empty() && *s != "." && *s != ".." && !s.contains('\\')
                    }), "{path:?} reads as {reading:?}");
                    proptest::prop_assert_eq!(
                        reading.matches('/').count(),
                        path.matches('/').count(),
                        "{:?}: decoding added a separator", path
                    );
                }
            }
        }
    }

    #[test]
    fn repeated_facts_are_ambiguous_unless_equal() {
        assert_eq!(
            query_param("/x?a=1&a=1", "a").unwrap().as_deref(),
            Some("1")
        );
        assert_eq!(
            query_param("/x?a=1&a=2", "a"),
            Err(Reason::RequestAmbiguous)
        );
        assert_eq!(
            query_param("/x?a=1&%61=2", "a"),
            Err(Reason::RequestAmbiguous)
        );
        assert_eq!(query_param("/x?b=1", "a"), Ok(None));
        let h = [("x-t", "a"), ("X-T", "a")];
        assert_eq!(header(&h, "x-t"), Ok(Some("a")));
        let h = [("x-t", "a"), ("x-t", "b")];
        assert_eq!(header(&h, "x-t"), Err(Reason::RequestAmbiguous));
        let h = [("x_t", "a")];
        assert_eq!(header(&h, "x-t"), Err(Reason::RequestAmbiguous));
        let h = [("cookie", "gh=a; x=1"), ("cookie", "gh=b")];
        assert_eq!(cookie(&h, "gh"), Err(Reason::RequestAmbiguous));
        let h = [("cookie", "gh=a; gh=a")];
        assert_eq!(cookie(&h, "gh"), Ok(Some("a")));
    }

    #[test]
    fn json_content_types() {
        for ok in [
            "application/json",
            "Application/JSON",
            "application/json; charset=utf-8",
            "application/json;charset=\"UTF-8\"",
            "application/merge-patch+json",
            "application/vnd.api+json; ext=x",
        ] {
            assert_eq!(json_content_type(&[("content-type", ok)]), Ok(()), "{ok}");
        }
        for bad in [
            "application/x-www-form-urlencoded",
            "multipart/form-data; boundary=x",
            "text/plain",
            "text/json",
            "application/json; charset=iso-8859-1",
            "application/json; charset=utf-16",
            "application/jsonx",
            "application/+json",
            "application/json; x",
            "",
        ] {
            assert_eq!(
                json_content_type(&[("content-type", bad)]),
                Err(Reason::UnsupportedMediaType),
                "{bad}"
            );
        }
        assert_eq!(json_content_type(&[]), Err(Reason::UnsupportedMediaType));
        for repeated in [
            &[
                ("content-type", "application/json"),
                ("content-type", "text/plain"),
            ][..],
            &[("content-type", "application/json, text/plain")],
        ] {
            assert_eq!(json_content_type(repeated), Err(Reason::RequestAmbiguous));
        }
    }
}
