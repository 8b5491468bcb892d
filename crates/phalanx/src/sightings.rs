//! Posting the sightings of `phalanx match`: one STIX `sighting` per
//! indicator and run (`sighting_of_ref` the indicator, `where_sighted_refs`
//! the sensor's organisation, `count`, `first_seen`, `last_seen`), a new
//! version of it with the running totals after each batch.
//!
//! Targets: the local store (`--as USER`: written through `Ingest` as that
//! user, labelled from `--default-tlp`/`--default-label` and raised to the
//! lub of the indicator's label by the write rules), a node over HTTP
//! (`--node URL --token TOKEN --org ID`: `POST /api/v1/objects`, the node
//! applies the same rules), or a file (`--sightings-out FILE`: a STIX
//! bundle of the latest versions, rewritten whole after each batch, for
//! `phalanx import` on the node later).

use crate::node::open_store;
use anyhow::{Context, bail};
use phalanx_matcher::MatchRecord;
use phalanx_matcher::sighting::{SightingSource, SightingSummary, Tally, can_be_sighted, sighting_object};
use phalanx_model::{StixObject, Timestamp};
use phalanx_store::ingest::{Ingest, IngestOptions};
use phalanx_store::{Actor, SqliteStore, Store};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Where sightings go.
pub enum Target {
    /// The local store, written as a user.
    Local {
        /// The store.
        store: SqliteStore,
        /// The writing user.
        actor: Box<Actor>,
        /// Label defaults and origin.
        options: IngestOptions,
    },
    /// A node's REST API.
    Node {
        /// Base URL of the node.
        url: String,
        /// API token.
        token: String,
        /// `default_tlp` query parameter, if given.
        default_tlp: Option<String>,
        /// The HTTP client.
        agent: ureq::Agent,
    },
    /// A STIX bundle file.
    File {
        /// The file.
        path: PathBuf,
        /// Markings every sighting carries (the TLP of `--default-tlp`).
        markings: Vec<String>,
        /// The latest version of every sighting of the run.
        objects: BTreeMap<String, Value>,
    },
}

impl Target {
    /// The local store as `user` (default: the node's admin user), who must be allowed to write.
    pub fn local(data: &Path, user: Option<&str>, default_tlp: Option<&str>, default_label: Option<&str>) -> anyhow::Result<(Target, String)> {
        let store = open_store(data)?;
        let actor = crate::node::actor(&store, user)?;
        if !actor.user.role.can_write() {
            bail!("--as: user '{}' has the role {} and may not write sightings (or pass --no-post)", actor.user.name, actor.user.role);
        }
        let options = crate::import::ingest_options(&actor, default_tlp, default_label)?;
        let org = actor.org_id().to_owned();
        Ok((Target::Local { store, actor: Box::new(actor), options }, org))
    }

    /// A bundle file at `path`; `default_tlp` becomes an explicit marking
    /// of every sighting (the node that imports the file labels it from there).
    pub fn file(path: &Path, default_tlp: Option<&str>) -> anyhow::Result<Target> {
        let mut markings = Vec::new();
        if let Some(t) = default_tlp {
            let tlp = t.parse::<phalanx_labels::Tlp>().map_err(|e| anyhow::anyhow!("--default-tlp: {e}"))?;
            markings.push(tlp.marking_id().to_owned());
        }
        Ok(Target::File { path: path.to_owned(), markings, objects: BTreeMap::new() })
    }

    /// A node at `url` with `token`.
    pub fn node(url: &str, token: &str, default_tlp: Option<&str>) -> anyhow::Result<Target> {
        if let Some(t) = default_tlp {
            t.parse::<phalanx_labels::Tlp>().map_err(|e| anyhow::anyhow!("--default-tlp: {e}"))?;
        }
        let agent = ureq::Agent::config_builder().http_status_as_error(false).timeout_global(Some(Duration::from_secs(60))).build().new_agent();
        Ok(Target::Node { url: url.trim_end_matches('/').to_owned(), token: token.to_owned(), default_tlp: default_tlp.map(str::to_owned), agent })
    }
}

/// The sightings of one run.
pub struct Poster {
    target: Target,
    organisation: String,
    run: String,
    created: Timestamp,
    last_modified: Timestamp,
    tally: Tally,
    /// Sighting versions written so far.
    pub written: u64,
    /// Versions the node or store refused.
    pub refused: u64,
    /// Matches on observables (SCOs), which STIX does not let a sighting name.
    pub observables: u64,
}

impl Poster {
    /// A poster for the sensor `sensor` of `organisation`, starting now.
    pub fn new(target: Target, organisation: String, sensor: &str) -> Poster {
        let created = Timestamp::now(3);
        Poster {
            target,
            organisation,
            run: format!("{sensor}|{created}"),
            created,
            last_modified: created,
            tally: Tally::default(),
            written: 0,
            refused: 0,
            observables: 0,
        }
    }

    /// Counts one match.
    pub fn record(&mut self, record: &MatchRecord) {
        if can_be_sighted(&record.indicator) {
            self.tally.add(record);
        } else {
            self.observables += 1;
        }
    }

