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
//! anonymous login, anonymous write (`--check-write`), no TLS.
//!
//! Against a hostile or broken server (each case is a test in
//! `tests/it/ftp_hostile.rs`), every limit reached is reported with the path:
//! - one listing keeps at most `MAX_DIR_ENTRIES` entries and 64 MiB; the
//!   rest of a larger or endless listing is not read (a million entries in
//!   one folder cost about as much memory as half a million names);
//! - a name listed twice is examined once; a folder listing exactly what a
//!   folder above it listed is a loop and is not crawled further; at most
//!   `MAX_DIRS` folders, `HARD_MAX_DEPTH` levels, `MAX_LINK_HOPS` links;
//! - names are only names: `/`, CR, LF, NUL, `.`/`..` and `..\` never
//!   address anything, and report paths carry no control characters;
//! - replies, slow transfers and `--max-bytes 0` files are bounded as the
//!   [`session`] module says and by `LISTED_SIZE_SLACK` and
//!   `UNLISTED_CEILING`;
//! - data connections go only to the control connection's peer, whatever
//!   address PASV names; in active mode only that peer may connect.

pub mod listing;
pub mod session;
pub mod url;
pub mod wire;

pub use url::{redact, FtpTarget};

use super::ScanEnv;
use crate::config::{FtpOptions, FTP_DEFAULT_MAX_BYTES};
use crate::engine::{FileMeta, Incomplete};
use crate::entity::{Confidence, Entity};
use crate::report::{Event, EventSink, Finding, SkipReason};
use listing::{EntryKind, Line};
use session::{Connector, Cut, Failure, RateLimiter, Securer, ServerInfo, Session};
use std::collections::{HashSet, VecDeque};
use std::io::{self, Read};
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;
use suppaftp::{FtpError, TlsStream, TransferStream};
use url::Credentials;

/// Files waiting in the queue before workers prefer fetching to listing.
const FILE_QUEUE_LOW: usize = 1024;
/// Most entries read from one directory listing.
const MAX_DIR_ENTRIES: usize = 500_000;
/// Most symbolic links followed along one path (loop protection).
const MAX_LINK_HOPS: u32 = 8;
/// Most directories listed on one server: a hostile server can present an
/// endless tree (every CWD succeeds, every folder lists two more).
const MAX_DIRS: u64 = 1_000_000;
/// Deepest directory level crawled when `--max-depth` is not given.
const HARD_MAX_DEPTH: u32 = 256;
/// With `--max-bytes 0`: bytes read past a file's listed size (it may be
/// growing) before the transfer is cut as a server sending without end.
const LISTED_SIZE_SLACK: u64 = 1 << 20;
/// With `--max-bytes 0`, no listed size and no `--skip-larger-than`: the
/// most read from one file.
const UNLISTED_CEILING: u64 = 16 << 30;

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
        &opts.anonymous_password,
    );
    let rate = Arc::new(RateLimiter::new(opts.rate));
    if target.secure {
        let config = match tls_config(opts.insecure) {
            Ok(c) => c,
            Err(e) => {
                EventSink::send(
                    env.events,
                    Event::not_examined(&display, "", SkipReason::Network, e),
                );
                return;
            }
        };
        let domain = target.host.clone();
        let securer: Securer<_> = Arc::new(move |s: suppaftp::RustlsFtpStream| {
            // Each control connection gets its own session cache: servers
            // that require TLS session reuse on the data connection (vsftpd
            // require_ssl_reuse) refuse a session resumed from another
            // control connection, which a shared cache would hand out.
            let mut own = (*config).clone();
            own.resumption = suppaftp::rustls::client::Resumption::in_memory_sessions(32);
            s.into_secure(suppaftp::RustlsConnector::from(Arc::new(own)), &domain)
        });
        run(env, target, creds, securer, rate);
    } else {
        let securer: Securer<_> = Arc::new(|s: suppaftp::FtpStream| Ok(s));
        run(env, target, creds, securer, rate);
    }
}

