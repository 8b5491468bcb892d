//! Correlation: which stored objects share a value with an object.
//!
//! At every write the store records the *values* of a version in the
//! `observable_values` table: the value of an observable (SCO) or its
//! hashes, the values tested for equality (`=`, `IN`) or containment
//! (`ISSUBSET` on addresses) anywhere in an indicator's STIX pattern, and,
//! for a sighting, the values of the indicator it sights (as stored
//! then). Values are kept in a normal form: addresses parsed and printed
//! canonically, CIDR blocks with their first and last address as
//! fixed-width hexadecimal (so containment is a range test on an index),
//! domains lowercase without a trailing dot with their labels reversed (so
//! subdomains are a prefix range), e-mail addresses and hashes lowercase,
//! URLs with a lowercase scheme and host.
//!
//! [`SqliteStore::related`] links an object to the objects the reader may
//! read that have the same value, whose CIDR block contains its address
//! (or the reverse, blocks included), or whose domain is a parent domain
//! or a subdomain of its own. Every candidate is selected inside the query
//! from the reader's readable access classes, so an unreadable object is
//! never linked, counted or named. Fan-out is bounded: a value (per kind
//! of link) that more than `too_common` readable objects share is reported
//! as too common, with no links. Nothing is stored per pair, so the table
//! grows with the number of values, never with the square of their
//! repetitions (MISP's correlation table).

use crate::sqlite::id_hash;
use crate::{SqliteStore, StoreError, Subject};
use phalanx_pattern::{Literal, Operator, PathStep, Pattern};
use rusqlite::{Connection, params};
use phalanx_model::check::member;
use serde_json::{Map, Value};
use std::net::IpAddr;

/// The table, created with the store's schema.
pub(crate) const SCHEMA: &str = r#"
-- Correlation values of each stored version (see correlation.rs).
CREATE TABLE IF NOT EXISTS observable_values (
    seq   INTEGER NOT NULL, -- the version
    kind  TEXT NOT NULL,    -- ipv4, ipv4-cidr, ipv6, ipv6-cidr, domain, url, email, md5, sha1, sha256, sha512, ssdeep
    value TEXT NOT NULL,    -- normal form
    lo    TEXT,             -- addresses: first address (hex); domains: reversed labels
    hi    TEXT,             -- addresses: last address (hex)
    PRIMARY KEY (seq, kind, value)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS observable_values_value ON observable_values (kind, value);
-- Range lookups (containment, subdomains) only concern addresses and domains.
CREATE INDEX IF NOT EXISTS observable_values_range ON observable_values (kind, lo) WHERE lo IS NOT NULL;
"#;

/// The setting that says `observable_values` covers every stored version.
const VALUES_INDEXED_SETTING: &str = "observable_values_indexed";

/// Inserts one value of a version.
pub(crate) const VALUE_SQL: &str = "INSERT OR IGNORE INTO observable_values (seq, kind, value, lo, hi) VALUES (?1, ?2, ?3, ?4, ?5)";

/// The values of the latest stored version of an object (id hash ?1,
/// id ?2): what a sighting of it takes ([`copy_sighted_values`]).
pub(crate) const SIGHTED_VALUES_SQL: &str = "SELECT v.kind, v.value, v.lo, v.hi FROM observable_values v \
     JOIN objects o ON o.seq = v.seq WHERE o.id_hash = ?1 AND o.id = ?2 AND o.is_latest = 1";

/// Gives sighting `seq` the values of the latest stored version of the
/// object it sights, `target`: read with `sighted` ([`SIGHTED_VALUES_SQL`]),
/// then inserted with `insert` ([`VALUE_SQL`]). One `INSERT ... SELECT`
/// from the same table would copy the rows read into a temporary table
/// first, opened anew on every call: reading first took the SQL worker
/// 1.5% fewer instructions on a 100k import, 12,000 fewer a sighting
/// (bench/RESULTS.md, Import, session 27).
pub(crate) fn copy_sighted_values(
    sighted: &mut rusqlite::Statement<'_>,
    insert: &mut rusqlite::Statement<'_>,
    seq: i64,
    target: &str,
) -> Result<(), StoreError> {
    let mut values: Vec<(String, String, Option<String>, Option<String>)> = Vec::new();
    let mut rows = sighted.query(params![id_hash(target), target])?;
    while let Some(r) = rows.next()? {
        values.push((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?));
    }
    drop(rows);
    for (kind, value, lo, hi) in values {
        insert.execute(params![seq, kind, value, lo, hi])?;
    }
    Ok(())
}

/// One correlation value.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct CorrelationValue {
    pub kind: &'static str,
    pub value: String,
    pub lo: Option<String>,
    pub hi: Option<String>,
}

