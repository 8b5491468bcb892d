//! Sensor exports: indicators as Suricata rules, Zeek Intel framework
//! entries and CSV rows.
//!
//! Only indicators that a sensor can apply value by value are exported:
//! a pattern of one observation, without qualifiers, whose comparison is
//! one test or an OR of tests of the kinds a sensor knows (`=`, `IN`,
//! `ISSUBSET` on addresses, `LIKE '%.x'` on domains). [`indicator_iocs`]
//! says why anything else is left out. Values are written in their normal
//! form ([`crate::normalize`]).
//!
//! **Suricata sids.** Each rule's sid is stable: 1,000,000,000 plus the
//! 64-bit FNV-1a hash of `indicator id|value|rule kind` modulo
//! 1,000,000,000 (so sids stay below 2^31 and outside the ranges public
//! rule sets use). Two rules of one export that hash alike are told
//! apart by [`SidAllocator`], which moves the later one (in the order they
//! are written) to the next free sid and counts it. `rev` is the
//! indicator's `modified` in seconds since the epoch, so a new version of
//! an indicator replaces its rules.

use crate::normalize;
use phalanx_pattern::{Comparison, ComparisonExpr, Literal, ObservationExpr, Operator, PathStep};
use std::collections::HashSet;
use std::fmt::Write as _;
use std::net::IpAddr;

/// One value a sensor can look for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ioc {
    /// One address.
    Ip(IpAddr),
    /// A CIDR block.
    Cidr(IpAddr, u8),
    /// A domain name (normal form); `subdomains` also its subdomains.
    Domain {
        /// The name.
        name: String,
        /// Whether subdomains match too.
        subdomains: bool,
    },
    /// A canonical URL.
    Url(String),
    /// An e-mail address.
    Email(String),
    /// A file hash: algorithm (`md5`, `sha1`, `sha256`, `ssdeep`) and
    /// value (lowercase hex for the digests).
    FileHash(&'static str, String),
    /// An X.509 certificate hash: algorithm and lowercase hex.
    CertHash(&'static str, String),
}

impl Ioc {
    /// The value as text.
    pub fn value(&self) -> String {
        match self {
            Ioc::Ip(ip) => ip.to_string(),
            Ioc::Cidr(ip, len) => format!("{ip}/{len}"),
            Ioc::Domain { name, .. } => name.clone(),
            Ioc::Url(u) | Ioc::Email(u) => u.clone(),
            Ioc::FileHash(_, h) | Ioc::CertHash(_, h) => h.clone(),
        }
    }

    /// The kind as CSV and messages name it.
    pub fn kind(&self) -> &'static str {
        match self {
            Ioc::Ip(IpAddr::V4(_)) => "ipv4-addr",
            Ioc::Ip(IpAddr::V6(_)) => "ipv6-addr",
            Ioc::Cidr(IpAddr::V4(_), _) => "ipv4-cidr",
            Ioc::Cidr(IpAddr::V6(_), _) => "ipv6-cidr",
            Ioc::Domain { .. } => "domain-name",
            Ioc::Url(_) => "url",
            Ioc::Email(_) => "email-addr",
            Ioc::FileHash(algo, _) => match *algo {
                "md5" => "file-md5",
                "sha1" => "file-sha1",
                "sha256" => "file-sha256",
                _ => "file-ssdeep",
            },
            Ioc::CertHash(algo, _) => match *algo {
                "md5" => "x509-md5",
                "sha1" => "x509-sha1",
                _ => "x509-sha256",
            },
        }
    }
}

/// What an export says about the indicator beside its values.
#[derive(Debug, Clone)]
pub struct IndicatorMeta<'a> {
    /// The STIX id.
    pub id: &'a str,
    /// Its name (or the id when it has none).
    pub name: &'a str,
    /// `modified` in seconds since the epoch (Suricata `rev`).
    pub modified_secs: i64,
    /// `valid_until`, as given, if any.
    pub valid_until: Option<&'a str>,
    /// TLP as text (`amber+strict`), or empty.
    pub tlp: &'a str,
    /// PAP as text, or empty.
    pub pap: &'a str,
    /// The label's display name.
    pub label: &'a str,
}

