//! `phalanx roster add|offer|list`.

use super::{ActAs, LabelArgs, Session, parse_values};
use crate::Finished;
use anyhow::Context;
use phalanx_labels::{Policy, Rank};
use phalanx_response::roster::{AvailabilityWindow, Expert, ExpertDetails, ExpertOffer, OfferDetails};
use phalanx_response::stix::EXPERT_TYPE;
use phalanx_response::vocab::Skill;
use phalanx_store::StoredObject;
use std::path::Path;

/// `phalanx roster` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum RosterCommand {
    /// Put an expert of your organisation on the roster; prints the id on the last line.
    Add(AddArgs),
    /// Offer experts of your organisation for an assistance request; prints the offer id on the last line.
    Offer(OfferArgs),
    /// List the experts you may read (and the offers for a request).
    List(ListArgs),
}

/// Arguments of `phalanx roster add`.
#[derive(clap::Args, Debug)]
pub struct AddArgs {
    #[command(flatten)]
    act: ActAs,
    /// The expert's name.
    #[arg(long)]
    name: String,
    /// Nationalities, ISO 3166 alpha-3 (comma-separated, the first is shown).
    #[arg(long, value_delimiter = ',', required = true)]
    nationality: Vec<String>,
    /// Skills (comma-separated): incident-handling, forensics, malware-analysis,
    /// vulnerability-assessment, ics-ot, osint-fimi, team-lead.
    #[arg(long = "skill", value_delimiter = ',', required = true)]
    skills: Vec<String>,
    /// Clearance: UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET, TOP_SECRET.
    #[arg(long, default_value = "UNCLASSIFIED")]
    clearance: String,
    /// Policies the expert is briefed for (comma-separated): EU, NATO, NATIONAL:XXX.
    #[arg(long, value_delimiter = ',')]
    briefed: Vec<String>,
    /// Caveats the expert holds (comma-separated).
    #[arg(long = "caveat", value_delimiter = ',')]
    caveats: Vec<String>,
    /// Languages, ISO 639 (comma-separated).
    #[arg(long = "language", value_delimiter = ',')]
    languages: Vec<String>,
    /// An availability window START/END (timestamps); repeat for more.
    #[arg(long = "available")]
    availability: Vec<String>,
    #[command(flatten)]
    label: LabelArgs,
}

/// Arguments of `phalanx roster offer`.
#[derive(clap::Args, Debug)]
pub struct OfferArgs {
    #[command(flatten)]
    act: ActAs,
    /// The assistance request.
    #[arg(long)]
    request: String,
    /// Experts offered (comma-separated ids).
    #[arg(long = "expert", value_delimiter = ',', required = true)]
    experts: Vec<String>,
    /// The contributing nation (default: your organisation's country).
    #[arg(long)]
    nation: Option<String>,
    /// A note (conditions, dates).
    #[arg(long)]
    note: Option<String>,
    #[command(flatten)]
    label: LabelArgs,
}

/// Arguments of `phalanx roster list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    act: ActAs,
    /// Also list the offers for this request.
    #[arg(long)]
    request: Option<String>,
    /// One JSON object per expert (and offer).
    #[arg(long)]
    json: bool,
}

/// Runs a `roster` subcommand.
pub fn run(data: &Path, command: RosterCommand) -> anyhow::Result<Finished> {
    match command {
        RosterCommand::Add(args) => add(data, args),
        RosterCommand::Offer(args) => offer(data, args),
        RosterCommand::List(args) => list(data, args),
    }
}

/// Loads the latest version of an expert the user may read.
pub fn load_expert(session: &Session, id: &str) -> anyhow::Result<(Expert, StoredObject)> {
    let stored = session.latest("expert", id)?;
    let value: serde_json::Value = phalanx_model::strict::parse_text(&stored.json).context("stored expert is not json")?;
    Ok((Expert::from_stix(&value)?, stored))
}

