//! Scans read through OCR (`fixtures/formats/scans*`, written by
//! `fixtures/scans/generate.py`): each planted value found on its page in
//! images of every format and in PDFs without a text layer, nothing from
//! the negatives; and the engine missing, turned off, limited, hanging or
//! crashing, each reported as what it is.
//!
//! Tests that read pages need the `tesseract` program with its English
//! model (Debian: tesseract-ocr tesseract-ocr-eng; `.ci/run` installs
//! them); they fail, saying so, where it is missing.

use crate::common::{scan, Outcome};
use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn scans() -> PathBuf {
    root().join("fixtures/formats/scans")
}

fn scans_pdf() -> PathBuf {
    root().join("fixtures/formats/scans-pdf")
}

fn need_tesseract() {
    let found = std::process::Command::new("tesseract")
        .arg("--list-langs")
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .any(|l| l.trim() == "eng")
        })
        .unwrap_or(false);
    assert!(
        found,
        "these tests read pages with tesseract: install tesseract-ocr tesseract-ocr-eng"
    );
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

fn row(file: &str, entity: &str, value: &str, page: u32) -> (String, String, String, String) {
    (
        file.to_string(),
        entity.to_string(),
        value.to_string(),
        format!("page {page}"),
    )
}

fn scan_dir(dir: &Path, tweak: impl FnOnce(&mut phiscan::config::ScanConfig)) -> Outcome {
    scan(&[dir.to_str().expect("utf-8 path")], |c| {
        c.unmask = true;
        c.threads = Some(2);
        tweak(c);
    })
}

fn missing(
    found: &BTreeSet<(String, String, String, String)>,
    expected: &[(String, String, String, String)],
) -> Vec<(String, String, String, String)> {
    expected
        .iter()
        .filter(|e| !found.contains(*e))
        .cloned()
        .collect()
}

/// Every row of `expected` is among `found` (the rows of `outcome`); the
/// failure names what is missing, what was found and what was not examined.
fn assert_found(
    outcome: &Outcome,
    found: &BTreeSet<(String, String, String, String)>,
    expected: &[(String, String, String, String)],
) {
    let missing = missing(found, expected);
    assert!(
        missing.is_empty(),
        "not found: {missing:?}\nfound: {found:#?}\nnot examined: {:?}",
        outcome.skipped()
    );
}

#[test]
fn images_of_every_format_give_their_values_on_their_page() {
    need_tesseract();
    let outcome = scan_dir(&scans(), |_| {});
    let found = rows(&outcome);
    let expected = [
        // A 300 dpi grey PNG form, turned a little as scanners do.
        row("intake_form.png", "SSN", "219-45-6780", 1),
        row("intake_form.png", "NPI", "1234567893", 1),
        row("intake_form.png", "PHONE", "(312) 555-0147", 1),
        row("intake_form.png", "MBI", "1EG4-TE5-MK73", 1),
        // A JPEG at 300 dpi.
        row("registration_300dpi.jpg", "SSN", "412-56-7890", 1),
        // A three-page CCITT G4 fax: values on pages 2 and 3.
        row("referral_fax.tif", "SSN", "536-22-1234", 2),
        row("referral_fax.tif", "MRN", "00771245", 3),
        // A phone photo of a member card, tilted on a table, lit from one
        // side, stored sideways with an EXIF orientation.
        row("medicare_card_photo.jpg", "MBI", "5TK9-AE3-XY12", 1),
        row("medicare_card_photo.jpg", "DOB", "08/30/1951", 1),
        // GIF, WebP and BMP.
        row("lab_label.gif", "SSN", "287-65-4321", 1),
        row("sticky_note.webp", "SSN", "219-45-6780", 1),
        row("wristband.bmp", "MRN", "00482913", 1),
    ];
    assert_found(&outcome, &found, &expected);
    // Burned into a secondary capture's pixels (BurnedInAnnotation YES)
    // and an ultrasound's; the CT that says NO is left alone.
    assert!(found.contains(&(
        "burned_in_sc.dcm".into(),
        "MRN".into(),
        "00395518".into(),
        "frame 1".into()
    )));
    assert!(
        !found.iter().any(|r| r.0 == "ct_not_burned.dcm"),
        "{found:?}"
    );
    // What OCR reads is judged as the same text typed: same values, same
    // confidence, no more.
    let typed = scan_dir(
        &root().join("fixtures/formats/scans-text/intake_form.png.txt"),
        |_| {},
    );
    let judged = |o: &Outcome, file: &str| -> BTreeSet<(String, String, String)> {
        o.rows
            .iter()
            .filter(|r| r[1].ends_with(file))
            .map(|r| (r[2].clone(), r[8].clone(), r[4].clone()))
            .collect()
    };
    assert_eq!(
        judged(&outcome, "intake_form.png"),
        judged(&typed, "intake_form.png.txt")
    );
    let ocr = outcome.summary.ocr.as_ref().expect("OCR counted");
    // 7 images (the fax has 3 pages), 2 negatives, 2 DICOM frames.
    assert!(ocr.pages >= 13, "{ocr:?}");
    assert!(ocr.engine_seconds > 0.0, "{ocr:?}");
}