    /// Writes the sightings of the indicators matched since the last
    /// flush. On failure they stay pending for the next one.
    pub fn flush(&mut self) -> anyhow::Result<()> {
        if !self.tally.has_changes() {
            return Ok(());
        }
        let changed = self.tally.take_changed();
        // Every batch is a new version: strictly later than the last one.
        let mut modified = Timestamp::now(3);
        if modified.unix_micros() <= self.last_modified.unix_micros() {
            modified = Timestamp::from_unix_micros(self.last_modified.unix_micros() + 1000).with_digits(3);
        }
        let source = SightingSource { organisation: &self.organisation, run: &self.run, created: self.created };
        let objects: Vec<Value> = changed.iter().map(|s| sighting_object(s, &source, modified)).collect();
        match self.deliver(objects) {
            Ok(refused) => {
                self.last_modified = modified;
                self.written += (changed.len() as u64).saturating_sub(refused);
                self.refused += refused;
                Ok(())
            }
            Err(e) => {
                for SightingSummary { indicator, .. } in &changed {
                    self.tally.mark_changed(indicator);
                }
                Err(e)
            }
        }
    }

    /// Sends one batch; returns how many objects were refused.
    fn deliver(&mut self, objects: Vec<Value>) -> anyhow::Result<u64> {
        match &mut self.target {
            Target::Local { store, actor, options } => {
                let mut txn = store.begin()?;
                let mut ingest = Ingest::new(store, &**actor, options.clone())?;
                for (i, value) in objects.into_iter().enumerate() {
                    let path = format!("$[{i}]");
                    match StixObject::from_value(value, &path) {
                        Ok(parsed) => ingest.object(txn.as_mut(), &path, parsed)?,
                        Err(errors) => ingest.refuse_invalid(&path, &errors),
                    }
                }
                let report = ingest.finish(txn.as_mut())?;
                txn.commit()?;
                for r in &report.refused {
                    eprintln!("phalanx match: sighting {} refused: {}", r.id.as_deref().unwrap_or(&r.path), r.reason);
                }
                Ok(report.refused.len() as u64)
            }
            Target::Node { url, token, default_tlp, agent } => {
                let bundle = serde_json::json!({"type": "bundle", "id": format!("bundle--{}", uuid::Uuid::new_v4()), "objects": objects});
                let mut endpoint = format!("{url}/api/v1/objects");
                if let Some(t) = default_tlp {
                    endpoint.push_str("?default_tlp=");
                    endpoint.push_str(&t.replace('+', "%2B"));
                }
                let request = ureq::http::Request::builder()
                    .method("POST")
                    .uri(&endpoint)
                    .header("Authorization", format!("Bearer {token}"))
                    .header("Content-Type", "application/json")
                    .body(bundle.to_string().into_bytes())
                    .context("--node: building the request")?;
                let mut response = agent.run(request).with_context(|| format!("--node: posting sightings to {endpoint}"))?;
                let status = response.status().as_u16();
                let body = response.body_mut().read_to_string().unwrap_or_default();
                if status != 200 {
                    bail!("--node: {endpoint} answered {status}: {}", body.chars().take(300).collect::<String>());
                }
                let report: Value = phalanx_model::strict::parse_text(&body).with_context(|| format!("--node: {endpoint} answered no write report"))?;
                if let Some(results) = report.get("results").and_then(Value::as_array) {
                    for r in results.iter().filter(|r| r.get("status").and_then(Value::as_str) == Some("refused")) {
                        eprintln!(
                            "phalanx match: sighting {} refused by the node: {}",
                            r.get("id").and_then(Value::as_str).unwrap_or("?"),
                            r.get("reason").and_then(Value::as_str).unwrap_or("")
                        );
                    }
                }
                Ok(report.get("refused").and_then(Value::as_u64).unwrap_or(0))
            }
            Target::File { path, markings, objects: kept } => {
                for mut o in objects {
                    if !markings.is_empty() {
                        o["object_marking_refs"] = Value::from(markings.clone());
                    }
                    if let Some(id) = o.get("id").and_then(Value::as_str) {
                        kept.insert(id.to_owned(), o);
                    }
                }
                let bundle = serde_json::json!({
                    "type": "bundle",
                    "id": format!("bundle--{}", uuid::Uuid::new_v4()),
                    "objects": kept.values().collect::<Vec<_>>(),
                });
                // Written beside and renamed: a reader never sees half a bundle.
                let tmp = path.with_extension("tmp");
                std::fs::write(&tmp, format!("{bundle}\n")).with_context(|| format!("--sightings-out {}", tmp.display()))?;
                std::fs::rename(&tmp, &*path).with_context(|| format!("--sightings-out {}", path.display()))?;
                Ok(0)
            }
        }
    }

    /// Where the sightings went, for the closing message.
    pub fn describe(&self) -> String {
        match &self.target {
            Target::Local { actor, .. } => format!("the local store as '{}'", actor.user.name),
            Target::Node { url, .. } => url.clone(),
            Target::File { path, .. } => path.display().to_string(),
        }
    }
}
