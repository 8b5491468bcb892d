//! Collective-threat alerts: when sightings of one indicator, or of the
//! indicators of one campaign, intrusion set or malware, come from at
//! least N distinct countries within T, raise an alert (default 3
//! countries in 24 hours).
//!
//! Pure: the caller reads the sightings (with the countries of the
//! organisations that sighted), the `indicates` links and the alerts
//! already stored, and writes what [`evaluate`] and [`CollectiveAlert::update_of`]
//! return. An alert is stored as a STIX 2.1 `grouping` with context
//! `suspicious-activity` whose `object_refs` are the indicators and the
//! sightings it rests on, with the property extension
//! [`COLLECTIVE_ALERT_EXTENSION`]; its id is derived from the indicator
//! (or campaign, intrusion set, malware) id, so a later evaluation updates
//! the same object with a new version.

use phalanx_model::Timestamp;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};

/// The property extension carried by every collective-alert grouping.
pub const COLLECTIVE_ALERT_EXTENSION: &str = "extension-definition--6dafb7d9-90e7-4fbf-8265-8db16aae8db2";

/// How every alert grouping's `name` begins.
pub const ALERT_NAME_PREFIX: &str = "Collective threat: ";

/// Namespace of the deterministic alert ids (UUIDv5 over `collective-alert|<subject id>`).
const ALERT_NAMESPACE: uuid::Uuid = uuid::Uuid::from_u128(0x3f6b_92a4_1d0e_4c55_8b7a_66e1_d2c9_0a31);

/// Object types an alert can be grouped by, through `indicates` relationships.
pub const GROUP_TYPES: &[&str] = &["campaign", "intrusion-set", "malware"];

/// When an alert is raised.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AlertPolicy {
    /// Distinct countries needed (N).
    pub threshold_countries: usize,
    /// The window T, in hours.
    pub window_hours: u32,
}

impl Default for AlertPolicy {
    /// 3 countries within 24 hours.
    fn default() -> Self {
        AlertPolicy { threshold_countries: 3, window_hours: 24 }
    }
}

impl AlertPolicy {
    fn window_micros(&self) -> i64 {
        i64::from(self.window_hours) * 3_600_000_000
    }
}

/// One sighting as the alert logic sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingFact {
    /// The sighting's id.
    pub id: String,
    /// Its `sighting_of_ref`.
    pub indicator: String,
    /// The countries (ISO 3166-1 alpha-3) of the organisations that sighted
    /// (`where_sighted_refs`, else the creator); a sighting without any is
    /// ignored.
    pub countries: BTreeSet<String>,
    /// `count` (1 when absent).
    pub count: u64,
    /// `first_seen` (else `created`), µs since the epoch.
    pub first_seen: i64,
    /// `last_seen` (else `first_seen`), µs since the epoch.
    pub last_seen: i64,
}

impl SightingFact {
    /// Reads the facts of a STIX `sighting`; `countries_of` gives the
    /// countries of an organisation id (empty when unknown). `None` for
    /// anything else than a sighting with a `sighting_of_ref`.
    pub fn from_object(v: &Value, countries_of: &dyn Fn(&str) -> Option<String>) -> Option<SightingFact> {
        SightingRecord::from_object(v).map(|r| r.fact(countries_of))
    }
}

/// What the alert logic keeps of a STIX `sighting` before the countries
/// of its organisations are looked up: a watcher keeps these between runs
/// and looks the countries up again each run (the registry may change).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SightingRecord {
    /// The sighting's id.
    pub id: String,
    /// Its `sighting_of_ref`.
    pub indicator: String,
    /// Its `where_sighted_refs`.
    pub where_sighted: Vec<String>,
    /// Its `created_by_ref`.
    pub created_by: Option<String>,
    /// `count` (1 when absent).
    pub count: u64,
    /// `first_seen` (else `created`), µs since the epoch.
    pub first_seen: i64,
    /// `last_seen` (else `first_seen`), µs since the epoch.
    pub last_seen: i64,
}

