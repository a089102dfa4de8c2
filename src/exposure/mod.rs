//! Exposure checks on one FTP service: what it is (FTP_SERVICE), whether it
//! offers TLS (FTP_NO_TLS, judged by sending AUTH TLS) and with what
//! certificate (FTP_TLS_CERT), whether it lets anyone in
//! (FTP_ANONYMOUS_LOGIN, FTP_DEFAULT_CREDENTIALS), what anonymous users may
//! write (FTP_WORLD_WRITABLE, FTP_ANONYMOUS_WRITE) and whether they already
//! do (FTP_ABUSE_SIGNS), whether it connects where a client tells it to
//! (FTP_BOUNCE), and whether its banner names a version with a known flaw
//! (FTP_KNOWN_VULNERABLE).
//!
//! Every check ends in a [`Verdict`]: found (with its rows), not found (and
//! what said so), or not tested (and why: an opt-in flag missing, a check
//! it depends on, or a network failure, which is also reported as not
//! examined). Rows are `report::Finding`s sent as events, so every report
//! format and the summary carry them. Passwords never reach a row, a
//! verdict or an error.

pub mod control;
pub mod data;
pub mod login;
pub mod tls;
mod tree;

use crate::entity::{Confidence, Entity};
use crate::report::fingerprint::FingerprintKey;
use crate::report::{Event, EventSink, Finding, SkipReason};
use control::{Channel, Control, ControlError, Reply};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::Duration;
use suppaftp::rustls::pki_types::ServerName;

/// Passwords anonymous-login tools send: an e-mail-like one, `anonymous@`,
/// and none (vsftpd's `deny_email_enable` can refuse some, so a few are
/// tried).
pub const ANONYMOUS_LOGINS: [(&str, &str); 5] = [
    ("anonymous", "IEUser@"),
    ("anonymous", "anonymous@"),
    ("anonymous", ""),
    ("ftp", "IEUser@"),
    ("ftp", ""),
];

/// What the checks may do.
#[derive(Clone, Debug)]
pub struct ExposureOptions {
    /// Connect, reply and data timeout.
    pub timeout: Duration,
    /// `--check-write`: MKD and STOR probes in folders that look writable.
    pub check_write: bool,
    /// `--check-default-creds`: the built-in logins (and `extra_logins`).
    pub check_default_creds: bool,
    /// `--creds FILE` logins, tried after the built-in ones.
    pub extra_logins: Vec<data::Login>,
    /// `--check-bounce`.
    pub check_bounce: bool,
    /// Where the bounce check listens: an address of this machine other
    /// than the one the control connection uses. `None`: a second
    /// loopback address for a server on loopback, else not tested.
    pub bounce_via: Option<IpAddr>,
    /// How long to wait before retrying after a 421.
    pub backoff: Duration,
}

impl Default for ExposureOptions {
    fn default() -> Self {
        ExposureOptions {
            timeout: Duration::from_secs(10),
            check_write: false,
            check_default_creds: false,
            extra_logins: Vec::new(),
            check_bounce: false,
            bounce_via: None,
            backoff: Duration::from_secs(5),
        }
    }
}

/// A service to check: its address and how it greeted the sweep.
#[derive(Clone)]
pub struct Service {
    pub addr: SocketAddr,
    /// The host name it was given as (URL, TLS server name).
    pub name: Option<String>,
    pub timeout: Duration,
    pub tls: Arc<tls::TlsSetup>,
}

impl Service {
    pub fn new(
        addr: SocketAddr,
        name: Option<String>,
        timeout: Duration,
    ) -> Result<Service, String> {
        Ok(Service {
            addr,
            name,
            timeout,
            tls: Arc::new(tls::TlsSetup::new()?),
        })
    }

    /// A service by host name or address: its first address.
    pub fn resolve(host: &str, port: u16, timeout: Duration) -> Result<Service, String> {
        use std::net::ToSocketAddrs;
        let addr = (host, port)
            .to_socket_addrs()
            .map_err(|e| format!("cannot resolve {host}: {e}"))?
            .next()
            .ok_or_else(|| format!("{host} has no address"))?;
        let name = host.parse::<IpAddr>().is_err().then(|| host.to_string());
        Service::new(addr, name, timeout)
    }

