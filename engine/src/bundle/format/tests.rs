//! The byte layout: every structure at its documented offsets, and round trips.

use super::*;
use crate::model::RoleId;

#[test]
fn header_round_trips_at_documented_offsets() {
    for signed in [false, true] {
        let header = Header::for_body(b"body", signed);
        let mut bytes = Vec::new();
        header.encode(&mut bytes);
        assert_eq!(bytes.len(), HEADER_LEN);
        assert_eq!(bytes.get(0..8), Some(&MAGIC[..]));
        assert_eq!(bytes.get(8..10), Some(&FORMAT_MAJOR.to_le_bytes()[..]));
        assert_eq!(bytes.get(10..12), Some(&FORMAT_MINOR.to_le_bytes()[..]));
        assert_eq!(
            bytes.get(12..16),
            Some(&u32::from(signed).to_le_bytes()[..])
        );
        assert_eq!(bytes.get(16..24), Some(&4u64.to_le_bytes()[..]));
        assert_eq!(bytes.get(24..56), Some(&Sha256::digest(b"body")[..]));
        let mut r = Reader::new(&bytes);
        assert_eq!(Header::read(&mut r), Ok(header));
        assert_eq!(r.remaining(), 0);
        assert_eq!(header.is_signed(), signed);
        assert_eq!(
            header.file_len(),
            Ok(HEADER_LEN + 4 + 96 * usize::from(signed))
        );
    }
}

#[test]
fn header_read_refuses_what_it_must() {
    let mut good = Vec::new();
    Header::for_body(b"", false).encode(&mut good);
    let read = |bytes: &[u8]| Header::read(&mut Reader::new(bytes));
    assert_eq!(
        read(good.get(..55).unwrap_or_default()),
        Err(LoadError::Truncated("header"))
    );
    let mut bad = good.clone();
    if let Some(b) = bad.get_mut(0) {
        *b = b'X';
    }
    assert_eq!(read(&bad), Err(LoadError::BadMagic));
    let mut bad = good.clone();
    // A major this build does not read (the next one), whatever the minor.
    let next = FORMAT_MAJOR + 1;
    if let Some(b) = bad.get_mut(8..12) {
        b.copy_from_slice(&[next.to_le_bytes()[0], next.to_le_bytes()[1], 9, 0]);
    }
    assert_eq!(
        read(&bad),
        Err(LoadError::UnsupportedVersion {
            major: next,
            minor: 9
        })
    );
    let mut bad = good;
    if let Some(b) = bad.get_mut(12) {
        *b = 2;
    }
    assert!(matches!(read(&bad), Err(LoadError::Corrupt(_))));
}

#[test]
fn trailer_round_trips() {
    let trailer = SignatureTrailer {
        public_key: [1; 32],
        signature: [2; 64],
    };
    let mut bytes = Vec::new();
    trailer.encode(&mut bytes);
    assert_eq!(bytes.len(), SIGNATURE_TRAILER_LEN);
    assert_eq!(bytes.get(..32), Some(&[1; 32][..]));
    assert_eq!(
        SignatureTrailer::read(&mut Reader::new(&bytes)),
        Ok(trailer)
    );
}

#[test]
fn directory_round_trips_at_documented_offsets() {
    let entry = |id: u32, offset: u32, len: u32| SectionEntry {
        id: U32::new(id),
        offset: U32::new(offset),
        len: U32::new(len),
    };
    let entries = [entry(1, 28, 5), entry(0x102, 33, 0)];
    let mut bytes = Vec::new();
    Directory { entries: &entries }
        .encode(&mut bytes)
        .unwrap_or_default();
    assert_eq!(Directory::encoded_len(2), Some(bytes.len()));
    let words: Vec<u32> = bytes
        .chunks_exact(4)
        .filter_map(|w| w.try_into().ok().map(u32::from_le_bytes))
        .collect();
    assert_eq!(words, [2, 1, 28, 5, 0x102, 33, 0]);
    let mut r = Reader::new(&bytes);
    let directory = Directory::read(&mut r);
    assert_eq!(directory, Ok(Directory { entries: &entries }));
    assert_eq!(r.offset(), bytes.len());
    let directory = directory.unwrap_or(Directory { entries: &[] });
    assert_eq!(directory.get(0x102), Ok(33..33));
    assert!(directory.get(2).is_err());
    assert_eq!(
        Directory::read(&mut Reader::new(bytes.get(..20).unwrap_or_default())),
        Err(LoadError::Truncated("section directory"))
    );
    let huge = u32::MAX.to_le_bytes();
    assert_eq!(
        Directory::read(&mut Reader::new(&huge)),
        Err(LoadError::Truncated("section directory"))
    );
}

#[test]
fn subject_codes_round_trip_in_wire_order() {
    let subjects = [
        Subject::User(UserId(0)),
        Subject::User(UserId(7)),
        Subject::Team(TeamId(0)),
        Subject::Team(TeamId(3)),
        Subject::VirtualAccount(VirtualAccountId(2)),
        Subject::Everyone,
    ];
    let codes: Vec<SubjectCode> = subjects.iter().map(|s| SubjectCode::from(*s)).collect();
    let raw: Vec<u32> = codes.iter().map(|c| c.to_wire().get()).collect();
    assert_eq!(raw, [0, 7, 1 << 30, (1 << 30) | 3, (2 << 30) | 2, 3 << 30]);
    assert!(codes.windows(2).all(|w| matches!(w, [a, b] if a < b)));
    for (code, subject) in codes.iter().zip(subjects) {
        assert_eq!(code.subject(), subject);
        assert!(code.is_canonical());
    }
    assert_eq!(codes.get(3).and_then(|c| c.team_id()), Some(TeamId(3)));
    assert!(!SubjectCode::from_wire(U32::new((3 << 30) | 1)).is_canonical());
}

