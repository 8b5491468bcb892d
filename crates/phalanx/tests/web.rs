//! The web UI through the real `phalanx demo` node: login with the
//! double-submit token, session cookie flags, CSRF on every POST, logout,
//! failed-login throttling, and the operating picture, search and object
//! pages computed under the read rule (a SECRET incident counts for a
//! SECRET user and nowhere for a RESTRICTED one). The browser tests
//! (`web/browser-tests.sh`) drive the same pages in Chromium.

use std::collections::HashMap;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

struct Demo {
    _data: tempfile::TempDir,
    data_path: std::path::PathBuf,
    child: Child,
    base: String,
    agent: ureq::Agent,
}

impl Drop for Demo {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

struct Resp {
    status: u16,
    headers: Vec<(String, String)>,
    body: String,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
    fn cookies(&self) -> Vec<&str> {
        self.headers.iter().filter(|(k, _)| k == "set-cookie").map(|(_, v)| v.as_str()).collect()
    }
}

/// A browser's cookie jar, reduced to what these tests need.
#[derive(Default)]
struct Jar(HashMap<String, String>);

impl Jar {
    fn take(&mut self, resp: &Resp) {
        for c in resp.cookies() {
            let pair = c.split(';').next().unwrap_or_default();
            if let Some((k, v)) = pair.split_once('=') {
                if v.is_empty() {
                    self.0.remove(k);
                } else {
                    self.0.insert(k.to_owned(), v.to_owned());
                }
            }
        }
    }
    fn header(&self) -> String {
        self.0.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("; ")
    }
}

fn attr<'a>(html: &'a str, marker: &str, name: &str) -> Option<&'a str> {
    let at = html.find(marker)?;
    let rest = &html[at..];
    let key = format!("{name}=\"");
    let start = rest.find(&key)? + key.len();
    let end = rest[start..].find('"')? + start;
    Some(&rest[start..end])
}

impl Demo {
    fn start() -> Demo {
        let data = tempfile::tempdir().expect("tempdir");
        let data_path = data.path().to_owned();
        let mut child = Command::new(env!("CARGO_BIN_EXE_phalanx"))
            .arg("--data")
            .arg(data.path())
            .args(["demo", "--listen", "127.0.0.1:0"])
            .env_remove("PHALANX_USER")
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn demo");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                let _ = tx.send(line);
            }
        });
        let mut base = None;
        let mut printed = Vec::new();
        while base.is_none() {
            let line = rx.recv_timeout(Duration::from_secs(180)).unwrap_or_else(|_| panic!("demo did not start: {printed:?}"));
            if let Some(url) = line.strip_prefix("listening on ") {
                base = Some(url.to_owned());
            }
            printed.push(line);
        }
        assert!(printed.iter().any(|l| l.contains("lt-analyst") && l.contains("demo-lt-analyst-pw")), "logins printed: {printed:?}");
        let agent = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .max_redirects(0)
            .timeout_global(Some(Duration::from_secs(30)))
            .build()
            .new_agent();
        Demo { _data: data, data_path, child, base: base.unwrap_or_default(), agent }
    }

    fn request(&self, method: &str, path: &str, jar: &Jar, form: Option<&[(&str, &str)]>, origin: Option<&str>) -> Resp {
        let mut b = ureq::http::Request::builder().method(method).uri(format!("{}{path}", self.base));
        if !jar.0.is_empty() {
            b = b.header("Cookie", jar.header());
        }
        if let Some(o) = origin {
            b = b.header("Origin", o);
        }
        let body = match form {
            Some(fields) => {
                b = b.header("Content-Type", "application/x-www-form-urlencoded");
                fields.iter().map(|(k, v)| format!("{k}={}", encode(v))).collect::<Vec<_>>().join("&")
            }
            None => String::new(),
        };
        let (status, headers, body) = crate::common::http_exchange(&self.agent, b.body(body.into_bytes()).expect("request"));
        Resp { status, headers, body }
    }

    /// Runs the `phalanx` CLI on the demo's data directory.
    fn phalanx(&self, args: &[&str]) -> std::process::Output {
        crate::common::phalanx_in(&self.data_path, args)
    }

    fn get(&self, path: &str, jar: &Jar) -> Resp {
        self.request("GET", path, jar, None, None)
    }

    /// Logs in; returns the jar and the answer to the POST.
    fn login(&self, name: &str, password: &str) -> (Jar, Resp) {
        self.login_in(name, password, "")
    }

    /// Logs in to work in `exercise` (empty: the real world).
    fn login_in(&self, name: &str, password: &str, exercise: &str) -> (Jar, Resp) {
        let mut jar = Jar::default();
        let page = self.get("/ui/login", &jar);
        assert_eq!(page.status, 200);
        jar.take(&page);
        let token = attr(&page.body, "name=\"csrf\"", "value").expect("login form token").to_owned();
        let resp = self.request("POST", "/ui/login", &jar, Some(&[("csrf", &token), ("name", name), ("password", password), ("exercise", exercise)]), None);
        jar.take(&resp);
        (jar, resp)
    }

    fn csrf(&self, jar: &Jar) -> String {
        let page = self.get("/ui/search", jar);
        attr(&page.body, "name=\"csrf-token\"", "content").expect("csrf meta").to_owned()
    }
}

