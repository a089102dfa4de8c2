//! Content streams: the text and graphics state operators that place
//! glyphs, run over a page's streams as they are decoded (a window of at
//! most [`MAX_WINDOW`] bytes, whatever the stream's size), and the images a
//! page draws.

use super::document::Document;
use super::fonts::{Font, Text};
use super::layout::Glyph;
use super::syntax::{is_delim, is_white, Lexer, Obj};
use crate::error::ExtractError;
use std::collections::HashMap;
use std::io::Read;
use std::rc::Rc;

/// Decoded content held at once; a single token longer than this (a
/// string, an array) is cut.
const MAX_WINDOW: usize = 4 << 20;
/// Bytes decoded per read into the window.
const READ_STEP: usize = 64 << 10;
/// Glyphs kept per page; a page drawing more is cut (reason `limit`).
pub(super) const MAX_PAGE_GLYPHS: usize = 1 << 20;
/// Form XObjects run per page (a form drawn 1000 times from 1000 forms
/// must not run a million times).
const MAX_FORMS_PER_PAGE: usize = 4096;
/// Operands kept on the stack (no operator takes more).
const MAX_OPERANDS: usize = 64;
/// Saved graphics states (`q`) kept.
const MAX_SAVED_STATES: usize = 256;
/// Images noted per page, and the bytes of one inline image kept.
const MAX_PAGE_IMAGES: usize = 256;
const MAX_INLINE_IMAGE: usize = 1 << 20;
/// Annotations drawn per page.
const MAX_ANNOTATIONS: usize = 4096;
/// Bytes of one form field's value kept.
const MAX_FIELD_VALUE: usize = 64 << 10;
/// Fonts kept per file, counted in map and width entries (about 40 bytes
/// each); past it the cache is emptied.
const MAX_FONT_ENTRIES: usize = 1 << 19;

type Matrix = [f64; 6];
const IDENTITY: Matrix = [1.0, 0.0, 0.0, 1.0, 0.0, 0.0];

/// `a` then `b` (row vectors: a point goes through `a` first).
fn mul(a: &Matrix, b: &Matrix) -> Matrix {
    [
        a[0] * b[0] + a[1] * b[2],
        a[0] * b[1] + a[1] * b[3],
        a[2] * b[0] + a[3] * b[2],
        a[2] * b[1] + a[3] * b[3],
        a[4] * b[0] + a[5] * b[2] + b[4],
        a[4] * b[1] + a[5] * b[3] + b[5],
    ]
}

fn matrix_of(operands: &[Obj]) -> Option<Matrix> {
    let n: Vec<f64> = operands.iter().filter_map(Obj::as_num).collect();
    if n.len() < 6 || n.iter().any(|v| !v.is_finite()) {
        return None;
    }
    let k = n.len() - 6;
    Some([n[k], n[k + 1], n[k + 2], n[k + 3], n[k + 4], n[k + 5]])
}

#[derive(Clone)]
struct GraphicsState {
    ctm: Matrix,
    font: Option<Rc<Font>>,
    size: f64,
    char_spacing: f64,
    word_spacing: f64,
    /// `Tz` / 100.
    scale: f64,
    leading: f64,
    rise: f64,
}

impl GraphicsState {
    fn new(ctm: Matrix) -> Self {
        GraphicsState {
            ctm,
            font: None,
            size: 0.0,
            char_spacing: 0.0,
            word_spacing: 0.0,
            scale: 1.0,
            leading: 0.0,
            rise: 0.0,
        }
    }
}

/// An image a page draws: an image XObject or inline image, as found.
pub(super) struct DrawnImage {
    /// The XObject's number, or `None` for an inline image.
    pub object: Option<u32>,
    /// The XObject's name in the resources that drew it (`Im1`); `None`
    /// for an inline image.
    pub name: Option<Vec<u8>>,
    /// Its dictionary (inline images: the abbreviated keys as written).
    pub dict: Obj,
    /// Inline image data (up to [`MAX_INLINE_IMAGE`]; `true`: cut).
    pub inline: Option<(Vec<u8>, bool)>,
    /// The image's unit square's area on the page (user space units²).
    pub area: f64,
}

