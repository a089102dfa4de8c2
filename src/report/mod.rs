//! Report side of the pipeline: findings and other scan events arrive on a
//! channel; one output thread writes them (flushing each row) and keeps the
//! summary.

pub mod csv;
pub mod fingerprint;
pub mod html;
pub mod jsonl;
pub mod progress;
pub mod read;
pub mod remediation;
pub mod run;
pub mod sarif;
mod shown;
pub mod summary;
pub mod text;

use crate::entity::{Confidence, Entity};
use serde::Serialize;
use std::io::{self, Write};
use std::sync::Arc;

pub use summary::Summary;

/// One row of the report. Values are already masked (unless the user asked
/// for `--unmask`) when a `Finding` is built: the raw value never travels
/// further than the matcher.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The target as given, with any password removed.
    pub target: Arc<str>,
    /// Path relative to the target, `/`-separated, archive members joined
    /// with `!`. Empty for server-level (exposure) findings.
    pub path: String,
    pub entity: Entity,
    pub rule: Arc<str>,
    pub confidence: Confidence,
    /// 1-based line and column (in characters) in the decoded text; `None`
    /// for findings without a position (exposure findings).
    pub line: Option<u64>,
    pub column: Option<u64>,
    /// Where in a structured file (`PID-19`, `Sheet1!C7`, `path`); empty for
    /// free text.
    pub field: String,
    /// The matched value, masked unless `--unmask`.
    #[serde(rename = "match")]
    pub matched: String,
    /// Up to 40 characters either side, masked the same way.
    pub context: String,
    /// Keyed hash of (path, rule, value): stable across runs, line shifts
    /// and machines for the same key; reveals nothing without the key (see
    /// [`fingerprint`]). The last CSV column.
    pub fingerprint: String,
    /// Keyed hash of the value alone, for allowlists by exact value. Not
    /// written to any report.
    #[serde(skip)]
    pub value_fingerprint: String,
}

impl Finding {
    /// Fills both fingerprints from this finding's path and rule and the
    /// raw (unmasked) value. For findings built outside
    /// `extract::text::build_finding` (e.g. server exposure findings).
    pub fn set_fingerprints(&mut self, key: &fingerprint::FingerprintKey, raw_value: &str) {
        let fp = fingerprint::compute(key, &self.path, &self.rule, raw_value);
        self.fingerprint = fp.finding;
        self.value_fingerprint = fp.value;
    }
}

/// Why a file (or member, or server path) was not examined, in full or in part.
#[derive(
    Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, serde::Deserialize,
)]
#[serde(rename_all = "snake_case")]
pub enum SkipReason {
    /// Not text and no extractor for it.
    Binary,
    /// Could not be opened or read (permissions, vanished, I/O error).
    Unreadable,
    /// A container or document that could not be parsed.
    Corrupt,
    /// Encrypted archive member or document.
    Encrypted,
    /// An extraction limit was reached (depth, expanded bytes, ratio, entries).
    Limit,
    /// Larger than `--skip-larger-than`.
    TooLarge,
    /// A document with no extractable text (e.g. scanned, image-only PDF).
    NoText,
    /// Network or protocol failure (FTP).
    Network,
    /// A listing line that could not be parsed.
    BadListing,
    /// Format recognised but not supported.
    Unsupported,
    /// Images (scans, photos) and no OCR engine installed to read them.
    OcrUnavailable,
    /// Images not read because OCR was turned off (`--ocr off`).
    OcrOff,
    /// The OCR engine crashed or was killed on a page.
    OcrFailed,
}

impl SkipReason {
    pub fn as_str(self) -> &'static str {
        match self {
            SkipReason::Binary => "binary",
            SkipReason::Unreadable => "unreadable",
            SkipReason::Corrupt => "corrupt",
            SkipReason::Encrypted => "encrypted",
            SkipReason::Limit => "limit",
            SkipReason::TooLarge => "too_large",
            SkipReason::NoText => "no_text",
            SkipReason::Network => "network",
            SkipReason::BadListing => "bad_listing",
            SkipReason::Unsupported => "unsupported",
            SkipReason::OcrUnavailable => "ocr_unavailable",
            SkipReason::OcrOff => "ocr_off",
            SkipReason::OcrFailed => "ocr_failed",
        }
    }

    /// Whether this leaves the scan incomplete (exit status 3 when nothing
    /// was found). A plain binary file is not PHI-bearing text we failed to
    /// read, and images left unread by `--ocr off` were left by request;
    /// everything else is something we meant to examine and could not.
    pub fn makes_incomplete(self) -> bool {
        !matches!(self, SkipReason::Binary | SkipReason::OcrOff)
    }
}

