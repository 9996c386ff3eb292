//! SCIM filters (RFC 7644 3.4.2.2) and attribute paths (3.5.2): parsed once, then evaluated over
//! a resource's JSON. Attribute names compare case-insensitively; string values too, except for
//! the case-exact attributes (`id`, `externalId`, member references).

use serde_json::{Map, Value};

use crate::error::ScimError;

/// The core schemas: their attributes sit at the top of a resource, so a path that names them
/// (`urn:ietf:params:scim:schemas:core:2.0:User:userName`) means the bare attribute.
pub const CORE_USER: &str = "urn:ietf:params:scim:schemas:core:2.0:User";
pub const CORE_GROUP: &str = "urn:ietf:params:scim:schemas:core:2.0:Group";
/// The extension schemas this service describes: each is one object in a resource, under its
/// URN.
pub const EXTENSIONS: &[&str] = &[crate::discovery::ENTERPRISE_USER];

/// `[schema:]attr[\[filter\]][.sub]`.
#[derive(Debug, Clone, PartialEq)]
pub struct AttrPath {
    /// An extension schema the attribute lives under (its own object in the resource).
    pub schema: Option<String>,
    pub attr: String,
    /// A value filter over the elements of a multi-valued attribute (`members[value eq "x"]`).
    pub filter: Option<Box<Filter>>,
    pub sub: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Filter {
    Compare {
        path: AttrPath,
        op: Op,
        value: Value,
    },
    Present(AttrPath),
    And(Box<Filter>, Box<Filter>),
    Or(Box<Filter>, Box<Filter>),
    Not(Box<Filter>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Eq,
    Ne,
    Co,
    Sw,
    Ew,
    Gt,
    Ge,
    Lt,
    Le,
}

impl Filter {
    /// Parses a whole filter expression.
    pub fn parse(text: &str) -> Result<Filter, ScimError> {
        let tokens = tokenize(text)?;
        let mut parser = Parser { tokens, pos: 0 };
        let filter = parser.or()?;
        match parser.peek() {
            None => Ok(filter),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "unexpected {} in filter",
                t.describe()
            ))),
        }
    }

    /// Whether `resource` (or, inside a value filter, one element) matches.
    pub fn matches<A: Attributes + ?Sized>(&self, resource: &A) -> bool {
        match self {
            Filter::And(a, b) => a.matches(resource) && b.matches(resource),
            Filter::Or(a, b) => a.matches(resource) || b.matches(resource),
            Filter::Not(f) => !f.matches(resource),
            Filter::Present(path) => {
                if let (Some(_), true) = (resource.id(), path.is_plain("id")) {
                    return true;
                }
                targets(resource, path).iter().any(|v| match v {
                    Value::Null => false,
                    Value::String(s) => !s.is_empty(),
                    Value::Array(a) => !a.is_empty(),
                    Value::Object(o) => !o.is_empty(),
                    _ => true,
                })
            }
            Filter::Compare { path, op, value } => {
                let exact = path.case_exact();
                if let (Some(id), true) = (resource.id(), path.is_plain("id")) {
                    return compare(&Value::String(id.to_owned()), *op, value, exact);
                }
                let equal = |v: &&Value| compare(v, Op::Eq, value, exact);
                let values: Vec<&Value> = targets(resource, path)
                    .into_iter()
                    .map(|v| match v {
                        // A complex multi-valued attribute compares by its `value`.
                        Value::Object(_) => get_ci(v, "value").unwrap_or(v),
                        v => v,
                    })
                    .collect();
                match op {
                    Op::Ne => !values.iter().any(equal),
                    op => values.iter().any(|v| compare(v, *op, value, exact)),
                }
            }
        }
    }

    /// The `(attribute, value)` of a plain `attr eq "value"`: what a value filter that matches
    /// nothing would create (`emails[type eq "work"].value`).
    pub fn as_equality(&self) -> Option<(&str, &Value)> {
        match self {
            Filter::Compare {
                path:
                    AttrPath {
                        schema: None,
                        attr,
                        filter: None,
                        sub: None,
                    },
                op: Op::Eq,
                value,
            } => Some((attr, value)),
            _ => None,
        }
    }
}

impl AttrPath {
    /// Parses a PATCH `path`.
    pub fn parse(text: &str) -> Result<AttrPath, ScimError> {
        let tokens = tokenize(text).map_err(|e| ScimError::invalid_path(e.detail))?;
        let mut parser = Parser { tokens, pos: 0 };
        let path = parser
            .attr_path()
            .map_err(|e| ScimError::invalid_path(e.detail))?;
        match parser.peek() {
            None => Ok(path),
            Some(_) => Err(ScimError::invalid_path(format!("`{text}` is not a path"))),
        }
    }

