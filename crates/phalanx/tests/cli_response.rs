//! Rapid response through the real binary, on one node: the Lithuanian
//! hospital scenario (incident, CRRT request, offers from three nations,
//! one expert refused for lack of clearance, activation, deployment,
//! tasks, completion and report) and the Ukraine-2022 shape (activated,
//! then cancelled without deployment). Exit codes: 0 done, 1 refused
//! (invalid transition, ineligible expert, a version by a non-originator),
//! 2 bad input.
//!
//! Every object written is checked by the node's own model on the way in;
//! the export of the scenario is also given to OASIS stix2-validator when
//! the interop venv (`interop/install.sh`) is present.

use crate::common::{Node, last_line, stderr, stdout, text};
use phalanx_model::Timestamp;
use serde_json::Value;
use std::path::PathBuf;

const EU_RESTRICTED_CRRT: &str = r#"{"policy":"EU","classification":"RESTRICTED","releasable_to":["PESCO_CRRT"]}"#;
const ROSTER_LABEL: &str =
    r#"{"policy":"UNCLASSIFIED","classification":"UNCLASSIFIED","releasable_to":["PESCO_CRRT"]}"#;

/// A node of NCSC-LT with the hospital, three contributing CERTs and one
/// user each.
fn lithuanian_node() -> Node {
    let node = Node::init(&["--org-name", "NCSC-LT", "--country", "LTU", "--member-of", "EU,NATO,PESCO_CRRT"]);
    node.ok(&["org", "add", "--name", "Vilnius University Hospital", "--country", "LTU", "--parent", "NCSC-LT"]);
    for (name, country) in [("CERT-EE", "EST"), ("CERT-PL", "POL"), ("NCSC-NL", "NLD")] {
        node.ok(&[
            "org",
            "add",
            "--name",
            name,
            "--country",
            country,
            "--member-of",
            "EU,NATO,PESCO_CRRT",
            "--kind",
            "national-csirt",
        ]);
    }
    for (user, org) in [("ona", "NCSC-LT"), ("kadri", "CERT-EE"), ("piotr", "CERT-PL"), ("joost", "NCSC-NL")] {
        node.ok(&[
            "user",
            "add",
            "--org",
            org,
            "--name",
            user,
            "--role",
            "responder",
            "--clearance",
            "RESTRICTED",
            "--briefed",
            "EU",
        ]);
    }
    node
}

/// Runs a command that must succeed and returns the id on its last line.
fn id_of(node: &Node, args: &[&str]) -> String {
    let out = node.ok(args);
    let id = last_line(&out).to_owned();
    assert!(id.contains("--"), "last line is not an id: {out}");
    id
}

/// Runs a command that must be refused (exit code 1); returns stderr.
fn refused(node: &Node, args: &[&str]) -> String {
    let out = node.run(args);
    assert_eq!(out.status.code(), Some(1), "phalanx {args:?} should be refused:\n{}", text(&out));
    stderr(&out)
}

fn show_json(node: &Node, args: &[&str]) -> Value {
    let out = node.ok(args);
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{args:?}: not json ({e}): {out}"))
}

fn transition(node: &Node, user: &str, request: &str, to: &str, extra: &[&str]) -> String {
    let mut args = vec!["assist", "transition", request, "--to", to, "--as", user, "--reason", "council decision"];
    args.extend_from_slice(extra);
    node.ok(&args)
}

fn roster_add(
    node: &Node,
    user: &str,
    name: &str,
    nationality: &str,
    clearance: &str,
    briefed: &str,
    skills: &str,
) -> String {
    let mut args = vec![
        "roster",
        "add",
        "--as",
        user,
        "--name",
        name,
        "--nationality",
        nationality,
        "--clearance",
        clearance,
        "--skill",
        skills,
        "--language",
        "en",
        "--tlp",
        "amber",
        "--label",
        ROSTER_LABEL,
    ];
    if !briefed.is_empty() {
        args.extend_from_slice(&["--briefed", briefed]);
    }
    id_of(node, &args)
}

fn hours_ago(hours: i64) -> String {
    let now = Timestamp::now(3);
    Timestamp::from_unix_nanos(now.unix_secs() - hours * 3600, 0, 3).to_string()
}

/// The interop venv's python, when `interop/install.sh` has been run.
fn validator_python() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..");
    let py = root.join(".venv-interop/bin/python");
    py.exists().then_some(py)
}