#[test]
fn negatives_give_nothing() {
    need_tesseract();
    let outcome = scan_dir(&scans().join("negative"), |_| {});
    assert!(outcome.rows.is_empty(), "{:#?}", outcome.rows);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
    let ocr = outcome.summary.ocr.as_ref().expect("OCR counted");
    assert_eq!(ocr.pages, 2, "both negatives were read: {ocr:?}");
}

#[test]
fn pdf_pages_without_text_are_read_on_their_page() {
    need_tesseract();
    let outcome = scan_dir(&scans_pdf(), |_| {});
    let found = rows(&outcome);
    let expected = [
        // JPEG (DCTDecode) and Flate-compressed grey pages.
        row("form_jpeg.pdf", "SSN", "412-56-7890", 1),
        row("form_png.pdf", "SSN", "219-45-6780", 1),
        // CCITT G4 pages.
        row("fax_g4.pdf", "SSN", "536-22-1234", 2),
        row("fax_g4.pdf", "MRN", "00771245", 3),
        // A typed page, a scanned one, a typed one.
        row("three_pages_one_scanned.pdf", "SSN", "536-22-1234", 1),
        row("three_pages_one_scanned.pdf", "SSN", "219-45-6780", 2),
    ];
    assert_found(&outcome, &found, &expected);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
}

#[test]
fn page_limit_per_file_reads_the_first_pages_and_reports_the_rest() {
    need_tesseract();
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::copy(
        scans().join("referral_fax.tif"),
        dir.path().join("referral_fax.tif"),
    )
    .expect("copy");
    let outcome = scan_dir(dir.path(), |c| c.limits.ocr.max_pages_per_file = 2);
    let found = rows(&outcome);
    assert!(found.contains(&row("referral_fax.tif", "SSN", "536-22-1234", 2)));
    assert!(
        !found.iter().any(|r| r.3 == "page 3"),
        "page 3 is past the limit: {found:?}"
    );
    let skipped = outcome.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].1, "limit");
    assert!(
        skipped[0].2.contains("page 3") && skipped[0].2.contains("--ocr-max-pages"),
        "{skipped:?}"
    );
    let ocr = outcome.summary.ocr.as_ref().expect("OCR counted");
    assert_eq!(ocr.pages, 2);
    assert_eq!(
        ocr.skipped.get(&phiscan::report::SkipReason::Limit),
        Some(&1)
    );
}

#[test]
fn ocr_off_reports_each_image_and_reads_none() {
    let outcome = scan_dir(&scans(), |c| {
        c.limits.ocr.mode = phiscan::extract::ocr::OcrMode::Off;
    });
    assert!(outcome.rows.is_empty(), "{:#?}", outcome.rows);
    let skipped = outcome.skipped();
    let off: Vec<_> = skipped.iter().filter(|s| s.1 == "ocr_off").collect();
    // Seven images, two negatives and the two DICOM files whose pixels
    // may show text (not the CT that says they do not).
    assert_eq!(off.len(), 11, "{skipped:?}");
    assert!(!skipped.iter().any(|s| s.0.contains("ct_not_burned")));
}

/// A folder on PATH holding `tesseract` as the given shell script, and
/// the other programs the scan's children need.
fn fake_path(script: Option<&str>) -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    if let Some(script) = script {
        let path = dir.path().join("tesseract");
        std::fs::write(&path, format!("#!/bin/sh\n{script}\n")).expect("script");
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    dir
}

fn phiscan_with_path(path: &Path) -> Command {
    let mut c = Command::cargo_bin("phiscan").expect("the phiscan binary is built");
    c.env("PHISCAN_FINGERPRINT_KEY", "ocr-test-key-0123456789abcdef")
        .env("PATH", path)
        .env_remove("OMP_THREAD_LIMIT");
    c
}

