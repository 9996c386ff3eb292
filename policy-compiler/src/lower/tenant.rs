//! The `tenant:` section: the tenant's name, hosts, issuer and key set.

use gatehouse_engine::model::Jwk;

use super::context::{is_name, strings, Lowering};
use super::jwks::keys;
use crate::diagnostics::Code;

/// The `tenant:` section, checked (its name and issuer are taken from the source as they are).
pub(super) struct TenantSection {
    /// Lowercased, sorted, deduplicated.
    pub(super) hosts: Vec<String>,
    pub(super) keys: Vec<Jwk>,
    pub(super) audiences: Vec<String>,
    pub(super) clock_skew_seconds: u32,
    pub(super) revoked_token_ids: Vec<String>,
}

impl Lowering<'_, '_> {
    pub(super) fn tenant_section(&mut self) -> TenantSection {
        let d = &mut self.d;
        let t = &self.spec.tenant;
        if !is_name(&t.name) {
            d.error(
                t.name.span(),
                Code::Invalid,
                format!("invalid tenant name `{}`", t.name.as_str()),
            );
        }
        let mut hosts = Vec::new();
        for host in &t.hosts {
            let lc = host.to_ascii_lowercase();
            if !is_host(&lc) {
                d.error(
                    host.span(),
                    Code::Invalid,
                    format!(
                        "invalid host `{}`: expected a host name or `*.suffix`",
                        host.as_str()
                    ),
                );
            }
            hosts.push(lc);
        }
        hosts.sort();
        hosts.dedup();
        if t.issuer.is_empty() {
            d.error(t.issuer.span(), Code::Missing, "`issuer` must not be empty");
        }
        let (file, inline) = (t.jwks_file.as_ref(), t.jwks.as_ref());
        let keys = keys(
            d,
            self.base_dir,
            self.files,
            "tenant",
            &t.name,
            file,
            inline,
        );
        TenantSection {
            hosts,
            keys,
            audiences: strings(&t.audiences),
            clock_skew_seconds: t.clock_skew_seconds.as_ref().map_or(60, |s| **s),
            revoked_token_ids: strings(&t.revoked_token_ids),
        }
    }
}

/// A lowercased host name, or `*.suffix`.
fn is_host(s: &str) -> bool {
    let name = s.strip_prefix("*.").unwrap_or(s);
    !name.is_empty()
        && name.split('.').all(|label| {
            !label.is_empty()
                && label
                    .chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
        })
}
