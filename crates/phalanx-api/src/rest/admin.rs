//! Administration over REST: organisations, users and tokens, through the
//! same `phalanx-auth` functions and rights as the CLI (`phalanx org`,
//! `user`, `token`), audited alike.
//!
//! Rights (`phalanx_auth::authz`): organisations are listed by
//! administrators (node-admin, org-admin) and registered by node-admins;
//! users are listed, read and disabled by a node-admin (any user) or an
//! org-admin (its organisation's), created as `may_add_user` allows;
//! tokens: everyone lists, issues and revokes its own, a node-admin anyone's,
//! an org-admin its organisation's. Anyone else gets `forbidden`.

use super::{json_response, parse_body, signed_in};
use crate::auth::Caller;
use crate::error::{ApiError, ErrorCode};
use crate::{AppState, blocking};
use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use phalanx_auth::authz::{may_add_organisation, may_add_user, may_manage_tokens_of, may_see_user};
use phalanx_auth::identity::{OrganisationInput, RegisterError, UserInput, organisation_record, register_user, user_record};
use phalanx_auth::{AuthError, issue_token, register_organisation, revoke_token};
use phalanx_model::Timestamp;
use phalanx_store::{Actor, OrganisationRecord, Role, TokenRecord, UserRecord};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// The setting that names the node's own organisation (`phalanx init`).
const NODE_ORG_SETTING: &str = "node_organisation";
/// Longest token lifetime accepted, in days (ten years), as the CLI.
const MAX_TOKEN_DAYS: u32 = 3650;

/// An organisation of this node.
#[derive(Debug, Serialize, ToSchema)]
pub struct OrganisationView {
    /// Its `identity--` id.
    pub id: String,
    /// Display name.
    pub name: String,
    /// Kind (national-csirt, military, ...).
    pub kind: String,
    /// ISO 3166 alpha-3 country, or null.
    pub country: Option<String>,
    /// Memberships (EU, NATO, communities).
    pub memberships: Vec<String>,
    /// Parent organisation id, or null.
    pub parent: Option<String>,
    /// When it was registered.
    pub created: String,
}

impl OrganisationView {
    fn of(o: &OrganisationRecord) -> Self {
        OrganisationView {
            id: o.org.id.clone(),
            name: o.name.clone(),
            kind: o.kind.clone(),
            country: o.org.country.clone(),
            memberships: o.org.memberships.iter().cloned().collect(),
            parent: o.org.parent.clone(),
            created: o.created.to_string(),
        }
    }
}

/// A user of this node (never its password hash).
#[derive(Debug, Serialize, ToSchema)]
pub struct UserView {
    /// Its `user--` id.
    pub id: String,
    /// Login name.
    pub name: String,
    /// Its organisation's id.
    pub organisation: String,
    /// viewer, analyst, responder, coordinator, org-admin or node-admin.
    pub role: String,
    /// Clearance rank name.
    pub clearance: String,
    /// Policies briefed for.
    pub briefed: Vec<String>,
    /// Caveats held.
    pub caveats: Vec<String>,
    /// Whether a web password is set.
    pub password_set: bool,
    /// Whether the account is disabled.
    pub disabled: bool,
    /// When it was created.
    pub created: String,
}

impl UserView {
    fn of(u: &UserRecord) -> Self {
        UserView {
            id: u.id.clone(),
            name: u.name.clone(),
            organisation: u.org_id.clone(),
            role: u.role.as_str().to_owned(),
            clearance: u.clearance.as_str().to_owned(),
            briefed: u.briefed.iter().map(|p| p.to_string()).collect(),
            caveats: u.caveats.iter().cloned().collect(),
            password_set: u.password_hash.is_some(),
            disabled: u.disabled,
            created: u.created.to_string(),
        }
    }
}

/// An API token (never its secret).
#[derive(Debug, Serialize, ToSchema)]
pub struct TokenView {
    /// Its public id (`tok_...`).
    pub id: String,
    /// The user's id.
    pub user: String,
    /// When it was made.
    pub created: String,
    /// When it expires, or null for never.
    pub expires: Option<String>,
    /// When it was revoked, or null.
    pub revoked: Option<String>,
}

