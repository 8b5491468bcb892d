//! Detection through the real binary: sightings posted by `phalanx match`,
//! sensor exports (`phalanx export --format suricata|zeek-intel|csv|
//! stix-indicators`) and collective-threat alerts (`phalanx alerts`).

use crate::common::{Node, stderr, stdout, text};
use serde_json::{Value, json};
use std::path::PathBuf;

const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
const GREEN: &str = "marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb";
const AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";

fn testdata(rel: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../phalanx-matcher/testdata").join(rel)
}

fn indicator(n: u32, pattern: &str, markings: &[&str], extra: Value) -> Value {
    let mut v = json!({
        "type": "indicator", "spec_version": "2.1",
        "id": format!("indicator--00000000-0000-4000-8000-{n:012}"),
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z",
        "name": format!("indicator {n}"),
        "pattern": pattern, "pattern_type": "stix", "valid_from": "2025-01-01T00:00:00Z",
        "object_marking_refs": markings,
    });
    if let (Value::Object(m), Value::Object(e)) = (&mut v, extra) {
        m.extend(e);
    }
    v
}

fn ind_id(n: u32) -> String {
    format!("indicator--00000000-0000-4000-8000-{n:012}")
}

fn import(node: &Node, name: &str, objects: Vec<Value>) {
    let path = node.data().join(name);
    std::fs::write(&path, json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects}).to_string()).unwrap();
    let out = node.ok(&["import", path.to_str().unwrap()]);
    assert!(out.contains("refused 0"), "{out}");
}

/// The objects of a bundle printed by `phalanx export`.
fn exported(node: &Node, args: &[&str]) -> Vec<Value> {
    let mut all = vec!["export"];
    all.extend_from_slice(args);
    let bundle: Value = serde_json::from_str(&node.ok(&all)).expect("bundle");
    bundle["objects"].as_array().cloned().unwrap_or_default()
}

fn of_type(objects: &[Value], t: &str) -> Vec<Value> {
    objects.iter().filter(|o| o["type"] == t).cloned().collect()
}

/// Events of the shared Zeek dns log that name `domain` in `query` or `answers`.
fn dns_events_naming(domain: &str) -> (u64, String, String) {
    let text = std::fs::read_to_string(testdata("zeek-wrccdc-2018/dns.json")).unwrap();
    let mut n = 0;
    let mut times = Vec::new();
    for line in text.lines() {
        let v: Value = serde_json::from_str(line).unwrap();
        let answers = v["answers"].as_array().cloned().unwrap_or_default();
        if v["query"] == domain || answers.iter().any(|a| a == domain) {
            n += 1;
            times.push(v["ts"].as_str().unwrap().to_owned());
        }
    }
    times.sort();
    (n, times.first().cloned().unwrap_or_default(), times.last().cloned().unwrap_or_default())
}

fn org_id(init_out: &str) -> String {
    let start = init_out.find("identity--").expect("org id in init output");
    init_out[start..start + 46].to_owned()
}

