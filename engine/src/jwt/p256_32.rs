//! Verify-only ECDSA over NIST P-256 on 32-bit limbs, for ES256.
//!
//! wasm32 has no 64x64->128 multiply, so the field code is `fiat-crypto`'s formally verified
//! 32-bit Montgomery arithmetic (`p256_32` for the base field, `p256_scalar_32` for the group
//! order); only the point arithmetic and the ECDSA checks are written here:
//!
//! - points in Jacobian coordinates (a = -3 doubling "dbl-2001-b", mixed Jacobian + affine addition
//!   "madd-2007-bl"), with every exceptional case of the addition handled explicitly (either input
//!   at infinity, equal inputs -> doubling, opposite inputs -> infinity);
//! - u1 * G + u2 * Q by interleaved width-w NAF over sixteen 16-bit slices of each scalar,
//!   against precomputed affine tables of odd multiples of 2^(16 i) G (width 7, 32 KiB, built
//!   once per VM when the first P-256 key loads) and of 2^(16 i) Q (width 5, 8 KiB, built per key
//!   at bundle load): 17 doublings and about 75 mixed additions per verification;
//! - the ECDSA checks of SEC 1 section 4.1.4: r and s in [1, n - 1], e = H(m) mod n, R not at
//!   infinity, x(R) mod n == r, compared projectively (X == r Z^2, or (r + n) Z^2 when r + n < p)
//!   so no field inversion runs per signature; one scalar inversion (binary extended Euclid,
//!   checked against Fermat's s^(n-2) in the tests) does.
//!
//! Everything here handles public data only (key, signature, message): nothing needs to be
//! constant time. High-S signatures are accepted, as the `p256` crate and RFC 7518 accept them.
//! The key is validated twice at load: by the `p256` crate (in `keys.rs`) and by
//! [`P256Key::new`] (coordinates below p, on the curve).

use fiat_crypto::p256_32 as fp;
use fiat_crypto::p256_scalar_32 as fq;
use sha2::{Digest, Sha256};
use std::sync::OnceLock;

type Fe = fp::fiat_p256_montgomery_domain_field_element;
type Sc = fq::fiat_p256_scalar_montgomery_domain_field_element;
/// A 256-bit integer, little-endian 32-bit limbs.
type Limbs = [u32; 8];

/// p = 2^256 - 2^224 + 2^192 + 2^96 - 1.
const P: Limbs = [
    0xffff_ffff,
    0xffff_ffff,
    0xffff_ffff,
    0,
    0,
    0,
    1,
    0xffff_ffff,
];
/// The group order n.
const N: Limbs = [
    0xfc63_2551,
    0xf3b9_cac2,
    0xa717_9e84,
    0xbce6_faad,
    0xffff_ffff,
    0xffff_ffff,
    0,
    0xffff_ffff,
];
/// The curve's b (y^2 = x^3 - 3x + b).
const B: Limbs = [
    0x27d2_604b,
    0x3bce_3c3e,
    0xcc53_b0f6,
    0x651d_06b0,
    0x7698_86bc,
    0xb3eb_bd55,
    0xaa3a_93e7,
    0x5ac6_35d8,
];
const GX: Limbs = [
    0xd898_c296,
    0xf4a1_3945,
    0x2deb_33a0,
    0x7703_7d81,
    0x63a4_40f2,
    0xf8bc_e6e5,
    0xe12c_4247,
    0x6b17_d1f2,
];
const GY: Limbs = [
    0x37bf_51f5,
    0xcbb6_4068,
    0x6b31_5ece,
    0x2bce_3357,
    0x7c0f_9e16,
    0x8ee7_eb4a,
    0xfe1a_7f9b,
    0x4fe3_42e2,
];

/// The scalars are cut into `SLICES` slices of `SLICE_BITS` bits; the last takes position 256
/// too (a w-NAF of a 256-bit number has up to 257 digits).
const SLICES: usize = 16;
const SLICE_BITS: usize = 16;
const NAF_LEN: usize = 257;
/// w-NAF widths: digits are odd, |d| < 2^(w-1); a table holds d = 1, 3, .., 2^(w-1) - 1.
const G_WIDTH: u32 = 7;
const Q_WIDTH: u32 = 5;
const FE_ZERO: Fe = fp::fiat_p256_montgomery_domain_field_element([0; 8]);
const SC_ZERO: Sc = fq::fiat_p256_scalar_montgomery_domain_field_element([0; 8]);
const G_TABLE: usize = 1 << (G_WIDTH - 2);
const Q_TABLE: usize = 1 << (Q_WIDTH - 2);

