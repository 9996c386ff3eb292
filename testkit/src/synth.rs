//! Synthetic tenants for benchmarks and load tests: deterministic from a seed, any size, written
//! as ordinary tenant files (JSON, which the compiler reads like YAML) so that compiling them
//! exercises the real front end.

use std::fmt::Write as _;

/// How big a synthetic tenant is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Size {
    pub users: usize,
    pub teams: usize,
    /// Collaborator grants across all resources (role bindings and virtual-account permissions
    /// come on top, a handful).
    pub grants: usize,
}

impl Size {
    /// 1k users, 100 teams, 10k grants.
    pub const SMALL: Size = Size {
        users: 1_000,
        teams: 100,
        grants: 10_000,
    };
    /// The specification's large tenant: 100k users, 10k teams, 1M grants.
    pub const LARGE: Size = Size {
        users: 100_000,
        teams: 10_000,
        grants: 1_000_000,
    };
}

/// The public half of the fixed Ed25519 key synthetic tenants trust for their control plane.
/// Its private half is [`SYNTH_CP_PRIVATE_JWK`]: benchmark tokens are signed with it.
pub const SYNTH_CP_JWKS: &str = r#"{"keys":[{"kty":"OKP","crv":"Ed25519","kid":"synth","alg":"EdDSA","use":"sig","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}"#;
/// Test-only private key of [`SYNTH_CP_JWKS`] (RFC 8037 appendix A.1 key; never use for anything real).
pub const SYNTH_CP_PRIVATE_JWK: &str = r#"{"kty":"OKP","crv":"Ed25519","kid":"synth","alg":"EdDSA","d":"nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A","x":"11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}"#;

/// SplitMix64: tiny, fast, and the same on every platform.
#[derive(Debug, Clone)]
pub struct Rng(u64);

