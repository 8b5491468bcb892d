//! The REST API under `/api/v1`: objects (search, get, versions,
//! relations, write), statistics, administration of organisations, users
//! and tokens, the label preview, the OpenAPI 3.1 document
//! (`/api/v1/openapi.json`) and the API page (`/api/v1/docs`).
//!
//! Every route passes through [`guard`]: it resolves the caller from the
//! `Authorization` header (401 for bad credentials, anonymous without),
//! and answers an unserved method with the JSON error of the table. Every
//! error is `{"code", "message", "type", "http_status"}` from
//! [`crate::error::ErrorCode`]. Handlers pass the caller's subject to the
//! store, which applies the read rule inside the query.

pub mod admin;
pub mod docs;
pub mod labels;
pub mod objects;
pub mod openapi;
pub mod params;
pub mod related;
pub mod response;

use crate::AppState;
use crate::auth::{Caller, resolve_caller};
use crate::error::{ApiError, ErrorCode};
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde::Serialize;
use serde::de::DeserializeOwned;

/// The REST routes, guarded.
pub fn router(state: AppState) -> Router<AppState> {
    Router::new()
        .route("/api/v1/objects", get(objects::search).post(objects::add))
        .route("/api/v1/objects/{id}", get(objects::object))
        .route("/api/v1/objects/{id}/versions", get(objects::versions))
        .route("/api/v1/objects/{id}/relations", get(objects::relations))
        .route("/api/v1/objects/{id}/related", get(related::related))
        .route("/api/v1/stats", get(objects::stats))
        .route("/api/v1/organisations", get(admin::organisations).post(admin::add_organisation))
        .route("/api/v1/organisations/{id}", get(admin::organisation))
        .route("/api/v1/users", get(admin::users).post(admin::add_user))
        .route("/api/v1/users/{id}", get(admin::user))
        .route("/api/v1/users/{id}/disable", post(admin::disable_user))
        .route("/api/v1/tokens", get(admin::tokens).post(admin::issue))
        .route("/api/v1/tokens/{id}/revoke", post(admin::revoke))
        .route("/api/v1/labels/preview", post(labels::preview))
        .route("/api/v1/incidents", get(response::incidents).post(response::open_incident))
        .route("/api/v1/incidents/{id}", get(response::incident).patch(response::update_incident))
        .route("/api/v1/incidents/{id}/status", post(response::incident_status))
        .route("/api/v1/incidents/{id}/timeline", post(response::incident_timeline))
        .route("/api/v1/assistance-requests", get(response::requests).post(response::open_request))
        .route("/api/v1/assistance-requests/{id}", get(response::request))
        .route("/api/v1/assistance-requests/{id}/transitions", post(response::transition))
        .route("/api/v1/assistance-requests/{id}/team", post(response::add_team_member))
        .route("/api/v1/experts", get(response::experts).post(response::add_expert))
        .route("/api/v1/offers", post(response::offer))
        .route("/api/v1/tasks", get(response::tasks).post(response::add_task))
        .route("/api/v1/tasks/{id}", axum::routing::patch(response::update_task))
        .route("/api/v1/openapi.json", get(openapi::document))
        .route("/api/v1/docs", get(docs::page))
        .route_layer(axum::middleware::from_fn_with_state(state, guard))
}

/// Middleware of every REST route: the caller (401 on bad credentials),
/// and JSON errors for methods a path does not serve.
async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let caller = match resolve_caller(&state, request.headers().get(header::AUTHORIZATION)).await {
        Ok(caller) => caller,
        Err(e) => return e.into_response(),
    };
    request.extensions_mut().insert(caller);
    let response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(header::CONTENT_TYPE) {
        let allow = response.headers().get(header::ALLOW).cloned();
        let mut e = ApiError::new(ErrorCode::MethodNotAllowed, "method: not served on this resource").into_response();
        if let Some(allow) = allow {
            e.headers_mut().insert(header::ALLOW, allow);
        }
        return e;
    }
    response
}

/// A JSON answer with `status`.
pub(crate) fn json_response<T: Serialize>(status: StatusCode, value: &T) -> Result<Response, ApiError> {
    let body = serde_json::to_string(value).map_err(ApiError::internal)?;
    Ok(json_text(status, body))
}

/// A JSON answer from text already serialised.
pub(crate) fn json_text(status: StatusCode, body: String) -> Response {
    let mut r = (status, body).into_response();
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

/// The signed-in actor, or 401.
pub(crate) fn signed_in(caller: &Caller) -> Result<&phalanx_store::Actor, ApiError> {
    caller
        .actor
        .as_ref()
        .ok_or_else(|| ApiError::new(ErrorCode::Unauthorized, "authorization: this endpoint needs a signed-in user"))
}

/// Checks that a request body is declared JSON (415 otherwise).
pub(crate) fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let content_type = headers.get(header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    let essence = content_type.split(';').next().unwrap_or("").trim().to_ascii_lowercase();
    if essence == "application/json" || (essence.starts_with("application/") && essence.ends_with("+json")) {
        Ok(())
    } else {
        Err(ApiError::new(ErrorCode::UnsupportedMediaType, "content-type: must be application/json"))
    }
}

/// Parses a JSON request body into `T`; the error names the body and, where
/// serde knows it, the field.
pub(crate) fn parse_body<T: DeserializeOwned>(headers: &HeaderMap, bytes: &Bytes, what: &str) -> Result<T, ApiError> {
    require_json(headers)?;
    let value: serde_json::Value = phalanx_model::strict::parse_value(bytes)
        .map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("body: not valid json: {e}")))?;
    serde_json::from_value(value).map_err(|e| ApiError::new(ErrorCode::InvalidBody, format!("body: {what}: {e}")))
}

/// Refuses a query string on endpoints that take no parameters.
pub(crate) fn no_parameters(raw: Option<&str>) -> Result<(), ApiError> {
    match crate::taxii::params::parse_query(raw)?.into_iter().next() {
        None => Ok(()),
        Some((name, _)) => Err(ApiError::parameter(format!(
            "{}: not a parameter of this endpoint (it takes none)",
            params::short(&name)
        ))),
    }
}
