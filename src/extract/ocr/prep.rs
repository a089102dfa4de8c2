//! Page images made ready for the engine, as OCR tools do it: grey,
//! enlarged where the print is small (until its glyphs are 16 px tall:
//! about 300 dpi for 6 pt print, nothing for 10 pt at 200 dpi), shrunk
//! towards 300 dpi where finer, pixels made square (a fax's 204×98 dpi are
//! stretched), small rotations undone. Grey pages go to the engine grey: its own
//! thresholding kept every value of the fixtures' scans where our Sauvola
//! binarising lost a card photo's (BENCHMARKS.md, "OCR vs tesseract",
//! says what each step buys); bilevel pages stay black and white.

use image::GrayImage;

/// The resolution the engine reads best (its models are trained on it).
pub const TARGET_DPI: f32 = 300.0;
/// Sides below this many pixels cannot hold a legible line of text.
pub const MIN_SIDE: u32 = 16;
/// Most pixels of a page after scaling (a letter page at 300 dpi has 8.4
/// million): a larger page is scaled less.
const MAX_SCALED_PIXELS: f32 = 40_000_000.0;
/// Rotations larger than this are left alone: they are not scanner skew
/// (a page scanned sideways is the engine's orientation detection's job).
const MAX_SKEW_DEGREES: f32 = 5.0;

/// A decoded page: grey pixels (0 black … 255 white) and the resolution
/// its file states, if any (horizontal, vertical).
#[derive(Clone, Debug)]
pub struct Page {
    pub image: GrayImage,
    pub dpi: Option<(f32, f32)>,
    /// The page is black and white already (a fax, a 1-bit scan).
    pub bilevel: bool,
}

/// Which steps run (scale and deskew by default; the benchmark turns
/// steps on and off to measure what each buys).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Steps {
    pub scale: Scale,
    pub deskew: bool,
    pub binarise: bool,
}

/// How a page is scaled before the engine reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scale {
    /// As decoded.
    Off,
    /// To about 300 dpi by the resolution the file states (faxes only made
    /// square), small images without one enlarged by their size.
    ToDpi,
    /// Enlarged only as far as the page's own glyphs need to be this many
    /// pixels tall (median blob height, see [`glyph_height`]); shrunk as
    /// `ToDpi` shrinks; as `ToDpi` where the glyphs cannot be measured or
    /// the pixels are not square.
    ToGlyphs(u32),
}

/// The glyph height, in pixels, that small print is enlarged to. The
/// engine read 6 pt print at 150 dpi (10 px glyphs) all but as well
/// unscaled as at 300 dpi; at this target it found as many values as the
/// 300 dpi rule with a fifth less engine time (BENCHMARKS.md).
pub const GLYPH_TARGET: u32 = 16;

impl Default for Steps {
    fn default() -> Self {
        Steps {
            scale: Scale::ToGlyphs(GLYPH_TARGET),
            deskew: true,
            binarise: false,
        }
    }
}

/// A page's pixels as the engine is given them.
#[derive(Debug)]
pub struct Raster {
    pub width: u32,
    pub height: u32,
    /// Black and white: rows of 1 bit a pixel (1 = black), each row padded
    /// to a whole byte. Otherwise grey, a byte a pixel (0 = black).
    pub bilevel: bool,
    pub data: Vec<u8>,
}

/// A page ready for the engine.
#[derive(Debug)]
pub struct Prepared {
    pub raster: Raster,
    /// The resolution to tell the engine, when known.
    pub dpi: Option<u32>,
    /// The rotation undone, in degrees (counter-clockwise positive).
    pub skew_degrees: f32,
}

/// Makes `page` ready for the engine.
pub fn prepare(page: Page, steps: Steps) -> Prepared {
    let Page {
        mut image,
        dpi,
        bilevel,
    } = page;
    // One histogram of the page serves every step until it is resized.
    let mut hist = histogram(image.as_raw());
    // Light text on a dark ground (ultrasound and other burned-in
    // annotations, negative scans): the engine wants dark on light.
    if mostly_dark(&hist) {
        image::imageops::invert(&mut image);
        hist.reverse();
    }
    let mut level = Some(otsu_of(&hist));
    let mut out_dpi = None;
    if steps.scale != Scale::Off {
        let (mut sx, mut sy, mut scaled_dpi) =
            scale_factors(image.width(), image.height(), dpi, bilevel);
        if let Scale::ToGlyphs(target) = steps.scale {
            let at = level.unwrap_or_else(|| otsu_level(&image));
            if let Some(f) = glyph_enlargement(&image, (sx, sy), target, at) {
                (sx, sy) = (f, f);
                // A stated resolution was believed if ToDpi named one.
                scaled_dpi = scaled_dpi.and(dpi).map(|(x, _)| (x * f).round() as u32);
            }
        }
        if (sx - 1.0).abs() > 0.1 || (sy - 1.0).abs() > 0.1 {
            let w = ((image.width() as f32 * sx).round() as u32).max(1);
            let h = ((image.height() as f32 * sy).round() as u32).max(1);
            image = resize_triangle(&image, w, h);
            level = None;
        }
        out_dpi = scaled_dpi;
    } else if let Some((x, _)) = dpi {
        out_dpi = Some(x.round() as u32);
    }
    let mut skew_degrees = 0.0;
    if steps.deskew {
        let at = level.unwrap_or_else(|| otsu_level(&image));
        skew_degrees = estimate_skew_at(&image, at);
        if skew_degrees.abs() >= 0.1 {
            image = rotate(image, -skew_degrees);
        }
    }
    let (width, height) = image.dimensions();
    let raster = if steps.binarise || bilevel {
        let threshold = if bilevel || !steps.binarise {
            Threshold::Fixed(128)
        } else {
            Threshold::Sauvola
        };
        Raster {
            width,
            height,
            bilevel: true,
            data: to_bits(&image, threshold),
        }
    } else {
        Raster {
            width,
            height,
            bilevel: false,
            data: image.into_raw(),
        }
    };
    Prepared {
        raster,
        dpi: out_dpi,
        skew_degrees,
    }
}

