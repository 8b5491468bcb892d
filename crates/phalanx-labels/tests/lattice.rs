//! The least upper bound and the loosening test (spec §4): named cases and
//! properties.

mod common;

use common::*;
use phalanx_labels::*;
use proptest::prelude::*;

// ---------------------------------------------------------------- cases

#[test]
fn lub_takes_highest_classification_union_of_caveats_and_strictest_tlp_pap() {
    let a = L::new(Policy::Nato, Rank::Restricted)
        .caveats(&["A"])
        .tlp(Tlp::Green)
        .pap(Pap::Red)
        .l();
    let b = L::new(Policy::Nato, Rank::Secret)
        .caveats(&["B"])
        .tlp(Tlp::Red)
        .pap(Pap::Green)
        .l();
    let l = lub(&a, &b).unwrap();
    assert_eq!(l.policy, Policy::Nato);
    assert_eq!(l.classification, Rank::Secret);
    assert_eq!(l.caveats, set(&["A", "B"]));
    assert_eq!(l.tlp, Some(Tlp::Red));
    assert_eq!(l.pap, Some(Pap::Red));
}

#[test]
fn lub_intersects_non_empty_releasability() {
    let a = L::uncl().rel(&["LTU", "EST", "LVA"]).l();
    let b = L::uncl().rel(&["EST", "LTU", "DEU"]).l();
    assert_eq!(lub(&a, &b).unwrap().releasable_to, set(&["EST", "LTU"]));
}

#[test]
fn lub_unclassified_empty_releasability_is_no_constraint() {
    let a = L::uncl().tlp(Tlp::Green).l();
    let b = L::uncl().tlp(Tlp::Green).rel(&["LTU"]).l();
    assert_eq!(lub(&a, &b).unwrap().releasable_to, set(&["LTU"]));
}

#[test]
fn lub_unclassified_combines_with_any_policy() {
    let a = L::uncl().l();
    let b = L::new(Policy::Eu, Rank::Confidential).l();
    let l = lub(&a, &b).unwrap();
    assert_eq!(
        (l.policy, l.classification),
        (Policy::Eu, Rank::Confidential)
    );
    assert!(
        l.releasable_to.is_empty(),
        "the EU default community stays implicit"
    );
}

#[test]
fn lub_refuses_eu_and_nato() {
    let a = L::new(Policy::Eu, Rank::Secret).l();
    let b = L::new(Policy::Nato, Rank::Secret).l();
    let e = lub(&a, &b).unwrap_err();
    assert_eq!(
        e,
        LubError::PolicyConflict {
            a: Policy::Eu,
            b: Policy::Nato
        }
    );
    assert_eq!(
        e.to_string(),
        "policy: EU and NATO do not combine (different classification policies)"
    );
    // NATO UNCLASSIFIED is still NATO.
    assert!(lub(&a, &L::new(Policy::Nato, Rank::Unclassified).l()).is_err());
}

#[test]
fn lub_refuses_two_national_policies() {
    let a = L::new(national("DEU"), Rank::Restricted).l();
    let b = L::new(national("FRA"), Rank::Restricted).l();
    assert!(matches!(lub(&a, &b), Err(LubError::PolicyConflict { .. })));
}

#[test]
fn lub_refuses_real_and_exercise_and_two_exercises() {
    let real = L::uncl().l();
    let ex1 = L::uncl().exercise("ex-1").l();
    let ex2 = L::uncl().exercise("ex-2").l();
    let e = lub(&real, &ex1).unwrap_err();
    assert_eq!(
        e.to_string(),
        "exercise: real-world data and exercise `ex-1` do not combine (real-world and exercise data, or two exercises, never combine)"
    );
    assert!(matches!(
        lub(&ex1, &ex2),
        Err(LubError::ExerciseConflict { .. })
    ));
    assert_eq!(lub(&ex1, &ex1).unwrap().exercise.as_deref(), Some("ex-1"));
}

#[test]
fn lub_refuses_invalid_labels() {
    let bad = L::new(Policy::Unclassified, Rank::Secret).l();
    assert!(matches!(
        lub(&bad, &L::uncl().l()),
        Err(LubError::InvalidLabel(_))
    ));
}

