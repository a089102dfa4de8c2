//! Office documents, which are zip archives of XML parts: Office Open XML
//! (`.docx`, `.xlsx`, `.pptx`) and OpenDocument (`.odt`, `.ods`, `.odp`).
//! Recognised by the parts they hold, not by the file name.
//!
//! Text goes to the matcher in pieces, each with a `field` and `line`:
//!
//! | format | piece | `field` | `line` |
//! |---|---|---|---|
//! | docx | paragraph | `""` (body), `header1`, `footer2`, `footnotes`, `endnotes`, `comments` | paragraph number in that part |
//! | docx | table row (cells tab-separated) | `table 2 row 3`, prefixed by the part name outside the body | number of the row's first paragraph |
//! | xlsx | cell (shared string, inline string, formula result or number) | `Sheet1!C7` (sheet name from workbook.xml) | row number |
//! | pptx | paragraph / table row | `slide 3`, `slide 3 table 1 row 2`, `notes 3` | paragraph number in the slide |
//! | odt/odp | paragraph / table row | `""`, `table 1 row 2` | paragraph number |
//! | ods | cell | `Sheet1!C7` | row number |
//!
//! `column` is the character position inside the piece. A table row is one
//! piece so that a label in one cell ("SSN") is context for the value in
//! the next. Parts are read through the zip member limits (ratio, expansion
//! budget) and each part is capped at `max_document_bytes`.

use super::zipped::open_member;
use super::{carry, uncarry, Ctx, Location};
use crate::entity::Entity;
use crate::error::ExtractError;
use quick_xml::events::{BytesStart, Event};
use quick_xml::Reader;
use std::collections::HashMap;
use std::io::{self, BufReader, Read, Seek};
use zip::ZipArchive;

/// Scans `archive` as an Office document if it is one; `Ok(false)` if it
/// is a plain archive.
pub fn scan_if_office<R: Read + Seek>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
) -> Result<bool, ExtractError> {
    if archive.index_for_name("word/document.xml").is_some() {
        scan_docx(ctx, archive)?;
        return Ok(true);
    }
    if archive.index_for_name("xl/workbook.xml").is_some() {
        scan_xlsx(ctx, archive)?;
        return Ok(true);
    }
    if archive.index_for_name("ppt/presentation.xml").is_some() {
        scan_pptx(ctx, archive)?;
        return Ok(true);
    }
    if archive.index_for_name("content.xml").is_some() {
        if let Some(mime) = odf_mimetype(ctx, archive) {
            if mime.starts_with("application/vnd.oasis.opendocument.") {
                scan_odf(ctx, archive, mime.contains("spreadsheet"))?;
                return Ok(true);
            }
        }
    }
    Ok(false)
}

/// An OLE2 compound file: a password-protected OOXML document (its
/// directory names an `EncryptedPackage` stream) or a legacy binary Office
/// file (`.doc`, `.xls`, `.ppt`), which we do not read. Either way it is
/// reported, not passed over as binary: such files often hold PHI.
pub fn scan_ole2(head: &[u8]) -> Result<(), ExtractError> {
    let encrypted_package: Vec<u8> = "EncryptedPackage"
        .encode_utf16()
        .flat_map(u16::to_le_bytes)
        .collect();
    if memchr::memmem::find(head, &encrypted_package).is_some() {
        return Err(ExtractError::Encrypted);
    }
    Err(ExtractError::Unsupported(
        "legacy binary Office document (OLE2: .doc/.xls/.ppt)".into(),
    ))
}

/// Stops a part at `max_document_bytes` with a limit error.
struct Capped<R> {
    inner: R,
    left: u64,
    cap: u64,
}

impl<R: Read> Read for Capped<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.left == 0 {
            // One byte more tells a part of exactly `cap` bytes from a bigger one.
            let mut probe = [0u8; 1];
            return match self.inner.read(&mut probe)? {
                0 => Ok(0),
                _ => Err(carry(ExtractError::Limit(format!(
                    "document part larger than {} bytes",
                    self.cap
                )))),
            };
        }
        let want = buf
            .len()
            .min(usize::try_from(self.left).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.left -= n as u64;
        Ok(n)
    }
}

/// Longest run of XML text between two markup characters read. The XML
/// reader holds a whole text node in memory (and its text is copied twice
/// more before it is matched): a part that is one text node of 300 MB
/// took 0.8 GB. A longer run ends the part as a limit; the text of the
/// run so far is still matched ([`salvage`]).
const MAX_XML_RUN: usize = 8 << 20;
/// Text collected for one paragraph or table row before it is matched in
/// pieces: a paragraph of many runs must not grow without bound either.
const MAX_PIECE: usize = 1 << 20;

/// Fails a read once more than [`MAX_XML_RUN`] bytes came without a `<`
/// or `>`.
struct BoundedRuns<R> {
    inner: R,
    run: usize,
}

impl<R: Read> Read for BoundedRuns<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.run > MAX_XML_RUN {
            return Err(carry(ExtractError::Limit(format!(
                "an XML text run longer than {} MiB; the rest of the part was not read",
                MAX_XML_RUN >> 20
            ))));
        }
        let n = self.inner.read(buf)?;
        match memchr::memrchr2(b'<', b'>', &buf[..n]) {
            Some(last) => self.run = n - last - 1,
            None => self.run += n,
        }
        Ok(n)
    }
}

/// The text an XML reader had read of a node when reading failed (a limit
/// or a cut file): lost otherwise, though it may hold the first values of a
/// huge node.
fn salvage(buf: &[u8]) -> String {
    String::from_utf8_lossy(buf).into_owned()
}

/// Matches `text` in pieces of at most about [`MAX_PIECE`] bytes once it
/// grows past that, cut at whitespace so that a value stays whole; the
/// rest stays in `text`.
fn match_long_text(ctx: &mut Ctx, field: &str, text: &mut String, line: u64) {
    while text.len() > MAX_PIECE {
        let mut cut = MAX_PIECE;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        let cut = text[..cut]
            .rfind(char::is_whitespace)
            .filter(|&at| at > MAX_PIECE / 2)
            .unwrap_or(cut);
        ctx.text(field, &text[..cut], Location { line, column: 1 });
        text.drain(..cut);
    }
}

