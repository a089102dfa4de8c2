//! Stream filters as a chain of readers, so that a stream is decoded as it
//! is read and never held whole: FlateDecode (zlib, or raw deflate when the
//! header is missing), LZWDecode (with `EarlyChange`), ASCII85Decode,
//! ASCIIHexDecode, RunLengthDecode, and the PNG and TIFF predictors of
//! `DecodeParms`, in any order. DCTDecode, CCITTFaxDecode, JBIG2Decode and
//! JPXDecode are image codecs: a chain stops before them and says which
//! one follows (see [`super::images`]).

use super::syntax::Obj;
use crate::error::ExtractError;
use std::io::{self, Read};

/// Input read per step by the codecs below.
const STEP: usize = 16 << 10;

/// A filter of the standard set, with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub enum Filter {
    Flate(Predictor),
    Lzw {
        early_change: bool,
        predictor: Predictor,
    },
    Ascii85,
    AsciiHex,
    RunLength,
    /// An image codec (`DCTDecode` ...), by its full name; `Crypt` too.
    Image(String),
    /// A name that is no standard filter.
    Unknown(String),
}

/// `DecodeParms` of Flate and LZW.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Predictor {
    /// 1 none, 2 TIFF, 10–15 PNG.
    pub predictor: u32,
    pub colors: u32,
    pub bits_per_component: u32,
    pub columns: u32,
}

impl Default for Predictor {
    fn default() -> Self {
        Predictor {
            predictor: 1,
            colors: 1,
            bits_per_component: 8,
            columns: 1,
        }
    }
}

impl Predictor {
    fn from_parms(parms: &Obj) -> Predictor {
        let int = |key: &[u8], default: u32, max: u32| {
            parms
                .get(key)
                .and_then(Obj::as_num)
                .filter(|n| n.is_finite() && *n >= 1.0)
                .map_or(default, |n| (n as u32).min(max))
        };
        Predictor {
            predictor: int(b"Predictor", 1, 15),
            colors: int(b"Colors", 1, 64),
            bits_per_component: int(b"BitsPerComponent", 8, 16),
            columns: int(b"Columns", 1, 1 << 20),
        }
    }

    fn row_bytes(&self) -> usize {
        (self.colors as usize * self.bits_per_component as usize * self.columns as usize)
            .div_ceil(8)
    }

    fn pixel_bytes(&self) -> usize {
        (self.colors as usize * self.bits_per_component as usize)
            .div_ceil(8)
            .max(1)
    }
}

impl Filter {
    pub(super) fn from_name(name: &[u8], parms: &Obj) -> Filter {
        match name {
            b"FlateDecode" | b"Fl" => Filter::Flate(Predictor::from_parms(parms)),
            b"LZWDecode" | b"LZW" => Filter::Lzw {
                early_change: parms
                    .get(b"EarlyChange")
                    .and_then(Obj::as_num)
                    .is_none_or(|n| n != 0.0),
                predictor: Predictor::from_parms(parms),
            },
            b"ASCII85Decode" | b"A85" => Filter::Ascii85,
            b"ASCIIHexDecode" | b"AHx" => Filter::AsciiHex,
            b"RunLengthDecode" | b"RL" => Filter::RunLength,
            b"DCTDecode" | b"DCT" => Filter::Image("DCTDecode".into()),
            b"CCITTFaxDecode" | b"CCF" => Filter::Image("CCITTFaxDecode".into()),
            b"JBIG2Decode" => Filter::Image("JBIG2Decode".into()),
            b"JPXDecode" => Filter::Image("JPXDecode".into()),
            b"Crypt" => Filter::Image("Crypt".into()),
            other => Filter::Unknown(String::from_utf8_lossy(other).into_owned()),
        }
    }

    pub fn is_image(&self) -> bool {
        matches!(self, Filter::Image(_))
    }
}

