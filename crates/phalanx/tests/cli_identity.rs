//! Organisations, users, tokens, `--as` and the audit log through the real
//! binary: the output contracts scripts rely on (`org add` prints the id,
//! `user add` and `token new` the token, alone on the last line), input
//! checks that name the flag and write nothing, the read rule on `get` and
//! `export` for the named cases of the spec, audited classified reads, and
//! `audit verify` against a tampered database.
//!
//! An anonymous reader cannot be reached from the command line (every
//! command acts as a user); the anonymous cases of the read rule are
//! covered by the phalanx-labels read-rule table and the store test suite.

use crate::common::{Node, last_line, stderr, stdout, text};
use phalanx_auth::AuthError;
use phalanx_store::{Registry, SqliteStore};
use serde_json::{Value, json};
use std::collections::BTreeSet;

const EXERCISE: &str = "cyber-europe-2026";

/// Whether `s` is `identity--<lowercase uuid>`.
fn is_identity(s: &str) -> bool {
    phalanx_labels::is_identity_id(s)
}

/// Whether `s` is a token secret: `phx_` + 64 lowercase hex digits.
fn is_token(s: &str) -> bool {
    s.strip_prefix("phx_").is_some_and(|h| h.len() == 64 && h.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)))
}

fn node() -> Node {
    Node::init(&["--org-name", "CERT-EU", "--member-of", "EU,NATO"])
}

fn org_add(node: &Node, args: &[&str]) -> String {
    let mut all = vec!["org", "add"];
    all.extend_from_slice(args);
    let out = node.ok(&all);
    let id = last_line(&out).to_owned();
    assert!(is_identity(&id), "last line of `org add` is not an id: {out}");
    id
}

fn user_add(node: &Node, args: &[&str]) -> String {
    let mut all = vec!["user", "add"];
    all.extend_from_slice(args);
    let out = node.ok(&all);
    let token = last_line(&out).to_owned();
    assert!(is_token(&token), "last line of `user add` is not a token: {out}");
    token
}

fn store(node: &Node) -> SqliteStore {
    SqliteStore::open(node.data()).expect("open store")
}

/// Everything a script could see of the registry and the store, to show
/// that a refused command wrote nothing.
fn snapshot(node: &Node) -> String {
    let audit = node.ok(&["audit", "show"]);
    format!("{}{}{}{}", node.ok(&["org", "list"]), node.ok(&["user", "list"]), node.ok(&["stats"]), audit)
}