/// Opens a part by name and runs `f` over an XML reader on it. `Ok(None)`
/// when the part is missing.
fn with_part<R: Read + Seek, T>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
    name: &str,
    f: impl FnOnce(&mut Ctx, &mut Reader<BufReader<&mut dyn Read>>) -> Result<T, ExtractError>,
) -> Result<Option<T>, ExtractError> {
    let Some(index) = archive.index_for_name(name) else {
        return Ok(None);
    };
    let cap = ctx.limits().max_document_bytes;
    let Some((member, _size)) = open_member(ctx, archive, index)? else {
        return Ok(None);
    };
    let mut capped = Capped {
        inner: BoundedRuns {
            inner: member,
            run: 0,
        },
        left: cap,
        cap,
    };
    let result = {
        let input: &mut dyn Read = &mut capped;
        let mut reader = Reader::from_reader(BufReader::new(input));
        let config = reader.config_mut();
        config.trim_text(false);
        config.check_end_names = false;
        f(ctx, &mut reader)
    };
    // A part cut short by the ratio or budget limit: what was read counted,
    // but the part was not examined in full.
    if let Some(limit) = capped.inner.inner.tripped.take() {
        return Err(limit);
    }
    result.map(Some)
}

fn xml_error(e: quick_xml::Error, format: &'static str) -> ExtractError {
    match e {
        quick_xml::Error::Io(_) => uncarry(ExtractError::Io(io::Error::other(e))),
        other => ExtractError::Corrupt {
            format,
            message: other.to_string(),
        },
    }
}

/// Text of a text event, entities decoded; undecodable entities kept as
/// written rather than losing the text around them.
fn event_text(e: &quick_xml::events::BytesText) -> String {
    match e.unescape() {
        Ok(t) => t.into_owned(),
        Err(_) => String::from_utf8_lossy(e).into_owned(),
    }
}

fn attr(e: &BytesStart, key: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.as_ref() == key)
        .map(|a| match a.unescape_value() {
            Ok(v) => v.into_owned(),
            Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
        })
}

/// The value of an attribute named `local` in any namespace (`r:id`).
fn attr_local(e: &BytesStart, local: &[u8]) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == local)
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// The `r:id` attribute (a relationship id), told from a plain `id` by
/// its namespace prefix.
fn relationship_id(e: &BytesStart) -> Option<String> {
    e.attributes()
        .flatten()
        .find(|a| a.key.local_name().as_ref() == b"id" && a.key.prefix().is_some())
        .map(|a| String::from_utf8_lossy(&a.value).into_owned())
}

/// Relationship id → part name, from a `.rels` part. Targets are resolved
/// against `base` (the folder of the part the relationships belong to).
fn read_rels<R: Read + Seek>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
    rels: &str,
    base: &str,
) -> Result<HashMap<String, String>, ExtractError> {
    let map = with_part(ctx, archive, rels, |_, reader| {
        let mut map = HashMap::new();
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e) | Event::Empty(e))
                    if e.local_name().as_ref() == b"Relationship" =>
                {
                    if let (Some(id), Some(target)) = (attr(&e, b"Id"), attr(&e, b"Target")) {
                        map.insert(id, resolve_part(base, &target));
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(xml_error(e, "office relationships")),
            }
            buf.clear();
        }
        Ok(map)
    })?;
    Ok(map.unwrap_or_default())
}

/// `worksheets/sheet1.xml` relative to `xl/` → `xl/worksheets/sheet1.xml`;
/// absolute targets (`/xl/...`) lose their slash; `..` steps up.
fn resolve_part(base: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        base.split('/').filter(|p| !p.is_empty()).collect()
    };
    for piece in target.split('/') {
        match piece {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    parts.join("/")
}

/// Collects paragraphs and table rows of WordprocessingML and DrawingML
/// (both use `p`, `t`, `tbl`, `tr`, `tc`, `tab`, `br` as local names).
struct Flow<'f> {
    /// Field of free paragraphs; table rows get ` table N row M` after it.
    field: &'f str,
    paragraph: u64,
    text: String,
    in_text: bool,
    table_depth: u32,
    table: u64,
    row: u64,
    row_text: String,
    row_line: u64,
    /// Entities of the current table's columns, by its first row.
    columns: Vec<Option<Entity>>,
}

impl<'f> Flow<'f> {
    fn new(field: &'f str) -> Self {
        Flow {
            field,
            paragraph: 0,
            text: String::new(),
            in_text: false,
            table_depth: 0,
            table: 0,
            row: 0,
            row_text: String::new(),
            row_line: 0,
            columns: Vec::new(),
        }
    }

    fn run<B: io::BufRead>(
        &mut self,
        ctx: &mut Ctx,
        reader: &mut Reader<B>,
    ) -> Result<(), ExtractError> {
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e)) => match e.local_name().as_ref() {
                    // delText: deleted with change tracking on, still in the file.
                    b"t" | b"delText" => self.in_text = true,
                    b"tbl" => {
                        self.table_depth += 1;
                        if self.table_depth == 1 {
                            self.table += 1;
                            self.row = 0;
                            self.columns.clear();
                        }
                    }
                    b"tr" if self.table_depth == 1 => {
                        self.row += 1;
                        self.row_text.clear();
                        self.row_line = self.paragraph + 1;
                    }
                    _ => {}
                },
                Ok(Event::Empty(e)) => match e.local_name().as_ref() {
                    b"tab" => self.text.push('\t'),
                    b"br" | b"cr" => self.text.push(' '),
                    _ => {}
                },
                Ok(Event::End(e)) => match e.local_name().as_ref() {
                    b"t" | b"delText" => self.in_text = false,
                    b"p" => self.end_paragraph(ctx),
                    b"tc" if self.table_depth > 0 => self.row_text.push('\t'),
                    b"tr" if self.table_depth == 1 => self.end_row(ctx),
                    b"tbl" => self.table_depth = self.table_depth.saturating_sub(1),
                    _ => {}
                },
                Ok(Event::Text(t)) if self.in_text => {
                    self.text.push_str(&event_text(&t));
                    self.match_long_text(ctx);
                }
                Ok(Event::CData(t)) if self.in_text => {
                    self.text.push_str(&String::from_utf8_lossy(&t));
                    self.match_long_text(ctx);
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => {
                    if self.in_text {
                        self.text.push_str(&salvage(&buf));
                    }
                    self.end_paragraph(ctx);
                    if self.table_depth > 0 {
                        self.end_row(ctx);
                    }
                    return Err(xml_error(e, "office XML"));
                }
            }
            buf.clear();
        }
        // Text left open by a truncated part is still text.
        self.end_paragraph(ctx);
        if self.table_depth > 0 {
            self.end_row(ctx);
        }
        Ok(())
    }

    /// Matches what a long paragraph or row collected so far, in pieces.
    fn match_long_text(&mut self, ctx: &mut Ctx) {
        if self.table_depth == 0 {
            match_long_text(ctx, self.field, &mut self.text, self.paragraph + 1);
        } else if self.text.len() + self.row_text.len() > MAX_PIECE {
            self.row_text.push_str(&std::mem::take(&mut self.text));
            let field = format!("{} table {} row {}", self.field, self.table, self.row);
            match_long_text(ctx, field.trim_start(), &mut self.row_text, self.row_line);
        }
    }

    fn end_paragraph(&mut self, ctx: &mut Ctx) {
        self.paragraph += 1;
        if self.table_depth > 0 {
            if !self.row_text.is_empty() && !self.row_text.ends_with('\t') {
                self.row_text.push(' ');
            }
            self.row_text.push_str(&self.text);
        } else if !self.text.trim().is_empty() {
            let at = Location {
                line: self.paragraph,
                column: 1,
            };
            ctx.text(self.field, &self.text, at);
        }
        self.text.clear();
    }

    fn end_row(&mut self, ctx: &mut Ctx) {
        if !self.row_text.trim().is_empty() {
            let field = if self.field.is_empty() {
                format!("table {} row {}", self.table, self.row)
            } else {
                format!("{} table {} row {}", self.field, self.table, self.row)
            };
            let line = self.row_line.max(1);
            let row = self.row_text.trim_end_matches('\t');
            if self.row == 1 {
                self.columns = super::tabular::classify_headers(row.split('\t'));
            }
            if self.row > 1 && self.columns.iter().any(Option::is_some) {
                // A table whose header row names entities: its cells under
                // such a header are field values, as in a spreadsheet.
                let mut column = 1u64;
                for (index, cell) in row.split('\t').enumerate() {
                    let at = Location { line, column };
                    column += cell.chars().count() as u64 + 1;
                    if cell.trim().is_empty() {
                        continue;
                    }
                    match self.columns.get(index).copied().flatten() {
                        Some(entity) => ctx.field_value("docx-column", &field, entity, cell, at),
                        None => ctx.text(&field, cell, at),
                    }
                }
            } else {
                ctx.text(&field, row, Location { line, column: 1 });
            }
        }
        self.row_text.clear();
    }
}

