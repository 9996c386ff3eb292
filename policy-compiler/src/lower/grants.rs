//! Grants named by reference: the `permissions:` of virtual accounts and the role bindings
//! (`role_bindings:`). The grants of each resource's `collaborators` are made with the
//! resource ([`Lowering::resources`]).

use gatehouse_engine::model::{Grant, ResourceId, RoleId, Subject};

use super::context::Lowering;
use super::names::Names;
use super::resource_types::Types;
use super::resources::Resources;
use super::roles::Roles;
use super::subjects::Subjects;
use super::virtual_accounts::VirtualAccounts;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::PermissionSpec;

/// Resolves `{resource, role}` entries against the tenant's resources and roles.
pub(super) struct Permissions<'t> {
    pub(super) resources: &'t Resources,
    pub(super) roles: &'t Roles,
    pub(super) types: &'t Types,
}

impl Permissions<'_> {
    fn resolve(
        &self,
        d: &mut FileDiagnostics<'_>,
        p: &PermissionSpec,
    ) -> Option<(ResourceId, RoleId)> {
        let resource = self.resources.get(p.resource.as_str());
        if resource.is_none() {
            d.report(
                p.resource.span(),
                Code::UnknownResource,
                format!("unknown resource `{}`", p.resource.as_str()),
            )
            .suggest(&p.resource, self.resources.references());
        }
        let (resource, type_id) = resource?;
        let role = self
            .roles
            .on_resource(d, self.types, &p.role, type_id, &p.resource)?;
        Some((resource, role))
    }
}

impl Lowering<'_, '_> {
    /// The grants of the virtual accounts' `permissions:`, then of the role bindings.
    pub(super) fn permission_grants(
        &mut self,
        permissions: &Permissions<'_>,
        virtual_accounts: &VirtualAccounts<'_>,
        subjects: &Subjects<'_>,
        grants: &mut Vec<Grant>,
    ) {
        let d = &mut self.d;
        for va in &virtual_accounts.defined {
            let Some(id) = virtual_accounts.ids.get(va.name.as_str()).copied() else {
                continue;
            };
            for p in &va.permissions {
                if let Some((resource, role)) = permissions.resolve(d, p) {
                    grants.push(Grant {
                        resource,
                        subject: Subject::VirtualAccount(id),
                        role,
                    });
                }
            }
        }
        // A duplicate binding is reported and still checked, so that its other errors are
        // reported in the same run.
        let mut names = Names::new("role binding");
        for binding in &self.spec.role_bindings {
            names.define(d, &binding.name, binding.name.span());
            let bound: Vec<Subject> = binding
                .subjects
                .iter()
                .filter_map(|s| subjects.resolve(d, s))
                .collect();
            for p in &binding.permissions {
                if let Some((resource, role)) = permissions.resolve(d, p) {
                    grants.extend(bound.iter().map(|subject| Grant {
                        resource,
                        subject: *subject,
                        role,
                    }));
                }
            }
        }
    }
}
