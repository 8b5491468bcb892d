//! Query parameters and result pages.

use crate::StoredObject;
use phalanx_labels::{Label, Policy, Rank, Tlp};
use phalanx_model::Timestamp;

/// Which versions of each object a query returns (TAXII `match[version]`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum VersionFilter {
    /// The newest version the reader may read (the default).
    #[default]
    Last,
    /// The oldest version the reader may read.
    First,
    /// Every version the reader may read.
    All,
    /// Versions with exactly these `modified`/`created` instants.
    Exact(Vec<Timestamp>),
    /// Several of the above, ORed (TAXII allows `first,last`).
    AnyOf(Vec<VersionFilter>),
}

/// Result order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Order {
    /// Oldest `date_added` first (TAXII order).
    #[default]
    AddedAscending,
    /// Newest `date_added` first.
    AddedDescending,
}

/// A position in a result list: the `seq` of the last row returned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cursor(pub i64);

impl Cursor {
    /// The opaque text form used in TAXII `next` and REST cursors.
    pub fn encode(&self) -> String {
        format!("{:x}", self.0)
    }
    /// Parses [`Cursor::encode`] output.
    pub fn decode(text: &str) -> Option<Cursor> {
        if text.is_empty() || text.len() > 16 {
            return None;
        }
        i64::from_str_radix(text, 16).ok().filter(|v| *v >= 0).map(Cursor)
    }
}

/// What to select. Every filter is ANDed; values within one filter are ORed.
#[derive(Clone, Debug, Default)]
pub struct Query {
    /// Object ids.
    pub ids: Vec<String>,
    /// Object types.
    pub types: Vec<String>,
    /// Only versions added strictly after this instant.
    pub added_after: Option<Timestamp>,
    /// Only versions added strictly before this instant.
    pub added_before: Option<Timestamp>,
    /// Only relationships and sightings whose relationship references
    /// (`source_ref`, `target_ref`, `sighting_of_ref`, `observed_data_refs`,
    /// `where_sighted_refs`) name one of these ids.
    pub referencing: Vec<String>,
    /// Only versions every relationship reference of which names an object
    /// the reader may read (a relationship or sighting to something the
    /// reader may not read, or to nothing stored, is left out: the two
    /// look alike). Objects without relationship references are unaffected.
    pub readable_ends: bool,
    /// Which versions.
    pub versions: VersionFilter,
    /// Full-text query over names and descriptions; the whole text is also
    /// looked up as a value in normal form (an address, a domain and its
    /// subdomains, a URL, an e-mail address, a hash).
    pub text: Option<String>,
    /// Include revoked versions (default true, as TAXII serves them).
    pub exclude_revoked: bool,
    /// Most rows to return (0 = no limit).
    pub limit: usize,
    /// Continue after this position.
    pub after: Option<Cursor>,
    /// Order of results.
    pub order: Order,
    /// Conditions on the label; `None` = any label the reader may read.
    pub label: Option<LabelFilter>,
}

/// Conditions on the security label of the selected versions. Every set
/// condition must hold; values within one condition are ORed. A filter only
/// narrows what the read rule lets through, never widens it.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LabelFilter {
    /// TLP levels; `None` inside the list matches "no TLP".
    pub tlp: Vec<Option<Tlp>>,
    /// Policies.
    pub policies: Vec<Policy>,
    /// Lowest classification rank.
    pub min_classification: Option<Rank>,
    /// Highest classification rank.
    pub max_classification: Option<Rank>,
    /// Audience tokens (`EU`, `NATO`, a country, an organisation id): the
    /// label names one of them in `releasable_to`, or has an empty
    /// `releasable_to` whose policy's default community is that token
    /// (spec §1). This is what a community collection selects.
    pub audience: Vec<String>,
    /// Originator organisation ids.
    pub originators: Vec<String>,
}

impl LabelFilter {
    /// Whether `label` meets every set condition.
    pub fn matches(&self, label: &Label) -> bool {
        if !self.tlp.is_empty() && !self.tlp.contains(&label.tlp) {
            return false;
        }
        if !self.policies.is_empty() && !self.policies.contains(&label.policy) {
            return false;
        }
        if self.min_classification.is_some_and(|min| label.classification < min) {
            return false;
        }
        if self.max_classification.is_some_and(|max| label.classification > max) {
            return false;
        }
        if !self.audience.is_empty() {
            let named = self.audience.iter().any(|t| label.releasable_to.contains(t));
            let by_default = label.releasable_to.is_empty()
                && label
                    .policy
                    .default_community_token()
                    .is_some_and(|community| self.audience.iter().any(|t| t == community));
            if !named && !by_default {
                return false;
            }
        }
        if !self.originators.is_empty() {
            match &label.originator {
                Some(o) if self.originators.contains(o) => {}
                _ => return false,
            }
        }
        true
    }
}

/// One page of results.
#[derive(Clone, Debug, Default)]
pub struct Page {
    /// The objects, in the query's order.
    pub objects: Vec<StoredObject>,
    /// Whether more rows follow.
    pub more: bool,
    /// Where the next page starts, when `more`.
    pub next: Option<Cursor>,
}

/// One page of results as their JSON texts only, for a server that sends
/// the objects on as they are stored (a TAXII envelope): nothing else of
/// an object is read or decoded.
#[derive(Clone, Debug, Default)]
pub struct JsonPage {
    /// The JSON texts of the objects, one after another (not in page
    /// order: see [`JsonPageObject::text`]).
    pub texts: String,
    /// The objects, in the query's order.
    pub objects: Vec<JsonPageObject>,
    /// The labels of the objects ([`JsonPageObject::label`] indexes it).
    pub labels: Vec<phalanx_labels::Label>,
    /// Whether more rows follow.
    pub more: bool,
    /// Where the next page starts, when `more`.
    pub next: Option<Cursor>,
}

/// One object of a [`JsonPage`].
#[derive(Clone, Debug)]
pub struct JsonPageObject {
    /// Where its JSON text lies in [`JsonPage::texts`] (byte range).
    pub text: std::ops::Range<usize>,
    /// When this node stored it (`date_added`).
    pub date_added: Timestamp,
    /// Its label, as an index into [`JsonPage::labels`].
    pub label: usize,
}

impl JsonPage {
    /// The JSON text of each object, in page order.
    pub fn texts(&self) -> impl Iterator<Item = &str> + Clone {
        self.objects.iter().map(|o| &self.texts[o.text.clone()])
    }

    /// The same page, from a [`Page`] read in full.
    pub fn from_page(page: Page) -> JsonPage {
        let mut out = JsonPage { more: page.more, next: page.next, ..JsonPage::default() };
        for o in page.objects {
            let label = match out.labels.iter().position(|l| *l == o.label) {
                Some(i) => i,
                None => {
                    out.labels.push(o.label);
                    out.labels.len() - 1
                }
            };
            let start = out.texts.len();
            out.texts.push_str(&o.json);
            out.objects.push(JsonPageObject { text: start..out.texts.len(), date_added: o.date_added, label });
        }
        out
    }
}
