//! Virtual accounts (`virtual_accounts:`): validity window and identity provider mappings.
//! Their `permissions:` name resources, so they become grants later ([`Lowering::permission_grants`]).

use std::collections::BTreeMap;

use gatehouse_engine::model::{self, IdpId, VirtualAccountId};

use super::context::{ids_by_name, Lowering};
use super::identity_providers::{IdentityProviders, Mapped};
use super::names::Names;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::{SpannedString, VirtualAccountSpec};

/// The tenant's virtual accounts, sorted by name.
pub(super) struct VirtualAccounts<'s> {
    pub(super) list: Vec<model::VirtualAccount>,
    pub(super) ids: BTreeMap<String, VirtualAccountId>,
    /// The definitions that own their names, in file order (a duplicate was reported and is
    /// ignored, permissions and all).
    pub(super) defined: Vec<&'s VirtualAccountSpec>,
}

impl<'s> Lowering<'s, '_> {
    pub(super) fn virtual_accounts(&mut self, idps: &IdentityProviders) -> VirtualAccounts<'s> {
        let d = &mut self.d;
        let spec = self.spec;
        let mut vas: BTreeMap<String, model::VirtualAccount> = BTreeMap::new();
        let mut names = Names::new("virtual account");
        let mut defined = Vec::new();
        let mut claims: BTreeMap<(IdpId, String), String> = BTreeMap::new();
        for va in &spec.virtual_accounts {
            let name = va.name.as_str();
            if !names.define_name(d, &va.name) {
                continue;
            }
            defined.push(va);
            let expires = va.expires.as_ref().and_then(|t| timestamp(d, t));
            let tokens_valid_after = va.tokens_valid_after.as_ref().and_then(|t| timestamp(d, t));
            let rotation_grace = va.rotation_grace.as_ref().map_or(0, |g| grace(d, g));
            if rotation_grace > 0 && va.tokens_valid_after.is_none() {
                if let Some(g) = &va.rotation_grace {
                    d.error(
                        g.span(),
                        Code::Missing,
                        "`rotation_grace` extends `tokens_valid_after`, which is not set",
                    );
                }
            }
            let mut idp_mappings = Vec::new();
            for m in &va.identity_provider_mapping {
                let Some(mapping) = idps.mapping(d, m, Mapped::VirtualAccount) else {
                    continue;
                };
                if let Some(other) = claims.get(&mapping).filter(|o| o.as_str() != name) {
                    d.error(
                        m.value.span(), Code::Duplicate,
                        format!(
                            "`{}` of identity provider `{}` already maps to virtual account `{other}`",
                            m.value.as_str(),
                            m.identity_provider.as_str()
                        ),
                    );
                    continue;
                }
                claims.insert(mapping.clone(), name.to_string());
                idp_mappings.push(mapping);
            }
            idp_mappings.sort();
            idp_mappings.dedup();
            let model_va = model::VirtualAccount {
                name: name.to_string(),
                expires,
                tokens_valid_after,
                rotation_grace,
                idp_mappings,
            };
            vas.insert(name.to_string(), model_va);
        }
        let ids = ids_by_name(&vas, VirtualAccountId);
        VirtualAccounts {
            list: vas.into_values().collect(),
            ids,
            defined,
        }
    }
}

/// RFC 3339 -> unix seconds.
fn timestamp(d: &mut FileDiagnostics<'_>, text: &SpannedString) -> Option<i64> {
    match time::OffsetDateTime::parse(
        text.as_str(),
        &time::format_description::well_known::Rfc3339,
    ) {
        Ok(t) => Some(t.unix_timestamp()),
        Err(_) => {
            d.error(
                text.span(),
                Code::Invalid,
                format!(
                    "invalid timestamp `{}`: expected RFC 3339, e.g. `2027-06-01T00:00:00Z`",
                    text.as_str()
                ),
            );
            None
        }
    }
}

/// A rotation grace (`24h`) in seconds, at most `u32::MAX`.
fn grace(d: &mut FileDiagnostics<'_>, text: &SpannedString) -> u32 {
    let parsed = crate::time::parse_duration(text.as_str())
        .map_err(|e| e.to_string())
        .and_then(|s| u32::try_from(s).map_err(|_| format!("`{}` is too long", text.as_str())));
    match parsed {
        Ok(seconds) => seconds,
        Err(message) => {
            d.error(text.span(), Code::Invalid, message);
            0
        }
    }
}
