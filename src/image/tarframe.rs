//! The framing of tar archives: headers, their sizes and extension
//! headers, read without holding more than a header (and a bounded
//! extension header) in memory.
//!
//! Two users: the index of an image archive (read by position, headers
//! only), and [`Guard`], which watches a layer's tar stream on its way to
//! the `tar` crate and stops it when an extension header (GNU long name or
//! link, pax) is larger than [`EXTENSION_LIMIT`]: the `tar` crate reads
//! those whole into memory, and a hostile layer could make one as large as
//! it likes.

use std::io::{self, Read};

/// The largest extension header accepted.
pub(crate) const EXTENSION_LIMIT: u64 = 1 << 20;

pub(crate) const BLOCK: u64 = 512;

/// The parts of a tar header that frame the archive.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Header {
    /// The type flag.
    pub kind: u8,
    /// The size field.
    pub size: u64,
    /// Whether old-GNU sparse extension blocks follow the header.
    pub sparse_ext: bool,
}

impl Header {
    /// Whether this header describes the next member (GNU long name or
    /// link, pax local or global header).
    pub(crate) fn is_extension(&self) -> bool {
        matches!(self.kind, b'L' | b'K' | b'x' | b'g')
    }
}

fn invalid(what: &'static str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, what)
}

/// Parses a numeric field: octal text, or base-256 (GNU) when its first
/// byte has the high bit.
fn number(field: &[u8]) -> io::Result<u64> {
    if field.first().is_some_and(|b| b & 0x80 != 0) {
        let mut v: u64 = u64::from(field[0] & 0x7f);
        for b in &field[1..] {
            v = v
                .checked_mul(256)
                .and_then(|v| v.checked_add(u64::from(*b)))
                .ok_or_else(|| invalid("tar size field overflows"))?;
        }
        return Ok(v);
    }
    let text: Vec<u8> = field
        .iter()
        .copied()
        .skip_while(|b| *b == b' ')
        .take_while(|b| *b != 0 && *b != b' ')
        .collect();
    if text.is_empty() {
        return Ok(0);
    }
    let s = std::str::from_utf8(&text).map_err(|_| invalid("bad tar number field"))?;
    u64::from_str_radix(s, 8).map_err(|_| invalid("bad tar number field"))
}

/// Parses a header block; `None` for a zero block (the end of the archive).
pub(crate) fn parse(block: &[u8; 512]) -> io::Result<Option<Header>> {
    if block.iter().all(|b| *b == 0) {
        return Ok(None);
    }
    let sum: u64 = block
        .iter()
        .enumerate()
        .map(|(i, b)| {
            if (148..156).contains(&i) {
                32
            } else {
                u64::from(*b)
            }
        })
        .sum();
    if number(&block[148..156])? != sum {
        return Err(invalid("tar header checksum mismatch"));
    }
    let kind = block[156];
    Ok(Some(Header {
        kind,
        size: number(&block[124..136])?,
        sparse_ext: kind == b'S' && block[482] != 0,
    }))
}

/// The `size` record of pax extended header data, when it has one.
pub(crate) fn pax_value<'a>(data: &'a [u8], key: &str) -> Option<&'a [u8]> {
    let mut rest = data;
    let mut found = None;
    while !rest.is_empty() {
        let sp = rest.iter().position(|b| *b == b' ')?;
        let len: usize = std::str::from_utf8(&rest[..sp]).ok()?.parse().ok()?;
        if len <= sp || len > rest.len() {
            return found;
        }
        let record = &rest[sp + 1..len];
        let record = record.strip_suffix(b"\n").unwrap_or(record);
        if let Some(eq) = record.iter().position(|b| *b == b'=') {
            if &record[..eq] == key.as_bytes() {
                found = Some(&record[eq + 1..]);
            }
        }
        rest = &rest[len..];
    }
    found
}

/// The pax `size` of the next member, when pax data gives one.
pub(crate) fn pax_size(data: &[u8]) -> Option<u64> {
    std::str::from_utf8(pax_value(data, "size")?)
        .ok()?
        .parse()
        .ok()
}

/// Where the stream is.
enum State {
    /// Reading a header block.
    Header,
    /// Reading old-GNU sparse extension blocks.
    SparseExt,
    /// Inside a member's data (padding included).
    Data,
    /// After the end-of-archive block: nothing more is watched.
    Done,
}

/// A reader that frames a tar stream as it passes and fails it when an
/// extension header is larger than [`EXTENSION_LIMIT`].
pub(crate) struct Guard<R> {
    inner: R,
    state: State,
    block: [u8; 512],
    filled: usize,
    /// Data (and padding) left in the current member.
    remaining: u64,
    /// The data of a pax header being read, and how much of it is left.
    pax: Option<(Vec<u8>, u64)>,
    /// The pax size for the next member.
    next_size: Option<u64>,
}

