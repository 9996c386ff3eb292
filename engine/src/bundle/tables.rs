//! Request-time lookups over one tenant's validated tables: binary searches over borrowed
//! slices, no allocation, no failure on bounds.
//!
//! INVARIANT (established by `validate::tables` at load, relied on here): every `StrRef`, run
//! start and domain index lies inside its table, strings are UTF-8 and `type_ranges` holds each
//! type's resources. Should that ever not hold, a lookup reads as empty or not found, which can
//! only lead to a denial.

use core::cmp::Ordering;
use core::ops::Range;

use zerocopy::little_endian::{U16, U32};

use super::format::{
    run_of, CredentialRecord, Grants, MappingRecord, Packed, ResourceRecord, StrRef, SubjectCode,
    SubjectNumbers, TeamRecord, UserRecord, VirtualAccountRecord,
};
use super::index::{KeyIndex, KeyIndexRef};
use crate::model::{
    IdpId, ResourceId, ResourceType, RoleId, TeamId, TypeId, UserId, VirtualAccountId,
};

/// Borrowed views of one tenant's large tables.
#[derive(Debug, Clone, Copy)]
pub struct Tables<'a> {
    pub strings: &'a [u8],
    pub domains: &'a [StrRef],
    pub users: &'a [UserRecord],
    pub user_teams: Packed<'a>,
    pub teams: &'a [TeamRecord],
    pub team_roles: &'a [U16],
    pub virtual_accounts: &'a [VirtualAccountRecord],
    pub resources: &'a [ResourceRecord],
    pub grants: Grants<'a>,
    pub authorized: &'a [U32],
    pub mappings: &'a [MappingRecord],
    pub credentials: &'a [CredentialRecord],
    /// The tenant's resource types (CONFIG), whose names prefix resource keys.
    pub types: &'a [ResourceType],
    /// Per type, the run of RESOURCES holding its resources (contiguous: keys sorted, each
    /// prefixed by its type's name and `:`).
    pub type_ranges: &'a [Range<usize>],
    /// Samples of the users' emails, narrowing [`Tables::user`]'s search (built at load).
    pub user_index: KeyIndexRef<'a>,
    /// Per type, samples of its resources' paths, narrowing [`Tables::resource`]'s search; may
    /// be empty (then the whole run is searched).
    pub resource_index: &'a [KeyIndex],
}

/// The position of a table record as the index type that names it. Tables hold fewer than 2^32
/// records (a section's length is a `u32`).
fn found<T, Id>(table: &[T], i: usize, id: fn(u32) -> Id) -> Option<(Id, &T)> {
    Some((id(u32::try_from(i).ok()?), table.get(i)?))
}

