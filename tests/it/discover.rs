//! `discover` and the exposure checks against real servers on loopback:
//! libunftp and the exposure test server (tests/it/common/exposure_server)
//! on several 127.x addresses of a block the sweep covers, an implicit-TLS
//! server, a bounce listener on a second loopback address. Every verdict is
//! asserted, "not tested" as well as "not found".

use crate::common::exposure_server::{self as es, Auth, Config, Port, Rights};
use phiscan::discover::{self, DiscoverConfig, DiscoverSummary};
use phiscan::exposure::{self, login, Check, ExposureOptions, Service, Verdict};
use phiscan::report::{Event, Finding};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

/// A /24 of loopback no other test uses: 127.X.Y.0 with X, Y from the
/// process id and the clock.
pub(crate) fn block() -> [u8; 3] {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    static N: std::sync::atomic::AtomicU8 = std::sync::atomic::AtomicU8::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    [
        127,
        100 + ((std::process::id() + nanos) % 100) as u8,
        (nanos / 7 % 200) as u8 + n,
    ]
}

pub(crate) fn at(b: [u8; 3], last: u8, port: u16) -> SocketAddr {
    SocketAddr::new(IpAddr::from([b[0], b[1], b[2], last]), port)
}

struct Run {
    summary: DiscoverSummary,
    rows: Vec<Finding>,
    /// (target, key) → value of the facts and verdicts.
    info: BTreeMap<(String, String), String>,
    not_examined: Vec<(String, String)>,
}

impl Run {
    fn rows(&self, target: &str, entity: &str) -> Vec<&Finding> {
        self.rows
            .iter()
            .filter(|f| &*f.target == target && f.entity.as_str() == entity)
            .collect()
    }

    fn verdict(&self, target: &str, check: Check) -> &str {
        self.info
            .get(&(target.to_string(), check.key().to_string()))
            .map(String::as_str)
            .unwrap_or_else(|| panic!("no verdict {check:?} for {target}: {:?}", self.info))
    }
}

fn run(config: DiscoverConfig) -> Run {
    let (tx, rx) = crossbeam_channel::unbounded();
    let summary =
        discover::run(&config, Arc::new(AtomicBool::new(false)), &tx).expect("discover runs");
    drop(tx);
    let mut out = Run {
        summary,
        rows: Vec::new(),
        info: BTreeMap::new(),
        not_examined: Vec::new(),
    };
    for e in rx {
        match e {
            Event::Finding(f) => out.rows.push(f),
            Event::TargetInfo { target, key, value } => {
                out.info
                    .insert((target.to_string(), key.to_string()), value);
            }
            Event::NotExamined { target, detail, .. } => {
                out.not_examined.push((target.to_string(), detail))
            }
            _ => {}
        }
    }
    out
}

fn config(targets: &[String], ports: &[u16]) -> DiscoverConfig {
    DiscoverConfig {
        targets: targets.to_vec(),
        ports: ports.to_vec(),
        rate: None,
        timeout: Duration::from_secs(5),
        greeting_wait: Duration::from_millis(700),
        exposure: ExposureOptions {
            timeout: Duration::from_secs(5),
            backoff: Duration::from_millis(200),
            ..ExposureOptions::default()
        },
        ..DiscoverConfig::default()
    }
}

fn url(addr: SocketAddr, scheme: &str) -> String {
    format!("{scheme}://{}:{}/", addr.ip(), addr.port())
}

