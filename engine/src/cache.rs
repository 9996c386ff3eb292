//! The verified-token cache (SPEC 6): a repeated token costs a keyed hash and a probe, not a
//! signature check, and tens of thousands of live tokens fit in a few MiB per VM.
//!
//! - Keyed by a 128-bit SipHash-1-3 of a [`Scope`] and the token bytes under a key drawn from
//!   the operating system's (in Envoy: the VM's WASI) random source when the cache is created.
//!   Only the 128-bit value is stored, never the token. `docs/security.md` ("Verified-token
//!   cache") gives the collision and forgery argument: finding a token whose key equals a cached
//!   one without knowing the cache key is a 2^-128 guess per stored entry. Without a random
//!   source the cache is off: every token is verified.
//! - Bounded: at most `capacity` entries of [`ENTRY_BYTES`] or so each, allocated as they
//!   fill, in a `hashbrown::HashTable` of slot indices over one slot vector. When full, the
//!   CLOCK hand evicts an entry whose window has closed for good, else one not used since the
//!   hand last passed it. Tokens over [`MAX_CACHED_TOKEN_BYTES`] are never cached.
//! - Only successes are cached, with their validity window (`exp`, `nbf`, `iat` and the clock
//!   skew) as two bounds; a lookup outside the window is a miss, so the full path runs and
//!   gives its own answer (`token_expired`...).
//! - Kept across bundles. Engines share a cache ([`crate::SharedTokenCache`]; the filter keeps
//!   one per VM), so a new bundle does not re-verify every live token. What carries over is
//!   only that the token's signature verified under its scope: the scope is a digest of every
//!   tenant setting verification reads (name, issuers, keys, audiences, algorithms, clock skew,
//!   identity providers), so a bundle that changes any of them has another scope and verifies
//!   again. The value (the caller as bundle indexes) is used only by the engine that stored it,
//!   which it names by a generation ([`TokenCache::next_generation`]); any other engine runs
//!   every check but the signature again against its own bundle (revoked `jti`s, users and
//!   virtual accounts by name, their state, mapped teams, `tokens_valid_after`) and stores its
//!   own value. So a push applies to a cached token on the first request after it.
//!   `docs/security.md` ("Verified-token cache") gives the whole argument.
//! - Single-threaded by design (`RefCell`): proxy-wasm runs one VM per worker thread.

use std::cell::{Cell, RefCell};
use std::hash::Hasher;

use hashbrown::HashTable;
use siphasher::sip128::{Hasher128, SipHasher13};

/// Entries a cache holds by default: 65,536 (about 3.6 MiB when full in wasm32,
/// nothing until tokens arrive). Envoy's `jwt_authn` keeps 100 unless configured.
pub const DEFAULT_CAPACITY: usize = 1 << 16;
/// Longer tokens are verified every time (Envoy's `jwt_authn` cache stops at 4 KiB too).
pub const MAX_CACHED_TOKEN_BYTES: usize = 4096;

/// When a verified token may be used: the one time rule, shared with `jwt::verify`.
pub use crate::jwt::Window;

/// Counters for the filter's metrics.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CacheStats {
    pub hits: u64,
    pub misses: u64,
    /// Entries dropped to make room for another.
    pub evictions: u64,
    /// Entries currently held.
    pub entries: usize,
    /// Most entries held at once; 0 when the cache is off.
    pub capacity: usize,
}

/// What verifying a token read besides the token: a digest of the settings of the tenant it
/// was verified for (its name, issuers, keys, audiences, algorithms, clock skew). Tokens are
/// cached per scope, so an entry is found only by an engine whose tenant verifies exactly as
/// the one that stored it (`Engine` computes it: `decide/principal.rs`, `scope_of`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scope(pub [u8; 32]);

/// A bounded map from (scope, token) to what verifying it established.
#[derive(Debug)]
pub struct TokenCache<V> {
    inner: RefCell<Inner<V>>,
    /// 0 when the cache is off (asked for, or no random key).
    capacity: usize,
    key: (u64, u64),
    hits: Cell<u64>,
    misses: Cell<u64>,
    evictions: Cell<u64>,
    /// The last generation handed out ([`TokenCache::next_generation`]).
    generation: Cell<u32>,
}

#[derive(Debug)]
struct Inner<V> {
    /// Indices into `slots`, hashed by the low half of each slot's key.
    index: HashTable<u32>,
    slots: Pages<Slot<V>>,
    /// The CLOCK hand: the next slot considered for eviction.
    hand: usize,
}

