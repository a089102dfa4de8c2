//! OCR: page images (scans, faxes, photos, burned-in DICOM frames) → text,
//! matched like any other text.
//!
//! Extractors hand over a [`PageSource`]; [`read_pages`] reads its pages
//! in parallel on the worker pool, within the limits of
//! [`OcrSettings`], and then matches each page's text in page order with
//! `field` = `page N`. Every page not read is reported, with its reason:
//! OCR off or unavailable, a page or scan limit, the engine's time limit,
//! an engine failure, an image that could not be decoded.
//!
//! The pages of a file are cut into one run of consecutive pages per
//! engine slot (at most one engine process per worker: [`OcrState`] holds
//! the slots). Each slot keeps its engine process for the whole scan and
//! hands it page after page ([`session`]), so that the model is loaded
//! once per slot, not once per file; a page that hangs or crashes it
//! costs only that page, and the next starts a new process. An engine
//! that cannot take pages one by one (its answer to the first process's
//! sentinel pages does not come) is run once per group of pages instead
//! (up to [`MAX_RUN_PAGES`]): a run that fails costs no page its text, as
//! its pages are read again each alone, and a page that runs out of time
//! is known by the engine's progress and is the only one reported for it.

pub mod engine;
pub mod fax3;
pub mod pdf_pages;
pub mod prep;
pub mod session;
pub mod tiff_writer;

use super::{reason_of, Ctx, Location};
use crate::error::ExtractError;
use crate::report::{Event, OcrWork, SkipReason};
use engine::{PageRun, RunLimits, Tesseract, Timeout};
use rayon::prelude::*;
use session::Session;
use std::sync::atomic::{AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tiff_writer::TiffPage;

/// `--ocr`: whether images are read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum OcrMode {
    /// Read them when the engine is installed; otherwise report each as
    /// not examined (`ocr_unavailable`).
    #[default]
    Auto,
    /// Read them; a scan without the engine does not start.
    On,
    /// Do not read them (each is reported as not examined, `ocr_off`).
    Off,
}

/// What OCR may do. See docs/LIMITS.md.
#[derive(Clone, Debug)]
pub struct OcrSettings {
    pub mode: OcrMode,
    /// Pages read per file (archive members and PDF pages each count
    /// within their top-level file's members); the rest are reported.
    pub max_pages_per_file: u32,
    /// Pages read in the whole scan.
    pub max_pages_per_scan: u64,
    /// Time the engine may spend on one page.
    pub page_seconds: u64,
    /// Address space of one engine process, in MiB.
    pub page_memory_mib: u64,
}

impl Default for OcrSettings {
    fn default() -> Self {
        OcrSettings {
            mode: OcrMode::Auto,
            max_pages_per_file: 50,
            max_pages_per_scan: 10_000,
            page_seconds: 60,
            page_memory_mib: 1024,
        }
    }
}

/// The OCR state of one scan, shared by its workers: the engine (looked
/// for once, when first needed), the pages started, and the slots that
/// keep one engine process per worker.
#[derive(Clone)]
pub struct OcrState(Arc<Shared>);

struct Shared {
    engine: OnceLock<Result<Tesseract, String>>,
    pages: AtomicU64,
    slots: Slots,
    /// How many slots there are.
    engines: usize,
    /// Whether the engine reads pages one by one in a process kept for
    /// the scan ([`Session`]): unknown until the first process is tried.
    streams: AtomicU8,
}

const STREAMS_UNKNOWN: u8 = 0;
const STREAMS_YES: u8 = 1;
const STREAMS_NO: u8 = 2;

/// Most pages one engine process reads: what a failed run costs again
/// (each page is then read alone) is bounded by it.
pub const MAX_RUN_PAGES: usize = 8;
/// Most bytes of page pixels handed to one engine process (a letter page
/// at 300 dpi is 8.4 MB grey, 1 MB black and white).
const MAX_RUN_BYTES: usize = 64 << 20;

impl std::fmt::Debug for OcrState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OcrState")
            .field("pages", &self.0.pages.load(Ordering::Relaxed))
            .finish_non_exhaustive()
    }
}

impl Default for OcrState {
    fn default() -> Self {
        OcrState::new(None)
    }
}

impl OcrState {
    /// `workers`: engine processes at once (`None`: one per CPU).
    pub fn new(workers: Option<usize>) -> OcrState {
        let workers = workers
            .filter(|n| *n > 0)
            .unwrap_or_else(|| std::thread::available_parallelism().map_or(1, |n| n.get()));
        OcrState(Arc::new(Shared {
            engine: OnceLock::new(),
            pages: AtomicU64::new(0),
            slots: Slots::new(workers),
            engines: workers,
            streams: AtomicU8::new(STREAMS_UNKNOWN),
        }))
    }

    /// The engine, looked for on first use; `Err` says what to install.
    pub fn engine(&self) -> Result<&Tesseract, &str> {
        self.0
            .engine
            .get_or_init(Tesseract::probe)
            .as_ref()
            .map_err(String::as_str)
    }

