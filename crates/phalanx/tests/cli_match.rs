//! `phalanx match` on real telemetry: the WRCCDC 2018 Zeek logs and MISP
//! warninglists copied into `crates/phalanx-matcher/testdata` (with their
//! licences). Expected counts come from an independent oracle: the logs
//! parsed with serde_json and the values compared in the test.

use crate::common::{Node, stderr, stdout};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../phalanx-matcher/testdata").join(rel)
}

fn indicator(n: u32, pattern: &str, extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
        "object_marking_refs": ["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"]
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn bundle(objects: Vec<Value>) -> String {
    json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects}).to_string()
}

fn records(out: &str) -> Vec<Value> {
    out.lines().map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("match line is not json ({e}): {l}"))).collect()
}

fn count_for(recs: &[Value], id: u32) -> usize {
    let id = format!("indicator--00000000-0000-4000-8000-{id:012}");
    recs.iter().filter(|r| r["indicator"] == id.as_str()).count()
}

/// Events of a Zeek JSON file for which `pred` holds (the oracle).
fn oracle(file: &str, pred: impl Fn(&Value) -> bool) -> usize {
    let text = std::fs::read_to_string(testdata(file)).expect("testdata");
    text.lines().map(|l| serde_json::from_str::<Value>(l).expect("zeek json")).filter(|v| pred(v)).count()
}

fn strings(v: &Value, key: &str) -> Vec<String> {
    match &v[key] {
        Value::String(s) => vec![s.clone()],
        Value::Array(a) => a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect(),
        _ => vec![],
    }
}

fn write_indicators(node: &Node, objects: Vec<Value>) -> PathBuf {
    let path = node.data().join("indicators.json");
    std::fs::write(&path, bundle(objects)).expect("write indicators");
    path
}

/// Indicators 1-3, each seen in the WRCCDC logs of testdata: a domain
/// suffix, an address, a certificate fingerprint.
fn wrccdc_indicators() -> Vec<Value> {
    vec![
        indicator(1, "[domain-name:value LIKE '%.ubuntu.com']", json!({})),
        indicator(2, "[ipv4-addr:value = '134.71.3.16']", json!({})),
        indicator(3, "[x509-certificate:hashes.'SHA-256' = 'B2DAFBCDBC75210672F137F27CE882CCB799887631655D4F11191D5A678E44FE']", json!({})),
    ]
}

