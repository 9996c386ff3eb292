//! Property tests: the bundle evaluator agrees with the naive reference evaluator over the model,
//! narrowing never grants, and bundles survive encoding exactly and reject corruption.
#![expect(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    reason = "test code: a panic is a test failure"
)]

use gatehouse_engine::bundle::{self, LoadError};
use gatehouse_engine::model::*;
use gatehouse_engine::route::Body;
use gatehouse_engine::{reference, Engine, Identity, LoadOptions, Reason, Request};
use proptest::prelude::*;

mod support;

use support::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn bundle_evaluator_matches_reference(shape in shape()) {
        let p = policy(&shape);
        let engine = load(&p);
        for (s, ty, path, action) in questions(&p) {
            let expected = reference::decide(&p, 0, &s, &ty, &path, &action, NOW);
            let got = engine_decides(&engine, &s, &ty, &path, &action);
            prop_assert_eq!(got, expected, "{} {} {}:{}", s, action, ty, path);
        }
    }

    #[test]
    fn narrowing_never_grants(shape in shape(), pick in 0usize..64, kind in 0u8..3) {
        let before = policy(&shape);
        let mut after = before.clone();
        let t = &mut after.tenants[0];
        match kind {
            0 => { let n = t.users.len(); t.users[pick % n].active = false; }
            1 => { let n = t.resources.len(); t.resources[pick % n].enabled = false; }
            _ => {
                // Restrict to user 0, or to what was already allowed of that.
                let n = t.resources.len();
                let r = &mut t.resources[pick % n];
                let only = Subject::User(UserId(0));
                r.authorized_subjects = match &r.authorized_subjects {
                    None => Some(vec![only]),
                    Some(list) => Some(list.iter().copied().filter(|s| *s == only).collect()),
                };
            }
        }
        let (e1, e2) = (load(&before), load(&after));
        for (s, ty, path, action) in questions(&before) {
            let was = engine_decides(&e1, &s, &ty, &path, &action).is_ok();
            let is = engine_decides(&e2, &s, &ty, &path, &action).is_ok();
            prop_assert!(was || !is, "narrowing granted {} {} {}:{}", s, action, ty, path);
        }
    }

    #[test]
    fn corrupt_bundles_are_rejected_not_panicking(shape in shape(), at in 0usize..10_000, bit in 0u8..8) {
        let bytes = bundle::encode(&policy(&shape), None).unwrap();
        let mut flipped = bytes.clone();
        let i = at % flipped.len();
        flipped[i] ^= 1 << bit;
        // Bytes 10..12 are the format minor version, which readers accept whatever its value.
        if !(10..12).contains(&i) {
            prop_assert!(Engine::load(flipped, &LoadOptions::default()).is_err());
        }
        let cut = at % bytes.len();
        prop_assert!(Engine::load(bytes[..cut].to_vec(), &LoadOptions::default()).is_err());
    }
}

fn sample() -> Policy {
    policy(&Shape {
        users: vec![(true, 1, vec![0]), (true, 0, vec![0]), (false, 0, vec![0])],
        teams: vec![vec![]],
        vas: vec![Some(NOW + 10)],
        servers: vec![(true, None, vec![(true, None), (false, None)])],
        grants: vec![(0, 3, 3)],
    })
}

#[test]
fn team_grant_inherits_to_tools_but_not_disabled_ones() {
    let p = sample();
    let engine = load(&p);
    let cases = [
        // Team t0 (subject 3) holds server-user on server:s0.
        ("user:u1@x.test", "tool", "s0/t0", "use", Ok(()), ""),
        (
            "user:u1@x.test",
            "server",
            "s0",
            "manage",
            Err(Reason::NoGrant),
            "",
        ),
        (
            "user:u0@x.test",
            "tool",
            "s0/t1",
            "use",
            Err(Reason::ResourceDisabled),
            "disabled denies tenant admins too",
        ),
        (
            "user:u2@x.test",
            "tool",
            "s0/t0",
            "use",
            Err(Reason::PrincipalInactive),
            "a team grant does not help a deactivated user",
        ),
        ("user:U1@X.test", "server", "s0", "read", Ok(()), ""),
        (
            "virtualaccount:va0",
            "server",
            "s0",
            "read",
            Err(Reason::NoGrant),
            "",
        ),
    ];
    for (subject, kind, key, action, expected, why) in cases {
        assert_eq!(
            engine_decides(&engine, subject, kind, key, action),
            expected,
            "{subject} {action} {kind}:{key}: {why}"
        );
    }
}

