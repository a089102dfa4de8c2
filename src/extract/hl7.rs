//! HL7 v2: messages and batches, segment by segment with bounded memory.
//!
//! Segments end with CR (LF and CRLF are tolerated); MLLP framing bytes
//! (0x0B before a message, 0x1C 0x0D after it) are skipped. Separators come
//! from MSH-1/MSH-2 (and FHS/BHS for batch headers) of each message.
//!
//! Report scheme:
//! - `field` is `SEG-N` (`PID-19`), prefixed with `msg K ` for the K-th
//!   message when K ≥ 2 (`msg 2 PID-19`), and with the occurrence of a
//!   repeated segment inside a message when it is the 2nd or later
//!   (`NK1(2)-2`, `msg 3 OBX(4)-5`).
//! - line = segment number in the file (a CRLF pair ends one segment),
//!   column = 1-based character offset of the value in its segment.
//! - OBX-5 documents of type ED are decoded and scanned as members named
//!   `msgK-OBX-5.ext` (`msg1-OBX(2)-5.pdf`).

use super::fields::{char_column, decode_base64, decode_text, report_field, text_labelled};
use super::segments::SegmentReader;
use super::tables::{Hl7FieldKind, Hl7Fields};
use super::{Ctx, Location};
use crate::entity::Entity;
use crate::error::ExtractError;
use crate::report::SkipReason;
use std::io::{BufReader, Read};

/// Rule id of findings in known HL7 fields.
pub const RULE: &str = "hl7-field";
/// Longest segment examined; the rest of a longer one is skipped (and
/// reported), so a file without terminators cannot exhaust memory.
pub const MAX_SEGMENT: usize = 32 << 20;
/// Most fields of one segment taken one by one (real segments have a few
/// dozen); the rest of a segment with more is matched as plain text and
/// reported, so a segment of 30 million separators cannot hold a table of
/// 30 million fields.
pub const MAX_FIELDS: usize = 4096;

const MLLP_START: u8 = 0x0B;
const MLLP_END: u8 = 0x1C;

/// How far into a file a first `MSH` is looked for after a preamble (a
/// comment, a title line): exports and sample files put one before it.
const PREAMBLE_REACH: usize = 4096;

/// Whether `head` starts like HL7 v2: `MSH`, `FHS` or `BHS` and a field
/// separator, after optional MLLP start byte and blank lines, or after a
/// few lines of preamble when the header that follows has valid encoding
/// characters (so prose that merely mentions `MSH|` is not taken).
pub fn looks_like(head: &[u8]) -> bool {
    if starts_like(head) {
        return true;
    }
    let reach = &head[..head.len().min(PREAMBLE_REACH)];
    reach
        .iter()
        .enumerate()
        .filter(|&(_, &b)| b == b'\r' || b == b'\n')
        .any(|(i, _)| {
            let line = &reach[i + 1..];
            let line = &line[..line
                .iter()
                .position(|&c| c == b'\r' || c == b'\n')
                .unwrap_or(line.len())];
            line.starts_with(b"MSH")
                && line.len() > 8
                && Separators::from_header(&String::from_utf8_lossy(line)).is_some()
        })
}

/// [`looks_like`] at the very start.
fn starts_like(head: &[u8]) -> bool {
    let start = head
        .iter()
        .position(|&b| !matches!(b, MLLP_START | b'\r' | b'\n' | b' ' | b'\t'))
        .unwrap_or(head.len());
    let head = head.get(start..).unwrap_or_default();
    let head = head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(head);
    let Some(id) = head.get(..3) else {
        return false;
    };
    if !matches!(id, b"MSH" | b"FHS" | b"BHS") {
        return false;
    }
    // `|` is the field separator in practice; any other character counts
    // only with valid encoding characters after it (so that prose such as
    // "MSH-1 is ..." is not taken for HL7, while `MSH||` with a missing
    // MSH-2 is, and gets reported).
    match head.get(3) {
        Some(b'|') => true,
        Some(b) if b.is_ascii_punctuation() => {
            let line_end = head
                .iter()
                .position(|&c| c == b'\r' || c == b'\n')
                .unwrap_or(head.len());
            let line = head.get(..line_end).unwrap_or_default();
            Separators::from_header(&String::from_utf8_lossy(line)).is_some()
        }
        _ => false,
    }
}

/// Separators of one message (or batch header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Separators {
    field: char,
    component: char,
    repetition: char,
    subcomponent: char,
}

impl Separators {
    /// No separator is a word byte (`_` is ASCII punctuation but one).
    fn cut_at_non_word(&self) -> bool {
        [
            self.field,
            self.component,
            self.repetition,
            self.subcomponent,
        ]
        .iter()
        .all(|&c| c != '_')
    }

    /// From a header segment (`MSH|^~\&|...`). `None` when MSH-2 is
    /// missing or not made of distinct separator characters.
    fn from_header(text: &str) -> Option<Separators> {
        let mut chars = text.chars().skip(3);
        let field = chars.next().filter(|c| c.is_ascii_punctuation())?;
        // At most 6 taken (5 allowed): an array, not an allocation per MSH.
        let mut taken = ['\0'; 6];
        let mut len = 0;
        for c in chars.take_while(|&c| c != field).take(6) {
            taken[len] = c;
            len += 1;
        }
        // Some exports escape the escape character (`^~\\&`): one is
        // meant.
        if len >= 4 && taken[2] == '\\' && taken[3] == '\\' {
            taken.copy_within(3.., 2);
            len -= 1;
        }
        let encoding = &taken[..len];
        if encoding.len() < 2 || encoding.len() > 5 {
            return None;
        }
        let distinct = encoding
            .iter()
            .enumerate()
            .all(|(i, c)| c.is_ascii_punctuation() && !encoding[..i].contains(c));
        if !distinct || encoding.contains(&field) {
            return None;
        }
        Some(Separators {
            field,
            component: encoding[0],
            repetition: encoding[1],
            // Escape is encoding[2]; the subcomponent separator is optional.
            subcomponent: encoding.get(3).copied().unwrap_or('&'),
        })
    }
}

