//! The map of Europe: Natural Earth 1:50m country shapes from the
//! `world-atlas` npm package (TopoJSON), projected (Lambert azimuthal
//! equal-area centred on 10°E 52°N, as ETRS89-LAEA) and turned into SVG
//! paths at build time; each country is coloured by the worst impact of
//! its open incidents and carries its counts.

use crate::html::esc;
use std::collections::BTreeMap;

/// One country's shape on the map.
#[derive(Clone, Copy, Debug)]
pub struct MapCountry {
    /// ISO 3166-1 alpha-3 code.
    pub code: &'static str,
    /// Natural Earth's short name.
    pub name: &'static str,
    /// SVG path data.
    pub path: &'static str,
    /// Where its counts are drawn.
    pub anchor: (f64, f64),
}

include!(concat!(env!("OUT_DIR"), "/europe_map.rs"));

/// The impact columns: the NIS Cooperation Group impact severity of an
/// incident (red, yellow, green, white), or not rated.
pub const SEVERITIES: [&str; 5] = ["red", "yellow", "green", "white", "unrated"];

/// What the map shows of one country, computed under the reader's rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CountryFigures {
    /// Open incidents affecting it, by [`SEVERITIES`] column.
    pub incidents: [u64; 5],
    /// Assistance requests for its organisations whose team is deployed
    /// (deployed, active, demobilising).
    pub deployments: u64,
    /// Open assistance requests for its organisations (not final, not deployed).
    pub requests: u64,
}

impl CountryFigures {
    /// Open incidents in all.
    pub fn open_incidents(&self) -> u64 {
        self.incidents.iter().sum()
    }

    /// The worst severity column with an incident, if any.
    pub fn worst(&self) -> Option<usize> {
        self.incidents.iter().position(|n| *n > 0)
    }
}

/// A country's display name: the map's, else the code.
pub fn country_name(code: &str) -> &str {
    MAP_COUNTRIES.iter().find(|c| c.code == code).map(|c| c.name).unwrap_or(code)
}

/// The SVG map with each country's figures.
pub fn render(figures: &BTreeMap<String, CountryFigures>) -> String {
    let (w, h) = MAP_SIZE;
    let mut out = format!(
        "<svg id=\"map\" class=\"map\" viewBox=\"0 0 {w:.0} {h:.0}\" role=\"img\" aria-label=\"Map of Europe: open incidents, deployments and assistance requests per country\">\
         <rect class=\"sea\" x=\"0\" y=\"0\" width=\"{w:.0}\" height=\"{h:.0}\"/><path class=\"land-other\" d=\"{MAP_OTHER_LAND}\"/>"
    );
    let mut marks = String::new();
    for c in MAP_COUNTRIES {
        let f = figures.get(c.code);
        let class = match f.and_then(CountryFigures::worst) {
            Some(col) => format!("sev-{}", SEVERITIES[col]),
            None => "sev-none".into(),
        };
        let empty = CountryFigures::default();
        let f = f.unwrap_or(&empty);
        let title = format!(
            "{}: {} open incident(s) (red {}, yellow {}, green {}, white {}, unrated {}); {} deployment(s); {} assistance request(s)",
            c.name,
            f.open_incidents(),
            f.incidents[0],
            f.incidents[1],
            f.incidents[2],
            f.incidents[3],
            f.incidents[4],
            f.deployments,
            f.requests
        );
        out.push_str(&format!(
            "<path class=\"country {class}\" data-country=\"{code}\" data-incidents=\"{n}\" data-deployments=\"{d}\" data-requests=\"{r}\" d=\"{path}\"><title>{title}</title></path>",
            code = c.code,
            n = f.open_incidents(),
            d = f.deployments,
            r = f.requests,
            path = c.path,
            title = esc(&title),
        ));
        let (x, y) = c.anchor;
        if f.open_incidents() > 0 {
            marks.push_str(&format!(
                "<g class=\"mark\"><circle cx=\"{x:.1}\" cy=\"{y:.1}\" r=\"8\"/><text x=\"{x:.1}\" y=\"{:.1}\">{}</text></g>",
                y + 3.5,
                f.open_incidents()
            ));
        }
        if f.deployments > 0 {
            marks.push_str(&format!(
                "<g class=\"mark-deploy\"><rect x=\"{:.1}\" y=\"{:.1}\" width=\"11\" height=\"11\" transform=\"rotate(45 {:.1} {:.1})\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                x + 8.5,
                y - 5.5,
                x + 14.0,
                y,
                x + 14.0,
                y + 3.5,
                f.deployments
            ));
        }
        if f.requests > 0 {
            marks.push_str(&format!(
                "<g class=\"mark-request\"><polygon points=\"{:.1},{:.1} {:.1},{:.1} {:.1},{:.1}\"/><text x=\"{:.1}\" y=\"{:.1}\">{}</text></g>",
                x - 23.0,
                y + 6.0,
                x - 9.0,
                y + 6.0,
                x - 16.0,
                y - 7.0,
                x - 16.0,
                y + 4.5,
                f.requests
            ));
        }
    }
    out.push_str(&marks);
    out.push_str("</svg>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_map_has_the_member_states_with_shapes_inside_the_frame() {
        for code in ["LTU", "EST", "LVA", "POL", "DEU", "FRA", "ESP", "PRT", "MLT", "CYP", "LUX", "IRL", "FIN", "GRC", "NOR", "GBR", "TUR"] {
            let c = MAP_COUNTRIES.iter().find(|c| c.code == code).unwrap_or_else(|| panic!("{code} is missing"));
            assert!(c.path.starts_with('M'), "{code} has no path");
            let (x, y) = c.anchor;
            assert!(x > 0.0 && x < MAP_SIZE.0 && y > 0.0 && y < MAP_SIZE.1, "{code} anchor {x},{y} outside the map");
        }
        assert_eq!(country_name("LTU"), "Lithuania");
    }

    #[test]
    fn render_colours_by_the_worst_open_severity_and_shows_counts() {
        let mut figures = BTreeMap::new();
        figures.insert("LTU".to_owned(), CountryFigures { incidents: [0, 2, 1, 0, 0], deployments: 1, requests: 0 });
        let svg = render(&figures);
        assert!(svg.contains("class=\"country sev-yellow\" data-country=\"LTU\" data-incidents=\"3\" data-deployments=\"1\""));
        assert!(svg.contains("class=\"country sev-none\" data-country=\"EST\" data-incidents=\"0\""));
        assert!(svg.contains("Lithuania: 3 open incident(s)"));
    }
}
