//! Progress on stderr while a scan runs (indicatif): per target, files
//! scanned and not examined, bytes read, findings so far, current rate;
//! for servers, files and bytes done of those listed so far and the
//! folder the crawl is listing. Sizes and rates in binary units (KiB,
//! MiB/s), as in the summary.
//!
//! Shown on a terminal only, unless forced (`--progress`), in which case a
//! non-terminal stderr (a CI log) gets one plain line per second instead of
//! a redrawn bar. Updated from the output thread, which sees every event.

use super::{Event, Summary};
use indicatif::{HumanBytes, ProgressBar, ProgressDrawTarget, ProgressStyle, TermLike};
use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::{self, IsTerminal, Write};
use std::time::{Duration, Instant};

/// When to show progress.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum ProgressMode {
    /// On a terminal, unless `--quiet`.
    #[default]
    Auto,
    /// Always (`--progress`).
    Always,
    Never,
}

impl ProgressMode {
    /// Whether progress is drawn, given `--quiet` and whether stderr is a
    /// terminal.
    pub fn enabled(self, quiet: bool, stderr_is_terminal: bool) -> bool {
        match self {
            ProgressMode::Always => true,
            ProgressMode::Never => false,
            ProgressMode::Auto => !quiet && stderr_is_terminal,
        }
    }
}

/// Minimum time between two message updates (formatting is not free).
const UPDATE_EVERY: Duration = Duration::from_millis(100);

pub struct Progress {
    bar: ProgressBar,
    last_update: Cell<Option<Instant>>,
    /// Per server target: what its listings hold so far.
    listed: RefCell<BTreeMap<String, Listed>>,
}

/// What a server's listings held so far.
#[derive(Default)]
struct Listed {
    files: u64,
    /// Bytes of the listed files whose size the listing gave.
    bytes: u64,
    /// The folder of the file listed last, as the reports show names.
    folder: String,
}

impl Progress {
    /// A progress display if `mode` asks for one here, else `None`.
    pub fn start(mode: ProgressMode, quiet: bool) -> Option<Progress> {
        let terminal = io::stderr().is_terminal();
        if !mode.enabled(quiet, terminal) {
            return None;
        }
        let target = if terminal {
            ProgressDrawTarget::stderr_with_hz(10)
        } else {
            ProgressDrawTarget::term_like_with_hz(Box::new(LineLog), 1)
        };
        let bar = ProgressBar::with_draw_target(None, target);
        let style = ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {msg} | {bytes} read, {binary_bytes_per_sec}",
        )
        .unwrap_or_else(|_| ProgressStyle::default_spinner());
        bar.set_style(style);
        bar.set_message("starting…");
        bar.enable_steady_tick(Duration::from_millis(200));
        Some(Progress {
            bar,
            last_update: Cell::new(None),
            listed: RefCell::new(BTreeMap::new()),
        })
    }

    /// Refreshes the display from the running summary (throttled).
    pub fn update(&self, summary: &Summary) {
        let now = Instant::now();
        if self
            .last_update
            .get()
            .is_some_and(|t| now.duration_since(t) < UPDATE_EVERY)
        {
            return;
        }
        self.last_update.set(Some(now));
        self.bar.set_position(summary.bytes_read);
        self.bar
            .set_message(message(summary, &self.listed.borrow()));
    }

    /// Counts a file a server listing holds ([`Event::Listed`]).
    pub fn listed(&self, event: &Event) {
        if let Event::Listed {
            target,
            folder,
            size,
        } = event
        {
            let mut listed = self.listed.borrow_mut();
            let l = listed.entry(target.to_string()).or_default();
            l.files += 1;
            l.bytes += size.unwrap_or(0);
            if l.folder != *folder {
                l.folder.clone_from(folder);
            }
        }
    }

    /// Runs `f` (which writes to the terminal) with the bar cleared.
    pub fn suspend<R>(&self, f: impl FnOnce() -> R) -> R {
        self.bar.suspend(f)
    }

    /// Removes the bar (the scan ends before it starts).
    pub fn clear(&self) {
        self.bar.finish_and_clear();
    }

    /// Standard output, written with the bar cleared and drawn again
    /// after: rows and bar would otherwise mix on one terminal.
    pub fn stdout(&self) -> BelowProgress {
        BelowProgress {
            bar: self.bar.clone(),
        }
    }

    /// Removes the bar (the final summary follows on stderr).
    pub fn finish(&self, summary: &Summary) {
        self.bar.set_position(summary.bytes_read);
        self.bar
            .set_message(message(summary, &self.listed.borrow()));
        self.bar.finish_and_clear();
    }
}

/// Standard output around a progress bar (see [`Progress::stdout`]).
pub struct BelowProgress {
    bar: ProgressBar,
}

impl Write for BelowProgress {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bar.suspend(|| io::stdout().write(buf))
    }
    fn write_all(&mut self, buf: &[u8]) -> io::Result<()> {
        self.bar.suspend(|| {
            let mut out = io::stdout().lock();
            out.write_all(buf)?;
            out.flush()
        })
    }
    fn flush(&mut self) -> io::Result<()> {
        io::stdout().flush()
    }
}

/// One line: each target's files, skips and findings; for a server, files
/// and bytes done of those listed so far, and the folder being listed.
fn message(summary: &Summary, listed: &BTreeMap<String, Listed>) -> String {
    let mut parts = Vec::new();
    for (name, t) in &summary.targets {
        let mut part = match listed.get(name) {
            Some(l) => format!(
                "{name}: {}/{} listed files ({}/{})",
                t.files_scanned,
                l.files,
                HumanBytes(t.bytes_read),
                HumanBytes(l.bytes)
            ),
            None => format!("{name}: {} files", t.files_scanned),
        };
        part.push_str(&format!(
            ", {} not examined, {} findings",
            t.not_examined, t.findings
        ));
        if let Some(l) = listed.get(name) {
            part.push_str(&format!(", listing /{}", l.folder));
        }
        parts.push(part);
    }
    if parts.is_empty() {
        "listing…".to_string()
    } else {
        parts.join("; ")
    }
}

/// A "terminal" that appends lines to stderr: forced progress in a log.
#[derive(Debug)]
struct LineLog;

impl TermLike for LineLog {
    fn width(&self) -> u16 {
        200
    }
    fn move_cursor_up(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_down(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_right(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn move_cursor_left(&self, _n: usize) -> io::Result<()> {
        Ok(())
    }
    fn write_line(&self, s: &str) -> io::Result<()> {
        if s.trim().is_empty() {
            return Ok(());
        }
        writeln!(io::stderr(), "{s}")
    }
    fn write_str(&self, s: &str) -> io::Result<()> {
        if s.trim().is_empty() {
            return Ok(());
        }
        writeln!(io::stderr(), "{s}")
    }
    fn clear_line(&self) -> io::Result<()> {
        Ok(())
    }
    fn flush(&self) -> io::Result<()> {
        io::stderr().flush()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mode_rules() {
        assert!(ProgressMode::Auto.enabled(false, true));
        assert!(!ProgressMode::Auto.enabled(true, true));
        assert!(!ProgressMode::Auto.enabled(false, false));
        assert!(ProgressMode::Always.enabled(true, false));
        assert!(!ProgressMode::Never.enabled(false, true));
    }
}