/// Per-file parsing state: what the segments read so far say about the
/// next one. It moves on the reading thread, in file order, and never
/// depends on what the matcher finds, so that batches of segments can be
/// matched on any thread ([`Head`] carries what matching needs of it).
struct State {
    line: u64,
    /// Ordinal of the current message (0 before the first MSH).
    message: u64,
    separators: Option<Separators>,
    /// The current message's MSH-2 was unusable: its segments are only
    /// matched as plain text.
    broken: bool,
    /// Occurrences of each segment id in the current message.
    seen: Vec<([u8; 3], u32)>,
}

impl State {
    fn occurrence(&mut self, key: [u8; 3]) -> u32 {
        if let Some(entry) = self.seen.iter_mut().find(|(k, _)| *k == key) {
            entry.1 = entry.1.saturating_add(1);
            return entry.1;
        }
        self.seen.push((key, 1));
        1
    }

    /// Reads the next segment, `raw` (one record, framing bytes and all),
    /// into the state, and says what it is.
    fn advance(&mut self, raw: &str) -> Head {
        self.line += 1;
        let mut head = Head {
            line: self.line,
            message: self.message,
            lead: 0,
            broken_message: false,
            kind: HeadKind::Blank,
        };
        // MLLP framing bytes and stray blanks before the segment id.
        head.lead = raw.len()
            - raw
                .trim_start_matches([MLLP_START as char, MLLP_END as char, ' ', '\u{feff}'])
                .len();
        let text = raw.get(head.lead..).unwrap_or_default();
        if text
            .trim_matches(|c: char| c.is_whitespace() || c == MLLP_END as char)
            .is_empty()
        {
            return head;
        }
        let key = match text.as_bytes() {
            [a, b, c, rest @ ..]
                if [a, b, c]
                    .iter()
                    .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit())
                    && rest.first().is_none_or(|b| b.is_ascii_punctuation()) =>
            {
                [*a, *b, *c]
            }
            // Not a segment (a wrapped line, a comment): plain text.
            _ => {
                head.kind = HeadKind::Text;
                return head;
            }
        };
        let is_header = matches!(&key, b"MSH" | b"FHS" | b"BHS");
        if is_header {
            let separators = Separators::from_header(text);
            if &key == b"MSH" {
                self.message += 1;
                self.seen.clear();
                self.broken = separators.is_none();
                head.message = self.message;
                head.broken_message = self.broken;
            }
            if separators.is_some() {
                self.separators = separators;
            }
        }
        let separators = match self.separators {
            Some(s) if !self.broken || matches!(&key, b"FHS" | b"BHS") => s,
            _ => {
                head.kind = HeadKind::IdText;
                return head;
            }
        };
        // A line with a segment-like start but no field separator after it
        // (`NOTE: ...` in a comment) is text, not a segment of one field.
        if !is_header && text.len() > 3 && !text[3..].starts_with(separators.field) {
            head.kind = HeadKind::Text;
            return head;
        }
        head.kind = HeadKind::Segment {
            key,
            separators,
            occurrence: self.occurrence(key),
        };
        head
    }
}

/// What a segment is, as the segments before it say ([`State::advance`]).
struct Head {
    line: u64,
    message: u64,
    /// Bytes before the segment id (MLLP framing, blanks).
    lead: usize,
    /// The segment is an MSH whose encoding characters are unusable.
    broken_message: bool,
    kind: HeadKind,
}

enum HeadKind {
    /// Blank, or framing bytes only.
    Blank,
    /// Not a segment: plain text.
    Text,
    /// A segment of a message without usable separators: plain text,
    /// labelled with the segment id.
    IdText,
    Segment {
        key: [u8; 3],
        separators: Separators,
        /// Of the id in its message, from 1.
        occurrence: u32,
    },
}

/// Segments read ahead, each with its [`Head`].
#[derive(Default)]
struct Batch {
    records: super::RecordBatch,
    heads: Vec<Head>,
    /// Whether each segment was cut at [`MAX_SEGMENT`].
    truncated: Vec<bool>,
}

impl super::ordered::Batch for Batch {
    fn clear(&mut self) {
        self.records.clear();
        self.heads.clear();
        self.truncated.clear();
    }

    fn held_bytes(&self) -> usize {
        self.records.held_bytes()
            + self.heads.capacity() * std::mem::size_of::<Head>()
            + self.truncated.capacity()
    }
}

