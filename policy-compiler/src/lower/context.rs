//! The lowering context: one tenant file's source and diagnostics, shared by every concern.
//! Each concern adds its method in its own file (`impl Lowering` in `users.rs`, `teams.rs` ...)
//! and is handed the tables it depends on, so the order in [`super::lower_tenant`] is the
//! order the compiler checks.

use std::collections::BTreeMap;
use std::path::Path;

use crate::compile::Files;
use crate::diagnostics::FileDiagnostics;
use crate::source::{DirectoryFile, ProvisioningSpec, SpannedString, TenantFile};

/// One tenant file while it is lowered.
pub(super) struct Lowering<'s, 'd> {
    pub(super) d: FileDiagnostics<'d>,
    /// The tenant's directory file and its diagnostics, if it has one.
    pub(super) directory: Option<(FileDiagnostics<'d>, &'s DirectoryFile)>,
    /// `jwks_file:` paths are relative to this directory.
    pub(super) base_dir: &'s Path,
    pub(super) files: Files<'s>,
    pub(super) spec: &'s TenantFile,
    /// Diagnostics of the run before this file's: the file lowered cleanly if none were added.
    before: usize,
}

impl<'s, 'd> Lowering<'s, 'd> {
    pub(super) fn new(
        d: FileDiagnostics<'d>,
        base_dir: &'s Path,
        files: Files<'s>,
        spec: &'s TenantFile,
        directory: Option<(FileDiagnostics<'d>, &'s DirectoryFile)>,
    ) -> Self {
        let before = d.count();
        Lowering {
            d,
            directory,
            base_dir,
            files,
            spec,
            before,
        }
    }

    /// Whether this file (and its directory file, which starts with no diagnostics of its own)
    /// has reported nothing (so far).
    pub(super) fn clean(&self) -> bool {
        self.d.count() == self.before && self.directory.as_ref().is_none_or(|(d, _)| d.count() == 0)
    }

    /// The tenant's provisioning mode (`invite-only` unless the file says otherwise).
    pub(super) fn provisioning(&self) -> ProvisioningSpec {
        self.spec
            .tenant
            .provisioning
            .as_ref()
            .map_or(ProvisioningSpec::default(), |p| **p)
    }
}

/// A name of a tenant, identity provider, team, virtual account or role.
pub(super) fn is_name(s: &str) -> bool {
    !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || c.is_control())
}

/// Sorted and deduplicated, as the IR keeps lists of plain strings.
pub(super) fn strings(list: &[SpannedString]) -> Vec<String> {
    let mut out: Vec<String> = list.iter().map(|s| s.to_string()).collect();
    out.sort();
    out.dedup();
    out
}

/// The id of each name of a table sorted by name: its index there.
pub(super) fn ids_by_name<T, I>(
    table: &BTreeMap<String, T>,
    id: fn(u32) -> I,
) -> BTreeMap<String, I> {
    table
        .keys()
        .enumerate()
        .map(|(i, name)| (name.clone(), id(i as u32)))
        .collect()
}
