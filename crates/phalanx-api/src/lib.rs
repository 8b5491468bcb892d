//! The HTTP interface of a Phalanx node.
//!
//! [`router`] builds the whole axum application from an [`AppState`]:
//! TAXII 2.1 under `/taxii2/` ([`taxii`]), the health check at
//! `/api/v1/health`, and Prometheus metrics at `/metrics`. The REST API
//! (`/api/v1/...`, with its OpenAPI document) and the live event stream
//! join as further modules merged in [`router`]; they reuse [`AppState`],
//! [`auth::Caller`], [`blocking`] and the error table in [`error`].
//!
//! Architecture invariants:
//! - only this crate (and the web dashboard) knows HTTP;
//! - every handler resolves the caller first and passes its
//!   [`phalanx_labels::Subject`] to the store, which applies the read rule
//!   inside the query; nothing is filtered afterwards, and an object the
//!   caller may not read answers exactly like a missing one;
//! - the store is synchronous: handlers call it through [`blocking`]
//!   (`tokio::task::spawn_blocking`), never on the async threads;
//! - every write goes through `phalanx_store::ingest::Ingest`, as
//!   `phalanx import` does: one transaction per request;
//! - process-wide state (tracing subscriber, metrics recorder, signals)
//!   belongs to the binary; this crate only emits.

pub mod auth;
pub mod desk;
pub mod error;
pub mod events;
pub mod limits;
pub mod media;
mod observe;
pub mod rest;
pub mod stream;
pub mod taxii;
pub mod webhooks;

use crate::auth::Authenticator;
use crate::error::{ApiError, ErrorCode};
use axum::Router;
use axum::extract::State;
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use phalanx_labels::Tlp;
use phalanx_store::{Store, StoreError};
use std::sync::Arc;
use std::time::Duration;

/// What the HTTP interface needs to know from the node's configuration.
#[derive(Clone, Debug)]
pub struct ApiConfig {
    /// Title of the TAXII server and API root.
    pub title: String,
    /// Description shown in discovery.
    pub description: Option<String>,
    /// Contact shown in discovery.
    pub contact: Option<String>,
    /// Largest request body, in bytes (TAXII `max_content_length`).
    pub max_content_length: usize,
    /// Most objects in one page, whatever `limit` asks.
    pub page_size_cap: usize,
    /// TLP that unmarked objects take implicitly (the node default;
    /// `None` = amber+strict).
    pub default_tlp: Option<Tlp>,
    /// How long a status resource stays queryable.
    pub status_ttl: Duration,
    /// Most status resources kept.
    pub status_capacity: usize,
    /// Limits on requests: timeout, concurrency, rate per token.
    pub limits: limits::LimitsConfig,
    /// How the live event stream polls and keeps connections alive.
    pub stream: stream::StreamConfig,
}

impl Default for ApiConfig {
    fn default() -> Self {
        ApiConfig {
            title: "Phalanx TAXII 2.1 server".into(),
            description: None,
            contact: None,
            max_content_length: 100 << 20,
            page_size_cap: 1000,
            default_tlp: None,
            status_ttl: Duration::from_secs(48 * 3600),
            status_capacity: 10_000,
            limits: limits::LimitsConfig::default(),
            stream: stream::StreamConfig::default(),
        }
    }
}

/// Renders the metrics registry as Prometheus text.
pub type MetricsRender = Arc<dyn Fn() -> String + Send + Sync>;

struct Inner {
    store: Arc<dyn Store>,
    auth: Arc<dyn Authenticator>,
    config: ApiConfig,
    collections: Vec<taxii::collections::Collection>,
    statuses: taxii::status::StatusStore,
    metrics: Option<MetricsRender>,
    /// Bumped after every committed write (see [`AppState::notify_committed`]).
    committed: tokio::sync::watch::Sender<u64>,
    /// Set when the node begins to shut down (see [`AppState::begin_shutdown`]).
    shutdown: tokio::sync::watch::Sender<bool>,
    limiter: limits::Limiter,
    /// Store calls that may run at once (see [`blocking`]).
    store_slots: tokio::sync::Semaphore,
}

/// Everything a handler needs; cheap to clone.
#[derive(Clone)]
pub struct AppState(Arc<Inner>);

