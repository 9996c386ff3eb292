//! Name tables: the one place that says "duplicate `x` (first defined at line n)".

use std::collections::BTreeMap;
use std::path::Path;

use marked_yaml::Span;

use super::context::is_name;
use crate::diagnostics::{Code, FileDiagnostics, Place};
use crate::source::SpannedString;

/// The names defined so far in one scope (the users of a tenant, the tenants of a bundle ...)
/// and where each was first defined. Every definition goes through [`Names::define`], so a
/// name defined twice, or a built-in one defined at all, is reported the same way everywhere.
pub(super) struct Names<'a> {
    /// `user`, `role binding` ...: named in the messages.
    what: &'static str,
    first: BTreeMap<String, First<'a>>,
}

/// Where a name was first defined.
enum First<'a> {
    /// In the built-in catalog: defining it at all is the error.
    BuiltIn,
    /// A place in the file being lowered.
    Line(Place),
    /// A place in another file of the bundle.
    File(&'a Path, Place),
}

impl<'a> Names<'a> {
    pub(super) fn new(what: &'static str) -> Self {
        Names {
            what,
            first: BTreeMap::new(),
        }
    }

    /// Claims `name` for the built-in catalog.
    pub(super) fn built_in(&mut self, name: &str) {
        self.first.insert(name.to_string(), First::BuiltIn);
    }

    /// Defines `name` at `span` of the file being lowered. `false` (and an error at `span`)
    /// when `name` is built in or already defined: the caller skips the definition.
    pub(super) fn define(&mut self, d: &mut FileDiagnostics<'_>, name: &str, span: &Span) -> bool {
        self.define_at(d, name, span, First::Line(Place::of(span)))
    }

    /// [`Names::define`] for a name as the file writes it: one that is empty or has spaces or
    /// control characters is reported as invalid first. (Built-in names are valid, so which
    /// check comes first changes no message.)
    pub(super) fn define_name(
        &mut self,
        d: &mut FileDiagnostics<'_>,
        name: &SpannedString,
    ) -> bool {
        if !is_name(name) {
            d.error(
                name.span(),
                Code::Invalid,
                format!("invalid {} name `{}`", self.what, name.as_str()),
            );
            return false;
        }
        self.define(d, name, name.span())
    }

    /// [`Names::define`] across the files of a bundle: a duplicate is reported with the file
    /// that defined `name` first.
    pub(super) fn define_in(
        &mut self,
        d: &mut FileDiagnostics<'_>,
        file: &'a Path,
        name: &str,
        span: &Span,
    ) -> bool {
        self.define_at(d, name, span, First::File(file, Place::of(span)))
    }

    fn define_at(
        &mut self,
        d: &mut FileDiagnostics<'_>,
        name: &str,
        span: &Span,
        site: First<'a>,
    ) -> bool {
        let what = self.what;
        match self.first.get(name) {
            None => {
                self.first.insert(name.to_string(), site);
                true
            }
            Some(First::BuiltIn) => {
                d.error(
                    span,
                    Code::Duplicate,
                    format!("{what} `{name}` is built in"),
                );
                false
            }
            Some(First::Line(first)) => {
                let first = *first;
                d.report(
                    span,
                    Code::Duplicate,
                    format!(
                        "duplicate {what} `{name}` (first defined at line {})",
                        first.line
                    ),
                )
                .label_in(None, first, format!("`{name}` first defined here"));
                false
            }
            Some(First::File(file, first)) => {
                let (file, first) = (*file, *first);
                d.report(
                    span,
                    Code::Duplicate,
                    format!(
                        "duplicate {what} `{name}` (first defined at {}:{})",
                        file.display(),
                        first.line
                    ),
                )
                .label_in(
                    Some(file),
                    first,
                    format!("`{name}` first defined here"),
                );
                false
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_support::{errors, minimal};

    #[test]
    fn duplicates() {
        let errs = errors(&minimal(
            r#"identity_providers:
  - {name: p, issuer: i1, jwks: {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}, resolve_to: user}
  - {name: p, issuer: i2, jwks: {"keys": [{"kty": "OKP", "crv": "Ed25519", "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"}]}, resolve_to: user}
teams: [{name: t}, {name: t}, {name: everyone}]
virtual_accounts: [{name: v}, {name: v}]
roles: [{name: r}, {name: r}, {name: tenant-admin}]
role_bindings: [{name: b}, {name: b}]
resources:
  - {type: agent, name: a}
  - {type: agent, name: a}
  - type: provider-account
    name: p
    models: [{name: m}, {name: m}]
"#,
        ));
        assert_eq!(
            errs,
            [
                "10:27 duplicate role `r` (first defined at line 10)",
                "10:38 role `tenant-admin` is built in",
                "7:12 duplicate identity provider `p` (first defined at line 6)",
                "8:27 duplicate team `t` (first defined at line 8)",
                "8:38 `everyone` is the built-in team of every active user and cannot be defined",
                "9:38 duplicate virtual account `v` (first defined at line 9)",
                "14:25 duplicate resource `agent:a` (first defined at line 13)",
                "17:32 duplicate resource `model:p/m` (first defined at line 17)",
                "11:35 duplicate role binding `b` (first defined at line 11)",
            ]
        );
    }
}