impl Rng {
    pub fn new(seed: u64) -> Rng {
        Rng(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (`n > 0`; the slight modulo bias does not matter here).
    pub fn below(&mut self, n: usize) -> usize {
        (self.next_u64() % (n.max(1) as u64)) as usize
    }
}

/// Resource layout derived from the grant count: about 23 grants per resource.
#[derive(Debug, Clone, Copy)]
struct Layout {
    provider_accounts: usize,
    models_per_account: usize,
    servers: usize,
    tools_per_server: usize,
    clusters: usize,
    workspaces_per_cluster: usize,
}

impl Layout {
    fn for_size(size: Size) -> Layout {
        let resources = (size.grants / 23).max(12);
        // Split roughly into thirds: accounts+models, servers+tools, clusters+workspaces.
        let third = resources / 3;
        Layout {
            provider_accounts: (third / 11).max(1),
            models_per_account: 10,
            servers: (third / 21).max(1),
            tools_per_server: 20,
            clusters: (third / 11).max(1),
            workspaces_per_cluster: 10,
        }
    }
}

/// Names of a synthetic tenant's entities, so benchmarks can ask questions about them.
pub fn user_email(tenant: &str, i: usize) -> String {
    format!("u{i}@{tenant}.example.com")
}

pub fn model_ref(account: usize, model: usize) -> String {
    format!("pa{account}/m{model}")
}

/// Write a tenant file (JSON text) of the given size, deterministic from `seed`.
pub fn tenant_json(name: &str, size: Size, seed: u64) -> String {
    let mut rng = Rng::new(seed);
    let layout = Layout::for_size(size);
    let teams = size.teams.max(1);
    let mut out = String::with_capacity(size.grants * 64 + size.users * 80);
    let _ = write!(
        out,
        r#"{{"tenant":{{"name":"{name}","hosts":["{name}.gw.example.com"],"issuer":"https://{name}.cp.example.com","jwks":{SYNTH_CP_JWKS}}},"#
    );
    out.push_str(r#""identity_providers":[{"name":"sso","issuer":"https://sso.example.com/"#);
    out.push_str(name);
    let _ = write!(
        out,
        r#"","jwks":{SYNTH_CP_JWKS},"resolve_to":"user","team_claim":"groups"}}],"#
    );
    out.push_str(r#""roles":[{"name":"model-consumer","permissions":["provider-account:read","provider-account:use"]}],"#);

    out.push_str(r#""users":["#);
    for i in 0..size.users {
        if i > 0 {
            out.push(',');
        }
        let roll = rng.below(100);
        let role = match roll {
            0 => r#","role":"tenant-admin""#,
            1..=5 => r#","role":"model-consumer""#,
            _ => "",
        };
        let active = if rng.below(50) == 0 {
            r#","active":false"#
        } else {
            ""
        };
        let _ = write!(
            out,
            r#"{{"email":"{}"{role}{active}}}"#,
            user_email(name, i)
        );
    }
    out.push_str("],");

    // Every user in one or two teams.
    let mut members: Vec<Vec<usize>> = vec![Vec::new(); teams];
    for i in 0..size.users {
        let first = rng.below(teams);
        if let Some(m) = members.get_mut(first) {
            m.push(i);
        }
        if rng.below(4) == 0 {
            let second = rng.below(teams);
            if second != first {
                if let Some(m) = members.get_mut(second) {
                    m.push(i);
                }
            }
        }
    }
    out.push_str(r#""teams":["#);
    for (t, list) in members.iter().enumerate() {
        if t > 0 {
            out.push(',');
        }
        let _ = write!(out, r#"{{"name":"team{t}","members":["#);
        for (k, u) in list.iter().enumerate() {
            if k > 0 {
                out.push(',');
            }
            let _ = write!(out, r#""{}""#, user_email(name, *u));
        }
        out.push(']');
        if t % 10 == 0 {
            let _ = write!(
                out,
                r#","identity_provider_mapping":[{{"identity_provider":"sso","value":"g{t}"}}]"#
            );
        }
        out.push('}');
    }
    out.push_str("],");

    let vas = (size.users / 100).max(1);
    out.push_str(r#""virtual_accounts":["#);
    for v in 0..vas {
        if v > 0 {
            out.push(',');
        }
        let _ = write!(
            out,
            r#"{{"name":"va{v}","permissions":[{{"resource":"mcp-server:srv{}","role":"mcp-server-user"}}]}}"#,
            v % layout.servers
        );
    }
    out.push_str("],");

    // Grants: spread over every resource, distinct subjects per resource.
    let resources = layout.provider_accounts * (1 + layout.models_per_account)
        + layout.servers * (1 + layout.tools_per_server)
        + layout.clusters * (1 + layout.workspaces_per_cluster);
    let per_resource = size.grants.div_ceil(resources.max(1));
    let mut remaining = size.grants;
    let subjects = size.users + teams;
    let mut collaborators = |out: &mut String, role: &str, rng: &mut Rng| {
        let n = per_resource.min(remaining);
        remaining -= n;
        out.push_str(r#","collaborators":["#);
        // A random start and an odd stride coprime with... close enough: distinct for n < subjects.
        let start = rng.below(subjects);
        let stride = 1 + 2 * rng.below(64);
        let mut seen = std::collections::BTreeSet::new();
        let mut k = 0usize;
        let mut written = 0usize;
        while written < n && k < n * 4 {
            let s = (start + k * stride) % subjects;
            k += 1;
            if !seen.insert(s) {
                continue;
            }
            if written > 0 {
                out.push(',');
            }
            written += 1;
            if s < size.users {
                let _ = write!(
                    out,
                    r#"{{"subject":"user:{}","role":"{role}"}}"#,
                    user_email(name, s)
                );
            } else {
                let _ = write!(
                    out,
                    r#"{{"subject":"team:team{}","role":"{role}"}}"#,
                    s - size.users
                );
            }
        }
        out.push(']');
    };

    out.push_str(r#""resources":["#);
    let mut first = true;
    let mut sep = |out: &mut String| {
        if !first {
            out.push(',');
        }
        first = false;
    };
    // (type, name prefix, role, children key, child prefix, child role, parents, children each).
    // Models also carry the narrowing cases: the tenth is disabled, the ninth restricted.
    let families = [
        (
            "provider-account",
            "pa",
            "provider-account-user",
            "models",
            "m",
            "model-user",
            layout.provider_accounts,
            layout.models_per_account,
        ),
        (
            "mcp-server",
            "srv",
            "mcp-server-user",
            "tools",
            "tool",
            "tool-user",
            layout.servers,
            layout.tools_per_server,
        ),
        (
            "cluster",
            "c",
            "cluster-viewer",
            "workspaces",
            "w",
            "workspace-editor",
            layout.clusters,
            layout.workspaces_per_cluster,
        ),
    ];
    for (ty, prefix, role, key, child_prefix, child_role, parents, children) in families {
        let narrowed = key == "models";
        for p in 0..parents {
            sep(&mut out);
            let _ = write!(out, r#"{{"type":"{ty}","name":"{prefix}{p}""#);
            collaborators(&mut out, role, &mut rng);
            let _ = write!(out, r#","{key}":["#);
            for c in 0..children {
                if c > 0 {
                    out.push(',');
                }
                let _ = write!(out, r#"{{"name":"{child_prefix}{c}""#);
                if narrowed && c == 9 {
                    out.push_str(r#","enabled":false"#);
                }
                if narrowed && c == 8 {
                    let _ = write!(out, r#","authorized_subjects":["team:team{}"]"#, p % teams);
                }
                collaborators(&mut out, child_role, &mut rng);
                out.push('}');
            }
            out.push_str("]}");
        }
    }
    out.push_str("]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use gatehouse_compiler::compile::{compile_sources, Files, Sources};
    use std::path::Path;

    #[test]
    fn deterministic_and_compiles() {
        let size = Size {
            users: 300,
            teams: 20,
            grants: 3_000,
        };
        let a = tenant_json("synth", size, 7);
        assert_eq!(a, tenant_json("synth", size, 7));
        assert_ne!(a, tenant_json("synth", size, 8));
        let path = Path::new("synth.json");
        let policy = compile_sources(&Sources {
            gateway: None,
            tenants: &[(path, a.as_str())],
            files: Files::Disk,
            revision: Some("r"),
            serial: 1,
        })
        .unwrap();
        let tenant = &policy.tenants[0];
        assert_eq!(tenant.users.len(), 300);
        assert_eq!(tenant.teams.len(), 20);
        // Collaborator grants plus one permission per virtual account.
        let grants = tenant.grants.len();
        assert!((3_000..3_010).contains(&grants), "{grants} grants");
    }
}
