//! Lowering: parsed tenant files ([`crate::source`]) -> the validated IR ([`model::Policy`]).
//!
//! The one place that establishes the IR's invariants (see `gatehouse_engine::model`): every
//! reference resolved to an index, lookup tables sorted by name (emails lowercased), at most
//! [`MAX_ACTIONS`] action names per tenant, grants sorted and deduplicated. It reports every
//! error it finds, not only the first, and its output does not depend on hash iteration order
//! (only `BTreeMap`s and sorted vectors).

mod context;
mod credentials;
mod grants;
mod identity_providers;
mod jwks;
mod names;
mod resource_types;
mod resources;
mod roles;
mod subjects;
mod teams;
mod tenant;
#[cfg(test)]
pub(crate) mod test_support;
mod users;
mod virtual_accounts;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::sync::Arc;

use gatehouse_engine::model::{self, Policy};
use sha2::{Digest, Sha256};

use crate::compile::Files;
use crate::diagnostics::{Code, Diagnostic, FileDiagnostics};
use crate::source::{CredentialsFile, DirectoryFile, TenantFile};

use context::Lowering;
use grants::Permissions;
use names::Names;
use subjects::Subjects;

/// One parsed tenant file and where it came from.
#[derive(Debug)]
pub struct TenantSource<'a> {
    /// Named in diagnostics.
    pub file: &'a Path,
    /// The file's text, for diagnostic snippets.
    pub text: Option<Arc<str>>,
    /// `jwks_file:` paths are relative to this directory.
    pub base_dir: &'a Path,
    /// Where `jwks_file:` paths are read.
    pub files: Files<'a>,
    pub spec: &'a TenantFile,
    /// The tenant's directory file, if it has one.
    pub directory: Option<DirectorySource<'a>>,
    /// The tenant's credentials file, if it has one.
    pub credentials: Option<CredentialsSource<'a>>,
}

/// A parsed credentials file: the API keys of one tenant.
#[derive(Debug)]
pub struct CredentialsSource<'a> {
    pub file: &'a Path,
    pub text: Option<Arc<str>>,
    pub spec: &'a CredentialsFile,
}

/// A parsed directory file: the users and team memberships provisioned for one tenant.
#[derive(Debug)]
pub struct DirectorySource<'a> {
    pub file: &'a Path,
    pub text: Option<Arc<str>>,
    pub spec: &'a DirectoryFile,
}

