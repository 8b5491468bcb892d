//! Unit tests of the type-specific rules (`types.rs`): a minimal valid
//! object of every type is accepted, and each MUST rule, when broken,
//! refuses the object with the rule's name at the right JSON path.

use crate::error::{ObjectError, ObjectErrors};
use crate::kinds::{SCO_TYPES, SDO_TYPES, SRO_TYPES};
use crate::object::{ParsedObject, StixObject};
use serde_json::{Value, json};

const UUID: &str = "44af6c39-c09b-49c5-9de2-394224b04982";
const UUID2: &str = "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
const T: &str = "2016-04-06T20:03:48.000Z";
const T2: &str = "2016-05-06T20:03:48.000Z";

fn id(ty: &str) -> String {
    format!("{ty}--{UUID}")
}

fn merge(mut base: Value, extra: Value) -> Value {
    if let (Value::Object(b), Value::Object(e)) = (&mut base, extra) {
        b.extend(e);
    }
    base
}

/// An SDO, SRO or meta object with its common properties and `extra`.
fn core(ty: &str, extra: Value) -> Value {
    merge(json!({"type": ty, "spec_version": "2.1", "id": id(ty), "created": T, "modified": T}), extra)
}

/// An SCO without an id (computed from its contributing properties).
fn sco(ty: &str, extra: Value) -> Value {
    merge(json!({"type": ty, "spec_version": "2.1"}), extra)
}

/// A minimal valid object of every STIX 2.1 type.
fn minimal(ty: &str) -> Value {
    match ty {
        "attack-pattern" | "campaign" | "course-of-action" | "identity" | "incident" | "infrastructure"
        | "intrusion-set" | "threat-actor" | "tool" | "vulnerability" => core(ty, json!({"name": "x"})),
        "grouping" => core(ty, json!({"context": "suspicious-activity", "object_refs": [id("indicator")]})),
        "indicator" => {
            core(ty, json!({"pattern": "[ipv4-addr:value = '198.51.100.1']", "pattern_type": "stix", "valid_from": T}))
        }
        "location" => core(ty, json!({"region": "europe"})),
        "malware" => core(ty, json!({"is_family": false})),
        "malware-analysis" => core(ty, json!({"product": "anonymized", "result": "malicious"})),
        "note" => core(ty, json!({"content": "x", "object_refs": [id("indicator")]})),
        "observed-data" => core(
            ty,
            json!({"first_observed": T, "last_observed": T, "number_observed": 1, "object_refs": [id("ipv4-addr")]}),
        ),
        "opinion" => core(ty, json!({"opinion": "agree", "object_refs": [id("indicator")]})),
        "report" => core(ty, json!({"name": "x", "published": T, "object_refs": [id("indicator")]})),
        "relationship" => core(
            ty,
            json!({"relationship_type": "uses", "source_ref": id("malware"), "target_ref": id("attack-pattern")}),
        ),
        "sighting" => core(ty, json!({"sighting_of_ref": id("indicator")})),
        "marking-definition" => json!({
            "type": ty, "spec_version": "2.1", "id": id(ty), "created": T,
            "extensions": {format!("extension-definition--{UUID2}"): {"extension_type": "property-extension", "level": 1}}
        }),
        "language-content" => core(ty, json!({"object_ref": id("campaign"), "contents": {"de": {"name": "x"}}})),
        "extension-definition" => core(
            ty,
            json!({"name": "x", "schema": "https://example.com/s", "version": "1.0.0",
                   "extension_types": ["property-extension"], "created_by_ref": id("identity")}),
        ),
        "artifact" => sco(ty, json!({"payload_bin": "aGVsbG8="})),
        "autonomous-system" => sco(ty, json!({"number": 15139})),
        "directory" => sco(ty, json!({"path": "C:\\Windows"})),
        "domain-name" => sco(ty, json!({"value": "example.com"})),
        "email-addr" => sco(ty, json!({"value": "jdoe@example.com"})),
        "email-message" => sco(ty, json!({"is_multipart": false, "subject": "hi"})),
        "file" => sco(ty, json!({"name": "foo.exe"})),
        "ipv4-addr" => sco(ty, json!({"value": "198.51.100.3"})),
        "ipv6-addr" => sco(ty, json!({"value": "2001:db8::1"})),
        "mac-addr" => sco(ty, json!({"value": "d2:fb:49:24:37:18"})),
        "mutex" => sco(ty, json!({"name": "__CLEANSWEEP__"})),
        "network-traffic" => sco(ty, json!({"src_ref": id("ipv4-addr"), "protocols": ["ipv4", "tcp"]})),
        "process" => sco(ty, json!({"id": id("process"), "pid": 4})),
        "software" => sco(ty, json!({"name": "Word"})),
        "url" => sco(ty, json!({"value": "https://example.com/a"})),
        "user-account" => sco(ty, json!({"user_id": "1001"})),
        "windows-registry-key" => sco(ty, json!({"key": "HKEY_LOCAL_MACHINE\\System\\Foo"})),
        "x509-certificate" => sco(ty, json!({"serial_number": "36:f7:d4"})),
        other => panic!("no minimal object for {other}"),
    }
}

fn check(v: &Value) -> Result<ParsedObject, ObjectErrors> {
    StixObject::from_value(v.clone(), "$")
}

/// The object is accepted; returns its warnings.
#[track_caller]
fn accepted(v: &Value) -> Vec<ObjectError> {
    match check(v) {
        Ok(p) => p.warnings,
        Err(e) => panic!("refused: {e}\n{v:#}"),
    }
}

fn full_path(path: &str) -> String {
    if path.is_empty() { "$".to_owned() } else { format!("$.{path}") }
}

/// The object is refused with `rule` at `path` (relative to the object).
#[track_caller]
fn refused(v: &Value, rule: &str, path: &str) {
    let want = full_path(path);
    match check(v) {
        Ok(_) => panic!("accepted, expected {rule} at {want}:\n{v:#}"),
        Err(e) => {
            assert!(e.0.iter().any(|x| x.rule == rule && x.path == want), "expected {rule} at {want}, got: {e}");
            for x in &e.0 {
                let first = x.message.chars().next().unwrap_or(' ');
                assert!(!first.is_uppercase(), "message not lowercase: {}", x.message);
            }
        }
    }
}

/// The object is accepted with a warning `rule` at `path`.
#[track_caller]
fn warned(v: &Value, rule: &str, path: &str) {
    let want = full_path(path);
    let warnings = accepted(v);
    assert!(
        warnings.iter().any(|w| w.rule == rule && w.path == want),
        "expected warning {rule} at {want}, got: {warnings:?}"
    );
}

fn set(v: &Value, key: &str, value: Value) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.insert(key.to_owned(), value);
    }
    v
}

