//! Markings on screen: the banner with the highest label of what a page
//! shows, in the colours of the classification or the TLP, and the label
//! badge every object carries.

use crate::html::esc;
use phalanx_labels::{Label, Policy, Rank, Tlp, display_name};
use std::collections::BTreeSet;

/// The highest marking of everything a page shows: the highest
/// classification (with every policy seen at that rank), the most
/// restrictive TLP, and every caveat seen.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Highest {
    /// Highest classification rank seen.
    pub rank: Rank,
    /// Policies of the labels at that rank (several when EU and NATO data
    /// of the same rank are shown together).
    pub policies: BTreeSet<Policy>,
    /// Most restrictive TLP seen.
    pub tlp: Option<Tlp>,
    /// Every caveat seen.
    pub caveats: BTreeSet<String>,
    /// Whether anything was added at all.
    pub any: bool,
}

impl Highest {
    /// Nothing shown yet: the banner says UNCLASSIFIED.
    pub fn new() -> Self {
        Highest::default()
    }

    /// Takes one more label into account.
    pub fn add(&mut self, label: &Label) {
        if !self.any || label.classification > self.rank {
            self.rank = label.classification;
            self.policies.clear();
        }
        if label.classification == self.rank {
            self.policies.insert(label.policy.clone());
        }
        if label.tlp > self.tlp {
            self.tlp = label.tlp;
        }
        self.caveats.extend(label.caveats.iter().cloned());
        self.any = true;
    }

    /// Takes every label of `labels` into account.
    pub fn add_all<'a>(&mut self, labels: impl IntoIterator<Item = &'a Label>) {
        for l in labels {
            self.add(l);
        }
    }

    /// The classification text: `NATO SECRET`, `SECRET UE/EU SECRET /
    /// NATO SECRET`, `UNCLASSIFIED`.
    pub fn classification_text(&self) -> String {
        if self.policies.is_empty() {
            return "UNCLASSIFIED".into();
        }
        let names: Vec<String> = self
            .policies
            .iter()
            .map(|p| match p {
                Policy::National(c) => format!("{c} {}", display_name(p, self.rank, None)),
                _ => display_name(p, self.rank, None),
            })
            .collect();
        names.join(" / ")
    }

    /// The banner at the top of a page (see [`Highest::banner_as`]).
    pub fn banner(&self, exercise: Option<&str>) -> String {
        self.banner_as("banner", exercise)
    }

    /// The banner as the element `id` (top and bottom of a page): the
    /// classification (with caveats) and TLP, coloured, and an EXERCISE
    /// banner above it in an exercise context. It carries `hx-swap-oob`,
    /// so that a live fragment that brings it replaces the page's own.
    pub fn banner_as(&self, id: &str, exercise: Option<&str>) -> String {
        let mut text = self.classification_text();
        for c in &self.caveats {
            text.push(' ');
            text.push_str(c);
        }
        let tlp = match self.tlp {
            Some(t) => format!(" <span class=\"tlp tlp-{}\">TLP:{}</span>", tlp_class(t), esc(&t.as_str().to_ascii_uppercase())),
            None => String::new(),
        };
        let exercise = match exercise {
            Some(e) => format!("<div class=\"exercise-banner\" id=\"exercise-{id}\">EXERCISE EXERCISE EXERCISE · {}</div>", esc(e)),
            None => String::new(),
        };
        format!(
            "<div id=\"{id}\" hx-swap-oob=\"true\">{exercise}<div class=\"banner {}\" data-classification=\"{}\" data-tlp=\"{}\">{}{tlp}</div></div>",
            rank_class(self.rank, self.tlp),
            self.rank.as_str(),
            self.tlp.map(Tlp::as_str).unwrap_or(""),
            esc(&text),
        )
    }
}

/// The CSS class of a TLP level.
pub fn tlp_class(tlp: Tlp) -> &'static str {
    match tlp {
        Tlp::Clear => "clear",
        Tlp::Green => "green",
        Tlp::Amber => "amber",
        Tlp::AmberStrict => "amber-strict",
        Tlp::Red => "red",
    }
}

/// The CSS class of a banner: by classification, and for unclassified
/// data by TLP.
pub fn rank_class(rank: Rank, tlp: Option<Tlp>) -> String {
    match rank {
        Rank::Unclassified => format!("cls-unclassified cls-tlp-{}", tlp.map(tlp_class).unwrap_or("none")),
        Rank::Restricted => "cls-restricted".into(),
        Rank::Confidential => "cls-confidential".into(),
        Rank::Secret => "cls-secret".into(),
        Rank::TopSecret => "cls-top-secret".into(),
    }
}

/// The badge of one object's label: its display name and TLP.
pub fn badge(label: &Label) -> String {
    let tlp = match label.tlp {
        Some(t) => format!(" <span class=\"tlp tlp-{}\">TLP:{}</span>", tlp_class(t), esc(&t.as_str().to_ascii_uppercase())),
        None => String::new(),
    };
    format!(
        "<span class=\"label {}\" data-classification=\"{}\">{}</span>{tlp}",
        rank_class(label.classification, label.tlp),
        label.classification.as_str(),
        esc(&label.display_name(None)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn label(policy: Policy, rank: Rank, tlp: Tlp) -> Label {
        Label { policy, classification: rank, tlp: Some(tlp), ..Label::unclassified(Tlp::Clear) }
    }

    #[test]
    fn highest_takes_the_top_rank_every_policy_at_it_and_the_strictest_tlp() {
        let mut h = Highest::new();
        assert_eq!(h.classification_text(), "UNCLASSIFIED");
        h.add(&label(Policy::Unclassified, Rank::Unclassified, Tlp::Red));
        h.add(&label(Policy::Eu, Rank::Restricted, Tlp::Green));
        assert_eq!(h.classification_text(), "RESTREINT UE/EU RESTRICTED");
        h.add(&label(Policy::Nato, Rank::Secret, Tlp::Amber));
        h.add(&label(Policy::Eu, Rank::Secret, Tlp::Amber));
        assert_eq!(h.rank, Rank::Secret);
        assert_eq!(h.classification_text(), "SECRET UE/EU SECRET / NATO SECRET");
        assert_eq!(h.tlp, Some(Tlp::Red));
        let banner = h.banner(Some("cyber-europe-2026"));
        assert!(banner.contains("cls-secret"));
        assert!(banner.contains("TLP:RED"));
        assert!(banner.contains("EXERCISE"));
        assert!(!h.banner(None).contains("EXERCISE"));
    }

    #[test]
    fn badge_escapes_and_colours() {
        let mut l = label(Policy::Nato, Rank::Confidential, Tlp::AmberStrict);
        l.caveats.insert("<X>".into());
        let b = badge(&l);
        assert!(b.contains("NATO CONFIDENTIAL &lt;X&gt;"));
        assert!(b.contains("cls-confidential"));
        assert!(b.contains("TLP:AMBER+STRICT"));
    }
}
