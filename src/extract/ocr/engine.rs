//! The OCR engine: the `tesseract` program, run once per group of pages
//! here, or kept for many pages ([`super::session`]) where it can be.
//!
//! Why the program and not the library: the engine reads pages that come
//! from hostile shares, and a crash, a hang or a runaway allocation in
//! Tesseract or Leptonica must cost one page, not the scan. A child
//! process gets that from the kernel: it is killed (with its process
//! group) when its time is up, its address space and CPU time are capped
//! with `prlimit`, and whatever it does to its own memory stays there. In
//! process, the library would share our address space (a crash is ours),
//! could not be stopped mid-page, and its OpenMP runtime reads
//! `OMP_THREAD_LIMIT` only when it loads. The price is one `fork`/`exec`
//! and the model load per process, about 0.13 s: a [`super::session`]
//! pays it once per worker for the scan; here, pages of one file go in
//! together as one multi-page TIFF, so a fax pays it once per worker, not
//! once per page (BENCHMARKS.md measures it).
//!
//! The pages go in on standard input as a TIFF that we wrote ourselves: Tesseract reads a buffer it cannot recognise as an image as
//! a *list of file names* to open, so it is never handed bytes from the
//! share. On Linux that input is an in-memory file (`memfd`) which the
//! engine opens by name (`/dev/stdin`): it reads a named file in bulk,
//! where its `stdin` argument reads a character at a time (about a tenth
//! of its time on a 300 dpi page). Nothing is written to disk either way.
//! The text comes back on standard output.

use super::tiff_writer::{tiff_pages, TiffPage};
use std::io::{self, BufRead, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The Debian packages that provide the engine and its English model.
pub const PACKAGES: &str = "tesseract-ocr and tesseract-ocr-eng";

/// Most bytes of text kept from one page: a dense page is ~10 KB.
pub(super) const MAX_TEXT: usize = 1 << 20;
/// Most bytes of the engine's diagnostics kept from one page.
pub(super) const MAX_STDERR: usize = 16 << 10;
/// Time allowed for `tesseract --list-langs` when probing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The installed engine: the program and the language it reads.
#[derive(Clone, Debug)]
pub struct Tesseract {
    program: PathBuf,
    language: String,
}

/// What running the engine on a group of pages gave.
#[derive(Debug)]
pub enum PageRun {
    /// Each page's text (possibly empty), in order.
    Text(Vec<String>),
    /// Stopped at a time limit.
    TimedOut(Timeout),
    /// The engine failed: how (exit status or signal, its last words).
    Failed(String),
}

/// Which limit stopped a run, and on which page.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timeout {
    /// The page being read then (0-based), when known: the engine names
    /// each page of a multi-page image as it begins it.
    pub page: Option<usize>,
    /// The run's deadline, not the time allowed for one page.
    pub deadline: bool,
}

/// Bounds on one run of the engine.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    /// When the run is stopped, whatever page it is on.
    pub deadline: Instant,
    /// Time allowed for each page, counted from when the engine begins it
    /// (the first from the start of the run).
    pub page_time: Option<Duration>,
    /// Address space of the engine process, in bytes (0 = unlimited).
    pub memory: u64,
}

impl Tesseract {
    /// Finds `tesseract` on `PATH` and checks that it reads English.
    /// `Err` says what is missing and what to install.
    pub fn probe() -> Result<Tesseract, String> {
        let program = find_on_path("tesseract").ok_or_else(|| {
            format!("the tesseract program was not found on PATH (install {PACKAGES})")
        })?;
        let engine = Tesseract {
            program,
            language: "eng".into(),
        };
        let mut child = engine
            .command()
            .arg("--list-langs")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{} could not be started: {e}", engine.program.display()))?;
        let limits = RunLimits {
            deadline: Instant::now() + PROBE_TIMEOUT,
            page_time: None,
            memory: 0,
        };
        let (out, err, status) = collect(&mut child, None, limits);
        let status = match status {
            Ok(s) if s.success() => s,
            Ok(s) => {
                return Err(format!(
                    "`tesseract --list-langs` failed ({}): {}",
                    describe(s),
                    last_line(&err)
                ))
            }
            Err(Stop::TimedOut(_)) => {
                return Err("`tesseract --list-langs` did not answer in time".into())
            }
            Err(Stop::Io(e)) => return Err(format!("`tesseract --list-langs` failed: {e}")),
        };
        let _ = status;
        // Listed on stdout by Tesseract 4 and 5 (on stderr by some 3.x).
        let listed = String::from_utf8_lossy(&out) + String::from_utf8_lossy(&err);
        if !listed.lines().any(|l| l.trim() == engine.language) {
            return Err(format!(
                "tesseract has no English model (install tesseract-ocr-eng); it lists: {}",
                listed
                    .lines()
                    .skip(1)
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ")
            ));
        }
        Ok(engine)
    }