#[test]
fn lub_disjoint_releasability_is_nobody_not_everybody() {
    let a = L::uncl().tlp(Tlp::Green).rel(&["LTU"]).l();
    let b = L::uncl().tlp(Tlp::Green).rel(&["EST"]).l();
    let l = lub(&a, &b).unwrap();
    assert_eq!(l.releasable_to, set(&[NOBODY]));
    assert!(!can_read(&R::of(lt_cert()).s(), &l));
    assert!(!can_read(&R::of(ee_cert()).s(), &l));
    assert!(!can_read(&R::of(bare()).s(), &l));
    // Under amber the empty list already means "originator alone".
    let l = lub(
        &L::uncl().tlp(Tlp::Amber).rel(&["LTU"]).l(),
        &L::uncl().tlp(Tlp::Amber).rel(&["EST"]).l(),
    )
    .unwrap();
    assert!(l.releasable_to.is_empty());
    assert_eq!(l.validate(), Ok(()));
}

#[test]
fn lub_keeps_the_default_community_of_a_classified_policy() {
    // NATO SECRET (NATO members) with UNCLASSIFIED REL TO EU: only organisations
    // matching both may read; "EU" alone would let in EU members outside NATO.
    let a = L::new(Policy::Nato, Rank::Secret).tlp(Tlp::Green).l();
    let b = L::uncl().tlp(Tlp::Green).rel(&["EU"]).l();
    let l = lub(&a, &b).unwrap();
    let austria = R::of(at_cert()).cleared(Rank::Secret, &[Policy::Nato]).s();
    assert!(!can_read(&austria, &a));
    assert!(!can_read(&austria, &l));
    // NATO + REL TO NATO,EU keeps NATO.
    let c = L::uncl().tlp(Tlp::Green).rel(&["EU", "NATO"]).l();
    assert_eq!(lub(&a, &c).unwrap().releasable_to, set(&["NATO"]));
}

#[test]
fn lub_amber_with_empty_releasability_stays_originator_only() {
    let a = L::uncl().tlp(Tlp::Amber).orig(ID_LT_CERT).l();
    let b = L::uncl().tlp(Tlp::Green).rel(&["EST"]).orig(ID_LT_CERT).l();
    let l = lub(&a, &b).unwrap();
    assert!(!can_read(&R::of(ee_cert()).s(), &l), "{l:?}");
    assert!(can_read(&R::of(lt_cert()).s(), &l));
}

#[test]
fn lub_amber_does_not_open_a_green_list_to_clients() {
    let a = L::uncl().tlp(Tlp::Amber).rel(&[ID_LT_CERT]).l();
    let b = L::uncl().tlp(Tlp::Green).rel(&[ID_LT_CERT]).l();
    let l = lub(&a, &b).unwrap();
    assert_eq!(l.tlp, Some(Tlp::AmberStrict));
    let client = R::of(lt_client()).parent_org(lt_cert()).s();
    assert!(!can_read(&client, &b));
    assert!(!can_read(&client, &l));
    // A green side that releases to everyone does not restrict: amber stays amber.
    let everyone = L::uncl().tlp(Tlp::Green).l();
    assert_eq!(lub(&a, &everyone).unwrap().tlp, Some(Tlp::Amber));
}

#[test]
fn lub_originator_is_kept_only_when_shared() {
    let a = L::uncl().orig(ID_LT_CERT).l();
    let b = L::uncl().orig(ID_EE_CERT).l();
    assert_eq!(lub(&a, &a).unwrap().originator.as_deref(), Some(ID_LT_CERT));
    assert_eq!(lub(&a, &b).unwrap().originator, None);
}

#[test]
fn no_tlp_is_not_public_after_lub() {
    let a = L::uncl().no_tlp().l();
    let b = L::uncl().tlp(Tlp::Clear).l();
    let l = lub(&a, &b).unwrap();
    assert_eq!(l.tlp, None);
    assert!(!can_read(&Subject::Anonymous, &l));
}