/// Everything a scan reports, in the order it happens.
#[derive(Clone, Debug)]
pub enum Event {
    Finding(Finding),
    /// A finding of a top-level file past its row cap, when nothing else
    /// could drop it before the cap (see `ScanOptions::rows_per_file`):
    /// counted in the summary like a finding, never written, so never
    /// built (`path` is the real one: it only decides the shard).
    PastRowCap {
        target: Arc<str>,
        path: String,
        entity: Entity,
        confidence: Confidence,
        /// Findings this event stands for: those alike within a run of
        /// such events are sent as one (see [`HeldEvents`]).
        count: u64,
    },
    /// A file (top-level) was read; `truncated` when `--max-bytes` cut it.
    /// Comes after all of the file's findings (`--resume` relies on it).
    FileScanned {
        target: Arc<str>,
        path: String,
        bytes: u64,
        truncated: bool,
        /// The file's size and modification time (seconds since the epoch)
        /// when known: `--resume` scans a file again when they change.
        size: Option<u64>,
        mtime: Option<i64>,
    },
    /// A file the `--resume` state lists as scanned by an earlier run:
    /// skipped, not read.
    AlreadyScanned {
        target: Arc<str>,
        path: String,
        /// `--max-bytes` cut it in the earlier run.
        truncated: bool,
        /// What the earlier run could not examine in it, by reason.
        not_examined: Vec<(SkipReason, u64)>,
    },
    /// A file a server listing holds, queued to be read: progress shows
    /// files and bytes done of those listed so far, and the folder.
    Listed {
        target: Arc<str>,
        /// The file's folder (report path), shown as the reports show names.
        folder: String,
        size: Option<u64>,
    },
    /// A file, member or server path was not examined (or only in part).
    NotExamined {
        target: Arc<str>,
        path: String,
        reason: SkipReason,
        detail: String,
    },
    /// OCR work on one file or member, for the summary (its pages not
    /// read are also reported one by one as not examined).
    Ocr {
        target: Arc<str>,
        work: OcrWork,
    },
    /// What a network sweep (`discover`) covered; added up in the summary.
    Discovery(summary::DiscoveryCounts),
    /// Facts about a server target for the summary (banner, TLS, ...).
    TargetInfo {
        target: Arc<str>,
        key: &'static str,
        value: String,
    },
    /// How far phiscan got with a server target.
    ServerAccess {
        target: Arc<str>,
        access: ServerAccess,
    },
}

/// How far phiscan got with a server target. Anything but `LoggedIn`
/// leaves the scan incomplete: nothing on that server was read.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServerAccess {
    /// Logged in: the crawl ran (what it could not read is reported).
    LoggedIn,
    /// The server answered but refused the login (a wrong password, or
    /// none given). Not a finding and not a clean pass.
    LoginFailed,
    /// No FTP session: the connection, the greeting or TLS failed.
    Unreachable,
}

impl ServerAccess {
    pub fn as_str(self) -> &'static str {
        match self {
            ServerAccess::LoggedIn => "logged in",
            ServerAccess::LoginFailed => "login failed",
            ServerAccess::Unreachable => "unreachable",
        }
    }
}

impl Event {
    /// The findings past a row cap this event stands for, borrowed.
    pub fn past_cap(&self) -> Option<PastCap<'_>> {
        match self {
            Event::PastRowCap {
                target,
                path,
                entity,
                confidence,
                count,
            } => Some(PastCap {
                target,
                path,
                entity: *entity,
                confidence: *confidence,
                count: *count,
            }),
            _ => None,
        }
    }

    /// A file, member or server path that was not examined, and why.
    pub fn not_examined(
        target: &Arc<str>,
        path: impl Into<String>,
        reason: SkipReason,
        detail: impl Into<String>,
    ) -> Event {
        Event::NotExamined {
            target: target.clone(),
            path: path.into(),
            reason,
            detail: detail.into(),
        }
    }
}

