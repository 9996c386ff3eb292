//! Text forms: RFC 3339 times, the credentials file in JSON or YAML, and the ways a new key is
//! handed over (plain, env, JSON, Kubernetes Secret).

use gatehouse_compiler::source::{CredentialSpec, CredentialsFile};
use serde_json::json;

use super::Issued;

pub use gatehouse_compiler::time::format_time;

/// How a credentials file is written: by its extension.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileFormat {
    Json,
    Yaml,
}

impl FileFormat {
    pub fn of(path: &std::path::Path) -> FileFormat {
        match path.extension().and_then(|e| e.to_str()) {
            Some("yaml" | "yml") => FileFormat::Yaml,
            _ => FileFormat::Json,
        }
    }
}

/// The text of a credentials file: keys sorted by id, JSON pretty-printed with two spaces or
/// block YAML with every value double-quoted; a trailing newline. The same file always gives the
/// same bytes.
pub fn render_file(file: &CredentialsFile, format: FileFormat) -> String {
    let mut file = file.clone();
    file.keys.sort_by(|a, b| a.id.as_str().cmp(b.id.as_str()));
    match format {
        FileFormat::Json => {
            let mut text = serde_json::to_string_pretty(&file).unwrap_or_default();
            text.push('\n');
            text
        }
        FileFormat::Yaml => render_yaml(&file),
    }
}

fn render_yaml(file: &CredentialsFile) -> String {
    let mut out = String::from("credentials:\n");
    field(&mut out, "  ", "tenant", file.credentials.tenant.as_str());
    if let Some(note) = &file.credentials.note {
        field(&mut out, "  ", "note", note);
    }
    if file.keys.is_empty() {
        out.push_str("keys: []\n");
        return out;
    }
    out.push_str("keys:\n");
    for key in &file.keys {
        yaml_key(&mut out, key);
    }
    out
}

fn yaml_key(out: &mut String, key: &CredentialSpec) {
    out.push_str("  - ");
    out.push_str(&format!("id: {}\n", quote(key.id.as_str())));
    let pad = "    ";
    field(out, pad, "sha256", key.sha256.as_str());
    field(out, pad, "principal", key.principal.as_str());
    if !key.scopes.is_empty() {
        out.push_str(pad);
        out.push_str("scopes:\n");
        for scope in &key.scopes {
            out.push_str(&format!("{pad}  - {}\n", quote(scope.as_str())));
        }
    }
    if let Some(description) = &key.description {
        field(out, pad, "description", description);
    }
    field(out, pad, "created", key.created.as_str());
    let optional = [
        ("expires", key.expires.as_ref().map(|s| s.as_str())),
        ("revoked", key.revoked.as_ref().map(|s| s.as_str())),
        ("replaces", key.replaces.as_deref()),
        ("replaced_by", key.replaced_by.as_deref()),
    ];
    for (name, value) in optional {
        if let Some(value) = value {
            field(out, pad, name, value);
        }
    }
}

fn field(out: &mut String, pad: &str, name: &str, value: &str) {
    out.push_str(&format!("{pad}{name}: {}\n", quote(value)));
}

/// `text` as a YAML double-quoted scalar (also a JSON string): `"` and `\` escaped, and every
/// character YAML does not allow unescaped (controls, DEL, C1, line and paragraph separators,
/// the byte-order mark) as `\uXXXX`.
pub fn quote(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '\u{0}'..='\u{1f}'
            | '\u{7f}'..='\u{9f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{feff}'
            | '\u{fffe}'
            | '\u{ffff}' => out.push_str(&format!("\\u{:04x}", u32::from(c))),
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

/// `--format` of `create` and `rotate`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OutputFormat {
    /// The key and a newline.
    Plain,
    /// `NAME=<key>`.
    Env,
    /// One JSON object.
    Json,
    /// A Kubernetes `Secret` manifest.
    KubernetesSecret,
}

/// The variable `--format env` sets when no `--secret-name` is given.
pub const DEFAULT_ENV_NAME: &str = "GATEHOUSE_API_KEY";