#[test]
fn org_add_prints_the_id_last_stores_a_stix_identity_and_takes_name_or_id() {
    let node = node();
    let ee = org_add(&node, &["--name", "CERT-EE", "--country", "est", "--member-of", "EU,nato", "--kind", "national-csirt"]);
    // Parent by name (any case) and by id.
    let bank = org_add(&node, &["--name", "EE Bank", "--country", "EST", "--parent", "cert-ee", "--kind", "private-sector"]);
    let grid = org_add(&node, &["--name", "EE Grid", "--parent", &ee]);
    let list = node.ok(&["org", "list"]);
    assert_eq!(list.lines().next(), Some("ID\tNAME\tKIND\tCOUNTRY\tMEMBER-OF\tPARENT"));
    assert!(list.contains(&format!("{ee}\tCERT-EE\tnational-csirt\tEST\tEU,NATO\t-")), "{list}");
    assert!(list.contains(&format!("{bank}\tEE Bank\tprivate-sector\tEST\t-\tCERT-EE")), "{list}");
    assert!(list.contains(&format!("{grid}\tEE Grid\tother\t-\t-\tCERT-EE")), "{list}");

    // The same id names a STIX identity in the object store, TLP:GREEN.
    let shown = node.run(&["get", &bank]);
    assert!(shown.status.success(), "{}", text(&shown));
    let identity: Value = serde_json::from_slice(&shown.stdout).expect("json");
    assert_eq!(identity["type"], "identity");
    assert_eq!(identity["identity_class"], "organization");
    assert_eq!(identity["name"], "EE Bank");
    assert_eq!(identity["object_marking_refs"], json!([phalanx_labels::TLP2_GREEN]));
    let ext = &identity["extensions"][phalanx_auth::ORGANISATION_EXTENSION_ID];
    assert_eq!(ext, &json!({"extension_type": "property-extension", "country": "EST", "parent_ref": ee, "kind": "private-sector"}));
    assert!(stderr(&shown).contains("label: UNCLASSIFIED"), "{}", stderr(&shown));
    // The node's own organisation too, and the extension definition travels in exports.
    let registry = store(&node);
    let node_org = registry.find_organisation("CERT-EU").unwrap().unwrap();
    node.ok(&["get", &node_org.org.id]);
    let bundle: Value = serde_json::from_str(&node.ok(&["export"])).expect("bundle");
    let ids: BTreeSet<&str> = bundle["objects"].as_array().unwrap().iter().filter_map(|o| o["id"].as_str()).collect();
    for id in [ee.as_str(), &bank, &grid, &node_org.org.id, phalanx_auth::ORGANISATION_EXTENSION_ID] {
        assert!(ids.contains(id), "{id} not exported");
    }

    // ORG by id and by name for `user add`.
    user_add(&node, &["--org", &ee, "--name", "ee-by-id"]);
    user_add(&node, &["--org", "ee bank", "--name", "bank-by-name"]);
    let users = registry.users().unwrap();
    let org_of = |name: &str| users.iter().find(|u| u.name == name).map(|u| u.org_id.clone());
    assert_eq!(org_of("ee-by-id"), Some(ee.clone()));
    assert_eq!(org_of("bank-by-name"), Some(bank.clone()));

    let audit = node.ok(&["audit", "show"]);
    assert_eq!(audit.lines().filter(|l| l.contains("\torg-created\t")).count(), 4, "{audit}");
    assert_eq!(audit.lines().filter(|l| l.contains("\tuser-created\t")).count(), 3, "{audit}");
}

#[test]
fn user_add_prints_a_token_alone_last_keeps_only_hashes_and_sets_an_argon2id_password() {
    let node = node();
    let out = node.run_with_stdin(
        &["user", "add", "--org", "CERT-EU", "--name", "alice", "--role", "analyst", "--clearance", "secret",
          "--briefed", "EU,nato,national:ltu", "--caveat", "ATOMAL", "--caveat", "CASE-2026-0042", "--password-stdin"],
        Some("correct horse battery staple\n"),
    );
    assert!(out.status.success(), "{}", text(&out));
    let token = last_line(&stdout(&out)).to_owned();
    assert!(is_token(&token), "{}", text(&out));

    let list = node.ok(&["user", "list"]);
    assert!(!list.contains(&token) && !list.contains(&token[4..20]), "a secret is listed: {list}");
    assert!(
        list.contains("alice\tCERT-EU\tanalyst\tSECRET\tEU,NATO,NATIONAL:LTU\tATOMAL,CASE-2026-0042\tyes\tactive"),
        "{list}"
    );

    let registry = store(&node);
    let alice = registry.find_user("alice").unwrap().unwrap();
    let phc = alice.password_hash.clone().expect("password set");
    assert!(phc.starts_with("$argon2id$v=19$"), "{phc}");
    assert!(!phc.contains("correct horse"));
    // The same library the HTTP server uses accepts both credentials.
    let by_password = phalanx_auth::authenticate_password(&registry, "alice", "correct horse battery staple").unwrap();
    assert_eq!(by_password.user.name, "alice");
    assert!(matches!(phalanx_auth::authenticate_password(&registry, "alice", "wrong"), Err(AuthError::BadPassword)));
    let by_token = phalanx_auth::authenticate_token(&registry, &token).unwrap();
    assert_eq!(by_token.user.id, alice.id);
    let tokens = registry.tokens_of(&alice.id).unwrap();
    assert_eq!(tokens.len(), 1);
    assert_eq!(tokens[0].secret_hash, phalanx_auth::hash_token(&token));
    assert!(list.contains(&format!("  token {}\tcreated ", tokens[0].id)), "{list}");

    // The database holds no secret at all.
    let db = std::fs::read(node.data().join("phalanx.sqlite")).unwrap();
    let wal = std::fs::read(node.data().join("phalanx.sqlite-wal")).unwrap_or_default();
    for bytes in [&db, &wal] {
        let hay = String::from_utf8_lossy(bytes);
        assert!(!hay.contains(&token) && !hay.contains("correct horse"), "a secret is stored in clear");
    }
    let audit = node.ok(&["audit", "show"]);
    assert!(audit.contains("\tlogin\talice\t") && audit.contains("\tlogin-failed\talice\t"), "{audit}");
}