impl SightingRecord {
    /// Reads a STIX `sighting`. `None` for anything else than a sighting
    /// with a `sighting_of_ref` and a `first_seen` or `created`.
    pub fn from_object(v: &Value) -> Option<SightingRecord> {
        if v.get("type")?.as_str()? != "sighting" {
            return None;
        }
        let time = |name: &str| v.get(name).and_then(Value::as_str).and_then(|t| Timestamp::parse(t).ok()).map(|t| t.unix_micros());
        let first_seen = time("first_seen").or_else(|| time("created"))?;
        let last_seen = time("last_seen").unwrap_or(first_seen).max(first_seen);
        let mut where_sighted = Vec::new();
        if let Some(Value::Array(refs)) = v.get("where_sighted_refs") {
            where_sighted.extend(refs.iter().filter_map(Value::as_str).map(str::to_owned));
        }
        Some(SightingRecord {
            id: v.get("id")?.as_str()?.to_owned(),
            indicator: v.get("sighting_of_ref")?.as_str()?.to_owned(),
            where_sighted,
            created_by: v.get("created_by_ref").and_then(Value::as_str).map(str::to_owned),
            count: v.get("count").and_then(Value::as_u64).unwrap_or(1),
            first_seen,
            last_seen,
        })
    }

    /// The sighting's facts: the countries of `where_sighted_refs`, else
    /// the creator's; `countries_of` gives an organisation id's country.
    pub fn fact(&self, countries_of: &dyn Fn(&str) -> Option<String>) -> SightingFact {
        let mut countries = BTreeSet::new();
        for r in &self.where_sighted {
            countries.extend(countries_of(r));
        }
        if countries.is_empty()
            && let Some(creator) = &self.created_by
        {
            countries.extend(countries_of(creator));
        }
        SightingFact {
            id: self.id.clone(),
            indicator: self.indicator.clone(),
            countries,
            count: self.count,
            first_seen: self.first_seen,
            last_seen: self.last_seen,
        }
    }
}

/// A collective-threat alert: what the stored grouping says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CollectiveAlert {
    /// The grouping's id (derived from `subject`).
    pub id: String,
    /// What the alert is about: an indicator, or the campaign, intrusion
    /// set or malware its indicators indicate.
    pub subject: String,
    /// A display name of the subject (its `name`, or the indicator's), if known.
    pub subject_name: Option<String>,
    /// The indicators sighted, sorted.
    pub indicator_refs: Vec<String>,
    /// The sightings it rests on, sorted.
    pub sighting_refs: Vec<String>,
    /// Distinct countries that reported, ISO 3166-1 alpha-3, sorted.
    pub countries: Vec<String>,
    /// Sum of the `count` of the sightings it rests on.
    pub sighting_count: u64,
    /// Earliest `first_seen`.
    pub first_seen: Timestamp,
    /// Latest `last_seen`.
    pub last_seen: Timestamp,
    /// N of the policy that raised it.
    pub threshold_countries: u64,
    /// T of the policy, in hours.
    pub window_hours: u64,
}

/// The deterministic id of the alert about `subject`.
pub fn alert_id(subject: &str) -> String {
    let name = format!("collective-alert|{subject}");
    format!("grouping--{}", uuid::Uuid::new_v5(&ALERT_NAMESPACE, name.as_bytes()))
}

/// Evaluates `sightings` under `policy`: one alert per indicator whose
/// sightings reach the threshold within one window, and one per campaign,
/// intrusion set or malware (`groups`: indicator id → the ids it
/// indicates) whose indicators' sightings together do. `names` gives
/// display names of subjects. Among the windows that reach the threshold,
/// the one with the most countries is reported (the latest on ties). In
/// subject id order.
pub fn evaluate(
    sightings: &[SightingFact],
    groups: &BTreeMap<String, BTreeSet<String>>,
    names: &BTreeMap<String, String>,
    policy: &AlertPolicy,
) -> Vec<CollectiveAlert> {
    let mut by_subject: BTreeMap<&str, Vec<&SightingFact>> = BTreeMap::new();
    for s in sightings.iter().filter(|s| !s.countries.is_empty()) {
        by_subject.entry(s.indicator.as_str()).or_default().push(s);
        if let Some(gs) = groups.get(&s.indicator) {
            for g in gs {
                by_subject.entry(g.as_str()).or_default().push(s);
            }
        }
    }
    let mut alerts = Vec::new();
    for (subject, facts) in by_subject {
        if let Some(window) = best_window(&facts, policy) {
            alerts.push(alert_of(subject, names.get(subject).cloned(), &window, policy));
        }
    }
    alerts
}