/// The enlargement [`Scale::ToGlyphs`] makes instead of `to_dpi`'s: only
/// where that would enlarge square pixels, and the glyphs can be
/// measured. Then just enough for them to reach `target` pixels, never
/// shrinking and within the pixel budget: a 200 dpi page of 10 pt print
/// (19 px glyphs) is read as it is instead of at 2.25 times its pixels,
/// with the same words found (BENCHMARKS.md, "OCR vs tesseract").
fn glyph_enlargement(image: &GrayImage, to_dpi: (f32, f32), target: u32, level: u8) -> Option<f32> {
    let (sx, sy) = to_dpi;
    if (sx - sy).abs() > 1e-3 || sx <= 1.0 {
        return None;
    }
    let glyphs = glyph_height_at(image, level)?;
    let pixels = image.width() as f32 * image.height() as f32;
    let budget = (MAX_SCALED_PIXELS / pixels).sqrt().max(1.0);
    Some((target as f32 / glyphs as f32).clamp(1.0, 4.0).min(budget))
}

/// Scale factors to bring a page to about 300 dpi, and the result's
/// resolution when known. A stated resolution is believed when plausible;
/// without one, a small image (a photo of a card, a screenshot) is
/// enlarged so that its text reaches the size the engine reads best, and
/// anything page-sized is left as it is. A black-and-white page scanned at
/// 200 dpi or more (a fax: 204×196 or 204×98) only has its pixels made
/// square at its finer resolution: enlarging it adds pixels, not detail,
/// and the engine's time grows with the pixels (a standard fax at 300 dpi
/// is 4.5 times the pixels; the fixtures' fax gives the same values
/// either way).
fn scale_factors(
    width: u32,
    height: u32,
    dpi: Option<(f32, f32)>,
    bilevel: bool,
) -> (f32, f32, Option<u32>) {
    // 72 and 96 are what software writes when it does not know (phone
    // cameras, screenshots, editors): no scanner scans at them.
    let plausible = |d: f32| (50.0..=2400.0).contains(&d) && d != 72.0 && d != 96.0;
    let (sx, sy, known) = match dpi {
        Some((x, y)) if plausible(x) && plausible(y) => {
            let finer = x.max(y);
            let target = if bilevel && finer >= 200.0 {
                finer.min(TARGET_DPI)
            } else {
                TARGET_DPI
            };
            let clamp = |f: f32| f.clamp(0.25, 4.0);
            (
                clamp(target / x),
                clamp(target / y),
                Some(target.round() as u32),
            )
        }
        _ => {
            let long = width.max(height) as f32;
            let f = if long < 1600.0 {
                (2400.0 / long).clamp(1.0, 3.0)
            } else {
                1.0
            };
            (f, f, None)
        }
    };
    let scaled = width as f32 * sx * height as f32 * sy;
    if scaled > MAX_SCALED_PIXELS {
        let shrink = (MAX_SCALED_PIXELS / scaled).sqrt();
        return (sx * shrink, sy * shrink, None);
    }
    (sx, sy, known)
}

/// `image` resized to `w`×`h` with a triangle (bilinear) filter, widened
/// when shrinking, as `image::imageops::resize` with `FilterType::Triangle`
/// does; but one output row at a time, row-major in both passes, and
/// with weights worked out once per axis: the crate's generic version
/// was ~15% of a scan of scanned pages.
fn resize_triangle(image: &GrayImage, w: u32, h: u32) -> GrayImage {
    let (src_w, src_h) = (image.width() as usize, image.height() as usize);
    let (w, h) = (w.max(1), h.max(1));
    if src_w == 0 || src_h == 0 {
        return GrayImage::from_pixel(w, h, image::Luma([255]));
    }
    let columns = Taps::new(src_w, w as usize);
    let rows = Taps::new(src_h, h as usize);
    let src = image.as_raw();
    let mut line = vec![0f32; src_w];
    let mut out = Vec::with_capacity(w as usize * h as usize);
    for y in 0..h as usize {
        // Vertical: this output row's source rows, weighted.
        line.iter_mut().for_each(|v| *v = 0.0);
        let (first, weights) = rows.of(y);
        for (k, &wt) in weights.iter().enumerate() {
            let row = &src[(first + k) * src_w..(first + k + 1) * src_w];
            for (v, &p) in line.iter_mut().zip(row) {
                *v += wt * f32::from(p);
            }
        }
        // Horizontal, from that row.
        for x in 0..w as usize {
            let (first, weights) = columns.of(x);
            let sum: f32 = weights
                .iter()
                .zip(&line[first..first + weights.len()])
                .map(|(wt, v)| wt * v)
                .sum();
            out.push((sum.clamp(0.0, 255.0) + 0.5) as u8);
        }
    }
    GrayImage::from_raw(w, h, out).unwrap_or_else(|| GrayImage::new(w, h))
}

/// Per output index along one axis: the first source index and the
/// normalised weights from there.
struct Taps {
    spans: Vec<(usize, std::ops::Range<usize>)>,
    weights: Vec<f32>,
}

impl Taps {
    fn new(src: usize, dst: usize) -> Taps {
        let ratio = src as f32 / dst as f32;
        // Shrinking widens the kernel so every source pixel counts.
        let scale = ratio.max(1.0);
        let support = scale;
        let mut spans = Vec::with_capacity(dst);
        let mut weights = Vec::new();
        for i in 0..dst {
            let centre = (i as f32 + 0.5) * ratio;
            let first = ((centre - support).floor().max(0.0) as usize).min(src - 1);
            let last = ((centre + support).ceil().max(0.0) as usize).clamp(first + 1, src);
            let start = weights.len();
            let mut total = 0.0;
            for j in first..last {
                let wt = (1.0 - ((j as f32 - centre + 0.5) / scale).abs()).max(0.0);
                weights.push(wt);
                total += wt;
            }
            if total > 0.0 {
                weights[start..].iter_mut().for_each(|wt| *wt /= total);
            } else {
                // No source pixel in reach (cannot happen for src ≥ 1):
                // take the nearest.
                weights[start..].iter_mut().for_each(|wt| *wt = 0.0);
                weights[start] = 1.0;
            }
            spans.push((first, start..weights.len()));
        }
        Taps { spans, weights }
    }