// ---- field and scalar helpers -------------------------------------------------------------

fn fe_mul(a: &Fe, b: &Fe) -> Fe {
    let mut out = FE_ZERO;
    fp::fiat_p256_mul(&mut out, a, b);
    out
}

fn fe_sqr(a: &Fe) -> Fe {
    let mut out = FE_ZERO;
    fp::fiat_p256_square(&mut out, a);
    out
}

fn fe_add(a: &Fe, b: &Fe) -> Fe {
    let mut out = FE_ZERO;
    fp::fiat_p256_add(&mut out, a, b);
    out
}

fn fe_sub(a: &Fe, b: &Fe) -> Fe {
    let mut out = FE_ZERO;
    fp::fiat_p256_sub(&mut out, a, b);
    out
}

fn fe_neg(a: &Fe) -> Fe {
    let mut out = FE_ZERO;
    fp::fiat_p256_opp(&mut out, a);
    out
}

/// fiat's outputs are fully reduced (< p), so a value has one representation.
fn fe_is_zero(a: &Fe) -> bool {
    a.0 == [0; 8]
}

fn fe_eq(a: &Fe, b: &Fe) -> bool {
    a.0 == b.0
}

/// `v` must be < p.
fn fe_from_limbs(v: &Limbs) -> Fe {
    let mut out = FE_ZERO;
    fp::fiat_p256_to_montgomery(
        &mut out,
        &fp::fiat_p256_non_montgomery_domain_field_element(*v),
    );
    out
}

fn fe_one() -> Fe {
    let mut out = FE_ZERO;
    fp::fiat_p256_set_one(&mut out);
    out
}

/// a^(p - 2) = a^-1 (0 for 0). Load time only.
fn fe_invert(a: &Fe) -> Fe {
    let mut exp = P;
    exp[0] -= 2; // p's low limb is 2^32 - 1: no borrow.
    let mut table = [fe_one(); 16];
    let mut acc = fe_one();
    for slot in table.iter_mut().skip(1) {
        acc = fe_mul(&acc, a);
        *slot = acc;
    }
    let mut acc = fe_one();
    for nibble in nibbles_msb_first(&exp) {
        for _ in 0..4 {
            acc = fe_sqr(&acc);
        }
        if let Some(t) = table.get(usize::from(nibble)).filter(|_| nibble != 0) {
            acc = fe_mul(&acc, t);
        }
    }
    acc
}

fn sc_mul(a: &Sc, b: &Sc) -> Sc {
    let mut out = SC_ZERO;
    fq::fiat_p256_scalar_mul(&mut out, a, b);
    out
}

#[cfg(test)]
fn sc_sqr(a: &Sc) -> Sc {
    let mut out = SC_ZERO;
    fq::fiat_p256_scalar_square(&mut out, a);
    out
}

/// `v` must be < n.
fn sc_from_limbs(v: &Limbs) -> Sc {
    let mut out = SC_ZERO;
    fq::fiat_p256_scalar_to_montgomery(
        &mut out,
        &fq::fiat_p256_scalar_non_montgomery_domain_field_element(*v),
    );
    out
}

fn sc_to_limbs(a: &Sc) -> Limbs {
    let mut out = fq::fiat_p256_scalar_non_montgomery_domain_field_element([0; 8]);
    fq::fiat_p256_scalar_from_montgomery(&mut out, a);
    out.0
}

