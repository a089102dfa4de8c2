//! The FTP crawler against real FTP servers in-process: libunftp (plain and
//! FTPS) serving folders, and a scripted server for failure cases.

use crate::common;

use common::{start_scripted, start_unftp, Node, Script};
use std::path::Path;
use std::sync::atomic::Ordering;
use std::time::Duration;

/// A small share with nested folders, PHI-like text, a binary file and a
/// file name that itself holds a date of birth.
fn build_share(root: &Path) -> (usize, u64) {
    let files: Vec<(&str, Vec<u8>)> = vec![
        ("readme.txt", b"Public share. Nothing to see here.\n".to_vec()),
        (
            "exports/patients.csv",
            b"name,ssn,dob,mrn\nJohn Smith,536-22-8145,1980-01-02,MRN 00123456\nJane Roe,412-67-9032,02/03/1975,MRN 00987654\n".to_vec(),
        ),
        (
            "exports/2024/notes.txt",
            b"Patient DOB 04/05/1961, phone (555) 201-3344, email jane.roe@example.org\n".to_vec(),
        ),
        ("exports/2024/deep/er/still.txt", b"SSN 123-45-6789\n".to_vec()),
        ("SMITH_JOHN_DOB_1980-01-02.txt", b"scan attached\n".to_vec()),
        ("bin/blob.bin", (0..=255u8).cycle().take(4096).collect()),
        ("spaces in name/a file.txt", b"card 4111 1111 1111 1111\n".to_vec()),
    ];
    let mut bytes = 0;
    for (path, content) in &files {
        let p = root.join(path);
        std::fs::create_dir_all(p.parent().unwrap()).unwrap();
        std::fs::write(&p, content).unwrap();
        bytes += content.len() as u64;
    }
    std::fs::create_dir_all(root.join("empty")).unwrap();
    (files.len(), bytes)
}

/// A rule pack for these tests (kept here so the FTP-vs-local comparisons
/// have findings to compare whatever the built-in pack holds).
fn test_rules(dir: &Path) -> std::path::PathBuf {
    let path = dir.join("test-rules.toml");
    std::fs::write(
        &path,
        r#"
[[rules]]
id = "test-ssn"
entity = "SSN"
description = "dashed SSN"
pattern = '\b\d{3}-\d{2}-\d{4}\b'
confidence = "MEDIUM"

[[rules]]
id = "test-date"
entity = "DOB"
description = "dates"
pattern = '\b(?:\d{4}-\d{2}-\d{2}|\d{2}/\d{2}/\d{4})\b'
confidence = "LOW"

[[rules]]
id = "test-email"
entity = "EMAIL"
description = "e-mail"
pattern = '\b[a-z.]+@[a-z.]+\.[a-z]{2,}\b'
confidence = "MEDIUM"
"#,
    )
    .unwrap();
    path
}

/// Report rows without the target column, sorted.
/// Rows minus the target and the fingerprint (each scan without a key
/// makes its own), for comparing an FTP scan with a local one.
fn rows_without_target(rows: &[Vec<String>]) -> Vec<Vec<String>> {
    let mut out: Vec<Vec<String>> = rows
        .iter()
        .filter(|r| !r.get(2).is_some_and(|e| e.starts_with("FTP_")))
        .map(|r| r.iter().skip(1).take(9).cloned().collect())
        .collect();
    out.sort();
    out
}

