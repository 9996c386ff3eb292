//! ES256 verification (Gatehouse's own 32-bit P-256 arithmetic) against the RustCrypto `p256`
//! crate: random keys and messages, valid signatures and mutated ones (flipped bits in r, s and the
//! message; r or s zero, n, above n; high-S; other keys), asserting that both accept exactly the
//! same signatures. Through `jwt::verify_raw`: the key preparation and verification code of a
//! token.
#![expect(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "test code: a panic is a test failure"
)]

use gatehouse_engine::jwt::verify_raw;
use gatehouse_engine::model::{Algorithm, Curve, Jwk, KeyMaterial};
use p256::ecdsa::signature::{Signer as _, Verifier as _};
use p256::ecdsa::{Signature, SigningKey, VerifyingKey};
use proptest::prelude::*;

/// The group order, big-endian.
const N: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

fn jwk(key: &VerifyingKey) -> Jwk {
    let point = key.to_encoded_point(false);
    Jwk {
        kid: None,
        alg: None,
        material: KeyMaterial::Ec {
            curve: Curve::P256,
            x: point.x().unwrap().to_vec(),
            y: point.y().unwrap().to_vec(),
        },
    }
}

fn reference(key: &VerifyingKey, message: &[u8], signature: &[u8]) -> bool {
    Signature::from_slice(signature).is_ok_and(|sig| key.verify(message, &sig).is_ok())
}

fn ours(key: &Jwk, message: &[u8], signature: &[u8]) -> bool {
    verify_raw(Algorithm::ES256, key, message, signature).unwrap()
}

/// Big-endian 32-byte a - b mod 2^256, a + b mod 2^256.
fn sub(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        out[i] = d.rem_euclid(256) as u8;
        borrow = i16::from(d < 0);
    }
    out
}

fn add(a: &[u8], b: &[u8]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut carry = 0u16;
    for i in (0..32).rev() {
        let s = u16::from(a[i]) + u16::from(b[i]) + carry;
        out[i] = s as u8;
        carry = s >> 8;
    }
    out
}

fn with_r(sig: &[u8], r: &[u8]) -> Vec<u8> {
    [r, &sig[32..]].concat()
}

fn with_s(sig: &[u8], s: &[u8]) -> Vec<u8> {
    [&sig[..32], s].concat()
}

/// The mutations of one valid signature, each labelled; `expect` says what both must answer
/// when the answer is known independently of either verifier.
fn variants(
    sig: &[u8],
    other_sig: &[u8],
    bit: usize,
    k: &[u8; 32],
) -> Vec<(&'static str, Vec<u8>, Option<bool>)> {
    let mut flip_r = sig.to_vec();
    flip_r[bit / 8 % 32] ^= 1 << (bit % 8);
    let mut flip_s = sig.to_vec();
    flip_s[32 + bit / 8 % 32] ^= 1 << (bit % 8);
    let zero = [0u8; 32];
    let ones = [0xffu8; 32];
    let high_s = sub(&N, &sig[32..]);
    let mut k_small = *k;
    k_small[0] = 0; // some value below 2^248 < n
    vec![
        ("valid", sig.to_vec(), Some(true)),
        ("flipped bit in r", flip_r, None),
        ("flipped bit in s", flip_s, None),
        ("high-s (n - s)", with_s(sig, &high_s), None),
        ("r = 0", with_r(sig, &zero), Some(false)),
        ("s = 0", with_s(sig, &zero), Some(false)),
        ("r = n", with_r(sig, &N), Some(false)),
        ("s = n", with_s(sig, &N), Some(false)),
        ("r = 2^256 - 1", with_r(sig, &ones), Some(false)),
        ("s = 2^256 - 1", with_s(sig, &ones), Some(false)),
        ("r + n", with_r(sig, &add(&sig[..32], &N)), None),
        ("s + n", with_s(sig, &add(&sig[32..], &N)), None),
        ("r = n + k", with_r(sig, &add(&N, &k_small)), Some(false)),
        ("s = n + k", with_s(sig, &add(&N, &k_small)), Some(false)),
        ("r = k", with_r(sig, k), None),
        ("s = k", with_s(sig, k), None),
        ("r and s swapped", [&sig[32..], &sig[..32]].concat(), None),
        ("another key's signature", other_sig.to_vec(), None),
        ("random", [k.as_slice(), k.as_slice()].concat(), None),
        ("63 bytes", sig[..63].to_vec(), Some(false)),
        ("65 bytes", [sig, &[0]].concat(), Some(false)),
        ("empty", Vec::new(), Some(false)),
    ]
}