/// a^-1 mod n for a in [1, n - 1], by the binary extended Euclidean algorithm (variable time:
/// s is public). Invariants: x1 a = u and x2 a = v (mod n), gcd(u, v) = 1, x1 and x2 below n.
/// `None` for 0 (or if the loop ever ran past its bound, which a unit input cannot make it do).
fn inv_mod_n(a: &Limbs) -> Option<Limbs> {
    const ONE: Limbs = [1, 0, 0, 0, 0, 0, 0, 0];
    if *a == [0; 8] || !less_than(a, &N) {
        return None;
    }
    let (mut u, mut v) = (*a, N);
    let (mut x1, mut x2) = (ONE, [0u32; 8]);
    // Each round removes at least one bit from u or v: 2 * 256 rounds at most.
    for _ in 0..2 * 256 + 2 {
        while u.first().is_some_and(|l| l & 1 == 0) {
            shr1(&mut u, false);
            half_mod_n(&mut x1);
        }
        while v.first().is_some_and(|l| l & 1 == 0) {
            shr1(&mut v, false);
            half_mod_n(&mut x2);
        }
        if u == ONE {
            return Some(x1);
        }
        if v == ONE {
            return Some(x2);
        }
        // Both odd, distinct (coprime and not both 1): the difference is even and non-zero.
        if less_than(&u, &v) {
            v = sub_limbs(&v, &u);
            x2 = sub_mod_n(&x2, &x1);
        } else {
            u = sub_limbs(&u, &v);
            x1 = sub_mod_n(&x1, &x2);
        }
        if u == [0; 8] || v == [0; 8] {
            return None;
        }
    }
    None
}

/// v >>= 1, `top` shifted in as bit 255.
fn shr1(v: &mut Limbs, top: bool) {
    let mut carry = u32::from(top);
    for limb in v.iter_mut().rev() {
        let next = *limb & 1;
        *limb = (*limb >> 1) | (carry << 31);
        carry = next;
    }
}

/// x / 2 mod n, x < n.
fn half_mod_n(x: &mut Limbs) {
    if x.first().is_some_and(|l| l & 1 == 0) {
        shr1(x, false);
    } else {
        let (sum, carry) = add_limbs(x, &N);
        *x = sum;
        shr1(x, carry);
    }
}

/// x - y mod n, x and y < n.
fn sub_mod_n(x: &Limbs, y: &Limbs) -> Limbs {
    if less_than(x, y) {
        sub_limbs(&N, &sub_limbs(y, x))
    } else {
        sub_limbs(x, y)
    }
}

/// a^(n - 2) = a^-1 mod n, 4-bit fixed window: 252 squarings and at most 64 multiplications.
/// The reference [`inv_mod_n`] is tested against.
#[cfg(test)]
fn sc_invert(a: &Sc) -> Sc {
    let mut exp = N;
    exp[0] -= 2; // n's low limb is odd and > 2: no borrow.
    let mut one = SC_ZERO;
    fq::fiat_p256_scalar_set_one(&mut one);
    let mut table = [one; 16];
    let mut acc = one;
    for slot in table.iter_mut().skip(1) {
        acc = sc_mul(&acc, a);
        *slot = acc;
    }
    let mut acc = one;
    for nibble in nibbles_msb_first(&exp) {
        for _ in 0..4 {
            acc = sc_sqr(&acc);
        }
        if let Some(t) = table.get(usize::from(nibble)).filter(|_| nibble != 0) {
            acc = sc_mul(&acc, t);
        }
    }
    acc
}

fn nibbles_msb_first(v: &Limbs) -> impl Iterator<Item = u8> + '_ {
    v.iter()
        .rev()
        .flat_map(|limb| (0..8).rev().map(move |i| ((limb >> (4 * i)) & 0xf) as u8))
}

/// Big-endian 32 bytes to limbs.
fn limbs_from_be(bytes: &[u8; 32]) -> Limbs {
    let mut out = [0u32; 8];
    for (limb, chunk) in out.iter_mut().rev().zip(bytes.chunks_exact(4)) {
        let mut word = [0u8; 4];
        word.copy_from_slice(chunk);
        *limb = u32::from_be_bytes(word);
    }
    out
}

fn less_than(a: &Limbs, b: &Limbs) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

/// a + b and the carry out.
fn add_limbs(a: &Limbs, b: &Limbs) -> (Limbs, bool) {
    let mut out = [0u32; 8];
    let mut carry = 0u64;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let sum = u64::from(*x) + u64::from(*y) + carry;
        *o = sum as u32;
        carry = sum >> 32;
    }
    (out, carry != 0)
}

/// a - b, for a >= b.
fn sub_limbs(a: &Limbs, b: &Limbs) -> Limbs {
    let mut out = [0u32; 8];
    let mut borrow = 0i64;
    for ((o, x), y) in out.iter_mut().zip(a).zip(b) {
        let diff = i64::from(*x) - i64::from(*y) + borrow;
        *o = diff as u32;
        borrow = diff >> 32;
    }
    out
}

// ---- points -------------------------------------------------------------------------------

