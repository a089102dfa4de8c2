//! What a page hands over to a reader of images (OCR): every image it
//! draws with its filter chain, parameters, size, colour space and raw
//! bytes (bounded), and whether the page's text layer is usable. Nothing
//! decodes image codecs here; [`PageImage::decode_leading`] undoes the
//! standard filters in front of one (`[/FlateDecode /DCTDecode]` gives the
//! JPEG).

use super::content::DrawnImage;
use super::document::Document;
use super::filters::{self, Filter};
use super::layout::TextLayer;
use super::syntax::Obj;
use std::borrow::Cow;
use std::io::Read;

/// Bytes of a parameter stream (`JBIG2Globals`) kept, each and per page.
const MAX_GLOBALS: usize = 1 << 20;
pub(super) const MAX_PAGE_PARM_STREAMS: usize = 4 << 20;

/// A value of a filter's `DecodeParms`.
#[derive(Clone, Debug, PartialEq)]
pub enum Parm {
    Number(f64),
    Bool(bool),
    Name(String),
    /// A stream (`JBIG2Globals`), decoded, at most 1 MiB.
    Stream(Vec<u8>),
    Other,
}

/// One filter of an image's chain, with its parameters.
#[derive(Clone, Debug, PartialEq)]
pub struct ImageFilter {
    /// The full name: `FlateDecode`, `DCTDecode`, `CCITTFaxDecode` ...
    pub name: String,
    pub parms: Vec<(String, Parm)>,
}

/// An image drawn by a page.
#[derive(Clone, Debug)]
pub struct PageImage<'d> {
    /// The image XObject's object number; `None` for an inline image.
    pub object: Option<u32>,
    /// The image XObject's resource name (`Im1`), as the page's content
    /// (or a form it draws) names it; `None` for an inline image.
    pub name: Option<String>,
    pub width: u32,
    pub height: u32,
    /// 1 for masks and bilevel images.
    pub bits_per_component: u32,
    /// `DeviceGray`, `DeviceRGB`, `DeviceCMYK`, `ICCBased`, `Indexed`,
    /// `CalRGB` ... (the family; empty for image masks).
    pub color_space: String,
    /// Colour components, where the colour space says (`ICCBased` `/N`,
    /// the device spaces); an `Indexed` space's base.
    pub components: Option<u32>,
    /// An `Indexed` space's colours as grey levels (0 black, 255 white),
    /// one per index: `None` when its base or lookup table cannot be read.
    pub palette: Option<Vec<u8>>,
    pub image_mask: bool,
    /// The filters in the order they apply.
    pub filters: Vec<ImageFilter>,
    /// The bytes as stored (still filtered): a slice of the file, or an
    /// inline image's data (at most 1 MiB).
    pub raw: Cow<'d, [u8]>,
    /// An inline image's data was longer than what `raw` holds.
    pub truncated: bool,
    /// The area the image covers on the page, in user space units².
    pub area: f64,
}

/// A page as handed over: its number (1-based), how its text layer reads,
/// and its images.
#[derive(Debug)]
pub struct PdfPage<'d> {
    pub number: usize,
    pub text_layer: TextLayer,
    pub images: Vec<PageImage<'d>>,
    /// The page's media box (user space units).
    pub media_box: [f64; 4],
}

impl PdfPage<'_> {
    /// Whether images cover at least `fraction` of the page.
    pub fn images_cover(&self, fraction: f64) -> bool {
        let [x0, y0, x1, y1] = self.media_box;
        let page = ((x1 - x0) * (y1 - y0)).abs();
        let images: f64 = self.images.iter().map(|i| i.area).sum();
        page > 0.0 && images >= fraction * page
    }
}

impl PageImage<'_> {
    /// The bytes with the standard filters in front of the first image
    /// codec undone, at most `max` bytes, and that codec's filter (none
    /// for raw pixels). Damaged data ends early.
    pub fn decode_leading(&self, max: usize) -> (Vec<u8>, Option<ImageFilter>) {
        let standard: Vec<(Filter, Obj)> = self
            .filters
            .iter()
            .map(|f| {
                let parms = Obj::Dict(
                    f.parms
                        .iter()
                        .filter_map(|(k, v)| {
                            let v = match v {
                                Parm::Number(n) => Obj::Num(*n),
                                Parm::Bool(b) => Obj::Bool(*b),
                                _ => return None,
                            };
                            Some((k.as_bytes().to_vec(), v))
                        })
                        .collect(),
                );
                (Filter::from_name(f.name.as_bytes(), &parms), parms)
            })
            .collect();
        let stopped = standard
            .iter()
            .position(|(f, _)| f.is_image() || matches!(f, Filter::Unknown(_)));
        let mut chain = filters::chain(&self.raw, &standard, u64::MAX, u64::MAX);
        let mut out = Vec::new();
        let _ = chain.reader.by_ref().take(max as u64).read_to_end(&mut out);
        (out, stopped.and_then(|i| self.filters.get(i).cloned()))
    }
}