/// The values of an indicator pattern a sensor can apply one by one, or
/// why there are none. `subdomains`: the indicator asks for subdomains too
/// (`x_phalanx_match_subdomains`).
pub fn indicator_iocs(pattern: &str, subdomains: bool) -> Result<Vec<Ioc>, String> {
    let parsed = phalanx_pattern::parse(pattern).map_err(|e| format!("pattern: {e}"))?;
    let ObservationExpr::Observation { comparison, qualifiers } = &parsed.expr else {
        return Err("a pattern of several observations is not a list of values".into());
    };
    if !qualifiers.is_empty() {
        return Err("a pattern with qualifiers (WITHIN, REPEATS, START/STOP) is not a list of values".into());
    }
    let mut out = Vec::new();
    collect(comparison, subdomains, &mut out)?;
    out.dedup();
    Ok(out)
}

fn collect(expr: &ComparisonExpr, subdomains: bool, out: &mut Vec<Ioc>) -> Result<(), String> {
    match expr {
        ComparisonExpr::Or(items) => {
            for i in items {
                collect(i, subdomains, out)?;
            }
            Ok(())
        }
        ComparisonExpr::And(_) => Err("an AND of tests is not a list of values".into()),
        ComparisonExpr::Comparison(c) => comparison_iocs(c, subdomains, out),
    }
}

fn path_text(c: &Comparison) -> String {
    let mut s = format!("{}:", c.path.object_type);
    for (i, step) in c.path.steps.iter().enumerate() {
        match step {
            PathStep::Property(p) => {
                if i > 0 {
                    s.push('.');
                }
                s.push_str(p);
            }
            PathStep::Index(n) => {
                let _ = write!(s, "[{n}]");
            }
            PathStep::AnyIndex => s.push_str("[*]"),
        }
    }
    s
}

fn comparison_iocs(c: &Comparison, subdomains: bool, out: &mut Vec<Ioc>) -> Result<(), String> {
    let path = path_text(c);
    if c.negated {
        return Err(format!("{path}: a negated test is not a list of values"));
    }
    let texts: Vec<&str> = match (&c.op, &c.value) {
        (Operator::Eq | Operator::Like | Operator::IsSubset, Some(Literal::String(s))) => vec![s.as_str()],
        (Operator::In, Some(Literal::Set(items))) => items.iter().filter_map(|i| if let Literal::String(s) = i { Some(s.as_str()) } else { None }).collect(),
        _ => return Err(format!("{path}: only =, IN, ISSUBSET and LIKE '%.domain' tests are exported")),
    };
    let bad = |what: &str, s: &str| format!("{path}: '{s}' is not {what}");
    for s in texts {
        let ioc = match (path.as_str(), c.op) {
            ("ipv4-addr:value" | "ipv6-addr:value", Operator::IsSubset) => {
                let (ip, len) = normalize::cidr(s).ok_or_else(|| bad("a cidr block", s))?;
                Ioc::Cidr(ip, len)
            }
            ("ipv4-addr:value" | "ipv6-addr:value", Operator::Eq | Operator::In) => match normalize::cidr(s) {
                Some((ip, len)) if len < if ip.is_ipv4() { 32 } else { 128 } => Ioc::Cidr(ip, len),
                _ => Ioc::Ip(normalize::ip(s).ok_or_else(|| bad("an ip address", s))?),
            },
            ("domain-name:value", Operator::Like) => match s.strip_prefix("%.") {
                Some(rest) if !rest.contains(['%', '_']) => {
                    Ioc::Domain { name: normalize::domain(rest).ok_or_else(|| bad("a domain name", rest))?.into_owned(), subdomains: true }
                }
                _ => return Err(format!("{path} LIKE '{s}': only LIKE '%.domain' is exported")),
            },
            ("domain-name:value", Operator::Eq | Operator::In) => {
                Ioc::Domain { name: normalize::domain(s).ok_or_else(|| bad("a domain name", s))?.into_owned(), subdomains }
            }
            ("url:value", Operator::Eq | Operator::In) => Ioc::Url(normalize::url(s).ok_or_else(|| bad("a url", s))?),
            ("email-addr:value", Operator::Eq | Operator::In) => Ioc::Email(normalize::email(s).ok_or_else(|| bad("an e-mail address", s))?),
            (p, Operator::Eq | Operator::In) if p.starts_with("file:hashes.") || p.starts_with("x509-certificate:hashes.") => {
                let Some(PathStep::Property(algo)) = c.path.steps.get(1) else { return Err(format!("{path}: no hash algorithm")) };
                let algo = match algo.to_ascii_uppercase().replace('_', "-").as_str() {
                    "MD5" => "md5",
                    "SHA-1" | "SHA1" => "sha1",
                    "SHA-256" | "SHA256" => "sha256",
                    "SSDEEP" if c.path.object_type == "file" => "ssdeep",
                    other => return Err(format!("{path}: hash algorithm {other} is not exported")),
                };
                let value = if algo == "ssdeep" {
                    s.to_owned()
                } else {
                    let bytes = normalize::hex_hash(s).ok_or_else(|| bad("a hexadecimal hash", s))?;
                    bytes.iter().fold(String::with_capacity(bytes.len() * 2), |mut h, b| {
                        let _ = write!(h, "{b:02x}");
                        h
                    })
                };
                if c.path.object_type == "file" { Ioc::FileHash(algo, value) } else { Ioc::CertHash(algo, value) }
            }
            _ => return Err(format!("{path}: not a value sensors look for")),
        };
        out.push(ioc);
    }
    Ok(())
}