#[test]
fn crawls_libunftp_and_matches_the_local_scan() {
    let dir = tempfile::tempdir().unwrap();
    let (n_files, n_bytes) = build_share(dir.path());
    let port = start_unftp(dir.path(), None);
    let url = format!("ftp://127.0.0.1:{port}/");
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = test_rules(rules_dir.path());
    let only_test_rules = |c: &mut phiscan::config::ScanConfig| {
        c.rule_paths = vec![rules.clone()];
        c.default_rules = false;
    };
    let ftp = common::scan(&[&url], only_test_rules);
    let local = common::scan(&[&dir.path().display().to_string()], only_test_rules);
    let mut ssn: Vec<(String, String)> = ftp
        .entity("SSN")
        .iter()
        .map(|r| (r[1].clone(), r[5].clone()))
        .collect();
    ssn.sort();
    let expected = [
        ("exports/2024/deep/er/still.txt", "1"),
        ("exports/patients.csv", "2"),
        ("exports/patients.csv", "3"),
    ];
    assert_eq!(ssn, expected.map(|(p, l)| (p.to_string(), l.to_string())));
    // The DOB in the file name is found through the path.
    assert!(
        ftp.entity("DOB")
            .iter()
            .any(|r| r[1] == "SMITH_JOHN_DOB_1980-**-**.txt" && r[7] == "path"),
        "{:?}",
        ftp.rows
    );
    assert!(ftp
        .entity("EMAIL")
        .iter()
        .any(|r| r[1] == "exports/2024/notes.txt"));

    assert_eq!(ftp.skipped(), vec![], "nothing should be left unexamined");
    assert_eq!(ftp.summary.files_scanned, n_files as u64);
    assert_eq!(ftp.summary.bytes_read, n_bytes);
    assert_eq!(
        rows_without_target(&ftp.rows),
        rows_without_target(&local.rows)
    );
    assert_eq!(ftp.summary.files_scanned, local.summary.files_scanned);

    // Exposure: anonymous login and no TLS, once each, server-level.
    let anon = ftp.entity("FTP_ANONYMOUS_LOGIN");
    assert_eq!(anon.len(), 1);
    assert_eq!(anon[0][0], url);
    assert_eq!(anon[0][1], "");
    assert_eq!(anon[0][3], "ftp-anonymous-login");
    assert_eq!(anon[0][4], "HIGH");
    assert_eq!((anon[0][5].as_str(), anon[0][6].as_str()), ("", ""));
    assert_eq!(ftp.entity("FTP_NO_TLS").len(), 1);
    let info = &ftp.summary.targets[&url].info;
    assert_eq!(info["banner"], "phiscan test server");
    assert_eq!(
        info["tls"],
        "not used (ftp:// target); FEAT does not list AUTH TLS"
    );
    assert_eq!(info["listing"], "MLSD");
}

#[test]
fn url_path_scopes_the_crawl_and_paths_are_relative_to_it() {
    let dir = tempfile::tempdir().unwrap();
    build_share(dir.path());
    let port = start_unftp(dir.path(), None);
    let rules_dir = tempfile::tempdir().unwrap();
    let rules = test_rules(rules_dir.path());
    let ftp = common::scan(&[&format!("ftp://127.0.0.1:{port}/exports")], |c| {
        c.rule_paths = vec![rules.clone()]
    });
    let local = common::scan(&[&dir.path().join("exports").display().to_string()], |c| {
        c.rule_paths = vec![rules.clone()]
    });
    assert_eq!(ftp.skipped(), vec![]);
    assert!(
        ftp.entity("SSN")
            .iter()
            .any(|r| r[1] == "2024/deep/er/still.txt"),
        "{:?}",
        ftp.rows
    );
    assert_eq!(ftp.summary.files_scanned, 3);
    assert_eq!(
        rows_without_target(&ftp.rows),
        rows_without_target(&local.rows)
    );
}

#[test]
fn max_bytes_truncation_keeps_every_connection_in_step() {
    // 40 files of 256 KiB read 100 bytes each over ONE connection: every
    // transfer is cut short, and the next command must still work.
    let dir = tempfile::tempdir().unwrap();
    let body: Vec<u8> = b"0123456789abcdef\n"
        .iter()
        .copied()
        .cycle()
        .take(256 * 1024)
        .collect();
    for i in 0..40 {
        std::fs::write(dir.path().join(format!("f{i:02}.txt")), &body).unwrap();
    }
    let port = start_unftp(dir.path(), None);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.max_bytes = Some(100);
        c.ftp.connections = 1;
    });
    assert_eq!(out.skipped(), vec![]);
    assert_eq!(out.summary.files_scanned, 40);
    assert_eq!(out.summary.bytes_read, 40 * 100);
    assert_eq!(out.summary.files_truncated, 40);
}

/// The test share served by libunftp over FTPS with a self-signed
/// certificate; the folders live as long as this.
struct FtpsShare {
    _dir: tempfile::TempDir,
    _certs: tempfile::TempDir,
    files: u64,
    bytes: u64,
    port: u16,
}

