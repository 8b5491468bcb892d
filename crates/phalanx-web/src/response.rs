//! Incident and assistance-request pages: details, timeline or
//! transitions, tasks, and the allowed state changes as buttons. A button
//! posts the change to the rapid-response desk of `phalanx-api` (the one
//! the REST API uses): it is checked by the state machine of
//! `phalanx-response` (the same `allowed_next` table as the CLI) and
//! written as a new version through the ingest, so only the originator
//! organisation can make it.

use crate::error::WebError;
use crate::html::{esc, object_href, page, table};
use crate::map::country_name;
use crate::marking::{Highest, badge};
use crate::session::{Current, check_origin};
use crate::{WebState, blocking};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use phalanx_model::Timestamp;
use phalanx_response::incident::IncidentStatus;
use phalanx_response::request::{RequestState, TransitionInput};
use phalanx_response::task::{Task, TaskChanges, TaskStatus};
use phalanx_api::desk::{Desk, DeskError};
use phalanx_store::StoredObject;
use serde::Deserialize;

/// A desk error as the UI answers it: a refusal (domain rule, originator,
/// role, write rule) is shown as refused; a missing or unreadable object is
/// not found; anything else is the node's fault.
enum Change {
    Done,
    Refused(String),
}

fn desk_outcome<T>(result: Result<T, DeskError>) -> Result<Change, WebError> {
    match result {
        Ok(_) => Ok(Change::Done),
        Err(DeskError::NotFound { what, id }) => Err(WebError::NotFound(format!("no {what} {id} (or none you may read)"))),
        Err(DeskError::Store(e)) => Err(WebError::Store(e)),
        Err(e @ DeskError::Corrupt { .. }) => Err(WebError::Internal(e.to_string())),
        Err(DeskError::Domain(e)) if !e.is_refusal() => Err(WebError::BadRequest(e.to_string())),
        Err(e) => Ok(Change::Refused(e.to_string())),
    }
}

fn read_error(e: DeskError) -> WebError {
    match e {
        DeskError::NotFound { what, id } => WebError::NotFound(format!("no {what} {id} (or none you may read)")),
        DeskError::Store(e) => WebError::Store(e),
        other => WebError::NotFound(other.to_string()),
    }
}

/// Tasks whose incident or request is `id`, that the user may read.
fn tasks_of(desk: &Desk<'_>, id: &str) -> Result<Vec<(Task, StoredObject)>, WebError> {
    let mut tasks = desk.tasks().map_err(read_error)?;
    tasks.retain(|(t, _)| t.details.incident_ref.as_deref() == Some(id) || t.details.request_ref.as_deref() == Some(id));
    Ok(tasks)
}

fn tasks_table(current: &Current, tasks: &[(Task, StoredObject)], now: Timestamp) -> String {
    let rows: Vec<String> = tasks
        .iter()
        .map(|(t, s)| {
            let due = t.deadline(now).map(|d| format!("{} ({})", d.due, d.state)).unwrap_or_else(|| "-".into());
            let may_change = current.actor.user.role.can_write() && current.actor.org_id() == t.meta.created_by_ref;
            let mut change = String::new();
            if may_change && !t.details.status.allowed_next().is_empty() {
                change.push_str(&format!(
                    "<form method=\"post\" action=\"/ui/task/{}/status\" class=\"task-status\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">",
                    crate::html::url_encode(&t.meta.id),
                    esc(&current.csrf)
                ));
                for n in t.details.status.allowed_next() {
                    change.push_str(&format!("<button type=\"submit\" name=\"to\" value=\"{n}\" data-to=\"{n}\">→ {n}</button>", n = n.as_str()));
                }
                change.push_str("</form>");
            }
            format!(
                "<tr class=\"task\" data-status=\"{st}\"><td>{name}</td><td>{st}</td><td>{owner}</td><td>{due}</td><td>{label}</td><td>{change}</td></tr>",
                name = esc(&t.name),
                st = t.details.status.as_str(),
                owner = esc(t.details.owner.as_deref().unwrap_or("-")),
                due = esc(&due),
                label = badge(&s.label),
            )
        })
        .collect();
    table("tasks", &["task", "status", "owner", "due", "label", ""], &rows, "No task you may read.")
}

