//! Rapid response over REST: incidents (with their NIS2 clocks),
//! assistance requests (state machine, team, offers, metrics), the roster
//! of experts, and tasks. Every handler acts for the signed-in caller
//! through [`crate::desk::Desk`]: reads go through the read rule inside
//! the store query (an incident the caller may not read answers 404, and
//! is never counted), writes through the ingest in one transaction.
//!
//! Refusals of well-formed requests (an invalid transition, a failed
//! condition, an ineligible expert, a write rule) answer 409 `conflict`
//! with the reason; bad input answers 400 naming the field.

use super::{json_response, parse_body, signed_in};
use crate::auth::Caller;
use crate::desk::{Desk, DeskError, NewLabel};
use crate::error::{ApiError, ErrorCode};
use crate::{AppState, blocking};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use phalanx_labels::LabelMarking;
use phalanx_model::Timestamp;
use phalanx_response::metrics::{ChannelMetrics, RequestMetrics, channel_metrics, request_metrics};
use phalanx_response::request::{AssistanceRequest, RequestInput, RequestState, TransitionInput};
use phalanx_response::roster::{ExpertDetails, OfferDetails};
use phalanx_response::task::{TaskChanges, TaskInput, TaskStatus};
use phalanx_response::vocab::{Channel, TeamRole};
use phalanx_response::{Incident, IncidentChanges, IncidentStatus};
use phalanx_store::StoredObject;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use utoipa::{IntoParams, ToSchema};

impl From<DeskError> for ApiError {
    fn from(e: DeskError) -> Self {
        let code = match &e {
            DeskError::NotFound { .. } | DeskError::NotManaged { .. } => ErrorCode::NotFound,
            DeskError::Domain(d) if d.is_refusal() => ErrorCode::Conflict,
            DeskError::Domain(phalanx_response::ResponseError::Decode { .. }) => ErrorCode::Internal,
            DeskError::Domain(_) | DeskError::Label { .. } => ErrorCode::InvalidBody,
            DeskError::ReadOnly { .. } | DeskError::NotOriginator { .. } => ErrorCode::Forbidden,
            DeskError::Refused { .. } => ErrorCode::Conflict,
            DeskError::Corrupt { .. } => ErrorCode::Internal,
            DeskError::Store(_) => ErrorCode::Internal,
        };
        match e {
            DeskError::Store(s) => ApiError::from(s),
            e if code == ErrorCode::Internal => ApiError::internal(e),
            e => ApiError::new(code, e.to_string()),
        }
    }
}

/// An incident as answered: the STIX object, its label, its NIS2 clocks
/// now, and the statuses it may move to.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentView {
    /// The STIX `incident` with the Phalanx extension.
    #[schema(value_type = Object)]
    pub object: Value,
    /// The label as shown to people.
    pub label: String,
    /// Early warning, notification and final report: due time and state (met, due, overdue).
    #[schema(value_type = Object)]
    pub nis2_clocks: Value,
    /// The statuses the incident may move to next.
    pub allowed_next: Vec<String>,
}

/// A list of incidents.
#[derive(Debug, Serialize, ToSchema)]
pub struct IncidentList {
    /// The incidents the caller may read.
    pub incidents: Vec<IncidentView>,
}

/// An assistance request as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestView {
    /// The STIX `x-phalanx-assistance-request`.
    #[schema(value_type = Object)]
    pub object: Value,
    /// The label as shown to people.
    pub label: String,
    /// The states it may move to next.
    pub allowed_next: Vec<String>,
    /// The response target now (due time and state), while it runs.
    #[schema(value_type = Option<Object>)]
    pub response: Option<Value>,
    /// Times to acknowledge, activate, deploy and close, in seconds.
    #[schema(value_type = Object)]
    pub metrics: Value,
    /// The offers of experts the caller may read.
    #[schema(value_type = Vec<Object>)]
    pub offers: Vec<Value>,
}

/// A list of assistance requests, with metrics per channel.
#[derive(Debug, Serialize, ToSchema)]
pub struct RequestList {
    /// The requests the caller may read.
    pub requests: Vec<RequestView>,
    /// Response metrics aggregated per channel.
    #[schema(value_type = Vec<Object>)]
    pub channels: Vec<Value>,
}

