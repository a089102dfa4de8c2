//! DICOM: data set elements read one by one from the stream (explicit and
//! implicit VR, little and big endian, transfer syntax from the group 0002
//! meta header; files without preamble or meta header recognised by their
//! first element). Sequences are walked into (their items hold elements
//! like any other), values are read only for the tags we report or match as
//! text (bounded), everything else is skipped unread, and reading stops at
//! the pixel data (7FE0,0010). Its first frame is loaded only where text
//! may be burned into the pixels (BurnedInAnnotation YES; without that
//! element, secondary captures and ultrasound), when uncompressed: it is
//! read by OCR ([`burned_in`]), findings with field `frame 1`.
//!
//! Report scheme: `field` is `(gggg,eeee) Keyword` (`(0010,0010)
//! PatientName`); line is 1 and column the 1-based byte offset of the value
//! in the file (a binary format has no lines).

use super::fields::decode_text;
use super::{Ctx, Location};
use crate::entity::Entity;
use crate::error::ExtractError;
use crate::report::SkipReason;
use std::io::{self, Read};

/// Rule id of findings in known DICOM elements.
pub const RULE: &str = "dicom-tag";
/// Most bytes of one value read for matching; the rest is skipped.
pub const MAX_VALUE: u32 = 64 << 10;

const PREAMBLE: usize = 128;
const UNDEFINED: u32 = 0xFFFF_FFFF;
const PIXEL_DATA: (u16, u16) = (0x7FE0, 0x0010);

/// Tags reported as field values: (tag, keyword, entity).
const KNOWN: &[((u16, u16), &str, Entity)] = &[
    (
        (0x0008, 0x0090),
        "ReferringPhysicianName",
        Entity::PersonName,
    ),
    ((0x0010, 0x0010), "PatientName", Entity::PersonName),
    ((0x0010, 0x0020), "PatientID", Entity::Mrn),
    ((0x0010, 0x0030), "PatientBirthDate", Entity::Dob),
    ((0x0010, 0x1000), "OtherPatientIDs", Entity::Mrn),
    ((0x0010, 0x1001), "OtherPatientNames", Entity::PersonName),
    ((0x0010, 0x1005), "PatientBirthName", Entity::PersonName),
    ((0x0010, 0x1040), "PatientAddress", Entity::Address),
    (
        (0x0010, 0x1060),
        "PatientMotherBirthName",
        Entity::PersonName,
    ),
    ((0x0010, 0x2154), "PatientTelephoneNumbers", Entity::Phone),
];

/// VRs with a 2-byte reserved field and a 4-byte length in explicit VR.
const LONG_VRS: &[&[u8; 2]] = &[
    b"OB", b"OD", b"OF", b"OL", b"OV", b"OW", b"SQ", b"SV", b"UC", b"UN", b"UR", b"UT", b"UV",
];
/// VRs of free text worth matching.
const TEXT_VRS: &[&[u8; 2]] = &[b"LO", b"LT", b"PN", b"SH", b"ST", b"UC", b"UT"];
const ALL_VRS: &[&[u8; 2]] = &[
    b"AE", b"AS", b"AT", b"CS", b"DA", b"DS", b"DT", b"FD", b"FL", b"IS", b"LO", b"LT", b"OB",
    b"OD", b"OF", b"OL", b"OV", b"OW", b"PN", b"SH", b"SL", b"SQ", b"SS", b"ST", b"SV", b"TM",
    b"UC", b"UI", b"UL", b"UN", b"UR", b"US", b"UT", b"UV",
];

/// How the data set is encoded.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Syntax {
    pub explicit: bool,
    pub big_endian: bool,
}

const EXPLICIT_LE: Syntax = Syntax {
    explicit: true,
    big_endian: false,
};

/// Whether `head` is DICOM: `DICM` after the preamble, or a plausible
/// first element of group 0002/0008 at offset 0.
pub fn looks_like(head: &[u8]) -> bool {
    head.get(PREAMBLE..PREAMBLE + 4) == Some(b"DICM") || guess_syntax(head).is_some()
}

