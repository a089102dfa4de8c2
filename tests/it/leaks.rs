//! No leaks: the synthetic values in the fixtures never appear in full in
//! anything phiscan writes (stdout, stderr, reports of every format, the
//! summary JSON, the resume state, the key file) at any verbosity, unless
//! `--unmask` is given; with it, they do (so the check can see them).

use std::collections::BTreeSet;
use std::path::Path;
use std::process::Command;

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

const TARGETS: [&str; 2] = ["fixtures/share", "fixtures/formats"];

/// What one run wrote, each piece with a name for messages.
struct Written {
    code: Option<i32>,
    pieces: Vec<(String, String)>,
}

fn run(args: &[&str], out_dir: &Path) -> Written {
    let out = Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .arg("scan")
        .args(TARGETS)
        .args(args)
        .current_dir(root())
        .env_remove("PHISCAN_FINGERPRINT_KEY")
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    let mut pieces = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        ),
    ];
    assert!(!pieces[1].1.contains("panicked"), "{}", pieces[1].1);
    // Everything the run wrote: reports, summary, state, key files.
    for e in walkdir::WalkDir::new(out_dir) {
        let e = e.unwrap();
        if e.file_type().is_file() {
            pieces.push((
                e.path().display().to_string(),
                String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned(),
            ));
        }
    }
    Written {
        code: out.status.code(),
        pieces,
    }
}

/// The values to look for: every value an `--unmask` run reports, plus
/// the generator's list for the share, plus the full paths of files whose
/// names hold a value (reports show them masked, see README "Masking").
fn known_values() -> (BTreeSet<String>, BTreeSet<String>) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("unmasked.csv");
    let w = run(
        &["--unmask", "-q", "-o", report.to_str().unwrap()],
        dir.path(),
    );
    assert_eq!(w.code, Some(1));
    let mut values = BTreeSet::new();
    let mut in_names = BTreeSet::new();
    let mut paths = BTreeSet::new();
    let mut reader = csv::Reader::from_path(&report).unwrap();
    // Cells as written, less the `'` that neutralises formula-like cells.
    let cell = phiscan::report::csv::cell_value;
    for r in reader.records() {
        let r = r.unwrap();
        paths.insert(cell(&r[1]).to_string());
        if &r[7] == "path" {
            in_names.insert(cell(&r[8]).to_string());
        } else if !r[8].is_empty() {
            values.insert(cell(&r[8]).to_string());
        }
    }
    let mut expected = csv::Reader::from_path(root().join("tests/expected/share.csv")).unwrap();
    for r in expected.records() {
        let r = r.unwrap();
        if &r[6] == "path" {
            in_names.insert(r[7].to_string());
        } else {
            values.insert(r[7].to_string());
        }
    }
    // Values under 6 characters (a surname such as "Roe" from a roster
    // column) also occur as ordinary words in other files, where they are
    // not findings and context snippets show them.
    values.retain(|v| v.chars().count() >= 6);
    // The fixtures reuse the rule pack's own examples (public test card
    // numbers, 01/02/1980); SARIF carries the rules' descriptions, which
    // quote them. Those are not values read from the scanned files.
    let rules = Command::new(env!("CARGO_BIN_EXE_phiscan"))
        .args(["rules", "list"])
        .output()
        .unwrap();
    let rules = String::from_utf8_lossy(&rules.stdout).into_owned();
    values.retain(|v| !rules.contains(v.as_str()));
    // The value in a file name may be one the rules quote (1980-01-02);
    // the file's unmasked path is not.
    let named: Vec<String> = paths
        .iter()
        .filter(|p| in_names.iter().any(|v| p.contains(v.as_str())))
        .cloned()
        .collect();
    assert!(!named.is_empty(), "no file name holds a value: {paths:?}");
    values.extend(named);
    assert!(values.len() >= 50, "{} values", values.len());
    assert!(in_names.len() <= 2, "{in_names:?}");
    (values, in_names)
}

/// Every value that appears in full in any piece.
fn leaked<'a>(values: &'a BTreeSet<String>, w: &Written) -> Vec<(&'a str, String)> {
    let mut found = Vec::new();
    for v in values {
        for (name, text) in &w.pieces {
            if text.contains(v.as_str()) {
                found.push((v.as_str(), name.clone()));
            }
        }
    }
    found
}

