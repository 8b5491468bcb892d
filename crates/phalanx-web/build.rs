//! Build script: installs the front-end assets from npm (`web/`, pinned by
//! its `package-lock.json`) when they are missing, copies the files the UI
//! serves into `OUT_DIR`, and turns the Natural Earth TopoJSON of the
//! `world-atlas` package into the SVG paths of the map of Europe
//! (`europe_map.rs`). Nothing is fetched at run time.

use serde_json::Value;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;

/// ISO 3166-1 numeric -> alpha-3 for the countries the map window shows.
const ISO_NUMERIC: &[(&str, &str)] = &[
    ("008", "ALB"), ("012", "DZA"), ("020", "AND"), ("040", "AUT"), ("031", "AZE"), ("051", "ARM"),
    ("056", "BEL"), ("070", "BIH"), ("100", "BGR"), ("112", "BLR"), ("191", "HRV"), ("196", "CYP"),
    ("203", "CZE"), ("208", "DNK"), ("233", "EST"), ("234", "FRO"), ("246", "FIN"), ("250", "FRA"),
    ("268", "GEO"), ("276", "DEU"), ("300", "GRC"), ("304", "GRL"), ("348", "HUN"), ("352", "ISL"),
    ("364", "IRN"), ("368", "IRQ"), ("372", "IRL"), ("376", "ISR"), ("380", "ITA"), ("398", "KAZ"),
    ("400", "JOR"), ("422", "LBN"), ("428", "LVA"), ("434", "LBY"), ("438", "LIE"), ("440", "LTU"),
    ("442", "LUX"), ("470", "MLT"), ("492", "MCO"), ("498", "MDA"), ("499", "MNE"), ("504", "MAR"),
    ("528", "NLD"), ("578", "NOR"), ("616", "POL"), ("620", "PRT"), ("642", "ROU"), ("643", "RUS"),
    ("674", "SMR"), ("682", "SAU"), ("688", "SRB"), ("703", "SVK"), ("705", "SVN"), ("724", "ESP"),
    ("752", "SWE"), ("756", "CHE"), ("760", "SYR"), ("788", "TUN"), ("792", "TUR"), ("804", "UKR"),
    ("807", "MKD"), ("818", "EGY"), ("826", "GBR"), ("831", "GGY"), ("832", "JEY"), ("833", "IMN"),
    ("336", "VAT"), ("248", "ALA"), ("275", "PSE"), ("414", "KWT"), ("795", "TKM"), ("860", "UZB"),
];

/// Map window (degrees): what the projection must show.
const WINDOW_LON: (f64, f64) = (-25.0, 45.0);
const WINDOW_LAT: (f64, f64) = (34.0, 71.5);
/// Centre of the Lambert azimuthal equal-area projection (as ETRS89-LAEA).
const CENTRE: (f64, f64) = (10.0, 52.0);
/// Width of the SVG in user units.
const WIDTH: f64 = 1000.0;

fn main() {
    let manifest = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR"));
    let web = manifest.join("../../web");
    let out = PathBuf::from(std::env::var("OUT_DIR").expect("cargo sets OUT_DIR"));
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-changed={}", web.join("package-lock.json").display());
    println!("cargo:rerun-if-changed={}", web.join("package.json").display());
    let modules = web.join("node_modules");
    if !installed_as_pinned(&web) {
        let status = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--loglevel=error"])
            .current_dir(&web)
            .status();
        match status {
            Ok(s) if s.success() => {}
            Ok(s) => panic!("`npm ci` in {} failed ({s}): the web UI's assets come from npm at build time", web.display()),
            Err(e) => panic!("cannot run `npm ci` in {}: {e} (install Node.js and npm to build the web UI)", web.display()),
        }
    }
    let copies: &[(&str, &str)] = &[
        ("htmx.org/dist/htmx.min.js", "htmx.min.js"),
        ("uplot/dist/uPlot.iife.min.js", "uPlot.iife.min.js"),
        ("uplot/dist/uPlot.min.css", "uPlot.min.css"),
    ];
    for (from, to) in copies {
        copy(&modules.join(from), &out.join(to));
    }
    let mut licences = String::from("Third-party assets of the Phalanx web UI, installed from npm at build time.\n");
    for (package, file) in [("htmx.org", "LICENSE"), ("uplot", "LICENSE"), ("world-atlas", "LICENSE")] {
        let text = std::fs::read_to_string(modules.join(package).join(file))
            .unwrap_or_else(|e| panic!("cannot read the licence of {package}: {e}"));
        let version = package_version(&modules.join(package).join("package.json"));
        let _ = write!(licences, "\n==== {package} {version} ====\n{text}");
    }
    write(&out.join("LICENSES.txt"), licences.as_bytes());
    let topo = std::fs::read_to_string(modules.join("world-atlas/countries-50m.json"))
        .unwrap_or_else(|e| panic!("cannot read world-atlas/countries-50m.json: {e}"));
    let topo: Value = serde_json::from_str(&topo).unwrap_or_else(|e| panic!("world-atlas/countries-50m.json: {e}"));
    write(&out.join("europe_map.rs"), europe_map(&topo).as_bytes());
}

