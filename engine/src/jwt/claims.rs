//! Reading the members of a token (the payload's claims and the JOSE header's parameters).
//!
//! Every member Gatehouse reads has exactly one accepted JSON type, and the accessors below are
//! the only way to read one: a member of another type (`null` included) is
//! [`Reason::TokenMalformed`], never taken for an absent one. Absent stays `Ok(None)`, and each
//! caller decides what absence means (`issuer_unknown`, `principal_unknown`...). There is no
//! accessor that returns a raw JSON value, so a new claim cannot be read loosely by accident.
//!
//! The table of members, their types and the reasons is in `docs/security.md` ("Claims and
//! their types").

use serde_json::{Map, Value};

use crate::reason::Reason;

/// A decoded JOSE object: the token's claims, or its header. Rejects duplicate members at any
/// depth while parsing ([`super::json::object`]).
#[derive(Debug, Clone, PartialEq)]
pub struct Claims(Map<String, Value>);

impl Claims {
    pub(crate) fn new(members: Map<String, Value>) -> Claims {
        Claims(members)
    }

    /// Test hook (fuzzing): the claims of a payload, parsed as [`super::Token::parse`] parses
    /// one (strict JSON, an object, no duplicate member at any depth). `None` when refused.
    #[doc(hidden)]
    pub fn from_json(bytes: &[u8]) -> Option<Claims> {
        super::json::object(bytes).map(Claims)
    }

    /// A string member (`iss`, `sub`, `jti`, `tenant`, an identity provider's `email_claim` or
    /// `virtual_account_claim`, the header's `alg` and `kid`).
    pub fn string(&self, at: &(impl ClaimPath + ?Sized)) -> Result<Option<&str>, Reason> {
        match at.find(&self.0)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(s)),
            Some(_) => Err(Reason::TokenMalformed),
        }
    }

    /// A boolean member (`email_verified`). The string `"true"` is not a boolean.
    pub fn boolean(&self, at: &(impl ClaimPath + ?Sized)) -> Result<Option<bool>, Reason> {
        match at.find(&self.0)? {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(Reason::TokenMalformed),
        }
    }

    /// A NumericDate (`exp`, `nbf`, `iat`): an integer that fits `i64`. A float (`1.0`, `1e9`),
    /// a string or a larger integer is malformed.
    pub fn numeric_date(&self, at: &(impl ClaimPath + ?Sized)) -> Result<Option<i64>, Reason> {
        match at.find(&self.0)? {
            None => Ok(None),
            Some(value) => value.as_i64().map(Some).ok_or(Reason::TokenMalformed),
        }
    }

    /// A string or an array of strings (`aud`, an identity provider's `team_claim`). An array
    /// holding anything but strings is malformed as a whole; an empty array is an empty list.
    pub fn strings(&self, at: &(impl ClaimPath + ?Sized)) -> Result<Option<Strings<'_>>, Reason> {
        match at.find(&self.0)? {
            None => Ok(None),
            Some(Value::String(s)) => Ok(Some(Strings(List::One(s)))),
            Some(Value::Array(items)) if items.iter().all(Value::is_string) => {
                // INVARIANT: every item is a string (checked here), relied on by `iter`.
                Ok(Some(Strings(List::Many(items))))
            }
            Some(_) => Err(Reason::TokenMalformed),
        }
    }

    /// Whether a member is present at all, whatever its type (the header's `crit` and `b64`,
    /// which are refused in any form).
    pub fn has(&self, name: &str) -> bool {
        self.0.contains_key(name)
    }

    /// The token's time window read with `skew` (a negative skew counts as none). Types first: a
    /// time claim of the wrong type, or no `exp`, makes the token malformed whatever the time.
    pub fn window(&self, skew: i64) -> Result<super::Window, Reason> {
        Ok(super::Window {
            exp: self.numeric_date("exp")?.ok_or(Reason::TokenMalformed)?,
            nbf: self.numeric_date("nbf")?,
            iat: self.numeric_date("iat")?,
            skew: skew.max(0),
        })
    }

    /// The registered claims (RFC 7519 section 4.1) with the types that RFC gives them, read
    /// from every token whatever its issuer and whatever the configuration consults: `iss`,
    /// `sub` and `jti` strings, `aud` a string or an array of strings, `exp` (required), `nbf`
    /// and `iat` NumericDates. A token that gets one of them wrong is malformed, so whether a
    /// token is well formed never depends on the tenant it is sent to.
    pub fn registered(&self, skew: i64) -> Result<Registered<'_>, Reason> {
        Ok(Registered {
            issuer: self.string("iss")?,
            subject: self.string("sub")?,
            audience: self.strings("aud")?,
            id: self.string("jti")?,
            window: self.window(skew)?,
        })
    }
}

