//! Images on a share: PNG, JPEG, GIF, BMP and WebP (their first frame),
//! and TIFF, every page (multi-page CCITT Group 4 faxes included). They
//! are decoded here, in safe Rust with bounded allocations, and their
//! pages handed to OCR (`super::ocr`).
//!
//! Bounds: the file is held in memory up to `max_document_bytes`; a page
//! larger than [`MAX_PAGE_PIXELS`] is not decoded (`limit`); TIFF page
//! chains are walked up to [`MAX_TIFF_PAGES`] (cycles are refused by the
//! decoder). What cannot be decoded is reported per page with its reason.

use super::ocr::{self, prep::Page, PageSource};
use super::Ctx;
use crate::error::ExtractError;
use image::{GrayImage, ImageDecoder, ImageFormat};
use std::io::{Cursor, Read};

/// Most pixels of one page decoded (a letter page at 600 dpi has 34
/// million; A3 at 600 dpi 70 million).
pub const MAX_PAGE_PIXELS: u64 = 100_000_000;
/// Most pages of one TIFF looked at (the OCR page limits are far lower).
pub const MAX_TIFF_PAGES: usize = 10_000;
/// Most bytes one decoder may allocate for a page.
const MAX_DECODE_ALLOC: u64 = 512 << 20;

/// An image format we decode.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ImageKind {
    Png,
    Jpeg,
    Gif,
    Bmp,
    WebP,
    Tiff,
    Jpeg2000,
}

impl ImageKind {
    pub fn name(self) -> &'static str {
        match self {
            ImageKind::Png => "PNG",
            ImageKind::Jpeg => "JPEG",
            ImageKind::Gif => "GIF",
            ImageKind::Bmp => "BMP",
            ImageKind::WebP => "WebP",
            ImageKind::Tiff => "TIFF",
            ImageKind::Jpeg2000 => "JPEG 2000",
        }
    }

    /// The image crate's format; `None` for JPEG 2000 (hayro-jpeg2000's).
    fn format(self) -> Option<ImageFormat> {
        match self {
            ImageKind::Png => Some(ImageFormat::Png),
            ImageKind::Jpeg => Some(ImageFormat::Jpeg),
            ImageKind::Gif => Some(ImageFormat::Gif),
            ImageKind::Bmp => Some(ImageFormat::Bmp),
            ImageKind::WebP => Some(ImageFormat::WebP),
            ImageKind::Tiff => Some(ImageFormat::Tiff),
            ImageKind::Jpeg2000 => None,
        }
    }
}

/// Recognises an image by its magic bytes (BMP also by a plausible header:
/// `BM` alone starts too many texts).
pub fn sniff(head: &[u8]) -> Option<ImageKind> {
    if head.starts_with(b"\x89PNG\r\n\x1a\n") {
        Some(ImageKind::Png)
    } else if head.starts_with(b"\xFF\xD8\xFF") {
        Some(ImageKind::Jpeg)
    } else if head.starts_with(b"GIF87a") || head.starts_with(b"GIF89a") {
        Some(ImageKind::Gif)
    } else if head.starts_with(b"II*\0") || head.starts_with(b"MM\0*") {
        Some(ImageKind::Tiff)
    } else if head.starts_with(b"RIFF") && head.get(8..12) == Some(b"WEBP") {
        Some(ImageKind::WebP)
    } else if head.starts_with(b"\x00\x00\x00\x0CjP  \r\n\x87\n")
        || head.starts_with(b"\xFF\x4F\xFF\x51")
    {
        // A JP2 file's signature box, or a raw codestream's SOC + SIZ.
        Some(ImageKind::Jpeg2000)
    } else if head.starts_with(b"BM") && bmp_header_plausible(head) {
        Some(ImageKind::Bmp)
    } else {
        None
    }
}

/// A BMP file header: reserved fields zero, pixel data after the headers,
/// and an info header of one of the sizes the format defines.
fn bmp_header_plausible(head: &[u8]) -> bool {
    let u32_at = |at: usize| {
        head.get(at..at + 4)
            .map(|b| u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    };
    let reserved_zero = head.get(6..10) == Some(&[0, 0, 0, 0]);
    let info_size = u32_at(14);
    let offset = u32_at(10);
    reserved_zero
        && matches!(info_size, Some(12 | 16 | 40 | 52 | 56 | 64 | 108 | 124))
        && offset.is_some_and(|o| o >= 14 + info_size.unwrap_or(0))
}

/// Runs a third-party decoder (JPEG 2000, JBIG2) so that a panic on
/// hostile data costs that image only: it is reported as corrupt, and the
/// scan goes on. Their own code promises no undefined behaviour, not no
/// panics.
pub fn guarded<T>(
    format: &'static str,
    decode: impl FnOnce() -> Result<T, ExtractError>,
) -> Result<T, ExtractError> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(decode)).unwrap_or_else(|_| {
        Err(ExtractError::Corrupt {
            format,
            message: "the decoder gave up on this data".into(),
        })
    })
}

