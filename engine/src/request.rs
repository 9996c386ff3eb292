//! Reading the facts of a request so that no common upstream reads them differently: the
//! canonical path, query parameters, headers, cookies, the token and the media type. A fact that
//! can be read two ways is refused ([`Reason::PathNotCanonical`], [`Reason::RequestAmbiguous`],
//! [`Reason::UnsupportedMediaType`]), never resolved by first-wins or last-wins.

use std::borrow::Cow;

use crate::headers;
use crate::model::TokenSource;
use crate::reason::Reason;

/// `c` as a pattern for `split` and `find` that compiles to an inline byte loop. A `char`
/// pattern searches with `memchr` and then calls `memcmp` to compare each candidate: on the short
/// paths and hosts of a decision (and on wasm32, where both are byte loops behind a call) that
/// was a tenth of the decision's time.
pub(crate) fn is<const C: char>(c: char) -> bool {
    c == C
}

/// `(path, query)` of a request target.
pub fn split_query(path: &str) -> (&str, Option<&str>) {
    match path.split_once(is::<'?'>) {
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
    for segment in rest.split(is::<'/'>) {
        // Tomcat (and servlet containers after it) drop `;` parameters from each segment before
        // resolving dot segments: `..;x` is `..` there.
        let head = segment_head(segment);
        if head.is_empty() || head == "." || head == ".." {
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

/// A path segment without its `;` parameters, the way a servlet container reads it; `%3B` counts
/// as `;` here, since some containers decode before they split.
fn segment_head(segment: &str) -> &str {
    // By bytes: `;` and `%` are ASCII, so where either sits is a character boundary.
    let bytes = segment.as_bytes();
    let end = bytes
        .iter()
        .enumerate()
        .position(|(i, &b)| {
            b == b';'
                || (b == b'%'
                    && bytes
                        .get(i + 1..i + 3)
                        .is_some_and(|h| h.eq_ignore_ascii_case(b"3b")))
        })
        .unwrap_or(segment.len());
    segment.get(..end).unwrap_or(segment)
}

/// Whether the path (query excluded) carries `;` parameters, literal or percent-encoded.
pub fn has_path_parameters(path: &str) -> bool {
    let (path, _) = split_query(path);
    path.split(is::<'/'>)
        .any(|segment| segment_head(segment).len() != segment.len())
}

/// The path as a servlet container routes it: every segment without its `;` parameters, the
/// query kept. `None` when the path carries none.
pub fn without_path_parameters(path: &str) -> Option<String> {
    if !has_path_parameters(path) {
        return None;
    }
    let (p, query) = split_query(path);
    let mut out = String::with_capacity(path.len());
    for (i, segment) in p.split(is::<'/'>).enumerate() {
        if i > 0 {
            out.push('/');
        }
        out.push_str(segment_head(segment));
    }
    if let Some(q) = query {
        out.push('?');
        out.push_str(q);
    }
    Some(out)
}

/// The value of query parameter `name`, percent-decoded (`+` is a space). A value that does not
/// decode to UTF-8 counts as absent. Repeats with the same value are one value; repeats with
/// different values are [`Reason::RequestAmbiguous`] (upstreams disagree on first-wins and
/// last-wins), and so is a parameter whose name another reader takes as `name`
/// ([`reads_as`]: ASP.NET compares names case-insensitively, PHP rewrites `.`, ` ` and `[` to
/// `_`) and any `;` in the query (Rack 2 splits pairs on it; Go refuses such queries).
pub fn query_param<'a>(path: &'a str, name: &str) -> Result<Option<Cow<'a, str>>, Reason> {
    let (_, query) = split_query(path);
    let Some(query) = query else {
        return Ok(None);
    };
    if query.contains(';') {
        return Err(Reason::RequestAmbiguous);
    }
    let mut values = Vec::new();
    for pair in query.split('&') {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let key = percent_decode(k);
        if key.as_deref() == Some(name) {
            values.push(percent_decode(v));
        } else if reads_as(key.as_deref().unwrap_or(k), name) || reads_as(k, name) {
            return Err(Reason::RequestAmbiguous);
        }
    }
    single(values.into_iter()).map(Option::flatten)
}

/// Whether a parameter or cookie named `other` is read as `name` by a common upstream: ASCII
/// case (ASP.NET), PHP's rewriting of `.`, ` ` and `[` to `_` and its `name[...]` arrays,
/// surrounding spaces. Callers pass `other` both as sent and percent-decoded (PHP decodes cookie
/// names), having already taken the exact spelling as the name itself.
pub fn reads_as(other: &str, name: &str) -> bool {
    fn key(s: &str) -> impl Iterator<Item = u8> + '_ {
        let s = s.trim();
        // PHP and Rack read `a[b]` as the array `a`.
        let base = match s.split_once('[') {
            Some((base, rest)) if rest.contains(']') => base,
            _ => s,
        };
        base.bytes().map(|b| match b {
            b'.' | b' ' | b'[' => b'_',
            b => b.to_ascii_lowercase(),
        })
    }
    key(other).eq(key(name))
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
/// same cookie with different values is [`Reason::RequestAmbiguous`], and so is a cookie whose
/// name another reader takes as `name` ([`reads_as`], after percent-decoding the name as PHP
/// does).
pub fn cookie<'a>(headers: &[(&'a str, &'a str)], name: &str) -> Result<Option<&'a str>, Reason> {
    let mut values = Vec::new();
    let pairs = headers
        .iter()
        .filter(|(n, _)| n.eq_ignore_ascii_case("cookie"))
        .flat_map(|(_, v)| v.split(';'));
    for pair in pairs {
        let Some((k, v)) = pair.trim().split_once('=') else {
            continue;
        };
        let k = k.trim();
        if k == name {
            values.push(v.trim().trim_matches('"'));
        } else if reads_as(percent_decode(k).as_deref().unwrap_or(k), name) || reads_as(k, name) {
            return Err(Reason::RequestAmbiguous);
        }
    }
    single(values.into_iter())
}

/// A token as found in the request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Presented<'a> {
    pub token: Cow<'a, str>,
    /// A cookie source carried it (a browser attaches it to cross-site requests too).
    pub from_cookie: bool,
}

/// The token the request carries. Every source is read: a source that is present but empty after
/// its prefix still counts as present (the token is then malformed, not missing), and sources
/// carrying different tokens, or one source repeated with different values, are
/// [`Reason::RequestAmbiguous`] — never first-wins.
pub fn extract_token<'a>(
    sources: &[TokenSource],
    path: &'a str,
    headers: &[(&'a str, &'a str)],
) -> Result<Option<Presented<'a>>, Reason> {
    let mut found: Option<Presented<'a>> = None;
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
        let from_cookie = matches!(source, TokenSource::Cookie { .. });
        match (&mut found, token) {
            (_, None) => {}
            (None, Some(token)) => found = Some(Presented { token, from_cookie }),
            (Some(seen), Some(t)) if seen.token == t => seen.from_cookie |= from_cookie,
            (Some(_), Some(_)) => return Err(Reason::RequestAmbiguous),
        }
    }
    Ok(found)
}

