//! Deciding how a file's bytes are text: UTF-8, UTF-16 (LE/BE, with a BOM or
//! recognised by its NUL-byte pattern), Windows-1252 (which covers Latin-1),
//! or not text at all.

use encoding_rs::{Decoder, UTF_16BE, UTF_16LE, WINDOWS_1252};

/// Bytes looked at to decide the encoding.
pub const SNIFF_LEN: usize = 8192;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextEncoding {
    Utf8,
    Utf16Le,
    Utf16Be,
    Windows1252,
}

impl TextEncoding {
    /// A streaming decoder to UTF-8, or `None` when the bytes are UTF-8
    /// already and can be matched as they are.
    pub fn decoder(self) -> Option<Decoder> {
        match self {
            TextEncoding::Utf8 => None,
            // BOM handling: encoding_rs strips a BOM for the encoding it
            // decodes, so the sniffed BOM is not reported as text.
            TextEncoding::Utf16Le => Some(UTF_16LE.new_decoder_with_bom_removal()),
            TextEncoding::Utf16Be => Some(UTF_16BE.new_decoder_with_bom_removal()),
            TextEncoding::Windows1252 => Some(WINDOWS_1252.new_decoder_without_bom_handling()),
        }
    }
}

/// Decides how `head` (the start of a file) is encoded; `None` = binary.
pub fn sniff(head: &[u8]) -> Option<TextEncoding> {
    if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        return Some(TextEncoding::Utf8);
    }
    if head.starts_with(&[0xFF, 0xFE]) {
        return Some(TextEncoding::Utf16Le);
    }
    if head.starts_with(&[0xFE, 0xFF]) {
        return Some(TextEncoding::Utf16Be);
    }
    if head.is_empty() {
        return Some(TextEncoding::Utf8);
    }
    let (mut nul_even, mut nul_odd) = (0usize, 0usize);
    for (i, &b) in head.iter().enumerate() {
        if b == 0 {
            if i % 2 == 0 {
                nul_even += 1;
            } else {
                nul_odd += 1;
            }
        }
    }
    let pairs = head.len() / 2;
    if nul_even + nul_odd > 0 {
        if let Some(text) = padded_text(head) {
            return sniff(&text);
        }
    }
    if pairs > 0 && nul_even + nul_odd > 0 {
        // ASCII-range text in UTF-16 has a NUL in every high byte: odd
        // positions for little endian, even for big endian.
        if nul_odd * 10 >= pairs * 7 && nul_even * 10 <= pairs {
            return Some(TextEncoding::Utf16Le).filter(|_| utf16_plausible(head, true));
        }
        if nul_even * 10 >= pairs * 7 && nul_odd * 10 <= pairs {
            return Some(TextEncoding::Utf16Be).filter(|_| utf16_plausible(head, false));
        }
        return None;
    }
    if control_ratio_too_high(head) {
        return None;
    }
    match std::str::from_utf8(head) {
        Ok(_) => Some(TextEncoding::Utf8),
        // An error only because the sample cut a character in two.
        Err(e) if e.error_len().is_none() => Some(TextEncoding::Utf8),
        Err(_) => Some(TextEncoding::Windows1252),
    }
}

/// Runs of NUL bytes at least this long are padding, not text.
const NUL_RUN: usize = 8;
/// Bytes of text a padded head must hold to be taken for text.
const MIN_PADDED_TEXT: usize = 16;

/// The text of a head padded with runs of NUL bytes (preallocated logs,
/// fixed-size records, a text file grown with `truncate`): `head` without
/// its NUL runs, when no shorter NUL run is left (those are binary
/// structure, or UTF-16) and enough text remains. `None` otherwise.
fn padded_text(head: &[u8]) -> Option<Vec<u8>> {
    let mut text = Vec::with_capacity(head.len());
    let mut i = 0;
    while i < head.len() {
        if head[i] != 0 {
            text.push(head[i]);
            i += 1;
            continue;
        }
        let run = head[i..].iter().take_while(|&&b| b == 0).count();
        // A short run at the very end may be the start of a long one.
        if run < NUL_RUN && i + run < head.len() {
            return None;
        }
        i += run;
    }
    (text.len() >= MIN_PADDED_TEXT).then_some(text)
}

/// Text has few control characters. Those common in text and in healthcare
/// formats are allowed: tab, LF, VT and FS (MLLP framing), FF, CR, ESC, and
/// the X12/EDIFACT separators GS, RS, US.
fn control_ratio_too_high(head: &[u8]) -> bool {
    let controls = head
        .iter()
        .filter(|&&b| {
            b < 0x20 && !matches!(b, b'\t' | b'\n' | 0x0B | 0x0C | b'\r' | 0x1B | 0x1C..=0x1F)
        })
        .count();
    controls * 20 > head.len()
}

fn utf16_plausible(head: &[u8], little_endian: bool) -> bool {
    let units: Vec<u16> = head
        .chunks_exact(2)
        .map(|c| {
            if little_endian {
                u16::from_le_bytes([c[0], c[1]])
            } else {
                u16::from_be_bytes([c[0], c[1]])
            }
        })
        .collect();
    let controls = units
        .iter()
        .filter(|&&u| u < 0x20 && !matches!(u, 0x09 | 0x0A | 0x0D | 0x0C))
        .count();
    controls * 20 <= units.len()
}

