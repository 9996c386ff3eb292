//! The results of a run, and the reports they render as: text, JSON, JUnit XML.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::Duration;

use gatehouse_engine::escape::for_terminal;
use serde_json::{json, Value};

use crate::Exit;

/// Every result, file by file.
#[derive(Debug, Clone)]
pub struct Report {
    pub files: Vec<FileReport>,
}

#[derive(Debug, Clone)]
pub struct FileReport {
    pub path: PathBuf,
    pub results: Vec<CaseResult>,
    pub time: Duration,
}

#[derive(Debug, Clone)]
pub struct CaseResult {
    pub name: String,
    /// The case's `note`, shown with a failure.
    pub note: Option<String>,
    /// `request` or `access`.
    pub kind: &'static str,
    pub line: usize,
    /// Empty: passed. Else one line per expectation not met (`field: expected X, got Y`).
    pub failures: Vec<String>,
    /// What the engine answered, as `gatehouse check` prints it (request cases) or the allowed
    /// and blocked principals (access cases); names escaped for a terminal.
    pub details: String,
    /// Request cases: the `gatehouse check --json` object.
    pub got: Option<Value>,
    pub time: Duration,
}

impl CaseResult {
    pub fn passed(&self) -> bool {
        self.failures.is_empty()
    }
}

impl Report {
    pub fn counts(&self) -> (usize, usize) {
        let all = self.files.iter().flat_map(|f| &f.results);
        let failed = all.clone().filter(|r| !r.passed()).count();
        (all.count() - failed, failed)
    }

    /// Exit 0 when every case passed, else 2.
    pub fn exit(&self) -> Exit {
        if self.counts().1 == 0 {
            Exit::Success
        } else {
            Exit::Negative
        }
    }
}

impl Report {
    /// `ok`/`FAIL` per case; for a failure what was expected and got, and the engine's answer
    /// with its explanation; then `N passed, M failed`.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for file in &self.files {
            let path = file.path.display().to_string();
            let path = for_terminal(&path);
            let _ = writeln!(out, "{path}");
            for r in &file.results {
                let name = for_terminal(&r.name);
                if r.passed() {
                    let _ = writeln!(out, "  ok    {} {name}", r.kind);
                    continue;
                }
                let _ = writeln!(out, "  FAIL  {} {name} ({path}:{})", r.kind, r.line);
                if let Some(note) = &r.note {
                    let _ = writeln!(out, "        note: {}", for_terminal(note));
                }
                for f in &r.failures {
                    let _ = writeln!(out, "        {}", for_terminal(f));
                }
                for line in r.details.lines() {
                    let _ = writeln!(out, "        | {line}");
                }
            }
        }
        let (passed, failed) = self.counts();
        let _ = writeln!(out, "{passed} passed, {failed} failed");
        out
    }

    /// One JSON document with every result.
    pub fn json(&self) -> Value {
        let (passed, failed) = self.counts();
        let files: Vec<Value> = self
            .files
            .iter()
            .map(|f| {
                let cases: Vec<Value> = f
                    .results
                    .iter()
                    .map(|r| {
                        let mut v = json!({
                            "name": r.name,
                            "kind": r.kind,
                            "line": r.line,
                            "passed": r.passed(),
                            "failures": r.failures,
                            "time_seconds": r.time.as_secs_f64(),
                        });
                        if let (Some(got), Some(obj)) = (&r.got, v.as_object_mut()) {
                            obj.insert("got".into(), got.clone());
                        } else if let Some(obj) = v.as_object_mut() {
                            obj.insert("details".into(), json!(r.details));
                        }
                        v
                    })
                    .collect();
                json!({"file": f.path.display().to_string(), "cases": cases})
            })
            .collect();
        json!({"passed": passed, "failed": failed, "files": files})
    }

    /// JUnit XML: one `testsuite` per file, one `testcase` per case, a `failure` (its message the
    /// first unmet expectation, its text every one and the engine's answer) per failed case.
    pub fn junit(&self) -> String {
        let (passed, failed) = self.counts();
        let total_time: Duration = self.files.iter().map(|f| f.time).sum();
        let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
        let _ = writeln!(
            out,
            "<testsuites name=\"gatehouse test\" tests=\"{}\" failures=\"{failed}\" errors=\"0\" \
             time=\"{:.6}\">",
            passed + failed,
            total_time.as_secs_f64()
        );
        for file in &self.files {
            let name = file.path.display().to_string();
            let name = for_terminal(&name);
            let failures = file.results.iter().filter(|r| !r.passed()).count();
            let _ = writeln!(
                out,
                "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" \
                 skipped=\"0\" time=\"{:.6}\">",
                xml(&name),
                file.results.len(),
                file.time.as_secs_f64()
            );
            for r in &file.results {
                let _ = write!(
                    out,
                    "    <testcase name=\"{}\" classname=\"{}\" file=\"{}\" line=\"{}\" \
                     time=\"{:.6}\"",
                    xml(&format!("{} {}", r.kind, for_terminal(&r.name))),
                    xml(&name),
                    xml(&name),
                    r.line,
                    r.time.as_secs_f64()
                );
                if r.passed() {
                    out.push_str("/>\n");
                    continue;
                }
                let message = r.failures.first().map_or("", String::as_str);
                let failures: Vec<_> = r.failures.iter().map(|f| for_terminal(f)).collect();
                let body = format!("{}\n\n{}", failures.join("\n"), r.details);
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{}\" type=\"mismatch\">{}</failure>\n    \
                     </testcase>",
                    xml(&for_terminal(message)),
                    xml_text(&body)
                );
            }
            out.push_str("  </testsuite>\n");
        }
        out.push_str("</testsuites>\n");
        out
    }
}

