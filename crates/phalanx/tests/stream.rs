//! The live event stream (`GET /api/v1/stream`) against a real `phalanx
//! serve`: no gaps and no duplicates across a reconnect while writes go
//! on (TAXII POSTs and a CLI import into the same data directory), event
//! kinds, the read rule per caller, "from now", `?after=`, keep-alives,
//! and the end of streams on shutdown.
//!
//! Also the small HTTP helpers (a server on a temporary node, raw
//! HTTP/1.1 over `TcpStream`) that `limits.rs` uses.

use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub const TAXII: &str = "application/taxii+json;version=2.1";
pub const ALL: &str = "/taxii2/root/collections/all/";
pub const TLP_GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
pub const TLP_CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";

pub fn phalanx(data: &Path, args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .arg("--data")
        .arg(data)
        .args(args)
        .env_remove("PHALANX_USER")
        .output()
        .expect("run phalanx")
}

use crate::common::last_line_of_success as last_line;

pub use crate::common::HttpAnswer as Resp;

/// A running `phalanx serve` on a temporary node with users alice
/// (analyst, SECRET, CERT-LT), bob (viewer, UNCLASSIFIED, CERT-LT) and
/// erin (analyst, SECRET, CERT-FI: EU only).
pub struct Server {
    pub data: tempfile::TempDir,
    pub child: Option<Child>,
    /// `127.0.0.1:port`.
    pub addr: String,
    pub tokens: HashMap<String, String>,
}

impl Server {
    pub fn start(env: &[(&str, &str)]) -> Server {
        let data = tempfile::tempdir().expect("tempdir");
        last_line(&phalanx(data.path(), &["init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU,NATO"]));
        last_line(&phalanx(data.path(), &["org", "add", "--name", "CERT-FI", "--country", "FIN", "--member-of", "EU", "--kind", "national-authority"]));
        let mut tokens = HashMap::new();
        for (name, org, role, clearance) in
            [("alice", "CERT-LT", "analyst", "SECRET"), ("bob", "CERT-LT", "viewer", "UNCLASSIFIED"), ("erin", "CERT-FI", "analyst", "SECRET")]
        {
            let out = phalanx(
                data.path(),
                &["user", "add", "--org", org, "--name", name, "--role", role, "--clearance", clearance, "--briefed", "EU,NATO"],
            );
            tokens.insert(name.to_owned(), last_line(&out));
        }
        let mut server = Server { data, child: None, addr: String::new(), tokens };
        server.spawn(env);
        server
    }

    pub fn spawn(&mut self, env: &[(&str, &str)]) {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_phalanx"));
        cmd.arg("--data").arg(self.data.path()).args(["serve", "--listen", "127.0.0.1:0"]).env_remove("PHALANX_USER");
        for (k, v) in env {
            cmd.env(k, v);
        }
        let (child, url) = crate::common::spawn_serve(cmd.stderr(Stdio::null()));
        let base = url.strip_prefix("http://").unwrap_or_else(|| panic!("unexpected address: {url}"));
        self.addr = base.to_owned();
        self.child = Some(child);
    }

    /// `Authorization: Bearer <token>` of `user`.
    pub fn auth(&self, user: &str) -> String {
        format!("Bearer {}", self.tokens[user])
    }

