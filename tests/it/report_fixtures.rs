//! The report formats on the bundled fixtures (fixtures/share) with the
//! built-in rule pack: every format agrees with the others and with the
//! fixtures' expected findings (tests/expected/share.csv), SARIF is valid
//! against the 2.1.0 schema, no planted value appears in any output, and
//! snapshots pin the exact CSV, JSONL, SARIF and summary. Plus the baseline
//! round trip on a copy of the share.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

const KEY: &str = "fixtures-snapshot-key-0123456789";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn phiscan() -> Command {
    let mut c = Command::cargo_bin("phiscan").unwrap();
    c.current_dir(root())
        .env_remove("PHISCAN_FINGERPRINT_KEY")
        .env("NO_COLOR", "1");
    c
}

/// (path, value) of every finding the fixtures must produce.
fn expected() -> Vec<(String, String)> {
    let mut r = csv::Reader::from_path(root().join("tests/expected/share.csv")).unwrap();
    let h = r.headers().unwrap().clone();
    let col = |n: &str| h.iter().position(|x| x == n).unwrap();
    let (p, v) = (col("path"), col("value"));
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            (rec[p].to_string(), rec[v].to_string())
        })
        .collect()
}

fn zero_elapsed(v: &mut Value) {
    match v {
        Value::Object(m) => {
            if m.contains_key("elapsed_secs") {
                m.insert("elapsed_secs".into(), Value::from(0));
            }
            for time in ["started_at", "ended_at", "startedAt", "endedAt"] {
                if m.contains_key(time) {
                    m.insert(time.into(), Value::from("T"));
                }
            }
            m.values_mut().for_each(zero_elapsed);
        }
        Value::Array(a) => a.iter_mut().for_each(zero_elapsed),
        _ => {}
    }
}

/// Worker order is not deterministic: sort the lists that follow it.
fn sort_array(v: &mut Value) {
    if let Some(a) = v.as_array_mut() {
        a.sort_by_key(|x| x.to_string());
    }
}

#[test]
fn fixture_reports_agree_are_masked_and_match_snapshots() {
    let out_dir = tempfile::tempdir().unwrap();
    let out = out_dir.path();
    let status = phiscan()
        .args([
            "scan",
            "fixtures/share",
            "--format",
            "csv,jsonl,sarif,html",
            "--fingerprint-key",
            KEY,
        ])
        .arg("--output-dir")
        .arg(out.join("r"))
        .arg("--summary-json")
        .arg(out.join("summary.json"))
        .output()
        .unwrap();
    assert_eq!(status.status.code(), Some(1), "{status:?}");
    let expected = expected();

    let csv_text = std::fs::read_to_string(out.join("r/phiscan.csv")).unwrap();
    let mut lines: Vec<&str> = csv_text.lines().collect();
    assert_eq!(
        lines[0],
        "target,path,entity,rule,confidence,line,column,field,match,context,fingerprint"
    );
    lines[1..].sort_unstable();
    let rows = lines.len() - 1;
    assert_eq!(rows, expected.len(), "CSV rows vs tests/expected/share.csv");

    let jsonl = std::fs::read_to_string(out.join("r/phiscan.jsonl")).unwrap();
    let mut findings: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let summary_line = findings.pop().unwrap();
    assert_eq!(summary_line["type"], "summary");
    assert_eq!(findings.len(), rows);

    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("r/phiscan.sarif")).unwrap())
            .unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(root().join("tests/data/sarif-schema-2.1.0.json")).unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{e} at {}", e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");
    assert_eq!(sarif["runs"][0]["results"].as_array().unwrap().len(), rows);

    let summary: Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["total_findings"].as_u64().unwrap() as usize, rows);
    let html = std::fs::read_to_string(out.join("r/phiscan.html")).unwrap();
    assert!(html.contains(&format!(
        "<b id=\"total-findings\" class=\"bad\">{rows}</b>"
    )));

    // No planted value in any output, except where the value is part of a
    // file name (paths are reported as they are).
    let paths: BTreeSet<&str> = expected.iter().map(|(p, _)| p.as_str()).collect();
    for (name, text) in [
        ("csv", &csv_text),
        ("jsonl", &jsonl),
        // Results and notifications; rule descriptions quote public test
        // numbers (4111 1111 1111 1111) on purpose.
        ("sarif results", &sarif["runs"][0]["results"].to_string()),
        (
            "sarif invocations",
            &sarif["runs"][0]["invocations"].to_string(),
        ),
        ("html", &html),
        ("summary", &summary.to_string()),
    ] {
        for (_, value) in &expected {
            if value.len() < 6 || paths.iter().any(|p| p.contains(value.as_str())) {
                continue;
            }
            assert!(!text.contains(value.as_str()), "{name} leaks {value:?}");
        }
    }

    insta::assert_snapshot!("fixtures_csv", lines.join("\n"));
    let mut sorted: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
    sorted.sort();
    insta::assert_snapshot!("fixtures_jsonl", sorted.join("\n"));
    let mut s = summary.clone();
    zero_elapsed(&mut s);
    sort_array(&mut s["not_examined_examples"]);
    insta::assert_json_snapshot!("fixtures_summary", s);
    let mut sarif = sarif;
    zero_elapsed(&mut sarif);
    sort_array(&mut sarif["runs"][0]["results"]);
    sort_array(&mut sarif["runs"][0]["invocations"][0]["toolExecutionNotifications"]);
    sort_array(&mut sarif["runs"][0]["properties"]["summary"]["not_examined_examples"]);
    insta::assert_json_snapshot!("fixtures_sarif", sarif);
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

#[test]
fn fixture_baseline_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    copy_tree(&root().join("fixtures/share"), &d.join("share"));
    let run = |args: &[&str]| {
        let mut c = Command::cargo_bin("phiscan").unwrap();
        c.current_dir(d)
            .env_remove("PHISCAN_FINGERPRINT_KEY")
            .args(args)
            .output()
            .unwrap()
    };
    let first = run(&["scan", "share", "-o", "first.csv", "-q"]);
    assert_eq!(first.status.code(), Some(1));
    let created = run(&["baseline", "create", "first.csv", "-o", "baseline.json"]);
    assert_eq!(created.status.code(), Some(0), "{created:?}");

    let again = run(&[
        "scan",
        "share",
        "--baseline",
        "baseline.json",
        "--summary-json",
        "s.json",
    ]);
    assert_eq!(again.status.code(), Some(0), "{again:?}");
    assert_eq!(
        String::from_utf8_lossy(&again.stdout).lines().count(),
        1,
        "header only"
    );
    let s: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("s.json")).unwrap()).unwrap();
    assert_eq!(s["total_findings"], 0);
    assert_eq!(
        s["total_baselined"].as_u64().unwrap() as usize,
        expected().len()
    );

    std::fs::write(
        d.join("share/intake/new_patient.txt"),
        "New patient intake\nSSN: 219-45-6780\n",
    )
    .unwrap();
    let new = run(&["scan", "share", "--baseline", "baseline.json"]);
    assert_eq!(new.status.code(), Some(1), "{new:?}");
    let stdout = String::from_utf8(new.stdout).unwrap();
    let rows: Vec<&str> = stdout.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert!(
        rows[0].starts_with("share,intake/new_patient.txt,SSN,"),
        "{}",
        rows[0]
    );
    assert!(!stdout.contains("219-45-6780"));
}