impl TokenView {
    fn of(t: &TokenRecord) -> Self {
        TokenView {
            id: t.id.clone(),
            user: t.user_id.clone(),
            created: t.created.to_string(),
            expires: t.expires.map(|e| e.to_string()),
            revoked: t.revoked.map(|e| e.to_string()),
        }
    }
}

/// A token just made: the secret is shown this once and never stored.
#[derive(Debug, Serialize, ToSchema)]
pub struct IssuedToken {
    /// The token.
    pub token: TokenView,
    /// The secret (`phx_` + 64 hex digits): use it as a Bearer token or
    /// as the Basic password.
    pub secret: String,
}

/// A user just created, with its first token.
#[derive(Debug, Serialize, ToSchema)]
pub struct CreatedUser {
    /// The user.
    pub user: UserView,
    /// Its first API token.
    pub token: IssuedToken,
}

/// A new organisation.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewOrganisation {
    /// Display name, unique on the node.
    pub name: String,
    /// ISO 3166 alpha-3 country.
    #[serde(default)]
    pub country: Option<String>,
    /// Memberships: EU, NATO, or communities the node defines.
    #[serde(default)]
    pub member_of: Vec<String>,
    /// Parent organisation, by name or id.
    #[serde(default)]
    pub parent: Option<String>,
    /// Kind (default `other`).
    #[serde(default)]
    pub kind: Option<String>,
}

/// A new user.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewUser {
    /// The user's organisation, by name or id.
    pub organisation: String,
    /// Login name, unique on the node.
    pub name: String,
    /// Role (default viewer).
    #[serde(default)]
    pub role: Option<String>,
    /// Clearance (default UNCLASSIFIED).
    #[serde(default)]
    pub clearance: Option<String>,
    /// Policies briefed for: EU, NATO, NATIONAL:XXX.
    #[serde(default)]
    pub briefed: Vec<String>,
    /// Caveats held.
    #[serde(default)]
    pub caveats: Vec<String>,
}

/// A token to issue.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewToken {
    /// The user the token is for, by name or id (default: the caller).
    #[serde(default)]
    pub user: Option<String>,
    /// Days until it expires, 1 to 3650 (default: never).
    #[serde(default)]
    #[schema(minimum = 1, maximum = 3650)]
    pub expires_in_days: Option<u32>,
}

fn forbidden(actor: &Actor, what: &str) -> ApiError {
    ApiError::new(
        ErrorCode::Forbidden,
        format!("user '{}': the role {} may not {what}", actor.user.name, actor.user.role),
    )
}

fn is_admin(actor: &Actor) -> bool {
    matches!(actor.user.role, Role::NodeAdmin | Role::OrgAdmin)
}

fn register_error(e: RegisterError) -> ApiError {
    match e {
        RegisterError::Input(input) => ApiError::new(ErrorCode::InvalidBody, format!("body: {}: {}", input.field, input.message)),
        RegisterError::Store(store) => store.into(),
    }
}

fn auth_error(e: AuthError) -> ApiError {
    match e {
        AuthError::NoSuchToken(id) => ApiError::not_found(format!("token: no live token '{id}'")),
        AuthError::Store(store) => store.into(),
        other => ApiError::internal(other),
    }
}

/// The signed-in caller, if it is an administrator.
fn admin(caller: &Caller, what: &str) -> Result<Actor, ApiError> {
    let actor = signed_in(caller)?;
    if !is_admin(actor) {
        return Err(forbidden(actor, what));
    }
    Ok(actor.clone())
}

