//! Compiler diagnostics in cedar's and rustc's style: a code, a message (lowercase, user input in
//! backticks, no trailing period), the exact span it is about, secondary labels (where a duplicate
//! was first defined), and a help line where one helps ("did you mean `model-consumer`?"). Three
//! renderings: `short` (`file:line:column: error[code]: message`, the [`Display`](fmt::Display)
//! form), `human` (a [`miette::Diagnostic`] with the source snippet, rendered by the CLI) and
//! `json` ([`Diagnostic::to_json`], one object per diagnostic for editors and CI annotations).
//!
//! A message quotes names from tenant files and a file name can come from a pull request, so the
//! printed forms show their control and bidi characters escaped ([`for_terminal`]): a CI log
//! reads a line that starts with `::error` as a workflow command, and a terminal obeys ESC.

mod parse;
mod render;
mod suggest;

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_engine::escape::for_terminal;
use marked_yaml::Span;

#[cfg(test)]
pub(crate) use parse::parse_alone;
pub use parse::parse_source;
pub use render::{named_source, Human};
pub use suggest::closest;

macro_rules! codes {
    ($( $variant:ident = $code:literal, $doc:literal; )*) => {
        /// What kind of error a diagnostic reports: a stable code for tools and docs.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
        pub enum Code {
            $( #[doc = $doc] $variant, )*
        }

        impl Code {
            pub const ALL: &'static [Code] = &[$(Code::$variant),*];

            /// `gatehouse::<kind>`.
            pub fn as_str(self) -> &'static str {
                match self { $(Code::$variant => concat!("gatehouse::", $code),)* }
            }

            pub fn description(self) -> &'static str {
                match self { $(Code::$variant => $doc,)* }
            }
        }
    };
}

codes! {
    Syntax = "syntax", "the file is not valid YAML or JSON: syntax, a duplicate key, an anchor or a tag";
    UnknownField = "unknown-field", "a field the schema does not have";
    Type = "type", "a value of the wrong type or shape, or a required field missing";
    Duplicate = "duplicate", "a name, host, issuer, key or mapping defined twice, or a built-in name defined again";
    Invalid = "invalid", "a value that is not well-formed: a name, email, host, method, timestamp, subject, permission or claim path";
    UnknownRole = "unknown-role", "a role that is neither built in nor defined by the tenant";
    UnknownSubject = "unknown-subject", "a subject naming no user, team or virtual account of the tenant";
    UnknownResource = "unknown-resource", "a resource the tenant does not define";
    UnknownResourceType = "unknown-resource-type", "a resource type that is neither built in nor defined by the tenant";
    UnknownAction = "unknown-action", "an action the resource type does not have";
    UnknownIdentityProvider = "unknown-identity-provider", "an identity provider the tenant does not define";
    UnknownAlgorithm = "unknown-algorithm", "a JWS algorithm Gatehouse does not implement";
    RoleScope = "role-scope", "a role granted where it does not apply (another resource type, or tenant-level versus collaborator)";
    Missing = "missing", "a setting that another one requires is missing";
    Conflict = "conflict", "settings that exclude each other";
    Template = "template", "a route path, capture, placeholder or resource template that cannot be filled";
    Keys = "keys", "a key set without usable keys";
    Limit = "limit", "a limit of the bundle format is exceeded";
    ResourceType = "resource-type", "a resource type whose parent, children key or actions do not fit";
}

impl fmt::Display for Code {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A place in a source file: 1-based line and column of the start, and of the end when known
/// (`end_line` 0: unknown). Line 0: unknown altogether.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Place {
    pub line: usize,
    pub column: usize,
    pub end_line: usize,
    pub end_column: usize,
}

impl Place {
    pub fn of(span: &Span) -> Place {
        let (line, column) = span.start().map_or((0, 0), |m| (m.line(), m.column()));
        let (end_line, end_column) = span.end().map_or((0, 0), |m| (m.line(), m.column()));
        Place {
            line,
            column,
            end_line,
            end_column,
        }
    }

