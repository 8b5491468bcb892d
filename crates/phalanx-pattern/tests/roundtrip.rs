//! Property tests: generated trees print and parse back to themselves; no input panics; any
//! accepted input prints to text that parses back to the same tree; error positions are sane.

use phalanx_pattern::{
    Comparison, ComparisonExpr, Literal, ObjectPath, ObservationExpr, Operator, PathStep, Pattern,
    PatternError, Qualifier, parse, parse_strict,
};
use proptest::prelude::*;

const RESERVED: &[&str] = &[
    "AND",
    "OR",
    "NOT",
    "FOLLOWEDBY",
    "LIKE",
    "MATCHES",
    "ISSUPERSET",
    "ISSUBSET",
    "EXISTS",
    "LAST",
    "IN",
    "START",
    "STOP",
    "SECONDS",
    "WITHIN",
    "REPEATS",
    "TIMES",
    "true",
    "false",
];

// ---- generators of canonical trees -------------------------------------------------------

fn object_type() -> impl Strategy<Value = String> {
    "[a-zA-Z_][a-zA-Z0-9_-]{0,12}".prop_filter("not a keyword", |s| !RESERVED.contains(&s.as_str()))
}

fn property_name() -> impl Strategy<Value = String> {
    prop_oneof![
        // Bare names, keywords included (those are printed quoted).
        "[a-zA-Z_][a-zA-Z0-9_]{0,8}",
        prop::sample::select(RESERVED).prop_map(str::to_string),
        // Anything at all, printed as a quoted string.
        "(?s).{0,8}",
        "[a-z]{1,4}-[0-9]{1,3}",
    ]
}

fn path_step() -> impl Strategy<Value = PathStep> {
    prop_oneof![
        property_name().prop_map(PathStep::Property),
        any::<u64>().prop_map(PathStep::Index),
        Just(PathStep::AnyIndex),
    ]
}

fn object_path() -> impl Strategy<Value = ObjectPath> {
    (
        object_type(),
        property_name(),
        prop::collection::vec(path_step(), 0..4),
    )
        .prop_map(|(object_type, first, rest)| {
            let mut steps = vec![PathStep::Property(first)];
            steps.extend(rest);
            ObjectPath { object_type, steps }
        })
}

fn timestamp() -> impl Strategy<Value = String> {
    (
        0u32..=9999,
        1u32..=12,
        1u32..=31,
        0u32..=23,
        0u32..=59,
        0u32..=60,
        prop::option::of("[0-9]{1,9}"),
    )
        .prop_map(|(y, mo, d, h, mi, s, frac)| {
            let frac = frac.map(|f| format!(".{f}")).unwrap_or_default();
            format!("{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}{frac}Z")
        })
}

fn finite_f64() -> impl Strategy<Value = f64> {
    prop_oneof![
        any::<f64>().prop_filter("finite", |x| x.is_finite()),
        -1e6f64..1e6,
        (-1000i32..1000).prop_map(f64::from),
    ]
}

/// Any literal but a set; `bools` allows booleans.
fn primitive(bools: bool) -> BoxedStrategy<Literal> {
    let mut options = vec![
        "(?s).{0,12}".prop_map(Literal::String).boxed(),
        any::<i64>().prop_map(Literal::Int).boxed(),
        finite_f64().prop_map(Literal::Float).boxed(),
        prop::collection::vec(any::<u8>(), 0..8)
            .prop_map(Literal::Hex)
            .boxed(),
        prop::collection::vec(any::<u8>(), 1..8)
            .prop_map(Literal::Binary)
            .boxed(),
        timestamp().prop_map(Literal::Timestamp).boxed(),
    ];
    if bools {
        options.push(any::<bool>().prop_map(Literal::Bool).boxed());
    }
    prop::strategy::Union::new(options).boxed()
}

fn comparison() -> impl Strategy<Value = Comparison> {
    let op_value = prop_oneof![
        (
            prop::sample::select(vec![Operator::Eq, Operator::Neq]),
            primitive(true)
        )
            .prop_map(|(op, v)| (op, Some(v))),
        (
            prop::sample::select(vec![Operator::Gt, Operator::Lt, Operator::Ge, Operator::Le]),
            primitive(false)
        )
            .prop_map(|(op, v)| (op, Some(v))),
        prop::collection::vec(primitive(true), 0..4)
            .prop_map(|items| (Operator::In, Some(Literal::Set(items)))),
        (
            prop::sample::select(vec![
                Operator::Like,
                Operator::Matches,
                Operator::IsSubset,
                Operator::IsSuperset,
            ]),
            "(?s).{0,12}"
        )
            .prop_map(|(op, s)| (op, Some(Literal::String(s)))),
        Just((Operator::Exists, None)),
    ];
    (object_path(), any::<bool>(), op_value).prop_map(|(path, negated, (op, value))| Comparison {
        path,
        negated,
        op,
        value,
    })
}

