//! Recursive-descent parser with one token of lookahead.
//!
//! Operator chains are loops (never recursion), so only parentheses and brackets make the
//! parser recurse, two small stack frames a level; their nesting is limited to [`MAX_DEPTH`].
//! Everything with a large frame (literals, qualifiers, messages) sits off the recursive path.

use crate::ast::*;
use crate::error::PatternError;
use crate::hashes;
use crate::lexer::{Kw, Lexer, OpTok, TokKind, Token, quote_snippet};

/// Deepest nesting of `(` and `[` accepted; deeper input is refused with an error.
///
/// Parsing a pattern nested this deep takes about 0.9 MiB of stack in a debug build and 0.3 MiB
/// in a release build, within the 2 MiB that Rust gives a spawned thread.
pub const MAX_DEPTH: usize = 256;

pub(crate) struct Parser<'a> {
    src: &'a str,
    lexer: Lexer<'a>,
    peeked: Option<Token>,
    depth: usize,
    strict: bool,
    /// End of the last token taken by `bump`.
    last_end: usize,
}

/// Which qualifier kinds an observation has already.
#[derive(Default)]
struct Seen {
    within: bool,
    repeats: bool,
    start_stop: bool,
}

impl<'a> Parser<'a> {
    pub(crate) fn new(src: &'a str, strict: bool) -> Self {
        Parser {
            src,
            lexer: Lexer::new(src),
            peeked: None,
            depth: 0,
            strict,
            last_end: 0,
        }
    }

    fn peek(&mut self) -> Result<&Token, PatternError> {
        let token = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        Ok(self.peeked.insert(token))
    }

    fn peek_kind(&mut self) -> Result<TokKind, PatternError> {
        Ok(self.peek()?.kind.clone())
    }

    fn bump(&mut self) -> Result<Token, PatternError> {
        let token = match self.peeked.take() {
            Some(t) => t,
            None => self.lexer.next_token()?,
        };
        self.last_end = token.end;
        Ok(token)
    }

