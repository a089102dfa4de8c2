//! PDF: text from page content streams, one piece per page with field
//! `page N` (1-based, in page-tree order) and `line` the line within the
//! page's extracted text (a new line starts where the text moves down:
//! `T*`, `'`, `"`, `Td`/`TD` with a vertical move, `Tm` to a new baseline).
//!
//! The cross-reference table is never trusted: the file is scanned for
//! `N G obj` … `endobj` (and `stream` … `endstream`), so files with a
//! broken or missing xref read the same. Later definitions of an object
//! win (incremental updates); compressed object streams (`/ObjStm`) are
//! opened. Streams are decoded when they are unfiltered or FlateDecode;
//! text in fonts with a `/ToUnicode` map is mapped through it, otherwise
//! bytes are read as WinAnsi. Form XObjects drawn by a page count as that
//! page's text.
//!
//! Bounds: the file is held in memory up to `max_document_bytes` (larger
//! → `limit`); every decoded byte is charged to the expansion budget and
//! the ratio limit applies per stream. Encrypted files → `encrypted`; files
//! with pages but no text (scans) → `no_text`.

use super::expand::RATIO_FLOOR;
use super::{Ctx, Location};
use crate::error::ExtractError;
use crate::report::SkipReason;
use std::collections::{HashMap, HashSet};
use std::io::{Cursor, Read};
use std::ops::Range;

/// Nesting of arrays/dictionaries parsed; deeper input is cut off.
const MAX_NESTING: u32 = 64;
/// Depth of the page tree and of Form XObjects followed.
const MAX_TREE_DEPTH: u32 = 32;
const MAX_FORM_DEPTH: u32 = 8;
/// Most codes mapped per font (two-byte codes: 65536).
const MAX_CMAP_ENTRIES: usize = 1 << 16;
/// Operands kept on the content stream stack (no operator takes more).
const MAX_OPERANDS: usize = 64;

#[derive(Clone, Debug, PartialEq)]
enum Obj {
    Null,
    Bool(bool),
    Num(f64),
    Str(Vec<u8>),
    Name(Vec<u8>),
    Array(Vec<Obj>),
    Dict(Vec<(Vec<u8>, Obj)>),
    Ref(u32),
    /// A bare keyword: an operator in a content stream.
    Op(Vec<u8>),
}

impl Obj {
    fn get(&self, key: &[u8]) -> Option<&Obj> {
        match self {
            Obj::Dict(entries) => entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v),
            _ => None,
        }
    }

    fn name_is(&self, key: &[u8], value: &[u8]) -> bool {
        matches!(self.get(key), Some(Obj::Name(n)) if n == value)
    }

    fn as_num(&self) -> Option<f64> {
        match self {
            Obj::Num(n) => Some(*n),
            _ => None,
        }
    }
}

/// A tokenizer and parser over PDF syntax (objects and content streams).
struct Lexer<'d> {
    data: &'d [u8],
    pos: usize,
}

fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c' | b'\0')
}

fn is_delim(b: u8) -> bool {
    matches!(
        b,
        b'(' | b')' | b'<' | b'>' | b'[' | b']' | b'{' | b'}' | b'/' | b'%'
    )
}

impl<'d> Lexer<'d> {
    fn new(data: &'d [u8], pos: usize) -> Self {
        Lexer { data, pos }
    }

    fn peek(&self) -> Option<u8> {
        self.data.get(self.pos).copied()
    }

    fn skip_space(&mut self) {
        while let Some(b) = self.peek() {
            if is_white(b) {
                self.pos += 1;
            } else if b == b'%' {
                while let Some(c) = self.peek() {
                    if c == b'\n' || c == b'\r' {
                        break;
                    }
                    self.pos += 1;
                }
            } else {
                break;
            }
        }
    }

