//! Fonts: how a string's bytes become character codes, the codes text, and
//! how wide each glyph is.
//!
//! Text comes from, in order: the font's `/ToUnicode` CMap; for simple
//! fonts, the encoding (`/BaseEncoding` Standard, WinAnsi, MacRoman,
//! MacExpert or Symbol, with `/Differences` glyph names looked up in the
//! Adobe Glyph List); for Type 0 fonts without a map, codes that are
//! Unicode (`Uni…-UCS2`/`UTF16` CMaps) or the embedded TrueType font's own
//! `cmap` table read backwards (glyph → character, through
//! `/CIDToGIDMap`). A code none of these maps gives no text (counted: a
//! page of such glyphs is reported, not read as empty).
//!
//! Widths: `/Widths` (simple and Type 3 fonts, in glyph space scaled by
//! `/FontMatrix`), `/W` and `/DW` (CID fonts), the standard 14 fonts'
//! metrics when a PDF names one without widths.

use super::document::Document;
use super::syntax::{Lexer, Obj};
use super::tables;
use std::collections::HashMap;

/// Most codes mapped per font (two-byte codes: 65536).
const MAX_CMAP_ENTRIES: usize = 1 << 16;
/// Bytes of a ToUnicode CMap or embedded CMap read.
const MAX_CMAP_BYTES: usize = 4 << 20;
/// Bytes of an embedded TrueType font read for its `cmap` table.
const MAX_FONT_FILE: usize = 32 << 20;

#[derive(Clone, Debug, PartialEq)]
enum Widths {
    /// Simple fonts: `first` code and widths from there.
    Simple {
        first: u32,
        widths: Vec<f32>,
        missing: f32,
    },
    /// CID fonts: per CID, and the default.
    Cid {
        map: HashMap<u32, f32>,
        default: f32,
    },
    /// A standard 14 font named without widths: by character.
    Standard(&'static [(u16, u16)]),
    Fixed(f32),
}

/// What a code means.
#[derive(Clone, Debug, PartialEq)]
pub(super) enum Text<'a> {
    Str(&'a str),
    Char(char),
    None,
}

#[derive(Debug)]
pub(super) struct Font {
    composite: bool,
    /// Code lengths: (bytes, low, high) ranges; empty: one byte (simple)
    /// or two (composite).
    codespace: Vec<(u8, u32, u32)>,
    /// From `/ToUnicode`, or the encoding (simple fonts).
    map: HashMap<u32, Box<str>>,
    /// Composite fonts without a map entry: code → character.
    fallback: Fallback,
    widths: Widths,
    /// Glyph space → text space (1/1000, or a Type 3 font's matrix).
    pub scale_x: f64,
    /// The em in text space units per unit font size: 1, or a Type 3
    /// font's glyph box height.
    pub scale_y: f64,
    /// The space glyph's width in text space (per unit font size), when
    /// the font has one.
    pub space_width: Option<f64>,
}

#[derive(Debug, Default)]
enum Fallback {
    #[default]
    None,
    /// Simple fonts: the byte as WinAnsi (a font we know nothing of).
    WinAnsi,
    /// Codes are UTF-16 code units (`Uni…-UCS2-H`, `Uni…-UTF16-H`).
    Unicode,
    /// CID → character from the embedded font's `cmap`.
    Cids(HashMap<u32, char>),
}

impl Font {
    /// A font nothing is known of: WinAnsi bytes, 0.5 em wide.
    pub fn unknown() -> Font {
        Font {
            composite: false,
            codespace: Vec::new(),
            map: HashMap::new(),
            fallback: Fallback::WinAnsi,
            widths: Widths::Fixed(500.0),
            scale_x: 0.001,
            scale_y: 1.0,
            space_width: None,
        }
    }

    pub fn load(doc: &Document, font: &Obj) -> Font {
        let subtype = match font.get(b"Subtype") {
            Some(Obj::Name(n)) => n.clone(),
            _ => Vec::new(),
        };
        let base = match doc.entry(font, b"BaseFont").clone() {
            Obj::Name(n) => String::from_utf8_lossy(&n).into_owned(),
            _ => String::new(),
        };
        let mut f = if subtype == b"Type0" {
            composite(doc, font)
        } else {
            simple(doc, font, &subtype, &base)
        };
        if let Some(Obj::Ref(n)) = font.get(b"ToUnicode") {
            if let Ok(Some((bytes, _))) = doc.read_object(*n, MAX_CMAP_BYTES) {
                let cmap = parse_cmap(&bytes);
                if f.composite && !cmap.codespace.is_empty() && f.codespace.is_empty() {
                    f.codespace = cmap.codespace;
                }
                // The map wins over the encoding, code by code.
                f.map.extend(cmap.map);
            }
        }
        f.space_width = f.find_space_width();
        f
    }

