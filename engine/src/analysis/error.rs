//! Why a review question cannot be put.

/// A question that cannot be put: it names something the tenant does not have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AnalysisError {
    TenantUnknown(String),
    /// The tenants' names, comma-separated.
    SeveralTenants(String),
    ResourceUnknown {
        tenant: String,
        resource: String,
    },
    ResourceMalformed(String),
    TypeUnknown {
        tenant: String,
        resource_type: String,
    },
    ActionUnknown {
        resource_type: String,
        action: String,
        /// The actions there are, comma-separated.
        actions: String,
    },
    PrincipalUnknown {
        tenant: String,
        subject: String,
    },
    /// No API key of this id (16 hex digits) in the tenant.
    CredentialUnknown {
        tenant: String,
        credential: String,
    },
    /// The key's principal is no longer in the tenant (presenting it is `principal_unknown`).
    CredentialOrphaned {
        tenant: String,
        credential: String,
    },
    /// `--as` and `--credential` together, naming different principals.
    CredentialNotOf {
        credential: String,
        /// The key's principal, `user:<email>` or `virtualaccount:<name>`.
        holder: String,
        subject: String,
    },
    /// No route of the gateway serves `tools/call` for this MCP server (and no path was given).
    McpRouteUnknown {
        server: String,
    },
}

impl core::fmt::Display for AnalysisError {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            AnalysisError::TenantUnknown(name) => write!(f, "the bundle has no tenant `{name}`"),
            AnalysisError::SeveralTenants(names) => write!(
                f,
                "the bundle has several tenants ({names}): say which with --tenant"
            ),
            AnalysisError::ResourceUnknown { tenant, resource } => {
                write!(f, "tenant `{tenant}` has no resource `{resource}`")
            }
            AnalysisError::ResourceMalformed(text) => {
                write!(f, "`{text}` is not a resource reference `TYPE:PATH`")
            }
            AnalysisError::TypeUnknown {
                tenant,
                resource_type,
            } => write!(f, "tenant `{tenant}` has no resource type `{resource_type}`"),
            AnalysisError::ActionUnknown {
                resource_type,
                action,
                actions,
            } => write!(
                f,
                "resources of type `{resource_type}` have no action `{action}` (there are: {actions})"
            ),
            AnalysisError::PrincipalUnknown { tenant, subject } => write!(
                f,
                "tenant `{tenant}` has no principal `{subject}` (principals are \
                 `user:<email>` and `virtualaccount:<name>`)"
            ),
            AnalysisError::CredentialUnknown { tenant, credential } => {
                write!(f, "tenant `{tenant}` has no API key `{credential}`")
            }
            AnalysisError::CredentialOrphaned { tenant, credential } => write!(
                f,
                "API key `{credential}` of tenant `{tenant}` belongs to a principal the tenant no \
                 longer has (presenting it is denied principal_unknown)"
            ),
            AnalysisError::CredentialNotOf {
                credential,
                holder,
                subject,
            } => write!(
                f,
                "API key `{credential}` belongs to `{holder}`, not `{subject}`: drop --as, or \
                 name the key's principal"
            ),
            AnalysisError::McpRouteUnknown { server } => write!(
                f,
                "no route of the gateway maps `tools/call` to a `tool:{{server}}/...` resource \
                 that can be posted to for server `{server}`: give the MCP endpoint's path \
                 with --path"
            ),
        }
    }
}

impl std::error::Error for AnalysisError {}
