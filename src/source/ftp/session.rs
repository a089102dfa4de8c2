//! One FTP control connection: connect with timeouts, optional explicit TLS,
//! login, binary mode, and the commands the crawler needs, each paced by the
//! per-server rate limit. Errors come back as [`Failure`]s that say whether
//! to retry, reconnect, or give up on the path.
//!
//! Time is bounded three ways against a hostile or broken server:
//! - every socket read waits at most `--timeout`;
//! - every command must get its whole reply within [`REPLY_DEADLINE_FACTOR`]
//!   × `--timeout` (a [`Watchdog`] closes the connection otherwise), which
//!   stops a reply dripped one byte at a time;
//! - a data transfer (listing or file) that falls below [`MIN_RATE`] bytes
//!   per second on average, after a grace of `2 × --timeout`, is cut
//!   ([`Pace`]).

use super::url::{Credentials, FtpTarget};
use super::wire;
use crate::config::FtpOptions;
use std::io::{self, BufRead, BufReader, Read};
use std::net::{SocketAddr, TcpStream, ToSocketAddrs};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use suppaftp::types::{FileType, Mode, Response};
use suppaftp::{FtpError, ImplFtpStream, Status, TlsStream, TransferStream};

/// The TLS stream type of a control connection type: suppaftp exports
/// `FtpStream` and `RustlsFtpStream` but not their stream types by name.
pub trait ControlStream {
    type Tls: TlsStream;
}

impl<T: TlsStream> ControlStream for ImplFtpStream<T> {
    type Tls = T;
}

/// `ftp://` connections.
pub type PlainTls = <suppaftp::FtpStream as ControlStream>::Tls;
/// `ftps://` and `ftpes://` connections.
pub type RustlsTls = <suppaftp::RustlsFtpStream as ControlStream>::Tls;

/// Turns a freshly connected plain session into an explicit-TLS one:
/// AUTH TLS, PBSZ 0, PROT P.
pub type Securer<T> =
    Arc<dyn Fn(ImplFtpStream<T>) -> Result<ImplFtpStream<T>, FtpError> + Send + Sync>;

/// Longest listing line kept; longer ones are counted as unparsed.
const MAX_LINE: u64 = 16 * 1024;
/// Most bytes of listing kept for one directory.
const MAX_LISTING_BYTES: usize = 64 << 20;
/// A command's whole reply must arrive within this many `--timeout`s.
pub const REPLY_DEADLINE_FACTOR: u32 = 3;
/// Slowest average data rate accepted once the grace period is over
/// (bytes per second): a listing or file dripped slower is cut.
pub const MIN_RATE: u64 = 16 * 1024;

/// Why an operation failed, and what to do about it.
#[derive(Debug, Clone)]
pub enum Failure {
    /// A 5xx reply: retrying will not help (no such file, permission denied).
    Permanent { code: u32, detail: String },
    /// A 4xx reply: retry after a pause.
    Transient { code: u32, detail: String },
    /// The connection broke or timed out: reconnect, then retry.
    Connection(String),
    /// TLS gave a verdict that the next attempt would repeat: the
    /// certificate was rejected, the server sent an alert or refused AUTH TLS.
    Tls(String),
    /// The TLS handshake broke off without a verdict (plain text where a TLS
    /// record was due, the connection closed or timed out): reconnect, then
    /// retry. libunftp, for one, sometimes reads the ClientHello as a command
    /// when it arrives before the server has switched to TLS.
    TlsBroken(String),
}

impl Failure {
    pub fn detail(&self) -> &str {
        match self {
            Failure::Permanent { detail, .. }
            | Failure::Transient { detail, .. }
            | Failure::Connection(detail)
            | Failure::Tls(detail)
            | Failure::TlsBroken(detail) => detail,
        }
    }

    /// The connection is unusable after this failure.
    pub fn breaks_connection(&self) -> bool {
        matches!(
            self,
            Failure::Connection(_) | Failure::Tls(_) | Failure::TlsBroken(_)
        )
    }

    /// A new attempt (after a pause, on a new connection if this one broke)
    /// may succeed.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            Failure::Transient { .. } | Failure::Connection(_) | Failure::TlsBroken(_)
        )
    }

    pub fn code(&self) -> Option<u32> {
        match self {
            Failure::Permanent { code, .. } | Failure::Transient { code, .. } => Some(*code),
            _ => None,
        }
    }
}

/// The reply code as the server sent it (suppaftp maps unknown codes to 0).
pub fn reply_code(r: &Response) -> u32 {
    r.body
        .get(..3)
        .and_then(|c| std::str::from_utf8(c).ok())
        .and_then(|c| c.parse().ok())
        .unwrap_or_else(|| r.status.code())
}

/// A server reply as text for messages: printable, one line, bounded.
pub fn reply_text(r: &Response) -> String {
    let text = wire::to_display(&String::from_utf8_lossy(&r.body));
    printable(&text, 200)
}

/// `s` without control characters, at most `max` characters.
pub fn printable(s: &str, max: usize) -> String {
    let mut out: String = s
        .trim()
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(max)
        .collect();
    if s.trim().chars().count() > max {
        out.push('…');
    }
    out
}

pub fn classify(e: FtpError) -> Failure {
    match e {
        FtpError::UnexpectedResponse(r) => {
            let code = reply_code(&r);
            let detail = reply_text(&r);
            if code == 421 {
                // "Service not available, closing control connection".
                Failure::Connection(detail)
            } else if code < 400 {
                // A positive reply where another was due: the replies are
                // out of step with the commands, and every later reply on
                // this connection would be blamed on the wrong command.
                Failure::Connection(format!(
                    "unexpected reply (out of sequence or malformed): {detail}"
                ))
            } else if (400..500).contains(&code) {
                Failure::Transient { code, detail }
            } else {
                Failure::Permanent { code, detail }
            }
        }
        FtpError::ConnectionError(io) => Failure::Connection(describe_io(&io)),
        FtpError::SecureError(s) => Failure::Tls(printable(&s, 300)),
        FtpError::BadResponse => Failure::Connection("malformed reply from the server".into()),
        FtpError::InvalidAddress(a) => Failure::Connection(format!("bad address: {a}")),
        FtpError::DataConnectionAlreadyOpen => {
            Failure::Connection("data connection already open (client out of step)".into())
        }
    }
}