    /// The place with its end set to the end of the YAML or JSON scalar that starts there, when
    /// the loader did not record one: a quoted string to its closing quote, a plain scalar to
    /// the next `,`, `]`, `}`, ` #` or end of line (trailing spaces and a `:` key separator
    /// excluded).
    pub fn with_token_end(self, text: &str) -> Place {
        if self.line == 0 {
            return self;
        }
        let Some(line_text) = text.lines().nth(self.line - 1) else {
            return self;
        };
        let Some((start, _)) = line_text.char_indices().nth(self.column.saturating_sub(1)) else {
            return self;
        };
        let rest = line_text.get(start..).unwrap_or("");
        let len = match rest.chars().next() {
            Some(q @ ('"' | '\'')) => {
                let mut escaped = false;
                let mut end = None;
                for (i, c) in rest.char_indices().skip(1) {
                    if q == '"' && c == '\\' && !escaped {
                        escaped = true;
                        continue;
                    }
                    if c == q && !escaped {
                        end = Some(i + c.len_utf8());
                        break;
                    }
                    escaped = false;
                }
                end.unwrap_or(rest.len())
            }
            _ => {
                let mut end = rest.len();
                for (i, c) in rest.char_indices() {
                    let comment = c == '#' && rest.get(..i).is_some_and(|b| b.ends_with(' '));
                    if matches!(c, ',' | ']' | '}') || comment {
                        end = i;
                        break;
                    }
                }
                let token = rest.get(..end).unwrap_or("").trim_end();
                token.strip_suffix(':').unwrap_or(token).len()
            }
        };
        let chars = rest.get(..len).map_or(0, |t| t.chars().count());
        Place {
            end_line: self.line,
            end_column: self.column + chars,
            ..self
        }
    }

    pub fn at(line: usize, column: usize) -> Place {
        Place {
            line,
            column,
            end_line: 0,
            end_column: 0,
        }
    }
}

/// A secondary label: another place the error is about (the first definition of a duplicate).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Label {
    /// `None`: the diagnostic's own file.
    pub file: Option<PathBuf>,
    pub place: Place,
    pub message: String,
}

/// One compile error, located in a source file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// The end of the primary span; 0 when unknown.
    pub end_line: usize,
    pub end_column: usize,
    pub code: Code,
    /// As written, names unescaped; every rendering escapes it.
    pub message: String,
    pub help: Option<String>,
    pub labels: Vec<Label>,
    /// The file's text, for the snippet of the miette rendering.
    pub source_text: Option<Arc<str>>,
}

impl Diagnostic {
    pub fn new(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        code: Code,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            column,
            end_line: 0,
            end_column: 0,
            code,
            message: message.into(),
            help: None,
            labels: Vec::new(),
            source_text: None,
        }
    }

    /// The byte offset of `line:column` in the source text, when both are known.
    fn offset_of(&self, line: usize, column: usize) -> Option<usize> {
        let text = self.source_text.as_deref()?;
        if line == 0 {
            return None;
        }
        let line_start = if line <= 1 {
            0
        } else {
            text.match_indices('\n').nth(line - 2).map(|(i, _)| i + 1)?
        };
        let rest = text.get(line_start..)?;
        let column = rest
            .char_indices()
            .nth(column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i);
        Some(line_start + column)
    }

    /// `(offset, length)` of a place in this file's text.
    fn span_of(&self, place: Place) -> Option<(usize, usize)> {
        let start = self.offset_of(place.line, place.column)?;
        let end = self
            .offset_of(place.end_line, place.end_column)
            .filter(|&end| end >= start)
            .unwrap_or(start);
        Some((start, end - start))
    }

    /// The machine-readable form: one JSON object (file, line, column, end, code, severity,
    /// message, help, labels). Values are as written; JSON escaping makes them safe.
    pub fn to_json(&self) -> serde_json::Value {
        let place = |file: &Path, p: Place| {
            serde_json::json!({
                "file": file.display().to_string(),
                "line": p.line,
                "column": p.column,
                "end_line": p.end_line,
                "end_column": p.end_column,
            })
        };
        let mut value = place(
            &self.file,
            Place {
                line: self.line,
                column: self.column,
                end_line: self.end_line,
                end_column: self.end_column,
            },
        );
        let labels: Vec<serde_json::Value> = self
            .labels
            .iter()
            .map(|l| {
                let mut v = place(l.file.as_deref().unwrap_or(&self.file), l.place);
                if let Some(obj) = v.as_object_mut() {
                    obj.insert("message".into(), l.message.clone().into());
                }
                v
            })
            .collect();
        if let Some(obj) = value.as_object_mut() {
            obj.insert("code".into(), self.code.as_str().into());
            obj.insert("severity".into(), "error".into());
            obj.insert("message".into(), self.message.clone().into());
            obj.insert(
                "help".into(),
                self.help
                    .clone()
                    .map_or(serde_json::Value::Null, Into::into),
            );
            obj.insert("labels".into(), labels.into());
        }
        value
    }
}

impl fmt::Display for Diagnostic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: error: {}",
            for_terminal(&self.file.display().to_string()),
            self.line,
            self.column,
            for_terminal(&self.message)
        )
    }
}

impl std::error::Error for Diagnostic {}

/// Collects the diagnostics of one source file.
#[derive(Debug)]
pub struct FileDiagnostics<'a> {
    pub file: &'a Path,
    pub text: Option<Arc<str>>,
    pub out: &'a mut Vec<Diagnostic>,
}