/// The sightings of the best window that reaches the threshold, if any.
/// Windows end at each sighting's `last_seen`; a sighting is in a window
/// when its seen interval overlaps it.
///
/// Per country, the facts are sorted by `last_seen` with the suffix
/// minimum of `first_seen`: whether a country has a fact overlapping
/// `[start, end]` is then one binary search, so an evaluation costs
/// O(n · countries · log n), not O(n²), for an indicator sighted often.
fn best_window<'a>(facts: &[&'a SightingFact], policy: &AlertPolicy) -> Option<Vec<&'a SightingFact>> {
    let span = policy.window_micros();
    let needed = policy.threshold_countries.max(1);
    // Per country: last_seen ascending, and the smallest first_seen from each position on.
    let mut by_country: BTreeMap<&str, Vec<(i64, i64)>> = BTreeMap::new();
    for f in facts {
        for c in &f.countries {
            by_country.entry(c.as_str()).or_default().push((f.last_seen, f.first_seen));
        }
    }
    if by_country.len() < needed {
        return None;
    }
    let mut tables: Vec<(Vec<i64>, Vec<i64>)> = Vec::with_capacity(by_country.len());
    for mut spans in by_country.into_values() {
        spans.sort_unstable();
        let lasts: Vec<i64> = spans.iter().map(|(l, _)| *l).collect();
        let mut suffix_min = vec![i64::MAX; spans.len()];
        let mut min = i64::MAX;
        for (i, (_, first)) in spans.iter().enumerate().rev() {
            min = min.min(*first);
            suffix_min[i] = min;
        }
        tables.push((lasts, suffix_min));
    }
    let mut best: Option<(usize, i64)> = None;
    let ends: BTreeSet<i64> = facts.iter().map(|f| f.last_seen).collect();
    for end in ends {
        let start = end.saturating_sub(span);
        let countries = tables
            .iter()
            .filter(|(lasts, suffix_min)| {
                let from = lasts.partition_point(|l| *l < start);
                from < lasts.len() && suffix_min[from] <= end
            })
            .count();
        if countries >= needed && best.is_none_or(|(n, e)| countries > n || (countries == n && end > e)) {
            best = Some((countries, end));
        }
    }
    let (_, end) = best?;
    let start = end.saturating_sub(span);
    Some(facts.iter().copied().filter(|f| f.first_seen <= end && f.last_seen >= start).collect())
}

fn alert_of(subject: &str, subject_name: Option<String>, window: &[&SightingFact], policy: &AlertPolicy) -> CollectiveAlert {
    let mut indicators = BTreeSet::new();
    let mut sightings = BTreeSet::new();
    let mut countries = BTreeSet::new();
    let mut count = 0u64;
    let mut first = i64::MAX;
    let mut last = i64::MIN;
    for f in window {
        indicators.insert(f.indicator.clone());
        if sightings.insert(f.id.clone()) {
            count = count.saturating_add(f.count);
        }
        countries.extend(f.countries.iter().cloned());
        first = first.min(f.first_seen);
        last = last.max(f.last_seen);
    }
    CollectiveAlert {
        id: alert_id(subject),
        subject: subject.to_owned(),
        subject_name,
        indicator_refs: indicators.into_iter().collect(),
        sighting_refs: sightings.into_iter().collect(),
        countries: countries.into_iter().collect(),
        sighting_count: count,
        first_seen: Timestamp::from_unix_micros(first),
        last_seen: Timestamp::from_unix_micros(last),
        threshold_countries: policy.threshold_countries as u64,
        window_hours: u64::from(policy.window_hours),
    }
}

fn union(a: &[String], b: &[String]) -> Vec<String> {
    a.iter().chain(b).cloned().collect::<BTreeSet<_>>().into_iter().collect()
}

fn is_subset(a: &[String], b: &[String]) -> bool {
    a.iter().all(|x| b.contains(x))
}