    /// Checks, before a scan starts, that `settings` can be honoured:
    /// `--ocr on` needs the engine.
    pub fn check(&self, settings: &OcrSettings) -> Result<(), String> {
        if settings.mode == OcrMode::On {
            self.engine()
                .map_err(|why| format!("--ocr on: OCR is not available: {why}"))?;
        }
        Ok(())
    }

    /// Counts one more page against the scan's limit; false when it is
    /// reached.
    fn reserve_page(&self, max: u64) -> bool {
        self.0
            .pages
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n < max).then_some(n + 1)
            })
            .is_ok()
    }
}

/// A counting semaphore: at most `n` engine processes at once, whichever
/// threads ask (local files run on the worker pool, FTP files on the
/// connection workers). A slot given back keeps its engine process, if it
/// has one, for the next to take it.
struct Slots {
    pool: Mutex<Pool>,
    freed: Condvar,
}

/// Slots free, and the engine processes kept by slots given back.
struct Pool {
    free: usize,
    idle: Vec<Session>,
}

struct Slot<'a> {
    slots: &'a Slots,
    session: Option<Session>,
}

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            pool: Mutex::new(Pool {
                free: n.max(1),
                idle: Vec::new(),
            }),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut pool = self.pool.lock().unwrap_or_else(|p| p.into_inner());
        while pool.free == 0 {
            pool = self.freed.wait(pool).unwrap_or_else(|p| p.into_inner());
        }
        pool.free -= 1;
        Slot {
            slots: self,
            session: pool.idle.pop(),
        }
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut pool = self.slots.pool.lock().unwrap_or_else(|p| p.into_inner());
        pool.free += 1;
        pool.idle.extend(self.session.take());
        self.slots.freed.notify_one();
    }
}

/// Pages to read: an image file's, a DICOM frame, a PDF's scanned pages.
/// Pages are decoded on the worker that reads them (`load`), so that only
/// the pages being read are held decoded.
pub trait PageSource: Sync {
    /// Pages looked at.
    fn pages(&self) -> usize;
    /// Whether there are pages after those (not looked at: a limit).
    fn more_pages(&self) -> bool {
        false
    }
    /// A page's size in pixels, when known without decoding it.
    fn size(&self, page: usize) -> Option<(u32, u32)>;
    /// Decodes a page.
    fn load(&self, page: usize) -> Result<prep::Page, ExtractError>;
    /// The `field` of findings on a page (0-based `page`).
    fn field(&self, page: usize) -> String {
        format!("page {}", page + 1)
    }
    /// What a report of pages `first..=last` not read calls them.
    fn label(&self, first: usize, last: usize) -> String {
        pages_label(&(first..=last))
    }
}

/// What became of one page.
enum PageOutcome {
    Read { text: String, engine_time: Duration },
    Skipped(ExtractError),
}

/// Reads the pages of `source` and matches their text (see the module
/// docs). Pages too small to hold a line of text are passed over. When no
/// page could be read at all, the first reason is returned as the error
/// (the file or member is then not examined); otherwise pages not read
/// are reported one range at a time and the rest counts as examined.
pub fn read_pages(ctx: &mut Ctx, source: &dyn PageSource) -> Result<(), ExtractError> {
    read(ctx, source, true)
}

/// [`read_pages`] for pages that are part of a file read otherwise (a
/// PDF's scanned pages): pages not read are each reported, and the file
/// still counts as examined.
pub fn read_some_pages(ctx: &mut Ctx, source: &dyn PageSource) -> Result<(), ExtractError> {
    read(ctx, source, false)
}

fn read(ctx: &mut Ctx, source: &dyn PageSource, whole: bool) -> Result<(), ExtractError> {
    if source.pages() == 0 && !source.more_pages() {
        return Ok(());
    }
    let settings = ctx.limits().ocr.clone();
    let readable: Vec<usize> = (0..source.pages())
        .filter(|&i| {
            source
                .size(i)
                .is_none_or(|(w, h)| w >= prep::MIN_SIDE && h >= prep::MIN_SIDE)
        })
        .collect();
    let mut skipped: Vec<(usize, ExtractError)> = Vec::new();
    if source.more_pages() {
        skipped.push((
            source.pages(),
            ExtractError::Limit(format!(
                "pages after the first {} were not looked at",
                source.pages()
            )),
        ));
    }
    let mut work = OcrWork::default();
    let result = read_readable(
        ctx,
        source,
        &settings,
        &readable,
        &mut skipped,
        &mut work,
        whole,
    );
    if work.pages > 0 || !work.skipped.is_empty() {
        ctx.events.send(Event::Ocr {
            target: ctx.target.clone(),
            work,
        });
    }
    result
}

