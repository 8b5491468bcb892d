//! The analyst workspace: search and browse objects (type, label, time and
//! full-text filters), the object page (label, versions, relationships,
//! referenced objects, correlations, sightings), and the upload of STIX bundles with a
//! per-object result. Every read passes the user's subject to the store.

use crate::error::WebError;
use crate::html::{esc, object_href, page, table, url_encode};
use crate::marking::{Highest, badge};
use crate::session::{Current, check_origin};
use crate::write::{UploadReport, upload as ingest_upload};
use crate::{WebState, blocking};
use axum::Json;
use axum::body::Bytes;
use axum::extract::{Path, Query as QueryParams, State};
use axum::http::HeaderMap;
use axum::response::{IntoResponse, Response};
use phalanx_labels::{Policy, Rank, Tlp};
use phalanx_model::Timestamp;
use phalanx_api::rest::related::{DEFAULT_TOO_COMMON, TOO_COMMON_SETTING};
use phalanx_store::{Cursor, LabelFilter, OrganisationRecord, Order, Query, Related, StoredObject, VersionFilter};
use serde::Deserialize;
use serde_json::Value;

/// Results per search page.
const PAGE_SIZE: usize = 50;

/// The search form's fields, as given in the query string.
#[derive(Debug, Default, Deserialize)]
pub struct SearchParams {
    /// Full text over names and descriptions, or a value (an address, a
    /// domain and its subdomains, a URL, an e-mail address, a hash).
    #[serde(default)]
    q: Option<String>,
    /// Object type(s), comma-separated.
    #[serde(default, rename = "type")]
    object_type: Option<String>,
    /// TLP level.
    #[serde(default)]
    tlp: Option<String>,
    /// Policy (UNCLASSIFIED, EU, NATO, NATIONAL:X).
    #[serde(default)]
    policy: Option<String>,
    /// Lowest classification.
    #[serde(default)]
    min_classification: Option<String>,
    /// Added on or after this day (YYYY-MM-DD).
    #[serde(default)]
    from: Option<String>,
    /// Added before the end of this day (YYYY-MM-DD).
    #[serde(default)]
    to: Option<String>,
    /// Continue after this cursor.
    #[serde(default)]
    cursor: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

fn day(field: &str, text: &str) -> Result<Timestamp, WebError> {
    Timestamp::parse(&format!("{text}T00:00:00Z"))
        .map_err(|e| WebError::BadRequest(format!("{field}: '{text}' is not a day (YYYY-MM-DD): {e}")))
}

impl SearchParams {
    /// The store query these fields ask for.
    pub fn to_query(&self) -> Result<Query, WebError> {
        let mut query = Query { versions: VersionFilter::Last, order: Order::AddedDescending, limit: PAGE_SIZE, ..Query::default() };
        if let Some(q) = given(&self.q) {
            query.text = Some(q.to_owned());
        }
        if let Some(t) = given(&self.object_type) {
            query.types = t.split(',').map(|s| s.trim().to_owned()).filter(|s| !s.is_empty()).collect();
        }
        let mut label = LabelFilter::default();
        let mut any_label = false;
        if let Some(t) = given(&self.tlp) {
            label.tlp = vec![Some(t.parse::<Tlp>().map_err(|e| WebError::BadRequest(format!("tlp: {e}")))?)];
            any_label = true;
        }
        if let Some(p) = given(&self.policy) {
            label.policies = vec![p.parse::<Policy>().map_err(|e| WebError::BadRequest(format!("policy: {e}")))?];
            any_label = true;
        }
        if let Some(r) = given(&self.min_classification) {
            label.min_classification = Some(r.parse::<Rank>().map_err(|e| WebError::BadRequest(format!("min_classification: {e}")))?);
            any_label = true;
        }
        if any_label {
            query.label = Some(label);
        }
        if let Some(from) = given(&self.from) {
            query.added_after = Some(Timestamp::from_unix_micros(day("from", from)?.unix_micros() - 1));
        }
        if let Some(to) = given(&self.to) {
            query.added_before = Some(Timestamp::from_unix_micros(day("to", to)?.unix_micros() + 86_400_000_000));
        }
        if let Some(c) = given(&self.cursor) {
            query.after = Some(Cursor::decode(c).ok_or_else(|| WebError::BadRequest("cursor: not a cursor of this search".into()))?);
        }
        Ok(query)
    }

