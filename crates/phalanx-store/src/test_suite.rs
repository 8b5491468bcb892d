//! The backend test suite: every backend runs these same tests through
//! [`store_test_suite!`] (Quickwit's metastore pattern).

use crate::ingest::{Ingest, IngestOptions};
use crate::registry::{AuditBreak, verify_audit_chain};
use crate::*;
use phalanx_labels::{LabelDefaults, Organisation, Pap, Policy, Rank, Reader, Tlp, can_read};
use phalanx_model::{StixObject, Timestamp};
use serde_json::{Value, json};
use std::collections::{BTreeSet, HashSet};

/// Declares the suite's tests for a backend; `$make` returns
/// `(guard, store)` where the guard keeps the backend's resources alive.
macro_rules! store_test_suite {
    ($make:expr) => {
        mod suite {
            use super::*;
            #[test]
            fn versions_are_kept_and_selected() {
                let (_g, s) = $make();
                $crate::test_suite::versions_are_kept_and_selected(&s);
            }
            #[test]
            fn same_content_is_unchanged_other_content_conflicts() {
                let (_g, s) = $make();
                $crate::test_suite::same_content_is_unchanged_other_content_conflicts(&s);
            }
            #[test]
            fn date_added_strictly_increases() {
                let (_g, s) = $make();
                $crate::test_suite::date_added_strictly_increases(&s);
            }
            #[test]
            fn dropped_transaction_writes_nothing() {
                let (_g, s) = $make();
                $crate::test_suite::dropped_transaction_writes_nothing(&s);
            }
            #[test]
            fn pages_counts_and_search_are_filtered_in_the_query() {
                let (_g, s) = $make();
                $crate::test_suite::pages_counts_and_search_are_filtered_in_the_query(&s);
            }
            #[test]
            fn values_are_searched_in_normal_form_not_as_words() {
                let (_g, s) = $make();
                $crate::test_suite::values_are_searched_in_normal_form_not_as_words(&s);
            }
            #[test]
            fn merged_pages_equal_one_sorted_read() {
                let (_g, s) = $make();
                $crate::test_suite::merged_pages_equal_one_sorted_read(&s);
            }
            #[test]
            fn pages_of_a_reader_of_every_class_equal_one_sorted_read() {
                let (_g, s) = $make();
                $crate::test_suite::pages_of_a_reader_of_every_class_equal_one_sorted_read(&s);
            }
            #[test]
            fn label_filters_narrow_the_read_rule() {
                let (_g, s) = $make();
                $crate::test_suite::label_filters_narrow_the_read_rule(&s);
            }
            #[test]
            fn relations_and_added_before_are_selected_in_the_query() {
                let (_g, s) = $make();
                $crate::test_suite::relations_and_added_before_are_selected_in_the_query(&s);
            }
            #[test]
            fn last_version_is_the_newest_readable_one() {
                let (_g, s) = $make();
                $crate::test_suite::last_version_is_the_newest_readable_one(&s);
            }
            #[test]
            fn last_versions_of_a_reader_of_every_class() {
                let (_g, s) = $make();
                $crate::test_suite::last_versions_of_a_reader_of_every_class(&s);
            }
            #[test]
            fn registry_and_audit_chain() {
                let (_g, s) = $make();
                $crate::test_suite::registry_and_audit_chain(&s);
            }
            #[test]
            fn ingest_applies_the_write_rules() {
                let (_g, s) = $make();
                $crate::test_suite::ingest_applies_the_write_rules(&s);
            }
            #[test]
            fn one_ingest_answers_each_label_again_alike() {
                let (_g, s) = $make();
                $crate::test_suite::one_ingest_answers_each_label_again_alike(&s);
            }
            #[test]
            fn one_marking_list_under_several_originators_keeps_each_originator() {
                let (_g, s) = $make();
                $crate::test_suite::one_marking_list_under_several_originators_keeps_each_originator(&s);
            }
            #[test]
            fn store_equals_the_pure_rule_for_random_worlds() {
                $crate::test_suite::store_equals_the_pure_rule_for_random_worlds(&|| $make());
            }
        }
    };
}

/// Parses a JSON value into a StixObject or panics (test data only).
pub fn obj(v: Value) -> StixObject {
    match StixObject::from_value(v, "$") {
        Ok(p) => p.object,
        Err(e) => panic!("test object invalid: {e}"),
    }
}

fn indicator(id: &str, modified: &str, name: &str) -> StixObject {
    obj(json!({
        "type": "indicator", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": modified,
        "name": name, "description": format!("{name} described"),
        "pattern": "[ipv4-addr:value = '198.51.100.7']", "pattern_type": "stix",
        "valid_from": "2026-01-01T00:00:00Z"
    }))
}

fn org(id: &str, country: &str, groups: &[&str]) -> Organisation {
    let mut o = Organisation::new(id);
    o.country = Some(country.into());
    o.memberships = groups.iter().map(|g| g.to_string()).collect();
    o
}

fn reader(o: &Organisation, clearance: Rank, briefed: &[Policy]) -> Subject {
    let mut r = Reader::new(o.clone());
    r.clearance = clearance;
    r.briefed = briefed.iter().cloned().collect();
    Subject::User(r)
}

fn put_all(store: &dyn Store, items: &[(StixObject, Label)]) {
    let mut txn = store.begin().expect("begin");
    for (o, l) in items {
        let json = o.to_json_string();
        txn.put(NewVersion { object: o, json: &json, label: l, origin: "test" }).expect("put");
    }
    txn.commit().expect("commit");
}

const ORG_A: &str = "identity--a0000000-0000-4000-8000-000000000001";
const ORG_B: &str = "identity--b0000000-0000-4000-8000-000000000002";
const IND: &str = "indicator--c0000000-0000-4000-8000-000000000003";

fn green(originator: &str) -> Label {
    Label::unclassified(Tlp::Green).with_originator(Some(originator.into()))
}

pub fn versions_are_kept_and_selected(store: &dyn Store) {
    let v1 = indicator(IND, "2026-01-01T00:00:00.000Z", "one");
    let v2 = indicator(IND, "2026-02-01T00:00:00.123456Z", "two");
    let v3 = indicator(IND, "2026-01-15T00:00:00.5000Z", "between");
    put_all(store, &[(v1, green(ORG_A)), (v2, green(ORG_A)), (v3, green(ORG_A))]);
    let r = reader(&org(ORG_A, "LTU", &["EU"]), Rank::Unclassified, &[]);
    let last = store.get(&r, IND, &VersionFilter::Last).unwrap();
    assert_eq!(last.len(), 1);
    assert!(last[0].json.contains("\"two\""));
    assert_eq!(last[0].version.unwrap().to_string(), "2026-02-01T00:00:00.123456Z", "digits kept");
    let first = store.get(&r, IND, &VersionFilter::First).unwrap();
    assert!(first[0].json.contains("\"one\""));
    let all = store.get(&r, IND, &VersionFilter::All).unwrap();
    assert_eq!(all.len(), 3);
    let exact = store
        .get(&r, IND, &VersionFilter::Exact(vec![Timestamp::parse("2026-01-15T00:00:00.500Z").unwrap()]))
        .unwrap();
    assert_eq!(exact.len(), 1, "exact versions compare as instants");
    assert!(exact[0].json.contains("between"));
    let both = store.get(&r, IND, &VersionFilter::AnyOf(vec![VersionFilter::First, VersionFilter::Last])).unwrap();
    assert_eq!(both.len(), 2);
    assert!(store.get(&r, "indicator--d0000000-0000-4000-8000-000000000009", &VersionFilter::All).unwrap().is_empty());
}