/// Extracts an HL7 v2 stream: `head` already read, `rest` the remainder.
pub fn scan(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let reader = BufReader::with_capacity(64 << 10, head.chain(rest));
    let mut segments = SegmentReader::new(reader, MAX_SEGMENT);
    let mut state = State {
        line: 0,
        message: 0,
        separators: None,
        broken: false,
        seen: Vec::new(),
    };
    let mut after_cr = false;
    let mut outcome: Option<Result<(), ExtractError>> = None;
    // Segments are read in batches: those without a candidate (most) do
    // not have their fields matched one by one. A big file's batches are
    // matched on every thread.
    super::ordered::batches_in_order(
        ctx,
        |mut batch: Batch| {
            if outcome.is_some() {
                return None;
            }
            let records = &mut batch.records;
            let truncated = &mut batch.truncated;
            while !records.is_full() {
                // The segments whole in the buffer, then the one that
                // crosses its end (or the stream's end) by next_piece.
                // `push` says whether the batch has room left.
                let mut push = |bytes: &[u8], terminator: Option<u8>, cut: bool| {
                    // CRLF ends one segment, not two.
                    if bytes.is_empty() && terminator == Some(b'\n') && after_cr {
                        after_cr = false;
                    } else {
                        after_cr = terminator == Some(b'\r');
                        let start = records.raw.len();
                        records.raw.extend_from_slice(bytes);
                        records.end_raw_record(start);
                        truncated.push(cut);
                    }
                    !records.is_full()
                };
                let mut room = true;
                segments.whole_pieces(b'\r', b'\n', |bytes, terminator| {
                    room = push(bytes, Some(terminator), false);
                    room
                });
                if !room {
                    break;
                }
                let piece = match segments.next_piece(b"\r\n") {
                    Ok(Some(piece)) => piece,
                    Ok(None) => {
                        outcome = Some(Ok(()));
                        break;
                    }
                    Err(e) => {
                        outcome = Some(Err(e.into()));
                        break;
                    }
                };
                push(piece.bytes, piece.terminator, piece.truncated);
            }
            // Some segment is not UTF-8: each one decoded alone.
            records.decode(|_, bytes, _, text| text.push_str(&decode_text(bytes)));
            batch.heads.extend(
                (0..batch.truncated.len())
                    .map(|i| state.advance(&records.text[records.record(i).0])),
            );
            Some((batch, outcome.is_some()))
        },
        |ctx, batch| {
            batch.records.judge(ctx);
            // Field offsets of the segment at hand, kept for the
            // allocation.
            let mut fields = Vec::new();
            for (i, (head, &truncated)) in batch.heads.iter().zip(&batch.truncated).enumerate() {
                let (range, quiet) = batch.records.record(i);
                if truncated {
                    ctx.not_examined(
                        None,
                        SkipReason::Limit,
                        format!(
                            "segment at line {} is longer than {} bytes: only its start was examined",
                            head.line, MAX_SEGMENT
                        ),
                    );
                }
                let text = &batch.records.text[range];
                segment(ctx, head, text, truncated, quiet, &mut fields);
            }
        },
    );
    outcome.unwrap_or(Ok(()))
}

/// Whether a quiet segment with this id can give no finding: it has no
/// known field, and is no OBX holding an embedded document (OBX-2 = ED).
fn gives_nothing_when_quiet(key: &[u8; 3], text: &str, separators: &Separators) -> bool {
    !Hl7Fields::get().knows_segment(key)
        && (key != b"OBX" || !obx_value_type(text, separators).eq_ignore_ascii_case("ED"))
}

/// One segment, `raw`, as `head` says it is; `quiet` when
/// [`crate::matcher::Matcher::quiet_parts`] found no candidate in it.
/// `fields` is scratch for its field offsets.
fn segment(
    ctx: &mut Ctx,
    head: &Head,
    raw: &str,
    truncated: bool,
    quiet: bool,
    fields: &mut Vec<(usize, usize, usize)>,
) {
    let text = raw.get(head.lead..).unwrap_or_default();
    let (line, message) = (head.line, head.message);
    let at = |offset: usize| Location {
        line,
        column: char_column(raw, head.lead + offset),
    };
    if head.broken_message {
        ctx.not_examined(
            None,
            SkipReason::Corrupt,
            format!(
                "HL7 message {message} (line {line}): MSH-2 encoding characters missing or \
                 invalid; its segments were matched as plain text only"
            ),
        );
    }
    let (key, separators, occurrence) = match head.kind {
        HeadKind::Blank => return,
        HeadKind::Text => {
            ctx.text("", text, at(0));
            return;
        }
        HeadKind::IdText => {
            ctx.text(&text[..3], text, at(0));
            return;
        }
        HeadKind::Segment {
            key,
            separators,
            occurrence,
        } => (key, separators, occurrence),
    };
    let id = &text[..3];
    let is_header = matches!(&key, b"MSH" | b"FHS" | b"BHS");
    // A segment without candidates gives findings only from known fields
    // (and embedded documents), when its separators cut at non-word bytes
    // so that no field alone holds what the whole segment does not.
    let quiet = quiet && separators.cut_at_non_word();
    let is_obx = &key == b"OBX";
    // Header segments (their separators already taken) have no known
    // field either.
    if quiet && gives_nothing_when_quiet(&key, text, &separators) {
        return;
    }
    // The field label (`msg 2 PID(3)-19`), built only for fields that are
    // reported: most segments report nothing.
    // Numbers by itoa, not `write!`: the formatting machinery was 4.7% of
    // an HL7 scan, a label being built for every known field.
    let label = |number: usize| {
        let mut digits = itoa::Buffer::new();
        let mut label = String::with_capacity(24);
        if message >= 2 {
            label.push_str("msg ");
            label.push_str(digits.format(message));
            label.push(' ');
        }
        label.push_str(id);
        if occurrence >= 2 {
            label.push('(');
            label.push_str(digits.format(occurrence));
            label.push(')');
        }
        label.push('-');
        label.push_str(digits.format(number));
        label
    };
    // Field offsets: for header segments the separator itself is field 1.
    let known = Hl7Fields::get();
    fields.clear();
    // Where the fields past MAX_FIELDS start, if there are more.
    let mut rest = None;
    for (number, (start, part)) in parts(text, separators.field).enumerate() {
        if number > MAX_FIELDS {
            rest = Some(start);
            break;
        }
        let number = if is_header && number >= 1 {
            number + 1
        } else {
            number
        };
        fields.push((number, start, start + part.len()));
    }
    let value_type = if is_obx {
        obx_value_type(text, &separators)
    } else {
        ""
    };
    // Most segments hold nothing: one search over the segment tells whether
    // any of its fields and components can.
    ctx.within_block(text.as_bytes(), quiet, |ctx| {
        for &(number, offset, end) in fields.iter().skip(1) {
            let value = &text[offset..end];
            if value.is_empty() || (is_header && number <= 2) {
                continue;
            }
            if is_obx && number == 5 && value_type.eq_ignore_ascii_case("ED") {
                embedded(ctx, message, &separators, occurrence, value, truncated);
                continue;
            }
            match known.kind(id, number) {
                Some(kind) => {
                    known_field(ctx, &separators, kind, &label(number), value, offset, &at)
                }
                None if quiet => {}
                None => text_labelled(ctx, || label(number), value, at(offset)),
            }
        }
        if let Some(start) = rest {
            text_labelled(ctx, || label(MAX_FIELDS + 1), &text[start..], at(start));
        }
    });
    if rest.is_some() {
        ctx.not_examined(
            None,
            SkipReason::Limit,
            format!(
                "HL7 {id} segment (line {line}) has more than {MAX_FIELDS} fields; the rest \
                 was matched as plain text"
            ),
        );
    }
    // A vector grown far for one segment is not kept for the next ones.
    if fields.capacity() > 4 * MAX_FIELDS {
        *fields = Vec::new();
    }
}

