//! PDF: the text of every page, one piece per page with field `page N`
//! (1-based, in page-tree order) and `line` the line within the page's
//! text.
//!
//! - [`document`]: the file's objects, found by scanning (a broken or
//!   missing xref reads the same; incremental updates, object streams,
//!   xref streams and linearized files too), parsed when needed.
//! - [`filters`]: every standard stream filter as a streaming reader.
//! - [`fonts`]: codes → text (ToUnicode, encodings and `/Differences`,
//!   Type 3, CID fonts, an embedded TrueType font's `cmap`) and widths.
//! - [`content`]: content streams run through a bounded window: glyphs
//!   with their positions, and the images drawn.
//! - [`layout`]: glyphs → lines and words by geometry.
//! - [`images`]: what a page hands over to an image reader (OCR).
//!
//! Reported: encrypted files → `encrypted`; pages whose text layer is
//! missing (an image-only or scanned page), unmapped (fonts without a
//! Unicode map) or fragmented (only isolated characters) → `no_text`
//! naming the pages, unless a [`PageReader`] read them; a cut by a limit →
//! `limit`, after the text read before it was matched.
//!
//! Bounds (see docs/LIMITS.md): the file is held up to
//! `max_document_bytes`; every decoded byte is charged to the expansion
//! budget and the ratio limit applies per stream; content is decoded
//! through a window of at most 4 MiB and a page keeps at most 2^20 glyphs;
//! parsed objects and decoded object streams are cached within fixed
//! bounds. Per thread that is the document plus about 230 MiB at worst
//! (docs/LIMITS.md).

mod content;
mod document;
mod filters;
mod fonts;
mod images;
mod layout;
mod syntax;
mod tables;

pub use filters::{Filter, Predictor};
pub use images::{ImageFilter, PageImage, Parm, PdfPage};
pub use layout::TextLayer;

use super::{Ctx, Location};
use crate::error::ExtractError;
use crate::report::SkipReason;
use content::{FontCache, Interpreter};
use document::Document;
use std::io::{Cursor, Read};
use std::rc::Rc;
use syntax::Obj;

/// Nesting of arrays/dictionaries parsed; deeper input is cut off.
const MAX_NESTING: u32 = 64;
/// Depth of the page tree and of Form XObjects followed.
const MAX_TREE_DEPTH: u32 = 32;
const MAX_FORM_DEPTH: u32 = 8;
/// Page text matched per piece (cut at a line end).
const TEXT_PIECE: usize = 64 << 10;
/// Pages listed by number in a not-examined detail.
const PAGES_LISTED: usize = 10;
/// A page with fewer words than this whose images cover at least half of
/// it is a scan with a stamp or header, not a text page.
const SCAN_WORDS: usize = 10;