/// Whether `secret_name` suits `format`: checked before a key is issued, so that a bad name
/// leaves nothing written.
pub fn check_output(format: OutputFormat, secret_name: Option<&str>) -> Result<(), super::Error> {
    match (format, secret_name) {
        (OutputFormat::Env, Some(name)) if !is_env_name(name) => Err(super::Error::Invalid(format!(
            "`{name}` is not an environment variable name (letters, digits, `_`, not starting with a digit)"
        ))),
        (OutputFormat::KubernetesSecret, Some(name)) if !is_dns_subdomain(name) => {
            Err(super::Error::Invalid(format!(
                "`{name}` is not a Kubernetes object name (DNS-1123 subdomain: lowercase letters, digits, `-`, `.`; at most 253)"
            )))
        }
        _ => Ok(()),
    }
}

/// What goes to stdout for a new key: the secret material in `format`. `secret_name` is the
/// variable (env) or the Secret's name (kubernetes-secret).
pub fn render_key(
    issued: &Issued,
    format: OutputFormat,
    secret_name: Option<&str>,
) -> Result<String, super::Error> {
    check_output(format, secret_name)?;
    let key = &issued.key.key;
    match format {
        OutputFormat::Plain => Ok(format!("{key}\n")),
        OutputFormat::Env => Ok(format!(
            "{}={key}\n",
            secret_name.unwrap_or(DEFAULT_ENV_NAME)
        )),
        OutputFormat::Json => {
            let value = json!({
                "id": issued.key.id.to_string(),
                "key": key,
                "tenant": issued.tenant,
                "principal": issued.record.principal.as_str(),
                "scopes": issued.record.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>(),
                "created": issued.record.created.as_str(),
                "expires": issued.record.expires.as_ref().map(|s| s.as_str()),
            });
            Ok(format!("{value}\n"))
        }
        OutputFormat::KubernetesSecret => {
            let name = match secret_name {
                Some(name) => name.to_owned(),
                None => default_secret_name(&issued.tenant, issued.record.principal.as_str()),
            };
            Ok(kubernetes_secret(issued, &name))
        }
    }
}

fn kubernetes_secret(issued: &Issued, name: &str) -> String {
    let mut out = String::new();
    out.push_str("apiVersion: v1\nkind: Secret\nmetadata:\n");
    out.push_str(&format!("  name: {}\n", quote(name)));
    out.push_str("  labels:\n    app.kubernetes.io/managed-by: \"gatehouse\"\n");
    out.push_str("  annotations:\n");
    out.push_str(&format!(
        "    gatehouse.dev/tenant: {}\n",
        quote(&issued.tenant)
    ));
    out.push_str(&format!(
        "    gatehouse.dev/credential-id: {}\n",
        quote(&issued.key.id.to_string())
    ));
    out.push_str(&format!(
        "    gatehouse.dev/principal: {}\n",
        quote(issued.record.principal.as_str())
    ));
    if let Some(expires) = &issued.record.expires {
        out.push_str(&format!(
            "    gatehouse.dev/expires: {}\n",
            quote(expires.as_str())
        ));
    }
    out.push_str("type: Opaque\nstringData:\n");
    out.push_str(&format!("  api-key: {}\n", quote(&issued.key.key)));
    out
}

fn is_env_name(name: &str) -> bool {
    let mut bytes = name.bytes();
    bytes
        .next()
        .is_some_and(|b| b.is_ascii_alphabetic() || b == b'_')
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

fn is_dns_subdomain(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 253
        && name.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        })
}