/// Splits `text` on `sep`, with each part's byte offset.
fn parts(text: &str, sep: char) -> Parts<'_> {
    Parts {
        text,
        sep,
        offset: Some(0),
    }
}

/// The iterator of [`parts`]. An ASCII separator (the usual case) is found
/// by [`find_byte`]: `str::split` on a char costs a memchr and a memcmp
/// call per part, which was 9% of an HL7 scan.
struct Parts<'a> {
    text: &'a str,
    sep: char,
    /// Where the next part starts; `None` once the last one was given.
    offset: Option<usize>,
}

impl<'a> Iterator for Parts<'a> {
    type Item = (usize, &'a str);

    fn next(&mut self) -> Option<(usize, &'a str)> {
        let start = self.offset?;
        let rest = self.text.get(start..).unwrap_or("");
        let found = match u8::try_from(self.sep) {
            Ok(sep) if sep.is_ascii() => find_byte(sep, rest.as_bytes()),
            _ => rest.find(self.sep),
        };
        match found {
            Some(at) => {
                self.offset = Some(start + at + self.sep.len_utf8());
                Some((start, &rest[..at]))
            }
            None => {
                self.offset = None;
                Some((start, rest))
            }
        }
    }
}

/// The first `needle` in `hay`. Fields are short: a plain loop over the
/// first bytes is cheaper than a memchr call, which takes the rest.
fn find_byte(needle: u8, hay: &[u8]) -> Option<usize> {
    let head = hay.len().min(32);
    match hay[..head].iter().position(|&b| b == needle) {
        Some(at) => Some(at),
        None => memchr::memchr(needle, &hay[head..]).map(|at| head + at),
    }
}

/// OBX-2, the value type of an OBX segment's OBX-5 (first component).
fn obx_value_type<'a>(obx: &'a str, separators: &Separators) -> &'a str {
    let obx2 = nth_part(obx, separators.field, 2);
    nth_part(obx2, separators.component, 0).trim()
}

/// Part `n` (0-based) of `text` split on `sep`; empty when there are
/// fewer.
fn nth_part(text: &str, sep: char, n: usize) -> &str {
    let sep = match u8::try_from(sep) {
        Ok(sep) if sep.is_ascii() => sep,
        _ => return text.split(sep).nth(n).unwrap_or(""),
    };
    // One pass over the bytes up to the part (OBX-2 is a few bytes in).
    let mut seen = 0;
    let mut start = 0;
    for (i, &b) in text.as_bytes().iter().enumerate() {
        if b == sep {
            if seen == n {
                return text.get(start..i).unwrap_or("");
            }
            seen += 1;
            start = i + 1;
        }
    }
    if seen == n {
        text.get(start..).unwrap_or("")
    } else {
        ""
    }
}

