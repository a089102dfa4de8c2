//! C-CDA / CCD XML (HL7 v3 `ClinicalDocument`), read as a stream of XML
//! events (quick-xml: no DTD, no entity expansion; one token may take at
//! most [`MAX_TOKEN`] bytes).
//!
//! Field-aware: `recordTarget/patientRole/id` (root 2.16.840.1.113883.4.1 →
//! SSN, 2.16.840.1.113883.4.927 → MBI, 2.16.840.1.113883.4.6 → NPI, any
//! other root → MRN), the patient's (and guardian's) `name` → PERSON_NAME,
//! `birthTime/@value` → DOB, `telecom/@value` (`tel:`/`fax:` → PHONE,
//! `mailto:` → EMAIL), `addr` → ADDRESS; NPI/SSN/MBI ids anywhere in the
//! document by their root. Other text and `value`/`extension` attributes
//! are matched as text. A `nonXMLBody` with Base64 text is decoded and
//! scanned as the member `nonXMLBody.<ext>`.
//!
//! Report scheme: `field` is the element path below the root, at most its
//! last 4 elements, plus `/@attribute` for attribute values
//! (`recordTarget/patientRole/id/@extension`); line and column are those of
//! the value in the file.

use super::{Ctx, Location};
use crate::entity::Entity;
use crate::error::ExtractError;
use crate::report::SkipReason;
use quick_xml::events::{BytesStart, Event};
use std::cell::Cell;
use std::io::{self, BufReader, Read};
use std::rc::Rc;

/// Rule id of findings in known C-CDA elements.
pub const RULE: &str = "ccda-field";
/// Most bytes one XML token (text node, tag) may take.
pub const MAX_TOKEN: u64 = 64 << 20;
/// Deepest element nesting followed.
pub const MAX_DEPTH: usize = 256;

const SSN_ROOT: &str = "2.16.840.1.113883.4.1";
const NPI_ROOT: &str = "2.16.840.1.113883.4.6";
const MBI_ROOT: &str = "2.16.840.1.113883.4.927";

/// Whether `head` is an HL7 v3 ClinicalDocument.
pub fn looks_like(head: &[u8]) -> bool {
    let body = head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(head);
    let starts_xml = body
        .iter()
        .find(|b| !b.is_ascii_whitespace())
        .is_some_and(|&b| b == b'<');
    if !starts_xml || memchr::memmem::find(body, b"urn:hl7-org:v3").is_none() {
        return false;
    }
    memchr::memmem::find_iter(body, b"ClinicalDocument").any(|at| {
        at > 0
            && matches!(body.get(at - 1), Some(b'<' | b':'))
            && body
                .get(at + 16)
                .is_some_and(|b| b.is_ascii_whitespace() || matches!(b, b'>' | b'/'))
    })
}

/// Line and column while moving through the document event by event.
#[derive(Clone, Copy, Debug)]
struct Cursor {
    line: u64,
    /// 0-based characters since the last newline.
    col: u64,
}

impl Cursor {
    fn location(self) -> Location {
        Location {
            line: self.line,
            column: self.col + 1,
        }
    }

    /// Moves over `bytes` of text.
    fn over(mut self, bytes: &[u8]) -> Cursor {
        match memchr::memrchr(b'\n', bytes) {
            Some(last) => {
                self.line += memchr::memchr_iter(b'\n', bytes).count() as u64;
                self.col = chars(bytes.get(last + 1..).unwrap_or_default());
            }
            None => self.col += chars(bytes),
        }
        self
    }
}

fn chars(bytes: &[u8]) -> u64 {
    bytes.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64
}

/// Text being collected for a `name` or `addr` element.
struct Collect {
    depth: usize,
    entity: Entity,
    field: String,
    text: String,
    at: Option<Location>,
}

/// Per-document state.
struct Doc {
    path: Vec<String>,
    collecting: Option<Collect>,
    /// Inside `nonXMLBody/text` with Base64 content: its media type.
    embedded: Option<String>,
}

