//! Unit tests of each grammar feature: what the parser builds, how it prints, and what it refuses.

use phalanx_pattern::{
    Comparison, ComparisonExpr, Literal, MAX_DEPTH, ObjectPath, ObservationExpr, Operator,
    PathStep, Pattern, Qualifier, parse, parse_strict,
};

// ---- helpers ----------------------------------------------------------------------------

fn ok(src: &str) -> Pattern {
    match parse(src) {
        Ok(p) => p,
        Err(e) => panic!("{src:?} should parse: {e}"),
    }
}

fn path(object_type: &str, steps: &[PathStep]) -> ObjectPath {
    ObjectPath {
        object_type: object_type.into(),
        steps: steps.to_vec(),
    }
}

fn prop(name: &str) -> PathStep {
    PathStep::Property(name.into())
}

fn cmp(object_type: &str, name: &str, op: Operator, value: Literal) -> ComparisonExpr {
    ComparisonExpr::Comparison(Comparison {
        path: path(object_type, &[prop(name)]),
        negated: false,
        op,
        value: Some(value),
    })
}

fn s(v: &str) -> Literal {
    Literal::String(v.into())
}

fn obs(comparison: ComparisonExpr) -> ObservationExpr {
    ObservationExpr::Observation {
        comparison,
        qualifiers: vec![],
    }
}

/// `[t:p = 'v']` as an observation.
fn simple(t: &str, p: &str, v: &str) -> ObservationExpr {
    obs(cmp(t, p, Operator::Eq, s(v)))
}

/// The single comparison of a one-comparison pattern.
fn only_comparison(src: &str) -> Comparison {
    let p = ok(src);
    let all: Vec<&Comparison> = p.comparisons().collect();
    assert_eq!(all.len(), 1, "{src}");
    all[0].clone()
}

fn value_of(src: &str) -> Literal {
    only_comparison(src).value.expect("has a value")
}

/// Parses, prints, and checks the printed text and that it parses back to the same tree.
fn canonical(src: &str, expected: &str) {
    let p = ok(src);
    let printed = p.to_string();
    assert_eq!(printed, expected, "canonical form of {src:?}");
    assert_eq!(ok(&printed), p, "re-parse of {printed:?}");
}

/// Refused, with this message.
fn refused(src: &str, message: &str) {
    match parse(src) {
        Ok(p) => panic!("{src:?} should be refused, parsed as {p:?}"),
        Err(e) => assert_eq!(e.message, message, "message for {src:?}"),
    }
}

// ---- observation expressions -------------------------------------------------------------

#[test]
fn single_observation() {
    assert_eq!(
        ok("[ipv4-addr:value = '198.51.100.1']").expr,
        simple("ipv4-addr", "value", "198.51.100.1")
    );
}

#[test]
fn observation_operators_precedence_and_before_or_before_followedby() {
    let a = || simple("x", "a", "1");
    let b = || simple("x", "b", "2");
    let c = || simple("x", "c", "3");
    let d = || simple("x", "d", "4");
    let src = "[x:a = '1'] OR [x:b = '2'] AND [x:c = '3'] FOLLOWEDBY [x:d = '4']";
    assert_eq!(
        ok(src).expr,
        ObservationExpr::FollowedBy(vec![
            ObservationExpr::Or(vec![a(), ObservationExpr::And(vec![b(), c()])]),
            d(),
        ])
    );
    let src = "[x:a = '1'] FOLLOWEDBY [x:b = '2'] OR [x:c = '3'] AND [x:d = '4']";
    assert_eq!(
        ok(src).expr,
        ObservationExpr::FollowedBy(vec![
            a(),
            ObservationExpr::Or(vec![b(), ObservationExpr::And(vec![c(), d()])]),
        ])
    );
}

#[test]
fn observation_chains_are_flat_and_parentheses_group() {
    let a = || simple("x", "a", "1");
    let b = || simple("x", "b", "2");
    let c = || simple("x", "c", "3");
    assert_eq!(
        ok("[x:a = '1'] AND [x:b = '2'] AND [x:c = '3']").expr,
        ObservationExpr::And(vec![a(), b(), c()])
    );
    // Left-associative: (a AND b) AND c is the same chain.
    assert_eq!(
        ok("([x:a = '1'] AND [x:b = '2']) AND [x:c = '3']").expr,
        ObservationExpr::And(vec![a(), b(), c()])
    );
    assert_eq!(
        ok("[x:a = '1'] FOLLOWEDBY [x:b = '2'] FOLLOWEDBY [x:c = '3']").expr,
        ObservationExpr::FollowedBy(vec![a(), b(), c()])
    );
    // Parentheses override precedence.
    assert_eq!(
        ok("([x:a = '1'] OR [x:b = '2']) AND [x:c = '3']").expr,
        ObservationExpr::And(vec![ObservationExpr::Or(vec![a(), b()]), c()])
    );
    // Parentheses without qualifiers leave no trace.
    assert_eq!(ok("(([x:a = '1']))").expr, a());
}