fn flat_cmp(items: Vec<ComparisonExpr>, and: bool) -> ComparisonExpr {
    let mut flat = Vec::new();
    for item in items {
        match item {
            ComparisonExpr::And(inner) if and => flat.extend(inner),
            ComparisonExpr::Or(inner) if !and => flat.extend(inner),
            other => flat.push(other),
        }
    }
    if and {
        ComparisonExpr::And(flat)
    } else {
        ComparisonExpr::Or(flat)
    }
}

fn comparison_expr() -> impl Strategy<Value = ComparisonExpr> {
    comparison()
        .prop_map(ComparisonExpr::Comparison)
        .prop_recursive(3, 12, 3, |inner| {
            (prop::collection::vec(inner, 2..4), any::<bool>())
                .prop_map(|(items, and)| flat_cmp(items, and))
        })
}

fn qualifier() -> impl Strategy<Value = Qualifier> {
    prop_oneof![
        prop_oneof![(0u32..100_000).prop_map(f64::from), 0.0f64..1e9].prop_map(Qualifier::Within),
        any::<u64>().prop_map(Qualifier::Repeats),
        (timestamp(), timestamp()).prop_map(|(start, stop)| Qualifier::StartStop { start, stop }),
    ]
}

/// At most one qualifier of each kind, in any order.
fn unique_qualifiers() -> impl Strategy<Value = Vec<Qualifier>> {
    (
        prop::option::of(prop_oneof![
            (0u32..100_000).prop_map(f64::from),
            0.0f64..1e9
        ]),
        prop::option::of(any::<u64>()),
        prop::option::of((timestamp(), timestamp())),
    )
        .prop_map(|(w, r, ss)| {
            let mut q = Vec::new();
            q.extend(w.map(Qualifier::Within));
            q.extend(r.map(Qualifier::Repeats));
            q.extend(ss.map(|(start, stop)| Qualifier::StartStop { start, stop }));
            q
        })
        .prop_shuffle()
}

#[derive(Clone, Copy, Debug)]
enum Join {
    And,
    Or,
    FollowedBy,
}

fn flat_obs(items: Vec<ObservationExpr>, join: Join) -> ObservationExpr {
    let mut flat = Vec::new();
    for item in items {
        match (join, item) {
            (Join::And, ObservationExpr::And(inner))
            | (Join::Or, ObservationExpr::Or(inner))
            | (Join::FollowedBy, ObservationExpr::FollowedBy(inner)) => flat.extend(inner),
            (_, other) => flat.push(other),
        }
    }
    match join {
        Join::And => ObservationExpr::And(flat),
        Join::Or => ObservationExpr::Or(flat),
        Join::FollowedBy => ObservationExpr::FollowedBy(flat),
    }
}

fn observation_expr() -> impl Strategy<Value = ObservationExpr> {
    (comparison_expr(), unique_qualifiers())
        .prop_map(|(comparison, qualifiers)| ObservationExpr::Observation {
            comparison,
            qualifiers,
        })
        .prop_recursive(3, 10, 3, |inner| {
            prop_oneof![
                (
                    prop::collection::vec(inner.clone(), 2..4),
                    prop::sample::select(vec![Join::And, Join::Or, Join::FollowedBy])
                )
                    .prop_map(|(items, join)| flat_obs(items, join)),
                (inner, prop::collection::vec(qualifier(), 1..3)).prop_map(|(expr, qualifiers)| {
                    ObservationExpr::Grouped {
                        expr: Box::new(expr),
                        qualifiers,
                    }
                }),
            ]
        })
}

fn pattern() -> impl Strategy<Value = Pattern> {
    observation_expr().prop_map(|expr| Pattern { expr })
}

// ---- arbitrary input ----------------------------------------------------------------------

const FRAGMENTS: &[&str] = &[
    "[",
    "]",
    "(",
    ")",
    "x:a",
    "file:hashes.MD5",
    "ipv4-addr:value",
    ".",
    ".'k-1'",
    "[*]",
    "[0]",
    "[-1]",
    ":",
    "=",
    "==",
    "!=",
    "<>",
    "<",
    "<=",
    ">",
    ">=",
    "!",
    "IN",
    "LIKE",
    "MATCHES",
    "ISSUBSET",
    "ISSUPERSET",
    "EXISTS",
    "NOT",
    "AND",
    "OR",
    "FOLLOWEDBY",
    "WITHIN",
    "SECONDS",
    "REPEATS",
    "TIMES",
    "START",
    "STOP",
    "LAST",
    "5",
    "-3",
    "+.5",
    "1.5",
    "007",
    "99999999999999999999",
    "'s'",
    "'it\\'s'",
    "'",
    "\\",
    "''",
    "true",
    "false",
    "h'ff'",
    "h'f'",
    "b'AA=='",
    "b''",
    "t'2016-01-01T00:00:00Z'",
    "t'2016-13-01T00:00:00Z'",
    "'d41d8cd98f00b204e9800998ecf8427e'",
    "(1, 'a')",
    "()",
    ",",
    "/*",
    "*/",
    "//",
    "\n",
    "\u{3000}",
    "é",
    "☃",
    "\0",
    "*",
];

