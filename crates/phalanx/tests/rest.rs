//! The REST API (`/api/v1`) through the real `phalanx serve` on a loopback
//! port: search, get, versions and relations that never show what a user
//! may not read, administration refused to non-administrators, the label
//! preview, the error table, the OpenAPI document and the API page.

use serde_json::{Value, json};
use std::collections::HashMap;
use std::process::{Child, Command, Stdio};

const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const TLP_RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";
const IND: &str = "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f601";
const SECRET_IND: &str = "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f602";
const PUBLIC_IND: &str = "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f603";
const MISSING: &str = "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f6ff";
const REL_PUBLIC: &str = "relationship--1b1d2c3e-4f50-4a61-8b72-9c83d4e5f601";
const REL_SECRET: &str = "relationship--1b1d2c3e-4f50-4a61-8b72-9c83d4e5f602";

use crate::common::phalanx_in as phalanx;

use crate::common::last_line_of_success as last_line;

pub(crate) use crate::common::HttpAnswer as Resp;

/// The REST API's checks of an answer.
pub(crate) trait RestAnswer {
    /// Asserts the status; an error must be the table's JSON error.
    fn expect(&self, status: u16) -> Value;
    /// Asserts an error with `status` and `code`; returns the message.
    fn error(&self, status: u16, code: &str) -> String;
}

impl RestAnswer for Resp {
    #[track_caller]
    fn expect(&self, status: u16) -> Value {
        assert_eq!(self.status, status, "body: {}", self.body);
        if status >= 400 {
            assert_eq!(self.headers.get("content-type").map(String::as_str), Some("application/json"));
            let e = self.json();
            assert_eq!(e["http_status"], status, "{}", self.body);
            assert!(e["code"].as_str().is_some_and(|c| !c.is_empty()));
            let m = e["message"].as_str().unwrap_or_default();
            assert!(m.chars().next().is_some_and(|c| !c.is_uppercase()), "error text starts lowercase: {m}");
            e
        } else {
            self.json()
        }
    }

    #[track_caller]
    fn error(&self, status: u16, code: &str) -> String {
        let e = self.expect(status);
        assert_eq!(e["code"], code, "{}", self.body);
        e["message"].as_str().unwrap_or_default().to_owned()
    }
}

/// A running `phalanx serve` with users alice (CERT-LT analyst, SECRET),
/// bob (CERT-LT viewer, UNCLASSIFIED), carol (CERT-EE analyst,
/// UNCLASSIFIED) and the node's admin (node-admin, UNCLASSIFIED).
pub(crate) struct Server {
    pub(crate) data: tempfile::TempDir,
    child: Child,
    base: String,
    tokens: HashMap<String, String>,
    agent: ureq::Agent,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    pub(crate) fn start() -> Server {
        Server::start_with(None)
    }