/// The filters of a stream dictionary with their parameters, in the order
/// they apply; `resolve` follows indirect `Filter`/`DecodeParms` values.
pub(super) fn filters_of(dict: &Obj, resolve: &dyn Fn(&Obj) -> Obj) -> Vec<(Filter, Obj)> {
    let names = match dict.get(b"Filter").or_else(|| dict.get(b"F")) {
        None => return Vec::new(),
        Some(f) => resolve(f),
    };
    let parms = dict
        .get(b"DecodeParms")
        .or_else(|| dict.get(b"DP"))
        .map(resolve)
        .unwrap_or(Obj::Null);
    let names: Vec<Obj> = match names {
        Obj::Array(items) => items.iter().map(resolve).collect(),
        Obj::Null => Vec::new(),
        other => vec![other],
    };
    names
        .iter()
        .take(16)
        .enumerate()
        .map(|(i, name)| {
            let parm = match &parms {
                Obj::Array(items) => items.get(i).map(resolve).unwrap_or(Obj::Null),
                single if i == 0 => single.clone(),
                _ => Obj::Null,
            };
            let filter = match name {
                Obj::Name(n) => Filter::from_name(n, &parm),
                _ => Filter::Unknown("?".into()),
            };
            (filter, parm)
        })
        .collect()
}

/// A stream's bytes through its filters up to the first image codec.
pub(super) struct Chain<'a> {
    pub reader: Box<dyn Read + 'a>,
    /// The filter the bytes still need (an image codec or an unknown one).
    pub stopped_at: Option<Filter>,
}

/// Builds the reader chain over `raw` for `filters`; the ratio limit of
/// one stream (`max_ratio` past `floor` bytes of output) is enforced on
/// what comes out.
pub(super) fn chain<'a>(
    raw: &'a [u8],
    filters: &[(Filter, Obj)],
    max_ratio: u64,
    floor: u64,
) -> Chain<'a> {
    let mut reader: Box<dyn Read + 'a> = Box::new(raw);
    let mut stopped_at = None;
    for (filter, _) in filters {
        reader = match filter {
            Filter::Flate(p) => predict(Box::new(Inflate::new(reader)), *p),
            Filter::Lzw {
                early_change,
                predictor,
            } => predict(Box::new(Lzw::new(reader, *early_change)), *predictor),
            Filter::Ascii85 => Box::new(CodecReader::new(reader, Ascii85::default())),
            Filter::AsciiHex => Box::new(CodecReader::new(reader, AsciiHex::default())),
            Filter::RunLength => Box::new(CodecReader::new(reader, RunLength::default())),
            Filter::Image(_) | Filter::Unknown(_) => {
                stopped_at = Some(filter.clone());
                break;
            }
        };
    }
    Chain {
        reader: Box::new(Ratio {
            inner: reader,
            raw_len: raw.len() as u64,
            produced: 0,
            max_ratio,
            floor,
        }),
        stopped_at,
    }
}

fn predict<'a>(reader: Box<dyn Read + 'a>, p: Predictor) -> Box<dyn Read + 'a> {
    match p.predictor {
        2 => Box::new(CodecReader::new(reader, Tiff::new(p))),
        10..=15 => Box::new(CodecReader::new(reader, Png::new(p))),
        _ => reader,
    }
}

/// Fails the read (an `ExtractError::Limit` carried in the `io::Error`)
/// once a stream expands past the ratio limit.
struct Ratio<'a> {
    inner: Box<dyn Read + 'a>,
    raw_len: u64,
    produced: u64,
    max_ratio: u64,
    floor: u64,
}

impl Read for Ratio<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.produced += n as u64;
        if self.produced > self.floor && self.produced > self.raw_len.saturating_mul(self.max_ratio)
        {
            return Err(super::super::carry(ExtractError::Limit(format!(
                "PDF stream expands more than {}:1 (compression bomb?)",
                self.max_ratio
            ))));
        }
        Ok(n)
    }
}

