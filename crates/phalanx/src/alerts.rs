//! Collective-threat alerts: the store-facing runner around
//! `phalanx_matcher::alert`, the background task of `phalanx serve`, and
//! `phalanx alerts evaluate|list`.
//!
//! [`evaluate_alerts`] reads, as one user (the node's admin by default: the
//! alerting account should be a coordinator of the node's organisation,
//! cleared for what it must correlate), the sightings added within twice
//! the window, the countries of the organisations that sighted (from the
//! registry), and the `indicates` relationships from the sighted
//! indicators to campaigns, intrusion sets and malware; everything through
//! the store query under that user's read rule. It writes each new or
//! grown alert as a new version of its grouping through `Ingest`, created
//! by the user's organisation: the write rules raise the grouping's label
//! to the lub of the labels of the indicators and sightings it refers to,
//! so no reader learns more from the alert than from the sightings.
//! Alerts whose evidence is already stored are not written again.

use crate::Finished;
use crate::node::{actor, open_store};
use anyhow::Context;
use phalanx_matcher::alert::{
    AlertPolicy, COLLECTIVE_ALERT_EXTENSION, CollectiveAlert, GROUP_TYPES, SightingFact, SightingRecord, evaluate, extension_definition,
};
use phalanx_model::{StixObject, Timestamp};
use phalanx_store::ingest::{Ingest, IngestOptions};
use phalanx_store::{Actor, NewVersion, Query, Store, VersionFilter};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;
use std::time::Duration;

/// What one evaluation did.
#[derive(Debug, Default, Clone)]
pub struct AlertRun {
    /// Sightings of the window evaluated.
    pub sightings: u64,
    /// Sighting versions read from the store by this run (those added
    /// since the last run of the same cache).
    pub read: u64,
    /// Alerts raised for the first time (grouping ids).
    pub raised: Vec<String>,
    /// Alerts updated with more evidence (grouping ids).
    pub updated: Vec<String>,
    /// Alerts whose evidence was already stored.
    pub unchanged: u64,
    /// Alerts the write rules refused, with why.
    pub refused: Vec<String>,
}

/// The sightings earlier evaluations read, kept between the runs of a
/// watcher so that a run reads only the versions added since the last:
/// each run used to read and parse every sighting of its window again,
/// and during a bulk load or a federation catch-up all of them are that
/// recent.
///
/// What it holds equals what a full read would give: per sighting id, the
/// newest version the reader may read, unless revoked, added after the
/// window's start. Store writes keep `date_added` increasing in commit
/// order, so the versions a later run reads are exactly those added after
/// the newest one read before; a newer readable version replaces the one
/// kept, a revoked one removes it, and a version that is not the newest
/// readable (an older `modified` arriving late, or one the reader may
/// not read) is not returned and changes nothing. A deletion can make an
/// older version the newest again, and another reader reads differently:
/// either empties the cache ([`Store::deletion_mark`], the reader
/// compared each run). Countries are looked up again each run.
#[derive(Default)]
pub struct SightingCache {
    /// The reader it was read as and the store's deletion mark then.
    basis: Option<(phalanx_labels::Subject, i64)>,
    /// The newest `date_added` read (µs).
    mark: Option<i64>,
    /// Per sighting id (in id order): the `date_added` (µs) of its newest
    /// readable version and what that version says.
    sightings: BTreeMap<String, (i64, SightingRecord)>,
}

impl SightingCache {
    /// Reads, as `reader`, the sightings added after `since` that the
    /// cache does not hold yet, and drops those added before; how many
    /// versions it read.
    pub fn refresh(&mut self, store: &dyn Store, reader: &phalanx_labels::Subject, since: Timestamp) -> anyhow::Result<u64> {
        let deletions = store.deletion_mark()?;
        let same_basis = self.basis.as_ref().is_some_and(|(r, d)| r == reader && *d == deletions);
        if !same_basis {
            *self = SightingCache { basis: Some((reader.clone(), deletions)), ..SightingCache::default() };
        }
        let since = since.unix_micros();
        self.sightings.retain(|_, (added, _)| *added > since);
        let after = self.mark.map_or(since, |m| m.max(since));
        let mut query = Query {
            types: vec!["sighting".into()],
            versions: VersionFilter::Last,
            added_after: Some(Timestamp::from_unix_micros(after)),
            // A revoked newest version removes the one kept.
            exclude_revoked: false,
            limit: 2000,
            ..Query::default()
        };
        let mut read = 0;
        loop {
            let page = store.query(reader, &query)?;
            for o in &page.objects {
                read += 1;
                let added = o.date_added.unix_micros();
                self.mark = Some(self.mark.map_or(added, |m| m.max(added)));
                let record = if o.revoked {
                    None
                } else {
                    phalanx_model::strict::parse_text(&o.json).ok().as_ref().and_then(SightingRecord::from_object)
                };
                match record {
                    Some(record) => self.sightings.insert(o.id.clone(), (added, record)),
                    None => self.sightings.remove(&o.id),
                };
            }
            match page.next {
                Some(next) if page.more => query.after = Some(next),
                _ => break,
            }
        }
        Ok(read)
    }