#[derive(Debug)]
struct Slot<V> {
    key: Key,
    /// The window as `from <= now < until` in Unix seconds (see [`bounds`] and [`Slot::new`]).
    from: u32,
    until: u32,
    /// Used since the hand last passed.
    referenced: bool,
    value: V,
}

impl<V> Slot<V> {
    /// `None` when the window cannot be held in 32-bit seconds without admitting a time the
    /// window does not (it opens after 2106): such a token is not cached. A window that closes
    /// after 2106 is cut short there, and one that opened before 1970 opens in 1970: both only
    /// ever turn a hit into a miss.
    fn new(key: Key, window: &Window, value: V) -> Option<Slot<V>> {
        let (from, until) = bounds(window);
        Some(Slot {
            key,
            from: u32::try_from(from.max(0)).ok()?,
            until: u32::try_from(until.clamp(0, i64::from(u32::MAX))).ok()?,
            referenced: false,
            value,
        })
    }

    fn admits(&self, now: i64) -> bool {
        i64::from(self.from) <= now && now < i64::from(self.until)
    }

    fn closed(&self, now: i64) -> bool {
        now >= i64::from(self.until)
    }
}

/// 128-bit keyed hash of (tenant, token), as 32-bit words: a slot needs no 8-byte alignment.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Key([u32; 4]);

impl Key {
    fn probe(self) -> u64 {
        let [a, b, ..] = self.0;
        u64::from(a) | (u64::from(b) << 32)
    }
}

/// Slots in pages of [`PAGE`], allocated as the cache fills: growing never copies the slots
/// (nor holds two copies of them), so memory follows the entries.
#[derive(Debug)]
struct Pages<T> {
    pages: Vec<Vec<T>>,
    len: usize,
}

const PAGE: usize = 1024;

impl<T> Pages<T> {
    fn new() -> Pages<T> {
        Pages {
            pages: Vec::new(),
            len: 0,
        }
    }

    fn len(&self) -> usize {
        self.len
    }

    fn get(&self, i: usize) -> Option<&T> {
        self.pages.get(i / PAGE)?.get(i % PAGE)
    }

    fn get_mut(&mut self, i: usize) -> Option<&mut T> {
        self.pages.get_mut(i / PAGE)?.get_mut(i % PAGE)
    }

    fn push(&mut self, value: T) {
        match self.pages.last_mut() {
            Some(page) if page.len() < PAGE => page.push(value),
            _ => {
                let mut page = Vec::with_capacity(PAGE);
                page.push(value);
                self.pages.push(page);
            }
        }
        self.len += 1;
    }
}

/// Approximate bytes per entry on wasm32 for a value of `value_bytes` (4-byte aligned), for
/// sizing: the slot (key, window, mark) plus the index's share (a `u32` and a control byte at
/// 7/8 load, with room for the table's doubling).
pub const fn entry_bytes(value_bytes: usize) -> usize {
    16 + 8 + 4 + value_bytes + 10
}

/// [`entry_bytes`] for the engine's cached caller (a generation, a principal and a boxed slice
/// on wasm32).
pub const ENTRY_BYTES: usize = entry_bytes(20);

impl<V> TokenCache<V> {
    /// A cache of at most `capacity` entries (0 turns it off) under a fresh random key.
    pub fn new(capacity: usize) -> TokenCache<V> {
        let mut seed = [0u8; 16];
        match getrandom::getrandom(&mut seed) {
            Ok(()) => {
                let (k0, k1) = seed.split_at(8);
                let word = |b: &[u8]| u64::from_le_bytes(b.try_into().unwrap_or([0; 8]));
                TokenCache::with_key(capacity, (word(k0), word(k1)))
            }
            // No secret key, no cache: a guessable key would let tokens be forged to collide.
            Err(_) => TokenCache::with_key(0, (0, 0)),
        }
    }

    fn with_key(capacity: usize, key: (u64, u64)) -> TokenCache<V> {
        TokenCache {
            inner: RefCell::new(Inner {
                index: HashTable::new(),
                slots: Pages::new(),
                hand: 0,
            }),
            // Slot indices are u32.
            capacity: capacity.min(u32::MAX as usize),
            key,
            hits: Cell::new(0),
            misses: Cell::new(0),
            evictions: Cell::new(0),
            generation: Cell::new(0),
        }
    }

