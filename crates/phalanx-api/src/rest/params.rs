//! Query parameters of the REST object endpoints, parsed strictly: an
//! unknown, repeated, empty or malformed parameter is a 400
//! (`invalid_parameter`) whose message starts with the parameter's name.
//! The `cursor` of a page is bound to the filters and the caller, like
//! TAXII's `next`: it never widens what a request selects.

use crate::error::{ApiError, ErrorCode};
use crate::taxii::params::parse_query;
use phalanx_labels::{Policy, Rank, Tlp};
use phalanx_model::{StixId, Timestamp};
use phalanx_store::{Cursor, LabelFilter, Order, VersionFilter};
use sha2::{Digest, Sha256};

/// Most ids, types or label values in one list parameter.
const MAX_LIST: usize = 100;

/// The parameters one endpoint takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// `GET /api/v1/objects`.
    Search,
    /// `GET /api/v1/objects/{id}`.
    Object,
    /// `GET /api/v1/objects/{id}/versions`.
    Versions,
    /// `GET /api/v1/objects/{id}/relations`.
    Relations,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Search => "search",
            Endpoint::Object => "object",
            Endpoint::Versions => "versions",
            Endpoint::Relations => "relations",
        }
    }

    /// The parameter names this endpoint takes.
    pub fn parameters(self) -> &'static [&'static str] {
        match self {
            Endpoint::Search => &[
                "type",
                "id",
                "q",
                "added_after",
                "added_before",
                "cursor",
                "limit",
                "order",
                "tlp",
                "policy",
                "min_classification",
                "max_classification",
                "releasable_to",
                "originator",
                "include_revoked",
                "version",
                "count",
            ],
            Endpoint::Object => &["version"],
            Endpoint::Versions => &["cursor", "limit"],
            Endpoint::Relations => &["cursor", "limit", "type", "include_revoked"],
        }
    }
}

/// What `version=` asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum VersionParam {
    /// `first`, `last` or `all`.
    Filter(VersionFilter),
    /// One exact version (`modified`/`created`).
    Exact(Timestamp),
}

/// The parsed parameters of one request.
#[derive(Clone, Debug, Default)]
pub struct Params {
    /// `type`: object types.
    pub types: Vec<String>,
    /// `id`: object ids.
    pub ids: Vec<String>,
    /// `q`: full text, or a value.
    pub text: Option<String>,
    /// `added_after`.
    pub added_after: Option<Timestamp>,
    /// `added_before`.
    pub added_before: Option<Timestamp>,
    /// `limit` as asked (the server cap applies later).
    pub limit: Option<usize>,
    /// `order`: `asc` (default) or `desc` by `date_added`.
    pub order: Order,
    /// The label filters; `None` when none was given.
    pub label: Option<LabelFilter>,
    /// `include_revoked` (default false).
    pub include_revoked: bool,
    /// `version`.
    pub version: Option<VersionParam>,
    /// `count`: also answer the total.
    pub count: bool,
    /// The verified `cursor`: where the page starts.
    pub after: Option<Cursor>,
    /// The parameters that define the selection, canonical (for `cursor`).
    canonical: String,
    /// `cursor` as given, until verified.
    cursor_text: Option<String>,
}

fn list<'a>(name: &str, value: &'a str) -> Result<Vec<&'a str>, ApiError> {
    let items: Vec<&str> = value.split(',').map(str::trim).collect();
    if items.iter().any(|v| v.is_empty()) {
        return Err(ApiError::parameter(format!("{name}: empty value in the list")));
    }
    if items.len() > MAX_LIST {
        return Err(ApiError::parameter(format!("{name}: more than {MAX_LIST} values")));
    }
    Ok(items)
}

fn boolean(name: &str, value: &str) -> Result<bool, ApiError> {
    match value {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        other => Err(ApiError::parameter(format!("{name}: '{}' is not true or false", short(other)))),
    }
}