pub fn same_content_is_unchanged_other_content_conflicts(store: &dyn Store) {
    let v1 = indicator(IND, "2026-01-01T00:00:00.000Z", "one");
    put_all(store, &[(v1.clone(), green(ORG_A))]);
    // Same content, members in another order: unchanged.
    let mut reordered: Vec<(String, Value)> = v1.map().clone().into_iter().collect();
    reordered.reverse();
    let reordered = obj(Value::Object(reordered.into_iter().collect()));
    let mut txn = store.begin().unwrap();
    let json = reordered.to_json_string();
    let out = txn.put(NewVersion { object: &reordered, json: &json, label: &green(ORG_A), origin: "t" }).unwrap();
    assert_eq!(out, PutOutcome::Unchanged);
    let other = indicator(IND, "2026-01-01T00:00:00.000Z", "changed");
    let json = other.to_json_string();
    let err = txn.put(NewVersion { object: &other, json: &json, label: &green(ORG_A), origin: "t" }).unwrap_err();
    assert!(matches!(err, StoreError::Conflict { .. }), "{err}");
    assert!(err.to_string().contains(IND));
}

pub fn date_added_strictly_increases(store: &dyn Store) {
    let mut last = None;
    for batch in 0..3 {
        let mut txn = store.begin().unwrap();
        for i in 0..200 {
            let ip = format!("10.{batch}.{}.{}", i / 256, i % 256);
            let o = obj(json!({"type": "ipv4-addr", "value": ip}));
            let json = o.to_json_string();
            match txn.put(NewVersion { object: &o, json: &json, label: &green(ORG_A), origin: "t" }).unwrap() {
                PutOutcome::Stored { date_added } => {
                    if let Some(prev) = last {
                        assert!(date_added > prev, "date_added must strictly increase");
                    }
                    last = Some(date_added);
                }
                PutOutcome::Unchanged => panic!("new object reported unchanged"),
            }
        }
        txn.commit().unwrap();
    }
    let r = reader(&org(ORG_A, "LTU", &[]), Rank::Unclassified, &[]);
    let page = store.query(&r, &Query { versions: VersionFilter::All, ..Query::default() }).unwrap();
    assert_eq!(page.objects.len(), 600);
    for w in page.objects.windows(2) {
        assert!(w[1].date_added > w[0].date_added);
    }
}

pub fn dropped_transaction_writes_nothing(store: &dyn Store) {
    {
        let mut txn = store.begin().unwrap();
        let o = indicator(IND, "2026-01-01T00:00:00.000Z", "one");
        let json = o.to_json_string();
        txn.put(NewVersion { object: &o, json: &json, label: &green(ORG_A), origin: "t" }).unwrap();
        txn.audit("test", "write", IND, &json!({})).unwrap();
        // dropped without commit
    }
    let r = reader(&org(ORG_A, "LTU", &[]), Rank::Unclassified, &[]);
    assert!(store.get(&r, IND, &VersionFilter::All).unwrap().is_empty());
    assert!(store.audit_entries(0, 10).unwrap().is_empty());
    // The store is usable after the rollback.
    put_all(store, &[(indicator(IND, "2026-01-01T00:00:00.000Z", "one"), green(ORG_A))]);
    assert_eq!(store.get(&r, IND, &VersionFilter::All).unwrap().len(), 1);
}

/// An analyst briefed for EU classified information.
fn eu_analyst(id: &str, name: &str, org_id: &str, clearance: Rank, created: Timestamp) -> UserRecord {
    UserRecord {
        id: id.into(),
        name: name.into(),
        org_id: org_id.into(),
        role: Role::Analyst,
        clearance,
        briefed: [Policy::Eu].into_iter().collect(),
        caveats: BTreeSet::new(),
        password_hash: None,
        created,
        disabled: false,
    }
}

fn secret_eu(originator: &str) -> Label {
    Label {
        policy: Policy::Eu,
        classification: Rank::Secret,
        releasable_to: BTreeSet::new(),
        caveats: BTreeSet::new(),
        tlp: Some(Tlp::Green),
        pap: Some(Pap::Amber),
        exercise: None,
        originator: Some(originator.into()),
    }
}

pub fn pages_counts_and_search_are_filtered_in_the_query(store: &dyn Store) {
    // 300 objects: every third is EU SECRET, the rest TLP:GREEN.
    let mut items = Vec::new();
    for i in 0..300 {
        let id = format!("indicator--e0000000-0000-4000-8000-{i:012}");
        let name = if i % 3 == 0 { format!("secret ransomware {i}") } else { format!("open ransomware {i}") };
        let label = if i % 3 == 0 { secret_eu(ORG_A) } else { green(ORG_A) };
        items.push((indicator(&id, "2026-01-01T00:00:00.000Z", &name), label));
    }
    put_all(store, &items);
    let cleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Secret, &[Policy::Eu]);
    let uncleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Restricted, &[Policy::Eu]);
    let q = Query { types: vec!["indicator".into()], limit: 100, ..Query::default() };
    assert_eq!(store.count(&cleared, &q).unwrap(), 300);
    assert_eq!(store.count(&uncleared, &q).unwrap(), 200);
    // Paging: full pages of readable objects, no duplicates, nothing missing.
    let mut seen = HashSet::new();
    let mut query = q.clone();
    loop {
        let page = store.query(&uncleared, &query).unwrap();
        for o in &page.objects {
            assert!(!o.json.contains("secret ransomware"), "leak: {}", o.id);
            assert!(seen.insert(o.id.clone()), "duplicate {}", o.id);
        }
        if !page.more {
            assert!(page.objects.len() <= 100);
            break;
        }
        assert_eq!(page.objects.len(), 100, "a page of 100 is 100 readable objects");
        query.after = page.next;
    }
    assert_eq!(seen.len(), 200);
    // Full text: the search itself is filtered.
    let text = Query { text: Some("secret".into()), ..Query::default() };
    assert_eq!(store.count(&cleared, &text).unwrap(), 100);
    assert_eq!(store.count(&uncleared, &text).unwrap(), 0);
    assert!(store.query(&uncleared, &text).unwrap().objects.is_empty());
    let prefix = Query { text: Some("ransom".into()), ..Query::default() };
    assert_eq!(store.count(&uncleared, &prefix).unwrap(), 200);
    // FTS syntax in user text is quoted, never interpreted.
    assert!(store.count(&cleared, &Query { text: Some("\"NEAR( OR *".into()), ..Query::default() }).is_ok());
    // Anonymous: TLP:GREEN is not public.
    assert_eq!(store.count(&Subject::Anonymous, &q).unwrap(), 0);
    // Stats are filtered too.
    assert_eq!(store.stats(&uncleared).unwrap().objects, 200);
}