#[test]
fn keywords_need_no_surrounding_space() {
    assert_eq!(
        ok("[x:a='1']AND[x:b='2']").expr,
        ObservationExpr::And(vec![simple("x", "a", "1"), simple("x", "b", "2")])
    );
    assert_eq!(
        ok("[x:a=1]WITHIN 5SECONDS").expr,
        ObservationExpr::Observation {
            comparison: cmp("x", "a", Operator::Eq, Literal::Int(1)),
            qualifiers: vec![Qualifier::Within(5.0)],
        }
    );
}

#[test]
fn keywords_are_case_sensitive() {
    refused(
        "[x:a = '1'] and [x:b = '2']",
        "expected 'AND', 'OR', 'FOLLOWEDBY', a qualifier or end of input at 1:13, found 'and'",
    );
    refused(
        "[x:a = TRUE]",
        "expected a literal after '=' at 1:8, found 'TRUE'",
    );
}

// ---- qualifiers -------------------------------------------------------------------------

#[test]
fn qualifiers_of_each_kind() {
    let p = ok("[x:a = '1'] REPEATS 5 TIMES WITHIN 1800 SECONDS \
                START t'2016-06-01T00:00:00Z' STOP t'2016-07-01T00:00:00.5Z'");
    let ObservationExpr::Observation { qualifiers, .. } = p.expr else {
        panic!("not an observation");
    };
    assert_eq!(
        qualifiers,
        vec![
            Qualifier::Repeats(5),
            Qualifier::Within(1800.0),
            Qualifier::StartStop {
                start: "2016-06-01T00:00:00Z".into(),
                stop: "2016-07-01T00:00:00.5Z".into(),
            },
        ]
    );
}

#[test]
fn within_takes_non_negative_ints_and_floats() {
    let within = |src: &str| match ok(src).expr {
        ObservationExpr::Observation { qualifiers, .. } => qualifiers,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        within("[x:a = 1] WITHIN 0 SECONDS"),
        [Qualifier::Within(0.0)]
    );
    assert_eq!(
        within("[x:a = 1] WITHIN 2.5 SECONDS"),
        [Qualifier::Within(2.5)]
    );
    assert_eq!(
        within("[x:a = 1] WITHIN +.5 SECONDS"),
        [Qualifier::Within(0.5)]
    );
    assert_eq!(
        within("[x:a = 1] REPEATS +2 TIMES"),
        [Qualifier::Repeats(2)]
    );
    refused(
        "[x:a = 1] WITHIN -1 SECONDS",
        "expected a non-negative number of seconds after 'WITHIN' at 1:18, found number '-1'",
    );
    refused(
        "[x:a = 1] WITHIN 5 MINUTES",
        "expected 'SECONDS' at 1:20, found 'MINUTES'",
    );
    refused(
        "[x:a = 1] REPEATS 1.5 TIMES",
        "expected a non-negative integer after 'REPEATS' at 1:19, found number '1.5'",
    );
    refused(
        "[x:a = 1] REPEATS 2",
        "expected 'TIMES' at 1:20, found end of input",
    );
}

#[test]
fn start_stop_needs_timestamp_literals() {
    refused(
        "[x:a = 1] START '2016-01-01T00:00:00Z' STOP '2016-01-02T00:00:00Z'",
        "expected a timestamp literal t'...' after 'START' at 1:17, found string ''2016-01-01T00:00:00Z''",
    );
    refused(
        "[x:a = 1] START t'2016-01-01T00:00:00Z'",
        "expected 'STOP' at 1:40, found end of input",
    );
}