    /// The facts of the sightings held, with the countries `countries_of`
    /// gives now, in id order.
    pub fn facts(&self, countries_of: &dyn Fn(&str) -> Option<String>) -> Vec<SightingFact> {
        self.sightings.values().map(|(_, r)| r.fact(countries_of)).collect()
    }
}

/// Evaluates collective-threat alerts as `actor` at `now` and stores what
/// changed; `cache` holds the sightings read by earlier runs (a fresh one
/// reads every sighting of the window). Blocking (call it off async
/// threads).
pub fn evaluate_alerts(
    store: &dyn Store,
    actor: &Actor,
    policy: &AlertPolicy,
    now: Timestamp,
    cache: &mut SightingCache,
) -> anyhow::Result<AlertRun> {
    if !actor.user.role.can_write() {
        anyhow::bail!("user '{}' has the role {} and may not write alerts", actor.user.name, actor.user.role);
    }
    let mut run = AlertRun::default();
    let now = now.with_digits(3);
    let lookback = i64::from(policy.window_hours.max(1)) * 2 * 3_600_000_000;
    let since = Timestamp::from_unix_micros(now.unix_micros() - lookback);

    let countries: BTreeMap<String, String> =
        store.organisations()?.into_iter().filter_map(|o| o.org.country.clone().map(|c| (o.org.id, c))).collect();
    let country_of = |id: &str| countries.get(id).cloned();
    run.read = cache.refresh(store, &actor.subject, since)?;
    let facts = cache.facts(&country_of);
    run.sightings = facts.len() as u64;

    // Campaigns, intrusion sets and malware the sighted indicators indicate,
    // for the indicators of sightings with a country only: `evaluate`
    // ignores the others, and each lookup walks the references index.
    let indicators: BTreeSet<String> =
        facts.iter().filter(|f| !f.countries.is_empty()).map(|f| f.indicator.clone()).collect();
    let mut groups: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    let listed: Vec<String> = indicators.iter().cloned().collect();
    for chunk in listed.chunks(200) {
        let mut query = Query {
            types: vec!["relationship".into()],
            referencing: chunk.to_vec(),
            readable_ends: true,
            versions: VersionFilter::Last,
            exclude_revoked: true,
            limit: 2000,
            ..Query::default()
        };
        loop {
            let page = store.query(&actor.subject, &query)?;
            for o in &page.objects {
                let Ok(v) = phalanx_model::strict::parse_text(&o.json) else { continue };
                let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or_default();
                let target_type = s("target_ref").split("--").next().unwrap_or_default();
                if s("relationship_type") == "indicates" && indicators.contains(s("source_ref")) && GROUP_TYPES.contains(&target_type) {
                    groups.entry(s("source_ref").to_owned()).or_default().insert(s("target_ref").to_owned());
                }
            }
            match page.next {
                Some(next) if page.more => query.after = Some(next),
                _ => break,
            }
        }
    }
    // The subjects' names are read for the subjects that alert only (one
    // read each: reading every sighted indicator's was most of a run).
    let mut alerts = evaluate(&facts, &groups, &BTreeMap::new(), policy);
    for alert in &mut alerts {
        if let Some(o) = store.get(&actor.subject, &alert.subject, &VersionFilter::Last)?.into_iter().next() {
            alert.subject_name =
                phalanx_model::strict::parse_text(&o.json).ok().and_then(|v| v.get("name").and_then(Value::as_str).map(str::to_owned));
        }
    }

    let mut writes: Vec<(bool, Value)> = Vec::new();
    for alert in alerts {
        let stored = store.get(&actor.subject, &alert.id, &VersionFilter::Last)?.into_iter().next();
        let stored_value = stored.as_ref().and_then(|o| phalanx_model::strict::parse_text(&o.json).ok());
        let previous = stored_value.as_ref().and_then(CollectiveAlert::from_object);
        let Some(next) = alert.update_of(previous.as_ref()) else {
            run.unchanged += 1;
            continue;
        };
        let stamp = |k: &str| stored_value.as_ref().and_then(|v| v.get(k)).and_then(Value::as_str).and_then(|t| Timestamp::parse(t).ok());
        let created = stamp("created").unwrap_or(now);
        let mut modified = now;
        if let Some(last) = stamp("modified").filter(|m| m.unix_micros() >= modified.unix_micros()) {
            modified = Timestamp::from_unix_micros(last.unix_micros() + 1000).with_digits(3);
        }
        writes.push((stored.is_some(), next.to_object(actor.org_id(), created, modified)));
    }
    if writes.is_empty() {
        return Ok(run);
    }
    ensure_extension_definition(store, actor)?;
    // The alert starts from the lowest label (TLP:CLEAR, UNCLASSIFIED); the
    // write rules raise it to the lub of what it refers to, no further.
    let options = IngestOptions {
        defaults: phalanx_labels::LabelDefaults { tlp: phalanx_labels::Tlp::Clear, label: None },
        explicit_defaults: true,
        origin: actor.origin(),
        signed_by_originator: false,
    };
    let mut txn = store.begin()?;
    let mut ingest = Ingest::new(store, actor, options)?;
    let mut kinds = Vec::new();
    for (i, (existed, value)) in writes.into_iter().enumerate() {
        let path = format!("$[{i}]");
        let id = value.get("id").and_then(Value::as_str).unwrap_or_default().to_owned();
        match StixObject::from_value(value, &path) {
            Ok(parsed) => ingest.object(txn.as_mut(), &path, parsed)?,
            Err(errors) => ingest.refuse_invalid(&path, &errors),
        }
        kinds.push((path, id, existed));
    }
    let report = ingest.finish(txn.as_mut())?;
    txn.commit()?;
    for (path, id, existed) in kinds {
        match report.refused.iter().find(|r| r.path == path) {
            Some(r) => run.refused.push(format!("{id}: {}", r.reason)),
            None if existed => run.updated.push(id),
            None => run.raised.push(id),
        }
    }
    tracing::info!(raised = run.raised.len(), updated = run.updated.len(), refused = run.refused.len(), "collective-threat alerts");
    Ok(run)
}

