//! The PDF reader on arbitrary bytes. Seed with fixtures/formats/docs/*.pdf.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::with_ctx("fuzz.pdf", |ctx| {
        let mut input = data;
        let _ = phiscan::extract::pdf::scan(ctx, &[], &mut input);
    });
});
