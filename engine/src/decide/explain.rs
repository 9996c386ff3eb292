//! Why a decision came out as it did: what its steps looked at (recorded through [`Trace`] while
//! [`Engine::decide`] ran), and, for a denial in step 7, what would have allowed it, read from
//! the same bundle tables.

use serde::Serialize;

use super::authorize::{tenant_roles, Trace};
use super::outcome::subject_name;
use super::principal::Caller;
use super::{Decision, Engine, Identity, Outcome, Request};
use crate::bundle::SubjectCode;
use crate::model::{ResourceId, RoleId, RoleKind};
use crate::reason::Reason;

/// Grants listed per resource in [`Searched::granted_to`], at most.
pub const GRANTED_TO_LIMIT: usize = 20;

/// The explanation of one decision (`gatehouse check`, member `explain` of `--json`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Explanation {
    /// One sentence.
    pub summary: String,
    /// The caller's subjects that were tried: the principal, its teams, `team:everyone`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub subjects: Vec<String>,
    /// The caller's tenant-level roles, `subject role`.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenant_roles: Vec<String>,
    /// The resource and its ancestors as step 7 searched them, nearest first.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub searched: Vec<Searched>,
    /// Tenant-level roles that would allow the action here: `tenant-admin`, and every role that
    /// permits `<type>:<action>` for a type of the chain.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tenant_roles_granting: Vec<String>,
}

/// One resource of the searched chain.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Searched {
    /// `type:path`.
    pub resource: String,
    pub disabled: bool,
    /// For a restricted resource, the subjects it admits (besides tenant admins).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub authorized_subjects: Option<Vec<String>>,
    /// For a restricted resource that was checked, the caller's subjects it admits (empty: the
    /// denial).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub admitted: Option<Vec<String>>,
    /// Collaborator roles that, granted on this resource, include the action.
    pub roles_granting: Vec<String>,
    /// Grants on this resource held by a subject of the caller (any role), `subject role`.
    pub held: Vec<String>,
    /// Grants on this resource that include the action, `subject role`: who has it here (at most
    /// [`GRANTED_TO_LIMIT`]; `granted_to_count` counts them all).
    pub granted_to: Vec<String>,
    pub granted_to_count: usize,
}

/// What the steps reported.
#[derive(Debug, Default)]
struct Recorder {
    caller: Option<Caller>,
    action: Option<u32>,
    nodes: Vec<ResourceId>,
    tenant_roles: Vec<(SubjectCode, RoleId)>,
    restricted: Vec<(ResourceId, bool)>,
}

impl Trace for Recorder {
    fn caller(&mut self, caller: &Caller) {
        self.caller = Some(caller.clone());
    }
    fn action(&mut self, action: u32) {
        self.action = Some(action);
    }
    fn node(&mut self, resource: ResourceId) {
        self.nodes.push(resource);
    }
    fn tenant_roles(&mut self, roles: &[(SubjectCode, RoleId)]) {
        self.tenant_roles = roles.to_vec();
    }
    fn restricted(&mut self, resource: ResourceId, admitted: bool) {
        self.restricted.push((resource, admitted));
    }
}

impl Engine {
    /// [`Engine::decide`], and why: the same steps, with what they looked at recorded.
    pub fn explain<'e>(
        &'e self,
        request: &Request<'_>,
        identity: Identity<'_>,
        now: i64,
    ) -> (Outcome<'e>, Explanation) {
        let mut recorder = Recorder::default();
        let outcome = self.decide_traced(request, identity, now, &mut recorder);
        let named = match identity {
            Identity::Subject(subject) => Some(subject),
            Identity::Token | Identity::Credential(_) => None,
        };
        let explanation = explanation(&outcome, &recorder, named);
        (outcome, explanation)
    }
}

