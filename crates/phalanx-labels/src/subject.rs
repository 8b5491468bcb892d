//! Who is reading (spec §2): organisations, users and anonymous requests.

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::model::{NOBODY, Policy, Rank};

/// An organisation of the federation (spec §2).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Organisation {
    /// Its id, `identity--<uuid>`.
    pub id: String,
    /// Its country, ISO 3166 alpha-3 uppercase.
    #[serde(default)]
    pub country: Option<String>,
    /// The groups it is a member of: `EU`, `NATO`, communities the node defines.
    #[serde(default)]
    pub memberships: BTreeSet<String>,
    /// Its parent organisation's id (a national CSIRT is the parent of its
    /// constituents, the "clients" of TLP:AMBER).
    #[serde(default)]
    pub parent: Option<String>,
}

impl Organisation {
    /// An organisation with only an id.
    pub fn new(id: impl Into<String>) -> Self {
        Organisation {
            id: id.into(),
            country: None,
            memberships: BTreeSet::new(),
            parent: None,
        }
    }

    /// Whether this organisation matches a `releasable_to` token (spec §2):
    /// the token is its id, its country, or a group it is a member of. The
    /// empty token and [`NOBODY`] match no organisation.
    pub fn matches(&self, token: &str) -> bool {
        if token.is_empty() || token == NOBODY {
            return false;
        }
        self.id == token
            || self.country.as_deref() == Some(token)
            || self.memberships.contains(token)
    }

    /// Whether this organisation is in `policy`'s default community
    /// (spec §1): for `EU` and `NATO` the members of that group, for
    /// `NATIONAL:X` the organisations of country X, for `UNCLASSIFIED` every
    /// organisation of the federation.
    ///
    /// Membership is decided by [`Organisation::matches`] on the policy's
    /// token (`EU`, `NATO`, `X`), so the default community of a policy is
    /// exactly the audience of `releasable_to = [token]`. (For `NATIONAL:X`
    /// this also admits a member of a community named `X`; a node must not
    /// give a community the name of a country code.)
    pub fn in_default_community(&self, policy: &Policy) -> bool {
        match policy.default_community_token() {
            None => true,
            Some(t) => self.matches(t),
        }
    }
}

/// A signed-in user (spec §2): its organisation, clearance, briefings,
/// caveats and the context of the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reader {
    /// The user's organisation.
    pub org: Organisation,
    /// The organisation's parent, when known in full. The parent is
    /// `org.parent`: this is used only when its id equals `org.parent`;
    /// otherwise a parent is matched by its id alone.
    #[serde(default)]
    pub parent_org: Option<Organisation>,
    /// The user's clearance rank.
    pub clearance: Rank,
    /// The policies the user is briefed for.
    #[serde(default)]
    pub briefed: BTreeSet<Policy>,
    /// The caveats the user holds.
    #[serde(default)]
    pub caveats: BTreeSet<String>,
    /// The request's context: `None` = the real world, `Some(id)` = that exercise.
    #[serde(default)]
    pub context: Option<String>,
}

impl Reader {
    /// A reader of `org` with no clearance, no briefings, no caveats, in the
    /// real world.
    pub fn new(org: Organisation) -> Self {
        Reader {
            org,
            parent_org: None,
            clearance: Rank::Unclassified,
            briefed: BTreeSet::new(),
            caveats: BTreeSet::new(),
            context: None,
        }
    }

    /// The reader's parent organisation as rule 2 sees it.
    pub(crate) fn parent(&self) -> Option<ParentView<'_>> {
        ParentView::of(&self.org, self.parent_org.as_ref())
    }
}

/// The subject of a request: anonymous, or a signed-in user.
///
/// Anonymous requests (public feeds) always run in the real world and
/// belong to no organisation; they see only TLP:CLEAR, UNCLASSIFIED,
/// real-world data whose releasable_to is empty and that has no caveats
/// (spec §3). There is no administrator subject: no role bypasses the read
/// rule, so an administrator reads as the [`Reader`] it is.
// A subject is built once per request; boxing the reader would only make
// it clumsier to build.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum Subject {
    /// An anonymous request (public feed), real-world context.
    Anonymous,
    /// A signed-in user.
    User(Reader),
}

impl Subject {
    /// The request's context: `None` = the real world.
    pub fn context(&self) -> Option<&str> {
        match self {
            Subject::Anonymous => None,
            Subject::User(r) => r.context.as_deref(),
        }
    }

    /// The user's organisation; `None` for anonymous requests.
    pub fn organisation(&self) -> Option<&Organisation> {
        match self {
            Subject::Anonymous => None,
            Subject::User(r) => Some(&r.org),
        }
    }
}

impl From<Reader> for Subject {
    fn from(r: Reader) -> Self {
        Subject::User(r)
    }
}

/// An organisation's parent as far as it is known: in full, or by id only.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ParentView<'a> {
    Full(&'a Organisation),
    IdOnly(&'a str),
}

impl<'a> ParentView<'a> {
    /// `org.parent` is authoritative; `known` is used when its id agrees.
    pub(crate) fn of(org: &'a Organisation, known: Option<&'a Organisation>) -> Option<Self> {
        let pid = org.parent.as_deref()?;
        match known {
            Some(p) if p.id == pid => Some(ParentView::Full(p)),
            _ => Some(ParentView::IdOnly(pid)),
        }
    }

    pub(crate) fn matches(&self, token: &str) -> bool {
        match self {
            ParentView::Full(p) => p.matches(token),
            ParentView::IdOnly(id) => !token.is_empty() && token != NOBODY && *id == token,
        }
    }
}
