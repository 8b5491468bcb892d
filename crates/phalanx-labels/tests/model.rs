//! The label model (spec §1): names, parsing, display names, validation, serde.

mod common;

use common::*;
use phalanx_labels::*;

#[test]
fn policy_text() {
    for (s, p) in [
        ("UNCLASSIFIED", Policy::Unclassified),
        ("EU", Policy::Eu),
        ("NATO", Policy::Nato),
        ("NATIONAL:LTU", national("LTU")),
    ] {
        assert_eq!(s.parse::<Policy>(), Ok(p.clone()));
        assert_eq!(p.to_string(), s);
    }
    for bad in [
        "",
        "nato",
        "Eu",
        "NATIONAL:",
        "NATIONAL:ltu",
        "NATIONAL:LT",
        "NATIONAL:LTUX",
        "NATIONAL LTU",
        "NATIONAL:LT1",
    ] {
        let e = bad.parse::<Policy>().unwrap_err();
        assert_eq!(
            e,
            LabelError::InvalidPolicy {
                value: bad.to_string()
            }
        );
        assert!(e.to_string().starts_with("policy: "), "{e}");
    }
}

#[test]
fn rank_text_and_numbers() {
    let names = [
        "UNCLASSIFIED",
        "RESTRICTED",
        "CONFIDENTIAL",
        "SECRET",
        "TOP_SECRET",
    ];
    for (n, name) in names.iter().enumerate() {
        let r = Rank::from_u8(n as u8).expect("rank");
        assert_eq!(r as u8, n as u8);
        assert_eq!(r.to_string(), *name);
        assert_eq!(name.parse::<Rank>(), Ok(r));
    }
    assert_eq!(Rank::from_u8(5), None);
    assert!(Rank::Unclassified < Rank::Restricted && Rank::Secret < Rank::TopSecret);
    let e = "TOP SECRET".parse::<Rank>().unwrap_err();
    assert!(
        e.to_string()
            .starts_with("classification: `TOP SECRET` is not a rank"),
        "{e}"
    );
}

#[test]
fn tlp_and_pap_text_and_order() {
    let tlps = ["clear", "green", "amber", "amber+strict", "red"];
    for (t, s) in Tlp::ALL.iter().zip(tlps) {
        assert_eq!(t.to_string(), s);
        assert_eq!(s.parse::<Tlp>(), Ok(*t));
    }
    assert!(
        Tlp::Clear < Tlp::Green
            && Tlp::Green < Tlp::Amber
            && Tlp::Amber < Tlp::AmberStrict
            && Tlp::AmberStrict < Tlp::Red
    );
    assert!(
        "white"
            .parse::<Tlp>()
            .unwrap_err()
            .to_string()
            .starts_with("tlp: ")
    );
    assert!("AMBER".parse::<Tlp>().is_err());
    let paps = ["clear", "green", "amber", "red"];
    for (p, s) in Pap::ALL.iter().zip(paps) {
        assert_eq!(p.to_string(), s);
        assert_eq!(s.parse::<Pap>(), Ok(*p));
    }
    assert!(Pap::Clear < Pap::Green && Pap::Amber < Pap::Red);
    assert!(
        "amber+strict"
            .parse::<Pap>()
            .unwrap_err()
            .to_string()
            .starts_with("pap: ")
    );
}