impl Doc {
    /// Path below the root, at most the last 4 elements.
    fn field(&self) -> String {
        let below_root = self.path.get(1..).unwrap_or_default();
        let from = below_root.len().saturating_sub(4);
        below_root.get(from..).unwrap_or_default().join("/")
    }

    fn under(&self, names: &[&str]) -> bool {
        self.path.len() >= names.len()
            && self.path[self.path.len() - names.len()..]
                .iter()
                .zip(names)
                .all(|(a, b)| a == b)
    }

    fn in_record_target(&self) -> bool {
        self.path.iter().any(|p| p == "recordTarget")
    }
}

/// Extracts a C-CDA document: `head` already read, `rest` the remainder.
pub fn scan(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let cap = ByteCap::new(MAX_TOKEN);
    let input =
        BufReader::with_capacity(64 << 10, CappedReader::new(head.chain(rest), cap.clone()));
    let mut reader = quick_xml::Reader::from_reader(input);
    reader.config_mut().trim_text(false);
    reader.config_mut().check_end_names = false;
    let mut buf = Vec::new();
    let mut cursor = Cursor { line: 1, col: 0 };
    let mut end = 0u64;
    let mut doc = Doc {
        path: Vec::new(),
        collecting: None,
        embedded: None,
    };
    loop {
        buf.clear();
        cap.reset();
        let event = match reader.read_event_into(&mut buf) {
            Ok(e) => e,
            Err(e) => {
                if cap.exceeded() {
                    return Err(ExtractError::Limit(format!(
                        "an XML token is longer than {MAX_TOKEN} bytes"
                    )));
                }
                return Err(ExtractError::Corrupt {
                    format: "C-CDA XML",
                    message: format!("at byte {}: {e}", reader.error_position()),
                });
            }
        };
        let start = cursor;
        let new_end = reader.buffer_position();
        let span = new_end.saturating_sub(end);
        end = new_end;
        // Where the event's raw content begins, and the content itself.
        let (open, raw): (u64, &[u8]) = match &event {
            Event::Start(e) | Event::Empty(e) => (1, e),
            Event::End(e) => (2, e),
            Event::Text(e) => (0, e),
            Event::CData(e) => (9, e),
            Event::Comment(e) => (4, e),
            Event::DocType(e) => (9, e),
            Event::Decl(_) | Event::PI(_) => (2, &[]),
            Event::Eof => (0, &[]),
        };
        let content_start = Cursor {
            col: start.col + open,
            ..start
        };
        let close = span.saturating_sub(open + raw.len() as u64);
        let after_content = content_start.over(raw);
        cursor = Cursor {
            col: after_content.col + close,
            ..after_content
        };
        match event {
            Event::Start(e) => {
                if doc.path.len() >= MAX_DEPTH {
                    return Err(ExtractError::Limit(format!(
                        "XML elements nested deeper than {MAX_DEPTH}"
                    )));
                }
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                doc.path.push(name);
                element(ctx, &mut doc, &e, content_start);
            }
            Event::Empty(e) => {
                let name = String::from_utf8_lossy(e.local_name().as_ref()).into_owned();
                doc.path.push(name);
                element(ctx, &mut doc, &e, content_start);
                end_element(ctx, &mut doc);
                doc.path.pop();
            }
            Event::End(_) => {
                end_element(ctx, &mut doc);
                doc.path.pop();
            }
            Event::Text(t) => {
                let text = match t.unescape() {
                    Ok(s) => s.into_owned(),
                    Err(_) => String::from_utf8_lossy(&t).into_owned(),
                };
                text_node(ctx, &mut doc, &text, content_start);
            }
            Event::CData(t) => {
                let text = String::from_utf8_lossy(&t).into_owned();
                text_node(ctx, &mut doc, &text, content_start);
            }
            Event::Eof => return Ok(()),
            _ => {}
        }
    }
}

