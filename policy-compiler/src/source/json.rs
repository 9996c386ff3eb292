//! The fast path for `.json` tenant files (about 8x faster than the span-tracking YAML loader,
//! and without its node tree; see [`crate::compile::compile_sources`] for when it is used).
//!
//! It reads with `serde_json` into types written for marked-yaml's deserializer, with the
//! loader's semantics:
//!
//! - `Spanned<T>` (a struct with a private name that only marked-yaml's deserializer answers) is
//!   fed its inner value under a blank span.
//! - Options are always `Some` (marked-yaml: a `null` scalar is the string `null`, so JSON `null`
//!   makes the inner type fail here, and the caller falls back).
//! - Mappings read as maps (not as structs, whose derive refuses duplicates itself) refuse
//!   duplicate keys, at any depth, like the loader (`error_on_duplicate_keys`).
//! - Under `deserialize_any` (e.g. `serde_json::Value` for inline JWK Sets) scalars are strings,
//!   as marked-yaml's scalar nodes give them: `true` is `"true"`, `null` is `"null"`; numbers
//!   there are refused (their text is not recoverable exactly), so such files take the slow path.
//! - Integers are parsed from their JSON text with `str::parse`, as marked-yaml parses a plain
//!   scalar (`-0` is not a `u32` there).
//! - Only texts of printable ASCII, spaces and line breaks without any `\` escape are taken, so
//!   every string is its own bytes in both parsers.

use std::collections::HashSet;
use std::fmt;

use serde::de::value::BorrowedStrDeserializer;
use serde::de::{
    self, DeserializeOwned, DeserializeSeed, Deserializer, MapAccess, SeqAccess, Visitor,
};

/// marked-yaml's private names for `Spanned<T>` (marked-yaml 0.8 `spanned_serde`).
const SPANNED_TYPE: &str = "$___::marked_data::serde::Spanned<T>";
const SPANNED_INNER: &str = "$___::marked_data::serde::Spanned<T>::inner";

/// The fast path for `.json` tenant files: `serde_json` straight into the source types, with the
/// loader's semantics where they differ from serde_json's (see the module documentation).
/// `None` whenever the fast path cannot vouch for giving what [`parse_source`] gives: the caller
/// then parses with [`parse_source`], which also reports the error. Values parsed here carry
/// blank spans, so a caller must redo the run with [`parse_source`] if any diagnostic is to be
/// reported.
///
/// [`parse_source`]: crate::diagnostics::parse_source
pub fn parse_json_fast<T: DeserializeOwned>(text: &str) -> Option<T> {
    let plain = text
        .bytes()
        .all(|b| matches!(b, b' '..=b'[' | b']'..=b'~' | b'\n' | b'\r'));
    if !plain {
        return None;
    }
    let mut de = serde_json::Deserializer::from_str(text);
    let value = T::deserialize(Proxy { de: &mut de }).ok()?;
    de.end().ok()?;
    Some(value)
}

struct Proxy<D> {
    de: D,
}

#[derive(Clone, Copy, PartialEq)]
enum Mode {
    /// Forward as is.
    Plain,
    /// A map: refuse duplicate keys.
    Map,
    /// `deserialize_any`: scalars as strings, maps refuse duplicates.
    Any,
}

struct Wrap<V> {
    visitor: V,
    mode: Mode,
}

impl<V> Wrap<V> {
    fn plain(visitor: V) -> Self {
        Wrap {
            visitor,
            mode: Mode::Plain,
        }
    }
}

struct SeedWrap<S>(S);

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for SeedWrap<S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        self.0.deserialize(Proxy { de })
    }
}

macro_rules! forward {
    ($($method:ident)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            self.de.$method(Wrap::plain(visitor))
        }
    )*};
}

macro_rules! integer {
    ($($method:ident $visit:ident $ty:ty;)*) => {$(
        fn $method<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
            let text = self.de.deserialize_any(NumberText)?;
            let value: $ty = text.parse().map_err(de::Error::custom)?;
            visitor.$visit(value)
        }
    )*};
}