    /// The query string of these fields without the cursor.
    fn link(&self) -> String {
        let mut parts = Vec::new();
        for (name, value) in [
            ("q", &self.q),
            ("type", &self.object_type),
            ("tlp", &self.tlp),
            ("policy", &self.policy),
            ("min_classification", &self.min_classification),
            ("from", &self.from),
            ("to", &self.to),
        ] {
            if let Some(v) = given(value) {
                parts.push(format!("{name}={}", url_encode(v)));
            }
        }
        parts.join("&")
    }
}

/// An object's name for lists: `name`, else its id.
pub fn display_name(json: &str, id: &str) -> String {
    phalanx_model::strict::parse_text(json)
        .ok()
        .and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_else(|| id.to_owned())
}

fn object_row(o: &StoredObject) -> String {
    format!(
        "<tr class=\"result\" data-id=\"{id}\"><td>{ty}</td><td><a href=\"{href}\">{name}</a></td><td>{label}</td><td>{added}</td></tr>",
        id = esc(&o.id),
        ty = esc(&o.object_type),
        href = esc(&object_href(&o.id)),
        name = esc(&display_name(&o.json, &o.id)),
        label = badge(&o.label),
        added = esc(&o.date_added.to_string()),
    )
}

fn select(name: &str, current: Option<&str>, options: &[&str]) -> String {
    let mut out = format!("<select name=\"{name}\" id=\"f-{name}\"><option value=\"\">any</option>");
    for o in options {
        let selected = if current == Some(*o) { " selected" } else { "" };
        out.push_str(&format!("<option value=\"{}\"{selected}>{}</option>", esc(o), esc(o)));
    }
    out.push_str("</select>");
    out
}

/// `GET /ui/search`.
pub async fn search(
    State(state): State<WebState>,
    current: Current,
    QueryParams(params): QueryParams<SearchParams>,
) -> Result<Response, WebError> {
    let query = params.to_query()?;
    let store = state.api().store().clone();
    let actor = current.actor.clone();
    let (page_objects, more, next, total) = blocking(&state, move || {
        let page = store.query(&actor.subject, &query)?;
        let total = store.count(&actor.subject, &query)?;
        phalanx_auth::audit_reads(store.as_ref(), &actor, &page.objects, "web:search")?;
        Ok((page.objects, page.more, page.next, total))
    })
    .await?;
    let mut highest = Highest::new();
    highest.add_all(page_objects.iter().map(|o| &o.label));
    let types = [
        "indicator", "malware", "threat-actor", "intrusion-set", "campaign", "attack-pattern", "tool", "vulnerability",
        "report", "grouping", "sighting", "relationship", "observed-data", "identity", "incident",
        "x-phalanx-assistance-request", "course-of-action", "infrastructure", "note",
    ];
    let form = format!(
        "<form class=\"search\" method=\"get\" action=\"/ui/search\" id=\"search-form\">\
         <label>Text <input name=\"q\" id=\"f-q\" value=\"{q}\" placeholder=\"words of names and descriptions, or an address, domain or hash\"></label>\
         <label>Type {ty}</label><label>TLP {tlp}</label><label>Policy {policy}</label><label>At least {cls}</label>\
         <label>Added from <input type=\"date\" name=\"from\" value=\"{from}\"></label><label>to <input type=\"date\" name=\"to\" value=\"{to}\"></label>\
         <button type=\"submit\">Search</button></form>",
        q = esc(given(&params.q).unwrap_or("")),
        ty = select("type", given(&params.object_type), &types),
        tlp = select("tlp", given(&params.tlp), &["clear", "green", "amber", "amber+strict", "red"]),
        policy = select("policy", given(&params.policy), &["UNCLASSIFIED", "EU", "NATO"]),
        cls = select("min_classification", given(&params.min_classification), &["RESTRICTED", "CONFIDENTIAL", "SECRET", "TOP_SECRET"]),
        from = esc(given(&params.from).unwrap_or("")),
        to = esc(given(&params.to).unwrap_or("")),
    );
    let rows: Vec<String> = page_objects.iter().map(object_row).collect();
    let more_link = match (more, next) {
        (true, Some(c)) => format!("<p><a id=\"next-page\" href=\"/ui/search?{}&cursor={}\">Next page</a></p>", params.link(), c.encode()),
        _ => String::new(),
    };
    let body = format!(
        "{form}<p class=\"summary\" id=\"result-count\" data-count=\"{total}\">{total} object(s) you may read match.</p>{}{more_link}",
        table("results", &["type", "name", "label", "added"], &rows, "Nothing you may read matches.")
    );
    Ok(page(&current, &state.config().node_name, "Search", &highest, &body))
}

/// Everything the object page shows, read under the rule.
struct ObjectView {
    versions: Vec<StoredObject>,
    relationships: Vec<StoredObject>,
    sightings: Vec<StoredObject>,
    referenced: Vec<StoredObject>,
    related: Related,
    correlated: Vec<StoredObject>,
    organisations: Vec<OrganisationRecord>,
}

fn referenced_ids(value: &Value) -> Vec<String> {
    let mut ids = Vec::new();
    let Value::Object(map) = value else { return ids };
    for (key, v) in map {
        if key == "object_marking_refs" || key == "id" {
            continue;
        }
        if key.ends_with("_ref") {
            if let Some(s) = v.as_str() {
                ids.push(s.to_owned());
            }
        } else if key.ends_with("_refs") {
            for s in v.as_array().into_iter().flatten().filter_map(Value::as_str) {
                ids.push(s.to_owned());
            }
        }
    }
    ids.sort();
    ids.dedup();
    ids.truncate(200);
    ids
}

/// `GET /ui/object/{id}`.
pub async fn object_page(State(state): State<WebState>, current: Current, Path(id): Path<String>) -> Result<Response, WebError> {
    let store = state.api().store().clone();
    let actor = current.actor.clone();
    let view = blocking(&state, move || {
        let versions = store.get(&actor.subject, &id, &VersionFilter::All)?;
        let Some(latest) = versions.last() else {
            return Err(WebError::NotFound(format!("no object {id} (or none you may read)")));
        };
        let related = |types: &[&str]| Query {
            referencing: vec![id.clone()],
            readable_ends: true,
            types: types.iter().map(|t| (*t).to_owned()).collect(),
            versions: VersionFilter::Last,
            limit: 200,
            ..Query::default()
        };
        let relationships = store.query(&actor.subject, &related(&["relationship"]))?.objects;
        let sightings = store.query(&actor.subject, &related(&["sighting"]))?.objects;
        let value: Value = phalanx_model::strict::parse_text(&latest.json).unwrap_or(Value::Null);
        let ids = referenced_ids(&value);
        let referenced = if ids.is_empty() {
            Vec::new()
        } else {
            store.query(&actor.subject, &Query { ids, versions: VersionFilter::Last, ..Query::default() })?.objects
        };
        // Correlations (same value, CIDR containment, parent domains),
        // computed by the store under the read rule, with the node's bound.
        let too_common = store.setting(TOO_COMMON_SETTING)?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_TOO_COMMON);
        let related = store.related(&actor.subject, &id, too_common)?.unwrap_or_default();
        let mut linked: Vec<String> = related.links.iter().map(|l| l.id.clone()).collect();
        linked.sort();
        linked.dedup();
        linked.truncate(200);
        let correlated = if linked.is_empty() {
            Vec::new()
        } else {
            store.query(&actor.subject, &Query { ids: linked, versions: VersionFilter::Last, ..Query::default() })?.objects
        };
        let organisations = store.organisations()?;
        let mut shown: Vec<StoredObject> = versions.clone();
        shown.extend(correlated.iter().cloned());
        shown.extend(relationships.iter().cloned());
        shown.extend(sightings.iter().cloned());
        shown.extend(referenced.iter().cloned());
        phalanx_auth::audit_reads(store.as_ref(), &actor, &shown, "web:object")?;
        Ok(ObjectView { versions, relationships, sightings, referenced, related, correlated, organisations })
    })
    .await?;
    let mut highest = Highest::new();
    for list in [&view.versions, &view.relationships, &view.sightings, &view.referenced, &view.correlated] {
        highest.add_all(list.iter().map(|o| &o.label));
    }
    let Some(latest) = view.versions.last() else { return Err(WebError::NotFound("no such object".into())) };
    let pretty = phalanx_model::strict::parse_text(&latest.json)
        .ok()
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| latest.json.clone());
    let version_rows: Vec<String> = view
        .versions
        .iter()
        .rev()
        .map(|v| {
            format!(
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&v.version.map(|t| t.to_string()).unwrap_or_else(|| "-".into())),
                esc(&v.date_added.to_string()),
                badge(&v.label),
                esc(&v.origin),
                if v.revoked { "revoked" } else { "" }
            )
        })
        .collect();
    let relation_rows: Vec<String> = view
        .relationships
        .iter()
        .map(|r| {
            let value: Value = phalanx_model::strict::parse_text(&r.json).unwrap_or(Value::Null);
            let s = |k: &str| value.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
            let (source, target) = (s("source_ref"), s("target_ref"));
            let other = if source == latest.id { target } else { source };
            format!(
                "<tr><td><a href=\"{}\">{}</a></td><td><a href=\"{}\">{}</a></td><td>{}</td></tr>",
                esc(&object_href(&r.id)),
                esc(&s("relationship_type")),
                esc(&object_href(&other)),
                esc(&other),
                badge(&r.label)
            )
        })
        .collect();
    let sighting_rows: Vec<String> = view
        .sightings
        .iter()
        .map(|r| {
            let value: Value = phalanx_model::strict::parse_text(&r.json).unwrap_or(Value::Null);
            let s = |k: &str| value.get(k).map(|v| v.to_string().trim_matches('"').to_owned()).unwrap_or_default();
            let mut by: Vec<String> = Vec::new();
            for w in value.get("where_sighted_refs").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str) {
                by.push(match view.organisations.iter().find(|o| o.org.id == w) {
                    Some(o) => format!("{} ({})", o.name, o.org.country.as_deref().unwrap_or("-")),
                    None => w.to_owned(),
                });
            }
            format!(
                "<tr class=\"sighting\"><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&object_href(&r.id)),
                esc(&r.id),
                esc(&by.join(", ")),
                esc(&s("count")),
                esc(&s("first_seen")),
                esc(&s("last_seen")),
                badge(&r.label)
            )
        })
        .collect();
    let referenced_rows: Vec<String> = view.referenced.iter().map(object_row).collect();
    let body = format!(
        "<section class=\"panel\"><p class=\"object-label\" id=\"object-label\">{label}</p>\
         <dl><dt>id</dt><dd id=\"object-id\">{id}</dd><dt>type</dt><dd>{ty}</dd><dt>added</dt><dd>{added}</dd><dt>origin</dt><dd>{origin}</dd></dl>\
         <details open><summary>STIX object</summary><pre class=\"json\">{json}</pre></details></section>\
         <section class=\"panel\"><h2>Versions</h2>{versions}</section>\
         <section class=\"panel\"><h2>Relationships</h2>{relations}</section>\
         <section class=\"panel\"><h2>Refers to</h2>{referenced}</section>\
         <section class=\"panel\"><h2>Correlations</h2>{correlations}</section>\
         <section class=\"panel\"><h2>Sightings</h2>{sightings}</section>",
        label = badge(&latest.label),
        id = esc(&latest.id),
        ty = esc(&latest.object_type),
        added = esc(&latest.date_added.to_string()),
        origin = esc(&latest.origin),
        json = esc(&pretty),
        versions = table("versions", &["version", "added", "label", "origin", ""], &version_rows, "No version."),
        relations = table("relationships", &["relationship", "other end", "label"], &relation_rows, "No relationship you may read."),
        referenced = table("referenced", &["type", "name", "label", "added"], &referenced_rows, "Refers to nothing you may read."),
        sightings = table("sightings", &["sighting", "where sighted", "count", "first seen", "last seen", "label"], &sighting_rows, "No sighting you may read."),
        correlations = render_correlations(&view.related, &view.correlated),
    );
    let title = display_name(&latest.json, &latest.id);
    Ok(page(&current, &state.config().node_name, &title, &highest, &body))
}