#[test]
fn one_qualifier_of_each_kind_per_observation() {
    refused(
        "[x:a = 1] WITHIN 1 SECONDS REPEATS 2 TIMES WITHIN 3 SECONDS",
        "expected at most one WITHIN qualifier on an observation at 1:44, found a second WITHIN",
    );
    refused(
        "[x:a = 1] REPEATS 1 TIMES REPEATS 2 TIMES",
        "expected at most one REPEATS qualifier on an observation at 1:27, found a second REPEATS",
    );
    // Qualifiers on a group and inside it are separate.
    let p = ok("([x:a = 1] WITHIN 1 SECONDS) WITHIN 2 SECONDS");
    assert_eq!(
        p.expr,
        ObservationExpr::Grouped {
            expr: Box::new(ObservationExpr::Observation {
                comparison: cmp("x", "a", Operator::Eq, Literal::Int(1)),
                qualifiers: vec![Qualifier::Within(1.0)],
            }),
            qualifiers: vec![Qualifier::Within(2.0)],
        }
    );
    // Like the OASIS validator, a parenthesised group is not limited.
    let p = ok("([x:a = 1]) WITHIN 1 SECONDS WITHIN 2 SECONDS");
    let ObservationExpr::Grouped { qualifiers, .. } = p.expr else {
        panic!("not grouped");
    };
    assert_eq!(qualifiers.len(), 2);
}

#[test]
fn qualifier_binds_to_the_nearest_observation() {
    let p = ok("[x:a = '1'] AND [x:b = '2'] WITHIN 5 SECONDS");
    assert_eq!(
        p.expr,
        ObservationExpr::And(vec![
            simple("x", "a", "1"),
            ObservationExpr::Observation {
                comparison: cmp("x", "b", Operator::Eq, s("2")),
                qualifiers: vec![Qualifier::Within(5.0)],
            },
        ])
    );
    let p = ok("([x:a = '1'] AND [x:b = '2']) WITHIN 5 SECONDS");
    assert_eq!(
        p.expr,
        ObservationExpr::Grouped {
            expr: Box::new(ObservationExpr::And(vec![
                simple("x", "a", "1"),
                simple("x", "b", "2")
            ])),
            qualifiers: vec![Qualifier::Within(5.0)],
        }
    );
}

// ---- comparison expressions --------------------------------------------------------------

#[test]
fn comparison_and_binds_tighter_than_or() {
    let a = || cmp("x", "a", Operator::Eq, Literal::Int(1));
    let b = || cmp("x", "b", Operator::Eq, Literal::Int(2));
    let c = || cmp("x", "c", Operator::Eq, Literal::Int(3));
    assert_eq!(
        ok("[x:a = 1 OR x:b = 2 AND x:c = 3]").expr,
        obs(ComparisonExpr::Or(vec![
            a(),
            ComparisonExpr::And(vec![b(), c()])
        ]))
    );
    assert_eq!(
        ok("[x:a = 1 AND x:b = 2 OR x:c = 3]").expr,
        obs(ComparisonExpr::Or(vec![
            ComparisonExpr::And(vec![a(), b()]),
            c()
        ]))
    );
    assert_eq!(
        ok("[(x:a = 1 OR x:b = 2) AND x:c = 3]").expr,
        obs(ComparisonExpr::And(vec![
            ComparisonExpr::Or(vec![a(), b()]),
            c()
        ]))
    );
    assert_eq!(
        ok("[x:a = 1 OR (x:b = 2 OR x:c = 3)]").expr,
        obs(ComparisonExpr::Or(vec![a(), b(), c()]))
    );
    assert_eq!(ok("[((x:a = 1))]").expr, obs(a()));
}

#[test]
fn every_operator() {
    let op = |src: &str| only_comparison(src).op;
    assert_eq!(op("[x:a = 1]"), Operator::Eq);
    assert_eq!(op("[x:a == 1]"), Operator::Eq);
    assert_eq!(op("[x:a != 1]"), Operator::Neq);
    assert_eq!(op("[x:a <> 1]"), Operator::Neq);
    assert_eq!(op("[x:a > 1]"), Operator::Gt);
    assert_eq!(op("[x:a < 1]"), Operator::Lt);
    assert_eq!(op("[x:a >= 1]"), Operator::Ge);
    assert_eq!(op("[x:a <= 1]"), Operator::Le);
    assert_eq!(op("[x:a IN (1, 2)]"), Operator::In);
    assert_eq!(op("[x:a LIKE 'a%']"), Operator::Like);
    assert_eq!(op("[x:a MATCHES '^a']"), Operator::Matches);
    assert_eq!(op("[x:a ISSUBSET '10.0.0.0/8']"), Operator::IsSubset);
    assert_eq!(op("[x:a ISSUPERSET '10.0.0.0/8']"), Operator::IsSuperset);
    assert_eq!(op("[EXISTS x:a]"), Operator::Exists);
}