/// Most samples (pixels × channels) a JPEG 2000 image is decoded to: the
/// decoder keeps them as 32-bit floats, so this is ~100 MiB. A larger
/// codestream is decoded at a resolution it holds within the bound
/// (JPEG 2000 keeps each halving), or not at all.
const MAX_JPX_SAMPLES: u64 = 25_000_000;

/// A JPEG 2000 codestream or JP2 file (a file of its own, or a PDF's
/// `JPXDecode` image) to grey; an alpha channel is laid on white.
pub fn jpeg2000_page(data: &[u8]) -> Result<Page, ExtractError> {
    guarded(ImageKind::Jpeg2000.name(), || jpeg2000_unguarded(data))
}

fn jpeg2000_unguarded(data: &[u8]) -> Result<Page, ExtractError> {
    use hayro_jpeg2000::{ColorSpace, DecodeSettings, DecoderContext, Image};
    let corrupt = |message: String| ExtractError::Corrupt {
        format: ImageKind::Jpeg2000.name(),
        message,
    };
    let fail = |e: hayro_jpeg2000::DecodeError| corrupt(e.to_string());
    let mut settings = DecodeSettings::default();
    let samples = |image: &Image<'_>| {
        let channels = u64::from(image.color_space().num_channels()) + u64::from(image.has_alpha());
        u64::from(image.width()) * u64::from(image.height()) * channels
    };
    let mut image = Image::new(data, &settings).map_err(fail)?;
    let full = samples(&image);
    if full > MAX_JPX_SAMPLES {
        // Each resolution level skipped halves both sides.
        let mut halvings = 0;
        while halvings < 16 && full >> (2 * halvings) > MAX_JPX_SAMPLES {
            halvings += 1;
        }
        let (w, h) = (image.width() >> halvings, image.height() >> halvings);
        settings.target_resolution = Some((w.max(1), h.max(1)));
        image = Image::new(data, &settings).map_err(fail)?;
    }
    let (width, height) = (image.width(), image.height());
    if samples(&image) > MAX_JPX_SAMPLES || width == 0 || height == 0 {
        return Err(ExtractError::Limit(format!(
            "JPEG 2000 image of {width}×{height} pixels: more than can be decoded within bounds"
        )));
    }
    let colour = image.color_space().clone();
    let alpha = image.has_alpha();
    let mut context = DecoderContext::default();
    let decoded = image.decode(&mut context).map_err(fail)?;
    let interleaved = decoded.data_u8();
    let channels = usize::from(colour.num_channels()) + usize::from(alpha);
    let pixels = width as usize * height as usize;
    if channels == 0 || interleaved.len() < pixels * channels {
        return Err(corrupt("fewer samples than pixels".into()));
    }
    let grey: Vec<u8> = interleaved
        .chunks_exact(channels)
        .take(pixels)
        .map(|p| {
            let g = match (&colour, channels - usize::from(alpha)) {
                (ColorSpace::CMYK, 4) => {
                    let k = 255 - u32::from(p[3]);
                    let ink = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
                    luma(ink(p[0]), ink(p[1]), ink(p[2]))
                }
                (_, 3..) => luma(p[0], p[1], p[2]),
                _ => p[0],
            };
            if alpha {
                let a = u32::from(p[channels - 1]);
                ((u32::from(g) * a + 255 * (255 - a)) / 255) as u8
            } else {
                g
            }
        })
        .collect();
    let image = GrayImage::from_raw(width, height, grey)
        .ok_or_else(|| corrupt("size does not match".into()))?;
    Ok(Page {
        image,
        dpi: None,
        bilevel: false,
    })
}

/// Reads a whole image (up to `max_document_bytes`) and OCRs its pages.
pub fn scan(
    ctx: &mut Ctx,
    kind: ImageKind,
    head: &[u8],
    rest: &mut dyn Read,
) -> Result<(), ExtractError> {
    let cap = ctx.limits().max_document_bytes;
    let mut data = Vec::new();
    Cursor::new(head)
        .chain(rest)
        .take(cap.saturating_add(1))
        .read_to_end(&mut data)?;
    if data.len() as u64 > cap {
        return Err(ExtractError::Limit(format!(
            "{} image larger than {cap} bytes (max_document_bytes)",
            kind.name()
        )));
    }
    let pages = ImagePages::new(kind, &data)?;
    ocr::read_pages(ctx, &pages)
}

