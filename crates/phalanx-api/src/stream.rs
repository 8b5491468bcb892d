//! The live event stream: `GET /api/v1/stream`, server-sent events
//! (`text/event-stream`) of every object version that is created, changed
//! or revoked and that the caller may read, in `date_added` order.
//!
//! One event per stored version:
//!
//! ```text
//! id: 6a1f3c2b9d4e0
//! event: created
//! data: {"date_added":"2026-03-01T12:00:00.123456Z","object":{"type":"indicator",...}}
//! ```
//!
//! - `id` is the store cursor of the version (`phalanx_store::Cursor`
//!   encoded: its `date_added` in µs, hexadecimal). It strictly increases.
//! - `event` is `created` (no earlier version of the object that the caller
//!   may read), `updated` (a new version of an object with an earlier one
//!   the caller may read), `revoked` (the version is revoked), or `alert`
//!   (a version of a collective-threat alert: a `grouping` carrying the
//!   extension `phalanx_matcher::alert::COLLECTIVE_ALERT_EXTENSION`, raised
//!   or updated as more nations report; `created` = `modified` on the
//!   first version).
//! - `data` is one line of JSON: `date_added` (TAXII timestamp, 6
//!   fractional digits) and `object`, the STIX object exactly as served by
//!   TAXII (line breaks between JSON tokens become spaces), and, for a
//!   version that means something to coordinators, `events`: a list of
//!   `{"kind", "object_ref", "detail"}` with the kinds
//!   `assistance-request.created`, `assistance-request.state-changed`,
//!   `incident.created`, `incident.status-changed`,
//!   `collective-alert.raised` and `collective-alert.updated`
//!   (`crate::events`).
//! - `event: deadline.overdue` (no `id`: a state, not a version) when an
//!   incident's NIS2 clock, a request's response target or a task's due
//!   time the caller may read is overdue; `data` is
//!   `{"kind", "object_ref", "detail"}` with `detail.deadline` and
//!   `detail.due`. Each is announced once per connection, looked for every
//!   `deadline_scan` (a minute by default) and at the start.
//! - Comment lines (`: keepalive`) are sent when nothing else was for
//!   `keepalive` (15 s by default), so proxies keep the connection open.
//!
//! **Resuming.** A client that reconnects sends `Last-Event-ID` (browsers'
//! `EventSource` does so itself) or `?after=<id>`; the header wins when
//! both are given. The stream then continues with the first version after
//! that id: no gaps and no duplicates. Without either it starts from now
//! (the newest version the caller may read).
//!
//! **Why no gaps.** The SQLite store assigns `seq` (= `date_added`) inside
//! its write transaction, under the database's write lock (`BEGIN
//! IMMEDIATE`, held across processes): a transaction's versions all get a
//! `seq` above every committed one, and they become visible at once on
//! commit. So once a version with `seq` n was served, no version with a
//! smaller `seq` can become visible later, and "every version after the
//! last id" is exact.
//!
//! **Reading.** Every batch is a `Store::query` with the caller's subject
//! (the read rule applies inside the query: anonymous callers get public
//! data only; exercise data never reaches a real-world caller), ordered by
//! `date_added` after the cursor, at most `batch` versions. Classified
//! versions are audited (`phalanx_auth::audit_reads`, path `stream`) before
//! they are sent. The stream reads again at once after a write in this
//! process ([`AppState::notify_committed`]), and every `poll_interval`
//! (writes from other processes, such as `phalanx import` on the same data
//! directory). Deleted versions are not announced. The stream ends when the
//! node shuts down ([`AppState::begin_shutdown`]).

use crate::auth::{Caller, resolve_caller};
use crate::error::{ApiError, ErrorCode};
use crate::{AppState, blocking, events};
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, header};
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use phalanx_store::{Cursor, Order, Query, StoredObject, VersionFilter};
use std::collections::{HashSet, VecDeque};
use std::convert::Infallible;
use std::time::Duration;

/// The `Last-Event-ID` request header.
const LAST_EVENT_ID: &str = "last-event-id";

