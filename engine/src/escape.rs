//! Text Gatehouse did not write — names from tenant files, values from requests — made safe for
//! where it is shown (SPEC 5.2): a terminal or a CI log ([`for_terminal`]), Markdown a reviewer
//! reads in a pull request ([`markdown_code`]), a log line ([`crate::logsafe::log_safe`]). One
//! list of the characters never shown as they are ([`is_hidden`]), one way of writing them.

use std::borrow::Cow;
use std::fmt::Write as _;

/// Whether `c` is shown as an escape rather than as itself: C0 and C1 controls and DEL (a newline
/// would start a CI workflow command such as `::error`, ESC a terminal sequence), the line and
/// paragraph separators U+2028/U+2029, and the invisible formatting characters that reorder or
/// hide text: the Arabic letter mark U+061C, the zero-width characters and directional marks
/// U+200B-U+200F, the bidi embeddings and overrides U+202A-U+202E, the word joiner and invisible
/// operators U+2060-U+2064, the bidi isolates U+2066-U+2069 and the byte-order mark U+FEFF.
pub fn is_hidden(c: char) -> bool {
    c.is_control()
        || matches!(
            c,
            '\u{061C}'
                | '\u{200B}'..='\u{200F}'
                | '\u{2028}'..='\u{202E}'
                | '\u{2060}'..='\u{2064}'
                | '\u{2066}'..='\u{2069}'
                | '\u{FEFF}'
        )
}

/// Appends `c` as shown: `\n`, `\r`, `\t`, or `\u{XXXX}` for another hidden character, else `c`.
pub(crate) fn push_escaped(out: &mut String, c: char) {
    match c {
        '\n' => out.push_str("\\n"),
        '\r' => out.push_str("\\r"),
        '\t' => out.push_str("\\t"),
        // INVARIANT: every hidden character is at most U+FFFF, so this is 8 bytes
        // (`escaped_len` in the log escaper relies on it).
        c if is_hidden(c) => {
            let _ = write!(out, "\\u{{{:04x}}}", u32::from(c));
        }
        c => out.push(c),
    }
}

/// `s` for a terminal or a CI log: every [hidden](is_hidden) character written as a visible
/// escape (`\n`, `\u{001b}`, `\u{202e}`), everything else as it is. Borrowed when nothing had to
/// change, so a name without such characters prints byte for byte as before.
///
/// A `\` stays as it is (unlike in a log line, which tools read back): a name that spells an
/// escape shows as that text, and a Windows path stays readable.
pub fn for_terminal(s: &str) -> Cow<'_, str> {
    if !s.chars().any(is_hidden) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(s.len() + 16);
    for c in s.chars() {
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

/// `s` as one Markdown code span, whatever it holds (CommonMark 6.1): [hidden](is_hidden)
/// characters escaped as by [`for_terminal`], between backtick fences one longer than the longest
/// run of backticks in the text, with a space inside each fence when the text starts or ends with
/// a backtick (or with spaces on both ends, which a renderer would strip). Inside a code span a
/// link, an image, a mention, HTML or emphasis is plain text.
///
/// In a GFM table cell, `|` must still be written `\|` (tables split rows before they read code
/// spans); the table writer does that for the whole cell.
pub fn markdown_code(s: &str) -> String {
    let text = for_terminal(s);
    if text.is_empty() {
        // An empty span cannot be written: a lone space reads as the empty name it is.
        return "` `".to_owned();
    }
    let mut longest = 0;
    let mut run = 0;
    for c in text.chars() {
        run = if c == '`' { run + 1 } else { 0 };
        longest = longest.max(run);
    }
    let fence = "`".repeat(longest + 1);
    let all_spaces = text.chars().all(|c| c == ' ');
    let pad = text.starts_with('`')
        || text.ends_with('`')
        || (!all_spaces && text.starts_with(' ') && text.ends_with(' '));
    let pad = if pad { " " } else { "" };
    format!("{fence}{pad}{text}{pad}{fence}")
}

/// A sentence of a report: Gatehouse's own words with names from the policy in it (principals,
/// teams, roles, resources, actions, routes), kept apart so that each report shows the names its
/// own way: as they are in JSON ([`Phrase::as_str`]), escaped on a terminal
/// ([`Phrase::for_terminal`]), each in its own code span in Markdown ([`Phrase::markdown`]).
/// Ordered by its text first, so a sorted list of phrases reads as the sorted sentences.
#[derive(Debug, Clone, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Phrase {
    text: String,
    /// INVARIANT: byte ranges of `text` at character boundaries, in order, not overlapping.
    names: Vec<NameAt>,
}

