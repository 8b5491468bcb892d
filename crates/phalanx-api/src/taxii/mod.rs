//! TAXII 2.1 (OASIS Standard, 10 June 2021): discovery at `/taxii2/`, one
//! API root at `/taxii2/root/` with its status resources and collections.
//!
//! Every TAXII route passes through [`guard`], which refuses an `Accept`
//! without a TAXII 2.1 media range (406), resolves the caller from the
//! `Authorization` header (401 for bad credentials; none = anonymous), and
//! gives every response, errors included, the TAXII media type.

pub mod collections;
mod handlers;
pub mod params;
pub mod status;

use crate::AppState;
use crate::auth::resolve_caller;
use crate::error::{ApiError, ErrorCode, TAXII_CONTENT_TYPE};
use crate::media::accepts_taxii;
use axum::Router;
use axum::extract::{Request, State};
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use axum::routing::get;

/// The discovery URL (MUST be at the server root, §8.2.1).
pub const DISCOVERY_PATH: &str = "/taxii2/";
/// The default (and only) API root.
pub const API_ROOT_PATH: &str = "/taxii2/root/";

/// The TAXII routes, guarded.
pub fn router(state: AppState) -> Router<AppState> {
    use handlers as h;
    Router::new()
        .route("/taxii2/", get(h::discovery))
        .route("/taxii2/root/", get(h::api_root))
        .route("/taxii2/root/status/{status_id}/", get(h::status))
        .route("/taxii2/root/collections/", get(h::collections))
        .route("/taxii2/root/collections/{collection}/", get(h::collection))
        .route("/taxii2/root/collections/{collection}/manifest/", get(h::manifest))
        .route("/taxii2/root/collections/{collection}/objects/", get(h::objects).post(h::add_objects))
        .route("/taxii2/root/collections/{collection}/objects/{object}/", get(h::object).delete(h::delete_object))
        .route("/taxii2/root/collections/{collection}/objects/{object}/versions/", get(h::versions))
        // A panicking handler answers a TAXII 500 (inside the guard, which
        // then sets the TAXII media type).
        .route_layer(tower_http::catch_panic::CatchPanicLayer::custom(|_: Box<dyn std::any::Any + Send>| {
            ApiError::internal("a taxii handler panicked").into_taxii_response()
        }))
        .route_layer(axum::middleware::from_fn_with_state(state, guard))
}

/// Middleware of every TAXII route: Accept (406), caller (401), and the
/// TAXII `Content-Type` on the response.
async fn guard(State(state): State<AppState>, mut request: Request, next: Next) -> Response {
    let accept = request.headers().get(header::ACCEPT).map(|v| v.to_str().unwrap_or("\u{0}"));
    if !accepts_taxii(accept) {
        return ApiError::new(
            ErrorCode::NotAcceptable,
            "accept: this endpoint serves only application/taxii+json;version=2.1",
        )
        .into_taxii_response();
    }
    let caller = match resolve_caller(&state, request.headers().get(header::AUTHORIZATION)).await {
        Ok(caller) => caller,
        Err(e) => return e.into_taxii_response(),
    };
    request.extensions_mut().insert(caller);
    let mut response = next.run(request).await;
    if response.status() == StatusCode::METHOD_NOT_ALLOWED && !response.headers().contains_key(header::CONTENT_TYPE) {
        let allow = response.headers().get(header::ALLOW).cloned();
        response = ApiError::new(ErrorCode::MethodNotAllowed, "method: not served on this resource").into_taxii_response();
        if let Some(allow) = allow {
            response.headers_mut().insert(header::ALLOW, allow);
        }
    }
    response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(TAXII_CONTENT_TYPE));
    response
}
