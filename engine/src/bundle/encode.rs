//! Policy to bundle bytes (the compiler's side). Deterministic: the same policy and key give the
//! same bytes.

use core::mem::size_of;
use std::collections::HashMap;

use ed25519_dalek::{Signer, SigningKey};
use serde::Serialize;
use zerocopy::little_endian::{U16, U32, U64};
use zerocopy::IntoBytes;

use super::error::EncodeError;
use super::format::{
    section, CredentialRecord, Directory, Grants, Header, MappingRecord, Meta, Packed,
    ResourceRecord, SectionEntry, SignatureTrailer, StrRef, SubjectCode, SubjectNumbers,
    TeamRecord, UserRecord, VirtualAccountRecord, CREDENTIAL_DIGEST_LEN, CREDENTIAL_NO_EXPIRY,
    CREDENTIAL_REVOKED, HEADER_LEN, MAX_TENANTS, NONE, NO_DOMAIN, SIGNATURE_TRAILER_LEN,
    USER_ACTIVE,
};
use crate::model::{Credential, IdpId, Policy, RoleId, Subject, Tenant, MAX_ACTIONS};

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
    postcard::to_allocvec(value).map_err(EncodeError::Section)
}

fn u32_of(n: usize, what: &'static str) -> Result<U32, EncodeError> {
    u32::try_from(n)
        .map(U32::new)
        .map_err(|_| EncodeError::TooLarge(what))
}

/// Builds the string heap of one tenant: each distinct string once.
#[derive(Default)]
struct Strings {
    bytes: Vec<u8>,
    seen: HashMap<String, StrRef>,
}

impl Strings {
    fn add(&mut self, s: &str) -> Result<StrRef, EncodeError> {
        if let Some(r) = self.seen.get(s) {
            return Ok(*r);
        }
        let r = StrRef {
            offset: u32_of(self.bytes.len(), "string heap over 4 GiB")?,
            len: u16::try_from(s.len())
                .map(U16::new)
                .map_err(|_| EncodeError::TooLarge("a string longer than 65535 bytes"))?,
        };
        self.bytes.extend_from_slice(s.as_bytes());
        self.seen.insert(s.to_owned(), r);
        Ok(r)
    }
}

/// The distinct email domains of a tenant (DOMAINS), each the email from its last `@` on, in
/// order of first use; after 65535 of them, further domains stay in the users' `local`.
#[derive(Default)]
struct Domains {
    refs: Vec<u8>,
    index: HashMap<String, u16>,
}

impl Domains {
    /// `(local, domain index)` of an email.
    fn split<'e>(
        &mut self,
        email: &'e str,
        strings: &mut Strings,
    ) -> Result<(&'e str, u16), EncodeError> {
        let Some(at) = email.rfind('@') else {
            return Ok((email, NO_DOMAIN));
        };
        let (local, domain) = email.split_at(at);
        if let Some(i) = self.index.get(domain) {
            return Ok((local, *i));
        }
        let Ok(i) = u16::try_from(self.index.len()) else {
            return Ok((email, NO_DOMAIN));
        };
        if i == NO_DOMAIN {
            return Ok((email, NO_DOMAIN));
        }
        self.refs.extend_from_slice(strings.add(domain)?.as_bytes());
        self.index.insert(domain.to_owned(), i);
        Ok((local, i))
    }
}

fn u16_of(n: usize, what: &'static str) -> Result<U16, EncodeError> {
    u16::try_from(n)
        .map(U16::new)
        .map_err(|_| EncodeError::TooLarge(what))
}