#[test]
fn readme_first_command_works_without_the_engine() {
    let empty = fake_path(None);
    let out = phiscan_with_path(empty.path())
        .args(["scan", "fixtures/share", "-q", "-o", "/dev/null"])
        .current_dir(root())
        .output()
        .expect("runs");
    // Findings: exit status 1, as README says, engine or not.
    assert_eq!(out.status.code(), Some(1), "{out:?}");
}

#[test]
fn without_the_engine_images_are_not_examined_and_say_why() {
    let empty = fake_path(None);
    let dir = tempfile::tempdir().expect("tempdir");
    let summary = dir.path().join("summary.json");
    std::fs::copy(
        scans().join("negative/instructions.png"),
        dir.path().join("instructions.png"),
    )
    .expect("copy");
    let out = phiscan_with_path(empty.path())
        .args(["scan", "-q", "-o", "/dev/null", "--summary-json"])
        .arg(&summary)
        .arg(dir.path().join("instructions.png"))
        .output()
        .expect("runs");
    // Nothing found, something not examined: exit status 3.
    assert_eq!(out.status.code(), Some(3), "{out:?}");
    let text = std::fs::read_to_string(&summary).expect("summary written");
    assert!(text.contains("ocr_unavailable"), "{text}");
    assert!(text.contains("tesseract-ocr-eng"), "{text}");
}

#[test]
fn ocr_on_without_the_engine_does_not_start() {
    let empty = fake_path(None);
    let out = phiscan_with_path(empty.path())
        .args([
            "scan",
            "--ocr",
            "on",
            "-q",
            "-o",
            "/dev/null",
            "fixtures/share",
        ])
        .current_dir(root())
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("tesseract-ocr") && stderr.contains("tesseract-ocr-eng"),
        "{stderr}"
    );
}

/// An engine that answers the probe, then hangs on every page, is killed
/// at the file's time limit; one that crashes costs its page, reported.
#[test]
fn a_hanging_or_crashing_engine_costs_its_page_only() {
    let dir = tempfile::tempdir().expect("tempdir");
    let image = dir.path().join("instructions.png");
    std::fs::copy(scans().join("negative/instructions.png"), &image).expect("copy");
    let probe = r#"if [ "$1" = "--list-langs" ]; then echo "List of available languages (1):"; echo eng; exit 0; fi"#;
    // The crash gets a roomy limit: on a loaded machine preparing the page
    // can take seconds, and a crash must not be read as a timeout.
    for (name, body, reason, limit) in [
        ("hang", "exec sleep 600", "limit", "3"),
        ("crash", "kill -SEGV $$", "ocr_failed", "40"),
    ] {
        let fake = fake_path(Some(&format!("{probe}\n{body}")));
        // sleep and kill come from the system.
        let path = std::env::join_paths([fake.path(), Path::new("/usr/bin"), Path::new("/bin")])
            .expect("path");
        let summary = dir.path().join(format!("{name}.json"));
        let started = std::time::Instant::now();
        let out = phiscan_with_path(Path::new(&path))
            .args(["scan", "-q", "-o", "/dev/null", "--file-timeout", limit])
            .arg("--summary-json")
            .arg(&summary)
            .arg(&image)
            .timeout(std::time::Duration::from_secs(120))
            .output()
            .expect("runs");
        assert_eq!(out.status.code(), Some(3), "{name}: {out:?}");
        // Bounded by the file's limit, not the engine's 600 s.
        assert!(started.elapsed().as_secs() < 60, "{name}");
        let text = std::fs::read_to_string(&summary).expect("summary written");
        assert!(text.contains(reason), "{name}: {text}");
    }
}

/// The card's XObject name in `letter_with_card.pdf` (ReportLab names an
/// image after a hash of its bytes).
const CARD_FIELD: &str = "page 2 image FormXob.4bf9c98a2fd54dfc12bc72799c1107d0";

