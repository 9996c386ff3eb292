//! `gatehouse inspect`: what a bundle holds, as text or JSON.

use std::fmt::Write as _;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_engine::escape::for_terminal;
use gatehouse_engine::Engine;
use serde_json::{json, Value};

/// `gatehouse inspect`.
pub fn inspect(engine: &Engine, as_json: bool) -> String {
    let bundle = engine.bundle();
    let (major, minor) = bundle.format_version();
    let gateway = bundle.gateway();
    let tenants: Vec<Value> = bundle
        .tenants()
        .iter()
        .map(|t| {
            let tables = bundle.tables(t);
            json!({
                "name": t.config.name,
                "hosts": t.config.hosts,
                "issuer": t.config.issuer,
                "keys": t.config.keys.len(),
                "identity_providers": t.config.identity_providers.iter().map(|p| &p.name).collect::<Vec<_>>(),
                "users": tables.users.len(),
                "teams": tables.teams.len(),
                "virtual_accounts": tables.virtual_accounts.len(),
                "roles": t.config.roles.len(),
                "resources": tables.resources.len(),
                "grants": tables.grants.len(),
            })
        })
        .collect();
    let value = json!({
        "format": format!("{major}.{minor}"),
        "revision": bundle.meta().revision,
        "serial": bundle.serial(),
        "compiler_version": bundle.meta().compiler_version,
        "size_bytes": bundle.len(),
        "digest_sha256": hex(bundle.digest()),
        "signed_by": bundle.signer().map(|k| STANDARD.encode(k)),
        "mode": if gateway.dry_run { "dry-run" } else { "enforce" },
        "default": if gateway.default_authenticated { "authenticated" } else { "deny" },
        "max_body_bytes": gateway.max_body_bytes,
        "routes": gateway.routes.iter().map(|r| &r.name).collect::<Vec<_>>(),
        "tenants": tenants,
    });
    if as_json {
        return format!("{value:#}\n");
    }
    let mut out = String::new();
    let _ = writeln!(out, "gatehouse bundle, format {major}.{minor}");
    let _ = writeln!(
        out,
        "  revision         {}",
        for_terminal(&bundle.meta().revision)
    );
    let _ = writeln!(out, "  serial           {}", bundle.serial());
    let _ = writeln!(
        out,
        "  compiler         {}",
        for_terminal(&bundle.meta().compiler_version)
    );
    let _ = writeln!(out, "  size             {} bytes", bundle.len());
    let _ = writeln!(out, "  digest (sha256)  {}", hex(bundle.digest()));
    let _ = writeln!(
        out,
        "  signed by        {}",
        bundle
            .signer()
            .map_or_else(|| "(unsigned)".to_owned(), |k| STANDARD.encode(k))
    );
    let _ = writeln!(
        out,
        "  mode             {}, default {}, max body {} bytes",
        if gateway.dry_run {
            "dry-run"
        } else {
            "enforce"
        },
        if gateway.default_authenticated {
            "authenticated"
        } else {
            "deny"
        },
        gateway.max_body_bytes
    );
    let names: Vec<&str> = gateway.routes.iter().map(|r| r.name.as_str()).collect();
    let _ = writeln!(
        out,
        "  routes           {}",
        for_terminal(&names.join(", "))
    );
    for t in bundle.tenants() {
        let tables = bundle.tables(t);
        let _ = writeln!(
            out,
            "tenant {}: {} users, {} teams, {} virtual accounts, {} roles, {} resources, {} grants",
            for_terminal(&t.config.name),
            tables.users.len(),
            tables.teams.len(),
            tables.virtual_accounts.len(),
            t.config.roles.len(),
            tables.resources.len(),
            tables.grants.len()
        );
    }
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}
