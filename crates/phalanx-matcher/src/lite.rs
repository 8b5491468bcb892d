//! The few fields of a STIX object the compiler reads ([`Lite`]), and a
//! reader for the common shape of object text that is faster than serde's.
//!
//! [`read_plain`] takes one JSON object whose member names and strings are
//! printable ASCII without escapes, and whose other values are `true`,
//! `false`, `null`, numbers, and arrays or objects of these; it gives the
//! [`Lite`] serde gives for the same text. Anything else (escapes, other
//! characters, a duplicated known member, a value of the wrong type, `hashes`,
//! any syntax error) is `None`, and serde reads it and decides.

use std::borrow::Cow;
use std::collections::HashMap;

/// The fields of an object the compiler reads.
#[derive(serde::Deserialize, Debug, PartialEq)]
pub struct Lite<'a> {
    /// `type`.
    #[serde(rename = "type", borrow)]
    pub object_type: Cow<'a, str>,
    /// `id`.
    #[serde(borrow)]
    pub id: Option<Cow<'a, str>>,
    /// `pattern` (indicators).
    #[serde(borrow)]
    pub pattern: Option<Cow<'a, str>>,
    /// `pattern_type` (indicators).
    #[serde(borrow)]
    pub pattern_type: Option<Cow<'a, str>>,
    /// `valid_until` (indicators).
    #[serde(borrow)]
    pub valid_until: Option<Cow<'a, str>>,
    /// `modified`.
    #[serde(borrow)]
    pub modified: Option<Cow<'a, str>>,
    /// `revoked`.
    #[serde(default)]
    pub revoked: bool,
    /// `value` (observables).
    #[serde(borrow)]
    pub value: Option<Cow<'a, str>>,
    /// `hashes` (files, certificates).
    pub hashes: Option<HashMap<String, String>>,
    /// `x_phalanx_match_subdomains`: the indicator covers subdomains.
    #[serde(default)]
    pub x_phalanx_match_subdomains: bool,
}

impl<'a> Lite<'a> {
    /// Reads `json` as serde does; [`read_plain`] first.
    pub fn read(json: &'a [u8]) -> Result<Lite<'a>, serde_json::Error> {
        match read_plain(json) {
            Some(lite) => Ok(lite),
            None => serde_json::from_slice(json),
        }
    }
}

/// Deepest nesting [`read_plain`] follows (serde's limit is 128).
const MAX_DEPTH: usize = 32;

/// The [`Lite`] of plain object text (see the module), else `None`.
pub fn read_plain(json: &[u8]) -> Option<Lite<'_>> {
    let mut r = Reader { b: json, i: 0 };
    r.ws();
    r.eat(b'{')?;
    let mut lite = Lite {
        object_type: Cow::Borrowed(""),
        id: None,
        pattern: None,
        pattern_type: None,
        valid_until: None,
        modified: None,
        revoked: false,
        value: None,
        hashes: None,
        x_phalanx_match_subdomains: false,
    };
    let (mut has_type, mut has_revoked, mut has_subdomains) = (false, false, false);
    loop {
        r.ws();
        r.eat(b'"')?;
        let key = r.plain_string()?;
        r.ws();
        r.eat(b':')?;
        r.ws();
        let field = match key {
            b"type" => {
                if std::mem::replace(&mut has_type, true) {
                    return None;
                }
                lite.object_type = Cow::Borrowed(r.string_value()?);
                None
            }
            b"id" => Some(&mut lite.id),
            b"pattern" => Some(&mut lite.pattern),
            b"pattern_type" => Some(&mut lite.pattern_type),
            b"valid_until" => Some(&mut lite.valid_until),
            b"modified" => Some(&mut lite.modified),
            b"value" => Some(&mut lite.value),
            b"revoked" => {
                if std::mem::replace(&mut has_revoked, true) {
                    return None;
                }
                lite.revoked = r.bool_value()?;
                None
            }
            b"x_phalanx_match_subdomains" => {
                if std::mem::replace(&mut has_subdomains, true) {
                    return None;
                }
                lite.x_phalanx_match_subdomains = r.bool_value()?;
                None
            }
            b"hashes" => return None,
            _ => {
                r.skip_value(1)?;
                None
            }
        };
        if let Some(field) = field {
            if field.is_some() {
                return None;
            }
            *field = Some(Cow::Borrowed(r.string_value()?));
        }
        r.ws();
        match r.next()? {
            b',' => {}
            b'}' => break,
            _ => return None,
        }
    }
    r.ws();
    (has_type && r.i == r.b.len()).then_some(lite)
}

