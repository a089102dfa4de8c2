//! The server's exposure, as rows with their own entities: anonymous login,
//! anonymous write (`--check-write`), no TLS, world-writable folders, a
//! listed vulnerable version.
//!
//! Where `discover` has a check, the crawl calls the same code in
//! [`crate::exposure`], so a scan and a discovery of one server agree: the
//! version list from the banner, AUTH TLS really sent (FEAT listing it is
//! not enough: pure-ftpd without a certificate lists it and answers 500),
//! and `--check-write`'s MKD/STOR probes in the folders that look writable.
//!
//! The crawl calls these checks in two places only: [`check_server`] once
//! the first login has been tried, and [`listed_folder`] for each folder a
//! listing shows. A new implementation of the checks replaces them there.
//!
//! Each check also leaves its [`Verdict`] in the summary's per-target facts
//! (the same `check …` keys `discover` writes): found, not found (what said
//! so) or not tested (why), so no report reads "not found" for a check that
//! never ran.

use super::session::{Connector, Failure, ServerInfo, TlsKind, TlsOutcome};
use super::url::{self, Credentials, FtpTarget};
use crate::config::FtpOptions;
use crate::entity::{Confidence, Entity};
use crate::exposure::{AuthTls, Check, ExposureOptions, Reporter, Service, Verdict};
use crate::report::{Event, EventSink, Finding};
use crate::source::ScanEnv;
use std::sync::Arc;
use std::time::Duration;
use suppaftp::TlsStream;

/// The server being judged, and how to reach it.
pub(super) struct Server<'a, T: TlsStream> {
    pub env: &'a ScanEnv<'a>,
    pub display: &'a Arc<str>,
    pub target: &'a FtpTarget,
    pub connector: &'a Connector<T>,
    /// The login the crawl uses.
    pub creds: &'a Credentials,
    /// Texts scrubbed from every verdict (the crawl's password).
    pub secrets: &'a [String],
}

/// How the crawl's own first login went.
pub(super) enum FirstLogin<'s> {
    /// Logged in.
    LoggedIn,
    /// Refused, or the connection failed before or during the login; why.
    Failed(&'s Failure),
}

/// Judges the server once its first login was tried. `info` is what the
/// server said before the login (`None`: it never greeted).
pub(super) fn check_server<T: TlsStream + Send + 'static>(
    server: &Server<'_, T>,
    info: Option<&ServerInfo>,
    login: FirstLogin<'_>,
) {
    let env = server.env;
    let opts = &env.config.ftp;
    let scrub = |s: &str| url::scrub(s, server.secrets);
    let verdict = |check: Check, v: Verdict| {
        let v = match v {
            Verdict::NotFound(why) => Verdict::NotFound(scrub(&why)),
            Verdict::NotTested(why) => Verdict::NotTested(scrub(&why)),
            found => found,
        };
        info_event(env, server.display, check.key(), v.text());
    };
    let Some(info) = info else {
        // Never greeted: nothing about the server is known.
        let why = match &login {
            FirstLogin::Failed(f) => format!("could not connect: {}", f.detail()),
            FirstLogin::LoggedIn => "the server did not greet".to_string(),
        };
        for check in [
            Check::Tls,
            Check::TlsCert,
            Check::AnonymousLogin,
            Check::AnonymousWrite,
        ] {
            verdict(check, Verdict::NotTested(why.clone()));
        }
        return;
    };
    if server.target.secure && opts.insecure {
        info_event(
            env,
            server.display,
            "tls_certificate_checks",
            "off (--insecure): the server's certificate was not verified".to_string(),
        );
    }
    let (tls, cert) = tls_verdicts(server, info, &login);
    verdict(Check::Tls, tls);
    verdict(Check::TlsCert, cert);
    verdict(Check::KnownVulnerable, known_vulnerable(server, info));
    let implicit = matches!(
        info.tls,
        TlsOutcome::Protected(TlsKind::Implicit) | TlsOutcome::Failed(TlsKind::Implicit)
    );
    let (anonymous, write) = match login {
        FirstLogin::LoggedIn if server.creds.anonymous => {
            exposure(
                env,
                server.display,
                "",
                Entity::FtpAnonymousLogin,
                "ftp-anonymous-login",
                &server.creds.user,
                "the server accepted an anonymous login",
            );
            let write = if opts.check_write {
                write_checks(server, implicit)
            } else {
                write_not_requested()
            };
            (Verdict::Found(1), write)
        }
        FirstLogin::Failed(f) if server.creds.anonymous => {
            let anonymous = if login_refused(f, info) {
                Verdict::NotFound(format!(
                    "the server refused the anonymous login: {}",
                    f.detail()
                ))
            } else {
                Verdict::NotTested(format!("the login was never answered: {}", f.detail()))
            };
            (
                anonymous,
                Verdict::NotTested("no anonymous login to test it with".into()),
            )
        }
        _ if !opts.anon_check => {
            let why = "not requested (anonymous check turned off)";
            (
                Verdict::NotTested(why.into()),
                Verdict::NotTested(why.into()),
            )
        }
        _ => check_anonymous(server, opts, implicit),
    };
    verdict(Check::AnonymousLogin, anonymous);
    verdict(Check::AnonymousWrite, write);
}