    fn text(&self, t: &Token) -> &'a str {
        self.src.get(t.start..t.end).unwrap_or("")
    }

    /// How a token is named in "found ..." messages.
    fn describe(&self, t: &Token) -> String {
        let text = self.text(t);
        match &t.kind {
            TokKind::Eof => "end of input".to_string(),
            TokKind::Str(_) => format!("string {}", quote_snippet(text)),
            TokKind::Int | TokKind::Float => format!("number {}", quote_snippet(text)),
            TokKind::Hex(_) | TokKind::Binary(_) | TokKind::Timestamp(_) => {
                format!("literal {}", quote_snippet(text))
            }
            _ => quote_snippet(text),
        }
    }

    /// "expected {what} at L:C, found <next token>".
    fn unexpected(&mut self, what: &str) -> PatternError {
        match self.peek() {
            Ok(t) => {
                let t = t.clone();
                PatternError::expected(self.src, t.start, what, &self.describe(&t))
            }
            Err(e) => e,
        }
    }

    fn expect(&mut self, kind: TokKind, what: &str) -> Result<Token, PatternError> {
        if self.peek()?.kind == kind {
            self.bump()
        } else {
            Err(self.unexpected(what))
        }
    }

    fn enter(&mut self) -> Result<(), PatternError> {
        if self.depth >= MAX_DEPTH {
            let t = self.peek()?.clone();
            return Err(PatternError::expected(
                self.src,
                t.start,
                &format!("at most {MAX_DEPTH} levels of nested parentheses and brackets"),
                "deeper nesting",
            ));
        }
        self.depth += 1;
        Ok(())
    }

    fn leave(&mut self) {
        self.depth = self.depth.saturating_sub(1);
    }

    // ---- observation expressions -------------------------------------------------------

    pub(crate) fn parse_pattern(&mut self) -> Result<Pattern, PatternError> {
        let expr = self.obs_expr()?;
        if self.peek()?.kind != TokKind::Eof {
            return Err(self.unexpected("'AND', 'OR', 'FOLLOWEDBY', a qualifier or end of input"));
        }
        Ok(Pattern { expr })
    }

    /// `unit (op unit)*` with op one of AND, OR, FOLLOWEDBY, collected flat and then grouped by
    /// precedence. A parenthesised unit recurses through here: two small frames a level.
    fn obs_expr(&mut self) -> Result<ObservationExpr, PatternError> {
        let mut units = vec![self.obs_unit()?];
        let mut ops = Vec::new();
        loop {
            let op = match self.peek()?.kind {
                TokKind::Kw(Kw::And) => ObsOp::And,
                TokKind::Kw(Kw::Or) => ObsOp::Or,
                TokKind::Kw(Kw::FollowedBy) => ObsOp::FollowedBy,
                _ => return Ok(build_obs(units, &ops)),
            };
            self.bump()?;
            ops.push(op);
            units.push(self.obs_unit()?);
        }
    }

    /// `[ comparison ] qualifiers*` or `( observation ) qualifiers*`.
    fn obs_unit(&mut self) -> Result<ObservationExpr, PatternError> {
        match self.peek()?.kind {
            TokKind::LBrack => self.bracket_observation(),
            TokKind::LParen => {
                self.enter()?;
                self.bump()?;
                let inner = self.obs_expr()?;
                self.close_group(inner)
            }
            _ => Err(self.unexpected("'[' or '('")),
        }
    }

    #[inline(never)]
    fn bracket_observation(&mut self) -> Result<ObservationExpr, PatternError> {
        self.enter()?;
        self.bump()?;
        let comparison = self.cmp_expr()?;
        self.expect(TokKind::RBrack, "'AND', 'OR' or ']'")?;
        self.leave();
        let qualifiers = self.qualifiers(true)?;
        Ok(ObservationExpr::Observation {
            comparison,
            qualifiers,
        })
    }

    #[inline(never)]
    fn close_group(&mut self, inner: ObservationExpr) -> Result<ObservationExpr, PatternError> {
        self.expect(
            TokKind::RParen,
            "'AND', 'OR', 'FOLLOWEDBY', a qualifier or ')'",
        )?;
        self.leave();
        let qualifiers = self.qualifiers(false)?;
        if qualifiers.is_empty() {
            Ok(inner)
        } else {
            Ok(ObservationExpr::Grouped {
                expr: Box::new(inner),
                qualifiers,
            })
        }
    }

    /// Qualifiers after `]` or `)`. `unique` refuses a second qualifier of one kind.
    #[inline(never)]
    fn qualifiers(&mut self, unique: bool) -> Result<Vec<Qualifier>, PatternError> {
        let mut out = Vec::new();
        let mut seen = Seen::default();
        loop {
            let t = self.peek()?.clone();
            let (flag, name) = match t.kind {
                TokKind::Kw(Kw::Within) => (&mut seen.within, "WITHIN"),
                TokKind::Kw(Kw::Repeats) => (&mut seen.repeats, "REPEATS"),
                TokKind::Kw(Kw::Start) => (&mut seen.start_stop, "START/STOP"),
                _ => return Ok(out),
            };
            if unique && *flag {
                return Err(PatternError::expected(
                    self.src,
                    t.start,
                    &format!("at most one {name} qualifier on an observation"),
                    &format!("a second {name}"),
                ));
            }
            *flag = true;
            self.bump()?;
            let q = match t.kind {
                TokKind::Kw(Kw::Within) => {
                    let n = self.bump()?;
                    let secs = match n.kind {
                        TokKind::Int | TokKind::Float if !self.text(&n).starts_with('-') => {
                            self.float_value(&n, "a finite number of seconds")?
                        }
                        _ => {
                            return Err(PatternError::expected(
                                self.src,
                                n.start,
                                "a non-negative number of seconds after 'WITHIN'",
                                &self.describe(&n),
                            ));
                        }
                    };
                    self.expect(TokKind::Kw(Kw::Seconds), "'SECONDS'")?;
                    Qualifier::Within(secs)
                }
                TokKind::Kw(Kw::Repeats) => {
                    let n = self.bump()?;
                    let times = match n.kind {
                        TokKind::Int if !self.text(&n).starts_with('-') => {
                            self.u64_value(&n, "a repeat count")?
                        }
                        _ => {
                            return Err(PatternError::expected(
                                self.src,
                                n.start,
                                "a non-negative integer after 'REPEATS'",
                                &self.describe(&n),
                            ));
                        }
                    };
                    self.expect(TokKind::Kw(Kw::Times), "'TIMES'")?;
                    Qualifier::Repeats(times)
                }
                _ => {
                    let start = self.timestamp("a timestamp literal t'...' after 'START'")?;
                    self.expect(TokKind::Kw(Kw::Stop), "'STOP'")?;
                    let stop = self.timestamp("a timestamp literal t'...' after 'STOP'")?;
                    Qualifier::StartStop { start, stop }
                }
            };
            out.push(q);
        }
    }

    fn timestamp(&mut self, what: &str) -> Result<String, PatternError> {
        match self.peek_kind()? {
            TokKind::Timestamp(ts) => {
                self.bump()?;
                Ok(ts)
            }
            _ => Err(self.unexpected(what)),
        }
    }

    fn float_value(&self, t: &Token, what: &str) -> Result<f64, PatternError> {
        let text = self.text(t);
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(v),
            _ => Err(PatternError::expected(
                self.src,
                t.start,
                what,
                &format!("number {}", quote_snippet(text)),
            )),
        }
    }

    fn u64_value(&self, t: &Token, what: &str) -> Result<u64, PatternError> {
        let text = self.text(t);
        text.parse::<u64>().map_err(|_| {
            PatternError::expected(
                self.src,
                t.start,
                &format!("{what} no larger than {}", u64::MAX),
                &format!("number {}", quote_snippet(text)),
            )
        })
    }

    // ---- comparison expressions ---------------------------------------------------------

    /// `test (op test)*` with op AND or OR, grouped by precedence; see [`Self::obs_expr`].
    fn cmp_expr(&mut self) -> Result<ComparisonExpr, PatternError> {
        let mut units = vec![self.prop_test()?];
        let mut ands = Vec::new();
        loop {
            let and = match self.peek()?.kind {
                TokKind::Kw(Kw::And) => true,
                TokKind::Kw(Kw::Or) => false,
                _ => return Ok(build_cmp(units, &ands)),
            };
            self.bump()?;
            ands.push(and);
            units.push(self.prop_test()?);
        }
    }

    fn prop_test(&mut self) -> Result<ComparisonExpr, PatternError> {
        match self.peek()?.kind {
            TokKind::LParen => {
                self.enter()?;
                self.bump()?;
                let inner = self.cmp_expr()?;
                self.close_paren_test()?;
                Ok(inner)
            }
            TokKind::Kw(Kw::Not) | TokKind::Kw(Kw::Exists) => self.exists_test(),
            TokKind::Ident { .. } => self.comparison(),
            _ => Err(self.unexpected("an object path, '(', 'NOT' or 'EXISTS'")),
        }
    }

    #[inline(never)]
    fn close_paren_test(&mut self) -> Result<(), PatternError> {
        self.expect(TokKind::RParen, "'AND', 'OR' or ')'")?;
        self.leave();
        Ok(())
    }

    /// `[NOT] EXISTS path`.
    #[inline(never)]
    fn exists_test(&mut self) -> Result<ComparisonExpr, PatternError> {
        let negated = self.peek()?.kind == TokKind::Kw(Kw::Not);
        if negated {
            self.bump()?;
        }
        self.expect(
            TokKind::Kw(Kw::Exists),
            if negated {
                "'EXISTS' after 'NOT'"
            } else {
                "'EXISTS'"
            },
        )?;
        let path = self.object_path()?;
        Ok(ComparisonExpr::Comparison(Comparison {
            path,
            negated,
            op: Operator::Exists,
            value: None,
        }))
    }

    /// `path [NOT] op value`.
    #[inline(never)]
    fn comparison(&mut self) -> Result<ComparisonExpr, PatternError> {
        let path = self.object_path()?;
        let negated = self.peek()?.kind == TokKind::Kw(Kw::Not);
        if negated {
            self.bump()?;
        }
        let op = match self.peek_kind()? {
            TokKind::Op(OpTok::Eq) => Operator::Eq,
            TokKind::Op(OpTok::Neq) => Operator::Neq,
            TokKind::Op(OpTok::Gt) => Operator::Gt,
            TokKind::Op(OpTok::Lt) => Operator::Lt,
            TokKind::Op(OpTok::Ge) => Operator::Ge,
            TokKind::Op(OpTok::Le) => Operator::Le,
            TokKind::Kw(Kw::In) => Operator::In,
            TokKind::Kw(Kw::Like) => Operator::Like,
            TokKind::Kw(Kw::Matches) => Operator::Matches,
            TokKind::Kw(Kw::IsSubset) => Operator::IsSubset,
            TokKind::Kw(Kw::IsSuperset) => Operator::IsSuperset,
            _ => {
                return Err(self.unexpected(if negated {
                    "a comparison operator after 'NOT'"
                } else {
                    "'.', '[', 'NOT' or a comparison operator"
                }));
            }
        };
        self.bump()?;
        let value_start = self.peek()?.start;
        let value = self.value_for(op)?;
        let value_end = self.last_end;
        if self.strict {
            let raw = self.src.get(value_start..value_end).unwrap_or("");
            if let Some(problem) = hashes::check(&path, &value, raw) {
                return Err(PatternError::expected(
                    self.src,
                    value_start,
                    &problem.expected,
                    &problem.found,
                ));
            }
        }
        Ok(ComparisonExpr::Comparison(Comparison {
            path,
            negated,
            op,
            value: Some(value),
        }))
    }

    fn object_path(&mut self) -> Result<ObjectPath, PatternError> {
        let t = self.peek()?.clone();
        let object_type = match t.kind {
            TokKind::Ident { .. } => {
                self.bump()?;
                self.text(&t).to_string()
            }
            _ => return Err(self.unexpected("an object type such as 'file'")),
        };
        self.expect(TokKind::Colon, "':' after the object type")?;
        let mut steps = vec![PathStep::Property(self.property_name()?)];
        loop {
            match self.peek_kind()? {
                TokKind::Dot => {
                    self.bump()?;
                    steps.push(PathStep::Property(self.property_name()?));
                }
                TokKind::LBrack => {
                    self.bump()?;
                    let t = self.bump()?;
                    let step = match t.kind {
                        TokKind::Star => PathStep::AnyIndex,
                        TokKind::Int if !self.text(&t).starts_with('-') => {
                            PathStep::Index(self.u64_value(&t, "a list index")?)
                        }
                        _ => {
                            return Err(PatternError::expected(
                                self.src,
                                t.start,
                                "a non-negative list index or '*'",
                                &self.describe(&t),
                            ));
                        }
                    };
                    self.expect(TokKind::RBrack, "']' after the list index")?;
                    steps.push(step);
                }
                _ => return Ok(ObjectPath { object_type, steps }),
            }
        }
    }

    fn property_name(&mut self) -> Result<String, PatternError> {
        let t = self.peek()?.clone();
        match t.kind {
            TokKind::Ident { hyphen: false } => {
                self.bump()?;
                Ok(self.text(&t).to_string())
            }
            TokKind::Str(s) => {
                self.bump()?;
                Ok(s)
            }
            TokKind::Ident { hyphen: true } => Err(PatternError::expected(
                self.src,
                t.start,
                "a property name (quote names that contain '-', as in 'SHA-256')",
                &self.describe(&t),
            )),
            _ => Err(self.unexpected("a property name")),
        }
    }

    // ---- literals -----------------------------------------------------------------------

    fn value_for(&mut self, op: Operator) -> Result<Literal, PatternError> {
        match op {
            Operator::In => self.set_literal(),
            Operator::Like | Operator::Matches | Operator::IsSubset | Operator::IsSuperset => {
                match self.peek_kind()? {
                    TokKind::Str(s) => {
                        self.bump()?;
                        Ok(Literal::String(s))
                    }
                    _ => Err(self.unexpected(&format!("a string literal after '{}'", op.as_str()))),
                }
            }
            Operator::Gt | Operator::Lt | Operator::Ge | Operator::Le => {
                if matches!(self.peek()?.kind, TokKind::Bool(_)) {
                    return Err(self.unexpected(&format!(
                        "a literal other than a boolean after '{}'",
                        op.as_str()
                    )));
                }
                self.primitive_literal(&format!("a literal after '{}'", op.as_str()))
            }
            Operator::Eq | Operator::Neq | Operator::Exists => {
                self.primitive_literal(&format!("a literal after '{}'", op.as_str()))
            }
        }
    }

    fn set_literal(&mut self) -> Result<Literal, PatternError> {
        self.expect(
            TokKind::LParen,
            "a set literal such as ('a', 'b') after 'IN'",
        )?;
        let mut items = Vec::new();
        if self.peek()?.kind == TokKind::RParen {
            self.bump()?;
            return Ok(Literal::Set(items));
        }
        loop {
            items.push(self.primitive_literal("a literal in the set")?);
            match self.peek_kind()? {
                TokKind::Comma => {
                    self.bump()?;
                }
                TokKind::RParen => {
                    self.bump()?;
                    return Ok(Literal::Set(items));
                }
                _ => return Err(self.unexpected("',' or ')' in the set literal")),
            }
        }
    }

    /// Any literal but a set.
    fn primitive_literal(&mut self, what: &str) -> Result<Literal, PatternError> {
        let t = self.peek()?.clone();
        let lit = match t.kind {
            TokKind::Str(s) => Literal::String(s),
            TokKind::Bool(b) => Literal::Bool(b),
            TokKind::Hex(h) => Literal::Hex(h),
            TokKind::Binary(b) => Literal::Binary(b),
            TokKind::Timestamp(ts) => Literal::Timestamp(ts),
            TokKind::Int => {
                let text = self.text(&t);
                let v = text.parse::<i64>().map_err(|_| {
                    PatternError::expected(
                        self.src,
                        t.start,
                        &format!("an integer from {} to {}", i64::MIN, i64::MAX),
                        &format!("number {}", quote_snippet(text)),
                    )
                })?;
                Literal::Int(v)
            }
            TokKind::Float => Literal::Float(self.float_value(&t, "a finite number")?),
            _ => return Err(self.unexpected(what)),
        };
        self.bump()?;
        Ok(lit)
    }
}