/// The pages of one image file.
pub struct ImagePages<'d> {
    kind: ImageKind,
    data: &'d [u8],
    /// Each page's size in pixels, from its header.
    sizes: Vec<(u32, u32)>,
    /// Pages past the first [`MAX_TIFF_PAGES`] (not looked at).
    more: bool,
}

impl<'d> ImagePages<'d> {
    /// Reads the headers: how many pages, and their sizes. A file whose
    /// first header cannot be read is corrupt.
    pub fn new(kind: ImageKind, data: &'d [u8]) -> Result<Self, ExtractError> {
        let corrupt = |message: String| ExtractError::Corrupt {
            format: kind.name(),
            message,
        };
        let (sizes, more) = if kind == ImageKind::Tiff {
            let mut decoder = tiff_decoder(data).map_err(|e| corrupt(e.to_string()))?;
            let mut sizes = vec![decoder.dimensions().map_err(|e| corrupt(e.to_string()))?];
            while decoder.more_images() && sizes.len() < MAX_TIFF_PAGES {
                // A damaged page chain ends the pages there.
                match decoder.next_image().and_then(|()| decoder.dimensions()) {
                    Ok(size) => sizes.push(size),
                    Err(_) => break,
                }
            }
            (sizes, decoder.more_images())
        } else if kind == ImageKind::Jpeg2000 {
            let size = guarded(kind.name(), || {
                let header = hayro_jpeg2000::Image::new(data, &Default::default())
                    .map_err(|e| corrupt(e.to_string()))?;
                Ok((header.width(), header.height()))
            })?;
            (vec![size], false)
        } else {
            let decoder = reader(kind, data)
                .into_decoder()
                .map_err(|e| corrupt(e.to_string()))?;
            (vec![decoder.dimensions()], false)
        };
        Ok(ImagePages {
            kind,
            data,
            sizes,
            more,
        })
    }
}

impl PageSource for ImagePages<'_> {
    fn pages(&self) -> usize {
        self.sizes.len()
    }

    fn more_pages(&self) -> bool {
        self.more
    }

    fn size(&self, page: usize) -> Option<(u32, u32)> {
        self.sizes.get(page).copied()
    }

    fn load(&self, page: usize) -> Result<Page, ExtractError> {
        let (w, h) = self.sizes.get(page).copied().unwrap_or((0, 0));
        if u64::from(w) * u64::from(h) > MAX_PAGE_PIXELS {
            return Err(ExtractError::Limit(format!(
                "{w}×{h} pixels, more than {MAX_PAGE_PIXELS} (the most one page may have)"
            )));
        }
        let corrupt = |message: String| ExtractError::Corrupt {
            format: self.kind.name(),
            message,
        };
        if self.kind == ImageKind::Jpeg2000 {
            return jpeg2000_page(self.data);
        }
        if self.kind == ImageKind::Tiff {
            if let Some(page) = tiff_fax3_page(self.data, page) {
                return page;
            }
            return tiff_page(self.data, page).map_err(|e| match e {
                tiff::TiffError::UnsupportedError(u) => {
                    ExtractError::Unsupported(format!("TIFF {u}"))
                }
                tiff::TiffError::LimitsExceeded => {
                    ExtractError::Limit("TIFF page needs more memory than allowed".into())
                }
                other => corrupt(other.to_string()),
            });
        }
        let mut decoder = reader(self.kind, self.data)
            .into_decoder()
            .map_err(|e| image_error(self.kind, e))?;
        let orientation = decoder.orientation().ok();
        let dpi = stated_dpi(self.kind, self.data);
        let mut image =
            image::DynamicImage::from_decoder(decoder).map_err(|e| image_error(self.kind, e))?;
        if let Some(o) = orientation {
            image.apply_orientation(o);
        }
        // A quarter turn swaps the stated resolutions too.
        let dpi = match (orientation, dpi) {
            (
                Some(
                    image::metadata::Orientation::Rotate90
                    | image::metadata::Orientation::Rotate270
                    | image::metadata::Orientation::Rotate90FlipH
                    | image::metadata::Orientation::Rotate270FlipH,
                ),
                Some((x, y)),
            ) => Some((y, x)),
            (_, dpi) => dpi,
        };
        Ok(Page {
            bilevel: false,
            image: grey_of(&image),
            dpi,
        })
    }
}