/// The ids a text search finds for `reader`, sorted.
fn searched(store: &dyn Store, reader: &Subject, text: &str) -> Vec<String> {
    let query = Query { text: Some(text.into()), limit: 100, ..Query::default() };
    let mut ids: Vec<String> = store.query(reader, &query).expect("search").objects.into_iter().map(|o| o.id).collect();
    ids.sort();
    assert_eq!(store.count(reader, &query).expect("count") as usize, ids.len(), "count of {text}");
    ids
}

/// A search for an address, a domain, a hash or an e-mail address finds
/// the objects that hold that value, in normal form (a domain: and its
/// subdomains), not objects that merely share its digits or labels as
/// words; words still find names, descriptions, and values the value
/// index does not hold.
pub fn values_are_searched_in_normal_form_not_as_words(store: &dyn Store) {
    let pattern_indicator = |n: u32, name: &str, pattern: &str, pattern_type: &str| {
        obj(json!({
            "type": "indicator", "spec_version": "2.1", "id": format!("indicator--d0000000-0000-4000-8000-{n:012}"),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "name": name, "pattern": pattern, "pattern_type": pattern_type, "valid_from": "2026-01-01T00:00:00Z"
        }))
    };
    let address = obj(json!({"type": "ipv4-addr", "spec_version": "2.1", "value": "198.51.100.7"}));
    let exact = pattern_indicator(1, "alpha", "[ipv4-addr:value = '198.51.100.7']", "stix");
    let same_digits = pattern_indicator(2, "beta", "[ipv4-addr:value = '7.100.51.198']", "stix");
    let block = pattern_indicator(3, "gamma", "[ipv4-addr:value ISSUBSET '198.51.100.0/24']", "stix");
    let sigma = pattern_indicator(4, "delta", "title: suspicious powershell download", "sigma");
    let sighting = obj(json!({
        "type": "sighting", "spec_version": "2.1", "id": "sighting--d0000000-0000-4000-8000-000000000005",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z", "sighting_of_ref": exact.id().as_str()
    }));
    let domain = obj(json!({"type": "domain-name", "spec_version": "2.1", "value": "Evil.Example.COM"}));
    let subdomain = obj(json!({"type": "domain-name", "spec_version": "2.1", "value": "mail.evil.example.com"}));
    let secret_subdomain = obj(json!({"type": "domain-name", "spec_version": "2.1", "value": "c2.evil.example.com"}));
    let other = obj(json!({"type": "domain-name", "spec_version": "2.1", "value": "notevil.example.com"}));
    let file = obj(json!({"type": "file", "spec_version": "2.1", "name": "dropper.exe",
        "hashes": {"MD5": "0123456789ABCDEF0123456789ABCDEF"}}));
    let mail = obj(json!({"type": "email-addr", "spec_version": "2.1", "value": "Phish@Example.org"}));
    let mac = obj(json!({"type": "mac-addr", "spec_version": "2.1", "value": "00:11:22:33:44:55"}));
    let mut items: Vec<(StixObject, Label)> = [&address, &exact, &same_digits, &block, &sigma, &sighting, &domain, &subdomain, &other, &file, &mail, &mac]
        .into_iter()
        .map(|o| (o.clone(), green(ORG_A)))
        .collect();
    items.push((secret_subdomain.clone(), secret_eu(ORG_A)));
    put_all(store, &items);
    let cleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Secret, &[Policy::Eu]);
    let uncleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Restricted, &[Policy::Eu]);
    let ids = |objects: &[&StixObject]| {
        let mut ids: Vec<String> = objects.iter().map(|o| o.id().as_str().to_owned()).collect();
        ids.sort();
        ids
    };
    // The address and the indicator that tests it; not the indicator of
    // the same digits, nor the sighting that borrows its indicator's value.
    assert_eq!(searched(store, &uncleared, "198.51.100.7"), ids(&[&address, &exact]));
    assert_eq!(searched(store, &uncleared, " 198.51.100.7 "), ids(&[&address, &exact]));
    assert_eq!(searched(store, &uncleared, "198.51.100.0/24"), ids(&[&block]));
    // A domain in any case finds itself and its subdomains, each only for
    // a reader who may read it.
    assert_eq!(searched(store, &uncleared, "evil.EXAMPLE.com"), ids(&[&domain, &subdomain]));
    assert_eq!(searched(store, &cleared, "evil.example.com"), ids(&[&domain, &subdomain, &secret_subdomain]));
    assert_eq!(searched(store, &uncleared, "mail.evil.example.com"), ids(&[&subdomain]));
    assert_eq!(searched(store, &uncleared, "0123456789abcdef0123456789abcdef"), ids(&[&file]));
    assert_eq!(searched(store, &uncleared, "phish@example.org"), ids(&[&mail]));
    // Values the value index does not hold are words.
    assert_eq!(searched(store, &uncleared, "00:11:22:33:44:55"), ids(&[&mac]));
    assert_eq!(searched(store, &uncleared, "powershell"), ids(&[&sigma]));
    assert_eq!(searched(store, &uncleared, "dropper"), ids(&[&file]));
    // Names are words; a value's parts are not.
    assert_eq!(searched(store, &uncleared, "gamma"), ids(&[&block]));
    assert!(searched(store, &uncleared, "example").is_empty());
    assert!(searched(store, &uncleared, "51").is_empty());
}

/// The `seq` of every object `query` selects, read page by page (each page
/// at most `query.limit` long), following the cursors.
fn paged_seqs(store: &dyn Store, reader: &Subject, mut query: Query) -> Vec<i64> {
    let mut paged = Vec::new();
    loop {
        let page = store.query(reader, &query).unwrap();
        assert!(page.objects.len() <= query.limit);
        paged.extend(page.objects.iter().map(|o| o.seq));
        if !page.more {
            return paged;
        }
        query.after = page.next;
    }
}

