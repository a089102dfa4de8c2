//! What each preprocessing step buys: OCRs every page of the given images
//! with the steps on and off, and scores the text against the text the
//! page shows (`TRUTH_DIR/<file name>.txt`, pages separated by form
//! feeds, as `fixtures/scans/generate.py` writes them).
//!
//! Usage: cargo run --release --example ocr_steps -- TRUTH_DIR IMAGE... [--text]
//!
//! Scores per configuration, summed over all pages:
//! - words: share of the truth's words (letters and digits, case folded)
//!   found in the OCR text, each as often as the truth has it;
//! - values: share of the truth's tokens with 4 or more digits (dates,
//!   SSNs, phones, record numbers) found exactly, after the digit
//!   confusions are normalised as the scan does;
//! - seconds: engine time.

use phiscan::extract::image::{sniff, ImagePages};
use phiscan::extract::ocr::engine::{PageRun, RunLimits, Tesseract};
use phiscan::extract::ocr::prep::{prepare, Scale, Steps};
use phiscan::extract::ocr::tiff_writer::TiffPage;
use phiscan::extract::ocr::{normalise_digit_confusions, PageSource};
use std::collections::HashMap;
use std::path::Path;
use std::time::{Duration, Instant};

fn words(text: &str) -> Vec<String> {
    text.split(|c: char| !c.is_alphanumeric())
        .filter(|w| w.chars().count() >= 2)
        .map(str::to_lowercase)
        .collect()
}

fn values(text: &str) -> Vec<String> {
    text.split_whitespace()
        .map(|t| t.trim_matches(|c: char| !c.is_ascii_alphanumeric()))
        .filter(|t| t.chars().filter(char::is_ascii_digit).count() >= 4)
        .map(str::to_string)
        .collect()
}

/// How many of `want` are in `got` (as a multiset).
fn found(want: &[String], got: &[String]) -> usize {
    let mut pool: HashMap<&str, usize> = HashMap::new();
    for g in got {
        *pool.entry(g.as_str()).or_default() += 1;
    }
    want.iter()
        .filter(|w| {
            let n = pool.entry(w.as_str()).or_default();
            if *n > 0 {
                *n -= 1;
                true
            } else {
                false
            }
        })
        .count()
}

#[derive(Default)]
struct Score {
    words: (usize, usize),
    values: (usize, usize),
    time: Duration,
}

fn main() {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let show_text = args.iter().any(|a| a == "--text");
    args.retain(|a| a != "--text");
    let Some((truth_dir, images)) = args.split_first() else {
        eprintln!("usage: ocr_steps TRUTH_DIR IMAGE... [--text]");
        std::process::exit(2);
    };
    let engine = Tesseract::probe().unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    let configs: [(&str, Steps); 7] = [
        (
            "none (grey as decoded)",
            Steps {
                scale: Scale::Off,
                deskew: false,
                binarise: false,
            },
        ),
        (
            "300 dpi only",
            Steps {
                scale: Scale::ToDpi,
                deskew: false,
                binarise: false,
            },
        ),
        (
            "300 dpi + deskew",
            Steps {
                scale: Scale::ToDpi,
                ..Steps::default()
            },
        ),
        ("glyphs 16 px + deskew (default)", Steps::default()),
        (
            "glyphs 24 px + deskew",
            Steps {
                scale: Scale::ToGlyphs(24),
                ..Steps::default()
            },
        ),
        (
            "300 dpi + binarise",
            Steps {
                scale: Scale::ToDpi,
                deskew: false,
                binarise: true,
            },
        ),
        (
            "300 dpi + deskew + binarise",
            Steps {
                scale: Scale::ToDpi,
                deskew: true,
                binarise: true,
            },
        ),
    ];
    let mut scores: Vec<Score> = configs.iter().map(|_| Score::default()).collect();
    let mut per_file: Vec<(String, Vec<(usize, usize)>)> = Vec::new();
    for image in images {
        let data = std::fs::read(image).expect("read image");
        let kind = sniff(&data).expect("an image format");
        let pages = ImagePages::new(kind, &data).expect("image headers");
        let name = Path::new(image).file_name().unwrap().to_string_lossy();
        let truth = std::fs::read_to_string(Path::new(truth_dir).join(format!("{name}.txt")))
            .expect("truth text");
        let truth_pages: Vec<&str> = truth.split('\u{c}').collect();
        let mut file_values = Vec::new();
        for (c, (label, steps)) in configs.iter().enumerate() {
            let mut file_found = (0, 0);
            for page in 0..pages.pages() {
                let Ok(decoded) = pages.load(page) else {
                    continue;
                };
                let prepared = prepare(decoded, *steps);
                let started = Instant::now();
                let input = TiffPage {
                    raster: &prepared.raster,
                    dpi: prepared.dpi,
                };
                let run = engine.run(
                    &[input],
                    RunLimits {
                        deadline: started + Duration::from_secs(120),
                        page_time: None,
                        memory: 1 << 30,
                    },
                );
                let elapsed = started.elapsed();
                let text = match run {
                    PageRun::Text(t) => normalise_digit_confusions(&t.concat()),
                    other => {
                        eprintln!("{name} page {}: {other:?}", page + 1);
                        String::new()
                    }
                };
                if show_text {
                    println!("==== {name} page {} [{label}]\n{text}", page + 1);
                }
                let want = truth_pages.get(page).copied().unwrap_or("");
                let s = &mut scores[c];
                let (tw, gw) = (words(want), words(&text));
                s.words.0 += found(&tw, &gw);
                s.words.1 += tw.len();
                let (tv, gv) = (values(want), values(&text));
                let f = found(&tv, &gv);
                s.values.0 += f;
                s.values.1 += tv.len();
                file_found.0 += f;
                file_found.1 += tv.len();
                s.time += elapsed;
            }
            file_values.push(file_found);
        }
        per_file.push((name.into_owned(), file_values));
    }
    println!("| steps | words found | values found | engine time |");
    println!("|---|---|---|---|");
    for ((label, _), s) in configs.iter().zip(&scores) {
        println!(
            "| {label} | {}/{} ({:.1}%) | {}/{} | {:.1} s |",
            s.words.0,
            s.words.1,
            100.0 * s.words.0 as f64 / s.words.1.max(1) as f64,
            s.values.0,
            s.values.1,
            s.time.as_secs_f64()
        );
    }
    println!();
    print!("| file |");
    for (label, _) in &configs {
        print!(" {label} |");
    }
    println!();
    println!("|---|{}", "---|".repeat(configs.len()));
    for (name, found) in per_file {
        print!("| {name} |");
        for (f, n) in found {
            print!(" {f}/{n} |");
        }
        println!();
    }
}
