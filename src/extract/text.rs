//! Matching decoded text: whole files streamed in chunks (bounded memory
//! whatever the size), and blocks or field values handed over by extractors.

use super::ordered::{self, JobCtx};
use super::{Ctx, Location};
use crate::decode::{sniff, TextEncoding, SNIFF_LEN};
use crate::entity::{Confidence, Entity};
use crate::error::ExtractError;
use crate::matcher::Hit;
use crate::report::{Event, EventSink, Finding};
use encoding_rs::CoderResult;
use std::cell::Cell;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read};
use std::sync::Mutex;

/// Bytes of text matched per round.
pub const CHUNK: usize = 2 << 20;
/// Bytes kept either side of a round's own bytes, so that a match across a
/// chunk boundary is found (once) and has its context words and snippet.
pub const OVERLAP: usize = 8 << 10;
/// Characters of context either side of a match in the report.
pub const CONTEXT_CHARS: usize = 40;

/// Tracks line and column while moving forward through text.
#[derive(Clone, Copy, Debug)]
struct LineCursor {
    /// Byte offset the counts below refer to.
    pos: usize,
    line: u64,
    /// Characters between the last newline and `pos`.
    col: u64,
}

impl LineCursor {
    fn new(pos: usize, at: Location) -> Self {
        LineCursor {
            pos,
            line: at.line,
            col: at.column.saturating_sub(1),
        }
    }

    fn advance_to(&mut self, buf: &[u8], to: usize) {
        if to <= self.pos {
            return;
        }
        let span = &buf[self.pos..to];
        let newlines = memchr::memchr_iter(b'\n', span).count() as u64;
        if newlines > 0 {
            self.line += newlines;
            let last = memchr::memrchr(b'\n', span).unwrap_or(0);
            self.col = count_chars(&span[last + 1..]);
        } else {
            self.col += count_chars(span);
        }
        self.pos = to;
    }

    fn location(&self) -> Location {
        Location {
            line: self.line,
            column: self.col + 1,
        }
    }
}

/// Characters in UTF-8 (invalid bytes count one each): the bytes that are
/// not continuation bytes (`10xxxxxx`), counted eight at a time. Columns
/// of minified JSON or XML are counted from the start of a line that may
/// be the whole file; byte by byte that was 3% of such a scan.
fn count_chars(bytes: &[u8]) -> u64 {
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let mut words = bytes.chunks_exact(8);
    let mut continuation = 0u64;
    for word in &mut words {
        let mut b = [0u8; 8];
        b.copy_from_slice(word);
        let w = u64::from_le_bytes(b);
        // Bit 7 of each byte set, and bit 6 (shifted up to bit 7) clear.
        continuation += u64::from((w & !(w << 1) & HIGH).count_ones());
    }
    continuation += words
        .remainder()
        .iter()
        .filter(|&&b| (b & 0xC0) == 0x80)
        .count() as u64;
    bytes.len() as u64 - continuation
}

/// Streams a text file: `head` is what was already read of it, `rest` the
/// remainder. Memory stays at about `CHUNK + 2·OVERLAP` whatever the size
/// on one thread; a file of more than one round is matched on every
/// thread of the current rayon pool (see [`scan_rounds_in_parallel`]).
pub fn scan_stream(
    ctx: &mut Ctx,
    field: &str,
    head: &[u8],
    rest: &mut dyn Read,
) -> Result<(), ExtractError> {
    let encoding = sniff(&head[..head.len().min(SNIFF_LEN)]).unwrap_or(TextEncoding::Windows1252);
    let mut source = Decoded::new(encoding, head, rest);
    let mut buf: Vec<u8> = Vec::with_capacity(CHUNK + 3 * OVERLAP);
    let eof = source.fill(&mut buf, CHUNK + OVERLAP);
    let result = if !eof && super::ordered::pooled() {
        scan_rounds_in_parallel(ctx, field, &mut source, buf)
    } else {
        scan_rounds(ctx, field, &mut source, buf, eof)
    };
    result?;
    match source.error.take() {
        Some(e) => Err(e.into()),
        None => Ok(()),
    }
}

/// The rounds of a stream one after the other on this thread; `buf` holds
/// the first round's text, `eof` whether that is all.
fn scan_rounds(
    ctx: &mut Ctx,
    field: &str,
    source: &mut Decoded,
    mut buf: Vec<u8>,
    mut eof: bool,
) -> Result<(), ExtractError> {
    let mut owned_start = 0usize;
    let mut cursor = LineCursor::new(0, Location::START);
    let mut hits = Vec::new();
    loop {
        let owned_end = if eof { buf.len() } else { buf.len() - OVERLAP };
        hits.clear();
        ctx.matcher
            .find(&buf, owned_start..owned_end, ctx.scratch, &mut hits);
        report_hits(ctx, field, &buf, &mut hits, &mut cursor, None);
        cursor.advance_to(&buf, owned_end);
        if eof {
            return Ok(());
        }
        // Keep OVERLAP bytes before the next round's own bytes as look-behind.
        let keep_from = owned_end.saturating_sub(OVERLAP);
        buf.drain(..keep_from);
        owned_start = owned_end - keep_from;
        cursor.pos -= keep_from;
        eof = source.fill(&mut buf, owned_start + CHUNK + OVERLAP);
    }
}

