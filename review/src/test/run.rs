//! Running test files: every case decided, request cases by `gatehouse check`'s own code,
//! access cases by who-can.

use std::fmt::Write as _;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use gatehouse_deploy::keys::{self, KeyError};
use gatehouse_engine::analysis::AnalysisError;
use gatehouse_engine::escape::for_terminal;
use gatehouse_engine::Engine;
use serde_json::{json, Map, Value};

use super::load::{AccessCase, Case, CaseKind, TestFile};
use super::report::{CaseResult, FileReport, Report};
use crate::check::{self, CheckError};
use crate::clock;

/// A case that cannot be run at all (exit 1), with the file and case it is in.
#[derive(Debug, thiserror::Error)]
#[error("{}: case `{case}`", file.display())]
pub struct RunError {
    pub file: PathBuf,
    pub case: String,
    #[source]
    pub source: CaseError,
}

/// A question the bundle cannot be asked: a tenant to choose among several, a token that cannot
/// be signed.
#[derive(Debug, thiserror::Error)]
pub enum CaseError {
    #[error(
        "the bundle has several tenants ({0}): say which with `tenant:` in the file or --tenant"
    )]
    SeveralTenants(String),
    #[error("{0}")]
    Analysis(Box<AnalysisError>),
    #[error("minting the token: {0}")]
    Mint(KeyError),
    #[error(transparent)]
    Check(#[from] CheckError),
}

/// What `gatehouse test` was asked besides the files.
#[derive(Debug, Clone, Default)]
pub struct RunOptions {
    /// `--tenant`: the tenant of files that name none.
    pub tenant: Option<String>,
    /// `--now`: the clock of cases and files that give none (else the current time).
    pub now: Option<i64>,
}

/// Decides every case of `files` with `engine`. An error (exit 1) is a question the bundle
/// cannot be asked at all: a tenant to choose among several, a token that cannot be signed.
pub fn run(engine: &Engine, files: &[TestFile], options: &RunOptions) -> Result<Report, RunError> {
    let mut report = Report { files: Vec::new() };
    for file in files {
        let started = Instant::now();
        let mut results = Vec::with_capacity(file.cases.len());
        for case in &file.cases {
            let started = Instant::now();
            let mut result = run_case(engine, file, case, options).map_err(|source| RunError {
                file: file.path.clone(),
                case: case.name.clone(),
                source,
            })?;
            result.time = started.elapsed();
            results.push(result);
        }
        report.files.push(FileReport {
            path: file.path.clone(),
            results,
            time: started.elapsed(),
        });
    }
    Ok(report)
}

fn run_case(
    engine: &Engine,
    file: &TestFile,
    case: &Case,
    options: &RunOptions,
) -> Result<CaseResult, CaseError> {
    let tenant = file.tenant.as_deref().or(options.tenant.as_deref());
    let mut result = CaseResult {
        name: case.name.clone(),
        note: case.note.clone(),
        kind: "request",
        line: case.line,
        failures: Vec::new(),
        details: String::new(),
        got: None,
        time: Duration::ZERO,
    };
    let clock = |now: Option<i64>| now.or(options.now).unwrap_or_else(clock::now);
    match &case.kind {
        CaseKind::Request(spec) => {
            let now = clock(spec.now);
            let mut request = spec.request.clone();
            // Without a host, that of the named tenant; `check` takes a lone tenant's.
            if let (None, Some(_)) = (&request.host, tenant) {
                request.host = Some(check::host_of(analysis_tenant(engine, tenant)?));
            }
            if let Some((claims, key, ttl)) = &spec.mint {
                let config = &analysis_tenant(engine, tenant)?.config;
                let claims = default_claims(claims, &config.issuer, &config.name);
                request.token = Some(keys::mint(key, claims, now, *ttl).map_err(CaseError::Mint)?);
            }
            let checked = check::check(engine, &request, now)?;
            let got = check::checked_json(&checked);
            result.failures = mismatches(&spec.expect, &got);
            result.details = check::render_checked(&checked, false);
            result.got = Some(got);
        }
        CaseKind::Access(spec) => {
            result.kind = "access";
            let now = clock(spec.now);
            match access(engine, tenant, spec, now) {
                Ok((failures, details)) => {
                    result.failures = failures;
                    result.details = details;
                }
                Err(AnalysisError::SeveralTenants(names)) => {
                    return Err(CaseError::SeveralTenants(names))
                }
                Err(e) => result.failures = vec![e.to_string()],
            }
        }
    }
    Ok(result)
}

