//! The `phiscan` binary against FTP servers: passwords never leak, and
//! logins come from the URL, the environment, or a netrc file.

use crate::common;

use assert_cmd::Command;
use common::{start_scripted, Node, Script};

const PASSWORD: &str = "Zebra-Quokka-7731";

fn server() -> u16 {
    let mut root = Node::dir();
    root.add(b"a.txt", b"hello\n");
    let mut script = Script::new(root);
    script.password = Some(PASSWORD.into());
    start_scripted(script).0
}

fn run(args: &[&str], env: &[(&str, &str)]) -> (i32, String, String, String) {
    let dir = tempfile::tempdir().unwrap();
    let report = dir.path().join("r.csv");
    let mut cmd = Command::cargo_bin("phiscan").unwrap();
    cmd.arg("scan")
        .args(args)
        .arg("-o")
        .arg(&report)
        .arg("--timeout")
        .arg("5");
    cmd.env_remove("PHISCAN_FTP_PASSWORD");
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
        std::fs::read_to_string(&report).unwrap_or_default(),
    )
}

#[test]
fn wrong_password_is_a_clear_error_that_never_shows_the_password() {
    let port = server();
    let wrong = "Wrong-Walrus-4410";
    let (code, stdout, stderr, report) =
        run(&[&format!("ftp://bob:{wrong}@127.0.0.1:{port}/data")], &[]);
    // Reachable, so its exposure (no TLS) is still reported; but the login
    // failed: nothing was read, and that row does not make it exit 1.
    assert_eq!(code, 3, "{stderr}");
    assert!(report.contains("FTP_NO_TLS"), "{report}");
    assert!(
        stderr.contains("login failed: nothing on this server was read"),
        "{stderr}"
    );
    assert!(
        stderr.contains("cannot log in as bob: 530 Login incorrect"),
        "{stderr}"
    );
    assert!(
        stderr.contains(&format!("ftp://bob@127.0.0.1:{port}/data")),
        "{stderr}"
    );
    for text in [&stdout, &stderr, &report] {
        assert!(!text.contains(wrong), "password leaked: {text}");
    }
}

#[test]
fn right_password_from_url_env_or_netrc_logs_in_and_never_shows_it() {
    let port = server();
    let netrc_dir = tempfile::tempdir().unwrap();
    let netrc = netrc_dir.path().join("netrc");
    std::fs::write(
        &netrc,
        format!("machine 127.0.0.1 login bob password {PASSWORD}\n"),
    )
    .unwrap();
    let netrc = netrc.display().to_string();
    let url_pw = format!("ftp://bob:{PASSWORD}@127.0.0.1:{port}/");
    let url_user = format!("ftp://bob@127.0.0.1:{port}/");
    let url_bare = format!("ftp://127.0.0.1:{port}/");
    type Case<'a> = (Vec<&'a str>, Vec<(&'a str, &'a str)>);
    let cases: Vec<Case> = vec![
        (vec![url_pw.as_str()], vec![]),
        (
            vec![url_user.as_str()],
            vec![("PHISCAN_FTP_PASSWORD", PASSWORD)],
        ),
        (vec![url_bare.as_str(), "--netrc", netrc.as_str()], vec![]),
    ];
    for (args, env) in cases {
        let (code, stdout, stderr, report) = run(&args, &env);
        assert!(stderr.contains("files scanned: 1"), "{args:?}: {stderr}");
        // This scripted server accepts any user with the password, so the
        // anonymous check (wrong password) fails: no finding.
        assert!(!report.contains("FTP_ANONYMOUS_LOGIN"), "{report}");
        assert!(report.contains("FTP_NO_TLS"), "{report}");
        assert_eq!(code, 1, "{args:?}: {stderr}");
        for text in [&stdout, &stderr, &report] {
            assert!(
                !text.contains(PASSWORD),
                "password leaked for {args:?}: {text}"
            );
        }
    }
}

#[test]
fn targets_file_mixes_servers_and_comments() {
    let port = server();
    let dir = tempfile::tempdir().unwrap();
    let list = dir.path().join("targets.txt");
    let refused = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    std::fs::write(
        &list,
        format!("# audit list\nftp://bob:{PASSWORD}@127.0.0.1:{port}/   # main\n\nftp://127.0.0.1:{refused}/\n"),
    )
    .unwrap();
    let (_, _, stderr, report) = run(
        &["--targets", &list.display().to_string(), "--no-anon-check"],
        &[],
    );
    assert!(stderr.contains("files scanned: 1"), "{stderr}");
    assert!(
        stderr.contains(&format!("cannot connect to 127.0.0.1:{refused}")),
        "{stderr}"
    );
    assert!(!stderr.contains(PASSWORD) && !report.contains(PASSWORD));
}