/// Lowers every tenant and assembles the policy. `revision`: `None` derives a short hex digest
/// of the compiled policy, so the same input always gets the same revision (the serial is not
/// part of it). `serial`: the bundle's monotonic serial, given by the caller so that the same
/// input and serial always give the same policy.
pub fn lower(
    gateway: model::Gateway,
    tenants: &[TenantSource<'_>],
    revision: Option<&str>,
    serial: u64,
) -> Result<Policy, Vec<Diagnostic>> {
    let mut out = Vec::new();
    let mut lowered = Vec::new();
    for source in tenants {
        // The directory and credentials files' diagnostics, kept apart while the tenant's are
        // being written.
        let mut directory_out = Vec::new();
        let mut credentials_out = Vec::new();
        let d = FileDiagnostics {
            file: source.file,
            text: source.text.clone(),
            out: &mut out,
        };
        let directory = source.directory.as_ref().map(|dir| {
            let d = FileDiagnostics {
                file: dir.file,
                text: dir.text.clone(),
                out: &mut directory_out,
            };
            (d, dir.spec)
        });
        let credentials = source.credentials.as_ref().map(|c| {
            let d = FileDiagnostics {
                file: c.file,
                text: c.text.clone(),
                out: &mut credentials_out,
            };
            (d, c.spec)
        });
        let cx = Lowering::new(d, source.base_dir, source.files, source.spec, directory);
        if let Some(tenant) = lower_tenant(cx, credentials) {
            lowered.push(tenant);
        }
        out.append(&mut directory_out);
        out.append(&mut credentials_out);
    }
    check_across_tenants(tenants, &mut out);
    if !out.is_empty() {
        return Err(out);
    }
    lowered.sort_by(|a, b| a.name.cmp(&b.name));
    let mut policy = Policy {
        revision: String::new(),
        compiler_version: env!("CARGO_PKG_VERSION").to_string(),
        // Set after the revision is derived: the same policy keeps its revision whatever its
        // serial.
        serial: 0,
        gateway,
        tenants: lowered,
    };
    policy.revision = match revision {
        Some(r) => r.to_string(),
        None => content_revision(&policy),
    };
    policy.serial = serial;
    Ok(policy)
}

/// Lowers one tenant file, concern by concern, each handed the tables it resolves against;
/// `None` if the file reported any error.
fn lower_tenant(
    mut cx: Lowering<'_, '_>,
    credentials: Option<(FileDiagnostics<'_>, &CredentialsFile)>,
) -> Option<model::Tenant> {
    let section = cx.tenant_section();
    let types = cx.resource_types();
    let roles = cx.roles(&types);
    let idps = cx.identity_providers();
    let mut users = cx.users(&roles);
    let teams = cx.teams(&roles, &idps, &mut users);
    let virtual_accounts = cx.virtual_accounts(&idps);
    let subjects = Subjects {
        users: &users.ids,
        teams: &teams.ids,
        virtual_accounts: &virtual_accounts.ids,
    };
    let mut grants = Vec::new();
    let resources = cx.resources(&types, &roles, &subjects, &mut grants);
    let permissions = Permissions {
        resources: &resources,
        roles: &roles,
        types: &types,
    };
    cx.permission_grants(&permissions, &virtual_accounts, &subjects, &mut grants);
    grants.sort();
    grants.dedup();
    let credentials = match credentials {
        None => credentials::Credentials::default(),
        Some((mut d, file)) => {
            let lowered = credentials::lower_credentials(&mut d, file, &subjects, &types);
            if d.count() > 0 {
                return None;
            }
            lowered
        }
    };

    if !cx.clean() {
        return None;
    }
    let t = &cx.spec.tenant;
    let (actions, resource_types) = types.into_model();
    Some(model::Tenant {
        config: model::TenantConfig {
            name: t.name.to_string(),
            hosts: section.hosts,
            issuer: t.issuer.to_string(),
            keys: section.keys,
            audiences: section.audiences,
            clock_skew_seconds: section.clock_skew_seconds,
            revoked_token_ids: section.revoked_token_ids,
            identity_providers: idps.into_model(),
            actions,
            resource_types,
            roles: roles.into_model(),
            jit_domains: section.jit_domains,
            credential_scopes: credentials.scopes,
        },
        users: users.list,
        teams: teams.list,
        virtual_accounts: virtual_accounts.list,
        resources: resources.list,
        grants,
        credentials: credentials.list,
    })
}

/// First 12 hex digits of SHA-256 over the policy's JSON form (which has no maps, so it is
/// deterministic). The JSON is streamed into the hash, never held (it is ~100 MB for a
/// 1M-grant tenant); the digest is the same as over `serde_json::to_vec(policy)`.
fn content_revision(policy: &Policy) -> String {
    struct HashWriter(Sha256);
    impl std::io::Write for HashWriter {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.update(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }
    let mut hasher = HashWriter(Sha256::new());
    {
        use std::io::Write;
        let mut out = std::io::BufWriter::with_capacity(1 << 16, &mut hasher);
        // Writing into a hash cannot fail, and `Policy` serializes without error.
        let _ = serde_json::to_writer(&mut out, policy);
        let _ = out.flush();
    }
    let digest = hasher.0.finalize();
    digest.iter().take(6).map(|b| format!("{b:02x}")).collect()
}

/// Duplicate tenant names, a host claimed by two tenants, and hostless tenants in a bundle of
/// several (only a single tenant may serve every host).
fn check_across_tenants(tenants: &[TenantSource<'_>], out: &mut Vec<Diagnostic>) {
    let mut names = Names::new("tenant");
    let mut hosts: BTreeMap<String, (&Path, usize, &str)> = BTreeMap::new();
    for source in tenants {
        let mut d = FileDiagnostics {
            file: source.file,
            text: source.text.clone(),
            out: &mut *out,
        };
        let tenant = &source.spec.tenant;
        names.define_in(&mut d, source.file, &tenant.name, tenant.name.span());
        if tenant.hosts.is_empty() && tenants.len() > 1 {
            d.error(
                tenant.name.span(), Code::Missing,
                format!("tenant `{}` lists no `hosts`; only a bundle with a single tenant may omit them", *tenant.name),
            );
        }
        let mut own = BTreeSet::new();
        for host in &tenant.hosts {
            let host_lc = host.to_ascii_lowercase();
            if !own.insert(host_lc.clone()) {
                continue;
            }
            let host_line = host.span().start().map_or(0, |m| m.line());
            if let Some((file, first, other)) = hosts.get(&host_lc) {
                d.error(
                    host.span(),
                    Code::Duplicate,
                    format!(
                        "host `{host_lc}` is already served by tenant `{other}` ({}:{first})",
                        file.display()
                    ),
                );
            } else {
                hosts.insert(host_lc, (source.file, host_line, tenant.name.as_str()));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use gatehouse_engine::model::{
        ActionSet, Algorithm, Grant, IdpId, KeyMaterial, ResolveTo, RoleKind, Subject,
        VirtualAccountId,
    };

    use crate::compile::{compile_sources, CompileError, Files, Sources};

    use super::test_support::*;
    use super::*;

    #[test]
    fn full_tenant_compiles() {
        let policy = compile_one(&full_tenant()).unwrap();
        assert_eq!(policy.compiler_version, env!("CARGO_PKG_VERSION"));
        assert_eq!(policy.revision.len(), 12);
        assert_eq!(policy.gateway, crate::gateway::default_gateway());
        let t = &policy.tenants[0];
        assert_eq!(t.name, "acme");
        assert_eq!(t.hosts, ["*.acme.example.com", "acme.gw.example.com"]);
        assert_eq!(t.clock_skew_seconds, 30);
        assert_eq!(t.revoked_token_ids, ["a", "b"]);
        assert_eq!(t.keys.len(), 1);
        assert_eq!(t.keys[0].kid.as_deref(), Some("k1"));
        assert!(matches!(t.keys[0].material, KeyMaterial::Ed25519 { .. }));

        // Actions: the built-in ones, then the extension's new `export`.
        assert_eq!(
            t.actions,
            [
                "read",
                "manage",
                "delete",
                "manage-collaborators",
                "deploy",
                "use",
                "write",
                "export"
            ]
        );
        let names: Vec<&str> = t.resource_types.iter().map(|r| r.name.as_str()).collect();
        let mut sorted = names.clone();
        sorted.sort();
        assert_eq!(names, sorted);
        let table = &t.resource_types[names.iter().position(|n| *n == "table").unwrap()];
        assert_eq!(
            table
                .parent
                .map(|p| t.resource_types[p.index()].name.as_str()),
            Some("dataset")
        );

        // IdPs sorted by name.
        assert_eq!(t.identity_providers[0].name, "github-actions");
        assert_eq!(
            t.identity_providers[1].resolve_to,
            ResolveTo::User {
                email_claim: vec!["ext".into(), "mail".into()],
                team_claim: Some(vec!["groups".into()]),
                require_email_verified: false,
            }
        );
        assert_eq!(
            t.identity_providers[1].algorithms,
            [Algorithm::RS256, Algorithm::EdDSA]
        );
        assert_eq!(
            t.identity_providers[0].resolve_to,
            ResolveTo::VirtualAccount {
                virtual_account_claim: vec!["repository".into()]
            }
        );

        // Users: lowercased, sorted, defaults, teams.
        let emails: Vec<&str> = t.users.iter().map(|u| u.email.as_str()).collect();
        assert_eq!(
            emails,
            [
                "alice@acme.com",
                "bob@acme.com",
                "carol@acme.com",
                "dave@acme.com",
                "erin@acme.com"
            ]
        );
        assert_eq!(t.users[0].role, role(t, "tenant-admin"));
        assert!(!t.users[1].active && t.users[0].active);
        assert_eq!(t.users[1].role, role(t, "tenant-member"));
        assert_eq!(t.users[2].role, role(t, "model-consumer"));
        assert_eq!(
            t.users[3].teams,
            [team(t, "ml-engineers"), team(t, "research")]
        );
        assert!(t.users[4].teams.is_empty());
        let ml = &t.teams[team(t, "ml-engineers").index()];
        assert_eq!(ml.roles, [role(t, "model-consumer")]);
        assert_eq!(ml.idp_mappings, [(IdpId(1), "ml".to_string())]);

        // Custom role: one entry per type, sorted by type.
        let RoleKind::Tenant { permissions } = &t.roles[role(t, "model-consumer").index()].kind
        else {
            panic!()
        };
        let types: Vec<&str> = permissions
            .iter()
            .map(|(ty, _)| t.resource_types[ty.index()].name.as_str())
            .collect();
        assert_eq!(types, ["dataset", "model", "provider-account"]);
        assert_eq!(permissions[2].1, ActionSet(1 | 1 << 5));
        assert_eq!(permissions[1].1, ActionSet(1 | 1 << 5));
        // Aliases are the same role.
        assert!(!t.roles.iter().any(|r| r.name == "workspace-member"));

        // Virtual account.
        let va = &t.virtual_accounts[0];
        assert_eq!(va.expires, Some(1_811_808_000));
        assert_eq!(va.tokens_valid_after, Some(1_793_487_600));
        assert_eq!(va.idp_mappings, [(IdpId(0), "acme/infra".to_string())]);

        // Resources sorted by `type:path`, parents, disabled, authorized subjects.
        let refs: Vec<String> = t
            .resources
            .iter()
            .map(|r| {
                format!(
                    "{}:{}",
                    t.resource_types[r.resource_type.index()].name,
                    r.path
                )
            })
            .collect();
        let mut sorted = refs.clone();
        sorted.sort();
        assert_eq!(refs, sorted);
        assert_eq!(refs.len(), 13);
        let app = &t.resources[resource(t, "application:prod/ml-serving/api").index()];
        assert_eq!(app.parent, Some(resource(t, "workspace:prod/ml-serving")));
        assert_eq!(
            t.resources[resource(t, "workspace:prod/ml-serving").index()].parent,
            Some(resource(t, "cluster:prod"))
        );
        assert!(!t.resources[resource(t, "tool:github/delete_repo").index()].enabled);
        assert!(t.resources[resource(t, "tool:github/create_issue").index()].enabled);
        let o3 = &t.resources[resource(t, "model:openai-main/o3").index()];
        assert_eq!(
            o3.authorized_subjects,
            Some(vec![
                Subject::User(user(t, "alice@acme.com")),
                Subject::Team(team(t, "research"))
            ])
        );
        assert_eq!(
            t.resources[resource(t, "model:openai-main/gpt-4o").index()].authorized_subjects,
            None
        );
        assert_eq!(
            t.resources[resource(t, "table:sales/q1").index()].parent,
            Some(resource(t, "dataset:sales"))
        );

        // Grants.
        let mut expected = vec![
            Grant {
                resource: resource(t, "provider-account:openai-main"),
                subject: Subject::Team(team(t, "ml-engineers")),
                role: role(t, "provider-account-user"),
            },
            Grant {
                resource: resource(t, "mcp-server:github"),
                subject: Subject::Everyone,
                role: role(t, "mcp-server-user"),
            },
            Grant {
                resource: resource(t, "mcp-server:github"),
                subject: Subject::VirtualAccount(VirtualAccountId(0)),
                role: role(t, "mcp-server-user"),
            },
            Grant {
                resource: resource(t, "cluster:prod"),
                subject: Subject::User(user(t, "dave@acme.com")),
                role: role(t, "cluster-viewer"),
            },
            Grant {
                resource: resource(t, "workspace:prod/ml-serving"),
                subject: Subject::Team(team(t, "ml-engineers")),
                role: role(t, "workspace-editor"),
            },
            Grant {
                resource: resource(t, "workspace:prod/ml-serving"),
                subject: Subject::User(user(t, "erin@acme.com")),
                role: role(t, "workspace-editor"),
            },
            Grant {
                resource: resource(t, "dataset:sales"),
                subject: Subject::VirtualAccount(VirtualAccountId(0)),
                role: role(t, "dataset-reader"),
            },
        ];
        expected.sort();
        assert_eq!(t.grants, expected);
    }

    #[test]
    fn deterministic() {
        let a = compile_one(&full_tenant()).unwrap();
        let b = compile_one(&full_tenant()).unwrap();
        assert_eq!(a, b);
        assert_eq!(
            serde_json::to_string(&a).unwrap(),
            serde_json::to_string(&b).unwrap()
        );
        let c = compile_sources(&Sources {
            revision: Some("r7"),
            ..Sources::tenants(&[(Path::new("acme.yaml"), &full_tenant())])
        })
        .unwrap();
        assert_eq!(c.revision, "r7");
        assert_eq!(c.serial, 1);
    }

    #[test]
    fn serial_is_kept_but_not_part_of_the_derived_revision() {
        let compile = |serial| {
            compile_sources(&Sources {
                gateway: None,
                tenants: &[(Path::new("acme.yaml"), &full_tenant())],
                files: Files::Disk,
                revision: None,
                serial,
            })
            .unwrap()
        };
        let (a, b) = (compile(5), compile(1_795_867_200));
        assert_eq!((a.serial, b.serial), (5, 1_795_867_200));
        assert_eq!(
            a.revision, b.revision,
            "the serial changed the derived revision"
        );
        assert_eq!(a, Policy { serial: 5, ..b });
    }

    #[test]
    fn three_errors_in_one_file() {
        let errs = errors(&minimal(
            "users:\n  - email: a@x.com\n  - email: A@x.com\nteams:\n  - {name: t, members: [nobody@x.com]}\nresources:\n  - {type: cluster, name: c, collaborators: [{subject: \"user:a@x.com\", role: provider-account-user}]}\n",
        ));
        assert_eq!(
            errs,
            [
                "7:12 duplicate user `a@x.com` (first defined at line 6)",
                "9:25 team member `nobody@x.com` is not a user of this tenant",
                "11:78 role `provider-account-user` applies to `provider-account` resources, not to `cluster:c`",
            ]
        );
    }

    #[test]
    fn reference_and_type_errors() {
        let errs = errors(&minimal(
            r#"identity_providers:
  - {name: gh, issuer: https://cp, jwks: {"keys": []}, resolve_to: virtual-account}
  - {name: okta, issuer: o, jwks: {"keys": [{"kty": "RSA"}]}, resolve_to: user, team_claim: groups}
users: [{email: a@x.com, role: cluster-admin}, {email: b@x.com, role: nope}]
teams:
  - name: t
    identity_provider_mapping: [{identity_provider: gh, value: v}, {identity_provider: nope, value: v}]
virtual_accounts:
  - name: v
    expires: tomorrow
    identity_provider_mapping: [{identity_provider: okta, value: v}]
    permissions: [{resource: "agent:missing", role: agent-viewer}]
roles:
  - {name: r, permissions: ["gadget:read", "model:deploy", "noformat"]}
role_bindings:
  - {name: b, subjects: ["user:nobody@x.com", "group:x", "team:everyone"], permissions: [{resource: "agent:a", role: tenant-admin}]}
resources:
  - {type: agent, name: a, authorized_subjects: ["virtualaccount:ghost"]}
  - {type: model, name: m}
  - {name: untyped}
  - type: cluster
    name: c
    models: [{name: x}]
    workspaces: [{name: "a/b"}, {name: w, type: tool}]
"#,
        ));
        let expected = [
            "18:29 unknown resource type `gadget` in permission `gadget:read`",
            "18:44 resource type `model` has no action `deploy` (permission `model:deploy`)",
            "18:60 invalid permission `noformat`: expected `<type>:<action>` or `<type>:*`",
            "6:24 identity provider `gh` has the tenant's own issuer `https://cp`",
            "6:42 the JWK Set of identity provider `gh` has no keys",
            "6:68 identity provider `gh` resolves to virtual accounts and needs `virtual_account_claim`",
            "7:35 invalid inline `jwks`: key #0: missing `n`",
            "8:32 `cluster-admin` is a collaborator role; grant it on a resource, not as a tenant-level role",
            "8:71 unknown role `nope`",
            "11:53 identity provider `gh` resolves to virtual accounts, not users, so it cannot map teams",
            "11:88 unknown identity provider `nope`",
            "14:14 invalid timestamp `tomorrow`: expected RFC 3339, e.g. `2027-06-01T00:00:00Z`",
            "15:53 identity provider `okta` resolves to users, not virtual accounts",
            "23:12 a `model` is listed under its parent `provider-account` resource, in `models`",
            "24:12 resource `untyped` needs a `type`",
            "27:5 unknown field `models` in resource `c`: children of a `cluster` are listed in `workspaces`",
            "28:25 invalid resource name `a/b`: it must be non-empty, without `/` or spaces",
            "28:49 resource `w` has type `workspace` here, not `tool`",
            "22:50 unknown subject `virtualaccount:ghost`",
            "16:30 unknown resource `agent:missing`",
            "20:26 unknown subject `user:nobody@x.com`",
            "20:47 invalid subject `group:x`: expected `user:<email>`, `team:<name>` or `virtualaccount:<name>`",
            "20:118 `tenant-admin` is a tenant-level role and cannot be granted on a resource",
        ];
        assert_eq!(errs.len(), expected.len(), "{errs:#?}");
        assert_eq!(errs, expected);
    }

    #[test]
    fn across_tenants() {
        let a =
            format!("tenant: {{name: acme, hosts: [a.example.com], issuer: i, jwks: {JWKS}}}\n");
        let b =
            format!("tenant: {{name: acme, hosts: [A.example.com], issuer: i, jwks: {JWKS}}}\n");
        let c = format!("tenant: {{name: other, issuer: i, jwks: {JWKS}}}\n");
        let errs = match compile_sources(&Sources::tenants(&[
            (Path::new("a.yaml"), &a),
            (Path::new("b.yaml"), &b),
            (Path::new("c.yaml"), &c),
        ])) {
            Err(CompileError::Invalid(d)) => d.iter().map(ToString::to_string).collect::<Vec<_>>(),
            other => panic!("{other:?}"),
        };
        assert_eq!(
            errs,
            [
                "b.yaml:1:16: error: duplicate tenant `acme` (first defined at a.yaml:1)",
                "b.yaml:1:30: error: host `a.example.com` is already served by tenant `acme` (a.yaml:1)",
                "c.yaml:1:16: error: tenant `other` lists no `hosts`; only a bundle with a single tenant may omit them",
            ]
        );
    }
}