/// What one page's content gave.
#[derive(Default)]
pub(super) struct PageRun {
    pub glyphs: Vec<Glyph>,
    pub mapped: usize,
    pub unmapped: usize,
    pub images: Vec<DrawnImage>,
    /// Content streams whose filters are not supported.
    pub unsupported: usize,
    /// Why the page was cut short, if it was.
    pub cut: Option<String>,
}

/// Fonts shared by all the pages of a file, by object number.
#[derive(Default)]
pub(super) struct FontCache {
    fonts: HashMap<u32, Rc<Font>>,
    entries: usize,
}

/// Runs a page's content.
pub(super) struct Interpreter<'a, 'd> {
    doc: &'a Document<'d>,
    fonts: &'a mut FontCache,
    pub run: PageRun,
    forms_run: usize,
    seq: u32,
}

/// A page's content streams (or a form's), read through a window.
struct Window<'d> {
    streams: Vec<(Rc<Obj>, &'d [u8])>,
    next: usize,
    reader: Option<Box<dyn Read + 'd>>,
    buf: Vec<u8>,
    pos: usize,
    eof: bool,
}

impl<'d> Window<'d> {
    fn new(streams: Vec<(Rc<Obj>, &'d [u8])>) -> Self {
        Window {
            streams,
            next: 0,
            reader: None,
            buf: Vec::new(),
            pos: 0,
            eof: false,
        }
    }

    /// Reads more: at least one more byte unless the content has ended.
    /// Returns false at the end, or when the window is full.
    fn refill(
        &mut self,
        doc: &Document<'d>,
        unsupported: &mut usize,
    ) -> Result<bool, ExtractError> {
        if self.eof {
            return Ok(false);
        }
        if self.pos > 0 {
            self.buf.drain(..self.pos);
            self.pos = 0;
        }
        if self.buf.len() >= MAX_WINDOW {
            return Ok(false);
        }
        loop {
            let Some(reader) = self.reader.as_mut() else {
                let Some((dict, raw)) = self.streams.get(self.next).cloned() else {
                    self.eof = true;
                    return Ok(false);
                };
                self.next += 1;
                let chain = doc.open(&dict, raw);
                if chain.stopped_at.is_some() {
                    *unsupported += 1;
                    continue;
                }
                self.reader = Some(chain.reader);
                // Streams of one page are one content: a token may not
                // run from one into the next, so they are kept apart.
                self.buf.push(b'\n');
                return Ok(true);
            };
            let start = self.buf.len();
            let want = READ_STEP.min(MAX_WINDOW - start);
            self.buf.resize(start + want, 0);
            let result = reader.read(&mut self.buf[start..]);
            match result {
                Ok(0) => {
                    self.buf.truncate(start);
                    self.reader = None;
                }
                Ok(n) => {
                    self.buf.truncate(start + n);
                    doc.charge(n)?;
                    return Ok(true);
                }
                Err(e) => {
                    self.buf.truncate(start);
                    self.reader = None;
                    if let e @ ExtractError::Limit(_) = crate::extract::uncarry(e.into()) {
                        return Err(e);
                    }
                }
            }
        }
    }
}

impl<'a, 'd> Interpreter<'a, 'd> {
    pub fn new(doc: &'a Document<'d>, fonts: &'a mut FontCache) -> Self {
        Interpreter {
            doc,
            fonts,
            run: PageRun::default(),
            forms_run: 0,
            seq: 0,
        }
    }