    /// An engine that is the given program (tests stand in scripts that
    /// hang, crash or lose pages).
    #[cfg(test)]
    pub(crate) fn with_program(program: PathBuf) -> Tesseract {
        Tesseract {
            program,
            language: "eng".into(),
        }
    }

    /// The language the engine reads.
    pub(super) fn language(&self) -> &str {
        &self.language
    }

    pub(super) fn command(&self) -> Command {
        let mut command = Command::new(&self.program);
        // One thread per page: Debian's build uses OpenMP, whose own
        // threads make it several times slower when pages already run
        // one per core.
        command
            .env("OMP_THREAD_LIMIT", "1")
            // Its own group: a wrapper script's children are killed with it.
            .process_group(0);
        command
    }

    /// Runs the engine once on `pages` within `limits`. A page's stated
    /// resolution goes in its image; it is also given on the command line
    /// when every page has the same one (the engine estimates it where
    /// there is none). The output must hold one text per page, or the run
    /// counts as failed.
    pub fn run(&self, pages: &[TiffPage<'_>], limits: RunLimits) -> PageRun {
        let Some(image) = tiff_pages(pages) else {
            return PageRun::Failed("the page image could not be written (too large)".into());
        };
        let dpi = pages[0]
            .dpi
            .filter(|d| pages.iter().all(|p| p.dpi == Some(*d)));
        match self.run_image(&image, pages.len(), dpi, limits) {
            Ok(text) => match split_pages(&text, pages.len()) {
                Some(texts) => PageRun::Text(texts),
                None => PageRun::Failed(format!(
                    "its output did not hold {} pages ({} page separators)",
                    pages.len(),
                    text.matches(PAGE_SEPARATOR).count()
                )),
            },
            Err(stopped) => stopped,
        }
    }

    /// Runs the engine on an image file of `pages` pages (a TIFF, as
    /// written by [`tiff_pages`]): its whole output, or why there is none
    /// (a [`PageRun`] that is not `Text`).
    fn run_image(
        &self,
        image: &[u8],
        pages: usize,
        dpi: Option<u32>,
        limits: RunLimits,
    ) -> Result<String, PageRun> {
        let mut command = self.command();
        let file = image_file(image);
        let input = if file.is_some() {
            "/dev/stdin"
        } else {
            "stdin"
        };
        // Page segmentation 4 (one column of lines of any size), not the
        // default 3 (automatic blocks): forms put labels and values in two
        // columns, and read as separate blocks a label lost its value
        // (tests/it/ocr.rs, forms rendered by poppler and Ghostscript).
        command.args([input, "stdout", "-l", &self.language, "--psm", "4"]);
        if let Some(dpi) = dpi {
            command.args(["--dpi", &dpi.to_string()]);
        }
        let piped = file.is_none();
        let stdin = match file {
            Some(file) => Stdio::from(file),
            None => Stdio::piped(),
        };
        let spawned = command
            .stdin(stdin)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return Err(PageRun::Failed(format!("could not be started: {e}"))),
        };
        // The limits apply before the image is written: until then the
        // engine only loads its model, waiting for its input.
        let cpu_seconds = cpu_allowance(limits, pages);
        if let Err(e) = cap_child(&child, limits.memory, Some(cpu_seconds)) {
            kill(&mut child);
            return Err(PageRun::Failed(format!(
                "its resource limits could not be set: {e}"
            )));
        }
        let (out, err, status) = collect(&mut child, piped.then_some(image), limits);
        match status {
            Ok(s) if s.success() => Ok(String::from_utf8_lossy(&out).into_owned()),
            Ok(s) => Err(PageRun::Failed(format!(
                "{} ({})",
                describe(s),
                last_line(&err)
            ))),
            Err(Stop::TimedOut(mut timeout)) => {
                // A one-page run names no page: it is that page.
                if pages == 1 {
                    timeout.page = Some(0);
                }
                Err(PageRun::TimedOut(timeout))
            }
            Err(Stop::Io(e)) => Err(PageRun::Failed(e.to_string())),
        }
    }
}