/// Stores the alert extension-definition unless present (public metadata,
/// TLP:CLEAR, like the label extension's).
fn ensure_extension_definition(store: &dyn Store, actor: &Actor) -> anyhow::Result<()> {
    let mut txn = store.begin()?;
    if !txn.versions_of(COLLECTIVE_ALERT_EXTENSION)?.is_empty() {
        return Ok(());
    }
    let def = extension_definition(phalanx_labels::PHALANX_IDENTITY_ID, phalanx_labels::EXTENSION_DEFINITION_CREATED);
    let parsed = StixObject::from_value(def, "$").map_err(|e| anyhow::anyhow!("built-in alert extension definition is invalid: {e}"))?;
    let json = parsed.object.to_json_string();
    let clear = phalanx_labels::Label::unclassified(phalanx_labels::Tlp::Clear).with_originator(Some(actor.org_id().to_owned()));
    txn.put(NewVersion { object: &parsed.object, json: &json, label: &clear, origin: "builtin" })?;
    txn.commit()?;
    Ok(())
}

/// Alert settings of `phalanx serve`.
#[derive(Debug, Clone)]
pub struct AlertSettings {
    /// The policy.
    pub policy: AlertPolicy,
    /// The user the evaluation acts as (default: the node's admin user).
    pub user: Option<String>,
    /// Longest time between evaluations when no write woke the task.
    pub poll: Duration,
}

/// Quiet time after a committed write before the watcher evaluates.
const ALERT_QUIET: Duration = Duration::from_secs(1);

/// Longest delay of an evaluation while writes keep coming.
const ALERT_MAX_DELAY: Duration = Duration::from_secs(10);

