//! Issues one API key for a benchmark or a demo, without the `gatehouse credentials` tool: the
//! key (the engine's format, from the OS's random source) and a credentials file that lists it.
//!
//! ```text
//! cargo run -p gatehouse-e2e --example api_key -- TENANT PRINCIPAL CREDENTIALS_OUT KEY_OUT [SCOPE...]
//! ```
//!
//! CREDENTIALS_OUT is `<dir>/<tenant>.credentials.json` for `gatehouse compile`; KEY_OUT gets the
//! key text (mode 0600), which nothing else keeps.

#![expect(
    clippy::panic,
    reason = "a tool for scripts: a failure stops it, with a message"
)]

use std::io::Write as _;
use std::os::unix::fs::OpenOptionsExt as _;

use gatehouse_e2e::credentials::{credentials_file, issue_key, key_entry};
use serde_json::json;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [tenant, principal, credentials_out, key_out, scopes @ ..] = args.as_slice() else {
        panic!("usage: api_key TENANT PRINCIPAL CREDENTIALS_OUT KEY_OUT [SCOPE...]");
    };
    let key = issue_key();
    let scopes: Vec<&str> = scopes.iter().map(String::as_str).collect();
    let file = credentials_file(tenant, vec![key_entry(&key, principal, &scopes, json!({}))]);
    std::fs::write(credentials_out, file)
        .unwrap_or_else(|e| panic!("writing {credentials_out}: {e}"));
    let mut out = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(true)
        .mode(0o600)
        .open(key_out)
        .unwrap_or_else(|e| panic!("creating {key_out}: {e}"));
    writeln!(out, "{}", key.key).unwrap_or_else(|e| panic!("writing {key_out}: {e}"));
    eprintln!("API key {} for {principal} of tenant {tenant}", key.id);
}