fn del(v: &Value, key: &str) -> Value {
    let mut v = v.clone();
    if let Value::Object(m) = &mut v {
        m.remove(key);
    }
    v
}

fn all_types() -> Vec<&'static str> {
    let mut all: Vec<&str> = SDO_TYPES.iter().chain(SRO_TYPES).chain(SCO_TYPES).copied().collect();
    all.extend(["marking-definition", "language-content", "extension-definition"]);
    all
}

// ---- every type ----

#[test]
fn minimal_object_of_every_type_is_accepted_without_warnings() {
    let all = all_types();
    assert_eq!(all.len(), 42);
    for ty in all {
        let w = accepted(&minimal(ty));
        assert!(w.is_empty(), "{ty}: unexpected warnings {w:?}");
    }
}

#[test]
fn required_properties_of_every_type() {
    let table: &[(&str, &[&str])] = &[
        ("attack-pattern", &["name"]),
        ("campaign", &["name"]),
        ("course-of-action", &["name"]),
        ("grouping", &["context", "object_refs"]),
        ("identity", &["name"]),
        ("incident", &["name"]),
        ("indicator", &["pattern", "pattern_type", "valid_from"]),
        ("infrastructure", &["name"]),
        ("intrusion-set", &["name"]),
        ("malware", &["is_family"]),
        ("malware-analysis", &["product"]),
        ("note", &["content", "object_refs"]),
        ("observed-data", &["first_observed", "last_observed", "number_observed"]),
        ("opinion", &["opinion", "object_refs"]),
        ("report", &["name", "published", "object_refs"]),
        ("threat-actor", &["name"]),
        ("tool", &["name"]),
        ("vulnerability", &["name"]),
        ("relationship", &["relationship_type", "source_ref", "target_ref"]),
        ("sighting", &["sighting_of_ref"]),
        ("language-content", &["object_ref", "contents"]),
        ("extension-definition", &["name", "schema", "version", "extension_types", "created_by_ref"]),
        ("autonomous-system", &["number"]),
        ("directory", &["path"]),
        ("domain-name", &["value"]),
        ("email-addr", &["value"]),
        ("email-message", &["is_multipart"]),
        ("ipv4-addr", &["value"]),
        ("ipv6-addr", &["value"]),
        ("mac-addr", &["value"]),
        ("mutex", &["name"]),
        ("network-traffic", &["protocols"]),
        ("software", &["name"]),
        ("url", &["value"]),
    ];
    for (ty, keys) in table {
        for key in *keys {
            let mut v = del(&minimal(ty), key);
            // Keep an SCO identifiable when its only contributing property goes.
            if SCO_TYPES.contains(ty) {
                v = set(&v, "id", json!(format!("{ty}--{UUID}")));
            }
            refused(&v, "required-property", key);
        }
    }
}

#[test]
fn incident_is_a_stub() {
    // §4.6: name and description only; anything else is an unknown
    // property, kept as is.
    let v = set(&minimal("incident"), "kill_chain_phases", json!("not checked"));
    assert!(accepted(&v).is_empty());
    refused(&set(&minimal("incident"), "description", json!(1)), "property-type", "description");
}

#[test]
fn custom_and_unknown_properties_are_accepted_silently() {
    for ty in all_types() {
        let v = set(&set(&minimal(ty), "x_acme_score", json!({"a": [1, 2]})), "some_future_property", json!("x"));
        let w = accepted(&v);
        assert!(w.is_empty(), "{ty}: {w:?}");
    }
}

#[test]
fn property_types_are_checked() {
    refused(&set(&minimal("attack-pattern"), "name", json!(5)), "property-type", "name");
    refused(&set(&minimal("campaign"), "aliases", json!("one")), "property-type", "aliases");
    refused(&set(&minimal("campaign"), "aliases", json!(["a", 1])), "property-type", "aliases[1]");
    refused(&set(&minimal("campaign"), "first_seen", json!("2016-01-01")), "timestamp-format", "first_seen");
    refused(&set(&minimal("malware"), "is_family", json!("false")), "property-type", "is_family");
    refused(&set(&minimal("identity"), "sectors", json!("energy")), "property-type", "sectors");
    refused(&set(&minimal("autonomous-system"), "number", json!("AS1")), "property-type", "number");
    refused(&set(&minimal("autonomous-system"), "number", json!(1.5)), "property-type", "number");
    refused(&set(&minimal("process"), "pid", json!(9_007_199_254_740_992_i64)), "range", "pid");
    refused(&set(&minimal("report"), "published", json!("yesterday")), "timestamp-format", "published");
    refused(&set(&minimal("location"), "latitude", json!("48.8")), "property-type", "latitude");
}

#[test]
fn defanged_is_only_for_scos_and_lang_must_be_a_language_tag() {
    refused(&set(&minimal("indicator"), "defanged", json!(true)), "not-applicable", "defanged");
    accepted(&set(&minimal("url"), "defanged", json!(true)));
    refused(&set(&minimal("campaign"), "lang", json!("english!")), "language-tag", "lang");
    accepted(&set(&minimal("campaign"), "lang", json!("de-CH")));
    warned(&set(&minimal("url"), "labels", json!(["x"])), "not-applicable", "labels");
}

#[test]
fn external_reference_hashes_are_checked() {
    let er = |h: Value| {
        set(
            &minimal("vulnerability"),
            "external_references",
            json!([{"source_name": "x", "url": "https://e.com", "hashes": h}]),
        )
    };
    accepted(&er(json!({"SHA-256": "6db12788c37247f2316052e142f42f4b259d6561751e5f401a1ae2a6df9c674b"})));
    refused(&er(json!({"MD5": "abc"})), "hash-value", "external_references[0].hashes.MD5");
}

#[test]
fn kill_chain_phases_need_both_names() {
    let v = set(
        &minimal("attack-pattern"),
        "kill_chain_phases",
        json!([{"kill_chain_name": "lockheed-martin-cyber-kill-chain"}]),
    );
    refused(&v, "required-property", "kill_chain_phases[0].phase_name");
    refused(&set(&minimal("tool"), "kill_chain_phases", json!(["recon"])), "property-type", "kill_chain_phases[0]");
    refused(
        &set(&minimal("indicator"), "kill_chain_phases", json!([{"kill_chain_name": "k", "phase_name": 3}])),
        "property-type",
        "kill_chain_phases[0].phase_name",
    );
    let ok = set(
        &minimal("malware"),
        "kill_chain_phases",
        json!([{"kill_chain_name": "mitre-attack", "phase_name": "execution"}]),
    );
    assert!(accepted(&ok).is_empty());
    warned(
        &set(
            &minimal("malware"),
            "kill_chain_phases",
            json!([{"kill_chain_name": "Mitre ATT&CK", "phase_name": "x-y"}]),
        ),
        "kill-chain-phase",
        "kill_chain_phases[0].kill_chain_name",
    );
}