/// The action of exported Suricata rules.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SuricataAction {
    /// `alert`: detection only (passive).
    Alert,
    /// `drop`: active blocking (IPS mode).
    Drop,
    /// `reject`: active blocking with a reset or ICMP error.
    Reject,
}

impl SuricataAction {
    /// The rule keyword.
    pub fn as_str(self) -> &'static str {
        match self {
            SuricataAction::Alert => "alert",
            SuricataAction::Drop => "drop",
            SuricataAction::Reject => "reject",
        }
    }

    /// Whether rules with this action block traffic (an active action in
    /// PAP terms).
    pub fn is_active_blocking(self) -> bool {
        !matches!(self, SuricataAction::Alert)
    }
}

/// Whether an indicator with PAP `pap` (text, empty when none) may be used
/// for active blocking. PAP:RED ("no action on the network") and PAP:AMBER
/// ("passive cross-checks only") may not; PAP:GREEN, PAP:CLEAR and no PAP
/// may.
pub fn pap_allows_blocking(pap: &str) -> bool {
    !matches!(pap, "red" | "amber")
}

/// Hands out sids: stable per rule, unique within one export.
#[derive(Debug, Default)]
pub struct SidAllocator {
    used: HashSet<u32>,
    /// Rules moved off their hashed sid because another rule of this
    /// export had it.
    pub collisions: u64,
}

const SID_BASE: u32 = 1_000_000_000;

/// The stable sid of a rule (before collision handling).
pub fn stable_sid(indicator_id: &str, value: &str, rule_kind: &str) -> u32 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for part in [indicator_id, "|", value, "|", rule_kind] {
        for b in part.bytes() {
            h ^= u64::from(b);
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    }
    SID_BASE + (h % u64::from(SID_BASE)) as u32
}

impl SidAllocator {
    /// The sid for this rule: its stable sid, or the next free one.
    pub fn sid(&mut self, indicator_id: &str, value: &str, rule_kind: &str) -> u32 {
        let mut sid = stable_sid(indicator_id, value, rule_kind);
        if self.used.contains(&sid) {
            self.collisions += 1;
            while self.used.contains(&sid) {
                sid = if sid == u32::MAX >> 1 { SID_BASE } else { sid + 1 };
            }
        }
        self.used.insert(sid);
        sid
    }
}

/// Text inside a Suricata `content:"…"`: `"`, `;`, `\`, `|` and bytes
/// outside printable ASCII as `|hex|`.
fn suricata_content(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_graphic() && !matches!(b, b'"' | b';' | b'\\' | b'|') || b == b' ' {
            out.push(b as char);
        } else {
            let _ = write!(out, "|{b:02X}|");
        }
    }
    out
}

/// Text inside `msg:"…"` or `metadata`: no quotes, semicolons, backslashes,
/// commas or control characters.
fn suricata_text(s: &str) -> String {
    s.chars().map(|c| if c.is_control() || matches!(c, '"' | ';' | '\\' | ',') { ' ' } else { c }).collect()
}