/// The login was refused by a server that greeted and held TLS (if asked
/// for): a verdict on the credentials, not a failure to reach it.
fn login_refused(f: &Failure, info: &ServerInfo) -> bool {
    matches!(f, Failure::Permanent { .. }) && !matches!(info.tls, TlsOutcome::Failed(_))
}

fn write_not_requested() -> Verdict {
    Verdict::NotTested("not requested (--check-write)".into())
}

/// Whether the server offers TLS, and whether its certificate held, as far
/// as the crawl's first connection showed. A server that refused AUTH TLS
/// or whose certificate was rejected gets its row (FTP_NO_TLS,
/// FTP_TLS_CERT); one never asked gets "not tested".
fn tls_verdicts<T: TlsStream + Send + 'static>(
    server: &Server<'_, T>,
    info: &ServerInfo,
    login: &FirstLogin<'_>,
) -> (Verdict, Verdict) {
    let env = server.env;
    let plain = || Verdict::NotTested("TLS not used (ftp:// target)".into());
    if !server.target.secure {
        if info.auth_tls {
            // FEAT alone is no proof (pure-ftpd without a certificate lists
            // AUTH TLS and answers it with 500): ask, on a connection of
            // its own, as the crawl's stays plain.
            let probe = match service(server) {
                Some(svc) => crate::exposure::probe_auth_tls(&svc),
                None => AuthTls::NoAnswer(format!("cannot resolve {}", server.target.host)),
            };
            let refused = match probe {
                AuthTls::Completed => {
                    return (
                        Verdict::NotFound(
                            "AUTH TLS accepted and the handshake completed on a separate connection (not used: ftp:// target)".into(),
                        ),
                        plain(),
                    )
                }
                AuthTls::NoAnswer(e) => {
                    return (
                        Verdict::NotTested(format!("FEAT lists AUTH TLS; no answer to it: {e}")),
                        plain(),
                    )
                }
                AuthTls::Refused(r) => format!("AUTH TLS was answered {} although FEAT lists it", r.shown()),
                AuthTls::HandshakeFailed(e) => {
                    format!("the server accepted AUTH TLS (234) but the TLS handshake failed ({e})")
                }
            };
            exposure(
                env,
                server.display,
                "",
                Entity::FtpNoTls,
                "ftp-no-tls",
                "",
                &format!("{refused}: logins and files cross the network in clear text"),
            );
            return (Verdict::Found(1), plain());
        }
        exposure(
            env,
            server.display,
            "",
            Entity::FtpNoTls,
            "ftp-no-tls",
            "",
            "the server does not offer AUTH TLS: logins and files cross the network in clear text",
        );
        return (Verdict::Found(1), plain());
    }
    let kind = |k: TlsKind| match k {
        TlsKind::Implicit => "implicit TLS",
        TlsKind::Explicit => "explicit TLS (AUTH TLS)",
    };
    let failure = match login {
        FirstLogin::Failed(f) => Some(*f),
        FirstLogin::LoggedIn => None,
    };
    match (&info.tls, failure) {
        (TlsOutcome::Protected(k), _) => {
            let cert = if env.config.ftp.insecure {
                Verdict::NotTested("--insecure: certificate checks were off".into())
            } else {
                Verdict::NotFound("the certificate was verified against the trusted roots".into())
            };
            (
                Verdict::NotFound(format!(
                    "{}; PROT P accepted: data connections encrypted",
                    kind(*k)
                )),
                cert,
            )
        }
        (TlsOutcome::Failed(TlsKind::Explicit), Some(Failure::Tls(d)))
            if d.starts_with("the server refused AUTH TLS") =>
        {
            exposure(
                env,
                server.display,
                "",
                Entity::FtpNoTls,
                "ftp-no-tls",
                "",
                &format!("{d}: logins and files can cross the network only in clear text"),
            );
            (
                Verdict::Found(1),
                Verdict::NotTested("no TLS to test".into()),
            )
        }
        (TlsOutcome::Failed(k), Some(Failure::Tls(d))) if d.contains("certificate") => {
            exposure(
                env,
                server.display,
                "",
                Entity::FtpTlsCert,
                "ftp-tls-cert",
                "",
                &format!("the server's certificate was rejected: {d}"),
            );
            (
                Verdict::NotFound(format!("{} offered", kind(*k))),
                Verdict::Found(1),
            )
        }
        (TlsOutcome::Failed(k), f) => {
            let why = format!(
                "{} tried and failed: {}",
                kind(*k),
                f.map_or("no detail", Failure::detail)
            );
            (Verdict::NotTested(why.clone()), Verdict::NotTested(why))
        }
        (TlsOutcome::NotUsed, _) => {
            let why = "TLS was not reached (the connection failed first)";
            (
                Verdict::NotTested(why.into()),
                Verdict::NotTested(why.into()),
            )
        }
    }
}