/// Where a name is in a phrase's text.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
struct NameAt {
    start: usize,
    end: usize,
    /// The text shows the name between backticks (inside the range), as a sentence quotes a
    /// name that could read as a word.
    quoted: bool,
}

impl Phrase {
    pub fn new() -> Phrase {
        Phrase::default()
    }

    /// Gatehouse's own words, shown as they are everywhere.
    pub fn word(mut self, word: &str) -> Phrase {
        self.text.push_str(word);
        self
    }

    /// A name from the policy.
    pub fn name(self, name: &str) -> Phrase {
        self.push_name(name, false)
    }

    /// A name from the policy that the text shows between backticks (`` route `api` removed ``).
    pub fn quoted(self, name: &str) -> Phrase {
        self.push_name(name, true)
    }

    /// Names as a list, `[a, b]`.
    pub fn list<S: AsRef<str>>(mut self, names: &[S]) -> Phrase {
        self.text.push('[');
        for (i, name) in names.iter().enumerate() {
            if i > 0 {
                self.text.push_str(", ");
            }
            self = self.name(name.as_ref());
        }
        self.text.push(']');
        self
    }

    /// `other` after this phrase.
    pub fn then(mut self, other: &Phrase) -> Phrase {
        let base = self.text.len();
        self.text.push_str(&other.text);
        self.names.extend(other.names.iter().map(|n| NameAt {
            start: n.start + base,
            end: n.end + base,
            quoted: n.quoted,
        }));
        self
    }

    /// The sentence with its names as they are (for JSON).
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The sentence for a terminal: each name through [`for_terminal`]. Borrowed when no name
    /// holds a hidden character.
    pub fn for_terminal(&self) -> Cow<'_, str> {
        if !self.text.chars().any(is_hidden) {
            return Cow::Borrowed(&self.text);
        }
        // Gatehouse's own words hold no hidden character: escaping the names is escaping it all.
        Cow::Owned(self.render(|out, name, quoted| {
            let name = for_terminal(name);
            if quoted {
                out.push('`');
                out.push_str(&name);
                out.push('`');
            } else {
                out.push_str(&name);
            }
        }))
    }

    /// The sentence for Markdown: each name in its own [`markdown_code`] span. In a table cell
    /// the `|` still need escaping.
    pub fn markdown(&self) -> String {
        self.render(|out, name, _| out.push_str(&markdown_code(name)))
    }

    fn push_name(mut self, name: &str, quoted: bool) -> Phrase {
        let start = self.text.len();
        if quoted {
            self.text.push('`');
            self.text.push_str(name);
            self.text.push('`');
        } else {
            self.text.push_str(name);
        }
        self.names.push(NameAt {
            start,
            end: self.text.len(),
            quoted,
        });
        self
    }

    /// The words as they are, each name written by `name(out, name, quoted)`.
    fn render(&self, name: impl Fn(&mut String, &str, bool)) -> String {
        let mut out = String::with_capacity(self.text.len() + 8 * self.names.len());
        let mut at = 0;
        for n in &self.names {
            // INVARIANT (above): the ranges are in order and at character boundaries.
            let (Some(word), Some(whole)) =
                (self.text.get(at..n.start), self.text.get(n.start..n.end))
            else {
                continue;
            };
            out.push_str(word);
            let inner = if n.quoted {
                whole
                    .get(1..whole.len().saturating_sub(1))
                    .unwrap_or_default()
            } else {
                whole
            };
            name(&mut out, inner, n.quoted);
            at = n.end;
        }
        out.push_str(self.text.get(at..).unwrap_or_default());
        out
    }
}