/// The tenant of minted tokens: the named one, else the bundle's only one.
fn analysis_tenant<'e>(
    engine: &'e Engine,
    tenant: Option<&str>,
) -> Result<&'e gatehouse_engine::bundle::LoadedTenant, CaseError> {
    engine
        .analysis(tenant)
        .map(|a| a.tenant())
        .map_err(|e| match e {
            AnalysisError::SeveralTenants(names) => CaseError::SeveralTenants(names),
            e => CaseError::Analysis(Box::new(e)),
        })
}

/// A case's claims with the tenant's defaults: `iss` the tenant's control-plane issuer and, for
/// a token of that issuer, `tenant` the tenant's name ([`keys::mint`] adds `iat` and `exp`).
fn default_claims(claims: &Map<String, Value>, issuer: &str, tenant: &str) -> Map<String, Value> {
    let mut out = claims.clone();
    out.entry("iss").or_insert_with(|| json!(issuer));
    if out.get("iss").and_then(Value::as_str) == Some(issuer) {
        out.entry("tenant").or_insert_with(|| json!(tenant));
    }
    out
}

/// The failures of an access case and the who-can answer as lines.
fn access(
    engine: &Engine,
    tenant: Option<&str>,
    spec: &AccessCase,
    now: i64,
) -> Result<(Vec<String>, String), AnalysisError> {
    let analysis = engine.analysis(tenant)?;
    let resource = analysis.resource(&spec.resource)?;
    let action = analysis.action(resource, &spec.action)?;
    let who = analysis.who_can(resource, action, now);
    let mut failures = Vec::new();
    for subject in &spec.include {
        let principal = analysis.principal(subject)?;
        if !who.allowed.iter().any(|(p, _)| *p == principal) {
            let why = who
                .blocked
                .iter()
                .find(|(p, _)| *p == principal)
                .map_or_else(
                    || "holds no grant that allows it".to_owned(),
                    |(_, reason)| format!("blocked: {}", reason.code()),
                );
            failures.push(format!(
                "include: expected `{subject}` to be allowed, got not allowed ({why})"
            ));
        }
    }
    for subject in &spec.exclude {
        let principal = analysis.principal(subject)?;
        if let Some((_, grant)) = who.allowed.iter().find(|(p, _)| *p == principal) {
            failures.push(format!(
                "exclude: expected `{subject}` not to be allowed, got allowed by {}",
                analysis.grant_text(grant)
            ));
        }
    }
    let mut details = format!(
        "who can {} {}:\n",
        for_terminal(analysis.action_name(action)),
        for_terminal(&analysis.resource_key(resource))
    );
    for (principal, grant) in &who.allowed {
        let _ = writeln!(
            details,
            "  allowed  {:<36} {}",
            for_terminal(&analysis.principal_name(*principal)),
            for_terminal(&analysis.grant_text(grant))
        );
    }
    for (principal, reason) in &who.blocked {
        let _ = writeln!(
            details,
            "  blocked  {:<36} {}",
            for_terminal(&analysis.principal_name(*principal)),
            reason.code()
        );
    }
    if who.allowed.is_empty() && who.blocked.is_empty() {
        details.push_str("  (nobody)\n");
    }
    Ok((failures, details))
}

/// The expected fields that `actual` gets wrong, as `field: expected X, got Y` (a field missing
/// from `actual` is `null`).
pub fn mismatches(expect: &Map<String, Value>, actual: &Value) -> Vec<String> {
    expect
        .iter()
        .filter_map(|(k, want)| {
            let got = actual.get(k).unwrap_or(&Value::Null);
            (got != want).then(|| format!("{k}: expected {want}, got {got}"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mismatches_treat_missing_as_null() {
        let expect = json!({"reason": null, "status": 200});
        let Value::Object(expect) = expect else {
            unreachable!()
        };
        assert!(mismatches(&expect, &json!({"status": 200})).is_empty());
        assert_eq!(
            mismatches(&expect, &json!({"status": 403, "reason": "no_grant"})),
            vec![
                "reason: expected null, got \"no_grant\"".to_owned(),
                "status: expected 200, got 403".to_owned()
            ]
        );
    }

    #[test]
    fn claims_default_to_the_tenant() {
        let claims = |v: Value| v.as_object().cloned().unwrap();
        let cp = default_claims(&claims(json!({"sub": "user:a"})), "https://cp", "acme");
        assert_eq!(
            Value::Object(cp),
            json!({"sub": "user:a", "iss": "https://cp", "tenant": "acme"})
        );
        let idp = default_claims(
            &claims(json!({"iss": "https://idp", "sub": "x"})),
            "https://cp",
            "acme",
        );
        assert_eq!(
            Value::Object(idp),
            json!({"iss": "https://idp", "sub": "x"})
        );
    }
}