#[test]
fn sweep_of_a_block_finds_each_server_and_judges_it() {
    let b = block();
    let share = tempfile::tempdir().unwrap();
    std::fs::write(share.path().join("readme.txt"), "hello\n").unwrap();
    // Every server on the same port of a different address.
    let unftp = es::start_unftp_at(at(b, 5, 0), share.path());
    let port = unftp.port();
    let closed = es::start(
        at(b, 9, port),
        Config {
            auth: Auth::RefuseListed,
            logins: vec![("alice".into(), "pw-of-alice".into())],
            ..Config::new("(vsFTPd 3.0.3)")
        },
    );
    let implicit = es::start(
        at(b, 17, port),
        Config {
            implicit: true,
            ..Config::new("implicit FTPS ready")
        },
    );
    let other = es::start_not_ftp(at(b, 20, port));
    let out_file = tempfile::NamedTempFile::new().unwrap();
    let mut cfg = config(&[format!("{}.{}.{}.0/27", b[0], b[1], b[2])], &[port]);
    cfg.targets_out = Some(out_file.path().to_path_buf());
    let r = run(cfg);

    let s = &r.summary;
    assert_eq!(
        (s.addresses, s.addresses_done, s.ports_probed),
        (32, 32, 32)
    );
    assert_eq!(
        (s.ports_open, s.services, s.not_ftp),
        (4, 3, 1),
        "{:?}",
        s.reports
    );
    assert_eq!(s.ports_closed, 28);
    let (u5, u9, u17) = (
        url(unftp, "ftp"),
        url(closed.addr, "ftp"),
        url(implicit.addr, "ftps"),
    );
    let urls: Vec<&str> = s.reports.iter().map(|r| r.url.as_str()).collect();
    for u in [&u5, &u9, &u17] {
        assert!(urls.contains(&u.as_str()), "{u} not in {urls:?}");
    }
    assert!(!urls.iter().any(|u| u.contains(&format!("{}:", other.ip()))));

    // One inventory row per service, with the software where named.
    for u in [&u5, &u9, &u17] {
        assert_eq!(r.rows(u, "FTP_SERVICE").len(), 1, "{u}");
    }
    let svc9 = r.rows(&u9, "FTP_SERVICE")[0];
    assert_eq!(svc9.matched, "vsFTPd 3.0.3");
    assert!(svc9.context.contains("TLS: none"), "{}", svc9.context);
    assert!(r.rows(&u17, "FTP_SERVICE")[0]
        .context
        .contains("TLS: implicit TLS"));

    // libunftp: anonymous, no TLS configured.
    assert_eq!(r.rows(&u5, "FTP_ANONYMOUS_LOGIN").len(), 1);
    assert!(r.verdict(&u5, Check::AnonymousLogin).starts_with("found"));
    assert_eq!(
        r.verdict(&u5, Check::AnonymousWrite),
        "not tested: needs --check-write"
    );
    assert_eq!(
        r.verdict(&u5, Check::Bounce),
        "not tested: needs --check-bounce"
    );
    assert_eq!(
        r.verdict(&u5, Check::DefaultCredentials),
        "not tested: needs --check-default-creds"
    );
    assert_eq!(r.rows(&u5, "FTP_NO_TLS").len(), 1);
    assert!(r
        .verdict(&u5, Check::TlsCert)
        .starts_with("not tested: no TLS"));

    // The vsftpd look-alike: FEAT lists AUTH TLS, AUTH TLS answers 500.
    let no_tls = r.rows(&u9, "FTP_NO_TLS");
    assert_eq!(no_tls.len(), 1);
    assert!(
        no_tls[0].context.contains("although FEAT lists AUTH TLS"),
        "{}",
        no_tls[0].context
    );
    assert!(r
        .verdict(&u9, Check::AnonymousLogin)
        .starts_with("not found: refused"));
    assert!(r.rows(&u9, "FTP_ANONYMOUS_LOGIN").is_empty());
    assert_eq!(
        r.verdict(&u9, Check::AnonymousWrite),
        "not tested: no anonymous login"
    );
    assert!(r
        .verdict(&u9, Check::KnownVulnerable)
        .starts_with("not found"));
    // Both anonymous users were tried, with the passwords such tools send.
    let users = closed.commands("USER");
    assert!(
        users.contains(&"USER anonymous".to_string()) && users.contains(&"USER ftp".to_string())
    );

    // Implicit FTPS: silent in plain text, 220 over TLS; its certificate
    // is self-signed for "localhost", so not for this address.
    assert_eq!(
        r.verdict(&u17, Check::Tls),
        "not found: implicit TLS completed"
    );
    let certs: Vec<&str> = r
        .rows(&u17, "FTP_TLS_CERT")
        .iter()
        .map(|f| f.matched.as_str())
        .collect();
    assert_eq!(certs, ["self-signed", "name mismatch"]);
    let cert = r.rows(&u17, "FTP_TLS_CERT")[0];
    assert!(
        cert.context.contains("subject: CN=") && cert.context.contains("SHA-256 "),
        "{}",
        cert.context
    );
    assert_eq!(r.rows(&u17, "FTP_ANONYMOUS_LOGIN").len(), 1);
    assert!(r.rows(&u17, "FTP_ANONYMOUS_LOGIN")[0]
        .context
        .contains("over implicit TLS"));
    assert!(r.rows(&u17, "FTP_NO_TLS").is_empty());

    // --targets-out: the servers that let us in, and only those.
    let listed = std::fs::read_to_string(out_file.path()).unwrap();
    let urls: Vec<&str> = listed.lines().filter(|l| !l.starts_with('#')).collect();
    assert_eq!(urls, [u5.as_str(), u17.as_str()]);
    assert!(r.not_examined.is_empty(), "{:?}", r.not_examined);
}