// ---- SDOs ----

#[test]
fn indicator_rules() {
    let v = minimal("indicator");
    refused(&set(&v, "valid_until", json!(T)), "timestamp-order", "valid_until");
    refused(&set(&v, "valid_until", json!("2015-01-01T00:00:00Z")), "timestamp-order", "valid_until");
    accepted(&set(&v, "valid_until", json!(T2)));
    // pattern_type is an open vocabulary.
    warned(&set(&set(&v, "pattern_type", json!("kql")), "pattern", json!("x")), "open-vocabulary", "pattern_type");
    warned(&set(&v, "indicator_types", json!(["weird"])), "open-vocabulary", "indicator_types[0]");
    refused(&set(&v, "pattern", json!(["a"])), "property-type", "pattern");
}

#[test]
fn stix_patterns_go_through_pattern_check() {
    let v = minimal("indicator");
    for pattern in ["[ipv4-addr:value = '1.2.3.4'", "[file:name = 'x'] WITHIN", "not a pattern", "[a:b = 1]"] {
        let with = set(&v, "pattern", json!(pattern));
        match crate::pattern_check(pattern) {
            Ok(_) => {
                accepted(&with);
            }
            Err(_) => refused(&with, "pattern-syntax", "pattern"),
        }
        // Other pattern languages are not parsed.
        accepted(&set(&with, "pattern_type", json!("yara")));
    }
}

#[test]
fn malware_rules() {
    let v = minimal("malware");
    refused(&set(&v, "is_family", json!(true)), "required-property", "name");
    accepted(&set(&set(&v, "is_family", json!(true)), "name", json!("Poison Ivy")));
    refused(&set(&v, "sample_refs", json!([id("indicator")])), "reference-type", "sample_refs[0]");
    refused(&set(&v, "operating_system_refs", json!([id("file")])), "reference-type", "operating_system_refs[0]");
    accepted(&set(&v, "sample_refs", json!([id("file"), id("artifact")])));
    refused(&set(&set(&v, "first_seen", json!(T2)), "last_seen", json!(T)), "timestamp-order", "last_seen");
    accepted(&set(&set(&v, "first_seen", json!(T)), "last_seen", json!(T)));
    warned(&set(&v, "malware_types", json!(["ransomware", "cryptominer"])), "open-vocabulary", "malware_types[1]");
    warned(&set(&v, "capabilities", json!(["teleports"])), "open-vocabulary", "capabilities[0]");
    warned(&set(&v, "implementation_languages", json!(["cobol"])), "open-vocabulary", "implementation_languages[0]");
    warned(
        &set(&v, "architecture_execution_envs", json!(["z80"])),
        "open-vocabulary",
        "architecture_execution_envs[0]",
    );
}

#[test]
fn first_seen_last_seen_order() {
    for ty in ["campaign", "intrusion-set", "threat-actor", "infrastructure", "malware", "sighting"] {
        let v = set(&set(&minimal(ty), "first_seen", json!(T2)), "last_seen", json!(T));
        refused(&v, "timestamp-order", "last_seen");
        accepted(&set(&set(&minimal(ty), "first_seen", json!(T)), "last_seen", json!(T2)));
    }
}

#[test]
fn location_rules() {
    let v = minimal("location");
    refused(&set(&set(&v, "latitude", json!(90.5)), "longitude", json!(0)), "range", "latitude");
    refused(&set(&set(&v, "latitude", json!(0)), "longitude", json!(-180.01)), "range", "longitude");
    refused(&set(&v, "latitude", json!(10)), "required-property", "longitude");
    refused(&set(&v, "longitude", json!(10)), "required-property", "latitude");
    refused(&set(&v, "precision", json!(100)), "dependent-property", "precision");
    refused(&del(&v, "region"), "required-property", "");
    let point = core("location", json!({"latitude": -90, "longitude": 180, "precision": 10.5}));
    assert!(accepted(&point).is_empty());
    assert!(accepted(&core("location", json!({"country": "th"}))).is_empty());
    warned(&set(&v, "region", json!("atlantis")), "open-vocabulary", "region");
}

#[test]
fn malware_analysis_rules() {
    let v = minimal("malware-analysis");
    refused(&del(&v, "result"), "required-property", "");
    accepted(&set(&del(&v, "result"), "analysis_sco_refs", json!([id("file")])));
    refused(&set(&v, "host_vm_ref", json!(id("file"))), "reference-type", "host_vm_ref");
    refused(&set(&v, "installed_software_refs", json!([id("tool")])), "reference-type", "installed_software_refs[0]");
    refused(&set(&v, "sample_ref", json!(id("indicator"))), "reference-type", "sample_ref");
    accepted(&set(&v, "sample_ref", json!(id("network-traffic"))));
    // result is an open vocabulary.
    warned(&set(&v, "result", json!("probably-bad")), "open-vocabulary", "result");
    refused(&set(&v, "submitted", json!("2020")), "timestamp-format", "submitted");
}

#[test]
fn observed_data_rules() {
    let v = minimal("observed-data");
    refused(&set(&v, "number_observed", json!(0)), "range", "number_observed");
    refused(&set(&v, "number_observed", json!(1_000_000_000)), "range", "number_observed");
    accepted(&set(&v, "number_observed", json!(999_999_999)));
    refused(&set(&v, "first_observed", json!(T2)), "timestamp-order", "last_observed");
    let container = json!({"0": {"type": "ipv4-addr", "value": "198.51.100.2"},
                           "1": {"type": "network-traffic", "dst_ref": "0", "protocols": ["tcp"]}});
    refused(&set(&v, "objects", container.clone()), "mutually-exclusive", "objects");
    refused(&del(&v, "object_refs"), "required-property", "");
    refused(&set(&v, "object_refs", json!([id("indicator")])), "reference-type", "object_refs[0]");
    refused(&set(&v, "object_refs", json!([id("relationship")])), "observed-data-refs", "object_refs");
    accepted(&set(&v, "object_refs", json!([id("file"), id("relationship"), id("x-acme-thing")])));
    // The deprecated container is accepted with a warning, and its SCOs
    // are checked with local references.
    let old = set(&del(&v, "object_refs"), "objects", container);
    warned(&old, "deprecated", "objects");
    let bad = set(&del(&v, "object_refs"), "objects", json!({"0": {"type": "ipv4-addr", "value": "1.2.3.999"}}));
    refused(&bad, "ipv4-format", "objects.0.value");
    let sdo = set(&del(&v, "object_refs"), "objects", json!({"0": {"type": "indicator"}}));
    refused(&sdo, "observed-data-objects", "objects.0.type");
    refused(&set(&del(&v, "object_refs"), "objects", json!({})), "empty-dictionary", "objects");
}