#[test]
fn offline_indicators_match_real_zeek_logs_field_exact() {
    let node = Node { dir: tempfile::tempdir().expect("tempdir") };
    let ind = write_indicators(
        &node,
        [
            wrccdc_indicators(),
            vec![
                // exact: must not match ise.wrccdc.org (no substring false positives)
                indicator(4, "[domain-name:value = 'wrccdc.org']", json!({})),
                indicator(5, "[domain-name:value = 'ISE.wrccdc.org.']", json!({})),
                indicator(6, "[ipv4-addr:value = '134.71.3.16']", json!({"valid_until": "2020-01-01T00:00:00Z"})),
                indicator(7, "[ipv4-addr:value = '134.71.3.16']", json!({"revoked": true})),
            ],
        ]
        .concat(),
    );
    let out = node.run(&[
        "match",
        "--indicators",
        ind.to_str().unwrap(),
        testdata("zeek-wrccdc-2018").to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    // The directory also holds dns.log and ssl.log, the same records in
    // Zeek's tab-separated form (compared in the test below): the oracle
    // reads the JSON files.
    let all = records(&stdout(&out));
    let recs: Vec<Value> = all.iter().filter(|r| r["source"].as_str().unwrap().contains(".json:")).cloned().collect();
    assert!(all.len() > recs.len() && all.iter().any(|r| r["source"].as_str().unwrap().contains("/dns.log:")));
    let ubuntu = |v: &Value| strings(v, "query").iter().chain(strings(v, "answers").iter()).chain(strings(v, "server_name").iter()).any(|d| d.to_lowercase().ends_with(".ubuntu.com"));
    let want1 = oracle("zeek-wrccdc-2018/dns.json", ubuntu) + oracle("zeek-wrccdc-2018/ssl.json", ubuntu) + oracle("zeek-wrccdc-2018/x509.json", |v| strings(v, "san.dns").iter().any(|d| d.ends_with(".ubuntu.com")));
    assert!(want1 > 0);
    assert_eq!(count_for(&recs, 1), want1);
    let ip = |v: &Value| ["id.orig_h", "id.resp_h", "answers"].iter().any(|k| strings(v, k).iter().any(|s| s == "134.71.3.16"));
    let want2: usize = ["dns", "ssl", "x509", "smtp"].iter().map(|f| oracle(&format!("zeek-wrccdc-2018/{f}.json"), ip)).sum();
    assert!(want2 > 0);
    assert_eq!(count_for(&recs, 2), want2);
    let fp = "b2dafbcdbc75210672f137f27ce882ccb799887631655d4f11191d5a678e44fe";
    let want3 = oracle("zeek-wrccdc-2018/ssl.json", |v| strings(v, "cert_chain_fps").iter().any(|s| s == fp)) + oracle("zeek-wrccdc-2018/x509.json", |v| strings(v, "fingerprint").iter().any(|s| s == fp));
    assert!(want3 > 0);
    assert_eq!(count_for(&recs, 3), want3);
    assert_eq!(count_for(&recs, 4), 0, "an exact domain must not match its subdomains");
    let ise = |v: &Value| strings(v, "query").iter().chain(strings(v, "answers").iter()).chain(strings(v, "server_name").iter()).any(|d| d == "ise.wrccdc.org");
    let want5 = oracle("zeek-wrccdc-2018/dns.json", ise) + oracle("zeek-wrccdc-2018/ssl.json", ise) + oracle("zeek-wrccdc-2018/x509.json", |v| strings(v, "san.dns").iter().any(|d| d == "ise.wrccdc.org"));
    assert_eq!(count_for(&recs, 5), want5);
    assert_eq!(count_for(&recs, 6) + count_for(&recs, 7), 0, "expired and revoked indicators drop out");
    let r = recs.iter().find(|r| r["indicator"] == "indicator--00000000-0000-4000-8000-000000000002").unwrap();
    assert!(["id.orig_h", "id.resp_h", "answers"].contains(&r["field"].as_str().unwrap()), "{r}");
    assert!(r["event"].is_object() && r["source"].as_str().unwrap().contains("zeek-wrccdc-2018/"), "{r}");
    assert!(stderr(&out).contains("compiled 5 rules from 7 objects"), "{}", stderr(&out));
}

fn gzip(bytes: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(bytes).expect("gzip");
    encoder.finish().expect("gzip")
}

/// Match records with their `source` (file:line) reduced to the file's
/// first name part and the line, so that runs over differently named
/// copies of the same logs compare.
fn by_stem(recs: &[Value]) -> Vec<String> {
    let mut out: Vec<String> = recs
        .iter()
        .map(|r| {
            let source = r["source"].as_str().expect("source");
            let (path, line) = source.rsplit_once(':').expect("file:line");
            let file = path.rsplit('/').next().expect("file name");
            let stem = file.split('.').next().expect("stem");
            format!("{stem}:{line} {} {} {}", r["indicator"], r["field"], r["value"])
        })
        .collect();
    out.sort();
    out
}

#[test]
fn gzip_compressed_logs_match_as_their_plain_text() {
    let node = Node { dir: tempfile::tempdir().expect("tempdir") };
    let ind = write_indicators(&node, wrccdc_indicators()[..2].to_vec());
    let plain_dir = node.data().join("plain");
    let packed_dir = node.data().join("packed");
    std::fs::create_dir(&plain_dir).expect("mkdir");
    std::fs::create_dir(&packed_dir).expect("mkdir");
    for name in ["dns.json", "ssl.json"] {
        std::fs::copy(testdata(&format!("zeek-wrccdc-2018/{name}")), plain_dir.join(name)).expect("copy");
    }
    let dns = std::fs::read(testdata("zeek-wrccdc-2018/dns.json")).expect("dns");
    let ssl = std::fs::read(testdata("zeek-wrccdc-2018/ssl.json")).expect("ssl");
    // Zeek's archive name, and a compressed file whose name does not say so.
    std::fs::write(packed_dir.join("dns.00:00:00-01:00:00.log.gz"), gzip(&dns)).expect("write");
    std::fs::write(packed_dir.join("ssl.json"), gzip(&ssl)).expect("write");
    std::fs::write(packed_dir.join("README.gz"), gzip(b"not telemetry")).expect("write");

    let run = |dir: &std::path::Path| {
        let out = node.run(&["match", "--indicators", ind.to_str().unwrap(), "--format", "zeek", dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        records(&stdout(&out))
    };
    let plain = run(&plain_dir);
    let packed = run(&packed_dir);
    assert!(count_for(&plain, 1) > 0 && count_for(&plain, 2) > 0, "{} records", plain.len());
    assert_eq!(by_stem(&packed), by_stem(&plain));
    assert!(packed.iter().any(|r| r["source"].as_str().unwrap().contains("dns.00:00:00-01:00:00.log.gz:")));

    // A cut archive: an error naming the file and gzip.
    let cut = node.data().join("cut.json.gz");
    let whole = gzip(&dns);
    std::fs::write(&cut, &whole[..whole.len() / 2]).expect("write");
    let out = node.run(&["match", "--indicators", ind.to_str().unwrap(), "--format", "zeek", cut.to_str().unwrap()]);
    assert_ne!(out.status.code(), Some(0), "{}", stderr(&out));
    assert!(stderr(&out).contains("cut.json.gz") && stderr(&out).contains("gzip: the compressed stream is cut short"), "{}", stderr(&out));

    // --follow: a named archive is refused.
    let err = node.fails(&["match", "--indicators", ind.to_str().unwrap(), "--no-post", "--follow", cut.to_str().unwrap()]);
    assert!(err.contains("cut.json.gz: a gzip-compressed file cannot be followed"), "{err}");

    // Indicators compressed too: a bundle (read by the splitter) and JSON
    // lines (read on every core) compile and match as the plain file does.
    let bundle_gz = node.data().join("indicators.json.gz");
    std::fs::write(&bundle_gz, gzip(&std::fs::read(&ind).expect("indicators"))).expect("write");
    let lines_gz = node.data().join("indicators.jsonl.gz");
    let lines: String = wrccdc_indicators()[..2].iter().map(|o| format!("{o}\n")).collect();
    std::fs::write(&lines_gz, gzip(lines.as_bytes())).expect("write");
    for indicators in [&bundle_gz, &lines_gz] {
        let out = node.run(&["match", "--indicators", indicators.to_str().unwrap(), "--format", "zeek", plain_dir.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
        assert!(stderr(&out).contains("compiled 2 rules from 2 objects"), "{}", stderr(&out));
        assert_eq!(by_stem(&records(&stdout(&out))), by_stem(&plain), "{}", indicators.display());
    }
}

#[test]
fn zeek_tsv_logs_match_as_the_same_records_in_zeek_json() {
    // testdata holds the same 3000 dns and 1000 ssl records twice: as Zeek
    // JSON (`*.json`) and in Zeek's default tab-separated form (`*.log`,
    // 8 header lines above the records).
    let node = Node { dir: tempfile::tempdir().expect("tempdir") };
    let ind = write_indicators(
        &node,
        [wrccdc_indicators(), vec![indicator(4, "[domain-name:value = 'ise.wrccdc.org']", json!({}))]].concat(),
    );
    // Per record (line below the header): the matches, and the event.
    let summary = |file: &str, header_lines: u64| -> (Vec<String>, BTreeMap<u64, Value>) {
        let out = node.run(&["match", "--indicators", ind.to_str().unwrap(), "--format", "zeek", testdata(&format!("zeek-wrccdc-2018/{file}")).to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(0), "{file}: {}", stderr(&out));
        assert!(stderr(&out).contains(", 0 lines not decoded"), "{file}: {}", stderr(&out));
        let mut rows = Vec::new();
        let mut events = BTreeMap::new();
        for r in records(&stdout(&out)) {
            let line: u64 = r["source"].as_str().unwrap().rsplit_once(':').unwrap().1.parse().unwrap();
            rows.push(format!("{} {} {} {}", line - header_lines, r["indicator"], r["field"], r["value"]));
            events.insert(line - header_lines, r["event"].clone());
        }
        rows.sort();
        (rows, events)
    };
    for (name, want_indicators) in [("dns", [1, 2, 4].as_slice()), ("ssl", [2, 3, 4].as_slice())] {
        let (json_rows, json_events) = summary(&format!("{name}.json"), 0);
        let (tsv_rows, tsv_events) = summary(&format!("{name}.log"), 8);
        for n in want_indicators {
            let id = format!("indicator--00000000-0000-4000-8000-{n:012}");
            assert!(json_rows.iter().any(|r| r.contains(&id)), "{name}: no match of indicator {n}");
        }
        assert_eq!(tsv_rows, json_rows, "{name}");
        // The event of a TSV line is the object Zeek's JSON writer gave for
        // the record, but for what that writer adds (`_path`, `_write_ts`),
        // the time (seconds since the epoch here, ISO 8601 in these logs)
        // and the rounding of the TSV form (6 decimals).
        for (line, json_event) in &json_events {
            let tsv_event = &tsv_events[line];
            let mut want = json_event.as_object().unwrap().clone();
            let mut got = tsv_event.as_object().unwrap().clone();
            for key in ["_path", "_write_ts", "ts"] {
                want.remove(key);
            }
            assert!(got.remove("ts").is_some_and(|t| t.is_number()), "{name}:{line}: {tsv_event}");
            let keys = |m: &serde_json::Map<String, Value>| m.keys().cloned().collect::<std::collections::BTreeSet<_>>();
            assert_eq!(keys(&got), keys(&want), "{name}:{line}");
            for (key, w) in &want {
                let g = &got[key];
                let close = |a: &Value, b: &Value| match (a.as_f64(), b.as_f64()) {
                    (Some(x), Some(y)) => (x - y).abs() <= 1e-6,
                    _ => a == b,
                };
                let same = match (g, w) {
                    (Value::Array(a), Value::Array(b)) => a.len() == b.len() && a.iter().zip(b).all(|(x, y)| close(x, y)),
                    _ => close(g, w),
                };
                assert!(same, "{name}:{line} {key}: tsv {g}, json {w}");
            }
        }
    }
}

#[test]
fn warninglists_suppress_matches_and_bad_lists_are_errors() {
    let node = Node { dir: tempfile::tempdir().expect("tempdir") };
    let ind = write_indicators(&node, vec![indicator(1, "[ipv4-addr:value ISSUBSET '10.47.0.0/16']", json!({}))]);
    let args = |extra: &[&str]| {
        let mut v = vec!["match".to_owned(), "--indicators".into(), ind.display().to_string()];
        v.extend(extra.iter().map(|s| (*s).to_owned()));
        v.push(testdata("zeek-wrccdc-2018/dns.json").display().to_string());
        v
    };
    let plain = node.run(&args(&[]).iter().map(String::as_str).collect::<Vec<_>>());
    let want = oracle("zeek-wrccdc-2018/dns.json", |v| ["id.orig_h", "id.resp_h", "answers"].iter().any(|k| strings(v, k).iter().any(|s| s.starts_with("10.47."))));
    assert!(want > 0);
    assert_eq!(records(&stdout(&plain)).len(), want);
    let allow = testdata("misp-warninglists").display().to_string();
    let suppressed = node.run(&args(&["--allowlist", &allow]).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(suppressed.status.code(), Some(0), "{}", stderr(&suppressed));
    assert_eq!(records(&stdout(&suppressed)).len(), 0, "rfc1918 suppresses 10.47.0.0/16");
    assert!(stderr(&suppressed).contains("'corona helden' is not a host name"), "the real covid list has a non-host entry: {}", stderr(&suppressed));
    let bad = node.data().join("bad.json");
    std::fs::write(&bad, r#"{"name":"x","type":"glob","list":["10.0.0.0/8"]}"#).unwrap();
    let err = node.fails(&args(&["--allowlist", bad.to_str().unwrap()]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(err.contains("bad.json") && err.contains("glob"), "{err}");
}

#[test]
fn text_on_stdin_and_clear_errors() {
    let node = Node { dir: tempfile::tempdir().expect("tempdir") };
    let ind = write_indicators(&node, vec![indicator(1, "[url:value = 'HTTP://Evil.example:80/a']", json!({}))]);
    let out = node.run_with_stdin(&["match", "--indicators", ind.to_str().unwrap(), "--format", "text", "-"], Some("fetch http://evil.example/a now\nnothing here\n"));
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let recs = records(&stdout(&out));
    assert_eq!(recs.len(), 1);
    assert_eq!(recs[0]["event"], "fetch http://evil.example/a now");
    assert_eq!(recs[0]["source"], "-:1");

    let missing = node.fails(&["match", "--indicators", "/nonexistent/ind.json", "-"]);
    assert!(missing.contains("--indicators /nonexistent/ind.json"), "{missing}");
    let kind = node.fails(&["match", "--indicators", ind.to_str().unwrap(), "--field", "src=ipv5", "-"]);
    assert!(kind.contains("--field src=ipv5") && kind.contains("ipv5"), "{kind}");
    let jsonl = node.fails(&["match", "--indicators", ind.to_str().unwrap(), "--format", "jsonl", "-"]);
    assert!(jsonl.contains("--field"), "{jsonl}");
    // A line that is not JSON: reported with file and line, exit code 1.
    let partial = node.run_with_stdin(&["match", "--indicators", ind.to_str().unwrap(), "--format", "zeek", "-"], Some("{\"query\":\"x\"}\nnot json\n"));
    assert_eq!(partial.status.code(), Some(1), "{}", stderr(&partial));
    assert!(stderr(&partial).contains("-:2:"), "{}", stderr(&partial));
}

#[test]
fn jsonl_with_a_field_map() {
    let node = Node { dir: tempfile::tempdir().expect("tempdir") };
    let ind = write_indicators(&node, vec![indicator(1, "[ipv4-addr:value = '192.0.2.7']", json!({}))]);
    let input = "{\"net\":{\"peer\":\"192.0.2.7\"},\"other\":\"192.0.2.7\"}\n";
    let out = node.run_with_stdin(&["match", "--indicators", ind.to_str().unwrap(), "--format", "jsonl", "--field", "net.peer=ip", "-"], Some(input));
    let recs = records(&stdout(&out));
    assert_eq!(recs.len(), 1, "{}", stderr(&out));
    assert_eq!(recs[0]["field"], "net.peer", "only the mapped field is read");
}

#[test]
fn as_user_reads_indicators_from_the_store() {
    let node = Node::init(&["--org-name", "CERT-T", "--country", "LTU", "--member-of", "EU"]);
    let ind = write_indicators(&node, vec![indicator(1, "[domain-name:value = 'videosearch.ubuntu.com']", json!({}))]);
    node.ok(&["import", ind.to_str().unwrap()]);
    let out = node.run(&["match", "--as", "admin", testdata("zeek-wrccdc-2018/dns.json").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let want = oracle("zeek-wrccdc-2018/dns.json", |v| strings(v, "query").iter().chain(strings(v, "answers").iter()).any(|d| d == "videosearch.ubuntu.com"));
    assert_eq!(records(&stdout(&out)).len(), want);
    // The same indicators, offline: a matcher snapshot exported by the node.
    let snap = node.data().join("snapshot.jsonl");
    node.ok(&["export", "--format", "matcher-snapshot", "--out", snap.to_str().unwrap()]);
    let text = std::fs::read_to_string(&snap).unwrap();
    assert!(text.starts_with("{\"type\":\"x-phalanx-matcher-snapshot\""), "{text}");
    assert!(!text.contains("marking-definition--94868c89") || text.lines().all(|l| !l.contains("\"type\":\"marking-definition\"")), "only matcher types");
    let offline = node.run(&["match", "--indicators", snap.to_str().unwrap(), testdata("zeek-wrccdc-2018/dns.json").to_str().unwrap()]);
    assert_eq!(records(&stdout(&offline)).len(), want, "{}", stderr(&offline));
    let nobody = node.fails(&["match", "--as", "nobody", "-"]);
    assert!(nobody.contains("nobody"), "{nobody}");
}

#[test]
fn follow_picks_up_lines_appended_later() {
    let node = Node { dir: tempfile::tempdir().expect("tempdir") };
    let ind = write_indicators(&node, vec![indicator(1, "[ipv4-addr:value = '192.0.2.99']", json!({}))]);
    let log = node.data().join("grow.json");
    std::fs::write(&log, "{\"id.orig_h\":\"10.0.0.1\"}\n").unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_phalanx"))
        .args(["match", "--follow", "--indicators", ind.to_str().unwrap(), log.to_str().unwrap()])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn");
    std::thread::sleep(std::time::Duration::from_millis(700));
    let mut f = std::fs::OpenOptions::new().append(true).open(&log).unwrap();
    writeln!(f, "{{\"id.orig_h\":\"192.0.2.99\"}}").unwrap();
    drop(f);
    let mut stdout_pipe = child.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead;
        let mut line = String::new();
        let _ = std::io::BufReader::new(&mut stdout_pipe).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(std::time::Duration::from_secs(20));
    let _ = child.kill();
    let _ = child.wait();
    let line = line.expect("a match for the appended line within 20 s");
    let rec: Value = serde_json::from_str(&line).expect("json");
    assert_eq!(rec["source"].as_str().map(|s| s.ends_with("grow.json:2")), Some(true), "{rec}");
}
