//! Verify-only RSA public operation on 32-bit limbs (wasm32 has no 64x64->128 multiply, so
//! 32-bit limbs with 64-bit products are its fastest shape), Montgomery multiplication in the
//! FIOS form of CIOS, and the EMSA-PKCS1-v1_5 / EMSA-PSS checks of RFC 8017 on the result.
//!
//! Everything here handles public data only (key, signature, message): nothing needs to be
//! constant time. The key is validated by the `rsa` crate before it reaches [`RsaKey::new`].

use sha2::Digest;

/// A public key prepared for Montgomery arithmetic.
pub(super) struct RsaKey {
    /// Modulus, little-endian 32-bit limbs, top limb non-zero.
    n: Vec<u32>,
    /// -n^-1 mod 2^32.
    n0inv: u32,
    /// R^2 mod n, R = 2^(32 * n.len()), little-endian limbs.
    rr: Vec<u32>,
    /// Public exponent, 2 ..= 2^64 - 1 (the `rsa` crate bounds it further at key load).
    e: u64,
    /// Modulus length in bytes (k of RFC 8017).
    k: usize,
    /// Modulus length in bits.
    bits: usize,
}

impl RsaKey {
    /// `n` and `e` big-endian; `None` for an even or zero modulus or a zero or oversized exponent.
    pub(super) fn new(n_be: &[u8], e_be: &[u8]) -> Option<RsaKey> {
        let n_be = strip_zeros(n_be);
        let e_be = strip_zeros(e_be);
        if e_be.is_empty() || e_be.len() > 8 {
            return None;
        }
        let e = e_be.iter().fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        let n = limbs_from_be(n_be, n_be.len().div_ceil(4));
        let n0 = *n.first()?;
        if n0 & 1 == 0 || e < 2 {
            return None;
        }
        // Newton's iteration doubles the correct low bits: 1 -> 2 -> ... -> 32 (5 steps, one spare).
        let mut inv: u32 = 1;
        for _ in 0..6 {
            inv = inv.wrapping_mul(2u32.wrapping_sub(n0.wrapping_mul(inv)));
        }
        let n0inv = inv.wrapping_neg();
        let top = *n.last()?;
        let bits = n.len() * 32 - top.leading_zeros() as usize;

        // R^2 mod n by the `rsa` crate's big integers: once per key, at bundle load.
        let modulus = rsa::BigUint::from_bytes_be(n_be);
        let r2 = (rsa::BigUint::from(1u32) << (64 * n.len())) % &modulus;
        let rr = limbs_from_be(&r2.to_bytes_be(), n.len());
        Some(RsaKey {
            k: n_be.len(),
            bits,
            n,
            n0inv,
            rr,
            e,
        })
    }

    /// s^e mod n as k big-endian bytes; `None` unless `signature` is exactly k bytes and < n
    /// (RFC 8017 8.2.2 step 1, 5.2.2 step 1).
    fn public_op(&self, signature: &[u8]) -> Option<Vec<u8>> {
        if signature.len() != self.k {
            return None;
        }
        let s = limbs_from_be(signature, self.n.len());
        if !less_than(&s, &self.n) {
            return None;
        }
        let l = self.n.len();
        let mut x = vec![0u32; l];
        let mut tmp = vec![0u32; l];
        // x = s * R mod n (Montgomery form).
        self.mont_mul(&s, &self.rr, &mut x, &mut tmp);
        let xm = x.clone();
        let e = self.e;
        let top = 63 - e.leading_zeros();
        // Left to right from the bit under the top one, in the Montgomery domain; for 65537,
        // 16 squarings and the final multiply below.
        let mut y = vec![0u32; l];
        for bit in (1..top).rev() {
            self.mont_mul(&x, &x, &mut y, &mut tmp);
            core::mem::swap(&mut x, &mut y);
            if (e >> bit) & 1 == 1 {
                self.mont_mul(&x, &xm, &mut y, &mut tmp);
                core::mem::swap(&mut x, &mut y);
            }
        }
        // Bit 0: square, then multiply by the plain s (not s*R) when it is set, which both applies
        // it and leaves the Montgomery domain ((s^(e-1) R) * s * R^-1 = s^e), or by 1.
        if top > 0 {
            self.mont_mul(&x, &x, &mut y, &mut tmp);
            core::mem::swap(&mut x, &mut y);
        }
        if e & 1 == 1 {
            self.mont_mul(&x, &s, &mut y, &mut tmp);
        } else {
            let mut one = vec![0u32; l];
            if let Some(w) = one.first_mut() {
                *w = 1;
            }
            self.mont_mul(&x, &one, &mut y, &mut tmp);
        }
        Some(limbs_to_be(&y, self.k))
    }