/// Appends the Suricata rules of one indicator to `out`; returns how many
/// rules, and the values skipped with why (e-mail addresses and hashes
/// have no one-line rule; encrypted URLs cannot be seen).
pub fn suricata_rules(meta: &IndicatorMeta<'_>, iocs: &[Ioc], action: SuricataAction, sids: &mut SidAllocator, out: &mut String) -> (u64, Vec<String>) {
    let mut written = 0;
    let mut skipped = Vec::new();
    let msg = suricata_text(&format!("Phalanx {}", meta.name));
    let rev = u32::try_from(meta.modified_secs).unwrap_or(1).max(1);
    let tail = |kind: &str, value: &str, sids: &mut SidAllocator| {
        let sid = sids.sid(meta.id, value, kind);
        let tlp = if meta.tlp.is_empty() { "none" } else { meta.tlp };
        let pap = if meta.pap.is_empty() { "none" } else { meta.pap };
        format!("metadata:stix_id {}, tlp {}, pap {}; sid:{sid}; rev:{rev};)", suricata_text(meta.id), suricata_text(tlp), suricata_text(pap))
    };
    let act = action.as_str();
    for ioc in iocs {
        match ioc {
            Ioc::Ip(_) | Ioc::Cidr(..) => {
                let v = ioc.value();
                let t = tail("ip", &v, sids);
                let _ = writeln!(out, "{act} ip any any <> [{v}] any (msg:\"{msg} ({v})\"; {t}");
                written += 1;
            }
            Ioc::Domain { name, subdomains } => {
                for (proto, buffer) in [("dns", "dns.query"), ("tls", "tls.sni"), ("http", "http.host")] {
                    let kind = if *subdomains { format!("{proto}-suffix") } else { proto.to_owned() };
                    let t = tail(&kind, name, sids);
                    let test = if *subdomains {
                        format!("{buffer}; dotprefix; content:\".{}\"; nocase; endswith;", suricata_content(name))
                    } else {
                        format!("{buffer}; content:\"{}\"; nocase; bsize:{};", suricata_content(name), name.len())
                    };
                    let _ = writeln!(out, "{act} {proto} any any -> any any (msg:\"{msg} ({name})\"; {test} {t}");
                    written += 1;
                }
            }
            Ioc::Url(u) => match url::Url::parse(u) {
                Ok(parsed) if parsed.scheme() == "http" && parsed.host_str().is_some() => {
                    let host = parsed.host_str().unwrap_or_default();
                    let mut path = parsed.path().to_owned();
                    if let Some(q) = parsed.query() {
                        path.push('?');
                        path.push_str(q);
                    }
                    let t = tail("http-url", u, sids);
                    let _ = writeln!(
                        out,
                        "{act} http any any -> any any (msg:\"{msg} ({})\"; http.host; content:\"{}\"; nocase; bsize:{}; http.uri; content:\"{}\"; bsize:{}; {t}",
                        suricata_text(u),
                        suricata_content(host),
                        host.len(),
                        suricata_content(&path),
                        path.len()
                    );
                    written += 1;
                }
                _ => skipped.push(format!("{u}: only http URLs are visible to Suricata (https is encrypted)")),
            },
            Ioc::Email(_) | Ioc::FileHash(..) | Ioc::CertHash(..) => {
                skipped.push(format!("{} {}: no one-line Suricata rule (use zeek-intel or csv)", ioc.kind(), ioc.value()))
            }
        }
    }
    (written, skipped)
}

/// The header of a Zeek Intel framework file.
pub const ZEEK_INTEL_HEADER: &str = "#fields\tindicator\tindicator_type\tmeta.source\tmeta.desc\tmeta.url\n";

/// Text of a Zeek Intel field: tabs and line breaks become spaces, empty is `-`.
fn zeek_field(s: &str) -> String {
    let t: String = s.chars().map(|c| if c.is_control() { ' ' } else { c }).collect();
    if t.trim().is_empty() { "-".into() } else { t }
}

