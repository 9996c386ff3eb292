//! Key sets of the tenant and its identity providers: `jwks_file` or inline `jwks`.

use std::path::{Path, PathBuf};

use gatehouse_engine::model::Jwk;
use marked_yaml::Spanned;

use crate::compile::Files;
use crate::diagnostics::{Code, FileDiagnostics};
use crate::source::SpannedString;

/// Reads the key set of the `what` (`tenant`, `identity provider`) `name` from `jwks_file`
/// (relative to `base_dir`, read from `files`) or inline `jwks`.
pub(super) fn keys(
    d: &mut FileDiagnostics<'_>,
    base_dir: &Path,
    files: Files<'_>,
    what: &str,
    name: &SpannedString,
    file: Option<&SpannedString>,
    inline: Option<&Spanned<serde_json::Value>>,
) -> Vec<Jwk> {
    let owner = format!("{what} `{}`", name.as_str());
    let owner_span = name.span();
    let parsed = match (file, inline) {
        (Some(_), Some(inline)) => {
            d.error(
                inline.span(),
                Code::Conflict,
                format!("{owner} takes `jwks_file` or `jwks`, not both"),
            );
            return Vec::new();
        }
        (None, None) => {
            d.error(
                owner_span,
                Code::Missing,
                format!("{owner} needs `jwks_file` or `jwks`"),
            );
            return Vec::new();
        }
        (Some(file), None) => {
            let path: PathBuf = base_dir.join(file.as_str());
            match files.read(&path) {
                Err(err) => Err((
                    file.span(),
                    format!("cannot read JWKS file `{}`: {err}", path.display()),
                )),
                Ok(text) => gatehouse_engine::jwt::parse_jwks(&text).map_err(|err| {
                    (
                        file.span(),
                        format!("invalid JWK Set in `{}`: {err}", file.as_str()),
                    )
                }),
            }
        }
        (None, Some(inline)) => {
            let text = serde_json::to_string(&**inline).unwrap_or_default();
            gatehouse_engine::jwt::parse_jwks(&text)
                .map_err(|err| (inline.span(), format!("invalid inline `jwks`: {err}")))
        }
    };
    match parsed {
        Ok(keys) if keys.is_empty() => {
            let span = file
                .map(|f| *f.span())
                .or(inline.map(|i| *i.span()))
                .unwrap_or(*owner_span);
            d.error(
                &span,
                Code::Keys,
                format!("the JWK Set of {owner} has no keys"),
            );
            Vec::new()
        }
        Ok(keys) => keys,
        Err((span, message)) => {
            d.error(span, Code::Keys, message);
            Vec::new()
        }
    }
}

#[cfg(test)]
mod tests {
    use crate::compile::CompileError;

    use super::super::test_support::JWKS;

    #[test]
    fn jwks_file_relative_to_tenant_file_and_compile_paths() {
        let dir = std::env::temp_dir().join(format!("gatehouse-lower-{}", std::process::id()));
        std::fs::create_dir_all(dir.join("keys")).unwrap();
        std::fs::write(dir.join("keys/cp.jwks.json"), JWKS).unwrap();
        std::fs::write(dir.join("keys/notes.txt"), "not a tenant").unwrap();
        std::fs::write(
            dir.join("acme.yaml"),
            "tenant: {name: acme, issuer: i, jwks_file: keys/cp.jwks.json}\n",
        )
        .unwrap();
        std::fs::write(dir.join("README.md"), "ignored").unwrap();
        let policy = crate::compile::compile_paths(&crate::compile::CompileOptions {
            gateway: None,
            inputs: vec![dir.clone()],
            revision: None,
            serial: 1,
        })
        .unwrap();
        assert_eq!(policy.tenants[0].keys.len(), 1);
        std::fs::write(
            dir.join("acme.yaml"),
            "tenant: {name: acme, issuer: i, jwks_file: keys/missing.json}\n",
        )
        .unwrap();
        let err = crate::compile::compile_paths(&crate::compile::CompileOptions {
            gateway: None,
            inputs: vec![dir.join("acme.yaml")],
            revision: None,
            serial: 1,
        })
        .unwrap_err();
        let CompileError::Invalid(d) = err else {
            panic!()
        };
        assert_eq!((d[0].line, d[0].column), (1, 44));
        assert!(
            d[0].message.starts_with("cannot read JWKS file"),
            "{}",
            d[0]
        );
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn jwks_file_from_memory_relative_to_the_tenant_name() {
        use crate::compile::{compile_sources, Files, Sources};
        use std::path::Path;
        let tenant = "tenant: {name: acme, issuer: i, jwks_file: keys/cp.jwks.json}\n";
        let files = [(Path::new("./acme/keys/cp.jwks.json"), JWKS)];
        let policy = compile_sources(&Sources {
            gateway: None,
            tenants: &[(Path::new("acme/tenant.yaml"), tenant)],
            files: Files::Memory(&files),
            revision: None,
            serial: 1,
        })
        .unwrap();
        assert_eq!(policy.tenants[0].keys.len(), 1);
        // Not on disk either: only the files given count.
        let err = compile_sources(&Sources {
            gateway: None,
            tenants: &[(Path::new("tenant.yaml"), tenant)],
            files: Files::Memory(&files),
            revision: None,
            serial: 1,
        })
        .unwrap_err();
        let CompileError::Invalid(d) = err else {
            panic!()
        };
        assert_eq!(
            d[0].message,
            "cannot read JWKS file `keys/cp.jwks.json`: no such file among the sources"
        );
    }
}
