//! API keys (a credentials file beside the tenant file, SPEC 2.7): their ids, digests, principals,
//! expiry, revocation and scopes. Diagnostics go to the credentials file.

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_engine::credential::KeyId;
use gatehouse_engine::model::{self, CredentialScope, ScopePath, ScopeRule, Subject};

use super::resource_types::Types;
use super::subjects::Subjects;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::{CredentialSpec, CredentialsFile, SpannedString};

/// The tenant's keys, sorted by id, and the distinct scopes they name.
#[derive(Default)]
pub(super) struct Credentials {
    pub(super) list: Vec<model::Credential>,
    pub(super) scopes: Vec<CredentialScope>,
}

/// Lowers a credentials file against the tenant's subjects and types. A key whose principal the
/// tenant no longer has still compiles (presenting it says `principal_unknown`): users leave
/// through the provisioning service, and that must not stop every tenant's bundle.
pub(super) fn lower_credentials(
    d: &mut FileDiagnostics<'_>,
    file: &CredentialsFile,
    subjects: &Subjects<'_>,
    types: &Types,
) -> Credentials {
    let mut by_id: BTreeMap<u64, model::Credential> = BTreeMap::new();
    let mut scope_index: BTreeMap<CredentialScope, u32> = BTreeMap::new();
    let mut scopes = Vec::new();
    for spec in &file.keys {
        let Some(credential) = lower_key(d, spec, subjects, types, &mut |scope| {
            let next = u32::try_from(scopes.len()).unwrap_or(u32::MAX);
            *scope_index.entry(scope.clone()).or_insert_with(|| {
                scopes.push(scope);
                next
            })
        }) else {
            continue;
        };
        if by_id.insert(credential.id, credential).is_some() {
            d.error(
                spec.id.span(),
                Code::Duplicate,
                format!("API key `{}` is listed twice", spec.id.as_str()),
            );
        }
    }
    Credentials {
        list: by_id.into_values().collect(),
        scopes,
    }
}

fn lower_key(
    d: &mut FileDiagnostics<'_>,
    spec: &CredentialSpec,
    subjects: &Subjects<'_>,
    types: &Types,
    intern: &mut dyn FnMut(CredentialScope) -> u32,
) -> Option<model::Credential> {
    let id = match spec.id.parse::<KeyId>() {
        Ok(id) => Some(id),
        Err(e) => {
            d.error(
                spec.id.span(),
                Code::Invalid,
                format!("API key id `{}`: {e}", spec.id.as_str()),
            );
            None
        }
    };
    let digest = digest_of(&spec.sha256);
    if digest.is_none() {
        d.error(
            spec.sha256.span(),
            Code::Invalid,
            "`sha256` must be 64 lowercase hex digits (SHA-256 of the key's secret)",
        );
    }
    let principal = principal_of(d, &spec.principal, subjects)?;
    let expires = time_of(d, spec.expires.as_ref());
    let mut rules = BTreeSet::new();
    let mut scopes_ok = true;
    for scope in &spec.scopes {
        match scope_rule(scope.as_str(), types) {
            Ok(rule) => {
                rules.insert(rule);
            }
            Err(message) => {
                scopes_ok = false;
                d.error(scope.span(), Code::Invalid, message);
            }
        }
    }
    if let Some(revoked) = &spec.revoked {
        time_of(d, Some(revoked));
    }
    time_of(d, Some(&spec.created));
    let (id, digest) = (id?, digest?);
    if !scopes_ok {
        return None;
    }
    let scope = (!rules.is_empty()).then(|| {
        intern(CredentialScope {
            rules: rules.into_iter().collect(),
        })
    });
    Some(model::Credential {
        id: id.0,
        digest,
        principal,
        expires: expires.flatten(),
        revoked: spec.revoked.is_some(),
        scope,
    })
}

fn digest_of(text: &str) -> Option<[u8; 32]> {
    if text.len() != 64 || !text.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, slot) in out.iter_mut().enumerate() {
        *slot = u8::from_str_radix(text.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

/// `Some(None)`: a well-formed reference to a principal the tenant does not have.
fn principal_of(
    d: &mut FileDiagnostics<'_>,
    principal: &SpannedString,
    subjects: &Subjects<'_>,
) -> Option<Option<Subject>> {
    match principal.split_once(':') {
        Some(("user", email)) if !email.is_empty() => Some(
            subjects
                .users
                .get(&email.to_ascii_lowercase())
                .map(|id| Subject::User(*id)),
        ),
        Some(("virtualaccount", name)) if !name.is_empty() => Some(
            subjects
                .virtual_accounts
                .get(name)
                .map(|id| Subject::VirtualAccount(*id)),
        ),
        _ => {
            d.error(
                principal.span(),
                Code::Invalid,
                format!(
                    "API key principal `{}`: expected `user:<email>` or `virtualaccount:<name>`",
                    principal.as_str()
                ),
            );
            None
        }
    }
}

/// `None` when absent; `Some(None)` when it does not read (reported).
fn time_of(d: &mut FileDiagnostics<'_>, text: Option<&SpannedString>) -> Option<Option<i64>> {
    let text = text?;
    match crate::time::parse_time(text.as_str()) {
        Ok(t) => Some(Some(t)),
        Err(e) => {
            d.error(text.span(), Code::Invalid, e.to_string());
            Some(None)
        }
    }
}

/// One scope: `type:path`, `type:prefix/*` or `type:*`, then optionally `:action`.
pub(super) fn scope_rule(text: &str, types: &Types) -> Result<ScopeRule, String> {
    let bad = |why: &str| format!("API key scope `{text}`: {why}");
    let (type_name, rest) = text.split_once(':').ok_or_else(|| {
        bad("expected `type:path`, `type:prefix/*` or `type:*`, then optionally `:action`")
    })?;
    let ty = types.id(type_name).ok_or_else(|| {
        let known: Vec<&str> = types.names().collect();
        bad(&format!(
            "unknown resource type `{type_name}` (types: {})",
            known.join(", ")
        ))
    })?;
    let (path, actions) = match rest.rsplit_once(':') {
        Some((path, action)) => {
            let set = types.bits(ty, &[action]).map_err(|a| {
                let known: Vec<&str> = types.action_names(ty).collect();
                bad(&format!(
                    "`{a}` is no action of `{type_name}` (actions: {})",
                    known.join(", ")
                ))
            })?;
            (path, Some(set))
        }
        None => (rest, None),
    };
    let path = if path == "*" {
        ScopePath::Any
    } else if let Some(prefix) = path.strip_suffix("/*") {
        ScopePath::Under(prefix.to_owned())
    } else {
        ScopePath::Exact(path.to_owned())
    };
    let inner = match &path {
        ScopePath::Any => "",
        ScopePath::Exact(p) | ScopePath::Under(p) => p.as_str(),
    };
    if inner.contains('*') || (inner.is_empty() && path != ScopePath::Any) {
        return Err(bad(
            "`*` stands only for a whole path (`type:*`) or a last segment (`type:prefix/*`)",
        ));
    }
    Ok(ScopeRule {
        resource_type: ty,
        path,
        actions,
    })
}
