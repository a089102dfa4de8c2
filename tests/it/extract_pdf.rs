//! PDFs from real producers (`fixtures/formats/pdf`, written by
//! `fixtures/pdf-corpus/generate.sh`) read with the built-in rules: every
//! planted value on its page, nothing from the cover page or the negative;
//! and hostile PDFs (bombs, nesting, cycles, huge streams, scanned and
//! unmapped pages) bounded and reported with the right reason.

use crate::common::{scan, Outcome};
use std::collections::BTreeSet;
use std::io::Write;
use std::path::Path;

/// What `fixtures/pdf-corpus/generate.py` plants on page 2 of every form.
const PLANTED: [(&str, &str); 6] = [
    ("SSN", "219-45-6780"),
    ("DOB", "03/14/1962"),
    ("PHONE", "(217) 555-0142"),
    ("MRN", "00482913"),
    ("EMAIL", "jordan.sample@example.com"),
    ("NPI", "1234567893"),
];

fn fixtures() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/pdf")
}

/// (file name, entity, match, field) of every row.
fn rows(outcome: &Outcome) -> BTreeSet<(String, String, String, String)> {
    outcome
        .rows
        .iter()
        .map(|r| {
            let name = Path::new(&r[1])
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, r[2].clone(), r[8].clone(), r[7].clone())
        })
        .collect()
}

#[test]
fn every_producer_gives_every_planted_value_on_its_page() {
    let dir = fixtures();
    let outcome = scan(&[dir.to_str().expect("utf-8 path")], |c| {
        c.unmask = true;
        c.threads = Some(2);
    });
    let mut producers: Vec<String> = std::fs::read_dir(&dir)
        .expect("fixtures")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".pdf") && n != "negative.pdf")
        .collect();
    producers.sort();
    assert!(producers.len() >= 15, "{producers:?}");
    let mut expected = BTreeSet::new();
    for producer in &producers {
        for (entity, value) in PLANTED {
            expected.insert((
                producer.clone(),
                entity.to_string(),
                value.to_string(),
                "page 2".to_string(),
            ));
        }
    }
    // Exactly these: nothing from the cover pages (dates without a birth
    // label) nor from the negative.
    let got = rows(&outcome);
    let missing: Vec<_> = expected.difference(&got).collect();
    let extra: Vec<_> = got.difference(&expected).collect();
    assert!(
        missing.is_empty() && extra.is_empty(),
        "missing {missing:#?}\nextra {extra:#?}"
    );
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
}

// Hostile and odd PDFs, written here.

fn zlib(data: &[u8]) -> Vec<u8> {
    let mut e = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    e.write_all(data).expect("zlib");
    e.finish().expect("zlib")
}

fn stream(dict: &str, data: &[u8]) -> Vec<u8> {
    let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
    body.extend_from_slice(data);
    body.extend_from_slice(b"\nendstream");
    body
}

/// Objects numbered from 1; object 1 is the catalog, 2 the page tree.
fn pdf(objects: &[Vec<u8>]) -> Vec<u8> {
    let mut out = b"%PDF-1.7\n".to_vec();
    for (i, body) in objects.iter().enumerate() {
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    out
}

const FONT: &str = "<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>";

/// One page (object 3) drawing content object 4 with font object 5.
fn one_page(content: Vec<u8>) -> Vec<Vec<u8>> {
    vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents 4 0 R /Resources << /Font << /F1 5 0 R >> >> >>".to_vec(),
        content,
        FONT.as_bytes().to_vec(),
    ]
}

fn scan_pdf(
    name: &str,
    data: &[u8],
    tweak: impl FnOnce(&mut phiscan::config::ScanConfig),
) -> Outcome {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, data).expect("write");
    scan(&[path.to_str().expect("utf-8 path")], |c| {
        c.unmask = true;
        tweak(c);
    })
}

fn ssns(outcome: &Outcome) -> Vec<String> {
    outcome.entity("SSN").iter().map(|r| r[8].clone()).collect()
}

fn reasons(outcome: &Outcome) -> Vec<(String, String)> {
    outcome
        .skipped()
        .into_iter()
        .map(|(_, reason, detail)| (reason, detail))
        .collect()
}

const SSN_LINE: &[u8] = b"BT /F1 12 Tf 72 760 Td (SSN: 219-45-6780) Tj ET\n";