/// Reads what a page's text layer does not hold (OCR of its images). It is
/// shown every page; it returns true when it read the page, which is then
/// not reported as lacking text.
pub trait PageReader {
    fn read_page(&mut self, ctx: &mut Ctx, page: &PdfPage<'_>) -> bool;
}

/// No reader: pages without usable text are reported `no_text`.
pub struct TextOnly;

impl PageReader for TextOnly {
    fn read_page(&mut self, _ctx: &mut Ctx, _page: &PdfPage<'_>) -> bool {
        false
    }
}

/// Reads a whole PDF (up to `max_document_bytes`) and scans its pages.
pub fn scan(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    scan_with(ctx, head, rest, &mut TextOnly)
}

/// [`scan`], showing each page to `reader`.
pub fn scan_with(
    ctx: &mut Ctx,
    head: &[u8],
    rest: &mut dyn Read,
    reader: &mut dyn PageReader,
) -> Result<(), ExtractError> {
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
    scan_bytes(ctx, &data, reader)
}

/// Pages not read, by why.
#[derive(Default)]
struct Unread {
    scanned: Vec<usize>,
    /// Pages without text whose images are all too small to hold a line
    /// of text (a 2×2 swatch, a bullet): there was nothing to OCR.
    tiny_images: Vec<usize>,
    unmapped: Vec<usize>,
    fragmented: Vec<usize>,
}

fn scan_bytes(ctx: &mut Ctx, data: &[u8], reader: &mut dyn PageReader) -> Result<(), ExtractError> {
    let budget = ctx.budget;
    let limits = ctx.limits();
    let doc = Document::parse(data, budget, limits.max_expanded_bytes, limits.max_ratio)?;
    if doc.is_empty() {
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
    let pages = doc.pages();
    let mut fonts = FontCache::default();
    let mut unread = Unread::default();
    let mut any_text = false;
    let mut unsupported = 0;
    let mut cut: Option<String> = doc.cut.borrow().clone();
    for (index, page) in pages.iter().enumerate() {
        let number = index + 1;
        if budget.check_time_now() {
            cut.get_or_insert_with(|| format!("the time limit, before page {number}"));
            break;
        }
        let read = read_page(&doc, &mut fonts, page, number);
        let (text, view, run_cut, result) = (read.text, read.view, read.cut, read.result);
        unsupported += read.unsupported;
        if !text.trim().is_empty() {
            any_text = true;
            emit(ctx, &format!("page {number}"), &text);
        }
        let read_otherwise = reader.read_page(ctx, &view);
        any_text |= read_otherwise;
        if !read_otherwise {
            let side = crate::extract::ocr::prep::MIN_SIDE;
            let tiny = !view.images.is_empty()
                && view
                    .images
                    .iter()
                    .all(|i| i.width < side || i.height < side);
            match view.text_layer {
                TextLayer::Scanned | TextLayer::Empty if tiny => unread.tiny_images.push(number),
                TextLayer::Scanned => unread.scanned.push(number),
                TextLayer::Usable => {}
                TextLayer::Empty if !view.images.is_empty() => unread.scanned.push(number),
                TextLayer::Empty => {}
                TextLayer::Unmapped => unread.unmapped.push(number),
                // A page number alone is no broken text layer.
                TextLayer::Fragmented if read.mapped >= 20 => unread.fragmented.push(number),
                TextLayer::Fragmented => {}
            }
        }
        if let Some(why) = run_cut {
            cut.get_or_insert(format!("page {number}: {why}"));
        }
        if let Err(e) = result {
            return Err(match e {
                ExtractError::Limit(why) => ExtractError::Limit(format!("page {number}: {why}")),
                other => other,
            });
        }
    }
    if let Some(why) = cut {
        return Err(ExtractError::Limit(format!("cut at {why}")));
    }
    let total = pages.len();
    let mut reasons = Vec::new();
    for (list, what) in [
        (&unread.scanned, "no text layer (scanned or image-only?)"),
        (
            &unread.tiny_images,
            "no text layer, and no image large enough to hold text",
        ),
        (&unread.unmapped, "text in fonts without a Unicode map"),
        (
            &unread.fragmented,
            "the text layer holds only isolated characters",
        ),
    ] {
        if !list.is_empty() {
            reasons.push(format!("{} of {total}: {what}", page_list(list)));
        }
    }
    if total == 0 {
        reasons.push("no pages found".into());
    } else if !any_text && reasons.is_empty() {
        reasons.push(if unsupported > 0 {
            format!("no text in {total} page(s); {unsupported} stream(s) use filters not supported")
        } else {
            format!("no text in {total} page(s) (scanned or image-only?)")
        });
    }
    if !reasons.is_empty() {
        ctx.not_examined(None, SkipReason::NoText, reasons.join("; "));
    }
    Ok(())
}

/// One page read: its text laid out, what it hands over, and how it went.
struct PageRead<'d> {
    text: String,
    view: PdfPage<'d>,
    mapped: usize,
    unsupported: usize,
    cut: Option<String>,
    result: Result<(), ExtractError>,
}

fn read_page<'d>(
    doc: &Document<'d>,
    fonts: &mut FontCache,
    page: &document::PageRef,
    number: usize,
) -> PageRead<'d> {
    let streams = page_streams(doc, page.num);
    let mut interpreter = Interpreter::new(doc, fonts);
    let mut values = String::new();
    let mut result = interpreter.page(streams, &page.resources);
    if result.is_ok() {
        if let Some(annots) = doc.get(page.num).and_then(|p| p.get(b"Annots").cloned()) {
            result = interpreter.annotations(&annots, &mut values);
        }
    }
    let mut run = interpreter.run;
    let mut text = String::new();
    layout::lay_out(&mut run.glyphs, &mut text);
    drop(std::mem::take(&mut run.glyphs));
    text.push_str(&values);
    let layer = layout::judge(&text, run.mapped, run.unmapped);
    let mut streams_left = images::MAX_PAGE_PARM_STREAMS;
    let images: Vec<PageImage> = run
        .images
        .into_iter()
        .map(|i| images::hand_over(doc, i, &mut streams_left))
        .collect();
    let mut view = PdfPage {
        number,
        text_layer: layer,
        images,
        media_box: page.media_box,
    };
    // A scan with a stamp or page number on it is still a scan.
    if view.images_cover(0.5) && word_count(&text) < SCAN_WORDS {
        view.text_layer = TextLayer::Scanned;
    }
    PageRead {
        text,
        view,
        mapped: run.mapped,
        unsupported: run.unsupported,
        cut: run.cut,
        result,
    }
}

