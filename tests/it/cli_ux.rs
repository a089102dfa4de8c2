//! The `phiscan` binary as the people who run it meet it (issue 19): exit
//! statuses by kind of finding, messages that say what went wrong and
//! where, the files written, the flags neighbouring tools taught them.

use crate::common::{start_scripted, Node, Script};
use assert_cmd::Command;
use std::path::Path;

const PASSWORD: &str = "Heron-Mango-5521";

fn phiscan(dir: &Path) -> Command {
    let mut c = Command::cargo_bin("phiscan").expect("the phiscan binary is built");
    c.current_dir(dir)
        .env_remove("PHISCAN_FTP_PASSWORD")
        .env_remove("PHISCAN_FINGERPRINT_KEY")
        .env("NO_COLOR", "1");
    c
}

/// Runs `phiscan ARGS` in `dir`: exit status, stdout, stderr.
fn run(dir: &Path, args: &[&str], env: &[(&str, &str)]) -> (i32, String, String) {
    let mut cmd = phiscan(dir);
    cmd.args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A plain-FTP server (no TLS) with a login, holding `files`.
fn plain_ftp(files: &[(&str, &str)]) -> u16 {
    let mut root = Node::dir();
    for (name, text) in files {
        root.add(name.as_bytes(), text.as_bytes());
    }
    let mut script = Script::new(root);
    script.password = Some(PASSWORD.into());
    start_scripted(script).0
}

#[test]
fn fail_on_tells_exposure_from_phi() {
    let dir = tempfile::tempdir().unwrap();
    let port = plain_ftp(&[("notes.txt", "nothing personal here\n")]);
    let url = format!("ftp://bob:{PASSWORD}@127.0.0.1:{port}/");
    let scan = |fail_on: Option<&str>| {
        let mut args = vec!["scan", &url, "--no-anon-check", "--timeout", "5"];
        if let Some(f) = fail_on {
            args.extend(["--fail-on", f]);
        }
        let (code, stdout, stderr) = run(dir.path(), &args, &[]);
        assert!(stdout.contains("FTP_NO_TLS"), "{stdout}");
        assert!(!stdout.contains(PASSWORD) && !stderr.contains(PASSWORD));
        (code, stderr)
    };
    // An FTP server without TLS fails the audit by default, even with no
    // PHI on it: the administrator learns it.
    let (code, stderr) = scan(None);
    assert_eq!(code, 1, "{stderr}");
    assert_eq!(scan(Some("exposure")).0, 1);
    assert_eq!(scan(Some("exposure:HIGH")).0, 1);
    assert_eq!(scan(Some("HIGH")).0, 1);
    // Only PHI fails a CI job: no PHI here.
    assert_eq!(scan(Some("phi")).0, 0);
    assert_eq!(scan(Some("phi:LOW")).0, 0);
    assert_eq!(scan(Some("NONE")).0, 0, "a report-only run");

    // PHI in a local file: no exposure rows there.
    std::fs::write(
        dir.path().join("export.txt"),
        "enrollee 512-34-7890 added\n",
    )
    .unwrap();
    let local = |fail_on: &str| {
        run(
            dir.path(),
            &["scan", "export.txt", "--fail-on", fail_on],
            &[],
        )
        .0
    };
    assert_eq!(local("phi"), 1);
    assert_eq!(local("phi:MEDIUM"), 1);
    assert_eq!(local("phi:HIGH"), 0, "a MEDIUM SSN");
    assert_eq!(local("exposure"), 0);
    assert_eq!(local("phi:HIGH,exposure:LOW"), 0);
    assert_eq!(local("none"), 0);
}

#[test]
fn fail_on_refuses_what_it_does_not_know() {
    let dir = tempfile::tempdir().unwrap();
    for bad in ["SEVERE", "phi:SEVERE", "secrets", ""] {
        let (code, _, stderr) = run(dir.path(), &["scan", ".", "--fail-on", bad], &[]);
        assert_eq!(code, 2, "{bad:?}: {stderr}");
        assert!(stderr.contains("--fail-on"), "{bad:?}: {stderr}");
    }
    std::fs::write(dir.path().join("phiscan.toml"), "fail_on = \"phi:LOUD\"\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["scan", "."], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(
        stderr.contains("phiscan.toml") && stderr.contains("LOUD"),
        "{stderr}"
    );
}

#[test]
fn a_server_that_cannot_be_reached_is_its_own_status() {
    let dir = tempfile::tempdir().unwrap();
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let url = format!("ftp://127.0.0.1:{refused}/");
    let (code, _, stderr) = run(dir.path(), &["scan", &url, "--timeout", "5"], &[]);
    assert_eq!(code, 4, "not clean, not findings: {stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    // PHI elsewhere in the same run still makes it 1.
    std::fs::write(dir.path().join("a.txt"), "SSN 512-34-7890\n").unwrap();
    let (code, _, stderr) = run(dir.path(), &["scan", &url, "a.txt", "--timeout", "5"], &[]);
    assert_eq!(code, 1, "{stderr}");
}

#[test]
fn unsupported_schemes_are_named_with_the_supported_ones() {
    let dir = tempfile::tempdir().unwrap();
    for url in [
        "sftp://alice:Secret-Pw-1@host/x",
        "http://host/",
        "https://host/a",
        "smb://server/share",
    ] {
        let (code, _, stderr) = run(dir.path(), &["scan", url], &[]);
        let scheme = url.split("://").next().unwrap();
        assert_eq!(code, 2, "{url}: {stderr}");
        assert!(
            stderr.contains(&format!("{scheme}:// is not supported")),
            "{url}: {stderr}"
        );
        assert!(
            stderr.contains("supported: ftp, ftps, ftpes, file, local paths"),
            "{stderr}"
        );
        assert!(!stderr.contains("target not found"), "{stderr}");
        assert!(!stderr.contains("Secret-Pw-1"), "password shown: {stderr}");
    }
    // file:// is a local path.
    std::fs::create_dir(dir.path().join("share")).unwrap();
    std::fs::write(dir.path().join("share/a.txt"), "SSN 512-34-7890\n").unwrap();
    let url = format!("file://{}", dir.path().join("share").display());
    let (code, stdout, stderr) = run(dir.path(), &["scan", &url], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stdout.contains(",a.txt,SSN,"), "{stdout}");
}

#[test]
fn a_missing_target_from_the_settings_file_says_so() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("phiscan.toml"),
        "targets = [\"./mirror\"]\n",
    )
    .unwrap();
    let (code, _, stderr) = run(dir.path(), &["scan"], &[]);
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("target not found"), "{stderr}");
    assert!(stderr.contains("mirror"), "{stderr}");
    assert!(stderr.contains("(from phiscan.toml)"), "{stderr}");
    // On the command line: no file to name.
    let (code, _, stderr) = run(dir.path(), &["scan", "elsewhere"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("target not found: elsewhere"), "{stderr}");
    assert!(!stderr.contains("(from"), "{stderr}");
}

