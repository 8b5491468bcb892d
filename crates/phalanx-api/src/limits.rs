//! Request limits, applied to every route by [`enforce`] before the
//! handler runs, each answered with an error of the one table in
//! [`crate::error`] (a TAXII error object under `/taxii2`, plain JSON
//! elsewhere):
//!
//! 1. **Rate per token** ([`ErrorCode::RateLimited`], 429 + `Retry-After`):
//!    a token bucket per API token (the SHA-256 of the secret from
//!    `Authorization`, whatever the scheme), or per client address for
//!    requests without credentials. Refilled at `rate_per_sec`, holding at
//!    most `rate_burst`.
//! 2. **Concurrency** ([`ErrorCode::Overloaded`], 503 + `Retry-After`): at
//!    most `max_concurrent_requests` requests are handled at once; one more
//!    is shed at once, never queued. A request counts until its handler has
//!    produced the response head (the live stream's events do not hold a
//!    place).
//! 3. **Body size** ([`ErrorCode::PayloadTooLarge`], 413): a declared
//!    `Content-Length` above `ApiConfig::max_content_length` is refused
//!    before the handler runs; any other body is cut off at that size (the
//!    handler's read fails), and a bare 413 from a framework extractor is
//!    rendered from the table too.
//! 4. **Time** ([`ErrorCode::Timeout`], 503): a handler that has not
//!    produced its response head within `request_timeout` is dropped. Not
//!    applied to the live stream (`/api/v1/stream`), which is meant to stay
//!    open. Store work already running on the blocking pool finishes (a
//!    write commits whole or not at all), so a timed-out write may still
//!    have been stored: posting it again is answered as unchanged.
//!
//! Limits are set to 0 to switch them off.

use crate::AppState;
use crate::auth::{Credentials, parse_authorization};
use crate::error::{ApiError, ErrorCode};
use axum::body::Body;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::sync::Semaphore;

/// The path of the live stream, exempt from the request timeout.
const STREAM_PATH: &str = "/api/v1/stream";
/// Most buckets kept; beyond it, full (idle) buckets are dropped first and
/// new keys then share one overflow bucket.
const MAX_BUCKETS: usize = 100_000;

/// The configurable limits (the body limit is
/// [`crate::ApiConfig::max_content_length`]).
#[derive(Clone, Debug, PartialEq)]
pub struct LimitsConfig {
    /// Longest time a handler may take to answer; zero: no timeout.
    pub request_timeout: Duration,
    /// Most requests handled at once; 0: no limit.
    pub max_concurrent_requests: usize,
    /// Requests per second per token (anonymous: per address); 0: no limit.
    pub rate_per_sec: f64,
    /// Requests a token may make at once after being idle (bucket size).
    pub rate_burst: u32,
}

impl Default for LimitsConfig {
    /// 60 s timeout, 256 concurrent requests, 100 requests/s per token
    /// with bursts of 200.
    fn default() -> Self {
        LimitsConfig {
            request_timeout: Duration::from_secs(60),
            max_concurrent_requests: 256,
            rate_per_sec: 100.0,
            rate_burst: 200,
        }
    }
}

/// A token bucket.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl Bucket {
    /// The bucket refilled up to `now`.
    fn refilled(self, now: Instant, rate: f64, burst: f64) -> Bucket {
        let elapsed = now.saturating_duration_since(self.at).as_secs_f64();
        Bucket { tokens: (self.tokens + elapsed * rate).min(burst), at: now }
    }
}

/// The state behind the limits: the concurrency semaphore and the buckets.
pub struct Limiter {
    config: LimitsConfig,
    in_flight: Option<Arc<Semaphore>>,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl std::fmt::Debug for Limiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Limiter").field("config", &self.config).finish_non_exhaustive()
    }
}

impl Limiter {
    /// A limiter for `config`.
    pub fn new(config: &LimitsConfig) -> Self {
        let in_flight = (config.max_concurrent_requests > 0).then(|| Arc::new(Semaphore::new(config.max_concurrent_requests)));
        Limiter { config: config.clone(), in_flight, buckets: Mutex::new(HashMap::new()) }
    }

    /// Takes one request from `key`'s bucket: `Err(wait)` when it is
    /// empty, with the time until a request is allowed again.
    fn take(&self, key: &str, now: Instant) -> Result<(), Duration> {
        let rate = self.config.rate_per_sec;
        if rate <= 0.0 || !rate.is_finite() {
            return Ok(());
        }
        let burst = f64::from(self.config.rate_burst.max(1));
        let mut buckets = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        if !buckets.contains_key(key) && buckets.len() >= MAX_BUCKETS {
            buckets.retain(|_, b| b.refilled(now, rate, burst).tokens < burst);
        }
        let key = if !buckets.contains_key(key) && buckets.len() >= MAX_BUCKETS { "overflow" } else { key };
        let bucket = buckets.entry(key.to_owned()).or_insert(Bucket { tokens: burst, at: now });
        let mut b = bucket.refilled(now, rate, burst);
        let result = if b.tokens >= 1.0 {
            b.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - b.tokens) / rate))
        };
        *bucket = b;
        result
    }
}