#[test]
fn not_and_exists() {
    let c = only_comparison("[x:a NOT LIKE 'a%']");
    assert!(c.negated);
    assert_eq!(c.op, Operator::Like);
    let c = only_comparison("[x:a NOT >= 3]");
    assert!(c.negated);
    assert_eq!(c.op, Operator::Ge);
    let c = only_comparison("[NOT EXISTS x:a.b]");
    assert_eq!(
        c,
        Comparison {
            path: path("x", &[prop("a"), prop("b")]),
            negated: true,
            op: Operator::Exists,
            value: None,
        }
    );
    assert!(!only_comparison("[EXISTS x:a]").negated);
    refused(
        "[x:a NOT EXISTS]",
        "expected a comparison operator after 'NOT' at 1:10, found 'EXISTS'",
    );
    refused(
        "[NOT x:a = 1]",
        "expected 'EXISTS' after 'NOT' at 1:6, found 'x'",
    );
    refused(
        "[x:a NOT NOT = 1]",
        "expected a comparison operator after 'NOT' at 1:10, found 'NOT'",
    );
}

#[test]
fn operand_kinds_follow_the_operator() {
    refused(
        "[x:a > true]",
        "expected a literal other than a boolean after '>' at 1:8, found 'true'",
    );
    refused(
        "[x:a LIKE 5]",
        "expected a string literal after 'LIKE' at 1:11, found number '5'",
    );
    refused(
        "[x:a MATCHES h'ff']",
        "expected a string literal after 'MATCHES' at 1:14, found literal 'h'ff''",
    );
    refused(
        "[x:a IN 'a']",
        "expected a set literal such as ('a', 'b') after 'IN' at 1:9, found string ''a''",
    );
    refused(
        "[x:a = ('a')]",
        "expected a literal after '=' at 1:8, found '('",
    );
    // Ordering accepts every literal but booleans and sets.
    assert_eq!(
        value_of("[x:a < t'2016-01-01T00:00:00Z']"),
        Literal::Timestamp("2016-01-01T00:00:00Z".into())
    );
    assert_eq!(value_of("[x:a >= 'b']"), s("b"));
    assert_eq!(value_of("[x:a = true]"), Literal::Bool(true));
    assert_eq!(value_of("[x:a != false]"), Literal::Bool(false));
}

// ---- object paths -----------------------------------------------------------------------

#[test]
fn object_paths() {
    assert_eq!(
        only_comparison("[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]").path,
        path(
            "file",
            &[
                prop("extensions"),
                prop("windows-pebinary-ext"),
                prop("sections"),
                PathStep::AnyIndex,
                prop("entropy"),
            ]
        )
    );
    assert_eq!(
        only_comparison("[network-traffic:src_ref.value = '1.2.3.4']").path,
        path("network-traffic", &[prop("src_ref"), prop("value")])
    );
    assert_eq!(
        only_comparison("[email-message:body_multipart[0].body_raw_ref.name = 'a']").path,
        path(
            "email-message",
            &[
                prop("body_multipart"),
                PathStep::Index(0),
                prop("body_raw_ref"),
                prop("name"),
            ]
        )
    );
    // Quoted first component, quotes with escapes, whitespace between steps, nested indexes.
    assert_eq!(
        only_comparison(r"[x-custom:'first name' . 'it\'s' [ 12 ][*] = 1]").path,
        path(
            "x-custom",
            &[
                prop("first name"),
                prop("it's"),
                PathStep::Index(12),
                PathStep::AnyIndex
            ]
        )
    );
    assert_eq!(only_comparison("[_:_ = 1]").path, path("_", &[prop("_")]));
    assert_eq!(
        only_comparison("[x:a[+3] = 1]").path,
        path("x", &[prop("a"), PathStep::Index(3)])
    );
}

#[test]
fn object_path_errors() {
    refused(
        "[file:hashes.SHA-256 = 'a']",
        "expected a property name (quote names that contain '-', as in 'SHA-256') at 1:14, found 'SHA-256'",
    );
    refused(
        "[file = 'a']",
        "expected ':' after the object type at 1:7, found '='",
    );
    refused(
        "[file: = 'a']",
        "expected a property name at 1:8, found '='",
    );
    refused(
        "[file:name. = 'a']",
        "expected a property name at 1:13, found '='",
    );
    refused(
        "[x:a[-1] = 1]",
        "expected a non-negative list index or '*' at 1:6, found number '-1'",
    );
    refused(
        "[x:a[1 = 1]",
        "expected ']' after the list index at 1:8, found '='",
    );
    refused(
        "[x:a[18446744073709551616] = 1]",
        "expected a list index no larger than 18446744073709551615 at 1:6, found number '18446744073709551616'",
    );
    refused(
        "[x:AND = 1]",
        "expected a property name at 1:4, found 'AND'",
    );
    refused(
        "[x:a 'b']",
        "expected '.', '[', 'NOT' or a comparison operator at 1:6, found string ''b''",
    );
}

