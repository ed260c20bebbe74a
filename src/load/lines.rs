//! Splits an object's byte stream into lines, gunzipping when the first bytes are
//! the gzip magic (the name does not decide). Memory stays bounded by the longest line.

use crate::error::{LoadError, Result};
use flate2::bufread::MultiGzDecoder;
use std::io::{BufRead, BufReader, Read};

const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];
const BUFFER_BYTES: usize = 256 * 1024;

/// Yields the non-blank lines of a stream with their 1-based line numbers.
pub struct Lines {
    reader: Box<dyn BufRead + Send>,
    line_no: u64,
    /// Bytes of the object read so far, after decompression.
    pub bytes: u64,
}

impl Lines {
    /// Wraps `source`, sniffing gzip from its first bytes. A read error that carries a
    /// `LoadError` (a timeout from the object reader) keeps its meaning.
    pub fn new(source: impl Read + Send + 'static) -> Result<Lines> {
        let mut raw = BufReader::with_capacity(BUFFER_BYTES, source);
        let head = raw.fill_buf().map_err(io_error)?;
        let gzipped = head.len() >= 2 && head[..2] == GZIP_MAGIC;
        let reader: Box<dyn BufRead + Send> = if gzipped {
            Box::new(BufReader::with_capacity(
                BUFFER_BYTES,
                MultiGzDecoder::new(raw),
            ))
        } else {
            Box::new(raw)
        };
        Ok(Lines {
            reader,
            line_no: 0,
            bytes: 0,
        })
    }

    /// Appends the next non-blank line to `out` (without its line ending) and returns
    /// its number, or None at the end of the stream. Lines are found with a SIMD
    /// newline search and copied once, from the decoder's buffer into `out`.
    pub fn next_line(&mut self, out: &mut Vec<u8>) -> Result<Option<u64>> {
        loop {
            let start = out.len();
            let mut read = 0usize;
            loop {
                let chunk = self.reader.fill_buf().map_err(io_error)?;
                if chunk.is_empty() {
                    break;
                }
                match memchr::memchr(b'\n', chunk) {
                    Some(at) => {
                        out.extend_from_slice(&chunk[..=at]);
                        self.reader.consume(at + 1);
                        read += at + 1;
                        break;
                    }
                    None => {
                        let n = chunk.len();
                        out.extend_from_slice(chunk);
                        self.reader.consume(n);
                        read += n;
                    }
                }
            }
            if read == 0 {
                return Ok(None);
            }
            self.bytes += read as u64;
            self.line_no += 1;
            while out.len() > start && matches!(out.last(), Some(b'\n' | b'\r')) {
                out.pop();
            }
            if out[start..].iter().all(u8::is_ascii_whitespace) {
                out.truncate(start);
            } else {
                return Ok(Some(self.line_no));
            }
        }
    }
}

/// Read errors from the object reader carry a LoadError inside; others are decode errors.
fn io_error(e: std::io::Error) -> LoadError {
    if e.get_ref().is_some_and(|inner| inner.is::<LoadError>()) {
        let inner = e.into_inner().expect("checked above");
        return *inner.downcast::<LoadError>().expect("checked above");
    }
    LoadError::Decode(e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::write::GzEncoder;
    use std::io::{Cursor, Write};

    fn all_lines(bytes: Vec<u8>) -> Vec<(u64, String)> {
        let mut lines = Lines::new(Cursor::new(bytes)).unwrap();
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(n) = lines.next_line(&mut buf).unwrap() {
            out.push((n, String::from_utf8(buf.clone()).unwrap()));
            buf.clear();
        }
        out
    }

    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut enc = GzEncoder::new(Vec::new(), flate2::Compression::fast());
        enc.write_all(data).unwrap();
        enc.finish().unwrap()
    }

    const TEXT: &[u8] = b"{\"a\":1}\r\n\n   \n{\"b\":2}\n{\"c\":3}";

    #[test]
    fn plain_lines_skip_blanks_and_keep_numbers() {
        let expect = vec![
            (1, "{\"a\":1}".to_string()),
            (4, "{\"b\":2}".to_string()),
            (5, "{\"c\":3}".to_string()),
        ];
        assert_eq!(all_lines(TEXT.to_vec()), expect);
        assert_eq!(
            all_lines(gzip(TEXT)),
            expect,
            "gzip is found by its magic bytes"
        );
    }

    #[test]
    fn concatenated_gzip_members_are_read_whole() {
        let mut two = gzip(b"{\"a\":1}\n");
        two.extend(gzip(b"{\"b\":2}\n"));
        assert_eq!(all_lines(two).len(), 2);
    }

    #[test]
    fn empty_and_broken_streams() {
        assert!(all_lines(Vec::new()).is_empty());
        let mut broken = gzip(TEXT);
        broken.truncate(broken.len() / 2);
        let mut lines = Lines::new(Cursor::new(broken)).unwrap();
        let mut buf = Vec::new();
        let mut result = Ok(Some(0));
        while let Ok(Some(_)) = result {
            result = lines.next_line(&mut buf);
        }
        assert!(matches!(result, Err(LoadError::Decode(_))), "{result:?}");
    }
}
