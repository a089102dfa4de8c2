#![no_main]
//! Fuzzes the hl7 extractor on arbitrary bytes: it must never panic.

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::with_ctx("fuzz.hl7", |ctx| {
        let (head, mut rest) = common::split(data);
        let _ = phiscan::extract::hl7::scan(ctx, head, &mut rest);
    });
});
