//! One engine process kept for many pages: its model is loaded once per
//! engine slot for the whole scan, not once per file.
//!
//! With `stream_filelist` set, `tesseract` reads image names from its
//! standard input one line at a time, reads each named image as the line
//! arrives, and writes the page's text as soon as it is done (a page
//! separator before every page but the first). So a page's text is known
//! to be whole only when the next page's separator arrives: every page is
//! followed by a blank page (the *sentinel*, a few milliseconds of work),
//! whose separator closes the page before it.
//!
//! Pages are TIFFs that we wrote, in in-memory files (`memfd`) that the
//! engine opens by the name `/proc/<our pid>/fd/<n>`: nothing is written
//! to disk, and the engine is never handed bytes from the share. A page
//! past its time limit, a crash, or anything unexpected on the engine's
//! output ends the process (with its process group); the slot starts a
//! new one for its next page. Address space is capped once, CPU time
//! before each page (the cap is a backstop for an engine that outlives
//! us; the per-page time limit is ours to enforce).

use super::engine::{
    cap_child, cpu_allowance, describe, image_file, kill, last_line, PageRun, RunLimits, Tesseract,
    Timeout, MAX_STDERR, MAX_TEXT,
};
use super::prep::Raster;
use super::tiff_writer::{tiff_pages, TiffPage};
use std::collections::VecDeque;
use std::fs::File;
use std::io::{self, Read, Write};
use std::process::{Child, ChildStdin, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the engine writes before each page's text after the first.
const SEPARATOR: u8 = 0x0c;

/// A running engine that reads pages on request.
pub struct Session {
    child: Child,
    stdin: ChildStdin,
    /// The engine's standard output, as read by a thread of its own.
    output: mpsc::Receiver<Vec<u8>>,
    /// The last of its diagnostics, for the reason when it fails.
    diagnostics: Arc<Mutex<Vec<u8>>>,
    sentinel: File,
    cutter: Cutter,
    /// Images named to the engine so far (pages and sentinels).
    images: usize,
}

impl Session {
    /// Starts the engine and waits until it has read two sentinels: only
    /// then is it known to stream (an engine without `stream_filelist`
    /// reads its whole input first and answers nothing). `Err` is why not.
    pub fn start(engine: &Tesseract, limits: RunLimits) -> Result<Session, PageRun> {
        let blank = Raster {
            width: 32,
            height: 32,
            bilevel: true,
            data: vec![0; 4 * 32],
        };
        let sentinel = tiff_pages(&[TiffPage {
            raster: &blank,
            dpi: Some(300),
        }])
        .and_then(|tiff| image_file(&tiff))
        .ok_or_else(|| PageRun::Failed("no in-memory file for the engine's pages".into()))?;
        let mut command = engine.command();
        command
            .args(["stdin", "stdout", "-l", engine.language(), "--psm", "4"])
            .args(["-c", "stream_filelist=1"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = command
            .spawn()
            .map_err(|e| PageRun::Failed(format!("could not be started: {e}")))?;
        // CPU time is capped before each request instead (soft limit only,
        // so that it can be moved up again without privileges).
        if let Err(e) = cap_child(&child, limits.memory, None) {
            kill(&mut child);
            return Err(PageRun::Failed(format!(
                "its resource limits could not be set: {e}"
            )));
        }
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            kill(&mut child);
            return Err(PageRun::Failed("its pipes could not be opened".into()));
        };
        let (sender, output) = mpsc::channel();
        std::thread::spawn(move || forward_output(stdout, sender));
        let diagnostics = Arc::new(Mutex::new(Vec::new()));
        let kept = Arc::clone(&diagnostics);
        std::thread::spawn(move || keep_diagnostics(stderr, &kept));
        let mut session = Session {
            child,
            stdin,
            output,
            diagnostics,
            sentinel,
            cutter: Cutter::default(),
            images: 0,
        };
        session.refresh_cpu_cap(limits);
        let sentinel = name_of(&session.sentinel);
        session.read_image(&sentinel, limits).map(|_| session)
    }

    /// Reads one page within `limits`: its text, or why there is none.
    /// After anything but `Text` the process is gone and the session must
    /// be dropped.
    pub fn read(&mut self, page: &TiffPage<'_>, limits: RunLimits) -> PageRun {
        let Some(file) = tiff_pages(std::slice::from_ref(page)).and_then(|t| image_file(&t)) else {
            return PageRun::Failed("the page image could not be written (too large)".into());
        };
        self.refresh_cpu_cap(limits);
        match self.read_image(&name_of(&file), limits) {
            Ok(text) => PageRun::Text(vec![text]),
            Err(stopped) => stopped,
        }
    }

    /// Names `image` and a sentinel to the engine and waits for the
    /// image's text (until the sentinel's separator).
    fn read_image(&mut self, image: &str, limits: RunLimits) -> Result<String, PageRun> {
        let wanted = self.images;
        let request = format!("{image}\n{}\n", name_of(&self.sentinel));
        self.images += 2;
        if let Err(e) = self
            .stdin
            .write_all(request.as_bytes())
            .and_then(|()| self.stdin.flush())
        {
            return Err(self.failed(&format!("it stopped reading its input ({e})")));
        }
        let stop_at = match limits.page_time {
            Some(page_time) => limits.deadline.min(Instant::now() + page_time),
            None => limits.deadline,
        };
        loop {
            if let Some(text) = self.cutter.take(wanted) {
                return Ok(String::from_utf8_lossy(&text).into_owned());
            }
            let now = Instant::now();
            if now >= stop_at {
                kill(&mut self.child);
                return Err(PageRun::TimedOut(Timeout {
                    page: Some(0),
                    deadline: stop_at == limits.deadline,
                }));
            }
            match self.output.recv_timeout(stop_at - now) {
                Ok(bytes) => self.cutter.feed(&bytes),
                Err(RecvTimeoutError::Timeout) => continue,
                Err(RecvTimeoutError::Disconnected) => {
                    return Err(self.failed("its output ended"));
                }
            }
        }
    }

    /// The engine failed: it is stopped, and the reason is its exit status
    /// and last words when it has ended by itself within a moment.
    fn failed(&mut self, what: &str) -> PageRun {
        let ended = (0..50).find_map(|_| match self.child.try_wait() {
            Ok(Some(status)) => Some(status),
            Ok(None) => {
                std::thread::sleep(Duration::from_millis(10));
                None
            }
            Err(_) => None,
        });
        kill(&mut self.child);
        // Its diagnostics thread has read what was written before the end.
        std::thread::sleep(Duration::from_millis(5));
        let last = {
            let kept = self.diagnostics.lock().unwrap_or_else(|p| p.into_inner());
            last_line(&kept)
        };
        match ended {
            Some(status) => PageRun::Failed(format!("{} ({last})", describe(status))),
            None => PageRun::Failed(format!("{what} ({last})")),
        }
    }

    /// Moves the CPU time cap to what the engine has used plus what one
    /// page may take (`RLIMIT_CPU` counts the whole life of a process).
    fn refresh_cpu_cap(&self, limits: RunLimits) {
        #[cfg(any(target_os = "linux", target_os = "android"))]
        {
            use rustix::process::{getrlimit, prlimit, Pid, Resource, Rlimit};
            let Some(pid) = i32::try_from(self.child.id()).ok().and_then(Pid::from_raw) else {
                return;
            };
            let Some(used) = cpu_seconds_used(self.child.id()) else {
                return;
            };
            let hard = getrlimit(Resource::Cpu).maximum;
            let soft = used.saturating_add(cpu_allowance(limits, 1));
            let soft = hard.map_or(soft, |h| soft.min(h));
            let _ = prlimit(
                Some(pid),
                Resource::Cpu,
                Rlimit {
                    current: Some(soft),
                    maximum: hard,
                },
            );
        }
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        kill(&mut self.child);
    }
}

/// CPU seconds a process has used (user and system), from `/proc`.
#[cfg(any(target_os = "linux", target_os = "android"))]
#[allow(unsafe_code)]
fn cpu_seconds_used(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which may hold spaces and brackets:
    // the 12th and 13th are user and system time in clock ticks.
    let rest = &stat[stat.rfind(')')? + 1..];
    let mut fields = rest.split_whitespace().skip(11);
    let user: u64 = fields.next()?.parse().ok()?;
    let system: u64 = fields.next()?.parse().ok()?;
    // SAFETY: sysconf reads a constant of the system; no memory is passed.
    let ticks = unsafe { libc::sysconf(libc::_SC_CLK_TCK) };
    let ticks = u64::try_from(ticks).ok().filter(|&t| t > 0).unwrap_or(100);
    Some((user + system).div_ceil(ticks))
}

/// The name by which the engine opens one of our in-memory files.
fn name_of(file: &File) -> String {
    use std::os::fd::AsRawFd;
    format!("/proc/{}/fd/{}", std::process::id(), file.as_raw_fd())
}

/// Sends the engine's output on as it comes, until it ends.
fn forward_output(mut stdout: impl Read, sender: mpsc::Sender<Vec<u8>>) {
    let mut buffer = vec![0; 64 << 10];
    loop {
        match stdout.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                if sender.send(buffer[..n].to_vec()).is_err() {
                    break;
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

/// Keeps the last [`MAX_STDERR`] bytes or so of the engine's diagnostics.
fn keep_diagnostics(mut stderr: impl Read, kept: &Mutex<Vec<u8>>) {
    let mut buffer = vec![0; 4096];
    loop {
        match stderr.read(&mut buffer) {
            Ok(0) => break,
            Ok(n) => {
                let mut kept = kept.lock().unwrap_or_else(|p| p.into_inner());
                kept.extend_from_slice(&buffer[..n]);
                if kept.len() > 2 * MAX_STDERR {
                    let cut = kept.len() - MAX_STDERR;
                    kept.drain(..cut);
                }
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(_) => break,
        }
    }
}

/// The engine's output cut into the texts of the images named to it, in
/// order: image `n`'s text is complete when separator `n + 1` arrives.
#[derive(Default)]
struct Cutter {
    /// The image whose text is arriving.
    image: usize,
    current: Vec<u8>,
    /// Texts complete and not yet taken (a few at most: a sentinel's).
    complete: VecDeque<(usize, Vec<u8>)>,
}

impl Cutter {
    fn feed(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let end = bytes
                .iter()
                .position(|&b| b == SEPARATOR)
                .unwrap_or(bytes.len());
            // Bounded: what a page writes past the limit is dropped.
            let room = MAX_TEXT.saturating_sub(self.current.len());
            self.current.extend_from_slice(&bytes[..end.min(room)]);
            if end < bytes.len() {
                let text = std::mem::take(&mut self.current);
                self.complete.push_back((self.image, text));
                if self.complete.len() > 4 {
                    self.complete.pop_front();
                }
                self.image += 1;
                bytes = &bytes[end + 1..];
            } else {
                bytes = &[];
            }
        }
    }

    /// Image `n`'s text when it is complete; texts before it are dropped.
    fn take(&mut self, n: usize) -> Option<Vec<u8>> {
        while let Some((image, _)) = self.complete.front() {
            if *image < n {
                self.complete.pop_front();
            } else if *image == n {
                return self.complete.pop_front().map(|(_, text)| text);
            } else {
                return None;
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_is_cut_at_separators_whatever_the_pieces() {
        let output = b"page one\n\x0c\x0cpage two\n\x0cx\x0c";
        for piece in [1, 2, 3, 5, output.len()] {
            let mut cutter = Cutter::default();
            for chunk in output.chunks(piece) {
                cutter.feed(chunk);
            }
            assert_eq!(cutter.take(0).as_deref(), Some(&b"page one\n"[..]));
            // Image 1 (a sentinel) is dropped on the way to image 2.
            assert_eq!(cutter.take(2).as_deref(), Some(&b"page two\n"[..]));
            assert_eq!(cutter.take(3).as_deref(), Some(&b"x"[..]));
            // Not yet closed by a separator.
            assert_eq!(cutter.take(4), None);
        }
    }

    #[test]
    fn a_page_text_is_bounded() {
        let mut cutter = Cutter::default();
        let big = vec![b'a'; MAX_TEXT + 100];
        cutter.feed(&big);
        cutter.feed(&big);
        cutter.feed(b"\x0c");
        assert_eq!(cutter.take(0).map(|t| t.len()), Some(MAX_TEXT));
    }

    #[test]
    fn cpu_time_is_read_for_this_process() {
        assert!(cpu_seconds_used(std::process::id()).is_some());
    }

    /// The soft and hard CPU limits of a process, from `/proc`.
    fn cpu_limits(pid: u32) -> (String, String) {
        let limits = std::fs::read_to_string(format!("/proc/{pid}/limits")).expect("limits");
        let line = limits
            .lines()
            .find(|l| l.starts_with("Max cpu time"))
            .expect("cpu line");
        let mut fields = line["Max cpu time".len()..].split_whitespace();
        let soft = fields.next().expect("soft").to_string();
        let hard = fields.next().expect("hard").to_string();
        (soft, hard)
    }

    #[test]
    fn each_request_caps_cpu_time_with_the_soft_limit_only() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().expect("tempdir");
        let program = dir.path().join("tesseract");
        std::fs::write(
            &program,
            "#!/bin/sh
i=0
while read f; do
[ $i -gt 0 ] && printf '\\f'
             echo \"image $i\"
i=$((i+1))
done
",
        )
        .expect("script");
        std::fs::set_permissions(&program, std::fs::Permissions::from_mode(0o755)).expect("chmod");
        let engine = Tesseract::with_program(program);
        let limits = |seconds| RunLimits {
            deadline: Instant::now() + Duration::from_secs(seconds),
            page_time: Some(Duration::from_secs(seconds)),
            memory: 0,
        };
        let mut session = Session::start(&engine, limits(30)).expect("started");
        let (_, our_hard) = cpu_limits(std::process::id());
        let pid = session.child.id();
        // Twice the request's time in whole seconds (the deadline is a
        // moment nearer by now), the hard limit left as ours so that the
        // soft one can move up again.
        let soft = |pid| cpu_limits(pid).0.parse::<u64>().expect("a number");
        assert!((56..=60).contains(&soft(pid)), "{:?}", cpu_limits(pid));
        assert_eq!(cpu_limits(pid).1, our_hard);
        let blank = Raster {
            width: 16,
            height: 16,
            bilevel: false,
            data: vec![255; 256],
        };
        let page = TiffPage {
            raster: &blank,
            dpi: None,
        };
        match session.read(&page, limits(100)) {
            PageRun::Text(texts) => assert_eq!(texts, ["image 2\n"]),
            other => panic!("{other:?}"),
        }
        assert!((196..=200).contains(&soft(pid)), "{:?}", cpu_limits(pid));
        assert_eq!(cpu_limits(pid).1, our_hard);
    }
}