fn image_error(kind: ImageKind, e: image::ImageError) -> ExtractError {
    match e {
        image::ImageError::Limits(l) => ExtractError::Limit(format!("{} image: {l}", kind.name())),
        image::ImageError::Unsupported(u) => {
            ExtractError::Unsupported(format!("{} image: {u}", kind.name()))
        }
        image::ImageError::IoError(e) => ExtractError::Corrupt {
            format: kind.name(),
            message: e.to_string(),
        },
        other => ExtractError::Corrupt {
            format: kind.name(),
            message: other.to_string(),
        },
    }
}

fn reader(kind: ImageKind, data: &[u8]) -> image::ImageReader<Cursor<&[u8]>> {
    let mut reader = image::ImageReader::new(Cursor::new(data));
    if let Some(format) = kind.format() {
        reader.set_format(format);
    }
    let mut limits = image::Limits::default();
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    reader
}

/// Grey of any colour image; transparency is laid over white (a scan
/// saved with a transparent background would otherwise turn black).
fn grey_of(image: &image::DynamicImage) -> GrayImage {
    if !image.color().has_alpha() {
        return image.to_luma8();
    }
    let with_alpha = image.to_luma_alpha8();
    GrayImage::from_fn(with_alpha.width(), with_alpha.height(), |x, y| {
        let [l, a] = with_alpha.get_pixel(x, y).0;
        let (l, a) = (u32::from(l), u32::from(a));
        image::Luma([((l * a + 255 * (255 - a)) / 255) as u8])
    })
}