#[test]
fn token_new_and_revoke_follow_their_contracts() {
    let node = node();
    user_add(&node, &["--org", "CERT-EU", "--name", "bob"]);
    let out = node.ok(&["token", "new", "--user", "bob", "--expires-in", "30"]);
    let secret = last_line(&out).to_owned();
    assert!(is_token(&secret), "{out}");
    let registry = store(&node);
    let bob = registry.find_user("bob").unwrap().unwrap();
    let token = registry.token_by_hash(&phalanx_auth::hash_token(&secret)).unwrap().expect("stored");
    let days = (token.expires.expect("expiry").unix_secs() - token.created.unix_secs()) as f64 / 86_400.0;
    assert!((days - 30.0).abs() < 0.01, "{days}");
    assert!(node.ok(&["user", "list"]).contains(&format!("  token {}\tcreated {}\texpires {}\trevoked no", token.id, token.created, token.expires.unwrap())));

    // A user makes its own token; another viewer may not.
    user_add(&node, &["--org", "CERT-EU", "--name", "carol"]);
    assert!(is_token(last_line(&node.ok(&["token", "new", "--user", "bob", "--as", "bob"]))));
    assert!(node.fails(&["token", "new", "--user", "bob", "--as", "carol"]).contains("--as: user 'carol' may not make tokens for 'bob'"));

    let out = node.ok(&["token", "revoke", &token.id]);
    assert_eq!(out, format!("revoked token {} of user 'bob'\n", token.id));
    assert!(node.ok(&["user", "list"]).contains(&format!("  token {}\tcreated {}\texpires {}\trevoked 2", token.id, token.created, token.expires.unwrap())));
    assert!(matches!(phalanx_auth::authenticate_token(&registry, &secret), Err(AuthError::Revoked { .. })));
    assert!(node.fails(&["token", "revoke", &token.id]).contains(&format!("no live token '{}'", token.id)));
    assert!(node.fails(&["token", "revoke", &secret]).contains("not its secret"));
    let audit = node.ok(&["audit", "show"]);
    assert!(audit.contains(&format!("\tuser:admin\ttoken-revoked\tbob\t{{\"token\":\"{}\"}}", token.id)), "{audit}");
    assert_eq!(audit.lines().filter(|l| l.contains("\ttoken-created\tbob\t")).count(), 3, "{audit}");
    assert!(!audit.contains(&secret));
    let _ = bob;
}