#[test]
fn write_checks_find_upload_only_folders_and_leftovers() {
    let b = block();
    let rw = Rights {
        mkd: true,
        stor: true,
        delete: true,
    };
    let upload_only = Rights {
        mkd: false,
        stor: true,
        delete: false,
    };
    let cfg = Config::new("FTP server ready")
        .dir("/pub", "drwxr-xr-x", Rights::default())
        .dir("/pub/incoming", "drwx-wx-wx", upload_only)
        .dir("/upload", "drwxrwxrwx", rw)
        .dir("/upload/...", "drwxr-xr-x", Rights::default())
        .dir("/upload/warez", "drwxr-xr-x", Rights::default())
        .dir("/upload/warez/~tag", "drwxr-xr-x", Rights::default())
        .file("/upload/COM1", b"x")
        .file("/upload/setup.dat", b"MZ\x90\x00\x03\x00\x00\x00")
        .file("/upload/notes.txt", b"just text\n")
        .file("/pub/readme.txt", b"hello\n");
    let server = es::start(at(b, 33, 0), cfg.clone());
    let u = url(server.addr, "ftp");

    // Without --check-write: the world-writable folders are still reported.
    let r = run(config(
        &[server.addr.ip().to_string()],
        &[server.addr.port()],
    ));
    let mut ww: Vec<&str> = r
        .rows(&u, "FTP_WORLD_WRITABLE")
        .iter()
        .map(|f| f.path.as_str())
        .collect();
    ww.sort();
    assert_eq!(ww, ["pub/incoming", "upload"]);
    assert_eq!(
        r.verdict(&u, Check::AnonymousWrite),
        "not tested: needs --check-write"
    );
    assert!(server.commands("MKD").is_empty() && server.commands("STOR").is_empty());
    // World-writable folders make the server anonymously writable: abuse
    // signs are looked for.
    assert!(
        r.verdict(&u, Check::AbuseSigns).starts_with("found"),
        "{}",
        r.verdict(&u, Check::AbuseSigns)
    );

    let mut c = config(&[server.addr.ip().to_string()], &[server.addr.port()]);
    c.exposure.check_write = true;
    let r = run(c);
    let writes = r.rows(&u, "FTP_ANONYMOUS_WRITE");
    let by_rule = |rule: &str| {
        writes
            .iter()
            .filter(|f| &*f.rule == rule)
            .collect::<Vec<_>>()
    };
    let mut written: Vec<(&str, &str)> = by_rule("ftp-anonymous-write")
        .iter()
        .map(|f| (f.path.as_str(), f.matched.as_str()))
        .collect();
    written.sort();
    assert_eq!(written, [("pub/incoming", "STOR"), ("upload", "MKD, STOR")]);
    let upload_only_row = by_rule("ftp-anonymous-write")
        .into_iter()
        .find(|f| f.path == "pub/incoming")
        .unwrap();
    assert!(
        upload_only_row.context.contains("upload-only"),
        "{}",
        upload_only_row.context
    );
    // The probe in the upload-only folder could not be removed: named.
    let left = by_rule("ftp-write-probe-left-behind");
    assert_eq!(left.len(), 1);
    assert!(
        left[0].path.starts_with("pub/incoming/phiscan-probe-"),
        "{}",
        left[0].path
    );
    assert_eq!(left[0].confidence, phiscan::entity::Confidence::High);
    assert_eq!(
        server.paths_with("phiscan-probe").len(),
        1,
        "{:?}",
        server.paths_with("phiscan-probe")
    );
    assert!(server.paths_with("phiscan-probe")[0].starts_with("/pub/incoming/"));
    assert_eq!(r.verdict(&u, Check::AnonymousWrite), "found (2 rows)");

    // Abuse signs: drop-site names and an executable found by its bytes.
    let abuse: BTreeMap<&str, &str> = r
        .rows(&u, "FTP_ABUSE_SIGNS")
        .iter()
        .map(|f| (f.path.as_str(), &*f.rule))
        .collect();
    assert_eq!(abuse.get("upload/..."), Some(&"ftp-abuse-name"));
    assert_eq!(abuse.get("upload/COM1"), Some(&"ftp-abuse-name"));
    assert_eq!(abuse.get("upload/warez/~tag"), Some(&"ftp-abuse-name"));
    assert_eq!(abuse.get("upload/setup.dat"), Some(&"ftp-abuse-executable"));
    assert!(!abuse.contains_key("upload/notes.txt"));
    assert!(!abuse.contains_key("pub/readme.txt"));
}

