//! STIX identifiers: `type--uuid`.

use std::fmt;
use uuid::Uuid;

/// A STIX identifier, `<object type>--<RFC 4122 UUID>`, kept as given.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct StixId {
    text: String,
    split: usize,
}

/// Why a text is not a STIX identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("'{text}' is not a STIX identifier (type--uuid): {reason}")]
pub struct IdError {
    /// The text that was given (cut to 80 characters).
    pub text: String,
    /// What was wrong with it.
    pub reason: &'static str,
}

/// Whether `name` is a valid STIX object type name: `[a-z0-9-]`, 3 to 250
/// characters, no `--`, starting and ending with an alphanumeric.
pub fn is_valid_type_name(name: &str) -> bool {
    let b = name.as_bytes();
    (3..=250).contains(&b.len())
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && double_dash(b).is_none()
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Where the first `--` is in `b`: a look at each `-` (a `&str` pattern
/// search sets up a searcher first, which costs more than these short
/// texts).
fn double_dash(b: &[u8]) -> Option<usize> {
    let mut from = 0;
    while let Some(at) = memchr::memchr(b'-', &b[from..]) {
        let at = from + at;
        if b.get(at + 1) == Some(&b'-') {
            return Some(at);
        }
        from = at + 1;
    }
    None
}

/// Whether `text` is an RFC 4122 UUID in the 8-4-4-4-12 form with a valid
/// version (1 to 8) and variant, as STIX requires.
pub fn is_rfc4122_uuid(text: &str) -> bool {
    let b = text.as_bytes();
    if b.len() != 36 || b[8] != b'-' || b[13] != b'-' || b[18] != b'-' || b[23] != b'-' {
        return false;
    }
    // The five groups of hex digits between the dashes.
    let groups = [&b[0..8], &b[9..13], &b[14..18], &b[19..23], &b[24..36]];
    groups.iter().all(|group| all_hex_digits(group))
        && matches!(b[14], b'1'..=b'8')
        && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
}

/// Whether every byte of `bytes` is an ASCII hex digit. Each byte is
/// looked up and the answers or'ed, without a branch per byte: the digits
/// of uuids and hashes are random, so a test of "digit or letter" per byte
/// mispredicts about a third of the time. On session 23's machine the
/// uuid check took 117-199 ns that way and 13-22 ns this way
/// (bench/RESULTS.md, Import, session 23); it was 6-7% of an import's
/// parsing thread.
pub(crate) fn all_hex_digits(bytes: &[u8]) -> bool {
    let mut not_hex = 0u8;
    for &c in bytes {
        not_hex |= NOT_HEX[usize::from(c)];
    }
    not_hex == 0
}

/// 1 for each byte that is not an ASCII hex digit, 0 for those that are.
static NOT_HEX: [u8; 256] = {
    let mut table = [1u8; 256];
    let mut c = 0;
    while c < 256 {
        if (c as u8).is_ascii_hexdigit() {
            table[c] = 0;
        }
        c += 1;
    }
    table
};

impl StixId {
    /// Parses `type--uuid`.
    pub fn parse(text: &str) -> Result<Self, IdError> {
        let fail = |reason| IdError { text: text.chars().take(80).collect(), reason };
        let split = double_dash(text.as_bytes()).ok_or_else(|| fail("no '--' between type and uuid"))?;
        let (ty, rest) = (&text[..split], &text[split + 2..]);
        if !is_valid_type_name(ty) {
            return Err(fail("the type part is not a valid STIX type name"));
        }
        if !is_rfc4122_uuid(rest) {
            return Err(fail("the uuid part is not an RFC 4122 UUID"));
        }
        Ok(StixId { text: text.to_owned(), split })
    }

    /// Makes an identifier from a type and a UUID.
    pub fn new(object_type: &str, uuid: Uuid) -> Self {
        // Written without `format!`: the id of every SCO given without one
        // is made here (bench/RESULTS.md, Import, session 27).
        let mut text = String::with_capacity(object_type.len() + 2 + uuid::fmt::Hyphenated::LENGTH);
        text.push_str(object_type);
        text.push_str("--");
        text.push_str(uuid.hyphenated().encode_lower(&mut Uuid::encode_buffer()));
        StixId { split: object_type.len(), text }
    }

    /// A fresh random (version 4) identifier for an object of this type.
    pub fn new_v4(object_type: &str) -> Self {
        Self::new(object_type, Uuid::new_v4())
    }

    /// The object type part.
    pub fn object_type(&self) -> &str {
        &self.text[..self.split]
    }

    /// The UUID part, as given.
    pub fn uuid_text(&self) -> &str {
        &self.text[self.split + 2..]
    }

    /// The UUID part, parsed.
    pub fn uuid(&self) -> Uuid {
        Uuid::parse_str(self.uuid_text()).unwrap_or_default()
    }

    /// The whole identifier.
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

impl fmt::Display for StixId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The plain forms of the two scans, to compare the faster ones with.
    fn reference_uuid(text: &str) -> bool {
        let b = text.as_bytes();
        b.len() == 36
            && b.iter().enumerate().all(|(i, c)| match i {
                8 | 13 | 18 | 23 => *c == b'-',
                _ => c.is_ascii_hexdigit(),
            })
            && matches!(b[14], b'1'..=b'8')
            && matches!(b[19], b'8' | b'9' | b'a' | b'b' | b'A' | b'B')
    }

    #[test]
    fn all_hex_digits_agrees_with_the_standard_library_on_every_byte() {
        for c in 0..=255u8 {
            assert_eq!(all_hex_digits(&[c]), c.is_ascii_hexdigit(), "byte {c:#04x}");
            assert_eq!(all_hex_digits(&[b'a', c, b'0']), c.is_ascii_hexdigit(), "byte {c:#04x} between digits");
        }
        assert!(all_hex_digits(b""));
        assert!(all_hex_digits(b"0123456789abcdefABCDEF"));
    }

    fn reference_double_dash(b: &[u8]) -> Option<usize> {
        b.windows(2).position(|pair| pair == b"--")
    }

    #[test]
    fn the_uuid_and_dash_scans_agree_with_their_plain_forms() {
        let valid = "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f";
        assert!(is_rfc4122_uuid(valid));
        // Every byte of a valid UUID replaced by each byte of an alphabet
        // of the interesting ones, then cut and lengthened.
        let alphabet = b"0189aAbBcfFgGz-_ \xff";
        for at in 0..valid.len() {
            for c in alphabet {
                let mut b = valid.as_bytes().to_vec();
                b[at] = *c;
                let text = String::from_utf8_lossy(&b).into_owned();
                assert_eq!(is_rfc4122_uuid(&text), reference_uuid(&text), "{text}");
            }
        }
        for text in ["", "-", &valid[..35], &format!("{valid}0"), &valid.to_uppercase(), "é2e2d2b-17d4-4cbf-938f-98ee46b3cd3"] {
            assert_eq!(is_rfc4122_uuid(text), reference_uuid(text), "{text}");
        }
        for text in ["", "-", "--", "a-b--c", "a-b-c", "ab--", "--ab", "x---y", "attack-pattern--1", "a-"] {
            assert_eq!(double_dash(text.as_bytes()), reference_double_dash(text.as_bytes()), "{text}");
        }
    }

    proptest::proptest! {
        #[test]
        fn the_scans_agree_on_random_texts(text in "[0-9a-fA-Fgz-]{0,40}", dashes in "[a-z-]{0,16}") {
            proptest::prop_assert_eq!(is_rfc4122_uuid(&text), reference_uuid(&text));
            proptest::prop_assert_eq!(double_dash(dashes.as_bytes()), reference_double_dash(dashes.as_bytes()));
        }
    }

    #[test]
    fn parses_and_splits() {
        let id = StixId::parse("indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").unwrap();
        assert_eq!(id.object_type(), "indicator");
        assert_eq!(id.uuid_text(), "8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f");
        assert_eq!(id.uuid().get_version_num(), 4);
    }

    #[test]
    fn refuses_bad_ids() {
        for t in [
            "indicator-8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "Indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b17d44cbf938f98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-0cbf-938f-98ee46b3cd3f",
            "indicator--8e2e2d2b-17d4-4cbf-738f-98ee46b3cd3f",
            "in--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "x-my--type--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            "indicator-",
        ] {
            assert!(StixId::parse(t).is_err(), "{t}");
        }
        // The type is what comes before the first `--`.
        let id = StixId::parse("x-my-type--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f").expect("valid");
        assert_eq!(id.object_type(), "x-my-type");
        assert!(is_valid_type_name("x-a-b") && !is_valid_type_name("x--ab") && !is_valid_type_name("ab-"));
    }
}