/// The registered claims of a token, each of its one accepted type (see [`Claims::registered`]).
#[derive(Debug, Clone, Copy)]
pub struct Registered<'c> {
    pub issuer: Option<&'c str>,
    pub subject: Option<&'c str>,
    pub audience: Option<Strings<'c>>,
    pub id: Option<&'c str>,
    pub window: super::Window,
}

/// A claim that is a string or an array of strings, read as a list.
#[derive(Debug, Clone, Copy)]
pub struct Strings<'c>(List<'c>);

#[derive(Debug, Clone, Copy)]
enum List<'c> {
    One(&'c str),
    /// Strings only: see [`Claims::strings`].
    Many(&'c [Value]),
}

impl<'c> Strings<'c> {
    pub fn iter(self) -> impl Iterator<Item = &'c str> {
        let (one, many) = match self.0 {
            List::One(s) => (Some(s), &[][..]),
            List::Many(items) => (None, items),
        };
        // INVARIANT (`Claims::strings`): every item is a string, so `filter_map` drops nothing.
        one.into_iter().chain(many.iter().filter_map(Value::as_str))
    }
}

/// Where a claim is: a member name (`"jti"`), or a dotted path already split (`["ext",
/// "mail"]` reaches `{"ext": {"mail": ...}}`; a name is never split on `.`).
///
/// On a path, a missing member anywhere is an absent claim; a member on the way that is
/// present but not an object (a string, `null`, an array...) is malformed: the token has the
/// member, in a shape that cannot hold the claim.
pub trait ClaimPath {
    fn find<'c>(&self, members: &'c Map<String, Value>) -> Result<Option<&'c Value>, Reason>;
}

impl ClaimPath for str {
    fn find<'c>(&self, members: &'c Map<String, Value>) -> Result<Option<&'c Value>, Reason> {
        Ok(members.get(self))
    }
}