/// How the stream reads and keeps connections alive.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StreamConfig {
    /// How often the store is read when no in-process write woke the
    /// stream (writes of other processes show up within this time).
    pub poll_interval: Duration,
    /// Longest silence before a keep-alive comment.
    pub keepalive: Duration,
    /// Most versions read from the store at once.
    pub batch: usize,
    /// How often a stream looks for deadlines that became overdue.
    pub deadline_scan: Duration,
}

impl Default for StreamConfig {
    /// Poll every second, keep-alive every 15 s, batches of 200, deadlines every minute.
    fn default() -> Self {
        StreamConfig {
            poll_interval: Duration::from_secs(1),
            keepalive: Duration::from_secs(15),
            batch: 200,
            deadline_scan: Duration::from_secs(60),
        }
    }
}

/// What kind of change a version is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ChangeKind {
    /// The first version of the object the caller may read.
    Created,
    /// A later version.
    Updated,
    /// A revoked version.
    Revoked,
    /// A version of a collective-threat alert grouping (not revoked).
    Alert,
}

impl ChangeKind {
    /// The SSE `event` name.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeKind::Created => "created",
            ChangeKind::Updated => "updated",
            ChangeKind::Revoked => "revoked",
            ChangeKind::Alert => "alert",
        }
    }
}

/// Where the stream starts: `Last-Event-ID`, else `?after=`, else `None`
/// (from now).
fn start_cursor(headers: &HeaderMap, raw_query: Option<&str>) -> Result<Option<Cursor>, ApiError> {
    if let Some(value) = headers.get(LAST_EVENT_ID) {
        let text = value.to_str().unwrap_or_default().trim();
        return Cursor::decode(text)
            .map(Some)
            .ok_or_else(|| ApiError::parameter("last-event-id: not an event id of this stream"));
    }
    let mut after = None;
    for pair in raw_query.unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
        match name {
            "after" if after.is_none() => {
                after = Some(Cursor::decode(value).ok_or_else(|| ApiError::parameter("after: not an event id of this stream"))?);
            }
            "after" => return Err(ApiError::parameter("after: given more than once")),
            other => {
                let shown: String = other.chars().take(40).collect();
                return Err(ApiError::parameter(format!("{shown}: unknown parameter (the stream takes only after)")));
            }
        }
    }
    Ok(after)
}

/// One version as an SSE event, with the rapid-response events it carries.
fn event_of(object: &StoredObject, kind: ChangeKind, response_events: &[events::ResponseEvent]) -> Event {
    // Raw line breaks cannot occur inside JSON strings: those in the text
    // are whitespace between tokens, and SSE data must not contain them.
    let json: String = object.json.chars().map(|c| if c == '\n' || c == '\r' { ' ' } else { c }).collect();
    let data = if response_events.is_empty() {
        format!("{{\"date_added\":\"{}\",\"object\":{json}}}", object.date_added.with_digits(6))
    } else {
        let listed = serde_json::to_string(response_events).unwrap_or_else(|_| "[]".into());
        format!("{{\"date_added\":\"{}\",\"object\":{json},\"events\":{listed}}}", object.date_added.with_digits(6))
    };
    Event::default().id(Cursor(object.seq).encode()).event(kind.as_str()).data(data)
}

/// Reads the next batch after `after` as `caller`: the events and the
/// cursor of the last one. Blocking.
fn read_batch(state: &AppState, caller: &Caller, after: Cursor, batch: usize) -> Result<(Vec<Event>, Option<Cursor>), ApiError> {
    let store = state.store();
    let query = Query {
        versions: VersionFilter::All,
        order: Order::AddedAscending,
        after: Some(after),
        limit: batch.max(1),
        ..Query::default()
    };
    let page = store.query(&caller.subject, &query)?;
    if page.objects.is_empty() {
        return Ok((Vec::new(), None));
    }
    if let Some(actor) = &caller.actor {
        phalanx_auth::audit_reads(store.as_ref(), actor, &page.objects, "stream")?;
    }
    let mut seen: HashSet<&str> = HashSet::new();
    let mut events = Vec::with_capacity(page.objects.len());
    for o in &page.objects {
        let first_version =
            !seen.contains(o.id.as_str()) && events::is_first_readable_version(store.as_ref(), &caller.subject, o)?;
        let kind = if o.revoked {
            ChangeKind::Revoked
        } else if phalanx_matcher::alert::is_alert_json(&o.object_type, &o.json) {
            ChangeKind::Alert
        } else if first_version {
            ChangeKind::Created
        } else {
            ChangeKind::Updated
        };
        let response_events = if events::may_carry_events(&o.object_type) && !o.revoked {
            match phalanx_model::strict::parse_text(&o.json) {
                Ok(value) => events::version_events(&value, first_version),
                Err(_) => Vec::new(),
            }
        } else {
            Vec::new()
        };
        seen.insert(o.id.as_str());
        events.push(event_of(o, kind, &response_events));
    }
    Ok((events, page.objects.last().map(|o| Cursor(o.seq))))
}

