//! The human view (issue 19, "At a terminal"): `--format text` through the
//! real binary on the fixtures, and the default it becomes when stdout is a
//! terminal (a real pseudo-terminal, not a flag).

use std::collections::BTreeMap;
use std::io::Read;
use std::os::fd::{FromRawFd, OwnedFd};
use std::path::Path;
use std::process::{Command, Stdio};

const KEY: &str = "text-view-test-key-0123456789";

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn phiscan() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_phiscan"));
    c.current_dir(root())
        .env("PHISCAN_FINGERPRINT_KEY", KEY)
        .env_remove("NO_COLOR")
        .stdin(Stdio::null());
    c
}

fn stdout_of(args: &[&str]) -> (i32, String) {
    let out = phiscan().args(args).output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
    )
}

/// Our colour codes: `ESC [ digits and ; m`.
fn uncoloured(text: &str) -> String {
    regex::Regex::new("\x1b\\[[0-9;]*m")
        .unwrap()
        .replace_all(text, "")
        .into_owned()
}

/// (file heading, position, confidence, entity, value) of each finding
/// line of a text view, counted.
fn text_rows(text: &str) -> BTreeMap<(String, String, String, String, String), usize> {
    let row = regex::Regex::new(r"^ +(\d+:\d+|-)  (HIGH|MEDIUM|LOW) +(\S+) {2,}(.*?)(  \[.*\])?$")
        .unwrap();
    let mut heading = String::new();
    let mut rows = BTreeMap::new();
    for line in text.lines() {
        if line.is_empty() {
            continue;
        }
        if !line.starts_with(' ') {
            heading = line.to_string();
        } else if let Some(c) = row.captures(line) {
            let key = (
                heading.clone(),
                c[1].to_string(),
                c[2].to_string(),
                c[3].to_string(),
                c[4].to_string(),
            );
            *rows.entry(key).or_insert(0) += 1;
        }
    }
    rows
}

/// The same, from a CSV report.
fn csv_rows(text: &str) -> BTreeMap<(String, String, String, String, String), usize> {
    let mut rows = BTreeMap::new();
    let cell = phiscan::report::csv::cell_value;
    for r in csv::Reader::from_reader(text.as_bytes()).records() {
        let r = r.unwrap();
        let heading = if r[1].is_empty() {
            format!("{} (server)", cell(&r[0]))
        } else {
            format!("{}/{}", cell(&r[0]), cell(&r[1]))
        };
        let position = if r[5].is_empty() {
            "-".to_string()
        } else {
            format!("{}:{}", &r[5], &r[6])
        };
        let key = (
            heading,
            position,
            r[4].to_string(),
            r[2].to_string(),
            cell(&r[8]).to_string(),
        );
        *rows.entry(key).or_insert(0) += 1;
    }
    rows
}

#[test]
fn text_view_shows_every_csv_row_under_its_file_masked() {
    for target in ["fixtures/share", "fixtures/formats"] {
        let (code, csv_text) = stdout_of(&["scan", target, "-q", "-j", "1"]);
        assert_eq!(code, 1);
        assert!(csv_text.starts_with("target,path,"), "a pipe gets CSV");
        let (code, text) = stdout_of(&["scan", target, "-q", "-j", "1", "--format", "text"]);
        assert_eq!(code, 1);
        assert!(!text.contains('\x1b'), "colour on a pipe: {text}");
        let want = csv_rows(&csv_text);
        assert!(want.len() > 20, "{target}: {} rows", want.len());
        assert_eq!(text_rows(&text), want, "{target}:\n{text}");
        // Each file is named once (one thread: a file's rows come together).
        for heading in want.keys().map(|k| &k.0) {
            let lines = text.lines().filter(|l| l == heading).count();
            assert_eq!(lines, 1, "{heading}:\n{text}");
        }
        // Values are masked as in the CSV: the CSV's match column, never
        // the unmasked values.
        let (_, unmasked) = stdout_of(&["scan", target, "-q", "-j", "1", "--unmask"]);
        let plain: Vec<String> = csv_rows(&unmasked)
            .keys()
            .map(|k| k.4.clone())
            .filter(|v| v.chars().filter(char::is_ascii_digit).count() >= 6)
            .collect();
        assert!(!plain.is_empty());
        for v in &plain {
            assert!(!text.contains(v.as_str()), "{target}: {v} unmasked");
        }
    }
}