#[test]
fn lithuanian_hospital_ransomware_end_to_end() {
    let node = lithuanian_node();

    // 1. NCSC-LT opens the incident; it became aware 30 hours ago, so the
    //    early warning is already overdue and the notification still due.
    let incident = id_of(
        &node,
        &[
            "incident",
            "open",
            "--as",
            "ona",
            "--name",
            "Ransomware at Vilnius University Hospital",
            "--affected",
            "Vilnius University Hospital",
            "--country",
            "LTU",
            "--sector",
            "health",
            "--entity-class",
            "essential",
            "--type",
            "ransomware-hospital",
            "--rsit-class",
            "malicious-code",
            "--rsit-type",
            "infected-system",
            "--root-cause",
            "malicious-actions",
            "--threat-severity",
            "high",
            "--impact-severity",
            "red",
            "--outlook",
            "worsening",
            "--significant",
            "--aware-at",
            &hours_ago(30),
            "--tlp",
            "amber",
            "--label",
            EU_RESTRICTED_CRRT,
        ],
    );
    assert!(incident.starts_with("incident--"), "{incident}");
    let shown = node.ok(&["incident", "show", &incident, "--as", "ona"]);
    assert!(shown.contains("status: new"), "{shown}");
    assert!(shown.contains("sectors: health (I.5)"), "{shown}");
    assert!(shown.contains("RESTREINT UE/EU RESTRICTED"), "{shown}");
    let clocks = show_json(&node, &["incident", "show", &incident, "--as", "ona", "--json"]);
    assert_eq!(clocks["nis2_clocks"]["early_warning"]["state"], "overdue", "{clocks}");
    assert_eq!(clocks["nis2_clocks"]["notification"]["state"], "due", "{clocks}");
    assert_eq!(clocks["object"]["type"], "incident");

    // The early warning is sent (late), the incident triaged; a jump in the workflow is refused.
    node.ok(&[
        "incident",
        "update",
        &incident,
        "--as",
        "ona",
        "--early-warning-sent",
        "now",
        "--status",
        "triaged",
        "--reason",
        "ransomware confirmed",
    ]);
    let clocks = show_json(&node, &["incident", "show", &incident, "--as", "ona", "--json"]);
    assert_eq!(clocks["nis2_clocks"]["early_warning"]["state"], "met-late", "{clocks}");
    let err = refused(&node, &["incident", "update", &incident, "--as", "ona", "--status", "recovering"]);
    assert!(err.contains("invalid transition from triaged to recovering; allowed next: analysing, closed"), "{err}");
    // Another organisation may not version NCSC-LT's incident.
    let err = refused(&node, &["incident", "update", &incident, "--as", "kadri", "--note", "we can help"]);
    assert!(err.contains("only the originator organisation"), "{err}");

    // 2. Lithuania asks the CRRT for help; the request takes the incident's label.
    let request = id_of(
        &node,
        &[
            "assist",
            "request",
            "--as",
            "ona",
            "--name",
            "CRRT support for Vilnius University Hospital",
            "--channel",
            "crrt",
            "--beneficiary",
            "Vilnius University Hospital",
            "--incident",
            &incident,
            "--service",
            "incident-response,digital-forensics,malware-analysis",
            "--mode",
            "on-site",
            "--needs",
            "6 experts for two weeks",
            "--mitigation",
            "infected segment isolated, backups offline",
            "--legal-basis",
            "CRRT MoU (Zagreb, 2020); host-nation arrangement",
            "--submit",
        ],
    );
    assert!(request.starts_with("x-phalanx-assistance-request--"), "{request}");
    for to in ["assessing", "approved", "activated"] {
        transition(&node, "ona", &request, to, &[]);
    }
    // Activated is not deployed: the team must form and be cleared first.
    let err =
        refused(&node, &["assist", "transition", &request, "--as", "ona", "--to", "deployed", "--location", "Vilnius"]);
    assert!(
        err.contains("invalid transition from activated to deployed; allowed next: team-forming, cancelled"),
        "{err}"
    );
    // Only the requester's organisation moves its request.
    let err = refused(&node, &["assist", "transition", &request, "--as", "kadri", "--to", "team-forming"]);
    assert!(err.contains("only the originator organisation"), "{err}");
    transition(&node, "ona", &request, "team-forming", &[]);

    // 3. Three nations put experts on the roster and offer them.
    let kadri = roster_add(&node, "kadri", "Kadri Tamm", "EST", "SECRET", "EU,NATO", "team-lead,incident-handling");
    let mart = roster_add(&node, "kadri", "Mart Kask", "EST", "UNCLASSIFIED", "", "forensics");
    let piotr = roster_add(&node, "piotr", "Piotr Nowak", "POL", "RESTRICTED", "EU", "forensics,incident-handling");
    let anouk = roster_add(&node, "joost", "Anouk de Vries", "NLD", "CONFIDENTIAL", "EU,NATO", "malware-analysis");
    let ee_offer = id_of(
        &node,
        &["roster", "offer", "--as", "kadri", "--request", &request, "--expert", &format!("{kadri},{mart}")],
    );
    id_of(
        &node,
        &[
            "roster",
            "offer",
            "--as",
            "piotr",
            "--request",
            &request,
            "--expert",
            &piotr,
            "--note",
            "available from tomorrow",
        ],
    );
    id_of(&node, &["roster", "offer", "--as", "joost", "--request", &request, "--expert", &anouk]);
    // A nation offers only its own experts.
    let err = node.fails(&["roster", "offer", "--as", "joost", "--request", &request, "--expert", &piotr]);
    assert!(err.contains("an organisation offers only its own experts"), "{err}");
    let roster = node.ok(&["roster", "list", "--as", "ona", "--request", &request]);
    assert_eq!(roster.lines().filter(|l| l.starts_with("x-phalanx-expert--")).count(), 4, "{roster}");
    assert_eq!(roster.lines().filter(|l| l.starts_with("x-phalanx-expert-offer--")).count(), 3, "{roster}");
    assert!(roster.contains(&format!("{ee_offer}\tEST\tCERT-EE\t{kadri},{mart}")), "{roster}");

    // 4. The team forms; Mart has no clearance for the incident's EU RESTRICTED label.
    node.ok(&["assist", "team", &request, "--as", "ona", "--add", &kadri, "--role", "team-lead"]);
    let err =
        refused(&node, &["assist", "team", &request, "--as", "ona", "--add", &mart, "--role", "forensic-analyst"]);
    assert!(err.contains("expert 'Mart Kask'"), "{err}");
    assert!(err.contains("rule 1 (classification): clearance UNCLASSIFIED is below RESTRICTED"), "{err}");
    node.ok(&["assist", "team", &request, "--as", "ona", "--add", &piotr, "--role", "forensic-analyst"]);
    node.ok(&["assist", "team", &request, "--as", "ona", "--add", &anouk, "--role", "malware-analyst"]);
    let err =
        refused(&node, &["assist", "team", &request, "--as", "ona", "--add", &anouk, "--role", "malware-analyst"]);
    assert!(err.contains("already a member"), "{err}");

    // 5. Cleared, deployed, active.
    transition(&node, "ona", &request, "cleared", &[]);
    transition(&node, "ona", &request, "deployed", &["--location", "Vilnius, LTU"]);
    transition(&node, "ona", &request, "active", &[]);

    // 6. Tasks from the hospital playbook; one is worked through.
    let added = node.ok(&[
        "task",
        "add",
        "--as",
        "ona",
        "--request",
        &request,
        "--incident",
        &incident,
        "--playbook",
        "ransomware-hospital",
    ]);
    let tasks: Vec<&str> = added.lines().filter(|l| l.starts_with("x-phalanx-task--")).collect();
    assert_eq!(tasks.len(), 8, "{added}");
    node.ok(&["task", "update", tasks[2], "--as", "ona", "--status", "in-progress", "--owner", &piotr]);
    node.ok(&["task", "update", tasks[2], "--as", "ona", "--status", "done", "--note", "images of 3 hosts taken"]);
    let err = refused(&node, &["task", "update", tasks[2], "--as", "ona", "--status", "open"]);
    assert!(err.contains("invalid transition from done to open"), "{err}");
    let own = id_of(
        &node,
        &[
            "task",
            "add",
            "--as",
            "ona",
            "--incident",
            &incident,
            "--name",
            "Send the NIS2 notification",
            "--owner",
            "ona",
            "--due",
            &hours_ago(1),
        ],
    );
    let overdue = node.ok(&["task", "list", "--as", "ona", "--overdue"]);
    assert!(overdue.contains(&own) && overdue.contains("overdue"), "{overdue}");
    let list = node.ok(&["task", "list", "--as", "ona", "--request", &request]);
    assert_eq!(list.lines().count(), 9, "header and 8 tasks: {list}");
    assert!(list.contains(&format!("{}\tdone\t", tasks[2])), "{list}");

    // 7. Hand-over, completion and the report.
    for to in ["demobilising", "completed", "reported"] {
        transition(&node, "ona", &request, to, &[]);
    }
    let err =
        refused(&node, &["assist", "transition", &request, "--as", "ona", "--to", "cancelled", "--reason", "too late"]);
    assert!(err.contains("invalid transition from reported to cancelled; allowed next: none (final state)"), "{err}");
    let shown = show_json(&node, &["assist", "show", &request, "--as", "ona", "--json"]);
    let object = &shown["object"];
    assert_eq!(object["state"], "reported", "{shown}");
    let states: Vec<&str> =
        object["transitions"].as_array().expect("transitions").iter().filter_map(|t| t["to_state"].as_str()).collect();
    assert_eq!(
        states,
        [
            "submitted",
            "assessing",
            "approved",
            "activated",
            "team-forming",
            "cleared",
            "deployed",
            "active",
            "demobilising",
            "completed",
            "reported"
        ]
    );
    assert!(
        object["transitions"]
            .as_array()
            .expect("transitions")
            .iter()
            .all(|t| t["actor"] == "user:ona" && t["time"].is_string())
    );
    let team: Vec<(&str, &str)> = object["team"]
        .as_array()
        .expect("team")
        .iter()
        .map(|m| (m["expert_ref"].as_str().unwrap_or_default(), m["role"].as_str().unwrap_or_default()))
        .collect();
    assert_eq!(
        team,
        [(kadri.as_str(), "team-lead"), (piotr.as_str(), "forensic-analyst"), (anouk.as_str(), "malware-analyst")]
    );
    assert_eq!(object["deployment"]["location"], "Vilnius, LTU");
    assert!(object["deployment"]["end"].is_string(), "the deployment ended at completion: {shown}");
    assert_eq!(shown["response"]["state"], "met", "{shown}");
    assert!(shown["metrics"]["time_to_deploy_secs"].is_u64(), "{shown}");
    assert_eq!(shown["offers"].as_array().map(Vec::len), Some(3));
    assert_eq!(shown["label"], "RESTREINT UE/EU RESTRICTED REL TO PESCO_CRRT TLP:AMBER", "{shown}");

    // Every version is kept: one per transition and team change.
    let versions = node.ok(&["get", &request, "--as", "ona", "--all-versions"]);
    assert_eq!(versions.lines().count(), 1 + 10 + 3, "{versions}");

    let listed = node.ok(&["assist", "list", "--as", "ona"]);
    assert!(listed.contains(&format!("{request}\tcrrt\treported\tmet\t")), "{listed}");
    assert!(listed.lines().any(|l| l.starts_with("crrt\t1\t")), "per-channel metrics: {listed}");

    // The incident closes; the list shows its clocks.
    for to in ["analysing", "containing", "recovering", "closed"] {
        node.ok(&["incident", "update", &incident, "--as", "ona", "--status", to]);
    }
    let incidents = node.ok(&["incident", "list", "--as", "ona"]);
    assert!(incidents.contains(&format!("{incident}\tclosed\tyes\tmet-late\t")), "{incidents}");

    // 8. Under the labels: a user of a non-CRRT organisation sees none of it.
    node.ok(&["org", "add", "--name", "CERT-FR", "--country", "FRA", "--member-of", "EU"]);
    node.ok(&[
        "user",
        "add",
        "--org",
        "CERT-FR",
        "--name",
        "claire",
        "--role",
        "analyst",
        "--clearance",
        "SECRET",
        "--briefed",
        "EU",
    ]);
    let err = node.fails(&["assist", "show", &request, "--as", "claire"]);
    assert!(err.contains("(or none you may read)"), "{err}");
    let fr_list = node.ok(&["incident", "list", "--as", "claire"]);
    assert_eq!(fr_list.lines().count(), 1, "header only: {fr_list}");

    // 9. What the node exports of it passes OASIS stix2-validator.
    let bundle = node.ok(&["export", "--as", "ona", "--type", "incident,x-phalanx-assistance-request,x-phalanx-expert,x-phalanx-expert-offer,x-phalanx-task,extension-definition"]);
    let parsed: Value = serde_json::from_str(&bundle).expect("bundle");
    let objects = parsed["objects"].as_array().expect("objects");
    for ty in
        ["incident", "x-phalanx-assistance-request", "x-phalanx-expert", "x-phalanx-expert-offer", "x-phalanx-task"]
    {
        assert!(objects.iter().any(|o| o["type"] == ty), "export lacks {ty}");
    }
    assert!(
        objects.iter().any(|o| o["id"] == phalanx_response::stix::ASSISTANCE_REQUEST_EXTENSION_ID),
        "the extension definitions travel with the data"
    );
    match validator_python() {
        Some(py) => {
            let file = node.data().join("response-export.json");
            std::fs::write(&file, &bundle).expect("write bundle");
            let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../interop/validate_bundles.py");
            let out = std::process::Command::new(py).arg(script).arg(&file).output().expect("run validator");
            assert!(out.status.success(), "stix2-validator refused the export:\n{}\n{}", stdout(&out), stderr(&out));
        }
        None => eprintln!("cli_response: .venv-interop missing, stix2-validator not run (run interop/install.sh)"),
    }
}