fn info_event(env: &ScanEnv, display: &Arc<str>, key: &'static str, value: String) {
    EventSink::send(
        env.events,
        Event::TargetInfo {
            target: display.clone(),
            key,
            value,
        },
    );
}

/// A folder the listing shows: writable by everyone?
pub(super) fn listed_folder(
    env: &ScanEnv,
    display: &Arc<str>,
    rel: &str,
    entry: &super::listing::Entry,
) {
    if entry.world_writable {
        exposure(
            env,
            display,
            rel,
            Entity::FtpWorldWritable,
            "ftp-world-writable",
            entry.mode.as_deref().unwrap_or(""),
            "the listing shows this directory writable by everyone",
        );
    }
}

fn exposure(
    env: &ScanEnv,
    display: &Arc<str>,
    path: &str,
    entity: Entity,
    rule: &str,
    matched: &str,
    context: &str,
) {
    let mut finding = Finding {
        target: display.clone(),
        path: path.to_string(),
        entity,
        rule: rule.into(),
        confidence: Confidence::High,
        line: None,
        column: None,
        field: String::new(),
        matched: matched.to_string(),
        context: context.to_string(),
        fingerprint: String::new(),
        value_fingerprint: String::new(),
    };
    // Fingerprints leave the target out so that mirrors match; a server's
    // exposure belongs to that server, so its name is part of the value
    // (a baseline for one server must not hide another's anonymous login).
    finding.set_fingerprints(
        &env.engine.options.fingerprint_key,
        &format!("{display}\n{matched}"),
    );
    EventSink::send(env.events, Event::Finding(finding));
}