    /// A path to a plain attribute.
    pub fn simple(attr: &str) -> AttrPath {
        AttrPath {
            schema: None,
            attr: attr.to_owned(),
            filter: None,
            sub: None,
        }
    }

    fn is_plain(&self, attr: &str) -> bool {
        self.schema.is_none()
            && self.filter.is_none()
            && self.sub.is_none()
            && self.attr.eq_ignore_ascii_case(attr)
    }

    fn case_exact(&self) -> bool {
        ["id", "externalId", "members"]
            .iter()
            .any(|a| self.attr.eq_ignore_ascii_case(a))
    }

    /// From a word: a schema URN prefix is split off at its last `:`; `a.b` is an attribute
    /// and its sub-attribute.
    fn from_word(word: &str) -> Result<AttrPath, ScimError> {
        // A schema this service knows is matched whole, so its own dots and colons (`2.0`)
        // are not read as separators, and the bare URN addresses the extension's object.
        for urn in EXTENSIONS {
            let Some(head) = word.get(..urn.len()) else {
                continue;
            };
            if !head.eq_ignore_ascii_case(urn) {
                continue;
            }
            match word.get(urn.len()..) {
                Some("") => return Ok(AttrPath::simple(urn)),
                Some(tail) if tail.starts_with(':') => {
                    let mut path = AttrPath::from_word(tail.get(1..).unwrap_or_default())?;
                    if path.schema.is_some() {
                        return Err(ScimError::invalid_filter(format!(
                            "`{word}` is not an attribute path"
                        )));
                    }
                    path.schema = Some((*urn).to_owned());
                    return Ok(path);
                }
                _ => {}
            }
        }
        let (schema, rest) = if word.len() > 4
            && word
                .get(..4)
                .is_some_and(|p| p.eq_ignore_ascii_case("urn:"))
        {
            match word.rfind(':') {
                Some(at) => {
                    let urn = word.get(..at).unwrap_or_default();
                    let rest = word.get(at + 1..).unwrap_or_default();
                    let core =
                        urn.eq_ignore_ascii_case(CORE_USER) || urn.eq_ignore_ascii_case(CORE_GROUP);
                    ((!core).then(|| urn.to_owned()), rest)
                }
                None => (None, word),
            }
        } else {
            (None, word)
        };
        let (attr, sub) = match rest.split_once('.') {
            Some((attr, sub)) => (attr, Some(sub)),
            None => (rest, None),
        };
        let valid = |name: &str| {
            !name.is_empty()
                && name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-' || c == '$')
        };
        if !valid(attr) || sub.is_some_and(|s| !valid(s)) {
            return Err(ScimError::invalid_filter(format!(
                "`{word}` is not an attribute path"
            )));
        }
        Ok(AttrPath {
            schema,
            attr: attr.to_owned(),
            filter: None,
            sub: sub.map(str::to_owned),
        })
    }
}

/// What a filter reads: a resource's attributes by name (any case), and its id when the
/// resource keeps it apart from its attributes.
pub trait Attributes {
    fn attribute(&self, name: &str) -> Option<&Value>;
    fn id(&self) -> Option<&str> {
        None
    }
}

impl Attributes for Value {
    fn attribute(&self, name: &str) -> Option<&Value> {
        get_ci(self, name)
    }
}

impl Attributes for Map<String, Value> {
    fn attribute(&self, name: &str) -> Option<&Value> {
        self.get(name).or_else(|| {
            self.iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(name))
                .map(|(_, v)| v)
        })
    }
}

/// The member of `value` (an object) named `key`, compared case-insensitively.
pub fn get_ci<'a>(value: &'a Value, key: &str) -> Option<&'a Value> {
    let map = value.as_object()?;
    map.get(key).or_else(|| {
        map.iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v)
    })
}

/// The key of `map` equal to `key` ignoring ASCII case.
pub fn key_ci(map: &Map<String, Value>, key: &str) -> Option<String> {
    if map.contains_key(key) {
        return Some(key.to_owned());
    }
    map.keys().find(|k| k.eq_ignore_ascii_case(key)).cloned()
}

