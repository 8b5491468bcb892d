//! Matches to sightings: one summary per indicator with the count and the
//! first and last time seen ([`aggregate`], [`Tally`]), and the STIX 2.1
//! `sighting` object a sensor posts for it ([`sighting_object`]). Pure:
//! storing or sending the objects is the caller's business.

use crate::stream::MatchRecord;
use phalanx_model::Timestamp;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The largest `count` STIX allows on a sighting.
pub const MAX_SIGHTING_COUNT: u64 = 999_999_999;

/// Namespace of the deterministic sighting ids (UUIDv5).
const SIGHTING_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x6c0f_5d2e_8a41_4b7e_9d3c_2f51_a0b8_7e14);

/// What a batch of matches says about one indicator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingSummary {
    /// The indicator (or observable) id.
    pub indicator: String,
    /// How many matches.
    pub count: u64,
    /// Earliest event time, microseconds since the epoch (if any event had one).
    pub first_seen: Option<i64>,
    /// Latest event time.
    pub last_seen: Option<i64>,
}

impl SightingSummary {
    fn add(&mut self, time: Option<i64>) {
        self.count += 1;
        if let Some(t) = time {
            self.first_seen = Some(self.first_seen.map_or(t, |f| f.min(t)));
            self.last_seen = Some(self.last_seen.map_or(t, |l| l.max(t)));
        }
    }
}

/// Aggregates match records per indicator, in indicator id order.
pub fn aggregate<'a>(records: impl IntoIterator<Item = &'a MatchRecord>) -> Vec<SightingSummary> {
    let mut tally = Tally::default();
    for r in records {
        tally.add(r);
    }
    tally.summaries()
}

/// A running per-indicator tally of matches (for a stream that posts its
/// sightings in batches: the tally keeps growing, each batch posts the
/// summaries of the indicators that changed since the last one).
#[derive(Debug, Default, Clone)]
pub struct Tally {
    by: BTreeMap<String, SightingSummary>,
    changed: std::collections::BTreeSet<String>,
}

impl Tally {
    /// Counts one match.
    pub fn add(&mut self, record: &MatchRecord) {
        match self.by.get_mut(record.indicator.as_str()) {
            Some(s) => s.add(record.time),
            None => {
                let mut s = SightingSummary { indicator: record.indicator.clone(), count: 0, first_seen: None, last_seen: None };
                s.add(record.time);
                self.by.insert(record.indicator.clone(), s);
            }
        }
        if !self.changed.contains(record.indicator.as_str()) {
            self.changed.insert(record.indicator.clone());
        }
    }

    /// Every summary, in indicator id order.
    pub fn summaries(&self) -> Vec<SightingSummary> {
        self.by.values().cloned().collect()
    }

    /// Whether any indicator changed since the last [`Tally::take_changed`].
    pub fn has_changes(&self) -> bool {
        !self.changed.is_empty()
    }

    /// Marks an indicator as changed again (its summaries could not be
    /// delivered and must go with the next batch).
    pub fn mark_changed(&mut self, indicator: &str) {
        if self.by.contains_key(indicator) && !self.changed.contains(indicator) {
            self.changed.insert(indicator.to_owned());
        }
    }

    /// The summaries (running totals) of the indicators that changed since
    /// the last call, in indicator id order.
    pub fn take_changed(&mut self) -> Vec<SightingSummary> {
        let changed = std::mem::take(&mut self.changed);
        changed.iter().filter_map(|id| self.by.get(id).cloned()).collect()
    }
}

/// Whether a matched rule id can be the `sighting_of_ref` of a sighting:
/// STIX allows only SDOs there, so matches on observables (SCOs) are
/// reported but not sighted.
pub fn can_be_sighted(rule_id: &str) -> bool {
    rule_id.starts_with("indicator--")
}

/// Who sighted, and when the run began: fixes the sighting's id and common
/// properties.
#[derive(Debug, Clone)]
pub struct SightingSource<'a> {
    /// The sensor's organisation (`identity--…`): `created_by_ref` and the
    /// one `where_sighted_refs` entry.
    pub organisation: &'a str,
    /// A name for the sensor run (e.g. host and start time): one sighting
    /// per indicator and run, versioned as the count grows.
    pub run: &'a str,
    /// When the run began: the sighting's `created`.
    pub created: Timestamp,
}

/// The deterministic id of the sighting of `indicator` by `source`.
pub fn sighting_id(source: &SightingSource<'_>, indicator: &str) -> String {
    let name = format!("sighting|{}|{}|{}", source.organisation, source.run, indicator);
    format!("sighting--{}", uuid::Uuid::new_v5(&SIGHTING_NAMESPACE, name.as_bytes()))
}