    /// A server whose `serve` reads the TOML configuration `config`.
    pub(crate) fn start_with(config: Option<&str>) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        let d = data.path();
        last_line(&phalanx(d, &["init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU,NATO"]));
        last_line(&phalanx(d, &["org", "add", "--name", "CERT-EE", "--country", "EST", "--member-of", "EU,NATO"]));
        let mut tokens = HashMap::new();
        for (name, org, role, clearance) in [
            ("alice", "CERT-LT", "analyst", "SECRET"),
            ("bob", "CERT-LT", "viewer", "UNCLASSIFIED"),
            ("carol", "CERT-EE", "analyst", "UNCLASSIFIED"),
        ] {
            let out = phalanx(
                d,
                &["user", "add", "--org", org, "--name", name, "--role", role, "--clearance", clearance, "--briefed", "EU,NATO"],
            );
            tokens.insert(name.to_owned(), last_line(&out));
        }
        tokens.insert("admin".to_owned(), last_line(&phalanx(d, &["token", "new", "--user", "admin"])));
        let (child, base) = crate::common::spawn_serve(
            Command::new(env!("CARGO_BIN_EXE_phalanx"))
                .arg("--data")
                .arg(d)
                .args(["serve", "--listen", "127.0.0.1:0"])
                .args(config.map(|text| {
                    let path = data.path().join("serve.toml");
                    std::fs::write(&path, text).expect("write the configuration");
                    vec!["--config".to_owned(), path.display().to_string()]
                }).unwrap_or_default())
                .env_remove("PHALANX_USER")
                .stderr(Stdio::null()),
        );
        let agent = crate::common::http_agent();
        Server { data, child, base, tokens, agent }
    }

    pub(crate) fn request(&self, method: &str, path: &str, user: Option<&str>, content_type: Option<&str>, body: Option<String>) -> Resp {
        let mut b = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        if let Some(user) = user {
            b = b.header("Authorization", format!("Bearer {}", self.tokens[user]));
        }
        if let Some(ct) = content_type {
            b = b.header("Content-Type", ct);
        }
        let request = b.body(body.unwrap_or_default().into_bytes()).expect("request");
        let answer = crate::common::http_send(&self.agent, request);
        Resp { status: answer.status, headers: answer.headers, body: answer.body }
    }

    pub(crate) fn get(&self, path: &str, user: Option<&str>) -> Resp {
        self.request("GET", path, user, None, None)
    }

    pub(crate) fn post(&self, path: &str, user: Option<&str>, body: &Value) -> Resp {
        self.request("POST", path, user, Some("application/json"), Some(body.to_string()))
    }

    /// The audit actions recorded for `actor` (e.g. `user:admin`).
    fn audited(&self, actor: &str) -> Vec<String> {
        let store = phalanx_store::SqliteStore::open(self.data.path()).expect("open store");
        let entries = phalanx_store::Registry::audit_entries(&store, 0, 100_000).expect("audit");
        entries.into_iter().filter(|e| e.actor == actor).map(|e| e.action).collect()
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

fn relationship(id: &str, source: &str, target: &str) -> Value {
    json!({
        "type": "relationship", "spec_version": "2.1", "id": id,
        "created": "2026-01-02T00:00:00.000Z", "modified": "2026-01-02T00:00:00.000Z",
        "relationship_type": "related-to", "source_ref": source, "target_ref": target,
        "object_marking_refs": [TLP_GREEN]
    })
}

/// The EU RESTRICTED label marking-definition.
fn eu_restricted() -> Value {
    let label: phalanx_labels::Label = serde_json::from_value(json!({"policy": "EU", "classification": "RESTRICTED"})).expect("label");
    phalanx_labels::label_marking_definition(&label)
}

/// A server, seeded: alice writes IND (two versions, green), the
/// EU RESTRICTED SECRET_IND, PUBLIC_IND (clear) and a relationship
/// IND -> PUBLIC_IND; carol, who cannot see SECRET_IND, writes a green
/// relationship IND -> SECRET_IND (its label is not raised: she sees only
/// IND), which bob may read but must not be shown.
fn server() -> Server {
    {
        let s = Server::start();
        let marking = eu_restricted();
        let marking_id = marking["id"].as_str().expect("id").to_owned();
        let bundle = json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
            indicator(IND, "2026-01-01T00:00:00.000Z", "ransomware beacon v1", &[TLP_GREEN]),
            indicator(IND, "2026-02-01T00:00:00.000Z", "ransomware beacon v2", &[TLP_GREEN]),
            marking,
            indicator(SECRET_IND, "2026-01-05T00:00:00.000Z", "classified ransomware", &[TLP_GREEN, &marking_id]),
            indicator(PUBLIC_IND, "2026-01-06T00:00:00.000Z", "public phishing", &[TLP_CLEAR]),
            relationship(REL_PUBLIC, IND, PUBLIC_IND),
        ]});
        let report = s.post("/api/v1/objects", Some("alice"), &bundle).expect(200);
        assert_eq!(report["refused"], 0, "{report}");
        assert_eq!(report["results"].as_array().map(Vec::len), Some(6));
        let report = s.post("/api/v1/objects", Some("carol"), &relationship(REL_SECRET, IND, SECRET_IND)).expect(200);
        assert_eq!(report["results"][0]["status"], "accepted", "{report}");
        s
    }
}

