//! The serial in META (format 2.0): round trip, coverage by digest and signature, refusal of
//! corrupt or missing serials.

use ed25519_dalek::SigningKey;

use super::encode::{assemble, postcard_bytes};
use super::format::section;
use super::*;
use crate::model::{Gateway, Policy};

fn policy(serial: u64) -> Policy {
    Policy {
        revision: "r".into(),
        compiler_version: "test".into(),
        serial,
        gateway: Gateway {
            default_authenticated: false,
            dry_run: false,
            max_body_bytes: 1024,
            token_sources: Vec::new(),
            routes: Vec::new(),
            override_headers: Default::default(),
        },
        tenants: Vec::new(),
    }
}

fn decode(bytes: Vec<u8>) -> Result<Bundle, LoadError> {
    Bundle::decode(bytes, &LoadOptions::default())
}

/// A bundle of `policy(0)` whose META section is `meta`, digest and directory intact.
fn with_meta(meta: Vec<u8>) -> Vec<u8> {
    let gateway = postcard_bytes(&policy(0).gateway).unwrap_or_default();
    assemble(&[(section::META, meta), (section::GATEWAY, gateway)], None).unwrap_or_default()
}

#[test]
fn serial_round_trips_and_is_in_meta() {
    for serial in [0, 1, 10, 1_795_867_200, u64::MAX] {
        let bytes = encode(&policy(serial), None).unwrap_or_default();
        let bundle = decode(bytes).unwrap_or_else(|e| panic!("{serial}: {e}"));
        assert_eq!(bundle.serial(), serial);
        assert_eq!(bundle.meta().serial, serial);
        assert_eq!(bundle.format_version(), (3, 0));
    }
    // META is `revision, compiler_version, tenant_count, serial` (docs/bundle-format.md
    // 3.1): the serial is the last field, a LEB128 varint.
    let meta = Meta {
        revision: "r".into(),
        compiler_version: "v".into(),
        tenant_count: 0,
        serial: 300,
    };
    assert_eq!(
        postcard_bytes(&meta).unwrap_or_default(),
        [1, b'r', 1, b'v', 0, 0xac, 0x02]
    );
}

#[test]
fn serial_is_covered_by_digest_and_signature() {
    let a = encode(&policy(10), None).unwrap_or_default();
    let b = encode(&policy(5), None).unwrap_or_default();
    assert_eq!(a.len(), b.len());
    assert_ne!(a.get(24..56), b.get(24..56), "same digest for two serials");
    // Same policy, same serial: same bytes (determinism).
    assert_eq!(a, encode(&policy(10), None).unwrap_or_default());

    // Rewriting the serial of a signed bundle in place breaks digest and signature.
    let key = SigningKey::from_bytes(&[7; 32]);
    let signed = encode(&policy(10), Some(&key)).unwrap_or_default();
    let pos = signed
        .len()
        .checked_sub(SIGNATURE_TRAILER_LEN)
        .and_then(|end| signed.get(..end))
        .and_then(|head| head.iter().rposition(|b| *b == 10));
    let mut forged = signed.clone();
    if let Some(b) = pos.and_then(|p| forged.get_mut(p)) {
        *b = 5;
    }
    assert_ne!(forged, signed);
    assert_eq!(decode(forged).err(), Some(LoadError::DigestMismatch));
    // With the digest recomputed, the signature still fails.
    let mut forged = encode(&policy(5), None).unwrap_or_default();
    forged.extend_from_slice(signed.get(signed.len() - 96..).unwrap_or_default());
    if let Some(flags) = forged.get_mut(12) {
        *flags = 1;
    }
    assert_eq!(decode(forged).err(), Some(LoadError::BadSignature));
}

#[test]
fn corrupt_serials_are_refused() {
    let base = [1, b'r', 1, b'v', 0];
    let cases: [(&str, Vec<u8>); 5] = [
        // A format 1.0 META: no serial at all.
        ("missing", base.to_vec()),
        // A varint cut short.
        ("truncated", [&base[..], &[0x80]].concat()),
        // Eleven continuation bytes: longer than any u64.
        ("overlong", [&base[..], &[0xff; 10], &[0x01]].concat()),
        // Ten bytes whose value exceeds u64::MAX.
        ("overflow", [&base[..], &[0xff; 9], &[0x7f]].concat()),
        ("trailing byte", [&base[..], &[0x05, 0x00]].concat()),
    ];
    for (what, meta) in cases {
        match decode(with_meta(meta)) {
            Err(LoadError::Corrupt(why)) => assert!(why.contains("meta"), "{what}: {why}"),
            other => panic!("{what}: {other:?}"),
        }
    }
    // The largest serial, spelled canonically, loads.
    let max = [&base[..], &[0xff; 9], &[0x01]].concat();
    assert_eq!(
        decode(with_meta(max)).map(|b| b.serial()).ok(),
        Some(u64::MAX)
    );
}

#[test]
fn format_1_and_2_bundles_are_refused() {
    for major in [1u16, 2] {
        let mut bytes = encode(&policy(10), None).unwrap_or_default();
        if let Some(field) = bytes.get_mut(8..10) {
            field.copy_from_slice(&major.to_le_bytes());
        }
        let err = decode(bytes).err();
        assert_eq!(err, Some(LoadError::UnsupportedVersion { major, minor: 0 }));
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert_eq!(
            message,
            format!("unsupported bundle format {major}.0 (this build reads 3.x)")
        );
    }
}
