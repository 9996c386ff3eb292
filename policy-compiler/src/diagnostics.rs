//! Compiler diagnostics: `file:line:column: error: message`, in cedar's style (lowercase, user
//! input in backticks, no trailing period), plus a [`miette::Diagnostic`] with a source snippet.
//!
//! A message quotes names from tenant files and a file name can come from a pull request, so the
//! printed form shows their control and bidi characters escaped ([`for_terminal`]): a CI log
//! reads a line that starts with `::error` as a workflow command, and a terminal obeys ESC.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use gatehouse_engine::escape::for_terminal;
use marked_yaml::{LoaderOptions, Marker, Span};
use miette::{LabeledSpan, NamedSource, SourceCode};
use serde::de::DeserializeOwned;

/// One compile error, located in a source file. Lines and columns are 1-based; 0 when unknown.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub file: PathBuf,
    pub line: usize,
    pub column: usize,
    /// As written, names unescaped; [`Display`](fmt::Display) escapes it for a terminal.
    pub message: String,
    /// The file's text, for the snippet of the miette rendering.
    pub source_text: Option<Arc<str>>,
}

impl Diagnostic {
    pub fn new(
        file: impl Into<PathBuf>,
        line: usize,
        column: usize,
        message: impl Into<String>,
    ) -> Self {
        Diagnostic {
            file: file.into(),
            line,
            column,
            message: message.into(),
            source_text: None,
        }
    }

    /// The byte offset of `line:column` in the source text, when both are known.
    fn offset(&self) -> Option<usize> {
        let text = self.source_text.as_deref()?;
        let line_start = if self.line <= 1 {
            0
        } else {
            text.match_indices('\n')
                .nth(self.line - 2)
                .map(|(i, _)| i + 1)?
        };
        let rest = text.get(line_start..)?;
        let column = rest
            .char_indices()
            .nth(self.column.saturating_sub(1))
            .map_or(rest.len(), |(i, _)| i);
        Some(line_start + column)
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

impl miette::Diagnostic for Diagnostic {
    fn source_code(&self) -> Option<&dyn SourceCode> {
        self.source_text.as_ref().map(|_| self as &dyn SourceCode)
    }

    fn labels(&self) -> Option<Box<dyn Iterator<Item = LabeledSpan> + '_>> {
        let offset = self.offset()?;
        Some(Box::new(std::iter::once(LabeledSpan::new_with_span(
            None,
            (offset, 0),
        ))))
    }
}

/// The snippet source: the file's text under the file's name.
impl SourceCode for Diagnostic {
    fn read_span<'a>(
        &'a self,
        span: &miette::SourceSpan,
        context_lines_before: usize,
        context_lines_after: usize,
    ) -> Result<Box<dyn miette::SpanContents<'a> + 'a>, miette::MietteError> {
        let text: &'a str = self.source_text.as_deref().unwrap_or("");
        let contents = text.read_span(span, context_lines_before, context_lines_after)?;
        Ok(Box::new(miette::MietteSpanContents::new_named(
            self.file.display().to_string(),
            contents.data(),
            *contents.span(),
            contents.line(),
            contents.column(),
            contents.line_count(),
        )))
    }
}

/// Collects the diagnostics of one source file.
#[derive(Debug)]
pub struct FileDiagnostics<'a> {
    pub file: &'a Path,
    pub text: Option<Arc<str>>,
    pub out: &'a mut Vec<Diagnostic>,
}

impl FileDiagnostics<'_> {
    /// Reports `message` at the start of `span` (line 0 when the span is blank).
    pub fn error(&mut self, span: &Span, message: impl Into<String>) {
        let (line, column) = span.start().map_or((0, 0), |m| (m.line(), m.column()));
        self.at(line, column, message);
    }

    pub fn at(&mut self, line: usize, column: usize, message: impl Into<String>) {
        let mut diagnostic = Diagnostic::new(self.file, line, column, message);
        diagnostic.source_text = self.text.clone();
        self.out.push(diagnostic);
    }

    pub fn count(&self) -> usize {
        self.out.len()
    }
}

