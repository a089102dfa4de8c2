//! PDF pages whose text layer does not hold their text (scans, image-only
//! pages, text in fonts without a Unicode map), read by OCR of the image
//! that covers most of the page; and images placed on pages that do have
//! text (a scanned insurance card or ID pasted into a typed letter), read
//! on their own when they are large enough to hold text
//! ([`MIN_TEXT_IMAGE`]).
//!
//! The PDF parser shows every page to [`PdfScans`] (a [`PageReader`]); it
//! keeps the stored bytes of each image to read (at most the file's OCR
//! page limit of them, scanned pages and images alike, in page order) and,
//! once the text layer has been matched, hands them to
//! [`super::read_pages`]. The image is decoded there, one per worker: JPEG
//! (`DCTDecode`), JPEG 2000 (`JPXDecode`), CCITT Group 4 and Group 3 one-
//! and two-dimensional (`CCITTFaxDecode`, any `K`), and raw grey, RGB,
//! CMYK or palette (`Indexed`) samples behind the standard filters, and JBIG2 (`JBIG2Decode`,
//! with its globals). Other codecs are reported per page as unsupported.
//!
//! Findings on a scanned page have `field` = `page N`; on an image of a
//! page with text, `page N image NAME` (the XObject's resource name, or
//! `page N inline image K`), so that they are told apart from the typed
//! text's.

use super::prep::Page;
use super::{read_some_pages, PageSource};
use crate::error::ExtractError;
use crate::extract::image::{self as image_file, ImageKind, ImagePages};
use crate::extract::pdf::{self, ImageFilter, PageImage, PageReader, Parm, PdfPage, TextLayer};
use crate::extract::Ctx;
use image::GrayImage;
use std::collections::HashSet;
use std::io::Read;

/// Most bytes one page's image may take once its standard filters are
/// undone (a letter page of 8-bit RGB at 300 dpi takes 25 MiB).
const MAX_IMAGE_BYTES: usize = 256 << 20;

/// The smallest image on a page with text that is read: its shorter side
/// at least 100 pixels and its longer side at least 300. The engine needs
/// letters about 20 pixels tall to read them reliably (10 at the very
/// least), so a label and its value (`SSN 219-45-6780`, 15 characters,
/// ~12 pixels wide each) need ~200–300 pixels of width, and two such
/// lines with their spacing ~100 pixels of height. A wallet card scanned
/// at 100 dpi (337×212) passes; logos' icons, bullets, rules, signature
/// snippets and thumbnails, whose text if any is too small to read, do
/// not cost an engine run each.
pub const MIN_TEXT_IMAGE: (u32, u32) = (300, 100);

/// Bytes of an image's name kept in `field`.
const MAX_NAME: usize = 64;

/// Whether an image on a page with text is worth reading.
fn holds_text(width: u32, height: u32) -> bool {
    let (long, short) = (width.max(height), width.min(height));
    long >= MIN_TEXT_IMAGE.0 && short >= MIN_TEXT_IMAGE.1
}

/// Scans a PDF's text layer, then OCRs its pages that have none and the
/// images on pages with text.
pub fn scan(ctx: &mut Ctx, head: &[u8], rest: &mut dyn Read) -> Result<(), ExtractError> {
    let mut scans = PdfScans {
        limit: ctx.limits().ocr.max_pages_per_file as usize,
        keep: ctx.limits().ocr.max_pages_per_file as usize,
        pages: Vec::new(),
        seen: HashSet::new(),
    };
    let text = pdf::scan_with(ctx, head, rest, &mut scans);
    // The pages kept were read to the end of the text layer's scan, even
    // when a limit cut it later: they are read, and the cut reported.
    let ocr = read_some_pages(ctx, &scans);
    text.and(ocr)
}

/// The images of one PDF to read, as kept by the parser's pass.
pub struct PdfScans {
    /// `--ocr-max-pages`.
    limit: usize,
    /// How many more images may be kept.
    keep: usize,
    pages: Vec<ScannedPage>,
    /// Image XObjects already kept from pages with text: a letterhead
    /// drawn on every page is read once (its findings are on the first
    /// page that draws it), not once per page against the page limit.
    seen: HashSet<u32>,
}

