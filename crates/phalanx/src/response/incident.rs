//! `phalanx incident open|update|show|list`.

use super::{ActAs, LabelArgs, Session, domain_outcome, or_dash, parse_time, parse_value, parse_values, print_json};
use crate::Finished;
use anyhow::Context;
use phalanx_response::incident::{Incident, IncidentChanges, IncidentStatus};
use phalanx_response::stix::INCIDENT_TYPE;
use phalanx_response::vocab::Sector;
use std::path::Path;

/// `phalanx incident` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum IncidentCommand {
    /// Open an incident reported by your organisation; prints its id on the last line.
    Open(OpenArgs),
    /// Change an incident: fields, status, timeline, reports sent.
    Update(UpdateArgs),
    /// Show an incident with its NIS2 clocks and timeline.
    Show(ShowArgs),
    /// List the incidents you may read.
    List(ListArgs),
}

/// Incident fields shared by `open` and `update` (lists add to what is there).
#[derive(clap::Args, Debug, Default)]
pub struct IncidentFields {
    /// Description.
    #[arg(long)]
    pub description: Option<String>,
    /// Affected organisations, by name or id (comma-separated).
    #[arg(long, value_delimiter = ',')]
    pub affected: Vec<String>,
    /// Affected countries, ISO 3166 alpha-3 (comma-separated).
    #[arg(long = "country", value_delimiter = ',')]
    pub countries: Vec<String>,
    /// Sectors (NIS2 Annex I/II, defence, csdp, elections, diplomatic; comma-separated).
    #[arg(long = "sector", value_delimiter = ',')]
    pub sectors: Vec<String>,
    /// Entity class: essential, important, none.
    #[arg(long)]
    pub entity_class: Option<String>,
    /// Incident type, which selects playbooks (e.g. ransomware-hospital).
    #[arg(long = "type")]
    pub incident_type: Option<String>,
    /// RSIT class (e.g. malicious-code).
    #[arg(long)]
    pub rsit_class: Option<String>,
    /// RSIT type of that class (e.g. infected-system).
    #[arg(long)]
    pub rsit_type: Option<String>,
    /// NIS CG root cause.
    #[arg(long)]
    pub root_cause: Option<String>,
    /// NIS CG threat severity: high, medium, low.
    #[arg(long)]
    pub threat_severity: Option<String>,
    /// NIS CG impact severity: red, yellow, green, white.
    #[arg(long)]
    pub impact_severity: Option<String>,
    /// NIS CG outlook: improving, stable, worsening.
    #[arg(long)]
    pub outlook: Option<String>,
    /// Significant incident (NIS2 Art 23(3)); `--significant false` clears it.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub significant: Option<bool>,
    /// Cross-border impact.
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub cross_border: Option<bool>,
    /// Large-scale incident (NIS2 Art 6(7)).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub large_scale: Option<bool>,
    /// The entity is a trust service provider (notification due in 24 h).
    #[arg(long, num_args = 0..=1, default_missing_value = "true")]
    pub trust_service_provider: Option<bool>,
    /// When it was detected (timestamp or `now`).
    #[arg(long)]
    pub detected_at: Option<String>,
    /// When the entity became aware of it: the NIS2 clocks run from here (default: when opened).
    #[arg(long)]
    pub aware_at: Option<String>,
    /// Linked objects: indicators, observables, reports, attack patterns (comma-separated ids).
    #[arg(long, value_delimiter = ',')]
    pub link: Vec<String>,
}

/// Arguments of `phalanx incident open`.
#[derive(clap::Args, Debug)]
pub struct OpenArgs {
    #[command(flatten)]
    act: ActAs,
    /// Title.
    #[arg(long)]
    name: String,
    #[command(flatten)]
    fields: IncidentFields,
    #[command(flatten)]
    label: LabelArgs,
}

