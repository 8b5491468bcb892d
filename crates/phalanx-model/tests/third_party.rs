//! Validates the third-party STIX data in `../shared/data` (see its
//! SOURCES.md) object by object and compares with what OASIS
//! stix2-validator 3.3.2 says about the same files.
//!
//! Every file is split with `stream::split_objects` and each object is
//! checked with `StixObject::from_value`. Files the validator accepts must
//! give zero errors; the known-invalid files must be refused exactly where
//! listed. A STIX bundle under the data directory that is in neither list
//! fails the test, so new data gets looked at.

use phalanx_model::StixObject;
use phalanx_model::stream::{Item, Limits, split_objects};
use serde_json::Value;
use std::collections::BTreeMap;
use std::io::BufReader;
use std::path::{Path, PathBuf};

/// Files stix2-validator 3.3.2 (`--version 2.1`) accepts with no error.
const VALID: &[&str] = &[
    "mitre-attack-stix-data/ics-attack/ics-attack.json",
    "oasis-cti-documentation/examples/example_json/apt1.json",
    "oasis-cti-documentation/examples/example_json/defining-campaigns-threat-actors-intrusion-sets.json",
    "oasis-cti-documentation/examples/example_json/identifying-a-threat-actor-profile.json",
    "oasis-cti-documentation/examples/example_json/indicator-for-malicious-url.json",
    "oasis-cti-documentation/examples/example_json/malware-indicator-for-file-hash.json",
    "oasis-cti-documentation/examples/example_json/poisonivy.json",
    "oasis-cti-documentation/examples/example_json/sighting-of-an-indicator.json",
    "oasis-cti-documentation/examples/example_json/sighting-of-observed-data.json",
    "oasis-cti-documentation/examples/example_json/threat-actor-leveraging-attack-patterns-and-malware.json",
    "oasis-cti-documentation/examples/example_json/using-granular-markings.json",
    "oasis-cti-documentation/examples/example_json/using-marking-definitions.json",
    "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/identity.json",
    "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/identity_custom.json",
    "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/identity_unicode.json",
    "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/identity_warning.json",
    "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/tlp-amber.json",
    "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/tool.json",
    "oasis-cti-stix2-json-schemas/examples/indicator-for-c2-ip-address.json",
    "oasis-cti-stix2-json-schemas/examples/indicator-to-campaign-relationship.json",
    "oasis-cti-stix2-json-schemas/examples/indicators-for-C2-with-COA.json",
    "oasis-cti-stix2-json-schemas/examples/infrastructure.json",
    "oasis-cti-stix2-json-schemas/examples/interop-objectmarking-test.json",
    "oasis-cti-stix2-json-schemas/examples/malicious-email-indicator-with-attachment.json",
    "oasis-cti-stix2-json-schemas/examples/threat-reports/apt1.json",
    "oasis-cti-stix2-json-schemas/examples/threat-reports/poisonivy.json",
];

/// Files the validator refuses, with what we must refuse in them.
const INVALID: &[(&str, Expect)] = &[
    // Upstream data is not clean (SOURCES.md): three artifacts carry a
    // `payload_bin` that is not base64, which is what the validator
    // reports. Besides, 70 SCOs carry UUIDv5 ids that are not the
    // deterministic id of their contributing properties (python-stix2
    // itself computes different ones); the common id rule refuses those.
    (
        "oasis-cti-python-stix2/sco-examples-bundle.json",
        Expect::Refused {
            type_rules: &[("$[6]", "binary-format"), ("$[7]", "binary-format"), ("$[20]", "binary-format")],
            sco_id_only: 70,
        },
    ),
    ("oasis-cti-stix-validator/stix2validator/test/v21/test_examples/invalid_braces.json", Expect::Unreadable),
    ("oasis-cti-stix-validator/stix2validator/test/v21/test_examples/invalid_comma.json", Expect::Unreadable),
    (
        "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/invalid_identity.json",
        Expect::Refused { type_rules: &[("line 1", "required-property")], sco_id_only: 0 },
    ),
    (
        "oasis-cti-stix-validator/stix2validator/test/v21/test_examples/invalid_timestamp.json",
        Expect::Refused { type_rules: &[("line 1", "modified-before-created")], sco_id_only: 0 },
    ),
    // A STIX 2.0 bundle: its objects have no spec_version (the validator
    // in 2.1 mode stops with a fatal error).
    (
        "pymisp-tests/tests/stix2.json",
        Expect::Refused {
            type_rules: &[
                ("$.objects[0]", "required-property"),
                ("$.objects[1]", "required-property"),
                ("$.objects[2]", "required-property"),
            ],
            sco_id_only: 0,
        },
    ),
];

