//! Interruptions, partial results, resumed scans, hostile rule files, and
//! phiscan writing nothing it should not: each test runs the real binary.

use crate::common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Rows one copy of the note gives (checked in `resume_rescans_a_file_that_changed`).
const FINDINGS_PER_NOTE: usize = 8;

const KEY: &str = "safety-test-fingerprint-key-0123456789";

fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_phiscan"))
}

/// A clinical note from the fixtures: several findings per file.
fn note() -> String {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    std::fs::read_to_string(root.join("fixtures/share/clinical/notes/visit_note_2024-03-04.txt"))
        .unwrap()
}

/// `files` copies of the note in folders of 100. Each ends in a sparse run
/// of NUL bytes (no disk space, nothing found in it) so that a file takes
/// a while to scan however fast the matcher gets: the tests below signal
/// the scan mid-way, which a tree scanned in a blink would not allow.
fn big_tree(root: &Path, files: usize) {
    const PADDING: u64 = 256 << 10;
    let text = note();
    for i in 0..files {
        let dir = root.join(format!("d{:04}", i / 100));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join(format!("note{i:05}.txt"));
        // Blank lines first: the head that tells text from binary holds
        // no NUL byte.
        let head = format!("{text}{}", "\n".repeat(phiscan::extract::HEAD_LEN));
        std::fs::write(&path, &head).unwrap();
        let file = std::fs::OpenOptions::new().write(true).open(&path).unwrap();
        file.set_len(head.len() as u64 + PADDING).unwrap();
    }
}

fn phiscan(args: &[&str]) -> Command {
    let mut cmd = Command::new(bin());
    cmd.arg("scan")
        .args(args)
        .env("PHISCAN_FINGERPRINT_KEY", KEY)
        .env_remove("PHISCAN_FTP_PASSWORD")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    cmd
}

/// Where a resumable scan writes its reports.
enum Reports<'a> {
    /// `-o FILE` (CSV).
    File(&'a Path),
    /// `--output-dir DIR --format FORMATS`.
    Dir(&'a Path, &'a str),
}

/// Arguments of a scan of `target` that `--resume STATE` can continue,
/// then `extra`.
fn resume_args(target: &str, reports: Reports, state: &Path, extra: &[&str]) -> Vec<String> {
    let mut args = vec![target.to_string()];
    match reports {
        Reports::File(file) => args.extend(["-o".into(), file.display().to_string()]),
        Reports::Dir(dir, formats) => args.extend([
            "--format".into(),
            formats.into(),
            "--output-dir".into(),
            dir.display().to_string(),
        ]),
    }
    args.extend(["--resume".into(), state.display().to_string()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    args
}

/// `phiscan scan` with owned arguments.
fn phiscan_with(args: &[String]) -> Command {
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    phiscan(&args)
}

fn send_signal(child: &Child, signal: &str) {
    let status = Command::new("kill")
        .args([signal, &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Waits until `file` holds at least `rows` lines, with the child still
/// running (else the test would not interrupt anything).
fn wait_for_rows(child: &mut Child, file: &Path, rows: usize) {
    let start = Instant::now();
    loop {
        let n = std::fs::read(file)
            .map(|b| b.iter().filter(|&&c| c == b'\n').count())
            .unwrap_or(0);
        if n >= rows {
            return;
        }
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the scan ended ({status}) before {rows} rows were written");
        }
        assert!(
            start.elapsed() < Duration::from_secs(120),
            "no rows after 120 s"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for the child (at most `limit`), returning exit code and stderr.
fn finish(mut child: Child, limit: Duration) -> (Option<i32>, String) {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            let out = child.wait_with_output().unwrap();
            return (status.code(), String::from_utf8_lossy(&out.stderr).into());
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            panic!("phiscan did not exit within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Parses a CSV report strictly: every row whole (11 fields), the file
/// ending in a newline. Returns the rows without the header.
fn csv_rows(path: &Path) -> Vec<Vec<String>> {
    let data = std::fs::read(path).unwrap();
    assert!(
        data.is_empty() || data.ends_with(b"\n"),
        "{}: last row cut",
        path.display()
    );
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&data[..]);
    let mut rows: Vec<Vec<String>> = Vec::new();
    for r in reader.records() {
        let r = r.unwrap_or_else(|e| panic!("{}: bad row: {e}", path.display()));
        assert_eq!(r.len(), 11, "{}: {r:?}", path.display());
        rows.push(r.iter().map(str::to_string).collect());
    }
    assert_eq!(rows[0][0], "target", "header first");
    assert_eq!(
        rows.iter().filter(|r| r[0] == "target").count(),
        1,
        "one header"
    );
    rows.remove(0);
    rows
}

/// Parses a JSONL report strictly: every line a JSON object.
fn jsonl_lines(path: &Path) -> Vec<serde_json::Value> {
    let data = std::fs::read_to_string(path).unwrap();
    assert!(data.is_empty() || data.ends_with('\n'), "last line cut");
    data.lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("bad line {l:?}: {e}")))
        .collect()
}

#[test]
fn a_scan_killed_mid_way_leaves_whole_rows_only() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    big_tree(&tree, 3000);
    let out = dir.path().join("out");
    let mut child = phiscan(&[
        tree.to_str().unwrap(),
        "--format",
        "csv,jsonl",
        "--output-dir",
        out.to_str().unwrap(),
        "--threads",
        "2",
    ])
    .spawn()
    .unwrap();
    wait_for_rows(&mut child, &out.join("phiscan.jsonl"), 500);
    child.kill().unwrap(); // SIGKILL: no chance to clean up
    child.wait().unwrap();
    let rows = csv_rows(&out.join("phiscan.csv"));
    let lines = jsonl_lines(&out.join("phiscan.jsonl"));
    assert!(rows.len() >= 400, "{} rows", rows.len());
    assert!(lines.len() >= 500);
    // Killed: no summary line, and fewer rows than the whole tree holds
    // (3000 files × 8 findings).
    assert!(lines.iter().all(|l| l["type"] == "finding"));
    assert!(
        rows.len() < 3000 * FINDINGS_PER_NOTE,
        "the scan was not cut short"
    );
}

#[test]
fn sigint_on_a_local_scan_writes_the_summary_marked_interrupted_and_exits_130() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    big_tree(&tree, 4000);
    let out = dir.path().join("out");
    let summary = dir.path().join("summary.json");
    let mut child = phiscan(&[
        tree.to_str().unwrap(),
        "--format",
        "csv,jsonl,sarif,html",
        "--output-dir",
        out.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
        "--threads",
        "1",
    ])
    .spawn()
    .unwrap();
    wait_for_rows(&mut child, &out.join("phiscan.csv"), 200);
    send_signal(&child, "-INT");
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("phiscan summary (INTERRUPTED)"), "{stderr}");
    assert!(
        stderr.contains("with --resume STATE a scan can be continued"),
        "{stderr}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true);
    assert_eq!(json["incomplete"], true);
    let files = json["files_scanned"].as_u64().unwrap();
    assert!(files > 0 && files < 4000, "{files} files scanned");
    let rows = csv_rows(&out.join("phiscan.csv"));
    let lines = jsonl_lines(&out.join("phiscan.jsonl"));
    let last = lines.last().unwrap();
    assert_eq!(last["type"], "summary");
    assert_eq!(last["interrupted"], true);
    assert_eq!(
        lines.len() - 1,
        rows.len(),
        "CSV and JSONL hold the same rows"
    );
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("phiscan.sarif")).unwrap()).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        rows.len()
    );
    assert_eq!(
        sarif["runs"][0]["properties"]["summary"]["interrupted"],
        true
    );
    assert_eq!(
        sarif["runs"][0]["invocations"][0]["executionSuccessful"],
        false
    );
    let html = std::fs::read_to_string(out.join("phiscan.html")).unwrap();
    assert!(html.contains("interrupted") && html.trim_end().ends_with("</html>"));
}

#[test]
fn sigterm_is_handled_like_sigint() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    big_tree(&tree, 3000);
    let report = dir.path().join("r.csv");
    let mut child = phiscan(&[
        tree.to_str().unwrap(),
        "-o",
        report.to_str().unwrap(),
        "--threads",
        "1",
    ])
    .spawn()
    .unwrap();
    wait_for_rows(&mut child, &report, 100);
    send_signal(&child, "-TERM");
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    assert!(stderr.contains("(INTERRUPTED)"), "{stderr}");
    assert!(!csv_rows(&report).is_empty());
}