/// Parses YAML or JSON `text` into `T`; syntax, shape, unknown-field and type errors become a
/// located diagnostic. Duplicate keys are errors.
pub fn parse_source<T: DeserializeOwned>(diags: &mut FileDiagnostics<'_>, text: &str) -> Option<T> {
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let node = match marked_yaml::parse_yaml_with_options(0, text, options) {
        Ok(node) => node,
        Err(err) => {
            let (marker, message) = load_error(&err);
            let (line, column) = marker.map_or((0, 0), |m| (m.line(), m.column()));
            diags.at(line, column, message);
            return None;
        }
    };
    match marked_yaml::from_node::<T>(&node) {
        Ok(value) => Some(value),
        Err(err) => {
            let (line, column) = err.start_mark().map_or((0, 0), |m| (m.line(), m.column()));
            let message = serde_message(&err);
            diags.at(line, column, message);
            None
        }
    }
}

fn load_error(err: &marked_yaml::LoadError) -> (Option<Marker>, String) {
    use marked_yaml::LoadError as E;
    match err {
        E::TopLevelMustBeMapping(m) => (Some(*m), "the top level must be a mapping".into()),
        E::TopLevelMustBeSequence(m) => (Some(*m), "the top level must be a sequence".into()),
        E::UnexpectedAnchor(m) => (
            Some(*m),
            "YAML anchors and aliases are not supported".into(),
        ),
        E::MappingKeyMustBeScalar(m) => (Some(*m), "mapping keys must be scalars".into()),
        E::UnexpectedTag(m) => (Some(*m), "YAML tags are not supported".into()),
        E::ScanError(m, e) => (Some(*m), format!("invalid YAML: {}", e.info())),
        E::DuplicateKey(inner) => {
            let first = inner
                .prev_key
                .span()
                .start()
                .map_or(String::new(), |m| format!(" (first at line {})", m.line()));
            (
                inner.key.span().start().copied(),
                format!("duplicate key `{}`{first}", inner.key.as_str()),
            )
        }
    }
}

/// marked-yaml and serde messages, brought to the house style.
fn serde_message(err: &marked_yaml::FromNodeError) -> String {
    use marked_yaml::spanned_serde::Error as E;
    let inner: &E = err;
    let message = match inner {
        E::NotBoolean(_) => "expected `true` or `false`".to_string(),
        E::IntegerParseFailure(e, _) => format!("expected a non-negative integer: {e}"),
        E::FloatParseFailure(e, _) => format!("expected a number: {e}"),
        E::UnknownFieldError(field, expected, _) => {
            let expected: Vec<String> = expected.iter().map(|e| format!("`{e}`")).collect();
            format!(
                "unknown field `{field}`, expected one of {}",
                expected.join(", ")
            )
        }
        E::Other(message, _) => message.clone(),
    };
    let message = match err.path() {
        Some(path) if !matches!(inner, E::UnknownFieldError(..)) => format!("{path}: {message}"),
        _ => message,
    };
    lowercase_first(message.trim_end_matches('.'))
}

fn lowercase_first(s: &str) -> String {
    let mut chars = s.chars();
    match chars.next() {
        Some(c) => c.to_lowercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A [`NamedSource`] for rendering a whole file; convenience for the CLI.
pub fn named_source(file: &Path, text: &str) -> NamedSource<String> {
    NamedSource::new(file.display().to_string(), text.to_string())
}

/// [`parse_source`] into a fresh list: the value (`None`: an error) and the diagnostics.
#[cfg(test)]
pub(crate) fn parse_alone<T: DeserializeOwned>(
    file: &str,
    text: &str,
) -> (Option<T>, Vec<Diagnostic>) {
    let mut out = Vec::new();
    let mut diags = FileDiagnostics {
        file: Path::new(file),
        text: None,
        out: &mut out,
    };
    let parsed = parse_source(&mut diags, text);
    (parsed, out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_file_line_column() {
        let d = Diagnostic::new("t.yaml", 3, 7, "unknown user `x`");
        assert_eq!(d.to_string(), "t.yaml:3:7: error: unknown user `x`");
    }

    #[test]
    fn display_escapes_control_and_bidi_characters() {
        let d = Diagnostic::new(
            "t\u{1b}[2J.yaml",
            1,
            2,
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
        let mut d = Diagnostic::new("t.yaml", 2, 3, "m");
        d.source_text = Some(Arc::from("ab\ncdef\n"));
        assert_eq!(d.offset(), Some(5));
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
