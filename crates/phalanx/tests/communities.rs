//! TAXII community collections (`community-eu`, `community-nato`) against
//! a real `phalanx serve`: listed and readable for members only (others get
//! 404), written by members with write rights, unmarked objects labelled
//! releasable to the community, explicit label markings winning, ids
//! stable across a restart.

use crate::stream::{Resp, Server, TAXII, TLP_GREEN, indicator};
use phalanx_labels::{Label, Policy, Rank};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

const EU: &str = "/taxii2/root/collections/community-eu/";
const NATO: &str = "/taxii2/root/collections/community-nato/";

fn collections(server: &Server, user: Option<&str>) -> HashMap<String, Value> {
    let r = server.request("GET", "/taxii2/root/collections/", user, &[], b"");
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["collections"]
        .as_array()
        .expect("collections")
        .iter()
        .map(|c| (c["alias"].as_str().unwrap_or_default().to_owned(), c.clone()))
        .collect()
}

fn ids(r: &Resp) -> Vec<String> {
    assert_eq!(r.status, 200, "{}", r.body);
    r.json()["objects"]
        .as_array()
        .map(|a| a.iter().map(|o| o["id"].as_str().unwrap_or_default().to_owned()).collect())
        .unwrap_or_default()
}

fn get(server: &Server, path: &str, user: Option<&str>) -> Resp {
    server.request("GET", path, user, &[], b"")
}

#[test]
fn community_collections_serve_members_and_label_what_they_receive() {
    let mut server = Server::start(&[]);
    // alice and bob: CERT-LT (EU, NATO); erin: CERT-FI (EU only).
    let alice = collections(&server, Some("alice"));
    let rights = |c: &Value| (c["can_read"].as_bool(), c["can_write"].as_bool());
    assert_eq!(rights(&alice["community-eu"]), (Some(true), Some(true)));
    assert_eq!(rights(&alice["community-nato"]), (Some(true), Some(true)));
    let bob = collections(&server, Some("bob"));
    assert_eq!(rights(&bob["community-nato"]), (Some(true), Some(false)), "a viewer reads, does not write");
    let erin = collections(&server, Some("erin"));
    assert_eq!(rights(&erin["community-eu"]), (Some(true), Some(true)));
    assert!(!erin.contains_key("community-nato"), "not listed for non-members");
    let anonymous = collections(&server, None);
    assert!(!anonymous.keys().any(|k| k.starts_with("community-")), "{:?}", anonymous.keys());
    for (user, path) in [(Some("erin"), NATO.to_owned()), (None, EU.to_owned()), (Some("erin"), format!("{NATO}objects/"))] {
        let r = get(&server, &path, user);
        assert_eq!(r.status, 404, "{user:?} {path}: {}", r.body);
        assert_eq!(r.header("content-type"), Some(TAXII));
        assert_eq!(r.json()["http_status"], "404");
    }
    let nato_id = alice["community-nato"]["id"].as_str().expect("id").to_owned();
    assert_eq!(get(&server, &format!("/taxii2/root/collections/{nato_id}/"), Some("erin")).status, 404, "by id too");

    // alice posts to community-nato: unmarked (A), TLP only (B), and an
    // EU RESTRICTED label marking (C): explicit markings win.
    let a = "indicator--0a000000-0000-4000-8000-000000000001";
    let b = "indicator--0b000000-0000-4000-8000-000000000002";
    let c = "indicator--0c000000-0000-4000-8000-000000000003";
    let eu_restricted = Label {
        policy: Policy::Eu,
        classification: Rank::Restricted,
        releasable_to: Default::default(),
        caveats: Default::default(),
        tlp: None,
        pap: None,
        exercise: None,
        originator: None,
    };
    let marking = phalanx_labels::label_marking_definition(&eu_restricted);
    let mid = marking["id"].as_str().expect("id").to_owned();
    let mut unmarked = indicator(a, "2026-01-01T00:00:00.000Z", "unmarked", &[]);
    unmarked.as_object_mut().expect("object").remove("object_marking_refs");
    server.post_objects(
        NATO,
        "alice",
        &[unmarked, indicator(b, "2026-01-01T00:00:00.000Z", "green", &[TLP_GREEN]), marking, indicator(c, "2026-01-01T00:00:00.000Z", "eu", &[TLP_GREEN, &mid])],
    );
    let in_nato = ids(&get(&server, &format!("{NATO}objects/?match[type]=indicator"), Some("alice")));
    assert_eq!(in_nato, vec![a.to_owned(), b.to_owned()], "unmarked objects are labelled releasable to NATO; C keeps its EU label");
    let in_eu = ids(&get(&server, &format!("{EU}objects/?match[type]=indicator"), Some("alice")));
    assert_eq!(in_eu, vec![c.to_owned()]);
    // The label is carried explicitly: a NATO label marking on A and B.
    let nato_rel = Label { policy: Policy::Unclassified, classification: Rank::Unclassified, releasable_to: ["NATO".to_owned()].into(), ..eu_restricted.clone() };
    let nato_mid = phalanx_labels::label_marking_id(&nato_rel);
    let stored_a = get(&server, &format!("{NATO}objects/{a}/"), Some("alice")).json();
    let refs = stored_a["objects"][0]["object_marking_refs"].as_array().expect("marking refs").clone();
    assert!(refs.contains(&json!(nato_mid)), "{refs:?}");
    // bob (viewer, CERT-LT) reads the NATO collection; erin (CERT-FI, not
    // in NATO) does not see A or B anywhere, but sees C in community-eu.
    assert_eq!(ids(&get(&server, &format!("{NATO}objects/?match[type]=indicator"), Some("bob"))), vec![a.to_owned(), b.to_owned()]);
    let erin_all = ids(&get(&server, "/taxii2/root/collections/all/objects/?match[type]=indicator", Some("erin")));
    assert!(!erin_all.contains(&a.to_owned()) && !erin_all.contains(&b.to_owned()), "{erin_all:?}");
    assert_eq!(ids(&get(&server, &format!("{EU}objects/?match[type]=indicator"), Some("erin"))), vec![c.to_owned()]);
    // Writes: bob is refused (403), erin cannot reach NATO's (404).
    let body = json!({"objects": []}).to_string();
    let r = server.request("POST", &format!("{NATO}objects/"), Some("bob"), &[("Content-Type", TAXII)], body.as_bytes());
    assert_eq!(r.status, 403, "{}", r.body);
    let r = server.request("POST", &format!("{NATO}objects/"), Some("erin"), &[("Content-Type", TAXII)], body.as_bytes());
    assert_eq!(r.status, 404, "{}", r.body);

    // The same ids after a restart.
    server.terminate(Duration::from_secs(30));
    server.spawn(&[]);
    let again = collections(&server, Some("alice"));
    for alias in ["community-eu", "community-nato", "all"] {
        assert_eq!(again[alias]["id"], alice[alias]["id"], "{alias}");
    }
}