fn u16_at(b: &[u8], at: usize, big: bool) -> Option<u16> {
    let pair: [u8; 2] = b.get(at..at + 2)?.try_into().ok()?;
    Some(if big {
        u16::from_be_bytes(pair)
    } else {
        u16::from_le_bytes(pair)
    })
}

fn u32_at(b: &[u8], at: usize, big: bool) -> Option<u32> {
    let quad: [u8; 4] = b.get(at..at + 4)?.try_into().ok()?;
    Some(if big {
        u32::from_be_bytes(quad)
    } else {
        u32::from_le_bytes(quad)
    })
}

fn is_vr(b: &[u8]) -> bool {
    ALL_VRS.iter().any(|vr| &vr[..] == b)
}

/// The encoding of a data set starting at `b[0]` with no meta header, from
/// its first element(s); `None` when it does not look like DICOM.
pub fn guess_syntax(b: &[u8]) -> Option<Syntax> {
    let vr = b.get(4..6)?;
    if is_vr(vr) {
        if matches!(u16_at(b, 0, false)?, 0x0002 | 0x0008) {
            return Some(EXPLICIT_LE);
        }
        if u16_at(b, 0, true)? == 0x0008 {
            return Some(Syntax {
                explicit: true,
                big_endian: true,
            });
        }
        return None;
    }
    // Implicit VR little endian: a short first element of group 0008
    // followed by another of the same group with a higher element number.
    if u16_at(b, 0, false)? != 0x0008 {
        return None;
    }
    let len = u32_at(b, 4, false)?;
    if len > 1024 {
        return None;
    }
    let next = 8 + len as usize;
    let same_group = u16_at(b, next, false)? == 0x0008;
    let ascending = u16_at(b, next + 2, false)? > u16_at(b, 2, false)?;
    (same_group && ascending).then_some(Syntax {
        explicit: false,
        big_endian: false,
    })
}

/// The stream with its byte position.
struct Input<'a> {
    inner: &'a mut dyn Read,
    pos: u64,
}