impl FileDiagnostics<'_> {
    /// Reports `message` about `span`.
    pub fn error(&mut self, span: &Span, code: Code, message: impl Into<String>) {
        self.report(span, code, message);
    }

    /// Reports `message` at `line:column` (0: unknown).
    pub fn at(&mut self, line: usize, column: usize, code: Code, message: impl Into<String>) {
        self.place(Place::at(line, column), code, message);
    }

    /// [`FileDiagnostics::error`] with help or labels to add: the diagnostic is recorded when
    /// the returned value is dropped.
    pub fn report(&mut self, span: &Span, code: Code, message: impl Into<String>) -> Pending<'_> {
        self.place(Place::of(span), code, message)
    }

    fn place(&mut self, place: Place, code: Code, message: impl Into<String>) -> Pending<'_> {
        let place = match self.text.as_deref() {
            Some(text) if place.end_line == 0 => place.with_token_end(text),
            _ => place,
        };
        let mut diagnostic = Diagnostic::new(self.file, place.line, place.column, code, message);
        diagnostic.end_line = place.end_line;
        diagnostic.end_column = place.end_column;
        diagnostic.source_text = self.text.clone();
        Pending {
            out: self.out,
            diagnostic: Some(diagnostic),
        }
    }

    pub fn count(&self) -> usize {
        self.out.len()
    }
}

/// A diagnostic being built; recorded when dropped.
#[derive(Debug)]
pub struct Pending<'d> {
    out: &'d mut Vec<Diagnostic>,
    diagnostic: Option<Diagnostic>,
}

impl Pending<'_> {
    pub fn help(mut self, help: impl Into<String>) -> Self {
        if let Some(d) = self.diagnostic.as_mut() {
            d.help = Some(help.into());
        }
        self
    }

    /// A secondary label at `span` of the same file.
    pub fn label(mut self, span: &Span, message: impl Into<String>) -> Self {
        if let Some(d) = self.diagnostic.as_mut() {
            d.labels.push(Label {
                file: None,
                place: Place::of(span),
                message: message.into(),
            });
        }
        self
    }

    /// A secondary label at a place of another file (`None`: the same file).
    pub fn label_in(
        mut self,
        file: Option<&Path>,
        place: Place,
        message: impl Into<String>,
    ) -> Self {
        if let Some(d) = self.diagnostic.as_mut() {
            d.labels.push(Label {
                file: file.map(Path::to_path_buf),
                place,
                message: message.into(),
            });
        }
        self
    }

    /// "did you mean `x`?" with the known name closest to `wanted`, if one is close enough.
    pub fn suggest<'k>(self, wanted: &str, known: impl IntoIterator<Item = &'k str>) -> Self {
        match closest(wanted, known) {
            Some(name) => self.help(format!("did you mean `{name}`?")),
            None => self,
        }
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        if let Some(d) = self.diagnostic.take() {
            self.out.push(d);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column() {
        let d = Diagnostic::new("t.yaml", 3, 7, Code::UnknownSubject, "unknown user `x`");
        assert_eq!(d.to_string(), "t.yaml:3:7: error: unknown user `x`");
    }

    #[test]
    fn display_escapes_control_and_bidi_characters() {
        let d = Diagnostic::new(
            "t\u{1b}[2J.yaml",
            1,
            2,
            Code::UnknownRole,
            "unknown role `x\n::error ::pwned\u{202e}`",
        );
        assert_eq!(
            d.to_string(),
            "t\\u{001b}[2J.yaml:1:2: error: unknown role `x\\n::error ::pwned\\u{202e}`"
        );
        // The message itself stays as written, for a machine-readable form.
        assert_eq!(d.message, "unknown role `x\n::error ::pwned\u{202e}`");
    }

    #[test]
    fn offset_from_line_and_column() {
        let mut d = Diagnostic::new("t.yaml", 2, 3, Code::Type, "m");
        d.source_text = Some(Arc::from("ab\ncdef\n"));
        assert_eq!(d.offset_of(d.line, d.column), Some(5));
    }

    #[test]
    fn syntax_error_is_located() {
        let (parsed, out) = parse_alone::<serde_json::Value>("x.yaml", "a: [1, 2\nb: c\n");
        assert!(parsed.is_none());
        assert_eq!(out.len(), 1);
        assert!(out[0].line > 0, "{}", out[0]);
        assert!(out[0].message.starts_with("invalid YAML"), "{}", out[0]);
    }

    #[test]
    fn duplicate_key_is_located() {
        let (parsed, out) = parse_alone::<serde_json::Value>("x.yaml", "a: 1\nb: 2\na: 3\n");
        assert!(parsed.is_none());
        assert_eq!((out[0].line, out[0].column), (3, 1), "{}", out[0]);
        assert_eq!(out[0].message, "duplicate key `a` (first at line 1)");
    }
}