#[test]
fn a_flate_bomb_is_cut_and_the_text_before_it_is_matched() {
    let mut content = SSN_LINE.to_vec();
    content.resize(40 << 20, b' ');
    let data = pdf(&one_page(stream("/Filter /FlateDecode", &zlib(&content))));
    assert!(data.len() < 200 << 10);
    let outcome = scan_pdf("bomb.pdf", &data, |_| {});
    assert_eq!(ssns(&outcome), ["219-45-6780"]);
    let reasons = reasons(&outcome);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].0, "limit");
    assert!(reasons[0].1.contains("100:1"), "{reasons:?}");
}

/// `n` bytes or more of content, each line a little different so that
/// they compress about 10:1: `text` lines show a word, the others draw.
fn content_lines(n: usize, text: bool) -> Vec<u8> {
    let mut out = Vec::with_capacity(n + 64);
    let mut i = 0u64;
    while out.len() < n {
        let line = if text {
            format!(
                "BT /F1 9 Tf 72 {} Td (row {i:x}) Tj ET\n",
                700 - (i % 60) * 11
            )
        } else {
            format!("{} {} m {} 700 l S\n", i % 600, i % 97, i % 500)
        };
        out.extend_from_slice(line.as_bytes());
        i = i
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407)
            >> 11;
    }
    out
}

#[test]
fn the_expansion_budget_cuts_a_page_and_keeps_what_came_before() {
    let mut content = SSN_LINE.to_vec();
    content.extend(content_lines(3 << 20, true));
    let data = pdf(&one_page(stream("/Filter /FlateDecode", &zlib(&content))));
    let outcome = scan_pdf("big.pdf", &data, |c| c.limits.max_expanded_bytes = 1 << 20);
    assert_eq!(ssns(&outcome), ["219-45-6780"]);
    let reasons = reasons(&outcome);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].0, "limit");
    assert!(reasons[0].1.contains("expanded"), "{reasons:?}");
}

#[test]
fn content_longer_than_the_window_is_read_to_its_end() {
    // 6 MiB of content (the window holds 4): the SSN is at the very end.
    let mut content = content_lines(6 << 20, false);
    content.extend_from_slice(SSN_LINE);
    let data = pdf(&one_page(stream("/Filter /FlateDecode", &zlib(&content))));
    let outcome = scan_pdf("long.pdf", &data, |_| {});
    assert_eq!(ssns(&outcome), ["219-45-6780"]);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
}

#[test]
fn a_page_of_too_many_glyphs_is_cut_with_its_start_read() {
    let mut content = SSN_LINE.to_vec();
    content.extend_from_slice(b"BT /F1 1 Tf 0 0 Td (");
    content.resize(content.len() + (1 << 20) + 10, b'x');
    content.extend_from_slice(b") Tj ET");
    // Unfiltered: a run of one letter would pass the ratio limit first.
    let data = pdf(&one_page(stream("", &content)));
    let outcome = scan_pdf("glyphs.pdf", &data, |_| {});
    assert_eq!(ssns(&outcome), ["219-45-6780"]);
    let reasons = reasons(&outcome);
    assert_eq!(reasons.len(), 1, "{reasons:?}");
    assert_eq!(reasons[0].0, "limit");
    assert!(reasons[0].1.contains("glyphs"), "{reasons:?}");
}

#[test]
fn deep_nesting_and_reference_cycles_stay_bounded() {
    let mut objects = one_page(stream("", SSN_LINE));
    // The page tree lists itself; resources point at each other.
    objects[1] = b"<< /Type /Pages /Kids [3 0 R 2 0 R] /Count 1 /Resources 6 0 R >>".to_vec();
    objects.push(b"7 0 R".to_vec());
    objects.push(b"6 0 R".to_vec());
    let mut deep = b"<< /Deep ".to_vec();
    deep.extend(std::iter::repeat_n(b'[', 200_000));
    deep.extend(std::iter::repeat_n(b']', 200_000));
    deep.extend_from_slice(b" >>");
    objects.push(deep);
    // A form that draws itself.
    objects.push(stream(
        "/Type /XObject /Subtype /Form /Resources << /XObject << /X 9 0 R >> >>",
        b"/X Do",
    ));
    objects[2] = b"<< /Type /Page /Parent 2 0 R /Contents [4 0 R 10 0 R] /Resources << /Font << /F1 5 0 R >> /XObject << /X 9 0 R >> >> >>".to_vec();
    objects.push(stream("", b"/X Do"));
    let outcome = scan_pdf("cycles.pdf", &pdf(&objects), |_| {});
    assert_eq!(ssns(&outcome), ["219-45-6780"]);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
}

