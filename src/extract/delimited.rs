//! Splits delimited text (CSV, TSV ...) into records and cells, straight
//! into the joined layout the matcher judges (cells cut by `\n`).
//!
//! It reads as the csv crate does with flexible rows and default quoting
//! (the unit tests compare the two on random input): a `"` opens a quoted
//! cell only at the start of a cell, `""` inside one is a quote, bytes
//! after the closing quote are kept as they are, `\r`, `\n` and `\r\n` end
//! a record, blank lines are no records, and an unclosed quote runs to the
//! end of the input. It is ours rather than the csv crate's because the
//! crate hands over one record at a time through its own buffers and
//! walks every byte through a state machine; here cell ends are found 8
//! bytes at a time and whole spans are copied, which made CSV exports
//! about twice as fast to scan (see BENCHMARKS.md).

use std::io::{self, Read};
use std::ops::Range;

/// Why a record could not be read.
#[derive(Debug)]
pub(crate) enum RecordError {
    Io(io::Error),
    /// The record holds more than the cap; nothing of it was kept.
    TooLong,
    /// The record holds more than [`MAX_CELLS`] cells; nothing of it was
    /// kept.
    TooManyCells,
}

/// Reads records from a byte stream.
pub(crate) struct RecordReader<R> {
    inner: R,
    delimiter: u8,
    max_record: usize,
    /// Unread input is `buf[pos..end]`.
    buf: Vec<u8>,
    pos: usize,
    end: usize,
    eof: bool,
    /// 1-based line of `buf[pos]`.
    line: u64,
}

/// How far one parse of a record got.
enum Parsed {
    /// A whole record: bytes it took and the newlines among them.
    Record { used: usize, newlines: u64 },
    /// The record runs past the input read so far.
    NeedMore,
    /// The record has more than [`MAX_CELLS`] cells.
    TooManyCells,
}

/// Most cells of one record. A cell's range takes 16 bytes however short
/// the cell: a row of 15 million delimiters held 0.5 GB of ranges.
pub(crate) const MAX_CELLS: usize = 1 << 16;

const READ_SIZE: usize = 256 << 10;

impl<R: Read> RecordReader<R> {
    pub(crate) fn new(inner: R, delimiter: u8, max_record: usize) -> Self {
        RecordReader {
            inner,
            delimiter,
            max_record,
            buf: Vec::new(),
            pos: 0,
            end: 0,
            eof: false,
            line: 1,
        }
    }

    /// Appends the next record to `out`, its cells separated by `\n`, and
    /// pushes each cell's range in `out` to `cells`. Returns the line the
    /// record starts on, or `None` at the end of the input. On an error
    /// `out` and `cells` are as they were.
    pub(crate) fn read_record(
        &mut self,
        out: &mut Vec<u8>,
        cells: &mut Vec<Range<usize>>,
    ) -> Result<Option<u64>, RecordError> {
        let (out_len, cells_len) = (out.len(), cells.len());
        loop {
            // Blank lines (and the `\n` of `\r\n`) are no records.
            while let Some(&b) = self.buf[self.pos..self.end].first() {
                if b != b'\n' && b != b'\r' {
                    break;
                }
                self.line += u64::from(b == b'\n');
                self.pos += 1;
            }
            if self.pos == self.end {
                if self.eof {
                    return Ok(None);
                }
                self.fill()?;
                continue;
            }
            let data = &self.buf[self.pos..self.end];
            match parse_record(data, self.eof, self.delimiter, out, cells) {
                Parsed::Record { used, .. } if used > self.max_record => {
                    out.truncate(out_len);
                    cells.truncate(cells_len);
                    return Err(RecordError::TooLong);
                }
                Parsed::Record { used, newlines } => {
                    let line = self.line;
                    self.pos += used;
                    self.line += newlines;
                    return Ok(Some(line));
                }
                Parsed::TooManyCells => {
                    out.truncate(out_len);
                    cells.truncate(cells_len);
                    return Err(RecordError::TooManyCells);
                }
                Parsed::NeedMore => {
                    out.truncate(out_len);
                    cells.truncate(cells_len);
                    // At least twice as much before parsing again, so a
                    // long record is parsed a bounded number of times.
                    let want = ((self.end - self.pos) * 2).min(self.max_record + 1);
                    while !self.eof && self.end - self.pos < want {
                        self.fill()?;
                    }
                    if self.end - self.pos > self.max_record {
                        return Err(RecordError::TooLong);
                    }
                }
            }
        }
    }