/// The values `path` reaches in `resource`: the attribute's elements (those the value filter
/// keeps), or their sub-attribute.
fn targets<'a, A: Attributes + ?Sized>(resource: &'a A, path: &AttrPath) -> Vec<&'a Value> {
    let top = match &path.schema {
        Some(urn) => resource.attribute(urn).and_then(|c| get_ci(c, &path.attr)),
        None => resource.attribute(&path.attr),
    };
    let mut elements: Vec<&Value> = match top {
        None => Vec::new(),
        Some(Value::Array(items)) => items.iter().collect(),
        Some(v) => vec![v],
    };
    if let Some(filter) = &path.filter {
        elements.retain(|e| filter.matches(*e));
    }
    match &path.sub {
        None => elements,
        Some(sub) => elements
            .into_iter()
            .filter_map(|e| get_ci(e, sub))
            .flat_map(|v| match v {
                Value::Array(items) => items.iter().collect(),
                v => vec![v],
            })
            .collect(),
    }
}

fn compare(actual: &Value, op: Op, expected: &Value, exact: bool) -> bool {
    match (actual, expected) {
        (Value::String(a), Value::String(e)) => {
            let (a, e) = if exact {
                (a.clone(), e.clone())
            } else {
                (a.to_lowercase(), e.to_lowercase())
            };
            match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Co => a.contains(&e),
                Op::Sw => a.starts_with(&e),
                Op::Ew => a.ends_with(&e),
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
            }
        }
        (Value::Bool(a), Value::Bool(e)) => match op {
            Op::Eq => a == e,
            Op::Ne => a != e,
            _ => false,
        },
        (Value::Number(a), Value::Number(e)) => match (a.as_f64(), e.as_f64()) {
            (Some(a), Some(e)) => match op {
                Op::Eq => a == e,
                Op::Ne => a != e,
                Op::Gt => a > e,
                Op::Ge => a >= e,
                Op::Lt => a < e,
                Op::Le => a <= e,
                _ => false,
            },
            _ => false,
        },
        (Value::Null, Value::Null) => op == Op::Eq,
        _ => false,
    }
}

#[derive(Debug, Clone, PartialEq)]
enum Token {
    Open,
    Close,
    LBracket,
    RBracket,
    Str(String),
    Word(String),
}

impl Token {
    fn describe(&self) -> String {
        match self {
            Token::Open => "`(`".into(),
            Token::Close => "`)`".into(),
            Token::LBracket => "`[`".into(),
            Token::RBracket => "`]`".into(),
            Token::Str(s) => format!("string {s:?}"),
            Token::Word(w) => format!("`{w}`"),
        }
    }
}

fn tokenize(text: &str) -> Result<Vec<Token>, ScimError> {
    let mut tokens = Vec::new();
    let mut chars = text.char_indices().peekable();
    while let Some((start, c)) = chars.next() {
        match c {
            c if c.is_whitespace() => {}
            '(' => tokens.push(Token::Open),
            ')' => tokens.push(Token::Close),
            '[' => tokens.push(Token::LBracket),
            ']' => tokens.push(Token::RBracket),
            '"' => {
                let mut escaped = false;
                let mut end = None;
                for (i, c) in chars.by_ref() {
                    if escaped {
                        escaped = false;
                    } else if c == '\\' {
                        escaped = true;
                    } else if c == '"' {
                        end = Some(i);
                        break;
                    }
                }
                let end = end.ok_or_else(|| ScimError::invalid_filter("unterminated string"))?;
                let literal = text.get(start..=end).unwrap_or_default();
                let value: String = serde_json::from_str(literal)
                    .map_err(|_| ScimError::invalid_filter("invalid string literal"))?;
                tokens.push(Token::Str(value));
            }
            _ => {
                let mut end = start + c.len_utf8();
                while let Some(&(i, c)) = chars.peek() {
                    if c.is_whitespace() || "()[]\"".contains(c) {
                        break;
                    }
                    end = i + c.len_utf8();
                    chars.next();
                }
                tokens.push(Token::Word(
                    text.get(start..end).unwrap_or_default().to_owned(),
                ));
            }
        }
    }
    Ok(tokens)
}

struct Parser {
    tokens: Vec<Token>,
    pos: usize,
}

impl Parser {
    fn peek(&self) -> Option<&Token> {
        self.tokens.get(self.pos)
    }

    fn next(&mut self) -> Option<Token> {
        let token = self.tokens.get(self.pos).cloned();
        self.pos += 1;
        token
    }

    fn keyword(&self, word: &str) -> bool {
        matches!(self.peek(), Some(Token::Word(w)) if w.eq_ignore_ascii_case(word))
    }

