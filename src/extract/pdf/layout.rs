//! Glyphs → text by geometry, not by the order of operators: glyphs are
//! grouped into lines by baseline (within a text direction), sorted by
//! position along each line, and joined into words by the gap between one
//! glyph's end and the next one's start: a gap of a word space (a fraction
//! of the font's space width) is a space, a smaller one joins. A label and
//! its value drawn at different times stay together, and a producer that
//! places every glyph on its own (Chromium, wkhtmltopdf) reads as words.

/// One glyph as drawn, in the frame of its text direction: `u` along the
/// baseline, `v` across it (up), both in device space units.
#[derive(Clone, Copy, Debug)]
pub(super) struct Glyph {
    pub u: f32,
    pub v: f32,
    /// Width of the glyph itself (without character or word spacing).
    pub w: f32,
    /// Font size (em) in device space.
    pub size: f32,
    /// The font's space width in device space (0: unknown).
    pub space: f32,
    pub ch: char,
    /// Direction of the baseline, in whole degrees.
    pub dir: u16,
    /// Order drawn (ties keep it).
    pub seq: u32,
}

/// A gap wider than this fraction of the space width is a word break...
const SPACE_FRACTION: f32 = 0.3;
/// ...and never below this fraction of the font size (fonts without a
/// space glyph, or with a tiny one).
const MIN_GAP_EM: f32 = 0.1;
/// Baselines closer than this fraction of the font size are one line.
const LINE_EM: f32 = 0.5;

/// Lays `glyphs` out into lines of text, appended to `out` (each line
/// ends with `\n`). The glyphs are reordered.
pub(super) fn lay_out(glyphs: &mut [Glyph], out: &mut String) {
    glyphs.sort_unstable_by(|a, b| {
        a.dir
            .cmp(&b.dir)
            .then(b.v.total_cmp(&a.v))
            .then(a.seq.cmp(&b.seq))
    });
    let mut start = 0;
    while start < glyphs.len() {
        let first = glyphs[start];
        let mut end = start + 1;
        while end < glyphs.len() {
            let g = &glyphs[end];
            let tolerance = LINE_EM * g.size.min(first.size).max(0.01);
            if g.dir != first.dir || first.v - g.v > tolerance {
                break;
            }
            end += 1;
        }
        let line = &mut glyphs[start..end];
        for part in overlapping_runs_apart(line) {
            write_line(&part, out);
        }
        start = end;
    }
}

/// Runs of glyphs (in drawing order, each moving forward) that overlap
/// one another on one baseline are text drawn over text (a `'` or `T*`
/// with no leading set): each such run goes to a line of its own, after.
/// Runs side by side (labels drawn first, values after) stay on one line.
/// Each returned line is sorted by position.
fn overlapping_runs_apart(line: &mut [Glyph]) -> Vec<Vec<Glyph>> {
    line.sort_unstable_by_key(|g| g.seq);
    let mut runs: Vec<(usize, usize, f32, f32)> = Vec::new();
    for (i, g) in line.iter().enumerate() {
        let many = runs.len() > MAX_RUNS;
        match runs.last_mut() {
            Some(run) if g.u >= line[i - 1].u - 0.5 * g.size || many => {
                run.1 = i + 1;
                run.2 = run.2.min(g.u);
                run.3 = run.3.max(g.u + g.w);
            }
            _ => runs.push((i, i + 1, g.u, g.u + g.w)),
        }
    }
    let mut parts: Vec<Vec<Glyph>> = Vec::new();
    if runs.len() == 1 || runs.len() > MAX_RUNS {
        let mut all = line.to_vec();
        all.sort_unstable_by(|a, b| a.u.total_cmp(&b.u).then(a.seq.cmp(&b.seq)));
        parts.push(all);
        return parts;
    }
    let mut spans: Vec<Vec<(f32, f32, usize, usize)>> = Vec::new();
    for &(from, to, lo, hi) in &runs {
        let size = line[from].size;
        let overlaps =
            |&(a, b, _, _): &(f32, f32, usize, usize)| lo < b - 0.5 * size && hi > a + 0.5 * size;
        // The same glyphs drawn again a little offset (fake bold, shadows).
        let same = |&(_, _, f, t): &(f32, f32, usize, usize)| {
            to - from <= 512
                && t - f <= 512
                && line[from..to].iter().all(|b| {
                    line[f..t]
                        .iter()
                        .any(|a| a.ch == b.ch && (a.u - b.u).abs() < 0.3 * size)
                })
        };
        if spans.iter().flatten().any(|r| overlaps(r) && same(r)) {
            continue;
        }
        let clear = |span: &Vec<(f32, f32, usize, usize)>| !span.iter().any(overlaps);
        let k = match spans.iter().position(clear) {
            Some(k) => k,
            None => {
                spans.push(Vec::new());
                parts.push(Vec::new());
                spans.len() - 1
            }
        };
        spans[k].push((lo, hi, from, to));
        parts[k].extend_from_slice(&line[from..to]);
    }
    for part in &mut parts {
        part.sort_unstable_by(|a, b| a.u.total_cmp(&b.u).then(a.seq.cmp(&b.seq)));
    }
    parts
}

