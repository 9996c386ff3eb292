//! `gatehouse package`: a bundle embedded in gatehouse.wasm, shipped as an OCI image through a
//! real registry, run by a real Envoy whose plugin configuration carries no bundle. The embedded
//! bundle goes through the same checks as a configured one (signature pinning; a corrupt one is
//! refused) and a bundle in the configuration wins over it.

#![expect(
    clippy::unwrap_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use std::path::{Path, PathBuf};
use std::process::Command;

use gatehouse_deploy::package::{self, oci};
use gatehouse_e2e::registry::Registry;
use gatehouse_e2e::{
    fixture_bundle, gatehouse_cli, run_ok, scratch, send, token, wasm, Envoy, EnvoyOptions,
    HttpRequest, HttpResponse,
};
use serde_json::{json, Value};

const CHAT: &str = "/api/llm/v1/chat/completions";
/// `gatehouse package` builds wasm modules: this suite runs the wasm filter whatever
/// `GATEHOUSE_FILTER` says (the packaged module is given explicitly).
const REVISION: &str = "wasmcustom.gatehouse.bundle_revision";
const CONFIG_FAIL: &str = "extension_config_discovery.http_filter.gatehouse.config_fail";

fn chat(token: &str) -> HttpRequest<'static> {
    HttpRequest::new("POST", CHAT)
        .bearer(token)
        .json(&json!({"model": "openai/gpt-4o", "messages": []}))
}

/// `gatehouse package` of `bundle` into gatehouse.wasm, with an OCI layout tagged `v1`.
#[derive(Debug)]
struct Packaged {
    module: PathBuf,
    oci: PathBuf,
    /// What the command printed: the module's SHA-256.
    sha256: String,
}

fn package_bundle(name: &str, bundle: &[u8], extra: &[&str]) -> Packaged {
    let dir = scratch(name);
    let bundle_path = dir.join("policy.bundle");
    std::fs::write(&bundle_path, bundle).unwrap();
    let (module, oci) = (dir.join("policy.wasm"), dir.join("oci"));
    let out = run_ok(
        gatehouse(&[
            "package".as_ref(),
            "--wasm".as_ref(),
            wasm().as_os_str(),
            "--bundle".as_ref(),
            bundle_path.as_os_str(),
            "-o".as_ref(),
            module.as_os_str(),
            "--oci".as_ref(),
            oci.as_os_str(),
            "--tag".as_ref(),
            "v1".as_ref(),
        ])
        .args(extra),
        "gatehouse package",
    );
    Packaged {
        module,
        oci,
        sha256: String::from_utf8(out.stdout).unwrap().trim().to_owned(),
    }
}

fn gatehouse(args: &[&std::ffi::OsStr]) -> Command {
    let mut command = Command::new(gatehouse_cli());
    command.args(args).env_remove("SOURCE_DATE_EPOCH");
    command
}

fn read_json(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

fn blob(layout: &Path, digest: &str) -> Vec<u8> {
    let hex = digest.strip_prefix("sha256:").unwrap();
    std::fs::read(layout.join("blobs/sha256").join(hex)).unwrap()
}

/// The manifest digest and the module of the image `tag` in the layout, found as Istio's
/// fetcher finds it: two layers, the module the one of the wasm layer media type.
fn image(layout: &Path, tag: &str) -> (String, Vec<u8>) {
    let index = read_json(&layout.join("index.json"));
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == tag)
        .unwrap_or_else(|| panic!("no image `{tag}` in {index}"));
    let digest = manifest["digest"].as_str().unwrap().to_owned();
    let manifest: Value = serde_json::from_slice(&blob(layout, &digest)).unwrap();
    assert_eq!(manifest["config"]["mediaType"], oci::CONFIG_MEDIA_TYPE);
    let layers = manifest["layers"].as_array().unwrap();
    assert_eq!(layers.len(), 2, "{manifest}");
    let wasm_layers: Vec<&Value> = layers
        .iter()
        .filter(|l| l["mediaType"] == oci::WASM_LAYER_MEDIA_TYPE)
        .collect();
    assert_eq!(wasm_layers.len(), 1, "{manifest}");
    let module = blob(layout, wasm_layers[0]["digest"].as_str().unwrap());
    (digest, module)
}