#[test]
fn sigint_during_slow_ftp_transfers_stops_without_waiting_for_them() {
    use common::{start_scripted, Node, Script};
    let mut root = Node::dir();
    let text = note();
    for i in 0..40 {
        root.add(format!("notes/n{i:02}.txt").as_bytes(), text.as_bytes());
    }
    let mut script = Script::new(root);
    // Every reply takes 300 ms: a file costs several seconds.
    script.reply_delay = Duration::from_millis(300);
    let (port, _log) = start_scripted(script);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.csv");
    let summary = dir.path().join("summary.json");
    let mut child = phiscan(&[
        &format!("ftp://127.0.0.1:{port}/"),
        "-o",
        report.to_str().unwrap(),
        "--summary-json",
        summary.to_str().unwrap(),
        "--connections",
        "2",
        "--no-anon-check",
    ])
    .spawn()
    .unwrap();
    // The header, the FTP_NO_TLS exposure row and at least one note's rows.
    wait_for_rows(&mut child, &report, 6);
    let signalled = Instant::now();
    send_signal(&child, "-INT");
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    // Well before the rest of the 40 files could have been fetched.
    assert!(
        signalled.elapsed() < Duration::from_secs(20),
        "{:?}",
        signalled.elapsed()
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(json["interrupted"], true);
    assert!(json["files_scanned"].as_u64().unwrap() < 40);
    let rows = csv_rows(&report);
    assert!(rows.iter().any(|r| r[1].starts_with("notes/n")), "{rows:?}");
}

/// Rows keyed by everything but nothing run-specific (all columns are
/// stable with a fixed fingerprint key).
fn row_counts(rows: &[Vec<String>]) -> BTreeMap<Vec<String>, usize> {
    let mut m = BTreeMap::new();
    for r in rows {
        *m.entry(r.clone()).or_insert(0) += 1;
    }
    m
}

fn resume_matches_an_uninterrupted_run(cut: &str) {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    big_tree(&tree, 2500);
    let out = dir.path().join("out");
    let state = dir.path().join("scan.state");
    let args = resume_args(
        tree.to_str().unwrap(),
        Reports::Dir(&out, "csv,jsonl,sarif"),
        &state,
        &["--threads", "2"],
    );
    let mut child = phiscan_with(&args).spawn().unwrap();
    wait_for_rows(&mut child, &out.join("phiscan.csv"), 300);
    if cut == "KILL" {
        child.kill().unwrap();
        child.wait().unwrap();
    } else {
        send_signal(&child, cut);
        let (code, stderr) = finish(child, Duration::from_secs(60));
        assert_eq!(code, Some(130), "{stderr}");
        assert!(stderr.contains("run the same command again"), "{stderr}");
    }
    let first = csv_rows(&out.join("phiscan.csv")).len();
    let state_text = std::fs::read_to_string(&state).unwrap();
    // The state names no file and holds no value.
    assert!(!state_text.contains(".txt") && !state_text.contains("tree"));
    // Resumed: runs to the end.
    let done = phiscan_with(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("files skipped (scanned by an earlier run)"),
        "{stderr}"
    );
    let resumed = csv_rows(&out.join("phiscan.csv"));
    let lines = jsonl_lines(&out.join("phiscan.jsonl"));
    assert!(resumed.len() > first);
    // A reference run without interruption.
    let reference = dir.path().join("ref.csv");
    let whole = phiscan(&[tree.to_str().unwrap(), "-o", reference.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(whole.status.code(), Some(1));
    let reference = csv_rows(&reference);
    assert_eq!(reference.len(), 2500 * FINDINGS_PER_NOTE);
    let (a, b) = (row_counts(&resumed), row_counts(&reference));
    assert!(a.values().all(|&n| n == 1), "duplicate rows after resume");
    assert_eq!(a, b, "resumed report differs from an uninterrupted run");
    // JSONL: the same rows, then one summary, of the whole scan.
    let summaries: Vec<_> = lines.iter().filter(|l| l["type"] == "summary").collect();
    assert_eq!(summaries.len(), 1);
    assert_eq!(lines.last().unwrap()["type"], "summary");
    assert_eq!(summaries[0]["total_findings"], 2500 * FINDINGS_PER_NOTE);
    assert_eq!(summaries[0]["interrupted"], false);
    assert_eq!(lines.len() - 1, resumed.len());
    // SARIF is rebuilt whole: the earlier run's results and the new ones.
    let sarif: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("phiscan.sarif")).unwrap()).unwrap();
    assert_eq!(
        sarif["runs"][0]["results"].as_array().unwrap().len(),
        resumed.len()
    );
}

#[test]
fn resume_after_sigint_gives_the_rows_of_an_uninterrupted_run_once() {
    resume_matches_an_uninterrupted_run("-INT");
}

#[test]
fn resume_after_sigkill_cuts_the_partial_row_and_completes_the_report() {
    resume_matches_an_uninterrupted_run("KILL");
}

#[test]
fn resume_completes_a_row_that_reached_the_csv_but_not_the_jsonl() {
    // A kill between the CSV and the JSONL write of a row, made exact: a
    // finished one-thread scan loses its last JSONL row and the state line
    // of the file that row belongs to (the last file scanned).
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    big_tree(&tree, 20);
    let out = dir.path().join("out");
    let state = dir.path().join("s");
    let args = resume_args(
        tree.to_str().unwrap(),
        Reports::Dir(&out, "csv,jsonl"),
        &state,
        &["--threads", "1"],
    );
    assert_eq!(phiscan_with(&args).output().unwrap().status.code(), Some(1));
    let csv_before = std::fs::read_to_string(out.join("phiscan.csv")).unwrap();
    let jsonl = std::fs::read_to_string(out.join("phiscan.jsonl")).unwrap();
    let mut lines: Vec<&str> = jsonl.lines().collect();
    lines.pop(); // the summary
    let lost = lines.pop().unwrap().to_string();
    std::fs::write(out.join("phiscan.jsonl"), lines.join("\n") + "\n").unwrap();
    let st = std::fs::read_to_string(&state).unwrap();
    let mut st: Vec<&str> = st.lines().collect();
    st.pop();
    std::fs::write(&state, st.join("\n") + "\n").unwrap();

    let done = phiscan_with(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("files scanned: 1 "), "{stderr}");
    assert!(stderr.contains("resumed: 19 files skipped"), "{stderr}");
    // The CSV had every row: unchanged. The JSONL has its row back, once.
    assert_eq!(
        std::fs::read_to_string(out.join("phiscan.csv")).unwrap(),
        csv_before
    );
    let lines = jsonl_lines(&out.join("phiscan.jsonl"));
    let lost: serde_json::Value = serde_json::from_str(&lost).unwrap();
    assert_eq!(lines.iter().filter(|l| **l == lost).count(), 1);
    assert_eq!(lines.len() - 1, 20 * FINDINGS_PER_NOTE);
    assert_eq!(
        lines.last().unwrap()["total_findings"],
        20 * FINDINGS_PER_NOTE
    );
}

#[test]
fn resume_rescans_a_file_that_changed() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), note()).unwrap();
    std::fs::write(tree.join("b.txt"), "nothing here\n").unwrap();
    let report = dir.path().join("r.csv");
    let state = dir.path().join("s");
    let args = resume_args(tree.to_str().unwrap(), Reports::File(&report), &state, &[]);
    assert_eq!(phiscan_with(&args).output().unwrap().status.code(), Some(1));
    assert_eq!(csv_rows(&report).len(), FINDINGS_PER_NOTE);
    // b.txt changes (size differs): scanned again; a.txt is skipped.
    std::fs::write(tree.join("b.txt"), "Patient email: jane.roe@example.org\n").unwrap();
    let out = phiscan_with(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("files scanned: 1 "), "{stderr}");
    assert!(stderr.contains("resumed: 1 files skipped"), "{stderr}");
    let rows = csv_rows(&report);
    assert_eq!(rows.len(), FINDINGS_PER_NOTE + 1, "{rows:?}");
    assert_eq!(rows.last().unwrap()[1], "b.txt");
}