/// `gatehouse-<tenant>-<principal name>`, lowercased, every run of other characters one `-`,
/// at most 253 characters: a DNS-1123 name.
pub fn default_secret_name(tenant: &str, principal: &str) -> String {
    let name = principal.split_once(':').map_or(principal, |(_, n)| n);
    let mut out = String::new();
    for c in format!("gatehouse-{tenant}-{name}").chars() {
        let c = c.to_ascii_lowercase();
        if c.is_ascii_lowercase() || c.is_ascii_digit() {
            out.push(c);
        } else if !out.ends_with('-') {
            out.push('-');
        }
    }
    out.truncate(253);
    out.trim_end_matches('-').to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times() {
        assert_eq!(format_time(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_time(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_time(1_796_601_167), "2026-12-06T23:52:47Z");
        assert_eq!(format_time(-1), "1969-12-31T23:59:59Z");
        for t in [0, 951_782_400, 1_796_601_167, 4_102_444_799] {
            assert_eq!(gatehouse_compiler::time::parse_time(&format_time(t)), Ok(t));
        }
    }

    #[test]
    fn names() {
        assert_eq!(
            default_secret_name("acme", "user:Alice.Smith@acme.com"),
            "gatehouse-acme-alice-smith-acme-com"
        );
        assert_eq!(
            default_secret_name("acme", "virtualaccount:ci-bot"),
            "gatehouse-acme-ci-bot"
        );
        assert!(is_dns_subdomain("gatehouse-acme-ci-bot"));
        assert!(!is_dns_subdomain("Gatehouse"));
        assert!(!is_dns_subdomain("-x"));
        assert!(is_env_name("API_KEY_2"));
        assert!(!is_env_name("2KEY"));
        assert!(!is_env_name("A-B"));
    }

    #[test]
    fn quoting() {
        assert_eq!(quote("a\"b\\c\n\u{85}"), "\"a\\\"b\\\\c\\n\\u0085\"");
        let value: serde_json::Value =
            serde_json::from_str(&quote("x\u{1}y\u{2028}é")).unwrap_or_default();
        assert_eq!(value, "x\u{1}y\u{2028}é");
    }
}

#[cfg(test)]
mod file_tests {
    use std::path::Path;

    use super::*;
    use crate::credentials::parse_file;

    fn spanned(text: &str) -> gatehouse_compiler::source::SpannedString {
        marked_yaml::Spanned::new(marked_yaml::Span::new_blank(), text.to_owned())
    }

    /// Awkward text survives a write and a read, in both formats, and writing again gives the
    /// same bytes.
    #[test]
    fn files_round_trip() {
        let tricky = [
            "plain",
            "a: b # c",
            "- leading dash",
            " spaced ",
            "null",
            "true",
            "'single' \"double\" \\back",
            "line\nbreak\ttab",
            "naïve ☃ \u{85}\u{2028}\u{feff}\u{1}",
            "",
        ];
        for description in tricky {
            let file = CredentialsFile {
                credentials: gatehouse_compiler::source::CredentialsSection {
                    tenant: spanned("acme"),
                    note: Some(description.to_owned()),
                },
                keys: vec![CredentialSpec {
                    id: spanned("00000000000000ff"),
                    sha256: spanned(&"ab".repeat(32)),
                    principal: spanned("user:a@x.com"),
                    scopes: vec![spanned("model:*"), spanned(description)],
                    description: Some(description.to_owned()),
                    created: spanned("2026-01-01T00:00:00Z"),
                    expires: Some(spanned("2026-02-01T00:00:00Z")),
                    revoked: None,
                    replaces: Some("0000000000000001".to_owned()),
                    replaced_by: None,
                }],
            };
            for (name, format) in [
                ("a.credentials.json", FileFormat::Json),
                ("a.credentials.yaml", FileFormat::Yaml),
            ] {
                let text = render_file(&file, format);
                let back = parse_file(Path::new(name), &text)
                    .unwrap_or_else(|e| panic!("{description:?} {name}: {e}\n{text}"));
                assert_eq!(
                    back.keys[0].description.as_deref(),
                    Some(description),
                    "{name}"
                );
                assert_eq!(back.keys[0].scopes[1].as_str(), description, "{name}");
                assert_eq!(
                    back.credentials.note.as_deref(),
                    Some(description),
                    "{name}"
                );
                assert_eq!(back.keys[0].replaces.as_deref(), Some("0000000000000001"));
                assert_eq!(render_file(&back, format), text, "{name}");
            }
        }
    }
}
