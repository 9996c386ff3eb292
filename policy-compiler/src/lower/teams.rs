//! Teams (`teams:`): members, tenant-level roles and identity provider mappings. `everyone`
//! is built in and never defined.

use std::collections::BTreeMap;

use gatehouse_engine::model::{self, IdpId, RoleId, TeamId, UserId};

use super::context::{ids_by_name, Lowering};
use super::identity_providers::{IdentityProviders, Mapped};
use super::names::Names;
use super::roles::Roles;
use super::users::Users;
use crate::catalog::EVERYONE;
use crate::diagnostics::Code;

/// The tenant's teams, sorted by name.
pub(super) struct Teams {
    pub(super) list: Vec<model::Team>,
    pub(super) ids: BTreeMap<String, TeamId>,
}

impl Lowering<'_, '_> {
    /// Also records each user's teams (sorted) in `users`.
    pub(super) fn teams(
        &mut self,
        roles: &Roles,
        idps: &IdentityProviders,
        users: &mut Users,
    ) -> Teams {
        let d = &mut self.d;
        let mut teams: BTreeMap<String, (model::Team, Vec<UserId>)> = BTreeMap::new();
        let mut names = Names::new("team");
        for team in &self.spec.teams {
            let name = team.name.as_str();
            if name == EVERYONE {
                d.error(
                    team.name.span(),
                    Code::Duplicate,
                    "`everyone` is the built-in team of every active user and cannot be defined",
                );
                continue;
            }
            if !names.define_name(d, &team.name) {
                continue;
            }
            let mut members = Vec::new();
            for member in &team.members {
                match users.ids.get(&member.to_ascii_lowercase()) {
                    Some(id) => members.push(*id),
                    None => {
                        d.report(
                            member.span(),
                            Code::UnknownSubject,
                            format!(
                                "team member `{}` is not a user of this tenant",
                                member.as_str()
                            ),
                        )
                        .suggest(member, users.ids.keys().map(String::as_str));
                    }
                }
            }
            members.sort();
            members.dedup();
            let mut team_roles: Vec<RoleId> = team
                .roles
                .iter()
                .filter_map(|r| roles.tenant_level(d, r))
                .collect();
            team_roles.sort();
            team_roles.dedup();
            let mut idp_mappings: Vec<(IdpId, String)> = team
                .identity_provider_mapping
                .iter()
                .filter_map(|m| idps.mapping(d, m, Mapped::Team))
                .collect();
            idp_mappings.sort();
            idp_mappings.dedup();
            let model_team = model::Team {
                name: name.to_string(),
                roles: team_roles,
                idp_mappings,
            };
            teams.insert(name.to_string(), (model_team, members));
        }
        let ids = ids_by_name(&teams, TeamId);
        for (i, (_, members)) in teams.values().enumerate() {
            for member in members {
                if let Some(user) = users.list.get_mut(member.index()) {
                    user.teams.push(TeamId(i as u32));
                }
            }
        }
        for user in &mut users.list {
            user.teams.sort();
        }
        Teams {
            list: teams.into_values().map(|(t, _)| t).collect(),
            ids,
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::lower::test_support::{compile_one, errors, JWKS};

    fn tenant(member: &str) -> String {
        format!(
            "tenant: {{name: acme, issuer: https://cp.example, jwks: {JWKS}}}\n\
             users: [{{email: \"\u{C9}mile@Acme.com\"}}]\n\
             teams: [{{name: t, members: [\"{member}\"]}}]\n"
        )
    }

    /// Members name users the way tokens do: ASCII case folds, nothing else does.
    #[test]
    fn members_fold_ascii_case_only() {
        for same in ["\u{C9}mile@acme.com", "\u{C9}MILE@ACME.COM"] {
            let policy = compile_one(&tenant(same)).unwrap();
            let user = &policy.tenants[0].users[0];
            assert_eq!(user.email, "\u{C9}mile@acme.com");
            assert_eq!(user.teams.len(), 1, "{same}");
        }
        let wrong = errors(&tenant("\u{E9}mile@acme.com"));
        assert_eq!(wrong.len(), 1, "{wrong:?}");
    }
}