/// A typed referral letter with a scanned member card pasted on page 2:
/// the card's SSN and date of birth, which the typed text does not hold,
/// are found under the image's name; a typed page with a photo gives
/// nothing.
#[test]
fn images_on_pages_with_text_are_read_under_their_name() {
    need_tesseract();
    let letter = scans_pdf().join("letter_with_card.pdf");
    let outcome = scan_dir(&letter, |_| {});
    let found = rows(&outcome);
    for (entity, value) in [("SSN", "318-62-4407"), ("DOB", "09/23/1967")] {
        let want = (
            "letter_with_card.pdf".to_string(),
            entity.to_string(),
            value.to_string(),
            CARD_FIELD.to_string(),
        );
        assert!(
            found.contains(&want),
            "not found: {want:?}\nfound: {found:#?}\nnot examined: {:?}",
            outcome.skipped()
        );
    }
    // Only the image holds them: nothing from the typed text of either page.
    assert!(
        !found.iter().any(|r| r.3 == "page 1" || r.3 == "page 2"),
        "{found:#?}"
    );
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
    let ocr = outcome.summary.ocr.as_ref().expect("OCR counted");
    assert_eq!(ocr.pages, 1, "the card only: {ocr:?}");

    let negative = scan_dir(&scans_pdf().join("negative"), |_| {});
    assert!(negative.rows.is_empty(), "{:#?}", negative.rows);
    assert!(negative.skipped().is_empty(), "{:?}", negative.skipped());
    let ocr = negative.summary.ocr.as_ref().expect("OCR counted");
    assert_eq!(ocr.pages, 1, "the photo was read: {ocr:?}");
}

/// A PDF of `images.len()` pages, each with a typed line and one image
/// XObject `Im1` of its own (dictionary entries, data).
fn typed_pages_with_images(images: &[(&str, Vec<u8>)]) -> Vec<u8> {
    let mut objects: Vec<Vec<u8>> = vec![
        b"<< /Type /Catalog /Pages 2 0 R >>".to_vec(),
        Vec::new(),
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>".to_vec(),
    ];
    let stream = |dict: &str, data: &[u8]| {
        let mut body = format!("<< {dict} /Length {} >>\nstream\n", data.len()).into_bytes();
        body.extend_from_slice(data);
        body.extend_from_slice(b"\nendstream");
        body
    };
    let mut kids = Vec::new();
    for (i, (dict, data)) in images.iter().enumerate() {
        let page = objects.len() + 1;
        kids.push(format!("{page} 0 R"));
        objects.push(
            format!(
                "<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] /Contents {} 0 R \
             /Resources << /Font << /F1 3 0 R >> /XObject << /Im1 {} 0 R >> >> >>",
                page + 1,
                page + 2
            )
            .into_bytes(),
        );
        let content = format!(
            "BT /F1 12 Tf 72 700 Td (Referral letter, page {} of the typed text.) Tj ET \
             q 288 0 0 144 72 400 cm /Im1 Do Q",
            i + 1
        );
        objects.push(stream("", content.as_bytes()));
        objects.push(stream(
            &format!("/Type /XObject /Subtype /Image {dict}"),
            data,
        ));
    }
    objects[1] = format!(
        "<< /Type /Pages /Kids [{}] /Count {} >>",
        kids.join(" "),
        images.len()
    )
    .into_bytes();
    let mut out = b"%PDF-1.7\n".to_vec();
    for (i, body) in objects.iter().enumerate() {
        out.extend_from_slice(format!("{} 0 obj\n", i + 1).as_bytes());
        out.extend_from_slice(body);
        out.extend_from_slice(b"\nendobj\n");
    }
    out.extend_from_slice(b"trailer\n<< /Root 1 0 R >>\n%%EOF\n");
    out
}

/// A white 8-bit grey image of `w`×`h` pixels, uncompressed.
fn white(w: u32, h: u32) -> (String, Vec<u8>) {
    (
        format!("/Width {w} /Height {h} /BitsPerComponent 8 /ColorSpace /DeviceGray"),
        vec![255; (w * h) as usize],
    )
}

fn scan_one(
    name: &str,
    data: &[u8],
    tweak: impl FnOnce(&mut phiscan::config::ScanConfig),
) -> Outcome {
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join(name), data).expect("write");
    scan_dir(dir.path(), tweak)
}