fn known_field(
    ctx: &mut Ctx,
    seps: &Separators,
    kind: Hl7FieldKind,
    label: &str,
    value: &str,
    offset: usize,
    at: &dyn Fn(usize) -> Location,
) {
    for (rep_offset, rep) in parts(value, seps.repetition) {
        if rep.trim().is_empty() {
            continue;
        }
        let base = offset + rep_offset;
        // The first ten components, on the stack: one allocation per
        // reported field was a measurable part of an HL7 scan.
        let mut held = [(0usize, ""); 10];
        let mut count = 0;
        for (slot, part) in held.iter_mut().zip(parts(rep, seps.component)) {
            *slot = part;
            count += 1;
        }
        let components = &held[..count];
        let component = |n: usize| components.get(n - 1).map_or("", |c| c.1);
        let component_at = |n: usize| base + components.get(n - 1).map_or(0, |c| c.0);
        match kind {
            Hl7FieldKind::Ids(default) => {
                match Hl7Fields::get().identifier_entity(component(5), default) {
                    Some(entity) if !component(1).trim().is_empty() => {
                        report_field(ctx, RULE, label, entity, component(1), at(base))
                    }
                    _ => ctx.text(label, rep, at(base)),
                }
            }
            Hl7FieldKind::Name => {
                let name = joined(components, 3, seps.subcomponent, " ");
                if !name.is_empty() {
                    report_field(ctx, RULE, label, Entity::PersonName, &name, at(base));
                }
            }
            Hl7FieldKind::BirthDate => {
                let date = component(1).trim();
                let digits = date.bytes().take_while(u8::is_ascii_digit).count();
                let date = if digits >= 8 { &date[..8] } else { date };
                report_field(ctx, RULE, label, Entity::Dob, date, at(base));
            }
            Hl7FieldKind::Address => {
                let address = joined(components, 6, seps.subcomponent, ", ");
                if !address.is_empty() {
                    report_field(ctx, RULE, label, Entity::Address, &address, at(base));
                }
            }
            Hl7FieldKind::Phone => {
                let number = component(1).trim();
                let email = component(4).trim();
                // XTN.1 may hold a note ("HOME", "see chart") while the
                // number sits in XTN.6 (area) + XTN.7 (local): the latter
                // then decides.
                let split_number = !component(7).trim().is_empty()
                    && !number.contains('@')
                    && !crate::validators::phone(number);
                if !number.is_empty() && !split_number {
                    let entity = if number.contains('@') {
                        Entity::Email
                    } else {
                        Entity::Phone
                    };
                    report_field(ctx, RULE, label, entity, number, at(base));
                } else if !component(7).trim().is_empty() {
                    if !number.is_empty() {
                        ctx.text(label, number, at(base));
                    }
                    let phone = format_phone(component(6).trim(), component(7).trim());
                    report_field(ctx, RULE, label, Entity::Phone, &phone, at(component_at(6)));
                }
                if !email.is_empty() {
                    report_field(ctx, RULE, label, Entity::Email, email, at(component_at(4)));
                }
            }
            Hl7FieldKind::Ssn => {
                report_field(ctx, RULE, label, Entity::Ssn, component(1), at(base))
            }
        }
    }
}

/// The first `n` components joined with `glue`, subcomponents with spaces.
fn joined(components: &[(usize, &str)], n: usize, subcomponent: char, glue: &str) -> String {
    let mut out = String::new();
    for (_, c) in components.iter().take(n) {
        let c = c.trim();
        if c.is_empty() {
            continue;
        }
        if !out.is_empty() {
            out.push_str(glue);
        }
        for (i, sub) in c.split(subcomponent).filter(|s| !s.is_empty()).enumerate() {
            if i > 0 {
                out.push(' ');
            }
            out.push_str(sub);
        }
    }
    out
}

/// XTN area code and local number as one phone number.
fn format_phone(area: &str, local: &str) -> String {
    match (area.len(), local.len()) {
        (3, 7) if local.is_ascii() => format!("{area}-{}-{}", &local[..3], &local[3..]),
        (0, _) => local.to_string(),
        _ => format!("{area} {local}"),
    }
}

/// OBX-5 of type ED: `source^type^subtype^encoding^data`. The document is
/// decoded (bounded) and scanned as a member.
fn embedded(
    ctx: &mut Ctx,
    message: u64,
    seps: &Separators,
    occurrence: u32,
    value: &str,
    truncated: bool,
) {
    let components: Vec<&str> = value.split(seps.component).take(6).collect();
    let subtype = components.get(2).copied().unwrap_or("").trim();
    let encoding = components.get(3).copied().unwrap_or("").trim();
    let data = components.get(4).copied().unwrap_or("");
    let ext = extension(subtype, components.get(1).copied().unwrap_or(""));
    let occurrence = if occurrence >= 2 {
        format!("({occurrence})")
    } else {
        String::new()
    };
    let name = format!("msg{message}-OBX{occurrence}-5.{ext}");
    if truncated {
        ctx.not_examined(
            Some(&name),
            SkipReason::Limit,
            format!("embedded document cut off: its segment is longer than {MAX_SEGMENT} bytes"),
        );
        return;
    }
    let decoded = match encoding.to_ascii_lowercase().as_str() {
        "base64" | "b64" => decode_base64(data),
        "hex" => decode_hex(data),
        "a" | "" => Ok(data.as_bytes().to_vec()),
        other => Err(format!("unknown encoding {other:?}")),
    };
    let decoded = match decoded {
        Ok(d) => d,
        Err(message) => {
            ctx.not_examined(Some(&name), SkipReason::Corrupt, message);
            return;
        }
    };
    if let Err(e) = ctx.charge_expanded(decoded.len() as u64) {
        ctx.not_examined(Some(&name), SkipReason::Limit, e.to_string());
        return;
    }
    ctx.member(&name, &mut decoded.as_slice());
}

fn extension(subtype: &str, type_of_data: &str) -> &'static str {
    let subtype = subtype.to_ascii_lowercase();
    match subtype.as_str() {
        "pdf" | "application/pdf" => "pdf",
        "rtf" => "rtf",
        "html" | "text/html" => "html",
        "xml" | "text/xml" | "application/xml" => "xml",
        "plain" | "text" | "txt" | "text/plain" => "txt",
        "jpeg" | "jpg" => "jpg",
        "png" => "png",
        "tiff" | "tif" => "tif",
        "zip" => "zip",
        _ if type_of_data.trim().eq_ignore_ascii_case("TEXT") => "txt",
        _ => "bin",
    }
}