    /// A number no other user of this cache holds (each engine sharing it takes one), for
    /// values to say who stored them. Never 0. Should the count ever wrap, every entry is
    /// dropped first, so no value can carry a number handed out twice.
    pub fn next_generation(&self) -> u32 {
        let next = match self.generation.get().checked_add(1) {
            Some(next) => next,
            None => {
                self.clear();
                1
            }
        };
        self.generation.set(next);
        next
    }

    /// `f` of the value stored for this token in this scope, if its window admits `now`.
    pub fn get<R>(
        &self,
        scope: &Scope,
        token: &[u8],
        now: i64,
        f: impl FnOnce(&V) -> R,
    ) -> Option<R> {
        let found = self.key_of(scope, token).and_then(|key| {
            let mut inner = self.inner.try_borrow_mut().ok()?;
            let Inner { index, slots, .. } = &mut *inner;
            let at = *index.find(key.probe(), |&i| {
                slots.get(i as usize).is_some_and(|s| s.key == key)
            })?;
            let slot = slots.get_mut(at as usize)?;
            if slot.admits(now) {
                slot.referenced = true;
                Some(f(&slot.value))
            } else {
                None
            }
        });
        let counter = if found.is_some() {
            &self.hits
        } else {
            &self.misses
        };
        counter.set(counter.get().wrapping_add(1));
        found
    }

    /// Remembers a token that verified, replacing what the same token had.
    pub fn insert(&self, scope: &Scope, token: &[u8], window: Window, now: i64, value: V) {
        let Some(key) = self.key_of(scope, token) else {
            return;
        };
        let Some(slot) = Slot::new(key, &window, value) else {
            return;
        };
        let Ok(mut inner) = self.inner.try_borrow_mut() else {
            return;
        };
        let Inner { index, slots, hand } = &mut *inner;
        let probe_of =
            |slots: &Pages<Slot<V>>, i: u32| slots.get(i as usize).map_or(0, |s| s.key.probe());
        if let Some(&at) = index.find(key.probe(), |&i| {
            slots.get(i as usize).is_some_and(|s| s.key == key)
        }) {
            if let Some(old) = slots.get_mut(at as usize) {
                *old = slot;
            }
            return;
        }
        if slots.len() < self.capacity {
            let Ok(at) = u32::try_from(slots.len()) else {
                return;
            };
            slots.push(slot);
            index.insert_unique(key.probe(), at, |&i| probe_of(slots, i));
            return;
        }
        let Some(victim) = clock_victim(slots, hand, now) else {
            return;
        };
        let Some(old) = slots.get(victim).map(|s| s.key) else {
            return;
        };
        let Ok(at) = u32::try_from(victim) else {
            return;
        };
        if let Ok(entry) = index.find_entry(old.probe(), |&i| i == at) {
            entry.remove();
        }
        if let Some(place) = slots.get_mut(victim) {
            *place = slot;
        }
        index.insert_unique(key.probe(), at, |&i| probe_of(slots, i));
        self.evictions.set(self.evictions.get().wrapping_add(1));
    }

    pub fn stats(&self) -> CacheStats {
        CacheStats {
            hits: self.hits.get(),
            misses: self.misses.get(),
            evictions: self.evictions.get(),
            entries: self.inner.try_borrow().map_or(0, |inner| inner.slots.len()),
            capacity: self.capacity,
        }
    }

    /// Drops every entry and frees their memory (counters are kept).
    pub fn clear(&self) {
        if let Ok(mut inner) = self.inner.try_borrow_mut() {
            *inner = Inner {
                index: HashTable::new(),
                slots: Pages::new(),
                hand: 0,
            };
        }
    }

    /// `None` when the token is not cached at all (cache off, or the token too long).
    fn key_of(&self, scope: &Scope, token: &[u8]) -> Option<Key> {
        if self.capacity == 0 || token.len() > MAX_CACHED_TOKEN_BYTES {
            return None;
        }
        let mut h = SipHasher13::new_with_keys(self.key.0, self.key.1);
        // Fixed-width scope first, then the token: no two (scope, token) pairs share input.
        h.write(&scope.0);
        h.write(token);
        let out = h.finish128();
        let halves = |w: u64| [w as u32, (w >> 32) as u32];
        let ([a, b], [c, d]) = (halves(out.h1), halves(out.h2));
        Some(Key([a, b, c, d]))
    }
}

