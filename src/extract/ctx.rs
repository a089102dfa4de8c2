//! What an extractor sees of the scan: the matcher and options (a narrow
//! seam: no extractor knows the engine, the sources or the reports), where
//! its findings go, where it is (file or member path, nesting depth), and
//! the byte and time budget of the top-level file it belongs to.

use crate::config::ExtractLimits;
use crate::entity::Entity;
use crate::error::ExtractError;
use crate::matcher::Matcher;
use crate::report::fingerprint::FingerprintKey;
use crate::report::{Event, EventSink, SkipReason};
use std::cell::Cell;
use std::io::Read;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A file or folder name as the rules see it. Underscores separate words in
/// names (`SMITH_JOHN_DOB_1980-01-02`); as word characters they would hide
/// every value from the rules' word boundaries. Same length as `name`.
pub fn name_for_matching(name: &str) -> Vec<u8> {
    name.bytes()
        .map(|b| if b == b'_' { b' ' } else { b })
        .collect()
}

/// How findings are built, for every extractor alike.
#[derive(Clone, Debug, Default)]
pub struct ScanOptions {
    pub unmask: bool,
    pub limits: ExtractLimits,
    /// Key of the findings' fingerprints (see `report::fingerprint`).
    pub fingerprint_key: FingerprintKey,
    /// The scan's OCR engine and page count (the settings are in `limits`).
    pub ocr: super::ocr::OcrState,
    /// The row cap per file, when nothing between the extractor and that
    /// cap can drop a finding (no baseline, allowlist or `--resume`): a
    /// top-level file's findings past it would never be written, so they
    /// are only counted ([`crate::report::Event::PastRowCap`]), not masked,
    /// fingerprinted and put in context. `None`: every finding is built.
    pub rows_per_file: Option<u64>,
}

/// A position in decoded text, both 1-based (column in characters).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Location {
    pub line: u64,
    pub column: u64,
}

impl Location {
    pub const START: Location = Location { line: 1, column: 1 };
}

/// Byte and time budget shared by a top-level file and everything nested
/// in it.
#[derive(Debug, Default)]
pub struct Budget {
    pub expanded: Cell<u64>,
    /// Findings sent for the file so far (see `ScanOptions::rows_per_file`).
    pub findings: Cell<u64>,
    /// When extraction must stop (`ExtractLimits::max_seconds`).
    deadline: Option<Instant>,
    timed_out: Cell<bool>,
    /// Calls since the clock was last read.
    ticks: Cell<u32>,
    /// For a job's budget ([`Budget::for_job`]): the file's expanded bytes
    /// and findings when the job started.
    started_from: Cell<(u64, u64)>,
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

    /// When the time limit runs out, if there is one (for work done off
    /// this thread, which cannot share the budget: OCR pages).
    pub fn deadline(&self) -> Option<Instant> {
        self.deadline
    }

    /// The budget of a batch of the file's records (see `ordered`): the
    /// same time limit, counting on from the file's expanded bytes and
    /// findings so far. [`Budget::absorb`] adds what the batch used back.
    pub fn for_job(&self) -> Budget {
        let started_from = (self.expanded.get(), self.findings.get());
        Budget {
            expanded: Cell::new(started_from.0),
            findings: Cell::new(started_from.1),
            deadline: self.deadline,
            timed_out: Cell::new(self.timed_out.get()),
            ticks: Cell::new(0),
            started_from: Cell::new(started_from),
        }
    }

    /// Counts this job's findings on from `sent`, the file's findings sent
    /// by now, when that is more than it counted from: it started from
    /// those sent when it was read, and jobs read ahead start before the
    /// jobs ahead of them are sent. Still at most the findings before the
    /// job, so the row cap drops no finding the output would write, and
    /// fewer findings are built only for the output to drop them.
    pub fn count_on_from(&self, sent: u64) {
        let now = self.findings.get();
        if sent > now {
            self.findings.set(sent);
            let (expanded, findings) = self.started_from.get();
            self.started_from.set((expanded, findings + (sent - now)));
        }
    }

    /// The findings this job's budget counted (see [`Budget::for_job`]).
    pub fn job_findings(&self) -> u64 {
        self.findings
            .get()
            .saturating_sub(self.started_from.get().1)
    }

