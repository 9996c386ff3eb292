//! Changes reported as notes rather than rows: the gateway's routes, and what only token
//! requests read (identity providers, issuers and keys).

use std::collections::BTreeSet;

use super::time;
use crate::analysis::Analysis;
use crate::escape::Phrase;

/// What changed in the gateway files.
pub(super) fn gateway_notes(
    old: &crate::model::Gateway,
    new: &crate::model::Gateway,
) -> Vec<Phrase> {
    let route = |name: &str, what: &str| Phrase::new().word("route ").quoted(name).word(what);
    let mut notes = Vec::new();
    for r in &old.routes {
        match new.routes.iter().find(|x| x.name == r.name) {
            None => notes.push(route(&r.name, " removed")),
            Some(x) if x != r => notes.push(route(&r.name, " changed")),
            Some(_) => {}
        }
    }
    for r in &new.routes {
        if !old.routes.iter().any(|x| x.name == r.name) {
            notes.push(route(&r.name, " added"));
        }
    }
    let names =
        |g: &crate::model::Gateway| g.routes.iter().map(|r| r.name.clone()).collect::<Vec<_>>();
    if notes.is_empty() && names(old) != names(new) {
        notes.push(Phrase::new().word("routes reordered (the first match wins)"));
    }
    let mut changed = |what: &str, differs: bool| {
        if differs {
            notes.push(Phrase::new().word(what).word(" changed"));
        }
    };
    // Destructured so that a new gateway setting cannot be left out of the notes.
    let crate::model::Gateway {
        default_authenticated,
        dry_run,
        max_body_bytes,
        token_sources,
        routes: _,
        override_headers,
        host_override_headers,
        refuse_path_semicolons,
        refuse_cross_site_cookies,
    } = old;
    changed(
        "`default`",
        *default_authenticated != new.default_authenticated,
    );
    changed("`mode`", *dry_run != new.dry_run);
    changed("`max_body_bytes`", *max_body_bytes != new.max_body_bytes);
    changed("`token_sources`", *token_sources != new.token_sources);
    changed(
        "`override_headers`",
        *override_headers != new.override_headers,
    );
    changed(
        "`host_override_headers`",
        *host_override_headers != new.host_override_headers,
    );
    changed(
        "`path_semicolons`",
        *refuse_path_semicolons != new.refuse_path_semicolons,
    );
    changed(
        "`cross_site_cookies`",
        *refuse_cross_site_cookies != new.refuse_cross_site_cookies,
    );
    notes
}

/// What changed in a tenant that only token requests read.
pub(super) fn token_notes(o: &Analysis<'_>, n: &Analysis<'_>) -> Vec<Phrase> {
    let provider = |name: &str, what: &str| {
        Phrase::new()
            .word("identity provider ")
            .quoted(name)
            .word(what)
    };
    let (a, b) = (&o.tenant.config, &n.tenant.config);
    let mut notes = Vec::new();
    let mut changed = |what: &str, differs: bool| {
        if differs {
            notes.push(Phrase::new().word(what).word(" changed"));
        }
    };
    changed("`hosts`", a.hosts != b.hosts);
    changed("`issuer`", a.issuer != b.issuer);
    changed("control-plane keys", a.keys != b.keys);
    changed("`audiences`", a.audiences != b.audiences);
    changed(
        "`clock_skew_seconds`",
        a.clock_skew_seconds != b.clock_skew_seconds,
    );
    let added = b
        .revoked_token_ids
        .iter()
        .filter(|j| !a.revoked_token_ids.contains(j))
        .count();
    let dropped = a
        .revoked_token_ids
        .iter()
        .filter(|j| !b.revoked_token_ids.contains(j))
        .count();
    if added + dropped > 0 {
        notes.push(Phrase::new().word(&format!(
            "revoked token ids: {added} added, {dropped} removed"
        )));
    }
    for p in &a.identity_providers {
        match b.identity_providers.iter().find(|x| x.name == p.name) {
            None => notes.push(provider(&p.name, " removed")),
            Some(x) if x != p => notes.push(provider(&p.name, " changed")),
            Some(_) => {}
        }
    }
    for p in &b.identity_providers {
        if !a.identity_providers.iter().any(|x| x.name == p.name) {
            notes.push(provider(&p.name, " added"));
        }
    }
    let mappings = |x: &Analysis<'_>| -> BTreeSet<(String, String, String)> {
        let providers = &x.tenant.config.identity_providers;
        x.tables
            .mappings
            .iter()
            .map(|m| {
                let idp = providers.get(m.idp().0 as usize);
                let target = m.target.get();
                let target = match idp.map(|p| &p.resolve_to) {
                    Some(crate::model::ResolveTo::VirtualAccount { .. }) => x
                        .tables
                        .virtual_accounts
                        .get(target as usize)
                        .map(|v| format!("virtualaccount:{}", x.tables.str(v.name))),
                    Some(crate::model::ResolveTo::User { .. }) | None => x
                        .tables
                        .teams
                        .get(target as usize)
                        .map(|t| format!("team:{}", x.tables.str(t.name))),
                };
                (
                    idp.map_or_else(|| "?".to_owned(), |p| p.name.clone()),
                    x.tables.str(m.value).to_owned(),
                    target.unwrap_or_else(|| "?".to_owned()),
                )
            })
            .collect()
    };
    let (ma, mb) = (mappings(o), mappings(n));
    for (what, list) in [
        ("added", mb.difference(&ma)),
        ("removed", ma.difference(&mb)),
    ] {
        for (idp, value, target) in list {
            notes.push(
                Phrase::new()
                    .word(&format!("identity-provider mapping {what}: "))
                    .name(idp)
                    .word(" ")
                    .quoted(value)
                    .word(" -> ")
                    .name(target),
            );
        }
    }
    let rotation = |x: &Analysis<'_>| -> BTreeSet<(String, Option<i64>)> {
        x.tables
            .virtual_accounts
            .iter()
            .map(|v| (x.tables.str(v.name).to_owned(), v.tokens_valid_after()))
            .collect()
    };
    let (ra, rb) = (rotation(o), rotation(n));
    for (name, after) in rb.difference(&ra) {
        if ra.iter().any(|(x, _)| x == name) {
            notes.push(
                Phrase::new()
                    .name(&format!("virtualaccount:{name}"))
                    .word(&format!(" tokens_valid_after -> {}", time(*after))),
            );
        }
    }
    notes
}