struct Reader<'a> {
    b: &'a [u8],
    i: usize,
}

impl<'a> Reader<'a> {
    fn ws(&mut self) {
        while matches!(self.b.get(self.i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
            self.i += 1;
        }
    }

    fn next(&mut self) -> Option<u8> {
        let c = *self.b.get(self.i)?;
        self.i += 1;
        Some(c)
    }

    fn eat(&mut self, want: u8) -> Option<()> {
        (self.next()? == want).then_some(())
    }

    fn eat_word(&mut self, word: &[u8]) -> Option<()> {
        let rest = self.b.get(self.i..)?;
        rest.starts_with(word).then(|| self.i += word.len())
    }

    /// The bytes of a string whose opening quote was read: printable ASCII,
    /// no escapes.
    fn plain_string(&mut self) -> Option<&'a [u8]> {
        let rest = &self.b[self.i..];
        let end = crate::telemetry::quote_or_backslash(rest)?;
        if rest[end] != b'"' {
            return None;
        }
        let s = &rest[..end];
        // Bit 7 is set for a byte under 0x20 (after the subtraction wraps)
        // or over 0x7f; no early exit, so the loop vectorises.
        if s.iter().fold(0u8, |acc, &c| acc | c.wrapping_sub(0x20) | c) & 0x80 != 0 {
            return None;
        }
        self.i += end + 1;
        Some(s)
    }