    /// Entries held (map, widths, fallback), for the cache's bound.
    pub fn entries(&self) -> usize {
        let widths = match &self.widths {
            Widths::Simple { widths, .. } => widths.len(),
            Widths::Cid { map, .. } => map.len(),
            _ => 0,
        };
        let fallback = match &self.fallback {
            Fallback::Cids(map) => map.len(),
            _ => 0,
        };
        1 + self.map.len() + widths + fallback
    }

    /// Splits `bytes` into codes: (code, its bytes' length) each.
    pub fn codes<'b>(&'b self, bytes: &'b [u8]) -> impl Iterator<Item = (u32, usize)> + 'b {
        let mut at = 0;
        std::iter::from_fn(move || {
            if at >= bytes.len() {
                return None;
            }
            let len = self.code_len(&bytes[at..]);
            let code = bytes[at..at + len]
                .iter()
                .fold(0u32, |v, &b| v << 8 | u32::from(b));
            at += len;
            Some((code, len))
        })
    }

    fn code_len(&self, rest: &[u8]) -> usize {
        if self.codespace.is_empty() {
            return if self.composite { 2.min(rest.len()) } else { 1 };
        }
        for len in 1..=4usize {
            if len > rest.len() {
                break;
            }
            let value = rest[..len].iter().fold(0u32, |v, &b| v << 8 | u32::from(b));
            if self
                .codespace
                .iter()
                .any(|&(l, low, high)| usize::from(l) == len && (low..=high).contains(&value))
            {
                return len;
            }
        }
        // No range matches: the shortest length the ranges use.
        let shortest = self
            .codespace
            .iter()
            .map(|r| usize::from(r.0))
            .min()
            .unwrap_or(1);
        shortest.clamp(1, rest.len())
    }

    pub fn text(&self, code: u32) -> Text<'_> {
        if let Some(s) = self.map.get(&code) {
            return Text::Str(s);
        }
        match &self.fallback {
            Fallback::None => Text::None,
            Fallback::WinAnsi => match code {
                0..=0x1F => Text::Char(' '),
                0x20..=0xFF => {
                    char_of(tables::WIN_ANSI[code as usize]).map_or(Text::None, Text::Char)
                }
                _ => Text::None,
            },
            Fallback::Unicode => char::from_u32(code).map_or(Text::None, Text::Char),
            Fallback::Cids(map) => map.get(&code).map_or(Text::None, |&c| Text::Char(c)),
        }
    }

    /// Whether codes are one byte (word spacing applies to code 32 only
    /// then).
    pub fn single_byte(&self) -> bool {
        !self.composite && self.codespace.iter().all(|r| r.0 == 1)
    }

    /// Width of `code` in text space per unit font size.
    pub fn width(&self, code: u32, text: &Text) -> f64 {
        let glyph = match &self.widths {
            Widths::Simple {
                first,
                widths,
                missing,
            } => code
                .checked_sub(*first)
                .and_then(|i| widths.get(i as usize))
                .copied()
                .unwrap_or(*missing),
            Widths::Cid { map, default } => map.get(&code).copied().unwrap_or(*default),
            Widths::Standard(table) => {
                let c = match text {
                    Text::Char(c) => Some(*c),
                    Text::Str(s) => s.chars().next(),
                    Text::None => None,
                };
                c.and_then(|c| u16::try_from(u32::from(c)).ok())
                    .and_then(|c| table.binary_search_by_key(&c, |e| e.0).ok())
                    .map_or(500.0, |i| f32::from(table[i].1))
            }
            Widths::Fixed(w) => *w,
        };
        f64::from(glyph) * self.scale_x
    }

    fn find_space_width(&self) -> Option<f64> {
        let code = self
            .map
            .iter()
            .filter(|(_, s)| &***s == " ")
            .map(|(c, _)| *c)
            .min()
            .or_else(|| matches!(self.fallback, Fallback::WinAnsi).then_some(32))?;
        let w = self.width(code, &Text::Char(' '));
        (w > 0.0).then_some(w)
    }
}