/// One image to read: a scanned page, or an image on a page with text.
struct ScannedPage {
    /// 1-based.
    number: usize,
    /// `None`: the page's scan. Otherwise the image's label on its page
    /// (`image Im1`, `inline image 2`).
    label: Option<String>,
    /// `None`: past the per-file page limit (not kept; reported).
    image: Option<StoredImage>,
    width: u32,
    height: u32,
}

/// A page image as the PDF stores it.
struct StoredImage {
    bits: u32,
    components: Option<u32>,
    color_space: String,
    palette: Option<Vec<u8>>,
    image_mask: bool,
    filters: Vec<ImageFilter>,
    raw: Vec<u8>,
    truncated: bool,
    /// Resolution on the page, from the area it covers.
    dpi: Option<f32>,
}

impl PdfScans {
    /// Keeps `image` to read (or notes it, past the page limit).
    fn push(&mut self, number: usize, label: Option<String>, image: &PageImage<'_>, store: bool) {
        let stored = (store && self.keep > 0).then(|| {
            self.keep -= 1;
            let inches = image.area / (72.0 * 72.0);
            let pixels = f64::from(image.width) * f64::from(image.height);
            StoredImage {
                bits: image.bits_per_component,
                components: image.components,
                color_space: image.color_space.clone(),
                palette: image.palette.clone(),
                image_mask: image.image_mask,
                filters: image.filters.clone(),
                raw: image.raw.to_vec(),
                truncated: image.truncated,
                dpi: (inches > 0.01).then(|| (pixels / inches).sqrt() as f32),
            }
        });
        self.pages.push(ScannedPage {
            number,
            label,
            image: stored,
            width: image.width,
            height: image.height,
        });
    }

    /// The images of a page whose text layer was read that may hold text
    /// of their own, each labelled.
    /// `store`: keep their bytes (not with OCR off: they are only reported).
    fn text_page_images(&mut self, page: &PdfPage<'_>, store: bool) {
        let mut inline = 0;
        for image in &page.images {
            let label = match (&image.name, image.object) {
                (Some(name), _) => {
                    let mut name = name.clone();
                    if name.len() > MAX_NAME {
                        let mut cut = MAX_NAME;
                        while !name.is_char_boundary(cut) {
                            cut -= 1;
                        }
                        name.truncate(cut);
                    }
                    format!("image {name}")
                }
                (None, _) => {
                    inline += 1;
                    format!("inline image {inline}")
                }
            };
            if !holds_text(image.width, image.height) {
                continue;
            }
            if let Some(object) = image.object {
                if !self.seen.insert(object) {
                    continue;
                }
            }
            self.push(page.number, Some(label), image, store);
        }
    }
}

impl PageReader for PdfScans {
    fn read_page(&mut self, ctx: &mut Ctx, page: &PdfPage<'_>) -> bool {
        let lacks_text = match page.text_layer {
            TextLayer::Usable => false,
            TextLayer::Scanned | TextLayer::Unmapped | TextLayer::Fragmented => true,
            TextLayer::Empty => !page.images.is_empty(),
        };
        if !lacks_text {
            // With OCR off these are reported `ocr_off` by the reader, as
            // image files are: nothing else would say they were not read.
            let store = ctx.limits().ocr.mode != super::OcrMode::Off;
            self.text_page_images(page, store);
            return false;
        }
        // With OCR off the parser's own verdict (`no_text`, naming the
        // page) stands: it says what was not read and why.
        if ctx.limits().ocr.mode == super::OcrMode::Off {
            return false;
        }
        // A page with no image to read stays `no_text` (the parser says so).
        let Some(largest) = page
            .images
            .iter()
            .max_by_key(|i| u64::from(i.width) * u64::from(i.height))
        else {
            return false;
        };
        // An image too small to hold a line of text leaves the page
        // unread: the parser reports it.
        let readable =
            largest.width >= super::prep::MIN_SIDE && largest.height >= super::prep::MIN_SIDE;
        if !readable {
            return false;
        }
        self.push(page.number, None, largest, true);
        true
    }
}

