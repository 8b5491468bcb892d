//! The read rule (spec §3) as a table of named cases, and release to peers (spec §5).

mod common;

use common::*;
use phalanx_labels::*;

/// One case: `expect` is `None` for "may read", else the rule that refuses.
struct Case {
    name: &'static str,
    subject: Subject,
    label: Label,
    expect: Option<u8>,
}

fn case(name: &'static str, subject: Subject, label: Label, expect: Option<u8>) -> Case {
    Case {
        name,
        subject,
        label,
        expect,
    }
}

#[rustfmt::skip]
fn cases() -> Vec<Case> {
    use Policy::{Eu, Nato};
    use Rank::{Confidential, Restricted, Secret, TopSecret};
    let secret_eu = || R::of(lt_cert()).cleared(Secret, &[Eu]);
    vec![
        // --- Public data and anonymous readers ---
        case("clear unclassified, any organisation", R::of(bare()).s(), L::uncl().tlp(Tlp::Clear).l(), None),
        case("anonymous reads tlp clear unclassified real-world unrestricted", Subject::Anonymous, L::uncl().tlp(Tlp::Clear).l(), None),
        case("anonymous refused tlp green", Subject::Anonymous, L::uncl().tlp(Tlp::Green).l(), Some(2)),
        case("anonymous refused no tlp", Subject::Anonymous, L::uncl().no_tlp().l(), Some(2)),
        case("anonymous refused non-empty releasable_to", Subject::Anonymous, L::uncl().tlp(Tlp::Clear).rel(&["LTU"]).l(), Some(2)),
        case("anonymous refused nato unclassified (not public)", Subject::Anonymous, L::new(Nato, Rank::Unclassified).tlp(Tlp::Clear).l(), Some(2)),
        case("anonymous refused classified", Subject::Anonymous, L::new(Eu, Restricted).tlp(Tlp::Clear).l(), Some(1)),
        case("anonymous refused caveat", Subject::Anonymous, L::uncl().tlp(Tlp::Clear).caveats(&["C1"]).l(), Some(3)),
        case("anonymous refused exercise data", Subject::Anonymous, L::uncl().tlp(Tlp::Clear).exercise("cyber-europe-2026").l(), Some(5)),
        case("unclassified green empty releasable_to: every organisation", R::of(bare()).s(), L::uncl().tlp(Tlp::Green).l(), None),
        case("no tlp reads like green for organisations", R::of(bare()).s(), L::uncl().no_tlp().l(), None),
        // --- TLP:RED ---
        case("tlp red to a named organisation", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::Red).rel(&[ID_LT_CERT]).l(), None),
        case("tlp red refused to the named organisation's country", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::Red).rel(&["LTU"]).l(), Some(4)),
        case("tlp red refused to a group member", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::Red).rel(&["EU", ID_EE_CERT]).l(), Some(4)),
        case("tlp red refused to another organisation", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::Red).rel(&[ID_EE_CERT]).l(), Some(2)),
        case("tlp red not to clients of the named organisation", R::of(lt_client()).parent_org(lt_cert()).s(), L::uncl().tlp(Tlp::Red).rel(&[ID_LT_CERT]).l(), Some(2)),
        case("tlp red empty releasable_to: originator reads", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::Red).orig(ID_LT_CERT).l(), None),
        case("tlp red empty releasable_to: nobody else", R::of(ee_cert()).s(), L::uncl().tlp(Tlp::Red).orig(ID_LT_CERT).l(), Some(2)),
        case("tlp red originator reads although not listed", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::Red).rel(&[ID_EE_CERT]).orig(ID_LT_CERT).l(), None),
        // --- TLP:AMBER and AMBER+STRICT ---
        case("amber to a client organisation via its parent", R::of(lt_client()).parent_org(lt_cert()).s(), L::uncl().tlp(Tlp::Amber).rel(&[ID_LT_CERT]).l(), None),
        case("amber to a client via the parent's country", R::of(lt_client()).parent_org(lt_cert()).s(), L::uncl().tlp(Tlp::Amber).rel(&["LTU"]).l(), None),
        case("amber to a client whose parent is known by id only", R::of(lt_client()).s(), L::uncl().tlp(Tlp::Amber).rel(&[ID_LT_CERT]).l(), None),
        case("amber: parent known by id only does not match its country", R::of(lt_client()).s(), L::uncl().tlp(Tlp::Amber).rel(&["LTU"]).l(), Some(2)),
        case("amber: a parent_org that is not org.parent is ignored", R::of(lt_client()).parent_org(ee_cert()).s(), L::uncl().tlp(Tlp::Amber).rel(&["EST"]).l(), Some(2)),
        case("amber+strict not to clients", R::of(lt_client()).parent_org(lt_cert()).s(), L::uncl().tlp(Tlp::AmberStrict).rel(&[ID_LT_CERT]).l(), Some(2)),
        case("amber+strict to the named organisation", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::AmberStrict).rel(&[ID_LT_CERT]).l(), None),
        case("green not to clients", R::of(lt_client()).parent_org(lt_cert()).s(), L::uncl().tlp(Tlp::Green).rel(&[ID_LT_CERT]).l(), Some(2)),
        case("amber with empty releasable_to: originator reads", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::Amber).orig(ID_LT_CERT).l(), None),
        case("amber with empty releasable_to: not another organisation", R::of(ee_cert()).s(), L::uncl().tlp(Tlp::Amber).orig(ID_LT_CERT).l(), Some(2)),
        case("amber with empty releasable_to: not the originator's clients", R::of(lt_client()).parent_org(lt_cert()).s(), L::uncl().tlp(Tlp::Amber).orig(ID_LT_CERT).l(), Some(2)),
        case("amber+strict with empty releasable_to and no originator: nobody", R::of(lt_cert()).s(), L::uncl().tlp(Tlp::AmberStrict).l(), Some(2)),
        // --- Classification and briefing (rule 1) ---
        case("eu secret read by an eu-briefed, secret-cleared eu member", secret_eu().s(), L::new(Eu, Secret).l(), None),
        case("eu secret refused to a nato-only briefed user", R::of(lt_cert()).cleared(TopSecret, &[Nato]).s(), L::new(Eu, Secret).l(), Some(1)),
        case("eu secret refused below clearance", R::of(lt_cert()).cleared(Confidential, &[Eu]).s(), L::new(Eu, Secret).l(), Some(1)),
        case("eu secret default community: not a nato-only organisation", R::of(no_cert()).cleared(Secret, &[Eu]).s(), L::new(Eu, Secret).l(), Some(2)),
        case("node administrator without clearance does not read restricted", R::of(lt_cert()).cleared(Rank::Unclassified, &[Eu, Nato]).s(), L::new(Eu, Restricted).l(), Some(1)),
        case("cosmic top secret needs top secret", R::of(lt_cert()).cleared(Secret, &[Nato]).s(), L::new(Nato, TopSecret).l(), Some(1)),
        case("cosmic top secret with top secret clearance", R::of(lt_cert()).cleared(TopSecret, &[Nato]).s(), L::new(Nato, TopSecret).l(), None),
        case("nato unclassified: limited by releasability only (nato member, no clearance)", R::of(no_cert()).s(), L::new(Nato, Rank::Unclassified).l(), None),
        case("nato unclassified: not to an eu-only organisation", R::of(at_cert()).cleared(TopSecret, &[Nato, Eu]).s(), L::new(Nato, Rank::Unclassified).l(), Some(2)),
        case("nato secret default community: a non-nato organisation is refused", R::of(at_cert()).cleared(Secret, &[Nato]).s(), L::new(Nato, Secret).l(), Some(2)),
        case("nato secret rel to eu: an eu member that is not in nato reads", R::of(at_cert()).cleared(Secret, &[Nato]).s(), L::new(Nato, Secret).rel(&["EU"]).tlp(Tlp::Amber).l(), None),
        case("nato secret rel to eu: a nato member outside the eu is refused", R::of(no_cert()).cleared(Secret, &[Nato]).s(), L::new(Nato, Secret).rel(&["EU"]).l(), Some(2)),
        case("national:deu default community: a german organisation", R::of(de_bsi()).cleared(Restricted, &[national("DEU")]).s(), L::new(national("DEU"), Restricted).l(), None),
        case("national:deu default community: not a lithuanian organisation", R::of(lt_cert()).cleared(Restricted, &[national("DEU")]).s(), L::new(national("DEU"), Restricted).l(), Some(2)),
        case("national:deu needs a national:deu briefing", R::of(de_bsi()).cleared(Secret, &[Eu, Nato]).s(), L::new(national("DEU"), Restricted).l(), Some(1)),
        case("national:deu rel to ltu reaches a lithuanian organisation", R::of(lt_cert()).cleared(Restricted, &[national("DEU")]).s(), L::new(national("DEU"), Restricted).rel(&["LTU"]).l(), None),
        // --- Releasability (rule 2) ---
        case("rel to ltu: a lithuanian organisation", R::of(lt_cert()).s(), L::uncl().rel(&["LTU"]).l(), None),
        case("rel to ltu: an estonian organisation is refused", R::of(ee_cert()).s(), L::uncl().rel(&["LTU"]).l(), Some(2)),
        case("eu restricted rel to est,ltu with case caveat", secret_eu().caveats(&["CASE-2026-0042"]).s(), L::new(Eu, Restricted).rel(&["EST", "LTU"]).caveats(&["CASE-2026-0042"]).l(), None),
        case("group membership: a member of a node-defined community", R::of(network_member()).s(), L::uncl().rel(&["CSIRTS-NETWORK"]).l(), None),
        case("group membership: a non-member is refused", R::of(lt_cert()).s(), L::uncl().rel(&["CSIRTS-NETWORK"]).l(), Some(2)),
        case("nobody token matches no organisation", R::of(lt_cert()).s(), L::uncl().rel(&[NOBODY]).l(), Some(2)),
        case("nobody token: the originator still reads", R::of(lt_cert()).s(), L::uncl().rel(&[NOBODY]).orig(ID_LT_CERT).l(), None),
        case("originator always reads its own (releasable elsewhere)", R::of(lt_cert()).s(), L::uncl().rel(&["EST"]).orig(ID_LT_CERT).l(), None),
        // --- Caveats (rule 3) ---
        case("missing caveat", secret_eu().caveats(&["ATOMAL"]).s(), L::new(Eu, Restricted).caveats(&["ATOMAL", "CASE-2026-0042"]).l(), Some(3)),
        case("holds every caveat", secret_eu().caveats(&["ATOMAL", "CASE-2026-0042", "X"]).s(), L::new(Eu, Restricted).caveats(&["ATOMAL", "CASE-2026-0042"]).l(), None),
        case("originator without the caveat does not read its own", R::of(lt_cert()).s(), L::uncl().caveats(&["CASE-2026-0042"]).orig(ID_LT_CERT).l(), Some(3)),
        // --- Context (rule 5) ---
        case("exercise object in a real-world query", R::of(lt_cert()).s(), L::uncl().exercise("cyber-europe-2026").l(), Some(5)),
        case("real-world object in an exercise query", R::of(lt_cert()).context("cyber-europe-2026").s(), L::uncl().l(), Some(5)),
        case("exercise object in its exercise", R::of(lt_cert()).context("cyber-europe-2026").s(), L::uncl().exercise("cyber-europe-2026").l(), None),
        case("exercise object in another exercise", R::of(lt_cert()).context("locked-shields-2026").s(), L::uncl().exercise("cyber-europe-2026").l(), Some(5)),
        case("originator does not read its exercise data in the real world", R::of(lt_cert()).s(), L::uncl().exercise("cyber-europe-2026").orig(ID_LT_CERT).l(), Some(5)),
        case("originator without clearance does not read its own classified data", R::of(lt_cert()).s(), L::new(Nato, Secret).orig(ID_LT_CERT).l(), Some(1)),
        // --- Rule order and invalid labels ---
        case("rule 1 is reported before rule 2", R::of(ee_cert()).s(), L::new(Eu, Secret).rel(&["LTU"]).l(), Some(1)),
        case("invalid label (unclassified policy, secret) refused to everyone", R::of(lt_cert()).cleared(TopSecret, &[Eu, Nato]).s(), L::new(Policy::Unclassified, Secret).l(), Some(0)),
        case("invalid label (eu rank 0) refused", R::of(lt_cert()).s(), L::new(Eu, Rank::Unclassified).l(), Some(0)),
    ]
}

