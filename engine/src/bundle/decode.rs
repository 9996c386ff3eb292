//! Bundle bytes to a [`Bundle`] (the filter's and `gatehouse check`'s side): header, digest,
//! signature and trust, then the sections, every offset checked here once.

use core::ops::Range;

use ed25519_dalek::{Signature, VerifyingKey};
use serde::Deserialize;
use sha2::{Digest, Sha256};
use zerocopy::{FromBytes, Immutable, KnownLayout, Unaligned};

use super::error::{corrupt, Corrupt, LoadError};
use super::format::{
    section, Directory, Grants, Header, Meta, Packed, Reader, SignatureTrailer, FORMAT_MAJOR,
    HEADER_LEN, MAX_TENANTS,
};
use super::index::{KeyIndex, KeyIndexRef};
use super::tables::Tables;
use super::validate;
use crate::jwt::KeySet;
use crate::model::{Gateway, TenantConfig};

/// How a bundle is accepted.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Ed25519 public keys. When non-empty, only bundles signed by one of them load.
    pub trusted_keys: Vec<[u8; 32]>,
}

/// A decoded, validated bundle. Owns its bytes; the large tables are read in place.
#[derive(Debug)]
pub struct Bundle {
    bytes: Vec<u8>,
    digest: [u8; 32],
    signer: Option<[u8; 32]>,
    minor: u16,
    meta: Meta,
    gateway: Gateway,
    tenants: Vec<LoadedTenant>,
}

/// The decoded small part of one tenant, its prepared keys, and where its tables are.
pub struct LoadedTenant {
    pub config: TenantConfig,
    pub keys: KeySet,
    /// Same order as `config.identity_providers`.
    pub idp_keys: Vec<KeySet>,
    tables: TableRanges,
    /// Per resource type, its run of RESOURCES (found at load).
    type_ranges: Vec<Range<usize>>,
    /// Samples of the users' emails and, per type, of its resources' paths ([`KeyIndex`]).
    user_index: KeyIndex,
    resource_index: Vec<KeyIndex>,
}

impl core::fmt::Debug for LoadedTenant {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("LoadedTenant")
            .field("name", &self.config.name)
            .finish_non_exhaustive()
    }
}

/// Where one tenant's table sections are, in the bundle's bytes.
#[derive(Debug, Clone, Default)]
struct TableRanges {
    strings: Range<usize>,
    domains: Range<usize>,
    users: Range<usize>,
    user_teams: Range<usize>,
    teams: Range<usize>,
    team_roles: Range<usize>,
    virtual_accounts: Range<usize>,
    resources: Range<usize>,
    grants: Range<usize>,
    authorized: Range<usize>,
    mappings: Range<usize>,
    credentials: Range<usize>,
}

impl TableRanges {
    fn of_tenant(directory: &Directory<'_>, index: usize) -> Result<TableRanges, LoadError> {
        let range = |kind| directory.get(section::tenant(index, kind));
        Ok(TableRanges {
            strings: range(section::STRINGS)?,
            domains: range(section::DOMAINS)?,
            users: range(section::USERS)?,
            user_teams: range(section::USER_TEAMS)?,
            teams: range(section::TEAMS)?,
            team_roles: range(section::TEAM_ROLES)?,
            virtual_accounts: range(section::VIRTUAL_ACCOUNTS)?,
            resources: range(section::RESOURCES)?,
            grants: range(section::GRANTS)?,
            authorized: range(section::AUTHORIZED)?,
            mappings: range(section::IDP_MAPPINGS)?,
            credentials: range(section::CREDENTIALS)?,
        })
    }

