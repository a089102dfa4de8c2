//! The per-file engine, below the sources: a source hands it one file's
//! bytes (a local file, an FTP transfer) and it runs the extractors and the
//! matcher over them, sends the findings, and then one verdict for the file:
//! scanned, or not examined and why.
//!
//! The verdict is sent once it is final: after the extractors are done
//! *and* the source has said whether it delivered what was asked (an FTP
//! transfer may fail or overrun after its last byte was read). `--resume`
//! records a file as done on that verdict only.

use crate::error::ExtractError;
use crate::extract::{self, name_for_matching, Budget, Ctx, Location, ScanOptions};
use crate::matcher::{Matcher, Scratch};
use crate::report::{self, Event, EventSink, SkipReason};
use crate::resume::Completed;
use std::cell::RefCell;
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

/// The matcher and options shared by every worker, and the scan-wide
/// state a file's verdict depends on.
pub struct Engine {
    pub matcher: Matcher,
    pub options: ScanOptions,
    id: u64,
    /// Set on SIGINT/SIGTERM: files not yet started are not read.
    stop: Arc<AtomicBool>,
    /// Files an earlier run completed (`--resume`): skipped.
    completed: Option<Arc<Completed>>,
}

static NEXT_ENGINE_ID: AtomicU64 = AtomicU64::new(1);

thread_local! {
    /// Matcher scratch reused across files on each worker thread, tagged with
    /// the engine it belongs to.
    static SCRATCH: RefCell<Option<(u64, Scratch)>> = const { RefCell::new(None) };
}

/// One top-level file as a source knows it.
#[derive(Clone, Copy, Debug)]
pub struct FileMeta<'a> {
    pub target: &'a Arc<str>,
    /// Report path: relative to the target, `/`-separated.
    pub path: &'a str,
    /// Size, when the source knows it (tells whether `--max-bytes` cut it).
    pub size: Option<u64>,
    /// Modification time (seconds since the epoch): `--resume` scans a
    /// changed file again.
    pub mtime: Option<i64>,
}

/// A source's own verdict on a file it delivered in part only (a transfer
/// that failed after its last byte was read, a server that sent more than
/// it listed).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Incomplete {
    pub reason: SkipReason,
    pub detail: String,
}

/// What happened to one top-level file.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct FileOutcome {
    pub bytes: u64,
    pub truncated: bool,
    pub failed: bool,
}

impl Engine {
    pub fn new(matcher: Matcher, options: ScanOptions) -> Engine {
        Engine {
            matcher,
            options,
            id: NEXT_ENGINE_ID.fetch_add(1, Ordering::Relaxed),
            stop: Arc::new(AtomicBool::new(false)),
            completed: None,
        }
    }

    /// The engine of a scan that stops when `stop` is set and skips the
    /// files `completed` lists.
    pub fn for_scan(self, stop: Arc<AtomicBool>, completed: Option<Arc<Completed>>) -> Engine {
        Engine {
            stop,
            completed,
            ..self
        }
    }

    /// Whether the scan was asked to stop (SIGINT/SIGTERM).
    pub fn stopped(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }

    /// Whether `--resume` says an earlier run scanned this file (same size
    /// and modification time where known). Sources may ask before fetching.
    pub fn already_scanned(&self, file: &FileMeta) -> bool {
        self.completed
            .as_ref()
            .is_some_and(|c| c.file_done(file.target, file.path, file.size, file.mtime))
    }

    /// The event of a file [`Self::already_scanned`] found done: it
    /// carries whether `--max-bytes` cut it in the earlier run, so that a
    /// resumed scan names and counts it as an uninterrupted one would.
    pub fn already_scanned_event(&self, file: &FileMeta) -> Event {
        Event::AlreadyScanned {
            target: file.target.clone(),
            path: file.path.to_string(),
            truncated: self
                .completed
                .as_ref()
                .is_some_and(|c| c.truncated(file.target, file.path)),
            not_examined: self
                .completed
                .as_ref()
                .map(|c| c.not_examined(file.target, file.path))
                .unwrap_or_default(),
        }
    }