    /// Runs the content streams `streams` with `resources`.
    pub fn page(
        &mut self,
        streams: Vec<(Rc<Obj>, &'d [u8])>,
        resources: &Obj,
    ) -> Result<(), ExtractError> {
        self.content(Window::new(streams), resources, IDENTITY, 0)
    }

    /// Draws the normal appearance of each annotation of a page (filled-in
    /// form fields, stamps, free text) where it sits. Widgets with a value
    /// but no appearance (`NeedAppearances`) add `name: value` lines to
    /// `values`.
    pub fn annotations(&mut self, annots: &Obj, values: &mut String) -> Result<(), ExtractError> {
        let doc = self.doc;
        let Obj::Array(items) = &*doc.resolve(annots) else {
            return Ok(());
        };
        for item in items.iter().take(MAX_ANNOTATIONS) {
            if self.run.cut.is_some() {
                break;
            }
            let annot = doc.resolve(item);
            let flags = annot.get(b"F").and_then(Obj::as_num).unwrap_or(0.0) as u32;
            // Hidden (2) and no-view (32) annotations are not shown.
            if flags & (2 | 32) != 0 {
                continue;
            }
            let ap = doc.entry(&annot, b"AP");
            let form = match ap.get(b"N") {
                Some(Obj::Ref(n)) if doc.stream(*n).is_some() => Some(*n),
                Some(states) => {
                    // A dictionary of states (check boxes): the one `/AS` names.
                    let states = doc.resolve(states);
                    match (annot.get(b"AS"), states.get(b"AS")) {
                        (Some(Obj::Name(state)), _) => match states.get(state) {
                            Some(Obj::Ref(k)) => Some(*k),
                            _ => None,
                        },
                        _ => None,
                    }
                }
                None => None,
            };
            let drawn = match form.and_then(|n| doc.stream(n)) {
                Some((dict, raw))
                    if dict.get(b"BBox").is_some() || dict.name_is(b"Subtype", b"Form") =>
                {
                    let rect = numbers(&doc.entry(&annot, b"Rect"));
                    let bbox = numbers(&doc.entry(&dict, b"BBox"));
                    let matrix = match doc.entry(&dict, b"Matrix").clone() {
                        Obj::Array(items) => matrix_of(&items).unwrap_or(IDENTITY),
                        _ => IDENTITY,
                    };
                    let place = match (rect.as_slice(), bbox.as_slice()) {
                        ([rx0, ry0, rx1, ry1], [bx0, by0, bx1, by1]) => {
                            let (bx0, by0) = apply(&matrix, *bx0, *by0);
                            let (bx1, by1) = apply(&matrix, *bx1, *by1);
                            let (bw, bh) = (bx1 - bx0, by1 - by0);
                            let sx = if bw.abs() > 1e-6 {
                                (rx1 - rx0) / bw
                            } else {
                                1.0
                            };
                            let sy = if bh.abs() > 1e-6 {
                                (ry1 - ry0) / bh
                            } else {
                                1.0
                            };
                            [
                                sx,
                                0.0,
                                0.0,
                                sy,
                                rx0.min(*rx1) - bx0.min(bx1) * sx,
                                ry0.min(*ry1) - by0.min(by1) * sy,
                            ]
                        }
                        _ => IDENTITY,
                    };
                    let resources = dict
                        .get(b"Resources")
                        .map(|r| doc.owned(r))
                        .unwrap_or(Obj::Null);
                    let window = Window::new(vec![(dict.clone(), raw)]);
                    self.content(window, &resources, mul(&matrix, &place), 1)?;
                    true
                }
                _ => false,
            };
            if !drawn && annot.name_is(b"Subtype", b"Widget") {
                if let Some((name, value)) = field_value(doc, &annot) {
                    values.push_str(&name);
                    values.push_str(": ");
                    values.push_str(&value);
                    values.push('\n');
                }
            }
        }
        Ok(())
    }

    fn cut(&mut self, why: String) {
        if self.run.cut.is_none() {
            self.run.cut = Some(why);
        }
    }

    fn content(
        &mut self,
        mut window: Window<'d>,
        resources: &Obj,
        ctm: Matrix,
        depth: u32,
    ) -> Result<(), ExtractError> {
        let mut gs = GraphicsState::new(ctm);
        let mut saved: Vec<GraphicsState> = Vec::new();
        let mut tm = IDENTITY;
        let mut tlm = IDENTITY;
        let mut operands: Vec<Obj> = Vec::new();
        let mut names: HashMap<Vec<u8>, Rc<Font>> = HashMap::new();
        let mut tokens = 0u32;
        loop {
            tokens = tokens.wrapping_add(1);
            if tokens % 1024 == 0 && self.doc.budget().out_of_time() {
                self.cut("the time limit".into());
                return Ok(());
            }
            if self.run.cut.is_some() {
                return Ok(());
            }
            let rest = &window.buf[window.pos..];
            let mut lexer = if window.eof {
                Lexer::new(rest, 0)
            } else {
                Lexer::partial(rest)
            };
            let token = lexer.object(0);
            if lexer.starved {
                if window.refill(self.doc, &mut self.run.unsupported)? {
                    continue;
                }
                if !window.eof {
                    // A token larger than the window: it is cut here.
                    self.cut(format!("a content token longer than {MAX_WINDOW} bytes"));
                    return Ok(());
                }
                continue;
            }
            let Some(token) = token else {
                if window.refill(self.doc, &mut self.run.unsupported)? || !window.eof {
                    continue;
                }
                return Ok(());
            };
            window.pos += lexer.pos;
            let Obj::Op(op) = token else {
                if operands.len() >= MAX_OPERANDS {
                    operands.remove(0);
                }
                operands.push(token);
                continue;
            };
            let num = |i: usize| {
                operands
                    .get(i)
                    .and_then(Obj::as_num)
                    .filter(|n| n.is_finite())
            };
            match op.as_slice() {
                b"q" if saved.len() < MAX_SAVED_STATES => saved.push(gs.clone()),
                b"Q" => {
                    if let Some(s) = saved.pop() {
                        gs = s;
                    }
                }
                b"cm" => {
                    if let Some(m) = matrix_of(&operands) {
                        gs.ctm = mul(&m, &gs.ctm);
                    }
                }
                b"BT" => {
                    tm = IDENTITY;
                    tlm = IDENTITY;
                }
                b"Tf" => {
                    if let (Some(Obj::Name(name)), Some(size)) = (operands.first(), num(1)) {
                        gs.size = size;
                        let font = match names.get(name) {
                            Some(f) => f.clone(),
                            None => {
                                let f = self.font(resources, name);
                                names.insert(name.clone(), f.clone());
                                f
                            }
                        };
                        gs.font = Some(font);
                    }
                }
                b"Tc" => gs.char_spacing = num(0).unwrap_or(0.0),
                b"Tw" => gs.word_spacing = num(0).unwrap_or(0.0),
                b"Tz" => gs.scale = num(0).unwrap_or(100.0) / 100.0,
                b"TL" => gs.leading = num(0).unwrap_or(0.0),
                b"Ts" => gs.rise = num(0).unwrap_or(0.0),
                b"Td" | b"TD" => {
                    let (tx, ty) = (num(0).unwrap_or(0.0), num(1).unwrap_or(0.0));
                    if op == b"TD" {
                        gs.leading = -ty;
                    }
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, tx, ty], &tlm);
                    tm = tlm;
                }
                b"Tm" => {
                    if let Some(m) = matrix_of(&operands) {
                        tlm = m;
                        tm = m;
                    }
                }
                b"T*" => {
                    tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm);
                    tm = tlm;
                }
                b"Tj" | b"'" | b"\"" => {
                    if op != b"Tj" {
                        if op == b"\"" {
                            gs.word_spacing = num(0).unwrap_or(gs.word_spacing);
                            gs.char_spacing = num(1).unwrap_or(gs.char_spacing);
                        }
                        tlm = mul(&[1.0, 0.0, 0.0, 1.0, 0.0, -gs.leading], &tlm);
                        tm = tlm;
                    }
                    if let Some(Obj::Str(s)) = operands.last() {
                        self.show(&gs, &mut tm, s);
                    }
                }
                b"TJ" => {
                    if let Some(Obj::Array(items)) = operands.last() {
                        for item in items {
                            match item {
                                Obj::Str(s) => self.show(&gs, &mut tm, s),
                                Obj::Num(n) if n.is_finite() => {
                                    let tx = -n / 1000.0 * gs.size * gs.scale;
                                    tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], &tm);
                                }
                                _ => {}
                            }
                        }
                    }
                }
                b"Do" => {
                    if let Some(Obj::Name(name)) = operands.last() {
                        let name = name.clone();
                        self.draw_xobject(resources, &name, &gs.ctm, depth)?;
                    }
                }
                b"ID" => {
                    let dict = Obj::Dict(
                        operands
                            .chunks(2)
                            .filter_map(|kv| match kv {
                                [Obj::Name(k), v] => Some((k.clone(), v.clone())),
                                _ => None,
                            })
                            .collect(),
                    );
                    self.inline_image(&mut window, dict, &gs.ctm)?;
                }
                _ => {}
            }
            operands.clear();
        }
    }

    fn font(&mut self, resources: &Obj, name: &[u8]) -> Rc<Font> {
        let doc = self.doc;
        let fonts = doc.entry(resources, b"Font");
        let Some(entry) = fonts.get(name) else {
            return Rc::new(Font::unknown());
        };
        if let Obj::Ref(n) = entry {
            if let Some(f) = self.fonts.fonts.get(n) {
                return f.clone();
            }
        }
        let dict = doc.resolve(entry);
        let font = Rc::new(Font::load(doc, &dict));
        if let Obj::Ref(n) = entry {
            let entries = font.entries();
            if self.fonts.entries + entries > MAX_FONT_ENTRIES {
                self.fonts.fonts.clear();
                self.fonts.entries = 0;
            }
            self.fonts.entries += entries;
            self.fonts.fonts.insert(*n, font.clone());
        }
        font
    }

    /// Places the glyphs of string `s` and moves the text matrix past them.
    fn show(&mut self, gs: &GraphicsState, tm: &mut Matrix, s: &[u8]) {
        let Some(font) = gs.font.clone() else {
            // No font selected: the bytes still read as WinAnsi text.
            let font = Rc::new(Font::unknown());
            let gs = GraphicsState {
                font: Some(font),
                size: if gs.size > 0.0 { gs.size } else { 10.0 },
                ..gs.clone()
            };
            return self.show(&gs, tm, s);
        };
        let single = font.single_byte();
        for (code, _) in font.codes(s) {
            let text = font.text(code);
            let w0 = font.width(code, &text);
            let mut tx = w0 * gs.size + gs.char_spacing;
            if single && code == 32 {
                tx += gs.word_spacing;
            }
            tx *= gs.scale;
            match &text {
                Text::None => self.run.unmapped += 1,
                _ => {
                    self.run.mapped += 1;
                    let trm = mul(
                        &mul(&[gs.size * gs.scale, 0.0, 0.0, gs.size, 0.0, gs.rise], tm),
                        &gs.ctm,
                    );
                    self.place(&font, &trm, w0, &text);
                }
            }
            *tm = mul(&[1.0, 0.0, 0.0, 1.0, tx, 0.0], tm);
        }
    }

    /// Records the glyph(s) of one code drawn with rendering matrix `trm`;
    /// `width` is the glyph's width in text space per unit font size
    /// (before any spacing).
    fn place(&mut self, font: &Font, trm: &Matrix, width: f64, text: &Text) {
        let chars: Vec<char> = match text {
            Text::Str(s) => s.chars().collect(),
            Text::Char(c) => vec![*c],
            Text::None => return,
        };
        if chars.is_empty() {
            return;
        }
        if self.run.glyphs.len() + chars.len() > MAX_PAGE_GLYPHS {
            self.cut(format!("a page draws more than {MAX_PAGE_GLYPHS} glyphs"));
            return;
        }
        // The baseline's direction and the em, in device space.
        let (ax, ay) = (trm[0], trm[1]);
        let (cx, cy) = (trm[2], trm[3]);
        let along = (ax * ax + ay * ay).sqrt();
        let em = (cx * cx + cy * cy).sqrt() * font.scale_y;
        let finite = [along, em, trm[4], trm[5]].iter().all(|v| v.is_finite());
        if !finite || along == 0.0 {
            return;
        }
        let angle = ay.atan2(ax);
        let dir = (angle.to_degrees().round().rem_euclid(360.0)) as u16 % 360;
        let (sin, cos) = (
            f64::from(dir).to_radians().sin(),
            f64::from(dir).to_radians().cos(),
        );
        let (x, y) = (trm[4], trm[5]);
        let u = x * cos + y * sin;
        let v = -x * sin + y * cos;
        // `along` is the horizontal font size (× Tz) in device units.
        let w = width * along;
        let space = font.space_width.map_or(0.0, |s| s * along);
        let each = w / chars.len() as f64;
        for (i, ch) in chars.into_iter().enumerate() {
            self.seq = self.seq.wrapping_add(1);
            self.run.glyphs.push(Glyph {
                u: (u + each * i as f64) as f32,
                v: v as f32,
                w: each as f32,
                size: em as f32,
                space: space as f32,
                ch,
                dir,
                seq: self.seq,
            });
        }
    }

    fn draw_xobject(
        &mut self,
        resources: &Obj,
        name: &[u8],
        ctm: &Matrix,
        depth: u32,
    ) -> Result<(), ExtractError> {
        let doc = self.doc;
        let xobjects = doc.entry(resources, b"XObject");
        let Some(Obj::Ref(num)) = xobjects.get(name) else {
            return Ok(());
        };
        let num = *num;
        let Some((dict, raw)) = doc.stream(num) else {
            return Ok(());
        };
        if dict.name_is(b"Subtype", b"Image") {
            let area = (ctm[0] * ctm[3] - ctm[1] * ctm[2]).abs();
            if self.run.images.len() < MAX_PAGE_IMAGES {
                self.run.images.push(DrawnImage {
                    object: Some(num),
                    name: Some(name.to_vec()),
                    dict: (*dict).clone(),
                    inline: None,
                    area,
                });
            }
            return Ok(());
        }
        if !dict.name_is(b"Subtype", b"Form") || depth >= super::MAX_FORM_DEPTH {
            return Ok(());
        }
        self.forms_run += 1;
        if self.forms_run > MAX_FORMS_PER_PAGE {
            self.cut(format!("a page draws more than {MAX_FORMS_PER_PAGE} forms"));
            return Ok(());
        }
        let matrix = match doc.entry(&dict, b"Matrix").clone() {
            Obj::Array(items) => matrix_of(&items).unwrap_or(IDENTITY),
            _ => IDENTITY,
        };
        let own = dict.get(b"Resources").map(|r| doc.owned(r));
        let form_resources = own.unwrap_or_else(|| resources.clone());
        let window = Window::new(vec![(dict.clone(), raw)]);
        self.content(window, &form_resources, mul(&matrix, ctm), depth + 1)
    }

    /// After `ID`: the image data up to `EI`, kept (bounded) for the
    /// image hand-over.
    fn inline_image(
        &mut self,
        window: &mut Window<'d>,
        dict: Obj,
        ctm: &Matrix,
    ) -> Result<(), ExtractError> {
        // One white-space byte follows `ID`.
        if window.pos >= window.buf.len() {
            window.refill(self.doc, &mut self.run.unsupported)?;
        }
        if window.buf.get(window.pos).is_some_and(|&b| is_white(b)) {
            window.pos += 1;
        }
        let mut data = Vec::new();
        let mut cut = false;
        loop {
            let rest = &window.buf[window.pos..];
            let end = memchr::memmem::find_iter(rest, b"EI").find(|&p| {
                (p == 0 || is_white(rest[p - 1]))
                    && match rest.get(p + 2) {
                        Some(&b) => is_white(b) || is_delim(b),
                        None => window.eof,
                    }
            });
            match end {
                Some(p) => {
                    let body = rest[..p].strip_suffix(b"\n").unwrap_or(&rest[..p]);
                    keep(&mut data, &mut cut, body);
                    window.pos += p + 2;
                    break;
                }
                None => {
                    // Keep all but the last bytes (`EI` may straddle).
                    let safe = rest.len().saturating_sub(3);
                    keep(&mut data, &mut cut, &rest[..safe]);
                    window.pos += safe;
                    if !window.refill(self.doc, &mut self.run.unsupported)? && window.eof {
                        let rest = &window.buf[window.pos..];
                        keep(&mut data, &mut cut, rest);
                        window.pos = window.buf.len();
                        break;
                    }
                }
            }
        }
        if self.run.images.len() < MAX_PAGE_IMAGES {
            let area = (ctm[0] * ctm[3] - ctm[1] * ctm[2]).abs();
            self.run.images.push(DrawnImage {
                object: None,
                name: None,
                dict,
                inline: Some((data, cut)),
                area,
            });
        }
        Ok(())
    }
}