#[test]
fn loosening() {
    let base = L::new(Policy::Nato, Rank::Secret)
        .rel(&["EU", "NATO"])
        .caveats(&["A"])
        .tlp(Tlp::Amber)
        .pap(Pap::Amber)
        .l();
    let with = |f: &dyn Fn(&mut Label)| {
        let mut l = base.clone();
        f(&mut l);
        l
    };
    assert!(!is_loosening(&base, &base));
    // Tightening is not loosening.
    assert!(!is_loosening(
        &base,
        &with(&|l| l.classification = Rank::TopSecret)
    ));
    assert!(!is_loosening(
        &base,
        &with(&|l| {
            l.caveats.insert("B".into());
        })
    ));
    assert!(!is_loosening(
        &base,
        &with(&|l| l.releasable_to = set(&["EU"]))
    ));
    assert!(!is_loosening(&base, &with(&|l| l.tlp = Some(Tlp::Red))));
    assert!(!is_loosening(&base, &with(&|l| l.pap = Some(Pap::Red))));
    assert!(!is_loosening(
        &base,
        &with(&|l| l.originator = Some(ID_LT_CERT.into()))
    ));
    // Each loosening named in spec §4.
    assert!(is_loosening(
        &base,
        &with(&|l| l.classification = Rank::Restricted)
    ));
    assert!(is_loosening(&base, &with(&|l| l.caveats.clear())));
    assert!(is_loosening(
        &base,
        &with(&|l| l.releasable_to = set(&["EU", "NATO", "LTU"]))
    ));
    // Emptying the list: under amber that is "originator alone" (tighter);
    // under green it is the NATO default community (a different audience).
    assert!(!is_loosening(&base, &with(&|l| l.releasable_to.clear())));
    let green = L::new(Policy::Nato, Rank::Secret)
        .rel(&["EU"])
        .tlp(Tlp::Green)
        .l();
    assert!(is_loosening(
        &green,
        &L::new(Policy::Nato, Rank::Secret).tlp(Tlp::Green).l()
    ));
    assert!(is_loosening(&base, &with(&|l| l.tlp = Some(Tlp::Green))));
    assert!(is_loosening(&base, &with(&|l| l.pap = Some(Pap::Clear))));
    assert!(is_loosening(&base, &with(&|l| l.pap = None)));
    // Changes of policy or context are release decisions.
    assert!(is_loosening(&base, &with(&|l| l.policy = Policy::Eu)));
    assert!(is_loosening(
        &base,
        &with(&|l| l.exercise = Some("ex".into()))
    ));
    // From UNCLASSIFIED to a classified policy is a tightening.
    assert!(!is_loosening(
        &L::uncl().l(),
        &L::new(Policy::Eu, Rank::Restricted).l()
    ));
    assert!(is_loosening(
        &L::new(Policy::Eu, Rank::Restricted).l(),
        &L::uncl().l()
    ));
    // Green to amber with a list lets clients in.
    assert!(is_loosening(
        &L::uncl().rel(&["LTU"]).tlp(Tlp::Green).l(),
        &L::uncl().rel(&["LTU"]).tlp(Tlp::Amber).l()
    ));
}

// ----------------------------------------------------------- properties

const POOL: &[&str] = &[
    "EU", "NATO", "LTU", "EST", "NET", ID_LT_CERT, ID_EE_CERT, NOBODY,
];
const ORG_IDS: &[&str] = &[ID_LT_CERT, ID_EE_CERT, ID_DE_BSI, ID_LT_CLIENT];

fn subset(
    pool: &'static [&'static str],
    max: usize,
) -> impl Strategy<Value = std::collections::BTreeSet<String>> {
    proptest::sample::subsequence(pool, 0..=max)
        .prop_map(|v| v.into_iter().map(str::to_string).collect())
}

fn arb_policy() -> impl Strategy<Value = Policy> {
    prop_oneof![
        4 => Just(Policy::Unclassified),
        2 => Just(Policy::Nato),
        2 => Just(Policy::Eu),
        1 => Just(national("DEU")),
        1 => Just(national("LTU")),
    ]
}

fn arb_rank() -> impl Strategy<Value = Rank> {
    (0u8..5).prop_map(|n| Rank::from_u8(n).unwrap_or(Rank::Unclassified))
}

fn arb_tlp() -> impl Strategy<Value = Option<Tlp>> {
    prop_oneof![
        2 => Just(None),
        3 => Just(Some(Tlp::Clear)),
        4 => Just(Some(Tlp::Green)),
        2 => Just(Some(Tlp::Amber)),
        1 => Just(Some(Tlp::AmberStrict)),
        1 => Just(Some(Tlp::Red)),
    ]
}

fn arb_pap() -> impl Strategy<Value = Option<Pap>> {
    prop_oneof![1 => Just(None), 2 => proptest::sample::select(Pap::ALL.to_vec()).prop_map(Some)]
}

fn arb_opt(pool: &'static [&'static str]) -> impl Strategy<Value = Option<String>> {
    prop_oneof![2 => Just(None), 1 => proptest::sample::select(pool).prop_map(|s| Some(s.to_string()))]
}