/// What a known-invalid file must give.
enum Expect {
    /// The input is not JSON: the splitter stops with an error.
    Unreadable,
    /// Exactly the `type_rules` objects are refused for a reason other
    /// than the deterministic-id rule, each with at least the given rule
    /// among its errors: (JSON path of the object, rule). Exactly
    /// `sco_id_only` more objects are refused only by the `sco-id` rule.
    Refused { type_rules: &'static [(&'static str, &'static str)], sco_id_only: usize },
}

/// Files that are not STIX content, skipped: MISP events and lists, Zeek
/// logs, JSON schemas (the validator's `test_schemas` are the custom
/// schemas its tests load; `x-foo-bar.json` there is deliberately broken
/// JSON to test schema loading, not a STIX object).
fn is_not_stix(rel: &str) -> bool {
    rel.starts_with("pymisp-tests/") && rel != "pymisp-tests/tests/stix2.json"
        || rel.starts_with("misp-warninglists/")
        || rel.starts_with("zeek-wrccdc-2018/")
        || rel.starts_with("oasis-cti-stix-validator/stix2validator/test/v21/test_schemas/")
        || rel.starts_with("oasis-cti-stix2-json-schemas/interop/")
        || rel == "mitre-attack-stix-data/index.json"
}

#[derive(Default, Debug)]
struct Outcome {
    objects: usize,
    accepted: usize,
    warnings: usize,
    /// Refused objects: path -> rules of their errors.
    refused: BTreeMap<String, Vec<String>>,
    first_errors: Vec<String>,
    stream_error: Option<String>,
}

fn run_file(path: &Path) -> Outcome {
    let mut out = Outcome::default();
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) => panic!("cannot open {}: {e}", path.display()),
    };
    let mut items = Vec::new();
    let res = split_objects(BufReader::new(file), &Limits::default(), &mut |item| items.push(item));
    if let Err(e) = res {
        out.stream_error = Some(e.to_string());
    }
    for item in items {
        let Item::Object { path, bytes, .. } = item else { panic!("object too large in {}", path.display()) };
        out.objects += 1;
        let value: Value = match serde_json::from_slice(&bytes) {
            Ok(v) => v,
            Err(e) => {
                out.refused.insert(path.clone(), vec!["json-syntax".into()]);
                out.first_errors.push(format!("{path}: {e}"));
                continue;
            }
        };
        match StixObject::from_value(value, &path) {
            Ok(parsed) => {
                out.accepted += 1;
                out.warnings += parsed.warnings.len();
                if std::env::var_os("SHOW_WARNINGS").is_some() {
                    for w in &parsed.warnings {
                        println!("    warning {w}");
                    }
                }
            }
            Err(errors) => {
                if out.first_errors.len() < 12 {
                    out.first_errors.extend(errors.0.iter().map(|e| e.to_string()));
                }
                out.refused.insert(path, errors.0.iter().map(|e| e.rule.to_owned()).collect());
            }
        }
    }
    out
}

fn json_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    let mut entries: Vec<_> = entries.filter_map(Result::ok).map(|e| e.path()).collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            json_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "json") {
            out.push(p);
        }
    }
}

/// Whether a file looks like STIX content: a bundle, or a list or object
/// of things with `type` and `id`.
fn looks_like_stix(path: &Path) -> bool {
    let Ok(text) = std::fs::read(path) else { return false };
    let Ok(v) = serde_json::from_slice::<Value>(&text) else { return false };
    let stixy = |o: &Value| o.get("type").is_some_and(Value::is_string) && o.get("id").is_some_and(Value::is_string);
    match &v {
        Value::Object(m) => m.get("type").and_then(Value::as_str) == Some("bundle") || stixy(&v),
        Value::Array(a) => a.first().is_some_and(stixy),
        _ => false,
    }
}

