//! The exact comparison of the rows the causes reach, each side decided by its own engine.

use std::collections::{BTreeMap, BTreeSet};

use super::causes::Causes;
use super::matching::{principal_index, Maps};
use super::{access, Both, DiffGroup, Row, Side, TenantDiff};
use crate::analysis::Analysis;
use crate::decide::{GrantRef, Principal};
use crate::escape::Phrase;
use crate::model::ResourceId;
use crate::reason::Reason;

impl<'e> TenantDiff<'e> {
    /// Compares every changed principal over all its access, and every (changed resource,
    /// action) over all principals not already compared.
    pub(super) fn compare(&mut self, causes: &Causes, now: i64) {
        let mut groups: BTreeMap<Vec<Phrase>, Vec<(Row, Side, Side)>> = BTreeMap::new();
        let (old, new) = (self.old.as_ref(), self.new.as_ref());
        let maps = Maps::new(&self.principals, &self.resources, &self.actions, old, new);

        // Resource causes reach their subtrees (on either side).
        let mut reached: BTreeMap<u32, BTreeSet<Phrase>> = BTreeMap::new();
        for (&root, list) in &causes.resources {
            let Some(r) = self.resources.get(root as usize) else {
                continue;
            };
            let mut under = BTreeSet::new();
            for (side, id, map) in [
                (old, r.old, &maps.old_resource),
                (new, r.new, &maps.new_resource),
            ] {
                let (Some(a), Some(id)) = (side, id) else {
                    continue;
                };
                let mut flags = vec![false; a.tables.resources.len()];
                a.subtree(id, &mut flags);
                for (i, f) in flags.iter().enumerate() {
                    if let (true, Some(u)) = (*f, map.get(i)) {
                        under.insert(*u);
                    }
                }
            }
            for u in under {
                reached.entry(u).or_default().extend(list.iter().cloned());
            }
        }

        // Changed principals, over everything they can do on either side.
        for (&p, list) in &causes.principals {
            let Some(both) = self.principals.get(p as usize) else {
                continue;
            };
            let before = access(old, both.old, &maps.old_resource, &maps.old_action, now);
            let after = access(new, both.new, &maps.new_resource, &maps.new_action, now);
            let keys: BTreeSet<(u32, u32)> = before.keys().chain(after.keys()).copied().collect();
            for (resource, action) in keys {
                let row = Row {
                    principal: p,
                    resource,
                    action,
                };
                let (b, a) = (
                    before.get(&(resource, action)),
                    after.get(&(resource, action)),
                );
                let Some(changed) = self.differs(row, b, a, &maps, now) else {
                    continue;
                };
                let mut key: BTreeSet<Phrase> = list.clone();
                if let Some(r) = reached.get(&resource) {
                    key.extend(
                        r.iter()
                            .filter(|c| match causes.grant_subjects.get(*c) {
                                Some(subject) => self.covers(subject, both),
                                None => true,
                            })
                            .cloned(),
                    );
                }
                groups
                    .entry(key.into_iter().collect())
                    .or_default()
                    .push(changed);
            }
        }

        // Changed resources, over every principal not compared above.
        for (&resource, list) in &reached {
            let Some(both) = self.resources.get(resource as usize) else {
                continue;
            };
            for action in 0..self.actions.len() as u32 {
                let who = |a: Option<&Analysis<'_>>,
                           r: Option<ResourceId>,
                           amap: &[Option<u32>],
                           pmap: &[u32],
                           is_new: bool| {
                    let mut allowed = BTreeMap::new();
                    let (Some(a), Some(r)) = (a, r) else {
                        return allowed;
                    };
                    let Some(local) = amap.iter().position(|x| *x == Some(action)) else {
                        return allowed;
                    };
                    if a.actions_of(r).all(|x| x as usize != local) {
                        return allowed;
                    }
                    for (p, grant) in a.who_can_principals(r, local as u32, now).allowed {
                        if let Some(u) = pmap.get(principal_index(a, p, is_new)) {
                            allowed.insert(*u, grant);
                        }
                    }
                    allowed
                };
                let before = who(old, both.old, &maps.old_action, &maps.old_principal, false);
                let after = who(new, both.new, &maps.new_action, &maps.new_principal, true);
                let keys: BTreeSet<u32> = before.keys().chain(after.keys()).copied().collect();
                for p in keys {
                    if causes.principals.contains_key(&p) {
                        continue;
                    }
                    let row = Row {
                        principal: p,
                        resource,
                        action,
                    };
                    let Some(changed) =
                        self.differs(row, before.get(&p), after.get(&p), &maps, now)
                    else {
                        continue;
                    };
                    groups
                        .entry(list.iter().cloned().collect())
                        .or_default()
                        .push(changed);
                }
            }
        }
        self.groups = groups
            .into_iter()
            .map(|(causes, mut rows)| {
                rows.sort_by_key(|(row, _, _)| *row);
                DiffGroup { causes, rows }
            })
            .collect();
    }

    /// Whether a grant to `subject` (a name) reaches the principal on either side.
    fn covers(&self, subject: &str, p: &Both<Principal>) -> bool {
        let on = |a: Option<&Analysis<'_>>, x: Option<Principal>| {
            let (Some(a), Some(x)) = (a, x) else {
                return false;
            };
            if a.principal_name(x) == subject {
                return true;
            }
            let Principal::User(u) = x else {
                return false;
            };
            subject == "team:everyone"
                || a.tables.teams_of(u).any(|t| {
                    a.tables.teams.get(t.index()).is_some_and(|t| {
                        subject.strip_prefix("team:") == Some(a.tables.str(t.name))
                    })
                })
        };
        on(self.old.as_ref(), p.old) || on(self.new.as_ref(), p.new)
    }

    /// The row with each side's decision, if they differ: the grant where a side allows
    /// (`Some`), else what that side decides (a denial).
    fn differs(
        &self,
        row: Row,
        before: Option<&GrantRef>,
        after: Option<&GrantRef>,
        maps: &Maps,
        now: i64,
    ) -> Option<(Row, Side, Side)> {
        if before.is_some() == after.is_some() {
            return None;
        }
        let side = |new: bool, grant: Option<&GrantRef>| {
            grant.map_or_else(
                || self.side_decision(new, &row, maps, now),
                |g| Ok(Some(*g)),
            )
        };
        Some((row, side(false, before), side(true, after)))
    }

    /// What one side decides for a row, when it does not allow it.
    fn side_decision(&self, new: bool, row: &Row, maps: &Maps, now: i64) -> Side {
        let analysis = if new {
            self.new.as_ref()
        } else {
            self.old.as_ref()
        };
        let Some(a) = analysis else {
            return Err(Reason::TenantUnknown);
        };
        let pick = |b: Option<&Both<Principal>>| b.and_then(|b| if new { b.new } else { b.old });
        let principal =
            pick(self.principals.get(row.principal as usize)).ok_or(Reason::PrincipalUnknown)?;
        let resource =
            self.resources
                .get(row.resource as usize)
                .and_then(|b| if new { b.new } else { b.old });
        let amap = if new {
            &maps.new_action
        } else {
            &maps.old_action
        };
        let action = amap.iter().position(|x| *x == Some(row.action));
        let caller_ok = a.decide_principal(principal, now);
        caller_ok?;
        let resource = resource.ok_or(Reason::ResourceUnknown)?;
        let action = action.ok_or(Reason::NoGrant)?;
        if a.actions_of(resource).all(|x| x as usize != action) {
            return Err(Reason::NoGrant);
        }
        a.decide(principal, resource, action as u32, now)
    }
}