fn char_of(u: u16) -> Option<char> {
    (u != 0).then(|| char::from_u32(u32::from(u))).flatten()
}

fn number(doc: &Document, obj: Option<&Obj>) -> Option<f64> {
    obj.and_then(|o| doc.resolve(o).as_num())
        .filter(|n| n.is_finite())
}

fn simple(doc: &Document, font: &Obj, subtype: &[u8], base: &str) -> Font {
    let type3 = subtype == b"Type3";
    let descriptor = doc.owned(font.get(b"FontDescriptor").unwrap_or(&Obj::Null));
    let standard = standard_font(base);
    let symbolic_name = base.contains("Symbol") || base.contains("Dingbats");
    // The base encoding, then the differences.
    let encoding = doc.owned(font.get(b"Encoding").unwrap_or(&Obj::Null));
    let base_name = match &encoding {
        Obj::Name(n) => Some(n.clone()),
        Obj::Dict(_) => match doc.entry(&encoding, b"BaseEncoding").clone() {
            Obj::Name(n) => Some(n),
            _ => None,
        },
        _ => None,
    };
    let table: &[u16; 256] = match base_name.as_deref() {
        Some(b"WinAnsiEncoding") => &tables::WIN_ANSI,
        Some(b"MacRomanEncoding") => &tables::MAC_ROMAN,
        Some(b"MacExpertEncoding") => &tables::MAC_EXPERT,
        Some(b"StandardEncoding") => &tables::STANDARD,
        _ if base.contains("Symbol") => &tables::SYMBOL,
        _ if subtype == b"TrueType" => &tables::WIN_ANSI,
        _ => &tables::STANDARD,
    };
    let mut map: HashMap<u32, Box<str>> = HashMap::new();
    let known_encoding = base_name.is_some() || !symbolic_name;
    if known_encoding && !type3 {
        for (code, &u) in table.iter().enumerate() {
            if let Some(c) = char_of(u) {
                map.insert(code as u32, c.to_string().into());
            }
        }
    }
    let mut differences = false;
    if let Obj::Array(items) = &*doc.entry(&encoding, b"Differences") {
        let mut code = 0u32;
        for item in items {
            match doc.resolve(item).clone() {
                Obj::Num(n) if (0.0..256.0).contains(&n) => code = n as u32,
                Obj::Name(name) => {
                    if code < 256 {
                        match glyph_text(&name) {
                            Some(text) => map.insert(code, text.into()),
                            None => map.remove(&code),
                        };
                        differences = true;
                    }
                    code += 1;
                }
                _ => {}
            }
        }
    }
    // A symbolic TrueType font without an encoding: codes go through its
    // own cmap.
    if !differences && base_name.is_none() && subtype == b"TrueType" {
        if let Some(cmap) = embedded_cmap(doc, &descriptor) {
            let by_code = cmap.simple_codes();
            if !by_code.is_empty() {
                map = by_code
                    .into_iter()
                    .map(|(code, c)| (code, c.to_string().into()))
                    .collect();
            }
        }
    }
    let (scale_x, scale_y) = if type3 {
        let m = match doc.entry(font, b"FontMatrix").clone() {
            Obj::Array(items) => items
                .iter()
                .filter_map(|i| doc.resolve(i).as_num())
                .collect(),
            _ => Vec::new(),
        };
        if m.len() == 6 && m[0].is_finite() && m[3].is_finite() && m[0] != 0.0 {
            // Text space has one unit per em for the fonts whose glyphs
            // fill it; a Type 3 font's glyphs may not (bitmap fonts drawn
            // at size 1): their box's height in text space is the em then.
            let bbox: Vec<f64> = match doc.entry(font, b"FontBBox").clone() {
                Obj::Array(items) => items
                    .iter()
                    .filter_map(|i| doc.resolve(i).as_num())
                    .collect(),
                _ => Vec::new(),
            };
            let height = match bbox.as_slice() {
                [_, y0, _, y1] => ((y1 - y0) * m[3]).abs(),
                _ => 0.0,
            };
            let em = if height.is_finite() && height > 0.0 {
                height.clamp(0.05, 20.0)
            } else {
                1.0
            };
            (m[0], em)
        } else {
            (0.001, 1.0)
        }
    } else {
        (0.001, 1.0)
    };
    let missing = number(doc, descriptor.get(b"MissingWidth")).unwrap_or(0.0) as f32;
    let widths = match &*doc.entry(font, b"Widths") {
        Obj::Array(items) => Widths::Simple {
            first: number(doc, font.get(b"FirstChar"))
                .unwrap_or(0.0)
                .clamp(0.0, 255.0) as u32,
            widths: items
                .iter()
                .take(256)
                .map(|i| doc.resolve(i).as_num().unwrap_or(0.0) as f32)
                .collect(),
            missing: if missing > 0.0 {
                missing
            } else if type3 {
                0.0
            } else {
                500.0
            },
        },
        _ => match standard {
            Some(table) => Widths::Standard(table),
            None if base.contains("Courier") => Widths::Fixed(600.0),
            None => Widths::Fixed(if missing > 0.0 { missing } else { 500.0 }),
        },
    };
    Font {
        composite: false,
        codespace: Vec::new(),
        map,
        fallback: if type3 || differences {
            Fallback::None
        } else {
            Fallback::WinAnsi
        },
        widths,
        scale_x,
        scale_y,
        space_width: None,
    }
}