// ---- literals ---------------------------------------------------------------------------

#[test]
fn string_literals() {
    assert_eq!(value_of(r"[x:a = 'it\'s a \\ test']"), s(r"it's a \ test"));
    assert_eq!(value_of("[x:a = '']"), s(""));
    assert_eq!(
        value_of("[x:a = 'ünïcødé ☃ // /* not a comment */']"),
        s("ünïcødé ☃ // /* not a comment */")
    );
    assert_eq!(value_of("[x:a = 'two\nlines']"), s("two\nlines"));
    refused(
        r"[x:a = 'a\nb']",
        r"expected \' or \\ (the only escapes in a string literal) at 1:10, found '\n'",
    );
    refused(
        "[x:a = 'open]",
        "expected closing quote (string opened at 1:8) at 1:14, found end of input",
    );
}

#[test]
fn number_literals() {
    assert_eq!(value_of("[x:a = 0]"), Literal::Int(0));
    assert_eq!(value_of("[x:a = -7]"), Literal::Int(-7));
    assert_eq!(value_of("[x:a = +7]"), Literal::Int(7));
    assert_eq!(
        value_of("[x:a = 9223372036854775807]"),
        Literal::Int(i64::MAX)
    );
    assert_eq!(
        value_of("[x:a = -9223372036854775808]"),
        Literal::Int(i64::MIN)
    );
    assert_eq!(value_of("[x:a = 7.25]"), Literal::Float(7.25));
    assert_eq!(value_of("[x:a = -.5]"), Literal::Float(-0.5));
    assert_eq!(value_of("[x:a = +.5]"), Literal::Float(0.5));
    assert_eq!(value_of("[x:a = 00.5]"), Literal::Float(0.5));
    refused(
        "[x:a = 007]",
        "expected an integer without leading zeros at 1:8, found '007'",
    );
    refused(
        "[x:a = 1.]",
        "expected 'AND', 'OR' or ']' at 1:9, found '.'",
    );
    refused(
        "[x:a = 1e5]",
        "expected 'AND', 'OR' or ']' at 1:9, found 'e5'",
    );
    refused(
        "[x:a = 9223372036854775808]",
        "expected an integer from -9223372036854775808 to 9223372036854775807 at 1:8, found number '9223372036854775808'",
    );
    refused(
        "[x:a = - 1]",
        "expected a literal after '=' at 1:8, found '-'",
    );
}

#[test]
fn binary_hex_and_timestamp_literals() {
    assert_eq!(value_of("[x:a = h'ffD8']"), Literal::Hex(vec![0xff, 0xd8]));
    assert_eq!(value_of("[x:a = h'']"), Literal::Hex(vec![]));
    assert_eq!(
        value_of("[x:a = b'aGVsbG8=']"),
        Literal::Binary(b"hello".to_vec())
    );
    assert_eq!(value_of("[x:a = b'aGk=']"), Literal::Binary(b"hi".to_vec()));
    assert_eq!(
        value_of("[x:a = t'2016-01-01T00:00:00.123Z']"),
        Literal::Timestamp("2016-01-01T00:00:00.123Z".into())
    );
    refused(
        "[x:a = h'abc']",
        "expected an even number of hex digits in the hex literal at 1:8, found 'h'abc''",
    );
    refused(
        "[x:a = h'zz']",
        "expected an even number of hex digits in the hex literal at 1:8, found 'h'zz''",
    );
    refused(
        "[x:a = b'']",
        "expected base64 text in whole groups of 4 characters in the binary literal at 1:8, found 'b'''",
    );
    refused(
        "[x:a = b'abc']",
        "expected base64 text in whole groups of 4 characters in the binary literal at 1:8, found 'b'abc''",
    );
    refused(
        "[x:a = t'2016-13-01T00:00:00Z']",
        "expected a timestamp of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z in the timestamp literal at 1:8, found 't'2016-13-01T00:00:00Z''",
    );
    refused(
        "[x:a = t'2016-01-01T00:00:00+01:00']",
        "expected a timestamp of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z in the timestamp literal at 1:8, found 't'2016-01-01T00:00:00+01:00''",
    );
    refused(
        "[x:a = t'2016-01-01",
        "expected closing quote (timestamp literal opened at 1:8) at 1:20, found end of input",
    );
}