    /// Sends a request; `user` signs in with its token.
    pub fn request(&self, method: &str, path: &str, user: Option<&str>, headers: &[(&str, &str)], body: &[u8]) -> Resp {
        let mut all: Vec<(String, String)> = headers.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect();
        if let Some(u) = user {
            all.push(("Authorization".into(), self.auth(u)));
        }
        if path.starts_with("/taxii2") && !headers.iter().any(|(k, _)| k.eq_ignore_ascii_case("accept")) {
            all.push(("Accept".into(), TAXII.into()));
        }
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        s.set_read_timeout(Some(Duration::from_secs(60))).expect("timeout");
        let mut head = format!("{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n", self.addr, body.len());
        for (k, v) in &all {
            head.push_str(&format!("{k}: {v}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).expect("write head");
        s.write_all(body).expect("write body");
        read_response(s)
    }

    /// POSTs `objects` to the collection at `collection` as `user`; all
    /// must be stored.
    pub fn post_objects(&self, collection: &str, user: &str, objects: &[Value]) -> Resp {
        let body = json!({"objects": objects}).to_string();
        let r = self.request("POST", &format!("{collection}objects/"), Some(user), &[("Content-Type", TAXII)], body.as_bytes());
        assert_eq!(r.status, 202, "{}", r.body);
        assert_eq!(r.json()["failure_count"], 0, "{}", r.body);
        r
    }

    /// Opens the live stream as `user` with extra headers and query.
    pub fn open_stream(&self, user: Option<&str>, query: &str, last_event_id: Option<&str>) -> EventReader {
        let mut s = TcpStream::connect(&self.addr).expect("connect");
        let mut head = format!("GET /api/v1/stream{query} HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n", self.addr);
        if let Some(u) = user {
            head.push_str(&format!("Authorization: {}\r\n", self.auth(u)));
        }
        if let Some(id) = last_event_id {
            head.push_str(&format!("Last-Event-ID: {id}\r\n"));
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).expect("write");
        s.set_read_timeout(Some(Duration::from_millis(200))).expect("timeout");
        let mut r = EventReader { reader: BufReader::new(s), status: 0, headers: HashMap::new(), chunk_left: 0, buf: String::new(), comments: 0 };
        r.read_head();
        r
    }

    /// Sends SIGTERM and waits for the exit (at most `within`); the time
    /// it took.
    pub fn terminate(&mut self, within: Duration) -> Duration {
        let mut child = self.child.take().expect("running");
        let started = Instant::now();
        let _ = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status();
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                assert_eq!(status.code(), Some(0));
                return started.elapsed();
            }
            if started.elapsed() > within {
                let _ = child.kill();
                let _ = child.wait();
                panic!("server did not stop within {within:?} of SIGTERM");
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// True while the server process runs.
    pub fn alive(&mut self) -> bool {
        self.child.as_mut().is_some_and(|c| c.try_wait().ok().flatten().is_none())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Reads a whole HTTP/1.1 response (the server closes the connection).
pub fn read_response(mut s: TcpStream) -> Resp {
    let mut raw = Vec::new();
    s.read_to_end(&mut raw).expect("read response");
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let mut lines = head.lines();
    let status = lines.next().and_then(|l| l.split(' ').nth(1)).and_then(|c| c.parse().ok()).unwrap_or(0);
    let headers: HashMap<String, String> = lines
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_owned()))
        .collect();
    let body = if headers.get("transfer-encoding").is_some_and(|t| t.contains("chunked")) { dechunk(body) } else { body.to_owned() };
    Resp { status, headers, body }
}

fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let n = usize::from_str_radix(size.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

/// One server-sent event.
#[derive(Clone, Debug)]
pub struct Sse {
    pub id: Option<String>,
    pub event: Option<String>,
    pub data: String,
}

/// Reads events from an open stream (chunked transfer encoding).
pub struct EventReader {
    reader: BufReader<TcpStream>,
    pub status: u16,
    pub headers: HashMap<String, String>,
    chunk_left: usize,
    /// Decoded text not yet parsed into events.
    buf: String,
    /// Comment lines seen (keep-alives).
    pub comments: usize,
}

impl EventReader {
    fn read_line_blocking(&mut self, deadline: Instant) -> Option<String> {
        let mut line = String::new();
        loop {
            match self.reader.read_line(&mut line) {
                Ok(0) => return None,
                Ok(_) if line.ends_with('\n') => return Some(line),
                Ok(_) => {}
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if Instant::now() > deadline {
                        return None;
                    }
                }
                Err(_) => return None,
            }
        }
    }

    fn read_head(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(30);
        let status = self.read_line_blocking(deadline).expect("status line");
        self.status = status.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap_or(0);
        while let Some(line) = self.read_line_blocking(deadline) {
            let line = line.trim_end();
            if line.is_empty() {
                break;
            }
            if let Some((k, v)) = line.split_once(':') {
                self.headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_owned());
            }
        }
    }

    /// Reads decoded body text until `deadline`; false at the end of the
    /// stream.
    fn fill(&mut self, deadline: Instant) -> bool {
        if self.chunk_left == 0 {
            let Some(size) = self.read_line_blocking(deadline) else { return false };
            let size = size.trim();
            if size.is_empty() {
                return true;
            }
            let n = usize::from_str_radix(size, 16).unwrap_or(0);
            if n == 0 {
                return false;
            }
            self.chunk_left = n + 2; // data and its CRLF
        }
        let mut piece = vec![0u8; self.chunk_left];
        let mut got = 0;
        while got < piece.len() {
            match self.reader.read(&mut piece[got..]) {
                Ok(0) => return false,
                Ok(n) => got += n,
                Err(e) if matches!(e.kind(), std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut) => {
                    if Instant::now() > deadline + Duration::from_secs(5) {
                        return false;
                    }
                }
                Err(_) => return false,
            }
        }
        self.chunk_left = 0;
        let text = String::from_utf8_lossy(&piece);
        self.buf.push_str(text.strip_suffix("\r\n").unwrap_or(&text));
        true
    }

    /// The next event, or `None` when none came before `timeout`.
    pub fn next_event(&mut self, timeout: Duration) -> Option<Sse> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(end) = self.buf.find("\n\n") {
                let block: String = self.buf.drain(..end + 2).collect();
                let mut ev = Sse { id: None, event: None, data: String::new() };
                let mut any = false;
                for line in block.lines() {
                    if line.is_empty() {
                        continue;
                    }
                    if line.starts_with(':') {
                        self.comments += 1;
                        continue;
                    }
                    let (field, value) = line.split_once(':').map(|(f, v)| (f, v.strip_prefix(' ').unwrap_or(v))).unwrap_or((line, ""));
                    any = true;
                    match field {
                        "id" => ev.id = Some(value.to_owned()),
                        "event" => ev.event = Some(value.to_owned()),
                        "data" => {
                            if !ev.data.is_empty() {
                                ev.data.push('\n');
                            }
                            ev.data.push_str(value);
                        }
                        _ => {}
                    }
                }
                if any {
                    return Some(ev);
                }
                continue;
            }
            if Instant::now() > deadline || !self.fill(deadline) {
                return None;
            }
        }
    }

    /// Events until `n` were read or nothing came for `quiet`.
    pub fn collect(&mut self, n: usize, quiet: Duration) -> Vec<Sse> {
        let mut out = Vec::new();
        while out.len() < n {
            match self.next_event(quiet) {
                Some(e) => out.push(e),
                None => break,
            }
        }
        out
    }
}

pub fn indicator(id: &str, modified: &str, name: &str, markings: &[&str]) -> Value {
    json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": modified, "name": name,
        "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z", "object_marking_refs": markings
    })
}