pub fn describe_io(e: &io::Error) -> String {
    match e.kind() {
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut => "timed out".to_string(),
        io::ErrorKind::ConnectionRefused => "connection refused".to_string(),
        io::ErrorKind::UnexpectedEof => "connection closed by the server".to_string(),
        _ => printable(&e.to_string(), 300),
    }
}

/// Commands per second per server, shared by all its connections.
pub struct RateLimiter {
    interval: Option<Duration>,
    next: Mutex<Instant>,
}

impl RateLimiter {
    pub fn new(rate: Option<f64>) -> RateLimiter {
        let interval = rate
            .filter(|r| r.is_finite() && *r > 0.0)
            .map(|r| Duration::from_secs_f64((1.0 / r).min(3600.0)));
        RateLimiter {
            interval,
            next: Mutex::new(Instant::now()),
        }
    }

    /// Waits until `commands` more commands may be sent.
    pub fn acquire(&self, commands: u32) {
        let Some(interval) = self.interval else {
            return;
        };
        let slot = {
            let mut next = self.next.lock().unwrap_or_else(|p| p.into_inner());
            let now = Instant::now();
            let slot = (*next).max(now);
            *next = slot + interval * commands;
            slot
        };
        let now = Instant::now();
        if slot > now {
            std::thread::sleep(slot - now);
        }
    }
}

/// Closes a control connection whose reply does not complete in time. A
/// per-read timeout alone lets a server drip one byte just under it,
/// forever; this bounds each command as a whole.
pub struct Watchdog {
    shared: Arc<WatchShared>,
}

struct WatchShared {
    state: Mutex<WatchState>,
    wake: Condvar,
}

#[derive(Default)]
struct WatchState {
    deadline: Option<Instant>,
    fired: bool,
    closed: bool,
    /// The control connection (a handle on its socket).
    control: Option<TcpStream>,
    /// A data connection opened during the current command.
    data: Option<TcpStream>,
}

/// Lets the passive data-connection builder hand its socket to the watchdog.
#[derive(Clone)]
pub struct WatchHandle(Arc<WatchShared>);

impl WatchHandle {
    /// Closes `socket` too if the current command misses its deadline.
    pub fn watch_data(&self, socket: TcpStream) {
        self.0.state.lock().unwrap_or_else(|p| p.into_inner()).data = Some(socket);
    }

    /// Watches `socket` (a handle on the control connection) from now on,
    /// in place of any earlier one.
    pub fn watch_control(&self, socket: TcpStream) {
        self.0
            .state
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .control = Some(socket);
    }
}

impl Watchdog {
    /// Watches `socket` (a handle on the control connection; or one given
    /// later to [`Watchdog::watch_control`]) from a thread of its own, which
    /// ends when the watchdog is dropped.
    pub fn start(socket: Option<TcpStream>) -> Watchdog {
        let shared = Arc::new(WatchShared {
            state: Mutex::new(WatchState {
                control: socket,
                ..WatchState::default()
            }),
            wake: Condvar::new(),
        });
        let watched = shared.clone();
        // Without the thread, reads still time out; only the overall bound
        // is lost.
        let _ = std::thread::Builder::new()
            .name("phiscan-ftp-watchdog".into())
            .spawn(move || watch(&watched));
        Watchdog { shared }
    }

    /// See [`WatchHandle::watch_control`].
    pub fn watch_control(&self, socket: TcpStream) {
        self.handle().watch_control(socket);
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, WatchState> {
        self.shared.state.lock().unwrap_or_else(|p| p.into_inner())
    }

    pub fn arm(&self, limit: Duration) {
        let mut s = self.lock();
        s.deadline = Some(Instant::now() + limit);
        s.fired = false;
        self.shared.wake.notify_all();
    }

    pub fn disarm(&self) {
        let mut s = self.lock();
        s.deadline = None;
        s.data = None;
    }

    pub fn handle(&self) -> WatchHandle {
        WatchHandle(self.shared.clone())
    }

    /// The deadline passed and the connection was closed.
    pub fn fired(&self) -> bool {
        self.lock().fired
    }
}

impl Drop for Watchdog {
    fn drop(&mut self) {
        self.lock().closed = true;
        self.shared.wake.notify_all();
    }
}

fn watch(shared: &WatchShared) {
    let mut s = shared.state.lock().unwrap_or_else(|p| p.into_inner());
    loop {
        if s.closed {
            return;
        }
        s = match s.deadline {
            None => shared.wake.wait(s).unwrap_or_else(|p| p.into_inner()),
            Some(d) => {
                let now = Instant::now();
                if now >= d {
                    if let Some(control) = &s.control {
                        let _ = control.shutdown(std::net::Shutdown::Both);
                    }
                    if let Some(data) = s.data.take() {
                        let _ = data.shutdown(std::net::Shutdown::Both);
                    }
                    s.fired = true;
                    s.deadline = None;
                    s
                } else {
                    shared
                        .wake
                        .wait_timeout(s, d - now)
                        .map(|(g, _)| g)
                        .unwrap_or_else(|p| p.into_inner().0)
                }
            }
        };
    }
}

/// Average-rate floor for a data transfer: after `grace`, at least
/// [`MIN_RATE`] bytes per second on average must have arrived.
pub struct Pace {
    started: Instant,
    grace: Duration,
    pub bytes: u64,
}

impl Pace {
    pub fn new(timeout: Duration) -> Pace {
        Pace {
            started: Instant::now(),
            grace: timeout * 2,
            bytes: 0,
        }
    }

    /// Counts `n` more bytes; `true` when the transfer is too slow.
    pub fn add(&mut self, n: usize) -> bool {
        self.bytes = self.bytes.saturating_add(n as u64);
        self.too_slow()
    }

    pub fn too_slow(&self) -> bool {
        let allowed = self.grace + Duration::from_secs(self.bytes / MIN_RATE);
        self.started.elapsed() > allowed
    }