#[test]
fn write_check_on_libunftp_leaves_nothing_behind() {
    let b = block();
    let share = tempfile::tempdir().unwrap();
    std::fs::create_dir(share.path().join("incoming")).unwrap();
    let addr = es::start_unftp_at(at(b, 40, 0), share.path());
    let u = url(addr, "ftp");
    let mut c = config(&[addr.ip().to_string()], &[addr.port()]);
    c.exposure.check_write = true;
    let r = run(c);
    let written: Vec<(&str, &str)> = r
        .rows(&u, "FTP_ANONYMOUS_WRITE")
        .iter()
        .map(|f| (f.path.as_str(), f.matched.as_str()))
        .collect();
    assert_eq!(written, [("", "MKD, STOR"), ("incoming", "MKD, STOR")]);
    // Every probe removed again.
    let left: Vec<_> = walkdir::WalkDir::new(share.path())
        .into_iter()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().contains("phiscan-probe"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
    // The folders are 0755: nothing world-writable is claimed.
    assert!(r.verdict(&u, Check::WorldWritable).starts_with("not found"));
    assert!(
        r.verdict(&u, Check::AbuseSigns).starts_with("not found"),
        "{}",
        r.verdict(&u, Check::AbuseSigns)
    );
}

fn service(addr: SocketAddr) -> Service {
    Service::new(addr, None, Duration::from_secs(5)).unwrap()
}

#[test]
fn logins_follow_what_servers_answer() {
    let b = block();
    // 332 after PASS: ACCT completes the login.
    let acct = es::start(
        at(b, 50, 0),
        Config {
            acct: true,
            ..Config::new("acct")
        },
    );
    let s = login::first_login(
        &service(acct.addr),
        exposure::control::Channel::Plain,
        &exposure::ANONYMOUS_LOGINS,
        Duration::from_millis(50),
    )
    .unwrap_or_else(|_| panic!("no login"));
    assert_eq!(s.user, "anonymous");
    assert_eq!(acct.commands("ACCT").len(), 1);

    // 421 to the first two attempts: backs off and gets in.
    let busy = es::start(
        at(b, 51, 0),
        Config {
            busy_first: 2,
            ..Config::new("busy")
        },
    );
    let s = login::first_login(
        &service(busy.addr),
        exposure::control::Channel::Plain,
        &exposure::ANONYMOUS_LOGINS,
        Duration::from_millis(50),
    );
    assert!(s.is_ok());
    assert_eq!(busy.commands("USER").len(), 3);
    // 421 without end: not tested, not "not found".
    let always = es::start(
        at(b, 52, 0),
        Config {
            busy_first: 100,
            ..Config::new("busy")
        },
    );
    match login::first_login(
        &service(always.addr),
        exposure::control::Channel::Plain,
        &exposure::ANONYMOUS_LOGINS,
        Duration::from_millis(50),
    ) {
        Err(login::NoLogin::Untested(why)) => assert!(why.contains("421"), "{why}"),
        other => panic!("{:?}", other.map(|s| s.user)),
    }

    // TLS required: AUTH TLS and retry.
    let tls_only = es::start(
        at(b, 53, 0),
        Config {
            auth: Auth::Accept,
            tls_required: true,
            ..Config::new("tls only")
        },
    );
    let s = login::first_login(
        &service(tls_only.addr),
        exposure::control::Channel::Plain,
        &exposure::ANONYMOUS_LOGINS,
        Duration::from_millis(50),
    )
    .unwrap_or_else(|_| panic!("no login"));
    assert_eq!(s.channel, exposure::control::Channel::Explicit);

    // A TLS session that refuses anonymous users: plain FTP again.
    let no_anon_tls = es::start(
        at(b, 54, 0),
        Config {
            auth: Auth::Accept,
            anon_no_tls: true,
            ..Config::new("vsftpd-like")
        },
    );
    let s = login::first_login(
        &service(no_anon_tls.addr),
        exposure::control::Channel::Explicit,
        &exposure::ANONYMOUS_LOGINS,
        Duration::from_millis(50),
    )
    .unwrap_or_else(|_| panic!("no login"));
    assert_eq!(s.channel, exposure::control::Channel::Plain);
}

#[test]
fn bounce_is_judged_by_the_connection() {
    let b = block();
    let opts = ExposureOptions {
        check_bounce: true,
        timeout: Duration::from_secs(2),
        ..ExposureOptions::default()
    };
    let check = |port: Port| {
        let server = es::start(
            at(b, 60 + port as u8, 0),
            Config {
                port,
                ..Config::new("bounce")
            },
        );
        let (tx, rx) = crossbeam_channel::unbounded();
        let key = phiscan::report::fingerprint::FingerprintKey::default();
        let report =
            exposure::check_service(&service(server.addr), true, &opts, &tx, &key).unwrap();
        drop(tx);
        let rows: Vec<Finding> = rx
            .into_iter()
            .filter_map(|e| match e {
                Event::Finding(f) if f.entity.as_str() == "FTP_BOUNCE" => Some(f),
                _ => None,
            })
            .collect();
        (report.verdicts[&Check::Bounce].clone(), rows)
    };
    let (verdict, rows) = check(Port::Connect);
    assert_eq!(verdict, Verdict::Found(1));
    assert!(
        rows[0].context.contains("connected there"),
        "{}",
        rows[0].context
    );
    assert!(rows[0].context.contains("127.0.0.2"), "{}", rows[0].context);
    // 200 to PORT, but no connection: nmap's ftp-bounce would say yes.
    let (verdict, rows) = check(Port::Lie);
    assert!(
        matches!(&verdict, Verdict::NotFound(w) if w.contains("never connected")),
        "{verdict:?}"
    );
    assert!(rows.is_empty());
    let (verdict, _) = check(Port::RefuseForeign);
    assert!(
        matches!(&verdict, Verdict::NotFound(w) if w.contains("Illegal PORT")),
        "{verdict:?}"
    );
}

#[test]
fn default_logins_are_tried_once_each_and_never_shown() {
    let b = block();
    let secret = "Sup3r-Secret-Pw";
    let server = es::start(
        at(b, 70, 0),
        Config {
            logins: vec![("backup".into(), secret.into())],
            ..Config::new("NAS FTP")
        },
    );
    let creds = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(
        creds.path(),
        format!("# site list\nbackup:wrong\nbackup:{secret}\nlast:never\n"),
    )
    .unwrap();
    let mut c = config(&[server.addr.ip().to_string()], &[server.addr.port()]);
    c.exposure.check_default_creds = true;
    c.exposure.extra_logins =
        phiscan::exposure::data::parse_creds(&std::fs::read_to_string(creds.path()).unwrap())
            .unwrap();
    let out = tempfile::NamedTempFile::new().unwrap();
    c.targets_out = Some(out.path().to_path_buf());
    let r = run(c);
    let u = url(server.addr, "ftp");
    let rows = r.rows(&u, "FTP_DEFAULT_CREDENTIALS");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].matched, "backup");
    let everything = format!("{:?}{:?}{:?}", r.rows, r.info, r.summary);
    assert!(!everything.contains(secret));
    // Stopped at the first success: "last:never" was not tried; one PASS
    // per pair (the built-in ones all fail on the user name).
    assert!(!server.commands("USER last").iter().any(|_| true));
    let passes = server.commands("PASS").len();
    assert_eq!(passes, 2, "{:?}", server.commands("PASS"));
    // The URL to crawl names the user, not the password.
    let listed = std::fs::read_to_string(out.path()).unwrap();
    assert!(listed.contains(&format!(
        "ftp://backup@{}:{}/",
        server.addr.ip(),
        server.addr.port()
    )));
    assert!(!listed.contains(secret));
}