fn read_readable(
    ctx: &mut Ctx,
    source: &dyn PageSource,
    settings: &OcrSettings,
    readable: &[usize],
    skipped: &mut Vec<(usize, ExtractError)>,
    work: &mut OcrWork,
    whole: bool,
) -> Result<(), ExtractError> {
    if readable.is_empty() {
        return finish(ctx, source, std::mem::take(skipped), work, true);
    }
    let engine = match settings.mode {
        OcrMode::Off => Err((SkipReason::OcrOff, "not read (--ocr off)".to_string())),
        OcrMode::Auto | OcrMode::On => ctx
            .options
            .ocr
            .engine()
            .cloned()
            .map_err(|why| (SkipReason::OcrUnavailable, why.to_string())),
    };
    let engine = match engine {
        Ok(engine) => engine,
        Err((reason, why)) => {
            let unavailable = || match reason {
                SkipReason::OcrOff => ExtractError::OcrOff(why.clone()),
                _ => ExtractError::OcrUnavailable(why.clone()),
            };
            skipped.extend(readable.iter().map(|&page| (page, unavailable())));
            skipped.sort_by_key(|(page, _)| *page);
            return finish(ctx, source, std::mem::take(skipped), work, !whole);
        }
    };
    // Pages past the per-file limit, and past the file's byte budget (each
    // page decoded counts its grey pixels).
    let per_file = settings.max_pages_per_file as usize;
    let mut to_read = Vec::new();
    for &page in readable {
        if to_read.len() >= per_file {
            skipped.push((
                page,
                ExtractError::Limit(format!(
                    "more than {per_file} pages in one file (--ocr-max-pages)"
                )),
            ));
            continue;
        }
        let pixels = source
            .size(page)
            .map_or(0, |(w, h)| u64::from(w) * u64::from(h));
        if let Err(e) = ctx.charge_expanded(pixels) {
            skipped.push((page, e));
            continue;
        }
        to_read.push(page);
    }
    let deadline = ctx.budget.deadline();
    let state = ctx.options.ocr.clone();
    let mut outcomes: Vec<(usize, PageOutcome)> = consecutive_parts(&to_read, state.0.engines)
        .par_iter()
        .flat_map_iter(|pages| read_part(&engine, &state, settings, source, pages, deadline))
        .collect();
    outcomes.sort_by_key(|(page, _)| *page);
    let mut read_any = false;
    for (page, outcome) in outcomes {
        match outcome {
            PageOutcome::Read { text, engine_time } => {
                read_any = true;
                work.pages += 1;
                work.engine_seconds += engine_time.as_secs_f64();
                let text = normalise_digit_confusions(&text);
                // Whatever the page showed, OCR'd text is never more
                // certain than the same text typed: it is matched as text.
                ctx.text(&source.field(page), &text, Location::START);
            }
            PageOutcome::Skipped(e) => skipped.push((page, e)),
        }
    }
    skipped.sort_by_key(|(page, _)| *page);
    finish(
        ctx,
        source,
        std::mem::take(skipped),
        work,
        read_any || !whole,
    )
}

/// Reports the pages not read, one range at a time, and counts them. When
/// no page was read (`read_any` false), the first range is the verdict on
/// the whole file or member: it is returned as the error.
fn finish(
    ctx: &mut Ctx,
    source: &dyn PageSource,
    skipped: Vec<(usize, ExtractError)>,
    work: &mut OcrWork,
    read_any: bool,
) -> Result<(), ExtractError> {
    let mut verdict = None;
    for (range, e) in group_ranges(skipped) {
        let reason = reason_of(&e);
        *work.skipped.entry(reason).or_default() += (range.end() - range.start() + 1) as u64;
        let e = about_pages(&source.label(*range.start(), *range.end()), e);
        if !read_any && verdict.is_none() {
            verdict = Some(e);
        } else {
            ctx.not_examined(None, reason, e.to_string());
        }
    }
    verdict.map_or(Ok(()), Err)
}

/// `pages` cut into at most `parts` runs of consecutive pages, as even
/// as can be.
fn consecutive_parts(pages: &[usize], parts: usize) -> Vec<&[usize]> {
    let parts = parts.clamp(1, pages.len().max(1));
    let (size, longer) = (pages.len() / parts, pages.len() % parts);
    let mut out = Vec::with_capacity(parts);
    let mut rest = pages;
    for i in 0..parts {
        let (part, tail) = rest.split_at(size + usize::from(i < longer));
        if !part.is_empty() {
            out.push(part);
        }
        rest = tail;
    }
    out
}

