//! FTP/FTPS crawler: scans a live server in place.
//!
//! A pool of `--connections` control connections, one worker thread each,
//! shares one queue of directories to list and files to fetch. A worker
//! streams each file's data connection straight through
//! the [`Engine`](crate::engine::Engine), reading at most
//! `--max-bytes`, then ends the transfer so the connection stays usable.
//! Memory stays bounded: the file queue is only refilled (by listing more
//! directories) when it runs low, and no file is ever held whole.
//!
//! Before the crawl the first connection reports the server's exposure:
//! anonymous login, anonymous write (`--check-write`), no TLS. A login the
//! server refuses ends the target there, as `ServerAccess::LoginFailed`.
//!
//! TLS: `ftpes://` is explicit; `ftps://` is implicit or explicit as the
//! server speaks it, told apart on the first connection (see
//! [`url`] and `session::Connector::open`). A URL path CWD refuses is tried
//! as a file. EPSV refused falls back to PASV (`session::Session`).
//!
//! Files by concern: [`url`] (targets, where a password comes from),
//! [`session`] (one control connection: connect, TLS, login, commands, time
//! bounds), [`tls`] (the rustls configuration), [`exposure`] (the exposure
//! rows), [`server_info`] (the summary's lines about the server),
//! [`crawl`] (the workers, listing folders) over the [`queue`], [`fetch`]
//! (reading one file), [`listing`] (parsing listings), [`wire`] (names as
//! bytes).
//!
//! Against a hostile or broken server (each case is a test in
//! `tests/it/ftp_hostile.rs`), every limit reached is reported with the path:
//! - one listing keeps at most `crawl::MAX_DIR_ENTRIES` entries and 64 MiB;
//!   the rest of a larger or endless listing is not read (a million entries
//!   in one folder cost about as much memory as half a million names);
//! - a name listed twice is examined once; a folder listing exactly what a
//!   folder above it listed is a loop and is not crawled further; at most
//!   `MAX_DIRS` folders, `HARD_MAX_DEPTH` levels, `MAX_LINK_HOPS` links;
//! - names are only names: `/`, CR, LF, NUL, `.`/`..` and `..\` never
//!   address anything, and report paths carry no control characters;
//! - replies, slow transfers and `--max-bytes 0` files are bounded as the
//!   [`session`] module says and by `fetch::LISTED_SIZE_SLACK` and
//!   `fetch::UNLISTED_CEILING`;
//! - data connections go only to the control connection's peer, whatever
//!   address PASV names; in active mode only that peer may connect.

mod crawl;
mod exposure;
mod fetch;
pub mod listing;
mod queue;
mod server_info;
pub mod session;
mod tls;
pub mod url;
pub mod wire;

pub use url::{redact, FtpTarget};

use super::ScanEnv;
use crate::report::{Event, EventSink, ServerAccess, SkipReason};
use crawl::{root_path, Crawl};
use exposure::FirstLogin;
use session::{Connector, Failure, RateLimiter, Security};
use std::sync::Arc;
use suppaftp::TlsStream;
use url::{Credentials, TlsScheme};

/// Scans one FTP target. Never panics on anything the server sends; every
/// path it could not examine is reported with the reason.
pub fn scan(env: &ScanEnv, target: &FtpTarget) {
    let opts = &env.config.ftp;
    let display = target.display.clone();
    let netrc = match &opts.netrc {
        Some(path) => match url::read_netrc(path) {
            Ok(text) => Some(text),
            Err(e) => {
                EventSink::send(
                    env.events,
                    Event::not_examined(&display, "", SkipReason::Unreadable, e.to_string()),
                );
                return;
            }
        },
        None => None,
    };
    let creds = url::credentials(
        target,
        std::env::var(url::PASSWORD_ENV).ok(),
        netrc.as_deref(),
        opts.anonymous_password.expose(),
    );
    let rate = Arc::new(RateLimiter::new(opts.rate));
    if target.tls == TlsScheme::None {
        run::<session::PlainTls>(env, target, creds, Security::Plain, rate);
        return;
    }
    let config = match tls::tls_config(opts.insecure) {
        Ok(c) => c,
        Err(e) => {
            EventSink::send(
                env.events,
                Event::not_examined(&display, "", SkipReason::Network, e),
            );
            return;
        }
    };
    let explicit = tls::explicit_securer(config.clone(), target.host.clone());
    let security = match target.tls {
        TlsScheme::ImplicitOrExplicit => Security::Either {
            explicit,
            implicit: tls::implicit_opener(config, target.host.clone()),
        },
        _ => Security::Explicit(explicit),
    };
    run(env, target, creds, security, rate);
}

