//! The OCR engine: the `tesseract` program, run once per page.
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
//! and the model load per page: about 0.1 s against the 1–3 s a page
//! takes (BENCHMARKS.md measures it).
//!
//! The page goes in on standard input as a TIFF or PBM image that we wrote
//! ourselves: Tesseract reads a buffer it cannot recognise as an image as
//! a *list of file names* to open, so it is never handed bytes from the
//! share. On Linux that input is an in-memory file (`memfd`) which the
//! engine opens by name (`/dev/stdin`): it reads a named file in bulk,
//! where its `stdin` argument reads a character at a time (about a tenth
//! of its time on a 300 dpi page). Nothing is written to disk either way.
//! The text comes back on standard output.

use std::io::{self, Read, Write};
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The Debian packages that provide the engine and its English model.
pub const PACKAGES: &str = "tesseract-ocr and tesseract-ocr-eng";

/// Most bytes of text kept from one page: a dense page is ~10 KB.
const MAX_TEXT: usize = 1 << 20;
/// Most bytes of the engine's diagnostics kept from one page.
const MAX_STDERR: usize = 16 << 10;
/// Time allowed for `tesseract --list-langs` when probing.
const PROBE_TIMEOUT: Duration = Duration::from_secs(20);

/// The installed engine: the program and the language it reads.
#[derive(Clone, Debug)]
pub struct Tesseract {
    program: PathBuf,
    language: String,
}

/// What running the engine on one page gave.
#[derive(Debug)]
pub enum PageRun {
    /// The page's text (possibly empty).
    Text(String),
    /// Stopped at the time limit.
    TimedOut,
    /// The engine failed: how (exit status or signal, its last words).
    Failed(String),
}

/// Bounds on one run of the engine.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    pub deadline: Instant,
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
            memory: 0,
        };
        let (out, err, status) = collect(&mut child, None, limits);
        let status = match status {
            Ok(Some(s)) if s.success() => s,
            Ok(Some(s)) => {
                return Err(format!(
                    "`tesseract --list-langs` failed ({}): {}",
                    describe(s),
                    last_line(&err)
                ))
            }
            Ok(None) => return Err("`tesseract --list-langs` did not answer in time".into()),
            Err(e) => return Err(format!("`tesseract --list-langs` failed: {e}")),
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

    fn command(&self) -> Command {
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

    /// Runs the engine on one page image (`page`: a TIFF, PGM or PBM file,
    /// as written by `prep`) at `dpi` (when known; the engine estimates it
    /// otherwise) within `limits`.
    pub fn run(&self, page: &[u8], dpi: Option<u32>, limits: RunLimits) -> PageRun {
        let mut command = self.command();
        let file = page_file(page);
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
            Err(e) => return PageRun::Failed(format!("could not be started: {e}")),
        };
        // The limits apply before the page is written: until then the
        // engine only loads its model, waiting for its input.
        let seconds = limits
            .deadline
            .saturating_duration_since(Instant::now())
            .as_secs();
        if let Err(e) = cap_child(&child, limits.memory, seconds.saturating_mul(2).max(5)) {
            kill(&mut child);
            return PageRun::Failed(format!("its resource limits could not be set: {e}"));
        }
        let (out, err, status) = collect(&mut child, piped.then_some(page), limits);
        match status {
            Ok(Some(s)) if s.success() => PageRun::Text(String::from_utf8_lossy(&out).into_owned()),
            Ok(Some(s)) => PageRun::Failed(format!("{} ({})", describe(s), last_line(&err))),
            Ok(None) => PageRun::TimedOut,
            Err(e) => PageRun::Failed(e.to_string()),
        }
    }
}

/// The page in an in-memory file, read from its start, for the engine's
/// standard input; `None` where there is no such file (the page is then
/// written to a pipe).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn page_file(page: &[u8]) -> Option<std::fs::File> {
    use std::io::{Seek, SeekFrom};
    let fd = rustix::fs::memfd_create(c"phiscan-ocr-page", rustix::fs::MemfdFlags::CLOEXEC).ok()?;
    let mut file = std::fs::File::from(fd);
    file.write_all(page).ok()?;
    file.seek(SeekFrom::Start(0)).ok()?;
    Some(file)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn page_file(_page: &[u8]) -> Option<std::fs::File> {
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

/// Caps the child's address space (`memory` bytes, 0 = none) and CPU time:
/// the CPU limit is a backstop for a child that outlives us (we are
/// interrupted while it runs), since only we would kill it at its deadline.
#[cfg(any(target_os = "linux", target_os = "android"))]
fn cap_child(child: &Child, memory: u64, cpu_seconds: u64) -> io::Result<()> {
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
    cap(Resource::Cpu, cpu_seconds)
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn cap_child(_child: &Child, _memory: u64, _cpu_seconds: u64) -> io::Result<()> {
    Ok(())
}

/// Kills the child and its process group, and reaps it.
fn kill(child: &mut Child) {
    if let Some(pid) = i32::try_from(child.id())
        .ok()
        .and_then(rustix::process::Pid::from_raw)
    {
        let _ = rustix::process::kill_process_group(pid, rustix::process::Signal::KILL);
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// Feeds `input` to the child, reads its output and diagnostics (bounded:
/// the rest is drained and dropped), and waits for it until the deadline,
/// past which it is killed (`Ok(None)`).
fn collect(
    child: &mut Child,
    input: Option<&[u8]>,
    limits: RunLimits,
) -> (Vec<u8>, Vec<u8>, io::Result<Option<ExitStatus>>) {
    let stdin = child.stdin.take();
    let stdout = child.stdout.take();
    let stderr = child.stderr.take();
    let (done_tx, done_rx) = mpsc::channel::<()>();
    std::thread::scope(|s| {
        if let (Some(mut pipe), Some(input)) = (stdin, input) {
            // A child that dies or stops reading ends this with an error
            // (broken pipe), which its exit status explains.
            s.spawn(move || {
                let _ = pipe.write_all(input);
            });
        }
        let err = s.spawn(move || read_bounded(stderr, MAX_STDERR));
        let out = s.spawn(move || {
            let out = read_bounded(stdout, MAX_TEXT);
            let _ = done_tx.send(());
            out
        });
        // Output ends when the child exits (or closes it): no polling
        // while it works.
        let remaining = limits.deadline.saturating_duration_since(Instant::now());
        let _ = done_rx.recv_timeout(remaining);
        let status = wait_until(child, limits.deadline);
        if !matches!(status, Ok(Some(_))) {
            kill(child);
        }
        let out = out.join().unwrap_or_default();
        let err = err.join().unwrap_or_default();
        (out, err, status)
    })
}

/// Waits for the child until `deadline`: `Ok(None)` when it is still
/// running then.
fn wait_until(child: &mut Child, deadline: Instant) -> io::Result<Option<ExitStatus>> {
    let mut pause = Duration::from_millis(1);
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(Some(status));
        }
        let now = Instant::now();
        if now >= deadline {
            return Ok(None);
        }
        std::thread::sleep(pause.min(deadline - now));
        pause = (pause * 2).min(Duration::from_millis(20));
    }
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
fn describe(status: ExitStatus) -> String {
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
fn last_line(stderr: &[u8]) -> String {
    let text = String::from_utf8_lossy(stderr);
    let line = text
        .lines()
        .rev()
        .map(str::trim)
        .find(|l| !l.is_empty())
        .unwrap_or("no diagnostics");
    line.chars().take(200).collect()
}
