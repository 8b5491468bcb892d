//! Input files that may be gzip-compressed (rotated Zeek and Suricata logs,
//! archived feeds). A file is recognised by its first two bytes, the gzip
//! magic number, not by its name, and is decompressed as it is read.

use std::io::{self, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

/// The first two bytes of every gzip member (RFC 1952, section 2.3.1).
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// `reader`, decompressed as it is read when it is gzip (told by its first
/// bytes, [`peek_gzip`]), and whether it was.
pub fn decompressed<R: Read + Send + 'static>(reader: R) -> io::Result<(bool, Box<dyn Read + Send>)> {
    let (gzip, raw) = peek_gzip(reader)?;
    Ok(if gzip { (true, gunzip(raw)) } else { (false, Box::new(raw)) })
}

/// A reader with the bytes read from it to tell its kind put back in front.
type Peeked<R> = io::Chain<io::Cursor<Vec<u8>>, R>;

/// Reads the first bytes of `reader` to tell whether it is gzip, and hands
/// them back in front of the rest: the input is read once, so a pipe,
/// standard input or `<(...)` works as a file does.
fn peek_gzip<R: Read>(mut reader: R) -> io::Result<(bool, Peeked<R>)> {
    let mut head = [0u8; 2];
    let mut filled = 0;
    while filled < head.len() {
        match reader.read(&mut head[filled..]) {
            Ok(0) => break,
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    let gzip = head == GZIP_MAGIC;
    Ok((gzip, io::Cursor::new(head[..filled].to_vec()).chain(reader)))
}

/// Whether `path` names a compressed file by its name (`*.gz`), for the
/// directory walks that pick files by extension.
pub fn has_gzip_extension(path: &Path) -> bool {
    path.extension().is_some_and(|e| e == "gz")
}

/// The extension of `path` once a trailing `.gz` is set aside: `json` for
/// `dns.json.gz` as for `dns.json`.
pub fn inner_extension(path: &Path) -> Option<&str> {
    if has_gzip_extension(path) {
        Path::new(path.file_stem()?).extension()?.to_str()
    } else {
        path.extension()?.to_str()
    }
}

/// `reader`, a gzip stream, decompressed: every member in turn, as `zcat`
/// reads concatenated members. A damaged or cut stream reads as an error
/// whose message starts with `gzip:`.
fn gunzip<R: Read + Send + 'static>(reader: R) -> Box<dyn Read + Send> {
    Box::new(Gunzip { inner: MultiGzDecoder::new(io::BufReader::with_capacity(1 << 16, reader)) })
}

struct Gunzip<R: Read> {
    inner: MultiGzDecoder<io::BufReader<R>>,
}

impl<R: Read> Read for Gunzip<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.inner.read(buf).map_err(|e| {
            let message = if e.kind() == io::ErrorKind::UnexpectedEof {
                "gzip: the compressed stream is cut short".to_string()
            } else {
                format!("gzip: {e}")
            };
            io::Error::new(e.kind(), message)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flate2::Compression;
    use flate2::write::GzEncoder;
    use std::io::Write;

    fn gz(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    fn read_all(reader: &mut dyn Read) -> io::Result<Vec<u8>> {
        let mut out = Vec::new();
        reader.read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn gzip_is_told_by_its_first_bytes_which_are_handed_back() {
        let packed = gz(b"{\"query\":\"a.example\"}\n");
        let (gzip, mut rest) = peek_gzip(io::Cursor::new(packed.clone())).unwrap();
        assert!(gzip);
        assert_eq!(read_all(&mut rest).unwrap(), packed);
        let (gzip, mut rest) = peek_gzip(io::Cursor::new(b"{\"a\":1}".to_vec())).unwrap();
        assert!(!gzip);
        assert_eq!(read_all(&mut rest).unwrap(), b"{\"a\":1}");
        for short in [&b""[..], &[0x1f][..]] {
            let (gzip, mut rest) = peek_gzip(io::Cursor::new(short.to_vec())).unwrap();
            assert!(!gzip);
            assert_eq!(read_all(&mut rest).unwrap(), short);
        }
        // A reader that gives one byte at a time (a pipe may).
        struct Trickle(Vec<u8>, usize);
        impl Read for Trickle {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                let Some(&b) = self.0.get(self.1) else { return Ok(0) };
                buf[0] = b;
                self.1 += 1;
                Ok(1)
            }
        }
        let (gzip, rest) = peek_gzip(Trickle(packed.clone(), 0)).unwrap();
        assert!(gzip);
        assert_eq!(read_all(&mut *gunzip(rest)).unwrap(), b"{\"query\":\"a.example\"}\n");
    }

    #[test]
    fn concatenated_members_read_as_one_stream() {
        let mut both = gz(b"line 1\n");
        both.extend(gz(b"line 2\n"));
        let out = read_all(&mut *gunzip(io::Cursor::new(both))).unwrap();
        assert_eq!(out, b"line 1\nline 2\n");
    }

    #[test]
    fn a_cut_or_damaged_stream_is_an_error_naming_gzip() {
        let whole = gz(&b"{\"query\":\"a.example\"}\n".repeat(1000));
        let cut = whole[..whole.len() / 2].to_vec();
        let e = read_all(&mut *gunzip(io::Cursor::new(cut))).unwrap_err();
        assert_eq!(e.to_string(), "gzip: the compressed stream is cut short");

        let mut damaged = whole.clone();
        for b in &mut damaged[20..60] {
            *b ^= 0x5a;
        }
        let e = read_all(&mut *gunzip(io::Cursor::new(damaged))).unwrap_err();
        assert!(e.to_string().starts_with("gzip: "), "{e}");
    }

    #[test]
    fn the_inner_extension_sets_a_trailing_gz_aside() {
        assert_eq!(inner_extension(Path::new("zeek/dns.json.gz")), Some("json"));
        assert_eq!(inner_extension(Path::new("conn.00:00:00-01:00:00.log.gz")), Some("log"));
        assert_eq!(inner_extension(Path::new("dns.json")), Some("json"));
        assert_eq!(inner_extension(Path::new("archive.gz")), None);
        assert!(has_gzip_extension(Path::new("x.log.gz")));
        assert!(!has_gzip_extension(Path::new("x.log")));
    }
}
