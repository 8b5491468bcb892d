//! Errors of the HTTP interface: one table of stable error codes, each with
//! its HTTP status, and their renderings (a TAXII error object on TAXII
//! routes, a plain JSON error elsewhere).
//!
//! The codes are part of the API: clients may match on them, so a code is
//! never renamed or given another status. Every rendered error carries its
//! [`ErrorCode`] as a response extension, so that layers can tell the
//! node's own errors from bare framework answers (see `limits`).

use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use phalanx_store::StoreError;

/// The TAXII 2.1 media type every TAXII response carries.
pub const TAXII_CONTENT_TYPE: &str = "application/taxii+json;version=2.1";

macro_rules! make_error_codes {
    ($( $(#[$doc:meta])* $name:ident => ($status:ident, $code:literal, $title:literal); )*) => {
        /// A stable error code. See [`ErrorCode::http_status`] and
        /// [`ErrorCode::code`].
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub enum ErrorCode {
            $( $(#[$doc])* $name, )*
        }

        impl ErrorCode {
            /// Every code, in table order.
            pub const ALL: &'static [ErrorCode] = &[ $( ErrorCode::$name, )* ];

            /// The HTTP status this code is answered with.
            pub fn http_status(self) -> StatusCode {
                match self { $( ErrorCode::$name => StatusCode::$status, )* }
            }

            /// The code as clients see it (`snake_case`, stable).
            pub fn code(self) -> &'static str {
                match self { $( ErrorCode::$name => $code, )* }
            }

            /// A short human title (the TAXII error `title`).
            pub fn title(self) -> &'static str {
                match self { $( ErrorCode::$name => $title, )* }
            }
        }
    };
}

make_error_codes! {
    /// A query parameter or path segment is malformed.
    InvalidParameter => (BAD_REQUEST, "invalid_parameter", "invalid request parameter");
    /// A `next` value does not belong to this query and caller.
    InvalidNext => (BAD_REQUEST, "invalid_next", "invalid next parameter");
    /// The request body is not valid JSON.
    InvalidBody => (BAD_REQUEST, "invalid_body", "invalid request body");
    /// No valid credentials, and the request needs them.
    Unauthorized => (UNAUTHORIZED, "unauthorized", "authentication required");
    /// The caller is known but may not do this.
    Forbidden => (FORBIDDEN, "forbidden", "forbidden");
    /// Nothing there, or nothing the caller may see (the two look alike).
    NotFound => (NOT_FOUND, "not_found", "not found");
    /// A well-formed request that the object's state or a write rule
    /// refuses (an invalid transition, an ineligible expert); the message
    /// says which rule.
    Conflict => (CONFLICT, "conflict", "conflict");
    /// The method is not served on this path.
    MethodNotAllowed => (METHOD_NOT_ALLOWED, "method_not_allowed", "method not allowed");
    /// No media type in `Accept` that this endpoint serves.
    NotAcceptable => (NOT_ACCEPTABLE, "not_acceptable", "not acceptable");
    /// The body is larger than the API root's `max_content_length`.
    PayloadTooLarge => (PAYLOAD_TOO_LARGE, "payload_too_large", "request entity too large");
    /// The body's `Content-Type` is not one this endpoint takes.
    UnsupportedMediaType => (UNSUPPORTED_MEDIA_TYPE, "unsupported_media_type", "unsupported media type");
    /// The body is JSON but not what the endpoint takes (not an envelope).
    UnprocessableContent => (UNPROCESSABLE_ENTITY, "unprocessable_content", "unprocessable content");
    /// Something failed inside the node.
    Internal => (INTERNAL_SERVER_ERROR, "internal", "internal error");
    /// The node is shutting down or the store is unavailable.
    Unavailable => (SERVICE_UNAVAILABLE, "unavailable", "service unavailable");
    /// The caller's token (anonymous: its address) sent more requests than
    /// the rate limit allows; `Retry-After` says when to try again.
    RateLimited => (TOO_MANY_REQUESTS, "rate_limited", "too many requests");
    /// The node already handles its maximum of concurrent requests (load
    /// shedding); `Retry-After` says when to try again.
    Overloaded => (SERVICE_UNAVAILABLE, "overloaded", "server overloaded");
    /// The request took longer than the node's request timeout.
    Timeout => (SERVICE_UNAVAILABLE, "timeout", "request timed out");
}

/// An error answer: a code and a lowercase message naming what was wrong
/// (the parameter, the header, the field).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ApiError {
    /// The stable code.
    pub code: ErrorCode,
    /// What was wrong, for people; never reveals objects the caller may
    /// not read.
    pub message: String,
}

impl ApiError {
    /// An error with `code` and `message`.
    pub fn new(code: ErrorCode, message: impl Into<String>) -> Self {
        ApiError { code, message: message.into() }
    }

    /// A malformed parameter (400).
    pub fn parameter(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::InvalidParameter, message)
    }

    /// Not found (404), or not readable by the caller: the same answer.
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(ErrorCode::NotFound, message)
    }

    /// An internal failure (500); `message` is logged, not shown.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        tracing::error!(error = %message, "internal error");
        Self::new(ErrorCode::Internal, "internal error; see the node's log")
    }

    /// The TAXII 2.1 error object (§3.6.1) as JSON.
    pub fn taxii_body(&self) -> serde_json::Value {
        serde_json::json!({
            "title": self.code.title(),
            "description": self.message,
            "error_code": self.code.code(),
            "http_status": self.code.http_status().as_u16().to_string(),
        })
    }

    /// The answer on TAXII routes: the TAXII error object, the TAXII
    /// media type, and `WWW-Authenticate` on 401.
    pub fn into_taxii_response(self) -> Response {
        let body = self.taxii_body().to_string();
        let mut response = (self.code.http_status(), body).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_CONTENT_TYPE));
        if self.code == ErrorCode::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"phalanx\", charset=\"UTF-8\""));
        }
        response.extensions_mut().insert(self.code);
        response
    }

    /// The rendering for a request to `path`: the TAXII error object under
    /// `/taxii2`, plain JSON elsewhere (for layers that answer before any
    /// route was chosen).
    pub fn into_response_for(self, path: &str) -> Response {
        if path.starts_with("/taxii2") { self.into_taxii_response() } else { self.into_response() }
    }

    /// The plain JSON rendering for non-TAXII routes:
    /// `{"message", "code", "type", "http_status"}`.
    pub fn json_body(&self) -> serde_json::Value {
        serde_json::json!({
            "message": self.message,
            "code": self.code.code(),
            "type": if self.code.http_status().is_server_error() { "internal" } else { "invalid_request" },
            "http_status": self.code.http_status().as_u16(),
        })
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code.code(), self.message)
    }
}