/// Whether every dependency of `web/package.json` is installed in
/// `web/node_modules` at the exact version pinned there.
fn installed_as_pinned(web: &Path) -> bool {
    let manifest = std::fs::read_to_string(web.join("package.json"))
        .unwrap_or_else(|e| panic!("cannot read {}: {e}", web.join("package.json").display()));
    let manifest: Value = serde_json::from_str(&manifest).unwrap_or_else(|e| panic!("web/package.json: {e}"));
    for section in ["dependencies", "devDependencies"] {
        for (name, pinned) in manifest[section].as_object().into_iter().flatten() {
            let installed = package_version(&web.join("node_modules").join(name).join("package.json"));
            if Some(installed.as_str()) != pinned.as_str() {
                return false;
            }
        }
    }
    true
}

fn copy(from: &Path, to: &Path) {
    println!("cargo:rerun-if-changed={}", from.display());
    std::fs::copy(from, to).unwrap_or_else(|e| panic!("cannot copy {} to {}: {e}", from.display(), to.display()));
}

fn write(path: &Path, bytes: &[u8]) {
    std::fs::write(path, bytes).unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
}

fn package_version(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_default();
    serde_json::from_str::<Value>(&text)
        .ok()
        .and_then(|v| v.get("version").and_then(Value::as_str).map(str::to_owned))
        .unwrap_or_default()
}

/// Lambert azimuthal equal-area, unit sphere, y up.
fn project(lon: f64, lat: f64) -> (f64, f64) {
    let (l0, p0) = (CENTRE.0.to_radians(), CENTRE.1.to_radians());
    let (l, p) = (lon.to_radians(), lat.to_radians());
    let k = (2.0 / (1.0 + p0.sin() * p.sin() + p0.cos() * p.cos() * (l - l0).cos())).sqrt();
    (k * p.cos() * (l - l0).sin(), k * (p0.cos() * p.sin() - p0.sin() * p.cos() * (l - l0).cos()))
}

/// Decodes every arc (quantized, delta-encoded) into longitude/latitude.
fn arcs(topo: &Value) -> Vec<Vec<(f64, f64)>> {
    let scale = &topo["transform"]["scale"];
    let translate = &topo["transform"]["translate"];
    let (sx, sy) = (scale[0].as_f64().unwrap_or(1.0), scale[1].as_f64().unwrap_or(1.0));
    let (tx, ty) = (translate[0].as_f64().unwrap_or(0.0), translate[1].as_f64().unwrap_or(0.0));
    let mut out = Vec::new();
    for arc in topo["arcs"].as_array().into_iter().flatten() {
        let (mut x, mut y) = (0i64, 0i64);
        let mut points = Vec::new();
        for p in arc.as_array().into_iter().flatten() {
            x += p[0].as_i64().unwrap_or(0);
            y += p[1].as_i64().unwrap_or(0);
            points.push((x as f64 * sx + tx, y as f64 * sy + ty));
        }
        out.push(points);
    }
    out
}

/// A ring from its arc indices (negative = reversed arc `!i`).
fn ring(indices: &Value, arcs: &[Vec<(f64, f64)>]) -> Vec<(f64, f64)> {
    let mut points: Vec<(f64, f64)> = Vec::new();
    for i in indices.as_array().into_iter().flatten() {
        let i = i.as_i64().unwrap_or(0);
        let mut arc = if i >= 0 { arcs[i as usize].clone() } else { arcs[!i as usize].clone() };
        if i < 0 {
            arc.reverse();
        }
        if !points.is_empty() {
            arc.remove(0);
        }
        points.extend(arc);
    }
    points
}

