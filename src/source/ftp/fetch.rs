//! Fetching one file: how much to read (`--max-bytes`, `--sample-tail`,
//! and with `--max-bytes 0` a bound on what the server may send), the
//! [`Sampled`] reader over the data connection, and the transfer's own
//! verdict, which the [`Engine`](crate::engine::Engine) waits for before it
//! records the file as scanned.

use super::crawl::Crawl;
use super::queue::FileJob;
use super::session::{self, Failure, Session};
use crate::engine::{FileMeta, Incomplete};
use crate::report::{EventSink, SkipReason};
use std::io::{self, Read};
use suppaftp::{FtpError, TlsStream, TransferStream};

/// With `--max-bytes 0`: bytes read past a file's listed size (it may be
/// growing) before the transfer is cut as a server sending without end.
const LISTED_SIZE_SLACK: u64 = 1 << 20;
/// With `--max-bytes 0`, no listed size and no `--skip-larger-than`: the
/// most read from one file.
const UNLISTED_CEILING: u64 = 16 << 30;

impl<T: TlsStream + Send + 'static> Crawl<'_, T> {
    /// Fetches one file through the engine; the file is recorded as
    /// scanned only if the transfer delivered what was asked.
    pub(super) fn fetch(&self, slot: &mut Option<Session<T>>, job: FileJob) {
        // `--resume`: an earlier run scanned it (same listed size); no RETR.
        let meta = FileMeta {
            target: &self.display,
            path: &job.rel,
            size: job.size,
            mtime: None,
        };
        if self.env.engine.already_scanned(&meta) {
            EventSink::send(
                self.env.events,
                self.env.engine.already_scanned_event(&meta),
            );
            return;
        }
        // How much to read: the head (--max-bytes), and with --sample-tail
        // the last bytes too, when the file is larger than both.
        let tail = self.opts.sample_tail.unwrap_or(0);
        // With --max-bytes 0 (whole files) the server still may not send
        // without end: stop past --skip-larger-than, past the listed size
        // (plus slack, for files still growing), or at a hard ceiling.
        let overrun = (self.max_bytes == 0).then(|| {
            let listed = job
                .size
                .map(|s| Overrun::Listed(s, s.saturating_add(LISTED_SIZE_SLACK)));
            let larger = self.opts.skip_larger_than.map(Overrun::SkipLarger);
            match (listed, larger) {
                (Some(a), Some(b)) => {
                    if a.limit() <= b.limit() {
                        a
                    } else {
                        b
                    }
                }
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => Overrun::Ceiling(UNLISTED_CEILING),
            }
        });
        let (head_limit, tail_from, scan_limit) = match (self.max_bytes, job.size) {
            // One byte past the limit tells "exactly the limit" from "more".
            (0, _) => (
                overrun.map_or(u64::MAX, |o| o.limit().saturating_add(1)),
                None,
                0,
            ),
            (max, Some(size)) if tail > 0 && size > max.saturating_add(tail) => {
                (max, Some(size - tail), max.saturating_add(tail))
            }
            (max, Some(size)) if tail > 0 => (u64::MAX, None, max.max(size)),
            (max, _) => (max, None, max),
        };
        let stream = match self.with_retries(slot, |s| s.retr(&job.wire, 0)) {
            Ok(stream) => stream,
            Err(f) => {
                let reason = match f {
                    Failure::Permanent { .. } => SkipReason::Unreadable,
                    _ => SkipReason::Network,
                };
                self.skip(&job.rel, reason, format!("cannot retrieve: {}", f.detail()));
                return;
            }
        };
        let Some(session) = slot.as_mut() else {
            return;
        };
        let mut reader = Sampled {
            session,
            wire: &job.wire,
            current: Some(stream),
            remaining: head_limit,
            tail_from,
            eof: false,
            read_failed: false,
            finish_failure: None,
            broken: false,
            bytes: 0,
            overrun,
            overran: false,
            pace: session::Pace::new(self.connector.timeout),
            size: job.size,
            position: 0,
        };
        let env = self.env;
        // The transfer's own verdict (it may fail or overrun after its last
        // byte was read) is part of the file's: a file is recorded as
        // scanned only when it was read as far as the settings ask.
        env.engine
            .scan_file_then(&meta, &mut reader, scan_limit, env.events, |reader| {
                reader.end_part(false);
                reader.verdict().map_err(|incomplete| Incomplete {
                    detail: self.scrub(&incomplete.detail),
                    ..incomplete
                })
            });
        let broken = reader.broken;
        if broken || reader.read_failed {
            *slot = None;
        }
    }
}

/// With `--max-bytes 0`, how much a server may send for one file.
#[derive(Debug, Clone, Copy)]
enum Overrun {
    /// `--skip-larger-than` (when the listing gave no size, or a false one).
    SkipLarger(u64),
    /// The listed size, and the limit: that size plus `LISTED_SIZE_SLACK`.
    Listed(u64, u64),
    /// No size listed and no --skip-larger-than.
    Ceiling(u64),
}

impl Overrun {
    fn limit(self) -> u64 {
        match self {
            Overrun::SkipLarger(l) | Overrun::Listed(_, l) | Overrun::Ceiling(l) => l,
        }
    }
}

