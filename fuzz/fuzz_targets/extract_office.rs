//! Office documents (zip archives of XML parts) on arbitrary bytes. Seed
//! the corpus with fixtures/formats/docs/*.docx, *.xlsx, *.pptx, *.odt.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    common::with_ctx("fuzz.docx", |ctx| {
        let mut input = data;
        let _ = phiscan::extract::archive::scan_zip(ctx, &[], &mut input);
    });
});
