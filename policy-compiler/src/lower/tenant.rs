//! The `tenant:` section: the tenant's name, hosts, issuer and key set.

use gatehouse_engine::model::Jwk;

use super::context::{is_name, strings, Lowering};
use super::jwks::keys;
use crate::diagnostics::Code;
use crate::source::ProvisioningSpec;

/// The `tenant:` section, checked (its name and issuer are taken from the source as they are).
pub(super) struct TenantSection {
    /// Lowercased, sorted, deduplicated.
    pub(super) hosts: Vec<String>,
    pub(super) keys: Vec<Jwk>,
    pub(super) audiences: Vec<String>,
    pub(super) clock_skew_seconds: u32,
    pub(super) revoked_token_ids: Vec<String>,
    /// For `provisioning: jit`: lowercased, sorted, deduplicated; empty otherwise.
    pub(super) jit_domains: Vec<String>,
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
        let jit_domains = self.provisioning_section();
        TenantSection {
            jit_domains,
            hosts,
            keys,
            audiences: strings(&t.audiences),
            clock_skew_seconds: t.clock_skew_seconds.as_ref().map_or(60, |s| **s),
            revoked_token_ids: strings(&t.revoked_token_ids),
        }
    }
}

impl Lowering<'_, '_> {
    /// `provisioning` and `jit_domains`, and whether a directory file fits the mode; the JIT
    /// domains when the mode is `jit`.
    fn provisioning_section(&mut self) -> Vec<String> {
        let t = &self.spec.tenant;
        let mode = self.provisioning();
        if mode != ProvisioningSpec::Scim {
            if let Some((d, directory)) = &mut self.directory {
                let named = &directory.directory.tenant;
                d.report(
                    named.span(),
                    Code::Conflict,
                    format!(
                        "tenant `{}` is not provisioned by SCIM, so it takes no directory file",
                        named.as_str()
                    ),
                )
                .help("set `provisioning: scim` in the tenant file, or remove this file");
            }
        }
        let d = &mut self.d;
        let mut domains = Vec::new();
        for domain in &t.jit_domains {
            let lc = domain.to_ascii_lowercase();
            if lc.starts_with("*.") || !is_host(&lc) {
                d.error(
                    domain.span(),
                    Code::Invalid,
                    format!(
                        "invalid JIT domain `{}`: expected an email domain such as `acme.com`",
                        domain.as_str()
                    ),
                );
            }
            domains.push(lc);
        }
        domains.sort();
        domains.dedup();
        match (mode, t.jit_domains.first(), &t.provisioning) {
            (ProvisioningSpec::Jit, None, Some(p)) => d.error(
                p.span(),
                Code::Missing,
                "`provisioning: jit` needs `jit_domains`: the email domains whose users may join at first login",
            ),
            (ProvisioningSpec::Jit, _, _) => return domains,
            (_, Some(first), _) => d.error(
                first.span(),
                Code::Conflict,
                "`jit_domains` applies only with `provisioning: jit`",
            ),
            _ => {}
        }
        Vec::new()
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
