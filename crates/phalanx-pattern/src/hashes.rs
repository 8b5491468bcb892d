//! The hash-value check of [`crate::parse_strict`].
//!
//! The OASIS validator (stix2-patterns 2.1.2) refuses a pattern that compares a path through a
//! `hashes` property, ending in a known algorithm name, with a value that is not a hash of that
//! algorithm. This module applies the same rule, on the literal as written in the pattern.

use crate::ast::{Literal, ObjectPath, PathStep};
use crate::lexer::quote_snippet;

/// A hash value that does not fit its algorithm.
pub(crate) struct Problem {
    pub expected: String,
    pub found: String,
}

#[derive(Clone, Copy)]
enum Form {
    /// Exactly this many hex digits.
    Hex(usize),
    /// One of these numbers of hex digits.
    HexAnyOf(&'static [usize]),
    /// 1 to 128 characters of `[A-Za-z0-9/+:.]`.
    Ssdeep,
}

/// Algorithm key (upper case, without `-`), name for messages, form.
const ALGORITHMS: &[(&str, &str, Form)] = &[
    ("MD5", "md5", Form::Hex(32)),
    ("MD6", "md6", Form::HexAnyOf(&[32, 40, 56, 64, 96, 128])),
    ("RIPEMD160", "ripemd-160", Form::Hex(40)),
    ("SHA1", "sha-1", Form::Hex(40)),
    ("SHA224", "sha-224", Form::Hex(56)),
    ("SHA256", "sha-256", Form::Hex(64)),
    ("SHA384", "sha-384", Form::Hex(96)),
    ("SHA512", "sha-512", Form::Hex(128)),
    ("SHA3224", "sha3-224", Form::Hex(56)),
    ("SHA3256", "sha3-256", Form::Hex(64)),
    ("SHA3384", "sha3-384", Form::Hex(96)),
    ("SHA3512", "sha3-512", Form::Hex(128)),
    ("SSDEEP", "ssdeep", Form::Ssdeep),
    ("WHIRLPOOL", "whirlpool", Form::Hex(128)),
];

fn all_hex(s: &str) -> bool {
    s.bytes().all(|b| b.is_ascii_hexdigit())
}

fn fits(form: Form, s: &str) -> bool {
    match form {
        Form::Hex(n) => s.len() == n && all_hex(s),
        Form::HexAnyOf(ns) => ns.contains(&s.len()) && all_hex(s),
        Form::Ssdeep => {
            (1..=128).contains(&s.len())
                && s.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'+' | b':' | b'.'))
        }
    }
}

fn describe(form: Form) -> String {
    match form {
        Form::Hex(n) => format!("{n} hex digits"),
        Form::HexAnyOf(ns) => {
            let list: Vec<String> = ns.iter().map(|n| n.to_string()).collect();
            format!("{} hex digits", list.join(", "))
        }
        Form::Ssdeep => "1 to 128 characters of a-z, A-Z, 0-9, '/', '+', ':' and '.'".into(),
    }
}

/// Checks one comparison. `raw` is the value's source text (quotes included).
pub(crate) fn check(path: &ObjectPath, value: &Literal, raw: &str) -> Option<Problem> {
    let through_hashes = path
        .steps
        .iter()
        .any(|s| matches!(s, PathStep::Property(p) if p == "hashes"));
    if !through_hashes {
        return None;
    }
    let PathStep::Property(selector) = path.steps.last()? else {
        return None;
    };
    let key = selector.to_uppercase().replace(['-', '\''], "");
    let (_, name, form) = ALGORITHMS.iter().find(|(k, _, _)| *k == key)?;
    // Like the reference, the value is the literal's text without quote characters, so
    // `h'..'`, numbers and sets are judged by their spelling (sets never fit).
    let text = match value {
        Literal::Set(_) => raw.to_string(),
        _ => raw.replace('\'', ""),
    };
    if fits(*form, &text) && !matches!(value, Literal::Set(_)) {
        return None;
    }
    Some(Problem {
        expected: format!("a valid {name} hash value ({})", describe(*form)),
        found: quote_snippet(raw),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn path(steps: &[&str]) -> ObjectPath {
        ObjectPath {
            object_type: "file".into(),
            steps: steps
                .iter()
                .map(|s| PathStep::Property((*s).to_string()))
                .collect(),
        }
    }

    fn s(v: &str) -> Literal {
        Literal::String(v.into())
    }

    #[test]
    fn known_algorithms_are_checked() {
        let md5 = "'d41d8cd98f00b204e9800998ecf8427e'";
        assert!(check(&path(&["hashes", "MD5"]), &s(""), md5).is_none());
        assert!(check(&path(&["hashes", "md5"]), &s(""), md5).is_none());
        let p = check(&path(&["hashes", "MD5"]), &s(""), "'abc'").expect("refused");
        assert_eq!(p.expected, "a valid md5 hash value (32 hex digits)");
        assert_eq!(p.found, "''abc''");
        // SHA-256 spelled with a hyphen, and a 32-digit value that is too short for it.
        assert!(check(&path(&["hashes", "SHA-256"]), &s(""), md5).is_some());
        assert!(check(&path(&["hashes", "ssdeep"]), &s(""), "'3:a+b:c'").is_none());
        assert!(check(&path(&["hashes", "ssdeep"]), &s(""), "'a b'").is_some());
    }

    #[test]
    fn other_paths_and_unknown_algorithms_pass() {
        assert!(check(&path(&["name"]), &s(""), "'x'").is_none());
        assert!(check(&path(&["hashes"]), &s(""), "'x'").is_none());
        assert!(check(&path(&["hashes", "x-custom"]), &s(""), "'x'").is_none());
        let mut any = path(&["hashes"]);
        any.steps.push(PathStep::AnyIndex);
        assert!(check(&any, &s(""), "'x'").is_none());
    }

    #[test]
    fn sets_never_fit() {
        let set = Literal::Set(vec![s("d41d8cd98f00b204e9800998ecf8427e")]);
        assert!(
            check(
                &path(&["hashes", "MD5"]),
                &set,
                "('d41d8cd98f00b204e9800998ecf8427e')"
            )
            .is_some()
        );
    }
}
