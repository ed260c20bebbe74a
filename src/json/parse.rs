//! A strict RFC 8259 parser into `Json`, over one line already checked to be UTF-8.
//! It accepts exactly what `jsonb_in` accepts as JSON syntax; values jsonb cannot
//! hold (`\u0000`, numbers beyond numeric) are left to the jsonb encoder to refuse.

use super::{Json, Object};
use std::borrow::Cow;

/// Nesting deeper than this is refused (the tree is walked recursively).
pub const MAX_DEPTH: usize = 1000;

/// What is wrong with a line, and where (1-based byte column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseError {
    pub reason: &'static str,
    pub column: usize,
}

impl std::fmt::Display for ParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at column {}", self.reason, self.column)
    }
}

/// Parses one JSON text (a whole line, surrounding whitespace allowed).
pub fn parse(text: &str) -> Result<Json<'_>, ParseError> {
    let mut p = Parser {
        text,
        bytes: text.as_bytes(),
        at: 0,
    };
    let value = p.value(0)?;
    p.skip_whitespace();
    if p.at < p.bytes.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(value)
}

struct Parser<'a> {
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Parser<'a> {
    fn error(&self, reason: &'static str) -> ParseError {
        ParseError {
            reason,
            column: self.at + 1,
        }
    }

    fn skip_whitespace(&mut self) {
        while let Some(b' ' | b'\t' | b'\n' | b'\r') = self.bytes.get(self.at) {
            self.at += 1;
        }
    }

    fn peek(&mut self) -> Option<u8> {
        self.skip_whitespace();
        self.bytes.get(self.at).copied()
    }

    fn value(&mut self, depth: usize) -> Result<Json<'a>, ParseError> {
        match self.peek() {
            None => Err(self.error("EOF while parsing a value")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b'-' | b'0'..=b'9') => self.number(),
            Some(b't') => self.literal("true", Json::Bool(true)),
            Some(b'f') => self.literal("false", Json::Bool(false)),
            Some(b'n') => self.literal("null", Json::Null),
            Some(_) => Err(self.error("expected value")),
        }
    }

    fn literal(&mut self, word: &'static str, value: Json<'a>) -> Result<Json<'a>, ParseError> {
        if self.bytes[self.at..].starts_with(word.as_bytes()) {
            self.at += word.len();
            Ok(value)
        } else {
            Err(self.error("expected value"))
        }
    }

    /// Steps over `{` or `[` at nesting `depth`, refusing too deep a nesting.
    fn open_container(&mut self, depth: usize) -> Result<(), ParseError> {
        if depth > MAX_DEPTH {
            return Err(self.error("recursion limit exceeded"));
        }
        self.at += 1;
        Ok(())
    }

    fn object(&mut self, depth: usize) -> Result<Json<'a>, ParseError> {
        self.open_container(depth)?;
        let mut members = Vec::new();
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(Object::new()));
        }
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("key must be a string"));
            }
            let key = self.string()?;
            if self.peek() != Some(b':') {
                return Err(self.error("expected `:`"));
            }
            self.at += 1;
            members.push((key, self.value(depth)?));
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(Object::from_members(members)));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json<'a>, ParseError> {
        self.open_container(depth)?;
        let mut items = Vec::new();
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(items));
        }
        loop {
            items.push(self.value(depth)?);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected `,` or `]`")),
            }
        }
    }

    fn digits(&mut self) -> usize {
        let start = self.at;
        while self.bytes.get(self.at).is_some_and(u8::is_ascii_digit) {
            self.at += 1;
        }
        self.at - start
    }

    fn number(&mut self) -> Result<Json<'a>, ParseError> {
        let start = self.at;
        if self.bytes[self.at] == b'-' {
            self.at += 1;
        }
        match self.bytes.get(self.at) {
            Some(b'0') => self.at += 1,
            Some(b'1'..=b'9') => {
                self.digits();
            }
            _ => return Err(self.error("invalid number")),
        }
        if self.bytes.get(self.at) == Some(&b'.') {
            self.at += 1;
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        if let Some(b'e' | b'E') = self.bytes.get(self.at) {
            self.at += 1;
            if let Some(b'+' | b'-') = self.bytes.get(self.at) {
                self.at += 1;
            }
            if self.digits() == 0 {
                return Err(self.error("invalid number"));
            }
        }
        Ok(Json::Number(&self.text[start..self.at]))
    }

    /// A string at `"`: borrowed when it has no escapes.
    fn string(&mut self) -> Result<Cow<'a, str>, ParseError> {
        self.at += 1;
        let start = self.at;
        loop {
            match self.bytes.get(self.at) {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Borrowed(&self.text[start..self.at - 1]));
                }
                Some(b'\\') => break,
                Some(0..=0x1f) => return Err(self.control_character()),
                Some(_) => self.at += 1,
            }
        }
        let mut out = String::with_capacity(self.at - start + 16);
        out.push_str(&self.text[start..self.at]);
        loop {
            let run = self.at;
            while let Some(&b) = self.bytes.get(self.at) {
                if b == b'"' || b == b'\\' || b < 0x20 {
                    break;
                }
                self.at += 1;
            }
            out.push_str(&self.text[run..self.at]);
            match self.bytes.get(self.at) {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(Cow::Owned(out));
                }
                Some(b'\\') => self.escape(&mut out)?,
                Some(_) => return Err(self.control_character()),
            }
        }
    }

    fn control_character(&self) -> ParseError {
        self.error("control character (\\u0000-\\u001F) found while parsing a string")
    }

    /// One escape at `\`, appended to `out`.
    fn escape(&mut self, out: &mut String) -> Result<(), ParseError> {
        self.at += 1;
        let c = match self.bytes.get(self.at) {
            Some(b'"') => '"',
            Some(b'\\') => '\\',
            Some(b'/') => '/',
            Some(b'b') => '\u{8}',
            Some(b'f') => '\u{c}',
            Some(b'n') => '\n',
            Some(b'r') => '\r',
            Some(b't') => '\t',
            Some(b'u') => {
                self.at += 1;
                let unit = self.hex4()?;
                let c = match unit {
                    0xd800..=0xdbff => {
                        if !self.bytes[self.at..].starts_with(b"\\u") {
                            return Err(self.error("lone leading surrogate in hex escape"));
                        }
                        self.at += 2;
                        let low = self.hex4()?;
                        if !(0xdc00..=0xdfff).contains(&low) {
                            return Err(self.error("invalid low surrogate in hex escape"));
                        }
                        0x10000 + ((unit - 0xd800) << 10) + (low - 0xdc00)
                    }
                    0xdc00..=0xdfff => {
                        return Err(self.error("lone trailing surrogate in hex escape"))
                    }
                    other => other,
                };
                out.push(char::from_u32(c).ok_or_else(|| self.error("invalid escape"))?);
                return Ok(());
            }
            _ => return Err(self.error("invalid escape")),
        };
        out.push(c);
        self.at += 1;
        Ok(())
    }

    fn hex4(&mut self) -> Result<u32, ParseError> {
        let digits = self
            .bytes
            .get(self.at..self.at + 4)
            .ok_or_else(|| self.error("EOF while parsing a string"))?;
        let mut v = 0;
        for d in digits {
            let n = (*d as char)
                .to_digit(16)
                .ok_or_else(|| self.error("invalid escape"))?;
            v = v * 16 + n;
        }
        self.at += 4;
        Ok(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(text: &str) -> serde_json::Value {
        parse(text).unwrap().to_serde()
    }

    fn err(text: &str) -> String {
        parse(text).unwrap_err().to_string()
    }

    #[test]
    fn parses_what_serde_json_parses_to_the_same_tree() {
        for (_, line) in crate::fixture::resource_lines() {
            let ours = ok(&line);
            assert_eq!(
                ours,
                serde_json::from_str::<serde_json::Value>(&line).unwrap()
            );
        }
        for text in [
            r#" {"a" : [1, -0.5e+3, 2E-2, 0, true, false, null, "", {}], "b": {"c": []}} "#,
            r#""\"\\\/\b\f\n\r\t\u00e9\ud83d\ude00\u0000""#,
            "123456789012345678901234567890.5",
            r#"{"k": 1, "k": 2}"#,
        ] {
            assert_eq!(
                ok(text),
                serde_json::from_str::<serde_json::Value>(text).unwrap(),
                "{text}"
            );
        }
    }

    #[test]
    fn strings_without_escapes_borrow_the_line() {
        let text = r#"{"name": "plain", "esc": "a\nb"}"#;
        let Json::Object(o) = parse(text).unwrap() else {
            panic!()
        };
        assert!(matches!(
            o.get("name"),
            Some(Json::String(Cow::Borrowed("plain")))
        ));
        assert!(matches!(o.get("esc"), Some(Json::String(Cow::Owned(s))) if s == "a\nb"));
    }

    #[test]
    fn refuses_what_json_does_not_allow_with_the_column() {
        assert_eq!(err(""), "EOF while parsing a value at column 1");
        assert_eq!(err("{oops"), "key must be a string at column 2");
        assert_eq!(err("[1,]"), "expected value at column 4");
        assert_eq!(err(r#"{"a":1,}"#), "key must be a string at column 8");
        assert_eq!(err(r#"{"a" 1}"#), "expected `:` at column 6");
        assert_eq!(err("[1 2]"), "expected `,` or `]` at column 4");
        assert_eq!(err("{} x"), "trailing characters at column 4");
        assert_eq!(err("01"), "trailing characters at column 2");
        assert_eq!(err("-"), "invalid number at column 2");
        assert_eq!(err("1."), "invalid number at column 3");
        assert_eq!(err("1e"), "invalid number at column 3");
        assert_eq!(err("tru"), "expected value at column 1");
        assert_eq!(
            err("\"a\tb\""),
            "control character (\\u0000-\\u001F) found while parsing a string at column 3"
        );
        assert_eq!(err(r#""\x""#), "invalid escape at column 3");
        assert_eq!(
            err(r#""\ud800x""#),
            "lone leading surrogate in hex escape at column 8"
        );
        assert_eq!(
            err(r#""\udc00""#),
            "lone trailing surrogate in hex escape at column 8"
        );
        assert_eq!(
            err(r#""\ud800\u0041""#),
            "invalid low surrogate in hex escape at column 14"
        );
        assert_eq!(err(r#""abc"#), "EOF while parsing a string at column 5");
        assert_eq!(err("NaN"), "expected value at column 1");
    }

    #[test]
    fn nesting_is_limited() {
        let ok_deep = format!("{}{}", "[".repeat(MAX_DEPTH), "]".repeat(MAX_DEPTH));
        assert!(parse(&ok_deep).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse(&too_deep).unwrap_err().reason,
            "recursion limit exceeded"
        );
    }
}
