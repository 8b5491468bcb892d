//! JSON text to a `serde_json::Value`, refusing an object that names a
//! member twice. serde_json keeps the last of the repeated members, while
//! other readers keep the first: a stored text such as
//! `{"object_marking_refs": [<TLP:CLEAR>], "object_marking_refs": [<TLP:RED>]}`
//! would be labelled by one value here and read with the other elsewhere.
//! RFC 8259 leaves the meaning of such an object open; STIX objects never
//! need it, so it is refused, at any depth.

use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::map::Entry;
use serde_json::{Map, Number, Value};
use std::fmt;

/// Parses `bytes` as one JSON value (white space around it allowed). The
/// error of an object that repeats a member names the member and where
/// it is (line and column).
pub fn parse_value(bytes: &[u8]) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_slice(bytes);
    let value = UniqueMembers.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// Like [`parse_value`], for text already known to be UTF-8 (its strings
/// are not checked again).
pub fn parse_text(text: &str) -> Result<Value, serde_json::Error> {
    let mut de = serde_json::Deserializer::from_str(text);
    let value = UniqueMembers.deserialize(&mut de)?;
    de.end()?;
    Ok(value)
}

/// A JSON value whose objects name each member once.
struct UniqueMembers;

impl<'de> DeserializeSeed<'de> for UniqueMembers {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for UniqueMembers {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E>(self, v: f64) -> Result<Value, E> {
        Ok(Number::from_f64(v).map_or(Value::Null, Value::Number))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_some<D: de::Deserializer<'de>>(self, deserializer: D) -> Result<Value, D::Error> {
        UniqueMembers.deserialize(deserializer)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut out = Vec::new();
        while let Some(v) = seq.next_element_seed(UniqueMembers)? {
            out.push(v);
        }
        Ok(Value::Array(out))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Value, A::Error> {
        let mut out = Map::new();
        while let Some(key) = map.next_key::<String>()? {
            let value = map.next_value_seed(UniqueMembers)?;
            match out.entry(key) {
                Entry::Vacant(slot) => {
                    slot.insert(value);
                }
                Entry::Occupied(slot) => {
                    return Err(de::Error::custom(format_args!("property '{}' appears twice in one object", slot.key())));
                }
            }
        }
        Ok(Value::Object(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gives_what_serde_json_gives_for_objects_without_repeats() {
        let texts = [
            r#"{"a":1,"b":[true,null,-2,3.5,1e300,"x\u00e9\n"],"c":{"d":{}},"e":18446744073709551615}"#,
            r#" [ {"a" : 1 } , [] , "" ] "#,
            "0",
            r#"{"b":1,"a":2}"#,
        ];
        for text in texts {
            let ours = parse_value(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(text).unwrap();
            assert_eq!(ours, theirs, "{text}");
            assert_eq!(serde_json::to_string(&ours).unwrap(), serde_json::to_string(&theirs).unwrap(), "order of {text}");
        }
    }

    #[test]
    fn a_repeated_member_is_refused_at_any_depth_and_named() {
        for (text, name) in [
            (r#"{"name":"a","name":"b"}"#, "name"),
            (r#"{"x":{"hashes":{"MD5":"a","MD5":"a"}}}"#, "MD5"),
            (r#"[1,{"k":[{"z":1,"y":2,"z":3}]}]"#, "z"),
        ] {
            let e = parse_value(text.as_bytes()).unwrap_err().to_string();
            assert!(e.contains(&format!("property '{name}' appears twice")), "{text}: {e}");
            assert!(e.contains("column"), "{text}: {e}");
        }
        // The same name in two objects is no repeat.
        assert!(parse_value(br#"[{"a":1},{"a":2},{"b":{"a":3}}]"#).is_ok());
    }

    #[test]
    fn trailing_text_and_bad_json_are_errors() {
        assert!(parse_value(br#"{"a":1} x"#).is_err());
        assert!(parse_value(br#"{"a":1"#).is_err());
        assert!(parse_value(b"").is_err());
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_stack_overflow() {
        let text = "[".repeat(100_000) + &"]".repeat(100_000);
        assert!(parse_value(text.as_bytes()).is_err());
    }
}