fn ind_id(i: usize) -> String {
    format!("indicator--00000000-0000-4000-8000-{i:012}")
}

/// (object id, modified, event kind, date_added) of an event.
fn parts(e: &Sse) -> (String, String, String, String) {
    let data: Value = serde_json::from_str(&e.data).unwrap_or_else(|err| panic!("event data is json ({err}): {}", e.data));
    let o = &data["object"];
    (
        o["id"].as_str().unwrap_or_default().to_owned(),
        o["modified"].as_str().unwrap_or_default().to_owned(),
        e.event.clone().unwrap_or_default(),
        data["date_added"].as_str().unwrap_or_default().to_owned(),
    )
}

#[test]
fn reconnect_with_last_event_id_loses_and_repeats_nothing_while_writes_go_on() {
    let server = Server::start(&[("PHALANX_STREAM_POLL_MS", "200")]);
    // Written before the stream opens: not sent ("from now").
    server.post_objects(ALL, "alice", &[indicator(&ind_id(999), "2026-01-01T00:00:00.000Z", "old", &[TLP_GREEN])]);
    let mut first = server.open_stream(Some("alice"), "", None);
    assert_eq!(first.status, 200);
    assert!(first.headers.get("content-type").is_some_and(|t| t.starts_with("text/event-stream")), "{:?}", first.headers);

    // The writer: 40 POSTs of 3 versions each (new objects and new
    // versions of earlier ones), and a CLI import from another process.
    let addr = server.addr.clone();
    let token = server.tokens["alice"].clone();
    let data_dir = server.data.path().to_owned();
    let writer = std::thread::spawn(move || {
        let mut written: Vec<(String, String)> = Vec::new();
        let helper = Server { data: tempfile::tempdir().expect("tempdir"), child: None, addr, tokens: HashMap::from([("alice".to_owned(), token)]) };
        for round in 0..40 {
            let mut objects = Vec::new();
            for k in 0..3 {
                let i = (round * 3 + k) % 50;
                let modified = format!("2026-02-01T00:00:{:02}.{:03}Z", round % 60, round * 3 + k);
                objects.push(indicator(&ind_id(i), &modified, &format!("r{round}"), &[TLP_GREEN]));
                written.push((ind_id(i), modified));
            }
            helper.post_objects(ALL, "alice", &objects);
            if round == 20 {
                let file = data_dir.join("cli.json");
                let o = indicator(&ind_id(500), "2026-03-01T00:00:00.000Z", "from the cli", &[TLP_GREEN]);
                std::fs::write(&file, json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": [o]}).to_string())
                    .expect("write bundle");
                let out = phalanx(&data_dir, &["import", file.to_str().expect("path")]);
                assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
                written.push((ind_id(500), "2026-03-01T00:00:00.000Z".to_owned()));
            }
            std::thread::sleep(Duration::from_millis(15));
        }
        written
    });

    // Read some events, then drop the connection mid-stream.
    let mut got = first.collect(25, Duration::from_secs(10));
    assert_eq!(got.len(), 25, "events arrive while the writer runs");
    drop(first);
    std::thread::sleep(Duration::from_millis(300)); // writes go on while disconnected
    let last = got.last().and_then(|e| e.id.clone()).expect("events carry ids");
    let mut second = server.open_stream(Some("alice"), "?after=0", Some(&last));
    assert_eq!(second.status, 200);
    let written = writer.join().expect("writer");
    got.extend(second.collect(written.len() + 10 - got.len(), Duration::from_secs(4)));

    let ids: Vec<u64> = got.iter().map(|e| u64::from_str_radix(e.id.as_deref().unwrap_or("x"), 16).expect("hex id")).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "ids strictly increase across the reconnect: {ids:?}");
    let seen: Vec<(String, String)> = got.iter().map(|e| { let p = parts(e); (p.0, p.1) }).collect();
    assert!(!seen.iter().any(|(id, _)| *id == ind_id(999)), "versions older than the stream are not sent");
    let unique: HashSet<&(String, String)> = seen.iter().collect();
    assert_eq!(unique.len(), seen.len(), "no duplicates");
    let expected: HashSet<&(String, String)> = written.iter().collect();
    assert_eq!(unique, expected, "every version written, nothing else");
    assert!(seen.contains(&(ind_id(500), "2026-03-01T00:00:00.000Z".to_owned())), "a CLI import shows up through the poll");

    // Event kinds: the first version of an id is created, later ones updated.
    let mut met = HashSet::new();
    for e in &got {
        let (id, _, kind, date_added) = parts(e);
        assert_eq!(date_added.len(), 27, "TAXII timestamp: {date_added}");
        let want = if met.insert(id.clone()) { "created" } else { "updated" };
        assert_eq!(kind, want, "{id}");
    }
    // And the event ids are the TAXII date_added order: the manifest agrees.
    let manifest = server.request("GET", &format!("{ALL}manifest/?match[version]=all&limit=1000"), Some("alice"), &[], b"");
    let listed: Vec<(String, String)> = manifest.json()["objects"]
        .as_array()
        .expect("manifest")
        .iter()
        .map(|r| (r["id"].as_str().unwrap_or_default().to_owned(), r["version"].as_str().unwrap_or_default().to_owned()))
        .filter(|(id, _)| id.starts_with("indicator--") && *id != ind_id(999))
        .collect();
    let seen_norm: Vec<(String, String)> =
        seen.iter().map(|(id, m)| (id.clone(), phalanx_model::Timestamp::parse(m).expect("ts").to_string())).collect();
    let listed_norm: Vec<(String, String)> =
        listed.iter().map(|(id, m)| (id.clone(), phalanx_model::Timestamp::parse(m).expect("ts").to_string())).collect();
    assert_eq!(seen_norm, listed_norm, "stream order is date_added order");
}