fn scan_flow_part<R: Read + Seek>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
    part: &str,
    field: &str,
) -> Result<(), ExtractError> {
    with_part(ctx, archive, part, |ctx, reader| {
        Flow::new(field).run(ctx, reader)
    })?;
    Ok(())
}

/// Runs `scan` and reports its failure against `part` instead of failing
/// the whole document: one bad header does not hide the body.
fn part_or_report(
    ctx: &mut Ctx,
    part: &str,
    scan: impl FnOnce(&mut Ctx) -> Result<(), ExtractError>,
) -> Result<(), ExtractError> {
    match scan(ctx) {
        Ok(()) => Ok(()),
        // The expansion budget is per top-level file: nothing more can be read.
        Err(ExtractError::Limit(m))
            if ctx.budget.expanded.get() > ctx.limits().max_expanded_bytes =>
        {
            Err(ExtractError::Limit(m))
        }
        Err(e) => {
            let e = uncarry(e);
            ctx.not_examined(Some(part), super::reason_of(&e), e.to_string());
            Ok(())
        }
    }
}

/// Numbered parts such as `word/header2.xml` in number order.
fn numbered_parts<R: Read + Seek>(
    archive: &ZipArchive<R>,
    prefix: &str,
    suffix: &str,
) -> Vec<(u64, String)> {
    let mut parts: Vec<(u64, String)> = archive
        .file_names()
        .filter_map(|n| {
            let number = n.strip_prefix(prefix)?.strip_suffix(suffix)?;
            let number = if number.is_empty() {
                0
            } else {
                number.parse().ok()?
            };
            Some((number, n.to_string()))
        })
        .collect();
    parts.sort();
    parts
}

fn scan_docx<R: Read + Seek>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
) -> Result<(), ExtractError> {
    // The body first: failures there fail the document.
    scan_flow_part(ctx, archive, "word/document.xml", "")?;
    let mut extra: Vec<(String, String)> = Vec::new();
    for kind in ["header", "footer"] {
        for (_, part) in numbered_parts(archive, &format!("word/{kind}"), ".xml") {
            let field = part
                .trim_start_matches("word/")
                .trim_end_matches(".xml")
                .to_string();
            extra.push((part, field));
        }
    }
    for name in ["footnotes", "endnotes", "comments"] {
        extra.push((format!("word/{name}.xml"), name.to_string()));
    }
    for (part, field) in extra {
        part_or_report(ctx, &part, |ctx| {
            scan_flow_part(ctx, archive, &part, &field)
        })?;
    }
    Ok(())
}

fn scan_pptx<R: Read + Seek>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
) -> Result<(), ExtractError> {
    // Slide order is the order of sldIdLst in presentation.xml.
    let rels = read_rels(ctx, archive, "ppt/_rels/presentation.xml.rels", "ppt")?;
    let order = with_part(ctx, archive, "ppt/presentation.xml", |_, reader| {
        let mut ids = Vec::new();
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == b"sldId" => {
                    if let Some(id) = relationship_id(&e) {
                        ids.push(id);
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(xml_error(e, "pptx")),
            }
            buf.clear();
        }
        Ok(ids)
    })?
    .unwrap_or_default();
    let mut slides: Vec<String> = order
        .iter()
        .filter_map(|id| rels.get(id).cloned())
        .collect();
    if slides.is_empty() {
        slides = numbered_parts(archive, "ppt/slides/slide", ".xml")
            .into_iter()
            .map(|(_, p)| p)
            .collect();
    }
    for (i, part) in slides.iter().enumerate() {
        let field = format!("slide {}", i + 1);
        part_or_report(ctx, part, |ctx| scan_flow_part(ctx, archive, part, &field))?;
    }
    for (number, part) in numbered_parts(archive, "ppt/notesSlides/notesSlide", ".xml") {
        let field = format!("notes {number}");
        part_or_report(ctx, &part, |ctx| {
            scan_flow_part(ctx, archive, &part, &field)
        })?;
    }
    Ok(())
}

/// `C7` → (column 3, row 7); `None` unless letters then digits.
fn parse_cell_ref(r: &str) -> Option<(u64, u64)> {
    let split = r.find(|c: char| c.is_ascii_digit())?;
    let (letters, digits) = r.split_at(split);
    if letters.is_empty() || letters.len() > 3 {
        return None;
    }
    let mut col = 0u64;
    for c in letters.chars() {
        if !c.is_ascii_alphabetic() {
            return None;
        }
        col = col * 26 + u64::from(c.to_ascii_uppercase() as u8 - b'A' + 1);
    }
    Some((col, digits.parse().ok()?))
}

/// Column number → letters (1 → A, 27 → AA).
fn column_letters(mut col: u64) -> String {
    let mut letters = Vec::new();
    while col > 0 {
        let rem = ((col - 1) % 26) as u8;
        letters.push(char::from(b'A' + rem));
        col = (col - 1) / 26;
    }
    letters.iter().rev().collect()
}