/// Arguments of `phalanx incident update`.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    act: ActAs,
    /// The incident's id.
    id: String,
    /// New title.
    #[arg(long)]
    name: Option<String>,
    #[command(flatten)]
    fields: IncidentFields,
    /// Move to this status (new, triaged, analysing, containing, recovering, closed, reviewed).
    #[arg(long)]
    status: Option<String>,
    /// Why (recorded with the status change).
    #[arg(long)]
    reason: Option<String>,
    /// Add a timeline entry with this text.
    #[arg(long)]
    note: Option<String>,
    /// Objects the timeline entry is about (comma-separated ids).
    #[arg(long, value_delimiter = ',', requires = "note")]
    note_ref: Vec<String>,
    /// The early warning was sent at this time (timestamp or `now`).
    #[arg(long)]
    early_warning_sent: Option<String>,
    /// The incident notification was sent at this time (timestamp or `now`).
    #[arg(long)]
    notification_sent: Option<String>,
    /// The final report was sent at this time (timestamp or `now`).
    #[arg(long)]
    final_report_sent: Option<String>,
}

/// Arguments of `phalanx incident show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    act: ActAs,
    /// The incident's id.
    id: String,
    /// The STIX object and the clocks as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `phalanx incident list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    act: ActAs,
    /// Only incidents in this status.
    #[arg(long)]
    status: Option<String>,
    /// One JSON object per incident (id, name, status, clocks).
    #[arg(long)]
    json: bool,
}

/// Runs an `incident` subcommand.
pub fn run(data: &Path, command: IncidentCommand) -> anyhow::Result<Finished> {
    match command {
        IncidentCommand::Open(args) => open(data, args),
        IncidentCommand::Update(args) => update(data, args),
        IncidentCommand::Show(args) => show(data, args),
        IncidentCommand::List(args) => list(data, args),
    }
}

fn changes(session: &Session, f: &IncidentFields) -> anyhow::Result<IncidentChanges> {
    let now = session.now();
    let affected =
        f.affected.iter().map(|a| session.organisation_id("affected", a)).collect::<anyhow::Result<Vec<_>>>()?;
    Ok(IncidentChanges {
        name: None,
        description: f.description.clone(),
        affected_refs: affected,
        affected_countries: f.countries.iter().map(|c| c.trim().to_ascii_uppercase()).collect(),
        sectors: parse_values::<Sector>("sector", &f.sectors)?,
        entity_class: parse_value("entity-class", f.entity_class.as_ref())?,
        incident_type: f.incident_type.clone(),
        rsit_class: parse_value("rsit-class", f.rsit_class.as_ref())?,
        rsit_type: f.rsit_type.clone(),
        nis_root_cause: parse_value("root-cause", f.root_cause.as_ref())?,
        nis_threat_severity: parse_value("threat-severity", f.threat_severity.as_ref())?,
        nis_impact_severity: parse_value("impact-severity", f.impact_severity.as_ref())?,
        nis_outlook: parse_value("outlook", f.outlook.as_ref())?,
        significant: f.significant,
        cross_border: f.cross_border,
        large_scale: f.large_scale,
        trust_service_provider: f.trust_service_provider,
        detected_at: f.detected_at.as_deref().map(|t| parse_time("detected-at", t, now)).transpose()?,
        aware_at: f.aware_at.as_deref().map(|t| parse_time("aware-at", t, now)).transpose()?,
        early_warning_sent_at: None,
        notification_sent_at: None,
        final_report_sent_at: None,
        linked_refs: f.link.iter().map(|l| l.trim().to_owned()).collect(),
    })
}

