//! Hand-written lexer for the STIX 2.1 pattern grammar (tokens of `STIXPattern.g4`).
//!
//! Tokens are produced on demand by the parser. Like the ANTLR lexer it follows the longest
//! match: `ipv4-addr` is one identifier, `ANDROID` is an identifier and not `AND`, while
//! `5SECONDS` is the integer `5` followed by the keyword `SECONDS`. Whitespace (the grammar's
//! set, which includes several Unicode spaces), `/* ... */` and `// ...` comments are skipped.

use crate::error::PatternError;

/// Keywords of the grammar. They are case-sensitive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kw {
    And,
    Or,
    Not,
    FollowedBy,
    Like,
    Matches,
    IsSuperset,
    IsSubset,
    Exists,
    Last,
    In,
    Start,
    Stop,
    Seconds,
    Within,
    Repeats,
    Times,
}

/// Every keyword with its spelling; `true` and `false` are literals, not listed here.
pub(crate) const KEYWORDS: &[(&str, Kw)] = &[
    ("AND", Kw::And),
    ("OR", Kw::Or),
    ("NOT", Kw::Not),
    ("FOLLOWEDBY", Kw::FollowedBy),
    ("LIKE", Kw::Like),
    ("MATCHES", Kw::Matches),
    ("ISSUPERSET", Kw::IsSuperset),
    ("ISSUBSET", Kw::IsSubset),
    ("EXISTS", Kw::Exists),
    ("LAST", Kw::Last),
    ("IN", Kw::In),
    ("START", Kw::Start),
    ("STOP", Kw::Stop),
    ("SECONDS", Kw::Seconds),
    ("WITHIN", Kw::Within),
    ("REPEATS", Kw::Repeats),
    ("TIMES", Kw::Times),
];

/// True if `s` lexes as a keyword or boolean rather than an identifier.
pub(crate) fn is_reserved(s: &str) -> bool {
    s == "true" || s == "false" || KEYWORDS.iter().any(|(k, _)| *k == s)
}

/// Comparison operator tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum OpTok {
    Eq,
    Neq,
    Lt,
    Le,
    Gt,
    Ge,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum TokKind {
    LBrack,
    RBrack,
    LParen,
    RParen,
    Colon,
    Dot,
    Comma,
    Star,
    Op(OpTok),
    /// An identifier; `hyphen` tells whether it contains `-` (allowed in object types only).
    Ident {
        hyphen: bool,
    },
    Kw(Kw),
    /// A string literal, unescaped.
    Str(String),
    /// An integer literal; the text (sign included) is the token's span.
    Int,
    /// A float literal; the text (sign included) is the token's span.
    Float,
    Hex(Vec<u8>),
    Binary(Vec<u8>),
    /// Timestamp text between the quotes.
    Timestamp(String),
    Bool(bool),
    /// A character that starts no token of the grammar.
    Invalid,
    Eof,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Token {
    pub kind: TokKind,
    pub start: usize,
    pub end: usize,
}

pub(crate) struct Lexer<'a> {
    src: &'a str,
    pos: usize,
}

/// The grammar's whitespace set (rule `WS`).
fn is_ws(c: char) -> bool {
    matches!(
        c,
        ' ' | '\t'
            | '\r'
            | '\n'
            | '\u{0B}'
            | '\u{0C}'
            | '\u{85}'
            | '\u{A0}'
            | '\u{1680}'
            | '\u{2000}'
            ..='\u{200A}' | '\u{2028}' | '\u{2029}' | '\u{202F}' | '\u{205F}' | '\u{3000}'
    )
}

fn is_ident_start(c: char) -> bool {
    c.is_ascii_alphabetic() || c == '_'
}

