//! TAXII 2.1 query parameters (§3.4, §3.5): `added_after`, `limit`,
//! `next` and the `match[...]` filters, parsed strictly (a malformed or
//! repeated parameter is a 400 naming it), and the opaque `next` token,
//! bound to the query and the caller.

use crate::error::{ApiError, ErrorCode};
use phalanx_model::{StixId, Timestamp};
use phalanx_store::{Cursor, VersionFilter};
use sha2::{Digest, Sha256};

/// Which endpoint the parameters are for: it decides which filters apply
/// (the others are ignored, as §3.4.1 allows for unknown match fields).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Endpoint {
    /// GET objects.
    Objects,
    /// GET manifest.
    Manifest,
    /// GET one object.
    Object,
    /// GET an object's versions.
    Versions,
    /// DELETE one object.
    Delete,
    /// POST objects (no filters; `default_tlp` only).
    Post,
}

impl Endpoint {
    fn name(self) -> &'static str {
        match self {
            Endpoint::Objects => "objects",
            Endpoint::Manifest => "manifest",
            Endpoint::Object => "object",
            Endpoint::Versions => "versions",
            Endpoint::Delete => "delete",
            Endpoint::Post => "post",
        }
    }

    fn takes(self, name: &str) -> bool {
        use Endpoint::*;
        match name {
            "added_after" | "limit" | "next" => matches!(self, Objects | Manifest | Object | Versions),
            "match[id]" | "match[type]" => matches!(self, Objects | Manifest),
            "match[version]" => matches!(self, Objects | Manifest | Object | Delete),
            "match[spec_version]" => self != Post,
            "default_tlp" => self == Post,
            _ => false,
        }
    }
}

/// The filters of one request.
#[derive(Clone, Debug, Default)]
pub struct Filters {
    /// `added_after`: only versions added strictly after this instant.
    pub added_after: Option<Timestamp>,
    /// `limit` as asked (the server cap is applied later).
    pub limit: Option<usize>,
    /// `next`, verified: where the page starts.
    pub after: Option<Cursor>,
    /// `match[id]`.
    pub ids: Vec<String>,
    /// `match[type]`.
    pub types: Vec<String>,
    /// `match[version]` (default `last`).
    pub versions: VersionFilter,
    /// `match[spec_version]` admits 2.1 (the only version stored).
    pub spec_21: bool,
    /// `default_tlp` (POST only): TLP given to unmarked objects.
    pub default_tlp: Option<String>,
    /// The parameters that define the query, canonical, for `next`.
    canonical: String,
}

fn percent_decode(text: &str, name: &str) -> Result<String, ApiError> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = bytes.get(i + 1..i + 3).and_then(|h| std::str::from_utf8(h).ok());
                let value = hex.and_then(|h| u8::from_str_radix(h, 16).ok());
                let Some(value) = value else {
                    return Err(ApiError::parameter(format!("{name}: invalid percent-encoding")));
                };
                out.push(value);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).map_err(|_| ApiError::parameter(format!("{name}: not utf-8")))
}

/// Splits a raw query string into decoded (name, value) pairs, refusing a
/// parameter given twice.
pub fn parse_query(raw: Option<&str>) -> Result<Vec<(String, String)>, ApiError> {
    let mut pairs: Vec<(String, String)> = Vec::new();
    let Some(raw) = raw else { return Ok(pairs) };
    for part in raw.split('&').filter(|p| !p.is_empty()) {
        let (name, value) = part.split_once('=').unwrap_or((part, ""));
        let name = percent_decode(name, "query parameter name")?;
        let value = percent_decode(value, &name)?;
        if pairs.iter().any(|(n, _)| *n == name) {
            return Err(ApiError::parameter(format!("{name}: given more than once (use one comma-separated list)")));
        }
        pairs.push((name, value));
    }
    Ok(pairs)
}

fn list<'a>(name: &str, value: &'a str) -> Result<Vec<&'a str>, ApiError> {
    let items: Vec<&str> = value.split(',').collect();
    if items.iter().any(|v| v.is_empty()) {
        return Err(ApiError::parameter(format!("{name}: empty value in the list")));
    }
    Ok(items)
}

fn parse_versions(value: &str) -> Result<VersionFilter, ApiError> {
    let mut keywords = Vec::new();
    let mut exact = Vec::new();
    for item in list("match[version]", value)? {
        match item {
            "all" => return Ok(VersionFilter::All),
            "first" => keywords.push(VersionFilter::First),
            "last" => keywords.push(VersionFilter::Last),
            other => exact.push(Timestamp::parse_lenient(other).map_err(|e| {
                ApiError::parameter(format!("match[version]: expected first, last, all or a timestamp: {e}"))
            })?),
        }
    }
    if !exact.is_empty() {
        keywords.push(VersionFilter::Exact(exact));
    }
    Ok(if keywords.len() == 1 { keywords.remove(0) } else { VersionFilter::AnyOf(keywords) })
}