/// Handles a start (or empty) element: known attributes, collection start.
fn element(ctx: &mut Ctx, doc: &mut Doc, e: &BytesStart, start: Cursor) {
    let raw: &[u8] = e;
    let local = doc.path.last().cloned().unwrap_or_default();
    let attr = |name: &str| -> Option<(String, Location)> {
        let a = e
            .attributes()
            .with_checks(false)
            .filter_map(Result::ok)
            .find(|a| a.key.local_name().as_ref() == name.as_bytes())?;
        let value = match a.unescape_value() {
            Ok(v) => v.into_owned(),
            Err(_) => String::from_utf8_lossy(&a.value).into_owned(),
        };
        // The value's offset in the tag, when it is borrowed from it.
        let offset = (a.value.as_ptr() as usize)
            .checked_sub(raw.as_ptr() as usize)
            .filter(|o| o + a.value.len() <= raw.len())
            .unwrap_or(0);
        let at = start.over(raw.get(..offset).unwrap_or_default()).location();
        Some((value, at))
    };
    let field = doc.field();
    match local.as_str() {
        "id" => {
            let root = attr("root").map(|r| r.0).unwrap_or_default();
            if let Some((extension, at)) = attr("extension").filter(|x| !x.0.trim().is_empty()) {
                let label = format!("{field}/@extension");
                let entity = match root.trim() {
                    SSN_ROOT => Some(Entity::Ssn),
                    NPI_ROOT => Some(Entity::Npi),
                    MBI_ROOT => Some(Entity::Mbi),
                    _ if doc.under(&["patientRole", "id"]) && doc.in_record_target() => {
                        Some(Entity::Mrn)
                    }
                    _ => None,
                };
                match entity {
                    Some(entity) => {
                        super::fields::report_field(ctx, RULE, &label, entity, &extension, at)
                    }
                    None => ctx.text(&label, &extension, at),
                }
            }
        }
        "telecom" => {
            if let Some((value, at)) = attr("value") {
                let label = format!("{field}/@value");
                let lower = value.to_ascii_lowercase();
                let scheme = ["tel:", "fax:", "mailto:"]
                    .into_iter()
                    .find(|s| lower.starts_with(s));
                match scheme {
                    Some(s) if doc.in_record_target() => {
                        let entity = if s == "mailto:" {
                            Entity::Email
                        } else {
                            Entity::Phone
                        };
                        let number = value.get(s.len()..).unwrap_or_default();
                        let at = Location {
                            column: at.column + s.len() as u64,
                            ..at
                        };
                        super::fields::report_field(ctx, RULE, &label, entity, number, at);
                    }
                    _ => ctx.text(&label, &value, at),
                }
            }
        }
        "birthTime" => {
            if let Some((value, at)) = attr("value") {
                let label = format!("{field}/@value");
                if doc.in_record_target() && doc.under(&["patient", "birthTime"]) {
                    let value = value.trim();
                    let digits = value.bytes().take_while(u8::is_ascii_digit).count();
                    let date = if digits >= 8 { &value[..8] } else { value };
                    super::fields::report_field(ctx, RULE, &label, Entity::Dob, date, at);
                } else {
                    ctx.text(&label, &value, at);
                }
            }
        }
        "name" | "addr" if doc.collecting.is_none() => {
            let entity = if local == "name"
                && (doc.under(&["patient", "name"]) || doc.under(&["guardianPerson", "name"]))
                && doc.in_record_target()
            {
                Some(Entity::PersonName)
            } else if local == "addr" && doc.under(&["patientRole", "addr"]) {
                Some(Entity::Address)
            } else {
                None
            };
            if let Some(entity) = entity {
                doc.collecting = Some(Collect {
                    depth: doc.path.len(),
                    entity,
                    field,
                    text: String::new(),
                    at: None,
                });
            }
        }
        "text" if doc.under(&["nonXMLBody", "text"]) => {
            let b64 = attr("representation").is_some_and(|r| r.0.eq_ignore_ascii_case("B64"));
            if b64 {
                doc.embedded = Some(attr("mediaType").map(|m| m.0).unwrap_or_default());
            }
        }
        _ => {
            if let Some((value, at)) = attr("value").or_else(|| attr("extension")) {
                if !value.trim().is_empty() {
                    ctx.text(&format!("{field}/@value"), &value, at);
                }
            }
        }
    }
}

