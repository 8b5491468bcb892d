//! Arbitrary bytes into the matcher compiler's one-pass object reader
//! (`phalanx_matcher::lite::read_plain`), against serde_json on the same
//! bytes, then through `Compiler::add_json`.
//!
//! Fails on a panic, or when the one-pass reader gives an answer that is not
//! exactly what serde gives (it may decline, and serde then decides).

#![no_main]

use libfuzzer_sys::fuzz_target;
use phalanx_matcher::lite::{Lite, read_plain};

fuzz_target!(|data: &[u8]| {
    if let Some(plain) = read_plain(data) {
        let serde: Result<Lite<'_>, _> = serde_json::from_slice(data);
        match serde {
            Ok(s) => assert_eq!(plain, s, "the one-pass reader and serde disagree"),
            Err(e) => panic!("the one-pass reader accepts what serde refuses ({e}): {plain:?}"),
        }
    }
    let mut compiler = phalanx_matcher::Compiler::new(phalanx_matcher::CompileOptions::default());
    compiler.add_json(data);
    let _ = compiler.build(phalanx_matcher::AllowList::default());
});