fn explanation(outcome: &Outcome<'_>, rec: &Recorder, named: Option<&str>) -> Explanation {
    let (Some(tenant), Some(tables)) = (outcome.tenant, outcome.tables.as_ref()) else {
        return Explanation {
            summary: summary_of_reason(outcome),
            ..Explanation::default()
        };
    };
    if outcome.decision.is_allow() {
        // What allowed it is the grant; the search is for denials.
        return Explanation {
            summary: summary_of_reason(outcome),
            ..Explanation::default()
        };
    }
    let config = &tenant.config;
    let role_name = |role: RoleId| config.roles.get(role.index()).map_or("?", |r| &r.name);
    let pair = |(subject, role): (SubjectCode, RoleId)| {
        format!("{} {}", subject_name(tables, subject), role_name(role))
    };
    let caller_subjects: Vec<SubjectCode> = rec
        .caller
        .as_ref()
        .map(|c| c.subjects.to_vec())
        .unwrap_or_default();
    let mut out = Explanation {
        summary: String::new(),
        subjects: caller_subjects
            .iter()
            .map(|s| subject_name(tables, *s))
            .collect(),
        tenant_roles: rec.tenant_roles.iter().copied().map(pair).collect(),
        searched: Vec::new(),
        tenant_roles_granting: Vec::new(),
    };
    if let (Some(action), Some(caller)) = (rec.action, rec.caller.as_ref()) {
        if rec.tenant_roles.is_empty() {
            // Step 7 stopped before it read the tenant roles (a disabled resource).
            out.tenant_roles = tenant_roles(tables, caller)
                .iter()
                .copied()
                .map(pair)
                .collect();
        }
        let numbers = tables.subject_numbers();
        let caller_numbers: Vec<u64> = caller_subjects
            .iter()
            .filter_map(|s| numbers.number(*s))
            .collect();
        let includes = |role: RoleId| {
            config
                .roles
                .get(role.index())
                .is_some_and(|r| match r.kind {
                    RoleKind::Collaborator { actions, .. } => actions.contains(action),
                    RoleKind::TenantAdmin | RoleKind::Tenant { .. } => false,
                })
        };
        let mut types = Vec::new();
        for &index in &rec.nodes {
            let Some(record) = tables.resources.get(index.index()) else {
                continue;
            };
            let ty = record.resource_type();
            types.push(ty);
            let checked = rec.restricted.iter().find(|(r, _)| *r == index);
            let authorized = record.is_restricted().then(|| {
                tables
                    .authorized_of(index)
                    .iter()
                    .map(|a| subject_name(tables, SubjectCode::from_wire(*a)))
                    .collect::<Vec<_>>()
            });
            let admitted = checked.map(|_| {
                caller_subjects
                    .iter()
                    .filter(|s| tables.authorizes(index, **s))
                    .map(|s| subject_name(tables, *s))
                    .collect::<Vec<_>>()
            });
            let roles_granting = config
                .roles
                .iter()
                .filter(|r| {
                    matches!(r.kind, RoleKind::Collaborator { resource_type, actions }
                        if resource_type == ty && actions.contains(action))
                })
                .map(|r| r.name.clone())
                .collect();
            let grants = tables.grants_of(index);
            let held = grants
                .iter()
                .filter(|(n, _)| caller_numbers.contains(n))
                .filter_map(|(n, role)| Some(pair((numbers.subject(n)?.into(), role))))
                .collect();
            let granting: Vec<(u64, RoleId)> =
                grants.iter().filter(|(_, role)| includes(*role)).collect();
            out.searched.push(Searched {
                resource: tables.key(record),
                disabled: record.is_disabled(),
                authorized_subjects: authorized,
                admitted,
                roles_granting,
                held,
                granted_to: granting
                    .iter()
                    .take(GRANTED_TO_LIMIT)
                    .filter_map(|(n, role)| Some(pair((numbers.subject(*n)?.into(), *role))))
                    .collect(),
                granted_to_count: granting.len(),
            });
        }
        out.tenant_roles_granting = config
            .roles
            .iter()
            .filter(|r| match &r.kind {
                RoleKind::TenantAdmin => true,
                RoleKind::Tenant { permissions } => permissions
                    .iter()
                    .any(|(ty, actions)| types.contains(ty) && actions.contains(action)),
                RoleKind::Collaborator { .. } => false,
            })
            .map(|r| r.name.clone())
            .collect();
    }
    out.summary = summary(outcome, &out, named);
    out
}