    fn of(&self, i: usize) -> (usize, &[f32]) {
        let (first, range) = &self.spans[i];
        (*first, &self.weights[range.clone()])
    }
}

/// Whether most of a page is dark (its median grey below a third), by
/// its histogram.
fn mostly_dark(hist: &[u64; 256]) -> bool {
    let half = hist.iter().sum::<u64>() / 2;
    let mut seen = 0;
    for (level, n) in hist.iter().enumerate() {
        seen += n;
        if seen > half {
            return level < 85;
        }
    }
    false
}

/// How grey becomes black and white.
#[derive(Clone, Copy, Debug)]
enum Threshold {
    Fixed(u8),
    /// Sauvola's local threshold: survives uneven light (a photographed
    /// card, a shadow at a scan's spine) where one global level does not.
    Sauvola,
}

/// The median height, in pixels, of the glyph-sized marks on a page: its
/// dark blobs (Otsu's threshold, 8-connected) at least 4 px tall, no
/// taller than a tenth of the page and no wider than six times their
/// height (rules, boxes and merged lines of text are not glyphs). `None`
/// when fewer than 20 such blobs are found (no text to judge by) or the
/// page is mostly specks (more than a million blobs).
pub fn glyph_height(image: &GrayImage) -> Option<u32> {
    glyph_height_at(image, otsu_level(image))
}

/// [`glyph_height`] with the page's Otsu level known.
fn glyph_height_at(image: &GrayImage, level: u8) -> Option<u32> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w < MIN_SIDE as usize || h < MIN_SIDE as usize {
        return None;
    }
    let raw = image.as_raw();
    let mut blobs = Blobs::default();
    // Dark runs of the previous and the current row: start, end
    // (exclusive), blob.
    let mut prev: Vec<(usize, usize, u32)> = Vec::new();
    let mut cur: Vec<(usize, usize, u32)> = Vec::new();
    for (y, row) in raw.chunks_exact(w).enumerate() {
        cur.clear();
        let (mut x, mut p) = (0, 0);
        while x < w {
            if row[x] >= level {
                x += 1;
                continue;
            }
            let start = x;
            while x < w && row[x] < level {
                x += 1;
            }
            // Runs above that touch this one, diagonals included: they
            // end at or after `start` and start at or before `x`.
            while p < prev.len() && prev[p].1 < start {
                p += 1;
            }
            let mut id = None;
            let mut q = p;
            while q < prev.len() && prev[q].0 <= x {
                let above = prev[q].2;
                id = Some(match id {
                    None => blobs.root(above),
                    Some(id) => blobs.join(id, above),
                });
                q += 1;
            }
            let id = match id {
                Some(id) => {
                    blobs.extend(id, y, start, x - 1);
                    id
                }
                None => blobs.add(y, start, x - 1)?,
            };
            cur.push((start, x, id));
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let mut heights: Vec<u32> = blobs
        .boxes()
        .filter_map(|(top, bottom, left, right)| {
            let (bh, bw) = (bottom - top + 1, right - left + 1);
            (bh >= 4 && bh as usize <= h / 10 && bw <= 6 * bh).then_some(bh)
        })
        .collect();
    if heights.len() < 20 {
        return None;
    }
    let mid = heights.len() / 2;
    Some(*heights.select_nth_unstable(mid).1)
}

/// Connected blobs of a page as a union-find forest, each root holding
/// its blob's bounding box (top, bottom, left, right).
#[derive(Default)]
struct Blobs {
    parent: Vec<u32>,
    bounds: Vec<(u32, u32, u32, u32)>,
}

impl Blobs {
    const MAX: usize = 1_000_000;

    fn add(&mut self, y: usize, left: usize, right: usize) -> Option<u32> {
        if self.parent.len() >= Self::MAX {
            return None;
        }
        let id = self.parent.len() as u32;
        self.parent.push(id);
        self.bounds
            .push((y as u32, y as u32, left as u32, right as u32));
        Some(id)
    }

    fn root(&mut self, mut id: u32) -> u32 {
        while self.parent[id as usize] != id {
            let up = self.parent[self.parent[id as usize] as usize];
            self.parent[id as usize] = up;
            id = up;
        }
        id
    }

    /// Joins `b`'s blob to `a` (a root); returns the root of both.
    fn join(&mut self, a: u32, b: u32) -> u32 {
        let b = self.root(b);
        if a == b {
            return a;
        }
        let (keep, gone) = (a.min(b), a.max(b));
        self.parent[gone as usize] = keep;
        let g = self.bounds[gone as usize];
        let k = &mut self.bounds[keep as usize];
        *k = (k.0.min(g.0), k.1.max(g.1), k.2.min(g.2), k.3.max(g.3));
        keep
    }

    fn extend(&mut self, id: u32, y: usize, left: usize, right: usize) {
        let k = &mut self.bounds[id as usize];
        *k = (
            k.0.min(y as u32),
            k.1.max(y as u32),
            k.2.min(left as u32),
            k.3.max(right as u32),
        );
    }

    fn boxes(&self) -> impl Iterator<Item = (u32, u32, u32, u32)> + '_ {
        (0..self.parent.len())
            .filter(|&i| self.parent[i] as usize == i)
            .map(|i| self.bounds[i])
    }
}

/// The rotation of the text lines, in degrees counter-clockwise, within
/// ±5°: the angle at which the dark pixels' horizontal projection is the
/// most peaked (lines of text and the gaps between them line up). Worked
/// out on a reduced copy of the page; 0 when there is too little ink.
pub fn estimate_skew(image: &GrayImage) -> f32 {
    estimate_skew_at(image, otsu_level(image))
}

