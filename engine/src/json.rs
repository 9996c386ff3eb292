//! JSON parsing that refuses ambiguous object keys at any depth.
//!
//! Two parsers that disagree on `{"sub":"a","sub":"b"}` are a classic authorization bypass: the
//! filter must never decide on one value while the upstream reads another. Go's `encoding/json`
//! goes further and matches keys case-insensitively under Unicode simple case folding, keeping the
//! last match, so `{"model":"a","MODEL":"b"}` is the same kind of document. Gatehouse rejects
//! objects with two keys equal under folding ([`crate::fold`]) outright, in tokens and in request
//! bodies alike.

use std::borrow::Cow;

use serde::de::{self, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Value};

use crate::fold;

/// The most nested arrays and objects a document may have; deeper input is rejected.
const MAX_DEPTH: usize = 64;

/// Parse `bytes` as one JSON value, rejecting duplicate keys and trailing data.
pub fn parse_strict(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    parse(bytes, true)
}

/// Parse `bytes` as one JSON value, rejecting keys repeated exactly (keys differing in case are
/// distinct) and trailing data: for documents whose readers compare keys exactly, such as the
/// MCP responses the filter trims ([`crate::mcp::trim`]).
pub fn parse_exact_keys(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    parse(bytes, false)
}

fn parse(bytes: &[u8], fold: bool) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = StrictSeed { depth: 0, fold }.deserialize_value(&mut de)?;
    de.end()?;
    Ok(value)
}

struct StrictSeed {
    depth: usize,
    /// Keys compare under case folding (else exactly).
    fold: bool,
}

impl StrictSeed {
    fn deserialize_value<'de, D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(StrictVisitor {
            depth: self.depth,
            fold: self.fold,
        })
    }
}

impl<'de> de::DeserializeSeed<'de> for StrictSeed {
    type Value = Value;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        self.deserialize_value(d)
    }
}

struct StrictVisitor {
    depth: usize,
    fold: bool,
}

impl<'de> Visitor<'de> for StrictVisitor {
    type Value = Value;

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }
    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::from(v))
    }
    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(serde_json::Number::from_f64(v).map_or(Value::Null, Value::Number))
    }
    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }
    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }
    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let depth = self.nested::<A::Error>()?;
        let mut items = Vec::new();
        let fold = self.fold;
        while let Some(item) = seq.next_element_seed(StrictSeed { depth, fold })? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let depth = self.nested::<A::Error>()?;
        let mut out = Map::new();
        let mut keys = KeySet::new();
        // Keys borrowed from the input where they have no escapes: the duplicate check keeps
        // the borrow, the map its own copy.
        let fold = self.fold;
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let owned = key.clone().into_owned();
            let repeated = if fold {
                !keys.insert(key)
            } else {
                out.contains_key(&owned)
            };
            if repeated {
                return Err(de::Error::custom(format_args!("duplicate key `{owned}`")));
            }
            let value = map.next_value_seed(StrictSeed { depth, fold })?;
            out.insert(owned, value);
        }
        Ok(Value::Object(out))
    }
}

impl StrictVisitor {
    fn nested<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(E::custom("nested too deep"));
        }
        Ok(depth)
    }
}

/// A path of object keys to a field the caller wants from a document.
pub trait JsonPath {
    fn keys(&self) -> usize;
    fn key(&self, i: usize) -> &str;
}

impl<S: AsRef<str>> JsonPath for &[S] {
    fn keys(&self) -> usize {
        self.len()
    }
    fn key(&self, i: usize) -> &str {
        self.get(i).map_or("", AsRef::as_ref)
    }
}

/// The most paths [`extract_strict`] reads in one pass.
pub const MAX_FIELDS: usize = 8;

/// What [`extract_strict`] read: for each wanted path, the string at it (`None` when the path is
/// absent or holds anything but a string), and whether the document is an object.
#[derive(Debug, Default)]
pub struct Fields<'b> {
    pub root_is_object: bool,
    pub values: [Option<Cow<'b, str>>; MAX_FIELDS],
}

/// The same acceptance as [`parse_strict`] (serde_json's grammar, no duplicate keys at any depth,
/// at most [`MAX_DEPTH`] levels, no trailing data), without building a [`Value`]: only the strings
/// at `paths` are kept, borrowed from `bytes` unless they contain escapes. At most
/// [`MAX_FIELDS`] paths (more is an error of its own; callers fall back to [`parse_strict`]).
pub fn extract_strict<'b>(
    bytes: &'b [u8],
    paths: &[&dyn JsonPath],
) -> Result<Fields<'b>, serde_json::Error> {
    if paths.len() > MAX_FIELDS {
        return Err(de::Error::custom("too many paths"));
    }
    let mut out = Fields::default();
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let all = (1u16 << paths.len()) - 1;
    de::DeserializeSeed::deserialize(
        ScanSeed {
            depth: 0,
            matched: 0,
            mask: all,
            paths,
            out: &mut out,
        },
        &mut de,
    )?;
    de.end()?;
    Ok(out)
}