    /// For messages: "arrived too slowly (N bytes in S s, under 16 KiB/s)".
    pub fn describe(&self) -> String {
        format!(
            "arrived too slowly ({} bytes in {} s, under {} KiB/s)",
            self.bytes,
            self.started.elapsed().as_secs(),
            MIN_RATE / 1024
        )
    }
}

/// What the first connection learns about the server.
#[derive(Debug, Default, Clone)]
pub struct ServerInfo {
    pub banner: String,
    /// The server answered FEAT; the flags below come from its answer.
    pub feat_answered: bool,
    pub mlsd: bool,
    pub epsv: bool,
    pub auth_tls: bool,
    pub utf8: bool,
    /// What became of TLS on this connection.
    pub tls: TlsOutcome,
}

/// Which kind of TLS a connection uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TlsKind {
    /// TLS from the first byte; the greeting comes inside it.
    Implicit,
    /// A plain greeting, then AUTH TLS.
    Explicit,
}

/// What became of TLS on a connection.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub enum TlsOutcome {
    /// Not asked for (`ftp://`).
    #[default]
    NotUsed,
    /// Set up, and the server accepted PBSZ 0 and PROT P: the control
    /// connection and every data connection are encrypted.
    Protected(TlsKind),
    /// Tried and failed (the failure says why).
    Failed(TlsKind),
}

/// How a server's connections are secured.
pub enum Security<T: TlsStream> {
    /// `ftp://`.
    Plain,
    /// `ftpes://`: explicit TLS only.
    Explicit(Securer<T>),
    /// `ftps://`: implicit or explicit TLS, as the server greets (see
    /// [`Connector::open`]).
    Either {
        explicit: Securer<T>,
        implicit: ImplicitOpener<T>,
    },
}

/// Opens an implicit-TLS control connection to an address: the TCP
/// connection, the TLS handshake, and the greeting read inside TLS. The
/// hook is called with the TCP socket before the handshake (time bounds,
/// the watchdog); its error ends the attempt.
pub type ImplicitOpener<T> =
    Arc<dyn Fn(SocketAddr, SocketHook) -> Result<ImplFtpStream<T>, FtpError> + Send + Sync>;

/// See [`ImplicitOpener`].
pub type SocketHook = Arc<dyn Fn(&TcpStream) -> io::Result<()> + Send + Sync>;

/// How long `ftps://` waits for a plain greeting before it takes the server
/// for an implicit-TLS one (at most `--timeout`). Explicit servers greet at
/// once; one slower than this still works (see [`Connector::open`]).
pub const GREETING_WAIT: Duration = Duration::from_secs(2);

/// What a server's connections learn and share.
#[derive(Default)]
pub struct Shared {
    /// `ftps://`: the kind of TLS the server speaks, once known.
    tls_kind: Mutex<Option<TlsKind>>,
    /// The server refused EPSV (its reply): PASV from then on.
    epsv_refused: Mutex<Option<String>>,
    /// Data commands that got their data connection, by how.
    via_epsv: AtomicU64,
    via_pasv: AtomicU64,
    via_active: AtomicU64,
}

/// How a server's data connections were made.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct DataConnections {
    pub epsv: u64,
    pub pasv: u64,
    pub active: u64,
    /// The server's reply when it refused EPSV.
    pub epsv_refused: Option<String>,
}

impl Shared {
    fn tls_kind(&self) -> Option<TlsKind> {
        *self.tls_kind.lock().unwrap_or_else(|p| p.into_inner())
    }

    fn set_tls_kind(&self, kind: TlsKind) {
        *self.tls_kind.lock().unwrap_or_else(|p| p.into_inner()) = Some(kind);
    }

    /// The server's reply to EPSV, if it refused it.
    pub fn epsv_refused(&self) -> Option<String> {
        self.epsv_refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    fn refuse_epsv(&self, reply: String) {
        self.epsv_refused
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .get_or_insert(reply);
    }

    /// Data connections made so far, over all control connections.
    pub fn data_connections(&self) -> DataConnections {
        DataConnections {
            epsv: self.via_epsv.load(Ordering::Relaxed),
            pasv: self.via_pasv.load(Ordering::Relaxed),
            active: self.via_active.load(Ordering::Relaxed),
            epsv_refused: self.epsv_refused(),
        }
    }
}

/// Everything needed to open another connection to the same server.
pub struct Connector<T: TlsStream> {
    pub addrs: Vec<SocketAddr>,
    pub timeout: Duration,
    pub active: bool,
    pub security: Security<T>,
    pub rate: Arc<RateLimiter>,
    pub shared: Arc<Shared>,
}

impl<T: TlsStream + Send + 'static> Connector<T> {
    pub fn new(
        target: &FtpTarget,
        opts: &FtpOptions,
        security: Security<T>,
        rate: Arc<RateLimiter>,
    ) -> Result<Connector<T>, Failure> {
        let addrs: Vec<SocketAddr> = (target.host.as_str(), target.port)
            .to_socket_addrs()
            .map_err(|e| Failure::Connection(format!("cannot resolve host: {}", describe_io(&e))))?
            .collect();
        if addrs.is_empty() {
            return Err(Failure::Connection("host has no address".into()));
        }
        Ok(Connector {
            addrs,
            timeout: Duration::from_secs(opts.timeout_secs.max(1)),
            active: opts.active,
            security,
            rate,
            shared: Arc::new(Shared::default()),
        })
    }

    fn reply_limit(&self) -> Duration {
        self.timeout * REPLY_DEADLINE_FACTOR
    }