/// The correlation links of an object (objects the user may read that share
/// a value, contain it or are contained), and the values too common to follow.
fn render_correlations(related: &Related, correlated: &[StoredObject]) -> String {
    let rows: Vec<String> = related
        .links
        .iter()
        .map(|l| {
            let label = correlated.iter().find(|o| o.id == l.id).map(|o| badge(&o.label)).unwrap_or_default();
            format!(
                "<tr class=\"correlation\"><td>{}</td><td>{}</td><td>{}</td><td><a href=\"{}\">{}</a></td><td>{}</td><td>{label}</td></tr>",
                esc(&l.kind),
                esc(&l.value),
                esc(&serde_json::to_value(l.reason).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()),
                esc(&object_href(&l.id)),
                esc(&l.id),
                esc(&l.other_value)
            )
        })
        .collect();
    let mut out = table("correlations", &["kind", "value", "link", "other object", "its value", "label"], &rows, "No correlation with anything you may read.");
    if !related.too_common.is_empty() {
        let values: Vec<String> = related.too_common.iter().map(|t| format!("{} {}", t.kind, t.value)).collect();
        out.push_str(&format!("<p class=\"muted\">Too common to follow: {}</p>", esc(&values.join(", "))));
    }
    out
}

/// `GET /ui/upload`: the upload form (the script posts the file with
/// progress and shows the per-object result).
pub async fn upload_page(State(state): State<WebState>, current: Current) -> Result<Response, WebError> {
    let body = "<section class=\"panel\"><form id=\"upload-form\" class=\"upload\">\
        <label>STIX 2.1 bundle, JSON array or JSON lines <input type=\"file\" id=\"upload-file\" accept=\".json,.jsonl,.ndjson,application/json\" required></label>\
        <label>TLP of unmarked objects <select id=\"upload-tlp\"><option value=\"\">node default (amber+strict)</option><option>clear</option><option>green</option><option>amber</option><option>amber+strict</option><option>red</option></select></label>\
        <button type=\"submit\">Upload</button></form>\
        <progress id=\"upload-progress\" max=\"100\" value=\"0\" hidden></progress><p id=\"upload-status\" class=\"summary\"></p>\
        <table id=\"upload-results\" hidden><thead><tr><th>where</th><th>id</th><th>type</th><th>result</th><th>detail</th></tr></thead><tbody></tbody></table></section>";
    Ok(page(&current, &state.config().node_name, "Upload STIX", &Highest::new(), body))
}