/// The standard 14 font a base name stands for (subset prefix and common
/// aliases allowed), by its widths.
fn standard_font(base: &str) -> Option<&'static [(u16, u16)]> {
    let name = base.rsplit('+').next().unwrap_or(base).to_ascii_lowercase();
    let bold = name.contains("bold") || name.contains("black") || name.contains("heavy");
    let italic = name.contains("italic") || name.contains("oblique");
    if name.contains("courier") {
        return None;
    }
    if name.contains("symbol") {
        return Some(tables::SYMBOL_WIDTHS);
    }
    if name.contains("times") || name.contains("serif") && !name.contains("sans") {
        return Some(match (bold, italic) {
            (false, false) => tables::TIMES_ROMAN_WIDTHS,
            (true, false) => tables::TIMES_BOLD_WIDTHS,
            (false, true) => tables::TIMES_ITALIC_WIDTHS,
            (true, true) => tables::TIMES_BOLDITALIC_WIDTHS,
        });
    }
    if name.contains("helvetica") || name.contains("arial") || name.is_empty() {
        return Some(if bold {
            tables::HELVETICA_BOLD_WIDTHS
        } else {
            tables::HELVETICA_WIDTHS
        });
    }
    None
}

fn composite(doc: &Document, font: &Obj) -> Font {
    let encoding = doc.owned(font.get(b"Encoding").unwrap_or(&Obj::Null));
    let mut codespace = Vec::new();
    let mut fallback = Fallback::None;
    match &encoding {
        Obj::Name(n) => {
            let name = String::from_utf8_lossy(n);
            if name.starts_with("Uni") && (name.contains("UCS2") || name.contains("UTF16")) {
                fallback = Fallback::Unicode;
            }
        }
        _ => {
            if let Some(Obj::Ref(n)) = font.get(b"Encoding") {
                if let Ok(Some((bytes, _))) = doc.read_object(*n, MAX_CMAP_BYTES) {
                    codespace = parse_cmap(&bytes).codespace;
                }
            }
        }
    }
    let descendant = match &*doc.entry(font, b"DescendantFonts") {
        Obj::Array(items) => items.first().map(|d| doc.owned(d)).unwrap_or(Obj::Null),
        _ => Obj::Null,
    };
    let descriptor = doc.owned(descendant.get(b"FontDescriptor").unwrap_or(&Obj::Null));
    if matches!(fallback, Fallback::None) {
        if let Some(cmap) = embedded_cmap(doc, &descriptor) {
            let gid_to_char = cmap.by_glyph();
            let cids = match descendant.get(b"CIDToGIDMap") {
                Some(Obj::Ref(n)) => match doc.read_object(*n, 1 << 17) {
                    Ok(Some((bytes, _))) => bytes
                        .chunks_exact(2)
                        .enumerate()
                        .filter_map(|(cid, g)| {
                            let gid = u16::from_be_bytes([g[0], g[1]]);
                            gid_to_char.get(&gid).map(|&c| (cid as u32, c))
                        })
                        .collect(),
                    _ => HashMap::new(),
                },
                _ => gid_to_char
                    .iter()
                    .map(|(&g, &c)| (u32::from(g), c))
                    .collect(),
            };
            if !cids.is_empty() {
                fallback = Fallback::Cids(cids);
            }
        }
    }
    let default = number(doc, descendant.get(b"DW")).unwrap_or(1000.0) as f32;
    let mut map = HashMap::new();
    if let Obj::Array(items) = &*doc.entry(&descendant, b"W") {
        let items: Vec<Obj> = items.iter().map(|i| doc.owned(i)).collect();
        let mut i = 0;
        while i + 1 < items.len() && map.len() < MAX_CMAP_ENTRIES {
            let Some(first) = items[i].as_num().filter(|n| *n >= 0.0) else {
                i += 1;
                continue;
            };
            match &items[i + 1] {
                Obj::Array(ws) => {
                    for (k, w) in ws.iter().enumerate().take(MAX_CMAP_ENTRIES) {
                        map.insert(first as u32 + k as u32, w.as_num().unwrap_or(0.0) as f32);
                    }
                    i += 2;
                }
                Obj::Num(last) if i + 2 < items.len() => {
                    let w = items[i + 2].as_num().unwrap_or(0.0) as f32;
                    let (first, last) = (first as u32, (*last).max(0.0) as u32);
                    for cid in first..=last.min(first.saturating_add(MAX_CMAP_ENTRIES as u32)) {
                        map.insert(cid, w);
                    }
                    i += 3;
                }
                _ => i += 1,
            }
        }
    }
    Font {
        composite: true,
        codespace,
        map: HashMap::new(),
        fallback,
        widths: Widths::Cid { map, default },
        scale_x: 0.001,
        scale_y: 1.0,
        space_width: None,
    }
}