#[test]
fn an_empty_folder_warns_and_exits_3() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir(dir.path().join("mnt")).unwrap();
    let (code, _, stderr) = run(dir.path(), &["scan", "mnt"], &[]);
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("warning: nothing was scanned"), "{stderr}");
    // Quiet: the status still says it.
    let (code, _, stderr) = run(dir.path(), &["scan", "-q", "mnt"], &[]);
    assert_eq!(code, 3);
    assert!(stderr.is_empty(), "{stderr}");
}

#[test]
fn os_errors_are_printed_once() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &["scan", "a.txt", "-o", "no/such/folder/r.csv"],
        &[],
    );
    assert_ne!(code, 0, "{stderr}");
    assert_eq!(stderr.matches("os error 2").count(), 1, "{stderr}");
    assert!(stderr.contains("no/such/folder/r.csv"), "{stderr}");
}

#[test]
fn a_short_key_names_where_it_came_from() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello\n").unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &["scan", "a.txt"],
        &[("PHISCAN_FINGERPRINT_KEY", "short")],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("PHISCAN_FINGERPRINT_KEY"), "{stderr}");
    assert!(stderr.contains("too short"), "{stderr}");
    assert!(!stderr.contains("--fingerprint-key"), "{stderr}");
    let (code, _, stderr) = run(
        dir.path(),
        &["scan", "a.txt", "--fingerprint-key", "short"],
        &[],
    );
    assert_eq!(code, 2);
    assert!(stderr.contains("--fingerprint-key: "), "{stderr}");
    // The key file of a resumed run.
    std::fs::write(dir.path().join("r.csv.key"), "tiny\n").unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &["scan", "a.txt", "-o", "r.csv", "--resume", "r.state"],
        &[],
    );
    assert_eq!(code, 2, "{stderr}");
    assert!(stderr.contains("key file r.csv.key"), "{stderr}");
}

