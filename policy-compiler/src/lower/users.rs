//! Users (`users:`): lowercased emails, each with its tenant-level role.

use std::collections::BTreeMap;

use gatehouse_engine::model::{self, UserId};

use super::context::{ids_by_name, is_name, Lowering};
use super::names::Names;
use super::roles::Roles;
use crate::diagnostics::Code;

/// The tenant's users, sorted by lowercased email.
pub(super) struct Users {
    /// Their `teams` are filled in by [`Lowering::teams`].
    pub(super) list: Vec<model::User>,
    pub(super) ids: BTreeMap<String, UserId>,
}

impl Lowering<'_, '_> {
    pub(super) fn users(&mut self, roles: &Roles) -> Users {
        let d = &mut self.d;
        let mut users: BTreeMap<String, model::User> = BTreeMap::new();
        let mut names = Names::new("user");
        let tenant_member = roles.tenant_member();
        for u in &self.spec.users {
            let email = u.email.to_ascii_lowercase();
            if !is_email(&email) {
                d.error(
                    u.email.span(),
                    Code::Invalid,
                    format!("invalid email `{}`", u.email.as_str()),
                );
                continue;
            }
            if !names.define(d, &email, u.email.span()) {
                continue;
            }
            let role = match &u.role {
                None => tenant_member,
                Some(role) => roles.tenant_level(d, role).unwrap_or(tenant_member),
            };
            let user = model::User {
                email: email.clone(),
                active: u.active.unwrap_or(true),
                role,
                teams: Vec::new(),
            };
            users.insert(email, user);
        }
        let ids = ids_by_name(&users, UserId);
        Users {
            list: users.into_values().collect(),
            ids,
        }
    }
}

fn is_email(s: &str) -> bool {
    is_name(s)
        && s.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}
