//! Resource types: the built-in catalog plus the tenant's `resource_types:`, and the tenant's
//! action table (at most [`MAX_ACTIONS`] names).

use std::collections::{BTreeMap, BTreeSet};

use gatehouse_engine::model::{self, ActionSet, TypeId, MAX_ACTIONS};

use super::context::Lowering;
use super::names::Names;
use crate::catalog;
use crate::diagnostics::Code;

/// A resource type while the tenant's catalog is built.
pub(super) struct TypeInfo {
    name: String,
    parent: Option<String>,
    pub(super) children_key: Option<String>,
    actions: Vec<String>,
}

/// The tenant's resource types, sorted by name, and its action table.
pub(super) struct Types {
    types: Vec<TypeInfo>,
    parents: Vec<Option<TypeId>>,
    sets: Vec<ActionSet>,
    by_name: BTreeMap<String, TypeId>,
    actions: Vec<String>,
}

impl Types {
    pub(super) fn id(&self, name: &str) -> Option<TypeId> {
        self.by_name.get(name).copied()
    }

    /// Every type name, for "did you mean".
    pub(super) fn names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The action names of type `id`, for "did you mean".
    pub(super) fn action_names(&self, id: TypeId) -> impl Iterator<Item = &str> {
        self.info(id)
            .into_iter()
            .flat_map(|t| t.actions.iter().map(String::as_str))
    }

    pub(super) fn info(&self, id: TypeId) -> Option<&TypeInfo> {
        self.types.get(id.index())
    }

    pub(super) fn set(&self, id: TypeId) -> ActionSet {
        self.sets.get(id.index()).copied().unwrap_or_default()
    }

    pub(super) fn name(&self, id: TypeId) -> &str {
        self.info(id).map_or("?", |t| t.name.as_str())
    }

    /// The parent type of a nested type.
    pub(super) fn parent(&self, id: TypeId) -> Option<TypeId> {
        self.parents.get(id.index()).copied().flatten()
    }

    /// The tenant's action table and resource types, as the IR keeps them.
    pub(super) fn into_model(self) -> (Vec<String>, Vec<model::ResourceType>) {
        let types = self
            .types
            .iter()
            .zip(&self.parents)
            .zip(&self.sets)
            .map(|((t, parent), actions)| model::ResourceType {
                name: t.name.clone(),
                parent: *parent,
                actions: *actions,
            })
            .collect();
        (self.actions, types)
    }

    fn action_bit(&self, action: &str) -> Option<u32> {
        self.actions
            .iter()
            .position(|a| a == action)
            .and_then(|i| u32::try_from(i).ok())
    }

    /// The bits of `actions` (names of the type's actions; `*` is all of them).
    pub(super) fn bits(&self, id: TypeId, actions: &[&str]) -> Result<ActionSet, String> {
        let mut set = 0u64;
        let all = self.set(id);
        for action in actions {
            if *action == "*" {
                set |= all.0;
                continue;
            }
            match self.action_bit(action).filter(|bit| all.contains(*bit)) {
                Some(bit) => set |= 1u64 << bit,
                None => return Err((*action).to_string()),
            }
        }
        Ok(ActionSet(set))
    }

    /// The type whose resources are listed under `key` in a resource of type `parent`.
    pub(super) fn child_by_key(&self, parent: TypeId, key: &str) -> Option<TypeId> {
        self.types.iter().enumerate().find_map(|(i, t)| {
            let is_child = self.parents.get(i).copied().flatten() == Some(parent);
            (is_child && t.children_key.as_deref() == Some(key)).then_some(TypeId(i as u32))
        })
    }

    pub(super) fn children_keys(&self, parent: TypeId) -> Vec<String> {
        let mut keys: Vec<String> = self
            .types
            .iter()
            .enumerate()
            .filter(|(i, _)| self.parents.get(*i).copied().flatten() == Some(parent))
            .filter_map(|(_, t)| t.children_key.as_ref().map(|k| format!("`{k}`")))
            .collect();
        keys.sort();
        keys
    }
}

/// Field names of a resource that are not children keys.
const RESOURCE_FIELDS: &[&str] = &[
    "type",
    "name",
    "enabled",
    "authorized_subjects",
    "collaborators",
];