/// Images on pages with text whose codec is not one PDF defines, or whose
/// data is damaged (JBIG2, JPEG 2000 and CCITT Group 3 of zeros), are each
/// reported with the reason and the image's name; the typed text is still
/// read.
#[test]
fn unsupported_images_on_text_pages_say_which_and_why() {
    need_tesseract();
    let size = "/Width 400 /Height 200 /BitsPerComponent 1 /ColorSpace /DeviceGray";
    let data = typed_pages_with_images(&[
        (&format!("{size} /Filter /JBIG2Decode"), vec![0; 64]),
        (&format!("{size} /Filter /JPXDecode"), vec![0; 64]),
        (
            &format!("{size} /Filter /CCITTFaxDecode /DecodeParms << /K 1 /Columns 400 >>"),
            vec![0; 64],
        ),
        (&format!("{size} /Filter /WaveletDecode"), vec![0; 64]),
    ]);
    let outcome = scan_one("codecs.pdf", &data, |_| {});
    let skipped = outcome.skipped();
    assert_eq!(skipped.len(), 4, "{skipped:?}");
    let reasons: Vec<&str> = skipped.iter().map(|s| s.1.as_str()).collect();
    assert_eq!(
        reasons,
        ["corrupt", "corrupt", "corrupt", "unsupported"],
        "{skipped:?}"
    );
    let says = |i: usize, page: usize, what: &str| {
        assert!(
            skipped[i].2.contains(&format!("page {page} image Im1")) && skipped[i].2.contains(what),
            "{skipped:?}"
        );
    };
    says(0, 1, "JBIG2: ");
    says(1, 2, "corrupt JPEG 2000");
    says(2, 3, "CCITT Group 3: no row could be decoded");
    says(3, 4, "WaveletDecode image in a PDF");
    let ocr = outcome.summary.ocr.as_ref().expect("OCR counted");
    assert_eq!(ocr.pages, 0, "{ocr:?}");
}

/// Images on pages with text count against `--ocr-max-pages` as pages
/// do; with `--ocr off` each is reported, none read; an image too small
/// to hold text is passed over, not reported.
#[test]
fn images_on_text_pages_keep_the_ocr_limits_and_modes() {
    need_tesseract();
    let (dict, data) = white(400, 200);
    let (small_dict, small) = white(200, 60);
    let pdf =
        typed_pages_with_images(&[(&dict, data.clone()), (&small_dict, small), (&dict, data)]);
    let outcome = scan_one("limited.pdf", &pdf, |c| c.limits.ocr.max_pages_per_file = 1);
    let skipped = outcome.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].1, "limit");
    assert!(
        skipped[0].2.contains("page 3 image Im1") && skipped[0].2.contains("--ocr-max-pages"),
        "{skipped:?}"
    );
    let ocr = outcome.summary.ocr.as_ref().expect("OCR counted");
    assert_eq!(ocr.pages, 1, "{ocr:?}");

    let off = scan_one("off.pdf", &pdf, |c| {
        c.limits.ocr.mode = phiscan::extract::ocr::OcrMode::Off;
    });
    let skipped = off.skipped();
    let labels: Vec<bool> = skipped
        .iter()
        .map(|s| s.1 == "ocr_off" && s.2.contains("image Im1"))
        .collect();
    assert_eq!(labels, [true], "pages 1 and 3, one report: {skipped:?}");
    assert!(
        skipped[0].2.contains("page 1 image Im1, page 3 image Im1"),
        "{skipped:?}"
    );
    assert!(off.summary.ocr.as_ref().is_none_or(|o| o.pages == 0));
}

/// CCITT Group 3 faxes (`fixtures/formats/scans-g3`): one- and
/// two-dimensional coding in a TIFF, one-dimensional in a PDF (`K = 0`),
/// all read; nothing is left unexamined.
#[test]
fn group_3_faxes_are_read() {
    need_tesseract();
    let outcome = scan_dir(&root().join("fixtures/formats/scans-g3"), |_| {});
    let found = rows(&outcome);
    let expected = [
        row("fax_g3_1d.tif", "SSN", "536-22-1234", 1),
        row("fax_g3_2d.tif", "SSN", "536-22-1234", 1),
        row("fax_g3_k0.pdf", "SSN", "536-22-1234", 1),
    ];
    assert_found(&outcome, &found, &expected);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
}

/// The size and the strips, one after another, of a fixture TIFF from
/// `fixtures/formats/scans-other`.
fn tiff_strips(name: &str) -> (u32, u32, Vec<u8>) {
    let tiff = std::fs::read(root().join("fixtures/formats/scans-other").join(name)).unwrap();
    let mut decoder = tiff::decoder::Decoder::new(std::io::Cursor::new(&tiff)).unwrap();
    let (w, h) = decoder.dimensions().unwrap();
    let offsets = decoder
        .get_tag_u64_vec(tiff::tags::Tag::StripOffsets)
        .unwrap();
    let counts = decoder
        .get_tag_u64_vec(tiff::tags::Tag::StripByteCounts)
        .unwrap();
    let data = offsets
        .iter()
        .zip(&counts)
        .flat_map(|(&at, &n)| tiff[at as usize..(at + n) as usize].to_vec())
        .collect();
    (w, h, data)
}

