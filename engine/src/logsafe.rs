//! Request-controlled text made safe for one log line (SPEC 3.3): a subject from a token claim or
//! a resource path filled from the body must not forge a line (`\n`), reach a terminal as an
//! escape sequence, reorder what a reader sees (bidi overrides), or fill the log (64 KiB values).

use std::borrow::Cow;
use std::fmt::Write as _;

use crate::escape::{self, is_hidden};

/// The most bytes of escaped text [`log_safe`] returns before its truncation marker.
pub const LOG_VALUE_CAP: usize = 256;

/// The longest truncation marker: `…(+N bytes)` with N of at most 20 digits.
pub const MARKER_MAX: usize = "…(+".len() + 20 + " bytes)".len();

/// Whether `c` is written as an escape: a [hidden](is_hidden) character, or `\\` (so an escape
/// in the output is always ours and a reader can undo them).
fn needs_escape(c: char) -> bool {
    c == '\\' || is_hidden(c)
}

/// Appends `c` as written in a log line.
fn push_escaped(out: &mut String, c: char) {
    match c {
        '\\' => out.push_str("\\\\"),
        c => escape::push_escaped(out, c),
    }
}

/// The bytes `c` takes in the output.
fn escaped_len(c: char) -> usize {
    match c {
        '\\' | '\n' | '\r' | '\t' => 2,
        // `\u{XXXX}`: every hidden character is at most U+FFFF (the escaper's invariant).
        c if needs_escape(c) => 8,
        c => c.len_utf8(),
    }
}

/// `s` for a log line: [hidden](is_hidden) characters (controls, line separators, bidi and
/// invisible formatting characters) escaped as `\n`, `\r`, `\t` or `\u{XXXX}`, `\` as `\\`; at
/// most [`LOG_VALUE_CAP`] bytes of that, cut between characters, then `…(+N bytes)` naming the
/// input bytes left out. Borrowed when nothing had to change.
pub fn log_safe(s: &str) -> Cow<'_, str> {
    if s.len() <= LOG_VALUE_CAP && !s.chars().any(needs_escape) {
        return Cow::Borrowed(s);
    }
    let mut out = String::with_capacity(LOG_VALUE_CAP + MARKER_MAX);
    for (at, c) in s.char_indices() {
        if out.len() + escaped_len(c) > LOG_VALUE_CAP {
            let _ = write!(out, "…(+{} bytes)", s.len().saturating_sub(at));
            return Cow::Owned(out);
        }
        push_escaped(&mut out, c);
    }
    Cow::Owned(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn plain_text_is_borrowed() {
        for s in ["", "user:alice@acme.com", "model:openai/gpt-4o", "é😀"] {
            assert!(matches!(log_safe(s), Cow::Borrowed(b) if b == s));
        }
        let full = "a".repeat(LOG_VALUE_CAP);
        assert!(matches!(log_safe(&full), Cow::Borrowed(_)));
    }

    #[test]
    fn controls_are_escaped() {
        assert_eq!(log_safe("a\nb"), "a\\nb");
        assert_eq!(log_safe("a\r\n\tb"), "a\\r\\n\\tb");
        assert_eq!(log_safe("\u{1b}[31mred"), "\\u{001b}[31mred");
        assert_eq!(log_safe("nul\0"), "nul\\u{0000}");
        assert_eq!(log_safe("del\u{7f}"), "del\\u{007f}");
        assert_eq!(log_safe("nel\u{85}"), "nel\\u{0085}");
        assert_eq!(log_safe("csi\u{9b}"), "csi\\u{009b}");
        assert_eq!(log_safe("a\u{2028}b\u{2029}"), "a\\u{2028}b\\u{2029}");
        assert_eq!(log_safe("\u{202e}txt.exe"), "\\u{202e}txt.exe");
        assert_eq!(
            log_safe("\u{202a}\u{2066}\u{2069}"),
            "\\u{202a}\\u{2066}\\u{2069}"
        );
        assert_eq!(log_safe("a\\nb"), "a\\\\nb");
        assert_eq!(log_safe("zw\u{200b}\u{feff}"), "zw\\u{200b}\\u{feff}");
        // Neighbours of the escaped ranges pass.
        assert_eq!(
            log_safe("\u{a0}\u{2027}\u{202f}\u{2065}\u{206a}"),
            "\u{a0}\u{2027}\u{202f}\u{2065}\u{206a}"
        );
    }

    #[test]
    fn long_values_are_capped_with_a_marker() {
        let long = "x".repeat(10 * 1024);
        let safe = log_safe(&long);
        assert_eq!(
            safe,
            format!("{}…(+{} bytes)", "x".repeat(256), 10 * 1024 - 256)
        );
        // Cut between characters: 2-byte characters, 256 bytes fit exactly 128 of them.
        let wide = "é".repeat(200);
        assert_eq!(log_safe(&wide), format!("{}…(+144 bytes)", "é".repeat(128)));
        let odd = format!("a{}", "é".repeat(200));
        assert_eq!(log_safe(&odd), format!("a{}…(+146 bytes)", "é".repeat(127)));
        // Escapes count towards the cap.
        let lines = "\n".repeat(200);
        assert_eq!(
            log_safe(&lines),
            format!("{}…(+72 bytes)", "\\n".repeat(128))
        );
        // A newline after the cap is not shown at all.
        let tail = format!("{}\nforged", "y".repeat(300));
        assert_eq!(log_safe(&tail), format!("{}…(+51 bytes)", "y".repeat(256)));
    }

    proptest! {
        #[test]
        fn output_is_one_bounded_line(s in any::<String>(), pad in 0usize..400) {
            let s = format!("{}{s}", "z".repeat(pad));
            let safe = log_safe(&s);
            prop_assert!(!safe.chars().any(|c| c.is_control()), "{safe:?}");
            prop_assert!(
                !safe.contains(['\n', '\r', '\u{2028}', '\u{2029}']),
                "line break in {:?}",
                safe
            );
            prop_assert!(
                !safe.chars().any(|c| matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}')),
                "bidi control in {:?}",
                safe
            );
            prop_assert!(safe.len() <= LOG_VALUE_CAP + MARKER_MAX, "{} bytes", safe.len());
            if s.len() <= LOG_VALUE_CAP && !s.chars().any(needs_escape) {
                prop_assert_eq!(&*safe, s.as_str());
            }
        }

        #[test]
        fn short_text_round_trips(s in "[ -~\\n\\t\u{80}-\u{a0}\u{2028}\u{202e}é]{0,20}") {
            // Undo the escapes: the output names exactly the input.
            let safe = log_safe(&s).into_owned();
            let mut back = String::new();
            let mut rest = safe.as_str();
            while let Some(i) = rest.find('\\') {
                back.push_str(&rest[..i]);
                let esc = &rest[i + 1..];
                let (c, len) = match esc.as_bytes()[0] {
                    b'\\' => ('\\', 1),
                    b'n' => ('\n', 1),
                    b'r' => ('\r', 1),
                    b't' => ('\t', 1),
                    _ => {
                        let end = esc.find('}').unwrap();
                        let code = u32::from_str_radix(&esc[2..end], 16).unwrap();
                        (char::from_u32(code).unwrap(), end + 1)
                    }
                };
                back.push(c);
                rest = &esc[len..];
            }
            back.push_str(rest);
            prop_assert_eq!(back, s);
        }
    }
}