fn hex_of(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(a) => format!("{:08x}", u32::from(a)),
        IpAddr::V6(a) => format!("{:032x}", u128::from(a)),
    }
}

fn ip_value(text: &str) -> Option<CorrelationValue> {
    let text = text.trim();
    if let Some((addr, len)) = text.split_once('/') {
        let ip: IpAddr = addr.parse().ok()?;
        let len: u8 = len.parse().ok()?;
        let bits: u8 = if ip.is_ipv4() { 32 } else { 128 };
        if len > bits {
            return None;
        }
        if len < bits {
            let (first, last) = match ip {
                IpAddr::V4(a) => {
                    let mask = if len == 0 { 0 } else { u32::MAX << (32 - len) };
                    let n = u32::from(a) & mask;
                    (IpAddr::from(std::net::Ipv4Addr::from(n)), IpAddr::from(std::net::Ipv4Addr::from(n | !mask)))
                }
                IpAddr::V6(a) => {
                    let mask = if len == 0 { 0 } else { u128::MAX << (128 - len) };
                    let n = u128::from(a) & mask;
                    (IpAddr::from(std::net::Ipv6Addr::from(n)), IpAddr::from(std::net::Ipv6Addr::from(n | !mask)))
                }
            };
            return Some(CorrelationValue {
                kind: if ip.is_ipv4() { "ipv4-cidr" } else { "ipv6-cidr" },
                value: format!("{first}/{len}"),
                lo: Some(hex_of(first)),
                hi: Some(hex_of(last)),
            });
        }
        return ip_value(addr);
    }
    let ip: IpAddr = text.parse().ok()?;
    let hex = hex_of(ip);
    Some(CorrelationValue { kind: if ip.is_ipv4() { "ipv4" } else { "ipv6" }, value: ip.to_string(), lo: Some(hex.clone()), hi: Some(hex) })
}

fn domain_value(text: &str) -> Option<CorrelationValue> {
    let d = text.trim().trim_end_matches('.').to_lowercase();
    if d.is_empty() || d.contains(['/', ' ', '@', ':']) || d.starts_with('.') || d.contains("..") {
        return None;
    }
    let reversed: Vec<&str> = d.split('.').rev().collect();
    Some(CorrelationValue { kind: "domain", lo: Some(reversed.join(".")), value: d, hi: None })
}

fn url_value(text: &str) -> Option<CorrelationValue> {
    let t = text.trim();
    let (scheme, rest) = t.split_once("://")?;
    let (host, path) = match rest.find(['/', '?', '#']) {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    if scheme.is_empty() || host.is_empty() {
        return None;
    }
    let path = path.split('#').next().unwrap_or_default();
    let path = if path.is_empty() { "/" } else { path };
    Some(CorrelationValue { kind: "url", value: format!("{}://{}{}", scheme.to_lowercase(), host.to_lowercase(), path), lo: None, hi: None })
}

fn plain(kind: &'static str, text: &str) -> Option<CorrelationValue> {
    let v = text.trim().to_lowercase();
    if v.is_empty() { None } else { Some(CorrelationValue { kind, value: v, lo: None, hi: None }) }
}

fn hash_kind(algorithm: &str) -> Option<&'static str> {
    match algorithm.to_ascii_uppercase().replace('_', "-").as_str() {
        "MD5" => Some("md5"),
        "SHA-1" | "SHA1" => Some("sha1"),
        "SHA-256" | "SHA256" => Some("sha256"),
        "SHA-512" | "SHA512" => Some("sha512"),
        "SSDEEP" => Some("ssdeep"),
        _ => None,
    }
}

