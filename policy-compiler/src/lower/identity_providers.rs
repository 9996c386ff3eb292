//! Identity providers (`identity_providers:`), and the mappings of teams and virtual accounts
//! that name them.

use std::collections::BTreeMap;

use gatehouse_engine::model::{self, Algorithm, IdpId, ResolveTo};

use super::context::{ids_by_name, strings, Lowering};
use super::jwks::keys;
use super::names::Names;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::{IdpMappingSpec, ResolveToSpec, SpannedString};

/// The tenant's identity providers, sorted by name.
pub(super) struct IdentityProviders {
    entries: BTreeMap<String, IdpEntry>,
    ids: BTreeMap<String, IdpId>,
}

/// An identity provider while lowering: the IR entry plus what mappings need to check.
struct IdpEntry {
    idp: model::IdentityProvider,
    has_team_claim: bool,
}

/// What an `identity_provider_mapping` entry maps a claim value to.
#[derive(Clone, Copy)]
pub(super) enum Mapped {
    Team,
    VirtualAccount,
}

impl IdentityProviders {
    /// Resolves one `identity_provider_mapping` entry of a team or a virtual account.
    pub(super) fn mapping(
        &self,
        d: &mut FileDiagnostics<'_>,
        m: &IdpMappingSpec,
        to: Mapped,
    ) -> Option<(IdpId, String)> {
        let name = m.identity_provider.as_str();
        let (Some(entry), Some(id)) = (self.entries.get(name), self.ids.get(name)) else {
            d.report(
                m.identity_provider.span(),
                Code::UnknownIdentityProvider,
                format!("unknown identity provider `{name}`"),
            )
            .suggest(name, self.entries.keys().map(String::as_str));
            return None;
        };
        match (&entry.idp.resolve_to, to) {
            (ResolveTo::User { .. }, Mapped::Team) if !entry.has_team_claim => {
                d.error(
                    m.identity_provider.span(), Code::Conflict,
                    format!("identity provider `{name}` has no `team_claim`, so no team can be mapped from it"),
                );
                None
            }
            (ResolveTo::User { .. }, Mapped::Team)
            | (ResolveTo::VirtualAccount { .. }, Mapped::VirtualAccount) => {
                Some((*id, m.value.to_string()))
            }
            (ResolveTo::VirtualAccount { .. }, Mapped::Team) => {
                d.error(
                    m.identity_provider.span(), Code::Conflict,
                    format!("identity provider `{name}` resolves to virtual accounts, not users, so it cannot map teams"),
                );
                None
            }
            (ResolveTo::User { .. }, Mapped::VirtualAccount) => {
                d.error(
                    m.identity_provider.span(),
                    Code::Conflict,
                    format!("identity provider `{name}` resolves to users, not virtual accounts"),
                );
                None
            }
        }
    }

    /// The IR's identity providers, sorted by name.
    pub(super) fn into_model(self) -> Vec<model::IdentityProvider> {
        self.entries.into_values().map(|e| e.idp).collect()
    }
}

impl Lowering<'_, '_> {
    pub(super) fn identity_providers(&mut self) -> IdentityProviders {
        let d = &mut self.d;
        let spec = self.spec;
        let tenant_issuer = spec.tenant.issuer.as_str();
        let mut entries: BTreeMap<String, IdpEntry> = BTreeMap::new();
        let mut names = Names::new("identity provider");
        let mut issuers: BTreeMap<String, String> = BTreeMap::new();
        for p in &spec.identity_providers {
            let name = p.name.as_str();
            if !names.define_name(d, &p.name) {
                continue;
            }
            if p.issuer.as_str() == tenant_issuer {
                d.error(
                    p.issuer.span(),
                    Code::Duplicate,
                    format!(
                        "identity provider `{name}` has the tenant's own issuer `{}`",
                        p.issuer.as_str()
                    ),
                );
            } else if let Some(other) = issuers.get(p.issuer.as_str()) {
                d.error(
                    p.issuer.span(),
                    Code::Duplicate,
                    format!(
                        "identity providers `{other}` and `{name}` have the same issuer `{}`",
                        p.issuer.as_str()
                    ),
                );
            } else if p.issuer.is_empty() {
                d.error(p.issuer.span(), Code::Missing, "`issuer` must not be empty");
            } else {
                issuers.insert(p.issuer.to_string(), name.to_string());
            }
            let (file, inline) = (p.jwks_file.as_ref(), p.jwks.as_ref());
            let keys = keys(
                d,
                self.base_dir,
                self.files,
                "identity provider",
                &p.name,
                file,
                inline,
            );
            let mut algorithms = Vec::new();
            for alg in &p.algorithms {
                match Algorithm::from_name(alg) {
                    Some(a) => algorithms.push(a),
                    None => {
                        d.report(
                            alg.span(),
                            Code::UnknownAlgorithm,
                            format!("unknown algorithm `{}`", alg.as_str()),
                        )
                        .suggest(alg, Algorithm::ALL.iter().map(|a| a.name()));
                    }
                }
            }
            algorithms.sort();
            algorithms.dedup();
            let resolve_to = match *p.resolve_to {
                ResolveToSpec::User => {
                    if let Some(claim) = &p.virtual_account_claim {
                        d.error(
                            claim.span(),
                            Code::Conflict,
                            "`virtual_account_claim` requires `resolve_to: virtual-account`",
                        );
                    }
                    ResolveTo::User {
                        email_claim: claim_path(d, p.email_claim.as_ref())
                            .unwrap_or_else(|| vec!["email".into()]),
                        team_claim: claim_path(d, p.team_claim.as_ref()),
                        require_email_verified: p
                            .require_email_verified
                            .as_ref()
                            .is_some_and(|r| **r),
                    }
                }
                ResolveToSpec::VirtualAccount => {
                    for claim in [&p.email_claim, &p.team_claim].into_iter().flatten() {
                        d.error(
                            claim.span(),
                            Code::Conflict,
                            "`email_claim` and `team_claim` require `resolve_to: user`",
                        );
                    }
                    if let Some(r) = &p.require_email_verified {
                        d.error(
                            r.span(),
                            Code::Conflict,
                            "`require_email_verified` requires `resolve_to: user`",
                        );
                    }
                    let claim = claim_path(d, p.virtual_account_claim.as_ref());
                    if claim.is_none() {
                        d.error(
                            p.resolve_to.span(), Code::Missing,
                            format!("identity provider `{name}` resolves to virtual accounts and needs `virtual_account_claim`"),
                        );
                    }
                    ResolveTo::VirtualAccount {
                        virtual_account_claim: claim.unwrap_or_default(),
                    }
                }
            };
            let has_team_claim = p.team_claim.is_some();
            entries.insert(
                name.to_string(),
                IdpEntry {
                    idp: model::IdentityProvider {
                        name: name.to_string(),
                        issuer: p.issuer.to_string(),
                        keys,
                        audiences: strings(&p.audiences),
                        algorithms,
                        resolve_to,
                    },
                    has_team_claim,
                },
            );
        }
        let ids = ids_by_name(&entries, IdpId);
        IdentityProviders { entries, ids }
    }
}

/// `ext.mail` -> `["ext", "mail"]`.
fn claim_path(d: &mut FileDiagnostics<'_>, claim: Option<&SpannedString>) -> Option<Vec<String>> {
    let claim = claim?;
    let path: Vec<String> = claim.split('.').map(str::to_string).collect();
    if path.iter().any(String::is_empty) {
        d.error(
            claim.span(),
            Code::Invalid,
            format!("invalid claim path `{}`", claim.as_str()),
        );
        return None;
    }
    Some(path)
}