impl<'a> Tables<'a> {
    pub const EMPTY: Tables<'static> = Tables {
        strings: &[],
        domains: &[],
        users: &[],
        user_teams: Packed::EMPTY,
        teams: &[],
        team_roles: &[],
        virtual_accounts: &[],
        resources: &[],
        grants: Grants::EMPTY,
        authorized: &[],
        mappings: &[],
        credentials: &[],
        types: &[],
        type_ranges: &[],
        user_index: KeyIndexRef::EMPTY,
        resource_index: &[],
    };

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

    /// A user's email as its two stored parts (`local`, then the domain from the last `@`).
    pub fn email_parts(&self, user: &UserRecord) -> [&'a [u8]; 2] {
        let domain = user
            .domain()
            .and_then(|d| self.domains.get(d))
            .map_or(&[][..], |d| self.bytes(*d));
        [self.bytes(user.local), domain]
    }

    /// A user's email.
    pub fn email(&self, user: &UserRecord) -> String {
        let [local, domain] = self.email_parts(user);
        let mut email = String::from_utf8_lossy(local).into_owned();
        email.push_str(&String::from_utf8_lossy(domain));
        email
    }

    /// A resource's key, `<type name>:<path>`, as its three parts.
    pub fn key_parts(&self, resource: &ResourceRecord) -> [&'a [u8]; 3] {
        let type_name = self
            .types
            .get(resource.resource_type().index())
            .map_or(&[][..], |t| t.name.as_bytes());
        [type_name, b":", self.bytes(resource.path)]
    }

    /// A resource's key, `<type name>:<path>`.
    pub fn key(&self, resource: &ResourceRecord) -> String {
        self.key_parts(resource)
            .iter()
            .map(|part| String::from_utf8_lossy(part))
            .collect()
    }

    /// The API key with this id (SPEC 2.7).
    pub fn credential(&self, id: u64) -> Option<&'a CredentialRecord> {
        let i = self
            .credentials
            .binary_search_by_key(&id, |c| c.id.get())
            .ok()?;
        self.credentials.get(i)
    }

    /// The run of USER_TEAMS of `user`.
    fn user_run(&self, user: UserId) -> Range<usize> {
        run_of(
            self.users,
            |u| u.teams_start,
            user.index(),
            self.user_teams.len(),
        )
        .unwrap_or(0..0)
    }

    /// The teams a user is stored in, ascending.
    pub fn teams_of(&self, user: UserId) -> impl Iterator<Item = TeamId> + 'a {
        // Team indices were checked at load to be below the team count (< 2^32).
        self.user_teams
            .slice(self.user_run(user))
            .iter()
            .map(|t| TeamId(t as u32))
    }

    /// The tenant-level roles of a team, ascending.
    pub fn roles_of(&self, team: TeamId) -> impl Iterator<Item = RoleId> + 'a {
        let run = run_of(
            self.teams,
            |t| t.roles_start,
            team.index(),
            self.team_roles.len(),
        );
        run.and_then(|range| self.team_roles.get(range))
            .unwrap_or(&[])
            .iter()
            .map(|r| RoleId(u32::from(r.get())))
    }

    /// The resource's run of GRANTS.
    pub fn grants_of(&self, resource: ResourceId) -> Grants<'a> {
        let run = run_of(
            self.resources,
            |r| r.grants_start,
            resource.index(),
            self.grants.len(),
        );
        self.grants.slice(run.unwrap_or(0..0))
    }

    /// The subjects a restricted resource authorizes, ascending.
    pub fn authorized_of(&self, resource: ResourceId) -> &'a [U32] {
        run_of(
            self.resources,
            |r| r.authorized_start,
            resource.index(),
            self.authorized.len(),
        )
        .and_then(|range| self.authorized.get(range))
        .unwrap_or(&[])
    }

    /// Whether `subject` is in the resource's authorized subjects.
    pub fn authorizes(&self, resource: ResourceId, subject: SubjectCode) -> bool {
        self.authorized_of(resource)
            .binary_search_by(|a| SubjectCode::from_wire(*a).cmp(&subject))
            .is_ok()
    }

    /// How grants number subjects in this tenant.
    pub fn subject_numbers(&self) -> SubjectNumbers {
        SubjectNumbers {
            users: self.users.len() as u64,
            teams: self.teams.len() as u64,
            virtual_accounts: self.virtual_accounts.len() as u64,
        }
    }

    pub fn user(&self, email_lowercase: &str) -> Option<(UserId, &'a UserRecord)> {
        let email = email_lowercase.as_bytes();
        let run = self.user_index.candidates(email, self.users.len());
        let start = run.start;
        let i = self
            .users
            .get(run)?
            .binary_search_by(|u| self.cmp_email(u, email))
            .ok()?;
        found(self.users, start.checked_add(i)?, UserId)
    }

    /// A user's email compared with `email`, without joining its parts.
    #[inline]
    fn cmp_email(&self, user: &UserRecord, email: &[u8]) -> Ordering {
        // Most probes differ within the local part: compare it alone first.
        let local = self.bytes(user.local);
        let (head, rest) = email.split_at(local.len().min(email.len()));
        match cmp_bytes(local, head) {
            Ordering::Equal => cmp_concat([self.email_parts(user)[1]], [rest]),
            other => other,
        }
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

    /// Looks a resource up by its type name and path: the type's run of RESOURCES, then a binary
    /// search by path.
    pub fn resource(
        &self,
        resource_type: &str,
        path: &str,
    ) -> Option<(ResourceId, &'a ResourceRecord)> {
        let ty = self
            .types
            .iter()
            .position(|t| cmp_bytes(t.name.as_bytes(), resource_type.as_bytes()).is_eq())?;
        let run = self.type_ranges.get(ty)?.clone();
        let path = path.as_bytes();
        let narrowed = self.resource_index.get(ty).map_or(0..run.len(), |index| {
            index.as_ref().candidates(path, run.len())
        });
        let start = run.start.checked_add(narrowed.start)?;
        let end = run.start.checked_add(narrowed.end)?;
        let i = self
            .resources
            .get(start..end)?
            .binary_search_by(|r| cmp_bytes(self.bytes(r.path), path))
            .ok()?;
        found(self.resources, start.checked_add(i)?, ResourceId)
    }

    /// The type of a resource, when it is one of the tenant's types.
    pub fn type_of(&self, resource: &ResourceRecord) -> Option<(TypeId, &'a ResourceType)> {
        let ty = resource.resource_type();
        Some((ty, self.types.get(ty.index())?))
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

/// Compares the concatenation of the parts `a` with that of the parts `b`, without building
/// either: the same order as `a.concat().cmp(&b.concat())`.
pub(crate) fn cmp_concat<const N: usize, const M: usize>(a: [&[u8]; N], b: [&[u8]; M]) -> Ordering {
    let (mut a_parts, mut b_parts) = (a.iter(), b.iter());
    let (mut x, mut y): (&[u8], &[u8]) = (&[], &[]);
    loop {
        while x.is_empty() {
            match a_parts.next() {
                Some(part) => x = part,
                None => break,
            }
        }
        while y.is_empty() {
            match b_parts.next() {
                Some(part) => y = part,
                None => break,
            }
        }
        if x.is_empty() || y.is_empty() {
            return x.len().cmp(&y.len());
        }
        let n = x.len().min(y.len());
        let ((x_head, x_tail), (y_head, y_tail)) = (x.split_at(n), y.split_at(n));
        match cmp_bytes(x_head, y_head) {
            Ordering::Equal => (x, y) = (x_tail, y_tail),
            other => return other,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{cmp_bytes, cmp_concat};

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
    fn cmp_concat_orders_like_the_joined_bytes() {
        let words = [
            "",
            "model",
            "model:",
            "model:a",
            "model:a/b",
            "model-x:a",
            "mode",
            "tool:a",
            "u1@x.com",
            "u1.b@x.com",
            "u1@x.co",
            "abcdefghabcdefghi",
        ];
        let splits = |w: &'static str| {
            (0..=w.len())
                .filter(|i| w.is_char_boundary(*i))
                .map(move |i| w.split_at(i))
        };
        for a in words {
            for b in words {
                let want = a.cmp(b);
                for (a1, a2) in splits(a) {
                    assert_eq!(
                        cmp_concat([a1.as_bytes(), a2.as_bytes()], [b.as_bytes()]),
                        want,
                        "{a1}|{a2} vs {b}"
                    );
                    for (b1, b2) in splits(b) {
                        assert_eq!(
                            cmp_concat(
                                [a1.as_bytes(), b"", a2.as_bytes()],
                                [b1.as_bytes(), b2.as_bytes()]
                            ),
                            want,
                            "{a1}|{a2} vs {b1}|{b2}"
                        );
                    }
                }
            }
        }
    }
}
