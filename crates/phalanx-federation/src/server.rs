//! The federation routes of `phalanx serve` (axum): `POST
//! /federation/v1/push` takes a batch from a peer, `GET
//! /federation/v1/changes?after=<seq>&limit=<n>` serves our stream to a
//! peer. Both authenticate the peer's node key first; a peer is throttled
//! (429) past its request rate, a busy node answers 503, an oversized body
//! 413, a malformed batch 400 (counted as refused and audited).

use crate::engine::Federation;
use crate::protocol::{AUTH_HEADER, CHANGES_PATH, PUSH_PATH, auth_header};
use crate::receive::ReceiveError;
use axum::Router;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use phalanx_store::PeerExchange;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// Largest batch body accepted or read, in bytes.
pub const MAX_BODY_BYTES: usize = 64 << 20;
/// Requests per second a peer may make (burst: twice as many).
pub const PEER_RATE_PER_SEC: f64 = 100.0;
/// Batches taken at once (others wait up to [`BUSY_WAIT`], then get 503).
pub const CONCURRENT_BATCHES: usize = 2;
/// How long a batch waits for its turn.
pub const BUSY_WAIT: Duration = Duration::from_secs(5);

/// A token bucket per peer.
#[derive(Default)]
struct Throttle {
    buckets: Mutex<HashMap<String, (f64, Instant)>>,
}

