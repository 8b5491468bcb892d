//! Canonical pattern text: `Display` for the syntax tree.
//!
//! The output uses single spaces, `=`/`!=`, bare property names where the grammar allows them
//! (quoted otherwise), lowercase hex, padded base64, and parentheses only where precedence needs
//! them. Parsing it gives back an equal tree for every tree the parser can produce.

use std::fmt::{self, Display, Formatter, Write};

use crate::ast::*;
use crate::lexer::{encode_base64, is_reserved};

impl Display for Pattern {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        self.expr.fmt(f)
    }
}

fn obs_prec(e: &ObservationExpr) -> u8 {
    match e {
        ObservationExpr::FollowedBy(_) => 1,
        ObservationExpr::Or(_) => 2,
        ObservationExpr::And(_) => 3,
        ObservationExpr::Observation { .. } | ObservationExpr::Grouped { .. } => 4,
    }
}

fn write_qualifiers(f: &mut Formatter<'_>, qualifiers: &[Qualifier]) -> fmt::Result {
    for q in qualifiers {
        write!(f, " {q}")?;
    }
    Ok(())
}

impl Display for ObservationExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (items, sep) = match self {
            ObservationExpr::Observation {
                comparison,
                qualifiers,
            } => {
                write!(f, "[{comparison}]")?;
                return write_qualifiers(f, qualifiers);
            }
            ObservationExpr::Grouped { expr, qualifiers } => {
                write!(f, "({expr})")?;
                return write_qualifiers(f, qualifiers);
            }
            ObservationExpr::And(items) => (items, " AND "),
            ObservationExpr::Or(items) => (items, " OR "),
            ObservationExpr::FollowedBy(items) => (items, " FOLLOWEDBY "),
        };
        let prec = obs_prec(self);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(sep)?;
            }
            if obs_prec(item) <= prec {
                write!(f, "({item})")?;
            } else {
                write!(f, "{item}")?;
            }
        }
        Ok(())
    }
}

impl Display for Qualifier {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Qualifier::Within(secs) => write!(f, "WITHIN {secs} SECONDS"),
            Qualifier::Repeats(n) => write!(f, "REPEATS {n} TIMES"),
            Qualifier::StartStop { start, stop } => write!(f, "START t'{start}' STOP t'{stop}'"),
        }
    }
}

fn cmp_prec(e: &ComparisonExpr) -> u8 {
    match e {
        ComparisonExpr::Or(_) => 1,
        ComparisonExpr::And(_) => 2,
        ComparisonExpr::Comparison(_) => 3,
    }
}

impl Display for ComparisonExpr {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let (items, sep) = match self {
            ComparisonExpr::Comparison(c) => return c.fmt(f),
            ComparisonExpr::And(items) => (items, " AND "),
            ComparisonExpr::Or(items) => (items, " OR "),
        };
        let prec = cmp_prec(self);
        for (i, item) in items.iter().enumerate() {
            if i > 0 {
                f.write_str(sep)?;
            }
            if cmp_prec(item) <= prec {
                write!(f, "({item})")?;
            } else {
                write!(f, "{item}")?;
            }
        }
        Ok(())
    }
}

impl Display for Comparison {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        let not = if self.negated { "NOT " } else { "" };
        match (&self.op, &self.value) {
            (Operator::Exists, _) => write!(f, "{not}EXISTS {}", self.path),
            (op, Some(value)) => write!(f, "{} {not}{} {value}", self.path, op.as_str()),
            (op, None) => write!(f, "{} {not}{}", self.path, op.as_str()),
        }
    }
}

impl Display for Operator {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// True if `name` can be written without quotes as a property name.
fn is_bare_property(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !is_reserved(name)
}

fn write_string(f: &mut Formatter<'_>, s: &str) -> fmt::Result {
    f.write_char('\'')?;
    for c in s.chars() {
        match c {
            '\'' => f.write_str("\\'")?,
            '\\' => f.write_str("\\\\")?,
            c => f.write_char(c)?,
        }
    }
    f.write_char('\'')
}

fn write_property(f: &mut Formatter<'_>, name: &str) -> fmt::Result {
    if is_bare_property(name) {
        f.write_str(name)
    } else {
        write_string(f, name)
    }
}

impl Display for ObjectPath {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        write!(f, "{}:", self.object_type)?;
        for (i, step) in self.steps.iter().enumerate() {
            match step {
                PathStep::Property(name) => {
                    if i > 0 {
                        f.write_char('.')?;
                    }
                    write_property(f, name)?;
                }
                PathStep::Index(n) => write!(f, "[{n}]")?,
                PathStep::AnyIndex => f.write_str("[*]")?,
            }
        }
        Ok(())
    }
}

impl Display for Literal {
    fn fmt(&self, f: &mut Formatter<'_>) -> fmt::Result {
        match self {
            Literal::String(s) => write_string(f, s),
            Literal::Int(n) => write!(f, "{n}"),
            Literal::Float(x) => {
                // `Display` for f64 never uses an exponent and round-trips; add the `.0` the
                // grammar needs to tell a float from an integer.
                let text = x.to_string();
                f.write_str(&text)?;
                if x.is_finite() && !text.contains('.') {
                    f.write_str(".0")?;
                }
                Ok(())
            }
            Literal::Bool(b) => write!(f, "{b}"),
            Literal::Hex(bytes) => {
                f.write_str("h'")?;
                for b in bytes {
                    write!(f, "{b:02x}")?;
                }
                f.write_char('\'')
            }
            Literal::Binary(bytes) => write!(f, "b'{}'", encode_base64(bytes)),
            Literal::Timestamp(ts) => write!(f, "t'{ts}'"),
            Literal::Set(items) => {
                f.write_char('(')?;
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        f.write_str(", ")?;
                    }
                    write!(f, "{item}")?;
                }
                f.write_char(')')
            }
        }
    }
}
