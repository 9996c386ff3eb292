//! The service in-process on 127.0.0.1:0, driven over HTTP as Okta and Entra ID drive it.

#![expect(
    clippy::unwrap_used,
    clippy::indexing_slicing,
    reason = "test code: a panic is a test failure"
)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use gatehouse_directory::publish::PublishConfig;
use gatehouse_directory::store::sqlite::SqliteStore;
use gatehouse_directory::{start, token, Config, Limits, Running};
use gatehouse_testkit::http::{request, Response};
use serde_json::{json, Value};

struct Service {
    running: Running,
    dir: PathBuf,
    acme: String,
    globex: String,
}

fn scratch() -> PathBuf {
    static N: AtomicUsize = AtomicUsize::new(0);
    let dir = std::env::temp_dir().join(format!(
        "gatehouse-directory-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    ));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(dir.join("policy")).unwrap();
    dir
}

fn tenant_file(name: &str, mode: &str) -> String {
    format!("tenant:\n  name: {name}\n  hosts: [\"{name}.example.com\"]\n  issuer: https://{name}.example.com\n  provisioning: {mode}\n")
}

impl Service {
    fn start(limits: Limits) -> Service {
        Service::start_with(limits, None)
    }

    fn start_with(limits: Limits, admin_listen: Option<String>) -> Service {
        let dir = scratch();
        let policy = dir.join("policy");
        std::fs::write(policy.join("acme.yaml"), tenant_file("acme", "scim")).unwrap();
        std::fs::write(policy.join("globex.yaml"), tenant_file("globex", "scim")).unwrap();
        std::fs::write(
            policy.join("initech.yaml"),
            tenant_file("initech", "invite-only"),
        )
        .unwrap();
        let mut store = SqliteStore::open(&dir.join("directory.db")).unwrap();
        let (_, acme) = token::issue(&mut store, "acme").unwrap();
        let (_, globex) = token::issue(&mut store, "globex").unwrap();
        // A token for a tenant the policy does not provision by SCIM.
        token::issue(&mut store, "initech").unwrap();
        let config = Config {
            listen: "127.0.0.1:0".into(),
            admin_listen,
            publish: PublishConfig {
                policy_dir: policy,
                gateway: None,
                ecds: None,
                signing_key: None,
                bundle_out: None,
                on_publish: None,
                debounce: Duration::from_millis(10),
            },
            limits,
            workers: 4,
        };
        let running = start(config, Box::new(store)).unwrap();
        Service {
            running,
            dir,
            acme,
            globex,
        }
    }

    fn addr(&self) -> String {
        self.running.addr.to_string()
    }

    fn call(&self, token: &str, method: &str, path: &str, body: Option<&Value>) -> Response {
        let body = body.map(|b| b.to_string().into_bytes());
        self.raw(token, method, path, body.as_deref(), &[])
    }

    fn raw(
        &self,
        token: &str,
        method: &str,
        path: &str,
        body: Option<&[u8]>,
        extra: &[(&str, &str)],
    ) -> Response {
        let auth = format!("Bearer {token}");
        let mut headers = vec![
            ("Authorization", auth.as_str()),
            ("Content-Type", "application/scim+json"),
        ];
        headers.extend_from_slice(extra);
        request(&self.addr(), method, path, &headers, body).unwrap()
    }

    fn acme(&self, method: &str, path: &str, body: Option<&Value>) -> Response {
        self.call(&self.acme, method, &format!("/scim/v2/acme{path}"), body)
    }

    /// The tenant's directory file once the publisher has written every committed change.
    fn directory_file(&self, tenant: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !self.running.shared.directory_files_current() && std::time::Instant::now() < deadline
        {
            std::thread::sleep(Duration::from_millis(5));
        }
        std::fs::read_to_string(self.policy().join(format!("{tenant}.directory.json")))
            .unwrap_or_default()
    }

    fn policy(&self) -> PathBuf {
        self.dir.join("policy")
    }
}

fn id_of(response: &Response) -> String {
    response.json()["id"].as_str().unwrap().to_owned()
}

fn encode(filter: &str) -> String {
    filter.replace(' ', "%20").replace('"', "%22")
}

#[test]
fn okta_provisioning_as_sent() {
    let s = Service::start(Limits::default());
    // The import probes.
    let r = s.acme("GET", "/Users?startIndex=1&count=2", None);
    assert_eq!(
        (r.status, r.json()["totalResults"].clone()),
        (200, json!(0))
    );
    assert!(r
        .header("Content-Type")
        .unwrap()
        .starts_with("application/scim+json"));
    let r = s.acme("GET", "/Groups?startIndex=1&count=100", None);
    assert_eq!(r.status, 200);
    let filter = encode(r#"userName eq "test.user@okta.local""#);
    let r = s.acme(
        "GET",
        &format!("/Users?filter={filter}&startIndex=1&count=100"),
        None,
    );
    assert_eq!(r.json()["totalResults"], json!(0));
    let created = s.acme(
        "POST",
        "/Users",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
            "userName": "test.user@okta.local",
            "name": {"givenName": "Test", "familyName": "User"},
            "emails": [{"primary": true, "value": "test.user@okta.local", "type": "work"}],
            "displayName": "Test User",
            "locale": "en-US",
            "externalId": "00ujl29u0le5T6Aj10h7",
            "groups": [],
            "password": "1mz050nq",
            "active": true
        })),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = id_of(&created);
    let location = created.header("Location").unwrap().to_owned();
    assert!(location.ends_with(&format!("/scim/v2/acme/Users/{id}")));
    assert_eq!(created.json()["meta"]["location"], json!(location));
    assert_eq!(created.json()["meta"]["resourceType"], json!("User"));
    assert_eq!(created.json()["meta"]["version"], json!("W/\"1\""));
    assert!(created.json().get("password").is_none());
    let r = s.acme(
        "GET",
        &format!("/Users?filter={filter}&startIndex=1&count=100"),
        None,
    );
    assert_eq!(r.json()["totalResults"], json!(1));
    assert_eq!(r.json()["Resources"][0]["id"], json!(id));
    assert!(s
        .directory_file("acme")
        .contains(r#"{"email": "test.user@okta.local"}"#));

    // Profile update by PUT, then deactivation by PATCH without a path.
    let mut put = created.json();
    put["name"]["familyName"] = json!("Userson");
    let r = s.acme("PUT", &format!("/Users/{id}"), Some(&put));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.json()["name"]["familyName"], json!("Userson"));
    let r = s.acme(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": false}}]
        })),
    );
    assert_eq!((r.status, r.json()["active"].clone()), (200, json!(false)));
    assert!(s
        .directory_file("acme")
        .contains(r#"{"email": "test.user@okta.local", "active": false}"#));
    let r = s.acme(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"active": true}}]
        })),
    );
    assert_eq!(r.json()["active"], json!(true));

    // Groups: create, add a member, rename, remove the member by filter.
    let group = s.acme(
        "POST",
        "/Groups",
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group"],
            "displayName": "Test SCIMv2",
            "members": []
        })),
    );
    assert_eq!(group.status, 201, "{}", group.body);
    let gid = id_of(&group);
    let r = s.acme("PATCH", &format!("/Groups/{gid}"), Some(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "add", "path": "members", "value": [{"value": id, "display": "test.user@okta.local"}]}]
    })));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(s
        .directory_file("acme")
        .contains(r#"{"name": "test-scimv2", "members": ["test.user@okta.local"]}"#));
    let r = s.acme(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "replace", "value": {"id": gid, "displayName": "Platform Team"}}]
        })),
    );
    assert_eq!(r.json()["displayName"], json!("Platform Team"));
    assert!(s
        .directory_file("acme")
        .contains(r#"{"name": "platform-team", "members": ["test.user@okta.local"]}"#));
    let r = s.acme(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "remove", "path": format!("members[value eq \"{id}\"]")}]
        })),
    );
    assert_eq!(r.json()["members"], json!([]));
    let r = s.acme("DELETE", &format!("/Groups/{gid}"), None);
    assert_eq!(r.status, 204);
    assert_eq!(s.acme("GET", &format!("/Groups/{gid}"), None).status, 404);
}

