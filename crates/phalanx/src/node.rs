//! Opening a node's data directory, `phalanx init`, and acting as a user.

use crate::Finished;
use anyhow::{Context, bail};
use phalanx_labels::{Organisation, Rank};
use phalanx_model::{StixId, Timestamp};
use phalanx_store::registry::hex;
use phalanx_store::{Actor, OrganisationRecord, Registry, Role, SqliteStore, Store, TokenRecord, UserRecord};
use sha2::{Digest, Sha256};
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

/// A new API token secret and its stored record. The secret is shown once.
pub fn new_token(user_id: &str, expires: Option<Timestamp>) -> anyhow::Result<(String, TokenRecord)> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| anyhow::anyhow!("no randomness for a token: {e}"))?;
    let secret = format!("phx_{}", hex(&bytes));
    let record = TokenRecord {
        id: format!("tok_{}", &hex(&Sha256::digest(secret.as_bytes()))[..12]),
        user_id: user_id.to_owned(),
        secret_hash: hash_token(&secret),
        created: Timestamp::now(6),
        expires,
        revoked: None,
    };
    Ok((secret, record))
}

/// The stored form of a token secret.
pub fn hash_token(secret: &str) -> String {
    hex(&Sha256::digest(secret.as_bytes()))
}

/// `phalanx init`.
pub fn init(data: &Path, args: InitArgs) -> anyhow::Result<Finished> {
    let store = SqliteStore::open(data).with_context(|| format!("cannot create the store in {}", data.display()))?;
    if let Some(org) = store.setting(NODE_ORG_SETTING)? {
        println!("{} is already initialised (node organisation {org})", data.display());
        return Ok(Finished::Ok);
    }
    if let Some(c) = &args.country {
        if !phalanx_labels::is_alpha3(c) {
            bail!("--country: '{c}' is not an ISO 3166 alpha-3 code (three upper-case letters)");
        }
    }
    let org_id = StixId::new_v4("identity").to_string();
    let mut org = Organisation::new(org_id.clone());
    org.country = args.country.clone();
    org.memberships = args.member_of.iter().map(|m| m.trim().to_owned()).filter(|m| !m.is_empty()).collect();
    let now = Timestamp::now(3);
    store.put_organisation(&OrganisationRecord { org, name: args.org_name.clone(), kind: "node-operator".into(), created: now })?;
    let admin = UserRecord {
        id: format!("user--{}", uuid::Uuid::new_v4()),
        name: ADMIN_USER.into(),
        org_id: org_id.clone(),
        role: Role::NodeAdmin,
        clearance: Rank::Unclassified,
        briefed: BTreeSet::new(),
        caveats: BTreeSet::new(),
        password_hash: None,
        created: now,
        disabled: false,
    };
    store.put_user(&admin)?;
    let (secret, token) = new_token(&admin.id, None)?;
    store.put_token(&token)?;
    store.set_setting(NODE_ORG_SETTING, &org_id)?;
    store.audit("cli", "init", &org_id, &serde_json::json!({"organisation": args.org_name}))?;
    store.audit("cli", "token-created", ADMIN_USER, &serde_json::json!({"token": token.id}))?;
    seed_definitions(&store, &admin)?;
    println!("initialised {} for organisation '{}' ({org_id})", data.display(), args.org_name);
    println!("admin user '{ADMIN_USER}' (node-admin, not cleared for classified data); its API token:");
    println!("{secret}");
    Ok(Finished::Ok)
}

/// Stores the Phalanx label extension-definition and the identity that
/// publishes it, so that exports can carry them.
fn seed_definitions(store: &SqliteStore, admin: &UserRecord) -> anyhow::Result<()> {
    let actor = store.actor(admin, None)?;
    let objects = [phalanx_labels::phalanx_identity(), phalanx_labels::extension_definition()];
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