    fn regular_run(&mut self) -> &'d [u8] {
        let start = self.pos;
        while let Some(b) = self.peek() {
            if is_white(b) || is_delim(b) {
                break;
            }
            self.pos += 1;
        }
        &self.data[start..self.pos]
    }

    /// The next object; `None` at end of data. `N G R` becomes a reference.
    fn object(&mut self, depth: u32) -> Option<Obj> {
        self.skip_space();
        let b = self.peek()?;
        // Too deep: the opener is dropped and what follows reads flat, so
        // hostile nesting costs no stack.
        if depth >= MAX_NESTING && (b == b'[' || b == b'<') {
            self.pos += 1;
            return Some(Obj::Null);
        }
        match b {
            b'/' => {
                self.pos += 1;
                Some(Obj::Name(decode_name(self.regular_run())))
            }
            b'(' => {
                self.pos += 1;
                Some(Obj::Str(self.literal_string()))
            }
            b'<' if self.data.get(self.pos + 1) == Some(&b'<') => {
                self.pos += 2;
                let mut entries = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        None => break,
                        Some(b'>') => {
                            self.pos += 1;
                            if self.peek() == Some(b'>') {
                                self.pos += 1;
                            }
                            break;
                        }
                        _ => {}
                    }
                    let key = match self.object(depth + 1) {
                        Some(Obj::Name(n)) => n,
                        Some(_) => continue,
                        None => break,
                    };
                    if depth >= MAX_NESTING {
                        continue;
                    }
                    let value = self.value(depth + 1).unwrap_or(Obj::Null);
                    entries.push((key, value));
                }
                Some(Obj::Dict(entries))
            }
            b'<' => {
                self.pos += 1;
                Some(Obj::Str(self.hex_string()))
            }
            b'[' => {
                self.pos += 1;
                let mut items = Vec::new();
                loop {
                    self.skip_space();
                    match self.peek() {
                        None => break,
                        Some(b']') => {
                            self.pos += 1;
                            break;
                        }
                        _ => {}
                    }
                    let Some(item) = self.object(depth + 1) else {
                        break;
                    };
                    if depth < MAX_NESTING {
                        items.push(item);
                    }
                }
                Some(Obj::Array(collapse_refs(items)))
            }
            b')' | b'>' | b']' | b'{' | b'}' => {
                self.pos += 1;
                Some(Obj::Op(vec![b]))
            }
            _ => {
                let word = self.regular_run();
                if word.is_empty() {
                    self.pos += 1;
                    return Some(Obj::Null);
                }
                Some(match word {
                    b"true" => Obj::Bool(true),
                    b"false" => Obj::Bool(false),
                    b"null" => Obj::Null,
                    w => match std::str::from_utf8(w)
                        .ok()
                        .and_then(|s| s.parse::<f64>().ok())
                    {
                        Some(n) if w.iter().all(|c| c.is_ascii_digit() || b"+-.".contains(c)) => {
                            Obj::Num(n)
                        }
                        _ => Obj::Op(w.to_vec()),
                    },
                })
            }
        }
    }

    /// Like [`Lexer::object`], but `N G R` (three tokens) becomes one
    /// reference, as in dictionary values and object bodies.
    fn value(&mut self, depth: u32) -> Option<Obj> {
        let first = self.object(depth)?;
        if let Obj::Num(num) = first {
            let save = self.pos;
            if let Some(Obj::Num(_)) = self.object(depth) {
                if let Some(Obj::Op(op)) = self.object(depth) {
                    if op == b"R" && num >= 0.0 && num <= f64::from(u32::MAX) {
                        return Some(Obj::Ref(num as u32));
                    }
                }
            }
            self.pos = save;
        }
        Some(first)
    }

    /// After `(`: the string's bytes, escapes decoded, to the matching `)`.
    fn literal_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut depth = 1u32;
        while let Some(b) = self.peek() {
            self.pos += 1;
            match b {
                b'(' => {
                    depth += 1;
                    out.push(b);
                }
                b')' => {
                    depth -= 1;
                    if depth == 0 {
                        break;
                    }
                    out.push(b);
                }
                b'\\' => {
                    let Some(e) = self.peek() else { break };
                    self.pos += 1;
                    match e {
                        b'n' => out.push(b'\n'),
                        b'r' => out.push(b'\r'),
                        b't' => out.push(b'\t'),
                        b'b' => out.push(8),
                        b'f' => out.push(12),
                        b'0'..=b'7' => {
                            let mut value = u32::from(e - b'0');
                            for _ in 0..2 {
                                match self.peek() {
                                    Some(d @ b'0'..=b'7') => {
                                        value = value * 8 + u32::from(d - b'0');
                                        self.pos += 1;
                                    }
                                    _ => break,
                                }
                            }
                            out.push((value & 0xFF) as u8);
                        }
                        // A backslash before an end of line continues the string.
                        b'\r' => {
                            if self.peek() == Some(b'\n') {
                                self.pos += 1;
                            }
                        }
                        b'\n' => {}
                        other => out.push(other),
                    }
                }
                _ => out.push(b),
            }
        }
        out
    }

    /// After `<`: hex digits to `>`, whitespace ignored, odd digit padded.
    fn hex_string(&mut self) -> Vec<u8> {
        let mut out = Vec::new();
        let mut high: Option<u8> = None;
        while let Some(b) = self.peek() {
            self.pos += 1;
            if b == b'>' {
                break;
            }
            let Some(v) = (b as char).to_digit(16) else {
                continue;
            };
            let v = v as u8;
            match high.take() {
                Some(h) => out.push(h << 4 | v),
                None => high = Some(v),
            }
        }
        if let Some(h) = high {
            out.push(h << 4);
        }
        out
    }
}

/// `#xx` escapes in names.
fn decode_name(raw: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(raw.len());
    let mut i = 0;
    while i < raw.len() {
        if raw[i] == b'#' {
            if let Some(v) = raw
                .get(i + 1..i + 3)
                .and_then(|h| std::str::from_utf8(h).ok())
                .and_then(|h| u8::from_str_radix(h, 16).ok())
            {
                out.push(v);
                i += 3;
                continue;
            }
        }
        out.push(raw[i]);
        i += 1;
    }
    out
}

/// `[1 0 R 2 0 R]` parses as numbers and `R` operators: fold them into
/// references.
fn collapse_refs(items: Vec<Obj>) -> Vec<Obj> {
    let mut out: Vec<Obj> = Vec::with_capacity(items.len());
    for item in items {
        if item == Obj::Op(b"R".to_vec()) && out.len() >= 2 {
            if let (Some(Obj::Num(gen)), Some(Obj::Num(num))) = (out.last(), out.get(out.len() - 2))
            {
                if *gen >= 0.0 && *num >= 0.0 && *num <= f64::from(u32::MAX) {
                    let num = *num as u32;
                    out.truncate(out.len() - 2);
                    out.push(Obj::Ref(num));
                    continue;
                }
            }
        }
        out.push(item);
    }
    out
}

/// Decodes a stream given its dictionary; `None` when its filter is not
/// supported.
type StreamDecoder<'c> = dyn FnMut(&Obj, &[u8]) -> Result<Option<Vec<u8>>, ExtractError> + 'c;

struct PdfObject {
    value: Obj,
    stream: Option<Range<usize>>,
}