fn ids(page: &Value, key: &str) -> Vec<String> {
    page[key].as_array().map(|a| a.iter().map(|o| o["id"].as_str().unwrap_or_default().to_owned()).collect()).unwrap_or_default()
}

#[test]
fn search_is_filtered_by_the_read_rule_and_pages_with_a_cursor() {
    let s = server();
    let alice = s.get("/api/v1/objects?type=indicator&count=true", Some("alice")).expect(200);
    let bob = s.get("/api/v1/objects?type=indicator&count=true", Some("bob")).expect(200);
    assert!(ids(&alice, "objects").contains(&SECRET_IND.to_owned()));
    assert!(!ids(&bob, "objects").contains(&SECRET_IND.to_owned()), "bob must not see the classified indicator");
    assert_eq!(alice["total"], 3);
    assert_eq!(bob["total"], 2, "the count is filtered too");
    // Full text: the classified match is not even counted for bob.
    let text = s.get("/api/v1/objects?q=ransomware&count=true", Some("bob")).expect(200);
    assert_eq!((ids(&text, "objects"), &text["total"]), (vec![IND.to_owned()], &json!(1)));
    // A value, in any case: the indicators whose patterns test it, the
    // classified one only for alice.
    let value = s.get("/api/v1/objects?q=EVIL.example&count=true", Some("bob")).expect(200);
    assert_eq!(value["total"], 2, "{value}");
    assert!(!ids(&value, "objects").contains(&SECRET_IND.to_owned()));
    assert_eq!(s.get("/api/v1/objects?q=EVIL.example&count=true", Some("alice")).expect(200)["total"], 3);
    // Label filters narrow, never widen.
    let classified = "/api/v1/objects?min_classification=RESTRICTED&count=true";
    assert_eq!(s.get(classified, Some("alice")).expect(200)["total"], 1);
    assert_eq!(s.get(classified, Some("bob")).expect(200)["total"], 0);
    let eu = s.get("/api/v1/objects?policy=EU", Some("alice")).expect(200);
    assert_eq!(ids(&eu, "objects"), vec![SECRET_IND.to_owned()]);
    assert_eq!(eu["objects"][0]["label"]["classification"], "RESTRICTED");
    let clear = s.get("/api/v1/objects?tlp=clear&type=indicator", None).expect(200);
    assert_eq!(ids(&clear, "objects"), vec![PUBLIC_IND.to_owned()], "anonymous callers read public data only");
    // Every version, or the first.
    let all = s.get(&format!("/api/v1/objects?id={IND}&version=all"), Some("bob")).expect(200);
    assert_eq!(all["objects"].as_array().map(Vec::len), Some(2));
    let first = s.get(&format!("/api/v1/objects?id={IND}&version=first"), Some("bob")).expect(200);
    assert_eq!(first["objects"][0]["version"], "2026-01-01T00:00:00.000Z");
    // Paging with a cursor walks every object once.
    let mut seen = Vec::new();
    let mut path = "/api/v1/objects?type=indicator,relationship&limit=1".to_owned();
    loop {
        let page = s.get(&path, Some("alice")).expect(200);
        seen.extend(ids(&page, "objects"));
        let Some(next) = page["next"].as_str() else {
            assert_eq!(page["more"], false);
            break;
        };
        // Another caller, or other filters, cannot use the cursor.
        s.get(&format!("/api/v1/objects?type=indicator,relationship&cursor={next}"), Some("bob")).error(400, "invalid_next");
        s.get(&format!("/api/v1/objects?type=indicator&cursor={next}"), Some("alice")).error(400, "invalid_next");
        path = format!("/api/v1/objects?type=indicator,relationship&limit=1&cursor={next}");
    }
    assert_eq!(seen.len(), 5, "{seen:?}");
    let mut unique = seen.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5, "no object twice: {seen:?}");
}

