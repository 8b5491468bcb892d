//! The TAXII 2.1 endpoints (§4, §5). Each resolves the collection and the
//! caller's rights, parses its filters, and asks the store with the
//! caller's subject on a blocking thread.

use super::collections::Collection;
use super::params::{Binding, Endpoint, Filters, parse_filters};
use super::status::{StatusDetail, StatusResource};
use super::{API_ROOT_PATH, DISCOVERY_PATH};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode, TAXII_CONTENT_TYPE, TaxiiError};
use crate::media::is_taxii_content_type;
use crate::{AppState, blocking};
use axum::Extension;
use axum::body::Body;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use phalanx_labels::{LabelDefaults, LabelMarking, Tlp};
use phalanx_model::stream::{Limits, StreamErrorKind};
use phalanx_model::{StixId, Timestamp};
use phalanx_store::ingest::{Ingest, IngestOptions};
use phalanx_store::pipeline::{Container, Fatal, Sharing, write_stream};
use phalanx_store::{LabelFilter, Page, Query, StoredObject, VersionFilter};
use serde::de::IgnoredAny;
use serde_json::{Value, json};
use std::collections::{HashMap, HashSet};

type TaxiiResult = Result<Response, TaxiiError>;

/// The STIX media type objects are served as.
const STIX_MEDIA_TYPE: &str = "application/stix+json;version=2.1";
/// Header of the first `date_added` in a response.
const DATE_ADDED_FIRST: &str = "X-TAXII-Date-Added-First";
/// Header of the last `date_added` in a response.
const DATE_ADDED_LAST: &str = "X-TAXII-Date-Added-Last";

/// A TAXII timestamp: exactly 6 fractional digits and `Z` (§2).
fn taxii_timestamp(t: Timestamp) -> String {
    t.with_digits(6).to_string()
}

/// An object version as TAXII shows it: `modified`/`created` as given,
/// else (unversioned objects) the `date_added`.
fn version_text(o: &StoredObject) -> String {
    match o.version {
        Some(v) => v.to_string(),
        None => taxii_timestamp(o.date_added),
    }
}

fn respond(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_CONTENT_TYPE));
    r
}

fn ok_json(value: &Value) -> Response {
    respond(StatusCode::OK, value.to_string())
}

/// Adds the `X-TAXII-Date-Added-First`/`-Last` headers of a page.
fn with_date_headers(response: Response, objects: &[StoredObject]) -> Response {
    with_added_range(response, objects.first().map(|o| o.date_added), objects.last().map(|o| o.date_added))
}

/// Adds the `X-TAXII-Date-Added-First`/`-Last` headers, when a page has
/// a first and a last object.
fn with_added_range(mut response: Response, first: Option<Timestamp>, last: Option<Timestamp>) -> Response {
    if let (Some(first), Some(last)) = (first, last) {
        let h = response.headers_mut();
        for (name, t) in [(DATE_ADDED_FIRST, first), (DATE_ADDED_LAST, last)] {
            if let Ok(v) = HeaderValue::from_str(&taxii_timestamp(t)) {
                h.insert(name, v);
            }
        }
    }
    response
}

/// The collection `key` (id or alias), unless it is hidden from `caller`
/// (a community it is not a member of: the same 404 as a missing one).
fn find_collection<'a>(state: &'a AppState, key: &str, caller: &Caller) -> Result<&'a Collection, ApiError> {
    state
        .0
        .collections
        .iter()
        .find(|c| (c.id == key || c.alias == key) && !c.hidden_from(caller))
        .ok_or_else(|| ApiError::not_found(format!("collection: no collection '{key}' in this api root")))
}

/// The collection, if the caller may read from it.
fn readable_collection(state: &AppState, key: &str, caller: &Caller) -> Result<Collection, ApiError> {
    let c = find_collection(state, key, caller)?;
    if !c.can_read(caller) {
        return Err(ApiError::new(ErrorCode::Forbidden, format!("collection {}: may not be read (can_read is false)", c.alias)));
    }
    Ok(c.clone())
}

/// The collection, if the caller may write to it (anonymous: 401).
fn writable_collection(state: &AppState, key: &str, caller: &Caller) -> Result<Collection, ApiError> {
    let c = find_collection(state, key, caller)?;
    if !c.can_write(caller) {
        if caller.actor.is_none() {
            return Err(ApiError::new(ErrorCode::Unauthorized, format!("collection {}: writing needs authentication", c.alias)));
        }
        return Err(ApiError::new(ErrorCode::Forbidden, format!("collection {}: may not be written (can_write is false)", c.alias)));
    }
    Ok(c.clone())
}

