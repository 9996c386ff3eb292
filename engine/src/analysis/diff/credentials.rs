//! API-key changes between the two sides of a tenant. A key changes no `--as` triple (its
//! principal's access is the same with or without it), so these are listed, not counted.
//!
//! The bundle keeps of a key its id, digest, principal, expiry, revocation and scope, not which
//! key replaced which. A rotation (`replaced_by` in the credentials file) shows in the bundle as
//! the old key's expiry moved earlier (the end of the grace) and a new key for the same principal:
//! that pair is reported as `rotated`, naming the new keys; the new key is also `created`.

use std::collections::BTreeMap;

use super::time;
use crate::analysis::{Analysis, KeyInfo};
use crate::credential::KeyId;
use crate::escape::Phrase;

/// One change to one API key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyChange {
    pub id: KeyId,
    /// The key's principal (`user:<email>`, `virtualaccount:<name>`) on the new side, else the
    /// old; `None` when that side names none (the principal was removed).
    pub principal: Option<String>,
    pub kind: KeyChangeKind,
}

/// What changed. Scopes are lists of rules as the credentials file writes them; empty: the
/// principal's whole access.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum KeyChangeKind {
    Created {
        scope: Vec<String>,
        expires: Option<i64>,
        revoked: bool,
    },
    Removed,
    Revoked,
    /// A revoked key live again.
    Unrevoked,
    Rescoped {
        before: Vec<String>,
        after: Vec<String>,
    },
    Expiry {
        before: Option<i64>,
        after: Option<i64>,
    },
    /// The expiry moved earlier while new keys of the same principal appeared: a rotation, the
    /// old key living until the end of its grace.
    Rotated {
        before: Option<i64>,
        after: Option<i64>,
        replacements: Vec<KeyId>,
    },
    PrincipalChanged {
        before: Option<String>,
        after: Option<String>,
    },
}

impl KeyChangeKind {
    /// `created`, `removed`, `revoked`, `unrevoked`, `rescoped`, `expiry`, `rotated`,
    /// `principal`.
    pub fn code(&self) -> &'static str {
        match self {
            KeyChangeKind::Created { .. } => "created",
            KeyChangeKind::Removed => "removed",
            KeyChangeKind::Revoked => "revoked",
            KeyChangeKind::Unrevoked => "unrevoked",
            KeyChangeKind::Rescoped { .. } => "rescoped",
            KeyChangeKind::Expiry { .. } => "expiry",
            KeyChangeKind::Rotated { .. } => "rotated",
            KeyChangeKind::PrincipalChanged { .. } => "principal",
        }
    }
}

impl KeyChange {
    /// The change as a sentence, e.g. ``API key 00000000000000aa of virtualaccount:ci rescoped
    /// [model:*] -> [model:a/*:use]``.
    pub fn phrase(&self) -> Phrase {
        let mut p = Phrase::new().word(&format!("API key {}", self.id));
        if let Some(principal) = &self.principal {
            p = p.word(" of ").name(principal);
        }
        match &self.kind {
            KeyChangeKind::Created {
                scope,
                expires,
                revoked,
            } => {
                p = scope_phrase(p.word(" created, scope "), scope);
                if let Some(t) = expires {
                    p = p.word(&format!(", expires {t}"));
                }
                if *revoked {
                    p = p.word(", revoked");
                }
                p
            }
            KeyChangeKind::Removed => p.word(" removed"),
            KeyChangeKind::Revoked => p.word(" revoked"),
            KeyChangeKind::Unrevoked => p.word(" no longer revoked"),
            KeyChangeKind::Rescoped { before, after } => {
                let p = scope_phrase(p.word(" rescoped "), before);
                scope_phrase(p.word(" -> "), after)
            }
            KeyChangeKind::Expiry { before, after } => {
                p.word(&format!(" expires {} -> {}", time(*before), time(*after)))
            }
            KeyChangeKind::Rotated {
                before,
                after,
                replacements,
            } => {
                let ids: Vec<String> = replacements.iter().map(KeyId::to_string).collect();
                p.word(&format!(
                    " rotated: expires {} -> {}, new key(s) {}",
                    time(*before),
                    time(*after),
                    ids.join(", ")
                ))
            }
            KeyChangeKind::PrincipalChanged { before, after } => p
                .word(" principal ")
                .name(before.as_deref().unwrap_or("(none)"))
                .word(" -> ")
                .name(after.as_deref().unwrap_or("(none)")),
        }
    }
}

