//! Federation (issue 5) between real `phalanx serve` processes on
//! loopback: an EU hub, a Lithuanian national node, a NATO-only node and
//! a node that takes part in one exercise. What reaches each node is read
//! from its database directly, so an object that must not arrive is shown
//! absent whatever the node's users could read.

use crate::common::{phalanx_in, stdout};
use phalanx_federation::keys::KeyRing;
use phalanx_federation::protocol::{AUTH_HEADER, Batch, CHANGES_PATH, PUSH_PATH, PublicKey, SignedObject, auth_header, signed_bytes, signed_text};
use phalanx_labels::{Label, Policy, Rank, Tlp, label_marking_definition, label_marking_id};
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const EXERCISE: &str = "cyber-europe-2026";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const RED: &str = "marking-definition--e828b379-4e03-4974-9ac4-e53a884c97c1";

/// One node: its data directory, port, organisation and serve process.
pub(crate) struct FedNode {
    dir: tempfile::TempDir,
    port: u16,
    pub(crate) org: String,
    node_key: String,
    /// The API token of the node's analyst.
    token: String,
    child: Option<Child>,
}

impl Drop for FedNode {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A port for a node, which keeps its address when it is restarted (its
/// peers know its URL). Taken below Linux's ephemeral range (32768-60999),
/// from which every `127.0.0.1:0` bind of the tests running beside this
/// one draws: none of them can take the port while the node is stopped.
/// Each port is handed out once per test process.
fn free_port() -> u16 {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let base = std::process::id() % 1_000 * 12;
    for _ in 0..12_000 {
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let port = 20_000 + (base + n) % 12_000;
        if std::net::TcpListener::bind(("127.0.0.1", port as u16)).is_ok() {
            return port as u16;
        }
    }
    panic!("no free port in 20000-31999");
}


impl FedNode {
    pub(crate) fn init(org_name: &str, country: Option<&str>, member_of: &str) -> FedNode {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut args = vec!["init", "--org-name", org_name, "--member-of", member_of];
        if let Some(c) = country {
            args.extend(["--country", c]);
        }
        let out = phalanx_in(dir.path(), &args);
        assert!(out.status.success(), "init {org_name}: {}", String::from_utf8_lossy(&out.stderr));
        let text = stdout(&out);
        let org = text.split_whitespace().find_map(|w| w.trim_matches(|c| c == '(' || c == ')').strip_prefix("identity--").map(|u| format!("identity--{u}"))).expect("org id");
        let mut node = FedNode { dir, port: free_port(), org, node_key: String::new(), token: String::new(), child: None };
        let keys = node.ok(&["keys", "show"]);
        node.node_key = keys.lines().find_map(|l| l.strip_prefix("node\t")).and_then(|l| l.split('\t').nth(1)).expect("node key").to_owned();
        let added = node.ok(&["user", "add", "--org", org_name, "--name", "analyst", "--role", "analyst", "--clearance", "SECRET", "--briefed", "EU,NATO"]);
        node.token = added.lines().last().unwrap_or_default().trim().to_owned();
        node
    }

    pub(crate) fn data(&self) -> &Path {
        self.dir.path()
    }

    pub(crate) fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    pub(crate) fn ok(&self, args: &[&str]) -> String {
        let out = phalanx_in(self.data(), args);
        assert!(out.status.success(), "phalanx {args:?}: {}{}", stdout(&out), String::from_utf8_lossy(&out.stderr));
        stdout(&out)
    }

    pub(crate) fn register(&self, other: &FedNode, name: &str, country: Option<&str>, member_of: &str) {
        let mut args = vec!["org", "add", "--name", name, "--member-of", member_of, "--id", &other.org];
        if let Some(c) = country {
            args.extend(["--country", c]);
        }
        self.ok(&args);
    }

    pub(crate) fn peer(&self, name: &str, other: &FedNode, serves: &str, accredited: &str, ceiling: &str, exercises: Option<&str>) {
        let url = other.url();
        let mut args = vec!["peer", "add", name, "--url", &url, "--key", &other.node_key, "--serves", serves, "--ceiling", ceiling];
        if !accredited.is_empty() {
            args.extend(["--accredited", accredited]);
        }
        if let Some(e) = exercises {
            args.extend(["--exercises", e]);
        }
        self.ok(&args);
    }

    pub(crate) fn start(&mut self) {
        let log = std::fs::OpenOptions::new().create(true).append(true).open(self.data().join("serve.log")).expect("log");
        let mut child = Command::new(env!("CARGO_BIN_EXE_phalanx"))
            .arg("--data")
            .arg(self.data())
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .env_remove("PHALANX_USER")
            .env("PHALANX_LOG", "warn")
            .env("PHALANX_RATE_LIMIT_PER_SEC", "0")
            .stdout(Stdio::piped())
            .stderr(Stdio::from(log))
            .spawn()
            .expect("serve");
        let out = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let log = || std::fs::read_to_string(self.data().join("serve.log")).unwrap_or_default();
        let line = rx.recv_timeout(Duration::from_secs(60)).unwrap_or_else(|e| panic!("serve on port {} did not start ({e}); its log:\n{}", self.port, log()));
        assert!(line.starts_with("listening on"), "{line}\n{}", log());
        self.child = Some(child);
    }

    /// Kills the serve process at once (no graceful shutdown).
    pub(crate) fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    fn import(&self, objects: &[Value], extra: &[&str]) {
        static FILES: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = FILES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let path = self.data().join(format!("in-{n}.json"));
        std::fs::write(&path, json!({"type": "bundle", "id": "bundle--6d1bb8a3-4ad4-4a8d-9a63-7a1a6bd0f2ff", "objects": objects}).to_string()).expect("write");
        let path_text = path.display().to_string();
        let mut args = vec!["import", "--as", "analyst"];
        args.extend_from_slice(extra);
        args.push(&path_text);
        let out = self.ok(&args);
        assert!(out.contains("refused 0"), "{out}");
    }

    fn db(&self) -> rusqlite::Connection {
        let conn = rusqlite::Connection::open(self.data().join("phalanx.sqlite")).expect("open db");
        conn.busy_timeout(Duration::from_secs(10)).expect("busy timeout");
        conn
    }

    /// How many versions of `id` the node stores.
    fn versions(&self, id: &str) -> i64 {
        self.db().query_row("SELECT COUNT(*) FROM objects WHERE id = ?1", [id], |r| r.get(0)).expect("count")
    }

    /// (versions, distinct ids) of ids starting with `prefix`.
    fn counts_with_prefix(&self, prefix: &str) -> (i64, i64) {
        self.db()
            .query_row("SELECT COUNT(*), COUNT(DISTINCT id) FROM objects WHERE id LIKE ?1", [format!("{prefix}%")], |r| Ok((r.get(0)?, r.get(1)?)))
            .expect("count")
    }

    fn latest_revoked(&self, id: &str) -> Option<bool> {
        self.db()
            .query_row("SELECT revoked FROM objects WHERE id = ?1 AND is_latest = 1", [id], |r| r.get::<_, i64>(0))
            .ok()
            .map(|v| v != 0)
    }

    /// Deletes every version of `id` through TAXII as the analyst.
    fn taxii_delete(&self, id: &str) {
        let collection: String = self
            .db()
            .query_row("SELECT value FROM settings WHERE key = 'taxii.collection.all.id'", [], |r| r.get(0))
            .expect("collection id");
        let agent = ureq::Agent::config_builder().http_status_as_error(false).build().new_agent();
        let request = ureq::http::Request::builder()
            .method("DELETE")
            .uri(format!("{}/taxii2/root/collections/{collection}/objects/{id}/?match[version]=all", self.url()))
            .header("Accept", "application/taxii+json;version=2.1")
            .header("Authorization", format!("Bearer {}", self.token))
            .body(Vec::new())
            .expect("request");
        let mut response = agent.run(request).expect("http");
        let status = response.status().as_u16();
        assert_eq!(status, 200, "{}", response.body_mut().read_to_string().unwrap_or_default());
    }

    fn status(&self) -> Vec<Value> {
        self.ok(&["peer", "status", "--json"]).lines().map(|l| serde_json::from_str(l).expect("status json")).collect()
    }
}

pub(crate) fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "timed out after {timeout:?} waiting until {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn label(policy: Policy, rank: Rank, rel: &[&str], tlp: Tlp, exercise: Option<&str>) -> Label {
    Label {
        policy,
        classification: rank,
        releasable_to: rel.iter().map(|s| s.to_string()).collect(),
        caveats: BTreeSet::new(),
        tlp: Some(tlp),
        pap: None,
        exercise: exercise.map(str::to_owned),
        originator: None,
    }
}

/// An indicator with `label`'s markings, and the label's marking definition.
fn labelled(id: &str, label: &Label, modified: &str, revoked: bool) -> Vec<Value> {
    let tlp = match label.tlp {
        Some(Tlp::Red) => RED,
        _ => GREEN,
    };
    let mut marks = vec![json!(tlp)];
    let mut out = Vec::new();
    if label.policy != Policy::Unclassified || !label.releasable_to.is_empty() || label.exercise.is_some() {
        marks.push(json!(label_marking_id(label)));
        out.push(label_marking_definition(label));
    }
    let mut indicator = indicator(id, modified);
    indicator["object_marking_refs"] = json!(marks);
    if revoked {
        indicator["revoked"] = json!(true);
    }
    out.push(indicator);
    out
}

fn indicator(id: &str, modified: &str) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": modified,
        "name": format!("federation test {id}"),
        "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z",
        "object_marking_refs": [GREEN]
    })
}

