//! Recognising what a stream holds, from its first bytes (and, where the
//! content leaves it open, its name).

use super::image::{self, ImageKind};
use super::{ccda, dicom, hl7, markup, tabular, x12};

/// What a stream holds, as far as extraction is concerned.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Text in some encoding: matched as a stream.
    Text,
    /// Nothing we can read.
    Binary,
    // Containers and documents.
    Gzip,
    Zip,
    Tar,
    Pdf,
    Rtf,
    Html,
    /// OLE2 compound file: legacy Office, or encrypted OOXML.
    Ole2,
    /// A picture (scan, fax, photo): read by OCR.
    Image(ImageKind),
    // Healthcare formats (field-aware).
    /// HL7 v2 messages or batches (MLLP framing tolerated).
    Hl7,
    /// X12 EDI interchange (837, 835, 834, 270/271 ...).
    X12,
    /// DICOM file, with or without the 128-byte preamble.
    Dicom,
    /// C-CDA / CCD XML document.
    Ccda,
    /// Delimited table with a header row; the byte is the delimiter.
    Tabular(u8),
}

/// Recognises a format from the first bytes (magic) and, where content is
/// not conclusive, the name. Content wins over the extension.
pub fn detect(head: &[u8], name: &str) -> Kind {
    // Containers and documents first: their magic bytes are strict.
    if let Some(kind) = detect_container_or_document(head, name) {
        return kind;
    }
    // A DICOM file's 128-byte preamble may hold a TIFF header (files
    // made to be both): DICOM, whose data set names the patient, wins.
    if !dicom::looks_like(head) {
        if let Some(kind) = image::sniff(head) {
            return Kind::Image(kind);
        }
    }
    // Healthcare formats (field-aware).
    if let Some(kind) = detect_health(head, name) {
        return kind;
    }
    if crate::decode::sniff(&head[..head.len().min(crate::decode::SNIFF_LEN)]).is_some() {
        Kind::Text
    } else {
        Kind::Binary
    }
}

/// Containers and documents: magic bytes first; the name only decides
/// between formats the content leaves open (an HTML fragment).
fn detect_container_or_document(head: &[u8], name: &str) -> Option<Kind> {
    if head.starts_with(b"\x1f\x8b") {
        return Some(Kind::Gzip);
    }
    // Local file header, or the end record of an empty archive.
    if head.starts_with(b"PK\x03\x04") || head.starts_with(b"PK\x05\x06") {
        return Some(Kind::Zip);
    }
    if head.starts_with(b"\xD0\xCF\x11\xE0\xA1\xB1\x1A\xE1") {
        return Some(Kind::Ole2);
    }
    // POSIX "ustar\0" and GNU "ustar  \0" both start with "ustar".
    if head.get(257..262) == Some(b"ustar".as_slice()) {
        return Some(Kind::Tar);
    }
    // Readers accept junk before the header; so do we, within 1 KiB.
    let lead = &head[..head.len().min(1024)];
    let pdf_header = |at: usize| lead.get(at + 5).is_some_and(u8::is_ascii_digit);
    if memchr::memmem::find_iter(lead, b"%PDF-").any(pdf_header) {
        return Some(Kind::Pdf);
    }
    let start = markup::skip_bom_and_space(head);
    if start.starts_with(b"{\\rtf") {
        return Some(Kind::Rtf);
    }
    if markup::looks_like_html(start, name) {
        return Some(Kind::Html);
    }
    None
}

/// Healthcare formats, recognised by content (CSV/TSV also by extension).
fn detect_health(head: &[u8], name: &str) -> Option<Kind> {
    if dicom::looks_like(head) {
        Some(Kind::Dicom)
    } else if hl7::looks_like(head) {
        Some(Kind::Hl7)
    } else if x12::looks_like(head) {
        Some(Kind::X12)
    } else if ccda::looks_like(head) {
        Some(Kind::Ccda)
    } else {
        tabular::looks_like(head, name).map(Kind::Tabular)
    }
}