/// The buttons for the allowed next states, or why there are none.
fn transition_buttons(
    current: &Current,
    action: &str,
    originator: &str,
    originator_name: &str,
    next: &[&str],
    with_location: bool,
) -> String {
    if next.is_empty() {
        return "<p class=\"muted\" id=\"transitions\">Final state: no further change.</p>".into();
    }
    if !current.actor.user.role.can_write() {
        return format!(
            "<p class=\"muted\" id=\"transitions\">Next: {}. Your role ({}) may not change it.</p>",
            esc(&next.join(", ")),
            esc(current.actor.user.role.as_str())
        );
    }
    if current.actor.org_id() != originator {
        return format!(
            "<p class=\"muted\" id=\"transitions\">Next: {}. Only its originator organisation ({}) may change it.</p>",
            esc(&next.join(", ")),
            esc(originator_name)
        );
    }
    let location = if with_location {
        "<label>Location (deployed) <input name=\"location\" id=\"t-location\"></label>"
    } else {
        ""
    };
    let mut buttons = String::new();
    for n in next {
        buttons.push_str(&format!(
            "<button type=\"submit\" name=\"to\" value=\"{n}\" class=\"transition\" data-to=\"{n}\">→ {n}</button>",
            n = esc(n)
        ));
    }
    format!(
        "<form method=\"post\" action=\"{action}\" id=\"transitions\" class=\"transitions\"><input type=\"hidden\" name=\"csrf\" value=\"{csrf}\">\
         <label>Reason <input name=\"reason\" id=\"t-reason\" placeholder=\"required to reject or cancel\"></label>{location}<div>{buttons}</div></form>",
        action = esc(action),
        csrf = esc(&current.csrf),
    )
}

fn org_name(orgs: &[phalanx_store::OrganisationRecord], id: &str) -> String {
    orgs.iter().find(|o| o.org.id == id).map(|o| o.name.clone()).unwrap_or_else(|| id.to_owned())
}

