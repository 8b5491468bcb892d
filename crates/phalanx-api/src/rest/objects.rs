//! `/api/v1/objects...` and `/api/v1/stats`: search, one object, its
//! versions, its relations, writing objects, and counts. Every read takes
//! the caller's subject into the store query (the read rule is applied
//! there), and every classified object served is audited first.

use super::params::{self, Endpoint, VersionParam};
use super::{json_response, json_text, require_json, signed_in};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::{AppState, blocking};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use phalanx_labels::{Label, LabelDefaults, Tlp};
use phalanx_model::{StixId, StixObject};
use phalanx_store::ingest::{Ingest, IngestOptions};
use phalanx_store::{Page, Query, StoredObject, VersionFilter};
use serde::Serialize;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use utoipa::{IntoParams, ToSchema};

/// Objects served per page when `limit` is not given.
const DEFAULT_LIMIT: usize = 100;
/// Most references of one object looked up for `relations`.
const MAX_REFERENCED: usize = 500;
/// The types `relations` lists.
const RELATION_TYPES: [&str; 2] = ["relationship", "sighting"];

/// A security label as the REST API shows it (spec §1).
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct LabelView {
    /// `UNCLASSIFIED`, `EU`, `NATO` or `NATIONAL:<alpha-3>`.
    pub policy: String,
    /// `UNCLASSIFIED`, `RESTRICTED`, `CONFIDENTIAL`, `SECRET` or `TOP_SECRET`.
    pub classification: String,
    /// Audience tokens; empty = the policy's default community.
    pub releasable_to: Vec<String>,
    /// Caveats a reader must hold.
    pub caveats: Vec<String>,
    /// TLP 2.0 level, or null for none.
    pub tlp: Option<String>,
    /// PAP level, or null.
    pub pap: Option<String>,
    /// Exercise id; null for real-world data.
    pub exercise: Option<String>,
    /// The originator organisation's id.
    pub originator: Option<String>,
    /// The display name, e.g. `NATO SECRET REL TO EU`.
    pub name: String,
}

impl LabelView {
    /// The view of `label`.
    pub fn of(label: &Label) -> Self {
        LabelView {
            policy: label.policy.to_string(),
            classification: label.classification.as_str().to_owned(),
            releasable_to: label.releasable_to.iter().cloned().collect(),
            caveats: label.caveats.iter().cloned().collect(),
            tlp: label.tlp.map(|t| t.as_str().to_owned()),
            pap: label.pap.map(|p| p.as_str().to_owned()),
            exercise: label.exercise.clone(),
            originator: label.originator.clone(),
            name: label.display_name(None),
        }
    }
}

/// One stored version of an object, with what the node knows of it.
#[derive(Clone, Debug, Serialize, ToSchema)]
pub struct ObjectRecord {
    /// The STIX id.
    pub id: String,
    /// The STIX type.
    #[serde(rename = "type")]
    pub object_type: String,
    /// `modified` (or `created`); null for unversioned objects (SCOs).
    pub version: Option<String>,
    /// When this node stored this version (6 fractional digits, `Z`).
    pub date_added: String,
    /// Whether this version is revoked.
    pub revoked: bool,
    /// Its security label.
    pub label: LabelView,
    /// The STIX object as stored.
    #[schema(value_type = Object)]
    pub object: Value,
}

impl ObjectRecord {
    fn of(o: &StoredObject) -> Result<Self, ApiError> {
        let object: Value =
            phalanx_model::strict::parse_text(&o.json).map_err(|e| ApiError::internal(format!("stored object {}: {e}", o.id)))?;
        Ok(ObjectRecord {
            id: o.id.clone(),
            object_type: o.object_type.clone(),
            version: o.version.map(|v| v.to_string()),
            date_added: o.date_added.with_digits(6).to_string(),
            revoked: o.revoked,
            label: LabelView::of(&o.label),
            object,
        })
    }
}

