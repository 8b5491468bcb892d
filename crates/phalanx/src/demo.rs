//! `phalanx demo [--data DIR] [--listen ADDR]`: sets up a demo node on the
//! embedded store and serves it (API and web UI), with no network.
//!
//! The first run seeds the data directory: the node (CERT-LT), national
//! CSIRTs of several nations and the EU and NATO bodies, users at
//! different clearances with passwords for the web UI, the OASIS example
//! bundles and MITRE ATT&CK for ICS (embedded in the binary, licences in
//! `demo-data/`), incidents of several nations (one NATO SECRET), an
//! assistance request in flight and a deployed team, and sightings of one
//! indicator by organisations of four countries, from which a
//! collective-threat alert is raised. Every write goes through the same
//! paths as the CLI (registry checks, `Ingest`, the rapid-response desk).
//! Later runs serve what is there. It prints the demo logins, then the URL.

use crate::Finished;
use crate::node::{InitArgs, actor, init, node_organisation, open_store};
use crate::serve::{DEFAULT_LISTEN, ServeArgs};
use anyhow::{Context, bail};
use clap::{Args, FromArgMatches};
use phalanx_api::desk::{Desk, NewLabel};
use phalanx_auth::identity::{OrganisationInput, UserInput, organisation_record, register_user, user_record};
use phalanx_auth::{hash_password, register_organisation};
use phalanx_labels::{LabelMarking, Policy, Rank};
use phalanx_model::Timestamp;
use phalanx_model::stream::Limits;
use phalanx_response::IncidentChanges;
use phalanx_response::request::{RequestInput, RequestState, TransitionInput};
use phalanx_response::roster::{ExpertDetails, OfferDetails};
use phalanx_response::task::TaskInput;
use phalanx_response::vocab::{Channel, ImpactSeverity, Mode, Sector, Service, Skill, TeamRole, ThreatSeverity};
use phalanx_store::{Actor, SqliteStore, Store};
use std::collections::BTreeSet;
use std::path::Path;

/// Settings key set once the demo data is in place.
const DEMO_SEEDED: &str = "demo_seeded";

/// Arguments of `phalanx demo`.
#[derive(clap::Args, Debug)]
pub struct DemoArgs {
    /// Address to listen on.
    #[arg(long, default_value = DEFAULT_LISTEN)]
    pub listen: String,
}

/// A demo organisation: name, country, memberships, kind.
struct DemoOrg {
    name: &'static str,
    country: Option<&'static str>,
    member_of: &'static [&'static str],
    kind: &'static str,
}

/// The node's own organisation.
const NODE_ORG: DemoOrg = DemoOrg { name: "CERT-LT", country: Some("LTU"), member_of: &["EU", "NATO"], kind: "node-operator" };

const ORGS: &[DemoOrg] = &[
    DemoOrg { name: "CERT-EE", country: Some("EST"), member_of: &["EU", "NATO"], kind: "national-csirt" },
    DemoOrg { name: "CERT.PL", country: Some("POL"), member_of: &["EU", "NATO"], kind: "national-csirt" },
    DemoOrg { name: "CERT-FR", country: Some("FRA"), member_of: &["EU", "NATO"], kind: "national-csirt" },
    DemoOrg { name: "CERT-Bund", country: Some("DEU"), member_of: &["EU", "NATO"], kind: "national-csirt" },
    DemoOrg { name: "NCSC-FI", country: Some("FIN"), member_of: &["EU", "NATO"], kind: "national-csirt" },
    DemoOrg { name: "CERT-EU", country: None, member_of: &["EU"], kind: "eu-body" },
    DemoOrg { name: "NCIRC", country: None, member_of: &["NATO"], kind: "nato-body" },
];

/// A demo user with its web UI password.
struct DemoUser {
    name: &'static str,
    org: &'static str,
    role: &'static str,
    clearance: &'static str,
    briefed: &'static [&'static str],
    password: &'static str,
}