fn signing_key(seed: &[u8; 32]) -> Option<SigningKey> {
    SigningKey::from_bytes(&(*seed).into()).ok()
}

/// Cases per run: 300 in release builds (`cargo test --release`, as docs/security.md reports), fewer
/// in the debug builds CI runs, where both verifiers are ~20x slower.
const CASES: u32 = if cfg!(debug_assertions) { 40 } else { 300 };

proptest! {
    #![proptest_config(ProptestConfig::with_cases(CASES))]

    #[test]
    fn es256_agrees_with_the_p256_crate(
        seed in any::<[u8; 32]>(),
        other_seed in any::<[u8; 32]>(),
        message in proptest::collection::vec(any::<u8>(), 0..200),
        bit in 0usize..512,
        k in any::<[u8; 32]>(),
    ) {
        let (Some(signer), Some(other)) = (signing_key(&seed), signing_key(&other_seed)) else {
            return Err(TestCaseError::reject("scalar out of range"));
        };
        let key = *signer.verifying_key();
        let jwk = jwk(&key);
        let sig: Signature = signer.sign(&message);
        let other_sig: Signature = other.sign(&message);
        let sig = sig.to_bytes();
        for (what, candidate, expect) in variants(&sig, &other_sig.to_bytes(), bit, &k) {
            let want = reference(&key, &message, &candidate);
            prop_assert_eq!(ours(&jwk, &message, &candidate), want, "{}", what);
            if let Some(expect) = expect {
                prop_assert_eq!(want, expect, "{}", what);
            }
        }
        // The message changed by one bit, or by a byte appended.
        let mut flipped = message.clone();
        if let Some(byte) = flipped.get_mut(bit / 8 % message.len().max(1)) {
            *byte ^= 1 << (bit % 8);
        } else {
            flipped.push(1);
        }
        prop_assert!(!reference(&key, &flipped, &sig));
        prop_assert!(!ours(&jwk, &flipped, &sig));
        // Another key must not verify it.
        prop_assert!(!ours(&self::jwk(other.verifying_key()), &message, &sig));
    }
}

/// Both halves of high-S: a signature and its n - s twin verify alike, and the p256 crate accepts
/// both (RFC 7518 does not ask for low-S).
#[test]
fn high_s_is_accepted_like_the_reference() {
    let signer = signing_key(&[7; 32]).unwrap();
    let key = *signer.verifying_key();
    let jwk = jwk(&key);
    for i in 0u32..64 {
        let message = i.to_be_bytes();
        let sig: Signature = signer.sign(&message);
        let sig = sig.to_bytes();
        let twin = with_s(&sig, &sub(&N, &sig[32..]));
        for candidate in [sig.to_vec(), twin] {
            assert!(reference(&key, &message, &candidate));
            assert!(ours(&jwk, &message, &candidate));
        }
    }
}

#[test]
fn keys_off_the_curve_are_refused() {
    let key = *signing_key(&[9; 32]).unwrap().verifying_key();
    let mut jwk = jwk(&key);
    if let KeyMaterial::Ec { y, .. } = &mut jwk.material {
        y[31] ^= 1;
    }
    let err = verify_raw(Algorithm::ES256, &jwk, b"m", &[1; 64])
        .unwrap_err()
        .to_string();
    assert!(err.contains("not on the curve"), "{err}");
}
