//! The FTP client on real servers (issue 14, section 3): implicit and
//! explicit TLS told apart, EPSV refused, a URL naming a file, a failed
//! login, and summary lines that say what happened. libunftp serves real
//! folders (FTPS; implicit TLS through `common::implicit_tls`); the scripted
//! server shows what libunftp cannot (a refused EPSV, a slow greeting).

use crate::common;

use common::{start_scripted, start_unftp, AuthTls, Node, Script};
use std::path::Path;

const SSN_TEXT: &[u8] = b"SSN 536-22-8145\n";

/// Lines the server logged for commands starting with `prefix`.
fn logged(log: &common::Log, prefix: &[u8]) -> Vec<Vec<u8>> {
    log.lock()
        .unwrap()
        .iter()
        .filter(|l| l.starts_with(prefix))
        .cloned()
        .collect()
}

/// A small share: two files with an SSN each, one in a folder.
fn share(root: &Path) -> u64 {
    std::fs::create_dir_all(root.join("billing")).unwrap();
    std::fs::write(
        root.join("billing/patients.csv"),
        b"name,ssn\nJohn Smith,536-22-8145\nJane Roe,412-67-9032\n",
    )
    .unwrap();
    std::fs::write(root.join("notes.txt"), SSN_TEXT).unwrap();
    2
}

/// Report rows without the target column (and without exposure rows),
/// sorted, to compare an FTP scan with a local one.
fn content_rows(out: &common::Outcome) -> Vec<Vec<String>> {
    let mut rows: Vec<Vec<String>> = out
        .rows
        .iter()
        .filter(|r| !r[2].starts_with("FTP_"))
        .map(|r| r.iter().skip(1).cloned().collect())
        .collect();
    rows.sort();
    rows
}

fn with_key(c: &mut phiscan::config::ScanConfig) {
    c.fingerprint_key = Some("phiscan-test-key-0123456789".into());
}

/// libunftp over FTPS, and the implicit-TLS proxy in front of it.
struct TlsServers {
    _dir: tempfile::TempDir,
    _certs: tempfile::TempDir,
    files: u64,
    explicit: u16,
    implicit: u16,
}

fn tls_servers() -> TlsServers {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    let files = share(dir.path());
    let (cert, key) = common::self_signed_cert(certs.path());
    let explicit = start_unftp(dir.path(), Some((cert.clone(), key.clone())));
    let (implicit, _) = common::implicit_tls::start(explicit, (&cert, &key));
    TlsServers {
        _dir: dir,
        _certs: certs,
        files,
        explicit,
        implicit,
    }
}

// ---------------------------------------------------------------- TLS

#[test]
fn ftps_finds_implicit_tls_where_the_server_waits_for_the_hello() {
    let servers = tls_servers();
    let url = format!("ftps://127.0.0.1:{}/", servers.implicit);
    let out = common::scan(&[&url], |c| {
        c.ftp.insecure = true;
        c.ftp.connections = 2;
    });
    assert_eq!(out.skipped(), vec![]);
    assert_eq!(out.summary.files_scanned, servers.files);
    assert_eq!(out.entity("SSN").len(), 3, "{:?}", out.rows);
    let info = &out.summary.targets[&url].info;
    assert_eq!(
        info["tls"],
        "implicit TLS; PROT P accepted: data connections encrypted"
    );
    assert_eq!(info["banner"], "phiscan test server");
    assert!(out.entity("FTP_NO_TLS").is_empty());
    assert_eq!(out.entity("FTP_ANONYMOUS_LOGIN").len(), 1);
}

#[test]
fn implicit_tls_with_an_untrusted_certificate_is_refused_with_the_hint() {
    let servers = tls_servers();
    let url = format!("ftps://127.0.0.1:{}/", servers.implicit);
    let out = common::scan(&[&url], |_| {});
    assert_eq!(out.summary.files_scanned, 0);
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(skipped[0].1, "network");
    assert!(skipped[0].2.contains("certificate"), "{skipped:?}");
    assert!(skipped[0].2.contains("--insecure"), "{skipped:?}");
    assert!(out.summary.incomplete());
}

