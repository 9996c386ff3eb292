//! Users (`users:` of the tenant file, or of its directory file when the tenant is provisioned
//! by SCIM): lowercased emails, each with its tenant-level role.

use std::collections::BTreeMap;

use gatehouse_engine::model::{self, RoleId, UserId};

use super::context::{ids_by_name, is_name, Lowering};
use super::names::Names;
use super::roles::Roles;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::{ProvisioningSpec, UserSpec};

/// The tenant's users, sorted by lowercased email.
pub(super) struct Users {
    /// Their `teams` are filled in by [`Lowering::teams`].
    pub(super) list: Vec<model::User>,
    pub(super) ids: BTreeMap<String, UserId>,
}

impl Lowering<'_, '_> {
    /// A tenant with `provisioning: scim` takes its users from its directory file only; any
    /// other tenant from its tenant file only (a directory file for it is refused by
    /// [`Lowering::tenant_section`]).
    pub(super) fn users(&mut self, roles: &Roles) -> Users {
        let mut users: BTreeMap<String, model::User> = BTreeMap::new();
        let mut names = Names::new("user");
        let tenant_member = roles.tenant_member();
        let spec = self.spec;
        if self.provisioning() == ProvisioningSpec::Scim {
            if let Some(first) = spec.users.first() {
                let directory = self
                    .directory
                    .as_ref()
                    .map(|(d, _)| format!(" ({})", d.file.display()))
                    .unwrap_or_default();
                self.d
                    .report(
                        first.email.span(),
                        Code::Conflict,
                        format!(
                            "tenant `{}` has `provisioning: scim`: its users come from its directory \
                             file{directory}, not from `users:` here",
                            spec.tenant.name.as_str()
                        ),
                    )
                    .help(
                        "remove `users:`; the provisioning service writes the directory file, and \
                         teams and role bindings here can name its users",
                    );
            }
            if let Some((d, directory)) = &mut self.directory {
                for u in &directory.users {
                    add(d, &mut names, roles, tenant_member, &mut users, u);
                }
            }
        } else {
            for u in &spec.users {
                add(&mut self.d, &mut names, roles, tenant_member, &mut users, u);
            }
        }
        let ids = ids_by_name(&users, UserId);
        Users {
            list: users.into_values().collect(),
            ids,
        }
    }
}

