//! Resources (`resources:`): the trees flattened, checked against the resource types, sorted
//! by `type:path`, with their `authorized_subjects` and `collaborators` resolved.

use std::collections::BTreeMap;

use gatehouse_engine::model::{self, Grant, ResourceId, Subject, TypeId};

use super::context::Lowering;
use super::names::Names;
use super::resource_types::Types;
use super::roles::Roles;
use super::subjects::Subjects;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::ResourceSpec;

/// The tenant's resources, sorted by `type:path`.
pub(super) struct Resources {
    pub(super) list: Vec<model::Resource>,
    /// `type:path` -> the resource and its type.
    by_reference: BTreeMap<String, (ResourceId, TypeId)>,
}

impl Resources {
    /// The resource `reference` (`type:path`) names.
    pub(super) fn get(&self, reference: &str) -> Option<(ResourceId, TypeId)> {
        self.by_reference.get(reference).copied()
    }

    /// Every `type:path` reference, for "did you mean".
    pub(super) fn references(&self) -> impl Iterator<Item = &str> {
        self.by_reference.keys().map(String::as_str)
    }
}

impl Lowering<'_, '_> {
    /// Also adds the grants of each resource's `collaborators` to `grants`.
    pub(super) fn resources(
        &mut self,
        types: &Types,
        roles: &Roles,
        subjects: &Subjects<'_>,
        grants: &mut Vec<Grant>,
    ) -> Resources {
        let d = &mut self.d;
        // Flatten the trees, then sort by `type:path`.
        let mut entries: Vec<ResourceEntry<'_>> = Vec::new();
        let mut names = Names::new("resource");
        for r in &self.spec.resources {
            flatten(d, types, r, None, &mut entries, &mut names);
        }
        let mut order: Vec<usize> = (0..entries.len()).collect();
        order.sort_by(|a, b| {
            entries
                .get(*a)
                .map(|e| &e.reference)
                .cmp(&entries.get(*b).map(|e| &e.reference))
        });
        let mut ids = vec![ResourceId(0); entries.len()];
        for (new, old) in order.iter().enumerate() {
            if let Some(slot) = ids.get_mut(*old) {
                *slot = ResourceId(new as u32);
            }
        }
        let mut list = Vec::with_capacity(entries.len());
        for old in &order {
            let Some(e) = entries.get(*old) else { continue };
            let authorized_subjects = e.spec.authorized_subjects.as_ref().map(|list| {
                let mut list: Vec<Subject> =
                    list.iter().filter_map(|s| subjects.resolve(d, s)).collect();
                list.sort();
                list.dedup();
                list
            });
            let Some(own_id) = ids.get(*old).copied() else {
                continue;
            };
            for c in &e.spec.collaborators {
                let subject = subjects.resolve(d, &c.subject);
                let role = roles.on_resource(d, types, &c.role, e.resource_type, &e.reference);
                if let (Some(subject), Some(role)) = (subject, role) {
                    grants.push(Grant {
                        resource: own_id,
                        subject,
                        role,
                    });
                }
            }
            list.push(model::Resource {
                resource_type: e.resource_type,
                path: e.path.clone(),
                parent: e.parent.and_then(|p| ids.get(p).copied()),
                enabled: e.enabled,
                authorized_subjects,
            });
        }
        let by_reference = entries
            .into_iter()
            .zip(&ids)
            .map(|(e, id)| (e.reference, (*id, e.resource_type)))
            .collect();
        Resources { list, by_reference }
    }
}

/// A flattened resource before sorting.
struct ResourceEntry<'a> {
    reference: String,
    resource_type: TypeId,
    path: String,
    parent: Option<usize>,
    enabled: bool,
    spec: &'a ResourceSpec,
}

