//! CCITT Group 3 one-dimensional coding (Modified Huffman, ITU T.4): what
//! a PDF's `CCITTFaxDecode` holds with `K = 0`, and a TIFF's compression
//! 2 (byte-aligned rows, no end-of-line codes) and 3 (end-of-line codes)
//! without 2-D coding. The TIFF decoder we use reads Group 4 only; Group 3
//! two-dimensional data (`K > 0`, TIFF `T4Options` bit 0) is not decoded
//! here and is reported as such by the callers.
//!
//! Each row is a sequence of white and black run lengths starting with
//! white, coded with the T.4 tables (the `fax` crate's), optionally
//! preceded by an end-of-line code (eleven zeros and a one, after fill
//! zeros). Damaged data ends the page: the rows not decoded are white.

use fax::maps::{black, white};
use fax::BitReader;

/// How the rows are laid out.
#[derive(Clone, Copy, Debug)]
pub struct Layout {
    pub columns: u32,
    /// Rows to decode; `None`: until the data or the end-of-block ends.
    pub rows: Option<u32>,
    /// Each row starts on a byte boundary (PDF `EncodedByteAlign`, TIFF
    /// compression 2).
    pub byte_align: bool,
    /// Rows are preceded by end-of-line codes (PDF `EndOfLine`). With
    /// `byte_align` too, the fill comes before the code, which then ends
    /// on a byte boundary: the row is not aligned again after it.
    pub end_of_line: bool,
    /// Bits are stored least significant first (TIFF `FillOrder` 2).
    pub lsb_first: bool,
    /// Most pixels the page may have (rows past it are not decoded).
    pub max_pixels: u64,
}

/// A bit cursor over a slice; bits past the end read as zeros.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    lsb_first: bool,
}

impl Cursor<'_> {
    fn byte(&self, i: usize) -> u32 {
        let b = self.data.get(i).copied().unwrap_or(0);
        u32::from(if self.lsb_first { b.reverse_bits() } else { b })
    }

    fn at_end(&self) -> bool {
        self.pos >= self.data.len() * 8
    }

    fn align(&mut self) {
        self.pos = self.pos.div_ceil(8) * 8;
    }

    /// Leading zero bits from here (at most 16 looked at).
    fn zeros(&self) -> u8 {
        let bits = self.peek(16).unwrap_or(0);
        bits.leading_zeros() as u8
    }

    /// Skips fill zeros and end-of-line codes; returns how many EOLs.
    fn skip_eols(&mut self) -> usize {
        let mut eols = 0;
        // No run code has more than 7 leading zeros: 8 or more are fill
        // (or the eleven of an end-of-line code).
        while !self.at_end() && self.zeros() >= 8 {
            while !self.at_end() && self.peek(1) == Some(0) {
                self.pos += 1;
            }
            if self.at_end() {
                break;
            }
            self.pos += 1; // the end-of-line code's one
            eols += 1;
        }
        eols
    }
}

impl BitReader for Cursor<'_> {
    type Error = ();

    fn peek(&self, bits: u8) -> Option<u16> {
        if bits > 16 {
            return None;
        }
        let at = self.pos / 8;
        let word = (self.byte(at) << 16) | (self.byte(at + 1) << 8) | self.byte(at + 2);
        let shift = 24 - (self.pos % 8) as u32 - u32::from(bits);
        Some(((word >> shift) & ((1u32 << bits) - 1)) as u16)
    }

    fn consume(&mut self, bits: u8) -> Result<(), ()> {
        self.pos += usize::from(bits);
        Ok(())
    }

    fn bits_to_byte_boundary(&self) -> u8 {
        ((8 - self.pos % 8) % 8) as u8
    }
}

/// One run length (make-up codes added to their terminating code).
fn run(cursor: &mut Cursor<'_>, is_white: bool) -> Option<u32> {
    let mut sum = 0u32;
    loop {
        if cursor.at_end() {
            return None;
        }
        let n = if is_white {
            white::decode(cursor)?
        } else {
            black::decode(cursor)?
        };
        sum = sum.saturating_add(u32::from(n));
        if n < 64 {
            return Some(sum);
        }
    }
}