#[derive(Clone, Copy, PartialEq)]
enum ObsOp {
    And,
    Or,
    FollowedBy,
}

/// Groups `units[0] ops[0] units[1] ops[1] ...` by precedence (AND, then OR, then FOLLOWEDBY).
fn build_obs(units: Vec<ObservationExpr>, ops: &[ObsOp]) -> ObservationExpr {
    let mut followed: Vec<ObservationExpr> = Vec::new();
    let mut ors: Vec<ObservationExpr> = Vec::new();
    let mut ands: Vec<ObservationExpr> = Vec::new();
    for (i, unit) in units.into_iter().enumerate() {
        ands.push(unit);
        let next = ops.get(i).copied();
        if next == Some(ObsOp::And) {
            continue;
        }
        ors.push(join_obs(std::mem::take(&mut ands), ObsOp::And));
        if next == Some(ObsOp::Or) {
            continue;
        }
        followed.push(join_obs(std::mem::take(&mut ors), ObsOp::Or));
    }
    join_obs(followed, ObsOp::FollowedBy)
}

/// Builds an n-ary node from operands, merging operands that are the same operator; one
/// operand is returned as it is.
fn join_obs(mut items: Vec<ObservationExpr>, op: ObsOp) -> ObservationExpr {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    let mut flat = Vec::with_capacity(items.len());
    for item in items {
        match (op, item) {
            (ObsOp::And, ObservationExpr::And(inner))
            | (ObsOp::Or, ObservationExpr::Or(inner))
            | (ObsOp::FollowedBy, ObservationExpr::FollowedBy(inner)) => flat.extend(inner),
            (_, other) => flat.push(other),
        }
    }
    match op {
        ObsOp::And => ObservationExpr::And(flat),
        ObsOp::Or => ObservationExpr::Or(flat),
        ObsOp::FollowedBy => ObservationExpr::FollowedBy(flat),
    }
}

/// Groups `units[0] ands[0] units[1] ...` by precedence (`true` is AND, `false` is OR).
fn build_cmp(units: Vec<ComparisonExpr>, ands: &[bool]) -> ComparisonExpr {
    let mut ors: Vec<ComparisonExpr> = Vec::new();
    let mut group: Vec<ComparisonExpr> = Vec::new();
    for (i, unit) in units.into_iter().enumerate() {
        group.push(unit);
        if ands.get(i).copied() == Some(true) {
            continue;
        }
        ors.push(join_cmp(std::mem::take(&mut group), true));
    }
    join_cmp(ors, false)
}

fn join_cmp(mut items: Vec<ComparisonExpr>, and: bool) -> ComparisonExpr {
    if items.len() == 1
        && let Some(only) = items.pop()
    {
        return only;
    }
    let mut flat = Vec::with_capacity(items.len());
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
