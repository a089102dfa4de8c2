//! X12 EDI (837 P/I/D, 835, 834, 270/271 ...), segment by segment with
//! bounded memory. Separators come from the 106-character ISA header:
//! element separator at index 3, component separator at 104, segment
//! terminator at 105 — any characters. Line breaks after terminators are
//! ignored.
//!
//! Report scheme: `field` is `SEG*Q/SEGnn` where Q is the segment's first
//! element (its qualifier: `NM1*85/NM109`, `REF*SY/REF02`, `DMG*D8/DMG02`);
//! line = segment number in the file (ISA = 1), column = 1-based character
//! offset of the element in its segment.

use super::fields::{char_column, decode_text, text_labelled};
use super::segments::SegmentReader;
use super::{Ctx, Location};
use crate::entity::Entity;
use crate::error::ExtractError;
use crate::report::SkipReason;
use std::io::{BufReader, Read};

/// Rule id of findings in known X12 elements.
pub const RULE: &str = "x12-field";
/// Longest segment examined (BIN segments can be large).
pub const MAX_SEGMENT: usize = 16 << 20;
/// Length of the ISA header, separators included.
pub const ISA_LEN: usize = 106;
/// Most elements of one segment taken one by one (real segments have a few
/// dozen); the rest of a segment with more is matched as plain text and
/// reported, so memory does not grow with the separators in one segment.
pub const MAX_ELEMENTS: usize = 1024;

/// Whether `head` starts with an ISA segment (after blanks or a BOM).
pub fn looks_like(head: &[u8]) -> bool {
    let isa = head.get(isa_start(head)..).unwrap_or_default();
    isa.starts_with(b"ISA")
        && isa
            .get(3)
            .is_some_and(|&b| !b.is_ascii_alphanumeric() && !b.is_ascii_whitespace())
}

fn isa_start(head: &[u8]) -> usize {
    let bom = if head.starts_with(&[0xEF, 0xBB, 0xBF]) {
        3
    } else {
        0
    };
    bom + head
        .get(bom..)
        .unwrap_or_default()
        .iter()
        .position(|b| !b.is_ascii_whitespace())
        .unwrap_or(0)
}

/// Separators read from the ISA header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Separators {
    pub element: u8,
    pub component: u8,
    pub segment: u8,
}

impl Separators {
    /// From the start of an interchange; an error says what is wrong.
    pub fn from_isa(isa: &[u8]) -> Result<Separators, String> {
        let header = isa.get(..ISA_LEN).ok_or_else(|| {
            format!(
                "ISA header is {} bytes, not {ISA_LEN}",
                isa.iter().take(ISA_LEN).count()
            )
        })?;
        let element = header[3];
        let count = header.iter().filter(|&&b| b == element).count();
        if count != 16 || header[103] != element {
            return Err(format!(
                "ISA header does not hold 16 fixed-width elements separated by {:?}",
                element as char
            ));
        }
        let (component, segment) = (header[104], header[105]);
        if component == element || segment == element || segment == component {
            return Err("ISA separators are not distinct".into());
        }
        Ok(Separators {
            element,
            component,
            segment,
        })
    }
}