/// OCR work on one file or member.
#[derive(Clone, Debug, Default, PartialEq, Serialize, serde::Deserialize)]
pub struct OcrWork {
    /// Pages whose text was read.
    pub pages: u64,
    /// Wall time the engine took on them, in seconds.
    pub engine_seconds: f64,
    /// Pages not read, by reason.
    pub skipped: std::collections::BTreeMap<SkipReason, u64>,
}

/// Where events go. Implemented for channel senders; extractors and sources
/// only ever see this.
pub trait EventSink: Sync {
    fn send(&self, event: Event);

    /// Findings past a file's row cap: an event of their own unless the
    /// sink counts them into one it holds.
    fn past_row_cap(&self, found: PastCap) {
        self.send(found.into_event());
    }
}

impl EventSink for crossbeam_channel::Sender<Event> {
    fn send(&self, event: Event) {
        // The receiver only goes away when the output thread failed; that
        // failure is reported by the output thread itself.
        let _ = crossbeam_channel::Sender::send(self, event);
    }
}

/// Findings past a file's row cap, as an extractor reports them
/// ([`EventSink::past_row_cap`]): borrowed, so that a finding counted
/// into an event of its kind costs no copy of its path.
pub struct PastCap<'a> {
    pub target: &'a Arc<str>,
    pub path: &'a str,
    pub entity: Entity,
    pub confidence: Confidence,
    pub count: u64,
}

impl PastCap<'_> {
    /// Findings of the same file, entity and confidence.
    fn is_alike(&self, other: &PastCap) -> bool {
        self.entity == other.entity
            && self.confidence == other.confidence
            && self.path == other.path
            && (Arc::ptr_eq(self.target, other.target) || self.target == other.target)
    }

    fn into_event(self) -> Event {
        Event::PastRowCap {
            target: Arc::clone(self.target),
            path: self.path.to_string(),
            entity: self.entity,
            confidence: self.confidence,
            count: self.count,
        }
    }
}

/// Adds `found` to an event of the same kind in the run of findings past
/// a row cap that `held` ends with, or to `held` as an event of its own.
/// Findings past a row cap come in long runs of a few kinds (entity,
/// confidence): one event per kind within a run, not one per finding, for
/// the output thread to count (one per finding was 10% of its work on
/// HL7). Merged only within the run, so no count moves past another kind
/// of event.
pub fn push_past_row_cap(held: &mut Vec<Event>, found: PastCap) {
    // Events looked back through for one of the same kind: a rule pack's
    // entities at two or three confidences.
    const KINDS_LOOKED_BACK: usize = 16;
    let alike = held
        .iter()
        .rev()
        .take(KINDS_LOOKED_BACK)
        .map_while(Event::past_cap)
        .position(|held| held.is_alike(&found));
    let last = held.len().wrapping_sub(1);
    match alike.map(|back| &mut held[last - back]) {
        Some(Event::PastRowCap { count, .. }) => *count += found.count,
        _ => held.push(found.into_event()),
    }
}

/// Adds `event` to `held`, findings past a row cap merged as
/// [`push_past_row_cap`] does.
pub fn push_event(held: &mut Vec<Event>, event: Event) {
    if let Some(found) = event.past_cap() {
        push_past_row_cap(held, found);
        return;
    }
    held.push(event);
}

/// Holds a file's events and passes them on in bursts: one event at a time
/// would wake the output thread for nearly every finding.
pub struct HeldEvents<'a> {
    inner: &'a dyn EventSink,
    held: std::sync::Mutex<Vec<Event>>,
}

impl<'a> HeldEvents<'a> {
    /// Most events held before they are passed on.
    const BURST: usize = 256;
    pub fn new(inner: &'a dyn EventSink) -> Self {
        HeldEvents {
            inner,
            held: std::sync::Mutex::new(Vec::new()),
        }
    }