/// `GET /ui/incident/{id}`.
pub async fn incident_page(State(state): State<WebState>, current: Current, Path(id): Path<String>) -> Result<Response, WebError> {
    let store = state.api().store().clone();
    let actor = current.actor.clone();
    let (stored, incident, tasks, requests, orgs) = blocking(&state, move || {
        let desk = Desk::new(store.as_ref(), &actor, Timestamp::now(3));
        let (incident, stored) = desk.incident(&id).map_err(read_error)?;
        let tasks = tasks_of(&desk, &incident.meta.id)?;
        let mut requests = desk.requests().map_err(read_error)?;
        requests.retain(|(r, _)| r.details.incident_ref.as_deref() == Some(incident.meta.id.as_str()));
        let mut shown = vec![stored.clone()];
        shown.extend(tasks.iter().map(|(_, s)| s.clone()));
        shown.extend(requests.iter().map(|(_, s)| s.clone()));
        desk.audit_shown(&shown, "web:incident").map_err(read_error)?;
        Ok((stored, incident, tasks, requests, store.organisations()?))
    })
    .await?;
    let now = Timestamp::now(3);
    let mut highest = Highest::new();
    highest.add(&stored.label);
    highest.add_all(tasks.iter().map(|(_, s)| &s.label));
    highest.add_all(requests.iter().map(|(_, s)| &s.label));
    let d = &incident.details;
    let next: Vec<&str> = d.status.allowed_next().iter().map(|s| s.as_str()).collect();
    let buttons = transition_buttons(
        &current,
        &format!("/ui/incident/{}/status", crate::html::url_encode(&incident.meta.id)),
        &incident.meta.created_by_ref,
        &org_name(&orgs, &incident.meta.created_by_ref),
        &next,
        false,
    );
    let clocks: Vec<String> = incident
        .nis2_clocks(now)
        .all()
        .iter()
        .map(|c| {
            format!(
                "<tr class=\"deadline {st}\"><td>{name}</td><td>{due}{prov}</td><td>{st}</td><td>{done}</td></tr>",
                name = esc(&c.name),
                due = esc(&c.due.to_string()),
                prov = if c.provisional { " (provisional)" } else { "" },
                st = c.state.as_str(),
                done = esc(&c.done_at.map(|t| t.to_string()).unwrap_or_else(|| "-".into())),
            )
        })
        .collect();
    let mut timeline: Vec<(Timestamp, String)> = d
        .timeline
        .iter()
        .map(|t| (t.time, format!("<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&t.time.to_string()), esc(&t.author), esc(&t.text))))
        .collect();
    for s in &d.status_history {
        let text = format!(
            "status {} → {}{}",
            s.from_state,
            s.to_state,
            s.reason.as_deref().map(|r| format!(": {r}")).unwrap_or_default()
        );
        timeline.push((s.time, format!("<tr class=\"status-change\"><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&s.time.to_string()), esc(&s.actor), esc(&text))));
    }
    timeline.sort_by_key(|t| t.0);
    let timeline_rows: Vec<String> = timeline.into_iter().map(|(_, r)| r).collect();
    let request_rows: Vec<String> = requests
        .iter()
        .map(|(r, s)| {
            format!(
                "<tr><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&object_href(&r.meta.id)),
                esc(&r.name),
                esc(r.details.channel.as_str()),
                esc(r.details.state.as_str()),
                badge(&s.label)
            )
        })
        .collect();
    let countries: Vec<&str> = d.affected_countries.iter().map(|c| country_name(c)).collect();
    let body = format!(
        "<section class=\"panel\"><p class=\"object-label\" id=\"object-label\">{label}</p>\
         <dl><dt>status</dt><dd id=\"status\" data-status=\"{status}\">{status}</dd><dt>reporter</dt><dd>{reporter}</dd>\
         <dt>affected countries</dt><dd>{countries}</dd><dt>sectors</dt><dd>{sectors}</dd>\
         <dt>impact</dt><dd>{impact}</dd><dt>threat</dt><dd>{threat}</dd><dt>significant</dt><dd>{significant}</dd>\
         <dt>aware at</dt><dd>{aware}</dd></dl>{description}{buttons}</section>\
         <section class=\"panel\"><h2>NIS2 clocks</h2>{clocks}</section>\
         <section class=\"panel\"><h2>Timeline</h2>{timeline}{timeline_form}</section>\
         <section class=\"panel\"><h2>Tasks</h2>{tasks}</section>\
         <section class=\"panel\"><h2>Assistance requests</h2>{requests}</section>\
         <p><a href=\"/ui/object/{id_enc}\">STIX object and versions</a></p>",
        label = badge(&stored.label),
        status = d.status.as_str(),
        reporter = esc(&org_name(&orgs, &d.reporter_ref)),
        countries = esc(&countries.join(", ")),
        sectors = esc(&d.sectors.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
        impact = esc(d.nis_impact_severity.map(|s| s.as_str()).unwrap_or("not rated")),
        threat = esc(d.nis_threat_severity.map(|s| s.as_str()).unwrap_or("not rated")),
        significant = if d.significant { "yes (NIS2 reporting applies)" } else { "no" },
        aware = esc(&d.aware_at.to_string()),
        description = incident.description.as_deref().map(|t| format!("<p class=\"description\">{}</p>", esc(t))).unwrap_or_default(),
        clocks = table("nis2-clocks", &["deadline", "due", "state", "done"], &clocks, "-"),
        timeline = table("timeline", &["time", "who", "what"], &timeline_rows, "No entry."),
        timeline_form = if current.actor.user.role.can_write() && current.actor.org_id() == incident.meta.created_by_ref {
            format!(
                "<form method=\"post\" action=\"/ui/incident/{}/timeline\" id=\"timeline-form\" class=\"transitions\"><input type=\"hidden\" name=\"csrf\" value=\"{}\">\
                 <label>Add to the timeline <input name=\"text\" id=\"timeline-text\" required></label><div><button type=\"submit\">Add</button></div></form>",
                crate::html::url_encode(&incident.meta.id),
                esc(&current.csrf)
            )
        } else {
            String::new()
        },
        tasks = tasks_table(&current, &tasks, now),
        requests = table("incident-requests", &["request", "channel", "state", "label"], &request_rows, "No assistance request you may read."),
        id_enc = crate::html::url_encode(&incident.meta.id),
    );
    Ok(page(&current, &state.config().node_name, &incident.name, &highest, &body))
}

/// `GET /ui/request/{id}`.
pub async fn request_page(State(state): State<WebState>, current: Current, Path(id): Path<String>) -> Result<Response, WebError> {
    let store = state.api().store().clone();
    let actor = current.actor.clone();
    let (stored, request, tasks, orgs) = blocking(&state, move || {
        let desk = Desk::new(store.as_ref(), &actor, Timestamp::now(3));
        let (request, stored) = desk.request(&id).map_err(read_error)?;
        let tasks = tasks_of(&desk, &request.meta.id)?;
        let mut shown = vec![stored.clone()];
        shown.extend(tasks.iter().map(|(_, s)| s.clone()));
        desk.audit_shown(&shown, "web:request").map_err(read_error)?;
        Ok((stored, request, tasks, store.organisations()?))
    })
    .await?;
    let now = Timestamp::now(3);
    let mut highest = Highest::new();
    highest.add(&stored.label);
    highest.add_all(tasks.iter().map(|(_, s)| &s.label));
    let d = &request.details;
    let next: Vec<&str> = d.state.allowed_next().iter().map(|s| s.as_str()).collect();
    let buttons = transition_buttons(
        &current,
        &format!("/ui/request/{}/transition", crate::html::url_encode(&request.meta.id)),
        &request.meta.created_by_ref,
        &org_name(&orgs, &request.meta.created_by_ref),
        &next,
        next.contains(&RequestState::Deployed.as_str()),
    );
    let transitions: Vec<String> = d
        .transitions
        .iter()
        .map(|t| {
            format!(
                "<tr class=\"transition-row\"><td>{}</td><td>{} → {}</td><td>{}</td><td>{}</td></tr>",
                esc(&t.time.to_string()),
                esc(t.from_state.as_str()),
                esc(t.to_state.as_str()),
                esc(&t.actor),
                esc(t.reason.as_deref().unwrap_or(""))
            )
        })
        .collect();
    let team: Vec<String> = d
        .team
        .iter()
        .map(|m| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(m.role.as_str()),
                esc(&m.nationality),
                esc(&m.expert_ref),
                esc(&m.added_at.to_string())
            )
        })
        .collect();
    let response = match request.response_deadline(now) {
        Some(r) => format!("{} h, due {} ({})", d.response_target_hours, r.due, r.state),
        None => format!("{} h (not running)", d.response_target_hours),
    };
    let deployment = match &d.deployment {
        Some(dep) => format!("{} from {} to {}", dep.location, dep.start, dep.end.map(|t| t.to_string()).unwrap_or_else(|| "-".into())),
        None => "-".into(),
    };
    let incident = match &d.incident_ref {
        Some(i) => format!("<a href=\"{}\">{}</a>", esc(&object_href(i)), esc(i)),
        None => "- (preventive)".into(),
    };
    let body = format!(
        "<section class=\"panel\"><p class=\"object-label\" id=\"object-label\">{label}</p>\
         <dl><dt>state</dt><dd id=\"state\" data-state=\"{state_name}\">{state_name}</dd><dt>channel</dt><dd>{channel}</dd><dt>mode</dt><dd>{mode}</dd>\
         <dt>requester</dt><dd>{requester}</dd><dt>beneficiary</dt><dd>{beneficiary}</dd><dt>incident</dt><dd>{incident}</dd>\
         <dt>services</dt><dd>{services}</dd><dt>response target</dt><dd>{response}</dd><dt>deployment</dt><dd>{deployment}</dd></dl>{buttons}</section>\
         <section class=\"panel\"><h2>Transitions</h2>{transitions}</section>\
         <section class=\"panel\"><h2>Team</h2>{team}</section>\
         <section class=\"panel\"><h2>Tasks</h2>{tasks}</section>\
         <p><a href=\"/ui/object/{id_enc}\">STIX object and versions</a></p>",
        label = badge(&stored.label),
        state_name = d.state.as_str(),
        channel = esc(d.channel.as_str()),
        mode = esc(d.mode.as_str()),
        requester = esc(&org_name(&orgs, &d.requester_ref)),
        beneficiary = esc(&org_name(&orgs, &d.beneficiary_ref)),
        services = esc(&d.services.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")),
        response = esc(&response),
        deployment = esc(&deployment),
        transitions = table("transition-history", &["time", "change", "who", "why"], &transitions, "No transition yet."),
        team = table("team", &["role", "nationality", "expert", "added"], &team, "No team member."),
        tasks = tasks_table(&current, &tasks, now),
        id_enc = crate::html::url_encode(&request.meta.id),
    );
    Ok(page(&current, &state.config().node_name, &request.name, &highest, &body))
}

/// A state-change form.
#[derive(Debug, Deserialize)]
pub struct TransitionForm {
    /// The session's CSRF token.
    #[serde(default)]
    csrf: Option<String>,
    /// The state to move to.
    #[serde(default)]
    to: String,
    /// Why.
    #[serde(default)]
    reason: String,
    /// Where the team deploys.
    #[serde(default)]
    location: String,
}

fn non_empty(s: &str) -> Option<String> {
    Some(s.trim().to_owned()).filter(|s| !s.is_empty())
}

/// A refused change: 409 with the reason, the page link to go back.
fn refused(back: &str, reason: &str) -> Response {
    let body = format!(
        "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>Refused · Phalanx</title>\
         <link rel=\"stylesheet\" href=\"/ui/assets/app.css\"></head><body><main class=\"error\"><h1>Refused</h1>\
         <p id=\"error-message\">{}</p><p><a href=\"{}\">Back</a></p></main></body></html>",
        esc(reason),
        esc(back)
    );
    (StatusCode::CONFLICT, [(header::CONTENT_TYPE, HeaderValue::from_static("text/html; charset=utf-8"))], body).into_response()
}

fn see_other(to: &str) -> Result<Response, WebError> {
    let location = HeaderValue::from_str(to).map_err(|e| WebError::Internal(format!("location: {e}")))?;
    Ok((StatusCode::SEE_OTHER, [(header::LOCATION, location)]).into_response())
}

fn check_post(current: &Current, headers: &HeaderMap, csrf: Option<&str>) -> Result<(), WebError> {
    check_origin(headers)?;
    current.check_csrf(csrf)?;
    if !current.actor.user.role.can_write() {
        return Err(WebError::Forbidden(format!(
            "user '{}': the role {} may not change incidents or requests",
            current.actor.user.name, current.actor.user.role
        )));
    }
    Ok(())
}

/// Runs one change on the desk of the session's user, then answers: back
/// to the page it returns (303) when it was made, the refusal on that page
/// when the domain or a write rule refused it. `work` returns the change's
/// outcome and the page to go back to.
async fn change_on_desk(
    state: &WebState,
    current: &Current,
    what: &'static str,
    work: impl FnOnce(&Desk<'_>) -> Result<(Change, String), WebError> + Send + 'static,
) -> Result<Response, WebError> {
    let store = state.api().store().clone();
    let actor = current.actor.clone();
    let (change, back) = blocking(state, move || work(&Desk::new(store.as_ref(), &actor, Timestamp::now(3)))).await?;
    match change {
        Change::Done => {
            state.api().notify_committed();
            tracing::info!(user = %current.actor.user.name, change = what, "web ui change");
            see_other(&back)
        }
        Change::Refused(reason) => Ok(refused(&back, &reason)),
    }
}

/// `POST /ui/incident/{id}/status`.
pub async fn incident_status(
    State(state): State<WebState>,
    current: Current,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TransitionForm>,
) -> Result<Response, WebError> {
    check_post(&current, &headers, form.csrf.as_deref())?;
    let to: IncidentStatus = form.to.parse().map_err(|e| WebError::BadRequest(format!("to: {e}")))?;
    let reason = non_empty(&form.reason);
    change_on_desk(&state, &current, "incident status", move |desk| {
        Ok((desk_outcome(desk.set_incident_status(&id, to, reason.as_deref()))?, crate::html::object_href(&id)))
    })
    .await
}

/// `POST /ui/request/{id}/transition`.
pub async fn request_transition(
    State(state): State<WebState>,
    current: Current,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TransitionForm>,
) -> Result<Response, WebError> {
    check_post(&current, &headers, form.csrf.as_deref())?;
    let to: RequestState = form.to.parse().map_err(|e| WebError::BadRequest(format!("to: {e}")))?;
    let input = TransitionInput { to, reason: non_empty(&form.reason), location: non_empty(&form.location) };
    change_on_desk(&state, &current, "assistance request transition", move |desk| {
        Ok((desk_outcome(desk.transition_request(&id, &input))?, crate::html::object_href(&id)))
    })
    .await
}

/// A timeline entry form.
#[derive(Debug, Deserialize)]
pub struct TimelineForm {
    /// The session's CSRF token.
    #[serde(default)]
    csrf: Option<String>,
    /// What happened.
    #[serde(default)]
    text: String,
}

/// `POST /ui/incident/{id}/timeline`.
pub async fn incident_timeline(
    State(state): State<WebState>,
    current: Current,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TimelineForm>,
) -> Result<Response, WebError> {
    check_post(&current, &headers, form.csrf.as_deref())?;
    change_on_desk(&state, &current, "incident timeline", move |desk| {
        Ok((desk_outcome(desk.add_timeline(&id, &form.text, &[], None))?, crate::html::object_href(&id)))
    })
    .await
}

/// `POST /ui/task/{id}/status`: moves a task to its next status, then back
/// to the page of its request (or incident).
pub async fn task_status(
    State(state): State<WebState>,
    current: Current,
    Path(id): Path<String>,
    headers: HeaderMap,
    axum::Form(form): axum::Form<TransitionForm>,
) -> Result<Response, WebError> {
    check_post(&current, &headers, form.csrf.as_deref())?;
    let to: TaskStatus = form.to.parse().map_err(|e| WebError::BadRequest(format!("to: {e}")))?;
    let changes = TaskChanges { status: Some(to), note: non_empty(&form.reason), ..TaskChanges::default() };
    change_on_desk(&state, &current, "task status", move |desk| {
        let (task, _) = desk.task(&id).map_err(read_error)?;
        let parent = task.details.request_ref.clone().or(task.details.incident_ref.clone()).unwrap_or(id.clone());
        Ok((desk_outcome(desk.update_task(&id, &changes))?, crate::html::object_href(&parent)))
    })
    .await
}