/// Runs per line told apart at most (a hostile line of a million runs is
/// sorted as one).
const MAX_RUNS: usize = 256;

fn write_line(line: &[Glyph], out: &mut String) {
    let line_start = out.len();
    let mut prev: Option<&Glyph> = None;
    let mut pending_space = false;
    for g in line {
        if g.ch.is_whitespace() || g.ch.is_control() {
            pending_space = true;
            continue;
        }
        if let Some(p) = prev {
            // The same glyph drawn twice, a little offset (fake bold).
            if p.ch == g.ch
                && (g.u - p.u).abs() < 0.15 * g.size
                && (g.v - p.v).abs() < 0.15 * g.size
            {
                continue;
            }
            let gap = g.u - (p.u + p.w);
            let space = if p.space > 0.0 {
                p.space
            } else {
                0.28 * p.size
            };
            let threshold = (SPACE_FRACTION * space).max(MIN_GAP_EM * p.size.min(g.size));
            if (pending_space || gap > threshold) && out.len() > line_start {
                out.push(' ');
            }
        }
        pending_space = false;
        push_char(g.ch, out);
        prev = Some(g);
    }
    if out.len() > line_start {
        out.push('\n');
    }
}

/// Ligatures are written as their letters (so `ﬁrst` matches `first`).
fn push_char(c: char, out: &mut String) {
    match c {
        '\u{FB00}' => out.push_str("ff"),
        '\u{FB01}' => out.push_str("fi"),
        '\u{FB02}' => out.push_str("fl"),
        '\u{FB03}' => out.push_str("ffi"),
        '\u{FB04}' => out.push_str("ffl"),
        '\u{FB05}' | '\u{FB06}' => out.push_str("st"),
        '\u{FFFD}' | '\u{FEFF}' => {}
        c => out.push(c),
    }
}

/// How a page's text layer reads, judged on the laid-out text.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TextLayer {
    /// Words to read.
    Usable,
    /// No glyph drawn at all.
    Empty,
    /// Glyphs drawn but (nearly) none maps to a character (a font without
    /// a Unicode map).
    Unmapped,
    /// Only isolated characters: no run of two letters or digits.
    Fragmented,
    /// Images cover most of the page and its text is a few words at most
    /// (a scan, perhaps with a stamp or a page number).
    Scanned,
}