/// [`estimate_skew`] with the page's Otsu level known.
fn estimate_skew_at(image: &GrayImage, level: u8) -> f32 {
    let reduce = (image.width() / 800).max(1);
    let (w, h) = (image.width() / reduce, image.height() / reduce);
    if w < MIN_SIDE || h < MIN_SIDE {
        return 0.0;
    }
    // Dark pixels of the reduced page, centred; x and y apart, so that the
    // score's loop over them runs several at a time.
    let (mut ink_x, mut ink_y): (Vec<f32>, Vec<f32>) = (Vec::new(), Vec::new());
    let cx = w as f32 / 2.0;
    let cy = h as f32 / 2.0;
    let (src, stride) = (image.as_raw(), image.width() as usize);
    let (reduce_px, used) = (reduce as usize, (w * reduce) as usize);
    let mut sums = vec![0u32; w as usize];
    for y in 0..h {
        // A reduced row: the sums of its squares, one source row at a time.
        sums.iter_mut().for_each(|s| *s = 0);
        for dy in 0..reduce {
            let row = ((y * reduce + dy) as usize) * stride;
            add_cells(&mut sums, &src[row..row + used], reduce_px);
        }
        for (x, &sum) in sums.iter().enumerate() {
            if sum / (reduce * reduce) < u32::from(level) {
                ink_x.push(x as f32 - cx);
                ink_y.push(y as f32 - cy);
            }
        }
    }
    // Too little ink, or a page nearly all dark: nothing to line up.
    let area = (w * h) as usize;
    if ink_x.len() < 200 || ink_x.len() > area / 2 {
        return 0.0;
    }
    let diagonal = ((w * w + h * h) as f32).sqrt() as usize + 2;
    let mut bins = vec![0u32; diagonal * 2];
    let mut rows = vec![0u32; ink_x.len()];
    let mut score = |degrees: f32| -> u64 {
        bins.iter_mut().for_each(|b| *b = 0);
        let t = degrees.to_radians().tan();
        // The row a pixel falls in once the page is turned back.
        // Non-negative: adding ½ and truncating rounds, without the libm
        // call `round` costs per pixel. Worked out for all pixels first,
        // then counted: the first loop is one without branches.
        for ((row, &x), &y) in rows.iter_mut().zip(&ink_x).zip(&ink_y) {
            *row = (y - x * t + diagonal as f32 + 0.5) as u32;
        }
        for &row in &rows {
            if let Some(b) = bins.get_mut(row as usize) {
                *b += 1;
            }
        }
        bins.windows(2)
            .map(|p| {
                let d = i64::from(p[1]) - i64::from(p[0]);
                (d * d) as u64
            })
            .sum()
    };
    let best_in = |score: &mut dyn FnMut(f32) -> u64, from: f32, to: f32, step: f32| {
        let mut best = (score(from), from);
        let mut a = from + step;
        while a <= to + step / 2.0 {
            let s = score(a);
            if s > best.0 {
                best = (s, a);
            }
            a += step;
        }
        best
    };
    let (_, coarse) = best_in(&mut score, -MAX_SKEW_DEGREES, MAX_SKEW_DEGREES, 0.5);
    let (best, fine) = best_in(&mut score, coarse - 0.5, coarse + 0.5, 0.05);
    // A flat profile (no lines of text) tells nothing.
    if best <= score(0.0) {
        return 0.0;
    }
    // Lines rising to the right (y up) appear at -angle in image rows.
    -fine
}

/// Adds each run of `cell` pixels of `row` to its sum. The usual cell
/// sizes are constants to the compiler, so that their loops unroll.
fn add_cells(sums: &mut [u32], row: &[u8], cell: usize) {
    #[inline(always)]
    fn add(sums: &mut [u32], row: &[u8], cell: usize) {
        for (sum, cells) in sums.iter_mut().zip(row.chunks_exact(cell)) {
            *sum += cells.iter().map(|&p| u32::from(p)).sum::<u32>();
        }
    }
    match cell {
        1 => add(sums, row, 1),
        2 => add(sums, row, 2),
        3 => add(sums, row, 3),
        4 => add(sums, row, 4),
        _ => add(sums, row, cell),
    }
}

/// Turns `image` by `degrees` counter-clockwise about its centre (white
/// where nothing was), by three shears (Paeth): along rows by -tan(θ/2),
/// along columns by sin θ, along rows again, each a linear mix of two
/// neighbours. Each pass moves whole rows, or runs of columns, by one
/// amount, so that its loops run over contiguous pixels (a bilinear
/// rotation reads four scattered pixels for each one: 4-5 times the
/// instructions, and the same words and values found, BENCHMARKS.md). The
/// passes between are made wide enough to lose nothing at the corners.
/// For skew: a turn of more than 45° (or not a number) leaves the page as
/// it is, since the passes grow with tan(θ/2).
pub fn rotate(image: GrayImage, degrees: f32) -> GrayImage {
    let (w, h) = (image.width() as usize, image.height() as usize);
    if w == 0 || h == 0 || degrees.is_nan() || degrees.abs() > 45.0 {
        return image;
    }
    let theta = f64::from(degrees).to_radians();
    let (along_rows, along_columns) = (-(theta / 2.0).tan(), theta.sin());
    // Two pages held at a time, as a rotation into a new page holds: each
    // pass's input is dropped once the next has read it.
    let wide = w + 2 * ((along_rows.abs() * h as f64 / 2.0).ceil() as usize + 1);
    let sheared = shear_rows(image.as_raw(), w, h, along_rows, wide);
    drop(image);
    let tall = h + 2 * ((along_columns.abs() * wide as f64 / 2.0).ceil() as usize + 1);
    let sheared_twice = shear_columns(&sheared, wide, h, along_columns, tall);
    drop(sheared);
    let mut turned = shear_rows(&sheared_twice, wide, tall, along_rows, w);
    drop(sheared_twice);
    // Back to the page's own height, about its centre.
    let top = (tall - h) / 2;
    turned.truncate((top + h) * w);
    turned.drain(..top * w);
    GrayImage::from_raw(w as u32, h as u32, turned)
        .unwrap_or_else(|| GrayImage::from_pixel(w as u32, h as u32, image::Luma([255])))
}