/// Pages read by merging per-class and per-type index walks (limit > 0)
/// must list exactly what one unlimited, sorted statement lists.
pub fn merged_pages_equal_one_sorted_read(store: &dyn Store) {
    let tlps = [Tlp::Clear, Tlp::Green, Tlp::Amber];
    let mut items = Vec::new();
    for i in 0..90 {
        let originator = if i % 2 == 0 { ORG_A } else { ORG_B };
        let label = Label::unclassified(tlps[i % 3]).with_originator(Some(originator.into()));
        let object = if i % 4 == 0 {
            obj(json!({"type": "malware", "spec_version": "2.1", "id": format!("malware--d0000000-0000-4000-8000-{i:012}"),
                "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
                "name": format!("m{i}"), "is_family": false}))
        } else {
            indicator(&format!("indicator--d0000000-0000-4000-8000-{i:012}"), "2026-01-01T00:00:00.000Z", &format!("i{i}"))
        };
        items.push((object, label));
    }
    // Written in three transactions so classes interleave in date_added.
    for chunk in items.chunks(30) {
        put_all(store, chunk);
    }
    let r = reader(&org(ORG_A, "LTU", &["EU"]), Rank::Unclassified, &[]);
    for types in [vec![], vec!["indicator".to_string()], vec!["indicator".to_string(), "malware".to_string()]] {
        for order in [Order::AddedAscending, Order::AddedDescending] {
            let all = Query { types: types.clone(), order, ..Query::default() };
            let expected: Vec<i64> = store.query(&r, &all).unwrap().objects.iter().map(|o| o.seq).collect();
            assert!(expected.len() >= 20, "the reader sees a good part of the data");
            let mut sorted = expected.clone();
            sorted.sort();
            if order == Order::AddedDescending {
                sorted.reverse();
            }
            assert_eq!(expected, sorted, "one statement returns date_added order");
            assert_eq!(paged_seqs(store, &r, Query { limit: 7, ..all.clone() }), expected, "types {types:?}, {order:?}");
        }
    }
}

/// A reader of every access class (the SQLite store then walks the table
/// in `date_added` order instead of merging per-class index walks) gets
/// the same pages as one sorted read, in both orders and after a given
/// `date_added`.
pub fn pages_of_a_reader_of_every_class_equal_one_sorted_read(store: &dyn Store) {
    let tlps = [Tlp::Clear, Tlp::Green, Tlp::Amber];
    let mut items = Vec::new();
    for i in 0..60 {
        let label = Label::unclassified(tlps[i % 3]).with_originator(Some(ORG_A.into()));
        items.push((indicator(&format!("indicator--e0000000-0000-4000-8000-{i:012}"), "2026-01-01T00:00:00.000Z", &format!("i{i}")), label));
    }
    for chunk in items.chunks(20) {
        put_all(store, chunk);
    }
    let r = reader(&org(ORG_A, "LTU", &["EU"]), Rank::Unclassified, &[]);
    assert!(items.iter().all(|(_, l)| can_read(&r, l)), "the reader reads every class of the store");
    let everything: Vec<StoredObject> = store.query(&r, &Query::default()).unwrap().objects;
    assert_eq!(everything.len(), 60);
    let middle = everything[24].date_added;
    for order in [Order::AddedAscending, Order::AddedDescending] {
        for added_after in [None, Some(middle)] {
            let mut expected: Vec<i64> =
                everything.iter().filter(|o| added_after.is_none_or(|t| o.date_added > t)).map(|o| o.seq).collect();
            expected.sort();
            if order == Order::AddedDescending {
                expected.reverse();
            }
            let paged = paged_seqs(store, &r, Query { limit: 7, order, added_after, ..Query::default() });
            assert_eq!(paged, expected, "{order:?}, added after {added_after:?}");
        }
    }
}

pub fn label_filters_narrow_the_read_rule(store: &dyn Store) {
    // 30 objects: REL TO NATO, REL TO EU by default community, green public.
    let mut items = Vec::new();
    for i in 0..30 {
        let id = format!("indicator--f0000000-0000-4000-8000-{i:012}");
        let label = match i % 3 {
            0 => Label { releasable_to: ["NATO".to_string()].into(), ..green(ORG_A) },
            1 => secret_eu(ORG_A),
            _ => green(ORG_B),
        };
        items.push((indicator(&id, "2026-01-01T00:00:00.000Z", &format!("item {i}")), label));
    }
    put_all(store, &items);
    let both = reader(&org(ORG_A, "LTU", &["EU", "NATO"]), Rank::Secret, &[Policy::Eu]);
    let with = |filter: LabelFilter| Query { label: Some(filter), ..Query::default() };
    let nato = with(LabelFilter { audience: vec!["NATO".into()], ..LabelFilter::default() });
    assert_eq!(store.count(&both, &nato).unwrap(), 10);
    let eu = with(LabelFilter { audience: vec!["EU".into()], ..LabelFilter::default() });
    assert_eq!(store.count(&both, &eu).unwrap(), 10, "an empty releasable_to under EU is the EU community");
    let secret = with(LabelFilter { min_classification: Some(Rank::Restricted), ..LabelFilter::default() });
    let page = store.query(&both, &secret).unwrap();
    assert_eq!(page.objects.len(), 10);
    let by_b = with(LabelFilter { originators: vec![ORG_B.into()], ..LabelFilter::default() });
    assert_eq!(store.count(&both, &by_b).unwrap(), 10);
    // A filter never widens: a reader without clearance gets nothing secret.
    let uncleared = reader(&org(ORG_A, "LTU", &["EU", "NATO"]), Rank::Unclassified, &[]);
    assert_eq!(store.count(&uncleared, &secret).unwrap(), 0);
    assert_eq!(store.count(&uncleared, &eu).unwrap(), 0);
    let green_only = with(LabelFilter { tlp: vec![Some(Tlp::Green)], ..LabelFilter::default() });
    assert_eq!(store.count(&uncleared, &green_only).unwrap(), 20);
}

fn relationship(id: &str, source: &str, target: &str) -> StixObject {
    obj(json!({
        "type": "relationship", "spec_version": "2.1", "id": id,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "relationship_type": "indicates", "source_ref": source, "target_ref": target
    }))
}

