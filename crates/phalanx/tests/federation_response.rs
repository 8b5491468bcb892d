//! Rapid response across two federated nodes (real `phalanx serve`
//! processes on loopback): Lithuania asks the CRRT community for help, the
//! request reaches the Estonian node, Estonia's roster entries and offer
//! come back, Lithuania forms the team (an expert without clearance is
//! refused naming the rule), deploys and completes, and every state change
//! reaches Estonia. Only the originator moves the request.

use crate::federation::{FedNode, wait_until};
use serde_json::{Value, json};
use std::time::Duration;

/// A REST client of one node, signed in as its analyst.
struct Desk {
    base: String,
    token: String,
    agent: ureq::Agent,
}

impl Desk {
    fn of(node: &FedNode) -> Desk {
        let token = node.ok(&["token", "new", "--user", "analyst"]).lines().last().unwrap_or_default().trim().to_owned();
        Desk { base: node.url(), token, agent: crate::common::http_agent() }
    }

    fn call(&self, method: &str, path: &str, body: Option<&Value>) -> (u16, Value) {
        let request = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base))
            .header("Authorization", format!("Bearer {}", self.token))
            .header("Content-Type", "application/json")
            .body(body.map(|b| b.to_string()).unwrap_or_default().into_bytes())
            .expect("request");
        let answer = crate::common::http_send(&self.agent, request);
        (answer.status, serde_json::from_str(&answer.body).unwrap_or(Value::String(answer.body)))
    }

    #[track_caller]
    fn ok(&self, method: &str, path: &str, body: Option<&Value>, status: u16) -> Value {
        let (got, value) = self.call(method, path, body);
        assert_eq!(got, status, "{method} {path}: {value}");
        value
    }
}

/// A Phalanx property of a response object (top level or in its extension).
fn prop(object: &Value, name: &str) -> Value {
    if let Some(v) = object.get(name) {
        return v.clone();
    }
    object["extensions"].as_object().and_then(|e| e.values().find_map(|d| d.get(name).cloned())).unwrap_or(Value::Null)
}

