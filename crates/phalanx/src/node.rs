//! Opening a node's data directory, `phalanx init`, and acting as a user.

use crate::Finished;
use anyhow::{Context, bail};
use phalanx_auth::identity::{OrganisationInput, RegisterError, organisation_record, register_user};
use phalanx_auth::register_organisation;
use phalanx_labels::Rank;
use phalanx_model::Timestamp;
use phalanx_store::{Actor, Registry, Role, SqliteStore, Store, UserRecord};
use std::collections::BTreeSet;
use std::path::Path;

/// Settings key holding the node's own organisation id.
pub const NODE_ORG_SETTING: &str = "node_organisation";
/// Name of the admin user that `init` creates.
pub const ADMIN_USER: &str = "admin";

/// Arguments of `phalanx init`.
#[derive(clap::Args, Debug)]
pub struct InitArgs {
    /// Name of the organisation that runs this node.
    #[arg(long, default_value = "Phalanx node")]
    pub org_name: String,
    /// Its country (ISO 3166 alpha-3).
    #[arg(long)]
    pub country: Option<String>,
    /// Its memberships, comma-separated (EU, NATO, ...).
    #[arg(long, value_delimiter = ',')]
    pub member_of: Vec<String>,
}

/// Opens the store of an initialised node.
pub fn open_store(data: &Path) -> anyhow::Result<SqliteStore> {
    if !data.join("phalanx.sqlite").exists() {
        bail!("{} is not a phalanx data directory: run `phalanx init --data {}` first", data.display(), data.display());
    }
    SqliteStore::open(data).with_context(|| format!("cannot open the store in {}", data.display()))
}

/// `phalanx init`.
pub fn init(data: &Path, args: InitArgs) -> anyhow::Result<Finished> {
    let store = SqliteStore::open(data).with_context(|| format!("cannot create the store in {}", data.display()))?;
    if let Some(org) = store.setting(NODE_ORG_SETTING)? {
        println!("{} is already initialised (node organisation {org})", data.display());
        return Ok(Finished::Ok);
    }
    let input = OrganisationInput {
        name: &args.org_name,
        country: args.country.as_deref(),
        member_of: &args.member_of,
        parent: None,
        kind: Some("node-operator"),
    };
    let record = organisation_record(&store, &input).map_err(|e| input_error(e, "org-name"))?;
    let org_id = record.org.id.clone();
    store.audit("cli", "init", &org_id, &serde_json::json!({"organisation": record.name}))?;
    register_organisation(&store, &record, &org_id, "cli", "builtin").map_err(|e| input_error(e, "org-name"))?;
    let admin = UserRecord {
        id: format!("user--{}", uuid::Uuid::new_v4()),
        name: ADMIN_USER.into(),
        org_id: org_id.clone(),
        role: Role::NodeAdmin,
        clearance: Rank::Unclassified,
        briefed: BTreeSet::new(),
        caveats: BTreeSet::new(),
        password_hash: None,
        created: Timestamp::now(3),
        disabled: false,
    };
    register_user(&store, &admin, "cli")?;
    let (secret, _) = phalanx_auth::issue_token(&store, &admin, None, "cli")?;
    store.set_setting(NODE_ORG_SETTING, &org_id)?;
    seed_definitions(&store, &admin)?;
    println!("initialised {} for organisation '{}' ({org_id})", data.display(), record.name);
    println!("admin user '{ADMIN_USER}' (node-admin, not cleared for classified data); its API token:");
    println!("{secret}");
    Ok(Finished::Ok)
}

/// An error of `phalanx-auth`'s input checks as the command line shows it:
/// the field as a flag (`--country: ...`). `name_flag` is the flag that
/// gives the name in this command (`name`, or `org-name` for `init`).
pub fn input_error(e: RegisterError, name_flag: &str) -> anyhow::Error {
    match e {
        RegisterError::Input(i) => {
            let flag = match i.field {
                "name" => name_flag,
                "password" => "password-stdin",
                other => other,
            };
            anyhow::anyhow!("--{flag}: {}", i.message)
        }
        RegisterError::Store(s) => anyhow::Error::new(s),
    }
}

/// The node's own organisation id (set by `init`).
pub fn node_organisation(store: &SqliteStore) -> anyhow::Result<String> {
    store.setting(NODE_ORG_SETTING)?.context("the node has no organisation: run `phalanx init`")
}

/// Stores the Phalanx label extension-definition, the identity that
/// publishes it and the rapid-response extension-definitions, so that
/// exports and TAXII carry them, also for objects received from peers.
fn seed_definitions(store: &SqliteStore, admin: &UserRecord) -> anyhow::Result<()> {
    let actor = store.actor(admin, None)?;
    let mut objects = vec![phalanx_labels::phalanx_identity(), phalanx_labels::extension_definition()];
    objects.extend(phalanx_response::stix::extension_definitions());
    let mut txn = store.begin()?;
    for value in objects {
        let parsed = phalanx_model::StixObject::from_value(value, "$")
            .map_err(|e| anyhow::anyhow!("built-in definition is invalid: {e}"))?;
        let json = parsed.object.to_json_string();
        let label = phalanx_labels::Label::unclassified(phalanx_labels::Tlp::Clear)
            .with_originator(Some(actor.org_id().to_owned()));
        txn.put(phalanx_store::NewVersion { object: &parsed.object, json: &json, label: &label, origin: "builtin" })?;
    }
    txn.commit()?;
    Ok(())
}

/// The actor for `--as USER` (default: the node's admin user).
pub fn actor(store: &SqliteStore, name: Option<&str>) -> anyhow::Result<Actor> {
    let name = name.unwrap_or(ADMIN_USER);
    let Some(user) = store.find_user(name)? else {
        bail!("--as: no user named '{name}' on this node (see `phalanx user list`)");
    };
    if user.disabled {
        bail!("--as: user '{name}' is disabled");
    }
    Ok(store.actor(&user, None)?)
}