impl AppState {
    /// Builds the state: loads (or creates) the collection ids. Blocking:
    /// call it before serving or on a blocking thread.
    pub fn new(
        store: Arc<dyn Store>,
        auth: Arc<dyn Authenticator>,
        config: ApiConfig,
        metrics: Option<MetricsRender>,
    ) -> Result<Self, StoreError> {
        let collections = taxii::collections::load(store.as_ref())?;
        let statuses = taxii::status::StatusStore::new(config.status_ttl, config.status_capacity);
        let limiter = limits::Limiter::new(&config.limits);
        let (committed, _) = tokio::sync::watch::channel(0);
        let (shutdown, _) = tokio::sync::watch::channel(false);
        let cores = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(2);
        let store_slots = tokio::sync::Semaphore::new((cores * 2).max(4));
        Ok(AppState(Arc::new(Inner {
            store,
            auth,
            config,
            collections,
            statuses,
            metrics,
            committed,
            shutdown,
            limiter,
            store_slots,
        })))
    }

    /// Tells the live streams that a write transaction committed, so that
    /// they read the new versions now rather than at their next poll. Call
    /// it after every successful commit (TAXII and REST writes); writes
    /// from other processes are found by the streams' periodic poll.
    pub fn notify_committed(&self) {
        self.0.committed.send_modify(|n| *n = n.wrapping_add(1));
    }

    /// A receiver that changes after each [`AppState::notify_committed`].
    pub fn committed_changes(&self) -> tokio::sync::watch::Receiver<u64> {
        self.0.committed.subscribe()
    }

    /// Ends the live streams (their clients reconnect elsewhere or later):
    /// the binary calls it when shutdown begins, so that open streams do
    /// not hold the graceful shutdown until its grace period is over.
    pub fn begin_shutdown(&self) {
        self.0.shutdown.send_replace(true);
    }

    /// A receiver that turns `true` when shutdown begins.
    pub fn shutdown_signal(&self) -> tokio::sync::watch::Receiver<bool> {
        self.0.shutdown.subscribe()
    }

    /// The store.
    pub fn store(&self) -> &Arc<dyn Store> {
        &self.0.store
    }

    /// The authenticator.
    pub fn authenticator(&self) -> &Arc<dyn Authenticator> {
        &self.0.auth
    }

    /// The configuration.
    pub fn config(&self) -> &ApiConfig {
        &self.0.config
    }
}

/// Runs blocking work (store calls) on the blocking pool, at most twice
/// the cores' worth at a time per node state, first come first served.
/// More only share the same cores among more threads and every request
/// gets slower (32 clients on 2 cores had a p99 four times the mean).
pub async fn blocking<T, F>(state: &AppState, work: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ApiError> + Send + 'static,
{
    let _slot = state.0.store_slots.acquire().await.map_err(|e| ApiError::internal(format!("store slots closed: {e}")))?;
    match tokio::task::spawn_blocking(work).await {
        Ok(result) => result,
        Err(e) => Err(ApiError::internal(format!("blocking task failed: {e}"))),
    }
}

/// How long a page read may run on the async worker that took the
/// request before [`read_page`] gives it to the blocking pool instead.
/// A page of 100 objects takes about 0.1 ms; the hand-off to the pool and
/// back cost about a third of a page request's CPU at 1M objects.
pub const INLINE_READ_BUDGET: std::time::Duration = std::time::Duration::from_millis(2);

/// Whether a read of `query` is worth trying within [`INLINE_READ_BUDGET`]:
/// not a full-text search (about 6 ms for the first 100 hits at 1M
/// objects, `bench/filtered_read`) nor a read without a limit, which would
/// only spend the budget before going to the pool.
fn may_read_inline(query: &phalanx_store::Query) -> bool {
    query.limit > 0 && query.text.is_none()
}

/// Whether a page read by `caller` holding objects with `labels` must be
/// audited before it is sent (a signed-in caller and a label whose reads
/// are audited).
fn needs_read_audit<'a>(caller: &auth::Caller, labels: impl IntoIterator<Item = &'a phalanx_labels::Label>) -> bool {
    caller.actor.is_some() && labels.into_iter().any(phalanx_auth::is_audited_read)
}