/// zlib, or raw deflate when the stream has no zlib header (some writers
/// leave it out). A damaged stream ends where it breaks.
struct Inflate<'a> {
    inner: Option<Box<dyn Read + 'a>>,
    decoder: Option<Box<dyn Read + 'a>>,
}

impl<'a> Inflate<'a> {
    fn new(inner: Box<dyn Read + 'a>) -> Self {
        Inflate {
            inner: Some(inner),
            decoder: None,
        }
    }
}

impl<'a> Read for Inflate<'a> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.decoder.is_none() {
            let Some(mut inner) = self.inner.take() else {
                return Ok(0);
            };
            let mut head = [0u8; 2];
            let mut got = 0;
            while got < 2 {
                match inner.read(&mut head[got..])? {
                    0 => break,
                    n => got += n,
                }
            }
            let zlib = got == 2
                && head[0] & 0x0F == 8
                && (u16::from(head[0]) << 8 | u16::from(head[1])) % 31 == 0;
            let joined: Box<dyn Read + 'a> =
                Box::new(io::Cursor::new(head[..got].to_vec()).chain(inner));
            self.decoder = Some(if zlib {
                Box::new(flate2::read::ZlibDecoder::new(joined))
            } else {
                Box::new(flate2::read::DeflateDecoder::new(joined))
            });
        }
        let Some(decoder) = self.decoder.as_mut() else {
            return Ok(0);
        };
        match decoder.read(buf) {
            Ok(n) => Ok(n),
            // A limit from below is passed on; a damaged stream just ends.
            Err(e) if is_limit(&e) => Err(e),
            Err(_) => {
                self.decoder = Some(Box::new(io::empty()));
                Ok(0)
            }
        }
    }
}

/// Whether an `io::Error` carries an extraction limit.
pub(super) fn is_limit(e: &io::Error) -> bool {
    e.get_ref()
        .and_then(|inner| inner.downcast_ref::<ExtractError>())
        .is_some_and(|x| matches!(x, ExtractError::Limit(_)))
}

/// LZW as PDF uses it: MSB first, 9 to 12 bits, with or without the early
/// code-width change.
struct Lzw<'a> {
    inner: Box<dyn Read + 'a>,
    decoder: weezl::decode::Decoder,
    input: Vec<u8>,
    at: usize,
    done: bool,
}

impl<'a> Lzw<'a> {
    fn new(inner: Box<dyn Read + 'a>, early_change: bool) -> Self {
        let decoder = if early_change {
            weezl::decode::Decoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        } else {
            weezl::decode::Decoder::new(weezl::BitOrder::Msb, 8)
        };
        Lzw {
            inner,
            decoder,
            input: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

impl Read for Lzw<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while !self.done && !buf.is_empty() {
            if self.at == self.input.len() {
                self.input.resize(STEP, 0);
                let n = self.inner.read(&mut self.input)?;
                self.input.truncate(n);
                self.at = 0;
            }
            let end_of_input = self.input.is_empty();
            let result = self.decoder.decode_bytes(&self.input[self.at..], buf);
            self.at += result.consumed_in;
            match result.status {
                Ok(weezl::LzwStatus::Done) | Err(_) => self.done = true,
                Ok(weezl::LzwStatus::NoProgress) if end_of_input => self.done = true,
                _ => {}
            }
            if end_of_input && result.consumed_out == 0 {
                self.done = true;
            }
            if result.consumed_out > 0 {
                return Ok(result.consumed_out);
            }
        }
        Ok(0)
    }
}

/// A byte transform fed input in steps.
trait Codec {
    /// Decodes `input` onto `out`; true once the data's end marker is seen.
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool;
    /// At the end of input: what is left.
    fn finish(&mut self, _out: &mut Vec<u8>) {}
}

struct CodecReader<'a, C> {
    inner: Box<dyn Read + 'a>,
    codec: C,
    input: Vec<u8>,
    out: Vec<u8>,
    at: usize,
    done: bool,
}