#[test]
fn unmask_warns_and_the_summary_lists_the_files_written() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "SSN 512-34-7890\n").unwrap();
    let (code, _, stderr) = run(
        dir.path(),
        &[
            "scan",
            "a.txt",
            "--unmask",
            "--format",
            "csv,jsonl",
            "--output-dir",
            "out",
            "--summary-json",
            "out/summary.json",
        ],
        &[],
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("warning: --unmask"), "{stderr}");
    assert!(
        stderr.contains(" MiB/s") && !stderr.contains(" MB/s"),
        "{stderr}"
    );
    let written = &stderr[stderr.find("written:").expect(&stderr)..];
    for file in [
        "out/phiscan.csv",
        "out/phiscan.jsonl",
        "out/summary.json",
        "out.key",
    ] {
        assert!(written.contains(file), "{file}: {written}");
    }
    let key_line = written.lines().find(|l| l.contains("key file")).unwrap();
    let key_path = key_line.split_whitespace().last().unwrap();
    assert!(dir.path().join(key_path).is_file(), "{key_line}");
    // Masked by default: no warning.
    let (_, _, stderr) = run(dir.path(), &["scan", "a.txt"], &[]);
    assert!(!stderr.contains("--unmask"), "{stderr}");
    assert!(!stderr.contains("written:"), "a report on stdout: {stderr}");
}

#[test]
fn aliases_of_neighbouring_tools() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "SSN 512-34-7890\n").unwrap();
    let key = [("PHISCAN_FINGERPRINT_KEY", "cli-ux-test-key-0123456789")];
    let (code, json, stderr) = run(dir.path(), &["scan", "a.txt", "--json", "-j", "1"], &key);
    assert_eq!(code, 1, "{stderr}");
    let (_, jsonl, _) = run(
        dir.path(),
        &["scan", "a.txt", "--format", "jsonl", "--threads", "1"],
        &key,
    );
    let without_summary = |s: &str| {
        s.lines()
            .filter(|l| !l.contains("\"type\":\"summary\""))
            .map(str::to_string)
            .collect::<Vec<_>>()
    };
    assert!(json.contains("\"entity\":\"SSN\""), "{json}");
    assert_eq!(without_summary(&json), without_summary(&jsonl));
    let (code, _, stderr) = run(
        dir.path(),
        &["scan", "a.txt", "--json", "--format", "csv"],
        &[],
    );
    assert_eq!(code, 2, "--json and --format exclude each other: {stderr}");
}

#[test]
fn completions_offer_the_values_of_format_and_fail_on() {
    let dir = tempfile::tempdir().unwrap();
    for shell in ["bash", "zsh", "fish"] {
        let (code, script, stderr) = run(dir.path(), &["completions", shell], &[]);
        assert_eq!(code, 0, "{stderr}");
        for value in ["jsonl", "sarif", "html", "MEDIUM", "NONE"] {
            assert!(script.contains(value), "{shell}: {value} not offered");
        }
        // zsh escapes the colon.
        assert!(
            script.contains("phi:HIGH") || script.contains("phi\\:HIGH"),
            "{shell}: phi:HIGH not offered"
        );
    }
}

#[test]
fn man_writes_a_page_per_command_with_every_option() {
    let dir = tempfile::tempdir().unwrap();
    let (code, page, stderr) = run(dir.path(), &["man", "scan"], &[]);
    assert_eq!(code, 0, "{stderr}");
    assert!(page.contains(".TH phiscan-scan 1"), "{page}");
    for option in [
        "fail\\-on",
        "output\\-dir",
        "threads",
        "json",
        "netrc",
        "resume",
    ] {
        assert!(
            page.contains(option),
            "{option} missing from phiscan-scan(1)"
        );
    }
    let (code, page, _) = run(dir.path(), &["man", "rules", "list"], &[]);
    assert_eq!(code, 0);
    assert!(page.contains(".TH phiscan-rules-list 1"), "{page}");
    let (code, _, stderr) = run(dir.path(), &["man", "scna"], &[]);
    assert_eq!(code, 2);
    assert!(stderr.contains("commands: scan, discover"), "{stderr}");

    let (code, _, stderr) = run(dir.path(), &["man", "--out", "pages"], &[]);
    assert_eq!(code, 0, "{stderr}");
    for name in [
        "phiscan.1",
        "phiscan-scan.1",
        "phiscan-discover.1",
        "phiscan-rules-test.1",
        "phiscan-baseline-create.1",
    ] {
        let text = std::fs::read_to_string(dir.path().join("pages").join(name)).unwrap();
        assert!(
            text.contains(".SH OPTIONS") || text.contains(".SH SUBCOMMANDS"),
            "{name}"
        );
    }
}