#[test]
fn known_vulnerable_versions_by_banner_only() {
    let b = block();
    let server = es::start(
        at(b, 80, 0),
        Config {
            logins: vec![],
            ..Config::new("(vsFTPd 2.3.4)")
        },
    );
    let r = run(config(
        &[server.addr.ip().to_string()],
        &[server.addr.port()],
    ));
    let u = url(server.addr, "ftp");
    let rows = r.rows(&u, "FTP_KNOWN_VULNERABLE");
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].matched, "vsFTPd 2.3.4 (CVE-2011-2523)");
    assert!(rows[0].context.contains("nothing was sent to test it"));
    // Never the backdoor's trigger (a user name ending in ":)").
    assert!(!server.commands("USER").iter().any(|u| u.ends_with(":)")));
}

#[test]
fn exclusions_and_order() {
    let b = block();
    let server = es::start(at(b, 90, 0), Config::new("x"));
    let mut c = config(
        &[format!("{}.{}.{}.88-95", b[0], b[1], b[2])],
        &[server.addr.port()],
    );
    c.excludes = vec![server.addr.ip().to_string()];
    let r = run(c);
    assert_eq!(r.summary.addresses, 7);
    assert_eq!(r.summary.services, 0);
    assert_eq!(
        server.connections.load(std::sync::atomic::Ordering::SeqCst),
        0
    );
    // A block over a /16 is refused without allow_large.
    let (tx, _rx) = crossbeam_channel::unbounded();
    let big = DiscoverConfig {
        targets: vec!["127.0.0.0/15".into()],
        ..DiscoverConfig::default()
    };
    let e = discover::run(&big, Arc::new(AtomicBool::new(false)), &tx).unwrap_err();
    assert!(e.to_string().contains("--allow-large"), "{e}");
}