#[derive(Clone, Copy)]
struct Affine {
    x: Fe,
    y: Fe,
}

/// (X, Y, Z) stands for (X / Z^2, Y / Z^3); Z = 0 is the point at infinity.
#[derive(Clone, Copy)]
struct Jacobian {
    x: Fe,
    y: Fe,
    z: Fe,
}

impl Affine {
    fn on_curve(&self) -> bool {
        // y^2 == x^3 - 3x + b
        let x2 = fe_sqr(&self.x);
        let x3 = fe_mul(&x2, &self.x);
        let three_x = fe_add(&fe_add(&self.x, &self.x), &self.x);
        let rhs = fe_add(&fe_sub(&x3, &three_x), &fe_from_limbs(&B));
        fe_eq(&fe_sqr(&self.y), &rhs)
    }

    fn neg(&self) -> Affine {
        Affine {
            x: self.x,
            y: fe_neg(&self.y),
        }
    }

    fn to_jacobian(self) -> Jacobian {
        Jacobian {
            x: self.x,
            y: self.y,
            z: fe_one(),
        }
    }
}

impl Jacobian {
    fn infinity() -> Jacobian {
        Jacobian {
            x: fe_one(),
            y: fe_one(),
            z: FE_ZERO,
        }
    }

    fn is_infinity(&self) -> bool {
        fe_is_zero(&self.z)
    }

    /// "dbl-2001-b" (a = -3): 3M + 5S. P-256 has no point of order 2 (its order n is odd), so
    /// Y is never 0 for a finite point and the result is finite.
    fn double(&self) -> Jacobian {
        if self.is_infinity() {
            return *self;
        }
        let delta = fe_sqr(&self.z);
        let gamma = fe_sqr(&self.y);
        let beta = fe_mul(&self.x, &gamma);
        let t = fe_mul(&fe_sub(&self.x, &delta), &fe_add(&self.x, &delta));
        let alpha = fe_add(&fe_add(&t, &t), &t);
        let beta2 = fe_add(&beta, &beta);
        let beta4 = fe_add(&beta2, &beta2);
        let beta8 = fe_add(&beta4, &beta4);
        let x3 = fe_sub(&fe_sqr(&alpha), &beta8);
        let yz = fe_add(&self.y, &self.z);
        let z3 = fe_sub(&fe_sub(&fe_sqr(&yz), &gamma), &delta);
        let gamma2 = fe_sqr(&gamma);
        let g2 = fe_add(&gamma2, &gamma2);
        let g4 = fe_add(&g2, &g2);
        let g8 = fe_add(&g4, &g4);
        let y3 = fe_sub(&fe_mul(&alpha, &fe_sub(&beta4, &x3)), &g8);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }

    /// self + q, "madd-2007-bl": 7M + 4S, with the exceptional cases handled.
    fn add_affine(&self, q: &Affine) -> Jacobian {
        if self.is_infinity() {
            return q.to_jacobian();
        }
        let z1z1 = fe_sqr(&self.z);
        let u2 = fe_mul(&q.x, &z1z1);
        let s2 = fe_mul(&fe_mul(&q.y, &self.z), &z1z1);
        let h = fe_sub(&u2, &self.x);
        let s = fe_sub(&s2, &self.y);
        if fe_is_zero(&h) {
            // Same x: the same point (double it) or its opposite (the sum is infinity).
            return if fe_is_zero(&s) {
                self.double()
            } else {
                Jacobian::infinity()
            };
        }
        let hh = fe_sqr(&h);
        let i = fe_add(&fe_add(&hh, &hh), &fe_add(&hh, &hh));
        let j = fe_mul(&h, &i);
        let rr = fe_add(&s, &s);
        let v = fe_mul(&self.x, &i);
        let x3 = fe_sub(&fe_sub(&fe_sqr(&rr), &j), &fe_add(&v, &v));
        let y1j = fe_mul(&self.y, &j);
        let y3 = fe_sub(&fe_mul(&rr, &fe_sub(&v, &x3)), &fe_add(&y1j, &y1j));
        let zh = fe_add(&self.z, &h);
        let z3 = fe_sub(&fe_sub(&fe_sqr(&zh), &z1z1), &hh);
        Jacobian {
            x: x3,
            y: y3,
            z: z3,
        }
    }
}