fn end_element(ctx: &mut Ctx, doc: &mut Doc) {
    if doc
        .collecting
        .as_ref()
        .is_some_and(|c| c.depth == doc.path.len())
    {
        if let Some(c) = doc.collecting.take() {
            if let (Some(at), false) = (c.at, c.text.trim().is_empty()) {
                super::fields::report_field(ctx, RULE, &c.field, c.entity, c.text.trim(), at);
            }
        }
    }
    if doc.under(&["nonXMLBody", "text"]) {
        doc.embedded = None;
    }
}

fn text_node(ctx: &mut Ctx, doc: &mut Doc, text: &str, start: Cursor) {
    let lead = text.len() - text.trim_start().len();
    let trimmed = text.trim();
    if trimmed.is_empty() {
        return;
    }
    let at = start
        .over(text.as_bytes().get(..lead).unwrap_or_default())
        .location();
    if let Some(collect) = doc.collecting.as_mut() {
        if !collect.text.is_empty() {
            collect.text.push(' ');
        }
        collect.text.push_str(trimmed);
        collect.at.get_or_insert(at);
        return;
    }
    if let Some(media_type) = doc.embedded.take() {
        let ext = match media_type.to_ascii_lowercase().as_str() {
            "application/pdf" => "pdf",
            "text/rtf" | "application/rtf" => "rtf",
            "text/html" => "html",
            "text/plain" => "txt",
            _ => "bin",
        };
        let name = format!("nonXMLBody.{ext}");
        match super::fields::decode_base64(trimmed) {
            Ok(bytes) => {
                if let Err(e) = ctx.charge_expanded(bytes.len() as u64) {
                    ctx.not_examined(Some(&name), SkipReason::Limit, e.to_string());
                    return;
                }
                ctx.member(&name, &mut bytes.as_slice());
            }
            Err(message) => ctx.not_examined(Some(&name), SkipReason::Corrupt, message),
        }
        return;
    }
    ctx.text(&doc.field(), trimmed, at);
}

/// A reader that fails once more than `cap` bytes were read since the last
/// [`ByteCap::reset`]: bounds what one record or token may take in a
/// parser's buffer.
pub(crate) struct CappedReader<R> {
    inner: R,
    cap: ByteCap,
}

/// The shared counter of a [`CappedReader`].
#[derive(Clone)]
pub(crate) struct ByteCap {
    used: Rc<Cell<u64>>,
    exceeded: Rc<Cell<bool>>,
    limit: u64,
}

impl ByteCap {
    pub(crate) fn new(limit: u64) -> ByteCap {
        ByteCap {
            used: Rc::new(Cell::new(0)),
            exceeded: Rc::new(Cell::new(false)),
            limit,
        }
    }

    pub(crate) fn reset(&self) {
        self.used.set(0);
    }

    pub(crate) fn exceeded(&self) -> bool {
        self.exceeded.get()
    }
}

impl<R: Read> CappedReader<R> {
    pub(crate) fn new(inner: R, cap: ByteCap) -> Self {
        CappedReader { inner, cap }
    }
}

impl<R: Read> Read for CappedReader<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let used = self.cap.used.get();
        let room = self.cap.limit.saturating_sub(used);
        if room == 0 && !buf.is_empty() {
            self.cap.exceeded.set(true);
            return Err(io::Error::other(format!(
                "a single record or token is longer than {} bytes",
                self.cap.limit
            )));
        }
        let want = buf.len().min(usize::try_from(room).unwrap_or(usize::MAX));
        let n = self.inner.read(&mut buf[..want])?;
        self.cap.used.set(used + n as u64);
        Ok(n)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{scan_builtin as scan_bytes, value};
    use super::*;

    const DOC: &str = r#"<?xml version="1.0" encoding="UTF-8"?>