/// Logs in, judges the server's exposure, then crawls.
fn run<T: TlsStream + Send + 'static>(
    env: &ScanEnv,
    target: &FtpTarget,
    creds: Credentials,
    security: Security<T>,
    rate: Arc<RateLimiter>,
) {
    let opts = &env.config.ftp;
    let display = target.display.clone();
    let access = |access: ServerAccess| {
        EventSink::send(
            env.events,
            Event::ServerAccess {
                target: display.clone(),
                access,
            },
        );
    };
    let secrets: Vec<String> = if creds.anonymous || creds.password.expose().len() < 3 {
        Vec::new()
    } else {
        vec![
            creds.password.expose().to_string(),
            wire::from_text(creds.password.expose()),
        ]
    };
    let scrub = |s: &str| url::scrub(s, &secrets);
    // `--shard`: the server's exposure (and `--check-write`'s probe) is
    // judged once, by the shard that owns the server.
    let checks_server = env.shard.is_none_or(|s| s.checks_server(&display));
    let hostport = format!("{}:{}", target.host, target.port);
    let connector = match Connector::new(target, opts, security, rate) {
        Ok(c) => c,
        Err(f) => {
            let detail = scrub(&format!("cannot connect to {hostport}: {}", f.detail()));
            access(ServerAccess::Unreachable);
            EventSink::send(
                env.events,
                Event::not_examined(&display, "", SkipReason::Network, detail),
            );
            return;
        }
    };

    let mut info = None;
    let first = connector.open_with_retries(&creds, opts.retries, &mut info);
    if let Some(info) = &info {
        server_info::report(env, &display, target, info);
    }
    let server = exposure::Server {
        env,
        display: &display,
        target,
        connector: &connector,
        creds: &creds,
        secrets: &secrets,
    };
    let mut first = match first {
        Ok(s) => s,
        Err(f) => {
            if checks_server {
                exposure::check_server(&server, info.as_ref(), FirstLogin::Failed(&f));
            }
            // The server greeted and TLS (if asked for) held: the login
            // itself was refused.
            let login_refused = matches!(f, Failure::Permanent { .. })
                && info
                    .as_ref()
                    .is_some_and(|i| !matches!(i.tls, session::TlsOutcome::Failed(_)));
            let what = match &f {
                Failure::Tls(d) if !opts.insecure && d.contains("certificate") => {
                    format!("TLS failed: {d} (use --insecure to accept a certificate that cannot be verified: self-signed, expired or for another name)")
                }
                Failure::Tls(d) | Failure::TlsBroken(d) => format!("TLS failed: {d}"),
                Failure::Permanent { detail, .. } if login_refused => {
                    let hint = if creds.password_given {
                        String::new()
                    } else {
                        format!(
                            " (no password was given for {}: set {}, use --netrc FILE, or write it in the URL)",
                            creds.user,
                            url::PASSWORD_ENV
                        )
                    };
                    format!("cannot log in as {}: {detail}{hint}", creds.user)
                }
                other => format!("cannot connect to {hostport}: {}", other.detail()),
            };
            access(if login_refused {
                ServerAccess::LoginFailed
            } else {
                ServerAccess::Unreachable
            });
            EventSink::send(
                env.events,
                Event::not_examined(&display, "", SkipReason::Network, scrub(&what)),
            );
            return;
        }
    };
    access(ServerAccess::LoggedIn);

    let home = first.pwd().unwrap_or_else(|_| "/".to_string());
    let root = root_path(&home, target);
    if checks_server {
        exposure::check_server(&server, info.as_ref(), FirstLogin::LoggedIn);
    }

    let crawl = Crawl::new(env, display.clone(), connector, creds, secrets);
    crawl.run(root, first);
    server_info::report_crawl(env, &display, &crawl.connector, &crawl.listed);
}
