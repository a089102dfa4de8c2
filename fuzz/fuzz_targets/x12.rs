#![no_main]
//! Fuzzes the x12 extractor on arbitrary bytes: it must never panic.

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::with_ctx("fuzz.x12", |ctx| {
        let (head, mut rest) = common::split(data);
        let _ = phiscan::extract::x12::scan(ctx, head, &mut rest);
    });
});
