//! Sampled key prefixes that narrow the binary searches of the two largest sorted tables (users
//! by email, resources by path within a type), built in memory at load.
//!
//! Why: a probe of the plain binary search follows a `StrRef` into STRINGS (and, for users, a
//! domain index into DOMAINS) and compares bytes, with a hard-to-predict branch at each step;
//! over 100,000 users that is 17 such probes per decision. Here most steps compare one `u64` in
//! a dense array instead, and the byte comparisons are left to the few records between two
//! samples. One sample per [`SAMPLE`] records keeps the cost in memory to half a byte per
//! record (50 KB for 100,000 users), far inside what SPEC 6 allows a VM beyond the bundle.

use core::ops::Range;

/// Records per sample.
pub const SAMPLE: usize = 16;

/// The samples of one sorted table: every key's first bytes are `common`; sample `k` holds the
/// eight bytes after `common` of record `k * SAMPLE`'s key, big-endian and zero-padded, so
/// samples are ordered like the keys they start (`a <= b` implies `sample(a) <= sample(b)`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct KeyIndex {
    common: Box<[u8]>,
    samples: Box<[u64]>,
}

/// A borrowed [`KeyIndex`], as [`super::Tables`] holds it. The empty one narrows nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct KeyIndexRef<'a> {
    common: &'a [u8],
    samples: &'a [u64],
}

impl KeyIndexRef<'_> {
    pub const EMPTY: KeyIndexRef<'static> = KeyIndexRef {
        common: &[],
        samples: &[],
    };
}

/// The eight bytes of `parts` joined, from byte `skip` on, big-endian, zero-padded.
fn window<const N: usize>(parts: [&[u8]; N], skip: usize) -> u64 {
    let mut word = [0u8; 8];
    let mut slots = word.iter_mut();
    let mut skip = skip;
    for part in parts {
        let part = match part.get(skip..) {
            Some(rest) => {
                skip = 0;
                rest
            }
            None => {
                skip -= part.len();
                continue;
            }
        };
        // The part first: `zip` takes from its first iterator before it finds the second
        // empty, and a slot taken at the end of a part would leave a zero between parts.
        for (byte, slot) in part.iter().zip(slots.by_ref()) {
            *slot = *byte;
        }
    }
    u64::from_be_bytes(word)
}

/// How many leading bytes the joined `a` and `b` share.
fn shared<const N: usize>(a: [&[u8]; N], b: [&[u8]; N]) -> usize {
    a.iter()
        .flat_map(|p| p.iter())
        .zip(b.iter().flat_map(|p| p.iter()))
        .take_while(|(x, y)| x == y)
        .count()
}

impl KeyIndex {
    /// The index of a table of `len` records sorted by `key` (the parts of record `i`'s key,
    /// joined). The first and last keys bound every other, so their shared prefix is every
    /// key's.
    pub fn build<'k, const N: usize>(len: usize, key: impl Fn(usize) -> [&'k [u8]; N]) -> KeyIndex {
        let Some(last) = len.checked_sub(1) else {
            return KeyIndex::default();
        };
        let (first, last) = (key(0), key(last));
        let common_len = shared(first, last);
        let common: Vec<u8> = first
            .iter()
            .flat_map(|p| p.iter())
            .take(common_len)
            .copied()
            .collect();
        let samples = (0..len)
            .step_by(SAMPLE)
            .map(|i| window(key(i), common_len))
            .collect();
        KeyIndex {
            common: common.into_boxed_slice(),
            samples,
        }
    }

    pub fn as_ref(&self) -> KeyIndexRef<'_> {
        KeyIndexRef {
            common: &self.common,
            samples: &self.samples,
        }
    }
}

impl KeyIndexRef<'_> {
    /// The records of the table (of `len` records) that may hold `key`: all of them when the
    /// index is empty or `key` does not start like every key of the table (then the search
    /// that follows decides, and finds nothing).
    #[inline]
    pub fn candidates(&self, key: &[u8], len: usize) -> Range<usize> {
        let rest = match key.split_at_checked(self.common.len()) {
            Some((head, rest)) if head == self.common => rest,
            _ => return 0..len,
        };
        if self.samples.is_empty() {
            return 0..len;
        }
        let probe = match rest.first_chunk::<8>() {
            Some(word) => u64::from_be_bytes(*word),
            None => window([rest], 0),
        };
        // Samples below `probe` start keys below `key`; samples above it, keys above.
        let below = self.samples.partition_point(|s| *s < probe);
        // Samples equal to `probe` (a shared prefix) leave their records open; usually none.
        let above = match self.samples.get(below) {
            Some(s) if *s == probe => self.samples.partition_point(|s| *s <= probe),
            _ => below,
        };
        let start = below.saturating_sub(1).saturating_mul(SAMPLE);
        let end = above.saturating_mul(SAMPLE).min(len);
        start.min(end)..end
    }
}

#[cfg(test)]
mod tests {
    use super::{window, KeyIndex, KeyIndexRef};

    /// Every key of a sorted table lies in its candidates; a key that is not in the table finds
    /// no record equal to it there either (the search over the candidates is what decides).
    #[test]
    fn candidates_hold_every_key() {
        let mut keys: Vec<String> = (0..1000)
            .map(|i| format!("u{i}@synth.example.com"))
            .collect();
        keys.extend((0..300).map(|i| format!("employee-with-long-name{i:04}@x.com")));
        keys.extend(["", "a", "ab", "ab\0", "ab\0\0\0\0\0\0\0\0x"].map(String::from));
        keys.sort();
        keys.dedup();
        for split in [0, 1, 3, 9] {
            let parts = |i: usize| {
                let k = keys[i].as_bytes();
                let (a, b) = k.split_at(split.min(k.len()));
                [a, b]
            };
            for table in [&keys[..], &keys[5..], &keys[..3], &keys[..0], &keys[1100..]] {
                let offset = table.as_ptr() as usize - keys.as_ptr() as usize;
                let offset = offset / core::mem::size_of::<String>();
                let index = KeyIndex::build(table.len(), |i| parts(offset + i));
                let index = index.as_ref();
                for (i, k) in table.iter().enumerate() {
                    let range = index.candidates(k.as_bytes(), table.len());
                    assert!(range.contains(&i), "{k:?} at {i} not in {range:?}");
                    assert!(range.len() <= table.len());
                }
                for probe in ["", "u", "u5", "zzz", "u999@synth.example.con", "a\0"] {
                    let range = index.candidates(probe.as_bytes(), table.len());
                    let want = table.binary_search_by(|k| k.as_str().cmp(probe)).is_ok();
                    let got = table[range]
                        .binary_search_by(|k| k.as_str().cmp(probe))
                        .is_ok();
                    assert_eq!(got, want, "{probe:?}");
                }
                assert!(index.candidates(b"x", table.len()).end <= table.len());
            }
        }
        let empty = KeyIndexRef::EMPTY;
        assert_eq!(empty.candidates(b"abc", 7), 0..7);
        assert_eq!(
            window([b"abc".as_slice(), b"defghijk"], 2),
            u64::from_be_bytes(*b"cdefghij")
        );
        assert_eq!(
            window([b"ab".as_slice(), b""], 0),
            u64::from_be_bytes(*b"ab\0\0\0\0\0\0")
        );
    }
}