/// Judges a page's text: `mapped`/`unmapped` glyph counts from the
/// interpreter.
pub(super) fn judge(text: &str, mapped: usize, unmapped: usize) -> TextLayer {
    if mapped == 0 && unmapped == 0 {
        return TextLayer::Empty;
    }
    if unmapped > 0 && unmapped >= 4 * mapped {
        return TextLayer::Unmapped;
    }
    let mut tokens = 0usize;
    let mut words = 0usize;
    for token in text.split_whitespace() {
        tokens += 1;
        let mut run = 0;
        let mut best = 0;
        for c in token.chars() {
            if c.is_alphanumeric() {
                run += 1;
                best = best.max(run);
            } else {
                run = 0;
            }
        }
        if best >= 2 {
            words += 1;
        }
    }
    if tokens == 0 {
        return TextLayer::Empty;
    }
    // A few isolated characters (a page number) are no text layer either,
    // but neither is it a broken one: only many single characters are.
    if words == 0 || (tokens >= 20 && words * 5 < tokens) {
        return TextLayer::Fragmented;
    }
    TextLayer::Usable
}

#[cfg(test)]
mod tests {
    use super::*;

    fn glyph(u: f32, v: f32, w: f32, ch: char, seq: u32) -> Glyph {
        Glyph {
            u,
            v,
            w,
            size: 10.0,
            space: 2.8,
            ch,
            dir: 0,
            seq,
        }
    }

    /// Glyphs of `text` from `(u, v)`, 6 units wide each, `gap` apart.
    fn run(text: &str, u: f32, v: f32, gap: f32, seq: &mut u32) -> Vec<Glyph> {
        let mut x = u;
        text.chars()
            .map(|c| {
                *seq += 1;
                let g = glyph(x, v, 6.0, c, *seq);
                x += 6.0 + gap;
                g
            })
            .collect()
    }

    #[test]
    fn glyphs_placed_one_by_one_read_as_words() {
        let mut seq = 0;
        let mut glyphs = run("Social", 0.0, 700.0, 0.2, &mut seq);
        let last = glyphs.last().map_or(0.0, |g| g.u + g.w);
        // A word gap the width of a space, no space glyph drawn.
        glyphs.extend(run("Security", last + 2.8, 700.0, -0.1, &mut seq));
        let mut out = String::new();
        lay_out(&mut glyphs, &mut out);
        assert_eq!(out, "Social Security\n");
    }

    #[test]
    fn labels_drawn_first_stay_with_their_values() {
        let mut seq = 0;
        let mut glyphs = run("SSN:", 72.0, 700.0, 0.0, &mut seq);
        glyphs.extend(run("DOB:", 72.0, 680.0, 0.0, &mut seq));
        glyphs.extend(run("219-45-6780", 240.0, 700.3, 0.0, &mut seq));
        glyphs.extend(run("03/14/1962", 240.0, 679.8, 0.0, &mut seq));
        let mut out = String::new();
        lay_out(&mut glyphs, &mut out);
        assert_eq!(out, "SSN: 219-45-6780\nDOB: 03/14/1962\n");
    }

    #[test]
    fn text_drawn_over_text_is_its_own_line() {
        let mut seq = 0;
        let mut glyphs = run("NPI: 1234567893", 72.0, 700.0, 0.0, &mut seq);
        glyphs.extend(run("DOB: 03/14/1962", 72.0, 700.0, 0.0, &mut seq));
        let mut out = String::new();
        lay_out(&mut glyphs, &mut out);
        assert_eq!(out, "NPI: 1234567893\nDOB: 03/14/1962\n");
    }

    #[test]
    fn space_glyphs_of_any_code_and_fake_bold() {
        let mut seq = 0;
        let mut glyphs = run("ab\tcd", 0.0, 0.0, 0.0, &mut seq);
        glyphs.extend(run("ab", 0.3, 0.0, 0.0, &mut seq));
        let mut out = String::new();
        lay_out(&mut glyphs, &mut out);
        assert_eq!(out, "ab cd\n");
    }

    #[test]
    fn judging_text_layers() {
        assert_eq!(judge("", 0, 0), TextLayer::Empty);
        assert_eq!(judge("", 0, 40), TextLayer::Unmapped);
        assert_eq!(judge("S o c i a l\n", 6, 0), TextLayer::Fragmented);
        assert_eq!(judge("3\n", 1, 0), TextLayer::Fragmented);
        assert_eq!(judge("Patient name: J. Sample\n", 20, 0), TextLayer::Usable);
    }
}