#[test]
fn a_resumed_run_counts_what_the_earlier_run_could_not_examine() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), note()).unwrap();
    // A binary file, and a zip whose member is binary: both counted as
    // not examined, the member under the archive it sits in.
    std::fs::write(
        tree.join("blob.bin"),
        [0u8, 1, 2, 3, 0xff, 0xfe].repeat(500),
    )
    .unwrap();
    let mut zip = zip::ZipWriter::new(std::io::Cursor::new(Vec::new()));
    zip.start_file("x.bin", zip::write::SimpleFileOptions::default())
        .unwrap();
    std::io::Write::write_all(&mut zip, &[0u8, 0xff, 7, 0].repeat(300)).unwrap();
    std::fs::write(tree.join("a.zip"), zip.finish().unwrap().into_inner()).unwrap();
    let report = dir.path().join("r.csv");
    let state = dir.path().join("s");
    let not_examined = |run: &str| {
        let summary = dir.path().join(format!("{run}.json"));
        let args = resume_args(
            tree.to_str().unwrap(),
            Reports::File(&report),
            &state,
            &["--summary-json", summary.to_str().unwrap()],
        );
        assert_eq!(phiscan_with(&args).output().unwrap().status.code(), Some(1));
        let json: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
        (
            json["files_already_scanned"].as_u64().unwrap(),
            json["not_examined"].clone(),
        )
    };
    let (skipped, first) = not_examined("first");
    assert_eq!((skipped, &first), (0, &serde_json::json!({"binary": 2})));
    // Everything is done: the rerun reads nothing and counts the same.
    let (skipped, resumed) = not_examined("resumed");
    assert_eq!((skipped, &resumed), (3, &first));
    // The state file names nothing.
    let state_text = std::fs::read_to_string(&state).unwrap();
    assert!(!state_text.contains("blob") && !state_text.contains("a.zip"));
}

#[test]
fn resume_needs_a_report_file() {
    let dir = tempfile::tempdir().unwrap();
    let state = dir.path().join("s");
    let out = phiscan(&["fixtures/share", "--resume", state.to_str().unwrap()])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains("--resume: the report must go to a file"),
        "{stderr}"
    );
}

#[test]
fn resume_starts_afresh_when_no_file_was_completed() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(tree.join("a.txt"), note()).unwrap();
    let report = dir.path().join("r.csv");
    let state = dir.path().join("s");
    let args = resume_args(tree.to_str().unwrap(), Reports::File(&report), &state, &[]);
    // A start that fails (bad rule file) leaves no state file.
    let bad = rule_file(dir.path(), "bad.toml", "bad", "(a{1000}){1000}");
    let mut failing = args.clone();
    failing.extend(["--rules".to_string(), bad.display().to_string()]);
    assert_eq!(
        phiscan_with(&failing).output().unwrap().status.code(),
        Some(2)
    );
    assert!(!state.exists() && !report.exists());
    // Killed with rows written but no file completed: the state holds its
    // header only; the rerun writes the report anew, each row once.
    assert_eq!(phiscan_with(&args).output().unwrap().status.code(), Some(1));
    let header = std::fs::read_to_string(&state).unwrap();
    let header = header.lines().next().unwrap().to_string();
    std::fs::write(&state, header + "\n").unwrap();
    assert_eq!(phiscan_with(&args).output().unwrap().status.code(), Some(1));
    let rows = csv_rows(&report);
    assert_eq!(rows.len(), FINDINGS_PER_NOTE);
    assert!(row_counts(&rows).values().all(|&n| n == 1));
}

fn rule_file(dir: &Path, name: &str, id: &str, pattern: &str) -> PathBuf {
    let path = dir.join(name);
    // A TOML literal string: no escapes to worry about.
    std::fs::write(
        &path,
        format!(
            "[[rules]]\nid = \"{id}\"\nentity = \"SSN\"\ndescription = \"hostile\"\n\
             pattern = '''{pattern}'''\nconfidence = \"LOW\"\n"
        ),
    )
    .unwrap();
    path
}

