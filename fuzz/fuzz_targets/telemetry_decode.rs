//! Arbitrary bytes into the telemetry decoders of phalanx-matcher, and the
//! decoded fields through a small compiled matcher.
//!
//! Fails on a panic, when a line that serde_json accepts as a JSON object
//! (nested less than `MAX_DEPTH`) is refused by the one-pass scanner, or
//! when a line of the input read as a Zeek tab-separated log (its `#` lines
//! the header) decodes but its event is not a JSON object.

#![no_main]

use libfuzzer_sys::fuzz_target;
use phalanx_matcher::telemetry::{self, FieldMap, Format};
use std::sync::OnceLock;

fn matcher() -> &'static phalanx_matcher::Matcher {
    static M: OnceLock<phalanx_matcher::Matcher> = OnceLock::new();
    M.get_or_init(|| {
        let mut c = phalanx_matcher::Compiler::new(phalanx_matcher::CompileOptions::default());
        for p in [
            "[ipv4-addr:value ISSUBSET '10.0.0.0/8']",
            "[domain-name:value LIKE '%.example']",
            "[url:value MATCHES '^https?://']",
            "[network-traffic:dst_port = 443 AND network-traffic:dst_ref.value = '192.0.2.1']",
        ] {
            let json = serde_json::json!({"type": "indicator", "id": format!("indicator--{}", p.len()), "pattern": p, "pattern_type": "stix"});
            c.add_json(json.to_string().as_bytes());
        }
        c.build(phalanx_matcher::AllowList::default()).0
    })
}

fuzz_target!(|data: &[u8]| {
    let map = FieldMap::for_format(Format::Auto);
    let mut fields = Vec::new();
    let decoded = telemetry::decode_json(data, &map, &mut fields);
    if let Ok(serde_json::Value::Object(_)) = serde_json::from_slice::<serde_json::Value>(data) {
        let depth = data.iter().filter(|b| matches!(b, b'{' | b'[')).count();
        if depth < telemetry::MAX_DEPTH {
            assert!(decoded.is_ok(), "serde_json accepts what the scanner refuses: {decoded:?}");
        }
    }
    if let Ok(text) = std::str::from_utf8(data) {
        telemetry::decode_text(text, &mut fields);
    }
    let mut header = telemetry::ZeekTsvHeader::default();
    for line in data.split(|&b| b == b'\n') {
        if line.first() == Some(&b'#') {
            header.read_line(line);
            continue;
        }
        let columns = telemetry::zeek_tsv_columns(&header, &map);
        if telemetry::decode_zeek_tsv(line, &header, &columns, &mut fields).is_ok() {
            let event = telemetry::zeek_tsv_event_json(line, &header).expect("a decoded line has an event");
            // Read as a map: serde_json's `Value` (with its raw_value
            // feature) takes an object whose key is
            // `$serde_json::private::RawValue` for its raw-value token.
            let object = serde_json::from_slice::<std::collections::BTreeMap<String, serde_json::Value>>(&event);
            assert!(object.is_ok(), "the event of a decoded line is not a JSON object: {object:?}");
        }
    }
    let mut hits = Vec::new();
    matcher().lookup(&fields, &mut hits);
});