/// A page's content streams (one, or an array of them).
fn page_streams<'d>(doc: &Document<'d>, page: u32) -> Vec<(Rc<Obj>, &'d [u8])> {
    let Some(page) = doc.get(page) else {
        return Vec::new();
    };
    let refs: Vec<u32> = match page.get(b"Contents") {
        Some(Obj::Ref(n)) => match doc.get(*n).as_deref() {
            Some(Obj::Array(items)) => items
                .iter()
                .filter_map(|i| match i {
                    Obj::Ref(n) => Some(*n),
                    _ => None,
                })
                .collect(),
            _ => vec![*n],
        },
        Some(Obj::Array(items)) => items
            .iter()
            .filter_map(|i| match i {
                Obj::Ref(n) => Some(*n),
                _ => None,
            })
            .collect(),
        _ => Vec::new(),
    };
    refs.into_iter().filter_map(|n| doc.stream(n)).collect()
}

/// Matches a page's text in pieces of about [`TEXT_PIECE`] bytes cut at
/// line ends, each with its first line's number.
fn emit(ctx: &mut Ctx, field: &str, text: &str) {
    let mut line = 1u64;
    let mut rest = text;
    while !rest.is_empty() {
        let mut end = rest.len();
        if end > TEXT_PIECE {
            end = rest[..TEXT_PIECE]
                .rfind('\n')
                .map(|p| p + 1)
                .unwrap_or_else(|| {
                    (TEXT_PIECE..rest.len())
                        .find(|&i| rest.is_char_boundary(i))
                        .unwrap_or(rest.len())
                });
        }
        let piece = &rest[..end];
        ctx.text(field, piece, Location { line, column: 1 });
        line += piece.matches('\n').count() as u64;
        rest = &rest[end..];
    }
}

fn word_count(text: &str) -> usize {
    text.split_whitespace()
        .filter(|w| w.chars().filter(|c| c.is_alphanumeric()).count() >= 2)
        .count()
}

fn page_list(pages: &[usize]) -> String {
    let shown: Vec<String> = pages
        .iter()
        .take(PAGES_LISTED)
        .map(usize::to_string)
        .collect();
    let more = if pages.len() > PAGES_LISTED {
        format!(" and {} more", pages.len() - PAGES_LISTED)
    } else {
        String::new()
    };
    let noun = if pages.len() == 1 { "page" } else { "pages" };
    format!("{noun} {}{more}", shown.join(", "))
}

#[cfg(test)]
mod tests {
    use super::super::testkit::*;
    use super::{read_page, Document, FontCache, Parm, PdfPage, TextLayer};
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
        let content = br"BT /F1 9 Tf 12 TL 10 700 Td (Name: O\(Brien\) \101\102) Tj T* [(SSN: 219-4)20(5-6780)] TJ 0 -12 Td <444F423A2030332F31342F31393632> Tj ET";
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