fn parse_object_id(text: &str) -> Result<String, ApiError> {
    StixId::parse(text).map(|id| id.to_string()).map_err(|e| ApiError::parameter(format!("object id: {e}")))
}

/// The store query for `filters` in `collection`; `None` when nothing can
/// match (another spec_version, or types outside a view).
fn build_query(state: &AppState, c: &Collection, f: &Filters, object: Option<&str>, versions: VersionFilter) -> Option<Query> {
    if !f.spec_21 {
        return None;
    }
    let types = match c.types() {
        None => f.types.clone(),
        Some(view) if f.types.is_empty() => view.iter().map(|t| (*t).to_owned()).collect(),
        Some(view) => {
            let kept: Vec<String> = f.types.iter().filter(|t| view.contains(&t.as_str())).cloned().collect();
            if kept.is_empty() {
                return None;
            }
            kept
        }
    };
    let cap = state.config().page_size_cap.max(1);
    Some(Query {
        ids: match object {
            Some(id) => vec![id.to_owned()],
            None => f.ids.clone(),
        },
        types,
        added_after: f.added_after,
        versions,
        limit: f.limit.unwrap_or(cap).min(cap),
        after: f.after,
        label: c.community().map(|community| LabelFilter { audience: vec![community.to_owned()], ..LabelFilter::default() }),
        ..Query::default()
    })
}

/// Runs a query as the caller, and audits the classified reads it returns
/// (`phalanx_auth::audit_reads`) before anything is sent: a read that
/// cannot be audited is not served.
async fn run(state: &AppState, caller: &Caller, query: Option<Query>) -> Result<Page, ApiError> {
    run_then(state, caller, query, |page| page).await
}

/// [`run`], handing the page to `then` ([`crate::read_page`]; no query:
/// an empty page).
async fn run_then<T, F>(state: &AppState, caller: &Caller, query: Option<Query>, then: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(Page) -> T + Send + 'static,
{
    let Some(query) = query else { return Ok(then(Page::default())) };
    crate::read_page(state, caller, query, "taxii", then).await
}

/// The envelope response of a query's page, written where the page was
/// read, and whether the page holds no object.
///
/// A page with nothing whose read must be audited is read as JSON texts
/// only ([`crate::quick_json_page`]): no object is decoded on its way
/// from the store to the envelope.
async fn run_envelope(state: &AppState, caller: &Caller, query: Option<Query>, f: &Filters, binding: &Binding<'_>) -> Result<(Response, bool), ApiError> {
    if let Some(q) = &query
        && let Some(page) = crate::quick_json_page(state, caller, q)?
    {
        let next = page.next.map(|c| f.next_token(c, binding));
        let body = envelope_text(page.more, next, "objects", page.texts());
        let response = with_added_range(
            respond(StatusCode::OK, body),
            page.objects.first().map(|o| o.date_added),
            page.objects.last().map(|o| o.date_added),
        );
        return Ok((response, page.objects.is_empty()));
    }
    let f = f.clone();
    let (endpoint, collection, object) = (binding.endpoint, binding.collection.to_owned(), binding.object.to_owned());
    let caller_key = binding.caller.to_owned();
    let then = move |page: Page| {
        let binding = Binding { endpoint, collection: &collection, object: &object, caller: &caller_key };
        (envelope(&page, next_of(&page, &f, &binding)), page.objects.is_empty())
    };
    match query {
        Some(query) => crate::read_page_on_pool(state, caller, query, "taxii", then).await,
        None => Ok(then(Page::default())),
    }
}

/// `{"more": .., "next": ..}` plus the list under `key`, or `{}` when empty.
fn paged_body<S: AsRef<str>>(page: &Page, next: Option<String>, key: &str, items: &[S]) -> String {
    envelope_text(page.more, next, key, items.iter().map(|i| i.as_ref()))
}

/// `{"more": .., "next": ..}` plus the JSON texts `items` as the list under
/// `key`, or `{}` when there are none and no more follow.
fn envelope_text<'a>(more: bool, next: Option<String>, key: &str, items: impl Iterator<Item = &'a str> + Clone) -> String {
    let empty = items.clone().next().is_none();
    if empty && !more {
        return "{}".to_owned();
    }
    // Written once into a buffer of the right size: joining the items and
    // formatting them into the envelope copied a 100-object page twice.
    let mut out = String::with_capacity(64 + key.len() + items.clone().map(|i| i.len() + 1).sum::<usize>());
    out.push_str(if more { "{\"more\":true" } else { "{\"more\":false" });
    if let Some(next) = next.filter(|_| more) {
        out.push_str(",\"next\":");
        out.push_str(&Value::String(next).to_string());
    }
    if !empty {
        out.push_str(",\"");
        out.push_str(key);
        out.push_str("\":[");
        for (i, item) in items.enumerate() {
            if i > 0 {
                out.push(',');
            }
            out.push_str(item);
        }
        out.push(']');
    }
    out.push('}');
    out
}

