//! `phalanx assist request|transition|team|show|list`.

use super::{ActAs, LabelArgs, Session, domain_outcome, or_dash, parse_value, parse_values, print_json};
use crate::Finished;
use anyhow::Context;
use phalanx_model::Timestamp;
use phalanx_response::clock::format_duration;
use phalanx_response::metrics::{ChannelMetrics, RequestMetrics, channel_metrics, request_metrics};
use phalanx_response::request::{AssistanceRequest, RequestInput, RequestState, TransitionInput};
use phalanx_response::roster::ExpertOffer;
use phalanx_response::stix::{ASSISTANCE_REQUEST_TYPE, EXPERT_OFFER_TYPE};
use phalanx_response::vocab::{Channel, Mode, Service, TeamRole};
use phalanx_store::StoredObject;
use std::path::Path;

/// `phalanx assist` subcommands.
#[derive(clap::Subcommand, Debug)]
#[allow(clippy::large_enum_variant)] // parsed once per process
pub enum AssistCommand {
    /// Ask for assistance (a draft, or submitted with --submit); prints its id on the last line.
    Request(RequestArgs),
    /// Move a request to its next state, recording who, when and why.
    Transition(TransitionArgs),
    /// Add an offered expert to a request's team (refused, naming the rule,
    /// when the expert may not read the incident's label).
    Team(TeamArgs),
    /// Show a request: state, transitions, team, deployment, offers, metrics.
    Show(ShowArgs),
    /// List requests, with response metrics per request and per channel.
    List(ListArgs),
}

/// Arguments of `phalanx assist request`.
#[derive(clap::Args, Debug)]
pub struct RequestArgs {
    #[command(flatten)]
    act: ActAs,
    /// Title.
    #[arg(long)]
    name: String,
    /// Description.
    #[arg(long)]
    description: Option<String>,
    /// Channel: crrt, eu-cybersecurity-reserve, csirts-network-mutual-assistance, bilateral.
    #[arg(long)]
    channel: String,
    /// The organisation to help, by name or id.
    #[arg(long)]
    beneficiary: String,
    /// The incident (optional: preventive work such as elections has none).
    #[arg(long)]
    incident: Option<String>,
    /// Services needed (comma-separated): incident-response, digital-forensics, malware-analysis, ...
    #[arg(long = "service", value_delimiter = ',', required = true)]
    services: Vec<String>,
    /// Mode: on-site, remote, hybrid.
    #[arg(long)]
    mode: String,
    /// Estimated needs (experts, duration).
    #[arg(long)]
    needs: Option<String>,
    /// Mitigation already taken.
    #[arg(long)]
    mitigation: Option<String>,
    /// Other support available (contracts, insurance).
    #[arg(long)]
    other_support: Option<String>,
    /// Legal basis (CRRT MoU, host-nation arrangement, Reserve specific agreement).
    #[arg(long)]
    legal_basis: Option<String>,
    /// Response target in hours (default: 72 for the CRRT, 48 for the Reserve).
    #[arg(long)]
    target_hours: Option<u32>,
    /// Submit it at once (draft -> submitted).
    #[arg(long)]
    submit: bool,
    #[command(flatten)]
    label: LabelArgs,
}

/// Arguments of `phalanx assist transition`.
#[derive(clap::Args, Debug)]
pub struct TransitionArgs {
    #[command(flatten)]
    act: ActAs,
    /// The request's id.
    id: String,
    /// The state to move to.
    #[arg(long)]
    to: String,
    /// Why (required for rejected and cancelled).
    #[arg(long)]
    reason: Option<String>,
    /// Where the team deploys (with --to deployed; `remote` by default for remote support).
    #[arg(long)]
    location: Option<String>,
}

/// Arguments of `phalanx assist team`.
#[derive(clap::Args, Debug)]
pub struct TeamArgs {
    #[command(flatten)]
    act: ActAs,
    /// The request's id.
    id: String,
    /// The expert to add (`x-phalanx-expert--...`), offered for this request.
    #[arg(long)]
    add: String,
    /// Role: team-lead, incident-handler, forensic-analyst, malware-analyst,
    /// vulnerability-assessor, ics-ot-specialist, osint-fimi-analyst, liaison.
    #[arg(long)]
    role: String,
}