/// Reads a file over its data connection: the head up to a limit, then
/// (with `--sample-tail`) the tail via REST on the same control connection.
/// Each part is ended cleanly so the control connection stays in step.
struct Sampled<'s, T: TlsStream> {
    session: &'s mut Session<T>,
    wire: &'s str,
    current: Option<TransferStream<T>>,
    remaining: u64,
    tail_from: Option<u64>,
    /// The current part reached its end.
    eof: bool,
    read_failed: bool,
    finish_failure: Option<Failure>,
    /// The control connection is no longer usable.
    broken: bool,
    bytes: u64,
    /// With `--max-bytes 0`: the most the server may send.
    overrun: Option<Overrun>,
    /// The server sent more than `overrun` allows.
    overran: bool,
    /// Rate floor over the whole file.
    pace: session::Pace,
    /// The listed size.
    size: Option<u64>,
    /// Offset in the file of the next byte read.
    position: u64,
}

impl<T: TlsStream + Send + 'static> Sampled<'_, T> {
    /// Whether the server delivered what was asked, once the transfer ended:
    /// not when it sent more than it may (with `--max-bytes 0`) or the
    /// transfer failed after its data.
    fn verdict(&mut self) -> Result<(), Incomplete> {
        if let (true, Some(o)) = (self.overran, self.overrun) {
            let (reason, detail) = match o {
                Overrun::SkipLarger(l) => (
                    SkipReason::TooLarge,
                    format!("the server sent more than --skip-larger-than {l} bytes; the rest was not read"),
                ),
                Overrun::Listed(size, l) => (
                    SkipReason::Limit,
                    format!("the server sent more than the {size} bytes listed; stopped after {l}"),
                ),
                Overrun::Ceiling(l) => (
                    SkipReason::Limit,
                    format!("the server sent more than {l} bytes; the rest was not read"),
                ),
            };
            return Err(Incomplete { reason, detail });
        }
        if let Some(f) = self.finish_failure.take() {
            return Err(Incomplete {
                reason: SkipReason::Network,
                detail: format!("transfer failed after {} bytes: {}", self.bytes, f.detail()),
            });
        }
        Ok(())
    }

    /// Ends the current part. `reached_end`: all its data was read; otherwise
    /// we closed it early on purpose and a 426/450/451 reply is expected.
    fn end_part(&mut self, reached_end: bool) {
        let Some(stream) = self.current.take() else {
            return;
        };
        let reached_end = reached_end || self.eof;
        if self.read_failed {
            // The data connection failed; the control connection may hang
            // or be out of step. Drop both rather than wait on it.
            self.broken = true;
            let _ = stream
                .get_ref()
                .get_ref()
                .shutdown(std::net::Shutdown::Both);
            let _ = self
                .session
                .ftp
                .get_ref()
                .shutdown(std::net::Shutdown::Both);
            drop(stream);
            return;
        }
        match self.session.finish(stream) {
            Ok(()) => {}
            Err(FtpError::UnexpectedResponse(r))
                if !reached_end && session::is_truncation_reply(&r) => {}
            Err(e) => {
                let f = session::classify(e);
                if f.breaks_connection() {
                    self.broken = true;
                }
                if reached_end || self.finish_failure.is_none() {
                    self.finish_failure = Some(f);
                }
            }
        }
    }
}

impl<T: TlsStream + Send + 'static> Read for Sampled<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.broken {
                return Ok(0);
            }
            let Some(stream) = self.current.as_mut() else {
                let Some(offset) = self.tail_from.take() else {
                    return Ok(0);
                };
                match self.session.retr(self.wire, offset) {
                    Ok(s) => {
                        self.current = Some(s);
                        self.remaining = u64::MAX;
                        self.eof = false;
                        self.position = offset;
                        continue;
                    }
                    Err(f) => {
                        // The head was read; a refused tail is noted, not fatal.
                        if f.breaks_connection() {
                            self.broken = true;
                        }
                        self.finish_failure = Some(Failure::Permanent {
                            code: f.code().unwrap_or(0),
                            detail: format!("tail (REST {offset}) refused: {}", f.detail()),
                        });
                        return Ok(0);
                    }
                }
            };
            if self.remaining == 0 {
                if self.overrun.is_some() && self.tail_from.is_none() {
                    self.overran = true;
                }
                self.end_part(false);
                continue;
            }
            if self.pace.too_slow() {
                self.read_failed = true;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "FTP data connection failed after {} bytes: {}",
                        self.bytes,
                        self.pace.describe()
                    ),
                ));
            }
            let want = buf
                .len()
                .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            let Some(chunk) = buf.get_mut(..want) else {
                return Ok(0);
            };
            match stream.read(chunk) {
                Ok(0) => {
                    self.eof = true;
                    self.end_part(true);
                    continue;
                }
                Ok(n) => {
                    self.remaining = self.remaining.saturating_sub(n as u64);
                    self.bytes = self.bytes.saturating_add(n as u64);
                    self.position = self.position.saturating_add(n as u64);
                    self.pace.add(n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) && self.size.is_some_and(|s| self.position >= s) =>
                {
                    // Every listed byte came, but the server keeps the data
                    // connection open: the file is complete (and scanned);
                    // ending the transfer reports the missing reply.
                    self.eof = true;
                    self.end_part(true);
                    continue;
                }
                Err(e) => {
                    self.read_failed = true;
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "FTP data connection failed after {} bytes: {}",
                            self.bytes,
                            session::describe_io(&e)
                        ),
                    ));
                }
            }
        }
    }
}