    /// Connects, secures (`ftps://`, `ftpes://`), logs in and switches to
    /// binary. `info` is filled in as soon as the server has greeted and
    /// answered FEAT, and says what became of TLS, so that a failed login
    /// still tells what the server is.
    ///
    /// For `ftps://` the first connection tells implicit from explicit TLS:
    /// a server that greets in plain text within [`GREETING_WAIT`] is
    /// explicit; one that stays silent gets a TLS hello. Should a slow
    /// explicit server answer that hello with its plain greeting, the
    /// connection is opened again as explicit. The kind found is kept for
    /// every later connection.
    pub fn open(
        &self,
        creds: &Credentials,
        info_out: &mut Option<ServerInfo>,
    ) -> Result<Session<T>, Failure> {
        let watch = Watchdog::start(None);
        let reply_limit = self.reply_limit();
        let (ftp, tls) = match &self.security {
            Security::Plain => (self.connect_plain(&watch)?, None),
            Security::Explicit(_) => (self.connect_plain(&watch)?, Some(TlsKind::Explicit)),
            Security::Either { .. } => match self.shared.tls_kind() {
                Some(TlsKind::Implicit) => match self.connect_implicit(&watch)? {
                    Implicit::Open(ftp) => (ftp, Some(TlsKind::Implicit)),
                    Implicit::PlainText => {
                        return Err(Failure::TlsBroken(PLAINTEXT_NOT_TLS.into()))
                    }
                },
                Some(TlsKind::Explicit) => (self.connect_plain(&watch)?, Some(TlsKind::Explicit)),
                None => {
                    let (ftp, kind) = self.detect(&watch)?;
                    (ftp, Some(kind))
                }
            },
        };
        // Each step below waits for replies; none may take longer than
        // `reply_limit`, however the server paces its bytes.
        let late = |watch: &Watchdog, f: Failure| {
            if watch.fired() {
                Failure::Connection(late_reply(reply_limit))
            } else {
                f
            }
        };
        let mut ftp = ftp;
        ftp.set_encoding(wire::WireEncoding);
        let banner = ftp
            .get_welcome_msg()
            .map(wire::to_display)
            .unwrap_or_default();
        let data_timeout = self.timeout;
        let data_watch = watch.handle();
        let data_opened = Arc::new(AtomicBool::new(false));
        let opened = data_opened.clone();
        ftp = ftp.passive_stream_builder(move |addr| {
            // Asked for only once PASV/EPSV succeeded: a data command that
            // fails before this was refused at PASV/EPSV.
            opened.store(true, Ordering::SeqCst);
            let s = TcpStream::connect_timeout(&addr, data_timeout)
                .map_err(FtpError::ConnectionError)?;
            s.set_read_timeout(Some(data_timeout))
                .and_then(|()| s.set_write_timeout(Some(data_timeout)))
                .map_err(FtpError::ConnectionError)?;
            // The data connection's TLS handshake happens inside the same
            // command: the deadline closes this socket too.
            if let Ok(clone) = s.try_clone() {
                data_watch.watch_data(clone);
            }
            Ok(s)
        });
        // The data connection goes to the control connection's peer, whatever
        // address PASV names: servers behind NAT name private addresses, and a
        // hostile one could name a third party.
        ftp.set_passive_nat_workaround(true);
        self.rate.acquire(1);
        watch.arm(reply_limit);
        let features = ftp.feat();
        if watch.fired() {
            return Err(Failure::Connection(late_reply(reply_limit)));
        }
        let feat_answered = features.is_ok();
        let features = features.unwrap_or_default();
        let has = |k: &str| features.keys().any(|f| f.eq_ignore_ascii_case(k));
        let auth_tls = features.iter().any(|(k, v)| {
            k.eq_ignore_ascii_case("AUTH")
                && v.as_deref()
                    .is_some_and(|v| v.to_ascii_uppercase().contains("TLS"))
        });
        let mut info = ServerInfo {
            banner,
            feat_answered,
            mlsd: has("MLST") || has("MLSD"),
            epsv: has("EPSV"),
            auth_tls,
            utf8: has("UTF8"),
            tls: TlsOutcome::NotUsed,
        };
        *info_out = Some(info.clone());
        if let Some(kind) = tls {
            self.rate
                .acquire(if kind == TlsKind::Explicit { 3 } else { 2 });
            watch.arm(reply_limit);
            let secured = match (&self.security, kind) {
                (
                    Security::Explicit(securer)
                    | Security::Either {
                        explicit: securer, ..
                    },
                    TlsKind::Explicit,
                ) => securer(ftp),
                _ => protect_data(ftp),
            };
            ftp = match secured {
                Ok(ftp) => ftp,
                Err(e) => {
                    info.tls = TlsOutcome::Failed(kind);
                    *info_out = Some(info);
                    if watch.fired() {
                        return Err(Failure::TlsBroken(late_reply(reply_limit)));
                    }
                    let verdict = is_tls_verdict(&e);
                    return Err(match classify(e) {
                        Failure::Permanent { detail, .. } if kind == TlsKind::Explicit => {
                            Failure::Tls(format!("the server refused AUTH TLS: {detail}"))
                        }
                        Failure::Permanent { detail, .. } => {
                            Failure::Tls(format!("the server refused PROT P: {detail}"))
                        }
                        f if verdict => Failure::Tls(f.detail().to_string()),
                        f => Failure::TlsBroken(f.detail().to_string()),
                    });
                }
            };
            info.tls = TlsOutcome::Protected(kind);
            *info_out = Some(info.clone());
        }
        let ipv6 = self.addrs.first().is_some_and(|a| a.is_ipv6());
        let epsv = !self.active && (info.epsv || ipv6) && self.shared.epsv_refused().is_none();
        if self.active {
            ftp = ftp.active_mode(self.timeout);
        } else if epsv {
            ftp.set_mode(Mode::ExtendedPassive);
        } else {
            ftp.set_mode(Mode::Passive);
        }
        self.rate.acquire(2);
        watch.arm(reply_limit);
        ftp.login(
            wire::from_text(&creds.user),
            wire::from_text(creds.password.expose()),
        )
        .map_err(|e| late(&watch, classify(e)))?;
        self.rate.acquire(1);
        // Binary at once: in ASCII mode sizes differ and some servers refuse REST.
        watch.arm(reply_limit);
        ftp.transfer_type(FileType::Binary)
            .map_err(|e| late(&watch, classify(e)))?;
        watch.disarm();
        Ok(Session {
            ftp,
            rate: self.rate.clone(),
            mlsd: info.mlsd,
            mlsd_takes_path: true,
            data_mode: if self.active {
                DataMode::Active
            } else if epsv {
                DataMode::Epsv
            } else {
                DataMode::Pasv
            },
            data_opened,
            shared: self.shared.clone(),
            watch,
            timeout: self.timeout,
        })
    }