/// Keys of one object, for the duplicate check under case folding ([`fold::eq_fold`]): on the
/// stack while few, hashed by their fold beyond.
struct KeySet<'de> {
    small: [Option<Cow<'de, str>>; SMALL_OBJECT],
    len: usize,
    large: Option<std::collections::HashSet<Cow<'de, str>>>,
}

const SMALL_OBJECT: usize = 16;

/// A key as the hashed set keeps it: its case fold.
fn folded(key: Cow<'_, str>) -> Cow<'_, str> {
    match fold::fold(&key) {
        Cow::Borrowed(_) => key,
        Cow::Owned(f) => Cow::Owned(f),
    }
}

impl<'de> KeySet<'de> {
    fn new() -> Self {
        KeySet {
            small: Default::default(),
            len: 0,
            large: None,
        }
    }

    /// `false` when `key` was already there.
    fn insert(&mut self, key: Cow<'de, str>) -> bool {
        if let Some(large) = &mut self.large {
            return large.insert(folded(key));
        }
        let seen = self.small.get(..self.len).unwrap_or(&[]);
        if seen.iter().flatten().any(|k| fold::eq_fold(k, &key)) {
            return false;
        }
        if let Some(slot) = self.small.get_mut(self.len) {
            *slot = Some(key);
            self.len += 1;
        } else {
            let mut large: std::collections::HashSet<Cow<'de, str>> = self
                .small
                .iter_mut()
                .filter_map(Option::take)
                .map(folded)
                .collect();
            large.insert(folded(key));
            self.large = Some(large);
        }
        true
    }
}

/// A value at `matched` keys deep along the wanted paths in `mask`, `depth` containers deep.
struct ScanSeed<'a, 'b> {
    depth: usize,
    matched: usize,
    mask: u16,
    paths: &'a [&'a dyn JsonPath],
    out: &'a mut Fields<'b>,
}

impl<'de, 'a> de::DeserializeSeed<'de> for ScanSeed<'a, 'de> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'a, 'b> ScanSeed<'a, 'b> {
    /// Paths of the mask that end here.
    fn ending(&self) -> u16 {
        if self.mask == 0 {
            return 0;
        }
        (0..self.paths.len())
            .filter(|&i| {
                self.mask & (1 << i) != 0
                    && self.paths.get(i).is_some_and(|p| p.keys() == self.matched)
            })
            .fold(0, |m, i| m | 1 << i)
    }

    fn string(self, s: Cow<'b, str>) {
        let ends = self.ending();
        if ends == 0 {
            return;
        }
        for (i, slot) in self.out.values.iter_mut().enumerate() {
            if ends & (1 << i) != 0 {
                *slot = Some(s.clone());
            }
        }
    }

    fn nested<E: de::Error>(&self) -> Result<usize, E> {
        let depth = self.depth + 1;
        if depth > MAX_DEPTH {
            return Err(E::custom("nested too deep"));
        }
        Ok(depth)
    }
}

impl<'de, 'a> Visitor<'de> for ScanSeed<'a, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        Ok(())
    }
    fn visit_i64<E>(self, _: i64) -> Result<(), E> {
        Ok(())
    }
    fn visit_u64<E>(self, _: u64) -> Result<(), E> {
        Ok(())
    }
    fn visit_f64<E>(self, _: f64) -> Result<(), E> {
        Ok(())
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<(), E> {
        self.string(Cow::Borrowed(v));
        Ok(())
    }
    fn visit_str<E>(self, v: &str) -> Result<(), E> {
        if self.ending() != 0 {
            self.string(Cow::Owned(v.to_owned()));
        }
        Ok(())
    }
    fn visit_string<E>(self, v: String) -> Result<(), E> {
        self.string(Cow::Owned(v));
        Ok(())
    }
    fn visit_unit<E>(self) -> Result<(), E> {
        Ok(())
    }
    fn visit_none<E>(self) -> Result<(), E> {
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        let depth = self.nested::<A::Error>()?;
        // Paths only go through objects.
        while seq
            .next_element_seed(ScanSeed {
                depth,
                matched: 0,
                mask: 0,
                paths: self.paths,
                out: &mut *self.out,
            })?
            .is_some()
        {}
        Ok(())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let depth = self.nested::<A::Error>()?;
        if self.depth == 0 {
            self.out.root_is_object = true;
        }
        let mut keys = KeySet::new();
        while let Some(key) = map.next_key_seed(KeySeed)? {
            let mut mask = 0;
            for i in (0..self.paths.len()).filter(|_| self.mask != 0) {
                if self.mask & (1 << i) != 0
                    && self
                        .paths
                        .get(i)
                        .is_some_and(|p| p.keys() > self.matched && p.key(self.matched) == key)
                {
                    mask |= 1 << i;
                }
            }
            if !keys.insert(key) {
                return Err(de::Error::custom("duplicate key"));
            }
            map.next_value_seed(ScanSeed {
                depth,
                matched: self.matched + 1,
                mask,
                paths: self.paths,
                out: &mut *self.out,
            })?;
        }
        Ok(())
    }
}