#[test]
fn read_rule_table() {
    let cases = cases();
    assert!(cases.len() >= 30, "the table has {} cases", cases.len());
    let mut failures = Vec::new();
    for c in &cases {
        let got = explain_read(&c.subject, &c.label).err().map(|d| d.rule());
        if got != c.expect {
            failures.push(format!(
                "{}: expected {:?}, got {:?} ({:?})",
                c.name,
                c.expect,
                got,
                explain_read(&c.subject, &c.label)
            ));
        }
        assert_eq!(can_read(&c.subject, &c.label), got.is_none(), "{}", c.name);
        assert_eq!(can_write(&c.subject, &c.label), got.is_none(), "{}", c.name);
    }
    assert!(
        failures.is_empty(),
        "{} failing cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn read_rule_case_names_are_unique() {
    let cases = cases();
    let names: std::collections::BTreeSet<_> = cases.iter().map(|c| c.name).collect();
    assert_eq!(names.len(), cases.len());
}

#[test]
fn deny_reasons_name_the_rule_and_the_missing_parts() {
    let s = R::of(lt_cert())
        .cleared(Rank::Secret, &[Policy::Eu])
        .caveats(&["A"])
        .s();
    let l = L::new(Policy::Eu, Rank::Restricted)
        .caveats(&["A", "B", "C"])
        .l();
    let e = explain_read(&s, &l).unwrap_err();
    assert_eq!(
        e,
        DenyReason::MissingCaveats {
            missing: set(&["B", "C"])
        }
    );
    assert_eq!(e.to_string(), "rule 3 (caveats): missing caveats B, C");

    let l = L::new(Policy::Nato, Rank::TopSecret).l();
    let e = explain_read(&s, &l).unwrap_err();
    assert_eq!(
        e,
        DenyReason::Clearance {
            required: Rank::TopSecret,
            held: Rank::Secret
        }
    );
    assert_eq!(
        e.to_string(),
        "rule 1 (classification): clearance SECRET is below TOP_SECRET"
    );

    let l = L::uncl().exercise("ex-1").l();
    let e = explain_read(&s, &l).unwrap_err();
    assert_eq!(
        e.to_string(),
        "rule 5 (context): the label's context (exercise ex-1) is not the request's (real world)"
    );
}

fn peer(
    serves: Vec<Organisation>,
    accredited: &[Policy],
    ceiling: Rank,
    exercises: &[&str],
) -> PeerScope {
    PeerScope {
        serves,
        accredited: accredited.iter().cloned().collect(),
        ceiling,
        exercises: set(exercises),
    }
}

#[test]
fn peer_release() {
    use Policy::{Eu, Nato};
    use Rank::{Restricted, Secret, TopSecret};
    let ee_node = peer(vec![ee_cert()], &[Eu, Nato], Secret, &["cyber-europe-2026"]);
    // Public data goes.
    assert!(may_release_to_peer(
        &ee_node,
        &L::uncl().tlp(Tlp::Clear).l()
    ));
    // UNCLASSIFIED is always accredited.
    let unaccredited = peer(vec![ee_cert()], &[], Rank::Unclassified, &[]);
    assert!(may_release_to_peer(&unaccredited, &L::uncl().l()));
    // NATO UNCLASSIFIED needs NATO accreditation.
    assert!(!may_release_to_peer(
        &unaccredited,
        &L::new(Nato, Rank::Unclassified).l()
    ));
    // Ceiling.
    assert!(may_release_to_peer(&ee_node, &L::new(Nato, Secret).l()));
    assert!(!may_release_to_peer(&ee_node, &L::new(Nato, TopSecret).l()));
    // Accreditation.
    assert!(!may_release_to_peer(
        &ee_node,
        &L::new(national("DEU"), Restricted).rel(&["EST"]).l()
    ));
    // Releasability: a served organisation must be in the audience.
    assert!(!may_release_to_peer(&ee_node, &L::uncl().rel(&["LTU"]).l()));
    assert!(may_release_to_peer(
        &ee_node,
        &L::uncl().rel(&["LTU", "EST"]).l()
    ));
    // TLP:RED: only named organisations.
    assert!(!may_release_to_peer(
        &ee_node,
        &L::uncl().tlp(Tlp::Red).rel(&["EST"]).l()
    ));
    assert!(may_release_to_peer(
        &ee_node,
        &L::uncl().tlp(Tlp::Red).rel(&[ID_EE_CERT]).l()
    ));
    // Amber with an empty list: originator only.
    assert!(!may_release_to_peer(
        &ee_node,
        &L::uncl().tlp(Tlp::Amber).orig(ID_LT_CERT).l()
    ));
    assert!(may_release_to_peer(
        &ee_node,
        &L::uncl().tlp(Tlp::Amber).orig(ID_EE_CERT).l()
    ));
    // Exercises: only to participants.
    assert!(may_release_to_peer(
        &ee_node,
        &L::uncl().exercise("cyber-europe-2026").l()
    ));
    assert!(!may_release_to_peer(
        &ee_node,
        &L::uncl().exercise("locked-shields-2026").l()
    ));
    // Amber clients: a served client whose parent is listed.
    let lt_node = peer(vec![lt_client()], &[], Rank::Unclassified, &[]);
    assert!(may_release_to_peer(
        &lt_node,
        &L::uncl().tlp(Tlp::Amber).rel(&[ID_LT_CERT]).l()
    ));
    assert!(!may_release_to_peer(
        &lt_node,
        &L::uncl().tlp(Tlp::AmberStrict).rel(&[ID_LT_CERT]).l()
    ));
    // ... by country only when the parent is served too.
    assert!(!may_release_to_peer(
        &lt_node,
        &L::uncl().tlp(Tlp::Amber).rel(&["LTU"]).l()
    ));
    let lt_node2 = peer(vec![lt_client(), lt_cert()], &[], Rank::Unclassified, &[]);
    let amber_ltu = L::uncl().tlp(Tlp::Amber).rel(&["LTU"]).l();
    assert!(may_release_to_peer(&lt_node2, &amber_ltu));
    // A peer that serves nobody gets nothing.
    assert!(!may_release_to_peer(
        &peer(vec![], &[Eu, Nato], TopSecret, &[]),
        &L::uncl().l()
    ));
    // An invalid label never goes.
    assert!(!may_release_to_peer(
        &ee_node,
        &L::new(Policy::Unclassified, Secret).l()
    ));
}