#[track_caller]
fn assert_allowed(r: &HttpResponse) {
    assert_eq!(r.status, 200, "body: {}", r.text());
    assert_eq!(
        r.echoed_header("x-gatehouse-tenant").as_deref(),
        Some("e2e")
    );
    assert_eq!(
        r.echoed_header("x-gatehouse-route").as_deref(),
        Some("chat")
    );
}

/// Gatehouse's own denial: the status and reason the engine gave.
#[track_caller]
fn assert_denied(r: &HttpResponse, status: u16, reason: &str) {
    assert_eq!(r.status, status, "body: {}", r.text());
    assert_eq!(r.reason().as_deref(), Some(reason), "body: {}", r.text());
}

/// A filter that failed to configure: nothing is allowed and nothing reaches the upstream.
#[track_caller]
fn assert_nothing_allowed(envoy: &Envoy, what: &str) {
    let carol = token("user:carol@e2e.test", json!({}));
    for _ in 0..5 {
        let status = send(envoy.port, &chat(&carol)).map(|r| r.status).ok();
        assert_ne!(status, Some(200), "{what}: allowed");
    }
    assert_eq!(
        envoy.stat("cluster.upstream.upstream_rq_total"),
        0,
        "{what}"
    );
    assert!(envoy.stat(CONFIG_FAIL) > 0, "{what}: no config_fail");
}

#[test]
fn an_oci_image_pulled_from_a_registry_serves_its_embedded_policy() {
    let bundle = fixture_bundle("7", str::to_owned, str::to_owned);
    let packaged = package_bundle("package-oci", &bundle, &[]);
    let module = std::fs::read(&packaged.module).unwrap();
    assert_eq!(packaged.sha256, package::sha256_hex(&module));
    assert_eq!(package::embedded(&module).unwrap(), Some(bundle.clone()));

    // Deterministic: the same inputs give the same module and the same image.
    let again = package_bundle("package-oci-again", &bundle, &[]);
    assert_eq!(std::fs::read(&again.module).unwrap(), module);
    assert_eq!(again.sha256, packaged.sha256);
    let (manifest_digest, layout_module) = image(&packaged.oci, "v1");
    assert_eq!(image(&again.oci, "v1").0, manifest_digest);
    assert_eq!(layout_module, module);

    // Through a real registry and back.
    let registry = Registry::start();
    let reference = registry.reference("gatehouse/policy", "v1");
    registry.push(&packaged.oci, "v1", &reference);
    let pulled = scratch("package-pulled").join("layout");
    registry.pull(&reference, &pulled, "v1");
    let (pulled_digest, pulled_module) = image(&pulled, "v1");
    assert_eq!(
        pulled_digest, manifest_digest,
        "the registry changed the manifest"
    );
    assert!(pulled_module == module, "the pulled module differs");
    assert_eq!(package::sha256_hex(&pulled_module), packaged.sha256);
    drop(registry);

    // The pulled module, in Envoy, with no bundle in the plugin configuration.
    let module_path = pulled.join("gatehouse-policy.wasm");
    std::fs::write(&module_path, &pulled_module).unwrap();
    let options = EnvoyOptions {
        module: Some(module_path),
        ..EnvoyOptions::default()
    };
    let envoy = Envoy::start("package-oci", &[], options);
    assert_eq!(envoy.stat(REVISION), 7);
    assert!(
        envoy.log().contains("embedded in the module"),
        "the filter did not say it loaded the embedded bundle"
    );
    let carol = token("user:carol@e2e.test", json!({}));
    let dave = token("user:dave@e2e.test", json!({}));
    assert_allowed(&envoy.request(&chat(&carol)));
    assert_denied(&envoy.request(&chat(&dave)), 403, "no_grant");
    assert_denied(
        &envoy.request(&HttpRequest::get("/api/prompts/prompts/summarize")),
        401,
        "token_missing",
    );
    println!(
        "package: {} bytes, sha256 {}, image {manifest_digest} pushed and pulled back \
         byte-identical; Envoy served revision 7 from it (200 allowed, 403 and 401 denied)",
        module.len(),
        packaged.sha256
    );
}