/// CPU seconds a run of `pages` pages may use: twice the time it is
/// allowed (one engine thread, so only a runaway process reaches it), at
/// least 5.
pub(super) fn cpu_allowance(limits: RunLimits, pages: usize) -> u64 {
    let mut allowed = limits.deadline.saturating_duration_since(Instant::now());
    if let Some(page_time) = limits.page_time {
        allowed = allowed.min(page_time.saturating_mul(pages.max(1) as u32));
    }
    allowed.as_secs().saturating_mul(2).max(5)
}

/// What the engine's text output puts between pages (its
/// `page_separator`, a form feed by default).
const PAGE_SEPARATOR: char = '\u{c}';

/// The engine's output cut into the texts of `pages` pages: Tesseract 5
/// puts the separator between pages, 4 after each; any other count means
/// a page was lost (one the engine could not read), and `None` is
/// returned rather than texts put on the wrong pages.
fn split_pages(text: &str, pages: usize) -> Option<Vec<String>> {
    let mut texts: Vec<String> = text.split(PAGE_SEPARATOR).map(str::to_string).collect();
    if texts.len() == pages + 1 && texts.last().is_some_and(|t| t.trim().is_empty()) {
        texts.pop();
    }
    (texts.len() == pages).then_some(texts)
}

/// The image in an in-memory file, read from its start, for the engine's
/// standard input; `None` where there is no such file (the page is then
/// written to a pipe).
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn image_file(image: &[u8]) -> Option<std::fs::File> {
    use std::io::{Seek, SeekFrom};
    let fd =
        rustix::fs::memfd_create(c"phiscan-ocr-pages", rustix::fs::MemfdFlags::CLOEXEC).ok()?;
    let mut file = std::fs::File::from(fd);
    file.write_all(image).ok()?;
    file.seek(SeekFrom::Start(0)).ok()?;
    Some(file)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn image_file(_image: &[u8]) -> Option<std::fs::File> {
    None
}

/// `name` in the first `PATH` folder that has it as a file.
fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|p| p.is_file())
}

