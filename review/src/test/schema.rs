//! The test file format (docs/analysis.md): serde types that mirror the file exactly, and
//! (feature `schema`) the JSON Schema derived from them, for `gatehouse schema tests`.

use std::collections::BTreeMap;

use serde::de::{self, Deserializer, Visitor};
use serde::Deserialize;
use serde_json::{Map, Value};

use crate::clock;

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct FileSpec {
    /// Free text, shown in reports.
    #[serde(default)]
    pub(crate) description: Option<String>,
    /// The tenant whose issuer, name and host are the defaults, and whose access is asked about.
    #[serde(default)]
    pub(crate) tenant: Option<String>,
    /// Defaults of every case.
    #[serde(default)]
    pub(crate) defaults: Defaults,
    /// Request cases: each decided as `gatehouse check` decides it.
    #[serde(default)]
    pub(crate) cases: Vec<CaseSpec>,
    /// Access cases: who may perform an action on a resource.
    #[serde(default)]
    pub(crate) access: Vec<AccessSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct Defaults {
    /// The clock of every case (RFC 3339).
    #[serde(default)]
    pub(crate) now: Option<Time>,
    /// The request host of every case.
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
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct CaseSpec {
    /// Unique in the file (request and access cases).
    pub(crate) name: Text,
    /// Why this case exists; printed with a failure.
    #[serde(default)]
    pub(crate) note: Option<String>,
    /// Overrides `defaults.key` for this case's token.
    #[serde(default)]
    pub(crate) key: Option<String>,
    /// The request, built as `gatehouse check` builds it from its flags.
    pub(crate) request: RequestSpec,
    /// Members of the `gatehouse check --json` object, compared when named (at least one).
    pub(crate) expect: ExpectSpec,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct RequestSpec {
    /// The HTTP method.
    pub(crate) method: String,
    /// The path, with the query string if any.
    pub(crate) path: String,
    /// The request host (default: `defaults.host`, else the tenant's first exact host).
    #[serde(default)]
    pub(crate) host: Option<String>,
    /// `{name: value}`, or `[[name, value], ...]` (in order, repeats allowed).
    #[serde(default)]
    pub(crate) headers: Option<Headers>,
    /// Decide for this subject (`user:<email>`, `virtualaccount:<name>`), without a token; not with `token`.
    #[serde(default, rename = "as")]
    pub(crate) as_subject: Option<String>,
    /// A token as sent (a string), or the claims of one to mint (a mapping; a claim given as null is left out).
    #[serde(default)]
    pub(crate) token: Option<TokenSpec>,
    /// A JSON value, sent as JSON.
    #[serde(default)]
    pub(crate) body: Option<Value>,
    /// Instead of `body`: the bytes as written.
    #[serde(default)]
    pub(crate) body_raw: Option<String>,
    /// No default `content-type: application/json` with a body.
    #[serde(default)]
    pub(crate) no_content_type: bool,
    /// This case's clock (RFC 3339).
    #[serde(default)]
    pub(crate) now: Option<Time>,
}

/// `{name: value}` or `[[name, value], ...]` (in order, repeats allowed).
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub(crate) enum Headers {
    Map(BTreeMap<String, Text>),
    List(Vec<(String, Text)>),
}

/// A token as sent, or the claims of one to mint.
#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(untagged)]
pub(crate) enum TokenSpec {
    Raw(String),
    Claims(Map<String, Value>),
}

/// Expected fields of the `gatehouse check --json` object; `null` is an expectation too (no
/// reason, no grant, no principal).
#[derive(Debug, Clone, Default, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[cfg_attr(feature = "schema", schemars(extend("minProperties" = 1)))]
#[serde(deny_unknown_fields)]
pub(crate) struct ExpectSpec {
    /// `allow` or `deny`.
    #[serde(default)]
    pub(crate) decision: Option<DecisionSpec>,
    /// The HTTP status: 200, 400, 401, 403, 413 or 415.
    #[serde(default)]
    pub(crate) status: Option<u16>,
    /// A reason code, or null (allowed).
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) reason: Option<Option<String>>,
    /// The tenant, or null.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) tenant: Option<Option<String>>,
    /// The principal, or null (none was resolved).
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) principal: Option<Option<String>>,
    /// The route, or null (no route matched).
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) route: Option<Option<String>>,
    /// The resource (`<type>:<path>`), or null.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) resource: Option<Option<String>>,
    /// The action, or null.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) action: Option<Option<String>>,
    /// The grant that allowed the request, or null.
    #[serde(default, deserialize_with = "present")]
    #[cfg_attr(feature = "schema", schemars(with = "Option<String>"))]
    pub(crate) grant: Option<Option<String>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(rename_all = "lowercase")]
pub(crate) enum DecisionSpec {
    Allow,
    Deny,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct AccessSpec {
    /// Unique in the file (request and access cases).
    pub(crate) name: Text,
    /// Why this case exists; printed with a failure.
    #[serde(default)]
    pub(crate) note: Option<String>,
    /// The resource and action asked about.
    pub(crate) who_can: WhoCanSpec,
    /// Subjects that must each be allowed.
    #[serde(default)]
    pub(crate) include: Vec<String>,
    /// Subjects none of which may be allowed.
    #[serde(default)]
    pub(crate) exclude: Vec<String>,
    /// This case's clock (RFC 3339).
    #[serde(default)]
    pub(crate) now: Option<Time>,
}

#[derive(Debug, Clone, Deserialize)]
#[cfg_attr(feature = "schema", derive(schemars::JsonSchema))]
#[serde(deny_unknown_fields)]
pub(crate) struct WhoCanSpec {
    /// `<type>:<path>`.
    pub(crate) resource: String,
    /// An action of the resource's type.
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

/// The JSON Schema (draft 2020-12) of a test file, keys sorted. Values are as YAML 1.2's core
/// schema types them, as the test runner reads them, so null is a value here (`reason: null`).
#[cfg(feature = "schema")]
pub fn json_schema() -> Value {
    let settings = schemars::generate::SchemaSettings::draft2020_12();
    let mut schema = settings.into_generator().into_root_schema_for::<FileSpec>();
    schema.insert("title".into(), "Gatehouse test file".into());
    gatehouse_compiler::source::schema::canonical(schema.to_value())
}

#[cfg(feature = "schema")]
mod json_schema_impls {
    use std::borrow::Cow;

    use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};

    use super::{Text, Time};

    /// What [`Time`]'s `Deserialize` takes.
    impl JsonSchema for Time {
        fn schema_name() -> Cow<'static, str> {
            "Time".into()
        }

        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "description": "An RFC 3339 time, e.g. `2026-12-01T00:00:00Z`.",
                "type": "string",
                "format": "date-time"
            })
        }
    }

    /// What [`Text`]'s `Deserialize` takes.
    impl JsonSchema for Text {
        fn schema_name() -> Cow<'static, str> {
            "Text".into()
        }

        fn json_schema(_: &mut SchemaGenerator) -> Schema {
            json_schema!({
                "description": "Text, also written as a bare number or boolean (`3`, `true`).",
                "type": ["string", "number", "boolean"]
            })
        }
    }
}