#[test]
fn the_command_writes_every_format_and_says_what_it_swept() {
    let b = block();
    let server = es::start(at(b, 100, 0), Config::new("(vsFTPd 3.0.3)"));
    let dir = tempfile::tempdir().unwrap();
    let out = assert_cmd::Command::cargo_bin("phiscan")
        .unwrap()
        .args([
            "discover",
            &format!("{}.{}.{}.96/29", b[0], b[1], b[2]),
            "--ports",
            &server.addr.port().to_string(),
            "--rate",
            "unlimited",
            "--progress",
            "--format",
            "csv,jsonl,sarif,html",
            "--output-dir",
        ])
        .arg(dir.path())
        .arg("--summary-json")
        .arg(dir.path().join("summary.json"))
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    // An anonymous login is an exposure: exit status 1.
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr
            .contains("discovery: 8 of 8 addresses swept, 8 ports probed, 1 open, 1 FTP services"),
        "{stderr}"
    );
    // --progress where stderr is no terminal: plain lines, the last one
    // with every address done.
    assert!(
        stderr.contains("phiscan discover: 8/8 addresses, 1 open ports, 1 FTP services checked"),
        "{stderr}"
    );
    let csv = std::fs::read_to_string(dir.path().join("phiscan.csv")).unwrap();
    for entity in ["FTP_SERVICE", "FTP_ANONYMOUS_LOGIN", "FTP_NO_TLS"] {
        assert!(csv.contains(entity), "{entity} missing: {csv}");
        for f in ["phiscan.jsonl", "phiscan.sarif", "phiscan.html"] {
            let text = std::fs::read_to_string(dir.path().join(f)).unwrap();
            assert!(
                text.contains(entity) || text.contains(&entity.to_lowercase()),
                "{entity} not in {f}"
            );
        }
    }
    let summary: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.path().join("summary.json")).unwrap())
            .unwrap();
    assert_eq!(summary["discovery"]["ftp_services"], 1);
    assert_eq!(summary["inventory_by_entity"]["FTP_SERVICE"], 1);

    // Bad input: a clear error and status 2, nothing swept.
    for (args, says) in [
        (
            vec!["discover", "ftp://127.0.0.1/"],
            "not an address to sweep",
        ),
        (vec!["discover", "127.0.0.1", "--rate", "0"], "--rate"),
        (vec!["discover", "127.0.0.0/8"], "--allow-large"),
        (vec!["discover", "127.0.0.1", "--ports", "99999"], "--ports"),
    ] {
        let out = assert_cmd::Command::cargo_bin("phiscan")
            .unwrap()
            .args(&args)
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(says), "{args:?}: {stderr}");
    }
}

