//! The verified-token cache (SPEC 6): a repeated token costs a hash, a probe and a comparison,
//! not a signature check.
//!
//! - Bounded: a fixed number of entries (two-way set associative, allocated once), and tokens
//!   over [`MAX_CACHED_TOKEN_BYTES`] are never cached, so the memory is at most
//!   `capacity * (MAX_CACHED_TOKEN_BYTES + entry)`.
//! - Keyed by a fast non-cryptographic hash of the token bytes (SHA-256 would cost more than
//!   the HMAC it saves in wasm), then a full comparison of the stored token: a hash collision can
//!   only cost a miss, never let one token pass for another.
//! - Only successes are cached, together with their validity window (`exp`, `nbf`, `iat` and
//!   the clock skew); a lookup outside the window is a miss, so the full path runs and gives its
//!   own answer (`token_expired`...). Whatever the cached value depends on besides time comes
//!   from the bundle, and the cache belongs to the [`Engine`](crate::Engine) holding that
//!   bundle: a new bundle is a new engine with an empty cache.
//! - Single-threaded by design (`RefCell`): proxy-wasm runs one VM per worker thread.

use std::cell::{Cell, RefCell};

/// Entries an engine's cache holds by default (Envoy's `jwt_authn` keeps 100).
pub const DEFAULT_CAPACITY: usize = 256;
/// Longer tokens are verified every time (Envoy's `jwt_authn` cache stops at 4 KiB too).
pub const MAX_CACHED_TOKEN_BYTES: usize = 4096;

/// When a verified token may be used: the one time rule, shared with `jwt::verify`.
pub use crate::jwt::Window;

/// Counters for the filter's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Entries currently held.
    pub entries: usize,
    pub capacity: usize,
}

/// A bounded map from (tenant, token) to what verifying it established.
#[derive(Debug)]
pub struct TokenCache<V> {
    /// `sets * 2` slots; set `i` is slots `2i` and `2i + 1`.
    slots: RefCell<Vec<Option<Entry<V>>>>,
    /// Power of two.
    sets: usize,
    seed: u64,
    clock: Cell<u64>,
    hits: Cell<u64>,
    misses: Cell<u64>,
}

#[derive(Debug)]
struct Entry<V> {
    hash: u64,
    tenant: u32,
    token: Box<[u8]>,
    window: Window,
    /// Last use, for choosing the victim within a set.
    used: u64,
    value: V,
}

impl<V: Clone> TokenCache<V> {
    /// `capacity` is rounded up to an even power of two; 0 disables the cache. `seed` varies
    /// the hash (the engine uses bytes of the bundle digest).
    pub fn new(capacity: usize, seed: u64) -> TokenCache<V> {
        let sets = if capacity == 0 {
            0
        } else {
            capacity.div_ceil(2).next_power_of_two()
        };
        let mut slots = Vec::new();
        slots.resize_with(sets * 2, || None);
        TokenCache {
            slots: RefCell::new(slots),
            sets,
            seed,
            clock: Cell::new(0),
            hits: Cell::new(0),
            misses: Cell::new(0),
        }
    }