pub fn relations_and_added_before_are_selected_in_the_query(store: &dyn Store) {
    let public = "indicator--a1000000-0000-4000-8000-000000000001";
    let secret = "indicator--a1000000-0000-4000-8000-000000000002";
    let open_rel = "relationship--a2000000-0000-4000-8000-000000000001";
    let to_secret = "relationship--a2000000-0000-4000-8000-000000000002";
    let dangling = "relationship--a2000000-0000-4000-8000-000000000003";
    let missing = "indicator--a1000000-0000-4000-8000-000000000009";
    put_all(
        store,
        &[
            (indicator(public, "2026-01-01T00:00:00.000Z", "public"), green(ORG_A)),
            (indicator(secret, "2026-01-01T00:00:00.000Z", "secret"), secret_eu(ORG_A)),
            (relationship(open_rel, public, public), green(ORG_A)),
            // Green, but its other end is secret: a reader without clearance
            // must not learn of it through the relationship.
            (relationship(to_secret, public, secret), green(ORG_A)),
            (relationship(dangling, public, missing), green(ORG_A)),
        ],
    );
    let cleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Secret, &[Policy::Eu]);
    let uncleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Unclassified, &[]);
    let ids = |page: Page| page.objects.into_iter().map(|o| o.id).collect::<BTreeSet<_>>();
    let referencing = Query { referencing: vec![public.into()], ..Query::default() };
    assert_eq!(ids(store.query(&uncleared, &referencing).unwrap()).len(), 3, "without readable_ends every relation is selected");
    let guarded = Query { readable_ends: true, ..referencing.clone() };
    assert_eq!(ids(store.query(&cleared, &guarded).unwrap()), BTreeSet::from([open_rel.to_string(), to_secret.to_string()]));
    assert_eq!(ids(store.query(&uncleared, &guarded).unwrap()), BTreeSet::from([open_rel.to_string()]));
    assert_eq!(store.count(&uncleared, &guarded).unwrap(), 1);
    let to_hidden = Query { referencing: vec![secret.into()], readable_ends: true, ..Query::default() };
    assert_eq!(store.count(&uncleared, &to_hidden).unwrap(), 0);
    // Objects without relationship references are not affected by readable_ends.
    let all = Query { readable_ends: true, types: vec!["indicator".into()], ..Query::default() };
    assert_eq!(store.count(&cleared, &all).unwrap(), 2);
    // A deleted relationship leaves the reference index.
    assert_eq!(store.delete_versions(open_rel, &VersionFilter::All).unwrap(), 1);
    assert_eq!(store.count(&cleared, &referencing).unwrap(), 2);
    // added_before: strictly before the given instant.
    let page = store.query(&cleared, &Query { versions: VersionFilter::All, ..Query::default() }).unwrap();
    let third = page.objects[2].date_added;
    let before = Query { added_before: Some(third), versions: VersionFilter::All, ..Query::default() };
    assert_eq!(store.count(&cleared, &before).unwrap(), 2);
    let window = Query { added_after: Some(page.objects[0].date_added), ..before };
    assert_eq!(ids(store.query(&cleared, &window).unwrap()), BTreeSet::from([secret.to_string()]));
}

pub fn last_version_is_the_newest_readable_one(store: &dyn Store) {
    let v1 = indicator(IND, "2026-01-01T00:00:00.000Z", "public one");
    let v2 = indicator(IND, "2026-02-01T00:00:00.000Z", "secret two");
    put_all(store, &[(v1, green(ORG_A)), (v2, secret_eu(ORG_A))]);
    let uncleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Unclassified, &[]);
    let last = store.get(&uncleared, IND, &VersionFilter::Last).unwrap();
    assert_eq!(last.len(), 1);
    assert!(last[0].json.contains("public one"));
    let all = store.get(&uncleared, IND, &VersionFilter::All).unwrap();
    assert_eq!(all.len(), 1, "the secret version is invisible");
    let cleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Secret, &[Policy::Eu]);
    assert!(store.get(&cleared, IND, &VersionFilter::Last).unwrap()[0].json.contains("secret two"));
}

/// The newest version of each id in a listing, and a get, of a reader
/// who reads every access class (the store may answer from `is_latest`
/// alone), through versions stored out of order, a deletion of the newest
/// version, and a newer version in a class the reader cannot read.
pub fn last_versions_of_a_reader_of_every_class(store: &dyn Store) {
    const OTHER: &str = "indicator--d0000000-0000-4000-8000-000000000004";
    let cleared = reader(&org(ORG_B, "EST", &["EU"]), Rank::Secret, &[Policy::Eu]);
    let listed = |store: &dyn Store| -> BTreeSet<(String, String)> {
        let page = store.query(&cleared, &Query { limit: 50, ..Query::default() }).unwrap();
        page.objects.iter().map(|o| (o.id.clone(), o.version.map(|t| t.to_string()).unwrap_or_default())).collect()
    };
    let pair = |id: &str, v: &str| (id.to_string(), v.to_string());
    // Out of order: the newest version arrives first.
    put_all(store, &[(indicator(IND, "2026-03-01T00:00:00.000Z", "three"), secret_eu(ORG_A))]);
    put_all(store, &[
        (indicator(IND, "2026-01-01T00:00:00.000Z", "one"), green(ORG_A)),
        (indicator(IND, "2026-02-01T00:00:00.000Z", "two"), green(ORG_A)),
        (indicator(OTHER, "2026-01-01T00:00:00.000Z", "other"), green(ORG_A)),
    ]);
    let expect = BTreeSet::from([pair(IND, "2026-03-01T00:00:00.000Z"), pair(OTHER, "2026-01-01T00:00:00.000Z")]);
    assert_eq!(listed(store), expect);
    assert_eq!(store.count(&cleared, &Query::default()).unwrap(), 2);
    assert!(store.get(&cleared, IND, &VersionFilter::Last).unwrap()[0].json.contains("three"));
    // The newest version deleted: the one before it is the last. The
    // deletion mark moves with it (and not with writes).
    let before = store.deletion_mark().unwrap();
    let newest = Timestamp::parse("2026-03-01T00:00:00.000Z").unwrap();
    assert_eq!(store.delete_versions(IND, &VersionFilter::Exact(vec![newest])).unwrap(), 1);
    let after = store.deletion_mark().unwrap();
    assert_ne!(after, before, "a deletion moves the deletion mark");
    let expect = BTreeSet::from([pair(IND, "2026-02-01T00:00:00.000Z"), pair(OTHER, "2026-01-01T00:00:00.000Z")]);
    assert_eq!(listed(store), expect);
    // A newer version in a class this reader cannot read (TLP:RED of
    // another organisation): the reader no longer reads every class, and
    // its last version of IND is still the one it can read.
    let red = Label::unclassified(Tlp::Red).with_originator(Some(ORG_A.into()));
    put_all(store, &[(indicator(IND, "2026-04-01T00:00:00.000Z", "four"), red)]);
    assert_eq!(store.deletion_mark().unwrap(), after, "a write leaves the deletion mark");
    assert_eq!(listed(store), expect);
    assert!(store.get(&cleared, IND, &VersionFilter::Last).unwrap()[0].json.contains("two"));
    assert_eq!(store.count(&cleared, &Query::default()).unwrap(), 2);
}

