//! `GET /api/v1/objects/{id}/related`: correlations of an object with the
//! objects the caller may read (same value, CIDR containment, parent
//! domain or subdomain), computed by the store inside its query under the
//! caller's read rule (`phalanx_store::Store::related`). A value shared
//! by more than the node's bound of readable objects is listed as too
//! common instead of fanning out.

use super::{json_response, no_parameters};
use crate::auth::Caller;
use crate::error::ApiError;
use crate::{AppState, blocking};
use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::http::StatusCode;
use axum::response::Response;
use phalanx_store::{LinkReason, Query, Related};
use serde::Serialize;
use utoipa::ToSchema;

/// The store setting holding the "too common" bound N.
pub const TOO_COMMON_SETTING: &str = "correlation_too_common";

/// The bound when the node sets none.
pub const DEFAULT_TOO_COMMON: usize = 100;

/// One correlation value of the object.
#[derive(Debug, Serialize, ToSchema)]
pub struct CorrelationValue {
    /// `ipv4`, `ipv4-cidr`, `ipv6`, `ipv6-cidr`, `domain`, `url`, `email`, `md5`, `sha1`, `sha256`, `sha512` or `ssdeep`.
    pub kind: String,
    /// The value in normal form.
    pub value: String,
}

/// A link to an object the caller may read.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedLink {
    /// The other object's id.
    pub id: String,
    /// Its STIX type.
    #[serde(rename = "type")]
    pub object_type: String,
    /// `same-value`, `within-cidr` (its block contains this object's value),
    /// `contains-cidr` (this object's block contains its value),
    /// `parent-domain` or `subdomain`.
    #[schema(example = "same-value")]
    pub reason: String,
    /// The kind of value.
    pub kind: String,
    /// This object's value.
    pub value: String,
    /// The other object's value.
    pub other_value: String,
}

/// A value too many readable objects share to be followed.
#[derive(Debug, Serialize, ToSchema)]
pub struct TooCommonValue {
    /// The kind of value.
    pub kind: String,
    /// The value.
    pub value: String,
    /// The kind of link not followed.
    pub reason: String,
}

/// The correlations of one object.
#[derive(Debug, Serialize, ToSchema)]
pub struct RelatedView {
    /// The object.
    pub id: String,
    /// Its correlation values.
    pub values: Vec<CorrelationValue>,
    /// The objects it correlates with.
    pub links: Vec<RelatedLink>,
    /// Values shared by more than `too_common_bound` readable objects.
    pub too_common: Vec<TooCommonValue>,
    /// The bound N of this node.
    pub too_common_bound: usize,
}

fn reason(r: LinkReason) -> String {
    serde_json::to_value(r).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

/// The view of what the store found.
pub fn view(id: String, related: Related, bound: usize) -> RelatedView {
    RelatedView {
        id,
        values: related.values.into_iter().map(|(kind, value)| CorrelationValue { kind, value }).collect(),
        links: related
            .links
            .into_iter()
            .map(|l| RelatedLink { id: l.id, object_type: l.object_type, reason: reason(l.reason), kind: l.kind, value: l.value, other_value: l.other_value })
            .collect(),
        too_common: related.too_common.into_iter().map(|t| TooCommonValue { kind: t.kind, value: t.value, reason: reason(t.reason) }).collect(),
        too_common_bound: bound,
    }
}

/// The node's "too common" bound (setting [`TOO_COMMON_SETTING`]).
pub fn too_common_bound(store: &dyn phalanx_store::Store) -> Result<usize, phalanx_store::StoreError> {
    Ok(store.setting(TOO_COMMON_SETTING)?.and_then(|v| v.parse().ok()).unwrap_or(DEFAULT_TOO_COMMON))
}

/// An object's correlations with objects the caller may read.
///
/// Links by the same value, CIDR containment (both ways) and parent
/// domain or subdomain, from the values of observables, the equality and
/// ISSUBSET tests of indicator patterns, and (for sightings) the values of
/// the sighted indicator. Only objects the caller may read are linked or
/// counted; a value more than the node's bound of them share is listed as
/// too common.
#[utoipa::path(
    get, path = "/api/v1/objects/{id}/related", tag = "objects",
    params(("id" = String, Path, description = "The STIX id", pattern = r"^[a-z0-9-]+--[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", example = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f")),
    responses(
        (status = 200, description = "The object's correlations", body = RelatedView),
        (status = 400, description = "The id is malformed, or a parameter was given (none are taken)", body = super::openapi::ErrorBody),
        (status = 401, description = "The credentials do not authenticate", body = super::openapi::ErrorBody),
        (status = 404, description = "No such object, or none the caller may read", body = super::openapi::ErrorBody),
    ),
    security((), ("basic" = []), ("bearer" = []))
)]
pub async fn related(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let id = phalanx_model::StixId::parse(&id).map(|i| i.to_string()).map_err(|e| ApiError::parameter(format!("id: {e}")))?;
    no_parameters(raw.as_deref())?;
    let store = state.store().clone();
    let subject = caller.subject.clone();
    let actor = caller.actor.clone();
    let object_id = id.clone();
    let found = blocking(&state, move || {
        let bound = too_common_bound(store.as_ref())?;
        let Some(related) = store.related(&subject, &object_id, bound)? else { return Ok(None) };
        // The linked objects' ids and types leave the node: audited like reads.
        if let Some(actor) = &actor {
            let ids: Vec<String> = related.links.iter().map(|l| l.id.clone()).collect();
            for chunk in ids.chunks(500) {
                let page = store.query(&subject, &Query { ids: chunk.to_vec(), ..Query::default() })?;
                phalanx_auth::audit_reads(store.as_ref(), actor, &page.objects, "rest")?;
            }
        }
        Ok(Some((related, bound)))
    })
    .await?;
    let Some((related, bound)) = found else { return Err(ApiError::not_found(format!("object: no object {id}"))) };
    json_response(StatusCode::OK, &view(id, related, bound))
}