fn ftps_share() -> FtpsShare {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let (files, bytes) = build_share(dir.path());
    let port = start_unftp(dir.path(), Some(common::self_signed_cert(certs.path())));
    FtpsShare {
        _dir: dir,
        _certs: certs,
        files: files as u64,
        bytes,
        port,
    }
}

#[test]
fn ftps_self_signed_is_refused_without_insecure_and_accepted_with_it() {
    let share = ftps_share();
    let url = format!("ftps://127.0.0.1:{}/", share.port);

    let refused = common::scan(&[&url], |_| {});
    assert_eq!(refused.summary.files_scanned, 0);
    let skipped = refused.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].1, "network");
    assert!(skipped[0].2.contains("certificate"), "{skipped:?}");
    assert!(skipped[0].2.contains("--insecure"), "{skipped:?}");

    let accepted = common::scan(&[&url], |c| c.ftp.insecure = true);
    assert_eq!(accepted.skipped(), vec![]);
    assert_eq!(accepted.summary.files_scanned, share.files);
    assert_eq!(accepted.summary.bytes_read, share.bytes);
    assert!(accepted.entity("FTP_NO_TLS").is_empty());
    assert!(accepted.summary.targets[&url].info["tls"].contains("PROT P"));
}

#[test]
fn ftps_handshake_that_breaks_is_retried_and_a_certificate_verdict_is_not() {
    let share = ftps_share();
    // Connection 1 works (and meets the certificate); connection 2 breaks
    // after AUTH TLS; connection 3 works.
    let (port, connections) = common::start_tls_race_proxy(share.port, &[2]);
    let url = format!("ftps://127.0.0.1:{port}/");

    let refused = common::scan(&[&url], |c| c.ftp.connections = 1);
    let skipped = refused.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert!(skipped[0].2.contains("certificate"), "{skipped:?}");
    // The same certificate would be refused again: no second attempt.
    assert_eq!(connections.load(Ordering::SeqCst), 1);

    let accepted = common::scan(&[&url], |c| {
        c.ftp.connections = 1;
        c.ftp.insecure = true;
    });
    assert_eq!(accepted.skipped(), vec![]);
    assert_eq!(accepted.summary.files_scanned, share.files);
    assert_eq!(accepted.summary.bytes_read, share.bytes);
    assert_eq!(connections.load(Ordering::SeqCst), 3);
}

#[test]
fn check_write_creates_and_removes_a_directory() {
    let dir = tempfile::tempdir().unwrap();
    build_share(dir.path());
    let port = start_unftp(dir.path(), None);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.ftp.check_write = true
    });
    // The same probes as `discover --check-write`: a uniquely named folder
    // (MKD) and empty file (STOR) in the login folder, each removed again.
    let write = out.entity("FTP_ANONYMOUS_WRITE");
    assert_eq!(write.len(), 1, "{:?}", out.rows);
    assert_eq!(write[0][8], "MKD, STOR", "{:?}", write[0]);
    assert!(write[0][9].contains("the login folder"), "{:?}", write[0]);
    let url = format!("ftp://127.0.0.1:{port}/");
    assert_eq!(
        out.summary.targets[&url].info["check anonymous_write"],
        "found (1 row)"
    );
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with("phiscan-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "a write probe was left: {leftovers:?}"
    );
    // Without the flag the server is not changed and nothing is claimed.
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |_| {});
    assert!(out.entity("FTP_ANONYMOUS_WRITE").is_empty());
}

fn scripted_tree() -> Node {
    let mut root = Node::dir();
    root.add(b"a.txt", b"alpha\n");
    root.add(b"docs/b.txt", b"bravo bravo\n");
    root.add(b"docs/deeper/c.txt", b"charlie\n");
    root
}

#[test]
fn list_only_server_with_dos_listing_and_garbage_lines() {
    let mut script = Script::new(scripted_tree());
    script.dos = true;
    script.garbage = vec![
        "this is not a listing line".into(),
        "<html>oops</html>".into(),
    ];
    let (port, log) = start_scripted(script);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |_| {});
    assert_eq!(out.summary.files_scanned, 3);
    assert_eq!(out.summary.bytes_read, 6 + 12 + 8);
    let bad: Vec<_> = out
        .skipped()
        .into_iter()
        .filter(|s| s.1 == "bad_listing")
        .collect();
    // Every listed folder got the two garbage lines, each counted, none a path.
    assert_eq!(bad.len(), 3, "{bad:?}");
    assert!(
        bad.iter()
            .all(|b| b.2.starts_with("2 line(s) of the LIST listing")),
        "{bad:?}"
    );
    let log = log.lock().unwrap();
    assert!(
        !log.iter().any(|l| l.starts_with(b"MLSD")),
        "MLSD was not advertised"
    );
    assert!(!log
        .iter()
        .any(|l| l.windows(7).any(|w| w == b"garbage" || w == b"<html>o")));
}

