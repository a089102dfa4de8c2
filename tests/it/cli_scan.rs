//! The `phiscan` binary on the synthetic share in `fixtures/share`.
//!
//! The expected findings (`tests/expected/share.csv`) are written by
//! `fixtures/generate.py` from the values it deliberately planted, with
//! their positions; every other line of the fixtures is a hard negative that
//! must produce no row.

use assert_cmd::Command;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// The CSV contract's columns; issue 5 appended `fingerprint`.
const HEADER: &str =
    "target,path,entity,rule,confidence,line,column,field,match,context,fingerprint";

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn share() -> PathBuf {
    root().join("fixtures/share")
}

fn phiscan() -> Command {
    let mut c = Command::cargo_bin("phiscan").expect("the phiscan binary is built");
    // A fixed fingerprint key, so that two runs' reports compare equal
    // (without one, each scan generates its own).
    c.env("PHISCAN_FINGERPRINT_KEY", "cli-scan-test-key-0123456789");
    c
}

/// A planted value: where it is and what must be reported for it.
#[derive(Clone, Debug)]
struct Planted {
    path: String,
    entity: String,
    rule: String,
    confidence: String,
    line: String,
    column: String,
    field: String,
    value: String,
}

fn planted() -> Vec<Planted> {
    let mut reader = csv::Reader::from_path(root().join("tests/expected/share.csv"))
        .expect("tests/expected/share.csv (run fixtures/generate.py)");
    reader
        .records()
        .map(|r| {
            let r = r.expect("expected CSV row");
            let f = |i: usize| r.get(i).unwrap_or_default().to_string();
            Planted {
                path: f(0),
                entity: f(1),
                rule: f(2),
                confidence: f(3),
                line: f(4),
                column: f(5),
                field: f(6),
                value: f(7),
            }
        })
        .collect()
}

/// Runs `phiscan scan ARGS`, returns (exit code, CSV rows, stderr).
fn scan(args: &[&str]) -> (i32, Vec<Vec<String>>, String) {
    let out = phiscan()
        .arg("scan")
        .args(args)
        .output()
        .expect("run phiscan");
    let stdout = String::from_utf8(out.stdout).expect("report is UTF-8");
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    let mut rows = Vec::new();
    if !stdout.is_empty() {
        assert_eq!(
            stdout.lines().next(),
            Some(HEADER),
            "header; stderr: {stderr}"
        );
        let mut reader = csv::Reader::from_reader(stdout.as_bytes());
        for r in reader.records() {
            let r = r.expect("valid CSV");
            assert_eq!(r.len(), 11, "{r:?}");
            rows.push(r.iter().map(str::to_string).collect());
        }
    }
    rows.sort();
    (out.status.code().unwrap_or(-1), rows, stderr)
}

fn share_arg() -> String {
    share().to_string_lossy().into_owned()
}

/// The report's columns other than `match` and `context`, plus `match`.
fn key(row: &[String]) -> Vec<String> {
    row[..9].to_vec()
}

#[test]
fn unmasked_rows_are_exactly_the_planted_values() {
    let target = share_arg();
    let (code, rows, stderr) = scan(&["--unmask", &target]);
    assert_eq!(code, 1, "findings make the exit status 1; stderr: {stderr}");
    let got: BTreeSet<Vec<String>> = rows.iter().map(|r| key(r)).collect();
    assert_eq!(got.len(), rows.len(), "duplicate rows: {rows:#?}");
    let want: BTreeSet<Vec<String>> = planted()
        .into_iter()
        .map(|p| {
            vec![
                target.clone(),
                p.path,
                p.entity,
                p.rule,
                p.confidence,
                p.line,
                p.column,
                p.field,
                p.value,
            ]
        })
        .collect();
    let missing: Vec<_> = want.difference(&got).collect();
    let unexpected: Vec<_> = got.difference(&want).collect();
    assert!(
        missing.is_empty() && unexpected.is_empty(),
        "missing: {missing:#?}\nunexpected: {unexpected:#?}"
    );
}