fn keep(data: &mut Vec<u8>, cut: &mut bool, bytes: &[u8]) {
    let room = MAX_INLINE_IMAGE.saturating_sub(data.len());
    data.extend_from_slice(&bytes[..bytes.len().min(room)]);
    if bytes.len() > room {
        *cut = true;
    }
}

fn apply(m: &Matrix, x: f64, y: f64) -> (f64, f64) {
    (x * m[0] + y * m[2] + m[4], x * m[1] + y * m[3] + m[5])
}

fn numbers(obj: &Obj) -> Vec<f64> {
    match obj {
        Obj::Array(items) => items
            .iter()
            .filter_map(Obj::as_num)
            .filter(|n| n.is_finite())
            .collect(),
        _ => Vec::new(),
    }
}

/// A form field's name and text value (`/T`, `/V`), inherited from its
/// parents (a few levels).
fn field_value(doc: &Document, widget: &Obj) -> Option<(String, String)> {
    let mut name = None;
    let mut value = None;
    let mut node = widget.clone();
    for _ in 0..8 {
        if name.is_none() {
            if let Obj::Str(t) = &*doc.entry(&node, b"T") {
                name = Some(text_string(t));
            }
        }
        if value.is_none() {
            match &*doc.entry(&node, b"V") {
                Obj::Str(v) => value = Some(text_string(v)),
                Obj::Name(v) => value = Some(String::from_utf8_lossy(v).into_owned()),
                _ => {}
            }
        }
        match node.get(b"Parent") {
            Some(p @ Obj::Ref(_)) => node = doc.owned(p),
            _ => break,
        }
    }
    let mut value = value.filter(|v| !v.trim().is_empty())?;
    if value.len() > MAX_FIELD_VALUE {
        let mut end = MAX_FIELD_VALUE;
        while !value.is_char_boundary(end) {
            end -= 1;
        }
        value.truncate(end);
    }
    Some((name.unwrap_or_default(), value))
}

/// A PDF text string: UTF-16BE after a byte-order mark, UTF-8 after its
/// mark, else PDFDocEncoding (read as Latin-1, which it matches for text).
pub(super) fn text_string(bytes: &[u8]) -> String {
    if let Some(rest) = bytes.strip_prefix(b"\xFE\xFF") {
        let units: Vec<u16> = rest
            .chunks_exact(2)
            .map(|c| u16::from_be_bytes([c[0], c[1]]))
            .collect();
        return String::from_utf16_lossy(&units);
    }
    if let Some(rest) = bytes.strip_prefix(b"\xEF\xBB\xBF") {
        return String::from_utf8_lossy(rest).into_owned();
    }
    bytes.iter().map(|&b| char::from(b)).collect()
}
