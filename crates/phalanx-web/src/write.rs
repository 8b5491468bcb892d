//! Uploads of STIX bundles from the UI, through
//! `phalanx_store::ingest::Ingest` in one transaction, as `phalanx import`
//! does: refused objects are reported, the others stored. (Incident and
//! request changes go through the rapid-response desk of `phalanx-api`.)

use phalanx_labels::{LabelDefaults, Tlp};
use axum::body::Bytes;
use phalanx_model::stream::Limits;
use phalanx_store::ingest::{Ingest, IngestOptions};
use phalanx_store::pipeline::{Container, Sharing, write_stream};
use phalanx_store::{Actor, Store, StoreError};
use serde::Serialize;
use std::collections::HashMap;

fn options(actor: &Actor, default_tlp: Option<Tlp>) -> IngestOptions {
    IngestOptions {
        defaults: LabelDefaults { tlp: default_tlp.unwrap_or(LabelDefaults::default().tlp), label: None },
        explicit_defaults: false,
        origin: actor.origin(),
        signed_by_originator: false,
    }
}

/// What happened to one uploaded object.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UploadResult {
    /// Where it was in the upload (`$.objects[3]`, `line 7`).
    pub path: String,
    /// Its id, when it had one.
    pub id: Option<String>,
    /// Its type, when it had one.
    pub object_type: Option<String>,
    /// `accepted` (stored, or already stored unchanged) or `refused`.
    pub status: &'static str,
    /// Why it was refused.
    pub reason: Option<String>,
    /// The label it was raised to (spec §4), if it was.
    pub label_raised_to: Option<String>,
}

/// What an upload did.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct UploadReport {
    /// New versions stored.
    pub stored: u64,
    /// Versions already stored unchanged.
    pub unchanged: u64,
    /// Objects refused.
    pub refused: u64,
    /// One entry per object, in input order.
    pub results: Vec<UploadResult>,
    /// Why the whole upload was refused (not JSON); nothing was stored then.
    pub fatal: Option<String>,
}

/// Ingests an uploaded bundle, JSON array or JSON lines in one transaction.
pub fn upload(store: &dyn Store, actor: &Actor, bytes: Bytes, default_tlp: Option<Tlp>) -> Result<UploadReport, StoreError> {
    let ingest = Ingest::new(store, actor, options(actor, default_tlp))?;
    let mut meta: Vec<(String, Option<String>, Option<String>)> = Vec::new();
    let input_bytes = bytes.len() as u64;
    let reader = Box::new(std::io::Cursor::new(bytes));
    let outcome = write_stream(store, ingest, Limits::default(), reader, Container::Stix, Some(input_bytes), Sharing::Shared, Some(&mut |seen| {
        meta.push((seen.path.to_owned(), seen.given_id.map(str::to_owned), seen.object_type.map(str::to_owned)));
    }))?;
    let Some(report) = outcome.report else {
        let fatal = outcome.fatal.map(|f| f.message);
        return Ok(UploadReport { stored: 0, unchanged: 0, refused: 0, results: Vec::new(), fatal });
    };
    let mut refused: HashMap<&str, &str> = HashMap::new();
    for r in &report.refused {
        refused.entry(r.path.as_str()).or_insert(r.reason.as_str());
    }
    let raised: HashMap<&str, &str> = report.raised.iter().map(|r| (r.id.as_str(), r.to.as_str())).collect();
    let results = meta
        .into_iter()
        .map(|(path, id, object_type)| match refused.get(path.as_str()) {
            Some(reason) => {
                UploadResult { path, id, object_type, status: "refused", reason: Some((*reason).to_owned()), label_raised_to: None }
            }
            None => {
                let label_raised_to = id.as_deref().and_then(|i| raised.get(i)).map(|t| (*t).to_owned());
                UploadResult { path, id, object_type, status: "accepted", reason: None, label_raised_to }
            }
        })
        .collect();
    Ok(UploadReport {
        stored: report.stored,
        unchanged: report.unchanged,
        refused: report.refused.len() as u64,
        results,
        fatal: None,
    })
}