fn encode_tenant(tenant: &Tenant) -> Result<Vec<(u32, Vec<u8>)>, EncodeError> {
    check_tenant(tenant)?;
    let mut strings = Strings::default();
    let mut domains = Domains::default();
    let roles = tenant.config.roles.len();
    if roles > usize::from(u16::MAX) {
        return Err(EncodeError::TooLarge("more than 65535 roles"));
    }
    if tenant.config.resource_types.len() > usize::from(u16::MAX) {
        return Err(EncodeError::TooLarge("more than 65535 resource types"));
    }

    let team_width = Packed::width_for(tenant.teams.len().saturating_sub(1) as u64);
    let mut users = Vec::with_capacity(tenant.users.len() * size_of::<UserRecord>());
    let mut user_teams = vec![team_width as u8];
    let mut memberships = 0usize;
    for user in &tenant.users {
        let (local, domain) = domains.split(&user.email, &mut strings)?;
        let record = UserRecord {
            local: strings.add(local)?,
            domain: U16::new(domain),
            role: u16_of(user.role.index(), "role")?,
            flags: if user.active { USER_ACTIVE } else { 0 },
            teams_start: u32_of(memberships, "team memberships")?,
        };
        users.extend_from_slice(record.as_bytes());
        for team in &user.teams {
            Packed::encode(u64::from(team.0), team_width, &mut user_teams);
        }
        memberships += user.teams.len();
    }

    let mut teams = Vec::with_capacity(tenant.teams.len() * size_of::<TeamRecord>());
    let mut team_roles = Vec::new();
    let mut mappings: Vec<(IdpId, &str, u32)> = Vec::new();
    for (index, team) in tenant.teams.iter().enumerate() {
        let record = TeamRecord {
            name: strings.add(&team.name)?,
            roles_start: u32_of(team_roles.len() / 2, "team roles")?,
        };
        teams.extend_from_slice(record.as_bytes());
        for role in &team.roles {
            team_roles.extend_from_slice(u16_of(role.index(), "role")?.as_bytes());
        }
        mappings.extend(mapping_rows(&team.idp_mappings, index));
    }

    let mut vas =
        Vec::with_capacity(tenant.virtual_accounts.len() * size_of::<VirtualAccountRecord>());
    for (index, va) in tenant.virtual_accounts.iter().enumerate() {
        let name = strings.add(&va.name)?;
        let record =
            VirtualAccountRecord::new(name, va.expires, va.tokens_valid_after, va.rotation_grace);
        vas.extend_from_slice(record.as_bytes());
        mappings.extend(mapping_rows(&va.idp_mappings, index));
    }

    let numbers = SubjectNumbers {
        users: tenant.users.len() as u64,
        teams: tenant.teams.len() as u64,
        virtual_accounts: tenant.virtual_accounts.len() as u64,
    };
    let role_bits = Grants::role_bits_for(roles);
    let largest = Grants::value(
        numbers.everyone(),
        RoleId(roles.saturating_sub(1) as u32),
        role_bits,
    );
    let grant_width = Packed::width_for(largest);
    let mut grants = Vec::with_capacity(2 + tenant.grants.len() * grant_width);
    grants.push(grant_width as u8);
    grants.push(role_bits as u8);
    let mut resources = Vec::with_capacity(tenant.resources.len() * size_of::<ResourceRecord>());
    let mut authorized = Vec::new();
    let mut next_grant = 0usize;
    for (index, resource) in tenant.resources.iter().enumerate() {
        let start = next_grant;
        while let Some(grant) = tenant.grants.get(next_grant) {
            if grant.resource.index() != index {
                break;
            }
            let number = numbers
                .number(SubjectCode::from(grant.subject))
                .ok_or(EncodeError::Invalid("grant to an unknown subject"))?;
            Packed::encode(
                Grants::value(number, grant.role, role_bits),
                grant_width,
                &mut grants,
            );
            next_grant += 1;
        }
        let authorized_start = authorized.len() / 4;
        for subject in resource.authorized_subjects.as_deref().unwrap_or_default() {
            authorized.extend_from_slice(SubjectCode::from(*subject).to_wire().as_bytes());
        }
        let record = ResourceRecord {
            path: strings.add(&resource.path)?,
            resource_type: u16_of(resource.resource_type.index(), "resource type")?,
            flags: ResourceRecord::flags_of(
                resource.enabled,
                resource.authorized_subjects.is_some(),
            ),
            parent: ResourceRecord::parent_of(resource.parent),
            grants_start: u32_of(start, "grants")?,
            authorized_start: u32_of(authorized_start, "authorized subjects")?,
        };
        resources.extend_from_slice(record.as_bytes());
    }
    if next_grant != tenant.grants.len() {
        return Err(EncodeError::Invalid(
            "grants are not sorted by resource or name a missing resource",
        ));
    }

    mappings.sort();
    let mut mapping_bytes = Vec::with_capacity(mappings.len() * size_of::<MappingRecord>());
    for (idp, value, target) in mappings {
        let record = MappingRecord {
            idp: U32::new(idp.0),
            value: strings.add(value)?,
            target: U32::new(target),
        };
        mapping_bytes.extend_from_slice(record.as_bytes());
    }

    let mut credentials =
        Vec::with_capacity(tenant.credentials.len() * size_of::<CredentialRecord>());
    for credential in &tenant.credentials {
        credentials.extend_from_slice(credential_record(credential)?.as_bytes());
    }

    Ok(vec![
        (section::CONFIG, postcard_bytes(&tenant.config)?),
        (section::STRINGS, strings.bytes),
        (section::DOMAINS, domains.refs),
        (section::USERS, users),
        (section::USER_TEAMS, user_teams),
        (section::TEAMS, teams),
        (section::TEAM_ROLES, team_roles),
        (section::VIRTUAL_ACCOUNTS, vas),
        (section::RESOURCES, resources),
        (section::GRANTS, grants),
        (section::AUTHORIZED, authorized),
        (section::IDP_MAPPINGS, mapping_bytes),
        (section::CREDENTIALS, credentials),
    ])
}