#[test]
fn match_posts_one_sighting_per_indicator_raised_to_the_indicators_label() {
    let node = Node { dir: tempfile::tempdir().unwrap() };
    let org = org_id(&node.ok(&["init", "--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU"]));
    import(
        &node,
        "ind.json",
        vec![
            indicator(1, "[domain-name:value = 'videosearch.ubuntu.com']", &[AMBER], json!({})),
            indicator(2, "[domain-name:value = 'never-seen.example']", &[CLEAR], json!({})),
            json!({"type": "domain-name", "spec_version": "2.1", "id": "domain-name--f782abb9-3b20-5158-acb1-53a60aca55a4", "value": "ise.wrccdc.org", "object_marking_refs": [CLEAR]}),
        ],
    );
    let dns = testdata("zeek-wrccdc-2018/dns.json");
    let out = node.run(&["match", "--as", "admin", "--default-tlp", "green", dns.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stderr(&out).contains("sightings: 1 versions written"), "{}", stderr(&out));
    assert!(stderr(&out).contains("matches on observables not sighted"), "the SCO matched but STIX sightings name SDOs only");
    let sightings = of_type(&exported(&node, &["--type", "sighting"]), "sighting");
    assert_eq!(sightings.len(), 1, "{sightings:?}");
    let s = &sightings[0];
    let (count, first, last) = dns_events_naming("videosearch.ubuntu.com");
    assert!(count > 0);
    assert_eq!(s["sighting_of_ref"], ind_id(1).as_str());
    assert_eq!(s["where_sighted_refs"], json!([org]));
    assert_eq!(s["created_by_ref"], org.as_str());
    assert_eq!(s["count"], count);
    assert_eq!(s["first_seen"].as_str().unwrap(), first, "first and last seen are the event times");
    assert_eq!(s["last_seen"].as_str().unwrap(), last);
    let marks: Vec<&str> = s["object_marking_refs"].as_array().unwrap().iter().filter_map(Value::as_str).collect();
    assert_eq!(marks, [AMBER], "asked for green, raised to the indicator's amber by the lub rule");

    // --no-post writes nothing; a second run is a second sighting.
    node.ok(&["match", "--no-post", dns.to_str().unwrap()]);
    assert_eq!(of_type(&exported(&node, &["--type", "sighting"]), "sighting").len(), 1);
    node.ok(&["match", "--sensor", "other-sensor", dns.to_str().unwrap()]);
    assert_eq!(of_type(&exported(&node, &["--type", "sighting"]), "sighting").len(), 2);

    // A viewer may not write sightings.
    node.ok(&["user", "add", "--name", "watcher", "--org", "CERT-LT", "--role", "viewer"]);
    let refused = node.fails(&["match", "--as", "watcher", dns.to_str().unwrap()]);
    assert!(refused.contains("may not write sightings"), "{refused}");
}

#[test]
fn offline_sensor_writes_a_sightings_bundle_the_node_imports() {
    let node = Node { dir: tempfile::tempdir().unwrap() };
    let org = org_id(&node.ok(&["init", "--org-name", "CERT-EE", "--country", "EST"]));
    let objects = vec![indicator(1, "[domain-name:value = 'videosearch.ubuntu.com']", &[GREEN], json!({}))];
    import(&node, "ind.json", objects);
    let snap = node.data().join("snap.jsonl");
    node.ok(&["export", "--format", "matcher-snapshot", "--out", snap.to_str().unwrap()]);
    let out_file = node.data().join("sightings.json");
    let dns = testdata("zeek-wrccdc-2018/dns.json");
    let out = node.run(&[
        "match", "--indicators", snap.to_str().unwrap(), "--sightings-out", out_file.to_str().unwrap(), "--org", &org, "--default-tlp", "green",
        dns.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    let bundle: Value = serde_json::from_str(&std::fs::read_to_string(&out_file).unwrap()).unwrap();
    let objects = bundle["objects"].as_array().unwrap();
    assert_eq!(objects.len(), 1);
    assert_eq!(objects[0]["count"], dns_events_naming("videosearch.ubuntu.com").0);
    node.ok(&["import", out_file.to_str().unwrap()]);
    let stored = of_type(&exported(&node, &["--type", "sighting"]), "sighting");
    assert_eq!(stored.len(), 1);
    assert_eq!(objects[0]["object_marking_refs"], json!([GREEN]), "--default-tlp is carried in the file");
    assert_eq!(stored[0]["object_marking_refs"], json!([GREEN]));

    // Offline without a destination: matches, no sightings, a note.
    let none = node.run(&["match", "--indicators", snap.to_str().unwrap(), dns.to_str().unwrap()]);
    assert_eq!(none.status.code(), Some(0));
    assert!(stderr(&none).contains("sightings are not posted"), "{}", stderr(&none));
    let bad = node.fails(&["match", "--indicators", snap.to_str().unwrap(), "--sightings-out", "x.json", "--org", "CERT-EE", "-"]);
    assert!(bad.contains("--org CERT-EE: not an identity id"), "{bad}");
}

fn pap_marking(pap: &str) -> Value {
    let marking: phalanx_labels::LabelMarking =
        serde_json::from_value(json!({"policy": "UNCLASSIFIED", "classification": "UNCLASSIFIED", "releasable_to": [], "caveats": [], "pap": pap})).unwrap();
    marking.marking_definition()
}

#[test]
fn sensor_exports_respect_the_read_rule_and_pap() {
    let node = Node::init(&["--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU"]);
    let red = pap_marking("red");
    let green = pap_marking("green");
    let red_id = red["id"].as_str().unwrap().to_owned();
    let green_id = green["id"].as_str().unwrap().to_owned();
    import(
        &node,
        "ind.json",
        vec![
            red,
            green,
            indicator(1, "[ipv4-addr:value = '198.51.100.1']", &[CLEAR, &red_id], json!({})),
            indicator(2, "[domain-name:value = 'evil.example' OR ipv4-addr:value ISSUBSET '203.0.113.0/24']", &[CLEAR, &green_id], json!({})),
            indicator(3, "[ipv4-addr:value = '198.51.100.3']", &[CLEAR], json!({"valid_until": "2025-06-01T00:00:00Z"})),
            indicator(4, "[ipv4-addr:value = '198.51.100.4'] FOLLOWEDBY [ipv4-addr:value = '198.51.100.5']", &[CLEAR], json!({})),
            indicator(5, "[file:hashes.MD5 = '0123456789ABCDEF0123456789ABCDEF']", &[AMBER], json!({"created_by_ref": "identity--00000000-0000-4000-8000-00000000ffff"})),
        ],
    );
    // Another organisation's reader sees only what its read rule allows.
    node.ok(&["org", "add", "--name", "CERT-FR", "--country", "FRA", "--member-of", "EU"]);
    node.ok(&["user", "add", "--name", "fr", "--org", "CERT-FR"]);

    let alert = node.ok(&["export", "--format", "suricata"]);
    assert!(alert.contains("alert ip any any <> [198.51.100.1] any"), "PAP:RED may be alerted on: {alert}");
    assert!(alert.contains("alert ip any any <> [203.0.113.0/24] any"));
    assert!(alert.contains("dns.query; content:\"evil.example\"; nocase; bsize:12;"));
    assert!(!alert.contains("198.51.100.3"), "expired");
    assert!(!alert.contains("198.51.100.4"), "not a list of values");
    let drop = node.ok(&["export", "--format", "suricata", "--suricata-action", "drop"]);
    assert!(!drop.contains("198.51.100.1"), "PAP:RED never goes into blocking rules: {drop}");
    assert!(drop.contains("drop ip any any <> [203.0.113.0/24] any"), "{drop}");
    let sids = |text: &str| -> Vec<String> { text.lines().filter_map(|l| l.split("sid:").nth(1)).map(|s| s.split(';').next().unwrap().to_owned()).collect() };
    let alert_sids = sids(&alert);
    let mut unique = alert_sids.clone();
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), alert_sids.len(), "one sid per rule");
    assert_eq!(alert_sids, sids(&node.ok(&["export", "--format", "suricata"])), "sids are stable across exports");
    assert!(sids(&drop).iter().all(|s| alert_sids.contains(s)), "the same rule keeps its sid whatever the action");

    let zeek = node.ok(&["export", "--format", "zeek-intel"]);
    assert!(zeek.starts_with("#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n"));
    assert!(zeek.contains("203.0.113.0/24\tIntel::SUBNET\t"));
    assert!(zeek.contains("0123456789abcdef0123456789abcdef\tIntel::FILE_HASH\t"), "{zeek}");
    assert!(zeek.contains("198.51.100.1\tIntel::ADDR\t"), "Zeek Intel only detects: PAP:RED is kept");

    let csv = node.ok(&["export", "--format", "csv", "--as", "fr"]);
    assert!(!csv.contains("0123456789abcdef"), "TLP:AMBER of CERT-LT is not readable by CERT-FR: {csv}");
    assert!(csv.contains("indicator--00000000-0000-4000-8000-000000000002,indicator 2,domain-name,evil.example,false,,clear,green,UNCLASSIFIED"), "{csv}");
    let bundle = exported(&node, &["--format", "stix-indicators", "--as", "fr"]);
    let inds = of_type(&bundle, "indicator");
    assert_eq!(inds.len(), 4, "four clear indicators, not the amber one");
    assert!(bundle.iter().any(|o| o["id"] == red_id.as_str()), "with the marking definitions they use");
    let out = node.run(&["export", "--format", "suricata"]);
    assert!(stderr(&out).contains("1 expired, 1 not a list of values"), "{}", stderr(&out));
    assert!(stdout(&out).lines().all(|l| l.starts_with('#') || l.starts_with("alert ")));
}

/// A node of CERT-EU (BEL) with CERT-LTU, CERT-EST, CERT-LVA, CERT-POL and an
/// analyst `u<country>` in each, the indicators imported.
fn federation_of_sensors(objects: Vec<Value>) -> Node {
    let node = Node::init(&["--org-name", "CERT-EU", "--country", "BEL", "--member-of", "EU"]);
    for c in ["LTU", "EST", "LVA", "POL"] {
        node.ok(&["org", "add", "--name", &format!("CERT-{c}"), "--country", c, "--member-of", "EU"]);
        node.ok(&["user", "add", "--name", &format!("u{c}"), "--org", &format!("CERT-{c}"), "--role", "analyst"]);
    }
    import(&node, "ind.json", objects);
    node
}

/// `phalanx match` as `u<country>` on a one-line Zeek dns log naming `domain` at `ts`.
fn sight(node: &Node, country: &str, domain: &str, ts: &str, tlp: &str) {
    let log = node.data().join(format!("dns-{country}-{domain}.json"));
    std::fs::write(&log, format!("{{\"ts\":\"{ts}\",\"query\":\"{domain}\"}}\n")).unwrap();
    let out = node.run(&["match", "--as", &format!("u{country}"), "--default-tlp", tlp, "--sensor", country, log.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out));
    assert!(stderr(&out).contains("sightings: 1 versions written"), "{}", stderr(&out));
}

fn alerts_json(node: &Node, user: &str) -> Vec<Value> {
    node.ok(&["alerts", "list", "--json", "--as", user]).lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

const EXT: &str = "extension-definition--6dafb7d9-90e7-4fbf-8265-8db16aae8db2";

#[test]
fn sightings_from_three_countries_within_a_day_raise_one_alert_updated_as_more_report() {
    let node = federation_of_sensors(vec![
        indicator(1, "[domain-name:value = 'c2.evil.example']", &[GREEN], json!({})),
        indicator(2, "[domain-name:value = 'other.example']", &[GREEN], json!({})),
    ]);
    sight(&node, "LTU", "c2.evil.example", "2026-03-01T08:00:00Z", "green");
    sight(&node, "EST", "c2.evil.example", "2026-03-01T12:00:00Z", "green");
    sight(&node, "LTU", "other.example", "2026-03-01T08:00:00Z", "green");
    sight(&node, "EST", "other.example", "2026-03-01T09:00:00Z", "green");
    let none = node.ok(&["alerts", "evaluate"]);
    assert!(none.is_empty(), "two countries are not enough: {none}");
    sight(&node, "LVA", "c2.evil.example", "2026-03-01T20:00:00Z", "green");
    sight(&node, "LVA", "other.example", "2026-03-03T09:00:00Z", "green");
    let raised = node.ok(&["alerts", "evaluate"]);
    assert_eq!(raised.lines().count(), 1, "{raised}");
    assert!(raised.starts_with("raised grouping--"), "{raised}");
    assert_eq!(node.ok(&["alerts", "evaluate"]), "", "the same evidence is not written again");

    let alerts = alerts_json(&node, "uLTU");
    assert_eq!(alerts.len(), 1, "other.example: the third country came two days later");
    let a = &alerts[0];
    assert_eq!(a["context"], "suspicious-activity");
    assert!(a["name"].as_str().unwrap().starts_with("Collective threat: indicator 1"), "named after its subject: {}", a["name"]);
    assert_eq!(a["extensions"][EXT]["countries"], json!(["EST", "LTU", "LVA"]));
    assert_eq!(a["extensions"][EXT]["indicator_refs"], json!([ind_id(1)]));
    assert_eq!(a["extensions"][EXT]["sighting_count"], 3);
    assert_eq!(a["extensions"][EXT]["threshold_countries"], 3);
    assert_eq!(a["extensions"][EXT]["window_hours"], 24);
    assert_eq!(a["object_refs"].as_array().unwrap().len(), 4, "the indicator and three sightings");
    assert_eq!(a["object_marking_refs"], json!([GREEN]), "the lub of green indicator and sightings");

    // A fourth nation: the same alert, a new version.
    sight(&node, "POL", "c2.evil.example", "2026-03-01T21:00:00Z", "green");
    let updated = node.ok(&["alerts", "evaluate"]);
    assert_eq!(updated.trim(), format!("updated {}", a["id"].as_str().unwrap()));
    let again = alerts_json(&node, "uPOL");
    assert_eq!(again[0]["extensions"][EXT]["countries"], json!(["EST", "LTU", "LVA", "POL"]));
    assert!(again[0]["modified"].as_str().unwrap() > a["modified"].as_str().unwrap());
    let versions = exported(&node, &["--type", "grouping", "--all-versions"]);
    assert_eq!(of_type(&versions, "grouping").len(), 2);

    // A stricter policy raises nothing new; a looser one alerts on other.example too.
    assert_eq!(node.ok(&["alerts", "evaluate", "--countries", "5"]), "");
    let loose = node.ok(&["alerts", "evaluate", "--window-hours", "72"]);
    assert_eq!(loose.lines().filter(|l| l.starts_with("raised")).count(), 1, "{loose}");
}

#[test]
fn an_alert_is_labelled_so_that_it_reveals_no_more_than_its_sightings() {
    let node = federation_of_sensors(vec![indicator(1, "[domain-name:value = 'c2.evil.example']", &[GREEN], json!({}))]);
    sight(&node, "LTU", "c2.evil.example", "2026-03-01T08:00:00Z", "green");
    sight(&node, "EST", "c2.evil.example", "2026-03-01T09:00:00Z", "green");
    // The Latvian sighting is shared only with the coordinator (TLP:AMBER to CERT-EU).
    let eu = org_id(&node.ok(&["org", "list"]).lines().find(|l| l.contains("CERT-EU")).unwrap().to_owned());
    let label = json!({"policy": "UNCLASSIFIED", "classification": "UNCLASSIFIED", "releasable_to": [eu]}).to_string();
    let log = node.data().join("lva.json");
    std::fs::write(&log, "{\"ts\":\"2026-03-01T10:00:00Z\",\"query\":\"c2.evil.example\"}\n").unwrap();
    node.ok(&["match", "--as", "uLVA", "--default-tlp", "amber", "--default-label", &label, log.to_str().unwrap()]);
    let raised = node.ok(&["alerts", "evaluate"]);
    assert!(raised.starts_with("raised"), "the coordinator sees all three: {raised}");
    assert_eq!(alerts_json(&node, "admin").len(), 1);
    assert!(alerts_json(&node, "uLTU").is_empty(), "CERT-LTU cannot read the Latvian sighting, so not the alert either");
    assert!(alerts_json(&node, "uLVA").is_empty(), "the alert rests on the coordinator's release too");
    let a = &alerts_json(&node, "admin")[0];
    assert!(a["object_marking_refs"].as_array().unwrap().iter().any(|m| m == AMBER), "{a}");
}

#[test]
fn indicators_of_one_campaign_alert_together() {
    let campaign = json!({
        "type": "campaign", "spec_version": "2.1", "id": "campaign--00000000-0000-4000-8000-0000000000c1",
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "name": "Ghostwriter",
        "object_marking_refs": [GREEN]
    });
    let rel = |n: u32| json!({
        "type": "relationship", "spec_version": "2.1", "id": format!("relationship--00000000-0000-4000-8000-0000000000{n:02}"),
        "created": "2025-01-01T00:00:00.000Z", "modified": "2025-01-01T00:00:00.000Z", "relationship_type": "indicates",
        "source_ref": ind_id(n), "target_ref": "campaign--00000000-0000-4000-8000-0000000000c1", "object_marking_refs": [GREEN]
    });
    let node = federation_of_sensors(vec![
        campaign,
        indicator(1, "[domain-name:value = 'a.evil.example']", &[GREEN], json!({})),
        indicator(2, "[domain-name:value = 'b.evil.example']", &[GREEN], json!({})),
        indicator(3, "[domain-name:value = 'c.evil.example']", &[GREEN], json!({})),
        rel(1),
        rel(2),
        rel(3),
    ]);
    sight(&node, "LTU", "a.evil.example", "2026-03-01T08:00:00Z", "green");
    sight(&node, "EST", "b.evil.example", "2026-03-01T09:00:00Z", "green");
    sight(&node, "LVA", "c.evil.example", "2026-03-01T10:00:00Z", "green");
    node.ok(&["user", "add", "--name", "watcher", "--org", "CERT-EU", "--role", "viewer"]);
    let viewer = node.fails(&["alerts", "evaluate", "--as", "watcher"]);
    assert!(viewer.contains("may not write alerts"), "{viewer}");
    let raised = node.ok(&["alerts", "evaluate"]);
    assert_eq!(raised.lines().count(), 1, "one alert for the campaign, none per indicator: {raised}");
    let a = &alerts_json(&node, "uEST")[0];
    assert_eq!(a["extensions"][EXT]["subject_ref"], "campaign--00000000-0000-4000-8000-0000000000c1");
    assert_eq!(a["extensions"][EXT]["indicator_refs"], json!([ind_id(1), ind_id(2), ind_id(3)]));
    assert!(a["name"].as_str().unwrap().contains("Ghostwriter"), "{}", a["name"]);
}

#[test]
fn sensors_post_sightings_to_a_node_which_alerts_coordinators_on_the_live_stream() {
    use crate::stream::{Server, phalanx};
    use std::time::Duration;
    let server = Server::start(&[("PHALANX_ALERT_POLL_SECS", "1"), ("PHALANX_RATE_LIMIT_PER_SEC", "0")]);
    let data = server.data.path();
    let ind = data.join("ind.json");
    let objects = vec![indicator(1, "[domain-name:value = 'c2.evil.example']", &[GREEN], json!({}))];
    std::fs::write(&ind, json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects}).to_string()).unwrap();
    assert!(phalanx(data, &["import", ind.to_str().unwrap()]).status.success());
    assert!(phalanx(data, &["org", "add", "--name", "CERT-EE", "--country", "EST", "--member-of", "EU"]).status.success());
    let eve = phalanx(data, &["user", "add", "--org", "CERT-EE", "--name", "eve", "--role", "analyst"]);
    let eve_token = stdout(&eve).lines().last().unwrap().trim().to_owned();
    let orgs = stdout(&phalanx(data, &["org", "list"]));
    let org_of = |name: &str| org_id(orgs.lines().find(|l| l.contains(name)).unwrap());
    let mut stream = server.open_stream(Some("alice"), "?after=0", None);
    assert_eq!(stream.status, 200);

    let url = format!("http://{}", server.addr);
    for (i, (token, org)) in [(server.tokens["alice"].clone(), org_of("CERT-LT")), (server.tokens["erin"].clone(), org_of("CERT-FI")), (eve_token, org_of("CERT-EE"))].into_iter().enumerate() {
        let log = data.join(format!("dns{i}.json"));
        std::fs::write(&log, format!("{{\"ts\":\"2026-03-01T0{i}:00:00Z\",\"query\":\"c2.evil.example\"}}\n")).unwrap();
        let out = phalanx(
            data,
            &["match", "--indicators", ind.to_str().unwrap(), "--node", &url, "--token", &token, "--org", &org, "--default-tlp", "green", log.to_str().unwrap()],
        );
        assert!(out.status.success(), "{}", text(&out));
        assert!(stderr(&out).contains(&format!("sightings: 1 versions written to {url}")), "{}", stderr(&out));
    }
    let refused = phalanx(data, &["match", "--indicators", ind.to_str().unwrap(), "--node", &url, "--token", "phx_bad", "--org", &org_of("CERT-EE"), data.join("dns0.json").to_str().unwrap()]);
    assert_eq!(refused.status.code(), Some(1), "matches written, sightings not delivered: {}", text(&refused));
    assert!(stderr(&refused).contains("answered 401"), "{}", stderr(&refused));

    let deadline = std::time::Instant::now() + Duration::from_secs(40);
    let mut alert = None;
    while alert.is_none() && std::time::Instant::now() < deadline {
        if let Some(ev) = stream.next_event(Duration::from_secs(2)) {
            if ev.event.as_deref() == Some("alert") {
                alert = Some(ev);
            }
        }
    }
    let alert = alert.expect("an `alert` event within 40 s");
    let data: Value = serde_json::from_str(&alert.data).unwrap();
    assert_eq!(data["object"]["type"], "grouping");
    assert_eq!(data["object"]["extensions"][EXT]["countries"], json!(["EST", "FIN", "LTU"]));
}