/// The text of a glyph name: the Adobe Glyph List, `uniXXXX`, `uXXXX[XX]`,
/// suffixes (`a.sc`) and ligatures (`f_i`).
pub(super) fn glyph_text(name: &[u8]) -> Option<String> {
    let name = std::str::from_utf8(name).ok()?;
    let base = name.split('.').next().unwrap_or(name);
    if base.is_empty() {
        return None;
    }
    if let Ok(i) = tables::GLYPH_NAMES.binary_search_by_key(&base, |e| e.0) {
        return char_of(tables::GLYPH_NAMES[i].1).map(String::from);
    }
    if base.contains('_') {
        let parts: Option<String> = base.split('_').map(|p| glyph_text(p.as_bytes())).collect();
        return parts;
    }
    let hex = |s: &str| u32::from_str_radix(s, 16).ok().and_then(char::from_u32);
    if let Some(rest) = base.strip_prefix("uni") {
        if rest.len() >= 4 && rest.len() % 4 == 0 && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return (0..rest.len() / 4)
                .map(|i| hex(&rest[4 * i..4 * i + 4]))
                .collect();
        }
    }
    if let Some(rest) = base.strip_prefix('u') {
        if (4..=6).contains(&rest.len()) && rest.bytes().all(|b| b.is_ascii_hexdigit()) {
            return hex(rest).map(String::from);
        }
    }
    None
}

/// A parsed CMap: its code ranges and code → text map.
#[derive(Default)]
pub(super) struct CMap {
    pub codespace: Vec<(u8, u32, u32)>,
    pub map: HashMap<u32, Box<str>>,
}

/// Parses a CMap (`codespacerange`, `bfchar`, `bfrange`).
pub(super) fn parse_cmap(data: &[u8]) -> CMap {
    let mut cmap = CMap::default();
    let mut lexer = Lexer::new(data, 0);
    let mut operands: Vec<Obj> = Vec::new();
    let mut in_section = false;
    while let Some(token) = lexer.object(0) {
        match token {
            Obj::Op(op) => {
                match op.as_slice() {
                    b"begincodespacerange" | b"beginbfchar" | b"beginbfrange" => in_section = true,
                    b"endcodespacerange" => {
                        for pair in operands.chunks(2) {
                            if let [Obj::Str(low), Obj::Str(high)] = pair {
                                if (1..=4).contains(&low.len()) && cmap.codespace.len() < 256 {
                                    cmap.codespace.push((
                                        low.len() as u8,
                                        code_value(low),
                                        code_value(high),
                                    ));
                                }
                            }
                        }
                        in_section = false;
                    }
                    b"endbfchar" => {
                        for pair in operands.chunks(2) {
                            if let [Obj::Str(code), Obj::Str(text)] = pair {
                                cmap.map.insert(code_value(code), utf16_text(text).into());
                            }
                        }
                        in_section = false;
                    }
                    b"endbfrange" => {
                        for triple in operands.chunks(3) {
                            add_range(&mut cmap, triple);
                        }
                        in_section = false;
                    }
                    _ => {}
                }
                operands.clear();
            }
            // At most 100 entries per section, as the CMap format allows.
            other if in_section && operands.len() < 3 * 100 => operands.push(other),
            _ => {}
        }
        if cmap.map.len() > MAX_CMAP_ENTRIES {
            break;
        }
    }
    cmap
}

