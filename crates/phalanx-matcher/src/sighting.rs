//! Matches to sightings: one summary per indicator with the count and the
//! first and last time seen. Pure; posting `sighting` objects to a node is
//! the caller's business (future work of issue 6).

use crate::stream::MatchRecord;
use std::collections::BTreeMap;

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

/// Aggregates match records per indicator, in indicator id order.
pub fn aggregate<'a>(records: impl IntoIterator<Item = &'a MatchRecord>) -> Vec<SightingSummary> {
    let mut by: BTreeMap<&str, SightingSummary> = BTreeMap::new();
    for r in records {
        let s = by.entry(&r.indicator).or_insert_with(|| SightingSummary { indicator: r.indicator.clone(), count: 0, first_seen: None, last_seen: None });
        s.count += 1;
        if let Some(t) = r.time {
            s.first_seen = Some(s.first_seen.map_or(t, |f| f.min(t)));
            s.last_seen = Some(s.last_seen.map_or(t, |l| l.max(t)));
        }
    }
    by.into_values().collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_and_first_last_seen_per_indicator() {
        let rec = |id: &str, t: Option<i64>| MatchRecord { indicator: id.into(), field: None, value: String::new(), time: t, source: String::new() };
        let rs = [rec("b", Some(5)), rec("a", None), rec("b", Some(2)), rec("b", Some(9))];
        let s = aggregate(&rs);
        assert_eq!(s.len(), 2);
        assert_eq!(s[0], SightingSummary { indicator: "a".into(), count: 1, first_seen: None, last_seen: None });
        assert_eq!(s[1], SightingSummary { indicator: "b".into(), count: 3, first_seen: Some(2), last_seen: Some(9) });
    }
}
