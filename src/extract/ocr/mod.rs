//! OCR: page images (scans, faxes, photos, burned-in DICOM frames) → text,
//! matched like any other text.
//!
//! Extractors hand over a [`PageSource`]; [`read_pages`] reads its pages
//! in parallel on the worker pool (one engine process per page, at most
//! one per worker: [`OcrState`] holds the slots), within the limits of
//! [`OcrSettings`], and then matches each page's text in page order with
//! `field` = `page N`. Every page not read is reported, with its reason:
//! OCR off or unavailable, a page or scan limit, the engine's time limit,
//! an engine failure, an image that could not be decoded.

pub mod engine;
pub mod fax3;
pub mod pdf_pages;
pub mod prep;

use super::{reason_of, Ctx, Location};
use crate::error::ExtractError;
use crate::report::{Event, OcrWork, SkipReason};
use engine::{PageRun, RunLimits, Tesseract};
use rayon::prelude::*;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex, OnceLock};
use std::time::{Duration, Instant};

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
}

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
/// connection workers).
struct Slots {
    free: Mutex<usize>,
    freed: Condvar,
}

struct Slot<'a>(&'a Slots);

impl Slots {
    fn new(n: usize) -> Slots {
        Slots {
            free: Mutex::new(n.max(1)),
            freed: Condvar::new(),
        }
    }

    fn acquire(&self) -> Slot<'_> {
        let mut free = self.free.lock().unwrap_or_else(|p| p.into_inner());
        while *free == 0 {
            free = self.freed.wait(free).unwrap_or_else(|p| p.into_inner());
        }
        *free -= 1;
        Slot(self)
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        let mut free = self.0.free.lock().unwrap_or_else(|p| p.into_inner());
        *free += 1;
        self.0.freed.notify_one();
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
    let outcomes: Vec<(usize, PageOutcome)> = to_read
        .par_iter()
        .map(|&page| {
            let outcome = read_page(&engine, &state, settings, source, page, deadline);
            (page, outcome)
        })
        .collect();
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

/// Reads one page: within the scan's page limit and the file's time
/// limit, in one of the engine slots.
fn read_page(
    engine: &Tesseract,
    state: &OcrState,
    settings: &OcrSettings,
    source: &dyn PageSource,
    page: usize,
    file_deadline: Option<Instant>,
) -> PageOutcome {
    let out_of_file_time = |now: Instant| file_deadline.is_some_and(|d| now >= d);
    if out_of_file_time(Instant::now()) {
        return PageOutcome::Skipped(ExtractError::Limit(
            "the file's time limit was reached before this page was read".into(),
        ));
    }
    if !state.reserve_page(settings.max_pages_per_scan) {
        return PageOutcome::Skipped(ExtractError::Limit(format!(
            "more than {} pages read in this scan (--ocr-max-pages-total)",
            settings.max_pages_per_scan
        )));
    }
    let _slot = state.0.slots.acquire();
    let started = Instant::now();
    if out_of_file_time(started) {
        return PageOutcome::Skipped(ExtractError::Limit(
            "the file's time limit was reached before this page was read".into(),
        ));
    }
    let image = match source.load(page) {
        Ok(image) => image,
        Err(e) => return PageOutcome::Skipped(e),
    };
    let prepared = prep::prepare(image, prep::Steps::default());
    let page_deadline = started + Duration::from_secs(settings.page_seconds.max(1));
    let deadline = match file_deadline {
        Some(d) if d < page_deadline => d,
        _ => page_deadline,
    };
    let limits = RunLimits {
        deadline,
        memory: settings.page_memory_mib.saturating_mul(1 << 20),
    };
    let run = engine.run(&prepared.encoded, prepared.dpi, limits);
    let engine_time = started.elapsed();
    match run {
        PageRun::Text(text) => PageOutcome::Read { text, engine_time },
        PageRun::TimedOut if deadline < page_deadline => PageOutcome::Skipped(ExtractError::Limit(
            "the file's time limit was reached while OCR read this page".into(),
        )),
        PageRun::TimedOut => PageOutcome::Skipped(ExtractError::Limit(format!(
            "OCR stopped after {} s (time limit per page)",
            settings.page_seconds.max(1)
        ))),
        PageRun::Failed(why) => PageOutcome::Skipped(ExtractError::OcrFailed(format!(
            "the OCR engine failed: {why}"
        ))),
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
    fn scan_page_limit_is_shared() {
        let state = OcrState::new(Some(1));
        assert!(state.reserve_page(2));
        assert!(state.clone().reserve_page(2));
        assert!(!state.reserve_page(2));
    }
}