    /// Passes on every held event.
    pub fn flush(&self) {
        let held = std::mem::take(&mut *self.held.lock().unwrap_or_else(|p| p.into_inner()));
        for event in held {
            self.inner.send(event);
        }
    }
}

impl HeldEvents<'_> {
    /// Adds to the held events by `add`, passing them on once there are
    /// [`HeldEvents::BURST`].
    fn hold(&self, add: impl FnOnce(&mut Vec<Event>)) {
        let full = {
            let mut held = self.held.lock().unwrap_or_else(|p| p.into_inner());
            add(&mut held);
            held.len() >= Self::BURST
        };
        if full {
            self.flush();
        }
    }
}

impl EventSink for HeldEvents<'_> {
    fn send(&self, event: Event) {
        self.hold(|held| push_event(held, event));
    }

    fn past_row_cap(&self, found: PastCap) {
        self.hold(|held| push_past_row_cap(held, found));
    }
}

/// A report format. Streamed formats write whole rows only, held briefly
/// and written together (see [`HeldRows`]), so a scan killed at any moment
/// leaves whole rows only; a file's rows are out before `--resume` counts
/// it as done.
pub trait ReportWriter: Send {
    fn finding(&mut self, finding: &Finding) -> io::Result<()>;
    /// Whether a resumed run appends to this report (CSV, JSONL) rather
    /// than writing it whole again (SARIF, HTML).
    fn appends(&self) -> bool {
        false
    }
    /// Writes out the rows held so far (see [`HeldRows`]). The output
    /// thread calls this before it records a file as done for `--resume`
    /// and whenever it has no event waiting.
    fn flush_rows(&mut self) -> io::Result<()> {
        Ok(())
    }
    /// Called once at the end with the final summary.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// Whole rows of a streamed report, held and written together: one write
/// per row was a system call per finding. Only whole rows are ever
/// written, so a scan killed at any moment still leaves whole rows.
#[derive(Default)]
pub struct HeldRows {
    bytes: Vec<u8>,
}

impl HeldRows {
    /// Held rows are written once they pass this many bytes.
    const LIMIT: usize = 64 << 10;

    /// Holds one whole row; writes the held rows once they pass the limit.
    pub fn push(&mut self, row: &[u8], out: &mut impl Write) -> io::Result<()> {
        self.bytes.extend_from_slice(row);
        if self.bytes.len() >= Self::LIMIT {
            self.write_to(out)?;
        }
        Ok(())
    }

    /// Writes the held rows, in one write, and flushes `out`.
    pub fn write_to(&mut self, out: &mut impl Write) -> io::Result<()> {
        if !self.bytes.is_empty() {
            out.write_all(&self.bytes)?;
            self.bytes.clear();
        }
        out.flush()
    }
}

/// What happens to a finding before it reaches the writers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Disposition {
    Report,
    /// In the baseline: counted as baselined, not written.
    Baselined,
    /// Matched an allowlist entry (named by the string): counted, not written.
    Allowed(String),
}

/// Decides each finding's [`Disposition`] (baseline and allowlists).
pub trait FindingFilter: Send {
    fn disposition(&self, finding: &Finding) -> Disposition;
}

/// Masks values in a path or detail; `Some(masked)` when it changed it.
pub type PathMask<'a> = dyn Fn(&str) -> Option<String> + Sync + 'a;

/// Which rows of an earlier run (`--resume`) a finding repeats.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct EarlierRows {
    /// Bit `i` set: writer `i` holds this row already; it is not written
    /// to it again.
    pub held_by: u64,
    /// The summary counted it already (from the earlier run's report).
    pub counted: bool,
}

/// Bookkeeping of a scan done in pieces (`--resume`), as the output loop
/// sees it: which rows were written before, and where completed files are
/// recorded.
pub trait Checkpoint: Send {
    fn earlier_rows(&self, finding: &Finding) -> EarlierRows;
    /// Records a completed file (`truncated`: `--max-bytes` cut it); its
    /// rows are written out before this call.
    fn file_done(
        &mut self,
        target: &str,
        path: &str,
        size: Option<u64>,
        mtime: Option<i64>,
        truncated: bool,
        not_examined: &[(SkipReason, u64)],
    ) -> io::Result<()>;
    /// Makes what was recorded durable (end of scan or interruption).
    fn sync(&mut self) -> io::Result<()>;
}