#[test]
fn bad_inputs_are_refused_naming_the_flag_and_write_nothing() {
    let node = node();
    org_add(&node, &["--name", "CERT-EE", "--country", "EST", "--member-of", "EU,NATO"]);
    user_add(&node, &["--org", "CERT-EE", "--name", "viewer"]);
    let before = snapshot(&node);
    let cases: &[(&[&str], Option<&str>, &str)] = &[
        (&["org", "add", "--name", "X", "--country", "LT"], None, "--country: 'LT' is not an ISO 3166 alpha-3 code"),
        (&["org", "add", "--name", "X", "--country", "QQQ"], None, "--country: 'QQQ' is not an ISO 3166 alpha-3 code"),
        (&["org", "add", "--name", "X", "--parent", "Nowhere"], None, "--parent: no organisation named 'Nowhere'"),
        (&["org", "add", "--name", "cert-ee"], None, "--name: an organisation named 'CERT-EE' already exists"),
        (&["org", "add", "--name", " "], None, "--name: must not be empty"),
        (&["org", "add", "--name", "X", "--member-of", "EU,LVA"], None, "--member-of: 'LVA' is a country code"),
        (&["org", "add", "--name", "X", "--member-of", "EU,,NATO"], None, "--member-of: must not be empty"),
        (&["org", "add", "--name", "X", "--kind", "bank"], None, "--kind: 'bank' is not a kind"),
        (&["org", "add", "--name", "X", "--as", "viewer"], None, "--as: user 'viewer' has the role viewer and may not register organisations"),
        (&["org", "add", "--name", "X", "--as", "ghost"], None, "--as: no user named 'ghost'"),
        (&["user", "add", "--org", "Nowhere", "--name", "u"], None, "--org: no organisation named 'Nowhere'"),
        (&["user", "add", "--org", "CERT-EE", "--name", "viewer"], None, "--name: a user named 'viewer' already exists"),
        (&["user", "add", "--org", "CERT-EE", "--name", "bad name"], None, "--name: 'bad name' is not a user name"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--clearance", "cosmic"], None, "--clearance: 'cosmic' is not a clearance"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--role", "root"], None, "--role: unknown role 'root'"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--briefed", "EU,UN"], None, "--briefed: 'UN' is not a policy"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--briefed", "NATIONAL:XX"], None, "--briefed: 'NATIONAL:XX' is not a policy"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--briefed", "UNCLASSIFIED"], None, "--briefed: 'UNCLASSIFIED' is not a policy"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--caveat", "A B"], None, "--caveat: 'A B' must not contain whitespace"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--password-stdin"], Some("short\n"), "--password-stdin: the password is shorter than 12 characters"),
        (&["user", "add", "--org", "CERT-EE", "--name", "u", "--as", "viewer"], None, "--as: user 'viewer' has the role viewer and may not create"),
        (&["token", "new", "--user", "ghost"], None, "--user: no user named 'ghost'"),
        (&["token", "new", "--user", "viewer", "--expires-in", "0"], None, "--expires-in: 0 is not a number of days"),
        (&["token", "revoke", "tok_0000000000000000"], None, "no live token 'tok_0000000000000000'"),
        (&["audit", "show", "--since", "yesterday"], None, "--since: 'yesterday' is neither an entry number nor a timestamp"),
        (&["audit", "verify", "--as", "viewer"], None, "--as: user 'viewer' has the role viewer and may not read the audit log"),
    ];
    for (args, stdin, expected) in cases {
        let out = node.run_with_stdin(args, *stdin);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out));
        let err = stderr(&out);
        assert!(err.starts_with("phalanx: error: ") && err.contains(expected), "{args:?}: want '{expected}', got {err}");
        assert!(stdout(&out).is_empty(), "{args:?} printed {}", stdout(&out));
    }
    assert_eq!(snapshot(&node), before, "a refused command wrote something");
}