/// Decodes to grey (0 black, 255 white), row after row; returns the
/// pixels and the rows decoded. Damaged data ends the page where it is
/// met: the rest of that row is white.
pub fn decode(data: &[u8], layout: Layout) -> (Vec<u8>, u32) {
    let columns = layout.columns as usize;
    if columns == 0 {
        return (Vec::new(), 0);
    }
    let most_rows = (layout.max_pixels / layout.columns as u64).min(u64::from(u32::MAX)) as u32;
    let rows = layout.rows.map_or(most_rows, |r| r.min(most_rows));
    let mut cursor = Cursor {
        data,
        pos: 0,
        lsb_first: layout.lsb_first,
    };
    let mut out: Vec<u8> = Vec::new();
    let mut done = 0u32;
    'rows: while done < rows {
        if layout.byte_align && !layout.end_of_line {
            cursor.align();
        }
        // Six end-of-line codes in a row end the page (RTC).
        if cursor.skip_eols() >= 6 || cursor.at_end() {
            break;
        }
        // A row is pushed whole, then painted: a damaged row stays
        // partly white rather than shifting the rest of the page.
        out.resize(out.len() + columns, 255);
        let row = out.len() - columns;
        let mut x = 0usize;
        let mut is_white = true;
        while x < columns {
            let Some(n) = run(&mut cursor, is_white) else {
                done += 1;
                break 'rows;
            };
            let end = x.saturating_add(n as usize).min(columns);
            if !is_white {
                out[row + x..row + end].fill(0);
            }
            x = end;
            is_white = !is_white;
        }
        done += 1;
    }
    (out, done)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Bits written most significant first.
    fn pack(bits: &str) -> Vec<u8> {
        let bits: Vec<u8> = bits
            .bytes()
            .filter(|b| *b != b' ')
            .map(|b| b - b'0')
            .collect();
        bits.chunks(8)
            .map(|c| {
                c.iter()
                    .enumerate()
                    .fold(0u8, |acc, (i, b)| acc | (b << (7 - i)))
            })
            .collect()
    }

    fn layout(columns: u32, rows: Option<u32>) -> Layout {
        Layout {
            columns,
            rows,
            byte_align: false,
            end_of_line: false,
            lsb_first: false,
            max_pixels: 1 << 20,
        }
    }

    #[test]
    fn rows_of_runs_with_and_without_end_of_line_codes() {
        // 8 columns: white 2 (0111), black 3 (10), white 3 (1000); then
        // white 0 (00110101), black 8 (000101).
        let rows = "0111 10 1000  00110101 000101";
        let (pixels, n) = decode(&pack(rows), layout(8, Some(2)));
        assert_eq!(n, 2);
        assert_eq!(
            pixels,
            [255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0]
        );
        // The same rows, each after an end-of-line code with fill zeros.
        let with_eols = "0000 000000000001 0111 10 1000 000000000001 00110101 000101";
        assert_eq!(
            decode(&pack(with_eols), layout(8, None)),
            (pixels.clone(), 2)
        );
        // Least significant bit first, as TIFF FillOrder 2 stores them.
        let reversed: Vec<u8> = pack(rows).iter().map(|b| b.reverse_bits()).collect();
        let mut lsb = layout(8, Some(2));
        lsb.lsb_first = true;
        assert_eq!(decode(&reversed, lsb), (pixels, 2));
    }

    #[test]
    fn byte_aligned_rows_with_and_without_end_of_line_codes() {
        let expected = vec![255, 255, 0, 0, 0, 255, 255, 255, 0, 0, 0, 0, 0, 0, 0, 0];
        // Each row on a byte boundary (TIFF compression 2).
        let aligned = "0111 10 1000 000000  00110101 000101 00";
        let mut l = layout(8, Some(2));
        l.byte_align = true;
        assert_eq!(decode(&pack(aligned), l), (expected.clone(), 2));
        // Fill before each end-of-line code, which ends on a byte boundary.
        let eols = "0000 000000000001 0111 10 1000 00 000000000001 00110101 000101 00";
        l.end_of_line = true;
        assert_eq!(decode(&pack(eols), l), (expected, 2));
    }

    #[test]
    fn damaged_or_hostile_data_ends_the_page_within_its_bounds() {
        for data in [&[0xFFu8; 64][..], &[0u8; 64], &[0x55; 3], &[], &[0x01; 100]] {
            let (pixels, rows) = decode(data, layout(1728, None));
            assert_eq!(pixels.len(), rows as usize * 1728);
            assert!(pixels.len() as u64 <= 1 << 20);
        }
        // A declared height does not allocate: rows are added as decoded.
        let (pixels, _) = decode(&[0xFF; 4], layout(60_000, Some(60_000)));
        assert!(pixels.len() <= 60_000 * 2);
    }
}