#[test]
fn masked_report_keeps_only_what_identifies_nobody() {
    let target = share_arg();
    let (code, rows, _) = scan(&[&target]);
    assert_eq!(code, 1);
    // Which rows there are is `unmasked_rows_are_exactly_the_planted_values`'
    // business; this test checks how they are written.
    let expected = planted();
    // Match and context are masked, and so are values in paths (a file
    // named after a patient is found again with `?` for each `*`).
    let stdout: String = rows
        .iter()
        .map(|r| r.join(","))
        .collect::<Vec<_>>()
        .join("\n");
    for p in &expected {
        // Raw values never appear (a DOB's year alone or an e-mail domain
        // may; the whole value may not).
        assert!(
            !stdout.contains(&p.value),
            "raw value {:?} leaked into the masked report",
            p.value
        );
    }
    let find = |path: &str, rule: &str, line: &str| -> &Vec<String> {
        rows.iter()
            .find(|r| r[1] == path && r[3] == rule && r[5] == line)
            .unwrap_or_else(|| panic!("no {rule} row at {path}:{line} in {rows:#?}"))
    };
    let note = "clinical/notes/visit_note_2024-03-04.txt";
    let ssn = find(note, "ssn-formatted", "4");
    assert_eq!(ssn[8], "***-**-7890");
    assert_eq!(
        ssn[9],
        "B: **/**/****        MRN: ********\\nSSN: ***-**-7890\\nVisit date: **/**/****    Next appointm"
    );
    assert_eq!(find(note, "dob-numeric", "3")[8], "**/**/1980");
    assert_eq!(find(note, "email", "6")[8], "********@example.com");
    assert_eq!(find(note, "phone-nanp", "6")[8], "(***) ***-0147");
    assert_eq!(find(note, "npi", "8")[8], "**********");
    assert_eq!(find(note, "dea", "8")[8], "*********");
    assert_eq!(find(note, "mbi", "7")[8], "***********");
    assert_eq!(find(note, "mrn-labeled", "3")[8], "********");
    let utf16 = "exports/patient_list_utf16le.txt";
    assert_eq!(find(utf16, "dob-month-name", "2")[8], "******* *, 1980");
    assert_eq!(find(utf16, "dob-month-name", "3")[8], "* *** 1980");
    assert_eq!(
        find("billing/payments.txt", "credit-card-grouped", "3")[8],
        "**** **** **** 1111"
    );
    assert_eq!(
        find("referrals/referral_latin1.txt", "mbi", "4")[8],
        "****-***-****"
    );
    // CRLF shown as \r\n; a number cut by the snippet's edge is masked.
    let intake = find("intake/intake_form_crlf.txt", "phone-nanp", "4");
    assert_eq!(intake[8], "***-***-0188");
    assert_eq!(
        intake[9],
        "\\nDate of Birth: **/**/****\\r\\nHome phone: ***-***-0188\\r\\nCell: **********\\r\\nSocial Security: ***"
    );
    // Windows-1252 text decoded: accents intact, columns in characters;
    // the neighbouring birth date is masked as a finding of its own.
    let latin1 = find("referrals/referral_latin1.txt", "mrn-labeled", "2");
    assert_eq!(latin1[6], "32");
    assert_eq!(latin1[8], "**-******");
    assert_eq!(
        latin1[9],
        "ws-****)\\nPatient: José Peña Núñez, MRN: **-******\\nDate of birth: ** ******** ****\\nMedicar"
    );
    // The file name is a finding of its own, and its path is masked like
    // its match.
    let name = find("scans/SMITH_JOHN_DOB_1980-**-**.txt", "dob-numeric", "1");
    assert_eq!(name[7], "path");
    assert_eq!(name[8], "1980-**-**");
    assert_eq!(name[9], "SMITH JOHN DOB 1980-**-**.txt");
}