fn records(objects: &[StoredObject]) -> Result<Vec<ObjectRecord>, ApiError> {
    objects.iter().map(ObjectRecord::of).collect()
}

/// A page of objects.
#[derive(Debug, Serialize, ToSchema)]
pub struct ObjectPage {
    /// The objects, in `date_added` order.
    pub objects: Vec<ObjectRecord>,
    /// Whether more objects follow.
    pub more: bool,
    /// Pass as `cursor` (with the same filters) for the next page.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
    /// How many objects match in all (when `count=true`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub total: Option<u64>,
}

/// An object's relations.
#[derive(Debug, Serialize, ToSchema)]
pub struct Relations {
    /// The object asked about.
    pub id: String,
    /// The objects it references that the caller may read (latest versions).
    pub referenced: Vec<ObjectRecord>,
    /// Relationships and sightings that reference it, each of whose ends
    /// the caller may read.
    pub relations: Vec<ObjectRecord>,
    /// Whether more relations follow.
    pub more: bool,
    /// Pass as `cursor` for the next page of relations.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next: Option<String>,
}

/// Counts of what the caller may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct StatsView {
    /// Distinct objects (latest readable versions).
    pub objects: u64,
    /// Readable versions.
    pub versions: u64,
    /// Readable versions per type.
    pub versions_by_type: BTreeMap<String, u64>,
    /// The newest `date_added` readable, or null.
    pub last_added: Option<String>,
}

/// What writing one object did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteResult {
    /// Its place in the request (`$` or `$.objects[i]`).
    pub path: String,
    /// Its id, when it had one.
    pub id: Option<String>,
    /// `accepted` (stored, or already stored unchanged) or `refused`.
    pub status: String,
    /// Why it was refused.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// The label it was stored with, when the server raised it (spec §4).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub label_raised_to: Option<String>,
}

/// What a write did.
#[derive(Debug, Serialize, ToSchema)]
pub struct WriteReport {
    /// New versions stored.
    pub stored: u64,
    /// Versions already stored with the same content.
    pub unchanged: u64,
    /// Objects refused.
    pub refused: u64,
    /// One result per object, in request order.
    pub results: Vec<WriteResult>,
    /// Warnings on accepted objects.
    pub warnings: Vec<String>,
}

/// Query parameters of `GET /api/v1/objects` (for the OpenAPI document;
/// the handler parses the raw query strictly).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct SearchQuery {
    /// Object types, comma-separated.
    #[param(rename = "type")]
    object_type: Option<String>,
    /// Object ids, comma-separated.
    id: Option<String>,
    /// Full text over names and descriptions (every word; the last as a
    /// prefix), or a value: an address or CIDR block, a domain (and its
    /// subdomains), a URL, an e-mail address or a hash, in any case.
    q: Option<String>,
    /// Only versions added strictly after this instant (RFC 3339).
    added_after: Option<String>,
    /// Only versions added strictly before this instant (RFC 3339).
    added_before: Option<String>,
    /// The `next` of the previous page, with the same filters.
    cursor: Option<String>,
    /// Objects per page (default 100, capped by the node).
    #[param(minimum = 1)]
    limit: Option<u64>,
    /// `asc` (default) or `desc` by `date_added`.
    #[param(pattern = "^(asc|desc)$")]
    order: Option<String>,
    /// TLP levels, comma-separated: clear, green, amber, amber+strict, red, none.
    tlp: Option<String>,
    /// Policies, comma-separated: UNCLASSIFIED, EU, NATO, NATIONAL:XXX.
    policy: Option<String>,
    /// Lowest classification: a rank name or 0 to 4.
    min_classification: Option<String>,
    /// Highest classification: a rank name or 0 to 4.
    max_classification: Option<String>,
    /// Audience tokens (EU, NATO, a country, an organisation id), comma-separated: labels releasable to one of them.
    releasable_to: Option<String>,
    /// Originator organisation ids, comma-separated.
    originator: Option<String>,
    /// Include revoked versions (default false).
    include_revoked: Option<bool>,
    /// `first`, `last` (default) or `all` versions of each object.
    #[param(pattern = "^(first|last|all)$")]
    version: Option<String>,
    /// Also answer the total number of matches.
    count: Option<bool>,
}