/// Per (target, file): what was not examined in it so far, by reason.
type NotExaminedInFlight = std::collections::HashMap<(Arc<str>, String), Vec<(SkipReason, u64)>>;

/// Files in flight whose not-examined counts `--resume` keeps at most
/// (server paths that belong to no file also land there): beyond it, a
/// resumed run counts fewer, never more.
const MAX_PENDING_NOT_EXAMINED: usize = 100_000;

/// Interruption, path masking and `--resume` for [`run_output`].
#[derive(Default)]
pub struct OutputControl<'a> {
    /// Masks values in report paths and details (see
    /// `Engine::shown_path`): `Some(masked)` when it changed something.
    pub shown_path: Option<&'a PathMask<'a>>,
    /// Set on SIGINT/SIGTERM: stop taking events, even while sources still
    /// send (the summary is then marked interrupted).
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
    /// `--resume`: completed files are recorded here, after their rows are
    /// written; rows an earlier run wrote are not written again.
    pub checkpoint: Option<&'a mut dyn Checkpoint>,
    /// Rows written per file and per scan.
    pub row_caps: RowCaps,
    /// `--shard`: the events this shard reports; the others are another
    /// shard's (see [`crate::shard`]) and are dropped unseen.
    pub keep: Option<&'a (dyn Fn(&Event) -> bool + Sync)>,
    /// `-v`: each file scanned or not examined is named on stderr.
    pub verbose: bool,
}

/// How many report rows are written, per file and per scan: one hostile
/// file (a 9 MB zip of repeated SSNs) would otherwise write millions of
/// rows. Findings past a cap are still counted in the summary (and the
/// exit status); the row that reached the cap says so in its context.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RowCaps {
    /// Rows per top-level file (members count toward their archive);
    /// 0 = no cap.
    pub per_file: u64,
    /// Rows per scan; 0 = no cap.
    pub per_scan: u64,
}

impl RowCaps {
    pub const DEFAULT: RowCaps = RowCaps {
        per_file: 5000,
        per_scan: 1_000_000,
    };
    pub const NONE: RowCaps = RowCaps {
        per_file: 0,
        per_scan: 0,
    };
}

impl Default for RowCaps {
    fn default() -> Self {
        RowCaps::DEFAULT
    }
}

/// The context of the row that reaches the cap per scan (`--max-rows`).
pub const SCAN_CAP_NOTE: &str =
    "[row cap per scan reached (--max-rows): later findings are counted in the summary only]";

/// Rows written so far, to apply [`RowCaps`].
#[derive(Default)]
struct RowCounts {
    scan: u64,
    /// Rows per (target, top-level file). Server-level rows have an empty
    /// path and count per server.
    per_file: std::collections::HashMap<RowFile, u64>,
}