impl PageSource for PdfScans {
    fn pages(&self) -> usize {
        self.pages.len()
    }

    fn size(&self, page: usize) -> Option<(u32, u32)> {
        self.pages.get(page).map(|p| (p.width, p.height))
    }

    fn load(&self, page: usize) -> Result<Page, ExtractError> {
        let Some(scanned) = self.pages.get(page) else {
            return Err(ExtractError::Limit("no such page".into()));
        };
        let Some(image) = &scanned.image else {
            return Err(ExtractError::Limit(format!(
                "more than {} pages to OCR in one file (--ocr-max-pages)",
                self.limit
            )));
        };
        decode(image, scanned.width, scanned.height)
    }

    fn field(&self, page: usize) -> String {
        match self.pages.get(page) {
            Some(ScannedPage {
                number,
                label: Some(label),
                ..
            }) => format!("page {number} {label}"),
            Some(p) => format!("page {}", p.number),
            None => format!("page {}", page + 1),
        }
    }

    /// The images by name: they need not be on consecutive pages.
    fn label(&self, first: usize, last: usize) -> String {
        const LISTED: usize = 3;
        let mut label: Vec<String> = (first..=last)
            .take(LISTED)
            .map(|i| self.field(i))
            .collect::<Vec<_>>();
        let more = (last + 1 - first).saturating_sub(LISTED);
        if more > 0 {
            label.push(format!("{more} more"));
        }
        label.join(", ")
    }
}

fn unsupported(what: &str) -> ExtractError {
    ExtractError::Unsupported(format!("{what} image in a PDF"))
}

fn corrupt(message: String) -> ExtractError {
    ExtractError::Corrupt {
        format: "PDF image",
        message,
    }
}

/// Decodes a page image to grey.
fn decode(image: &StoredImage, width: u32, height: u32) -> Result<Page, ExtractError> {
    if u64::from(width) * u64::from(height) > image_file::MAX_PAGE_PIXELS {
        return Err(ExtractError::Limit(format!(
            "{width}×{height} pixels, more than {} (the most one page may have)",
            image_file::MAX_PAGE_PIXELS
        )));
    }
    if image.truncated {
        return Err(ExtractError::Limit(
            "an inline image longer than what is kept of it".into(),
        ));
    }
    let view = pdf::PageImage {
        object: None,
        name: None,
        width,
        height,
        bits_per_component: image.bits,
        color_space: image.color_space.clone(),
        components: image.components,
        palette: image.palette.clone(),
        image_mask: image.image_mask,
        filters: image.filters.clone(),
        raw: std::borrow::Cow::Borrowed(&image.raw),
        truncated: false,
        area: 0.0,
    };
    let (bytes, codec) = view.decode_leading(MAX_IMAGE_BYTES);
    let dpi = image.dpi.map(|d| (d, d));
    let mut page = match codec.as_ref().map(|c| c.name.as_str()) {
        None => raw_samples(image, width, height, &bytes)?,
        Some("DCTDecode" | "DCT") => {
            let pages = ImagePages::new(ImageKind::Jpeg, &bytes)?;
            pages.load(0)?
        }
        Some("CCITTFaxDecode" | "CCF") => {
            let codec = codec.as_ref().expect("matched a codec");
            ccitt(codec, width, height, &bytes)?
        }
        Some("JPXDecode") => image_file::jpeg2000_page(&bytes)?,
        Some("JBIG2Decode") => {
            let codec = codec.as_ref().expect("matched a codec");
            jbig2(codec, &bytes)?
        }
        Some(other) => return Err(unsupported(other)),
    };
    if page.dpi.is_none() {
        page.dpi = dpi;
    }
    Ok(page)
}

/// A JBIG2 image in the embedded organisation (`JBIG2Decode`), with the
/// shared segments of its `JBIG2Globals` stream, through hayro-jbig2. The
/// page's size is checked before its bitmap is made (the decoder's own
/// bound is 65 535 pixels a side).
fn jbig2(codec: &ImageFilter, data: &[u8]) -> Result<Page, ExtractError> {
    image_file::guarded("PDF image", || jbig2_unguarded(codec, data))
}