#[test]
fn closed_and_open_vocabularies() {
    refused(&set(&minimal("opinion"), "opinion", json!("maybe")), "enumeration", "opinion");
    for o in ["strongly-disagree", "disagree", "neutral", "agree", "strongly-agree"] {
        accepted(&set(&minimal("opinion"), "opinion", json!(o)));
    }
    warned(&set(&minimal("grouping"), "context", json!("incident-response")), "open-vocabulary", "context");
    warned(&set(&minimal("identity"), "identity_class", json!("nation")), "open-vocabulary", "identity_class");
    warned(&set(&minimal("identity"), "sectors", json!(["space"])), "open-vocabulary", "sectors[0]");
    warned(&set(&minimal("report"), "report_types", json!(["weekly"])), "open-vocabulary", "report_types[0]");
    warned(&set(&minimal("tool"), "tool_types", json!(["swiss-knife"])), "open-vocabulary", "tool_types[0]");
    warned(
        &set(&minimal("infrastructure"), "infrastructure_types", json!(["cloud"])),
        "open-vocabulary",
        "infrastructure_types[0]",
    );
    let ta = minimal("threat-actor");
    warned(&set(&ta, "threat_actor_types", json!(["alien"])), "open-vocabulary", "threat_actor_types[0]");
    warned(&set(&ta, "roles", json!(["mastermind"])), "open-vocabulary", "roles[0]");
    warned(&set(&ta, "sophistication", json!("genius")), "open-vocabulary", "sophistication");
    warned(&set(&ta, "resource_level", json!("galaxy")), "open-vocabulary", "resource_level");
    warned(&set(&ta, "primary_motivation", json!("boredom")), "open-vocabulary", "primary_motivation");
    warned(&set(&ta, "personal_motivations", json!(["boredom"])), "open-vocabulary", "personal_motivations[0]");
    warned(
        &set(&minimal("intrusion-set"), "secondary_motivations", json!(["fame"])),
        "open-vocabulary",
        "secondary_motivations[0]",
    );
    warned(&set(&minimal("user-account"), "account_type", json!("mastodon")), "open-vocabulary", "account_type");
}

#[test]
fn object_refs_are_identifiers() {
    for ty in ["grouping", "note", "opinion", "report"] {
        refused(&set(&minimal(ty), "object_refs", json!(["not-an-id"])), "id-format", "object_refs[0]");
        refused(&set(&minimal(ty), "object_refs", json!(id("indicator"))), "property-type", "object_refs");
    }
}

// ---- SROs ----

#[test]
fn relationship_rules() {
    let v = minimal("relationship");
    refused(&set(&v, "source_ref", json!(id("marking-definition"))), "reference-type", "source_ref");
    refused(&set(&v, "target_ref", json!(id("bundle"))), "reference-type", "target_ref");
    refused(&set(&v, "target_ref", json!(id("sighting"))), "reference-type", "target_ref");
    refused(&set(&v, "source_ref", json!(id("language-content"))), "reference-type", "source_ref");
    accepted(&set(&v, "target_ref", json!(id("ipv4-addr"))));
    accepted(&set(&v, "target_ref", json!(id("x-mitre-tactic"))));
    refused(&set(&v, "relationship_type", json!("Uses")), "relationship-type", "relationship_type");
    refused(&set(&v, "relationship_type", json!("uses_tool")), "relationship-type", "relationship_type");
    refused(&set(&set(&v, "start_time", json!(T)), "stop_time", json!(T)), "timestamp-order", "stop_time");
    accepted(&set(&set(&v, "start_time", json!(T)), "stop_time", json!(T2)));
}

#[test]
fn sighting_rules() {
    let v = minimal("sighting");
    refused(&set(&v, "count", json!(-1)), "range", "count");
    refused(&set(&v, "count", json!(1_000_000_000)), "range", "count");
    accepted(&set(&v, "count", json!(0)));
    refused(
        &set(&v, "where_sighted_refs", json!([id("identity"), id("malware")])),
        "reference-type",
        "where_sighted_refs[1]",
    );
    accepted(&set(&v, "where_sighted_refs", json!([id("identity"), id("location")])));
    refused(&set(&v, "observed_data_refs", json!([id("indicator")])), "reference-type", "observed_data_refs[0]");
    refused(&set(&v, "sighting_of_ref", json!(id("relationship"))), "reference-type", "sighting_of_ref");
    refused(&set(&v, "sighting_of_ref", json!(id("file"))), "reference-type", "sighting_of_ref");
    accepted(&set(&v, "sighting_of_ref", json!(id("x-acme-sdo"))));
    refused(&set(&v, "summary", json!("true")), "property-type", "summary");
}

// ---- SCOs ----

#[test]
fn artifact_rules() {
    let v = minimal("artifact");
    refused(&set(&v, "url", json!("https://e.com/a")), "mutually-exclusive", "url");
    let by_url = sco("artifact", json!({"id": id("artifact"), "url": "https://e.com/a"}));
    refused(&by_url, "required-property", "hashes");
    accepted(&set(
        &by_url,
        "hashes",
        json!({"SHA-256": "effb46bba03f6c8aea5c653f9cf984f170dcdd3bbbe2ff6843c3e5da0e698766"}),
    ));
    refused(&sco("artifact", json!({"id": id("artifact"), "mime_type": "image/png"})), "required-property", "");
    refused(&set(&v, "payload_bin", json!("VBORw0KGgoAAAANSUhEUgAAADI== ...")), "binary-format", "payload_bin");
    refused(&set(&v, "payload_bin", json!("abc")), "binary-format", "payload_bin");
    refused(&set(&v, "decryption_key", json!("k")), "dependent-property", "decryption_key");
    refused(&set(&v, "encryption_algorithm", json!("rot13")), "enumeration", "encryption_algorithm");
    accepted(&set(&set(&v, "encryption_algorithm", json!("mime-type-indicated")), "decryption_key", json!("k")));
}