impl<R> Guard<R> {
    pub(crate) fn new(inner: R) -> Self {
        Guard {
            inner,
            state: State::Header,
            block: [0; 512],
            filled: 0,
            remaining: 0,
            pax: None,
            next_size: None,
        }
    }

    pub(crate) fn into_inner(self) -> R {
        self.inner
    }

    fn header(&mut self) -> io::Result<()> {
        let Some(h) = parse(&self.block)? else {
            self.state = State::Done;
            return Ok(());
        };
        let len = if h.is_extension() {
            if h.size > EXTENSION_LIMIT {
                return Err(invalid("tar extension header larger than 1 MiB"));
            }
            h.size
        } else {
            self.next_size.take().unwrap_or(h.size)
        };
        if h.kind == b'x' {
            self.pax = Some((Vec::new(), h.size));
        }
        self.remaining = len.div_ceil(BLOCK) * BLOCK;
        self.state = if h.sparse_ext {
            State::SparseExt
        } else if self.remaining > 0 {
            State::Data
        } else {
            State::Header
        };
        Ok(())
    }

    fn observe(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.state {
                State::Done => return Ok(()),
                State::Header | State::SparseExt => {
                    let k = (512 - self.filled).min(bytes.len());
                    self.block[self.filled..self.filled + k].copy_from_slice(&bytes[..k]);
                    self.filled += k;
                    bytes = &bytes[k..];
                    if self.filled == 512 {
                        self.filled = 0;
                        if matches!(self.state, State::Header) {
                            self.header()?;
                        } else if self.block[504] == 0 {
                            self.state = if self.remaining > 0 {
                                State::Data
                            } else {
                                State::Header
                            };
                        }
                    }
                }
                State::Data => {
                    let k = usize::try_from(self.remaining)
                        .unwrap_or(usize::MAX)
                        .min(bytes.len());
                    if let Some((data, left)) = &mut self.pax {
                        let take = usize::try_from(*left).unwrap_or(usize::MAX).min(k);
                        data.extend_from_slice(&bytes[..take]);
                        *left -= take as u64;
                    }
                    bytes = &bytes[k..];
                    self.remaining -= k as u64;
                    if self.remaining == 0 {
                        if let Some((data, _)) = self.pax.take() {
                            self.next_size = pax_size(&data);
                        }
                        self.state = State::Header;
                    }
                }
            }
        }
        Ok(())
    }
}

impl<R: Read> Read for Guard<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.observe(&buf[..n])?;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(kind: u8, size: u64) -> [u8; 512] {
        let mut b = [0u8; 512];
        b[..4].copy_from_slice(b"name");
        b[124..136].copy_from_slice(format!("{size:011o}\0").as_bytes());
        b[156] = kind;
        b[257..263].copy_from_slice(b"ustar\0");
        b[148..156].copy_from_slice(b"        ");
        let sum: u32 = b.iter().map(|x| u32::from(*x)).sum();
        b[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        b
    }

    fn stream(parts: &[&[u8]]) -> io::Result<Vec<u8>> {
        let all: Vec<u8> = parts.concat();
        let mut out = Vec::new();
        Guard::new(&all[..]).read_to_end(&mut out)?;
        Ok(out)
    }

    #[test]
    fn a_huge_long_name_is_stopped() {
        let h = header(b'L', 8 << 20);
        let e = stream(&[&h, &vec![b'a'; 2 << 20]]).unwrap_err();
        assert_eq!(e.kind(), io::ErrorKind::InvalidData);
    }

    #[test]
    fn ordinary_members_and_pax_sizes_pass() {
        let pax = b"12 size=600\n";
        let mut x = header(b'x', pax.len() as u64).to_vec();
        x.extend_from_slice(pax);
        x.resize(1024, 0);
        let file = header(b'0', 5);
        // The pax size frames the member: 600 bytes, then a large
        // regular-looking block that is data, not a header.
        let data = vec![0xffu8; 1024];
        let out = stream(&[&x, &file, &data, &[0u8; 1024]]).unwrap();
        assert_eq!(out.len(), 1024 + 512 + 1024 + 1024);
    }

    #[test]
    fn numbers() {
        assert_eq!(number(b"00000000017\0").unwrap(), 15);
        assert_eq!(
            number(&[0x80, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1, 0]).unwrap(),
            256
        );
        assert_eq!(
            pax_value(b"20 path=a/b/c/d/e/f\n", "path"),
            Some(&b"a/b/c/d/e/f"[..])
        );
    }
}
