//! Bytes → text and fields. `scan_input` sniffs what a stream holds and hands
//! it to the right extractor; extractors report what they find through
//! [`Ctx`], which runs the matcher and emits findings and not-examined events.
//!
//! Every extractor is bounded by [`ExtractLimits`] and returns errors instead
//! of panicking: one bad file never stops a scan.

pub mod text;

// Containers and documents.
pub mod archive;
pub mod markup;
pub mod office;
pub mod pdf;

// Healthcare formats (field-aware).
pub mod ccda;
mod delimited;
pub mod dicom;
pub mod hl7;
pub mod tabular;
pub mod x12;

use crate::config::ExtractLimits;
use crate::entity::Entity;
use crate::error::ExtractError;
use crate::report::{Event, EventSink, SkipReason};
use crate::scan::Scanner;
use std::cell::Cell;
use std::io::{self, Read};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Records (CSV rows, HL7 segments) read ahead and joined into one text,
/// each followed by a newline, so that one pass of
/// [`crate::matcher::Matcher::quiet_parts`] tells which of them hold no
/// candidate at all (most records), instead of one search per record.
///
/// Records are read as bytes into `raw` ([`RecordBatch::end_raw_record`]
/// after each), then [`RecordBatch::decode`] makes them the text: without
/// a copy when the whole batch is UTF-8 (the usual case).
#[derive(Default)]
pub struct RecordBatch {
    /// The records as read, each followed by `\n`.
    pub raw: Vec<u8>,
    raw_records: Vec<std::ops::Range<usize>>,
    /// The records' texts, after `decode`.
    pub text: String,
    records: Vec<std::ops::Range<usize>>,
    quiet: Vec<bool>,
}

impl RecordBatch {
    /// Records read ahead at most, and about how many bytes of them. A
    /// batch of HL7 segments or CSV rows should hold a few rounds of the
    /// end finder (`lanes`): 2048 against 512 made both 3–5% faster.
    const MAX_RECORDS: usize = 2048;
    const MAX_BYTES: usize = 256 << 10;

    pub fn clear(&mut self) {
        self.raw.clear();
        self.raw_records.clear();
        self.text.clear();
        self.records.clear();
        self.quiet.clear();
    }

    /// Whether enough records were read for one batch.
    pub fn is_full(&self) -> bool {
        self.raw_records.len() >= Self::MAX_RECORDS || self.raw.len() >= Self::MAX_BYTES
    }

    /// Ends the record appended to `raw` from `start` on (the length `raw`
    /// had before it). Records are cut by a non-word byte: see
    /// `quiet_parts`.
    pub fn end_raw_record(&mut self, start: usize) {
        self.raw_records.push(start..self.raw.len());
        self.raw.push(b'\n');
    }

    /// Makes the records read the text. When some record is not UTF-8,
    /// each is passed to `decode_record` (its index, its bytes, where they
    /// start in `raw`), which appends its text to the `String` given.
    pub fn decode(&mut self, mut decode_record: impl FnMut(usize, &[u8], usize, &mut String)) {
        let raw = std::mem::take(&mut self.raw);
        match String::from_utf8(raw) {
            Ok(text) => {
                // The old text's buffer is kept for the next batch's bytes.
                self.raw = std::mem::replace(&mut self.text, text).into_bytes();
                self.raw.clear();
                self.records.clone_from(&self.raw_records);
            }
            Err(e) => {
                let raw = e.into_bytes();
                self.text.clear();
                self.records.clear();
                for (i, range) in self.raw_records.iter().enumerate() {
                    let start = self.text.len();
                    decode_record(i, &raw[range.clone()], range.start, &mut self.text);
                    self.records.push(start..self.text.len());
                    self.text.push('\n');
                }
                self.raw = raw;
            }
        }
        self.quiet.clear();
    }

    /// Judges every record; then [`RecordBatch::record`] tells.
    pub fn judge(&mut self, ctx: &mut Ctx) {
        self.quiet.clear();
        ctx.scanner.matcher.quiet_parts(
            self.text.as_bytes(),
            &self.records,
            ctx.scratch,
            &mut self.quiet,
        );
    }