/// The resolution a PNG (`pHYs`), JPEG (JFIF) or BMP header states, in
/// dots per inch.
fn stated_dpi(kind: ImageKind, data: &[u8]) -> Option<(f32, f32)> {
    let be32 = |b: &[u8]| {
        f32::from(u16::from_be_bytes([b[0], b[1]])) * 65536.0
            + f32::from(u16::from_be_bytes([b[2], b[3]]))
    };
    match kind {
        ImageKind::Png => {
            let at = memchr::memmem::find(data.get(..64 << 10)?, b"pHYs")?;
            let chunk = data.get(at + 4..at + 13)?;
            // Unit 1: per metre.
            (chunk[8] == 1).then(|| {
                let per_inch = |v: f32| v * 0.0254;
                (per_inch(be32(&chunk[0..4])), per_inch(be32(&chunk[4..8])))
            })
        }
        ImageKind::Jpeg => {
            // APP0 "JFIF\0" right after SOI.
            let app0 = data.get(2..20)?;
            if app0[0..2] != [0xFF, 0xE0] || &app0[4..9] != b"JFIF\0" {
                return None;
            }
            let unit = app0[11];
            let x = f32::from(u16::from_be_bytes([app0[12], app0[13]]));
            let y = f32::from(u16::from_be_bytes([app0[14], app0[15]]));
            match unit {
                1 => Some((x, y)),
                2 => Some((x * 2.54, y * 2.54)),
                _ => None,
            }
        }
        ImageKind::Bmp => {
            let le32 = |at: usize| {
                data.get(at..at + 4)
                    .map(|b| i32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            };
            let (x, y) = (le32(38)?, le32(42)?);
            (x > 0 && y > 0).then_some((x as f32 * 0.0254, y as f32 * 0.0254))
        }
        _ => None,
    }
}

fn tiff_decoder(data: &[u8]) -> tiff::TiffResult<tiff::decoder::Decoder<Cursor<&[u8]>>> {
    let mut limits = tiff::decoder::Limits::default();
    limits.decoding_buffer_size = MAX_DECODE_ALLOC as usize;
    Ok(tiff::decoder::Decoder::new(Cursor::new(data))?.with_limits(limits))
}

/// Decodes page `index` of a TIFF to grey.
fn tiff_page(data: &[u8], index: usize) -> tiff::TiffResult<Page> {
    use tiff::decoder::DecodingResult;
    use tiff::tags::Tag;
    use tiff::ColorType;
    let mut decoder = tiff_decoder(data)?;
    decoder.seek_to_image(index)?;
    let (w, h) = decoder.dimensions()?;
    let color = decoder.colortype()?;
    let dpi = tiff_dpi(&mut decoder);
    let palette = match color {
        ColorType::Palette(_) => Some(decoder.get_tag_u16_vec(Tag::ColorMap)?),
        _ => None,
    };
    let pixels = decoder.read_image()?;
    let samples: Vec<u8> = match pixels {
        DecodingResult::U8(v) => v,
        DecodingResult::U16(v) => v.into_iter().map(|s| (s >> 8) as u8).collect(),
        _ => {
            return Err(tiff::TiffError::UnsupportedError(
                tiff::TiffUnsupportedError::UnsupportedDataType,
            ))
        }
    };
    let (w_us, h_us) = (w as usize, h as usize);
    let unsupported = || {
        tiff::TiffError::UnsupportedError(tiff::TiffUnsupportedError::UnsupportedColorType(color))
    };
    // 8-bit samples per pixel after the 16-bit reduction above.
    let grey: Vec<u8> = match color {
        ColorType::Gray(bits @ (1 | 2 | 4)) => unpack_bits(&samples, w_us, h_us, bits, None),
        ColorType::Palette(bits @ (1 | 2 | 4 | 8)) => {
            let map = palette.unwrap_or_default();
            let lut = palette_grey(&map, bits);
            if bits == 8 {
                samples.iter().map(|&i| lut[usize::from(i)]).collect()
            } else {
                unpack_bits(&samples, w_us, h_us, bits, Some(&lut))
            }
        }
        ColorType::Gray(8 | 16) => samples,
        ColorType::GrayA(8 | 16) => samples
            .chunks_exact(2)
            .map(|p| over_white(p[0], p[1]))
            .collect(),
        ColorType::RGB(8 | 16) => samples
            .chunks_exact(3)
            .map(|p| luma(p[0], p[1], p[2]))
            .collect(),
        ColorType::RGBA(8 | 16) => samples
            .chunks_exact(4)
            .map(|p| over_white(luma(p[0], p[1], p[2]), p[3]))
            .collect(),
        ColorType::CMYK(8 | 16) => samples
            .chunks_exact(4)
            .map(|p| {
                let k = 255 - u32::from(p[3]);
                let ink = |c: u8| ((255 - u32::from(c)) * k / 255) as u8;
                luma(ink(p[0]), ink(p[1]), ink(p[2]))
            })
            .collect(),
        _ => return Err(unsupported()),
    };
    let bilevel = matches!(color, ColorType::Gray(1));
    let mut grey = grey;
    // Damaged data may come short: the page is padded white.
    grey.resize(w_us * h_us, 255);
    let image = GrayImage::from_raw(w, h, grey).ok_or_else(unsupported)?;
    Ok(Page {
        image,
        dpi,
        bilevel,
    })
}

/// A TIFF page coded CCITT Group 3 (compression 2, or 3 with one- or
/// two-dimensional coding), which the TIFF decoder does not read; `None`
/// for any other page.
fn tiff_fax3_page(data: &[u8], index: usize) -> Option<Result<Page, ExtractError>> {
    use tiff::tags::Tag;
    let mut decoder = tiff_decoder(data).ok()?;
    decoder.seek_to_image(index).ok()?;
    let compression = decoder
        .find_tag_unsigned::<u16>(Tag::Compression)
        .ok()
        .flatten()?;
    if compression != 2 && compression != 3 {
        return None;
    }
    let corrupt = |message: String| ExtractError::Corrupt {
        format: "TIFF",
        message,
    };
    let mut page = || -> Result<Page, ExtractError> {
        let (w, h) = decoder
            .dimensions()
            .map_err(|e| corrupt(format!("CCITT Group 3: {e}")))?;
        let t4 = decoder
            .find_tag_unsigned::<u32>(Tag::Unknown(292))
            .ok()
            .flatten()
            .unwrap_or(0);
        // Bit 0: rows may be coded two-dimensionally (Modified READ).
        let two_d = compression == 3 && t4 & 1 != 0;
        let lsb_first = decoder
            .find_tag_unsigned::<u16>(Tag::FillOrder)
            .ok()
            .flatten()
            == Some(2);
        let offsets = decoder
            .get_tag_u64_vec(Tag::StripOffsets)
            .map_err(|e| corrupt(format!("CCITT Group 3 strips: {e}")))?;
        let counts = decoder
            .get_tag_u64_vec(Tag::StripByteCounts)
            .map_err(|e| corrupt(format!("CCITT Group 3 strips: {e}")))?;
        let per_strip = decoder
            .find_tag_unsigned::<u32>(Tag::RowsPerStrip)
            .ok()
            .flatten()
            .unwrap_or(h)
            .clamp(1, h.max(1));
        if w == 0 || h == 0 || u64::from(w) * u64::from(h) > MAX_PAGE_PIXELS {
            return Err(ExtractError::Limit(format!(
                "{w}×{h} pixels: not a page that can be decoded"
            )));
        }
        let (wu, hu) = (w as usize, h as usize);
        let mut grey: Vec<u8> = Vec::new();
        let mut rows = 0u32;
        let mut decoded = 0u32;
        for (&at, &len) in offsets.iter().zip(&counts) {
            if rows >= h {
                break;
            }
            let strip_rows = per_strip.min(h - rows);
            let strip = usize::try_from(at)
                .ok()
                .and_then(|at| data.get(at..at.saturating_add(usize::try_from(len).ok()?)))
                .ok_or_else(|| corrupt("CCITT Group 3 strip past the end of the file".into()))?;
            let layout = crate::extract::ocr::fax3::Layout {
                columns: w,
                rows: Some(strip_rows),
                byte_align: compression == 2,
                end_of_line: false,
                lsb_first,
                two_d,
                max_pixels: MAX_PAGE_PIXELS,
            };
            let (pixels, n) = crate::extract::ocr::fax3::decode(strip, layout);
            decoded += n;
            grey.extend_from_slice(&pixels);
            rows += strip_rows;
            // A strip that came short is white to its end.
            grey.resize(rows as usize * wu, 255);
        }
        if decoded == 0 {
            return Err(corrupt("CCITT Group 3: no row could be decoded".into()));
        }
        grey.resize(wu * hu, 255);
        let dpi = tiff_dpi(&mut decoder);
        let image = GrayImage::from_raw(w, h, grey)
            .ok_or_else(|| corrupt("CCITT Group 3: size does not match".into()))?;
        Ok(Page {
            image,
            dpi,
            bilevel: true,
        })
    };
    Some(page())
}

/// Rows of `bits`-bit samples (1, 2, 4 or 8; each row starts on a byte)
/// as 8-bit grey, or through `lut` (palette images). Samples past the
/// data read as all ones (white without a palette).
pub(crate) fn unpack_bits(
    packed: &[u8],
    w: usize,
    h: usize,
    bits: u8,
    lut: Option<&[u8]>,
) -> Vec<u8> {
    let bits = usize::from(bits.clamp(1, 8));
    let row_bytes = (w * bits).div_ceil(8);
    let max = (1usize << bits) - 1;
    let level = |v: usize| match lut {
        Some(lut) => lut.get(v).copied().unwrap_or(255),
        None => (v * 255 / max) as u8,
    };
    // Each byte's samples, looked up whole: a fax page is millions of
    // them.
    let per_byte = 8 / bits;
    let table: Vec<[u8; 8]> = (0..256usize)
        .map(|byte| {
            let mut samples = [0u8; 8];
            for (i, sample) in samples.iter_mut().enumerate().take(per_byte) {
                *sample = level((byte >> (8 - bits * (i + 1))) & max);
            }
            samples
        })
        .collect();
    let mut out = Vec::with_capacity(w * h);
    for row in packed.chunks(row_bytes).take(h) {
        let start = out.len();
        for &byte in row {
            out.extend_from_slice(&table[usize::from(byte)][..per_byte]);
        }
        // Padding bits dropped; a short last row made up with all ones.
        out.resize(start + w, level(max));
    }
    out
}

/// A TIFF colour map (all reds, all greens, all blues; 16-bit) as grey.
fn palette_grey(map: &[u16], bits: u8) -> Vec<u8> {
    let n = 1usize << bits;
    (0..n)
        .map(|i| {
            let c = |plane: usize| (map.get(plane * n + i).copied().unwrap_or(0xFFFF) >> 8) as u8;
            luma(c(0), c(1), c(2))
        })
        .collect()
}

/// Rec. 601 luma, as scanners and JPEG use.
pub(crate) fn luma(r: u8, g: u8, b: u8) -> u8 {
    ((299 * u32::from(r) + 587 * u32::from(g) + 114 * u32::from(b)) / 1000) as u8
}

/// A CMYK sample (0 no ink) as grey: each colour's ink under the black's,
/// then [`luma`].
pub(crate) fn cmyk_grey(c: u8, m: u8, y: u8, k: u8) -> u8 {
    let k = 255 - u32::from(k);
    let ink = |v: u8| ((255 - u32::from(v)) * k / 255) as u8;
    luma(ink(c), ink(m), ink(y))
}

fn over_white(l: u8, a: u8) -> u8 {
    let (l, a) = (u32::from(l), u32::from(a));
    ((l * a + 255 * (255 - a)) / 255) as u8
}

/// The resolution a TIFF page states, in dots per inch.
fn tiff_dpi<R: Read + std::io::Seek>(
    decoder: &mut tiff::decoder::Decoder<R>,
) -> Option<(f32, f32)> {
    use tiff::decoder::ifd::Value;
    use tiff::tags::Tag;
    let rational = |v: Value| match v {
        Value::Rational(n, d) if d > 0 => Some(n as f32 / d as f32),
        Value::Short(n) => Some(f32::from(n)),
        Value::Unsigned(n) => Some(n as f32),
        Value::Float(f) => Some(f),
        _ => None,
    };
    let x = rational(decoder.find_tag(Tag::XResolution).ok()??)?;
    let y = decoder
        .find_tag(Tag::YResolution)
        .ok()
        .flatten()
        .and_then(rational)
        .unwrap_or(x);
    // Unit 2 (the default) inch, 3 centimetre, 1 none.
    let unit = decoder
        .find_tag_unsigned::<u16>(Tag::ResolutionUnit)
        .ok()
        .flatten()
        .unwrap_or(2);
    match unit {
        2 => Some((x, y)),
        3 => Some((x * 2.54, y * 2.54)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn magic_bytes_are_recognised() {
        assert_eq!(sniff(b"\x89PNG\r\n\x1a\n...."), Some(ImageKind::Png));
        assert_eq!(sniff(b"\xFF\xD8\xFF\xE0"), Some(ImageKind::Jpeg));
        assert_eq!(sniff(b"GIF89a.."), Some(ImageKind::Gif));
        assert_eq!(sniff(b"II*\0...."), Some(ImageKind::Tiff));
        assert_eq!(sniff(b"MM\0*...."), Some(ImageKind::Tiff));
        assert_eq!(sniff(b"RIFF\0\0\0\0WEBPVP8 "), Some(ImageKind::WebP));
        assert_eq!(sniff(b"RIFF\0\0\0\0WAVEfmt "), None);
        assert_eq!(
            sniff(b"\0\0\0\x0CjP  \r\n\x87\n\0\0"),
            Some(ImageKind::Jpeg2000)
        );
        assert_eq!(sniff(b"\xFF\x4F\xFF\x51\0\x2F"), Some(ImageKind::Jpeg2000));
        // A text that starts with "BM" is not a bitmap.
        assert_eq!(sniff(b"BMI chart for patient\n"), None);
        let mut bmp = b"BM".to_vec();
        bmp.extend(1000u32.to_le_bytes());
        bmp.extend([0, 0, 0, 0]);
        bmp.extend(54u32.to_le_bytes());
        bmp.extend(40u32.to_le_bytes());
        assert_eq!(sniff(&bmp), Some(ImageKind::Bmp));
    }

    #[test]
    fn packed_rows_unpack() {
        // 10 pixels of 1 bit: 1111111100 then padding.
        let grey = unpack_bits(&[0xFF, 0x00], 10, 1, 1, None);
        assert_eq!(grey, [255, 255, 255, 255, 255, 255, 255, 255, 0, 0]);
        let grey = unpack_bits(&[0x1B], 4, 1, 2, None);
        assert_eq!(grey, [0, 85, 170, 255]);
        // Short data: missing bytes read as white.
        let grey = unpack_bits(&[0x00], 12, 1, 1, None);
        assert_eq!(&grey[8..], [255, 255, 255, 255]);
    }

    /// `unpack_bits` as first written, one sample at a time.
    fn unpack_bits_by_sample(
        packed: &[u8],
        w: usize,
        h: usize,
        bits: u8,
        lut: Option<&[u8]>,
    ) -> Vec<u8> {
        let bits = usize::from(bits);
        let row_bytes = (w * bits).div_ceil(8);
        let max = (1u16 << bits) - 1;
        let mut out = Vec::with_capacity(w * h);
        for row in packed.chunks(row_bytes).take(h) {
            for x in 0..w {
                let bit = x * bits;
                let byte = row.get(bit / 8).copied().unwrap_or(0xFF);
                let shift = 8 - bits - bit % 8;
                let v = (u16::from(byte) >> shift) & max;
                out.push(match lut {
                    Some(lut) => lut.get(usize::from(v)).copied().unwrap_or(255),
                    None => (v * 255 / max) as u8,
                });
            }
        }
        out
    }

    #[test]
    fn samples_unpacked_a_byte_at_a_time_are_those_read_one_by_one() {
        let mut rng = crate::test_rng::Rng::new(0xB175);
        for _ in 0..400 {
            let bits = [1u8, 2, 4, 8][rng.below(4)];
            let (w, h) = (1 + rng.below(40), 1 + rng.below(6));
            // Whole, short (a row cut off) or overlong data.
            let row_bytes = (w * usize::from(bits)).div_ceil(8);
            let len = rng.below(row_bytes * h + row_bytes + 2);
            let packed = rng.bytes(len);
            let palette_len = rng.below(1 << bits) + 1;
            let palette = rng.bytes(palette_len);
            for lut in [None, Some(&palette[..])] {
                assert_eq!(
                    unpack_bits(&packed, w, h, bits, lut),
                    unpack_bits_by_sample(&packed, w, h, bits, lut),
                    "{w}x{h} at {bits} bits from {len} bytes, palette {}",
                    lut.is_some()
                );
            }
        }
    }

    #[test]
    fn damaged_images_are_corrupt_not_panics() {
        for data in [
            &b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR"[..],
            b"\xFF\xD8\xFF\xE0\0\x10JFIF\0",
            b"II*\0\x08\0\0\0\xFF\xFF",
            b"MM\0*\0\0\0\x08",
            b"GIF89a\x01",
            b"\0\0\0\x0CjP  \r\n\x87\n\0\0\0\x14ftypjp2 ",
            b"\xFF\x4F\xFF\x51\0\x2F\0\0\xFF\xFF\xFF\xFF",
        ] {
            let kind = sniff(data).expect("recognised");
            match ImagePages::new(kind, data) {
                Err(ExtractError::Corrupt { .. }) => {}
                Ok(pages) => {
                    for i in 0..pages.pages() {
                        assert!(pages.load(i).is_err(), "{kind:?} page {i} decoded");
                    }
                }
                Err(other) => panic!("{kind:?}: {other}"),
            }
        }
    }
    fn first_page(path: &str) -> Page {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join(path);
        let data = std::fs::read(&path).unwrap();
        let pages = ImagePages::new(sniff(&data).unwrap(), &data).unwrap();
        pages.load(0).unwrap()
    }

    #[test]
    fn group_3_two_dimensional_faxes_decode_to_the_pixels_of_group_4() {
        // The same page coded by Ghostscript (tiffg32d, tiffg4) and by
        // Pillow/libtiff (T4Options 1 against the 1-D coding), at fine and
        // standard fax resolution: our 2-D Group 3 decoder against the
        // TIFF crate's Group 4 and our 1-D decoder, pixel for pixel.
        let other = "fixtures/formats/scans-other/libreoffice_form_ghostscript_";
        let g3 = "fixtures/formats/scans-g3/fax_g3_";
        for (two_d, reference) in [
            (format!("{other}g3_2d.tif"), format!("{other}g4.tif")),
            (
                format!("{other}g3_2d_standard.tif"),
                format!("{other}g4_standard.tif"),
            ),
            (format!("{g3}2d.tif"), format!("{g3}1d.tif")),
        ] {
            let (got, want) = (first_page(&two_d), first_page(&reference));
            assert_eq!(got.image.dimensions(), want.image.dimensions(), "{two_d}");
            let differ = got
                .image
                .as_raw()
                .iter()
                .zip(want.image.as_raw())
                .filter(|(a, b)| a != b)
                .count();
            assert_eq!(differ, 0, "{two_d}: {differ} pixels differ");
            let black = got.image.as_raw().iter().filter(|&&p| p == 0).count();
            assert!(black > 10_000, "{two_d}: only {black} black pixels");
        }
    }
    #[test]
    fn damaged_jpeg_2000_is_an_error_never_a_panic() {
        // OpenJPEG's codestream and JP2 file (tiled, 3 resolution levels)
        // of a card crop, each decoded whole, then bytes flipped and cut.
        for seed in [
            &include_bytes!("../../fuzz/seeds/jpeg2000/card_crop.j2k")[..],
            &include_bytes!("../../fuzz/seeds/jpeg2000/card_crop.jp2")[..],
        ] {
            let page = jpeg2000_page(seed).expect("the seed decodes");
            assert_eq!(page.image.dimensions(), (192, 128));
            let mut rng = crate::test_rng::Rng::new(0x9E37_79B9_7F4A_7C15);
            for round in 0..300 {
                let data = rng.damaged(seed, 1 + round % 8, round % 3 == 0);
                if let Ok(pages) = ImagePages::new(ImageKind::Jpeg2000, &data) {
                    let _ = pages.load(0);
                }
            }
        }
    }
}