    /// Adds what `job`, a budget from [`Budget::for_job`] of this one,
    /// used to this budget.
    pub fn absorb(&self, job: &Budget) {
        let used = |now: u64, before: u64| now.saturating_sub(before);
        let (expanded_from, findings_from) = job.started_from.get();
        let expanded = used(job.expanded.get(), expanded_from);
        let findings = used(job.findings.get(), findings_from);
        self.expanded
            .set(self.expanded.get().saturating_add(expanded));
        self.findings
            .set(self.findings.get().saturating_add(findings));
        if job.timed_out.get() {
            self.timed_out.set(true);
        }
    }

    /// Whether the time limit stopped the extraction.
    pub fn timed_out(&self) -> bool {
        self.timed_out.get()
    }
}

/// The extraction context of one file or member: where it is, how deep, and
/// where its findings go.
pub struct Ctx<'a> {
    /// The compiled rule pack.
    pub matcher: &'a Matcher,
    pub options: &'a ScanOptions,
    /// Where findings and not-examined events go.
    pub events: &'a dyn EventSink,
    pub target: &'a Arc<str>,
    /// Report path of the current file or member (`a.zip!b/c.csv`).
    pub path: String,
    /// 0 for a top-level file, +1 for each container level.
    pub depth: u32,
    pub budget: &'a Budget,
    pub scratch: &'a mut crate::matcher::Scratch,
    /// Texts and fields are matched whatever the time: they belong to a
    /// batch of records or a round of text read before the file's time
    /// limit, which is matched whole (the limit stops the reading). A
    /// member scanned from them (an HL7 document) keeps to the limit.
    pub matched_whole: bool,
}

impl<'a> Ctx<'a> {
    pub fn limits(&self) -> &ExtractLimits {
        &self.options.limits
    }

    /// Whether the file's time is out for matching one more text or field
    /// (see [`Ctx::matched_whole`]).
    pub fn out_of_time(&self) -> bool {
        !self.matched_whole && self.budget.out_of_time()
    }

    /// Matches a block of decoded text starting at `at`. `field` labels it
    /// (`""` for free text). Large texts should come in pieces (paragraphs,
    /// cells): each piece is matched on its own.
    pub fn text(&mut self, field: &str, text: &str, at: Location) {
        if self.out_of_time() {
            return;
        }
        super::text::scan_block(self, field, text.as_bytes(), at, None);
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
        let matcher = self.matcher;
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
        if self.out_of_time() {
            return;
        }
        super::text::scan_field_value(self, rule, field, entity, value, at);
    }

    /// Matches a name stored in this file (an archive member's, a sheet's):
    /// a name such as `SMITH_JOHN_DOB_1980-01-02.txt` is itself a finding,
    /// reported with field `path` at the member's path (`a.zip!…`). Only
    /// the last component is matched: the folders of a member path repeat
    /// for every member in them.
    pub fn stored_name(&mut self, name: &str) {
        let name = name.trim_end_matches('/');
        let last = name.rfind('/').map_or(0, |i| i + 1);
        let path = format!("{}!{}", self.path, name);
        let column = path.chars().count() - name[last..].chars().count() + 1;
        let spaced = name_for_matching(&name[last..]);
        let parent = std::mem::replace(&mut self.path, path);
        super::text::scan_block(
            self,
            "path",
            &spaced,
            Location {
                line: 1,
                column: column as u64,
            },
            None,
        );
        self.path = parent;
    }

    /// Scans a nested member (archive entry, embedded document) under
    /// `self.path + "!" + name`. Depth and byte limits apply.
    pub fn member(&mut self, name: &str, data: &mut dyn Read) {
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
            matcher: self.matcher,
            options: self.options,
            events: self.events,
            target: self.target,
            path,
            depth: self.depth + 1,
            budget: self.budget,
            scratch: &mut *self.scratch,
            matched_whole: false,
        };
        if let Err(e) = super::scan_input(&mut child, data) {
            let reason = super::reason_of(&e);
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
        self.events
            .send(Event::not_examined(self.target, path, reason, detail));
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