/// A valid label over small pools (so that labels often overlap).
fn arb_label() -> impl Strategy<Value = Label> {
    (
        arb_policy(),
        arb_rank(),
        prop_oneof![2 => Just(set(&[])), 3 => subset(POOL, 2)],
        subset(&["ATOMAL", "C1", "C2"], 2),
        arb_tlp(),
        arb_pap(),
        prop_oneof![8 => Just(None), 1 => Just(Some("ex-1".to_string())), 1 => Just(Some("ex-2".to_string()))],
        arb_opt(&[ID_LT_CERT, ID_EE_CERT]),
    )
        .prop_map(|(policy, rank, mut rel, caveats, tlp, pap, exercise, originator)| {
            let classification = if policy.allows(rank) {
                rank
            } else if policy == Policy::Unclassified {
                Rank::Unclassified
            } else {
                Rank::Restricted
            };
            if rel.contains(NOBODY) {
                rel = if tlp.is_some_and(Tlp::restricts_empty_releasability) {
                    set(&[])
                } else {
                    set(&[NOBODY])
                };
            }
            let l = Label { policy, classification, releasable_to: rel, caveats, tlp, pap, exercise, originator };
            assert_eq!(l.validate(), Ok(()), "{l:?}");
            l
        })
}

/// Two labels that often share policy, exercise and originator (so that
/// their lub combines and is often readable), or two independent labels.
fn arb_pair() -> impl Strategy<Value = (Label, Label)> {
    let related = (arb_label(), arb_label(), any::<bool>(), any::<bool>()).prop_map(
        |(a, mut b, keep_rel, keep_tlp)| {
            b.policy = a.policy.clone();
            if !b.policy.allows(b.classification) {
                b.classification = a.classification;
            }
            b.exercise = a.exercise.clone();
            b.originator = a.originator.clone();
            if keep_rel {
                b.releasable_to = a.releasable_to.clone();
            }
            if keep_tlp {
                b.tlp = a.tlp;
            }
            if b.validate().is_err() {
                b.releasable_to = a.releasable_to.clone();
                b.tlp = a.tlp;
            }
            assert_eq!(b.validate(), Ok(()), "{b:?}");
            (a, b)
        },
    );
    prop_oneof![1 => (arb_label(), arb_label()), 2 => related]
}

fn arb_org() -> impl Strategy<Value = Organisation> {
    (
        proptest::sample::select(ORG_IDS),
        arb_opt(&["LTU", "EST", "DEU"]),
        prop_oneof![2 => Just(set(&["EU", "NATO"])), 1 => subset(&["EU", "NATO", "NET"], 3), 1 => Just(set(&[]))],
        prop_oneof![1 => Just(None), 2 => proptest::sample::select(ORG_IDS).prop_map(|s| Some(s.to_string()))],
    )
        .prop_map(|(id, country, memberships, parent)| Organisation { id: id.to_string(), country, memberships, parent })
}

fn arb_subject() -> impl Strategy<Value = Subject> {
    // Biased towards readers who pass rules 1, 3 and 5, so that rules 2 and 4
    // (where lub has its subtleties) decide often.
    let all_policies = || {
        [
            Policy::Unclassified,
            Policy::Eu,
            Policy::Nato,
            national("DEU"),
            national("LTU"),
        ]
        .into_iter()
        .collect::<std::collections::BTreeSet<_>>()
    };
    let reader = (
        arb_org(),
        proptest::option::of(arb_org()),
        prop_oneof![3 => Just(Rank::TopSecret), 1 => arb_rank()],
        prop_oneof![3 => Just(all_policies()), 1 => proptest::collection::btree_set(arb_policy(), 0..4)],
        prop_oneof![3 => Just(set(&["ATOMAL", "C1", "C2"])), 1 => subset(&["ATOMAL", "C1", "C2"], 3)],
        prop_oneof![4 => Just(None), 1 => Just(Some("ex-1".to_string()))],
    )
        .prop_map(|(org, parent_org, clearance, briefed, caveats, context)| {
            // Often make the parent consistent, so that amber clients occur.
            let parent_org = parent_org.map(|mut p| {
                if let Some(pid) = &org.parent {
                    p.id = pid.clone();
                }
                p
            });
            Subject::User(Reader { org, parent_org, clearance, briefed, caveats, context })
        });
    prop_oneof![1 => Just(Subject::Anonymous), 8 => reader]
}