/// The value a property path of a pattern (or an SCO) holds, in normal form.
fn path_value(object_type: &str, first: &str, second: Option<&str>, text: &str) -> Option<CorrelationValue> {
    match (object_type, first) {
        ("ipv4-addr" | "ipv6-addr", "value") => ip_value(text),
        ("domain-name", "value") => domain_value(text),
        ("url", "value") => url_value(text),
        ("email-addr", "value") => plain("email", text).filter(|v| v.value.contains('@')),
        ("file" | "x509-certificate", "hashes") => plain(hash_kind(second?)?, text),
        _ => None,
    }
}

/// The correlation values of one object (sightings get theirs from the
/// indicator, in SQL). `parsed` is the indicator's pattern when validation
/// already parsed it ([`phalanx_model::StixObject::stix_pattern`]); without
/// it, the commonest form is read by [`single_equality`] and any other is
/// parsed here.
pub(crate) fn values_of(object_type: &str, map: &Map<String, Value>, parsed: Option<&Pattern>) -> Vec<CorrelationValue> {
    let mut out = Vec::new();
    match object_type {
        "indicator" => {
            if member(map, "pattern_type").and_then(Value::as_str).is_some_and(|t| t != "stix") {
                return out;
            }
            let parsed_here;
            let pattern = match parsed {
                Some(p) => p,
                None => {
                    let text = member(map, "pattern").and_then(Value::as_str).unwrap_or_default();
                    if let Some(v) = single_equality(text) {
                        out.extend(v);
                        return out;
                    }
                    match phalanx_pattern::parse(text) {
                        Ok(p) => {
                            parsed_here = p;
                            &parsed_here
                        }
                        Err(_) => return out,
                    }
                }
            };
            for c in pattern.comparisons() {
                if c.negated || !matches!(c.op, Operator::Eq | Operator::In | Operator::IsSubset) {
                    continue;
                }
                let steps: Vec<&str> = c.path.steps.iter().filter_map(|s| if let PathStep::Property(p) = s { Some(p.as_str()) } else { None }).collect();
                // network-traffic:src_ref.value and the like name an address object.
                let (object_type, first, second) = match (c.path.object_type.as_str(), steps.as_slice()) {
                    ("network-traffic", [r, "value"]) if r.ends_with("_ref") => ("ipv4-addr", "value", None),
                    ("email-message", [r, "value"]) if r.ends_with("_ref") || r.ends_with("_refs") => ("email-addr", "value", None),
                    (t, [first, rest @ ..]) => (t, *first, rest.first().copied()),
                    _ => continue,
                };
                let texts: Vec<&str> = match &c.value {
                    Some(Literal::String(s)) => vec![s.as_str()],
                    Some(Literal::Set(items)) => items.iter().filter_map(|i| if let Literal::String(s) = i { Some(s.as_str()) } else { None }).collect(),
                    _ => continue,
                };
                for t in texts {
                    out.extend(path_value(object_type, first, second, t));
                }
            }
        }
        "ipv4-addr" | "ipv6-addr" | "domain-name" | "url" | "email-addr" => {
            if let Some(v) = member(map, "value").and_then(Value::as_str) {
                out.extend(path_value(object_type, "value", None, v));
            }
        }
        "file" | "x509-certificate" => {
            if let Some(Value::Object(hashes)) = member(map, "hashes") {
                for (algorithm, v) in hashes {
                    if let Some(v) = v.as_str() {
                        out.extend(path_value(object_type, "hashes", Some(algorithm), v));
                    }
                }
            }
        }
        _ => {}
    }
    out.sort_by(|a, b| (a.kind, &a.value).cmp(&(b.kind, &b.value)));
    out.dedup();
    out
}