fn related_json(node: &Node, user: &str, id: &str, extra: &[&str]) -> Value {
    let mut args = vec!["related", "--json", "--as", user];
    args.extend_from_slice(extra);
    args.push(id);
    serde_json::from_str(&node.ok(&args)).expect("related json")
}

fn linked(v: &Value) -> Vec<(String, String)> {
    v["links"].as_array().unwrap().iter().map(|l| (l["reason"].as_str().unwrap().to_owned(), l["id"].as_str().unwrap().to_owned())).collect()
}

#[test]
fn correlation_links_values_cidrs_and_domains_under_the_read_rule() {
    let node = Node::init(&["--org-name", "CERT-LT", "--country", "LTU", "--member-of", "EU"]);
    let sco = json!({"type": "ipv4-addr", "spec_version": "2.1", "id": "ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db", "value": "198.51.100.7", "object_marking_refs": [CLEAR]});
    import(
        &node,
        "ind.json",
        vec![
            indicator(1, "[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'c2.evil.example']", &[CLEAR], json!({})),
            indicator(2, "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", &[CLEAR], json!({})),
            indicator(3, "[domain-name:value = 'Evil.Example']", &[CLEAR], json!({})),
            indicator(4, "[domain-name:value = 'notevil.example']", &[CLEAR], json!({})),
            // Readable by CERT-LT (its originator) only.
            indicator(5, "[ipv4-addr:value = '198.51.100.7']", &[AMBER], json!({})),
            sco,
        ],
    );
    node.ok(&["org", "add", "--name", "CERT-FR", "--country", "FRA", "--member-of", "EU"]);
    node.ok(&["user", "add", "--name", "fr", "--org", "CERT-FR"]);

    let admin = related_json(&node, "admin", &ind_id(1), &[]);
    let links = linked(&admin);
    for want in [
        ("same-value", "ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db".to_owned()),
        ("same-value", ind_id(5)),
        ("within-cidr", ind_id(2)),
        ("parent-domain", ind_id(3)),
    ] {
        assert!(links.contains(&(want.0.to_owned(), want.1.clone())), "{want:?} missing from {links:?}");
    }
    assert!(!links.iter().any(|(_, id)| *id == ind_id(4)), "notevil.example is no parent of c2.evil.example");
    assert_eq!(admin["values"], json!([{"kind": "domain", "value": "c2.evil.example"}, {"kind": "ipv4", "value": "198.51.100.7"}]));

    let fr = linked(&related_json(&node, "fr", &ind_id(1), &[]));
    assert!(!fr.iter().any(|(_, id)| *id == ind_id(5)), "CERT-FR cannot read indicator 5: never linked: {fr:?}");
    assert!(fr.contains(&("same-value".to_owned(), "ipv4-addr--12592121-be4c-5a93-a813-5a5af16e50db".to_owned())));
    let hidden = node.fails(&["related", "--as", "fr", &ind_id(5)]);
    assert!(hidden.contains("no object"), "an unreadable object answers as missing: {hidden}");

    // The block contains the address of three objects; bounded at 2 it is too common.
    let block = related_json(&node, "admin", &ind_id(2), &[]);
    assert_eq!(linked(&block).iter().filter(|(r, _)| r == "contains-cidr").count(), 3, "{block}");
    let bounded = related_json(&node, "admin", &ind_id(2), &["--too-common", "2"]);
    assert!(linked(&bounded).iter().all(|(r, _)| r != "contains-cidr"));
    assert_eq!(bounded["too_common"], json!([{"kind": "ipv4-cidr", "value": "198.51.100.0/24", "reason": "contains-cidr"}]));
    assert_eq!(bounded["too_common_bound"], 2);
    // For CERT-FR only two readable objects share it: the bound counts what the reader may read.
    let fr_bounded = related_json(&node, "fr", &ind_id(2), &["--too-common", "2"]);
    assert_eq!(linked(&fr_bounded).iter().filter(|(r, _)| r == "contains-cidr").count(), 2, "{fr_bounded}");

    // A sighting correlates through its indicator's values.
    let dns = node.data().join("dns.json");
    std::fs::write(&dns, "{\"ts\":\"2026-03-01T08:00:00Z\",\"query\":\"c2.evil.example\"}\n").unwrap();
    node.ok(&["match", "--default-tlp", "clear", dns.to_str().unwrap()]);
    let sighting = of_type(&exported(&node, &["--type", "sighting"]), "sighting").remove(0);
    let s_links = linked(&related_json(&node, "admin", sighting["id"].as_str().unwrap(), &[]));
    assert!(s_links.contains(&("parent-domain".to_owned(), ind_id(3))), "{s_links:?}");
    assert!(linked(&related_json(&node, "admin", &ind_id(3), &[])).iter().any(|(r, id)| r == "subdomain" && id == sighting["id"].as_str().unwrap()));
}

