//! Teams (`teams:` of the tenant file and of its directory file): members, tenant-level roles and identity provider mappings. `everyone`
//! is built in and never defined.

use std::collections::BTreeMap;
use std::path::Path;

use gatehouse_engine::model::{self, IdpId, RoleId, TeamId, UserId};

use super::context::{ids_by_name, is_name, Lowering};
use super::identity_providers::{IdentityProviders, Mapped};
use super::names::Names;
use super::roles::Roles;
use super::users::Users;
use crate::catalog::EVERYONE;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::{ProvisioningSpec, SpannedString};

/// The tenant's teams, sorted by name.
pub(super) struct Teams {
    pub(super) list: Vec<model::Team>,
    pub(super) ids: BTreeMap<String, TeamId>,
}

impl Lowering<'_, '_> {
    /// Also records each user's teams (sorted) in `users`. Teams come from the tenant file and,
    /// for a SCIM-provisioned tenant, from its directory file too (members only); a name defined
    /// in both is an error naming both files.
    pub(super) fn teams(
        &mut self,
        roles: &Roles,
        idps: &IdentityProviders,
        users: &mut Users,
    ) -> Teams {
        let mut teams: BTreeMap<String, (model::Team, Vec<UserId>)> = BTreeMap::new();
        let mut names = Names::new("team");
        let spec = self.spec;
        let scim = self.provisioning() == ProvisioningSpec::Scim;
        // With a directory file, a duplicate there names this file (within one file, the line).
        let file = self.directory.is_some().then_some(self.d.file);
        let d = &mut self.d;
        for team in &spec.teams {
            if scim {
                if let Some(first) = team.members.first() {
                    d.report(
                        first.span(),
                        Code::Conflict,
                        format!(
                            "tenant `{}` has `provisioning: scim`: team members come from its \
                             directory file, not from `members:` here",
                            spec.tenant.name.as_str()
                        ),
                    )
                    .help("provision the team as a group in the identity provider, or remove `members:`");
                }
            }
            let Some(members) = define(d, &mut names, file, &team.name, &team.members, users)
            else {
                continue;
            };
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
                name: team.name.to_string(),
                roles: team_roles,
                idp_mappings,
            };
            teams.insert(team.name.to_string(), (model_team, members));
        }
        // A directory file of a tenant not provisioned by SCIM is refused as a whole
        // ([`Lowering::tenant_section`]), its teams unread.
        if let Some((d, directory)) = self.directory.as_mut().filter(|_| scim) {
            for team in &directory.teams {
                let Some(members) = define(d, &mut names, None, &team.name, &team.members, users)
                else {
                    continue;
                };
                let model_team = model::Team {
                    name: team.name.to_string(),
                    roles: Vec::new(),
                    idp_mappings: Vec::new(),
                };
                teams.insert(team.name.to_string(), (model_team, members));
            }
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

/// Defines team `name` (recording `file` as where, when given, so that a later duplicate in
/// another file names it) and resolves its members; `None` if the name cannot be defined.
fn define<'a>(
    d: &mut FileDiagnostics<'_>,
    names: &mut Names<'a>,
    file: Option<&'a Path>,
    name: &SpannedString,
    members: &[SpannedString],
    users: &Users,
) -> Option<Vec<UserId>> {
    if name.as_str() == EVERYONE {
        d.error(
            name.span(),
            Code::Duplicate,
            "`everyone` is the built-in team of every active user and cannot be defined",
        );
        return None;
    }
    let defined = match file {
        Some(file) if is_name(name) => names.define_in(d, file, name, name.span()),
        _ => names.define_name(d, name),
    };
    if !defined {
        return None;
    }
    let mut ids = Vec::new();
    for member in members {
        match users.ids.get(&member.to_ascii_lowercase()) {
            Some(id) => ids.push(*id),
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
    ids.sort();
    ids.dedup();
    Some(ids)
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