/// Query parameters of `GET /api/v1/objects/{id}`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct ObjectQuery {
    /// `first`, `last` (default) or an exact version (`modified`).
    version: Option<String>,
}

/// Query parameters of the paged per-object endpoints.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct PageQuery {
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// Items per page (default 100, capped by the node).
    #[param(minimum = 1)]
    limit: Option<u64>,
}

/// Query parameters of `GET /api/v1/objects/{id}/relations`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct RelationsQuery {
    /// The `next` of the previous page.
    cursor: Option<String>,
    /// Relations per page (default 100, capped by the node).
    #[param(minimum = 1)]
    limit: Option<u64>,
    /// `relationship`, `sighting` or both, comma-separated.
    #[param(rename = "type")]
    object_type: Option<String>,
    /// Include revoked relations (default false).
    include_revoked: Option<bool>,
}

/// Query parameters of `POST /api/v1/objects`.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
#[allow(dead_code)]
pub struct WriteQuery {
    /// TLP given, explicitly, to objects that carry none.
    #[param(pattern = "^(clear|green|amber|amber\\+strict|red)$")]
    default_tlp: Option<String>,
}

fn parse_object_id(text: &str) -> Result<String, ApiError> {
    StixId::parse(text).map(|id| id.to_string()).map_err(|e| ApiError::parameter(format!("id: {e}")))
}

fn not_found(id: &str) -> ApiError {
    ApiError::not_found(format!("object: no object {id}"))
}

fn page_limit(state: &AppState, asked: Option<usize>) -> usize {
    let cap = state.config().page_size_cap.max(1);
    asked.unwrap_or(DEFAULT_LIMIT.min(cap)).min(cap)
}

/// Runs `query` as the caller and audits the classified versions returned
/// before anything is sent (a read that cannot be audited is not served).
async fn run(state: &AppState, caller: &Caller, query: Query) -> Result<Page, ApiError> {
    crate::read_page(state, caller, query, "rest", |page| page).await
}

/// Search objects.
///
/// Every filter is ANDed, values within one filter ORed. Only what the
/// caller may read is counted or listed.
#[utoipa::path(
    get, path = "/api/v1/objects", tag = "objects",
    params(SearchQuery),
    responses(
        (status = 200, description = "A page of objects", body = ObjectPage),
        (status = 400, description = "A parameter is malformed (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "The credentials do not authenticate", body = super::openapi::ErrorBody),
    ),
    security((), ("basic" = []), ("bearer" = []))
)]
pub async fn search(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let mut p = params::parse(raw.as_deref(), Endpoint::Search)?;
    p.verify_cursor(Endpoint::Search, "", caller.key())?;
    let versions = match &p.version {
        Some(VersionParam::Filter(f)) => f.clone(),
        Some(VersionParam::Exact(_)) => return Err(ApiError::parameter("version: expected first, last or all")),
        None => VersionFilter::Last,
    };
    let query = Query {
        ids: p.ids.clone(),
        types: p.types.clone(),
        added_after: p.added_after,
        added_before: p.added_before,
        versions,
        text: p.text.clone(),
        exclude_revoked: !p.include_revoked,
        limit: page_limit(&state, p.limit),
        after: p.after,
        order: p.order,
        label: p.label.clone(),
        ..Query::default()
    };
    let total = if p.count {
        let store = state.store().clone();
        let subject = caller.subject.clone();
        let counted = Query { limit: 0, after: None, ..query.clone() };
        Some(blocking(&state, move || Ok(store.count(&subject, &counted)?)).await?)
    } else {
        None
    };
    let page = run(&state, &caller, query).await?;
    let next = page.next.filter(|_| page.more).map(|c| p.cursor_token(c, Endpoint::Search, "", caller.key()));
    tracing::debug!(user = %caller.name(), returned = page.objects.len(), more = page.more, "rest search");
    json_response(StatusCode::OK, &ObjectPage { objects: records(&page.objects)?, more: page.more, next, total })
}

