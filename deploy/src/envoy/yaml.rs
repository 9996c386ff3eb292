//! A small YAML emitter for JSON values: block style, short scalar-only collections in flow
//! style, strings plain only when no YAML 1.1 or 1.2 reader could take them for anything else.

use std::fmt::Write as _;

use serde_json::{Map, Value};

/// How far (indent and text) a flow collection may reach; the key comes on top.
const FLOW_WIDTH: usize = 80;

/// Members in this order: what names a thing first, then the rest alphabetically.
fn ordered(map: &Map<String, Value>) -> Vec<(&String, &Value)> {
    let mut members: Vec<_> = map.iter().filter(|(k, _)| !k.starts_with('#')).collect();
    let rank = |k: &str| match k {
        "@type" => 0,
        "name" => 1,
        "stat_prefix" | "listeners" | "version_info" => 2,
        _ => 3,
    };
    members.sort_by(|(a, _), (b, _)| rank(a).cmp(&rank(b)).then(a.cmp(b)));
    members
}

fn note<'m>(map: &'m Map<String, Value>, key: &str) -> Option<&'m str> {
    map.get(&format!("#{key}")).and_then(Value::as_str)
}

/// The members of `map` at `indent`, each on its own line(s).
pub(super) fn map(out: &mut String, indent: usize, map: &Map<String, Value>) {
    for (i, (key, value)) in ordered(map).into_iter().enumerate() {
        // The first member of a sequence item shares the `- ` line.
        let pad = if i == 0 && out.ends_with("- ") {
            0
        } else {
            indent
        };
        if let Some(text) = note(map, key) {
            if pad == 0 && indent > 0 {
                // A note on the first member of an item goes above the item's `- `.
                let dash = out.len().saturating_sub(2);
                let mut comment = String::new();
                push_comment(&mut comment, indent.saturating_sub(2), text);
                out.insert_str(line_start(out, dash), &comment);
            } else {
                push_comment(out, indent, text);
            }
        }
        let _ = write!(out, "{}{}:", " ".repeat(pad), scalar_text(key));
        member(out, indent, value);
    }
}

fn line_start(out: &str, at: usize) -> usize {
    out.get(..at)
        .and_then(|head| head.rfind('\n'))
        .map_or(0, |n| n + 1)
}

/// A member's value after `key:`, at the key's `indent`.
fn member(out: &mut String, indent: usize, value: &Value) {
    match value {
        Value::Object(m) if !m.is_empty() && flow(value, indent).is_none() => {
            out.push('\n');
            map(out, indent + 2, m);
        }
        Value::Array(items) if !items.is_empty() && flow(value, indent).is_none() => {
            out.push('\n');
            seq(out, indent, items);
        }
        _ => {
            let text = flow(value, indent).unwrap_or_else(|| inline(value));
            let _ = writeln!(out, " {text}");
        }
    }
}

fn seq(out: &mut String, indent: usize, items: &[Value]) {
    for item in items {
        let _ = write!(out, "{}- ", " ".repeat(indent));
        match item {
            Value::Object(m) if !m.is_empty() && flow(item, indent).is_none() => {
                map(out, indent + 2, m);
            }
            Value::Array(inner) if !inner.is_empty() && flow(item, indent).is_none() => {
                out.push('\n');
                seq(out, indent + 2, inner);
            }
            _ => {
                let text = flow(item, indent).unwrap_or_else(|| inline(item));
                let _ = writeln!(out, "{text}");
            }
        }
    }
}

/// The flow form of a collection, when it is short, all its leaves are scalars and nothing
/// in it carries a note.
fn flow(value: &Value, indent: usize) -> Option<String> {
    let text = flow_text(value)?;
    (indent + text.len() <= FLOW_WIDTH).then_some(text)
}

fn flow_text(value: &Value) -> Option<String> {
    match value {
        Value::Object(m) if m.is_empty() => Some("{}".to_owned()),
        Value::Array(items) if items.is_empty() => Some("[]".to_owned()),
        Value::Object(m) => {
            if m.keys().any(|k| k.starts_with('#')) {
                return None;
            }
            let members = ordered(m)
                .into_iter()
                .map(|(k, v)| Some(format!("{}: {}", scalar_text(k), flow_text(v)?)))
                .collect::<Option<Vec<_>>>()?;
            Some(format!("{{ {} }}", members.join(", ")))
        }
        Value::Array(items) => {
            let items = items.iter().map(flow_text).collect::<Option<Vec<_>>>()?;
            Some(format!("[{}]", items.join(", ")))
        }
        scalar => Some(inline(scalar)),
    }
}

fn inline(value: &Value) -> String {
    match value {
        Value::String(s) => scalar_text(s),
        Value::Object(m) if m.is_empty() => "{}".to_owned(),
        Value::Array(a) if a.is_empty() => "[]".to_owned(),
        other => other.to_string(),
    }
}

/// A string as a YAML scalar: plain when that cannot be read as another type or as YAML
/// syntax, else double-quoted (JSON escapes are YAML escapes).
pub(super) fn scalar_text(s: &str) -> String {
    let plain_chars = s
        .chars()
        .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '/' | '-'));
    let first_ok = s
        .chars()
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || matches!(c, '_' | '/'));
    let reserved = matches!(
        s.to_ascii_lowercase().as_str(),
        "y" | "n" | "yes" | "no" | "on" | "off" | "true" | "false" | "null"
    );
    if plain_chars && first_ok && !reserved {
        s.to_owned()
    } else {
        Value::String(s.to_owned()).to_string()
    }
}

/// `# text`, word-wrapped to 100 columns at `indent`.
pub(super) fn push_comment(out: &mut String, indent: usize, text: &str) {
    if text.is_empty() {
        out.push_str(&" ".repeat(indent));
        out.push_str("#\n");
        return;
    }
    // Lines that start with spaces (commands) are kept as they are.
    if text.starts_with(' ') {
        let _ = writeln!(out, "{}#{text}", " ".repeat(indent));
        return;
    }
    let width = 100usize.saturating_sub(indent + 2).max(40);
    let mut line = String::new();
    for word in text.split_whitespace() {
        if !line.is_empty() && line.len() + 1 + word.len() > width {
            let _ = writeln!(out, "{}# {line}", " ".repeat(indent));
            line.clear();
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    let _ = writeln!(out, "{}# {line}", " ".repeat(indent));
}