#[test]
fn catastrophic_or_huge_rules_are_refused_at_load_time() {
    let dir = tempfile::tempdir().unwrap();
    let alternation: String = (0..1_250_000)
        .map(|i| format!("w{i:07}"))
        .collect::<Vec<_>>()
        .join("|");
    assert!(alternation.len() > 10_000_000);
    let nested = format!("{}a{}", "(?:a*".repeat(500), ")*".repeat(500));
    let cases = [
        (
            "boom.toml",
            "boom",
            "(a{1000}){1000}".to_string(),
            "pattern too large",
        ),
        (
            "uni.toml",
            "uni",
            r"(?u:\w{200}){50}".to_string(),
            "pattern too large",
        ),
        (
            "big.toml",
            "big",
            alternation,
            "bytes long; the limit is 4096",
        ),
        ("nest.toml", "nest", nested, "nested"),
    ];
    for (file, id, pattern, expect) in cases {
        let path = rule_file(dir.path(), file, id, &pattern);
        let report = dir.path().join("r.csv");
        let start = Instant::now();
        let out = phiscan(&[
            "--rules",
            path.to_str().unwrap(),
            "-o",
            report.to_str().unwrap(),
            "fixtures/share",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            stderr.contains(&format!("{}:2: rule \"{id}\"", path.display())),
            "{file}: {stderr}"
        );
        assert!(stderr.contains(expect), "{file}: {stderr}");
        assert!(stderr.len() < 1000, "the error must not echo the pattern");
        // Bounded, not a benchmark: a hang would take far longer.
        assert!(start.elapsed() < Duration::from_secs(30), "{file}");
        assert!(!report.exists(), "nothing scanned");
    }
    // A rule file beyond 16 MiB is not read at all.
    let huge = dir.path().join("huge.toml");
    std::fs::write(&huge, "#".repeat(17 << 20)).unwrap();
    let out = phiscan(&["--rules", huge.to_str().unwrap(), "fixtures/share"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("huge.toml: larger than 16 MiB"), "{stderr}");
}

/// Every path under `root` with its content (files) or nothing (folders).
fn snapshot(root: &Path) -> BTreeMap<PathBuf, Option<Vec<u8>>> {
    walkdir::WalkDir::new(root)
        .into_iter()
        .map(|e| e.unwrap())
        .map(|e| {
            let content = e
                .file_type()
                .is_file()
                .then(|| std::fs::read(e.path()).unwrap());
            (e.path().strip_prefix(root).unwrap().to_path_buf(), content)
        })
        .collect()
}

/// A tar archive with hostile member names (written by hand: the tar
/// crate refuses to write such names).
fn hostile_tar(names: &[&str], body: &[u8]) -> Vec<u8> {
    let mut out = Vec::new();
    for name in names {
        let mut h = [0u8; 512];
        h[..name.len()].copy_from_slice(name.as_bytes());
        h[100..108].copy_from_slice(b"0000644\0");
        h[108..116].copy_from_slice(b"0000000\0");
        h[116..124].copy_from_slice(b"0000000\0");
        h[124..136].copy_from_slice(format!("{:011o}\0", body.len()).as_bytes());
        h[136..148].copy_from_slice(b"00000000000\0");
        h[156] = b'0';
        h[257..263].copy_from_slice(b"ustar\0");
        h[263..265].copy_from_slice(b"00");
        h[148..156].copy_from_slice(b"        ");
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        h[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
        out.extend_from_slice(&h);
        out.extend_from_slice(body);
        out.resize(out.len().div_ceil(512) * 512, 0);
    }
    out.resize(out.len() + 1024, 0);
    out
}

fn hostile_zip(names: &[&str], body: &[u8]) -> Vec<u8> {
    use std::io::Write;
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let opts = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        for name in names {
            zip.start_file(*name, opts).unwrap();
            zip.write_all(body).unwrap();
        }
        zip.finish().unwrap();
    }
    buf.into_inner()
}

#[test]
fn archive_member_names_are_only_names_nothing_is_written_outside_the_output() {
    let names = [
        "../../x.txt",
        "/etc/x.txt",
        "..\\x.txt",
        "a/../../../x.txt",
        "C:\\x.txt",
    ];
    let body = note();
    let scratch = tempfile::tempdir().unwrap();
    let cwd = scratch.path().join("cwd/deep/er");
    std::fs::create_dir_all(&cwd).unwrap();
    std::fs::write(cwd.join("evil.tar"), hostile_tar(&names, body.as_bytes())).unwrap();
    std::fs::write(cwd.join("evil.zip"), hostile_zip(&names, body.as_bytes())).unwrap();
    let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
    std::io::Write::write_all(&mut gz, &hostile_tar(&names, body.as_bytes())).unwrap();
    std::fs::write(cwd.join("evil.tgz"), gz.finish().unwrap()).unwrap();
    let before = snapshot(scratch.path());
    let out = phiscan(&[
        ".",
        "--format",
        "csv,jsonl,sarif,html",
        "--output-dir",
        "out",
        "--unmask",
    ])
    .current_dir(&cwd)
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let mut after = snapshot(scratch.path());
    // The only new paths: the output folder, its reports, the key file.
    let out_dir = Path::new("cwd/deep/er/out");
    let added: Vec<PathBuf> = after
        .keys()
        .filter(|p| !before.contains_key(*p))
        .cloned()
        .collect();
    for p in &added {
        assert!(
            p.starts_with(out_dir) || p == Path::new("cwd/deep/er/out.key"),
            "written outside the output: {}",
            p.display()
        );
    }
    after.retain(|p, _| !added.contains(p));
    assert_eq!(before, after, "a file was changed");
    // The members were scanned, under their names, inside their archive.
    let rows = csv_rows(&cwd.join("out/phiscan.csv"));
    for archive in ["evil.tar", "evil.zip", "evil.tgz"] {
        for name in names {
            let path = format!("{archive}!{name}");
            assert!(
                rows.iter().any(|r| r[1] == path),
                "{path} not reported: {:?}",
                rows.iter()
                    .map(|r| &r[1])
                    .collect::<std::collections::BTreeSet<_>>()
            );
        }
    }
}

#[test]
fn a_scan_never_writes_to_the_ftp_server() {
    use common::{start_scripted, start_unftp, Node, Script};
    // libunftp serving a real folder: byte-identical before and after.
    let served = tempfile::tempdir().unwrap();
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/share");
    for e in walkdir::WalkDir::new(&share) {
        let e = e.unwrap();
        let to = served.path().join(e.path().strip_prefix(&share).unwrap());
        if e.file_type().is_dir() {
            std::fs::create_dir_all(&to).unwrap();
        } else {
            std::fs::copy(e.path(), &to).unwrap();
        }
    }
    let before = snapshot(served.path());
    let port = start_unftp(served.path(), None);
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.csv");
    let out = phiscan(&[
        &format!("ftp://127.0.0.1:{port}/"),
        "-o",
        report.to_str().unwrap(),
        "--timeout",
        "10",
    ])
    .output()
    .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("files scanned: 13 "), "{stderr}");
    assert_eq!(before, snapshot(served.path()), "the served tree changed");

    // The scripted server logs every command: none that writes.
    let mut root = Node::dir();
    root.add(b"pub/a.txt", note().as_bytes());
    root.add(b"incoming/b.txt", b"hello\n");
    let mut script = Script::new(root);
    script.world_writable = vec![b"incoming".to_vec()];
    let (port, log) = start_scripted(script);
    let out = phiscan(&[
        &format!("ftp://127.0.0.1:{port}/"),
        "-o",
        report.to_str().unwrap(),
        "--timeout",
        "10",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let commands: Vec<String> = log
        .lock()
        .unwrap()
        .iter()
        .map(|c| String::from_utf8_lossy(c).to_ascii_uppercase())
        .collect();
    assert!(
        commands.iter().any(|c| c.starts_with("RETR")),
        "{commands:?}"
    );
    let writes = [
        "STOR", "STOU", "APPE", "MKD", "XMKD", "RMD", "XRMD", "DELE", "RNFR", "RNTO", "SITE",
        "ALLO",
    ];
    for c in &commands {
        let verb = c.split(' ').next().unwrap_or("");
        assert!(!writes.contains(&verb), "sent {c:?} without --check-write");
    }
    // With --check-write the log does show the (refused) MKD: the check
    // above can see write commands.
    log.lock().unwrap().clear();
    let out = phiscan(&[
        &format!("ftp://127.0.0.1:{port}/"),
        "-o",
        report.to_str().unwrap(),
        "--timeout",
        "10",
        "--check-write",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(
        log.lock()
            .unwrap()
            .iter()
            .any(|c| c.to_ascii_uppercase().starts_with(b"MKD")),
        "no MKD with --check-write"
    );
}

#[test]
fn resume_over_ftp_completes_the_crawl_without_duplicate_rows() {
    use common::{start_scripted, Node, Script};
    let mut root = Node::dir();
    let text = note();
    for i in 0..60 {
        root.add(
            format!("exports/{:02}/n{i:02}.txt", i / 10).as_bytes(),
            text.as_bytes(),
        );
    }
    let mut script = Script::new(root);
    // Slow enough to interrupt mid-crawl, fast enough for a test.
    script.reply_delay = Duration::from_millis(25);
    let (port, log) = start_scripted(script);
    let retrieved = || {
        log.lock()
            .unwrap()
            .iter()
            .filter(|c| c.starts_with(b"RETR"))
            .count()
    };
    let url = format!("ftp://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let state = dir.path().join("ftp.state");
    let args = resume_args(
        &url,
        Reports::Dir(&out, "csv,jsonl"),
        &state,
        &["--connections", "2", "--no-anon-check"],
    );
    let mut child = phiscan_with(&args).spawn().unwrap();
    wait_for_rows(
        &mut child,
        &out.join("phiscan.csv"),
        2 + 2 * FINDINGS_PER_NOTE,
    );
    send_signal(&child, "-INT");
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    let first = csv_rows(&out.join("phiscan.csv")).len();
    let retrieved_first = retrieved();
    let done = phiscan_with(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("files skipped (scanned by an earlier run)"),
        "{stderr}"
    );
    // Files the first run completed are not even retrieved again.
    let retrieved_again = retrieved() - retrieved_first;
    assert!(retrieved_again < 60, "{retrieved_again} RETRs on resume");
    let resumed = csv_rows(&out.join("phiscan.csv"));
    assert!(resumed.len() > first);

    let reference = dir.path().join("ref.csv");
    let whole = phiscan(&[
        url.as_str(),
        "-o",
        reference.to_str().unwrap(),
        "--connections",
        "2",
        "--no-anon-check",
    ])
    .output()
    .unwrap();
    assert_eq!(whole.status.code(), Some(1));
    let reference = csv_rows(&reference);
    let server_rows: Vec<&Vec<String>> = reference
        .iter()
        .filter(|r| !r[1].starts_with("exports/"))
        .collect();
    assert_eq!(
        reference.len() - server_rows.len(),
        60 * FINDINGS_PER_NOTE,
        "{server_rows:?}"
    );
    // The server's exposure rows (it allows anonymous logins, without TLS).
    let mut exposures: Vec<&str> = server_rows.iter().map(|r| r[2].as_str()).collect();
    exposures.sort();
    assert_eq!(exposures, ["FTP_ANONYMOUS_LOGIN", "FTP_NO_TLS"]);
    let (a, b) = (row_counts(&resumed), row_counts(&reference));
    assert!(a.values().all(|&n| n == 1), "duplicate rows after resume");
    assert_eq!(a, b, "resumed report differs from an uninterrupted crawl");
    let lines = jsonl_lines(&out.join("phiscan.jsonl"));
    assert_eq!(lines.len() - 1, resumed.len());
}

/// Files `--max-bytes` cuts over FTP are named and counted in the summary,
/// and a scan interrupted and resumed (`--resume`) reports the same count
/// and names as one run through.
#[test]
fn truncated_ftp_files_are_named_and_survive_resume() {
    use common::{start_scripted, Node, Script};
    let mut root = Node::dir();
    let text = note();
    let long = format!("{text}{}", "padding line\n".repeat(400));
    for i in 0..40 {
        let body = if i % 4 == 0 { &long } else { &text };
        root.add(
            format!("exports/{:02}/n{i:02}.txt", i / 10).as_bytes(),
            body.as_bytes(),
        );
    }
    let mut script = Script::new(root);
    script.reply_delay = Duration::from_millis(25);
    let (port, _log) = start_scripted(script);
    let url = format!("ftp://127.0.0.1:{port}/");
    let max = (text.len() + 100).to_string();
    let extra = ["--connections", "2", "--no-anon-check", "--max-bytes", &max];
    let dir = tempfile::tempdir().unwrap();
    let summary_of = |path: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
    };
    let names = |s: &serde_json::Value| -> Vec<String> {
        let mut n: Vec<String> = s["truncated_files"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| {
                format!(
                    "{}{}",
                    t["target"].as_str().unwrap(),
                    t["path"].as_str().unwrap()
                )
            })
            .collect();
        n.sort();
        n
    };
    // One run through.
    let whole_json = dir.path().join("whole.json");
    let mut args: Vec<String> = vec![url.clone(), "-o".into()];
    args.push(dir.path().join("whole.csv").display().to_string());
    args.extend(["--summary-json".into(), whole_json.display().to_string()]);
    args.extend(extra.iter().map(|a| a.to_string()));
    let whole = phiscan_with(&args).output().unwrap();
    assert_eq!(whole.status.code(), Some(1));
    let whole_stderr = String::from_utf8_lossy(&whole.stderr);
    assert!(
        whole_stderr.contains("truncated by --max-bytes: 10"),
        "{whole_stderr}"
    );
    assert!(
        whole_stderr.contains("exports/00/n00.txt [truncated]"),
        "{whole_stderr}"
    );
    let whole = summary_of(&whole_json);
    assert_eq!(whole["files_truncated"], 10);
    let want = names(&whole);
    assert_eq!(want.len(), 10, "{want:?}");
    assert!(want.iter().all(|n| n.contains("exports/")), "{want:?}");
    // Interrupted, then resumed.
    let out = dir.path().join("out");
    let state = dir.path().join("ftp.state");
    let resumed_json = dir.path().join("resumed.json");
    let mut args = resume_args(&url, Reports::Dir(&out, "csv"), &state, &extra);
    args.extend(["--summary-json".into(), resumed_json.display().to_string()]);
    let mut child = phiscan_with(&args).spawn().unwrap();
    wait_for_rows(
        &mut child,
        &out.join("phiscan.csv"),
        1 + 3 * FINDINGS_PER_NOTE,
    );
    send_signal(&child, "-INT");
    let (code, stderr) = finish(child, Duration::from_secs(60));
    assert_eq!(code, Some(130), "{stderr}");
    let done = phiscan_with(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&done.stderr);
    assert_eq!(done.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("files skipped"), "{stderr}");
    let resumed = summary_of(&resumed_json);
    assert_eq!(resumed["files_truncated"], 10, "{stderr}");
    assert_eq!(names(&resumed), want, "{stderr}");
    assert!(stderr.contains("truncated by --max-bytes: 10"), "{stderr}");
}

#[test]
fn control_characters_in_local_names_never_reach_a_report_or_the_terminal() {
    // A file and a corrupt archive whose names carry a terminal escape
    // (turn text red) and a line break, as a hostile share could hold.
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(
        tree.join("note\u{1b}[31mred\nline.txt"),
        "SSN: 412-56-7890\n",
    )
    .unwrap();
    std::fs::write(tree.join("bad\u{1b}[2J.zip"), b"PK\x03\x04 not a zip").unwrap();
    let out = phiscan(&[tree.to_str().unwrap()]).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    for (what, bytes) in [("stdout", &out.stdout), ("stderr", &out.stderr)] {
        assert!(!bytes.contains(&0x1b), "escape byte on {what}");
    }
    let mut reader = csv::Reader::from_reader(&out.stdout[..]);
    let paths: Vec<String> = reader
        .records()
        .map(|r| r.unwrap()[1].to_string())
        .collect();
    assert_eq!(paths, ["note\u{fffd}[31mred\u{fffd}line.txt"]);
    // The corrupt archive is reported as not examined, its name cleaned.
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("bad\u{fffd}[2J.zip"), "{stderr}");
}

/// The text view in colour: the only escape sequences on the terminal are
/// its own colour codes, whatever the file names hold.
#[test]
fn the_text_view_lets_only_its_own_colours_reach_the_terminal() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir_all(&tree).unwrap();
    std::fs::write(
        tree.join("note\u{1b}[31mred\nline\u{9b}2J\u{202e}.txt"),
        "SSN: 412-56-7890 \u{1b}]0;title\u{7}\r\n",
    )
    .unwrap();
    let out = phiscan(&[
        tree.to_str().unwrap(),
        "--format",
        "text",
        "--color",
        "always",
        "-q",
    ])
    .output()
    .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let shown = String::from_utf8(out.stdout).unwrap();
    let ours = regex::Regex::new("\x1b\\[[0-9;]*m").unwrap();
    assert!(ours.is_match(&shown), "{shown:?}");
    let rest = ours.replace_all(&shown, "");
    assert!(
        !rest.chars().any(|c| c.is_control() && c != '\n'),
        "{rest:?}"
    );
    assert!(
        rest.contains("note\u{fffd}[31mred\u{fffd}line\u{fffd}2J<U+202E>.txt"),
        "{rest:?}"
    );
    assert!(
        rest.contains("***-**-7890") && !rest.contains("412-56-7890"),
        "{rest:?}"
    );
}

/// A transfer the server cuts mid-file is not examined, so `--resume` must
/// not record it as done: the rerun (against a server that cuts only the
/// first transfer) reads it again and finds the SSN in its second half,
/// while the files read whole the first time are skipped.
#[test]
fn resume_retries_a_file_whose_transfer_was_cut() {
    use common::{start_scripted, Node, Script};
    let mut body = vec![b'y'; 40_000];
    body.extend_from_slice(b"\nSSN: 412-56-7890\n");
    let mut root = Node::dir();
    root.add(b"a.txt", b"nothing here\n");
    root.add(b"b.txt", b"nor here\n");
    root.add(b"cut.txt", &body);
    let mut script = Script::new(root);
    script.cut = Some(b"/cut.txt".to_vec());
    script.cut_once = true;
    let (port, _) = start_scripted(script);
    let url = format!("ftp://127.0.0.1:{port}/");
    let dir = tempfile::tempdir().unwrap();
    let (report, state) = (dir.path().join("r.csv"), dir.path().join("state"));
    let args = resume_args(
        &url,
        Reports::File(&report),
        &state,
        &["--connections", "1"],
    );

    let first = phiscan_with(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&first.stderr);
    // The cut file was not examined (the exit status is 1 for the server's
    // exposure rows, FTP_ANONYMOUS_LOGIN and FTP_NO_TLS).
    assert!(stderr.contains("not examined: 1  network=1"), "{stderr}");
    assert!(
        stderr.contains("transfer failed after 20009 bytes"),
        "{stderr}"
    );
    assert!(stderr.contains("files scanned: 2 "), "{stderr}");
    assert!(!std::fs::read_to_string(&report).unwrap().contains(",SSN,"));

    let second = phiscan_with(&args).output().unwrap();
    let stderr = String::from_utf8_lossy(&second.stderr);
    assert!(stderr.contains("resumed: 2 files skipped"), "{stderr}");
    assert!(stderr.contains("files scanned: 1 "), "{stderr}");
    assert!(stderr.contains("not examined: 0"), "{stderr}");
    let rows = std::fs::read_to_string(&report).unwrap();
    assert_eq!(rows.matches(",SSN,").count(), 1, "{rows}");
    assert!(rows.contains("cut.txt"), "{rows}");
}

/// Hostile names and headers (issue 20, items 1, 2 and 11): values in a CSV
/// header, a sheet-like label or an archive member's name are masked in
/// every column of every format (and the member's name is a finding of
/// its own); control and bidi-override characters never reach any output
/// raw; CSV cells a spreadsheet would evaluate start with `'`, while JSONL
/// keeps the values exact.
#[test]
fn hostile_names_and_headers_are_masked_neutralised_and_visible() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    let ssn = "SSN 536-22-1299\n";
    let formula = "=HYPERLINK(\"evil.example\",\"Open\").txt";
    for name in [
        formula,
        "@SUM(A1).txt",
        "+cmd|' calc'!A0.txt",
        "invoice\u{202e}txt.exe",
    ] {
        std::fs::write(share.join(name), ssn).unwrap();
    }
    std::fs::write(share.join("lead.txt"), "=cmd 536-22-1299 SSN\n").unwrap();
    std::fs::write(
        share.join("h.csv"),
        "name,dob,ssn 536-22-1234\u{1b}[31m\u{202e}\nJohn,01/02/1980,536-22-1299\n",
    )
    .unwrap();
    {
        let file = std::fs::File::create(share.join("m.zip")).unwrap();
        let mut zip = zip::ZipWriter::new(file);
        let options = zip::write::SimpleFileOptions::default();
        zip.start_file("SMITH_JOHN_DOB_1971-04-17.txt", options)
            .unwrap();
        std::io::Write::write_all(&mut zip, b"nothing\n").unwrap();
        zip.finish().unwrap();
    }
    let out = dir.path().join("out");
    let run = phiscan(&[
        share.to_str().unwrap(),
        "--format",
        "csv,jsonl,sarif,html,text",
        "--output-dir",
        out.to_str().unwrap(),
        "--summary-json",
        dir.path().join("summary.json").to_str().unwrap(),
    ])
    .output()
    .unwrap();
    assert_eq!(run.status.code(), Some(1));
    let mut outputs = vec![
        (
            "stdout".to_string(),
            String::from_utf8_lossy(&run.stdout).into_owned(),
        ),
        (
            "stderr".to_string(),
            String::from_utf8_lossy(&run.stderr).into_owned(),
        ),
        (
            "summary.json".to_string(),
            std::fs::read_to_string(dir.path().join("summary.json")).unwrap(),
        ),
    ];
    for f in [
        "phiscan.csv",
        "phiscan.jsonl",
        "phiscan.sarif",
        "phiscan.html",
        "phiscan.txt",
    ] {
        outputs.push((f.to_string(), std::fs::read_to_string(out.join(f)).unwrap()));
    }
    for (name, text) in &outputs {
        for raw in [
            "536-22-1234",
            "536-22-1299",
            "1971-04-17",
            "\u{202e}",
            "\u{1b}",
        ] {
            assert!(!text.contains(raw), "{name} holds {raw:?}");
        }
    }
    let csv_text = &outputs[3].1;
    let mut reader = csv::Reader::from_reader(csv_text.as_bytes());
    let rows: Vec<csv::StringRecord> = reader.records().map(Result::unwrap).collect();
    for row in &rows {
        for cell in row {
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']),
                "a spreadsheet would evaluate {cell:?}"
            );
        }
    }
    let formula_rows: Vec<_> = rows.iter().filter(|r| r[1].contains("HYPERLINK")).collect();
    assert!(!formula_rows.is_empty());
    assert!(formula_rows.iter().all(|r| r[1].starts_with("'=")));
    assert!(rows.iter().any(|r| r[9].starts_with("'=cmd")), "{csv_text}");
    // The header's value is masked inside the field label.
    assert!(
        rows.iter()
            .any(|r| r[7].contains("column \"ssn ***-**-1234") && r[7].contains("<U+202E>")),
        "{csv_text}"
    );
    // The member's name is a finding, masked.
    assert!(
        rows.iter().any(|r| &r[7] == "path"
            && &r[1] == "m.zip!SMITH_JOHN_DOB_1971-**-**.txt"
            && &r[2] == "DOB"),
        "{csv_text}"
    );
    assert!(rows.iter().any(|r| &r[1] == "invoice<U+202E>txt.exe"));
    // JSONL keeps the exact name.
    let jsonl = &outputs[4].1;
    assert!(
        jsonl
            .lines()
            .any(|l| serde_json::from_str::<serde_json::Value>(l).unwrap()["path"] == formula),
        "{jsonl}"
    );
}

/// Outputs (issue 20, items 6 and 7): every file a scan writes is readable
/// by its owner only, and a symbolic link planted where a report, a report
/// folder's file or the key file goes is refused (exit status 2, the link
/// named), its target left untouched.
#[cfg(unix)]
#[test]
fn outputs_are_private_and_links_in_their_place_are_refused() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(share.join("note.txt"), "SSN 536-22-1299\n").unwrap();
    let out = dir.path().join("out");
    let state = dir.path().join("scan.state");
    let summary = dir.path().join("summary.json");
    let run = Command::new(bin())
        .args([
            "scan",
            share.to_str().unwrap(),
            "--format",
            "csv,jsonl,sarif,html",
        ])
        .args(["--output-dir", out.to_str().unwrap()])
        .args(["--summary-json", summary.to_str().unwrap()])
        .args(["--resume", state.to_str().unwrap()])
        .env_remove("PHISCAN_FINGERPRINT_KEY")
        .output()
        .unwrap();
    assert_eq!(
        run.status.code(),
        Some(1),
        "{}",
        String::from_utf8_lossy(&run.stderr)
    );
    let key_file = dir.path().join("out.key");
    let mut written = vec![summary.clone(), state.clone(), key_file];
    for f in [
        "phiscan.csv",
        "phiscan.jsonl",
        "phiscan.sarif",
        "phiscan.html",
    ] {
        written.push(out.join(f));
    }
    for path in &written {
        let mode = std::fs::metadata(path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600, "{}", path.display());
    }

    let victim = dir.path().join("victim.txt");
    type MakeCommand<'a> = Box<dyn Fn() -> Command + 'a>;
    let cases: [(&str, MakeCommand); 3] = [
        (
            "report.csv",
            Box::new(|| {
                let mut c = phiscan(&[share.to_str().unwrap(), "-o"]);
                c.arg(dir.path().join("report.csv"));
                c
            }),
        ),
        (
            "d/phiscan.csv",
            Box::new(|| {
                let mut c = phiscan(&[share.to_str().unwrap(), "--output-dir"]);
                c.arg(dir.path().join("d"));
                c
            }),
        ),
        (
            "r2.csv.key",
            Box::new(|| {
                let mut c = Command::new(bin());
                c.args(["scan", share.to_str().unwrap(), "-o"])
                    .arg(dir.path().join("r2.csv"))
                    .env_remove("PHISCAN_FINGERPRINT_KEY");
                c
            }),
        ),
    ];
    std::fs::create_dir(dir.path().join("d")).unwrap();
    for (link, command) in cases {
        std::fs::write(&victim, "precious").unwrap();
        let link = dir.path().join(link);
        std::os::unix::fs::symlink(&victim, &link).unwrap();
        let run = command().output().unwrap();
        let stderr = String::from_utf8_lossy(&run.stderr);
        assert_eq!(run.status.code(), Some(2), "{}: {stderr}", link.display());
        assert!(stderr.contains("symbolic link"), "{stderr}");
        assert_eq!(std::fs::read_to_string(&victim).unwrap(), "precious");
        std::fs::remove_file(&link).unwrap();
    }
}