    /// Each page's text and hand-over, read as `scan` reads them.
    fn read_all(data: &[u8], mut each: impl FnMut(&str, &PdfPage)) {
        let budget = crate::extract::Budget::default();
        let doc = Document::parse(data, &budget, 1 << 30, 100).expect("parse");
        let mut fonts = FontCache::default();
        for (i, page) in doc.pages().iter().enumerate() {
            let read = read_page(&doc, &mut fonts, page, i + 1);
            assert!(read.result.is_ok());
            each(&read.text, &read.view);
        }
    }

    fn texts(data: &[u8]) -> Vec<String> {
        let mut out = Vec::new();
        read_all(data, |text, _| out.push(text.to_string()));
        out
    }

    #[test]
    fn form_fields_without_appearances_give_their_values() {
        let mut objects = one_page(b"BT /F1 12 Tf 72 700 Td (Intake) Tj ET", "<< >>");
        objects[2] =
            b"<< /Type /Page /Parent 2 0 R /Contents 4 0 R /Annots [5 0 R 6 0 R] >>".to_vec();
        objects.push(
            b"<< /Type /Annot /Subtype /Widget /Parent 7 0 R /Rect [240 690 500 710] >>".to_vec(),
        );
        // Hidden: not read.
        objects.push(
            b"<< /Type /Annot /Subtype /Widget /F 2 /T (ssn2) /V (219-45-6781) /Rect [0 0 1 1] >>"
                .to_vec(),
        );
        objects.push(
            b"<< /FT /Tx /T (ssn) /V <FEFF003200310039002D00340035002D0036003700380030> >>"
                .to_vec(),
        );
        let data = pdf(&objects, "<< /Root 1 0 R >>");
        assert_eq!(texts(&data), ["Intake\nssn: 219-45-6780\n"]);
        assert_eq!(
            findings(&scan("f.pdf", &data)),
            vec![finding("f.pdf", Entity::Ssn, "page 1", "219-45-6780")]
        );
    }

    #[test]
    fn simple_fonts_with_mac_roman_and_differences() {
        let objects = {
            let mut o = one_page(
                br"BT /F1 12 Tf 72 700 Td (ABC\310 219-45-6780 Jos\216) Tj ET",
                "<< /Font << /F1 5 0 R >> >>",
            );
            o.push(b"<< /Type /Font /Subtype /Type1 /BaseFont /Times-Roman /Encoding << /BaseEncoding /MacRomanEncoding /Differences [65 /S /S /N 200 /colon] >> >>".to_vec());
            o
        };
        let data = pdf(&objects, "<< /Root 1 0 R >>");
        assert_eq!(texts(&data), ["SSN: 219-45-6780 Jos\u{e9}\n"]);
    }

    #[test]
    fn type3_fonts_by_their_matrix_and_widths() {
        // Glyph space is 1/100 of text space; every glyph 50 units wide, so
        // `(AB)` is one word and a gap of 2.8 text units (past its 20) is a space.
        let mut objects = one_page(
            b"BT /T3 10 Tf 72 700 Td (ABCD) Tj 22.8 0 Td (EFGHIJHKLMN) Tj ET",
            "<< /Font << /T3 5 0 R >> >>",
        );
        objects.push(b"<< /Type /Font /Subtype /Type3 /FontMatrix [0.01 0 0 0.01 0 0] /FontBBox [0 0 50 50] /FirstChar 65 /LastChar 78 /Widths [50 50 50 50 50 50 50 50 50 50 50 50 50 50] /CharProcs << >> /Encoding << /Type /Encoding /Differences [65 /S /S /N /colon /two /one /nine /hyphen /four /five /six /seven /eight /zero] >> >>".to_vec());
        let data = pdf(&objects, "<< /Root 1 0 R >>");
        assert_eq!(texts(&data), ["SSN: 219-45-6780\n"]);
    }

    #[test]
    fn kerning_gaps_that_are_word_spaces_become_spaces() {
        let data = pdf(
            &one_page(
                b"BT /F1 10 Tf 72 700 Td [(Social)-300(Security)-20(Number:)-250(21)15(9-45-6780)] TJ ET",
                "<< /Font << /F1 5 0 R >> >>",
            )
            .into_iter()
            .chain([b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec()])
            .collect::<Vec<_>>(),
            "<< /Root 1 0 R >>",
        );
        assert_eq!(texts(&data), ["Social SecurityNumber: 219-45-6780\n"]);
    }

