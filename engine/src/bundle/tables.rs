//! Request-time lookups over one tenant's validated tables: binary searches over borrowed
//! slices, no allocation, no failure on bounds.
//!
//! INVARIANT (established by `validate::tables` at load, relied on here): every `StrRef`,
//! `ListRef` and grant run lies inside its table and strings are UTF-8. Should that ever not
//! hold, a lookup reads as empty or not found, which can only lead to a denial.

use zerocopy::little_endian::U32;

use super::format::{
    GrantRecord, ListRef, MappingRecord, ResourceRecord, StrRef, SubjectCode, TeamRecord,
    UserRecord, VirtualAccountRecord,
};
use crate::model::{IdpId, ResourceId, RoleId, TeamId, UserId, VirtualAccountId};

/// Borrowed views of one tenant's large tables.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    pub strings: &'a [u8],
    pub users: &'a [UserRecord],
    pub teams: &'a [TeamRecord],
    pub virtual_accounts: &'a [VirtualAccountRecord],
    pub resources: &'a [ResourceRecord],
    pub grants: &'a [GrantRecord],
    pub lists: &'a [U32],
    pub mappings: &'a [MappingRecord],
}

/// The position of a table record as the index type that names it. Tables hold fewer than 2^32
/// records (a section's length is a `u32`).
fn found<T, Id>(table: &[T], i: usize, id: fn(u32) -> Id) -> Option<(Id, &T)> {
    Some((id(u32::try_from(i).ok()?), table.get(i)?))
}

impl<'a> Tables<'a> {
    /// The string a reference names; empty if it is out of bounds (never, after validation).
    pub fn str(&self, r: StrRef) -> &'a str {
        core::str::from_utf8(self.bytes(r)).unwrap_or("")
    }

    /// The bytes of a string, for comparisons: no UTF-8 check (strings were checked at load,
    /// and byte order is `str` order).
    pub fn bytes(&self, r: StrRef) -> &'a [u8] {
        r.range()
            .and_then(|range| self.strings.get(range))
            .unwrap_or(&[])
    }

    /// The list a reference names; empty if it is out of bounds (never, after validation).
    pub fn list(&self, r: ListRef) -> &'a [U32] {
        r.range()
            .and_then(|range| self.lists.get(range))
            .unwrap_or(&[])
    }

    pub fn grants_of(&self, resource: &ResourceRecord) -> &'a [GrantRecord] {
        resource
            .grants()
            .and_then(|range| self.grants.get(range))
            .unwrap_or(&[])
    }

    /// The teams a user is stored in, ascending.
    pub fn teams_of(&self, user: &UserRecord) -> impl Iterator<Item = TeamId> + 'a {
        self.list(user.teams).iter().map(|t| TeamId(t.get()))
    }

    /// The tenant-level roles of a team, ascending.
    pub fn roles_of(&self, team: &TeamRecord) -> impl Iterator<Item = RoleId> + 'a {
        self.list(team.roles).iter().map(|r| RoleId(r.get()))
    }

    /// Whether `subject` is in the resource's `authorized` list.
    pub fn authorizes(&self, resource: &ResourceRecord, subject: SubjectCode) -> bool {
        self.list(resource.authorized)
            .binary_search_by(|a| SubjectCode::from_wire(*a).cmp(&subject))
            .is_ok()
    }

    pub fn user(&self, email_lowercase: &str) -> Option<(UserId, &'a UserRecord)> {
        self.named(self.users, |u| u.email, email_lowercase, UserId)
    }

    pub fn team(&self, name: &str) -> Option<(TeamId, &'a TeamRecord)> {
        self.named(self.teams, |t| t.name, name, TeamId)
    }

    pub fn virtual_account(
        &self,
        name: &str,
    ) -> Option<(VirtualAccountId, &'a VirtualAccountRecord)> {
        self.named(self.virtual_accounts, |v| v.name, name, VirtualAccountId)
    }

    /// The record of a table sorted by name whose name is `name`, by binary search.
    fn named<T, Id>(
        &self,
        table: &'a [T],
        name_of: fn(&T) -> StrRef,
        name: &str,
        id: fn(u32) -> Id,
    ) -> Option<(Id, &'a T)> {
        let i = table
            .binary_search_by(|r| cmp_bytes(self.bytes(name_of(r)), name.as_bytes()))
            .ok()?;
        found(table, i, id)
    }

    /// Looks a resource up by its `type:path` key without building the key.
    pub fn resource(
        &self,
        resource_type: &str,
        path: &str,
    ) -> Option<(ResourceId, &'a ResourceRecord)> {
        let i = self
            .resources
            .binary_search_by(|r| {
                cmp_key(self.bytes(r.key), resource_type.as_bytes(), path.as_bytes())
            })
            .ok()?;
        found(self.resources, i, ResourceId)
    }

    /// Teams mapped from `(idp, value)`, for an identity provider that resolves to users.
    pub fn mapped_teams<'v>(&self, idp: IdpId, value: &'v str) -> impl Iterator<Item = TeamId> + 'v
    where
        'a: 'v,
    {
        self.mapped(idp, value).map(TeamId)
    }

    /// The virtual account mapped from `(idp, value)`, for an identity provider that resolves to
    /// virtual accounts.
    pub fn mapped_virtual_account(&self, idp: IdpId, value: &str) -> Option<VirtualAccountId> {
        self.mapped(idp, value).next().map(VirtualAccountId)
    }

    /// Targets mapped from `(idp, value)`.
    fn mapped<'v>(&self, idp: IdpId, value: &'v str) -> impl Iterator<Item = u32> + 'v
    where
        'a: 'v,
    {
        let tables = *self;
        let start = self
            .mappings
            .partition_point(|m| (m.idp(), tables.bytes(m.value)) < (idp, value.as_bytes()));
        self.mappings
            .get(start..)
            .unwrap_or(&[])
            .iter()
            .take_while(move |m| m.idp() == idp && tables.bytes(m.value) == value.as_bytes())
            .map(|m| m.target.get())
    }
}