    /// Record `i`: its text range in `text`, and whether it is quiet.
    pub fn record(&self, i: usize) -> (std::ops::Range<usize>, bool) {
        (self.records[i].clone(), self.quiet.get(i) == Some(&true))
    }
}

/// Readers for extractor tests.
#[cfg(test)]
pub(crate) mod testio {
    use std::io::{self, Read};

    /// Gives `data` in reads of at most `step` bytes (so that records and
    /// chunks cross reads); at the end, end of input or an error.
    pub struct Pieces<'a> {
        data: &'a [u8],
        step: usize,
        error: Option<&'static str>,
    }

    impl<'a> Pieces<'a> {
        pub fn new(data: &'a [u8], step: usize) -> Self {
            Pieces {
                data,
                step,
                error: None,
            }
        }

        /// Fails with `message` once `data` is given, instead of ending.
        pub fn then_fail(self, message: &'static str) -> Self {
            Pieces {
                error: Some(message),
                ..self
            }
        }
    }

    impl Read for Pieces<'_> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            if let (true, Some(message)) = (self.data.is_empty(), self.error) {
                return Err(io::Error::other(message));
            }
            let n = self.step.min(buf.len()).min(self.data.len());
            buf[..n].copy_from_slice(&self.data[..n]);
            self.data = &self.data[n..];
            Ok(n)
        }
    }
}

/// Bytes of a stream's start used to recognise its format.
pub const HEAD_LEN: usize = 8192;

/// A position in decoded text, both 1-based (column in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub line: u64,
    pub column: u64,
}

impl Location {
    pub const START: Location = Location { line: 1, column: 1 };
}

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

/// Byte and time budget shared by a top-level file and everything nested
/// in it.
#[derive(Debug, Default)]
pub struct Budget {
    pub expanded: Cell<u64>,
    /// When extraction must stop (`ExtractLimits::max_seconds`).
    deadline: Option<Instant>,
    timed_out: Cell<bool>,
    /// Calls since the clock was last read.
    ticks: Cell<u32>,
}

impl Budget {
    /// A budget whose time runs out `seconds` from now (0 = never).
    pub fn with_time_limit(seconds: u64) -> Budget {
        Budget {
            deadline: (seconds > 0).then(|| Instant::now() + Duration::from_secs(seconds)),
            ..Budget::default()
        }
    }

    /// Whether the time limit has passed. Cheap enough for every field:
    /// the clock is read on every 64th call only.
    pub fn out_of_time(&self) -> bool {
        if self.timed_out.get() {
            return true;
        }
        let Some(deadline) = self.deadline else {
            return false;
        };
        let ticks = self.ticks.get().wrapping_add(1);
        self.ticks.set(ticks);
        if ticks % 64 == 0 && Instant::now() >= deadline {
            self.timed_out.set(true);
        }
        self.timed_out.get()
    }

    /// Like [`Budget::out_of_time`], reading the clock now (for reads,
    /// which are few and may each take long).
    pub fn check_time_now(&self) -> bool {
        if let Some(deadline) = self.deadline {
            if !self.timed_out.get() && Instant::now() >= deadline {
                self.timed_out.set(true);
            }
        }
        self.timed_out.get()
    }

    /// Whether the time limit stopped the extraction.
    pub fn timed_out(&self) -> bool {
        self.timed_out.get()
    }
}

/// The extraction context of one file or member: where it is, how deep, and
/// where its findings go.
pub struct Ctx<'a> {
    pub scanner: &'a Scanner,
    pub events: &'a dyn EventSink,
    pub target: &'a Arc<str>,
    /// Report path of the current file or member (`a.zip!b/c.csv`).
    pub path: String,
    /// 0 for a top-level file, +1 for each container level.
    pub depth: u32,
    pub budget: &'a Budget,
    pub scratch: &'a mut crate::matcher::Scratch,
}

impl<'a> Ctx<'a> {
    pub fn limits(&self) -> &ExtractLimits {
        &self.scanner.options.limits
    }

