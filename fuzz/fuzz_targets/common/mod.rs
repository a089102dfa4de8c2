//! Shared by the healthcare fuzz targets: an extraction context over the
//! real scanner (built-in rules) whose events are dropped.

use phiscan::config::ScanConfig;
use phiscan::extract::{Budget, Ctx, HEAD_LEN};
use phiscan::report::{Event, EventSink};
use phiscan::scan::Scanner;
use std::sync::{Arc, OnceLock};

struct Discard;

impl EventSink for Discard {
    fn send(&self, _event: Event) {}
}

/// Runs `f` with a fresh top-level context for a file named `path`.
pub fn with_ctx(path: &str, f: impl FnOnce(&mut Ctx)) {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    let scanner = SCANNER.get_or_init(|| {
        phiscan::scan::build_scanner(&ScanConfig::default()).expect("built-in rules load")
    });
    let target: Arc<str> = "fuzz".into();
    let budget = Budget::default();
    let mut scratch = scanner.matcher.new_scratch();
    let mut ctx = Ctx {
        scanner,
        events: &Discard,
        target: &target,
        path: path.to_string(),
        depth: 0,
        budget: &budget,
        scratch: &mut scratch,
    };
    f(&mut ctx);
}

/// Splits the input as `scan_input` does: the sniffed head, then the rest
/// as a stream.
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    data.split_at(data.len().min(HEAD_LEN))
}