/// Runs [`evaluate_alerts`] after committed writes of this process and
/// every `settings.poll`, until the node shuts down. Writes are coalesced:
/// the evaluation runs once no write has committed for [`ALERT_QUIET`], or
/// [`ALERT_MAX_DELAY`] after the first write of a burst that does not
/// pause. An evaluation reads every sighting of its window, so running it
/// each second of a bulk load re-read them all again and again (8% of the
/// CPU of a run of 10,000-object TAXII POSTs). Alerts it stores are
/// announced on the live stream.
pub fn spawn_watcher(state: phalanx_api::AppState, settings: AlertSettings) {
    tokio::spawn(async move {
        let cache = std::sync::Arc::new(std::sync::Mutex::new(SightingCache::default()));
        let mut committed = state.committed_changes();
        let mut shutdown = state.shutdown_signal();
        loop {
            let wake = tokio::select! {
                changed = committed.changed() => changed.is_ok(),
                () = tokio::time::sleep(settings.poll) => true,
                _ = shutdown.changed() => false,
            };
            if !wake || *shutdown.borrow() {
                return;
            }
            let _ = committed.borrow_and_update();
            let burst = tokio::time::Instant::now();
            loop {
                let quiet_until = (tokio::time::Instant::now() + ALERT_QUIET).min(burst + ALERT_MAX_DELAY);
                tokio::select! {
                    changed = committed.changed() => {
                        if changed.is_err() {
                            return;
                        }
                        let _ = committed.borrow_and_update();
                    }
                    () = tokio::time::sleep_until(quiet_until) => break,
                    _ = shutdown.changed() => return,
                }
                if burst.elapsed() >= ALERT_MAX_DELAY {
                    break;
                }
            }
            let store = state.store().clone();
            let settings = settings.clone();
            let cache = cache.clone();
            let result = tokio::task::spawn_blocking(move || -> anyhow::Result<AlertRun> {
                let name = settings.user.as_deref().unwrap_or(crate::node::ADMIN_USER);
                let user = store.find_user(name)?.with_context(|| format!("alert_user: no user named '{name}'"))?;
                let actor = store.actor(&user, None)?;
                let mut cache = cache.lock().unwrap_or_else(|p| p.into_inner());
                let run = evaluate_alerts(store.as_ref(), &actor, &settings.policy, Timestamp::now(3), &mut cache);
                if run.is_err() {
                    // Read everything again next time rather than trust a
                    // cache a failed run may have left half refreshed.
                    *cache = SightingCache::default();
                }
                run
            })
            .await;
            match result {
                Ok(Ok(run)) => {
                    for r in &run.refused {
                        tracing::warn!(refusal = %r, "collective-threat alert refused");
                    }
                    if !run.raised.is_empty() || !run.updated.is_empty() {
                        state.notify_committed();
                        // The notification wakes this task too; that pass finds nothing new.
                    }
                }
                Ok(Err(error)) => tracing::error!(error = %format!("{error:#}"), "collective-threat alert evaluation failed"),
                Err(error) => tracing::error!(%error, "collective-threat alert evaluation panicked"),
            }
        }
    });
}

/// `phalanx alerts`.
#[derive(clap::Subcommand, Debug)]
pub enum AlertsCommand {
    /// Evaluate collective-threat alerts now and store what changed.
    Evaluate(EvaluateArgs),
    /// List the collective-threat alerts a user may read, newest first.
    List(ListArgs),
}

/// Arguments of `phalanx alerts evaluate`.
#[derive(clap::Args, Debug)]
pub struct EvaluateArgs {
    /// Act as this user (default: the node's admin user); alerts are created by its organisation.
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// Distinct countries needed.
    #[arg(long, default_value_t = 3)]
    pub countries: usize,
    /// Window in hours.
    #[arg(long, default_value_t = 24)]
    pub window_hours: u32,
    /// Evaluate as of this instant (RFC 3339; default now).
    #[arg(long)]
    pub at: Option<String>,
}

/// Arguments of `phalanx alerts list`.
#[derive(clap::Args, Debug)]
pub struct ListArgs {
    /// Act as this user (default: the node's admin user).
    #[arg(long = "as", env = "PHALANX_USER")]
    pub as_user: Option<String>,
    /// One JSON object a line instead of text.
    #[arg(long)]
    pub json: bool,
}