#[test]
fn each_caller_gets_what_it_may_read_and_revocations_are_events() {
    let server = Server::start(&[]);
    let mut alice = server.open_stream(Some("alice"), "", None);
    let mut bob = server.open_stream(Some("bob"), "", None);
    let mut erin = server.open_stream(Some("erin"), "", None);
    let mut anonymous = server.open_stream(None, "", None);
    let public = indicator(&ind_id(1), "2026-01-01T00:00:00.000Z", "public", &[TLP_CLEAR]);
    let green = indicator(&ind_id(2), "2026-01-01T00:00:00.000Z", "green", &[TLP_GREEN]);
    let mut revoked = indicator(&ind_id(2), "2026-01-02T00:00:00.000Z", "green, revoked", &[TLP_GREEN]);
    revoked["revoked"] = json!(true);
    server.post_objects(ALL, "alice", &[public, green, revoked]);

    let names = |r: &mut EventReader, n: usize| -> Vec<(String, String)> {
        r.collect(n, Duration::from_secs(3)).iter().map(|e| { let p = parts(e); (p.0, p.2) }).collect()
    };
    let want_all = vec![(ind_id(1), "created".to_owned()), (ind_id(2), "created".to_owned()), (ind_id(2), "revoked".to_owned())];
    assert_eq!(names(&mut alice, 10), want_all);
    assert_eq!(names(&mut bob, 10), want_all, "TLP:GREEN of its own organisation");
    // CERT-FI is no originator: TLP:GREEN under UNCLASSIFIED is readable by
    // every organisation of the federation.
    assert_eq!(names(&mut erin, 10), want_all);
    assert_eq!(names(&mut anonymous, 10), vec![(ind_id(1), "created".to_owned())], "anonymous callers get public data only");

    // An EU RESTRICTED object: alice (cleared) gets it, bob does not.
    let label = phalanx_labels::Label {
        policy: phalanx_labels::Policy::Eu,
        classification: phalanx_labels::Rank::Restricted,
        releasable_to: Default::default(),
        caveats: Default::default(),
        tlp: None,
        pap: None,
        exercise: None,
        originator: None,
    };
    let marking = phalanx_labels::label_marking_definition(&label);
    let mid = marking["id"].as_str().expect("id").to_owned();
    server.post_objects(ALL, "alice", &[marking.clone(), indicator(&ind_id(3), "2026-01-01T00:00:00.000Z", "restricted", &[TLP_GREEN, &mid])]);
    let a: Vec<String> = names(&mut alice, 10).into_iter().map(|(id, _)| id).collect();
    assert!(a.contains(&ind_id(3)), "{a:?}");
    let b: Vec<String> = names(&mut bob, 10).into_iter().map(|(id, _)| id).collect();
    assert!(b.contains(&mid), "marking definitions are public metadata: {b:?}");
    assert!(!b.contains(&ind_id(3)), "bob is not cleared: {b:?}");
    let anon: Vec<String> = names(&mut anonymous, 10).into_iter().map(|(id, _)| id).collect();
    assert_eq!(anon, vec![mid.clone()], "anonymous callers get public data only");

    // ?after=0 replays everything alice may read; a bad id is a 400 (JSON).
    let mut replay = server.open_stream(Some("alice"), "?after=0", None);
    let all: Vec<String> = names(&mut replay, 100).into_iter().map(|(id, _)| id).collect();
    assert!(all.contains(&ind_id(1)) && all.contains(&ind_id(3)), "{all:?}");
    let bad = server.request("GET", "/api/v1/stream?after=zz", Some("alice"), &[], b"");
    assert_eq!(bad.status, 400);
    assert_eq!(bad.json()["code"], "invalid_parameter");
    let refused = server.request("GET", "/api/v1/stream", None, &[("Authorization", "Bearer phx_nope")], b"");
    assert_eq!(refused.status, 401, "a bad token never downgrades to anonymous");
}

