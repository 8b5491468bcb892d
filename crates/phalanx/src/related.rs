//! `phalanx related ID`: the objects a user may read that correlate with
//! an object (same value, CIDR containment, parent domain or subdomain),
//! computed by the store under the user's read rule.

use crate::Finished;
use crate::node::{actor, open_store};
use anyhow::bail;
use phalanx_api::rest::related::{too_common_bound, view};
use phalanx_store::{Query, Store};
use std::path::Path;

/// Arguments of `phalanx related`.
#[derive(clap::Args, Debug)]
pub struct RelatedArgs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Follow a value only while at most this many readable objects share it
    /// (default: the node's setting `correlation_too_common`, else 100).
    #[arg(long)]
    pub too_common: Option<usize>,
    /// Print the JSON answer of `GET /api/v1/objects/{id}/related` instead of text.
    #[arg(long)]
    pub json: bool,
    /// The object's STIX id.
    pub id: String,
}

/// `phalanx related`.
pub fn run(data: &Path, args: RelatedArgs) -> anyhow::Result<Finished> {
    let store = open_store(data)?;
    let actor = actor(&store, args.as_user.as_deref())?;
    let bound = match args.too_common {
        Some(n) => n,
        None => too_common_bound(&store)?,
    };
    let id = args.id.trim();
    let Some(related) = store.related(&actor.subject, id, bound)? else {
        bail!("no object {id} (or none you may read)");
    };
    let ids: Vec<String> = related.links.iter().map(|l| l.id.clone()).collect();
    for chunk in ids.chunks(500) {
        let page = store.query(&actor.subject, &Query { ids: chunk.to_vec(), ..Query::default() })?;
        phalanx_auth::audit_reads(&store, &actor, &page.objects, "related")?;
    }
    let view = view(id.to_owned(), related, bound);
    if args.json {
        println!("{}", serde_json::to_string(&view)?);
        return Ok(Finished::Ok);
    }
    for l in &view.links {
        println!("{}\t{}\t{} {}\t{}", l.reason, l.id, l.kind, l.value, l.other_value);
    }
    for t in &view.too_common {
        println!("too-common\t{}\t{} {}\t(more than {bound} objects)", t.reason, t.kind, t.value);
    }
    eprintln!("{} links from {} values, {} too common", view.links.len(), view.values.len(), view.too_common.len());
    Ok(Finished::Ok)
}
