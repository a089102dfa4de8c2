//! Streams cut into pieces at terminator bytes (HL7 segments, X12
//! segments), each kept to a cap so that a file without terminators cannot
//! exhaust memory.

use std::io::{self, BufRead};

/// Splits a stream on terminator bytes, keeping at most `cap` bytes of
/// each piece.
pub(crate) struct SegmentReader<R> {
    inner: R,
    cap: usize,
    buf: Vec<u8>,
    /// Bytes of `inner`'s buffer that the last piece borrowed: consumed at
    /// the next call. A piece that lies whole in that buffer (the usual
    /// case) is lent from it, not copied.
    lent: usize,
}

/// One piece read by [`SegmentReader`].
pub(crate) struct Piece<'a> {
    pub bytes: &'a [u8],
    /// More bytes followed that were skipped (longer than the cap).
    pub truncated: bool,
    /// The terminator that ended it (`None` at end of stream).
    pub terminator: Option<u8>,
}

impl<R: BufRead> SegmentReader<R> {
    pub(crate) fn new(inner: R, cap: usize) -> Self {
        SegmentReader {
            inner,
            cap,
            buf: Vec::new(),
            lent: 0,
        }
    }

    /// The next piece, ended by any byte of `terminators` (one or two are
    /// searched with memchr), or `None` at end of stream.
    pub(crate) fn next_piece(&mut self, terminators: &[u8]) -> io::Result<Option<Piece<'_>>> {
        self.buf.clear();
        self.inner.consume(std::mem::take(&mut self.lent));
        let whole = match self.inner.fill_buf() {
            Ok(available) => find_terminator(available, terminators).filter(|&pos| pos <= self.cap),
            Err(_) => None,
        };
        if let Some(pos) = whole {
            // Filled above: this returns the same buffer without reading.
            let available = self.inner.fill_buf()?;
            self.lent = pos + 1;
            return Ok(Some(Piece {
                bytes: &available[..pos],
                truncated: false,
                terminator: Some(available[pos]),
            }));
        }
        let mut truncated = false;
        let mut any = false;
        loop {
            let available = match self.inner.fill_buf() {
                Ok(a) => a,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            };
            if available.is_empty() {
                if !any {
                    return Ok(None);
                }
                return Ok(Some(Piece {
                    bytes: &self.buf,
                    truncated,
                    terminator: None,
                }));
            }
            any = true;
            let found = find_terminator(available, terminators);
            let take = found.unwrap_or(available.len());
            let room = self.cap.saturating_sub(self.buf.len());
            let kept = take.min(room);
            self.buf
                .extend_from_slice(available.get(..kept).unwrap_or_default());
            truncated |= kept < take;
            match found {
                Some(pos) => {
                    let terminator = available.get(pos).copied();
                    self.inner.consume(pos + 1);
                    return Ok(Some(Piece {
                        bytes: &self.buf,
                        truncated,
                        terminator,
                    }));
                }
                None => {
                    let n = available.len();
                    self.inner.consume(n);
                }
            }
        }
    }

    /// Gives `each` every piece that lies whole in the buffer read so far
    /// (or, when that is empty, in the next read), ended by `a` or `b`,
    /// with its terminator, while `each` returns `true`; they are consumed.
    /// A piece that crosses the buffer's end, one over the cap, and read
    /// errors are left to [`SegmentReader::next_piece`]. One search over
    /// the buffer instead of one call per piece: HL7 segments are short.
    pub(crate) fn whole_pieces(&mut self, a: u8, b: u8, mut each: impl FnMut(&[u8], u8) -> bool) {
        self.buf.clear();
        self.inner.consume(std::mem::take(&mut self.lent));
        let Ok(available) = self.inner.fill_buf() else {
            return;
        };
        let mut start = 0;
        for end in memchr::memchr2_iter(a, b, available) {
            if end - start > self.cap {
                break;
            }
            let more = each(&available[start..end], available[end]);
            start = end + 1;
            if !more {
                break;
            }
        }
        self.inner.consume(start);
    }
}

/// Where the first byte of `terminators` in `bytes` is (one or two are
/// searched with memchr).
fn find_terminator(bytes: &[u8], terminators: &[u8]) -> Option<usize> {
    match terminators {
        [a] => memchr::memchr(*a, bytes),
        [a, b] => memchr::memchr2(*a, *b, bytes),
        _ => bytes.iter().position(|b| terminators.contains(b)),
    }
}