    /// A TCP connection to the first address that answers, with timeouts
    /// set and the watchdog watching it.
    fn connect_tcp(&self, watch: &Watchdog) -> Result<TcpStream, Failure> {
        let mut last = Failure::Connection("no address to connect to".into());
        let mut tcp = None;
        for addr in &self.addrs {
            self.rate.acquire(1);
            match TcpStream::connect_timeout(addr, self.timeout) {
                Ok(s) => {
                    tcp = Some(s);
                    break;
                }
                Err(e) => last = Failure::Connection(describe_io(&e)),
            }
        }
        let tcp = tcp.ok_or(last)?;
        bound_socket(&tcp, self.timeout).map_err(|e| Failure::Connection(describe_io(&e)))?;
        watch.watch_control(
            tcp.try_clone()
                .map_err(|e| Failure::Connection(describe_io(&e)))?,
        );
        Ok(tcp)
    }

    /// A plain connection, greeted (the greeting within the reply deadline).
    fn connect_plain(&self, watch: &Watchdog) -> Result<ImplFtpStream<T>, Failure> {
        let tcp = self.connect_tcp(watch)?;
        self.greeted(watch, tcp)
    }

    fn greeted(&self, watch: &Watchdog, tcp: TcpStream) -> Result<ImplFtpStream<T>, Failure> {
        let reply_limit = self.reply_limit();
        watch.arm(reply_limit);
        ImplFtpStream::<T>::connect_with_stream(tcp).map_err(|e| {
            if watch.fired() {
                Failure::Connection(late_reply(reply_limit))
            } else {
                classify(e)
            }
        })
    }

    /// `ftps://`, first connection: a plain greeting means explicit TLS,
    /// silence implicit (see [`Connector::open`]).
    fn detect(&self, watch: &Watchdog) -> Result<(ImplFtpStream<T>, TlsKind), Failure> {
        let tcp = self.connect_tcp(watch)?;
        let wait = GREETING_WAIT.min(self.timeout);
        tcp.set_read_timeout(Some(wait))
            .map_err(|e| Failure::Connection(describe_io(&e)))?;
        let mut first = [0u8; 1];
        let greets = match tcp.peek(&mut first) {
            Ok(0) => {
                return Err(Failure::Connection(
                    "connection closed by the server before its greeting".into(),
                ))
            }
            Ok(_) => true,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                ) =>
            {
                false
            }
            Err(e) => return Err(Failure::Connection(describe_io(&e))),
        };
        if greets {
            tcp.set_read_timeout(Some(self.timeout))
                .map_err(|e| Failure::Connection(describe_io(&e)))?;
            let ftp = self.greeted(watch, tcp)?;
            self.shared.set_tls_kind(TlsKind::Explicit);
            return Ok((ftp, TlsKind::Explicit));
        }
        drop(tcp);
        match self.connect_implicit(watch)? {
            Implicit::Open(ftp) => {
                self.shared.set_tls_kind(TlsKind::Implicit);
                Ok((ftp, TlsKind::Implicit))
            }
            // Plain text where the TLS handshake was due: an explicit server
            // slower to greet than the wait.
            Implicit::PlainText => {
                let ftp = self.connect_plain(watch)?;
                self.shared.set_tls_kind(TlsKind::Explicit);
                Ok((ftp, TlsKind::Explicit))
            }
        }
    }

    /// An implicit-TLS connection: TCP, the handshake and the greeting, all
    /// within `--timeout` plus the reply deadline.
    ///
    /// suppaftp makes the TCP connection itself, without a timeout, so it
    /// runs on a thread of its own; should the connection not come in time,
    /// the attempt is given up and the thread ends as soon as the system
    /// gives up connecting (the hook refuses the late socket).
    fn connect_implicit(&self, watch: &Watchdog) -> Result<Implicit<T>, Failure> {
        let Security::Either { implicit, .. } = &self.security else {
            return Err(Failure::Tls("implicit TLS was not asked for".into()));
        };
        let limit = self.timeout + self.reply_limit();
        let mut last = Failure::Connection("no address to connect to".into());
        for &addr in &self.addrs {
            self.rate.acquire(1);
            let abandoned = Arc::new(AtomicBool::new(false));
            let hook: SocketHook = {
                let abandoned = abandoned.clone();
                let handle = watch.handle();
                let timeout = self.timeout;
                Arc::new(move |s: &TcpStream| {
                    if abandoned.load(Ordering::SeqCst) {
                        return Err(io::ErrorKind::TimedOut.into());
                    }
                    bound_socket(s, timeout)?;
                    handle.watch_control(s.try_clone()?);
                    Ok(())
                })
            };
            watch.arm(limit);
            let (tx, rx) = std::sync::mpsc::sync_channel(1);
            let opener = implicit.clone();
            std::thread::Builder::new()
                .name("phiscan-ftps-connect".into())
                .spawn(move || {
                    let _ = tx.send(opener(addr, hook));
                })
                .map_err(|e| Failure::Connection(format!("cannot start a thread: {e}")))?;
            let result = rx.recv_timeout(limit + Duration::from_secs(1));
            abandoned.store(true, Ordering::SeqCst);
            let fired = watch.fired();
            watch.disarm();
            match result {
                Ok(Ok(ftp)) => return Ok(Implicit::Open(ftp)),
                Ok(Err(e)) if answered_in_plain_text(&e) => return Ok(Implicit::PlainText),
                Ok(Err(_)) if fired => {
                    return Err(Failure::TlsBroken(format!(
                        "implicit TLS: no TLS handshake and greeting within {} s",
                        limit.as_secs()
                    )))
                }
                Ok(Err(e)) => {
                    let f = classify_implicit(e);
                    if !matches!(f, Failure::Connection(_)) {
                        return Err(f);
                    }
                    last = f;
                }
                Err(_) => last = Failure::Connection("timed out".into()),
            }
        }
        Err(last)
    }

    /// [`Connector::open`], tried again after failures that a new attempt
    /// may cure, at most `retries` more times, with backoff.
    pub fn open_with_retries(
        &self,
        creds: &Credentials,
        retries: u32,
        info: &mut Option<ServerInfo>,
    ) -> Result<Session<T>, Failure> {
        let mut attempt = 0;
        loop {
            match self.open(creds, info) {
                Ok(s) => return Ok(s),
                Err(f) if !f.is_retryable() || attempt >= retries => return Err(f),
                Err(_) => {
                    backoff(attempt);
                    attempt += 1;
                }
            }
        }
    }
}