fn europe_map(topo: &Value) -> String {
    let arcs = arcs(topo);
    // Bounds of the window in projected coordinates.
    let (mut min_x, mut max_x, mut min_y, mut max_y) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
    let steps = 40;
    for i in 0..=steps {
        let t = i as f64 / steps as f64;
        let lon = WINDOW_LON.0 + t * (WINDOW_LON.1 - WINDOW_LON.0);
        let lat = WINDOW_LAT.0 + t * (WINDOW_LAT.1 - WINDOW_LAT.0);
        for (x, y) in [
            project(lon, WINDOW_LAT.0),
            project(lon, WINDOW_LAT.1),
            project(WINDOW_LON.0, lat),
            project(WINDOW_LON.1, lat),
        ] {
            min_x = min_x.min(x);
            max_x = max_x.max(x);
            min_y = min_y.min(y);
            max_y = max_y.max(y);
        }
    }
    // Keep the central part of the window: the outer corners of a conic
    // window are mostly sea.
    let shrink = 0.08 * (max_x - min_x);
    min_x += shrink;
    max_x -= shrink;
    let k = WIDTH / (max_x - min_x);
    let height = ((max_y - min_y) * k).round();
    let to_svg = |(lon, lat): (f64, f64)| {
        let (x, y) = project(lon, lat);
        ((x - min_x) * k, (max_y - y) * k)
    };
    let mut countries = String::new();
    let mut land = String::new();
    for g in topo["objects"]["countries"]["geometries"].as_array().into_iter().flatten() {
        let polygons: Vec<&Value> = match g["type"].as_str() {
            Some("Polygon") => vec![&g["arcs"]],
            Some("MultiPolygon") => g["arcs"].as_array().map(|a| a.iter().collect()).unwrap_or_default(),
            _ => continue,
        };
        let mut d = String::new();
        let mut best: Option<(f64, (f64, f64))> = None;
        for polygon in polygons {
            for (ring_no, r) in polygon.as_array().into_iter().flatten().enumerate() {
                let points = ring(r, &arcs);
                let inside = points.iter().any(|&(lon, lat)| {
                    lon >= WINDOW_LON.0 - 10.0 && lon <= WINDOW_LON.1 + 15.0 && lat >= WINDOW_LAT.0 - 6.0 && lat <= WINDOW_LAT.1 + 5.0
                });
                if !inside {
                    continue;
                }
                let projected: Vec<(f64, f64)> = points.into_iter().map(to_svg).collect();
                let mut last: Option<(f64, f64)> = None;
                let mut n = 0;
                for (i, &(x, y)) in projected.iter().enumerate() {
                    if let Some((lx, ly)) = last
                        && (x - lx).abs() < 0.6
                        && (y - ly).abs() < 0.6
                        && i + 1 != projected.len()
                    {
                        continue;
                    }
                    let _ = write!(d, "{}{:.1},{:.1}", if n == 0 { "M" } else { "L" }, x, y);
                    last = Some((x, y));
                    n += 1;
                }
                d.push('Z');
                if ring_no == 0 {
                    // Where the country's count goes: the centre of its
                    // largest ring that lies in view.
                    let (mut a, mut b, mut c, mut e) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
                    for &(x, y) in &projected {
                        a = a.min(x);
                        b = b.max(x);
                        c = c.min(y);
                        e = e.max(y);
                    }
                    let (ca, cb) = (a.max(0.0), b.min(WIDTH));
                    let (cc, ce) = (c.max(0.0), e.min(height));
                    let area = (cb - ca).max(0.0) * (ce - cc).max(0.0);
                    if best.is_none_or(|(best_area, _)| area > best_area) {
                        best = Some((area, ((ca + cb) / 2.0, (cc + ce) / 2.0)));
                    }
                }
            }
        }
        if d.is_empty() {
            continue;
        }
        let name = g["properties"]["name"].as_str().unwrap_or("").replace('"', "'");
        let alpha3 = g["id"].as_str().and_then(|id| ISO_NUMERIC.iter().find(|(n, _)| *n == id)).map(|(_, a)| *a);
        match alpha3 {
            Some(code) => {
                let (_, (cx, cy)) = best.unwrap_or((0.0, (0.0, 0.0)));
                let _ = writeln!(
                    countries,
                    "    MapCountry {{ code: \"{code}\", name: \"{name}\", path: \"{d}\", anchor: ({cx:.1}, {cy:.1}) }},"
                );
            }
            None => {
                let _ = write!(land, "{d}");
            }
        }
    }
    format!(
        "/// Width and height of the map (SVG user units).\npub const MAP_SIZE: (f64, f64) = ({WIDTH:.1}, {height:.1});\n\
         /// Countries with an ISO 3166-1 alpha-3 code, from Natural Earth 1:50m (world-atlas).\n\
         pub static MAP_COUNTRIES: &[MapCountry] = &[\n{countries}];\n\
         /// Land in view without an ISO code (Kosovo, Northern Cyprus, ...).\npub const MAP_OTHER_LAND: &str = \"{land}\";\n"
    )
}