/// `src` (`w`×`h`) with each row moved along by `factor` times its distance
/// from the centre row, as `out_w` pixels about the same centre; white
/// where nothing was.
fn shear_rows(src: &[u8], w: usize, h: usize, factor: f64, out_w: usize) -> Vec<u8> {
    let mut out = vec![255u8; out_w * h];
    // Output pixel x reads source position x + shift.
    let offset = (w as f64 - out_w as f64) / 2.0;
    for (y, row) in out.chunks_exact_mut(out_w).enumerate() {
        let shift = factor * (y as f64 + 0.5 - h as f64 / 2.0) + offset;
        let (whole, weight) = split_shift(shift);
        let line = &src[y * w..(y + 1) * w];
        let at = |i: i64| usize::try_from(i).ok().and_then(|i| line.get(i)).copied();
        // Where both neighbours are in the line, one loop over contiguous
        // pixels; the edges on either side pixel by pixel.
        let first = (-whole).clamp(0, out_w as i64) as usize;
        let last = (w as i64 - 1 - whole).clamp(first as i64, out_w as i64) as usize;
        for x in (0..first).chain(last..out_w) {
            let i = x as i64 + whole;
            row[x] = mix(at(i).unwrap_or(255), at(i + 1).unwrap_or(255), weight);
        }
        if first < last {
            let from = (first as i64 + whole) as usize;
            let a = &line[from..from + (last - first)];
            let b = &line[from + 1..from + 1 + (last - first)];
            for ((px, &a), &b) in row[first..last].iter_mut().zip(a).zip(b) {
                *px = mix(a, b, weight);
            }
        }
    }
    out
}

/// `src` (`w`×`h`) with each column moved down by `factor` times its
/// distance from the centre column, as `out_h` rows about the same
/// centre; white where nothing was.
fn shear_columns(src: &[u8], w: usize, h: usize, factor: f64, out_h: usize) -> Vec<u8> {
    let mut out = vec![255u8; w * out_h];
    let offset = (h as f64 - out_h as f64) / 2.0;
    let (whole, weight): (Vec<i64>, Vec<u16>) = (0..w)
        .map(|x| split_shift(factor * (x as f64 + 0.5 - w as f64 / 2.0) + offset))
        .unzip();
    // Runs of columns moved by the same whole number of rows.
    let mut runs = Vec::new();
    let mut start = 0;
    for x in 1..=w {
        if x == w || whole[x] != whole[start] {
            runs.push((start..x, whole[start]));
            start = x;
        }
    }
    let row_of = |r: i64| {
        usize::try_from(r)
            .ok()
            .filter(|&r| r < h)
            .map(|r| &src[r * w..(r + 1) * w])
    };
    for (y, row) in out.chunks_exact_mut(w).enumerate() {
        for (columns, whole) in &runs {
            let r = y as i64 + whole;
            let (upper, lower) = (row_of(r), row_of(r + 1));
            if upper.is_none() && lower.is_none() {
                continue;
            }
            let weights = &weight[columns.clone()];
            let pixels = &mut row[columns.clone()];
            match (upper, lower) {
                (Some(a), Some(b)) => {
                    let (a, b) = (&a[columns.clone()], &b[columns.clone()]);
                    for (((px, &a), &b), &wt) in pixels.iter_mut().zip(a).zip(b).zip(weights) {
                        *px = mix(a, b, wt);
                    }
                }
                (a, b) => {
                    for (i, (px, &wt)) in pixels.iter_mut().zip(weights).enumerate() {
                        let x = columns.start + i;
                        *px = mix(a.map_or(255, |a| a[x]), b.map_or(255, |b| b[x]), wt);
                    }
                }
            }
        }
    }
    out
}

/// A shift as whole pixels and the weight (of 256) of the next pixel.
fn split_shift(shift: f64) -> (i64, u16) {
    let whole = shift.floor();
    let weight = ((shift - whole) * 256.0).round() as u16;
    if weight == 256 {
        (whole as i64 + 1, 0)
    } else {
        (whole as i64, weight)
    }
}

/// `a` and `b` mixed, `weight` of 256 parts being `b`.
fn mix(a: u8, b: u8, weight: u16) -> u8 {
    ((u16::from(a) * (256 - weight) + u16::from(b) * weight + 128) >> 8) as u8
}

/// How many pixels have each grey level. Counted in four tables in turn:
/// a page is mostly one level (its white), and one table's count would
/// make each increment wait for the one before it.
fn histogram(pixels: &[u8]) -> [u64; 256] {
    let mut hist = [0u64; 256];
    // Each table counts at most a quarter of a part: u32 holds it.
    for part in pixels.chunks(u32::MAX as usize) {
        let mut tables = [[0u32; 256]; 4];
        let mut quads = part.chunks_exact(4);
        for q in &mut quads {
            tables[0][usize::from(q[0])] += 1;
            tables[1][usize::from(q[1])] += 1;
            tables[2][usize::from(q[2])] += 1;
            tables[3][usize::from(q[3])] += 1;
        }
        for &p in quads.remainder() {
            tables[0][usize::from(p)] += 1;
        }
        for table in &tables {
            for (total, n) in hist.iter_mut().zip(table) {
                *total += u64::from(*n);
            }
        }
    }
    hist
}

/// Otsu's global threshold: the grey level that best splits the histogram
/// in two classes.
pub fn otsu_level(image: &GrayImage) -> u8 {
    otsu_of(&histogram(image.as_raw()))
}

/// Otsu's level of a histogram.
fn otsu_of(hist: &[u64; 256]) -> u8 {
    let total: u64 = hist.iter().sum();
    if total == 0 {
        return 128;
    }
    let sum_all: f64 = hist
        .iter()
        .enumerate()
        .map(|(i, n)| i as f64 * *n as f64)
        .sum();
    let (mut sum_b, mut w_b) = (0.0f64, 0u64);
    let (mut best, mut level) = (0.0f64, 128u8);
    for (i, n) in hist.iter().enumerate() {
        w_b += n;
        if w_b == 0 {
            continue;
        }
        let w_f = total - w_b;
        if w_f == 0 {
            break;
        }
        sum_b += i as f64 * *n as f64;
        let m_b = sum_b / w_b as f64;
        let m_f = (sum_all - sum_b) / w_f as f64;
        let between = w_b as f64 * w_f as f64 * (m_b - m_f) * (m_b - m_f);
        if between > best {
            best = between;
            // Pixels below the level are dark.
            level = (i + 1).min(255) as u8;
        }
    }
    level
}