impl std::error::Error for ApiError {}

/// Non-TAXII routes answer errors as plain JSON.
impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut response = (self.code.http_status(), self.json_body().to_string()).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
        if self.code == ErrorCode::Unauthorized {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Basic realm=\"phalanx\", charset=\"UTF-8\""));
        }
        response.extensions_mut().insert(self.code);
        response
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::InvalidQuery(message) => ApiError::parameter(message),
            other => ApiError::internal(other),
        }
    }
}

/// An [`ApiError`] rendered as a TAXII error object: the error type of
/// TAXII handlers.
#[derive(Debug)]
pub struct TaxiiError(pub ApiError);

impl From<ApiError> for TaxiiError {
    fn from(e: ApiError) -> Self {
        TaxiiError(e)
    }
}

impl From<StoreError> for TaxiiError {
    fn from(e: StoreError) -> Self {
        TaxiiError(e.into())
    }
}

impl IntoResponse for TaxiiError {
    fn into_response(self) -> Response {
        self.0.into_taxii_response()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn codes_are_unique_snake_case_and_map_to_errors() {
        let mut seen = HashSet::new();
        for code in ErrorCode::ALL {
            assert!(seen.insert(code.code()), "duplicate {}", code.code());
            assert!(code.code().chars().all(|c| c.is_ascii_lowercase() || c == '_'));
            assert!(code.http_status().is_client_error() || code.http_status().is_server_error());
            assert_eq!(code.title(), code.title().to_lowercase());
        }
    }

    #[test]
    fn taxii_error_object_has_string_status_equal_to_http_code() {
        let e = ApiError::not_found("collection not found");
        let body = e.taxii_body();
        assert_eq!(body["http_status"], "404");
        assert_eq!(body["title"], "not found");
        let r = ApiError::new(ErrorCode::Unauthorized, "x").into_taxii_response();
        assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(r.headers()[header::CONTENT_TYPE], TAXII_CONTENT_TYPE);
        assert!(r.headers().contains_key(header::WWW_AUTHENTICATE));
    }
}