/// The slot CLOCK evicts: the first, from the hand on, whose window has closed for good or
/// that was not used since the hand last passed (clearing the mark of those it passes). At most
/// two turns: after one, every mark is clear.
fn clock_victim<V>(slots: &mut Pages<Slot<V>>, hand: &mut usize, now: i64) -> Option<usize> {
    let len = slots.len();
    for _ in 0..=2 * len {
        let at = *hand % len.max(1);
        *hand = (at + 1) % len.max(1);
        let slot = slots.get_mut(at)?;
        if slot.closed(now) || !slot.referenced {
            return Some(at);
        }
        slot.referenced = false;
    }
    None
}

/// [`Window::admits`] as two bounds: `admits(now)` exactly when `from <= now < until`.
fn bounds(w: &Window) -> (i64, i64) {
    let until = w.exp.saturating_add(w.skew);
    let from = [w.nbf, w.iat]
        .into_iter()
        .flatten()
        .map(|t| t.saturating_sub(w.skew))
        .max()
        .unwrap_or(i64::MIN);
    (from, until)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn window(exp: i64) -> Window {
        Window {
            exp,
            nbf: None,
            iat: None,
            skew: 0,
        }
    }

    fn scope(n: u32) -> Scope {
        let mut bytes = [0u8; 32];
        bytes[..4].copy_from_slice(&n.to_le_bytes());
        Scope(bytes)
    }

    fn get(cache: &TokenCache<u32>, scope_number: u32, token: &[u8], now: i64) -> Option<u32> {
        cache.get(&scope(scope_number), token, now, |v| *v)
    }

    #[test]
    fn hit_needs_same_token_scope_and_open_window() {
        let cache = TokenCache::new(8);
        cache.insert(&scope(0), b"token-a", window(100), 10, 7u32);
        assert_eq!(get(&cache, 0, b"token-a", 50), Some(7));
        assert_eq!(get(&cache, 1, b"token-a", 50), None, "other scope");
        assert_eq!(get(&cache, 0, b"token-b", 50), None);
        assert_eq!(get(&cache, 0, b"token-a!", 50), None);
        assert_eq!(get(&cache, 0, b"token-a", 100), None, "expired");
        let stats = cache.stats();
        assert_eq!((stats.hits, stats.misses, stats.entries), (1, 4, 1));
        cache.insert(&scope(0), b"token-a", window(200), 10, 8u32);
        assert_eq!(get(&cache, 0, b"token-a", 150), Some(8), "replaced");
        assert_eq!(cache.stats().entries, 1);
        cache.clear();
        assert_eq!(get(&cache, 0, b"token-a", 50), None);
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
        assert_eq!(bounds(&w), (25, 105));
    }

    proptest! {
        /// The two bounds the cache stores say exactly what `Window::admits` says, including
        /// at the ends of the integer range (claims are any JSON integer).
        #[test]
        fn bounds_agree_with_admits(
            exp in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), -50i64..50],
            nbf in proptest::option::of(prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), -50i64..50]),
            iat in proptest::option::of(prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), -50i64..50]),
            skew in prop_oneof![Just(0i64), Just(i64::MAX), 0i64..20],
            now in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), -60i64..60],
        ) {
            let w = Window { exp, nbf, iat, skew };
            let (from, until) = bounds(&w);
            prop_assert_eq!(w.admits(now), from <= now && now < until);
        }
    }

    proptest! {
        /// What the cache keeps of a window (32-bit seconds) never admits a time the window
        /// does not: it may only miss, and inside a window that fits, it hits.
        #[test]
        fn a_hit_is_always_inside_the_window(
            exp in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), -50i64..50, 4_294_967_200i64..4_294_967_400],
            nbf in proptest::option::of(prop_oneof![Just(i64::MAX), any::<i64>(), -50i64..50, 4_294_967_200i64..4_294_967_400]),
            skew in prop_oneof![Just(0i64), Just(i64::MAX), 0i64..20],
            now in prop_oneof![Just(i64::MIN), Just(i64::MAX), any::<i64>(), -60i64..60, 4_294_967_200i64..4_294_967_400],
        ) {
            let w = Window { exp, nbf, iat: None, skew };
            let cache = TokenCache::new(1);
            cache.insert(&scope(0), b"t", w, 0, 1u32);
            if get(&cache, 0, b"t", now).is_some() {
                prop_assert!(w.admits(now), "{w:?} at {now}");
            }
            let (from, until) = bounds(&w);
            let fits = |t: i64| (0..=i64::from(u32::MAX)).contains(&t);
            if fits(until) && (fits(from) || from < 0) && w.admits(now) && now >= 0 {
                prop_assert_eq!(get(&cache, 0, b"t", now), Some(1));
            }
        }
    }

    #[test]
    fn bounded_evicts_with_clock() {
        let cache = TokenCache::new(4);
        for i in 0..4u32 {
            cache.insert(
                &scope(0),
                format!("token-{i}").as_bytes(),
                window(100),
                0,
                i,
            );
        }
        assert_eq!(cache.stats().entries, 4);
        // token-0 and token-1 used: the hand clears their marks and takes token-2.
        assert_eq!(get(&cache, 0, b"token-0", 0), Some(0));
        assert_eq!(get(&cache, 0, b"token-1", 0), Some(1));
        cache.insert(&scope(0), b"token-4", window(100), 0, 4);
        assert_eq!(get(&cache, 0, b"token-2", 0), None, "evicted");
        for kept in [0u32, 1, 3, 4] {
            let token = format!("token-{kept}");
            assert_eq!(get(&cache, 0, token.as_bytes(), 0), Some(kept), "{token}");
        }
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.capacity, stats.evictions), (4, 4, 1));
        for i in 0..1000u32 {
            cache.insert(&scope(0), format!("t-{i}").as_bytes(), window(100), 0, i);
        }
        assert_eq!(cache.stats().entries, 4);
        assert_eq!(cache.stats().evictions, 1001);
        // The last insert is always findable.
        assert_eq!(get(&cache, 0, b"t-999", 0), Some(999));
    }

    #[test]
    fn expired_entries_go_first() {
        let cache = TokenCache::new(2);
        cache.insert(&scope(0), b"short", window(10), 0, 1u32);
        cache.insert(&scope(0), b"long", window(1000), 0, 2u32);
        assert_eq!(get(&cache, 0, b"short", 5), Some(1));
        assert_eq!(get(&cache, 0, b"long", 5), Some(2));
        // Both marked; at 20 `short` has expired for good and goes, though marked.
        cache.insert(&scope(0), b"new", window(1000), 20, 3u32);
        assert_eq!(get(&cache, 0, b"long", 20), Some(2));
        assert_eq!(get(&cache, 0, b"new", 20), Some(3));
    }

    #[test]
    fn holds_every_token_up_to_capacity() {
        let cache = TokenCache::new(50_000);
        for i in 0..50_000u32 {
            cache.insert(
                &scope(i % 3),
                format!("token-{i}").as_bytes(),
                window(100),
                0,
                i,
            );
        }
        let stats = cache.stats();
        assert_eq!((stats.entries, stats.evictions), (50_000, 0));
        let misses = (0..50_000u32)
            .filter(|i| get(&cache, i % 3, format!("token-{i}").as_bytes(), 0) != Some(*i))
            .count();
        assert_eq!(misses, 0);
    }

    #[test]
    fn generations_are_distinct_and_never_zero() {
        let cache: TokenCache<u32> = TokenCache::new(4);
        let (a, b) = (cache.next_generation(), cache.next_generation());
        assert!(a != 0 && b != 0 && a != b);
        cache.insert(&scope(0), b"t", window(100), 0, 1);
        // Wrapping around drops every entry: none can carry a number handed out again.
        cache.generation.set(u32::MAX);
        assert_eq!(cache.next_generation(), 1);
        assert_eq!(get(&cache, 0, b"t", 0), None);
    }

    #[test]
    fn off_and_oversized() {
        let long = vec![b'x'; MAX_CACHED_TOKEN_BYTES + 1];
        let cache = TokenCache::new(4);
        cache.insert(&scope(0), &long, window(100), 0, 1u32);
        assert_eq!(get(&cache, 0, &long, 0), None);
        assert_eq!(cache.stats().entries, 0);
        let off = TokenCache::new(0);
        off.insert(&scope(0), b"t", window(100), 0, 1u32);
        assert_eq!(get(&off, 0, b"t", 0), None);
        assert_eq!(off.stats().capacity, 0);
    }

    #[test]
    fn keys_differ_per_cache_and_per_scope() {
        let a: TokenCache<u32> = TokenCache::new(4);
        let b: TokenCache<u32> = TokenCache::new(4);
        let ka = a.key_of(&scope(0), b"token");
        assert_ne!(
            ka,
            b.key_of(&scope(0), b"token"),
            "a fresh random key per cache"
        );
        assert_ne!(ka, a.key_of(&scope(1), b"token"));
        assert_ne!(
            a.key_of(&scope(0), b"\0token"),
            a.key_of(&scope(0), b"token")
        );
    }
}
