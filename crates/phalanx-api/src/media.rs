//! Media types of TAXII 2.1 (§1.6.8): `Accept` lists with q-values, and
//! the `Content-Type` of POST bodies.

/// One media range of an `Accept` header.
#[derive(Clone, Debug, PartialEq)]
pub struct MediaRange {
    /// `type/subtype`, lowercase.
    pub essence: String,
    /// Parameters other than `q`, names lowercase, values as given.
    pub params: Vec<(String, String)>,
    /// The quality, 0.0 to 1.0.
    pub q: f32,
}

/// Parses one media type (`type/subtype;name=value;...`). `None` when it
/// has no `/`.
pub fn parse_media_type(text: &str) -> Option<MediaRange> {
    let mut parts = text.split(';');
    let essence = parts.next()?.trim().to_ascii_lowercase();
    if !essence.contains('/') || essence.starts_with('/') || essence.ends_with('/') {
        return None;
    }
    let mut params = Vec::new();
    let mut q = 1.0f32;
    for p in parts {
        let p = p.trim();
        if p.is_empty() {
            continue;
        }
        let (name, value) = p.split_once('=')?;
        let name = name.trim().to_ascii_lowercase();
        let value = value.trim().trim_matches('"').to_owned();
        if name == "q" {
            q = value.parse::<f32>().ok().filter(|v| (0.0..=1.0).contains(v))?;
        } else {
            params.push((name, value));
        }
    }
    Some(MediaRange { essence, params, q })
}

/// Parses an `Accept` header: a comma-separated list of media ranges.
/// Unparseable entries are skipped.
pub fn parse_accept(header: &str) -> Vec<MediaRange> {
    header.split(',').filter_map(|item| parse_media_type(item.trim())).collect()
}

impl MediaRange {
    fn param(&self, name: &str) -> Option<&str> {
        self.params.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }

    /// Whether this range admits `application/taxii+json;version=2.1`:
    /// the TAXII type bare or with version 2.1, or a wildcard. Other
    /// versions (2.0) and other types do not.
    pub fn admits_taxii_21(&self) -> bool {
        if self.q <= 0.0 {
            return false;
        }
        match self.essence.as_str() {
            "application/taxii+json" => matches!(self.param("version"), None | Some("2.1")),
            "*/*" | "application/*" => true,
            _ => false,
        }
    }
}

/// Whether a request with this `Accept` header (or none) may get a TAXII
/// 2.1 response. No header at all is accepted (clients SHOULD send one;
/// refusing them helps nobody).
pub fn accepts_taxii(accept: Option<&str>) -> bool {
    match accept {
        None => true,
        Some(h) if h.trim().is_empty() => true,
        Some(h) => parse_accept(h).iter().any(MediaRange::admits_taxii_21),
    }
}

/// Whether a POST body's `Content-Type` is the TAXII 2.1 media type (bare,
/// or with `version=2.1`; a `charset` parameter is tolerated).
pub fn is_taxii_content_type(content_type: Option<&str>) -> bool {
    let Some(m) = content_type.and_then(parse_media_type) else { return false };
    if m.essence != "application/taxii+json" {
        return false;
    }
    m.params.iter().all(|(n, v)| match n.as_str() {
        "version" => v == "2.1",
        "charset" => v.eq_ignore_ascii_case("utf-8"),
        _ => false,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_lists_with_q_values() {
        assert!(accepts_taxii(Some("application/taxii+json;version=2.1")));
        assert!(accepts_taxii(Some("application/taxii+json")));
        assert!(accepts_taxii(Some("application/taxii+json; version=2.1")));
        assert!(accepts_taxii(Some("application/taxii+json;version=2.1,application/stix+json;version=2.1")));
        assert!(accepts_taxii(Some("application/json;q=0.9, application/taxii+json;q=0.5")));
        assert!(accepts_taxii(Some("*/*")));
        assert!(accepts_taxii(None));
        assert!(!accepts_taxii(Some("application/json")));
        assert!(!accepts_taxii(Some("application/taxii+json;version=2.0")));
        assert!(!accepts_taxii(Some("application/taxii+json;q=0")));
        assert!(!accepts_taxii(Some("application/stix+json;version=2.1")));
        assert!(!accepts_taxii(Some("text/html, application/xml;q=0.9")));
        assert!(!accepts_taxii(Some("application/taxii+json;q=abc")));
    }

    #[test]
    fn content_types() {
        assert!(is_taxii_content_type(Some("application/taxii+json;version=2.1")));
        assert!(is_taxii_content_type(Some("application/taxii+json")));
        assert!(is_taxii_content_type(Some("application/taxii+json; version=2.1; charset=utf-8")));
        assert!(!is_taxii_content_type(Some("application/json")));
        assert!(!is_taxii_content_type(Some("application/taxii+json;version=2.0")));
        assert!(!is_taxii_content_type(Some("application/stix+json;version=2.1")));
        assert!(!is_taxii_content_type(None));
    }
}