/// One object: its latest version the caller may read, or the version asked.
///
/// An object the caller may not read answers 404 exactly like a missing one.
#[utoipa::path(
    get, path = "/api/v1/objects/{id}", tag = "objects",
    params(("id" = String, Path, description = "The STIX id", pattern = r"^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", example = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), ObjectQuery),
    responses(
        (status = 200, description = "The object version", body = ObjectRecord),
        (status = 400, description = "The id or a parameter is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "The credentials do not authenticate", body = super::openapi::ErrorBody),
        (status = 404, description = "No such object, or none the caller may read", body = super::openapi::ErrorBody),
    ),
    security((), ("basic" = []), ("bearer" = []))
)]
pub async fn object(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_object_id(&id)?;
    let p = params::parse(raw.as_deref(), Endpoint::Object)?;
    let versions = match p.version {
        None => VersionFilter::Last,
        Some(VersionParam::Filter(VersionFilter::All)) => {
            return Err(ApiError::parameter("version: 'all' is served by /api/v1/objects/{id}/versions"));
        }
        Some(VersionParam::Filter(f)) => f,
        Some(VersionParam::Exact(t)) => VersionFilter::Exact(vec![t]),
    };
    let query = Query { ids: vec![id.clone()], versions, limit: 1, ..Query::default() };
    let page = run(&state, &caller, query).await?;
    let Some(found) = page.objects.first() else { return Err(not_found(&id)) };
    json_response(StatusCode::OK, &ObjectRecord::of(found)?)
}

/// Every version of an object the caller may read, oldest first, paged.
#[utoipa::path(
    get, path = "/api/v1/objects/{id}/versions", tag = "objects",
    params(("id" = String, Path, description = "The STIX id", pattern = r"^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", example = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), PageQuery),
    responses(
        (status = 200, description = "A page of versions", body = ObjectPage),
        (status = 400, description = "The id or a parameter is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "The credentials do not authenticate", body = super::openapi::ErrorBody),
        (status = 404, description = "No such object, or none the caller may read", body = super::openapi::ErrorBody),
    ),
    security((), ("basic" = []), ("bearer" = []))
)]
pub async fn versions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_object_id(&id)?;
    let mut p = params::parse(raw.as_deref(), Endpoint::Versions)?;
    p.verify_cursor(Endpoint::Versions, &id, caller.key())?;
    let query = Query {
        ids: vec![id.clone()],
        versions: VersionFilter::All,
        limit: page_limit(&state, p.limit),
        after: p.after,
        ..Query::default()
    };
    let page = run(&state, &caller, query).await?;
    if page.objects.is_empty() && p.after.is_none() {
        return Err(not_found(&id));
    }
    let next = page.next.filter(|_| page.more).map(|c| p.cursor_token(c, Endpoint::Versions, &id, caller.key()));
    json_response(StatusCode::OK, &ObjectPage { objects: records(&page.objects)?, more: page.more, next, total: None })
}

/// The ids a STIX object refers to through its `*_ref` and `*_refs`
/// properties (markings left out), in order, without repeats.
fn referenced_ids(object: &Value) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    let Some(map) = object.as_object() else { return out };
    for (key, value) in map {
        if key == "object_marking_refs" {
            continue;
        }
        let ids: Vec<&str> = if key.ends_with("_ref") {
            value.as_str().into_iter().collect()
        } else if key.ends_with("_refs") {
            value.as_array().map(|a| a.iter().filter_map(Value::as_str).collect()).unwrap_or_default()
        } else {
            Vec::new()
        };
        for id in ids {
            if StixId::parse(id).is_ok() && !out.iter().any(|o| o == id) {
                out.push(id.to_owned());
            }
        }
    }
    out.truncate(MAX_REFERENCED);
    out
}