impl<'de, D: Deserializer<'de>> Deserializer<'de> for Proxy<D> {
    type Error = D::Error;

    forward! {
        deserialize_bool deserialize_char deserialize_str deserialize_string
        deserialize_bytes deserialize_byte_buf deserialize_unit deserialize_seq
        deserialize_identifier
    }

    integer! {
        deserialize_u8 visit_u8 u8; deserialize_u16 visit_u16 u16;
        deserialize_u32 visit_u32 u32; deserialize_u64 visit_u64 u64;
        deserialize_i8 visit_i8 i8; deserialize_i16 visit_i16 i16;
        deserialize_i32 visit_i32 i32; deserialize_i64 visit_i64 i64;
    }

    fn deserialize_f32<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("floats take the slow path"))
    }
    fn deserialize_f64<V: Visitor<'de>>(self, _: V) -> Result<V::Value, D::Error> {
        Err(de::Error::custom("floats take the slow path"))
    }

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_any(Wrap {
            visitor,
            mode: Mode::Any,
        })
    }
    fn deserialize_ignored_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        // Walked, not skipped: duplicate keys inside are errors too.
        self.deserialize_any(visitor)
    }
    fn deserialize_map<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        self.de.deserialize_map(Wrap {
            visitor,
            mode: Mode::Map,
        })
    }
    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, D::Error> {
        visitor.visit_some(self)
    }
    fn deserialize_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        fields: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        if name == SPANNED_TYPE {
            return visitor.visit_map(SpannedInner { value: Some(self) });
        }
        self.de
            .deserialize_struct(name, fields, Wrap::plain(visitor))
    }
    fn deserialize_newtype_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_newtype_struct(name, Wrap::plain(visitor))
    }
    fn deserialize_unit_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_unit_struct(name, Wrap::plain(visitor))
    }
    fn deserialize_tuple<V: Visitor<'de>>(
        self,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de.deserialize_tuple(len, Wrap::plain(visitor))
    }
    fn deserialize_tuple_struct<V: Visitor<'de>>(
        self,
        name: &'static str,
        len: usize,
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        self.de
            .deserialize_tuple_struct(name, len, Wrap::plain(visitor))
    }
    fn deserialize_enum<V: Visitor<'de>>(
        self,
        name: &'static str,
        variants: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, D::Error> {
        // Unit variants only in the source types: a variant with data would reach its
        // contents without the proxy, so refuse it (the slow path decides).
        self.de.deserialize_enum(name, variants, UnitEnum(visitor))
    }
}

/// The one entry `Spanned<T>`'s visitor expects: the inner value, no span.
struct SpannedInner<D> {
    value: Option<Proxy<D>>,
}

impl<'de, D: Deserializer<'de>> MapAccess<'de> for SpannedInner<D> {
    type Error = D::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, D::Error> {
        if self.value.is_none() {
            return Ok(None);
        }
        seed.deserialize(BorrowedStrDeserializer::new(SPANNED_INNER))
            .map(Some)
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, D::Error> {
        match self.value.take() {
            Some(value) => seed.deserialize(value),
            None => Err(de::Error::custom("no value")),
        }
    }
}

/// A JSON number's text (serde_json gives it as a string only through `RawValue`; here the
/// number is re-rendered, which is exact for integers without exponent or fraction: those
/// with one are refused).
struct NumberText;

impl<'de> Visitor<'de> for NumberText {
    type Value = String;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an integer")
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<String, E> {
        Ok(v.to_string())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<String, E> {
        Ok(v.to_string())
    }
}

struct UnitEnum<V>(V);

impl<'de, V: Visitor<'de>> Visitor<'de> for UnitEnum<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.expecting(f)
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.0.visit_enum(UnitEnumAccess(data))
    }
}

struct UnitEnumAccess<A>(A);

impl<'de, A: de::EnumAccess<'de>> de::EnumAccess<'de> for UnitEnumAccess<A> {
    type Error = A::Error;
    type Variant = UnitVariant<A::Variant>;
    fn variant_seed<S: DeserializeSeed<'de>>(
        self,
        seed: S,
    ) -> Result<(S::Value, Self::Variant), A::Error> {
        let (value, variant) = self.0.variant_seed(seed)?;
        Ok((value, UnitVariant(variant)))
    }
}

struct UnitVariant<A>(A);