const VERBOSITY: [&[&str]; 5] = [
    &[],
    &["-q"],
    &["--progress"],
    &["-q", "--progress"],
    &["-v"],
];

#[test]
fn no_value_appears_in_any_output_at_any_verbosity_without_unmask() {
    let (values, _) = known_values();
    let formats = ["csv", "jsonl", "sarif", "html", "text"];
    for verbosity in VERBOSITY {
        // Each format on stdout.
        for format in formats {
            let dir = tempfile::tempdir().unwrap();
            let mut args = vec!["--format", format];
            args.extend_from_slice(verbosity);
            let w = run(&args, dir.path());
            assert_eq!(w.code, Some(1), "{args:?}");
            assert!(w.pieces[0].1.len() > 500, "{args:?}: no report on stdout");
            let leaks = leaked(&values, &w);
            assert!(leaks.is_empty(), "{args:?}: leaked {leaks:?}");
        }
        // All formats to files, with the summary JSON and a resume state.
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("out");
        let summary = dir.path().join("summary.json");
        let state = dir.path().join("scan.state");
        let (o, s, st) = (
            out.display().to_string(),
            summary.display().to_string(),
            state.display().to_string(),
        );
        let mut args = vec![
            "--format",
            "csv,jsonl,sarif,html,text",
            "--output-dir",
            &o,
            "--summary-json",
            &s,
            "--resume",
            &st,
        ];
        args.extend_from_slice(verbosity);
        let w = run(&args, dir.path());
        assert_eq!(w.code, Some(1), "{args:?}");
        let names: Vec<&str> = w.pieces.iter().map(|(n, _)| n.as_str()).collect();
        for file in [
            "phiscan.csv",
            "phiscan.jsonl",
            "phiscan.sarif",
            "phiscan.html",
            "phiscan.txt",
            "summary.json",
            "scan.state",
            "out.key",
        ] {
            assert!(names.iter().any(|n| n.ends_with(file)), "{file}: {names:?}");
        }
        let leaks = leaked(&values, &w);
        assert!(leaks.is_empty(), "{args:?}: leaked {leaks:?}");
        // A resumed run (everything already done) leaks nothing either.
        let w = run(&args, dir.path());
        assert_eq!(w.code, Some(1));
        assert!(w.pieces[1].1.contains("files skipped") || verbosity.contains(&"-q"));
        let leaks = leaked(&values, &w);
        assert!(leaks.is_empty(), "resumed {args:?}: leaked {leaks:?}");
    }
}

#[test]
fn with_unmask_every_value_is_there_so_the_check_can_see_them() {
    let (values, _) = known_values();
    for format in ["csv", "jsonl", "sarif", "html", "text"] {
        let dir = tempfile::tempdir().unwrap();
        let w = run(&["--format", format, "--unmask", "-q"], dir.path());
        assert_eq!(w.code, Some(1));
        let stdout = &w.pieces[0].1;
        let missing: Vec<&String> = values
            .iter()
            .filter(|v| !stdout.contains(v.as_str()))
            .collect();
        assert!(missing.is_empty(), "{format}: not found {missing:?}");
    }
}

#[test]
fn debug_output_of_the_config_hides_secrets() {
    let config = phiscan::config::ScanConfig {
        targets: vec![
            "ftp://bob:Zebra-Quokka-7731@127.0.0.1/".into(),
            "fixtures/share".into(),
        ],
        fingerprint_key: Some("Secret-Key-Walrus-99887766".into()),
        ftp: phiscan::config::FtpOptions {
            anonymous_password: "Anon-Pass-Lemur-5521".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let text = format!("{config:?} {config:#?}");
    assert!(!text.contains("Zebra-Quokka-7731"), "{text}");
    assert!(!text.contains("Secret-Key-Walrus"), "{text}");
    assert!(!text.contains("Anon-Pass-Lemur"), "{text}");
    assert!(text.contains("ftp://bob@127.0.0.1/"), "{text}");
    assert!(text.contains("<redacted>"), "{text}");
    let target = phiscan::source::parse_target("ftp://bob:Zebra-Quokka-7731@127.0.0.1/").unwrap();
    let text = format!("{target:?} {target:#?}");
    assert!(!text.contains("Zebra-Quokka-7731"), "{text}");
}
