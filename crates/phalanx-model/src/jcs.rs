//! RFC 8785 JSON Canonicalization Scheme (JCS): the byte form used for
//! deterministic SCO ids and, later, for signatures.

use serde_json::Value;
use std::fmt::Write;

/// Serialises `value` in RFC 8785 canonical form: object members sorted by
/// their UTF-16 code units, no insignificant white space, ECMAScript number
/// and string forms.
pub fn canonicalize(value: &Value) -> String {
    let mut out = String::new();
    write_value(value, &mut out);
    out
}

/// [`canonicalize`] of the JSON `text`, without building a
/// [`serde_json::Value`]: strings without escapes stay borrowed and
/// objects are member lists, so a node that sends stored objects on
/// writes each one with a few allocations instead of one per member.
/// The output is `canonicalize(&serde_json::from_str(text)?)`'s: a
/// name given twice (where `Value` keeps the last) goes that way.
pub fn canonicalize_text(text: &str) -> Result<String, serde_json::Error> {
    let node: Node<'_> = serde_json::from_str(text)?;
    let mut out = String::with_capacity(text.len());
    if !write_node(&node, &mut out) {
        return Ok(canonicalize(&serde_json::from_str::<Value>(text)?));
    }
    Ok(out)
}

/// A JSON value that borrows from its text where it can.
enum Node<'a> {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(std::borrow::Cow<'a, str>),
    Array(Vec<Node<'a>>),
    Object(Vec<(std::borrow::Cow<'a, str>, Node<'a>)>),
}

impl<'de> serde::Deserialize<'de> for Node<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(NodeVisitor)
    }
}

/// A member name, borrowed when it has no escapes.
struct Name<'a>(std::borrow::Cow<'a, str>);

impl<'de> serde::Deserialize<'de> for Name<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match deserializer.deserialize_str(NodeVisitor)? {
            Node::String(s) => Ok(Name(s)),
            _ => Err(serde::de::Error::custom("a member name is not a string")),
        }
    }
}

struct NodeVisitor;

impl<'de> serde::de::Visitor<'de> for NodeVisitor {
    type Value = Node<'de>;

    fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
        f.write_str("any JSON value")
    }
    fn visit_unit<E>(self) -> Result<Node<'de>, E> {
        Ok(Node::Null)
    }
    fn visit_bool<E>(self, b: bool) -> Result<Node<'de>, E> {
        Ok(Node::Bool(b))
    }
    fn visit_i64<E>(self, n: i64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_u64<E>(self, n: u64) -> Result<Node<'de>, E> {
        Ok(Node::Number(n.into()))
    }
    fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Node<'de>, E> {
        serde_json::Number::from_f64(n).map(Node::Number).ok_or_else(|| E::custom("a number that is not finite"))
    }
    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Node<'de>, E> {
        Ok(Node::String(std::borrow::Cow::Borrowed(s)))
    }
    fn visit_str<E>(self, s: &str) -> Result<Node<'de>, E> {
        Ok(Node::String(std::borrow::Cow::Owned(s.to_owned())))
    }
    fn visit_string<E>(self, s: String) -> Result<Node<'de>, E> {
        Ok(Node::String(std::borrow::Cow::Owned(s)))
    }
    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<Node<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Node::Array(items))
    }
    fn visit_map<A: serde::de::MapAccess<'de>>(self, mut map: A) -> Result<Node<'de>, A::Error> {
        let mut members = Vec::with_capacity(map.size_hint().unwrap_or(0));
        while let Some((Name(name), value)) = map.next_entry()? {
            members.push((name, value));
        }
        Ok(Node::Object(members))
    }
}

/// Writes `node` canonically; false when an object names a member twice
/// (the caller then takes the [`Value`] path, which keeps the last).
fn write_node(node: &Node<'_>, out: &mut String) -> bool {
    match node {
        Node::Null => out.push_str("null"),
        Node::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Node::Number(n) => write_number(n, out),
        Node::String(s) => write_string(s, out),
        Node::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                if !write_node(item, out) {
                    return false;
                }
            }
            out.push(']');
        }
        Node::Object(members) => {
            let mut sorted: Vec<&(std::borrow::Cow<'_, str>, Node<'_>)> = members.iter().collect();
            sorted.sort_by(|a, b| utf16_order(&a.0, &b.0));
            out.push('{');
            for (i, (name, value)) in sorted.iter().map(|m| (&m.0, &m.1)).enumerate() {
                if i > 0 {
                    if sorted[i - 1].0 == *name {
                        return false;
                    }
                    out.push(',');
                }
                write_string(name, out);
                out.push(':');
                if !write_node(value, out) {
                    return false;
                }
            }
            out.push('}');
        }
    }
    true
}