/// The rate-limit key of a request: its API token (hashed), else its
/// client address.
fn rate_key(request: &Request) -> String {
    let credentials = request
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|text| parse_authorization(text).ok());
    if let Some(credentials) = credentials {
        let secret = match &credentials {
            Credentials::Basic { secret, .. } => secret,
            Credentials::Token(secret) => secret,
        };
        let digest = Sha256::digest(secret.as_bytes());
        let hex: String = digest.iter().take(16).map(|b| format!("{b:02x}")).collect();
        return format!("token:{hex}");
    }
    match request.extensions().get::<ConnectInfo<SocketAddr>>() {
        Some(ConnectInfo(addr)) => format!("ip:{}", addr.ip()),
        None => "ip:unknown".to_owned(),
    }
}

/// `Retry-After` in whole seconds, at least 1.
fn with_retry_after(mut response: Response, wait: Duration) -> Response {
    let secs = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    if let Ok(v) = HeaderValue::from_str(&secs.max(1).to_string()) {
        response.headers_mut().insert(header::RETRY_AFTER, v);
    }
    response
}

fn refused(reason: &'static str) {
    metrics::counter!("phalanx_requests_refused_total", "reason" => reason).increment(1);
}

/// The middleware that applies every limit (see the module docs).
pub async fn enforce(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    let limiter = &state.0.limiter;

    if let Err(wait) = limiter.take(&rate_key(&request), Instant::now()) {
        refused("rate");
        tracing::debug!(%path, wait_ms = wait.as_millis() as u64, "rate limited");
        let e = ApiError::new(ErrorCode::RateLimited, "rate: too many requests for this token; retry after the time in retry-after");
        return with_retry_after(e.into_response_for(&path), wait);
    }

    let _permit = match &limiter.in_flight {
        None => None,
        Some(sem) => match sem.clone().try_acquire_owned() {
            Ok(permit) => Some(permit),
            Err(_) => {
                refused("concurrency");
                tracing::warn!(%path, max = limiter.config.max_concurrent_requests, "overloaded: request shed");
                let e = ApiError::new(
                    ErrorCode::Overloaded,
                    format!(
                        "concurrency: the node is handling its maximum of {} requests; retry after the time in retry-after",
                        limiter.config.max_concurrent_requests
                    ),
                );
                return with_retry_after(e.into_response_for(&path), Duration::from_secs(1));
            }
        },
    };

    let max = state.config().max_content_length;
    let too_large = || {
        refused("body");
        ApiError::new(ErrorCode::PayloadTooLarge, format!("body: larger than the limit of {max} bytes")).into_response_for(&path)
    };
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > max as u64) {
        return too_large();
    }
    let (parts, body) = request.into_parts();
    let request = Request::from_parts(parts, Body::new(http_body_util::Limited::new(body, max)));

    let timeout = limiter.config.request_timeout;
    let response = if timeout.is_zero() || path == STREAM_PATH {
        next.run(request).await
    } else {
        match tokio::time::timeout(timeout, next.run(request)).await {
            Ok(response) => response,
            Err(_) => {
                refused("timeout");
                tracing::warn!(%path, timeout_ms = timeout.as_millis() as u64, "request timed out");
                return ApiError::new(
                    ErrorCode::Timeout,
                    format!("timeout: no answer within {} ms", timeout.as_millis()),
                )
                .into_response_for(&path);
            }
        }
    };
    // A body cut off by the limit inside a framework extractor: answer
    // from the table too.
    if response.status() == StatusCode::PAYLOAD_TOO_LARGE && response.extensions().get::<ErrorCode>().is_none() {
        return too_large();
    }
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_allows_the_burst_then_refills_at_the_rate() {
        let limiter = Limiter::new(&LimitsConfig { rate_per_sec: 10.0, rate_burst: 3, ..LimitsConfig::default() });
        let t0 = Instant::now();
        for _ in 0..3 {
            assert!(limiter.take("a", t0).is_ok());
        }
        let wait = limiter.take("a", t0).expect_err("burst used up");
        assert!(wait > Duration::from_millis(90) && wait <= Duration::from_millis(100), "{wait:?}");
        assert!(limiter.take("b", t0).is_ok(), "another token has its own bucket");
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_ok(), "one request refilled after 1/rate");
        assert!(limiter.take("a", t0 + Duration::from_millis(100)).is_err());
    }

    #[test]
    fn zero_rate_means_no_limit() {
        let limiter = Limiter::new(&LimitsConfig { rate_per_sec: 0.0, rate_burst: 1, ..LimitsConfig::default() });
        let now = Instant::now();
        for _ in 0..1000 {
            assert!(limiter.take("a", now).is_ok());
        }
    }

    #[test]
    fn the_same_token_shares_a_bucket_whatever_the_scheme() {
        use base64::Engine;
        let basic = base64::engine::general_purpose::STANDARD.encode("alice:phx_abc");
        let key = |value: &str| {
            let r = Request::builder().header(header::AUTHORIZATION, value).body(Body::empty()).expect("request");
            rate_key(&r)
        };
        assert_eq!(key(&format!("Basic {basic}")), key("Bearer phx_abc"));
        assert_ne!(key("Bearer phx_abc"), key("Bearer phx_abd"));
        assert!(!key("Bearer phx_abc").contains("phx_abc"), "secrets are not kept");
        let anonymous = Request::builder().body(Body::empty()).expect("request");
        assert_eq!(rate_key(&anonymous), "ip:unknown");
    }
}
