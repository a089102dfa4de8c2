//! The file's objects. The cross-reference table is never trusted: the
//! file is scanned for `N G obj` (stream bodies are stepped over), so files
//! with a broken or missing xref read the same, and the last definition of
//! an object in the file wins (incremental updates). Objects in object
//! streams (`/ObjStm`) are indexed from each stream's header. Objects are
//! parsed when first asked for and kept in a bounded cache, so memory
//! follows what a page needs, not the file's object count.

use super::filters::{self, Chain};
use super::syntax::{is_delim, is_white, Lexer, Obj};
use crate::error::ExtractError;
use crate::extract::Budget;
use std::cell::{Cell, RefCell};
use std::collections::{HashMap, HashSet};
use std::io::Read;
use std::ops::{Deref, Range};
use std::rc::Rc;

/// Parsed objects kept (counted in items: numbers, names, entries ...);
/// past it the cache is emptied.
const MAX_CACHED_ITEMS: usize = 1 << 19;
/// Bytes of one decoded object stream; the objects past it are lost.
const MAX_OBJECT_STREAM: usize = 32 << 20;
/// Decoded object-stream bytes kept at once.
const MAX_OBJECT_STREAMS_HELD: usize = 32 << 20;
/// Objects indexed per file (about 60 bytes each); later ones are not
/// seen and the file is reported cut.
const MAX_OBJECTS: usize = 1 << 20;
/// Object streams opened per file.
const MAX_OBJECT_STREAMS: usize = 1 << 16;

#[derive(Clone)]
enum Loc {
    /// `body`: where the object's value starts; `stream`: its data.
    Direct {
        body: usize,
        stream: Option<Range<usize>>,
    },
    /// In object stream `stream`, at `offset` past its `/First`.
    Packed { stream: u32, offset: usize },
}

struct Unpacked {
    bytes: Vec<u8>,
    first: usize,
}

/// An object as resolved: borrowed from where it was written, or shared
/// from the cache.
pub(super) enum Val<'a> {
    Here(&'a Obj),
    Shared(Rc<Obj>),
}

impl Deref for Val<'_> {
    type Target = Obj;
    fn deref(&self) -> &Obj {
        match self {
            Val::Here(o) => o,
            Val::Shared(o) => o,
        }
    }
}

pub(super) struct Document<'d> {
    pub data: &'d [u8],
    /// Object number → (file position of the definition, where it is).
    index: HashMap<u32, (usize, Loc)>,
    cache: RefCell<HashMap<u32, Rc<Obj>>>,
    cached_items: Cell<usize>,
    unpacked: RefCell<HashMap<u32, Rc<Unpacked>>>,
    unpacked_bytes: Cell<usize>,
    /// Object streams being decoded (a `/Length` inside itself).
    opening: RefCell<HashSet<u32>>,
    trailers: Vec<Obj>,
    budget: &'d Budget,
    pub max_expanded: u64,
    pub max_ratio: u64,
    /// Set when an object stream was cut by a limit.
    pub cut: RefCell<Option<String>>,
}

/// A page: its object, its (inherited) resources and media box.
pub(super) struct PageRef {
    pub num: u32,
    pub resources: Rc<Obj>,
    pub media_box: [f64; 4],
}