/// Read and write timeouts, no Nagle delay.
fn bound_socket(s: &TcpStream, timeout: Duration) -> io::Result<()> {
    s.set_read_timeout(Some(timeout))
        .and_then(|()| s.set_write_timeout(Some(timeout)))
        .and_then(|()| s.set_nodelay(true))
}

/// After implicit TLS: PBSZ 0 and PROT P, so that data connections are
/// encrypted too (suppaftp wraps them in TLS whatever the server expects).
fn protect_data<T: TlsStream>(ftp: ImplFtpStream<T>) -> Result<ImplFtpStream<T>, FtpError> {
    let mut ftp = ftp;
    ftp.custom_command("PBSZ 0", &[Status::CommandOk])?;
    ftp.custom_command("PROT P", &[Status::CommandOk])?;
    Ok(ftp)
}

/// What an implicit-TLS attempt met.
enum Implicit<T: TlsStream> {
    Open(ImplFtpStream<T>),
    /// The server answered the TLS hello in plain text.
    PlainText,
}

const PLAINTEXT_NOT_TLS: &str =
    "the server answered the TLS hello in plain text (explicit TLS? try ftpes://)";

/// The TLS hello was answered with something that is no TLS record (an
/// FTP greeting, most likely).
fn answered_in_plain_text(e: &FtpError) -> bool {
    matches!(e, FtpError::ConnectionError(io)
        if io.get_ref()
            .and_then(|inner| inner.downcast_ref::<suppaftp::rustls::Error>())
            .is_some_and(|t| matches!(t, suppaftp::rustls::Error::InvalidMessage(_))))
}

/// A failed implicit-TLS connection as a [`Failure`]: a certificate or an
/// alert is a verdict; plain text or a broken handshake is not; no
/// connection at all is a connection failure.
fn classify_implicit(e: FtpError) -> Failure {
    use suppaftp::rustls::Error as TlsError;
    if let FtpError::ConnectionError(io) = &e {
        match io
            .get_ref()
            .and_then(|inner| inner.downcast_ref::<TlsError>())
        {
            Some(
                TlsError::InvalidMessage(_)
                | TlsError::InappropriateMessage { .. }
                | TlsError::InappropriateHandshakeMessage { .. },
            ) => return Failure::TlsBroken(describe_io(io)),
            Some(_) => return Failure::Tls(describe_io(io)),
            None => {}
        }
        if matches!(
            io.kind(),
            io::ErrorKind::UnexpectedEof | io::ErrorKind::ConnectionReset
        ) {
            return Failure::TlsBroken(format!(
                "implicit TLS: the connection closed during the handshake ({})",
                describe_io(io)
            ));
        }
    }
    if is_tls_verdict(&e) {
        return Failure::Tls(classify(e).detail().to_string());
    }
    classify(e)
}

/// The pause before retry number `attempt` (from 0): 200 ms, doubling, at
/// most 5 s.
pub fn backoff(attempt: u32) {
    let ms = 200u64.saturating_mul(1 << attempt.min(5)).min(5_000);
    std::thread::sleep(Duration::from_millis(ms));
}

/// Whether a failure while securing the connection (AUTH TLS, the
/// handshake, PBSZ, PROT) is a decision that another attempt would meet
/// again. The handshake runs inside the first command after AUTH TLS, so
/// rustls's errors arrive wrapped in an I/O error.
fn is_tls_verdict(e: &FtpError) -> bool {
    use suppaftp::rustls::Error as TlsError;
    match e {
        FtpError::ConnectionError(io) => {
            match io
                .get_ref()
                .and_then(|inner| inner.downcast_ref::<TlsError>())
            {
                // Bytes that are no TLS record where one was due: a race or
                // a garbled stream, not a decision.
                Some(
                    TlsError::InvalidMessage(_)
                    | TlsError::InappropriateMessage { .. }
                    | TlsError::InappropriateHandshakeMessage { .. },
                ) => false,
                // The certificate, an alert, no common protocol version.
                Some(_) => true,
                // Closed, reset or timed out mid-handshake.
                None => false,
            }
        }
        // Set-up errors on our side (the server's name, the configuration).
        FtpError::SecureError(_) => true,
        _ => false,
    }
}

fn late_reply(limit: Duration) -> String {
    format!("no complete reply within {} s", limit.as_secs())
}

/// How a session's data connections are made.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum DataMode {
    Epsv,
    Pasv,
    Active,
}

/// A logged-in control connection.
pub struct Session<T: TlsStream> {
    pub ftp: ImplFtpStream<T>,
    rate: Arc<RateLimiter>,
    pub mlsd: bool,
    /// MLSD takes a folder as its argument here (not refused yet).
    pub mlsd_takes_path: bool,
    data_mode: DataMode,
    /// Set when a passive data connection is asked for (after PASV/EPSV).
    data_opened: Arc<AtomicBool>,
    shared: Arc<Shared>,
    watch: Watchdog,
    /// `--timeout`.
    pub timeout: Duration,
}

/// Why a listing was cut short (what was read before is kept).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cut {
    /// More than the most entries or bytes kept for one listing.
    TooLong,
    /// Below the rate floor: the description from [`Pace::describe`].
    TooSlow(String),
}

/// Outcome of reading a listing.
#[derive(Debug, Default)]
pub struct RawListing {
    /// Lines handed on.
    pub lines: usize,
    /// Lines longer than the limit (counted, not handed on).
    pub overlong: u64,
    /// Cut short, and why.
    pub cut: Option<Cut>,
}

