//! `gatehouse test`: policy tests in the style of `opa test`, for CI (SPEC 5.1).
//!
//! A test file (YAML or JSON, docs/analysis.md) holds request cases, each decided by
//! [`check`](crate::check::check) exactly as `gatehouse check` decides it and compared field by
//! field with the `check --json` object ([`mismatches`]), and access cases, each answered by the engine's
//! [`who_can`](gatehouse_engine::analysis::Analysis::who_can). [`load`] reads and validates every
//! file before anything runs (a bad file is an error, exit 1); [`run`] decides every case and
//! gives a [`Report`] that renders as text, JSON or JUnit XML.
//!
//! What depends on the policy under test is a result, never an error: a case whose subject,
//! resource or action the bundle does not have fails (exit 2) and says so, so that a policy change
//! which removes something the tests name shows up in the CI report beside the other failures.
//!
//! Case names, subjects and the policy's names are shown escaped for where they go (SPEC 5.2):
//! through [`for_terminal`](gatehouse_engine::escape::for_terminal) in the text report, the errors and the JUnit XML (a CI system shows
//! a failure message as it is), as they are in the JSON report.
//!
//! One module per step: `schema` (serde types that mirror the file exactly), `load` (reading and
//! validating), `run` (deciding every case), `report` (text, JSON, JUnit XML).

mod load;
mod report;
mod run;
mod schema;

pub use load::{load, yaml_to_json, LoadError, TestFile};
pub use report::{CaseResult, FileReport, Report};
pub use run::{mismatches, run, CaseError, RunError, RunOptions};
#[cfg(feature = "schema")]
pub use schema::json_schema;