/// `phalanx alerts`.
pub fn run(data: &Path, command: AlertsCommand) -> anyhow::Result<Finished> {
    match command {
        AlertsCommand::Evaluate(args) => {
            if args.countries == 0 || args.window_hours == 0 {
                anyhow::bail!("--countries and --window-hours must be at least 1");
            }
            let store = open_store(data)?;
            let actor = actor(&store, args.as_user.as_deref())?;
            let now = match &args.at {
                Some(t) => Timestamp::parse_lenient(t).map_err(|e| anyhow::anyhow!("--at: {e}"))?,
                None => Timestamp::now(3),
            };
            let policy = AlertPolicy { threshold_countries: args.countries, window_hours: args.window_hours };
            let run = evaluate_alerts(&store, &actor, &policy, now, &mut SightingCache::default())?;
            for id in &run.raised {
                println!("raised {id}");
            }
            for id in &run.updated {
                println!("updated {id}");
            }
            for r in &run.refused {
                eprintln!("refused {r}");
            }
            eprintln!(
                "{} sightings in the window: {} alerts raised, {} updated, {} unchanged, {} refused",
                run.sightings,
                run.raised.len(),
                run.updated.len(),
                run.unchanged,
                run.refused.len()
            );
            Ok(if run.refused.is_empty() { Finished::Ok } else { Finished::Partial })
        }
        AlertsCommand::List(args) => {
            let store = open_store(data)?;
            let actor = actor(&store, args.as_user.as_deref())?;
            let mut query = Query { types: vec!["grouping".into()], versions: VersionFilter::Last, limit: 2000, ..Query::default() };
            let mut alerts: Vec<(CollectiveAlert, String, Value)> = Vec::new();
            loop {
                let page = store.query(&actor.subject, &query)?;
                let shown: Vec<_> = page.objects.iter().filter(|o| phalanx_matcher::alert::is_alert_json(&o.object_type, &o.json)).cloned().collect();
                phalanx_auth::audit_reads(&store, &actor, &shown, "alerts")?;
                for o in shown {
                    let Ok(v) = phalanx_model::strict::parse_text(&o.json) else { continue };
                    if let Some(a) = CollectiveAlert::from_object(&v) {
                        alerts.push((a, o.label.display_name(None), v));
                    }
                }
                match page.next {
                    Some(next) if page.more => query.after = Some(next),
                    _ => break,
                }
            }
            alerts.sort_by(|a, b| b.0.last_seen.unix_micros().cmp(&a.0.last_seen.unix_micros()));
            for (a, label, v) in &alerts {
                if args.json {
                    println!("{v}");
                } else {
                    println!(
                        "{}  {}  countries {}  sightings {}  last seen {}  [{}]  {}",
                        a.id,
                        a.subject,
                        a.countries.join(","),
                        a.sighting_count,
                        a.last_seen,
                        label,
                        v.get("name").and_then(Value::as_str).unwrap_or_default()
                    );
                }
            }
            eprintln!("{} collective-threat alerts", alerts.len());
            Ok(Finished::Ok)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::node::{InitArgs, actor, init, open_store};
    use phalanx_store::SqliteStore;
    use serde_json::json;

    const CLEAR: &str = "marking-definition--94868c89-83c2-464b-929b-a1a8aa3c8487";
    const AMBER: &str = "marking-definition--55d920b0-5e8b-4f79-9ee9-91f868d9b421";

    fn sighting(n: u32, modified: &str, count: u64, marking: &str, revoked: bool) -> Value {
        json!({
            "type": "sighting", "spec_version": "2.1",
            "id": format!("sighting--00000000-0000-4000-8000-{n:012}"),
            "created": "2025-12-01T00:00:00.000Z", "modified": modified,
            "sighting_of_ref": "indicator--00000000-0000-4000-8000-000000000001",
            "where_sighted_refs": [format!("identity--00000000-0000-4000-8000-{n:012}")],
            "count": count, "revoked": revoked,
            "object_marking_refs": [marking],
        })
    }

    fn write(store: &SqliteStore, actor: &Actor, objects: Vec<Value>) {
        let options = IngestOptions {
            defaults: phalanx_labels::LabelDefaults::default(),
            explicit_defaults: false,
            origin: actor.origin(),
            signed_by_originator: false,
        };
        let mut txn = store.begin().expect("begin");
        let mut ingest = Ingest::new(store, actor, options).expect("ingest");
        for (i, v) in objects.into_iter().enumerate() {
            let path = format!("$[{i}]");
            let parsed = StixObject::from_value(v, &path).expect("valid sighting");
            ingest.object(txn.as_mut(), &path, parsed).expect("written");
        }
        let report = ingest.finish(txn.as_mut()).expect("finish");
        assert!(report.refused.is_empty(), "{:?}", report.refused);
        txn.commit().expect("commit");
    }

    /// Every organisation is its own country, so that a fact shows which
    /// version it came from through `countries` too.
    fn own_country(id: &str) -> Option<String> {
        Some(id.to_owned())
    }

    /// What a fresh cache reads, as `reader`, after `since`.
    fn fresh(store: &SqliteStore, reader: &phalanx_labels::Subject, since: Timestamp) -> Vec<SightingFact> {
        let mut cache = SightingCache::default();
        cache.refresh(store, reader, since).expect("fresh read");
        cache.facts(&own_country)
    }

    #[test]
    fn a_kept_cache_holds_what_a_fresh_read_gives_after_every_kind_of_change() {
        let dir = tempfile::tempdir().expect("tempdir");
        init(dir.path(), InitArgs { org_name: "CERT-LT".into(), country: Some("LTU".into()), member_of: vec!["EU".into()] }).expect("init");
        let store = open_store(dir.path()).expect("store");
        let admin = actor(&store, None).expect("admin");
        let reader = admin.subject.clone();
        let since = Timestamp::from_unix_micros(0);
        let mut cache = SightingCache::default();
        let step = |cache: &mut SightingCache, what: &str, expected_read: u64| -> Vec<SightingFact> {
            let read = cache.refresh(&store, &reader, since).expect("refresh");
            let facts = cache.facts(&own_country);
            assert_eq!(facts, fresh(&store, &reader, since), "after {what}");
            assert_eq!(read, expected_read, "versions read after {what}");
            facts
        };
        let count_of = |facts: &[SightingFact], n: u32| {
            facts.iter().find(|f| f.id == format!("sighting--00000000-0000-4000-8000-{n:012}")).map(|f| f.count)
        };

        write(&store, &admin, vec![
            sighting(1, "2026-01-01T00:00:00.000Z", 1, AMBER, false),
            sighting(2, "2026-01-01T00:00:00.000Z", 2, CLEAR, false),
            sighting(3, "2026-01-01T00:00:00.000Z", 3, AMBER, false),
        ]);
        let facts = step(&mut cache, "the first sightings", 3);
        assert_eq!(facts.len(), 3);
        // Nothing new: nothing read.
        step(&mut cache, "no change", 0);

        write(&store, &admin, vec![sighting(1, "2026-01-02T00:00:00.000Z", 5, AMBER, false)]);
        let facts = step(&mut cache, "a newer version", 1);
        assert_eq!(count_of(&facts, 1), Some(5));

        // An older version arriving late is not the newest: nothing changes.
        write(&store, &admin, vec![sighting(2, "2025-12-31T00:00:00.000Z", 9, CLEAR, false)]);
        let facts = step(&mut cache, "an older version", 0);
        assert_eq!(count_of(&facts, 2), Some(2));

        write(&store, &admin, vec![sighting(3, "2026-01-02T00:00:00.000Z", 3, AMBER, true)]);
        let facts = step(&mut cache, "a revocation", 1);
        assert_eq!((facts.len(), count_of(&facts, 3)), (2, None));

        // Deleting the newest version makes the older one the newest again,
        // though it was added before anything the cache read last.
        assert_eq!(store.delete_versions(&facts[0].id, &VersionFilter::Last).expect("delete"), 1);
        let facts = step(&mut cache, "a deletion", 3);
        assert_eq!(count_of(&facts, 1), Some(1));

        // Another reader (anonymous: TLP:CLEAR only) is read afresh.
        let anonymous = phalanx_labels::Subject::Anonymous;
        cache.refresh(&store, &anonymous, since).expect("anonymous");
        let facts = cache.facts(&own_country);
        assert_eq!(facts, fresh(&store, &anonymous, since));
        assert_eq!(facts.iter().map(|f| f.count).collect::<Vec<_>>(), vec![2]);

        // A window that starts after them holds none.
        let later = Timestamp::from_unix_micros(Timestamp::now(6).unix_micros() + 1);
        cache.refresh(&store, &reader, later).expect("later window");
        assert!(cache.facts(&own_country).is_empty());
    }
}
