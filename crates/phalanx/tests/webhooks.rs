//! Outgoing webhooks through the real `phalanx serve`: a receiver on a
//! loopback port gets rapid-response events signed with HMAC-SHA256 over
//! `<t>.<body>`, a failed delivery is retried with the same delivery id,
//! each webhook sends only what its user may read, and an overdue
//! deadline is sent once.

use crate::rest::{RestAnswer, Server};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

const SECRET_ALICE: &str = "alice-webhook-secret-0123456789";
const SECRET_CAROL: &str = "carol-webhook-secret-0123456789";

/// One request the receiver got.
#[derive(Clone, Debug)]
struct Received {
    path: String,
    headers: HashMap<String, String>,
    body: String,
    answered: u16,
}

impl Received {
    fn json(&self) -> Value {
        serde_json::from_str(&self.body).unwrap_or_else(|e| panic!("webhook body is not json ({e}): {}", self.body))
    }
    fn event(&self) -> &str {
        self.headers.get("x-phalanx-event").map(String::as_str).unwrap_or_default()
    }
}

/// A minimal HTTP receiver: answers each request with the next status of
/// `script` (then 200), one request per connection.
struct Receiver {
    port: u16,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Receiver {
    fn start(script: Vec<u16>) -> Receiver {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let received = Arc::new(Mutex::new(Vec::new()));
        let sink = received.clone();
        std::thread::spawn(move || {
            let mut script = script.into_iter();
            for stream in listener.incoming() {
                let Ok(mut stream) = stream else { continue };
                let mut reader = BufReader::new(stream.try_clone().expect("clone"));
                let mut first = String::new();
                if reader.read_line(&mut first).is_err() {
                    continue;
                }
                let path = first.split_whitespace().nth(1).unwrap_or_default().to_owned();
                let mut headers = HashMap::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 || line.trim().is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
                    }
                }
                let length: usize = headers.get("content-length").and_then(|l| l.parse().ok()).unwrap_or(0);
                let mut body = vec![0u8; length];
                if reader.read_exact(&mut body).is_err() {
                    continue;
                }
                let status = script.next().unwrap_or(200);
                let _ = write!(stream, "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                sink.lock().expect("lock").push(Received {
                    path,
                    headers,
                    body: String::from_utf8_lossy(&body).into_owned(),
                    answered: status,
                });
            }
        });
        Receiver { port, received }
    }

    fn all(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }

    /// Waits until `done` holds for what was received (or fails after 30 s).
    fn wait_for(&self, what: &str, done: impl Fn(&[Received]) -> bool) -> Vec<Received> {
        let start = Instant::now();
        loop {
            let all = self.all();
            if done(&all) {
                return all;
            }
            assert!(start.elapsed() < Duration::from_secs(30), "timed out waiting for {what}; received: {all:#?}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Checks `X-Phalanx-Signature` as a receiver would: HMAC-SHA256 over `<t>.<body>`.
fn signature_is_valid(r: &Received, secret: &str) -> bool {
    let Some(header) = r.headers.get("x-phalanx-signature") else { return false };
    let Some((t, v1)) = header.strip_prefix("t=").and_then(|rest| rest.split_once(",v1=")) else { return false };
    let mut mac = <Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes()).expect("key");
    mac.update(format!("{t}.{}", r.body).as_bytes());
    let expected: String = mac.finalize().into_bytes().iter().map(|b| format!("{b:02x}")).collect();
    expected == v1
}

fn config(port: u16) -> String {
    format!(
        r#"version = 1

[[webhooks]]
name = "alice-desk"
url = "http://127.0.0.1:{port}/alice"
secret = "{SECRET_ALICE}"
as_user = "alice"
deadline_scan_secs = 1

[[webhooks]]
name = "carol-desk"
url = "http://127.0.0.1:{port}/carol"
secret = "{SECRET_CAROL}"
as_user = "carol"
events = ["assistance-request.created", "assistance-request.state-changed"]
"#
    )
}

fn org_id(s: &Server, name: &str) -> String {
    let list = s.get("/api/v1/organisations", Some("admin")).expect(200);
    list.as_array()
        .and_then(|orgs| orgs.iter().find(|o| o["name"] == name))
        .and_then(|o| o["id"].as_str())
        .unwrap_or_else(|| panic!("organisation {name} in {list}"))
        .to_owned()
}

#[test]
fn events_are_signed_retried_and_sent_only_to_who_may_read_them() {
    // The first delivery is answered 500: it must come again with the same delivery id.
    let receiver = Receiver::start(vec![500]);
    let s = Server::start_with(Some(&config(receiver.port)));
    let lt = org_id(&s, "CERT-LT");
    std::thread::sleep(Duration::from_millis(1500)); // the webhooks start from "now"

    // A TLP:GREEN request (carol may read it) and an EU RESTRICTED one (she may not).
    let green = s
        .post(
            "/api/v1/assistance-requests",
            Some("alice"),
            &json!({"request": {"name": "Election support", "channel": "bilateral", "beneficiary_ref": lt,
                                 "services": ["election-monitoring"], "mode": "remote"},
                    "submit": true, "tlp": "green"}),
        )
        .expect(201)["object"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    let restricted = s
        .post(
            "/api/v1/assistance-requests",
            Some("alice"),
            &json!({"request": {"name": "Hospital ransomware", "channel": "crrt", "beneficiary_ref": lt,
                                 "services": ["incident-response"], "mode": "on-site"},
                    "submit": true, "tlp": "amber", "label": {"policy": "EU", "classification": "RESTRICTED"}}),
        )
        .expect(201)["object"]["id"]
        .as_str()
        .expect("id")
        .to_owned();

    let for_alice = |all: &[Received]| -> Vec<Received> {
        all.iter().filter(|r| r.path == "/alice" && r.answered == 200).cloned().collect()
    };
    let all = receiver.wait_for("alice's four events and carol's two", |all| {
        for_alice(all).len() >= 4 && all.iter().filter(|r| r.path == "/carol" && r.answered == 200).count() >= 2
    });
    for r in &all {
        let secret = if r.path == "/alice" { SECRET_ALICE } else { SECRET_CAROL };
        assert!(signature_is_valid(r, secret), "bad signature on {r:#?}");
        assert!(!signature_is_valid(r, "another-secret-0123456789"), "the signature depends on the secret");
        assert_eq!(r.headers.get("content-type").map(String::as_str), Some("application/json"));
        assert_eq!(r.json()["delivery"].as_str(), r.headers.get("x-phalanx-delivery").map(String::as_str));
    }
    // The 500 was retried with the same delivery id and the same event.
    let failed = all.iter().find(|r| r.answered == 500).expect("the scripted 500");
    let delivery = failed.headers.get("x-phalanx-delivery").cloned().expect("delivery id");
    let retried: Vec<_> = all.iter().filter(|r| r.headers.get("x-phalanx-delivery") == Some(&delivery)).collect();
    assert_eq!(retried.len(), 2, "one failure, one retry: {retried:#?}");
    assert_eq!(retried[1].answered, 200);
    assert_eq!(retried[0].event(), retried[1].event());

    // alice (SECRET, EU briefed) gets both requests: created + state change each.
    let mut alice_events: Vec<(String, String)> = for_alice(&all)
        .iter()
        .map(|r| (r.json()["object_ref"].as_str().unwrap_or_default().to_owned(), r.event().to_owned()))
        .collect();
    alice_events.sort();
    let mut expected = vec![
        (green.clone(), "assistance-request.created".to_owned()),
        (green.clone(), "assistance-request.state-changed".to_owned()),
        (restricted.clone(), "assistance-request.created".to_owned()),
        (restricted.clone(), "assistance-request.state-changed".to_owned()),
    ];
    expected.sort();
    assert_eq!(alice_events, expected);
    let change = for_alice(&all).into_iter().find(|r| r.event() == "assistance-request.state-changed").expect("change");
    assert_eq!(change.json()["detail"]["from"], "draft");
    assert_eq!(change.json()["detail"]["to"], "submitted");
    // carol (UNCLASSIFIED, another organisation) never hears of the restricted request.
    let carol: Vec<_> = all.iter().filter(|r| r.path == "/carol").collect();
    assert!(carol.iter().all(|r| r.json()["object_ref"] == green.as_str()), "carol got {carol:#?}");
    assert!(!carol.iter().any(|r| r.body.contains(&restricted)), "no trace of the restricted request");

    // A task overdue since yesterday is sent once to alice (deadline scan every second); carol does not take deadlines.
    let task = s
        .post("/api/v1/tasks", Some("alice"), &json!({"task": {"name": "Image the servers", "request_ref": green,
                                                              "due": "2020-01-01T00:00:00Z"}}))
        .expect(201)["object"]["id"]
        .as_str()
        .expect("id")
        .to_owned();
    receiver.wait_for("the overdue task", |all| {
        all.iter().any(|r| r.path == "/alice" && r.event() == "deadline.overdue" && r.body.contains(&task))
    });
    std::thread::sleep(Duration::from_millis(2500)); // two more scans
    let overdue: Vec<_> = receiver
        .all()
        .into_iter()
        .filter(|r| r.event() == "deadline.overdue" && r.body.contains(&task))
        .collect();
    assert_eq!(overdue.len(), 1, "sent once: {overdue:#?}");
    assert_eq!(overdue[0].path, "/alice");
    assert_eq!(overdue[0].json()["detail"]["deadline"], "task-due");
}

#[test]
fn a_collective_alert_raised_by_the_node_reaches_the_webhook() {
    let receiver = Receiver::start(Vec::new());
    let config = format!(
        "version = 1\nalert_poll_secs = 1\n\n[[webhooks]]\nname = \"coordinators\"\nurl = \"http://127.0.0.1:{}/alerts\"\nsecret = \"{SECRET_ALICE}\"\nas_user = \"alice\"\nevents = [\"collective-alert.raised\", \"collective-alert.updated\"]\n",
        receiver.port
    );
    let s = Server::start_with(Some(&config));
    let data = s.data.path().to_owned();
    let cli = |args: &[&str]| {
        let out = crate::common::phalanx_in(&data, args);
        assert!(out.status.success(), "phalanx {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    // Sensors of three more nations, and a TLP:GREEN indicator.
    for c in ["EST", "LVA", "POL"] {
        cli(&["org", "add", "--name", &format!("CERT-{c}"), "--country", c, "--member-of", "EU"]);
        cli(&["user", "add", "--name", &format!("sensor-{c}"), "--org", &format!("CERT-{c}"), "--role", "analyst"]);
    }
    let indicator = json!({"type": "bundle", "id": "bundle--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f601", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": "indicator--0b1d2c3e-4f50-4a61-8b72-9c83d4e5f6aa",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "name": "C2 of the wiper",
        "pattern": "[domain-name:value = 'c2.wiper.example']", "pattern_type": "stix", "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"]}]});
    let file = data.join("indicator.json");
    std::fs::write(&file, indicator.to_string()).expect("write");
    cli(&["import", "--as", "alice", file.to_str().expect("path")]);
    std::thread::sleep(Duration::from_millis(1500)); // the webhook starts from "now"
    // Two nations see it: no alert yet. The third makes it collective.
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).expect("clock").as_secs();
    let sight = |country: &str| {
        let log = data.join(format!("dns-{country}.json"));
        std::fs::write(&log, format!("{{\"ts\":{now},\"query\":\"c2.wiper.example\"}}\n")).expect("write");
        let user = if country == "LTU" { "alice".to_owned() } else { format!("sensor-{country}") };
        cli(&["match", "--as", &user, "--default-tlp", "green", "--sensor", country, log.to_str().expect("path")]);
    };
    sight("EST");
    sight("LVA");
    std::thread::sleep(Duration::from_millis(3000));
    assert!(receiver.all().is_empty(), "two nations are not collective: {:#?}", receiver.all());
    sight("POL");
    let all = receiver.wait_for("the collective alert", |all| !all.is_empty());
    let alert = &all[0];
    assert_eq!(alert.event(), "collective-alert.raised", "{alert:#?}");
    assert!(signature_is_valid(alert, SECRET_ALICE));
    let body = alert.json();
    assert_eq!(body["detail"]["countries"], json!(["EST", "LVA", "POL"]), "{body}");
    assert_eq!(body["object"]["type"], "grouping");
    assert_eq!(body["object"]["context"], "suspicious-activity");
    // A fourth nation updates the same alert.
    sight("LTU");
    let all = receiver.wait_for("the updated alert", |all| all.iter().any(|r| r.event() == "collective-alert.updated"));
    let updated = all.iter().find(|r| r.event() == "collective-alert.updated").expect("update");
    assert_eq!(updated.json()["object_ref"], body["object_ref"], "the same alert grows");
    assert_eq!(updated.json()["detail"]["countries"], json!(["EST", "LTU", "LVA", "POL"]));
}