/// A roster entry, offer or task as answered.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectView {
    /// The STIX object.
    #[schema(value_type = Object)]
    pub object: Value,
    /// The label as shown to people.
    pub label: String,
}

/// A list of experts or tasks.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectList {
    /// The objects the caller may read.
    pub objects: Vec<ObjectView>,
}

/// The body of `POST /api/v1/incidents`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewIncident {
    /// Title.
    pub name: String,
    /// Description.
    #[serde(default)]
    pub description: Option<String>,
    /// The incident's properties: sectors, entity_class, rsit_class, nis_* fields, flags, times, linked_refs, ...
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub details: Option<IncidentChanges>,
    /// TLP (clear, green, amber, amber+strict, red); default amber+strict.
    #[serde(default)]
    pub tlp: Option<String>,
    /// Label marking (content of the Phalanx label extension).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub label: Option<LabelMarking>,
}

/// The body of `POST /api/v1/incidents/{id}/status`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct StatusChange {
    /// new, triaged, analysing, containing, recovering, closed, reviewed.
    pub to: String,
    /// Why.
    #[serde(default)]
    pub reason: Option<String>,
}

/// The body of `POST /api/v1/incidents/{id}/timeline`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TimelineAddition {
    /// What happened.
    pub text: String,
    /// STIX objects it is about.
    #[serde(default)]
    pub object_refs: Vec<String>,
    /// When it happened (default: now).
    #[serde(default)]
    pub time: Option<String>,
}

/// The body of `POST /api/v1/assistance-requests`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewRequest {
    /// name, description, channel, beneficiary_ref, incident_ref, services, mode, estimated_needs, mitigation_taken, other_support, legal_basis, response_target_hours.
    #[schema(value_type = Object)]
    pub request: RequestInput,
    /// Submit it at once (draft -> submitted).
    #[serde(default)]
    pub submit: bool,
    /// TLP; default: the incident's label, else amber+strict.
    #[serde(default)]
    pub tlp: Option<String>,
    /// Label marking; default: the incident's label.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub label: Option<LabelMarking>,
}

/// The body of `POST /api/v1/assistance-requests/{id}/transitions`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Transition {
    /// The state to move to.
    pub to: String,
    /// Why (required for rejected and cancelled).
    #[serde(default)]
    pub reason: Option<String>,
    /// Where the team deploys (with `deployed`).
    #[serde(default)]
    pub location: Option<String>,
}

/// The body of `POST /api/v1/assistance-requests/{id}/team`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct TeamAddition {
    /// The expert (`x-phalanx-expert--...`), offered for this request.
    pub expert_ref: String,
    /// team-lead, incident-handler, forensic-analyst, malware-analyst, vulnerability-assessor, ics-ot-specialist, osint-fimi-analyst, liaison.
    pub role: String,
}

/// The body of `POST /api/v1/experts`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewExpert {
    /// The expert's name.
    pub name: String,
    /// nationalities, organisation_ref, skills, clearance, briefings, caveats, languages, availability.
    #[schema(value_type = Object)]
    pub details: ExpertDetails,
    /// TLP; default amber+strict.
    #[serde(default)]
    pub tlp: Option<String>,
    /// Label marking.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub label: Option<LabelMarking>,
}

/// The body of `POST /api/v1/offers`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOffer {
    /// request_ref, nation, expert_refs, note.
    #[schema(value_type = Object)]
    pub offer: OfferDetails,
    /// TLP; default: the request's label.
    #[serde(default)]
    pub tlp: Option<String>,
    /// Label marking; default: the request's label.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub label: Option<LabelMarking>,
}

/// The body of `POST /api/v1/tasks`.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewTask {
    /// name, description, incident_ref, request_ref, owner, due.
    #[schema(value_type = Object)]
    pub task: TaskInput,
    /// TLP; default: the label of its incident or request.
    #[serde(default)]
    pub tlp: Option<String>,
    /// Label marking; default: the label of its incident or request.
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub label: Option<LabelMarking>,
}

/// Query parameters of `GET /api/v1/incidents`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct IncidentFilter {
    /// Only incidents in this status.
    status: Option<String>,
}