fn scope_phrase(p: Phrase, scope: &[String]) -> Phrase {
    if scope.is_empty() {
        p.word("(whole access)")
    } else {
        p.list(scope)
    }
}

/// A key as compared across sides: names, not indexes.
struct Seen {
    principal: Option<String>,
    expires: Option<i64>,
    revoked: bool,
    scope: Vec<String>,
}

fn seen(a: &Analysis<'_>, key: &KeyInfo) -> Seen {
    Seen {
        principal: key.principal.map(|p| a.principal_name(p)),
        expires: key.expires,
        revoked: key.revoked,
        scope: key.scope.map(|s| a.scope_rules(s)).unwrap_or_default(),
    }
}

fn keys(a: Option<&Analysis<'_>>) -> BTreeMap<KeyId, Seen> {
    a.map_or_else(BTreeMap::new, |a| {
        a.credentials().map(|k| (k.id, seen(a, &k))).collect()
    })
}

/// Every API-key change of a tenant, by key id, then kind.
pub(super) fn credential_changes(
    old: Option<&Analysis<'_>>,
    new: Option<&Analysis<'_>>,
) -> Vec<KeyChange> {
    let (before, after) = (keys(old), keys(new));
    let mut out = Vec::new();
    // New keys by principal, for rotations.
    let mut created: BTreeMap<&str, Vec<KeyId>> = BTreeMap::new();
    for (id, k) in &after {
        if !before.contains_key(id) {
            if let Some(p) = &k.principal {
                created.entry(p.as_str()).or_default().push(*id);
            }
        }
    }
    let mut ids: Vec<&KeyId> = before.keys().chain(after.keys()).collect();
    ids.sort();
    ids.dedup();
    for id in ids {
        let change = |kind| KeyChange {
            id: *id,
            principal: after
                .get(id)
                .and_then(|k| k.principal.clone())
                .or_else(|| before.get(id).and_then(|k| k.principal.clone())),
            kind,
        };
        match (before.get(id), after.get(id)) {
            (None, Some(k)) => out.push(change(KeyChangeKind::Created {
                scope: k.scope.clone(),
                expires: k.expires,
                revoked: k.revoked,
            })),
            (Some(_), None) => out.push(change(KeyChangeKind::Removed)),
            (Some(o), Some(n)) => {
                if o.principal != n.principal {
                    out.push(change(KeyChangeKind::PrincipalChanged {
                        before: o.principal.clone(),
                        after: n.principal.clone(),
                    }));
                }
                match (o.revoked, n.revoked) {
                    (false, true) => out.push(change(KeyChangeKind::Revoked)),
                    (true, false) => out.push(change(KeyChangeKind::Unrevoked)),
                    // A revoked key's scope is not kept: only live keys are rescoped.
                    (false, false) if o.scope != n.scope => {
                        out.push(change(KeyChangeKind::Rescoped {
                            before: o.scope.clone(),
                            after: n.scope.clone(),
                        }));
                    }
                    _ => {}
                }
                if o.expires != n.expires {
                    let earlier = n.expires.is_some_and(|t| o.expires.is_none_or(|e| t < e));
                    let replacements = n
                        .principal
                        .as_deref()
                        .and_then(|p| created.get(p))
                        .filter(|_| earlier && !n.revoked)
                        .cloned();
                    out.push(change(match replacements {
                        Some(replacements) => KeyChangeKind::Rotated {
                            before: o.expires,
                            after: n.expires,
                            replacements,
                        },
                        None => KeyChangeKind::Expiry {
                            before: o.expires,
                            after: n.expires,
                        },
                    }));
                }
            }
            (None, None) => {}
        }
    }
    out
}