/// An object's relations: the objects it references and the relationships
/// and sightings that reference it, each through the read rule.
///
/// A relation one of whose ends the caller may not read is not listed, so
/// it reveals nothing. Correlations are a different endpoint.
#[utoipa::path(
    get, path = "/api/v1/objects/{id}/relations", tag = "objects",
    params(("id" = String, Path, description = "The STIX id", pattern = r"^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", example = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"), RelationsQuery),
    responses(
        (status = 200, description = "The object's relations", body = Relations),
        (status = 400, description = "The id or a parameter is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "The credentials do not authenticate", body = super::openapi::ErrorBody),
        (status = 404, description = "No such object, or none the caller may read", body = super::openapi::ErrorBody),
    ),
    security((), ("basic" = []), ("bearer" = []))
)]
pub async fn relations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = parse_object_id(&id)?;
    let mut p = params::parse(raw.as_deref(), Endpoint::Relations)?;
    if let Some(bad) = p.types.iter().find(|t| !RELATION_TYPES.contains(&t.as_str())) {
        return Err(ApiError::parameter(format!("type: '{bad}' is not relationship or sighting")));
    }
    p.verify_cursor(Endpoint::Relations, &id, caller.key())?;
    let store = state.store().clone();
    let subject = caller.subject.clone();
    let actor = caller.actor.clone();
    let types = if p.types.is_empty() { RELATION_TYPES.iter().map(|t| (*t).to_owned()).collect() } else { p.types.clone() };
    let limit = page_limit(&state, p.limit);
    let include_revoked = p.include_revoked;
    let after = p.after;
    let object_id = id.clone();
    let found = blocking(&state, move || {
        let Some(latest) = store.get(&subject, &object_id, &VersionFilter::Last)?.into_iter().next_back() else {
            return Ok(None);
        };
        let value: Value = phalanx_model::strict::parse_text(&latest.json)
            .map_err(|e| ApiError::internal(format!("stored object {object_id}: {e}")))?;
        let refs = referenced_ids(&value);
        let referenced = if refs.is_empty() {
            Page::default()
        } else {
            store.query(&subject, &Query { ids: refs, ..Query::default() })?
        };
        let relations = store.query(
            &subject,
            &Query {
                referencing: vec![object_id.clone()],
                readable_ends: true,
                types,
                exclude_revoked: !include_revoked,
                limit,
                after,
                ..Query::default()
            },
        )?;
        if let Some(actor) = &actor {
            phalanx_auth::audit_reads(store.as_ref(), actor, &referenced.objects, "rest")?;
            phalanx_auth::audit_reads(store.as_ref(), actor, &relations.objects, "rest")?;
        }
        Ok(Some((referenced, relations)))
    })
    .await?;
    let Some((referenced, relations)) = found else { return Err(not_found(&id)) };
    let next =
        relations.next.filter(|_| relations.more).map(|c| p.cursor_token(c, Endpoint::Relations, &id, caller.key()));
    let body = Relations {
        id,
        referenced: records(&referenced.objects)?,
        relations: records(&relations.objects)?,
        more: relations.more,
        next,
    };
    json_response(StatusCode::OK, &body)
}

/// Counts of what the caller may read.
#[utoipa::path(
    get, path = "/api/v1/stats", tag = "objects",
    responses(
        (status = 200, description = "Counts under the read rule", body = StatsView),
        (status = 400, description = "A parameter was given (none are taken)", body = super::openapi::ErrorBody),
        (status = 401, description = "The credentials do not authenticate", body = super::openapi::ErrorBody),
    ),
    security((), ("basic" = []), ("bearer" = []))
)]
pub async fn stats(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    let store = state.store().clone();
    let subject = caller.subject.clone();
    let stats = blocking(&state, move || Ok(store.stats(&subject)?)).await?;
    let view = StatsView {
        objects: stats.objects,
        versions: stats.versions,
        versions_by_type: stats.versions_by_type.into_iter().collect(),
        last_added: stats.last_added.map(|t| t.with_digits(6).to_string()),
    };
    json_response(StatusCode::OK, &view)
}