/// Query parameters of `GET /api/v1/assistance-requests`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RequestFilter {
    /// Only requests of this channel.
    channel: Option<String>,
    /// Only requests in this state.
    state: Option<String>,
}

/// Query parameters of `GET /api/v1/tasks`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct TaskFilter {
    /// Only tasks of this incident.
    incident: Option<String>,
    /// Only tasks of this request.
    request: Option<String>,
    /// Only tasks in this status.
    status: Option<String>,
}

/// Parses the query string against the names an endpoint takes.
fn filters(raw: Option<&str>, allowed: &[&'static str]) -> Result<Vec<(&'static str, String)>, ApiError> {
    let mut out = Vec::new();
    for (name, value) in crate::taxii::params::parse_query(raw)? {
        let Some(known) = allowed.iter().find(|a| **a == name) else {
            return Err(ApiError::parameter(format!(
                "{}: not a parameter of this endpoint (it takes {})",
                super::params::short(&name),
                allowed.join(", ")
            )));
        };
        out.push((*known, value));
    }
    Ok(out)
}

fn parse_vocab<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    text.trim().parse::<T>().map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("body: {field}: {e}")))
}

fn parse_filter<T: std::str::FromStr>(field: &str, text: &str) -> Result<T, ApiError>
where
    T::Err: std::fmt::Display,
{
    text.trim().parse::<T>().map_err(|e| ApiError::parameter(format!("{field}: {e}")))
}

fn label_text(label: &phalanx_labels::Label) -> String {
    match label.tlp {
        Some(t) => format!("{} TLP:{}", label.display_name(None), t.as_str().to_ascii_uppercase()),
        None => label.display_name(None),
    }
}

fn incident_view(incident: &Incident, stored_label: &phalanx_labels::Label, now: Timestamp) -> IncidentView {
    IncidentView {
        object: incident.to_stix(),
        label: label_text(stored_label),
        nis2_clocks: serde_json::to_value(incident.nis2_clocks(now)).unwrap_or(Value::Null),
        allowed_next: incident.details.status.allowed_next().iter().map(|s| s.to_string()).collect(),
    }
}

fn request_view(request: &AssistanceRequest, stored: &StoredObject, offers: Vec<Value>, now: Timestamp) -> RequestView {
    RequestView {
        object: request.to_stix(),
        label: label_text(&stored.label),
        allowed_next: request.details.state.allowed_next().iter().map(|s| s.to_string()).collect(),
        response: request.response_deadline(now).and_then(|d| serde_json::to_value(d).ok()),
        metrics: request_metrics(request, now).to_json(),
        offers,
    }
}

fn now() -> Timestamp {
    use phalanx_response::Clock;
    phalanx_response::SystemClock.now()
}