/// The four nodes, with each other's organisations registered and peers
/// configured in a star around the hub.
struct Federation {
    hub: FedNode,
    ltu: FedNode,
    nato: FedNode,
    ex: FedNode,
}

fn federation() -> Federation {
    let hub = FedNode::init("ENISA", None, "EU");
    let ltu = FedNode::init("NCSC-LT", Some("LTU"), "EU,NATO");
    let nato = FedNode::init("NCIA", None, "NATO");
    let ex = FedNode::init("CERT-EE", Some("EST"), "EU");
    let orgs: [(&FedNode, &str, Option<&str>, &str); 4] =
        [(&hub, "ENISA", None, "EU"), (&ltu, "NCSC-LT", Some("LTU"), "EU,NATO"), (&nato, "NCIA", None, "NATO"), (&ex, "CERT-EE", Some("EST"), "EU")];
    for node in [&hub, &ltu, &nato, &ex] {
        for (other, name, country, member_of) in orgs {
            if other.org != node.org {
                node.register(other, name, country, member_of);
            }
        }
    }
    hub.peer("ltu", &ltu, "NCSC-LT", "EU,NATO", "SECRET", None);
    hub.peer("nato", &nato, "NCIA", "NATO", "SECRET", None);
    hub.peer("ex", &ex, "CERT-EE", "EU", "RESTRICTED", Some(EXERCISE));
    ltu.peer("hub", &hub, "ENISA,NCIA,CERT-EE", "EU,NATO", "SECRET", None);
    nato.peer("hub", &hub, "ENISA,NCSC-LT,CERT-EE", "NATO", "SECRET", None);
    ex.peer("hub", &hub, "ENISA,NCSC-LT,NCIA", "EU", "RESTRICTED", Some(EXERCISE));
    let mut f = Federation { hub, ltu, nato, ex };
    for node in [&mut f.hub, &mut f.ltu, &mut f.nato, &mut f.ex] {
        node.start();
    }
    f
}