fn decode_hex(data: &str) -> Result<Vec<u8>, String> {
    let digits: Vec<u8> = data.bytes().filter(|b| !b.is_ascii_whitespace()).collect();
    if digits.len() % 2 != 0 {
        return Err("hex data has an odd number of digits".into());
    }
    digits
        .chunks(2)
        .map(|pair| {
            std::str::from_utf8(pair)
                .ok()
                .and_then(|s| u8::from_str_radix(s, 16).ok())
                .ok_or_else(|| "hex data holds a non-hex character".to_string())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{scan_builtin as scan, value, Pieces};
    use super::*;
    use crate::report::SkipReason;

    const ADT: &str = "MSH|^~\\&|ADT1|GOOD HEALTH HOSPITAL|GHH LAB|GHH|20240101120000||ADT^A01|MSG00001|P|2.5.1\r\
EVN|A01|20240101120000\r\
PID|1||4455667^^^GHH^MR~412-56-7890^^^SSA^SS||EVERYMAN^ADAM^A||19610615|M|||2222 HOME STREET^^GREENSBORO^NC^27401||(555)555-2004|(555)555-2005||||AC555444444|412-56-7890\r\
NK1|1|EVERYMAN^EVE|SPO||(555)555-3003\r\
NK1|2|EVERYMAN^ABEL|SON\r\
OBX|1|TX|NOTE||Patient doing well\r";

    #[test]
    fn latin1_segments_are_decoded_alone_and_keep_their_columns() {
        // One Windows-1252 segment among UTF-8 ones: the batch is decoded
        // segment by segment, and columns count characters.
        let mut msg = b"MSH|^~\\&|LAB|CLINIC|EHR|CLINIC|202401011200||ADT^A01|1|P|2.5\r".to_vec();
        msg.extend_from_slice(
            b"PID|1||4455667^^^H^MR||M\xfcLLER^J\xd6RG||19610615||||||||||||412-56-7890\r",
        );
        msg.extend_from_slice("NK1|1|MÜLLER^ANNA|SPO\r".as_bytes());
        let s = scan("adt.hl7", &msg);
        assert_eq!(value(&s, Entity::PersonName, "PID-5"), "MüLLER JÖRG");
        assert_eq!(value(&s, Entity::PersonName, "NK1-2"), "MÜLLER ANNA");
        let ssn = s.row(Entity::Ssn, "PID-19");
        assert_eq!(ssn.line, 2);
        let pid = "PID|1||4455667^^^H^MR||MüLLER^JÖRG||19610615||||||||||||412-56-7890";
        let at = pid.find("412-56-7890").unwrap();
        assert_eq!(ssn.column as usize, pid[..at].chars().count() + 1);
    }

    #[test]
    fn parts_split_as_str_split_does() {
        let long = format!("{}|x|", "é".repeat(40));
        for text in [
            "",
            "|",
            "a",
            "a|b||c|",
            "PID|1||123^^^MR",
            "é|€|",
            long.as_str(),
        ] {
            for sep in ['|', '^', '€', 'é'] {
                let mut offset = 0;
                let expected: Vec<(usize, &str)> = text
                    .split(sep)
                    .map(|part| {
                        let at = offset;
                        offset += part.len() + sep.len_utf8();
                        (at, part)
                    })
                    .collect();
                assert_eq!(
                    parts(text, sep).collect::<Vec<_>>(),
                    expected,
                    "{text:?} {sep:?}"
                );
                for n in 0..4 {
                    let nth = text.split(sep).nth(n).unwrap_or("");
                    assert_eq!(nth_part(text, sep, n), nth);
                }
            }
        }
    }

    #[test]
    fn a_segment_of_too_many_fields_is_matched_as_text_and_reported() {
        // A value past the field cap still gives its finding, as text; the
        // cap is reported as a limit.
        let mut msg = String::from("MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\rPID|1||M1");
        msg.push_str(&"|".repeat(MAX_FIELDS + 500));
        msg.push_str("SSN 412-56-7890|x\r");
        let s = scan("big.hl7", msg.as_bytes());
        let ssn = value(&s, Entity::Ssn, &format!("PID-{}", MAX_FIELDS + 1));
        assert_eq!(ssn, "412-56-7890");
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].1, SkipReason::Limit);
        assert!(
            skipped[0].2.contains("more than 4096 fields"),
            "{skipped:?}"
        );
    }

    #[test]
    fn a_preamble_before_the_first_msh_does_not_hide_the_message() {
        let file = format!("# ADT sample exported 2024-01-02\n// test feed\n\n{ADT}");
        assert!(looks_like(file.as_bytes()));
        let s = scan("sample.txt", file.as_bytes());
        assert!(s.has(Entity::Mrn, "PID-3"), "{:#?}", s.rows());
        assert!(s.has(Entity::PersonName, "PID-5"));
        assert!(s.has(Entity::Dob, "PID-7"));
        // Segment lines count from the top of the file.
        assert_eq!(s.row(Entity::Dob, "PID-7").line, 6);
        // Prose that only mentions a header, or one with bad encoding
        // characters, is no HL7.
        assert!(!looks_like(b"Notes\nMSH|is the header\n"));
        assert!(!looks_like(b"Notes\nMSH-1 is the field separator\n"));
        // A comment line shaped like a segment id is text, not a segment.
        let note = format!("{ADT}NOTE: SSN 512-34-7890\r");
        let s = scan("note.hl7", note.as_bytes());
        assert!(s
            .rows()
            .iter()
            .any(|r| r.entity == Entity::Ssn && r.line == 7));
    }

    #[test]
    fn a_doubled_escape_in_msh2_is_one_escape() {
        let doubled = ADT.replacen("^~\\&", "^~\\\\&", 1);
        assert!(doubled.starts_with("MSH|^~\\\\&|"));
        let s = scan("doubled.hl7", doubled.as_bytes());
        assert!(s.not_examined().is_empty(), "{:?}", s.not_examined());
        assert!(s.has(Entity::Mrn, "PID-3"));
        assert!(s.has(Entity::PersonName, "PID-5"));
        // Doubled other characters are still refused.
        assert!(Separators::from_header("MSH|^^~\\&|").is_none());
    }

    #[test]
    fn xtn6_and_xtn7_give_the_phone_when_xtn1_is_a_note() {
        let msg = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r\
                   PID|1||4455667^^^H^MR||DOE^JANE||19800101||||||HOME^PRN^PH^^1^212^5550147\r";
        let s = scan("xtn.hl7", msg.as_bytes());
        assert_eq!(value(&s, Entity::Phone, "PID-13"), "212-555-0147");
        let msg = msg.replace("HOME^", "(212)555-0147^");
        let s = scan("xtn.hl7", msg.as_bytes());
        assert_eq!(value(&s, Entity::Phone, "PID-13"), "(212)555-0147");
    }

    #[test]
    fn structure_wins_over_free_patterns() {
        // An MRN shaped like an SSN, and an SSN field holding a number that
        // passes the NPI check.
        let msg = "MSH|^~\\&|A|B|C|D|20240101||ADT^A01|1|P|2.5\r\
                   PID|1||512-34-7890^^^H^MR||DOE^JANE||19800101||||||||||||1234567893\r";
        let s = scan("structure.hl7", msg.as_bytes());
        let rows = s.rows();
        let in_field = |e: Entity, f: &str| {
            rows.iter()
                .filter(|r| r.entity == e && r.field == f)
                .count()
        };
        assert_eq!(in_field(Entity::Mrn, "PID-3"), 1, "{rows:#?}");
        assert_eq!(in_field(Entity::Ssn, "PID-3"), 0, "{rows:#?}");
        assert_eq!(in_field(Entity::Npi, "PID-19"), 0, "{rows:#?}");
        // A real SSN in PID-19 still is one.
        let msg = msg.replace("1234567893", "512-34-7891");
        let s = scan("structure.hl7", msg.as_bytes());
        assert!(s.has(Entity::Ssn, "PID-19"));
    }

    #[test]
    fn detects_hl7_starts() {
        assert!(looks_like(b"MSH|^~\\&|A"));
        assert!(looks_like(b"\x0bMSH|^~\\&|A"));
        assert!(looks_like(b"FHS|^~\\&|A"));
        assert!(looks_like(b"\r\nBHS|^~\\&"));
        assert!(!looks_like(b"MSHx"));
        assert!(!looks_like(b"Hello MSH|"));
        assert!(looks_like(b"MSH#^~\\&#A#B"));
        assert!(!looks_like(b"MSH-1 is the field separator"));
        assert!(looks_like(b"MSH||A|B"));
    }

    #[test]
    fn reports_known_fields_with_entities_and_positions() {
        let s = scan("adt.hl7", ADT.as_bytes());
        let rows = s.field_rows(RULE);
        let has = |e, f: &str| rows.iter().any(|r| r.entity == e && r.field == f);
        assert!(has(Entity::Mrn, "PID-3"), "{rows:#?}");
        assert!(has(Entity::Ssn, "PID-3"));
        assert!(has(Entity::PersonName, "PID-5"));
        assert!(has(Entity::Dob, "PID-7"));
        assert!(has(Entity::Address, "PID-11"));
        assert!(has(Entity::Phone, "PID-13"));
        assert!(has(Entity::Phone, "PID-14"));
        assert!(has(Entity::Ssn, "PID-19"));
        assert!(has(Entity::PersonName, "NK1-2"));
        assert!(has(Entity::Phone, "NK1-5"));
        assert!(has(Entity::PersonName, "NK1(2)-2"));
        // PID-18 (account number) is no field-rule finding.
        assert!(!rows.iter().any(|r| r.field == "PID-18"));
        let ssn = s.row(Entity::Ssn, "PID-19");
        assert_eq!(ssn.line, 3);
        let pid = ADT.split('\r').nth(2).unwrap();
        assert_eq!(ssn.column as usize, pid.rfind("412-56-7890").unwrap() + 1);
        assert_eq!(value(&s, Entity::Ssn, "PID-19"), "412-56-7890");
        assert_eq!(value(&s, Entity::Dob, "PID-7"), "19610615");
        assert_eq!(value(&s, Entity::PersonName, "PID-5"), "EVERYMAN ADAM A");
        let mrn = rows
            .iter()
            .find(|r| r.entity == Entity::Mrn && r.field == "PID-3")
            .unwrap();
        assert_eq!(mrn.column as usize, pid.find("4455667").unwrap() + 1);
    }

    #[test]
    fn lf_crlf_and_mllp_are_tolerated_and_messages_are_numbered() {
        let lf = ADT.replace('\r', "\n");
        let s = scan("adt.txt", lf.as_bytes());
        assert_eq!(s.row(Entity::Ssn, "PID-19").line, 3);
        let crlf = ADT.replace('\r', "\r\n");
        let s = scan("adt.txt", crlf.as_bytes());
        assert_eq!(s.row(Entity::Ssn, "PID-19").line, 3);
        let bom = format!("\u{feff}{ADT}");
        let s = scan("bom.hl7", bom.as_bytes());
        assert_eq!(s.row(Entity::Ssn, "PID-19").line, 3);
        let framed = format!("\x0b{ADT}\x1c\r\x0b{ADT}\x1c\r");
        let s = scan("feed.mllp", framed.as_bytes());
        assert!(s.has(Entity::Ssn, "PID-19"));
        assert!(s.has(Entity::Ssn, "msg 2 PID-19"));
        assert!(s.has(Entity::PersonName, "msg 2 NK1(2)-2"));
        assert!(s.not_examined().is_empty(), "{:?}", s.not_examined());
    }

    #[test]
    fn quiet_segments_count_towards_occurrences() {
        // The OBX and NTE before the finding hold no candidate (they are
        // skipped whole) but still number the ones after them.
        let msg = "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\r\
                   OBX|1|NM|X||5.5\rNTE|1||fasting\rOBX|2|NM|X||7.1\r\
                   OBX|3|TX|Y||SSN 412-56-7890\rNTE|2||SSN 412-56-7891\r\
                   MSH|^~\\&|A|B|C|D|20240101||ORU^R01|2|P|2.5\r\
                   OBX|1|TX|Y||SSN 412-56-7892\r";
        let s = scan("oru.hl7", msg.as_bytes());
        let fields: Vec<String> = s
            .rows()
            .into_iter()
            .filter(|r| r.entity == Entity::Ssn)
            .map(|r| format!("{} line {}", r.field, r.line))
            .collect();
        assert_eq!(
            fields,
            ["OBX(3)-5 line 5", "NTE(2)-3 line 6", "msg 2 OBX-5 line 8"],
            "{:#?}",
            s.rows()
        );
    }

    #[test]
    fn embedded_documents_are_decoded_and_scanned_as_members() {
        use base64::Engine;
        let doc = base64::engine::general_purpose::STANDARD.encode(b"Patient SSN 412-56-7890\n");
        let msg = format!(
            "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5\rPID|1||123^^^H^MR\r\
             OBX|1|ED|PDF^Report||^TEXT^plain^Base64^{doc}\rOBX|2|ED|X||^AP^PDF^Base64^!!notbase64\r"
        );
        let s = scan("oru.hl7", msg.as_bytes());
        // The member reached the extractors: no decode error for it, and
        // the broken one is reported as corrupt.
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1, "{skipped:?}");
        assert_eq!(skipped[0].0, "oru.hl7!msg1-OBX(2)-5.pdf");
        assert_eq!(skipped[0].1, SkipReason::Corrupt);
        assert!(decode_base64("QUJD\\.br\\REVG").unwrap() == b"ABCDEF");
    }

    #[test]
    fn missing_msh2_is_reported_and_text_still_scanned() {
        let s = scan("bad.hl7", b"MSH||A|B\rPID|1||||DOE^JOHN||19800101\r");
        let skipped = s.not_examined();
        assert_eq!(skipped.len(), 1);
        assert_eq!(skipped[0].1, SkipReason::Corrupt);
        assert!(skipped[0].2.contains("MSH-2"), "{}", skipped[0].2);
        assert!(s.field_rows(RULE).is_empty());
        // Truncated header: no panic either.
        let s = scan("bad.hl7", b"MSH|");
        assert_eq!(s.not_examined().len(), 1);
    }

    #[test]
    fn over_long_segments_are_cut_with_a_reason() {
        let mut reader = SegmentReader::new(&b"abcdefgh\rxy"[..], 4);
        let p = reader.next_piece(b"\r").unwrap().unwrap();
        assert_eq!(p.bytes, b"abcd");
        assert!(p.truncated);
        let p = reader.next_piece(b"\r").unwrap().unwrap();
        assert_eq!(
            (p.bytes, p.truncated, p.terminator),
            (&b"xy"[..], false, None)
        );
        assert!(reader.next_piece(b"\r").unwrap().is_none());
    }

    /// Pieces as scan() reads them: those whole in the buffer first, then
    /// one by next_piece; or by next_piece alone.
    fn read_pieces(
        input: &[u8],
        step: usize,
        buffer: usize,
        cap: usize,
        whole: bool,
    ) -> Vec<(Vec<u8>, bool, Option<u8>)> {
        let inner = std::io::BufReader::with_capacity(buffer, Pieces::new(input, step));
        let mut reader = SegmentReader::new(inner, cap);
        let mut out = Vec::new();
        loop {
            if whole {
                reader.whole_pieces(b'\r', b'\n', |bytes, t| {
                    out.push((bytes.to_vec(), false, Some(t)));
                    true
                });
            }
            match reader.next_piece(b"\r\n").unwrap() {
                Some(p) => out.push((p.bytes.to_vec(), p.truncated, p.terminator)),
                None => return out,
            }
        }
    }

    #[test]
    fn pieces_whole_in_the_buffer_are_read_as_one_at_a_time() {
        let mut rng = crate::test_rng::Rng::new(0x9E37_79B9_7F4A_7C15);
        let mut next = || rng.next();
        for _ in 0..300 {
            let len = (next() % 400) as usize;
            let input: Vec<u8> = (0..len)
                .map(|_| match next() % 10 {
                    0 => b'\r',
                    1 => b'\n',
                    _ => b'a' + (next() % 26) as u8,
                })
                .collect();
            let step = 1 + (next() % 50) as usize;
            let buffer = 1 + (next() % 64) as usize;
            let cap = 1 + (next() % 40) as usize;
            assert_eq!(
                read_pieces(&input, step, buffer, cap, true),
                read_pieces(&input, step, buffer, cap, false),
                "{:?} step {step} buffer {buffer} cap {cap}",
                String::from_utf8_lossy(&input)
            );
        }
    }

    #[test]
    fn garbage_after_header_does_not_panic() {
        for input in [
            &b"MSH|^~\\&\r\xff\xfe|||\r|\r"[..],
            b"MSH|^~\\&|\rPID\rPID|\rPID|||^^^^^^^^^^^^^^~~~\rOBX|1|ED|||^^^Base64^\r",
            b"BHS|^\rMSH|^~|\rPID|1||||^\r",
            b"\x0b\x1c\x0bMSH|^~\\&|\xc3",
        ] {
            let _ = scan("x.hl7", input);
        }
    }
}