#[test]
fn third_party_data_matches_stix2_validator() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../shared/data");
    if !data.is_dir() {
        println!("skipped: ../shared/data not found ({})", data.display());
        return;
    }
    let mut files = Vec::new();
    json_files(&data, &mut files);
    let mut problems = Vec::new();
    let (mut n_valid, mut n_invalid, mut n_skipped, mut n_objects) = (0, 0, 0, 0);
    for path in &files {
        let rel = path.strip_prefix(&data).unwrap_or(path).to_string_lossy().replace('\\', "/");
        let expect = INVALID.iter().find(|(f, _)| *f == rel).map(|(_, e)| e);
        if !VALID.contains(&rel.as_str()) && expect.is_none() {
            if is_not_stix(&rel) {
                n_skipped += 1;
            } else if looks_like_stix(path) {
                problems.push(format!("{rel}: stix content in neither VALID nor INVALID; classify it"));
            } else {
                n_skipped += 1;
            }
            continue;
        }
        let out = run_file(path);
        n_objects += out.objects;
        println!(
            "{rel}: {} objects, {} accepted, {} refused, {} warnings{}",
            out.objects,
            out.accepted,
            out.refused.len(),
            out.warnings,
            out.stream_error.as_deref().map(|e| format!(", unreadable: {e}")).unwrap_or_default()
        );
        let mut id_only = 0;
        for (p, rules) in &out.refused {
            if rules.iter().all(|r| r == "sco-id") {
                id_only += 1;
            } else {
                println!("    refused {p}: {}", rules.join(", "));
            }
        }
        if id_only > 0 {
            println!("    {id_only} more refused only for sco-id (a uuidv5 id that is not the deterministic one)");
        }
        match expect {
            None => {
                n_valid += 1;
                if let Some(e) = &out.stream_error {
                    problems.push(format!("{rel}: valid per stix2-validator but unreadable: {e}"));
                }
                if !out.refused.is_empty() {
                    problems.push(format!("{rel}: valid per stix2-validator but refused: {:#?}", out.first_errors));
                }
                if out.objects == 0 {
                    problems.push(format!("{rel}: no objects found"));
                }
            }
            Some(Expect::Unreadable) => {
                n_invalid += 1;
                if out.stream_error.is_none() && out.refused.is_empty() {
                    problems.push(format!("{rel}: invalid json but read without error"));
                }
            }
            Some(Expect::Refused { type_rules, sco_id_only }) => {
                n_invalid += 1;
                let mut got: Vec<&str> = Vec::new();
                let mut id_only = 0;
                for (p, rules) in &out.refused {
                    if rules.iter().all(|r| r == "sco-id") {
                        id_only += 1;
                    } else {
                        got.push(p);
                    }
                }
                let mut want: Vec<&str> = type_rules.iter().map(|(p, _)| *p).collect();
                want.sort_unstable();
                got.sort_unstable();
                if got != want {
                    problems.push(format!("{rel}: refused {got:?}, expected exactly {want:?}"));
                }
                if id_only != *sco_id_only {
                    problems.push(format!("{rel}: {id_only} objects refused only for sco-id, expected {sco_id_only}"));
                }
                for (p, rule) in *type_rules {
                    if let Some(rules) = out.refused.get(*p)
                        && !rules.iter().any(|r| r == rule)
                    {
                        problems.push(format!("{rel}: {p} refused for {rules:?}, expected rule {rule}"));
                    }
                }
                if out.stream_error.is_some() {
                    problems.push(format!("{rel}: unexpectedly unreadable"));
                }
            }
        }
    }
    println!(
        "third-party data: {n_valid} valid files, {n_invalid} invalid files, {n_objects} objects, {n_skipped} non-stix files skipped"
    );
    assert!(problems.is_empty(), "{}", problems.join("\n"));
    assert_eq!(n_valid, VALID.len(), "a VALID file is missing from the data directory");
    assert_eq!(n_invalid, INVALID.len(), "an INVALID file is missing from the data directory");
}