#[test]
fn a_bundle_in_the_plugin_configuration_wins_over_the_embedded_one() {
    let embedded = fixture_bundle("31", str::to_owned, str::to_owned);
    let packaged = package_bundle("package-wins", &embedded, &[]);
    let options = EnvoyOptions {
        module: Some(packaged.module),
        ..EnvoyOptions::default()
    };
    let configured = fixture_bundle("32", str::to_owned, str::to_owned);
    let envoy = Envoy::start("package-wins", &configured, options);
    assert_eq!(envoy.stat(REVISION), 32);
    // A configuration without a bundle: the embedded one takes over (same serial).
    envoy.push(&[]);
    envoy.eventually("the embedded bundle serves", |e| e.stat(REVISION) == 31);
    let carol = token("user:carol@e2e.test", json!({}));
    assert_allowed(&envoy.request(&chat(&carol)));
    // And a configured bundle takes its place again.
    envoy.push(&fixture_bundle("33", str::to_owned, str::to_owned));
    envoy.eventually("the configured bundle serves", |e| e.stat(REVISION) == 33);
}

#[test]
fn pinned_keys_apply_to_the_embedded_bundle() {
    let pinned = EnvoyOptions {
        trusted_keys: vec![gatehouse_e2e::fixture_signing_public_key()],
        ..EnvoyOptions::default()
    };
    // Signed by the pinned key: serves.
    let trusted = package_bundle(
        "package-trusted",
        &gatehouse_e2e::signed_fixture_bundle("41"),
        &[],
    );
    let envoy = Envoy::start(
        "package-trusted",
        &[],
        EnvoyOptions {
            module: Some(trusted.module),
            ..pinned.clone()
        },
    );
    assert_eq!(envoy.stat(REVISION), 41);
    let carol = token("user:carol@e2e.test", json!({}));
    assert_allowed(&envoy.request(&chat(&carol)));
    drop(envoy);

    // Signed by a foreign key: `gatehouse package --trusted-key` refuses it, and a filter that
    // pins the key refuses it embedded (the plugin fails to configure; FAIL_CLOSED denies).
    let foreign = gatehouse_e2e::foreign_signed_fixture_bundle("42");
    let refused = scratch("package-refused");
    std::fs::write(refused.join("foreign.bundle"), &foreign).unwrap();
    let out = gatehouse(&[
        "package".as_ref(),
        "--wasm".as_ref(),
        wasm().as_os_str(),
        "--bundle".as_ref(),
        refused.join("foreign.bundle").as_os_str(),
        "-o".as_ref(),
        refused.join("policy.wasm").as_os_str(),
        "--trusted-key".as_ref(),
        gatehouse_e2e::fixture_signing_public_key().as_ref(),
    ])
    .output()
    .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("not trusted"));
    assert!(!refused.join("policy.wasm").exists());

    let foreign = package_bundle("package-foreign", &foreign, &[]);
    let envoy = Envoy::start(
        "package-foreign",
        &[],
        EnvoyOptions {
            module: Some(foreign.module),
            ..pinned
        },
    );
    assert_nothing_allowed(&envoy, "foreign-signed embedded bundle");
    assert!(
        envoy.log().contains("not trusted"),
        "no `not trusted` in the log"
    );
}