fn jbig2_unguarded(codec: &ImageFilter, data: &[u8]) -> Result<Page, ExtractError> {
    use hayro_jbig2::{DecodeSettings, Globals, Page as Jbig2Page};
    let fail = |e: hayro_jbig2::DecodeError| corrupt(format!("JBIG2: {e}"));
    let settings = DecodeSettings::default();
    let globals = codec
        .parms
        .iter()
        .find_map(|(k, v)| match v {
            Parm::Stream(g) if k == "JBIG2Globals" => Some(g),
            _ => None,
        })
        .map(|g| Globals::new(g, &settings))
        .transpose()
        .map_err(fail)?;
    let page = Jbig2Page::new_embedded(data, globals.as_ref(), &settings).map_err(fail)?;
    let (width, height) = (page.width(), page.height());
    if u64::from(width) * u64::from(height) > image_file::MAX_PAGE_PIXELS {
        return Err(ExtractError::Limit(format!(
            "JBIG2 page of {width}×{height} pixels, more than {} (the most one page may have)",
            image_file::MAX_PAGE_PIXELS
        )));
    }
    let mut grey = Grey(Vec::with_capacity(width as usize * height as usize));
    page.decode(&mut grey).map_err(fail)?;
    grey_page(width, height, grey.0, true)
}

/// hayro-jbig2's pixels as grey bytes (0 black, 255 white).
struct Grey(Vec<u8>);

impl hayro_jbig2::Decoder for Grey {
    fn push_pixel(&mut self, black: bool) {
        self.0.push(if black { 0 } else { 255 });
    }

    fn push_pixel_chunk(&mut self, black: bool, chunk_count: u32) {
        let n = self.0.len() + 8 * chunk_count as usize;
        self.0.resize(n, if black { 0 } else { 255 });
    }

    fn next_line(&mut self) {}
}

/// A decoded page of `grey` pixels. Damaged data may come short: the rows
/// it did not hold are white (and extra bytes are dropped).
fn grey_page(
    width: u32,
    height: u32,
    mut grey: Vec<u8>,
    bilevel: bool,
) -> Result<Page, ExtractError> {
    grey.resize(width as usize * height as usize, 255);
    let image = GrayImage::from_raw(width, height, grey)
        .ok_or_else(|| corrupt("image size does not match its data".into()))?;
    Ok(Page {
        image,
        dpi: None,
        bilevel,
    })
}

fn number(parms: &[(String, Parm)], key: &str) -> Option<f64> {
    parms.iter().find_map(|(k, v)| match v {
        Parm::Number(n) if k == key => Some(*n),
        _ => None,
    })
}

/// Raw samples (after Flate, LZW ...): grey, RGB, CMYK or palette indices; 1-bit masks and
/// bilevel images (sample 0 is black in both, by default).
fn raw_samples(
    image: &StoredImage,
    width: u32,
    height: u32,
    bytes: &[u8],
) -> Result<Page, ExtractError> {
    let (w, h) = (width as usize, height as usize);
    if !image.image_mask && image.color_space == "Indexed" {
        let Some(palette) = &image.palette else {
            return Err(unsupported("Indexed colour with an unreadable palette"));
        };
        if !matches!(image.bits, 1 | 2 | 4 | 8) {
            return Err(unsupported(&format!("{}-bit Indexed colour", image.bits)));
        }
        // An index past the table is white (nothing drawn).
        let grey = image_file::unpack_bits(bytes, w, h, image.bits as u8, Some(palette));
        if grey.is_empty() {
            return Err(corrupt("no image data".into()));
        }
        let bilevel = palette.iter().all(|&g| g == 0 || g == 255);
        return grey_page(width, height, grey, bilevel);
    }
    let components = if image.image_mask {
        1
    } else {
        match image.color_space.as_str() {
            "Separation" | "DeviceN" | "Pattern" => {
                return Err(unsupported(&format!("{} colour", image.color_space)))
            }
            _ => image
                .components
                .unwrap_or(match image.color_space.as_str() {
                    "DeviceRGB" | "CalRGB" | "Lab" => 3,
                    "DeviceCMYK" => 4,
                    _ => 1,
                }),
        }
    };
    let bits = if image.image_mask { 1 } else { image.bits };
    let grey: Vec<u8> = match (components, bits) {
        (1, 1 | 2 | 4) => image_file::unpack_bits(bytes, w, h, bits as u8, None),
        (1, 8) => bytes.iter().take(w * h).copied().collect(),
        (1, 16) => bytes.chunks_exact(2).take(w * h).map(|p| p[0]).collect(),
        (3, 8) => bytes
            .chunks_exact(3)
            .take(w * h)
            .map(|p| image_file::luma(p[0], p[1], p[2]))
            .collect(),
        (4, 8) => bytes
            .chunks_exact(4)
            .take(w * h)
            .map(|p| image_file::cmyk_grey(p[0], p[1], p[2], p[3]))
            .collect(),
        _ => return Err(unsupported(&format!("{components}-component {bits}-bit"))),
    };
    if grey.is_empty() {
        return Err(corrupt("no image data".into()));
    }
    grey_page(width, height, grey, bits == 1)
}