impl std::fmt::Display for Phrase {
    /// The sentence with its names as they are; reports show [`Phrase::for_terminal`] or
    /// [`Phrase::markdown`].
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.text)
    }
}

impl serde::Serialize for Phrase {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use pulldown_cmark::{Event, Options, Parser, Tag, TagEnd};

    #[test]
    fn plain_names_are_borrowed() {
        for s in [
            "",
            "user:alice@acme.com",
            "model:openai-main/gpt-4o",
            "é😀",
            "C:\\tenants",
        ] {
            assert!(matches!(for_terminal(s), Cow::Borrowed(b) if b == s));
        }
    }

    #[test]
    fn hidden_characters_are_shown_escaped() {
        assert_eq!(for_terminal("a\n::error ::pwned"), "a\\n::error ::pwned");
        assert_eq!(for_terminal("\r\t"), "\\r\\t");
        assert_eq!(for_terminal("\u{1b}[2J"), "\\u{001b}[2J");
        assert_eq!(for_terminal("nul\0del\u{7f}"), "nul\\u{0000}del\\u{007f}");
        assert_eq!(for_terminal("csi\u{9b}"), "csi\\u{009b}");
        assert_eq!(for_terminal("\u{202e}fdp.exe"), "\\u{202e}fdp.exe");
        for (c, shown) in [
            ('\u{061c}', "\\u{061c}"),
            ('\u{200b}', "\\u{200b}"),
            ('\u{200e}', "\\u{200e}"),
            ('\u{200f}', "\\u{200f}"),
            ('\u{2028}', "\\u{2028}"),
            ('\u{202a}', "\\u{202a}"),
            ('\u{2060}', "\\u{2060}"),
            ('\u{2064}', "\\u{2064}"),
            ('\u{2066}', "\\u{2066}"),
            ('\u{2069}', "\\u{2069}"),
            ('\u{feff}', "\\u{feff}"),
        ] {
            assert_eq!(for_terminal(&c.to_string()), shown);
        }
        // Neighbours of the ranges are ordinary text.
        let neighbours = "\u{a0}\u{61b}\u{200a}\u{2010}\u{202f}\u{2065}\u{206a}\u{fefe}";
        assert_eq!(for_terminal(neighbours), neighbours);
    }

    #[test]
    fn code_spans_outlast_every_backtick_run() {
        assert_eq!(
            markdown_code("user:alice@acme.com"),
            "`user:alice@acme.com`"
        );
        assert_eq!(markdown_code("x](https://evil)"), "`x](https://evil)`");
        assert_eq!(markdown_code("a`b"), "``a`b``");
        assert_eq!(markdown_code("a``b`"), "``` a``b` ```");
        assert_eq!(markdown_code("`"), "`` ` ``");
        assert_eq!(markdown_code(" a "), "`  a  `");
        assert_eq!(markdown_code("  "), "`  `");
        assert_eq!(markdown_code(""), "` `");
        assert_eq!(markdown_code("a\nb"), "`a\\nb`");
    }