#[test]
fn roles_limit_management_but_an_org_admin_manages_its_own_organisation() {
    let node = node();
    org_add(&node, &["--name", "CERT-EE", "--country", "EST"]);
    org_add(&node, &["--name", "CERT-LV", "--country", "LVA"]);
    user_add(&node, &["--org", "CERT-EE", "--name", "ee-admin", "--role", "org-admin"]);
    user_add(&node, &["--org", "CERT-EE", "--name", "ee-user", "--as", "ee-admin"]);
    assert!(node.fails(&["user", "add", "--org", "CERT-LV", "--name", "lv-user", "--as", "ee-admin"]).contains("--as:"));
    assert!(node.fails(&["user", "add", "--org", "CERT-EE", "--name", "root2", "--role", "node-admin", "--as", "ee-admin"]).contains("--as:"));
    user_add(&node, &["--org", "CERT-LV", "--name", "lv-user"]);
    // An org-admin lists its organisation's users; a viewer itself only.
    let listed = |who: &str| -> Vec<String> {
        node.ok(&["user", "list", "--as", who]).lines().skip(1).filter(|l| !l.starts_with(' ')).map(|l| l.split('\t').next().unwrap().to_owned()).collect()
    };
    assert_eq!(listed("ee-admin"), ["ee-admin", "ee-user"]);
    assert_eq!(listed("ee-user"), ["ee-user"]);
    assert_eq!(listed("admin"), ["admin", "ee-admin", "ee-user", "lv-user"]);
    let audit = node.ok(&["audit", "show"]);
    assert!(audit.contains("\tuser:ee-admin\tuser-created\tee-user\t"), "{audit}");
}

/// A bundle with one indicator.
fn indicator(id: &str, name: &str) -> String {
    json!({"type": "bundle", "id": "bundle--5d0092c5-5f74-4ee0-9f25-1a1c1e4d0c0a", "objects": [{
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-03-01T00:00:00.000Z", "modified": "2026-03-01T00:00:00.000Z", "name": name,
        "pattern": "[domain-name:value = 'evil.example']", "pattern_type": "stix",
        "valid_from": "2026-03-01T00:00:00Z"
    }]})
    .to_string()
}

/// Imports one indicator as `writer` with a default TLP and label.
fn write_object(node: &Node, id: &str, tlp: &str, label: Value, exercise: Option<&str>) {
    let file = node.data().join(format!("{id}.json"));
    std::fs::write(&file, indicator(id, "case object")).unwrap();
    let label = label.to_string();
    let mut args = vec!["import", "--as", "writer", "--default-tlp", tlp, "--default-label", &label];
    if let Some(e) = exercise {
        args.extend(["--exercise", e]);
    }
    args.push(file.to_str().unwrap());
    let out = node.ok(&args);
    assert!(out.contains("stored 1, unchanged 0, refused 0"), "{out}");
}

/// Whether `user` can `get` `id` in `exercise`; a refusal must read exactly
/// like the answer for an object that does not exist.
fn can_get(node: &Node, user: &str, exercise: Option<&str>, id: &str) -> bool {
    let mut args = vec!["get", "--as", user];
    if let Some(e) = exercise {
        args.extend(["--exercise", e]);
    }
    args.push(id);
    let out = node.run(&args);
    if out.status.success() {
        return true;
    }
    let missing = "indicator--00000000-0000-4000-8000-000000000000";
    let mut args_missing = args.clone();
    *args_missing.last_mut().unwrap() = missing;
    let absent = node.run(&args_missing);
    assert_eq!(out.status.code(), absent.status.code());
    assert_eq!(out.stdout, absent.stdout);
    assert_eq!(stderr(&out).replace(id, missing), stderr(&absent), "a refusal must look like a missing object");
    false
}

/// The ids `user` exports in `exercise`.
fn exported(node: &Node, user: &str, exercise: Option<&str>) -> BTreeSet<String> {
    let mut args = vec!["export", "--as", user];
    if let Some(e) = exercise {
        args.extend(["--exercise", e]);
    }
    let bundle: Value = serde_json::from_str(&node.ok(&args)).expect("bundle");
    bundle["objects"].as_array().unwrap().iter().filter_map(|o| o["id"].as_str().map(str::to_owned)).collect()
}