/// One round of a stream matched apart from the others: its findings, with
/// lines counted from the round's first own byte (line 0 is the line the
/// round starts in, its columns counted from there), and how far the round
/// moves the position (newlines, then characters after the last one).
struct RoundFindings {
    events: Vec<Event>,
    newlines: u64,
    last_columns: u64,
    /// Findings in the round, counted or built (see [`send_finding`]).
    findings: u64,
}

impl RoundFindings {
    /// Sends the findings with their real positions, given the position of
    /// the round's first own byte (`line`, and 0-based `column`), and moves
    /// that position past the round.
    fn send(self, events: &dyn EventSink, line: &mut u64, column: &mut u64) {
        for mut event in self.events {
            if let Event::Finding(f) = &mut event {
                match f.line {
                    Some(0) => {
                        f.line = Some(*line);
                        f.column = f.column.map(|c| c + *column);
                    }
                    Some(n) => f.line = Some(n + *line),
                    None => {}
                }
            }
            events.send(event);
        }
        if self.newlines > 0 {
            *line += self.newlines;
            *column = self.last_columns;
        } else {
            *column += self.last_columns;
        }
    }
}

/// Matches the round's bytes `owned` (the rest is look-behind and look-ahead)
/// exactly as [`scan_rounds`] does, as a job of [`scan_rounds_in_parallel`].
fn scan_round(jobs: &JobCtx, counts: &RoundCounts, field: &str, round: &Round) -> RoundFindings {
    let Round {
        buf,
        owned,
        index,
        found_before,
    } = round;
    // The file's time limit is its reader's: a round, once read, is
    // matched whole, as on one thread.
    let budget = super::Budget::with_time_limit(0);
    budget.count_on_from(*found_before);
    let ((newlines, last_columns), done) = jobs.run(budget, |ctx| {
        let mut hits = Vec::new();
        ctx.matcher.find(buf, owned.clone(), ctx.scratch, &mut hits);
        // Every hit of a round is sent (none is skipped).
        if let Some(before) = counts.known(*index, hits.len() as u64) {
            ctx.budget.count_on_from(before);
        }
        let mut cursor = LineCursor {
            pos: owned.start,
            line: 0,
            col: 0,
        };
        report_hits(ctx, field, buf, &mut hits, &mut cursor, None);
        cursor.advance_to(buf, owned.end);
        (cursor.line, cursor.col)
    });
    RoundFindings {
        events: done.events,
        newlines,
        last_columns,
        findings: done.budget.job_findings(),
    }
}

/// A round of a stream, as a job of [`scan_rounds_in_parallel`].
struct Round {
    /// Its bytes, with look-behind and look-ahead around `owned`.
    buf: Vec<u8>,
    owned: std::ops::Range<usize>,
    /// Its place in the file, for [`RoundCounts`].
    index: usize,
    /// The file's findings sent before the round, as far as known when it
    /// was read (at most the real count).
    found_before: u64,
}

/// The findings of each round of a file as its jobs learn them, before
/// they build any. A job whose earlier rounds are all known counts its own
/// findings on from their sum, the count a serial scan has there, and so
/// builds only those within the file's row cap (counting on from the
/// findings sent, jobs read ahead built up to the cap's worth each for the
/// output to drop).
struct RoundCounts(Mutex<KnownRounds>);

struct KnownRounds {
    /// The first round not known, with all before it.
    next: usize,
    /// The file's findings before round `next`.
    before_next: u64,
    /// Rounds known after `next`: at most those in flight.
    later: BTreeMap<usize, u64>,
}

impl RoundCounts {
    /// `base`: the file's findings before its first round.
    fn new(base: u64) -> RoundCounts {
        RoundCounts(Mutex::new(KnownRounds {
            next: 0,
            before_next: base,
            later: BTreeMap::new(),
        }))
    }

    /// Notes that round `round` (each noted once) has `count` findings;
    /// the file's findings before it, when all the rounds before it are
    /// known.
    fn known(&self, round: usize, count: u64) -> Option<u64> {
        let mut known = self.0.lock().unwrap_or_else(|e| e.into_inner());
        if round != known.next {
            known.later.insert(round, count);
            return None;
        }
        let before = known.before_next;
        known.before_next += count;
        known.next += 1;
        loop {
            let next = known.next;
            let Some(count) = known.later.remove(&next) else {
                break;
            };
            known.before_next += count;
            known.next += 1;
        }
        Some(before)
    }
}

