//! CCITT Group 3 (ITU T.4): what a PDF's `CCITTFaxDecode` holds with
//! `K >= 0`, and a TIFF's compression 2 (byte-aligned rows, no end-of-line
//! codes) and 3 (end-of-line codes). The TIFF decoder we use reads Group 4
//! only.
//!
//! One-dimensional rows (Modified Huffman) are white and black run lengths
//! starting with white, coded with the T.4 tables (the `fax` crate's).
//! Two-dimensional coding (Modified READ: PDF `K > 0`, TIFF `T4Options`
//! bit 0) puts a tag bit before each row, 1 for a one-dimensional row, 0
//! for a row coded against the row above it: pass, horizontal (two runs)
//! and vertical (a change within three pixels of the one above) modes.
//! Rows may be preceded by an end-of-line code (eleven zeros and a one,
//! after fill zeros). Damaged data ends the page: the rows not decoded are
//! white.

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
    /// Rows may be coded two-dimensionally; each starts with a tag bit.
    pub two_d: bool,
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
    /// With `tagged` rows, a tag bit between two end-of-line codes is
    /// skipped too (the end of a two-dimensional page is six EOL + 1).
    fn skip_eols(&mut self, tagged: bool) -> usize {
        let mut eols = 0;
        // No run or mode code has more than 7 leading zeros: 8 or more
        // are fill (or the eleven of an end-of-line code).
        while !self.at_end() && self.zeros() >= 8 {
            while !self.at_end() && self.peek(1) == Some(0) {
                self.pos += 1;
            }
            if self.at_end() {
                break;
            }
            self.pos += 1; // the end-of-line code's one
            eols += 1;
            if tagged && self.peek(1) == Some(1) {
                self.pos += 1;
                if self.at_end() || self.zeros() < 8 {
                    // The tag of a row: leave it to be read.
                    self.pos -= 1;
                    break;
                }
            }
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

/// A two-dimensional coding mode (T.4 table 4).
enum Mode {
    Pass,
    Horizontal,
    /// The change is this far right (negative: left) of the one above.
    Vertical(i64),
}

fn mode(cursor: &mut Cursor<'_>) -> Option<Mode> {
    if cursor.at_end() {
        return None;
    }
    let bits = cursor.peek(7)?;
    let (mode, len) = match bits {
        b if b & 0b100_0000 != 0 => (Mode::Vertical(0), 1),
        b if b >> 4 == 0b011 => (Mode::Vertical(1), 3),
        b if b >> 4 == 0b010 => (Mode::Vertical(-1), 3),
        b if b >> 4 == 0b001 => (Mode::Horizontal, 3),
        b if b >> 3 == 0b0001 => (Mode::Pass, 4),
        b if b >> 1 == 0b00_0011 => (Mode::Vertical(2), 6),
        b if b >> 1 == 0b00_0010 => (Mode::Vertical(-2), 6),
        0b000_0011 => (Mode::Vertical(3), 7),
        0b000_0010 => (Mode::Vertical(-3), 7),
        // Extensions (uncompressed mode) and end-of-line codes.
        _ => return None,
    };
    cursor.pos += len;
    Some(mode)
}

/// A one-dimensional row's colour changes (where each run after the
/// first starts); `false` if the data broke off within the row.
fn row_1d(cursor: &mut Cursor<'_>, columns: u32, changes: &mut Vec<u32>) -> bool {
    let mut x = 0u32;
    let mut is_white = true;
    while x < columns {
        let Some(n) = run(cursor, is_white) else {
            return false;
        };
        x = x.saturating_add(n).min(columns);
        changes.push(x);
        is_white = !is_white;
    }
    true
}

/// A two-dimensional row's colour changes, coded against `above` (the
/// changes of the row above: white to black at even places); `false` if
/// the data broke off within the row.
fn row_2d(cursor: &mut Cursor<'_>, columns: u32, above: &[u32], changes: &mut Vec<u32>) -> bool {
    let columns = i64::from(columns);
    // a0: where the coding stands (-1: before the row's first pixel).
    let (mut a0, mut is_white) = (-1i64, true);
    // Each mode moves a0 forwards or changes colour; damaged data that
    // would loop is cut off here.
    let mut modes = 0i64;
    while a0 < columns {
        modes += 1;
        if modes > 2 * columns + 8 {
            return false;
        }
        // b1: the first change above, right of a0, to the colour that is
        // not a0's; b2 the change after it.
        let mut i = above.partition_point(|&p| i64::from(p) <= a0);
        if (i % 2 == 0) != is_white {
            i += 1;
        }
        let b = |i: usize| above.get(i).map_or(columns, |&p| i64::from(p));
        let (b1, b2) = (b(i), b(i + 1));
        let from = a0.max(0);
        match mode(cursor) {
            Some(Mode::Pass) => a0 = b2.max(from),
            Some(Mode::Horizontal) => {
                let (Some(r1), Some(r2)) = (run(cursor, is_white), run(cursor, !is_white)) else {
                    return false;
                };
                let a1 = (from + i64::from(r1)).min(columns);
                let a2 = (a1 + i64::from(r2)).min(columns);
                changes.extend([a1 as u32, a2 as u32]);
                a0 = a2;
            }
            Some(Mode::Vertical(d)) => {
                let a1 = (b1 + d).clamp(from, columns);
                changes.push(a1 as u32);
                a0 = a1;
                is_white = !is_white;
            }
            None => return false,
        }
    }
    true
}

/// Paints a row from its colour changes; a row cut short is painted to
/// its last change only (the rest stays white).
fn paint(row: &mut [u8], changes: &[u32], whole: bool) {
    let mut x = 0usize;
    let mut black = false;
    for &c in changes {
        let c = (c as usize).min(row.len()).max(x);
        if black {
            row[x..c].fill(0);
        }
        x = c;
        black = !black;
    }
    if black && whole {
        row[x..].fill(0);
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
    // The changes of the row above (none above the first: all white).
    let mut above: Vec<u32> = Vec::new();
    let mut changes: Vec<u32> = Vec::new();
    while done < rows {
        if layout.byte_align && !layout.end_of_line {
            cursor.align();
        }
        // Six end-of-line codes in a row end the page (RTC).
        if cursor.skip_eols(layout.two_d) >= 6 || cursor.at_end() {
            break;
        }
        let one_d = !layout.two_d || {
            let tag = cursor.peek(1) == Some(1);
            cursor.pos += 1;
            tag
        };
        // A row is pushed whole, then painted: a damaged row stays
        // partly white rather than shifting the rest of the page.
        out.resize(out.len() + columns, 255);
        let row = out.len() - columns;
        changes.clear();
        let whole = if one_d {
            row_1d(&mut cursor, layout.columns, &mut changes)
        } else {
            row_2d(&mut cursor, layout.columns, &above, &mut changes)
        };
        paint(&mut out[row..], &changes, whole);
        done += 1;
        if !whole {
            break;
        }
        std::mem::swap(&mut above, &mut changes);
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
            two_d: false,
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
    fn two_dimensional_rows_follow_the_row_above() {
        // 8 columns, tagged rows. Row 1 (tag 1, 1-D): white 2, black 3,
        // white 3. Row 2 (tag 0, 2-D): V0 (black from 2), VR1 (white from
        // 6), V0 (to the row's end): black 2..6. Row 3 (tag 0): pass (to
        // b2 = 6, still white), then H: white 1 (000111), black 1 (010).
        let bits = "1 0111 10 1000  0 1 011 1  0 0001 001 000111 010";
        let mut l = layout(8, Some(3));
        l.two_d = true;
        let (pixels, n) = decode(&pack(bits), l);
        assert_eq!(n, 3);
        let rows: Vec<&[u8]> = pixels.chunks(8).collect();
        assert_eq!(rows[0], [255, 255, 0, 0, 0, 255, 255, 255]);
        assert_eq!(rows[1], [255, 255, 0, 0, 0, 0, 255, 255]);
        assert_eq!(rows[2], [255, 255, 255, 255, 255, 255, 255, 0]);
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
        // Random bytes too, as both codings, under every layout flag.
        let mut rng = crate::test_rng::Rng::new(0x2545_f491_4f6c_dd1d);
        let random: Vec<Vec<u8>> = (0..200).map(|i| rng.bytes((i * 7) % 700)).collect();
        let fixed = [&[0xFFu8; 64][..], &[0u8; 64], &[0x55; 3], &[], &[0x01; 100]];
        for data in fixed.into_iter().chain(random.iter().map(Vec::as_slice)) {
            for flags in 0..8u8 {
                let mut l = layout(1728, None);
                l.two_d = flags & 1 != 0;
                l.byte_align = flags & 2 != 0;
                l.end_of_line = flags & 4 != 0;
                let (pixels, rows) = decode(data, l);
                assert_eq!(pixels.len(), rows as usize * 1728);
                assert!(pixels.len() as u64 <= 1 << 20);
            }
        }
        // A declared height does not allocate: rows are added as decoded.
        let (pixels, _) = decode(&[0xFF; 4], layout(60_000, Some(60_000)));
        assert!(pixels.len() <= 60_000 * 2);
    }
}