    fn or(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.and()?;
        while self.keyword("or") {
            self.pos += 1;
            left = Filter::Or(Box::new(left), Box::new(self.and()?));
        }
        Ok(left)
    }

    fn and(&mut self) -> Result<Filter, ScimError> {
        let mut left = self.not()?;
        while self.keyword("and") {
            self.pos += 1;
            left = Filter::And(Box::new(left), Box::new(self.not()?));
        }
        Ok(left)
    }

    fn not(&mut self) -> Result<Filter, ScimError> {
        if self.keyword("not") {
            self.pos += 1;
            self.expect(&Token::Open)?;
            let inner = self.or()?;
            self.expect(&Token::Close)?;
            return Ok(Filter::Not(Box::new(inner)));
        }
        self.atom()
    }

    fn atom(&mut self) -> Result<Filter, ScimError> {
        if self.peek() == Some(&Token::Open) {
            self.pos += 1;
            let inner = self.or()?;
            self.expect(&Token::Close)?;
            return Ok(inner);
        }
        let path = self.attr_path()?;
        // A value path alone (`emails[type eq "work"]`): some element matches.
        let ends = matches!(self.peek(), None | Some(Token::Close | Token::RBracket))
            || self.keyword("and")
            || self.keyword("or");
        if path.filter.is_some() && path.sub.is_none() && ends {
            return Ok(Filter::Present(path));
        }
        let op = match self.next() {
            Some(Token::Word(w)) => w.to_ascii_lowercase(),
            Some(t) => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an operator, found {}",
                    t.describe()
                )))
            }
            None => return Err(ScimError::invalid_filter("expected an operator")),
        };
        let op = match op.as_str() {
            "pr" => return Ok(Filter::Present(path)),
            "eq" => Op::Eq,
            "ne" => Op::Ne,
            "co" => Op::Co,
            "sw" => Op::Sw,
            "ew" => Op::Ew,
            "gt" => Op::Gt,
            "ge" => Op::Ge,
            "lt" => Op::Lt,
            "le" => Op::Le,
            other => {
                return Err(ScimError::invalid_filter(format!(
                    "unknown operator `{other}`"
                )))
            }
        };
        let value = match self.next() {
            Some(Token::Str(s)) => Value::String(s),
            Some(Token::Word(w)) => match w.to_ascii_lowercase().as_str() {
                "true" => Value::Bool(true),
                "false" => Value::Bool(false),
                "null" => Value::Null,
                _ => serde_json::from_str::<serde_json::Number>(&w)
                    .map(Value::Number)
                    .map_err(|_| {
                        ScimError::invalid_filter(format!("`{w}` is not a value (quote strings)"))
                    })?,
            },
            _ => return Err(ScimError::invalid_filter("expected a value")),
        };
        Ok(Filter::Compare { path, op, value })
    }

    fn attr_path(&mut self) -> Result<AttrPath, ScimError> {
        let word = match self.next() {
            Some(Token::Word(w)) => w,
            Some(t) => {
                return Err(ScimError::invalid_filter(format!(
                    "expected an attribute, found {}",
                    t.describe()
                )))
            }
            None => return Err(ScimError::invalid_filter("expected an attribute")),
        };
        let mut path = AttrPath::from_word(&word)?;
        if self.peek() == Some(&Token::LBracket) {
            if path.sub.is_some() {
                return Err(ScimError::invalid_filter(format!(
                    "a value filter follows an attribute, not `{word}`"
                )));
            }
            self.pos += 1;
            let inner = self.or()?;
            self.expect(&Token::RBracket)?;
            path.filter = Some(Box::new(inner));
            if let Some(Token::Word(w)) = self.peek() {
                if let Some(sub) = w.strip_prefix('.') {
                    let sub = AttrPath::from_word(sub)?;
                    path.sub = Some(sub.attr);
                    self.pos += 1;
                }
            }
        }
        Ok(path)
    }

    fn expect(&mut self, token: &Token) -> Result<(), ScimError> {
        match self.next() {
            Some(t) if &t == token => Ok(()),
            Some(t) => Err(ScimError::invalid_filter(format!(
                "expected {}, found {}",
                token.describe(),
                t.describe()
            ))),
            None => Err(ScimError::invalid_filter(format!(
                "expected {}",
                token.describe()
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn user() -> Value {
        json!({
            "id": "u1",
            "userName": "Alice@Acme.com",
            "externalId": "00uABC",
            "displayName": "Alice Smith",
            "active": true,
            "emails": [
                {"value": "alice@acme.com", "type": "work", "primary": true},
                {"value": "alice@home.example", "type": "home"}
            ],
            "name": {"givenName": "Alice", "familyName": "Smith"},
            "members": [{"value": "m1"}],
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User": {"department": "R&D"}
        })
    }

    fn check(text: &str) -> bool {
        Filter::parse(text).unwrap().matches(&user())
    }

    #[test]
    fn equality_on_the_attributes_identity_providers_query() {
        assert!(check(r#"userName eq "alice@acme.com""#));
        assert!(check(r#"USERNAME EQ "ALICE@ACME.COM""#));
        assert!(check(r#"externalId eq "00uABC""#));
        assert!(
            !check(r#"externalId eq "00uabc""#),
            "externalId is case-exact"
        );
        assert!(check(r#"id eq "u1""#));
        assert!(!check(r#"id eq "U1""#));
        assert!(check(r#"displayName eq "alice smith""#));
        assert!(check(r#"emails.value eq "alice@home.example""#));
        assert!(check(r#"emails eq "alice@acme.com""#));
        assert!(check(r#"emails[type eq "work"].value eq "alice@acme.com""#));
        assert!(!check(
            r#"emails[type eq "home"].value eq "alice@acme.com""#
        ));
        assert!(check(r#"members eq "m1""#));
        assert!(check(r#"members.value eq "m1""#));
        assert!(check("active eq true"));
        assert!(!check("active eq false"));
        assert!(check(r#"name.familyName eq "smith""#));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:core:2.0:User:userName eq "alice@acme.com""#
        ));
        assert!(check(
            r#"urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:department eq "r&d""#
        ));
    }

    #[test]
    fn logic_and_other_operators() {
        assert!(check(r#"userName eq "alice@acme.com" and active eq true"#));
        assert!(!check(
            r#"userName eq "alice@acme.com" and active eq false"#
        ));
        assert!(check(
            r#"userName eq "x" or (displayName sw "ALICE" and userName ew "acme.com")"#
        ));
        assert!(check(r#"userName co "@acme""#));
        assert!(!check("title pr"));
        assert!(check("emails pr"));
        assert!(check(r#"not (userName eq "bob@acme.com")"#));
        assert!(check(r#"userName ne "bob@acme.com""#));
        assert!(check(r#"emails[type eq "work" and primary eq true]"#));
        assert!(!check(r#"emails[type eq "home" and primary eq true]"#));
        assert!(check(r#"userName eq "a\"b" or id eq "u1""#));
    }

    #[test]
    fn malformed_filters_are_invalid_filter_errors() {
        for text in [
            "",
            "userName",
            r#"userName eq"#,
            r#"userName zz "x""#,
            r#"userName eq "x"#,
            r#"userName eq x"#,
            r#"(userName eq "x""#,
            r#"userName eq "x" and"#,
            r#"user name eq "x""#,
            r#"emails[type eq "work" .value eq "x""#,
        ] {
            let err = Filter::parse(text).unwrap_err();
            assert_eq!(err.scim_type, Some("invalidFilter"), "{text}");
            assert_eq!(err.status, 400);
        }
    }

    #[test]
    fn paths() {
        let path = AttrPath::parse(r#"members[value eq "2819c223"]"#).unwrap();
        assert_eq!(path.attr, "members");
        assert!(path.filter.is_some());
        let path = AttrPath::parse(r#"emails[type eq "work"].value"#).unwrap();
        assert_eq!(path.sub.as_deref(), Some("value"));
        let path =
            AttrPath::parse("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager")
                .unwrap();
        assert_eq!(
            path.schema.as_deref(),
            Some("urn:ietf:params:scim:schemas:extension:enterprise:2.0:User")
        );
        assert_eq!(path.attr, "manager");
        // The extension itself, in any case: its object at the top of the resource.
        let path =
            AttrPath::parse("urn:ietf:params:scim:schemas:extension:Enterprise:2.0:User").unwrap();
        assert_eq!(
            (path.schema, path.attr.as_str()),
            (
                None,
                "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
            )
        );
        let path = AttrPath::parse(
            "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User:manager.value",
        )
        .unwrap();
        assert_eq!(
            (path.attr.as_str(), path.sub.as_deref()),
            ("manager", Some("value"))
        );
        let path = AttrPath::parse("name.familyName").unwrap();
        assert_eq!(
            (path.attr.as_str(), path.sub.as_deref()),
            ("name", Some("familyName"))
        );
        assert_eq!(
            AttrPath::parse("a b").unwrap_err().scim_type,
            Some("invalidPath")
        );
    }
}