    #[test]
    fn rotated_and_scaled_text_reads_along_its_baseline() {
        let data = pdf(
            &one_page(
                b"BT /F1 1 Tf 0 12 -12 0 300 100 Tm 80 Tz (SSN: 219-45-6780) Tj ET",
                "<< >>",
            ),
            "<< /Root 1 0 R >>",
        );
        assert_eq!(texts(&data), ["SSN: 219-45-6780\n"]);
    }

    fn ascii85(data: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        for chunk in data.chunks(4) {
            let mut group = [0u8; 4];
            group[..chunk.len()].copy_from_slice(chunk);
            let mut v = u32::from_be_bytes(group);
            let mut digits = [0u8; 5];
            for d in digits.iter_mut().rev() {
                *d = (v % 85) as u8 + b'!';
                v /= 85;
            }
            out.extend_from_slice(&digits[..chunk.len() + 1]);
        }
        out.extend_from_slice(b"~>");
        out
    }

    #[test]
    fn content_through_ascii85_and_lzw() {
        let content = b"BT /F1 12 Tf 72 700 Td (SSN: 219-45-6780) Tj ET";
        let lzw = weezl::encode::Encoder::with_tiff_size_switch(weezl::BitOrder::Msb, 8)
            .encode(content)
            .expect("lzw");
        let mut objects = one_page(b"", "<< >>");
        objects[3] = stream("/Filter [/ASCII85Decode /LZWDecode]", &ascii85(&lzw));
        let data = pdf(&objects, "<< /Root 1 0 R >>");
        assert_eq!(
            findings(&scan("l.pdf", &data)),
            vec![finding("l.pdf", Entity::Ssn, "page 1", "219-45-6780")]
        );
    }