fn arb_peer() -> impl Strategy<Value = PeerScope> {
    (
        proptest::collection::vec(arb_org(), 0..3),
        proptest::collection::btree_set(arb_policy(), 0..3),
        arb_rank(),
        subset(&["ex-1", "ex-2"], 2),
    )
        .prop_map(|(serves, accredited, ceiling, exercises)| PeerScope {
            serves,
            accredited,
            ceiling,
            exercises,
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 4096, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn lub_is_commutative((a, b) in arb_pair()) {
        let (ab, ba) = (lub(&a, &b), lub(&b, &a));
        prop_assert_eq!(ab.is_err(), ba.is_err());
        if let (Ok(ab), Ok(ba)) = (ab, ba) {
            prop_assert_eq!(ab, ba);
        }
    }

    #[test]
    fn lub_is_idempotent(a in arb_label()) {
        prop_assert_eq!(lub(&a, &a), Ok(a));
    }

    #[test]
    fn lub_is_associative(a in arb_label(), b in arb_label(), c in arb_label()) {
        let left = lub(&a, &b).and_then(|ab| lub(&ab, &c));
        let right = lub(&b, &c).and_then(|bc| lub(&a, &bc));
        prop_assert_eq!(left.is_err(), right.is_err(), "left {:?} right {:?}", left, right);
        if let (Ok(l), Ok(r)) = (left, right) {
            prop_assert_eq!(l, r);
        }
    }

    #[test]
    fn lub_result_is_valid_and_not_a_loosening_of_either((a, b) in arb_pair()) {
        if let Ok(l) = lub(&a, &b) {
            prop_assert_eq!(l.validate(), Ok(()));
            prop_assert!(!is_loosening(&a, &l), "lub loosens a: {:?}", l);
            prop_assert!(!is_loosening(&b, &l), "lub loosens b: {:?}", l);
        }
    }

    #[test]
    fn whoever_reads_the_lub_reads_both((a, b) in arb_pair(), s in arb_subject()) {
        if let Ok(l) = lub(&a, &b)
            && can_read(&s, &l)
        {
            prop_assert!(can_read(&s, &a), "reads lub {:?} but not a {:?}: {:?}", l, a, explain_read(&s, &a));
            prop_assert!(can_read(&s, &b), "reads lub {:?} but not b {:?}: {:?}", l, b, explain_read(&s, &b));
        }
    }

    #[test]
    fn a_peer_that_gets_the_lub_gets_both((a, b) in arb_pair(), p in arb_peer()) {
        if let Ok(l) = lub(&a, &b)
            && may_release_to_peer(&p, &l)
        {
            prop_assert!(may_release_to_peer(&p, &a));
            prop_assert!(may_release_to_peer(&p, &b));
        }
    }

    #[test]
    fn tightening_never_grants_access((a, b) in arb_pair(), s in arb_subject()) {
        // If b is not a loosening of a (same originator: is_loosening does
        // not look at originators), whoever reads b reads a.
        let b = b.with_originator(a.originator.clone());
        if !is_loosening(&a, &b) && can_read(&s, &b) {
            prop_assert!(can_read(&s, &a), "a {:?} b {:?}", a, b);
        }
    }

    #[test]
    fn access_key_identifies_the_label(a in arb_label(), b in arb_label()) {
        prop_assert_eq!(a == b, a.access_key() == b.access_key(), "{} / {}", a.access_key(), b.access_key());
        prop_assert_eq!(a.access_key(), a.clone().access_key());
    }
}

/// The properties above are only worth something if the generators produce
/// readable lubs: check that they do, often enough.
#[test]
fn generators_produce_readable_lubs() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let strat = (arb_pair(), arb_subject());
    let mut readable = 0;
    let mut combined = 0;
    let mut hist = std::collections::BTreeMap::new();
    for _ in 0..4000 {
        let Ok(tree) = strat.new_tree(&mut runner) else {
            continue;
        };
        let ((a, b), s) = tree.current();
        if let Ok(l) = lub(&a, &b) {
            combined += 1;
            if can_read(&s, &l) {
                readable += 1;
            } else {
                let r = explain_read(&s, &l).unwrap_err().rule();
                *hist.entry(r).or_insert(0) += 1;
            }
        }
    }
    assert!(combined > 1000, "only {combined} lubs combined");
    eprintln!("{combined} lubs combined, {readable} readable, refusals by rule {hist:?}");
    assert!(readable > 250, "only {readable} readable lubs");
}