fn token_soup() -> impl Strategy<Value = String> {
    prop::collection::vec((prop::sample::select(FRAGMENTS), prop::bool::ANY), 0..40).prop_map(
        |parts| {
            let mut s = String::new();
            for (frag, space) in parts {
                s.push_str(frag);
                if space {
                    s.push(' ');
                }
            }
            s
        },
    )
}

/// Error positions point into the input, at a character boundary, and agree with line/column.
fn check_error(input: &str, e: &PatternError) -> Result<(), TestCaseError> {
    prop_assert!(e.position <= input.len(), "position past the end: {e:?}");
    prop_assert!(
        input.is_char_boundary(e.position),
        "not a char boundary: {e:?}"
    );
    let before = &input[..e.position];
    prop_assert_eq!(e.line, before.matches('\n').count() + 1);
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    prop_assert_eq!(e.column, before[line_start..].chars().count() + 1);
    prop_assert!(e.message.starts_with("expected "), "{}", e.message);
    let at = format!(" at {}:{}, found ", e.line, e.column);
    prop_assert!(e.message.contains(&at), "{}", e.message);
    Ok(())
}

/// Whatever parses prints canonically and parses back to the same tree.
fn check_input(input: &str) -> Result<(), TestCaseError> {
    for strict in [false, true] {
        let result = if strict {
            parse_strict(input)
        } else {
            parse(input)
        };
        match result {
            Ok(p) => {
                let printed = p.to_string();
                let again = parse(&printed);
                prop_assert_eq!(again.as_ref().ok(), Some(&p), "printed: {}", printed);
            }
            Err(e) => check_error(input, &e)?,
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 1000, ..ProptestConfig::default() })]

    #[test]
    fn generated_trees_round_trip(p in pattern()) {
        let printed = p.to_string();
        let parsed = parse(&printed);
        prop_assert_eq!(parsed.as_ref().ok(), Some(&p), "printed: {} / error: {:?}", printed, parsed.as_ref().err());
        // The canonical text is a fixed point.
        prop_assert_eq!(parsed.map(|q| q.to_string()).ok(), Some(printed));
    }

    #[test]
    fn arbitrary_strings_never_panic(input in "(?s).{0,64}") {
        check_input(&input)?;
    }

    #[test]
    fn token_soup_never_panics(input in token_soup()) {
        check_input(&input)?;
    }

}

proptest! {
    // Each case parses every prefix of a printed pattern, so fewer cases.
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    #[test]
    fn every_prefix_of_a_valid_pattern_is_handled(p in pattern()) {
        let text = p.to_string();
        for (i, _) in text.char_indices() {
            check_input(&text[..i])?;
        }
    }
}

#[test]
fn generators_cover_every_kind() {
    // Guards the generators above against silently losing a branch.
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let mut seen = std::collections::BTreeSet::new();
    for _ in 0..3000 {
        let p = pattern().new_tree(&mut runner).expect("tree").current();
        let mut stack = vec![&p.expr];
        while let Some(e) = stack.pop() {
            match e {
                ObservationExpr::Observation { qualifiers, .. } => {
                    seen.insert("observation");
                    for q in qualifiers {
                        seen.insert(match q {
                            Qualifier::Within(_) => "within",
                            Qualifier::Repeats(_) => "repeats",
                            Qualifier::StartStop { .. } => "startstop",
                        });
                    }
                }
                ObservationExpr::And(items) => {
                    seen.insert("obs-and");
                    stack.extend(items);
                }
                ObservationExpr::Or(items) => {
                    seen.insert("obs-or");
                    stack.extend(items);
                }
                ObservationExpr::FollowedBy(items) => {
                    seen.insert("followedby");
                    stack.extend(items);
                }
                ObservationExpr::Grouped { expr, .. } => {
                    seen.insert("grouped");
                    stack.push(expr);
                }
            }
        }
        for c in p.comparisons() {
            seen.insert(match c.op {
                Operator::Exists => "exists",
                Operator::In => "in",
                Operator::Like | Operator::Matches => "string-op",
                _ => "other-op",
            });
            if c.negated {
                seen.insert("negated");
            }
            if c.path.steps.iter().any(|s| matches!(s, PathStep::AnyIndex)) {
                seen.insert("any-index");
            }
        }
    }
    for kind in [
        "observation",
        "within",
        "repeats",
        "startstop",
        "obs-and",
        "obs-or",
        "followedby",
        "grouped",
        "exists",
        "in",
        "string-op",
        "other-op",
        "negated",
        "any-index",
    ] {
        assert!(seen.contains(kind), "generator never produced {kind}");
    }
}