/// What to do with one row under the caps.
enum RowVerdict {
    Write,
    /// The row that reaches a cap: written, its context replaced by a note.
    WriteLast(&'static str),
    /// Past a cap: counted in the summary only.
    Drop,
}

/// The top-level file a row counts against.
type RowFile = (Arc<str>, String);

fn row_file(target: &Arc<str>, path: &str) -> RowFile {
    let top = path.split('!').next().unwrap_or("");
    (target.clone(), top.to_string())
}

impl RowCounts {
    fn verdict(&mut self, caps: RowCaps, row_file: RowFile) -> RowVerdict {
        let file = self.per_file.entry(row_file).or_insert(0);
        let over = |n: u64, cap: u64| cap != 0 && n >= cap;
        if over(*file, caps.per_file) || over(self.scan, caps.per_scan) {
            return RowVerdict::Drop;
        }
        *file += 1;
        self.scan += 1;
        if over(self.scan, caps.per_scan) {
            RowVerdict::WriteLast(SCAN_CAP_NOTE)
        } else if over(*file, caps.per_file) {
            RowVerdict::WriteLast(
                "[row cap per file reached (--max-rows-per-file): later findings in this file are counted in the summary only]",
            )
        } else {
            RowVerdict::Write
        }
    }
}

/// How often the output thread looks at the stop flag while idle.
const STOP_POLL: std::time::Duration = std::time::Duration::from_millis(50);

/// Runs the output side: writes each finding to every writer, filtered by
/// baseline and allowlists (filtered findings are counted in the summary,
/// never written), and folds all events into the summary. Returns when
/// every sender is gone or the scan is stopped.
pub fn run_output(
    events: crossbeam_channel::Receiver<Event>,
    writers: &mut [Box<dyn ReportWriter>],
    summary: &mut Summary,
    filter: &dyn FindingFilter,
    progress: Option<&progress::Progress>,
    mut control: OutputControl,
) -> io::Result<()> {
    let stopped = || {
        control
            .stop
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    };
    let mut shown = shown::Shown::new(control.shown_path);
    let mut rows = RowCounts::default();
    // With `--resume`: what was not examined in each file in flight, by
    // reason, recorded with the file when it completes.
    let mut not_examined_in = NotExaminedInFlight::new();
    loop {
        // An event waiting is taken without a timeout (which reads the
        // clock, once per event: a few percent of a dense scan).
        let next = events
            .try_recv()
            .or_else(|_| events.recv_timeout(STOP_POLL));
        let mut event = match next {
            Ok(e) => e,
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => break,
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                if stopped() {
                    summary.interrupted = true;
                    break;
                }
                continue;
            }
        };
        if control.keep.is_some_and(|keep| !keep(&event)) {
            if events.is_empty() {
                flush_rows(writers)?;
            }
            continue;
        }
        if stopped() {
            // Files in flight are dropped: their rows so far are written,
            // but they are not recorded as complete, so `--resume` scans
            // them again.
            summary.interrupted = true;
            break;
        }
        if let (
            Event::NotExamined {
                target,
                path,
                reason,
                ..
            },
            Some(_),
        ) = (&event, &control.checkpoint)
        {
            // Kept under the real path of the file it is in (before names
            // are masked for display) until that file is recorded as done.
            let file = path.split('!').next().unwrap_or(path);
            let key = (target.clone(), file.to_string());
            if not_examined_in.len() < MAX_PENDING_NOT_EXAMINED
                || not_examined_in.contains_key(&key)
            {
                let counts = not_examined_in.entry(key).or_default();
                match counts.iter_mut().find(|(r, _)| r == reason) {
                    Some((_, n)) => *n += 1,
                    None => counts.push((*reason, 1)),
                }
            }
        }
        // Rows are capped per real file: two files whose names show the
        // same once masked are still two files (and the extractor, which
        // counts a file's findings past the cap, knows only real names).
        let real_file = match &event {
            Event::Finding(f) => Some(row_file(&f.target, &f.path)),
            _ => None,
        };
        shown.event(&mut event);
        if let (Event::Listed { .. }, Some(p)) = (&event, progress) {
            p.listed(&event);
        }
        if control.verbose {
            if let Some(line) = verbose_line(&event, &mut shown) {
                match progress {
                    Some(p) => p.suspend(|| eprintln!("{line}")),
                    None => eprintln!("{line}"),
                }
            }
        }
        if let (Event::Finding(f), Some(file)) = (&event, real_file) {
            match filter.disposition(f) {
                Disposition::Report => {
                    let earlier = control
                        .checkpoint
                        .as_deref()
                        .map(|c| c.earlier_rows(f))
                        .unwrap_or_default();
                    let capped;
                    let row = match rows.verdict(control.row_caps, file) {
                        RowVerdict::Write => Some(f),
                        RowVerdict::WriteLast(note) => {
                            capped = Finding {
                                context: note.to_string(),
                                ..f.clone()
                            };
                            Some(&capped)
                        }
                        RowVerdict::Drop => {
                            summary.rows_not_written += 1;
                            None
                        }
                    };
                    for (i, w) in writers.iter_mut().enumerate() {
                        if let Some(row) = row.filter(|_| earlier.held_by & (1 << i) == 0) {
                            w.finding(row)?;
                        }
                    }
                    if earlier.counted {
                        // Counted from the earlier run's report.
                        continue;
                    }
                }
                Disposition::Baselined => {
                    summary.record_baselined(f);
                    if let Some(p) = progress {
                        p.update(summary);
                    }
                    continue;
                }
                Disposition::Allowed(by) => {
                    summary.record_allowed(f, &by);
                    if let Some(p) = progress {
                        p.update(summary);
                    }
                    continue;
                }
            }
        }
        if let Event::PastRowCap { count, .. } = &event {
            summary.rows_not_written += count;
        }
        if let (
            Event::FileScanned {
                target,
                path,
                size,
                mtime,
                truncated,
                ..
            },
            Some(checkpoint),
        ) = (&event, control.checkpoint.as_deref_mut())
        {
            // The file's rows are written before it counts as done.
            flush_rows(writers)?;
            let not_examined = not_examined_in
                .remove(&(target.clone(), path.clone()))
                .unwrap_or_default();
            checkpoint.file_done(target, path, *size, *mtime, *truncated, &not_examined)?;
        }
        // Cut files are named in the summary as the reports show names
        // (the event keeps the real path: `--resume` records it).
        match &event {
            Event::FileScanned {
                target,
                path,
                bytes,
                size,
                truncated: true,
                ..
            } => summary.name_truncated(target, shown.name(path), Some(*bytes), *size),
            Event::AlreadyScanned {
                target,
                path,
                truncated: true,
                ..
            } => summary.name_truncated(target, shown.name(path), None, None),
            _ => {}
        }
        summary.record(&event);
        if let Some(p) = progress {
            p.update(summary);
        }
        if events.is_empty() {
            flush_rows(writers)?;
        }
    }
    flush_rows(writers)?;
    if let Some(checkpoint) = control.checkpoint {
        checkpoint.sync()?;
    }
    Ok(())
}

