//! Policy to bundle bytes (the compiler's side). Deterministic: the same policy and key give the
//! same bytes.

use ed25519_dalek::{Signer, SigningKey};
use serde::Serialize;
use zerocopy::little_endian::{U16, U32};
use zerocopy::IntoBytes;

use super::error::EncodeError;
use super::format::{
    section, Directory, GrantRecord, Header, ListRef, MappingRecord, Meta, ResourceRecord,
    SectionEntry, SignatureTrailer, StrRef, SubjectCode, TeamRecord, UserRecord,
    VirtualAccountRecord, HEADER_LEN, MAX_TENANTS, SIGNATURE_TRAILER_LEN,
};
use crate::model::{IdpId, Policy, Tenant, MAX_ACTIONS};

/// Encode a policy into bundle bytes, signed when `signing_key` is given. Deterministic: the same
/// policy and key give the same bytes.
pub fn encode(policy: &Policy, signing_key: Option<&SigningKey>) -> Result<Vec<u8>, EncodeError> {
    if policy.tenants.len() > MAX_TENANTS {
        return Err(EncodeError::TooLarge("more than 65535 tenants"));
    }
    let mut sections: Vec<(u32, Vec<u8>)> = Vec::new();
    let meta = Meta {
        revision: policy.revision.clone(),
        compiler_version: policy.compiler_version.clone(),
        tenant_count: policy.tenants.len() as u32,
        serial: policy.serial,
    };
    sections.push((section::META, postcard_bytes(&meta)?));
    sections.push((section::GATEWAY, postcard_bytes(&policy.gateway)?));
    for (index, tenant) in policy.tenants.iter().enumerate() {
        for (kind, bytes) in encode_tenant(tenant)? {
            sections.push((section::tenant(index, kind), bytes));
        }
    }
    sections.sort_by_key(|(id, _)| *id);
    assemble(&sections, signing_key)
}

/// Header, section directory, sections and (when a key is given) the signature trailer, from
/// sections sorted by id.
pub(super) fn assemble(
    sections: &[(u32, Vec<u8>)],
    signing_key: Option<&SigningKey>,
) -> Result<Vec<u8>, EncodeError> {
    let mut offset =
        Directory::encoded_len(sections.len()).ok_or(EncodeError::TooLarge("sections"))?;
    let mut entries = Vec::with_capacity(sections.len());
    for (id, bytes) in sections {
        entries.push(SectionEntry {
            id: U32::new(*id),
            offset: u32_of(offset, "bundle size")?,
            len: u32_of(bytes.len(), "section size")?,
        });
        offset = offset
            .checked_add(bytes.len())
            .ok_or(EncodeError::TooLarge("bundle size"))?;
    }
    let mut body = Vec::with_capacity(offset);
    Directory { entries: &entries }.encode(&mut body)?;
    for (_, bytes) in sections {
        body.extend_from_slice(bytes);
    }

    let mut out = Vec::with_capacity(HEADER_LEN + body.len() + SIGNATURE_TRAILER_LEN);
    Header::for_body(&body, signing_key.is_some()).encode(&mut out);
    out.extend_from_slice(&body);
    if let Some(key) = signing_key {
        let signature = key.sign(&out);
        SignatureTrailer {
            public_key: key.verifying_key().to_bytes(),
            signature: signature.to_bytes(),
        }
        .encode(&mut out);
    }
    Ok(out)
}

pub(super) fn postcard_bytes<T: Serialize>(value: &T) -> Result<Vec<u8>, EncodeError> {
    postcard::to_allocvec(value).map_err(|e| EncodeError::Invalid(e.to_string()))
}

fn u32_of(n: usize, what: &'static str) -> Result<U32, EncodeError> {
    u32::try_from(n)
        .map(U32::new)
        .map_err(|_| EncodeError::TooLarge(what))
}

/// Builds the string heap and the `u32` list pool of one tenant.
#[derive(Default)]
struct Heaps {
    strings: Vec<u8>,
    lists: Vec<u8>,
    list_len: usize,
}

impl Heaps {
    fn string(&mut self, s: &str) -> Result<StrRef, EncodeError> {
        let offset = u32_of(self.strings.len(), "string heap over 4 GiB")?;
        let len = u32_of(s.len(), "string over 4 GiB")?;
        self.strings.extend_from_slice(s.as_bytes());
        Ok(StrRef { offset, len })
    }

    fn list(&mut self, items: impl IntoIterator<Item = U32>) -> Result<ListRef, EncodeError> {
        let start = self.list_len;
        for item in items {
            self.lists.extend_from_slice(item.as_bytes());
            self.list_len += 1;
        }
        Ok(ListRef {
            start: u32_of(start, "list pool")?,
            len: u32_of(self.list_len - start, "list")?,
        })
    }
}

