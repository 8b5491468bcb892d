//! The STIX 2.1 encoding (spec §6): ids, marking definitions, and reading an
//! object's label from its markings.

mod common;

use std::collections::BTreeMap;

use common::*;
use phalanx_labels::*;
use proptest::prelude::*;
use serde_json::{Map, Value, json};

fn obj(v: Value) -> Map<String, Value> {
    match v {
        Value::Object(m) => m,
        _ => panic!("test object is not an object"),
    }
}

fn no_resolver(_: &str) -> Option<MarkingDefinitionRef> {
    None
}

/// A resolver over marking-definition JSON objects (as in a bundle or store).
fn resolver(defs: &[Value]) -> impl Fn(&str) -> Option<MarkingDefinitionRef> + use<> {
    let map: BTreeMap<String, Value> = marking_definitions_in(defs);
    move |id: &str| map.get(id).cloned().map(MarkingDefinitionRef::Definition)
}

fn statement(id: &str) -> Value {
    json!({
        "type": "marking-definition", "spec_version": "2.1", "id": id,
        "created": "2020-01-01T00:00:00.000Z",
        "definition_type": "statement", "definition": { "statement": "Copyright CERT" }
    })
}

const STATEMENT_ID: &str = "marking-definition--2a5a3a2c-5b4a-4a0e-9d43-cf6e1e1b7f11";

// -------------------------------------------------------------- test vectors

#[test]
fn spec_test_vectors() {
    let vectors = [
        (
            L::new(Policy::Nato, Rank::Secret)
                .rel(&["EU"])
                .pap(Pap::Amber)
                .l(),
            "NATO|SECRET|EU||amber|",
            "marking-definition--4fb0d4c5-a754-5cd8-a2c2-13e50e40ff02",
        ),
        (
            L::new(Policy::Eu, Rank::Restricted)
                .rel(&["LTU", "EST"])
                .caveats(&["CASE-2026-0042"])
                .l(),
            "EU|RESTRICTED|EST,LTU|CASE-2026-0042||",
            "marking-definition--95409599-3837-56a5-a50c-6f4e70f9eb88",
        ),
        (
            L::uncl().pap(Pap::Green).exercise("cyber-europe-2026").l(),
            "UNCLASSIFIED|UNCLASSIFIED|||green|cyber-europe-2026",
            "marking-definition--de775fc6-2d20-5de2-ae96-24a8cda97abc",
        ),
    ];
    for (label, canonical, id) in vectors {
        assert_eq!(label.validate(), Ok(()));
        assert_eq!(label_canonical_form(&label), canonical);
        assert_eq!(label_marking_id(&label), id);
        // TLP and originator are not part of the marking id.
        let other = label.clone().with_originator(Some(ID_LT_CERT.into()));
        let mut other = other;
        other.tlp = Some(Tlp::Red);
        assert_eq!(label_marking_id(&other), id);
    }
}

#[test]
fn phalanx_identity_id_is_derived_as_documented() {
    let u = uuid::Uuid::new_v5(&LABEL_ID_NAMESPACE, b"identity|Phalanx");
    assert_eq!(PHALANX_IDENTITY_ID, format!("identity--{u}"));
    assert!(is_identity_id(PHALANX_IDENTITY_ID));
    assert_eq!(phalanx_identity()["id"], PHALANX_IDENTITY_ID);
}

// -------------------------------------------------------- definitions (out)

#[test]
/// The spec's example, less its empty `caveats` list and null `exercise`:
/// STIX prohibits both (stix2-validator refuses them), and they do not
/// change the id. Parsing still accepts the spec's form.
fn label_marking_definition_is_the_spec_example() {
    let label = L::new(Policy::Nato, Rank::Secret)
        .rel(&["EU"])
        .pap(Pap::Amber)
        .tlp(Tlp::Amber)
        .l();
    let expected = json!({
      "type": "marking-definition",
      "spec_version": "2.1",
      "id": "marking-definition--4fb0d4c5-a754-5cd8-a2c2-13e50e40ff02",
      "created": "2026-01-01T00:00:00.000Z",
      "name": "NATO SECRET REL TO EU",
      "extensions": {
        "extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0": {
          "extension_type": "property-extension",
          "policy": "NATO",
          "classification": "SECRET",
          "releasable_to": ["EU"],
          "pap": "amber"
        }
      }
    });
    let got = label_marking_definition(&label);
    assert_eq!(got, expected);
    // Same property order as the spec shows.
    assert_eq!(got.to_string(), expected.to_string());
    // The spec's literal form parses to the same marking.
    let mut spec_form = expected.clone();
    let ext = &mut spec_form["extensions"]["extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0"];
    ext["caveats"] = json!([]);
    ext["exercise"] = json!(null);
    assert_eq!(
        phalanx_labels::parse_marking_definition(&spec_form).unwrap(),
        phalanx_labels::parse_marking_definition(&got).unwrap()
    );
}

