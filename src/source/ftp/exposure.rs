//! The server's exposure, as rows with their own entities: anonymous login,
//! anonymous write (`--check-write`), no TLS, world-writable folders.
//!
//! The crawl calls these checks in two places only: [`check_server`] once
//! the first login has been tried, and [`listed_folder`] for each folder a
//! listing shows. A new implementation of the checks replaces them there.

use super::crawl::root_path;
use super::session::{Connector, ServerInfo, Session};
use super::url::{Credentials, FtpTarget};
use super::wire;
use crate::config::FtpOptions;
use crate::entity::{Confidence, Entity};
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
}

/// How the crawl's own first login went.
pub(super) enum FirstLogin<'s, T: TlsStream> {
    /// Logged in; `root` is where the crawl starts (wire form).
    LoggedIn {
        session: &'s mut Session<T>,
        root: &'s str,
    },
    /// Refused, or the connection failed before or during the login.
    Failed,
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
    if let Some(info) = info {
        if !server.target.secure && !info.auth_tls {
            exposure(
                env,
                server.display,
                "",
                Entity::FtpNoTls,
                "ftp-no-tls",
                "",
                "the server does not offer AUTH TLS: logins and files cross the network in clear text",
            );
        }
    }
    match login {
        FirstLogin::LoggedIn { session, root } => {
            if server.creds.anonymous {
                exposure(
                    env,
                    server.display,
                    "",
                    Entity::FtpAnonymousLogin,
                    "ftp-anonymous-login",
                    &server.creds.user,
                    "the server accepted an anonymous login",
                );
                if opts.check_write {
                    check_write(env, server.display, session, root);
                }
            } else if opts.anon_check {
                check_anonymous(server, opts);
            }
        }
        FirstLogin::Failed => {
            if info.is_some() && !server.creds.anonymous && opts.anon_check {
                check_anonymous(server, opts);
            }
        }
    }
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
/// given for the crawl itself).
fn check_anonymous<T: TlsStream + Send + 'static>(server: &Server<'_, T>, opts: &FtpOptions) {
    let anon = Credentials {
        user: "anonymous".into(),
        password: opts.anonymous_password.clone(),
        anonymous: true,
        password_given: true,
    };
    let mut info = None;
    if let Ok(mut s) = server.connector.open_with_retries(&anon, 1, &mut info) {
        exposure(
            server.env,
            server.display,
            "",
            Entity::FtpAnonymousLogin,
            "ftp-anonymous-login",
            "anonymous",
            "the server accepted an anonymous login",
        );
        if opts.check_write {
            // The anonymous user's own view of the URL path (it is usually
            // chrooted elsewhere than the credentials' user).
            let home = s.pwd().unwrap_or_else(|_| "/".into());
            let root = root_path(&home, server.target);
            check_write(server.env, server.display, &mut s, &root);
        }
        s.quit();
    }
}

/// `--check-write`: creates a uniquely named directory and removes it again.
fn check_write<T: TlsStream + Send + 'static>(
    env: &ScanEnv,
    display: &Arc<str>,
    session: &mut Session<T>,
    dir: &str,
) {
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    let name = format!("phiscan-write-check-{}-{nanos:09}", std::process::id());
    let path = wire::join(dir, &name);
    if session.mkdir(&path).is_ok() {
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
    }
}