/// An object key, borrowed from the input unless it has escapes.
struct KeySeed;

impl<'de> de::DeserializeSeed<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Cow<'de, str>, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Cow<'de, str>;
    fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("a string key")
    }
    fn visit_borrowed_str<E>(self, v: &'de str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Borrowed(v))
    }
    fn visit_str<E>(self, v: &str) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v.to_owned()))
    }
    fn visit_string<E>(self, v: String) -> Result<Cow<'de, str>, E> {
        Ok(Cow::Owned(v))
    }
}

/// The value at a path of object keys.
pub fn at_path<'v, S: AsRef<str>>(value: &'v Value, path: &[S]) -> Option<&'v Value> {
    path.iter()
        .try_fold(value, |v, key| v.as_object()?.get(key.as_ref()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rejects_duplicates_at_any_depth() {
        assert!(parse_strict(br#"{"a":1,"a":2}"#).is_err());
        assert!(parse_strict(br#"{"x":{"a":1,"a":2}}"#).is_err());
        assert!(parse_strict(br#"[{"a":1},{"a":2,"b":[{"c":1,"c":1}]}]"#).is_err());
        assert!(parse_strict(br#"{"a":1,"b":{"a":2}}"#).is_ok());
    }

    #[test]
    fn rejects_keys_equal_under_case_folding() {
        for doc in [
            r#"{"model":"a","MODEL":"b"}"#,
            r#"{"model":"a","Model":"b"}"#,
            r#"{"x":{"params":{"name":"a","NAME":"b"}}}"#,
            r#"{"params":{},"PARAMS":{}}"#,
            // The Kelvin sign folds onto k, the long s onto s (Go matches them both).
            "{\"key\":1,\"\u{212A}ey\":2}",
            "{\"tasks\":\"a\",\"ta\u{17F}ks\":1}",
            r#"{"key":1,"\u212aey":2}"#,
            r#"[{"a":1},{"b":2,"B":3}]"#,
        ] {
            assert!(parse_strict(doc.as_bytes()).is_err(), "{doc}");
            let wanted: [&dyn JsonPath; 1] = [&&["model"][..]];
            assert!(extract_strict(doc.as_bytes(), &wanted).is_err(), "{doc}");
        }
        // Distinct under folding: accepted.
        for doc in [
            r#"{"model":"a","models":"b"}"#,
            r#"{"a":{"model":1},"b":{"MODEL":2}}"#,
            "{\"ss\":1,\"\u{DF}\":2}",
        ] {
            assert!(parse_strict(doc.as_bytes()).is_ok(), "{doc}");
        }
        // More keys than the inline set holds: the hashed set folds too.
        let many: Vec<String> = (0..40).map(|i| format!("\"k{i}\":{i}")).collect();
        let doc = format!("{{{},\"K39\":0}}", many.join(","));
        assert!(parse_strict(doc.as_bytes()).is_err());
        let wanted: [&dyn JsonPath; 1] = [&&["k1"][..]];
        assert!(extract_strict(doc.as_bytes(), &wanted).is_err());
    }

    #[test]
    fn rejects_trailing_data_and_deep_nesting() {
        assert!(parse_strict(br#"{"a":1} x"#).is_err());
        let deep = "[".repeat(100) + &"]".repeat(100);
        assert!(parse_strict(deep.as_bytes()).is_err());
        let ok = "[".repeat(60) + &"]".repeat(60);
        assert!(parse_strict(ok.as_bytes()).is_ok());
    }

    fn check_extract(bytes: &[u8]) {
        let paths: [&[&str]; 5] = [
            &["model"],
            &["params", "name"],
            &["method"],
            &[],
            &["a", "a"],
        ];
        let wanted: Vec<&dyn JsonPath> = paths.iter().map(|p| p as &dyn JsonPath).collect();
        let strict = parse_strict(bytes);
        let fields = extract_strict(bytes, &wanted);
        assert_eq!(
            strict.is_ok(),
            fields.is_ok(),
            "acceptance differs on {:?}",
            String::from_utf8_lossy(bytes)
        );
        if let (Ok(v), Ok(f)) = (strict, fields) {
            assert_eq!(v.is_object(), f.root_is_object);
            for (i, p) in paths.iter().enumerate() {
                assert_eq!(
                    at_path(&v, p).and_then(Value::as_str),
                    f.values[i].as_deref(),
                    "path {p:?} of {:?}",
                    String::from_utf8_lossy(bytes)
                );
            }
        }
    }

    #[test]
    fn extract_agrees_with_parse_strict_on_edges() {
        let deep_ok = "[".repeat(64) + &"]".repeat(64);
        let deep_bad = "[".repeat(65) + &"]".repeat(65);
        let deep_obj = "{\"a\":".repeat(65) + "1" + &"}".repeat(65);
        let many: String = format!(
            "{{{}}}",
            (0..40)
                .map(|i| format!("\"k{i}\":{i}"))
                .collect::<Vec<_>>()
                .join(",")
        );
        let many_dup = many.replace("}", ",\"k33\":0}");
        for doc in [
            &br#"{"model":"a/b","messages":[{"role":"user"}]}"#[..],
            br#"{"model":"a\/b"}"#,
            br#"{"model":"a","mod\u0065l":"b"}"#,
            br#"{"model":1}"#,
            br#"{"params":{"name":"x"},"params":{}}"#,
            br#"{"params":{"name":"\ud83d\ude00"}}"#,
            br#"{"params":{"name":"\ud800"}}"#,
            br#"{"a":{"a":"x","a":"y"}}"#,
            br#"{"a":{"a":"x"}}"#,
            br#""just a string""#,
            br#"[{"model":"x"}]"#,
            br#"{"n":1e400}"#,
            br#"{"n":-0.0e-999,"m":18446744073709551616}"#,
            br#"{"model":"x"} "#,
            br#"{"model":"x"} {}"#,
            br#"{"model":"x",}"#,
            b"{\"model\":\"\xff\"}",
            b"{\"mo\xffdel\":\"x\"}",
            b"",
            b"  ",
            b"nul",
            deep_ok.as_bytes(),
            deep_bad.as_bytes(),
            deep_obj.as_bytes(),
            many.as_bytes(),
            many_dup.as_bytes(),
        ] {
            check_extract(doc);
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(4000))]

        #[test]
        fn extract_agrees_with_parse_strict(
            doc in "[ {}\\[\\],:\"amodelparmsnthd\\\\/u0-9e.+tfn]{0,40}"
        ) {
            check_extract(doc.as_bytes());
        }

        #[test]
        fn extract_agrees_on_generated_documents(v in json_value(4)) {
            check_extract(v.as_bytes());
        }
    }

    /// JSON text from a small vocabulary of keys, so duplicates and wanted paths are common.
    fn json_value(depth: u32) -> impl proptest::strategy::Strategy<Value = String> {
        use proptest::prelude::*;
        let key = prop_oneof![
            Just("model"),
            Just("params"),
            Just("name"),
            Just("method"),
            Just("a"),
            Just("mod\\u0065l"),
            Just("MODEL"),
            Just("Params"),
            Just("\\u212A"),
            Just("k"),
            Just("x")
        ];
        let leaf = prop_oneof![
            Just("1".to_owned()),
            Just("null".to_owned()),
            Just("true".to_owned()),
            Just("\"v\"".to_owned()),
            Just("\"e\\u00e9\\n\"".to_owned()),
            Just("-2.5e3".to_owned())
        ];
        leaf.prop_recursive(depth, 32, 5, move |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4)
                    .prop_map(|items| format!("[{}]", items.join(","))),
                proptest::collection::vec((key.clone(), inner), 0..5).prop_map(|fields| {
                    let body: Vec<String> =
                        fields.iter().map(|(k, v)| format!("\"{k}\":{v}")).collect();
                    format!("{{{}}}", body.join(","))
                }),
            ]
        })
    }

    #[test]
    fn paths() {
        let v = parse_strict(br#"{"params":{"name":"create_issue"}}"#).unwrap();
        assert_eq!(
            at_path(&v, &["params", "name"]).and_then(Value::as_str),
            Some("create_issue")
        );
        assert_eq!(at_path(&v, &["params", "nope"]), None);
    }
}