fn is_spec_version(v: &str) -> bool {
    let mut parts = v.split('.');
    let ok = |p: Option<&str>| p.is_some_and(|p| !p.is_empty() && p.len() <= 3 && p.bytes().all(|b| b.is_ascii_digit()));
    ok(parts.next()) && ok(parts.next()) && parts.next().is_none()
}

/// Parses the query string of a request to `endpoint`.
pub fn parse_filters(raw: Option<&str>, endpoint: Endpoint) -> Result<(Filters, Option<String>), ApiError> {
    // DELETE without match[version] deletes every version (§5.7).
    let versions = if endpoint == Endpoint::Delete { VersionFilter::All } else { VersionFilter::Last };
    let mut f = Filters { spec_21: true, versions, ..Filters::default() };
    let mut next_text = None;
    let mut canonical: Vec<(String, String)> = Vec::new();
    for (name, value) in parse_query(raw)? {
        if !endpoint.takes(&name) {
            continue; // unknown or not for this endpoint: ignored (§3.4.1)
        }
        if value.is_empty() {
            return Err(ApiError::parameter(format!("{name}: empty value")));
        }
        match name.as_str() {
            "added_after" => {
                let t = Timestamp::parse_lenient(&value).map_err(|e| ApiError::parameter(format!("added_after: {e}")))?;
                f.added_after = Some(t);
            }
            "limit" => {
                let n = value
                    .parse::<u64>()
                    .ok()
                    .filter(|n| *n > 0)
                    .ok_or_else(|| ApiError::parameter(format!("limit: '{value}' is not an integer greater than 0")))?;
                f.limit = Some(usize::try_from(n).unwrap_or(usize::MAX));
            }
            "next" => next_text = Some(value.clone()),
            "match[id]" => {
                for id in list(&name, &value)? {
                    StixId::parse(id).map_err(|e| ApiError::parameter(format!("match[id]: {e}")))?;
                    f.ids.push(id.to_owned());
                }
            }
            "match[type]" => {
                for t in list(&name, &value)? {
                    if !phalanx_model::id::is_valid_type_name(t) {
                        return Err(ApiError::parameter(format!("match[type]: '{t}' is not a valid STIX type name")));
                    }
                    f.types.push(t.to_owned());
                }
            }
            "match[version]" => f.versions = parse_versions(&value)?,
            "match[spec_version]" => {
                let items = list(&name, &value)?;
                if let Some(bad) = items.iter().find(|v| !is_spec_version(v)) {
                    return Err(ApiError::parameter(format!("match[spec_version]: '{bad}' is not a version like 2.1")));
                }
                f.spec_21 = items.contains(&"2.1");
            }
            "default_tlp" => f.default_tlp = Some(value.clone()),
            _ => {}
        }
        if name != "limit" && name != "next" {
            canonical.push((name, value));
        }
    }
    canonical.sort();
    f.canonical = canonical.iter().map(|(n, v)| format!("{n}={v}")).collect::<Vec<_>>().join("&");
    Ok((f, next_text))
}

/// What a `next` token is bound to besides the filters.
pub struct Binding<'a> {
    /// The endpoint.
    pub endpoint: Endpoint,
    /// The collection's id.
    pub collection: &'a str,
    /// The object id for per-object endpoints, else `""`.
    pub object: &'a str,
    /// The caller's key (user id or `anonymous`).
    pub caller: &'a str,
}

fn binding_hash(filters: &Filters, binding: &Binding<'_>) -> String {
    let mut h = Sha256::new();
    for part in [binding.endpoint.name(), binding.collection, binding.object, binding.caller, &filters.canonical] {
        h.update((part.len() as u64).to_be_bytes());
        h.update(part.as_bytes());
    }
    phalanx_store::registry::hex(&h.finalize()[..8])
}

impl Filters {
    /// The `next` token that continues after `cursor` with these filters
    /// for this caller: `<cursor>.<hash>`.
    pub fn next_token(&self, cursor: Cursor, binding: &Binding<'_>) -> String {
        format!("{}.{}", cursor.encode(), binding_hash(self, binding))
    }