    /// out = a * b * R^-1 mod n, for a, b < n. `tmp` is scratch of n's length.
    fn mont_mul(&self, a: &[u32], b: &[u32], out: &mut [u32], tmp: &mut [u32]) {
        let n = self.n.as_slice();
        let (Some(&a0), Some(&n0)) = (a.first(), n.first()) else {
            return;
        };
        // t (l limbs in `out`/`tmp`, alternating) plus a high word `hi` in 0..=1.
        out.iter_mut().for_each(|w| *w = 0);
        let mut t: &mut [u32] = out;
        let mut u: &mut [u32] = tmp;
        let mut hi: u64 = 0;
        let mut swapped = false;
        for &bi in b {
            let bi = u64::from(bi);
            let t0 = u64::from(t.first().copied().unwrap_or(0));
            let v1 = t0 + u64::from(a0) * bi;
            let m = (v1 as u32).wrapping_mul(self.n0inv);
            let m64 = u64::from(m);
            let v2 = u64::from(v1 as u32) + m64 * u64::from(n0);
            let mut c1 = v1 >> 32;
            let mut c2 = v2 >> 32;
            for (((uj, &tj), &aj), &nj) in u
                .iter_mut()
                .zip(t.iter().skip(1))
                .zip(a.iter().skip(1))
                .zip(n.iter().skip(1))
            {
                let v1 = u64::from(tj) + u64::from(aj) * bi + c1;
                let v2 = (v1 & 0xffff_ffff) + m64 * u64::from(nj) + c2;
                *uj = v2 as u32;
                c1 = v1 >> 32;
                c2 = v2 >> 32;
            }
            let v1 = hi + c1;
            let v2 = (v1 & 0xffff_ffff) + c2;
            if let Some(last) = u.last_mut() {
                *last = v2 as u32;
            }
            hi = (v1 >> 32) + (v2 >> 32);
            core::mem::swap(&mut t, &mut u);
            swapped = !swapped;
        }
        // t < 2n: one conditional subtraction.
        if hi != 0 || !less_than(t, n) {
            let mut borrow = 0u64;
            for (tj, &nj) in t.iter_mut().zip(n) {
                let d = u64::from(*tj)
                    .wrapping_sub(u64::from(nj))
                    .wrapping_sub(borrow);
                *tj = d as u32;
                borrow = (d >> 32) & 1;
            }
        }
        // An odd number of rounds left the result in `tmp`.
        if swapped {
            u.copy_from_slice(t);
        }
    }

    /// RSASSA-PKCS1-v1_5-VERIFY (RFC 8017 8.2.2): the whole encoded message is compared with
    /// the one expected, 0x00 0x01 FF..FF 0x00 DigestInfo || H, padding at least 8 bytes.
    pub(super) fn verify_pkcs1<D: Digest>(
        &self,
        prefix: &[u8],
        input: &[u8],
        signature: &[u8],
    ) -> bool {
        let Some(em) = self.public_op(signature) else {
            return false;
        };
        let hash = D::digest(input);
        let t_len = prefix.len() + hash.len();
        let Some(ps_len) = self.k.checked_sub(t_len + 3) else {
            return false;
        };
        if ps_len < 8 {
            return false;
        }
        let Some((head, rest)) = em.split_at_checked(2) else {
            return false;
        };
        let Some((ps, rest)) = rest.split_at_checked(ps_len) else {
            return false;
        };
        let Some((sep, rest)) = rest.split_at_checked(1) else {
            return false;
        };
        let Some((digest_info, h)) = rest.split_at_checked(prefix.len()) else {
            return false;
        };
        head == [0x00, 0x01]
            && ps.iter().all(|&b| b == 0xff)
            && sep == [0x00]
            && digest_info == prefix
            && h.iter().eq(hash.iter())
    }