/// Affine forms of finite points with one field inversion (Montgomery's trick); `None` if any
/// point is at infinity. Load time only.
fn normalize(points: &[Jacobian]) -> Option<Vec<Affine>> {
    let mut prefix = Vec::with_capacity(points.len());
    let mut acc = fe_one();
    for p in points {
        if p.is_infinity() {
            return None;
        }
        prefix.push(acc);
        acc = fe_mul(&acc, &p.z);
    }
    let mut inv = fe_invert(&acc); // 1 / (z_0 ... z_k)
    let mut out = vec![
        Affine {
            x: FE_ZERO,
            y: FE_ZERO
        };
        points.len()
    ];
    for ((p, before), slot) in points.iter().zip(&prefix).zip(out.iter_mut()).rev() {
        let zinv = fe_mul(&inv, before); // 1 / z_i
        inv = fe_mul(&inv, &p.z); // 1 / (z_0 ... z_(i-1))
        let zinv2 = fe_sqr(&zinv);
        *slot = Affine {
            x: fe_mul(&p.x, &zinv2),
            y: fe_mul(&p.y, &fe_mul(&zinv2, &zinv)),
        };
    }
    Some(out)
}

/// Odd multiples 1, 3, .., 2 LEN - 1 of 2^(SLICE_BITS i) P for each slice i, affine.
fn tables<const LEN: usize>(p: &Affine) -> Option<Box<[[Affine; LEN]; SLICES]>> {
    // The slice bases and their doubles, then all odd multiples: two inversions.
    let mut bases = Vec::with_capacity(2 * SLICES);
    let mut base = p.to_jacobian();
    for slice in 0..SLICES {
        if slice > 0 {
            for _ in 0..SLICE_BITS {
                base = base.double();
            }
        }
        bases.push(base);
        bases.push(base.double());
    }
    let bases = normalize(&bases)?;
    let mut jac = Vec::with_capacity(LEN * SLICES);
    for pair in bases.chunks_exact(2) {
        let [base, twice] = pair else {
            return None;
        };
        let mut m = base.to_jacobian();
        for _ in 0..LEN {
            jac.push(m);
            m = m.add_affine(twice);
        }
    }
    let affine = normalize(&jac)?;
    let blank = Affine {
        x: FE_ZERO,
        y: FE_ZERO,
    };
    let mut out = Box::new([[blank; LEN]; SLICES]);
    for (slot, point) in out.iter_mut().flatten().zip(affine) {
        *slot = point;
    }
    Some(out)
}

/// The tables of G, built on first use (the first P-256 key's load); `None` cannot happen (G and its multiples below n are
/// finite), and would make every verification fail.
fn g_tables() -> Option<&'static [[Affine; G_TABLE]; SLICES]> {
    static TABLES: OnceLock<Option<Box<[[Affine; G_TABLE]; SLICES]>>> = OnceLock::new();
    TABLES
        .get_or_init(|| {
            let g = Affine {
                x: fe_from_limbs(&GX),
                y: fe_from_limbs(&GY),
            };
            tables::<G_TABLE>(&g)
        })
        .as_deref()
}

/// w-NAF digits of `k` (< 2^256), least significant first: k = sum d_i 2^i, each d_i zero or odd
/// with |d_i| < 2^(w-1), and any two non-zero digits at least w positions apart.
fn wnaf(k: &Limbs, w: u32) -> [i8; NAF_LEN] {
    let mut naf = [0i8; NAF_LEN];
    let width = 1u64 << w;
    let mask = width - 1;
    let mut carry = 0u64;
    let mut pos = 0usize;
    while pos < NAF_LEN {
        let limb = pos / 32;
        let lo = u64::from(k.get(limb).copied().unwrap_or(0));
        let hi = u64::from(k.get(limb + 1).copied().unwrap_or(0));
        let bits = ((lo | (hi << 32)) >> (pos % 32)) & mask;
        let window = carry + bits;
        if window & 1 == 0 {
            pos += 1;
            continue;
        }
        let digit = if window < width / 2 {
            carry = 0;
            window as i64
        } else {
            carry = 1;
            window as i64 - width as i64
        };
        if let Some(slot) = naf.get_mut(pos) {
            *slot = digit as i8;
        }
        pos += w as usize;
    }
    naf
}

// ---- ECDSA --------------------------------------------------------------------------------