#[test]
fn optional_fields_use_their_sentinels() {
    let r = ResourceRecord {
        path: StrRef {
            offset: U32::new(0),
            len: U16::new(0),
        },
        resource_type: U16::new(1),
        flags: ResourceRecord::flags_of(false, true),
        parent: ResourceRecord::parent_of(None),
        grants_start: U32::new(0),
        authorized_start: U32::new(0),
    };
    assert_eq!(r.parent.get(), NONE);
    assert_eq!(r.parent(), None);
    assert!(r.is_disabled() && r.is_restricted());
    assert_eq!(r.flags, RESOURCE_DISABLED | RESOURCE_RESTRICTED);
    let va = VirtualAccountRecord::new(r.path, None, Some(5), 0);
    assert_eq!(va.expires.get(), NO_TIME);
    assert_eq!((va.expires(), va.tokens_valid_after()), (None, Some(5)));
}

#[test]
fn packed_values_round_trip_at_every_width() {
    assert_eq!(Packed::width_for(0), 1);
    assert_eq!(Packed::width_for(255), 1);
    assert_eq!(Packed::width_for(256), 2);
    assert_eq!(Packed::width_for((1 << 24) - 1), 3);
    assert_eq!(Packed::width_for(u64::MAX), 8);
    for width in 1..=8usize {
        let max = if width == 8 {
            u64::MAX
        } else {
            (1u64 << (8 * width)) - 1
        };
        let values = [0, 1, max / 3, max - 1, max];
        let mut bytes = Vec::new();
        for v in values {
            Packed::encode(v, width, &mut bytes);
        }
        assert_eq!(bytes.len(), width * values.len());
        let packed = Packed::new(&bytes, width).unwrap_or(Packed::EMPTY);
        assert_eq!(packed.len(), values.len());
        assert_eq!(packed.iter().collect::<Vec<_>>(), values);
        assert_eq!(
            (0..5).map(|i| packed.get(i)).collect::<Vec<_>>(),
            values.map(Some)
        );
        assert_eq!(packed.get(5), None);
        assert_eq!(packed.partition_point(|v| v < max / 3), 2);
        assert_eq!(
            packed.slice(3..5).iter().collect::<Vec<_>>(),
            [max - 1, max]
        );
        assert!(packed.slice(4..9).is_empty());
    }
    assert_eq!(Packed::new(&[1, 2, 3], 2), None);
    assert_eq!(Packed::new(&[], 0), None);
    assert_eq!(Packed::new(&[0; 9], 9), None);
}

#[test]
fn grants_number_subjects_in_code_order() {
    let numbers = SubjectNumbers {
        users: 3,
        teams: 2,
        virtual_accounts: 1,
    };
    let subjects = [
        Subject::User(UserId(0)),
        Subject::User(UserId(2)),
        Subject::Team(TeamId(0)),
        Subject::Team(TeamId(1)),
        Subject::VirtualAccount(VirtualAccountId(0)),
        Subject::Everyone,
    ];
    let got: Vec<Option<u64>> = subjects
        .iter()
        .map(|s| numbers.number(SubjectCode::from(*s)))
        .collect();
    assert_eq!(got, [0, 2, 3, 4, 5, 6].map(Some));
    for (subject, n) in subjects.iter().zip([0, 2, 3, 4, 5, 6]) {
        assert_eq!(numbers.subject(n), Some(*subject));
    }
    assert_eq!(numbers.subject(7), None);
    assert_eq!(numbers.number(SubjectCode::user(UserId(3))), None);
    assert_eq!(numbers.number(SubjectCode::team(TeamId(2))), None);
    assert_eq!(Grants::role_bits_for(0), 0);
    assert_eq!(Grants::role_bits_for(1), 0);
    assert_eq!(Grants::role_bits_for(2), 1);
    assert_eq!(Grants::role_bits_for(25), 5);
    assert_eq!(Grants::role_bits_for(65535), 16);
    // Subject 2 holds roles 1 and 3; subject 3 role 0: values `n << 2 | role`.
    let mut bytes = Vec::new();
    for (n, role) in [(0, 2), (2, 1), (2, 3), (3, 0)] {
        Packed::encode(Grants::value(n, RoleId(role), 2), 1, &mut bytes);
    }
    let grants = Grants {
        values: Packed::new(&bytes, 1).unwrap_or(Packed::EMPTY),
        role_bits: 2,
    };
    let roles = |n| grants.roles_of(n).map(|r| r.0).collect::<Vec<_>>();
    assert_eq!(roles(2), [1, 3]);
    assert_eq!(roles(3), [0]);
    assert_eq!(roles(0), [2]);
    assert!(roles(1).is_empty() && roles(4).is_empty());
}
