//! End-to-end tests of the auditor/CI features, running the built binary on
//! a small synthetic share this test writes itself, with its own rule pack
//! (so the results do not move when the built-in pack changes): the four
//! report formats and their agreement, the SARIF schema, snapshots,
//! fingerprints, the baseline round trip, allowlists, the config file.

use assert_cmd::Command;
use serde_json::Value;
use std::collections::BTreeSet;
use std::path::Path;

const KEY: &str = "report-test-key-0123456789";

/// A test rule pack: plain patterns, no validators or context.
const RULES: &str = r#"
[[rules]]
id = "test.ssn"
entity = "SSN"
description = "Dashed SSN (test pack). Three, two and four digits."
pattern = '\b(?P<value>\d{3}-\d{2}-\d{4})\b'
confidence = "HIGH"

[[rules]]
id = "test.email"
entity = "EMAIL"
description = "E-mail address (test pack)."
pattern = '\b(?P<value>[a-z0-9._-]+@[a-z0-9.-]+\.[a-z]{2,})\b'
keywords = ["@"]
confidence = "MEDIUM"
"#;

/// Raw values planted in the share: none may appear in a masked report.
const RAW: [&str; 5] = [
    "219-45-6780",
    "457-55-5462",
    "536-22-1234",
    "jane.doe",
    "r.roe",
];

fn write(root: &Path, rel: &str, content: &[u8]) {
    let p = root.join(rel);
    std::fs::create_dir_all(p.parent().unwrap()).unwrap();
    std::fs::write(p, content).unwrap();
}

const FILLER: &str = "-- filler that keeps the values apart from each other --";

/// `dir/share` (3 SSNs, 2 e-mails, a clean file, a binary) and `dir/rules.toml`.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    // Values are kept more than 40 characters apart, so that each context
    // snippet holds only its own (masked) value.
    write(
        &share,
        "hr/staff.txt",
        format!("name,ssn\nJane Doe,219-45-6780\n{FILLER}\nRichard Roe,457-55-5462\n").as_bytes(),
    );
    write(
        &share,
        "hr/contacts.txt",
        format!("jane.doe@example.org\n{FILLER}\nr.roe@clinic.test\n").as_bytes(),
    );
    write(
        &share,
        "notes/visit <1>.txt",
        b"Visit notes\n\nPatient SSN 536-22-1234 confirmed.\n",
    );
    write(&share, "clean.txt", b"nothing to see here\n");
    write(
        &share,
        "blob.bin",
        &[0u8, 159, 146, 150, 0, 0, 1, 2, 3, 0, 255],
    );
    std::fs::write(dir.path().join("rules.toml"), RULES).unwrap();
    dir
}

fn phiscan(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("phiscan").unwrap();
    c.current_dir(dir)
        .env_remove("PHISCAN_FINGERPRINT_KEY")
        .env("NO_COLOR", "1");
    c
}

/// `phiscan scan` with the test pack on `share`, plus `extra` arguments.
fn scan(dir: &Path, extra: &[&str]) -> std::process::Output {
    let mut c = phiscan(dir);
    c.args([
        "scan",
        "--no-default-rules",
        "--rules",
        "rules.toml",
        "--threads",
        "1",
    ])
    .args(extra);
    if !extra
        .iter()
        .any(|a| *a == "share" || a.starts_with("share/"))
    {
        c.arg("share");
    }
    c.output().unwrap()
}

fn read_csv(path: &Path) -> (Vec<String>, Vec<Vec<String>>) {
    let mut r = csv::Reader::from_path(path).unwrap();
    let header = r.headers().unwrap().iter().map(str::to_string).collect();
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    rows.sort();
    (header, rows)
}

fn csv_rows_from_stdout(out: &[u8]) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_reader(out);
    let mut rows: Vec<Vec<String>> = r
        .records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect();
    rows.sort();
    rows
}

