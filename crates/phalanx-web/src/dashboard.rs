//! The common operating picture at `/`: the map of Europe, collective-threat
//! alerts, sectors against severity, daily plots, the board of assistance
//! requests and deployments, and the NIS2 deadlines. Everything is computed
//! from store queries made with the user's subject, so the read rule
//! decides inside the query what is counted: an object the user may not
//! read changes no number, colour or plot.
//!
//! The picture refreshes without a page reload: the page listens to
//! `/ui/events` and fetches `/ui/fragment/picture` (htmx) when something the
//! user may read was written.

use crate::error::WebError;
use crate::html::{esc, object_href, page as layout, table};
use crate::map::{self, CountryFigures, SEVERITIES};
use crate::marking::{Highest, badge};
use crate::session::Current;
use crate::{WebState, blocking};
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use phalanx_labels::{Label, Policy, Rank, Subject, Tlp};
use phalanx_model::Timestamp;
use phalanx_response::clock::DeadlineState;
use phalanx_response::incident::{Incident, IncidentStatus};
use phalanx_response::request::{AssistanceRequest, RequestState};
use phalanx_response::stix::{ASSISTANCE_REQUEST_TYPE, INCIDENT_EXTENSION_ID, INCIDENT_TYPE};
use serde::Deserialize;
use phalanx_response::vocab::{ImpactSeverity, Sector};
use phalanx_store::{Cursor, LabelFilter, Order, OrganisationRecord, Query, Store, StoreError, StoredObject, VersionFilter};
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};

/// The property extension of collective-threat alerts (the detection
/// contract): a `grouping` named `Collective threat: ...`.
pub const ALERT_EXTENSION_ID: &str = "extension-definition--6dafb7d9-90e7-4fbf-8265-8db16aae8db2";
/// The name prefix of collective-threat alerts.
pub const ALERT_NAME_PREFIX: &str = "Collective threat: ";
/// Days shown in the plots.
pub const SERIES_DAYS: i64 = 30;
/// Most alerts, deadlines and requests per column listed.
const LIST_LIMIT: usize = 20;

/// One collective-threat alert as listed.
#[derive(Clone, Debug)]
pub struct AlertRow {
    /// The grouping.
    pub stored: StoredObject,
    /// Its name.
    pub name: String,
    /// Reporting countries (alpha-3).
    pub countries: Vec<String>,
    /// Sightings it rests on.
    pub sighting_count: u64,
    /// Last sighting, as given.
    pub last_seen: String,
    /// Country threshold of the rule.
    pub threshold_countries: u64,
}

