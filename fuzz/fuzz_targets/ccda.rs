#![no_main]
//! Fuzzes the ccda extractor on arbitrary bytes: it must never panic.

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::with_ctx("fuzz.ccda", |ctx| {
        let (head, mut rest) = common::split(data);
        let _ = phiscan::extract::ccda::scan(ctx, head, &mut rest);
    });
});