/// A P-256 public key with its precomputed tables (8 KiB).
pub(super) struct P256Key {
    q: Box<[[Affine; Q_TABLE]; SLICES]>,
}

impl P256Key {
    /// Big-endian affine coordinates; `None` unless both are below p and the point is on the
    /// curve (the point at infinity has no affine coordinates).
    pub(super) fn new(x: &[u8; 32], y: &[u8; 32]) -> Option<P256Key> {
        let (x, y) = (limbs_from_be(x), limbs_from_be(y));
        if !less_than(&x, &P) || !less_than(&y, &P) {
            return None;
        }
        let point = Affine {
            x: fe_from_limbs(&x),
            y: fe_from_limbs(&y),
        };
        if !point.on_curve() {
            return None;
        }
        // G's tables too, now: at bundle load rather than in the first request's verification.
        g_tables()?;
        Some(P256Key {
            q: tables::<Q_TABLE>(&point)?,
        })
    }

    /// ES256: `signature` is r || s, 32 bytes each, big-endian (RFC 7518 section 3.4).
    pub(super) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        let digest: [u8; 32] = Sha256::digest(message).into();
        self.verify_prehash(&digest, signature)
    }

    fn verify_prehash(&self, digest: &[u8; 32], signature: &[u8]) -> bool {
        let Ok(signature) = <&[u8; 64]>::try_from(signature) else {
            return false;
        };
        let (r_bytes, s_bytes) = split_signature(signature);
        let (r, s) = (limbs_from_be(r_bytes), limbs_from_be(s_bytes));
        let zero = [0u32; 8];
        if r == zero || s == zero || !less_than(&r, &N) || !less_than(&s, &N) {
            return false;
        }
        // e = H(m) mod n: a 256-bit digest is below 2n, one subtraction reduces it.
        let mut e = limbs_from_be(digest);
        if !less_than(&e, &N) {
            e = sub_limbs(&e, &N);
        }
        let Some(w) = inv_mod_n(&s) else {
            return false;
        };
        let w = sc_from_limbs(&w);
        let u1 = sc_to_limbs(&sc_mul(&sc_from_limbs(&e), &w));
        let u2 = sc_to_limbs(&sc_mul(&sc_from_limbs(&r), &w));
        let Some(point) = g_tables().and_then(|g| double_mul(&u1, g, &u2, &self.q)) else {
            return false;
        };
        if point.is_infinity() {
            return false;
        }
        // x(R) = X / Z^2 in [0, p); x(R) mod n == r iff x(R) == r or x(R) == r + n (< p).
        let z2 = fe_sqr(&point.z);
        if fe_eq(&point.x, &fe_mul(&fe_from_limbs(&r), &z2)) {
            return true;
        }
        let (r_plus_n, carry) = add_limbs(&r, &N);
        !carry
            && less_than(&r_plus_n, &P)
            && fe_eq(&point.x, &fe_mul(&fe_from_limbs(&r_plus_n), &z2))
    }
}

fn split_signature(sig: &[u8; 64]) -> (&[u8; 32], &[u8; 32]) {
    let (r, s) = sig.split_at(32);
    match (r.try_into(), s.try_into()) {
        (Ok(r), Ok(s)) => (r, s),
        // split_at(32) of 64 bytes is two 32-byte halves.
        _ => (&[0; 32], &[0; 32]),
    }
}

/// u1 G + u2 Q, interleaved w-NAF over the slices; `None` if a table lookup misses (cannot
/// happen: digits are odd and below the table widths).
fn double_mul<const GL: usize, const QL: usize>(
    u1: &Limbs,
    g: &[[Affine; GL]; SLICES],
    u2: &Limbs,
    q: &[[Affine; QL]; SLICES],
) -> Option<Jacobian> {
    let n1 = wnaf(u1, G_WIDTH);
    let n2 = wnaf(u2, Q_WIDTH);
    let mut acc = Jacobian::infinity();
    for t in (0..=SLICE_BITS).rev() {
        acc = acc.double();
        for slice in 0..SLICES {
            // Position SLICE_BITS of a slice is position 0 of the next; only the last has it.
            if t == SLICE_BITS && slice + 1 < SLICES {
                continue;
            }
            let pos = slice * SLICE_BITS + t;
            let d1 = *n1.get(pos)?;
            if d1 != 0 {
                acc = acc.add_affine(&lookup(g.get(slice)?, d1)?);
            }
            let d2 = *n2.get(pos)?;
            if d2 != 0 {
                acc = acc.add_affine(&lookup(q.get(slice)?, d2)?);
            }
        }
    }
    Some(acc)
}

