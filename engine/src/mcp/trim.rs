//! `tools/list` responses trimmed to the tools a caller may call.
//!
//! A Streamable HTTP server answers a POST with `application/json` (one JSON-RPC message) or
//! `text/event-stream` (events whose `data` are JSON-RPC messages, possibly with notifications
//! and requests of its own before the response). Every message with a `result` that has `tools`
//! keeps only the tools `keep` admits, by `name`; everything else passes unchanged. Anything that
//! cannot be read exactly one way is an error, and the caller replaces the whole response with a
//! JSON-RPC error ([`refused`]): an untrimmed list never reaches the client.
//!
//! Objects with two equal keys are refused at any depth (the client's parser would keep the last
//! one while a trimmer kept the first). Keys that differ only in case are not: the readers here
//! are MCP clients, which compare keys exactly, and tool input schemas may well name `id` and
//! `ID`.
//!
//! What is kept is kept byte for byte: the trimmer copies every member and every kept tool as the
//! server wrote it (numbers included, which a parse to `f64` and back would change) and rewrites
//! only the arrays and objects it removes tools from (compactly, keys in their order).

use std::borrow::Cow;

use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;

use super::trim_failed_body;

/// How a response body is framed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// `application/json` (or `application/*+json`): one JSON-RPC message (or a batch).
    Json,
    /// `text/event-stream`: server-sent events whose `data` are JSON-RPC messages.
    EventStream,
}

/// The framing a `Content-Type` announces; `None` for anything the trimmer cannot read.
pub fn kind(content_type: &str) -> Option<Kind> {
    let media = content_type
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    if media == "text/event-stream" {
        return Some(Kind::EventStream);
    }
    let (top, sub) = media.split_once('/')?;
    (top == "application" && (sub == "json" || sub.ends_with("+json"))).then_some(Kind::Json)
}

/// A trimmed body and what trimming did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trimmed {
    pub body: Vec<u8>,
    /// Tools the upstream listed.
    pub listed: usize,
    /// Tools left in the list.
    pub kept: usize,
}

/// Why a response could not be trimmed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrimError {
    /// Not UTF-8 (an event stream), not one JSON value, or an object with a repeated key.
    NotJson,
    /// A message that is not a JSON object (or a batch of them).
    NotMessage,
    /// `result.tools` is not an array of objects each with a string `name`.
    BadTools,
    /// An event stream's `data` that is not JSON.
    BadEvent,
    /// Larger than the route's `max_bytes`.
    TooLarge,
    /// The response's `Content-Type` is neither JSON nor an event stream.
    NotMcp,
    /// The response is compressed (`Content-Encoding` other than `identity`).
    Encoded,
}

impl TrimError {
    /// Shown to the client in the replacing JSON-RPC error, and logged.
    pub fn as_str(self) -> &'static str {
        match self {
            TrimError::NotJson => "the body is not one JSON value with distinct keys",
            TrimError::NotMessage => "a message is not a JSON-RPC object",
            TrimError::BadTools => "`result.tools` is not a list of named tools",
            TrimError::BadEvent => "an event's data is not JSON",
            TrimError::TooLarge => "the body is larger than the route's tools_list.max_bytes",
            TrimError::NotMcp => "the content type is neither JSON nor an event stream",
            TrimError::Encoded => "the body is compressed",
        }
    }
}

/// Trims every `tools/list` result in `body` to the tools `keep` admits.
pub fn trim(
    kind: Kind,
    body: &[u8],
    keep: &mut dyn FnMut(&str) -> bool,
) -> Result<Trimmed, TrimError> {
    let mut counts = Counts::default();
    let body = match kind {
        Kind::Json => {
            let text = std::str::from_utf8(body).map_err(|_| TrimError::NotJson)?;
            trim_message(text, keep, &mut counts)
                .map_err(|e| match e {
                    TrimError::BadEvent => TrimError::NotJson,
                    other => other,
                })?
                .into_owned()
                .into_bytes()
        }
        Kind::EventStream => trim_events(body, keep, &mut counts)?,
    };
    Ok(Trimmed {
        body,
        listed: counts.listed,
        kept: counts.kept,
    })
}