/// One object of a write, parsed or refused.
struct Posted {
    path: String,
    id: Option<String>,
    parsed: Result<phalanx_model::ParsedObject, phalanx_model::ObjectErrors>,
}

/// The objects of a write body: a STIX bundle, or one object.
fn read_objects(bytes: &[u8]) -> Result<Vec<Posted>, ApiError> {
    let value: Value = phalanx_model::strict::parse_value(bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("body: not valid json: {e}")))?;
    let Value::Object(mut map) = value else {
        return Err(ApiError::new(ErrorCode::UnprocessableContent, "body: expected a STIX bundle or one STIX object (a json object)"));
    };
    let items: Vec<(String, Value)> = match map.get("type").and_then(Value::as_str) {
        None => return Err(ApiError::new(ErrorCode::UnprocessableContent, "body: type: missing (a STIX bundle or object has one)")),
        Some("bundle") => match map.remove("objects") {
            None => Vec::new(),
            Some(Value::Array(list)) => {
                list.into_iter().enumerate().map(|(i, o)| (format!("$.objects[{i}]"), o)).collect()
            }
            Some(_) => return Err(ApiError::new(ErrorCode::UnprocessableContent, "body: objects: expected a list")),
        },
        Some(_) => vec![("$".to_owned(), Value::Object(map))],
    };
    Ok(items
        .into_iter()
        .map(|(path, object)| {
            let id = object.get("id").and_then(Value::as_str).map(str::to_owned);
            let parsed = StixObject::from_value(object, &path);
            Posted { path, id, parsed }
        })
        .collect())
}

