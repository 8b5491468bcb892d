//! Type-specific rules: required properties, property types, references,
//! vocabularies and cross-property rules of every STIX 2.1 object type
//! (§4 SDOs, §5 SROs, §6 SCOs and their predefined extensions, §7 meta
//! objects).
//!
//! What is an error and what is a warning follows the specification's
//! wording: a broken **MUST** refuses the object; a **SHOULD**, an open
//! vocabulary (§2.14), a deprecated property and an unknown hash algorithm
//! are warnings. Custom (`x_...`) and unknown properties are not looked at.
//!
//! The common properties (§3.2) are checked in `object.rs`; this module
//! adds only what depends on the object type, plus a few common-property
//! rules that need the type (`defanged` outside SCOs, `lang` syntax,
//! `external_references[].hashes`, predefined extension names).

use crate::check::{Checker, has_member, item_path, json_kind, member, push_decimal};
use crate::id::{StixId, all_hex_digits};
use crate::kinds::{SCO_TYPES, SDO_TYPES, SRO_TYPES, builtin_family};
use crate::timestamp::Timestamp;
use crate::vocab::*;
use serde_json::{Map, Value};
use std::net::{Ipv4Addr, Ipv6Addr};

/// Largest integer STIX allows (§2.10: a signed 54-bit value).
const MAX_INT: i64 = (1 << 53) - 1;
/// Smallest integer STIX allows.
const MIN_INT: i64 = -MAX_INT;

/// The meta object types (§7).
const META_TYPES: &[&str] = &["marking-definition", "language-content", "extension-definition"];

/// The predefined SCO extensions (§3.10) and the type each belongs to.
const PREDEFINED_EXTENSIONS: &[(&str, &str)] = &[
    ("archive-ext", "file"),
    ("ntfs-ext", "file"),
    ("pdf-ext", "file"),
    ("raster-image-ext", "file"),
    ("windows-pebinary-ext", "file"),
    ("http-request-ext", "network-traffic"),
    ("icmp-ext", "network-traffic"),
    ("socket-ext", "network-traffic"),
    ("tcp-ext", "network-traffic"),
    ("windows-process-ext", "process"),
    ("windows-service-ext", "process"),
    ("unix-account-ext", "user-account"),
];

/// Checks the properties specific to `object_type`.
pub(crate) fn check_type(object_type: &str, map: &Map<String, Value>, c: &mut Checker) {
    let mut v = V { c, embedded: false };
    let o = Obj::top(map);
    v.check_object(object_type, &o);
    if builtin_family(object_type).is_some() {
        v.common(object_type, &o);
    }
}

/// A JSON object being checked and its path inside the STIX object
/// (`""` for the STIX object itself).
struct Obj<'m> {
    map: &'m Map<String, Value>,
    at: String,
}

impl<'m> Obj<'m> {
    fn top(map: &'m Map<String, Value>) -> Self {
        Obj { map, at: String::new() }
    }

    fn nested(map: &'m Map<String, Value>, at: String) -> Self {
        Obj { map, at }
    }

    /// The path of `key` inside the STIX object (borrowed at the top
    /// level: most paths are never read, only passed along in case of an
    /// error).
    fn p<'k>(&self, key: &'k str) -> std::borrow::Cow<'k, str> {
        if self.at.is_empty() { std::borrow::Cow::Borrowed(key) } else { std::borrow::Cow::Owned(format!("{}.{key}", self.at)) }
    }

    fn has(&self, key: &str) -> bool {
        has_member(self.map, key)
    }

    fn get(&self, key: &str) -> Option<&'m Value> {
        member(self.map, key)
    }
}

/// The validator: a checker plus whether the object is an SCO embedded in
/// a deprecated observed-data `objects` container (§2.13), where
/// references are local keys instead of identifiers.
struct V<'c> {
    c: &'c mut Checker,
    embedded: bool,
}

/// Whether `s` is a string of hexadecimal digits of even length (§2.8).
fn is_hex(s: &str) -> bool {
    !s.is_empty() && s.len().is_multiple_of(2) && all_hex_digits(s.as_bytes())
}

/// Whether `s` is standard base64 with padding (RFC 4648 §4).
fn is_base64(s: &str) -> bool {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return false;
    }
    let pad = b.iter().rev().take_while(|c| **c == b'=').count();
    if pad > 2 {
        return false;
    }
    b[..b.len() - pad].iter().all(|c| c.is_ascii_alphanumeric() || *c == b'+' || *c == b'/')
}

/// Whether `s` is a syntactically valid RFC 5646 language tag (subtags of
/// letters and digits separated by hyphens, starting with a 2 to 8 letter
/// language or a private-use `x-` / grandfathered `i-` prefix).
fn is_language_tag(s: &str) -> bool {
    let mut parts = s.split('-');
    let Some(first) = parts.next() else {
        return false;
    };
    let first_ok = ((2..=8).contains(&first.len()) && first.bytes().all(|b| b.is_ascii_alphabetic()))
        || (first.eq_ignore_ascii_case("x") || first.eq_ignore_ascii_case("i"));
    let mut rest = 0;
    for part in parts {
        if part.is_empty() || part.len() > 8 || !part.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return false;
        }
        rest += 1;
    }
    first_ok && (first.len() > 1 || rest > 0)
}