impl<'a, C: Codec> CodecReader<'a, C> {
    fn new(inner: Box<dyn Read + 'a>, codec: C) -> Self {
        CodecReader {
            inner,
            codec,
            input: vec![0; STEP],
            out: Vec::new(),
            at: 0,
            done: false,
        }
    }
}

impl<C: Codec> Read for CodecReader<'_, C> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.at == self.out.len() {
            if self.done {
                return Ok(0);
            }
            self.out.clear();
            self.at = 0;
            self.input.resize(STEP, 0);
            let n = self.inner.read(&mut self.input)?;
            if n == 0 {
                self.codec.finish(&mut self.out);
                self.done = true;
            } else if self.codec.feed(&self.input[..n], &mut self.out) {
                self.done = true;
            }
        }
        let n = buf.len().min(self.out.len() - self.at);
        buf[..n].copy_from_slice(&self.out[self.at..self.at + n]);
        self.at += n;
        Ok(n)
    }
}

#[derive(Default)]
struct Ascii85 {
    group: [u8; 5],
    len: usize,
    tilde: bool,
}

impl Ascii85 {
    fn flush(&mut self, out: &mut Vec<u8>) {
        if self.len < 2 {
            self.len = 0;
            return;
        }
        let n = self.len;
        for slot in &mut self.group[n..] {
            *slot = b'u' - b'!';
        }
        let value = self.group.iter().fold(0u64, |v, &d| v * 85 + u64::from(d));
        let bytes = (value as u32).to_be_bytes();
        out.extend_from_slice(&bytes[..n - 1]);
        self.len = 0;
    }
}

impl Codec for Ascii85 {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.tilde {
                // `~>` ends the data (a lone `~` is an error: end too).
                self.flush(out);
                return true;
            }
            match b {
                b'~' => self.tilde = true,
                b'z' if self.len == 0 => out.extend_from_slice(&[0; 4]),
                b'!'..=b'u' => {
                    self.group[self.len] = b - b'!';
                    self.len += 1;
                    if self.len == 5 {
                        let value = self.group.iter().fold(0u64, |v, &d| v * 85 + u64::from(d));
                        out.extend_from_slice(&(value as u32).to_be_bytes());
                        self.len = 0;
                    }
                }
                _ => {}
            }
        }
        false
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        self.flush(out);
    }
}

#[derive(Default)]
struct AsciiHex {
    high: Option<u8>,
}

impl Codec for AsciiHex {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if b == b'>' {
                self.finish(out);
                return true;
            }
            let Some(v) = (b as char).to_digit(16) else {
                continue;
            };
            match self.high.take() {
                Some(h) => out.push(h << 4 | v as u8),
                None => self.high = Some(v as u8),
            }
        }
        false
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        if let Some(h) = self.high.take() {
            out.push(h << 4);
        }
    }
}

/// RunLengthDecode: a length byte, then that many + 1 literal bytes (0–127)
/// or one byte repeated 257 − length times (129–255); 128 ends.
#[derive(Default)]
struct RunLength {
    literal: usize,
    repeat: Option<usize>,
}

impl Codec for RunLength {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            if self.literal > 0 {
                out.push(b);
                self.literal -= 1;
            } else if let Some(n) = self.repeat.take() {
                out.resize(out.len() + n, b);
            } else {
                match b {
                    128 => return true,
                    0..=127 => self.literal = usize::from(b) + 1,
                    _ => self.repeat = Some(257 - usize::from(b)),
                }
            }
        }
        false
    }
}

/// PNG predictors: a filter-type byte before each row.
struct Png {
    row: usize,
    bpp: usize,
    prev: Vec<u8>,
    cur: Vec<u8>,
    /// Bytes of the current row received, the type byte included.
    have: usize,
}

impl Png {
    fn new(p: Predictor) -> Self {
        let row = p.row_bytes().max(1);
        Png {
            row,
            bpp: p.pixel_bytes(),
            prev: vec![0; row],
            cur: vec![0; row + 1],
            have: 0,
        }
    }