/// Scans `name`: a typed page with one image (`dict`, `data`) that shows
/// the form of libreoffice.pdf page 2 (as Ghostscript's faxes of it do).
/// Its values are found on the image; nothing is left unexamined.
fn assert_form_read_on_image(name: &str, dict: &str, data: Vec<u8>) {
    let outcome = scan_one(name, &typed_pages_with_images(&[(dict, data)]), |_| {});
    let found = rows(&outcome);
    let on_image = |entity: &str, value: &str| {
        (
            name.to_string(),
            entity.to_string(),
            value.to_string(),
            "page 1 image Im1".to_string(),
        )
    };
    let expected = [
        on_image("SSN", "219-45-6780"),
        on_image("DOB", "03/14/1962"),
        on_image("MRN", "00482913"),
    ];
    assert_found(&outcome, &found, &expected);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
}

/// A two-dimensional Group 3 image (`K > 0`) in a PDF: Ghostscript's
/// `tiffg32d` coding of a typed form (end-of-line codes, rows tagged 1-D
/// or 2-D; its strips read as one stream), as the image of a page with
/// text.
#[test]
fn group_3_two_dimensional_images_in_pdfs_are_read() {
    need_tesseract();
    let (w, h, data) = tiff_strips("libreoffice_form_ghostscript_g3_2d.tif");
    let dict = format!(
        "/Width {w} /Height {h} /BitsPerComponent 1 /ColorSpace /DeviceGray \
         /Filter /CCITTFaxDecode /DecodeParms << /K 1 /Columns {w} /Rows {h} /EndOfLine true >>"
    );
    assert_form_read_on_image("fax_2d.pdf", &dict, data);
}

/// JPEG 2000 made by OpenJPEG (`fixtures/formats/scans-jpx`): a JP2 image
/// wrapped in a PDF by img2pdf, a raw codestream as a file of its own, and
/// the same codestream as a `JPXDecode` image on a typed page. Every value
/// is found; nothing is left unexamined.
#[test]
fn jpeg_2000_files_and_pdf_images_are_read() {
    need_tesseract();
    let dir = root().join("fixtures/formats/scans-jpx");
    let outcome = scan_dir(&dir, |_| {});
    let found = rows(&outcome);
    let pdf = "registration_openjpeg_img2pdf.pdf";
    let card = "medicare_card_openjpeg.j2k";
    let expected = [
        row(pdf, "SSN", "412-56-7890", 1),
        row(pdf, "DOB", "11/02/1948", 1),
        row(pdf, "PHONE", "(773) 555-0182", 1),
        row(card, "MBI", "5TK9-AE3-XY12", 1),
        row(card, "DOB", "08/30/1951", 1),
    ];
    assert_found(&outcome, &found, &expected);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());

    let codestream = std::fs::read(dir.join(card)).unwrap();
    let dict = "/Width 1600 /Height 1200 /BitsPerComponent 8 /ColorSpace /DeviceRGB \
                /Filter /JPXDecode";
    let letter = typed_pages_with_images(&[(dict, codestream)]);
    let outcome = scan_one("letter.pdf", &letter, |_| {});
    let found = rows(&outcome);
    let on_image = (
        "letter.pdf".to_string(),
        "MBI".to_string(),
        "5TK9-AE3-XY12".to_string(),
        "page 1 image Im1".to_string(),
    );
    assert!(
        found.contains(&on_image),
        "{found:#?}\n{:?}",
        outcome.skipped()
    );
}

