//! Scans `fixtures/formats/docs` (built by `cargo run --example
//! gen_doc_fixtures`) end to end and checks every report row: entity, path
//! (with `!` for members) and field, and that nothing else is reported.
//! A fixed rule pack keeps the expectations independent of the built-in one.

use phiscan::config::ScanConfig;
use phiscan::report::SkipReason;
use std::collections::BTreeMap;
use std::path::Path;

const RULES: &str = r#"
[[rules]]
id = "test-ssn"
entity = "SSN"
description = "dashed SSN"
pattern = '''\b(?P<value>\d{3}-\d{2}-\d{4})\b'''
confidence = "HIGH"

[[rules]]
id = "test-npi"
entity = "NPI"
description = "ten digits after NPI"
pattern = '''\b(?P<value>\d{10})\b'''
confidence = "HIGH"
[rules.context]
words = ["npi"]
required = true

[[rules]]
id = "test-dob"
entity = "DOB"
description = "date after DOB"
pattern = '''\b(?P<value>\d{2}/\d{2}/\d{4})\b'''
confidence = "HIGH"
[rules.context]
words = ["dob"]
required = true
"#;

#[test]
fn every_container_and_document_fixture_reports_exactly_what_it_holds() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/docs");
    let work = tempfile::tempdir().expect("temp dir");
    let rules = work.path().join("rules.toml");
    std::fs::write(&rules, RULES).expect("write rules");
    let report = work.path().join("report.csv");
    let mut config = ScanConfig {
        targets: vec![fixtures.display().to_string().into()],
        output: Some(report.clone()),
        rule_paths: vec![rules],
        default_rules: false,
        threads: Some(2),
        quiet: true,
        ..ScanConfig::default()
    };
    // scanned.pdf's page stays unread (no_text) whether or not an OCR
    // engine is installed (tests/it/ocr.rs reads scanned pages).
    config.limits.ocr.mode = phiscan::extract::ocr::OcrMode::Off;
    let summary = phiscan::scan::run(&config).expect("scan runs");

    let mut reader = csv::Reader::from_path(&report).expect("report is CSV");
    let headers = reader.headers().expect("header row").clone();
    assert_eq!(
        headers.iter().collect::<Vec<_>>(),
        [
            "target",
            "path",
            "entity",
            "rule",
            "confidence",
            "line",
            "column",
            "field",
            "match",
            "context",
            "fingerprint"
        ]
    );
    let mut rows: Vec<(String, String, String, String)> = reader
        .records()
        .map(|r| {
            let r = r.expect("row");
            (
                r[1].to_string(),
                r[2].to_string(),
                r[7].to_string(),
                r[5].to_string(),
            )
        })
        .collect();
    rows.sort();
    let mut expected: Vec<(String, String, String, String)> = [
        ("backup.zip!patients/intake.txt", "SSN", "", "2"),
        ("broken_xref.pdf", "DOB", "page 2", "3"),
        ("broken_xref.pdf", "NPI", "page 2", "2"),
        ("broken_xref.pdf", "SSN", "page 2", "1"),
        ("case.pptx", "SSN", "slide 2", "2"),
        ("chart.html", "DOB", "", "5"),
        ("chart.html", "NPI", "", "6"),
        ("chart.html", "SSN", "", "4"),
        ("discharge.pdf", "DOB", "page 2", "3"),
        ("discharge.pdf", "NPI", "page 2", "2"),
        ("discharge.pdf", "SSN", "page 2", "1"),
        ("encrypted.zip!readme.txt", "SSN", "", "1"),
        ("intake.docx", "DOB", "table 1 row 1", "3"),
        ("intake.docx", "NPI", "header1", "1"),
        ("intake.docx", "SSN", "", "2"),
        ("letter.rtf", "DOB", "", "2"),
        ("letter.rtf", "SSN", "", "3"),
        (
            "records.tgz!exports/batch.zip!claims/provider.txt",
            "NPI",
            "",
            "1",
        ),
        ("records.tgz!notes/visit.txt", "DOB", "", "3"),
        ("records.tgz!notes/visit.txt", "SSN", "", "2"),
        ("referral.odt", "DOB", "", "2"),
        ("roster.xlsx", "DOB", "Patients!D7", "7"),
        ("roster.xlsx", "NPI", "Providers!B2", "2"),
        ("roster.xlsx", "SSN", "Patients!C7", "7"),
        ("truncated.zip!first.txt", "SSN", "", "1"),
        ("visit_note.txt.gz!visit_note.txt", "DOB", "", "3"),
        ("visit_note.txt.gz!visit_note.txt", "SSN", "", "2"),
    ]
    .iter()
    .map(|(p, e, f, l)| (p.to_string(), e.to_string(), f.to_string(), l.to_string()))
    .collect();
    expected.sort();
    assert_eq!(rows, expected);

    // Masked by default: the match column never holds a full value (the
    // context column is the masking change's business).
    let mut reader = csv::Reader::from_path(&report).expect("report is CSV");
    for r in reader.records() {
        let r = r.expect("row");
        for value in ["219-45-6780", "1234567893", "03/14/1962"] {
            assert!(
                !r[8].contains(value),
                "{value} leaked into the match column"
            );
        }
    }

    // What could not be examined, and why.
    let by_reason: BTreeMap<SkipReason, u64> = summary.not_examined.clone();
    let expected_reasons: BTreeMap<SkipReason, u64> = [
        // bomb.zip: 8 members over the ratio limit; deep.zip: 1 too deep.
        (SkipReason::Limit, 9),
        (SkipReason::Encrypted, 1),
        (SkipReason::NoText, 1),
        // truncated.zip (salvaged in part) and truncated.log.gz.
        (SkipReason::Corrupt, 2),
    ]
    .into_iter()
    .collect();
    assert_eq!(by_reason, expected_reasons);
    let examples: Vec<(&str, SkipReason)> = summary
        .not_examined_examples
        .iter()
        .map(|e| (e.path.as_str(), e.reason))
        .collect();
    for wanted in [
        (
            "deep.zip!level1.zip!level2.zip!level3.zip!level4.zip!level5.zip",
            SkipReason::Limit,
        ),
        ("encrypted.zip!secret.txt", SkipReason::Encrypted),
        ("scanned.pdf", SkipReason::NoText),
        ("truncated.zip", SkipReason::Corrupt),
        ("truncated.log.gz", SkipReason::Corrupt),
        ("bomb.zip!zeros1.txt", SkipReason::Limit),
    ] {
        assert!(examples.contains(&wanted), "{wanted:?} not in {examples:?}");
    }
}