/// One API key's 40 bytes: its id, the leading bytes of its digest, principal, expiry and scope.
fn credential_record(credential: &Credential) -> Result<CredentialRecord, EncodeError> {
    let mut digest = [0u8; CREDENTIAL_DIGEST_LEN];
    digest.copy_from_slice(
        credential
            .digest
            .get(..CREDENTIAL_DIGEST_LEN)
            .unwrap_or(&[0; 20]),
    );
    let principal = match credential.principal {
        None => NONE,
        Some(subject @ (Subject::User(_) | Subject::VirtualAccount(_))) => {
            SubjectCode::from(subject).to_wire().get()
        }
        Some(_) => {
            return Err(EncodeError::Invalid(
                "an API key of a team or `team:everyone`",
            ))
        }
    };
    let expires = match credential.expires {
        None => CREDENTIAL_NO_EXPIRY,
        // Before 1970: long expired.
        Some(t) if t < 0 => 0,
        Some(t) => u32::try_from(t)
            .ok()
            .filter(|t| *t != CREDENTIAL_NO_EXPIRY)
            .ok_or(EncodeError::TooLarge("an API key expiring after 2106"))?,
    };
    let scope = match (credential.revoked, credential.scope) {
        (true, _) => CREDENTIAL_REVOKED,
        (false, None) => NONE,
        (false, Some(i)) if i < CREDENTIAL_REVOKED => i,
        (false, Some(_)) => return Err(EncodeError::TooLarge("API key scopes")),
    };
    Ok(CredentialRecord {
        id: U64::new(credential.id),
        digest,
        principal: U32::new(principal),
        expires: U32::new(expires),
        scope: U32::new(scope),
    })
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
    let bad = |why: &'static str| {
        Err(EncodeError::Tenant {
            tenant: tenant.config.name.clone(),
            why,
        })
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
    if !strictly_sorted(&tenant.credentials, |c| &c.id) {
        return bad("API keys not sorted by id or duplicated");
    }
    if tenant.credentials.iter().any(|c| {
        c.scope
            .is_some_and(|s| s as usize >= tenant.config.credential_scopes.len())
    }) {
        return bad("an API key names an unknown scope");
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