/// Runs a desk operation for the signed-in caller on a blocking thread.
async fn with_desk<T, F>(state: &AppState, caller: &Caller, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&Desk<'_>) -> Result<T, ApiError> + Send + 'static,
{
    let actor = signed_in(caller)?.clone();
    let store = state.store().clone();
    blocking(state, move || {
        let desk = Desk::new(store.as_ref(), &actor, now());
        work(&desk)
    })
    .await
}

/// After a write: wake the live streams, answer 201 or 200 with `value`.
fn written<T: Serialize>(state: &AppState, status: StatusCode, value: &T) -> Result<Response, ApiError> {
    state.notify_committed();
    json_response(status, value)
}

/// List the incidents the caller may read, with their NIS2 clocks.
#[utoipa::path(
    get, path = "/api/v1/incidents", tag = "response",
    params(IncidentFilter),
    responses(
        (status = 200, description = "The incidents the caller may read", body = IncidentList),
        (status = 400, description = "A parameter is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn incidents(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut status: Option<IncidentStatus> = None;
    for (name, value) in filters(raw.as_deref(), &["status"])? {
        if name == "status" {
            status = Some(parse_filter("status", &value)?);
        }
    }
    let list = with_desk(&state, &caller, move |desk| {
        let mut rows = desk.incidents()?;
        rows.retain(|(i, _)| status.is_none_or(|s| s == i.details.status));
        let stored: Vec<StoredObject> = rows.iter().map(|(_, s)| s.clone()).collect();
        desk.audit_shown(&stored, "rest")?;
        let incidents = rows.iter().map(|(i, s)| incident_view(i, &s.label, desk.now())).collect();
        Ok(IncidentList { incidents })
    })
    .await?;
    json_response(StatusCode::OK, &list)
}

/// Open an incident reported by the caller's organisation.
#[utoipa::path(
    post, path = "/api/v1/incidents", tag = "response",
    request_body(content = NewIncident, content_type = "application/json"),
    responses(
        (status = 201, description = "Opened", body = IncidentView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller's role does not write", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by a write rule", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn open_incident(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let input: NewIncident = parse_body(&headers, &body, "incident")?;
    let view = with_desk(&state, &caller, move |desk| {
        let label = NewLabel { tlp: input.tlp, label: input.label };
        let changes = input.details.unwrap_or_default();
        let incident = desk.open_incident(&input.name, input.description.as_deref(), &changes, &label)?;
        let (incident, stored) = desk.incident(&incident.meta.id)?;
        Ok(incident_view(&incident, &stored.label, desk.now()))
    })
    .await?;
    written(&state, StatusCode::CREATED, &view)
}

/// One incident, with its NIS2 clocks and next statuses.
#[utoipa::path(
    get, path = "/api/v1/incidents/{id}", tag = "response",
    params(("id" = String, Path, description = "The incident's id")),
    responses(
        (status = 200, description = "The incident", body = IncidentView),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 404, description = "No such incident, or none the caller may read", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn incident(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    let view = with_desk(&state, &caller, move |desk| {
        let (incident, stored) = desk.incident(&id)?;
        desk.audit_shown(std::slice::from_ref(&stored), "rest")?;
        Ok(incident_view(&incident, &stored.label, desk.now()))
    })
    .await?;
    json_response(StatusCode::OK, &view)
}

/// Change an incident's properties (lists add to what is there).
#[utoipa::path(
    patch, path = "/api/v1/incidents/{id}", tag = "response",
    params(("id" = String, Path, description = "The incident's id")),
    request_body(content = Object, description = "The fields to change (name, description, sectors, entity_class, rsit_class, rsit_type, nis_* fields, flags, times, linked_refs, ...)", content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = IncidentView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not the originator organisation, or a read-only role", body = super::openapi::ErrorBody),
        (status = 404, description = "No such incident, or none the caller may read", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by a write rule", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn update_incident(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let changes: IncidentChanges = parse_body(&headers, &body, "incident changes")?;
    let view = with_desk(&state, &caller, move |desk| {
        let incident = desk.update_incident(&id, &changes)?;
        let (_, stored) = desk.incident(&incident.meta.id)?;
        Ok(incident_view(&incident, &stored.label, desk.now()))
    })
    .await?;
    written(&state, StatusCode::OK, &view)
}

/// Move an incident to its next status, recording who, when and why.
#[utoipa::path(
    post, path = "/api/v1/incidents/{id}/status", tag = "response",
    params(("id" = String, Path, description = "The incident's id")),
    request_body(content = StatusChange, content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = IncidentView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not the originator organisation, or a read-only role", body = super::openapi::ErrorBody),
        (status = 404, description = "No such incident, or none the caller may read", body = super::openapi::ErrorBody),
        (status = 409, description = "The workflow does not allow this move (the message lists what it allows)", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn incident_status(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let change: StatusChange = parse_body(&headers, &body, "status change")?;
    let to: IncidentStatus = parse_vocab("to", &change.to)?;
    let view = with_desk(&state, &caller, move |desk| {
        let incident = desk.set_incident_status(&id, to, change.reason.as_deref())?;
        let (_, stored) = desk.incident(&incident.meta.id)?;
        Ok(incident_view(&incident, &stored.label, desk.now()))
    })
    .await?;
    written(&state, StatusCode::OK, &view)
}

/// Add a timeline entry to an incident.
#[utoipa::path(
    post, path = "/api/v1/incidents/{id}/timeline", tag = "response",
    params(("id" = String, Path, description = "The incident's id")),
    request_body(content = TimelineAddition, content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = IncidentView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not the originator organisation, or a read-only role", body = super::openapi::ErrorBody),
        (status = 404, description = "No such incident, or none the caller may read", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by a write rule", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn incident_timeline(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let entry: TimelineAddition = parse_body(&headers, &body, "timeline entry")?;
    let time = match &entry.time {
        Some(t) => Some(
            Timestamp::parse(t.trim()).map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("body: time: {e}")))?,
        ),
        None => None,
    };
    let view = with_desk(&state, &caller, move |desk| {
        let incident = desk.add_timeline(&id, &entry.text, &entry.object_refs, time)?;
        let (_, stored) = desk.incident(&incident.meta.id)?;
        Ok(incident_view(&incident, &stored.label, desk.now()))
    })
    .await?;
    written(&state, StatusCode::OK, &view)
}

/// List the assistance requests the caller may read, with response metrics.
#[utoipa::path(
    get, path = "/api/v1/assistance-requests", tag = "response",
    params(RequestFilter),
    responses(
        (status = 200, description = "The requests and per-channel metrics", body = RequestList),
        (status = 400, description = "A parameter is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn requests(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut channel: Option<Channel> = None;
    let mut wanted_state: Option<RequestState> = None;
    for (name, value) in filters(raw.as_deref(), &["channel", "state"])? {
        match name {
            "channel" => channel = Some(parse_filter("channel", &value)?),
            _ => wanted_state = Some(parse_filter("state", &value)?),
        }
    }
    let list = with_desk(&state, &caller, move |desk| {
        let mut rows = desk.requests()?;
        rows.retain(|(r, _)| {
            channel.is_none_or(|c| c == r.details.channel) && wanted_state.is_none_or(|s| s == r.details.state)
        });
        let stored: Vec<StoredObject> = rows.iter().map(|(_, s)| s.clone()).collect();
        desk.audit_shown(&stored, "rest")?;
        let metrics: Vec<RequestMetrics> = rows.iter().map(|(r, _)| request_metrics(r, desk.now())).collect();
        let channels = channel_metrics(&metrics).iter().map(ChannelMetrics::to_json).collect();
        let requests = rows.iter().map(|(r, s)| request_view(r, s, Vec::new(), desk.now())).collect();
        Ok(RequestList { requests, channels })
    })
    .await?;
    json_response(StatusCode::OK, &list)
}

/// Ask for assistance (a draft, or submitted at once).
#[utoipa::path(
    post, path = "/api/v1/assistance-requests", tag = "response",
    request_body(content = NewRequest, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = RequestView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller's role does not write", body = super::openapi::ErrorBody),
        (status = 404, description = "The incident named does not exist or the caller may not read it", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by a write rule", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn open_request(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let input: NewRequest = parse_body(&headers, &body, "assistance request")?;
    let view = with_desk(&state, &caller, move |desk| {
        let label = NewLabel { tlp: input.tlp, label: input.label };
        let request = desk.open_request(&input.request, &label, input.submit)?;
        let (request, stored) = desk.request(&request.meta.id)?;
        Ok(request_view(&request, &stored, Vec::new(), desk.now()))
    })
    .await?;
    written(&state, StatusCode::CREATED, &view)
}

/// One assistance request: state, next states, response target, metrics, offers.
#[utoipa::path(
    get, path = "/api/v1/assistance-requests/{id}", tag = "response",
    params(("id" = String, Path, description = "The request's id")),
    responses(
        (status = 200, description = "The request", body = RequestView),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 404, description = "No such request, or none the caller may read", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn request(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    let view = with_desk(&state, &caller, move |desk| {
        let (request, stored) = desk.request(&id)?;
        let offers = desk.offers_for(&request.meta.id)?;
        let mut shown = vec![stored.clone()];
        shown.extend(offers.iter().map(|(_, s)| s.clone()));
        desk.audit_shown(&shown, "rest")?;
        let offers = offers.iter().map(|(o, _)| o.to_stix()).collect();
        Ok(request_view(&request, &stored, offers, desk.now()))
    })
    .await?;
    json_response(StatusCode::OK, &view)
}

/// Move an assistance request to its next state, recording who, when and why.
#[utoipa::path(
    post, path = "/api/v1/assistance-requests/{id}/transitions", tag = "response",
    params(("id" = String, Path, description = "The request's id")),
    request_body(content = Transition, content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = RequestView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not the requester organisation, or a read-only role", body = super::openapi::ErrorBody),
        (status = 404, description = "No such request, or none the caller may read", body = super::openapi::ErrorBody),
        (status = 409, description = "The state machine or a condition refuses it (the message says which)", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn transition(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let asked: Transition = parse_body(&headers, &body, "transition")?;
    let input = TransitionInput { to: parse_vocab("to", &asked.to)?, reason: asked.reason, location: asked.location };
    let view = with_desk(&state, &caller, move |desk| {
        let request = desk.transition_request(&id, &input)?;
        let (_, stored) = desk.request(&request.meta.id)?;
        Ok(request_view(&request, &stored, Vec::new(), desk.now()))
    })
    .await?;
    written(&state, StatusCode::OK, &view)
}

/// Add an offered expert to a request's team (refused, naming the rule,
/// when the expert may not read the incident's label).
#[utoipa::path(
    post, path = "/api/v1/assistance-requests/{id}/team", tag = "response",
    params(("id" = String, Path, description = "The request's id")),
    request_body(content = TeamAddition, content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = RequestView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not the requester organisation, or a read-only role", body = super::openapi::ErrorBody),
        (status = 404, description = "No such request or expert, or none the caller may read", body = super::openapi::ErrorBody),
        (status = 409, description = "The expert may not join (the message names the rule)", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn add_team_member(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let addition: TeamAddition = parse_body(&headers, &body, "team member")?;
    let role: TeamRole = parse_vocab("role", &addition.role)?;
    let view = with_desk(&state, &caller, move |desk| {
        let request = desk.add_team_member(&id, &addition.expert_ref, role)?;
        let (_, stored) = desk.request(&request.meta.id)?;
        Ok(request_view(&request, &stored, Vec::new(), desk.now()))
    })
    .await?;
    written(&state, StatusCode::OK, &view)
}

/// The roster: every expert the caller may read.
#[utoipa::path(
    get, path = "/api/v1/experts", tag = "response",
    responses(
        (status = 200, description = "The experts the caller may read", body = ObjectList),
        (status = 400, description = "A parameter was given (none is taken)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn experts(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    let list = with_desk(&state, &caller, move |desk| {
        let rows = desk.experts()?;
        let stored: Vec<StoredObject> = rows.iter().map(|(_, s)| s.clone()).collect();
        desk.audit_shown(&stored, "rest")?;
        let objects = rows.iter().map(|(e, s)| ObjectView { object: e.to_stix(), label: label_text(&s.label) }).collect();
        Ok(ObjectList { objects })
    })
    .await?;
    json_response(StatusCode::OK, &list)
}

/// Put an expert of the caller's organisation on the roster.
#[utoipa::path(
    post, path = "/api/v1/experts", tag = "response",
    request_body(content = NewExpert, content_type = "application/json"),
    responses(
        (status = 201, description = "Added", body = ObjectView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller's role does not write", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by a write rule", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn add_expert(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let input: NewExpert = parse_body(&headers, &body, "expert")?;
    let view = with_desk(&state, &caller, move |desk| {
        let label = NewLabel { tlp: input.tlp, label: input.label };
        let expert = desk.add_expert(&input.name, input.details, &label)?;
        let (expert, stored) = desk.expert(&expert.meta.id)?;
        Ok(ObjectView { object: expert.to_stix(), label: label_text(&stored.label) })
    })
    .await?;
    written(&state, StatusCode::CREATED, &view)
}

/// Offer experts of the caller's nation for a request.
#[utoipa::path(
    post, path = "/api/v1/offers", tag = "response",
    request_body(content = NewOffer, content_type = "application/json"),
    responses(
        (status = 201, description = "Offered", body = ObjectView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller's role does not write", body = super::openapi::ErrorBody),
        (status = 404, description = "The request does not exist or the caller may not read it", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by a write rule", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn offer(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let input: NewOffer = parse_body(&headers, &body, "offer")?;
    let view = with_desk(&state, &caller, move |desk| {
        let label = NewLabel { tlp: input.tlp, label: input.label };
        let offer = desk.offer(input.offer, &label)?;
        let stored = desk
            .offers_for(&offer.details.request_ref)?
            .into_iter()
            .find(|(o, _)| o.meta.id == offer.meta.id)
            .map(|(_, s)| s)
            .ok_or_else(|| ApiError::internal(format!("offer {}: not readable after writing it", offer.meta.id)))?;
        Ok(ObjectView { object: offer.to_stix(), label: label_text(&stored.label) })
    })
    .await?;
    written(&state, StatusCode::CREATED, &view)
}

/// List tasks the caller may read.
#[utoipa::path(
    get, path = "/api/v1/tasks", tag = "response",
    params(TaskFilter),
    responses(
        (status = 200, description = "The tasks the caller may read", body = ObjectList),
        (status = 400, description = "A parameter is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn tasks(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut incident: Option<String> = None;
    let mut request: Option<String> = None;
    let mut status: Option<TaskStatus> = None;
    for (name, value) in filters(raw.as_deref(), &["incident", "request", "status"])? {
        match name {
            "incident" => incident = Some(value.trim().to_owned()),
            "request" => request = Some(value.trim().to_owned()),
            _ => status = Some(parse_filter("status", &value)?),
        }
    }
    let list = with_desk(&state, &caller, move |desk| {
        let mut rows = desk.tasks()?;
        rows.retain(|(t, _)| {
            incident.as_ref().is_none_or(|i| t.details.incident_ref.as_ref() == Some(i))
                && request.as_ref().is_none_or(|r| t.details.request_ref.as_ref() == Some(r))
                && status.is_none_or(|s| s == t.details.status)
        });
        let stored: Vec<StoredObject> = rows.iter().map(|(_, s)| s.clone()).collect();
        desk.audit_shown(&stored, "rest")?;
        let objects = rows.iter().map(|(t, s)| ObjectView { object: t.to_stix(), label: label_text(&s.label) }).collect();
        Ok(ObjectList { objects })
    })
    .await?;
    json_response(StatusCode::OK, &list)
}

/// Add a task to an incident or request.
#[utoipa::path(
    post, path = "/api/v1/tasks", tag = "response",
    request_body(content = NewTask, content_type = "application/json"),
    responses(
        (status = 201, description = "Added", body = ObjectView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller's role does not write", body = super::openapi::ErrorBody),
        (status = 404, description = "The incident or request does not exist or the caller may not read it", body = super::openapi::ErrorBody),
        (status = 409, description = "Refused by a write rule", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn add_task(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let input: NewTask = parse_body(&headers, &body, "task")?;
    let view = with_desk(&state, &caller, move |desk| {
        let label = NewLabel { tlp: input.tlp, label: input.label };
        let task = desk.add_task(&input.task, &label)?;
        let (task, stored) = desk.task(&task.meta.id)?;
        Ok(ObjectView { object: task.to_stix(), label: label_text(&stored.label) })
    })
    .await?;
    written(&state, StatusCode::CREATED, &view)
}

/// Change a task: status, owner, due time, a log note.
#[utoipa::path(
    patch, path = "/api/v1/tasks/{id}", tag = "response",
    params(("id" = String, Path, description = "The task's id")),
    request_body(content = Object, description = "status, owner, due, note", content_type = "application/json"),
    responses(
        (status = 200, description = "The new version", body = ObjectView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not the originator organisation, or a read-only role", body = super::openapi::ErrorBody),
        (status = 404, description = "No such task, or none the caller may read", body = super::openapi::ErrorBody),
        (status = 409, description = "The task's status may not move so", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn update_task(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    signed_in(&caller)?;
    let changes: TaskChanges = parse_body(&headers, &body, "task changes")?;
    let view = with_desk(&state, &caller, move |desk| {
        let task = desk.update_task(&id, &changes)?;
        let (task, stored) = desk.task(&task.meta.id)?;
        Ok(ObjectView { object: task.to_stix(), label: label_text(&stored.label) })
    })
    .await?;
    written(&state, StatusCode::OK, &view)
}