<ClinicalDocument xmlns="urn:hl7-org:v3" xmlns:sdtc="urn:hl7-org:sdtc">
  <recordTarget>
    <patientRole>
      <id root="2.16.840.1.113883.4.1" extension="412-56-7890"/>
      <id root="2.16.840.1.113883.19.5.99999.2" extension="MRN998877"/>
      <addr use="HP"><streetAddressLine>1357 Amber Drive</streetAddressLine><city>Beaverton</city></addr>
      <telecom value="tel:+1(555)555-2003" use="HP"/>
      <telecom value="mailto:eve@example.org"/>
      <patient>
        <name use="L"><given>Eve</given>
          <family>Everywoman</family></name>
        <birthTime value="19750501"/>
      </patient>
    </patientRole>
  </recordTarget>
  <author><assignedAuthor><id root="2.16.840.1.113883.4.6" extension="1234567893"/></assignedAuthor></author>
  <component><nonXMLBody><text mediaType="text/plain" representation="B64">U1NOIDQxMi01Ni03ODkwCg==</text></nonXMLBody></component>
</ClinicalDocument>
"#;

    #[test]
    fn capped_reader_fails_past_its_cap_and_keeps_what_fitted() {
        let cap = ByteCap::new(10);
        let mut r = CappedReader::new(&b"0123456789abc"[..], cap.clone());
        let mut out = Vec::new();
        assert!(r.read_to_end(&mut out).is_err());
        assert!(cap.exceeded());
        assert_eq!(out.len(), 10);
    }

    #[test]
    fn detects_clinical_documents() {
        assert!(looks_like(DOC.as_bytes()));
        assert!(looks_like(
            b"<cda:ClinicalDocument xmlns:cda=\"urn:hl7-org:v3\">"
        ));
        assert!(!looks_like(b"<html>ClinicalDocument urn:hl7-org:v3</html>"));
        assert!(!looks_like(
            b"<ClinicalDocument>no namespace</ClinicalDocument>"
        ));
    }

    #[test]
    fn reports_patient_fields_with_positions() {
        let s = scan_bytes("ccd.xml", DOC.as_bytes());
        let rows = s.field_rows(RULE);
        let fields: Vec<(Entity, &str)> =
            rows.iter().map(|r| (r.entity, r.field.as_str())).collect();
        assert_eq!(
            fields,
            vec![
                (Entity::Ssn, "recordTarget/patientRole/id/@extension"),
                (Entity::Mrn, "recordTarget/patientRole/id/@extension"),
                (Entity::Address, "recordTarget/patientRole/addr"),
                (Entity::Phone, "recordTarget/patientRole/telecom/@value"),
                (Entity::Email, "recordTarget/patientRole/telecom/@value"),
                (Entity::PersonName, "recordTarget/patientRole/patient/name"),
                (
                    Entity::Dob,
                    "recordTarget/patientRole/patient/birthTime/@value"
                ),
                (Entity::Npi, "author/assignedAuthor/id/@extension"),
            ]
        );
        let ssn = s.row(Entity::Ssn, "recordTarget/patientRole/id/@extension");
        let line5 = DOC.lines().nth(4).unwrap();
        assert_eq!(ssn.line, 5);
        assert_eq!(ssn.column as usize, line5.find("412-56").unwrap() + 1);
        let name = s.row(Entity::PersonName, "recordTarget/patientRole/patient/name");
        assert_eq!(name.line, 11);
        assert_eq!(
            value(
                &s,
                Entity::PersonName,
                "recordTarget/patientRole/patient/name"
            ),
            "Eve Everywoman"
        );
        assert_eq!(
            value(&s, Entity::Phone, "recordTarget/patientRole/telecom/@value"),
            "+1(555)555-2003"
        );
        assert!(s.not_examined().is_empty(), "{:?}", s.not_examined());
    }

    #[test]
    fn broken_xml_is_corrupt_and_entities_are_not_expanded() {
        let s = scan_bytes(
            "bad.xml",
            b"<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><recordTarget><patientRole><id root=\"x\" extension=\"1\"",
        );
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].1, SkipReason::Corrupt);
        let bomb = b"<?xml version=\"1.0\"?><!DOCTYPE x [<!ENTITY a \"aaaaaaaaaa\"><!ENTITY b \"&a;&a;&a;&a;&a;&a;&a;&a;&a;&a;\">]>\
<ClinicalDocument xmlns=\"urn:hl7-org:v3\"><title>&b;&b;&b;</title></ClinicalDocument>";
        let s = scan_bytes("bomb.xml", bomb);
        assert!(s.not_examined().is_empty());
    }
}
