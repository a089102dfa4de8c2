//! `phiscan discover`: finds the FTP services on a network and judges each
//! one's exposure.
//!
//! Two stages run at once. The sweep ([`sweep`]) connects to every address
//! × port of the targets in a shuffled, repeatable order, paced by
//! `rate` and `max_in_flight`, and listens for a greeting; it keeps state
//! only for the addresses in flight. Each port that answers is handed to a
//! small pool of probe threads that run the exposure checks
//! ([`crate::exposure`]) with blocking code: services are few, and each
//! check is a short conversation.

pub mod audit;
pub mod crawl;
pub mod sweep;
pub mod targets;

use crate::exposure::{self, ExposureOptions, ServiceReport};
use crate::report::fingerprint::FingerprintKey;
use crate::report::EventSink;
use std::io::IsTerminal;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Ports tried by default: FTP, implicit FTPS, and the common alternative.
pub const DEFAULT_PORTS: [u16; 3] = [21, 990, 2121];
/// New connections per second by default: polite on a shared network (a
/// /24 with three ports takes about eight seconds).
pub const DEFAULT_RATE: f64 = 100.0;
/// Connections open at once by default.
pub const DEFAULT_MAX_IN_FLIGHT: usize = 512;
/// How long a port may stay silent before implicit TLS is tried. Short:
/// FTP servers greet at once, and a slower one costs only a second
/// connection (the TLS hello fails on its plain greeting, and the checks
/// then wait the whole `--timeout` for it).
pub const DEFAULT_GREETING_WAIT: Duration = Duration::from_millis(500);

/// What to sweep and check.
#[derive(Clone, Debug)]
pub struct DiscoverConfig {
    /// Addresses, blocks, ranges, host names, `host:port`.
    pub targets: Vec<String>,
    /// Addresses and blocks never contacted.
    pub excludes: Vec<String>,
    pub ports: Vec<u16>,
    /// New connections per second; `None` = unlimited.
    pub rate: Option<f64>,
    pub max_in_flight: usize,
    /// Connect, reply and data timeout.
    pub timeout: Duration,
    pub greeting_wait: Duration,
    /// Allow more than a /16.
    pub allow_large: bool,
    /// Services checked at once.
    pub probe_threads: usize,
    pub exposure: ExposureOptions,
    /// Where to write the URL of every service that let us log in.
    pub targets_out: Option<PathBuf>,
    /// Key of the rows' fingerprints.
    pub fingerprint_key: FingerprintKey,
    /// Show progress (addresses done of the total) on stderr.
    pub progress: bool,
    /// `--shard I/N`: probe only this shard's address:ports (see
    /// [`sweep::SweepPart`]). With a split depth above 0 (`scan BLOCK
    /// --shard`, whose servers' files every shard shares) the others'
    /// are probed and checked as well, quietly, to learn their servers.
    pub shard: Option<Arc<crate::shard::ShardScan>>,
}

impl Default for DiscoverConfig {
    fn default() -> Self {
        DiscoverConfig {
            targets: Vec::new(),
            excludes: Vec::new(),
            ports: DEFAULT_PORTS.to_vec(),
            rate: Some(DEFAULT_RATE),
            max_in_flight: DEFAULT_MAX_IN_FLIGHT,
            timeout: Duration::from_secs(5),
            greeting_wait: DEFAULT_GREETING_WAIT,
            allow_large: false,
            probe_threads: 8,
            exposure: ExposureOptions::default(),
            targets_out: None,
            fingerprint_key: FingerprintKey::default(),
            progress: false,
            shard: None,
        }
    }
}