/// Text for an XML attribute: markup characters escaped; tab and line breaks as character
/// references (a parser turns them into spaces in an attribute otherwise); the other characters
/// XML 1.0 cannot carry shown escaped as [`for_terminal`] shows them (C0 controls) or replaced by
/// U+FFFD (the noncharacters U+FFFE and U+FFFF).
fn xml(text: &str) -> String {
    xml_escaped(text, true)
}

/// Text for an XML element: as [`xml`], but tab and `\n` as they are (`\r` still as a
/// reference, which a parser would otherwise turn into `\n`).
fn xml_text(text: &str) -> String {
    xml_escaped(text, false)
}

fn xml_escaped(text: &str, attribute: bool) -> String {
    let mut out = String::with_capacity(text.len());
    let mut one = [0u8; 4];
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\r' => out.push_str("&#13;"),
            '\t' | '\n' if attribute => {
                let _ = write!(out, "&#{};", u32::from(c));
            }
            '\t' | '\n' => out.push(c),
            c if c < ' ' => out.push_str(&for_terminal(c.encode_utf8(&mut one))),
            '\u{FFFE}' | '\u{FFFF}' => out.push('\u{FFFD}'),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reports_show_names_from_test_files_escaped() {
        let report = Report {
            files: vec![FileReport {
                path: PathBuf::from("t\u{202e}.yaml"),
                results: vec![CaseResult {
                    name: "x\n::error ::pwned".to_owned(),
                    note: Some("n\u{1b}[2J".to_owned()),
                    kind: "access",
                    line: 3,
                    failures: vec!["include: expected `user:e\u{2066}@a.com` to be allowed".into()],
                    details: String::new(),
                    got: None,
                    time: Duration::ZERO,
                }],
                time: Duration::ZERO,
            }],
        };
        let text = report.text();
        assert!(
            text.contains("  FAIL  access x\\n::error ::pwned (t\\u{202e}.yaml:3)\n"),
            "{text}"
        );
        assert!(text.contains("note: n\\u{001b}[2J\n"), "{text}");
        assert!(text.contains("`user:e\\u{2066}@a.com`"), "{text}");
        let junit = report.junit();
        for out in [&text, &junit] {
            assert!(!out.contains(['\u{202e}', '\u{2066}', '\u{1b}']), "{out}");
            assert!(!out.lines().any(|l| l.starts_with("::")), "{out}");
        }
        assert!(
            junit.contains("<testcase name=\"access x\\n::error ::pwned\""),
            "{junit}"
        );
        // JSON keeps them as they are.
        let json = report.json();
        assert_eq!(json["files"][0]["cases"][0]["name"], "x\n::error ::pwned");
    }

    #[test]
    fn xml_escapes_markup_and_control_characters() {
        assert_eq!(
            xml("a<b>&\"c'\u{1}\u{1b}\u{fffe}"),
            "a&lt;b&gt;&amp;&quot;c&apos;\\u{0001}\\u{001b}\u{FFFD}"
        );
        assert_eq!(xml("a\tb\nc\rd"), "a&#9;b&#10;c&#13;d");
        assert_eq!(xml_text("a\tb\nc\rd\u{0}"), "a\tb\nc&#13;d\\u{0000}");
    }
}
