//! Arbitrary UTF-8 into the STIX pattern parser.
//!
//! Fails on a panic, a stack overflow, or when an accepted input does not round-trip: the
//! canonical text of the tree must parse back to the same tree. Error positions must point into
//! the input.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(input) = std::str::from_utf8(data) else {
        return;
    };
    for strict in [false, true] {
        let result = if strict {
            phalanx_pattern::parse_strict(input)
        } else {
            phalanx_pattern::parse(input)
        };
        match result {
            Ok(pattern) => {
                let printed = pattern.to_string();
                match phalanx_pattern::parse(&printed) {
                    Ok(again) => assert_eq!(again, pattern, "round trip of {printed:?}"),
                    Err(e) => panic!("canonical text {printed:?} does not parse: {e}"),
                }
                let _ = pattern.comparisons().count();
            }
            Err(e) => {
                assert!(e.position <= input.len(), "position past the end: {e:?}");
                assert!(input.is_char_boundary(e.position), "not a char boundary: {e:?}");
                assert!(e.line >= 1 && e.column >= 1, "{e:?}");
            }
        }
    }
});
