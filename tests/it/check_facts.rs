//! Per-server check facts told right (issue 20 item 8): every check is
//! found, not found (and what said so) or not tested (and why), in the
//! summary and the HTML report alike. Real servers: the scripted server
//! refusing AUTH TLS with 502, libunftp with a self-signed certificate.

use crate::common;

use common::{start_scripted, start_unftp, AuthTls, Node, Script};

/// The target's recorded verdict for `check` (e.g. "anonymous_login").
fn verdict<'a>(out: &'a common::Outcome, url: &str, check: &str) -> &'a str {
    out.summary.targets[url]
        .info
        .get(&format!("check {check}"))
        .map(String::as_str)
        .unwrap_or_else(|| panic!("no verdict for {check}: {:?}", out.summary.targets[url]))
}

/// Scans with an HTML report beside the CSV; returns the outcome and page.
fn scan_with_html(
    url: &str,
    tweak: impl Fn(&mut phiscan::config::ScanConfig),
) -> (common::Outcome, String) {
    let dir = tempfile::tempdir().unwrap();
    let html = dir.path().join("r.html");
    let mut config = phiscan::config::ScanConfig {
        targets: vec![url.into()],
        output: Some(html.clone()),
        formats: vec![phiscan::report::ReportFormat::Html],
        quiet: true,
        ..Default::default()
    };
    config.ftp.timeout_secs = 10;
    // One retry rides out a TLS handshake the in-process server sometimes
    // fumbles on a loaded machine (the client reads a non-TLS record and,
    // rightly, does not call that a verdict); without it a check that
    // should be decided is "not tested". Verdicts are never retried away.
    config.ftp.retries = 1;
    tweak(&mut config);
    phiscan::scan::run(&config).expect("scan runs");
    let page = std::fs::read_to_string(&html).unwrap();
    let out = common::scan(&[url], |c| {
        c.ftp.retries = 1;
        tweak(c);
    });
    (out, page)
}

/// The page's row for `url` in the targets table.
fn target_row<'a>(page: &'a str, url: &str) -> &'a str {
    page.lines()
        .find(|l| l.starts_with(&format!("<tr data-target=\"{url}\"")))
        .unwrap_or_else(|| panic!("no row for {url}"))
}

#[test]
fn ftps_to_a_server_answering_502_to_auth_tls() {
    let mut script = Script::new(Node::dir());
    script.auth_tls = AuthTls::NotImplemented;
    let (port, _log) = start_scripted(script);
    let url = format!("ftps://127.0.0.1:{port}/");
    let (out, page) = scan_with_html(&url, |_| {});
    // The refusal is the finding; nothing claims TLS held.
    assert_eq!(verdict(&out, &url, "tls"), "found (1 row)");
    let no_tls = out.entity("FTP_NO_TLS");
    assert_eq!(no_tls.len(), 1, "{:?}", out.rows);
    assert!(no_tls[0][9].contains("502"), "{:?}", no_tls[0]);
    // No login was sent: anonymous login and write were never checked.
    assert!(
        verdict(&out, &url, "anonymous_login").starts_with("not tested: "),
        "{}",
        verdict(&out, &url, "anonymous_login")
    );
    assert!(verdict(&out, &url, "anonymous_write").starts_with("not tested: "));
    assert_eq!(
        verdict(&out, &url, "tls_cert"),
        "not tested: no TLS to test"
    );
    let row = target_row(&page, &url);
    assert!(!row.contains("encrypted"), "{row}");
    // The only "not found" is the banner's version check, which needs no
    // login; nothing about TLS, login or write claims "not found".
    assert_eq!(row.matches("not found").count(), 1, "{row}");
    assert!(
        row.contains("check known_vulnerable: not found: the banner names no listed version"),
        "{row}"
    );
    assert!(
        row.contains("<span class=\"untested\">not tested: "),
        "{row}"
    );
}

