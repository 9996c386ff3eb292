//! What a decision found out, rendered for headers, logs and `gatehouse check`.

use super::{Decision, GrantRef, Outcome, Principal};
use crate::bundle::{LoadedTenant, StrRef, SubjectCode, Tables};
use crate::model::Subject;

impl Outcome<'_> {
    /// `user:<email>` or `virtualaccount:<name>` of the resolved principal.
    pub fn subject(&self) -> Option<String> {
        if let (Some(Principal::JustInTime), Some(email)) = (self.principal, &self.just_in_time) {
            return Some(format!("user:{email}"));
        }
        let tables = self.tables.as_ref()?;
        Some(principal_name(tables, self.principal?))
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
        Some(grant_text(self.tenant?, self.tables.as_ref()?, &grant))
    }
}

impl Principal {
    /// The subject the principal is in grants and `authorized_subjects`: a just-in-time member
    /// is in none of its own, only `team:everyone`.
    pub fn subject_code(self) -> SubjectCode {
        match self {
            Principal::User(id) => SubjectCode::user(id),
            Principal::VirtualAccount(id) => SubjectCode::virtual_account(id),
            Principal::JustInTime => SubjectCode::EVERYONE,
        }
    }
}

/// `user:<email>` or `virtualaccount:<name>`.
pub(crate) fn principal_name(tables: &Tables<'_>, principal: Principal) -> String {
    subject_name(tables, principal.subject_code())
}

/// What allowed a request, e.g.
/// `team:ml-engineers provider-account-user on provider-account:openai-main`, or
/// `user:alice@acme.com tenant-admin (tenant role)`.
pub(crate) fn grant_text(tenant: &LoadedTenant, tables: &Tables<'_>, grant: &GrantRef) -> String {
    let role = tenant
        .config
        .roles
        .get(grant.role.index())
        .map_or("?", |r| r.name.as_str());
    let subject = subject_name(tables, grant.subject);
    match grant.resource.and_then(|i| tables.resources.get(i.index())) {
        Some(r) => format!("{subject} {role} on {}", tables.key(r)),
        None => format!("{subject} {role} (tenant role)"),
    }
}

pub(crate) fn subject_name(tables: &Tables<'_>, code: SubjectCode) -> String {
    match code.subject() {
        Subject::User(u) => {
            let email = tables.users.get(u.index()).map(|u| tables.email(u));
            format!("user:{}", email.as_deref().unwrap_or("?"))
        }
        Subject::Team(t) => record_name(tables, "team", tables.teams, t.index(), |t| t.name),
        Subject::VirtualAccount(v) => record_name(
            tables,
            "virtualaccount",
            tables.virtual_accounts,
            v.index(),
            |v| v.name,
        ),
        Subject::Everyone => "team:everyone".to_owned(),
    }
}

/// `kind:name` for record `index` of `records`, or `kind:?` if there is no such record.
fn record_name<T>(
    tables: &Tables<'_>,
    kind: &str,
    records: &[T],
    index: usize,
    name: impl Fn(&T) -> StrRef,
) -> String {
    let name = records.get(index).map_or("?", |r| tables.str(name(r)));
    format!("{kind}:{name}")
}