#[test]
fn unix_list_and_mlsd_servers_give_the_same_crawl() {
    for mlsd in [false, true] {
        let mut script = Script::new(scripted_tree());
        script.mlsd = mlsd;
        let (port, log) = start_scripted(script);
        let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |_| {});
        assert_eq!(out.skipped(), vec![], "mlsd={mlsd}");
        assert_eq!(out.summary.files_scanned, 3);
        let log = log.lock().unwrap();
        assert_eq!(log.iter().any(|l| l.starts_with(b"MLSD")), mlsd);
        // Binary mode right after login, before any transfer.
        let pass = log.iter().position(|l| l.starts_with(b"PASS")).unwrap();
        assert_eq!(log.get(pass + 1).map(Vec::as_slice), Some(&b"TYPE I"[..]));
    }
}

#[test]
fn latin1_names_round_trip_from_listing_to_retrieval() {
    let mut root = Node::dir();
    root.add(b"caf\xe9/r\xe9sum\xe9.txt", b"latin-1 name\n");
    root.add("naïve.txt".as_bytes(), b"utf-8 name\n");
    let (port, log) = start_scripted(Script::new(root));
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |_| {});
    assert_eq!(out.skipped(), vec![]);
    assert_eq!(out.summary.files_scanned, 2);
    let log = log.lock().unwrap();
    assert!(log.iter().any(|l| l == b"CWD /caf\xe9"), "{log:?}");
    assert!(log.iter().any(|l| l == b"RETR /caf\xe9/r\xe9sum\xe9.txt"));
    assert!(log.iter().any(|l| l == "RETR /naïve.txt".as_bytes()));
}

#[test]
fn vanished_file_and_denied_folder_are_reported_and_the_crawl_goes_on() {
    let mut root = scripted_tree();
    root.add(b"gone.txt", b"deleted before RETR\n");
    root.add(b"secret/x.txt", b"hidden\n");
    let mut script = Script::new(root);
    script.vanish = Some(b"/gone.txt".to_vec());
    script.deny = Some(b"/secret".to_vec());
    let (port, _) = start_scripted(script);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |_| {});
    assert_eq!(out.summary.files_scanned, 3);
    let mut skipped = out.skipped();
    skipped.sort();
    assert_eq!(skipped.len(), 2, "{skipped:?}");
    assert_eq!(skipped[0].0, "gone.txt");
    assert_eq!(skipped[0].1, "unreadable");
    assert!(skipped[0].2.contains("cannot retrieve: 550"), "{skipped:?}");
    assert_eq!(skipped[1].0, "secret");
    assert_eq!(skipped[1].1, "unreadable");
    assert!(
        skipped[1]
            .2
            .contains("cannot list directory secret: 550 Permission denied"),
        "{skipped:?}"
    );
    assert!(out.summary.incomplete());
}

#[test]
fn server_that_stops_answering_mid_transfer_times_out_and_the_crawl_goes_on() {
    let mut root = scripted_tree();
    root.add(b"stall.txt", &vec![b'x'; 200_000]);
    let mut script = Script::new(root);
    script.stall = Some(b"/stall.txt".to_vec());
    let (port, _) = start_scripted(script);
    let started = std::time::Instant::now();
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.ftp.timeout_secs = 2;
        c.ftp.connections = 1;
    });
    assert!(started.elapsed() < Duration::from_secs(30));
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].0, "stall.txt");
    assert_eq!(skipped[0].1, "network");
    assert!(
        skipped[0].2.contains("FTP data connection failed after"),
        "{skipped:?}"
    );
    assert!(skipped[0].2.contains("timed out"), "{skipped:?}");
    // The other files were still fetched (over a new connection).
    assert_eq!(out.summary.files_scanned, 3);
}

