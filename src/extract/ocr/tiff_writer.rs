//! Pages for the engine as one uncompressed TIFF, one image per page.
//!
//! A kept engine process ([`super::session`]) reads one single-page TIFF
//! per request; one run per group reads a multi-page TIFF, loading its
//! model once (about 0.13 s a process, measured with `tesseract` on a
//! 3-page fax: 0.56 s as one file, 0.82 s as three). Neither PBM nor PGM holds more
//! than one page for it, and the `tiff` crate's encoder has no 1-bit
//! images, so the few baseline tags are written here: black-and-white
//! pages stay 1 bit a pixel (8 times smaller than grey), grey pages are
//! 8 bits, each with its resolution when known. Uncompressed because the
//! engine's image library reads it in bulk, with nothing to decode.

use super::prep::Raster;

/// One page: its pixels and its resolution (dots per inch), when known.
pub struct TiffPage<'a> {
    pub raster: &'a Raster,
    pub dpi: Option<u32>,
}

/// Tag types (TIFF 6.0, section 2).
const SHORT: u16 = 3;
const LONG: u16 = 4;
const RATIONAL: u16 = 5;

/// The pages as a little-endian baseline TIFF; `None` when they would
/// not fit in one (4 GiB) or a raster's size does not match its pixels.
pub fn tiff_pages(pages: &[TiffPage<'_>]) -> Option<Vec<u8>> {
    let mut total: u64 = 8;
    for page in pages {
        let r = page.raster;
        let row = if r.bilevel {
            u64::from(r.width).div_ceil(8)
        } else {
            u64::from(r.width)
        };
        if r.width == 0 || r.height == 0 || row * u64::from(r.height) != r.data.len() as u64 {
            return None;
        }
        // Pixels, padding, two rationals, the directory.
        total += r.data.len() as u64 + 1 + 16 + 2 + 12 * 12 + 4;
    }
    if pages.is_empty() || total > u64::from(u32::MAX) {
        return None;
    }
    let mut out = Vec::with_capacity(total as usize);
    out.extend_from_slice(b"II");
    put16(&mut out, 42);
    // Where the first directory is: patched once it is written.
    let mut next_link = out.len();
    put32(&mut out, 0);
    for page in pages {
        let r = page.raster;
        let strip = out.len() as u32;
        out.extend_from_slice(&r.data);
        pad_even(&mut out);
        let x_resolution = out.len() as u32;
        let dpi = page.dpi.filter(|d| *d > 0);
        if let Some(dpi) = dpi {
            for _ in 0..2 {
                put32(&mut out, dpi);
                put32(&mut out, 1);
            }
        }
        let directory = out.len() as u32;
        out[next_link..next_link + 4].copy_from_slice(&directory.to_le_bytes());
        let mut entries: Vec<(u16, u16, u32)> = vec![
            (256, LONG, r.width),
            (257, LONG, r.height),
            (258, SHORT, if r.bilevel { 1 } else { 8 }),
            // No compression.
            (259, SHORT, 1),
            // Photometric: for 1-bit pages 0 is white (ink is 1, as the
            // rows are packed); for grey pages 0 is black.
            (262, SHORT, if r.bilevel { 0 } else { 1 }),
            (273, LONG, strip),
            (277, SHORT, 1),
            (278, LONG, r.height),
            (279, LONG, r.data.len() as u32),
        ];
        if dpi.is_some() {
            entries.push((282, RATIONAL, x_resolution));
            entries.push((283, RATIONAL, x_resolution + 8));
            // Inches.
            entries.push((296, SHORT, 2));
        }
        put16(&mut out, entries.len() as u16);
        for (tag, kind, value) in entries {
            put16(&mut out, tag);
            put16(&mut out, kind);
            put32(&mut out, 1);
            // A SHORT sits in the first two bytes of the value field.
            put32(&mut out, value);
        }
        next_link = out.len();
        put32(&mut out, 0);
    }
    Some(out)
}

fn put16(out: &mut Vec<u8>, v: u16) {
    out.extend_from_slice(&v.to_le_bytes());
}

fn put32(out: &mut Vec<u8>, v: u32) {
    out.extend_from_slice(&v.to_le_bytes());
}

/// TIFF wants every offset on a word boundary.
fn pad_even(out: &mut Vec<u8>) {
    if out.len() % 2 == 1 {
        out.push(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tiff::decoder::{Decoder, DecodingResult};
    use tiff::tags::Tag;

    #[test]
    fn pages_read_back_with_their_pixels_and_resolution() {
        // A grey page with an odd width (odd strip length: padding), a
        // bilevel page whose rows end mid-byte, a grey page without a
        // resolution.
        let grey = Raster {
            width: 7,
            height: 5,
            bilevel: false,
            data: (0..35).map(|i| (i * 7) as u8).collect(),
        };
        let bits = Raster {
            width: 10,
            height: 3,
            bilevel: true,
            data: vec![0xA5, 0x80, 0xFF, 0xC0, 0x00, 0x40],
        };
        let plain = Raster {
            width: 3,
            height: 2,
            bilevel: false,
            data: vec![0, 255, 9, 8, 7, 6],
        };
        let file = tiff_pages(&[
            TiffPage {
                raster: &grey,
                dpi: Some(300),
            },
            TiffPage {
                raster: &bits,
                dpi: Some(204),
            },
            TiffPage {
                raster: &plain,
                dpi: None,
            },
        ])
        .expect("written");
        let mut decoder = Decoder::new(std::io::Cursor::new(file)).expect("a TIFF");
        let mut seen = Vec::new();
        loop {
            let (w, h) = decoder.dimensions().expect("dimensions");
            let photometric = decoder.get_tag_u32(Tag::PhotometricInterpretation).unwrap();
            let resolution = decoder.get_tag_u32_vec(Tag::XResolution).ok();
            let y_resolution = decoder.get_tag_u32_vec(Tag::YResolution).ok();
            assert_eq!(resolution, y_resolution);
            let pixels = match decoder.read_image().expect("pixels") {
                DecodingResult::U8(p) => p,
                other => panic!("unexpected sample type {other:?}"),
            };
            seen.push((w, h, photometric, resolution, pixels));
            if !decoder.more_images() {
                break;
            }
            decoder.next_image().expect("next page");
        }
        assert_eq!(seen.len(), 3);
        assert_eq!(seen[0], (7, 5, 1, Some(vec![300, 1]), grey.data.clone()));
        // The tiff crate hands 1-bit rows back packed, and as values with
        // 0 for black: inverted, since our 1 is ink (white is zero).
        let as_black_is_zero: Vec<u8> = bits.data.iter().map(|b| !b).collect();
        assert_eq!(seen[1], (10, 3, 0, Some(vec![204, 1]), as_black_is_zero));
        assert_eq!(seen[2], (3, 2, 1, None, plain.data.clone()));
    }

    #[test]
    fn rasters_that_do_not_add_up_are_refused() {
        let short = Raster {
            width: 9,
            height: 2,
            bilevel: true,
            data: vec![0; 3],
        };
        assert!(tiff_pages(&[TiffPage {
            raster: &short,
            dpi: None
        }])
        .is_none());
        assert!(tiff_pages(&[]).is_none());
    }
}
