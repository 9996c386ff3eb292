//! Unicode simple case folding, the way Go's `encoding/json` matches object keys.
//!
//! Go decodes `{"model":"a","MODEL":"b"}` into a field tagged `json:"model"` as `b`: it matches
//! keys to fields case-insensitively, folding Unicode too (`"\u212A"`, the Kelvin sign, matches
//! `k`), and keeps the last match. A document with two keys that fold to the same string can
//! therefore be read two ways, and Gatehouse refuses it (see `json.rs`). The classes come from the
//! build script (`build.rs`), which derives them from the standard library's simple case
//! mappings.

use std::borrow::Cow;

include!(concat!(env!("OUT_DIR"), "/fold_table.rs"));

/// The representative of `c`'s case folding class: the same for `k`, `K` and U+212A.
pub fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_uppercase();
    }
    let code = c as u32;
    match FOLD.binary_search_by_key(&code, |&(from, _)| from) {
        Ok(i) => FOLD
            .get(i)
            .and_then(|&(_, to)| char::from_u32(to))
            .unwrap_or(c),
        Err(_) => c,
    }
}

/// Whether `a` and `b` are equal under simple case folding (character by character, as Go's
/// `bytes.EqualFold`).
pub fn eq_fold(a: &str, b: &str) -> bool {
    // ASCII folds only onto ASCII, one byte for one byte: two ASCII strings of different
    // lengths never match (the common case of an object's distinct keys).
    if a.is_ascii() && b.is_ascii() {
        return a.eq_ignore_ascii_case(b);
    }
    let mut x = a.chars();
    let mut y = b.chars();
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(p), Some(q)) if p == q || fold_char(p) == fold_char(q) => {}
            _ => return false,
        }
    }
}

/// `s` with every character replaced by its class representative: two strings are
/// [`eq_fold`] exactly when their folds are equal. Borrows when nothing changes.
pub fn fold(s: &str) -> Cow<'_, str> {
    if s.chars().all(|c| fold_char(c) == c) {
        Cow::Borrowed(s)
    } else {
        Cow::Owned(s.chars().map(fold_char).collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn ascii_and_the_known_non_ascii_folds() {
        assert!(eq_fold("model", "MODEL"));
        assert!(eq_fold("model", "MoDeL"));
        assert!(!eq_fold("model", "models"));
        // Kelvin sign and long s fold onto ASCII letters.
        assert!(eq_fold("\u{212A}ey", "key"));
        assert!(eq_fold("ta\u{17F}k", "TASK"));
        // Greek sigma's three forms; the Angstrom sign and A-ring.
        assert!(eq_fold("\u{3C3}", "\u{3C2}"));
        assert!(eq_fold("\u{3A3}", "\u{3C2}"));
        assert!(eq_fold("\u{212B}", "\u{E5}"));
        // Sharp s and capital sharp s are one class; "ss" is not (no full folding).
        assert!(eq_fold("\u{DF}", "\u{1E9E}"));
        assert!(!eq_fold("\u{DF}", "ss"));
        // Dotted and dotless i have no simple mapping onto i (Go agrees).
        assert!(!eq_fold("\u{130}", "i"));
        assert_eq!(fold("Params"), "PARAMS");
        assert!(matches!(fold("PARAMS"), Cow::Borrowed(_)));
    }

    #[test]
    fn the_table_is_sorted_and_representatives_are_fixed_points() {
        assert!(FOLD.windows(2).all(|w| w[0].0 < w[1].0));
        for &(from, to) in FOLD.iter() {
            let to = char::from_u32(to).unwrap();
            assert_eq!(fold_char(to), to, "{from:#x} -> {:#x}", to as u32);
            assert!(to as u32 <= from);
        }
    }

    proptest! {
        #[test]
        fn eq_fold_is_fold_equality(a in "\\PC{0,6}", b in "\\PC{0,6}") {
            prop_assert_eq!(eq_fold(&a, &b), fold(&a) == fold(&b));
        }

        #[test]
        fn simple_case_changes_fold_together(s in "\\PC{0,8}") {
            let lower: String = s.chars().map(|c| {
                let mut l = c.to_lowercase();
                match (l.next(), l.next()) { (Some(x), None) => x, _ => c }
            }).collect();
            let upper: String = s.chars().map(|c| {
                let mut u = c.to_uppercase();
                match (u.next(), u.next()) { (Some(x), None) => x, _ => c }
            }).collect();
            prop_assert!(eq_fold(&s, &lower));
            prop_assert!(eq_fold(&s, &upper));
        }
    }
}
