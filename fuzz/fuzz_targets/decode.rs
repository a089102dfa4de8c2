#![no_main]
//! Fuzzes text decoding: arbitrary bytes are sniffed (UTF-8, UTF-16 LE/BE,
//! Windows-1252 or binary), decoded in chunks whose size the first byte
//! picks, and streamed through `extract::text::scan_stream`, which matches
//! across chunk boundaries. Must never panic.

mod common;

use std::io::Read;

/// Hands out at most `step` bytes per read, as a slow network would.
struct Dribble<'a> {
    data: &'a [u8],
    step: usize,
}

impl Read for Dribble<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.step.min(buf.len()).min(self.data.len());
        buf[..n].copy_from_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Ok(n)
    }
}

libfuzzer_sys::fuzz_target!(|data: &[u8]| {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let step = usize::from(first % 64) + 1;
    let head = &rest[..rest.len().min(phiscan::decode::SNIFF_LEN)];
    if let Some(encoding) = phiscan::decode::sniff(head) {
        if let Some(mut decoder) = encoding.decoder() {
            let mut out = String::with_capacity(4 * step + 16);
            let chunks: Vec<&[u8]> = rest.chunks(step).collect();
            for (i, chunk) in chunks.iter().enumerate() {
                let last = i + 1 == chunks.len();
                let mut input: &[u8] = chunk;
                loop {
                    out.clear();
                    let (result, read, _) = decoder.decode_to_string(input, &mut out, last);
                    input = &input[read..];
                    if result == encoding_rs::CoderResult::InputEmpty {
                        break;
                    }
                    out.reserve(4 * step + 16);
                }
            }
        }
    }
    // The scan path: head already read, the rest dribbled in.
    let split = rest.len().min(step * 3);
    common::with_ctx("fuzz.txt", |ctx| {
        let mut tail = Dribble {
            data: &rest[split..],
            step,
        };
        let _ = phiscan::extract::text::scan_stream(ctx, "", &rest[..split], &mut tail);
    });
});
