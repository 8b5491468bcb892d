//! `POST /api/v1/labels/preview`: who could read an object under a given
//! label, and for those who could not, the rule that refuses them
//! (`phalanx_labels::explain_read`, the same function the read rule is).

use super::objects::LabelView;
use super::{json_response, parse_body, signed_in};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::{AppState, blocking};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use phalanx_labels::{
    DenyReason, Label, LabelDefaults, MarkingDefinitionRef, Reader, Subject, explain_read, label_from_object,
};
use phalanx_store::{OrganisationRecord, Registry, Role, Store};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use utoipa::ToSchema;

/// Most marking references in one preview.
const MAX_MARKING_REFS: usize = 100;

/// A label to preview: a Phalanx label, or marking references (exactly one).
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct PreviewRequest {
    /// A Phalanx label: `policy`, `classification`, and optionally
    /// `releasable_to`, `caveats`, `tlp`, `pap`, `exercise`, `originator`
    /// (default: the caller's organisation).
    #[serde(default)]
    #[schema(value_type = Option<Object>)]
    pub label: Option<serde_json::Value>,
    /// Marking-definition ids as in `object_marking_refs` (TLP and stored
    /// Phalanx label markings).
    #[serde(default)]
    pub marking_refs: Option<Vec<String>>,
}

/// Why a reader is refused: the first rule of spec §3 that fails.
#[derive(Debug, Serialize, ToSchema)]
pub struct Refusal {
    /// The rule's number (1 classification, 2 releasability, 3 caveats,
    /// 4 TLP audience, 5 context).
    pub rule: u8,
    /// The rule and what failed.
    pub reason: String,
}

impl Refusal {
    fn of(reason: &DenyReason) -> Self {
        Refusal { rule: reason.rule(), reason: reason.to_string() }
    }
}

/// Whether one organisation's users could read it (given the clearance,
/// briefing and caveats the label asks for: rules 2, 4 and 5 decide).
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationPreview {
    /// The organisation's id.
    pub id: String,
    /// Its name.
    pub name: String,
    /// Whether a suitably cleared user of it could read it.
    pub can_read: bool,
    /// Why not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<Refusal>,
}

/// Whether one user could read it, as that user is now.
#[derive(Debug, Serialize, ToSchema)]
pub struct UserPreview {
    /// The user's id.
    pub id: String,
    /// Login name.
    pub name: String,
    /// The user's organisation id.
    pub organisation: String,
    /// Whether the user could read it (a disabled user reads nothing).
    pub can_read: bool,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// The rule that refuses the user, when one does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub refused_by: Option<Refusal>,
}

/// The preview.
#[derive(Debug, Serialize, ToSchema)]
pub struct PreviewAnswer {
    /// The label as resolved and checked.
    pub label: LabelView,
    /// Every organisation of this node.
    pub organisations: Vec<OrganisationPreview>,
    /// Every user within the caller's reach (administrators only; absent
    /// for others).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub users: Option<Vec<UserPreview>>,
}

fn invalid(message: String) -> ApiError {
    ApiError::new(ErrorCode::InvalidBody, message)
}