impl<'de, A: de::VariantAccess<'de>> de::VariantAccess<'de> for UnitVariant<A> {
    type Error = A::Error;
    fn unit_variant(self) -> Result<(), A::Error> {
        self.0.unit_variant()
    }
    fn newtype_variant_seed<S: DeserializeSeed<'de>>(self, _: S) -> Result<S::Value, A::Error> {
        Err(de::Error::custom("variants with data take the slow path"))
    }
    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("variants with data take the slow path"))
    }
    fn struct_variant<V: Visitor<'de>>(
        self,
        _: &'static [&'static str],
        _: V,
    ) -> Result<V::Value, A::Error> {
        Err(de::Error::custom("variants with data take the slow path"))
    }
}

impl<'de, V: Visitor<'de>> Visitor<'de> for Wrap<V> {
    type Value = V::Value;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.visitor.expecting(f)
    }
    fn visit_bool<E: de::Error>(self, v: bool) -> Result<V::Value, E> {
        match self.mode {
            Mode::Any => self.visitor.visit_str(if v { "true" } else { "false" }),
            _ => self.visitor.visit_bool(v),
        }
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<V::Value, E> {
        match self.mode {
            Mode::Any => Err(E::custom("numbers here take the slow path")),
            _ => self.visitor.visit_i64(v),
        }
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<V::Value, E> {
        match self.mode {
            Mode::Any => Err(E::custom("numbers here take the slow path")),
            _ => self.visitor.visit_u64(v),
        }
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<V::Value, E> {
        Err(E::custom("floats take the slow path"))
    }
    fn visit_str<E: de::Error>(self, v: &str) -> Result<V::Value, E> {
        self.visitor.visit_str(v)
    }
    fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<V::Value, E> {
        self.visitor.visit_borrowed_str(v)
    }
    fn visit_string<E: de::Error>(self, v: String) -> Result<V::Value, E> {
        self.visitor.visit_string(v)
    }
    fn visit_unit<E: de::Error>(self) -> Result<V::Value, E> {
        match self.mode {
            Mode::Any => self.visitor.visit_str("null"),
            _ => self.visitor.visit_unit(),
        }
    }
    fn visit_none<E: de::Error>(self) -> Result<V::Value, E> {
        Err(E::custom("null takes the slow path"))
    }
    fn visit_some<D2: Deserializer<'de>>(self, de: D2) -> Result<V::Value, D2::Error> {
        self.visitor.visit_some(Proxy { de })
    }
    fn visit_newtype_struct<D2: Deserializer<'de>>(self, de: D2) -> Result<V::Value, D2::Error> {
        self.visitor.visit_newtype_struct(Proxy { de })
    }
    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_seq(SeqWrap(seq))
    }
    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<V::Value, A::Error> {
        let seen = (self.mode != Mode::Plain).then(HashSet::new);
        self.visitor.visit_map(MapWrap { map, seen })
    }
    fn visit_enum<A: de::EnumAccess<'de>>(self, data: A) -> Result<V::Value, A::Error> {
        self.visitor.visit_enum(UnitEnumAccess(data))
    }
}

struct SeqWrap<A>(A);

impl<'de, A: SeqAccess<'de>> SeqAccess<'de> for SeqWrap<A> {
    type Error = A::Error;
    fn next_element_seed<S: DeserializeSeed<'de>>(
        &mut self,
        seed: S,
    ) -> Result<Option<S::Value>, A::Error> {
        self.0.next_element_seed(SeedWrap(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.0.size_hint()
    }
}

struct MapWrap<'de, A> {
    map: A,
    /// `Some`: keys seen so far, to refuse a duplicate.
    seen: Option<HashSet<&'de str>>,
}

/// A key of a map that refuses duplicates: read as a borrowed string (the text has no
/// escapes), recorded, then handed to the key's own type.
struct KeySeed<'a, 'de, S> {
    seed: S,
    seen: &'a mut HashSet<&'de str>,
}

impl<'de, S: DeserializeSeed<'de>> DeserializeSeed<'de> for KeySeed<'_, 'de, S> {
    type Value = S::Value;
    fn deserialize<D: Deserializer<'de>>(self, de: D) -> Result<S::Value, D::Error> {
        let key: &'de str = serde::Deserialize::deserialize(de)?;
        if !self.seen.insert(key) {
            return Err(de::Error::custom(format!("duplicate key `{key}`")));
        }
        let key = BorrowedStrDeserializer::<D::Error>::new(key);
        self.seed.deserialize(Proxy { de: key })
    }
}