#[test]
fn unmask_writes_values_and_context_as_found() {
    let note = share().join("clinical/notes/visit_note_2024-03-04.txt");
    let (code, rows, _) = scan(&["--unmask", &note.to_string_lossy()]);
    assert_eq!(code, 1);
    let ssn = rows
        .iter()
        .find(|r| r[3] == "ssn-formatted")
        .expect("SSN row");
    // A file target's path is its name.
    assert_eq!(ssn[1], "visit_note_2024-03-04.txt");
    assert_eq!(ssn[8], "512-34-7890");
    assert_eq!(
        ssn[9],
        "B: 01/02/1980        MRN: 00123456\\nSSN: 512-34-7890\\nVisit date: 03/04/2024    Next appointm"
    );
}

#[test]
fn summary_counts_files_skips_and_findings() {
    let (code, rows, stderr) = scan(&[&share_arg()]);
    assert_eq!(code, 1);
    let files = walk_files(&share());
    assert!(
        stderr.contains(&format!("files scanned: {}", files.len())),
        "{stderr}"
    );
    let bytes: u64 = files
        .iter()
        .map(|f| std::fs::metadata(f).unwrap().len())
        .sum();
    assert!(stderr.contains(&format!("bytes read: {bytes}")), "{stderr}");
    assert!(stderr.contains("truncated by --max-bytes: 0"), "{stderr}");
    // The PNG (1×1 pixel) is an image too small to hold a line of text:
    // looked at, nothing to read, engine or not.
    assert!(stderr.contains("not examined: 0"), "{stderr}");
    // The summary agrees with the report it ends.
    let mut by_entity: std::collections::BTreeMap<String, usize> = Default::default();
    for r in &rows {
        *by_entity.entry(r[2].clone()).or_default() += 1;
    }
    assert!(by_entity.len() >= 9, "{by_entity:?}");
    assert!(
        stderr.contains(&format!("findings: {}", rows.len())),
        "{stderr}"
    );
    for (entity, n) in by_entity {
        assert!(
            stderr.contains(&format!("{entity}={n}")),
            "{entity}={n}: {stderr}"
        );
    }
    assert!(stderr.contains("throughput"), "{stderr}");
    // --quiet: no summary.
    let out = phiscan()
        .args(["scan", "-q", &share_arg()])
        .output()
        .unwrap();
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

fn walk_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            out.extend(walk_files(&path));
        } else {
            out.push(path);
        }
    }
    out
}

#[test]
fn hard_negatives_alone_give_a_clean_exit() {
    for file in ["misc/inventory.txt", "README.md"] {
        let path = share().join(file);
        let (code, rows, stderr) = scan(&[&path.to_string_lossy()]);
        assert_eq!(rows, Vec::<Vec<String>>::new(), "{file}");
        assert_eq!(code, 0, "{file}: {stderr}");
    }
}

#[test]
fn fail_on_sets_the_lowest_confidence_that_fails() {
    // A dashed SSN without a label is MEDIUM, an NPI without one LOW.
    let dir = tempfile::tempdir().unwrap();
    let file = write(
        dir.path(),
        "export.txt",
        "enrollee 512-34-7890 added\n\nreference 1987654328 attached\n",
    );
    let file = file.to_string_lossy();
    let (code, rows, _) = scan(&["--unmask", &file]);
    assert_eq!(code, 1);
    let found: Vec<(&str, &str, &str)> = rows
        .iter()
        .map(|r| (r[2].as_str(), r[4].as_str(), r[8].as_str()))
        .collect();
    assert_eq!(
        found,
        vec![
            ("NPI", "LOW", "1987654328"),
            ("SSN", "MEDIUM", "512-34-7890")
        ]
    );
    assert_eq!(scan(&["--fail-on", "LOW", &file]).0, 1);
    assert_eq!(scan(&["--fail-on", "medium", &file]).0, 1);
    let (code, rows_high, _) = scan(&["--unmask", "--fail-on", "HIGH", &file]);
    assert_eq!(code, 0, "nothing at HIGH: exit 0");
    assert_eq!(
        rows_high, rows,
        "--fail-on changes the exit status, not the report"
    );
    assert_eq!(scan(&["--fail-on", "HIGH", &share_arg()]).0, 1);
    assert_eq!(scan(&["--fail-on", "NOPE", &file]).0, 2);
}