/// CCITT data: Group 4 (`K < 0`) decoded by wrapping it in a one-strip
/// TIFF (the TIFF decoder holds the codec), Group 3 (`K = 0`
/// one-dimensional, `K > 0` two-dimensional) by [`super::fax3`].
fn ccitt(codec: &ImageFilter, width: u32, height: u32, data: &[u8]) -> Result<Page, ExtractError> {
    let k = number(&codec.parms, "K").unwrap_or(0.0);
    let columns = number(&codec.parms, "Columns").map_or(width, |c| c as u32);
    let rows = match number(&codec.parms, "Rows") {
        Some(r) if r > 0.0 => r as u32,
        _ => height,
    };
    if columns == 0 || rows == 0 || columns > u32::from(u16::MAX) || rows > u32::from(u16::MAX) {
        return Err(unsupported(&format!("{columns}×{rows} CCITT")));
    }
    if k >= 0.0 {
        let byte_align = codec
            .parms
            .iter()
            .any(|(k, v)| k == "EncodedByteAlign" && *v == Parm::Bool(true));
        let layout = super::fax3::Layout {
            columns,
            rows: Some(rows),
            byte_align,
            end_of_line: codec
                .parms
                .iter()
                .any(|(k, v)| k == "EndOfLine" && *v == Parm::Bool(true)),
            lsb_first: false,
            // K > 0: rows coded one- or two-dimensionally, each tagged.
            two_d: k > 0.0,
            max_pixels: image_file::MAX_PAGE_PIXELS,
        };
        let (grey, decoded) = super::fax3::decode(data, layout);
        if decoded == 0 {
            return Err(corrupt("CCITT Group 3: no row could be decoded".into()));
        }
        return grey_page(columns, rows, grey, true);
    }
    let tiff = g4_tiff(columns, rows, data);
    let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(&tiff))
        .map_err(|e| corrupt(format!("CCITT: {e}")))?;
    let bits = match decoder.read_image() {
        Ok(tiff::decoder::DecodingResult::U8(v)) => v,
        Ok(_) => return Err(corrupt("CCITT: unexpected sample type".into())),
        Err(e) => return Err(corrupt(format!("CCITT: {e}"))),
    };
    // The decoder writes black runs as 1 bits.
    let (w, h) = (columns as usize, rows as usize);
    let grey = image_file::unpack_bits(&bits, w, h, 1, Some(&[255, 0]));
    grey_page(columns, rows, grey, true)
}

