//! Request metrics and logs: one place that counts and times every
//! request by route (the matched path, never the raw URL, so object ids do
//! not explode the label set), method and status.

use axum::extract::{MatchedPath, Request};
use axum::middleware::Next;
use axum::response::Response;
use std::time::Instant;

/// Middleware: counts, times and logs each request.
pub async fn track(request: Request, next: Next) -> Response {
    let start = Instant::now();
    let method = request.method().as_str().to_owned();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_owned())
        .unwrap_or_else(|| "unmatched".to_owned());
    let response = next.run(request).await;
    let status = response.status().as_u16();
    let seconds = start.elapsed().as_secs_f64();
    let labels = [("method", method.clone()), ("route", route.clone()), ("status", status.to_string())];
    metrics::counter!("phalanx_http_requests_total", &labels).increment(1);
    metrics::histogram!("phalanx_http_request_duration_seconds", &labels).record(seconds);
    if response.status().is_server_error() {
        tracing::warn!(method = %method, route = %route, status, latency_ms = seconds * 1e3, "request failed");
    } else {
        tracing::info!(method = %method, route = %route, status, latency_ms = seconds * 1e3, "request");
    }
    response
}
