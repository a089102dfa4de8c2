//! What the summary says about a server: its banner, TLS, and how its
//! folders are listed.

use super::crawl::Listed;
use super::session::{self, Connector, ServerInfo, TlsKind, TlsOutcome};
use super::url::FtpTarget;
use crate::report::{Event, EventSink};
use crate::source::ScanEnv;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use suppaftp::TlsStream;

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

/// The server's greeting and what became of TLS, once the first login was
/// tried.
pub(super) fn report(env: &ScanEnv, display: &Arc<str>, target: &FtpTarget, info: &ServerInfo) {
    info_event(env, display, "banner", banner_text(&info.banner));
    info_event(env, display, "tls", tls_text(target, info));
}

/// What happened with TLS: used and how, tried and failed, or (for
/// `ftp://`) what FEAT said, or that it was not checked.
fn tls_text(target: &FtpTarget, info: &ServerInfo) -> String {
    let kind = |k: TlsKind| match k {
        TlsKind::Implicit => "implicit TLS",
        TlsKind::Explicit => "explicit TLS (AUTH TLS)",
    };
    match info.tls {
        TlsOutcome::Protected(k) => {
            format!("{}; PROT P accepted: data connections encrypted", kind(k))
        }
        TlsOutcome::Failed(k) => format!("{} tried and failed; no login was sent", kind(k)),
        TlsOutcome::NotUsed if target.secure => "not used".to_string(),
        TlsOutcome::NotUsed if !info.feat_answered => {
            "not used (ftp:// target); not checked whether the server offers it (no answer to FEAT)"
                .to_string()
        }
        TlsOutcome::NotUsed if info.auth_tls => {
            "not used (ftp:// target); FEAT lists AUTH TLS".to_string()
        }
        TlsOutcome::NotUsed => "not used (ftp:// target); FEAT does not list AUTH TLS".to_string(),
    }
}

/// After the crawl: how folders were listed and how data connections were
/// made, as they happened.
pub(super) fn report_crawl<T: TlsStream + Send + 'static>(
    env: &ScanEnv,
    display: &Arc<str>,
    connector: &Connector<T>,
    listed: &Listed,
) {
    let mlsd = listed.mlsd.load(Ordering::Relaxed);
    let list = listed.list.load(Ordering::Relaxed);
    let refused = listed
        .mlsd_refused
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .clone();
    let listing = match (mlsd, list, refused) {
        (0, 0, _) if listed.root_is_file.load(Ordering::Relaxed) => {
            "none: the URL names a file".to_string()
        }
        (0, 0, _) => "none: no folder could be listed".to_string(),
        (_, 0, _) => "MLSD".to_string(),
        (0, _, None) => "LIST".to_string(),
        (0, _, Some(r)) => format!("LIST (MLSD refused: {r})"),
        (_, _, r) => format!(
            "MLSD, and LIST where MLSD was refused ({})",
            r.unwrap_or_default()
        ),
    };
    info_event(env, display, "listing", listing);
    let stats = connector.shared.data_connections();
    let data = if connector.active {
        match stats.active {
            0 => "none opened".to_string(),
            _ => "active (PORT/EPRT)".to_string(),
        }
    } else {
        let pasv = match &stats.epsv_refused {
            Some(r) => {
                format!("PASV (EPSV refused: {r}), to the server's own address whatever PASV names")
            }
            None => "PASV, to the server's own address whatever PASV names".to_string(),
        };
        match (stats.epsv, stats.pasv) {
            (0, 0) => "none opened".to_string(),
            (_, 0) => "EPSV".to_string(),
            (0, _) => pasv,
            (_, _) => format!("EPSV, and {pasv}"),
        }
    };
    info_event(env, display, "data_connections", data);
}

/// The greeting without reply codes, lines joined: `220-a` `220 b` → `a | b`.
fn banner_text(raw: &str) -> String {
    let lines: Vec<&str> = raw
        .lines()
        .map(|l| {
            let code = l
                .get(..3)
                .is_some_and(|c| c.bytes().all(|b| b.is_ascii_digit()));
            let rest = if code { l.get(3..).unwrap_or("") } else { l };
            rest.strip_prefix(['-', ' ']).unwrap_or(rest).trim()
        })
        .filter(|l| !l.is_empty())
        .collect();
    session::printable(&lines.join(" | "), 300)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn banner_loses_reply_codes() {
        assert_eq!(banner_text("220 (vsFTPd 3.0.3)"), "(vsFTPd 3.0.3)");
        assert_eq!(
            banner_text("220-Welcome\r\n220-\r\n220 Bye"),
            "Welcome | Bye"
        );
        assert_eq!(banner_text("no code"), "no code");
    }
}