/// The rounds of a stream spread over the threads of the current rayon
/// pool: the same rounds as [`scan_rounds`] (same bytes, same own range,
/// so the same findings), each matched as a job of its own while this
/// thread reads the next; findings are sent in file order with the
/// positions a serial scan gives.
fn scan_rounds_in_parallel(
    ctx: &mut Ctx,
    field: &str,
    source: &mut Decoded,
    mut buf: Vec<u8>,
) -> Result<(), ExtractError> {
    let lent = std::mem::replace(&mut *ctx.scratch, ctx.matcher.new_scratch());
    let jobs = JobCtx::new(ctx, lent);
    let (events, budget) = (ctx.events, ctx.budget);
    // The file's findings sent so far: a round read now starts from it.
    let found = Cell::new(budget.findings.get());
    let counts = RoundCounts::new(found.get());
    let mut round_index = 0;
    let (mut line, mut column) = (1u64, 0u64);
    // Buffers of rounds matched, for the next rounds to be read into.
    let (spare_tx, spare_rx) = crossbeam_channel::unbounded::<Vec<u8>>();
    let (mut owned_start, mut eof, mut done) = (0usize, false, false);
    // Where the next round's own bytes start in `buf`, once its look-behind
    // is there: it is read when the next job is asked for, after the
    // round before it went to the pool.
    let mut unread: Option<usize> = None;
    ordered::run_in_order(
        || {
            if done {
                return None;
            }
            if let Some(start) = unread.take() {
                owned_start = start;
                eof = source.fill(&mut buf, owned_start + CHUNK + OVERLAP);
            }
            let owned_end = if eof { buf.len() } else { buf.len() - OVERLAP };
            // The round's buffer goes to its job whole; the next round
            // starts in a spare buffer (one a finished job gave back) from
            // this round's tail, its look-behind.
            let keep_from = owned_end.saturating_sub(OVERLAP);
            let mut next = Vec::new();
            if !eof {
                next = spare_rx
                    .try_recv()
                    .unwrap_or_else(|_| Vec::with_capacity(CHUNK + 3 * OVERLAP));
                next.clear();
                next.extend_from_slice(&buf[keep_from..]);
                unread = Some(owned_end - keep_from);
            }
            done = eof;
            let round = Round {
                buf: std::mem::replace(&mut buf, next),
                owned: owned_start..owned_end,
                index: round_index,
                found_before: found.get(),
            };
            round_index += 1;
            let bytes = round.buf.capacity();
            Some((round, bytes, eof))
        },
        |round: Round| {
            let findings = scan_round(&jobs, &counts, field, &round);
            let _ = spare_tx.send(round.buf);
            findings
        },
        |round: RoundFindings| {
            found.set(found.get() + round.findings);
            jobs.sent(found.get());
            round.send(events, &mut line, &mut column);
        },
    );
    budget.findings.set(found.get());
    *ctx.scratch = jobs.give_back();
    Ok(())
}

/// Matches one block of text (an extractor's paragraph, cell or field).
pub fn scan_block(ctx: &mut Ctx, field: &str, text: &[u8], at: Location, skip: Option<Entity>) {
    scan_block_except(ctx, field, text, at, skip, None);
}

/// [`scan_block`], leaving out hits of entities other than `entity` that
/// span exactly `whole`: a field's structure says what its value is.
fn scan_block_except(
    ctx: &mut Ctx,
    field: &str,
    text: &[u8],
    at: Location,
    skip: Option<Entity>,
    except: Option<(Entity, std::ops::Range<usize>)>,
) {
    let mut hits = Vec::new();
    ctx.matcher
        .find(text, 0..text.len(), ctx.scratch, &mut hits);
    if let Some((entity, whole)) = except {
        let matcher = ctx.matcher;
        hits.retain(|h| {
            (h.start, h.end) != (whole.start, whole.end) || matcher.rule(h.rule).entity == entity
        });
    }
    let mut cursor = LineCursor::new(0, at);
    report_hits(ctx, field, text, &mut hits, &mut cursor, skip);
}

/// Reports `hits`, what `Matcher::find` gave for all of `text`: what
/// [`scan_block`] does after its search, for callers that searched already.
pub(crate) fn report_block_hits(
    ctx: &mut Ctx,
    field: &str,
    text: &[u8],
    at: Location,
    hits: &mut [Hit],
) {
    let mut cursor = LineCursor::new(0, at);
    report_hits(ctx, field, text, hits, &mut cursor, None);
}

/// See [`Ctx::field_value`].
pub fn scan_field_value(
    ctx: &mut Ctx,
    rule: &str,
    field: &str,
    entity: Entity,
    value: &str,
    at: Location,
) {
    let trimmed = value.trim();
    let lead = value.len() - value.trim_start().len();
    let valid = !trimmed.is_empty()
        && crate::validators::for_entity(entity).is_none_or(|validate| validate(trimmed));
    if valid {
        let mut cursor = LineCursor::new(0, at);
        cursor.advance_to(value.as_bytes(), lead);
        send_finding(
            ctx,
            field,
            value.as_bytes(),
            lead..lead + trimmed.len(),
            entity,
            rule,
            Confidence::High,
            cursor.location(),
            Others::NONE,
        );
    }
    // Structure wins over free patterns: the whole value of a field known
    // to hold an MRN is not also an SSN because it looks like one, nor is
    // the whole value of an SSN field an NPI because it passes its check.
    let whole = (!trimmed.is_empty()).then_some((entity, lead..lead + trimmed.len()));
    scan_block_except(
        ctx,
        field,
        value.as_bytes(),
        at,
        valid.then_some(entity),
        whole,
    );
}

