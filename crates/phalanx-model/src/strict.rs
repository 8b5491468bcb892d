//! JSON text to a `serde_json::Value`, refusing an object that names a
//! member twice. serde_json keeps the last of the repeated members, while
//! other readers keep the first: a stored text such as
//! `{"object_marking_refs": [<TLP:CLEAR>], "object_marking_refs": [<TLP:RED>]}`
//! would be labelled by one value here and read with the other elsewhere.
//! RFC 8259 leaves the meaning of such an object open; STIX objects never
//! need it, so it is refused, at any depth.
//!
//! Every member name is also kept as written. serde_json's own `Value`
//! reader (with the `raw_value` feature, which the federation protocol
//! needs) takes the name `$serde_json::private::RawValue` for its
//! raw-value token and returns the JSON inside that member's string in
//! the object's place: `{"x":{"$serde_json::private::RawValue":"1"}}`
//! would read as `{"x":1}`. Read stored texts with this module.

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
        let mut members = MEMBERS.with(|pool| pool.borrow_mut().pop()).unwrap_or_default();
        let read = read_members(&mut map, &mut members);
        let out = match read {
            Ok(None) => {
                // Sized once: growing the map as members arrive moved and
                // rehashed it two or three times per STIX object.
                let mut out = Map::with_capacity(members.len());
                for (key, value) in members.drain(..) {
                    out.insert(key, value);
                }
                Ok(out)
            }
            Ok(Some(large)) => Ok(large),
            Err(e) => Err(e),
        };
        members.clear();
        MEMBERS.with(|pool| pool.borrow_mut().push(members));
        out.map(Value::Object)
    }
}

/// Members read before a map is built, compared by name in order.
const SMALL_MAP: usize = 16;

thread_local! {
    /// Spare member lists, one per nesting level in use, kept between
    /// objects so that reading a map allocates only the map itself.
    static MEMBERS: std::cell::RefCell<Vec<Vec<(String, Value)>>> = const { std::cell::RefCell::new(Vec::new()) };
}

/// The error of a member named twice; serde_json adds where it is.
fn repeated<E: de::Error>(key: &str) -> E {
    E::custom(format_args!("property '{key}' appears twice in one object"))
}

/// Reads the members of a map into `members` while they are few (a name
/// is compared with those before it); past [`SMALL_MAP`] the rest go
/// into a map, which is returned.
fn read_members<'de, A: MapAccess<'de>>(map: &mut A, members: &mut Vec<(String, Value)>) -> Result<Option<Map<String, Value>>, A::Error> {
    while let Some(key) = map.next_key::<String>()? {
        if members.iter().any(|(name, _)| *name == key) {
            return Err(repeated(&key));
        }
        let value = map.next_value_seed(UniqueMembers)?;
        members.push((key, value));
        if members.len() == SMALL_MAP {
            let mut out = Map::with_capacity(2 * SMALL_MAP);
            out.extend(members.drain(..));
            while let Some(key) = map.next_key::<String>()? {
                let value = map.next_value_seed(UniqueMembers)?;
                match out.entry(key) {
                    Entry::Vacant(slot) => {
                        slot.insert(value);
                    }
                    Entry::Occupied(slot) => return Err(repeated(slot.key())),
                }
            }
            return Ok(Some(out));
        }
    }
    Ok(None)
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

    /// `{"m0":0,"m1":{"n":1},...}` with `count` members, and `extra` after them.
    fn many_members(count: usize, extra: &str) -> String {
        let mut text = String::from("{");
        for i in 0..count {
            if i > 0 {
                text.push(',');
            }
            if i % 5 == 1 {
                text.push_str(&format!(r#""m{i}":{{"n":{i},"o":[{{"p":{i}}}]}}"#));
            } else {
                text.push_str(&format!(r#""m{i}":{i}"#));
            }
        }
        text.push_str(extra);
        text.push('}');
        text
    }

    #[test]
    fn maps_of_any_size_keep_their_order_and_refuse_repeats() {
        // Below, at and past the size where members go into a map directly.
        for count in [0, 1, 15, 16, 17, 40] {
            let text = many_members(count, "");
            let ours = parse_value(text.as_bytes()).unwrap();
            let theirs: Value = serde_json::from_str(&text).unwrap();
            assert_eq!(serde_json::to_string(&ours).unwrap(), serde_json::to_string(&theirs).unwrap(), "{count} members");
            // A member of the first few, or of the last, given again at the end.
            for again in [0, count / 2, count.saturating_sub(1)] {
                if count == 0 {
                    break;
                }
                let text = many_members(count, &format!(r#","m{again}":"again""#));
                let e = parse_value(text.as_bytes()).unwrap_err().to_string();
                assert!(e.contains(&format!("property 'm{again}' appears twice")), "{count}/{again}: {e}");
            }
        }
        // A repeat inside a nested map of a large map.
        let text = many_members(30, r#","deep":{"a":1,"b":{"c":1,"c":2}}"#);
        assert!(parse_value(text.as_bytes()).unwrap_err().to_string().contains("property 'c' appears twice"));
        // Errors leave nothing behind: the next parse is whole.
        let text = many_members(20, "");
        assert_eq!(parse_value(text.as_bytes()).unwrap(), serde_json::from_str::<Value>(&text).unwrap());
    }

    #[test]
    fn the_raw_value_token_is_a_member_name_like_any_other() {
        let text = r#"{"x":{"$serde_json::private::RawValue":"[1,2]"}}"#;
        let value = parse_text(text).unwrap();
        assert_eq!(value["x"]["$serde_json::private::RawValue"], "[1,2]");
        assert_eq!(parse_value(text.as_bytes()).unwrap(), value);
        // What serde_json's own reader makes of it, which this module is for.
        assert_eq!(serde_json::from_str::<Value>(text).unwrap()["x"], serde_json::json!([1, 2]));
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