impl CollectiveAlert {
    /// What to store given the alert already stored for the same subject
    /// (`None` when there is none): `None` when `stored` already says
    /// everything this evaluation found (deduplication); otherwise the
    /// alert as it should now read. Alerts only grow: countries, indicators
    /// and sightings are the union of both, the count the larger, the time
    /// span the wider, so an alert is never weakened when its window moves on.
    pub fn update_of(self, stored: Option<&CollectiveAlert>) -> Option<CollectiveAlert> {
        let Some(old) = stored else { return Some(self) };
        if is_subset(&self.countries, &old.countries)
            && is_subset(&self.sighting_refs, &old.sighting_refs)
            && is_subset(&self.indicator_refs, &old.indicator_refs)
            && self.sighting_count <= old.sighting_count
            && self.first_seen.unix_micros() >= old.first_seen.unix_micros()
            && self.last_seen.unix_micros() <= old.last_seen.unix_micros()
        {
            return None;
        }
        Some(CollectiveAlert {
            indicator_refs: union(&self.indicator_refs, &old.indicator_refs),
            sighting_refs: union(&self.sighting_refs, &old.sighting_refs),
            countries: union(&self.countries, &old.countries),
            sighting_count: self.sighting_count.max(old.sighting_count),
            first_seen: if old.first_seen.unix_micros() < self.first_seen.unix_micros() { old.first_seen } else { self.first_seen },
            last_seen: if old.last_seen.unix_micros() > self.last_seen.unix_micros() { old.last_seen } else { self.last_seen },
            subject_name: self.subject_name.or_else(|| old.subject_name.clone()),
            ..self
        })
    }

    /// The alert as a STIX 2.1 grouping by `created_by` (the node's
    /// organisation), first raised at `created`, this version `modified`.
    /// No markings: the write rules give it the lub of the labels of what it
    /// refers to.
    pub fn to_object(&self, created_by: &str, created: Timestamp, modified: Timestamp) -> Value {
        let what = self.subject_name.clone().unwrap_or_else(|| self.subject.clone());
        let mut refs = self.indicator_refs.clone();
        if !refs.contains(&self.subject) {
            refs.push(self.subject.clone());
        }
        refs.extend(self.sighting_refs.iter().cloned());
        json!({
            "type": "grouping",
            "spec_version": "2.1",
            "id": self.id,
            "created": created.to_string(),
            "modified": modified.to_string(),
            "created_by_ref": created_by,
            "name": format!("{ALERT_NAME_PREFIX}{what} sighted in {} countries", self.countries.len()),
            "description": format!(
                "Sightings of {what} from {} ({}) between {} and {}: {} sightings, {} reports in all (threshold {} countries within {} h).",
                self.countries.len(),
                self.countries.join(", "),
                self.first_seen,
                self.last_seen,
                self.sighting_refs.len(),
                self.sighting_count,
                self.threshold_countries,
                self.window_hours
            ),
            "context": "suspicious-activity",
            "object_refs": refs,
            "extensions": {
                COLLECTIVE_ALERT_EXTENSION: {
                    "extension_type": "property-extension",
                    "subject_ref": self.subject,
                    "indicator_refs": self.indicator_refs,
                    "countries": self.countries,
                    "sighting_count": self.sighting_count,
                    "first_seen": self.first_seen.to_string(),
                    "last_seen": self.last_seen.to_string(),
                    "threshold_countries": self.threshold_countries,
                    "window_hours": self.window_hours,
                }
            }
        })
    }