fn report_hits(
    ctx: &mut Ctx,
    field: &str,
    buf: &[u8],
    hits: &mut [Hit],
    cursor: &mut LineCursor,
    skip: Option<Entity>,
) {
    hits.sort_unstable_by_key(|h| (h.start, h.rule));
    let others = Others::of(hits);
    for hit in hits.iter() {
        let rule = ctx.matcher.rule(hit.rule);
        if Some(rule.entity) == skip {
            continue;
        }
        // A finding past the row cap is only counted: no place needed.
        // The cursor counts from where it stopped, whenever it moves on.
        if !past_row_cap(ctx) {
            cursor.advance_to(buf, hit.start);
        }
        send_finding(
            ctx,
            field,
            buf,
            hit.start..hit.end,
            rule.entity,
            &rule.id,
            hit.confidence,
            cursor.location(),
            others,
        );
    }
}

/// Whether the next finding of the file is past its row cap.
fn past_row_cap(ctx: &Ctx) -> bool {
    ctx.options
        .rows_per_file
        .is_some_and(|cap| ctx.budget.findings.get() >= cap)
}

/// Sends a finding: built into a row, or only counted when its file is
/// past the row cap and nothing could drop it before that cap (see
/// `ScanOptions::rows_per_file`). The count is the file's findings sent
/// through this budget, never more than the output has seen of the file
/// before this one (a big file's round starts from those sent when it was
/// read), so a finding counted here is one the output would not write.
#[allow(clippy::too_many_arguments)]
fn send_finding(
    ctx: &Ctx,
    field: &str,
    buf: &[u8],
    span: std::ops::Range<usize>,
    entity: Entity,
    rule: &str,
    confidence: Confidence,
    at: Location,
    others: Others,
) {
    let past_cap = past_row_cap(ctx);
    ctx.budget.findings.set(ctx.budget.findings.get() + 1);
    if past_cap {
        ctx.events.past_row_cap(crate::report::PastCap {
            target: ctx.target,
            path: &ctx.path,
            entity,
            confidence,
            count: 1,
        });
        return;
    }
    let finding = build_finding(ctx, field, buf, span, entity, rule, confidence, at, others);
    ctx.events.send(Event::Finding(finding));
}

/// Builds a report row. The raw value and its surroundings are masked here,
/// before anything leaves the extractor (unless `--unmask`).
#[allow(clippy::too_many_arguments)]
fn build_finding(
    ctx: &Ctx,
    field: &str,
    buf: &[u8],
    span: std::ops::Range<usize>,
    entity: Entity,
    rule: &str,
    confidence: Confidence,
    at: Location,
    others: Others,
) -> Finding {
    let unmask = ctx.options.unmask;
    let value = String::from_utf8_lossy(&buf[span.clone()]);
    let before = snippet(
        ctx,
        buf,
        back_chars(buf, span.start, CONTEXT_CHARS)..span.start,
        others,
    );
    let after = snippet(
        ctx,
        buf,
        span.end..forward_chars(buf, span.end, CONTEXT_CHARS),
        others,
    );
    let shown = if unmask {
        value.to_string()
    } else {
        crate::mask::mask_value(entity, &value)
    };
    let context = crate::mask::render_context(&before, &shown, &after, unmask);
    let fp =
        crate::report::fingerprint::compute(&ctx.options.fingerprint_key, &ctx.path, rule, &value);
    Finding {
        target: ctx.target.clone(),
        path: ctx.path.clone(),
        entity,
        rule: ctx.matcher.rule_id_arc(rule),
        confidence,
        line: Some(at.line),
        column: Some(at.column),
        field: field.to_string(),
        matched: shown,
        context,
        fingerprint: fp.finding,
        value_fingerprint: fp.value,
    }
}

/// The other hits of a text, sorted by start, with the longest one's
/// length: the hits near a range are found by binary search. A dense file
/// (one long line of values) has tens of thousands of hits per chunk, and
/// scanning all of them for each finding's snippet was quadratic.
#[derive(Clone, Copy)]
struct Others<'a> {
    hits: &'a [Hit],
    longest: usize,
}

impl<'a> Others<'a> {
    const NONE: Others<'static> = Others {
        hits: &[],
        longest: 0,
    };

    fn of(hits: &'a [Hit]) -> Others<'a> {
        Others {
            hits,
            longest: hits.iter().map(|h| h.end - h.start).max().unwrap_or(0),
        }
    }

    /// The hits that may overlap `range` (no hit is longer than the
    /// longest, so none starting before `range.start - longest` reaches it).
    fn near(&self, range: &std::ops::Range<usize>) -> &'a [Hit] {
        let first = self
            .hits
            .partition_point(|h| h.start.saturating_add(self.longest) <= range.start);
        let last = self.hits.partition_point(|h| h.start < range.end);
        &self.hits[first..last.max(first)]
    }
}