fn scan_xlsx<R: Read + Seek>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
) -> Result<(), ExtractError> {
    let rels = read_rels(ctx, archive, "xl/_rels/workbook.xml.rels", "xl")?;
    let mut date1904 = false;
    let sheets = with_part(ctx, archive, "xl/workbook.xml", |_, reader| {
        let mut sheets = Vec::new();
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e) | Event::Empty(e))
                    if e.local_name().as_ref() == b"workbookPr" =>
                {
                    date1904 = matches!(attr(&e, b"date1904").as_deref(), Some("1" | "true"));
                }
                Ok(Event::Start(e) | Event::Empty(e)) if e.local_name().as_ref() == b"sheet" => {
                    let name = attr(&e, b"name").unwrap_or_default();
                    sheets.push((name, relationship_id(&e)));
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => return Err(xml_error(e, "xlsx")),
            }
            buf.clear();
        }
        Ok(sheets)
    })?
    .unwrap_or_default();
    let styles = with_part(ctx, archive, "xl/styles.xml", |_, reader| {
        read_date_styles(reader)
    })
    .unwrap_or_default()
    .unwrap_or_default();
    let shared = with_part(ctx, archive, "xl/sharedStrings.xml", |ctx, reader| {
        read_shared_strings(ctx, reader)
    })?
    .unwrap_or_default();
    for (i, (name, rel)) in sheets.iter().enumerate() {
        let part = rel
            .as_ref()
            .and_then(|r| rels.get(r).cloned())
            .unwrap_or_else(|| format!("xl/worksheets/sheet{}.xml", i + 1));
        let sheet_name = if name.is_empty() {
            format!("Sheet{}", i + 1)
        } else {
            name.clone()
        };
        // A sheet named after a patient is a finding itself.
        if let Ok(spaced) = String::from_utf8(super::name_for_matching(&sheet_name)) {
            ctx.text("sheet name", &spaced, Location::START);
        }
        part_or_report(ctx, &part, |ctx| {
            with_part(ctx, archive, &part, |ctx, reader| {
                let cells = CellContext {
                    sheet: &sheet_name,
                    shared: &shared,
                    date_styles: &styles,
                    date1904,
                };
                scan_sheet(ctx, reader, &cells)
            })?;
            Ok(())
        })?;
    }
    Ok(())
}

/// The shared string table: each `si` is the concatenation of its `t`
/// runs, phonetic guides (`rPh`) left out.
fn read_shared_strings<B: io::BufRead>(
    _ctx: &mut Ctx,
    reader: &mut Reader<B>,
) -> Result<Vec<String>, ExtractError> {
    let mut strings = Vec::new();
    let mut current = String::new();
    let (mut in_t, mut in_phonetic) = (false, false);
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"si" => current.clear(),
                b"t" => in_t = true,
                b"rPh" => in_phonetic = true,
                _ => {}
            },
            Ok(Event::Empty(e)) if e.local_name().as_ref() == b"si" => strings.push(String::new()),
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                b"si" => strings.push(std::mem::take(&mut current)),
                b"t" => in_t = false,
                b"rPh" => in_phonetic = false,
                _ => {}
            },
            Ok(Event::Text(t)) if in_t && !in_phonetic => current.push_str(&event_text(&t)),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(xml_error(e, "xlsx shared strings")),
        }
        buf.clear();
    }
    Ok(strings)
}

/// What a sheet's cells are read with.
struct CellContext<'c> {
    sheet: &'c str,
    shared: &'c [String],
    /// Per cell style index (`s`): whether its number format is a date.
    date_styles: &'c [bool],
    date1904: bool,
}

/// The entity of each header cell's column, by the whole header row.
fn header_columns(cells: &[(u64, String)]) -> Vec<(u64, Entity)> {
    let entities = super::tabular::classify_headers(cells.iter().map(|(_, t)| t.as_str()));
    cells
        .iter()
        .zip(entities)
        .filter_map(|((col, _), entity)| Some((*col, entity?)))
        .collect()
}

/// One worksheet: every non-empty cell is a piece with field `Sheet!C7`.
fn scan_sheet<B: io::BufRead>(
    ctx: &mut Ctx,
    reader: &mut Reader<B>,
    cells: &CellContext,
) -> Result<(), ExtractError> {
    let (sheet, shared) = (cells.sheet, cells.shared);
    let mut style = 0usize;
    let mut buf = Vec::new();
    let (mut row, mut col) = (0u64, 0u64);
    let mut cell_type = String::new();
    let mut value = String::new();
    let mut in_value = false;
    // The first row with text is the header: a column headed `ssn`, `dob`,
    // `patient name` ... makes each value under it a finding of that
    // entity, as in CSV files.
    let mut header_row: Option<u64> = None;
    // The header's cells, kept until the row is whole: a column headed
    // just `Name` is judged by its neighbours (see `classify_headers`).
    let mut header_cells: Vec<(u64, String)> = Vec::new();
    let mut columns: Option<Vec<(u64, Entity)>> = None;
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e)) => match e.local_name().as_ref() {
                b"row" => {
                    row = attr(&e, b"r")
                        .and_then(|r| r.parse().ok())
                        .unwrap_or(row + 1);
                    col = 0;
                }
                b"c" => {
                    match attr(&e, b"r").as_deref().and_then(parse_cell_ref) {
                        Some((c, r)) => {
                            col = c;
                            row = r;
                        }
                        None => col += 1,
                    }
                    cell_type = attr(&e, b"t").unwrap_or_default();
                    style = attr(&e, b"s").and_then(|v| v.parse().ok()).unwrap_or(0);
                    value.clear();
                }
                // `v` holds the value (or shared string index); inline
                // strings sit in `is/t`.
                b"v" | b"t" => in_value = true,
                _ => {}
            },
            Ok(Event::Empty(e)) if e.local_name().as_ref() == b"c" => {
                col = attr(&e, b"r")
                    .as_deref()
                    .and_then(parse_cell_ref)
                    .map_or(col + 1, |(c, _)| c);
            }
            Ok(Event::End(e)) => match e.local_name().as_ref() {
                b"v" | b"t" => in_value = false,
                b"c" => {
                    let text = if cell_type == "s" {
                        value
                            .trim()
                            .parse::<usize>()
                            .ok()
                            .and_then(|i| shared.get(i))
                            .cloned()
                            .unwrap_or_default()
                    } else if (cell_type.is_empty() || cell_type == "n")
                        && cells.date_styles.get(style).copied().unwrap_or(false)
                    {
                        // A date cell holds a day count; show it as a date,
                        // the way the spreadsheet does.
                        value
                            .trim()
                            .parse::<f64>()
                            .ok()
                            .and_then(|serial| serial_date(serial, cells.date1904))
                            .unwrap_or_else(|| std::mem::take(&mut value))
                    } else {
                        std::mem::take(&mut value)
                    };
                    if !text.trim().is_empty() {
                        let field = format!("{sheet}!{}{row}", column_letters(col));
                        let at = Location {
                            line: row.max(1),
                            column: 1,
                        };
                        let header = *header_row.get_or_insert(row);
                        if row == header {
                            header_cells.push((col, text.clone()));
                        }
                        let columns = match &columns {
                            Some(columns) => columns,
                            None if row > header => columns.insert(header_columns(&header_cells)),
                            None => &Vec::new(),
                        };
                        match columns.iter().find(|(c, _)| *c == col) {
                            Some(&(_, entity)) if row > header => {
                                ctx.field_value("xlsx-column", &field, entity, &text, at)
                            }
                            _ => ctx.text(&field, &text, at),
                        }
                    }
                    value.clear();
                }
                _ => {}
            },
            Ok(Event::Text(t)) if in_value => value.push_str(&event_text(&t)),
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(xml_error(e, "xlsx sheet")),
        }
        buf.clear();
    }
    Ok(())
}