    /// RSASSA-PSS-VERIFY (RFC 8017 8.1.2, EMSA-PSS-VERIFY 9.1.2) with MGF1 over the same hash
    /// and a salt exactly as long as the hash (RFC 7518 section 3.5).
    pub(super) fn verify_pss<D: Digest>(&self, input: &[u8], signature: &[u8]) -> bool {
        let Some(em_full) = self.public_op(signature) else {
            return false;
        };
        let h_len = <D as Digest>::output_size();
        let s_len = h_len;
        let em_bits = self.bits - 1;
        let em_len = em_bits.div_ceil(8);
        // I2OSP(m, emLen): the k - emLen leading bytes must be zero (m < 2^emBits below).
        let Some((lead, em)) = em_full.split_at_checked(self.k.saturating_sub(em_len)) else {
            return false;
        };
        if lead.iter().any(|&b| b != 0) {
            return false;
        }
        if em_len < h_len + s_len + 2 {
            return false;
        }
        let Some((last, body)) = em.split_last() else {
            return false;
        };
        if *last != 0xbc {
            return false;
        }
        let Some((masked_db, h)) = body.split_at_checked(em_len - h_len - 1) else {
            return false;
        };
        let top_mask: u8 = 0xff >> (8 * em_len - em_bits);
        let Some(&first) = masked_db.first() else {
            return false;
        };
        if first & !top_mask != 0 {
            return false;
        }
        let mut db = masked_db.to_vec();
        mgf1_xor::<D>(h, &mut db);
        if let Some(b) = db.first_mut() {
            *b &= top_mask;
        }
        let Some((zeros, rest)) = db.split_at_checked(em_len - h_len - s_len - 2) else {
            return false;
        };
        let Some((one, salt)) = rest.split_first() else {
            return false;
        };
        if zeros.iter().any(|&b| b != 0) || *one != 0x01 {
            return false;
        }
        let m_hash = D::digest(input);
        let h2 = D::new()
            .chain_update([0u8; 8])
            .chain_update(&m_hash)
            .chain_update(salt)
            .finalize();
        h.iter().eq(h2.iter())
    }
}

/// db ^= MGF1(seed, db.len()) (RFC 8017 B.2.1).
fn mgf1_xor<D: Digest>(seed: &[u8], db: &mut [u8]) {
    let h_len = <D as Digest>::output_size();
    for (counter, chunk) in db.chunks_mut(h_len).enumerate() {
        let c = (counter as u32).to_be_bytes();
        let mask = D::new().chain_update(seed).chain_update(c).finalize();
        for (d, m) in chunk.iter_mut().zip(mask.iter()) {
            *d ^= m;
        }
    }
}

fn strip_zeros(bytes: &[u8]) -> &[u8] {
    let zeros = bytes.iter().take_while(|&&b| b == 0).count();
    bytes.get(zeros..).unwrap_or_default()
}

/// Big-endian bytes to `len` little-endian limbs (extra high bytes beyond `len` limbs dropped;
/// callers pass inputs that fit).
fn limbs_from_be(bytes: &[u8], len: usize) -> Vec<u32> {
    let mut limbs = vec![0u32; len];
    for (limb, chunk) in limbs.iter_mut().zip(bytes.rchunks(4)) {
        *limb = chunk.iter().fold(0u32, |acc, &b| (acc << 8) | u32::from(b));
    }
    limbs
}

/// Little-endian limbs to exactly `k` big-endian bytes (the value fits: it is below n).
fn limbs_to_be(limbs: &[u32], k: usize) -> Vec<u8> {
    let mut out = vec![0u8; k];
    let bytes = limbs.iter().flat_map(|l| l.to_le_bytes());
    for (o, b) in out.iter_mut().rev().zip(bytes) {
        *o = b;
    }
    out
}