/// Reads a run of pages in one of the engine slots, each page within the
/// scan's page limit and the file's time limit: pages are decoded and
/// prepared one by one and handed to the engine a group at a time.
fn read_part(
    engine: &Tesseract,
    state: &OcrState,
    settings: &OcrSettings,
    source: &dyn PageSource,
    pages: &[usize],
    file_deadline: Option<Instant>,
) -> Vec<(usize, PageOutcome)> {
    let out_of_file_time = || file_deadline.is_some_and(|d| Instant::now() >= d);
    let too_late = || {
        PageOutcome::Skipped(ExtractError::Limit(
            "the file's time limit was reached before this page was read".into(),
        ))
    };
    let mut outcomes = Vec::with_capacity(pages.len());
    let mut slot = None;
    let mut group: Vec<ReadyPage> = Vec::new();
    let mut group_bytes = 0;
    for &page in pages {
        if out_of_file_time() {
            outcomes.push((page, too_late()));
            continue;
        }
        if !state.reserve_page(settings.max_pages_per_scan) {
            outcomes.push((
                page,
                PageOutcome::Skipped(ExtractError::Limit(format!(
                    "more than {} pages read in this scan (--ocr-max-pages-total)",
                    settings.max_pages_per_scan
                ))),
            ));
            continue;
        }
        if slot.is_none() {
            slot = Some(state.0.slots.acquire());
            if out_of_file_time() {
                outcomes.push((page, too_late()));
                continue;
            }
        }
        let started = Instant::now();
        let image = match source.load(page) {
            Ok(image) => image,
            Err(e) => {
                outcomes.push((page, PageOutcome::Skipped(e)));
                continue;
            }
        };
        let prepared = prep::prepare(image, prep::Steps::default());
        let ready = ReadyPage {
            page,
            prepared,
            prep_time: started.elapsed(),
        };
        if let Some(slot) = slot.as_mut() {
            if let Some(outcome) =
                read_streaming(engine, state, slot, settings, &ready, file_deadline)
            {
                outcomes.push((page, outcome));
                continue;
            }
        }
        group_bytes += ready.prepared.raster.data.len();
        group.push(ready);
        if group.len() >= MAX_RUN_PAGES || group_bytes >= MAX_RUN_BYTES {
            outcomes.extend(run_group(engine, settings, &group, file_deadline));
            group.clear();
            group_bytes = 0;
        }
    }
    if !group.is_empty() {
        outcomes.extend(run_group(engine, settings, &group, file_deadline));
    }
    drop(slot);
    outcomes
}

/// Reads one page in the slot's engine process, started if it has none:
/// `None` when the engine does not stream pages (or no process could be
/// started for this page), and the page is to be read in a run of its
/// own. A process that fails on a page after reading others is replaced
/// and the page read once more; one that fails on the first page it
/// was started for answers for that page.
fn read_streaming(
    engine: &Tesseract,
    state: &OcrState,
    slot: &mut Slot<'_>,
    settings: &OcrSettings,
    ready: &ReadyPage,
    file_deadline: Option<Instant>,
) -> Option<PageOutcome> {
    let page_time = Duration::from_secs(settings.page_seconds.max(1));
    let image = TiffPage {
        raster: &ready.prepared.raster,
        dpi: ready.prepared.dpi,
    };
    loop {
        let started = Instant::now();
        let limits = RunLimits {
            // Without a time limit for the file, the page's is the only one.
            deadline: file_deadline.unwrap_or(started + page_time.saturating_mul(4)),
            page_time: Some(page_time),
            memory: settings.page_memory_mib.saturating_mul(1 << 20),
        };
        let fresh = slot.session.is_none();
        if fresh {
            if state.0.streams.load(Ordering::Acquire) == STREAMS_NO {
                return None;
            }
            match Session::start(engine, limits) {
                Ok(session) => {
                    state.0.streams.store(STREAMS_YES, Ordering::Release);
                    slot.session = Some(session);
                }
                Err(_) => {
                    // The first process that does not stream decides for
                    // the scan; a later one costs this page a run of its own.
                    let _ = state.0.streams.compare_exchange(
                        STREAMS_UNKNOWN,
                        STREAMS_NO,
                        Ordering::AcqRel,
                        Ordering::Acquire,
                    );
                    return None;
                }
            }
        }
        let session = slot.session.as_mut()?;
        match session.read(&image, limits) {
            PageRun::Text(mut texts) => {
                let text = texts.pop().unwrap_or_default();
                let engine_time = ready.prep_time + started.elapsed();
                return Some(PageOutcome::Read { text, engine_time });
            }
            PageRun::TimedOut(timeout) => {
                slot.session = None;
                return Some(if timeout.deadline && file_deadline.is_some() {
                    file_time_out()
                } else {
                    page_time_out(page_time)
                });
            }
            PageRun::Failed(why) => {
                slot.session = None;
                if fresh {
                    return Some(PageOutcome::Skipped(ExtractError::OcrFailed(format!(
                        "the OCR engine failed: {why}"
                    ))));
                }
            }
        }
    }
}

/// A page stopped at the file's time limit.
fn file_time_out() -> PageOutcome {
    PageOutcome::Skipped(ExtractError::Limit(
        "the file's time limit was reached while OCR read this page".into(),
    ))
}

/// A page stopped at its own time limit.
fn page_time_out(page_time: Duration) -> PageOutcome {
    PageOutcome::Skipped(ExtractError::Limit(format!(
        "OCR stopped after {} s (time limit per page)",
        page_time.as_secs()
    )))
}

/// A page decoded and prepared for the engine.
struct ReadyPage {
    page: usize,
    prepared: prep::Prepared,
    /// Time spent decoding and preparing it, counted as OCR time.
    prep_time: Duration,
}

