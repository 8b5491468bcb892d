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
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort_by(|a, b| a.encode_utf16().cmp(b.encode_utf16()));
            out.push('{');
            for (i, key) in keys.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_string(key, out);
                out.push(':');
                if let Some(v) = map.get(*key) {
                    write_value(v, out);
                }
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

fn write_string(s: &str, out: &mut String) {
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
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
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
    fn keys_sort_by_utf16_units() {
        // U+1F600 (surrogates D83D DE00) sorts before U+FB01 in UTF-16.
        let v = json!({"\u{fb01}": 1, "\u{1f600}": 2});
        assert_eq!(canonicalize(&v), "{\"\u{1f600}\":2,\"\u{fb01}\":1}");
    }
}