/// Why a discovery could not run.
#[derive(Debug, thiserror::Error)]
pub enum DiscoverError {
    #[error(transparent)]
    Target(#[from] targets::TargetError),
    #[error("{0}")]
    Invalid(String),
    #[error("cannot run the sweep: {0}")]
    Sweep(#[source] std::io::Error),
    #[error("cannot write {path}: {source}")]
    TargetsOut {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// What a discovery found, for the summary and the caller.
#[derive(Clone, Debug, Default, serde::Serialize)]
pub struct DiscoverSummary {
    /// Addresses in the targets (after `--exclude`).
    pub addresses: u64,
    pub addresses_done: u64,
    /// Address × port pairs connected to.
    pub ports_probed: u64,
    pub ports_open: u64,
    pub ports_closed: u64,
    /// Open ports that speak FTP.
    pub services: u64,
    /// Open ports that speak something else (counted, not reported).
    pub not_ftp: u64,
    /// Every service found, with its checks' verdicts.
    pub reports: Vec<ServiceReport>,
    /// URLs of the services that let us log in (`--targets-out`).
    pub login_urls: Vec<String>,
    /// Services of other shards, checked quietly to learn which servers
    /// exist (see [`DiscoverConfig::shard`]); not counted, no rows.
    pub learned: Vec<ServiceReport>,
    pub interrupted: bool,
}

/// Parses every target and exclusion into the sweep space.
pub fn space(config: &DiscoverConfig) -> Result<targets::Space, DiscoverError> {
    let resolve = targets::system_resolve;
    let mut ranges = Vec::new();
    for t in &config.targets {
        ranges.extend(targets::parse_target(t, &resolve)?);
    }
    let mut excludes = Vec::new();
    for e in &config.excludes {
        excludes.extend(targets::parse_target(e, &resolve)?);
    }
    if config.ports.is_empty() {
        return Err(DiscoverError::Invalid("no port to try".into()));
    }
    let max = if config.allow_large {
        targets::HARD_MAX_ADDRESSES
    } else {
        targets::DEFAULT_MAX_ADDRESSES
    };
    Ok(targets::Space::new(
        ranges,
        &excludes,
        config.ports.clone(),
        max,
    )?)
}

/// Sweeps the targets and checks every FTP service found; rows and facts
/// go to `events`. Stops early (summary marked interrupted) once `stop`
/// is set.
pub fn run(
    config: &DiscoverConfig,
    stop: Arc<AtomicBool>,
    events: &dyn EventSink,
) -> Result<DiscoverSummary, DiscoverError> {
    if config.targets.is_empty() {
        return Err(DiscoverError::Invalid("no target to sweep".into()));
    }
    let space = space(config)?;
    let order = targets::Order::new(space.len(), space.seed());
    let part = sweep::SweepPart {
        shard: config.shard.as_ref().map(|s| s.shard),
        learn_others: config.shard.as_ref().is_some_and(|s| s.split_depth > 0),
    };
    // This shard's addresses (every address, unsharded).
    let addresses = if part.shard.is_some() {
        (0..space.len())
            .filter_map(|i| space.host(i))
            .filter(|h| part.counts_address(h))
            .count() as u64
    } else {
        space.len()
    };
    let counts = Arc::new(sweep::SweepCounts::default());
    let sweep_opts = sweep::SweepOptions {
        rate: config.rate,
        max_in_flight: config.max_in_flight.max(1),
        connect_timeout: config.timeout,
        greeting_wait: config.greeting_wait.min(config.timeout),
    };
    let services = AtomicU64::new(0);
    let not_ftp = AtomicU64::new(0);
    let reports: Mutex<Vec<ServiceReport>> = Mutex::new(Vec::new());
    let learned: Mutex<Vec<ServiceReport>> = Mutex::new(Vec::new());
    let (tx, rx) = crossbeam_channel::unbounded::<sweep::Open>();
    let done = AtomicBool::new(false);
    // On a terminal a bar; elsewhere (a CI log) a plain line a second.
    let terminal = std::io::stderr().is_terminal();
    let progress = (config.progress && terminal).then(|| {
        let bar = indicatif::ProgressBar::with_draw_target(
            Some(addresses),
            indicatif::ProgressDrawTarget::stderr_with_hz(4),
        );
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {pos}/{len} addresses {msg}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
        );
        bar
    });
    let line = |counts: &sweep::SweepCounts, services: u64| {
        format!(
            "phiscan discover: {}/{} addresses, {} open ports, {} FTP services checked",
            counts.addresses_done.load(Ordering::Relaxed),
            addresses,
            counts.ports_open.load(Ordering::Relaxed),
            services
        )
    };
    let sweep_result = std::thread::scope(|scope| {
        let mut probes = Vec::new();
        for i in 0..config.probe_threads.clamp(1, 64) {
            let rx = rx.clone();
            let (services, not_ftp, reports, learned, stop) =
                (&services, &not_ftp, &reports, &learned, &stop);
            let spawned = std::thread::Builder::new()
                .name(format!("phiscan-probe-{i}"))
                .spawn_scoped(scope, move || {
                    for open in rx {
                        if stop.load(Ordering::SeqCst) {
                            continue;
                        }
                        let mine = open.mine;
                        match check(config, open, events) {
                            Some(r) if mine => {
                                services.fetch_add(1, Ordering::SeqCst);
                                reports.lock().unwrap_or_else(|p| p.into_inner()).push(r);
                            }
                            Some(r) => learned.lock().unwrap_or_else(|p| p.into_inner()).push(r),
                            None if mine => {
                                not_ftp.fetch_add(1, Ordering::SeqCst);
                            }
                            None => {}
                        }
                    }
                });
            match spawned {
                Ok(h) => probes.push(h),
                Err(_) if i == 0 => {
                    return Err(std::io::Error::other("cannot start the probe threads"))
                }
                Err(_) => {}
            }
        }
        drop(rx);
        if config.progress {
            let (counts, done, services, bar, line) = (&counts, &done, &services, &progress, &line);
            scope.spawn(move || {
                let mut last_line = std::time::Instant::now();
                while !done.load(Ordering::SeqCst) {
                    let found = services.load(Ordering::Relaxed);
                    match bar {
                        Some(bar) => {
                            bar.set_position(counts.addresses_done.load(Ordering::Relaxed));
                            bar.set_message(format!(
                                "| {} open ports, {found} FTP services checked",
                                counts.ports_open.load(Ordering::Relaxed),
                            ));
                        }
                        None if last_line.elapsed() >= Duration::from_secs(1) => {
                            eprintln!("{}", line(counts, found));
                            last_line = std::time::Instant::now();
                        }
                        None => {}
                    }
                    std::thread::sleep(Duration::from_millis(100));
                }
            });
        }
        let result = sweep::run(
            &space,
            &order,
            part,
            &sweep_opts,
            &counts,
            &stop,
            &mut |open| {
                let _ = tx.send(open);
            },
        );
        drop(tx);
        // The services found last are still being checked.
        for p in probes {
            let _ = p.join();
        }
        done.store(true, Ordering::SeqCst);
        result
    });
    match progress {
        Some(bar) => bar.finish_and_clear(),
        None if config.progress => eprintln!("{}", line(&counts, services.load(Ordering::SeqCst))),
        None => {}
    }
    sweep_result.map_err(DiscoverError::Sweep)?;
    let mut reports = reports.into_inner().unwrap_or_else(|p| p.into_inner());
    reports.sort_by(|a, b| a.url.cmp(&b.url));
    let login_urls = login_urls(&reports);
    if let Some(path) = &config.targets_out {
        let text = targets_text(login_urls.iter().map(String::as_str));
        // Like every file phiscan writes: owner-only, never through a link.
        crate::outfile::write(path, text.as_bytes()).map_err(|source| {
            DiscoverError::TargetsOut {
                path: path.clone(),
                source,
            }
        })?;
    }
    let mut learned = learned.into_inner().unwrap_or_else(|p| p.into_inner());
    learned.sort_by(|a, b| a.url.cmp(&b.url));
    let summary = DiscoverSummary {
        addresses,
        addresses_done: counts.addresses_done.load(Ordering::SeqCst),
        ports_probed: counts.ports_probed.load(Ordering::SeqCst),
        ports_open: counts.ports_open.load(Ordering::SeqCst),
        ports_closed: counts.ports_closed.load(Ordering::SeqCst),
        services: services.load(Ordering::SeqCst),
        not_ftp: not_ftp.load(Ordering::SeqCst),
        reports,
        login_urls,
        learned,
        interrupted: stop.load(Ordering::SeqCst),
    };
    events.send(crate::report::Event::Discovery(audit::counts(&summary)));
    Ok(summary)
}

/// A targets file (`--targets-out`, a shard's `targets.txt`, merge's
/// join of them): a comment saying what it is, then one URL a line.
pub fn targets_text<'a>(urls: impl IntoIterator<Item = &'a str>) -> String {
    let mut text = String::from(
        "# FTP servers that accepted a login, found by phiscan discover.\n\
         # Scan them with: phiscan scan --targets THIS_FILE\n",
    );
    for url in urls {
        text.push_str(url);
        text.push('\n');
    }
    text
}

/// The URLs to crawl: anonymous logins as they are, default logins with
/// the user only (the password is given separately, never written).
fn login_urls(reports: &[ServiceReport]) -> Vec<String> {
    let mut out = Vec::new();
    for r in reports {
        if r.anonymous_user.is_some() {
            out.push(r.url.clone());
        } else if let Some(user) = &r.default_user {
            if let Some((scheme, rest)) = r.url.split_once("://") {
                out.push(format!("{scheme}://{}@{rest}", percent_user(user)));
            }
        }
    }
    out
}

fn percent_user(user: &str) -> String {
    user.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// Checks one open port; `None` when it speaks no FTP.
fn check(
    config: &DiscoverConfig,
    open: sweep::Open,
    events: &dyn EventSink,
) -> Option<ServiceReport> {
    let greeted = match &open.answer {
        sweep::Answer::Greeted(g) => {
            let text = String::from_utf8_lossy(g).to_ascii_uppercase();
            // Mail servers greet with 220 too.
            if text.contains("SMTP") {
                return None;
            }
            true
        }
        sweep::Answer::Silent => false,
        sweep::Answer::Other(_) => return None,
    };
    let svc = exposure::Service::new(open.addr, open.host.name.clone(), config.timeout).ok()?;
    if let Some(shard) = &config.shard {
        // Before any row is sent: the rows of a swept server follow the
        // sweep's partition (see `ShardScan::owns`).
        for implicit in [false, true] {
            shard.claim_swept(&svc.url(implicit), open.mine);
        }
    }
    if open.mine {
        return exposure::check_service(
            &svc,
            greeted,
            &config.exposure,
            events,
            &config.fingerprint_key,
        );
    }
    // Another shard's service: learn whether it lets us in, nothing more
    // (no probe that changes the server, no extra logins), and no rows.
    let quiet = ExposureOptions {
        check_write: false,
        check_default_creds: false,
        extra_logins: Vec::new(),
        check_bounce: false,
        ..config.exposure.clone()
    };
    exposure::check_service(&svc, greeted, &quiet, &NoEvents, &config.fingerprint_key)
}

/// Drops every event: the checks of another shard's services.
struct NoEvents;

impl EventSink for NoEvents {
    fn send(&self, _event: crate::report::Event) {}
}