/// The deadlines overdue now among the incidents, assistance requests and
/// tasks the caller may read, as events without an id (they are states, not
/// versions: a reconnected stream announces them again once). `sent` holds
/// the keys already announced on this stream.
fn overdue_events(state: &AppState, caller: &Caller, sent: &mut HashSet<String>) -> Result<Vec<Event>, ApiError> {
    let now = phalanx_response::Clock::now(&phalanx_response::SystemClock);
    let mut out = Vec::new();
    for (event, _, _) in events::overdue_now(state.store().as_ref(), &caller.subject, now)? {
        let key = event.detail["key"].as_str().unwrap_or_default().to_owned();
        if sent.insert(key) {
            let data = serde_json::to_string(&event).map_err(ApiError::internal)?;
            out.push(Event::default().event(events::DEADLINE_OVERDUE).data(data));
        }
    }
    Ok(out)
}

/// The newest version the caller may read (where "from now" starts).
fn newest_cursor(state: &AppState, caller: &Caller) -> Result<Cursor, ApiError> {
    Ok(events::newest_cursor(state.store().as_ref(), &caller.subject)?)
}

/// The state of one open stream.
struct Tail {
    state: AppState,
    caller: Caller,
    cursor: Cursor,
    pending: VecDeque<Event>,
    committed: tokio::sync::watch::Receiver<u64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
    config: StreamConfig,
    done: bool,
    /// When deadlines were last looked at.
    last_deadline_scan: Option<std::time::Instant>,
    /// Overdue deadlines already announced on this stream.
    overdue_sent: HashSet<String>,
}

impl Tail {
    /// The next event, waiting for one as long as it takes; `None` when the
    /// stream ends (shutdown, or the store failed).
    async fn next(&mut self) -> Option<Event> {
        loop {
            if let Some(event) = self.pending.pop_front() {
                return Some(event);
            }
            if self.done {
                return None;
            }
            if self.last_deadline_scan.is_none_or(|t| t.elapsed() >= self.config.deadline_scan) {
                self.last_deadline_scan = Some(std::time::Instant::now());
                let (state, caller, mut sent) = (self.state.clone(), self.caller.clone(), std::mem::take(&mut self.overdue_sent));
                match blocking(&self.state, move || overdue_events(&state, &caller, &mut sent).map(|events| (events, sent))).await {
                    Ok((events, sent)) => {
                        self.overdue_sent = sent;
                        if !events.is_empty() {
                            self.pending.extend(events);
                            continue;
                        }
                    }
                    Err(e) => tracing::warn!(user = %self.caller.name(), error = %e.message, "live stream: deadline scan failed"),
                }
            }
            // Mark the changes seen before reading: a commit after this
            // point wakes the wait below even if it races with the read.
            self.committed.borrow_and_update();
            let (state, caller, cursor, batch) = (self.state.clone(), self.caller.clone(), self.cursor, self.config.batch);
            match blocking(&self.state, move || read_batch(&state, &caller, cursor, batch)).await {
                Ok((events, last)) => {
                    if let Some(last) = last {
                        self.cursor = last;
                        self.pending.extend(events);
                        continue;
                    }
                }
                Err(e) => {
                    tracing::error!(user = %self.caller.name(), error = %e, "live stream ended: the store failed");
                    self.done = true;
                    return Some(Event::default().event("error").data(e.message));
                }
            }
            let poll = self.config.poll_interval;
            // (No await inside the branches: the shutdown branch's output
            // holds a lock guard that must not live across one.)
            let (stop, sender_gone) = tokio::select! {
                changed = self.committed.changed() => (false, changed.is_err()),
                _ = tokio::time::sleep(poll) => (false, false),
                stopping = self.shutdown.wait_for(|stop| *stop) => (stopping.is_ok(), false),
            };
            if sender_gone {
                // No sender left: only the poll wakes the stream.
                tokio::time::sleep(poll).await;
            }
            if stop {
                tracing::debug!(user = %self.caller.name(), "live stream ended: shutting down");
                self.done = true;
            }
        }
    }
}