#[test]
fn ukraine_2022_activated_then_cancelled_without_deployment() {
    let node = lithuanian_node();
    node.ok(&["org", "add", "--name", "CERT-UA", "--country", "UKR", "--kind", "partner"]);
    node.ok(&["user", "add", "--org", "CERT-UA", "--name", "mykola", "--role", "responder"]);
    let request = id_of(
        &node,
        &[
            "assist",
            "request",
            "--as",
            "mykola",
            "--name",
            "Support against attacks on government systems",
            "--channel",
            "crrt",
            "--beneficiary",
            "CERT-UA",
            "--service",
            "incident-response,threat-hunting",
            "--mode",
            "hybrid",
            "--legal-basis",
            "letter of the Minister of Foreign Affairs",
            "--submit",
            "--tlp",
            "green",
        ],
    );
    for to in ["assessing", "approved", "activated"] {
        transition(&node, "mykola", &request, to, &[]);
    }
    // Cancelling needs a reason.
    let err = refused(&node, &["assist", "transition", &request, "--as", "mykola", "--to", "cancelled"]);
    assert!(err.contains("cannot move to cancelled: a reason is required"), "{err}");
    node.ok(&[
        "assist",
        "transition",
        &request,
        "--as",
        "mykola",
        "--to",
        "cancelled",
        "--reason",
        "full-scale invasion; on-site deployment impossible",
    ]);
    let err =
        refused(&node, &["assist", "transition", &request, "--as", "mykola", "--to", "deployed", "--location", "Kyiv"]);
    assert!(err.contains("invalid transition from cancelled to deployed; allowed next: none (final state)"), "{err}");

    let shown = show_json(&node, &["assist", "show", &request, "--as", "mykola", "--json"]);
    let object = &shown["object"];
    assert_eq!(object["state"], "cancelled");
    assert!(object.get("deployment").is_none(), "never deployed: {shown}");
    assert!(object.get("incident_ref").is_none(), "no incident: {shown}");
    let states: Vec<&str> =
        object["transitions"].as_array().expect("transitions").iter().filter_map(|t| t["to_state"].as_str()).collect();
    assert_eq!(states, ["submitted", "assessing", "approved", "activated", "cancelled"]);
    let last = object["transitions"].as_array().and_then(|t| t.last()).cloned().unwrap_or_default();
    assert_eq!(last["reason"], "full-scale invasion; on-site deployment impossible");
    assert!(shown["metrics"]["time_to_activate_secs"].is_u64(), "{shown}");
    assert!(shown["metrics"]["time_to_deploy_secs"].is_null(), "{shown}");
    assert!(shown["metrics"]["time_to_close_secs"].is_u64(), "{shown}");
    let human = node.ok(&["assist", "show", &request, "--as", "mykola"]);
    assert!(human.contains("state: cancelled (next: none)"), "{human}");
    assert!(human.contains("deployment: -"), "{human}");

    // Bad input is an error (2), not a refusal.
    let err = node.fails(&["assist", "transition", &request, "--as", "mykola", "--to", "evacuated"]);
    assert!(err.contains("--to: 'evacuated' is not a known assistance request state"), "{err}");
    let err = node.fails(&[
        "assist",
        "request",
        "--as",
        "mykola",
        "--name",
        "x",
        "--channel",
        "nato",
        "--beneficiary",
        "CERT-UA",
        "--service",
        "advisory",
        "--mode",
        "remote",
    ]);
    assert!(err.contains("--channel: 'nato' is not a known assistance channel"), "{err}");
}
