//! `phalanx keys show|rotate` and `phalanx peer add|list|status|remove`,
//! and starting federation inside `phalanx serve`.

use crate::Finished;
use crate::node::{node_organisation, open_store};
use anyhow::{Context, bail};
use phalanx_federation::keys::{KeyRing, NODE_OWNER};
use phalanx_federation::peers::{PeerInput, add_peer, load_peers};
use phalanx_federation::{Federation, SyncConfig};
use phalanx_model::Timestamp;
use phalanx_store::{Cursor, FederationStore, Registry, SqliteStore};
use std::path::Path;
use std::sync::Arc;

/// `phalanx keys` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum KeysCommand {
    /// Show the node key and the key of each organisation hosted here (created when missing), and the keys learned from peers.
    Show,
    /// Replace a key by a new one (the old one moves to keys/retired/).
    Rotate(RotateArgs),
}

/// Arguments of `phalanx keys rotate`.
#[derive(clap::Args, Debug)]
pub struct RotateArgs {
    /// The organisation (name or id) whose key to rotate; without it, the node key.
    #[arg(long)]
    pub org: Option<String>,
}

/// `phalanx peer` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum PeerCommand {
    /// Add a peer node (or reconfigure one; its sync progress is kept).
    Add(PeerAddArgs),
    /// List the peers and their configuration.
    List,
    /// Sync state per peer: lag, backlog, counts sent, received and refused, last error.
    Status(PeerStatusArgs),
    /// Remove a peer.
    Remove(PeerRemoveArgs),
}

/// Arguments of `phalanx peer add`.
#[derive(clap::Args, Debug)]
pub struct PeerAddArgs {
    /// The peer's name on this node.
    pub name: String,
    /// Its base URL (http://host:port or https://...).
    #[arg(long)]
    pub url: String,
    /// Its node public key (base64, as `phalanx keys show` prints it there).
    #[arg(long)]
    pub key: String,
    /// Organisations reachable through it, by name or id, comma-separated (registered here).
    #[arg(long, value_delimiter = ',', required = true)]
    pub serves: Vec<String>,
    /// Classified policies it is accredited for, comma-separated: EU, NATO, NATIONAL:XXX.
    #[arg(long, value_delimiter = ',')]
    pub accredited: Vec<String>,
    /// Highest classification it may hold: UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET, TOP_SECRET.
    #[arg(long)]
    pub ceiling: String,
    /// Exercises it takes part in, comma-separated.
    #[arg(long, value_delimiter = ',')]
    pub exercises: Vec<String>,
}

/// Arguments of `phalanx peer status`.
#[derive(clap::Args, Debug)]
pub struct PeerStatusArgs {
    /// Print one JSON object per peer instead of a table.
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `phalanx peer remove`.
#[derive(clap::Args, Debug)]
pub struct PeerRemoveArgs {
    /// The peer's name.
    pub name: String,
}

/// The organisations hosted here: the node's own and every organisation
/// with a user on this node.
fn hosted_organisations(store: &SqliteStore) -> anyhow::Result<Vec<String>> {
    let mut orgs = vec![node_organisation(store)?];
    for user in store.users()? {
        if !orgs.contains(&user.org_id) {
            orgs.push(user.org_id);
        }
    }
    Ok(orgs)
}

/// Runs a `keys` subcommand.
pub fn keys(data: &Path, command: KeysCommand) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let ring = KeyRing::open(data)?;
    match command {
        KeysCommand::Show => {
            let node = ring.node();
            println!("node\t{}\t{}", node.key_id, node.public_text());
            let orgs = store.organisations()?;
            for org in hosted_organisations(&store)? {
                let key = ring.org(&org)?;
                let name = orgs.iter().find(|o| o.org.id == org).map(|o| o.name.as_str()).unwrap_or("");
                println!("{org}\t{}\t{}\t{name}", key.key_id, key.public_text());
            }
            for known in store.known_keys()? {
                println!("{}\t{}\t{}\tlearned from {}", known.owner, known.key_id, known.public_key, known.learned_from);
            }
        }
        KeysCommand::Rotate(args) => {
            let owner = match &args.org {
                None => NODE_OWNER.to_owned(),
                Some(given) => match store.find_organisation(given)? {
                    Some(o) if hosted_organisations(&store)?.contains(&o.org.id) => o.org.id,
                    Some(_) => bail!("--org: '{given}' is not hosted on this node (its key is its own node's)"),
                    None => bail!("--org: no organisation '{given}' is registered"),
                },
            };
            let (old, new) = ring.rotate(&owner)?;
            store.audit("cli", "key-rotate", &owner, &serde_json::json!({"old_key_id": old, "new_key_id": new.key_id}))?;
            println!("{owner}\t{}\t{}", new.key_id, new.public_text());
            if owner == NODE_OWNER {
                eprintln!("give the new node key to every peer (`phalanx peer add ... --key`)");
            }
        }
    }
    Ok(Finished::Ok)
}

