//! Rapid response over REST (`/api/v1/incidents`, `/assistance-requests`,
//! `/experts`, `/offers`, `/tasks`) through the real `phalanx serve`:
//! the read rule hides a classified incident from a reader without
//! clearance (list and get alike), the state machines refuse invalid moves
//! with 409 naming what is allowed, only the originator organisation makes
//! new versions, an ineligible expert is refused naming the rule, and a
//! read-only role cannot write.

use crate::rest::{RestAnswer, Server};
use serde_json::{Value, json};

fn patch(s: &Server, path: &str, user: &str, body: &Value) -> crate::rest::Resp {
    s.request("PATCH", path, Some(user), Some("application/json"), Some(body.to_string()))
}

/// A Phalanx property of a response object: at the top level (new object
/// types) or in its property extension (incidents).
fn prop(object: &Value, name: &str) -> Value {
    if let Some(v) = object.get(name) {
        return v.clone();
    }
    object["extensions"].as_object().and_then(|e| e.values().find_map(|d| d.get(name).cloned())).unwrap_or(Value::Null)
}

fn ids_in(list: &Value, key: &str) -> Vec<String> {
    list[key]
        .as_array()
        .map(|a| a.iter().map(|v| v["object"]["id"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

/// The id of a registered organisation, by name.
fn org_id(s: &Server, name: &str) -> String {
    let list = s.get("/api/v1/organisations", Some("admin")).expect(200);
    let orgs = list.as_array().cloned().unwrap_or_default();
    orgs.iter()
        .find(|o| o["name"] == name)
        .and_then(|o| o["id"].as_str())
        .unwrap_or_else(|| panic!("organisation {name} in {list}"))
        .to_owned()
}

fn restricted_incident(s: &Server) -> Value {
    let body = json!({
        "name": "Ransomware at Vilnius hospital",
        "description": "Encryption of the patient records system",
        "details": {"sectors": ["health"], "entity_class": "essential", "significant": true, "cross_border": true,
                    "affected_countries": ["LTU"]},
        "tlp": "amber",
        "label": {"policy": "EU", "classification": "RESTRICTED"}
    });
    s.post("/api/v1/incidents", Some("alice"), &body).expect(201)
}

#[test]
fn incidents_are_read_under_the_rule_and_follow_their_workflow() {
    let s = Server::start();
    let opened = restricted_incident(&s);
    let id = opened["object"]["id"].as_str().expect("id").to_owned();
    assert!(opened["label"].as_str().is_some_and(|l| l.contains("RESTRICTED")), "{opened}");
    assert_eq!(opened["nis2_clocks"]["early_warning"]["state"], "due", "{opened}");
    assert_eq!(opened["allowed_next"], json!(["triaged", "closed"]), "{opened}");

    // alice (SECRET, EU briefed) sees it; carol (UNCLASSIFIED) neither lists nor gets it.
    assert!(ids_in(&s.get("/api/v1/incidents", Some("alice")).expect(200), "incidents").contains(&id));
    assert!(!ids_in(&s.get("/api/v1/incidents", Some("carol")).expect(200), "incidents").contains(&id));
    let missing = s.get(&format!("/api/v1/incidents/{id}"), Some("carol")).error(404, "not_found");
    let absent = s.get("/api/v1/incidents/incident--00000000-0000-4000-8000-000000000000", Some("carol"));
    assert_eq!(absent.status, 404);
    assert!(missing.starts_with("no incident"), "{missing}");
    // An object of another type under an incident path is not an incident.
    let lt = org_id(&s, "CERT-LT");
    let other = s.get(&format!("/api/v1/incidents/{lt}"), Some("alice")).error(404, "not_found");
    assert!(other.contains("not a phalanx incident"), "{other}");
    patch(&s, &format!("/api/v1/tasks/{lt}"), "alice", &json!({"note": "x"})).error(404, "not_found");

    // A viewer does not write; anonymous callers get 401.
    s.post("/api/v1/incidents", Some("bob"), &json!({"name": "x"})).error(403, "forbidden");
    s.post("/api/v1/incidents", None, &json!({"name": "x"})).error(401, "unauthorized");

    // The workflow: new -> reviewed is refused with what is allowed; new -> triaged works.
    let refused = s
        .post(&format!("/api/v1/incidents/{id}/status"), Some("alice"), &json!({"to": "reviewed"}))
        .error(409, "conflict");
    assert!(refused.contains("allowed next: triaged, closed"), "{refused}");
    let triaged = s
        .post(&format!("/api/v1/incidents/{id}/status"), Some("alice"), &json!({"to": "triaged", "reason": "confirmed"}))
        .expect(200);
    assert_eq!(triaged["object"]["extensions"][phalanx_response::stix::INCIDENT_EXTENSION_ID]["status"], "triaged");
    assert_eq!(triaged["allowed_next"], json!(["analysing", "closed"]));

    // Updates and timeline entries make new versions; bad fields are named.
    let updated = patch(&s, &format!("/api/v1/incidents/{id}"), "alice", &json!({"nis_impact_severity": "red"})).expect(200);
    assert_eq!(updated["object"]["extensions"][phalanx_response::stix::INCIDENT_EXTENSION_ID]["nis_impact_severity"], "red");
    let bad = patch(&s, &format!("/api/v1/incidents/{id}"), "alice", &json!({"nis_impact_severity": "purple"}))
        .error(400, "invalid_body");
    assert!(bad.contains("purple"), "{bad}");
    let bad = s.post(&format!("/api/v1/incidents/{id}/status"), Some("alice"), &json!({"to": "finished"})).error(400, "invalid_body");
    assert!(bad.contains("to"), "{bad}");
    let entry = s
        .post(&format!("/api/v1/incidents/{id}/timeline"), Some("alice"), &json!({"text": "backups restored"}))
        .expect(200);
    let timeline = &entry["object"]["extensions"][phalanx_response::stix::INCIDENT_EXTENSION_ID]["timeline"];
    assert!(timeline.as_array().is_some_and(|t| t.iter().any(|e| e["text"] == "backups restored")), "{timeline}");

    // Filters.
    let triaged_only = s.get("/api/v1/incidents?status=triaged", Some("alice")).expect(200);
    assert!(ids_in(&triaged_only, "incidents").contains(&id));
    assert!(ids_in(&s.get("/api/v1/incidents?status=new", Some("alice")).expect(200), "incidents").is_empty());
    s.get("/api/v1/incidents?status=nonsense", Some("alice")).error(400, "invalid_parameter");
    s.get("/api/v1/incidents?colour=red", Some("alice")).error(400, "invalid_parameter");
}

#[test]
fn an_assistance_request_moves_through_its_states_and_forms_a_team_under_the_label() {
    let s = Server::start();
    let incident = restricted_incident(&s);
    let incident_id = incident["object"]["id"].as_str().expect("id").to_owned();
    let lt = org_id(&s, "CERT-LT");
    let request = s
        .post(
            "/api/v1/assistance-requests",
            Some("alice"),
            &json!({"request": {"name": "CRRT for the hospital", "channel": "crrt", "beneficiary_ref": lt,
                                 "incident_ref": incident_id, "services": ["incident-response", "digital-forensics"],
                                 "mode": "on-site"},
                    "submit": true}),
        )
        .expect(201);
    let id = request["object"]["id"].as_str().expect("id").to_owned();
    assert!(request["label"].as_str().is_some_and(|l| l.contains("RESTRICTED")), "the request takes the incident's label: {request}");
    assert_eq!(request["allowed_next"], json!(["assessing", "cancelled"]));
    assert_eq!(request["response"]["state"], "due", "{request}");
    // carol may not read it: 404 on get, absent from the list, and her transition is a 404 too.
    s.get(&format!("/api/v1/assistance-requests/{id}"), Some("carol")).error(404, "not_found");
    assert!(!ids_in(&s.get("/api/v1/assistance-requests", Some("carol")).expect(200), "requests").contains(&id));
    s.post(&format!("/api/v1/assistance-requests/{id}/transitions"), Some("carol"), &json!({"to": "assessing"}))
        .error(404, "not_found");

    // An invalid transition names what is allowed.
    let refused = s
        .post(&format!("/api/v1/assistance-requests/{id}/transitions"), Some("alice"), &json!({"to": "deployed"}))
        .error(409, "conflict");
    assert!(refused.contains("allowed next: assessing, cancelled"), "{refused}");
    for to in ["assessing", "approved", "activated"] {
        let moved = s
            .post(&format!("/api/v1/assistance-requests/{id}/transitions"), Some("alice"), &json!({"to": to}))
            .expect(200);
        assert_eq!(prop(&moved["object"], "state"), json!(to));
    }
    let shown = s.get(&format!("/api/v1/assistance-requests/{id}"), Some("alice")).expect(200);
    assert!(shown["metrics"]["time_to_acknowledge_secs"].is_u64(), "{shown}");
    assert!(shown["metrics"]["time_to_activate_secs"].is_u64(), "{shown}");
    assert!(shown["metrics"]["time_to_deploy_secs"].is_null(), "{shown}");

    // The roster: an expert without clearance for EU RESTRICTED is refused naming the rule.
    let expert = |name: &str, clearance: &str| {
        s.post(
            "/api/v1/experts",
            Some("alice"),
            &json!({"name": name, "details": {"nationalities": ["LTU"], "organisation_ref": lt,
                     "skills": ["incident-handling", "team-lead"], "clearance": clearance, "briefings": ["EU"]}}),
        )
        .expect(201)["object"]["id"]
            .as_str()
            .expect("expert id")
            .to_owned()
    };
    let cleared = expert("Rūta", "SECRET");
    let uncleared = expert("Jonas", "UNCLASSIFIED");
    let roster = s.get("/api/v1/experts", Some("alice")).expect(200);
    assert!(ids_in(&roster, "objects").contains(&cleared));
    s.post(
        "/api/v1/offers",
        Some("alice"),
        &json!({"offer": {"request_ref": id, "nation": "LTU", "expert_refs": [cleared, uncleared]}}),
    )
    .expect(201);
    let refused = s
        .post(&format!("/api/v1/assistance-requests/{id}/team"), Some("alice"), &json!({"expert_ref": uncleared, "role": "incident-handler"}))
        .error(409, "conflict");
    assert!(refused.contains("Jonas") && refused.contains("clearance"), "{refused}");
    let team = s
        .post(&format!("/api/v1/assistance-requests/{id}/team"), Some("alice"), &json!({"expert_ref": cleared, "role": "team-lead"}))
        .expect(200);
    assert_eq!(prop(&team["object"], "team").as_array().map(Vec::len), Some(1), "{team}");
    let with_offers = s.get(&format!("/api/v1/assistance-requests/{id}"), Some("alice")).expect(200);
    assert_eq!(with_offers["offers"].as_array().map(Vec::len), Some(1));

    // Filters and per-channel metrics.
    let list = s.get("/api/v1/assistance-requests?channel=crrt&state=activated", Some("alice")).expect(200);
    assert!(ids_in(&list, "requests").contains(&id));
    assert_eq!(list["channels"][0]["channel"], "crrt", "{list}");
    assert!(ids_in(&s.get("/api/v1/assistance-requests?state=draft", Some("alice")).expect(200), "requests").is_empty());
}

#[test]
fn only_the_originator_changes_a_request_and_tasks_follow_their_statuses() {
    let s = Server::start();
    let lt = org_id(&s, "CERT-LT");
    // A preventive request (no incident) at TLP:GREEN that carol may read but not change.
    let request = s
        .post(
            "/api/v1/assistance-requests",
            Some("alice"),
            &json!({"request": {"name": "Election support", "channel": "bilateral", "beneficiary_ref": lt,
                                 "services": ["election-monitoring"], "mode": "remote"},
                    "tlp": "green"}),
        )
        .expect(201);
    let id = request["object"]["id"].as_str().expect("id").to_owned();
    assert_eq!(request["allowed_next"], json!(["submitted", "cancelled"]));
    s.get(&format!("/api/v1/assistance-requests/{id}"), Some("carol")).expect(200);
    let refused = s
        .post(&format!("/api/v1/assistance-requests/{id}/transitions"), Some("carol"), &json!({"to": "submitted"}))
        .error(403, "forbidden");
    assert!(refused.contains("only the originator organisation (CERT-LT)"), "{refused}");
    // Cancelling needs a reason.
    let refused = s
        .post(&format!("/api/v1/assistance-requests/{id}/transitions"), Some("alice"), &json!({"to": "cancelled"}))
        .status;
    assert!(refused == 400 || refused == 409, "a cancellation without a reason is refused, got {refused}");

    let task = s
        .post("/api/v1/tasks", Some("alice"), &json!({"task": {"name": "Monitor the tally systems", "request_ref": id, "owner": "alice"}}))
        .expect(201);
    let task_id = task["object"]["id"].as_str().expect("id").to_owned();
    assert!(task["label"].as_str().is_some_and(|l| l.contains("TLP:GREEN")), "the task takes the request's label: {task}");
    let listed = s.get(&format!("/api/v1/tasks?request={id}"), Some("alice")).expect(200);
    assert_eq!(ids_in(&listed, "objects"), vec![task_id.clone()]);
    let done = patch(&s, &format!("/api/v1/tasks/{task_id}"), "alice", &json!({"status": "done", "note": "no anomaly"})).expect(200);
    assert_eq!(prop(&done["object"], "status"), json!("done"));
    let refused = patch(&s, &format!("/api/v1/tasks/{task_id}"), "alice", &json!({"status": "blocked"})).error(409, "conflict");
    assert!(refused.contains("invalid transition from done to blocked"), "{refused}");
    patch(&s, &format!("/api/v1/tasks/{task_id}"), "carol", &json!({"note": "x"})).error(403, "forbidden");
    assert!(ids_in(&s.get("/api/v1/tasks?status=open", Some("alice")).expect(200), "objects").is_empty());
    s.post("/api/v1/tasks", Some("alice"), &json!({"task": {"name": "orphan"}})).error(400, "invalid_body");
    s.post("/api/v1/tasks", Some("alice"), &json!({"task": {"name": "x", "colour": "red"}})).error(400, "invalid_body");
}
