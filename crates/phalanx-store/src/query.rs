//! Query parameters and result pages.

use crate::StoredObject;
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
    /// Which versions.
    pub versions: VersionFilter,
    /// Full-text query over names and descriptions.
    pub text: Option<String>,
    /// Include revoked versions (default true, as TAXII serves them).
    pub exclude_revoked: bool,
    /// Most rows to return (0 = no limit).
    pub limit: usize,
    /// Continue after this position.
    pub after: Option<Cursor>,
    /// Order of results.
    pub order: Order,
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
