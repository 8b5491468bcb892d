//! `phalanx serve` as a TAXII 2.1 server, through the real binary on a
//! loopback port: every endpoint, filter, header and error code,
//! pagination, the DELETE permission matrix, and label filtering between
//! users of different clearance.

use phalanx_labels::{Label, Policy, Rank};
use phalanx_model::Timestamp;
use phalanx_store::{Registry, SqliteStore, Store};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashMap};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TAXII: &str = "application/taxii+json;version=2.1";
const ALL: &str = "/taxii2/root/collections/all/";
const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const IND: &str = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const SECRET_IND: &str = "indicator--d2e3f4a5-0b1c-4d2e-8f3a-4b5c6d7e8f90";
const PUBLIC_IND: &str = "indicator--a1b2c3d4-e5f6-4a7b-8c9d-0e1f2a3b4c5d";

use crate::common::HttpAnswer as Resp;
use crate::common::last_line_of_success as last_line;
use crate::common::phalanx_in as phalanx;

fn base64(input: &[u8]) -> String {
    const ABC: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in input.chunks(3) {
        let n = (u32::from(chunk[0]) << 16)
            | (u32::from(*chunk.get(1).unwrap_or(&0)) << 8)
            | u32::from(*chunk.get(2).unwrap_or(&0));
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ABC[((n >> (18 - 6 * i)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// Users of the test node: (name, organisation, role, clearance).
const USERS: &[(&str, &str, &str, &str)] = &[
    ("alice", "CERT-LT", "analyst", "SECRET"),
    ("bob", "CERT-LT", "viewer", "UNCLASSIFIED"),
    ("carol", "CERT-EE", "analyst", "UNCLASSIFIED"),
];

/// Adds the CERT-EE organisation and the users through the CLI; returns
/// each user's API token.
fn add_users(data: &Path) -> HashMap<String, String> {
    let org = phalanx(data, &["org", "add", "--name", "CERT-EE", "--country", "EST", "--member-of", "EU,NATO", "--kind", "national-authority"]);
    assert!(last_line(&org).starts_with("identity--"));
    let mut tokens = HashMap::new();
    for (name, org, role, clearance) in USERS {
        let out = phalanx(
            data,
            &["user", "add", "--org", org, "--name", name, "--role", role, "--clearance", clearance, "--briefed", "EU,NATO"],
        );
        let token = last_line(&out);
        assert!(token.starts_with("phx_"), "{token}");
        tokens.insert((*name).to_string(), token);
    }
    tokens
}

/// The TAXII checks of an answer.
trait TaxiiAnswer {
    /// Asserts the status; a body must be TAXII, and an error the TAXII
    /// error message with a lowercase description.
    fn expect(&self, status: u16) -> &Self;
}

impl TaxiiAnswer for Resp {
    #[track_caller]
    fn expect(&self, status: u16) -> &Self {
        assert_eq!(self.status, status, "body: {}", self.body);
        if self.body.is_empty() {
            return self;
        }
        assert_eq!(self.header("content-type"), Some(TAXII), "content type of {status}");
        if status >= 400 {
            let e = self.json();
            assert_eq!(e["http_status"], status.to_string(), "{}", self.body);
            assert!(e["title"].is_string());
            let d = e["description"].as_str().unwrap_or_default();
            assert!(d.chars().next().is_some_and(|c| !c.is_uppercase()), "error text starts lowercase: {d}");
        }
        self
    }
}

/// A running `phalanx serve` on a temporary node.
struct Node {
    data: tempfile::TempDir,
    child: Option<Child>,
    base: String,
    tokens: HashMap<String, String>,
    agent: ureq::Agent,
}

impl Node {
    fn start() -> Node {
        Self::start_with(&[], &[])
    }

    fn start_with(env: &[(&str, &str)], args: &[&str]) -> Node {
        let data = tempfile::tempdir().expect("tempdir");
        let out = phalanx(data.path(), &["init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU,NATO"]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        let tokens = add_users(data.path());
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        let mut node = Node { data, child: None, base: String::new(), tokens, agent };
        node.spawn(env, args);
        node
    }

    /// Starts the server and waits for its `listening on` line.
    fn spawn(&mut self, env: &[(&str, &str)], args: &[&str]) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_phalanx"));
        cmd.arg("--data").arg(self.data.path()).args(["serve", "--listen", "127.0.0.1:0"]).args(args);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (child, base) = crate::common::spawn_serve(cmd.stderr(Stdio::null()));
        self.base = base;
        self.child = Some(child);
    }

    fn request(&self, method: &str, path: &str, user: Option<&str>, headers: &[(&str, &str)], body: Option<Vec<u8>>) -> Resp {
        let mut b = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        let has_accept = headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept"));
        if !has_accept {
            b = b.header("Accept", TAXII);
        }
        for (k, v) in headers {
            b = b.header(*k, *v);
        }
        if let Some(user) = user {
            let token = &self.tokens[user];
            b = b.header("Authorization", format!("Basic {}", base64(format!("{user}:{token}").as_bytes())));
        }
        let request = b.body(body.unwrap_or_default()).expect("request");
        let answer = crate::common::http_send(&self.agent, request);
        Resp { status: answer.status, headers: answer.headers, body: answer.body }
    }

    fn get(&self, path: &str, user: Option<&str>) -> Resp {
        self.request("GET", path, user, &[], None)
    }

    fn post(&self, path: &str, user: Option<&str>, envelope: &Value) -> Resp {
        self.request("POST", path, user, &[("Content-Type", TAXII)], Some(envelope.to_string().into_bytes()))
    }

    fn delete(&self, path: &str, user: Option<&str>) -> Resp {
        self.request("DELETE", path, user, &[], None)
    }

    /// Sends SIGTERM and waits for the exit; returns the status code.
    fn terminate(&mut self) -> Option<i32> {
        let mut child = self.child.take()?;
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                return status.code();
            }
            if Instant::now() > deadline {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not stop within 30 s of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

fn indicator(id: &str, modified: &str, name: &str, markings: &[&str]) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": modified, "name": name,
        "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "object_marking_refs": markings
    })
}

fn eu_restricted() -> Label {
    Label {
        policy: Policy::Eu,
        classification: Rank::Restricted,
        releasable_to: BTreeSet::new(),
        caveats: BTreeSet::new(),
        tlp: None,
        pap: None,
        exercise: None,
        originator: None,
    }
}

/// Three versions of IND (green), a classified indicator (EU RESTRICTED),
/// a public one (clear), two SCOs and a report; posted by alice.
fn seed(node: &Node) -> Value {
    let marking = phalanx_labels::label_marking_definition(&eu_restricted());
    let marking_id = marking["id"].as_str().expect("id").to_owned();
    let envelope = json!({"objects": [
        indicator(IND, "2026-01-01T00:00:00.000Z", "v1", &[TLP_GREEN]),
        indicator(IND, "2026-02-01T00:00:00.123Z", "v2", &[TLP_GREEN]),
        indicator(IND, "2026-03-01T00:00:00.123456Z", "v3", &[TLP_GREEN]),
        marking,
        indicator(SECRET_IND, "2026-01-05T00:00:00.000Z", "classified", &[TLP_GREEN, &marking_id]),
        indicator(PUBLIC_IND, "2026-01-06T00:00:00.000Z", "public", &[TLP_CLEAR]),
        {"type": "domain-name", "id": "domain-name--dd8b2d4f-2f0c-4a9b-8d3c-4a1e5f6a7b8c", "value": "evil.example", "object_marking_refs": [TLP_GREEN]},
        {"type": "ipv4-addr", "value": "198.51.100.7", "object_marking_refs": [TLP_GREEN]},
        {"type": "report", "spec_version": "2.1", "id": "report--84e4d88f-44ea-4bcd-bbf3-b2c1c320bcb3",
         "created": "2026-01-07T00:00:00.000Z", "modified": "2026-01-07T00:00:00.000Z", "name": "weekly",
         "published": "2026-01-07T00:00:00Z", "object_refs": [IND], "object_marking_refs": [TLP_GREEN]}
    ]});
    let r = node.post(&format!("{ALL}objects/"), Some("alice"), &envelope);
    r.expect(202);
    let status = r.json();
    assert_eq!(status["failure_count"], 0, "{}", r.body);
    status
}

fn ids(envelope: &Value) -> Vec<String> {
    envelope["objects"].as_array().map(|a| a.iter().map(|o| o["id"].as_str().unwrap_or_default().to_owned()).collect()).unwrap_or_default()
}

fn is_taxii_timestamp(t: &str) -> bool {
    t.len() == 27 && t.ends_with('Z') && t.as_bytes()[19] == b'.' && Timestamp::parse(t).is_ok()
}

#[test]
fn discovery_api_root_and_collections() {
    let mut node = Node::start();
    let d = node.get("/taxii2/", None);
    d.expect(200);
    let d = d.json();
    assert!(d["title"].is_string());
    let roots: Vec<&str> = d["api_roots"].as_array().expect("api_roots").iter().filter_map(Value::as_str).collect();
    assert!(roots.contains(&d["default"].as_str().expect("default")), "default is one of api_roots");
    for root in &roots {
        assert!(root.ends_with('/'));
        let r = node.get(root, None);
        r.expect(200);
        let r = r.json();
        assert!(r["title"].is_string());
        assert!(r["versions"].as_array().expect("versions").contains(&json!(TAXII)));
        assert!(r["max_content_length"].as_u64().expect("max_content_length") > 0);
    }
    let c = node.get("/taxii2/root/collections/", Some("alice"));
    c.expect(200);
    let list = c.json()["collections"].as_array().expect("collections").clone();
    let aliases: Vec<&str> = list.iter().filter_map(|c| c["alias"].as_str()).collect();
    assert_eq!(aliases, ["all", "indicators", "observables", "reports", "inbox", "community-eu", "community-nato"]);
    for coll in &list {
        let id = coll["id"].as_str().expect("id");
        let uuid = uuid::Uuid::parse_str(id).expect("uuid");
        assert_eq!(uuid.get_version_num(), 4, "collection ids are UUIDv4");
        let one = node.get(&format!("/taxii2/root/collections/{id}/"), Some("alice"));
        one.expect(200);
        assert_eq!(&one.json(), coll);
        assert!(coll["title"].is_string() && coll["can_read"].is_boolean() && coll["can_write"].is_boolean());
    }
    let all = &list[0];
    assert_eq!((all["can_read"].as_bool(), all["can_write"].as_bool()), (Some(true), Some(true)));
    // Per-user rights: a viewer cannot write; anonymous callers neither.
    let bob = node.get("/taxii2/root/collections/", Some("bob")).json();
    assert_eq!(bob["collections"][0]["can_write"], false);
    assert_eq!(bob["collections"][4]["can_read"], false);
    let anon = node.get("/taxii2/root/collections/", None).json();
    assert_eq!(anon["collections"][0]["can_read"], true);
    assert_eq!(anon["collections"][0]["can_write"], false);
    node.get("/taxii2/root/collections/00000000-0000-4000-8000-000000000000/", Some("alice")).expect(404);
    // Ids stay the same across a restart.
    assert_eq!(node.terminate(), Some(0));
    node.spawn(&[], &[]);
    let again = node.get("/taxii2/root/collections/", Some("alice")).json();
    assert_eq!(again["collections"].as_array(), Some(&list));
}

#[test]
fn media_types_errors_and_paths() {
    let node = Node::start();
    let accept = |v: &str| node.request("GET", "/taxii2/", None, &[("Accept", v)], None);
    accept("application/taxii+json").expect(200);
    accept("application/taxii+json;version=2.1").expect(200);
    accept("application/taxii+json; version=2.1").expect(200);
    accept("application/taxii+json;version=2.1,application/stix+json;version=2.1").expect(200);
    accept("text/html;q=0.9, application/taxii+json;q=0.8").expect(200);
    accept("*/*").expect(200);
    accept("application/taxii+json;version=2.0").expect(406);
    accept("application/json").expect(406);
    accept("application/taxii+json;q=0").expect(406);
    // Every path ends in '/'; unknown paths are TAXII 404s.
    node.get("/taxii2", None).expect(404);
    node.get("/taxii2/root/collections", None).expect(404);
    node.get("/taxii2/nowhere/", None).expect(404);
    // A method not served: 405 with a TAXII error.
    node.request("PUT", "/taxii2/", None, &[], None).expect(405);
    // Object ids are checked.
    node.get(&format!("{ALL}objects/not-an-id/"), Some("alice")).expect(400);
    // Health and metrics (not TAXII).
    let h = node.get("/api/v1/health", None);
    assert_eq!(h.status, 200);
    assert_eq!(h.json()["status"], "ok");
    // Each request counts once under its route, method and status.
    node.get("/api/v1/health", None);
    node.get("/api/v1/health", None);
    let m = node.get("/metrics", None);
    assert_eq!(m.status, 200);
    assert!(m.body.contains("phalanx_http_requests_total"), "{}", m.body);
    assert!(m.body.contains("route=\"/taxii2/\""), "{}", m.body);
    assert!(
        m.body.contains("phalanx_http_requests_total{method=\"GET\",route=\"/api/v1/health\",status=\"200\"} 3\n"),
        "{}",
        m.body
    );
}

#[test]
fn authentication() {
    let node = Node::start();
    // No credentials: anonymous, public data only.
    node.get(&format!("{ALL}objects/"), None).expect(200);
    // Bearer and Token schemes.
    let token = node.tokens["alice"].clone();
    for scheme in ["Bearer", "Token"] {
        let r = node.request("GET", "/taxii2/root/collections/", None, &[("Authorization", &format!("{scheme} {token}"))], None);
        r.expect(200);
        assert_eq!(r.json()["collections"][0]["can_write"], true, "{scheme} authenticates alice");
    }
    // Bad credentials: 401 + WWW-Authenticate: Basic, whatever the resource.
    let bad_basic = format!("Basic {}", base64(format!("bob:{token}").as_bytes()));
    for header in ["Bearer phx_nope", "Basic !!!", "Digest abc", bad_basic.as_str()] {
        let r = node.request("GET", "/taxii2/", None, &[("Authorization", header)], None);
        r.expect(401);
        assert!(r.header("www-authenticate").is_some_and(|v| v.starts_with("Basic")), "{header}");
    }
    // Writes need credentials.
    let r = node.post(&format!("{ALL}objects/"), None, &json!({"objects": []}));
    r.expect(401);
    assert!(r.header("www-authenticate").is_some());
    // Logins are audited by phalanx-auth.
    let store = SqliteStore::open(node.data.path()).expect("store");
    let audit = store.audit_entries(0, 10_000).expect("audit");
    assert!(audit.iter().any(|e| e.action == "login" && e.actor == "user:alice"));
    // Both refusals that got as far as the token are written, though a
    // good token is checked by reads alone on the async worker.
    let failed: Vec<_> = audit.iter().filter(|e| e.action == "login-failed").collect();
    assert!(failed.iter().any(|e| e.target == "bob"), "the basic user name that is not the token's: {failed:?}");
    assert!(failed.iter().any(|e| e.details.contains("unknown")), "the unknown token: {failed:?}");
    // A due login entry is written once, not per request.
    let logins = audit.iter().filter(|e| e.action == "login" && e.actor == "user:alice").count();
    assert_eq!(logins, 1, "alice's token was used three times within the hour");
}

/// Sends only the headers of a POST declaring `length` bytes; returns the
/// status and content type of the answer.
fn raw_post_headers(node: &Node, path: &str, length: usize) -> (u16, Option<String>) {
    use std::io::{Read, Write};
    let addr = node.base.trim_start_matches("http://");
    let mut stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(30))).expect("timeout");
    let auth = base64(format!("alice:{}", node.tokens["alice"]).as_bytes());
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nAccept: {TAXII}\r\nContent-Type: {TAXII}\r\nAuthorization: Basic {auth}\r\nContent-Length: {length}\r\n\r\n"
    );
    stream.write_all(head.as_bytes()).expect("write");
    let mut buf = vec![0u8; 4096];
    let n = stream.read(&mut buf).expect("read");
    let text = String::from_utf8_lossy(&buf[..n]).to_string();
    let status = text.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let content_type = text
        .lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-type: ").map(|_| l["content-type: ".len()..].trim().to_owned()));
    (status, content_type)
}

#[test]
fn post_status_and_write_errors() {
    let node = Node::start();
    let status = seed(&node);
    assert_eq!(status["status"], "complete");
    assert_eq!(status["total_count"], 9);
    assert_eq!(status["success_count"], 9);
    assert_eq!(status["pending_count"], 0);
    assert!(is_taxii_timestamp(status["request_timestamp"].as_str().expect("request_timestamp")));
    let successes = status["successes"].as_array().expect("successes");
    assert_eq!(successes.len(), 9);
    assert!(successes.iter().any(|s| s["id"] == IND && s["version"] == "2026-02-01T00:00:00.123Z"));
    // Exact duplicates are successes; refused objects are failures with a message.
    let envelope = json!({"objects": [
        indicator(IND, "2026-01-01T00:00:00.000Z", "v1", &[TLP_GREEN]),
        indicator(IND, "2026-01-01T00:00:00.000Z", "changed without a new modified", &[TLP_GREEN]),
        {"type": "bogus"},
        {"type": "indicator", "spec_version": "2.1", "id": "indicator--11111111-2222-4333-8444-555555555555"}
    ]});
    let r = node.post(&format!("{ALL}objects/"), Some("alice"), &envelope);
    r.expect(202);
    let s = r.json();
    assert_eq!(s["total_count"], 4);
    assert_eq!(s["success_count"], 1);
    assert_eq!(s["failure_count"], 3);
    let sum = s["success_count"].as_u64().unwrap_or(0) + s["failure_count"].as_u64().unwrap_or(0) + s["pending_count"].as_u64().unwrap_or(0);
    assert_eq!(sum, 4);
    for f in s["failures"].as_array().expect("failures") {
        assert!(f["id"].is_string() && f["version"].is_string());
        assert!(!f["message"].as_str().unwrap_or_default().is_empty(), "{f}");
    }
    // An object that names a member twice is a failure under its own id.
    let twice_id = "indicator--11111111-2222-4333-8444-555555555556";
    let twice = format!(r#"{{"objects":[{{"type":"indicator","spec_version":"2.1","id":"{twice_id}","name":"a","name":"b"}}]}}"#);
    let r = node.request("POST", &format!("{ALL}objects/"), Some("alice"), &[("Content-Type", "application/taxii+json;version=2.1")], Some(twice.into_bytes()));
    r.expect(202);
    let t = r.json();
    assert_eq!(t["failures"][0]["id"], twice_id, "{t}");
    assert!(t["failures"][0]["message"].as_str().unwrap_or_default().contains("'name' appears twice"), "{t}");
    // The status stays queryable by its poster, and only by its poster.
    let id = s["id"].as_str().expect("status id");
    let again = node.get(&format!("/taxii2/root/status/{id}/"), Some("alice"));
    again.expect(200);
    assert_eq!(again.json(), s);
    node.get(&format!("/taxii2/root/status/{id}/"), Some("bob")).expect(404);
    node.get("/taxii2/root/status/00000000-0000-4000-8000-000000000000/", Some("alice")).expect(404);
    // Media type, size, syntax, shape.
    let objects = format!("{ALL}objects/");
    let body = br#"{"objects":[]}"#.to_vec();
    node.request("POST", &objects, Some("alice"), &[("Content-Type", "application/json")], Some(body.clone())).expect(415);
    node.request("POST", &objects, Some("alice"), &[("Content-Type", "application/taxii+json;version=2.0")], Some(body.clone())).expect(415);
    node.request("POST", &objects, Some("alice"), &[], Some(body.clone())).expect(415);
    node.request("POST", &objects, Some("alice"), &[("Content-Type", "application/taxii+json")], Some(body)).expect(202);
    // Over max_content_length: refused from Content-Length, before the body.
    let (status, content_type) = raw_post_headers(&node, &objects, 101 << 20);
    assert_eq!(status, 413);
    assert_eq!(content_type.as_deref(), Some(TAXII));
    node.request("POST", &objects, Some("alice"), &[("Content-Type", TAXII)], Some(b"{not json".to_vec())).expect(400);
    node.request("POST", &objects, Some("alice"), &[("Content-Type", TAXII)], Some(b"[1,2]".to_vec())).expect(422);
    node.request("POST", &objects, Some("alice"), &[("Content-Type", TAXII)], Some(br#"{"objects":{}}"#.to_vec())).expect(422);
    // A wrong shape that is no JSON either is a syntax error; a syntax
    // error after valid objects refuses the whole body (nothing stored).
    node.request("POST", &objects, Some("alice"), &[("Content-Type", TAXII)], Some(b"[1,".to_vec())).expect(400);
    let valid = r#"{"type":"ipv4-addr","spec_version":"2.1","value":"198.51.100.77"}"#;
    let stored = |node: &Node| {
        let page = node.get(&format!("{ALL}objects/?match[type]=ipv4-addr&limit=1000"), Some("alice")).json();
        page["objects"].as_array().map_or(0, |a| a.iter().filter(|o| o["value"] == "198.51.100.77").count())
    };
    let broken = format!(r#"{{"objects":[{valid},{{"type":"x-broken",}}]}}"#);
    node.request("POST", &objects, Some("alice"), &[("Content-Type", TAXII)], Some(broken.into_bytes())).expect(400);
    assert_eq!(stored(&node), 0, "a body refused as not JSON stored nothing");
    let alone = format!(r#"{{"objects":[{valid}]}}"#).into_bytes();
    node.request("POST", &objects, Some("alice"), &[("Content-Type", TAXII)], Some(alone)).expect(202);
    assert_eq!(stored(&node), 1, "the same object alone is stored");
    // Who may write where.
    node.post(&objects, Some("bob"), &json!({"objects": []})).expect(403);
    node.post("/taxii2/root/collections/indicators/objects/", Some("alice"), &json!({"objects": []})).expect(403);
    node.post("/taxii2/root/collections/inbox/objects/", Some("alice"), &json!({"objects": []})).expect(202);
    node.get("/taxii2/root/collections/inbox/objects/", Some("alice")).expect(403);
    // Explicit default TLP for unmarked objects (a write-path option).
    let unmarked = json!({"objects": [indicator("indicator--99999999-8888-4777-8666-555555555555", "2026-01-01T00:00:00.000Z", "u", &[])]});
    let mut unmarked = unmarked;
    if let Some(o) = unmarked["objects"][0].as_object_mut() {
        o.remove("object_marking_refs");
    }
    node.post(&format!("{objects}?default_tlp=green"), Some("alice"), &unmarked).expect(202);
    let got = node.get(&format!("{ALL}objects/indicator--99999999-8888-4777-8666-555555555555/"), Some("alice"));
    got.expect(200);
    assert_eq!(got.json()["objects"][0]["object_marking_refs"], json!([TLP_GREEN]));
    node.post(&format!("{objects}?default_tlp=purple"), Some("alice"), &unmarked).expect(400);
}

#[test]
fn filters_order_and_headers() {
    let node = Node::start();
    seed(&node);
    let get = |q: &str| node.get(&format!("{ALL}objects/{q}"), Some("alice"));
    // Ascending date_added; headers equal the first and last date_added (from the manifest).
    let r = get("");
    r.expect(200);
    let manifest = node.get(&format!("{ALL}manifest/"), Some("alice"));
    manifest.expect(200);
    let records = manifest.json()["objects"].as_array().expect("manifest objects").clone();
    let dates: Vec<&str> = records.iter().filter_map(|m| m["date_added"].as_str()).collect();
    assert!(dates.iter().all(|d| is_taxii_timestamp(d)), "{dates:?}");
    assert!(dates.windows(2).all(|w| w[0] < w[1]), "ascending: {dates:?}");
    assert_eq!(manifest.header("x-taxii-date-added-first"), dates.first().copied());
    assert_eq!(manifest.header("x-taxii-date-added-last"), dates.last().copied());
    assert_eq!(r.header("x-taxii-date-added-first"), dates.first().copied());
    assert_eq!(r.header("x-taxii-date-added-last"), dates.last().copied());
    for m in &records {
        assert_eq!(m["media_type"], "application/stix+json;version=2.1");
        assert!(m["version"].is_string());
    }
    assert_eq!(ids(&r.json()).len(), records.len());
    // Latest version by default; first, all, exact.
    let ind = |q: &str| get(&format!("?match[id]={IND}{q}")).json()["objects"].as_array().cloned().unwrap_or_default();
    assert_eq!(ind("").iter().map(|o| o["name"].clone()).collect::<Vec<_>>(), [json!("v3")]);
    assert_eq!(ind("&match[version]=first")[0]["name"], "v1");
    assert_eq!(ind("&match[version]=all").len(), 3);
    assert_eq!(ind("&match[version]=first,last").len(), 2);
    // Exact versions compare instants: fewer digits match.
    assert_eq!(ind("&match[version]=2026-02-01T00:00:00.123000Z")[0]["name"], "v2");
    assert_eq!(ind("&match[version]=2026-01-01T00:00:00Z,2026-03-01T00:00:00.123456Z").len(), 2);
    assert!(ind("&match[version]=2025-01-01T00:00:00Z").is_empty());
    // Types, ORed within a field, ANDed across fields.
    let types = |q: &str| {
        let v = get(q).json();
        let mut t: Vec<String> = v["objects"].as_array().map(|a| a.iter().map(|o| o["type"].as_str().unwrap_or_default().to_owned()).collect()).unwrap_or_default();
        t.sort();
        t.dedup();
        t
    };
    assert_eq!(types("?match[type]=indicator"), ["indicator"]);
    assert_eq!(types("?match[type]=report,ipv4-addr"), ["ipv4-addr", "report"]);
    assert_eq!(types(&format!("?match[type]=report&match[id]={IND}")), Vec::<String>::new());
    assert_eq!(get("?match[type]=x-unknown-type").body, "{}", "a valid type with nothing: empty result");
    assert!(get("?match[spec_version]=2.0").body == "{}");
    assert_eq!(ids(&get("?match[spec_version]=2.1&match[type]=report").json()).len(), 1);
    // added_after is strictly after, any precision.
    let third = dates[2];
    let after = get(&format!("?added_after={third}")).json();
    assert_eq!(ids(&after).len(), dates.len() - 3);
    let coarse = &third[..19];
    assert!(get(&format!("?added_after={coarse}Z")).status == 200);
    // Malformed or repeated parameters.
    for q in [
        "?limit=0", "?limit=-1", "?limit=x", "?added_after=yesterday", "?match[type]=indicator&match[type]=report",
        "?match[version]=newest", "?match[id]=nope", "?match[spec_version]=two", "?added_after=1&added_after=2",
        "?next=garbage",
    ] {
        get(q).expect(400);
    }
    // Views narrow by type; read rule still applies.
    let view = node.get("/taxii2/root/collections/indicators/objects/", Some("alice")).json();
    assert!(view["objects"].as_array().expect("objects").iter().all(|o| o["type"] == "indicator"));
    let obs = node.get("/taxii2/root/collections/observables/manifest/", Some("alice")).json();
    assert_eq!(obs["objects"].as_array().expect("objects").len(), 2);
    let reports = node.get("/taxii2/root/collections/reports/objects/?match[type]=indicator", Some("alice"));
    assert_eq!(reports.body, "{}");
}

#[test]
fn pagination_with_next_and_the_server_cap() {
    let node = Node::start_with(&[("PHALANX_PAGE_SIZE_CAP", "4")], &[]);
    seed(&node);
    let base = format!("{ALL}objects/?match[version]=all");
    let full_manifest = node.get(&format!("{ALL}manifest/?match[version]=all"), Some("alice")).json();
    assert_eq!(full_manifest["more"], true, "the cap of 4 applies without a limit");
    // Page with limit=2 until more is false.
    let mut seen = Vec::new();
    let mut next: Option<String> = None;
    for _ in 0..50 {
        let q = match &next {
            Some(n) => format!("{base}&limit=2&next={n}"),
            None => format!("{base}&limit=2"),
        };
        let page = node.get(&q, Some("alice"));
        page.expect(200);
        let v = page.json();
        let got = ids(&v);
        assert!(got.len() <= 2);
        seen.extend(got);
        if v["more"] == true {
            next = Some(v["next"].as_str().expect("next when more").to_owned());
        } else {
            assert!(v.get("next").is_none());
            break;
        }
    }
    // The 9 objects seeded (3 versions of IND) and what init stored; the
    // same set whatever the page size.
    assert!(seen.len() >= 11, "{seen:?}");
    assert_eq!(seen.len(), count_all(&node, &base, "alice"));
    // limit above the cap: capped, more=true, and the same walk with next.
    let capped = node.get(&format!("{base}&limit=100"), Some("alice")).json();
    assert_eq!(ids(&capped).len(), 4);
    assert_eq!(capped["more"], true);
    let n = capped["next"].as_str().expect("next").to_owned();
    // next is bound to the filters and the caller (not to limit).
    node.get(&format!("{base}&limit=3&next={n}"), Some("alice")).expect(200);
    node.get(&format!("{ALL}objects/?match[version]=last&next={n}"), Some("alice")).expect(400);
    node.get(&format!("{base}&next={n}"), Some("bob")).expect(400);
    node.get(&format!("{ALL}manifest/?match[version]=all&next={n}"), Some("alice")).expect(400);
    // Manifest pages carry next too (taxii2-client's as_pages needs it).
    let m = node.get(&format!("{ALL}manifest/?limit=3"), Some("alice")).json();
    assert_eq!(m["more"], true);
    let n = m["next"].as_str().expect("manifest next");
    let m2 = node.get(&format!("{ALL}manifest/?limit=3&next={n}"), Some("alice")).json();
    assert_ne!(ids(&m2), ids(&m));
    // added_after from X-TAXII-Date-Added-Last is the other way to page.
    let first = node.get(&format!("{base}&limit=2"), Some("alice"));
    let last = first.header("x-taxii-date-added-last").expect("last header").to_owned();
    let rest = node.get(&format!("{base}&added_after={last}&limit=100"), Some("alice")).json();
    let mut walked = ids(&first.json());
    walked.extend(ids(&rest));
    assert_eq!(walked[..4], seen[..4]);
}

/// Every object a user reads with `query`, walking `next` (bounded).
fn count_all(node: &Node, query: &str, user: &str) -> usize {
    let mut n = 0;
    let mut next: Option<String> = None;
    for _ in 0..1000 {
        let q = match &next {
            Some(t) => format!("{query}&next={t}"),
            None => query.to_owned(),
        };
        let v = node.get(&q, Some(user)).json();
        n += ids(&v).len();
        match v["next"].as_str() {
            Some(t) if v["more"] == true => next = Some(t.to_owned()),
            _ => return n,
        }
    }
    panic!("more than 1000 pages");
}

#[test]
fn object_versions_and_read_rule() {
    let node = Node::start();
    seed(&node);
    let obj = |id: &str, q: &str, user: Option<&str>| node.get(&format!("{ALL}objects/{id}/{q}"), user);
    let r = obj(IND, "", Some("alice"));
    r.expect(200);
    assert_eq!(r.json()["objects"][0]["modified"], "2026-03-01T00:00:00.123456Z", "timestamps as given");
    assert!(r.header("x-taxii-date-added-first").is_some_and(is_taxii_timestamp));
    assert_eq!(r.header("x-taxii-date-added-first"), r.header("x-taxii-date-added-last"));
    assert_eq!(obj(IND, "?match[version]=all", Some("alice")).json()["objects"].as_array().map(Vec::len), Some(3));
    assert_eq!(obj(IND, "?match[version]=2026-01-01T00:00:00.000Z", Some("alice")).json()["objects"][0]["name"], "v1");
    obj(IND, "?match[version]=2020-01-01T00:00:00Z", Some("alice")).expect(404);
    obj(IND, "?match[version]=all&limit=2", Some("alice")).expect(200);
    let v = node.get(&format!("{ALL}objects/{IND}/versions/"), Some("alice"));
    v.expect(200);
    assert_eq!(v.json()["versions"], json!(["2026-01-01T00:00:00.000Z", "2026-02-01T00:00:00.123Z", "2026-03-01T00:00:00.123456Z"]));
    assert!(v.header("x-taxii-date-added-last").is_some());
    let paged = node.get(&format!("{ALL}objects/{IND}/versions/?limit=2"), Some("alice")).json();
    assert_eq!(paged["more"], true);
    assert_eq!(paged["versions"].as_array().map(Vec::len), Some(2));
    // Unversioned objects: the version is the date_added.
    let sco = node.get(&format!("{ALL}objects/?match[type]=ipv4-addr"), Some("alice")).json();
    let sco_id = sco["objects"][0]["id"].as_str().expect("sco id").to_owned();
    let sv = node.get(&format!("{ALL}objects/{sco_id}/versions/"), Some("alice")).json();
    assert!(sv["versions"][0].as_str().is_some_and(is_taxii_timestamp));
    // Missing and unreadable answer alike.
    obj("indicator--00000000-0000-4000-8000-000000000000", "", Some("alice")).expect(404);
    assert_eq!(obj(SECRET_IND, "", Some("alice")).status, 200);
    let hidden = obj(SECRET_IND, "", Some("bob"));
    hidden.expect(404);
    let missing = obj("indicator--00000000-0000-4000-8000-000000000001", "", Some("bob"));
    assert_eq!(hidden.json()["title"], missing.json()["title"]);
    node.get(&format!("{ALL}objects/{SECRET_IND}/versions/"), Some("bob")).expect(404);
    // Listings are filtered by the read rule in the store.
    let listed = |user: Option<&str>| ids(&node.get(&format!("{ALL}objects/?match[type]=indicator"), user).json());
    let secret_reads = || {
        let store = SqliteStore::open(node.data.path()).expect("store");
        let audit = store.audit_entries(0, 100_000).expect("audit");
        audit.iter().filter(|e| e.action == "read" && e.target == SECRET_IND && e.actor == "user:alice").count()
    };
    let before = secret_reads();
    let alice = listed(Some("alice"));
    assert_eq!(secret_reads(), before + 1, "a listing with a classified object is audited too");
    let bob = listed(Some("bob"));
    let anon = listed(None);
    assert!(alice.contains(&SECRET_IND.to_owned()) && alice.contains(&IND.to_owned()));
    assert!(!bob.contains(&SECRET_IND.to_owned()) && bob.contains(&IND.to_owned()));
    assert_eq!(anon, [PUBLIC_IND.to_owned()], "anonymous callers see only TLP:CLEAR unclassified data");
    let anon_manifest = node.get(&format!("{ALL}manifest/?match[version]=all"), None).json();
    assert!(ids(&anon_manifest).iter().all(|id| id != IND && id != SECRET_IND));
    // Carol (CERT-EE, EU member, RESTRICTED) does not see alice's TLP:GREEN?
    // Green with empty releasable_to reaches the default community: she does.
    assert!(listed(Some("carol")).contains(&IND.to_owned()));
    // Alice's read of the classified object was audited.
    let store = SqliteStore::open(node.data.path()).expect("store");
    let audit = store.audit_entries(0, 100_000).expect("audit");
    assert!(audit.iter().any(|e| e.action == "read" && e.target == SECRET_IND && e.actor == "user:alice" && e.details.contains("taxii")));
    assert!(!audit.iter().any(|e| e.action == "read" && e.actor == "user:bob"));
}

#[test]
fn delete_permissions_and_effect() {
    let node = Node::start();
    seed(&node);
    let del = |coll: &str, id: &str, q: &str, user: Option<&str>| {
        node.delete(&format!("/taxii2/root/collections/{coll}/objects/{id}/{q}"), user)
    };
    del("all", IND, "", None).expect(401);
    del("all", IND, "", Some("bob")).expect(403); // r=t, w=f
    del("inbox", IND, "", Some("bob")).expect(404); // r=f, w=f
    del("inbox", IND, "", Some("alice")).expect(403); // r=f, w=t
    del("indicators", IND, "", Some("alice")).expect(403); // r=t, w=f (a view)
    del("all", IND, "", Some("carol")).expect(403); // readable, but not the originator
    del("all", SECRET_IND, "", Some("carol")).expect(404); // not readable: as missing
    del("all", "indicator--00000000-0000-4000-8000-000000000000", "", Some("alice")).expect(404);
    // One version.
    let r = del("all", IND, "?match[version]=2026-03-01T00:00:00.123456Z", Some("alice"));
    assert_eq!(r.status, 200, "{}", r.body);
    assert_eq!(r.header("content-type"), Some(TAXII));
    node.get(&format!("{ALL}objects/{IND}/?match[version]=2026-03-01T00:00:00.123456Z"), Some("alice")).expect(404);
    let latest = node.get(&format!("{ALL}objects/{IND}/"), Some("alice")).json();
    assert_eq!(latest["objects"][0]["name"], "v2", "the previous version is the latest now");
    // All versions.
    del("all", IND, "", Some("alice")).expect(200);
    node.get(&format!("{ALL}objects/{IND}/"), Some("alice")).expect(404);
    node.get(&format!("{ALL}objects/{IND}/versions/"), Some("alice")).expect(404);
    let manifest = node.get(&format!("{ALL}manifest/?match[version]=all"), Some("alice")).json();
    assert!(!ids(&manifest).contains(&IND.to_owned()));
    del("all", IND, "", Some("alice")).expect(404);
    // An SCO (unversioned).
    let sco = "domain-name--dd8b2d4f-2f0c-4a9b-8d3c-4a1e5f6a7b8c";
    del("all", sco, "", Some("alice")).expect(200);
    node.get(&format!("{ALL}objects/{sco}/"), Some("alice")).expect(404);
    let store = SqliteStore::open(node.data.path()).expect("store");
    let audit = store.audit_entries(0, 100_000).expect("audit");
    assert_eq!(audit.iter().filter(|e| e.action == "delete" && e.actor == "user:alice").count(), 3);
}

#[test]
fn configuration_file_and_environment() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("phalanx.toml");
    std::fs::write(&config, "version = 1\npage_size_cap = 2\ntitle = \"CERT-LT node\"\nbody_limit = 4096\n").expect("write");
    let node = Node::start_with(&[("PHALANX_TITLE", "from env")], &["--config", config.to_str().expect("utf-8")]);
    assert_eq!(node.get("/taxii2/", None).json()["title"], "from env", "env overrides the file");
    assert_eq!(node.get("/taxii2/root/", None).json()["max_content_length"], 4096);
    seed_small(&node);
    let page = node.get(&format!("{ALL}objects/"), Some("alice")).json();
    assert_eq!(ids(&page).len(), 2);
    assert_eq!(page["more"], true);
    // Bad files and values stop the server with an error naming the key.
    for (text, needle) in [
        ("version = 2\n", "version"),
        ("lisen = \"127.0.0.1:1\"\n", "lisen"),
        ("page_size_cap = 0\n", "page_size_cap"),
        ("default_tlp = \"purple\"\n", "default_tlp"),
        ("tls_cert = \"/nonexistent.pem\"\n", "tls_key"),
    ] {
        std::fs::write(&config, text).expect("write");
        let out = phalanx(node.data.path(), &["serve", "--listen", "127.0.0.1:0", "--config", config.to_str().expect("utf-8")]);
        assert_eq!(out.status.code(), Some(2), "{text}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains(needle), "{text}: {err}");
    }
    // listen and data_dir from the file (no --data, no PHALANX_DATA).
    let data_dir = node.data.path().to_str().expect("utf-8");
    std::fs::write(&config, format!("version = 1\nlisten = \"127.0.0.1:0\"\ndata_dir = {data_dir:?}\n")).expect("write");
    let mut child = Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .args(["serve", "--config", config.to_str().expect("utf-8")])
        .env_remove("PHALANX_DATA")
        .env_remove("PHALANX_LISTEN")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    let mut line = String::new();
    BufReader::new(child.stdout.take().expect("stdout")).read_line(&mut line).expect("read");
    let base = line.trim().strip_prefix("listening on ").unwrap_or_else(|| panic!("{line}")).to_owned();
    let other = Node { data: tempfile::tempdir().expect("tempdir"), child: Some(child), base, tokens: node.tokens.clone(), agent: node.agent.clone() };
    let served = other.get("/taxii2/root/collections/", Some("alice"));
    served.expect(200);
    assert_eq!(served.json(), node.get("/taxii2/root/collections/", Some("alice")).json(), "same node, same collection ids");
    drop(other);
    let out = Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .arg("--data")
        .arg(node.data.path())
        .args(["serve", "--listen", "127.0.0.1:0"])
        .env("PHALANX_BODY_LIMIT", "lots")
        .output()
        .expect("run");
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("PHALANX_BODY_LIMIT"));
}

fn seed_small(node: &Node) {
    let envelope = json!({"objects": [
        indicator(IND, "2026-01-01T00:00:00.000Z", "v1", &[TLP_GREEN]),
        indicator(PUBLIC_IND, "2026-01-06T00:00:00.000Z", "public", &[TLP_CLEAR]),
    ]});
    node.post(&format!("{ALL}objects/"), Some("alice"), &envelope).expect(202);
}

#[test]
fn graceful_shutdown_keeps_acknowledged_writes() {
    let mut node = Node::start();
    // Writes running while SIGTERM arrives: every 202 must be stored.
    let base = node.base.clone();
    let token = node.tokens["alice"].clone();
    let writer = std::thread::spawn(move || {
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let mut acknowledged = Vec::new();
        for i in 0..200u32 {
            let id = format!("indicator--{}", uuid::Uuid::new_v4());
            let body = json!({"objects": [indicator(&id, "2026-01-01T00:00:00.000Z", &format!("n{i}"), &[TLP_GREEN])]});
            let request = ureq::http::Request::builder()
                .method("POST")
                .uri(format!("{base}{ALL}objects/"))
                .header("Accept", TAXII)
                .header("Content-Type", TAXII)
                .header("Authorization", format!("Bearer {token}"))
                .body(body.to_string().into_bytes())
                .expect("request");
            match agent.run(request) {
                Ok(r) if r.status().as_u16() == 202 => acknowledged.push(id),
                _ => break,
            }
        }
        acknowledged
    });
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(node.terminate(), Some(0), "clean exit on SIGTERM");
    let acknowledged = writer.join().expect("writer");
    assert!(!acknowledged.is_empty());
    let store = SqliteStore::open(node.data.path()).expect("store");
    let user = store.find_user("alice").expect("find").expect("alice");
    let actor = store.actor(&user, None).expect("actor");
    for id in &acknowledged {
        let got = store.get(&actor.subject, id, &phalanx_store::VersionFilter::Last).expect("get");
        assert_eq!(got.len(), 1, "acknowledged {id} is stored");
    }
}

#[test]
fn tls_with_rustls() {
    let have = |tool: &str| Command::new(tool).arg("--version").stdout(Stdio::null()).stderr(Stdio::null()).status().is_ok();
    if !have("openssl") || !have("curl") {
        eprintln!("skipped: openssl or curl not installed");
        return;
    }
    let certs = tempfile::tempdir().expect("tempdir");
    let (cert, key) = (certs.path().join("cert.pem"), certs.path().join("key.pem"));
    let made = Command::new("openssl")
        .args(["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1", "-subj", "/CN=localhost"])
        .args(["-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost", "-keyout"])
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("openssl");
    assert!(made.success());
    let node = Node::start_with(&[], &["--tls-cert", cert.to_str().expect("utf-8"), "--tls-key", key.to_str().expect("utf-8")]);
    assert!(node.base.starts_with("https://127.0.0.1:"), "{}", node.base);
    let out = Command::new("curl")
        .args(["-sS", "--cacert"])
        .arg(&cert)
        .args(["--tlsv1.2", "-H", &format!("Accept: {TAXII}"), "-w", "\n%{http_code}"])
        .arg(format!("{}/taxii2/", node.base))
        .output()
        .expect("curl");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.ends_with("\n200"), "{text} {}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("api_roots"));
}