/// What a walk meets besides regular files is named, never dropped (issue
/// 20, items 5 and 12): text padded with NUL runs is read as text; a FIFO
/// given as a target, a FIFO and a symbolic link in a tree are named in
/// the not-examined list and make a scan without findings incomplete
/// (exit 3), and nothing waits on the FIFO.
#[cfg(unix)]
#[test]
fn links_fifos_and_padded_text_are_accounted_for() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let mut padded = b"Patient SSN 536-22-1299\n".to_vec();
    padded.resize(64 << 10, 0);
    std::fs::write(tree.join("padded.log"), &padded).unwrap();
    let fifo = tree.join("pipe");
    assert!(Command::new("mkfifo")
        .arg(&fifo)
        .status()
        .unwrap()
        .success());
    std::os::unix::fs::symlink("/etc/hostname", tree.join("link.txt")).unwrap();

    let run = |target: &Path| {
        let out = phiscan(&[target.to_str().unwrap(), "--file-timeout", "20"])
            .output()
            .unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
            out.stdout,
        )
    };
    let (code, stderr, stdout) = run(&tree);
    assert_eq!(code, Some(1), "{stderr}");
    let stdout = String::from_utf8_lossy(&stdout);
    assert!(stdout.contains("padded.log,SSN"), "{stdout}");
    assert!(
        stderr.contains("not examined: 2  unsupported=2"),
        "{stderr}"
    );
    assert!(stderr.contains("pipe [unsupported] a FIFO"), "{stderr}");
    assert!(
        stderr.contains("link.txt [unsupported] a symbolic link"),
        "{stderr}"
    );

    // Without the padded file nothing is found: incomplete, not clean.
    std::fs::remove_file(tree.join("padded.log")).unwrap();
    let (code, stderr, _) = run(&tree);
    assert_eq!(code, Some(3), "{stderr}");
    // A FIFO as the target itself, without waiting on it.
    let (code, stderr, _) = run(&fifo);
    assert_eq!(code, Some(3), "{stderr}");
    assert!(
        stderr.contains("not examined: 1  unsupported=1"),
        "{stderr}"
    );
}

