//! The `phiscan` binary against FTP servers: passwords never leak, and
//! logins come from the URL, the environment, or a netrc file.

mod common;

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
    // Reachable, so its exposure (no TLS) is still reported: exit 1.
    assert_eq!(code, 1, "{stderr}");
    assert!(report.contains("FTP_NO_TLS"), "{report}");
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