struct Document<'d> {
    data: &'d [u8],
    objects: HashMap<u32, PdfObject>,
    /// Objects from object streams: (value, no stream).
    compressed: HashMap<u32, Obj>,
    trailers: Vec<Obj>,
}

impl<'d> Document<'d> {
    fn parse(data: &'d [u8]) -> Document<'d> {
        let mut doc = Document {
            data,
            objects: HashMap::new(),
            compressed: HashMap::new(),
            trailers: Vec::new(),
        };
        for at in memchr::memmem::find_iter(data, b"obj") {
            if let Some((num, body_start)) = object_header(data, at) {
                let (value, stream) = parse_object_body(data, body_start);
                doc.objects.insert(num, PdfObject { value, stream });
            }
        }
        for at in memchr::memmem::find_iter(data, b"trailer") {
            let mut lexer = Lexer::new(data, at + b"trailer".len());
            if let Some(t @ Obj::Dict(_)) = lexer.object(0) {
                doc.trailers.push(t);
            }
        }
        // Cross-reference streams carry the trailer entries.
        for obj in doc.objects.values() {
            if obj.value.name_is(b"Type", b"XRef") {
                doc.trailers.push(obj.value.clone());
            }
        }
        doc
    }

    /// Opens object streams; `decode` bounds the work.
    fn load_object_streams(&mut self, decode: &mut StreamDecoder) -> Result<(), ExtractError> {
        let mut streams: Vec<(Obj, Range<usize>)> = self
            .objects
            .values()
            .filter(|o| o.value.name_is(b"Type", b"ObjStm"))
            .filter_map(|o| Some((o.value.clone(), o.stream.clone()?)))
            .collect();
        streams.sort_by_key(|(_, r)| r.start);
        for (dict, range) in streams {
            let Some(raw) = self.data.get(range) else {
                continue;
            };
            let Some(bytes) = decode(&dict, raw)? else {
                continue;
            };
            let count = dict.get(b"N").and_then(Obj::as_num).unwrap_or(0.0).max(0.0) as usize;
            let first = dict
                .get(b"First")
                .and_then(Obj::as_num)
                .unwrap_or(0.0)
                .max(0.0) as usize;
            let mut header = Lexer::new(&bytes, 0);
            let mut entries = Vec::new();
            while entries.len() < count && header.pos < first.min(bytes.len()) {
                match (header.object(0), header.object(0)) {
                    (Some(Obj::Num(n)), Some(Obj::Num(off))) if n >= 0.0 && off >= 0.0 => {
                        entries.push((n as u32, off as usize))
                    }
                    _ => break,
                }
            }
            for (num, offset) in entries {
                let Some(at) = first.checked_add(offset).filter(|&a| a < bytes.len()) else {
                    continue;
                };
                let mut lexer = Lexer::new(&bytes, at);
                if let Some(value) = lexer.value(0) {
                    self.compressed.entry(num).or_insert(value);
                }
            }
        }
        Ok(())
    }

    fn get(&self, num: u32) -> Option<&Obj> {
        self.objects
            .get(&num)
            .map(|o| &o.value)
            .or_else(|| self.compressed.get(&num))
    }

    /// Follows a reference (a few levels, no cycles).
    fn resolve<'a>(&'a self, mut obj: &'a Obj) -> &'a Obj {
        for _ in 0..8 {
            match obj {
                Obj::Ref(n) => match self.get(*n) {
                    Some(target) => obj = target,
                    None => return &Obj::Null,
                },
                _ => return obj,
            }
        }
        &Obj::Null
    }

    fn encrypted(&self) -> bool {
        self.trailers.iter().any(|t| t.get(b"Encrypt").is_some())
    }

    /// Pages in page-tree order, each with its (inherited) resources.
    fn pages(&self) -> Vec<(u32, Obj)> {
        let mut pages = Vec::new();
        let root = self
            .trailers
            .iter()
            .rev()
            .find_map(|t| match t.get(b"Root") {
                Some(Obj::Ref(n)) => Some(*n),
                _ => None,
            })
            .or_else(|| {
                self.objects
                    .iter()
                    .find(|(_, o)| o.value.name_is(b"Type", b"Catalog"))
                    .map(|(n, _)| *n)
            });
        if let Some(Obj::Ref(tree)) = root.and_then(|r| self.get(r)).and_then(|c| c.get(b"Pages")) {
            let mut seen = HashSet::new();
            self.walk_pages(*tree, Obj::Null, 0, &mut seen, &mut pages);
        }
        if pages.is_empty() {
            // No usable page tree: every page object, in file order.
            let mut found: Vec<(usize, u32)> = self
                .objects
                .iter()
                .filter(|(_, o)| o.value.name_is(b"Type", b"Page"))
                .map(|(n, o)| (o.stream.as_ref().map_or(0, |r| r.start), *n))
                .collect();
            // Pages from object streams, after the direct ones.
            found.extend(
                self.compressed
                    .iter()
                    .filter(|(n, o)| o.name_is(b"Type", b"Page") && !self.objects.contains_key(n))
                    .map(|(n, _)| (usize::MAX, *n)),
            );
            found.sort();
            pages = found
                .into_iter()
                .map(|(_, n)| {
                    let resources = self
                        .get(n)
                        .and_then(|p| p.get(b"Resources"))
                        .cloned()
                        .unwrap_or(Obj::Null);
                    (n, resources)
                })
                .collect();
        }
        pages
    }

    fn walk_pages(
        &self,
        node: u32,
        inherited: Obj,
        depth: u32,
        seen: &mut HashSet<u32>,
        pages: &mut Vec<(u32, Obj)>,
    ) {
        if depth > MAX_TREE_DEPTH || !seen.insert(node) {
            return;
        }
        let Some(obj) = self.get(node) else { return };
        let resources = obj.get(b"Resources").cloned().unwrap_or(inherited);
        match self.resolve(obj.get(b"Kids").unwrap_or(&Obj::Null)) {
            Obj::Array(kids) if !obj.name_is(b"Type", b"Page") => {
                for kid in kids {
                    if let Obj::Ref(k) = kid {
                        self.walk_pages(*k, resources.clone(), depth + 1, seen, pages);
                    }
                }
            }
            _ => pages.push((node, resources)),
        }
    }

    fn stream(&self, num: u32) -> Option<(&Obj, &'d [u8])> {
        let obj = self.objects.get(&num)?;
        let range = obj.stream.clone()?;
        Some((&obj.value, self.data.get(range)?))
    }
}

/// At `at` is `obj`: checks for `N G ` before it and a delimiter after.
/// Returns the object number and where its body starts.
fn object_header(data: &[u8], at: usize) -> Option<(u32, usize)> {
    let after = at + 3;
    if data
        .get(after)
        .is_some_and(|&b| !is_white(b) && !is_delim(b))
    {
        return None;
    }
    let mut i = at;
    let back_space = |i: &mut usize| -> bool {
        let start = *i;
        while *i > 0 && is_white(data[*i - 1]) {
            *i -= 1;
        }
        *i < start
    };
    let back_digits = |i: &mut usize| -> Option<u64> {
        let end = *i;
        while *i > 0 && data[*i - 1].is_ascii_digit() && end - *i < 10 {
            *i -= 1;
        }
        std::str::from_utf8(data.get(*i..end)?).ok()?.parse().ok()
    };
    if !back_space(&mut i) {
        return None;
    }
    back_digits(&mut i)?;
    if !back_space(&mut i) {
        return None;
    }
    let num = back_digits(&mut i)?;
    if i > 0 && data[i - 1].is_ascii_digit() {
        return None;
    }
    Some((u32::try_from(num).ok()?, after))
}

fn parse_object_body(data: &[u8], start: usize) -> (Obj, Option<Range<usize>>) {
    let mut lexer = Lexer::new(data, start);
    let value = lexer.value(0).unwrap_or(Obj::Null);
    if !matches!(value, Obj::Dict(_)) {
        return (value, None);
    }
    lexer.skip_space();
    let rest = data.get(lexer.pos..).unwrap_or_default();
    if !rest.starts_with(b"stream") {
        return (value, None);
    }
    let mut begin = lexer.pos + b"stream".len();
    if data.get(begin) == Some(&b'\r') {
        begin += 1;
    }
    if data.get(begin) == Some(&b'\n') {
        begin += 1;
    }
    // Trust /Length when it lands on `endstream`; otherwise search for it.
    if let Some(len) = value.get(b"Length").and_then(Obj::as_num) {
        if len >= 0.0 {
            let end = begin.saturating_add(len as usize);
            if let Some(tail) = data.get(end..) {
                let skip = tail.iter().take_while(|&&b| is_white(b)).count();
                if tail[skip..].starts_with(b"endstream") {
                    return (value, Some(begin..end));
                }
            }
        }
    }
    let end = memchr::memmem::find(data.get(begin..).unwrap_or_default(), b"endstream")
        .map_or(data.len(), |p| begin + p);
    let mut trimmed = end;
    if trimmed > begin && data[trimmed - 1] == b'\n' {
        trimmed -= 1;
    }
    if trimmed > begin && data[trimmed - 1] == b'\r' {
        trimmed -= 1;
    }
    (value, Some(begin..trimmed))
}

/// Reads a whole PDF (up to `max_document_bytes`) and scans its pages.
pub fn scan(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let cap = ctx.limits().max_document_bytes;
    let mut data = Vec::new();
    Cursor::new(head)
        .chain(rest)
        .take(cap.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > cap {
        return Err(ExtractError::Limit(format!(
            "PDF larger than {cap} bytes (max_document_bytes)"
        )));
    }
    scan_bytes(ctx, &data)
}

fn scan_bytes(ctx: &mut Ctx, data: &[u8]) -> Result<(), ExtractError> {
    let mut doc = Document::parse(data);
    if doc.objects.is_empty() {
        // Text that merely mentions a PDF header is still text.
        if crate::decode::sniff(&data[..data.len().min(crate::decode::SNIFF_LEN)]).is_some() {
            return super::text::scan_stream(ctx, "", data, &mut std::io::empty());
        }
        return Err(ExtractError::Corrupt {
            format: "PDF",
            message: "no objects found".into(),
        });
    }
    if doc.encrypted() {
        return Err(ExtractError::Encrypted);
    }
    let mut unsupported = 0usize;
    {
        let mut decode = |dict: &Obj, raw: &[u8]| decode_stream(ctx, dict, raw, &mut unsupported);
        doc.load_object_streams(&mut decode)?;
    }
    let pages = doc.pages();
    let mut any_text = false;
    for (index, (page, resources)) in pages.iter().enumerate() {
        let mut content = Vec::new();
        let contents = doc
            .get(*page)
            .and_then(|p| p.get(b"Contents"))
            .cloned()
            .unwrap_or(Obj::Null);
        let refs: Vec<u32> = match doc.resolve(&contents) {
            Obj::Array(items) => items
                .iter()
                .filter_map(|i| match i {
                    Obj::Ref(n) => Some(*n),
                    _ => None,
                })
                .collect(),
            _ => match contents {
                Obj::Ref(n) => vec![n],
                _ => Vec::new(),
            },
        };
        for num in refs {
            let Some((dict, raw)) = doc.stream(num) else {
                continue;
            };
            if let Some(bytes) = decode_stream(ctx, dict, raw, &mut unsupported)? {
                content.extend_from_slice(&bytes);
                content.push(b'\n');
            }
        }
        let resources = doc.resolve(resources).clone();
        let mut text = String::new();
        let mut extractor = TextExtractor::new(&doc, &mut text);
        extractor.run(ctx, &content, &resources, 0, &mut unsupported)?;
        if !text.trim().is_empty() {
            any_text = true;
            let field = format!("page {}", index + 1);
            ctx.text(&field, &text, Location::START);
        }
    }
    if !any_text {
        let detail = if pages.is_empty() {
            "no pages found".to_string()
        } else if unsupported > 0 {
            format!(
                "no text in {} page(s); {unsupported} stream(s) use filters not supported",
                pages.len()
            )
        } else {
            format!(
                "no text in {} page(s) (scanned or image-only?)",
                pages.len()
            )
        };
        ctx.not_examined(None, SkipReason::NoText, detail);
    }
    Ok(())
}

/// Decodes a stream's bytes: unfiltered or FlateDecode (the filter of
/// nearly every text stream). `None` for other filters.
fn decode_stream(
    ctx: &Ctx,
    dict: &Obj,
    raw: &[u8],
    unsupported: &mut usize,
) -> Result<Option<Vec<u8>>, ExtractError> {
    let filters: Vec<&[u8]> = match dict.get(b"Filter") {
        None | Some(Obj::Null) => Vec::new(),
        Some(Obj::Name(n)) => vec![n.as_slice()],
        Some(Obj::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Obj::Name(n) => Some(n.as_slice()),
                _ => None,
            })
            .collect(),
        Some(_) => vec![b"?".as_slice()],
    };
    let mut bytes = raw.to_vec();
    ctx.charge_expanded(bytes.len() as u64)?;
    for filter in filters {
        if filter != b"FlateDecode" && filter != b"Fl" {
            *unsupported += 1;
            return Ok(None);
        }
        bytes = inflate(ctx, &bytes)?;
    }
    Ok(Some(bytes))
}

/// zlib-inflates `raw`, keeping what decodes before any error (damaged
/// streams are common and their start is still text).
fn inflate(ctx: &Ctx, raw: &[u8]) -> Result<Vec<u8>, ExtractError> {
    let mut decoder = flate2::read::ZlibDecoder::new(raw);
    let mut out = Vec::new();
    let mut chunk = [0u8; 16 << 10];
    let max_ratio = ctx.limits().max_ratio;
    loop {
        let n = match decoder.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => n,
        };
        ctx.charge_expanded(n as u64)?;
        out.extend_from_slice(&chunk[..n]);
        let produced = out.len() as u64;
        if produced > RATIO_FLOOR && produced > (raw.len() as u64).saturating_mul(max_ratio) {
            return Err(ExtractError::Limit(format!(
                "PDF stream expands more than {max_ratio}:1 (compression bomb?)"
            )));
        }
    }
    Ok(out)
}