/// A reader of UTF-8 from a stream in another encoding (UTF-16 from
/// Windows' "Unicode text" exports): extractors that read UTF-8 bytes
/// (tables) read such a file through it. Bounded: one chunk in, one out.
pub struct Utf8Reader<R> {
    inner: R,
    decoder: Decoder,
    raw: Vec<u8>,
    raw_start: usize,
    raw_eof: bool,
    out: Vec<u8>,
    out_start: usize,
}

impl<R: std::io::Read> Utf8Reader<R> {
    const CHUNK: usize = 64 << 10;

    /// `None` when `encoding` is UTF-8 already.
    pub fn new(inner: R, encoding: TextEncoding) -> Option<Utf8Reader<R>> {
        Some(Utf8Reader {
            inner,
            decoder: encoding.decoder()?,
            raw: Vec::new(),
            raw_start: 0,
            raw_eof: false,
            out: Vec::new(),
            out_start: 0,
        })
    }
}

impl<R: std::io::Read> std::io::Read for Utf8Reader<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        use encoding_rs::CoderResult;
        while self.out_start == self.out.len() {
            if self.raw_start == self.raw.len() {
                if self.raw_eof {
                    return Ok(0);
                }
                self.raw.resize(Self::CHUNK, 0);
                self.raw_start = 0;
                let n = loop {
                    match self.inner.read(&mut self.raw) {
                        Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
                        other => break other?,
                    }
                };
                self.raw.truncate(n);
                self.raw_eof = n == 0;
            }
            let room = self
                .decoder
                .max_utf8_buffer_length(self.raw.len() - self.raw_start)
                .unwrap_or(4 * Self::CHUNK)
                .max(16);
            self.out.resize(room, 0);
            self.out_start = 0;
            let (result, read, written, _) = self.decoder.decode_to_utf8(
                &self.raw[self.raw_start..],
                &mut self.out,
                self.raw_eof,
            );
            self.raw_start += read;
            self.out.truncate(written);
            if self.raw_eof && result == CoderResult::InputEmpty && written == 0 {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.out.len() - self.out_start);
        buf[..n].copy_from_slice(&self.out[self.out_start..self.out_start + n]);
        self.out_start += n;
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn utf16_is_read_as_utf8_across_chunks() {
        use std::io::Read;
        let text: String = (0..50_000).map(|i| format!("r\u{e9}{i}\t")).collect();
        let mut bytes = vec![0xFF, 0xFE];
        bytes.extend(text.encode_utf16().flat_map(u16::to_le_bytes));
        let mut out = String::new();
        Utf8Reader::new(bytes.as_slice(), TextEncoding::Utf16Le)
            .unwrap()
            .read_to_string(&mut out)
            .unwrap();
        assert_eq!(out, text);
        assert!(Utf8Reader::new(&b"x"[..], TextEncoding::Utf8).is_none());
    }

    #[test]
    fn text_padded_with_nul_runs_is_text() {
        let mut padded = b"Patient: SSN 536-22-1299\n".to_vec();
        padded.extend([0u8; 4000]);
        padded.extend(b"more notes\n");
        assert_eq!(sniff(&padded), Some(TextEncoding::Utf8));
        // Padding first, then text.
        let mut lead = vec![0u8; 512];
        lead.extend(b"log line one\nlog line two\n");
        assert_eq!(sniff(&lead), Some(TextEncoding::Utf8));
        // All NUL (an image's empty start): nothing to go on.
        assert_eq!(sniff(&[0u8; 8192]), None);
        // Short NUL runs are binary structure.
        let mut binary = Vec::new();
        for i in 0..500u32 {
            binary.extend(i.to_le_bytes());
            binary.extend(b"ab");
        }
        assert_eq!(sniff(&binary), None);
    }

    fn utf16(s: &str, le: bool) -> Vec<u8> {
        s.encode_utf16()
            .flat_map(|u| if le { u.to_le_bytes() } else { u.to_be_bytes() })
            .collect()
    }

    #[test]
    fn recognises_encodings() {
        assert_eq!(sniff(b"plain ascii\n"), Some(TextEncoding::Utf8));
        assert_eq!(
            sniff("Jos\u{e9} Mu\u{f1}oz".as_bytes()),
            Some(TextEncoding::Utf8)
        );
        assert_eq!(
            sniff(b"Jos\xe9 Mu\xf1oz, DOB 01/02/1980"),
            Some(TextEncoding::Windows1252)
        );
        assert_eq!(
            sniff(&utf16("SSN 123-45-6788 here", true)),
            Some(TextEncoding::Utf16Le)
        );
        assert_eq!(
            sniff(&utf16("SSN 123-45-6788 here", false)),
            Some(TextEncoding::Utf16Be)
        );
        let mut bom = vec![0xFF, 0xFE];
        bom.extend(utf16("x", true));
        assert_eq!(sniff(&bom), Some(TextEncoding::Utf16Le));
        assert_eq!(sniff(b"MSH|^~\\&|A\rPID|1\r"), Some(TextEncoding::Utf8));
    }

    #[test]
    fn binary_is_not_text() {
        assert_eq!(
            sniff(&[0x7f, b'E', b'L', b'F', 2, 1, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0]),
            None
        );
        let noise: Vec<u8> = (0..4096u32)
            .map(|i| (i.wrapping_mul(2654435761) >> 13) as u8)
            .collect();
        assert_eq!(sniff(&noise), None);
    }

    #[test]
    fn cut_utf8_character_at_sample_end_is_still_utf8() {
        let s = "abc\u{e9}".as_bytes();
        assert_eq!(sniff(&s[..s.len() - 1]), Some(TextEncoding::Utf8));
    }
}