impl Throttle {
    fn allow(&self, peer: &str) -> bool {
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        let now = Instant::now();
        let burst = PEER_RATE_PER_SEC * 2.0;
        let (tokens, last) = buckets.entry(peer.to_owned()).or_insert((burst, now));
        *tokens = (*tokens + now.duration_since(*last).as_secs_f64() * PEER_RATE_PER_SEC).min(burst);
        *last = now;
        if *tokens >= 1.0 {
            *tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// The state of the federation routes.
#[derive(Clone)]
struct Routes {
    engine: Arc<Federation>,
    throttle: Arc<Throttle>,
    slots: Arc<tokio::sync::Semaphore>,
}

/// The federation routes, to merge into the node's router.
pub fn router(engine: Arc<Federation>) -> Router {
    let routes = Routes {
        engine,
        throttle: Arc::new(Throttle::default()),
        slots: Arc::new(tokio::sync::Semaphore::new(CONCURRENT_BATCHES)),
    };
    Router::new()
        .route(PUSH_PATH, post(push))
        .route(CHANGES_PATH, get(changes))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(routes)
}

fn answer(status: StatusCode, body: serde_json::Value) -> Response {
    (status, [("content-type", "application/json")], body.to_string()).into_response()
}

fn error(status: StatusCode, message: impl Into<String>) -> Response {
    answer(status, serde_json::json!({ "error": message.into() }))
}

fn retry_later(status: StatusCode, message: &str) -> Response {
    let mut r = error(status, message);
    r.headers_mut().insert("retry-after", HeaderValue::from_static("1"));
    r
}

/// Authenticates the request on a blocking thread; the peer or an answer.
async fn authenticate(
    routes: &Routes,
    headers: &HeaderMap,
    method: &'static str,
    uri: &Uri,
    body: Bytes,
) -> Result<crate::peers::Peer, Response> {
    let header = headers.get(AUTH_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let engine = routes.engine.clone();
    let result = tokio::task::spawn_blocking(move || engine.authenticate(header.as_deref(), method, &path, &body)).await;
    match result {
        Ok(Ok(peer)) => {
            if routes.throttle.allow(&peer.name) {
                Ok(peer)
            } else {
                tracing::warn!(peer = %peer.name, "peer throttled");
                Err(retry_later(StatusCode::TOO_MANY_REQUESTS, "too many requests from this peer"))
            }
        }
        Ok(Err(e)) => {
            tracing::warn!(error = %e, "federation request refused");
            Err(error(StatusCode::UNAUTHORIZED, "node authentication failed"))
        }
        Err(e) => Err(error(StatusCode::INTERNAL_SERVER_ERROR, format!("internal: {e}"))),
    }
}

async fn push(State(routes): State<Routes>, headers: HeaderMap, uri: Uri, body: Bytes) -> Response {
    let peer = match authenticate(&routes, &headers, "POST", &uri, body.clone()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let Ok(permit) = tokio::time::timeout(BUSY_WAIT, routes.slots.clone().acquire_owned()).await else {
        return retry_later(StatusCode::SERVICE_UNAVAILABLE, "busy: too many batches at once");
    };
    let engine = routes.engine.clone();
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let batch = match serde_json::from_slice::<crate::protocol::Batch>(&body) {
            Ok(b) => b,
            Err(e) => {
                let reason = format!("the body is not a federation batch: {e}");
                let store = engine.store();
                let _ = store.record_exchange(
                    &peer.name,
                    &PeerExchange { refused: 1, error: Some(format!("received: {reason}")), ..PeerExchange::default() },
                );
                let _ = store.audit(&peer.origin(), "federation-refused", "batch", &serde_json::json!({"peer": peer.name, "reason": reason}));
                return Err(ReceiveError::Malformed(reason));
            }
        };
        engine.take_batch(&peer, batch)
    })
    .await;
    match result {
        Ok(Ok(reply)) => answer(StatusCode::OK, serde_json::to_value(&reply).unwrap_or_default()),
        Ok(Err(ReceiveError::Gap { have, from })) => {
            answer(StatusCode::CONFLICT, serde_json::json!({"error": format!("batch starts at {from}"), "have": have}))
        }
        Ok(Err(ReceiveError::Malformed(m))) => error(StatusCode::BAD_REQUEST, m),
        Ok(Err(ReceiveError::Store(e))) => {
            tracing::error!(error = %e, "storing a batch failed");
            retry_later(StatusCode::SERVICE_UNAVAILABLE, "storing failed; retry")
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("internal: {e}")),
    }
}

fn query_number(uri: &Uri, name: &str) -> Option<Result<i64, ()>> {
    let query = uri.query()?;
    for pair in query.split('&') {
        if let Some(v) = pair.strip_prefix(name).and_then(|r| r.strip_prefix('=')) {
            return Some(v.parse::<i64>().map_err(|_| ()).and_then(|n| if n >= 0 { Ok(n) } else { Err(()) }));
        }
    }
    None
}

async fn changes(State(routes): State<Routes>, headers: HeaderMap, uri: Uri) -> Response {
    let peer = match authenticate(&routes, &headers, "GET", &uri, Bytes::new()).await {
        Ok(p) => p,
        Err(r) => return r,
    };
    let after = match query_number(&uri, "after") {
        Some(Ok(n)) => n,
        Some(Err(())) => return error(StatusCode::BAD_REQUEST, "after: not a non-negative integer"),
        None => 0,
    };
    let limit = match query_number(&uri, "limit") {
        Some(Ok(n)) => n as usize,
        Some(Err(())) => return error(StatusCode::BAD_REQUEST, "limit: not a non-negative integer"),
        None => usize::MAX,
    };
    let Ok(permit) = tokio::time::timeout(BUSY_WAIT, routes.slots.clone().acquire_owned()).await else {
        return retry_later(StatusCode::SERVICE_UNAVAILABLE, "busy: too many batches at once");
    };
    let engine = routes.engine.clone();
    let path = uri.path_and_query().map(|p| p.as_str().to_owned()).unwrap_or_default();
    let result = tokio::task::spawn_blocking(move || {
        let _permit = permit;
        let batch = engine.outgoing(&peer, after, limit)?;
        let sent = batch.objects.len() as u64;
        // Sized once: a 20 MiB body grown by doubling was copied and
        // faulted in again at each step.
        let mut body = Vec::with_capacity(batch.size_hint());
        serde_json::to_writer(&mut body, &batch).map_err(|e| crate::error::FederationError::input("batch", e.to_string()))?;
        if sent > 0 {
            engine.store().record_exchange(&peer.name, &PeerExchange { sent, ..PeerExchange::default() })?;
        }
        let signature = auth_header(&engine.keys().node(), "RESPONSE", &path, &body);
        Ok::<_, crate::error::FederationError>((body, signature))
    })
    .await;
    match result {
        Ok(Ok((body, signature))) => {
            let mut response = (StatusCode::OK, [("content-type", "application/json")], body).into_response();
            if let Ok(value) = HeaderValue::from_str(&signature) {
                response.headers_mut().insert(AUTH_HEADER, value);
            }
            response
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "serving changes failed");
            retry_later(StatusCode::SERVICE_UNAVAILABLE, "reading failed; retry")
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, format!("internal: {e}")),
    }
}
