//! Arbitrary bytes into the STIX object splitter and validator.
//!
//! The input is split with `phalanx_model::stream::split_objects` (bundle, JSON array or JSON
//! lines) and with `split_envelope` (a TAXII envelope), and every object found goes through
//! `StixObject::from_json` and `StixObject::from_compact_json_or_bytes` (the import's path,
//! which keeps the parsed text). Fails on a panic or a stack overflow; an accepted object must
//! serialise and validate again to the same object; an error must name a line and column; the
//! two paths must accept and refuse alike, with the same errors.

#![no_main]

use libfuzzer_sys::fuzz_target;
use phalanx_model::StixObject;
use phalanx_model::stream::{Item, Limits, split_envelope, split_objects};

fuzz_target!(|data: &[u8]| {
    let limits = Limits { max_object_bytes: 1 << 20, max_depth: 64 };
    let _ = split_objects(data, &limits, &mut check);
    if let Err(e) = split_envelope(data, &limits, &mut check) {
        assert!(e.line >= 1 && e.column >= 1, "an envelope error without a position: {e}");
    }
});

/// An object found by a splitter: validated, and if accepted, round-tripped.
fn check(item: Item) {
    let Item::Object { path, bytes, .. } = item else {
        return;
    };
    // The import's path keeps the text it parsed: it must decide as the
    // plain path does, and the text it keeps must be the object.
    let kept = StixObject::from_compact_json_or_bytes(bytes.clone(), &path);
    match StixObject::from_json(&bytes, &path) {
        Ok(parsed) => {
            let text = parsed.object.to_json_string();
            match StixObject::from_json(text.as_bytes(), &path) {
                Ok(again) => assert_eq!(again.object.map(), parsed.object.map(), "round trip of {text}"),
                Err(e) => panic!("accepted object {text} is refused after a round trip: {e}"),
            }
            match kept {
                Ok(kept) => {
                    assert_eq!(kept.object.map(), parsed.object.map(), "the kept path's object");
                    let kept_text = kept.object.to_json_string();
                    match StixObject::from_json(kept_text.as_bytes(), &path) {
                        Ok(again) => assert_eq!(again.object.map(), parsed.object.map(), "kept text {kept_text}"),
                        Err(e) => panic!("the kept text {kept_text} is refused: {e}"),
                    }
                }
                Err((e, _)) => panic!("accepted by from_json, refused by from_compact_json_or_bytes: {e}"),
            }
        }
        Err(errors) => {
            assert!(!errors.0.is_empty(), "a refusal without errors");
            match kept {
                Ok(_) => panic!("refused by from_json ({errors}), accepted by from_compact_json_or_bytes"),
                Err((kept_errors, given)) => {
                    assert_eq!(given, bytes, "the refused bytes come back unchanged");
                    assert_eq!(kept_errors, errors, "both paths give the same errors");
                }
            }
        }
    }
}