#[test]
fn scan_of_addresses_discovers_then_crawls_in_one_report() {
    let b = block();
    let share = tempfile::tempdir().unwrap();
    std::fs::write(share.path().join("patients.txt"), "SSN 512-34-7890\n").unwrap();
    let open = es::start_unftp_at(at(b, 110, 0), share.path());
    let closed = es::start(
        at(b, 111, 0),
        Config {
            logins: vec![],
            ..Config::new("(vsFTPd 3.0.3)")
        },
    );
    let outcome = crate::common::scan(
        &[
            &format!("{}:{}", open.ip(), open.port()),
            &format!("{}:{}", closed.addr.ip(), closed.addr.port()),
        ],
        |c| c.ftp.timeout_secs = 5,
    );
    let u_open = url(open, "ftp");
    let u_closed = url(closed.addr, "ftp");
    let rows = |target: &str, entity: &str| {
        outcome
            .rows
            .iter()
            .filter(|r| r[0] == target && r[2] == entity)
            .count()
    };
    // Discovered: both services; anonymous login once, not once per stage.
    assert_eq!(rows(&u_open, "FTP_SERVICE"), 1, "{}", outcome.csv);
    assert_eq!(rows(&u_closed, "FTP_SERVICE"), 1);
    assert_eq!(rows(&u_open, "FTP_ANONYMOUS_LOGIN"), 1, "{}", outcome.csv);
    assert_eq!(rows(&u_open, "FTP_NO_TLS"), 1, "{}", outcome.csv);
    // Crawled: the open one only, its file scanned and its SSN reported.
    assert_eq!(
        rows(&u_open, "SSN"),
        1,
        "{}\n{:?}\n{}",
        outcome.csv,
        outcome.skipped(),
        outcome.summary.to_text_styled(false)
    );
    assert!(outcome
        .rows
        .iter()
        .any(|r| r[0] == u_open && r[1] == "patients.txt"));
    assert_eq!(outcome.summary.files_scanned, 1);
    let d = outcome
        .summary
        .discovery
        .as_ref()
        .expect("discovery counts");
    assert_eq!((d.addresses, d.ftp_services), (2, 2));
    assert_eq!(outcome.summary.inventory_by_entity.values().sum::<u64>(), 2);
}