#[test]
fn ftps_and_ftpes_use_explicit_tls_on_a_server_that_greets() {
    let servers = tls_servers();
    for scheme in ["ftps", "ftpes"] {
        let url = format!("{scheme}://127.0.0.1:{}/", servers.explicit);
        let out = common::scan(&[&url], |c| c.ftp.insecure = true);
        assert_eq!(out.skipped(), vec![], "{scheme}");
        assert_eq!(out.summary.files_scanned, servers.files, "{scheme}");
        assert_eq!(
            out.summary.targets[&url].info["tls"],
            "explicit TLS (AUTH TLS); PROT P accepted: data connections encrypted",
            "{scheme}"
        );
    }
}

#[test]
fn ftps_to_an_explicit_server_slower_than_the_greeting_wait_still_goes_explicit() {
    // Silent for 3 s (longer than the 2 s wait), then a plain greeting:
    // the TLS hello is answered in plain text, and phiscan connects again
    // as explicit TLS (which this server then refuses).
    let mut script = Script::new(Node::dir());
    script.greeting_delay = std::time::Duration::from_secs(3);
    script.advertise_tls = true;
    script.auth_tls = AuthTls::Refuse;
    let (port, log) = start_scripted(script);
    let url = format!("ftps://127.0.0.1:{port}/");
    let out = common::scan(&[&url], |c| c.ftp.retries = 0);
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        skipped[0].2,
        "TLS failed: the server refused AUTH TLS: 534 TLS not available."
    );
    assert_eq!(logged(&log, b"AUTH").len(), 1);
    assert!(logged(&log, b"USER").is_empty());
    assert_eq!(
        out.summary.targets[&url].info["tls"],
        "explicit TLS (AUTH TLS) tried and failed; no login was sent"
    );
}

// ---------------------------------------------------------------- EPSV

fn three_files() -> Node {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    root.add(b"docs/b.txt", SSN_TEXT);
    root.add(b"docs/c.txt", SSN_TEXT);
    root
}

#[test]
fn epsv_refused_falls_back_to_pasv_and_never_follows_the_pasv_address() {
    for refusal in ["500 EPSV not understood", "502 Command not implemented"] {
        let mut script = Script::new(three_files());
        // MLSD too: a refused EPSV must not pass for a refused MLSD.
        script.mlsd = true;
        script.epsv_refusal = Some(refusal.into());
        // The 227 reply names 127.0.0.2, where a decoy logs any connection.
        script.pasv_host = Some("127,0,0,2".into());
        let (port, log) = start_scripted(script);
        let url = format!("ftp://127.0.0.1:{port}/");
        let out = common::scan(&[&url], |c| c.ftp.connections = 2);
        assert_eq!(out.skipped(), vec![], "{refusal}");
        assert_eq!(out.summary.files_scanned, 3, "{refusal}");
        assert!(logged(&log, b"!DECOY").is_empty(), "followed the 227 reply");
        let data = logged(&log, b"!DATA FROM");
        assert_eq!(data.len(), 2 + 3, "two listings, three files");
        assert!(data.iter().all(|l| l == b"!DATA FROM 127.0.0.1"));
        // Refused once; every later data connection (on either control
        // connection) went straight to PASV.
        assert_eq!(logged(&log, b"EPSV").len(), 1, "{refusal}");
        assert_eq!(logged(&log, b"PASV").len(), 5, "{refusal}");
        let info = &out.summary.targets[&url].info;
        assert_eq!(info["listing"], "MLSD");
        assert_eq!(
            info["data_connections"],
            format!(
                "PASV (EPSV refused: {refusal}), to the server's own address whatever PASV names"
            )
        );
    }
}

#[test]
fn data_connections_line_says_epsv_when_epsv_was_used() {
    let (port, _log) = start_scripted(Script::new(three_files()));
    let url = format!("ftp://127.0.0.1:{port}/");
    let out = common::scan(&[&url], |_| {});
    assert_eq!(out.summary.files_scanned, 3);
    let info = &out.summary.targets[&url].info;
    assert_eq!(info["data_connections"], "EPSV");
    assert_eq!(info["listing"], "LIST");
    assert_eq!(
        info["tls"],
        "not used (ftp:// target); FEAT does not list AUTH TLS"
    );
}

// ---------------------------------------------------------------- file URLs