/// The commonest pattern, `[TYPE:value = 'literal']` (no escapes, one
/// comparison), read without the parser (writes of many indicators).
/// `None` sends the pattern to the parser.
fn single_equality(text: &str) -> Option<Option<CorrelationValue>> {
    let inner = text.trim().strip_prefix('[')?.strip_suffix(']')?;
    let (path, literal) = inner.split_once('=')?;
    let (object_type, property) = path.trim().split_once(':')?;
    if property != "value" || object_type.contains([' ', '\'', '.', '[']) {
        return None;
    }
    let literal = literal.trim().strip_prefix('\'')?.strip_suffix('\'')?;
    if literal.contains(['\'', '\\']) {
        return None;
    }
    Some(path_value(object_type, "value", None, literal))
}

/// The values a free-text search for `text` names, in normal form: the
/// whole text read as an address or CIDR block, a URL, an e-mail address,
/// a hash (by its length) or a domain; none for text with spaces or
/// anything else. The store's text filter finds the versions that hold
/// one of them besides its full-text matches: a data directory's
/// full-text index does not hold these values (see
/// `phalanx_model::object::SearchTextForm::Words`).
pub(crate) fn searched_values(text: &str) -> Vec<CorrelationValue> {
    let t = text.trim();
    if t.is_empty() || t.contains(char::is_whitespace) {
        return Vec::new();
    }
    if let Some(v) = ip_value(t) {
        return vec![v];
    }
    if t.contains("://") {
        return url_value(t).into_iter().collect();
    }
    if t.contains('@') {
        return plain("email", t).into_iter().collect();
    }
    if t.chars().all(|c| c.is_ascii_hexdigit()) {
        let kind = match t.len() {
            32 => Some("md5"),
            40 => Some("sha1"),
            64 => Some("sha256"),
            128 => Some("sha512"),
            _ => None,
        };
        return kind.and_then(|k| plain(k, t)).into_iter().collect();
    }
    if t.contains('.') {
        return domain_value(t).into_iter().collect();
    }
    Vec::new()
}

/// The id a sighting sights, if it is one.
pub(crate) fn sighted(object_type: &str, map: &Map<String, Value>) -> Option<String> {
    if object_type != "sighting" {
        return None;
    }
    member(map, "sighting_of_ref").and_then(Value::as_str).map(str::to_owned)
}

/// Writes the values of version `seq`.
pub(crate) fn write_values(conn: &Connection, seq: i64, values: &[CorrelationValue], sighting_of: Option<&str>) -> Result<(), StoreError> {
    let mut insert = conn.prepare_cached(VALUE_SQL)?;
    for v in values {
        insert.execute(params![seq, v.kind, v.value, v.lo, v.hi])?;
    }
    if let Some(target) = sighting_of {
        let mut sighted = conn.prepare_cached(SIGHTED_VALUES_SQL)?;
        copy_sighted_values(&mut sighted, &mut insert, seq, target)?;
    }
    Ok(())
}

