//! The server's exposure, as rows with their own entities: anonymous login,
//! anonymous write (`--check-write`), no TLS, world-writable folders.
//!
//! The crawl calls these checks in two places only: [`check_server`] once
//! the first login has been tried, and [`listed_folder`] for each folder a
//! listing shows. A new implementation of the checks replaces them there.
//!
//! Each check also leaves its [`Verdict`] in the summary's per-target facts
//! (the same `check …` keys `discover` writes): found, not found (what said
//! so) or not tested (why), so no report reads "not found" for a check that
//! never ran.

use super::crawl::root_path;
use super::session::{Connector, Failure, ServerInfo, Session, TlsKind, TlsOutcome};
use super::url::{self, Credentials, FtpTarget};
use super::wire;
use crate::config::FtpOptions;
use crate::entity::{Confidence, Entity};
use crate::exposure::{Check, Verdict};
use crate::report::{Event, EventSink, Finding};
use crate::source::ScanEnv;
use std::sync::Arc;
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
pub(super) enum FirstLogin<'s, T: TlsStream> {
    /// Logged in; `root` is where the crawl starts (wire form).
    LoggedIn {
        session: &'s mut Session<T>,
        root: &'s str,
    },
    /// Refused, or the connection failed before or during the login; why.
    Failed(&'s Failure),
}

/// Judges the server once its first login was tried. `info` is what the
/// server said before the login (`None`: it never greeted).
pub(super) fn check_server<T: TlsStream + Send + 'static>(
    server: &Server<'_, T>,
    info: Option<&ServerInfo>,
    login: FirstLogin<'_, T>,
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
            FirstLogin::LoggedIn { .. } => "the server did not greet".to_string(),
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
    let (anonymous, write) = match login {
        FirstLogin::LoggedIn { session, root } if server.creds.anonymous => {
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
                check_write(env, server.display, session, root)
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
        _ => check_anonymous(server, opts),
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
    login: &FirstLogin<'_, T>,
) -> (Verdict, Verdict) {
    let env = server.env;
    let plain = || Verdict::NotTested("TLS not used (ftp:// target)".into());
    if !server.target.secure {
        if info.auth_tls {
            return (
                Verdict::NotFound("FEAT lists AUTH TLS (not used: ftp:// target)".into()),
                plain(),
            );
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
        FirstLogin::LoggedIn { .. } => None,
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
    if entry.world_writable && !env.config.ftp.check_write {
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
) -> (Verdict, Verdict) {
    let anon = Credentials {
        user: "anonymous".into(),
        password: opts.anonymous_password.clone(),
        anonymous: true,
        password_given: true,
    };
    let mut info = None;
    match server.connector.open_with_retries(&anon, 1, &mut info) {
        Ok(mut s) => {
            exposure(
                server.env,
                server.display,
                "",
                Entity::FtpAnonymousLogin,
                "ftp-anonymous-login",
                "anonymous",
                "the server accepted an anonymous login",
            );
            let write = if opts.check_write {
                // The anonymous user's own view of the URL path (it is
                // usually chrooted elsewhere than the credentials' user).
                let home = s.pwd().unwrap_or_else(|_| "/".into());
                let root = root_path(&home, server.target);
                check_write(server.env, server.display, &mut s, &root)
            } else {
                write_not_requested()
            };
            s.quit();
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

/// `--check-write`: creates a uniquely named directory and removes it again.
fn check_write<T: TlsStream + Send + 'static>(
    env: &ScanEnv,
    display: &Arc<str>,
    session: &mut Session<T>,
    dir: &str,
) -> Verdict {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("phiscan-write-check-{}-{nanos:09}", std::process::id());
    let path = wire::join(dir, &name);
    if let Err(f) = session.mkdir(&path) {
        return Verdict::NotFound(format!(
            "MKD {} refused: {}",
            wire::to_display(&path),
            f.detail()
        ));
    }
    exposure(
        env,
        display,
        "",
        Entity::FtpAnonymousWrite,
        "ftp-anonymous-write",
        &name,
        "an anonymous user created a directory (MKD) on the server",
    );
    if let Err(f) = session.rmdir(&path) {
        EventSink::send(
            env.events,
            Event::TargetInfo {
                target: display.clone(),
                key: "write_check",
                value: format!(
                    "created {} but could not remove it: {}",
                    wire::to_display(&path),
                    f.detail()
                ),
            },
        );
    }
    Verdict::Found(1)
}