#[test]
fn url_naming_a_file_scans_that_file_like_a_local_file_target() {
    let dir = tempfile::tempdir().unwrap();
    share(dir.path());
    let port = start_unftp(dir.path(), None);
    let url = format!("ftp://127.0.0.1:{port}/billing/patients.csv");
    let ftp = common::scan(&[&url], with_key);
    assert_eq!(ftp.skipped(), vec![]);
    assert_eq!(ftp.summary.files_scanned, 1);
    let local_file = dir.path().join("billing/patients.csv");
    let local = common::scan(&[&local_file.display().to_string()], with_key);
    assert_eq!(content_rows(&ftp), content_rows(&local));
    let ssn = ftp.entity("SSN");
    assert_eq!(ssn.len(), 2, "{:?}", ftp.rows);
    assert!(ssn.iter().all(|r| r[1] == "patients.csv"), "{ssn:?}");
    assert_eq!(
        ftp.summary.targets[&url].info["listing"],
        "none: the URL names a file"
    );
}

#[test]
fn url_naming_a_missing_path_says_which_path() {
    let dir = tempfile::tempdir().unwrap();
    share(dir.path());
    let port = start_unftp(dir.path(), None);
    let url = format!("ftp://127.0.0.1:{port}/billing/nothere.csv");
    let out = common::scan(&[&url], |_| {});
    assert_eq!(out.summary.files_scanned, 0);
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    let (path, reason, detail) = &skipped[0];
    assert_eq!((path.as_str(), reason.as_str()), ("", "unreadable"));
    assert!(
        detail.starts_with("cannot open /billing/nothere.csv as a folder or a file: CWD: 550"),
        "{detail}"
    );
    assert!(detail.contains("SIZE: 550"), "{detail}");
    assert!(!detail.contains("directory /"), "{detail}");
    assert!(out.summary.incomplete());
}

// ---------------------------------------------------------------- logins

#[test]
fn failed_login_is_login_failed_not_findings_even_with_exposure_rows() {
    let mut root = Node::dir();
    root.add(b"a.txt", SSN_TEXT);
    let mut script = Script::new(root);
    script.password = Some("Right-Horse-4412".into());
    let (port, _log) = start_scripted(script);
    let url = format!("ftp://bob:Wrong-Horse@127.0.0.1:{port}/");
    let shown = format!("ftp://bob@127.0.0.1:{port}/");
    let out = common::scan(&[&url], |c| c.ftp.anon_check = false);
    // The server was reachable: its lack of TLS is still a row ...
    assert_eq!(out.entity("FTP_NO_TLS").len(), 1);
    // ... but nothing was read, the login failed, and that row does not
    // make the scan a "findings" one.
    assert_eq!(out.summary.files_scanned, 0);
    assert_eq!(
        out.summary.targets[&shown].access,
        Some(phiscan::report::ServerAccess::LoginFailed)
    );
    assert_eq!(out.summary.servers_not_read(), 1);
    assert!(out.summary.incomplete());
    assert!(
        out.summary
            .findings_at_or_above(phiscan::entity::Confidence::Low)
            > 0
    );
    assert_eq!(
        out.summary
            .findings_at_or_above_where_logged_in(phiscan::entity::Confidence::Low),
        0
    );
    assert!(out.summary.to_text_styled(false).contains(&format!(
        "{shown} login failed: nothing on this server was read"
    )));
}

#[test]
fn a_user_without_a_password_is_told_how_to_give_one() {
    let mut script = Script::new(Node::dir());
    script.password = Some("Right-Horse-4412".into());
    let (port, log) = start_scripted(script);
    let url = format!("ftp://bob@127.0.0.1:{port}/");
    let out = common::scan(&[&url], |c| c.ftp.anon_check = false);
    let skipped = out.skipped();
    assert_eq!(skipped.len(), 1, "{skipped:?}");
    assert_eq!(
        skipped[0].2,
        "cannot log in as bob: 530 Login incorrect. (no password was given for bob: \
         set PHISCAN_FTP_PASSWORD, use --netrc FILE, or write it in the URL)"
    );
    // It tried (an account may need no password), with an empty one.
    assert_eq!(logged(&log, b"PASS"), vec![b"PASS ".to_vec()]);
    assert_eq!(
        out.summary.targets[&url].access,
        Some(phiscan::report::ServerAccess::LoginFailed)
    );
}