/// The body that replaces a response the filter cannot trim: a JSON-RPC error answering the
/// request `id` (its JSON text), framed as the response was (an event stream stays one, so a
/// client reading events reads it).
pub fn refused(kind: Kind, id: Option<&str>, why: TrimError) -> Vec<u8> {
    let message = trim_failed_body(id, why.as_str());
    match kind {
        Kind::Json => message.into_bytes(),
        Kind::EventStream => format!("event: message\ndata: {message}\n\n").into_bytes(),
    }
}

#[derive(Debug, Default)]
struct Counts {
    listed: usize,
    kept: usize,
}

/// One JSON-RPC message, or a batch of them, as text: checked whole first (one JSON value,
/// no repeated key at any depth, nesting bounded), then rewritten where tools are removed.
/// [`TrimError::BadEvent`] stands for "not JSON" (the caller says where it came from).
fn trim_message<'t>(
    text: &'t str,
    keep: &mut dyn FnMut(&str) -> bool,
    counts: &mut Counts,
) -> Result<Cow<'t, str>, TrimError> {
    crate::json::parse_exact_keys(text.as_bytes()).map_err(|_| TrimError::BadEvent)?;
    match text.trim_start().as_bytes().first() {
        Some(b'[') => {
            let batch: Vec<&RawValue> =
                serde_json::from_str(text).map_err(|_| TrimError::BadEvent)?;
            let mut out = String::with_capacity(text.len());
            out.push('[');
            for (i, item) in batch.iter().enumerate() {
                if !starts_with(item, b'{') {
                    return Err(TrimError::NotMessage);
                }
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&trim_object(item.get(), keep, counts)?);
            }
            out.push(']');
            Ok(Cow::Owned(out))
        }
        Some(b'{') => trim_object(text, keep, counts),
        _ => Err(TrimError::NotMessage),
    }
}

/// One message: its `result.tools`, if it has one, keeps the tools `keep` admits.
fn trim_object<'t>(
    text: &'t str,
    keep: &mut dyn FnMut(&str) -> bool,
    counts: &mut Counts,
) -> Result<Cow<'t, str>, TrimError> {
    let message = members(text).map_err(|_| TrimError::NotMessage)?;
    let Some(result) = member(&message, "result").filter(|r| starts_with(r, b'{')) else {
        return Ok(Cow::Borrowed(text));
    };
    let result_members = members(result.get()).map_err(|_| TrimError::NotMessage)?;
    let Some(tools) = member(&result_members, "tools") else {
        return Ok(Cow::Borrowed(text));
    };
    let tools: Vec<&RawValue> =
        serde_json::from_str(tools.get()).map_err(|_| TrimError::BadTools)?;
    let mut kept = String::with_capacity(text.len());
    kept.push('[');
    for tool in tools {
        counts.listed += 1;
        let fields = members(tool.get()).map_err(|_| TrimError::BadTools)?;
        let name: String = member(&fields, "name")
            .and_then(|n| serde_json::from_str(n.get()).ok())
            .ok_or(TrimError::BadTools)?;
        if keep(&name) {
            counts.kept += 1;
            if kept.len() > 1 {
                kept.push(',');
            }
            kept.push_str(tool.get());
        }
    }
    kept.push(']');
    let result = object_with(&result_members, "tools", &kept)?;
    Ok(Cow::Owned(object_with(&message, "result", &result)?))
}

/// An object's members in order, each value as written.
struct Members<'t>(Vec<(String, &'t RawValue)>);

impl<'de> Deserialize<'de> for Members<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Each;
        impl<'de> Visitor<'de> for Each {
            type Value = Members<'de>;
            fn expecting(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Members<'de>, A::Error> {
                let mut out = Vec::new();
                while let Some(entry) = map.next_entry::<String, &'de RawValue>()? {
                    out.push(entry);
                }
                Ok(Members(out))
            }
        }
        d.deserialize_map(Each)
    }
}

fn members(text: &str) -> Result<Members<'_>, serde_json::Error> {
    serde_json::from_str(text)
}

fn member<'t>(object: &Members<'t>, name: &str) -> Option<&'t RawValue> {
    object.0.iter().find(|(k, _)| k == name).map(|(_, v)| *v)
}

fn starts_with(value: &RawValue, byte: u8) -> bool {
    value.get().trim_start().as_bytes().first() == Some(&byte)
}