/// List the organisations of this node (administrators).
#[utoipa::path(
    get, path = "/api/v1/organisations", tag = "admin",
    responses(
        (status = 200, description = "The organisations", body = Vec<OrganisationView>),
        (status = 400, description = "A parameter was given (none are taken)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not an administrator", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn organisations(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    admin(&caller, "list organisations")?;
    let store = state.store().clone();
    let orgs = blocking(&state, move || Ok(store.organisations()?)).await?;
    json_response(StatusCode::OK, &orgs.iter().map(OrganisationView::of).collect::<Vec<_>>())
}

/// One organisation, by id or name (administrators).
#[utoipa::path(
    get, path = "/api/v1/organisations/{id}", tag = "admin",
    params(("id" = String, Path, description = "The organisation's id or name")),
    responses(
        (status = 200, description = "The organisation", body = OrganisationView),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not an administrator", body = super::openapi::ErrorBody),
        (status = 404, description = "No such organisation", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn organisation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    admin(&caller, "read organisations")?;
    let store = state.store().clone();
    let key = id.clone();
    let found = blocking(&state, move || Ok(store.find_organisation(&key)?)).await?;
    match found {
        Some(o) => json_response(StatusCode::OK, &OrganisationView::of(&o)),
        None => Err(ApiError::not_found(format!("organisation: no organisation '{}'", super::params::short(&id)))),
    }
}

/// Register an organisation (node-admin): its registry record and its STIX
/// identity, audited `org-created`.
#[utoipa::path(
    post, path = "/api/v1/organisations", tag = "admin",
    request_body(content = NewOrganisation, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered", body = OrganisationView),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not a node-admin", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn add_organisation(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = signed_in(&caller)?.clone();
    if !may_add_organisation(&actor) {
        return Err(forbidden(&actor, "register organisations (node-admin only)"));
    }
    let input: NewOrganisation = parse_body(&headers, &body, "organisation")?;
    let store = state.store().clone();
    let record = blocking(&state, move || {
        let org_input = OrganisationInput {
            name: &input.name,
            country: input.country.as_deref(),
            member_of: &input.member_of,
            parent: input.parent.as_deref(),
            kind: input.kind.as_deref(),
        };
        let record = organisation_record(store.as_ref(), &org_input).map_err(register_error)?;
        let originator = store
            .setting(NODE_ORG_SETTING)?
            .ok_or_else(|| ApiError::internal("the node has no organisation setting"))?;
        register_organisation(store.as_ref(), &record, &originator, &actor.audit_name(), &actor.origin())
            .map_err(register_error)?;
        tracing::info!(user = %actor.user.name, organisation = %record.org.id, "rest organisation registered");
        Ok(record)
    })
    .await?;
    state.notify_committed();
    json_response(StatusCode::CREATED, &OrganisationView::of(&record))
}

/// List users (node-admin: all; org-admin: its organisation's).
#[utoipa::path(
    get, path = "/api/v1/users", tag = "admin",
    responses(
        (status = 200, description = "The users", body = Vec<UserView>),
        (status = 400, description = "A parameter was given (none are taken)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not an administrator", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn users(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    let actor = admin(&caller, "list users")?;
    let store = state.store().clone();
    let users = blocking(&state, move || Ok(store.users()?)).await?;
    let views: Vec<UserView> = users.iter().filter(|u| may_see_user(&actor, u)).map(UserView::of).collect();
    json_response(StatusCode::OK, &views)
}

/// The user `key` (id or name) if `actor` may manage it, else 404.
async fn managed_user(state: &AppState, actor: &Actor, key: &str) -> Result<UserRecord, ApiError> {
    let store = state.store().clone();
    let owned = key.to_owned();
    let found = blocking(state, move || Ok(store.find_user(&owned)?)).await?;
    found
        .filter(|u| may_see_user(actor, u))
        .ok_or_else(|| ApiError::not_found(format!("user: no user '{}'", super::params::short(key))))
}

/// One user, by id or name (administrators, within their reach).
#[utoipa::path(
    get, path = "/api/v1/users/{id}", tag = "admin",
    params(("id" = String, Path, description = "The user's id or name")),
    responses(
        (status = 200, description = "The user", body = UserView),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not an administrator", body = super::openapi::ErrorBody),
        (status = 404, description = "No such user within the caller's reach", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = admin(&caller, "read users")?;
    let user = managed_user(&state, &actor, &id).await?;
    json_response(StatusCode::OK, &UserView::of(&user))
}

/// Create a user and its first API token (audited `user-created`,
/// `token-created`); the secret is shown once.
#[utoipa::path(
    post, path = "/api/v1/users", tag = "admin",
    request_body(content = NewUser, content_type = "application/json"),
    responses(
        (status = 201, description = "Created", body = CreatedUser),
        (status = 400, description = "A field is invalid (the message names it)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller may not create this user", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn add_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = admin(&caller, "create users")?;
    let input: NewUser = parse_body(&headers, &body, "user")?;
    let store = state.store().clone();
    let (user, secret, token) = blocking(&state, move || {
        let user_input = UserInput {
            org: &input.organisation,
            name: &input.name,
            role: input.role.as_deref(),
            clearance: input.clearance.as_deref(),
            briefed: &input.briefed,
            caveats: &input.caveats,
        };
        let user = user_record(store.as_ref(), &user_input).map_err(|e| match e {
            RegisterError::Input(i) if i.field == "org" => {
                ApiError::new(ErrorCode::InvalidBody, format!("body: organisation: {}", i.message))
            }
            other => register_error(other),
        })?;
        if !may_add_user(&actor, &user.org_id, user.role) {
            return Err(forbidden(&actor, &format!("create a {} of that organisation", user.role)));
        }
        register_user(store.as_ref(), &user, &actor.audit_name())?;
        let (secret, token) = issue_token(store.as_ref(), &user, None, &actor.audit_name()).map_err(auth_error)?;
        tracing::info!(user = %actor.user.name, created = %user.name, "rest user created");
        Ok((user, secret, token))
    })
    .await?;
    let body = CreatedUser { user: UserView::of(&user), token: IssuedToken { token: TokenView::of(&token), secret } };
    json_response(StatusCode::CREATED, &body)
}

/// Disable a user (node-admin, or org-admin of its organisation): its
/// tokens stop authenticating. Audited `user-disabled`.
#[utoipa::path(
    post, path = "/api/v1/users/{id}/disable", tag = "admin",
    params(("id" = String, Path, description = "The user's id or name")),
    responses(
        (status = 200, description = "Disabled (or already disabled)", body = UserView),
        (status = 400, description = "The caller tried to disable itself", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "Not an administrator", body = super::openapi::ErrorBody),
        (status = 404, description = "No such user within the caller's reach", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn disable_user(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = admin(&caller, "disable users")?;
    let mut user = managed_user(&state, &actor, &id).await?;
    if user.id == actor.user.id {
        return Err(ApiError::parameter("id: a user cannot disable itself"));
    }
    if user.role == Role::NodeAdmin && actor.user.role != Role::NodeAdmin {
        return Err(forbidden(&actor, "disable a node-admin"));
    }
    if !user.disabled {
        user.disabled = true;
        let store = state.store().clone();
        let record = user.clone();
        let by = actor.audit_name();
        blocking(&state, move || {
            store.put_user(&record)?;
            store.audit(&by, "user-disabled", &record.name, &serde_json::json!({"id": record.id}))?;
            Ok(())
        })
        .await?;
        tracing::info!(user = %actor.user.name, disabled = %user.name, "rest user disabled");
    }
    json_response(StatusCode::OK, &UserView::of(&user))
}

/// List tokens: the caller's own; an administrator's, every token of the
/// users within its reach.
#[utoipa::path(
    get, path = "/api/v1/tokens", tag = "admin",
    responses(
        (status = 200, description = "The tokens (never their secrets)", body = Vec<TokenView>),
        (status = 400, description = "A parameter was given (none are taken)", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn tokens(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    super::no_parameters(raw.as_deref())?;
    let actor = signed_in(&caller)?.clone();
    let store = state.store().clone();
    let tokens = blocking(&state, move || {
        let users = if is_admin(&actor) {
            store.users()?.into_iter().filter(|u| may_manage_tokens_of(&actor, u)).collect()
        } else {
            vec![actor.user.clone()]
        };
        let mut out = Vec::new();
        for u in &users {
            out.extend(store.tokens_of(&u.id)?.iter().map(TokenView::of));
        }
        Ok(out)
    })
    .await?;
    json_response(StatusCode::OK, &tokens)
}

/// Issue a token (for the caller, or for a user an administrator manages).
/// The secret is in this answer only. Audited `token-created`.
#[utoipa::path(
    post, path = "/api/v1/tokens", tag = "admin",
    request_body(content = NewToken, content_type = "application/json"),
    responses(
        (status = 201, description = "Issued; the secret is shown once", body = IssuedToken),
        (status = 400, description = "A field is invalid", body = super::openapi::ErrorBody),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller may not make tokens for that user", body = super::openapi::ErrorBody),
        (status = 404, description = "No such user", body = super::openapi::ErrorBody),
        (status = 415, description = "The body is not application/json", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn issue(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    headers: HeaderMap,
    body: Bytes,
) -> Result<Response, ApiError> {
    let actor = signed_in(&caller)?.clone();
    let input: NewToken = if body.is_empty() { NewToken::default() } else { parse_body(&headers, &body, "token")? };
    let expires = match input.expires_in_days {
        None => None,
        Some(d) if d == 0 || d > MAX_TOKEN_DAYS => {
            return Err(ApiError::new(
                ErrorCode::InvalidBody,
                format!("body: expires_in_days: {d} is not a number of days from 1 to {MAX_TOKEN_DAYS}"),
            ));
        }
        Some(d) => Some(Timestamp::from_unix_micros(Timestamp::now(6).unix_micros() + i64::from(d) * 86_400_000_000)),
    };
    let user = match &input.user {
        None => actor.user.clone(),
        Some(key) => {
            let store = state.store().clone();
            let owned = key.clone();
            let found = blocking(&state, move || Ok(store.find_user(&owned)?)).await?;
            let Some(user) = found else {
                return Err(ApiError::not_found(format!("user: no user '{}'", super::params::short(key))));
            };
            user
        }
    };
    if !may_manage_tokens_of(&actor, &user) {
        return Err(forbidden(&actor, &format!("make tokens for '{}'", user.name)));
    }
    if user.disabled {
        return Err(ApiError::new(ErrorCode::InvalidBody, format!("body: user: '{}' is disabled", user.name)));
    }
    let store = state.store().clone();
    let by = actor.audit_name();
    let (secret, token) = blocking(&state, move || issue_token(store.as_ref(), &user, expires, &by).map_err(auth_error)).await?;
    tracing::info!(user = %actor.user.name, token = %token.id, "rest token issued");
    json_response(StatusCode::CREATED, &IssuedToken { token: TokenView::of(&token), secret })
}

/// Revoke a token by its id (`tok_...`): the caller's own, or one of a
/// user an administrator manages. Audited `token-revoked`.
#[utoipa::path(
    post, path = "/api/v1/tokens/{id}/revoke", tag = "admin",
    params(("id" = String, Path, description = "The token's id (tok_...), not its secret")),
    responses(
        (status = 200, description = "Revoked", body = TokenView),
        (status = 401, description = "Not signed in", body = super::openapi::ErrorBody),
        (status = 403, description = "The caller may not revoke that token", body = super::openapi::ErrorBody),
        (status = 404, description = "No live token with that id", body = super::openapi::ErrorBody),
    ),
    security(("basic" = []), ("bearer" = []))
)]
pub async fn revoke(
    State(state): State<AppState>,
    Extension(caller): Extension<Caller>,
    Path(id): Path<String>,
) -> Result<Response, ApiError> {
    let actor = signed_in(&caller)?.clone();
    if phalanx_auth::token::looks_like_token(&id) {
        return Err(ApiError::parameter("id: give the token's id (tok_...), not its secret"));
    }
    let store = state.store().clone();
    let token = blocking(&state, move || {
        let found = phalanx_auth::token::find_token(store.as_ref(), &id).map_err(auth_error)?;
        let Some((_, user)) = found.filter(|(t, _)| t.revoked.is_none()) else {
            return Err(ApiError::not_found(format!("token: no live token '{}'", super::params::short(&id))));
        };
        if !may_manage_tokens_of(&actor, &user) {
            // Not the caller's to see: the same answer as a missing token.
            return Err(ApiError::not_found(format!("token: no live token '{}'", super::params::short(&id))));
        }
        let (token, user) = revoke_token(store.as_ref(), &id, &actor.audit_name()).map_err(auth_error)?;
        tracing::info!(user = %actor.user.name, token = %token.id, owner = %user.name, "rest token revoked");
        let mut now = token;
        now.revoked = Some(Timestamp::now(6));
        Ok(now)
    })
    .await?;
    json_response(StatusCode::OK, &TokenView::of(&token))
}