    /// The value stored for this token in this tenant, if its window admits `now`.
    pub fn get(&self, tenant: u32, token: &[u8], now: i64) -> Option<V> {
        if self.sets == 0 || token.len() > MAX_CACHED_TOKEN_BYTES {
            return None;
        }
        let hash = hash(self.seed, token);
        let tick = self.tick();
        let found = self.slots.try_borrow_mut().ok().and_then(|mut slots| {
            let set = self.set(hash);
            slots.get_mut(set..set + 2)?.iter_mut().find_map(|slot| {
                let entry = slot.as_mut()?;
                let matches = entry.hash == hash
                    && entry.tenant == tenant
                    && same(&entry.token, token)
                    && entry.window.admits(now);
                matches.then(|| {
                    entry.used = tick;
                    entry.value.clone()
                })
            })
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.set(counter.get().wrapping_add(1));
        found
    }

    /// Remembers a token that verified. Evicts, within its set, an empty slot first, then one
    /// whose window has closed for good, then the least recently used.
    pub fn insert(&self, tenant: u32, token: &[u8], window: Window, now: i64, value: V) {
        if self.sets == 0 || token.len() > MAX_CACHED_TOKEN_BYTES {
            return;
        }
        let hash = hash(self.seed, token);
        let tick = self.tick();
        let Ok(mut slots) = self.slots.try_borrow_mut() else {
            return;
        };
        let set = self.set(hash);
        let Some(pair) = slots.get_mut(set..set + 2) else {
            return;
        };
        let rank = |slot: &Option<Entry<V>>| match slot {
            None => (0, 0),
            Some(e) if now >= e.window.exp.saturating_add(e.window.skew) => (1, e.used),
            Some(e) => (2, e.used),
        };
        let victim = pair.iter_mut().min_by_key(|slot| rank(slot));
        if let Some(slot) = victim {
            *slot = Some(Entry {
                hash,
                tenant,
                token: token.into(),
                window,
                used: tick,
                value,
            });
        }
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.get(),
            misses: self.misses.get(),
            entries: self
                .slots
                .try_borrow()
                .map_or(0, |slots| slots.iter().filter(|s| s.is_some()).count()),
            capacity: self.sets * 2,
        }
    }

    /// Drops every entry (counters are kept).
    pub fn clear(&self) {
        if let Ok(mut slots) = self.slots.try_borrow_mut() {
            slots.iter_mut().for_each(|s| *s = None);
        }
    }

    fn set(&self, hash: u64) -> usize {
        // `sets` is a power of two; the high bits are the best mixed.
        ((hash >> 32) as usize & (self.sets - 1)) * 2
    }

    fn tick(&self) -> u64 {
        let t = self.clock.get().wrapping_add(1);
        self.clock.set(t);
        t
    }
}

const K: u64 = 0x9E37_79B9_7F4A_7C15;

/// Eight bytes at a time, multiply-rotate, then a final avalanche. Only has to spread tokens
/// over the sets: equality is decided by [`same`].
fn hash(seed: u64, bytes: &[u8]) -> u64 {
    let mut h = seed ^ (bytes.len() as u64).wrapping_mul(K);
    let mut chunks = bytes.chunks_exact(8);
    for chunk in &mut chunks {
        h = (h ^ word(chunk)).wrapping_mul(K).rotate_left(29);
    }
    h = (h ^ word(chunks.remainder())).wrapping_mul(K);
    h ^= h >> 32;
    h = h.wrapping_mul(0xD6E8_FEB8_6659_FD93);
    h ^ (h >> 32)
}

/// Up to eight bytes, little-endian, zero-padded.
fn word(bytes: &[u8]) -> u64 {
    let mut buf = [0u8; 8];
    let n = bytes.len().min(8);
    if let (Some(dst), Some(src)) = (buf.get_mut(..n), bytes.get(..n)) {
        dst.copy_from_slice(src);
    }
    u64::from_le_bytes(buf)
}

/// Equality a word at a time without an early exit: no timing hint of how much of a stored
/// (valid) token a guess matched. Byte-by-byte comparison is several times slower in wasm.
fn same(a: &[u8], b: &[u8]) -> bool {
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .chunks(8)
        .zip(b.chunks(8))
        .fold(0u64, |acc, (x, y)| acc | (word(x) ^ word(y)));
    diff == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(exp: i64) -> Window {
        Window {
            exp,
            nbf: None,
            iat: None,
            skew: 0,
        }
    }

    #[test]
    fn hit_needs_same_token_tenant_and_open_window() {
        let cache = TokenCache::new(8, 1);
        cache.insert(0, b"token-a", window(100), 10, 7u32);
        assert_eq!(cache.get(0, b"token-a", 50), Some(7));
        assert_eq!(cache.get(1, b"token-a", 50), None, "other tenant");
        assert_eq!(cache.get(0, b"token-b", 50), None);
        assert_eq!(cache.get(0, b"token-a!", 50), None);
        assert_eq!(cache.get(0, b"token-a", 100), None, "expired");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 4, 1));
        cache.clear();
        assert_eq!(cache.get(0, b"token-a", 50), None);
    }

    #[test]
    fn window_mirrors_the_claim_checks() {
        let w = Window {
            exp: 100,
            nbf: Some(20),
            iat: Some(30),
            skew: 5,
        };
        assert!(!w.admits(14), "before nbf - skew");
        assert!(!w.admits(24), "iat more than skew in the future");
        assert!(w.admits(25));
        assert!(w.admits(104));
        assert!(!w.admits(105));
    }

    #[test]
    fn bounded_and_evicts() {
        let cache = TokenCache::new(4, 0);
        for i in 0..1000u32 {
            cache.insert(0, format!("token-{i}").as_bytes(), window(100), 0, i);
        }
        assert!(cache.stats().entries <= 4);
        assert_eq!(cache.stats().capacity, 4);
        let long = vec![b'x'; MAX_CACHED_TOKEN_BYTES + 1];
        cache.insert(0, &long, window(100), 0, 1);
        assert_eq!(cache.get(0, &long, 0), None);
        let off = TokenCache::new(0, 0);
        off.insert(0, b"t", window(100), 0, 1u32);
        assert_eq!(off.get(0, b"t", 0), None);
    }

    #[test]
    fn word_compare() {
        assert!(same(b"", b""));
        assert!(same(b"abcdefghijk", b"abcdefghijk"));
        assert!(!same(b"abcdefghijk", b"abcdefghijj"));
        assert!(!same(b"abc", b"abcd"));
        assert_ne!(hash(0, b"abc"), hash(0, b"abd"));
        assert_ne!(hash(0, b"abc"), hash(1, b"abc"));
    }
}
