//! Scans `fixtures/formats/health` (written by `cargo run --example
//! gen_health_fixtures`) through the whole pipeline — local walk, format
//! detection, field-aware extractors, matcher, CSV report — and checks every
//! row: path, entity, rule and field, and that no other row appears.

use phiscan::config::ScanConfig;
use phiscan::report::SkipReason;
use std::collections::BTreeMap;
use std::path::Path;

/// Expected rows: a line without indentation names a file (path relative
/// to the fixture folder); the indented lines under it are its rows as
/// `ENTITY | rule | field`, in file order.
const EXPECTED: &str = r#"
ccda/ccd.xml
    SSN | ccda-field | recordTarget/patientRole/id/@extension
    MRN | ccda-field | recordTarget/patientRole/id/@extension
    ADDRESS | ccda-field | recordTarget/patientRole/addr
    PHONE | ccda-field | recordTarget/patientRole/telecom/@value
    PERSON_NAME | ccda-field | recordTarget/patientRole/patient/name
    DOB | ccda-field | recordTarget/patientRole/patient/birthTime/@value
    NPI | ccda-field | author/assignedAuthor/id/@extension
dicom/ct_explicit_le.dcm
    PERSON_NAME | dicom-tag | (0008,0090) ReferringPhysicianName
    PERSON_NAME | dicom-tag | (0010,0010) PatientName
    MRN | dicom-tag | (0010,0020) PatientID
    DOB | dicom-tag | (0010,0030) PatientBirthDate
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    ADDRESS | dicom-tag | (0010,1040) PatientAddress
    PHONE | dicom-tag | (0010,2154) PatientTelephoneNumbers
dicom/mr_implicit_le.dcm
    PERSON_NAME | dicom-tag | (0008,0090) ReferringPhysicianName
    PERSON_NAME | dicom-tag | (0010,0010) PatientName
    MRN | dicom-tag | (0010,0020) PatientID
    DOB | dicom-tag | (0010,0030) PatientBirthDate
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    ADDRESS | dicom-tag | (0010,1040) PatientAddress
    PHONE | dicom-tag | (0010,2154) PatientTelephoneNumbers
dicom/old_no_preamble.dcm
    PERSON_NAME | dicom-tag | (0008,0090) ReferringPhysicianName
    PERSON_NAME | dicom-tag | (0010,0010) PatientName
    MRN | dicom-tag | (0010,0020) PatientID
    DOB | dicom-tag | (0010,0030) PatientBirthDate
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    ADDRESS | dicom-tag | (0010,1040) PatientAddress
    PHONE | dicom-tag | (0010,2154) PatientTelephoneNumbers
dicom/truncated.dcm
    PERSON_NAME | dicom-tag | (0008,0090) ReferringPhysicianName
    PERSON_NAME | dicom-tag | (0010,0010) PatientName
dicom/us_explicit_be.dcm
    PERSON_NAME | dicom-tag | (0008,0090) ReferringPhysicianName
    PERSON_NAME | dicom-tag | (0010,0010) PatientName
    MRN | dicom-tag | (0010,0020) PatientID
    DOB | dicom-tag | (0010,0030) PatientBirthDate
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    MRN | dicom-tag | (0010,1000) OtherPatientIDs
    ADDRESS | dicom-tag | (0010,1040) PatientAddress
    PHONE | dicom-tag | (0010,2154) PatientTelephoneNumbers
hl7/adt_a01.hl7
    MRN | hl7-field | PID-3
    SSN | hl7-field | PID-3
    PERSON_NAME | hl7-field | PID-5
    DOB | hl7-field | PID-7
    ADDRESS | hl7-field | PID-11
    PHONE | hl7-field | PID-13
    PHONE | hl7-field | PID-14
    SSN | hl7-field | PID-19
    PERSON_NAME | hl7-field | NK1-2
    ADDRESS | hl7-field | NK1-4
    PHONE | hl7-field | NK1-5
    PERSON_NAME | hl7-field | GT1-3
    ADDRESS | hl7-field | GT1-5
    PHONE | hl7-field | GT1-6
    DOB | hl7-field | GT1-8
    SSN | hl7-field | GT1-12
hl7/adt_a01.hl7!msg1-OBX(2)-5.txt
    SSN | ssn-formatted |
hl7/adt_lf.hl7
    MRN | hl7-field | PID-3
    SSN | hl7-field | PID-3
    PERSON_NAME | hl7-field | PID-5
    DOB | hl7-field | PID-7
    ADDRESS | hl7-field | PID-11
    PHONE | hl7-field | PID-13
    PHONE | hl7-field | PID-14
    SSN | hl7-field | PID-19
    PERSON_NAME | hl7-field | NK1-2
    ADDRESS | hl7-field | NK1-4
    PHONE | hl7-field | NK1-5
    PERSON_NAME | hl7-field | GT1-3
    ADDRESS | hl7-field | GT1-5
    PHONE | hl7-field | GT1-6
    DOB | hl7-field | GT1-8
    SSN | hl7-field | GT1-12