#[test]
fn file_rules_and_hashes() {
    let v = minimal("file");
    refused(&sco("file", json!({"id": id("file"), "size": 3})), "required-property", "");
    refused(&set(&v, "size", json!(-1)), "range", "size");
    refused(&set(&v, "hashes", json!({"MD5": "xyz"})), "hash-value", "hashes.MD5");
    refused(&set(&v, "hashes", json!({"SHA-1": "d41d8cd98f00b204e9800998ecf8427e"})), "hash-value", "hashes.SHA-1");
    refused(&set(&v, "hashes", json!({"SHA-256": 7})), "property-type", "hashes.SHA-256");
    refused(&set(&v, "hashes", json!({})), "empty-dictionary", "hashes");
    refused(&set(&v, "hashes", json!({"md": "abc"})), "hash-algorithm", "hashes.md");
    // An unknown algorithm name is kept with a warning.
    warned(&set(&v, "hashes", json!({"sha256": "abc"})), "hash-algorithm", "hashes.sha256");
    let good = json!({"MD5": "D41D8CD98F00B204E9800998ECF8427E",
                      "SHA-512": "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e",
                      "SSDEEP": "3:AXGBicFlgVNhBGcL6wCrFQEv:AXGHsNhxLsr2C",
                      "TLSH": "T1A5B32A51F2A14F5BCD5B5AC09FB8D53F05C32E3C5D2A1C9F0E2A1C5B8E7D6A1F0E2C3D"});
    assert!(accepted(&set(&v, "hashes", good)).is_empty());
    refused(&set(&del(&v, "name"), "name_enc", json!("windows-1252")), "dependent-property", "name_enc");
    refused(&set(&v, "name_enc", json!("windows 1252")), "charset-name", "name_enc");
    refused(&set(&v, "magic_number_hex", json!("504B030")), "hex-format", "magic_number_hex");
    accepted(&set(&v, "magic_number_hex", json!("504B0304")));
    refused(&set(&v, "parent_directory_ref", json!(id("file"))), "reference-type", "parent_directory_ref");
    refused(&set(&v, "content_ref", json!(id("file"))), "reference-type", "content_ref");
}

fn ext(ty: &str, name: &str, body: Value) -> Value {
    set(&minimal(ty), "extensions", json!({name: body}))
}

#[test]
fn file_extensions() {
    refused(
        &ext("file", "archive-ext", json!({"comment": "x"})),
        "required-property",
        "extensions.archive-ext.contains_refs",
    );
    refused(
        &ext("file", "archive-ext", json!({"contains_refs": [id("url")]})),
        "reference-type",
        "extensions.archive-ext.contains_refs[0]",
    );
    accepted(&ext("file", "archive-ext", json!({"contains_refs": [id("file"), id("directory")]})));
    refused(&ext("file", "ntfs-ext", json!({})), "required-property", "extensions.ntfs-ext");
    refused(
        &ext("file", "ntfs-ext", json!({"alternate_data_streams": [{"size": 3}]})),
        "required-property",
        "extensions.ntfs-ext.alternate_data_streams[0].name",
    );
    refused(
        &ext("file", "ntfs-ext", json!({"alternate_data_streams": [{"name": "s", "size": -3}]})),
        "range",
        "extensions.ntfs-ext.alternate_data_streams[0].size",
    );
    refused(&ext("file", "pdf-ext", json!({"pdfid9": "x"})), "required-property", "extensions.pdf-ext");
    refused(
        &ext("file", "pdf-ext", json!({"document_info_dict": {"Title": 3}})),
        "property-type",
        "extensions.pdf-ext.document_info_dict.Title",
    );
    accepted(&ext("file", "pdf-ext", json!({"version": "1.7", "document_info_dict": {"Title": "Sample"}})));
    refused(&ext("file", "raster-image-ext", json!({})), "required-property", "extensions.raster-image-ext");
    refused(
        &ext("file", "raster-image-ext", json!({"exif_tags": {"Make": true}})),
        "property-type",
        "extensions.raster-image-ext.exif_tags.Make",
    );
    accepted(&ext("file", "raster-image-ext", json!({"exif_tags": {"Make": "Nikon", "XResolution": 4928}})));
    let pe = "windows-pebinary-ext";
    refused(&ext("file", pe, json!({"imphash": "x"})), "required-property", "extensions.windows-pebinary-ext.pe_type");
    refused(&ext("file", pe, json!({"pe_type": "exe"})), "required-property", "extensions.windows-pebinary-ext");
    refused(
        &ext("file", pe, json!({"pe_type": "exe", "number_of_sections": -1})),
        "range",
        "extensions.windows-pebinary-ext.number_of_sections",
    );
    refused(
        &ext("file", pe, json!({"pe_type": "exe", "optional_header": {}})),
        "required-property",
        "extensions.windows-pebinary-ext.optional_header",
    );
    refused(
        &ext("file", pe, json!({"pe_type": "exe", "sections": [{"entropy": 1.0}]})),
        "required-property",
        "extensions.windows-pebinary-ext.sections[0].name",
    );
    refused(
        &ext("file", pe, json!({"pe_type": "exe", "machine_hex": "14c"})),
        "hex-format",
        "extensions.windows-pebinary-ext.machine_hex",
    );
    refused(
        &ext("file", pe, json!({"pe_type": "exe", "file_header_hashes": {"MD5": "1"}})),
        "hash-value",
        "extensions.windows-pebinary-ext.file_header_hashes.MD5",
    );
    let full = json!({"pe_type": "exe", "machine_hex": "014c", "time_date_stamp": "2016-01-22T12:31:12Z",
                      "optional_header": {"magic_hex": "010b", "size_of_code": 512, "number_of_rva_and_sizes": 3_758_087_646_i64},
                      "sections": [{"name": "CODE", "entropy": 0.061089}]});
    assert!(accepted(&ext("file", pe, full)).is_empty());
    warned(
        &ext("file", pe, json!({"pe_type": "elf", "imphash": "x"})),
        "open-vocabulary",
        "extensions.windows-pebinary-ext.pe_type",
    );
}

#[test]
fn extension_keys_by_type() {
    refused(
        &ext("file", "http-request-ext", json!({"request_method": "get", "request_value": "/"})),
        "extension-key",
        "extensions.http-request-ext",
    );
    refused(&ext("file", "foo", json!({"a": 1})), "extension-key", "extensions.foo");
    warned(&ext("file", "x-acme-ext", json!({"a": 1})), "extension-key", "extensions.x-acme-ext");
    warned(&ext("indicator", "foo", json!({"a": 1})), "extension-key", "extensions.foo");
    accepted(&ext(
        "file",
        &format!("extension-definition--{UUID}"),
        json!({"extension_type": "property-extension", "a": 1}),
    ));
    refused(
        &ext("file", &format!("extension-definition--{UUID}"), json!({"a": 1})),
        "required-property",
        &format!("extensions.extension-definition--{UUID}.extension_type"),
    );
}