/// How a font's string bytes become text.
#[derive(Clone, Default)]
struct FontMap {
    /// Codes are two bytes (CID fonts).
    two_byte: bool,
    /// From the font's ToUnicode CMap; empty = WinAnsi bytes.
    map: HashMap<u32, String>,
}

impl FontMap {
    fn decode(&self, bytes: &[u8], out: &mut String) {
        if self.map.is_empty() && !self.two_byte {
            out.extend(bytes.iter().map(|&b| win_ansi(b)));
            return;
        }
        let step = if self.two_byte { 2 } else { 1 };
        for code in bytes.chunks(step) {
            let value = code.iter().fold(0u32, |v, &b| v << 8 | u32::from(b));
            match self.map.get(&value) {
                Some(s) => out.push_str(s),
                None if !self.two_byte => out.push(win_ansi(value as u8)),
                None => {}
            }
        }
    }
}

fn win_ansi(b: u8) -> char {
    match b {
        b'\r' | b'\n' => ' ',
        b if b < 0x20 => ' ',
        b if b < 0x80 => char::from(b),
        b => {
            let bytes = [b];
            let (text, _) = encoding_rs::WINDOWS_1252.decode_without_bom_handling(&bytes);
            text.chars().next().unwrap_or(' ')
        }
    }
}