fn next_of(page: &Page, f: &Filters, binding: &Binding<'_>) -> Option<String> {
    page.next.map(|c| f.next_token(c, binding))
}

/// GET `/taxii2/` (§4.1).
pub async fn discovery(State(state): State<AppState>) -> Response {
    let c = state.config();
    let mut body = json!({"title": c.title, "default": API_ROOT_PATH, "api_roots": [API_ROOT_PATH]});
    if let Some(d) = &c.description {
        body["description"] = json!(d);
    }
    if let Some(contact) = &c.contact {
        body["contact"] = json!(contact);
    }
    debug_assert!(DISCOVERY_PATH.ends_with('/') && API_ROOT_PATH.starts_with(DISCOVERY_PATH));
    ok_json(&body)
}

/// GET `{api-root}/` (§4.2).
pub async fn api_root(State(state): State<AppState>) -> Response {
    let c = state.config();
    ok_json(&json!({
        "title": c.title,
        "description": "Phalanx node: STIX 2.1 objects under security labels; you see what the read rule lets you read.",
        "versions": [TAXII_CONTENT_TYPE],
        "max_content_length": c.max_content_length,
    }))
}

/// GET `{api-root}/status/{id}/` (§4.3): only the caller that posted sees it.
pub async fn status(State(state): State<AppState>, Extension(caller): Extension<Caller>, Path(id): Path<String>) -> TaxiiResult {
    match state.0.statuses.get(caller.key(), &id) {
        Some(s) => Ok(ok_json(&serde_json::to_value(&*s).map_err(ApiError::internal)?)),
        None => Err(ApiError::not_found(format!("status: no status '{id}' (unknown, expired, or not yours)")).into()),
    }
}

/// GET `{api-root}/collections/` (§5.1).
pub async fn collections(State(state): State<AppState>, Extension(caller): Extension<Caller>) -> Response {
    let list: Vec<Value> =
        state.0.collections.iter().filter(|c| !c.hidden_from(&caller)).map(|c| c.resource(&caller)).collect();
    ok_json(&json!({"collections": list}))
}

/// GET `{api-root}/collections/{id}/` (§5.2).
pub async fn collection(State(state): State<AppState>, Extension(caller): Extension<Caller>, Path(key): Path<String>) -> TaxiiResult {
    Ok(ok_json(&find_collection(&state, &key, &caller)?.resource(&caller)))
}

/// GET `.../manifest/` (§5.3).
pub async fn manifest(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    let c = readable_collection(&state, &key, &caller)?;
    let (mut f, next) = parse_filters(raw.as_deref(), Endpoint::Manifest)?;
    let binding = Binding { endpoint: Endpoint::Manifest, collection: &c.id, object: "", caller: caller.key() };
    f.verify_next(next.as_deref(), &binding)?;
    let versions = f.versions.clone();
    let page = run(&state, &caller, build_query(&state, &c, &f, None, versions)).await?;
    let records: Vec<String> = page
        .objects
        .iter()
        .map(|o| {
            json!({"id": o.id, "date_added": taxii_timestamp(o.date_added), "version": version_text(o), "media_type": STIX_MEDIA_TYPE})
                .to_string()
        })
        .collect();
    let body = paged_body(&page, next_of(&page, &f, &binding), "objects", &records);
    Ok(with_date_headers(respond(StatusCode::OK, body), &page.objects))
}

/// GET `.../objects/` (§5.4): an envelope.
pub async fn objects(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    let c = readable_collection(&state, &key, &caller)?;
    let (mut f, next) = parse_filters(raw.as_deref(), Endpoint::Objects)?;
    let binding = Binding { endpoint: Endpoint::Objects, collection: &c.id, object: "", caller: caller.key() };
    f.verify_next(next.as_deref(), &binding)?;
    let versions = f.versions.clone();
    let (response, _) = run_envelope(&state, &caller, build_query(&state, &c, &f, None, versions), &f, &binding).await?;
    Ok(response)
}