/// Extracts an X12 stream: `head` already read, `rest` the remainder.
pub fn scan(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let start = isa_start(head);
    let body = head.get(start..).unwrap_or_default();
    let separators = match Separators::from_isa(body) {
        Ok(s) => s,
        Err(message) => {
            ctx.not_examined(
                None,
                SkipReason::Corrupt,
                format!("X12: {message}; matched as plain text only"),
            );
            return super::text::scan_stream(ctx, "", head, rest);
        }
    };
    let reader = BufReader::with_capacity(64 << 10, body.chain(rest));
    let mut segments = SegmentReader::new(reader, MAX_SEGMENT);
    // Segments counted so far (blank ones are not segments).
    let mut number = 0u64;
    let mut outcome: Option<Result<(), ExtractError>> = None;
    let separators = &separators;
    // Segments are read in batches, as HL7's are: one matcher pass over a
    // batch tells which segments hold no candidate, and their elements are
    // then not searched one by one (a search per element was most of an
    // X12 scan). A big file's batches are matched on every thread.
    super::ordered::batches_in_order(
        ctx,
        |mut batch: Batch| {
            if outcome.is_some() {
                return None;
            }
            batch.first_number = number;
            while !batch.records.is_full() {
                match segments.next_piece(&[separators.segment]) {
                    Ok(Some(piece)) => {
                        let start = batch.records.raw.len();
                        batch.records.raw.extend_from_slice(piece.bytes);
                        batch.records.end_raw_record(start);
                        batch.truncated.push(piece.truncated);
                    }
                    Ok(None) => {
                        outcome = Some(Ok(()));
                        break;
                    }
                    Err(e) => {
                        outcome = Some(Err(e.into()));
                        break;
                    }
                }
            }
            // Some segment is not UTF-8: each one decoded alone.
            let records = &mut batch.records;
            records.decode(|_, bytes, _, text| text.push_str(&decode_text(bytes)));
            number += (0..batch.truncated.len())
                .filter(|&i| !records.text[records.record(i).0].trim().is_empty())
                .count() as u64;
            Some((batch, outcome.is_some()))
        },
        |ctx, batch| {
            batch.records.judge(ctx);
            let mut number = batch.first_number;
            for (i, &truncated) in batch.truncated.iter().enumerate() {
                let (range, quiet) = batch.records.record(i);
                let text = &batch.records.text[range];
                let lead = text.len() - text.trim_start().len();
                let segment = text.get(lead..).unwrap_or_default();
                if segment.trim().is_empty() {
                    continue;
                }
                number += 1;
                if truncated {
                    ctx.not_examined(
                        None,
                        SkipReason::Limit,
                        format!(
                            "X12 segment {number} is longer than {MAX_SEGMENT} bytes: only its start was examined"
                        ),
                    );
                }
                let at = |offset: usize| Location {
                    line: number,
                    column: char_column(segment, offset),
                };
                ctx.within_block(text.as_bytes(), quiet, |ctx| {
                    scan_segment(ctx, separators, segment, &at)
                });
            }
        },
    );
    outcome.unwrap_or(Ok(()))
}

/// Segments read ahead, and the number of the segment before them.
#[derive(Default)]
struct Batch {
    records: super::RecordBatch,
    /// Whether each segment was cut at [`MAX_SEGMENT`].
    truncated: Vec<bool>,
    first_number: u64,
}

impl super::ordered::Batch for Batch {
    fn clear(&mut self) {
        self.records.clear();
        self.truncated.clear();
    }

    fn held_bytes(&self) -> usize {
        self.records.held_bytes() + self.truncated.capacity()
    }
}

/// Pushes (offset, element, element trimmed) for each of `parts` up to
/// MAX_ELEMENTS + 1 of them; returns where the rest starts if there are more.
fn collect_elements<'s>(
    parts: impl Iterator<Item = &'s str>,
    sep_len: usize,
    elements: &mut Vec<(usize, &'s str, &'s str)>,
) -> Option<usize> {
    let mut offset = 0;
    for part in parts {
        if elements.len() > MAX_ELEMENTS {
            return Some(offset);
        }
        elements.push((offset, part, part.trim()));
        offset += part.len() + sep_len;
    }
    None
}