fn tls_config(insecure: bool) -> Result<Arc<suppaftp::rustls::ClientConfig>, String> {
    use suppaftp::rustls::{self, ClientConfig, RootCertStore};
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("cannot set up TLS: {e}"))?;
    let config = if insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAnyCert(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        for cert in rustls_native_certs::load_native_certs().certs {
            // A broken system certificate is skipped, not fatal.
            let _ = roots.add(cert);
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    Ok(Arc::new(config))
}

/// `--insecure`: accepts any server certificate, still checking that the
/// handshake is signed by the key in the certificate presented.
#[derive(Debug)]
struct AcceptAnyCert(Arc<suppaftp::rustls::crypto::CryptoProvider>);

impl suppaftp::rustls::client::danger::ServerCertVerifier for AcceptAnyCert {
    fn verify_server_cert(
        &self,
        _end_entity: &suppaftp::rustls::pki_types::CertificateDer<'_>,
        _intermediates: &[suppaftp::rustls::pki_types::CertificateDer<'_>],
        _server_name: &suppaftp::rustls::pki_types::ServerName<'_>,
        _ocsp_response: &[u8],
        _now: suppaftp::rustls::pki_types::UnixTime,
    ) -> Result<suppaftp::rustls::client::danger::ServerCertVerified, suppaftp::rustls::Error> {
        Ok(suppaftp::rustls::client::danger::ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &suppaftp::rustls::pki_types::CertificateDer<'_>,
        dss: &suppaftp::rustls::DigitallySignedStruct,
    ) -> Result<suppaftp::rustls::client::danger::HandshakeSignatureValid, suppaftp::rustls::Error>
    {
        suppaftp::rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &suppaftp::rustls::pki_types::CertificateDer<'_>,
        dss: &suppaftp::rustls::DigitallySignedStruct,
    ) -> Result<suppaftp::rustls::client::danger::HandshakeSignatureValid, suppaftp::rustls::Error>
    {
        suppaftp::rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<suppaftp::rustls::SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

/// A directory to list.
#[derive(Debug, Clone)]
struct DirJob {
    /// Absolute server path, wire form.
    wire: String,
    /// Report path relative to the target ("" for its root).
    rel: String,
    depth: u32,
    /// Symbolic links followed to get here.
    links: u32,
    /// Reached through a link: may turn out to be a file.
    via_link: bool,
    /// Shapes ([`listing_shape`]) of the folders above, with their report
    /// paths, for loop detection.
    ancestors: Arc<Vec<(u64, String)>>,
}

/// A file to fetch.
#[derive(Debug, Clone)]
struct FileJob {
    wire: String,
    rel: String,
    size: Option<u64>,
}

enum Job {
    Dir(DirJob),
    File(FileJob),
}

#[derive(Default)]
struct QueueState {
    dirs: Vec<DirJob>,
    files: VecDeque<FileJob>,
    busy: usize,
}

/// The work shared by the workers. Directories are taken depth-first and
/// only while few files wait, which bounds the queue by roughly one
/// directory's worth of files.
#[derive(Default)]
struct Queue {
    state: Mutex<QueueState>,
    wake: Condvar,
}

impl Queue {
    fn lock(&self) -> std::sync::MutexGuard<'_, QueueState> {
        self.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn next(&self) -> Option<Job> {
        let mut s = self.lock();
        loop {
            if s.files.len() < FILE_QUEUE_LOW {
                if let Some(d) = s.dirs.pop() {
                    s.busy += 1;
                    return Some(Job::Dir(d));
                }
            }
            if let Some(f) = s.files.pop_front() {
                s.busy += 1;
                return Some(Job::File(f));
            }
            if let Some(d) = s.dirs.pop() {
                s.busy += 1;
                return Some(Job::Dir(d));
            }
            if s.busy == 0 {
                self.wake.notify_all();
                return None;
            }
            s = self.wake.wait(s).unwrap_or_else(|p| p.into_inner());
        }
    }

    fn done(&self) {
        let mut s = self.lock();
        s.busy = s.busy.saturating_sub(1);
        self.wake.notify_all();
    }

    fn push_dir(&self, d: DirJob) {
        self.lock().dirs.push(d);
        self.wake.notify_one();
    }

    fn push_file(&self, f: FileJob) {
        self.lock().files.push_back(f);
        self.wake.notify_one();
    }

    /// Puts a job back (its worker is leaving); call before [`Queue::done`].
    fn requeue(&self, job: Job) {
        let mut s = self.lock();
        match job {
            Job::Dir(d) => s.dirs.push(d),
            Job::File(f) => s.files.push_front(f),
        }
        self.wake.notify_all();
    }
}

struct Crawl<'a, T: TlsStream> {
    env: &'a ScanEnv<'a>,
    opts: &'a FtpOptions,
    display: Arc<str>,
    connector: Connector<T>,
    creds: Credentials,
    queue: Queue,
    max_bytes: u64,
    files_queued: AtomicU64,
    max_files_reported: AtomicBool,
    dirs_queued: AtomicU64,
    max_dirs_reported: AtomicBool,
    /// Directories already listed (wire paths, and PWD of linked ones).
    visited: Mutex<HashSet<String>>,
    /// Workers still holding or able to get a connection.
    live: AtomicUsize,
    /// Strings that must never appear in a message (the password).
    secrets: Vec<String>,
    max_depth: u32,
}

fn run<T: TlsStream + Send + 'static>(
    env: &ScanEnv,
    target: &FtpTarget,
    creds: Credentials,
    securer: Securer<T>,
    rate: Arc<RateLimiter>,
) {
    let opts = &env.config.ftp;
    let display = target.display.clone();
    let secrets: Vec<String> = if creds.anonymous || creds.password.expose().len() < 3 {
        Vec::new()
    } else {
        vec![
            creds.password.expose().to_string(),
            wire::from_text(creds.password.expose()),
        ]
    };
    let scrub = |s: &str| scrub(s, &secrets);
    let hostport = format!("{}:{}", target.host, target.port);
    let connector = match Connector::new(target, opts, securer, rate) {
        Ok(c) => c,
        Err(f) => {
            let detail = scrub(&format!("cannot connect to {hostport}: {}", f.detail()));
            EventSink::send(
                env.events,
                Event::not_examined(&display, "", SkipReason::Network, detail),
            );
            return;
        }
    };

    let mut info = None;
    let first = open_with_retries(&connector, &creds, opts.retries, &mut info);
    if let Some(info) = &info {
        report_server_info(env, &display, target, info);
    }
    let first = match first {
        Ok(s) => s,
        Err(f) => {
            if info.is_some() && !creds.anonymous && opts.anon_check {
                check_anonymous(env, &display, &connector, opts, target);
            }
            let what = match &f {
                Failure::Tls(d) if !opts.insecure && d.contains("certificate") => {
                    format!("TLS failed: {d} (use --insecure to accept a certificate that cannot be verified: self-signed, expired or for another name)")
                }
                Failure::Tls(d) | Failure::TlsBroken(d) => format!("TLS failed: {d}"),
                Failure::Permanent { detail, .. } if info.is_some() => {
                    format!("cannot log in as {}: {detail}", creds.user)
                }
                other => format!("cannot connect to {hostport}: {}", other.detail()),
            };
            EventSink::send(
                env.events,
                Event::not_examined(&display, "", SkipReason::Network, scrub(&what)),
            );
            return;
        }
    };

    let mut first = first;
    let home = first.pwd().unwrap_or_else(|_| "/".to_string());
    let root = root_path(&home, target);

    if creds.anonymous {
        exposure(
            env,
            &display,
            "",
            Entity::FtpAnonymousLogin,
            "ftp-anonymous-login",
            &creds.user,
            "the server accepted an anonymous login",
        );
        if opts.check_write {
            check_write(env, &display, &mut first, &root);
        }
    } else if opts.anon_check {
        check_anonymous(env, &display, &connector, opts, target);
    }

    let connections = opts.connections.clamp(1, 64);
    let crawl = Crawl {
        env,
        opts,
        display: display.clone(),
        connector,
        creds,
        queue: Queue::default(),
        max_bytes: env.config.max_bytes.unwrap_or(FTP_DEFAULT_MAX_BYTES),
        files_queued: AtomicU64::new(0),
        max_files_reported: AtomicBool::new(false),
        dirs_queued: AtomicU64::new(0),
        max_dirs_reported: AtomicBool::new(false),
        visited: Mutex::new(HashSet::new()),
        live: AtomicUsize::new(connections),
        secrets,
        max_depth: opts.max_depth.unwrap_or(HARD_MAX_DEPTH).min(HARD_MAX_DEPTH),
    };
    crawl.queue.push_dir(DirJob {
        wire: root,
        rel: String::new(),
        depth: 0,
        links: 0,
        via_link: false,
        ancestors: Arc::new(Vec::new()),
    });
    let mut first = Some(first);
    std::thread::scope(|scope| {
        for i in 0..connections {
            let session = if i == 0 { first.take() } else { None };
            let crawl = &crawl;
            let spawned = std::thread::Builder::new()
                .name(format!("phiscan-ftp-{i}"))
                .spawn_scoped(scope, move || crawl.worker(session));
            if spawned.is_err() {
                crawl.live.fetch_sub(1, Ordering::SeqCst);
            }
        }
    });
}

/// Where the crawl starts: the URL path under the login directory, or
/// absolute for `ftp://host//path`.
fn root_path(home: &str, target: &FtpTarget) -> String {
    let path = wire::from_bytes(&target.path);
    let base = if target.absolute || !home.starts_with('/') {
        "/"
    } else {
        home
    };
    join(base, &path)
}

/// What a listing holds (names, kinds, sizes; not dates, which change), as
/// a hash; `None` for a listing without folders, which cannot loop.
fn listing_shape(entries: &[listing::Entry]) -> Option<u64> {
    use std::hash::{Hash, Hasher};
    if !entries
        .iter()
        .any(|e| matches!(e.kind, EntryKind::Dir | EntryKind::Link))
    {
        return None;
    }
    let mut keys: Vec<(&str, u8, Option<u64>)> = entries
        .iter()
        .map(|e| {
            let kind = match e.kind {
                EntryKind::File => 0,
                EntryKind::Dir => 1,
                EntryKind::Link => 2,
            };
            (
                e.name.as_str(),
                kind,
                e.size.filter(|_| e.kind == EntryKind::File),
            )
        })
        .collect();
    keys.sort_unstable();
    // Fixed keys: the same listing always gives the same hash.
    let mut h = std::collections::hash_map::DefaultHasher::new();
    keys.hash(&mut h);
    Some(h.finish())
}

fn join(dir: &str, name: &str) -> String {
    if name.is_empty() {
        return dir.to_string();
    }
    let dir = dir.trim_end_matches('/');
    format!("{dir}/{name}")
}

fn scrub(s: &str, secrets: &[String]) -> String {
    let mut out = s.to_string();
    for secret in secrets {
        if !secret.is_empty() && out.contains(secret.as_str()) {
            out = out.replace(secret.as_str(), "***");
        }
    }
    out
}

fn open_with_retries<T: TlsStream + Send + 'static>(
    connector: &Connector<T>,
    creds: &Credentials,
    retries: u32,
    info: &mut Option<ServerInfo>,
) -> Result<Session<T>, Failure> {
    let mut attempt = 0;
    loop {
        match connector.open(creds, info) {
            Ok(s) => return Ok(s),
            Err(f) if !f.is_retryable() || attempt >= retries => return Err(f),
            Err(_) => {
                backoff(attempt);
                attempt += 1;
            }
        }
    }
}

fn backoff(attempt: u32) {
    let ms = 200u64.saturating_mul(1 << attempt.min(5)).min(5_000);
    std::thread::sleep(Duration::from_millis(ms));
}

fn report_server_info(env: &ScanEnv, display: &Arc<str>, target: &FtpTarget, info: &ServerInfo) {
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
    if !target.secure && !info.auth_tls {
        exposure(
            env,
            display,
            "",
            Entity::FtpNoTls,
            "ftp-no-tls",
            "",
            "the server does not offer AUTH TLS: logins and files cross the network in clear text",
        );
    }
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
fn check_anonymous<T: TlsStream + Send + 'static>(
    env: &ScanEnv,
    display: &Arc<str>,
    connector: &Connector<T>,
    opts: &FtpOptions,
    target: &FtpTarget,
) {
    let anon = Credentials {
        user: "anonymous".into(),
        password: url::Secret::new(opts.anonymous_password.clone()),
        anonymous: true,
    };
    let mut info = None;
    if let Ok(mut s) = open_with_retries(connector, &anon, 1, &mut info) {
        exposure(
            env,
            display,
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
            check_write(env, display, &mut s, &root_path(&home, target));
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
    let path = join(dir, &name);
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

impl<T: TlsStream + Send + 'static> Crawl<'_, T> {
    fn scrub(&self, s: &str) -> String {
        scrub(s, &self.secrets)
    }

    fn skip(&self, path: &str, reason: SkipReason, detail: String) {
        EventSink::send(
            self.env.events,
            Event::not_examined(&self.display, path, reason, self.scrub(&detail)),
        );
    }

    fn worker(&self, mut session: Option<Session<T>>) {
        while let Some(job) = self.queue.next() {
            // Interrupted (SIGINT/SIGTERM): drain the queue without
            // listing or fetching anything more.
            if self.env.engine.stopped() {
                self.queue.done();
                continue;
            }
            if session.is_none() {
                let mut info = None;
                match open_with_retries(&self.connector, &self.creds, self.opts.retries, &mut info)
                {
                    Ok(s) => session = Some(s),
                    // Another worker still has a connection (the server may
                    // cap connections per client): leave the job to it.
                    Err(_) if self.leave_if_others_remain() => {
                        self.queue.requeue(job);
                        self.queue.done();
                        return;
                    }
                    Err(_) => {}
                }
            }
            match job {
                Job::Dir(d) => self.list_dir(&mut session, d),
                Job::File(f) => self.fetch(&mut session, f),
            }
            self.queue.done();
        }
        if let Some(s) = session {
            s.quit();
        }
    }

    fn leave_if_others_remain(&self) -> bool {
        self.live
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                (n > 1).then(|| n - 1)
            })
            .is_ok()
    }

    /// Runs `op` on a connection, reconnecting after connection failures and
    /// retrying transient ones with backoff, a bounded number of times.
    fn with_retries<R>(
        &self,
        slot: &mut Option<Session<T>>,
        mut op: impl FnMut(&mut Session<T>) -> Result<R, Failure>,
    ) -> Result<R, Failure> {
        let mut attempt = 0;
        loop {
            let result = match slot {
                Some(s) => op(s),
                None => {
                    let mut info = None;
                    match self.connector.open(&self.creds, &mut info) {
                        Ok(s) => op(slot.insert(s)),
                        Err(f) => Err(f),
                    }
                }
            };
            match result {
                Ok(r) => return Ok(r),
                Err(f) => {
                    if f.breaks_connection() {
                        *slot = None;
                    }
                    if !f.is_retryable() || attempt >= self.opts.retries {
                        return Err(f);
                    }
                    backoff(attempt);
                    attempt += 1;
                }
            }
        }
    }

    fn list_dir(&self, slot: &mut Option<Session<T>>, job: DirJob) {
        let where_ = if job.rel.is_empty() {
            "/"
        } else {
            job.rel.as_str()
        };
        let fresh = self
            .visited
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(job.wire.clone());
        if !fresh {
            return;
        }
        let via_link = job.via_link;
        let listed = self.with_retries(slot, |s| {
            s.cwd(&job.wire)?;
            if via_link {
                // A link back to a folder already crawled would loop.
                if let Ok(real) = s.pwd() {
                    let mut visited = self.visited.lock().unwrap_or_else(|p| p.into_inner());
                    if real != job.wire && !visited.insert(real) {
                        return Ok(None);
                    }
                }
            }
            // Lines are parsed as they arrive (not kept), afresh for each attempt.
            let mut parsed = Parsed::default();
            let mlsd = s.mlsd;
            match s.list_cwd(MAX_DIR_ENTRIES, |line| parsed.add(line, mlsd)) {
                Err(Failure::Permanent {
                    code: 500..=502, ..
                }) if s.mlsd => {
                    // Advertised MLST but no MLSD: fall back to LIST.
                    s.mlsd = false;
                    let mut parsed = Parsed::default();
                    s.list_cwd(MAX_DIR_ENTRIES, |line| parsed.add(line, false))
                        .map(|l| Some((l, parsed, false)))
                }
                other => other.map(|l| Some((l, parsed, mlsd))),
            }
        });
        let (raw, parsed, mlsd) = match listed {
            Ok(Some(l)) => l,
            Ok(None) => return,
            Err(Failure::Permanent { code: 550, .. }) if via_link => {
                // A link to a file: CWD refuses it.
                self.fetch(
                    slot,
                    FileJob {
                        wire: job.wire,
                        rel: job.rel,
                        size: None,
                    },
                );
                return;
            }
            Err(f) => {
                let reason = match f {
                    Failure::Permanent { .. } => SkipReason::Unreadable,
                    _ => SkipReason::Network,
                };
                self.skip(
                    &job.rel,
                    reason,
                    format!("cannot list directory {where_}: {}", f.detail()),
                );
                return;
            }
        };
        match &raw.cut {
            None => {}
            Some(Cut::TooLong) => self.skip(
                &job.rel,
                SkipReason::Limit,
                format!("the listing of {where_} exceeds {MAX_DIR_ENTRIES} entries or 64 MiB; the rest was not examined"),
            ),
            Some(Cut::TooSlow(how)) => self.skip(
                &job.rel,
                SkipReason::Limit,
                format!("the listing of {where_} {how}; it was cut there and the rest was not examined"),
            ),
        }
        let (entries, unparsed, example, repeated) = parsed.finish();
        let unparsed = unparsed + raw.overlong;
        if unparsed > 0 {
            self.skip(
                &job.rel,
                SkipReason::BadListing,
                format!(
                    "{unparsed} line(s) of the {} listing of {where_} not understood{}",
                    if mlsd { "MLSD" } else { "LIST" },
                    example.map(|e| format!(", e.g. {e:?}")).unwrap_or_default()
                ),
            );
        }
        if repeated > 0 {
            self.skip(
                &job.rel,
                SkipReason::BadListing,
                format!("{repeated} name(s) in the listing of {where_} listed more than once; each name was examined once"),
            );
        }
        // A folder that lists exactly what one of the folders above it
        // listed is that folder again (a server-side link loop shown as a
        // folder, or a hostile server): going on would never end.
        let shape = listing_shape(&entries);
        if let Some(shape) = shape {
            if let Some((_, same)) = job.ancestors.iter().find(|(h, _)| *h == shape) {
                let same = if same.is_empty() { "/" } else { same.as_str() };
                self.skip(
                    &job.rel,
                    SkipReason::Limit,
                    format!("{where_} lists the same entries as {same} (a loop?); it was not crawled further"),
                );
                return;
            }
        }
        let ancestors = match shape {
            Some(shape) => {
                let mut chain = Vec::with_capacity(job.ancestors.len() + 1);
                chain.extend(job.ancestors.iter().cloned());
                chain.push((shape, job.rel.clone()));
                Arc::new(chain)
            }
            None => job.ancestors.clone(),
        };
        for e in entries {
            self.entry(&job, &ancestors, e);
        }
    }

    fn entry(&self, parent: &DirJob, ancestors: &Arc<Vec<(u64, String)>>, e: listing::Entry) {
        let name = wire::to_report(&e.name);
        let rel = if parent.rel.is_empty() {
            name
        } else {
            format!("{}/{}", parent.rel, name)
        };
        let wire_path = join(&parent.wire, &e.name);
        let env = self.env;
        match e.kind {
            EntryKind::Dir | EntryKind::Link => {
                let is_link = e.kind == EntryKind::Link;
                if is_link && !self.opts.follow_links {
                    return;
                }
                if !env.filter.allows_dir(&rel) {
                    return;
                }
                env.engine.scan_name(&self.display, &rel, env.events);
                if e.world_writable && !is_link && !self.opts.check_write {
                    exposure(
                        env,
                        &self.display,
                        &rel,
                        Entity::FtpWorldWritable,
                        "ftp-world-writable",
                        e.mode.as_deref().unwrap_or(""),
                        "the listing shows this directory writable by everyone",
                    );
                }
                let depth = parent.depth.saturating_add(1);
                let links = parent.links + u32::from(is_link);
                if links > MAX_LINK_HOPS {
                    return;
                }
                if depth > self.max_depth {
                    self.skip(
                        &rel,
                        SkipReason::Limit,
                        format!("deeper than --max-depth {}", self.max_depth),
                    );
                    return;
                }
                if self.dirs_queued.fetch_add(1, Ordering::SeqCst) >= MAX_DIRS {
                    if !self.max_dirs_reported.swap(true, Ordering::SeqCst) {
                        self.skip(
                            &rel,
                            SkipReason::Limit,
                            format!("more than {MAX_DIRS} folders on this server; the rest were not examined"),
                        );
                    }
                    return;
                }
                self.queue.push_dir(DirJob {
                    wire: wire_path,
                    rel,
                    depth,
                    links,
                    via_link: is_link,
                    ancestors: ancestors.clone(),
                });
            }
            EntryKind::File => {
                if !env.filter.allows_file(&rel) {
                    return;
                }
                env.engine.scan_name(&self.display, &rel, env.events);
                self.queue_file(FileJob {
                    wire: wire_path,
                    rel,
                    size: e.size,
                });
            }
        }
    }

    fn queue_file(&self, job: FileJob) {
        if let (Some(limit), Some(size)) = (self.opts.skip_larger_than, job.size) {
            if size > limit {
                self.skip(
                    &job.rel,
                    SkipReason::TooLarge,
                    format!("{size} bytes, larger than --skip-larger-than {limit}"),
                );
                return;
            }
        }
        if let Some(max) = self.opts.max_files {
            if self.files_queued.fetch_add(1, Ordering::SeqCst) >= max {
                if !self.max_files_reported.swap(true, Ordering::SeqCst) {
                    self.skip(
                        "",
                        SkipReason::Limit,
                        format!("--max-files {max} reached; further files were not examined"),
                    );
                }
                return;
            }
        }
        self.queue.push_file(job);
    }

    fn fetch(&self, slot: &mut Option<Session<T>>, job: FileJob) {
        // `--resume`: an earlier run scanned it (same listed size); no RETR.
        let meta = FileMeta {
            target: &self.display,
            path: &job.rel,
            size: job.size,
            mtime: None,
        };
        if self.env.engine.already_scanned(&meta) {
            EventSink::send(
                self.env.events,
                Event::AlreadyScanned {
                    target: self.display.clone(),
                },
            );
            return;
        }
        // How much to read: the head (--max-bytes), and with --sample-tail
        // the last bytes too, when the file is larger than both.
        let tail = self.opts.sample_tail.unwrap_or(0);
        // With --max-bytes 0 (whole files) the server still may not send
        // without end: stop past --skip-larger-than, past the listed size
        // (plus slack, for files still growing), or at a hard ceiling.
        let overrun = (self.max_bytes == 0).then(|| {
            let listed = job
                .size
                .map(|s| Overrun::Listed(s, s.saturating_add(LISTED_SIZE_SLACK)));
            let larger = self.opts.skip_larger_than.map(Overrun::SkipLarger);
            match (listed, larger) {
                (Some(a), Some(b)) => {
                    if a.limit() <= b.limit() {
                        a
                    } else {
                        b
                    }
                }
                (Some(a), None) => a,
                (None, Some(b)) => b,
                (None, None) => Overrun::Ceiling(UNLISTED_CEILING),
            }
        });
        let (head_limit, tail_from, scan_limit) = match (self.max_bytes, job.size) {
            // One byte past the limit tells "exactly the limit" from "more".
            (0, _) => (
                overrun.map_or(u64::MAX, |o| o.limit().saturating_add(1)),
                None,
                0,
            ),
            (max, Some(size)) if tail > 0 && size > max.saturating_add(tail) => {
                (max, Some(size - tail), max.saturating_add(tail))
            }
            (max, Some(size)) if tail > 0 => (u64::MAX, None, max.max(size)),
            (max, _) => (max, None, max),
        };
        let stream = match self.with_retries(slot, |s| s.retr(&job.wire, 0)) {
            Ok(stream) => stream,
            Err(f) => {
                let reason = match f {
                    Failure::Permanent { .. } => SkipReason::Unreadable,
                    _ => SkipReason::Network,
                };
                self.skip(&job.rel, reason, format!("cannot retrieve: {}", f.detail()));
                return;
            }
        };
        let Some(session) = slot.as_mut() else {
            return;
        };
        let mut reader = Sampled {
            session,
            wire: &job.wire,
            current: Some(stream),
            remaining: head_limit,
            tail_from,
            eof: false,
            read_failed: false,
            finish_failure: None,
            broken: false,
            bytes: 0,
            overrun,
            overran: false,
            pace: session::Pace::new(self.connector.timeout),
            size: job.size,
            position: 0,
        };
        let env = self.env;
        // The transfer's own verdict (it may fail or overrun after its last
        // byte was read) is part of the file's: a file is recorded as
        // scanned only when it was read as far as the settings ask.
        env.engine
            .scan_file_then(&meta, &mut reader, scan_limit, env.events, |reader| {
                reader.end_part(false);
                reader.verdict().map_err(|incomplete| Incomplete {
                    detail: self.scrub(&incomplete.detail),
                    ..incomplete
                })
            });
        let broken = reader.broken;
        if broken || reader.read_failed {
            *slot = None;
        }
    }
}

/// A listing parsed line by line as it arrives.
#[derive(Default)]
struct Parsed {
    entries: Vec<listing::Entry>,
    unparsed: u64,
    /// The first line not understood, for the report.
    example: Option<String>,
}

impl Parsed {
    fn add(&mut self, line: &[u8], mlsd: bool) {
        let line = wire::from_bytes(line);
        let parsed = if mlsd {
            listing::parse_mlsd(&line)
        } else {
            listing::parse_list(&line)
        };
        match parsed {
            Line::Skip => {}
            Line::Unparsed => {
                self.unparsed += 1;
                if self.example.is_none() {
                    self.example = Some(session::printable(&wire::to_display(&line), 120));
                }
            }
            Line::Entry(e) => self.entries.push(e),
        }
    }

    /// The entries in name order, each name once (the first listed), and
    /// how many repeats were dropped.
    fn finish(self) -> (Vec<listing::Entry>, u64, Option<String>, u64) {
        let mut entries = self.entries;
        entries.sort_by(|a, b| a.name.cmp(&b.name));
        let listed = entries.len();
        entries.dedup_by(|later, first| later.name == first.name);
        let repeated = (listed - entries.len()) as u64;
        (entries, self.unparsed, self.example, repeated)
    }
}

/// With `--max-bytes 0`, how much a server may send for one file.
#[derive(Debug, Clone, Copy)]
enum Overrun {
    /// `--skip-larger-than` (when the listing gave no size, or a false one).
    SkipLarger(u64),
    /// The listed size, and the limit: that size plus `LISTED_SIZE_SLACK`.
    Listed(u64, u64),
    /// No size listed and no --skip-larger-than.
    Ceiling(u64),
}

impl Overrun {
    fn limit(self) -> u64 {
        match self {
            Overrun::SkipLarger(l) | Overrun::Listed(_, l) | Overrun::Ceiling(l) => l,
        }
    }
}

/// Reads a file over its data connection: the head up to a limit, then
/// (with `--sample-tail`) the tail via REST on the same control connection.
/// Each part is ended cleanly so the control connection stays in step.
struct Sampled<'s, T: TlsStream> {
    session: &'s mut Session<T>,
    wire: &'s str,
    current: Option<TransferStream<T>>,
    remaining: u64,
    tail_from: Option<u64>,
    /// The current part reached its end.
    eof: bool,
    read_failed: bool,
    finish_failure: Option<Failure>,
    /// The control connection is no longer usable.
    broken: bool,
    bytes: u64,
    /// With `--max-bytes 0`: the most the server may send.
    overrun: Option<Overrun>,
    /// The server sent more than `overrun` allows.
    overran: bool,
    /// Rate floor over the whole file.
    pace: session::Pace,
    /// The listed size.
    size: Option<u64>,
    /// Offset in the file of the next byte read.
    position: u64,
}

impl<T: TlsStream + Send + 'static> Sampled<'_, T> {
    /// Whether the server delivered what was asked, once the transfer ended:
    /// not when it sent more than it may (with `--max-bytes 0`) or the
    /// transfer failed after its data.
    fn verdict(&mut self) -> Result<(), Incomplete> {
        if let (true, Some(o)) = (self.overran, self.overrun) {
            let (reason, detail) = match o {
                Overrun::SkipLarger(l) => (
                    SkipReason::TooLarge,
                    format!("the server sent more than --skip-larger-than {l} bytes; the rest was not read"),
                ),
                Overrun::Listed(size, l) => (
                    SkipReason::Limit,
                    format!("the server sent more than the {size} bytes listed; stopped after {l}"),
                ),
                Overrun::Ceiling(l) => (
                    SkipReason::Limit,
                    format!("the server sent more than {l} bytes; the rest was not read"),
                ),
            };
            return Err(Incomplete { reason, detail });
        }
        if let Some(f) = self.finish_failure.take() {
            return Err(Incomplete {
                reason: SkipReason::Network,
                detail: format!("transfer failed after {} bytes: {}", self.bytes, f.detail()),
            });
        }
        Ok(())
    }

    /// Ends the current part. `reached_end`: all its data was read; otherwise
    /// we closed it early on purpose and a 426/450/451 reply is expected.
    fn end_part(&mut self, reached_end: bool) {
        let Some(stream) = self.current.take() else {
            return;
        };
        let reached_end = reached_end || self.eof;
        if self.read_failed {
            // The data connection failed; the control connection may hang
            // or be out of step. Drop both rather than wait on it.
            self.broken = true;
            let _ = stream
                .get_ref()
                .get_ref()
                .shutdown(std::net::Shutdown::Both);
            let _ = self
                .session
                .ftp
                .get_ref()
                .shutdown(std::net::Shutdown::Both);
            drop(stream);
            return;
        }
        match self.session.finish(stream) {
            Ok(()) => {}
            Err(FtpError::UnexpectedResponse(r))
                if !reached_end && session::is_truncation_reply(&r) => {}
            Err(e) => {
                let f = session::classify(e);
                if f.breaks_connection() {
                    self.broken = true;
                }
                if reached_end || self.finish_failure.is_none() {
                    self.finish_failure = Some(f);
                }
            }
        }
    }
}

impl<T: TlsStream + Send + 'static> Read for Sampled<'_, T> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        loop {
            if self.broken {
                return Ok(0);
            }
            let Some(stream) = self.current.as_mut() else {
                let Some(offset) = self.tail_from.take() else {
                    return Ok(0);
                };
                match self.session.retr(self.wire, offset) {
                    Ok(s) => {
                        self.current = Some(s);
                        self.remaining = u64::MAX;
                        self.eof = false;
                        self.position = offset;
                        continue;
                    }
                    Err(f) => {
                        // The head was read; a refused tail is noted, not fatal.
                        if f.breaks_connection() {
                            self.broken = true;
                        }
                        self.finish_failure = Some(Failure::Permanent {
                            code: f.code().unwrap_or(0),
                            detail: format!("tail (REST {offset}) refused: {}", f.detail()),
                        });
                        return Ok(0);
                    }
                }
            };
            if self.remaining == 0 {
                if self.overrun.is_some() && self.tail_from.is_none() {
                    self.overran = true;
                }
                self.end_part(false);
                continue;
            }
            if self.pace.too_slow() {
                self.read_failed = true;
                return Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    format!(
                        "FTP data connection failed after {} bytes: {}",
                        self.bytes,
                        self.pace.describe()
                    ),
                ));
            }
            let want = buf
                .len()
                .min(usize::try_from(self.remaining).unwrap_or(usize::MAX));
            let Some(chunk) = buf.get_mut(..want) else {
                return Ok(0);
            };
            match stream.read(chunk) {
                Ok(0) => {
                    self.eof = true;
                    self.end_part(true);
                    continue;
                }
                Ok(n) => {
                    self.remaining = self.remaining.saturating_sub(n as u64);
                    self.bytes = self.bytes.saturating_add(n as u64);
                    self.position = self.position.saturating_add(n as u64);
                    self.pace.add(n);
                    return Ok(n);
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e)
                    if matches!(
                        e.kind(),
                        io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
                    ) && self.size.is_some_and(|s| self.position >= s) =>
                {
                    // Every listed byte came, but the server keeps the data
                    // connection open: the file is complete (and scanned);
                    // ending the transfer reports the missing reply.
                    self.eof = true;
                    self.end_part(true);
                    continue;
                }
                Err(e) => {
                    self.read_failed = true;
                    return Err(io::Error::new(
                        e.kind(),
                        format!(
                            "FTP data connection failed after {} bytes: {}",
                            self.bytes,
                            session::describe_io(&e)
                        ),
                    ));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn root_is_under_home_unless_absolute() {
        let t = FtpTarget::parse("ftp://h/pub/data").unwrap();
        assert_eq!(root_path("/home/bob", &t), "/home/bob/pub/data");
        assert_eq!(root_path("/", &t), "/pub/data");
        let t = FtpTarget::parse("ftp://h//srv").unwrap();
        assert_eq!(root_path("/home/bob", &t), "/srv");
        let t = FtpTarget::parse("ftp://h").unwrap();
        assert_eq!(root_path("/", &t), "/");
    }

    #[test]
    fn banner_loses_reply_codes() {
        assert_eq!(banner_text("220 (vsFTPd 3.0.3)"), "(vsFTPd 3.0.3)");
        assert_eq!(
            banner_text("220-Welcome\r\n220-\r\n220 Bye"),
            "Welcome | Bye"
        );
        assert_eq!(banner_text("no code"), "no code");
    }

    fn entry(name: &str, kind: EntryKind, size: u64) -> listing::Entry {
        listing::Entry {
            name: name.into(),
            kind,
            size: Some(size),
            world_writable: false,
            mode: None,
        }
    }

    #[test]
    fn listing_shape_ignores_order_and_folder_sizes_and_needs_a_folder() {
        let a = [
            entry("x.txt", EntryKind::File, 5),
            entry("sub", EntryKind::Dir, 4096),
        ];
        let b = [
            entry("sub", EntryKind::Dir, 512),
            entry("x.txt", EntryKind::File, 5),
        ];
        assert!(listing_shape(&a).is_some());
        assert_eq!(listing_shape(&a), listing_shape(&b));
        let grown = [
            entry("x.txt", EntryKind::File, 6),
            entry("sub", EntryKind::Dir, 4096),
        ];
        assert_ne!(listing_shape(&a), listing_shape(&grown));
        // Folders without subfolders cannot loop: empty or files only.
        assert_eq!(listing_shape(&[]), None);
        assert_eq!(listing_shape(&[entry("x", EntryKind::File, 1)]), None);
    }

    #[test]
    fn scrub_hides_secrets() {
        let secrets = vec!["hunter2-Zq".to_string()];
        assert_eq!(
            scrub("530 bad pass hunter2-Zq", &secrets),
            "530 bad pass ***"
        );
    }
}
