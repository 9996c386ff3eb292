//! Reading a YAML or JSON source into its serde type, every problem a located diagnostic.

#[cfg(test)]
use std::path::Path;

use marked_yaml::{LoaderOptions, Marker, Node};
use serde::de::DeserializeOwned;

#[cfg(test)]
use super::Diagnostic;
use super::{Code, FileDiagnostics, Place};

/// Parses YAML or JSON `text` into `T`; syntax, shape, unknown-field and type errors become a
/// located diagnostic. Duplicate keys are errors. An unknown field does not hide the rest of the
/// file: it is reported, taken out, and the file is read again, so every unknown field is
/// reported (with the closest known field as a suggestion) and the caller still gets the value
/// without them, to lower and so report the file's other errors. `None` when the file cannot be
/// read into `T` at all; a caller must treat any diagnostic as failure, not only `None`.
pub fn parse_source<T: DeserializeOwned>(diags: &mut FileDiagnostics<'_>, text: &str) -> Option<T> {
    /// Each round removes one field; a file with more unknown fields than this reports only
    /// the first ones.
    const MAX_UNKNOWN_FIELDS: usize = 64;
    let options = LoaderOptions::default().error_on_duplicate_keys(true);
    let mut node = match marked_yaml::parse_yaml_with_options(0, text, options) {
        Ok(node) => node,
        Err(err) => {
            let (marker, message) = load_error(&err);
            let (line, column) = marker.map_or((0, 0), |m| (m.line(), m.column()));
            diags.at(line, column, Code::Syntax, message);
            return None;
        }
    };
    let mut unknown = 0;
    loop {
        match marked_yaml::from_node::<T>(&node) {
            Ok(value) => return Some(value),
            Err(err) => {
                use marked_yaml::spanned_serde::Error as E;
                let mark = err.start_mark();
                let (line, column) = mark.map_or((0, 0), |m| (m.line(), m.column()));
                let message = serde_message(&err);
                let inner: &E = &err;
                let E::UnknownFieldError(field, expected, _) = inner else {
                    diags.at(line, column, Code::Type, message);
                    return None;
                };
                let end_column = column + field.chars().count();
                diags
                    .place(
                        Place {
                            line,
                            column,
                            end_line: line,
                            end_column,
                        },
                        Code::UnknownField,
                        message,
                    )
                    .suggest(field, expected.iter().copied());
                unknown += 1;
                let removed = mark.is_some_and(|m| remove_key_at(&mut node, m));
                if !removed || unknown >= MAX_UNKNOWN_FIELDS {
                    return None;
                }
            }
        }
    }
}

/// Removes the mapping entry whose key starts at `mark`, anywhere in `node`.
fn remove_key_at(node: &mut Node, mark: Marker) -> bool {
    match node {
        Node::Scalar(_) => false,
        Node::Sequence(items) => items.iter_mut().any(|item| remove_key_at(item, mark)),
        Node::Mapping(map) => {
            let key = map
                .keys()
                .find(|k| k.span().start().is_some_and(|m| *m == mark))
                .cloned();
            match key {
                Some(key) => map.remove(&key).is_some(),
                None => map.values_mut().any(|value| remove_key_at(value, mark)),
            }
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
