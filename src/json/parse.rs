//! A strict RFC 8259 parser into `Json`, over one line already checked to be UTF-8.
//! It accepts exactly what `jsonb_in` accepts as JSON syntax; values jsonb cannot
//! hold (`\u0000`, numbers beyond numeric) are left to the jsonb encoder to refuse.

use super::{key_order, Json, Member, Object};
use bumpalo::collections::{String as ArenaString, Vec as ArenaVec};
use bumpalo::Bump;

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

/// Parses one JSON text (a whole line, surrounding whitespace allowed); containers
/// and decoded strings go into `arena`.
pub fn parse<'a>(text: &'a str, arena: &'a Bump) -> Result<Json<'a>, ParseError> {
    let mut p = Parser {
        arena,
        text,
        bytes: text.as_bytes(),
        at: 0,
        members: Vec::with_capacity(32),
        items: Vec::with_capacity(16),
        order: Vec::with_capacity(32),
    };
    let value = p.value(0)?;
    p.skip_whitespace();
    if p.at < p.bytes.len() {
        return Err(p.error("trailing characters"));
    }
    Ok(value)
}

/// Where the run of plain string bytes starting at `at` ends: the index of the first
/// `"`, `\\` or control character, or `bytes.len()`. On x86_64, 16 bytes at a time
/// first; then (and elsewhere) eight bytes at a time: for each, "equals `"`",
/// "equals `\\`" and "is below 0x20" set its top bit (bytes of 0x80 and up never
/// do). A flag can be spurious only above a true one, so the lowest flag is exact.
fn plain_run_end(bytes: &[u8], mut at: usize) -> usize {
    #[cfg(target_arch = "x86_64")]
    {
        match plain_run_end_sse2(bytes, at) {
            Ok(stop) => return stop,
            Err(rest) => at = rest,
        }
    }
    const ONES: u64 = 0x0101_0101_0101_0101;
    const TOPS: u64 = 0x8080_8080_8080_8080;
    while let Some(chunk) = bytes.get(at..at + 8) {
        let x = u64::from_le_bytes(chunk.try_into().unwrap_or([0; 8]));
        let quote = x ^ (ONES * b'"' as u64);
        let backslash = x ^ (ONES * b'\\' as u64);
        let flags = ((quote.wrapping_sub(ONES) & !quote)
            | (backslash.wrapping_sub(ONES) & !backslash)
            | (x.wrapping_sub(ONES * 0x20) & !x))
            & TOPS;
        if flags != 0 {
            return at + (flags.trailing_zeros() / 8) as usize;
        }
        at += 8;
    }
    while at < bytes.len() && !matches!(bytes[at], b'"' | b'\\' | 0..=0x1f) {
        at += 1;
    }
    at
}

/// `plain_run_end`, 16 bytes at a time, over the whole 16 bytes there are: Ok with
/// the stop, or Err with where the rest (under 16 bytes) is to be scanned.
#[cfg(target_arch = "x86_64")]
fn plain_run_end_sse2(bytes: &[u8], mut at: usize) -> Result<usize, usize> {
    use std::arch::x86_64::*;
    // SAFETY: SSE2 is part of x86_64 itself; each unaligned load reads 16 bytes
    // inside `bytes` (at + 16 <= len).
    unsafe {
        let quote = _mm_set1_epi8(b'"' as i8);
        let backslash = _mm_set1_epi8(b'\\' as i8);
        let control_max = _mm_set1_epi8(0x1f);
        while at + 16 <= bytes.len() {
            let v = _mm_loadu_si128(bytes.as_ptr().add(at) as *const __m128i);
            // A byte is a control character when min(byte, 0x1f) is the byte itself.
            let stops = _mm_or_si128(
                _mm_or_si128(_mm_cmpeq_epi8(v, quote), _mm_cmpeq_epi8(v, backslash)),
                _mm_cmpeq_epi8(_mm_min_epu8(v, control_max), v),
            );
            let mask = _mm_movemask_epi8(stops) as u32;
            if mask != 0 {
                return Ok(at + mask.trailing_zeros() as usize);
            }
            at += 16;
        }
    }
    Err(at)
}

