//! What a decision found out, rendered for headers, logs and `gatehouse check`.

use super::{Decision, Outcome, Principal};
use crate::bundle::{SubjectCode, Tables};
use crate::model::Subject;

impl Outcome<'_> {
    /// `user:<email>` or `virtualaccount:<name>` of the resolved principal.
    pub fn subject(&self) -> Option<String> {
        let tables = self.tables.as_ref()?;
        Some(match self.principal? {
            Principal::User(id) => subject_name(tables, SubjectCode::user(id)),
            Principal::VirtualAccount(id) => subject_name(tables, SubjectCode::virtual_account(id)),
        })
    }

    pub fn tenant_name(&self) -> Option<&str> {
        self.tenant.map(|t| t.config.name.as_str())
    }

    pub fn route_name(&self) -> Option<&str> {
        self.route.map(|r| r.name.as_str())
    }

    /// `type:path` of the requested resource, when the route names one and it could be filled.
    pub fn resource(&self) -> Option<String> {
        Some(format!(
            "{}:{}",
            self.resource_type?,
            self.resource_path.as_ref()?
        ))
    }

    /// What allowed the request, e.g.
    /// `team:ml-engineers provider-account-user on provider-account:openai-main`.
    pub fn grant(&self) -> Option<String> {
        let Decision::Allow { grant: Some(grant) } = self.decision else {
            return None;
        };
        let tables = self.tables.as_ref()?;
        let role = self
            .tenant?
            .config
            .roles
            .get(grant.role.index())
            .map_or("?", |r| r.name.as_str());
        let subject = subject_name(tables, grant.subject);
        Some(
            match grant.resource.and_then(|i| tables.resources.get(i.index())) {
                Some(r) => format!("{subject} {role} on {}", tables.str(r.key)),
                None => format!("{subject} {role} (tenant role)"),
            },
        )
    }
}

pub(super) fn subject_name(tables: &Tables<'_>, code: SubjectCode) -> String {
    match code.subject() {
        Subject::User(u) => format!(
            "user:{}",
            tables
                .users
                .get(u.index())
                .map_or("?", |u| tables.str(u.email))
        ),
        Subject::Team(t) => format!(
            "team:{}",
            tables
                .teams
                .get(t.index())
                .map_or("?", |t| tables.str(t.name))
        ),
        Subject::VirtualAccount(v) => format!(
            "virtualaccount:{}",
            tables
                .virtual_accounts
                .get(v.index())
                .map_or("?", |v| tables.str(v.name))
        ),
        Subject::Everyone => "team:everyone".to_owned(),
    }
}
