//! RTF and HTML converters on arbitrary bytes (first byte picks one).
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    common::with_ctx("fuzz.html", |ctx| {
        let mut input = rest;
        let _ = if selector % 2 == 0 {
            phiscan::extract::markup::scan_rtf(ctx, &[], &mut input)
        } else {
            phiscan::extract::markup::scan_html(ctx, &[], &mut input)
        };
    });
});