/// Write objects: a STIX bundle or one object.
///
/// Written through the same write rules as TAXII POST and `phalanx import`
/// (labels from markings, originator, derived objects raised, only the
/// originator versions), in one transaction; the answer has one result
/// per object. Needs a user whose role may write.
#[utoipa::path(
    post, path = "/api/v1/objects", tag = "objects",
    params(WriteQuery),
    request_body(content = Object, description = "A STIX 2.1 bundle, or one STIX object", content_type = "application/json"),
    responses(
        (status = 200, description = "The write committed; one result per object", body = WriteReport),
        (status = 400, description = "The body is not JSON, or a parameter is malformed", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller's role may not write", body = super::openapi::ErrorBody),
        (status = 413, description = "The body is too large", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
        (status = 422, description = "The body is not a bundle or an object", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn add(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: axum::body::Body,
) -> Result<Response, ApiError> {
    let actor = signed_in(&caller)?.clone();
    if !caller.can_write() {
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("user '{}': the role {} may not write objects", actor.user.name, actor.user.role),
        ));
    }
    let mut default_tlp = None;
    for (name, value) in crate::taxii::params::parse_query(raw.as_deref())? {
        match name.as_str() {
            "default_tlp" => {
                default_tlp = Some(value.parse::<Tlp>().map_err(|e| ApiError::parameter(format!("default_tlp: {e}")))?);
            }
            other => {
                return Err(ApiError::parameter(format!(
                    "{}: not a parameter of this endpoint (it takes default_tlp)",
                    params::short(other)
                )));
            }
        }
    }
    require_json(&headers)?;
    let max = state.config().max_content_length;
    let bytes: Bytes = axum::body::to_bytes(body, max).await.map_err(|_| {
        ApiError::new(ErrorCode::PayloadTooLarge, format!("body: larger than the node's limit ({max} bytes)"))
    })?;
    let posted = read_objects(&bytes)?;
    drop(bytes);
    let options = IngestOptions {
        defaults: LabelDefaults {
            tlp: default_tlp.or(state.config().default_tlp).unwrap_or(LabelDefaults::default().tlp),
            label: None,
        },
        explicit_defaults: default_tlp.is_some(),
        origin: actor.origin(),
        signed_by_originator: false,
    };
    let store = state.store().clone();
    let report = blocking(&state, move || {
        let mut txn = store.begin()?;
        let mut ingest = Ingest::new(store.as_ref(), &actor, options)?;
        let mut meta = Vec::with_capacity(posted.len());
        for p in posted {
            let id = match &p.parsed {
                Ok(parsed) => Some(parsed.object.id().to_string()),
                Err(_) => p.id.clone(),
            };
            match p.parsed {
                Ok(parsed) => ingest.object(txn.as_mut(), &p.path, parsed)?,
                Err(errors) => ingest.refuse_invalid(&p.path, &errors),
            }
            meta.push((p.path, id));
        }
        let report = ingest.finish(txn.as_mut())?;
        txn.commit()?;
        tracing::info!(
            user = %actor.user.name,
            stored = report.stored,
            unchanged = report.unchanged,
            refused = report.refused.len(),
            raised = report.raised.len(),
            "rest write"
        );
        let mut refused: HashMap<&str, &str> = HashMap::new();
        for r in &report.refused {
            refused.entry(r.path.as_str()).or_insert(r.reason.as_str());
        }
        let raised: HashMap<&str, &str> = report.raised.iter().map(|r| (r.id.as_str(), r.to.as_str())).collect();
        let results = meta
            .into_iter()
            .map(|(path, id)| match refused.get(path.as_str()) {
                Some(reason) => WriteResult { path, id, status: "refused".into(), reason: Some((*reason).to_owned()), label_raised_to: None },
                None => {
                    let label_raised_to = id.as_deref().and_then(|i| raised.get(i)).map(|t| (*t).to_owned());
                    WriteResult { path, id, status: "accepted".into(), reason: None, label_raised_to }
                }
            })
            .collect();
        Ok(WriteReport {
            stored: report.stored,
            unchanged: report.unchanged,
            refused: report.refused.len() as u64,
            results,
            warnings: report.warnings.clone(),
        })
    })
    .await?;
    if report.stored > 0 {
        state.notify_committed();
    }
    metrics::counter!("phalanx_objects_stored_total").increment(report.stored);
    metrics::counter!("phalanx_objects_refused_total").increment(report.refused);
    let body = serde_json::to_string(&report).map_err(ApiError::internal)?;
    Ok(json_text(StatusCode::OK, body))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn referenced_ids_leave_out_markings_and_repeats() {
        let v = serde_json::json!({
            "type": "relationship",
            "source_ref": "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "target_ref": "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b",
            "object_refs": ["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "not an id"],
            "object_marking_refs": ["marking-definition--bab4a63c-aed9-4cf5-a766-dfca5abac2bb"],
        });
        assert_eq!(
            referenced_ids(&v),
            vec!["indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f", "malware--31b940d4-6f7f-459a-80ea-9c1f17b5891b"]
        );
    }

    #[test]
    fn write_bodies_are_a_bundle_or_one_object() {
        let one = read_objects(br#"{"type":"indicator","id":"indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f"}"#).unwrap();
        assert_eq!(one.len(), 1);
        assert_eq!(one[0].path, "$");
        assert!(one[0].parsed.is_err(), "an incomplete indicator is refused per object, not for the request");
        let bundle = read_objects(br#"{"type":"bundle","id":"bundle--1","objects":[{},{}]}"#).unwrap();
        assert_eq!(bundle.iter().map(|p| p.path.as_str()).collect::<Vec<_>>(), ["$.objects[0]", "$.objects[1]"]);
        let code = |body: &[u8]| read_objects(body).err().map(|e| e.code);
        assert_eq!(code(b"[1]"), Some(ErrorCode::UnprocessableContent));
        assert_eq!(code(b"{"), Some(ErrorCode::InvalidBody));
        assert_eq!(code(br#"{"id":"x"}"#), Some(ErrorCode::UnprocessableContent));
    }
}