#[test]
fn entra_provisioning_as_sent() {
    let s = Service::start(Limits::default());
    let r = s.acme(
        "GET",
        &format!(
            "/Users?filter={}",
            encode(r#"userName eq "non-existent user""#)
        ),
        None,
    );
    assert_eq!(r.json()["totalResults"], json!(0));
    let created = s.acme("POST", "/Users", Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User", "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"],
        "externalId": "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef",
        "userName": "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1",
        "active": true,
        "emails": [{"primary": true, "type": "work", "value": "Test_User_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com"}],
        "meta": {"resourceType": "User"},
        "name": {"formatted": "givenName familyName", "familyName": "familyName", "givenName": "givenName"},
        "roles": []
    })));
    assert_eq!(created.status, 201, "{}", created.body);
    let id = id_of(&created);
    let r = s.acme(
        "GET",
        &format!(
            "/Users?filter={}",
            encode(r#"externalId eq "0a21f0f2-8d2a-4f8e-bf98-7363c4aed4ef""#)
        ),
        None,
    );
    assert_eq!(r.json()["totalResults"], json!(1));
    let r = s.acme("GET", &format!("/Users?filter={}", encode(r#"emails[type eq "work"].value eq "test_user_fd0ea19b-0777-472c-9f96-4f70d2226f2e@testuser.com""#)), None);
    assert_eq!(r.json()["totalResults"], json!(1), "{}", r.body);
    let r = s.acme("PATCH", &format!("/Users/{id}"), Some(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [
            {"op": "Replace", "path": "emails[type eq \"work\"].value", "value": "updatedEmail@microsoft.com"},
            {"op": "Replace", "path": "name.familyName", "value": "updatedFamilyName"}
        ]
    })));
    assert_eq!(r.status, 200, "{}", r.body);
    assert!(s
        .directory_file("acme")
        .contains(r#"{"email": "updatedemail@microsoft.com"}"#));
    let r = s.acme(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Replace", "path": "active", "value": "False"}]
        })),
    );
    assert_eq!(r.json()["active"], json!(false));
    let r = s.acme(
        "GET",
        &format!(
            "/Users?filter={}",
            encode(r#"userName eq "Test_User_ab6490ee-1e48-479e-a20b-2d77186b5dd1""#)
        ),
        None,
    );
    assert_eq!(r.json()["Resources"][0]["active"], json!(false));

    let group = s.acme("POST", "/Groups", Some(&json!({
        "schemas": ["urn:ietf:params:scim:schemas:core:2.0:Group", "http://schemas.microsoft.com/2006/11/ResourceManagement/ADSCIM/2.0/Group"],
        "externalId": "8aa1a0c0-c4c3-4bc0-b4a5-2ef676900159",
        "displayName": "displayName",
        "meta": {"resourceType": "Group"}
    })));
    assert_eq!(group.status, 201, "{}", group.body);
    let gid = id_of(&group);
    let r = s.acme(
        "GET",
        &format!(
            "/Groups?excludedAttributes=members&filter={}",
            encode(r#"displayName eq "displayName""#)
        ),
        None,
    );
    assert_eq!(r.json()["totalResults"], json!(1));
    assert!(r.json()["Resources"][0].get("members").is_none());
    let r = s.acme(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&json!({
            "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
            "Operations": [{"op": "Add", "path": "members", "value": [{"$ref": null, "value": id}]}]
        })),
    );
    assert_eq!(r.status, 200, "{}", r.body);
    let r = s.acme(
        "GET",
        &format!("/Groups/{gid}?excludedAttributes=members"),
        None,
    );
    assert!(r.json().get("members").is_none());
    assert_eq!(r.header("ETag"), Some("W/\"2\""));
    let r = s.acme(
        "GET",
        &format!(
            "/Groups?filter={}",
            encode(&format!(r#"id eq "{gid}" and members eq "{id}""#))
        ),
        None,
    );
    assert_eq!(r.json()["totalResults"], json!(1));
    let r = s.acme("PATCH", &format!("/Groups/{gid}"), Some(&json!({
        "schemas": ["urn:ietf:params:scim:api:messages:2.0:PatchOp"],
        "Operations": [{"op": "Remove", "path": "members", "value": [{"$ref": null, "value": id}]}]
    })));
    assert_eq!(r.json()["members"], json!([]));
    // A hard delete of a user in a group takes it out of the group.
    s.acme(
        "PATCH",
        &format!("/Groups/{gid}"),
        Some(&json!({"Operations": [{"op": "Add", "path": "members", "value": [{"value": id}]}]})),
    );
    assert_eq!(s.acme("DELETE", &format!("/Users/{id}"), None).status, 204);
    assert_eq!(
        s.acme("GET", &format!("/Groups/{gid}"), None).json()["members"],
        json!([])
    );
    assert!(s.directory_file("acme").contains("\"users\": [],"));
}

#[test]
fn every_authentication_failure_is_the_same_401() {
    let s = Service::start(Limits::default());
    let unknown = s.call(&s.acme, "GET", "/scim/v2/nosuchtenant/Users", None);
    let cases = [
        s.call(&s.globex, "GET", "/scim/v2/acme/Users", None),
        s.call(&s.acme, "GET", "/scim/v2/globex/Users", None),
        s.call("gh_scim_wrong", "GET", "/scim/v2/acme/Users", None),
        s.call("", "GET", "/scim/v2/acme/Users", None),
        request(&s.addr(), "GET", "/scim/v2/acme/Users", &[], None).unwrap(),
        // Declared, has a token, but not provisioned by SCIM.
        s.call(&s.acme, "GET", "/scim/v2/initech/Users", None),
        s.call(
            &s.acme,
            "POST",
            "/scim/v2/nosuchtenant/Users",
            Some(&json!({"userName": "a@b.c"})),
        ),
    ];
    assert_eq!(unknown.status, 401);
    assert_eq!(
        unknown.json()["schemas"],
        json!(["urn:ietf:params:scim:api:messages:2.0:Error"])
    );
    for case in &cases {
        assert_eq!(case.status, unknown.status);
        assert_eq!(case.body, unknown.body);
        let headers = |r: &Response| -> Vec<(String, String)> {
            r.headers
                .iter()
                .filter(|(n, _)| n != "Date")
                .cloned()
                .collect()
        };
        assert_eq!(headers(case), headers(&unknown));
    }
    // Nothing was written anywhere.
    assert_eq!(
        s.acme("GET", "/Users", None).json()["totalResults"],
        json!(0)
    );
    assert!(!s.policy().join("nosuchtenant.directory.json").exists());
    // Both of a tenant's tokens work, each only for its tenant.
    assert_eq!(
        s.call(&s.globex, "GET", "/scim/v2/globex/Users", None)
            .status,
        200
    );
}

#[test]
fn malformed_requests_are_scim_errors_and_write_nothing() {
    let s = Service::start(Limits {
        max_body_bytes: 4096,
        ..Limits::default()
    });
    let user = s.acme(
        "POST",
        "/Users",
        Some(&json!({"userName": "alice@acme.com"})),
    );
    let id = id_of(&user);
    let before = s.directory_file("acme");
    let writes = || s.call("", "GET", "/healthz", None).json()["counters"]["writes"].clone();
    let writes_before = writes();
    for (method, path, body, status, scim_type) in [
        (
            "POST",
            "/Users".to_owned(),
            &b"{\"userName\": "[..],
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".to_owned(),
            &b"not json"[..],
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".to_owned(),
            &b"[1, 2]"[..],
            400,
            Some("invalidSyntax"),
        ),
        (
            "POST",
            "/Users".to_owned(),
            &b"{\"userName\": \"nobody\"}"[..],
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Users".to_owned(),
            &b"{\"userName\": \"ALICE@acme.com\"}"[..],
            409,
            Some("uniqueness"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            &b"{\"Operations\": [{\"op\": \"replace\", \"value\": {\"active\": \"perhaps\"}}]}"[..],
            400,
            Some("invalidValue"),
        ),
        (
            "PATCH",
            format!("/Users/{id}"),
            &b"{\"Operations\": [{\"op\": \"jump\"}]}"[..],
            400,
            Some("invalidSyntax"),
        ),
        (
            "PUT",
            format!("/Users/{id}"),
            &b"{\"active\": false}"[..],
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Groups".to_owned(),
            &b"{\"displayName\": \"***\"}"[..],
            400,
            Some("invalidValue"),
        ),
        (
            "POST",
            "/Groups".to_owned(),
            &b"{\"displayName\": \"x\", \"members\": [{\"value\": \"nope\"}]}"[..],
            400,
            Some("invalidValue"),
        ),
        (
            "PATCH",
            "/Users/nope".to_owned(),
            &b"{\"Operations\": [{\"op\": \"remove\", \"path\": \"title\"}]}"[..],
            404,
            None,
        ),
        (
            "GET",
            "/Users?filter=userName%20zz%20%22a%22".to_owned(),
            &b""[..],
            400,
            Some("invalidFilter"),
        ),
        (
            "GET",
            "/Users?startIndex=abc".to_owned(),
            &b""[..],
            400,
            Some("invalidValue"),
        ),
    ] {
        let body = (!body.is_empty()).then_some(body);
        let r = s.raw(&s.acme, method, &format!("/scim/v2/acme{path}"), body, &[]);
        assert_eq!(r.status, status, "{method} {path}: {}", r.body);
        assert_eq!(r.json()["scimType"].as_str(), scim_type, "{method} {path}");
        assert_eq!(r.json()["status"], json!(status.to_string()));
    }
    // Too large: refused before it is read.
    let big = format!(
        "{{\"userName\": \"big@acme.com\", \"title\": \"{}\"}}",
        "x".repeat(5000)
    );
    let r = s.raw(
        &s.acme,
        "POST",
        "/scim/v2/acme/Users",
        Some(big.as_bytes()),
        &[],
    );
    assert_eq!(r.status, 413);
    // A PATCH whose second operation fails applies neither.
    let r = s.acme(
        "PATCH",
        &format!("/Users/{id}"),
        Some(&json!({"Operations": [
            {"op": "replace", "path": "displayName", "value": "Alice"},
            {"op": "replace", "path": "userName", "value": 5}
        ]})),
    );
    assert_eq!(r.status, 400);
    assert!(s
        .acme("GET", &format!("/Users/{id}"), None)
        .json()
        .get("displayName")
        .is_none());
    // If-Match with a stale version.
    let r = s.raw(
        &s.acme,
        "DELETE",
        &format!("/scim/v2/acme/Users/{id}"),
        None,
        &[("If-Match", "W/\"7\"")],
    );
    assert_eq!(r.status, 412);
    assert_eq!(s.directory_file("acme"), before);
    assert_eq!(writes(), writes_before);
    assert_eq!(
        s.acme("GET", "/Users", None).json()["totalResults"],
        json!(1)
    );
    assert_eq!(s.acme("GET", "/Nope", None).status, 404);
    assert_eq!(s.acme("DELETE", "/Users", None).status, 405);
}

#[test]
fn the_rate_limit_answers_429_with_retry_after() {
    let s = Service::start(Limits {
        rate: 1.0,
        burst: 3.0,
        ..Limits::default()
    });
    let statuses: Vec<u16> = (0..5)
        .map(|_| s.acme("GET", "/Users", None).status)
        .collect();
    assert_eq!(statuses, [200, 200, 200, 429, 429]);
    let r = s.acme("GET", "/Users", None);
    assert_eq!(r.header("Retry-After"), Some("1"));
    assert_eq!(r.json()["status"], json!("429"));
    // Another tenant has its own bucket.
    assert_eq!(
        s.call(&s.globex, "GET", "/scim/v2/globex/Users", None)
            .status,
        200
    );
    let metrics = request(&s.addr(), "GET", "/metrics", &[], None).unwrap();
    assert!(
        metrics
            .body
            .contains("gatehouse_directory_requests_total{status=\"429\"} 3"),
        "{}",
        metrics.body
    );
}

#[test]
fn lists_page_from_one_and_discovery_answers() {
    let s = Service::start(Limits::default());
    for i in 0..5 {
        let r = s.acme(
            "POST",
            "/Users",
            Some(&json!({"userName": format!("user{i}@acme.com")})),
        );
        assert_eq!(r.status, 201);
    }
    let r = s.acme("GET", "/Users?startIndex=2&count=2", None).json();
    assert_eq!(
        (
            r["totalResults"].clone(),
            r["startIndex"].clone(),
            r["itemsPerPage"].clone()
        ),
        (json!(5), json!(2), json!(2))
    );
    let all = s.acme("GET", "/Users", None).json();
    assert_eq!(r["Resources"][0], all["Resources"][1]);
    let r = s.acme("GET", "/Users?count=0", None).json();
    assert_eq!(
        (r["totalResults"].clone(), r["itemsPerPage"].clone()),
        (json!(5), json!(0))
    );
    let r = s
        .acme(
            "GET",
            &format!("/Users?filter={}", encode(r#"userName sw "USER1""#)),
            None,
        )
        .json();
    assert_eq!(r["totalResults"], json!(1));
    let r = s.acme("GET", "/Users?attributes=userName", None).json();
    let first = r["Resources"][0].as_object().unwrap();
    assert!(
        first.contains_key("userName") && first.contains_key("id") && !first.contains_key("active")
    );

    let spc = s.acme("GET", "/ServiceProviderConfig", None).json();
    assert_eq!(spc["patch"]["supported"], json!(true));
    assert_eq!(spc["bulk"]["supported"], json!(false));
    let types = s.acme("GET", "/ResourceTypes", None).json();
    assert_eq!(types["totalResults"], json!(2));
    assert_eq!(
        s.acme("GET", "/ResourceTypes/User", None).json()["endpoint"],
        json!("/Users")
    );
    let schemas = s.acme("GET", "/Schemas", None).json();
    assert_eq!(schemas["totalResults"], json!(3));
    let user = s.acme(
        "GET",
        "/Schemas/urn:ietf:params:scim:schemas:core:2.0:User",
        None,
    );
    assert_eq!(user.json()["name"], json!("User"));
    let health = request(&s.addr(), "GET", "/healthz", &[], None)
        .unwrap()
        .json();
    assert_eq!(health["counters"]["writes"], json!(5));
}

#[test]
fn discovery_endpoints_are_read_only_405() {
    let s = Service::start(Limits::default());
    for path in [
        "/ServiceProviderConfig",
        "/ResourceTypes",
        "/ResourceTypes/User",
        "/Schemas",
    ] {
        for method in ["POST", "PUT", "PATCH", "DELETE"] {
            // A body that is not JSON changes nothing: the method is what is refused.
            let r = s.raw(
                &s.acme,
                method,
                &format!("/scim/v2/acme{path}"),
                Some(b"not json"),
                &[],
            );
            assert_eq!(r.status, 405, "{method} {path}");
            assert_eq!(r.header("Allow"), Some("GET"), "{method} {path}");
            assert_eq!(r.json()["status"], json!("405"), "{method} {path}");
        }
    }
}

#[test]
fn group_members_are_typed_users_with_their_location() {
    let s = Service::start(Limits::default());
    let alice = id_of(&s.acme(
        "POST",
        "/Users",
        Some(&json!({"userName": "alice@acme.com"})),
    ));
    let bob = id_of(&s.acme("POST", "/Users", Some(&json!({"userName": "bob@acme.com"}))));
    let schema = s
        .acme(
            "GET",
            "/Schemas/urn:ietf:params:scim:schemas:core:2.0:Group",
            None,
        )
        .json();
    let subs: Vec<&str> = schema["attributes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "members")
        .unwrap()["subAttributes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["name"].as_str().unwrap())
        .collect();
    assert_eq!(subs, ["value", "$ref", "type", "display"]);
    // A member by `$ref` alone, and one with `type`.
    let g = s.acme(
        "POST",
        "/Groups",
        Some(&json!({"displayName": "Team", "members": [
            {"$ref": format!("http://elsewhere/scim/v2/acme/Users/{alice}"), "type": "User"},
            {"value": bob, "type": "User"}
        ]})),
    );
    assert_eq!(g.status, 201);
    let members = g.json()["members"].clone();
    let base = format!("http://{}/scim/v2/acme", s.addr());
    assert_eq!(
        members,
        json!([
            {"value": alice, "type": "User", "$ref": format!("{base}/Users/{alice}")},
            {"value": bob, "type": "User", "$ref": format!("{base}/Users/{bob}")}
        ])
    );
    let nested = s.acme(
        "POST",
        "/Groups",
        Some(&json!({"displayName": "Outer", "members": [{"value": id_of(&g), "type": "Group"}]})),
    );
    assert_eq!(
        (nested.status, nested.json()["scimType"].clone()),
        (400, json!("invalidValue"))
    );
}

#[test]
fn groups_are_teams_named_once_per_tenant() {
    let s = Service::start(Limits::default());
    let alice = id_of(&s.acme(
        "POST",
        "/Users",
        Some(&json!({"userName": "alice@acme.com"})),
    ));
    let g = s.acme(
        "POST",
        "/Groups",
        Some(&json!({"displayName": "ML Engineers", "members": [{"value": alice}]})),
    );
    assert_eq!(g.status, 201);
    let clash = s.acme(
        "POST",
        "/Groups",
        Some(&json!({"displayName": "ml  engineers"})),
    );
    assert_eq!(
        (clash.status, clash.json()["scimType"].clone()),
        (409, json!("uniqueness"))
    );
    // globex may have its own ml-engineers, but not with acme's users.
    let r = s.call(
        &s.globex,
        "POST",
        "/scim/v2/globex/Groups",
        Some(&json!({"displayName": "ML Engineers", "members": [{"value": alice}]})),
    );
    assert_eq!(
        (r.status, r.json()["scimType"].clone()),
        (400, json!("invalidValue"))
    );
    let r = s.call(
        &s.globex,
        "POST",
        "/scim/v2/globex/Groups",
        Some(&json!({"displayName": "ML Engineers"})),
    );
    assert_eq!(r.status, 201);
    assert_eq!(
        s.call(
            &s.globex,
            "GET",
            &format!("/scim/v2/globex/Users/{alice}"),
            None
        )
        .status,
        404
    );
    assert!(s
        .directory_file("globex")
        .contains(r#"{"name": "ml-engineers", "members": []}"#));
}

#[test]
fn a_fresh_database_with_a_token_writes_an_empty_directory() {
    let s = Service::start(Limits::default());
    let expected = "{\n  \"directory\": {\"tenant\": \"globex\", \"note\": \"generated by gatehouse directory serve; edit in the identity provider\"},\n  \"users\": [],\n  \"teams\": []\n}\n";
    assert_eq!(s.directory_file("globex"), expected);
    // Not for a tenant that is not provisioned by SCIM, whatever the database holds.
    assert!(!Path::new(&s.policy().join("initech.directory.json")).exists());
}

#[test]
fn a_declared_huge_body_is_refused_and_the_service_stays_up() {
    use std::io::{Read, Write};
    let s = Service::start(Limits::default());
    for auth in [format!("Bearer {}", s.acme), "Bearer nope".to_owned()] {
        let mut stream = std::net::TcpStream::connect(s.addr()).unwrap();
        let head = format!(
            "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: {auth}\r\nContent-Length: 100000000000000\r\n\r\n{{\"userName\":"
        );
        stream.write_all(head.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_secs(10)))
            .unwrap();
        let mut answer = [0u8; 12];
        stream.read_exact(&mut answer).unwrap();
        let status = String::from_utf8_lossy(&answer[9..12]).into_owned();
        assert!(status == "413" || status == "401", "{status}");
    }
    // Chunked, past the limit.
    let mut stream = std::net::TcpStream::connect(s.addr()).unwrap();
    let head = format!(
        "POST /scim/v2/acme/Users HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer {}\r\nTransfer-Encoding: chunked\r\n\r\n",
        s.acme
    );
    stream.write_all(head.as_bytes()).unwrap();
    let chunk = vec![b'x'; 64 * 1024];
    for _ in 0..20 {
        let header = format!("{:x}\r\n", chunk.len());
        if stream.write_all(header.as_bytes()).is_err()
            || stream.write_all(&chunk).is_err()
            || stream.write_all(b"\r\n").is_err()
        {
            break;
        }
    }
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    let mut answer = [0u8; 12];
    stream.read_exact(&mut answer).unwrap();
    assert_eq!(&answer[9..12], b"413");
    assert_eq!(s.acme("GET", "/Users", None).status, 200);
}

/// With `--admin-listen`, the operator's endpoints (whose compile errors name tenants and users)
/// are not on the listener identity providers reach, and that listener serves nothing else.
#[test]
fn operator_endpoints_move_to_their_own_listener() {
    let service = Service::start_with(Limits::default(), Some("127.0.0.1:0".into()));
    let admin = service.running.admin_addr.unwrap().to_string();
    for path in ["/healthz", "/metrics"] {
        let on_scim = request(&service.addr(), "GET", path, &[], None).unwrap();
        assert_eq!(on_scim.status, 404, "{path} on the SCIM listener");
        let unknown = request(&service.addr(), "GET", "/nothing-here", &[], None).unwrap();
        assert_eq!(
            on_scim.body, unknown.body,
            "{path} answers as any unknown path"
        );
        let on_admin = request(&admin, "GET", path, &[], None).unwrap();
        assert_eq!(on_admin.status, 200, "{path} on the operator listener");
    }
    assert_eq!(service.acme("GET", "/Users", None).status, 200);
    let auth = format!("Bearer {}", service.acme);
    let scim_on_admin = request(
        &admin,
        "GET",
        "/scim/v2/acme/Users",
        &[("Authorization", auth.as_str())],
        None,
    )
    .unwrap();
    assert_eq!(scim_on_admin.status, 404);
}
