//! Roles: the built-in collaborator and tenant roles, the tenant's own `roles:` and the roles
//! of its extension types, and what a role reference may name where it is used.

use std::collections::BTreeMap;

use gatehouse_engine::model::{self, ActionSet, RoleId, RoleKind, TypeId};

use super::context::Lowering;
use super::names::Names;
use super::resource_types::Types;
use crate::catalog::{self, RoleActions, TENANT_ADMIN, TENANT_MEMBER};
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::SpannedString;

/// The tenant's roles, sorted by name, and a name (or alias) lookup.
pub(super) struct Roles {
    roles: Vec<model::Role>,
    by_name: BTreeMap<String, RoleId>,
}

impl Roles {
    fn kind(&self, id: RoleId) -> Option<&RoleKind> {
        self.roles.get(id.index()).map(|r| &r.kind)
    }

    /// `tenant-member`, the role of a user that names none.
    pub(super) fn tenant_member(&self) -> RoleId {
        self.by_name
            .get(TENANT_MEMBER)
            .copied()
            .unwrap_or(RoleId(0))
    }

    /// The IR's role table.
    pub(super) fn into_model(self) -> Vec<model::Role> {
        self.roles
    }

    /// The role (or alias) `name`.
    fn named(&self, d: &mut FileDiagnostics<'_>, name: &SpannedString) -> Option<RoleId> {
        let id = self.by_name.get(name.as_str()).copied();
        if id.is_none() {
            d.report(
                name.span(),
                Code::UnknownRole,
                format!("unknown role `{}`", name.as_str()),
            )
            .suggest(name, self.by_name.keys().map(String::as_str));
        }
        id
    }

    /// A tenant-level role for a user or a team.
    pub(super) fn tenant_level(
        &self,
        d: &mut FileDiagnostics<'_>,
        name: &SpannedString,
    ) -> Option<RoleId> {
        let id = self.named(d, name)?;
        if let Some(RoleKind::Collaborator { .. }) = self.kind(id) {
            d.error(
                name.span(), Code::RoleScope,
                format!("`{}` is a collaborator role; grant it on a resource, not as a tenant-level role", name.as_str()),
            );
            return None;
        }
        Some(id)
    }

    /// Resolves a collaborator role granted on a resource of type `on`.
    pub(super) fn on_resource(
        &self,
        d: &mut FileDiagnostics<'_>,
        types: &Types,
        name: &SpannedString,
        on: TypeId,
        resource: &str,
    ) -> Option<RoleId> {
        let id = self.named(d, name)?;
        match self.kind(id) {
            Some(RoleKind::Collaborator { resource_type, .. }) if *resource_type == on => Some(id),
            Some(RoleKind::Collaborator { resource_type, .. }) => {
                d.error(
                    name.span(),
                    Code::RoleScope,
                    format!(
                        "role `{}` applies to `{}` resources, not to `{resource}`",
                        name.as_str(),
                        types.name(*resource_type)
                    ),
                );
                None
            }
            _ => {
                d.error(
                    name.span(),
                    Code::RoleScope,
                    format!(
                        "`{}` is a tenant-level role and cannot be granted on a resource",
                        name.as_str()
                    ),
                );
                None
            }
        }
    }
}

impl Lowering<'_, '_> {
    pub(super) fn roles(&mut self, types: &Types) -> Roles {
        let d = &mut self.d;
        let spec = self.spec;
        let mut roles: Vec<model::Role> = Vec::new();
        let mut defined = Names::new("role");
        for def in catalog::COLLABORATOR_ROLES {
            let Some(type_id) = types.id(def.resource_type) else {
                continue;
            };
            let actions = match def.actions {
                RoleActions::All => types.set(type_id),
                RoleActions::Only(names) => types.bits(type_id, names).unwrap_or_default(),
            };
            roles.push(model::Role {
                name: def.name.to_string(),
                kind: RoleKind::Collaborator {
                    resource_type: type_id,
                    actions,
                },
            });
            defined.built_in(def.name);
        }
        roles.push(model::Role {
            name: TENANT_ADMIN.into(),
            kind: RoleKind::TenantAdmin,
        });
        roles.push(model::Role {
            name: TENANT_MEMBER.into(),
            kind: RoleKind::Tenant {
                permissions: Vec::new(),
            },
        });
        for name in [TENANT_ADMIN, TENANT_MEMBER]
            .into_iter()
            .chain(catalog::ROLE_ALIASES.iter().map(|(a, _)| *a))
        {
            defined.built_in(name);
        }
        for ext in &spec.resource_types {
            let Some(type_id) = types.id(ext.name.as_str()) else {
                continue;
            };
            for role in &ext.roles {
                if !defined.define_name(d, &role.name) {
                    continue;
                }
                let names: Vec<&str> = role.actions.iter().map(|a| a.as_str()).collect();
                match types.bits(type_id, &names) {
                    Ok(actions) => roles.push(model::Role {
                        name: role.name.to_string(),
                        kind: RoleKind::Collaborator {
                            resource_type: type_id,
                            actions,
                        },
                    }),
                    Err(bad) => {
                        let span = role
                            .actions
                            .iter()
                            .find(|a| a.as_str() == bad)
                            .map_or(*role.name.span(), |a| *a.span());
                        d.report(
                            &span,
                            Code::UnknownAction,
                            format!(
                                "resource type `{}` has no action `{bad}`",
                                ext.name.as_str()
                            ),
                        )
                        .suggest(&bad, types.action_names(type_id));
                    }
                }
            }
        }
        for role in &spec.roles {
            if !defined.define_name(d, &role.name) {
                continue;
            }
            let mut permissions: BTreeMap<TypeId, u64> = BTreeMap::new();
            let mut ok = true;
            for permission in &role.permissions {
                let Some((type_name, action)) = permission.split_once(':') else {
                    d.error(
                        permission.span(),
                        Code::Invalid,
                        format!(
                            "invalid permission `{}`: expected `<type>:<action>` or `<type>:*`",
                            permission.as_str()
                        ),
                    );
                    ok = false;
                    continue;
                };
                let Some(type_id) = types.id(type_name) else {
                    d.report(
                        permission.span(),
                        Code::UnknownResourceType,
                        format!(
                            "unknown resource type `{type_name}` in permission `{}`",
                            permission.as_str()
                        ),
                    )
                    .suggest(type_name, types.names());
                    ok = false;
                    continue;
                };
                match types.bits(type_id, &[action]) {
                    Ok(set) => *permissions.entry(type_id).or_default() |= set.0,
                    Err(_) => {
                        d.report(
                            permission.span(),
                            Code::UnknownAction,
                            format!(
                                "resource type `{type_name}` has no action `{action}` (permission `{}`)",
                                permission.as_str()
                            ),
                        )
                        .suggest(action, types.action_names(type_id));
                        ok = false;
                    }
                }
            }
            if ok {
                roles.push(model::Role {
                    name: role.name.to_string(),
                    kind: RoleKind::Tenant {
                        permissions: permissions
                            .into_iter()
                            .map(|(t, s)| (t, ActionSet(s)))
                            .collect(),
                    },
                });
            }
        }
        roles.sort_by(|a, b| a.name.cmp(&b.name));
        let mut by_name: BTreeMap<String, RoleId> = roles
            .iter()
            .enumerate()
            .map(|(i, r)| (r.name.clone(), RoleId(i as u32)))
            .collect();
        for (alias, target) in catalog::ROLE_ALIASES {
            if let Some(id) = by_name.get(*target).copied() {
                by_name.insert(alias.to_string(), id);
            }
        }
        Roles { roles, by_name }
    }
}