/// The rows of `image` made black and white by `threshold`, 1 bit a
/// pixel (1 = black), each row padded to a whole byte.
fn to_bits(image: &GrayImage, threshold: Threshold) -> Vec<u8> {
    let (w, h) = (image.width() as usize, image.height() as usize);
    let mut out = Vec::new();
    let row_bytes = w.div_ceil(8);
    out.reserve(row_bytes * h);
    let src = image.as_raw();
    let mut dark_row = vec![false; w];
    let mut sauvola = match threshold {
        Threshold::Sauvola => Some(Sauvola::new(image)),
        Threshold::Fixed(_) => None,
    };
    for y in 0..h {
        let row = &src[y * w..(y + 1) * w];
        match (&mut sauvola, threshold) {
            (Some(s), _) => s.dark_row(y, row, &mut dark_row),
            (None, Threshold::Fixed(level)) => {
                for (d, p) in dark_row.iter_mut().zip(row) {
                    *d = *p < level;
                }
            }
            (None, Threshold::Sauvola) => unreachable!("set above"),
        }
        for chunk in dark_row.chunks(8) {
            let mut byte = 0u8;
            for (i, dark) in chunk.iter().enumerate() {
                if *dark {
                    byte |= 0x80 >> i;
                }
            }
            out.push(byte);
        }
    }
    out
}

/// Sauvola's threshold, `mean · (1 + k·(sd/R − 1))` over a square window
/// about each pixel, with Tesseract's own parameters (window ⅓ inch at
/// 300 dpi, k = 0.34). Window sums are kept per column and updated row by
/// row: memory is a few rows, whatever the page.
struct Sauvola<'a> {
    image: &'a GrayImage,
    radius: usize,
    /// Per column: sum and sum of squares over the window's rows.
    col_sum: Vec<u64>,
    col_sq: Vec<u64>,
    /// Rows now in the column sums.
    rows: std::ops::Range<usize>,
}

impl<'a> Sauvola<'a> {
    const K: f64 = 0.34;
    const R: f64 = 128.0;

    fn new(image: &'a GrayImage) -> Self {
        let w = image.width() as usize;
        Sauvola {
            image,
            radius: 50,
            col_sum: vec![0; w],
            col_sq: vec![0; w],
            rows: 0..0,
        }
    }

    fn add_row(&mut self, y: usize, sign: i64) {
        let w = self.image.width() as usize;
        let row = &self.image.as_raw()[y * w..(y + 1) * w];
        for (x, p) in row.iter().enumerate() {
            let v = u64::from(*p);
            if sign > 0 {
                self.col_sum[x] += v;
                self.col_sq[x] += v * v;
            } else {
                self.col_sum[x] -= v;
                self.col_sq[x] -= v * v;
            }
        }
    }

