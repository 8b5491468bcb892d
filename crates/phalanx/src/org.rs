//! `phalanx org add` and `phalanx org list`.

use crate::Finished;
use crate::node::{actor, input_error, node_organisation, open_store};
use anyhow::bail;
use phalanx_auth::authz::may_add_organisation;
use phalanx_auth::identity::{OrganisationInput, organisation_record};
use phalanx_auth::register_organisation;
use phalanx_store::Registry;
use std::path::Path;

/// `phalanx org` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum OrgCommand {
    /// Register an organisation; prints its `identity--` id on the last line.
    Add(OrgAddArgs),
    /// List the organisations of the node.
    List(OrgListArgs),
}

/// Arguments of `phalanx org add`.
#[derive(clap::Args, Debug)]
pub struct OrgAddArgs {
    /// Act as this user (default: the node's admin user); must be a node-admin.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Display name, unique on the node (case-insensitive).
    #[arg(long)]
    pub name: String,
    /// Country, ISO 3166 alpha-3 (LTU, DEU, ...).
    #[arg(long)]
    pub country: Option<String>,
    /// Memberships, comma-separated: EU, NATO, or communities the node defines.
    #[arg(long, value_delimiter = ',')]
    pub member_of: Vec<String>,
    /// Parent organisation, by name or id (a national CSIRT is the parent
    /// of its constituents, the clients of TLP:AMBER).
    #[arg(long)]
    pub parent: Option<String>,
    /// Kind: national-authority, national-csirt, sectoral-csirt, government,
    /// military, law-enforcement, eu-body, nato-body, partner, isac,
    /// private-sector, academia, node-operator or other (the default).
    #[arg(long)]
    pub kind: Option<String>,
    /// Its id (`identity--<uuid>`) when it is already known in the
    /// federation (a partner registered on its own node); default: a new id.
    #[arg(long)]
    pub id: Option<String>,
}

/// Arguments of `phalanx org list`.
#[derive(clap::Args, Debug)]
pub struct OrgListArgs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
}

/// Runs an `org` subcommand.
pub fn run(data: &Path, command: OrgCommand) -> anyhow::Result<Finished> {
    match command {
        OrgCommand::Add(args) => add(data, args),
        OrgCommand::List(args) => list(data, args),
    }
}

fn add(data: &Path, args: OrgAddArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let actor = actor(&store, args.as_user.as_deref())?;
    if !may_add_organisation(&actor) {
        bail!(
            "--as: user '{}' has the role {} and may not register organisations (node-admin only)",
            actor.user.name,
            actor.user.role
        );
    }
    let input = OrganisationInput {
        name: &args.name,
        country: args.country.as_deref(),
        member_of: &args.member_of,
        parent: args.parent.as_deref(),
        kind: args.kind.as_deref(),
    };
    let mut record = organisation_record(&store, &input).map_err(|e| input_error(e, "name"))?;
    if let Some(id) = &args.id {
        if !phalanx_labels::is_identity_id(id) {
            bail!("--id: '{id}' is not an identity id (identity--<uuid>)");
        }
        if store.find_organisation(id)?.is_some() {
            bail!("--id: an organisation with id {id} is already registered");
        }
        record.org.id = id.clone();
    }
    let originator = node_organisation(&store)?;
    register_organisation(&store, &record, &originator, &actor.audit_name(), &actor.origin())
        .map_err(|e| input_error(e, "name"))?;
    println!(
        "registered organisation '{}' ({}; country {}; member of {}; parent {})",
        record.name,
        record.kind,
        record.org.country.as_deref().unwrap_or("-"),
        join_or_dash(record.org.memberships.iter()),
        record.org.parent.as_deref().unwrap_or("-"),
    );
    println!("{}", record.org.id);
    Ok(Finished::Ok)
}

fn list(data: &Path, args: OrgListArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    actor(&store, args.as_user.as_deref())?;
    let orgs = store.organisations()?;
    println!("ID\tNAME\tKIND\tCOUNTRY\tMEMBER-OF\tPARENT");
    for o in &orgs {
        let parent = o.org.parent.as_deref().map(|p| {
            orgs.iter().find(|x| x.org.id == p).map(|x| x.name.clone()).unwrap_or_else(|| p.to_owned())
        });
        println!(
            "{}\t{}\t{}\t{}\t{}\t{}",
            o.org.id,
            o.name,
            o.kind,
            o.org.country.as_deref().unwrap_or("-"),
            join_or_dash(o.org.memberships.iter()),
            parent.as_deref().unwrap_or("-"),
        );
    }
    Ok(Finished::Ok)
}

/// Items joined by `,`, or `-` when there are none.
pub fn join_or_dash<'a>(items: impl Iterator<Item = &'a String>) -> String {
    let v: Vec<&str> = items.map(String::as_str).collect();
    if v.is_empty() { "-".to_owned() } else { v.join(",") }
}