/// Runs the engine once on `group` (prepared pages, in page order). When
/// a run of several pages fails, its pages are read again: around the
/// page that ran out of time, when the engine said which it was, or
/// otherwise each alone.
fn run_group(
    engine: &Tesseract,
    settings: &OcrSettings,
    group: &[ReadyPage],
    file_deadline: Option<Instant>,
) -> Vec<(usize, PageOutcome)> {
    if group.is_empty() {
        return Vec::new();
    }
    let started = Instant::now();
    let page_time = Duration::from_secs(settings.page_seconds.max(1));
    // Without a time limit for the file, each page's is the only one.
    let deadline =
        file_deadline.unwrap_or(started + page_time.saturating_mul(2 * group.len() as u32 + 2));
    let limits = RunLimits {
        deadline,
        page_time: Some(page_time),
        memory: settings.page_memory_mib.saturating_mul(1 << 20),
    };
    let pages: Vec<TiffPage<'_>> = group
        .iter()
        .map(|p| TiffPage {
            raster: &p.prepared.raster,
            dpi: p.prepared.dpi,
        })
        .collect();
    let run = engine.run(&pages, limits);
    let each = |outcome: &dyn Fn() -> PageOutcome| -> Vec<(usize, PageOutcome)> {
        group.iter().map(|p| (p.page, outcome())).collect()
    };
    let one_by_one = || -> Vec<(usize, PageOutcome)> {
        (0..group.len())
            .flat_map(|i| run_group(engine, settings, &group[i..=i], file_deadline))
            .collect()
    };
    let page_time_out = || page_time_out(page_time);
    match run {
        PageRun::Text(texts) => {
            let run_share = started.elapsed() / group.len() as u32;
            group
                .iter()
                .zip(texts)
                .map(|(p, text)| {
                    let engine_time = p.prep_time + run_share;
                    (p.page, PageOutcome::Read { text, engine_time })
                })
                .collect()
        }
        PageRun::TimedOut(Timeout { deadline: true, .. }) if file_deadline.is_some() => {
            each(&file_time_out)
        }
        PageRun::TimedOut(Timeout { page: Some(k), .. }) if k < group.len() => {
            let mut outcomes = run_group(engine, settings, &group[..k], file_deadline);
            outcomes.push((group[k].page, page_time_out()));
            outcomes.extend(run_group(engine, settings, &group[k + 1..], file_deadline));
            outcomes
        }
        PageRun::TimedOut(_) | PageRun::Failed(_) if group.len() > 1 => one_by_one(),
        PageRun::TimedOut(_) => each(&page_time_out),
        PageRun::Failed(why) => each(&|| {
            PageOutcome::Skipped(ExtractError::OcrFailed(format!(
                "the OCR engine failed: {why}"
            )))
        }),
    }
}

/// Pages not read, grouped: consecutive pages with the same reason and
/// detail are one report (`pages 21–50: …`).
fn group_ranges(
    skipped: Vec<(usize, ExtractError)>,
) -> Vec<(std::ops::RangeInclusive<usize>, ExtractError)> {
    let mut groups: Vec<(std::ops::RangeInclusive<usize>, ExtractError)> = Vec::new();
    for (page, e) in skipped {
        if let Some((range, last)) = groups.last_mut() {
            if *range.end() + 1 == page
                && reason_of(last) == reason_of(&e)
                && last.to_string() == e.to_string()
            {
                *range = *range.start()..=page;
                continue;
            }
        }
        groups.push((page..=page, e));
    }
    groups
}

fn pages_label(range: &std::ops::RangeInclusive<usize>) -> String {
    if range.start() == range.end() {
        format!("page {}", range.start() + 1)
    } else {
        format!("pages {}–{}", range.start() + 1, range.end() + 1)
    }
}

/// `e` with the pages it is about in front of its detail.
fn about_pages(label: &str, e: ExtractError) -> ExtractError {
    match e {
        ExtractError::Corrupt { format, message } => ExtractError::Corrupt {
            format,
            message: format!("{label}: {message}"),
        },
        ExtractError::Limit(m) => ExtractError::Limit(format!("{label}: {m}")),
        ExtractError::Unsupported(m) => ExtractError::Unsupported(format!("{label}: {m}")),
        ExtractError::OcrFailed(m) => ExtractError::OcrFailed(format!("{label}: {m}")),
        ExtractError::OcrUnavailable(m) => ExtractError::OcrUnavailable(format!("{label}: {m}")),
        ExtractError::OcrOff(m) => ExtractError::OcrOff(format!("{label}: {m}")),
        other => other,
    }
}

/// Letters OCR reads for digits inside a run of digits: `O`/`o` for 0,
/// `I`/`l`/`|` for 1, `S`/`s` for 5, `B` for 8, `Z`/`z` for 2. These are
/// the letters a Medicare MBI never holds, so no MBI is changed.
fn digit_for(b: u8) -> Option<u8> {
    Some(match b {
        b'O' | b'o' => b'0',
        b'I' | b'l' | b'|' => b'1',
        b'S' | b's' => b'5',
        b'B' => b'8',
        b'Z' | b'z' => b'2',
        _ => return None,
    })
}

