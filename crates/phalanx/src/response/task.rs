//! `phalanx task add|update|list`.

use super::{ActAs, LabelArgs, Session, domain_outcome, or_dash, parse_time, parse_value};
use crate::Finished;
use anyhow::{Context, bail};
use phalanx_response::stix::TASK_TYPE;
use phalanx_response::task::{Task, TaskChanges, TaskInput, TaskStatus, playbook, tasks_from_playbook};
use std::path::Path;

/// `phalanx task` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TaskCommand {
    /// Add a task (or a playbook's tasks) to an incident or request; prints the ids, one a line.
    Add(AddArgs),
    /// Change a task's status, owner or due time, or log a note.
    Update(UpdateArgs),
    /// List tasks.
    List(ListArgs),
}

/// Arguments of `phalanx task add`.
#[derive(clap::Args, Debug)]
pub struct AddArgs {
    #[command(flatten)]
    act: ActAs,
    /// The incident the task belongs to.
    #[arg(long)]
    incident: Option<String>,
    /// The assistance request the task belongs to.
    #[arg(long)]
    request: Option<String>,
    /// What to do (or use --playbook).
    #[arg(long, required_unless_present = "playbook", conflicts_with = "playbook")]
    name: Option<String>,
    /// Details.
    #[arg(long)]
    description: Option<String>,
    /// Who does it.
    #[arg(long)]
    owner: Option<String>,
    /// When it is due (timestamp).
    #[arg(long)]
    due: Option<String>,
    /// Add every task of this playbook (ransomware-hospital, ddos-elections, election-support).
    #[arg(long)]
    playbook: Option<String>,
    #[command(flatten)]
    label: LabelArgs,
}

/// Arguments of `phalanx task update`.
#[derive(clap::Args, Debug)]
pub struct UpdateArgs {
    #[command(flatten)]
    act: ActAs,
    /// The task's id.
    id: String,
    /// New status: open, in-progress, blocked, done, cancelled.
    #[arg(long)]
    status: Option<String>,
    /// New owner.
    #[arg(long)]
    owner: Option<String>,
    /// New due time.
    #[arg(long)]
    due: Option<String>,
    /// A log entry.
    #[arg(long)]
    note: Option<String>,
}

/// Arguments of `phalanx task list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    #[command(flatten)]
    act: ActAs,
    /// Only the tasks of this incident.
    #[arg(long)]
    incident: Option<String>,
    /// Only the tasks of this request.
    #[arg(long)]
    request: Option<String>,
    /// Only overdue tasks.
    #[arg(long)]
    overdue: bool,
    /// One JSON object per task.
    #[arg(long)]
    json: bool,
}

/// Runs a `task` subcommand.
pub fn run(data: &Path, command: TaskCommand) -> anyhow::Result<Finished> {
    match command {
        TaskCommand::Add(args) => add(data, args),
        TaskCommand::Update(args) => update(data, args),
        TaskCommand::List(args) => list(data, args),
    }
}

fn add(data: &Path, args: AddArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    if args.incident.is_none() && args.request.is_none() {
        bail!("--incident or --request: a task belongs to an incident or an assistance request");
    }
    let now = session.now();
    // The task inherits the label of what it belongs to (the request's first).
    let request = args.request.as_deref().map(|id| super::assist::load(&session, id)).transpose()?;
    let incident = args.incident.as_deref().map(|id| super::incident::load(&session, id)).transpose()?;
    let inherit = request.as_ref().map(|(_, s)| &s.label).or(incident.as_ref().map(|(_, s)| &s.label));
    let label = session.label_for_new(&args.label, inherit)?;
    let input = TaskInput {
        name: args.name.clone().unwrap_or_default(),
        description: args.description.clone(),
        incident_ref: incident.as_ref().map(|(i, _)| i.meta.id.clone()),
        request_ref: request.as_ref().map(|(r, _)| r.meta.id.clone()),
        owner: args.owner.clone(),
        due: args.due.as_deref().map(|d| parse_time("due", d, now)).transpose()?,
    };
    let tasks = match &args.playbook {
        Some(key) => {
            let pb = playbook(key).map_err(|e| anyhow::anyhow!("--playbook: {e}"))?;
            tasks_from_playbook(pb, &input, session.org(), &label, &session.who(), now)?
        }
        None => vec![Task::new(&input, session.org(), &label, &session.who(), now)?],
    };
    let finished = session.write(&label, tasks.iter().map(Task::to_stix).collect())?;
    if matches!(finished, Finished::Ok) {
        println!("added {} task(s)", tasks.len());
        for t in &tasks {
            println!("{}", t.meta.id);
        }
    }
    Ok(finished)
}

fn load(session: &Session, id: &str) -> anyhow::Result<(Task, phalanx_store::StoredObject)> {
    let stored = session.latest("task", id)?;
    let value: serde_json::Value = phalanx_model::strict::parse_text(&stored.json).context("stored task is not json")?;
    Ok((Task::from_stix(&value)?, stored))
}

fn update(data: &Path, args: UpdateArgs) -> anyhow::Result<Finished> {
    let session = Session::open_writer(data, &args.act)?;
    let (mut task, stored) = load(&session, &args.id)?;
    if let Some(refused) = session.refuse_unless_originator("task", &task.meta.id, &task.meta.created_by_ref) {
        return Ok(refused);
    }
    let now = session.now();
    let changes = TaskChanges {
        status: parse_value::<TaskStatus>("status", args.status.as_ref())?,
        owner: args.owner.clone(),
        due: args.due.as_deref().map(|d| parse_time("due", d, now)).transpose()?,
        note: args.note.clone(),
    };
    if let Some(refused) = domain_outcome(task.update(&changes, &session.who(), now))? {
        return Ok(refused);
    }
    let finished = session.write(&stored.label, vec![task.to_stix()])?;
    if matches!(finished, Finished::Ok) {
        println!("updated task {} (status {})", task.meta.id, task.details.status);
    }
    Ok(finished)
}

fn list(data: &Path, args: ListArgs) -> anyhow::Result<Finished> {
    let session = Session::open(data, &args.act)?;
    let now = session.now();
    let mut tasks = Vec::new();
    let mut shown = Vec::new();
    for stored in session.all_of(TASK_TYPE)? {
        let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
        let Ok(task) = Task::from_stix(&value) else { continue };
        let d = &task.details;
        if args.incident.as_deref().is_some_and(|i| d.incident_ref.as_deref() != Some(i.trim()))
            || args.request.as_deref().is_some_and(|r| d.request_ref.as_deref() != Some(r.trim()))
            || (args.overdue && !task.is_overdue(now))
        {
            continue;
        }
        tasks.push(task);
        shown.push(stored);
    }
    session.audit_shown(&shown, "cli:task-list")?;
    if args.json {
        for t in &tasks {
            let mut v = t.to_stix();
            v["x_deadline"] = serde_json::to_value(t.deadline(now))?;
            println!("{v}");
        }
        return Ok(Finished::Ok);
    }
    println!("ID\tSTATUS\tDUE\tDEADLINE\tOWNER\tNAME");
    for t in &tasks {
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            t.meta.id,
            t.details.status,
            or_dash(t.details.due),
            t.deadline(now).map(|d| d.state.to_string()).unwrap_or_else(|| "-".into()),
            t.details.owner.as_deref().unwrap_or("-"),
            t.name
        );
    }
    Ok(Finished::Ok)
}
