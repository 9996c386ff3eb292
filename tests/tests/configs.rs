//! Every Envoy configuration we ship passes `envoy --mode validate`, and so does every kind the
//! generator (`gatehouse_deploy::envoy`, `gatehouse envoy-config`) writes; the committed
//! `envoy/envoy.yaml` is exactly what the generator writes.

use std::path::Path;
use std::process::Command;

use base64::engine::general_purpose::STANDARD;
use base64::Engine as _;
use gatehouse_deploy::envoy::{
    self, Addr, Baseline, Ecds, Filter, FloorMode, Format, JwtRbac, TenantHosts, Upstream,
    VirtualHosts, WasmFloor,
};
use gatehouse_e2e::{
    envoy_bin, fixture_bundle, fixture_signing_public_key, fixtures, floor_wasm, gatehouse_cli,
    repo_root, run_ok, scratch, signed_fixture_bundle, wasm,
};

/// What `envoy/envoy.yaml` is generated from:
/// `gatehouse envoy-config --kind ecds-bootstrap --upstream 127.0.0.1:8080 > envoy/envoy.yaml`.
fn committed_bootstrap() -> envoy::Config {
    let options = envoy::Options {
        upstream: Upstream::Cluster(Addr::loopback(8080)),
        ..envoy::Options::default()
    };
    envoy::ecds_bootstrap(&options, &Ecds::default())
}

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

/// `scripts/push-bundle.sh` run in `cwd`, writing the ECDS file `envoy/envoy.yaml` watches.
fn push_bundle(cwd: &Path, bundle: &Path) {
    run_ok(
        Command::new("bash")
            .current_dir(cwd)
            .env("GATEHOUSE_BIN", gatehouse_cli())
            .arg(repo_root().join("scripts/push-bundle.sh"))
            .arg(bundle)
            .arg("--wasm")
            .arg(wasm()),
        "running scripts/push-bundle.sh",
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
                let generated = committed_bootstrap().render(Format::Yaml);
                if std::env::var_os("GATEHOUSE_BLESS").is_some() {
                    std::fs::write(&path, &generated).unwrap();
                } else {
                    assert!(
                        text == generated,
                        "envoy/envoy.yaml is not what the generator writes: regenerate it with \
                         `gatehouse envoy-config --kind ecds-bootstrap --upstream 127.0.0.1:8080 \
                         > envoy/envoy.yaml` (or GATEHOUSE_BLESS=1 cargo test -p gatehouse-e2e \
                         --test configs), never by hand"
                    );
                }
                // Relative paths: validate from a directory holding the ECDS file it watches,
                // written by the script the README tells operators to use.
                let cwd = scratch("validate");
                let bundle = cwd.join("e2e.bundle");
                std::fs::write(&bundle, fixture_bundle("1", str::to_owned, str::to_owned)).unwrap();
                push_bundle(&cwd, &bundle);
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
fn every_generated_kind_validates() {
    let dir = scratch("envoy-config");
    let bundle = signed_fixture_bundle("1");
    let options = envoy::Options::default();
    let upstream = envoy::Options {
        upstream: Upstream::Cluster(Addr::loopback(8080)),
        ..envoy::Options::default()
    };
    let filter = Filter {
        build: gatehouse_e2e::build(),
        module: gatehouse_e2e::module().to_path_buf(),
        trusted_keys: vec![fixture_signing_public_key()],
        ..Filter::default()
    };
    let jwks = std::fs::read_to_string(fixtures().join("keys/e2e-cp.jwks.json")).unwrap();
    let jwt = Baseline::JwtRbac(JwtRbac {
        issuer: "https://cp.e2e.test".into(),
        jwks,
        audiences: vec!["https://gw.e2e.test".into()],
        clock_skew_seconds: 60,
        cache_size: envoy::JWT_CACHE_SIZE,
        method: "POST".into(),
        path: "/api/llm/v1/chat/completions".into(),
        claim: "sub".into(),
        subjects: vec!["user:carol@e2e.test".into(), "user:dave@e2e.test".into()],
    });
    let floor = |mode| {
        Baseline::Wasm(WasmFloor {
            wasm: floor_wasm().to_path_buf(),
            mode,
        })
    };
    let ecds = Ecds {
        build: gatehouse_e2e::build(),
        ..Ecds::file(dir.join("ecds/gatehouse-filter.yaml"))
    };
    std::fs::create_dir_all(&ecds.watched_directory).unwrap();
    std::fs::write(
        &ecds.path,
        envoy::ecds_resource(&filter, &bundle, "1").render(Format::Yaml),
    )
    .unwrap();
    let per_tenant = |upstream: Upstream| envoy::Options {
        upstream,
        virtual_hosts: VirtualHosts::PerTenant(vec![
            TenantHosts {
                tenant: "acme".into(),
                hosts: vec!["*.acme.example.com".into(), "acme.gw.example.com".into()],
            },
            TenantHosts {
                tenant: "globex".into(),
                hosts: vec!["*-globex.example.com".into(), "127.0.0.1".into()],
            },
        ]),
        ..envoy::Options::default()
    };
    let configs = [
        (
            "static",
            envoy::static_bootstrap(&options, &filter, &bundle),
        ),
        (
            "static-vhost-per-tenant",
            envoy::static_bootstrap(&per_tenant(Upstream::Direct), &filter, &bundle),
        ),
        (
            "ecds-bootstrap-vhost-per-tenant",
            envoy::ecds_bootstrap(&per_tenant(Upstream::Cluster(Addr::loopback(8080))), &ecds),
        ),
        (
            "static-upstream",
            envoy::static_bootstrap(&upstream, &filter, &bundle),
        ),
        ("ecds-bootstrap", envoy::ecds_bootstrap(&upstream, &ecds)),
        ("baseline-none", envoy::baseline(&options, &Baseline::None)),
        ("baseline-jwt-rbac", envoy::baseline(&options, &jwt)),
        (
            "baseline-wasm-empty",
            envoy::baseline(&options, &floor(FloorMode::Empty)),
        ),
        (
            "baseline-wasm-headers",
            envoy::baseline(&options, &floor(FloorMode::Headers)),
        ),
    ];
    for (name, config) in configs {
        // JSON is the same data: one kind in JSON proves Envoy reads it.
        let formats: &[_] = match name {
            "static" => &[(Format::Yaml, "yaml"), (Format::Json, "json")],
            _ => &[(Format::Yaml, "yaml")],
        };
        for &(format, ext) in formats {
            let path = dir.join(format!("{name}.{ext}"));
            std::fs::write(&path, config.render(format)).unwrap();
            validate(&path, &dir);
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}