fn encode_tenant(tenant: &Tenant) -> Result<Vec<(u32, Vec<u8>)>, EncodeError> {
    check_tenant(tenant)?;
    let mut heaps = Heaps::default();

    let mut users = Vec::with_capacity(tenant.users.len() * 24);
    for user in &tenant.users {
        let email = heaps.string(&user.email)?;
        let teams = heaps.list(user.teams.iter().map(|t| U32::new(t.0)))?;
        let record = UserRecord::new(email, user.role, user.active, teams);
        users.extend_from_slice(record.as_bytes());
    }

    let mut teams = Vec::with_capacity(tenant.teams.len() * 16);
    let mut mappings: Vec<(IdpId, &str, u32)> = Vec::new();
    for (index, team) in tenant.teams.iter().enumerate() {
        let record = TeamRecord {
            name: heaps.string(&team.name)?,
            roles: heaps.list(team.roles.iter().map(|r| U32::new(r.0)))?,
        };
        teams.extend_from_slice(record.as_bytes());
        mappings.extend(mapping_rows(&team.idp_mappings, index));
    }

    let mut vas = Vec::with_capacity(tenant.virtual_accounts.len() * 24);
    for (index, va) in tenant.virtual_accounts.iter().enumerate() {
        let name = heaps.string(&va.name)?;
        let record = VirtualAccountRecord::new(name, va.expires, va.tokens_valid_after);
        vas.extend_from_slice(record.as_bytes());
        mappings.extend(mapping_rows(&va.idp_mappings, index));
    }

    let mut resources = Vec::with_capacity(tenant.resources.len() * 36);
    let mut grants = Vec::with_capacity(tenant.grants.len() * 6);
    let mut next_grant = 0usize;
    for (index, resource) in tenant.resources.iter().enumerate() {
        let start = next_grant;
        while let Some(grant) = tenant.grants.get(next_grant) {
            if grant.resource.index() != index {
                break;
            }
            let role = u16::try_from(grant.role.0)
                .map_err(|_| EncodeError::TooLarge("more than 65535 roles"))?;
            let record = GrantRecord {
                subject: SubjectCode::from(grant.subject).to_wire(),
                role: U16::new(role),
            };
            grants.extend_from_slice(record.as_bytes());
            next_grant += 1;
        }
        let type_name = tenant
            .config
            .resource_types
            .get(resource.resource_type.index())
            .map(|t| t.name.as_str())
            .ok_or_else(|| EncodeError::Invalid("resource of an unknown type".into()))?;
        let key = format!("{type_name}:{}", resource.path);
        let authorized = resource.authorized_subjects.as_deref().unwrap_or_default();
        let authorized = heaps.list(authorized.iter().map(|s| SubjectCode::from(*s).to_wire()))?;
        let record = ResourceRecord {
            key: heaps.string(&key)?,
            resource_type: U32::new(resource.resource_type.0),
            parent: ResourceRecord::parent_of(resource.parent),
            flags: ResourceRecord::flags_of(
                resource.enabled,
                resource.authorized_subjects.is_some(),
            ),
            grants_start: u32_of(start, "grants")?,
            grants_len: u32_of(next_grant - start, "grants")?,
            authorized,
        };
        resources.extend_from_slice(record.as_bytes());
    }
    if next_grant != tenant.grants.len() {
        return Err(EncodeError::Invalid(
            "grants are not sorted by resource or name a missing resource".into(),
        ));
    }

    mappings.sort();
    let mut mapping_bytes = Vec::with_capacity(mappings.len() * 16);
    for (idp, value, target) in mappings {
        let record = MappingRecord {
            idp: U32::new(idp.0),
            value: heaps.string(value)?,
            target: U32::new(target),
        };
        mapping_bytes.extend_from_slice(record.as_bytes());
    }

    Ok(vec![
        (section::CONFIG, postcard_bytes(&tenant.config)?),
        (section::STRINGS, heaps.strings),
        (section::USERS, users),
        (section::TEAMS, teams),
        (section::VIRTUAL_ACCOUNTS, vas),
        (section::RESOURCES, resources),
        (section::GRANTS, grants),
        (section::LISTS, heaps.lists),
        (section::IDP_MAPPINGS, mapping_bytes),
    ])
}

/// The IDP_MAPPINGS rows `(idp, value, target)` of one team or virtual account.
fn mapping_rows(
    mappings: &[(IdpId, String)],
    target: usize,
) -> impl Iterator<Item = (IdpId, &str, u32)> {
    mappings
        .iter()
        .map(move |(idp, value)| (*idp, value.as_str(), target as u32))
}

/// The encoder re-checks the ordering invariants the decoder relies on, so a compiler bug shows
/// up at compile time rather than as a bundle that every proxy rejects.
fn check_tenant(tenant: &Tenant) -> Result<(), EncodeError> {
    let bad = |why: &str| {
        Err(EncodeError::Invalid(format!(
            "tenant `{}`: {why}",
            tenant.config.name
        )))
    };
    if tenant.config.actions.len() > MAX_ACTIONS {
        return bad("more than 64 action names");
    }
    fn strictly_sorted<T, K: PartialOrd>(items: &[T], key: impl Fn(&T) -> &K) -> bool {
        items
            .windows(2)
            .all(|w| matches!(w, [a, b] if key(a) < key(b)))
    }
    if !strictly_sorted(&tenant.users, |u| &u.email) {
        return bad("users not sorted by email or duplicated");
    }
    if !strictly_sorted(&tenant.teams, |t| &t.name) {
        return bad("teams not sorted by name or duplicated");
    }
    if !strictly_sorted(&tenant.virtual_accounts, |v| &v.name) {
        return bad("virtual accounts not sorted by name or duplicated");
    }
    if !strictly_sorted(&tenant.grants, |g| g) {
        return bad("grants not sorted or duplicated");
    }
    let mut previous: Option<String> = None;
    for resource in &tenant.resources {
        let Some(t) = tenant
            .config
            .resource_types
            .get(resource.resource_type.index())
        else {
            return bad("resource of an unknown type");
        };
        let key = format!("{}:{}", t.name, resource.path);
        if previous.as_ref().is_some_and(|p| *p >= key) {
            return bad("resources not sorted by `type:path` or duplicated");
        }
        previous = Some(key);
    }
    Ok(())
}