fn code_value(code: &[u8]) -> u32 {
    code.iter()
        .take(4)
        .fold(0u32, |v, &b| v << 8 | u32::from(b))
}

fn utf16_units(bytes: &[u8]) -> Vec<u16> {
    bytes
        .chunks(2)
        .map(|c| match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from(*a),
            _ => 0,
        })
        .collect()
}

fn utf16_text(bytes: &[u8]) -> String {
    String::from_utf16_lossy(&utf16_units(bytes))
}

fn add_range(cmap: &mut CMap, triple: &[Obj]) {
    let [Obj::Str(low), Obj::Str(high), target] = triple else {
        return;
    };
    let (low, high) = (code_value(low), code_value(high));
    if high < low || high - low > 0xFFFF {
        return;
    }
    match target {
        Obj::Str(start) => {
            let mut units = utf16_units(start);
            for code in low..=high {
                if cmap.map.len() > MAX_CMAP_ENTRIES {
                    return;
                }
                cmap.map
                    .insert(code, String::from_utf16_lossy(&units).into());
                if let Some(last) = units.last_mut() {
                    *last = last.wrapping_add(1);
                }
            }
        }
        Obj::Array(items) => {
            for (code, item) in (low..=high).zip(items) {
                if let Obj::Str(text) = item {
                    cmap.map.insert(code, utf16_text(text).into());
                }
            }
        }
        _ => {}
    }
}

/// The `cmap` table of an embedded TrueType/OpenType font.
struct TrueTypeCmap {
    /// Unicode → glyph.
    unicode: HashMap<u32, u16>,
    /// Symbol (3,0) or Mac Roman (1,0): code → glyph.
    codes: HashMap<u32, u16>,
}

impl TrueTypeCmap {
    /// Glyph → character, the lowest character where several share one.
    fn by_glyph(&self) -> HashMap<u16, char> {
        let mut out: HashMap<u16, char> = HashMap::new();
        for (&u, &g) in &self.unicode {
            if let Some(c) = char::from_u32(u) {
                out.entry(g).and_modify(|e| *e = (*e).min(c)).or_insert(c);
            }
        }
        out
    }

    /// Simple-font codes (one byte) → character, through the glyphs.
    fn simple_codes(&self) -> HashMap<u32, char> {
        let glyphs = self.by_glyph();
        let mut out = HashMap::new();
        for (&code, g) in &self.codes {
            let byte = code & 0xFF;
            if let Some(&c) = glyphs.get(g) {
                out.insert(byte, c);
            }
        }
        out
    }
}

fn embedded_cmap(doc: &Document, descriptor: &Obj) -> Option<TrueTypeCmap> {
    let Some(Obj::Ref(n)) = descriptor.get(b"FontFile2") else {
        return None;
    };
    let (bytes, _) = doc.read_object(*n, MAX_FONT_FILE).ok()??;
    parse_truetype_cmap(&bytes)
}

