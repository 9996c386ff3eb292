//! `gatehouse directory` as a process: secrets from `token`, `serve` publishing bundles, and
//! SIGKILL in the middle of a burst of writes.

#![expect(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

mod support;

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use gatehouse_testkit::http::{request, Response};
use serde_json::{json, Value};
use support::{repo_root, run, GATEHOUSE};

fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-cli-directory-{name}-{}",
        std::process::id()
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policy")).unwrap();
    dir
}

/// A SCIM tenant file that compiles: its keys, and a grant to a provisioned team.
fn scim_tenant(policy: &Path, name: &str) {
    let text = format!(
        "tenant:\n  name: {name}\n  hosts: [\"{name}.gw.example.com\"]\n  issuer: https://{name}.example.com\n  jwks_file: keys/cp.jwks.json\n  provisioning: scim\n"
    );
    std::fs::write(policy.join(format!("{name}.yaml")), text).unwrap();
    keys(policy);
}

fn keys(policy: &Path) {
    std::fs::create_dir_all(policy.join("keys")).unwrap();
    let jwks = repo_root().join("examples/globex/keys/globex-cp.jwks.json");
    std::fs::copy(jwks, policy.join("keys/cp.jwks.json")).unwrap();
}

/// `gatehouse compile` of `policy` at `serial`: what the service must have published.
fn compile(policy: &Path, serial: u64, out: &Path) -> Vec<u8> {
    let compiled = run(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        out.to_str().unwrap(),
        "--serial",
        &serial.to_string(),
    ]);
    assert!(
        compiled.status.success(),
        "{}",
        String::from_utf8_lossy(&compiled.stderr)
    );
    std::fs::read(out).unwrap()
}

