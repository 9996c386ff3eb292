//! Packed integer columns: team memberships and grants, each value as wide as the bundle needs.

use core::ops::Range;

use super::SubjectCode;
use crate::model::{RoleId, Subject, TeamId, UserId, VirtualAccountId};

/// A column of unsigned integers `width` bytes each (1 to 8, little-endian), read in place: the
/// packed sections USER_TEAMS and GRANTS. The width is chosen per bundle from the largest value
/// the column can hold and stored in the section's first byte.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Packed<'a> {
    bytes: &'a [u8],
    /// 1 to 8.
    width: usize,
}

impl<'a> Packed<'a> {
    pub const EMPTY: Packed<'static> = Packed {
        bytes: &[],
        width: 1,
    };

    /// Values of `width` bytes; `None` unless `width` is 1 to 8 and `bytes` whole values.
    pub fn new(bytes: &'a [u8], width: usize) -> Option<Packed<'a>> {
        ((1..=8).contains(&width) && bytes.len() % width == 0).then_some(Packed { bytes, width })
    }

    /// The bytes a value up to `max` needs (at least 1).
    pub fn width_for(max: u64) -> usize {
        let bits = 64 - max.leading_zeros() as usize;
        bits.div_ceil(8).max(1)
    }

    /// Appends `value` in `width` bytes (the caller picked `width` with [`Packed::width_for`]).
    pub fn encode(value: u64, width: usize, out: &mut Vec<u8>) {
        out.extend(value.to_le_bytes().iter().take(width));
    }

    pub fn width(&self) -> usize {
        self.width
    }

    pub fn len(&self) -> usize {
        // INVARIANT: width >= 1 (`new`).
        self.bytes.len() / self.width
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Value `i`; `None` past the end.
    #[inline]
    pub fn get(&self, i: usize) -> Option<u64> {
        let start = i.checked_mul(self.width)?;
        let bytes = self.bytes.get(start..start.checked_add(self.width)?)?;
        Some(Self::value(bytes))
    }

    /// The value of one `width`-byte chunk, without a call to `memcpy` for the common widths.
    #[inline]
    fn value(bytes: &[u8]) -> u64 {
        match *bytes {
            [a] => u64::from(a),
            [a, b] => u64::from(u16::from_le_bytes([a, b])),
            [a, b, c] => u64::from(u32::from_le_bytes([a, b, c, 0])),
            [a, b, c, d] => u64::from(u32::from_le_bytes([a, b, c, d])),
            _ => {
                let mut word = [0u8; 8];
                for (w, b) in word.iter_mut().zip(bytes) {
                    *w = *b;
                }
                u64::from_le_bytes(word)
            }
        }
    }

    /// Values `range`; empty if it is out of bounds.
    pub fn slice(&self, range: Range<usize>) -> Packed<'a> {
        let bytes = range
            .start
            .checked_mul(self.width)
            .zip(range.end.checked_mul(self.width))
            .and_then(|(start, end)| self.bytes.get(start..end))
            .unwrap_or(&[]);
        Packed {
            bytes,
            width: self.width,
        }
    }

    pub fn iter(&self) -> impl Iterator<Item = u64> + 'a {
        self.bytes.chunks_exact(self.width).map(Self::value)
    }

    /// The number of leading values for which `pred` holds (the column is sorted by `pred`).
    pub fn partition_point(&self, pred: impl Fn(u64) -> bool) -> usize {
        let (mut lo, mut hi) = (0, self.len());
        while lo < hi {
            let mid = lo + (hi - lo) / 2;
            if self.get(mid).is_some_and(&pred) {
                lo = mid + 1;
            } else {
                hi = mid;
            }
        }
        lo
    }
}

/// A grant's subject as a number: users `0 .. U`, then teams, then virtual accounts, then
/// `team:everyone` (`U + T + V`), `U`, `T`, `V` being the tenant's table sizes. The order is
/// [`SubjectCode`]'s.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SubjectNumbers {
    pub users: u64,
    pub teams: u64,
    pub virtual_accounts: u64,
}

impl SubjectNumbers {
    pub fn number(&self, subject: SubjectCode) -> Option<u64> {
        match subject.subject() {
            Subject::User(u) => Some(u64::from(u.0)).filter(|u| *u < self.users),
            Subject::Team(t) => Some(u64::from(t.0))
                .filter(|t| *t < self.teams)
                .map(|t| self.users + t),
            Subject::VirtualAccount(v) => Some(u64::from(v.0))
                .filter(|v| *v < self.virtual_accounts)
                .map(|v| self.users + self.teams + v),
            Subject::Everyone => Some(self.everyone()),
        }
    }

    pub fn subject(&self, number: u64) -> Option<Subject> {
        let id = |n: u64| u32::try_from(n).ok();
        if number < self.users {
            return id(number).map(|u| Subject::User(UserId(u)));
        }
        let number = number - self.users;
        if number < self.teams {
            return id(number).map(|t| Subject::Team(TeamId(t)));
        }
        let number = number - self.teams;
        if number < self.virtual_accounts {
            return id(number).map(|v| Subject::VirtualAccount(VirtualAccountId(v)));
        }
        (number == self.virtual_accounts).then_some(Subject::Everyone)
    }

    /// `team:everyone`, the largest number.
    pub fn everyone(&self) -> u64 {
        self.users + self.teams + self.virtual_accounts
    }
}

/// The GRANTS section read in place: `(subject number << role_bits) | role` per grant, packed,
/// grouped by resource and ascending within a resource (that is, by `(subject, role)`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Grants<'a> {
    pub values: Packed<'a>,
    /// 0 to 16.
    pub role_bits: u32,
}

impl<'a> Grants<'a> {
    pub const EMPTY: Grants<'static> = Grants {
        values: Packed::EMPTY,
        role_bits: 0,
    };

    /// The bits a role index of a tenant with `roles` roles takes.
    pub fn role_bits_for(roles: usize) -> u32 {
        usize::BITS - roles.saturating_sub(1).leading_zeros()
    }

    pub fn value(number: u64, role: RoleId, role_bits: u32) -> u64 {
        (number << role_bits) | u64::from(role.0)
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    pub fn slice(&self, range: Range<usize>) -> Grants<'a> {
        Grants {
            values: self.values.slice(range),
            role_bits: self.role_bits,
        }
    }

    /// `(subject number, role)` of a stored value.
    pub fn split(&self, value: u64) -> (u64, RoleId) {
        let mask = (1u64 << self.role_bits) - 1;
        // The mask keeps at most 16 bits.
        (value >> self.role_bits, RoleId((value & mask) as u32))
    }

    /// Every `(subject number, role)`, in order.
    pub fn iter(&self) -> impl Iterator<Item = (u64, RoleId)> + 'a {
        let this = *self;
        self.values.iter().map(move |v| this.split(v))
    }

    /// The roles granted to subject `number`, ascending, by binary search.
    pub fn roles_of(&self, number: u64) -> impl Iterator<Item = RoleId> + 'a {
        let this = *self;
        let (lo, hi) = (number << self.role_bits, (number + 1) << self.role_bits);
        let start = self.values.partition_point(|v| v < lo);
        let values = self.values.slice(start..self.values.len());
        values
            .iter()
            .take_while(move |v| *v < hi)
            .map(move |v| this.split(v).1)
    }
}