/// Text of `range` for a context snippet, with every other hit in it masked
/// as its own entity (a birth date next to an SSN must not show in the SSN's
/// row any more than in its own). `others` is sorted by start.
///
/// Borrowed from `buf` when nothing in it needs masking and it is UTF-8
/// (the snippet is copied once more, into the finding's context).
fn snippet<'b>(
    ctx: &Ctx,
    buf: &'b [u8],
    range: std::ops::Range<usize>,
    others: Others,
) -> std::borrow::Cow<'b, str> {
    let overlapping = others
        .near(&range)
        .iter()
        .filter(|h| h.end > range.start && h.start < range.end);
    if ctx.options.unmask || overlapping.clone().next().is_none() {
        return String::from_utf8_lossy(&buf[range]);
    }
    let mut out = String::new();
    let mut pos = range.start;
    for h in overlapping {
        let start = h.start.max(pos);
        let end = h.end.min(range.end);
        if start >= end {
            continue;
        }
        out.push_str(&String::from_utf8_lossy(&buf[pos..start]));
        let entity = ctx.matcher.rule(h.rule).entity;
        out.push_str(&crate::mask::mask_value(
            entity,
            &String::from_utf8_lossy(&buf[start..end]),
        ));
        pos = end;
    }
    out.push_str(&String::from_utf8_lossy(&buf[pos..range.end]));
    std::borrow::Cow::Owned(out)
}

/// Start of the `n` characters before `pos`.
fn back_chars(buf: &[u8], pos: usize, n: usize) -> usize {
    let mut i = pos;
    let mut seen = 0;
    while i > 0 && seen < n {
        i -= 1;
        if (buf[i] & 0xC0) != 0x80 {
            seen += 1;
        }
    }
    i
}

/// End of the `n` characters after `pos`.
fn forward_chars(buf: &[u8], pos: usize, n: usize) -> usize {
    let mut i = pos;
    let mut seen = 0;
    while i < buf.len() {
        if (buf[i] & 0xC0) != 0x80 {
            if seen == n {
                break;
            }
            seen += 1;
        }
        i += 1;
    }
    i
}

/// Bytes of a stream as UTF-8 (or as-is for UTF-8 input), read on demand.
struct Decoded<'a> {
    decoder: Option<encoding_rs::Decoder>,
    head: &'a [u8],
    rest: &'a mut dyn Read,
    raw: Vec<u8>,
    raw_eof: bool,
    /// The read error that ended the stream early: returned only after the
    /// text read before it was matched.
    error: Option<std::io::Error>,
}

impl<'a> Decoded<'a> {
    fn new(encoding: TextEncoding, head: &'a [u8], rest: &'a mut dyn Read) -> Self {
        let head = if encoding == TextEncoding::Utf8 {
            head.strip_prefix(&[0xEF, 0xBB, 0xBF][..]).unwrap_or(head)
        } else {
            head
        };
        Decoded {
            decoder: encoding.decoder(),
            head,
            rest,
            raw: Vec::new(),
            raw_eof: false,
            error: None,
        }
    }

    /// Appends text to `buf` until it holds `want` bytes or the stream
    /// ends (a read error ends it too, see `error`); returns whether it
    /// ended.
    fn fill(&mut self, buf: &mut Vec<u8>, want: usize) -> bool {
        while buf.len() < want {
            if self.raw.is_empty() && !self.head.is_empty() {
                self.raw.extend_from_slice(self.head);
                self.head = &[];
            }
            if self.decoder.is_some() && self.raw.is_empty() && !self.raw_eof {
                self.read_raw(want - buf.len());
            }
            match &mut self.decoder {
                // UTF-8 is read straight into `buf`: no copy, no zeroing.
                None if self.raw.is_empty() && !self.raw_eof => {
                    let want = (want - buf.len()).clamp(4096, CHUNK) as u64;
                    let before = buf.len();
                    // `read_to_end` keeps what was read before an error.
                    match (&mut *self.rest).take(want).read_to_end(buf) {
                        Ok(_) if buf.len() - before < want as usize => self.raw_eof = true,
                        Ok(_) => {}
                        Err(e) => {
                            self.raw_eof = true;
                            self.error = Some(e);
                        }
                    }
                }
                None => {
                    buf.extend_from_slice(&self.raw);
                    self.raw.clear();
                }
                Some(decoder) => {
                    let last = self.raw_eof;
                    let mut consumed = 0;
                    loop {
                        let room = decoder
                            .max_utf8_buffer_length(self.raw.len() - consumed)
                            .unwrap_or(usize::MAX / 2)
                            .max(16);
                        let len = buf.len();
                        buf.resize(len + room, 0);
                        let (result, read, written, _) =
                            decoder.decode_to_utf8(&self.raw[consumed..], &mut buf[len..], last);
                        buf.truncate(len + written);
                        consumed += read;
                        if result == CoderResult::InputEmpty {
                            break;
                        }
                    }
                    self.raw.clear();
                }
            }
            if self.raw_eof && self.raw.is_empty() && self.head.is_empty() {
                return true;
            }
        }
        false
    }