pub fn registry_and_audit_chain(store: &dyn Store) {
    let now = Timestamp::now(3);
    store
        .put_organisation(&OrganisationRecord { org: org(ORG_A, "LTU", &["EU", "NATO"]), name: "CERT-LT".into(), kind: "national-authority".into(), created: now })
        .unwrap();
    assert_eq!(store.find_organisation("cert-lt").unwrap().unwrap().org.id, ORG_A);
    assert_eq!(store.find_organisation(ORG_A).unwrap().unwrap().name, "CERT-LT");
    let user = eu_analyst("user--1", "alice", ORG_A, Rank::Secret, now);
    store.put_user(&user).unwrap();
    let actor = store.actor(&store.find_user("alice").unwrap().unwrap(), None).unwrap();
    assert!(can_read(&actor.subject, &secret_eu(ORG_B)));
    assert_eq!(store.find_user("user--1").unwrap().unwrap().name, "alice", "found by id too");
    assert!(store.find_user("bob").unwrap().is_none());
    let Subject::User(r) = &actor.subject else { panic!("a user's actor reads as a user") };
    assert_eq!((r.org.id.as_str(), r.parent_org.as_ref()), (ORG_A, None));
    // A user of a unit (an organisation with a parent) reads with its parent too.
    let mut unit = org(ORG_B, "LTU", &["EU"]);
    unit.parent = Some(ORG_A.into());
    store.put_organisation(&OrganisationRecord { org: unit, name: "CERT-LT unit".into(), kind: "partner".into(), created: now }).unwrap();
    let carol = UserRecord { id: "user--3".into(), name: "carol".into(), org_id: ORG_B.into(), ..user.clone() };
    store.put_user(&carol).unwrap();
    let Subject::User(r) = store.actor(&carol, Some("exercise--1".into())).unwrap().subject else { panic!("a user") };
    assert_eq!((r.org.id.as_str(), r.parent_org.map(|p| p.id), r.context), (ORG_B, Some(ORG_A.to_string()), Some("exercise--1".to_string())));
    let stray = UserRecord { id: "user--4".into(), name: "dave".into(), org_id: "identity--f0000000-0000-4000-8000-000000000009".into(), ..user.clone() };
    assert!(store.actor(&stray, None).is_err(), "a user of an unregistered organisation has no actor");
    let token = TokenRecord { id: "tok_1".into(), user_id: "user--1".into(), secret_hash: "ab".repeat(32), created: now, expires: None, revoked: None };
    store.put_token(&token).unwrap();
    assert_eq!(store.token_by_hash(&"ab".repeat(32)).unwrap().unwrap().id, "tok_1");
    assert!(store.revoke_token("tok_1", now).unwrap());
    assert!(!store.revoke_token("tok_1", now).unwrap(), "a revoked token cannot be revoked again");
    assert!(store.token_by_hash(&"ab".repeat(32)).unwrap().unwrap().revoked.is_some());
    for i in 0..5 {
        store.audit("user:alice", "login", "alice", &json!({"i": i})).unwrap();
    }
    let entries = store.audit_entries(0, 100).unwrap();
    assert_eq!(entries.len(), 5);
    assert_eq!(verify_audit_chain(&entries), None);
    let mut changed = entries.clone();
    changed[2].details = "{\"i\":99}".into();
    assert_eq!(verify_audit_chain(&changed).map(|b: AuditBreak| b.seq), Some(3));
    let mut removed = entries.clone();
    removed.remove(1);
    assert_eq!(verify_audit_chain(&removed).map(|b| b.seq), Some(3));
    let mut reordered = entries;
    reordered.swap(3, 4);
    assert_eq!(verify_audit_chain(&reordered).map(|b| b.seq), Some(5));
}

pub fn ingest_applies_the_write_rules(store: &dyn Store) {
    let now = Timestamp::now(3);
    for (id, name, country) in [(ORG_A, "CERT-LT", "LTU"), (ORG_B, "CERT-EE", "EST")] {
        store
            .put_organisation(&OrganisationRecord { org: org(id, country, &["EU"]), name: name.into(), kind: "national-authority".into(), created: now })
            .unwrap();
    }
    let mk = |name: &str, org_id: &str, clearance: Rank| eu_analyst(&format!("user--{name}"), name, org_id, clearance, now);
    store.put_user(&mk("lt", ORG_A, Rank::Restricted)).unwrap();
    store.put_user(&mk("ee", ORG_B, Rank::Secret)).unwrap();
    let lt = store.actor(&store.find_user("lt").unwrap().unwrap(), None).unwrap();
    let ee = store.actor(&store.find_user("ee").unwrap().unwrap(), None).unwrap();
    let options = |a: &Actor| IngestOptions {
        defaults: LabelDefaults::default(),
        explicit_defaults: false,
        origin: a.origin(),
        signed_by_originator: false,
    };
    let secret_marking = phalanx_labels::label_marking_definition(&secret_eu(ORG_A));
    let secret_id = secret_marking["id"].as_str().unwrap().to_owned();
    let run = |actor: &Actor, objects: Vec<Value>| {
        let mut txn = store.begin().unwrap();
        let mut ingest = Ingest::new(store, actor, options(actor)).unwrap();
        for (i, v) in objects.into_iter().enumerate() {
            match StixObject::from_value(v, &format!("$[{i}]")) {
                Ok(p) => ingest.object(txn.as_mut(), &format!("$[{i}]"), p).unwrap(),
                Err(e) => ingest.refuse_invalid(&format!("$[{i}]"), &e),
            }
        }
        let report = ingest.finish(txn.as_mut()).unwrap();
        txn.commit().unwrap();
        report
    };
    let mut secret_ind = indicator(IND, "2026-01-01T00:00:00.000Z", "x").to_value();
    secret_ind["object_marking_refs"] = json!([secret_id]);
    // The marking is defined after its first use: it still resolves.
    let report = run(&lt, vec![secret_ind.clone(), secret_marking.clone()]);
    assert_eq!(report.stored, 1, "{:?}", report.refused);
    assert_eq!(report.refused.len(), 1);
    assert!(report.refused[0].reason.contains("above the writer's reach"), "{}", report.refused[0].reason);
    // A cleared writer stores it; its organisation is the originator.
    let report = run(&ee, vec![secret_ind]);
    assert_eq!((report.stored, report.refused.len()), (1, 0), "{:?}", report.refused);
    // Only the originator makes a new version.
    let mut v2 = indicator(IND, "2026-03-01T00:00:00.000Z", "y").to_value();
    v2["object_marking_refs"] = json!([phalanx_labels::TLP2_GREEN]);
    let report = run(&lt, vec![v2]);
    assert!(report.refused.iter().any(|r| r.reason.contains("only the originator")), "{:?}", report.refused);
    // created_by_ref naming another registered organisation is refused.
    let mut foreign = indicator("indicator--f0000000-0000-4000-8000-000000000004", "2026-01-01T00:00:00.000Z", "z").to_value();
    foreign["created_by_ref"] = json!(ORG_A);
    let report = run(&ee, vec![foreign]);
    assert!(report.refused[0].reason.contains("another organisation registered"), "{:?}", report.refused);
    // A relationship to the SECRET indicator is raised to SECRET.
    let rel = json!({
        "type": "relationship", "spec_version": "2.1", "id": "relationship--f0000000-0000-4000-8000-000000000005",
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "relationship_type": "indicates", "source_ref": IND,
        "target_ref": "malware--f0000000-0000-4000-8000-000000000006"
    });
    let report = run(&ee, vec![rel]);
    assert_eq!(report.raised.len(), 1, "{report:?}");
    let raise = &report.raised[0];
    assert_eq!((raise.from.as_str(), raise.to.as_str()), ("TLP:AMBER+STRICT UNCLASSIFIED", "TLP:AMBER+STRICT SECRET UE/EU SECRET"));
    let ee_subject = &ee.subject;
    let stored = store.get(ee_subject, "relationship--f0000000-0000-4000-8000-000000000005", &VersionFilter::Last).unwrap();
    assert_eq!(stored[0].label.classification, Rank::Secret);
    assert!(stored[0].json.contains(&secret_id), "the raised label is carried explicitly");
    // Loosening a label in a new version is an audited release decision.
    let mut open = indicator(IND, "2026-04-01T00:00:00.000Z", "released").to_value();
    open["object_marking_refs"] = json!([phalanx_labels::TLP2_GREEN]);
    let report = run(&ee, vec![open]);
    assert_eq!(report.stored, 1, "{:?}", report.refused);
    let audit = store.audit_entries(0, 100).unwrap();
    assert!(audit.iter().any(|e| e.action == "release" && e.target == IND), "{audit:?}");
    assert!(audit.iter().any(|e| e.action == "write"));
    assert_eq!(verify_audit_chain(&audit), None);
}