#[test]
fn related_over_rest_is_in_the_openapi_document_and_answers_404_for_unreadable_objects() {
    use crate::stream::{Server, phalanx};
    let server = Server::start(&[("PHALANX_RATE_LIMIT_PER_SEC", "0"), ("PHALANX_CORRELATION_TOO_COMMON", "5")]);
    let data = server.data.path();
    let ind = data.join("ind.json");
    let objects = vec![
        indicator(1, "[domain-name:value = 'c2.evil.example']", &[GREEN], json!({})),
        indicator(2, "[domain-name:value = 'evil.example']", &[GREEN], json!({})),
        indicator(3, "[domain-name:value = 'evil.example']", &[AMBER], json!({})),
    ];
    std::fs::write(&ind, json!({"type": "bundle", "id": "bundle--00000000-0000-4000-8000-000000000001", "objects": objects}).to_string()).unwrap();
    assert!(phalanx(data, &["import", ind.to_str().unwrap()]).status.success());
    let path = format!("/api/v1/objects/{}/related", ind_id(1));
    let alice = server.request("GET", &path, Some("alice"), &[], b"");
    assert_eq!(alice.status, 200, "{}", alice.body);
    let v = alice.json();
    assert_eq!(v["too_common_bound"], 5, "the bound configured on serve");
    let ids: Vec<&str> = v["links"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ind_id(2), ind_id(3)], "{v}");
    let erin = server.request("GET", &path, Some("erin"), &[], b"").json();
    let ids: Vec<&str> = erin["links"].as_array().unwrap().iter().map(|l| l["id"].as_str().unwrap()).collect();
    assert_eq!(ids, [ind_id(2)], "CERT-FI may not read the amber indicator of CERT-LT");
    let hidden = server.request("GET", &format!("/api/v1/objects/{}/related", ind_id(3)), Some("erin"), &[], b"");
    assert_eq!(hidden.status, 404, "{}", hidden.body);
    let bad = server.request("GET", &format!("{path}?x=1"), Some("alice"), &[], b"");
    assert_eq!(bad.status, 400);
    let doc = server.request("GET", "/api/v1/openapi.json", None, &[], b"").json();
    assert!(doc["paths"]["/api/v1/objects/{id}/related"]["get"].is_object());
    assert!(doc["components"]["schemas"]["RelatedView"].is_object());
}
