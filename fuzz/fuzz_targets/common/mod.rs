//! Shared by the fuzz targets: one scanner (built-in rules, small limits)
//! and a top-level extraction context over it whose events are dropped.

use phiscan::config::ScanConfig;
use phiscan::extract::{Budget, Ctx, HEAD_LEN};
use phiscan::report::{Event, EventSink};
use phiscan::scan::Scanner;
use std::sync::{Arc, OnceLock};

pub struct Discard;

impl EventSink for Discard {
    fn send(&self, _event: Event) {}
}

pub fn scanner() -> &'static Scanner {
    static SCANNER: OnceLock<Scanner> = OnceLock::new();
    SCANNER.get_or_init(|| {
        let mut config = ScanConfig::default();
        // Small limits keep each run fast; the code paths are the same.
        config.limits.max_expanded_bytes = 16 << 20;
        config.limits.max_document_bytes = 4 << 20;
        phiscan::scan::build_scanner(&config).expect("built-in rules load")
    })
}

/// Runs `f` with a fresh top-level context for a file named `name`.
pub fn with_ctx(name: &str, f: impl FnOnce(&mut Ctx)) {
    let scanner = scanner();
    let target: Arc<str> = "fuzz".into();
    let budget = Budget::default();
    let mut scratch = scanner.matcher.new_scratch();
    let mut ctx = Ctx {
        scanner,
        events: &Discard,
        target: &target,
        path: name.to_string(),
        depth: 0,
        budget: &budget,
        scratch: &mut scratch,
    };
    f(&mut ctx);
}

/// Splits the input as `scan_input` does: the sniffed head, then the rest
/// as a stream.
#[allow(dead_code)]
pub fn split(data: &[u8]) -> (&[u8], &[u8]) {
    data.split_at(data.len().min(HEAD_LEN))
}