fn open(data: &Path, args: OpenArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let label = session.label_for_new(&args.label, None)?;
    let changes = changes(&session, &args.fields)?;
    let incident = Incident::open(&args.name, session.org(), &label, &changes, &session.who(), session.now())?;
    let finished = session.write(&label, vec![incident.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!("opened incident '{}' (status new, label {})", incident.name, super::label_text(&label));
        println!("{}", incident.meta.id);
    }
    Ok(finished)
}

/// Loads the latest version of an incident the user may read.
pub fn load(session: &Session, id: &str) -> anyhow::Result<(Incident, phalanx_store::StoredObject)> {
    let stored = session.latest("incident", id)?;
    let value: serde_json::Value = phalanx_model::strict::parse_text(&stored.json).context("stored incident is not json")?;
    Ok((Incident::from_stix(&value)?, stored))
}

fn update(data: &Path, args: UpdateArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let (mut incident, stored) = load(&session, &args.id)?;
    if let Some(refused) =
        session.refuse_unless_originator("incident", &incident.meta.id, &incident.meta.created_by_ref)
    {
        return Ok(refused);
    }
    let now = session.now();
    let mut changes = changes(&session, &args.fields)?;
    changes.name = args.name.clone();
    changes.early_warning_sent_at =
        args.early_warning_sent.as_deref().map(|t| parse_time("early-warning-sent", t, now)).transpose()?;
    changes.notification_sent_at =
        args.notification_sent.as_deref().map(|t| parse_time("notification-sent", t, now)).transpose()?;
    changes.final_report_sent_at =
        args.final_report_sent.as_deref().map(|t| parse_time("final-report-sent", t, now)).transpose()?;
    let status: Option<IncidentStatus> = parse_value("status", args.status.as_ref())?;
    if changes.is_empty() && status.is_none() && args.note.is_none() {
        anyhow::bail!("nothing to change: give fields, --status, --note or a report time");
    }
    if !changes.is_empty() {
        incident.update(&changes, now)?;
    }
    if let Some(note) = &args.note {
        incident.add_timeline(&session.who(), note, &args.note_ref, None, now)?;
    }
    if let Some(to) = status {
        if let Some(refused) = domain_outcome(incident.set_status(to, &session.who(), args.reason.as_deref(), now))? {
            return Ok(refused);
        }
        if let Some(reason) = &args.reason {
            incident.add_timeline(&session.who(), &format!("status {to}: {reason}"), &[], None, now)?;
        }
    }
    let finished = session.write(&stored.label, vec![incident.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!(
            "updated incident {} (status {}, version {})",
            incident.meta.id, incident.details.status, incident.meta.modified
        );
    }
    Ok(finished)
}

fn clocks_json(incident: &Incident, now: phalanx_model::Timestamp) -> serde_json::Value {
    serde_json::to_value(incident.nis2_clocks(now)).unwrap_or(serde_json::Value::Null)
}

fn show(data: &Path, args: ShowArgs) -> anyhow::Result<Finished> {
    let session = Session::open(data, &args.act)?;
    let (incident, stored) = load(&session, &args.id)?;
    session.audit_shown(std::slice::from_ref(&stored), "cli:incident-show")?;
    let now = session.now();
    if args.json {
        print_json(&serde_json::json!({
            "object": incident.to_stix(),
            "label": super::label_text(&stored.label),
            "nis2_clocks": clocks_json(&incident, now),
        }))?;
        return Ok(Finished::Ok);
    }
    let d = &incident.details;
    println!("incident {}", incident.meta.id);
    println!("  name: {}", incident.name);
    if let Some(desc) = &incident.description {
        println!("  description: {desc}");
    }
    println!("  label: {}", super::label_text(&stored.label));
    println!("  status: {}", d.status);
    println!("  reporter: {}", session.organisation_name(&d.reporter_ref));
    let names: Vec<String> = d.affected_refs.iter().map(|a| session.organisation_name(a)).collect();
    println!("  affected: {}", if names.is_empty() { "-".into() } else { names.join(", ") });
    println!(
        "  countries: {}",
        if d.affected_countries.is_empty() { "-".into() } else { d.affected_countries.join(", ") }
    );
    let sectors: Vec<String> = d
        .sectors
        .iter()
        .map(|s| match s.nis2_code() {
            Some(c) => format!("{s} ({c})"),
            None => s.to_string(),
        })
        .collect();
    println!("  sectors: {}", if sectors.is_empty() { "-".into() } else { sectors.join(", ") });
    println!("  entity class: {}", d.entity_class);
    println!(
        "  rsit: {} / {}",
        d.rsit_class.map(|c| c.to_string()).unwrap_or_else(|| "-".into()),
        d.rsit_type.as_deref().unwrap_or("-")
    );
    println!(
        "  nis cg: root cause {}, threat {}, impact {}, outlook {}",
        d.nis_root_cause.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        d.nis_threat_severity.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        d.nis_impact_severity.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
        d.nis_outlook.map(|v| v.to_string()).unwrap_or_else(|| "-".into()),
    );
    println!(
        "  flags: significant {}, cross-border {}, large-scale {}, trust service provider {}",
        d.significant, d.cross_border, d.large_scale, d.trust_service_provider
    );
    println!("  detected: {}  aware: {}", or_dash(d.detected_at), d.aware_at);
    println!("  nis2 clocks{}:", if d.significant { "" } else { " (not flagged significant)" });
    for c in incident.nis2_clocks(now).all() {
        println!(
            "    {:<14} due {}  {}{}{}",
            c.name,
            c.due,
            c.state,
            c.done_at.map(|t| format!(" (sent {t})")).unwrap_or_default(),
            if c.provisional { " (provisional: runs from the notification)" } else { "" }
        );
    }
    if !d.linked_refs.is_empty() {
        println!("  links:");
        for l in &d.linked_refs {
            println!("    {l}");
        }
    }
    println!("  timeline:");
    for e in &d.timeline {
        let refs = if e.object_refs.is_empty() { String::new() } else { format!(" [{}]", e.object_refs.join(", ")) };
        println!("    {}  {}  {}{}", e.time, e.author, e.text, refs);
    }
    if !d.status_history.is_empty() {
        println!("  status history:");
        for c in &d.status_history {
            println!(
                "    {}  {} -> {}  {}  {}",
                c.time,
                c.from_state,
                c.to_state,
                c.actor,
                c.reason.as_deref().unwrap_or("")
            );
        }
    }
    Ok(Finished::Ok)
}

fn list(data: &Path, args: ListArgs) -> anyhow::Result<Finished> {
    let session = Session::open(data, &args.act)?;
    let status: Option<IncidentStatus> = parse_value("status", args.status.as_ref())?;
    let now = session.now();
    let mut shown = Vec::new();
    let mut rows = Vec::new();
    for stored in session.all_of(INCIDENT_TYPE)? {
        let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
        // Incidents from other tools, without the Phalanx extension, are not listed here.
        let Ok(incident) = Incident::from_stix(&value) else { continue };
        if status.is_some_and(|s| s != incident.details.status) {
            continue;
        }
        rows.push((incident, super::label_text(&stored.label)));
        shown.push(stored);
    }
    session.audit_shown(&shown, "cli:incident-list")?;
    if !args.json {
        println!("ID\tSTATUS\tSIGNIFICANT\tEARLY-WARNING\tNOTIFICATION\tFINAL-REPORT\tLABEL\tNAME");
    }
    for (incident, label) in rows {
        let clocks = incident.nis2_clocks(now);
        if args.json {
            println!(
                "{}",
                serde_json::json!({
                    "id": incident.meta.id,
                    "name": incident.name,
                    "status": incident.details.status,
                    "significant": incident.details.significant,
                    "label": label,
                    "nis2_clocks": clocks,
                })
            );
        } else {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                incident.meta.id,
                incident.details.status,
                if incident.details.significant { "yes" } else { "no" },
                clocks.early_warning.state,
                clocks.notification.state,
                clocks.final_report.state,
                label,
                incident.name
            );
        }
    }
    Ok(Finished::Ok)
}