#[test]
fn include_and_exclude_select_paths() {
    let target = share_arg();
    let (_, rows, _) = scan(&["--include", "exports/**", "--include", "*.md", &target]);
    let want = planted()
        .iter()
        .filter(|p| p.path.starts_with("exports/"))
        .count();
    assert!(want > 0);
    assert_eq!(rows.len(), want, "{rows:#?}");
    assert!(
        rows.iter().all(|r| r[1].starts_with("exports/")),
        "{rows:#?}"
    );

    let excluded = |path: &str| {
        path.starts_with("exports/")
            || path.starts_with("intake/")
            || path.ends_with(".log")
            || path.ends_with(".csv")
    };
    let (_, rows, _) = scan(&[
        "--exclude",
        "exports/**",
        "--exclude",
        "intake",
        "--exclude",
        "*.log",
        "--exclude",
        "*.csv",
        &target,
    ]);
    let want = planted().iter().filter(|p| !excluded(&p.path)).count();
    assert_eq!(rows.len(), want, "{rows:#?}");
    assert!(rows.iter().all(|r| !excluded(&r[1])), "{rows:#?}");

    assert_eq!(scan(&["--include", "[unclosed", &target]).0, 2);
}

#[test]
fn max_bytes_truncates_and_is_counted() {
    let note = share().join("clinical/notes/visit_note_2024-03-04.txt");
    let text = std::fs::read_to_string(&note).unwrap();
    // Stop just before the SSN line: the DOB and MRN above it are found,
    // nothing after.
    let limit = text.find("SSN:").unwrap().to_string();
    let (code, rows, stderr) = scan(&["--unmask", "--max-bytes", &limit, &note.to_string_lossy()]);
    assert_eq!(code, 1);
    let values: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[2].as_str(), r[8].as_str()))
        .collect();
    assert_eq!(
        values,
        vec![("DOB", "01/02/1980"), ("MRN", "00123456")],
        "{rows:#?}"
    );
    assert!(stderr.contains("truncated by --max-bytes: 1"), "{stderr}");
    assert!(stderr.contains(&format!("bytes read: {limit}")), "{stderr}");
    // 0 reads the whole file.
    let (_, rows, stderr) = scan(&["--max-bytes", "0", &note.to_string_lossy()]);
    assert_eq!(rows.len(), 8);
    assert!(stderr.contains("truncated by --max-bytes: 0"), "{stderr}");
}