#[test]
fn color_always_paints_by_confidence_and_changes_nothing_else() {
    let args = [
        "scan",
        "fixtures/share",
        "-q",
        "-j",
        "1",
        "--format",
        "text",
    ];
    let (_, plain) = stdout_of(&args);
    let (_, colored) = stdout_of(&[&args[..], &["--color", "always"]].concat());
    assert!(colored.contains("\x1b[1;31mHIGH"), "{colored}");
    assert_eq!(uncoloured(&colored), plain);
    // NO_COLOR does not overrule --color always; --color never is plain.
    let out = phiscan()
        .args(args)
        .args(["--color", "never"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(String::from_utf8(out.stdout).unwrap(), plain);
    // -o FILE: plain unless --color always.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("view.txt");
    let (code, stdout) = stdout_of(&[&args[..], &["-o", file.to_str().unwrap()]].concat());
    assert_eq!((code, stdout.as_str()), (1, ""));
    assert_eq!(std::fs::read_to_string(&file).unwrap(), plain);
}

/// Runs phiscan with its stdout on a new pseudo-terminal; stderr is a pipe
/// (so no progress). Returns the exit status and what the terminal showed.
fn on_terminal(args: &[&str], env: &[(&str, &str)]) -> (i32, String) {
    let (mut master, mut slave) = (0, 0);
    // SAFETY: openpty writes two descriptors we then own; the other
    // arguments may be null.
    let rc = unsafe {
        libc::openpty(
            &mut master,
            &mut slave,
            std::ptr::null_mut(),
            std::ptr::null(),
            std::ptr::null(),
        )
    };
    assert_eq!(rc, 0, "openpty: {}", std::io::Error::last_os_error());
    // SAFETY: both descriptors were just opened and are owned only here.
    let (master, slave) = unsafe { (OwnedFd::from_raw_fd(master), OwnedFd::from_raw_fd(slave)) };
    let mut cmd = phiscan();
    cmd.args(args)
        .stdout(Stdio::from(slave))
        .stderr(Stdio::null());
    for (k, v) in env {
        cmd.env(k, v);
    }
    let mut child = cmd.spawn().unwrap();
    // Our copy of the terminal side is closed (it went to the child), so
    // reading ends (EIO) once the child exits.
    drop(cmd);
    let mut shown = Vec::new();
    let mut master = std::fs::File::from(master);
    let _ = master.read_to_end(&mut shown);
    let code = child.wait().unwrap().code().unwrap_or(-1);
    // The terminal turns each line end into CR LF.
    let shown = String::from_utf8_lossy(&shown).replace("\r\n", "\n");
    (code, shown)
}

#[test]
fn a_terminal_gets_the_coloured_view_and_a_pipe_or_file_gets_csv() {
    let args = ["scan", "fixtures/share", "-q", "-j", "1"];
    let (_, plain) = stdout_of(&[&args[..], &["--format", "text"]].concat());
    let (code, shown) = on_terminal(&args, &[]);
    assert_eq!(code, 1);
    assert!(shown.contains("\x1b[1;31mHIGH"), "{shown}");
    assert!(!shown.contains("target,path,"), "{shown}");
    assert_eq!(uncoloured(&shown), plain);
    // NO_COLOR: the view without colour.
    let (_, shown) = on_terminal(&args, &[("NO_COLOR", "1")]);
    assert_eq!(shown, plain);
    // --format csv at a terminal: CSV, as asked.
    let (_, shown) = on_terminal(&[&args[..], &["--format", "csv"]].concat(), &[]);
    assert!(shown.starts_with("target,path,"), "{shown}");
    // -o FILE at a terminal: the file is CSV, the terminal shows no rows.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("r.csv");
    let (code, shown) = on_terminal(&[&args[..], &["-o", file.to_str().unwrap()]].concat(), &[]);
    assert_eq!((code, shown.as_str()), (1, ""));
    assert!(std::fs::read_to_string(&file)
        .unwrap()
        .starts_with("target,path,"));
}

/// `-v`: each file named on stderr as it is scanned (bytes read, and
/// whether `--max-bytes` cut it) or not examined (with the reason), names
/// masked as in the reports; the report itself is unchanged.
#[test]
fn verbose_names_each_file_scanned_or_not_examined() {
    let dir = tempfile::tempdir().unwrap();
    let tree = dir.path().join("tree");
    std::fs::create_dir(&tree).unwrap();
    std::fs::write(tree.join("note.txt"), "SSN 412-56-7890\n").unwrap();
    std::fs::write(tree.join("ssn 412-56-7891.txt"), "nothing\n").unwrap();
    std::fs::write(tree.join("big.log"), "line of text\n".repeat(1000)).unwrap();
    std::fs::write(
        tree.join("blob.bin"),
        [0u8, 1, 2, 3, 0xff, 0xfe, 0, 0].repeat(64),
    )
    .unwrap();
    let t = tree.to_str().unwrap();
    let scan = |extra: &[&str]| {
        let out = phiscan()
            .args(["scan", t, "-j", "1", "--max-bytes", "2000"])
            .args(extra)
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(1));
        (
            String::from_utf8(out.stdout).unwrap(),
            String::from_utf8(out.stderr).unwrap(),
        )
    };
    let (quiet_report, quiet) = scan(&["-q"]);
    assert!(!quiet.contains("phiscan: scanned"), "{quiet}");
    let (report, said) = scan(&["-v", "-q"]);
    assert_eq!(
        csv_rows(&report),
        csv_rows(&quiet_report),
        "-v changes the report"
    );
    let lines: Vec<&str> = said.lines().collect();
    let scanned = |name: &str| {
        lines
            .iter()
            .filter(|l| l.starts_with(&format!("phiscan: scanned {t}/{name} (")))
            .count()
    };
    assert_eq!(scanned("note.txt"), 1, "{said}");
    assert_eq!(scanned("ssn ***-**-7891.txt"), 1, "{said}");
    assert!(
        lines.contains(
            &format!("phiscan: scanned {t}/big.log (2000 of 13000 bytes: cut by --max-bytes)")
                .as_str()
        ),
        "{said}"
    );
    assert!(
        lines.contains(&format!("phiscan: scanned {t}/note.txt (16 bytes)").as_str()),
        "{said}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with(&format!("phiscan: not examined {t}/blob.bin: binary"))),
        "{said}"
    );
    assert!(!said.contains("412-56-789"), "{said}");
}

/// Progress over FTP (forced into a log with `--progress`): files and bytes
/// done of those listed so far, the folder being listed (masked as the
/// reports mask names), rates in binary units as the summary's MiB/s.
#[test]
fn ftp_progress_shows_done_of_listed_and_the_folder() {
    use crate::common::{start_scripted, Node, Script};
    let mut root = Node::dir();
    for i in 0..30 {
        root.add(
            format!("records 412-56-7891/n{i:02}.txt").as_bytes(),
            format!("note {i}\n{}", "plain text line\n".repeat(200)).as_bytes(),
        );
    }
    let mut script = Script::new(root);
    // Slow enough for a few progress lines (one a second).
    script.reply_delay = std::time::Duration::from_millis(40);
    let (port, _log) = start_scripted(script);
    let out = phiscan()
        .args([
            "scan",
            &format!("ftp://127.0.0.1:{port}/"),
            "--no-anon-check",
            "--connections",
            "1",
            "--progress",
        ])
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    let progress: Vec<&str> = stderr
        .lines()
        .filter(|l| l.contains(" listed files ("))
        .collect();
    assert!(!progress.is_empty(), "{stderr}");
    let line = regex::Regex::new(
        r"ftp://127\.0\.0\.1:\d+/: (\d+)/(\d+) listed files \([0-9.]+ (B|KiB|MiB)/[0-9.]+ (B|KiB|MiB)\), \d+ not examined, \d+ findings, listing /records \*\*\*-\*\*-7891",
    )
    .unwrap();
    for l in &progress {
        let c = line.captures(l).unwrap_or_else(|| panic!("{l}"));
        let (done, listed): (u64, u64) = (c[1].parse().unwrap(), c[2].parse().unwrap());
        assert!(done <= listed && listed <= 30, "{l}");
    }
    assert!(!stderr.contains("412-56-7891"), "{stderr}");
    // One unit system: binary sizes and rates, no decimal MB.
    assert!(
        !stderr.contains("MB/s") && !stderr.contains(" kB"),
        "{stderr}"
    );
    assert!(stderr.contains("MiB/s"), "{stderr}");
}