fn write_value(value: &Value, out: &mut String) {
    match value {
        Value::Null => out.push_str("null"),
        Value::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
        Value::Number(n) => write_number(n, out),
        Value::String(s) => write_string(s, out),
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_value(item, out);
            }
            out.push(']');
        }
        Value::Object(map) => {
            // Members sorted with their values: no lookup by name after.
            let mut members: Vec<(&String, &Value)> = map.iter().collect();
            members.sort_by(|a, b| utf16_order(a.0, b.0));
            out.push('{');
            for (i, (key, v)) in members.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                write_value(v, out);
            }
            out.push('}');
        }
    }
}

fn write_number(n: &serde_json::Number, out: &mut String) {
    if let Some(i) = n.as_i64() {
        let _ = write!(out, "{i}");
    } else if let Some(u) = n.as_u64() {
        let _ = write!(out, "{u}");
    } else if let Some(f) = n.as_f64() {
        write_f64(f, out);
    }
}

/// ECMAScript `Number.prototype.toString` for finite doubles.
fn write_f64(f: f64, out: &mut String) {
    if f == 0.0 {
        out.push('0');
        return;
    }
    if f.fract() == 0.0 && f.abs() < 1e21 {
        let _ = write!(out, "{f:.0}");
        return;
    }
    let abs = f.abs();
    if (1e-6..1e21).contains(&abs) {
        let _ = write!(out, "{f}");
        return;
    }
    // Exponent form: Rust prints `1.5e-7`; ECMAScript wants `1.5e-7` and `1e+21`.
    let s = format!("{f:e}");
    match s.split_once('e') {
        Some((mantissa, exp)) if !exp.starts_with('-') => {
            let _ = write!(out, "{mantissa}e+{exp}");
        }
        _ => out.push_str(&s),
    }
}

/// The order of two member names by their UTF-16 code units (RFC 8785
/// §3.2.3). For ASCII names it is the order of their bytes.
fn utf16_order(a: &str, b: &str) -> std::cmp::Ordering {
    if a.is_ascii() && b.is_ascii() {
        a.cmp(b)
    } else {
        a.encode_utf16().cmp(b.encode_utf16())
    }
}

/// Which bytes a JSON string escapes: `"`, `\\` and the control characters.
const ESCAPED: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 0x20 {
        table[b] = true;
        b += 1;
    }
    table[b'"' as usize] = true;
    table[b'\\' as usize] = true;
    table
};