/// `GET /api/v1/stream`: server-sent events of every object version
/// created, changed or revoked that the caller may read (see the module
/// docs for the event format and resuming).
#[utoipa::path(
    get,
    path = "/api/v1/stream",
    tag = "stream",
    params(
        ("Last-Event-ID" = Option<String>, Header, description = "Resume after this event id (wins over `after`)."),
        ("after" = Option<String>, Query, description = "Resume after this event id; without it and Last-Event-ID the stream starts from now."),
    ),
    responses(
        (status = 200, description = "Server-sent events: `id` = cursor, `event` = created | updated | revoked | alert, `data` = {\"date_added\", \"object\", \"events\" (rapid-response events, when the version carries any)}", content_type = "text/event-stream", body = crate::rest::openapi::StreamEvent),
        (status = 400, description = "Malformed Last-Event-ID or after (code invalid_parameter).", body = crate::rest::openapi::ErrorBody),
        (status = 401, description = "Credentials given but refused (code unauthorized).", body = crate::rest::openapi::ErrorBody),
        (status = 429, description = "Rate limit of the token reached (code rate_limited).", body = crate::rest::openapi::ErrorBody),
        (status = 503, description = "Node overloaded or shutting down (codes overloaded, unavailable).", body = crate::rest::openapi::ErrorBody),
    ),
    security((), ("basic" = []), ("bearer" = []))
)]
pub async fn stream_events(State(state): State<AppState>, headers: HeaderMap, RawQuery(raw): RawQuery) -> Result<Response, ApiError> {
    let caller = resolve_caller(&state, headers.get(header::AUTHORIZATION)).await?;
    let start = start_cursor(&headers, raw.as_deref())?;
    let shutdown = state.shutdown_signal();
    if *shutdown.borrow() {
        return Err(ApiError::new(ErrorCode::Unavailable, "stream: the node is shutting down"));
    }
    let committed = state.committed_changes();
    let cursor = match start {
        Some(c) => c,
        None => {
            let (s, c) = (state.clone(), caller.clone());
            blocking(&state, move || newest_cursor(&s, &c)).await?
        }
    };
    tracing::info!(user = %caller.name(), after = %cursor.encode(), resumed = start.is_some(), "live stream opened");
    metrics::counter!("phalanx_streams_opened_total").increment(1);
    let config = state.config().stream.clone();
    let keepalive = KeepAlive::new().interval(config.keepalive).text("keepalive");
    let tail = Tail {
        state,
        caller,
        cursor,
        pending: VecDeque::new(),
        committed,
        shutdown,
        config,
        done: false,
        last_deadline_scan: None,
        overdue_sent: HashSet::new(),
    };
    let events = futures_util::stream::unfold(tail, |mut tail| async move {
        let event = tail.next().await?;
        Some((Ok::<Event, Infallible>(event), tail))
    });
    Ok(Sse::new(events).keep_alive(keepalive).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_header_wins_over_the_query_and_bad_ids_are_refused() {
        let mut h = HeaderMap::new();
        assert_eq!(start_cursor(&h, None).unwrap(), None);
        assert_eq!(start_cursor(&h, Some("after=ff")).unwrap(), Some(Cursor(255)));
        h.insert(LAST_EVENT_ID, HeaderValue::from_static("10"));
        assert_eq!(start_cursor(&h, Some("after=ff")).unwrap(), Some(Cursor(16)));
        h.insert(LAST_EVENT_ID, HeaderValue::from_static("xyz"));
        assert!(start_cursor(&h, None).unwrap_err().message.starts_with("last-event-id:"));
        let none = HeaderMap::new();
        for bad in ["after=", "after=-1", "after=1&after=2", "since=1", "after=%31"] {
            let e = start_cursor(&none, Some(bad)).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{bad}");
        }
    }
}
