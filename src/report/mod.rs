//! Report side of the pipeline: findings and other scan events arrive on a
//! channel; one output thread writes them (flushing each row) and keeps the
//! summary.

pub mod csv;
pub mod summary;

use crate::entity::{Confidence, Entity};
use serde::Serialize;
use std::io;
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
}

/// Why a file (or member, or server path) was not examined, in full or in part.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
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
        }
    }

    /// Whether this leaves the scan incomplete (exit status 3 when nothing
    /// was found). A plain binary file is not PHI-bearing text we failed to
    /// read; everything else is something we meant to examine and could not.
    pub fn makes_incomplete(self) -> bool {
        !matches!(self, SkipReason::Binary)
    }
}

/// Everything a scan reports, in the order it happens.
#[derive(Clone, Debug)]
pub enum Event {
    Finding(Finding),
    /// A file (top-level) was read; `truncated` when `--max-bytes` cut it.
    FileScanned {
        target: Arc<str>,
        bytes: u64,
        truncated: bool,
    },
    /// A file, member or server path was not examined (or only in part).
    NotExamined {
        target: Arc<str>,
        path: String,
        reason: SkipReason,
        detail: String,
    },
    /// Facts about a server target for the summary (banner, TLS, ...).
    TargetInfo {
        target: Arc<str>,
        key: &'static str,
        value: String,
    },
}

/// Where events go. Implemented for channel senders; extractors and sources
/// only ever see this.
pub trait EventSink: Sync {
    fn send(&self, event: Event);
}

impl EventSink for crossbeam_channel::Sender<Event> {
    fn send(&self, event: Event) {
        // The receiver only goes away when the output thread failed; that
        // failure is reported by the output thread itself.
        let _ = crossbeam_channel::Sender::send(self, event);
    }
}

/// A report format. Rows are written (and flushed) as they come, so a scan
/// killed at any moment leaves whole rows only.
pub trait ReportWriter: Send {
    fn finding(&mut self, finding: &Finding) -> io::Result<()>;
    /// Called once at the end with the final summary.
    fn finish(&mut self, summary: &Summary) -> io::Result<()>;
}

/// Runs the output side: writes each finding to every writer and folds all
/// events into the summary. Returns when every sender is gone.
pub fn run_output(
    events: crossbeam_channel::Receiver<Event>,
    writers: &mut [Box<dyn ReportWriter>],
    summary: &mut Summary,
) -> io::Result<()> {
    for event in events {
        if let Event::Finding(f) = &event {
            for w in writers.iter_mut() {
                w.finding(f)?;
            }
        }
        summary.record(&event);
    }
    Ok(())
}