/// One ingest meets the same labels again and again, interleaved (its
/// answers for a label are kept): each object still gets its own label's
/// answer, and each derived object the join of its own references' labels.
/// Writes `objects` (JSON values, paths `$[i]`) through one ingest by
/// `actor` in one transaction, and returns its report.
fn ingest_all(store: &dyn Store, actor: &crate::registry::Actor, options: IngestOptions, objects: Vec<Value>) -> crate::ingest::IngestReport {
    let mut txn = store.begin().unwrap();
    let mut ingest = Ingest::new(store, actor, options).unwrap();
    for (i, v) in objects.into_iter().enumerate() {
        let parsed = StixObject::from_value(v, &format!("$[{i}]")).unwrap();
        ingest.object(txn.as_mut(), &format!("$[{i}]"), parsed).unwrap();
    }
    let report = ingest.finish(txn.as_mut()).unwrap();
    txn.commit().unwrap();
    report
}

pub fn one_ingest_answers_each_label_again_alike(store: &dyn Store) {
    let now = Timestamp::now(3);
    store
        .put_organisation(&OrganisationRecord { org: org(ORG_A, "LTU", &["EU"]), name: "CERT-LT".into(), kind: "national-authority".into(), created: now })
        .unwrap();
    store.put_user(&eu_analyst("user--lt", "lt", ORG_A, Rank::Restricted, now)).unwrap();
    let lt = store.actor(&store.find_user("lt").unwrap().unwrap(), None).unwrap();
    let options = IngestOptions { defaults: LabelDefaults::default(), explicit_defaults: false, origin: lt.origin(), signed_by_originator: false };
    let secret_marking = phalanx_labels::label_marking_definition(&secret_eu(ORG_A));
    let secret_id = secret_marking["id"].as_str().unwrap().to_owned();
    let id = |n: u32| format!("indicator--f1000000-0000-4000-8000-{n:012}");
    let mut objects = vec![secret_marking];
    // Alternating: TLP:GREEN (the writer's reach), EU SECRET (above it), TLP:AMBER.
    for n in 0..9u32 {
        let mut v = indicator(&id(n), "2026-01-01T00:00:00.000Z", "x").to_value();
        v["object_marking_refs"] = match n % 3 {
            0 => json!([phalanx_labels::TLP2_GREEN]),
            1 => json!([secret_id]),
            _ => json!([phalanx_labels::TLP2_AMBER]),
        };
        objects.push(v);
    }
    // Relationships from a GREEN indicator to a GREEN one, then to an AMBER
    // one, then GREEN again: only the middle one is raised.
    for (n, target) in [(0u32, 3u32), (1, 5), (2, 6)] {
        objects.push(json!({
            "type": "relationship", "spec_version": "2.1", "id": format!("relationship--f1000000-0000-4000-8000-{n:012}"),
            "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
            "relationship_type": "related-to", "source_ref": id(0), "target_ref": id(target),
            "object_marking_refs": [phalanx_labels::TLP2_GREEN]
        }));
    }
    let report = ingest_all(store, &lt, options, objects);
    let refused: Vec<&str> = report.refused.iter().filter_map(|r| r.id.as_deref()).collect();
    assert_eq!(refused, [id(1), id(4), id(7)], "{:?}", report.refused);
    assert!(report.refused.iter().all(|r| r.reason.contains("above the writer's reach")), "{:?}", report.refused);
    let raised: Vec<(&str, &str, &str)> = report.raised.iter().map(|r| (r.id.as_str(), r.from.as_str(), r.to.as_str())).collect();
    assert_eq!(
        raised,
        [("relationship--f1000000-0000-4000-8000-000000000001", "TLP:GREEN UNCLASSIFIED", "TLP:AMBER UNCLASSIFIED")],
        "{:?}",
        report.raised
    );
    // The marking definition, six indicators and three relationships.
    assert_eq!(report.stored, 10, "{report:?}");
}