#[test]
fn marking_definition_names() {
    let name = |l: Label| {
        label_marking_definition(&l)["name"]
            .as_str()
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(name(L::uncl().l()), "UNCLASSIFIED");
    assert_eq!(
        name(
            L::new(Policy::Eu, Rank::Restricted)
                .rel(&["LTU", "EST"])
                .caveats(&["CASE-2026-0042"])
                .l()
        ),
        "RESTREINT UE/EU RESTRICTED CASE-2026-0042 REL TO EST, LTU"
    );
    assert_eq!(
        name(L::uncl().exercise("cyber-europe-2026").l()),
        "EXERCISE cyber-europe-2026 UNCLASSIFIED"
    );
    assert_eq!(
        name(L::new(national("DEU"), Rank::Restricted).l()),
        "DEU RESTRICTED"
    );
    assert_eq!(
        name(
            L::new(Policy::Nato, Rank::TopSecret)
                .caveats(&["ATOMAL"])
                .l()
        ),
        "COSMIC TOP SECRET ATOMAL"
    );
}

#[test]
fn tlp_marking_definitions() {
    for (tlp, id, name) in [
        (Tlp::Clear, TLP2_CLEAR, "TLP:CLEAR"),
        (Tlp::Green, TLP2_GREEN, "TLP:GREEN"),
        (Tlp::Amber, TLP2_AMBER, "TLP:AMBER"),
        (Tlp::AmberStrict, TLP2_AMBER_STRICT, "TLP:AMBER+STRICT"),
        (Tlp::Red, TLP2_RED, "TLP:RED"),
    ] {
        let d = tlp_marking_definition(tlp);
        assert_eq!(
            d,
            json!({
                "type": "marking-definition",
                "spec_version": "2.1",
                "id": id,
                "created": "2022-10-01T00:00:00.000Z",
                "name": name,
                "extensions": {
                    "extension-definition--60a3c5c5-0d10-413e-aab3-9e08dde9e88d": {
                        "extension_type": "property-extension",
                        "tlp_2_0": tlp.to_string()
                    }
                }
            })
        );
        assert_eq!(tlp.marking_id(), id);
        assert_eq!(parse_marking_definition(&d), Ok(MarkingKind::Tlp(tlp)));
    }
}

#[test]
fn extension_definition_object() {
    let d = extension_definition();
    assert_eq!(d["type"], "extension-definition");
    assert_eq!(d["spec_version"], "2.1");
    assert_eq!(
        d["id"],
        "extension-definition--8ea66e3e-9f13-48ea-8a0f-a87be27069e0"
    );
    assert_eq!(d["created_by_ref"], PHALANX_IDENTITY_ID);
    assert_eq!(d["created"], "2026-01-01T00:00:00.000Z");
    assert_eq!(d["modified"], "2026-01-01T00:00:00.000Z");
    assert_eq!(d["version"], "1.0.0");
    assert_eq!(d["extension_types"], json!(["property-extension"]));
    assert!(d["name"].as_str().is_some_and(|s| !s.is_empty()));
    assert!(d["description"].as_str().is_some_and(|s| !s.is_empty()));
    // STIX 2.1 §7.3: schema is a string; here, a JSON Schema as text.
    let schema_text = d["schema"].as_str().expect("schema is a string");
    let schema: Value = serde_json::from_str(schema_text).expect("schema is JSON");
    assert_eq!(schema, label_extension_schema());
    assert_eq!(schema["type"], "object");
    assert_eq!(schema["additionalProperties"], false);
    for p in [
        "extension_type",
        "policy",
        "classification",
        "releasable_to",
        "caveats",
        "pap",
        "exercise",
    ] {
        assert!(schema["properties"].get(p).is_some(), "schema lacks {p}");
    }
}

// ---------------------------------------------------------- definitions (in)

#[test]
fn round_trip_label_to_json_to_label() {
    let labels = [
        L::new(Policy::Nato, Rank::Secret)
            .rel(&["EU"])
            .pap(Pap::Amber)
            .tlp(Tlp::Amber)
            .l(),
        L::new(Policy::Eu, Rank::Restricted)
            .rel(&["LTU", "EST"])
            .caveats(&["CASE-2026-0042"])
            .tlp(Tlp::Red)
            .l(),
        L::uncl()
            .pap(Pap::Green)
            .exercise("cyber-europe-2026")
            .tlp(Tlp::Clear)
            .l(),
        L::new(national("LTU"), Rank::TopSecret)
            .rel(&[ID_EE_CERT, "NATO"])
            .caveats(&["A", "B"])
            .tlp(Tlp::Green)
            .l(),
        L::uncl().rel(&[NOBODY]).tlp(Tlp::Green).l(),
    ];
    for label in labels {
        let def = label_marking_definition(&label);
        // Through the JSON text, as a peer would receive it.
        let def: Value = serde_json::from_str(&def.to_string()).expect("json");
        assert_eq!(
            parse_marking_definition(&def),
            Ok(MarkingKind::PhalanxLabel(label.marking()))
        );
        // And through an object that refers to it and to its TLP.
        let tlp = label.tlp.expect("test labels have a tlp");
        let o = obj(json!({
            "type": "indicator",
            "object_marking_refs": [tlp.marking_id(), label_marking_id(&label)]
        }));
        let got =
            label_from_object(&o, &resolver(&[def]), &LabelDefaults::default()).expect("label");
        assert_eq!(got.label, label.clone().with_originator(None));
        assert!(got.added_markings.is_empty());
    }
}

#[test]
fn parse_refuses_a_label_under_another_id() {
    let mut def = label_marking_definition(&L::new(Policy::Nato, Rank::Secret).l());
    def["id"] = json!(label_marking_id(&L::uncl().l()));
    let e = parse_marking_definition(&def).unwrap_err();
    assert!(
        e.to_string()
            .contains("id: does not match the label it carries"),
        "{e}"
    );
}

#[test]
fn parse_refuses_malformed_label_extensions() {
    let base = label_marking_definition(&L::new(Policy::Nato, Rank::Secret).l());
    let ext = |f: &dyn Fn(&mut Value)| {
        let mut d = base.clone();
        f(&mut d["extensions"][PHALANX_LABEL_EXTENSION_ID]);
        parse_marking_definition(&d).unwrap_err().to_string()
    };
    assert!(
        ext(&|e| e["classification"] = json!("SECRETISH"))
            .contains("classification: `SECRETISH` is not a rank")
    );
    assert!(
        ext(&|e| e["policy"] = json!("NATIONAL:ltu"))
            .contains("policy: `NATIONAL:ltu` is not a policy")
    );
    assert!(
        ext(&|e| {
            e["policy"] = json!("EU");
            e["classification"] = json!("UNCLASSIFIED");
        })
        .contains("classification: UNCLASSIFIED is not valid under policy EU")
    );
    // A valid label under the wrong id.
    assert!(ext(&|e| e["policy"] = json!("EU")).contains("id: does not match"));
    assert!(
        ext(&|e| e["policy"] = json!("UNCLASSIFIED"))
            .contains("is not valid under policy UNCLASSIFIED")
    );
    assert!(
        ext(&|e| e["releasable_to"] = json!("EU"))
            .contains("releasable_to: expected an array of strings")
    );
    assert!(ext(&|e| e["releasable_to"] = json!(["E U"])).contains("releasable_to: `E U`"));
    assert!(ext(&|e| e["caveats"] = json!(["A,B"])).contains("caveats: `A,B`"));
    assert!(ext(&|e| e["pap"] = json!("purple")).contains("pap: `purple`"));
    assert!(ext(&|e| e["exercise"] = json!(3)).contains("exercise: expected a string or null"));
    assert!(ext(&|e| e["tlp"] = json!("red")).contains("tlp: unknown property"));
    assert!(ext(&|e| e["extension_type"] = json!("new-sdo")).contains("extension_type"));
    // Both a TLP and a label in one definition.
    let mut d = base.clone();
    d["extensions"][TLP2_EXTENSION_ID] =
        json!({"extension_type": "property-extension", "tlp_2_0": "red"});
    assert!(
        parse_marking_definition(&d)
            .unwrap_err()
            .to_string()
            .contains("both a tlp level and a phalanx label")
    );
    // Not a marking definition.
    let mut d = base.clone();
    d["type"] = json!("indicator");
    assert!(
        parse_marking_definition(&d)
            .unwrap_err()
            .to_string()
            .contains("type: expected `marking-definition`")
    );
    assert!(parse_marking_definition(&json!("x")).is_err());
}

#[test]
fn parse_other_kinds() {
    assert_eq!(
        parse_marking_definition(&statement(STATEMENT_ID)),
        Ok(MarkingKind::Other)
    );
    // A custom TLP definition is read as its level, never ignored.
    let custom2 = json!({
        "type": "marking-definition", "spec_version": "2.1",
        "id": "marking-definition--11111111-2222-4333-8444-555555555555", "created": "2024-01-01T00:00:00.000Z",
        "extensions": { TLP2_EXTENSION_ID: { "extension_type": "property-extension", "tlp_2_0": "red" } }
    });
    assert_eq!(
        parse_marking_definition(&custom2),
        Ok(MarkingKind::Tlp(Tlp::Red))
    );
    let custom1 = json!({
        "type": "marking-definition", "spec_version": "2.1",
        "id": "marking-definition--11111111-2222-4333-8444-666666666666", "created": "2017-01-20T00:00:00.000Z",
        "definition_type": "tlp", "definition": { "tlp": "white" }
    });
    assert_eq!(
        parse_marking_definition(&custom1),
        Ok(MarkingKind::Tlp(Tlp::Clear))
    );
    // The STIX 2.1 predefined TLP 1.0 objects.
    let red1 = json!({
        "type": "marking-definition", "spec_version": "2.1", "id": TLP1_RED,
        "created": "2017-01-20T00:00:00.000Z", "definition_type": "tlp", "name": "TLP:RED",
        "definition": { "tlp": "red" }
    });
    assert_eq!(
        parse_marking_definition(&red1),
        Ok(MarkingKind::Tlp(Tlp::Red))
    );
}

// ------------------------------------------------------- label_from_object

#[test]
fn tlp_ids_are_known_without_a_resolver() {
    for (id, tlp) in [
        (TLP1_WHITE, Tlp::Clear),
        (TLP1_GREEN, Tlp::Green),
        (TLP1_AMBER, Tlp::Amber),
        (TLP1_RED, Tlp::Red),
        (TLP2_CLEAR, Tlp::Clear),
        (TLP2_GREEN, Tlp::Green),
        (TLP2_AMBER, Tlp::Amber),
        (TLP2_AMBER_STRICT, Tlp::AmberStrict),
        (TLP2_RED, Tlp::Red),
    ] {
        assert_eq!(tlp_from_marking_id(id), Some(tlp));
        let o = obj(json!({ "type": "indicator", "object_marking_refs": [id] }));
        let got = label_from_object(&o, &no_resolver, &LabelDefaults::default()).expect("label");
        assert_eq!(got.label, Label::unclassified(tlp), "{id}");
        assert!(got.added_markings.is_empty());
    }
    assert_eq!(tlp_from_marking_id(STATEMENT_ID), None);
}

#[test]
fn several_tlp_markings_take_the_most_restrictive() {
    let o = obj(json!({ "object_marking_refs": [TLP1_WHITE, TLP2_AMBER_STRICT, TLP2_GREEN] }));
    let got = label_from_object(&o, &no_resolver, &LabelDefaults::default()).expect("label");
    assert_eq!(got.label.tlp, Some(Tlp::AmberStrict));
}

#[test]
fn granular_markings_count_like_object_markings() {
    let secret = L::new(Policy::Nato, Rank::Secret)
        .rel(&["EU", "NATO"])
        .caveats(&["ATOMAL"])
        .l();
    let restricted = L::new(Policy::Nato, Rank::Restricted)
        .rel(&["NATO", "LTU"])
        .caveats(&["C1"])
        .pap(Pap::Red)
        .l();
    let defs = [
        label_marking_definition(&secret),
        label_marking_definition(&restricted),
        statement(STATEMENT_ID),
    ];
    let o = obj(json!({
        "type": "report",
        "object_marking_refs": [TLP2_GREEN, label_marking_id(&restricted), STATEMENT_ID],
        "granular_markings": [
            { "lang": "fr", "selectors": ["name"] },
            { "marking_ref": TLP2_RED, "selectors": ["description"] },
            { "marking_ref": label_marking_id(&secret), "selectors": ["description"] },
            { "marking_ref": STATEMENT_ID, "selectors": ["name"] }
        ]
    }));
    let got = label_from_object(&o, &resolver(&defs), &LabelDefaults::default()).expect("label");
    let l = got.label;
    assert_eq!(l.tlp, Some(Tlp::Red));
    assert_eq!(l.policy, Policy::Nato);
    assert_eq!(l.classification, Rank::Secret);
    assert_eq!(l.releasable_to, set(&["NATO"]));
    assert_eq!(l.caveats, set(&["ATOMAL", "C1"]));
    assert_eq!(l.pap, Some(Pap::Red));
    assert_eq!(l.originator, None);
    assert!(got.added_markings.is_empty());
}

#[test]
fn unresolvable_reference_is_an_error_with_its_path() {
    let missing = "marking-definition--00000000-0000-4000-8000-00000000dead";
    let o = obj(json!({ "object_marking_refs": [TLP2_GREEN, STATEMENT_ID, missing] }));
    let e = label_from_object(
        &o,
        &resolver(&[statement(STATEMENT_ID)]),
        &LabelDefaults::default(),
    )
    .unwrap_err();
    assert_eq!(
        e,
        LabelError::UnresolvedMarking {
            marking_ref: missing.to_string(),
            path: "object_marking_refs[2]".to_string()
        }
    );
    assert_eq!(
        e.to_string(),
        format!(
            "object_marking_refs[2]: marking reference `{missing}` cannot be resolved to a marking definition"
        )
    );
    let o = obj(json!({
        "object_marking_refs": [TLP2_GREEN],
        "granular_markings": [{ "lang": "en", "selectors": ["name"] }, { "marking_ref": missing, "selectors": ["name"] }]
    }));
    let e = label_from_object(&o, &no_resolver, &LabelDefaults::default()).unwrap_err();
    assert!(
        e.to_string()
            .starts_with("granular_markings[1].marking_ref: marking reference"),
        "{e}"
    );
}

#[test]
fn malformed_marking_properties_are_errors_with_their_path() {
    let err = |v: Value| {
        label_from_object(&obj(v), &no_resolver, &LabelDefaults::default())
            .unwrap_err()
            .to_string()
    };
    assert!(
        err(json!({ "object_marking_refs": TLP2_RED }))
            .starts_with("object_marking_refs: expected an array")
    );
    assert!(
        err(json!({ "object_marking_refs": [TLP2_RED, 7] }))
            .starts_with("object_marking_refs[1]: expected a marking-definition id")
    );
    assert!(
        err(json!({ "granular_markings": {} })).starts_with("granular_markings: expected an array")
    );
    assert!(
        err(json!({ "granular_markings": [3] }))
            .starts_with("granular_markings[0]: expected a granular marking object")
    );
}

#[test]
fn a_bad_resolved_definition_is_an_error_with_its_path() {
    let label = L::new(Policy::Eu, Rank::Secret).l();
    let id = label_marking_id(&label);
    let mut def = label_marking_definition(&label);
    def["extensions"][PHALANX_LABEL_EXTENSION_ID]["classification"] = json!("UNCLASSIFIED");
    let o = obj(json!({ "object_marking_refs": [TLP2_AMBER, id.clone()] }));
    let e = label_from_object(&o, &resolver(&[def]), &LabelDefaults::default()).unwrap_err();
    let msg = e.to_string();
    assert!(
        msg.starts_with(&format!(
            "object_marking_refs[1]: marking `{id}`: marking definition"
        )),
        "{msg}"
    );
    // A resolver handing back a parsed label that is not the referenced one.
    let other = L::new(Policy::Eu, Rank::Restricted).l().marking();
    let lying = move |_: &str| {
        Some(MarkingDefinitionRef::Kind(MarkingKind::PhalanxLabel(
            other.clone(),
        )))
    };
    let e = label_from_object(&o, &lying, &LabelDefaults::default()).unwrap_err();
    assert!(matches!(e, LabelError::AtMarking { .. }), "{e}");
}

#[test]
fn conflicting_label_markings_on_one_object_are_an_error() {
    let eu = L::new(Policy::Eu, Rank::Secret).l();
    let nato = L::new(Policy::Nato, Rank::Secret).l();
    let defs = [
        label_marking_definition(&eu),
        label_marking_definition(&nato),
    ];
    let o = obj(
        json!({ "object_marking_refs": [label_marking_id(&eu)], "granular_markings": [{ "marking_ref": label_marking_id(&nato), "selectors": ["name"] }] }),
    );
    let e = label_from_object(&o, &resolver(&defs), &LabelDefaults::default()).unwrap_err();
    assert!(
        matches!(e, LabelError::Lub(LubError::PolicyConflict { .. })),
        "{e}"
    );
    assert!(
        e.to_string()
            .starts_with("markings: policy: EU and NATO do not combine"),
        "{e}"
    );
}

#[test]
fn unmarked_object_takes_the_node_defaults() {
    let o = obj(json!({ "type": "indicator", "id": "indicator--x" }));
    let got = label_from_object(&o, &no_resolver, &LabelDefaults::default()).expect("label");
    assert_eq!(got.label, Label::unclassified(Tlp::AmberStrict));
    assert_eq!(got.added_markings, vec![TLP2_AMBER_STRICT.to_string()]);
}

#[test]
fn writer_defaults_are_applied_and_made_explicit() {
    let marking = L::new(Policy::Eu, Rank::Restricted)
        .rel(&["LTU"])
        .l()
        .marking();
    let defaults = LabelDefaults {
        tlp: Tlp::Green,
        label: Some(marking.clone()),
    };
    let mut o = obj(json!({ "type": "indicator", "object_marking_refs": [STATEMENT_ID] }));
    let got =
        label_from_object(&o, &resolver(&[statement(STATEMENT_ID)]), &defaults).expect("label");
    assert_eq!(
        got.label,
        Label::from_marking(marking.clone(), Some(Tlp::Green), None)
    );
    assert_eq!(
        got.added_markings,
        vec![TLP2_GREEN.to_string(), marking.marking_id()]
    );

    apply_added_markings(&mut o, &got.added_markings).expect("apply");
    assert_eq!(
        o["object_marking_refs"],
        json!([STATEMENT_ID, TLP2_GREEN, marking.marking_id()])
    );
    // Applying twice adds nothing.
    apply_added_markings(&mut o, &got.added_markings).expect("apply");
    assert_eq!(o["object_marking_refs"].as_array().map(Vec::len), Some(3));
    // The object now carries its label explicitly.
    let defs = [statement(STATEMENT_ID), marking.marking_definition()];
    let again = label_from_object(&o, &resolver(&defs), &LabelDefaults::default()).expect("label");
    assert_eq!(again.label, got.label);
    assert!(again.added_markings.is_empty());
}

#[test]
fn defaults_fill_only_what_is_missing() {
    let marking = L::new(Policy::Eu, Rank::Restricted).l().marking();
    let defaults = LabelDefaults {
        tlp: Tlp::Green,
        label: Some(marking),
    };
    // Has a TLP: only the label default is added.
    let o = obj(json!({ "object_marking_refs": [TLP2_RED] }));
    let got = label_from_object(&o, &no_resolver, &defaults).expect("label");
    assert_eq!(got.label.tlp, Some(Tlp::Red));
    assert_eq!(got.added_markings.len(), 1);
    // Has a label: only the TLP default is added.
    let own = L::new(Policy::Nato, Rank::Secret).l();
    let o = obj(json!({ "object_marking_refs": [label_marking_id(&own)] }));
    let got = label_from_object(&o, &resolver(&[label_marking_definition(&own)]), &defaults)
        .expect("label");
    assert_eq!(got.label.policy, Policy::Nato);
    assert_eq!(got.added_markings, vec![TLP2_GREEN.to_string()]);
    // An invalid default label is refused.
    let mut bad = L::uncl().l().marking();
    bad.classification = Rank::Secret;
    let defaults = LabelDefaults {
        tlp: Tlp::Green,
        label: Some(bad),
    };
    assert!(label_from_object(&obj(json!({})), &no_resolver, &defaults).is_err());
}

#[test]
fn nobody_under_amber_reads_as_empty() {
    let nobody = L::uncl().rel(&[NOBODY]).tlp(Tlp::Green).l();
    let o = obj(json!({ "object_marking_refs": [TLP2_AMBER, label_marking_id(&nobody)] }));
    let got = label_from_object(
        &o,
        &resolver(&[label_marking_definition(&nobody)]),
        &LabelDefaults::default(),
    )
    .expect("label");
    assert!(got.label.releasable_to.is_empty());
    assert_eq!(got.label.validate(), Ok(()));
}

#[test]
fn apply_added_markings_refuses_a_non_array() {
    let mut o = obj(json!({ "object_marking_refs": "x" }));
    assert!(apply_added_markings(&mut o, &[TLP2_RED.to_string()]).is_err());
    let mut o = obj(json!({}));
    apply_added_markings(&mut o, &[]).expect("nothing to add");
    assert!(o.get("object_marking_refs").is_none());
}

// -------------------------------------------------------------- properties

fn arb_marking() -> impl Strategy<Value = LabelMarking> {
    let token = "[A-Za-z0-9:._-]{1,12}";
    (
        prop_oneof![
            Just(Policy::Unclassified),
            Just(Policy::Eu),
            Just(Policy::Nato),
            "[A-Z]{3}".prop_map(Policy::National)
        ],
        0u8..5,
        proptest::collection::btree_set(token, 0..4),
        proptest::collection::btree_set(token, 0..3),
        proptest::option::of(proptest::sample::select(Pap::ALL.to_vec())),
        proptest::option::of(token),
    )
        .prop_map(|(policy, n, releasable_to, caveats, pap, exercise)| {
            let r = Rank::from_u8(n).unwrap_or_default();
            let classification = if policy.allows(r) {
                r
            } else if policy == Policy::Unclassified {
                Rank::Unclassified
            } else {
                Rank::Secret
            };
            let releasable_to = releasable_to.into_iter().filter(|t| t != NOBODY).collect();
            LabelMarking {
                policy,
                classification,
                releasable_to,
                caveats,
                pap,
                exercise,
            }
        })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, failure_persistence: None, ..ProptestConfig::default() })]

    #[test]
    fn marking_definition_round_trips(m in arb_marking()) {
        prop_assert_eq!(m.validate(), Ok(()));
        let text = m.marking_definition().to_string();
        let back: Value = serde_json::from_str(&text).map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(parse_marking_definition(&back), Ok(MarkingKind::PhalanxLabel(m.clone())));
        let id = m.marking_id();
        prop_assert_eq!(back["id"].as_str(), Some(id.as_str()));
    }

    #[test]
    fn parse_never_panics(v in arb_json()) {
        let _ = parse_marking_definition(&v);
        if let Value::Object(m) = &v {
            let _ = label_from_object(m, &no_resolver, &LabelDefaults::default());
        }
    }
}