/// Caps the child's address space (`memory` bytes, 0 = none) and CPU time
/// (`cpu_seconds`, soft and hard; `None` leaves it to the caller):
/// the CPU limit is a backstop for a child that outlives us (we are
/// interrupted while it runs), since only we would kill it at its deadline.
#[cfg(any(target_os = "linux", target_os = "android"))]
pub(super) fn cap_child(child: &Child, memory: u64, cpu_seconds: Option<u64>) -> io::Result<()> {
    use rustix::process::{prlimit, Pid, Resource, Rlimit};
    let pid = i32::try_from(child.id())
        .ok()
        .and_then(Pid::from_raw)
        .ok_or_else(|| io::Error::other("child has no valid pid"))?;
    let cap = |resource, value: u64| {
        prlimit(
            Some(pid),
            resource,
            Rlimit {
                current: Some(value),
                maximum: Some(value),
            },
        )
        .map(|_| ())
        .map_err(io::Error::from)
    };
    if memory > 0 {
        cap(Resource::As, memory)?;
    }
    match cpu_seconds {
        Some(seconds) => cap(Resource::Cpu, seconds),
        None => Ok(()),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
pub(super) fn cap_child(_child: &Child, _memory: u64, _cpu_seconds: Option<u64>) -> io::Result<()> {
    Ok(())
}

/// Kills the child and its process group, and reaps it.
pub(super) fn kill(child: &mut Child) {
    if let Some(pid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Why a run has no exit status.
enum Stop {
    TimedOut(Timeout),
    Io(io::Error),
}

/// How far the engine has got: the pages it has begun (it writes
/// `Page N` on its diagnostics as it begins page N of a multi-page image)
/// and when it began the last one, in nanoseconds from the run's start.
struct Progress {
    started: Instant,
    pages_begun: AtomicUsize,
    last_begun: AtomicU64,
}

impl Progress {
    /// When the run is to be stopped, as far as is known now, and whether
    /// that is the run's deadline (not a page's time).
    fn stop_at(&self, limits: RunLimits) -> (Instant, bool) {
        let Some(page_time) = limits.page_time else {
            return (limits.deadline, true);
        };
        let begun = self.started + Duration::from_nanos(self.last_begun.load(Ordering::Acquire));
        let page_end = begun + page_time;
        if limits.deadline <= page_end {
            (limits.deadline, true)
        } else {
            (page_end, false)
        }
    }

    /// Reads one line of the engine's diagnostics for progress.
    fn note(&self, line: &[u8]) {
        let line = String::from_utf8_lossy(line);
        let number = line
            .trim()
            .strip_prefix("Page ")
            .and_then(|n| n.parse::<usize>().ok());
        if let Some(n) = number {
            let nanos = u64::try_from(self.started.elapsed().as_nanos()).unwrap_or(u64::MAX);
            self.last_begun.store(nanos, Ordering::Release);
            self.pages_begun.store(n, Ordering::Release);
        }
    }
}

/// Feeds `input` to the child, reads its output and diagnostics (bounded:
/// the rest is drained and dropped), and waits for it until a limit is
/// reached, when it is killed.
fn collect(
    child: &mut Child,
    input: Option<&[u8]>,
    limits: RunLimits,
) -> (Vec<u8>, Vec<u8>, Result<ExitStatus, Stop>) {
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let progress = Progress {
        started: Instant::now(),
        pages_begun: AtomicUsize::new(0),
        last_begun: AtomicU64::new(0),
    };
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        if let (Some(mut pipe), Some(input)) = (stdin, input) {
            // A child that dies or stops reading ends this with an error
            // (broken pipe), which its exit status explains.
            s.spawn(move || {
                let _ = pipe.write_all(input);
            });
        }
        let progress = &progress;
        let err = s.spawn(move || read_diagnostics(stderr, progress));
        let out = s.spawn(move || {
            let out = read_bounded(stdout, MAX_TEXT);
            let _ = done_tx.send(());
            out
        });
        // Output ends when the child exits (or closes it): no polling
        // while it works, but a look at its progress now and then, since
        // each page it begins moves the time it is stopped at.
        let timed_out = loop {
            let (stop_at, _) = progress.stop_at(limits);
            let now = Instant::now();
            if now >= stop_at {
                break true;
            }
            match done_rx.recv_timeout((stop_at - now).min(Duration::from_millis(250))) {
                Err(mpsc::RecvTimeoutError::Timeout) => continue,
                _ => break false,
            }
        };
        let status = if timed_out {
            Ok(None)
        } else {
            wait_until(child, || progress.stop_at(limits).0)
        };
        // What was known when the run was stopped: a line read after the
        // kill must not move the blame to a page begun just before it.
        let stopped = Timeout {
            page: progress.pages_begun.load(Ordering::Acquire).checked_sub(1),
            deadline: progress.stop_at(limits).1,
        };
        if !matches!(status, Ok(Some(_))) {
            kill(child);
        }
        let out = out.join().unwrap_or_default();
        let err = err.join().unwrap_or_default();
        let status = match status {
            Ok(Some(status)) => Ok(status),
            Ok(None) => Err(Stop::TimedOut(stopped)),
            Err(e) => Err(Stop::Io(e)),
        };
        (out, err, status)
    })
}

/// Waits for the child until `stop_at()`: `Ok(None)` when it is still
/// running then.
fn wait_until(child: &mut Child, stop_at: impl Fn() -> Instant) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        let deadline = stop_at();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
}

/// The engine's diagnostics, line by line: progress noted, the first
/// [`MAX_STDERR`] bytes kept, the rest drained and dropped.
fn read_diagnostics(pipe: Option<impl Read>, progress: &Progress) -> Vec<u8> {
    let mut kept = Vec::new();
    let Some(pipe) = pipe else {
        return kept;
    };
    let mut reader = io::BufReader::new(pipe);
    let mut line = Vec::new();
    loop {
        line.clear();
        // Lines are bounded too: a line longer than this is read in parts.
        match reader.by_ref().take(4096).read_until(b'\n', &mut line) {
            Ok(0) | Err(_) => break,
            Ok(_) => {
                progress.note(&line);
                let room = MAX_STDERR.saturating_sub(kept.len());
                kept.extend_from_slice(&line[..line.len().min(room)]);
            }
        }
    }
    kept
}

/// Up to `max` bytes of `pipe`; the rest is read and dropped, so that the
/// writer never blocks on a full pipe.
fn read_bounded(pipe: Option<impl Read>, max: usize) -> Vec<u8> {
    let mut kept = Vec::new();
    if let Some(mut pipe) = pipe {
        let _ = pipe.by_ref().take(max as u64).read_to_end(&mut kept);
        let _ = io::copy(&mut pipe, &mut io::sink());
    }
    kept
}

/// An exit status in words: the code, or the signal that ended it.
pub(super) fn describe(status: ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exit status {code}"),
        (None, Some(signal)) => {
            let name = match signal {
                6 => " (SIGABRT: out of memory or an assertion)",
                9 => " (SIGKILL)",
                11 => " (SIGSEGV)",
                24 => " (SIGXCPU: CPU time limit)",
                _ => "",
            };
            format!("killed by signal {signal}{name}")
        }
        (None, None) => "ended abnormally".into(),
    }
}