/// Appends the Zeek Intel lines of one indicator to `out`; returns how
/// many lines, and the values skipped with why. URLs are written without
/// their scheme, as Zeek's `Intel::URL` compares them; subdomain matching
/// has no Intel type (the domain itself is written).
pub fn zeek_intel_lines(meta: &IndicatorMeta<'_>, iocs: &[Ioc], out: &mut String) -> (u64, Vec<String>) {
    let mut written = 0;
    let mut skipped = Vec::new();
    let source = zeek_field(&format!("phalanx {}", meta.id));
    let desc = zeek_field(meta.name);
    for ioc in iocs {
        let (value, kind) = match ioc {
            Ioc::Ip(ip) => (ip.to_string(), "Intel::ADDR"),
            Ioc::Cidr(..) => (ioc.value(), "Intel::SUBNET"),
            Ioc::Domain { name, .. } => (name.clone(), "Intel::DOMAIN"),
            Ioc::Url(u) => {
                let bare = u.split_once("://").map_or(u.as_str(), |(_, rest)| rest);
                (bare.to_owned(), "Intel::URL")
            }
            Ioc::Email(e) => (e.clone(), "Intel::EMAIL"),
            Ioc::FileHash("ssdeep", _) => {
                skipped.push(format!("{}: Zeek computes no ssdeep hashes", ioc.value()));
                continue;
            }
            Ioc::FileHash(_, h) => (h.clone(), "Intel::FILE_HASH"),
            Ioc::CertHash("sha1", h) => (h.clone(), "Intel::CERT_HASH"),
            Ioc::CertHash(algo, h) => {
                skipped.push(format!("{h}: Zeek's Intel::CERT_HASH holds sha1 certificate hashes, not {algo}"));
                continue;
            }
        };
        if value.chars().any(|c| c.is_control() || c == ' ') {
            skipped.push(format!("{value}: a Zeek Intel value cannot hold spaces or control characters"));
            continue;
        }
        let _ = writeln!(out, "{value}\t{kind}\t{source}\t{desc}\t-");
        written += 1;
    }
    (written, skipped)
}

/// The CSV header.
pub const CSV_HEADER: &str = "indicator_id,name,type,value,subdomains,valid_until,tlp,pap,label\r\n";

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\r', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_owned() }
}