/// A JBIG2 image (`JBIG2Decode`, embedded organisation): a page
/// information segment and an immediate lossless generic region coded MMR,
/// whose data is Ghostscript's Group 4 coding of a typed form (MMR is T.6
/// coding, T.88 6.2.6).
#[test]
fn jbig2_images_in_pdfs_are_read() {
    need_tesseract();
    let (w, h, mmr) = tiff_strips("libreoffice_form_ghostscript_g4.tif");
    // Segment header: number, type (1-byte page association), no
    // referred-to segments, page 1, data length (T.88 7.2).
    let segment = |number: u32, kind: u8, data: &[u8]| {
        let mut s = number.to_be_bytes().to_vec();
        s.extend([kind, 0, 1]);
        s.extend((data.len() as u32).to_be_bytes());
        s.extend_from_slice(data);
        s
    };
    let mut page_info = Vec::new();
    for v in [w, h, 0, 0] {
        page_info.extend(v.to_be_bytes());
    }
    page_info.extend([0, 0, 0]); // flags, striping
    let mut region = Vec::new();
    for v in [w, h, 0, 0] {
        region.extend(v.to_be_bytes());
    }
    region.extend([0, 1]); // OR; MMR coding
    region.extend_from_slice(&mmr);
    let mut stream = segment(0, 48, &page_info);
    stream.extend(segment(1, 39, &region));
    stream.extend(segment(2, 49, &[]));
    let dict = format!(
        "/Width {w} /Height {h} /BitsPerComponent 1 /ColorSpace /DeviceGray /Filter /JBIG2Decode"
    );
    assert_form_read_on_image("jbig2.pdf", &dict, stream);
}

/// Palette images (`[/Indexed base hival lookup]`, as img2pdf, Pillow
/// and scanners write them): each index is drawn in its table's colour.
/// A fax of a typed form as 8-bit indices with an RGB table in a hex
/// string, odd indices black and even ones white, each pixel's index
/// picked at random (read as plain grey it is noise); and as 1-bit indices
/// whose index 1 is black (read as plain grey it is white on black).
#[test]
fn indexed_colour_images_in_pdfs_are_read() {
    need_tesseract();
    let fax = image::open(
        root().join("fixtures/formats/scans-other/libreoffice_form_ghostscript_g4.tif"),
    )
    .unwrap()
    .to_luma8();
    let (w, h) = fax.dimensions();
    let mut table = Vec::new();
    for i in 0..=255u8 {
        table.extend([if i % 2 == 1 { 0u8 } else { 255 }; 3]);
    }
    let hex: String = table.iter().map(|b| format!("{b:02X}")).collect();
    let dict = format!(
        "/Width {w} /Height {h} /BitsPerComponent 8 /ColorSpace [/Indexed /DeviceRGB 255 <{hex}>]"
    );
    // Knuth's multiplicative hash of the pixel's position scatters them.
    let data = fax
        .pixels()
        .enumerate()
        .map(|(i, p)| {
            let scattered = ((i as u32).wrapping_mul(2_654_435_761) >> 24) as u8;
            (scattered & 0xFE) | u8::from(p.0[0] < 128)
        })
        .collect();
    assert_form_read_on_image("palette.pdf", &dict, data);

    let row_bytes = (w as usize).div_ceil(8);
    let mut bits = vec![0u8; row_bytes * h as usize];
    for (x, y, p) in fax.enumerate_pixels() {
        if p.0[0] < 128 {
            bits[y as usize * row_bytes + x as usize / 8] |= 0x80 >> (x % 8);
        }
    }
    let dict = format!(
        "/Width {w} /Height {h} /BitsPerComponent 1 /ColorSpace [/Indexed /DeviceGray 1 <FF00>]"
    );
    assert_form_read_on_image("palette_1bit.pdf", &dict, bits);
}

/// JBIG2 made by jbig2enc (pikepdf's test PDFs,
/// `fixtures/formats/scans-jbig2`): symbol dictionaries and text regions,
/// arithmetic-coded, in the image stream or in `JBIG2Globals`. Every page
/// is read, none left unexamined, and the brochure's printed phone number
/// is found on its page (the unit test in pdf_pages checks the pixels).
#[test]
fn jbig2_from_jbig2enc_is_read() {
    need_tesseract();
    let outcome = scan_dir(&root().join("fixtures/formats/scans-jbig2"), |_| {});
    let found = rows(&outcome);
    let expected = [row("pikepdf_pdfa_jbig2.pdf", "PHONE", "(818) 708-8131", 1)];
    assert_found(&outcome, &found, &expected);
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
    let ocr = outcome.summary.ocr.as_ref().expect("OCR counted");
    assert_eq!(ocr.pages, 3, "{ocr:?}");
}