#[test]
fn the_read_rule_cases_of_the_spec_hold_through_get_and_export() {
    let node = node();
    let lt = org_add(&node, &["--name", "CERT-LT", "--country", "LTU", "--member-of", "EU,NATO", "--kind", "national-csirt"]);
    let ee = org_add(&node, &["--name", "CERT-EE", "--country", "EST", "--member-of", "EU,NATO", "--kind", "national-csirt"]);
    org_add(&node, &["--name", "EE Bank", "--country", "EST", "--parent", "CERT-EE", "--kind", "private-sector"]);
    let _ = lt;
    let cleared = ["--clearance", "SECRET", "--briefed", "EU,NATO"];
    user_add(&node, &["--org", "CERT-EU", "--name", "writer", "--role", "analyst", "--clearance", "TOP_SECRET", "--briefed", "EU,NATO", "--caveat", "ATOMAL"]);
    user_add(&node, &[&["--org", "CERT-LT", "--name", "lt"][..], &cleared].concat());
    user_add(&node, &[&["--org", "CERT-EE", "--name", "ee"][..], &cleared].concat());
    user_add(&node, &["--org", "CERT-EE", "--name", "ee-nato", "--clearance", "SECRET", "--briefed", "NATO"]);
    user_add(&node, &[&["--org", "CERT-EE", "--name", "ee-atomal", "--caveat", "ATOMAL"][..], &cleared].concat());
    user_add(&node, &[&["--org", "EE Bank", "--name", "bank"][..], &cleared].concat());

    let uncl = |rel: &[&str]| json!({"policy": "UNCLASSIFIED", "classification": "UNCLASSIFIED", "releasable_to": rel});
    let red = "indicator--1a000000-0000-4000-8000-000000000001";
    let amber = "indicator--1a000000-0000-4000-8000-000000000002";
    let strict = "indicator--1a000000-0000-4000-8000-000000000003";
    let eu_secret = "indicator--1a000000-0000-4000-8000-000000000004";
    let rel_ltu = "indicator--1a000000-0000-4000-8000-000000000005";
    let caveat = "indicator--1a000000-0000-4000-8000-000000000006";
    let exercise = "indicator--1a000000-0000-4000-8000-000000000007";
    write_object(&node, red, "red", uncl(&[&ee]), None);
    write_object(&node, amber, "amber", uncl(&[&ee]), None);
    write_object(&node, strict, "amber+strict", uncl(&[&ee]), None);
    write_object(&node, eu_secret, "green", json!({"policy": "EU", "classification": "SECRET"}), None);
    write_object(&node, rel_ltu, "green", json!({"policy": "EU", "classification": "RESTRICTED", "releasable_to": ["LTU"]}), None);
    write_object(&node, caveat, "green", json!({"policy": "EU", "classification": "SECRET", "caveats": ["ATOMAL"]}), None);
    write_object(&node, exercise, "green", json!({"policy": "UNCLASSIFIED", "classification": "UNCLASSIFIED", "exercise": EXERCISE}), Some(EXERCISE));

    // (case, user, exercise context, object, readable)
    let table: &[(&str, &str, Option<&str>, &str, bool)] = &[
        ("tlp:red to a named organisation: that organisation reads", "ee", None, red, true),
        ("tlp:red to a named organisation: another of the same groups does not", "lt", None, red, false),
        ("tlp:red to a named organisation: its client does not", "bank", None, red, false),
        ("tlp:amber to an organisation: it reads", "ee", None, amber, true),
        ("tlp:amber to an organisation: its client (parent) reads", "bank", None, amber, true),
        ("tlp:amber to an organisation: a stranger does not", "lt", None, amber, false),
        ("tlp:amber+strict: the organisation reads", "ee", None, strict, true),
        ("tlp:amber+strict: not its client", "bank", None, strict, false),
        ("eu secret: eu-briefed secret clearance reads", "ee", None, eu_secret, true),
        ("eu secret: a nato-only briefing does not", "ee-nato", None, eu_secret, false),
        ("rel to ltu: an ltu organisation reads", "lt", None, rel_ltu, true),
        ("rel to ltu: an est organisation does not", "ee", None, rel_ltu, false),
        ("caveat atomal: a holder reads", "ee-atomal", None, caveat, true),
        ("caveat atomal: a missing caveat refuses", "ee", None, caveat, false),
        ("exercise object: not in the real world", "ee", None, exercise, false),
        ("exercise object: in its exercise", "ee", Some(EXERCISE), exercise, true),
        ("exercise context: real-world data is not in the exercise", "ee", Some(EXERCISE), amber, false),
        ("a node admin without clearance: no eu secret, even of its own organisation", "admin", None, eu_secret, false),
        ("a node admin without clearance: no caveat object", "admin", None, caveat, false),
        ("the writer reads what it wrote", "writer", None, caveat, true),
    ];
    let mut exports = std::collections::HashMap::new();
    for (case, user, context, id, readable) in table {
        assert_eq!(can_get(&node, user, *context, id), *readable, "get: {case}");
        let ids = exports.entry((*user, *context)).or_insert_with(|| exported(&node, user, *context));
        assert_eq!(ids.contains(*id), *readable, "export: {case}");
    }
    // A user without clearance exports nothing classified.
    user_add(&node, &["--org", "CERT-EE", "--name", "uncleared", "--briefed", "EU,NATO"]);
    let ids = exported(&node, "uncleared", None);
    for id in [eu_secret, rel_ltu, caveat] {
        assert!(!ids.contains(id), "{id} exported to an uncleared user");
    }
    assert!(ids.contains(amber), "tlp:amber unclassified to CERT-EE is readable");
}