    /// Reads a stored collective-alert grouping; `None` for any other object.
    pub fn from_object(v: &Value) -> Option<CollectiveAlert> {
        if v.get("type")?.as_str()? != "grouping" {
            return None;
        }
        let ext = v.get("extensions")?.get(COLLECTIVE_ALERT_EXTENSION)?;
        let strings = |value: Option<&Value>| -> Vec<String> {
            let mut out: Vec<String> = value.and_then(Value::as_array).map(|a| a.iter().filter_map(Value::as_str).map(str::to_owned).collect()).unwrap_or_default();
            out.sort();
            out.dedup();
            out
        };
        let time = |name: &str| ext.get(name).and_then(Value::as_str).and_then(|t| Timestamp::parse(t).ok());
        let indicator_refs = strings(ext.get("indicator_refs"));
        let subject = ext.get("subject_ref").and_then(Value::as_str).map(str::to_owned).or_else(|| indicator_refs.first().cloned())?;
        let sighting_refs = strings(v.get("object_refs")).into_iter().filter(|r| r.starts_with("sighting--")).collect();
        let name = v.get("name").and_then(Value::as_str).unwrap_or_default();
        let subject_name = name
            .strip_prefix(ALERT_NAME_PREFIX)
            .and_then(|rest| rest.rsplit_once(" sighted in ").map(|(what, _)| what.to_owned()))
            .filter(|what| *what != subject);
        Some(CollectiveAlert {
            id: v.get("id")?.as_str()?.to_owned(),
            subject,
            subject_name,
            indicator_refs,
            sighting_refs,
            countries: strings(ext.get("countries")),
            sighting_count: ext.get("sighting_count").and_then(Value::as_u64).unwrap_or(0),
            first_seen: time("first_seen")?,
            last_seen: time("last_seen")?,
            threshold_countries: ext.get("threshold_countries").and_then(Value::as_u64).unwrap_or(0),
            window_hours: ext.get("window_hours").and_then(Value::as_u64).unwrap_or(0),
        })
    }
}

/// Whether a stored object is a collective-alert grouping (cheap test on
/// its type and JSON text, for streams that label events).
pub fn is_alert_json(object_type: &str, json: &str) -> bool {
    object_type == "grouping" && json.contains(COLLECTIVE_ALERT_EXTENSION)
}