/// Fills `observable_values` from the versions of a data directory written
/// before the table existed (once; a setting records it). Skipped while
/// another process writes: its next open does it.
pub(crate) fn index_values(conn: &Connection, bodies: &crate::bodies::Bodies) -> Result<(), StoreError> {
    let done: Option<String> = rusqlite::OptionalExtension::optional(conn.query_row(
        "SELECT value FROM settings WHERE key = ?1",
        [VALUES_INDEXED_SETTING],
        |r| r.get(0),
    ))?;
    if done.is_some() {
        return Ok(());
    }
    if conn.execute_batch("BEGIN IMMEDIATE").is_err() {
        return Ok(());
    }
    crate::sqlite::commit_or_rollback(conn, "the correlation index", || {
        let mut rows = Vec::new();
        {
            let mut stmt = conn.prepare(
                "SELECT seq, type, body_off, body_len FROM objects WHERE type IN \
                 ('indicator', 'ipv4-addr', 'ipv6-addr', 'domain-name', 'url', 'email-addr', 'file', 'x509-certificate', 'sighting') ORDER BY seq",
            )?;
            let mut found = stmt.query([])?;
            while let Some(r) = found.next()? {
                rows.push((r.get::<_, i64>(0)?, r.get::<_, String>(1)?, r.get::<_, i64>(2)?, r.get::<_, i64>(3)?));
            }
        }
        for (seq, object_type, off, len) in rows {
            let json = bodies.read(off as u64, len as u64)?;
            let Ok(Value::Object(map)) = phalanx_model::strict::parse_text(&json) else { continue };
            write_values(conn, seq, &values_of(&object_type, &map, None), sighted(&object_type, &map).as_deref())?;
        }
        conn.execute("INSERT OR REPLACE INTO settings (key, value) VALUES (?1, '1')", [VALUES_INDEXED_SETTING])?;
        Ok(())
    })
}

/// Why two objects are linked.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum LinkReason {
    /// The same value.
    SameValue,
    /// The other object's CIDR block contains this object's address or block.
    WithinCidr,
    /// This object's CIDR block contains the other object's address or block.
    ContainsCidr,
    /// The other object's domain is a parent domain of this one's.
    ParentDomain,
    /// The other object's domain is a subdomain of this one's.
    Subdomain,
}

/// One link from an object to another the reader may read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct RelatedLink {
    /// The other object's id.
    pub id: String,
    /// Its type.
    #[serde(rename = "type")]
    pub object_type: String,
    /// Why.
    pub reason: LinkReason,
    /// The kind of value (`ipv4`, `domain`, ...).
    pub kind: String,
    /// This object's value.
    pub value: String,
    /// The other object's value.
    pub other_value: String,
}

/// A value of the object that too many readable objects share.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct TooCommon {
    /// The kind of value.
    pub kind: String,
    /// The value.
    pub value: String,
    /// The kind of link that was not followed.
    pub reason: LinkReason,
}

/// The correlations of one object.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct Related {
    /// The object's correlation values (kind, value).
    pub values: Vec<(String, String)>,
    /// Links, in (reason, kind, value, id) order.
    pub links: Vec<RelatedLink>,
    /// Values that were too common to follow.
    pub too_common: Vec<TooCommon>,
}

/// Prefix-range upper bound of reversed domain `rev` + `.`: `.` + 1 is `/`.
pub(crate) fn children_bounds(rev: &str) -> (String, String) {
    (format!("{rev}."), format!("{rev}/"))
}

impl SqliteStore {
    /// [`crate::Store::related`]: the objects `reader` may read that correlate with object `id`;
    /// `None` when the reader may not read `id` (or it does not exist).
    /// A value (per kind of link) shared by more than `too_common`
    /// readable objects is reported in [`Related::too_common`] instead.
    pub(crate) fn correlate(&self, reader: &Subject, id: &str, too_common: usize) -> Result<Option<Related>, StoreError> {
        self.with_reader(|conn| self.in_snapshot(conn, |conn| self.related_on(conn, reader, id, too_common)))
    }