    /// The tables these ranges of `bytes` hold; `Err` if one is out of bounds, not a whole
    /// number of records, or a packed section's header is invalid.
    fn view<'a>(
        &self,
        bytes: &'a [u8],
        config: &'a TenantConfig,
        type_ranges: &'a [Range<usize>],
    ) -> Result<Tables<'a>, LoadError> {
        let user_teams = bytes
            .get(self.user_teams.clone())
            .ok_or(LoadError::Truncated("user teams"))?;
        let (width, user_teams) = user_teams
            .split_first()
            .ok_or(LoadError::Truncated("user teams"))?;
        let user_teams = Packed::new(user_teams, usize::from(*width))
            .ok_or_else(|| corrupt("user teams: bad width or not a whole number of entries"))?;
        let grants = bytes
            .get(self.grants.clone())
            .ok_or(LoadError::Truncated("grants"))?;
        let Some(([width, role_bits], grants)) = grants.split_first_chunk::<2>() else {
            return Err(LoadError::Truncated("grants"));
        };
        let values = Packed::new(grants, usize::from(*width))
            .ok_or_else(|| corrupt("grants: bad width or not a whole number of grants"))?;
        if *role_bits > 16 {
            return Err(corrupt("grants: more than 16 role bits"));
        }
        Ok(Tables {
            strings: bytes
                .get(self.strings.clone())
                .ok_or(LoadError::Truncated("strings"))?,
            domains: table(bytes, &self.domains, "domains")?,
            users: table(bytes, &self.users, "users")?,
            user_teams,
            teams: table(bytes, &self.teams, "teams")?,
            team_roles: table(bytes, &self.team_roles, "team roles")?,
            virtual_accounts: table(bytes, &self.virtual_accounts, "virtual accounts")?,
            resources: table(bytes, &self.resources, "resources")?,
            grants: Grants {
                values,
                role_bits: u32::from(*role_bits),
            },
            authorized: table(bytes, &self.authorized, "authorized subjects")?,
            mappings: table(bytes, &self.mappings, "identity-provider mappings")?,
            credentials: table(bytes, &self.credentials, "credentials")?,
            types: &config.resource_types,
            type_ranges,
            user_index: KeyIndexRef::EMPTY,
            resource_index: &[],
        })
    }

    /// The same ranges, `by` bytes further on. `None` on overflow (never: they lie in a buffer).
    fn shifted(&self, by: usize) -> Option<TableRanges> {
        let shift = |r: &Range<usize>| Some(r.start.checked_add(by)?..r.end.checked_add(by)?);
        Some(TableRanges {
            strings: shift(&self.strings)?,
            domains: shift(&self.domains)?,
            users: shift(&self.users)?,
            user_teams: shift(&self.user_teams)?,
            teams: shift(&self.teams)?,
            team_roles: shift(&self.team_roles)?,
            virtual_accounts: shift(&self.virtual_accounts)?,
            resources: shift(&self.resources)?,
            grants: shift(&self.grants)?,
            authorized: shift(&self.authorized)?,
            mappings: shift(&self.mappings)?,
            credentials: shift(&self.credentials)?,
        })
    }
}

fn table<'a, T: FromBytes + Immutable + KnownLayout + Unaligned>(
    bytes: &'a [u8],
    range: &Range<usize>,
    what: &'static str,
) -> Result<&'a [T], LoadError> {
    let bytes = bytes.get(range.clone()).ok_or(LoadError::Truncated(what))?;
    <[T]>::ref_from_bytes(bytes).map_err(|_| LoadError::Corrupt(Corrupt::Records(what)))
}

impl Bundle {
    /// Validate and decode bundle bytes. Every offset is checked here, once.
    pub fn decode(bytes: Vec<u8>, options: &LoadOptions) -> Result<Bundle, LoadError> {
        let mut r = Reader::new(&bytes);
        let header = Header::read(&mut r)?;
        let file_len = header.file_len()?;
        if bytes.len() < file_len {
            return Err(LoadError::Truncated("body"));
        }
        if bytes.len() > file_len {
            return Err(corrupt("trailing bytes after the bundle"));
        }
        let body = r.take(header.body_len()?, "body")?;
        if Sha256::digest(body)[..] != header.digest[..] {
            return Err(LoadError::DigestMismatch);
        }
        let signer = if header.is_signed() {
            let signed = bytes
                .get(..r.offset())
                .ok_or(LoadError::Truncated("body"))?;
            let trailer = SignatureTrailer::read(&mut r)?;
            let verifying = VerifyingKey::from_bytes(&trailer.public_key)
                .map_err(|_| LoadError::BadSignature)?;
            verifying
                .verify_strict(signed, &Signature::from_bytes(&trailer.signature))
                .map_err(|_| LoadError::BadSignature)?;
            Some(trailer.public_key)
        } else {
            None
        };
        if !options.trusted_keys.is_empty() {
            match signer {
                None => return Err(LoadError::Unsigned),
                Some(key) if !options.trusted_keys.contains(&key) => {
                    return Err(LoadError::UntrustedSigner)
                }
                Some(_) => {}
            }
        }

        let mut body_reader = Reader::new(body);
        let directory = Directory::read(&mut body_reader)?;
        validate::sections(&directory, body_reader.offset(), body.len())?;
        let meta: Meta = postcard_section(body, directory.get(section::META)?, "meta")?;
        let gateway: Gateway = postcard_section(body, directory.get(section::GATEWAY)?, "gateway")?;
        validate::gateway(&gateway).map_err(corrupt)?;
        let tenant_count = meta.tenant_count as usize;
        if tenant_count > MAX_TENANTS {
            return Err(corrupt("too many tenants"));
        }
        if directory.entries.len() != 2 + tenant_count * section::TENANT_KINDS {
            return Err(corrupt("unexpected sections"));
        }
        let mut tenants = Vec::with_capacity(tenant_count);
        for index in 0..tenant_count {
            tenants.push(load_tenant(body, &directory, index)?);
        }
        Ok(Bundle {
            digest: header.digest,
            minor: header.minor.get(),
            bytes,
            signer,
            meta,
            gateway,
            tenants,
        })
    }