    #[test]
    fn images_are_handed_over_with_their_filters() {
        let jpeg = b"\xFF\xD8\xFF\xE0 not really a jpeg \xFF\xD9";
        let objects = vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R /Resources << /XObject << /Im 5 0 R >> >> >>".to_vec(),
            stream("", b"q 100 0 0 100 0 0 cm /Im Do Q q 10 0 0 10 0 0 cm BI /W 2 /H 2 /BPC 1 /IM true /F /AHx ID\n00FF>\nEI Q"),
            stream(
                "/Type /XObject /Subtype /Image /Width 4 /Height 2 /BitsPerComponent 8 /ColorSpace [/ICCBased 6 0 R] /Filter [/FlateDecode /DCTDecode] /DecodeParms [null << /ColorTransform 0 >>]",
                &zlib(jpeg),
            ),
            stream("/N 3", b""),
        ];
        let data = pdf(&objects, "<< /Root 1 0 R >>");
        let mut seen = 0;
        read_all(&data, |text, page| {
            seen += 1;
            assert_eq!(text, "");
            assert_eq!(page.text_layer, TextLayer::Scanned);
            assert_eq!(page.images.len(), 2);
            let image = &page.images[0];
            assert_eq!(image.object, Some(5));
            assert_eq!(image.name.as_deref(), Some("Im"));
            assert_eq!(
                (image.width, image.height, image.bits_per_component),
                (4, 2, 8)
            );
            assert_eq!(
                (image.color_space.as_str(), image.components),
                ("ICCBased", Some(3))
            );
            let names: Vec<&str> = image.filters.iter().map(|f| f.name.as_str()).collect();
            assert_eq!(names, ["FlateDecode", "DCTDecode"]);
            assert_eq!(
                image.filters[1].parms,
                [("ColorTransform".to_string(), Parm::Number(0.0))]
            );
            let (bytes, codec) = image.decode_leading(1 << 20);
            assert_eq!(bytes, jpeg);
            assert_eq!(codec.map(|c| c.name), Some("DCTDecode".to_string()));
            let inline = &page.images[1];
            assert_eq!((inline.object, inline.name.as_deref()), (None, None));
            assert!(inline.image_mask);
            assert_eq!(
                (inline.width, inline.height, inline.bits_per_component),
                (2, 2, 1)
            );
            assert_eq!(&*inline.raw, b"00FF>");
            assert_eq!(inline.decode_leading(16), (vec![0x00, 0xFF], None));
        });
        assert_eq!(seen, 1);
        assert_eq!(
            skipped(&scan("s.pdf", &data)),
            vec![("s.pdf".to_string(), SkipReason::NoText)]
        );
    }

    /// A one-page PDF that draws image XObject 5 (`image_dict`, `data`)
    /// over the whole page; more objects from 6 on can be pushed.
    fn one_image_page(image_dict: &str, data: &[u8]) -> Vec<Vec<u8>> {
        vec![
            b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
            b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 100 100] /Contents 4 0 R /Resources << /XObject << /Im 5 0 R >> >> >>".to_vec(),
            stream("", b"q 100 0 0 100 0 0 cm /Im Do Q"),
            stream(&format!("/Type /XObject /Subtype /Image {image_dict}"), data),
        ]
    }

    /// A page with no text whose only images are too small to hold a line
    /// of text (a 2×2 swatch) says so; one with a page-sized image is a
    /// scan (with OCR on it is read: tests/it/ocr.rs).
    #[test]
    fn pages_whose_images_are_too_small_to_hold_text_say_so() {
        let detail = |width: u32| {
            let objects = one_image_page(
                &format!(
                    "/Width {width} /Height {width} /BitsPerComponent 8 /ColorSpace /DeviceGray"
                ),
                &vec![0u8; (width * width) as usize],
            );
            // OCR off: the parser's own verdict, whatever the machine has.
            let mut limits = ExtractLimits::default();
            limits.ocr.mode = crate::extract::ocr::OcrMode::Off;
            let events = scan_with(limits, "s.pdf", &pdf(&objects, "<< /Root 1 0 R >>"));
            events
                .iter()
                .filter_map(|e| match e {
                    Event::NotExamined { reason, detail, .. } => Some((*reason, detail.clone())),
                    _ => None,
                })
                .collect::<Vec<_>>()
        };
        assert_eq!(
            detail(2),
            [(
                SkipReason::NoText,
                "page 1 of 1: no text layer, and no image large enough to hold text".to_string()
            )]
        );
        assert_eq!(
            detail(200),
            [(
                SkipReason::NoText,
                "page 1 of 1: no text layer (scanned or image-only?)".to_string()
            )]
        );
    }

    /// `Indexed` tables become grey levels whatever holds them: a hex
    /// string over RGB, a stream over CMYK (through a reference), a
    /// literal string over ICCBased grey, Lab by its lightness. A table
    /// shorter than its colours, or more than 256 colours, reads as none.
    #[test]
    fn indexed_palettes_become_grey_levels() {
        let spaces = [
            (
                "[/Indexed /DeviceRGB 1 <FFFFFF 000000>]",
                Some(vec![255, 0]),
            ),
            ("[/Indexed /DeviceCMYK 1 7 0 R]", Some(vec![255, 0])),
            (
                r"[/Indexed [/ICCBased 8 0 R] 2 (\000\200\377)]",
                Some(vec![0, 128, 255]),
            ),
            ("[/Indexed /Lab 0 <C08080>]", Some(vec![0xC0])),
            ("[/Indexed /DeviceRGB 2 <FFFFFF 000000>]", None),
            ("[/Indexed /DeviceGray 256 <00>]", None),
            ("[/Indexed /Pattern 0 <00>]", None),
        ];
        for (space, want) in spaces {
            let mut objects = one_image_page(
                &format!("/Width 2 /Height 1 /BitsPerComponent 8 /ColorSpace {space}"),
                b"\x00\x01",
            );
            objects.extend([
                Vec::new(),
                stream("/Filter /FlateDecode", &zlib(&[0, 0, 0, 0, 0, 0, 0, 255])),
                stream("/N 1", b""),
            ]);
            let data = pdf(&objects, "<< /Root 1 0 R >>");
            let mut seen = 0;
            read_all(&data, |_, page| {
                seen += 1;
                let image = &page.images[0];
                assert_eq!(image.color_space, "Indexed", "{space}");
                assert_eq!(image.palette, want, "{space}");
            });
            assert_eq!(seen, 1);
        }
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
