//! `phalanx get` and `phalanx stats`.

use crate::Finished;
use crate::node::{actor, open_store};
use anyhow::bail;
use phalanx_store::{Store, VersionFilter};
use std::path::Path;

/// Arguments of `phalanx get`.
#[derive(clap::Args, Debug)]
pub struct GetArgs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Exercise context (default: the real world).
    #[arg(long)]
    pub exercise: Option<String>,
    /// Every version the user may read, oldest first, one JSON per line.
    #[arg(long)]
    pub all_versions: bool,
    /// The object's STIX id.
    pub id: String,
}

/// Arguments of `phalanx stats`.
#[derive(clap::Args, Debug)]
pub struct StatsArgs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Exercise context (default: the real world).
    #[arg(long)]
    pub exercise: Option<String>,
}

/// `phalanx get`.
pub fn get(data: &Path, args: GetArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let mut actor = actor(&store, args.as_user.as_deref())?;
    if let phalanx_labels::Subject::User(r) = &mut actor.subject {
        r.context = args.exercise.clone();
    }
    let filter = if args.all_versions { VersionFilter::All } else { VersionFilter::Last };
    let found = store.get(&actor.subject, &args.id, &filter)?;
    if found.is_empty() {
        bail!("no object {} (or none you may read)", args.id);
    }
    // Every read of an object ranked RESTRICTED or above is audited before it is shown.
    phalanx_auth::audit_reads(&store, &actor, &found, "get")?;
    for object in found {
        if args.all_versions {
            println!("{}", object.json);
        } else {
            let value: serde_json::Value = phalanx_model::strict::parse_text(&object.json)?;
            println!("{}", serde_json::to_string_pretty(&value)?);
            eprintln!(
                "label: {} | originator: {} | date_added: {} | origin: {}",
                object.label.display_name(None),
                object.label.originator.as_deref().unwrap_or("-"),
                object.date_added,
                object.origin
            );
        }
    }
    Ok(Finished::Ok)
}

/// `phalanx stats`.
pub fn stats(data: &Path, args: StatsArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let mut actor = actor(&store, args.as_user.as_deref())?;
    if let phalanx_labels::Subject::User(r) = &mut actor.subject {
        r.context = args.exercise.clone();
    }
    let stats = store.stats(&actor.subject)?;
    println!("objects: {}", stats.objects);
    println!("versions: {}", stats.versions);
    println!("labels: {}", stats.access_classes);
    if let Some(t) = stats.last_added {
        println!("last added: {t}");
    }
    for (t, n) in &stats.versions_by_type {
        println!("  {t}: {n}");
    }
    Ok(Finished::Ok)
}