fn write_string(s: &str, out: &mut String) {
    out.push('"');
    // Runs of characters that need no escape are copied whole; every
    // escaped character is ASCII, so `start` and `i` are char boundaries.
    let bytes = s.as_bytes();
    let mut start = 0;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if !ESCAPED[b as usize] {
            i += 1;
            continue;
        }
        out.push_str(&s[start..i]);
        match b {
            b'"' => out.push_str("\\\""),
            b'\\' => out.push_str("\\\\"),
            0x08 => out.push_str("\\b"),
            0x0c => out.push_str("\\f"),
            b'\n' => out.push_str("\\n"),
            b'\r' => out.push_str("\\r"),
            b'\t' => out.push_str("\\t"),
            _ => {
                let _ = write!(out, "\\u{b:04x}");
            }
        }
        i += 1;
        start = i;
    }
    out.push_str(&s[start..]);
    out.push('"');
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn sorts_keys_and_strips_space() {
        let v = json!({"b": 1, "a": [true, null, "x\ny"], "é": 1.5, "A": {"z": 0, "y": -2}});
        assert_eq!(canonicalize(&v), r#"{"A":{"y":-2,"z":0},"a":[true,null,"x\ny"],"b":1,"é":1.5}"#);
    }

    #[test]
    fn numbers_in_ecmascript_form() {
        let v = json!([1e21, 1e-7, 123.0, 0.000001, -0.5]);
        assert_eq!(canonicalize(&v), "[1e+21,1e-7,123,0.000001,-0.5]");
    }

    #[test]
    fn strings_escape_only_what_rfc_8785_escapes() {
        let v = json!(["plain", "q\"b\\s/", "\u{1}\u{8}\u{c}\n\r\t\u{1f}", "é\u{7f}\u{1f600}x", "", "end\n"]);
        assert_eq!(
            canonicalize(&v),
            "[\"plain\",\"q\\\"b\\\\s/\",\"\\u0001\\b\\f\\n\\r\\t\\u001f\",\"é\u{7f}\u{1f600}x\",\"\",\"end\\n\"]"
        );
    }

    #[test]
    fn mixed_ascii_and_other_names_sort_by_utf16_units() {
        let v = json!({"b": 1, "\u{e9}": 2, "a": 3, "\u{1f600}": 4, "\u{ff61}": 5, "B": 6});
        assert_eq!(canonicalize(&v), "{\"B\":6,\"a\":3,\"b\":1,\"\u{e9}\":2,\"\u{1f600}\":4,\"\u{ff61}\":5}");
    }

    /// The plain forms of the string and member-order rules, one char and
    /// one lookup at a time, to hold the faster ones to.
    fn reference(value: &Value, out: &mut String) {
        match value {
            Value::String(s) => {
                out.push('"');
                for c in s.chars() {
                    match c {
                        '"' => out.push_str("\\\""),
                        '\\' => out.push_str("\\\\"),
                        '\u{08}' => out.push_str("\\b"),
                        '\u{0c}' => out.push_str("\\f"),
                        '\n' => out.push_str("\\n"),
                        '\r' => out.push_str("\\r"),
                        '\t' => out.push_str("\\t"),
                        c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
                        c => out.push(c),
                    }
                }
                out.push('"');
            }
            Value::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    reference(item, out);
                }
                out.push(']');
            }
            Value::Object(map) => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
                out.push('{');
                for (i, key) in keys.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    reference(&Value::String((*key).clone()), out);
                    out.push(':');
                    reference(&map[key.as_str()], out);
                }
                out.push('}');
            }
            other => write_value(other, out),
        }
    }

    #[test]
    fn strings_and_member_order_agree_with_the_plain_rules() {
        // Names and strings drawn from characters at the edges of every
        // rule: escapes, control characters, ASCII, two- and three-byte
        // characters around the surrogate range, and four-byte ones.
        let alphabet: Vec<char> = vec![
            'a', 'B', 'z', '0', '"', '\\', '/', '\n', '\r', '\t', '\u{0}', '\u{8}', '\u{c}', '\u{1f}', ' ', '\u{7f}', '\u{80}',
            '\u{e9}', '\u{7ff}', '\u{800}', '\u{d7ff}', '\u{e000}', '\u{ff61}', '\u{fffd}', '\u{10000}', '\u{1f600}', '\u{10ffff}',
        ];
        let mut state: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = move |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n as u64) as usize
        };
        for _ in 0..2000 {
            let mut map = serde_json::Map::new();
            for _ in 0..next(6) {
                let key: String = (0..next(5)).map(|_| alphabet[next(alphabet.len())]).collect();
                let text: String = (0..next(12)).map(|_| alphabet[next(alphabet.len())]).collect();
                map.insert(key, json!([text, {"n": next(1000), "s": "x"}]));
            }
            let value = Value::Object(map);
            let mut expected = String::new();
            reference(&value, &mut expected);
            assert_eq!(canonicalize(&value), expected, "{value:?}");
            // From text, compact and pretty, the borrowed path agrees.
            for text in [serde_json::to_string(&value).unwrap(), serde_json::to_string_pretty(&value).unwrap()] {
                assert_eq!(canonicalize_text(&text).unwrap(), expected, "{text}");
            }
        }
    }

    #[test]
    fn text_with_numbers_nesting_and_a_repeated_name_canonicalizes_as_its_value() {
        let texts = [
            r#"{"b":[1,-2,3.5,1e21,1e-7,0.000001,18446744073709551615,-9223372036854775808],"a":{"y":null,"x":true}}"#,
            r#"{"a":1,"b":{"c":2,"c":3},"a":4}"#,
            r#" [ {"z" : "\u00e9\n", "y": [] , "x": {}} , false ] "#,
            r#""just a string""#,
        ];
        for text in texts {
            let value: Value = serde_json::from_str(text).unwrap();
            assert_eq!(canonicalize_text(text).unwrap(), canonicalize(&value), "{text}");
        }
        assert_eq!(canonicalize_text(r#"{"a":1,"a":2}"#).unwrap(), r#"{"a":2}"#, "the last of a repeated name, as Value keeps it");
        assert!(canonicalize_text(r#"{"a":}"#).is_err());
    }

    #[test]
    fn keys_sort_by_utf16_units() {
        // U+1F600 (surrogates D83D DE00) sorts before U+FB01 in UTF-16.
        let v = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        assert_eq!(canonicalize(&v), "{\"\u{1f600}\":2,\"\u{fb01}\":1}");
    }
}
