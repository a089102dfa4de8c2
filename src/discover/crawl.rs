//! `phiscan scan 10.20.0.0/22`: an address, block or range among a scan's
//! targets is discovered first (the same sweep and checks as `phiscan
//! discover`, rows into the scan's report), then every FTP server that let
//! us in anonymously is crawled for PHI, in the same run.
//!
//! The crawl's own exposure rows and check verdicts for those servers
//! (anonymous login, no TLS, certificate, known-vulnerable banner,
//! world-writable, write) are dropped: the discovery judged them
//! already, with more checks, and a server must not get each row twice.

use super::{targets, DiscoverConfig};
use crate::entity::Entity;
use crate::exposure::ExposureOptions;
use crate::report::{Event, EventSink, SkipReason};
use crate::shard::ShardScan;
use crate::source::{ftp, ScanEnv};
use std::collections::HashSet;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Whether a scan target names addresses to sweep: an IP address (with or
/// without a port), a CIDR block or a dash range. Host names are not
/// (they may be mistyped local paths); `phiscan discover` takes them.
pub fn is_network_target(s: &str) -> bool {
    !s.contains("://") && targets::parse_target(s, &|_| Err("not resolved here".into())).is_ok()
}

/// The entities the crawl reports about a server itself.
fn crawl_exposure(e: Entity) -> bool {
    matches!(
        e,
        Entity::FtpAnonymousLogin
            | Entity::FtpAnonymousWrite
            | Entity::FtpWorldWritable
            | Entity::FtpNoTls
            | Entity::FtpTlsCert
            | Entity::FtpKnownVulnerable
    )
}

/// Discovers `spec` and crawls every server that let us in.
pub fn scan_network(env: &ScanEnv, spec: &str) {
    let config = env.config;
    let timeout = Duration::from_secs(config.ftp.timeout_secs.clamp(1, 10));
    let discover = DiscoverConfig {
        targets: vec![spec.to_string()],
        ports: config.ftp.ports.clone(),
        timeout,
        exposure: ExposureOptions {
            timeout,
            check_write: config.ftp.check_write,
            ..ExposureOptions::default()
        },
        fingerprint_key: env.engine.options.fingerprint_key.clone(),
        shard: env.shard.map(|s| Arc::new(s.for_sweep())),
        ..DiscoverConfig::default()
    };
    // The scan's stop flag, passed on to the sweep.
    let stop = Arc::new(AtomicBool::new(false));
    let done = AtomicBool::new(false);
    let found = std::thread::scope(|scope| {
        scope.spawn(|| {
            while !done.load(Ordering::SeqCst) {
                if env.engine.stopped() {
                    stop.store(true, Ordering::SeqCst);
                }
                std::thread::sleep(Duration::from_millis(100));
            }
        });
        let found = super::run(&discover, stop.clone(), env.events);
        done.store(true, Ordering::SeqCst);
        found
    });
    let found = match found {
        Ok(f) => f,
        Err(e) => {
            EventSink::send(
                env.events,
                Event::NotExamined {
                    target: spec.into(),
                    path: String::new(),
                    reason: SkipReason::Network,
                    detail: format!("discovery failed: {e}"),
                },
            );
            return;
        }
    };
    // Anonymous logins only: a default login's password is never handed on.
    // Sharded, the servers of other shards too: their files may be this
    // shard's (a split depth above 0).
    let urls: Vec<&str> = found
        .reports
        .iter()
        .chain(&found.learned)
        .filter(|r| r.anonymous_user.is_some())
        .map(|r| r.url.as_str())
        .collect();
    if urls.is_empty() {
        return;
    }
    let mut crawl_config = config.clone();
    // The discovery did the write probes; the crawl must not repeat them.
    crawl_config.ftp.check_write = false;
    crawl_config.ftp.anon_check = false;
    let judged: HashSet<String> = urls.iter().map(|u| u.to_string()).collect();
    let (tx, rx) = crossbeam_channel::bounded::<Event>(1024);
    std::thread::scope(|scope| {
        let judged = &judged;
        scope.spawn(move || {
            for event in rx {
                if env.shard.is_some_and(|s| !crawl_row_is_mine(s, &event)) {
                    continue;
                }
                let repeat = match &event {
                    Event::Finding(f) => crawl_exposure(f.entity) && judged.contains(&*f.target),
                    Event::TargetInfo { target, key, .. } => {
                        // The discovery's verdicts stand: the crawl ran
                        // with its checks off and would say "not tested".
                        (matches!(*key, "banner" | "tls") || key.starts_with("check "))
                            && judged.contains(&**target)
                    }
                    _ => false,
                };
                if !repeat {
                    EventSink::send(env.events, event);
                }
            }
        });
        let crawl_env = ScanEnv {
            engine: env.engine,
            config: &crawl_config,
            filter: env.filter,
            events: &tx,
            pool: env.pool,
            shard: env.shard,
        };
        for url in &urls {
            if env.engine.stopped() {
                break;
            }
            match ftp::FtpTarget::parse(url) {
                Ok(target) => ftp::scan(&crawl_env, &target),
                Err(e) => EventSink::send(
                    &tx,
                    Event::NotExamined {
                        target: (*url).into(),
                        path: String::new(),
                        reason: SkipReason::Network,
                        detail: e.to_string(),
                    },
                ),
            }
        }
        drop(tx);
    });
}

/// Whether a crawl's event is this shard's to write: the output lets
/// every event about a swept server through (the sweep's own are this
/// shard's already), so the crawl's are sorted out here, by
/// [`ShardScan::owns`].
fn crawl_row_is_mine(shard: &ShardScan, event: &Event) -> bool {
    match event {
        Event::Finding(f) => shard.owns(&f.target, &f.path),
        Event::FileScanned { target, path, .. }
        | Event::NotExamined { target, path, .. }
        | Event::PastRowCap { target, path, .. } => shard.owns(target, path),
        Event::TargetInfo { target, .. } | Event::ServerAccess { target, .. } => {
            shard.owns(target, "")
        }
        // Files listed are filtered by shard before they are listed.
        Event::AlreadyScanned { .. }
        | Event::Discovery(_)
        | Event::Ocr { .. }
        | Event::Listed { .. } => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn which_targets_are_networks() {
        for t in [
            "10.20.0.0/22",
            "192.168.5.10-40",
            "10.0.0.5",
            "10.0.0.5:2121",
            "::1",
            "fd00::/120",
        ] {
            assert!(is_network_target(t), "{t}");
        }
        for t in [
            "ftp://10.0.0.5/",
            "shares/clinic",
            "nas.clinic.local",
            "report.csv",
        ] {
            assert!(!is_network_target(t), "{t}");
        }
    }
}