/// For each cell style (`cellXfs` entry) in `styles.xml`, whether its
/// number format shows a date.
fn read_date_styles<B: io::BufRead>(reader: &mut Reader<B>) -> Result<Vec<bool>, ExtractError> {
    let mut custom: HashMap<u32, bool> = HashMap::new();
    let mut styles = Vec::new();
    let mut in_cell_xfs = false;
    let mut buf = Vec::new();
    loop {
        match reader.read_event_into(&mut buf) {
            Ok(Event::Start(e) | Event::Empty(e)) => match e.local_name().as_ref() {
                b"numFmt" => {
                    let id = attr(&e, b"numFmtId").and_then(|v| v.parse().ok());
                    if let (Some(id), Some(code)) = (id, attr(&e, b"formatCode")) {
                        custom.insert(id, is_date_code(&code));
                    }
                }
                b"cellXfs" => in_cell_xfs = true,
                b"xf" if in_cell_xfs => {
                    let id: u32 = attr(&e, b"numFmtId")
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0);
                    let builtin_date = matches!(id, 14..=22 | 27..=36 | 45..=47 | 50..=58);
                    styles.push(custom.get(&id).copied().unwrap_or(builtin_date));
                }
                _ => {}
            },
            Ok(Event::End(e)) if e.local_name().as_ref() == b"cellXfs" => in_cell_xfs = false,
            Ok(Event::Eof) => break,
            Ok(_) => {}
            Err(e) => return Err(xml_error(e, "xlsx styles")),
        }
        buf.clear();
    }
    Ok(styles)
}

/// Whether a number format code shows a date: it has day or year tokens
/// outside quoted text, `[...]` sections and escaped characters.
fn is_date_code(code: &str) -> bool {
    let mut chars = code.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                for q in chars.by_ref() {
                    if q == '"' {
                        break;
                    }
                }
            }
            '[' => {
                for q in chars.by_ref() {
                    if q == ']' {
                        break;
                    }
                }
            }
            '\\' | '_' | '*' => {
                chars.next();
            }
            'd' | 'D' | 'y' | 'Y' => return true,
            _ => {}
        }
    }
    false
}

/// A spreadsheet day count as `YYYY-MM-DD` (1900 or 1904 date system).
fn serial_date(serial: f64, date1904: bool) -> Option<String> {
    if !(1.0..2_958_466.0).contains(&serial) {
        return None;
    }
    let mut days = serial.floor() as i64;
    // Days since 1970-01-01 of the system's day 0.
    let epoch = if date1904 {
        -24_107 // 1904-01-01
    } else {
        // Serial 60 is the 29 February 1900 that never was.
        if days >= 60 {
            days -= 1;
        }
        -25_568 // 1899-12-31
    };
    let (y, m, d) = civil_from_days(epoch + days);
    Some(format!("{y:04}-{m:02}-{d:02}"))
}

/// Days since 1970-01-01 → (year, month, day), proleptic Gregorian
/// (H. Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

/// The `mimetype` member of an OpenDocument file (a few dozen bytes).
fn odf_mimetype<R: Read + Seek>(ctx: &Ctx, archive: &mut ZipArchive<R>) -> Option<String> {
    let index = archive.index_for_name("mimetype")?;
    let (member, _) = open_member(ctx, archive, index).ok()??;
    let mut mime = String::new();
    member.take(200).read_to_string(&mut mime).ok()?;
    Some(mime.trim().to_string())
}

/// OpenDocument `content.xml`: text documents as paragraphs and table
/// rows; spreadsheets cell by cell with `Sheet!C7` fields.
fn scan_odf<R: Read + Seek>(
    ctx: &mut Ctx,
    archive: &mut ZipArchive<R>,
    spreadsheet: bool,
) -> Result<(), ExtractError> {
    with_part(ctx, archive, "content.xml", |ctx, reader| {
        OdfWalk::default().run(ctx, reader, spreadsheet)
    })?;
    Ok(())
}

#[derive(Default)]
struct OdfWalk {
    paragraph: u64,
    /// Depth of `text:p`/`text:h` elements we are inside.
    text_depth: u32,
    text: String,
    table_depth: u32,
    table: u64,
    table_name: String,
    row: u64,
    row_repeat: u64,
    col: u64,
    col_repeat: u64,
    row_text: String,
    row_line: u64,
    cell_text: String,
}

impl OdfWalk {
    fn run<B: io::BufRead>(
        &mut self,
        ctx: &mut Ctx,
        reader: &mut Reader<B>,
        spreadsheet: bool,
    ) -> Result<(), ExtractError> {
        let mut buf = Vec::new();
        loop {
            match reader.read_event_into(&mut buf) {
                Ok(Event::Start(e)) => self.start(&e, false),
                Ok(Event::Empty(e)) => self.start(&e, true),
                Ok(Event::End(e)) => {
                    let local = e.local_name();
                    self.end(ctx, local.as_ref(), spreadsheet);
                }
                Ok(Event::Text(t)) if self.text_depth > 0 => {
                    self.text.push_str(&event_text(&t));
                    if self.table_depth == 0 {
                        match_long_text(ctx, "", &mut self.text, self.paragraph + 1);
                    }
                }
                Ok(Event::Eof) => break,
                Ok(_) => {}
                Err(e) => {
                    if self.text_depth > 0 {
                        self.text.push_str(&salvage(&buf));
                        let at = Location {
                            line: self.paragraph + 1,
                            column: 1,
                        };
                        ctx.text("", &std::mem::take(&mut self.text), at);
                    }
                    return Err(xml_error(e, "OpenDocument XML"));
                }
            }
            buf.clear();
        }
        Ok(())
    }