    fn finish_row(&mut self, out: &mut Vec<u8>) {
        let kind = self.cur[0];
        let bpp = self.bpp;
        for i in 0..self.row {
            let x = self.cur[i + 1];
            let a = if i >= bpp { self.prev_out(i - bpp) } else { 0 };
            let b = self.prev[i];
            let c = if i >= bpp { self.prev[i - bpp] } else { 0 };
            let v = match kind {
                1 => x.wrapping_add(a),
                2 => x.wrapping_add(b),
                3 => x.wrapping_add(((u16::from(a) + u16::from(b)) / 2) as u8),
                4 => x.wrapping_add(paeth(a, b, c)),
                _ => x,
            };
            self.cur[i + 1] = v;
        }
        out.extend_from_slice(&self.cur[1..]);
        self.prev.copy_from_slice(&self.cur[1..]);
        self.have = 0;
    }

    /// Byte `i` of the row being decoded (already decoded, left of here).
    fn prev_out(&self, i: usize) -> u8 {
        self.cur[i + 1]
    }
}

fn paeth(a: u8, b: u8, c: u8) -> u8 {
    let p = i16::from(a) + i16::from(b) - i16::from(c);
    let (pa, pb, pc) = (
        (p - i16::from(a)).abs(),
        (p - i16::from(b)).abs(),
        (p - i16::from(c)).abs(),
    );
    if pa <= pb && pa <= pc {
        a
    } else if pb <= pc {
        b
    } else {
        c
    }
}

impl Codec for Png {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        for &b in input {
            self.cur[self.have] = b;
            self.have += 1;
            if self.have == self.row + 1 {
                self.finish_row(out);
            }
        }
        false
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        // A short last row is still decoded (damaged files keep their start).
        if self.have > 1 {
            for i in self.have..=self.row {
                self.cur[i] = 0;
            }
            let keep = self.have - 1;
            self.finish_row(out);
            out.truncate(out.len() - (self.row - keep));
        }
    }
}

/// TIFF predictor 2: each sample is stored as the difference from the one
/// to its left (8- and 16-bit samples; others are passed through).
struct Tiff {
    row: usize,
    bpp: usize,
    sixteen: bool,
    passthrough: bool,
    cur: Vec<u8>,
    have: usize,
}

impl Tiff {
    fn new(p: Predictor) -> Self {
        let row = p.row_bytes().max(1);
        Tiff {
            row,
            bpp: p.pixel_bytes(),
            sixteen: p.bits_per_component == 16,
            passthrough: !matches!(p.bits_per_component, 8 | 16),
            cur: vec![0; row],
            have: 0,
        }
    }
}

impl Codec for Tiff {
    fn feed(&mut self, input: &[u8], out: &mut Vec<u8>) -> bool {
        if self.passthrough {
            out.extend_from_slice(input);
            return false;
        }
        for &b in input {
            self.cur[self.have] = b;
            self.have += 1;
            if self.have == self.row {
                if self.sixteen {
                    let step = self.bpp;
                    let mut i = step;
                    while i + 1 < self.row {
                        let left = u16::from_be_bytes([self.cur[i - step], self.cur[i - step + 1]]);
                        let here = u16::from_be_bytes([self.cur[i], self.cur[i + 1]]);
                        let v = here.wrapping_add(left).to_be_bytes();
                        self.cur[i] = v[0];
                        self.cur[i + 1] = v[1];
                        i += 2;
                    }
                } else {
                    for i in self.bpp..self.row {
                        self.cur[i] = self.cur[i].wrapping_add(self.cur[i - self.bpp]);
                    }
                }
                out.extend_from_slice(&self.cur);
                self.have = 0;
            }
        }
        false
    }