impl<'de, A: MapAccess<'de>> MapAccess<'de> for MapWrap<'de, A> {
    type Error = A::Error;
    fn next_key_seed<K: DeserializeSeed<'de>>(
        &mut self,
        seed: K,
    ) -> Result<Option<K::Value>, A::Error> {
        match &mut self.seen {
            Some(seen) => self.map.next_key_seed(KeySeed { seed, seen }),
            None => self.map.next_key_seed(SeedWrap(seed)),
        }
    }
    fn next_value_seed<S: DeserializeSeed<'de>>(&mut self, seed: S) -> Result<S::Value, A::Error> {
        self.map.next_value_seed(SeedWrap(seed))
    }
    fn size_hint(&self) -> Option<usize> {
        self.map.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::diagnostics::parse_alone;

    /// What the YAML loader makes of `text` (`None`: an error).
    fn slow<T: DeserializeOwned>(text: &str) -> Option<T> {
        parse_alone("x.json", text).0
    }

    #[test]
    fn json_fast_path_gives_the_loaders_values_or_declines() {
        use crate::source::TenantFile;
        let tenant = |extra: &str| {
            format!(
                r#"{{"tenant":{{"name":"t","issuer":"https://i"{extra}}},"users":[{{"email":"a@t.com","active":false}}]}}"#
            )
        };
        // Taken, and equal to the loader's result.
        for text in [
            r#"{"a":"b","c":[true,false,null],"d":{"e":"f"}}"#,
            "{\n  \"a\": [ \"b\" ,\r\n \"c\"]\n}",
        ] {
            let fast: Option<serde_json::Value> = parse_json_fast(text);
            assert!(fast.is_some(), "{text}");
            assert_eq!(fast, slow(text), "{text}");
        }
        for extra in ["", r#","clock_skew_seconds":30"#, r#","hosts":["a","b"]"#] {
            let text = tenant(extra);
            let fast: Option<TenantFile> = parse_json_fast(&text);
            assert!(fast.is_some(), "{text}");
            assert!(slow::<TenantFile>(&text).is_some(), "{text}");
        }
        // Declined: the loader disagrees with serde_json there, or reports an error.
        for text in [
            r#"{"a":1}"#, // a number under `Value`: text not kept
            r#"{"a":1.5}"#,
            r#"{"a":"b","a":"c"}"#, // duplicate key
            r#"{"a":{"b":"c","b":"d"}}"#,
            r#"{"a":"\u00e9"}"#,  // escapes
            "{\"a\":\"\u{e9}\"}", // non-ASCII
            "{\"a\":\t\"b\"}",    // tab
            r#"{"a":"b"} x"#,     // trailing data
        ] {
            let fast: Option<serde_json::Value> = parse_json_fast(text);
            assert!(fast.is_none(), "{text}");
        }
        for extra in [
            r#","jwks_file":null"#,        // the loader reads `null` as a string
            r#","clock_skew_seconds":-0"#, // the loader refuses `-0` as a u32
            r#","clock_skew_seconds":3e1"#,
            r#","clock_skew_seconds":"30""#,
            r#","name":"u""#, // duplicate field
            r#","jwks":{"keys":[{"e":65537}]}"#,
            r#","jwks":{"keys":[],"keys":[]}"#,
        ] {
            let text = tenant(extra);
            let fast: Option<TenantFile> = parse_json_fast(&text);
            assert!(fast.is_none(), "{text}");
        }
        // Resources: maps read as maps refuse duplicate keys at any depth.
        let resources = |r: &str| {
            format!(r#"{{"tenant":{{"name":"t","issuer":"https://i"}},"resources":[{r}]}}"#)
        };
        let ok = resources(r#"{"name":"p","type":"provider-account","models":[{"name":"m"}]}"#);
        assert!(parse_json_fast::<TenantFile>(&ok).is_some());
        for r in [
            r#"{"name":"p","type":"provider-account","name":"q"}"#,
            r#"{"name":"p","type":"provider-account","models":[{"name":"m","name":"n"}]}"#,
            r#"{"name":"p","type":"provider-account","other":{"x":"1","x":"2"}}"#,
        ] {
            let text = resources(r);
            assert!(parse_json_fast::<TenantFile>(&text).is_none(), "{r}");
            assert!(slow::<TenantFile>(&text).is_none(), "{r}");
        }
    }
}