/// The `-v` line of a file scanned or not examined, as the reports show its
/// name (masked, cleaned); `None` for other events.
fn verbose_line(event: &Event, shown: &mut shown::Shown) -> Option<String> {
    let at = |target: &str, path: &str| text::heading(target, path);
    match event {
        Event::FileScanned {
            target,
            path,
            bytes,
            truncated,
            size,
            ..
        } => {
            let name = shown.name(path);
            let read = match (truncated, size) {
                (true, Some(size)) => {
                    format!("{bytes} of {size} bytes: cut by --max-bytes")
                }
                (true, None) => format!("{bytes} bytes: cut by --max-bytes"),
                (false, _) => format!("{bytes} bytes"),
            };
            Some(format!("phiscan: scanned {} ({read})", at(target, &name)))
        }
        Event::NotExamined {
            target,
            path,
            reason,
            detail,
        } => {
            let mut line = format!(
                "phiscan: not examined {}: {}",
                at(target, path),
                reason.as_str()
            );
            if !detail.is_empty() {
                line.push_str(" (");
                line.push_str(detail);
                line.push(')');
            }
            Some(line)
        }
        _ => None,
    }
}

fn flush_rows(writers: &mut [Box<dyn ReportWriter>]) -> io::Result<()> {
    writers.iter_mut().try_for_each(|w| w.flush_rows())
}

/// Report formats (`--format`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ReportFormat {
    Csv,
    Jsonl,
    Sarif,
    Html,
    /// The human view (see [`text`]): the default at a terminal.
    Text,
}

impl ReportFormat {
    pub const ALL: [ReportFormat; 5] = [
        ReportFormat::Csv,
        ReportFormat::Jsonl,
        ReportFormat::Sarif,
        ReportFormat::Html,
        ReportFormat::Text,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            ReportFormat::Csv => "csv",
            ReportFormat::Jsonl => "jsonl",
            ReportFormat::Sarif => "sarif",
            ReportFormat::Html => "html",
            ReportFormat::Text => "text",
        }
    }

    /// File name used under `--output-dir`.
    pub fn file_name(self) -> &'static str {
        match self {
            ReportFormat::Csv => "phiscan.csv",
            ReportFormat::Jsonl => "phiscan.jsonl",
            ReportFormat::Sarif => "phiscan.sarif",
            ReportFormat::Html => "phiscan.html",
            ReportFormat::Text => "phiscan.txt",
        }
    }

    pub fn parse(s: &str) -> Option<ReportFormat> {
        ReportFormat::ALL
            .into_iter()
            .find(|f| f.as_str().eq_ignore_ascii_case(s.trim()))
    }
}