/// The demo logins, printed at every start.
const USERS: &[DemoUser] = &[
    DemoUser { name: "lt-analyst", org: "CERT-LT", role: "coordinator", clearance: "SECRET", briefed: &["EU", "NATO"], password: "demo-lt-analyst-pw" },
    DemoUser { name: "lt-junior", org: "CERT-LT", role: "analyst", clearance: "RESTRICTED", briefed: &["EU", "NATO"], password: "demo-lt-junior-pw" },
    DemoUser { name: "ee-coordinator", org: "CERT-EE", role: "coordinator", clearance: "CONFIDENTIAL", briefed: &["EU", "NATO"], password: "demo-ee-coord-pw" },
    DemoUser { name: "pl-analyst", org: "CERT.PL", role: "analyst", clearance: "RESTRICTED", briefed: &["EU"], password: "demo-pl-analyst-pw" },
    DemoUser { name: "fr-analyst", org: "CERT-FR", role: "analyst", clearance: "CONFIDENTIAL", briefed: &["EU", "NATO"], password: "demo-fr-analyst-pw" },
    DemoUser { name: "eu-duty", org: "CERT-EU", role: "coordinator", clearance: "SECRET", briefed: &["EU"], password: "demo-eu-duty-pw" },
];

/// The OASIS example bundles (BSD-3-Clause, `demo-data/oasis-examples/LICENSE`).
const OASIS_BUNDLES: &[(&str, &[u8])] = &[
    ("apt1.json", include_bytes!("../demo-data/oasis-examples/apt1.json")),
    (
        "defining-campaigns-threat-actors-intrusion-sets.json",
        include_bytes!("../demo-data/oasis-examples/defining-campaigns-threat-actors-intrusion-sets.json"),
    ),
    ("identifying-a-threat-actor-profile.json", include_bytes!("../demo-data/oasis-examples/identifying-a-threat-actor-profile.json")),
    ("indicator-for-malicious-url.json", include_bytes!("../demo-data/oasis-examples/indicator-for-malicious-url.json")),
    ("malware-indicator-for-file-hash.json", include_bytes!("../demo-data/oasis-examples/malware-indicator-for-file-hash.json")),
    ("poisonivy.json", include_bytes!("../demo-data/oasis-examples/poisonivy.json")),
    ("sighting-of-an-indicator.json", include_bytes!("../demo-data/oasis-examples/sighting-of-an-indicator.json")),
    ("sighting-of-observed-data.json", include_bytes!("../demo-data/oasis-examples/sighting-of-observed-data.json")),
    (
        "threat-actor-leveraging-attack-patterns-and-malware.json",
        include_bytes!("../demo-data/oasis-examples/threat-actor-leveraging-attack-patterns-and-malware.json"),
    ),
    ("using-granular-markings.json", include_bytes!("../demo-data/oasis-examples/using-granular-markings.json")),
    ("using-marking-definitions.json", include_bytes!("../demo-data/oasis-examples/using-marking-definitions.json")),
];

/// MITRE ATT&CK for ICS v18.1 (terms of use in `demo-data/attack-ics/LICENSE.txt`).
const ATTACK_ICS: &[u8] = include_bytes!("../demo-data/attack-ics/ics-attack.json");

/// `phalanx demo`.
pub fn run(data: &Path, args: DemoArgs) -> anyhow::Result<Finished> {
    let seeded = data.join("phalanx.sqlite").exists() && open_store(data)?.setting(DEMO_SEEDED)?.is_some();
    if !seeded {
        if data.join("phalanx.sqlite").exists() {
            bail!(
                "{} is a node that was not made by `phalanx demo`: give the demo its own --data directory",
                data.display()
            );
        }
        seed(data)?;
    }
    println!("demo logins (user name / password, organisation, clearance):");
    for u in USERS {
        println!("  {:<15} {:<20} {:<9} {} {}", u.name, u.password, u.org, u.clearance, u.briefed.join(","));
    }
    println!("the dashboard is at the URL below; the API under /api/v1 and TAXII under /taxii2/");
    let command = ServeArgs::augment_args(clap::Command::new("serve").no_binary_name(true));
    let matches = command.try_get_matches_from(["--listen", args.listen.as_str()]).context("--listen")?;
    let serve_args = ServeArgs::from_arg_matches(&matches).context("--listen")?;
    crate::serve::run(data, serve_args)
}

fn strings(items: &[&str]) -> Vec<String> {
    items.iter().map(|s| (*s).to_owned()).collect()
}