fn scan_segment(
    ctx: &mut Ctx,
    separators: &Separators,
    segment: &str,
    at: &dyn Fn(usize) -> Location,
) {
    let sep = separators.element as char;
    // (offset, element, element trimmed), each trimmed once.
    let mut elements: Vec<(usize, &str, &str)> = Vec::new();
    // Where the elements past MAX_ELEMENTS start, if there are more.
    let rest = if sep.is_ascii() {
        // Split by the byte (cheaper than by char): an ASCII byte never
        // sits inside a UTF-8 sequence, so each part is a str.
        let byte = separators.element;
        let parts = segment
            .as_bytes()
            .split(move |&b| b == byte)
            .scan(0, |start, part| {
                let range = *start..*start + part.len();
                *start = range.end + 1;
                Some(range)
            })
            .map(|range| &segment[range]);
        collect_elements(parts, 1, &mut elements)
    } else {
        collect_elements(segment.split(sep), sep.len_utf8(), &mut elements)
    };
    let id = elements.first().map_or("", |e| e.2);
    let element = |n: usize| elements.get(n).map_or("", |e| e.2);
    let qualifier = element(1);
    // `NM1*IL/NM109`: built without the formatting machinery (as HL7's
    // labels are), one for every element reported or matched.
    let label = |n: usize| {
        let mut label = String::with_capacity(2 * id.len() + qualifier.len() + 6);
        label.push_str(id);
        if !qualifier.is_empty() {
            label.push('*');
            label.push_str(qualifier);
        }
        label.push('/');
        label.push_str(id);
        if n < 10 {
            label.push('0');
        }
        label.push_str(itoa::Buffer::new().format(n));
        label
    };
    // Elements reported as field values are not matched as text again.
    let mut consumed = [false; 32];
    let mut report = |ctx: &mut Ctx, n: usize, entity: Entity, value: &str| {
        if let (Some(slot), Some(&(offset, _, _))) = (consumed.get_mut(n), elements.get(n)) {
            *slot = true;
            super::fields::report_field(ctx, RULE, &label(n), entity, value, at(offset));
        }
    };
    match id {
        "NM1" => {
            let id_entity = match element(8) {
                "XX" => Some(Entity::Npi),
                "34" => Some(Entity::Ssn),
                "MR" => Some(Entity::Mrn),
                _ => None,
            };
            if let Some(entity) = id_entity.filter(|_| !element(9).is_empty()) {
                report(ctx, 9, entity, element(9));
            }
            if matches!(qualifier, "IL" | "QC") && element(2) == "1" {
                let name: Vec<&str> = [element(4), element(5), element(3)]
                    .into_iter()
                    .filter(|p| !p.is_empty())
                    .collect();
                if !name.is_empty() {
                    report(ctx, 3, Entity::PersonName, &name.join(" "));
                    for n in [4, 5] {
                        if let Some(slot) = consumed.get_mut(n) {
                            *slot = true;
                        }
                    }
                }
            }
        }
        "DMG" if qualifier == "D8" && !element(2).is_empty() => {
            report(ctx, 2, Entity::Dob, element(2));
        }
        "REF" => match qualifier {
            "SY" if !element(2).is_empty() => report(ctx, 2, Entity::Ssn, element(2)),
            "EA" if !element(2).is_empty() => report(ctx, 2, Entity::Mrn, element(2)),
            _ => {}
        },
        "PER" => {
            for n in [3, 5, 7] {
                let entity = match element(n) {
                    "TE" | "FX" => Entity::Phone,
                    "EM" => Entity::Email,
                    _ => continue,
                };
                if !element(n + 1).is_empty() {
                    report(ctx, n + 1, entity, element(n + 1));
                }
            }
        }
        _ => {}
    }
    for (n, &(offset, value, trimmed)) in elements.iter().enumerate().skip(1) {
        if trimmed.is_empty() || consumed.get(n).copied().unwrap_or(false) {
            continue;
        }
        text_labelled(ctx, || label(n), value, at(offset));
    }
    if let Some(start) = rest {
        let rest = segment.get(start..).unwrap_or_default();
        text_labelled(ctx, || label(MAX_ELEMENTS + 1), rest, at(start));
        ctx.not_examined(
            None,
            SkipReason::Limit,
            format!(
                "X12 {id} segment has more than {MAX_ELEMENTS} elements; the rest was matched \
                 as plain text"
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{scan_builtin as scan, value};
    use super::*;

    #[test]
    fn a_segment_of_too_many_elements_is_matched_as_text_and_reported() {
        let mut data = isa('*', ':', '~');
        data.push_str("ST*837*0001~REF*ZZ");
        data.push_str(&"*".repeat(MAX_ELEMENTS + 100));
        data.push_str("SSN 412-56-7890*x~SE*2*0001~");
        let s = scan("big.x12", data.as_bytes());
        assert_eq!(
            value(&s, Entity::Ssn, &format!("REF*ZZ/REF{}", MAX_ELEMENTS + 1)),
            "412-56-7890"
        );
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(
            skipped[0].2.contains("more than 1024 elements"),
            "{skipped:?}"
        );
    }

    fn isa(element: char, component: char, terminator: char) -> String {
        let isa = format!(
            "ISA*00*          *00*          *ZZ*SUBMITTERID    *ZZ*RECEIVERID     *240101*1200*^*00501*000000001*0*P*{component}{terminator}"
        );
        isa.replace('*', &element.to_string())
    }

    fn interchange(element: char, component: char, terminator: char, newline: &str) -> String {
        let body = [
            "GS*HC*SENDER*RECEIVER*20240101*1200*1*X*005010X222A1",
            "ST*837*0001*005010X222A1",
            "NM1*85*2*GOOD CLINIC*****XX*1234567893",
            "PER*IC*BILLING*TE*5555551234*EM*billing@example.org",
            "NM1*IL*1*DOE*JANE*Q***MI*W123456789",
            "DMG*D8*19800102*F",
            "REF*SY*412567890",
            "REF*EI*123456789",
            "NM1*QC*1*DOE*JOHN****34*412567891",
            "REF*EA*MRN5551212",
            "CLM*ACCT1*100***11:B:1",
            "SE*10*0001",
            "GE*1*1",
            "IEA*1*000000001",
        ];
        let mut out = isa(element, component, terminator);
        out.push_str(newline);
        for seg in body {
            let seg = seg
                .replace('*', &element.to_string())
                .replace(':', &component.to_string());
            out.push_str(&seg);
            out.push(terminator);
            out.push_str(newline);
        }
        out
    }

    #[test]
    fn detects_isa() {
        assert!(looks_like(isa('*', ':', '~').as_bytes()));
        assert!(looks_like(b"\r\nISA|00"));
        assert!(!looks_like(b"ISAAC NEWTON"));
        assert!(!looks_like(b"ISA"));
    }

    #[test]
    fn reads_separators_from_isa() {
        let s = Separators::from_isa(isa('|', '>', '\n').as_bytes()).unwrap();
        assert_eq!((s.element, s.component, s.segment), (b'|', b'>', b'\n'));
        assert!(Separators::from_isa(b"ISA*00*").is_err());
    }

    #[test]
    fn maps_elements_exactly() {
        for (e, c, t, nl) in [
            ('*', ':', '~', "\n"),
            ('|', '^', '\u{1d}', ""),
            ('!', '>', '\n', ""),
        ] {
            let text = interchange(e, c, t, nl);
            let s = scan("claim.837", text.as_bytes());
            let rows = s.field_rows(RULE);
            let fields: Vec<(Entity, &str)> =
                rows.iter().map(|r| (r.entity, r.field.as_str())).collect();
            assert_eq!(
                fields,
                vec![
                    (Entity::Npi, "NM1*85/NM109"),
                    (Entity::Phone, "PER*IC/PER04"),
                    (Entity::Email, "PER*IC/PER06"),
                    (Entity::PersonName, "NM1*IL/NM103"),
                    (Entity::Dob, "DMG*D8/DMG02"),
                    (Entity::Ssn, "REF*SY/REF02"),
                    (Entity::Ssn, "NM1*QC/NM109"),
                    (Entity::PersonName, "NM1*QC/NM103"),
                    (Entity::Mrn, "REF*EA/REF02"),
                ],
                "separators {e:?} {c:?} {t:?}"
            );
            let npi = s.row(Entity::Npi, "NM1*85/NM109");
            assert_eq!(npi.line, 4);
            assert_eq!(npi.column, 29);
            assert_eq!(value(&s, Entity::PersonName, "NM1*IL/NM103"), "JANE Q DOE");
            assert!(s.not_examined().is_empty());
        }
    }

    #[test]
    fn short_isa_is_reported_and_text_scanned() {
        let s = scan("short.edi", b"ISA*00*   *00~GS*HC~");
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].1, SkipReason::Corrupt);
        assert!(skipped[0].2.contains("ISA"), "{}", skipped[0].2);
        assert!(s.field_rows(RULE).is_empty());
    }

    #[test]
    fn odd_segments_do_not_panic() {
        let mut text = isa('*', ':', '~');
        text.push_str("NM1~NM1*IL*1~PER*IC*X*TE~PER*IC*X*EM*~DMG*D8~REF*SY~*~~~\u{fffd}*é*~");
        let s = scan("odd.edi", text.as_bytes());
        assert!(s.field_rows(RULE).is_empty());
    }
}