#[test]
fn ftps_with_a_rejected_certificate_says_so_and_tests_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "SSN 536-22-8145\n").unwrap();
    let port = start_unftp(dir.path(), Some(common::self_signed_cert(certs.path())));
    let url = format!("ftps://127.0.0.1:{port}/");
    let (out, page) = scan_with_html(&url, |_| {});
    assert_eq!(verdict(&out, &url, "tls_cert"), "found (1 row)");
    let cert = out.entity("FTP_TLS_CERT");
    assert_eq!(cert.len(), 1, "{:?}", out.rows);
    assert!(cert[0][9].contains("certificate"), "{:?}", cert[0]);
    assert!(verdict(&out, &url, "tls").starts_with("not found: "));
    assert!(verdict(&out, &url, "anonymous_login").starts_with("not tested: "));
    assert!(out.entity("SSN").is_empty());
    let row = target_row(&page, &url);
    assert!(!row.contains("encrypted"), "{row}");
    // The anonymous login cell: never "not found" for a login never sent.
    let cells: Vec<&str> = row.split("<td>").collect();
    assert!(cells[1].contains("not tested"), "{row}");
}

#[test]
fn insecure_is_marked_and_the_certificate_is_not_tested() {
    let dir = tempfile::tempdir().unwrap();
    let certs = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "SSN 536-22-8145\n").unwrap();
    let port = start_unftp(dir.path(), Some(common::self_signed_cert(certs.path())));
    let url = format!("ftps://127.0.0.1:{port}/");
    let (out2, page) = scan_with_html(&url, |c| c.ftp.insecure = true);
    assert_eq!(
        verdict(&out2, &url, "tls"),
        "not found: explicit TLS (AUTH TLS); PROT P accepted: data connections encrypted"
    );
    assert!(verdict(&out2, &url, "tls_cert").starts_with("not tested: --insecure"));
    assert!(out2.summary.targets[&url].info["tls_certificate_checks"].contains("--insecure"));
    assert_eq!(verdict(&out2, &url, "anonymous_login"), "found (1 row)");
    assert_eq!(
        verdict(&out2, &url, "anonymous_write"),
        "not tested: not requested (--check-write)"
    );
    assert!(target_row(&page, &url).contains("--insecure"), "{page}");
    // The risk summary names the server as open to anonymous users and
    // holding PHI, and the advice for an anonymous login and for PHI
    // follows, each naming it.
    let item = |id: &str| {
        let at = page
            .find(&format!("<li id=\"{id}\""))
            .unwrap_or_else(|| panic!("no {id}"));
        page[at..at + page[at..].find("</li>").unwrap()].to_string()
    };
    let anonymous = item("risk-anonymous");
    assert!(
        anonymous.contains("<b>1</b> of 1 server: <code>") && anonymous.contains(&url),
        "{anonymous}"
    );
    assert!(item("risk-phi-servers").contains(&format!("<code>{url} (1)</code>")));
    for fix in ["fix-FTP_ANONYMOUS_LOGIN", "fix-PHI"] {
        let at = page.find(&format!("id=\"{fix}\"")).unwrap();
        assert!(page[at..].contains(&url), "{fix}");
    }
}

#[test]
fn plain_ftp_with_credentials_checks_anonymous_separately() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "nothing\n").unwrap();
    let port = start_unftp(dir.path(), None);
    // libunftp in the tests accepts any login: the separate anonymous
    // check is found; with the check turned off it is not tested.
    let url = format!("ftp://alice:pw-secret-1@127.0.0.1:{port}/");
    let out = common::scan(&[&url], |c| c.ftp.anon_check = false);
    let shown = out.summary.targets.keys().next().unwrap().clone();
    assert_eq!(
        out.summary.targets[&shown].info["check anonymous_login"],
        "not tested: not requested (anonymous check turned off)"
    );
    assert_eq!(
        out.summary.targets[&shown].info["check tls"],
        "found (1 row)"
    );
}