#[test]
fn display_names() {
    let eu = [
        "RESTREINT UE/EU RESTRICTED",
        "CONFIDENTIEL UE/EU CONFIDENTIAL",
        "SECRET UE/EU SECRET",
        "TRES SECRET UE/EU TOP SECRET",
    ];
    let nato = [
        "NATO UNCLASSIFIED",
        "NATO RESTRICTED",
        "NATO CONFIDENTIAL",
        "NATO SECRET",
        "COSMIC TOP SECRET",
    ];
    for (i, r) in Rank::ALL.iter().enumerate() {
        assert_eq!(display_name(&Policy::Nato, *r, None), nato[i]);
        if i > 0 {
            assert_eq!(display_name(&Policy::Eu, *r, None), eu[i - 1]);
        }
    }
    assert_eq!(
        display_name(&Policy::Unclassified, Rank::Unclassified, None),
        "UNCLASSIFIED"
    );
    let mut names = NationalNames::new();
    names.insert("DEU", Rank::Restricted, "VS-NUR FÜR DEN DIENSTGEBRAUCH");
    assert_eq!(
        display_name(&national("DEU"), Rank::Restricted, Some(&names)),
        "VS-NUR FÜR DEN DIENSTGEBRAUCH"
    );
    // No configured name: the rank name.
    assert_eq!(
        display_name(&national("DEU"), Rank::Secret, Some(&names)),
        "SECRET"
    );
    assert_eq!(
        display_name(&national("LTU"), Rank::Restricted, Some(&names)),
        "RESTRICTED"
    );
    assert_eq!(
        display_name(&national("DEU"), Rank::Restricted, None),
        "RESTRICTED"
    );
    // Label display with national names.
    let l = L::new(national("DEU"), Rank::Restricted).rel(&["DEU"]).l();
    assert_eq!(
        l.display_name(Some(&names)),
        "DEU VS-NUR FÜR DEN DIENSTGEBRAUCH REL TO DEU"
    );
    // National names deserialise from configuration.
    let from_cfg: NationalNames =
        serde_json::from_str(r#"{"DEU": {"RESTRICTED": "VS-NUR FÜR DEN DIENSTGEBRAUCH"}}"#)
            .expect("config");
    assert_eq!(from_cfg, names);
}

#[test]
fn valid_policy_rank_pairs() {
    for r in Rank::ALL {
        let ok = |p: Policy| L::new(p, r).l().validate().is_ok();
        assert_eq!(
            ok(Policy::Unclassified),
            r == Rank::Unclassified,
            "UNCLASSIFIED {r}"
        );
        assert!(ok(Policy::Nato), "NATO {r}");
        assert_eq!(ok(Policy::Eu), r != Rank::Unclassified, "EU {r}");
        assert_eq!(ok(national("DEU")), r != Rank::Unclassified, "NATIONAL {r}");
    }
    let e = L::new(Policy::Eu, Rank::Unclassified)
        .l()
        .validate()
        .unwrap_err();
    assert_eq!(
        e,
        LabelError::InvalidPolicyRank {
            policy: Policy::Eu,
            classification: Rank::Unclassified
        }
    );
    assert!(
        e.to_string()
            .starts_with("classification: UNCLASSIFIED is not valid under policy EU"),
        "{e}"
    );
}

#[test]
fn malformed_tokens_are_refused_naming_the_field() {
    let err = |l: Label| l.validate().unwrap_err().to_string();
    assert!(err(L::uncl().rel(&[""]).l()).starts_with("releasable_to: `` must not be empty"));
    assert!(err(L::uncl().rel(&["L TU"]).l()).starts_with("releasable_to: `L TU`"));
    assert!(err(L::uncl().rel(&["LTU,EST"]).l()).starts_with("releasable_to: `LTU,EST`"));
    assert!(
        err(L::uncl().rel(&["identity--nope"]).l())
            .starts_with("releasable_to: `identity--nope` is not a valid identity id")
    );
    assert!(
        err(L::uncl()
            .rel(&["identity--0A1B2C3D-0000-4000-8000-000000000001"])
            .l())
        .starts_with("releasable_to:")
    );
    assert!(
        err(L::uncl().rel(&[NOBODY, "LTU"]).l())
            .starts_with("releasable_to: `NOBODY` must stand alone")
    );
    assert!(
        err(L::uncl().rel(&[NOBODY]).tlp(Tlp::Amber).l())
            .starts_with("releasable_to: `NOBODY` is not used with tlp amber")
    );
    assert!(err(L::uncl().caveats(&["A|B"]).l()).starts_with("caveats: `A|B`"));
    assert!(err(L::uncl().caveats(&["A\nB"]).l()).starts_with("caveats: "));
    assert!(err(L::uncl().exercise("").l()).starts_with("exercise: "));
    assert!(err(L::uncl().exercise(&"x".repeat(257)).l()).contains("longer than 256 bytes"));
    assert!(
        err(L::uncl().orig("LTU").l()).starts_with("originator: `LTU` is not a valid identity id")
    );
    let mut l = L::uncl().l();
    l.policy = Policy::National("ltu".into());
    l.classification = Rank::Secret;
    assert!(err(l).starts_with("policy: "));
    // What is fine.
    let ok = L::new(Policy::Eu, Rank::Restricted)
        .rel(&["EU", "LTU", ID_LT_CERT, "CSIRTS-NETWORK"])
        .caveats(&["ATOMAL", "CASE-2026-0042"])
        .exercise("cyber-europe-2026")
        .orig(ID_EE_CERT)
        .l();
    assert_eq!(ok.validate(), Ok(()));
    assert_eq!(
        L::uncl().rel(&[NOBODY]).tlp(Tlp::Green).l().validate(),
        Ok(())
    );
}

#[test]
fn access_key_covers_every_read_input() {
    let l = L::new(Policy::Nato, Rank::Secret)
        .rel(&["EU"])
        .pap(Pap::Amber)
        .tlp(Tlp::AmberStrict)
        .orig(ID_LT_CERT)
        .l();
    assert_eq!(
        l.access_key(),
        format!("NATO|SECRET|EU||amber||amber+strict|{ID_LT_CERT}")
    );
    assert_eq!(
        Label::unclassified(Tlp::Clear).access_key(),
        "UNCLASSIFIED|UNCLASSIFIED|||||clear|"
    );
    let mut other = l.clone();
    other.tlp = Some(Tlp::Amber);
    assert_ne!(other.access_key(), l.access_key());
    let other = l.clone().with_originator(None);
    assert_ne!(other.access_key(), l.access_key());
}

#[test]
fn label_serde_shape() {
    let l = L::new(national("LTU"), Rank::TopSecret)
        .rel(&["EST", "EU"])
        .tlp(Tlp::AmberStrict)
        .pap(Pap::Red)
        .exercise("ex")
        .orig(ID_LT_CERT)
        .l();
    let v = serde_json::to_value(&l).expect("json");
    assert_eq!(
        v,
        serde_json::json!({
            "policy": "NATIONAL:LTU",
            "classification": "TOP_SECRET",
            "releasable_to": ["EST", "EU"],
            "caveats": [],
            "tlp": "amber+strict",
            "pap": "red",
            "exercise": "ex",
            "originator": ID_LT_CERT
        })
    );
    let back: Label = serde_json::from_value(v).expect("back");
    assert_eq!(back, l);
    // Missing optional fields default; bad values are refused naming the field.
    let min: Label =
        serde_json::from_str(r#"{"policy":"UNCLASSIFIED","classification":"UNCLASSIFIED"}"#)
            .expect("min");
    assert_eq!(min, L::uncl().no_tlp().l());
    let e = serde_json::from_str::<Label>(
        r#"{"policy":"NATO","classification":"SECRET","tlp":"amber-strict"}"#,
    )
    .unwrap_err();
    assert!(e.to_string().contains("tlp: `amber-strict`"), "{e}");
}

#[test]
fn marking_and_label_convert() {
    let l = L::new(Policy::Eu, Rank::Secret)
        .rel(&["LTU"])
        .caveats(&["X"])
        .pap(Pap::Green)
        .exercise("ex")
        .tlp(Tlp::Red)
        .orig(ID_LT_CERT)
        .l();
    let m = l.marking();
    assert_eq!(
        Label::from_marking(m.clone(), l.tlp, l.originator.clone()),
        l
    );
    assert_eq!(m.canonical_form(), label_canonical_form(&l));
    assert_eq!(
        LabelMarking::unclassified().canonical_form(),
        "UNCLASSIFIED|UNCLASSIFIED||||"
    );
}

#[test]
fn organisation_matching() {
    let o = lt_cert();
    assert!(o.matches(ID_LT_CERT));
    assert!(o.matches("LTU"));
    assert!(o.matches("EU") && o.matches("NATO"));
    assert!(!o.matches("EST"));
    assert!(!o.matches(""));
    assert!(!o.matches(NOBODY));
    let mut odd = bare();
    odd.memberships.insert(NOBODY.into());
    assert!(
        !odd.matches(NOBODY),
        "NOBODY matches no organisation, whatever its memberships"
    );
    assert!(o.in_default_community(&Policy::Unclassified));
    assert!(o.in_default_community(&Policy::Eu));
    assert!(o.in_default_community(&national("LTU")));
    assert!(!o.in_default_community(&national("DEU")));
    assert!(!at_cert().in_default_community(&Policy::Nato));
    assert!(bare().in_default_community(&Policy::Unclassified));
}