    fn finish(&mut self, out: &mut Vec<u8>) {
        out.extend_from_slice(&self.cur[..self.have]);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    fn decode(raw: &[u8], dict: &str) -> Vec<u8> {
        let mut lexer = super::super::syntax::Lexer::new(dict.as_bytes(), 0);
        let dict = lexer.object(0).expect("dict");
        let filters = filters_of(&dict, &|o| o.clone());
        let mut chain = chain(raw, &filters, 100, 1 << 20);
        let mut out = Vec::new();
        let _ = chain.reader.read_to_end(&mut out);
        out
    }

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("zlib");
        e.finish().expect("zlib")
    }

    fn ascii85(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in data.chunks(4) {
            let mut group = [0u8; 4];
            group[..chunk.len()].copy_from_slice(chunk);
            let mut v = u32::from_be_bytes(group);
            if chunk.len() == 4 && v == 0 {
                out.push(b'z');
                continue;
            }
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = (v % 85) as u8 + b'!';
                v /= 85;
            }
            out.extend_from_slice(&digits[..chunk.len() + 1]);
            out.push(b'\n');
        }
        out.extend_from_slice(b"~>");
        out
    }

    const TEXT: &[u8] = b"BT /F1 12 Tf 72 700 Td (SSN: 219-45-6780) Tj ET\n\0\0\0\0 the end";

    #[test]
    fn ascii85_then_flate_as_reportlab_writes_it() {
        let raw = ascii85(&zlib(TEXT));
        assert_eq!(
            decode(&raw, "<< /Filter [/ASCII85Decode /FlateDecode] >>"),
            TEXT
        );
        assert_eq!(decode(&raw, "<< /Filter [/A85 /Fl] >>"), TEXT);
    }

    #[test]
    fn flate_then_ascii85_and_hex_in_any_order() {
        let raw = zlib(&ascii85(TEXT));
        assert_eq!(
            decode(&raw, "<< /Filter [/FlateDecode /ASCII85Decode] >>"),
            TEXT
        );
        let hex: String = TEXT.iter().map(|b| format!("{b:02x} ")).collect();
        assert_eq!(
            decode(
                format!("{hex}>").as_bytes(),
                "<< /Filter /ASCIIHexDecode >>"
            ),
            TEXT
        );
        assert_eq!(decode(b"41 5>", "<< /Filter /AHx >>"), b"\x41\x50");
    }

    #[test]
    fn raw_deflate_without_a_zlib_header() {
        let mut e = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(TEXT).expect("deflate");
        let raw = e.finish().expect("deflate");
        assert_eq!(decode(&raw, "<< /Filter /FlateDecode >>"), TEXT);
    }

    #[test]
    fn damaged_flate_keeps_its_start() {
        let long: Vec<u8> = TEXT.iter().copied().cycle().take(100_000).collect();
        let mut raw = zlib(&long);
        let cut = raw.len() / 2;
        raw.truncate(cut);
        let out = decode(&raw, "<< /Filter /FlateDecode >>");
        assert!(out.len() > 1000 && long.starts_with(&out));
    }

    #[test]
    fn run_length() {
        let raw = [2, b'a', b'b', b'c', 254, b'x', 0, b'!', 128, b'z'];
        assert_eq!(decode(&raw, "<< /Filter /RunLengthDecode >>"), b"abcxxx!");
    }

    fn lzw(data: &[u8], early: bool) -> Vec<u8> {
        let mut encoder = if early {
            weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
        } else {
            weezl::encode::Encoder::new(weezl::BitOrder::Msb, 8)
        };
        encoder.encode(data).expect("lzw")
    }

    #[test]
    fn lzw_with_and_without_early_change() {
        let long: Vec<u8> = TEXT.iter().copied().cycle().take(50_000).collect();
        assert_eq!(decode(&lzw(&long, true), "<< /Filter /LZWDecode >>"), long);
        assert_eq!(
            decode(
                &lzw(&long, false),
                "<< /Filter /LZWDecode /DecodeParms << /EarlyChange 0 >> >>"
            ),
            long
        );
        // The example of the PDF reference (7.4.4.2), early change.
        let example = [0x80, 0x0B, 0x60, 0x50, 0x22, 0x0C, 0x0C, 0x85, 0x01];
        assert_eq!(
            decode(&example, "<< /Filter /LZW >>"),
            b"\x2D\x2D\x2D\x2D\x2D\x41\x2D\x2D\x2D\x42"
        );
    }

    #[test]
    fn png_predictors_row_by_row() {
        // Three rows of 4 bytes, each with a different PNG filter type.
        let rows: [[u8; 4]; 3] = [[10, 20, 30, 40], [11, 22, 33, 44], [1, 2, 3, 4]];
        let mut encoded = Vec::new();
        // Sub (1): each minus the byte to its left.
        encoded.extend_from_slice(&[1, 10, 10, 10, 10]);
        // Up (2): each minus the byte above.
        encoded.extend_from_slice(&[2, 1, 2, 3, 4]);
        // Paeth (4) with row above [11,22,33,44]: first byte's predictor is b.
        let mut paeth_row = vec![4u8];
        for i in 0..4 {
            let a = if i > 0 { rows[2][i - 1] } else { 0 };
            let b = rows[1][i];
            let c = if i > 0 { rows[1][i - 1] } else { 0 };
            paeth_row.push(rows[2][i].wrapping_sub(paeth(a, b, c)));
        }
        encoded.extend_from_slice(&paeth_row);
        let dict = "<< /Filter /FlateDecode /DecodeParms << /Predictor 12 /Columns 4 >> >>";
        assert_eq!(decode(&zlib(&encoded), dict), rows.concat());
        // As an array of parameters, null for the filter without any.
        let dict = "<< /Filter [/ASCIIHexDecode /FlateDecode] /DecodeParms [null << /Predictor 15 /Columns 4 >>] >>";
        let hex: String = zlib(&encoded).iter().map(|b| format!("{b:02X}")).collect();
        assert_eq!(decode(hex.as_bytes(), dict), rows.concat());
    }

    #[test]
    fn tiff_predictor() {
        let dict =
            "<< /Filter /FlateDecode /DecodeParms << /Predictor 2 /Colors 3 /Columns 2 >> >>";
        let encoded = [10, 20, 30, 1, 2, 3, 5, 5, 5, 250, 10, 0];
        assert_eq!(
            decode(&zlib(&encoded), dict),
            [10, 20, 30, 11, 22, 33, 5, 5, 5, 255, 15, 5]
        );
    }

    #[test]
    fn image_codecs_stop_the_chain() {
        let mut lexer =
            super::super::syntax::Lexer::new(b"<< /Filter [/FlateDecode /DCTDecode] >>", 0);
        let dict = lexer.object(0).expect("dict");
        let filters = filters_of(&dict, &|o| o.clone());
        let raw = zlib(b"\xFF\xD8jpeg");
        let mut chain = chain(&raw, &filters, 100, 1 << 20);
        assert_eq!(chain.stopped_at, Some(Filter::Image("DCTDecode".into())));
        let mut out = Vec::new();
        chain.reader.read_to_end(&mut out).expect("read");
        assert_eq!(out, b"\xFF\xD8jpeg");
    }

    #[test]
    fn the_ratio_limit_cuts_a_bomb() {
        let zeros = vec![0u8; 8 << 20];
        let raw = zlib(&zeros);
        let mut lexer = super::super::syntax::Lexer::new(b"<< /Filter /FlateDecode >>", 0);
        let dict = lexer.object(0).expect("dict");
        let filters = filters_of(&dict, &|o| o.clone());
        let mut chain = chain(&raw, &filters, 100, 1 << 20);
        let mut out = Vec::new();
        let err = chain.reader.read_to_end(&mut out).expect_err("bomb");
        assert!(is_limit(&err));
    }
}