/// What report writers know about a rule (SARIF rule metadata, HTML).
#[derive(Clone, Debug)]
pub struct RuleInfo {
    pub id: String,
    pub entity: Entity,
    pub confidence: Confidence,
    pub description: String,
    /// The rule file it came from.
    pub source: String,
}

/// Hand-built findings and summary for the writers' unit tests.
#[cfg(test)]
pub(crate) mod test_support {
    use super::*;

    fn finding(path: &str, entity: Entity, rule: &str, line: u64, matched: &str) -> Finding {
        let key = fingerprint::FingerprintKey::from_secret("unit-test-key-0123456789").unwrap();
        let fp = fingerprint::compute(&key, path, rule, matched);
        Finding {
            target: "share".into(),
            path: path.to_string(),
            entity,
            rule: rule.into(),
            confidence: Confidence::High,
            line: Some(line),
            column: Some(7),
            field: String::new(),
            matched: matched.to_string(),
            context: format!("id {matched} <b>&\"x\""),
            fingerprint: fp.finding,
            value_fingerprint: fp.value,
        }
    }

    /// Three findings (masked values), one path with markup characters.
    pub fn sample_findings() -> Vec<Finding> {
        vec![
            finding("hr/staff.csv", Entity::Ssn, "ssn", 3, "***-**-6780"),
            finding(
                "hr/staff.csv",
                Entity::Email,
                "email",
                4,
                "****@example.org",
            ),
            finding(
                "notes/<script>alert(1)</script>.txt",
                Entity::Dob,
                "dob",
                1,
                "**/**/1980",
            ),
        ]
    }

    /// A summary consistent with [`sample_findings`] plus some skips.
    pub fn sample_summary() -> Summary {
        let mut s = Summary::default();
        for f in sample_findings() {
            s.record(&Event::Finding(f));
        }
        for _ in 0..4 {
            s.record(&Event::FileScanned {
                target: "share".into(),
                path: "a.txt".into(),
                bytes: 100,
                truncated: false,
                size: Some(100),
                mtime: None,
            });
        }
        s.record(&Event::NotExamined {
            target: "share".into(),
            path: "bad.zip".into(),
            reason: SkipReason::Corrupt,
            detail: "corrupt zip: bad central directory".into(),
        });
        s.record(&Event::TargetInfo {
            target: "share".into(),
            key: "tls",
            value: "none".into(),
        });
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Findings past a row cap reach the output as one event per kind
    /// within each run of them, counts kept, never moved past another
    /// event.
    #[test]
    fn findings_past_the_cap_are_counted_in_one_event_per_kind_of_a_run() {
        let past = |path: &str, entity: Entity, count: u64| Event::PastRowCap {
            target: "t".into(),
            path: path.into(),
            entity,
            confidence: Confidence::High,
            count,
        };
        let scanned = Event::FileScanned {
            target: "t".into(),
            path: "a".into(),
            bytes: 1,
            truncated: false,
            size: None,
            mtime: None,
        };
        let (tx, rx) = crossbeam_channel::unbounded();
        let held = HeldEvents::new(&tx);
        for event in [
            past("a", Entity::Ssn, 1),
            past("a", Entity::Dob, 1),
            past("a", Entity::Ssn, 1),
            past("b", Entity::Ssn, 1),
            past("a", Entity::Ssn, 1),
            scanned.clone(),
            past("a", Entity::Ssn, 1),
        ] {
            held.send(event);
        }
        held.flush();
        drop(tx);
        let got: Vec<String> = rx.iter().map(|e| format!("{e:?}")).collect();
        let want: Vec<String> = [
            past("a", Entity::Ssn, 3),
            past("a", Entity::Dob, 1),
            past("b", Entity::Ssn, 1),
            scanned,
            past("a", Entity::Ssn, 1),
        ]
        .iter()
        .map(|e| format!("{e:?}"))
        .collect();
        assert_eq!(got, want);
    }
}