const TIMEOUT: Duration = Duration::from_secs(60);

#[test]
fn labels_decide_what_reaches_each_of_four_nodes_and_revocations_follow() {
    let f = federation();
    let enisa = f.hub.org.clone();
    // TLP:RED named to ENISA only, from Lithuania.
    let red = "indicator--0a000000-0000-4000-8000-000000000001";
    f.ltu.import(&labelled(red, &label(Policy::Unclassified, Rank::Unclassified, &[&enisa], Tlp::Red, None), "2026-01-01T00:00:00.000Z", false), &[]);
    // EU SECRET from Lithuania; NATO SECRET from the NATO node.
    let eu_secret = "indicator--0a000000-0000-4000-8000-000000000002";
    f.ltu.import(&labelled(eu_secret, &label(Policy::Eu, Rank::Secret, &[], Tlp::Green, None), "2026-01-01T00:00:00.000Z", false), &[]);
    let nato_secret = "indicator--0a000000-0000-4000-8000-000000000003";
    f.nato.import(&labelled(nato_secret, &label(Policy::Nato, Rank::Secret, &[], Tlp::Green, None), "2026-01-01T00:00:00.000Z", false), &[]);
    // REL TO LTU and exercise data, from the hub.
    let rel_ltu = "indicator--0a000000-0000-4000-8000-000000000004";
    f.hub.import(&labelled(rel_ltu, &label(Policy::Unclassified, Rank::Unclassified, &["LTU"], Tlp::Green, None), "2026-01-01T00:00:00.000Z", false), &[]);
    let exercise = "indicator--0a000000-0000-4000-8000-000000000005";
    f.hub.import(
        &labelled(exercise, &label(Policy::Unclassified, Rank::Unclassified, &[], Tlp::Green, Some(EXERCISE)), "2026-01-01T00:00:00.000Z", false),
        &["--exercise", EXERCISE],
    );
    // Public data reaches everyone: it shows that the links work.
    let public = "indicator--0a000000-0000-4000-8000-000000000006";
    f.ltu.import(&[indicator(public, "2026-01-01T00:00:00.000Z")], &[]);

    wait_until("the public indicator reaches every node", TIMEOUT, || {
        [&f.hub, &f.nato, &f.ex].iter().all(|n| n.versions(public) == 1)
    });
    wait_until("each labelled object reaches its audience", TIMEOUT, || {
        f.hub.versions(red) == 1
            && f.hub.versions(eu_secret) == 1
            && f.ltu.versions(nato_secret) == 1
            && f.ltu.versions(rel_ltu) == 1
            && f.ex.versions(exercise) == 1
    });
    // A public object sent after the others has arrived everywhere: what
    // has not arrived by then was not sent.
    let later = "indicator--0a000000-0000-4000-8000-000000000007";
    f.ltu.import(&[indicator(later, "2026-01-01T00:00:00.000Z")], &[]);
    f.hub.import(&[indicator("indicator--0a000000-0000-4000-8000-000000000008", "2026-01-01T00:00:00.000Z")], &[]);
    f.nato.import(&[indicator("indicator--0a000000-0000-4000-8000-000000000009", "2026-01-01T00:00:00.000Z")], &[]);
    f.ex.import(&[indicator("indicator--0a000000-0000-4000-8000-00000000000a", "2026-01-01T00:00:00.000Z")], &[]);
    wait_until("the later public indicators reach every node", TIMEOUT, || {
        [&f.hub, &f.ltu, &f.nato, &f.ex].iter().all(|n| {
            n.versions(later) == 1
                && n.versions("indicator--0a000000-0000-4000-8000-000000000008") == 1
                && n.versions("indicator--0a000000-0000-4000-8000-000000000009") == 1
                && n.versions("indicator--0a000000-0000-4000-8000-00000000000a") == 1
        })
    });
    assert_eq!(f.nato.versions(red), 0, "TLP:RED named to ENISA reached the NATO node");
    assert_eq!(f.ex.versions(red), 0, "TLP:RED named to ENISA reached the exercise node");
    assert_eq!(f.nato.versions(eu_secret), 0, "EU SECRET reached the NATO-only node");
    assert_eq!(f.ex.versions(eu_secret), 0, "EU SECRET reached a node with ceiling RESTRICTED");
    assert_eq!(f.ex.versions(nato_secret), 0, "NATO SECRET reached an EU-only node");
    assert_eq!(f.nato.versions(rel_ltu), 0, "REL TO LTU reached the NATO node");
    assert_eq!(f.ex.versions(rel_ltu), 0, "REL TO LTU reached the Estonian node");
    assert_eq!(f.ltu.versions(exercise), 0, "exercise data reached a node outside the exercise");
    assert_eq!(f.nato.versions(exercise), 0, "exercise data reached a node outside the exercise");

    // The originator's node signs; the hub forwards the same signature.
    let signer: String = f
        .nato
        .db()
        .query_row(
            "SELECT r.signer FROM received_signatures v JOIN signed_roots r ON r.id = v.root JOIN objects o ON o.seq = v.seq WHERE o.id = ?1",
            [later],
            |r| r.get(0),
        )
        .expect("signature stored at the NATO node");
    assert_eq!(signer, f.ltu.org);

    // A revocation reaches every node that holds the object.
    f.ltu.import(&labelled(public, &label(Policy::Unclassified, Rank::Unclassified, &[], Tlp::Green, None), "2026-02-01T00:00:00.000Z", true), &[]);
    wait_until("the revocation reaches every node", TIMEOUT, || {
        [&f.hub, &f.ltu, &f.nato, &f.ex].iter().all(|n| n.latest_revoked(public) == Some(true) && n.versions(public) == 2)
    });

    // A deletion by the originator reaches every node that holds the object.
    f.ltu.taxii_delete(later);
    wait_until("the deletion reaches every node", TIMEOUT, || [&f.hub, &f.ltu, &f.nato, &f.ex].iter().all(|n| n.versions(later) == 0));
    assert_eq!(f.nato.versions("indicator--0a000000-0000-4000-8000-000000000009"), 1, "a deletion took another object");

    // Nothing was refused between honest nodes, and the status counts show the traffic.
    for node in [&f.hub, &f.ltu, &f.nato, &f.ex] {
        for status in node.status() {
            assert_eq!(status["refused"], 0, "{status}");
            assert!(status["sent"].as_u64().unwrap_or(0) > 0, "{status}");
            assert!(status["received"].as_u64().unwrap_or(0) > 0, "{status}");
            assert!(status["last_error"].is_null(), "{status}");
        }
    }
}