#[test]
fn a_crrt_request_crosses_two_nodes_and_the_offer_comes_back() {
    let mut lt = FedNode::init("CERT-LT", Some("LTU"), "EU,NATO,PESCO_CRRT");
    let mut ee = FedNode::init("CERT-EE", Some("EST"), "EU,NATO,PESCO_CRRT");
    lt.register(&ee, "CERT-EE", Some("EST"), "EU,NATO,PESCO_CRRT");
    ee.register(&lt, "CERT-LT", Some("LTU"), "EU,NATO,PESCO_CRRT");
    lt.peer("ee", &ee, "CERT-EE", "EU", "RESTRICTED", None);
    ee.peer("lt", &lt, "CERT-LT", "EU", "RESTRICTED", None);
    lt.start();
    ee.start();
    let vilnius = Desk::of(&lt);
    let tallinn = Desk::of(&ee);
    let crrt_label = json!({"policy": "EU", "classification": "RESTRICTED", "releasable_to": ["PESCO_CRRT"]});

    // Lithuania: the incident and the request to the CRRT community.
    let incident = vilnius.ok(
        "POST",
        "/api/v1/incidents",
        Some(&json!({"name": "Ransomware at a Vilnius hospital",
                     "details": {"sectors": ["health"], "entity_class": "essential", "significant": true},
                     "tlp": "green", "label": crrt_label})),
        201,
    );
    let incident_id = incident["object"]["id"].as_str().expect("incident id").to_owned();
    let request = vilnius.ok(
        "POST",
        "/api/v1/assistance-requests",
        Some(&json!({"request": {"name": "CRRT for the hospital", "channel": "crrt", "beneficiary_ref": lt.org,
                                 "incident_ref": incident_id, "services": ["incident-response", "digital-forensics"],
                                 "mode": "on-site"},
                     "submit": true})),
        201,
    );
    let id = request["object"]["id"].as_str().expect("request id").to_owned();

    // It reaches Estonia, with its incident.
    wait_until("the request reaches the Estonian node", Duration::from_secs(30), || {
        tallinn.call("GET", &format!("/api/v1/assistance-requests/{id}"), None).0 == 200
    });
    tallinn.ok("GET", &format!("/api/v1/incidents/{incident_id}"), None, 200);
    // Estonia may read it but not move it: only the originator makes new versions.
    let (status, refused) = tallinn.call("POST", &format!("/api/v1/assistance-requests/{id}/transitions"), Some(&json!({"to": "assessing"})));
    assert_eq!(status, 403, "{refused}");

    // Estonia's roster and offer (the offer takes the request's label).
    let expert = |name: &str, clearance: &str| -> String {
        tallinn.ok(
            "POST",
            "/api/v1/experts",
            Some(&json!({"name": name, "tlp": "green", "label": {"policy": "UNCLASSIFIED", "classification": "UNCLASSIFIED", "releasable_to": ["PESCO_CRRT"]},
                         "details": {"nationalities": ["EST"], "organisation_ref": ee.org,
                                     "skills": ["incident-handling", "team-lead", "forensics"],
                                     "clearance": clearance, "briefings": ["EU"]}})),
            201,
        )["object"]["id"]
            .as_str()
            .expect("expert id")
            .to_owned()
    };
    let kadri = expert("Kadri", "SECRET");
    let mart = expert("Mart", "UNCLASSIFIED");
    tallinn.ok(
        "POST",
        "/api/v1/offers",
        Some(&json!({"offer": {"request_ref": id, "nation": "EST", "expert_refs": [kadri, mart], "note": "available from Monday"}})),
        201,
    );
    wait_until("the offer and the experts reach Lithuania", Duration::from_secs(30), || {
        let (status, shown) = vilnius.call("GET", &format!("/api/v1/assistance-requests/{id}"), None);
        let experts = vilnius.call("GET", "/api/v1/experts", None).1;
        let known = |e: &str| experts["objects"].as_array().is_some_and(|a| a.iter().any(|o| o["object"]["id"] == e));
        status == 200 && shown["offers"].as_array().is_some_and(|o| o.len() == 1) && known(&kadri) && known(&mart)
    });

    // Lithuania moves the request and forms the team under the incident's label.
    let step = |to: &str, extra: Value| {
        let mut body = json!({"to": to});
        if let (Some(b), Some(e)) = (body.as_object_mut(), extra.as_object()) {
            b.extend(e.clone());
        }
        vilnius.ok("POST", &format!("/api/v1/assistance-requests/{id}/transitions"), Some(&body), 200)
    };
    for to in ["assessing", "approved", "activated"] {
        step(to, json!({}));
    }
    let (status, refusal) = vilnius.call(
        "POST",
        &format!("/api/v1/assistance-requests/{id}/team"),
        Some(&json!({"expert_ref": mart, "role": "incident-handler"})),
    );
    assert_eq!(status, 409, "{refusal}");
    let message = refusal["message"].as_str().unwrap_or_default();
    assert!(message.contains("Mart") && message.contains("clearance"), "the refusal names the rule: {message}");
    vilnius.ok(
        "POST",
        &format!("/api/v1/assistance-requests/{id}/team"),
        Some(&json!({"expert_ref": kadri, "role": "team-lead"})),
        200,
    );
    step("team-forming", json!({}));
    step("cleared", json!({}));
    step("deployed", json!({"location": "Vilnius"}));
    for to in ["active", "demobilising", "completed"] {
        step(to, json!({}));
    }
    let done = step("reported", json!({}));
    assert_eq!(prop(&done["object"], "state"), "reported");
    assert!(done["metrics"]["time_to_deploy_secs"].is_u64(), "{done}");

    // Every change reaches Estonia: the final state and the team.
    wait_until("the reported state reaches Estonia", Duration::from_secs(30), || {
        let (status, shown) = tallinn.call("GET", &format!("/api/v1/assistance-requests/{id}"), None);
        status == 200 && prop(&shown["object"], "state") == "reported"
    });
    let shown = tallinn.ok("GET", &format!("/api/v1/assistance-requests/{id}"), None, 200);
    let team = prop(&shown["object"], "team");
    assert_eq!(team.as_array().map(Vec::len), Some(1), "{shown}");
    assert_eq!(team[0]["expert_ref"], kadri.as_str());
    lt.stop();
    ee.stop();
}