impl<T: TlsStream + Send + 'static> Session<T> {
    /// Runs one command under the reply deadline.
    fn guarded<R>(
        &mut self,
        op: impl FnOnce(&mut ImplFtpStream<T>) -> Result<R, FtpError>,
    ) -> Result<R, Failure> {
        let limit = self.timeout * REPLY_DEADLINE_FACTOR;
        self.watch.arm(limit);
        let result = op(&mut self.ftp);
        self.watch.disarm();
        result.map_err(|e| {
            if self.watch.fired() {
                Failure::Connection(late_reply(limit))
            } else {
                classify(e)
            }
        })
    }

    /// Runs a data command (a listing, RETR). Should the server refuse EPSV
    /// (a 5xx reply before any data connection was asked for), it runs again
    /// over PASV, as does every later data command to this server; PASV's
    /// data connection goes to the control connection's peer, whatever
    /// address the 227 reply names.
    fn data_command<R>(
        &mut self,
        mut op: impl FnMut(&mut ImplFtpStream<T>) -> Result<R, FtpError>,
    ) -> Result<R, Failure> {
        if self.data_mode == DataMode::Epsv && self.shared.epsv_refused().is_some() {
            // Refused on another connection since this one was opened.
            self.data_mode = DataMode::Pasv;
            self.ftp.set_mode(Mode::Passive);
        }
        self.data_opened.store(false, Ordering::SeqCst);
        let result = match self.guarded(&mut op) {
            Err(Failure::Permanent { detail, .. })
                if self.data_mode == DataMode::Epsv && !self.data_opened.load(Ordering::SeqCst) =>
            {
                self.data_mode = DataMode::Pasv;
                self.ftp.set_mode(Mode::Passive);
                self.shared.refuse_epsv(detail);
                self.rate.acquire(1);
                self.guarded(&mut op)
            }
            other => other,
        };
        if result.is_ok() {
            let count = match self.data_mode {
                DataMode::Epsv => &self.shared.via_epsv,
                DataMode::Pasv => &self.shared.via_pasv,
                DataMode::Active => &self.shared.via_active,
            };
            count.fetch_add(1, Ordering::Relaxed);
        }
        result
    }

    /// Ends a transfer (closes its data connection, reads the reply) under
    /// the reply deadline. Raw errors, so callers can accept a 426 they
    /// caused by closing early.
    pub fn finish(&mut self, stream: TransferStream<T>) -> Result<(), FtpError> {
        let limit = self.timeout * REPLY_DEADLINE_FACTOR;
        self.watch.arm(limit);
        let result = stream.finish();
        self.watch.disarm();
        match result {
            Err(_) if self.watch.fired() => Err(FtpError::ConnectionError(io::Error::new(
                io::ErrorKind::TimedOut,
                late_reply(limit),
            ))),
            other => other,
        }
    }

    /// A data connection opened in active mode has no read timeout yet.
    fn bound_reads(&self, stream: &TransferStream<T>) {
        let _ = stream
            .get_ref()
            .get_ref()
            .set_read_timeout(Some(self.timeout));
    }

    pub fn pwd(&mut self) -> Result<String, Failure> {
        self.rate.acquire(1);
        self.guarded(|f| f.pwd())
    }

    pub fn cwd(&mut self, path: &str) -> Result<(), Failure> {
        self.rate.acquire(1);
        self.guarded(|f| f.cwd(path))
    }

    /// Lists the working directory (MLSD or LIST), handing each non-empty
    /// line (without CR LF) to `each` as it arrives. Bounded: at most
    /// `max_lines` lines and 64 MiB are read, and a listing that comes too
    /// slowly is cut ([`RawListing::cut`] says why).
    pub fn list_cwd(
        &mut self,
        max_lines: usize,
        each: impl FnMut(&[u8]),
    ) -> Result<RawListing, Failure> {
        self.list(None, max_lines, each)
    }

    /// Lists `folder` (wire form) with `MLSD folder`, which spares the CWD
    /// (a round trip) that listing the working directory needs. MLSD only:
    /// LIST's argument is taken for `ls` options by many servers.
    pub fn mlsd_path(
        &mut self,
        folder: &str,
        max_lines: usize,
        each: impl FnMut(&[u8]),
    ) -> Result<RawListing, Failure> {
        self.list(Some(folder), max_lines, each)
    }

    fn list(
        &mut self,
        folder: Option<&str>,
        max_lines: usize,
        mut each: impl FnMut(&[u8]),
    ) -> Result<RawListing, Failure> {
        let cmd = match folder {
            Some(folder) => format!("MLSD {folder}"),
            None if self.mlsd => "MLSD".to_string(),
            None => "LIST".to_string(),
        };
        self.rate.acquire(2);
        let (_, stream) = self.data_command(|f| {
            f.custom_data_command(&cmd, &[Status::AboutToSend, Status::AlreadyOpen])
        })?;
        self.bound_reads(&stream);
        let mut reader = BufReader::new(Paced {
            inner: stream,
            pace: Pace::new(self.timeout),
            slow: false,
        });
        let mut out = RawListing::default();
        let mut kept = 0usize;
        let mut buf = Vec::new();
        let read_result = loop {
            buf.clear();
            let read = (&mut reader).take(MAX_LINE).read_until(b'\n', &mut buf);
            if reader.get_ref().slow {
                // Whatever part of a line came last is dropped.
                out.cut = Some(Cut::TooSlow(reader.get_ref().pace.describe()));
                break Ok(());
            }
            match read {
                Ok(0) => break Ok(()),
                Ok(_) => {
                    if buf.last() != Some(&b'\n') && buf.len() as u64 >= MAX_LINE {
                        out.overlong += 1;
                        // Skip the rest of the overlong line.
                        if let Err(e) = skip_line(&mut reader) {
                            break Err(e);
                        }
                        continue;
                    }
                    let line = buf.strip_suffix(b"\n").unwrap_or(&buf);
                    let line = line.strip_suffix(b"\r").unwrap_or(line);
                    if line.is_empty() {
                        continue;
                    }
                    if out.lines >= max_lines || kept > MAX_LISTING_BYTES {
                        out.cut = Some(Cut::TooLong);
                        break Ok(());
                    }
                    kept += line.len();
                    out.lines += 1;
                    each(line);
                }
                Err(e) => break Err(e),
            }
        };
        let stream = reader.into_inner().inner;
        if let Err(e) = read_result {
            // The server may never send the reply to this transfer: close
            // both connections rather than wait for it (the caller drops
            // the session after a connection failure).
            let _ = stream
                .get_ref()
                .get_ref()
                .shutdown(std::net::Shutdown::Both);
            let _ = self.ftp.get_ref().shutdown(std::net::Shutdown::Both);
            drop(stream);
            return Err(Failure::Connection(format!(
                "listing transfer failed: {}",
                describe_io(&e)
            )));
        }
        if out.cut.is_some() {
            // Do not wait for the rest: close the data connection at once.
            let _ = stream
                .get_ref()
                .get_ref()
                .shutdown(std::net::Shutdown::Both);
        }
        match self.finish(stream) {
            Ok(()) => {}
            // We stopped reading on purpose; the server may complain.
            Err(FtpError::UnexpectedResponse(r))
                if out.cut.is_some() && is_truncation_reply(&r) => {}
            Err(e) => return Err(classify(e)),
        }
        Ok(out)
    }

    /// Starts retrieving `path` (wire form), from `offset` if non-zero.
    pub fn retr(&mut self, path: &str, offset: u64) -> Result<TransferStream<T>, Failure> {
        let offset = usize::try_from(offset).map_err(|_| Failure::Permanent {
            code: 0,
            detail: "offset too large".into(),
        })?;
        self.rate.acquire(if offset > 0 { 3 } else { 2 });
        // The offset is spent by each attempt, even a failed one: set it
        // again for each.
        let stream = self.data_command(|f| {
            f.resume_transfer(offset)?;
            f.retr_as_stream(path)
        })?;
        self.bound_reads(&stream);
        Ok(stream)
    }

    /// SIZE: the file's size in bytes (binary mode).
    pub fn size(&mut self, path: &str) -> Result<u64, Failure> {
        self.rate.acquire(1);
        self.guarded(|f| f.size(path)).map(|n| n as u64)
    }

    pub fn mkdir(&mut self, path: &str) -> Result<(), Failure> {
        self.rate.acquire(1);
        self.guarded(|f| f.mkdir(path))
    }

    pub fn rmdir(&mut self, path: &str) -> Result<(), Failure> {
        self.rate.acquire(1);
        self.guarded(|f| f.rmdir(path))
    }

    pub fn quit(mut self) {
        let _ = self.guarded(|f| f.quit());
    }
}

