//! The built-in resource type catalog (SPEC 2.2) and role table (SPEC 2.3), as data.
//! [`crate::lower`] builds each tenant's `actions`, `resource_types` and `roles` from these
//! tables plus the tenant's own `resource_types:` and `roles:`.

/// A built-in resource type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TypeDef {
    pub name: &'static str,
    pub parent: Option<&'static str>,
    /// Where children of this type are listed under their parent; `None` for top-level types,
    /// which are listed under `resources:` with their `type`.
    pub children_key: Option<&'static str>,
    pub actions: &'static [&'static str],
}

const ALL_CLUSTER: &[&str] = &["read", "manage", "delete", "manage-collaborators"];
const ALL_WORKSPACE: &[&str] = &["read", "deploy", "manage", "delete", "manage-collaborators"];
const ALL_APPLICATION: &[&str] = &["read", "deploy", "manage", "delete"];
const ALL_PROVIDER: &[&str] = &["read", "use", "manage", "delete", "manage-collaborators"];
const READ_USE: &[&str] = &["read", "use"];
const ALL_REPOSITORY: &[&str] = &["read", "write", "manage", "delete", "manage-collaborators"];
const READ_WRITE: &[&str] = &["read", "write"];
const READ: &[&str] = &["read"];

/// SPEC 2.2. Action names appear in the tenant's action table in first-seen order of this list.
pub const RESOURCE_TYPES: &[TypeDef] = &[
    TypeDef {
        name: "cluster",
        parent: None,
        children_key: None,
        actions: ALL_CLUSTER,
    },
    TypeDef {
        name: "workspace",
        parent: Some("cluster"),
        children_key: Some("workspaces"),
        actions: ALL_WORKSPACE,
    },
    TypeDef {
        name: "application",
        parent: Some("workspace"),
        children_key: Some("applications"),
        actions: ALL_APPLICATION,
    },
    TypeDef {
        name: "provider-account",
        parent: None,
        children_key: None,
        actions: ALL_PROVIDER,
    },
    TypeDef {
        name: "model",
        parent: Some("provider-account"),
        children_key: Some("models"),
        actions: READ_USE,
    },
    TypeDef {
        name: "mcp-server",
        parent: None,
        children_key: None,
        actions: ALL_PROVIDER,
    },
    TypeDef {
        name: "tool",
        parent: Some("mcp-server"),
        children_key: Some("tools"),
        actions: READ_USE,
    },
    TypeDef {
        name: "repository",
        parent: None,
        children_key: None,
        actions: ALL_REPOSITORY,
    },
    TypeDef {
        name: "prompt",
        parent: Some("repository"),
        children_key: Some("prompts"),
        actions: READ_WRITE,
    },
    TypeDef {
        name: "agent",
        parent: None,
        children_key: None,
        actions: ALL_PROVIDER,
    },
    TypeDef {
        name: "secret-group",
        parent: None,
        children_key: None,
        actions: ALL_REPOSITORY,
    },
];

/// Which actions a collaborator role gives on its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RoleActions {
    /// Every action of the type.
    All,
    Only(&'static [&'static str]),
}

/// A built-in collaborator role (SPEC 2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CollaboratorRoleDef {
    pub name: &'static str,
    pub resource_type: &'static str,
    pub actions: RoleActions,
}

const MANAGER: RoleActions = RoleActions::Only(&["read", "use", "manage", "manage-collaborators"]);
const USER: RoleActions = RoleActions::Only(READ_USE);
const VIEWER: RoleActions = RoleActions::Only(READ);

const fn role(
    name: &'static str,
    resource_type: &'static str,
    actions: RoleActions,
) -> CollaboratorRoleDef {
    CollaboratorRoleDef {
        name,
        resource_type,
        actions,
    }
}

/// SPEC 2.3, collaborator roles.
pub const COLLABORATOR_ROLES: &[CollaboratorRoleDef] = &[
    role("cluster-admin", "cluster", RoleActions::All),
    role("cluster-viewer", "cluster", VIEWER),
    role("workspace-admin", "workspace", RoleActions::All),
    role(
        "workspace-editor",
        "workspace",
        RoleActions::Only(&["read", "deploy"]),
    ),
    role("workspace-viewer", "workspace", VIEWER),
    role("application-admin", "application", RoleActions::All),
    role("application-viewer", "application", VIEWER),
    role("provider-account-manager", "provider-account", MANAGER),
    role("provider-account-user", "provider-account", USER),
    role("provider-account-viewer", "provider-account", VIEWER),
    role("model-user", "model", USER),
    role("model-viewer", "model", VIEWER),
    role("mcp-server-manager", "mcp-server", MANAGER),
    role("mcp-server-user", "mcp-server", USER),
    role("mcp-server-viewer", "mcp-server", VIEWER),
    role("tool-user", "tool", USER),
    role("repository-manager", "repository", RoleActions::All),
    role("repository-viewer", "repository", VIEWER),
    role("agent-manager", "agent", RoleActions::All),
    role("agent-viewer", "agent", VIEWER),
    role("secret-group-manager", "secret-group", RoleActions::All),
    role("secret-group-viewer", "secret-group", VIEWER),
];

/// `(alias, role)`: an alias names the same role (same [`RoleId`](gatehouse_engine::model::RoleId)).
pub const ROLE_ALIASES: &[(&str, &str)] = &[
    ("workspace-member", "workspace-editor"),
    ("provider-account-access", "provider-account-user"),
    ("mcp-server-access", "mcp-server-user"),
];

/// Every action on every resource of the tenant.
pub const TENANT_ADMIN: &str = "tenant-admin";
/// Nothing by itself; the default role of a user.
pub use gatehouse_engine::model::TENANT_MEMBER;

/// The built-in subject `team:everyone`.
pub const EVERYONE: &str = "everyone";

/// Looks up a built-in type.
pub fn resource_type(name: &str) -> Option<&'static TypeDef> {
    RESOURCE_TYPES.iter().find(|t| t.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_consistent() {
        for t in RESOURCE_TYPES {
            assert_eq!(t.parent.is_some(), t.children_key.is_some(), "{}", t.name);
            if let Some(p) = t.parent {
                assert!(resource_type(p).is_some(), "{p}");
            }
        }
        for r in COLLABORATOR_ROLES {
            let t = resource_type(r.resource_type).unwrap();
            if let RoleActions::Only(actions) = r.actions {
                for a in actions {
                    assert!(t.actions.contains(a), "{} {a}", r.name);
                }
            }
        }
        for (alias, target) in ROLE_ALIASES {
            assert!(
                COLLABORATOR_ROLES.iter().any(|r| r.name == *target),
                "{alias}"
            );
            assert!(
                !COLLABORATOR_ROLES.iter().any(|r| r.name == *alias),
                "{alias}"
            );
        }
    }
}
