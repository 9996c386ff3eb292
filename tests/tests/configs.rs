//! Every Envoy configuration we ship passes `envoy --mode validate`; a generated one (from
//! `gatehouse envoy-config`) too; and the generated one actually serves.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_compiler::cli::{envoy_config, EnvoyConfigArgs};
use gatehouse_e2e::{envoy_bin, fixture_bundle, repo_root, scratch, wasm};

/// `x_gatehouse_subject` is `x-gatehouse-subject` to CGI-style upstreams: every configuration
/// Gatehouse writes refuses header names with `_` (SPEC 3.3).
const UNDERSCORES_REJECTED: &str =
    "common_http_protocol_options:\n            headers_with_underscores_action: REJECT_REQUEST";

#[expect(
    clippy::expect_used,
    reason = "test helper: failing to run Envoy fails the test"
)]
fn validate(config: &Path, cwd: &Path) {
    let out = Command::new(envoy_bin())
        .current_dir(cwd)
        .args(["--mode", "validate", "-c"])
        .arg(config)
        .output()
        .expect("running envoy --mode validate");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        out.status.success() && text.contains("' OK"),
        "{} does not validate:\n{text}",
        config.display()
    );
}

#[test]
fn every_file_in_envoy_dir_is_checked() {
    let dir = repo_root().join("envoy");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).unwrap() {
        let path = entry.unwrap().path();
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&path).unwrap();
        match name.as_str() {
            "README.md" => {}
            "envoy.yaml" => {
                assert!(text.contains(UNDERSCORES_REJECTED));
                // Relative paths: validate from a directory holding the ECDS file it watches,
                // written by the script the README tells operators to use.
                let cwd = scratch("validate");
                let bundle = cwd.join("e2e.bundle");
                std::fs::write(&bundle, fixture_bundle("1", str::to_owned, str::to_owned)).unwrap();
                let out = Command::new("bash")
                    .current_dir(&cwd)
                    .arg(repo_root().join("scripts/push-bundle.sh"))
                    .arg(&bundle)
                    .arg("--wasm")
                    .arg(wasm())
                    .output()
                    .unwrap();
                assert!(
                    out.status.success(),
                    "{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                validate(&path, &cwd);
                let _ = std::fs::remove_dir_all(&cwd);
            }
            "istio-wasmplugin.yaml" => {
                // Not an Envoy bootstrap (a Kubernetes resource): check its shape instead.
                assert!(text.contains("kind: WasmPlugin"));
                assert!(text.contains("failStrategy: FAIL_CLOSE"));
                let bundle = text
                    .lines()
                    .find_map(|l| l.trim().strip_prefix("bundle: "))
                    .expect("pluginConfig.bundle");
                let bytes = STANDARD
                    .decode(bundle.trim_matches('"'))
                    .expect("base64 bundle");
                assert!(bytes.starts_with(&gatehouse_engine::bundle::MAGIC));
            }
            other => panic!("envoy/{other}: add a check for it to tests/tests/configs.rs"),
        }
        seen += 1;
    }
    assert!(seen >= 2);
}

#[test]
fn generated_static_configs_validate() {
    let dir = scratch("envoy-config");
    let bundle = dir.join("e2e.bundle");
    std::fs::write(&bundle, fixture_bundle("1", str::to_owned, str::to_owned)).unwrap();
    for upstream in [None, Some("127.0.0.1:8080".to_owned())] {
        let yaml = envoy_config(&EnvoyConfigArgs {
            bundle: bundle.clone(),
            wasm: wasm().to_path_buf(),
            listen: "127.0.0.1:10000".into(),
            upstream,
            admin: "127.0.0.1:9901".into(),
            trusted_keys: Vec::new(),
        })
        .unwrap();
        assert!(yaml.contains("allow_on_headers_stop_iteration: true"));
        assert!(yaml.contains("failure_policy: FAIL_CLOSED"));
        assert!(yaml.contains(UNDERSCORES_REJECTED), "{yaml}");
        let path = dir.join("static.yaml");
        std::fs::write(&path, yaml).unwrap();
        validate(&path, &dir);
    }
    let _ = std::fs::remove_dir_all(&dir);
}