#[test]
fn connection_refused_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.ftp.retries = 1
    });
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1);
    assert_eq!(skipped[0].1, "network");
    assert_eq!(
        skipped[0].2,
        format!("cannot connect to 127.0.0.1:{port}: connection refused")
    );
    assert!(out.rows.is_empty());
}

#[test]
fn world_writable_folders_limits_and_tail_sampling() {
    let mut root = scripted_tree();
    root.add_dir(b"incoming");
    let big: Vec<u8> = (0..100_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    root.add(b"big.log", &big);
    let mut script = Script::new(root);
    script.world_writable = vec![b"/incoming".to_vec()];
    let (port, log) = start_scripted(script);
    let url = format!("ftp://127.0.0.1:{port}/");

    let out = common::scan(&[&url], |c| {
        c.max_bytes = Some(1000);
        c.ftp.sample_tail = Some(500);
    });
    let ww = out.entity("FTP_WORLD_WRITABLE");
    assert_eq!(ww.len(), 1);
    assert_eq!(
        (ww[0][1].as_str(), ww[0][8].as_str()),
        ("incoming", "drwxrwxrwx")
    );
    // big.log: 1000 head bytes + 500 tail bytes via REST; the rest whole.
    assert_eq!(out.summary.bytes_read, 1500 + 6 + 12 + 8);
    assert_eq!(out.summary.files_truncated, 1);
    assert!(log.lock().unwrap().iter().any(|l| l == b"REST 99500"));

    let out = common::scan(&[&url], |c| c.ftp.skip_larger_than = Some(50_000));
    assert_eq!(out.summary.files_scanned, 3);
    assert_eq!(out.skipped()[0].0, "big.log");
    assert_eq!(out.skipped()[0].1, "too_large");

    let out = common::scan(&[&url], |c| c.ftp.max_depth = Some(1));
    assert_eq!(
        out.summary.files_scanned, 3,
        "docs/deeper/c.txt is too deep"
    );
    assert_eq!(out.skipped()[0].0, "docs/deeper");
    assert_eq!(out.skipped()[0].1, "limit");

    let out = common::scan(&[&url], |c| {
        c.ftp.max_files = Some(2);
        c.ftp.connections = 1;
    });
    assert_eq!(out.summary.files_scanned, 2);
    assert!(out.skipped()[0].2.contains("--max-files 2"));
}

#[test]
fn include_and_exclude_apply_to_server_paths() {
    let (port, _) = start_scripted(Script::new(scripted_tree()));
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.exclude = vec!["deeper".into()];
    });
    assert_eq!(out.summary.files_scanned, 2);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.include = vec!["docs/**".into()];
    });
    assert_eq!(out.summary.files_scanned, 2);
}

#[test]
fn active_mode_transfers_over_port_connections() {
    let (port, log) = start_scripted(Script::new(scripted_tree()));
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.ftp.active = true
    });
    assert_eq!(out.skipped(), vec![]);
    assert_eq!(out.summary.files_scanned, 3);
    let log = log.lock().unwrap();
    assert!(log
        .iter()
        .any(|l| l.starts_with(b"PORT ") || l.starts_with(b"EPRT ")));
    assert!(!log
        .iter()
        .any(|l| l.starts_with(b"EPSV") || l.starts_with(b"PASV")));
}

#[test]
fn fixtures_share_over_ftp_gives_the_same_findings_as_scanning_it_locally() {
    let share = Path::new(env!("CARGO_MANIFEST_DIR")).join("fixtures/share");
    let port = start_unftp(&share, None);
    let url = format!("ftp://127.0.0.1:{port}/");
    let ftp = common::scan(&[&url], |_| {});
    let local = common::scan(&[&share.display().to_string()], |_| {});
    let local_rows = rows_without_target(&local.rows);
    assert!(
        local_rows.len() > 10,
        "the fixtures hold findings: {local_rows:?}"
    );
    assert_eq!(rows_without_target(&ftp.rows), local_rows);
    assert_eq!(ftp.summary.files_scanned, local.summary.files_scanned);
    assert_eq!(ftp.summary.bytes_read, local.summary.bytes_read);
    assert_eq!(ftp.summary.not_examined, local.summary.not_examined);
    assert!(ftp.rows.iter().all(|r| r[0] == url));

    // A sub-folder URL: paths relative to it, findings as for that folder.
    let sub = format!("ftp://127.0.0.1:{port}/clinical");
    let ftp = common::scan(&[&sub], |_| {});
    let local = common::scan(&[&share.join("clinical").display().to_string()], |_| {});
    assert!(!rows_without_target(&local.rows).is_empty());
    assert_eq!(
        rows_without_target(&ftp.rows),
        rows_without_target(&local.rows)
    );
}