/// Issue 20 item 9: a password typed in the URL (even one holding a raw
/// `/`) and a `--fingerprint-key` value vanish from `/proc/PID/cmdline`
/// (what `ps` shows) while the scan is still running. The server accepts
/// the connection and never greets, so the scan waits on it.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
#[test]
fn passwords_leave_the_process_arguments() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let url = format!("ftp://alice:pw/SECRET-xyzzy@127.0.0.1:{port}/");
    let out = tempfile::tempdir().unwrap();
    let mut child = Command::new(bin())
        .args(["scan", &url, "--fingerprint-key", KEY, "--output-dir"])
        .arg(out.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let cmdline = format!("/proc/{}/cmdline", child.id());
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut last = Vec::new();
    let hidden = loop {
        // Held open by the listener's backlog: the scan is waiting for a
        // greeting, so the process is alive while we look.
        last = std::fs::read(&cmdline).unwrap_or(last);
        let text = String::from_utf8_lossy(&last).to_string();
        if text.contains("127.0.0.1") && !text.contains("xyzzy") && !text.contains(KEY) {
            break true;
        }
        if Instant::now() > deadline || child.try_wait().unwrap().is_some() {
            break false;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    child.kill().ok();
    child.wait().ok();
    drop(listener);
    let text = String::from_utf8_lossy(&last).replace('\0', " ");
    assert!(hidden, "still visible in cmdline: {text}");
    // The rest of the argument is intact: ps still says what runs where.
    assert!(text.contains("ftp://alice:"), "{text}");
    assert!(text.contains(&format!("@127.0.0.1:{port}/")), "{text}");
}

/// Issue 20 item 4: a `phiscan.toml` planted in a scanned folder cannot
/// turn the rules off, allowlist its own findings, enable writes or TLS
/// shortcuts, or put the report outside the working folder; loading it
/// is announced on stderr and in the summary. Named with `--config`, or
/// lying outside the targets (as `phiscan init` writes it), it is trusted.
#[test]
fn a_settings_file_inside_the_target_cannot_weaken_the_scan() {
    let dir = tempfile::tempdir().unwrap();
    let share = dir.path().join("share");
    std::fs::create_dir(&share).unwrap();
    std::fs::write(share.join("p.txt"), "SSN 536-22-1234\n").unwrap();
    std::fs::write(
        share.join("phiscan.toml"),
        "default_rules = false\noutput = \"../hijacked-output.txt\"\n\
         summary_json = \"summary.json\"\n\
         [[allow]]\npaths = [\"**\"]\n[ftp]\ninsecure = true\ncheck_write = true\n",
    )
    .unwrap();
    let run = |extra: &[&str]| {
        Command::new(bin())
            .current_dir(&share)
            .args(["scan", "."])
            .args(extra)
            .env("PHISCAN_FINGERPRINT_KEY", KEY)
            .output()
            .unwrap()
    };
    let out = run(&[]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stdout.contains("***-**-1234"), "finding lost: {stdout}");
    assert!(!dir.path().join("hijacked-output.txt").exists());
    assert!(stderr.contains("settings from phiscan.toml"), "{stderr}");
    for key in [
        "default_rules",
        "allow",
        "output",
        "ftp.insecure",
        "ftp.check_write",
    ] {
        assert!(stderr.contains(key), "{key} not named: {stderr}");
    }
    // An output inside the working folder is harmless and kept.
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(share.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["settings_file"]["trusted"], false, "{summary}");
    assert!(summary["settings_file"]["ignored"]
        .as_array()
        .unwrap()
        .iter()
        .any(|k| k == "default_rules"));

    // Named with --config it is the user's own choice, and obeyed.
    std::fs::remove_file(share.join("summary.json")).unwrap();
    let out = run(&["--config", "phiscan.toml"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(dir.path().join("hijacked-output.txt").exists(), "{stderr}");
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(share.join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["settings_file"]["trusted"], true, "{summary}");
    assert!(!String::from_utf8_lossy(&out.stderr).contains("not trusted"));

    // Beside the target rather than in it (`phiscan init`'s layout):
    // trusted, its output obeyed. (Run from `dir`, the planted
    // `../hijacked-output.txt` would land beside the temporary folder,
    // outside it: this copy writes inside.)
    std::fs::remove_file(share.join("phiscan.toml")).unwrap();
    std::fs::remove_file(dir.path().join("hijacked-output.txt")).unwrap();
    std::fs::write(
        dir.path().join("phiscan.toml"),
        "default_rules = false\noutput = \"beside-output.csv\"\n",
    )
    .unwrap();
    let out = Command::new(bin())
        .current_dir(dir.path())
        .args(["scan", "share"])
        .env("PHISCAN_FINGERPRINT_KEY", KEY)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("not trusted"), "{stderr}");
    assert!(stderr.contains("settings from phiscan.toml"), "{stderr}");
    assert!(dir.path().join("beside-output.csv").exists(), "{stderr}");
}

/// Issue 20 item 10: rows are capped per file (archive members count
/// toward their archive) and per scan; what is past a cap is counted in
/// the summary, and the row that reached it says so.
#[test]
fn report_rows_are_capped_per_file_and_per_scan() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    let ssns: String = (0..30)
        .map(|i| format!("SSN: 536-22-{:04}\n", 1000 + i))
        .collect();
    std::fs::write(tree.join("a.txt"), &ssns).unwrap();
    // The same lines split over three members of one zip.
    let zip_file = std::fs::File::create(tree.join("b.zip")).unwrap();
    let mut zip = zip::ZipWriter::new(zip_file);
    for m in 0..3 {
        zip.start_file(
            format!("m{m}.txt"),
            zip::write::SimpleFileOptions::default(),
        )
        .unwrap();
        std::io::Write::write_all(&mut zip, &ssns.as_bytes()[m * 170..(m + 1) * 170]).unwrap();
    }
    zip.finish().unwrap();
    let run = |caps: &[&str]| {
        let out = Command::new(bin())
            .arg("scan")
            .arg(&tree)
            .args(caps)
            .args(["--summary-json"])
            .arg(dir.path().join("s.json"))
            .env("PHISCAN_FINGERPRINT_KEY", KEY)
            .output()
            .unwrap();
        let csv = String::from_utf8(out.stdout).unwrap();
        let summary: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(dir.path().join("s.json")).unwrap())
                .unwrap();
        let rows: Vec<String> = csv.lines().skip(1).map(str::to_string).collect();
        (rows, summary)
    };
    let (all, summary) = run(&[]);
    let total = summary["findings_by_entity"]["SSN"].as_u64().unwrap();
    assert_eq!(
        all.len() as u64,
        total,
        "default caps leave small files whole"
    );
    assert!(total >= 40, "{total}");

    let (rows, summary) = run(&["--max-rows-per-file", "10"]);
    let per = |name: &str| rows.iter().filter(|r| r.contains(name)).count();
    assert_eq!((per("a.txt"), per("b.zip")), (10, 10), "{rows:#?}");
    assert_eq!(
        rows.iter()
            .filter(|r| r.contains("row cap per file reached"))
            .count(),
        2
    );
    assert_eq!(summary["findings_by_entity"]["SSN"].as_u64(), Some(total));
    assert_eq!(summary["rows_not_written"].as_u64(), Some(total - 20));
    // Without an allowlist, findings past a file's cap are only counted by
    // the extractor; with one (that allows nothing here), each is built
    // and the output drops it: the same rows and the same counts.
    let config = dir.path().join("allow.toml");
    std::fs::write(&config, "[[allow]]\npaths = [\"elsewhere/**\"]\n").unwrap();
    let config = config.to_str().unwrap();
    let (mut built, built_summary) = run(&["--max-rows-per-file", "10", "--config", config]);
    // Files are scanned in parallel: their rows may interleave either way.
    let mut rows = rows;
    rows.sort();
    built.sort();
    assert_eq!(built, rows);
    for key in [
        "findings_by_entity",
        "findings_by_confidence",
        "rows_not_written",
    ] {
        assert_eq!(built_summary[key], summary[key], "{key}");
    }

    let (rows, summary) = run(&["--max-rows", "15", "--max-rows-per-file", "0"]);
    assert_eq!(rows.len(), 15);
    assert!(
        rows[14].contains("row cap per scan reached"),
        "{}",
        rows[14]
    );
    assert_eq!(summary["rows_not_written"].as_u64(), Some(total - 15));
}