hl7/adt_lf.hl7!msg1-OBX(2)-5.txt
    SSN | ssn-formatted |
hl7/feed.mllp
    MRN | hl7-field | PID-3
    PERSON_NAME | hl7-field | PID-5
    DOB | hl7-field | PID-7
    SSN | hl7-field | PID-19
    MRN | hl7-field | msg 2 PID-3
    PERSON_NAME | hl7-field | msg 2 PID-5
    DOB | hl7-field | msg 2 PID-7
hl7/oru_batch.hl7
    MRN | hl7-field | PID-3
    PERSON_NAME | hl7-field | PID-5
    DOB | hl7-field | PID-7
    SSN | hl7-field | PID-19
    MRN | hl7-field | msg 2 PID-3
    PERSON_NAME | hl7-field | msg 2 PID-5
    DOB | hl7-field | msg 2 PID-7
    SSN | hl7-field | msg 2 PID-19
    MRN | hl7-field | msg 3 PID-3
    PERSON_NAME | hl7-field | msg 3 PID-5
    DOB | hl7-field | msg 3 PID-7
tabular/labs.tsv
    MRN | csv-column | column "Patient ID" row 2
    PERSON_NAME | csv-column | column "Last Name" row 2
    PERSON_NAME | csv-column | column "First Name" row 2
    DOB | csv-column | column "Birth Date" row 2
    MRN | csv-column | column "Patient ID" row 3
    PERSON_NAME | csv-column | column "Last Name" row 3
    PERSON_NAME | csv-column | column "First Name" row 3
    DOB | csv-column | column "Birth Date" row 3
tabular/patients.csv
    SSN | csv-column | column "ssn" row 2
    DOB | csv-column | column "dob" row 2
    MRN | csv-column | column "mrn" row 2
    NPI | csv-column | column "npi" row 2
    PERSON_NAME | csv-column | column "patient name" row 2
    PHONE | csv-column | column "phone" row 2
    EMAIL | csv-column | column "email" row 2
    SSN | csv-column | column "ssn" row 3
    DOB | csv-column | column "dob" row 3
    MRN | csv-column | column "mrn" row 3
    NPI | csv-column | column "npi" row 3
    PERSON_NAME | csv-column | column "patient name" row 3
    PHONE | csv-column | column "phone" row 3
    EMAIL | csv-column | column "email" row 3
    DOB | csv-column | column "dob" row 4
    MRN | csv-column | column "mrn" row 4
    PERSON_NAME | csv-column | column "patient name" row 4
tabular/roster_export
    PERSON_NAME | csv-column | column "member_name" row 2
    DOB | csv-column | column "date_of_birth" row 2
    PERSON_NAME | csv-column | column "member_name" row 3
    DOB | csv-column | column "date_of_birth" row 3
x12/claim_837p.x12
    PHONE | x12-field | PER*IC/PER04
    EMAIL | x12-field | PER*IC/PER06
    NPI | x12-field | NM1*85/NM109
    PERSON_NAME | x12-field | NM1*IL/NM103
    DOB | x12-field | DMG*D8/DMG02
    SSN | x12-field | REF*SY/REF02
    NPI | x12-field | NM1*82/NM109
x12/eligibility_270_271.edi
    NPI | x12-field | NM1*1P/NM109
    PERSON_NAME | x12-field | NM1*IL/NM103
    MRN | x12-field | REF*EA/REF02
    DOB | x12-field | DMG*D8/DMG02
    PERSON_NAME | x12-field | NM1*IL/NM103
    DOB | x12-field | DMG*D8/DMG02
x12/enroll_834.edi
    PERSON_NAME | x12-field | NM1*IL/NM103
    SSN | x12-field | NM1*IL/NM109
    PHONE | x12-field | PER*IP/PER04
    EMAIL | x12-field | PER*IP/PER06
    DOB | x12-field | DMG*D8/DMG02
x12/remit_835.edi
    NPI | npi | N1*PE/N104
    PERSON_NAME | x12-field | NM1*QC/NM103
    MRN | x12-field | NM1*QC/NM109
    NPI | x12-field | NM1*82/NM109
"#;

fn expected_rows() -> Vec<String> {
    let mut rows = Vec::new();
    let mut path = "";
    for line in EXPECTED.lines().filter(|l| !l.trim().is_empty()) {
        if line.starts_with(' ') {
            rows.push(normalize(&format!("{path} | {}", line.trim())));
        } else {
            path = line.trim();
        }
    }
    rows.sort();
    rows
}

/// `a | b | c | d` with each part trimmed (an empty field stays empty).
fn normalize(row: &str) -> String {
    row.split('|')
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" | ")
}

struct Report {
    rows: Vec<String>,
    text: String,
    summary: phiscan::report::Summary,
}