    /// Matches a block of decoded text starting at `at`. `field` labels it
    /// (`""` for free text). Large texts should come in pieces (paragraphs,
    /// cells): each piece is matched on its own.
    pub fn text(&mut self, field: &str, text: &str, at: Location) {
        if self.budget.out_of_time() {
            return;
        }
        text::scan_block(self, field, text.as_bytes(), at, None);
    }

    /// Runs `f`, in which texts that are parts of `block` (fields of one
    /// record, cut at separators) are not matched when `quiet`, the
    /// verdict of [`crate::matcher::Matcher::quiet_parts`] on `block`, says
    /// it holds no candidate. See [`crate::matcher::Matcher::enter_block`].
    pub fn within_block<R>(
        &mut self,
        block: &[u8],
        quiet: bool,
        f: impl FnOnce(&mut Ctx<'a>) -> R,
    ) -> R {
        let matcher = &self.scanner.matcher;
        let entered = matcher.enter_block(block, quiet, self.scratch);
        let result = f(self);
        matcher.leave_block(entered, self.scratch);
        result
    }

    /// A value that sits in a field known to hold `entity` (HL7 PID-19, an
    /// X12 NM109 with qualifier 34, a CSV column headed `ssn` ...). Reported
    /// as a finding of `entity` by `rule` with HIGH confidence when the
    /// entity's validator (if any) accepts it. The value is also matched as
    /// text by the other rules; hits of the same entity are left out there
    /// since this finding covers them.
    pub fn field_value(
        &mut self,
        rule: &str,
        field: &str,
        entity: Entity,
        value: &str,
        at: Location,
    ) {
        if self.budget.out_of_time() {
            return;
        }
        text::scan_field_value(self, rule, field, entity, value, at);
    }

    /// Scans a nested member (archive entry, embedded document) under
    /// `self.path + "!" + name`. Depth and byte limits apply.
    pub fn member(&mut self, name: &str, data: &mut dyn Read, size: Option<u64>) {
        if self.budget.check_time_now() {
            return;
        }
        let path = format!("{}!{}", self.path, name);
        if self.depth + 1 > self.limits().max_depth {
            let detail = format!("nested deeper than {} levels", self.limits().max_depth);
            self.emit_not_examined(path, SkipReason::Limit, detail);
            return;
        }
        let mut child = Ctx {
            scanner: self.scanner,
            events: self.events,
            target: self.target,
            path,
            depth: self.depth + 1,
            budget: self.budget,
            scratch: &mut *self.scratch,
        };
        if let Err(e) = scan_input(&mut child, data, size) {
            let reason = reason_of(&e);
            let path = child.path.clone();
            child.emit_not_examined(path, reason, e.to_string());
        }
    }

    /// Reports that `what` (a member name under this file, or `None` for
    /// this file itself) was not examined.
    pub fn not_examined(
        &mut self,
        what: Option<&str>,
        reason: SkipReason,
        detail: impl Into<String>,
    ) {
        let path = match what {
            Some(m) => format!("{}!{}", self.path, m),
            None => self.path.clone(),
        };
        self.emit_not_examined(path, reason, detail.into());
    }

    fn emit_not_examined(&self, path: String, reason: SkipReason, detail: String) {
        self.events.send(Event::NotExamined {
            target: self.target.clone(),
            path,
            reason,
            detail,
        });
    }

    /// Counts `n` more expanded bytes against the per-file budget.
    pub fn charge_expanded(&self, n: u64) -> Result<(), ExtractError> {
        let total = self.budget.expanded.get().saturating_add(n);
        self.budget.expanded.set(total);
        if total > self.limits().max_expanded_bytes {
            return Err(ExtractError::Limit(format!(
                "more than {} bytes expanded from one file",
                self.limits().max_expanded_bytes
            )));
        }
        Ok(())
    }

    /// The file or member name (last path component) for format detection.
    pub fn name(&self) -> &str {
        let last = self.path.rsplit('!').next().unwrap_or(&self.path);
        last.rsplit('/').next().unwrap_or(last)
    }
}

/// Maps an extraction error to the reason reported for it.
pub fn reason_of(e: &ExtractError) -> SkipReason {
    match e {
        // A data connection that broke or timed out (FTP sources).
        ExtractError::Io(e)
            if matches!(
                e.kind(),
                io::ErrorKind::TimedOut
                    | io::ErrorKind::WouldBlock
                    | io::ErrorKind::ConnectionReset
                    | io::ErrorKind::ConnectionAborted
                    | io::ErrorKind::BrokenPipe
                    | io::ErrorKind::NotConnected
            ) =>
        {
            SkipReason::Network
        }
        ExtractError::Io(_) => SkipReason::Unreadable,
        ExtractError::Corrupt { .. } => SkipReason::Corrupt,
        ExtractError::Limit(_) => SkipReason::Limit,
        ExtractError::Encrypted => SkipReason::Encrypted,
        ExtractError::Unsupported(_) => SkipReason::Unsupported,
    }
}

/// Reads up to `n` bytes (fewer only at end of stream).
pub fn read_head(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// Recognises what `data` holds and extracts it into `ctx`.
pub fn scan_input(
    ctx: &mut Ctx,
    data: &mut dyn Read,
    size: Option<u64>,
) -> Result<(), ExtractError> {
    let _ = size;
    let head = read_head(data, HEAD_LEN).map_err(|e| uncarry(e.into()))?;
    let result = match detect(&head, ctx.name()) {
        Kind::Text => text::scan_stream(ctx, "", &head, data),
        // Containers and documents.
        Kind::Gzip => archive::scan_gzip(ctx, &head, data),
        Kind::Zip => archive::scan_zip(ctx, &head, data),
        Kind::Tar => archive::scan_tar(ctx, &head, data),
        Kind::Pdf => pdf::scan(ctx, &head, data),
        Kind::Rtf => markup::scan_rtf(ctx, &head, data),
        Kind::Html => markup::scan_html(ctx, &head, data),
        Kind::Ole2 => office::scan_ole2(&head),
        // Healthcare formats (field-aware).
        Kind::Hl7 => hl7::scan(ctx, &head, data),
        Kind::X12 => x12::scan(ctx, &head, data),
        Kind::Dicom => dicom::scan(ctx, &head, data),
        Kind::Ccda => ccda::scan(ctx, &head, data),
        Kind::Tabular(delimiter) => tabular::scan(ctx, delimiter, &head, data),
        Kind::Binary => {
            ctx.not_examined(
                None,
                SkipReason::Binary,
                "not text and no extractor for this format",
            );
            Ok(())
        }
    };
    result.map_err(uncarry)
}

/// Wraps an extraction error in an `io::Error`, for the `Read` adapters
/// (decompressors, archive readers) that can only fail with one.
pub fn carry(e: ExtractError) -> io::Error {
    io::Error::other(e)
}

/// Recovers an error [`carry`]-ed through `Read` adapters, possibly wrapped
/// again by a library (the tar crate does), so that the reason reported is
/// the real one (a limit, corruption) and not "read error".
pub fn uncarry(e: ExtractError) -> ExtractError {
    let ExtractError::Io(io_err) = &e else {
        return e;
    };
    let mut current: Option<&(dyn std::error::Error + 'static)> = Some(io_err);
    // Bounded: error chains are short, and a cycle must not hang us.
    for _ in 0..16 {
        let Some(err) = current else { break };
        if let Some(found) = err.downcast_ref::<ExtractError>() {
            match found {
                ExtractError::Io(inner) => {
                    current = Some(inner);
                    continue;
                }
                ExtractError::Corrupt { format, message } => {
                    return ExtractError::Corrupt {
                        format,
                        message: message.clone(),
                    }
                }
                ExtractError::Limit(m) => return ExtractError::Limit(m.clone()),
                ExtractError::Encrypted => return ExtractError::Encrypted,
                ExtractError::Unsupported(m) => return ExtractError::Unsupported(m.clone()),
            }
        }
        if let Some(inner) = err
            .downcast_ref::<io::Error>()
            .and_then(|io_err| io_err.get_ref())
        {
            current = Some(inner);
            continue;
        }
        current = err.source();
    }
    e
}