/// The STIX 2.1 `sighting` of `summary` by `source`, version `modified`
/// (strictly after `created` for later batches of the same run). Event
/// times become `first_seen`/`last_seen`; without any, the run's time
/// span (`created` to `modified`) stands in. `count` is capped at STIX's
/// maximum. No markings: the writer's label defaults and the lub rule
/// label it when it is written.
pub fn sighting_object(summary: &SightingSummary, source: &SightingSource<'_>, modified: Timestamp) -> Value {
    let first = summary.first_seen.map(Timestamp::from_unix_micros).unwrap_or_else(|| source.created);
    let last = summary.last_seen.map(Timestamp::from_unix_micros).unwrap_or_else(|| modified);
    json!({
        "type": "sighting",
        "spec_version": "2.1",
        "id": sighting_id(source, &summary.indicator),
        "created": source.created.to_string(),
        "modified": modified.to_string(),
        "created_by_ref": source.organisation,
        "sighting_of_ref": summary.indicator,
        "where_sighted_refs": [source.organisation],
        "count": summary.count.min(MAX_SIGHTING_COUNT),
        "first_seen": first.to_string(),
        "last_seen": last.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(id: &str, t: Option<i64>) -> MatchRecord {
        MatchRecord { indicator: id.into(), field: None, value: String::new(), time: t, source: String::new() }
    }

    #[test]
    fn counts_and_first_last_seen_per_indicator() {
        let rs = [rec("b", Some(5)), rec("a", None), rec("b", Some(2)), rec("b", Some(9))];
        let s = aggregate(&rs);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], SightingSummary { indicator: "a".into(), count: 1, first_seen: None, last_seen: None });
        assert_eq!(s[1], SightingSummary { indicator: "b".into(), count: 3, first_seen: Some(2), last_seen: Some(9) });
    }

    #[test]
    fn tally_hands_out_running_totals_of_changed_indicators_only() {
        let mut t = Tally::default();
        t.add(&rec("a", Some(1)));
        t.add(&rec("b", Some(2)));
        assert_eq!(t.take_changed().len(), 2);
        assert!(!t.has_changes());
        t.add(&rec("b", Some(7)));
        let changed = t.take_changed();
        assert_eq!(changed, vec![SightingSummary { indicator: "b".into(), count: 2, first_seen: Some(2), last_seen: Some(7) }]);
        t.mark_changed("b");
        t.mark_changed("never-seen");
        assert_eq!(t.take_changed().len(), 1, "a failed delivery goes with the next batch; unknown ids are ignored");
    }

    #[test]
    fn sighting_is_valid_stix_with_a_stable_id_per_run_and_indicator() {
        let created = Timestamp::parse("2026-03-01T10:00:00.000Z").unwrap();
        let source = SightingSource { organisation: "identity--7e0a3c7e-6a8c-4a0b-9d6e-1f2a3b4c5d6e", run: "sensor-1", created };
        let summary = SightingSummary { indicator: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into(), count: 3, first_seen: Some(1_772_359_200_000_000), last_seen: None };
        let modified = Timestamp::parse("2026-03-01T10:05:00.000Z").unwrap();
        let v = sighting_object(&summary, &source, modified);
        assert_eq!(v["count"], 3);
        assert_eq!(v["sighting_of_ref"], summary.indicator);
        assert_eq!(v["where_sighted_refs"][0], source.organisation);
        assert_eq!(v["first_seen"], "2026-03-01T10:00:00.000000Z");
        assert_eq!(v["last_seen"], "2026-03-01T10:05:00.000Z", "no event time: the run's span stands in");
        let parsed = phalanx_model::StixObject::from_value(v.clone(), "$");
        assert!(parsed.is_ok(), "{parsed:?}");
        let other_run = SightingSource { run: "sensor-2", ..source.clone() };
        assert_eq!(sighting_id(&source, &summary.indicator), v["id"].as_str().unwrap());
        assert_ne!(sighting_id(&other_run, &summary.indicator), sighting_id(&source, &summary.indicator));
        let huge = SightingSummary { count: 5_000_000_000, ..summary };
        assert_eq!(sighting_object(&huge, &source, Timestamp::parse("2026-03-01T10:06:00Z").unwrap())["count"], 999_999_999u64);
        assert!(can_be_sighted("indicator--x") && !can_be_sighted("ipv4-addr--x"));
    }
}
