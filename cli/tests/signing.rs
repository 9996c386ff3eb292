//! Bundle signing end to end through the real `gatehouse` binary: a key from
//! `keys generate --alg EdDSA`, `compile --sign-key`, and `check --trusted-key` accepting it;
//! unsigned, foreign-signed, truncated, bit-flipped and future-major bundles are refused with
//! exit code 1 and a message that says why. A library-level sweep then flips one bit in every
//! byte of a signed bundle and requires each copy to be refused.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::path::{Path, PathBuf};
use std::process::Output;

use support::{repo_root, run};

use gatehouse_engine::{Engine, LoadError, LoadOptions};

/// Offset of the format major version in the header (docs/bundle-format.md).
const MAJOR_OFFSET: usize = 8;

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// Set-up shared by the tests: two signing keys and three bundles of the example policy.
struct Fixture {
    dir: PathBuf,
    trusted: String,
    foreign: String,
}

impl Fixture {
    fn new(name: &str) -> Fixture {
        let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .join("signing")
            .join(name);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        let trusted = generate(&dir.join("signer"));
        let foreign = generate(&dir.join("foreign"));
        let fixture = Fixture {
            dir,
            trusted,
            foreign,
        };
        fixture.compile("signed.bundle", Some("signer"));
        fixture.compile("foreign.bundle", Some("foreign"));
        fixture.compile("unsigned.bundle", None);
        fixture
    }

    fn path(&self, name: &str) -> String {
        self.dir.join(name).display().to_string()
    }

    fn compile(&self, out: &str, key: Option<&str>) {
        let gateway = repo_root().join("examples/gateway.yaml");
        let acme = repo_root().join("examples/acme");
        let globex = repo_root().join("examples/globex");
        let mut args = vec![
            "compile".to_owned(),
            "--gateway".to_owned(),
            gateway.display().to_string(),
            acme.display().to_string(),
            globex.display().to_string(),
            "-o".to_owned(),
            self.path(out),
            "--revision".to_owned(),
            "signing-test".to_owned(),
        ];
        if let Some(key) = key {
            args.push("--sign-key".to_owned());
            args.push(
                self.dir
                    .join(key)
                    .join("private.jwk.json")
                    .display()
                    .to_string(),
            );
        }
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = run(&refs);
        assert!(out.status.success(), "compile: {}", text(&out.stderr));
    }

    fn write(&self, name: &str, bytes: &[u8]) -> String {
        std::fs::write(self.dir.join(name), bytes).unwrap();
        self.path(name)
    }

    fn read(&self, name: &str) -> Vec<u8> {
        std::fs::read(self.dir.join(name)).unwrap()
    }

    /// `gatehouse check` of a request carol is allowed to make, with these trusted keys.
    fn check(&self, bundle: &str, trusted: &[&str]) -> Output {
        let mut args = vec![
            "check",
            "--bundle",
            bundle,
            "--host",
            "acme.gw.example.com",
            "--as",
            "user:carol@acme.com",
            "--method",
            "POST",
            "--path",
            "/api/llm/v1/chat/completions",
            "--body",
            r#"{"model":"openai-main/gpt-4o"}"#,
            "--json",
        ];
        // `--trusted-key=KEY`: a url-safe key may start with `-`, which would read as a flag.
        let keys: Vec<String> = trusted
            .iter()
            .map(|key| format!("--trusted-key={key}"))
            .collect();
        args.extend(keys.iter().map(String::as_str));
        run(&args)
    }

    /// The check must fail to load the bundle: exit 1, nothing on stdout, a message naming the
    /// bundle and containing `why`.
    fn refused(&self, bundle: &str, trusted: &[&str], why: &[&str]) {
        let out = self.check(bundle, trusted);
        let stderr = text(&out.stderr);
        assert_eq!(
            out.status.code(),
            Some(1),
            "{bundle}: exit code; stderr: {stderr}"
        );
        assert!(
            out.stdout.is_empty(),
            "{bundle}: stdout {}",
            text(&out.stdout)
        );
        assert!(stderr.starts_with("error: "), "{bundle}: {stderr}");
        assert!(
            stderr.contains(bundle),
            "{bundle}: message names the file: {stderr}"
        );
        assert!(
            why.iter().any(|w| stderr.contains(w)),
            "{bundle}: expected one of {why:?} in {stderr}"
        );
        assert_eq!(stderr.lines().count(), 1, "one line: {stderr}");
    }
}