/// Reads a page of `query` as `caller`, audits the classified versions in
/// it (`via` names the path in the audit entry; a read that cannot be
/// audited is not served) and hands the page to `then`. A read the store
/// answers within [`INLINE_READ_BUDGET`] runs on the async worker, and
/// `then` with it unless an audit entry must be written; longer reads and
/// audits run on the blocking pool ([`blocking`]). `then` runs where the
/// page was made, so what it frees of the page is freed on that thread.
pub async fn read_page<T, F>(state: &AppState, caller: &auth::Caller, query: phalanx_store::Query, via: &'static str, then: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(phalanx_store::Page) -> T + Send + 'static,
{
    let page = if may_read_inline(&query) { state.store().query_within(&caller.subject, &query, INLINE_READ_BUDGET)? } else { None };
    match page {
        Some(page) if !needs_read_audit(caller, page.objects.iter().map(|o| &o.label)) => Ok(then(page)),
        page => finish_on_pool(state, caller, query, via, page, then).await,
    }
}

/// [`read_page`] without the attempt on the async worker, for a caller
/// that already knows it would not do (its [`quick_json_page`] declined).
pub async fn read_page_on_pool<T, F>(state: &AppState, caller: &auth::Caller, query: phalanx_store::Query, via: &'static str, then: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(phalanx_store::Page) -> T + Send + 'static,
{
    finish_on_pool(state, caller, query, via, None, then).await
}

/// On the blocking pool: reads `query` unless `page` already holds it,
/// audits the page and hands it to `then`.
async fn finish_on_pool<T, F>(
    state: &AppState,
    caller: &auth::Caller,
    query: phalanx_store::Query,
    via: &'static str,
    page: Option<phalanx_store::Page>,
    then: F,
) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce(phalanx_store::Page) -> T + Send + 'static,
{
    let store = state.store().clone();
    let subject = caller.subject.clone();
    let actor = caller.actor.clone();
    blocking(state, move || {
        let page = match page {
            Some(page) => page,
            None => store.query(&subject, &query)?,
        };
        if let Some(actor) = &actor {
            phalanx_auth::audit_reads(store.as_ref(), actor, &page.objects, via)?;
        }
        Ok(then(page))
    })
    .await
}

/// A page of `query` as JSON texts ([`phalanx_store::Store::query_json`]),
/// read on the async worker, when the store answers within
/// [`INLINE_READ_BUDGET`] and nothing in it is an object whose read must
/// be audited; `None` otherwise (read it with [`read_page_on_pool`], which
/// audits: trying the async worker again would only repeat this read).
pub fn quick_json_page(state: &AppState, caller: &auth::Caller, query: &phalanx_store::Query) -> Result<Option<phalanx_store::JsonPage>, ApiError> {
    if !may_read_inline(query) {
        return Ok(None);
    }
    match state.store().query_json(&caller.subject, query, Some(INLINE_READ_BUDGET))? {
        Some(page) if !needs_read_audit(caller, &page.labels) => Ok(Some(page)),
        _ => Ok(None),
    }
}

/// The whole HTTP application.
pub fn router(state: AppState) -> Router {
    Router::new()
        .route("/api/v1/health", get(health))
        .route("/metrics", get(metrics))
        .merge(taxii::router(state.clone()))
        .merge(rest::router(state.clone()))
        .route("/api/v1/stream", get(stream::stream_events))
        .fallback(fallback)
        .layer(axum::extract::DefaultBodyLimit::max(state.config().max_content_length))
        .layer(axum::middleware::from_fn_with_state(state.clone(), limits::enforce))
        .layer(axum::middleware::from_fn(observe::track))
        .layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("a handler panicked").into_response()
        }))
        .with_state(state)
}

/// Unknown paths: a TAXII error under `/taxii2/`, plain JSON elsewhere.
async fn fallback(uri: axum::http::Uri) -> Response {
    let e = ApiError::not_found(format!("no resource at {}", uri.path()));
    if uri.path().starts_with("/taxii2") { e.into_taxii_response() } else { e.into_response() }
}

/// `GET /api/v1/health`: 200 when the store answers.
async fn health(State(state): State<AppState>) -> Result<Response, ApiError> {
    let store = state.store().clone();
    blocking(&state, move || {
        store.setting("schema_version").map_err(|e| ApiError::new(ErrorCode::Unavailable, format!("store: {e}")))
    })
    .await?;
    let body = serde_json::json!({"status": "ok", "version": env!("CARGO_PKG_VERSION")});
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], body.to_string()).into_response())
}

/// `GET /metrics`: Prometheus text, when the binary installed a recorder.
async fn metrics(State(state): State<AppState>) -> Result<Response, ApiError> {
    let Some(render) = state.0.metrics.clone() else {
        return Err(ApiError::not_found("metrics are not enabled on this node"));
    };
    let text = render();
    Ok(([(header::CONTENT_TYPE, HeaderValue::from_static("text/plain; version=0.0.4"))], text).into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use phalanx_store::Query;

    #[test]
    fn only_bounded_reads_that_are_not_full_text_searches_are_tried_on_the_async_worker() {
        assert!(may_read_inline(&Query { limit: 100, ..Query::default() }));
        assert!(!may_read_inline(&Query { limit: 100, text: Some("apt28".into()), ..Query::default() }));
        assert!(!may_read_inline(&Query { limit: 0, ..Query::default() }));
    }
}