/// GET `.../objects/{id}/` (§5.6): an envelope; 404 when the caller may
/// read no version of it (or it does not exist: the same answer).
pub async fn object(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((key, object)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    let c = readable_collection(&state, &key, &caller)?;
    let id = parse_object_id(&object)?;
    let (mut f, next) = parse_filters(raw.as_deref(), Endpoint::Object)?;
    let binding = Binding { endpoint: Endpoint::Object, collection: &c.id, object: &id, caller: caller.key() };
    f.verify_next(next.as_deref(), &binding)?;
    let versions = f.versions.clone();
    let (response, empty) = run_envelope(&state, &caller, build_query(&state, &c, &f, Some(&id), versions), &f, &binding).await?;
    if empty && f.after.is_none() {
        return Err(ApiError::not_found(format!("object: no object {id} in this collection")).into());
    }
    Ok(response)
}

/// GET `.../objects/{id}/versions/` (§5.8).
pub async fn versions(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((key, object)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    let c = readable_collection(&state, &key, &caller)?;
    let id = parse_object_id(&object)?;
    let (mut f, next) = parse_filters(raw.as_deref(), Endpoint::Versions)?;
    let binding = Binding { endpoint: Endpoint::Versions, collection: &c.id, object: &id, caller: caller.key() };
    f.verify_next(next.as_deref(), &binding)?;
    let page = run(&state, &caller, build_query(&state, &c, &f, Some(&id), VersionFilter::All)).await?;
    if page.objects.is_empty() && f.after.is_none() {
        return Err(ApiError::not_found(format!("object: no object {id} in this collection")).into());
    }
    let items: Vec<String> = page.objects.iter().map(|o| Value::String(version_text(o)).to_string()).collect();
    let body = paged_body(&page, next_of(&page, &f, &binding), "versions", &items);
    Ok(with_date_headers(respond(StatusCode::OK, body), &page.objects))
}

/// DELETE `.../objects/{id}/` (§5.7). Needs can_read and can_write on the
/// collection (r=f,w=f: 404; one of them false: 403), a version the
/// caller may read (else 404), and the caller's organisation as the
/// originator of every version deleted (else 403).
pub async fn delete_object(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path((key, object)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> TaxiiResult {
    let c = find_collection(&state, &key, &caller)?.clone();
    let Some(actor) = caller.actor.clone() else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "delete: needs authentication").into());
    };
    match (c.can_read(&caller), c.can_write(&caller)) {
        (true, true) => {}
        (false, false) => return Err(ApiError::not_found(format!("object: no object {object} in this collection")).into()),
        _ => {
            return Err(ApiError::new(
                ErrorCode::Forbidden,
                format!("collection {}: deleting needs can_read and can_write", c.alias),
            )
            .into());
        }
    }
    let id = parse_object_id(&object)?;
    let (f, _) = parse_filters(raw.as_deref(), Endpoint::Delete)?;
    if !f.spec_21 {
        return Err(ApiError::not_found(format!("object: no object {id} in this collection")).into());
    }
    let store = state.store().clone();
    let subject = caller.subject.clone();
    let types = c.types();
    let in_community = c.community().map(|community| LabelFilter { audience: vec![community.to_owned()], ..LabelFilter::default() });
    let deleted = blocking(&state, move || {
        let visible: Vec<StoredObject> = store
            .get(&subject, &id, &f.versions)?
            .into_iter()
            .filter(|o| types.is_none_or(|t| t.contains(&o.object_type.as_str())))
            .filter(|o| in_community.as_ref().is_none_or(|filter| filter.matches(&o.label)))
            .collect();
        if visible.is_empty() {
            return Err(ApiError::not_found(format!("object: no object {id} in this collection")));
        }
        if visible.iter().any(|o| o.label.originator.as_deref() != Some(actor.org_id())) {
            return Err(ApiError::new(ErrorCode::Forbidden, "object: only the originator organisation may delete it"));
        }
        let filter = if visible.iter().all(|o| o.version.is_none()) {
            VersionFilter::All
        } else {
            VersionFilter::Exact(visible.iter().filter_map(|o| o.version).collect())
        };
        let n = store.delete_versions_by(&actor.audit_name(), &id, &filter)?;
        tracing::info!(user = %actor.user.name, object = %id, versions = n, "taxii delete");
        Ok(n)
    })
    .await?;
    state.notify_committed();
    metrics::counter!("phalanx_objects_deleted_total").increment(deleted);
    Ok(respond(StatusCode::OK, String::new()))
}

/// The error for a POST body refused whole: 400 when it is not JSON, 422
/// when it is JSON but not an envelope.
fn refused_body(fatal: Option<Fatal>, bytes: &[u8]) -> ApiError {
    match fatal {
        // The splitter stops at the first problem: a body of the wrong
        // shape may be no JSON at all.
        Some(Fatal { kind: StreamErrorKind::Container, message }) => match serde_json::from_slice::<IgnoredAny>(bytes) {
            Ok(_) => ApiError::new(ErrorCode::UnprocessableContent, format!("body: {message}")),
            Err(e) => ApiError::new(ErrorCode::InvalidBody, format!("body: invalid json: {e}")),
        },
        Some(Fatal { message, .. }) => ApiError::new(ErrorCode::InvalidBody, format!("body: {message}")),
        None => ApiError::internal("post: the write neither finished nor was refused"),
    }
}

/// POST `.../objects/` (§5.5): the envelope's objects are written through
/// the ingest (the write rules), in one transaction; 202 with a complete
/// status resource.
pub async fn add_objects(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(key): Path<String>,
    RawQuery(raw): RawQuery,
    headers: HeaderMap,
    body: Body,
) -> TaxiiResult {
    let request_timestamp = taxii_timestamp(Timestamp::now(6));
    let c = writable_collection(&state, &key, &caller)?;
    let Some(actor) = caller.actor.clone() else {
        return Err(ApiError::new(ErrorCode::Unauthorized, "post: needs authentication").into());
    };
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok());
    if !is_taxii_content_type(content_type) {
        return Err(ApiError::new(
            ErrorCode::UnsupportedMediaType,
            "content-type: must be application/taxii+json;version=2.1",
        )
        .into());
    }
    let max = state.config().max_content_length;
    let too_large =
        || ApiError::new(ErrorCode::PayloadTooLarge, format!("body: larger than max_content_length ({max} bytes)"));
    let declared = headers.get(header::CONTENT_LENGTH).and_then(|v| v.to_str().ok()).and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return Err(too_large().into());
    }
    let (f, _) = parse_filters(raw.as_deref(), Endpoint::Post)?;
    let explicit_tlp = match &f.default_tlp {
        Some(t) => Some(t.parse::<Tlp>().map_err(|e| ApiError::parameter(format!("default_tlp: {e}")))?),
        None => None,
    };
    let bytes = axum::body::to_bytes(body, max).await.map_err(|_| too_large())?;

    // A community collection labels the objects without a label marking
    // releasable to the community, explicitly (their markings otherwise win).
    let community_label = c.community().map(|community| LabelMarking {
        releasable_to: [community.to_owned()].into(),
        ..LabelMarking::unclassified()
    });
    let options = IngestOptions {
        defaults: LabelDefaults {
            tlp: explicit_tlp.or(state.config().default_tlp).unwrap_or(LabelDefaults::default().tlp),
            label: community_label,
        },
        explicit_defaults: explicit_tlp.is_some() || c.community().is_some(),
        origin: actor.origin(),
        signed_by_originator: false,
    };
    let store = state.store().clone();
    let subject = caller.subject.clone();
    let received = request_timestamp.clone();
    let (total, successes, failures, stored) = blocking(&state, move || {
        let mut ingest = Ingest::new(store.as_ref(), &actor, options)?;
        ingest.record_unversioned_added();
        // Where each object was, its id (the path when it has none) and
        // its version as given, in input order, for the status resource.
        let mut meta: Vec<(String, String, Option<String>)> = Vec::new();
        let input_bytes = bytes.len() as u64;
        let reader = Box::new(std::io::Cursor::new(bytes.clone()));
        let limits = Limits { max_object_bytes: max, ..Limits::default() };
        let outcome = write_stream(store.as_ref(), ingest, limits, reader, Container::TaxiiEnvelope, Some(input_bytes), Sharing::Shared, Some(&mut |seen| {
            let id = seen.id.unwrap_or(seen.path).to_owned();
            meta.push((seen.path.to_owned(), id, seen.version.map(str::to_owned)));
        }))?;
        let Some(report) = outcome.report else {
            return Err(refused_body(outcome.fatal, &bytes));
        };
        drop(bytes);
        let total = meta.len() as u64;
        let mut refused: HashMap<&str, String> = HashMap::new();
        for r in &report.refused {
            refused.entry(r.path.as_str()).or_insert_with(|| r.reason.clone());
        }
        // Unversioned objects are known by their date_added: the ingest
        // reports those it stored; those already stored are looked up.
        let mut added: HashMap<String, String> = HashMap::new();
        for (id, date_added) in &report.unversioned_added {
            added.insert(id.clone(), taxii_timestamp(*date_added));
        }
        let unversioned: Vec<String> = meta
            .iter()
            .filter(|(path, id, version)| {
                version.is_none() && !refused.contains_key(path.as_str()) && !added.contains_key(id)
            })
            .map(|(_, id, _)| id.clone())
            .collect::<HashSet<_>>()
            .into_iter()
            .collect();
        for chunk in unversioned.chunks(200) {
            let q = Query { ids: chunk.to_vec(), ..Query::default() };
            for o in store.query(&subject, &q)?.objects {
                added.insert(o.id.clone(), taxii_timestamp(o.date_added));
            }
        }
        let (mut ok, mut failed) = (Vec::new(), Vec::new());
        for (path, id, version) in meta {
            match refused.get(path.as_str()) {
                Some(reason) => failed.push(StatusDetail {
                    version: version.unwrap_or_else(|| received.clone()),
                    id,
                    message: Some(reason.clone()),
                }),
                None => {
                    let version = version.or_else(|| added.get(&id).cloned()).unwrap_or_else(|| received.clone());
                    ok.push(StatusDetail { id, version, message: None });
                }
            }
        }
        tracing::info!(
            user = %actor.user.name,
            stored = report.stored,
            unchanged = report.unchanged,
            refused = report.refused.len(),
            raised = report.raised.len(),
            "taxii post"
        );
        Ok((total, ok, failed, report.stored))
    })
    .await?;
    if stored > 0 {
        state.notify_committed();
    }
    metrics::counter!("phalanx_objects_stored_total").increment(stored);
    metrics::counter!("phalanx_objects_refused_total").increment(failures.len() as u64);
    let resource = StatusResource {
        id: uuid::Uuid::new_v4().to_string(),
        status: "complete",
        request_timestamp,
        total_count: total,
        success_count: successes.len() as u64,
        failure_count: failures.len() as u64,
        pending_count: 0,
        successes,
        failures,
        pendings: Vec::new(),
    };
    debug_assert_eq!(resource.success_count + resource.failure_count + resource.pending_count, resource.total_count);
    tracing::debug!(collection = %c.alias, status = %resource.id, "status resource made");
    let resource = state.0.statuses.insert(caller.key(), resource);
    let body = serde_json::to_string(&*resource).map_err(ApiError::internal)?;
    Ok(respond(StatusCode::ACCEPTED, body))
}

