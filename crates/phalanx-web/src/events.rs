//! `GET /ui/events`: tells an open page that something the user may read
//! was written, so that it refreshes its fragments without a reload.
//!
//! Server-sent events named `changed`, whose data is the store cursor of
//! the newest readable version. The stream wakes on every commit of this
//! process ([`phalanx_api::AppState::committed_changes`]) and every poll
//! interval (writes of other processes), and asks the store, with the
//! user's subject, for the newest version the user may read; only when that
//! is newer than the last one told does it send an event. A write the user
//! may not read changes nothing and sends nothing, so the stream's timing
//! reveals no more than the read rule allows. It ends when the session ends or the
//! node shuts down; it does not keep an idle session alive.

use crate::error::WebError;
use crate::session::{Current, SESSION_COOKIE, cookie};
use crate::{WebState, blocking};
use axum::extract::{RawQuery, State};
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use phalanx_labels::Subject;
use phalanx_store::{Cursor, Order, Query, Store, StoreError, VersionFilter};
use std::convert::Infallible;
use std::sync::Arc;

/// The cursor of the newest version `subject` may read, if any (one
/// index walk per readable class, newest first, one row).
pub fn newest(store: &dyn Store, subject: &Subject) -> Result<Option<Cursor>, StoreError> {
    let query = Query { versions: VersionFilter::All, order: Order::AddedDescending, limit: 1, ..Query::default() };
    Ok(store.query(subject, &query)?.objects.first().map(|o| Cursor(o.seq)))
}

struct Follow {
    state: WebState,
    secret: String,
    subject: Arc<Subject>,
    cursor: Option<Cursor>,
    committed: tokio::sync::watch::Receiver<u64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

/// `GET /ui/events[?after=CURSOR]`: `after` is the newest version the page
/// was rendered with (its `data-cursor`), so that a write between the
/// render and this request still sends `changed`; without it the stream
/// starts from the newest version now.
pub async fn events(
    State(state): State<WebState>,
    current: Current,
    headers: HeaderMap,
    RawQuery(raw): RawQuery,
) -> Result<Response, WebError> {
    let secret = cookie(&headers, SESSION_COOKIE).ok_or(WebError::NotLoggedIn)?;
    let subject = Arc::new(current.actor.subject.clone());
    let mut after: Option<Cursor> = None;
    for pair in raw.as_deref().unwrap_or_default().split('&').filter(|p| !p.is_empty()) {
        match pair.split_once('=') {
            Some(("after", value)) if value.is_empty() => {}
            Some(("after", value)) => {
                after = Some(
                    Cursor::decode(value).ok_or_else(|| WebError::BadRequest(format!("after: not a cursor: {value}")))?,
                );
            }
            _ => return Err(WebError::BadRequest(format!("{pair}: not a parameter of /ui/events (it takes after)"))),
        }
    }
    let cursor = match after {
        Some(c) => Some(c),
        None => {
            let store = state.api().store().clone();
            let start_subject = subject.clone();
            blocking(&state, move || Ok(newest(store.as_ref(), &start_subject)?)).await?
        }
    };
    let follow = Follow {
        committed: state.api().committed_changes(),
        shutdown: state.api().shutdown_signal(),
        state: state.clone(),
        secret,
        subject,
        cursor,
    };
    let poll = state.api().config().stream.poll_interval;
    let stream = futures_util::stream::unfold(follow, move |mut f| async move {
        loop {
            if *f.shutdown.borrow() || !f.state.sessions().is_live(&f.secret) {
                return None;
            }
            tokio::select! {
                _ = f.committed.changed() => {}
                _ = f.shutdown.changed() => {}
                _ = tokio::time::sleep(poll) => {}
            }
            if *f.shutdown.borrow() || !f.state.sessions().is_live(&f.secret) {
                return None;
            }
            let store = f.state.api().store().clone();
            let subject = f.subject.clone();
            let after = f.cursor;
            let found = blocking(&f.state, move || Ok(newest(store.as_ref(), &subject)?)).await;
            match found {
                Ok(Some(cursor)) if after.is_none_or(|a| cursor.0 > a.0) => {
                    f.cursor = Some(cursor);
                    let event = Event::default().event("changed").data(cursor.encode());
                    return Some((Ok::<Event, Infallible>(event), f));
                }
                Ok(_) => {}
                Err(error) => {
                    tracing::warn!(%error, "web ui: live update stream ends");
                    return None;
                }
            }
        }
    });
    let keepalive = state.api().config().stream.keepalive;
    Ok(Sse::new(stream).keep_alive(KeepAlive::new().interval(keepalive)).into_response())
}