fn encode(text: &str) -> String {
    let mut out = String::new();
    for b in text.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[test]
fn login_sessions_csrf_logout_and_throttling() {
    let demo = Demo::start();
    // No session: the dashboard sends to the login page.
    let anonymous = demo.get("/", &Jar::default());
    assert_eq!(anonymous.status, 303);
    assert_eq!(anonymous.header("location"), Some("/ui/login"));

    // The login form's double-submit token must match its cookie.
    let mut jar = Jar::default();
    let page = demo.get("/ui/login", &jar);
    jar.take(&page);
    let forged = demo.request("POST", "/ui/login", &jar, Some(&[("csrf", &"0".repeat(64)), ("name", "lt-analyst"), ("password", "demo-lt-analyst-pw")]), None);
    assert_eq!(forged.status, 403, "{}", forged.body);

    let (jar, resp) = demo.login("lt-analyst", "demo-lt-analyst-pw");
    assert_eq!(resp.status, 303, "{}", resp.body);
    let session = resp.cookies().into_iter().find(|c| c.starts_with("phalanx_session=")).expect("session cookie").to_owned();
    assert!(session.contains("HttpOnly") && session.contains("SameSite=Strict") && session.contains("Path=/"), "{session}");
    let dashboard = demo.get("/", &jar);
    assert_eq!(dashboard.status, 200);
    let csp = dashboard.header("content-security-policy").unwrap_or_default();
    assert!(csp.contains("default-src 'self'") && csp.contains("script-src 'self'"), "{csp}");
    assert!(!dashboard.body.contains("http://") && !dashboard.body.contains("https://"), "the page loads nothing from elsewhere");
    for asset in ["htmx.min.js", "uPlot.iife.min.js", "uPlot.min.css", "app.js", "app.css", "LICENSES.txt"] {
        assert_eq!(demo.get(&format!("/ui/assets/{asset}"), &Jar::default()).status, 200, "{asset}");
    }

    // Every POST needs the session's CSRF token, and a foreign Origin is refused.
    let token = demo.csrf(&jar);
    assert_eq!(demo.request("POST", "/ui/logout", &jar, Some(&[]), None).status, 403);
    assert_eq!(demo.request("POST", "/ui/logout", &jar, Some(&[("csrf", &"a".repeat(64))]), None).status, 403);
    let cross = demo.request("POST", "/ui/logout", &jar, Some(&[("csrf", &token)]), Some("http://evil.example"));
    assert_eq!(cross.status, 403);
    assert_eq!(demo.get("/", &jar).status, 200, "refused posts leave the session alone");
    let out = demo.request("POST", "/ui/logout", &jar, Some(&[("csrf", &token)]), None);
    assert_eq!(out.status, 303);
    assert_eq!(demo.get("/", &jar).status, 303, "the session ended at logout");

    // Failed logins are throttled per name and address, and audited.
    for _ in 0..5 {
        let (_, failed) = demo.login("lt-junior", "wrong password!");
        assert_eq!(failed.status, 401);
        assert!(failed.body.contains("authentication failed"));
    }
    let (_, throttled) = demo.login("lt-junior", "demo-lt-junior-pw");
    assert_eq!(throttled.status, 429, "even the right password waits: {}", throttled.body);
    assert!(throttled.header("retry-after").is_some());
    let store = phalanx_store::SqliteStore::open(&demo.data_path).expect("open store");
    let entries = phalanx_store::Registry::audit_entries(&store, 0, 1_000_000).expect("audit");
    assert!(entries.iter().any(|e| e.action == "login-throttled" && e.target == "lt-junior"));
    assert_eq!(entries.iter().filter(|e| e.action == "login-failed" && e.target == "lt-junior").count(), 5);
}

#[test]
fn the_picture_search_and_pages_follow_the_read_rule() {
    let demo = Demo::start();
    let (secret, r1) = demo.login("lt-analyst", "demo-lt-analyst-pw");
    let (restricted, r2) = demo.login("lt-junior", "demo-lt-junior-pw");
    assert_eq!((r1.status, r2.status), (303, 303));
    let a = demo.get("/", &secret).body;
    let b = demo.get("/", &restricted).body;
    assert_eq!(attr(&a, "id=\"open-incidents\"", "data-open"), Some("5"));
    assert_eq!(attr(&b, "id=\"open-incidents\"", "data-open"), Some("3"));
    assert_eq!(attr(&a, "data-country=\"LTU\"", "data-incidents"), Some("2"));
    assert_eq!(attr(&b, "data-country=\"LTU\"", "data-incidents"), Some("1"));
    assert_eq!(attr(&a, "data-country=\"LVA\"", "data-incidents"), Some("1"));
    assert_eq!(attr(&b, "data-country=\"LVA\"", "data-incidents"), Some("0"));
    assert_eq!(attr(&a, "data-country=\"EST\"", "data-deployments"), Some("1"));
    assert!(a.contains("SCADA") && !b.contains("SCADA"));
    assert!(a.contains("data-classification=\"SECRET\""), "the banner shows the highest label shown");
    assert!(!b.contains("data-classification=\"SECRET\""));
    assert!(a.contains("Collective threat: ") && b.contains("Collective threat: "));
    // The daily plots count under the rule as well, and follow new writes.
    assert_eq!(attr(&a, "id=\"series-totals\"", "data-incidents"), Some("5"));
    assert_eq!(attr(&b, "id=\"series-totals\"", "data-incidents"), Some("3"));
    // Four demo sightings and the two of the OASIS examples.
    assert_eq!(attr(&b, "id=\"series-totals\"", "data-sightings"), Some("6"));
    let opened = demo.phalanx(&["incident", "open", "--as", "pl-analyst", "--name", "Botnet in a water utility", "--country", "POL", "--tlp", "green"]);
    assert!(opened.status.success(), "{}", String::from_utf8_lossy(&opened.stderr));
    let b = demo.get("/", &restricted).body;
    assert_eq!(attr(&b, "id=\"series-totals\"", "data-incidents"), Some("4"));
    assert_eq!(attr(&b, "id=\"open-incidents\"", "data-open"), Some("4"));

    // In an exercise context the banner says so, and no real-world data
    // counts. An exercise indicator (NATO CONFIDENTIAL) counts in the plots
    // only, and the banner covers it.
    let file = demo.data_path.join("exercise-indicator.json");
    let indicator = serde_json::json!({
        "type": "indicator", "spec_version": "2.1", "id": "indicator--3f0c9a52-8d6e-4c1b-9a57-2b8e6d1f4c30",
        "created": "2026-11-28T10:00:00.000Z", "modified": "2026-11-28T10:00:00.000Z", "name": "Exercise C2",
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix", "valid_from": "2026-11-28T10:00:00Z"
    });
    std::fs::write(&file, indicator.to_string()).expect("write the indicator");
    let label = r#"{"policy":"NATO","classification":"CONFIDENTIAL","releasable_to":["NATO"],"exercise":"cyber-europe-2026"}"#;
    let file_arg = file.to_string_lossy();
    let imported = demo.phalanx(&[
        "import", "--as", "lt-analyst", "--exercise", "cyber-europe-2026", "--default-tlp", "amber", "--default-label", label, &file_arg,
    ]);
    assert!(imported.status.success(), "{}{}", String::from_utf8_lossy(&imported.stdout), String::from_utf8_lossy(&imported.stderr));
    let (exercise, r3) = demo.login_in("lt-analyst", "demo-lt-analyst-pw", "cyber-europe-2026");
    assert_eq!(r3.status, 303);
    let e = demo.get("/", &exercise).body;
    assert!(e.contains("id=\"exercise-banner\"") && e.contains("cyber-europe-2026"));
    assert_eq!(attr(&e, "id=\"open-incidents\"", "data-open"), Some("0"));
    assert_eq!(attr(&e, "id=\"series-totals\"", "data-indicators"), Some("1"));
    assert!(e.contains("data-classification=\"CONFIDENTIAL\""), "the banner covers what the plots count");
    assert!(!a.contains("Exercise C2"));
    assert!(!a.contains("id=\"exercise-banner\""));

    // The fragment (live refresh) is computed the same way.
    let fragment = demo.get("/ui/fragment/picture", &restricted).body;
    assert_eq!(attr(&fragment, "id=\"open-incidents\"", "data-open"), Some("4"));
    assert_eq!(demo.get("/ui/fragment/picture", &Jar::default()).status, 303);

    // Search and the incident page: the SECRET incident exists for one user only.
    let found = demo.get("/ui/search?type=incident&q=SCADA", &secret).body;
    assert_eq!(attr(&found, "id=\"result-count\"", "data-count"), Some("1"));
    let href = attr(&found, "class=\"result\"", "data-id").expect("result id").to_owned();
    assert_eq!(attr(&demo.get("/ui/search?type=incident&q=SCADA", &restricted).body, "id=\"result-count\"", "data-count"), Some("0"));
    let page = demo.get(&format!("/ui/incident/{href}"), &secret);
    assert_eq!(page.status, 200);
    assert!(page.body.contains("NATO SECRET"));
    let hidden = demo.get(&format!("/ui/incident/{href}"), &restricted);
    let missing = demo.get("/ui/incident/incident--00000000-0000-4000-8000-000000000000", &restricted);
    assert_eq!((hidden.status, missing.status), (404, 404));
    assert_eq!(demo.get(&format!("/ui/object/{href}"), &restricted).status, 404);

    // The object page: label, sightings with who sighted, correlations.
    let indicator = demo.get("/ui/object/indicator--5c2a2d3e-7f3b-4c61-9d0e-6b1f2a9d4c70", &secret).body;
    assert!(indicator.contains("id=\"object-label\""));
    assert_eq!(indicator.matches("class=\"sighting\"").count(), 4);
    assert!(indicator.contains("CERT-EE (EST)"));
    assert!(indicator.contains("class=\"correlation\""), "the indicator correlates with what shares its domain");

    // Showing the SECRET incident was audited as a read through the UI.
    let store = phalanx_store::SqliteStore::open(&demo.data_path).expect("open store");
    let entries = phalanx_store::Registry::audit_entries(&store, 0, 1_000_000).expect("audit");
    assert!(entries.iter().any(|e| e.action == "read" && e.target == href && e.actor == "user:lt-analyst" && e.details.contains("web:incident")));
    assert!(!entries.iter().any(|e| e.action == "read" && e.target == href && e.actor == "user:lt-junior"));
}

#[test]
fn live_updates_start_after_the_version_the_page_was_rendered_with() {
    let demo = Demo::start();
    let (jar, login) = demo.login("lt-junior", "demo-lt-junior-pw");
    assert_eq!(login.status, 303);
    let page = demo.get("/", &jar).body;
    let seen = attr(&page, "id=\"picture\"", "data-cursor").expect("the picture carries its cursor").to_owned();
    assert!(!seen.is_empty(), "the demo node has readable data");
    // A write lands after the render but before the page opens its event stream.
    let opened = demo.phalanx(&["incident", "open", "--as", "pl-analyst", "--name", "Raced incident", "--country", "POL", "--tlp", "green"]);
    assert!(opened.status.success(), "{}", String::from_utf8_lossy(&opened.stderr));
    // The stream opened with the page's cursor says "changed" at once.
    let mut b = ureq::http::Request::builder().method("GET").uri(format!("{}/ui/events?after={seen}", demo.base));
    b = b.header("Cookie", jar.header());
    let mut response = demo.agent.run(b.body(Vec::new()).expect("request")).expect("http");
    assert_eq!(response.status().as_u16(), 200);
    let mut reader = response.body_mut().as_reader();
    let mut text = String::new();
    let mut buf = [0u8; 512];
    while !text.contains("event: changed") {
        let n = std::io::Read::read(&mut reader, &mut buf).expect("read the stream");
        assert!(n > 0, "the stream ended without an event: {text}");
        text.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    // A malformed cursor is a clear 400.
    let bad = demo.get("/ui/events?after=zz", &jar);
    assert_eq!(bad.status, 400, "{}", bad.body);
    assert!(bad.body.contains("after"), "{}", bad.body);
}
