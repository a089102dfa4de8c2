#![no_main]
//! Fuzzes the delimited-table extractor: the first byte picks the
//! delimiter, the rest is the table. It must never panic.

mod common;

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&pick, table)) = data.split_first() else {
        return;
    };
    let delimiter = [b',', b'\t', b';', b'|'][usize::from(pick % 4)];
    let _ = phiscan::extract::tabular::classify_header(&String::from_utf8_lossy(table));
    let _ = phiscan::extract::tabular::looks_like(table, "fuzz");
    common::with_ctx("fuzz.csv", |ctx| {
        let (head, mut rest) = common::split(table);
        let _ = phiscan::extract::tabular::scan(ctx, delimiter, head, &mut rest);
    });
});