fn is_ident_continue(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

fn is_base64_char(c: u8) -> bool {
    c.is_ascii_alphanumeric() || c == b'+' || c == b'/'
}

/// Shortened, quoted text of a token for error messages.
pub(crate) fn quote_snippet(text: &str) -> String {
    const MAX: usize = 40;
    let mut out = String::from("'");
    for (i, c) in text.chars().enumerate() {
        if i == MAX {
            out.push_str("...");
            break;
        }
        match c {
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if c.is_control() => out.push_str(&format!("\\u{{{:x}}}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('\'');
    out
}

impl<'a> Lexer<'a> {
    pub(crate) fn new(src: &'a str) -> Self {
        Lexer { src, pos: 0 }
    }

    fn rest(&self) -> &'a str {
        self.src.get(self.pos..).unwrap_or("")
    }

    fn peek_char(&self) -> Option<char> {
        self.rest().chars().next()
    }

    fn peek_char_at(&self, n: usize) -> Option<char> {
        self.rest().chars().nth(n)
    }

    fn err(&self, at: usize, expected: &str, found: &str) -> PatternError {
        PatternError::expected(self.src, at, expected, found)
    }

    fn skip_trivia(&mut self) -> Result<(), PatternError> {
        loop {
            let rest = self.rest();
            if let Some(c) = rest.chars().next().filter(|c| is_ws(*c)) {
                self.pos += c.len_utf8();
            } else if rest.starts_with("/*") {
                match rest.get(2..).and_then(|r| r.find("*/")) {
                    Some(i) => self.pos += 2 + i + 2,
                    None => {
                        return Err(self.err(
                            self.src.len(),
                            &format!(
                                "'*/' (comment opened at {})",
                                position_text(self.src, self.pos)
                            ),
                            "end of input",
                        ));
                    }
                }
            } else if rest.starts_with("//") {
                let len = rest.find(['\r', '\n']).unwrap_or(rest.len());
                self.pos += len;
            } else {
                return Ok(());
            }
        }
    }

    /// The next token.
    pub(crate) fn next_token(&mut self) -> Result<Token, PatternError> {
        self.skip_trivia()?;
        let start = self.pos;
        let Some(c) = self.peek_char() else {
            return Ok(Token {
                kind: TokKind::Eof,
                start,
                end: start,
            });
        };
        let simple = |kind: TokKind, len: usize| (kind, len);
        let (kind, len) = match c {
            '[' => simple(TokKind::LBrack, 1),
            ']' => simple(TokKind::RBrack, 1),
            '(' => simple(TokKind::LParen, 1),
            ')' => simple(TokKind::RParen, 1),
            ':' => simple(TokKind::Colon, 1),
            ',' => simple(TokKind::Comma, 1),
            '*' => simple(TokKind::Star, 1),
            '=' => {
                if self.peek_char_at(1) == Some('=') {
                    simple(TokKind::Op(OpTok::Eq), 2)
                } else {
                    simple(TokKind::Op(OpTok::Eq), 1)
                }
            }
            '!' => {
                if self.peek_char_at(1) == Some('=') {
                    simple(TokKind::Op(OpTok::Neq), 2)
                } else {
                    simple(TokKind::Invalid, 1)
                }
            }
            '<' => match self.peek_char_at(1) {
                Some('>') => simple(TokKind::Op(OpTok::Neq), 2),
                Some('=') => simple(TokKind::Op(OpTok::Le), 2),
                _ => simple(TokKind::Op(OpTok::Lt), 1),
            },
            '>' => match self.peek_char_at(1) {
                Some('=') => simple(TokKind::Op(OpTok::Ge), 2),
                _ => simple(TokKind::Op(OpTok::Gt), 1),
            },
            '\'' => return self.string(start),
            '.' => {
                if self.peek_char_at(1).is_some_and(|d| d.is_ascii_digit()) {
                    return self.number(start);
                }
                simple(TokKind::Dot, 1)
            }
            '+' | '-' => {
                let next = self.peek_char_at(1);
                let next2 = self.peek_char_at(2);
                if next.is_some_and(|d| d.is_ascii_digit())
                    || (next == Some('.') && next2.is_some_and(|d| d.is_ascii_digit()))
                {
                    return self.number(start);
                }
                simple(TokKind::Invalid, 1)
            }
            '0'..='9' => return self.number(start),
            'h' | 'b' | 't' if self.peek_char_at(1) == Some('\'') => {
                return self.prefixed_literal(start, c);
            }
            c if is_ident_start(c) => return Ok(self.ident(start)),
            c => simple(TokKind::Invalid, c.len_utf8()),
        };
        self.pos += len;
        Ok(Token {
            kind,
            start,
            end: self.pos,
        })
    }

    fn ident(&mut self, start: usize) -> Token {
        let rest = self.rest();
        let len = rest
            .find(|c: char| !is_ident_continue(c))
            .unwrap_or(rest.len());
        let text = rest.get(..len).unwrap_or("");
        self.pos += len;
        let kind = if text == "true" {
            TokKind::Bool(true)
        } else if text == "false" {
            TokKind::Bool(false)
        } else if let Some((_, kw)) = KEYWORDS.iter().find(|(k, _)| *k == text) {
            TokKind::Kw(*kw)
        } else {
            TokKind::Ident {
                hyphen: text.contains('-'),
            }
        };
        Token {
            kind,
            start,
            end: self.pos,
        }
    }

    /// `'...'` with escapes `\'` and `\\` only.
    fn string(&mut self, start: usize) -> Result<Token, PatternError> {
        let body_start = start + 1;
        let body = self.src.get(body_start..).unwrap_or("");
        let mut value = String::new();
        let mut chars = body.char_indices();
        while let Some((i, c)) = chars.next() {
            match c {
                '\'' => {
                    self.pos = body_start + i + 1;
                    return Ok(Token {
                        kind: TokKind::Str(value),
                        start,
                        end: self.pos,
                    });
                }
                '\\' => match chars.next() {
                    Some((_, e @ ('\'' | '\\'))) => value.push(e),
                    Some((j, e)) => {
                        let esc = format!("\\{e}");
                        return Err(self.err(
                            body_start + j - 1,
                            "\\' or \\\\ (the only escapes in a string literal)",
                            &quote_snippet(&esc),
                        ));
                    }
                    None => break,
                },
                c => value.push(c),
            }
        }
        Err(self.err(
            self.src.len(),
            &format!(
                "closing quote (string opened at {})",
                position_text(self.src, start)
            ),
            "end of input",
        ))
    }

    /// `h'..'`, `b'..'` or `t'..'`.
    fn prefixed_literal(&mut self, start: usize, prefix: char) -> Result<Token, PatternError> {
        let body_start = start + 2;
        let body = self.src.get(body_start..).unwrap_or("");
        let (what, form) = match prefix {
            'h' => ("hex literal", "an even number of hex digits"),
            'b' => (
                "binary literal",
                "base64 text in whole groups of 4 characters",
            ),
            _ => (
                "timestamp literal",
                "a timestamp of the form YYYY-MM-DDTHH:MM:SS[.fraction]Z",
            ),
        };
        let Some(close) = body.find('\'') else {
            return Err(self.err(
                self.src.len(),
                &format!(
                    "closing quote ({what} opened at {})",
                    position_text(self.src, start)
                ),
                "end of input",
            ));
        };
        let content = body.get(..close).unwrap_or("");
        let end = body_start + close + 1;
        let token_text = self.src.get(start..end).unwrap_or("");
        let bad = || {
            PatternError::expected(
                self.src,
                start,
                &format!("{form} in the {what}"),
                &quote_snippet(token_text),
            )
        };
        let kind = match prefix {
            'h' => TokKind::Hex(decode_hex(content).ok_or_else(bad)?),
            'b' => TokKind::Binary(decode_base64(content).ok_or_else(bad)?),
            _ => {
                if !is_valid_timestamp(content) {
                    return Err(bad());
                }
                TokKind::Timestamp(content.to_string())
            }
        };
        self.pos = end;
        Ok(Token { kind, start, end })
    }

    /// `[+-]? digits* ('.' digits+)?`; ints without leading zeros.
    fn number(&mut self, start: usize) -> Result<Token, PatternError> {
        let bytes = self.src.as_bytes();
        let mut i = start;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let int_start = i;
        while bytes.get(i).is_some_and(u8::is_ascii_digit) {
            i += 1;
        }
        let int_digits = i - int_start;
        let is_float =
            bytes.get(i) == Some(&b'.') && bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
        if is_float {
            i += 1;
            while bytes.get(i).is_some_and(u8::is_ascii_digit) {
                i += 1;
            }
        } else if int_digits > 1 && bytes.get(int_start) == Some(&b'0') {
            let text = self.src.get(start..i).unwrap_or("");
            return Err(self.err(
                start,
                "an integer without leading zeros",
                &quote_snippet(text),
            ));
        }
        self.pos = i;
        Ok(Token {
            kind: if is_float {
                TokKind::Float
            } else {
                TokKind::Int
            },
            start,
            end: i,
        })
    }
}

/// "L:C" of a byte offset.
pub(crate) fn position_text(src: &str, pos: usize) -> String {
    let (l, c) = crate::error::line_column(src, pos);
    format!("{l}:{c}")
}

fn hex_val(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes an even number of hex digits (possibly none).
pub(crate) fn decode_hex(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if !b.len().is_multiple_of(2) {
        return None;
    }
    b.chunks(2)
        .map(|pair| match pair {
            [hi, lo] => Some(hex_val(*hi)? << 4 | hex_val(*lo)?),
            _ => None,
        })
        .collect()
}

fn b64_val(c: u8) -> Option<u8> {
    match c {
        b'A'..=b'Z' => Some(c - b'A'),
        b'a'..=b'z' => Some(c - b'a' + 26),
        b'0'..=b'9' => Some(c - b'0' + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes base64 as the grammar's `BinaryLiteral` allows it: one or more groups of four
/// characters, the last of which may end in `=` or `==`. Unused low bits of a padded group are
/// ignored.
pub(crate) fn decode_base64(s: &str) -> Option<Vec<u8>> {
    let b = s.as_bytes();
    if b.is_empty() || !b.len().is_multiple_of(4) {
        return None;
    }
    let groups = b.len() / 4;
    let mut out = Vec::with_capacity(groups * 3);
    for (gi, group) in b.chunks(4).enumerate() {
        let last = gi + 1 == groups;
        let pad = match group {
            [_, _, b'=', b'='] if last => 2,
            [_, _, _, b'='] if last => 1,
            _ => 0,
        };
        let mut acc: u32 = 0;
        for &c in group.iter().take(4 - pad) {
            if !is_base64_char(c) {
                return None;
            }
            acc = acc << 6 | u32::from(b64_val(c)?);
        }
        acc <<= 6 * pad as u32;
        let bytes = [(acc >> 16) as u8, (acc >> 8) as u8, acc as u8];
        out.extend_from_slice(bytes.get(..3 - pad)?);
    }
    Some(out)
}

/// Encodes bytes as padded standard base64.
pub(crate) fn encode_base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b0 = chunk.first().copied().unwrap_or(0);
        let b1 = chunk.get(1).copied().unwrap_or(0);
        let b2 = chunk.get(2).copied().unwrap_or(0);
        let n = u32::from(b0) << 16 | u32::from(b1) << 8 | u32::from(b2);
        let sextet = |shift: u32| char::from(ALPHABET[((n >> shift) & 63) as usize]);
        out.push(sextet(18));
        out.push(sextet(12));
        out.push(if chunk.len() > 1 { sextet(6) } else { '=' });
        out.push(if chunk.len() > 2 { sextet(0) } else { '=' });
    }
    out
}

/// The grammar's `TimestampLiteral` body: `YYYY-MM-DDTHH:MM:SS(.d+)?Z` with month 01-12,
/// day 01-31, hour 00-23, minute 00-59 and second 00-60 (days are not checked against months,
/// as in the grammar).
pub(crate) fn is_valid_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digit = |i: usize| b.get(i).filter(|c| c.is_ascii_digit()).map(|c| c - b'0');
    let two = |i: usize| Some(digit(i)? * 10 + digit(i + 1)?);
    let at = |i: usize, c: u8| b.get(i) == Some(&c);
    let head_ok = (|| {
        for i in 0..4 {
            digit(i)?;
        }
        let month = two(5)?;
        let day = two(8)?;
        let hour = two(11)?;
        let minute = two(14)?;
        let second = two(17)?;
        let seps = at(4, b'-') && at(7, b'-') && at(10, b'T') && at(13, b':') && at(16, b':');
        Some(
            seps && (1..=12).contains(&month)
                && (1..=31).contains(&day)
                && hour <= 23
                && minute <= 59
                && second <= 60,
        )
    })()
    .unwrap_or(false);
    if !head_ok {
        return false;
    }
    match b.get(19..) {
        Some([b'Z']) => true,
        Some([b'.', frac @ .., b'Z']) => !frac.is_empty() && frac.iter().all(u8::is_ascii_digit),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(src: &str) -> Vec<TokKind> {
        let mut lx = Lexer::new(src);
        let mut out = Vec::new();
        loop {
            let t = lx.next_token().expect("lexes");
            if t.kind == TokKind::Eof {
                return out;
            }
            out.push(t.kind);
        }
    }

    #[test]
    fn longest_match_and_keywords() {
        assert_eq!(
            kinds("ipv4-addr ANDROID AND and true TRUE"),
            vec![
                TokKind::Ident { hyphen: true },
                TokKind::Ident { hyphen: false },
                TokKind::Kw(Kw::And),
                TokKind::Ident { hyphen: false },
                TokKind::Bool(true),
                TokKind::Ident { hyphen: false },
            ]
        );
        assert_eq!(
            kinds("5SECONDS"),
            vec![TokKind::Int, TokKind::Kw(Kw::Seconds)]
        );
    }

    #[test]
    fn operators() {
        use OpTok::*;
        assert_eq!(
            kinds("= == != <> < <= > >="),
            [Eq, Eq, Neq, Neq, Lt, Le, Gt, Ge]
                .into_iter()
                .map(TokKind::Op)
                .collect::<Vec<_>>()
        );
        assert_eq!(
            kinds("! ^ / + -"),
            vec![TokKind::Invalid; 5],
            "lone characters that start no token"
        );
    }

    #[test]
    fn numbers() {
        assert_eq!(
            kinds("0 -0 +7 1.5 -.5 +.5 00.5 1."),
            vec![
                TokKind::Int,
                TokKind::Int,
                TokKind::Int,
                TokKind::Float,
                TokKind::Float,
                TokKind::Float,
                TokKind::Float,
                TokKind::Int,
                TokKind::Dot
            ]
        );
        assert!(Lexer::new("007").next_token().is_err());
    }

    #[test]
    fn comments_and_unicode_spaces_are_skipped() {
        assert_eq!(
            kinds("/* a */ [ // rest\n ]\u{3000}\u{A0}"),
            vec![TokKind::LBrack, TokKind::RBrack]
        );
        let e = Lexer::new("  /* open").next_token().unwrap_err();
        assert_eq!(
            e.message,
            "expected '*/' (comment opened at 1:3) at 1:10, found end of input"
        );
    }

    #[test]
    fn strings() {
        assert_eq!(
            kinds(r"'a\'b\\c'"),
            vec![TokKind::Str(r"a'b\c".to_string())]
        );
        let e = Lexer::new(r"'a\nb'").next_token().unwrap_err();
        assert_eq!(e.position, 2);
        assert!(Lexer::new("'abc").next_token().is_err());
    }

    #[test]
    fn hex_and_base64() {
        assert_eq!(decode_hex(""), Some(vec![]));
        assert_eq!(decode_hex("fF00"), Some(vec![0xff, 0]));
        assert_eq!(decode_hex("abc"), None);
        assert_eq!(decode_hex("zz"), None);
        assert_eq!(decode_base64("aGVsbG8="), Some(b"hello".to_vec()));
        assert_eq!(decode_base64("aGk="), Some(b"hi".to_vec()));
        assert_eq!(decode_base64("aA=="), Some(b"h".to_vec()));
        assert_eq!(decode_base64("AB=="), Some(vec![0]));
        assert_eq!(decode_base64(""), None);
        assert_eq!(decode_base64("abc"), None);
        assert_eq!(decode_base64("a==="), None);
        assert_eq!(decode_base64("aA==aGk="), None, "padding only at the end");
        assert_eq!(decode_base64("a-bc"), None);
        for data in [&b""[..], b"a", b"ab", b"abc", b"abcd", &[0xff, 0xfe, 0]] {
            let enc = encode_base64(data);
            if !data.is_empty() {
                assert_eq!(decode_base64(&enc).as_deref(), Some(data));
            }
        }
        assert_eq!(encode_base64(b"hello"), "aGVsbG8=");
    }

    #[test]
    fn timestamps() {
        for ok in [
            "2016-01-01T00:00:00Z",
            "2016-12-31T23:59:60Z",
            "0000-02-31T00:00:00.123456Z",
        ] {
            assert!(is_valid_timestamp(ok), "{ok}");
        }
        for bad in [
            "2016-00-01T00:00:00Z",
            "2016-13-01T00:00:00Z",
            "2016-01-00T00:00:00Z",
            "2016-01-32T00:00:00Z",
            "2016-01-01T24:00:00Z",
            "2016-01-01T00:60:00Z",
            "2016-01-01T00:00:61Z",
            "2016-01-01T00:00:00.Z",
            "2016-01-01T00:00:00",
            "2016-01-01 00:00:00Z",
            "2016-01-01T00:00:00+00:00",
            "16-01-01T00:00:00Z",
            "",
        ] {
            assert!(!is_valid_timestamp(bad), "{bad}");
        }
    }
}