#[test]
fn keepalives_flow_the_timeout_spares_streams_and_shutdown_ends_them() {
    let mut server = Server::start(&[("PHALANX_STREAM_KEEPALIVE_SECS", "1"), ("PHALANX_REQUEST_TIMEOUT_SECS", "1"), ("PHALANX_SHUTDOWN_GRACE_SECS", "20")]);
    let mut s = server.open_stream(Some("alice"), "", None);
    assert_eq!(s.status, 200);
    let none = s.next_event(Duration::from_millis(2500));
    assert!(none.is_none(), "{none:?}");
    assert!(s.comments >= 1, "a keep-alive comment within 2.5 s");
    // Still open past the 1 s request timeout: an event arrives.
    server.post_objects(ALL, "alice", &[indicator(&ind_id(7), "2026-01-01T00:00:00.000Z", "late", &[TLP_GREEN])]);
    let e = s.next_event(Duration::from_secs(3)).expect("event after the request timeout");
    assert_eq!(parts(&e).0, ind_id(7));
    // SIGTERM ends the stream at once, not after the 20 s grace period.
    let took = server.terminate(Duration::from_secs(15));
    assert!(took < Duration::from_secs(10), "stopped in {took:?}");
    assert!(s.next_event(Duration::from_secs(2)).is_none());
}