/// Flattens one resource and its descendants into `entries`, checking types, names and
/// children keys.
fn flatten<'a>(
    d: &mut FileDiagnostics<'_>,
    types: &Types,
    spec: &'a ResourceSpec,
    parent: Option<(usize, TypeId, String)>,
    entries: &mut Vec<ResourceEntry<'a>>,
    names: &mut Names<'_>,
) {
    let type_id = match (&parent, &spec.resource_type) {
        (None, None) => {
            d.error(
                spec.name.span(),
                Code::Missing,
                format!("resource `{}` needs a `type`", spec.name.as_str()),
            );
            return;
        }
        (None, Some(type_name)) => {
            let Some(id) = types.id(type_name) else {
                d.report(
                    type_name.span(),
                    Code::UnknownResourceType,
                    format!("unknown resource type `{}`", type_name.as_str()),
                )
                .suggest(type_name, types.names());
                return;
            };
            if let Some(parent) = types.parent(id) {
                let key = types
                    .info(id)
                    .and_then(|t| t.children_key.clone())
                    .unwrap_or_default();
                d.error(
                    type_name.span(),
                    Code::ResourceType,
                    format!(
                        "a `{}` is listed under its parent `{}` resource, in `{key}`",
                        type_name.as_str(),
                        types.name(parent)
                    ),
                );
                return;
            }
            id
        }
        (Some((_, id, _)), given) => {
            if let Some(given) = given.as_ref().filter(|g| g.as_str() != types.name(*id)) {
                d.error(
                    given.span(),
                    Code::Invalid,
                    format!(
                        "resource `{}` has type `{}` here, not `{}`",
                        spec.name.as_str(),
                        types.name(*id),
                        given.as_str()
                    ),
                );
                return;
            }
            *id
        }
    };
    let name = spec.name.as_str();
    if name.is_empty()
        || name.contains('/')
        || name.chars().any(|c| c.is_whitespace() || c.is_control())
    {
        d.error(
            spec.name.span(),
            Code::Invalid,
            format!("invalid resource name `{name}`: it must be non-empty, without `/` or spaces"),
        );
        return;
    }
    let path = match &parent {
        Some((_, _, parent_path)) => format!("{parent_path}/{name}"),
        None => name.to_string(),
    };
    let reference = format!("{}:{path}", types.name(type_id));
    if !names.define(d, &reference, spec.name.span()) {
        return;
    }
    let index = entries.len();
    entries.push(ResourceEntry {
        reference,
        resource_type: type_id,
        path: path.clone(),
        parent: parent.as_ref().map(|(p, _, _)| *p),
        enabled: spec.enabled.unwrap_or(true),
        spec,
    });
    for (key, children) in &spec.children {
        let Some(child_type) = types.child_by_key(type_id, key) else {
            let keys = types.children_keys(type_id);
            let expected = if keys.is_empty() {
                format!("a `{}` has no children", types.name(type_id))
            } else {
                format!(
                    "children of a `{}` are listed in {}",
                    types.name(type_id),
                    keys.join(", ")
                )
            };
            d.error(
                key.span(),
                Code::UnknownField,
                format!(
                    "unknown field `{}` in resource `{name}`: {expected}",
                    key.as_str()
                ),
            );
            continue;
        };
        let Some(children) = &children.0 else {
            d.error(
                key.span(),
                Code::Missing,
                format!(
                    "`{}` of resource `{name}` must be a list of resources",
                    key.as_str()
                ),
            );
            continue;
        };
        for child in children {
            flatten(
                d,
                types,
                child,
                Some((index, child_type, path.clone())),
                entries,
                names,
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{errors, minimal};

    #[test]
    fn a_scalar_under_an_unknown_resource_key_does_not_hide_other_errors() {
        let errs = errors(&minimal(
            "users:\n  - {email: a@x.com, role: nosuchrole}\nresources:\n  - type: cluster\n    name: c\n    colour: red\n  - type: provider-account\n    name: p\n    models: nope\n",
        ));
        assert_eq!(errs.len(), 3, "{errs:?}");
        assert!(
            errs.iter().any(|e| e.contains("unknown role `nosuchrole`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("unknown field `colour` in resource `c`")),
            "{errs:?}"
        );
        assert!(
            errs.iter()
                .any(|e| e.contains("`models` of resource `p` must be a list of resources")),
            "{errs:?}"
        );
    }
}