fn add(
    d: &mut FileDiagnostics<'_>,
    names: &mut Names<'_>,
    roles: &Roles,
    tenant_member: RoleId,
    users: &mut BTreeMap<String, model::User>,
    u: &UserSpec,
) {
    let email = u.email.to_ascii_lowercase();
    if !is_email(&email) {
        d.error(
            u.email.span(),
            Code::Invalid,
            format!("invalid email `{}`", u.email.as_str()),
        );
        return;
    }
    if !names.define(d, &email, u.email.span()) {
        return;
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

pub(super) fn is_email(s: &str) -> bool {
    is_name(s)
        && s.split_once('@')
            .is_some_and(|(local, domain)| !local.is_empty() && !domain.is_empty())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use crate::compile::{compile_sources, CompileError, Sources};
    use crate::lower::test_support::{minimal, team, user};
    use gatehouse_engine::model::Policy;

    const SCIM: &str = "  provisioning: scim\n";

    fn tenant(extra_section: &str, rest: &str) -> String {
        minimal(rest).replacen("tenant:\n", &format!("tenant:\n{extra_section}"), 1)
    }

    const DIRECTORY: &str = r#"{
  "directory": {"tenant": "acme", "note": "generated"},
  "users": [
    {"email": "Alice@acme.com"},
    {"email": "bob@acme.com", "active": false}
  ],
  "teams": [
    {"name": "ml-engineers", "members": ["alice@acme.com", "bob@acme.com"]}
  ]
}
"#;

    fn compile(files: &[(&str, &str)]) -> Result<Policy, CompileError> {
        let files: Vec<(&Path, &str)> = files.iter().map(|(n, t)| (Path::new(*n), *t)).collect();
        compile_sources(&Sources::tenants(&files))
    }

    fn errors(files: &[(&str, &str)]) -> Vec<String> {
        match compile(files) {
            Err(CompileError::Invalid(diags)) => diags
                .iter()
                .map(|d| format!("{}:{}:{} {}", d.file.display(), d.line, d.column, d.message))
                .collect(),
            other => panic!("expected errors, got {other:?}"),
        }
    }

    /// The directory owns users and memberships; the tenant file grants to them by name.
    #[test]
    fn a_scim_tenant_takes_users_and_memberships_from_its_directory_file() {
        let acme = tenant(
            SCIM,
            "teams: [{name: admins, roles: [tenant-admin]}]\n\
             role_bindings:\n  - {name: b, subjects: [\"team:ml-engineers\", \"user:alice@acme.com\"], \
             permissions: [{resource: \"agent:a\", role: agent-viewer}]}\n\
             resources: [{type: agent, name: a}]\n",
        );
        for name in ["acme.directory.json", "dir/acme.directory.yaml"] {
            let policy = compile(&[("acme.yaml", &acme), (name, DIRECTORY)]).unwrap();
            let t = &policy.tenants[0];
            let emails: Vec<&str> = t.users.iter().map(|u| u.email.as_str()).collect();
            assert_eq!(emails, ["alice@acme.com", "bob@acme.com"]);
            assert!(!t.users[user(t, "bob@acme.com").index()].active);
            let ml = team(t, "ml-engineers");
            assert_eq!(t.users[user(t, "alice@acme.com").index()].teams, [ml]);
            assert!(t.teams[team(t, "admins").index()].roles.len() == 1);
            assert_eq!(t.grants.len(), 2, "{:?}", t.grants);
        }
        // No directory file yet: a SCIM tenant without users compiles (the service writes one).
        let alone = tenant(SCIM, "teams: [{name: admins}]\n");
        assert!(compile(&[("acme.yaml", &alone)]).unwrap().tenants[0]
            .users
            .is_empty());
    }

    #[test]
    fn the_json_fast_path_reads_directory_files_as_the_yaml_loader_does() {
        let acme = tenant(SCIM, "");
        let fast = compile(&[("acme.yaml", &acme), ("acme.directory.json", DIRECTORY)]).unwrap();
        let slow = compile(&[("acme.yaml", &acme), ("acme.directory.yaml", DIRECTORY)]).unwrap();
        assert_eq!(fast.revision, slow.revision);
    }

    /// Both sources defining a user or a team is an error naming both files, never a merge.
    #[test]
    fn what_both_sources_define_is_an_error_naming_both_files() {
        let users_too = tenant(
            SCIM,
            "users: [{email: carol@acme.com}]\nteams: [{name: t, members: [carol@acme.com]}]\n",
        );
        assert_eq!(
            errors(&[
                ("acme.yaml", &users_too),
                ("acme.directory.json", DIRECTORY)
            ]),
            [
                "acme.yaml:6:17 tenant `acme` has `provisioning: scim`: its users come from its \
                 directory file (acme.directory.json), not from `users:` here",
                "acme.yaml:7:29 tenant `acme` has `provisioning: scim`: team members come from \
                 its directory file, not from `members:` here",
                "acme.yaml:7:29 team member `carol@acme.com` is not a user of this tenant",
            ]
        );
        let team_too = tenant(SCIM, "teams:\n  - name: ml-engineers\n");
        assert_eq!(
            errors(&[("acme.yaml", &team_too), ("acme.directory.json", DIRECTORY)]),
            ["acme.directory.json:8:14 duplicate team `ml-engineers` (first defined at acme.yaml:7)"]
        );
    }

    #[test]
    fn a_directory_file_needs_its_scim_tenant() {
        let invite_only = minimal("");
        assert_eq!(
            errors(&[("acme.yaml", &invite_only), ("acme.directory.json", DIRECTORY)]),
            ["acme.directory.json:2:27 tenant `acme` is not provisioned by SCIM, so it takes no \
              directory file"]
        );
        let other = DIRECTORY.replace("\"acme\"", "\"acne\"");
        assert_eq!(
            errors(&[("acme.yaml", &tenant(SCIM, "")), ("acne.directory.json", &other)]),
            ["acne.directory.json:2:27 directory file for tenant `acne`, which no tenant file defines"]
        );
        assert_eq!(
            errors(&[
                ("acme.yaml", &tenant(SCIM, "")),
                ("a.directory.json", DIRECTORY),
                ("b.directory.json", DIRECTORY),
            ]),
            ["b.directory.json:2:27 tenant `acme` already has a directory file, a.directory.json"]
        );
        // A directory file is what its name says, whatever it holds.
        assert!(errors(&[
            ("acme.yaml", &tenant(SCIM, "")),
            ("acme.directory.json", &minimal(""))
        ])
        .iter()
        .any(|e| e.contains("unknown field `tenant`")));
    }

    #[test]
    fn jit_domains_go_with_the_jit_mode() {
        assert_eq!(
            errors(&[("acme.yaml", &tenant("  provisioning: jit\n", ""))]),
            [
                "acme.yaml:2:17 `provisioning: jit` needs `jit_domains`: the email domains whose \
              users may join at first login"
            ]
        );
        assert_eq!(
            errors(&[("acme.yaml", &tenant("  jit_domains: [acme.com, \"*.acme.com\"]\n", ""))]),
            [
                "acme.yaml:2:27 invalid JIT domain `*.acme.com`: expected an email domain such as `acme.com`",
                "acme.yaml:2:17 `jit_domains` applies only with `provisioning: jit`",
            ]
        );
    }
}