    pub fn meta(&self) -> &Meta {
        &self.meta
    }

    /// The bundle's monotonic serial (META, covered by the digest and the signature).
    pub fn serial(&self) -> u64 {
        self.meta.serial
    }

    pub fn gateway(&self) -> &Gateway {
        &self.gateway
    }

    pub fn tenants(&self) -> &[LoadedTenant] {
        &self.tenants
    }

    /// SHA-256 of the body, as stored in the header.
    pub fn digest(&self) -> &[u8; 32] {
        &self.digest
    }

    /// The Ed25519 public key that signed the bundle, if it is signed.
    pub fn signer(&self) -> Option<&[u8; 32]> {
        self.signer.as_ref()
    }

    pub fn format_version(&self) -> (u16, u16) {
        (FORMAT_MAJOR, self.minor)
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// The large tables of a tenant.
    ///
    /// INVARIANT: the ranges were validated in `decode` (in bounds, whole records, strings UTF-8,
    /// lists and references in bounds). Should that ever not hold, the tables read as empty,
    /// which can only lead to a denial: no principal, no resource, no grant.
    pub fn tables<'a>(&'a self, tenant: &'a LoadedTenant) -> Tables<'a> {
        match tenant
            .tables
            .view(&self.bytes, &tenant.config, &tenant.type_ranges)
        {
            Ok(tables) => Tables {
                user_index: tenant.user_index.as_ref(),
                resource_index: &tenant.resource_index,
                ..tables
            },
            Err(_) => Tables::EMPTY,
        }
    }
}

fn postcard_section<T: for<'de> Deserialize<'de>>(
    body: &[u8],
    range: Range<usize>,
    what: &'static str,
) -> Result<T, LoadError> {
    let bytes = body.get(range).ok_or(LoadError::Truncated(what))?;
    let (value, rest) = postcard::take_from_bytes::<T>(bytes)
        .map_err(|error| LoadError::Corrupt(Corrupt::Section { what, error }))?;
    if !rest.is_empty() {
        return Err(LoadError::Corrupt(Corrupt::SectionTrailing(what)));
    }
    Ok(value)
}

fn load_tenant(
    body: &[u8],
    directory: &Directory<'_>,
    index: usize,
) -> Result<LoadedTenant, LoadError> {
    let config: TenantConfig = postcard_section(
        body,
        directory.get(section::tenant(index, section::CONFIG))?,
        "tenant config",
    )?;
    let name = &config.name;
    let tables = TableRanges::of_tenant(directory, index)?;
    let view = tables.view(body, &config, &[])?;
    let type_ranges = validate::tables(&config, &view).map_err(|invalid| {
        LoadError::Corrupt(Corrupt::Tenant {
            tenant: name.clone(),
            invalid,
        })
    })?;
    // Over the validated (sorted) tables.
    let user_index = KeyIndex::build(view.users.len(), |i| {
        view.users
            .get(i)
            .map_or([&[][..], &[][..]], |u| view.email_parts(u))
    });
    let resource_index = type_ranges
        .iter()
        .map(|run| {
            let of_type = view.resources.get(run.clone()).unwrap_or(&[]);
            KeyIndex::build(of_type.len(), |i| {
                [of_type.get(i).map_or(&[][..], |r| view.bytes(r.path))]
            })
        })
        .collect();
    let keys = KeySet::new(&config.keys).map_err(|error| {
        LoadError::Corrupt(Corrupt::TenantKeys {
            tenant: name.clone(),
            error,
        })
    })?;
    let mut idp_keys = Vec::with_capacity(config.identity_providers.len());
    for idp in &config.identity_providers {
        idp_keys.push(KeySet::new(&idp.keys).map_err(|error| {
            LoadError::Corrupt(Corrupt::ProviderKeys {
                tenant: name.clone(),
                provider: idp.name.clone(),
                error,
            })
        })?);
    }
    // Tables were validated against `body`; store them relative to the whole buffer.
    let tables = tables
        .shifted(HEADER_LEN)
        .ok_or(LoadError::Truncated("body"))?;
    Ok(LoadedTenant {
        config,
        keys,
        idp_keys,
        tables,
        type_ranges,
        user_index,
        resource_index,
    })
}