fn arb_json() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::Bool),
        any::<i64>().prop_map(|n| json!(n)),
        proptest::sample::select(vec![
            "marking-definition",
            "property-extension",
            "tlp",
            "red",
            "NATO",
            "SECRET",
            TLP2_RED,
            PHALANX_LABEL_EXTENSION_ID,
            TLP2_EXTENSION_ID,
            "object_marking_refs",
            "x"
        ])
        .prop_map(|s| json!(s)),
    ];
    leaf.prop_recursive(4, 32, 6, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(Value::Array),
            proptest::collection::vec(
                (
                    proptest::sample::select(vec![
                        "type",
                        "id",
                        "extensions",
                        "definition_type",
                        "definition",
                        "tlp",
                        "tlp_2_0",
                        "policy",
                        "classification",
                        "releasable_to",
                        "caveats",
                        "pap",
                        "exercise",
                        "extension_type",
                        "object_marking_refs",
                        "granular_markings",
                        "marking_ref",
                        PHALANX_LABEL_EXTENSION_ID,
                        TLP2_EXTENSION_ID
                    ]),
                    inner
                ),
                0..5
            )
            .prop_map(|kv| Value::Object(
                kv.into_iter().map(|(k, v)| (k.to_string(), v)).collect()
            )),
        ]
    })
}