#[test]
fn get_and_versions_answer_an_unreadable_object_like_a_missing_one() {
    let s = server();
    let mine = s.get(&format!("/api/v1/objects/{SECRET_IND}"), Some("alice")).expect(200);
    assert_eq!(mine["object"]["name"], "classified ransomware");
    assert_eq!(mine["label"]["policy"], "EU");
    let hidden = s.get(&format!("/api/v1/objects/{SECRET_IND}"), Some("bob")).error(404, "not_found");
    let missing = s.get(&format!("/api/v1/objects/{MISSING}"), Some("bob")).error(404, "not_found");
    assert_eq!(hidden.replace(SECRET_IND, "ID"), missing.replace(MISSING, "ID"), "the same answer");
    s.get(&format!("/api/v1/objects/{SECRET_IND}/versions"), Some("bob")).error(404, "not_found");
    let latest = s.get(&format!("/api/v1/objects/{IND}"), Some("bob")).expect(200);
    assert_eq!(latest["version"], "2026-02-01T00:00:00.000Z");
    let first = s.get(&format!("/api/v1/objects/{IND}?version=2026-01-01T00:00:00Z"), Some("bob")).expect(200);
    assert_eq!(first["object"]["name"], "ransomware beacon v1");
    let versions = s.get(&format!("/api/v1/objects/{IND}/versions?limit=1"), Some("bob")).expect(200);
    assert_eq!(versions["objects"].as_array().map(Vec::len), Some(1));
    let next = versions["next"].as_str().expect("a second page");
    let rest = s.get(&format!("/api/v1/objects/{IND}/versions?cursor={next}"), Some("bob")).expect(200);
    assert_eq!(rest["objects"][0]["version"], "2026-02-01T00:00:00.000Z");
    // A cursor of one object does not page another.
    s.get(&format!("/api/v1/objects/{PUBLIC_IND}/versions?cursor={next}"), Some("bob")).error(400, "invalid_next");
}

#[test]
fn relations_never_reveal_an_unreadable_end() {
    let s = server();
    let alice = s.get(&format!("/api/v1/objects/{IND}/relations"), Some("alice")).expect(200);
    let mut all = ids(&alice, "relations");
    all.sort();
    assert_eq!(all, vec![REL_PUBLIC.to_owned(), REL_SECRET.to_owned()]);
    let bob = s.get(&format!("/api/v1/objects/{IND}/relations"), Some("bob")).expect(200);
    assert_eq!(ids(&bob, "relations"), vec![REL_PUBLIC.to_owned()], "the relation to the classified object is left out");
    assert!(!bob.to_string().contains(SECRET_IND), "nothing in the answer names it: {bob}");
    // bob may read the relationship itself (it is green), but not through relations.
    let rel = s.get(&format!("/api/v1/objects/{REL_SECRET}/relations"), Some("bob")).expect(200);
    assert_eq!(ids(&rel, "referenced"), vec![IND.to_owned()], "only the readable end is listed");
    let rel = s.get(&format!("/api/v1/objects/{REL_SECRET}/relations"), Some("alice")).expect(200);
    assert_eq!(ids(&rel, "referenced").len(), 2);
    s.get(&format!("/api/v1/objects/{SECRET_IND}/relations"), Some("bob")).error(404, "not_found");
    let public = s.get(&format!("/api/v1/objects/{PUBLIC_IND}/relations"), Some("alice")).expect(200);
    assert_eq!(ids(&public, "relations"), vec![REL_PUBLIC.to_owned()]);
    s.get(&format!("/api/v1/objects/{IND}/relations?type=indicator"), Some("alice")).error(400, "invalid_parameter");
}