#[test]
fn a_node_stopped_while_10000_objects_flow_converges_after_restart() {
    let mut f = federation();
    let prefix = "indicator--0b";
    let objects: Vec<Value> =
        (0..10_000u64).map(|i| indicator(&format!("indicator--0b{:06x}-0000-4000-8000-{i:012x}", i), "2026-01-01T00:00:00.000Z")).collect();
    f.ltu.import(&objects, &[]);
    wait_until("the hub has part of the objects", TIMEOUT, || f.hub.counts_with_prefix(prefix).0 > 0);
    f.hub.stop();
    let at_stop = f.hub.counts_with_prefix(prefix).0;
    std::thread::sleep(Duration::from_secs(1));
    f.hub.start();
    wait_until("every node holds the 10,000 objects", Duration::from_secs(300), || {
        [&f.hub, &f.nato, &f.ex].iter().all(|n| n.counts_with_prefix(prefix).0 >= 10_000)
    });
    for node in [&f.hub, &f.ltu, &f.nato, &f.ex] {
        assert_eq!(node.counts_with_prefix(prefix), (10_000, 10_000), "lost or duplicated versions");
    }
    eprintln!("hub held {at_stop} of 10,000 when it was stopped");
}

#[test]
fn a_peer_that_calls_in_again_is_pushed_to_without_waiting_out_the_backoff() {
    let mut hub = FedNode::init("ENISA", None, "EU");
    let mut ltu = FedNode::init("NCSC-LT", Some("LTU"), "EU,NATO");
    hub.register(&ltu, "NCSC-LT", Some("LTU"), "EU,NATO");
    ltu.register(&hub, "ENISA", None, "EU");
    hub.peer("ltu", &ltu, "NCSC-LT", "EU,NATO", "SECRET", None);
    ltu.peer("hub", &hub, "ENISA", "EU", "SECRET", None);
    let before = "indicator--0c000000-0000-4000-8000-000000000001";
    hub.import(&[indicator(before, "2026-01-01T00:00:00.000Z")], &[]);
    // The Lithuanian node is down: the hub's push worker fails at 0,
    // 0.25, 0.75, 1.75, 3.75, 7.75 and 15.75 s, its backoff doubling.
    // At 17 s it sleeps until 31.75 s.
    hub.start();
    std::thread::sleep(Duration::from_secs(17));
    let started = Instant::now();
    ltu.start();
    // Its pull worker catches up at once, then asks again only every 30 s:
    // what comes next reaches it only through the hub's push worker.
    wait_until("the Lithuanian node caught up", TIMEOUT, || ltu.versions(before) == 1);
    let after = "indicator--0c000000-0000-4000-8000-000000000002";
    hub.import(&[indicator(after, "2026-01-01T00:00:00.000Z")], &[]);
    wait_until("the hub pushed the new indicator", TIMEOUT, || ltu.versions(after) == 1);
    let took = started.elapsed();
    // Waiting out the backoff would take until the hub's 31.75 s, 14 s
    // after the restart; the peer's requests end it at once.
    assert!(took < Duration::from_secs(10), "the new indicator took {took:?} after the restart");
}

