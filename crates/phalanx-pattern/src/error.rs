//! The parse error type.

/// Why a pattern was refused, and where.
///
/// The message is lowercase and names what was expected, where, and what was found instead,
/// e.g. `expected ']' at 1:23, found end of input`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct PatternError {
    /// Byte offset into the input where the problem was found (`input.len()` at end of input).
    pub position: usize,
    /// 1-based line of `position` (lines end at `\n`).
    pub line: usize,
    /// 1-based column of `position`, counted in characters.
    pub column: usize,
    /// The full message, position included.
    pub message: String,
}

impl PatternError {
    /// An error at byte `position` of `input`: "expected {expected} at L:C, found {found}".
    pub(crate) fn expected(input: &str, position: usize, expected: &str, found: &str) -> Self {
        let (line, column) = line_column(input, position);
        PatternError {
            position,
            line,
            column,
            message: format!("expected {expected} at {line}:{column}, found {found}"),
        }
    }
}

/// 1-based (line, column) of a byte offset; column counts characters. Offsets past the end or
/// inside a character are clamped to the previous character boundary.
pub(crate) fn line_column(input: &str, position: usize) -> (usize, usize) {
    let mut end = position.min(input.len());
    while end > 0 && !input.is_char_boundary(end) {
        end -= 1;
    }
    let before = input.get(..end).unwrap_or("");
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    let column = before.get(line_start..).unwrap_or("").chars().count() + 1;
    (line, column)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_column_counts_lines_and_characters() {
        assert_eq!(line_column("abc", 0), (1, 1));
        assert_eq!(line_column("abc", 3), (1, 4));
        assert_eq!(line_column("a\nbc", 2), (2, 1));
        assert_eq!(line_column("a\nbc", 4), (2, 3));
        // 'é' is two bytes but one column.
        assert_eq!(line_column("é[", 2), (1, 2));
        // Inside a character and past the end are clamped.
        assert_eq!(line_column("é", 1), (1, 1));
        assert_eq!(line_column("ab", 99), (1, 3));
    }
}