/// `POST /ui/upload`: the file as the body, the session's CSRF token in
/// `X-CSRF-Token`, the TLP of unmarked objects in `X-Default-TLP`.
/// Answers the per-object result as JSON.
pub async fn upload(
    State(state): State<WebState>,
    current: Current,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, WebError> {
    check_origin(&headers)?;
    current.check_csrf(headers.get("x-csrf-token").and_then(|v| v.to_str().ok()))?;
    if !current.actor.user.role.can_write() {
        return Err(WebError::Forbidden(format!(
            "user '{}': the role {} may not write objects",
            current.actor.user.name, current.actor.user.role
        )));
    }
    let default_tlp = match headers.get("x-default-tlp").and_then(|v| v.to_str().ok()).map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) => Some(t.parse::<Tlp>().map_err(|e| WebError::BadRequest(format!("x-default-tlp: {e}")))?),
        None => None,
    };
    let store = state.api().store().clone();
    let actor = current.actor.clone();
    let report: UploadReport = blocking(&state, move || Ok(ingest_upload(store.as_ref(), &actor, body, default_tlp)?)).await?;
    if report.stored > 0 {
        state.api().notify_committed();
    }
    tracing::info!(user = %current.actor.user.name, stored = report.stored, unchanged = report.unchanged, refused = report.refused, "web ui: upload");
    Ok(Json(report).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn search_fields_become_a_store_query() {
        let params = SearchParams {
            q: Some("ransomware".into()),
            object_type: Some("indicator, malware".into()),
            tlp: Some("amber".into()),
            policy: Some("NATO".into()),
            min_classification: Some("SECRET".into()),
            from: Some("2026-01-02".into()),
            to: Some(" ".into()),
            cursor: None,
        };
        let q = params.to_query().expect("valid");
        assert_eq!(q.text.as_deref(), Some("ransomware"));
        assert_eq!(q.types, vec!["indicator", "malware"]);
        let label = q.label.expect("label filter");
        assert_eq!(label.tlp, vec![Some(Tlp::Amber)]);
        assert_eq!(label.policies, vec![Policy::Nato]);
        assert_eq!(label.min_classification, Some(Rank::Secret));
        assert!(q.added_after.is_some());
        assert!(q.added_before.is_none());
        assert_eq!(params.link(), "q=ransomware&type=indicator%2C%20malware&tlp=amber&policy=NATO&min_classification=SECRET&from=2026-01-02");
        let bad = SearchParams { tlp: Some("purple".into()), ..SearchParams::default() };
        assert!(bad.to_query().is_err());
    }

    #[test]
    fn referenced_ids_are_every_ref_but_markings() {
        let v = serde_json::json!({"id": "report--1", "created_by_ref": "identity--1", "object_refs": ["indicator--1", "malware--1"], "object_marking_refs": ["marking-definition--1"]});
        assert_eq!(referenced_ids(&v), vec!["identity--1", "indicator--1", "malware--1"]);
    }
}
