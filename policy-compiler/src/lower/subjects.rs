//! Subject references: `user:<email>`, `team:<name>` (`team:everyone`) and
//! `virtualaccount:<name>`.

use std::collections::BTreeMap;

use gatehouse_engine::model::{Subject, TeamId, UserId, VirtualAccountId};

use crate::catalog::EVERYONE;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::SpannedString;

/// Subject references resolved against the tenant's sorted tables.
pub(super) struct Subjects<'a> {
    pub(super) users: &'a BTreeMap<String, UserId>,
    pub(super) teams: &'a BTreeMap<String, TeamId>,
    pub(super) virtual_accounts: &'a BTreeMap<String, VirtualAccountId>,
}

impl Subjects<'_> {
    /// Every subject reference that resolves, for "did you mean".
    fn known(&self) -> Vec<String> {
        let users = self.users.keys().map(|e| format!("user:{e}"));
        let teams = self.teams.keys().map(|t| format!("team:{t}"));
        let vas = self
            .virtual_accounts
            .keys()
            .map(|v| format!("virtualaccount:{v}"));
        users
            .chain(teams)
            .chain(std::iter::once(format!("team:{EVERYONE}")))
            .chain(vas)
            .collect()
    }

    pub(super) fn resolve(
        &self,
        d: &mut FileDiagnostics<'_>,
        subject: &SpannedString,
    ) -> Option<Subject> {
        let found = match subject.split_once(':') {
            Some(("user", email)) => self
                .users
                .get(&email.to_ascii_lowercase())
                .map(|id| Subject::User(*id)),
            Some(("team", EVERYONE)) => Some(Subject::Everyone),
            Some(("team", name)) => self.teams.get(name).map(|id| Subject::Team(*id)),
            Some(("virtualaccount", name)) => self
                .virtual_accounts
                .get(name)
                .map(|id| Subject::VirtualAccount(*id)),
            _ => {
                d.error(
                    subject.span(), Code::Invalid,
                    format!(
                        "invalid subject `{}`: expected `user:<email>`, `team:<name>` or `virtualaccount:<name>`",
                        subject.as_str()
                    ),
                );
                return None;
            }
        };
        if found.is_none() {
            let known = self.known();
            d.report(
                subject.span(),
                Code::UnknownSubject,
                format!("unknown subject `{}`", subject.as_str()),
            )
            .suggest(subject, known.iter().map(String::as_str));
        }
        found
    }
}
