//! Detection gaps of issue 19 on files other producers wrote
//! (`fixtures/formats/detect`: HL7 exports with a preamble or a doubled
//! escape in MSH-2, UTF-16 tab-separated exports by iconv and by Python as
//! Windows writes them, DOCX tables by python-docx and LibreOffice), through
//! the whole pipeline to the CSV report.

use crate::common::scan;
use std::path::Path;

fn fixture(name: &str) -> String {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("fixtures/formats/detect")
        .join(name)
        .display()
        .to_string()
}

/// (entity, rule, field) of every row, in report order.
fn rows(name: &str) -> Vec<(String, String, String)> {
    let outcome = scan(&[&fixture(name)], |c| c.threads = Some(1));
    assert!(outcome.skipped().is_empty(), "{:?}", outcome.skipped());
    outcome
        .rows
        .iter()
        .map(|r| (r[2].clone(), r[3].clone(), r[7].clone()))
        .collect()
}

fn has(rows: &[(String, String, String)], entity: &str, rule: &str, field: &str) -> bool {
    rows.iter()
        .any(|r| r.0 == entity && r.1 == rule && r.2 == field)
}

#[test]
fn hl7_after_a_preamble_and_with_a_doubled_escape_is_read_by_its_fields() {
    for name in ["hl7-preamble.hl7", "hl7-doubled-escape.hl7"] {
        let rows = rows(name);
        for (entity, field) in [
            ("MRN", "PID-3"),
            ("PERSON_NAME", "PID-5"),
            ("DOB", "PID-7"),
            ("ADDRESS", "PID-11"),
            // XTN.1 holds "HOME": the number is XTN.6 + XTN.7.
            ("PHONE", "PID-13"),
        ] {
            assert!(
                has(&rows, entity, "hl7-field", field),
                "{name}: {entity} {field}: {rows:#?}"
            );
        }
        // Structure wins: the MRN shaped like an SSN is no SSN, and the
        // number in the SSN field (PID-19) that passes the NPI check is no
        // NPI (nor an SSN: it has ten digits).
        assert!(!rows.iter().any(|r| r.0 == "SSN"), "{name}: {rows:#?}");
        assert!(!rows.iter().any(|r| r.0 == "NPI"), "{name}: {rows:#?}");
        assert_eq!(rows.len(), 5, "{name}: {rows:#?}");
    }
}

#[test]
fn utf16_tab_separated_exports_are_read_as_tables() {
    for (name, phones) in [
        ("patients-unicode.txt", true),
        ("patients-python-utf16.txt", false),
    ] {
        let rows = rows(name);
        for row in [2, 3] {
            for column in ["MRN", "DOB", "SSN", "Name"] {
                let entity = match column {
                    "Name" => "PERSON_NAME",
                    other => other,
                };
                let field = format!("column \"{column}\" row {row}");
                assert!(
                    has(&rows, entity, "csv-column", &field),
                    "{name}: {field}: {rows:#?}"
                );
            }
            let phone = format!("column \"Phone\" row {row}");
            assert_eq!(has(&rows, "PHONE", "csv-column", &phone), phones, "{name}");
        }
    }
}

#[test]
fn docx_tables_with_a_header_row_are_read_by_their_columns() {
    let rows = rows("roster-python-docx.docx");
    for row in [2, 3] {
        let field = format!("table 1 row {row}");
        for entity in ["MRN", "PERSON_NAME", "DOB", "SSN"] {
            assert!(
                has(&rows, entity, "docx-column", &field),
                "{entity} {field}: {rows:#?}"
            );
        }
    }
    assert_eq!(rows.len(), 8, "{rows:#?}");
    // LibreOffice's DOCX: `Chart No` is an MRN column, `Notes` free text.
    let rows = self::rows("roster-libreoffice.docx");
    for row in [2, 3] {
        let field = format!("table 1 row {row}");
        for entity in ["MRN", "PERSON_NAME", "DOB"] {
            assert!(
                has(&rows, entity, "docx-column", &field),
                "{entity} {field}: {rows:#?}"
            );
        }
    }
    assert_eq!(rows.len(), 6, "{rows:#?}");
}

#[test]
fn a_name_column_outside_a_patient_table_is_no_person_name() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("products.csv");
    std::fs::write(&path, "Name,SKU,Price\nReid Morgan Chair,A-100,99.00\n").unwrap();
    let outcome = scan(&[path.to_str().unwrap()], |_| {});
    assert!(outcome.rows.is_empty(), "{:#?}", outcome.rows);
    // With an MRN column beside it, the same column holds patient names.
    std::fs::write(&path, "Name,MRN,Price\n\"Reid, Morgan\",4455667,99.00\n").unwrap();
    let outcome = scan(&[path.to_str().unwrap()], |_| {});
    assert_eq!(
        outcome.entity("PERSON_NAME").len(),
        1,
        "{:#?}",
        outcome.rows
    );
}

#[test]
fn rules_explain_says_why_each_rule_reported_or_not() {
    let run = |text: &str| {
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
            .args(["rules", "explain", text])
            .output()
            .unwrap();
        (out.status.code(), String::from_utf8(out.stdout).unwrap())
    };
    let (status, out) = run("SSN 078-05-1120");
    assert_eq!(status, Some(0), "{out}");
    assert!(
        out.contains("ssn-formatted (SSN, rules/identifiers.toml:"),
        "{out}"
    );
    assert!(out.contains("  validator ssn: rejected"), "{out}");
    let (status, out) = run("my ssn is 078-051121");
    assert_eq!(status, Some(1), "{out}");
    assert!(out.contains("ssn-misgrouped-with-context (SSN, "), "{out}");
    assert!(out.contains("): REPORTED, HIGH"), "{out}");
    let (_, out) = run("Order 212-555-0147");
    assert!(out.contains("  exclude: \"order\" present"), "{out}");
    let (status, out) = run("nothing here");
    assert_eq!(status, Some(0));
    assert!(out.starts_with("no rule saw this text"), "{out}");
}

#[test]
fn a_custom_entity_has_its_own_label_in_every_report() {
    let dir = tempfile::tempdir().unwrap();
    let rules = dir.path().join("site.toml");
    std::fs::write(&rules, phiscan::rules::EXAMPLE_RULE_FILE).unwrap();
    let data = dir.path().join("data");
    std::fs::create_dir(&data).unwrap();
    std::fs::write(data.join("ledger.txt"), "Patient account: PA-00123456\n").unwrap();
    let out = dir.path().join("out");
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .args([
            "scan",
            "--quiet",
            "--format",
            "csv,jsonl,sarif,html",
            "--output-dir",
        ])
        .arg(&out)
        .arg("--rules")
        .arg(&rules)
        .arg(&data)
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
    let read = |name: &str| std::fs::read_to_string(out.join(name)).unwrap();
    let csv = read("phiscan.csv");
    assert!(
        csv.contains(",PATIENT_ACCOUNT,practice-account,HIGH,"),
        "{csv}"
    );
    // Masked like every other value.
    assert!(!csv.contains("00123456"), "{csv}");
    assert!(read("phiscan.jsonl").contains("\"entity\":\"PATIENT_ACCOUNT\""));
    assert!(read("phiscan.sarif").contains("\"PATIENT_ACCOUNT\""));
    assert!(read("phiscan.html").contains("PATIENT_ACCOUNT"));
}