/// `a.cmp(b)` eight bytes at a time, inline: the keys compared in lookups are short, and a call
/// to `memcmp` (a byte loop on wasm32) costs more than the comparison.
#[inline]
pub(crate) fn cmp_bytes(a: &[u8], b: &[u8]) -> core::cmp::Ordering {
    let mut a_chunks = a.chunks_exact(8);
    let mut b_chunks = b.chunks_exact(8);
    for (x, y) in a_chunks.by_ref().zip(b_chunks.by_ref()) {
        let (Ok(x), Ok(y)) = (<[u8; 8]>::try_from(x), <[u8; 8]>::try_from(y)) else {
            break;
        };
        let (x, y) = (u64::from_be_bytes(x), u64::from_be_bytes(y));
        if x != y {
            return x.cmp(&y);
        }
    }
    let done = a.len().min(b.len()) / 8 * 8;
    let (a, b) = (a.get(done..).unwrap_or(&[]), b.get(done..).unwrap_or(&[]));
    for (x, y) in a.iter().zip(b) {
        if x != y {
            return x.cmp(y);
        }
    }
    a.len().cmp(&b.len())
}

/// Compares a stored key `type:path` with the parts of a looked-up key, as if they were
/// joined: the same order as `stored.cmp(format!("{resource_type}:{path}"))`, two `memcmp`s.
fn cmp_key(stored: &[u8], resource_type: &[u8], path: &[u8]) -> core::cmp::Ordering {
    use core::cmp::Ordering;
    let (head, rest) = stored.split_at(stored.len().min(resource_type.len()));
    match cmp_bytes(head, resource_type) {
        Ordering::Equal => {}
        other => return other,
    }
    match rest.split_first() {
        // `stored` is `resource_type` itself: a proper prefix of the wanted key.
        None => Ordering::Less,
        Some((&sep, tail)) => sep.cmp(&b':').then_with(|| cmp_bytes(tail, path)),
    }
}

#[cfg(test)]
mod tests {
    use super::{cmp_bytes, cmp_key};

    #[test]
    fn cmp_bytes_is_slice_order() {
        let words: Vec<&[u8]> = vec![
            b"",
            b"a",
            b"ab",
            b"abcdefgh",
            b"abcdefghi",
            b"abcdefgh\0",
            b"abcdefgi",
            b"abcdefg",
            b"\xffabcdefgh",
            b"u28014@synth.example.com",
            b"u28014@synth.example.co",
            b"u28015@synth.example.com",
            b"abcdefghabcdefgh",
            b"abcdefghabcdefgz",
        ];
        for a in &words {
            for b in &words {
                assert_eq!(cmp_bytes(a, b), a.cmp(b), "{a:?} {b:?}");
            }
        }
    }

    #[test]
    fn cmp_key_orders_like_the_joined_key() {
        let stored = [
            "model",
            "model:",
            "model:a",
            "model:a/b",
            "model-x:a",
            "mode",
            "tool:a",
            "",
        ];
        let wanted = [
            ("model", "a"),
            ("model", ""),
            ("mode", "l:a"),
            ("model", "a/b"),
            ("tool", "a"),
        ];
        for s in stored {
            for (ty, path) in wanted {
                assert_eq!(
                    cmp_key(s.as_bytes(), ty.as_bytes(), path.as_bytes()),
                    s.cmp(format!("{ty}:{path}").as_str()),
                    "{s} vs {ty}:{path}"
                );
            }
        }
    }
}
