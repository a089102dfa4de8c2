//! What the summary says about a server: its banner, TLS, and how its
//! folders are listed.

use super::session::{self, ServerInfo};
use super::url::FtpTarget;
use crate::report::{Event, EventSink};
use crate::source::ScanEnv;
use std::sync::Arc;

/// Sends the server's facts to the summary.
pub(super) fn report(env: &ScanEnv, display: &Arc<str>, target: &FtpTarget, info: &ServerInfo) {
    let info_event = |key: &'static str, value: String| {
        EventSink::send(
            env.events,
            Event::TargetInfo {
                target: display.clone(),
                key,
                value,
            },
        );
    };
    info_event("banner", banner_text(&info.banner));
    let tls = if target.secure {
        "explicit TLS (AUTH TLS), data channel protected (PROT P)"
    } else if info.auth_tls {
        "AUTH TLS offered, not used (ftp:// target)"
    } else {
        "not offered"
    };
    info_event("tls", tls.to_string());
    info_event(
        "listing",
        if info.mlsd { "MLSD" } else { "LIST" }.to_string(),
    );
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