#[test]
fn rapid_response_events_ride_on_the_versions_that_carry_them() {
    let server = Server::start(&[("PHALANX_STREAM_DEADLINE_SCAN_SECS", "1")]);
    let mut alice = server.open_stream(Some("alice"), "", None);
    let mut erin = server.open_stream(Some("erin"), "", None);
    let lt = {
        let out = phalanx(server.data.path(), &["org", "list"]);
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        text.lines()
            .find(|l| l.contains("CERT-LT"))
            .and_then(|l| l.split_whitespace().find(|w| w.starts_with("identity--")))
            .unwrap_or_else(|| panic!("CERT-LT in {text}"))
            .to_owned()
    };
    let body = json!({"request": {"name": "CRRT", "channel": "crrt", "beneficiary_ref": lt,
                                  "services": ["incident-response"], "mode": "remote"}, "submit": true, "tlp": "green"});
    let created = server.request(
        "POST",
        "/api/v1/assistance-requests",
        Some("alice"),
        &[("Content-Type", "application/json")],
        body.to_string().as_bytes(),
    );
    assert_eq!(created.status, 201, "{}", created.body);
    let id = created.json()["object"]["id"].as_str().expect("id").to_owned();
    let moved = server.request(
        "POST",
        &format!("/api/v1/assistance-requests/{id}/transitions"),
        Some("alice"),
        &[("Content-Type", "application/json")],
        json!({"to": "assessing"}).to_string().as_bytes(),
    );
    assert_eq!(moved.status, 200, "{}", moved.body);
    let kinds_of = |e: &Sse| -> Vec<String> {
        let data: Value = serde_json::from_str(&e.data).expect("json data");
        data["events"].as_array().map(|a| a.iter().map(|k| k["kind"].as_str().unwrap_or_default().to_owned()).collect()).unwrap_or_default()
    };
    let events: Vec<Sse> = alice
        .collect(20, Duration::from_secs(3))
        .into_iter()
        .filter(|e| serde_json::from_str::<Value>(&e.data).is_ok_and(|d| d["object"]["id"] == id.as_str()))
        .collect();
    assert_eq!(events.len(), 2, "{events:#?}");
    assert_eq!(events[0].event.as_deref(), Some("created"));
    assert_eq!(kinds_of(&events[0]), vec!["assistance-request.created", "assistance-request.state-changed"]);
    assert_eq!(events[1].event.as_deref(), Some("updated"));
    assert_eq!(kinds_of(&events[1]), vec!["assistance-request.state-changed"]);
    let data: Value = serde_json::from_str(&events[1].data).expect("json");
    assert_eq!(data["events"][0]["detail"]["from"], "submitted");
    assert_eq!(data["events"][0]["detail"]["to"], "assessing");

    // A task overdue since 2020, for CERT-LT only: alice's stream announces it once, erin's never.
    let task = server.request(
        "POST",
        "/api/v1/tasks",
        Some("alice"),
        &[("Content-Type", "application/json")],
        json!({"task": {"name": "Image the servers", "request_ref": id, "due": "2020-01-01T00:00:00Z"}, "tlp": "amber+strict"})
            .to_string()
            .as_bytes(),
    );
    assert_eq!(task.status, 201, "{}", task.body);
    let task_id = task.json()["object"]["id"].as_str().expect("task id").to_owned();
    let overdue = |r: &mut EventReader| -> Vec<Sse> {
        r.collect(50, Duration::from_secs(4))
            .into_iter()
            .filter(|e| e.event.as_deref() == Some("deadline.overdue") && e.data.contains(&task_id))
            .collect()
    };
    let seen = overdue(&mut alice);
    assert_eq!(seen.len(), 1, "announced once over several scans: {seen:#?}");
    assert!(seen[0].id.is_none(), "a state, not a version: no event id");
    let data: Value = serde_json::from_str(&seen[0].data).expect("json");
    assert_eq!(data["detail"]["deadline"], "task-due");
    assert!(overdue(&mut erin).is_empty(), "erin may not read the task");
}