#[test]
fn reads_of_restricted_and_above_are_audited_with_actor_id_and_label() {
    let node = node();
    user_add(&node, &["--org", "CERT-EU", "--name", "writer", "--role", "analyst", "--clearance", "SECRET", "--briefed", "EU"]);
    let secret = "indicator--2b000000-0000-4000-8000-000000000001";
    let open = "indicator--2b000000-0000-4000-8000-000000000002";
    write_object(&node, secret, "amber", json!({"policy": "EU", "classification": "RESTRICTED"}), None);
    write_object(&node, open, "green", json!({"policy": "UNCLASSIFIED", "classification": "UNCLASSIFIED"}), None);
    let reads = |node: &Node| -> Vec<String> {
        node.ok(&["audit", "show"]).lines().filter(|l| l.split('\t').nth(3) == Some("read")).map(str::to_owned).collect()
    };
    assert!(reads(&node).is_empty());
    node.ok(&["get", "--as", "writer", secret]);
    node.ok(&["get", "--as", "writer", open]);
    assert!(!can_get(&node, "admin", None, secret));
    let after_get = reads(&node);
    assert_eq!(after_get.len(), 1, "{after_get:?}");
    let fields: Vec<&str> = after_get[0].split('\t').collect();
    assert_eq!(&fields[2..5], ["user:writer", "read", secret]);
    let details: Value = serde_json::from_str(fields[5]).unwrap();
    assert_eq!(details["via"], "get");
    assert_eq!(details["label"], "RESTREINT UE/EU RESTRICTED");
    assert_eq!(details["classification"], "RESTRICTED");
    assert_eq!(details["tlp"], "amber");

    node.ok(&["export", "--as", "writer"]);
    node.ok(&["export", "--as", "admin"]);
    let after_export = reads(&node);
    assert_eq!(after_export.len(), 2, "{after_export:?}");
    assert!(after_export[1].contains("\tuser:writer\tread\t") && after_export[1].contains("\"via\":\"export\""));
    assert_eq!(node.ok(&["audit", "verify"]), format!("ok: {} entries, chain intact\n", node.ok(&["audit", "show"]).lines().count()));
}