impl Lowering<'_, '_> {
    pub(super) fn resource_types(&mut self) -> Types {
        let d = &mut self.d;
        let spec = self.spec;
        let mut infos: Vec<TypeInfo> = catalog::RESOURCE_TYPES
            .iter()
            .map(|t| TypeInfo {
                name: t.name.to_string(),
                parent: t.parent.map(str::to_string),
                children_key: t.children_key.map(str::to_string),
                actions: t.actions.iter().map(|a| a.to_string()).collect(),
            })
            .collect();
        let mut actions: Vec<String> = Vec::new();
        for t in &infos {
            for a in &t.actions {
                if !actions.contains(a) {
                    actions.push(a.clone());
                }
            }
        }
        let mut too_many_reported = false;
        let known: BTreeSet<String> = infos.iter().map(|t| t.name.clone()).collect();
        let extension_names: BTreeSet<&str> = spec
            .resource_types
            .iter()
            .map(|t| t.name.as_str())
            .collect();
        let mut names = Names::new("resource type");
        for t in &known {
            names.built_in(t);
        }
        for ext in &spec.resource_types {
            let name = ext.name.as_str();
            if !crate::gateway::is_type_name(name) {
                d.error(
                    ext.name.span(),
                    Code::Invalid,
                    format!(
                        "invalid resource type name `{name}`: use lowercase letters, digits and `-`"
                    ),
                );
                continue;
            }
            if !names.define(d, name, ext.name.span()) {
                continue;
            }
            if let Some(parent) = &ext.parent {
                if !known.contains(parent.as_str()) && !extension_names.contains(parent.as_str()) {
                    d.report(
                        parent.span(),
                        Code::UnknownResourceType,
                        format!("unknown parent resource type `{}`", parent.as_str()),
                    )
                    .suggest(
                        parent,
                        known
                            .iter()
                            .map(String::as_str)
                            .chain(extension_names.iter().copied()),
                    );
                }
                match &ext.children_key {
                    None => d.error(
                        ext.name.span(),
                        Code::ResourceType,
                        format!("resource type `{name}` has a `parent` and needs a `children_key`"),
                    ),
                    Some(key) if RESOURCE_FIELDS.contains(&key.as_str()) || key.is_empty() => d
                        .error(
                            key.span(),
                            Code::ResourceType,
                            format!("`{}` cannot be a children key", key.as_str()),
                        ),
                    Some(key) => {
                        let clash = infos.iter().any(|t| {
                            t.parent.as_deref() == Some(parent.as_str())
                                && t.children_key.as_deref() == Some(key.as_str())
                        });
                        if clash {
                            d.error(
                                key.span(),
                                Code::Duplicate,
                                format!(
                                    "children key `{}` is already used under `{}`",
                                    key.as_str(),
                                    parent.as_str()
                                ),
                            );
                        }
                    }
                }
            } else if let Some(key) = &ext.children_key {
                d.error(
                    key.span(),
                    Code::ResourceType,
                    format!("top-level resource type `{name}` takes no `children_key`"),
                );
            }
            if ext.actions.is_empty() {
                d.error(
                    ext.name.span(),
                    Code::ResourceType,
                    format!("resource type `{name}` needs at least one action"),
                );
            }
            let mut own = Vec::new();
            for action in &ext.actions {
                if !is_action_name(action) {
                    d.error(
                        action.span(),
                        Code::Invalid,
                        format!("invalid action name `{}`", action.as_str()),
                    );
                    continue;
                }
                if own.iter().any(|a| a == action.as_str()) {
                    d.error(
                        action.span(),
                        Code::Duplicate,
                        format!("duplicate action `{}`", action.as_str()),
                    );
                    continue;
                }
                own.push(action.to_string());
                if !actions.iter().any(|a| a == action.as_str()) {
                    if actions.len() >= MAX_ACTIONS {
                        if !too_many_reported {
                            d.error(
                            action.span(), Code::Limit,
                            format!("too many action names: a tenant may use at most {MAX_ACTIONS}, `{}` is one more", action.as_str()),
                        );
                            too_many_reported = true;
                        }
                        continue;
                    }
                    actions.push(action.to_string());
                }
            }
            infos.push(TypeInfo {
                name: name.to_string(),
                parent: ext.parent.as_ref().map(|p| p.to_string()),
                children_key: ext.children_key.as_ref().map(|k| k.to_string()),
                actions: own,
            });
        }
        infos.sort_by(|a, b| a.name.cmp(&b.name));
        let by_name: BTreeMap<String, TypeId> = infos
            .iter()
            .enumerate()
            .map(|(i, t)| (t.name.clone(), TypeId(i as u32)))
            .collect();
        let parents: Vec<Option<TypeId>> = infos
            .iter()
            .map(|t| t.parent.as_ref().and_then(|p| by_name.get(p).copied()))
            .collect();
        // Cycles among extension types: walking up from any type must reach a top-level type.
        for ext in &spec.resource_types {
            let Some(start) = by_name.get(ext.name.as_str()).copied() else {
                continue;
            };
            let mut current = Some(start);
            let mut steps = 0;
            while let Some(t) = current {
                current = parents.get(t.index()).copied().flatten();
                steps += 1;
                if steps > infos.len() {
                    d.error(
                        ext.name.span(),
                        Code::ResourceType,
                        format!("resource type `{}` is its own ancestor", ext.name.as_str()),
                    );
                    break;
                }
            }
        }
        let sets = infos
            .iter()
            .map(|t| {
                let mut set = 0u64;
                for a in &t.actions {
                    if let Some(i) = actions.iter().position(|x| x == a) {
                        set |= 1u64 << i;
                    }
                }
                ActionSet(set)
            })
            .collect();
        Types {
            types: infos,
            parents,
            sets,
            by_name,
            actions,
        }
    }
}

fn is_action_name(s: &str) -> bool {
    !s.is_empty()
        && s.chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{errors, minimal};

    #[test]
    fn too_many_actions() {
        let actions: Vec<String> = (0..60).map(|i| format!("a{i}")).collect();
        let errs = errors(&minimal(&format!(
            "resource_types:\n  - name: big\n    actions: [{}]\n",
            actions.join(", ")
        )));
        assert_eq!(errs.len(), 1, "{errs:?}");
        // 7 built-in actions + a0..a56 = 64; a57 is one too many.
        assert!(
            errs[0].starts_with("7:") && errs[0].contains("`a57` is one more"),
            "{errs:?}"
        );
    }

    #[test]
    fn extension_type_errors() {
        let errs = errors(&minimal(
            "resource_types:\n  - {name: cluster, actions: [read]}\n  - {name: x, parent: nope, children_key: xs, actions: [read]}\n  - {name: y, parent: cluster, actions: []}\n  - {name: z, children_key: zs, actions: [Bad]}\n",
        ));
        assert_eq!(errs.len(), 6, "{errs:#?}");
        assert!(errs[0].starts_with("6:12 resource type `cluster` is built in"));
        assert!(errs[1].starts_with("7:23 unknown parent resource type `nope`"));
    }
}
