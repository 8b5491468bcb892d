//! The typed syntax tree of a STIX 2.1 pattern.
//!
//! The parser produces a *canonical* tree:
//!
//! * parentheses that carry no qualifier are dropped (`([a])` is the same tree as `[a]`, and
//!   `[(x:a = 1)]` the same as `[x:a = 1]`);
//! * chains of one operator are n-ary: `A AND B AND C` is one `And` with three operands, and an
//!   operand of `And` is never itself an `And` (the same holds for `Or` and `FollowedBy`). All
//!   three operators are associative, so this loses nothing of the left-associative grammar;
//! * [`ObservationExpr::Grouped`] always has at least one qualifier;
//! * quoted and bare property names are the same step (`file:'name'` equals `file:name`);
//! * `==` is [`Operator::Eq`] and `<>` is [`Operator::Neq`].
//!
//! [`Pattern`]'s `Display` prints that canonical form, and parsing the printed text gives back
//! an equal tree.

/// A whole STIX pattern: one observation expression.
#[derive(Debug, Clone, PartialEq)]
pub struct Pattern {
    /// The top-level observation expression.
    pub expr: ObservationExpr,
}

/// An observation expression: `[ ... ]` observations joined by `AND`, `OR` and `FOLLOWEDBY`,
/// possibly qualified.
#[derive(Debug, Clone, PartialEq)]
pub enum ObservationExpr {
    /// `[ comparison ] qualifiers*`: one observation matched against one SCO graph.
    Observation {
        /// The comparison expression between the square brackets.
        comparison: ComparisonExpr,
        /// The qualifiers written after `]`, in source order (at most one of each kind).
        qualifiers: Vec<Qualifier>,
    },
    /// `A AND B AND ...` (two or more operands, none of them an `And`).
    And(Vec<ObservationExpr>),
    /// `A OR B OR ...` (two or more operands, none of them an `Or`).
    Or(Vec<ObservationExpr>),
    /// `A FOLLOWEDBY B FOLLOWEDBY ...` (two or more operands, none of them a `FollowedBy`).
    FollowedBy(Vec<ObservationExpr>),
    /// `( expr ) qualifiers+`: a parenthesised expression with one or more qualifiers.
    ///
    /// Like the OASIS validator, the parser does not limit qualifiers on a parenthesised group
    /// to one of each kind; it does on a `[ ... ]` observation.
    Grouped {
        /// The expression inside the parentheses.
        expr: Box<ObservationExpr>,
        /// The qualifiers written after `)`, in source order (never empty in a parsed tree).
        qualifiers: Vec<Qualifier>,
    },
}

/// A qualifier on an observation expression.
#[derive(Debug, Clone, PartialEq)]
pub enum Qualifier {
    /// `WITHIN n SECONDS`: every observation must fall in a window of `n` seconds (finite, >= 0).
    Within(f64),
    /// `REPEATS n TIMES`: the expression must match `n` times.
    Repeats(u64),
    /// `START t'...' STOP t'...'`: observations must fall in this interval. Both values are the
    /// timestamp text between the quotes, e.g. `2016-06-01T00:00:00Z`.
    StartStop {
        /// The `START` timestamp.
        start: String,
        /// The `STOP` timestamp.
        stop: String,
    },
}

/// A comparison expression: the contents of `[ ... ]`.
#[derive(Debug, Clone, PartialEq)]
pub enum ComparisonExpr {
    /// `a AND b AND ...` (two or more operands, none of them an `And`).
    And(Vec<ComparisonExpr>),
    /// `a OR b OR ...` (two or more operands, none of them an `Or`).
    Or(Vec<ComparisonExpr>),
    /// A single property test.
    Comparison(Comparison),
}

/// A property test: `path [NOT] op value`, or `[NOT] EXISTS path`.
#[derive(Debug, Clone, PartialEq)]
pub struct Comparison {
    /// The object path that is tested.
    pub path: ObjectPath,
    /// Whether `NOT` was written before the operator.
    pub negated: bool,
    /// The comparison operator.
    pub op: Operator,
    /// The right-hand value; `None` exactly when `op` is [`Operator::Exists`].
    ///
    /// Which literal kinds appear depends on the operator: any non-set literal for `=`/`!=`, any
    /// except booleans and sets for the ordering operators, a [`Literal::Set`] for `IN`, and a
    /// [`Literal::String`] for `LIKE`, `MATCHES`, `ISSUBSET` and `ISSUPERSET`.
    pub value: Option<Literal>,
}

