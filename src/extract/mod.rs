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

/// Recognises what `data` holds and extracts it into `ctx`.
pub fn scan_input(ctx: &mut Ctx, data: &mut dyn Read) -> Result<(), ExtractError> {
    let head = read_head(data, HEAD_LEN).map_err(|e| uncarry(e.into()))?;
    let result = match detect(&head, ctx.name()) {
        Kind::Text => text::scan_stream(ctx, "", &head, data),
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