/// The extension-definition of [`COLLECTIVE_ALERT_EXTENSION`], published
/// by `publisher` (the Phalanx identity) at `created`, with its JSON schema.
pub fn extension_definition(publisher: &str, created: &str) -> Value {
    let id_list = json!({ "type": "array", "items": { "type": "string", "pattern": "^[a-z0-9-]+--[0-9a-f-]{36}$" } });
    let schema = json!({
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": "Phalanx collective-threat alert",
        "description": "Sightings of one indicator, or of the indicators of one campaign, intrusion set or malware, from at least threshold_countries distinct countries within window_hours.",
        "type": "object",
        "properties": {
            "extension_type": { "const": "property-extension" },
            "subject_ref": { "type": "string" },
            "indicator_refs": id_list,
            "countries": { "type": "array", "items": { "type": "string", "pattern": "^[A-Z]{3}$" } },
            "sighting_count": { "type": "integer", "minimum": 0 },
            "first_seen": { "type": "string", "format": "date-time" },
            "last_seen": { "type": "string", "format": "date-time" },
            "threshold_countries": { "type": "integer", "minimum": 1 },
            "window_hours": { "type": "integer", "minimum": 1 }
        },
        "required": ["extension_type", "indicator_refs", "countries", "sighting_count", "first_seen", "last_seen", "threshold_countries", "window_hours"]
    });
    json!({
        "type": "extension-definition",
        "spec_version": "2.1",
        "id": COLLECTIVE_ALERT_EXTENSION,
        "created_by_ref": publisher,
        "created": created,
        "modified": created,
        "name": "Phalanx collective-threat alert",
        "description": "Properties of a grouping that alerts coordinators to one threat sighted in several countries at once.",
        "schema": schema.to_string(),
        "version": "1.0.0",
        "extension_types": ["property-extension"]
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const H: i64 = 3_600_000_000;
    const T0: i64 = 1_772_323_200_000_000; // 2026-03-01T00:00:00Z

    fn fact(id: &str, indicator: &str, country: &str, hour: i64) -> SightingFact {
        SightingFact {
            id: format!("sighting--{id}"),
            indicator: indicator.into(),
            countries: [country.to_owned()].into(),
            count: 2,
            first_seen: T0 + hour * H,
            last_seen: T0 + hour * H,
        }
    }

    fn run(facts: &[SightingFact]) -> Vec<CollectiveAlert> {
        evaluate(facts, &BTreeMap::new(), &BTreeMap::new(), &AlertPolicy::default())
    }

    #[test]
    fn three_countries_within_a_day_raise_one_alert_per_indicator() {
        let facts = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--a", "EST", 5), fact("3", "indicator--a", "LVA", 20)];
        let alerts = run(&facts);
        assert_eq!(alerts.len(), 1);
        let a = &alerts[0];
        assert_eq!(a.countries, ["EST", "LTU", "LVA"]);
        assert_eq!(a.sighting_count, 6);
        assert_eq!(a.id, alert_id("indicator--a"));
        assert_eq!(a.first_seen.unix_micros(), T0);
        assert_eq!(a.last_seen.unix_micros(), T0 + 20 * H);
    }

    #[test]
    fn too_few_countries_or_too_far_apart_raise_nothing() {
        let two = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--a", "LTU", 1), fact("3", "indicator--a", "EST", 2)];
        assert!(run(&two).is_empty(), "one country twice is one country");
        let apart = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--a", "EST", 5), fact("3", "indicator--a", "LVA", 30)];
        assert!(run(&apart).is_empty(), "the third country came 30 h after the first");
        let split = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--b", "EST", 1), fact("3", "indicator--c", "LVA", 2)];
        assert!(run(&split).is_empty(), "three indicators with nothing linking them");
        let nowhere = SightingFact { countries: BTreeSet::new(), ..fact("4", "indicator--a", "X", 1) };
        assert!(run(&[fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--a", "EST", 5), nowhere]).is_empty());
    }

    #[test]
    fn many_sightings_of_one_indicator_evaluate_quickly_and_alike() {
        // 20,000 sightings from one country, then two more countries within the day.
        let mut facts: Vec<SightingFact> = (0..20_000).map(|i| fact(&i.to_string(), "indicator--a", "LTU", i % 500)).collect();
        assert!(run(&facts).is_empty());
        facts.push(fact("x", "indicator--a", "EST", 499));
        facts.push(fact("y", "indicator--a", "LVA", 505));
        let started = std::time::Instant::now();
        let alerts = run(&facts);
        assert!(started.elapsed() < std::time::Duration::from_secs(5), "{:?}", started.elapsed());
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].countries, ["EST", "LTU", "LVA"]);
        // The window ending at hour 505 starts at hour 481: LTU's hours 481..=499 are in it.
        assert_eq!(alerts[0].first_seen.unix_micros(), T0 + 481 * H);
        assert_eq!(alerts[0].sighting_refs.len(), 19 * 40 + 2);
    }

    #[test]
    fn a_long_sighting_overlaps_a_later_window() {
        let mut long = fact("1", "indicator--a", "LTU", 0);
        long.last_seen = T0 + 40 * H;
        let facts = [long, fact("2", "indicator--a", "EST", 30), fact("3", "indicator--a", "LVA", 35)];
        assert_eq!(run(&facts).len(), 1);
    }

    #[test]
    fn indicators_of_one_campaign_alert_together() {
        let facts = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--b", "EST", 1), fact("3", "indicator--c", "LVA", 2)];
        let mut groups = BTreeMap::new();
        for i in ["indicator--a", "indicator--b", "indicator--c"] {
            groups.insert(i.to_owned(), BTreeSet::from(["campaign--x".to_owned()]));
        }
        let names = BTreeMap::from([("campaign--x".to_owned(), "Ghostwriter".to_owned())]);
        let alerts = evaluate(&facts, &groups, &names, &AlertPolicy::default());
        assert_eq!(alerts.len(), 1);
        assert_eq!(alerts[0].subject, "campaign--x");
        assert_eq!(alerts[0].indicator_refs, ["indicator--a", "indicator--b", "indicator--c"]);
        assert_eq!(alerts[0].subject_name.as_deref(), Some("Ghostwriter"));
    }

    #[test]
    fn the_policy_sets_the_threshold_and_window() {
        let facts = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--a", "EST", 30)];
        let policy = AlertPolicy { threshold_countries: 2, window_hours: 48 };
        let alerts = evaluate(&facts, &BTreeMap::new(), &BTreeMap::new(), &policy);
        assert_eq!(alerts.len(), 1);
        assert_eq!((alerts[0].threshold_countries, alerts[0].window_hours), (2, 48));
        let narrow = AlertPolicy { threshold_countries: 2, window_hours: 12 };
        assert!(evaluate(&facts, &BTreeMap::new(), &BTreeMap::new(), &narrow).is_empty());
    }

    #[test]
    fn updates_only_when_more_is_known_and_never_shrink() {
        let three = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--a", "EST", 5), fact("3", "indicator--a", "LVA", 20)];
        let first = run(&three).remove(0);
        assert_eq!(first.clone().update_of(None).as_ref(), Some(&first));
        assert_eq!(run(&three).remove(0).update_of(Some(&first)), None, "same evidence: deduplicated");
        let mut four = three.to_vec();
        four.push(fact("4", "indicator--a", "POL", 21));
        let updated = run(&four).remove(0).update_of(Some(&first)).expect("a fourth nation reported");
        assert_eq!(updated.countries, ["EST", "LTU", "LVA", "POL"]);
        assert_eq!(updated.id, first.id);
        // The window moved on: the older sightings fall out, the alert keeps them.
        let later = [fact("2", "indicator--a", "EST", 5), fact("3", "indicator--a", "LVA", 20), fact("4", "indicator--a", "POL", 21)];
        assert_eq!(run(&later).remove(0).update_of(Some(&updated)), None);
    }

    #[test]
    fn the_grouping_round_trips_and_is_valid_stix() {
        let facts = [fact("1", "indicator--a", "LTU", 0), fact("2", "indicator--a", "EST", 5), fact("3", "indicator--a", "LVA", 20)];
        let mut facts = facts.to_vec();
        for (i, f) in facts.iter_mut().enumerate() {
            f.id = format!("sighting--0000000{i}-0000-4000-8000-000000000000");
            f.indicator = "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f".into();
        }
        let alert = run(&facts).remove(0);
        let created = Timestamp::parse("2026-03-02T00:00:00.000Z").unwrap();
        let v = alert.to_object("identity--7e0a3c7e-6a8c-4a0b-9d6e-1f2a3b4c5d6e", created, created);
        assert!(v["name"].as_str().unwrap().starts_with(ALERT_NAME_PREFIX));
        assert_eq!(v["context"], "suspicious-activity");
        assert_eq!(v["object_refs"].as_array().unwrap().len(), 4);
        let parsed = phalanx_model::StixObject::from_value(v.clone(), "$");
        assert!(parsed.is_ok(), "{parsed:?}");
        assert_eq!(CollectiveAlert::from_object(&v), Some(alert));
        assert!(is_alert_json("grouping", &v.to_string()));
        assert_eq!(CollectiveAlert::from_object(&json!({"type": "grouping", "id": "grouping--1"})), None);
        let def = extension_definition("identity--bf8caf51-eca8-512c-b423-6318b918f42a", "2026-01-01T00:00:00.000Z");
        assert!(phalanx_model::StixObject::from_value(def, "$").is_ok());
    }

    #[test]
    fn sighting_facts_take_countries_from_where_sighted_then_creator() {
        let v = json!({
            "type": "sighting", "id": "sighting--1", "sighting_of_ref": "indicator--a", "created": "2026-03-01T00:00:00Z",
            "where_sighted_refs": ["identity--lt", "identity--unknown"], "created_by_ref": "identity--ee", "count": 4,
            "first_seen": "2026-03-01T01:00:00Z"
        });
        let countries = |id: &str| match id {
            "identity--lt" => Some("LTU".to_owned()),
            "identity--ee" => Some("EST".to_owned()),
            _ => None,
        };
        let f = SightingFact::from_object(&v, &countries).unwrap();
        assert_eq!(f.countries, BTreeSet::from(["LTU".to_owned()]));
        assert_eq!((f.count, f.first_seen, f.last_seen), (4, T0 + H, T0 + H));
        let mut v2 = v.clone();
        v2["where_sighted_refs"] = json!(["identity--unknown"]);
        assert_eq!(SightingFact::from_object(&v2, &countries).unwrap().countries, BTreeSet::from(["EST".to_owned()]));
    }
}