/// Parses a ToUnicode CMap (`bfchar`, `bfrange`, `codespacerange`).
fn parse_cmap(data: &[u8]) -> FontMap {
    let mut font = FontMap::default();
    let mut lexer = Lexer::new(data, 0);
    let mut operands: Vec<Obj> = Vec::new();
    let mut section: &[u8] = b"";
    while let Some(token) = lexer.object(0) {
        match token {
            Obj::Op(op) => {
                match op.as_slice() {
                    b"begincodespacerange" | b"beginbfchar" | b"beginbfrange" => {
                        section = match op.as_slice() {
                            b"begincodespacerange" => b"codespace",
                            b"beginbfchar" => b"bfchar",
                            _ => b"bfrange",
                        };
                        operands.clear();
                    }
                    b"endcodespacerange" => {
                        if let Some(Obj::Str(low)) = operands.first() {
                            font.two_byte = low.len() >= 2;
                        }
                        section = b"";
                    }
                    b"endbfchar" => {
                        for pair in operands.chunks(2) {
                            if let [Obj::Str(code), Obj::Str(text)] = pair {
                                font.map.insert(code_value(code), utf16_text(text));
                            }
                        }
                        section = b"";
                    }
                    b"endbfrange" => {
                        for triple in operands.chunks(3) {
                            add_range(&mut font, triple);
                        }
                        section = b"";
                    }
                    _ => {}
                }
                operands.clear();
            }
            // At most 100 entries per section, as the CMap format allows.
            other if !section.is_empty() && operands.len() < 3 * 100 => operands.push(other),
            _ => {}
        }
        if font.map.len() > MAX_CMAP_ENTRIES {
            break;
        }
    }
    font
}