    /// Reads more input after what is unread, keeping it; grows the
    /// buffer when the unread part fills it (a long record).
    fn fill(&mut self) -> Result<(), RecordError> {
        if self.pos > 0 {
            self.buf.copy_within(self.pos..self.end, 0);
            self.end -= self.pos;
            self.pos = 0;
        }
        if self.buf.len() - self.end < READ_SIZE / 2 {
            let grown = (self.buf.len() * 2).max(READ_SIZE);
            self.buf.resize(grown, 0);
        }
        loop {
            match self.inner.read(&mut self.buf[self.end..]) {
                Ok(0) => {
                    self.eof = true;
                    return Ok(());
                }
                Ok(n) => {
                    self.end += n;
                    return Ok(());
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(RecordError::Io(e)),
            }
        }
    }
}

/// Parses the record at the start of `data` (which is not empty and does
/// not start with a line end) into `out` and `cells`. `at_eof`: nothing
/// follows `data`. On `NeedMore` the caller drops what was appended.
///
/// Unquoted cells are not copied one by one: a stretch of them is copied
/// in one go (a span), and the delimiters in it are then overwritten
/// with `\n`. A quoted cell ends the span before it.
fn parse_record(
    data: &[u8],
    at_eof: bool,
    delimiter: u8,
    out: &mut Vec<u8>,
    cells: &mut Vec<Range<usize>>,
) -> Parsed {
    let mut i = 0;
    let mut newlines = 0u64;
    let mut span = Span::new(0, out, cells);
    let cells_cap = cells.len() + MAX_CELLS;
    loop {
        let mut cell_start = span.out_at(i);
        if data.get(i) == Some(&b'"') {
            span.flush(data, i, out, cells);
            cell_start = out.len();
            i += 1;
            loop {
                let Some(quote) = next_quote(data, i, &mut newlines) else {
                    if !at_eof {
                        return Parsed::NeedMore;
                    }
                    // An unclosed quote runs to the end.
                    out.extend_from_slice(&data[i..]);
                    cells.push(cell_start..out.len());
                    return Parsed::Record {
                        used: data.len(),
                        newlines,
                    };
                };
                out.extend_from_slice(&data[i..quote]);
                i = quote + 1;
                match data.get(i) {
                    Some(b'"') => {
                        out.push(b'"');
                        i += 1;
                    }
                    Some(_) => break,
                    None if at_eof => break,
                    None => return Parsed::NeedMore,
                }
            }
            span = Span::new(i, out, cells);
        }
        // Unquoted, or what follows a closing quote: kept up to the next
        // delimiter or line end, quotes and all.
        let stop = next_stop(data, i, delimiter);
        let end = stop.unwrap_or(data.len());
        if stop.is_none() && !at_eof {
            return Parsed::NeedMore;
        }
        if cells.len() >= cells_cap {
            return Parsed::TooManyCells;
        }
        cells.push(cell_start..span.out_at(end));
        match stop {
            Some(stop) if data[stop] == delimiter => i = stop + 1,
            _ => {
                span.flush(data, end, out, cells);
                let used = stop.map_or(data.len(), |stop| stop + 1);
                newlines += u64::from(stop.is_some_and(|stop| data[stop] == b'\n'));
                return Parsed::Record { used, newlines };
            }
        }
    }
}

/// Bytes of `data` from `from` on that are to be copied to `out` as they
/// are, except that the delimiters ending the cells pushed since become
/// `\n`.
struct Span {
    from: usize,
    /// Where `data[from]` goes in `out`.
    out_from: usize,
    /// The first cell ended in the span.
    first_cell: usize,
}

impl Span {
    fn new(from: usize, out: &[u8], cells: &[Range<usize>]) -> Span {
        Span {
            from,
            out_from: out.len(),
            first_cell: cells.len(),
        }
    }