struct Parser<'a> {
    arena: &'a Bump,
    text: &'a str,
    bytes: &'a [u8],
    at: usize,
    /// Members and items of the open containers, innermost last: a container is
    /// moved out in one allocation of its exact size when it closes.
    members: Vec<Member<'a>>,
    items: Vec<Json<'a>>,
    /// Scratch for sorting an object's members by key.
    order: Vec<u32>,
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
        if self.peek() == Some(b'}') {
            self.at += 1;
            return Ok(Json::Object(Object::new_in(self.arena)));
        }
        let mark = self.members.len();
        loop {
            if self.peek() != Some(b'"') {
                return Err(self.error("key must be a string"));
            }
            let key = self.string()?;
            if self.peek() != Some(b':') {
                return Err(self.error("expected `:`"));
            }
            self.at += 1;
            let value = self.value(depth)?;
            self.members.push((key, value));
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b'}') => {
                    self.at += 1;
                    return Ok(Json::Object(self.close_object(mark)));
                }
                _ => return Err(self.error("expected `,` or `}`")),
            }
        }
    }

    /// The object whose members are `members[mark..]`, taken off the stack: sorted
    /// in jsonb order, the last of equal keys kept. Positions are sorted, not the
    /// members themselves, so each member moves once.
    fn close_object(&mut self, mark: usize) -> Object<'a> {
        let members = &mut self.members[mark..];
        let mut sorted = ArenaVec::with_capacity_in(members.len(), self.arena);
        if members.len() == 1 {
            sorted.extend(self.members.drain(mark..));
            return Object { members: sorted };
        }
        let order = &mut self.order;
        order.clear();
        order.extend(0..members.len() as u32);
        // Stable: equal keys stay in document order.
        order.sort_by(|&a, &b| key_order(members[a as usize].0, members[b as usize].0));
        for (k, &i) in order.iter().enumerate() {
            let superseded = order
                .get(k + 1)
                .is_some_and(|&next| members[next as usize].0 == members[i as usize].0);
            if !superseded {
                let empty = ("", Json::Null);
                sorted.push(std::mem::replace(&mut members[i as usize], empty));
            }
        }
        self.members.truncate(mark);
        Object { members: sorted }
    }

    fn array(&mut self, depth: usize) -> Result<Json<'a>, ParseError> {
        self.open_container(depth)?;
        if self.peek() == Some(b']') {
            self.at += 1;
            return Ok(Json::Array(ArenaVec::new_in(self.arena)));
        }
        let mark = self.items.len();
        loop {
            let item = self.value(depth)?;
            self.items.push(item);
            match self.peek() {
                Some(b',') => self.at += 1,
                Some(b']') => {
                    self.at += 1;
                    let mut items = ArenaVec::with_capacity_in(self.items.len() - mark, self.arena);
                    items.extend(self.items.drain(mark..));
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
    fn string(&mut self) -> Result<&'a str, ParseError> {
        self.at += 1;
        let start = self.at;
        self.at = plain_run_end(self.bytes, self.at);
        match self.bytes.get(self.at) {
            None => return Err(self.error("EOF while parsing a string")),
            Some(b'"') => {
                self.at += 1;
                return Ok(&self.text[start..self.at - 1]);
            }
            Some(b'\\') => {}
            Some(_) => return Err(self.control_character()),
        }
        let mut out = ArenaString::with_capacity_in(self.at - start + 16, self.arena);
        out.push_str(&self.text[start..self.at]);
        loop {
            let run = self.at;
            self.at = plain_run_end(self.bytes, self.at);
            out.push_str(&self.text[run..self.at]);
            match self.bytes.get(self.at) {
                None => return Err(self.error("EOF while parsing a string")),
                Some(b'"') => {
                    self.at += 1;
                    return Ok(out.into_bump_str());
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
    fn escape(&mut self, out: &mut ArenaString<'a>) -> Result<(), ParseError> {
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
        parse(text, &Bump::new()).unwrap().to_serde()
    }

    fn err(text: &str) -> String {
        parse(text, &Bump::new()).unwrap_err().to_string()
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
    fn plain_runs_end_where_a_byte_at_a_time_scan_ends() {
        let slow = |bytes: &[u8], at: usize| {
            (at..bytes.len())
                .find(|&i| matches!(bytes[i], b'"' | b'\\' | 0..=0x1f))
                .unwrap_or(bytes.len())
        };
        // Every byte value, at every offset in a word, after runs of every kind.
        let mut state = 0x2545_f491_4f6c_dd1du64;
        for len in 0..72 {
            for _ in 0..100 {
                let bytes: Vec<u8> = (0..len)
                    .map(|_| {
                        state ^= state << 13;
                        state ^= state >> 7;
                        state ^= state << 17;
                        // Mostly plain bytes (ASCII and UTF-8 high bytes), some stops.
                        match state % 16 {
                            0 => b'"',
                            1 => b'\\',
                            2 => (state >> 8) as u8 % 0x20,
                            3 => 0x80 | (state >> 8) as u8,
                            _ => 0x20 + (state >> 8) as u8 % 0x60,
                        }
                    })
                    .collect();
                for at in 0..=len {
                    assert_eq!(
                        plain_run_end(&bytes, at),
                        slow(&bytes, at),
                        "{bytes:?} from {at}"
                    );
                }
            }
        }
        for b in 0..=255u8 {
            let mut bytes = vec![b'a'; 17];
            bytes[11] = b;
            assert_eq!(plain_run_end(&bytes, 0), slow(&bytes, 0), "byte {b:#x}");
        }
    }

    #[test]
    fn strings_without_escapes_borrow_the_line() {
        let text = r#"{"name": "plain", "esc": "a\nb"}"#;
        let arena = Bump::new();
        let Json::Object(o) = parse(text, &arena).unwrap() else {
            panic!()
        };
        let Some(Json::String(plain)) = o.get("name") else {
            panic!()
        };
        assert!(text.as_bytes().as_ptr_range().contains(&plain.as_ptr()));
        assert_eq!(o.get("esc"), Some(&Json::String("a\nb")));
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
        assert!(parse(&ok_deep, &Bump::new()).is_ok());
        let too_deep = format!("{}{}", "[".repeat(MAX_DEPTH + 1), "]".repeat(MAX_DEPTH + 1));
        assert_eq!(
            parse(&too_deep, &Bump::new()).unwrap_err().reason,
            "recursion limit exceeded"
        );
    }
}