#[test]
fn a_slow_greeting_is_plain_ftp_not_implicit_tls() {
    let b = block();
    // Silent for longer than the sweep waits: the checks try a TLS hello,
    // get the plain greeting, and take the port as plain FTP.
    let server = es::start(
        at(b, 120, 0),
        Config {
            greeting_delay: Duration::from_millis(1500),
            ..Config::new("slow but plain")
        },
    );
    let r = run(config(
        &[server.addr.ip().to_string()],
        &[server.addr.port()],
    ));
    let u = url(server.addr, "ftp");
    assert_eq!(r.summary.services, 1, "{:?}", r.summary);
    assert_eq!(r.rows(&u, "FTP_SERVICE").len(), 1);
    assert_eq!(r.rows(&u, "FTP_ANONYMOUS_LOGIN").len(), 1);
    assert!(r.rows(&u, "FTP_SERVICE")[0].context.contains("TLS: none"));
}

#[test]
fn checks_for_a_crawl_target_carry_its_url() {
    let b = block();
    let server = es::start(at(b, 130, 0), Config::new("(vsFTPd 3.0.3)"));
    let svc = Service::resolve(
        &server.addr.ip().to_string(),
        server.addr.port(),
        Duration::from_secs(5),
    )
    .unwrap();
    let display = format!(
        "ftp://{}:{}/pub/exports",
        server.addr.ip(),
        server.addr.port()
    );
    let (tx, rx) = crossbeam_channel::unbounded();
    let key = phiscan::report::fingerprint::FingerprintKey::default();
    let report = exposure::check_service_as(
        &svc,
        true,
        &ExposureOptions::default(),
        &tx,
        &key,
        Some(display.as_str().into()),
    )
    .unwrap();
    drop(tx);
    let rows: Vec<Finding> = rx
        .into_iter()
        .filter_map(|e| match e {
            Event::Finding(f) => Some(f),
            _ => None,
        })
        .collect();
    assert!(rows.iter().all(|f| *f.target == *display), "{rows:?}");
    assert!(rows
        .iter()
        .any(|f| f.entity.as_str() == "FTP_ANONYMOUS_LOGIN"));
    assert_eq!(report.verdicts[&Check::AnonymousLogin], Verdict::Found(1));
}

#[test]
fn a_stop_ends_the_sweep_early_and_says_so() {
    let b = block();
    let mut c = config(&[format!("{}.{}.0.0/16", b[0], b[1])], &[2121]);
    c.rate = Some(200.0);
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(300));
        flag.store(true, std::sync::atomic::Ordering::SeqCst);
    });
    let started = std::time::Instant::now();
    let (tx, _rx) = crossbeam_channel::unbounded();
    let s = discover::run(&c, stop, &tx).unwrap();
    assert!(s.interrupted);
    assert_eq!(s.addresses, 65536);
    assert!(s.addresses_done < 1000, "{}", s.addresses_done);
    // At 200 connections a second, the whole /16 would take 5.5 minutes.
    assert!(started.elapsed() < Duration::from_secs(10));
}

/// `phiscan scan BLOCK --ports P`: an address block given to `scan` is
/// swept on the ports given (as `discover --ports`), then crawled.
#[test]
fn scan_of_a_block_takes_ports() {
    let b = block();
    let share = tempfile::tempdir().unwrap();
    std::fs::write(share.path().join("patients.txt"), "SSN 512-34-7890\n").unwrap();
    let open = es::start_unftp_at(at(b, 120, 0), share.path());
    let block = format!("{}.{}.{}.120/30", b[0], b[1], b[2]);
    let run = |ports: &str| {
        assert_cmd::Command::cargo_bin("phiscan")
            .unwrap()
            .args(["scan", &block, "--ports", ports, "--timeout", "5"])
            .output()
            .unwrap()
    };
    let out = run(&open.port().to_string());
    let csv = String::from_utf8_lossy(&out.stdout);
    assert!(
        csv.lines()
            .any(|l| l.contains("patients.txt") && l.contains(",SSN,")),
        "{csv}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    // Another port: the server is not found, so nothing is crawled.
    let other = if open.port() == 65535 {
        65534
    } else {
        open.port() + 1
    };
    let out = run(&other.to_string());
    assert!(!String::from_utf8_lossy(&out.stdout).contains("patients.txt"));
    let out = run("99999");
    assert_eq!(out.status.code(), Some(2));
}