/// a < b, both little-endian and of the same length.
fn less_than(a: &[u32], b: &[u32]) -> bool {
    for (x, y) in a.iter().rev().zip(b.iter().rev()) {
        if x != y {
            return x < y;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    //! Differential tests against the `rsa` crate (signatures) and `BigUint::modpow` (the raw
    //! public operation).
    use std::sync::OnceLock;

    use rand::rngs::OsRng;
    use rand::{Rng, RngCore};
    use rsa::traits::PublicKeyParts;
    use rsa::{BigUint, Pkcs1v15Sign, Pss, RsaPrivateKey, RsaPublicKey};
    use sha2::{Sha256, Sha384, Sha512};

    use super::super::{SHA256_PREFIX, SHA384_PREFIX, SHA512_PREFIX};
    use super::*;

    /// One key per size, generated once (keygen is slow in debug), in parallel.
    fn keys() -> &'static [RsaPrivateKey] {
        static KEYS: OnceLock<Vec<RsaPrivateKey>> = OnceLock::new();
        KEYS.get_or_init(|| {
            let handles: Vec<_> = [2048usize, 3072, 4096]
                .into_iter()
                .map(|bits| {
                    std::thread::spawn(move || RsaPrivateKey::new(&mut OsRng, bits).unwrap())
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        })
    }

    fn prepared(key: &RsaPublicKey) -> RsaKey {
        RsaKey::new(&key.n().to_bytes_be(), &key.e().to_bytes_be()).unwrap()
    }

    #[derive(Clone, Copy, Debug)]
    enum Hash {
        S256,
        S384,
        S512,
    }

    fn digest(hash: Hash, msg: &[u8]) -> Vec<u8> {
        match hash {
            Hash::S256 => Sha256::digest(msg).to_vec(),
            Hash::S384 => Sha384::digest(msg).to_vec(),
            Hash::S512 => Sha512::digest(msg).to_vec(),
        }
    }

    fn pkcs1_scheme(hash: Hash) -> Pkcs1v15Sign {
        let (len, prefix): (usize, &[u8]) = match hash {
            Hash::S256 => (32, &SHA256_PREFIX),
            Hash::S384 => (48, &SHA384_PREFIX),
            Hash::S512 => (64, &SHA512_PREFIX),
        };
        Pkcs1v15Sign {
            hash_len: Some(len),
            prefix: prefix.into(),
        }
    }

    fn pss_scheme(hash: Hash) -> Pss {
        match hash {
            Hash::S256 => Pss::new::<Sha256>(),
            Hash::S384 => Pss::new::<Sha384>(),
            Hash::S512 => Pss::new::<Sha512>(),
        }
    }

    fn ours(key: &RsaKey, pss: bool, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
        match (pss, hash) {
            (false, Hash::S256) => key.verify_pkcs1::<Sha256>(&SHA256_PREFIX, msg, sig),
            (false, Hash::S384) => key.verify_pkcs1::<Sha384>(&SHA384_PREFIX, msg, sig),
            (false, Hash::S512) => key.verify_pkcs1::<Sha512>(&SHA512_PREFIX, msg, sig),
            (true, Hash::S256) => key.verify_pss::<Sha256>(msg, sig),
            (true, Hash::S384) => key.verify_pss::<Sha384>(msg, sig),
            (true, Hash::S512) => key.verify_pss::<Sha512>(msg, sig),
        }
    }

    fn theirs(key: &RsaPublicKey, pss: bool, hash: Hash, msg: &[u8], sig: &[u8]) -> bool {
        let hashed = digest(hash, msg);
        if pss {
            key.verify(pss_scheme(hash), &hashed, sig).is_ok()
        } else {
            key.verify(pkcs1_scheme(hash), &hashed, sig).is_ok()
        }
    }

    #[test]
    fn agrees_with_rsa_crate_on_valid_and_corrupted_signatures() {
        let mut rng = OsRng;
        for private in keys() {
            let public = private.to_public_key();
            let key = prepared(&public);
            let n = public.n().to_bytes_be();
            for pss in [false, true] {
                for hash in [Hash::S256, Hash::S384, Hash::S512] {
                    for _ in 0..2 {
                        let mut msg = vec![0u8; rng.gen_range(0..300)];
                        rng.fill_bytes(&mut msg);
                        let hashed = digest(hash, &msg);
                        let sig = if pss {
                            private
                                .sign_with_rng(&mut rng, pss_scheme(hash), &hashed)
                                .unwrap()
                        } else {
                            private.sign(pkcs1_scheme(hash), &hashed).unwrap()
                        };
                        let ctx = format!("{} bits pss={pss} {hash:?}", public.n().bits());
                        assert!(ours(&key, pss, hash, &msg, &sig), "valid: {ctx}");
                        assert!(theirs(&public, pss, hash, &msg, &sig), "valid: {ctx}");
                        // The other padding and the other hashes refuse it.
                        for other in [Hash::S256, Hash::S384, Hash::S512] {
                            assert!(!ours(&key, !pss, other, &msg, &sig), "cross: {ctx}");
                        }

                        let mut corrupted: Vec<Vec<u8>> = Vec::new();
                        let mut flip = sig.clone();
                        let bit = rng.gen_range(0..sig.len() * 8);
                        flip[bit / 8] ^= 1 << (bit % 8);
                        corrupted.push(flip);
                        corrupted.push(sig[1..].to_vec());
                        let mut longer = vec![0u8];
                        longer.extend_from_slice(&sig);
                        corrupted.push(longer);
                        corrupted.push(n.clone()); // s = n
                        let mut above = n.clone();
                        *above.last_mut().unwrap() ^= 0x02; // n +- 2, odd
                        corrupted.push(above);
                        corrupted.push(vec![0u8; sig.len()]);
                        let mut one = vec![0u8; sig.len()];
                        *one.last_mut().unwrap() = 1;
                        corrupted.push(one);
                        let mut random = vec![0u8; sig.len()];
                        rng.fill_bytes(&mut random);
                        random[0] &= 0x7f;
                        corrupted.push(random);
                        for bad in &corrupted {
                            let (a, b) = (
                                ours(&key, pss, hash, &msg, bad),
                                theirs(&public, pss, hash, &msg, bad),
                            );
                            assert_eq!(a, b, "corrupted: {ctx}");
                        }
                        let mut other_msg = msg.clone();
                        other_msg.push(0);
                        assert!(!ours(&key, pss, hash, &other_msg, &sig), "msg: {ctx}");
                    }
                }
            }
        }
    }

    #[test]
    fn public_operation_matches_modpow() {
        let mut rng = OsRng;
        for round in 0..200 {
            // Odd moduli of assorted sizes (not RSA moduli: the arithmetic does not care),
            // including all-ones top limbs and exact limb boundaries.
            let bytes = [1usize, 3, 4, 5, 8, 64, 127, 128, 129, 256, 384, 512][round % 12];
            let mut n = vec![0u8; bytes];
            rng.fill_bytes(&mut n);
            n[0] |= if round % 3 == 0 { 0xff } else { 0x80 };
            if round % 5 == 0 {
                n.iter_mut().for_each(|b| *b = 0xff);
            }
            *n.last_mut().unwrap() |= 1;
            let e: u64 = match round % 6 {
                0 => 65537,
                1 => 3,
                2 => 2,
                3 => rng.gen_range(2..u64::from(u32::MAX)),
                4 => (1 << 33) - 1,
                _ => rng.gen_range(2..u64::MAX),
            };
            let key = RsaKey::new(&n, &e.to_be_bytes()).unwrap();
            let modulus = BigUint::from_bytes_be(&n);
            for case in 0..4 {
                let mut s = vec![0u8; bytes];
                match case {
                    0 => rng.fill_bytes(&mut s),
                    1 => *s.last_mut().unwrap() = 1,
                    2 => {
                        s.copy_from_slice(&n);
                        *s.last_mut().unwrap() -= 1; // n - 1
                    }
                    _ => {}
                }
                let sv = BigUint::from_bytes_be(&s);
                let got = key.public_op(&s);
                if sv >= modulus {
                    assert!(got.is_none());
                    continue;
                }
                let want = sv.modpow(&BigUint::from(e), &modulus);
                let mut want_be = vec![0u8; bytes];
                let w = want.to_bytes_be();
                want_be[bytes - w.len()..].copy_from_slice(&w);
                assert_eq!(got.unwrap(), want_be, "n={n:x?} e={e} s={s:x?}");
            }
        }
    }

    #[test]
    fn rejects_even_moduli_and_tiny_exponents() {
        assert!(RsaKey::new(&[0x80, 0x02], &[1, 0, 1]).is_none());
        assert!(RsaKey::new(&[0x80, 0x03], &[1]).is_none());
        assert!(RsaKey::new(&[0x80, 0x03], &[]).is_none());
        assert!(RsaKey::new(&[0, 0], &[3]).is_none());
    }
}