fn name(obj: &Obj) -> Option<String> {
    match obj {
        Obj::Name(n) => Some(String::from_utf8_lossy(n).into_owned()),
        _ => None,
    }
}

/// Inline images abbreviate keys and names.
fn expand(key: &str) -> &str {
    match key {
        "W" => "Width",
        "H" => "Height",
        "BPC" => "BitsPerComponent",
        "CS" => "ColorSpace",
        "F" => "Filter",
        "DP" => "DecodeParms",
        "IM" => "ImageMask",
        "G" => "DeviceGray",
        "RGB" => "DeviceRGB",
        "CMYK" => "DeviceCMYK",
        "I" => "Indexed",
        "AHx" => "ASCIIHexDecode",
        "A85" => "ASCII85Decode",
        "LZW" => "LZWDecode",
        "Fl" => "FlateDecode",
        "RL" => "RunLengthDecode",
        "CCF" => "CCITTFaxDecode",
        "DCT" => "DCTDecode",
        other => other,
    }
}

/// `streams_left`: bytes of parameter streams the page may still hold.
pub(super) fn hand_over<'d>(
    doc: &Document<'d>,
    drawn: DrawnImage,
    streams_left: &mut usize,
) -> PageImage<'d> {
    let dict = drawn.dict;
    let get = |key: &str| -> Obj {
        let long = dict.get(key.as_bytes()).cloned();
        let short = || {
            ["W", "H", "BPC", "CS", "F", "DP", "IM"]
                .iter()
                .find(|k| expand(k) == key)
                .and_then(|k| dict.get(k.as_bytes()).cloned())
        };
        doc.owned(&long.or_else(short).unwrap_or(Obj::Null))
    };
    let int = |key: &str| {
        get(key)
            .as_num()
            .filter(|n| *n >= 0.0 && n.is_finite())
            .map(|n| n as u32)
    };
    let image_mask = matches!(get("ImageMask"), Obj::Bool(true));
    let space = get("ColorSpace");
    let mut palette = None;
    let (color_space, components) = match &space {
        Obj::Name(n) => {
            let n = expand(&String::from_utf8_lossy(n)).to_string();
            let c = components_of(&n);
            (n, c)
        }
        Obj::Array(items) => {
            let family = items
                .first()
                .and_then(name)
                .map(|n| expand(&n).to_string())
                .unwrap_or_default();
            let c = match family.as_str() {
                "ICCBased" => icc_components(doc, items),
                "Indexed" => {
                    palette = indexed_palette(doc, items);
                    Some(1)
                }
                _ => items
                    .get(1)
                    .and_then(name)
                    .and_then(|n| components_of(expand(&n))),
            };
            (family, c)
        }
        _ => (String::new(), None),
    };
    let filter_names: Vec<Obj> = match get("Filter") {
        Obj::Array(items) => items.iter().map(|i| doc.owned(i)).collect(),
        Obj::Null => Vec::new(),
        other => vec![other],
    };
    let parms = get("DecodeParms");
    let filters = filter_names
        .iter()
        .take(16)
        .enumerate()
        .map(|(i, f)| {
            let p = match &parms {
                Obj::Array(items) => items.get(i).map(|p| doc.owned(p)).unwrap_or(Obj::Null),
                single if i == 0 => single.clone(),
                _ => Obj::Null,
            };
            let parms = match p {
                Obj::Dict(entries) => entries
                    .iter()
                    .map(|(k, v)| {
                        let value = match v {
                            Obj::Num(n) => Parm::Number(*n),
                            Obj::Bool(b) => Parm::Bool(*b),
                            Obj::Name(n) => Parm::Name(String::from_utf8_lossy(n).into_owned()),
                            Obj::Ref(n) if doc.stream(*n).is_some() => {
                                match doc.read_object(*n, MAX_GLOBALS.min(*streams_left)) {
                                    Ok(Some((bytes, false))) => {
                                        *streams_left -= bytes.len();
                                        Parm::Stream(bytes)
                                    }
                                    _ => Parm::Other,
                                }
                            }
                            Obj::Ref(_) => match doc.owned(v) {
                                Obj::Num(n) => Parm::Number(n),
                                Obj::Bool(b) => Parm::Bool(b),
                                _ => Parm::Other,
                            },
                            _ => Parm::Other,
                        };
                        (String::from_utf8_lossy(k).into_owned(), value)
                    })
                    .collect(),
                _ => Vec::new(),
            };
            ImageFilter {
                name: expand(&name(f).unwrap_or_default()).to_string(),
                parms,
            }
        })
        .collect();
    let (raw, truncated) = match (drawn.inline, drawn.object.and_then(|n| doc.stream(n))) {
        (Some((bytes, cut)), _) => (Cow::Owned(bytes), cut),
        (None, Some((_, raw))) => (Cow::Borrowed(raw), false),
        (None, None) => (Cow::Borrowed(&[][..]), false),
    };
    PageImage {
        object: drawn.object,
        name: drawn
            .name
            .as_deref()
            .map(|n| String::from_utf8_lossy(n).into_owned()),
        width: int("Width").unwrap_or(0),
        height: int("Height").unwrap_or(0),
        bits_per_component: if image_mask {
            1
        } else {
            int("BitsPerComponent").unwrap_or(8)
        },
        color_space,
        components,
        palette,
        image_mask,
        filters,
        raw,
        truncated,
        area: drawn.area,
    }
}