/// Every place a password can come from × every verbosity × success and
/// login failure, with every report format, the summary JSON and a resume
/// state written: the password is nowhere, and nothing panicked.
#[test]
fn password_never_appears_at_any_verbosity_in_any_output() {
    let port = server();
    let wrong = "Wrong-Walrus-4410";
    let dir = tempfile::tempdir().unwrap();
    let netrc_ok = dir.path().join("netrc-ok");
    let netrc_bad = dir.path().join("netrc-bad");
    std::fs::write(
        &netrc_ok,
        format!("machine 127.0.0.1 login bob password {PASSWORD}\n"),
    )
    .unwrap();
    std::fs::write(
        &netrc_bad,
        format!("machine 127.0.0.1 login bob password {wrong}\n"),
    )
    .unwrap();
    let bare = format!("ftp://127.0.0.1:{port}/");
    let user = format!("ftp://bob@127.0.0.1:{port}/");
    /// Arguments, environment, the password used, whether the login succeeds.
    type Source<'a> = (Vec<String>, Vec<(&'a str, &'a str)>, &'a str, bool);
    let sources: Vec<Source> = vec![
        (
            vec![format!("ftp://bob:{PASSWORD}@127.0.0.1:{port}/")],
            vec![],
            PASSWORD,
            true,
        ),
        (
            vec![format!("ftp://bob:{wrong}@127.0.0.1:{port}/")],
            vec![],
            wrong,
            false,
        ),
        (
            vec![user.clone()],
            vec![("PHISCAN_FTP_PASSWORD", PASSWORD)],
            PASSWORD,
            true,
        ),
        (
            vec![user.clone()],
            vec![("PHISCAN_FTP_PASSWORD", wrong)],
            wrong,
            false,
        ),
        (
            vec![
                bare.clone(),
                "--netrc".into(),
                netrc_ok.display().to_string(),
            ],
            vec![],
            PASSWORD,
            true,
        ),
        (
            vec![
                bare.clone(),
                "--netrc".into(),
                netrc_bad.display().to_string(),
            ],
            vec![],
            wrong,
            false,
        ),
    ];
    let verbosities: [&[&str]; 4] = [&[], &["-q"], &["--progress"], &["-q", "--progress"]];
    for (args, env, password, ok) in &sources {
        for verbosity in verbosities {
            let run_dir = tempfile::tempdir().unwrap();
            let out = run_dir.path().join("out");
            let mut cmd = Command::cargo_bin("phiscan").unwrap();
            cmd.arg("scan")
                .args(args)
                .args(verbosity)
                .args(["--format", "csv,jsonl,sarif,html", "--timeout", "5"])
                .arg("--output-dir")
                .arg(&out)
                .arg("--summary-json")
                .arg(run_dir.path().join("summary.json"))
                .arg("--resume")
                .arg(run_dir.path().join("state"))
                .env_remove("PHISCAN_FTP_PASSWORD")
                .env("RUST_BACKTRACE", "1");
            for (k, v) in env {
                cmd.env(k, v);
            }
            let output = cmd.output().unwrap();
            let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
            // Logged in: FTP_NO_TLS is a finding (1); login failed: 3.
            assert_eq!(
                output.status.code(),
                Some(if *ok { 1 } else { 3 }),
                "{args:?} {verbosity:?}: {stderr}"
            );
            assert!(!stderr.contains("panicked"), "{stderr}");
            if !verbosity.contains(&"-q") {
                if *ok {
                    assert!(stderr.contains("files scanned: 1"), "{args:?}: {stderr}");
                } else {
                    assert!(
                        stderr.contains("cannot log in as bob"),
                        "{args:?}: {stderr}"
                    );
                }
            }
            let mut texts = vec![
                (
                    "stdout".to_string(),
                    String::from_utf8_lossy(&output.stdout).into_owned(),
                ),
                ("stderr".to_string(), stderr),
            ];
            for e in walkdir::WalkDir::new(run_dir.path()) {
                let e = e.unwrap();
                if e.file_type().is_file() {
                    let text =
                        String::from_utf8_lossy(&std::fs::read(e.path()).unwrap()).into_owned();
                    texts.push((e.path().display().to_string(), text));
                }
            }
            assert!(texts.len() >= 8, "{texts:?}");
            for (name, text) in &texts {
                assert!(
                    !text.contains(password),
                    "password leaked into {name} for {args:?} {verbosity:?}: {text}"
                );
            }
        }
    }
}

#[test]
fn user_without_password_exits_3_and_says_how_to_give_one() {
    let port = server();
    let dir = tempfile::tempdir().unwrap();
    let summary = dir.path().join("summary.json");
    let url = format!("ftp://bob@127.0.0.1:{port}/");
    let (code, _stdout, stderr, report) = run(
        &[&url, "--summary-json", &summary.display().to_string()],
        &[],
    );
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("no password was given for bob"), "{stderr}");
    assert!(stderr.contains("PHISCAN_FTP_PASSWORD"), "{stderr}");
    assert!(stderr.contains("--netrc"), "{stderr}");
    assert!(report.contains("FTP_NO_TLS"), "{report}");
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&summary).unwrap()).unwrap();
    assert_eq!(json["targets"][&url]["access"], "login_failed");
    assert_eq!(json["incomplete"], true);
}

#[test]
fn findings_on_a_target_that_was_read_still_exit_1_beside_a_failed_login() {
    let port = server();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("p.txt"), "SSN 536-22-8145\n").unwrap();
    let url = format!("ftp://bob:Wrong-Walrus-4410@127.0.0.1:{port}/");
    let (code, _, stderr, _) = run(&[&url, &dir.path().display().to_string()], &[]);
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("login failed"), "{stderr}");
}