impl ClaimPath for [String] {
    fn find<'c>(&self, members: &'c Map<String, Value>) -> Result<Option<&'c Value>, Reason> {
        // An empty path names nothing (the compiler never produces one).
        let Some((last, parents)) = self.split_last() else {
            return Ok(None);
        };
        let mut object = members;
        for name in parents {
            match object.get(name) {
                None => return Ok(None),
                Some(Value::Object(inner)) => object = inner,
                Some(_) => return Err(Reason::TokenMalformed),
            }
        }
        Ok(object.get(last))
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn claims(value: Value) -> Claims {
        match value {
            Value::Object(map) => Claims(map),
            other => panic!("not an object: {other}"),
        }
    }

    fn path(p: &[&str]) -> Vec<String> {
        p.iter().map(|s| s.to_string()).collect()
    }

    /// A value of every JSON type but the one named.
    fn wrong_types(except: &str) -> Vec<Value> {
        [
            ("null", json!(null)),
            ("bool", json!(true)),
            ("bool", json!(false)),
            ("integer", json!(5)),
            ("integer", json!(-1)),
            ("float", json!(1.5)),
            ("float", json!(1e3)),
            ("string", json!("x")),
            ("string", json!("")),
            ("array", json!([])),
            ("array", json!(["x"])),
            ("object", json!({})),
            ("object", json!({"x": "y"})),
        ]
        .into_iter()
        .filter(|(kind, _)| *kind != except)
        .map(|(_, v)| v)
        .collect()
    }

    #[test]
    fn string_members_accept_only_strings() {
        for name in [
            "iss",
            "sub",
            "jti",
            "tenant",
            "email",
            "repository",
            "alg",
            "kid",
        ] {
            let c = claims(json!({ name: "v" }));
            assert_eq!(c.string(name), Ok(Some("v")), "{name}");
            assert_eq!(claims(json!({})).string(name), Ok(None), "{name}");
            for bad in wrong_types("string") {
                assert_eq!(
                    claims(json!({ name: bad })).string(name),
                    Err(Reason::TokenMalformed),
                    "{name}: {bad}"
                );
            }
        }
    }

    #[test]
    fn booleans_accept_only_booleans() {
        let c = claims(json!({"t": true, "f": false}));
        assert_eq!(c.boolean("t"), Ok(Some(true)));
        assert_eq!(c.boolean("f"), Ok(Some(false)));
        assert_eq!(c.boolean("email_verified"), Ok(None));
        // `"true"`, `1` and `"false"` are not booleans, whatever some providers send.
        let mut bad = wrong_types("bool");
        bad.extend([json!("true"), json!("false"), json!(1), json!(0)]);
        for bad in bad {
            assert_eq!(
                claims(json!({"email_verified": bad})).boolean("email_verified"),
                Err(Reason::TokenMalformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn numeric_dates_accept_only_integers() {
        let c = claims(json!({"exp": 10, "nbf": -3, "iat": i64::MAX}));
        assert_eq!(c.numeric_date("exp"), Ok(Some(10)));
        assert_eq!(c.numeric_date("nbf"), Ok(Some(-3)));
        assert_eq!(c.numeric_date("iat"), Ok(Some(i64::MAX)));
        assert_eq!(c.numeric_date("missing"), Ok(None));
        let mut bad = wrong_types("integer");
        bad.extend([json!(u64::MAX), json!(10.0), json!("10")]);
        for name in ["exp", "nbf", "iat"] {
            for bad in &bad {
                assert_eq!(
                    claims(json!({ name: bad })).numeric_date(name),
                    Err(Reason::TokenMalformed),
                    "{name}: {bad}"
                );
            }
        }
    }

    #[test]
    fn string_lists_accept_a_string_or_an_array_of_strings() {
        let list = |v: Value| {
            claims(json!({ "aud": v }))
                .strings("aud")
                .map(|s| s.map(|s| s.iter().map(str::to_owned).collect::<Vec<_>>()))
        };
        assert_eq!(list(json!("a")), Ok(Some(vec!["a".to_owned()])));
        assert_eq!(
            list(json!(["a", "b"])),
            Ok(Some(vec!["a".to_owned(), "b".to_owned()]))
        );
        assert_eq!(list(json!([])), Ok(Some(vec![])));
        assert_eq!(
            claims(json!({})).strings("aud").map(|s| s.is_some()),
            Ok(false)
        );
        let mut bad: Vec<Value> = wrong_types("string")
            .into_iter()
            .filter(|v| !v.is_array())
            .collect();
        bad.extend([
            json!(["a", 5]),
            json!([null]),
            json!(["a", null]),
            json!([["a"]]),
            json!([{"a": "b"}]),
            json!([true]),
        ]);
        for name in ["aud", "groups"] {
            for bad in &bad {
                assert_eq!(
                    claims(json!({ name: bad }))
                        .strings(name)
                        .map(|s| s.is_some()),
                    Err(Reason::TokenMalformed),
                    "{name}: {bad}"
                );
            }
        }
    }

    #[test]
    fn dotted_paths() {
        let c = claims(json!({
            "ext": {"mail": "a@b.c", "deep": {"x": "y"}, "n": null},
            "s": "top", "ext.mail": "literal", "list": [{"mail": "a@b.c"}]
        }));
        assert_eq!(c.string(&path(&["ext", "mail"])[..]), Ok(Some("a@b.c")));
        assert_eq!(c.string(&path(&["ext", "deep", "x"])[..]), Ok(Some("y")));
        assert_eq!(c.string(&path(&["s"])[..]), Ok(Some("top")));
        // A name is never split: the member literally called `ext.mail`.
        assert_eq!(c.string("ext.mail"), Ok(Some("literal")));
        assert_eq!(c.string(&path(&["ext.mail"])[..]), Ok(Some("literal")));
        // Missing anywhere on the path: absent.
        assert_eq!(c.string(&path(&["ext", "nope"])[..]), Ok(None));
        assert_eq!(c.string(&path(&["nope", "mail"])[..]), Ok(None));
        assert_eq!(c.string(&path(&["ext", "deep", "nope", "x"])[..]), Ok(None));
        assert_eq!(c.string(&path(&[])[..]), Ok(None));
        // Present on the way but not an object: malformed.
        for p in [
            &["ext", "mail", "x"][..],
            &["s", "mail"],
            &["ext", "n", "mail"],
            &["list", "mail"],
            &["ext", "deep", "x", "y"],
        ] {
            assert_eq!(c.string(&path(p)[..]), Err(Reason::TokenMalformed), "{p:?}");
        }
        // The leaf's type decides as for a plain name.
        assert_eq!(
            c.string(&path(&["ext", "deep"])[..]),
            Err(Reason::TokenMalformed)
        );
        assert_eq!(
            c.string(&path(&["ext", "n"])[..]),
            Err(Reason::TokenMalformed)
        );
        for bad in wrong_types("object") {
            let c = claims(json!({ "profile": bad }));
            assert_eq!(
                c.string(&path(&["profile", "email"])[..]),
                Err(Reason::TokenMalformed),
                "{bad}"
            );
            assert_eq!(
                c.boolean(&path(&["profile", "verified"])[..]),
                Err(Reason::TokenMalformed),
                "{bad}"
            );
            assert_eq!(
                c.strings(&path(&["profile", "groups"])[..])
                    .map(|s| s.is_some()),
                Err(Reason::TokenMalformed),
                "{bad}"
            );
        }
    }

    #[test]
    fn registered_claims_have_their_rfc_7519_types() {
        let good = json!({
            "iss": "https://idp", "sub": "s", "aud": ["a"], "jti": "j",
            "exp": 10, "nbf": 1, "iat": 2
        });
        let c = claims(good.clone());
        let r = c.registered(5).unwrap();
        assert_eq!(
            (r.issuer, r.subject, r.id),
            (Some("https://idp"), Some("s"), Some("j"))
        );
        assert_eq!(
            r.audience.map(|a| a.iter().collect::<Vec<_>>()),
            Some(vec!["a"])
        );
        assert_eq!(
            (r.window.exp, r.window.nbf, r.window.iat, r.window.skew),
            (10, Some(1), Some(2), 5)
        );
        // Only `exp` is required.
        let c = claims(json!({"exp": 10}));
        let r = c.registered(-1).unwrap();
        assert!(r.issuer.is_none() && r.subject.is_none() && r.audience.is_none());
        assert_eq!(r.window.skew, 0);
        assert_eq!(
            claims(json!({"iss": "x"})).registered(0).err(),
            Some(Reason::TokenMalformed)
        );
        for (name, accepted) in [
            ("iss", "string"),
            ("sub", "string"),
            ("jti", "string"),
            ("aud", "list"),
            ("exp", "integer"),
            ("nbf", "integer"),
            ("iat", "integer"),
        ] {
            let kind = if accepted == "list" {
                "string"
            } else {
                accepted
            };
            for bad in wrong_types(kind) {
                if accepted == "list"
                    && bad
                        .as_array()
                        .is_some_and(|a| a.iter().all(Value::is_string))
                {
                    continue;
                }
                let mut c = good.clone();
                c[name] = bad.clone();
                assert_eq!(
                    claims(c).registered(0).err(),
                    Some(Reason::TokenMalformed),
                    "{name}: {bad}"
                );
            }
        }
        // Claims Gatehouse does not define are not looked at.
        let mut c = good;
        c["scope"] = json!(5);
        c["email_verified"] = json!("yes");
        assert!(claims(c).registered(0).is_ok());
    }

    #[test]
    fn from_json_is_the_token_parser() {
        assert!(Claims::from_json(br#"{"a":1}"#).is_some());
        assert!(Claims::from_json(br#"{"a":1,"a":2}"#).is_none());
        assert!(Claims::from_json(b"[]").is_none());
        assert!(Claims::from_json(b"null").is_none());
    }

    #[test]
    fn has_sees_any_type() {
        let c = claims(json!({"crit": null, "b64": false}));
        assert!(c.has("crit") && c.has("b64") && !c.has("kid"));
    }
}