#[test]
fn a_scanned_page_beside_text_pages_is_reported_by_number() {
    let objects = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        b"<< /Type /Pages /Kids [3 0 R 4 0 R] /Count 2 /MediaBox [0 0 612 792] /Resources << /Font << /F1 5 0 R >> /XObject << /Im1 7 0 R >> >> >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 6 0 R >>".to_vec(),
        b"<< /Type /Page /Parent 2 0 R /Contents 8 0 R >>".to_vec(),
        FONT.as_bytes().to_vec(),
        stream("", SSN_LINE),
        stream("/Type /XObject /Subtype /Image /Width 2 /Height 2 /BitsPerComponent 1 /ColorSpace /DeviceGray /Filter /CCITTFaxDecode /DecodeParms << /K -1 /Columns 2 >>", b"\x00\x00"),
        stream("", b"q 612 0 0 792 0 0 cm /Im1 Do Q BT /F1 8 Tf 10 10 Td (2) Tj ET"),
    ];
    let outcome = scan_pdf("mixed.pdf", &pdf(&objects), |_| {});
    assert_eq!(ssns(&outcome), ["219-45-6780"]);
    // The page's only image is 2×2: nothing OCR could read, and it says so.
    assert_eq!(
        reasons(&outcome),
        [(
            "no_text".to_string(),
            "page 2 of 2: no text layer, and no image large enough to hold text".to_string()
        )]
    );
}

#[test]
fn identity_h_without_any_map_is_reported_not_read_as_empty() {
    let mut objects = one_page(stream(
        "",
        b"BT /F1 12 Tf 72 700 Td <0036003600310019001a> Tj <00150016001700180019> Tj ET",
    ));
    objects[4] = b"<< /Type /Font /Subtype /Type0 /BaseFont /Unknown /Encoding /Identity-H /DescendantFonts [6 0 R] >>".to_vec();
    objects.push(b"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /Unknown /CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> >>".to_vec());
    let outcome = scan_pdf("unmapped.pdf", &pdf(&objects), |_| {});
    assert!(outcome.rows.is_empty());
    assert_eq!(
        reasons(&outcome),
        [(
            "no_text".to_string(),
            "page 1 of 1: text in fonts without a Unicode map".to_string()
        )]
    );
}

/// The fuzz target's path (`scan_file` on a PDF) over mutations of every
/// producer's file: no panic, and every one ends with an outcome (scanned
/// or not examined). The libFuzzer runs are in fuzz/README.md; this keeps
/// the class closed in `cargo test`.
#[test]
fn mutated_producer_pdfs_never_panic_and_are_accounted_for() {
    use phiscan::report::Event;
    let engine =
        phiscan::plan::build_engine(&phiscan::config::ScanConfig::default()).expect("rules");
    let target: std::sync::Arc<str> = "mutations".into();
    let mut seed: u64 = 0x2545_F491_4F6C_DD1D;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut files: Vec<_> = std::fs::read_dir(fixtures())
        .expect("fixtures")
        .map(|e| e.expect("entry").path())
        .collect();
    files.sort();
    for file in files {
        let original = std::fs::read(&file).expect("fixture readable");
        for round in 0..24 {
            let mut bytes = original.clone();
            for _ in 0..=(next() % 6) {
                let len = bytes.len().max(1) as u64;
                let at = (next() % len) as usize;
                match next() % 5 {
                    0 => bytes.truncate(at.max(bytes.len() / 2)),
                    1 => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b ^= 1 << (next() % 8);
                        }
                    }
                    2 => {
                        let end = (at + (next() % 512) as usize).min(bytes.len());
                        let chunk = bytes[at.min(end)..end].to_vec();
                        bytes.splice(at.min(end)..at.min(end), chunk);
                    }
                    3 => {
                        let end = (at + (next() % 64) as usize).min(bytes.len());
                        bytes.drain(at.min(end)..end);
                    }
                    _ => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = b"()<>[]/0 9-R\n%"[(next() % 14) as usize];
                        }
                    }
                }
            }
            let (tx, rx) = crossbeam_channel::unbounded();
            let name = file.file_name().unwrap().to_string_lossy().into_owned();
            let meta = phiscan::engine::FileMeta {
                target: &target,
                path: &name,
                size: Some(bytes.len() as u64),
                mtime: None,
            };
            engine.scan_file(&meta, &mut bytes.as_slice(), 0, &tx);
            drop(tx);
            let ended = rx.iter().any(|e| match e {
                Event::FileScanned { .. } => true,
                Event::NotExamined { path, .. } => path == name,
                _ => false,
            });
            assert!(ended, "{} round {round}: no outcome", file.display());
        }
    }
}