/// Arguments of `phalanx assist show`.
#[derive(clap::Args, Debug)]
pub struct ShowArgs {
    #[command(flatten)]
    act: ActAs,
    /// The request's id.
    id: String,
    /// The STIX object, offers and metrics as JSON.
    #[arg(long)]
    json: bool,
}

/// Arguments of `phalanx assist list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    act: ActAs,
    /// Only requests of this channel.
    #[arg(long)]
    channel: Option<String>,
    /// Only requests in this state.
    #[arg(long)]
    state: Option<String>,
    /// JSON: the metrics of each request and of each channel.
    #[arg(long)]
    json: bool,
}

/// Runs an `assist` subcommand.
pub fn run(data: &Path, command: AssistCommand) -> anyhow::Result<Finished> {
    match command {
        AssistCommand::Request(args) => request(data, args),
        AssistCommand::Transition(args) => transition(data, args),
        AssistCommand::Team(args) => team(data, args),
        AssistCommand::Show(args) => show(data, args),
        AssistCommand::List(args) => list(data, args),
    }
}

/// Loads the latest version of a request the user may read.
pub fn load(session: &Session, id: &str) -> anyhow::Result<(AssistanceRequest, StoredObject)> {
    let stored = session.latest("assistance request", id)?;
    let value: serde_json::Value = phalanx_model::strict::parse_text(&stored.json).context("stored request is not json")?;
    Ok((AssistanceRequest::from_stix(&value)?, stored))
}

/// The offers for `request_id` that the user may read.
pub fn offers_for(session: &Session, request_id: &str) -> anyhow::Result<Vec<(ExpertOffer, StoredObject)>> {
    let mut out = Vec::new();
    for stored in session.all_of(EXPERT_OFFER_TYPE)? {
        let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
        let Ok(offer) = ExpertOffer::from_stix(&value) else { continue };
        if offer.details.request_ref == request_id {
            out.push((offer, stored));
        }
    }
    Ok(out)
}