    fn start(&mut self, e: &BytesStart, empty: bool) {
        let repeat = |e: &BytesStart, key: &[u8]| {
            attr_local(e, key)
                .and_then(|v| v.parse::<u64>().ok())
                .unwrap_or(1)
                .max(1)
        };
        match e.local_name().as_ref() {
            b"p" | b"h" if !empty => self.text_depth += 1,
            b"s" if self.text_depth > 0 => self.text.push(' '),
            b"tab" if self.text_depth > 0 => self.text.push('\t'),
            b"line-break" if self.text_depth > 0 => self.text.push(' '),
            b"table" if !empty => {
                self.table_depth += 1;
                if self.table_depth == 1 {
                    self.table += 1;
                    self.row = 0;
                    self.table_name =
                        attr_local(e, b"name").unwrap_or_else(|| format!("Sheet{}", self.table));
                }
            }
            b"table-row" if self.table_depth == 1 => {
                self.row = self.row.saturating_add(self.row_repeat.max(1));
                self.row_repeat = repeat(e, b"number-rows-repeated");
                if self.row == 0 {
                    self.row = 1;
                }
                self.col = 0;
                self.col_repeat = 1;
                self.row_text.clear();
                self.row_line = self.paragraph + 1;
            }
            b"table-cell" | b"covered-table-cell" if self.table_depth == 1 => {
                self.col = self.col.saturating_add(self.col_repeat.max(1));
                self.col_repeat = repeat(e, b"number-columns-repeated");
                if self.col == 0 {
                    self.col = 1;
                }
                self.cell_text.clear();
            }
            _ => {}
        }
    }