impl AlertRow {
    /// Reads an alert from a stored grouping; `None` if it is not one.
    pub fn from_stored(stored: &StoredObject) -> Option<AlertRow> {
        let value: Value = phalanx_model::strict::parse_text(&stored.json).ok()?;
        let name = value.get("name")?.as_str()?;
        if !name.starts_with(ALERT_NAME_PREFIX) {
            return None;
        }
        let ext = value.get("extensions")?.get(ALERT_EXTENSION_ID)?;
        let countries = ext
            .get("countries")
            .and_then(Value::as_array)
            .map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect())
            .unwrap_or_default();
        Some(AlertRow {
            stored: stored.clone(),
            name: name.to_owned(),
            countries,
            sighting_count: ext.get("sighting_count").and_then(Value::as_u64).unwrap_or(0),
            last_seen: ext.get("last_seen").and_then(Value::as_str).unwrap_or_default().to_owned(),
            threshold_countries: ext.get("threshold_countries").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

/// One assistance request on the board.
#[derive(Clone, Debug)]
pub struct RequestCard {
    /// The stored request.
    pub stored: StoredObject,
    /// The decoded request.
    pub request: AssistanceRequest,
    /// The beneficiary's country, if registered with one.
    pub country: Option<String>,
}

/// One due or overdue deadline.
#[derive(Clone, Debug)]
pub struct DeadlineRow {
    /// The incident or request it belongs to.
    pub stored: StoredObject,
    /// Its name.
    pub name: String,
    /// Which deadline (`early-warning`, `notification`, `final-report`, `response`).
    pub what: String,
    /// When it is due.
    pub due: Timestamp,
    /// Due or overdue.
    pub state: DeadlineState,
}

/// The daily counts of the plots, oldest day first.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Series {
    /// Start of each day (Unix seconds, UTC).
    pub days: Vec<i64>,
    /// Indicators added per day.
    pub indicators: Vec<u64>,
    /// Sightings added per day.
    pub sightings: Vec<u64>,
    /// Incidents (versions) added per day.
    pub incidents: Vec<u64>,
    /// Labels the banner must cover for these counts (see `window_marks`).
    pub labels: Vec<Label>,
}

/// Daily counts of one reader, kept between renders: versions are only
/// ever appended with a strictly increasing `date_added`, so the count of
/// a day up to a known newest version never changes, and a later render
/// only counts what was added after it.
#[derive(Clone, Debug, Default)]
struct ReaderSeries {
    /// `date_added` (µs) of the newest version counted.
    counted_to: i64,
    /// Day start (Unix s) → indicators, sightings, incidents.
    days: BTreeMap<i64, [u64; 3]>,
    /// Day start → labels of counted versions that carry that day's
    /// highest classification (each policy at it) and strictest TLP.
    marks: BTreeMap<i64, Vec<Label>>,
}

/// Labels of the versions `query` selects (a window of the plots) that
/// carry the highest classification, one per policy at it, and the
/// strictest TLP: what the banner must cover for the counts shown. Each
/// probe reads at most one row.
fn window_marks(store: &dyn Store, subject: &Subject, query: &Query) -> Result<Vec<Label>, StoreError> {
    let probe = |filter: LabelFilter| Query { limit: 1, label: Some(filter), ..query.clone() };
    let mut marks: Vec<Label> = Vec::new();
    for rank in [Rank::TopSecret, Rank::Secret, Rank::Confidential, Rank::Restricted] {
        let exact = |policies: Vec<Policy>| LabelFilter {
            min_classification: Some(rank),
            max_classification: Some(rank),
            policies,
            ..LabelFilter::default()
        };
        let Some(found) = store.query(subject, &probe(exact(Vec::new())))?.objects.into_iter().next() else { continue };
        for policy in [Policy::Eu, Policy::Nato] {
            if policy != found.label.policy
                && let Some(other) = store.query(subject, &probe(exact(vec![policy])))?.objects.into_iter().next()
            {
                marks.push(other.label);
            }
        }
        marks.push(found.label);
        break;
    }
    for tlp in [Tlp::Red, Tlp::AmberStrict, Tlp::Amber, Tlp::Green] {
        let filter = LabelFilter { tlp: vec![Some(tlp)], ..LabelFilter::default() };
        if let Some(found) = store.query(subject, &probe(filter))?.objects.into_iter().next() {
            marks.push(found.label);
            break;
        }
    }
    Ok(marks)
}

/// The daily counts per reader (keyed by everything the read rule looks
/// at: the subject itself), bounded in size.
#[derive(Default)]
pub struct SeriesCache {
    readers: std::sync::Mutex<HashMap<String, ReaderSeries>>,
}

/// Most readers whose daily counts are kept.
const SERIES_CACHE_READERS: usize = 1000;

/// The types counted per day, in [`Series`] order.
const SERIES_TYPES: [&str; 3] = ["indicator", "sighting", INCIDENT_TYPE];

impl SeriesCache {
    /// An empty cache.
    pub fn new() -> Self {
        SeriesCache::default()
    }

    /// The last [`SERIES_DAYS`] days' counts for `subject` at `now`,
    /// counting only what was added since the previous call for the same
    /// reader.
    pub fn series(&self, store: &dyn Store, subject: &Subject, now: Timestamp) -> Result<Series, StoreError> {
        let key = format!("{subject:?}");
        let newest_query = Query { versions: VersionFilter::All, order: Order::AddedDescending, limit: 1, ..Query::default() };
        let newest = store.query(subject, &newest_query)?.objects.first().map(|o| o.date_added.unix_micros()).unwrap_or(0);
        let today = day_start(now.unix_secs());
        let first_day = today - (SERIES_DAYS - 1) * 86_400;
        let mut cached = self.lock().get(&key).cloned().unwrap_or_default();
        if newest > cached.counted_to {
            // Count (counted_to, newest] day by day.
            let from = cached.counted_to.max(first_day * 1_000_000 - 1);
            let mut day = day_start(from.div_euclid(1_000_000)).max(first_day);
            while day <= today && day * 1_000_000 <= newest {
                let after = from.max(day * 1_000_000 - 1);
                let before = newest.min((day + 86_400) * 1_000_000 - 1) + 1;
                let window = Query {
                    types: SERIES_TYPES.iter().map(|t| (*t).to_owned()).collect(),
                    added_after: Some(Timestamp::from_unix_micros(after)),
                    added_before: Some(Timestamp::from_unix_micros(before)),
                    versions: VersionFilter::All,
                    ..Query::default()
                };
                let marks = window_marks(store, subject, &window)?;
                cached.marks.entry(day).or_default().extend(marks);
                let counts = cached.days.entry(day).or_insert([0; 3]);
                for (n, ty) in SERIES_TYPES.iter().enumerate() {
                    let query = Query {
                        types: vec![(*ty).to_owned()],
                        added_after: Some(Timestamp::from_unix_micros(after)),
                        added_before: Some(Timestamp::from_unix_micros(before)),
                        versions: VersionFilter::All,
                        ..Query::default()
                    };
                    counts[n] += store.count(subject, &query)?;
                }
                day += 86_400;
            }
            cached.counted_to = newest;
        }
        cached.days.retain(|d, _| *d >= first_day);
        cached.marks.retain(|d, _| *d >= first_day);
        let mut series = Series::default();
        for labels in cached.marks.values() {
            series.labels.extend(labels.iter().cloned());
        }
        for i in 0..SERIES_DAYS {
            let day = first_day + i * 86_400;
            let c = cached.days.get(&day).copied().unwrap_or([0; 3]);
            series.days.push(day);
            series.indicators.push(c[0]);
            series.sightings.push(c[1]);
            series.incidents.push(c[2]);
        }
        let mut readers = self.lock();
        if readers.len() >= SERIES_CACHE_READERS && !readers.contains_key(&key) {
            readers.clear();
        }
        readers.insert(key, cached);
        Ok(series)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, ReaderSeries>> {
        self.readers.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Everything the operating picture shows, computed under one reader.
#[derive(Clone, Debug, Default)]
pub struct Picture {
    /// Per country (alpha-3).
    pub countries: BTreeMap<String, CountryFigures>,
    /// Open incidents in all.
    pub open_incidents: u64,
    /// Open incidents per sector and severity column.
    pub matrix: BTreeMap<Sector, [u64; 5]>,
    /// Collective-threat alerts, newest first.
    pub alerts: Vec<AlertRow>,
    /// Requests by state (board order).
    pub board: BTreeMap<RequestState, Vec<RequestCard>>,
    /// Due and overdue deadlines, soonest first.
    pub deadlines: Vec<DeadlineRow>,
    /// Daily plots.
    pub series: Series,
    /// The highest label of everything counted or shown.
    pub highest: Highest,
}

impl Picture {
    /// The objects whose content the picture lists (alerts, board cards,
    /// deadlines): these are reads, and audited when classified.
    pub fn shown(&self) -> Vec<StoredObject> {
        let mut out: Vec<StoredObject> = Vec::new();
        let mut seen = std::collections::HashSet::new();
        let alerts = self.alerts.iter().take(LIST_LIMIT).map(|a| &a.stored);
        let cards = self.board.values().flat_map(|v| v.iter().take(LIST_LIMIT)).map(|c| &c.stored);
        let deadlines = self.deadlines.iter().take(LIST_LIMIT).map(|d| &d.stored);
        for s in alerts.chain(cards).chain(deadlines) {
            if seen.insert(s.id.clone()) {
                out.push(s.clone());
            }
        }
        out
    }
}

/// The parts of an incident's Phalanx extension that the picture counts
/// by, read straight from the JSON text (the rest is skipped unparsed).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IncidentFacts {
    reporter_ref: String,
    affected_countries: Vec<String>,
    sectors: Vec<Sector>,
    nis_impact_severity: Option<ImpactSeverity>,
    significant: bool,
    status: Option<IncidentStatus>,
}

/// An incident's extensions, for [`IncidentFacts`].
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
struct IncidentSummary {
    extensions: HashMap<String, IncidentFacts>,
}

/// The column of an impact severity.
fn severity_column(severity: Option<ImpactSeverity>) -> usize {
    match severity {
        Some(ImpactSeverity::Red) => 0,
        Some(ImpactSeverity::Yellow) => 1,
        Some(ImpactSeverity::Green) => 2,
        Some(ImpactSeverity::White) => 3,
        None => 4,
    }
}

/// Latest versions of every object of `object_type` the reader may read.
fn latest_of(store: &dyn Store, subject: &Subject, object_type: &str) -> Result<Vec<StoredObject>, StoreError> {
    let query = Query {
        types: vec![object_type.to_owned()],
        versions: VersionFilter::Last,
        exclude_revoked: true,
        ..Query::default()
    };
    Ok(store.query(subject, &query)?.objects)
}

/// Start of the UTC day of `secs`.
fn day_start(secs: i64) -> i64 {
    secs.div_euclid(86_400) * 86_400
}

/// Computes the picture as `subject` may see it at `now`.
pub fn compute(
    store: &dyn Store,
    subject: &Subject,
    organisations: &[OrganisationRecord],
    series: &SeriesCache,
    now: Timestamp,
) -> Result<Picture, StoreError> {
    let country_of: HashMap<&str, &str> =
        organisations.iter().filter_map(|o| o.org.country.as_deref().map(|c| (o.org.id.as_str(), c))).collect();
    let mut p = Picture::default();

    let started = std::time::Instant::now();
    let incidents = latest_of(store, subject, INCIDENT_TYPE)?;
    let read_incidents = started.elapsed();
    for stored in &incidents {
        p.highest.add(&stored.label);
        let summary = serde_json::from_str::<IncidentSummary>(&stored.json)
            .ok()
            .and_then(|mut s| s.extensions.remove(INCIDENT_EXTENSION_ID))
            .and_then(|e| e.status.map(|status| (status, e)));
        let Some((status, d)) = summary else {
            // A plain STIX incident (no Phalanx extension): open, unrated,
            // no country or sector to place it by.
            p.open_incidents += 1;
            continue;
        };
        if matches!(status, IncidentStatus::Closed | IncidentStatus::Reviewed) {
            continue;
        }
        p.open_incidents += 1;
        let col = severity_column(d.nis_impact_severity);
        let mut countries: Vec<&str> = d.affected_countries.iter().map(String::as_str).collect();
        if countries.is_empty()
            && let Some(c) = country_of.get(d.reporter_ref.as_str())
        {
            countries.push(c);
        }
        countries.sort_unstable();
        countries.dedup();
        for c in countries {
            p.countries.entry(c.to_owned()).or_default().incidents[col] += 1;
        }
        for s in &d.sectors {
            p.matrix.entry(*s).or_insert([0; 5])[col] += 1;
        }
        if d.significant {
            // The NIS2 clocks come from the domain model, decoded in full.
            let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
            let Ok(incident) = Incident::from_stix(&value) else { continue };
            for deadline in incident.nis2_clocks(now).all() {
                if matches!(deadline.state, DeadlineState::Due | DeadlineState::Overdue) {
                    p.deadlines.push(DeadlineRow {
                        stored: stored.clone(),
                        name: incident.name.clone(),
                        what: deadline.name.clone(),
                        due: deadline.due,
                        state: deadline.state,
                    });
                }
            }
        }
    }
    let incidents_done = started.elapsed();

    for stored in latest_of(store, subject, ASSISTANCE_REQUEST_TYPE)? {
        p.highest.add(&stored.label);
        let Ok(value) = phalanx_model::strict::parse_text(&stored.json) else { continue };
        let Ok(request) = AssistanceRequest::from_stix(&value) else { continue };
        let state = request.details.state;
        let country = country_of.get(request.details.beneficiary_ref.as_str()).map(|c| (*c).to_owned());
        if let Some(c) = &country {
            let f = p.countries.entry(c.clone()).or_default();
            if matches!(state, RequestState::Deployed | RequestState::Active | RequestState::Demobilising) {
                f.deployments += 1;
            } else if !state.is_final() && state != RequestState::Completed && state != RequestState::Draft {
                f.requests += 1;
            }
        }
        if let Some(deadline) = request.response_deadline(now)
            && matches!(deadline.state, DeadlineState::Due | DeadlineState::Overdue)
        {
            p.deadlines.push(DeadlineRow {
                stored: stored.clone(),
                name: request.name.clone(),
                what: deadline.name.clone(),
                due: deadline.due,
                state: deadline.state,
            });
        }
        p.board.entry(state).or_default().push(RequestCard { stored, request, country });
    }
    for cards in p.board.values_mut() {
        cards.sort_by_key(|c| std::cmp::Reverse(c.request.meta.modified));
    }
    p.deadlines.sort_by_key(|d| d.due);

    let requests_done = started.elapsed();
    // Alerts are groupings named "Collective threat: ...": the full-text
    // index finds them without reading every grouping.
    let alert_query = Query {
        types: vec!["grouping".to_owned()],
        text: Some(ALERT_NAME_PREFIX.to_owned()),
        versions: VersionFilter::Last,
        exclude_revoked: true,
        ..Query::default()
    };
    for stored in store.query(subject, &alert_query)?.objects {
        // Skip other groupings with those words without parsing them.
        if !stored.json.contains(ALERT_EXTENSION_ID) {
            continue;
        }
        if let Some(alert) = AlertRow::from_stored(&stored) {
            p.highest.add(&stored.label);
            p.alerts.push(alert);
        }
    }
    p.alerts.sort_by(|a, b| b.last_seen.cmp(&a.last_seen).then_with(|| b.stored.date_added.cmp(&a.stored.date_added)));

    let alerts_done = started.elapsed();
    p.series = series.series(store, subject, now)?;
    p.highest.add_all(p.series.labels.iter());
    tracing::debug!(
        incidents = incidents.len(),
        read_incidents_ms = read_incidents.as_millis() as u64,
        incidents_ms = incidents_done.as_millis() as u64,
        requests_ms = (requests_done - incidents_done).as_millis() as u64,
        alerts_ms = (alerts_done - requests_done).as_millis() as u64,
        series_ms = (started.elapsed() - alerts_done).as_millis() as u64,
        "web ui: picture computed"
    );
    Ok(p)
}

fn render_alerts(p: &Picture) -> String {
    let rows: Vec<String> = p
        .alerts
        .iter()
        .take(LIST_LIMIT)
        .map(|a| {
            format!(
                "<tr class=\"alert-row\"><td><a href=\"{}\">{}</a></td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&object_href(&a.stored.id)),
                esc(&a.name),
                esc(&a.countries.join(", ")),
                a.sighting_count,
                esc(&a.last_seen),
                badge(&a.stored.label)
            )
        })
        .collect();
    table("alerts", &["alert", "countries", "sightings", "last seen", "label"], &rows, "No collective-threat alert.")
}

fn render_matrix(p: &Picture) -> String {
    if p.matrix.is_empty() {
        return "<p class=\"muted\" id=\"matrix\">No open incident with a sector.</p>".into();
    }
    let mut out = String::from("<table id=\"matrix\" class=\"matrix\"><thead><tr><th>sector</th>");
    for s in SEVERITIES {
        out.push_str(&format!("<th class=\"sev-{s}\">{s}</th>"));
    }
    out.push_str("</tr></thead><tbody>");
    for (sector, cells) in &p.matrix {
        out.push_str(&format!("<tr data-sector=\"{}\"><th>{}</th>", sector.as_str(), esc(sector.as_str())));
        for (i, n) in cells.iter().enumerate() {
            let class = if *n > 0 { format!("cell sev-{}", SEVERITIES[i]) } else { "cell".into() };
            out.push_str(&format!("<td class=\"{class}\">{n}</td>"));
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn render_board(p: &Picture) -> String {
    let mut out = String::from("<div class=\"board\" id=\"board\">");
    for state in RequestState::ALL {
        let Some(cards) = p.board.get(state) else { continue };
        out.push_str(&format!(
            "<section class=\"column\" data-state=\"{s}\"><h3>{s} <span class=\"count\">{n}</span></h3>",
            s = state.as_str(),
            n = cards.len()
        ));
        for c in cards.iter().take(LIST_LIMIT) {
            let r = &c.request;
            out.push_str(&format!(
                "<a class=\"card\" href=\"{}\"><strong>{}</strong><span class=\"meta\">{} · {} · {}</span>{}</a>",
                esc(&object_href(&r.meta.id)),
                esc(&r.name),
                esc(r.details.channel.as_str()),
                esc(c.country.as_deref().map(map::country_name).unwrap_or("-")),
                esc(r.details.mode.as_str()),
                badge(&c.stored.label)
            ));
        }
        if cards.len() > LIST_LIMIT {
            out.push_str(&format!("<p class=\"muted\">and {} more</p>", cards.len() - LIST_LIMIT));
        }
        out.push_str("</section>");
    }
    if p.board.is_empty() {
        out.push_str("<p class=\"muted\">No assistance request.</p>");
    }
    out.push_str("</div>");
    out
}

fn render_deadlines(p: &Picture) -> String {
    let overdue = p.deadlines.iter().filter(|d| d.state == DeadlineState::Overdue).count();
    let due = p.deadlines.len() - overdue;
    let rows: Vec<String> = p
        .deadlines
        .iter()
        .take(LIST_LIMIT)
        .map(|d| {
            format!(
                "<tr class=\"deadline {st}\"><td>{st}</td><td>{what}</td><td>{due}</td><td><a href=\"{href}\">{name}</a></td><td>{label}</td></tr>",
                st = d.state.as_str(),
                what = esc(&d.what),
                due = esc(&d.due.to_string()),
                href = esc(&object_href(&d.stored.id)),
                name = esc(&d.name),
                label = badge(&d.stored.label)
            )
        })
        .collect();
    format!(
        "<p class=\"summary\" id=\"deadline-summary\"><span class=\"overdue\">{overdue} overdue</span> · {due} due</p>{}",
        table("deadlines", &["state", "deadline", "due", "incident or request", "label"], &rows, "Nothing due.")
    )
}

fn render_series(p: &Picture) -> String {
    let s = &p.series;
    let data = serde_json::json!({
        "days": s.days,
        "indicators": s.indicators,
        "sightings": s.sightings,
        "incidents": s.incidents,
    });
    let totals = format!(
        "<p class=\"summary\" id=\"series-totals\" data-indicators=\"{}\" data-sightings=\"{}\" data-incidents=\"{}\">last {SERIES_DAYS} days: {} indicators, {} sightings, {} incident versions</p>",
        s.indicators.iter().sum::<u64>(),
        s.sightings.iter().sum::<u64>(),
        s.incidents.iter().sum::<u64>(),
        s.indicators.iter().sum::<u64>(),
        s.sightings.iter().sum::<u64>(),
        s.incidents.iter().sum::<u64>(),
    );
    // JSON inside a non-executed script element: `<` is escaped so that no
    // text can close the element.
    let json = data.to_string().replace('<', "\\u003c");
    format!("{totals}<div id=\"series-plot\" class=\"plot\"></div><script type=\"application/json\" id=\"series-data\">{json}</script>")
}

/// The picture's HTML (the content of `#picture`).
pub fn render(p: &Picture) -> String {
    let mut legend = String::new();
    for s in SEVERITIES {
        legend.push_str(&format!("<span class=\"key sev-{s}\"></span>{s} "));
    }
    format!(
        "<div class=\"grid\">\
         <section class=\"panel map-panel\"><h2>Where Europe is under attack <span class=\"count\" id=\"open-incidents\" data-open=\"{open}\">{open} open incidents</span></h2>{map}\
         <p class=\"legend\">impact of the worst open incident: {legend}· ● open incidents · ◆ deployments · ▲ assistance requests</p>{country_table}</section>\
         <section class=\"panel\"><h2>Collective-threat alerts</h2>{alerts}</section>\
         <section class=\"panel\"><h2>NIS2 and response deadlines</h2>{deadlines}</section>\
         <section class=\"panel\"><h2>Sectors and impact (open incidents)</h2>{matrix}</section>\
         <section class=\"panel wide\"><h2>Shared per day</h2>{series}</section>\
         <section class=\"panel wide\"><h2>Assistance requests and deployments</h2>{board}</section>\
         </div>",
        open = p.open_incidents,
        map = map::render(&p.countries),
        country_table = render_country_table(p),
        alerts = render_alerts(p),
        deadlines = render_deadlines(p),
        matrix = render_matrix(p),
        series = render_series(p),
        board = render_board(p),
    )
}

fn render_country_table(p: &Picture) -> String {
    let rows: Vec<String> = p
        .countries
        .iter()
        .map(|(code, f)| {
            format!(
                "<tr data-country=\"{code}\"><td>{name}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.incidents[0],
                f.incidents[1],
                f.incidents[2],
                f.incidents[3],
                f.incidents[4],
                f.deployments,
                f.requests,
                code = esc(code),
                name = esc(map::country_name(code)),
            )
        })
        .collect();
    format!(
        "<details><summary>Figures per country</summary>{}</details>",
        table(
            "country-figures",
            &["country", "red", "yellow", "green", "white", "unrated", "deployments", "requests"],
            &rows,
            "Nothing to show."
        )
    )
}

/// Computes the picture for the session's user, audits what it lists, and
/// renders it. Also returns the newest version the user could read before
/// the picture was computed: the live updates start after it, so a write
/// that lands between this render and the page's event stream still
/// refreshes the page.
async fn picture_html(state: &WebState, current: &Current) -> Result<(String, Highest, Option<Cursor>), WebError> {
    let store = state.api().store().clone();
    let actor = current.actor.clone();
    let cache = state.clone();
    blocking(state, move || {
        let cache = cache.caches();
        let seen = crate::events::newest(store.as_ref(), &actor.subject)?;
        let organisations = store.organisations()?;
        let picture = compute(store.as_ref(), &actor.subject, &organisations, &cache.series, Timestamp::now(3))?;
        phalanx_auth::audit_reads(store.as_ref(), &actor, &picture.shown(), "web:dashboard")?;
        Ok((render(&picture), picture.highest, seen))
    })
    .await
}

/// `GET /`: the operating picture.
pub async fn page(State(state): State<WebState>, current: Current) -> Result<Response, WebError> {
    let (html, highest, seen) = picture_html(&state, &current).await?;
    let cursor = seen.map(|c| c.encode()).unwrap_or_default();
    let body = format!(
        "<div id=\"picture\" data-cursor=\"{cursor}\" hx-get=\"/ui/fragment/picture\" hx-trigger=\"phalanx-changed from:body\" hx-swap=\"innerHTML\">{html}</div>"
    );
    Ok(layout(&current, &state.config().node_name, "Common operating picture", &highest, &body))
}

/// `GET /ui/fragment/picture`: the picture alone, with the banner swapped
/// out of band (htmx), for live updates.
pub async fn fragment(State(state): State<WebState>, current: Current) -> Result<Response, WebError> {
    let (html, highest, _) = picture_html(&state, &current).await?;
    let exercise = current.exercise.as_deref();
    Ok(Html(format!("{html}{}{}", highest.banner(exercise), highest.banner_as("banner-bottom", exercise))).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn severity_columns_follow_the_map_legend() {
        assert_eq!(SEVERITIES[severity_column(Some(ImpactSeverity::Red))], "red");
        assert_eq!(SEVERITIES[severity_column(Some(ImpactSeverity::White))], "white");
        assert_eq!(SEVERITIES[severity_column(None)], "unrated");
        assert_eq!(day_start(86_400 * 3 + 5), 86_400 * 3);
        assert_eq!(day_start(-1), -86_400);
    }
}