#[test]
fn network_traffic_rules() {
    let v = minimal("network-traffic");
    refused(
        &sco("network-traffic", json!({"id": id("network-traffic"), "protocols": ["tcp"]})),
        "required-property",
        "",
    );
    accepted(&set(&del(&v, "src_ref"), "dst_ref", json!(id("domain-name"))));
    refused(&set(&v, "src_port", json!(65536)), "range", "src_port");
    refused(&set(&v, "dst_port", json!(-1)), "range", "dst_port");
    accepted(&set(&set(&v, "src_port", json!(0)), "dst_port", json!(65535)));
    refused(&set(&set(&v, "is_active", json!(true)), "end", json!(T)), "mutually-exclusive", "end");
    refused(&set(&set(&v, "start", json!(T2)), "end", json!(T)), "timestamp-order", "end");
    refused(&set(&v, "src_ref", json!(id("url"))), "reference-type", "src_ref");
    refused(&set(&v, "protocols", json!([])), "empty-list", "protocols");
    warned(&set(&v, "protocols", json!(["IPv4", "tcp"])), "protocol-name", "protocols[0]");
    refused(&set(&v, "ipfix", json!({"minimumIpTotalLength": true})), "property-type", "ipfix.minimumIpTotalLength");
    refused(&set(&v, "encapsulates_refs", json!([id("ipv4-addr")])), "reference-type", "encapsulates_refs[0]");
    refused(&set(&v, "src_payload_ref", json!(id("file"))), "reference-type", "src_payload_ref");
    warned(&set(&v, "src_byte_count", json!(-5)), "range", "src_byte_count");
}

#[test]
fn network_traffic_extensions() {
    let nt = "network-traffic";
    refused(
        &ext(nt, "http-request-ext", json!({"request_method": "get"})),
        "required-property",
        "extensions.http-request-ext.request_value",
    );
    refused(
        &ext(
            nt,
            "http-request-ext",
            json!({"request_method": "get", "request_value": "/", "request_header": {"Host": "e.com"}}),
        ),
        "property-type",
        "extensions.http-request-ext.request_header.Host",
    );
    accepted(&ext(
        nt,
        "http-request-ext",
        json!({"request_method": "get", "request_value": "/", "request_header": {"Host": ["e.com"]}}),
    ));
    refused(
        &ext(nt, "icmp-ext", json!({"icmp_type_hex": "08"})),
        "required-property",
        "extensions.icmp-ext.icmp_code_hex",
    );
    refused(
        &ext(nt, "icmp-ext", json!({"icmp_type_hex": "8", "icmp_code_hex": "00"})),
        "hex-format",
        "extensions.icmp-ext.icmp_type_hex",
    );
    refused(
        &ext(nt, "socket-ext", json!({"is_listening": true})),
        "required-property",
        "extensions.socket-ext.address_family",
    );
    refused(
        &ext(nt, "socket-ext", json!({"address_family": "AF_FOO"})),
        "enumeration",
        "extensions.socket-ext.address_family",
    );
    refused(
        &ext(nt, "socket-ext", json!({"address_family": "AF_INET", "socket_type": "SOCK_FAST"})),
        "enumeration",
        "extensions.socket-ext.socket_type",
    );
    refused(
        &ext(nt, "socket-ext", json!({"address_family": "AF_INET", "options": {"SO_LINGER": "on"}})),
        "property-type",
        "extensions.socket-ext.options.SO_LINGER",
    );
    accepted(&ext(
        nt,
        "socket-ext",
        json!({"address_family": "AF_INET6", "socket_type": "SOCK_STREAM", "options": {"SO_LINGER": 10}}),
    ));
    refused(&ext(nt, "tcp-ext", json!({})), "required-property", "extensions.tcp-ext");
    accepted(&ext(nt, "tcp-ext", json!({"src_flags_hex": "00000002"})));
}

#[test]
fn email_message_rules() {
    let v = minimal("email-message");
    refused(&set(&set(&v, "is_multipart", json!(true)), "body", json!("hi")), "email-body", "body");
    refused(&set(&v, "body_multipart", json!([{"body": "hi"}])), "email-body", "body_multipart");
    let multi = set(&v, "is_multipart", json!(true));
    refused(
        &set(&multi, "body_multipart", json!([{"content_type": "text/plain"}])),
        "required-property",
        "body_multipart[0]",
    );
    refused(
        &set(&multi, "body_multipart", json!([{"body_raw_ref": id("url")}])),
        "reference-type",
        "body_multipart[0].body_raw_ref",
    );
    accepted(&set(&multi, "body_multipart", json!([{"body": "hi"}, {"body_raw_ref": id("artifact")}])));
    refused(&set(&v, "from_ref", json!(id("ipv4-addr"))), "reference-type", "from_ref");
    refused(&set(&v, "to_refs", json!([id("user-account")])), "reference-type", "to_refs[0]");
    refused(&set(&v, "raw_email_ref", json!(id("file"))), "reference-type", "raw_email_ref");
    refused(
        &set(&v, "additional_header_fields", json!({"X-Count": 3})),
        "property-type",
        "additional_header_fields.X-Count",
    );
    refused(
        &set(&v, "additional_header_fields", json!({"X Mailer": ["m"]})),
        "dictionary-key",
        "additional_header_fields.X Mailer",
    );
    accepted(&set(&v, "additional_header_fields", json!({"Reply-To": ["a@e.com", "b@e.com"], "X-Mailer": "Mutt"})));
}

#[test]
fn process_rules() {
    refused(&json!({"type": "process", "id": id("process")}), "required-property", "");
    let v = minimal("process");
    refused(&set(&v, "environment_variables", json!({"PATH": 3})), "property-type", "environment_variables.PATH");
    refused(&set(&v, "environment_variables", json!({})), "empty-dictionary", "environment_variables");
    refused(&set(&v, "image_ref", json!(id("process"))), "reference-type", "image_ref");
    refused(&set(&v, "child_refs", json!([id("file")])), "reference-type", "child_refs[0]");
    refused(
        &set(&v, "opened_connection_refs", json!([id("ipv4-addr")])),
        "reference-type",
        "opened_connection_refs[0]",
    );
    refused(&ext("process", "windows-process-ext", json!({})), "required-property", "extensions.windows-process-ext");
    refused(
        &ext("process", "windows-process-ext", json!({"integrity_level": "ultra"})),
        "enumeration",
        "extensions.windows-process-ext.integrity_level",
    );
    accepted(&ext("process", "windows-process-ext", json!({"aslr_enabled": true, "integrity_level": "high"})));
    refused(&ext("process", "windows-service-ext", json!({})), "required-property", "extensions.windows-service-ext");
    refused(
        &ext("process", "windows-service-ext", json!({"start_type": "SOMETIMES"})),
        "enumeration",
        "extensions.windows-service-ext.start_type",
    );
    refused(
        &ext("process", "windows-service-ext", json!({"service_type": "SERVICE_X"})),
        "enumeration",
        "extensions.windows-service-ext.service_type",
    );
    refused(
        &ext("process", "windows-service-ext", json!({"service_status": "SERVICE_DEAD"})),
        "enumeration",
        "extensions.windows-service-ext.service_status",
    );
    refused(
        &ext("process", "windows-service-ext", json!({"service_dll_refs": [id("process")]})),
        "reference-type",
        "extensions.windows-service-ext.service_dll_refs[0]",
    );
    // Only extensions: still a process with content.
    accepted(
        &json!({"type": "process", "id": id("process"), "extensions": {"windows-service-ext": {"service_name": "s"}}}),
    );
}