    fn server_name(&self) -> ServerName<'static> {
        match &self.name {
            Some(n) => ServerName::try_from(n.clone())
                .unwrap_or_else(|_| ServerName::IpAddress(self.addr.ip().into())),
            None => ServerName::IpAddress(self.addr.ip().into()),
        }
    }

    pub fn open(&self, channel: Channel) -> Result<(Control, Reply), ControlError> {
        Control::open(
            self.addr,
            channel,
            self.timeout,
            &self.tls,
            &self.server_name(),
        )
    }

    /// The service's URL: `ftps://` for implicit TLS.
    pub fn url(&self, implicit: bool) -> String {
        let host = match (&self.name, self.addr.ip()) {
            (Some(n), _) => n.clone(),
            (None, IpAddr::V6(v6)) => format!("[{v6}]"),
            (None, IpAddr::V4(v4)) => v4.to_string(),
        };
        format!(
            "{}://{host}:{}/",
            if implicit { "ftps" } else { "ftp" },
            self.addr.port()
        )
    }
}

/// The checks, in report order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    Tls,
    TlsCert,
    KnownVulnerable,
    AnonymousLogin,
    WorldWritable,
    AnonymousWrite,
    AbuseSigns,
    DefaultCredentials,
    Bounce,
}

impl Check {
    pub const ALL: [Check; 9] = [
        Check::Tls,
        Check::TlsCert,
        Check::KnownVulnerable,
        Check::AnonymousLogin,
        Check::WorldWritable,
        Check::AnonymousWrite,
        Check::AbuseSigns,
        Check::DefaultCredentials,
        Check::Bounce,
    ];

    /// Key of the verdict in the summary's per-target facts.
    pub fn key(self) -> &'static str {
        match self {
            Check::Tls => "check tls",
            Check::TlsCert => "check tls_cert",
            Check::KnownVulnerable => "check known_vulnerable",
            Check::AnonymousLogin => "check anonymous_login",
            Check::WorldWritable => "check world_writable",
            Check::AnonymousWrite => "check anonymous_write",
            Check::AbuseSigns => "check abuse_signs",
            Check::DefaultCredentials => "check default_credentials",
            Check::Bounce => "check bounce",
        }
    }
}

/// What a check came to.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(tag = "verdict", content = "detail", rename_all = "snake_case")]
pub enum Verdict {
    /// Rows were written (how many).
    Found(u32),
    /// Checked, nothing to report; what said so.
    NotFound(String),
    /// Not checked, and why.
    NotTested(String),
}

impl Verdict {
    pub fn text(&self) -> String {
        match self {
            Verdict::Found(n) => format!("found ({n} row{})", if *n == 1 { "" } else { "s" }),
            Verdict::NotFound(why) => format!("not found: {why}"),
            Verdict::NotTested(why) => format!("not tested: {why}"),
        }
    }
}

/// How a service speaks TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum TlsMode {
    /// TLS from the first byte.
    Implicit,
    /// AUTH TLS accepted and the handshake completed.
    Explicit,
    /// AUTH TLS refused, or the handshake failed.
    None,
    /// Not known (the connection failed before it could be asked).
    Unknown,
}

impl TlsMode {
    pub fn as_str(self) -> &'static str {
        match self {
            TlsMode::Implicit => "implicit TLS",
            TlsMode::Explicit => "explicit TLS (AUTH TLS)",
            TlsMode::None => "none",
            TlsMode::Unknown => "unknown",
        }
    }
}

/// Everything learnt about one service.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ServiceReport {
    pub url: String,
    pub banner: String,
    pub syst: String,
    /// Server software and version, where the banner or SYST names them.
    pub software: Option<String>,
    pub tls: TlsMode,
    pub verdicts: BTreeMap<Check, Verdict>,
    /// The user an anonymous login succeeded with.
    pub anonymous_user: Option<String>,
    /// The user a default login succeeded with (never the password).
    pub default_user: Option<String>,
}

/// Sends a service's rows and facts.
pub struct Reporter<'a> {
    pub events: &'a dyn EventSink,
    pub key: &'a FingerprintKey,
    pub target: Arc<str>,
}