/// Waits until the bundle the service last published is `gatehouse compile` of the policy
/// directory as it is now; returns its serial.
/// Waits for a publish with a serial above `after` whose bundle is the compile of the policy
/// directory as it is then. (Above `after`: the directory file and the bundle of the previous
/// publish agree too, until the publisher writes both anew.)
fn published_current(serve: &Serve, dir: &Path, bundle: &Path, after: u64) -> u64 {
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let health = serve.health();
        if let Some(serial) = health["last_publish"]["serial"]
            .as_u64()
            .filter(|s| *s > after)
        {
            let fresh = compile(&dir.join("policy"), serial, &dir.join("fresh.bundle"));
            if std::fs::read(bundle).ok().as_deref() == Some(fresh.as_slice()) {
                return serial;
            }
        }
        assert!(
            Instant::now() < deadline,
            "the published bundle never caught up: {health}"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn new_token(db: &Path, tenant: &str) -> String {
    let out = run(&[
        "directory",
        "token",
        "--db",
        db.to_str().unwrap(),
        "--tenant",
        tenant,
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// A running `gatehouse directory serve`, killed with SIGKILL when dropped.
struct Serve {
    child: Child,
    addr: String,
}

impl Serve {
    fn start(dir: &Path, extra: &[&str]) -> Serve {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(dir.join("serve.log"))
            .unwrap();
        let mut child = Command::new(GATEHOUSE)
            .args([
                "directory",
                "serve",
                "--listen",
                "127.0.0.1:0",
                "--debounce-ms",
                "20",
            ])
            .arg("--policy")
            .arg(dir.join("policy"))
            .arg("--db")
            .arg(dir.join("directory.db"))
            .args(extra)
            .stdout(Stdio::piped())
            .stderr(log)
            .spawn()
            .expect("start gatehouse directory serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let addr = line
            .trim()
            .strip_prefix("listening on http://")
            .unwrap_or_else(|| panic!("first line: {line:?}"))
            .to_owned();
        Serve { child, addr }
    }

    fn call(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&Value>,
    ) -> std::io::Result<Response> {
        let auth = format!("Bearer {token}");
        let body = body.map(|b| b.to_string().into_bytes());
        request(
            &self.addr,
            method,
            path,
            &[("Authorization", &auth)],
            body.as_deref(),
        )
    }

    fn health(&self) -> Value {
        request(&self.addr, "GET", "/healthz", &[], None)
            .unwrap()
            .json()
    }

    /// Waits until a publish or a failure newer than `after` is reported.
    fn settled(&self, after: &Value) -> Value {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let health = self.health();
            let counters = &health["counters"];
            let seen = counters["publishes"].as_u64().unwrap()
                + counters["publish_failures"].as_u64().unwrap();
            let before = after["publishes"].as_u64().unwrap_or(0)
                + after["publish_failures"].as_u64().unwrap_or(0);
            if seen > before {
                return health;
            }
            assert!(Instant::now() < deadline, "nothing published: {health}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn kill(mut self) {
        self.child.kill().unwrap(); // SIGKILL
        self.child.wait().unwrap();
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn token_prints_one_secret_and_lists_ids_only() {
    let dir = scratch("token");
    let db = dir.join("directory.db");
    let out = run(&[
        "directory",
        "token",
        "--db",
        db.to_str().unwrap(),
        "--tenant",
        "acme",
    ]);
    assert!(out.status.success());
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(stdout.lines().count(), 1);
    let secret = stdout.trim();
    assert!(
        secret.starts_with("gh_scim_") && secret.len() >= 50,
        "{secret}"
    );
    let stderr = String::from_utf8(out.stderr).unwrap();
    let id = stderr.split_whitespace().nth(1).unwrap().to_owned();
    assert!(id.starts_with("tok_"), "{stderr}");
    let second = new_token(&db, "acme");
    assert_ne!(second, secret);
    let list = run(&["directory", "token", "--db", db.to_str().unwrap(), "--list"]);
    let list = String::from_utf8(list.stdout).unwrap();
    assert_eq!(list.lines().count(), 2);
    assert!(list.contains(&id) && !list.contains(secret) && !list.contains(&second));
    let revoked = run(&[
        "directory",
        "token",
        "--db",
        db.to_str().unwrap(),
        "--revoke",
        &id,
    ]);
    assert!(revoked.status.success());
    let list = run(&[
        "directory",
        "token",
        "--db",
        db.to_str().unwrap(),
        "--list",
        "--tenant",
        "acme",
    ]);
    assert!(String::from_utf8(list.stdout).unwrap().contains("revoked"));
    let unknown = run(&[
        "directory",
        "token",
        "--db",
        db.to_str().unwrap(),
        "--revoke",
        "tok_nope",
    ]);
    assert_eq!(unknown.status.code(), Some(1));

    // The revoked secret no longer opens the tenant; the other one does.
    scim_tenant(&dir.join("policy"), "acme");
    let serve = Serve::start(&dir, &[]);
    assert_eq!(
        serve
            .call(secret, "GET", "/scim/v2/acme/Users", None)
            .unwrap()
            .status,
        401
    );
    assert_eq!(
        serve
            .call(&second, "GET", "/scim/v2/acme/Users", None)
            .unwrap()
            .status,
        200
    );
    // A token made while the service runs works at once, for a tenant the service did not
    // know at its start too; that tenant gets its (empty) directory file.
    let third = new_token(&db, "acme");
    assert_eq!(
        serve
            .call(&third, "GET", "/scim/v2/acme/Users", None)
            .unwrap()
            .status,
        200
    );
    scim_tenant(&dir.join("policy"), "globex");
    let globex = new_token(&db, "globex");
    std::thread::sleep(Duration::from_millis(2100)); // the service re-reads tenant files
    assert!(!dir.join("policy/globex.directory.json").exists());
    assert_eq!(
        serve
            .call(&globex, "GET", "/scim/v2/globex/Users", None)
            .unwrap()
            .status,
        200
    );
    let file = std::fs::read_to_string(dir.join("policy/globex.directory.json")).unwrap();
    assert!(file.contains("\"users\": [],"), "{file}");
}

#[test]
fn serve_publishes_what_compile_would_build() {
    let dir = scratch("publish");
    let policy = dir.join("policy");
    // A tenant the compiler reads today, listing its own users (not provisioned by SCIM).
    let globex = repo_root().join("examples/globex");
    std::fs::copy(globex.join("tenant.yaml"), policy.join("globex.yaml")).unwrap();
    std::fs::create_dir_all(policy.join("keys")).unwrap();
    std::fs::copy(
        globex.join("keys/globex-cp.jwks.json"),
        policy.join("keys/globex-cp.jwks.json"),
    )
    .unwrap();
    let keys = dir.join("signing");
    let generated = run(&[
        "keys",
        "generate",
        "--alg",
        "EdDSA",
        "--out",
        keys.to_str().unwrap(),
    ]);
    assert!(generated.status.success());
    let trusted = String::from_utf8(generated.stdout)
        .unwrap()
        .lines()
        .find_map(|l| {
            l.strip_prefix("bundle signing public key (for trusted_keys): ")
                .map(str::to_owned)
        })
        .unwrap();
    let bundle = dir.join("out/policy.bundle");
    std::fs::create_dir_all(dir.join("out")).unwrap();
    let ecds = dir.join("out/gatehouse-filter.yaml");
    let hook_log = dir.join("hook.log");
    let hook = format!(
        "echo \"$GATEHOUSE_SERIAL $GATEHOUSE_BUNDLE\" >> {}",
        hook_log.display()
    );
    let key_path = keys.join("private.jwk.json");
    let args = [
        "--bundle-out",
        bundle.to_str().unwrap(),
        "--publish",
        ecds.to_str().unwrap(),
        "--wasm",
        "target/wasm32-wasip1/release/gatehouse.wasm",
        "--trusted-key",
        trusted.as_str(),
        "--sign-key",
        key_path.to_str().unwrap(),
        "--on-publish",
        hook.as_str(),
    ];
    let serve = Serve::start(&dir, &args);
    let health = serve.settled(&json!({}));
    assert_eq!(health["status"], json!("ok"), "{health}");
    let serial = health["last_publish"]["serial"].as_u64().unwrap();
    let hooked = std::fs::read_to_string(&hook_log).unwrap();
    assert_eq!(hooked.trim(), format!("{serial} {}", bundle.display()));
    // The bundle is the compiler's, byte for byte, and signed by the key.
    let fresh = dir.join("fresh.bundle");
    let out = run(&[
        "compile",
        policy.to_str().unwrap(),
        "-o",
        fresh.to_str().unwrap(),
        "--serial",
        &serial.to_string(),
        "--sign-key",
        key_path.to_str().unwrap(),
    ]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        std::fs::read(&bundle).unwrap(),
        std::fs::read(&fresh).unwrap()
    );
    // The ECDS file is what `envoy-config --kind ecds-resource` (push-bundle.sh) writes.
    let expected = run(&[
        "envoy-config",
        "--kind",
        "ecds-resource",
        "--bundle",
        bundle.to_str().unwrap(),
        "--wasm",
        "target/wasm32-wasip1/release/gatehouse.wasm",
        "--trusted-key",
        &trusted,
        "--version-info",
        &format!(
            "{serial}-{}",
            &health["last_publish"]["digest"].as_str().unwrap()[..12]
        ),
    ]);
    assert_eq!(
        std::fs::read_to_string(&ecds).unwrap(),
        String::from_utf8(expected.stdout).unwrap()
    );

    // A policy that stops compiling is not published; the last good bundle stays.
    let good = std::fs::read(&bundle).unwrap();
    std::fs::write(
        policy.join("broken.yaml"),
        "tenant: {name: broken}\nusers: [{email: 3}]\n",
    )
    .unwrap();
    // Publishing follows a write; with no SCIM tenant here, restart to publish again.
    drop(serve);
    let serve = Serve::start(&dir, &args);
    let health = serve.settled(&json!({}));
    assert_eq!(health["status"], json!("degraded"));
    assert!(
        health["last_compile_error"]
            .as_str()
            .unwrap()
            .contains("broken.yaml"),
        "{health}"
    );
    assert_eq!(std::fs::read(&bundle).unwrap(), good);
    let metrics = request(&serve.addr, "GET", "/metrics", &[], None)
        .unwrap()
        .body;
    assert!(
        metrics.contains("gatehouse_directory_publish_failures_total 1"),
        "{metrics}"
    );
    std::fs::remove_file(policy.join("broken.yaml")).unwrap();
    drop(serve);
    // Serials keep increasing across restarts.
    let serve = Serve::start(&dir, &args);
    let health = serve.settled(&json!({}));
    assert!(health["last_publish"]["serial"].as_u64().unwrap() > serial);
}

/// Per batch of members: whether it was in the group when last acknowledged, and what a
/// request in flight asks for.
type Batches = Arc<Mutex<Vec<(bool, Option<bool>)>>>;

#[test]
fn sigkill_mid_burst_loses_no_acknowledged_write() {
    let dir = scratch("crash");
    let policy = dir.join("policy");
    scim_tenant(&policy, "acme");
    let token = new_token(&dir.join("directory.db"), "acme");
    let bundle = dir.join("policy.bundle");
    // The burst is not to be slowed by the (default) rate limit.
    let publish = [
        "--bundle-out",
        bundle.to_str().unwrap(),
        "--rate-limit",
        "100000",
        "--rate-burst",
        "100000",
    ];
    let serve = Serve::start(&dir, &publish);
    // Users for the group batches, and the group, before the burst.
    let mut pool = Vec::new();
    for i in 0..60 {
        let r = serve
            .call(
                &token,
                "POST",
                "/scim/v2/acme/Users",
                Some(&json!({"userName": format!("pool{i:02}@acme.com")})),
            )
            .unwrap();
        assert_eq!(r.status, 201);
        pool.push(r.json()["id"].as_str().unwrap().to_owned());
    }
    let group = serve
        .call(
            &token,
            "POST",
            "/scim/v2/acme/Groups",
            Some(&json!({"displayName": "Burst"})),
        )
        .unwrap();
    let gid = group.json()["id"].as_str().unwrap().to_owned();

    let addr = serve.addr.clone();
    let acked_users: Arc<Mutex<BTreeMap<String, String>>> = Arc::default();
    let total = Arc::new(AtomicUsize::new(0));
    let mut threads = Vec::new();
    for t in 0..4 {
        let (addr, token, acked, total) = (
            addr.clone(),
            token.clone(),
            Arc::clone(&acked_users),
            Arc::clone(&total),
        );
        threads.push(std::thread::spawn(move || {
            let auth = format!("Bearer {token}");
            for i in 0..10_000 {
                let name = format!("burst-{t}-{i}@acme.com");
                let body = json!({"userName": name}).to_string();
                match request(
                    &addr,
                    "POST",
                    "/scim/v2/acme/Users",
                    &[("Authorization", &auth)],
                    Some(body.as_bytes()),
                ) {
                    Ok(r) if r.status == 201 => {
                        acked
                            .lock()
                            .unwrap()
                            .insert(name, r.json()["id"].as_str().unwrap().to_owned());
                        total.fetch_add(1, Ordering::Relaxed);
                    }
                    Ok(r) => panic!("unexpected {}: {}", r.status, r.body),
                    Err(_) => return,
                }
            }
        }));
    }
    // Each batch of ten members is added, then removed, over and over; per batch: the state
    // last acknowledged, and the one asked for when the kill came.
    let batches: Batches = Arc::new(Mutex::new(vec![(false, None); 6]));
    {
        let (addr, token, batches, pool, gid) = (
            addr.clone(),
            token.clone(),
            Arc::clone(&batches),
            pool.clone(),
            gid.clone(),
        );
        threads.push(std::thread::spawn(move || {
            let auth = format!("Bearer {token}");
            for round in 0..10_000 {
                let add = round % 2 == 0;
                for (k, batch) in pool.chunks(10).enumerate() {
                    let members: Vec<Value> = batch.iter().map(|id| json!({"value": id})).collect();
                    let op = if add { "add" } else { "remove" };
                    let body = json!({
                        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
                        "Operations": [{"op": op, "path": "members", "value": members}]
                    })
                    .to_string();
                    batches.lock().unwrap()[k].1 = Some(add);
                    match request(
                        &addr,
                        "PATCH",
                        &format!("/scim/v2/acme/Groups/{gid}"),
                        &[("Authorization", &auth)],
                        Some(body.as_bytes()),
                    ) {
                        Ok(r) if r.status == 200 => batches.lock().unwrap()[k] = (add, None),
                        Ok(r) => panic!("unexpected {}: {}", r.status, r.body),
                        Err(_) => return,
                    }
                }
            }
        }));
    }
    let deadline = Instant::now() + Duration::from_secs(30);
    while total.load(Ordering::Relaxed) < 200 && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(2));
    }
    serve.kill();
    for t in threads {
        t.join().unwrap();
    }
    let acked_users = acked_users.lock().unwrap().clone();
    let batches = batches.lock().unwrap().clone();
    assert!(
        acked_users.len() >= 40,
        "the burst was acknowledged: {}",
        acked_users.len()
    );

    let serve = Serve::start(&dir, &publish);
    let mut found: BTreeMap<String, String> = BTreeMap::new();
    let mut start = 1;
    loop {
        let page = serve
            .call(
                &token,
                "GET",
                &format!("/scim/v2/acme/Users?startIndex={start}&count=1000"),
                None,
            )
            .unwrap()
            .json();
        let resources = page["Resources"].as_array().unwrap().clone();
        for r in &resources {
            found.insert(
                r["userName"].as_str().unwrap().to_owned(),
                r["id"].as_str().unwrap().to_owned(),
            );
        }
        start += resources.len();
        if resources.is_empty() || start > page["totalResults"].as_u64().unwrap() as usize {
            break;
        }
    }
    eprintln!(
        "killed after {} acknowledged creates; {} users recovered; batches {batches:?}",
        acked_users.len(),
        found.len()
    );
    for (name, id) in &acked_users {
        assert_eq!(found.get(name), Some(id), "acknowledged {name} lost");
    }
    let members: BTreeSet<String> = serve
        .call(&token, "GET", &format!("/scim/v2/acme/Groups/{gid}"), None)
        .unwrap()
        .json()["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m["value"].as_str().unwrap().to_owned())
        .collect();
    for (k, batch) in pool.chunks(10).enumerate() {
        let present = batch.iter().filter(|id| members.contains(*id)).count();
        assert!(
            present == 0 || present == batch.len(),
            "batch {k} half applied: {present}"
        );
        let (acknowledged, in_flight) = batches[k];
        let now = present == batch.len();
        assert!(
            now == acknowledged || Some(now) == in_flight,
            "batch {k}: {now}, acknowledged {acknowledged}"
        );
    }
    // The directory file written at startup is the recovered directory.
    let file: Value =
        serde_json::from_str(&std::fs::read_to_string(policy.join("acme.directory.json")).unwrap())
            .unwrap();
    let emails: BTreeSet<String> = file["users"]
        .as_array()
        .unwrap()
        .iter()
        .map(|u| u["email"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(emails, found.keys().cloned().collect::<BTreeSet<_>>());
    let id_to_name: BTreeMap<&String, &String> = found.iter().map(|(n, i)| (i, n)).collect();
    let team_members: BTreeSet<String> = file["teams"][0]["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap().to_owned())
        .collect();
    let expected: BTreeSet<String> = members.iter().map(|id| id_to_name[id].clone()).collect();
    assert_eq!(file["teams"][0]["name"], json!("burst"));
    assert_eq!(team_members, expected);
    // And the bundle published after the restart is the compile of the recovered directory.
    published_current(&serve, &dir, &bundle, 0);
}

#[test]
fn deactivating_and_deleting_reach_the_published_bundle() {
    let dir = scratch("e2e");
    let policy = dir.join("policy");
    keys(&policy);
    std::fs::write(
        policy.join("globex.yaml"),
        "tenant:\n  name: globex\n  hosts: [\"globex.gw.example.com\"]\n  issuer: https://globex.cp.example.com\n  jwks_file: keys/cp.jwks.json\n  provisioning: scim\n\nrole_bindings:\n  - name: ml-on-openai\n    subjects: [\"team:ml-engineers\"]\n    permissions: [{resource: \"provider-account:openai-main\", role: provider-account-user}]\n\nresources:\n  - type: provider-account\n    name: openai-main\n    models:\n      - name: gpt-4o\n",
    )
    .unwrap();
    let token = new_token(&dir.join("directory.db"), "globex");
    let bundle = dir.join("policy.bundle");
    let serve = Serve::start(&dir, &["--bundle-out", bundle.to_str().unwrap()]);
    // The grant names a team nobody has provisioned yet: nothing is published.
    let health = serve.settled(&json!({}));
    assert_eq!(health["status"], json!("degraded"), "{health}");
    assert!(!bundle.exists());

    let scim = |method: &str, path: &str, body: Option<Value>| {
        serve
            .call(
                &token,
                method,
                &format!("/scim/v2/globex{path}"),
                body.as_ref(),
            )
            .unwrap()
    };
    let hank = scim(
        "POST",
        "/Users",
        Some(json!({"userName": "Hank@globex.com"})),
    );
    let hank = hank.json()["id"].as_str().unwrap().to_owned();
    let team = scim(
        "POST",
        "/Groups",
        Some(json!({"displayName": "ML Engineers", "members": [{"value": hank}]})),
    );
    assert_eq!(team.status, 201);
    let first = published_current(&serve, &dir, &bundle, 0);
    let ask = || {
        let out = run(&[
            "check",
            "--bundle",
            bundle.to_str().unwrap(),
            "--host",
            "globex.gw.example.com",
            "--method",
            "POST",
            "--path",
            "/api/llm/v1/chat/completions",
            "--body",
            r#"{"model": "openai-main/gpt-4o", "messages": [{"role": "user", "content": "hi"}]}"#,
            "--as",
            "user:hank@globex.com",
            "--json",
        ]);
        serde_json::from_slice::<Value>(&out.stdout).unwrap()
    };
    let allowed = ask();
    assert_eq!(allowed["decision"], json!("allow"), "{allowed}");
    assert!(allowed["grant"]
        .as_str()
        .unwrap()
        .contains("team:ml-engineers"));

    let off = json!({"schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"], "Operations": [{"op": "replace", "value": {"active": false}}]});
    assert_eq!(
        scim("PATCH", &format!("/Users/{hank}"), Some(off)).status,
        200
    );
    let second = published_current(&serve, &dir, &bundle, first);
    assert_eq!(ask()["reason"], json!("principal_inactive"));

    assert_eq!(scim("DELETE", &format!("/Users/{hank}"), None).status, 204);
    published_current(&serve, &dir, &bundle, second);
    assert_eq!(ask()["reason"], json!("principal_unknown"));
}