/// `[/ICCBased stream]`: the stream's `/N`.
fn icc_components(doc: &Document<'_>, items: &[Obj]) -> Option<u32> {
    let profile = doc.owned(items.get(1)?);
    let n = match profile {
        Obj::Ref(n) => doc
            .stream(n)
            .and_then(|(d, _)| d.get(b"N").and_then(Obj::as_num)),
        other => other.get(b"N").and_then(Obj::as_num),
    }?;
    Some(n as u32)
}

/// `[/Indexed base hival lookup]` as grey levels, `hival + 1` of them
/// (at most 256): each colour of the lookup table (a string or a stream)
/// in the base space turned to grey as the decoders turn its pixels.
/// `None` for a base of no known component count or a table shorter than
/// its colours.
fn indexed_palette(doc: &Document<'_>, items: &[Obj]) -> Option<Vec<u8>> {
    let base = doc.owned(items.get(1)?);
    let (family, n) = match &base {
        Obj::Name(b) => {
            let family = expand(&String::from_utf8_lossy(b)).to_string();
            let n = components_of(&family)?;
            (family, n)
        }
        Obj::Array(parts) => {
            let family = parts.first().and_then(name)?;
            let n = match family.as_str() {
                "ICCBased" => icc_components(doc, parts)?,
                other => components_of(other)?,
            };
            (family, n)
        }
        _ => return None,
    };
    let colours = doc
        .owned(items.get(2)?)
        .as_num()
        .filter(|h| (0.0..=255.0).contains(h))? as usize
        + 1;
    let want = colours * n as usize;
    let table = match items.get(3)? {
        Obj::Ref(r) if doc.stream(*r).is_some() => doc.read_object(*r, want).ok()??.0,
        other => match doc.owned(other) {
            Obj::Str(bytes) => bytes,
            _ => return None,
        },
    };
    if table.len() < want || !matches!(n, 1 | 3 | 4) {
        return None;
    }
    use crate::extract::image::{cmyk_grey, luma};
    let grey = |c: &[u8]| match (c.len(), family.as_str()) {
        // L* carries the lightness.
        (3, "Lab") | (1, _) => c[0],
        (3, _) => luma(c[0], c[1], c[2]),
        _ => cmyk_grey(c[0], c[1], c[2], c[3]),
    };
    Some(table[..want].chunks_exact(n as usize).map(grey).collect())
}

fn components_of(space: &str) -> Option<u32> {
    match space {
        "DeviceGray" | "CalGray" | "Indexed" => Some(1),
        "DeviceRGB" | "CalRGB" | "Lab" => Some(3),
        "DeviceCMYK" => Some(4),
        _ => None,
    }
}