fn request(data: &Path, args: RequestArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let incident = match &args.incident {
        Some(id) => Some(super::incident::load(&session, id)?),
        None => None,
    };
    let label = session.label_for_new(&args.label, incident.as_ref().map(|(_, s)| &s.label))?;
    let input = RequestInput {
        name: args.name.clone(),
        description: args.description.clone(),
        channel: parse_value::<Channel>("channel", Some(&args.channel))?.context("--channel is required")?,
        beneficiary_ref: session.organisation_id("beneficiary", &args.beneficiary)?,
        incident_ref: incident.as_ref().map(|(i, _)| i.meta.id.clone()),
        services: parse_values::<Service>("service", &args.services)?,
        mode: parse_value::<Mode>("mode", Some(&args.mode))?.context("--mode is required")?,
        estimated_needs: args.needs.clone(),
        mitigation_taken: args.mitigation.clone(),
        other_support: args.other_support.clone(),
        legal_basis: args.legal_basis.clone(),
        response_target_hours: args.target_hours,
    };
    let now = session.now();
    let mut request = AssistanceRequest::draft(&input, session.org(), &label, now)?;
    if args.submit {
        let submit = TransitionInput { to: RequestState::Submitted, reason: None, location: None };
        request.transition(&submit, &session.who(), now)?;
    }
    let finished = session.write(&label, vec![request.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!(
            "assistance request '{}' ({}, {}; response target {} h; label {})",
            request.name,
            request.details.channel,
            request.details.state,
            request.details.response_target_hours,
            super::label_text(&label)
        );
        println!("{}", request.meta.id);
    }
    Ok(finished)
}

fn transition(data: &Path, args: TransitionArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let (mut request, stored) = load(&session, &args.id)?;
    if let Some(refused) =
        session.refuse_unless_originator("assistance request", &request.meta.id, &request.meta.created_by_ref)
    {
        return Ok(refused);
    }
    let to = parse_value::<RequestState>("to", Some(&args.to))?.context("--to is required")?;
    let input = TransitionInput { to, reason: args.reason.clone(), location: args.location.clone() };
    let from = request.details.state;
    if let Some(refused) = domain_outcome(request.transition(&input, &session.who(), session.now()))? {
        return Ok(refused);
    }
    let finished = session.write(&stored.label, vec![request.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!("{} {from} -> {to} at {} by {}", request.meta.id, request.meta.modified, session.who());
        tracing::info!(request = %request.meta.id, from = %from, to = %to, actor = %session.who(), "assistance request transition");
    }
    Ok(finished)
}

fn team(data: &Path, args: TeamArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let (mut request, stored) = load(&session, &args.id)?;
    if let Some(refused) =
        session.refuse_unless_originator("assistance request", &request.meta.id, &request.meta.created_by_ref)
    {
        return Ok(refused);
    }
    let role = parse_value::<TeamRole>("role", Some(&args.role))?.context("--role is required")?;
    let (expert, _) = super::roster::load_expert(&session, &args.add)?;
    // The label the expert must be able to read: the incident's, or the request's without one.
    let label = match &request.details.incident_ref {
        Some(id) => super::incident::load(&session, id)?.1.label,
        None => stored.label.clone(),
    };
    let offers: Vec<ExpertOffer> = offers_for(&session, &request.meta.id)?.into_iter().map(|(o, _)| o).collect();
    let organisation = session.organisation(&expert.details.organisation_ref)?;
    let context = session.actor.subject.context().map(str::to_owned);
    let result = request.add_member(
        &expert,
        &organisation,
        role,
        &offers,
        &label,
        context.as_deref(),
        &session.who(),
        session.now(),
    );
    if let Some(refused) = domain_outcome(result)? {
        tracing::info!(request = %request.meta.id, expert = %expert.meta.id, "team member refused");
        return Ok(refused);
    }
    let finished = session.write(&stored.label, vec![request.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!(
            "added {} ({}) to the team of {} as {} ({} member(s))",
            expert.name,
            expert.meta.id,
            request.meta.id,
            role,
            request.details.team.len()
        );
    }
    Ok(finished)
}

fn duration(d: Option<std::time::Duration>) -> String {
    d.map(format_duration).unwrap_or_else(|| "-".into())
}

fn show(data: &Path, args: ShowArgs) -> anyhow::Result<Finished> {
    let session = Session::open(data, &args.act)?;
    let (request, stored) = load(&session, &args.id)?;
    let offers = offers_for(&session, &request.meta.id)?;
    let mut shown = vec![stored.clone()];
    shown.extend(offers.iter().map(|(_, s)| s.clone()));
    session.audit_shown(&shown, "cli:assist-show")?;
    let now: Timestamp = session.now();
    let metrics = request_metrics(&request, now);
    if args.json {
        print_json(&serde_json::json!({
            "object": request.to_stix(),
            "label": super::label_text(&stored.label),
            "allowed_next": request.details.state.allowed_next(),
            "response": request.response_deadline(now),
            "metrics": metrics.to_json(),
            "offers": offers.iter().map(|(o, _)| o.to_stix()).collect::<Vec<_>>(),
        }))?;
        return Ok(Finished::Ok);
    }
    let d = &request.details;
    println!("assistance request {}", request.meta.id);
    println!("  name: {}", request.name);
    if let Some(desc) = &request.description {
        println!("  description: {desc}");
    }
    println!("  label: {}", super::label_text(&stored.label));
    println!("  channel: {}  mode: {}", d.channel, d.mode);
    println!(
        "  requester: {}  beneficiary: {}",
        session.organisation_name(&d.requester_ref),
        session.organisation_name(&d.beneficiary_ref)
    );
    println!("  incident: {}", d.incident_ref.as_deref().unwrap_or("- (preventive)"));
    println!("  services: {}", d.services.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(", "));
    for (name, value) in [
        ("estimated needs", &d.estimated_needs),
        ("mitigation taken", &d.mitigation_taken),
        ("other support", &d.other_support),
        ("legal basis", &d.legal_basis),
    ] {
        if let Some(v) = value {
            println!("  {name}: {v}");
        }
    }
    let next: Vec<String> = d.state.allowed_next().iter().map(|s| s.to_string()).collect();
    println!("  state: {} (next: {})", d.state, if next.is_empty() { "none".into() } else { next.join(", ") });
    match request.response_deadline(now) {
        Some(r) => println!("  response target: {} h, due {}  {}", d.response_target_hours, r.due, r.state),
        None => println!("  response target: {} h (not running)", d.response_target_hours),
    }
    println!("  transitions:");
    for t in &d.transitions {
        println!(
            "    {}  {} -> {}  {}  {}",
            t.time,
            t.from_state,
            t.to_state,
            t.actor,
            t.reason.as_deref().unwrap_or("")
        );
    }
    println!("  team:");
    for m in &d.team {
        println!("    {}  {}  {}  added {} by {}", m.role, m.nationality, m.expert_ref, m.added_at, m.added_by);
    }
    match &d.deployment {
        Some(dep) => println!("  deployment: {} from {} to {}", dep.location, dep.start, or_dash(dep.end)),
        None => println!("  deployment: -"),
    }
    println!("  offers:");
    for (o, _) in &offers {
        println!(
            "    {}  {}  {} expert(s): {}",
            o.meta.id,
            o.details.nation,
            o.details.expert_refs.len(),
            o.details.expert_refs.join(", ")
        );
    }
    println!(
        "  metrics: acknowledge {}, activate {}, deploy {}, close {}",
        duration(metrics.time_to_acknowledge),
        duration(metrics.time_to_activate),
        duration(metrics.time_to_deploy),
        duration(metrics.time_to_close)
    );
    Ok(Finished::Ok)
}

fn list(data: &Path, args: ListArgs) -> anyhow::Result<Finished> {
    let session = Session::open(data, &args.act)?;
    let channel: Option<Channel> = parse_value("channel", args.channel.as_ref())?;
    let state: Option<RequestState> = parse_value("state", args.state.as_ref())?;
    let now = session.now();
    let mut rows = Vec::new();
    let mut shown = Vec::new();
    for stored in session.all_of(ASSISTANCE_REQUEST_TYPE)? {
        let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
        let Ok(request) = AssistanceRequest::from_stix(&value) else { continue };
        if channel.is_some_and(|c| c != request.details.channel) || state.is_some_and(|s| s != request.details.state) {
            continue;
        }
        rows.push(request);
        shown.push(stored);
    }
    session.audit_shown(&shown, "cli:assist-list")?;
    let metrics: Vec<RequestMetrics> = rows.iter().map(|r| request_metrics(r, now)).collect();
    let per_channel = channel_metrics(&metrics);
    if args.json {
        print_json(&serde_json::json!({
            "requests": rows.iter().zip(&metrics).map(|(r, m)| {
                let mut v = m.to_json();
                v["name"] = serde_json::json!(r.name);
                v
            }).collect::<Vec<_>>(),
            "channels": per_channel.iter().map(ChannelMetrics::to_json).collect::<Vec<_>>(),
        }))?;
        return Ok(Finished::Ok);
    }
    println!("ID\tCHANNEL\tSTATE\tRESPONSE\tACKNOWLEDGE\tACTIVATE\tDEPLOY\tCLOSE\tNAME");
    for (r, m) in rows.iter().zip(&metrics) {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            r.meta.id,
            r.details.channel,
            r.details.state,
            m.response.map(|s| s.to_string()).unwrap_or_else(|| "-".into()),
            duration(m.time_to_acknowledge),
            duration(m.time_to_activate),
            duration(m.time_to_deploy),
            duration(m.time_to_close),
            r.name
        );
    }
    if !per_channel.is_empty() {
        println!();
        println!(
            "CHANNEL\tREQUESTS\tMEAN-ACKNOWLEDGE\tMEAN-ACTIVATE\tMEAN-DEPLOY\tMEAN-CLOSE\tMET\tLATE\tDUE\tOVERDUE"
        );
        for c in &per_channel {
            println!(
                "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                c.channel,
                c.requests,
                duration(c.acknowledge.mean),
                duration(c.activate.mean),
                duration(c.deploy.mean),
                duration(c.close.mean),
                c.responses_met,
                c.responses_late,
                c.responses_due,
                c.responses_overdue
            );
        }
    }
    Ok(Finished::Ok)
}