    /// The inline events of `markdown` rendered by a CommonMark/GFM parser, inside the first
    /// paragraph or table cell.
    fn events(markdown: &str) -> Vec<Event<'_>> {
        Parser::new_ext(markdown, Options::ENABLE_TABLES)
            .filter(|e| {
                !matches!(
                    e,
                    Event::Start(
                        Tag::Paragraph
                            | Tag::Table(_)
                            | Tag::TableHead
                            | Tag::TableRow
                            | Tag::TableCell
                    ) | Event::End(
                        TagEnd::Paragraph
                            | TagEnd::Table
                            | TagEnd::TableHead
                            | TagEnd::TableRow
                            | TagEnd::TableCell
                    )
                )
            })
            .collect()
    }

    #[test]
    fn phrases_keep_their_names_apart() {
        let p = Phrase::new()
            .word("grant added: ")
            .name("team:x](https://evil)")
            .word(" ")
            .name("viewer")
            .word(" on ")
            .name("doc:a\n::error ::pwned");
        assert_eq!(
            p.as_str(),
            "grant added: team:x](https://evil) viewer on doc:a\n::error ::pwned"
        );
        assert_eq!(
            p.for_terminal(),
            "grant added: team:x](https://evil) viewer on doc:a\\n::error ::pwned"
        );
        assert_eq!(
            p.markdown(),
            "grant added: `team:x](https://evil)` `viewer` on `doc:a\\n::error ::pwned`"
        );
        let q = Phrase::new()
            .word("route ")
            .quoted("a`b\u{202e}")
            .word(" removed");
        assert_eq!(q.as_str(), "route `a`b\u{202e}` removed");
        assert_eq!(q.for_terminal(), "route `a`b\\u{202e}` removed");
        assert_eq!(q.markdown(), "route ``a`b\\u{202e}`` removed");
        let l = Phrase::new()
            .name("team:t")
            .word(" tenant roles ")
            .list::<&str>(&[])
            .word(" -> ")
            .list(&["admin", "@org/team"]);
        assert_eq!(l.as_str(), "team:t tenant roles [] -> [admin, @org/team]");
        assert_eq!(
            l.markdown(),
            "`team:t` tenant roles [] -> [`admin`, `@org/team`]"
        );
        let whole = Phrase::new().name("acme").word(": ").then(&q);
        assert_eq!(whole.as_str(), "acme: route `a`b\u{202e}` removed");
        assert_eq!(whole.markdown(), "`acme`: route ``a`b\\u{202e}`` removed");
        // A plain phrase prints as it always did.
        let plain = Phrase::new().name("user:a@b.c").word(" added");
        assert!(matches!(
            plain.for_terminal(),
            Cow::Borrowed("user:a@b.c added")
        ));
        assert_eq!(plain.to_string(), "user:a@b.c added");
        assert_eq!(
            serde_json::to_string(&plain).unwrap_or_default(),
            "\"user:a@b.c added\""
        );
    }

    proptest! {
        #[test]
        fn terminal_text_has_no_hidden_character(s in any::<String>()) {
            let shown = for_terminal(&s);
            prop_assert!(!shown.chars().any(is_hidden), "{:?}", shown);
            prop_assert!(!shown.chars().any(char::is_control), "{:?}", shown);
            if !s.chars().any(is_hidden) {
                prop_assert_eq!(&*shown, s.as_str());
            }
            // Escaping twice changes nothing: text escaped once can be printed by any path.
            prop_assert_eq!(&*for_terminal(&shown), &*shown);
        }

        #[test]
        fn a_code_span_is_exactly_one_code_span(
            s in prop_oneof![
                any::<String>(),
                "[`a-z \\[\\]()!@<>|*_\\\\\n\u{202e}]{0,24}",
            ]
        ) {
            let span = markdown_code(&s);
            let shown = for_terminal(&s);
            // An empty name shows as one space (an empty code span cannot be written).
            let expected = if shown.is_empty() { " " } else { &*shown };
            // In a paragraph, between words.
            let text = format!("see {span} here");
            let got = events(&text);
            prop_assert_eq!(
                got,
                vec![
                    Event::Text("see ".into()),
                    Event::Code(expected.into()),
                    Event::Text(" here".into()),
                ],
                "{:?}",
                text
            );
            // In a table cell, with `|` escaped as the table writer does.
            let table = format!("| a |\n|---|\n| {} |\n", span.replace('|', "\\|"));
            let got = events(&table);
            prop_assert_eq!(
                got,
                vec![Event::Text("a".into()), Event::Code(expected.into())],
                "{:?}",
                table
            );
        }
    }
}