fn timestamp(name: &str, value: &str) -> Result<Timestamp, ApiError> {
    Timestamp::parse_lenient(value).map_err(|e| ApiError::parameter(format!("{name}: {e}")))
}

fn rank(name: &str, value: &str) -> Result<Rank, ApiError> {
    if let Ok(n) = value.parse::<u8>() {
        return Rank::from_u8(n).ok_or_else(|| ApiError::parameter(format!("{name}: rank {n} is not 0 to 4")));
    }
    value.to_ascii_uppercase().parse::<Rank>().map_err(|_| {
        ApiError::parameter(format!(
            "{name}: '{}' is not a rank (UNCLASSIFIED, RESTRICTED, CONFIDENTIAL, SECRET, TOP_SECRET or 0 to 4)",
            short(value)
        ))
    })
}

/// The first 64 characters of untrusted text, for messages.
pub(crate) fn short(text: &str) -> String {
    text.chars().take(64).map(|c| if c.is_control() { '?' } else { c }).collect()
}

/// Parses the query string of a request to `endpoint`.
pub fn parse(raw: Option<&str>, endpoint: Endpoint) -> Result<Params, ApiError> {
    let mut p = Params::default();
    let mut label = LabelFilter::default();
    let mut has_label = false;
    let mut canonical: Vec<(String, String)> = Vec::new();
    for (name, value) in parse_query(raw)? {
        if !endpoint.parameters().contains(&name.as_str()) {
            return Err(ApiError::parameter(format!(
                "{}: not a parameter of this endpoint (it takes {})",
                short(&name),
                endpoint.parameters().join(", ")
            )));
        }
        if value.is_empty() {
            return Err(ApiError::parameter(format!("{name}: empty value")));
        }
        match name.as_str() {
            "type" => {
                for t in list(&name, &value)? {
                    if !phalanx_model::id::is_valid_type_name(t) {
                        return Err(ApiError::parameter(format!("type: '{}' is not a valid STIX type name", short(t))));
                    }
                    p.types.push(t.to_owned());
                }
            }
            "id" => {
                for id in list(&name, &value)? {
                    StixId::parse(id).map_err(|e| ApiError::parameter(format!("id: {e}")))?;
                    p.ids.push(id.to_owned());
                }
            }
            "q" => {
                if !value.chars().any(char::is_alphanumeric) {
                    return Err(ApiError::parameter("q: the full-text query has no words"));
                }
                if value.len() > 1024 {
                    return Err(ApiError::parameter("q: longer than 1024 bytes"));
                }
                p.text = Some(value.clone());
            }
            "added_after" => p.added_after = Some(timestamp(&name, &value)?),
            "added_before" => p.added_before = Some(timestamp(&name, &value)?),
            "cursor" => p.cursor_text = Some(value.clone()),
            "limit" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ApiError::parameter(format!("limit: '{}' is not an integer greater than 0", short(&value))))?;
                p.limit = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            "order" => {
                p.order = match value.as_str() {
                    "asc" => Order::AddedAscending,
                    "desc" => Order::AddedDescending,
                    other => return Err(ApiError::parameter(format!("order: '{}' is not asc or desc", short(other)))),
                }
            }
            "tlp" => {
                has_label = true;
                for t in list(&name, &value)? {
                    if t == "none" {
                        label.tlp.push(None);
                        continue;
                    }
                    let tlp = t.parse::<Tlp>().map_err(|_| {
                        ApiError::parameter(format!(
                            "tlp: '{}' is not clear, green, amber, amber+strict, red or none",
                            short(t)
                        ))
                    })?;
                    label.tlp.push(Some(tlp));
                }
            }
            "policy" => {
                has_label = true;
                for t in list(&name, &value)? {
                    let policy = t.parse::<Policy>().map_err(|e| ApiError::parameter(format!("policy: {e}")))?;
                    label.policies.push(policy);
                }
            }
            "min_classification" => {
                has_label = true;
                label.min_classification = Some(rank(&name, &value)?);
            }
            "max_classification" => {
                has_label = true;
                label.max_classification = Some(rank(&name, &value)?);
            }
            "releasable_to" => {
                has_label = true;
                for t in list(&name, &value)? {
                    if t.chars().any(|c| c.is_whitespace() || c.is_control() || c == '|') || t.len() > 256 {
                        return Err(ApiError::parameter(format!("releasable_to: '{}' is not an audience token", short(t))));
                    }
                    label.audience.push(t.to_owned());
                }
            }
            "originator" => {
                has_label = true;
                for t in list(&name, &value)? {
                    if !phalanx_labels::is_identity_id(t) {
                        return Err(ApiError::parameter(format!(
                            "originator: '{}' is not an organisation id (identity--<uuid>)",
                            short(t)
                        )));
                    }
                    label.originators.push(t.to_owned());
                }
            }
            "include_revoked" => p.include_revoked = boolean(&name, &value)?,
            "count" => p.count = boolean(&name, &value)?,
            "version" => {
                p.version = Some(match value.as_str() {
                    "first" => VersionParam::Filter(VersionFilter::First),
                    "last" => VersionParam::Filter(VersionFilter::Last),
                    "all" => VersionParam::Filter(VersionFilter::All),
                    other => {
                        let t = Timestamp::parse_lenient(other).map_err(|e| {
                            ApiError::parameter(format!("version: expected first, last, all or a timestamp: {e}"))
                        })?;
                        if endpoint != Endpoint::Object {
                            return Err(ApiError::parameter("version: expected first, last or all"));
                        }
                        VersionParam::Exact(t)
                    }
                })
            }
            _ => {}
        }
        if !matches!(name.as_str(), "cursor" | "limit" | "count") {
            canonical.push((name, value));
        }
    }
    if let (Some(min), Some(max)) = (label.min_classification, label.max_classification)
        && min > max {
            return Err(ApiError::parameter("min_classification: is above max_classification"));
        }
    if let (Some(a), Some(b)) = (p.added_after, p.added_before)
        && a >= b {
            return Err(ApiError::parameter("added_after: is not before added_before"));
        }
    if has_label {
        p.label = Some(label);
    }
    canonical.sort();
    p.canonical = canonical.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&");
    Ok(p)
}

