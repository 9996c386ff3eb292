//! Which tenants the service serves: those whose tenant file in the policy directory says
//! `provisioning: scim`. Read here with a YAML/JSON tree rather than the compiler's types, so
//! that it keeps working whatever else the compiler learns about a tenant file.

use std::collections::BTreeSet;
use std::path::Path;

/// The generated directory files sit beside the tenant files; they are no tenant files.
pub const DIRECTORY_SUFFIX: &str = ".directory.json";

/// The tenants of the tenant files directly inside `dir` (as the compiler reads a directory)
/// with `tenant.provisioning: scim`. A file that does not parse is skipped: the compiler
/// reports it, and no tenant is served by mistake.
pub fn scim_tenants(dir: &Path) -> std::io::Result<BTreeSet<String>> {
    let mut tenants = BTreeSet::new();
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        let name = path
            .file_name()
            .and_then(|n| n.to_str())
            .unwrap_or_default();
        let json = name.ends_with(".json");
        if name.ends_with(DIRECTORY_SUFFIX)
            || !(json || name.ends_with(".yaml") || name.ends_with(".yml"))
            || !path.is_file()
        {
            continue;
        }
        let Ok(text) = std::fs::read_to_string(&path) else {
            continue;
        };
        if let Some(tenant) = scim_tenant(&text, json) {
            tenants.insert(tenant);
        }
    }
    Ok(tenants)
}

/// `tenant.name` of a tenant file whose `tenant.provisioning` is `scim`.
fn scim_tenant(text: &str, json: bool) -> Option<String> {
    let (name, mode) = if json {
        let value: serde_json::Value = serde_json::from_str(text).ok()?;
        let tenant = value.get("tenant")?;
        (
            tenant.get("name")?.as_str()?.to_owned(),
            tenant.get("provisioning")?.as_str()?.to_owned(),
        )
    } else {
        let node = marked_yaml::parse_yaml(0, text).ok()?;
        let tenant = node.as_mapping()?.get_mapping("tenant")?;
        (
            tenant.get_scalar("name")?.as_str().to_owned(),
            tenant.get_scalar("provisioning")?.as_str().to_owned(),
        )
    };
    // The name becomes a file name (`<tenant>.directory.json`) and a URL segment.
    let plain = !name.is_empty()
        && !name.starts_with('.')
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'));
    (mode == "scim" && plain).then_some(name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scim_tenants_count() {
        let dir = std::env::temp_dir().join(format!("gh-dir-policy-{}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(dir.join("sub")).unwrap();
        std::fs::write(
            dir.join("acme.yaml"),
            "tenant:\n  name: acme\n  provisioning: scim\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("initech.yml"),
            "tenant:\n  name: initech\n  provisioning: invite-only\n",
        )
        .unwrap();
        std::fs::write(
            dir.join("globex.json"),
            r#"{"tenant": {"name": "globex", "provisioning": "scim"}}"#,
        )
        .unwrap();
        std::fs::write(dir.join("hooli.yaml"), "tenant:\n  name: hooli\n").unwrap();
        std::fs::write(dir.join("broken.yaml"), "tenant: [").unwrap();
        std::fs::write(
            dir.join("x.directory.json"),
            r#"{"tenant": {"name": "x", "provisioning": "scim"}}"#,
        )
        .unwrap();
        std::fs::write(
            dir.join("sub/deep.yaml"),
            "tenant:\n  name: deep\n  provisioning: scim\n",
        )
        .unwrap();
        let tenants: Vec<String> = scim_tenants(&dir).unwrap().into_iter().collect();
        assert_eq!(tenants, ["acme", "globex"]);
        let _ = std::fs::remove_dir_all(&dir);
    }
}
