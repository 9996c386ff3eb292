//! The test file format (docs/analysis.md): serde types that mirror the file exactly.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock;

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSpec {
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// The tenant whose issuer, name and host are the defaults, and whose access is asked about.
    #[serde(default)]
    pub(crate) tenant: Option<String>,
    #[serde(default)]
    pub(crate) defaults: Defaults,
    #[serde(default)]
    pub(crate) cases: Vec<CaseSpec>,
    #[serde(default)]
    pub(crate) access: Vec<AccessSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    #[serde(default)]
    pub(crate) now: Option<Time>,
    #[serde(default)]
    pub(crate) host: Option<String>,
    /// Private JWK file (relative to the test file) that signs `token` claims.
    #[serde(default)]
    pub(crate) key: Option<String>,
    /// Lifetime of minted tokens: `90s`, `15m`, `1h`, `7d`.
    #[serde(default)]
    pub(crate) ttl: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseSpec {
    pub(crate) name: Text,
    #[serde(default)]
    pub(crate) note: Option<String>,
    /// Overrides `defaults.key` for this case's token.
    #[serde(default)]
    pub(crate) key: Option<String>,
    pub(crate) request: RequestSpec,
    pub(crate) expect: ExpectSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSpec {
    pub(crate) method: String,
    pub(crate) path: String,
    #[serde(default)]
    pub(crate) host: Option<String>,
    #[serde(default)]
    pub(crate) headers: Option<Headers>,
    #[serde(default, rename = "as")]
    pub(crate) as_subject: Option<String>,
    #[serde(default)]
    pub(crate) token: Option<TokenSpec>,
    #[serde(default)]
    pub(crate) body: Option<Value>,
    #[serde(default)]
    pub(crate) body_raw: Option<String>,
    #[serde(default)]
    pub(crate) no_content_type: bool,
    #[serde(default)]
    pub(crate) now: Option<Time>,
}

/// `{name: value}` or `[[name, value], ...]` (in order, repeats allowed).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum Headers {
    Map(BTreeMap<String, Text>),
    List(Vec<(String, Text)>),
}

/// A token as sent, or the claims of one to mint.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub(crate) enum TokenSpec {
    Raw(String),
    Claims(Map<String, Value>),
}

/// Expected fields of the `gatehouse check --json` object; `null` is an expectation too (no
/// reason, no grant, no principal).
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectSpec {
    #[serde(default)]
    pub(crate) decision: Option<DecisionSpec>,
    #[serde(default)]
    pub(crate) status: Option<u16>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) reason: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) tenant: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) principal: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) route: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) resource: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) action: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub(crate) grant: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum DecisionSpec {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessSpec {
    pub(crate) name: Text,
    #[serde(default)]
    pub(crate) note: Option<String>,
    pub(crate) who_can: WhoCanSpec,
    #[serde(default)]
    pub(crate) include: Vec<String>,
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    #[serde(default)]
    pub(crate) now: Option<Time>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub(crate) struct WhoCanSpec {
    pub(crate) resource: String,
    pub(crate) action: String,
}

/// An RFC 3339 time, as Unix seconds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Time(pub(crate) i64);

impl<'de> Deserialize<'de> for Time {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Time, D::Error> {
        let text = String::deserialize(d)?;
        clock::parse_time(&text)
            .map(Time)
            .map_err(|e| de::Error::custom(format!("{e:#}")))
    }
}

/// A string, also written as a bare YAML number or boolean (`x-retries: 3`, `name: 2026`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Text(pub(crate) String);

impl<'de> Deserialize<'de> for Text {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Text, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Text;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a string")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Text, E> {
                Ok(Text(v.to_owned()))
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Text, E> {
                Ok(Text(v.to_string()))
            }
        }
        d.deserialize_any(V)
    }
}

/// A member that is there, even as `null`: `Some(None)`; absent (`#[serde(default)]`): `None`.
pub(crate) fn present<'de, D, T>(d: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(d).map(Some)
}
