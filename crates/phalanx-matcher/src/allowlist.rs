//! Allow-lists that suppress matches: MISP warninglists (`string`,
//! `hostname`, `substring`, `regex` and `cidr` types).

use crate::normalize;
use std::collections::HashSet;
use std::net::IpAddr;

/// Why a warninglist could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum AllowListError {
    /// Not a MISP warninglist: names the member that is wrong.
    #[error("warninglist {source_name}: {message}")]
    Invalid {
        /// The file (or other name) the list came from.
        source_name: String,
        /// What is wrong, naming the member.
        message: String,
    },
}

/// Values whose matches are suppressed.
#[derive(Debug, Default)]
pub struct AllowList {
    exact: HashSet<String, foldhash::fast::RandomState>,
    hostnames: HashSet<String, foldhash::fast::RandomState>,
    substrings: Vec<String>,
    regexes: Vec<regex::Regex>,
    blocks: Vec<(IpAddr, u8)>,
    /// Names of the loaded lists, with their entry counts.
    pub lists: Vec<(String, usize)>,
    /// Entries that were skipped because they are not what their list's
    /// type says (real lists have a few, e.g. `corona helden` in a
    /// `hostname` list), as `source: message`.
    pub skipped: Vec<String>,
}

#[derive(serde::Deserialize)]
struct Warninglist {
    name: String,
    #[serde(rename = "type")]
    list_type: String,
    list: Vec<String>,
}

impl AllowList {
    /// Adds a MISP warninglist given as JSON text; `source_name` names it in errors.
    pub fn add_misp_json(&mut self, json: &str, source_name: &str) -> Result<(), AllowListError> {
        let invalid = |message: String| AllowListError::Invalid { source_name: source_name.to_owned(), message };
        let wl: Warninglist = serde_json::from_str(json).map_err(|e| invalid(format!("not a misp warninglist (needs name, type, list): {e}")))?;
        if !["string", "hostname", "substring", "regex", "cidr"].contains(&wl.list_type.as_str()) {
            return Err(invalid(format!("type '{}' is not one of string, hostname, substring, regex, cidr", wl.list_type)));
        }
        for entry in &wl.list {
            let entry = entry.trim();
            if entry.is_empty() {
                continue;
            }
            match wl.list_type.as_str() {
                "string" => {
                    self.exact.insert(entry.to_lowercase());
                }
                "hostname" => match normalize::domain(entry) {
                    Some(host) => drop(self.hostnames.insert(host.into_owned())),
                    None => self.skipped.push(format!("{source_name}: list entry '{entry}' is not a host name")),
                },
                "substring" => self.substrings.push(entry.to_lowercase()),
                "regex" => match regex::RegexBuilder::new(entry).size_limit(1 << 20).build() {
                    Ok(re) => self.regexes.push(re),
                    Err(e) => self.skipped.push(format!("{source_name}: list entry '{entry}' is not a regular expression: {e}")),
                },
                "cidr" => match normalize::cidr(entry) {
                    Some(block) => self.blocks.push(block),
                    None => self.skipped.push(format!("{source_name}: list entry '{entry}' is not a cidr block")),
                },
                other => return Err(invalid(format!("type '{other}' is not one of string, hostname, substring, regex, cidr"))),
            }
        }
        self.lists.push((wl.name, wl.list.len()));
        Ok(())
    }

    /// Whether nothing is allow-listed.
    pub fn is_empty(&self) -> bool {
        self.exact.is_empty() && self.hostnames.is_empty() && self.substrings.is_empty() && self.regexes.is_empty() && self.blocks.is_empty()
    }

    /// Whether a matched value (in its normal form) is allow-listed.
    pub fn allows(&self, value: &str) -> bool {
        if self.is_empty() {
            return false;
        }
        let lower = value.to_lowercase();
        if self.exact.contains(&lower) {
            return true;
        }
        if let Some(ip) = normalize::ip(value) {
            if self.blocks.iter().any(|&(net, len)| normalize::in_block(ip, net, len)) {
                return true;
            }
        } else if !self.hostnames.is_empty() {
            // The host of a URL or e-mail address, or the value itself.
            let host = lower.rsplit_once('@').map_or(lower.as_str(), |(_, h)| h);
            let host = host.split_once("://").map_or(host, |(_, rest)| rest.split(['/', ':', '?', '#']).next().unwrap_or(rest));
            let mut suffix = host;
            loop {
                if self.hostnames.contains(suffix) {
                    return true;
                }
                match suffix.split_once('.') {
                    Some((_, rest)) => suffix = rest,
                    None => break,
                }
            }
        }
        self.substrings.iter().any(|s| lower.contains(s.as_str())) || self.regexes.iter().any(|r| r.is_match(value))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_warninglist_type_suppresses_what_it_names() {
        let mut a = AllowList::default();
        a.add_misp_json(r#"{"name":"c","type":"cidr","list":["10.0.0.0/8","2001:db8::/32"],"description":"","version":1}"#, "c").unwrap();
        a.add_misp_json(r#"{"name":"h","type":"hostname","list":["example.org"]}"#, "h").unwrap();
        a.add_misp_json(r#"{"name":"s","type":"string","list":["D41D8CD98F00B204E9800998ECF8427E"]}"#, "s").unwrap();
        a.add_misp_json(r#"{"name":"u","type":"substring","list":["sandbox"]}"#, "u").unwrap();
        a.add_misp_json(r#"{"name":"r","type":"regex","list":["^abuse@"]}"#, "r").unwrap();
        assert!(a.allows("10.2.3.4"));
        assert!(a.allows("2001:db8::5"));
        assert!(!a.allows("11.2.3.4"));
        assert!(a.allows("www.example.org"));
        assert!(a.allows("https://example.org/x"));
        assert!(!a.allows("example.org.evil.com"));
        assert!(a.allows("d41d8cd98f00b204e9800998ecf8427e"));
        assert!(a.allows("my-sandbox.net"));
        assert!(a.allows("abuse@x.com"));
        assert!(!a.allows("evil.com"));
    }

    #[test]
    fn a_bad_list_is_an_error_and_a_bad_entry_is_skipped_naming_the_file() {
        let mut a = AllowList::default();
        a.add_misp_json(r#"{"name":"c","type":"cidr","list":["10.0.0.0/99","192.0.2.0/24"]}"#, "lists/x.json").unwrap();
        assert_eq!(a.skipped.len(), 1);
        assert!(a.skipped[0].contains("lists/x.json") && a.skipped[0].contains("10.0.0.0/99"), "{:?}", a.skipped);
        assert!(a.allows("192.0.2.1"));
        let e = a.add_misp_json(r#"{"name":"c"}"#, "y.json").unwrap_err();
        assert!(e.to_string().contains("y.json"), "{e}");
        let e = a.add_misp_json(r#"{"name":"c","type":"glob","list":[]}"#, "z.json").unwrap_err();
        assert!(e.to_string().contains("z.json") && e.to_string().contains("glob"), "{e}");
    }
}