#[test]
fn set_literals() {
    assert_eq!(value_of("[x:a IN ()]"), Literal::Set(vec![]));
    assert_eq!(
        value_of("[x:a IN ('a', 2, 3.5, true, h'ff', b'AA==', t'2016-01-01T00:00:00Z')]"),
        Literal::Set(vec![
            s("a"),
            Literal::Int(2),
            Literal::Float(3.5),
            Literal::Bool(true),
            Literal::Hex(vec![0xff]),
            Literal::Binary(vec![0]),
            Literal::Timestamp("2016-01-01T00:00:00Z".into()),
        ])
    );
    refused(
        "[x:a IN ('a' 'b')]",
        "expected ',' or ')' in the set literal at 1:14, found string ''b''",
    );
    refused(
        "[x:a IN ('a',)]",
        "expected a literal in the set at 1:14, found ')'",
    );
    refused(
        "[x:a IN (('a'))]",
        "expected a literal in the set at 1:10, found '('",
    );
}

// ---- lexical details --------------------------------------------------------------------

#[test]
fn comments_and_whitespace() {
    let expected = ok("[x:a = 1]");
    assert_eq!(
        ok("/* leading */ [x:a /* inside */ = 1] // trailing"),
        expected
    );
    assert_eq!(ok("\t\r\n [ x : a\u{A0}=\u{3000}1 ]\u{2029}"), expected);
    refused(
        "[x:a = 1] /* open",
        "expected '*/' (comment opened at 1:11) at 1:18, found end of input",
    );
    refused(
        "[x:a = 1] # no",
        "expected 'AND', 'OR', 'FOLLOWEDBY', a qualifier or end of input at 1:11, found '#'",
    );
}

// ---- errors and positions ---------------------------------------------------------------

#[test]
fn error_positions_are_byte_offsets_with_line_and_column() {
    let e = parse("[file:name = 'x'").unwrap_err();
    assert_eq!((e.position, e.line, e.column), (16, 1, 17));
    assert_eq!(
        e.message,
        "expected 'AND', 'OR' or ']' at 1:17, found end of input"
    );
    assert_eq!(e.to_string(), e.message);

    // Second line; the column counts characters, not bytes.
    let src = "[x:a = 'é'\n  AND x:b ! 1]";
    let e = parse(src).unwrap_err();
    assert_eq!(&src[e.position..e.position + 1], "!");
    assert_eq!((e.line, e.column), (2, 11));
    assert_eq!(
        e.message,
        "expected '.', '[', 'NOT' or a comparison operator at 2:11, found '!'"
    );
}

#[test]
fn common_mistakes_are_refused_with_clear_messages() {
    refused("", "expected '[' or '(' at 1:1, found end of input");
    refused("   ", "expected '[' or '(' at 1:4, found end of input");
    refused(
        "file:size = 1280",
        "expected '[' or '(' at 1:1, found 'file'",
    );
    refused(
        "[file:size = ]",
        "expected a literal after '=' at 1:14, found ']'",
    );
    refused(
        "[file:hashes.MD5 = cead3f77f6cda6ec00f57d76c9a6879f]",
        "expected a literal after '=' at 1:20, found 'cead3f77f6cda6ec00f57d76c9a6879f'",
    );
    refused(
        "[]",
        "expected an object path, '(', 'NOT' or 'EXISTS' at 1:2, found ']'",
    );
    refused(
        "[x:a = 1] AND",
        "expected '[' or '(' at 1:14, found end of input",
    );
    refused(
        "[x:a = 1] [x:b = 1]",
        "expected 'AND', 'OR', 'FOLLOWEDBY', a qualifier or end of input at 1:11, found '['",
    );
    refused(
        "([x:a = 1]",
        "expected 'AND', 'OR', 'FOLLOWEDBY', a qualifier or ')' at 1:11, found end of input",
    );
    refused(
        "[(x:a = 1]",
        "expected 'AND', 'OR' or ')' at 1:10, found ']'",
    );
    refused(
        "[x:a = 1))",
        "expected 'AND', 'OR' or ']' at 1:9, found ')'",
    );
    refused(
        "[x:a =! 1]",
        "expected a literal after '=' at 1:7, found '!'",
    );
    refused(
        "[x:a === 1]",
        "expected a literal after '=' at 1:8, found '='",
    );
    refused(
        "[x:a = 1 AND]",
        "expected an object path, '(', 'NOT' or 'EXISTS' at 1:13, found ']'",
    );
}

