//! The native module against the Envoy the project runs: the ABI it was built for is the one
//! Envoy speaks, every Envoy callback it calls is one Envoy exports, and it loads without the
//! version warning. Whatever `GATEHOUSE_FILTER` says: these are facts about the module.
//!
//! Envoy resolves a module's hooks and callbacks by name only and merely warns on another ABI
//! version, so a module built for another Envoy could load and then call a function whose
//! signature has changed. These checks turn that into a clear failure here instead.

#![expect(clippy::panic, reason = "test code: a panic is a test failure")]

use std::process::Command;

use gatehouse_deploy::envoy::Build;
use gatehouse_e2e::{envoy_bin, native_module, repo_root, run_ok, Envoy, EnvoyOptions};

/// What Envoy logs when a module reports its own ABI version (`dynamic_modules.cc`).
const MATCHED: &str = "Dynamic module ABI version";

/// The Envoy executable (the PyPI package's `envoy` is a wrapper script around `_bin/envoy`).
fn envoy_executable() -> std::path::PathBuf {
    let bin = envoy_bin();
    let text = std::fs::read(&bin).unwrap_or_default();
    if !text.starts_with(b"#!") {
        return bin;
    }
    // The wrapper's package: <venv>/lib/python3.X/site-packages/envoy/_bin/envoy.
    let venv = bin
        .parent()
        .and_then(|p| p.parent())
        .unwrap_or_else(|| panic!("no venv above {}", bin.display()));
    let lib = venv.join("lib");
    std::fs::read_dir(&lib)
        .unwrap_or_else(|e| panic!("{}: {e}", lib.display()))
        .filter_map(Result::ok)
        .map(|e| e.path().join("site-packages/envoy/_bin/envoy"))
        .find(|p| p.exists())
        .unwrap_or_else(|| panic!("no envoy/_bin/envoy under {}", lib.display()))
}

/// `nm -D` of `path`: the dynamic symbols, defined (`true`) or undefined.
fn dynamic_symbols(path: &std::path::Path, defined: bool) -> Vec<String> {
    let flag = if defined {
        "--defined-only"
    } else {
        "--undefined-only"
    };
    let out = run_ok(
        Command::new("nm").args(["-D", flag]).arg(path),
        &format!("nm -D {flag} {}", path.display()),
    );
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| l.split_whitespace().last())
        .map(str::to_owned)
        .collect()
}

#[test]
fn every_envoy_callback_the_module_calls_is_one_envoy_exports() {
    let module = native_module();
    let envoy = envoy_executable();
    let imported: Vec<String> = dynamic_symbols(module, false)
        .into_iter()
        .filter(|s| s.starts_with("envoy_dynamic_module_callback_"))
        .collect();
    assert!(
        imported.len() >= 10,
        "{} imports only {imported:?}",
        module.display()
    );
    let exported = dynamic_symbols(&envoy, true);
    let missing: Vec<&String> = imported.iter().filter(|s| !exported.contains(s)).collect();
    assert!(
        missing.is_empty(),
        "{} calls Envoy callbacks {} does not export: {missing:?} — the module was built for \
         another dynamic-modules ABI than this Envoy's",
        module.display(),
        envoy.display()
    );
    // And it exports every hook Envoy requires of an HTTP filter module.
    let hooks = dynamic_symbols(module, true);
    for hook in [
        "envoy_dynamic_module_on_program_init",
        "envoy_dynamic_module_on_http_filter_config_new",
        "envoy_dynamic_module_on_http_filter_config_destroy",
        "envoy_dynamic_module_on_http_filter_new",
        "envoy_dynamic_module_on_http_filter_destroy",
        "envoy_dynamic_module_on_http_filter_stream_complete",
        "envoy_dynamic_module_on_http_filter_request_headers",
        "envoy_dynamic_module_on_http_filter_request_body",
        "envoy_dynamic_module_on_http_filter_request_trailers",
        "envoy_dynamic_module_on_http_filter_response_headers",
        "envoy_dynamic_module_on_http_filter_response_body",
        "envoy_dynamic_module_on_http_filter_response_trailers",
        "envoy_dynamic_module_on_http_filter_http_callout_done",
        "envoy_dynamic_module_on_http_filter_http_stream_headers",
        "envoy_dynamic_module_on_http_filter_http_stream_data",
        "envoy_dynamic_module_on_http_filter_http_stream_trailers",
        "envoy_dynamic_module_on_http_filter_http_stream_complete",
        "envoy_dynamic_module_on_http_filter_http_stream_reset",
        "envoy_dynamic_module_on_http_filter_scheduled",
        "envoy_dynamic_module_on_http_filter_downstream_above_write_buffer_high_watermark",
        "envoy_dynamic_module_on_http_filter_downstream_below_write_buffer_low_watermark",
    ] {
        assert!(
            hooks.iter().any(|h| h == hook),
            "{} does not export {hook}",
            module.display()
        );
    }
}

/// The ABI version the module reports to Envoy, as its bindings define it
/// (`module/src/ffi/sys.rs`, `ABI_VERSION`, NUL-terminated there).
fn module_abi_version() -> String {
    let sys = repo_root().join("module/src/ffi/sys.rs");
    let text = std::fs::read_to_string(&sys).unwrap_or_else(|e| panic!("{}: {e}", sys.display()));
    text.lines()
        .find_map(|l| l.strip_prefix("pub const ABI_VERSION: &str = \""))
        .and_then(|rest| rest.split_once("\\0\""))
        .map(|(version, _)| version.to_owned())
        .unwrap_or_else(|| panic!("no ABI_VERSION in {}", sys.display()))
}

#[test]
fn the_module_reports_the_abi_version_of_this_envoy() {
    let abi_version = module_abi_version();
    let abi_version = abi_version.as_str();
    // The version string is compiled into Envoy: it must be the one the module reports.
    let envoy = std::fs::read(envoy_executable()).expect("reading the Envoy executable");
    let wanted = format!("\0{abi_version}\0");
    assert!(
        envoy.windows(wanted.len()).any(|w| w == wanted.as_bytes()),
        "this Envoy does not carry the ABI version string {abi_version:?} the module was built \
         for: rebuild the bindings (module/src/ffi/sys.rs) from the abi.h of this Envoy's release"
    );

    // And Envoy says so when it loads the module, rather than warning of a mismatch.
    let options = EnvoyOptions {
        build: Some(Build::Native),
        ..EnvoyOptions::default()
    };
    let bundle = gatehouse_e2e::fixture_bundle("1", str::to_owned, str::to_owned);
    let envoy = Envoy::start("abi-version", &bundle, options);
    let log = envoy.log();
    let line = log
        .lines()
        .find(|l| l.contains(MATCHED))
        .unwrap_or_else(|| panic!("Envoy logged no ABI version check:\n{log}"));
    assert!(
        line.contains(&format!("{MATCHED} {abi_version} matched")),
        "Envoy does not accept the module's ABI version {abi_version} as its own: {line}"
    );
}