/// Forms rendered by other tools from the typed PDFs of
/// fixtures/formats/pdf (poppler's `pdftoppm -r 300 -mono` of pdftex.pdf,
/// saved as G4; Ghostscript's `jpeggray` at 150 dpi of chromium.pdf):
/// labels and values stand in two columns, and read as separate blocks a
/// page's labels lost their values (the date of birth and the MRN, which
/// need their labels). Every value of the typed form is found, as in typed
/// text, with its label's confidence.
#[test]
fn forms_rendered_by_other_tools_keep_labels_with_their_values() {
    need_tesseract();
    let outcome = scan_dir(&root().join("fixtures/formats/scans-other"), |_| {});
    let found = rows(&outcome);
    let mut expected = Vec::new();
    for file in [
        "pdftex_form_poppler_g4.tif",
        "chromium_form_ghostscript_150dpi.jpg",
    ] {
        expected.extend([
            row(file, "DOB", "03/14/1962", 1),
            row(file, "SSN", "219-45-6780", 1),
            row(file, "PHONE", "(217) 555-0142", 1),
            row(file, "MRN", "00482913", 1),
            row(file, "EMAIL", "jordan.sample@example.com", 1),
            row(file, "NPI", "1234567893", 1),
        ]);
    }
    assert!(
        missing(&found, &expected).is_empty(),
        "not found: {:?}\nfound: {found:#?}",
        missing(&found, &expected)
    );
    assert!(
        outcome.rows.iter().all(|r| r[4] == "HIGH"),
        "each value beside its label: {:?}",
        outcome.rows
    );
}

/// The three pages of the fax and a wristband photo, two files, go to
/// one engine process on one worker (its model loaded once for the scan,
/// not per page or file), and the text comes back on the right pages: the
/// SSN on page 2 of the fax, the MRN on page 3, the wristband's MRN. A
/// wrapper on PATH counts the engine's runs and passes them on.
#[test]
fn pages_of_several_files_are_read_in_one_engine_run() {
    need_tesseract();
    let real = std::process::Command::new("sh")
        .args(["-c", "command -v tesseract"])
        .output()
        .expect("sh runs");
    let real = String::from_utf8_lossy(&real.stdout).trim().to_string();
    let dir = tempfile::tempdir().expect("tempdir");
    let count = dir.path().join("runs");
    let fake = fake_path(Some(&format!(
        "[ \"$1\" = --list-langs ] || echo run >> '{}'\nexec '{real}' \"$@\"",
        count.display()
    )));
    let path = std::env::join_paths([fake.path(), Path::new("/usr/bin"), Path::new("/bin")])
        .expect("path");
    let report = dir.path().join("report.csv");
    let out = phiscan_with_path(Path::new(&path))
        .env("OMP_THREAD_LIMIT", "1")
        .args(["scan", "-q", "--unmask", "--threads", "1", "-o"])
        .arg(&report)
        .arg(scans().join("referral_fax.tif"))
        .arg(scans().join("wristband.bmp"))
        .timeout(std::time::Duration::from_secs(300))
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let runs = std::fs::read_to_string(&count).expect("the engine ran");
    assert_eq!(runs.lines().count(), 1, "engine runs: {runs}");
    let csv = std::fs::read_to_string(&report).expect("report written");
    let has = |value: &str, page: &str| {
        csv.lines()
            .any(|l| l.contains(value) && l.contains(&format!(",{page},")))
    };
    assert!(has("536-22-1234", "page 2"), "{csv}");
    assert!(has("00771245", "page 3"), "{csv}");
    assert!(
        csv.lines()
            .any(|l| l.contains("wristband.bmp") && l.contains("00482913")),
        "{csv}"
    );
}

/// The same scans on an FTP share (libunftp, in process): files are read
/// on the connection workers, which share the engine slots (and their
/// kept processes) with the worker pool; every value is found on the same
/// page as in the local folder, and nothing is left unread.
#[test]
fn scans_on_an_ftp_share_are_read_as_in_a_local_folder() {
    need_tesseract();
    let local = scan_dir(&scans(), |_| {});
    let port = crate::common::start_unftp(&scans(), None);
    let url = format!("ftp://127.0.0.1:{port}/");
    let remote = scan(&[url.as_str()], |c| {
        c.unmask = true;
        c.threads = Some(2);
    });
    let content = |o: &Outcome| -> BTreeSet<_> {
        rows(o)
            .into_iter()
            .filter(|r| !r.1.starts_with("FTP_"))
            .collect()
    };
    assert!(!content(&local).is_empty());
    assert_eq!(content(&remote), content(&local));
    assert!(remote.skipped().is_empty(), "{:?}", remote.skipped());
    let pages = |o: &Outcome| o.summary.ocr.as_ref().map(|w| w.pages);
    assert_eq!(pages(&remote), pages(&local));
}