fn parse_truetype_cmap(font: &[u8]) -> Option<TrueTypeCmap> {
    let u16_at = |at: usize| {
        font.get(at..at + 2)
            .map(|b| u16::from_be_bytes([b[0], b[1]]))
    };
    let u32_at = |at: usize| {
        font.get(at..at + 4)
            .map(|b| u32::from_be_bytes([b[0], b[1], b[2], b[3]]))
    };
    let tables = usize::from(u16_at(4)?);
    let cmap = (0..tables.min(256)).find_map(|i| {
        let rec = 12 + 16 * i;
        (font.get(rec..rec + 4)? == b"cmap").then(|| u32_at(rec + 8))?
    })? as usize;
    let subtables = usize::from(u16_at(cmap + 2)?);
    let mut out = TrueTypeCmap {
        unicode: HashMap::new(),
        codes: HashMap::new(),
    };
    for i in 0..subtables.min(64) {
        let rec = cmap + 4 + 8 * i;
        let (platform, encoding) = (u16_at(rec)?, u16_at(rec + 2)?);
        let at = cmap + u32_at(rec + 4)? as usize;
        let unicode = platform == 0 || (platform == 3 && (encoding == 1 || encoding == 10));
        let symbol = encoding == 0 && (platform == 3 || platform == 1);
        if !unicode && !symbol {
            continue;
        }
        let target = if unicode {
            &mut out.unicode
        } else {
            &mut out.codes
        };
        match u16_at(at)? {
            0 => {
                for code in 0..256usize {
                    let g = *font.get(at + 6 + code)?;
                    if g != 0 {
                        target.insert(code as u32, u16::from(g));
                    }
                }
            }
            4 => {
                let segs = usize::from(u16_at(at + 6)? / 2);
                let ends = at + 14;
                let starts = ends + 2 * segs + 2;
                let deltas = starts + 2 * segs;
                let offsets = deltas + 2 * segs;
                for s in 0..segs {
                    let (end, start) = (u16_at(ends + 2 * s)?, u16_at(starts + 2 * s)?);
                    let delta = u16_at(deltas + 2 * s)?;
                    let range_offset = u16_at(offsets + 2 * s)?;
                    if start > end || target.len() > MAX_CMAP_ENTRIES {
                        continue;
                    }
                    for c in start..=end {
                        let g = if range_offset == 0 {
                            c.wrapping_add(delta)
                        } else {
                            let at = offsets
                                + 2 * s
                                + usize::from(range_offset)
                                + 2 * usize::from(c - start);
                            match u16_at(at) {
                                Some(0) | None => 0,
                                Some(g) => g.wrapping_add(delta),
                            }
                        };
                        if g != 0 && c != 0xFFFF {
                            target.insert(u32::from(c), g);
                        }
                    }
                }
            }
            12 => {
                let groups = u32_at(at + 12)? as usize;
                for k in 0..groups.min(1 << 16) {
                    let rec = at + 16 + 12 * k;
                    let (start, end, glyph) = (u32_at(rec)?, u32_at(rec + 4)?, u32_at(rec + 8)?);
                    if start > end || end - start > 0x10000 {
                        continue;
                    }
                    for c in start..=end {
                        if target.len() > MAX_CMAP_ENTRIES {
                            break;
                        }
                        if let Ok(g) = u16::try_from(glyph + (c - start)) {
                            target.insert(c, g);
                        }
                    }
                }
            }
            _ => {}
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glyph_names() {
        assert_eq!(glyph_text(b"A").as_deref(), Some("A"));
        assert_eq!(glyph_text(b"space").as_deref(), Some(" "));
        assert_eq!(glyph_text(b"hyphen").as_deref(), Some("-"));
        assert_eq!(glyph_text(b"uni0041").as_deref(), Some("A"));
        assert_eq!(glyph_text(b"uni00410042").as_deref(), Some("AB"));
        assert_eq!(glyph_text(b"u1F600").as_deref(), Some("\u{1F600}"));
        assert_eq!(glyph_text(b"a.sc").as_deref(), Some("a"));
        assert_eq!(glyph_text(b"f_i").as_deref(), Some("fi"));
        assert_eq!(glyph_text(b"fi").as_deref(), Some("\u{FB01}"));
        assert_eq!(glyph_text(b"g123"), None);
    }

    #[test]
    fn cmap_ranges_and_codespace() {
        let cmap = parse_cmap(
            b"begincmap 2 begincodespacerange <00> <80> <8140> <FFFF> endcodespacerange\n\
              1 beginbfchar <01> <0053> endbfchar 1 beginbfrange <8140> <8142> <0030> endbfrange endcmap",
        );
        assert_eq!(cmap.codespace, vec![(1, 0, 0x80), (2, 0x8140, 0xFFFF)]);
        assert_eq!(cmap.map.get(&1).map(|s| &**s), Some("S"));
        assert_eq!(cmap.map.get(&0x8142).map(|s| &**s), Some("2"));
        let font = Font {
            composite: true,
            codespace: cmap.codespace,
            ..Font::unknown()
        };
        let codes: Vec<(u32, usize)> = font.codes(b"\x01\x81\x41\x02").collect();
        assert_eq!(codes, vec![(1, 1), (0x8141, 2), (2, 1)]);
    }
}