fn label(policy: Policy, rank: Rank, releasable_to: &[&str], tlp: &str) -> NewLabel {
    let marking = LabelMarking {
        policy,
        classification: rank,
        releasable_to: releasable_to.iter().map(|s| (*s).to_owned()).collect::<BTreeSet<_>>(),
        ..LabelMarking::unclassified()
    };
    NewLabel { tlp: Some(tlp.to_owned()), label: Some(marking) }
}

fn hours_ago(now: Timestamp, hours: i64) -> Timestamp {
    Timestamp::from_unix_micros(now.unix_micros() - hours * 3_600_000_000).with_digits(3)
}

/// Seeds a fresh data directory.
fn seed(data: &Path) -> anyhow::Result<()> {
    println!("setting up a demo node in {}", data.display());
    init(
        data,
        InitArgs { org_name: NODE_ORG.name.into(), country: NODE_ORG.country.map(str::to_owned), member_of: strings(NODE_ORG.member_of) },
    )?;
    let store = open_store(data)?;
    let admin = actor(&store, None)?;
    let node_org = node_organisation(&store)?;
    for o in ORGS {
        let member_of = strings(o.member_of);
        let input = OrganisationInput { name: o.name, country: o.country, member_of: &member_of, parent: None, kind: Some(o.kind) };
        let record = organisation_record(&store, &input).map_err(|e| crate::node::input_error(e, "name"))?;
        register_organisation(&store, &record, &node_org, &admin.audit_name(), &admin.origin())
            .map_err(|e| crate::node::input_error(e, "name"))?;
    }
    for u in USERS {
        let briefed = strings(u.briefed);
        let input = UserInput { org: u.org, name: u.name, role: Some(u.role), clearance: Some(u.clearance), briefed: &briefed, caveats: &[] };
        let mut user = user_record(&store, &input).map_err(|e| crate::node::input_error(e, "name"))?;
        user.password_hash = Some(hash_password(u.password)?);
        register_user(&store, &user, &admin.audit_name())?;
    }
    import_reference_data(&store, &admin)?;
    let now = Timestamp::now(3);
    seed_response(&store, now)?;
    seed_sightings(&store, now)?;
    let run = crate::alerts::evaluate_alerts(
        &store,
        &admin,
        &phalanx_matcher::alert::AlertPolicy::default(),
        now,
        &mut crate::alerts::SightingCache::default(),
    )?;
    println!("collective-threat alerts raised: {}", run.raised.len());
    store.set_setting(DEMO_SEEDED, &now.to_string())?;
    Ok(())
}

/// Imports the OASIS examples (TLP:GREEN, for every organisation of the
/// federation) and ATT&CK for ICS (TLP:CLEAR) as the node's admin.
fn import_reference_data(store: &SqliteStore, admin: &Actor) -> anyhow::Result<()> {
    let mut stored = 0;
    let inputs = OASIS_BUNDLES.iter().map(|(name, bytes)| (*name, *bytes, "green")).chain([("ics-attack.json", ATTACK_ICS, "clear")]);
    for (name, bytes, tlp) in inputs {
        let options = crate::import::ingest_options(admin, Some(tlp), None)?;
        let result = crate::import::import_reader(store, admin, &options, Limits::default(), Box::new(std::io::Cursor::new(bytes)), None, phalanx_store::pipeline::Sharing::Shared)?;
        if let Some(reason) = result.fatal {
            bail!("demo data {name}: {reason}");
        }
        if let Some(report) = result.report {
            stored += report.stored;
        }
    }
    println!("imported the OASIS examples and ATT&CK for ICS ({stored} objects)");
    Ok(())
}

fn user_actor(store: &SqliteStore, name: &str) -> anyhow::Result<Actor> {
    actor(store, Some(name))
}