/// A data stream under the rate floor: reads end (EOF, `slow` set) once the
/// transfer is too slow, even in the middle of a line.
struct Paced<R> {
    inner: R,
    pace: Pace,
    slow: bool,
}

impl<R: Read> Read for Paced<R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.slow || self.pace.too_slow() {
            self.slow = true;
            return Ok(0);
        }
        let n = self.inner.read(buf)?;
        self.pace.add(n);
        Ok(n)
    }
}

fn skip_line(r: &mut impl BufRead) -> io::Result<()> {
    loop {
        let buf = r.fill_buf()?;
        if buf.is_empty() {
            return Ok(());
        }
        match memchr::memchr(b'\n', buf) {
            Some(i) => {
                r.consume(i + 1);
                return Ok(());
            }
            None => {
                let n = buf.len();
                r.consume(n);
            }
        }
    }
}

/// Replies a server gives when the client closes the data connection before
/// the end: "truncated on purpose", and the control connection stays in step.
pub fn is_truncation_reply(r: &Response) -> bool {
    matches!(reply_code(r), 426 | 450 | 451 | 150)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rate_limiter_spaces_commands() {
        // 50 commands/s: 11 commands cannot take less than 10 intervals.
        let rate = RateLimiter::new(Some(50.0));
        let start = Instant::now();
        for _ in 0..11 {
            rate.acquire(1);
        }
        assert!(start.elapsed() >= Duration::from_millis(200));
        // Unlimited and nonsense rates do not wait at all.
        for r in [None, Some(0.0), Some(-1.0), Some(f64::NAN)] {
            assert!(RateLimiter::new(r).interval.is_none());
        }
    }

    #[test]
    fn pace_allows_a_grace_then_needs_the_minimum_rate() {
        let mut pace = Pace::new(Duration::from_millis(50));
        assert!(!pace.add(10));
        std::thread::sleep(Duration::from_millis(150));
        // Past the 100 ms grace with 10 bytes: too slow.
        assert!(pace.too_slow());
        // Each MIN_RATE bytes buys one more second.
        assert!(!pace.add(MIN_RATE as usize));
        assert!(pace.describe().starts_with("arrived too slowly ("));
    }

    #[test]
    fn watchdog_closes_a_connection_whose_reply_is_late() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_server, _) = listener.accept().unwrap();
        let watch = Watchdog::start(Some(client.try_clone().unwrap()));
        // A data connection opened during the command is closed with it.
        let data = TcpStream::connect(listener.local_addr().unwrap()).unwrap();
        let (_data_server, _) = listener.accept().unwrap();
        watch.arm(Duration::from_millis(100));
        watch.handle().watch_data(data.try_clone().unwrap());
        // The server never answers; the read ends when the watchdog fires,
        // long before the 30 s read timeout.
        client
            .set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        let mut buf = [0u8; 8];
        let n = (&client).read(&mut buf).unwrap_or(0);
        assert_eq!(n, 0);
        assert!(watch.fired());
        data.set_read_timeout(Some(Duration::from_secs(30)))
            .unwrap();
        assert_eq!((&data).read(&mut buf).unwrap_or(0), 0);
        // Disarmed in time: nothing happens.
        watch.arm(Duration::from_secs(30));
        watch.disarm();
        assert!(!watch.fired());
    }

    #[test]
    fn reply_codes_and_classes() {
        let r = |s: &str| Response::new(Status::Unknown, s.as_bytes().to_vec());
        assert_eq!(reply_code(&r("451 Local error")), 451);
        let fail = |s: &str| classify(FtpError::UnexpectedResponse(r(s)));
        assert!(matches!(
            fail("450 busy"),
            Failure::Transient { code: 450, .. }
        ));
        assert!(matches!(fail("421 Too many users"), Failure::Connection(_)));
        assert!(matches!(
            fail("550 No such file"),
            Failure::Permanent { code: 550, .. }
        ));
        assert_eq!(
            fail("550 No\r\nsuch\u{7}file").detail(),
            "550 No  such file"
        );
        assert!(is_truncation_reply(&r("426 Connection closed")));
        // A positive reply where another was due: the connection is out of
        // step and must be dropped, not the path blamed.
        let stray = fail("226 Transfer complete");
        assert!(matches!(stray, Failure::Connection(_)), "{stray:?}");
        assert_eq!(
            stray.detail(),
            "unexpected reply (out of sequence or malformed): 226 Transfer complete"
        );
        assert!(!is_truncation_reply(&r("226 Done")));
    }
}
