//! Arbitrary bytes into the STIX object splitter and validator.
//!
//! The input is split with `phalanx_model::stream::split_objects` (bundle, JSON array or JSON
//! lines) and with `split_envelope` (a TAXII envelope), and every object found goes through
//! `StixObject::from_json`. Fails on a panic or a stack overflow; an accepted object must
//! serialise and validate again to the same object; an error must name a line and column.

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
    match StixObject::from_json(&bytes, &path) {
        Ok(parsed) => {
            let text = parsed.object.to_json_string();
            match StixObject::from_json(text.as_bytes(), &path) {
                Ok(again) => assert_eq!(again.object, parsed.object, "round trip of {text}"),
                Err(e) => panic!("accepted object {text} is refused after a round trip: {e}"),
            }
        }
        Err(errors) => assert!(!errors.0.is_empty(), "a refusal without errors"),
    }
}