    /// Reads up to `want` raw bytes; at end of stream or on an error (kept
    /// in `error`) the stream ends.
    fn read_raw(&mut self, want: usize) {
        let want = want.clamp(4096, CHUNK);
        self.raw.resize(want, 0);
        let mut filled = 0;
        while filled < want {
            match self.rest.read(&mut self.raw[filled..]) {
                Ok(0) => {
                    self.raw_eof = true;
                    break;
                }
                Ok(n) => filled += n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => {
                    self.raw_eof = true;
                    self.error = Some(e);
                    break;
                }
            }
        }
        self.raw.truncate(filled);
    }
}

#[cfg(test)]
mod tests {
    use super::super::testkit::{events_on_threads, scan_reader, Pieces};
    use super::*;
    use crate::engine::Engine;
    use crate::extract::ScanOptions;
    use crate::matcher::Matcher;
    use crate::report::Event;
    use crate::rules::RulePack;
    use crate::test_rng::Rng;

    #[test]
    fn characters_are_counted_as_byte_by_byte() {
        let naive = |b: &[u8]| b.iter().filter(|&&b| (b & 0xC0) != 0x80).count() as u64;
        let mut rng = Rng::new(5);
        let pieces: [&[u8]; 6] = [
            b"a",
            b"\xc3\xa9",
            "\u{20ac}".as_bytes(),
            "\u{1f600}".as_bytes(),
            b"\x80",
            b"\xff",
        ];
        for _ in 0..2000 {
            let mut text = Vec::new();
            for _ in 0..rng.below(40) {
                text.extend_from_slice(pieces[rng.below(pieces.len())]);
            }
            for from in 0..text.len().min(9) {
                assert_eq!(count_chars(&text[from..]), naive(&text[from..]), "{text:?}");
            }
        }
        assert_eq!(count_chars("é€😀 ok".as_bytes()), 6);
    }

    /// Random text of about `len` bytes dense with values, near misses,
    /// context words, multi-byte characters and lines of every length.
    fn random_text(rng: &mut Rng, len: usize, latin1: bool) -> Vec<u8> {
        let tokens: &[&[u8]] = &[
            b"412-56-7890",
            b"412567890",
            b"ssn",
            b"SSN:",
            b"DOB",
            b"date of birth",
            b"01/02/1980",
            b"1980-01-02",
            b"MRN",
            b"MRN: 4455667",
            b"patient",
            b"phone",
            b"(555) 867-5309",
            b"npi 1234567893",
            b"jane@example.org",
            "José".as_bytes(),
            "日本語".as_bytes(),
            b"x",
            b"-",
            b"/",
            b" ",
            b"  ",
            b"\n",
            b"\r\n",
        ];
        let mut text = Vec::with_capacity(len + 64);
        while text.len() < len {
            // Now and then a long line, so that rounds start mid-line.
            if rng.below(2000) == 0 {
                let run = 1 + rng.below(40_000);
                text.extend(std::iter::repeat_n(b'a' + rng.below(26) as u8, run));
            }
            if latin1 && rng.below(50) == 0 {
                text.push(0xE9);
            }
            text.extend_from_slice(tokens[rng.below(tokens.len())]);
            if rng.below(3) > 0 {
                text.push(b' ');
            }
        }
        text
    }

    fn events_on(engine: &Engine, threads: usize, text: &[u8]) -> Vec<String> {
        events_on_threads(engine, threads, "f.txt", text)
    }

    #[test]
    fn rounds_on_many_threads_report_what_one_thread_does() {
        let pack = RulePack::load(true, &[]).unwrap();
        let mut rng = Rng::new(0x17_2026);
        for (round, latin1) in [(0, false), (1, true), (2, false)] {
            let unmask = round == 1;
            let engine = Engine::new(
                Matcher::new(&pack).unwrap(),
                ScanOptions {
                    unmask,
                    ..ScanOptions::default()
                },
            );
            let len = 3 * CHUNK + rng.below(CHUNK);
            let text = random_text(&mut rng, len, latin1);
            let serial = events_on(&engine, 1, &text);
            let findings = serial.iter().filter(|e| e.starts_with("Finding")).count();
            assert!(findings > 10_000, "{findings}");
            for threads in [2, 3] {
                let parallel = events_on(&engine, threads, &text);
                assert_eq!(parallel.len(), serial.len());
                for (i, (p, s)) in parallel.iter().zip(&serial).enumerate() {
                    assert_eq!(p, s, "event {i} of {} on {threads} threads", serial.len());
                }
            }
        }
    }

    /// A finding is only counted (not built) when the output would not
    /// write it: past the row cap counted in file order, whatever the
    /// number of threads matching a big file's rounds.
    /// A round's findings before it are known once every earlier round is,
    /// in whatever order they are noted.
    #[test]
    fn rounds_know_the_findings_before_them_once_all_earlier_rounds_are_known() {
        let counts = RoundCounts::new(7);
        assert_eq!(counts.known(2, 5), None);
        assert_eq!(counts.known(0, 10), Some(7));
        assert_eq!(counts.known(3, 1), None);
        assert_eq!(counts.known(1, 20), Some(17));
        // Rounds 2 and 3 are known now: round 4 counts on from all four.
        assert_eq!(counts.known(4, 0), Some(7 + 10 + 20 + 5 + 1));
        assert_eq!(counts.known(5, 2), Some(43));
        let known = counts.0.lock().unwrap();
        assert_eq!((known.next, known.before_next), (6, 45));
        assert!(known.later.is_empty());
    }

