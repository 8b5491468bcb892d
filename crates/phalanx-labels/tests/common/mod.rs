//! Fixtures shared by the integration tests: a small federation and label builders.
#![allow(dead_code)]

use std::collections::BTreeSet;

use phalanx_labels::*;

pub const ID_LT_CERT: &str = "identity--0a1b2c3d-0000-4000-8000-000000000001";
pub const ID_LT_CLIENT: &str = "identity--0a1b2c3d-0000-4000-8000-000000000002";
pub const ID_EE_CERT: &str = "identity--0a1b2c3d-0000-4000-8000-000000000003";
pub const ID_DE_BSI: &str = "identity--0a1b2c3d-0000-4000-8000-000000000004";
pub const ID_AT_CERT: &str = "identity--0a1b2c3d-0000-4000-8000-000000000005";
pub const ID_NO_CERT: &str = "identity--0a1b2c3d-0000-4000-8000-000000000006";
pub const ID_NETWORK: &str = "identity--0a1b2c3d-0000-4000-8000-000000000007";
pub const ID_BARE: &str = "identity--0a1b2c3d-0000-4000-8000-000000000008";

pub fn set(items: &[&str]) -> BTreeSet<String> {
    items.iter().map(|s| s.to_string()).collect()
}

pub fn org(
    id: &str,
    country: Option<&str>,
    memberships: &[&str],
    parent: Option<&str>,
) -> Organisation {
    Organisation {
        id: id.to_string(),
        country: country.map(str::to_string),
        memberships: set(memberships),
        parent: parent.map(str::to_string),
    }
}

/// Lithuania's national CSIRT: EU and NATO member.
pub fn lt_cert() -> Organisation {
    org(ID_LT_CERT, Some("LTU"), &["EU", "NATO"], None)
}
/// A constituent of the Lithuanian CSIRT with no country recorded.
pub fn lt_client() -> Organisation {
    org(ID_LT_CLIENT, None, &[], Some(ID_LT_CERT))
}
pub fn ee_cert() -> Organisation {
    org(ID_EE_CERT, Some("EST"), &["EU", "NATO"], None)
}
pub fn de_bsi() -> Organisation {
    org(ID_DE_BSI, Some("DEU"), &["EU", "NATO"], None)
}
/// EU but not NATO.
pub fn at_cert() -> Organisation {
    org(ID_AT_CERT, Some("AUT"), &["EU"], None)
}
/// NATO but not EU.
pub fn no_cert() -> Organisation {
    org(ID_NO_CERT, Some("NOR"), &["NATO"], None)
}
/// A member of a node-defined community only.
pub fn network_member() -> Organisation {
    org(ID_NETWORK, None, &["CSIRTS-NETWORK"], None)
}
/// An organisation with no country and no memberships.
pub fn bare() -> Organisation {
    org(ID_BARE, None, &[], None)
}

pub struct R(pub Reader);

impl R {
    pub fn of(o: Organisation) -> Self {
        R(Reader::new(o))
    }
    pub fn cleared(mut self, r: Rank, briefed: &[Policy]) -> Self {
        self.0.clearance = r;
        self.0.briefed = briefed.iter().cloned().collect();
        self
    }
    pub fn caveats(mut self, c: &[&str]) -> Self {
        self.0.caveats = set(c);
        self
    }
    pub fn context(mut self, c: &str) -> Self {
        self.0.context = Some(c.to_string());
        self
    }
    pub fn parent_org(mut self, p: Organisation) -> Self {
        self.0.parent_org = Some(p);
        self
    }
    pub fn s(self) -> Subject {
        Subject::User(self.0)
    }
}

/// Label builder.
pub struct L(pub Label);

impl L {
    pub fn new(policy: Policy, rank: Rank) -> Self {
        let mut l = Label::unclassified(Tlp::Green);
        l.policy = policy;
        l.classification = rank;
        L(l)
    }
    pub fn uncl() -> Self {
        L::new(Policy::Unclassified, Rank::Unclassified)
    }
    pub fn tlp(mut self, t: Tlp) -> Self {
        self.0.tlp = Some(t);
        self
    }
    pub fn no_tlp(mut self) -> Self {
        self.0.tlp = None;
        self
    }
    pub fn pap(mut self, p: Pap) -> Self {
        self.0.pap = Some(p);
        self
    }
    pub fn rel(mut self, r: &[&str]) -> Self {
        self.0.releasable_to = set(r);
        self
    }
    pub fn caveats(mut self, c: &[&str]) -> Self {
        self.0.caveats = set(c);
        self
    }
    pub fn exercise(mut self, e: &str) -> Self {
        self.0.exercise = Some(e.to_string());
        self
    }
    pub fn orig(mut self, o: &str) -> Self {
        self.0.originator = Some(o.to_string());
        self
    }
    pub fn l(self) -> Label {
        self.0
    }
}

pub fn national(c: &str) -> Policy {
    Policy::National(c.to_string())
}