#[test]
fn missing_target_is_a_usage_error() {
    let (code, rows, stderr) = scan(&["/nonexistent/phiscan-share"]);
    assert_eq!(code, 2);
    assert!(rows.is_empty());
    assert!(stderr.contains("/nonexistent/phiscan-share"), "{stderr}");
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

const GOOD_RULE: &str = r#"[[rules]]
id = "ticket"
entity = "MRN"
description = "ticket-style record number"
pattern = '\bTK-(?P<value>\d{6})\b'
confidence = "HIGH"
examples = ["TK-123456"]
negative_examples = ["TK-12345", "XTK-123456"]
"#;

#[test]
fn malformed_rule_files_are_usage_errors_naming_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let target = share().join("README.md");
    let target = target.to_string_lossy();

    let syntax = write(
        dir.path(),
        "syntax.toml",
        "[[rules]]\nid = \"x\"\nentity = \"SSN\"\ndescription = \"unterminated\n",
    );
    let (code, rows, stderr) = scan(&["--rules", &syntax.to_string_lossy(), &target]);
    assert_eq!(code, 2, "{stderr}");
    assert!(rows.is_empty());
    assert!(stderr.contains("syntax.toml"), "{stderr}");
    assert!(stderr.contains("line 4"), "{stderr}");

    let unknown = write(
        dir.path(),
        "unknown.toml",
        &GOOD_RULE.replace(
            "confidence = \"HIGH\"",
            "confidence = \"HIGH\"\ncolour = \"red\"",
        ),
    );
    let (code, _, stderr) = scan(&["--rules", &unknown.to_string_lossy(), &target]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("unknown.toml"), "{stderr}");
    assert!(stderr.contains("colour"), "{stderr}");
    assert!(stderr.contains("line 7"), "{stderr}");

    let regex = write(
        dir.path(),
        "regex.toml",
        &GOOD_RULE.replace(r"\bTK-(?P<value>\d{6})\b", r"\bTK-(?P<value>\d{6}\b"),
    );
    let (code, _, stderr) = scan(&["--rules", &regex.to_string_lossy(), &target]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("regex.toml"), "{stderr}");
    assert!(stderr.contains("ticket"), "{stderr}");

    let validator = write(
        dir.path(),
        "validator.toml",
        &GOOD_RULE.replace(
            "confidence = \"HIGH\"",
            "confidence = \"HIGH\"\nvalidator = \"nope\"",
        ),
    );
    let (code, _, stderr) = scan(&["--rules", &validator.to_string_lossy(), &target]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("validator.toml") && stderr.contains("nope"),
        "{stderr}"
    );

    // `rules test` and `rules list` refuse them the same way.
    let out = phiscan()
        .args(["rules", "test", &syntax.to_string_lossy()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
}

#[test]
fn extra_rule_files_add_to_the_builtin_pack() {
    let dir = tempfile::tempdir().unwrap();
    let rules = write(dir.path(), "ticket.toml", GOOD_RULE);
    let data = write(
        dir.path(),
        "t.txt",
        "ticket TK-123456 and SSN 512-34-7890\n",
    );
    let (code, rows, _) = scan(&[
        "--unmask",
        "--rules",
        &rules.to_string_lossy(),
        &data.to_string_lossy(),
    ]);
    assert_eq!(code, 1);
    let mut found: Vec<(&str, &str)> = rows
        .iter()
        .map(|r| (r[3].as_str(), r[8].as_str()))
        .collect();
    found.sort();
    assert_eq!(
        found,
        vec![("ssn-formatted", "512-34-7890"), ("ticket", "123456")]
    );
    // Without the built-in pack only the extra rule runs.
    let (_, rows, _) = scan(&[
        "--unmask",
        "--no-default-rules",
        "--rules",
        &dir.path().join("ticket.toml").to_string_lossy(),
        &data.to_string_lossy(),
    ]);
    let found: Vec<&str> = rows.iter().map(|r| r[3].as_str()).collect();
    assert_eq!(found, vec!["ticket"]);
}

/// Makes a file under `dir` that cannot be read, even as root. Returns a
/// description of how, or `None` when this system offers no way.
fn make_unreadable(dir: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let locked = write(dir, "locked.txt", "SSN 512-34-7890\n");
    std::fs::set_permissions(&locked, std::fs::Permissions::from_mode(0o000)).unwrap();
    if std::fs::File::open(&locked).is_err() {
        return Some("a file with mode 000".into());
    }
    // Root reads anything; but no one can open a path longer than PATH_MAX,
    // and a walker that opens folders by their full path hits that limit.
    // bash can build such a tree with relative `cd`s.
    std::fs::remove_file(&locked).unwrap();
    let name = "d".repeat(200);
    let script = format!(
        "i=0; while [ $i -lt 25 ]; do mkdir {name} && cd {name} || exit 1; i=$((i+1)); done; \
         echo 'SSN 512-34-7890' > deep.txt"
    );
    let ok = std::process::Command::new("bash")
        .arg("-c")
        .arg(&script)
        .current_dir(dir)
        .status()
        .is_ok_and(|s| s.success());
    ok.then(|| "a folder nested deeper than PATH_MAX".into())
}

#[test]
fn an_unreadable_file_makes_the_scan_incomplete() {
    let dir = tempfile::tempdir().unwrap();
    let Some(how) = make_unreadable(dir.path()) else {
        eprintln!("skipped: no way to make an unreadable file here (root without bash)");
        return;
    };
    write(dir.path(), "clean.txt", "nothing to see\n");
    let (code, rows, stderr) = scan(&[&dir.path().to_string_lossy()]);
    assert!(rows.is_empty(), "{how}: {rows:#?}");
    assert_eq!(
        code, 3,
        "{how}: incomplete without findings; stderr: {stderr}"
    );
    assert!(stderr.contains("unreadable=1"), "{how}: {stderr}");
    // Findings elsewhere still make it 1.
    write(dir.path(), "phi.txt", "SSN 512-34-7890\n");
    let (code, rows, _) = scan(&[&dir.path().to_string_lossy()]);
    assert_eq!(rows.len(), 1);
    assert_eq!(code, 1);
}

#[test]
fn rules_list_shows_every_rule() {
    let out = phiscan().args(["rules", "list"]).output().unwrap();
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("id\tentity\tconfidence\tdescription"));
    let listed: Vec<Vec<&str>> = lines.map(|l| l.split('\t').collect()).collect();
    let pack = phiscan::rules::RulePack::load(true, &[]).unwrap();
    assert_eq!(listed.len(), pack.rules().len());
    for (row, spec) in listed.iter().zip(pack.rules()) {
        assert_eq!(row[0], spec.id);
        assert_eq!(row[1], spec.entity.as_str());
        assert_eq!(row[2], spec.confidence.as_str());
    }
    assert!(listed
        .iter()
        .any(|r| r[..3] == ["ssn-bare-with-context", "SSN", "HIGH"]));
}

#[test]
fn rules_test_passes_on_the_builtin_pack_and_fails_on_a_bad_example() {
    let out = phiscan().args(["rules", "test"]).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{text}");
    assert!(text.contains(" 0 failures"), "{text}");

    let dir = tempfile::tempdir().unwrap();
    let bad = write(
        dir.path(),
        "bad.toml",
        &GOOD_RULE.replace("examples = [\"TK-123456\"]", "examples = [\"TK-1234567\"]"),
    );
    let out = phiscan()
        .args(["rules", "test", &bad.to_string_lossy()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(
        text.contains("FAIL ticket") && text.contains("TK-1234567"),
        "{text}"
    );
    assert!(text.contains("1 failures"), "{text}");
}

fn files_under(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out: Vec<(String, Vec<u8>)> = walk_files(dir)
        .into_iter()
        .map(|p| {
            let rel = p
                .strip_prefix(dir)
                .unwrap()
                .to_string_lossy()
                .replace('\\', "/");
            (rel, std::fs::read(&p).unwrap())
        })
        .collect();
    out.sort();
    out
}

#[test]
fn committed_fixtures_are_what_the_generator_writes() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("python3")
        .arg(root().join("fixtures/generate.py"))
        .arg("--out")
        .arg(dir.path())
        .stdout(std::process::Stdio::null())
        .status();
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!("fixtures/generate.py failed: {s}"),
        Err(e) => {
            eprintln!("skipped: python3 not available ({e})");
            return;
        }
    }
    assert_eq!(
        files_under(&dir.path().join("share")),
        files_under(&share()),
        "fixtures/share is stale: run python3 fixtures/generate.py"
    );
    assert_eq!(
        std::fs::read(dir.path().join("share.csv")).unwrap(),
        std::fs::read(root().join("tests/expected/share.csv")).unwrap(),
        "tests/expected/share.csv is stale: run python3 fixtures/generate.py"
    );
}