#[test]
fn a_bad_peer_is_refused_per_object_or_throttled_and_the_node_keeps_serving() {
    let f = federation();
    // Mallory: a peer of the Lithuanian node that serves ENISA.
    let mallory_dir = tempfile::tempdir().expect("tempdir");
    let mallory = KeyRing::open(mallory_dir.path()).expect("keys");
    let node = mallory.node();
    f.ltu.ok(&["peer", "add", "mallory", "--url", "http://127.0.0.1:9", "--key", &node.public_text(), "--serves", "ENISA", "--accredited", "EU", "--ceiling", "RESTRICTED"]);
    let enisa_key = mallory.org(&f.hub.org).expect("key");
    let agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().new_agent();
    let post = |body: Vec<u8>, signed: bool| -> (u16, String) {
        let mut b = ureq::http::Request::builder().method("POST").uri(format!("{}{PUSH_PATH}", f.ltu.url()));
        b = b.header(AUTH_HEADER, if signed { auth_header(&node, "POST", PUSH_PATH, &body) } else { "key_id=x;ts=0;sig=AAAA".to_owned() });
        let mut r = agent.run(b.body(body).expect("request")).expect("http");
        (r.status().as_u16(), r.body_mut().read_to_string().unwrap_or_default())
    };
    let signed = |object: Value, signer: &str| SignedObject {
        seq: 0,
        sig: enisa_key.sign(&signed_bytes(&object)),
        object: signed_text(&object).expect("canonical text"),
        signer: signer.to_owned(),
        key_id: enisa_key.key_id.clone(),
        tree: None,
    };
    let genuine = indicator("indicator--0c000000-0000-4000-8000-000000000001", "2026-01-01T00:00:00.000Z");
    let mut original = indicator("indicator--0c000000-0000-4000-8000-000000000002", "2026-01-01T00:00:00.000Z");
    let mut altered = signed(original.clone(), &f.hub.org);
    original["name"] = json!("altered in transit");
    altered.object = signed_text(&original).expect("canonical text");
    // The same object as another text than its canonical form: the
    // signature covers other bytes, so it does not verify either.
    let spaced = indicator("indicator--0c000000-0000-4000-8000-000000000005", "2026-01-01T00:00:00.000Z");
    let mut reformatted = signed(spaced.clone(), &f.hub.org);
    reformatted.object = serde_json::value::RawValue::from_string(serde_json::to_string_pretty(&spaced).expect("json")).expect("json");
    let mut foreign = signed(indicator("indicator--0c000000-0000-4000-8000-000000000003", "2026-01-01T00:00:00.000Z"), &f.nato.org);
    foreign.signer = f.nato.org.clone();
    // Three objects signed as one tree: the first arrives as signed, the
    // second altered after signing, the third with its proof moved to
    // another leaf. Only the first verifies.
    let members: Vec<Value> = (6..=8).map(|n| indicator(&format!("indicator--0c000000-0000-4000-8000-00000000000{n}"), "2026-01-01T00:00:00.000Z")).collect();
    let texts: Vec<Vec<u8>> = members.iter().map(signed_bytes).collect();
    let text_refs: Vec<&[u8]> = texts.iter().map(Vec::as_slice).collect();
    let tree = phalanx_federation::tree::build(&text_refs, &[[1; 16], [2; 16], [3; 16]]);
    let tree_sig = enisa_key.sign(&phalanx_federation::tree::tree_message(&tree.root, 3));
    let mut in_tree: Vec<SignedObject> = members
        .iter()
        .zip(&tree.proofs)
        .map(|(m, proof)| SignedObject { sig: tree_sig.clone(), tree: Some(proof.clone()), ..signed(m.clone(), &f.hub.org) })
        .collect();
    let mut altered_member = members[1].clone();
    altered_member["name"] = json!("altered in transit");
    in_tree[1].object = signed_text(&altered_member).expect("canonical text");
    if let Some(proof) = in_tree[2].tree.as_mut() {
        proof.index = 0;
    }
    let mut objects = vec![signed(genuine, &f.hub.org), altered, foreign, reformatted];
    objects.extend(in_tree);
    for (i, o) in objects.iter_mut().enumerate() {
        o.seq = i as i64 + 1;
    }
    let batch = Batch {
        from: 0,
        to: 7,
        more: false,
        objects,
        keys: vec![PublicKey { owner: f.hub.org.clone(), key_id: enisa_key.key_id.clone(), public_key: enisa_key.public_text() }],
        deletions: vec![],
    };
    let (status, body) = post(serde_json::to_vec(&batch).expect("json"), true);
    assert_eq!(status, 200, "{body}");
    let reply: Value = serde_json::from_str(&body).expect("reply");
    assert_eq!(reply["stored"], 2, "{reply}");
    assert_eq!(reply["refused_count"], 5, "{reply}");
    let reasons = reply["refused"].to_string();
    assert!(reasons.contains("does not verify"), "{reasons}");
    assert!(reasons.contains("does not serve"), "{reasons}");
    assert_eq!(f.ltu.versions("indicator--0c000000-0000-4000-8000-000000000001"), 1);
    assert_eq!(f.ltu.versions("indicator--0c000000-0000-4000-8000-000000000002"), 0, "an altered object was stored");
    assert_eq!(f.ltu.versions("indicator--0c000000-0000-4000-8000-000000000003"), 0, "an object of an organisation mallory does not serve was stored");
    assert_eq!(f.ltu.versions("indicator--0c000000-0000-4000-8000-000000000005"), 0, "an object whose text is not what was signed was stored");
    assert_eq!(f.ltu.versions("indicator--0c000000-0000-4000-8000-000000000006"), 1, "the genuine member of a signed tree");
    assert_eq!(f.ltu.versions("indicator--0c000000-0000-4000-8000-000000000007"), 0, "a member of a tree altered after signing was stored");
    assert_eq!(f.ltu.versions("indicator--0c000000-0000-4000-8000-000000000008"), 0, "a member of a tree with a moved proof was stored");
    // The same version again, signed anew (a tree of one): it is held
    // already, so it keeps the signature it came with first.
    let again = indicator("indicator--0c000000-0000-4000-8000-000000000001", "2026-01-01T00:00:00.000Z");
    let one = phalanx_federation::tree::build(&[signed_bytes(&again).as_slice()], &[[9; 16]]);
    let resent = SignedObject {
        seq: 8,
        sig: enisa_key.sign(&phalanx_federation::tree::tree_message(&one.root, 1)),
        tree: one.proofs.into_iter().next(),
        ..signed(again, &f.hub.org)
    };
    let batch = Batch { from: 7, to: 8, more: false, objects: vec![resent], keys: vec![], deletions: vec![] };
    let (status, body) = post(serde_json::to_vec(&batch).expect("json"), true);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("\"unchanged\":1"), "{body}");
    let (rows, trees): (i64, i64) = f
        .ltu
        .db()
        .query_row(
            "SELECT COUNT(*), COUNT(v.proof) FROM received_signatures v JOIN objects o ON o.seq = v.seq \
             WHERE o.id = 'indicator--0c000000-0000-4000-8000-000000000001'",
            [],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
        .expect("signatures");
    assert_eq!((rows, trees), (1, 0), "the first signature (not a tree's) stays, alone");
    let tree_rows: i64 = f
        .ltu
        .db()
        .query_row(
            "SELECT COUNT(v.proof) FROM received_signatures v JOIN objects o ON o.seq = v.seq \
             WHERE o.id = 'indicator--0c000000-0000-4000-8000-000000000006'",
            [],
            |r| r.get(0),
        )
        .expect("signatures");
    assert_eq!(tree_rows, 1, "a tree member's proof is stored with its signature");

    // A deletion signed by ENISA of an object ENISA did not originate is refused.
    let victim = "indicator--0c000000-0000-4000-8000-000000000004";
    f.ltu.import(&[indicator(victim, "2026-01-01T00:00:00.000Z")], &[]);
    let version = "2026-01-01T00:00:00.000000000Z";
    let stored_version: String =
        f.ltu.db().query_row("SELECT version FROM objects WHERE id = ?1", [victim], |r| r.get(0)).expect("victim stored");
    assert_eq!(stored_version.len(), version.len(), "{stored_version}");
    let forged = Batch {
        from: 3,
        to: 3,
        more: false,
        objects: vec![],
        keys: vec![],
        deletions: vec![phalanx_federation::protocol::SignedDeletion {
            id: victim.to_owned(),
            version: stored_version.clone(),
            signer: f.hub.org.clone(),
            key_id: enisa_key.key_id.clone(),
            sig: enisa_key.sign(&phalanx_federation::protocol::deletion_bytes(victim, &stored_version)),
        }],
    };
    let (status, body) = post(serde_json::to_vec(&forged).expect("json"), true);
    assert_eq!(status, 200, "{body}");
    assert!(body.contains("only the originator"), "{body}");
    assert_eq!(f.ltu.versions(victim), 1, "a forged deletion deleted a version");

    // Garbage, a bad node signature, a gap, an oversized body.
    assert_eq!(post(b"\x00garbage{".to_vec(), true).0, 400);
    assert_eq!(post(b"{}".to_vec(), false).0, 401);
    let gap = Batch { from: 100, to: 101, more: false, objects: vec![], keys: vec![], deletions: vec![] };
    let (status, body) = post(serde_json::to_vec(&gap).expect("json"), true);
    assert_eq!(status, 409, "{body}");
    assert!(body.contains("\"have\":8"), "{body}");
    // An oversized body is refused by its declared length, before it is
    // read: a client still writing may see the connection closed under it,
    // so this one reads the answer while another thread writes.
    let huge = vec![b' '; 65 << 20];
    assert_eq!(status_of_large_post(&f.ltu.url(), PUSH_PATH, &auth_header(&node, "POST", PUSH_PATH, &huge), &huge), 413);

    // A flood is throttled: 8 connections of 100 requests each.
    let throttled = std::sync::atomic::AtomicUsize::new(0);
    std::thread::scope(|scope| {
        for _ in 0..8 {
            scope.spawn(|| {
                for _ in 0..100 {
                    let path = format!("{CHANGES_PATH}?after=0&limit=1");
                    let request = ureq::http::Request::builder()
                        .method("GET")
                        .uri(format!("{}{path}", f.ltu.url()))
                        .header(AUTH_HEADER, auth_header(&node, "GET", &path, b""))
                        .body(Vec::new())
                        .expect("request");
                    if agent.run(request).expect("http").status().as_u16() == 429 {
                        throttled.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                    }
                }
            });
        }
    });
    assert!(throttled.into_inner() > 0, "800 requests at once were not throttled");

    // Refusals are counted for the peer and audited.
    let status = f.ltu.status().into_iter().find(|s| s["name"] == "mallory").expect("mallory status");
    assert!(status["refused"].as_u64().unwrap_or(0) >= 4, "{status}");
    let audit = f.ltu.ok(&["audit", "show"]);
    assert!(audit.contains("federation-refused"), "{audit}");

    // The node stays up and keeps serving its other peers.
    let after = "indicator--0c000000-0000-4000-8000-000000000009";
    f.hub.import(&[indicator(after, "2026-01-01T00:00:00.000Z")], &[]);
    wait_until("the hub's next object reaches Lithuania", TIMEOUT, || f.ltu.versions(after) == 1);
}