fn binding_hash(endpoint: Endpoint, object: &str, caller: &str, canonical: &str) -> String {
    let mut h = Sha256::new();
    for part in ["rest", endpoint.name(), object, caller, canonical] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    phalanx_store::registry::hex(&h.finalize()[..8])
}

impl Params {
    /// The cursor that continues after `cursor` with these parameters for
    /// this caller (and object, on per-object endpoints): `<seq>.<hash>`.
    pub fn cursor_token(&self, cursor: Cursor, endpoint: Endpoint, object: &str, caller: &str) -> String {
        format!("{}.{}", cursor.encode(), binding_hash(endpoint, object, caller, &self.canonical))
    }

    /// Verifies `cursor` against the current parameters and caller and sets
    /// [`Params::after`]; any mismatch is `invalid_next` (400).
    pub fn verify_cursor(&mut self, endpoint: Endpoint, object: &str, caller: &str) -> Result<(), ApiError> {
        let Some(token) = self.cursor_text.take() else { return Ok(()) };
        let invalid = || {
            ApiError::new(
                ErrorCode::InvalidNext,
                "cursor: not a value this server gave for this query and caller (repeat the same filters with cursor)",
            )
        };
        let (cursor, hash) = token.split_once('.').ok_or_else(invalid)?;
        let cursor = Cursor::decode(cursor).ok_or_else(invalid)?;
        if hash != binding_hash(endpoint, object, caller, &self.canonical) {
            return Err(invalid());
        }
        self.after = Some(cursor);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn search(q: &str) -> Result<Params, ApiError> {
        parse(Some(q), Endpoint::Search)
    }

    #[test]
    fn filters_parse_into_the_store_query_parts() {
        let p = search("type=indicator,malware&q=ransom&tlp=green,none&policy=EU,NATIONAL:LTU&min_classification=1&max_classification=SECRET&releasable_to=NATO&originator=identity--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f&include_revoked=true&version=all&count=true&order=desc&limit=5").unwrap();
        assert_eq!(p.types, vec!["indicator", "malware"]);
        assert_eq!(p.text.as_deref(), Some("ransom"));
        let label = p.label.unwrap();
        assert_eq!(label.tlp, vec![Some(Tlp::Green), None]);
        assert_eq!(label.policies, vec![Policy::Eu, Policy::National("LTU".into())]);
        assert_eq!(label.min_classification, Some(Rank::Restricted));
        assert_eq!(label.max_classification, Some(Rank::Secret));
        assert_eq!(label.audience, vec!["NATO"]);
        assert_eq!(label.originators.len(), 1);
        assert!(p.include_revoked && p.count);
        assert_eq!(p.version, Some(VersionParam::Filter(VersionFilter::All)));
        assert_eq!(p.order, Order::AddedDescending);
        assert_eq!(p.limit, Some(5));
        assert!(search("").unwrap().label.is_none(), "no label parameter, no label filter");
    }

    #[test]
    fn bad_parameters_are_400_naming_the_parameter() {
        for (q, name) in [
            ("limit=0", "limit"),
            ("limit=many", "limit"),
            ("type=Indicator", "type"),
            ("id=nope", "id"),
            ("tlp=purple", "tlp"),
            ("policy=EUR", "policy"),
            ("min_classification=7", "min_classification"),
            ("max_classification=HUSH", "max_classification"),
            ("min_classification=SECRET&max_classification=1", "min_classification"),
            ("originator=CERT-LT", "originator"),
            ("include_revoked=maybe", "include_revoked"),
            ("version=newest", "version"),
            ("version=2026-01-01T00:00:00Z", "version"),
            ("added_after=yesterday", "added_after"),
            ("added_before=2026-01-01T00:00:00Z&added_after=2026-02-01T00:00:00Z", "added_after"),
            ("q=%21%21", "q"),
            ("order=up", "order"),
            ("colour=red", "colour"),
            ("type=indicator&type=malware", "type"),
            ("tlp=", "tlp"),
        ] {
            let e = search(q).unwrap_err();
            assert_eq!(e.code, ErrorCode::InvalidParameter, "{q}");
            assert!(e.message.starts_with(name), "{q}: {}", e.message);
        }
        assert!(parse(Some("version=2026-01-01T00:00:00Z"), Endpoint::Object).is_ok());
        assert!(parse(Some("q=x"), Endpoint::Object).unwrap_err().message.starts_with("q:"));
    }

    #[test]
    fn the_cursor_is_bound_to_filters_caller_and_object() {
        let p = search("type=indicator&limit=2").unwrap();
        let token = p.cursor_token(Cursor(99), Endpoint::Search, "", "alice");
        let mut again = search(&format!("type=indicator&limit=7&cursor={token}")).unwrap();
        again.verify_cursor(Endpoint::Search, "", "alice").unwrap();
        assert_eq!(again.after, Some(Cursor(99)));
        let mut other_caller = search(&format!("type=indicator&cursor={token}")).unwrap();
        assert_eq!(other_caller.verify_cursor(Endpoint::Search, "", "bob").unwrap_err().code, ErrorCode::InvalidNext);
        let mut wider = search(&format!("cursor={token}")).unwrap();
        assert_eq!(wider.verify_cursor(Endpoint::Search, "", "alice").unwrap_err().code, ErrorCode::InvalidNext);
        let mut forged = search("type=indicator&cursor=1.0000000000000000").unwrap();
        assert!(forged.verify_cursor(Endpoint::Search, "", "alice").is_err());
    }
}