/// The sentence for a decision that step 7 did not reach, or did not explain further.
fn summary_of_reason(outcome: &Outcome<'_>) -> String {
    match outcome.decision {
        Decision::Allow { .. } => match (outcome.route, outcome.grant()) {
            (_, Some(grant)) => format!("allowed by {grant}"),
            (Some(route), None) if route.public => format!("route `{}` is public", route.name),
            _ => "allowed: the route needs only a valid principal".to_owned(),
        },
        Decision::Deny { reason } => format!("{reason}: {}", reason.description()),
    }
}

fn summary(outcome: &Outcome<'_>, out: &Explanation, named: Option<&str>) -> String {
    let principal = outcome
        .subject()
        .or_else(|| named.map(str::to_owned))
        .unwrap_or_else(|| "the caller".to_owned());
    let resource = outcome
        .resource()
        .unwrap_or_else(|| "the resource".to_owned());
    let action = outcome.action.unwrap_or("?");
    match outcome.decision.reason() {
        Some(Reason::PrincipalInactive) => format!("{principal} is deactivated (active: false)"),
        Some(Reason::PrincipalExpired) => format!("{principal} is past its `expires`"),
        Some(Reason::ResourceDisabled) => {
            let disabled = out.searched.iter().find(|s| s.disabled);
            match disabled {
                Some(s) if s.resource == resource => format!("{resource} is disabled"),
                Some(s) => format!("{resource} is under {}, which is disabled", s.resource),
                None => format!("{resource} is disabled"),
            }
        }
        Some(Reason::NotAuthorizedSubject) => {
            let restricted = out
                .searched
                .iter()
                .find(|s| s.admitted.as_ref().is_some_and(Vec::is_empty));
            match restricted {
                Some(s) => format!(
                    "{} admits only {} (and tenant admins); none of {principal}'s subjects is among them",
                    s.resource,
                    s.authorized_subjects.as_deref().unwrap_or_default().join(", ")
                ),
                None => format!("{resource} admits only its authorized subjects"),
            }
        }
        Some(Reason::NoGrant) if !out.searched.is_empty() => format!(
            "no subject of {principal} holds a role that allows `{action}` on {resource} or its ancestors"
        ),
        Some(Reason::NoGrant) => {
            format!("{resource} has no action `{action}`")
        }
        Some(Reason::CredentialOutOfScope) => match outcome.credential {
            Some(id) => format!("`{action}` on {resource} is outside the scopes of API key {id}"),
            None => summary_of_reason(outcome),
        },
        // Reasons decided before step 7 have nothing more to show than their description.
        Some(
            Reason::TokenMissing
            | Reason::TokenMalformed
            | Reason::AlgNotAllowed
            | Reason::IssuerUnknown
            | Reason::KeyUnknown
            | Reason::SignatureInvalid
            | Reason::TokenExpired
            | Reason::TokenNotYetValid
            | Reason::AudienceMismatch
            | Reason::TokenRevoked
            | Reason::TenantUnknown
            | Reason::TenantMismatch
            | Reason::PrincipalUnknown
            | Reason::NoRoute
            | Reason::ResourceUnresolved
            | Reason::ResourceUnknown
            | Reason::BodyTooLarge
            | Reason::BodyInvalid
            | Reason::PathNotCanonical
            | Reason::UnsupportedMediaType
            | Reason::AuthorityInvalid
            | Reason::CrossSiteRequest
            | Reason::RequestAmbiguous
            | Reason::CredentialUnknown
            | Reason::InsufficientScope,
        )
        | None => summary_of_reason(outcome),
    }
}