    fn related_on(&self, conn: &Connection, reader: &Subject, id: &str, too_common: usize) -> Result<Option<Related>, StoreError> {
        let Some(readable) = self.readable_classes(reader) else { return Ok(None) };
        let hash = id_hash(id);
        let seq: Option<i64> = rusqlite::OptionalExtension::optional(conn.query_row(
            &format!("SELECT MAX(seq) FROM objects WHERE id_hash = ?1 AND id = ?2 AND access_class IN ({readable}) HAVING COUNT(*) > 0"),
            params![hash, id],
            |r| r.get(0),
        ))?;
        let Some(seq) = seq else { return Ok(None) };
        let mut values: Vec<(String, String, Option<String>, Option<String>)> = Vec::new();
        {
            let mut st = conn.prepare_cached("SELECT kind, value, lo, hi FROM observable_values WHERE seq = ?1 ORDER BY kind, value")?;
            let mut rows = st.query([seq])?;
            while let Some(r) = rows.next()? {
                values.push((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?));
            }
        }
        let mut related = Related { values: values.iter().map(|(k, v, _, _)| (k.clone(), v.clone())).collect(), ..Related::default() };
        // Candidates: (other id, type, other value) of readable versions, one per object.
        let select = format!(
            "SELECT o.id, o.type, v.value FROM observable_values v JOIN objects o ON o.seq = v.seq \
             WHERE o.access_class IN ({readable}) AND o.id_hash != ?1 AND "
        );
        let limit = too_common.saturating_add(1);
        let mut run = |reason: LinkReason, kind: &str, value: &str, condition: &str, args: &[&dyn rusqlite::ToSql]| -> Result<(), StoreError> {
            let sql = format!("{select}{condition} GROUP BY o.id LIMIT {limit}");
            let mut st = conn.prepare_cached(&sql)?;
            let mut all: Vec<&dyn rusqlite::ToSql> = vec![&hash];
            all.extend_from_slice(args);
            let mut rows = st.query(all.as_slice())?;
            let mut found = Vec::new();
            while let Some(r) = rows.next()? {
                found.push(RelatedLink {
                    id: r.get(0)?,
                    object_type: r.get(1)?,
                    reason,
                    kind: kind.to_owned(),
                    value: value.to_owned(),
                    other_value: r.get(2)?,
                });
            }
            if found.len() > too_common {
                related.too_common.push(TooCommon { kind: kind.to_owned(), value: value.to_owned(), reason });
            } else {
                related.links.extend(found);
            }
            Ok(())
        };
        for (kind, value, lo, hi) in &values {
            run(LinkReason::SameValue, kind, value, "v.kind = ?2 AND v.value = ?3", &[kind as &dyn rusqlite::ToSql, value])?;
            match (kind.as_str(), lo, hi) {
                ("ipv4" | "ipv6" | "ipv4-cidr" | "ipv6-cidr", Some(lo), Some(hi)) => {
                    let family = if kind.starts_with("ipv4") { "ipv4" } else { "ipv6" };
                    let cidr = format!("{family}-cidr");
                    // Blocks that contain this address or block (other than itself).
                    run(LinkReason::WithinCidr, kind, value, "v.kind = ?2 AND v.lo <= ?3 AND v.hi >= ?4 AND v.value != ?5", &[&cidr as &dyn rusqlite::ToSql, lo, hi, value])?;
                    if kind.ends_with("-cidr") {
                        // Addresses and smaller blocks inside this block.
                        run(LinkReason::ContainsCidr, kind, value, "v.kind = ?2 AND v.lo >= ?3 AND v.lo <= ?4", &[&family as &dyn rusqlite::ToSql, lo, hi])?;
                        run(LinkReason::ContainsCidr, kind, value, "v.kind = ?2 AND v.lo >= ?3 AND v.hi <= ?4 AND v.value != ?5", &[&cidr as &dyn rusqlite::ToSql, lo, hi, value])?;
                    }
                }
                ("domain", Some(rev), _) => {
                    // Parent domains with at least two labels.
                    let labels: Vec<&str> = value.split('.').collect();
                    for start in 1..labels.len().saturating_sub(1) {
                        let parent = labels[start..].join(".");
                        run(LinkReason::ParentDomain, kind, value, "v.kind = 'domain' AND v.value = ?2", &[&parent as &dyn rusqlite::ToSql])?;
                    }
                    let (from, to) = children_bounds(rev);
                    run(LinkReason::Subdomain, kind, value, "v.kind = 'domain' AND v.lo > ?2 AND v.lo < ?3", &[&from as &dyn rusqlite::ToSql, &to])?;
                }
                _ => {}
            }
        }
        related.links.sort_by(|a, b| (a.reason, &a.kind, &a.value, &a.id).cmp(&(b.reason, &b.kind, &b.value, &b.id)));
        related.links.dedup_by(|a, b| a.reason == b.reason && a.id == b.id && a.value == b.value);
        Ok(Some(related))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vals(t: &str, v: Value) -> Vec<(String, String)> {
        let Value::Object(m) = v else { panic!() };
        let found: Vec<(String, String)> = values_of(t, &m, None).into_iter().map(|v| (v.kind.to_owned(), v.value)).collect();
        // The pattern validation keeps (parsed strictly) gives the same values
        // as reading the text (the single-equality shortcut or a parse).
        if let Some(pattern) = m.get("pattern").and_then(Value::as_str).and_then(|p| phalanx_pattern::parse_strict(p).ok()) {
            let given: Vec<(String, String)> = values_of(t, &m, Some(&pattern)).into_iter().map(|v| (v.kind.to_owned(), v.value)).collect();
            assert_eq!(given, found, "values of {m:?} from the given pattern");
        }
        found
    }

    #[test]
    fn values_of_observables_and_patterns_in_normal_form() {
        assert_eq!(vals("domain-name", json!({"value": "Evil.Example."})), [("domain".into(), "evil.example".into())]);
        assert_eq!(vals("ipv4-addr", json!({"value": "198.51.100.7/32"})), [("ipv4".into(), "198.51.100.7".into())]);
        assert_eq!(vals("ipv6-addr", json!({"value": "2001:DB8::1"})), [("ipv6".into(), "2001:db8::1".into())]);
        assert_eq!(vals("file", json!({"hashes": {"SHA-256": "AB12", "x-custom": "zz"}})), [("sha256".into(), "ab12".into())]);
        let p = json!({"pattern_type": "stix", "pattern": "[ipv4-addr:value ISSUBSET '203.0.113.9/24' OR domain-name:value IN ('A.example', 'b.example')] AND [url:value = 'HTTP://X.Example/P?q#f' AND network-traffic:dst_ref.value = '10.0.0.1' AND email-addr:value NOT = 'x@y.z']"});
        assert_eq!(
            vals("indicator", p),
            [
                ("domain".into(), "a.example".into()),
                ("domain".into(), "b.example".into()),
                ("ipv4".into(), "10.0.0.1".into()),
                ("ipv4-cidr".into(), "203.0.113.0/24".into()),
                ("url".into(), "http://x.example/P?q".into()),
            ]
        );
        assert_eq!(vals("indicator", json!({"pattern": "[domain-name:value = 'Fast.Example']"})), [("domain".into(), "fast.example".into())]);
        assert_eq!(vals("indicator", json!({"pattern": "[domain-name:value = 'a.example' OR domain-name:value = 'b.example']"})).len(), 2, "not the fast path");
        assert!(vals("indicator", json!({"pattern_type": "sigma", "pattern": "x"})).is_empty());
        assert!(vals("indicator", json!({"pattern_type": "stix", "pattern": "[broken"})).is_empty());
    }

    #[test]
    fn ranges_make_containment_and_subdomains_index_lookups() {
        let c = ip_value("10.1.2.3/8").unwrap();
        assert_eq!((c.value.as_str(), c.lo.as_deref(), c.hi.as_deref()), ("10.0.0.0/8", Some("0a000000"), Some("0affffff")));
        let a = ip_value("10.200.0.1").unwrap();
        assert!(a.lo.as_deref() >= c.lo.as_deref() && a.hi.as_deref() <= c.hi.as_deref());
        let d = domain_value("a.b.evil.example").unwrap();
        assert_eq!(d.lo.as_deref(), Some("example.evil.b.a"));
        let (from, to) = children_bounds("example.evil");
        assert!(d.lo.as_deref().is_some_and(|l| l > from.as_str() && l < to.as_str()));
        let sibling = domain_value("notevil.example").unwrap();
        assert!(sibling.lo.as_deref().is_some_and(|l| !(l > from.as_str() && l < to.as_str())), "field-exact: notevil.example is no subdomain of evil.example");
    }
}