/// A 200 envelope of a page of objects, with its date headers (§3.7).
fn envelope(page: &Page, next: Option<String>) -> Response {
    let items: Vec<&str> = page.objects.iter().map(|o| o.json.as_str()).collect();
    let body = paged_body(page, next, "objects", &items);
    with_date_headers(respond(StatusCode::OK, body), &page.objects)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stored(json: &str) -> StoredObject {
        StoredObject {
            seq: 1,
            id: "x".into(),
            object_type: "indicator".into(),
            version: None,
            date_added: phalanx_model::Timestamp::from_unix_micros(1),
            label: phalanx_labels::Label::unclassified(phalanx_labels::Tlp::Green),
            origin: "local:test".into(),
            revoked: false,
            json: json.into(),
        }
    }

    #[test]
    fn a_paged_body_is_the_taxii_envelope_of_its_items() {
        let page = Page { objects: vec![stored(r#"{"a":1}"#), stored(r#"{"b":"x,y"}"#)], more: true, next: None };
        let items: Vec<&str> = page.objects.iter().map(|o| o.json.as_str()).collect();
        let body: Value = serde_json::from_str(&paged_body(&page, Some("n\"1".into()), "objects", &items)).unwrap();
        assert_eq!(body, json!({"more": true, "next": "n\"1", "objects": [{"a": 1}, {"b": "x,y"}]}));
        let last = Page { objects: vec![stored("\"v\"")], more: false, next: None };
        let body: Value = serde_json::from_str(&paged_body(&last, Some("unused".into()), "versions", &["\"v\""])).unwrap();
        assert_eq!(body, json!({"more": false, "versions": ["v"]}));
        assert_eq!(paged_body::<&str>(&Page::default(), None, "objects", &[]), "{}");
    }
}
