//! Both sides' entities matched by name: the union lists and the side-to-union index maps.

use super::Both;
use crate::analysis::Analysis;
use crate::decide::Principal;
use crate::model::{ResourceId, UserId, VirtualAccountId};

/// Side index -> union index, per table.
#[derive(Debug)]
pub(super) struct Maps {
    pub(super) old_principal: Vec<u32>,
    pub(super) new_principal: Vec<u32>,
    pub(super) old_resource: Vec<u32>,
    pub(super) new_resource: Vec<u32>,
    pub(super) old_action: Vec<Option<u32>>,
    pub(super) new_action: Vec<Option<u32>>,
}

impl Maps {
    pub(super) fn new(
        principals: &[Both<Principal>],
        resources: &[Both<ResourceId>],
        actions: &[&str],
        old: Option<&Analysis<'_>>,
        new: Option<&Analysis<'_>>,
    ) -> Maps {
        let sizes = |a: Option<&Analysis<'_>>| {
            a.map_or(0, |a| {
                a.tables.users.len() + a.tables.virtual_accounts.len()
            })
        };
        let mut old_principal = vec![u32::MAX; sizes(old)];
        let mut new_principal = vec![u32::MAX; sizes(new)];
        for (i, p) in principals.iter().enumerate() {
            if let (Some(a), Some(x)) = (old, p.old) {
                if let Some(slot) = old_principal.get_mut(principal_index(a, x, false)) {
                    *slot = i as u32;
                }
            }
            if let (Some(a), Some(x)) = (new, p.new) {
                if let Some(slot) = new_principal.get_mut(principal_index(a, x, true)) {
                    *slot = i as u32;
                }
            }
        }
        let mut old_resource = vec![u32::MAX; old.map_or(0, |a| a.tables.resources.len())];
        let mut new_resource = vec![u32::MAX; new.map_or(0, |a| a.tables.resources.len())];
        for (i, r) in resources.iter().enumerate() {
            if let Some(slot) = r.old.and_then(|x| old_resource.get_mut(x.index())) {
                *slot = i as u32;
            }
            if let Some(slot) = r.new.and_then(|x| new_resource.get_mut(x.index())) {
                *slot = i as u32;
            }
        }
        let action_map = |a: Option<&Analysis<'_>>| {
            a.map_or_else(Vec::new, |a| {
                a.tenant
                    .config
                    .actions
                    .iter()
                    .map(|name| actions.iter().position(|x| x == name).map(|i| i as u32))
                    .collect()
            })
        };
        Maps {
            old_principal,
            new_principal,
            old_resource,
            new_resource,
            old_action: action_map(old),
            new_action: action_map(new),
        }
    }
}

/// Users first, then virtual accounts: the index of a principal in its side's principal list.
pub(super) fn principal_index(a: &Analysis<'_>, p: Principal, _new: bool) -> usize {
    match p {
        Principal::User(u) => u.index(),
        Principal::VirtualAccount(v) => a.tables.users.len() + v.index(),
        // Not a record of the bundle: past every index.
        Principal::JustInTime => usize::MAX,
    }
}

/// Merge-joins two sorted name lists into the union, each entry with its index on each side.
pub(super) fn union_by<'n, T: Copy>(
    old_len: usize,
    new_len: usize,
    old_name: impl Fn(usize) -> Option<&'n [u8]>,
    new_name: impl Fn(usize) -> Option<&'n [u8]>,
    id: impl Fn(usize) -> T,
) -> Vec<Both<T>> {
    let (mut i, mut j) = (0, 0);
    let mut out = Vec::with_capacity(old_len.max(new_len));
    while i < old_len || j < new_len {
        let order = match (
            old_name(i).filter(|_| i < old_len),
            new_name(j).filter(|_| j < new_len),
        ) {
            (Some(a), Some(b)) => a.cmp(b),
            (Some(_), None) => core::cmp::Ordering::Less,
            (None, Some(_)) => core::cmp::Ordering::Greater,
            (None, None) => break,
        };
        match order {
            core::cmp::Ordering::Less => {
                out.push(Both {
                    old: Some(id(i)),
                    new: None,
                });
                i += 1;
            }
            core::cmp::Ordering::Greater => {
                out.push(Both {
                    old: None,
                    new: Some(id(j)),
                });
                j += 1;
            }
            core::cmp::Ordering::Equal => {
                out.push(Both {
                    old: Some(id(i)),
                    new: Some(id(j)),
                });
                i += 1;
                j += 1;
            }
        }
    }
    out
}

pub(super) fn union_principals(
    old: Option<&Analysis<'_>>,
    new: Option<&Analysis<'_>>,
) -> Vec<Both<Principal>> {
    let emails = |a: Option<&Analysis<'_>>| -> Vec<String> {
        a.map_or_else(Vec::new, |a| {
            a.tables.users.iter().map(|u| a.tables.email(u)).collect()
        })
    };
    let (eo, en) = (emails(old), emails(new));
    let mut out = union_by(
        eo.len(),
        en.len(),
        |i| eo.get(i).map(|s| s.as_bytes()),
        |i| en.get(i).map(|s| s.as_bytes()),
        |i| Principal::User(UserId(i as u32)),
    );
    let names = |a: Option<&Analysis<'_>>| -> Vec<String> {
        a.map_or_else(Vec::new, |a| {
            a.tables
                .virtual_accounts
                .iter()
                .map(|v| a.tables.str(v.name).to_owned())
                .collect()
        })
    };
    let (vo, vn) = (names(old), names(new));
    out.extend(union_by(
        vo.len(),
        vn.len(),
        |i| vo.get(i).map(|s| s.as_bytes()),
        |i| vn.get(i).map(|s| s.as_bytes()),
        |i| Principal::VirtualAccount(VirtualAccountId(i as u32)),
    ));
    out
}