/// `keys generate --alg EdDSA`; returns the base64 public key it prints for `trusted_keys`.
fn generate(out: &Path) -> String {
    let result = run(&[
        "keys",
        "generate",
        "--alg",
        "EdDSA",
        "--out",
        &out.display().to_string(),
    ]);
    assert!(
        result.status.success(),
        "keys generate: {}",
        text(&result.stderr)
    );
    let stdout = text(&result.stdout);
    let prefix = "bundle signing public key (for trusted_keys): ";
    let key = stdout
        .lines()
        .find_map(|l| l.strip_prefix(prefix))
        .unwrap_or_else(|| panic!("no public key printed: {stdout}"));
    assert!(out.join("private.jwk.json").exists() && out.join("jwks.json").exists());
    key.trim().to_owned()
}

fn decode_key(b64: &str) -> [u8; 32] {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .decode(b64)
        .unwrap()
        .try_into()
        .unwrap()
}

#[test]
fn signed_bundle_is_accepted_by_its_trusted_key() {
    let f = Fixture::new("accepted");
    let signed = f.path("signed.bundle");
    for trusted in [
        vec![f.trusted.as_str()],
        vec![f.foreign.as_str(), f.trusted.as_str()],
    ] {
        let out = f.check(&signed, &trusted);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let json: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(json["decision"], "allow");
    }
    // Without pinned keys a signed bundle still loads (its signature is still checked).
    assert_eq!(f.check(&signed, &[]).status.code(), Some(0));
    // The url-safe spelling of the key is accepted too.
    let url_safe = f.trusted.replace('+', "-").replace('/', "_");
    let url_safe = url_safe.trim_end_matches('=');
    assert_eq!(f.check(&signed, &[url_safe]).status.code(), Some(0));
    // `inspect` shows who signed it.
    let out = run(&["inspect", &signed, "--json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
}

#[test]
fn unsigned_and_foreign_bundles_are_refused_when_keys_are_pinned() {
    let f = Fixture::new("pinned");
    f.refused(&f.path("unsigned.bundle"), &[&f.trusted], &["unsigned"]);
    f.refused(&f.path("foreign.bundle"), &[&f.trusted], &["not trusted"]);
    // Unpinned, both load: pinning is what makes signatures mandatory.
    assert_eq!(
        f.check(&f.path("unsigned.bundle"), &[]).status.code(),
        Some(0)
    );
    assert_eq!(
        f.check(&f.path("foreign.bundle"), &[]).status.code(),
        Some(0)
    );
    // A malformed trusted key is an error, not "no pinning".
    let out = f.check(&f.path("signed.bundle"), &["not-base64!"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(
        text(&out.stderr).contains("trusted key"),
        "{}",
        text(&out.stderr)
    );
    let out = f.check(&f.path("signed.bundle"), &["AAAA"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(text(&out.stderr).contains("an Ed25519 public key is 32"));
}

#[test]
fn truncated_bundles_are_refused() {
    let f = Fixture::new("truncated");
    let signed = f.read("signed.bundle");
    let len = signed.len();
    for (i, cut) in [
        0,
        1,
        8,
        55,
        56,
        57,
        len / 2,
        len - 65,
        len - 64,
        len - 33,
        len - 1,
    ]
    .into_iter()
    .enumerate()
    {
        let path = f.write(&format!("truncated-{i}.bundle"), &signed[..cut]);
        for trusted in [&[f.trusted.as_str()][..], &[]] {
            f.refused(&path, trusted, &["truncated"]);
        }
    }
    // Extra bytes are refused too.
    let mut longer = signed.clone();
    longer.push(0);
    let path = f.write("longer.bundle", &longer);
    f.refused(&path, &[&f.trusted], &["trailing bytes"]);
}

#[test]
fn bit_flipped_bundles_are_refused() {
    let f = Fixture::new("flipped");
    let signed = f.read("signed.bundle");
    let len = signed.len();
    // (offset, what the message must say): magic, flags, body length, digest, body, signer key,
    // signature.
    let cases: [(usize, &[&str]); 9] = [
        (0, &["bad magic"]),
        (12, &["trailing bytes", "truncated"]),
        (13, &["unknown header flags"]),
        (16, &["truncated", "trailing bytes"]),
        (30, &["digest mismatch"]),
        (56 + 100, &["digest mismatch"]),
        (len - 97, &["digest mismatch"]),
        (len - 90, &["signature is invalid", "not trusted"]),
        (len - 5, &["signature is invalid"]),
    ];
    for (offset, why) in cases {
        let mut bytes = signed.clone();
        bytes[offset] ^= 0x01;
        let path = f.write(&format!("flipped-{offset}.bundle"), &bytes);
        f.refused(&path, &[&f.trusted], why);
        // The signature and digest are checked whether or not keys are pinned.
        f.refused(&path, &[], why);
    }
}

#[test]
fn future_major_bundles_are_refused() {
    let f = Fixture::new("future");
    for name in ["signed.bundle", "unsigned.bundle"] {
        let mut bytes = f.read(name);
        let next_major = gatehouse_engine::bundle::FORMAT_MAJOR + 1;
        bytes[MAJOR_OFFSET..MAJOR_OFFSET + 2].copy_from_slice(&next_major.to_le_bytes());
        let path = f.write(&format!("future-{name}"), &bytes);
        let why = format!("unsupported bundle format {next_major}.");
        f.refused(&path, &[], &[&why]);
        f.refused(&path, &[&f.trusted], &[&why]);
    }
    // A newer minor version of the same major is not a reason to refuse, but the header is
    // signed, so on a signed bundle the change breaks the signature.
    let mut bytes = f.read("signed.bundle");
    bytes[MAJOR_OFFSET + 2] = bytes[MAJOR_OFFSET + 2].wrapping_add(1);
    let path = f.write("minor-signed.bundle", &bytes);
    f.refused(&path, &[&f.trusted], &["signature is invalid"]);
    let mut bytes = f.read("unsigned.bundle");
    bytes[MAJOR_OFFSET + 2] = bytes[MAJOR_OFFSET + 2].wrapping_add(1);
    let path = f.write("minor-unsigned.bundle", &bytes);
    assert_eq!(f.check(&path, &[]).status.code(), Some(0));
}

/// Every byte of a signed bundle, one bit flipped (the bit position rotates with the offset):
/// no copy may load under the pinned key, and none may load unpinned except through a change
/// the format declares harmless (none exists for a signed bundle: header and body are signed).
#[test]
fn every_single_bit_flip_of_a_signed_bundle_is_refused() {
    let f = Fixture::new("sweep");
    let signed = f.read("signed.bundle");
    let pinned = LoadOptions {
        trusted_keys: vec![decode_key(&f.trusted)],
    };
    Engine::load(signed.clone(), &pinned).expect("the untouched bundle loads");
    let mut by_error: std::collections::BTreeMap<String, usize> = Default::default();
    for offset in 0..signed.len() {
        let mut bytes = signed.clone();
        bytes[offset] ^= 1 << (offset % 8);
        for options in [&pinned, &LoadOptions::default()] {
            match Engine::load(bytes.clone(), options) {
                Ok(_) => panic!("bit {} of byte {offset} flipped: bundle loaded", offset % 8),
                Err(e) => {
                    let kind = match e {
                        LoadError::Truncated(_) => "truncated",
                        LoadError::BadMagic => "bad magic",
                        LoadError::UnsupportedVersion { .. } => "unsupported version",
                        LoadError::DigestMismatch => "digest mismatch",
                        LoadError::BadSignature => "bad signature",
                        LoadError::Unsigned => "unsigned",
                        LoadError::UntrustedSigner => "untrusted signer",
                        LoadError::Corrupt(_) => "corrupt",
                    };
                    *by_error.entry(kind.to_owned()).or_default() += 1;
                }
            }
        }
    }
    println!(
        "{} single-bit flips of a {}-byte signed bundle, each loaded pinned and unpinned: all \
         refused ({by_error:?})",
        signed.len(),
        signed.len()
    );
}