/// Whether a browser marks the request as coming from another site: `Sec-Fetch-Site` other than
/// `same-origin` or `none` (`same-site` included: tenants' hosts are often subdomains of one
/// site), else an `Origin` whose host and port are not the request's (`null` and anything
/// unparsable included). Requests with neither header are not cross-site: browsers that send
/// neither predate both, and non-browser clients do not attach cookies by themselves.
pub fn cross_site(headers: &[(&str, &str)], authority: &str) -> Result<bool, Reason> {
    if let Some(site) = header(headers, "sec-fetch-site")? {
        let site = site.trim();
        return Ok(!(site.eq_ignore_ascii_case("same-origin") || site.eq_ignore_ascii_case("none")));
    }
    let Some(origin) = header(headers, "origin")? else {
        return Ok(false);
    };
    let same = (|| {
        let (scheme, rest) = origin.trim().split_once("://")?;
        let default_port = if scheme.eq_ignore_ascii_case("https") {
            443
        } else if scheme.eq_ignore_ascii_case("http") {
            80
        } else {
            return None;
        };
        let theirs = crate::authority::parse(rest).ok()?;
        let ours = crate::authority::parse(authority).ok()?;
        Some(
            theirs.host == ours.host
                && theirs.port.unwrap_or(default_port) == ours.port.unwrap_or(default_port),
        )
    })();
    Ok(same != Some(true))
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

/// Whether the body is sent as it is: no `Content-Encoding`, or `identity`. Upstreams that inflate
/// (Express's `body-parser`, ASP.NET's request decompression, Envoy's own decompressor) would read
/// other bytes than the ones decided on, so any coding — and a list of codings — is
/// [`Reason::UnsupportedMediaType`].
pub fn identity_content_encoding(headers: &[(&str, &str)]) -> Result<(), Reason> {
    match header(headers, "content-encoding")? {
        None => Ok(()),
        Some(coding) if coding.trim().eq_ignore_ascii_case("identity") => Ok(()),
        Some(_) => Err(Reason::UnsupportedMediaType),
    }
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
            "/a;x/b",
            "/a/b;jsessionid=1",
            "/a/...;x",
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
            "/healthz/..;/api/admin",
            "/healthz/..;jsessionid=1/api",
            "/a/.;x/b",
            "/a/;x/b",
            "/a/;",
            "/;/a",
            "/a/..%3B/b",
            "/a/..%3bx/b",
            "/a/.%3b/b",
            "/a/%3Bx/b",
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
    fn path_parameters() {
        assert!(!has_path_parameters("/a/b?x=;y"));
        assert_eq!(without_path_parameters("/a/b?x=;y"), None);
        assert_eq!(
            without_path_parameters("/a;x/b;y=1;z?q=;").as_deref(),
            Some("/a/b?q=;")
        );
        assert_eq!(without_path_parameters("/a%3bx/b").as_deref(), Some("/a/b"));
    }

    /// Tomcat's reading: drop `;` parameters from each segment, decode, resolve dot segments.
    fn tomcat_segments(path: &str) -> Vec<String> {
        let (path, _) = split_query(path);
        let mut out: Vec<String> = Vec::new();
        for segment in path.split('/').skip(1) {
            let head = segment.split(';').next().unwrap_or("");
            let decoded = percent_decode(head).map_or_else(|| head.to_owned(), Cow::into_owned);
            match decoded.as_str() {
                "." => {}
                ".." => {
                    out.pop();
                }
                _ => out.push(decoded),
            }
        }
        out
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        /// A canonical path has the same segments under a servlet container's reading as its
        /// own segments without their parameters: no dot segment appears once parameters go.
        #[test]
        fn canonical_paths_read_the_same_in_tomcat(path in "/[a-z.;=/%3Bb]{0,16}") {
            if canonical_path(&path).is_ok() {
                let ours: Vec<String> = split_query(&path)
                    .0
                    .split('/')
                    .skip(1)
                    .map(|s| s.split(';').next().unwrap_or(""))
                    .map(|s| percent_decode(s).map_or_else(|| s.to_owned(), Cow::into_owned))
                    .collect();
                let theirs = tomcat_segments(&path);
                proptest::prop_assert!(path == "/" || ours == theirs, "{path:?}: {ours:?} vs {theirs:?}");
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
    fn names_another_reader_takes_as_the_same_are_ambiguous() {
        for other in ["GH", "Gh", "g%68", "%67h", " gh", "gh[x]", "gh[]"] {
            let h = [("cookie", format!("gh=a; {other}=b"))];
            let h = [(h[0].0, h[0].1.as_str())];
            assert_eq!(cookie(&h, "gh"), Err(Reason::RequestAmbiguous), "{other}");
        }
        for (name, other) in [
            ("a.b", "a_b"),
            ("a_b", "a.b"),
            ("a_b", "a b"),
            ("a_b", "a[b"),
        ] {
            let h = format!("{other}=1; {name}=2");
            assert_eq!(
                cookie(&[("cookie", h.as_str())], name),
                Err(Reason::RequestAmbiguous),
                "{name} {other}"
            );
            let p = format!("/x?{other}=1&{name}=2");
            assert_eq!(query_param(&p, name), Err(Reason::RequestAmbiguous), "{p}");
        }
        for q in [
            "/x?A=1",
            "/x?a=1&A=1",
            "/x?%41=1",
            "/x?a[]=1",
            "/x?a=1;b=2",
            "/x?b=1;a=2",
        ] {
            assert_eq!(query_param(q, "a"), Err(Reason::RequestAmbiguous), "{q}");
        }
        // Unrelated names stay unrelated.
        assert_eq!(
            query_param("/x?ab=1&a=2", "a").unwrap().as_deref(),
            Some("2")
        );
        assert_eq!(cookie(&[("cookie", "ghx=1; gh=2")], "gh"), Ok(Some("2")));
    }

    #[test]
    fn cross_site_requests() {
        let at = |h: &[(&str, &str)]| cross_site(h, "acme.gw.example.com");
        assert_eq!(at(&[]), Ok(false));
        assert_eq!(at(&[("sec-fetch-site", "same-origin")]), Ok(false));
        assert_eq!(at(&[("Sec-Fetch-Site", "none")]), Ok(false));
        for site in ["same-site", "cross-site", "", "bogus"] {
            assert_eq!(at(&[("sec-fetch-site", site)]), Ok(true), "{site}");
        }
        assert_eq!(at(&[("origin", "https://acme.gw.example.com")]), Ok(false));
        assert_eq!(
            at(&[("origin", "https://ACME.gw.example.com:443")]),
            Ok(false)
        );
        for origin in [
            "https://globex.gw.example.com",
            "https://acme.gw.example.com:8443",
            "null",
            "acme.gw.example.com",
            "ftp://acme.gw.example.com",
            "https://acme.gw.example.com.",
        ] {
            assert_eq!(at(&[("origin", origin)]), Ok(true), "{origin}");
        }
        assert_eq!(
            cross_site(&[("origin", "http://localhost:10000")], "localhost:10000"),
            Ok(false)
        );
    }

    #[test]
    fn content_encodings() {
        assert_eq!(identity_content_encoding(&[]), Ok(()));
        assert_eq!(
            identity_content_encoding(&[("Content-Encoding", "Identity")]),
            Ok(())
        );
        for coding in [
            "gzip",
            "br",
            "deflate",
            "x-gzip",
            "zstd",
            "identity, gzip",
            "",
            "gzip;q=1",
        ] {
            assert_eq!(
                identity_content_encoding(&[("content-encoding", coding)]),
                Err(Reason::UnsupportedMediaType),
                "{coding}"
            );
        }
        assert_eq!(
            identity_content_encoding(&[("content_encoding", "identity")]),
            Err(Reason::RequestAmbiguous)
        );
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
