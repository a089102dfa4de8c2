//! The output side of a decompressor (gzip stream, zip member, PDF or
//! Office stream): every byte it produces is charged to the top-level
//! file's expansion budget, the ratio limit is enforced, and the decoder's
//! data errors become `corrupt`.

use super::{carry, Budget, Ctx};
use crate::error::ExtractError;
use std::cell::Cell;
use std::io::{self, ErrorKind, Read};
use std::rc::Rc;

/// Expanded bytes a member may produce before the ratio limit applies:
/// small, very regular files (a page of blanks) legitimately compress far
/// better than `max_ratio`, and are harmless at this size.
pub const RATIO_FLOOR: u64 = 1 << 20;

/// Compressed bytes behind a decompressor, for the ratio limit.
#[derive(Clone)]
pub(crate) enum Compressed {
    /// Known up front (zip central directory).
    Known(u64),
    /// Counted as the decompressor consumes them (gzip).
    Counted(Rc<Cell<u64>>),
}

/// The output side of a decompressor: charges every byte to the expansion
/// budget, enforces the ratio limit, and turns the decoder's data errors
/// into `corrupt`.
///
/// A limit ends the stream cleanly (end of file) and is kept in
/// `tripped`: whatever reads the member matches what came before the cut,
/// and the container then reports the member as not (fully) examined.
pub(crate) struct Expand<'b, R> {
    inner: R,
    budget: &'b Budget,
    max_expanded: u64,
    max_ratio: u64,
    compressed: Compressed,
    produced: u64,
    format: &'static str,
    pub(crate) tripped: Option<ExtractError>,
}

impl<'b, R: Read> Expand<'b, R> {
    pub(crate) fn new(
        inner: R,
        ctx: &Ctx<'b>,
        compressed: Compressed,
        format: &'static str,
    ) -> Self {
        Expand {
            inner,
            budget: ctx.budget,
            max_expanded: ctx.limits().max_expanded_bytes,
            max_ratio: ctx.limits().max_ratio,
            compressed,
            produced: 0,
            format,
            tripped: None,
        }
    }

    fn check_limits(&self) -> Option<ExtractError> {
        if self.budget.expanded.get() > self.max_expanded {
            return Some(ExtractError::Limit(format!(
                "more than {} bytes expanded from one file",
                self.max_expanded
            )));
        }
        let compressed = match &self.compressed {
            Compressed::Known(n) => *n,
            Compressed::Counted(c) => c.get(),
        };
        if self.produced > RATIO_FLOOR && self.produced > compressed.saturating_mul(self.max_ratio)
        {
            return Some(ExtractError::Limit(format!(
                "{} data expands more than {}:1 (compression bomb?); read up to {} bytes",
                self.format, self.max_ratio, self.produced
            )));
        }
        None
    }
}

impl<R: Read> Read for Expand<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.tripped.is_some() {
            return Ok(0);
        }
        let n = match self.inner.read(buf) {
            Ok(n) => n,
            Err(e) => return Err(decoder_error(e, self.format)),
        };
        self.produced = self.produced.saturating_add(n as u64);
        let total = self.budget.expanded.get().saturating_add(n as u64);
        self.budget.expanded.set(total);
        // These n bytes are passed on; the next read ends the stream.
        self.tripped = self.check_limits();
        Ok(n)
    }
}

/// A data error from a decoder means the container is damaged; errors from
/// below it (network, a limit carried up) pass unchanged.
fn decoder_error(e: io::Error, format: &'static str) -> io::Error {
    let carried = e.get_ref().is_some_and(|inner| inner.is::<ExtractError>());
    match e.kind() {
        ErrorKind::InvalidData | ErrorKind::InvalidInput | ErrorKind::UnexpectedEof if !carried => {
            carry(ExtractError::Corrupt {
                format,
                message: e.to_string(),
            })
        }
        _ => e,
    }
}
