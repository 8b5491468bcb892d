//! The OpenAPI 3.1 document of `/api/v1`, generated from the handlers'
//! `#[utoipa::path]` annotations and the response types, served at
//! `/api/v1/openapi.json`. The health check (in `lib.rs`) is described
//! here by a stub operation; the live event stream is annotated in
//! `crate::stream`; the document covers every `/api/v1` route.

use super::{admin, labels, objects, related, response};
use crate::error::{ApiError, ErrorCode};
use axum::http::StatusCode;
use axum::response::Response;
use serde::Serialize;
use std::sync::OnceLock;
use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

/// Every error answer: a stable code from the one table, with its status.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    /// What was wrong, naming the parameter, field or header.
    pub message: String,
    /// The stable code (see the table in the API description).
    #[schema(example = "invalid_parameter")]
    pub code: String,
    /// `invalid_request` (4xx) or `internal` (5xx).
    #[serde(rename = "type")]
    pub error_type: String,
    /// The HTTP status, as a number.
    pub http_status: u16,
}

/// One event of `GET /api/v1/stream` (`text/event-stream`), as tools that
/// read an event stream see it: its fields, `data` being JSON text.
#[derive(Debug, Serialize, ToSchema)]
pub struct StreamEvent {
    /// The cursor to resume after (`Last-Event-ID`); absent on events
    /// that are not object versions (`deadline.overdue`, `error`).
    pub id: Option<String>,
    /// `created`, `updated`, `revoked`, `alert`, `deadline.overdue` or `error`.
    pub event: String,
    /// For a version: `{"date_added", "object", "events"}` as JSON text.
    pub data: String,
}

/// The health answer.
#[derive(Debug, Serialize, ToSchema)]
pub struct Health {
    /// `ok`.
    pub status: String,
    /// The node's version.
    pub version: String,
}

/// Node health: 200 when the store answers.
#[utoipa::path(
    get, path = "/api/v1/health", tag = "node",
    responses(
        (status = 200, description = "The store answers", body = Health),
        (status = 503, description = "The store is unavailable", body = ErrorBody),
    ),
    security(())
)]
#[allow(dead_code)]
fn health_doc() {}

/// The OpenAPI document (JSON).
#[utoipa::path(
    get, path = "/api/v1/openapi.json", tag = "node",
    responses((status = 200, description = "This document", content_type = "application/json", body = Object)),
    security(())
)]
#[allow(dead_code)]
fn openapi_doc() {}

/// The API page (HTML, generated from this document).
#[utoipa::path(
    get, path = "/api/v1/docs", tag = "node",
    responses((status = 200, description = "The API page", content_type = "text/html", body = String)),
    security(())
)]
#[allow(dead_code)]
fn docs_doc() {}

/// Adds the security schemes: HTTP Basic (user name and API token) and
/// Bearer (the API token).
struct SecuritySchemes;

impl Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "basic",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Basic)
                    .description(Some("User name, and an API token as the password"))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                Http::builder()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("phx_ + 64 hex digits")
                    .description(Some("An API token"))
                    .build(),
            ),
        );
    }
}

/// The document's description: the API in a few lines, and the error table.
fn description() -> String {
    let mut text = String::from(
        "The REST API of a Phalanx node: STIX 2.1 objects under security labels. \
         Every answer is filtered by the read rule inside the store query: an object the caller may \
         not read is answered exactly like a missing one (404). Without credentials a caller is \
         anonymous and reads only public data (TLP:CLEAR, unclassified, releasable to all).\n\n\
         Every error is a JSON object `{\"message\", \"code\", \"type\", \"http_status\"}`; the codes are stable:\n\n\
         | code | HTTP status | meaning |\n|---|---|---|\n",
    );
    for code in ErrorCode::ALL {
        text.push_str(&format!("| `{}` | {} | {} |\n", code.code(), code.http_status().as_u16(), code.title()));
    }
    text
}

#[derive(OpenApi)]
#[openapi(
    info(title = "Phalanx REST API", version = "1"),
    paths(
        objects::search,
        objects::add,
        objects::object,
        objects::versions,
        objects::relations,
        related::related,
        objects::stats,
        admin::organisations,
        admin::add_organisation,
        admin::organisation,
        admin::users,
        admin::add_user,
        admin::user,
        admin::disable_user,
        admin::tokens,
        admin::issue,
        admin::revoke,
        labels::preview,
        response::incidents,
        response::open_incident,
        response::incident,
        response::update_incident,
        response::incident_status,
        response::incident_timeline,
        response::requests,
        response::open_request,
        response::request,
        response::transition,
        response::add_team_member,
        response::experts,
        response::add_expert,
        response::offer,
        response::tasks,
        response::add_task,
        response::update_task,
        health_doc,
        crate::stream::stream_events,
        openapi_doc,
        docs_doc,
    ),
    components(schemas(ErrorBody)),
    modifiers(&SecuritySchemes),
    tags(
        (name = "objects", description = "STIX objects under the read rule"),
        (name = "admin", description = "Organisations, users and tokens"),
        (name = "labels", description = "Who could read what"),
        (name = "response", description = "Incidents, assistance requests, the roster and tasks"),
        (name = "stream", description = "Live events"),
        (name = "node", description = "Health and this documentation"),
    )
)]
struct ApiDoc;