/// Appends one RFC 4180 row per value of one indicator to `out`.
pub fn csv_rows(meta: &IndicatorMeta<'_>, iocs: &[Ioc], out: &mut String) -> u64 {
    for ioc in iocs {
        let subdomains = matches!(ioc, Ioc::Domain { subdomains: true, .. });
        let fields = [
            csv_field(meta.id),
            csv_field(meta.name),
            ioc.kind().to_owned(),
            csv_field(&ioc.value()),
            subdomains.to_string(),
            csv_field(meta.valid_until.unwrap_or_default()),
            csv_field(meta.tlp),
            csv_field(meta.pap),
            csv_field(meta.label),
        ];
        out.push_str(&fields.join(","));
        out.push_str("\r\n");
    }
    iocs.len() as u64
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta() -> IndicatorMeta<'static> {
        IndicatorMeta {
            id: "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f",
            name: "Ghostwriter C2, \"phase 2\"",
            modified_secs: 1_772_323_200,
            valid_until: None,
            tlp: "amber",
            pap: "green",
            label: "UNCLASSIFIED",
        }
    }

    #[test]
    fn simple_patterns_give_normalised_values() {
        let v = indicator_iocs("[ipv4-addr:value = '198.51.100.7' OR ipv4-addr:value ISSUBSET '203.0.113.0/24']", false).unwrap();
        assert_eq!(v, vec![Ioc::Ip("198.51.100.7".parse().unwrap()), Ioc::Cidr("203.0.113.0".parse().unwrap(), 24)]);
        let v = indicator_iocs("[domain-name:value = 'Bücher.Example.']", false).unwrap();
        assert_eq!(v, vec![Ioc::Domain { name: "xn--bcher-kva.example".into(), subdomains: false }]);
        let v = indicator_iocs("[domain-name:value LIKE '%.evil.example']", false).unwrap();
        assert_eq!(v, vec![Ioc::Domain { name: "evil.example".into(), subdomains: true }]);
        let v = indicator_iocs("[file:hashes.'SHA-256' = 'AABBCCDDEEFF00112233445566778899AABBCCDDEEFF00112233445566778899']", false).unwrap();
        assert_eq!(v[0].kind(), "file-sha256");
        assert_eq!(v[0].value(), "aabbccddeeff00112233445566778899aabbccddeeff00112233445566778899");
        let v = indicator_iocs("[url:value IN ('HTTP://Evil.Example/a/../b', 'http://x.example')]", false).unwrap();
        assert_eq!(v, vec![Ioc::Url("http://evil.example/b".into()), Ioc::Url("http://x.example/".into())]);
    }

    #[test]
    fn other_patterns_say_why_they_are_left_out() {
        for (p, why) in [
            ("[ipv4-addr:value = '1.2.3.4' AND ipv4-addr:value = '1.2.3.5']", "AND"),
            ("[ipv4-addr:value = '1.2.3.4'] AND [domain-name:value = 'x.example']", "several observations"),
            ("[ipv4-addr:value = '1.2.3.4'] WITHIN 5 SECONDS", "qualifiers"),
            ("[network-traffic:dst_port = 443]", "only =, IN"),
            ("[domain-name:value LIKE 'ev%il.example']", "LIKE '%.domain'"),
            ("[ipv4-addr:value NOT = '1.2.3.4']", "negated"),
            ("[process:name = 'x']", "not a value sensors"),
        ] {
            let e = indicator_iocs(p, false).unwrap_err();
            assert!(e.contains(why), "{p}: {e}");
        }
    }

    #[test]
    fn suricata_rules_have_stable_unique_sids_and_escaped_text() {
        let iocs = indicator_iocs("[ipv4-addr:value = '198.51.100.7' OR domain-name:value = 'evil.example' OR url:value = 'http://evil.example/a;b?q=\"1\"' OR email-addr:value = 'a@evil.example']", false).unwrap();
        let mut sids = SidAllocator::default();
        let mut out = String::new();
        let (n, skipped) = suricata_rules(&meta(), &iocs, SuricataAction::Alert, &mut sids, &mut out);
        assert_eq!(n, 5, "{out}");
        assert_eq!(skipped.len(), 1, "the e-mail address has no rule");
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("alert ip any any <> [198.51.100.7] any (msg:\"Phalanx Ghostwriter C2   phase 2  (198.51.100.7)\";"), "{}", lines[0]);
        assert!(lines[1].contains("dns.query; content:\"evil.example\"; nocase; bsize:12;"), "{}", lines[1]);
        assert!(lines[4].contains("http.uri; content:\"/a|3B|b?q=%221%22\"; bsize:"), "{}", lines[4]);
        let sid_of = |l: &str| l.split("sid:").nth(1).and_then(|s| s.split(';').next()).map(str::to_owned).unwrap();
        let mut all: Vec<String> = lines.iter().map(|l| sid_of(l)).collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5, "sids are unique");
        let mut again = String::new();
        suricata_rules(&meta(), &iocs, SuricataAction::Alert, &mut SidAllocator::default(), &mut again);
        assert_eq!(out, again, "the same indicator gives the same sids in another export");
        assert!(lines.iter().all(|l| l.ends_with("rev:1772323200;)")));
    }

    #[test]
    fn colliding_sids_move_to_the_next_free_one() {
        let mut sids = SidAllocator::default();
        let a = sids.sid("indicator--a", "v", "ip");
        let b = sids.sid("indicator--a", "v", "ip");
        assert_eq!(b, a + 1);
        assert_eq!(sids.collisions, 1);
        assert!((1_000_000_000..=i32::MAX as u32).contains(&a));
    }

    #[test]
    fn pap_red_and_amber_never_block() {
        assert!(!pap_allows_blocking("red") && !pap_allows_blocking("amber"));
        assert!(pap_allows_blocking("green") && pap_allows_blocking("clear") && pap_allows_blocking(""));
        assert!(SuricataAction::Drop.is_active_blocking() && !SuricataAction::Alert.is_active_blocking());
    }

    #[test]
    fn zeek_intel_and_csv_lines() {
        let iocs = indicator_iocs("[ipv4-addr:value ISSUBSET '203.0.113.0/24' OR url:value = 'https://evil.example/x' OR file:hashes.MD5 = '0123456789ABCDEF0123456789ABCDEF' OR file:hashes.SSDEEP = '3:a:b']", false).unwrap();
        let mut out = String::new();
        let (n, skipped) = zeek_intel_lines(&meta(), &iocs, &mut out);
        assert_eq!((n, skipped.len()), (3, 1));
        assert_eq!(
            out,
            "203.0.113.0/24\tIntel::SUBNET\tphalanx indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\tGhostwriter C2, \"phase 2\"\t-\n\
             evil.example/x\tIntel::URL\tphalanx indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\tGhostwriter C2, \"phase 2\"\t-\n\
             0123456789abcdef0123456789abcdef\tIntel::FILE_HASH\tphalanx indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f\tGhostwriter C2, \"phase 2\"\t-\n"
        );
        let mut csv = String::new();
        assert_eq!(csv_rows(&meta(), &iocs[..1], &mut csv), 1);
        assert_eq!(csv, "indicator--8e2e2d2b-17d4-4cbf-938f-98ee46b3cd3f,\"Ghostwriter C2, \"\"phase 2\"\"\",ipv4-cidr,203.0.113.0/24,false,,amber,green,UNCLASSIFIED\r\n");
    }
}