    /// Verifies a `next` token against the current filters and caller and
    /// sets [`Filters::after`]; any mismatch is a 400.
    pub fn verify_next(&mut self, token: Option<&str>, binding: &Binding<'_>) -> Result<(), ApiError> {
        let Some(token) = token else { return Ok(()) };
        let invalid = || {
            ApiError::new(
                ErrorCode::InvalidNext,
                "next: not a value this server gave for this query and caller (repeat the same filters with next)",
            )
        };
        let (cursor, hash) = token.split_once('.').ok_or_else(invalid)?;
        let cursor = Cursor::decode(cursor).ok_or_else(invalid)?;
        if hash != binding_hash(self, binding) {
            return Err(invalid());
        }
        self.after = Some(cursor);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(q: &str, e: Endpoint) -> Result<Filters, ApiError> {
        parse_filters(Some(q), e).map(|(f, _)| f)
    }

    #[test]
    fn match_filters_and_lists() {
        let f = parse("match%5Btype%5D=indicator%2Cmalware&match[id]=indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f&added_after=2026-01-01T00%3A00%3A00.5Z&limit=10", Endpoint::Objects).unwrap();
        assert_eq!(f.types, vec!["indicator", "malware"]);
        assert_eq!(f.ids.len(), 1);
        assert_eq!(f.limit, Some(10));
        assert_eq!(f.added_after.unwrap().to_string(), "2026-01-01T00:00:00.5Z");
        assert_eq!(f.versions, VersionFilter::Last);
        assert!(f.spec_21);
        assert_eq!(parse("match[version]=all", Endpoint::Objects).unwrap().versions, VersionFilter::All);
        assert_eq!(parse("match[version]=first,all", Endpoint::Objects).unwrap().versions, VersionFilter::All);
        assert_eq!(
            parse("match[version]=first,last", Endpoint::Objects).unwrap().versions,
            VersionFilter::AnyOf(vec![VersionFilter::First, VersionFilter::Last])
        );
        let exact = parse("match[version]=2026-01-01T00:00:00Z,2026-02-01T00:00:00.123Z", Endpoint::Object).unwrap();
        assert!(matches!(exact.versions, VersionFilter::Exact(ref v) if v.len() == 2));
        assert!(!parse("match[spec_version]=2.0", Endpoint::Objects).unwrap().spec_21);
        assert!(parse("match[spec_version]=2.0,2.1", Endpoint::Objects).unwrap().spec_21);
        // DELETE defaults to every version; the others to the latest.
        assert_eq!(parse("", Endpoint::Delete).unwrap().versions, VersionFilter::All);
        assert_eq!(parse("match[version]=last", Endpoint::Delete).unwrap().versions, VersionFilter::Last);
        // Not for this endpoint: ignored.
        assert!(parse("match[type]=indicator", Endpoint::Versions).unwrap().types.is_empty());
        assert!(parse("match[foo]=bar&x=y", Endpoint::Objects).is_ok());
    }

    #[test]
    fn malformed_or_repeated_parameters_are_400_naming_the_parameter() {
        for (q, name) in [
            ("limit=0", "limit"),
            ("limit=-1", "limit"),
            ("limit=x", "limit"),
            ("limit=1.5", "limit"),
            ("added_after=yesterday", "added_after"),
            ("added_after=2026-01-01", "added_after"),
            ("match[type]=indicator&match[type]=malware", "match[type]"),
            ("match[type]=Indicator", "match[type]"),
            ("match[type]=indicator,", "match[type]"),
            ("match[id]=not-an-id", "match[id]"),
            ("match[version]=newest", "match[version]"),
            ("match[spec_version]=two", "match[spec_version]"),
            ("match[type]=", "match[type]"),
            ("added_after=%zz", "added_after"),
        ] {
            let e = parse(q, Endpoint::Objects).unwrap_err();
            assert_eq!(e.code.http_status().as_u16(), 400, "{q}");
            assert!(e.message.starts_with(name), "{q}: {}", e.message);
        }
    }

    #[test]
    fn next_is_bound_to_filters_and_caller_but_not_limit() {
        let b = |caller| Binding { endpoint: Endpoint::Objects, collection: "c", object: "", caller };
        let (f, _) = parse_filters(Some("match[type]=indicator&limit=5"), Endpoint::Objects).unwrap();
        let token = f.next_token(Cursor(12345), &b("alice"));
        let (mut again, next) = parse_filters(Some(&format!("match[type]=indicator&limit=2&next={token}")), Endpoint::Objects).unwrap();
        again.verify_next(next.as_deref(), &b("alice")).unwrap();
        assert_eq!(again.after, Some(Cursor(12345)));
        let (mut other_user, next) = parse_filters(Some(&format!("match[type]=indicator&next={token}")), Endpoint::Objects).unwrap();
        assert_eq!(other_user.verify_next(next.as_deref(), &b("bob")).unwrap_err().code, ErrorCode::InvalidNext);
        let (mut other_filter, next) = parse_filters(Some(&format!("match[type]=malware&next={token}")), Endpoint::Objects).unwrap();
        assert_eq!(other_filter.verify_next(next.as_deref(), &b("alice")).unwrap_err().code, ErrorCode::InvalidNext);
        let (mut forged, next) = parse_filters(Some("match[type]=indicator&next=ff.0000000000000000"), Endpoint::Objects).unwrap();
        assert!(forged.verify_next(next.as_deref(), &b("alice")).is_err());
    }
}