/// The label a request names, checked (an invalid one is a 400 naming
/// the field).
fn resolve_label(
    store: &dyn Store,
    request: PreviewRequest,
    caller_org: &str,
    node_default_tlp: Option<phalanx_labels::Tlp>,
) -> Result<Label, ApiError> {
    let label = match (request.label, request.marking_refs) {
        (Some(_), Some(_)) | (None, None) => {
            return Err(invalid("body: give exactly one of label and marking_refs".into()));
        }
        (Some(value), None) => {
            let mut label: Label =
                serde_json::from_value(value).map_err(|e| invalid(format!("body: label: {e}")))?;
            if label.originator.is_none() {
                label.originator = Some(caller_org.to_owned());
            }
            label
        }
        (None, Some(refs)) => {
            if refs.len() > MAX_MARKING_REFS {
                return Err(invalid(format!("body: marking_refs: more than {MAX_MARKING_REFS} references")));
            }
            let definitions: HashMap<String, serde_json::Value> = store
                .marking_definitions()?
                .into_iter()
                .filter_map(|d| Some((d.get("id")?.as_str()?.to_owned(), d)))
                .collect();
            let resolve = |id: &str| definitions.get(id).cloned().map(MarkingDefinitionRef::Definition);
            let mut object = serde_json::Map::new();
            object.insert("object_marking_refs".into(), serde_json::json!(refs));
            let defaults = LabelDefaults { tlp: node_default_tlp.unwrap_or(LabelDefaults::default().tlp), label: None };
            let read = label_from_object(&object, &resolve, &defaults)
                .map_err(|e| invalid(format!("body: marking_refs: {e}")))?;
            read.label.with_originator(Some(caller_org.to_owned()))
        }
    };
    label.validate().map_err(|e| invalid(format!("body: label: {e}")))?;
    Ok(label)
}

/// A reader of `org` holding everything `label` asks of a user (clearance,
/// briefing, caveats, its context): what is left to decide is the
/// organisation's part of the rule.
fn cleared_reader(org: &OrganisationRecord, orgs: &[OrganisationRecord], label: &Label) -> Subject {
    let parent_org = org.org.parent.as_ref().and_then(|p| orgs.iter().find(|o| &o.org.id == p)).map(|o| o.org.clone());
    Subject::User(Reader {
        org: org.org.clone(),
        parent_org,
        clearance: label.classification,
        briefed: BTreeSet::from([label.policy.clone()]),
        caveats: label.caveats.clone(),
        context: label.exercise.clone(),
    })
}

/// Preview who could read an object under a label.
///
/// For each organisation of this node: could its users, cleared and
/// briefed as the label asks, read it (rules 2, 4, 5)? For
/// administrators also each user within reach, as that user is now. A
/// refusal names the rule. The label is checked first: an invalid policy
/// and classification pair, token or marking is a 400 naming it.
#[utoipa::path(
    post, path = "/api/v1/labels/preview", tag = "labels",
    request_body(content = PreviewRequest, content_type = "application/json"),
    responses(
        (status = 200, description = "Who could read it", body = PreviewAnswer),
        (status = 400, description = "The label is invalid (the message names the field)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn preview(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = signed_in(&caller)?.clone();
    let request: PreviewRequest = parse_body(&headers, &body, "preview")?;
    let store = state.store().clone();
    let default_tlp = state.config().default_tlp;
    let answer = blocking(&state, move || {
        let label = resolve_label(store.as_ref(), request, actor.org_id(), default_tlp)?;
        let orgs = store.organisations()?;
        let organisations = orgs
            .iter()
            .map(|o| {
                let decision = explain_read(&cleared_reader(o, &orgs, &label), &label);
                OrganisationPreview {
                    id: o.org.id.clone(),
                    name: o.name.clone(),
                    can_read: decision.is_ok(),
                    refused_by: decision.err().as_ref().map(Refusal::of),
                }
            })
            .collect();
        let users = if matches!(actor.user.role, Role::NodeAdmin | Role::OrgAdmin) {
            let mut list = Vec::new();
            for user in store.users()?.into_iter().filter(|u| phalanx_auth::authz::may_see_user(&actor, u)) {
                let subject = Registry::actor(store.as_ref(), &user, label.exercise.clone())?.subject;
                let decision = explain_read(&subject, &label);
                list.push(UserPreview {
                    id: user.id.clone(),
                    name: user.name.clone(),
                    organisation: user.org_id.clone(),
                    can_read: decision.is_ok() && !user.disabled,
                    disabled: user.disabled,
                    refused_by: decision.err().as_ref().map(Refusal::of),
                });
            }
            Some(list)
        } else {
            None
        };
        tracing::debug!(user = %actor.user.name, label = %label.access_key(), "label preview");
        Ok(PreviewAnswer { label: LabelView::of(&label), organisations, users })
    })
    .await?;
    json_response(StatusCode::OK, &answer)
}