/// A comparison operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Operator {
    /// `=` (also written `==`).
    Eq,
    /// `!=` (also written `<>`).
    Neq,
    /// `>`.
    Gt,
    /// `<`.
    Lt,
    /// `>=`.
    Ge,
    /// `<=`.
    Le,
    /// `IN` a set.
    In,
    /// `LIKE` an SQL-style pattern.
    Like,
    /// `MATCHES` a PCRE regular expression.
    Matches,
    /// `ISSUBSET` (IP address range containment).
    IsSubset,
    /// `ISSUPERSET` (IP address range containment).
    IsSuperset,
    /// `EXISTS`: the path is present; has no value.
    Exists,
}

impl Operator {
    /// The canonical spelling of the operator in pattern text.
    pub fn as_str(self) -> &'static str {
        match self {
            Operator::Eq => "=",
            Operator::Neq => "!=",
            Operator::Gt => ">",
            Operator::Lt => "<",
            Operator::Ge => ">=",
            Operator::Le => "<=",
            Operator::In => "IN",
            Operator::Like => "LIKE",
            Operator::Matches => "MATCHES",
            Operator::IsSubset => "ISSUBSET",
            Operator::IsSuperset => "ISSUPERSET",
            Operator::Exists => "EXISTS",
        }
    }
}

/// An object path: `type:property(.key | [n] | [*])*`.
///
/// The first property is the first element of `steps` (always a [`PathStep::Property`] in a
/// parsed path). `*_ref` and `*_refs` properties are ordinary steps; following them is left to
/// the matcher.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct ObjectPath {
    /// The SCO type, e.g. `file` or `network-traffic`.
    pub object_type: String,
    /// The property steps, first property included.
    pub steps: Vec<PathStep>,
}

/// One step of an object path.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum PathStep {
    /// A property or dictionary key (`.name` or `.'SHA-256'`), unquoted and unescaped.
    Property(String),
    /// A list index `[n]`.
    Index(u64),
    /// Any list element `[*]`.
    AnyIndex,
}

/// A literal value on the right of a comparison.
#[derive(Debug, Clone, PartialEq)]
pub enum Literal {
    /// `'text'`, unescaped (`\'` became `'`, `\\` became `\`).
    String(String),
    /// An integer such as `42` or `-7`.
    Int(i64),
    /// A decimal number such as `7.0` or `-.5` (always finite).
    Float(f64),
    /// `true` or `false`.
    Bool(bool),
    /// `h'ff00'`, decoded to bytes.
    Hex(Vec<u8>),
    /// `b'AAE='` (base64), decoded to bytes (never empty in a parsed tree).
    Binary(Vec<u8>),
    /// `t'2016-01-01T00:00:00Z'`: the text between the quotes, in the validated form
    /// `YYYY-MM-DDTHH:MM:SS(.fraction)?Z`.
    Timestamp(String),
    /// `('a', 'b')`: the elements of a set (none of them a set).
    Set(Vec<Literal>),
}

impl Pattern {
    /// Every comparison of the pattern, in source order (left to right).
    pub fn comparisons(&self) -> Comparisons<'_> {
        self.expr.comparisons()
    }
}

impl ObservationExpr {
    /// Every comparison under this expression, in source order (left to right).
    pub fn comparisons(&self) -> Comparisons<'_> {
        Comparisons {
            stack: vec![Node::Obs(self)],
        }
    }
}

impl ComparisonExpr {
    /// Every comparison under this expression, in source order (left to right).
    pub fn comparisons(&self) -> Comparisons<'_> {
        Comparisons {
            stack: vec![Node::Cmp(self)],
        }
    }
}

#[derive(Debug, Clone)]
enum Node<'a> {
    Obs(&'a ObservationExpr),
    Cmp(&'a ComparisonExpr),
}

/// Iterator over the comparisons of a pattern, from [`Pattern::comparisons`].
///
/// It walks the tree with an explicit stack, so it does not recurse.
#[derive(Debug, Clone)]
pub struct Comparisons<'a> {
    stack: Vec<Node<'a>>,
}

impl<'a> Iterator for Comparisons<'a> {
    type Item = &'a Comparison;

    fn next(&mut self) -> Option<&'a Comparison> {
        while let Some(node) = self.stack.pop() {
            match node {
                Node::Obs(ObservationExpr::Observation { comparison, .. }) => {
                    self.stack.push(Node::Cmp(comparison));
                }
                Node::Obs(
                    ObservationExpr::And(items)
                    | ObservationExpr::Or(items)
                    | ObservationExpr::FollowedBy(items),
                ) => {
                    self.stack.extend(items.iter().rev().map(Node::Obs));
                }
                Node::Obs(ObservationExpr::Grouped { expr, .. }) => {
                    self.stack.push(Node::Obs(expr));
                }
                Node::Cmp(ComparisonExpr::And(items) | ComparisonExpr::Or(items)) => {
                    self.stack.extend(items.iter().rev().map(Node::Cmp));
                }
                Node::Cmp(ComparisonExpr::Comparison(c)) => return Some(c),
            }
        }
        None
    }
}
