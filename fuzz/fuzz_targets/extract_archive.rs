//! gzip, zip and tar readers on arbitrary bytes; the first byte picks the
//! reader so that each is exercised even when the magic is wrong.
#![no_main]

mod common;

use libfuzzer_sys::fuzz_target;
use phiscan::extract::archive;

fuzz_target!(|data: &[u8]| {
    let Some((&selector, rest)) = data.split_first() else {
        return;
    };
    common::with_ctx("fuzz.bin", |ctx| {
        let mut input = rest;
        let _ = match selector % 4 {
            0 => archive::scan_zip(ctx, &[], &mut input),
            1 => archive::scan_gzip(ctx, &[], &mut input),
            2 => archive::scan_tar(ctx, &[], &mut input),
            // Detection and dispatch as a scan does it.
            _ => phiscan::extract::scan_input(ctx, &mut input, None),
        };
    });
});