    /// Where `data[at]` goes in `out`.
    fn out_at(&self, at: usize) -> usize {
        self.out_from + (at - self.from)
    }

    /// Copies `data[from..to]` and turns the delimiters in it to `\n`.
    fn flush(&mut self, data: &[u8], to: usize, out: &mut Vec<u8>, cells: &[Range<usize>]) {
        out.extend_from_slice(&data[self.from..to]);
        for cell in &cells[self.first_cell..] {
            if let Some(b) = out.get_mut(cell.end) {
                *b = b'\n';
            }
        }
        *self = Span::new(to, out, cells);
    }
}

fn count_newlines(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| b == b'\n').count() as u64
}

/// The first `"` at or after `from`, adding the newlines before it (up to
/// the end of `data` when there is none) to `newlines`. Most quoted cells
/// are short: their first 32 bytes are searched 8 at a time for `"` and
/// `\n` together; a longer one is left to memchr and a newline count.
fn next_quote(data: &[u8], from: usize, newlines: &mut u64) -> Option<usize> {
    let mut i = from;
    let short_end = (from + 32).min(data.len());
    while i + 8 <= short_end {
        let Some(at) = first_flagged(u64_at(data, i), b'"') else {
            i += 8;
            continue;
        };
        let at = i + at;
        match data[at] {
            b'"' => return Some(at),
            b'\n' => *newlines += 1,
            _ => {}
        }
        i = at + 1;
    }
    let found = memchr::memchr(b'"', &data[i..]).map(|k| i + k);
    *newlines += count_newlines(&data[i..found.unwrap_or(data.len())]);
    found
}

/// The 8 bytes of `data` from `i` (which has at least 8 from there).
fn u64_at(data: &[u8], i: usize) -> u64 {
    u64::from_le_bytes(data[i..i + 8].try_into().unwrap_or_default())
}

/// The lowest byte of `w` that equals `needle` or is below 0x0E (both line
/// ends are), by the borrow trick: `(x - 0x01..) & !x & 0x80..` flags the
/// zero bytes of `x`, and its lowest flag is exact (a borrow only runs
/// upwards, so flags above it may be false).
fn first_flagged(w: u64, needle: u8) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    let x = w ^ (ONES * u64::from(needle));
    let flags = ((x.wrapping_sub(ONES) & !x) | (w.wrapping_sub(ONES * 0x0E) & !w)) & HIGH;
    (flags != 0).then(|| (flags.trailing_zeros() / 8) as usize)
}

/// The first delimiter, `\r` or `\n` at or after `from`: 8 bytes a step.
/// A flagged control byte that is no stop (a tab in a CSV, a NUL) is
/// stepped over.
fn next_stop(data: &[u8], from: usize, delimiter: u8) -> Option<usize> {
    let is_stop = |b: u8| b == delimiter || b == b'\r' || b == b'\n';
    let mut i = from;
    while i + 8 <= data.len() {
        let Some(at) = first_flagged(u64_at(data, i), delimiter) else {
            i += 8;
            continue;
        };
        let at = i + at;
        if is_stop(data[at]) {
            return Some(at);
        }
        i = at + 1;
    }
    data.get(i..)?
        .iter()
        .position(|&b| is_stop(b))
        .map(|k| i + k)
}

#[cfg(test)]
mod tests {
    use super::super::testkit::Pieces;
    use super::*;

