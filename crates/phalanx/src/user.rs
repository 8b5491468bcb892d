//! `phalanx user add` and `phalanx user list`.

use crate::Finished;
use crate::node::{actor, input_error, open_store};
use crate::org::join_or_dash;
use anyhow::{Context, bail};
use phalanx_auth::authz::{may_add_user, may_see_user};
use phalanx_auth::identity::{UserInput, check_password, register_user, user_record};
use phalanx_auth::{hash_password, issue_token};
use phalanx_store::Registry;
use std::io::Read;
use std::path::Path;

/// `phalanx user` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum UserCommand {
    /// Create a user; prints a new API token, alone, on the last line.
    Add(UserAddArgs),
    /// List users and their tokens (never their secrets).
    List(UserListArgs),
}

/// Arguments of `phalanx user add`.
#[derive(clap::Args, Debug)]
pub struct UserAddArgs {
    /// Act as this user (default: the node's admin user): a node-admin, or
    /// an org-admin of ORG.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// The user's organisation, by name or id.
    #[arg(long)]
    pub org: String,
    /// Login name, unique on the node.
    #[arg(long)]
    pub name: String,
    /// viewer (the default), analyst, responder, coordinator, org-admin or node-admin.
    #[arg(long)]
    pub role: Option<String>,
    /// UNCLASSIFIED (the default), RESTRICTED, CONFIDENTIAL, SECRET or TOP_SECRET.
    #[arg(long)]
    pub clearance: Option<String>,
    /// Policies the user is briefed for, comma-separated: EU, NATO, NATIONAL:XXX.
    #[arg(long, value_delimiter = ',')]
    pub briefed: Vec<String>,
    /// A caveat the user holds (repeat for several).
    #[arg(long = "caveat")]
    pub caveats: Vec<String>,
    /// Read a password for the web UI from standard input (first line).
    #[arg(long)]
    pub password_stdin: bool,
}

/// Arguments of `phalanx user list`.
#[derive(clap::Args, Debug)]
pub struct UserListArgs {
    /// Act as this user (default: the node's admin user). A node-admin sees
    /// every user, an org-admin its organisation's, anyone else itself.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
}

/// Runs a `user` subcommand.
pub fn run(data: &Path, command: UserCommand) -> anyhow::Result<Finished> {
    match command {
        UserCommand::Add(args) => add(data, args),
        UserCommand::List(args) => list(data, args),
    }
}

/// The first line of standard input, without its line end.
fn read_password() -> anyhow::Result<String> {
    let mut text = String::new();
    std::io::stdin()
        .take(64 * 1024)
        .read_to_string(&mut text)
        .context("--password-stdin: cannot read standard input")?;
    let line = text.split('\n').next().unwrap_or_default();
    Ok(line.strip_suffix('\r').unwrap_or(line).to_owned())
}

fn add(data: &Path, args: UserAddArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let actor = actor(&store, args.as_user.as_deref())?;
    let input = UserInput {
        org: &args.org,
        name: &args.name,
        role: args.role.as_deref(),
        clearance: args.clearance.as_deref(),
        briefed: &args.briefed,
        caveats: &args.caveats,
    };
    let mut user = user_record(&store, &input).map_err(|e| input_error(e, "name"))?;
    if !may_add_user(&actor, &user.org_id, user.role) {
        bail!(
            "--as: user '{}' has the role {} and may not create a {} of that organisation \
             (node-admin, or org-admin of the user's organisation up to org-admin)",
            actor.user.name,
            actor.user.role,
            user.role
        );
    }
    if args.password_stdin {
        let password = read_password()?;
        check_password(&password).map_err(|e| anyhow::anyhow!("--password-stdin: the password {}", e.message))?;
        user.password_hash = Some(hash_password(&password)?);
    }
    register_user(&store, &user, &actor.audit_name())?;
    let (secret, token) = issue_token(&store, &user, None, &actor.audit_name())?;
    let org = store.find_organisation(&user.org_id)?.map(|o| o.name).unwrap_or_else(|| user.org_id.clone());
    println!(
        "created user '{}' of '{}' ({}, clearance {}, briefed {}, caveats {}, password {})",
        user.name,
        org,
        user.role,
        user.clearance,
        join_or_dash(user.briefed.iter().map(|p| p.to_string()).collect::<Vec<_>>().iter()),
        join_or_dash(user.caveats.iter()),
        if user.password_hash.is_some() { "set" } else { "none" },
    );
    println!("API token {} (shown once, not stored):", token.id);
    println!("{secret}");
    Ok(Finished::Ok)
}

fn list(data: &Path, args: UserListArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let actor = actor(&store, args.as_user.as_deref())?;
    let orgs = store.organisations()?;
    println!("NAME\tORGANISATION\tROLE\tCLEARANCE\tBRIEFED\tCAVEATS\tPASSWORD\tSTATUS");
    for user in store.users()?.into_iter().filter(|u| may_see_user(&actor, u)) {
        let org = orgs.iter().find(|o| o.org.id == user.org_id).map(|o| o.name.as_str()).unwrap_or(&user.org_id);
        let briefed: Vec<String> = user.briefed.iter().map(|p| p.to_string()).collect();
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
            user.name,
            org,
            user.role,
            user.clearance,
            join_or_dash(briefed.iter()),
            join_or_dash(user.caveats.iter()),
            if user.password_hash.is_some() { "yes" } else { "no" },
            if user.disabled { "disabled" } else { "active" },
        );
        for t in store.tokens_of(&user.id)? {
            println!(
                "  token {}\tcreated {}\texpires {}\trevoked {}",
                t.id,
                t.created,
                t.expires.map(|e| e.to_string()).unwrap_or_else(|| "never".into()),
                t.revoked.map(|e| e.to_string()).unwrap_or_else(|| "no".into()),
            );
        }
    }
    Ok(Finished::Ok)
}
