//! Bytes → text and fields. `scan_input` sniffs what a stream holds and hands
//! it to the right extractor; extractors report what they find through
//! [`Ctx`], which runs the matcher and emits findings and not-examined events.
//!
//! Every extractor is bounded by [`crate::config::ExtractLimits`] and returns errors instead
//! of panicking: one bad file never stops a scan.

mod batch;
mod ctx;
mod detect;
mod errors;
mod expand;
mod fields;
mod ordered;
mod segments;
mod tables;
#[cfg(test)]
pub(crate) mod testkit;
pub mod text;

// Containers and documents.
pub mod archive;
pub mod image;
pub mod markup;
pub mod office;
pub mod pdf;

// Healthcare formats (field-aware).
pub mod ccda;
mod delimited;
pub mod dicom;
pub mod hl7;
pub mod ocr;
pub mod tabular;
pub mod x12;
mod zipped;

pub use batch::RecordBatch;
pub use ctx::{name_for_matching, Budget, Ctx, Location, ScanOptions};
pub use detect::{detect, Kind};
pub use errors::{carry, reason_of, uncarry};

use crate::error::ExtractError;
use crate::report::SkipReason;
use std::io::{self, Read};

/// Bytes of a stream's start used to recognise its format.
pub const HEAD_LEN: usize = 8192;

/// Reads up to `n` bytes (fewer only at end of stream).
pub fn read_head(r: &mut dyn Read, n: usize) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(n);
    r.take(n as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// The encoding and delimiter of a UTF-16 stream whose start reads as a
/// table with a header row; `None` for anything else.
fn utf16_table(head: &[u8], name: &str) -> Option<(crate::decode::TextEncoding, u8)> {
    use crate::decode::TextEncoding;
    let encoding = crate::decode::sniff(&head[..head.len().min(crate::decode::SNIFF_LEN)])?;
    if !matches!(encoding, TextEncoding::Utf16Le | TextEncoding::Utf16Be) {
        return None;
    }
    let mut decoder = encoding.decoder()?;
    let mut text = String::with_capacity(decoder.max_utf8_buffer_length(head.len())?);
    let _ = decoder.decode_to_string(head, &mut text, false);
    // Only whole lines: the head may end mid-line.
    let whole = match text.rfind('\n') {
        Some(end) if head.len() == HEAD_LEN => &text[..=end],
        _ => text.as_str(),
    };
    tabular::looks_like(whole.as_bytes(), name).map(|d| (encoding, d))
}

/// Recognises what `data` holds and extracts it into `ctx`.
pub fn scan_input(ctx: &mut Ctx, data: &mut dyn Read) -> Result<(), ExtractError> {
    let head = read_head(data, HEAD_LEN).map_err(|e| uncarry(e.into()))?;
    let result = match detect(&head, ctx.name()) {
        Kind::Text => match utf16_table(&head, ctx.name()) {
            // A UTF-16 table (Windows "Unicode text" export) is read as a
            // table, through a reader that turns it into UTF-8.
            Some((encoding, delimiter)) => {
                let mut utf8 =
                    crate::decode::Utf8Reader::new(head.as_slice().chain(data), encoding)
                        .ok_or_else(|| uncarry(io::Error::other("not UTF-16").into()))?;
                let head = read_head(&mut utf8, HEAD_LEN).map_err(|e| uncarry(e.into()))?;
                tabular::scan(ctx, delimiter, &head, &mut utf8)
            }
            None => text::scan_stream(ctx, "", &head, data),
        },
        // Containers and documents.
        Kind::Gzip => archive::scan_gzip(ctx, &head, data),
        Kind::Zip => archive::scan_zip(ctx, &head, data),
        Kind::Tar => archive::scan_tar(ctx, &head, data),
        Kind::Pdf => ocr::pdf_pages::scan(ctx, &head, data),
        Kind::Rtf => markup::scan_rtf(ctx, &head, data),
        Kind::Html => markup::scan_html(ctx, &head, data),
        Kind::Ole2 => office::scan_ole2(&head),
        Kind::Image(kind) => image::scan(ctx, kind, &head, data),
        // Healthcare formats (field-aware).
        Kind::Hl7 => hl7::scan(ctx, &head, data),
        Kind::X12 => x12::scan(ctx, &head, data),
        Kind::Dicom => dicom::scan(ctx, &head, data),
        Kind::Ccda => ccda::scan(ctx, &head, data),
        Kind::Tabular(delimiter) => tabular::scan(ctx, delimiter, &head, data),
        Kind::Binary => {
            ctx.not_examined(
                None,
                SkipReason::Binary,
                "not text and no extractor for this format",
            );
            Ok(())
        }
    };
    result.map_err(uncarry)
}