fn code_value(code: &[u8]) -> u32 {
    code.iter()
        .take(4)
        .fold(0u32, |v, &b| v << 8 | u32::from(b))
}

fn utf16_text(bytes: &[u8]) -> String {
    let units: Vec<u16> = bytes
        .chunks(2)
        .map(|c| match c {
            [a, b] => u16::from_be_bytes([*a, *b]),
            [a] => u16::from(*a),
            _ => 0,
        })
        .collect();
    String::from_utf16_lossy(&units)
}

fn add_range(font: &mut FontMap, triple: &[Obj]) {
    let [Obj::Str(low), Obj::Str(high), target] = triple else {
        return;
    };
    let (low, high) = (code_value(low), code_value(high));
    // A range never spans more than one byte's worth in a valid CMap.
    if high < low || high - low > 0xFFFF {
        return;
    }
    match target {
        Obj::Str(start) => {
            let mut units: Vec<u16> = start
                .chunks(2)
                .map(|c| match c {
                    [a, b] => u16::from_be_bytes([*a, *b]),
                    [a] => u16::from(*a),
                    _ => 0,
                })
                .collect();
            for code in low..=high {
                if font.map.len() > MAX_CMAP_ENTRIES {
                    return;
                }
                font.map.insert(code, String::from_utf16_lossy(&units));
                if let Some(last) = units.last_mut() {
                    *last = last.wrapping_add(1);
                }
            }
        }
        Obj::Array(items) => {
            for (code, item) in (low..=high).zip(items) {
                if let Obj::Str(text) = item {
                    font.map.insert(code, utf16_text(text));
                }
            }
        }
        _ => {}
    }
}

/// Runs a content stream's text operators into a page's text.
struct TextExtractor<'a, 'd> {
    doc: &'a Document<'d>,
    out: &'a mut String,
    font: FontMap,
    fonts: HashMap<Vec<u8>, FontMap>,
    last_y: Option<f64>,
}

impl<'a, 'd> TextExtractor<'a, 'd> {
    fn new(doc: &'a Document<'d>, out: &'a mut String) -> Self {
        TextExtractor {
            doc,
            out,
            font: FontMap::default(),
            fonts: HashMap::new(),
            last_y: None,
        }
    }

    fn font_map(
        &mut self,
        resources: &Obj,
        name: &[u8],
        unsupported: &mut usize,
        ctx: &Ctx,
    ) -> FontMap {
        if let Some(f) = self.fonts.get(name) {
            return f.clone();
        }
        let fonts = self
            .doc
            .resolve(resources.get(b"Font").unwrap_or(&Obj::Null));
        let font = self.doc.resolve(fonts.get(name).unwrap_or(&Obj::Null));
        let two_byte = font.name_is(b"Subtype", b"Type0");
        let mut map = FontMap {
            two_byte,
            map: HashMap::new(),
        };
        if let Some(Obj::Ref(n)) = font.get(b"ToUnicode") {
            if let Some((dict, raw)) = self.doc.stream(*n) {
                if let Ok(Some(bytes)) = decode_stream(ctx, dict, raw, unsupported) {
                    let parsed = parse_cmap(&bytes);
                    map.map = parsed.map;
                    map.two_byte = two_byte || parsed.two_byte;
                }
            }
        }
        self.fonts.insert(name.to_vec(), map.clone());
        map
    }

    fn newline(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with('\n') {
            self.out.push('\n');
        }
    }

    fn space(&mut self) {
        if !self.out.is_empty() && !self.out.ends_with([' ', '\n']) {
            self.out.push(' ');
        }
    }

    fn run(
        &mut self,
        ctx: &Ctx,
        content: &[u8],
        resources: &Obj,
        depth: u32,
        unsupported: &mut usize,
    ) -> Result<(), ExtractError> {
        let mut lexer = Lexer::new(content, 0);
        let mut operands: Vec<Obj> = Vec::new();
        while let Some(token) = lexer.object(0) {
            let Obj::Op(op) = token else {
                if operands.len() >= MAX_OPERANDS {
                    operands.remove(0);
                }
                operands.push(token);
                continue;
            };
            match op.as_slice() {
                b"Tf" => {
                    if let Some(Obj::Name(name)) = operands.first() {
                        let name = name.clone();
                        self.font = self.font_map(resources, &name, unsupported, ctx);
                    }
                }
                b"Tj" => self.show(operands.last()),
                b"'" | b"\"" => {
                    self.newline();
                    self.show(operands.last());
                }
                b"TJ" => {
                    if let Some(Obj::Array(items)) = operands.last() {
                        for item in items {
                            match item {
                                Obj::Str(s) => {
                                    let font = std::mem::take(&mut self.font);
                                    font.decode(s, self.out);
                                    self.font = font;
                                }
                                // A large negative adjustment is a word gap.
                                Obj::Num(n) if *n < -200.0 => self.space(),
                                _ => {}
                            }
                        }
                    }
                }
                b"T*" => self.newline(),
                b"Td" | b"TD" => {
                    let ty = operands.get(1).and_then(Obj::as_num).unwrap_or(0.0);
                    if ty.abs() > 0.01 {
                        self.newline();
                    } else {
                        self.space();
                    }
                }
                b"Tm" => {
                    let y = operands.get(5).and_then(Obj::as_num);
                    match (self.last_y, y) {
                        (Some(last), Some(y)) if (last - y).abs() < 0.01 => self.space(),
                        _ => self.newline(),
                    }
                    self.last_y = y;
                }
                b"BT" => self.last_y = None,
                b"ET" => self.space(),
                b"Do" if depth < MAX_FORM_DEPTH => {
                    if let Some(Obj::Name(name)) = operands.last() {
                        self.form(ctx, resources, &name.clone(), depth, unsupported)?;
                    }
                }
                // Inline image data: skip to `EI`.
                b"ID" => {
                    let rest = content.get(lexer.pos..).unwrap_or_default();
                    let end = memchr::memmem::find_iter(rest, b"EI")
                        .find(|&p| {
                            p > 0
                                && is_white(rest[p - 1])
                                && rest.get(p + 2).is_none_or(|&b| is_white(b) || is_delim(b))
                        })
                        .map_or(rest.len(), |p| p + 2);
                    lexer.pos += end;
                }
                _ => {}
            }
            operands.clear();
        }
        Ok(())
    }