/// `object` written back compactly, `name`'s value replaced by `value`.
fn object_with(object: &Members<'_>, name: &str, value: &str) -> Result<String, TrimError> {
    let mut out = String::with_capacity(value.len() + 64);
    out.push('{');
    for (i, (key, raw)) in object.0.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push_str(&serde_json::to_string(key).map_err(|_| TrimError::NotMessage)?);
        out.push(':');
        out.push_str(if key == name { value } else { raw.get() });
    }
    out.push('}');
    Ok(out)
}

/// Server-sent events (the WHATWG HTML event-stream format): lines end in CRLF, LF or CR; a
/// blank line ends an event; `data` lines join with `\n`; a line starting with `:` is a comment.
/// Events without data, and events whose data is empty (the priming event a server sends to set
/// an id), pass as they were; every other event's data must be a JSON-RPC message and is written
/// back as one `data:` line where the first one was. Lines end in LF on the way out.
fn trim_events(
    body: &[u8],
    keep: &mut dyn FnMut(&str) -> bool,
    counts: &mut Counts,
) -> Result<Vec<u8>, TrimError> {
    let text = std::str::from_utf8(body).map_err(|_| TrimError::NotJson)?;
    let mut out = String::with_capacity(text.len() + 3);
    let bom = text.starts_with('\u{feff}');
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut event: Vec<&str> = Vec::new();
    let mut lines = Lines(text);
    loop {
        let line = lines.next();
        match line {
            Some(line) if !line.is_empty() => event.push(line),
            _ => {
                if !event.is_empty() {
                    write_event(&event, keep, counts, &mut out)?;
                    event.clear();
                }
                if line.is_none() {
                    break;
                }
            }
        }
    }
    // A reader ignores one leading byte-order mark. The output starts with one when the input
    // did, and when its first line starts with one (the input's second mark, or one after
    // blank lines the output drops): otherwise the client would ignore that line's mark, and a
    // line the trimmer read as the field `\u{feff}data`, no data, would reach it as `data`.
    if bom || out.starts_with('\u{feff}') {
        out.insert(0, '\u{feff}');
    }
    Ok(out.into_bytes())
}

fn write_event(
    event: &[&str],
    keep: &mut dyn FnMut(&str) -> bool,
    counts: &mut Counts,
    out: &mut String,
) -> Result<(), TrimError> {
    let mut data: Option<String> = None;
    for line in event {
        let (field, value) = field(line);
        if field == "data" {
            match &mut data {
                Some(d) => {
                    d.push('\n');
                    d.push_str(value);
                }
                None => data = Some(value.to_owned()),
            }
        }
    }
    let data = match data {
        Some(d) if !d.trim().is_empty() => d,
        _ => {
            for line in event {
                out.push_str(line);
                out.push('\n');
            }
            out.push('\n');
            return Ok(());
        }
    };
    let message = trim_message(&data, keep, counts)?;
    let mut written = false;
    for line in event {
        if field(line).0 == "data" {
            if !written {
                // Kept text may span lines (the data did): one `data:` line each, which a
                // reader joins back with `\n`.
                for part in message.split('\n') {
                    out.push_str("data: ");
                    out.push_str(part);
                    out.push('\n');
                }
                written = true;
            }
        } else {
            out.push_str(line);
            out.push('\n');
        }
    }
    out.push('\n');
    Ok(())
}

/// A line's field name and value: the value after the first `:`, less one leading space; a
/// line without `:` is a field with an empty value; a comment (`:...`) has the empty name.
fn field(line: &str) -> (&str, &str) {
    match line.split_once(':') {
        Some((name, value)) => (name, value.strip_prefix(' ').unwrap_or(value)),
        None => (line, ""),
    }
}

/// Lines of an event stream: each ends at CRLF, LF or CR.
struct Lines<'a>(&'a str);

impl<'a> Iterator for Lines<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        if self.0.is_empty() {
            return None;
        }
        let Some(end) = self.0.find(['\r', '\n']) else {
            let line = self.0;
            self.0 = "";
            return Some(line);
        };
        let line = self.0.get(..end).unwrap_or_default();
        let rest = self.0.get(end..).unwrap_or_default();
        self.0 = rest
            .strip_prefix("\r\n")
            .or_else(|| rest.strip_prefix('\r'))
            .or_else(|| rest.strip_prefix('\n'))
            .unwrap_or_default();
        Some(line)
    }
}