#[test]
fn user_account_rules() {
    refused(&json!({"type": "user-account", "id": id("user-account")}), "required-property", "");
    let v = minimal("user-account");
    refused(&set(&v, "is_privileged", json!("yes")), "property-type", "is_privileged");
    refused(&set(&v, "account_expires", json!("never")), "timestamp-format", "account_expires");
    refused(&ext("user-account", "unix-account-ext", json!({})), "required-property", "extensions.unix-account-ext");
    refused(
        &ext("user-account", "unix-account-ext", json!({"gid": "1001"})),
        "property-type",
        "extensions.unix-account-ext.gid",
    );
    accepted(&ext("user-account", "unix-account-ext", json!({"gid": 1001, "groups": ["wheel"], "shell": "/bin/sh"})));
}

#[test]
fn registry_key_rules() {
    refused(&json!({"type": "windows-registry-key", "id": id("windows-registry-key")}), "required-property", "");
    let v = minimal("windows-registry-key");
    refused(&set(&v, "key", json!("HKLM\\Software\\Foo")), "registry-key-hive", "key");
    refused(&set(&v, "key", json!("hkcu")), "registry-key-hive", "key");
    accepted(&set(&v, "key", json!("hkey_local_machine\\system\\bar\\foo")));
    refused(
        &set(&v, "values", json!([{"name": "Foo", "data_type": "REG_STRING"}])),
        "enumeration",
        "values[0].data_type",
    );
    refused(&set(&v, "values", json!([{}])), "required-property", "values[0]");
    accepted(&set(&v, "values", json!([{"name": "", "data": "42", "data_type": "REG_DWORD"}])));
    refused(&set(&v, "creator_user_ref", json!(id("identity"))), "reference-type", "creator_user_ref");
}

#[test]
fn x509_rules() {
    refused(&json!({"type": "x509-certificate", "id": id("x509-certificate")}), "required-property", "");
    let v = minimal("x509-certificate");
    refused(&set(&v, "x509_v3_extensions", json!({})), "required-property", "x509_v3_extensions");
    refused(
        &set(&v, "x509_v3_extensions", json!({"private_key_usage_period_not_after": "2018"})),
        "timestamp-format",
        "x509_v3_extensions.private_key_usage_period_not_after",
    );
    refused(&set(&v, "subject_public_key_exponent", json!("65537")), "property-type", "subject_public_key_exponent");
    accepted(&set(&v, "x509_v3_extensions", json!({"basic_constraints": "critical,CA:TRUE, pathlen:0"})));
}

#[test]
fn address_values() {
    for good in ["198.51.100.3", "10.2.4.5/24", "0.0.0.0/0", "255.255.255.255/32"] {
        accepted(&set(&minimal("ipv4-addr"), "value", json!(good)));
    }
    for bad in ["198.51.100.256", "10.2.4.5/33", "::1", "1.2.3", "01.2.3.4", "1.2.3.4/", "1.2.3.4/024", ""] {
        refused(&set(&minimal("ipv4-addr"), "value", json!(bad)), "ipv4-format", "value");
    }
    for good in ["2001:0db8:85a3:0000:0000:8a2e:0370:7334", "2001:db8::/96", "::1", "fe80::1%eth0", "::ffff:1.2.3.4"] {
        accepted(&set(&minimal("ipv6-addr"), "value", json!(good)));
    }
    for bad in ["198.51.100.3", "2001:db8::/129", "2001:db8:::1", "fe80::1%", "gggg::1"] {
        refused(&set(&minimal("ipv6-addr"), "value", json!(bad)), "ipv6-format", "value");
    }
    for bad in ["D2:FB:49:24:37:18", "d2-fb-49-24-37-18", "2:fb:49:24:37:18", "d2:fb:49:24:37", "d2fb.4924.3718"] {
        refused(&set(&minimal("mac-addr"), "value", json!(bad)), "mac-format", "value");
    }
    refused(&set(&minimal("domain-name"), "value", json!("")), "domain-format", "value");
    refused(&set(&minimal("domain-name"), "value", json!("example .com")), "domain-format", "value");
    warned(&set(&minimal("domain-name"), "value", json!("http://example.com/")), "domain-format", "value");
    refused(
        &set(&minimal("domain-name"), "resolves_to_refs", json!([id("url")])),
        "reference-type",
        "resolves_to_refs[0]",
    );
    refused(&set(&minimal("email-addr"), "value", json!("John Doe <jdoe@example.com>")), "email-format", "value");
    refused(&set(&minimal("email-addr"), "belongs_to_ref", json!(id("identity"))), "reference-type", "belongs_to_ref");
    refused(&set(&minimal("url"), "value", json!("")), "url-format", "value");
    warned(&set(&minimal("url"), "value", json!("example.com/no scheme")), "url-format", "value");
    refused(
        &set(&minimal("ipv4-addr"), "resolves_to_refs", json!([id("domain-name")])),
        "reference-type",
        "resolves_to_refs[0]",
    );
    refused(
        &set(&minimal("ipv6-addr"), "belongs_to_refs", json!([id("identity")])),
        "reference-type",
        "belongs_to_refs[0]",
    );
}

#[test]
fn software_directory_and_as() {
    let sw = minimal("software");
    refused(&set(&sw, "cpe", json!("cpe:/a:microsoft:word:2000")), "cpe-format", "cpe");
    accepted(&set(&sw, "cpe", json!("cpe:2.3:a:microsoft:word:2000:*:*:*:*:*:*:*")));
    accepted(&set(&sw, "cpe", json!("cpe:2.3:a:vendor:prod\\:uct:1.0:*:*:*:*:*:*:*")));
    refused(&set(&sw, "languages", json!(["en", "en_US"])), "language-tag", "languages[1]");
    accepted(&set(&sw, "languages", json!(["en", "zh-Hant-TW", "fra"])));
    refused(&set(&minimal("directory"), "contains_refs", json!([id("url")])), "reference-type", "contains_refs[0]");
    refused(&set(&del(&minimal("directory"), "path"), "path_enc", json!("cp1252")), "dependent-property", "path_enc");
    refused(&set(&minimal("mutex"), "name", json!(["m"])), "property-type", "name");
}

// ---- meta objects ----

fn tlp(level: &str, uuid: &str, name: &str) -> Value {
    json!({"type": "marking-definition", "spec_version": "2.1", "id": format!("marking-definition--{uuid}"),
           "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": name, "definition": {"tlp": level}})
}