/// The OpenAPI document, built once.
pub fn document_value() -> &'static serde_json::Value {
    static DOC: OnceLock<serde_json::Value> = OnceLock::new();
    DOC.get_or_init(|| {
        let mut doc = ApiDoc::openapi();
        doc.info.description = Some(description());
        doc.info.version = env!("CARGO_PKG_VERSION").to_owned();
        serde_json::to_value(&doc).unwrap_or_else(|e| {
            tracing::error!(error = %e, "the OpenAPI document does not serialise");
            serde_json::json!({})
        })
    })
}

/// `GET /api/v1/openapi.json`.
pub async fn document(axum::extract::RawQuery(raw): axum::extract::RawQuery) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    super::json_response(StatusCode::OK, document_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_document_is_openapi_31_and_covers_every_route() {
        let doc = document_value();
        assert!(doc["openapi"].as_str().is_some_and(|v| v.starts_with("3.1")), "{}", doc["openapi"]);
        let paths = doc["paths"].as_object().expect("paths");
        for path in [
            "/api/v1/objects",
            "/api/v1/objects/{id}",
            "/api/v1/objects/{id}/versions",
            "/api/v1/objects/{id}/relations",
            "/api/v1/stats",
            "/api/v1/organisations",
            "/api/v1/organisations/{id}",
            "/api/v1/users",
            "/api/v1/users/{id}",
            "/api/v1/users/{id}/disable",
            "/api/v1/tokens",
            "/api/v1/tokens/{id}/revoke",
            "/api/v1/labels/preview",
            "/api/v1/incidents",
            "/api/v1/incidents/{id}",
            "/api/v1/incidents/{id}/status",
            "/api/v1/incidents/{id}/timeline",
            "/api/v1/assistance-requests",
            "/api/v1/assistance-requests/{id}",
            "/api/v1/assistance-requests/{id}/transitions",
            "/api/v1/assistance-requests/{id}/team",
            "/api/v1/experts",
            "/api/v1/offers",
            "/api/v1/tasks",
            "/api/v1/tasks/{id}",
            "/api/v1/health",
            "/api/v1/stream",
            "/api/v1/openapi.json",
            "/api/v1/docs",
        ] {
            assert!(paths.contains_key(path), "{path} is not documented");
        }
        assert!(paths["/api/v1/objects"].get("post").is_some());
        let schemes = &doc["components"]["securitySchemes"];
        assert_eq!(schemes["basic"]["scheme"], "basic");
        assert_eq!(schemes["bearer"]["scheme"], "bearer");
        let error = &doc["components"]["schemas"]["ErrorBody"];
        for field in ["message", "code", "type", "http_status"] {
            assert!(error["properties"].get(field).is_some(), "ErrorBody.{field}");
        }
        // Each stream event is described as its fields (event-stream tools
        // check every event against this schema), not as one string.
        let event = &doc["paths"]["/api/v1/stream"]["get"]["responses"]["200"]["content"]["text/event-stream"]["schema"];
        assert_eq!(event["$ref"], "#/components/schemas/StreamEvent", "{event}");
        let fields = &doc["components"]["schemas"]["StreamEvent"];
        assert_eq!(fields["type"], "object");
        assert_eq!(fields["required"], serde_json::json!(["event", "data"]), "{fields}");
        let description = doc["info"]["description"].as_str().unwrap_or_default();
        for code in ErrorCode::ALL {
            assert!(description.contains(&format!("`{}`", code.code())), "{} missing from the error table", code.code());
        }
    }

    #[test]
    fn the_error_schema_matches_what_errors_render() {
        let rendered = ApiError::parameter("limit: bad").json_body();
        let keys: Vec<&str> = rendered.as_object().unwrap().keys().map(String::as_str).collect();
        let doc = document_value();
        let props = doc["components"]["schemas"]["ErrorBody"]["properties"].as_object().unwrap();
        let mut documented: Vec<&str> = props.keys().map(String::as_str).collect();
        let mut rendered_keys = keys.clone();
        documented.sort();
        rendered_keys.sort();
        assert_eq!(documented, rendered_keys);
    }
}