    #[test]
    fn a_record_of_too_many_cells_is_refused_with_nothing_kept() {
        let mut input = b"a,b\n".to_vec();
        input.extend(std::iter::repeat_n(b',', MAX_CELLS));
        input.extend(b"\nc,d\n");
        let mut reader = RecordReader::new(Pieces::new(&input, 4096), b',', 1 << 20);
        let (mut out, mut cells) = (Vec::new(), Vec::new());
        assert_eq!(reader.read_record(&mut out, &mut cells).unwrap(), Some(1));
        let (len, count) = (out.len(), cells.len());
        assert!(matches!(
            reader.read_record(&mut out, &mut cells),
            Err(RecordError::TooManyCells)
        ));
        assert_eq!((out.len(), cells.len()), (len, count));
        // One cell fewer is a record.
        let mut input = b"a,b\n".to_vec();
        input.extend(std::iter::repeat_n(b',', MAX_CELLS - 1));
        let mut reader = RecordReader::new(Pieces::new(&input, 4096), b',', 1 << 20);
        reader.read_record(&mut out, &mut cells).unwrap();
        cells.clear();
        assert!(reader.read_record(&mut out, &mut cells).unwrap().is_some());
        assert_eq!(cells.len(), MAX_CELLS);
    }

    /// Records as (line, cells) read with a reader whose input arrives in
    /// pieces of `chunk` bytes (so records cross reads).
    fn ours(input: &[u8], delimiter: u8, chunk: usize) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut reader = RecordReader::new(Pieces::new(input, chunk), delimiter, 1 << 20);
        let mut records = Vec::new();
        let (mut out, mut cells) = (Vec::new(), Vec::new());
        while let Some(line) = reader.read_record(&mut out, &mut cells).unwrap() {
            records.push((
                line,
                cells.iter().map(|c| out[c.clone()].to_vec()).collect(),
            ));
            out.clear();
            cells.clear();
        }
        records
    }

    /// The same with the csv crate; lines counted from where each record's
    /// first byte is (the crate gives where its read began).
    fn theirs(input: &[u8], delimiter: u8) -> Vec<(u64, Vec<Vec<u8>>)> {
        let mut reader = csv::ReaderBuilder::new()
            .delimiter(delimiter)
            .has_headers(false)
            .flexible(true)
            .from_reader(input);
        let mut records = Vec::new();
        let mut record = csv::ByteRecord::new();
        while reader.read_byte_record(&mut record).unwrap() {
            let at = record.position().map_or(0, |p| p.byte() as usize);
            let first = at
                + input[at..]
                    .iter()
                    .position(|&b| b != b'\r' && b != b'\n')
                    .unwrap_or(0);
            let line = 1 + count_newlines(&input[..first]);
            records.push((line, record.iter().map(<[u8]>::to_vec).collect()));
        }
        records
    }

    #[test]
    fn reads_as_the_csv_crate_on_random_input() {
        let alphabet: &[&[u8]] = &[
            b"a",
            b"bc",
            b"12",
            b",",
            b",",
            b";",
            b"\"",
            b"\"",
            b"\"\"",
            b"\n",
            b"\r\n",
            b"\r",
            b" ",
            b"\t",
            b"\x00",
            b"\x0b\x0c",
            b"\x0e\x7f\xff",
            b"abcdefghijklmnopq",
            "é".as_bytes(),
            b"\xe9",
            b"x\"y",
        ];
        let mut rng = crate::test_rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let mut next = move || rng.next();
        for round in 0..3000 {
            let len = (next() % 60) as usize;
            let input: Vec<u8> = (0..len)
                .flat_map(|_| alphabet[(next() % alphabet.len() as u64) as usize].to_vec())
                .collect();
            let delimiter = [b',', b';', b'\t'][round % 3];
            let expected = theirs(&input, delimiter);
            for chunk in [1, 3, 4096] {
                assert_eq!(
                    ours(&input, delimiter, chunk),
                    expected,
                    "input {:?}, delimiter {:?}, chunk {chunk}",
                    String::from_utf8_lossy(&input),
                    delimiter as char
                );
            }
        }
    }

    #[test]
    fn reads_plain_and_quoted_records_with_their_lines() {
        let input = b"id,note\r\n1,\"two\nlines\"\r\n\r\n2,\"say \"\"hi\"\"\",x\n3";
        let records = ours(input, b',', 5);
        let text = |r: &(u64, Vec<Vec<u8>>)| {
            (
                r.0,
                r.1.iter()
                    .map(|c| String::from_utf8_lossy(c).into_owned())
                    .collect::<Vec<_>>(),
            )
        };
        let got: Vec<_> = records.iter().map(text).collect();
        assert_eq!(
            got,
            vec![
                (1, vec!["id".to_string(), "note".to_string()]),
                (2, vec!["1".to_string(), "two\nlines".to_string()]),
                (5, vec!["2".into(), "say \"hi\"".into(), "x".into()]),
                (6, vec!["3".to_string()]),
            ]
        );
    }

    #[test]
    fn a_record_over_the_cap_is_an_error_and_keeps_nothing() {
        let input = format!("a,b\n{}\nc\n", "x".repeat(5000));
        let mut reader = RecordReader::new(input.as_bytes(), b',', 1000);
        let (mut out, mut cells) = (Vec::new(), Vec::new());
        assert_eq!(reader.read_record(&mut out, &mut cells).unwrap(), Some(1));
        let (len, count) = (out.len(), cells.len());
        assert!(matches!(
            reader.read_record(&mut out, &mut cells),
            Err(RecordError::TooLong)
        ));
        assert_eq!((out.len(), cells.len()), (len, count));
    }

    #[test]
    fn next_quote_agrees_with_a_byte_search() {
        let mut rng = crate::test_rng::Rng::new(0x9e37_79b9_7f4a_7c15);
        let pool: Vec<u8> = (0x00..=0x0f)
            .chain([b'"', b'a', b' ', 0x80, 0xff])
            .collect();
        for round in 0..1500 {
            // Up to 100 bytes, so that both the short search (32 bytes)
            // and memchr after it are reached; most without a quote early.
            let quotes = round % 3 != 0;
            let data: Vec<u8> = (0..round % 101)
                .map(|_| {
                    let seed = rng.next();
                    let b = pool[(seed % pool.len() as u64) as usize];
                    if b == b'"' && (!quotes || seed % 7 != 0) {
                        b'a'
                    } else {
                        b
                    }
                })
                .collect();
            for from in 0..=data.len() {
                let quote = data[from..]
                    .iter()
                    .position(|&b| b == b'"')
                    .map(|k| from + k);
                let lines = data[from..quote.unwrap_or(data.len())]
                    .iter()
                    .filter(|&&b| b == b'\n')
                    .count() as u64;
                let mut counted = 5;
                assert_eq!(
                    next_quote(&data, from, &mut counted),
                    quote,
                    "{data:?} from {from}"
                );
                assert_eq!(counted, 5 + lines, "{data:?} from {from}");
            }
        }
    }

    #[test]
    fn next_stop_agrees_with_a_byte_search() {
        let data = b"abcdefgh,ijklmnopqrstu\rvwxyz0123456789\n;;";
        for from in 0..data.len() {
            for d in [b',', b';'] {
                let expected = data[from..]
                    .iter()
                    .position(|&b| b == d || b == b'\r' || b == b'\n')
                    .map(|k| from + k);
                assert_eq!(next_stop(data, from, d), expected, "from {from}");
            }
        }
        // High bytes next to a needle do not make false hits.
        let high = [0x80u8, 0xac, 0x8a, 0x8d, 0xff, 0x2c, 0x00, 0x01];
        assert_eq!(next_stop(&high, 0, b','), Some(5));
        // Random bytes, control and high ones often, every start.
        let mut rng = crate::test_rng::Rng::new(0x2545_f491_4f6c_dd1d);
        let pool: Vec<u8> = (0x00..=0x0f)
            .chain([b',', b';', b'\t', b'a', 0x7f, 0x80, 0x8a, 0xff])
            .collect();
        for round in 0..2000 {
            let data: Vec<u8> = (0..round % 41)
                .map(|_| pool[rng.below(pool.len())])
                .collect();
            for d in [b',', b';', b'\t', 0x0b] {
                for from in 0..=data.len() {
                    let expected = data[from..]
                        .iter()
                        .position(|&b| b == d || b == b'\r' || b == b'\n')
                        .map(|k| from + k);
                    assert_eq!(next_stop(&data, from, d), expected, "{data:?} from {from}");
                }
            }
        }
    }
}