impl Reporter<'_> {
    /// One exposure row. The fingerprint covers the target (a server's
    /// exposure belongs to that server), the path and `matched`.
    #[allow(clippy::too_many_arguments)]
    pub fn row(
        &self,
        entity: Entity,
        rule: &str,
        confidence: Confidence,
        path: &str,
        matched: &str,
        context: &str,
    ) {
        let mut finding = Finding {
            target: self.target.clone(),
            path: path.to_string(),
            entity,
            rule: rule.into(),
            confidence,
            line: None,
            column: None,
            field: String::new(),
            matched: matched.to_string(),
            context: context.to_string(),
            fingerprint: String::new(),
            value_fingerprint: String::new(),
        };
        finding.set_fingerprints(self.key, &format!("{}\n{matched}", self.target));
        self.events.send(Event::Finding(finding));
    }

    pub fn info(&self, key: &'static str, value: String) {
        self.events.send(Event::TargetInfo {
            target: self.target.clone(),
            key,
            value,
        });
    }

    pub fn not_examined(&self, path: &str, detail: String) {
        self.events.send(Event::NotExamined {
            target: self.target.clone(),
            path: path.to_string(),
            reason: SkipReason::Network,
            detail,
        });
    }
}

/// The software and version a greeting or SYST reply names.
pub fn software(banner: &str, syst: &str) -> Option<String> {
    use regex::Regex;
    use std::sync::OnceLock;
    static PATTERNS: OnceLock<Vec<Regex>> = OnceLock::new();
    let patterns = PATTERNS.get_or_init(|| {
        [
            r"(?i)\b(vsftpd)\s*\(?\s*(\d+(?:\.\d+)+)",
            r"(?i)\b(ProFTPD)\s+(\d+(?:\.\d+)+[a-z]?\d*)",
            r"(?i)\b(Pure-FTPd)(?:\s+\[?(\d+(?:\.\d+)+))?",
            r"(?i)\b(FileZilla Server)\s*(?:version\s*)?(\d+(?:\.\d+)+[a-z]?)?",
            r"(?i)\b(Microsoft FTP Service)()",
            r"(?i)\b(Serv-U FTP Server)\s*v?\s*(\d+(?:\.\d+)+)?",
            r"(?i)\bVersion\s+(wu)-(\d+(?:\.\d+)+)",
            r"(?i)\b(pyftpdlib)\s*(\d+(?:\.\d+)+)?",
            r"(?i)\b(libunftp)\s*(\d+(?:\.\d+)+)?",
        ]
        .iter()
        .filter_map(|p| Regex::new(p).ok())
        .collect()
    });
    for text in [banner, syst] {
        for p in patterns {
            if let Some(c) = p.captures(text) {
                let name = c.get(1).map_or("", |m| m.as_str());
                let name = if name.eq_ignore_ascii_case("wu") {
                    "wu-ftpd"
                } else {
                    name
                };
                return Some(
                    match c.get(2).map(|m| m.as_str()).filter(|v| !v.is_empty()) {
                        Some(v) => format!("{name} {v}"),
                        None => name.to_string(),
                    },
                );
            }
        }
    }
    None
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

/// Runs every check on a service that answered with a greeting (`greeted`)
/// or stayed silent (a candidate for implicit TLS). `None` when it turns
/// out to speak no FTP at all.
pub fn check_service(
    svc: &Service,
    greeted: bool,
    opts: &ExposureOptions,
    events: &dyn EventSink,
    key: &FingerprintKey,
) -> Option<ServiceReport> {
    check_service_as(svc, greeted, opts, events, key, None)
}

/// [`check_service`] with the rows' target given (`None`: the service's
/// URL). For the crawl of an `ftp://host/path` target, whose rows carry
/// the URL as the user wrote it.
pub fn check_service_as(
    svc: &Service,
    greeted: bool,
    opts: &ExposureOptions,
    events: &dyn EventSink,
    key: &FingerprintKey,
    target: Option<Arc<str>>,
) -> Option<ServiceReport> {
    // How the service speaks: a greeting in plain text, or TLS first.
    let (channel, first) = if greeted {
        (Channel::Plain, svc.open(Channel::Plain))
    } else {
        match svc.open(Channel::Implicit) {
            Ok(ok) => (Channel::Implicit, Ok(ok)),
            // Silent for a moment, then plain after all (a slow greeting).
            Err(_) => (Channel::Plain, svc.open(Channel::Plain)),
        }
    };
    let implicit = channel == Channel::Implicit;
    let url = svc.url(implicit);
    let rep = Reporter {
        events,
        key,
        target: target.unwrap_or_else(|| url.clone().into()),
    };
    let mut report = ServiceReport {
        url: url.clone(),
        banner: String::new(),
        syst: String::new(),
        software: None,
        tls: if implicit {
            TlsMode::Implicit
        } else {
            TlsMode::Unknown
        },
        verdicts: BTreeMap::new(),
        anonymous_user: None,
        default_user: None,
    };
    let (mut c, greeting) = match first {
        Ok((c, g)) if matches!(g.code, 120 | 220 | 421) => (c, g),
        // A reply, but no FTP greeting: something else on this port.
        Ok(_) | Err(ControlError::Garbage(_)) => return None,
        Err(e) => {
            if !greeted {
                return None;
            }
            rep.not_examined("", format!("cannot connect to {}: {e}", svc.addr));
            for check in Check::ALL {
                report.verdicts.insert(
                    check,
                    Verdict::NotTested(format!("the connection failed: {e}")),
                );
            }
            emit_verdicts(&rep, &report);
            return Some(report);
        }
    };
    report.banner = greeting.text.clone();
    // SYST and FEAT before login (many servers answer SYST only after it).
    let syst = c.cmd("SYST").ok().filter(|r| r.code == 215);
    report.syst = syst.map(|r| r.text).unwrap_or_default();
    let feat = c.cmd("FEAT").ok().filter(|r| r.code == 211);
    let feat_text = feat
        .map(|r| r.text.to_ascii_uppercase())
        .unwrap_or_default();
    let feat_lists_tls = feat_text.contains("AUTH TLS") || feat_text.contains("AUTH SSL");
    let (mlsd, mlst_mode_off) = mlst_features(&feat_text);
    report.software = software(&report.banner, &report.syst);

    // TLS: sent, not read from FEAT.
    if !implicit {
        report.tls = match auth_tls(&mut c, svc) {
            AuthTls::Completed => TlsMode::Explicit,
            AuthTls::HandshakeFailed(e) => {
                rep.row(
                    Entity::FtpNoTls,
                    "ftp-no-tls",
                    Confidence::High,
                    "",
                    "AUTH TLS handshake failed",
                    &format!(
                        "the server accepted AUTH TLS (234) but the TLS handshake failed ({e}): logins and files cross the network in clear text"
                    ),
                );
                report.verdicts.insert(Check::Tls, Verdict::Found(1));
                TlsMode::None
            }
            AuthTls::Refused(r) => {
                let feat_note = if feat_lists_tls {
                    " although FEAT lists AUTH TLS"
                } else {
                    ""
                };
                rep.row(
                    Entity::FtpNoTls,
                    "ftp-no-tls",
                    Confidence::High,
                    "",
                    &format!("AUTH TLS: {}", r.code),
                    &format!(
                        "AUTH TLS was answered {}{feat_note}: logins and files cross the network in clear text",
                        r.shown()
                    ),
                );
                report.verdicts.insert(Check::Tls, Verdict::Found(1));
                TlsMode::None
            }
            AuthTls::NoAnswer(e) => {
                report.verdicts.insert(
                    Check::Tls,
                    Verdict::NotTested(format!("no reply to AUTH TLS: {e}")),
                );
                rep.not_examined("", format!("TLS check: no reply to AUTH TLS: {e}"));
                TlsMode::Unknown
            }
        };
    }
    c.quit();
    if matches!(report.tls, TlsMode::Implicit | TlsMode::Explicit) {
        report.verdicts.insert(
            Check::Tls,
            Verdict::NotFound(format!("{} completed", report.tls.as_str())),
        );
    }

    // The inventory row.
    rep.row(
        Entity::FtpService,
        "ftp-service",
        Confidence::Low,
        "",
        report.software.as_deref().unwrap_or("FTP"),
        &format!(
            "banner: {}; SYST: {}; TLS: {}",
            if report.banner.is_empty() {
                "(none)"
            } else {
                &report.banner
            },
            if report.syst.is_empty() {
                "(no answer)"
            } else {
                &report.syst
            },
            report.tls.as_str()
        ),
    );
    rep.info("banner", report.banner.clone());
    rep.info("tls", report.tls.as_str().to_string());
    if let Some(s) = &report.software {
        rep.info("software", s.clone());
    }

    certificate_check(svc, &rep, &mut report);
    known_vulnerable(&rep, &mut report);

    // Anonymous login, then what it may see and do.
    let anonymous = login::first_login(svc, channel, &ANONYMOUS_LOGINS, opts.backoff);
    let mut session = match anonymous {
        Ok(s) => {
            let how = match s.channel {
                Channel::Plain => "over plain FTP",
                Channel::Explicit => "over explicit TLS",
                Channel::Implicit => "over implicit TLS",
            };
            rep.row(
                Entity::FtpAnonymousLogin,
                "ftp-anonymous-login",
                Confidence::High,
                "",
                &s.user,
                &format!(
                    "the server accepted an anonymous login as {:?} {how} ({})",
                    s.user,
                    s.reply.shown()
                ),
            );
            report
                .verdicts
                .insert(Check::AnonymousLogin, Verdict::Found(1));
            report.anonymous_user = Some(s.user.clone());
            Some(s)
        }
        Err(login::NoLogin::Refused(why)) => {
            report.verdicts.insert(
                Check::AnonymousLogin,
                Verdict::NotFound(format!("refused (last answer {why})")),
            );
            None
        }
        Err(login::NoLogin::Untested(why)) => {
            rep.not_examined("", format!("anonymous login check failed: {why}"));
            report
                .verdicts
                .insert(Check::AnonymousLogin, Verdict::NotTested(why));
            None
        }
    };
    match session.as_mut() {
        Some(s) => tree::anonymous_checks(s, mlsd, mlst_mode_off, opts, &rep, &mut report),
        None => {
            let why = match &report.verdicts[&Check::AnonymousLogin] {
                Verdict::NotTested(_) => "the anonymous login could not be checked",
                _ => "no anonymous login",
            };
            for check in [
                Check::WorldWritable,
                Check::AnonymousWrite,
                Check::AbuseSigns,
            ] {
                report
                    .verdicts
                    .insert(check, Verdict::NotTested(why.to_string()));
            }
        }
    }

    // Default logins, on servers that do not already let anyone in as the
    // anonymous user those names would reach.
    let mut default_session = None;
    if opts.check_default_creds {
        let mut logins = data::default_logins();
        logins.extend(opts.extra_logins.iter().cloned());
        if report.anonymous_user.is_some() {
            // vsftpd and others map `ftp` (and `anonymous`) to the
            // anonymous account: that login is the one reported above.
            logins.retain(|l| !matches!(l.user.as_str(), "ftp" | "anonymous"));
        }
        let pairs: Vec<(&str, &str)> = logins
            .iter()
            .map(|l| (l.user.as_str(), l.password.expose()))
            .collect();
        match login::first_login(svc, channel, &pairs, opts.backoff) {
            Ok(s) => {
                rep.row(
                    Entity::FtpDefaultCredentials,
                    "ftp-default-credentials",
                    Confidence::High,
                    "",
                    &s.user,
                    &format!(
                        "the server accepted a default or listed login for user {:?} (password not shown); change it",
                        s.user
                    ),
                );
                report.default_user = Some(s.user.clone());
                report
                    .verdicts
                    .insert(Check::DefaultCredentials, Verdict::Found(1));
                default_session = Some(s);
            }
            Err(login::NoLogin::Refused(_)) => {
                report.verdicts.insert(
                    Check::DefaultCredentials,
                    Verdict::NotFound(format!("{} logins tried, all refused", pairs.len())),
                );
            }
            Err(login::NoLogin::Untested(why)) => {
                rep.not_examined("", format!("default login check failed: {why}"));
                report
                    .verdicts
                    .insert(Check::DefaultCredentials, Verdict::NotTested(why));
            }
        }
    } else {
        report.verdicts.insert(
            Check::DefaultCredentials,
            Verdict::NotTested("needs --check-default-creds".into()),
        );
    }

    // Bounce, from whichever login we have.
    let verdict = if !opts.check_bounce {
        Verdict::NotTested("needs --check-bounce".into())
    } else {
        match session.as_mut().or(default_session.as_mut()) {
            Some(s) => tree::bounce(s, opts, &rep),
            None => Verdict::NotTested("no login to test it from".into()),
        }
    };
    report.verdicts.insert(Check::Bounce, verdict);
    if let Some(s) = session {
        s.control.quit();
    }
    if let Some(s) = default_session {
        s.control.quit();
    }
    emit_verdicts(&rep, &report);
    Some(report)
}

fn emit_verdicts(rep: &Reporter, report: &ServiceReport) {
    for (check, verdict) in &report.verdicts {
        rep.info(check.key(), verdict.text());
    }
}

fn certificate_check(svc: &Service, rep: &Reporter, report: &mut ServiceReport) {
    let verdict = match report.tls {
        TlsMode::None => Verdict::NotTested("no TLS".into()),
        TlsMode::Unknown => Verdict::NotTested("TLS could not be checked".into()),
        TlsMode::Implicit | TlsMode::Explicit => {
            match svc
                .tls
                .capture
                .get()
                .and_then(|c| tls::judge(&c, &svc.server_name(), now_secs()))
            {
                None => Verdict::NotTested("no certificate could be read".into()),
                Some(cert) if cert.problems.is_empty() => Verdict::NotFound(
                    cert.context("trusted, valid, issued for this name, strong key and signature"),
                ),
                Some(cert) => {
                    for (problem, detail) in &cert.problems {
                        let confidence = match problem {
                            tls::CertProblem::Expired
                            | tls::CertProblem::WeakRsaKey
                            | tls::CertProblem::Sha1Signature => Confidence::High,
                            _ => Confidence::Medium,
                        };
                        rep.row(
                            Entity::FtpTlsCert,
                            problem.rule(),
                            confidence,
                            "",
                            problem.as_str(),
                            &cert.context(detail),
                        );
                    }
                    Verdict::Found(cert.problems.len() as u32)
                }
            }
        }
    };
    report.verdicts.insert(Check::TlsCert, verdict);
}

fn known_vulnerable(rep: &Reporter, report: &mut ServiceReport) {
    let matches = data::vulnerable_matches(&report.banner, &report.syst);
    let verdict = if matches.is_empty() {
        Verdict::NotFound(format!(
            "the banner{} names no listed version",
            if report.syst.is_empty() {
                ""
            } else {
                " and SYST"
            }
        ))
    } else {
        for (v, named) in &matches {
            rep.row(
                Entity::FtpKnownVulnerable,
                &v.id,
                Confidence::High,
                "",
                &format!("{named} ({})", v.cve),
                &format!(
                    "the banner names {named}: {}. Judged by the banner only; nothing was sent to test it",
                    v.description
                ),
            );
        }
        Verdict::Found(matches.len() as u32)
    };
    report.verdicts.insert(Check::KnownVulnerable, verdict);
}

/// From a FEAT answer (upper-cased): whether MLSD is offered, and whether
/// the mode bits are a fact the server knows but sends only when asked
/// (`fact` without `*`, RFC 3659 7.8).
fn mlst_features(feat: &str) -> (bool, bool) {
    let mode_off = feat
        .split(" | ")
        .find(|l| l.trim_start().starts_with("MLST"))
        .is_some_and(|l| l.contains("UNIX.MODE;") || l.trim_end().ends_with("UNIX.MODE"));
    (feat.contains("MLST"), mode_off)
}

/// What became of AUTH TLS sent on a connection.
pub enum AuthTls {
    /// 234, and the handshake completed.
    Completed,
    /// Any other answer: the server does not offer TLS.
    Refused(Reply),
    /// 234, then the handshake failed.
    HandshakeFailed(String),
    /// No answer to judge by.
    NoAnswer(String),
}

/// Sends AUTH TLS on `c` and, when accepted, completes the handshake.
/// FEAT alone is no proof: pure-ftpd without a certificate lists AUTH TLS
/// and answers the command with 500.
fn auth_tls(c: &mut Control, svc: &Service) -> AuthTls {
    match c.cmd("AUTH TLS") {
        Ok(r) if r.code == 234 => match c.start_tls(&svc.tls, &svc.server_name()) {
            Ok(()) => AuthTls::Completed,
            Err(e) => AuthTls::HandshakeFailed(e.to_string()),
        },
        Ok(r) => AuthTls::Refused(r),
        Err(e) => AuthTls::NoAnswer(e.to_string()),
    }
}

/// AUTH TLS on a connection of its own (the crawl of an `ftp://` target,
/// whose own connection stays plain).
pub fn probe_auth_tls(svc: &Service) -> AuthTls {
    match svc.open(Channel::Plain) {
        Ok((mut c, g)) if g.code == 220 => {
            let verdict = auth_tls(&mut c, svc);
            c.quit();
            verdict
        }
        Ok((c, g)) => {
            c.quit();
            AuthTls::NoAnswer(format!("the server greeted {}", g.shown()))
        }
        Err(e) => AuthTls::NoAnswer(e.to_string()),
    }
}

/// The checks an anonymous session runs (world-writable folders, the
/// write probes, drop-site signs), on a connection of their own: for
/// `phiscan scan ftp://host/ --check-write`, so a crawl judges write
/// access exactly as `discover` does. The verdicts, by check.
pub fn anonymous_session_checks(
    svc: &Service,
    implicit: bool,
    opts: &ExposureOptions,
    rep: &Reporter,
) -> BTreeMap<Check, Verdict> {
    let channel = if implicit {
        Channel::Implicit
    } else {
        Channel::Plain
    };
    let mut report = ServiceReport {
        url: svc.url(implicit),
        banner: String::new(),
        syst: String::new(),
        software: None,
        tls: TlsMode::Unknown,
        verdicts: BTreeMap::new(),
        anonymous_user: None,
        default_user: None,
    };
    match login::first_login(svc, channel, &ANONYMOUS_LOGINS, opts.backoff) {
        Ok(mut s) => {
            let feat = s
                .control
                .cmd("FEAT")
                .ok()
                .filter(|r| r.code == 211)
                .map(|r| r.text.to_ascii_uppercase())
                .unwrap_or_default();
            let (mlsd, mode_off) = mlst_features(&feat);
            tree::anonymous_checks(&mut s, mlsd, mode_off, opts, rep, &mut report);
            s.control.quit();
        }
        Err(e) => {
            let why = match e {
                login::NoLogin::Refused(r) => format!("no anonymous login (last answer {r})"),
                login::NoLogin::Untested(why) => format!("the anonymous login failed: {why}"),
            };
            for check in [
                Check::WorldWritable,
                Check::AnonymousWrite,
                Check::AbuseSigns,
            ] {
                report
                    .verdicts
                    .insert(check, Verdict::NotTested(why.clone()));
            }
        }
    }
    report.verdicts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn software_from_banners() {
        for (banner, syst, want) in [
            ("(vsFTPd 3.0.3)", "", Some("vsFTPd 3.0.3")),
            (
                "ProFTPD 1.3.8 Server (Debian) [127.0.0.1]",
                "",
                Some("ProFTPD 1.3.8"),
            ),
            (
                "---------- Welcome to Pure-FTPd [privsep] ----------",
                "",
                Some("Pure-FTPd"),
            ),
            (
                "FileZilla Server 0.9.60 beta",
                "",
                Some("FileZilla Server 0.9.60"),
            ),
            (
                "Microsoft FTP Service",
                "Windows_NT",
                Some("Microsoft FTP Service"),
            ),
            (
                "host FTP server (Version wu-2.6.0(1) Mon) ready.",
                "",
                Some("wu-ftpd 2.6.0"),
            ),
            ("hello", "UNIX Type: L8", None),
        ] {
            assert_eq!(software(banner, syst).as_deref(), want, "{banner}");
        }
    }

    #[test]
    fn verdict_texts() {
        assert_eq!(Verdict::Found(1).text(), "found (1 row)");
        assert_eq!(
            Verdict::NotTested("needs --check-write".into()).text(),
            "not tested: needs --check-write"
        );
    }
}