    fn end(&mut self, ctx: &mut Ctx, local: &[u8], spreadsheet: bool) {
        match local {
            b"p" | b"h" => {
                self.text_depth = self.text_depth.saturating_sub(1);
                if self.text_depth > 0 {
                    return;
                }
                self.paragraph += 1;
                let text = std::mem::take(&mut self.text);
                if self.table_depth > 0 {
                    if !self.cell_text.is_empty() {
                        self.cell_text.push(' ');
                    }
                    self.cell_text.push_str(&text);
                } else if !text.trim().is_empty() {
                    ctx.text(
                        "",
                        &text,
                        Location {
                            line: self.paragraph,
                            column: 1,
                        },
                    );
                }
            }
            b"table-cell" | b"covered-table-cell" if self.table_depth == 1 => {
                let text = std::mem::take(&mut self.cell_text);
                if spreadsheet {
                    if !text.trim().is_empty() {
                        let field = format!(
                            "{}!{}{}",
                            self.table_name,
                            column_letters(self.col),
                            self.row
                        );
                        ctx.text(
                            &field,
                            &text,
                            Location {
                                line: self.row,
                                column: 1,
                            },
                        );
                    }
                } else {
                    self.row_text.push_str(&text);
                    self.row_text.push('\t');
                }
            }
            b"table-row" if self.table_depth == 1 && !spreadsheet => {
                if !self.row_text.trim().is_empty() {
                    let field = format!("table {} row {}", self.table, self.row);
                    let at = Location {
                        line: self.row_line.max(1),
                        column: 1,
                    };
                    ctx.text(&field, self.row_text.trim_end_matches('\t'), at);
                }
                self.row_text.clear();
            }
            b"table" => {
                self.table_depth = self.table_depth.saturating_sub(1);
                if self.table_depth == 0 {
                    self.row_repeat = 0;
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use crate::entity::Entity;
    use crate::report::SkipReason;

    const W: &str = r#"xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main""#;

    /// Words of random letters: text that does not compress far (a run of
    /// one letter would trip the ratio limit first).
    fn random_words(rng: &mut crate::test_rng::Rng, bytes: usize) -> String {
        let mut out = String::with_capacity(bytes + 16);
        while out.len() < bytes {
            for _ in 0..1 + rng.below(9) {
                out.push(char::from(b'a' + rng.below(26) as u8));
            }
            out.push(' ');
        }
        out
    }

    #[test]
    fn a_huge_text_node_is_cut_with_its_start_matched() {
        // One text node past the run limit: its first values are found,
        // the part is reported as cut by a limit, memory stays bounded.
        let mut rng = crate::test_rng::Rng::new(42);
        let document = format!(
            r#"<w:document {W}><w:body><w:p><w:r><w:t>SSN 219-45-6780 {}</w:t></w:r></w:p></w:body></w:document>"#,
            random_words(&mut rng, super::MAX_XML_RUN + (1 << 20))
        );
        let data = zip_of(&[("word/document.xml", document.as_bytes())]);
        let events = scan("big.docx", &data);
        assert_eq!(
            findings(&events),
            vec![finding("big.docx", Entity::Ssn, "", "219-45-6780")]
        );
        assert_eq!(
            skipped(&events),
            vec![("big.docx".to_string(), SkipReason::Limit)]
        );
        // A long paragraph of many short runs is matched in pieces, each
        // value whole, and nothing is cut.
        let mut runs = String::new();
        for i in 0..6000 {
            runs.push_str(&format!(
                "<w:r><w:t xml:space=\"preserve\">{} </w:t></w:r>",
                random_words(&mut rng, 400)
            ));
            if i == 5000 {
                runs.push_str("<w:r><w:t>SSN 219-45-6781 </w:t></w:r>");
            }
        }
        let document =
            format!(r#"<w:document {W}><w:body><w:p>{runs}</w:p></w:body></w:document>"#);
        let data = zip_of(&[("word/document.xml", document.as_bytes())]);
        let events = scan("long.docx", &data);
        assert_eq!(
            findings(&events),
            vec![finding("long.docx", Entity::Ssn, "", "219-45-6781")]
        );
        assert!(skipped(&events).is_empty());
    }

    #[test]
    fn docx_body_tables_headers_and_deleted_text() {
        let document = format!(
            r#"<w:document {W}><w:body>
<w:p><w:r><w:t>Intro</w:t></w:r></w:p>
<w:p><w:r><w:t xml:space="preserve">SSN: </w:t></w:r><w:r><w:t>219-45-6780</w:t></w:r></w:p>
<w:tbl><w:tr><w:tc><w:p><w:r><w:t>DOB</w:t></w:r></w:p></w:tc><w:tc><w:p><w:r><w:t>03/14/1962</w:t></w:r></w:p></w:tc></w:tr></w:tbl>
<w:p><w:del><w:r><w:delText>old SSN 219-45-6781</w:delText></w:r></w:del></w:p>
</w:body></w:document>"#
        );
        let footer =
            format!(r#"<w:ftr {W}><w:p><w:r><w:t>NPI 1234567893</w:t></w:r></w:p></w:ftr>"#);
        let data = zip_of(&[
            ("word/document.xml", document.as_bytes()),
            ("word/footer2.xml", footer.as_bytes()),
        ]);
        let events = scan("a/intake.docx", &data);
        assert_eq!(
            findings(&events),
            vec![
                finding("a/intake.docx", Entity::Ssn, "", "219-45-6780"),
                finding("a/intake.docx", Entity::Dob, "table 1 row 1", "03/14/1962"),
                finding("a/intake.docx", Entity::Ssn, "", "219-45-6781"),
                finding("a/intake.docx", Entity::Npi, "footer2", "1234567893"),
            ]
        );
        assert!(skipped(&events).is_empty());
        // line = paragraph number
        let lines: Vec<Option<u64>> = events
            .iter()
            .filter_map(|e| match e {
                crate::report::Event::Finding(f) => Some(f.line),
                _ => None,
            })
            .collect();
        assert_eq!(lines, vec![Some(2), Some(3), Some(5), Some(1)]);
    }

    #[test]
    fn xlsx_header_columns_make_their_values_findings() {
        let sheet = r#"<worksheet><sheetData>
<row r="1"><c r="A1" t="inlineStr"><is><t>Patient SSN</t></is></c><c r="B1" t="inlineStr"><is><t>appointment_date</t></is></c><c r="C1" t="inlineStr"><is><t>notes</t></is></c></row>
<row r="2"><c r="A2" t="inlineStr"><is><t>219-45-6780</t></is></c><c r="B2" t="inlineStr"><is><t>03/14/2024</t></is></c><c r="C2" t="inlineStr"><is><t>none</t></is></c></row>
<row r="3"><c r="A3" t="inlineStr"><is><t>000-12-3456</t></is></c><c r="C3" t="inlineStr"><is><t>SSN 219-45-6781</t></is></c></row>
</sheetData></worksheet>"#;
        let data = zip_of(&[
            (
                "xl/workbook.xml",
                b"<workbook><sheets><sheet name=\"S\" sheetId=\"1\"/></sheets></workbook>"
                    .as_slice(),
            ),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ]);
        let events = scan("h.xlsx", &data);
        let rules: Vec<(String, String)> = events
            .iter()
            .filter_map(|e| match e {
                crate::report::Event::Finding(f) => Some((f.field.clone(), f.rule.to_string())),
                _ => None,
            })
            .collect();
        // A2: by its column; B2 (appointment_date) is not a birth date; A3
        // fails the SSN validator, so only the test pack's text rule (which
        // has no validator) reports it; C3 is free text.
        let column_rows: Vec<&str> = rules
            .iter()
            .filter(|(_, r)| r == "xlsx-column")
            .map(|(f, _)| f.as_str())
            .collect();
        assert_eq!(column_rows, ["S!A2"], "{rules:?}");
        let fields: Vec<&str> = rules.iter().map(|(f, _)| f.as_str()).collect();
        assert_eq!(fields, ["S!A2", "S!A3", "S!C3"]);
    }

    #[test]
    fn xlsx_name_column_is_a_patient_name_beside_an_mrn_column_only() {
        let cell =
            |r: &str, t: &str| format!(r#"<c r="{r}" t="inlineStr"><is><t>{t}</t></is></c>"#);
        let sheet = |header_b: &str| {
            format!(
                "<worksheet><sheetData><row r=\"1\">{}{}</row><row r=\"2\">{}{}</row></sheetData></worksheet>",
                cell("A1", header_b),
                cell("B1", "Name"),
                cell("A2", "483920"),
                cell("B2", "Reid, Morgan"),
            )
        };
        let column_rows = |header_a: &str| {
            let sheet = sheet(header_a);
            let data = zip_of(&[
                (
                    "xl/workbook.xml",
                    b"<workbook><sheets><sheet name=\"S\" sheetId=\"1\"/></sheets></workbook>"
                        .as_slice(),
                ),
                ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
            ]);
            scan("p.xlsx", &data)
                .iter()
                .filter_map(|e| match e {
                    crate::report::Event::Finding(f) if &*f.rule == "xlsx-column" => {
                        Some((f.field.clone(), f.entity))
                    }
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            column_rows("MRN"),
            [
                ("S!A2".to_string(), Entity::Mrn),
                ("S!B2".to_string(), Entity::PersonName)
            ]
        );
        // A product list: `Name` beside a SKU is not a person.
        assert_eq!(column_rows("SKU"), []);
    }

    #[test]
    fn xlsx_cells_are_labelled_with_sheet_names_and_refs() {
        let workbook = r#"<workbook xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/relationships"><sheets><sheet name="Q1 Patients" sheetId="7" r:id="rId3"/></sheets></workbook>"#;
        let rels = r#"<Relationships><Relationship Id="rId3" Target="/xl/worksheets/data.xml"/></Relationships>"#;
        let shared = r#"<sst><si><t>x</t></si><si><r><t>SSN </t></r><r><t>219-45-6780</t></r><rPh><t>ignored 111-22-3333</t></rPh></si></sst>"#;
        let sheet = r#"<worksheet><sheetData><row r="12"><c r="AB12" t="s"><v>1</v></c><c t="inlineStr"><is><t>DOB 03/14/1962</t></is></c><c r="AD12" t="s"><v>99</v></c></row></sheetData></worksheet>"#;
        let data = zip_of(&[
            ("xl/workbook.xml", workbook.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
            ("xl/sharedStrings.xml", shared.as_bytes()),
            ("xl/worksheets/data.xml", sheet.as_bytes()),
        ]);
        let events = scan("r.xlsx", &data);
        assert_eq!(
            findings(&events),
            vec![
                finding("r.xlsx", Entity::Ssn, "Q1 Patients!AB12", "219-45-6780"),
                finding("r.xlsx", Entity::Dob, "Q1 Patients!AC12", "03/14/1962"),
            ]
        );
        assert!(skipped(&events).is_empty());
    }

    #[test]
    fn pptx_slides_follow_presentation_order() {
        let presentation = r#"<p:presentation xmlns:p="p" xmlns:r="r"><p:sldIdLst><p:sldId id="256" r:id="rId2"/><p:sldId id="257" r:id="rId1"/></p:sldIdLst></p:presentation>"#;
        let rels = r#"<Relationships><Relationship Id="rId1" Target="slides/slide1.xml"/><Relationship Id="rId2" Target="slides/slide2.xml"/></Relationships>"#;
        let slide = |t: &str| {
            format!(
                r#"<p:sld xmlns:p="p" xmlns:a="a"><a:p><a:r><a:t>{t}</a:t></a:r></a:p></p:sld>"#
            )
        };
        let (one, two) = (slide("SSN 219-45-6780"), slide("nothing"));
        let data = zip_of(&[
            ("ppt/presentation.xml", presentation.as_bytes()),
            ("ppt/_rels/presentation.xml.rels", rels.as_bytes()),
            ("ppt/slides/slide1.xml", one.as_bytes()),
            ("ppt/slides/slide2.xml", two.as_bytes()),
        ]);
        assert_eq!(
            findings(&scan("d.pptx", &data)),
            vec![finding("d.pptx", Entity::Ssn, "slide 2", "219-45-6780")]
        );
    }

    #[test]
    fn opendocument_text_and_spreadsheet() {
        let odt = r#"<office:document-content xmlns:office="o" xmlns:text="t"><office:body><office:text><text:p>SSN:<text:s/>219-45-6780</text:p></office:text></office:body></office:document-content>"#;
        let data = zip_of(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.text".as_slice(),
            ),
            ("content.xml", odt.as_bytes()),
        ]);
        assert_eq!(
            findings(&scan("a.odt", &data)),
            vec![finding("a.odt", Entity::Ssn, "", "219-45-6780")]
        );
        let ods = r#"<office:document-content xmlns:office="o" xmlns:table="tb" xmlns:text="t"><office:body><office:spreadsheet><table:table table:name="Intake"><table:table-row table:number-rows-repeated="2"><table:table-cell/></table:table-row><table:table-row><table:table-cell table:number-columns-repeated="2"/><table:table-cell><text:p>DOB 03/14/1962</text:p></table:table-cell></table:table-row></table:table></office:spreadsheet></office:body></office:document-content>"#;
        let data = zip_of(&[
            (
                "mimetype",
                b"application/vnd.oasis.opendocument.spreadsheet".as_slice(),
            ),
            ("content.xml", ods.as_bytes()),
        ]);
        assert_eq!(
            findings(&scan("a.ods", &data)),
            vec![finding("a.ods", Entity::Dob, "Intake!C3", "03/14/1962")]
        );
    }

    #[test]
    fn a_broken_header_does_not_hide_the_body() {
        let document = format!(
            r#"<w:document {W}><w:body><w:p><w:r><w:t>SSN 219-45-6780</w:t></w:r></w:p></w:body></w:document>"#
        );
        let data = zip_of(&[
            ("word/document.xml", document.as_bytes()),
            ("word/header1.xml", b"<w:hdr><w:p>< broken".as_slice()),
        ]);
        let events = scan("x.docx", &data);
        assert_eq!(findings(&events).len(), 1);
        assert_eq!(
            skipped(&events),
            vec![("x.docx!word/header1.xml".to_string(), SkipReason::Corrupt)]
        );
    }

    #[test]
    fn xlsx_date_cells_read_as_dates() {
        let workbook = r#"<workbook xmlns:r="r"><workbookPr/><sheets><sheet name="S" sheetId="1" r:id="rId1"/></sheets></workbook>"#;
        let rels = r#"<Relationships><Relationship Id="rId1" Target="worksheets/sheet1.xml"/></Relationships>"#;
        let styles = r#"<styleSheet><numFmts><numFmt numFmtId="164" formatCode="[$-409]mmm\ d&quot;,&quot;\ yyyy"/><numFmt numFmtId="165" formatCode="&quot;day&quot;0"/></numFmts><cellXfs><xf numFmtId="0"/><xf numFmtId="14"/><xf numFmtId="164"/><xf numFmtId="165"/></cellXfs></styleSheet>"#;
        let sheet = r#"<worksheet><sheetData><row r="2"><c r="A2" t="inlineStr"><is><t>DOB</t></is></c><c r="B2" s="1"><v>22719</v></c><c r="C2" s="2"><v>22719.5</v></c><c r="D2" s="3"><v>22719</v></c></row></sheetData></worksheet>"#;
        let data = zip_of(&[
            ("xl/workbook.xml", workbook.as_bytes()),
            ("xl/_rels/workbook.xml.rels", rels.as_bytes()),
            ("xl/styles.xml", styles.as_bytes()),
            ("xl/worksheets/sheet1.xml", sheet.as_bytes()),
        ]);
        // Dates are matched per cell, without the header: test the values.
        assert_eq!(
            super::serial_date(22719.0, false).as_deref(),
            Some("1962-03-14")
        );
        assert_eq!(
            super::serial_date(61.0, false).as_deref(),
            Some("1900-03-01")
        );
        assert_eq!(
            super::serial_date(59.0, false).as_deref(),
            Some("1900-02-28")
        );
        assert_eq!(super::serial_date(1.0, true).as_deref(), Some("1904-01-02"));
        assert_eq!(super::serial_date(-5.0, false), None);
        assert_eq!(super::serial_date(f64::NAN, false), None);
        assert!(super::is_date_code("[$-409]mmm\\ d\",\"\\ yyyy"));
        assert!(!super::is_date_code("\"day\"0"));
        assert!(!super::is_date_code("[Red]0.00"));
        let events = scan("d.xlsx", &data);
        assert_eq!(
            findings(&events),
            vec![
                finding("d.xlsx", Entity::Dob, "S!B2", "1962-03-14"),
                finding("d.xlsx", Entity::Dob, "S!C2", "1962-03-14"),
            ]
        );
        assert!(skipped(&events).is_empty());
    }

    #[test]
    fn ole2_documents_are_reported_not_skipped_as_binary() {
        let mut encrypted = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        encrypted.resize(1024, 0);
        encrypted.extend("EncryptedPackage".encode_utf16().flat_map(u16::to_le_bytes));
        assert_eq!(
            skipped(&scan("locked.docx", &encrypted)),
            vec![("locked.docx".to_string(), SkipReason::Encrypted)]
        );
        let mut legacy = b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1".to_vec();
        legacy.resize(2048, 0);
        assert_eq!(
            skipped(&scan("old.doc", &legacy)),
            vec![("old.doc".to_string(), SkipReason::Unsupported)]
        );
    }

    #[test]
    fn cell_refs() {
        assert_eq!(super::parse_cell_ref("C7"), Some((3, 7)));
        assert_eq!(super::parse_cell_ref("AB12"), Some((28, 12)));
        assert_eq!(super::parse_cell_ref("7"), None);
        assert_eq!(super::parse_cell_ref("ABCD1"), None);
        assert_eq!(super::column_letters(28), "AB");
        assert_eq!(super::column_letters(1), "A");
        assert_eq!(super::column_letters(0), "");
        assert_eq!(super::resolve_part("xl", "../x/y.xml"), "x/y.xml");
        assert_eq!(
            super::resolve_part("ppt", "/ppt/slides/s.xml"),
            "ppt/slides/s.xml"
        );
    }
}