impl Input<'_> {
    /// Fills `buf`; returns how many bytes there were (fewer only at end).
    fn fill(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let mut done = 0;
        while done < buf.len() {
            match self.inner.read(&mut buf[done..]) {
                Ok(0) => break,
                Ok(n) => done += n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        self.pos += done as u64;
        Ok(done)
    }

    fn exact(&mut self, buf: &mut [u8], what: &str) -> Result<(), ExtractError> {
        let start = self.pos;
        let got = self.fill(buf)?;
        if got < buf.len() {
            return Err(truncated(what, start, buf.len() as u64, got as u64));
        }
        Ok(())
    }

    fn skip(&mut self, n: u64, what: &str) -> Result<(), ExtractError> {
        let start = self.pos;
        let copied = io::copy(&mut (&mut *self.inner).take(n), &mut io::sink())?;
        self.pos += copied;
        if copied < n {
            return Err(truncated(what, start, n, copied));
        }
        Ok(())
    }
}

fn truncated(what: &str, at: u64, wanted: u64, got: u64) -> ExtractError {
    ExtractError::Corrupt {
        format: "DICOM",
        message: format!("{what} at byte {at} needs {wanted} bytes but the file ends after {got}"),
    }
}

/// One element header.
struct Element {
    group: u16,
    element: u16,
    vr: Option<[u8; 2]>,
    len: u32,
}

fn tag_name(e: &Element) -> String {
    format!("({:04X},{:04X})", e.group, e.element)
}

/// Reads the rest of an element header after its 4 tag bytes.
fn read_header(input: &mut Input, tag: [u8; 4], syntax: Syntax) -> Result<Element, ExtractError> {
    let big = syntax.big_endian;
    let group = u16_at(&tag, 0, big).unwrap_or(0);
    let element = u16_at(&tag, 2, big).unwrap_or(0);
    let what = format!("element ({group:04X},{element:04X}) header");
    let mut four = [0u8; 4];
    if group == 0xFFFE || !syntax.explicit {
        input.exact(&mut four, &what)?;
        return Ok(Element {
            group,
            element,
            vr: None,
            len: u32_at(&four, 0, big).unwrap_or(0),
        });
    }
    let mut vr = [0u8; 2];
    input.exact(&mut vr, &what)?;
    if !vr.iter().all(u8::is_ascii_uppercase) {
        return Err(ExtractError::Corrupt {
            format: "DICOM",
            message: format!(
                "element ({group:04X},{element:04X}) at byte {} has no valid VR",
                input.pos.saturating_sub(6)
            ),
        });
    }
    let len = if LONG_VRS.iter().any(|v| **v == vr) {
        // Two reserved bytes, then a 4-byte length.
        let mut reserved = [0u8; 2];
        input.exact(&mut reserved, &what)?;
        input.exact(&mut four, &what)?;
        u32_at(&four, 0, big).unwrap_or(0)
    } else {
        let mut two = [0u8; 2];
        input.exact(&mut two, &what)?;
        u32::from(u16_at(&two, 0, big).unwrap_or(0))
    };
    Ok(Element {
        group,
        element,
        vr: Some(vr),
        len,
    })
}

/// Extracts a DICOM stream: `head` already read, `rest` the remainder.
pub fn scan(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let mut chained = head.chain(rest);
    let mut input = Input {
        inner: &mut chained,
        pos: 0,
    };
    let has_preamble = head.get(PREAMBLE..PREAMBLE + 4) == Some(b"DICM");
    if has_preamble {
        input.skip(PREAMBLE as u64 + 4, "preamble")?;
    }
    // Group 0002 (meta header) is always explicit VR little endian.
    let mut transfer_syntax: Option<String> = None;
    let mut tag = [0u8; 4];
    loop {
        let got = input.fill(&mut tag)?;
        if got == 0 {
            return Ok(());
        }
        if got < 4 {
            return Err(truncated(
                "element tag",
                input.pos - got as u64,
                4,
                got as u64,
            ));
        }
        if u16_at(&tag, 0, false) != Some(0x0002) {
            break;
        }
        let element = read_header(&mut input, tag, EXPLICIT_LE)?;
        let what = format!("element {} value", tag_name(&element));
        if element.element == 0x0010 && element.len <= 256 {
            let mut value = vec![0u8; element.len as usize];
            input.exact(&mut value, &what)?;
            let uid = decode_text(&value)
                .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                .to_string();
            transfer_syntax = Some(uid);
        } else if element.len != UNDEFINED {
            input.skip(u64::from(element.len), &what)?;
        }
    }
    let data_start = usize::try_from(input.pos.saturating_sub(4)).unwrap_or(usize::MAX);
    let syntax = match transfer_syntax.as_deref() {
        Some("1.2.840.10008.1.2") => Syntax {
            explicit: false,
            big_endian: false,
        },
        Some("1.2.840.10008.1.2.2") => Syntax {
            explicit: true,
            big_endian: true,
        },
        Some("1.2.840.10008.1.2.1.99") => {
            ctx.not_examined(
                None,
                SkipReason::Unsupported,
                "DICOM data set is deflate-compressed (transfer syntax 1.2.840.10008.1.2.1.99): \
                 only the meta header was examined",
            );
            return Ok(());
        }
        Some(_) => EXPLICIT_LE,
        None => head
            .get(data_start..)
            .and_then(guess_syntax)
            .unwrap_or(EXPLICIT_LE),
    };
    data_set(ctx, &mut input, tag, syntax)
}

fn data_set(
    ctx: &mut Ctx,
    input: &mut Input,
    mut tag: [u8; 4],
    syntax: Syntax,
) -> Result<(), ExtractError> {
    let mut pixels = burned_in::Pixels::default();
    loop {
        let element = read_header(input, tag, syntax)?;
        let key = (element.group, element.element);
        if key == PIXEL_DATA {
            return burned_in::read(ctx, input, &element, syntax, &pixels);
        }
        if element.len <= 64 && burned_in::Pixels::wants(key) {
            let mut value = vec![0u8; element.len as usize];
            input.exact(&mut value, &format!("element {} value", tag_name(&element)))?;
            pixels.note(key, &value, syntax.big_endian);
            let got = input.fill(&mut tag)?;
            if got == 0 {
                return Ok(());
            }
            if got < 4 {
                return Err(truncated(
                    "element tag",
                    input.pos - got as u64,
                    4,
                    got as u64,
                ));
            }
            continue;
        }
        let undefined = element.len == UNDEFINED;
        let is_sequence = element.vr.is_none_or(|vr| &vr == b"SQ");
        if element.group == 0xFFFE || is_sequence && (undefined || element.vr.is_some()) {
            // Items, delimiters and sequences: walk into them; their
            // elements follow in the stream.
        } else if undefined {
            let vr = element.vr.map(|v| String::from_utf8_lossy(&v).into_owned());
            ctx.not_examined(
                None,
                SkipReason::Unsupported,
                format!(
                    "DICOM element {} ({}) has undefined length: the rest of the data set was \
                     not examined",
                    tag_name(&element),
                    vr.unwrap_or_default()
                ),
            );
            return Ok(());
        } else {
            value(ctx, input, &element, syntax)?;
        }
        let got = input.fill(&mut tag)?;
        if got == 0 {
            return Ok(());
        }
        if got < 4 {
            return Err(truncated(
                "element tag",
                input.pos - got as u64,
                4,
                got as u64,
            ));
        }
    }
}

fn value(
    ctx: &mut Ctx,
    input: &mut Input,
    element: &Element,
    syntax: Syntax,
) -> Result<(), ExtractError> {
    let key = (element.group, element.element);
    let known = KNOWN.iter().find(|(tag, _, _)| *tag == key);
    let text_vr = element
        .vr
        .is_some_and(|vr| TEXT_VRS.iter().any(|v| **v == vr));
    let what = format!("element {} value", tag_name(element));
    // In implicit VR the type is unknown: short values are read and
    // matched when they look like text.
    let maybe_text = !syntax.explicit && element.len <= 1024 && element.group != 0x0002;
    if known.is_none() && !text_vr && !maybe_text {
        return input.skip(u64::from(element.len), &what);
    }
    let take = element.len.min(MAX_VALUE);
    let start = input.pos;
    let mut bytes = vec![0u8; take as usize];
    input.exact(&mut bytes, &what)?;
    input.skip(u64::from(element.len - take), &what)?;
    let text = decode_text(&bytes);
    let trimmed = text.trim_end_matches(['\0', ' ']);
    if trimmed.trim().is_empty() {
        return Ok(());
    }
    let at = |offset: usize| Location {
        line: 1,
        column: start + offset as u64 + 1,
    };
    match known {
        Some((_, keyword, entity)) => {
            let field = format!("{} {keyword}", tag_name(element));
            let mut offset = 0usize;
            for part in trimmed.split('\\') {
                let here = offset;
                offset += part.len() + 1;
                let lead = part.len() - part.trim_start().len();
                let part = part.trim();
                if part.is_empty() {
                    continue;
                }
                let shown = if *entity == Entity::PersonName {
                    person_name(part)
                } else {
                    part.to_string()
                };
                super::fields::report_field(ctx, RULE, &field, *entity, &shown, at(here + lead));
            }
        }
        None => {
            let printable = trimmed
                .chars()
                .all(|c| !c.is_control() || matches!(c, '\r' | '\n' | '\t'));
            let uid_or_number = trimmed
                .chars()
                .all(|c| c.is_ascii_digit() || matches!(c, '.' | '\\' | '-' | '+' | ' '));
            if printable && !uid_or_number {
                ctx.text(&tag_name(element), trimmed, at(0));
            }
        }
    }
    Ok(())
}

/// `Family^Given^Middle^Prefix^Suffix` (first component group) as words.
fn person_name(pn: &str) -> String {
    let group = pn.split('=').next().unwrap_or(pn);
    group
        .split('^')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text burned into the pixels: the first frame of an image that may hold
/// it, read by OCR.
mod burned_in {
    use super::{truncated, u16_at, Element, Input, Syntax, UNDEFINED};
    use crate::error::ExtractError;
    use crate::extract::ocr::{self, prep::Page, PageSource};
    use crate::extract::Ctx;
    use crate::report::SkipReason;
    use image::GrayImage;

    /// What the data set says about its pixels.
    #[derive(Default, Debug)]
    pub(super) struct Pixels {
        sop_class: String,
        modality: String,
        burned_in: Option<String>,
        photometric: String,
        samples: u16,
        planar: u16,
        rows: u16,
        columns: u16,
        bits_allocated: u16,
    }

    const TAGS: [(u16, u16); 9] = [
        (0x0008, 0x0016),
        (0x0008, 0x0060),
        (0x0028, 0x0301),
        (0x0028, 0x0004),
        (0x0028, 0x0002),
        (0x0028, 0x0006),
        (0x0028, 0x0010),
        (0x0028, 0x0011),
        (0x0028, 0x0100),
    ];

    impl Pixels {
        pub(super) fn wants(key: (u16, u16)) -> bool {
            TAGS.contains(&key)
        }

        pub(super) fn note(&mut self, key: (u16, u16), value: &[u8], big: bool) {
            let text = || {
                String::from_utf8_lossy(value)
                    .trim_matches(|c: char| c == '\0' || c.is_whitespace())
                    .to_ascii_uppercase()
            };
            let number = || u16_at(value, 0, big).unwrap_or(0);
            match key {
                (0x0008, 0x0016) => self.sop_class = text(),
                (0x0008, 0x0060) => self.modality = text(),
                (0x0028, 0x0301) => self.burned_in = Some(text()),
                (0x0028, 0x0004) => self.photometric = text(),
                (0x0028, 0x0002) => self.samples = number(),
                (0x0028, 0x0006) => self.planar = number(),
                (0x0028, 0x0010) => self.rows = number(),
                (0x0028, 0x0011) => self.columns = number(),
                (0x0028, 0x0100) => self.bits_allocated = number(),
                _ => {}
            }
        }

        /// Whether text may be burned in: the file says so, or (when it
        /// does not say) it is a secondary capture (a screen, a scanned
        /// document) or ultrasound, which carry it as a rule.
        fn may_hold_text(&self) -> bool {
            match self.burned_in.as_deref() {
                Some("YES") => true,
                Some(_) => false,
                None => {
                    self.sop_class.starts_with("1.2.840.10008.5.1.4.1.1.7")
                        || self.sop_class.starts_with("1.2.840.10008.5.1.4.1.1.6.")
                        || self.sop_class.starts_with("1.2.840.10008.5.1.4.1.1.3.")
                        || self.modality == "US"
                }
            }
        }
    }

    /// Reads the first frame at the pixel data element (its header read)
    /// when it may hold text, and OCRs it.
    pub(super) fn read(
        ctx: &mut Ctx,
        input: &mut Input,
        element: &Element,
        syntax: Syntax,
        pixels: &Pixels,
    ) -> Result<(), ExtractError> {
        if !pixels.may_hold_text() {
            return Ok(());
        }
        let unsupported = |ctx: &mut Ctx, why: String| {
            ctx.not_examined(
                None,
                SkipReason::Unsupported,
                format!("DICOM pixels that may show burned-in text were not read: {why}"),
            );
            Ok(())
        };
        if element.len == UNDEFINED {
            return unsupported(ctx, "compressed (encapsulated) pixel data".into());
        }
        let (rows, columns) = (usize::from(pixels.rows), usize::from(pixels.columns));
        let samples = usize::from(pixels.samples.max(1));
        let bytes_per_sample = match pixels.bits_allocated {
            8 => 1,
            16 => 2,
            other => return unsupported(ctx, format!("{other} bits allocated per sample")),
        };
        let colour = match (pixels.photometric.as_str(), samples) {
            ("MONOCHROME1" | "MONOCHROME2" | "", 1) => false,
            ("RGB" | "YBR_FULL", 3) => true,
            (other, n) => return unsupported(ctx, format!("{n} samples of {other}")),
        };
        let frame = rows * columns * samples * bytes_per_sample;
        if rows == 0 || columns == 0 || frame as u64 > u64::from(element.len) {
            return Err(ExtractError::Corrupt {
                format: "DICOM",
                message: format!(
                    "pixel data of {} bytes is shorter than one {rows}×{columns} frame",
                    element.len
                ),
            });
        }
        ctx.charge_expanded(frame as u64)?;
        let start = input.pos;
        let mut data = vec![0u8; frame];
        let got = input.fill(&mut data)?;
        if got < frame {
            return Err(truncated("pixel data", start, frame as u64, got as u64));
        }
        let grey: Vec<u8> = match (colour, bytes_per_sample) {
            (false, 1) => data,
            (false, _) => {
                let values: Vec<u16> = data
                    .chunks_exact(2)
                    .map(|p| u16_at(p, 0, syntax.big_endian).unwrap_or(0))
                    .collect();
                let max = values.iter().copied().max().unwrap_or(0).max(1);
                values
                    .iter()
                    .map(|&v| (u32::from(v) * 255 / u32::from(max)) as u8)
                    .collect()
            }
            (true, 1) if pixels.planar == 1 => {
                let plane = rows * columns;
                (0..plane)
                    .map(|i| {
                        crate::extract::image::luma(data[i], data[plane + i], data[2 * plane + i])
                    })
                    .collect()
            }
            (true, 1) if pixels.photometric == "YBR_FULL" => {
                data.chunks_exact(3).map(|p| p[0]).collect()
            }
            (true, 1) => data
                .chunks_exact(3)
                .map(|p| crate::extract::image::luma(p[0], p[1], p[2]))
                .collect(),
            (true, _) => return unsupported(ctx, "16-bit colour".into()),
        };
        let mut grey = grey;
        if pixels.photometric == "MONOCHROME1" {
            grey.iter_mut().for_each(|v| *v = 255 - *v);
        }
        let image = GrayImage::from_raw(pixels.columns.into(), pixels.rows.into(), grey)
            .ok_or_else(|| ExtractError::Corrupt {
                format: "DICOM",
                message: "frame size does not match its pixels".into(),
            })?;
        let frame = Frame(std::sync::Mutex::new(Some(image)));
        ocr::read_some_pages(ctx, &frame)
    }

    /// The first frame, handed over once.
    struct Frame(std::sync::Mutex<Option<GrayImage>>);

    impl PageSource for Frame {
        fn pages(&self) -> usize {
            1
        }

        fn size(&self, _page: usize) -> Option<(u32, u32)> {
            let image = self.0.lock().unwrap_or_else(|p| p.into_inner());
            image.as_ref().map(|i| (i.width(), i.height()))
        }

        fn load(&self, _page: usize) -> Result<Page, ExtractError> {
            let image = self.0.lock().unwrap_or_else(|p| p.into_inner()).take();
            image
                .map(|image| Page {
                    image,
                    dpi: None,
                    bilevel: false,
                })
                .ok_or_else(|| ExtractError::Limit("the frame was read already".into()))
        }

        fn field(&self, _page: usize) -> String {
            "frame 1".into()
        }
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{scan_builtin as scan_bytes, value};
    use super::*;

    /// Element writer for tests (the fixture generator has its own).
    struct W {
        out: Vec<u8>,
        syntax: Syntax,
    }

    impl W {
        fn u16(&mut self, v: u16, big: bool) {
            self.out.extend(if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        fn u32(&mut self, v: u32, big: bool) {
            self.out.extend(if big {
                v.to_be_bytes()
            } else {
                v.to_le_bytes()
            });
        }
        fn el(&mut self, g: u16, e: u16, vr: &[u8; 2], value: &[u8]) {
            let s = self.syntax;
            let mut v = value.to_vec();
            if v.len() % 2 == 1 {
                v.push(if vr == b"UI" { 0 } else { b' ' });
            }
            self.u16(g, s.big_endian);
            self.u16(e, s.big_endian);
            if s.explicit {
                self.out.extend_from_slice(vr);
                if LONG_VRS.contains(&vr) {
                    self.out.extend([0, 0]);
                    self.u32(v.len() as u32, s.big_endian);
                } else {
                    self.u16(v.len() as u16, s.big_endian);
                }
            } else {
                self.u32(v.len() as u32, s.big_endian);
            }
            self.out.extend(v);
        }
    }

    fn file(syntax: Syntax, preamble: bool) -> Vec<u8> {
        let mut w = W {
            out: Vec::new(),
            syntax: EXPLICIT_LE,
        };
        if preamble {
            w.out.extend([0u8; 128]);
            w.out.extend(b"DICM");
            let ts: &[u8] = match (syntax.explicit, syntax.big_endian) {
                (false, _) => b"1.2.840.10008.1.2",
                (true, false) => b"1.2.840.10008.1.2.1",
                (true, true) => b"1.2.840.10008.1.2.2",
            };
            w.el(0x0002, 0x0001, b"OB", &[0, 1]);
            w.el(0x0002, 0x0010, b"UI", ts);
        }
        w.syntax = syntax;
        w.el(0x0008, 0x0060, b"CS", b"MR");
        w.el(0x0008, 0x0090, b"PN", b"WELBY^MARCUS");
        w.el(0x0008, 0x1030, b"LO", b"BRAIN W/O CONTRAST");
        w.el(0x0010, 0x0010, b"PN", b"DOE^JANE^Q");
        w.el(0x0010, 0x0020, b"LO", b"MRN0012345");
        w.el(0x0010, 0x0030, b"DA", b"19800102");
        w.el(0x0010, 0x1000, b"LO", b"ALT111\\ALT222");
        w.el(0x0010, 0x2154, b"SH", b"5555551234");
        // Pixel data: undefined-looking garbage that must never be read.
        w.el(0x7FE0, 0x0010, b"OW", &[0xAB; 64]);
        w.out
    }

    const IMPLICIT: Syntax = Syntax {
        explicit: false,
        big_endian: false,
    };
    const EXPLICIT_BE: Syntax = Syntax {
        explicit: true,
        big_endian: true,
    };

    #[test]
    fn all_encodings_give_the_same_fields() {
        for (syntax, preamble) in [
            (EXPLICIT_LE, true),
            (IMPLICIT, true),
            (EXPLICIT_BE, true),
            (EXPLICIT_LE, false),
            (IMPLICIT, false),
            (EXPLICIT_BE, false),
        ] {
            let bytes = file(syntax, preamble);
            assert!(looks_like(&bytes), "{syntax:?} {preamble}");
            let s = scan_bytes("img.dcm", &bytes);
            let rows = s.field_rows(RULE);
            let fields: Vec<(Entity, &str)> =
                rows.iter().map(|r| (r.entity, r.field.as_str())).collect();
            assert_eq!(
                fields,
                vec![
                    (Entity::PersonName, "(0008,0090) ReferringPhysicianName"),
                    (Entity::PersonName, "(0010,0010) PatientName"),
                    (Entity::Mrn, "(0010,0020) PatientID"),
                    (Entity::Dob, "(0010,0030) PatientBirthDate"),
                    (Entity::Mrn, "(0010,1000) OtherPatientIDs"),
                    (Entity::Mrn, "(0010,1000) OtherPatientIDs"),
                    (Entity::Phone, "(0010,2154) PatientTelephoneNumbers"),
                ],
                "{syntax:?} preamble {preamble}"
            );
            assert!(s.not_examined().is_empty(), "{:?}", s.not_examined());
            assert_eq!(
                value(&s, Entity::PersonName, "(0010,0010) PatientName"),
                "DOE JANE Q"
            );
            let id = s.row(Entity::Mrn, "(0010,0020) PatientID");
            let pos = bytes.windows(10).position(|w| w == b"MRN0012345").unwrap();
            assert_eq!(id.column as usize, pos + 1);
        }
    }

    #[test]
    fn sequences_are_walked_into() {
        let mut w = W {
            out: Vec::new(),
            syntax: EXPLICIT_LE,
        };
        w.el(0x0008, 0x0005, b"CS", b"ISO_IR 100");
        // (0010,1002) OtherPatientIDsSequence, undefined length, one item.
        w.out.extend([
            0x10, 0, 0x02, 0x10, b'S', b'Q', 0, 0, 0xFF, 0xFF, 0xFF, 0xFF,
        ]);
        w.out
            .extend([0xFE, 0xFF, 0x00, 0xE0, 0xFF, 0xFF, 0xFF, 0xFF]);
        w.el(0x0010, 0x0020, b"LO", b"NESTED77");
        w.out.extend([0xFE, 0xFF, 0x0D, 0xE0, 0, 0, 0, 0]);
        w.out.extend([0xFE, 0xFF, 0xDD, 0xE0, 0, 0, 0, 0]);
        w.el(0x0010, 0x0030, b"DA", b"19700101");
        let s = scan_bytes("seq.dcm", &w.out);
        assert!(s.has(Entity::Mrn, "(0010,0020) PatientID"));
        assert!(s.has(Entity::Dob, "(0010,0030) PatientBirthDate"));
    }

    #[test]
    fn malformed_files_are_corrupt_not_panics() {
        let good = file(EXPLICIT_LE, true);
        // Truncated inside an element header and inside a value.
        for cut in [133, 140, 150, good.len() - 70] {
            let s = scan_bytes("cut.dcm", &good[..cut]);
            let skipped = s.not_examined();
            assert_eq!(skipped.len(), 1, "cut at {cut}: {skipped:?}");
            assert_eq!(skipped[0].1, SkipReason::Corrupt);
        }
        // A length larger than the file.
        let mut w = W {
            out: Vec::new(),
            syntax: EXPLICIT_LE,
        };
        w.el(0x0008, 0x0060, b"CS", b"MR");
        w.out.extend([
            0x10, 0, 0x10, 0, b'U', b'T', 0, 0, 0xF0, 0xFF, 0xFF, 0x7F, b'X',
        ]);
        let s = scan_bytes("huge.dcm", &w.out);
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert!(skipped[0].2.contains("file ends"), "{}", skipped[0].2);
        // Invalid VR.
        let mut bad = good.clone();
        let at = bad.windows(2).position(|w| w == b"PN").unwrap();
        bad[at] = 0x01;
        let s = scan_bytes("bad.dcm", &bad);
        assert_eq!(s.not_examined().len(), 1);
    }

    #[test]
    fn placeholders_are_not_field_findings() {
        let mut w = W {
            out: Vec::new(),
            syntax: EXPLICIT_LE,
        };
        w.el(0x0008, 0x0060, b"CS", b"CT");
        w.el(0x0010, 0x0010, b"PN", b"ANONYMOUS");
        w.el(0x0010, 0x0020, b"LO", b"N/A");
        w.el(0x0010, 0x0030, b"DA", b"19700101");
        let s = scan_bytes("anon.dcm", &w.out);
        let rows = s.field_rows(RULE);
        assert_eq!(rows.len(), 1, "{rows:#?}");
        assert_eq!(rows[0].entity, Entity::Dob);
    }

    #[test]
    fn guesses_need_real_elements() {
        assert!(guess_syntax(b"\x08\x00\x60\x00CS\x02\x00MR").is_some());
        assert!(guess_syntax(b"hello world, this is text").is_none());
        assert!(guess_syntax(b"\x08\x00").is_none());
        assert!(guess_syntax(b"\x08\x00\x05\x00\xff\xff\xff\xff").is_none());
    }
}