/// A little-endian TIFF holding `data` as one Group 4 strip.
fn g4_tiff(width: u32, height: u32, data: &[u8]) -> Vec<u8> {
    const SHORT: u16 = 3;
    const LONG: u16 = 4;
    let entries: [(u16, u16, u32); 9] = [
        (256, LONG, width),
        (257, LONG, height),
        (258, SHORT, 1),
        (259, SHORT, 4),
        (262, SHORT, 0),
        (273, LONG, 0), // strip offset, filled in below
        (277, SHORT, 1),
        (278, LONG, height),
        (279, LONG, data.len() as u32),
    ];
    let ifd_len = 2 + entries.len() * 12 + 4;
    let data_at = (8 + ifd_len) as u32;
    let mut out = Vec::with_capacity(data_at as usize + data.len());
    out.extend_from_slice(b"II*\0");
    out.extend_from_slice(&8u32.to_le_bytes());
    out.extend_from_slice(&(entries.len() as u16).to_le_bytes());
    for (tag, kind, value) in entries {
        let value = if tag == 273 { data_at } else { value };
        out.extend_from_slice(&tag.to_le_bytes());
        out.extend_from_slice(&kind.to_le_bytes());
        out.extend_from_slice(&1u32.to_le_bytes());
        if kind == SHORT {
            out.extend_from_slice(&(value as u16).to_le_bytes());
            out.extend_from_slice(&[0, 0]);
        } else {
            out.extend_from_slice(&value.to_le_bytes());
        }
    }
    out.extend_from_slice(&0u32.to_le_bytes());
    out.extend_from_slice(data);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jbig2_decodes_and_damaged_jbig2_is_an_error_never_a_panic() {
        // Page information, an MMR generic region (Pillow's Group 4 of a
        // crop of Ghostscript's fax of a form, 5669 black pixels), end of
        // page; then bytes flipped and cut, segment types included.
        let seed = include_bytes!("../../../fuzz/seeds/jbig2/form_crop_mmr.jb2");
        let codec = ImageFilter {
            name: "JBIG2Decode".into(),
            parms: Vec::new(),
        };
        let page = jbig2(&codec, seed).expect("the seed decodes");
        assert_eq!(page.image.dimensions(), (400, 200));
        let black = page.image.as_raw().iter().filter(|&&p| p == 0).count();
        assert_eq!(black, 5669);
        let mut rng = crate::test_rng::Rng::new(0x2545_F491_4F6C_DD1D);
        for round in 0..2000 {
            let data = rng.damaged(seed, 1 + round % 6, round % 4 == 0);
            let _ = jbig2(&codec, &data);
        }
    }

    /// JBIG2 from jbig2enc (pikepdf's test PDFs, tests/data/jbig2): symbol
    /// dictionaries and text regions, arithmetic-coded, two with the
    /// dictionary in `JBIG2Globals`. Each page must be the pixels poppler
    /// decodes (jbig2dec agrees with poppler on all three).
    #[test]
    fn real_jbig2_pages_decode_to_the_pixels_poppler_decodes() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/jbig2");
        for name in ["pikepdf_jbig2", "pikepdf_jbig2global", "pikepdf_pdfa_jbig2"] {
            let read = |ext: &str| std::fs::read(dir.join(format!("{name}.{ext}")));
            let stream = read("jb2e").expect("stream");
            let parms = match read("jb2g") {
                Ok(globals) => vec![("JBIG2Globals".to_string(), Parm::Stream(globals))],
                Err(_) => Vec::new(),
            };
            let codec = ImageFilter {
                name: "JBIG2Decode".into(),
                parms,
            };
            let page = jbig2(&codec, &stream).unwrap_or_else(|e| panic!("{name}: {e}"));
            let poppler = image::load_from_memory(&read("poppler.png").expect("png"))
                .expect("poppler's page")
                .to_luma8();
            assert_eq!(page.image.dimensions(), poppler.dimensions(), "{name}");
            let differ = page
                .image
                .as_raw()
                .iter()
                .zip(poppler.as_raw())
                .filter(|(a, b)| a != b)
                .count();
            let black = poppler.as_raw().iter().filter(|&&p| p == 0).count();
            assert!(black > 100_000, "{name}: {black} black pixels");
            assert_eq!(differ, 0, "{name}: {differ} pixels differ from poppler's");
            if name != "pikepdf_jbig2" {
                continue;
            }
            // Damaged (the smallest page, dictionary in the stream): symbol
            // dictionaries and arithmetic coding that no longer add up are
            // an error or a page, never a panic.
            let mut rng = crate::test_rng::Rng::new(stream.len() as u64);
            for round in 0..100 {
                let data = rng.damaged(&stream, 1 + round % 5, round % 3 == 0);
                let _ = jbig2(&codec, &data);
            }
        }
    }
}