    fn string_value(&mut self) -> Option<&'a str> {
        self.eat(b'"')?;
        std::str::from_utf8(self.plain_string()?).ok()
    }

    fn bool_value(&mut self) -> Option<bool> {
        if self.eat_word(b"true").is_some() {
            Some(true)
        } else {
            self.eat_word(b"false").map(|()| false)
        }
    }

    /// Skips a value (its first byte is next), at nesting `depth`.
    fn skip_value(&mut self, depth: usize) -> Option<()> {
        match *self.b.get(self.i)? {
            b'"' => {
                self.i += 1;
                self.plain_string().map(drop)
            }
            b't' => self.eat_word(b"true"),
            b'f' => self.eat_word(b"false"),
            b'n' => self.eat_word(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            b'[' if depth < MAX_DEPTH => {
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b']') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b']' => return Some(()),
                        _ => return None,
                    }
                }
            }
            b'{' if depth < MAX_DEPTH => {
                self.i += 1;
                self.ws();
                if self.b.get(self.i) == Some(&b'}') {
                    self.i += 1;
                    return Some(());
                }
                loop {
                    self.eat(b'"')?;
                    self.plain_string()?;
                    self.ws();
                    self.eat(b':')?;
                    self.ws();
                    self.skip_value(depth + 1)?;
                    self.ws();
                    match self.next()? {
                        b',' => self.ws(),
                        b'}' => return Some(()),
                        _ => return None,
                    }
                }
            }
            _ => None,
        }
    }

    /// A JSON number: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
    fn number(&mut self) -> Option<()> {
        self.eat_if(b'-');
        match self.next()? {
            b'0' => {}
            b'1'..=b'9' => self.digits(),
            _ => return None,
        }
        if self.eat_if(b'.') {
            self.digit()?;
            self.digits();
        }
        if self.eat_if(b'e') || self.eat_if(b'E') {
            if !self.eat_if(b'+') {
                self.eat_if(b'-');
            }
            self.digit()?;
            self.digits();
        }
        // A number runs to a delimiter (`01`, `1x` are errors).
        match self.b.get(self.i) {
            None | Some(b',' | b']' | b'}' | b' ' | b'\t' | b'\n' | b'\r') => Some(()),
            Some(_) => None,
        }
    }

    fn eat_if(&mut self, c: u8) -> bool {
        let yes = self.b.get(self.i) == Some(&c);
        self.i += usize::from(yes);
        yes
    }

    fn digit(&mut self) -> Option<()> {
        self.next().filter(u8::is_ascii_digit).map(drop)
    }

    fn digits(&mut self) {
        while self.b.get(self.i).is_some_and(u8::is_ascii_digit) {
            self.i += 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn same_as_serde(text: &str) -> Option<bool> {
        let fast = read_plain(text.as_bytes())?;
        let slow: Result<Lite<'_>, _> = serde_json::from_slice(text.as_bytes());
        assert_eq!(slow.as_ref().ok(), Some(&fast), "{text}: {slow:?}");
        Some(true)
    }

    #[test]
    fn common_stix_objects_are_read_plainly_as_serde_reads_them() {
        for text in [
            r#"{"type":"indicator","spec_version":"2.1","id":"indicator--00000000-0000-4000-8000-000000000000","created":"2026-01-01T00:00:00.000Z","modified":"2026-01-01T00:00:00.000Z","pattern":"[ipv4-addr:value = '214.41.248.196']","pattern_type":"stix","valid_from":"2026-01-01T00:00:00Z"}"#,
            r#"{"type": "indicator", "id": "indicator--1", "labels": ["malicious-activity"], "confidence": 85, "object_marking_refs": ["marking-definition--1"], "external_references": [{"source_name": "x", "url": "https://x.example/a?b=1"}], "revoked": false, "x": null, "y": -1.5e+3, "z": {}, "w": [], "pattern": "[domain-name:value = 'a.example']", "x_phalanx_match_subdomains": true}"#,
            "\r\n {\"type\":\"domain-name\",\"id\":\"domain-name--1\",\"value\":\"a.example\"} \n",
            r#"{"type":"url","value":"http://x.example/","revoked":true,"object_type":"x","typo":{"type":"y","id":[0,1e5,-0.0]}}"#,
        ] {
            assert_eq!(same_as_serde(text), Some(true), "{text}");
        }
    }

    #[test]
    fn anything_unusual_is_left_to_serde() {
        for text in [
            r#"{"type":"indicator","type":"indicator"}"#,
            r#"{"type":"indicator","id":"a","id":"b"}"#,
            r#"{"type":"indicator","revoked":false,"revoked":true}"#,
            r#"{"type":"indicator","revoked":"yes"}"#,
            r#"{"type":"indicator","id":null}"#,
            r#"{"type":"indicator","id":1}"#,
            r#"{"type":"file","hashes":{"MD5":"00"}}"#,
            r#"{"type":"indicator","name":"a\"b"}"#,
            r#"{"type":"indicator","name":"caf\u00e9"}"#,
            "{\"type\":\"indicator\",\"name\":\"caf\u{e9}\"}",
            "{\"type\":\"indicator\",\"name\":\"a\tb\"}",
            r#"{"type":"indicator","n":01}"#,
            r#"{"type":"indicator","n":1.}"#,
            r#"{"type":"indicator","n":.5}"#,
            r#"{"type":"indicator","n":1e}"#,
            r#"{"type":"indicator","n":[1,]}"#,
            r#"{"type":"indicator","n":tru}"#,
            r#"{"type":"indicator",}"#,
            r#"{"type":"indicator"} x"#,
            r#"{"type":"indicator"}{}"#,
            r#"{"id":"x"}"#,
            r#"{}"#,
            r#"[{"type":"indicator"}]"#,
            r#"{"type":"indicator","n":"#,
        ] {
            assert_eq!(same_as_serde(text), None, "{text}");
        }
        let deep = format!(r#"{{"type":"x","n":{}1{}}}"#, "[".repeat(40), "]".repeat(40));
        assert_eq!(same_as_serde(&deep), None);
    }

    fn token() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("\"type\"".to_owned()),
            Just("\"id\"".to_owned()),
            Just("\"pattern\"".to_owned()),
            Just("\"revoked\"".to_owned()),
            Just("\"x_phalanx_match_subdomains\"".to_owned()),
            Just("\"hashes\"".to_owned()),
            Just("\"value\"".to_owned()),
            Just("\"modified\"".to_owned()),
            Just("\"indicator\"".to_owned()),
            "\"[a-z \\\\\"\u{e9}\t/-]{0,6}\"",
            "-?[0-9]{1,3}(\\.[0-9]{0,2})?([eE][+-]?[0-9]{0,2})?",
            Just("true".to_owned()),
            Just("false".to_owned()),
            Just("null".to_owned()),
            Just("{".to_owned()),
            Just("}".to_owned()),
            Just("[".to_owned()),
            Just("]".to_owned()),
            Just(":".to_owned()),
            Just(",".to_owned()),
            Just(" ".to_owned()),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn when_read_plainly_serde_reads_the_same(tokens in proptest::collection::vec(token(), 0..24)) {
            let text = format!("{{\"type\":\"indicator\",{}", tokens.concat());
            same_as_serde(&text);
            let text = tokens.concat();
            same_as_serde(&text);
        }

        #[test]
        fn well_formed_members_are_read_plainly(members in proptest::collection::vec((token(), token()), 0..8)) {
            let body: Vec<String> = members.iter().map(|(k, v)| format!("{k}:{v}")).collect();
            let text = format!("{{\"type\":\"indicator\",{}}}", body.join(","));
            same_as_serde(&text);
        }
    }
}