#[test]
fn writes_follow_the_write_rules_and_need_a_writer() {
    let s = server();
    let one = indicator("indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f6a1", "2026-03-01T00:00:00.000Z", "x", &[TLP_GREEN]);
    s.post("/api/v1/objects", Some("bob"), &one).error(403, "forbidden");
    s.post("/api/v1/objects", None, &one).error(401, "unauthorized");
    s.request("POST", "/api/v1/objects", Some("alice"), Some("text/plain"), Some(one.to_string())).error(415, "unsupported_media_type");
    s.request("POST", "/api/v1/objects", Some("alice"), Some("application/json"), Some("{".into())).error(400, "invalid_body");
    s.post("/api/v1/objects", Some("alice"), &json!([1])).error(422, "unprocessable_content");
    // One refused object does not stop the others; each has its result.
    let bundle = json!({"type": "bundle", "id": "bundle--6d0092c5-5f74-4287-9642-33f4c354e56d", "objects": [
        one, {"type": "indicator", "id": "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f6a2"}
    ]});
    let report = s.post("/api/v1/objects", Some("alice"), &bundle).expect(200);
    assert_eq!((report["stored"].as_u64(), report["refused"].as_u64()), (Some(1), Some(1)), "{report}");
    assert_eq!(report["results"][0]["status"], "accepted");
    assert_eq!(report["results"][1]["status"], "refused");
    assert!(report["results"][1]["reason"].as_str().is_some_and(|r| !r.is_empty()));
    // The same again is unchanged.
    let again = s.post("/api/v1/objects", Some("alice"), &bundle["objects"][0]).expect(200);
    assert_eq!(again["unchanged"], 1);
    s.post("/api/v1/objects?default_tlp=purple", Some("alice"), &bundle).error(400, "invalid_parameter");
    // A member named twice is refused, as `phalanx import` refuses it.
    let twice = r#"{"type":"indicator","spec_version":"2.1","id":"indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f6a3","name":"a","name":"b"}"#;
    let message = s.request("POST", "/api/v1/objects", Some("alice"), Some("application/json"), Some(twice.into())).error(400, "invalid_body");
    assert!(message.contains("'name' appears twice"), "{message}");
    // A member named like serde_json's raw-value token is kept and served
    // as written (serde_json's own reader would put `{"b":1}` there).
    let token_id = "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f6a4";
    let mut token = indicator(token_id, "2026-03-01T00:00:00.000Z", "token", &[TLP_GREEN]);
    token["x_detail"] = json!({"$serde_json::private::RawValue": "{\"b\":1}"});
    s.post("/api/v1/objects", Some("alice"), &token).expect(200);
    let shown = s.get(&format!("/api/v1/objects/{token_id}"), Some("alice"));
    assert!(shown.body.contains(r#""x_detail":{"$serde_json::private::RawValue":"{\"b\":1}"}"#), "{}", shown.body);
}

#[test]
fn administration_is_for_administrators_and_audited() {
    let s = server();
    for path in ["/api/v1/organisations", "/api/v1/users"] {
        s.get(path, Some("bob")).error(403, "forbidden");
        s.get(path, None).error(401, "unauthorized");
    }
    s.post("/api/v1/organisations", Some("alice"), &json!({"name": "CERT-X"})).error(403, "forbidden");
    let orgs = s.get("/api/v1/organisations", Some("admin")).expect(200);
    let names: Vec<&str> = orgs.as_array().expect("list").iter().filter_map(|o| o["name"].as_str()).collect();
    assert!(names.contains(&"CERT-LT") && names.contains(&"CERT-EE"), "{names:?}");
    let created = s.post("/api/v1/organisations", Some("admin"), &json!({"name": "CERT-LV", "country": "LVA", "member_of": ["EU"]})).expect(201);
    let org_id = created["id"].as_str().expect("id");
    assert_eq!(s.get(&format!("/api/v1/organisations/{org_id}"), Some("admin")).expect(200)["country"], "LVA");
    let bad = s.post("/api/v1/organisations", Some("admin"), &json!({"name": "CERT-XX", "country": "XX"})).error(400, "invalid_body");
    assert!(bad.contains("country"), "{bad}");
    s.post("/api/v1/organisations", Some("admin"), &json!({"name": "CERT-Y", "colour": "red"})).error(400, "invalid_body");
    // Users: created with a first token, which works until the user is disabled.
    let user = s.post("/api/v1/users", Some("admin"), &json!({"organisation": "CERT-LV", "name": "dave", "role": "analyst"})).expect(201);
    let secret = user["token"]["secret"].as_str().expect("secret").to_owned();
    assert!(secret.starts_with("phx_"));
    let dave_id = user["user"]["id"].as_str().expect("id").to_owned();
    let as_dave = |path: &str| {
        let request = ureq::http::Request::builder()
            .uri(format!("{}{path}", s.base))
            .header("Authorization", format!("Bearer {secret}"))
            .body(Vec::new())
            .expect("request");
        s.agent.run(request).expect("http").status().as_u16()
    };
    assert_eq!(as_dave("/api/v1/stats"), 200);
    s.post(&format!("/api/v1/users/{dave_id}/disable"), Some("bob"), &json!({})).error(403, "forbidden");
    let disabled = s.post(&format!("/api/v1/users/{dave_id}/disable"), Some("admin"), &json!({})).expect(200);
    assert_eq!(disabled["disabled"], true);
    assert_eq!(as_dave("/api/v1/stats"), 401);
    s.get("/api/v1/users/nobody-at-all", Some("admin")).error(404, "not_found");
    let users = s.get("/api/v1/users", Some("admin")).expect(200);
    assert!(users.to_string().contains("\"dave\"") && !users.to_string().contains("phx_"), "no secrets in lists");
    // Tokens: everyone manages its own; only administrators others'.
    let own = s.get("/api/v1/tokens", Some("bob")).expect(200);
    assert_eq!(own.as_array().map(Vec::len), Some(1), "bob lists only his own token: {own}");
    s.post("/api/v1/tokens", Some("bob"), &json!({"user": "alice"})).error(403, "forbidden");
    let issued = s.post("/api/v1/tokens", Some("bob"), &json!({"expires_in_days": 1})).expect(201);
    let token_id = issued["token"]["id"].as_str().expect("id").to_owned();
    assert!(issued["token"]["expires"].is_string());
    s.post("/api/v1/tokens", Some("bob"), &json!({"expires_in_days": 0})).error(400, "invalid_body");
    s.post(&format!("/api/v1/tokens/{token_id}/revoke"), Some("carol"), &json!({})).error(404, "not_found");
    let revoked = s.post(&format!("/api/v1/tokens/{token_id}/revoke"), Some("bob"), &json!({})).expect(200);
    assert!(revoked["revoked"].is_string());
    s.post(&format!("/api/v1/tokens/{token_id}/revoke"), Some("bob"), &json!({})).error(404, "not_found");
    let all_tokens = s.get("/api/v1/tokens", Some("admin")).expect(200);
    assert!(all_tokens.as_array().map(Vec::len).unwrap_or(0) >= 5);
    let audited = s.audited("user:admin");
    for action in ["org-created", "user-created", "token-created", "user-disabled"] {
        assert!(audited.iter().any(|a| a == action), "{action} not audited: {audited:?}");
    }
    assert!(s.audited("user:bob").iter().any(|a| a == "token-revoked"));
}

#[test]
fn the_label_preview_names_who_could_read_and_the_rule_that_refuses() {
    let s = server();
    let label = json!({"label": {"policy": "EU", "classification": "RESTRICTED", "releasable_to": ["EST"]}});
    let carol = s.post("/api/v1/labels/preview", Some("carol"), &label).expect(200);
    assert!(carol.get("users").is_none(), "users are for administrators only");
    let orgs: HashMap<&str, &Value> =
        carol["organisations"].as_array().expect("orgs").iter().map(|o| (o["name"].as_str().unwrap_or(""), o)).collect();
    assert_eq!(orgs["CERT-EE"]["can_read"], true, "the originator (carol's organisation) and EST");
    assert_eq!(orgs["CERT-LT"]["can_read"], false);
    assert_eq!(orgs["CERT-LT"]["refused_by"]["rule"], 2);
    let admin = s.post("/api/v1/labels/preview", Some("admin"), &label).expect(200);
    let users: HashMap<&str, &Value> =
        admin["users"].as_array().expect("users").iter().map(|u| (u["name"].as_str().unwrap_or(""), u)).collect();
    assert_eq!(users["carol"]["refused_by"]["rule"], 1, "carol lacks the clearance: {}", users["carol"]);
    // The admin's organisation, CERT-LT, is the originator by default: its cleared users read it.
    assert_eq!(users["alice"]["can_read"], true, "{}", users["alice"]);
    assert_eq!(users["bob"]["refused_by"]["rule"], 1, "bob lacks the clearance: {}", users["bob"]);
    // Marking references: TLP:RED with an empty releasable_to is the originator alone.
    let red = s.post("/api/v1/labels/preview", Some("alice"), &json!({"marking_refs": [TLP_RED]})).expect(200);
    for o in red["organisations"].as_array().expect("orgs") {
        assert_eq!(o["can_read"], o["name"] == "CERT-LT", "{o}");
    }
    // Invalid labels are refused with the field named.
    let bad = s.post("/api/v1/labels/preview", Some("alice"), &json!({"label": {"policy": "UNCLASSIFIED", "classification": "SECRET"}}));
    assert!(bad.error(400, "invalid_body").contains("label"));
    let unknown = s.post("/api/v1/labels/preview", Some("alice"), &json!({"marking_refs": ["marking-definition--00000000-0000-4000-8000-000000000000"]}));
    assert!(unknown.error(400, "invalid_body").contains("marking_refs"));
    s.post("/api/v1/labels/preview", Some("alice"), &json!({})).error(400, "invalid_body");
    s.post("/api/v1/labels/preview", None, &label).error(401, "unauthorized");
}

#[test]
fn errors_come_from_the_table_and_name_the_parameter() {
    let s = server();
    for (path, name) in [
        ("/api/v1/objects?limit=0", "limit"),
        ("/api/v1/objects?tlp=purple", "tlp"),
        ("/api/v1/objects?max_classification=HUSH", "max_classification"),
        ("/api/v1/objects?colour=red", "colour"),
        ("/api/v1/objects?added_after=yesterday", "added_after"),
        ("/api/v1/objects/not-an-id", "id"),
        ("/api/v1/objects?cursor=zz", "cursor"),
    ] {
        let e = s.get(path, Some("alice"));
        let message = if name == "cursor" { e.error(400, "invalid_next") } else { e.error(400, "invalid_parameter") };
        assert!(message.starts_with(name), "{path}: {message}");
    }
    s.request("PUT", "/api/v1/objects", Some("alice"), None, None).error(405, "method_not_allowed");
    s.get("/api/v1/nothing-here", None).error(404, "not_found");
    assert_eq!(s.get("/api/v1/stats", None).status, 200, "anonymous callers may ask");
    let mut s = s;
    s.tokens.insert("mallory".into(), format!("phx_{}", "0".repeat(64)));
    s.get("/api/v1/stats", Some("mallory")).error(401, "unauthorized");
    let stats = s.get("/api/v1/stats", Some("bob")).expect(200);
    let alice_stats = s.get("/api/v1/stats", Some("alice")).expect(200);
    assert!(alice_stats["objects"].as_u64() > stats["objects"].as_u64(), "counts follow the read rule");
}

#[test]
fn the_openapi_document_and_the_api_page_are_served() {
    let s = server();
    let doc = s.get("/api/v1/openapi.json", None).expect(200);
    assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")));
    assert!(doc["paths"]["/api/v1/objects/{id}/relations"]["get"].is_object());
    assert!(doc["paths"]["/api/v1/stream"]["get"].is_object());
    let page = s.get("/api/v1/docs", None);
    assert_eq!(page.status, 200);
    assert!(page.headers["content-type"].starts_with("text/html"));
    assert!(page.body.contains("/api/v1/labels/preview"));
    assert!(!page.body.contains("https://") && !page.body.contains("<script"), "self-contained, no CDN");
}