    #[test]
    fn findings_past_the_row_cap_are_counted_only_where_the_output_drops_them() {
        let pack = RulePack::load(true, &[]).unwrap();
        let mut rng = Rng::new(0x25_2026);
        let len = 3 * CHUNK + rng.below(CHUNK);
        let text = random_text(&mut rng, len, false);
        // One key for both engines: the findings must compare equal.
        let key = crate::report::fingerprint::FingerprintKey::default();
        let engine = |rows_per_file| {
            Engine::new(
                Matcher::new(&pack).unwrap(),
                ScanOptions {
                    rows_per_file,
                    fingerprint_key: key.clone(),
                    ..ScanOptions::default()
                },
            )
        };
        let findings = |events: Vec<String>| -> Vec<String> {
            events
                .into_iter()
                .filter(|e| e.starts_with("Finding") || e.starts_with("PastRowCap"))
                .collect()
        };
        let all = findings(events_on(&engine(None), 1, &text));
        assert!(all.len() > 10_000, "{}", all.len());
        let cap = 100;
        for threads in [1, 2, 3] {
            let capped = findings(events_on(&engine(Some(cap as u64)), threads, &text));
            assert_eq!(capped.len(), all.len(), "{threads} threads");
            let counted: Vec<usize> = (0..capped.len())
                .filter(|&i| capped[i].starts_with("PastRowCap"))
                .collect();
            // The rows the output writes are all built, as without the cap.
            assert!(counted.iter().all(|&i| i >= cap), "{threads} threads");
            for (i, event) in capped.iter().enumerate() {
                if !event.starts_with("PastRowCap") {
                    assert_eq!(event, &all[i], "finding {i} on {threads} threads");
                }
            }
            if threads == 1 {
                assert_eq!(counted.len(), all.len() - cap);
            } else {
                // Each round counts on from what was sent before it.
                assert!(
                    counted.len() > all.len() / 2,
                    "{threads} threads: {}",
                    counted.len()
                );
            }
        }
    }

    #[test]
    fn nearby_hits_are_every_hit_overlapping_the_range() {
        // Hits of mixed lengths, sorted by start as report_hits sorts them.
        let mut hits = Vec::new();
        let mut rng = Rng::new(7);
        for _ in 0..400 {
            let start = rng.below(5000);
            let len = 1 + rng.below(300);
            hits.push(Hit {
                rule: 0,
                start,
                end: start + len,
                confidence: Confidence::Low,
            });
        }
        hits.sort_unstable_by_key(|h| (h.start, h.rule));
        let others = Others::of(&hits);
        for from in (0..5400).step_by(37) {
            for width in [0, 1, 40, 160, 700] {
                let range = from..from + width;
                let overlapping = |h: &&Hit| h.end > range.start && h.start < range.end;
                let want: Vec<_> = hits
                    .iter()
                    .filter(overlapping)
                    .map(|h| (h.start, h.end))
                    .collect();
                let got: Vec<_> = others
                    .near(&range)
                    .iter()
                    .filter(overlapping)
                    .map(|h| (h.start, h.end))
                    .collect();
                assert_eq!(got, want, "{range:?}");
            }
        }
    }

    const PACK: &str = r#"
[[rules]]
id = "dashed"
entity = "SSN"
description = "dashed"
pattern = '\d{3}-\d{2}-\d{4}'
confidence = "HIGH"

[[rules]]
id = "bare"
entity = "SSN"
description = "nine digits after a label"
pattern = '\d{9}'
confidence = "MEDIUM"
[rules.context]
words = ["ssn"]
required = true
"#;

    fn engine(unmask: bool) -> Engine {
        let matcher = Matcher::new(&RulePack::parse("t.toml", PACK).unwrap()).unwrap();
        Engine::new(
            matcher,
            ScanOptions {
                unmask,
                ..ScanOptions::default()
            },
        )
    }