/// POSTs `body` to `base` + `path` on a raw connection and returns the
/// answer's status code: the answer is read while another thread writes the
/// body, so a server that answers before reading it all (and closes) is
/// seen, not reported as a broken pipe.
fn status_of_large_post(base: &str, path: &str, auth: &str, body: &[u8]) -> u16 {
    use std::io::{Read, Write};
    let addr = base.trim_start_matches("http://");
    let stream = std::net::TcpStream::connect(addr).expect("connect");
    stream.set_read_timeout(Some(Duration::from_secs(60))).expect("read timeout");
    stream.set_write_timeout(Some(Duration::from_secs(60))).expect("write timeout");
    let mut writer = stream.try_clone().expect("clone");
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n{AUTH_HEADER}: {auth}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    std::thread::scope(|scope| {
        scope.spawn(move || {
            // Errors are expected once the server has answered and closed.
            let _ = writer.write_all(head.as_bytes()).and_then(|_| writer.write_all(body));
        });
        let mut answer = Vec::new();
        let mut reader = &stream;
        let mut buf = [0u8; 1024];
        while !answer.windows(2).any(|w| w == b"\r\n") {
            let n = reader.read(&mut buf).expect("read the answer");
            assert!(n > 0, "the connection closed without an answer");
            answer.extend_from_slice(&buf[..n]);
        }
        // Unblock the writer if the server keeps reading.
        let _ = stream.shutdown(std::net::Shutdown::Both);
        let line = String::from_utf8_lossy(&answer).lines().next().unwrap_or_default().to_owned();
        line.split(' ').nth(1).and_then(|code| code.parse().ok()).unwrap_or_else(|| panic!("not an HTTP status line: {line}"))
    })
}