#[test]
fn nesting_is_bounded() {
    let depth_ok = MAX_DEPTH - 1;
    let src = format!("{}[x:a = 1]{}", "(".repeat(depth_ok), ")".repeat(depth_ok));
    assert_eq!(ok(&src), ok("[x:a = 1]"));
    let src = format!("[{}x:a = 1{}]", "(".repeat(depth_ok), ")".repeat(depth_ok));
    assert_eq!(ok(&src), ok("[x:a = 1]"));

    let src = format!(
        "{}[x:a = 1]{}",
        "(".repeat(MAX_DEPTH),
        ")".repeat(MAX_DEPTH)
    );
    let e = parse(&src).unwrap_err();
    assert_eq!(e.position, MAX_DEPTH);
    assert_eq!(
        e.message,
        format!(
            "expected at most {MAX_DEPTH} levels of nested parentheses and brackets at 1:{}, found deeper nesting",
            MAX_DEPTH + 1
        )
    );
    // Far deeper input is refused without exhausting the stack.
    let deep = "(".repeat(1_000_000);
    assert_eq!(parse(&deep).unwrap_err().position, MAX_DEPTH);
    let deep = format!("[{}", "(".repeat(1_000_000));
    assert_eq!(parse(&deep).unwrap_err().position, MAX_DEPTH);
}

#[test]
fn long_chains_are_not_nesting() {
    let n = 5000;
    let src = vec!["[x:a = 1]"; n].join(" OR ");
    match ok(&src).expr {
        ObservationExpr::Or(items) => assert_eq!(items.len(), n),
        other => panic!("{other:?}"),
    }
    let src = format!("[{}]", vec!["x:a = 1"; n].join(" AND "));
    assert_eq!(ok(&src).comparisons().count(), n);
}

// ---- strict mode ------------------------------------------------------------------------

#[test]
fn strict_mode_checks_hash_values() {
    let bad = "[file:hashes.MD5 = 'abc' OR domain-name:value = 'example.com']";
    assert!(parse(bad).is_ok(), "plain parse is syntax only");
    let e = parse_strict(bad).unwrap_err();
    assert_eq!(e.position, 19);
    assert_eq!(
        e.message,
        "expected a valid md5 hash value (32 hex digits) at 1:20, found ''abc''"
    );
    assert!(parse_strict("[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']").is_ok());
    assert!(parse_strict("[file:hashes.'SHA-256' = 'cead3f77f6cda6ec00f57d76c9a6879f']").is_err());
    assert!(parse_strict("[file:hashes.MD5 IN ('cead3f77f6cda6ec00f57d76c9a6879f')]").is_err());
    assert!(parse_strict("[file:hashes.'x-vendor' = 'anything']").is_ok());
    assert!(parse_strict("[EXISTS file:hashes.MD5]").is_ok());
}

// ---- Display and comparisons() ----------------------------------------------------------

#[test]
fn display_is_canonical() {
    canonical(
        "[file:hashes.'SHA-256'=='ab' AND file:'name'<>'x\\'y']",
        r"[file:hashes.'SHA-256' = 'ab' AND file:name != 'x\'y']",
    );
    canonical(
        "(([a:b = 1] OR [a:c = 2])) AND [a:d = 3]",
        "([a:b = 1] OR [a:c = 2]) AND [a:d = 3]",
    );
    canonical(
        "[a:b = 1] FOLLOWEDBY ([a:c = 2] FOLLOWEDBY [a:d = 3])",
        "[a:b = 1] FOLLOWEDBY [a:c = 2] FOLLOWEDBY [a:d = 3]",
    );
    canonical(
        "[(a:b = 1 OR a:c = 2) AND NOT EXISTS a:d]",
        "[(a:b = 1 OR a:c = 2) AND NOT EXISTS a:d]",
    );
    canonical(
        "([a:b = 1]) REPEATS +2 TIMES WITHIN 2.50 SECONDS START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'",
        "([a:b = 1]) REPEATS 2 TIMES WITHIN 2.5 SECONDS START t'2016-01-01T00:00:00Z' STOP t'2017-01-01T00:00:00Z'",
    );
    canonical(
        "[a:b IN (1,-2.0,+.5,true,h'FF',b'AB==')]",
        "[a:b IN (1, -2.0, 0.5, true, h'ff', b'AA==')]",
    );
    canonical(
        "[a:'AND'.'true'.x_1[*][0] NOT MATCHES '^a']",
        "[a:'AND'.'true'.x_1[*][0] NOT MATCHES '^a']",
    );
    canonical("[a:b = 1e0]".replace("1e0", "1.0").as_str(), "[a:b = 1.0]");
}