/// The last non-empty line of the engine's diagnostics, for a reason.
pub(super) fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no diagnostics");
    line.chars().take(200).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_is_cut_into_pages_or_refused() {
        let texts = |t: &str, n| split_pages(t, n);
        // Tesseract 5: between pages; 4: after each.
        assert_eq!(
            texts("a\n\u{c}b\n\u{c}c\n", 3).unwrap(),
            ["a\n", "b\n", "c\n"]
        );
        assert_eq!(
            texts("a\n\u{c}b\n\u{c}c\n\u{c}", 3).unwrap(),
            ["a\n", "b\n", "c\n"]
        );
        // Empty pages keep their place.
        assert_eq!(texts("\u{c}\u{c}c", 3).unwrap(), ["", "", "c"]);
        assert_eq!(texts("only\n", 1).unwrap(), ["only\n"]);
        // A page lost, or one too many: not guessed.
        assert!(texts("a\u{c}b", 3).is_none());
        assert!(texts("a\u{c}b\u{c}c\u{c}d", 3).is_none());
    }

    #[test]
    fn each_page_begun_moves_the_stop_time_but_never_past_the_deadline() {
        let started = Instant::now();
        let progress = Progress {
            started,
            pages_begun: AtomicUsize::new(0),
            last_begun: AtomicU64::new(0),
        };
        let limits = RunLimits {
            deadline: started + Duration::from_secs(100),
            page_time: Some(Duration::from_secs(30)),
            memory: 0,
        };
        assert_eq!(
            progress.stop_at(limits),
            (started + Duration::from_secs(30), false)
        );
        // Not a progress line: nothing moves.
        progress.note(b"Estimating resolution as 301\n");
        progress.note(b"Pages 3\n");
        assert_eq!(progress.pages_begun.load(Ordering::Acquire), 0);
        std::thread::sleep(Duration::from_millis(5));
        progress.note(b"Page 2\n");
        assert_eq!(progress.pages_begun.load(Ordering::Acquire), 2);
        let (stop_at, deadline) = progress.stop_at(limits);
        assert!(stop_at > started + Duration::from_secs(30) && !deadline);
        // Near the deadline, the deadline is what stops it.
        progress.last_begun.store(90_000_000_000, Ordering::Release);
        assert_eq!(progress.stop_at(limits), (limits.deadline, true));
        let no_page_time = RunLimits {
            page_time: None,
            ..limits
        };
        assert_eq!(progress.stop_at(no_page_time), (limits.deadline, true));
    }
}