/// Tries an anonymous login on a separate connection (credentials were
/// given for the crawl itself): the login's verdict and the write check's.
fn check_anonymous<T: TlsStream + Send + 'static>(
    server: &Server<'_, T>,
    opts: &FtpOptions,
    implicit: bool,
) -> (Verdict, Verdict) {
    let anon = Credentials {
        user: "anonymous".into(),
        password: opts.anonymous_password.clone(),
        anonymous: true,
        password_given: true,
    };
    let mut info = None;
    match server.connector.open_with_retries(&anon, 1, &mut info) {
        Ok(s) => {
            exposure(
                server.env,
                server.display,
                "",
                Entity::FtpAnonymousLogin,
                "ftp-anonymous-login",
                "anonymous",
                "the server accepted an anonymous login",
            );
            s.quit();
            let write = if opts.check_write {
                write_checks(server, implicit)
            } else {
                write_not_requested()
            };
            (Verdict::Found(1), write)
        }
        Err(f) => {
            let refused = info.as_ref().is_some_and(|i| login_refused(&f, i));
            let login = if refused {
                Verdict::NotFound(format!(
                    "the server refused the anonymous login: {}",
                    f.detail()
                ))
            } else {
                Verdict::NotTested(format!(
                    "the anonymous login was never answered: {}",
                    f.detail()
                ))
            };
            (
                login,
                Verdict::NotTested("no anonymous login to test it with".into()),
            )
        }
    }
}

/// `--check-write`: the same probes as `discover --check-write` (every
/// folder that looks writable, MKD and STOR, leftovers named in a row), on
/// an anonymous connection of their own. Their world-writable rows are
/// left out: the crawl reports those from its own listings, which reach
/// every folder. The anonymous-write verdict; the drop-site signs' verdict
/// goes to the facts.
fn write_checks<T: TlsStream + Send + 'static>(server: &Server<'_, T>, implicit: bool) -> Verdict {
    let env = server.env;
    let Some(svc) = service(server) else {
        return Verdict::NotTested(format!("cannot resolve {}", server.target.host));
    };
    let opts = ExposureOptions {
        timeout: svc.timeout,
        check_write: true,
        ..ExposureOptions::default()
    };
    let sink = WithoutWorldWritable(env.events);
    let rep = Reporter {
        events: &sink,
        key: &env.engine.options.fingerprint_key,
        target: server.display.clone(),
    };
    let mut verdicts = crate::exposure::anonymous_session_checks(&svc, implicit, &opts, &rep);
    if let Some(v) = verdicts.remove(&Check::AbuseSigns) {
        info_event(env, server.display, Check::AbuseSigns.key(), v.text());
    }
    verdicts
        .remove(&Check::AnonymousWrite)
        .unwrap_or_else(|| Verdict::NotTested("the write probes did not run".into()))
}

/// The events of the write probes without their world-writable rows.
struct WithoutWorldWritable<'a>(&'a crossbeam_channel::Sender<Event>);

impl EventSink for WithoutWorldWritable<'_> {
    fn send(&self, event: Event) {
        if !matches!(&event, Event::Finding(f) if f.entity == Entity::FtpWorldWritable) {
            EventSink::send(self.0, event);
        }
    }
}

/// The target as the exposure checks address it.
fn service<T: TlsStream>(server: &Server<'_, T>) -> Option<Service> {
    let timeout = Duration::from_secs(server.env.config.ftp.timeout_secs.max(1));
    Service::resolve(&server.target.host, server.target.port, timeout).ok()
}

/// FTP_KNOWN_VULNERABLE, from the greeting only (nothing is sent to test it).
fn known_vulnerable<T: TlsStream>(server: &Server<'_, T>, info: &ServerInfo) -> Verdict {
    let matches = crate::exposure::data::vulnerable_matches(&info.banner, "");
    if matches.is_empty() {
        return Verdict::NotFound("the banner names no listed version".into());
    }
    for (v, named) in &matches {
        exposure(
            server.env,
            server.display,
            "",
            Entity::FtpKnownVulnerable,
            &v.id,
            &format!("{named} ({})", v.cve),
            &format!(
                "the banner names {named}: {}. Judged by the banner only; nothing was sent to test it",
                v.description
            ),
        );
    }
    Verdict::Found(matches.len() as u32)
}