/// One ingest meets the same `object_marking_refs` on objects of several
/// originators (its label is computed once and kept per originator): each
/// object is stored under its own originator, and a derived object under
/// that list is still raised to what it refers to.
pub fn one_marking_list_under_several_originators_keeps_each_originator(store: &dyn Store) {
    let now = Timestamp::now(3);
    for (id, country, name) in [(ORG_A, "LTU", "CERT-LT"), (ORG_B, "EST", "CERT-EE")] {
        store.put_organisation(&OrganisationRecord { org: org(id, country, &["EU"]), name: name.into(), kind: "national-authority".into(), created: now }).unwrap();
    }
    store.put_user(&eu_analyst("user--lt", "lt", ORG_A, Rank::Restricted, now)).unwrap();
    let lt = store.actor(&store.find_user("lt").unwrap().unwrap(), None).unwrap();
    // Objects created by another registered organisation are accepted
    // (as they are when they arrive signed through the federation).
    let options = IngestOptions { defaults: LabelDefaults::default(), explicit_defaults: false, origin: lt.origin(), signed_by_originator: true };
    let unregistered = "identity--e0000000-0000-4000-8000-000000000009";
    let id = |n: u32| format!("indicator--f2000000-0000-4000-8000-{n:012}");
    let mut objects = Vec::new();
    let mut expected = Vec::new();
    for n in 0..8u32 {
        let mut v = indicator(&id(n), "2026-01-01T00:00:00.000Z", "x").to_value();
        v["object_marking_refs"] = json!([phalanx_labels::TLP2_GREEN]);
        let originator = match n % 4 {
            0 => ORG_A,
            1 => {
                v["created_by_ref"] = json!(ORG_B);
                ORG_B
            }
            2 => {
                v["created_by_ref"] = json!(unregistered);
                ORG_A
            }
            _ => {
                v["created_by_ref"] = json!(ORG_A);
                ORG_A
            }
        };
        objects.push(v);
        expected.push((id(n), originator.to_owned()));
    }
    // An AMBER indicator, then a relationship under the same GREEN list
    // pointing at it: raised to AMBER, where the indicators stayed GREEN.
    let mut amber = indicator(&id(8), "2026-01-01T00:00:00.000Z", "x").to_value();
    amber["object_marking_refs"] = json!([phalanx_labels::TLP2_AMBER]);
    objects.push(amber);
    let rel = "relationship--f2000000-0000-4000-8000-000000000001";
    objects.push(json!({
        "type": "relationship", "spec_version": "2.1", "id": rel,
        "created": "2026-01-01T00:00:00.000Z", "modified": "2026-01-01T00:00:00.000Z",
        "relationship_type": "related-to", "source_ref": id(0), "target_ref": id(8),
        "created_by_ref": ORG_A, "object_marking_refs": [phalanx_labels::TLP2_GREEN]
    }));
    let report = ingest_all(store, &lt, options, objects);
    assert!(report.refused.is_empty(), "{:?}", report.refused);
    assert_eq!(report.stored, 10, "{report:?}");
    let subject = lt.subject.clone();
    for (id, originator) in &expected {
        let stored = store.get(&subject, id, &VersionFilter::Last).unwrap();
        assert_eq!(stored.len(), 1, "{id}");
        assert_eq!(stored[0].label.originator.as_deref(), Some(originator.as_str()), "{id}");
        assert_eq!(stored[0].label.tlp, Some(Tlp::Green), "{id}");
    }
    let stored = store.get(&subject, rel, &VersionFilter::Last).unwrap();
    assert_eq!(stored[0].label.originator.as_deref(), Some(ORG_A));
    assert_eq!(stored[0].label.tlp, Some(Tlp::Amber));
    assert_eq!(report.raised.len(), 1, "{:?}", report.raised);
}

/// Property: for random organisations, users and labelled objects, what
/// the store returns to each user (listing, count, search) is exactly what
/// the pure rule allows.
pub fn store_equals_the_pure_rule_for_random_worlds<G, S: Store>(make: &dyn Fn() -> (G, S)) {
    use proptest::prelude::*;
    use proptest::test_runner::{Config, TestRunner};
    let countries = ["LTU", "EST", "DEU", "FRA"];
    let groups = ["EU", "NATO", "CRRT"];
    let org_ids: Vec<String> = (0..6).map(|i| format!("identity--00000000-0000-4000-8000-00000000000{i}")).collect();
    let token = prop_oneof![
        proptest::sample::select(countries.to_vec()).prop_map(str::to_owned),
        proptest::sample::select(groups.to_vec()).prop_map(str::to_owned),
        proptest::sample::select(org_ids.clone()),
    ];
    let label = (
        0usize..4,
        0u8..5,
        proptest::collection::btree_set(token, 0..3),
        proptest::collection::btree_set(proptest::sample::select(vec!["ATOMAL", "CASE-1"]), 0..2),
        0usize..6,
        proptest::option::of(proptest::sample::select(vec!["ex-1"])),
        0usize..6,
    )
        .prop_map(move |(p, rank, rel, cav, tlp, exercise, originator)| {
            let policy = [Policy::Unclassified, Policy::Eu, Policy::Nato, Policy::National("LTU".into())][p].clone();
            let rank = match policy {
                Policy::Unclassified => Rank::Unclassified,
                Policy::Nato => Rank::from_u8(rank).unwrap_or(Rank::Unclassified),
                _ => Rank::from_u8(rank.max(1)).unwrap_or(Rank::Restricted),
            };
            Label {
                policy,
                classification: rank,
                releasable_to: rel,
                caveats: cav.into_iter().map(str::to_owned).collect(),
                tlp: [None, Some(Tlp::Clear), Some(Tlp::Green), Some(Tlp::Amber), Some(Tlp::AmberStrict), Some(Tlp::Red)][tlp],
                pap: None,
                exercise: exercise.map(str::to_owned),
                originator: Some(format!("identity--00000000-0000-4000-8000-00000000000{originator}")),
            }
        });
    let world = proptest::collection::vec(label, 1..40);
    let mut runner = TestRunner::new(Config { cases: 24, ..Config::default() });
    let result = runner.run(&world, |labels| {
        let (_guard, store) = make();
        let mut items = Vec::new();
        for (i, l) in labels.iter().enumerate() {
            let id = format!("indicator--10000000-0000-4000-8000-{i:012}");
            items.push((indicator(&id, "2026-01-01T00:00:00.000Z", &format!("needle {i}")), l.clone()));
        }
        put_all(&store, &items);
        let mut subjects = vec![Subject::Anonymous];
        for (i, oid) in org_ids.iter().enumerate() {
            let mut o = Organisation::new(oid.clone());
            o.country = Some(countries[i % countries.len()].into());
            o.memberships = groups.iter().take(i % 4).map(|g| g.to_string()).collect();
            if i == 5 {
                o.parent = Some(org_ids[0].clone());
            }
            for clearance in [Rank::Unclassified, Rank::Secret] {
                let mut r = Reader::new(o.clone());
                r.clearance = clearance;
                r.briefed = [Policy::Eu, Policy::Nato].into_iter().collect();
                r.caveats = if i % 2 == 0 { ["ATOMAL".to_owned()].into_iter().collect() } else { BTreeSet::new() };
                r.context = if i == 3 { Some("ex-1".into()) } else { None };
                subjects.push(Subject::User(r));
            }
        }
        for subject in &subjects {
            let expected: BTreeSet<String> =
                items.iter().filter(|(_, l)| can_read(subject, l)).map(|(o, _)| o.id().to_string()).collect();
            let listed: BTreeSet<String> = store
                .query(subject, &Query { limit: 7, ..Query::default() })
                .and_then(|first| {
                    let mut all: Vec<String> = first.objects.iter().map(|o| o.id.clone()).collect();
                    let mut next = first.next;
                    while let Some(cursor) = next {
                        let page = store.query(subject, &Query { limit: 7, after: Some(cursor), ..Query::default() })?;
                        all.extend(page.objects.iter().map(|o| o.id.clone()));
                        next = if page.more { page.next } else { None };
                    }
                    Ok(all)
                })
                .unwrap()
                .into_iter()
                .collect();
            prop_assert_eq!(&listed, &expected);
            prop_assert_eq!(store.count(subject, &Query::default()).unwrap(), expected.len() as u64);
            let searched = store.count(subject, &Query { text: Some("needle".into()), ..Query::default() }).unwrap();
            prop_assert_eq!(searched, expected.len() as u64);
        }
        Ok(())
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