/// Incidents of several nations, an assistance request in flight and a
/// deployed team.
fn seed_response(store: &SqliteStore, now: Timestamp) -> anyhow::Result<()> {
    let lt = user_actor(store, "lt-analyst")?;
    let ee = user_actor(store, "ee-coordinator")?;
    let pl = user_actor(store, "pl-analyst")?;
    let fr = user_actor(store, "fr-analyst")?;
    let desk_lt = Desk::new(store, &lt, now);
    let incident = |countries: &[&str], sector: Sector, impact: ImpactSeverity, threat: ThreatSeverity, aware_hours: i64, significant: bool| IncidentChanges {
        affected_countries: strings(countries),
        sectors: vec![sector],
        nis_impact_severity: Some(impact),
        nis_threat_severity: Some(threat),
        significant: Some(significant),
        aware_at: Some(hours_ago(now, aware_hours)),
        ..IncidentChanges::default()
    };
    let hospital = desk_lt.open_incident(
        "Ransomware at a university hospital",
        Some("Patient records encrypted; emergency department on paper since 06:00."),
        &incident(&["LTU"], Sector::Health, ImpactSeverity::Red, ThreatSeverity::High, 30, true),
        &label(Policy::Eu, Rank::Restricted, &["EU"], "amber"),
    )?;
    desk_lt.open_incident(
        "Intrusion into the electricity grid's SCADA network",
        Some("Implant found on engineering workstations of the transmission operator."),
        &incident(&["LTU", "LVA"], Sector::EnergyElectricity, ImpactSeverity::Yellow, ThreatSeverity::High, 10, true),
        &label(Policy::Nato, Rank::Secret, &["NATO"], "amber"),
    )?;
    let desk_ee = Desk::new(store, &ee, now);
    desk_ee.open_incident(
        "DDoS against e-government portals",
        None,
        &incident(&["EST"], Sector::PublicAdministration, ImpactSeverity::Yellow, ThreatSeverity::Medium, 80, true),
        &NewLabel { tlp: Some("green".into()), label: None },
    )?;
    Desk::new(store, &pl, now).open_incident(
        "Phishing against ministries",
        None,
        &incident(&["POL"], Sector::PublicAdministration, ImpactSeverity::Green, ThreatSeverity::Medium, 5, false),
        &NewLabel { tlp: Some("green".into()), label: None },
    )?;
    Desk::new(store, &fr, now).open_incident(
        "Wiper on port logistics systems",
        None,
        &incident(&["FRA"], Sector::TransportWater, ImpactSeverity::Red, ThreatSeverity::High, 50, true),
        &label(Policy::Eu, Rank::Confidential, &["EU"], "amber"),
    )?;

    // An assistance request in flight: approved, waiting for activation.
    let services = vec![Service::IncidentResponse, Service::DigitalForensics];
    let input = RequestInput {
        description: Some("On-site incident response and forensics for the university hospital.".into()),
        incident_ref: Some(hospital.meta.id.clone()),
        estimated_needs: Some("4 experts for 10 days".into()),
        mitigation_taken: Some("network segmented, backups verified".into()),
        legal_basis: Some("CRRT memorandum of understanding".into()),
        ..RequestInput::new("CRRT support for the hospital ransomware", Channel::Crrt, lt.org_id(), services, Mode::OnSite)
    };
    let request = desk_lt.open_request(&input, &NewLabel::default(), true)?;
    for to in [RequestState::Assessing, RequestState::Approved] {
        desk_lt.transition_request(&request.meta.id, &TransitionInput { to, reason: Some("demo".into()), location: None })?;
    }
    for (name, hours) in [("Prepare the host-nation arrangement", 12), ("Image the affected servers", 24)] {
        let task = TaskInput {
            name: name.into(),
            description: None,
            incident_ref: None,
            request_ref: Some(request.meta.id.clone()),
            owner: Some("lt-analyst".into()),
            due: Some(Timestamp::from_unix_micros(now.unix_micros() + hours * 3_600_000_000).with_digits(3)),
        };
        desk_lt.add_task(&task, &NewLabel::default())?;
    }

    // A deployed team: Estonia asked for remote help, Poland sent an expert.
    let input = RequestInput::new(
        "Mutual assistance: DDoS mitigation",
        Channel::CsirtsNetworkMutualAssistance,
        ee.org_id(),
        vec![Service::IncidentResponse],
        Mode::Remote,
    );
    let green = NewLabel { tlp: Some("green".into()), label: None };
    let ddos = desk_ee.open_request(&input, &green, true)?;
    for to in [RequestState::Assessing, RequestState::Approved, RequestState::Activated, RequestState::TeamForming] {
        desk_ee.transition_request(&ddos.meta.id, &TransitionInput { to, reason: None, location: None })?;
    }
    let desk_pl = Desk::new(store, &pl, now);
    let expert = desk_pl.add_expert(
        "Marta Nowak",
        ExpertDetails {
            nationalities: vec!["POL".into()],
            organisation_ref: pl.org_id().to_owned(),
            skills: vec![Skill::TeamLead, Skill::IncidentHandling],
            clearance: Rank::Secret,
            briefings: vec![Policy::Eu, Policy::Nato],
            caveats: Vec::new(),
            languages: vec!["pl".into(), "en".into()],
            availability: Vec::new(),
        },
        &green,
    )?;
    desk_pl.offer(
        OfferDetails { request_ref: ddos.meta.id.clone(), nation: "POL".into(), expert_refs: vec![expert.meta.id.clone()], note: None },
        &NewLabel::default(),
    )?;
    desk_ee.add_team_member(&ddos.meta.id, &expert.meta.id, TeamRole::TeamLead)?;
    for to in [RequestState::Cleared, RequestState::Deployed] {
        desk_ee.transition_request(&ddos.meta.id, &TransitionInput { to, reason: None, location: None })?;
    }
    println!("opened 5 incidents, an approved CRRT request with two tasks and a deployed team");
    Ok(())
}