#[test]
fn transient_failures_are_retried() {
    let mut script = Script::new(scripted_tree());
    script.flaky = Some(b"/docs/b.txt".to_vec());
    let (port, log) = start_scripted(script);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |_| {});
    assert_eq!(out.skipped(), vec![]);
    assert_eq!(out.summary.files_scanned, 3);
    let retrs = log
        .lock()
        .unwrap()
        .iter()
        .filter(|l| l.as_slice() == b"RETR /docs/b.txt")
        .count();
    assert_eq!(retrs, 2, "one 450, then a successful retry");
}

#[test]
fn anonymous_login_is_checked_even_with_credentials_unless_disabled() {
    let dir = tempfile::tempdir().unwrap();
    build_share(dir.path());
    // libunftp's default authenticator lets anyone in, anonymous included.
    let port = start_unftp(dir.path(), None);
    let url = format!("ftp://alice:Secret-Pw-55@127.0.0.1:{port}/");
    let out = common::scan(&[&url], |_| {});
    assert_eq!(out.entity("FTP_ANONYMOUS_LOGIN").len(), 1);
    assert!(!out.csv.contains("Secret-Pw-55"));
    assert_eq!(out.rows[0][0], format!("ftp://alice@127.0.0.1:{port}/"));
    let out = common::scan(&[&url], |c| c.ftp.check_write = true);
    assert_eq!(out.entity("FTP_ANONYMOUS_WRITE").len(), 1, "{:?}", out.rows);
    let out = common::scan(&[&url], |c| c.ftp.anon_check = false);
    assert!(out.entity("FTP_ANONYMOUS_LOGIN").is_empty());
    assert_eq!(out.skipped(), vec![]);
}

#[test]
fn symlinks_are_followed_only_when_asked_and_loops_are_cut() {
    let mut root = scripted_tree();
    root.add_link(b"docs/again", b"/docs");
    root.add_link(b"alias.txt", b"/a.txt");
    root.add_link(b"elsewhere", b"/docs/deeper");
    let (port, _) = start_scripted(Script::new(root));
    let url = format!("ftp://127.0.0.1:{port}/");
    let out = common::scan(&[&url], |_| {});
    assert_eq!(out.skipped(), vec![]);
    assert_eq!(
        out.summary.files_scanned, 3,
        "links are not followed by default"
    );
    let out = common::scan(&[&url], |c| c.ftp.follow_links = true);
    assert_eq!(out.skipped(), vec![]);
    // a.txt, docs/b.txt, docs/deeper/c.txt; alias.txt (a file link);
    // elsewhere/c.txt is reached through a link to a folder not listed
    // yet or already listed, depending on order: docs/again loops back
    // to /docs and is cut. Whatever the order, each real folder is
    // listed once, so c.txt is read once.
    assert_eq!(out.summary.files_scanned, 4);
}

#[test]
fn transfer_dropped_by_the_server_is_a_network_error_and_the_crawl_goes_on() {
    let mut root = scripted_tree();
    root.add(b"cut.txt", &vec![b'y'; 100_000]);
    let mut script = Script::new(root);
    script.cut = Some(b"/cut.txt".to_vec());
    let (port, _) = start_scripted(script);
    let out = common::scan(&[&format!("ftp://127.0.0.1:{port}/")], |c| {
        c.ftp.connections = 1;
    });
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        (skipped[0].0.as_str(), skipped[0].1.as_str()),
        ("cut.txt", "network")
    );
    assert!(
        skipped[0]
            .2
            .starts_with("transfer failed after 50000 bytes: 426"),
        "{skipped:?}"
    );
    // The half that arrived was matched, but the file is not counted as
    // scanned (nor its bytes): its verdict is "not examined". The other
    // files were scanned, on the same connection.
    assert_eq!(out.summary.files_scanned, 3);
    assert_eq!(out.summary.bytes_read, 6 + 12 + 8);
}
