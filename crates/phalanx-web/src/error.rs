//! Errors of the web UI, answered as small HTML pages (or a redirect to
//! the login page for a request without a live session).

use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use phalanx_store::StoreError;

/// Why a UI request failed.
#[derive(Debug, thiserror::Error)]
pub enum WebError {
    /// No live session: the browser is sent to the login page.
    #[error("not logged in")]
    NotLoggedIn,
    /// Missing or unreadable object: the same answer for both.
    #[error("{0}")]
    NotFound(String),
    /// A POST without the right CSRF token, or from another origin.
    #[error("{0}")]
    Forbidden(String),
    /// Malformed input, naming the field.
    #[error("{0}")]
    BadRequest(String),
    /// Too many failed logins: wait this many seconds.
    #[error("too many failed logins; try again in {0} s")]
    Throttled(u64),
    /// The store failed.
    #[error("store: {0}")]
    Store(#[from] StoreError),
    /// Anything else that is the node's fault.
    #[error("{0}")]
    Internal(String),
}

impl IntoResponse for WebError {
    fn into_response(self) -> Response {
        let (status, text) = match &self {
            WebError::NotLoggedIn => {
                return (StatusCode::SEE_OTHER, [(header::LOCATION, "/ui/login")], "").into_response();
            }
            WebError::NotFound(m) => (StatusCode::NOT_FOUND, m.clone()),
            WebError::Forbidden(m) => (StatusCode::FORBIDDEN, m.clone()),
            WebError::BadRequest(m) => (StatusCode::BAD_REQUEST, m.clone()),
            WebError::Throttled(_) => (StatusCode::TOO_MANY_REQUESTS, self.to_string()),
            WebError::Store(e) => {
                tracing::error!(error = %e, "web ui: store error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the node's log".to_owned())
            }
            WebError::Internal(m) => {
                tracing::error!(error = %m, "web ui: internal error");
                (StatusCode::INTERNAL_SERVER_ERROR, "internal error; see the node's log".to_owned())
            }
        };
        let body = format!(
            "<!doctype html><html lang=\"en\"><head><meta charset=\"utf-8\"><title>{code} · Phalanx</title>\
             <link rel=\"stylesheet\" href=\"/ui/assets/app.css\"></head><body><main class=\"error\">\
             <h1>{code} {reason}</h1><p id=\"error-message\">{text}</p><p><a href=\"/\">Back to the dashboard</a></p></main></body></html>",
            code = status.as_u16(),
            reason = crate::html::esc(status.canonical_reason().unwrap_or("")),
            text = crate::html::esc(&text),
        );
        let mut response = (status, [(header::CONTENT_TYPE, "text/html; charset=utf-8")], body).into_response();
        if let WebError::Throttled(secs) = self
            && let Ok(v) = header::HeaderValue::from_str(&secs.to_string())
        {
            response.headers_mut().insert(header::RETRY_AFTER, v);
        }
        response
    }
}