/// One indicator of CERT-LT, sighted by organisations of four countries
/// within the alert window.
fn seed_sightings(store: &SqliteStore, now: Timestamp) -> anyhow::Result<()> {
    let lt = user_actor(store, "lt-analyst")?;
    let indicator_id = "indicator--5c2a2d3e-7f3b-4c61-9d0e-6b1f2a9d4c70";
    let indicator = serde_json::json!({
        "type": "indicator", "spec_version": "2.1", "id": indicator_id,
        "created": hours_ago(now, 12).to_string(), "modified": hours_ago(now, 12).to_string(),
        "created_by_ref": lt.org_id(),
        "name": "Wiper C2 domain update-check.example.net",
        "indicator_types": ["malicious-activity"],
        "pattern": "[domain-name:value = 'update-check.example.net']", "pattern_type": "stix",
        "valid_from": hours_ago(now, 12).to_string(),
        "object_marking_refs": [phalanx_labels::TLP2_GREEN],
    });
    write_as(store, &lt, vec![indicator])?;
    for (i, user) in ["lt-analyst", "ee-coordinator", "pl-analyst", "fr-analyst"].iter().enumerate() {
        let actor = user_actor(store, user)?;
        let seen = hours_ago(now, 6 - i as i64);
        let sighting = serde_json::json!({
            "type": "sighting", "spec_version": "2.1", "id": format!("sighting--{}", uuid::Uuid::new_v4()),
            "created": seen.to_string(), "modified": seen.to_string(),
            "created_by_ref": actor.org_id(),
            "sighting_of_ref": indicator_id,
            "where_sighted_refs": [actor.org_id()],
            "first_seen": seen.to_string(), "last_seen": seen.to_string(), "count": 3 + i,
            "object_marking_refs": [phalanx_labels::TLP2_GREEN],
        });
        write_as(store, &actor, vec![sighting])?;
    }
    println!("4 organisations of 4 countries sighted {indicator_id}");
    Ok(())
}

/// Writes objects as `actor` through the ingest, in one transaction;
/// refuses the whole write if any object is refused.
fn write_as(store: &SqliteStore, actor: &Actor, objects: Vec<serde_json::Value>) -> anyhow::Result<()> {
    let options = crate::import::ingest_options(actor, None, None)?;
    let mut txn = store.begin()?;
    let mut ingest = phalanx_store::ingest::Ingest::new(store, actor, options)?;
    for (i, value) in objects.into_iter().enumerate() {
        let path = format!("$[{i}]");
        match phalanx_model::StixObject::from_value(value, &path) {
            Ok(parsed) => ingest.object(txn.as_mut(), &path, parsed)?,
            Err(errors) => ingest.refuse_invalid(&path, &errors),
        }
    }
    let report = ingest.finish(txn.as_mut())?;
    if let Some(r) = report.refused.first() {
        bail!("demo data refused: {}: {}", r.id.as_deref().unwrap_or(&r.path), r.reason);
    }
    txn.commit()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_users_have_valid_passwords_and_distinct_names() {
        let mut names = BTreeSet::new();
        for u in USERS {
            assert!(phalanx_auth::identity::check_password(u.password).is_ok(), "{}", u.name);
            assert!(names.insert(u.name), "{} twice", u.name);
            assert!(ORGS.iter().any(|o| o.name == u.org) || NODE_ORG.name == u.org, "{}: unknown organisation", u.name);
        }
    }
}