    fn dark_row(&mut self, y: usize, row: &[u8], dark: &mut [bool]) {
        let h = self.image.height() as usize;
        let want = y.saturating_sub(self.radius)..(y + self.radius + 1).min(h);
        while self.rows.end < want.end {
            self.add_row(self.rows.end, 1);
            self.rows.end += 1;
        }
        while self.rows.start < want.start {
            self.add_row(self.rows.start, -1);
            self.rows.start += 1;
        }
        let w = row.len();
        let n_rows = (self.rows.end - self.rows.start) as u64;
        // Running sums across the columns of the window.
        let (mut sum, mut sq) = (0u64, 0u64);
        let mut span = 0..0usize;
        for x in 0..w {
            let want = x.saturating_sub(self.radius)..(x + self.radius + 1).min(w);
            while span.end < want.end {
                sum += self.col_sum[span.end];
                sq += self.col_sq[span.end];
                span.end += 1;
            }
            while span.start < want.start {
                sum -= self.col_sum[span.start];
                sq -= self.col_sq[span.start];
                span.start += 1;
            }
            let n = (n_rows * (span.end - span.start) as u64) as f64;
            let mean = sum as f64 / n;
            let var = (sq as f64 / n - mean * mean).max(0.0);
            let threshold = mean * (1.0 + Self::K * (var.sqrt() / Self::R - 1.0));
            dark[x] = f64::from(row[x]) < threshold;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A page of dark bars standing in for lines of text.
    fn lines_page(w: u32, h: u32) -> GrayImage {
        GrayImage::from_fn(w, h, |x, y| {
            let in_line = (y % 40) < 12 && y > 40 && y < h - 40;
            let in_word = (x % 60) < 48 && x > 40 && x < w - 40;
            image::Luma([if in_line && in_word { 0 } else { 255 }])
        })
    }

    #[test]
    fn an_inverted_pages_histogram_is_the_histogram_reversed() {
        // prepare() reverses the histogram it has instead of counting
        // the inverted page again.
        let mut page = GrayImage::from_fn(97, 61, |x, y| image::Luma([(x * 7 + y * y) as u8]));
        let mut reversed = histogram(page.as_raw());
        reversed.reverse();
        image::imageops::invert(&mut page);
        assert_eq!(histogram(page.as_raw()), reversed);
    }

    #[test]
    fn histogram_counts_every_pixel_once() {
        // Lengths around the four-table stride, levels of every kind.
        let pixels: Vec<u8> = (0..4099u32).map(|i| (i * i % 251) as u8).collect();
        for len in [0, 1, 3, 4, 5, 4098, 4099] {
            let mut naive = [0u64; 256];
            for &p in &pixels[..len] {
                naive[usize::from(p)] += 1;
            }
            assert_eq!(histogram(&pixels[..len]), naive, "{len} pixels");
        }
    }

    #[test]
    fn cells_are_summed_alike_whatever_their_size() {
        let mut rng = crate::test_rng::Rng::new(0xCE11);
        let row = rng.bytes(61);
        for cell in 1..=7 {
            let mut sums = vec![1u32; 61 / cell];
            add_cells(&mut sums, &row, cell);
            let expected: Vec<u32> = row
                .chunks_exact(cell)
                .map(|c| 1 + c.iter().map(|&p| u32::from(p)).sum::<u32>())
                .collect();
            assert_eq!(sums, expected, "cells of {cell}");
        }
    }

    #[test]
    fn skew_is_found_and_undone() {
        let page = lines_page(1200, 900);
        assert!(estimate_skew(&page).abs() < 0.1);
        for degrees in [-3.0f32, -1.2, 0.8, 2.5] {
            let turned = rotate(page.clone(), degrees);
            let found = estimate_skew(&turned);
            assert!(
                (found - degrees).abs() < 0.15,
                "turned by {degrees}°, estimated {found}°"
            );
            let back = rotate(turned, -found);
            assert!(estimate_skew(&back).abs() < 0.15);
        }
    }

    /// A bilinear rotation in floats: what the shears stand for.
    fn rotate_by_floats(image: &GrayImage, degrees: f32) -> GrayImage {
        let (w, h) = image.dimensions();
        let (sin, cos) = degrees.to_radians().sin_cos();
        let (cx, cy) = (w as f32 / 2.0, h as f32 / 2.0);
        GrayImage::from_fn(w, h, |x, y| {
            let (dx, dy) = (x as f32 + 0.5 - cx, y as f32 + 0.5 - cy);
            let sx = cos * dx - sin * dy + cx - 0.5;
            let sy = sin * dx + cos * dy + cy - 0.5;
            if sx < 0.0 || sy < 0.0 || sx > (w - 1) as f32 || sy > (h - 1) as f32 {
                return image::Luma([255]);
            }
            let (x0, y0) = (sx as u32, sy as u32);
            let (x1, y1) = ((x0 + 1).min(w - 1), (y0 + 1).min(h - 1));
            let (fx, fy) = (sx - x0 as f32, sy - y0 as f32);
            let at = |x: u32, y: u32| f32::from(image.get_pixel(x, y).0[0]);
            let top = at(x0, y0) * (1.0 - fx) + at(x1, y0) * fx;
            let bottom = at(x0, y1) * (1.0 - fx) + at(x1, y1) * fx;
            image::Luma([(top * (1.0 - fy) + bottom * fy + 0.5) as u8])
        })
    }

    #[test]
    fn shears_turn_a_page_as_a_bilinear_rotation_does() {
        let page = lines_page(1200, 900);
        for degrees in [-5.0f32, -1.65, -0.1, 0.35, 0.9, 3.5] {
            let sheared = rotate(page.clone(), degrees);
            assert_eq!(sheared.dimensions(), page.dimensions());
            // Three linear mixes blur the bars' edges a little more than
            // one bilinear one: a few grey levels there, none elsewhere.
            let diff: u64 = sheared
                .as_raw()
                .iter()
                .zip(rotate_by_floats(&page, degrees).as_raw())
                .map(|(a, b)| u64::from(a.abs_diff(*b)))
                .sum();
            let mean = diff as f64 / (1200.0 * 900.0);
            assert!(mean < 1.0, "{degrees}°: mean difference {mean}");
        }
        let tiny = GrayImage::from_pixel(1, 1, image::Luma([0]));
        assert_eq!(rotate(tiny, 3.0).dimensions(), (1, 1));
        // Not skew: left alone rather than sheared out of all proportion.
        for degrees in [90.0f32, -180.0, f32::NAN, f32::INFINITY] {
            assert_eq!(rotate(page.clone(), degrees), page, "{degrees}°");
        }
        assert_eq!(rotate(GrayImage::new(0, 0), 2.0).dimensions(), (0, 0));
    }

    #[test]
    fn blank_and_black_pages_have_no_skew() {
        let blank = GrayImage::from_pixel(500, 500, image::Luma([255]));
        assert_eq!(estimate_skew(&blank), 0.0);
        let black = GrayImage::from_pixel(500, 500, image::Luma([0]));
        assert_eq!(estimate_skew(&black), 0.0);
    }

    #[test]
    fn dark_pages_are_inverted() {
        let dark = GrayImage::from_fn(100, 100, |x, _| {
            image::Luma([if x < 10 { 240 } else { 10 }])
        });
        assert!(mostly_dark(&histogram(dark.as_raw())));
        let light = GrayImage::from_fn(100, 100, |x, _| {
            image::Luma([if x < 10 { 10 } else { 240 }])
        });
        assert!(!mostly_dark(&histogram(light.as_raw())));
    }

    #[test]
    fn otsu_splits_two_levels() {
        let img = GrayImage::from_fn(100, 100, |x, _| {
            image::Luma([if x < 30 { 40 } else { 220 }])
        });
        let level = otsu_level(&img);
        assert!((41..=220).contains(&level), "{level}");
    }

    #[test]
    fn sauvola_keeps_dark_text_under_a_shadow() {
        // Text-like marks on a background that fades from white to dark
        // grey: one global level loses either end.
        let img = GrayImage::from_fn(600, 200, |x, y| {
            let background = 250 - (x * 150 / 600) as u8;
            let mark = (x % 40) < 6 && (60..140).contains(&y);
            image::Luma([if mark { background / 3 } else { background }])
        });
        let bits = to_bits(&img, Threshold::Sauvola);
        let bit = |x: usize, y: usize| bits[y * 75 + x / 8] & (0x80 >> (x % 8)) != 0;
        // Marks dark at both ends, background light at both ends.
        assert!(bit(2, 100) && bit(562, 100));
        assert!(!bit(20, 100) && !bit(580, 100));
        assert!(!bit(20, 20) && !bit(580, 180));
    }

    #[test]
    fn bilevel_rows_are_packed_with_ink_as_one() {
        let img = GrayImage::from_pixel(10, 3, image::Luma([0]));
        let bits = to_bits(&img, Threshold::Fixed(128));
        assert_eq!(bits, [0xFF, 0xC0, 0xFF, 0xC0, 0xFF, 0xC0]);
        let img = GrayImage::from_fn(9, 1, |x, _| {
            image::Luma([if x % 2 == 0 { 255 } else { 10 }])
        });
        assert_eq!(to_bits(&img, Threshold::Fixed(128)), [0x55, 0x00]);
    }

    #[test]
    fn resize_matches_the_image_crates_triangle_filter() {
        // A page with text-like edges and noise, enlarged and shrunk, by
        // factors OCR uses (fax stretch, photo enlargement, 600 → 300 dpi).
        let mut rng = crate::test_rng::Rng::new(7);
        let page = GrayImage::from_fn(173, 91, |x, y| {
            let ink = (x / 7 + y / 5) % 3 == 0;
            let noise = rng.below(40) as u8;
            image::Luma([if ink { noise } else { 215 + noise }])
        });
        for (w, h) in [
            (346, 182),
            (519, 190),
            (87, 46),
            (173, 182),
            (60, 200),
            (1, 1),
        ] {
            let ours = resize_triangle(&page, w, h);
            let theirs =
                image::imageops::resize(&page, w, h, image::imageops::FilterType::Triangle);
            assert_eq!(ours.dimensions(), theirs.dimensions());
            let worst = ours
                .as_raw()
                .iter()
                .zip(theirs.as_raw())
                .map(|(a, b)| a.abs_diff(*b))
                .max()
                .unwrap();
            assert!(worst <= 1, "{w}x{h}: differs by {worst}");
        }
        assert_eq!(
            resize_triangle(&GrayImage::new(0, 0), 3, 2).dimensions(),
            (3, 2)
        );
    }

    /// A page of "print": rows of glyph-sized blocks `glyph` px tall,
    /// with a rule across the page and dust specks, on grey paper.
    fn print_page(w: u32, h: u32, glyph: u32) -> GrayImage {
        let mut page = GrayImage::from_pixel(w, h, image::Luma([230]));
        let mut y = 20;
        while y + glyph + 10 < h {
            let mut x = 20;
            while x + glyph < w - 20 {
                // Letters of two widths, a gap between them.
                let width = if (x / glyph) % 3 == 0 {
                    glyph
                } else {
                    glyph / 2 + 1
                };
                for gy in y..y + glyph {
                    for gx in x..x + width {
                        page.put_pixel(gx, gy, image::Luma([25]));
                    }
                }
                x += width + 3;
            }
            y += glyph * 2;
        }
        for x in 5..w - 5 {
            for y in 8..14 {
                page.put_pixel(x, y, image::Luma([25]));
            }
        }
        for i in 0..200 {
            page.put_pixel((i * 7919) % w, (i * 104_729) % h, image::Luma([25]));
        }
        page
    }

    #[test]
    fn glyph_height_is_the_height_of_the_print() {
        for glyph in [6, 10, 16, 30] {
            let page = print_page(600, 400, glyph);
            assert_eq!(glyph_height(&page), Some(glyph), "glyph {glyph}");
            // Turned a little, as scans are: within a pixel or two.
            let turned = rotate(page.clone(), 1.5);
            let got = glyph_height(&turned).unwrap();
            assert!(got.abs_diff(glyph) <= glyph / 5 + 1, "{glyph}: {got}");
        }
        // Rules, specks and a blank page are not print.
        let mut lines = GrayImage::from_pixel(600, 400, image::Luma([230]));
        for y in (20..380).step_by(20) {
            for x in 10..590 {
                lines.put_pixel(x, y, image::Luma([20]));
                lines.put_pixel(x, y + 1, image::Luma([20]));
            }
        }
        assert_eq!(glyph_height(&lines), None);
        assert_eq!(
            glyph_height(&GrayImage::from_pixel(600, 400, image::Luma([255]))),
            None
        );
        assert_eq!(glyph_height(&GrayImage::new(4, 4)), None);
    }

    #[test]
    fn small_print_is_enlarged_to_the_glyph_target_and_no_further() {
        let enlargement =
            |page: &GrayImage, to_dpi| glyph_enlargement(page, to_dpi, 16, otsu_level(page));
        let small = print_page(600, 400, 8);
        // Where the 300 dpi rule would enlarge 1.5×, 8 px glyphs get 2×
        // for a 16 px target; 20 px glyphs get nothing.
        assert_eq!(enlargement(&small, (1.5, 1.5)), Some(2.0));
        let large = print_page(600, 400, 20);
        assert_eq!(enlargement(&large, (1.5, 1.5)), Some(1.0));
        // Never where the rule shrinks, or the pixels are not square.
        assert_eq!(enlargement(&small, (0.5, 0.5)), None);
        assert_eq!(enlargement(&small, (1.47, 3.06)), None);
        // prepare() follows it: the 8 px page at a stated 150 dpi is
        // doubled, and the engine is told 300 dpi.
        let prepared = prepare(
            Page {
                image: small,
                dpi: Some((150.0, 150.0)),
                bilevel: false,
            },
            Steps {
                deskew: false,
                ..Steps::default()
            },
        );
        assert_eq!(prepared.dpi, Some(300));
        let large = prepare(
            Page {
                image: large,
                dpi: Some((200.0, 200.0)),
                bilevel: false,
            },
            Steps::default(),
        );
        assert_eq!(large.dpi, Some(200));
    }

    #[test]
    fn fax_resolution_is_made_square() {
        // A grey page at 204×98 dpi is brought to 300 dpi both ways.
        let (sx, sy, known) = scale_factors(1728, 1100, Some((204.0, 98.0)), false);
        assert_eq!(known, Some(300));
        assert!((sx - 300.0 / 204.0).abs() < 1e-3 && (sy - 300.0 / 98.0).abs() < 1e-3);
        // A black-and-white fax gets square pixels at its finer resolution.
        let (sx, sy, known) = scale_factors(1728, 1100, Some((204.0, 98.0)), true);
        assert_eq!(known, Some(204));
        assert!((sx - 1.0).abs() < 1e-3 && (sy - 204.0 / 98.0).abs() < 1e-3);
        // ... but one scanned coarser than 200 dpi is still enlarged.
        assert_eq!(
            scale_factors(850, 1100, Some((100.0, 100.0)), true).2,
            Some(300)
        );
        // No stated resolution: a card photo is enlarged, a page is not.
        assert_eq!(scale_factors(1000, 630, None, false), (2.4, 2.4, None));
        assert_eq!(scale_factors(2550, 3300, None, false), (1.0, 1.0, None));
        // Implausible and default resolutions are ignored.
        assert!(scale_factors(2550, 3300, Some((1.0, 1.0)), false)
            .2
            .is_none());
        assert!(scale_factors(4000, 3000, Some((72.0, 72.0)), false)
            .2
            .is_none());
        // A huge page is scaled to no more than the pixel cap.
        let (sx, sy, _) = scale_factors(20_000, 20_000, Some((300.0, 300.0)), false);
        assert!(20_000.0 * sx * 20_000.0 * sy <= MAX_SCALED_PIXELS * 1.001);
    }
}
