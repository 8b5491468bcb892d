//! `phalanx token new` and `phalanx token revoke`.

use crate::Finished;
use crate::node::{actor, open_store};
use anyhow::bail;
use phalanx_auth::authz::may_manage_tokens_of;
use phalanx_auth::token::find_token;
use phalanx_auth::{issue_token, revoke_token};
use phalanx_model::Timestamp;
use phalanx_store::Registry;
use std::path::Path;

/// Longest token lifetime accepted, in days (ten years).
const MAX_DAYS: u32 = 3650;

/// `phalanx token` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum TokenCommand {
    /// Make an API token for a user; prints it, alone, on the last line.
    New(TokenNewArgs),
    /// Revoke an API token by its id (`tok_...`, see `phalanx user list`).
    Revoke(TokenRevokeArgs),
}

/// Arguments of `phalanx token new`.
#[derive(clap::Args, Debug)]
pub struct TokenNewArgs {
    /// Act as this user (default: the node's admin user): the user itself,
    /// a node-admin, or an org-admin of its organisation.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// The user the token is for, by name.
    #[arg(long)]
    pub user: String,
    /// Days until the token expires (default: never).
    #[arg(long)]
    pub expires_in: Option<u32>,
}

/// Arguments of `phalanx token revoke`.
#[derive(clap::Args, Debug)]
pub struct TokenRevokeArgs {
    /// Act as this user (default: the node's admin user): the token's user,
    /// a node-admin, or an org-admin of its organisation.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// The token's id (`tok_...`), not its secret.
    pub token_id: String,
}

/// Runs a `token` subcommand.
pub fn run(data: &Path, command: TokenCommand) -> anyhow::Result<Finished> {
    match command {
        TokenCommand::New(args) => new(data, args),
        TokenCommand::Revoke(args) => revoke(data, args),
    }
}

fn new(data: &Path, args: TokenNewArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let actor = actor(&store, args.as_user.as_deref())?;
    let expires = match args.expires_in {
        None => None,
        Some(d) if d == 0 || d > MAX_DAYS => bail!("--expires-in: {d} is not a number of days from 1 to {MAX_DAYS}"),
        Some(d) => Some(Timestamp::from_unix_micros(Timestamp::now(6).unix_micros() + i64::from(d) * 86_400_000_000)),
    };
    let Some(user) = store.users()?.into_iter().find(|u| u.name == args.user) else {
        bail!("--user: no user named '{}' (see `phalanx user list`)", args.user.chars().take(64).collect::<String>());
    };
    if !may_manage_tokens_of(&actor, &user) {
        bail!("--as: user '{}' may not make tokens for '{}'", actor.user.name, user.name);
    }
    if user.disabled {
        bail!("--user: user '{}' is disabled", user.name);
    }
    let (secret, token) = issue_token(&store, &user, expires, &actor.audit_name())?;
    println!(
        "API token {} for user '{}', expires {} (shown once, not stored):",
        token.id,
        user.name,
        token.expires.map(|e| e.to_string()).unwrap_or_else(|| "never".into())
    );
    println!("{secret}");
    Ok(Finished::Ok)
}

fn revoke(data: &Path, args: TokenRevokeArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let actor = actor(&store, args.as_user.as_deref())?;
    if phalanx_auth::token::looks_like_token(&args.token_id) {
        bail!("TOKEN_ID: give the token's id (tok_..., see `phalanx user list`), not its secret");
    }
    let found = find_token(&store, &args.token_id)?;
    let Some((_, user)) = found.filter(|(t, _)| t.revoked.is_none()) else {
        return Err(phalanx_auth::AuthError::NoSuchToken(args.token_id.chars().take(64).collect()).into());
    };
    if !may_manage_tokens_of(&actor, &user) {
        bail!("--as: user '{}' may not revoke tokens of '{}'", actor.user.name, user.name);
    }
    let (token, user) = revoke_token(&store, &args.token_id, &actor.audit_name())?;
    println!("revoked token {} of user '{}'", token.id, user.name);
    Ok(Finished::Ok)
}