    /// (value, line, column) of every finding from scanning `bytes` as a file.
    fn scan(bytes: &[u8]) -> Vec<(String, u64, u64)> {
        let (outcome, events) = scan_reader(
            &engine(true),
            "f.txt",
            &mut &bytes[..],
            Some(bytes.len() as u64),
        );
        assert!(!outcome.failed);
        events
            .into_iter()
            .filter_map(|e| match e {
                Event::Finding(f) => Some((f.matched, f.line.unwrap(), f.column.unwrap())),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn text_read_before_a_read_error_is_matched_and_the_file_is_failed() {
        // The value sits past the first read and in a later chunk too.
        let mut text = "x".repeat(10_000);
        text.push_str(" 123-45-6788\n");
        text.push_str(&"y".repeat(CHUNK));
        text.push_str(" 987-65-4320\n");
        let mut data = Pieces::new(text.as_bytes(), 3000).then_fail("connection reset");
        let (outcome, events) = scan_reader(&engine(true), "f.txt", &mut data, None);
        assert!(outcome.failed);
        assert_eq!(outcome.bytes, text.len() as u64);
        let found: Vec<String> = events
            .iter()
            .filter_map(|e| match e {
                Event::Finding(f) => Some(f.matched.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(found, ["123-45-6788", "987-65-4320"]);
        assert!(events.iter().any(|e| matches!(
            e,
            Event::NotExamined { detail, .. } if detail.contains("connection reset")
        )));
    }

    #[test]
    fn positions_are_lines_and_character_columns() {
        let got = scan("first line\nJosé 123-45-6788\n\nssn 987654320".as_bytes());
        assert_eq!(
            got,
            vec![("123-45-6788".into(), 2, 6), ("987654320".into(), 4, 5)]
        );
    }

    #[test]
    fn matches_across_chunk_boundaries_are_found_once_with_context() {
        // Values straddling every byte offset around the first chunk boundary.
        for shift in 0..12 {
            let mut text = vec![b'x'; CHUNK - 6 + shift];
            let mut lines = 1;
            for (i, b) in text.iter_mut().enumerate() {
                if i % 100 == 99 {
                    *b = b'\n';
                    lines += 1;
                }
            }
            text.extend_from_slice(b" ssn 987654320 and 123-45-6788 ");
            text.extend(std::iter::repeat_n(b'y', CHUNK + 10));
            text.extend_from_slice(b"\nlast 222-33-4444");
            let got = scan(&text);
            let values: Vec<&str> = got.iter().map(|(v, _, _)| v.as_str()).collect();
            assert_eq!(
                values,
                vec!["987654320", "123-45-6788", "222-33-4444"],
                "shift {shift}"
            );
            assert_eq!(got[0].1, lines, "shift {shift}");
            assert_eq!(got[2].1, lines + 1);
            assert_eq!(got[2].2, 6);
        }
    }

    #[test]
    fn utf16_and_windows_1252_are_decoded() {
        let text = "Müller\nSSN 123-45-6788";
        let mut le = vec![0xFF, 0xFE];
        le.extend(text.encode_utf16().flat_map(|u| u.to_le_bytes()));
        assert_eq!(scan(&le), vec![("123-45-6788".into(), 2, 5)]);
        let be: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_be_bytes()).collect();
        assert_eq!(scan(&be), vec![("123-45-6788".into(), 2, 5)]);
        let latin1 = b"M\xfcller\xe9\nSSN 123-45-6788";
        assert_eq!(scan(latin1), vec![("123-45-6788".into(), 2, 5)]);
    }

    #[test]
    fn utf16_across_chunks_keeps_positions() {
        let mut text = "a".repeat(CHUNK / 2 + 3);
        text.push_str("\nssn 987654320\n");
        text.push_str(&"é".repeat(CHUNK / 3));
        text.push_str(" 123-45-6788");
        let le: Vec<u8> = text.encode_utf16().flat_map(|u| u.to_le_bytes()).collect();
        assert_eq!(
            scan(&le),
            vec![
                ("987654320".into(), 2, 5),
                ("123-45-6788".into(), 3, CHUNK as u64 / 3 + 2)
            ]
        );
    }

    #[test]
    fn masked_by_default() {
        let data = b"SSN 123-45-6788 x";
        let (_, events) = scan_reader(&engine(false), "f", &mut &data[..], None);
        let findings: Vec<_> = events
            .into_iter()
            .filter_map(|e| match e {
                Event::Finding(f) => Some(f),
                _ => None,
            })
            .collect();
        assert_eq!(findings.len(), 1);
        assert!(
            !findings[0].matched.contains("123-45"),
            "{}",
            findings[0].matched
        );
        assert!(
            !findings[0].context.contains("123-45"),
            "{}",
            findings[0].context
        );
    }
}

#[cfg(test)]
mod snippet_tests {
    use super::super::testkit::scan_reader;
    use crate::engine::Engine;
    use crate::plan::build_engine;
    use crate::report::Event;

    fn contexts(engine: &Engine, data: &[u8]) -> Vec<String> {
        scan_reader(engine, "f", &mut &data[..], None)
            .1
            .into_iter()
            .filter_map(|e| match e {
                Event::Finding(f) => Some(f.context),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn other_findings_in_a_snippet_are_masked_too() {
        let engine = build_engine(&crate::config::ScanConfig::default()).unwrap();
        let got = contexts(
            &engine,
            b"Name: Maria, DOB January 2, 1980, SSN 512-34-7890, mail maria@example.org\n",
        );
        assert!(got.len() >= 3, "{got:?}");
        for c in &got {
            assert!(!c.contains("January 2"), "{c}");
            assert!(!c.contains("512-34"), "{c}");
            assert!(!c.contains("maria@"), "{c}");
        }
    }
}
