//! Generates the Unicode simple case folding classes that `src/fold.rs` looks up.
//!
//! Two characters are in one class when a chain of simple (one character to one character)
//! lowercase or uppercase mappings joins them: `k`, `K` and the Kelvin sign U+212A; `s`, `S` and
//! the long s U+017F; `σ`, `ς` and `Σ`. That is the relation Go's `unicode.SimpleFold` walks and
//! `encoding/json` matches object keys by. The table comes from this toolchain's own Unicode
//! tables, so it follows the Unicode version of the standard library that builds the engine; a
//! differential test checks it against Go's.

#![expect(
    clippy::indexing_slicing,
    reason = "build script over a table of every code point it allocates itself; a panic fails the build, not a request"
)]

use std::fmt::Write as _;
use std::path::PathBuf;

fn main() {
    println!("cargo::rerun-if-changed=build.rs");
    let mut parent: Vec<u32> = (0..=0x10FFFF).collect();
    for c in (0..=0x10FFFFu32).filter_map(char::from_u32) {
        if let Some(l) = single(c.to_lowercase()) {
            union(&mut parent, c as u32, l as u32);
        }
        if let Some(u) = single(c.to_uppercase()) {
            union(&mut parent, c as u32, u as u32);
        }
    }
    // Every non-ASCII character of a class with more than one member, with the class's smallest
    // member as its representative. ASCII letters are folded in code (to uppercase, which is the
    // smallest member of each of their classes).
    let mut size = vec![0u32; parent.len()];
    for c in 0..=0x10FFFFu32 {
        let r = find(&mut parent, c);
        size[r as usize] += 1;
    }
    let mut table = String::new();
    let mut count = 0usize;
    for c in 0x80..=0x10FFFFu32 {
        let r = find(&mut parent, c);
        if size[r as usize] > 1 {
            let _ = writeln!(table, "    ({c:#x}, {r:#x}),");
            count += 1;
        }
    }
    let out = format!("/// `(character, representative)`, sorted by character.\npub(crate) static FOLD: [(u32, u32); {count}] = [\n{table}];\n");
    let dir = PathBuf::from(std::env::var_os("OUT_DIR").unwrap_or_default());
    if let Err(err) = std::fs::write(dir.join("fold_table.rs"), out) {
        println!("cargo::error=cannot write the case folding table: {err}");
    }
}

fn single(mut chars: impl Iterator<Item = char>) -> Option<char> {
    let first = chars.next()?;
    chars.next().is_none().then_some(first)
}

fn find(parent: &mut [u32], mut x: u32) -> u32 {
    while parent[x as usize] != x {
        let up = parent[parent[x as usize] as usize];
        parent[x as usize] = up;
        x = up;
    }
    x
}

/// Joins two classes under the smaller representative.
fn union(parent: &mut [u32], a: u32, b: u32) {
    let (ra, rb) = (find(parent, a), find(parent, b));
    if ra != rb {
        let (lo, hi) = if ra < rb { (ra, rb) } else { (rb, ra) };
        parent[hi as usize] = lo;
    }
}