/// Replaces OCR's letter-for-digit confusions *inside* runs of digits
/// (`123-45-67O9` → `123-45-6709`, `0l/15/1980` → `01/15/1980`), so that
/// validators see the digits the page shows. A letter is replaced only
/// when a digit stands on both sides of it (other such letters and one
/// `-`, `/` or `.` may sit between): nothing is added, and nothing at the
/// edge of a run is guessed, so words and codes (`SSN`, `B12`, `AB1234563`)
/// stay as they are. Same length, so columns do not move.
pub fn normalise_digit_confusions(text: &str) -> String {
    let bytes = text.as_bytes();
    let mut out = bytes.to_vec();
    let is_sep = |b: u8| matches!(b, b'-' | b'/' | b'.');
    // The digit reached from `i` going one way, past confusable letters
    // and at most one separator.
    let digit_side = |i: usize, step: isize| -> bool {
        let mut j = i as isize + step;
        let mut seps = 0;
        while j >= 0 && (j as usize) < bytes.len() {
            let b = bytes[j as usize];
            if b.is_ascii_digit() {
                return true;
            }
            if digit_for(b).is_some() {
                j += step;
                continue;
            }
            if is_sep(b) && seps == 0 {
                seps += 1;
                j += step;
                continue;
            }
            return false;
        }
        false
    };
    for (i, b) in bytes.iter().enumerate() {
        if let Some(d) = digit_for(*b) {
            // Whole words of confusable letters (`SO`, `Is`) never change:
            // a letter needs a digit right beside it on one side at least.
            let touches_digit = (i > 0 && bytes[i - 1].is_ascii_digit())
                || bytes.get(i + 1).is_some_and(u8::is_ascii_digit);
            if touches_digit && digit_side(i, -1) && digit_side(i, 1) {
                out[i] = d;
            }
        }
    }
    // Only ASCII bytes were replaced by ASCII bytes.
    String::from_utf8(out).unwrap_or_else(|_| text.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn confusions_inside_digit_runs_are_normalised() {
        let n = normalise_digit_confusions;
        assert_eq!(n("SSN: 123-45-67O9"), "SSN: 123-45-6709");
        assert_eq!(n("SSN 219-4S-6780"), "SSN 219-45-6780");
        assert_eq!(n("DOB 0l/15/1980"), "DOB 01/15/1980");
        assert_eq!(n("DOB 03/1l/1980"), "DOB 03/11/1980");
        assert_eq!(n("NPI 12345B7893"), "NPI 1234587893");
        assert_eq!(n("phone 555-0l04"), "phone 555-0104");
        assert_eq!(n("1O1 Main St"), "101 Main St");
    }

    #[test]
    fn words_codes_and_edges_are_left_alone() {
        let n = normalise_digit_confusions;
        for text in [
            "SSN: see chart",
            "Vitamin B12 and B6",
            "DEA AB1234563",
            "MBI 1EG4-TE5-MK73",
            "Is it SO? 12 oz",
            "O1/15/1980",
            "1980-01-O",
            "Suite 5B",
            "room 12 Building 3",
            "3 Sisters",
        ] {
            assert_eq!(n(text), text);
        }
        // Non-ASCII text passes unchanged around the replacements.
        assert_eq!(n("Né le 0l/0l/1980 à 12h3O"), "Né le 01/01/1980 à 12h3O");
    }

    #[test]
    fn page_ranges_group_alike_reasons() {
        let limit = || ExtractError::Limit("too many".into());
        let groups = group_ranges(vec![
            (0, limit()),
            (1, limit()),
            (2, ExtractError::OcrFailed("crash".into())),
            (4, limit()),
        ]);
        let labels: Vec<String> = groups.iter().map(|(r, _)| pages_label(r)).collect();
        assert_eq!(labels, ["pages 1–2", "page 3", "page 5"]);
    }

    #[test]
    fn slots_bound_concurrency() {
        let slots = Arc::new(Slots::new(2));
        let busy = Arc::new(AtomicU64::new(0));
        let most = Arc::new(AtomicU64::new(0));
        let threads: Vec<_> = (0..6)
            .map(|_| {
                let (slots, busy, most) = (slots.clone(), busy.clone(), most.clone());
                std::thread::spawn(move || {
                    let _slot = slots.acquire();
                    let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
                    most.fetch_max(now, Ordering::SeqCst);
                    std::thread::sleep(Duration::from_millis(20));
                    busy.fetch_sub(1, Ordering::SeqCst);
                })
            })
            .collect();
        for t in threads {
            t.join().expect("thread");
        }
        assert_eq!(most.load(Ordering::SeqCst), 2);
    }

    #[test]
    fn pages_are_cut_into_even_consecutive_parts() {
        let pages: Vec<usize> = (10..17).collect();
        let parts = consecutive_parts(&pages, 3);
        assert_eq!(parts, [&[10, 11, 12][..], &[13, 14], &[15, 16]]);
        assert_eq!(consecutive_parts(&pages[..2], 4), [&[10][..], &[11]]);
        assert_eq!(consecutive_parts(&pages, 0), [&pages[..]]);
        assert!(consecutive_parts(&[], 2).is_empty());
    }

    /// An engine standing in for Tesseract: a shell script that behaves
    /// as `first` on its first run and as `later` on every other, each
    /// run counted in a file beside it.
    fn scripted_engine(dir: &std::path::Path, first: &str, later: &str) -> Tesseract {
        use std::os::unix::fs::PermissionsExt;
        let program = dir.join("tesseract");
        let count = dir.join("runs");
        std::fs::write(
            &program,
            format!(
                "#!/bin/sh\nn=$(cat '{c}' 2>/dev/null || echo 0)\necho $((n+1)) > '{c}'\n\
                 if [ \"$n\" = 0 ]; then\n{first}\nelse\n{later}\nfi\n",
                c = count.display()
            ),
        )
        .expect("script written");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        Tesseract::with_program(program)
    }

    fn runs(dir: &std::path::Path) -> String {
        std::fs::read_to_string(dir.join("runs"))
            .unwrap_or_default()
            .trim()
            .to_string()
    }

    fn blank_pages(n: usize) -> Vec<ReadyPage> {
        (0..n)
            .map(|page| ReadyPage {
                page,
                prepared: prep::Prepared {
                    raster: prep::Raster {
                        width: 20,
                        height: 20,
                        bilevel: false,
                        data: vec![255; 400],
                    },
                    dpi: Some(300),
                    skew_degrees: 0.0,
                },
                prep_time: Duration::ZERO,
            })
            .collect()
    }

    /// What became of each page: its text, or the reason it was not read.
    fn verdicts(outcomes: Vec<(usize, PageOutcome)>) -> Vec<(usize, String)> {
        outcomes
            .into_iter()
            .map(|(page, outcome)| match outcome {
                PageOutcome::Read { text, .. } => (page, text),
                PageOutcome::Skipped(e) => (page, format!("skipped: {e}")),
            })
            .collect()
    }

    const SETTINGS: OcrSettings = OcrSettings {
        mode: OcrMode::On,
        max_pages_per_file: 50,
        max_pages_per_scan: 100,
        page_seconds: 1,
        page_memory_mib: 0,
    };

    #[test]
    fn a_page_that_hangs_a_run_costs_only_itself() {
        // The first run begins pages 1 and 2 of three, then hangs: page 2
        // is the one stopped; pages 1 and 3 are read again, each run
        // answering for one page.
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = scripted_engine(
            dir.path(),
            "echo 'Page 1' >&2; echo 'Page 2' >&2; exec sleep 600",
            "echo text",
        );
        let started = Instant::now();
        let got = verdicts(run_group(&engine, &SETTINGS, &blank_pages(3), None));
        assert_eq!(got.len(), 3);
        assert_eq!(got[0], (0, "text\n".to_string()));
        assert_eq!(got[1].0, 1);
        assert!(got[1].1.contains("time limit per page"), "{got:?}");
        assert_eq!(got[2], (2, "text\n".to_string()));
        // The hung run, then pages 1 and 3, each in a run of its own.
        assert_eq!(runs(dir.path()), "3");
        // Stopped at the page's limit (1 s), not at its 600 s.
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_run_that_crashes_or_loses_a_page_is_read_again_page_by_page() {
        for first in [
            "kill -SEGV $$",
            // Two pages of text for three pages.
            "printf 'a\\fb'",
            // Stopped without naming its page.
            "exec sleep 600",
        ] {
            let dir = tempfile::tempdir().expect("tempdir");
            let engine = scripted_engine(dir.path(), first, "echo again");
            let got = verdicts(run_group(&engine, &SETTINGS, &blank_pages(3), None));
            let again: Vec<(usize, String)> = (0..3).map(|p| (p, "again\n".to_string())).collect();
            assert_eq!(got, again, "{first}");
            assert_eq!(runs(dir.path()), "4", "{first}");
        }
    }

    #[test]
    fn one_run_reads_a_group_and_cuts_its_text_at_the_separators() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = scripted_engine(dir.path(), "printf 'one\\ftwo\\f\\fthree'", "exit 1");
        let got = verdicts(run_group(&engine, &SETTINGS, &blank_pages(4), None));
        let want = [(0, "one"), (1, "two"), (2, ""), (3, "three")];
        let want: Vec<(usize, String)> = want.iter().map(|(p, t)| (*p, t.to_string())).collect();
        assert_eq!(got, want);
        assert_eq!(runs(dir.path()), "1");
    }

    /// A streaming engine: names read one per line, and for each a page
    /// separator (but before the first) and `image N`, except where
    /// `odd` (a shell `case` arm) says otherwise for image `$i`.
    fn streaming(odd: &str) -> String {
        format!(
            "i=0\nwhile read f; do\n[ $i -gt 0 ] && printf '\\f'\n\
             case $i in {odd} esac\necho \"image $i\"\ni=$((i+1))\ndone"
        )
    }

    /// Reads `pages` one by one in one slot, as `read_part` does.
    fn read_each(engine: &Tesseract, state: &OcrState, pages: usize) -> Vec<Option<String>> {
        let mut slot = state.0.slots.acquire();
        blank_pages(pages)
            .iter()
            .map(|ready| {
                read_streaming(engine, state, &mut slot, &SETTINGS, ready, None).map(|o| match o {
                    PageOutcome::Read { text, .. } => text,
                    PageOutcome::Skipped(e) => format!("skipped: {e}"),
                })
            })
            .collect()
    }

    #[test]
    fn one_process_reads_page_after_page() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = scripted_engine(dir.path(), &streaming(""), "exit 1");
        let state = OcrState::new(Some(1));
        let got = read_each(&engine, &state, 3);
        // Two sentinels to start, then each page followed by one.
        let want = ["image 2\n", "image 4\n", "image 6\n"].map(|t| Some(t.to_string()));
        assert_eq!(got, want);
        assert_eq!(runs(dir.path()), "1");
        // The process is kept by the slot given back, for the next file.
        let again = read_each(&engine, &state, 1);
        assert_eq!(again, [Some("image 8\n".to_string())]);
        assert_eq!(runs(dir.path()), "1");
    }

    #[test]
    fn an_engine_that_ends_each_page_with_the_separator_is_read_alike() {
        // Tesseract 4 writes the separator after each page, not before.
        let dir = tempfile::tempdir().expect("tempdir");
        let after = "i=0\nwhile read f; do\necho \"image $i\"\nprintf '\\f'\ni=$((i+1))\ndone";
        let engine = scripted_engine(dir.path(), after, "exit 1");
        let got = read_each(&engine, &OcrState::new(Some(1)), 2);
        assert_eq!(got, ["image 2\n", "image 4\n"].map(|t| Some(t.to_string())));
        assert_eq!(runs(dir.path()), "1");
    }

    #[test]
    fn a_page_that_hangs_the_process_costs_only_itself() {
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = scripted_engine(
            dir.path(),
            &streaming("4) exec sleep 600;;"),
            &streaming(""),
        );
        let state = OcrState::new(Some(1));
        let started = Instant::now();
        let got = read_each(&engine, &state, 3);
        assert_eq!(got[0].as_deref(), Some("image 2\n"));
        let hung = got[1].as_deref().unwrap_or_default();
        assert!(hung.contains("time limit per page"), "{got:?}");
        // A new process for the page after it.
        assert_eq!(got[2].as_deref(), Some("image 2\n"));
        assert_eq!(runs(dir.path()), "2");
        // Stopped at the page's limit (1 s), not at its 600 s.
        assert!(started.elapsed() < Duration::from_secs(30));
    }

    #[test]
    fn a_crash_after_other_pages_is_read_again_and_on_a_first_page_reported() {
        // The first process crashes on the second page: read again in a
        // new process.
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = scripted_engine(dir.path(), &streaming("4) kill -SEGV $$;;"), &streaming(""));
        let state = OcrState::new(Some(1));
        let got = read_each(&engine, &state, 3);
        let want = ["image 2\n", "image 2\n", "image 4\n"].map(|t| Some(t.to_string()));
        assert_eq!(got, want);
        assert_eq!(runs(dir.path()), "2");

        // Every process crashes on its first page: that page is reported,
        // with the signal, and the next one gets a process of its own.
        let dir = tempfile::tempdir().expect("tempdir");
        let crashing = streaming("2) kill -SEGV $$;;");
        let engine = scripted_engine(dir.path(), &crashing, &crashing);
        let got = read_each(&engine, &OcrState::new(Some(1)), 2);
        for verdict in &got {
            let verdict = verdict.as_deref().unwrap_or_default();
            assert!(verdict.contains("OCR engine failed"), "{got:?}");
            assert!(verdict.contains("SIGSEGV"), "{got:?}");
        }
        assert_eq!(runs(dir.path()), "2");
    }

    #[test]
    fn an_engine_that_does_not_stream_is_run_once_per_group() {
        // It reads all its input before answering: no answer to the
        // sentinels within the page's time, so pages go to runs of their
        // own, and no second process is tried.
        let dir = tempfile::tempdir().expect("tempdir");
        let engine = scripted_engine(dir.path(), "cat >/dev/null; echo late", "exit 1");
        let state = OcrState::new(Some(1));
        assert_eq!(read_each(&engine, &state, 2), [None, None]);
        assert_eq!(state.0.streams.load(Ordering::Acquire), STREAMS_NO);
        assert_eq!(runs(dir.path()), "1");
    }

    #[test]
    fn scan_page_limit_is_shared() {
        let state = OcrState::new(Some(1));
        assert!(state.reserve_page(2));
        assert!(state.clone().reserve_page(2));
        assert!(!state.reserve_page(2));
    }
}