fn scan_fixtures() -> Report {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/health");
    let out = tempfile::tempdir().expect("temp dir");
    let report = out.path().join("report.csv");
    let config = ScanConfig {
        targets: vec![dir.display().to_string().into()],
        output: Some(report.clone()),
        quiet: true,
        ..ScanConfig::default()
    };
    let summary = phiscan::scan::run(&config).expect("scan runs");
    let text = std::fs::read_to_string(&report).expect("report written");
    let mut reader = csv::Reader::from_reader(text.as_bytes());
    let headers = reader.headers().expect("header row").clone();
    let col = |name: &str| {
        headers
            .iter()
            .position(|h| h == name)
            .unwrap_or_else(|| panic!("no {name} column"))
    };
    let (path, entity, rule, field) = (col("path"), col("entity"), col("rule"), col("field"));
    let mut rows: Vec<String> = reader
        .records()
        .map(|r| {
            let r = r.expect("well-formed CSV row");
            format!(
                "{} | {} | {} | {}",
                &r[path], &r[entity], &r[rule], &r[field]
            )
        })
        .collect();
    rows.sort();
    Report {
        rows,
        text,
        summary,
    }
}

#[test]
fn every_expected_row_and_nothing_else() {
    let report = scan_fixtures();
    let expected = expected_rows();
    let count = |rows: &[String]| {
        let mut m: BTreeMap<String, i64> = BTreeMap::new();
        for r in rows {
            *m.entry(r.clone()).or_default() += 1;
        }
        m
    };
    let (got, want) = (count(&report.rows), count(&expected));
    let missing: Vec<_> = want
        .iter()
        .filter(|(k, n)| got.get(*k).copied().unwrap_or(0) < **n)
        .map(|(k, _)| k)
        .collect();
    let unexpected: Vec<_> = got
        .iter()
        .filter(|(k, n)| want.get(*k).copied().unwrap_or(0) < **n)
        .map(|(k, _)| k)
        .collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing rows: {missing:#?}\nunexpected rows: {unexpected:#?}"
    );
}

#[test]
fn malformed_files_are_reported_not_examined_with_reasons() {
    let report = scan_fixtures();
    let mut skipped: Vec<(String, SkipReason, String)> = report
        .summary
        .not_examined_examples
        .iter()
        .map(|e| (e.path.clone(), e.reason, e.detail.clone()))
        .collect();
    skipped.sort();
    let paths: Vec<(&str, SkipReason)> = skipped.iter().map(|(p, r, _)| (p.as_str(), *r)).collect();
    assert_eq!(
        paths,
        vec![
            ("dicom/truncated.dcm", SkipReason::Corrupt),
            ("hl7/bad_no_msh2.hl7", SkipReason::Corrupt),
            ("x12/short_isa.x12", SkipReason::Corrupt),
        ]
    );
    assert!(skipped[0].2.contains("(0010,0020)"), "{}", skipped[0].2);
    assert!(skipped[1].2.contains("MSH-2"), "{}", skipped[1].2);
    assert!(skipped[2].2.contains("ISA"), "{}", skipped[2].2);
    // Every other file was read.
    assert_eq!(report.summary.files_scanned, 18);
}

#[test]
fn values_are_masked_in_the_report() {
    let report = scan_fixtures();
    for raw in [
        "412-56-7890",
        "MRN00442211",
        "19430501",
        "1987654328",
        "EVERYMAN",
    ] {
        assert!(!report.text.contains(raw), "{raw} appears unmasked");
    }
}

/// Deterministic mutations of every fixture (bit flips, cuts, inserted and
/// duplicated bytes) go through detection and extraction: no panic, and
/// each one ends as scanned or not examined — never silently lost.
#[test]
fn mutated_fixtures_never_panic_and_are_accounted_for() {
    use phiscan::report::Event;
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/formats/health");
    let engine = phiscan::plan::build_engine(&ScanConfig::default()).expect("rules load");
    let target: std::sync::Arc<str> = "mutations".into();
    let mut seed: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    let mut files: Vec<_> = walk(&dir);
    files.sort();
    assert!(files.len() >= 19, "fixtures missing: run the generator");
    for file in files {
        let original = std::fs::read(&file).expect("fixture readable");
        for round in 0..60 {
            let mut bytes = original.clone();
            for _ in 0..=(next() % 4) {
                let len = bytes.len().max(1) as u64;
                let at = (next() % len) as usize;
                match next() % 5 {
                    0 => bytes.truncate(at),
                    1 => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b ^= 1 << (next() % 8);
                        }
                    }
                    2 => bytes.insert(at.min(bytes.len()), next() as u8),
                    3 => {
                        let end = (at + (next() % 64) as usize).min(bytes.len());
                        let chunk = bytes[at.min(end)..end].to_vec();
                        bytes.splice(at.min(end)..at.min(end), chunk);
                    }
                    _ => {
                        if let Some(b) = bytes.get_mut(at) {
                            *b = [0x00, 0xFF, b'|', b'^', b'~', b'*', b'\r', b'<']
                                [(next() % 8) as usize];
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
            assert!(
                ended,
                "{} round {round}: no outcome reported",
                file.display()
            );
        }
    }
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).expect("fixture dir") {
        let path = entry.expect("entry").path();
        if path.is_dir() {
            out.extend(walk(&path));
        } else {
            out.push(path);
        }
    }
    out
}