fn join(items: impl IntoIterator<Item = String>) -> String {
    let list: Vec<String> = items.into_iter().collect();
    if list.is_empty() { "-".to_owned() } else { list.join(",") }
}

fn time_or_dash(t: Option<Timestamp>) -> String {
    t.map(|t| t.to_string()).unwrap_or_else(|| "-".to_owned())
}

/// Runs a `peer` subcommand.
pub fn peer(data: &Path, command: PeerCommand) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    match command {
        PeerCommand::Add(args) => {
            let input = PeerInput {
                name: &args.name,
                url: &args.url,
                key: &args.key,
                serves: &args.serves,
                accredited: &args.accredited,
                ceiling: &args.ceiling,
                exercises: &args.exercises,
            };
            let config = add_peer(&store, &input).map_err(|e| anyhow::anyhow!("--{e}"))?;
            store.audit("cli", "peer-add", &args.name, &serde_json::to_value(&config)?)?;
            println!("peer {} added: {} serving {}", args.name, config.url, config.serves.join(","));
        }
        PeerCommand::List => {
            println!("name\turl\tserves\taccredited\tceiling\texercises");
            for p in load_peers(&store)? {
                println!(
                    "{}\t{}\t{}\t{}\t{}\t{}",
                    p.name,
                    p.config.url,
                    join(p.config.serves.clone()),
                    join(p.config.accredited.iter().map(|a| a.to_string())),
                    p.config.ceiling,
                    join(p.config.exercises.iter().cloned())
                );
            }
        }
        PeerCommand::Status(args) => {
            if !args.json {
                println!("name\tlag_s\tbacklog\tsent\treceived\trefused\tpush_cursor\tpull_cursor\tlast_ok\tlast_error");
            }
            let now = Timestamp::now(6).unix_micros();
            for p in load_peers(&store)? {
                let (backlog, first) = store.release_backlog(&p.scope, Cursor(p.record.push_cursor))?;
                let lag = first.map(|t| ((now - t.unix_micros()).max(0) as f64) / 1e6).unwrap_or(0.0);
                let r = &p.record;
                if args.json {
                    println!(
                        "{}",
                        serde_json::json!({
                            "name": p.name, "lag_seconds": lag, "backlog": backlog, "sent": r.sent,
                            "received": r.received, "refused": r.refused, "push_cursor": r.push_cursor,
                            "pull_cursor": r.pull_cursor, "last_ok": r.last_ok_at.as_ref().map(|t| t.to_string()),
                            "last_error": r.last_error, "last_error_at": r.last_error_at.as_ref().map(|t| t.to_string()),
                        })
                    );
                } else {
                    println!(
                        "{}\t{lag:.3}\t{backlog}\t{}\t{}\t{}\t{}\t{}\t{}\t{}",
                        p.name,
                        r.sent,
                        r.received,
                        r.refused,
                        r.push_cursor,
                        r.pull_cursor,
                        time_or_dash(r.last_ok_at),
                        match (&r.last_error, r.last_error_at) {
                            (Some(e), Some(at)) => format!("{at} {e}"),
                            (Some(e), None) => e.clone(),
                            _ => "-".to_owned(),
                        }
                    );
                }
            }
        }
        PeerCommand::Remove(args) => {
            if !store.remove_peer(&args.name)? {
                bail!("no peer named '{}' (see `phalanx peer list`)", args.name);
            }
            store.audit("cli", "peer-remove", &args.name, &serde_json::json!({}))?;
            println!("peer {} removed", args.name);
        }
    }
    Ok(Finished::Ok)
}

/// Starts federation for `phalanx serve`: the keys, the engine and its
/// workers (peers added later are picked up while it runs).
pub fn start(
    data: &Path,
    store: Arc<SqliteStore>,
    on_commit: Box<dyn Fn() + Send + Sync>,
) -> anyhow::Result<Arc<Federation>> {
    let keys = Arc::new(KeyRing::open(data).context("federation keys")?);
    let node_org = node_organisation(&store)?;
    let engine = Federation::new(store, keys, node_org, SyncConfig::default(), on_commit)?;
    engine.start();
    Ok(engine)
}