/// d P from the table of odd multiples of P, d odd.
fn lookup<const L: usize>(table: &[Affine; L], d: i8) -> Option<Affine> {
    let point = table.get(usize::from(d.unsigned_abs() >> 1))?;
    Some(if d < 0 { point.neg() } else { *point })
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::indexing_slicing)]
    use super::*;

    fn to_be(v: &Limbs) -> [u8; 32] {
        let mut out = [0u8; 32];
        for (chunk, limb) in out.chunks_exact_mut(4).zip(v.iter().rev()) {
            chunk.copy_from_slice(&limb.to_be_bytes());
        }
        out
    }

    #[test]
    fn generator_is_on_the_curve_and_has_order_n() {
        let g = Affine {
            x: fe_from_limbs(&GX),
            y: fe_from_limbs(&GY),
        };
        assert!(g.on_curve());
        let off = Affine {
            x: g.x,
            y: fe_add(&g.y, &fe_one()),
        };
        assert!(!off.on_curve());
        // n G = O and (n - 1) G = -G, through the same double_mul as verification.
        let zero = [0u32; 8];
        let n_minus_1 = sub_limbs(&N, &[1, 0, 0, 0, 0, 0, 0, 0]);
        let q = tables::<Q_TABLE>(&g).unwrap();
        let p = double_mul(&n_minus_1, g_tables().unwrap(), &zero, &q).unwrap();
        let p = normalize(&[p]).unwrap()[0];
        assert!(fe_eq(&p.x, &g.x) && fe_eq(&p.y, &fe_neg(&g.y)));
        // (n - 1) G + 1 G = O: the opposite-points case of the addition.
        let one = [1, 0, 0, 0, 0, 0, 0, 0];
        assert!(double_mul(&n_minus_1, g_tables().unwrap(), &one, &q)
            .unwrap()
            .is_infinity());
        // 1 G + 1 G = 2 G: the equal-points case.
        let two_g = double_mul(&one, g_tables().unwrap(), &one, &q).unwrap();
        let two_g = normalize(&[two_g]).unwrap()[0];
        let direct = normalize(&[g.to_jacobian().double()]).unwrap()[0];
        assert!(fe_eq(&two_g.x, &direct.x) && fe_eq(&two_g.y, &direct.y));
    }

    #[test]
    fn wnaf_digits_sum_to_the_scalar() {
        let mut state = 0x9e37_79b9_7f4a_7c15u64;
        for round in 0..500 {
            let mut k = [0u32; 8];
            for limb in &mut k {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *limb = state as u32;
            }
            if round == 0 {
                k = [u32::MAX; 8];
            }
            for w in [2, 5, 7, 8] {
                let naf = wnaf(&k, w);
                // sum d_i 2^i, most significant first, as a 9-limb signed accumulator.
                let mut acc = [0i64; 9];
                for (i, &d) in naf.iter().enumerate() {
                    if d != 0 {
                        assert!(d % 2 != 0 && i64::from(d).abs() < 1 << (w - 1));
                        acc[i / 32] += i64::from(d) << (i % 32);
                    }
                    if let Some(j) = naf[i + 1..]
                        .iter()
                        .take(w as usize - 1)
                        .position(|&x| x != 0)
                    {
                        assert!(d == 0, "digits {i} and {} too close", i + 1 + j);
                    }
                }
                let mut carry = 0i64;
                for (i, a) in acc.iter().enumerate() {
                    let v = a + carry;
                    let want = i64::from(k.get(i).copied().unwrap_or(0));
                    assert_eq!(v.rem_euclid(1 << 32), want, "limb {i}, w {w}");
                    carry = v.div_euclid(1 << 32);
                }
                assert_eq!(carry, 0);
            }
        }
    }

    #[test]
    fn invalid_keys_are_refused() {
        let gx = to_be(&GX);
        let gy = to_be(&GY);
        assert!(P256Key::new(&gx, &gy).is_some());
        let mut bad = gy;
        bad[31] ^= 1;
        assert!(P256Key::new(&gx, &bad).is_none());
        assert!(P256Key::new(&to_be(&P), &gy).is_none());
        assert!(P256Key::new(&[0; 32], &[0; 32]).is_none());
        // y + p: same residue, not a canonical coordinate.
        let (gy_plus_p, carry) = add_limbs(&GY, &P);
        if !carry {
            assert!(P256Key::new(&gx, &to_be(&gy_plus_p)).is_none());
        }
    }

    #[test]
    fn scalar_inverse() {
        let a = sc_from_limbs(&[12345, 6, 7, 8, 9, 10, 11, 12]);
        let one = sc_to_limbs(&sc_mul(&a, &sc_invert(&a)));
        assert_eq!(one, [1, 0, 0, 0, 0, 0, 0, 0]);
        // The binary inversion agrees with Fermat's on random and edge values.
        let n_minus_1 = sub_limbs(&N, &[1, 0, 0, 0, 0, 0, 0, 0]);
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut values = vec![
            [1, 0, 0, 0, 0, 0, 0, 0],
            [2, 0, 0, 0, 0, 0, 0, 0],
            n_minus_1,
        ];
        for _ in 0..300 {
            let mut k = [0u32; 8];
            for limb in &mut k {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                *limb = state as u32;
            }
            if !less_than(&k, &N) {
                k = sub_limbs(&k, &N);
            }
            values.push(k);
        }
        for k in values {
            if k == [0; 8] {
                continue;
            }
            let want = sc_to_limbs(&sc_invert(&sc_from_limbs(&k)));
            assert_eq!(inv_mod_n(&k), Some(want), "{k:x?}");
        }
        assert_eq!(inv_mod_n(&[0; 8]), None);
        assert_eq!(inv_mod_n(&N), None);
        let b = fe_from_limbs(&[12345, 6, 7, 8, 9, 10, 11, 12]);
        assert!(fe_eq(&fe_mul(&b, &fe_invert(&b)), &fe_one()));
    }

    /// Digests no hash reaches on purpose (0, n, above n, all ones: u1 = 0 and the e mod n
    /// reduction) and random ones, signed by the `p256` crate, mutated, verified by both.
    mod prehash {
        use super::super::P256Key;
        use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
        use p256::ecdsa::{Signature, SigningKey};
        use proptest::prelude::*;

        fn check(seed: [u8; 32], digest: [u8; 32], bit: usize) -> Result<(), TestCaseError> {
            let Ok(signer) = SigningKey::from_bytes(&seed.into()) else {
                return Ok(());
            };
            let key = signer.verifying_key();
            let point = key.to_encoded_point(false);
            let ours = P256Key::new(
                (&point.x().unwrap()[..]).try_into().unwrap(),
                (&point.y().unwrap()[..]).try_into().unwrap(),
            )
            .unwrap();
            let sig: Signature = signer.sign_prehash(&digest).unwrap();
            let sig = sig.to_bytes();
            let mut flipped = sig;
            flipped[bit % 512 / 8] ^= 1 << (bit % 8);
            let mut other_digest = digest;
            other_digest[bit % 256 / 8] ^= 1 << (bit % 8);
            for (d, s) in [(&digest, &sig), (&digest, &flipped), (&other_digest, &sig)] {
                let want = Signature::from_slice(s)
                    .is_ok_and(|parsed| key.verify_prehash(d, &parsed).is_ok());
                prop_assert_eq!(ours.verify_prehash(d, s), want);
            }
            prop_assert!(ours.verify_prehash(&digest, &sig));
            Ok(())
        }

        const N_BE: [u8; 32] = [
            0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            0xff, 0xff, 0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2,
            0xfc, 0x63, 0x25, 0x51,
        ];

        #[test]
        fn edge_digests() {
            let mut n_plus_1 = N_BE;
            n_plus_1[31] += 1;
            for digest in [[0u8; 32], N_BE, n_plus_1, [0xff; 32], [1; 32]] {
                for seed in 1u8..6 {
                    check([seed; 32], digest, usize::from(seed) * 37).unwrap();
                }
            }
        }

        proptest! {
            // Fewer in debug builds (CI), where the p256 crate and this code are ~20x slower.
            #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 48 } else { 200 }))]
            #[test]
            fn random_digests(seed in any::<[u8; 32]>(), digest in any::<[u8; 32]>(), bit in 0usize..512) {
                check(seed, digest, bit)?;
            }
        }
    }
}