#[test]
fn allow_explains_the_grant() {
    let engine = load(&sample());
    let headers = [("x-path", "s0/t0")];
    let request = Request {
        authority: "gw.test",
        method: "GET",
        path: "/tool/use",
        headers: &headers,
        body: Body::Absent,
    };
    let outcome = engine.decide(&request, Identity::Subject("user:u1@x.test"), NOW);
    assert!(outcome.decision.is_allow());
    assert_eq!(
        outcome.grant().as_deref(),
        Some("team:t0 server-user on server:s0")
    );
    assert_eq!(outcome.subject().as_deref(), Some("user:u1@x.test"));
    assert_eq!(outcome.resource().as_deref(), Some("tool:s0/t0"));
    let admin = engine.decide(&request, Identity::Subject("user:u0@x.test"), NOW);
    assert_eq!(
        admin.grant().as_deref(),
        Some("user:u0@x.test tenant-admin (tenant role)")
    );
}

#[test]
fn encoding_is_deterministic_and_signed_bundles_verify() {
    let p = sample();
    assert_eq!(
        bundle::encode(&p, None).unwrap(),
        bundle::encode(&p, None).unwrap()
    );

    let key = ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]);
    let other = ed25519_dalek::SigningKey::from_bytes(&[9u8; 32]);
    let signed = bundle::encode(&p, Some(&key)).unwrap();
    assert_eq!(signed, bundle::encode(&p, Some(&key)).unwrap());
    let trusted = LoadOptions {
        trusted_keys: vec![key.verifying_key().to_bytes()],
    };
    let foreign = LoadOptions {
        trusted_keys: vec![other.verifying_key().to_bytes()],
    };
    let engine = Engine::load(signed.clone(), &trusted).unwrap();
    assert_eq!(
        engine.bundle().signer(),
        Some(&key.verifying_key().to_bytes())
    );
    assert_eq!(
        Engine::load(signed.clone(), &foreign).unwrap_err(),
        LoadError::UntrustedSigner
    );
    assert_eq!(
        Engine::load(bundle::encode(&p, None).unwrap(), &trusted).unwrap_err(),
        LoadError::Unsigned
    );
    // A signature over other bytes: flip a signature bit.
    let mut bad = signed.clone();
    let last = bad.len() - 1;
    bad[last] ^= 1;
    assert_eq!(
        Engine::load(bad, &trusted).unwrap_err(),
        LoadError::BadSignature
    );
}

#[test]
fn header_checks() {
    let bytes = bundle::encode(&sample(), None).unwrap();
    let mut future = bytes.clone();
    let next_major = bundle::FORMAT_MAJOR + 1;
    future[8..10].copy_from_slice(&next_major.to_le_bytes());
    assert_eq!(
        Engine::load(future, &LoadOptions::default()).unwrap_err(),
        LoadError::UnsupportedVersion {
            major: next_major,
            minor: 0
        }
    );
    let mut magic = bytes.clone();
    magic[0] = b'X';
    assert_eq!(
        Engine::load(magic, &LoadOptions::default()).unwrap_err(),
        LoadError::BadMagic
    );
    assert!(matches!(
        Engine::load(bytes[..20].to_vec(), &LoadOptions::default()).unwrap_err(),
        LoadError::Truncated(_)
    ));
    let mut body = bytes.clone();
    let last = body.len() - 1;
    body[last] ^= 0x40;
    assert_eq!(
        Engine::load(body, &LoadOptions::default()).unwrap_err(),
        LoadError::DigestMismatch
    );
    let mut longer = bytes;
    longer.push(0);
    assert!(Engine::load(longer, &LoadOptions::default()).is_err());
}

#[test]
fn minor_versions_are_accepted() {
    let mut bytes = bundle::encode(&sample(), None).unwrap();
    bytes[10] = 7;
    let engine = Engine::load(bytes, &LoadOptions::default()).unwrap();
    assert_eq!(engine.bundle().format_version(), (bundle::FORMAT_MAJOR, 7));
}