/// Whether `s` is a dictionary key (§2.3): ASCII letters, digits, `-` and
/// `_`, at most 250 characters.
fn is_dictionary_key(s: &str) -> bool {
    s.len() <= 250 && s.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// Whether `s` is an IPv4 address or CIDR block.
fn is_ipv4_value(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    addr.parse::<Ipv4Addr>().is_ok() && prefix_ok(prefix, 32)
}

/// Whether `s` is an IPv6 address (zone index allowed) or CIDR block.
fn is_ipv6_value(s: &str) -> bool {
    let (addr, prefix) = match s.split_once('/') {
        Some((a, p)) => (a, Some(p)),
        None => (s, None),
    };
    let addr = match addr.split_once('%') {
        Some((a, zone)) if !zone.is_empty() => a,
        Some(_) => return false,
        None => addr,
    };
    addr.parse::<Ipv6Addr>().is_ok() && prefix_ok(prefix, 128)
}

fn prefix_ok(prefix: Option<&str>, max: u32) -> bool {
    match prefix {
        None => true,
        Some(p) => {
            !p.is_empty()
                && p.len() <= 3
                && p.bytes().all(|b| b.is_ascii_digit())
                && (p == "0" || !p.starts_with('0'))
                && p.parse::<u32>().is_ok_and(|n| n <= max)
        }
    }
}

/// Whether `s` is a MAC-48 address: six colon-separated, lowercase,
/// two-digit octets (§6.10).
fn is_mac(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 17
        && b.iter()
            .enumerate()
            .all(|(i, c)| if i % 3 == 2 { *c == b':' } else { c.is_ascii_digit() || (b'a'..=b'f').contains(c) })
}

/// Whether `s` is a CPE 2.3 formatted string: `cpe:2.3:` then 11 more
/// colon-separated components (escaped colons allowed), the part being
/// `a`, `h`, `o`, `*` or `-`.
fn is_cpe23(s: &str) -> bool {
    let Some(rest) = s.strip_prefix("cpe:2.3:") else {
        return false;
    };
    let mut parts = Vec::new();
    let mut cur = String::new();
    let mut escaped = false;
    for ch in rest.chars() {
        if escaped {
            cur.push(ch);
            escaped = false;
        } else if ch == '\\' {
            cur.push(ch);
            escaped = true;
        } else if ch == ':' {
            parts.push(std::mem::take(&mut cur));
        } else {
            cur.push(ch);
        }
    }
    parts.push(cur);
    parts.len() == 11 && matches!(parts[0].as_str(), "a" | "h" | "o" | "*" | "-") && parts.iter().all(|p| !p.is_empty())
}

/// Whether `s` looks like an IANA character set name (for `*_enc`).
fn is_charset_name(s: &str) -> bool {
    (2..=250).contains(&s.len()) && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.:+()/".contains(&b))
}

/// The expected format of a hash value, by algorithm: `Some(true)` when
/// it matches, `Some(false)` when it does not, `None` for an algorithm
/// whose format is not known.
fn hash_value_ok(algorithm: &str, value: &str) -> Option<bool> {
    let hex_len = |n: usize| value.len() == n && all_hex_digits(value.as_bytes());
    Some(match algorithm {
        "MD5" => hex_len(32),
        "SHA-1" => hex_len(40),
        "SHA-256" | "SHA3-256" => hex_len(64),
        "SHA-512" | "SHA3-512" => hex_len(128),
        _ => return None,
    })
}

/// Loose format checks for the fuzzy hashes, whose real-world forms vary
/// (TLSH with or without the `T1` version prefix, long SSDEEP digests).
fn fuzzy_hash_ok(algorithm: &str, value: &str) -> Option<bool> {
    Some(match algorithm {
        "SSDEEP" => !value.is_empty() && value.bytes().all(|b| b.is_ascii_alphanumeric() || b"/+:.".contains(&b)),
        "TLSH" => {
            let v = value.strip_prefix("T1").unwrap_or(value);
            v.len() == 70 && all_hex_digits(v.as_bytes())
        }
        _ => return None,
    })
}

impl V<'_> {
    // ---- property helpers (nested paths) ----

    fn err(&mut self, path: &str, rule: &'static str, message: impl Into<String>) {
        self.c.error(path, rule, message);
    }

    fn warn(&mut self, path: &str, rule: &'static str, message: impl Into<String>) {
        self.c.warn(path, rule, message);
    }

    fn require(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            if !o.has(key) {
                self.err(&o.p(key), "required-property", format!("required property '{key}' is missing"));
            }
        }
    }

    /// At least one of `keys` must be present.
    fn at_least_one(&mut self, o: &Obj, keys: &[&str], what: &str) {
        if !keys.iter().any(|k| o.has(k)) {
            let shown: Vec<&str> = keys.iter().copied().filter(|k| *k != "windows_title").collect();
            self.err(&o.at, "required-property", format!("{what} must contain at least one of {}", shown.join(", ")));
        }
    }

    fn type_error(&mut self, path: &str, key: &str, expected: &str, got: &Value) {
        self.err(path, "property-type", format!("'{key}' must be {expected}, not {}", json_kind(got)));
    }

    fn string<'m>(&mut self, o: &Obj<'m>, key: &str) -> Option<&'m str> {
        match o.get(key)? {
            Value::String(s) => Some(s),
            other => {
                self.type_error(&o.p(key), key, "a string", other);
                None
            }
        }
    }

    fn strings(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            self.string(o, key);
        }
    }

    fn boolean(&mut self, o: &Obj, key: &str) -> Option<bool> {
        match o.get(key)? {
            Value::Bool(b) => Some(*b),
            other => {
                self.type_error(&o.p(key), key, "a boolean", other);
                None
            }
        }
    }

    fn booleans(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            self.boolean(o, key);
        }
    }

    /// An integer within `min..=max`.
    fn int(&mut self, o: &Obj, key: &str, min: i64, max: i64) -> Option<i64> {
        let v = o.get(key)?;
        let path = o.p(key);
        let Value::Number(n) = v else {
            self.type_error(&path, key, "an integer", v);
            return None;
        };
        let Some(i) = n.as_i64() else {
            if n.is_u64() {
                self.err(&path, "range", format!("'{key}' must be between {min} and {max}, not {n}"));
            } else {
                self.err(&path, "property-type", format!("'{key}' must be an integer, not {n}"));
            }
            return None;
        };
        if i < min || i > max {
            self.err(&path, "range", format!("'{key}' must be between {min} and {max}, not {i}"));
            return None;
        }
        Some(i)
    }

    /// An integer in the range STIX allows (§2.10).
    fn integer(&mut self, o: &Obj, key: &str) -> Option<i64> {
        self.int(o, key, MIN_INT, MAX_INT)
    }

    fn integers(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            self.integer(o, key);
        }
    }

    /// Integers that MUST NOT be negative.
    fn non_negative(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            self.int(o, key, 0, MAX_INT);
        }
    }

    /// Integers the specification describes as positive without a MUST:
    /// a negative value is a warning.
    fn counts(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            if let Some(i) = self.integer(o, key)
                && i < 0
            {
                self.warn(&o.p(key), "range", format!("'{key}' should be a positive integer, not {i}"));
            }
        }
    }

    fn float(&mut self, o: &Obj, key: &str) -> Option<f64> {
        let v = o.get(key)?;
        match v.as_f64() {
            Some(f) => Some(f),
            None => {
                self.type_error(&o.p(key), key, "a number", v);
                None
            }
        }
    }

    fn timestamp(&mut self, o: &Obj, key: &str) -> Option<Timestamp> {
        let s = self.string(o, key)?;
        match Timestamp::parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(&o.p(key), "timestamp-format", format!("'{key}': {e}"));
                None
            }
        }
    }

    fn timestamps(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            self.timestamp(o, key);
        }
    }

    /// `later` must be at or after `earlier` (strictly after when
    /// `strict`); both are read as timestamps.
    fn order(&mut self, o: &Obj, earlier: &str, later: &str, strict: bool) {
        let (a, b) = (self.timestamp(o, earlier), self.timestamp(o, later));
        if let (Some(a), Some(b)) = (a, b) {
            let bad = if strict { b <= a } else { b < a };
            if bad {
                let relation = if strict { "later than" } else { "later than or equal to" };
                self.err(
                    &o.p(later),
                    "timestamp-order",
                    format!("'{later}' ({b}) must be {relation} '{earlier}' ({a})"),
                );
            }
        }
    }

    /// A list; empty lists are refused (§2.12). At the top level the empty
    /// list is already reported by the common checks.
    fn list<'m>(&mut self, o: &Obj<'m>, key: &str) -> Option<&'m [Value]> {
        match o.get(key)? {
            Value::Array(items) if items.is_empty() => {
                if self.embedded || !o.at.is_empty() {
                    self.err(
                        &o.p(key),
                        "empty-list",
                        format!("'{key}' is an empty list; STIX prohibits empty lists (§2.12)"),
                    );
                }
                None
            }
            Value::Array(items) => Some(items),
            other => {
                self.type_error(&o.p(key), key, "a list", other);
                None
            }
        }
    }

    fn string_list<'m>(&mut self, o: &Obj<'m>, key: &str) -> Vec<&'m str> {
        let mut out = Vec::new();
        let Some(items) = self.list(o, key) else {
            return out;
        };
        for (i, item) in items.iter().enumerate() {
            match item {
                Value::String(s) => out.push(s.as_str()),
                other => self.err(
                    &format!("{}[{i}]", o.p(key)),
                    "property-type",
                    format!("'{key}' items must be strings, not {}", json_kind(other)),
                ),
            }
        }
        out
    }

    fn string_lists(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            self.string_list(o, key);
        }
    }

    /// A list whose items are objects; returns each with its path.
    fn object_list<'m>(&mut self, o: &Obj<'m>, key: &str) -> Vec<Obj<'m>> {
        let mut out = Vec::new();
        let Some(items) = self.list(o, key) else {
            return out;
        };
        let base = o.p(key);
        for (i, item) in items.iter().enumerate() {
            let mut path = String::with_capacity(base.len() + 8);
            path.push_str(&base);
            path.push('[');
            push_decimal(&mut path, i as u64);
            path.push(']');
            match item {
                Value::Object(m) => out.push(Obj::nested(m, path)),
                other => {
                    self.err(&path, "property-type", format!("'{key}' items must be objects, not {}", json_kind(other)))
                }
            }
        }
        out
    }

    fn object<'m>(&mut self, o: &Obj<'m>, key: &str) -> Option<Obj<'m>> {
        match o.get(key)? {
            Value::Object(m) => Some(Obj::nested(m, o.p(key).into_owned())),
            other => {
                self.type_error(&o.p(key), key, "an object", other);
                None
            }
        }
    }

    /// A dictionary (§2.3): non-empty, keys of ASCII letters, digits, `-`
    /// and `_` up to 250 characters, values of a STIX base type.
    fn dictionary<'m>(&mut self, o: &Obj<'m>, key: &str) -> Option<Obj<'m>> {
        let d = self.object(o, key)?;
        if d.map.is_empty() {
            self.err(
                &d.at,
                "empty-dictionary",
                format!("'{key}' is an empty dictionary; STIX prohibits empty dictionaries (§2.3)"),
            );
            return None;
        }
        for (k, value) in d.map {
            if !is_dictionary_key(k) {
                self.err(
                    &d.p(k),
                    "dictionary-key",
                    format!("'{key}' key '{}' must be at most 250 ascii letters, digits, '-' or '_'", short(k)),
                );
            }
            match value {
                Value::Null => self.err(&d.p(k), "property-type", format!("'{key}' values must not be null")),
                Value::Array(a) if a.is_empty() => {
                    self.err(&d.p(k), "empty-list", format!("'{key}' values must not be empty lists (§2.12)"))
                }
                _ => {}
            }
        }
        Some(d)
    }

    /// A dictionary whose values must each satisfy `ok`.
    fn dictionary_of(&mut self, o: &Obj, key: &str, expected: &str, ok: fn(&Value) -> bool) {
        let Some(d) = self.dictionary(o, key) else {
            return;
        };
        for (k, value) in d.map {
            if !value.is_null() && !ok(value) {
                self.err(
                    &d.p(k),
                    "property-type",
                    format!("'{key}' values must be {expected}, not {}", json_kind(value)),
                );
            }
        }
    }

    fn hex(&mut self, o: &Obj, key: &str) {
        if let Some(s) = self.string(o, key)
            && !is_hex(s)
        {
            self.err(
                &o.p(key),
                "hex-format",
                format!("'{key}' must be an even number of hexadecimal digits (§2.8), not '{}'", short(s)),
            );
        }
    }

    fn hexes(&mut self, o: &Obj, keys: &[&str]) {
        for key in keys {
            self.hex(o, key);
        }
    }

    /// A hashes dictionary (§2.7).
    fn hashes(&mut self, o: &Obj, key: &str) {
        let Some(value) = o.get(key) else { return };
        let path = o.p(key);
        let Value::Object(h) = value else {
            self.type_error(&path, key, "an object", value);
            return;
        };
        if h.is_empty() {
            self.err(
                &path,
                "empty-dictionary",
                format!("'{key}' is an empty dictionary; STIX prohibits empty dictionaries (§2.3)"),
            );
        }
        for (alg, v) in h {
            // The path is made only for a finding.
            let at = || format!("{path}.{alg}");
            if !is_dictionary_key(alg) || alg.len() < 3 {
                self.err(
                    &at(),
                    "hash-algorithm",
                    format!("hash algorithm name '{}' must be 3 to 250 ascii letters, digits, '-' or '_'", short(alg)),
                );
            } else if !HASH_ALGORITHM_OV.contains(&alg.as_str()) {
                self.warn(&at(), "hash-algorithm", format!("hash algorithm '{alg}' is not in hash-algorithm-ov"));
            }
            let Value::String(s) = v else {
                self.err(&at(), "property-type", format!("hash values must be strings, not {}", json_kind(v)));
                continue;
            };
            if hash_value_ok(alg, s) == Some(false) {
                self.err(&at(), "hash-value", format!("'{}' is not a valid {alg} hash value", short(s)));
            } else if fuzzy_hash_ok(alg, s) == Some(false) {
                self.warn(&at(), "hash-value", format!("'{}' does not look like a {alg} hash value", short(s)));
            }
        }
    }

    /// A closed enumeration: anything else is an error.
    fn enumeration<'m>(&mut self, o: &Obj<'m>, key: &str, allowed: &[&str]) -> Option<&'m str> {
        let s = self.string(o, key)?;
        if !allowed.contains(&s) {
            self.err(
                &o.p(key),
                "enumeration",
                format!("'{key}' must be one of {}, not '{}'", allowed.join(", "), short(s)),
            );
            return None;
        }
        Some(s)
    }

    fn vocab_warn(&mut self, path: &str, key: &str, value: &str, vocab: &[&str], name: &str) {
        if !vocab.contains(&value) {
            self.warn(path, "open-vocabulary", format!("'{key}' value '{}' is not in {name}", short(value)));
        }
    }

    /// An open vocabulary (§2.14) string: other values are warnings.
    fn vocab(&mut self, o: &Obj, key: &str, vocab: &[&str], name: &str) {
        if let Some(s) = self.string(o, key) {
            self.vocab_warn(&o.p(key), key, s, vocab, name);
        }
    }

    /// A list of open vocabulary strings.
    fn vocab_list(&mut self, o: &Obj, key: &str, vocab: &[&str], name: &str) {
        let path = o.p(key);
        let mut at = String::new();
        for (i, s) in self.string_list(o, key).into_iter().enumerate() {
            self.vocab_warn(item_path(&mut at, &path, i), key, s, vocab, name);
        }
    }

    /// One reference value at `path`; `allowed` lists the allowed object
    /// types (empty: any). Inside an observable container a reference is
    /// a local key.
    fn ref_value(&mut self, path: &str, value: &Value, allowed: &[&str]) -> Option<StixId> {
        if self.embedded {
            if !value.is_string() {
                self.err(path, "property-type", format!("'{path}' must be a string, not {}", json_kind(value)));
            }
            return None;
        }
        self.c.id_value(path, value, allowed)
    }

    fn id_ref(&mut self, o: &Obj, key: &str, allowed: &[&str]) -> Option<StixId> {
        let v = o.get(key)?;
        self.ref_value(&o.p(key), v, allowed)
    }

    fn id_refs(&mut self, o: &Obj, key: &str, allowed: &[&str]) -> Vec<StixId> {
        let mut out = Vec::new();
        let Some(items) = self.list(o, key) else {
            return out;
        };
        let path = o.p(key);
        let mut at = String::new();
        for (i, item) in items.iter().enumerate() {
            if let Some(id) = self.ref_value(item_path(&mut at, &path, i), item, allowed) {
                out.push(id);
            }
        }
        out
    }

    /// A reference that must not point at any of the `forbidden` types.
    fn ref_not(&mut self, path: &str, value: &Value, forbidden: &[&str], expected: &str) -> Option<StixId> {
        let id = self.ref_value(path, value, &[])?;
        if forbidden.contains(&id.object_type()) {
            self.err(
                path,
                "reference-type",
                format!("'{path}' must refer to {expected}, not to a {}", id.object_type()),
            );
            return None;
        }
        Some(id)
    }

    fn id_ref_not(&mut self, o: &Obj, key: &str, forbidden: &[&str], expected: &str) -> Option<StixId> {
        let v = o.get(key)?;
        self.ref_not(&o.p(key), v, forbidden, expected)
    }

    fn kill_chain_phases(&mut self, o: &Obj) {
        for phase in self.object_list(o, "kill_chain_phases") {
            self.require(&phase, &["kill_chain_name", "phase_name"]);
            for key in ["kill_chain_name", "phase_name"] {
                if let Some(s) = self.string(&phase, key)
                    && s.chars().any(|ch| ch.is_uppercase() || ch == ' ' || ch == '_')
                {
                    self.warn(
                        &phase.p(key),
                        "kill-chain-phase",
                        format!("'{key}' should be lowercase with hyphens as word separators (§2.11)"),
                    );
                }
            }
        }
    }

    /// `name_enc`-style properties: a character set name, only with the
    /// property it describes (§3.1).
    fn encoding(&mut self, o: &Obj, key: &str, of: &str) {
        if let Some(s) = self.string(o, key) {
            if !is_charset_name(s) {
                self.err(
                    &o.p(key),
                    "charset-name",
                    format!("'{key}' must be an iana character set name, not '{}'", short(s)),
                );
            }
            if !o.has(of) {
                self.err(&o.p(key), "dependent-property", format!("'{key}' must not be present without '{of}' (§3.1)"));
            }
        }
    }

    // ---- dispatch ----

    fn check_object(&mut self, ty: &str, o: &Obj) {
        match ty {
            "attack-pattern" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description"]);
                self.string_list(o, "aliases");
                self.kill_chain_phases(o);
            }
            "campaign" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description", "objective"]);
                self.string_list(o, "aliases");
                self.order(o, "first_seen", "last_seen", false);
            }
            "course-of-action" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description"]);
            }
            "grouping" => {
                self.require(o, &["context", "object_refs"]);
                self.strings(o, &["name", "description"]);
                self.vocab(o, "context", GROUPING_CONTEXT_OV, "grouping-context-ov");
                self.id_refs(o, "object_refs", &[]);
            }
            "identity" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description", "contact_information"]);
                self.string_list(o, "roles");
                self.vocab(o, "identity_class", IDENTITY_CLASS_OV, "identity-class-ov");
                self.vocab_list(o, "sectors", INDUSTRY_SECTOR_OV, "industry-sector-ov");
            }
            // A stub in STIX 2.1 (§4.6): name and description only.
            "incident" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description"]);
            }
            "indicator" => self.indicator(o),
            "infrastructure" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description"]);
                self.vocab_list(o, "infrastructure_types", INFRASTRUCTURE_TYPE_OV, "infrastructure-type-ov");
                self.string_list(o, "aliases");
                self.kill_chain_phases(o);
                self.order(o, "first_seen", "last_seen", false);
            }
            "intrusion-set" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description"]);
                self.string_lists(o, &["aliases", "goals"]);
                self.order(o, "first_seen", "last_seen", false);
                self.vocab(o, "resource_level", ATTACK_RESOURCE_LEVEL_OV, "attack-resource-level-ov");
                self.vocab(o, "primary_motivation", ATTACK_MOTIVATION_OV, "attack-motivation-ov");
                self.vocab_list(o, "secondary_motivations", ATTACK_MOTIVATION_OV, "attack-motivation-ov");
            }
            "location" => self.location(o),
            "malware" => self.malware(o),
            "malware-analysis" => self.malware_analysis(o),
            "note" => {
                self.require(o, &["content", "object_refs"]);
                self.strings(o, &["abstract", "content"]);
                self.string_list(o, "authors");
                self.id_refs(o, "object_refs", &[]);
            }
            "observed-data" => self.observed_data(o),
            "opinion" => {
                self.require(o, &["opinion", "object_refs"]);
                self.string(o, "explanation");
                self.string_list(o, "authors");
                self.enumeration(o, "opinion", OPINION_ENUM);
                self.id_refs(o, "object_refs", &[]);
            }
            "report" => {
                self.require(o, &["name", "published", "object_refs"]);
                self.strings(o, &["name", "description"]);
                self.vocab_list(o, "report_types", REPORT_TYPE_OV, "report-type-ov");
                self.timestamp(o, "published");
                self.id_refs(o, "object_refs", &[]);
            }
            "threat-actor" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description"]);
                self.vocab_list(o, "threat_actor_types", THREAT_ACTOR_TYPE_OV, "threat-actor-type-ov");
                self.string_lists(o, &["aliases", "goals"]);
                self.order(o, "first_seen", "last_seen", false);
                self.vocab_list(o, "roles", THREAT_ACTOR_ROLE_OV, "threat-actor-role-ov");
                self.vocab(o, "sophistication", THREAT_ACTOR_SOPHISTICATION_OV, "threat-actor-sophistication-ov");
                self.vocab(o, "resource_level", ATTACK_RESOURCE_LEVEL_OV, "attack-resource-level-ov");
                self.vocab(o, "primary_motivation", ATTACK_MOTIVATION_OV, "attack-motivation-ov");
                self.vocab_list(o, "secondary_motivations", ATTACK_MOTIVATION_OV, "attack-motivation-ov");
                self.vocab_list(o, "personal_motivations", ATTACK_MOTIVATION_OV, "attack-motivation-ov");
            }
            "tool" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description", "tool_version"]);
                self.vocab_list(o, "tool_types", TOOL_TYPE_OV, "tool-type-ov");
                self.string_list(o, "aliases");
                self.kill_chain_phases(o);
            }
            "vulnerability" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "description"]);
            }
            "relationship" => self.relationship(o),
            "sighting" => self.sighting(o),
            "marking-definition" => self.marking_definition(o),
            "language-content" => self.language_content(o),
            "extension-definition" => self.extension_definition(o),
            _ if SCO_TYPES.contains(&ty) => self.sco(ty, o),
            _ => {}
        }
    }

    /// Rules on common properties that depend on the object type.
    fn common(&mut self, ty: &str, o: &Obj) {
        let is_sco = SCO_TYPES.contains(&ty);
        if !is_sco && o.has("defanged") {
            self.err("defanged", "not-applicable", "'defanged' must not be used on objects other than scos (§3.2)");
        }
        if is_sco {
            for key in ["created_by_ref", "revoked", "labels", "confidence", "lang", "external_references"] {
                if o.has(key) {
                    self.warn(key, "not-applicable", format!("'{key}' is not a property of scos (§3.2)"));
                }
            }
        }
        if let Some(Value::String(lang)) = o.get("lang")
            && !is_language_tag(lang)
        {
            self.err(
                "lang",
                "language-tag",
                format!("'lang' must be an rfc 5646 language code, not '{}'", short(lang)),
            );
        }
        if let Some(Value::Array(refs)) = o.get("external_references") {
            for (i, er) in refs.iter().enumerate() {
                if let Value::Object(m) = er {
                    let ero = Obj::nested(m, format!("external_references[{i}]"));
                    self.hashes(&ero, "hashes");
                }
            }
        }
        self.extension_keys(ty, o);
    }

    /// Keys of `extensions`: predefined extensions of this type are
    /// checked; a predefined extension of another type is an error.
    fn extension_keys(&mut self, ty: &str, o: &Obj) {
        let Some(value) = o.get("extensions") else {
            return;
        };
        let Value::Object(exts) = value else {
            if self.embedded {
                self.type_error(&o.p("extensions"), "extensions", "an object", value);
            }
            return;
        };
        if exts.is_empty() && self.embedded {
            self.err(&o.p("extensions"), "empty-dictionary", "'extensions' must not be empty");
        }
        let must_be_known = matches!(ty, "file" | "network-traffic" | "process" | "user-account");
        for (key, ext) in exts {
            let path = o.p(&format!("extensions.{key}")).into_owned();
            if key.starts_with("extension-definition--") {
                // §3.2: extensions of the extension facility carry their
                // extension_type (its value is checked by the common rules).
                if let Value::Object(m) = ext
                    && !m.contains_key("extension_type")
                {
                    self.err(
                        &format!("{path}.extension_type"),
                        "required-property",
                        "required property 'extension_type' is missing (§3.2)",
                    );
                }
                continue;
            }
            let owner = PREDEFINED_EXTENSIONS.iter().find(|(k, _)| k == key).map(|(_, t)| *t);
            match owner {
                Some(t) if t == ty => {
                    let Value::Object(m) = ext else {
                        if self.embedded {
                            self.type_error(&path, key, "an object", ext);
                        }
                        continue;
                    };
                    let eo = Obj::nested(m, path);
                    self.predefined_extension(key, &eo);
                }
                Some(t) => {
                    self.err(&path, "extension-key", format!("'{key}' is a predefined extension of {t}, not of {ty}"))
                }
                None if key.ends_with("-ext") => self.warn(
                    &path,
                    "extension-key",
                    format!("'{key}' is a custom extension (deprecated, §11.3); use an extension-definition"),
                ),
                None if must_be_known => self.err(
                    &path,
                    "extension-key",
                    format!(
                        "extension key '{}' must be a predefined {ty} extension or an extension-definition id",
                        short(key)
                    ),
                ),
                None => self.warn(
                    &path,
                    "extension-key",
                    format!("extension key '{}' should be an extension-definition id", short(key)),
                ),
            }
        }
    }

    // ---- SDOs ----

    fn indicator(&mut self, o: &Obj) {
        self.require(o, &["pattern", "pattern_type", "valid_from"]);
        self.strings(o, &["name", "description", "pattern_version"]);
        self.vocab_list(o, "indicator_types", INDICATOR_TYPE_OV, "indicator-type-ov");
        let pattern = self.string(o, "pattern");
        self.vocab(o, "pattern_type", PATTERN_TYPE_OV, "pattern-type-ov");
        self.order(o, "valid_from", "valid_until", true);
        self.kill_chain_phases(o);
        if let (Some("stix"), Some(pattern)) = (o.get("pattern_type").and_then(Value::as_str), pattern) {
            match crate::pattern_check(pattern) {
                Ok(parsed) if !self.embedded => self.c.pattern = Some(parsed),
                Ok(_) => {}
                Err(e) => self.err("pattern", "pattern-syntax", format!("invalid stix pattern: {e}")),
            }
        }
    }

    fn location(&mut self, o: &Obj) {
        self.strings(
            o,
            &["name", "description", "country", "administrative_area", "city", "street_address", "postal_code"],
        );
        self.vocab(o, "region", REGION_OV, "region-ov");
        let lat = self.float(o, "latitude");
        let lon = self.float(o, "longitude");
        let precision = self.float(o, "precision");
        if let Some(lat) = lat
            && !(-90.0..=90.0).contains(&lat)
        {
            self.err("latitude", "range", format!("'latitude' must be between -90.0 and 90.0, not {lat}"));
        }
        if let Some(lon) = lon
            && !(-180.0..=180.0).contains(&lon)
        {
            self.err("longitude", "range", format!("'longitude' must be between -180.0 and 180.0, not {lon}"));
        }
        if let Some(p) = precision
            && p < 0.0
        {
            self.warn(
                "precision",
                "range",
                format!("'precision' is a distance in meters and should not be negative, not {p}"),
            );
        }
        match (o.has("latitude"), o.has("longitude")) {
            (true, false) => {
                self.err("longitude", "required-property", "'longitude' is required when 'latitude' is present")
            }
            (false, true) => {
                self.err("latitude", "required-property", "'latitude' is required when 'longitude' is present")
            }
            _ => {}
        }
        if o.has("precision") && !(o.has("latitude") && o.has("longitude")) {
            self.err("precision", "dependent-property", "'precision' requires both 'latitude' and 'longitude'");
        }
        let has_point = o.has("latitude") && o.has("longitude");
        if !(o.has("region") || o.has("country") || has_point) {
            self.err("", "required-property", "a location needs region, country, or latitude and longitude");
        }
    }

    fn malware(&mut self, o: &Obj) {
        self.require(o, &["is_family"]);
        self.strings(o, &["name", "description"]);
        if self.boolean(o, "is_family") == Some(true) && !o.has("name") {
            self.err("name", "required-property", "'name' is required when 'is_family' is true");
        }
        self.vocab_list(o, "malware_types", MALWARE_TYPE_OV, "malware-type-ov");
        self.string_list(o, "aliases");
        self.kill_chain_phases(o);
        self.order(o, "first_seen", "last_seen", false);
        self.id_refs(o, "operating_system_refs", &["software"]);
        self.vocab_list(o, "architecture_execution_envs", PROCESSOR_ARCHITECTURE_OV, "processor-architecture-ov");
        self.vocab_list(o, "implementation_languages", IMPLEMENTATION_LANGUAGE_OV, "implementation-language-ov");
        self.vocab_list(o, "capabilities", MALWARE_CAPABILITIES_OV, "malware-capabilities-ov");
        self.id_refs(o, "sample_refs", &["file", "artifact"]);
    }

    fn malware_analysis(&mut self, o: &Obj) {
        self.require(o, &["product"]);
        if !o.has("result") && !o.has("analysis_sco_refs") {
            self.err("", "required-property", "a malware-analysis needs 'result' or 'analysis_sco_refs'");
        }
        self.strings(
            o,
            &[
                "product",
                "version",
                "configuration_version",
                "analysis_engine_version",
                "analysis_definition_version",
                "result_name",
            ],
        );
        self.id_ref(o, "host_vm_ref", &["software"]);
        self.id_ref(o, "operating_system_ref", &["software"]);
        self.id_refs(o, "installed_software_refs", &["software"]);
        self.string_list(o, "modules");
        self.timestamps(o, &["submitted", "analysis_started", "analysis_ended"]);
        self.vocab(o, "result", MALWARE_RESULT_OV, "malware-result-ov");
        let refs = self.id_refs(o, "analysis_sco_refs", &[]);
        for (i, id) in refs.iter().enumerate() {
            let t = id.object_type();
            if SDO_TYPES.contains(&t) || SRO_TYPES.contains(&t) || META_TYPES.contains(&t) {
                self.warn(
                    &format!("analysis_sco_refs[{i}]"),
                    "reference-type",
                    format!("'analysis_sco_refs' should refer to scos, not to a {t}"),
                );
            }
        }
        self.id_ref(o, "sample_ref", &["file", "network-traffic", "artifact"]);
    }

    fn observed_data(&mut self, o: &Obj) {
        self.require(o, &["first_observed", "last_observed", "number_observed"]);
        self.order(o, "first_observed", "last_observed", false);
        self.int(o, "number_observed", 1, 999_999_999);
        match (o.has("objects"), o.has("object_refs")) {
            (true, true) => {
                self.err("objects", "mutually-exclusive", "'objects' and 'object_refs' must not both be present")
            }
            (false, false) => {
                self.err("", "required-property", "an observed-data needs 'object_refs' (or the deprecated 'objects')")
            }
            _ => {}
        }
        if o.has("object_refs") {
            let mut forbidden: Vec<&str> = SDO_TYPES.to_vec();
            forbidden.extend_from_slice(META_TYPES);
            forbidden.push("bundle");
            let mut any_sco = false;
            let mut readable = 0;
            if let Some(items) = self.list(o, "object_refs") {
                for (i, item) in items.iter().enumerate() {
                    if let Some(id) = self.ref_not(&format!("object_refs[{i}]"), item, &forbidden, "an sco or an sro") {
                        readable += 1;
                        if !SRO_TYPES.contains(&id.object_type()) {
                            any_sco = true;
                        }
                    }
                }
                if !any_sco && readable == items.len() {
                    self.err(
                        "object_refs",
                        "observed-data-refs",
                        "'object_refs' must contain at least one sco reference",
                    );
                }
            }
        }
        if o.has("objects") {
            self.warn("objects", "deprecated", "'objects' is deprecated; use 'object_refs' (§4.14)");
            self.observable_container(o);
        }
    }

    /// The deprecated observable container (§2.13): SCOs without ids whose
    /// references are local keys.
    fn observable_container(&mut self, o: &Obj) {
        let Some(objects) = self.object(o, "objects") else {
            return;
        };
        if objects.map.is_empty() {
            self.err("objects", "empty-dictionary", "'objects' must contain at least one object");
            return;
        }
        let was = self.embedded;
        self.embedded = true;
        for (key, value) in objects.map {
            let path = objects.p(key);
            let Value::Object(m) = value else {
                self.err(&path, "property-type", format!("'objects' values must be objects, not {}", json_kind(value)));
                continue;
            };
            let inner = Obj::nested(m, path.to_string());
            let Some(ty) = self.string(&inner, "type") else {
                if !inner.has("type") {
                    self.err(&inner.p("type"), "required-property", "required property 'type' is missing");
                }
                continue;
            };
            if SCO_TYPES.contains(&ty) {
                self.sco(ty, &inner);
                self.extension_keys(ty, &inner);
            } else if builtin_family(ty).is_some() {
                self.err(
                    &inner.p("type"),
                    "observed-data-objects",
                    format!("'objects' may hold only scos, not a {ty}"),
                );
            }
        }
        self.embedded = was;
    }

    // ---- SROs ----

    fn relationship(&mut self, o: &Obj) {
        self.require(o, &["relationship_type", "source_ref", "target_ref"]);
        if let Some(t) = self.string(o, "relationship_type")
            && (t.is_empty() || !t.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-'))
        {
            self.err(
                "relationship_type",
                "relationship-type",
                format!("'relationship_type' must use only a-z, 0-9 and '-', not '{}'", short(t)),
            );
        }
        self.string(o, "description");
        let mut forbidden: Vec<&str> = SRO_TYPES.to_vec();
        forbidden.extend_from_slice(META_TYPES);
        forbidden.push("bundle");
        self.id_ref_not(o, "source_ref", &forbidden, "an sdo or an sco");
        self.id_ref_not(o, "target_ref", &forbidden, "an sdo or an sco");
        self.order(o, "start_time", "stop_time", true);
    }

    fn sighting(&mut self, o: &Obj) {
        self.require(o, &["sighting_of_ref"]);
        self.string(o, "description");
        self.order(o, "first_seen", "last_seen", false);
        self.int(o, "count", 0, 999_999_999);
        let mut forbidden: Vec<&str> = SRO_TYPES.to_vec();
        forbidden.extend_from_slice(SCO_TYPES);
        forbidden.extend_from_slice(META_TYPES);
        forbidden.push("bundle");
        self.id_ref_not(o, "sighting_of_ref", &forbidden, "an sdo");
        self.id_refs(o, "observed_data_refs", &["observed-data"]);
        self.id_refs(o, "where_sighted_refs", &["identity", "location"]);
        self.boolean(o, "summary");
    }

    // ---- meta objects ----

    fn marking_definition(&mut self, o: &Obj) {
        self.string(o, "name");
        let definition_type = self.string(o, "definition_type");
        let has_extensions = o.has("extensions");
        if let Some(dt) = definition_type {
            self.warn(
                "definition_type",
                "deprecated",
                "'definition_type' and 'definition' are deprecated; new markings should use extensions (§7.2.1)",
            );
            self.vocab_warn(
                "definition_type",
                "definition_type",
                dt,
                MARKING_DEFINITION_TYPE_OV,
                "the marking types of §7.2.1",
            );
        }
        if !has_extensions {
            for key in ["definition_type", "definition"] {
                if !o.has(key) {
                    self.err(key, "required-property", format!("'{key}' is required when 'extensions' is absent"));
                }
            }
        }
        let definition = self.object(o, "definition");
        match (definition_type, &definition) {
            (Some("statement"), Some(d)) => {
                self.require(d, &["statement"]);
                self.string(d, "statement");
            }
            (Some("tlp"), Some(d)) => self.tlp_1_0(o, d),
            _ => {}
        }
        let own_id = o.get("id").and_then(Value::as_str).unwrap_or_default();
        if definition_type != Some("tlp")
            && let Some((level, _, _)) = TLP_1_0_MARKINGS.iter().find(|(_, id, _)| *id == own_id)
        {
            self.err(
                "id",
                "tlp-marking",
                format!("{own_id} is reserved for the standard tlp:{level} marking definition (§7.2.1.4)"),
            );
        }
        if let Some(Value::Array(refs)) = o.get("object_marking_refs")
            && refs.iter().any(|r| r.as_str() == Some(own_id))
        {
            self.err("object_marking_refs", "circular-marking", "a marking definition must not mark itself");
        }
        if let Some(Value::Array(gms)) = o.get("granular_markings") {
            for (i, gm) in gms.iter().enumerate() {
                if gm.get("marking_ref").and_then(Value::as_str) == Some(own_id) {
                    self.err(
                        &format!("granular_markings[{i}].marking_ref"),
                        "circular-marking",
                        "a marking definition must not mark itself",
                    );
                }
            }
        }
        if let Some(Value::Object(exts)) = o.get("extensions")
            && let Some(Value::Object(tlp2)) = exts.get(TLP_2_0_EXTENSION_ID)
        {
            let eo = Obj::nested(tlp2, format!("extensions.{TLP_2_0_EXTENSION_ID}"));
            self.require(&eo, &["tlp_2_0"]);
            self.enumeration(&eo, "tlp_2_0", TLP_2_0_LEVELS);
        }
    }

    /// A `tlp` marking must be one of the four standard TLP 1.0 marking
    /// definitions (§7.2.1.4).
    fn tlp_1_0(&mut self, o: &Obj, d: &Obj) {
        self.require(d, &["tlp"]);
        let Some(level) = self.string(d, "tlp") else {
            return;
        };
        let Some((_, id, name)) = TLP_1_0_MARKINGS.iter().find(|(l, _, _)| *l == level) else {
            self.err(
                &d.p("tlp"),
                "enumeration",
                format!("'tlp' must be one of white, green, amber, red, not '{}'", short(level)),
            );
            return;
        };
        if o.get("id").and_then(Value::as_str) != Some(*id) {
            self.err(
                "id",
                "tlp-marking",
                format!("a tlp:{level} marking must be the standard one with id {id}; other tlp markings must not be created (§7.2.1.4)"),
            );
        }
        let created = o.get("created").and_then(Value::as_str).and_then(|s| Timestamp::parse(s).ok());
        let standard = Timestamp::parse(TLP_1_0_CREATED).ok();
        if created.is_some() && created != standard {
            self.err("created", "tlp-marking", format!("a tlp marking must have created {TLP_1_0_CREATED} (§7.2.1.4)"));
        }
        match o.get("name") {
            Some(Value::String(n)) if n != name => self.err(
                "name",
                "tlp-marking",
                format!("the tlp:{level} marking must be named '{name}', not '{}'", short(n)),
            ),
            // STIX 2.0 had no name on the TLP markings; upgraded copies
            // often lack it.
            None => self.warn("name", "tlp-marking", format!("the tlp:{level} marking should be named '{name}'")),
            _ => {}
        }
    }

    fn language_content(&mut self, o: &Obj) {
        self.require(o, &["object_ref", "contents"]);
        self.id_ref_not(o, "object_ref", &["bundle"], "a stix object");
        self.timestamp(o, "object_modified");
        if o.has("lang") {
            self.warn(
                "lang",
                "not-applicable",
                "'lang' is not a property of language-content; its languages are the keys of 'contents'",
            );
        }
        let Some(contents) = self.object(o, "contents") else {
            return;
        };
        if contents.map.is_empty() {
            self.err("contents", "empty-dictionary", "'contents' must have at least one language");
        }
        for (lang, value) in contents.map {
            let path = contents.p(lang);
            if !is_language_tag(lang) {
                self.err(
                    &path,
                    "language-tag",
                    format!("'contents' keys must be rfc 5646 language codes, not '{}'", short(lang)),
                );
            }
            let Value::Object(props) = value else {
                self.err(
                    &path,
                    "property-type",
                    format!("'contents' values must be objects, not {}", json_kind(value)),
                );
                continue;
            };
            if props.is_empty() {
                self.err(&path, "empty-dictionary", "a translation must not be empty");
            }
            for key in props.keys() {
                let ok = (3..=250).contains(&key.len())
                    && key.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
                if !ok {
                    self.warn(
                        &format!("{path}.{key}"),
                        "property-name",
                        format!("'{}' is not a stix property name, so it translates nothing", short(key)),
                    );
                }
            }
        }
    }

    fn extension_definition(&mut self, o: &Obj) {
        self.require(o, &["name", "schema", "version", "extension_types", "created_by_ref"]);
        self.strings(o, &["name", "description", "schema", "version"]);
        let mut toplevel = false;
        if let Some(items) = self.list(o, "extension_types") {
            for (i, item) in items.iter().enumerate() {
                let path = format!("extension_types[{i}]");
                match item.as_str() {
                    Some("toplevel-property-extension") => toplevel = true,
                    Some(s) if EXTENSION_TYPE_ENUM.contains(&s) => {}
                    Some(s) => self.err(
                        &path,
                        "enumeration",
                        format!(
                            "'extension_types' values must be one of {}, not '{}'",
                            EXTENSION_TYPE_ENUM.join(", "),
                            short(s)
                        ),
                    ),
                    None => self.type_error(&path, "extension_types", "a list of strings", item),
                }
            }
        }
        let props = self.string_list(o, "extension_properties");
        if o.has("extension_properties") && !toplevel {
            self.err(
                "extension_properties",
                "extension-properties",
                "'extension_properties' must only be used when 'extension_types' includes toplevel-property-extension",
            );
        }
        if toplevel && !o.has("extension_properties") {
            self.warn(
                "extension_properties",
                "extension-properties",
                "a toplevel-property-extension should list its property names in 'extension_properties'",
            );
        }
        for (i, p) in props.iter().enumerate() {
            let ok = (3..=250).contains(&p.len())
                && p.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
            if !ok {
                self.warn(
                    &format!("extension_properties[{i}]"),
                    "property-name",
                    format!("'{}' is not a valid property name (a-z, 0-9, '_', 3 to 250 characters)", short(p)),
                );
            }
        }
    }

    // ---- SCOs ----

    fn sco(&mut self, ty: &str, o: &Obj) {
        match ty {
            "artifact" => self.artifact(o),
            "autonomous-system" => {
                self.require(o, &["number"]);
                self.integer(o, "number");
                self.strings(o, &["name", "rir"]);
            }
            "directory" => {
                self.require(o, &["path"]);
                self.string(o, "path");
                self.encoding(o, "path_enc", "path");
                self.timestamps(o, &["ctime", "mtime", "atime"]);
                self.id_refs(o, "contains_refs", &["file", "directory"]);
            }
            "domain-name" => {
                self.require(o, &["value"]);
                if let Some(v) = self.string(o, "value") {
                    if v.is_empty() {
                        self.err(&o.p("value"), "domain-format", "'value' must not be empty");
                    } else if v.chars().any(|ch| ch.is_whitespace() || ch.is_control()) {
                        self.err(
                            &o.p("value"),
                            "domain-format",
                            format!("'{}' is not a domain name (rfc 1034): it contains white space", short(v)),
                        );
                    } else if v.chars().any(|ch| matches!(ch, '/' | '@' | ':' | '?' | '#' | '[' | ']')) {
                        self.warn(
                            &o.p("value"),
                            "domain-format",
                            format!("'{}' does not look like a domain name", short(v)),
                        );
                    }
                }
                self.id_refs(o, "resolves_to_refs", &["ipv4-addr", "ipv6-addr", "domain-name"]);
            }
            "email-addr" => {
                self.require(o, &["value"]);
                if let Some(v) = self.string(o, "value") {
                    if v.is_empty() {
                        self.err(&o.p("value"), "email-format", "'value' must not be empty");
                    } else if v.contains('<') || v.contains('>') {
                        self.err(&o.p("value"), "email-format", "'value' must not include the display name (§6.5)");
                    } else if !v.contains('@') {
                        self.warn(
                            &o.p("value"),
                            "email-format",
                            format!("'{}' does not look like an email address", short(v)),
                        );
                    }
                }
                self.string(o, "display_name");
                self.id_ref(o, "belongs_to_ref", &["user-account"]);
            }
            "email-message" => self.email_message(o),
            "file" => self.file(o),
            "ipv4-addr" | "ipv6-addr" => {
                self.require(o, &["value"]);
                let v4 = ty == "ipv4-addr";
                if let Some(v) = self.string(o, "value") {
                    let ok = if v4 { is_ipv4_value(v) } else { is_ipv6_value(v) };
                    if !ok {
                        let (rule, what) = if v4 { ("ipv4-format", "an ipv4") } else { ("ipv6-format", "an ipv6") };
                        self.err(&o.p("value"), rule, format!("'{}' is not {what} address or cidr block", short(v)));
                    }
                }
                self.id_refs(o, "resolves_to_refs", &["mac-addr"]);
                self.id_refs(o, "belongs_to_refs", &["autonomous-system"]);
            }
            "mac-addr" => {
                self.require(o, &["value"]);
                if let Some(v) = self.string(o, "value")
                    && !is_mac(v)
                {
                    self.err(
                        &o.p("value"),
                        "mac-format",
                        format!(
                            "'{}' must be a colon-delimited, lowercase mac-48 address like 00:00:ab:cd:ef:01",
                            short(v)
                        ),
                    );
                }
            }
            "mutex" => {
                self.require(o, &["name"]);
                self.string(o, "name");
            }
            "network-traffic" => self.network_traffic(o),
            "process" => self.process(o),
            "software" => {
                self.require(o, &["name"]);
                self.strings(o, &["name", "swid", "vendor", "version"]);
                if let Some(cpe) = self.string(o, "cpe")
                    && !is_cpe23(cpe)
                {
                    self.err(&o.p("cpe"), "cpe-format", format!("'{}' is not a cpe 2.3 formatted string", short(cpe)));
                }
                let path = o.p("languages");
                for (i, lang) in self.string_list(o, "languages").into_iter().enumerate() {
                    if !is_language_tag(lang) {
                        self.err(
                            &format!("{path}[{i}]"),
                            "language-tag",
                            format!("'languages' values must be rfc 5646 language codes, not '{}'", short(lang)),
                        );
                    }
                }
            }
            "url" => {
                self.require(o, &["value"]);
                if let Some(v) = self.string(o, "value") {
                    if v.is_empty() {
                        self.err(&o.p("value"), "url-format", "'value' must not be empty");
                    } else if v.chars().any(char::is_whitespace) || !v.contains(':') {
                        self.warn(
                            &o.p("value"),
                            "url-format",
                            format!("'{}' does not look like an rfc 3986 url", short(v)),
                        );
                    }
                }
            }
            "user-account" => self.user_account(o),
            "windows-registry-key" => self.registry_key(o),
            "x509-certificate" => self.x509(o),
            _ => {}
        }
    }

    fn artifact(&mut self, o: &Obj) {
        match (o.has("payload_bin"), o.has("url")) {
            (true, true) => {
                self.err(&o.p("url"), "mutually-exclusive", "'payload_bin' and 'url' must not both be present")
            }
            (false, false) => self.err(&o.at, "required-property", "an artifact needs 'payload_bin' or 'url'"),
            (false, true) if !o.has("hashes") => {
                self.err(&o.p("hashes"), "required-property", "'hashes' is required when 'url' is present")
            }
            _ => {}
        }
        if let Some(b) = self.string(o, "payload_bin")
            && !is_base64(b)
        {
            self.err(&o.p("payload_bin"), "binary-format", "'payload_bin' must be base64 (rfc 4648)");
        }
        self.strings(o, &["url", "decryption_key"]);
        if let Some(m) = self.string(o, "mime_type")
            && !m.contains('/')
        {
            self.warn(
                &o.p("mime_type"),
                "mime-type",
                format!("'{}' is not an iana media type (type/subtype)", short(m)),
            );
        }
        self.hashes(o, "hashes");
        self.enumeration(o, "encryption_algorithm", ENCRYPTION_ALGORITHM_ENUM);
        if o.has("decryption_key") && !o.has("encryption_algorithm") {
            self.err(
                &o.p("decryption_key"),
                "dependent-property",
                "'decryption_key' must not be present without 'encryption_algorithm'",
            );
        }
    }

    fn email_message(&mut self, o: &Obj) {
        self.require(o, &["is_multipart"]);
        let multipart = self.boolean(o, "is_multipart");
        self.timestamp(o, "date");
        self.strings(o, &["content_type", "message_id", "subject", "body"]);
        self.id_ref(o, "from_ref", &["email-addr"]);
        self.id_ref(o, "sender_ref", &["email-addr"]);
        for key in ["to_refs", "cc_refs", "bcc_refs"] {
            self.id_refs(o, key, &["email-addr"]);
        }
        self.string_list(o, "received_lines");
        if let Some(d) = self.dictionary(o, "additional_header_fields") {
            for (k, v) in d.map {
                let ok = match v {
                    Value::String(_) => true,
                    Value::Array(a) => !a.is_empty() && a.iter().all(Value::is_string),
                    _ => false,
                };
                if !ok && !v.is_null() {
                    self.err(
                        &d.p(k),
                        "property-type",
                        "'additional_header_fields' values must be lists of strings (or a string)",
                    );
                }
            }
        }
        if multipart == Some(true) && o.has("body") {
            self.err(&o.p("body"), "email-body", "'body' must not be used when 'is_multipart' is true");
        }
        if multipart == Some(false) && o.has("body_multipart") {
            self.err(
                &o.p("body_multipart"),
                "email-body",
                "'body_multipart' must not be used when 'is_multipart' is false",
            );
        }
        for part in self.object_list(o, "body_multipart") {
            self.strings(&part, &["body", "content_type", "content_disposition"]);
            self.id_ref(&part, "body_raw_ref", &["artifact", "file"]);
            match (part.has("body"), part.has("body_raw_ref")) {
                (false, false) => self.err(&part.at, "required-property", "a mime part needs 'body' or 'body_raw_ref'"),
                (true, true) => self.warn(
                    &part.at,
                    "mutually-exclusive",
                    "a mime part should have one of 'body' and 'body_raw_ref'",
                ),
                _ => {}
            }
        }
        self.id_ref(o, "raw_email_ref", &["artifact"]);
    }

    fn file(&mut self, o: &Obj) {
        self.at_least_one(o, &["hashes", "name"], "a file");
        self.hashes(o, "hashes");
        self.int(o, "size", 0, MAX_INT);
        self.strings(o, &["name", "mime_type"]);
        self.encoding(o, "name_enc", "name");
        self.hex(o, "magic_number_hex");
        self.timestamps(o, &["ctime", "mtime", "atime"]);
        self.id_ref(o, "parent_directory_ref", &["directory"]);
        let contained = self.id_refs(o, "contains_refs", &[]);
        for (i, id) in contained.iter().enumerate() {
            let t = id.object_type();
            if SDO_TYPES.contains(&t) || SRO_TYPES.contains(&t) || META_TYPES.contains(&t) {
                self.warn(
                    &o.p(&format!("contains_refs[{i}]")),
                    "reference-type",
                    format!("'contains_refs' should refer to scos, not to a {t}"),
                );
            }
        }
        self.id_ref(o, "content_ref", &["artifact"]);
    }

    fn network_traffic(&mut self, o: &Obj) {
        self.require(o, &["protocols"]);
        self.at_least_one(o, &["src_ref", "dst_ref"], "a network-traffic");
        self.order(o, "start", "end", false);
        if self.boolean(o, "is_active") == Some(true) && o.has("end") {
            self.err(&o.p("end"), "mutually-exclusive", "'end' must not be present when 'is_active' is true");
        }
        let endpoints = ["ipv4-addr", "ipv6-addr", "mac-addr", "domain-name"];
        self.id_ref(o, "src_ref", &endpoints);
        self.id_ref(o, "dst_ref", &endpoints);
        self.int(o, "src_port", 0, 65535);
        self.int(o, "dst_port", 0, 65535);
        let path = o.p("protocols");
        for (i, p) in self.string_list(o, "protocols").into_iter().enumerate() {
            if p.chars().any(char::is_uppercase) {
                self.warn(
                    &format!("{path}[{i}]"),
                    "protocol-name",
                    format!("protocol '{}' should be a lowercase iana service name", short(p)),
                );
            }
        }
        self.counts(o, &["src_byte_count", "dst_byte_count", "src_packets", "dst_packets"]);
        self.dictionary_of(o, "ipfix", "integers or strings", |v| v.is_string() || v.is_i64() || v.is_u64());
        self.id_ref(o, "src_payload_ref", &["artifact"]);
        self.id_ref(o, "dst_payload_ref", &["artifact"]);
        self.id_refs(o, "encapsulates_refs", &["network-traffic"]);
        self.id_ref(o, "encapsulated_by_ref", &["network-traffic"]);
    }

    fn process(&mut self, o: &Obj) {
        self.at_least_one(
            o,
            &[
                "is_hidden",
                "pid",
                "created_time",
                "cwd",
                "command_line",
                "environment_variables",
                "opened_connection_refs",
                "creator_user_ref",
                "image_ref",
                "parent_ref",
                "child_refs",
                "extensions",
            ],
            "a process",
        );
        self.boolean(o, "is_hidden");
        self.integer(o, "pid");
        self.timestamp(o, "created_time");
        self.strings(o, &["cwd", "command_line"]);
        self.dictionary_of(o, "environment_variables", "strings", Value::is_string);
        self.id_refs(o, "opened_connection_refs", &["network-traffic"]);
        self.id_ref(o, "creator_user_ref", &["user-account"]);
        self.id_ref(o, "image_ref", &["file"]);
        self.id_ref(o, "parent_ref", &["process"]);
        self.id_refs(o, "child_refs", &["process"]);
    }

    fn user_account(&mut self, o: &Obj) {
        self.at_least_one(
            o,
            &[
                "extensions",
                "user_id",
                "credential",
                "account_login",
                "account_type",
                "display_name",
                "is_service_account",
                "is_privileged",
                "can_escalate_privs",
                "is_disabled",
                "account_created",
                "account_expires",
                "credential_last_changed",
                "account_first_login",
                "account_last_login",
            ],
            "a user-account",
        );
        self.strings(o, &["user_id", "credential", "account_login", "display_name"]);
        self.vocab(o, "account_type", ACCOUNT_TYPE_OV, "account-type-ov");
        self.booleans(o, &["is_service_account", "is_privileged", "can_escalate_privs", "is_disabled"]);
        self.timestamps(
            o,
            &[
                "account_created",
                "account_expires",
                "credential_last_changed",
                "account_first_login",
                "account_last_login",
            ],
        );
    }

    fn registry_key(&mut self, o: &Obj) {
        self.at_least_one(
            o,
            &["key", "values", "modified_time", "creator_user_ref", "number_of_subkeys"],
            "a windows-registry-key",
        );
        if let Some(key) = self.string(o, "key") {
            let hive = key.split('\\').next().unwrap_or_default().to_ascii_uppercase();
            if matches!(hive.as_str(), "HKLM" | "HKCC" | "HKCR" | "HKCU" | "HKU") {
                self.err(
                    &o.p("key"),
                    "registry-key-hive",
                    format!("the hive must be written out in full (e.g. HKEY_LOCAL_MACHINE, not {hive})"),
                );
            }
        }
        for value in self.object_list(o, "values") {
            self.at_least_one(&value, &["name", "data", "data_type"], "a registry value");
            self.strings(&value, &["name", "data"]);
            self.enumeration(&value, "data_type", WINDOWS_REGISTRY_DATATYPE_ENUM);
        }
        self.timestamp(o, "modified_time");
        self.id_ref(o, "creator_user_ref", &["user-account"]);
        self.integer(o, "number_of_subkeys");
    }

    fn x509(&mut self, o: &Obj) {
        self.at_least_one(
            o,
            &[
                "is_self_signed",
                "hashes",
                "version",
                "serial_number",
                "signature_algorithm",
                "issuer",
                "validity_not_before",
                "validity_not_after",
                "subject",
                "subject_public_key_algorithm",
                "subject_public_key_modulus",
                "subject_public_key_exponent",
                "x509_v3_extensions",
            ],
            "an x509-certificate",
        );
        self.boolean(o, "is_self_signed");
        self.hashes(o, "hashes");
        self.strings(
            o,
            &[
                "version",
                "serial_number",
                "signature_algorithm",
                "issuer",
                "subject",
                "subject_public_key_algorithm",
                "subject_public_key_modulus",
            ],
        );
        self.timestamps(o, &["validity_not_before", "validity_not_after"]);
        self.integer(o, "subject_public_key_exponent");
        if let Some(ext) = self.object(o, "x509_v3_extensions") {
            let strings = [
                "basic_constraints",
                "name_constraints",
                "policy_constraints",
                "key_usage",
                "extended_key_usage",
                "subject_key_identifier",
                "authority_key_identifier",
                "subject_alternative_name",
                "issuer_alternative_name",
                "subject_directory_attributes",
                "crl_distribution_points",
                "inhibit_any_policy",
                "certificate_policies",
                "policy_mappings",
            ];
            let times = ["private_key_usage_period_not_before", "private_key_usage_period_not_after"];
            let all: Vec<&str> = strings.iter().chain(times.iter()).copied().collect();
            self.at_least_one(&ext, &all, "x509_v3_extensions");
            self.strings(&ext, &strings);
            self.timestamps(&ext, &times);
        }
    }

    // ---- predefined SCO extensions (§6) ----

    fn predefined_extension(&mut self, name: &str, e: &Obj) {
        match name {
            "archive-ext" => {
                self.require(e, &["contains_refs"]);
                self.id_refs(e, "contains_refs", &["file", "directory"]);
                self.string(e, "comment");
            }
            "ntfs-ext" => {
                self.at_least_one(e, &["sid", "alternate_data_streams"], "ntfs-ext");
                self.string(e, "sid");
                for ads in self.object_list(e, "alternate_data_streams") {
                    self.require(&ads, &["name"]);
                    self.string(&ads, "name");
                    self.hashes(&ads, "hashes");
                    self.int(&ads, "size", 0, MAX_INT);
                }
            }
            "pdf-ext" => {
                self.at_least_one(e, &["version", "is_optimized", "document_info_dict", "pdfid0", "pdfid1"], "pdf-ext");
                self.strings(e, &["version", "pdfid0", "pdfid1"]);
                self.boolean(e, "is_optimized");
                self.dictionary_of(e, "document_info_dict", "strings", Value::is_string);
            }
            "raster-image-ext" => {
                self.at_least_one(
                    e,
                    &["image_height", "image_width", "bits_per_pixel", "exif_tags"],
                    "raster-image-ext",
                );
                self.integers(e, &["image_height", "image_width", "bits_per_pixel"]);
                self.dictionary_of(e, "exif_tags", "integers or strings", |v| {
                    v.is_string() || v.is_i64() || v.is_u64()
                });
            }
            "windows-pebinary-ext" => self.pebinary(e),
            "http-request-ext" => {
                self.require(e, &["request_method", "request_value"]);
                self.strings(e, &["request_method", "request_value", "request_version"]);
                self.dictionary_of(e, "request_header", "lists of strings", |v| {
                    v.as_array().is_some_and(|a| !a.is_empty() && a.iter().all(Value::is_string))
                });
                self.integer(e, "message_body_length");
                self.id_ref(e, "message_body_data_ref", &["artifact"]);
            }
            "icmp-ext" => {
                self.require(e, &["icmp_type_hex", "icmp_code_hex"]);
                self.hexes(e, &["icmp_type_hex", "icmp_code_hex"]);
            }
            "socket-ext" => {
                self.require(e, &["address_family"]);
                self.enumeration(e, "address_family", NETWORK_SOCKET_ADDRESS_FAMILY_ENUM);
                self.booleans(e, &["is_blocking", "is_listening"]);
                self.dictionary_of(e, "options", "integers", |v| v.is_i64() || v.is_u64());
                self.enumeration(e, "socket_type", NETWORK_SOCKET_TYPE_ENUM);
                self.int(e, "socket_descriptor", 0, MAX_INT);
                self.integer(e, "socket_handle");
            }
            "tcp-ext" => {
                self.at_least_one(e, &["src_flags_hex", "dst_flags_hex"], "tcp-ext");
                self.hexes(e, &["src_flags_hex", "dst_flags_hex"]);
            }
            "windows-process-ext" => {
                self.at_least_one(
                    e,
                    &[
                        "aslr_enabled",
                        "dep_enabled",
                        "priority",
                        "owner_sid",
                        "window_title",
                        "windows_title",
                        "startup_info",
                        "integrity_level",
                    ],
                    "windows-process-ext",
                );
                self.booleans(e, &["aslr_enabled", "dep_enabled"]);
                self.strings(e, &["priority", "owner_sid", "window_title", "windows_title"]);
                self.dictionary(e, "startup_info");
                self.enumeration(e, "integrity_level", WINDOWS_INTEGRITY_LEVEL_ENUM);
            }
            "windows-service-ext" => {
                self.at_least_one(
                    e,
                    &[
                        "service_name",
                        "descriptions",
                        "display_name",
                        "group_name",
                        "start_type",
                        "service_dll_refs",
                        "service_type",
                        "service_status",
                    ],
                    "windows-service-ext",
                );
                self.strings(e, &["service_name", "display_name", "group_name"]);
                self.string_list(e, "descriptions");
                self.enumeration(e, "start_type", WINDOWS_SERVICE_START_TYPE_ENUM);
                self.id_refs(e, "service_dll_refs", &["file"]);
                self.enumeration(e, "service_type", WINDOWS_SERVICE_TYPE_ENUM);
                self.enumeration(e, "service_status", WINDOWS_SERVICE_STATUS_ENUM);
            }
            "unix-account-ext" => {
                self.at_least_one(e, &["gid", "groups", "home_dir", "shell"], "unix-account-ext");
                self.integer(e, "gid");
                self.string_list(e, "groups");
                self.strings(e, &["home_dir", "shell"]);
            }
            _ => {}
        }
    }

    fn pebinary(&mut self, e: &Obj) {
        self.require(e, &["pe_type"]);
        self.vocab(e, "pe_type", WINDOWS_PEBINARY_TYPE_OV, "windows-pebinary-type-ov");
        self.at_least_one(
            e,
            &[
                "imphash",
                "machine_hex",
                "number_of_sections",
                "time_date_stamp",
                "pointer_to_symbol_table_hex",
                "number_of_symbols",
                "size_of_optional_header",
                "characteristics_hex",
                "file_header_hashes",
                "optional_header",
                "sections",
            ],
            "windows-pebinary-ext (besides pe_type)",
        );
        self.string(e, "imphash");
        self.hexes(e, &["machine_hex", "pointer_to_symbol_table_hex", "characteristics_hex"]);
        self.non_negative(e, &["number_of_sections", "number_of_symbols", "size_of_optional_header"]);
        if let Some(t) = self.timestamp(e, "time_date_stamp")
            && t.digits() > 0
        {
            self.warn(
                &e.p("time_date_stamp"),
                "timestamp-precision",
                "'time_date_stamp' should be precise to the second",
            );
        }
        self.hashes(e, "file_header_hashes");
        if let Some(h) = self.object(e, "optional_header") {
            let hexes = [
                "magic_hex",
                "win32_version_value_hex",
                "checksum_hex",
                "subsystem_hex",
                "dll_characteristics_hex",
                "loader_flags_hex",
            ];
            let sizes = [
                "size_of_code",
                "size_of_initialized_data",
                "size_of_uninitialized_data",
                "size_of_image",
                "size_of_headers",
                "size_of_stack_reserve",
                "size_of_stack_commit",
                "size_of_heap_reserve",
                "size_of_heap_commit",
            ];
            let ints = [
                "major_linker_version",
                "minor_linker_version",
                "address_of_entry_point",
                "base_of_code",
                "base_of_data",
                "image_base",
                "section_alignment",
                "file_alignment",
                "major_os_version",
                "minor_os_version",
                "major_image_version",
                "minor_image_version",
                "major_subsystem_version",
                "minor_subsystem_version",
                "number_of_rva_and_sizes",
            ];
            let all: Vec<&str> =
                hexes.iter().chain(sizes.iter()).chain(ints.iter()).copied().chain(["hashes"]).collect();
            self.at_least_one(&h, &all, "optional_header");
            self.hexes(&h, &hexes);
            self.non_negative(&h, &sizes);
            self.integers(&h, &ints);
            self.hashes(&h, "hashes");
        }
        for section in self.object_list(e, "sections") {
            self.require(&section, &["name"]);
            self.string(&section, "name");
            self.int(&section, "size", 0, MAX_INT);
            self.float(&section, "entropy");
            self.hashes(&section, "hashes");
        }
    }
}

/// A value cut to 80 characters for messages.
fn short(s: &str) -> String {
    if s.chars().count() <= 80 { s.to_owned() } else { format!("{}...", s.chars().take(80).collect::<String>()) }
}

#[cfg(test)]
#[path = "types_tests.rs"]
mod types_tests;