/// A node with a few audit entries; returns it and how many there are.
fn audited_node() -> (Node, usize) {
    let node = node();
    user_add(&node, &["--org", "CERT-EU", "--name", "a"]);
    user_add(&node, &["--org", "CERT-EU", "--name", "b"]);
    org_add(&node, &["--name", "CERT-EE", "--country", "EST"]);
    let n = node.ok(&["audit", "show"]).lines().count();
    assert!(n >= 8, "{n}");
    assert_eq!(node.ok(&["audit", "verify"]), format!("ok: {n} entries, chain intact\n"));
    (node, n)
}

fn sql(node: &Node, statements: &str) {
    let db = rusqlite::Connection::open(node.data().join("phalanx.sqlite")).expect("open sqlite");
    db.execute_batch(statements).expect("tamper");
}

fn verify_broken(node: &Node) -> String {
    let out = node.run(&["audit", "verify"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out));
    stdout(&out)
}

#[test]
fn audit_show_lists_entries_since_a_seq_or_an_instant() {
    let (node, n) = audited_node();
    let all = node.ok(&["audit", "show"]);
    let lines: Vec<&str> = all.lines().collect();
    for (i, l) in lines.iter().enumerate() {
        let f: Vec<&str> = l.split('\t').collect();
        assert_eq!(f.len(), 6, "{l}");
        assert_eq!(f[0], (i + 1).to_string());
        assert!(phalanx_model::Timestamp::parse(f[1]).is_ok(), "{l}");
        assert!(serde_json::from_str::<Value>(f[5]).is_ok(), "{l}");
    }
    assert_eq!(node.ok(&["audit", "show", "--since", "3", "--limit", "2"]), format!("{}\n{}\n", lines[2], lines[3]));
    assert_eq!(node.ok(&["audit", "show", "--limit", "2"]), format!("{}\n{}\n", lines[n - 2], lines[n - 1]));
    let at = lines[4].split('\t').nth(1).unwrap();
    let since_at = node.ok(&["audit", "show", "--since", at]);
    let expected: Vec<&str> = lines.iter().copied().filter(|l| l.split('\t').nth(1).unwrap() >= at).collect();
    assert!(expected.contains(&lines[4]) && expected.len() <= n - 4);
    assert_eq!(since_at.lines().collect::<Vec<_>>(), expected);
    assert_eq!(node.ok(&["audit", "show", "--since", "2000-01-01T00:00:00Z"]), all);
    assert_eq!(node.ok(&["audit", "show", "--since", &(n + 1).to_string()]), "");
}

#[test]
fn audit_verify_names_a_changed_entry() {
    let (node, _) = audited_node();
    sql(&node, "UPDATE audit SET details = '{\"organisation\":\"someone else\"}' WHERE seq = 3");
    assert_eq!(verify_broken(&node), "broken at entry 3: the entry's content does not match its hash\n");
}

#[test]
fn audit_verify_names_a_changed_entry_even_when_its_hash_is_recomputed() {
    let (node, _) = audited_node();
    let registry = store(&node);
    let mut entry = registry.audit_entries(3, 1).unwrap().remove(0);
    entry.target = "nobody".into();
    let forged = entry.compute_hash();
    sql(&node, &format!("UPDATE audit SET target = 'nobody', hash = '{forged}' WHERE seq = 4"));
    assert_eq!(verify_broken(&node), "broken at entry 5: prev_hash does not match the previous entry's hash\n");
}

#[test]
fn audit_verify_names_a_removed_entry() {
    let (node, _) = audited_node();
    sql(&node, "DELETE FROM audit WHERE seq = 4");
    assert_eq!(verify_broken(&node), "broken at entry 5: entry 4 is missing or out of order (found 5)\n");
}

#[test]
fn audit_verify_names_reordered_entries() {
    let (node, _) = audited_node();
    sql(&node, "UPDATE audit SET seq = -1 WHERE seq = 2; UPDATE audit SET seq = 2 WHERE seq = 6; UPDATE audit SET seq = 6 WHERE seq = -1;");
    let out = verify_broken(&node);
    assert!(out.starts_with("broken at entry 2: "), "{out}");
}
