//! `phiscan scan ftp://host/` judges a server's exposure as `discover`
//! does (issue 14 §2): the same version list, AUTH TLS really sent, the
//! same write probes. Real sockets against the exposure test server.

use crate::common;

use common::exposure_server::{self as es, Auth, Config, Rights};

fn scan(url: &str, check_write: bool) -> common::Outcome {
    common::scan(&[url], |c| {
        c.ftp.retries = 0;
        c.ftp.timeout_secs = 10;
        c.ftp.check_write = check_write;
    })
}

fn verdict<'a>(out: &'a common::Outcome, url: &str, check: &str) -> &'a str {
    out.summary.targets[url]
        .info
        .get(&format!("check {check}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no verdict for {check}: {:?}", out.summary.targets[url]))
}

#[test]
fn a_listed_version_in_the_banner_is_reported_by_a_scan() {
    let server = es::start(
        "127.0.0.1:0".parse().unwrap(),
        Config::new("(vsFTPd 2.3.4)").file("/a.txt", b"SSN 536-22-8145\n"),
    );
    let url = format!("ftp://127.0.0.1:{}/", server.addr.port());
    let out = scan(&url, false);
    let rows = out.entity("FTP_KNOWN_VULNERABLE");
    assert_eq!(rows.len(), 1, "{:?}", out.rows);
    assert_eq!(rows[0][8], "vsFTPd 2.3.4 (CVE-2011-2523)");
    assert_eq!(verdict(&out, &url, "known_vulnerable"), "found (1 row)");
    // The share is still read, and the backdoor's trigger never sent.
    assert_eq!(out.entity("SSN").len(), 1, "{:?}", out.rows);
    assert!(!server.commands("USER").iter().any(|u| u.ends_with(":)")));

    let other = es::start(
        "127.0.0.1:0".parse().unwrap(),
        Config::new("(vsFTPd 3.0.3)"),
    );
    let url = format!("ftp://127.0.0.1:{}/", other.addr.port());
    let out = scan(&url, false);
    assert!(out.entity("FTP_KNOWN_VULNERABLE").is_empty());
    assert!(verdict(&out, &url, "known_vulnerable").starts_with("not found"));
}

#[test]
fn auth_tls_listed_in_feat_but_refused_is_no_tls() {
    // pure-ftpd without a certificate lists AUTH TLS in FEAT and answers
    // 500 to it: FEAT alone would have said "TLS offered".
    let server = es::start(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            auth: Auth::RefuseListed,
            ..Config::new("Welcome to Pure-FTPd")
        },
    );
    let url = format!("ftp://127.0.0.1:{}/", server.addr.port());
    let out = scan(&url, false);
    let no_tls = out.entity("FTP_NO_TLS");
    assert_eq!(no_tls.len(), 1, "{:?}", out.rows);
    assert!(no_tls[0][9].contains("500"), "{:?}", no_tls[0]);
    assert_eq!(verdict(&out, &url, "tls"), "found (1 row)");
    assert_eq!(server.commands("AUTH").len(), 1, "AUTH TLS was really sent");

    // A server that accepts AUTH TLS is not reported.
    let tls = es::start(
        "127.0.0.1:0".parse().unwrap(),
        Config {
            auth: Auth::Accept,
            ..Config::new("ready")
        },
    );
    let url = format!("ftp://127.0.0.1:{}/", tls.addr.port());
    let out = scan(&url, false);
    assert!(out.entity("FTP_NO_TLS").is_empty(), "{:?}", out.rows);
    assert!(
        verdict(&out, &url, "tls").starts_with("not found"),
        "{}",
        verdict(&out, &url, "tls")
    );
}

#[test]
fn check_write_probes_the_folders_discover_probes() {
    let open = Rights {
        mkd: true,
        stor: true,
        delete: true,
    };
    let server = es::start(
        "127.0.0.1:0".parse().unwrap(),
        Config::new("ready")
            .dir("/incoming", "drwxrwxrwx", open)
            .file("/incoming/note.txt", b"nothing here\n"),
    );
    let url = format!("ftp://127.0.0.1:{}/", server.addr.port());
    let out = scan(&url, true);
    // The root refuses writes; the world-writable upload folder takes them.
    let write = out.entity("FTP_ANONYMOUS_WRITE");
    assert_eq!(write.len(), 1, "{:?}", out.rows);
    assert!(write[0][1].contains("incoming"), "{:?}", write[0]);
    assert_eq!(write[0][8], "MKD, STOR");
    // The folder's mode is reported once, by the crawl, not twice.
    let ww = out.entity("FTP_WORLD_WRITABLE");
    assert_eq!(ww.len(), 1, "{:?}", out.rows);
    assert!(ww[0][1].contains("incoming"), "{:?}", ww[0]);
    // Every probe removed again.
    let tree = server.tree.lock().unwrap();
    assert!(
        !tree.keys().any(|k| k.contains("phiscan-")),
        "{:?}",
        tree.keys().collect::<Vec<_>>()
    );
}