fn add(data: &Path, args: AddArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let label = session.label_for_new(&args.label, None)?;
    let clearance: Rank =
        args.clearance.trim().to_ascii_uppercase().parse().map_err(|e| anyhow::anyhow!("--clearance: {e}"))?;
    let briefings = args
        .briefed
        .iter()
        .map(|b| b.trim().to_ascii_uppercase().parse::<Policy>().map_err(|e| anyhow::anyhow!("--briefed: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let availability = args
        .availability
        .iter()
        .map(|w| w.parse::<AvailabilityWindow>().map_err(|e| anyhow::anyhow!("--available: {e}")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let details = ExpertDetails {
        nationalities: args.nationality.iter().map(|n| n.trim().to_ascii_uppercase()).collect(),
        organisation_ref: session.org().to_owned(),
        skills: parse_values::<Skill>("skill", &args.skills)?,
        clearance,
        briefings,
        caveats: args.caveats.clone(),
        languages: args.languages.iter().map(|l| l.trim().to_ascii_lowercase()).collect(),
        availability,
    };
    let expert = Expert::new(&args.name, details, session.org(), &label, session.now())?;
    let finished = session.write(&label, vec![expert.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!(
            "expert '{}' on the roster of {} (clearance {}, label {})",
            expert.name,
            session.organisation_name(session.org()),
            expert.details.clearance,
            super::label_text(&label)
        );
        println!("{}", expert.meta.id);
    }
    Ok(finished)
}

fn offer(data: &Path, args: OfferArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let (request, request_stored) = super::assist::load(&session, &args.request)?;
    for id in &args.experts {
        let (expert, _) = load_expert(&session, id)?;
        if expert.details.organisation_ref != session.org() {
            anyhow::bail!(
                "--expert: {} belongs to {}; an organisation offers only its own experts",
                expert.meta.id,
                session.organisation_name(&expert.details.organisation_ref)
            );
        }
    }
    let nation = match &args.nation {
        Some(n) => n.trim().to_ascii_uppercase(),
        None => session
            .organisation(session.org())?
            .country
            .context("--nation: your organisation has no country; give the contributing nation")?,
    };
    let label = session.label_for_new(&args.label, Some(&request_stored.label))?;
    let details = OfferDetails {
        request_ref: request.meta.id.clone(),
        nation,
        expert_refs: args.experts.iter().map(|e| e.trim().to_owned()).collect(),
        note: args.note.clone().filter(|n| !n.trim().is_empty()),
    };
    let offer = ExpertOffer::new(details, session.org(), &label, session.now())?;
    let finished = session.write(&label, vec![offer.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!("{} for {}", offer.name, request.meta.id);
        println!("{}", offer.meta.id);
    }
    Ok(finished)
}

fn list(data: &Path, args: ListArgs) -> anyhow::Result<Finished> {
    let session = Session::open(data, &args.act)?;
    let mut experts = Vec::new();
    let mut shown = Vec::new();
    for stored in session.all_of(EXPERT_TYPE)? {
        let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
        let Ok(expert) = Expert::from_stix(&value) else { continue };
        experts.push(expert);
        shown.push(stored);
    }
    let offers = match &args.request {
        Some(id) => super::assist::offers_for(&session, id.trim())?,
        None => Vec::new(),
    };
    shown.extend(offers.iter().map(|(_, s)| s.clone()));
    session.audit_shown(&shown, "cli:roster-list")?;
    if args.json {
        for e in &experts {
            println!("{}", e.to_stix());
        }
        for (o, _) in &offers {
            println!("{}", o.to_stix());
        }
        return Ok(Finished::Ok);
    }
    println!("ID\tNAME\tNATIONALITY\tORGANISATION\tCLEARANCE\tBRIEFED\tSKILLS\tLANGUAGES");
    for e in &experts {
        let d = &e.details;
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            e.meta.id,
            e.name,
            d.nationalities.join(","),
            session.organisation_name(&d.organisation_ref),
            d.clearance,
            if d.briefings.is_empty() {
                "-".into()
            } else {
                d.briefings.iter().map(|p| p.to_string()).collect::<Vec<_>>().join(",")
            },
            d.skills.iter().map(|s| s.to_string()).collect::<Vec<_>>().join(","),
            if d.languages.is_empty() { "-".into() } else { d.languages.join(",") },
        );
    }
    if args.request.is_some() {
        println!();
        println!("OFFER\tNATION\tBY\tEXPERTS");
        for (o, _) in &offers {
            println!(
                "{}\t{}\t{}\t{}",
                o.meta.id,
                o.details.nation,
                session.organisation_name(&o.meta.created_by_ref),
                o.details.expert_refs.join(",")
            );
        }
    }
    Ok(Finished::Ok)
}