impl<'d> Document<'d> {
    pub fn parse(
        data: &'d [u8],
        budget: &'d Budget,
        max_expanded: u64,
        max_ratio: u64,
    ) -> Result<Document<'d>, ExtractError> {
        let mut doc = Document {
            data,
            index: HashMap::new(),
            cache: RefCell::default(),
            cached_items: Cell::new(0),
            unpacked: RefCell::default(),
            unpacked_bytes: Cell::new(0),
            opening: RefCell::default(),
            trailers: Vec::new(),
            budget,
            max_expanded,
            max_ratio,
            cut: RefCell::new(None),
        };
        let mut object_streams = Vec::new();
        let mut from = 0;
        while let Some(found) = memchr::memmem::find(&data[from..], b"obj") {
            let at = from + found;
            from = at + 3;
            let Some((num, body)) = object_header(data, at) else {
                continue;
            };
            let (value, stream) = parse_object_body(data, body);
            if let Some(range) = &stream {
                // Stream data is skipped: an `obj` in it is no object.
                from = from.max(range.end);
                if value.name_is(b"Type", b"ObjStm") {
                    object_streams.push((body, num));
                }
                if value.name_is(b"Type", b"XRef") {
                    doc.trailers.push(value.clone());
                }
            }
            if doc.index.len() >= MAX_OBJECTS && !doc.index.contains_key(&num) {
                *doc.cut.borrow_mut() = Some(format!("more than {MAX_OBJECTS} objects"));
                break;
            }
            doc.index.insert(num, (body, Loc::Direct { body, stream }));
        }
        for at in memchr::memmem::find_iter(data, b"trailer") {
            let mut lexer = Lexer::new(data, at + b"trailer".len());
            if let Some(t @ Obj::Dict(_)) = lexer.object(0) {
                doc.trailers.push(t);
            }
        }
        // Object streams in file order: a later definition wins.
        object_streams.sort_unstable();
        for (position, num) in object_streams.into_iter().take(MAX_OBJECT_STREAMS) {
            if doc.budget.out_of_time() {
                break;
            }
            // The index entry may have been replaced by a later object.
            if !matches!(doc.index.get(&num), Some((p, _)) if *p == position) {
                continue;
            }
            let Some(unpacked) = doc.unpack(num)? else {
                continue;
            };
            let Some(dict) = doc.get(num) else { continue };
            let count = dict.get(b"N").and_then(Obj::as_num).unwrap_or(0.0).max(0.0) as usize;
            let mut header = Lexer::new(&unpacked.bytes, 0);
            let mut seen = 0;
            while seen < count && header.pos < unpacked.first.min(unpacked.bytes.len()) {
                match (header.object(0), header.object(0)) {
                    (Some(Obj::Num(n)), Some(Obj::Num(offset)))
                        if n >= 0.0 && offset >= 0.0 && n <= f64::from(u32::MAX) =>
                    {
                        let n = n as u32;
                        let later = doc.index.get(&n).is_none_or(|(p, _)| *p < position);
                        let room = doc.index.len() < MAX_OBJECTS || doc.index.contains_key(&n);
                        if later && room {
                            let loc = Loc::Packed {
                                stream: num,
                                offset: offset as usize,
                            };
                            doc.index.insert(n, (position, loc));
                        }
                    }
                    _ => break,
                }
                seen += 1;
            }
        }
        // Objects come back as they are asked for.
        doc.cache.borrow_mut().clear();
        doc.cached_items.set(0);
        Ok(doc)
    }

    pub fn is_empty(&self) -> bool {
        self.index.is_empty()
    }

    /// Charges `n` expanded bytes to the file's budget.
    pub fn charge(&self, n: usize) -> Result<(), ExtractError> {
        let total = self.budget.expanded.get().saturating_add(n as u64);
        self.budget.expanded.set(total);
        if total > self.max_expanded {
            return Err(ExtractError::Limit(format!(
                "more than {} bytes expanded from one file",
                self.max_expanded
            )));
        }
        Ok(())
    }

    pub fn budget(&self) -> &'d Budget {
        self.budget
    }

    pub fn get(&self, num: u32) -> Option<Rc<Obj>> {
        if let Some(o) = self.cache.borrow().get(&num) {
            return Some(o.clone());
        }
        let (_, loc) = self.index.get(&num)?;
        let value = match loc.clone() {
            Loc::Direct { body, .. } => Lexer::new(self.data, body).value(0)?,
            Loc::Packed { stream, offset } => {
                let unpacked = self.unpack(stream).ok().flatten()?;
                let at = unpacked.first.checked_add(offset)?;
                if at >= unpacked.bytes.len() {
                    return None;
                }
                Lexer::new(&unpacked.bytes, at).value(0)?
            }
        };
        let value = Rc::new(value);
        let items = weight(&value);
        if self.cached_items.get() + items > MAX_CACHED_ITEMS {
            self.cache.borrow_mut().clear();
            self.cached_items.set(0);
        }
        self.cached_items.set(self.cached_items.get() + items);
        self.cache.borrow_mut().insert(num, value.clone());
        Some(value)
    }

    /// Follows references (a few levels; a cycle ends in null).
    pub fn resolve<'a>(&self, obj: &'a Obj) -> Val<'a> {
        let mut current = match obj {
            Obj::Ref(n) => *n,
            other => return Val::Here(other),
        };
        for _ in 0..8 {
            match self.get(current) {
                Some(target) => match &*target {
                    Obj::Ref(n) => current = *n,
                    _ => return Val::Shared(target),
                },
                None => break,
            }
        }
        Val::Here(&Obj::Null)
    }

    /// `dict[key]`, resolved.
    pub fn entry<'a>(&self, dict: &'a Obj, key: &[u8]) -> Val<'a> {
        match dict.get(key) {
            Some(v) => self.resolve(v),
            None => Val::Here(&Obj::Null),
        }
    }

    /// Resolves into an owned object (for values kept past a borrow).
    pub fn owned(&self, obj: &Obj) -> Obj {
        (*self.resolve(obj)).clone()
    }

    pub fn encrypted(&self) -> bool {
        self.trailers.iter().any(|t| t.get(b"Encrypt").is_some())
    }

    /// A stream object: its dictionary and raw (still filtered) bytes.
    pub fn stream(&self, num: u32) -> Option<(Rc<Obj>, &'d [u8])> {
        let (_, Loc::Direct { stream, .. }) = self.index.get(&num)? else {
            return None;
        };
        let range = stream.clone()?;
        let raw = self.data.get(range)?;
        Some((self.get(num)?, raw))
    }

    /// The reader chain of a stream (filters resolved).
    pub fn open(&self, dict: &Obj, raw: &'d [u8]) -> Chain<'d> {
        let filters = filters::filters_of(dict, &|o| self.owned(o));
        filters::chain(
            raw,
            &filters,
            self.max_ratio,
            super::super::expand::RATIO_FLOOR,
        )
    }

    /// A whole stream decoded, at most `cap` bytes (the rest is dropped
    /// and `true` returned with it). `None` when a filter is not
    /// supported (an image codec). Damaged data ends the stream.
    pub fn read(
        &self,
        dict: &Obj,
        raw: &'d [u8],
        cap: usize,
    ) -> Result<Option<(Vec<u8>, bool)>, ExtractError> {
        let mut chain = self.open(dict, raw);
        if chain.stopped_at.is_some() {
            return Ok(None);
        }
        let mut out = Vec::new();
        let mut buf = vec![0u8; 16 << 10];
        loop {
            let n = match chain.reader.read(&mut buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) => match crate::extract::uncarry(e.into()) {
                    e @ ExtractError::Limit(_) => return Err(e),
                    _ => break,
                },
            };
            self.charge(n)?;
            let room = cap.saturating_sub(out.len());
            out.extend_from_slice(&buf[..n.min(room)]);
            if n > room {
                return Ok(Some((out, true)));
            }
        }
        Ok(Some((out, false)))
    }

    /// Stream object `num` decoded (see [`Document::read`]).
    pub fn read_object(
        &self,
        num: u32,
        cap: usize,
    ) -> Result<Option<(Vec<u8>, bool)>, ExtractError> {
        match self.stream(num) {
            Some((dict, raw)) => self.read(&dict, raw, cap),
            None => Ok(None),
        }
    }

    fn unpack(&self, num: u32) -> Result<Option<Rc<Unpacked>>, ExtractError> {
        if let Some(u) = self.unpacked.borrow().get(&num) {
            return Ok(Some(u.clone()));
        }
        if !self.opening.borrow_mut().insert(num) {
            return Ok(None);
        }
        let result = self.unpack_now(num);
        self.opening.borrow_mut().remove(&num);
        let Some(unpacked) = result? else {
            return Ok(None);
        };
        let size = unpacked.bytes.len();
        if self.unpacked_bytes.get() + size > MAX_OBJECT_STREAMS_HELD {
            self.unpacked.borrow_mut().clear();
            self.unpacked_bytes.set(0);
        }
        self.unpacked_bytes.set(self.unpacked_bytes.get() + size);
        let unpacked = Rc::new(unpacked);
        self.unpacked.borrow_mut().insert(num, unpacked.clone());
        Ok(Some(unpacked))
    }

    fn unpack_now(&self, num: u32) -> Result<Option<Unpacked>, ExtractError> {
        let Some((dict, raw)) = self.stream(num) else {
            return Ok(None);
        };
        let first = dict
            .get(b"First")
            .and_then(Obj::as_num)
            .unwrap_or(0.0)
            .max(0.0) as usize;
        let Some((bytes, cut)) = self.read(&dict, raw, MAX_OBJECT_STREAM)? else {
            return Ok(None);
        };
        if cut {
            *self.cut.borrow_mut() = Some(format!(
                "an object stream holds more than {MAX_OBJECT_STREAM} bytes"
            ));
        }
        Ok(Some(Unpacked { bytes, first }))
    }

    /// Pages in page-tree order, each with its inherited resources; every
    /// page object in file order when there is no usable tree.
    pub fn pages(&self) -> Vec<PageRef> {
        let mut pages = Vec::new();
        let root = self
            .trailers
            .iter()
            .rev()
            .find_map(|t| match t.get(b"Root") {
                Some(Obj::Ref(n)) => Some(*n),
                _ => None,
            });
        let catalog = root
            .and_then(|r| self.get(r))
            .filter(|c| c.get(b"Pages").is_some());
        let catalog = catalog.or_else(|| {
            let mut found: Vec<(usize, u32)> =
                self.index.iter().map(|(n, (p, _))| (*p, *n)).collect();
            found.sort_unstable();
            found
                .into_iter()
                .rev()
                .filter_map(|(_, n)| self.get(n))
                .find(|o| o.name_is(b"Type", b"Catalog"))
        });
        if let Some(Obj::Ref(tree)) = catalog.as_ref().and_then(|c| c.get(b"Pages")) {
            let mut seen = HashSet::new();
            let inherited = Inherited {
                resources: Rc::new(Obj::Null),
                media_box: [0.0, 0.0, 612.0, 792.0],
            };
            self.walk_pages(*tree, &inherited, 0, &mut seen, &mut pages);
        }
        if pages.is_empty() {
            let mut found: Vec<(usize, u32)> =
                self.index.iter().map(|(n, (p, _))| (*p, *n)).collect();
            found.sort_unstable();
            for (_, num) in found {
                let Some(page) = self.get(num) else { continue };
                if page.name_is(b"Type", b"Page") {
                    pages.push(PageRef {
                        num,
                        resources: Rc::new(
                            self.owned(page.get(b"Resources").unwrap_or(&Obj::Null)),
                        ),
                        media_box: self.media_box(&page).unwrap_or([0.0, 0.0, 612.0, 792.0]),
                    });
                }
            }
        }
        pages
    }

    fn media_box(&self, node: &Obj) -> Option<[f64; 4]> {
        let Obj::Array(items) = &*self.entry(node, b"MediaBox") else {
            return None;
        };
        let n: Vec<f64> = items
            .iter()
            .filter_map(|i| self.resolve(i).as_num())
            .collect();
        (n.len() == 4).then(|| [n[0], n[1], n[2], n[3]])
    }

    fn walk_pages(
        &self,
        node: u32,
        inherited: &Inherited,
        depth: u32,
        seen: &mut HashSet<u32>,
        pages: &mut Vec<PageRef>,
    ) {
        if depth > super::MAX_TREE_DEPTH || !seen.insert(node) || self.budget.out_of_time() {
            return;
        }
        let Some(obj) = self.get(node) else { return };
        let resources = match obj.get(b"Resources") {
            Some(r) => Rc::new(self.owned(r)),
            None => inherited.resources.clone(),
        };
        let here = Inherited {
            resources,
            media_box: self.media_box(&obj).unwrap_or(inherited.media_box),
        };
        match &*self.entry(&obj, b"Kids") {
            Obj::Array(kids) if !obj.name_is(b"Type", b"Page") => {
                for kid in kids {
                    if let Obj::Ref(k) = kid {
                        self.walk_pages(*k, &here, depth + 1, seen, pages);
                    }
                }
            }
            _ => pages.push(PageRef {
                num: node,
                resources: here.resources,
                media_box: here.media_box,
            }),
        }
    }
}

struct Inherited {
    resources: Rc<Obj>,
    media_box: [f64; 4],
}

/// Items in an object (for the cache's bound).
fn weight(obj: &Obj) -> usize {
    match obj {
        Obj::Array(items) => 1 + items.iter().map(weight).sum::<usize>(),
        Obj::Dict(entries) => 1 + entries.iter().map(|(_, v)| 1 + weight(v)).sum::<usize>(),
        Obj::Str(s) | Obj::Name(s) | Obj::Op(s) => 1 + s.len() / 32,
        _ => 1,
    }
}

/// At `at` is `obj`: checks for `N G ` before it and a delimiter after.
/// Returns the object number and where its body starts.
pub(super) fn object_header(data: &[u8], at: usize) -> Option<(u32, usize)> {
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

pub(super) fn parse_object_body(data: &[u8], start: usize) -> (Obj, Option<Range<usize>>) {
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