#[test]
fn a_corrupt_or_absent_embedded_bundle_denies() {
    // The plugin as built embeds nothing: no bundle anywhere.
    let envoy = Envoy::start("package-absent", &[], EnvoyOptions::default());
    assert_nothing_allowed(&envoy, "no bundle anywhere");
    assert!(envoy.log().contains("no policy bundle"));
    drop(envoy);

    // A packaged module whose embedded bundle was altered afterwards.
    let bundle = fixture_bundle("51", str::to_owned, str::to_owned);
    let packaged = package_bundle("package-corrupt", &bundle, &[]);
    let mut module = std::fs::read(&packaged.module).unwrap();
    let at = module
        .windows(bundle.len())
        .position(|w| w == bundle.as_slice())
        .expect("the bundle is in the module");
    module[at + bundle.len() / 2] ^= 0x10;
    let corrupt = packaged.module.with_file_name("corrupt.wasm");
    std::fs::write(&corrupt, &module).unwrap();
    let envoy = Envoy::start(
        "package-corrupt",
        &[],
        EnvoyOptions {
            module: Some(corrupt),
            ..EnvoyOptions::default()
        },
    );
    assert_nothing_allowed(&envoy, "corrupt embedded bundle");
    assert!(
        envoy.log().contains("digest mismatch"),
        "no `digest mismatch` in the log"
    );
}

#[test]
fn package_refuses_what_it_cannot_ship() {
    let bundle = fixture_bundle("61", str::to_owned, str::to_owned);
    let packaged = package_bundle("package-refuse", &bundle, &[]);
    let dir = scratch("package-refuse-more");
    let bundle_path = dir.join("policy.bundle");
    std::fs::write(&bundle_path, &bundle).unwrap();
    let mut corrupt = bundle.clone();
    corrupt.truncate(bundle.len() - 10);
    std::fs::write(dir.join("corrupt.bundle"), &corrupt).unwrap();
    let refuse = |wasm: &Path, bundle: &Path, message: &str| {
        let out = gatehouse(&[
            "package".as_ref(),
            "--wasm".as_ref(),
            wasm.as_os_str(),
            "--bundle".as_ref(),
            bundle.as_os_str(),
            "-o".as_ref(),
            dir.join("out.wasm").as_os_str(),
        ])
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(message), "no `{message}` in: {stderr}");
        assert!(!dir.join("out.wasm").exists());
    };
    // Packaged twice; a bundle for a module; a corrupt bundle.
    refuse(
        &packaged.module,
        &bundle_path,
        "already carries an embedded bundle",
    );
    refuse(&bundle_path, &bundle_path, "not a .wasm file");
    refuse(wasm(), &dir.join("corrupt.bundle"), "truncated");
}

#[test]
fn envoy_config_for_an_embedded_bundle_validates() {
    let bundle = fixture_bundle("71", str::to_owned, str::to_owned);
    let packaged = package_bundle("package-config", &bundle, &[]);
    let config_for = |module: &Path| {
        gatehouse(&[
            "envoy-config".as_ref(),
            "--embedded".as_ref(),
            "--wasm".as_ref(),
            module.as_os_str(),
        ])
        .output()
        .unwrap()
    };
    let out = config_for(&packaged.module);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let yaml = String::from_utf8(out.stdout).unwrap();
    assert!(
        !yaml.contains("BytesValue"),
        "a plugin configuration: {yaml}"
    );
    let path = packaged.module.with_file_name("envoy.yaml");
    std::fs::write(&path, &yaml).unwrap();
    run_ok(
        Command::new(gatehouse_e2e::envoy_bin())
            .args(["--mode", "validate", "--use-dynamic-base-id", "-c"])
            .arg(&path),
        "envoy --mode validate",
    );
    // The plugin as built embeds nothing: a static configuration for it is refused.
    let out = config_for(wasm());
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("embeds no bundle"));
}