fn summary(path: &Path) -> Value {
    serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// Elapsed time varies between runs: zeroed for snapshots.
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

fn assert_no_raw_values(name: &str, text: &str) {
    for raw in RAW {
        assert!(!text.contains(raw), "{name} contains the raw value {raw}");
    }
}

#[test]
fn all_formats_agree_are_masked_and_match_snapshots() {
    let dir = setup();
    let d = dir.path();
    let out = scan(
        d,
        &[
            "--format",
            "csv,jsonl",
            "--format",
            "sarif,html",
            "--output-dir",
            "out",
            "--summary-json",
            "out/summary.json",
            "--fingerprint-key",
            KEY,
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");

    // CSV: the contract's ten columns, then the fingerprint.
    let (header, rows) = read_csv(&d.join("out/phiscan.csv"));
    assert_eq!(
        header,
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
    assert_eq!(rows.len(), 5, "{rows:?}");
    let ssn_paths: Vec<(&str, &str)> = rows
        .iter()
        .filter(|r| r[2] == "SSN")
        .map(|r| (r[1].as_str(), r[5].as_str()))
        .collect();
    assert_eq!(
        ssn_paths,
        [
            ("hr/staff.txt", "2"),
            ("hr/staff.txt", "4"),
            ("notes/visit <1>.txt", "3")
        ]
    );
    let fingerprints: BTreeSet<&str> = rows.iter().map(|r| r[10].as_str()).collect();
    assert_eq!(fingerprints.len(), 5, "fingerprints must differ");
    assert!(fingerprints
        .iter()
        .all(|f| f.starts_with("v1:") && f.len() == 35));

    // JSONL: the same rows, field by field, then the summary.
    let jsonl = std::fs::read_to_string(d.join("out/phiscan.jsonl")).unwrap();
    let lines: Vec<Value> = jsonl
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let (findings, tail) = lines.split_at(lines.len() - 1);
    assert_eq!(tail[0]["type"], "summary");
    let mut from_json: Vec<Vec<String>> = findings
        .iter()
        .map(|f| {
            assert_eq!(f["type"], "finding");
            header
                .iter()
                .map(|k| match &f[k.as_str()] {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.to_string(),
                    other => panic!("{k}: {other}"),
                })
                .collect()
        })
        .collect();
    from_json.sort();
    assert_eq!(from_json, rows);

    // SARIF: valid against the 2.1.0 schema; one result per row.
    let sarif: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("out/phiscan.sarif")).unwrap())
            .unwrap();
    let schema: Value = serde_json::from_str(
        &std::fs::read_to_string(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/sarif-schema-2.1.0.json"),
        )
        .unwrap(),
    )
    .unwrap();
    let validator = jsonschema::validator_for(&schema).unwrap();
    let errors: Vec<String> = validator
        .iter_errors(&sarif)
        .map(|e| format!("{} at {}", e, e.instance_path))
        .collect();
    assert!(errors.is_empty(), "SARIF schema errors: {errors:#?}");
    let results = sarif["runs"][0]["results"].as_array().unwrap();
    assert_eq!(results.len(), rows.len());
    let sarif_fps: BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["partialFingerprints"]["phiscanFingerprint/v1"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(sarif_fps, fingerprints);
    let uris: BTreeSet<&str> = results
        .iter()
        .map(|r| {
            r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"]
                .as_str()
                .unwrap()
        })
        .collect();
    assert_eq!(
        uris,
        BTreeSet::from([
            "share/hr/contacts.txt",
            "share/hr/staff.txt",
            "share/notes/visit%20%3C1%3E.txt"
        ])
    );
    let rule_ids: Vec<&str> = sarif["runs"][0]["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    assert_eq!(rule_ids, ["test.ssn", "test.email"]);

    // Summary file: counts that match the report.
    let s = summary(&d.join("out/summary.json"));
    assert_eq!(s["total_findings"], 5);
    assert_eq!(s["findings_by_entity"]["SSN"], 3);
    assert_eq!(s["findings_by_entity"]["EMAIL"], 2);
    assert_eq!(s["findings_by_confidence"]["HIGH"], 3);
    assert_eq!(s["targets"]["share"]["findings"], 5);
    assert_eq!(
        s["files_scanned"], 5,
        "the binary file is read, then skipped"
    );
    assert_eq!(s["not_examined"]["binary"], 1);
    assert_eq!(s["incomplete"], false);
    assert!(s["elapsed_secs"].as_f64().unwrap() > 0.0);

    // HTML: the numbers shown are the report's.
    let html = std::fs::read_to_string(d.join("out/phiscan.html")).unwrap();
    assert!(html.contains("<b id=\"total-findings\" class=\"bad\">5</b>"));
    assert!(html.contains("<b id=\"files-scanned\">5</b>"));
    assert!(html.contains("<g data-label=\"SSN\" data-count=\"3\">"));
    assert!(html.contains("<g data-label=\"share/hr\" data-count=\"4\">"));
    assert!(html.contains("notes/visit &lt;1&gt;.txt"));
    assert_eq!(html.matches("<tr data-entity=").count(), 5);

    // Nothing unmasked anywhere; no key either.
    for f in [
        "phiscan.csv",
        "phiscan.jsonl",
        "phiscan.sarif",
        "phiscan.html",
        "summary.json",
    ] {
        let text = std::fs::read_to_string(d.join("out").join(f)).unwrap();
        assert_no_raw_values(f, &text);
        assert!(!text.contains(KEY), "{f} contains the fingerprint key");
    }
    // A given key is not written anywhere.
    assert!(!d.join("out.key").exists());

    // Snapshots (rows sorted: worker order is not deterministic).
    // The CSV file itself, its rows sorted.
    let csv_file = std::fs::read_to_string(d.join("out/phiscan.csv")).unwrap();
    let mut csv_lines: Vec<&str> = csv_file.lines().collect();
    csv_lines[1..].sort_unstable();
    let csv_text = csv_lines.join("\n");
    insta::assert_snapshot!("csv_rows", csv_text);
    let mut sorted_findings: Vec<String> = findings.iter().map(|f| f.to_string()).collect();
    sorted_findings.sort();
    insta::assert_snapshot!("jsonl_findings", sorted_findings.join("\n"));
    let mut summary_json = s.clone();
    zero_elapsed(&mut summary_json);
    insta::assert_json_snapshot!("summary", summary_json);
    let mut sarif_sorted = sarif.clone();
    zero_elapsed(&mut sarif_sorted);
    if let Some(results) = sarif_sorted["runs"][0]["results"].as_array_mut() {
        results.sort_by_key(|r| r.to_string());
    }
    insta::assert_json_snapshot!("sarif", sarif_sorted);
}

#[test]
fn fingerprints_survive_line_shifts_and_reruns() {
    let dir = setup();
    let d = dir.path();
    let fps = |d: &Path| -> BTreeSet<(String, String)> {
        let out = scan(d, &["--fingerprint-key", KEY]);
        csv_rows_from_stdout(&out.stdout)
            .into_iter()
            .map(|r| (r[1].clone(), r[10].clone()))
            .collect()
    };
    let before = fps(d);
    assert_eq!(before, fps(d), "same run twice: same fingerprints");
    let staff = d.join("share/hr/staff.txt");
    let text = std::fs::read_to_string(&staff).unwrap();
    std::fs::write(&staff, format!("# exported\n# by hr\n\n{text}")).unwrap();
    let out = scan(d, &["--fingerprint-key", KEY]);
    let rows = csv_rows_from_stdout(&out.stdout);
    assert!(rows.iter().any(|r| r[1] == "hr/staff.txt" && r[5] == "5"));
    let after: BTreeSet<(String, String)> = rows
        .into_iter()
        .map(|r| (r[1].clone(), r[10].clone()))
        .collect();
    assert_eq!(before, after, "line shifts must not change fingerprints");
    // Another key: other fingerprints.
    let out = scan(d, &["--fingerprint-key", "a-different-key-0123456789"]);
    let other: BTreeSet<(String, String)> = csv_rows_from_stdout(&out.stdout)
        .into_iter()
        .map(|r| (r[1].clone(), r[10].clone()))
        .collect();
    assert!(before.is_disjoint(&other));
}

#[test]
fn baseline_round_trip() {
    let dir = setup();
    let d = dir.path();
    // First scan without a key: one is generated and kept beside the report.
    let out = scan(d, &["-o", "first.csv", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    let key_file = d.join("first.csv.key");
    let key = std::fs::read_to_string(&key_file).unwrap();
    assert_eq!(key.trim().len(), 64);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key_file).unwrap().permissions().mode();
        assert_eq!(mode & 0o077, 0, "key file readable by others: {mode:o}");
    }
    let (_, first_rows) = read_csv(&d.join("first.csv"));
    assert_eq!(first_rows.len(), 5);

    let out = phiscan(d)
        .args(["baseline", "create", "first.csv", "-o", "baseline.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let baseline: Value =
        serde_json::from_str(&std::fs::read_to_string(d.join("baseline.json")).unwrap()).unwrap();
    assert_eq!(baseline["findings"].as_array().unwrap().len(), 5);
    assert_eq!(baseline["key"].as_str().unwrap(), key.trim());
    assert_no_raw_values("baseline", &baseline.to_string());

    // Rescan with the baseline: nothing new, exit 0, all counted as baselined.
    let out = scan(
        d,
        &["--baseline", "baseline.json", "--summary-json", "s1.json"],
    );
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    assert!(csv_rows_from_stdout(&out.stdout).is_empty());
    let s = summary(&d.join("s1.json"));
    assert_eq!(s["total_findings"], 0);
    assert_eq!(s["total_baselined"], 5);
    assert_eq!(s["baselined_by_entity"]["SSN"], 3);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("baselined 5"), "{stderr}");

    // A new file with an SSN: exactly that finding, exit 1.
    write(
        &d.join("share"),
        "new/intake.txt",
        b"intake form\nssn 612-70-3349\n",
    );
    let out = scan(
        d,
        &["--baseline", "baseline.json", "--summary-json", "s2.json"],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rows = csv_rows_from_stdout(&out.stdout);
    assert_eq!(rows.len(), 1, "{rows:?}");
    assert_eq!(rows[0][1], "new/intake.txt");
    assert_eq!(rows[0][2], "SSN");
    assert_eq!(rows[0][5], "2");
    let s = summary(&d.join("s2.json"));
    assert_eq!(s["total_findings"], 1);
    assert_eq!(s["total_baselined"], 5);

    // With --output-dir, a generated key goes beside the folder, not in it
    // (report folders get uploaded), and baseline create finds it there.
    let out = scan(d, &["--format", "csv,html", "--output-dir", "o2", "-q"]);
    assert_eq!(out.status.code(), Some(1));
    assert!(d.join("o2.key").is_file());
    let in_dir: Vec<String> = std::fs::read_dir(d.join("o2"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(in_dir.iter().all(|n| !n.contains("key")), "{in_dir:?}");
    let out = phiscan(d)
        .args(["baseline", "create", "o2/phiscan.csv", "-o", "b3.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");

    // A key that is not the baseline's is a configuration error.
    let out = scan(
        d,
        &[
            "--baseline",
            "baseline.json",
            "--fingerprint-key",
            "not-the-baseline-key-123",
        ],
    );
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("baseline was made with fingerprint key"),
        "{stderr}"
    );
    assert!(
        !stderr.contains("not-the-baseline-key-123"),
        "key echoed: {stderr}"
    );

    // A baseline created with a key from the environment does not store it.
    let out = scan(
        d,
        &[
            "--format",
            "jsonl",
            "-o",
            "r.jsonl",
            "--fingerprint-key",
            KEY,
        ],
    );
    assert_eq!(out.status.code(), Some(1));
    let out = phiscan(d)
        .env("PHISCAN_FINGERPRINT_KEY", KEY)
        .args(["baseline", "create", "r.jsonl", "-o", "b2.json"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let b2 = std::fs::read_to_string(d.join("b2.json")).unwrap();
    assert!(!b2.contains(KEY));
    let out = phiscan(d)
        .env("PHISCAN_FINGERPRINT_KEY", KEY)
        .args([
            "scan",
            "--no-default-rules",
            "--rules",
            "rules.toml",
            "--baseline",
            "b2.json",
            "share",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    // Without the key, that baseline cannot be used.
    let out = scan(d, &["--baseline", "b2.json"]);
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn allowlists_by_path_value_and_regex() {
    let dir = setup();
    let d = dir.path();
    // The value fingerprint of one SSN, from `phiscan fingerprint`.
    let out = phiscan(d)
        .args(["fingerprint", "--fingerprint-key", KEY])
        .write_stdin("457-55-5462\n")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let value_fp = String::from_utf8(out.stdout).unwrap().trim().to_string();
    assert!(
        value_fp.starts_with("v1:") && value_fp.len() == 35,
        "{value_fp}"
    );

    // Config file: by path and by value.
    std::fs::write(
        d.join("allow.toml"),
        format!(
            "[[allow]]\nname = \"notes folder\"\npaths = [\"notes/**\"]\n\n\
             [[allow]]\nname = \"known sample\"\nrules = [\"test.ssn\"]\nvalues = [\"{value_fp}\"]\n"
        ),
    )
    .unwrap();
    // Rule pack: by regex on the match (unmasked here, so the test does not
    // depend on what masking keeps).
    std::fs::write(
        d.join("rules.toml"),
        format!(
            "{RULES}\n[[allow]]\nname = \"example domain\"\nrules = [\"test.email\"]\nmatches = ['@example\\.org$']\n"
        ),
    )
    .unwrap();
    let out = scan(
        d,
        &[
            "--config",
            "allow.toml",
            "--fingerprint-key",
            KEY,
            "--unmask",
            "--summary-json",
            "s.json",
        ],
    );
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let rows = csv_rows_from_stdout(&out.stdout);
    let kept: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[1].as_str(), r[3].as_str(), r[8].as_str()))
        .collect();
    assert_eq!(
        kept,
        [
            ("hr/contacts.txt", "test.email", "r.roe@clinic.test"),
            ("hr/staff.txt", "test.ssn", "219-45-6780"),
        ]
    );
    let s = summary(&d.join("s.json"));
    assert_eq!(s["total_findings"], 2);
    assert_eq!(s["total_allowed"], 3);
    assert_eq!(s["allowed_by"]["notes folder"], 1);
    assert_eq!(s["allowed_by"]["known sample"], 1);
    assert_eq!(s["allowed_by"]["example domain"], 1);

    // Plain values in an allowlist are refused (exit 2), without echoing them.
    std::fs::write(
        d.join("bad.toml"),
        "[[allow]]\nvalues = [\"219-45-6780\"]\n",
    )
    .unwrap();
    let out = scan(d, &["--config", "bad.toml"]);
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not a value fingerprint"), "{stderr}");
    assert!(!stderr.contains("219-45-6780"), "{stderr}");
}

#[test]
fn config_file_is_found_and_flags_override_it() {
    let dir = setup();
    let d = dir.path();
    // Only e-mails (MEDIUM) in this share.
    let only_mail = d.join("mail");
    write(&only_mail, "a.txt", b"write to r.roe@clinic.test\n");
    std::fs::write(
        d.join("phiscan.toml"),
        "targets = [\"mail\"]\nrules = [\"rules.toml\"]\ndefault_rules = false\n\
         fail_on = \"HIGH\"\nformats = [\"jsonl\"]\n",
    )
    .unwrap();
    // From the file: JSONL, fail_on HIGH → a MEDIUM finding exits 0.
    let out = phiscan(d).args(["scan", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8(out.stdout).unwrap();
    let first: Value = serde_json::from_str(stdout.lines().next().unwrap()).unwrap();
    assert_eq!(first["type"], "finding");
    assert_eq!(first["target"], "mail");
    // Flags win: --fail-on MEDIUM → exit 1; --format csv → CSV.
    let out = phiscan(d)
        .args(["scan", "-q", "--fail-on", "MEDIUM", "--format", "csv"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).starts_with("target,path,entity,"));
    // A target on the command line replaces the file's targets.
    let out = phiscan(d).args(["scan", "-q", "share"]).output().unwrap();
    assert_eq!(out.status.code(), Some(1), "SSNs are HIGH");
    // A broken config file: exit 2, naming the file and line.
    std::fs::write(
        d.join("broken.toml"),
        "targets = [\"mail\"]\nfail_onn = \"LOW\"\n",
    )
    .unwrap();
    let out = phiscan(d)
        .args(["scan", "--config", "broken.toml"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("broken.toml") && stderr.contains("line 2"),
        "{stderr}"
    );
}

#[test]
fn init_completions_and_man() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let out = phiscan(d).arg("init").output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = std::fs::read_to_string(d.join("phiscan.toml")).unwrap();
    assert!(text.contains("[[allow]]") && text.contains("fail_on"));
    // Not overwritten without --force.
    assert_eq!(
        phiscan(d).arg("init").output().unwrap().status.code(),
        Some(2)
    );
    // The example is a valid config: a scan using it gets as far as its
    // (missing) target.
    let out = phiscan(d).args(["scan", "-q"]).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("mirror"));

    let out = phiscan(d).args(["completions", "bash"]).output().unwrap();
    let script = String::from_utf8(out.stdout).unwrap();
    assert!(script.contains("_phiscan") && script.contains("--fingerprint-key"));
    let out = phiscan(d).arg("man").output().unwrap();
    let man = String::from_utf8(out.stdout).unwrap();
    assert!(man.starts_with(".ie") || man.contains(".TH"), "{man}");
    let out = phiscan(d).args(["scan", "--help"]).output().unwrap();
    let help = String::from_utf8(out.stdout).unwrap();
    for needle in ["Administrator", "Auditor", "CI job", "Exit status"] {
        assert!(help.contains(needle), "--help lacks {needle}");
    }
}

#[test]
fn quiet_means_no_progress_and_no_summary_and_no_colors_without_terminal() {
    let dir = setup();
    let out = scan(dir.path(), &["-q"]);
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = scan(dir.path(), &[]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("findings: 5"));
    assert!(!stderr.contains('\x1b'), "colors on a pipe: {stderr:?}");
}
