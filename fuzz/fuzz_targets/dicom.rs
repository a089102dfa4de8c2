#![no_main]
//! Fuzzes the dicom extractor on arbitrary bytes: it must never panic.

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    common::with_ctx("fuzz.dicom", |ctx| {
        let (head, mut rest) = common::split(data);
        let _ = phiscan::extract::dicom::scan(ctx, head, &mut rest);
    });
});
