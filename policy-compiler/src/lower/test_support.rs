//! What the unit tests of the lowering share: a tenant that uses every field, and helpers that
//! compile a tenant file and name its errors by `line:column`.

use std::path::Path;

use gatehouse_engine::model::{Policy, ResourceId, RoleId, TeamId, Tenant, UserId};

use crate::compile::{compile_sources, CompileError, Sources};

pub(crate) const JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"k1","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;

/// Every field of SPEC 2.1 plus a `resource_types:` extension.
pub(super) fn full_tenant() -> String {
    format!(
        r#"tenant:
  name: acme
  hosts: ["ACME.gw.example.com", "*.acme.example.com"]
  issuer: https://acme.cp.example.com
  jwks: {JWKS}
  audiences: [gatehouse]
  clock_skew_seconds: 30
  revoked_token_ids: [b, a]
identity_providers:
  - name: okta
    issuer: https://acme.okta.com/oauth2/default
    jwks: {JWKS}
    audiences: ["api://gateway"]
    algorithms: [RS256, EdDSA]
    resolve_to: user
    email_claim: ext.mail
    team_claim: groups
  - name: github-actions
    issuer: https://token.actions.githubusercontent.com
    jwks: {JWKS}
    resolve_to: virtual-account
    virtual_account_claim: repository
users:
  - email: Alice@Acme.com
    role: tenant-admin
  - email: bob@acme.com
    active: false
  - email: carol@acme.com
    role: model-consumer
  - email: dave@acme.com
  - email: erin@acme.com
teams:
  - name: ml-engineers
    members: [carol@acme.com, DAVE@acme.com]
    roles: [model-consumer]
    identity_provider_mapping:
      - {{identity_provider: okta, value: ml}}
  - name: research
    members: [dave@acme.com]
virtual_accounts:
  - name: ci-bot
    expires: 2027-06-01T00:00:00Z
    tokens_valid_after: 2026-11-01T00:00:00+01:00
    permissions:
      - {{resource: "mcp-server:github", role: mcp-server-user}}
    identity_provider_mapping:
      - {{identity_provider: github-actions, value: acme/infra}}
roles:
  - name: model-consumer
    permissions: ["provider-account:read", "provider-account:use", "model:*", "dataset:read"]
role_bindings:
  - name: ml-serving-editors
    subjects: ["team:ml-engineers", "user:erin@acme.com"]
    permissions: [{{resource: "workspace:prod/ml-serving", role: workspace-member}}]
resource_types:
  - name: dataset
    actions: [read, write, export]
    roles: [{{name: dataset-reader, actions: [read]}}]
  - name: table
    parent: dataset
    children_key: tables
    actions: [read]
resources:
  - type: provider-account
    name: openai-main
    collaborators:
      - {{subject: "team:ml-engineers", role: provider-account-user}}
    models:
      - name: gpt-4o
      - name: o3
        authorized_subjects: ["user:alice@acme.com", "team:research", "team:research"]
  - type: mcp-server
    name: github
    collaborators: [{{subject: "team:everyone", role: mcp-server-user}}]
    tools:
      - name: create_issue
      - name: delete_repo
        enabled: false
  - type: cluster
    name: prod
    collaborators: [{{subject: "user:dave@acme.com", role: cluster-viewer}}]
    workspaces:
      - name: ml-serving
        applications: [{{name: api}}]
  - type: repository
    name: prompts
    prompts: [{{name: summarize}}]
  - type: dataset
    name: sales
    collaborators: [{{subject: "virtualaccount:ci-bot", role: dataset-reader}}]
    tables: [{{name: q1}}]
"#
    )
}

pub(super) fn compile_one(text: &str) -> Result<Policy, CompileError> {
    compile_sources(&Sources::tenants(&[(Path::new("acme.yaml"), text)]))
}

pub(super) fn errors(text: &str) -> Vec<String> {
    match compile_one(text) {
        Err(CompileError::Invalid(diags)) => diags
            .iter()
            .map(|d| format!("{}:{} {}", d.line, d.column, d.message))
            .collect(),
        other => panic!("expected errors, got {other:?}"),
    }
}

pub(super) fn minimal(rest: &str) -> String {
    format!("tenant:\n  name: acme\n  issuer: https://cp\n  jwks: {JWKS}\n{rest}")
}

pub(super) fn resource(t: &Tenant, reference: &str) -> ResourceId {
    let i = t
        .resources
        .iter()
        .position(|r| {
            format!(
                "{}:{}",
                t.resource_types[r.resource_type.index()].name,
                r.path
            ) == reference
        })
        .unwrap_or_else(|| panic!("{reference}"));
    ResourceId(i as u32)
}

pub(super) fn role(t: &Tenant, name: &str) -> RoleId {
    RoleId(t.roles.iter().position(|r| r.name == name).unwrap() as u32)
}

pub(super) fn team(t: &Tenant, name: &str) -> TeamId {
    TeamId(t.teams.iter().position(|r| r.name == name).unwrap() as u32)
}

pub(super) fn user(t: &Tenant, email: &str) -> UserId {
    UserId(t.users.iter().position(|u| u.email == email).unwrap() as u32)
}