#[test]
fn comparisons_iterates_in_source_order() {
    let p = ok(
        "([a:one = 1] AND [a:two = 2 OR (a:three = 3 AND EXISTS a:four)]) WITHIN 5 SECONDS \
                FOLLOWEDBY [a:five = 5]",
    );
    let names: Vec<String> = p
        .comparisons()
        .map(|c| match &c.path.steps[0] {
            PathStep::Property(n) => n.clone(),
            other => panic!("{other:?}"),
        })
        .collect();
    assert_eq!(names, ["one", "two", "three", "four", "five"]);
}

#[test]
fn spec_examples_parse() {
    // Patterns from the STIX 2.1 specification, §9.
    for src in [
        "[file:hashes.'SHA-256' = 'aec070645fe53ee3b3763059376134f058cc337247c978add178b6ccdfb0019f']",
        "[email-message:from_ref.value MATCHES '.+\\\\@example\\\\.com$' AND email-message:body_multipart[*].body_raw_ref.name MATCHES '^Final Report.+\\\\.exe$']",
        "([file:hashes.MD5 = '79054025255fb1a26e4bc422aef54eb4'] FOLLOWEDBY [windows-registry-key:key = 'HKEY_LOCAL_MACHINE\\\\foo\\\\bar']) WITHIN 300 SECONDS",
        "[network-traffic:dst_ref.type = 'domain-name' AND network-traffic:dst_ref.value = 'example.com'] REPEATS 5 TIMES WITHIN 1800 SECONDS",
        "[file:extensions.'windows-pebinary-ext'.sections[*].entropy > 7.0]",
        "[file:mime_type = 'image/bmp' AND file:magic_number_hex = h'ffd8']",
        "[network-traffic:dst_ref.value ISSUBSET '2001:0db8:dead:beef:0000:0000:0000:0000/64']",
        "[(file:name = 'pdf.exe' OR file:size = '371712') AND file:created = t'2014-01-13T07:03:17Z']",
        "[process:command_line MATCHES '^.+>-add GlobalSign.cer -c -s -r localMachine Root$'] FOLLOWEDBY [process:command_line MATCHES'^.+>-add GlobalSign.cer -c -s -r localMachineTrustedPublisher$'] WITHIN 300 SECONDS",
    ] {
        let p = ok(src);
        assert_eq!(ok(&p.to_string()), p, "{src}");
        assert!(parse_strict(src).is_ok(), "{src}");
    }
}

#[test]
fn deepest_accepted_trees_fit_a_small_thread_stack() {
    let d = MAX_DEPTH - 1;
    let mut inputs = vec![
        format!("{}[x:a = 1]{}", "(".repeat(d), ")".repeat(d)),
        format!("[{}x:a = 1{}]", "(".repeat(d), ")".repeat(d)),
    ];
    // Alternating operators and nested qualified groups keep their depth in the tree.
    let mut alternating = String::from("[x:a = 1]");
    let mut grouped = String::from("[x:a = 1]");
    let mut inner = String::from("x:a = 1");
    for i in 0..d {
        let op = if i % 2 == 0 { "AND" } else { "OR" };
        alternating = format!("[x:a = 1] {op} ({alternating})");
        grouped = format!("({grouped}) WITHIN 1 SECONDS");
        if i + 1 < d {
            inner = format!("x:a = 1 {op} ({inner})");
        }
    }
    inputs.extend([alternating, grouped, format!("[{inner}]")]);
    // 1.5 MiB: below the 2 MiB default of spawned threads (about 0.9 MiB is used in debug builds).
    let handle = std::thread::Builder::new()
        .stack_size(1536 * 1024)
        .spawn(move || {
            for src in inputs {
                let p = parse(&src).expect("parses");
                let printed = p.to_string();
                assert_eq!(parse(&printed).expect("re-parses"), p.clone());
                assert!(p.comparisons().count() >= 1);
            }
        })
        .expect("spawn");
    handle.join().expect("no stack overflow or failure");
}

#[test]
fn from_str_is_parse() {
    let p: Pattern = "[x:a = 1]".parse().expect("parses");
    assert_eq!(p, ok("[x:a = 1]"));
    let e = "[x:a = ]".parse::<Pattern>().unwrap_err();
    assert_eq!(e, parse("[x:a = ]").unwrap_err());
}