    fn show(&mut self, operand: Option<&Obj>) {
        if let Some(Obj::Str(s)) = operand {
            let font = std::mem::take(&mut self.font);
            font.decode(s, self.out);
            self.font = font;
        }
    }

    /// A Form XObject drawn with `Do`: its text belongs to the page.
    fn form(
        &mut self,
        ctx: &Ctx,
        resources: &Obj,
        name: &[u8],
        depth: u32,
        unsupported: &mut usize,
    ) -> Result<(), ExtractError> {
        let xobjects = self
            .doc
            .resolve(resources.get(b"XObject").unwrap_or(&Obj::Null));
        let Some(Obj::Ref(num)) = xobjects.get(name) else {
            return Ok(());
        };
        let Some((dict, raw)) = self.doc.stream(*num) else {
            return Ok(());
        };
        if !dict.name_is(b"Subtype", b"Form") {
            return Ok(());
        }
        let Some(content) = decode_stream(ctx, dict, raw, unsupported)? else {
            return Ok(());
        };
        let own = dict.get(b"Resources").map(|r| self.doc.resolve(r).clone());
        let form_resources = own.unwrap_or_else(|| resources.clone());
        // Fonts are named per resource dictionary.
        let saved = std::mem::take(&mut self.fonts);
        let result = self.run(ctx, &content, &form_resources, depth + 1, unsupported);
        self.fonts = saved;
        result
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::config::ExtractLimits;
    use crate::entity::Entity;
    use crate::report::{Event, SkipReason};
    use std::io::Write;

    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        e.write_all(data).expect("zlib");
        e.finish().expect("zlib")
    }

    fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
        let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        body
    }

    /// Objects numbered from 1, no xref at all (we never read it).
    fn pdf(objects: &[Vec<u8>], trailer: &str) -> Vec<u8> {
        let mut out = b"%PDF-1.7\n".to_vec();
        for (i, body) in objects.iter().enumerate() {
            out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
            out.extend_from_slice(body);
            out.extend_from_slice(b"\nendobj\n");
        }
        out.extend_from_slice(format!("trailer\n{trailer}\n%%EOF\n").as_bytes());
        out
    }

    fn one_page(content: &[u8], resources: &str) -> Vec<Vec<u8>> {
        vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            format!("<< /Type /Pages /Kids [3 0 R] /Count 1 /Resources {resources} >>")
                .into_bytes(),
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R >>".to_vec(),
            stream("/Filter /FlateDecode", &zlib(content)),
        ]
    }

    fn page_text(events: &[Event]) -> Vec<(String, Option<u64>)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::Finding(f) => Some((f.field.clone(), f.line)),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn text_operators_strings_and_lines() {
        let content = br"BT /F1 9 Tf 10 700 Td (Name: O\(Brien\) \101\102) Tj T* [(SSN: 219-4)20(5-6780)] TJ 0 -12 Td <444F423A2030332F31342F31393632> Tj ET";
        let data = pdf(&one_page(content, "<< >>"), "<< /Root 1 0 R >>");
        let events = scan("a.pdf", &data);
        assert_eq!(
            findings(&events),
            vec![
                finding("a.pdf", Entity::Ssn, "page 1", "219-45-6780"),
                finding("a.pdf", Entity::Dob, "page 1", "03/14/1962"),
            ]
        );
        assert_eq!(
            page_text(&events),
            vec![
                ("page 1".to_string(), Some(2)),
                ("page 1".to_string(), Some(3))
            ]
        );
    }

    #[test]
    fn pages_come_in_page_tree_order_without_any_xref() {
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [4 0 R 3 0 R] /Count 2 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents 5 0 R >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /Contents [6 0 R] >>".to_vec(),
            stream("", b"BT (SSN 219-45-6780) Tj ET"),
            stream("", b"BT (cover page) Tj ET"),
        ];
        let data = pdf(&objects, "<< /Root 1 0 R /Size 99 >>\nstartxref\n123456");
        assert_eq!(
            findings(&scan("b.pdf", &data)),
            vec![finding("b.pdf", Entity::Ssn, "page 2", "219-45-6780")]
        );
    }

    #[test]
    fn image_only_pdf_is_reported_as_no_text() {
        let objects = one_page(b"q 100 0 0 100 0 0 cm /Im1 Do Q", "<< >>");
        let data = pdf(&objects, "<< /Root 1 0 R >>");
        let events = scan("scan.pdf", &data);
        assert!(findings(&events).is_empty());
        assert_eq!(
            skipped(&events),
            vec![("scan.pdf".to_string(), SkipReason::NoText)]
        );
    }

    #[test]
    fn encrypted_pdf_is_reported() {
        let data = pdf(
            &one_page(b"BT (x) Tj ET", "<< >>"),
            "<< /Root 1 0 R /Encrypt 9 0 R >>",
        );
        assert_eq!(
            skipped(&scan("e.pdf", &data)),
            vec![("e.pdf".to_string(), SkipReason::Encrypted)]
        );
    }

    #[test]
    fn to_unicode_maps_two_byte_codes() {
        let cmap = b"/CIDInit /ProcSet findresource begin 12 dict begin begincmap\n\
1 begincodespacerange <0000> <FFFF> endcodespacerange\n\
2 beginbfchar <0001> <0053> <0002> <004E> endbfchar\n\
1 beginbfrange <0010> <0019> <0030> endbfrange\n\
1 beginbfrange <0020> <0021> [<003A> <002D>] endbfrange\n\
endcmap end end";
        let mut objects = one_page(
            b"BT /F9 10 Tf <000100010002002000120011001900210014001500210016001700180010> Tj ET",
            "<< /Font << /F9 5 0 R >> >>",
        );
        objects.push(
            b"<< /Type /Font /Subtype /Type0 /Encoding /Identity-H /ToUnicode 6 0 R >>".to_vec(),
        );
        objects.push(stream("", cmap));
        let data = pdf(&objects, "<< /Root 1 0 R >>");
        // Codes: S S N : 2 1 9 - 4 5 - 6 7 8 0
        let events = scan("u.pdf", &data);
        assert_eq!(
            findings(&events),
            vec![finding("u.pdf", Entity::Ssn, "page 1", "219-45-6780")]
        );
    }

    #[test]
    fn objects_inside_object_streams_are_found() {
        // Catalog (10), page tree (11) and page (12) live in a compressed
        // object stream; the root is named by the xref stream's dictionary.
        let bodies = [
            "<< /Type /Catalog /Pages 11 0 R >>",
            "<< /Type /Pages /Kids [12 0 R] /Count 1 >>",
            "<< /Type /Page /Parent 11 0 R /Contents 3 0 R >>",
        ];
        let mut offsets = Vec::new();
        let mut objects = String::new();
        for body in bodies {
            offsets.push(objects.len());
            objects.push_str(body);
            objects.push(' ');
        }
        let header = format!("10 {} 11 {} 12 {} ", offsets[0], offsets[1], offsets[2]);
        let inner = format!("{header}{objects}");
        let dict = format!(
            "/Type /ObjStm /N 3 /First {} /Filter /FlateDecode",
            header.len()
        );
        let file_objects = vec![
            stream("/Type /XRef /Root 10 0 R", b"\x01\x02"),
            stream(&dict, &zlib(inner.as_bytes())),
            stream("", b"BT (SSN 219-45-6780) Tj ET"),
        ];
        let data = pdf(&file_objects, "<< >>");
        let events = scan("o.pdf", &data);
        assert_eq!(
            findings(&events),
            vec![finding("o.pdf", Entity::Ssn, "page 1", "219-45-6780")]
        );
    }

    #[test]
    fn pdf_larger_than_the_document_limit_is_refused() {
        let limits = ExtractLimits {
            max_document_bytes: 100,
            ..ExtractLimits::default()
        };
        let data = pdf(
            &one_page(b"BT (SSN 219-45-6780) Tj ET", "<< >>"),
            "<< /Root 1 0 R >>",
        );
        assert_eq!(
            skipped(&scan_with(limits, "big.pdf", &data)),
            vec![("big.pdf".to_string(), SkipReason::Limit)]
        );
    }

    #[test]
    fn text_that_mentions_a_pdf_header_is_scanned_as_text() {
        let events = scan(
            "log.txt",
            b"upload ok: %PDF-1.4 header seen\nSSN 219-45-6780\n",
        );
        assert_eq!(
            findings(&events),
            vec![finding("log.txt", Entity::Ssn, "", "219-45-6780")]
        );
        assert!(skipped(&events).is_empty());
    }

    #[test]
    fn damaged_pdfs_never_panic() {
        let engine = engine(ExtractLimits::default());
        let data = pdf(
            &one_page(
                b"BT /F1 1 Tf [(a) -300 (b)] TJ (c) ' 1 2 3 4 5 6 Tm ET",
                "<< /Font << /F1 5 0 R >> >>",
            ),
            "<< /Root 1 0 R >>",
        );
        for cut in 0..data.len() {
            let _ = scan_using(&engine, "d.pdf", &data[..cut]);
            let mut flipped = data.clone();
            flipped[cut] ^= 0x5A;
            let _ = scan_using(&engine, "d.pdf", &flipped);
        }
        for junk in [
            &b"%PDF-1 obj"[..],
            b"%PDF- 1 0 obj << /Length 99999999999999999999 >> stream",
            b"%PDF-((((((((",
            b"%PDF-<<<<<<<<[[[[[[1 0 R",
        ] {
            let _ = scan_using(&engine, "j.pdf", junk);
        }
        let deep = format!("%PDF-1.4\n1 0 obj {} endobj", "[".repeat(100_000));
        let _ = scan_using(&engine, "deep.pdf", deep.as_bytes());
    }
}