#[test]
fn tlp_1_0_markings_are_the_only_tlp_markings() {
    let std = [
        ("white", "613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:WHITE"),
        ("green", "34098fce-860f-48ae-8e50-ebd3cc5e41da", "TLP:GREEN"),
        ("amber", "f88d31f6-486f-44da-b317-01333bde0b82", "TLP:AMBER"),
        ("red", "5e57c739-391a-4eb3-b6be-7d15ca92d5ed", "TLP:RED"),
    ];
    for (level, uuid, name) in std {
        // Accepted, with the deprecation of definition_type reported.
        warned(&tlp(level, uuid, name), "deprecated", "definition_type");
    }
    refused(&tlp("green", UUID, "TLP:GREEN"), "tlp-marking", "id");
    refused(&tlp("green", "613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:GREEN"), "tlp-marking", "id");
    refused(&tlp("purple", "613f2e26-407d-48c7-9eca-b8e91df99dc9", "TLP:PURPLE"), "enumeration", "definition.tlp");
    refused(&set(&tlp("red", std[3].1, "TLP:RED"), "created", json!(T)), "tlp-marking", "created");
    refused(&tlp("red", std[3].1, "TLP:CRIMSON"), "tlp-marking", "name");
    refused(
        &set(&tlp("red", std[3].1, "TLP:RED"), "definition", json!({"level": "red"})),
        "required-property",
        "definition.tlp",
    );
    // STIX 2.0 TLP markings had no name: kept with a warning.
    warned(&del(&tlp("red", std[3].1, "TLP:RED"), "name"), "tlp-marking", "name");
}

#[test]
fn marking_definition_rules() {
    let statement = json!({"type": "marking-definition", "spec_version": "2.1", "id": id("marking-definition"),
                           "created": T, "definition_type": "statement", "definition": {"statement": "Copyright 2019"}});
    warned(&statement, "deprecated", "definition_type");
    refused(&set(&statement, "definition", json!({"text": "x"})), "required-property", "definition.statement");
    refused(&set(&statement, "definition", json!("Copyright")), "property-type", "definition");
    let bare = del(&del(&statement, "definition"), "definition_type");
    refused(&bare, "required-property", "definition_type");
    refused(&bare, "required-property", "definition");
    // Another marking type is allowed (open), with warnings.
    warned(&set(&statement, "definition_type", json!("iep")), "open-vocabulary", "definition_type");
    // A reserved TLP id on another marking.
    let reserved = set(&statement, "id", json!("marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"));
    refused(&reserved, "tlp-marking", "id");
    refused(
        &set(&statement, "object_marking_refs", json!([id("marking-definition")])),
        "circular-marking",
        "object_marking_refs",
    );
    let gm = json!([{"marking_ref": id("marking-definition"), "selectors": ["definition_type"]}]);
    refused(&set(&statement, "granular_markings", gm), "circular-marking", "granular_markings[0].marking_ref");
}

#[test]
fn tlp_2_0_markings() {
    let ext_id = "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d";
    let m = |level: &str| {
        json!({"type": "marking-definition", "spec_version": "2.1", "id": "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421",
               "created": "2022-10-01T00:00:00.000Z", "name": "TLP:AMBER",
               "extensions": {ext_id: {"extension_type": "property-extension", "tlp_2_0": level}}})
    };
    for level in ["clear", "green", "amber", "amber+strict", "red"] {
        assert!(accepted(&m(level)).is_empty());
    }
    refused(&m("pink"), "enumeration", &format!("extensions.{ext_id}.tlp_2_0"));
}

#[test]
fn extension_definition_rules() {
    let v = minimal("extension-definition");
    refused(&set(&v, "extension_types", json!(["new-thing"])), "enumeration", "extension_types[0]");
    refused(&set(&v, "extension_properties", json!(["rank"])), "extension-properties", "extension_properties");
    let top = set(&v, "extension_types", json!(["toplevel-property-extension"]));
    assert!(accepted(&set(&top, "extension_properties", json!(["rank", "toxicity"]))).is_empty());
    warned(&top, "extension-properties", "extension_properties");
    refused(&set(&v, "created_by_ref", json!(id("tool"))), "reference-type", "created_by_ref");
}

#[test]
fn language_content_rules() {
    let v = minimal("language-content");
    refused(&set(&v, "contents", json!({"not a language": {"name": "x"}})), "language-tag", "contents.not a language");
    refused(&set(&v, "contents", json!({"de": "Name"})), "property-type", "contents.de");
    refused(&set(&v, "contents", json!({})), "empty-dictionary", "contents");
    refused(&set(&v, "object_ref", json!(id("bundle"))), "reference-type", "object_ref");
    refused(&set(&v, "object_modified", json!("2017")), "timestamp-format", "object_modified");
    let lists = json!({"de": {"goals": ["Bankgeld stehlen", "Kreditkarten stehlen"]}, "fr": {"goals": ["Voler", ""]}});
    assert!(accepted(&set(&v, "contents", lists)).is_empty());
    warned(&set(&v, "lang", json!("en")), "not-applicable", "lang");
}

#[test]
fn refusals_are_lowercase_and_name_the_property() {
    let cases = [
        (set(&minimal("opinion"), "opinion", json!("maybe")), "opinion"),
        (set(&minimal("sighting"), "count", json!(-1)), "count"),
        (set(&minimal("file"), "size", json!(-1)), "size"),
        (set(&minimal("mac-addr"), "value", json!("X")), "value"),
        (del(&minimal("indicator"), "pattern"), "pattern"),
    ];
    for (v, prop) in cases {
        let Err(e) = check(&v) else { panic!("accepted: {v}") };
        for x in &e.0 {
            assert!(x.message.chars().next().is_some_and(|c| !c.is_uppercase()), "{}", x.message);
            assert!(x.message.contains(prop) || x.path.contains(prop), "{x}");
        }
    }
}

#[test]
fn an_object_that_names_a_property_twice_is_refused_with_the_property_named() {
    let text = format!(
        r#"{{"type":"indicator","spec_version":"2.1","id":"{}","created":"{T}","modified":"{T}","object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"],"pattern":"[ipv4-addr:value = '1.2.3.4']","pattern_type":"stix","valid_from":"{T}","object_marking_refs":["marking-definition--5e57c739-391a-4eb3-b6be-7d15ca92d5ed"]}}"#,
        id("indicator")
    );
    let errors = StixObject::from_compact_json(text.clone().into_bytes(), "$.objects[2]").unwrap_err();
    let e = &errors.0[0];
    assert_eq!(e.rule, "duplicate-property", "{errors}");
    assert_eq!(e.path, "$.objects[2]");
    assert!(e.message.contains("property 'object_marking_refs' appears twice"), "{errors}");
    // The same text with the repeat removed is a valid object.
    let once = text.replacen(r#""object_marking_refs":["marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487"],"#, "", 1);
    assert!(StixObject::from_compact_json(once.into_bytes(), "$.objects[2]").is_ok());
}
