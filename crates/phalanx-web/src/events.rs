//! `GET /ui/events`: tells an open page that something the user may read
//! was written, so that it refreshes its fragments without a reload.
//!
//! Server-sent events named `changed`, whose data is the store cursor of
//! the newest readable version. The stream wakes on every commit of this
//! process ([`phalanx_api::AppState::committed_changes`]) and every poll
//! interval (writes of other processes), and asks the store, with the
//! user's subject, for versions after its cursor: a write the user may not
//! read finds nothing and sends nothing, so the stream's timing reveals no
//! more than the read rule allows. It ends when the session ends or the
//! node shuts down; it does not keep an idle session alive.

use crate::error::WebError;
use crate::session::{Current, SESSION_COOKIE, cookie};
use crate::{WebState, blocking};
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use phalanx_labels::Subject;
use phalanx_store::{Cursor, Order, Query, Store, StoreError, VersionFilter};
use std::convert::Infallible;
use std::sync::Arc;

/// The newest readable version's cursor after `after` (or overall).
pub fn newest_after(store: &dyn Store, subject: &Subject, after: Option<Cursor>) -> Result<Option<Cursor>, StoreError> {
    match after {
        None => {
            let query = Query { versions: VersionFilter::All, order: Order::AddedDescending, limit: 1, ..Query::default() };
            Ok(store.query(subject, &query)?.objects.first().map(|o| Cursor(o.seq)))
        }
        Some(mut cursor) => {
            let mut found = None;
            loop {
                let query = Query { versions: VersionFilter::All, after: Some(cursor), limit: 500, ..Query::default() };
                let page = store.query(subject, &query)?;
                let Some(last) = page.objects.last() else { break };
                cursor = Cursor(last.seq);
                found = Some(cursor);
                if !page.more {
                    break;
                }
            }
            Ok(found)
        }
    }
}

struct Follow {
    state: WebState,
    secret: String,
    subject: Arc<Subject>,
    cursor: Option<Cursor>,
    committed: tokio::sync::watch::Receiver<u64>,
    shutdown: tokio::sync::watch::Receiver<bool>,
}

/// `GET /ui/events`.
pub async fn events(State(state): State<WebState>, current: Current, headers: HeaderMap) -> Result<Response, WebError> {
    let secret = cookie(&headers, SESSION_COOKIE).ok_or(WebError::NotLoggedIn)?;
    let subject = Arc::new(current.actor.subject.clone());
    let store = state.api().store().clone();
    let start_subject = subject.clone();
    let cursor = blocking(&state, move || Ok(newest_after(store.as_ref(), &start_subject, None)?)).await?;
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
            let found = blocking(&f.state, move || {
                // No cursor yet (nothing readable at the start): everything is new.
                let after = after.or(Some(Cursor(0)));
                Ok(newest_after(store.as_ref(), &subject, after)?)
            })
            .await;
            match found {
                Ok(Some(cursor)) => {
                    f.cursor = Some(cursor);
                    let event = Event::default().event("changed").data(cursor.encode());
                    return Some((Ok::<Event, Infallible>(event), f));
                }
                Ok(None) => {}
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