    fn with_scratch<R>(&self, f: impl FnOnce(&mut Scratch) -> R) -> R {
        // Taken out of the slot while in use, not borrowed: a thread that
        // waits on the rounds of a large file (extract::text) may run
        // another file's scan meanwhile, which then makes its own.
        let taken = SCRATCH.with(|cell| cell.borrow_mut().take());
        let mut scratch = match taken {
            Some((id, scratch)) if id == self.id => scratch,
            _ => self.matcher.new_scratch(),
        };
        scratch.leave_blocks();
        let result = f(&mut scratch);
        SCRATCH.with(|cell| *cell.borrow_mut() = Some((self.id, scratch)));
        result
    }

    fn ctx<'a>(
        &'a self,
        events: &'a dyn EventSink,
        target: &'a Arc<str>,
        path: &str,
        budget: &'a Budget,
        scratch: &'a mut Scratch,
    ) -> Ctx<'a> {
        Ctx {
            matcher: &self.matcher,
            options: &self.options,
            events,
            target,
            path: path.to_string(),
            depth: 0,
            budget,
            scratch,
            matched_whole: false,
        }
    }

    /// Scans one top-level file whose source knows its verdict at the end
    /// of its bytes (a local file). `max_bytes` = 0 reads it all.
    pub fn scan_file(
        &self,
        file: &FileMeta,
        mut data: &mut dyn Read,
        max_bytes: u64,
        events: &dyn EventSink,
    ) -> FileOutcome {
        self.scan_file_then(file, &mut data, max_bytes, events, |_| Ok(()))
    }

    /// Opens a file with `open` and scans it: the file's time limit covers
    /// the open too, and an open that fails (or finds something that is
    /// not a file to read) is the file's verdict. `open` gives the reader
    /// and the file's size and modification time.
    pub fn scan_opened<R: Read>(
        &self,
        target: &Arc<str>,
        path: &str,
        open: impl FnOnce() -> Result<(R, Option<u64>, Option<i64>), Incomplete>,
        max_bytes: u64,
        events: &dyn EventSink,
    ) -> FileOutcome {
        if self.stopped() {
            return FileOutcome {
                failed: true,
                ..FileOutcome::default()
            };
        }
        let budget = self.budget();
        match open() {
            Ok((mut data, size, mtime)) => {
                let file = FileMeta {
                    target,
                    path,
                    size,
                    mtime,
                };
                self.scan_within(&budget, &file, &mut data, max_bytes, events, |_| Ok(()))
            }
            Err(Incomplete { reason, detail }) => {
                events.send(Event::not_examined(target, path, reason, detail));
                FileOutcome {
                    failed: true,
                    ..FileOutcome::default()
                }
            }
        }
    }

    /// The time and byte budget of one top-level file, starting now.
    fn budget(&self) -> Budget {
        Budget::with_time_limit(self.options.limits.max_seconds)
    }

    /// Scans one top-level file, then asks its source (`conclude`, called
    /// once whatever happened, so that it can end a transfer) whether it
    /// delivered what was asked; only then is the verdict sent. Reads
    /// nothing once the scan is stopping, or when an earlier run scanned
    /// the file.
    pub fn scan_file_then<R: Read>(
        &self,
        file: &FileMeta,
        data: &mut R,
        max_bytes: u64,
        events: &dyn EventSink,
        conclude: impl FnOnce(&mut R) -> Result<(), Incomplete>,
    ) -> FileOutcome {
        self.scan_within(&self.budget(), file, data, max_bytes, events, conclude)
    }

    fn scan_within<R: Read>(
        &self,
        budget: &Budget,
        file: &FileMeta,
        data: &mut R,
        max_bytes: u64,
        events: &dyn EventSink,
        conclude: impl FnOnce(&mut R) -> Result<(), Incomplete>,
    ) -> FileOutcome {
        if self.stopped() {
            return FileOutcome {
                failed: true,
                ..FileOutcome::default()
            };
        }
        if self.already_scanned(file) {
            events.send(self.already_scanned_event(file));
            return FileOutcome::default();
        }
        let limit = if max_bytes == 0 { u64::MAX } else { max_bytes };
        let held = report::HeldEvents::new(events);
        let (result, bytes) = {
            let mut counted = CountingReader {
                inner: &mut *data,
                count: 0,
                budget,
            };
            let mut limited = (&mut counted).take(limit);
            let result = self.with_scratch(|scratch| {
                let mut ctx = self.ctx(&held, file.target, file.path, budget, scratch);
                extract::scan_input(&mut ctx, &mut limited)
            });
            (result, counted.count)
        };
        held.flush();
        let delivered = conclude(data);
        let truncated = max_bytes > 0 && file.size.map_or(bytes >= max_bytes, |s| s > max_bytes);
        // Past the time limit the reader fails and extractors stop matching:
        // whatever error that caused, the reason is the limit.
        let result = if budget.timed_out() {
            Err(ExtractError::Limit(format!(
                "stopped after {} s (time limit per file) with {bytes} bytes read; \
                 what was read before was matched",
                self.options.limits.max_seconds
            )))
        } else {
            result
        };
        let verdict = match (result, delivered) {
            (Ok(()), Ok(())) => Ok(()),
            (Err(e), _) => Err(Incomplete {
                reason: extract::reason_of(&e),
                detail: e.to_string(),
            }),
            (Ok(()), Err(incomplete)) => Err(incomplete),
        };
        match verdict {
            Ok(()) => {
                events.send(Event::FileScanned {
                    target: file.target.clone(),
                    path: file.path.to_string(),
                    bytes,
                    truncated,
                    size: file.size,
                    mtime: file.mtime,
                });
                FileOutcome {
                    bytes,
                    truncated,
                    failed: false,
                }
            }
            Err(Incomplete { reason, detail }) => {
                events.send(Event::not_examined(file.target, file.path, reason, detail));
                FileOutcome {
                    bytes,
                    truncated,
                    failed: true,
                }
            }
        }
    }

    /// Matches the last component of `path` (a file or directory name): a
    /// name such as `SMITH_JOHN_DOB_1980-01-02.pdf` is itself a finding,
    /// reported with field `path`.
    pub fn scan_name(&self, target: &Arc<str>, path: &str, events: &dyn EventSink) {
        if self.stopped()
            || self
                .completed
                .as_ref()
                .is_some_and(|c| c.name_done(target, path))
        {
            return;
        }
        let name_start = path.rfind('/').map_or(0, |i| i + 1);
        let name = name_for_matching(&path[name_start..]);
        let column = path[..name_start].chars().count() as u64 + 1;
        let budget = Budget::default();
        self.with_scratch(|scratch| {
            let mut ctx = self.ctx(events, target, path, &budget, scratch);
            extract::text::scan_block(&mut ctx, "path", &name, Location { line: 1, column }, None);
        });
    }

    /// `text` (a report path, or a detail that may quote one) as reports
    /// show it: unless `--unmask`, every value the rules find in a folder,
    /// file or member name is masked as in the `match` column. A file named
    /// `SMITH_412-56-7890.pdf` would otherwise put the SSN in every row and
    /// every "not examined" line about it. `None` when nothing is masked.
    pub fn shown_path(&self, text: &str) -> Option<String> {
        if self.options.unmask || !text.bytes().any(|b| b.is_ascii_alphanumeric()) {
            return None;
        }
        let mut out = String::with_capacity(text.len());
        let mut changed = false;
        let mut hits = Vec::new();
        self.with_scratch(|scratch| {
            for part in text.split_inclusive(['/', '!']) {
                let name = part.trim_end_matches(['/', '!']);
                let spaced = name_for_matching(name);
                hits.clear();
                self.matcher
                    .find(&spaced, 0..spaced.len(), scratch, &mut hits);
                hits.sort_unstable_by_key(|h| (h.start, std::cmp::Reverse(h.end)));
                let mut at = 0;
                for hit in &hits {
                    // Overlapping hits: the first (longest) one covers it.
                    let (Some(before), Some(value)) =
                        (name.get(at..hit.start), name.get(hit.start..hit.end))
                    else {
                        continue;
                    };
                    out.push_str(before);
                    let entity = self.matcher.rule(hit.rule).entity;
                    out.push_str(&crate::mask::mask_value(entity, value));
                    at = hit.end;
                    changed = true;
                }
                out.push_str(&part[at..]);
            }
        });
        changed.then_some(out)
    }
}

struct CountingReader<'a, R: ?Sized> {
    inner: &'a mut R,
    count: u64,
    budget: &'a Budget,
}

impl<R: Read + ?Sized> Read for CountingReader<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.budget.check_time_now() {
            return Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "time limit per file reached",
            ));
        }
        let n = self.inner.read(buf)?;
        self.count += n as u64;
        Ok(n)
    }
}
