//! FTP servers for the tests: libunftp (a real server library, plain and
//! FTPS) serving a folder, and a small scripted FTP server speaking the
//! protocol over real sockets, for behaviour libunftp cannot be made to show
//! (Latin-1 names, DOS or garbage listings, stalls, files that vanish,
//! refused folders, a password check).
#![allow(dead_code)] // each test module uses a part

pub mod exposure_server;
pub mod implicit_tls;

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, AtomicU16, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

/// Passive port ranges, 200 per server, below Linux's ephemeral range
/// (32768-60999): a control port from [`free_port`] or a client's own port
/// can then never be one a server is about to listen on.
static NEXT_PASSIVE_BASE: AtomicU16 = AtomicU16::new(20000);

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("no free port")
}

/// Starts libunftp on 127.0.0.1 serving `root` (anonymous logins), with
/// FTPS when a certificate and key (PEM files) are given. Returns the port.
pub fn start_unftp(root: &Path, tls: Option<(PathBuf, PathBuf)>) -> u16 {
    let base = NEXT_PASSIVE_BASE.fetch_add(200, Ordering::SeqCst);
    // The free port is released before libunftp binds it; should something
    // else take it meanwhile, listening fails and another port is tried,
    // rather than the test talking to whatever holds the port.
    for _ in 0..5 {
        let port = free_port();
        let (failed_tx, failed) = std::sync::mpsc::channel::<String>();
        let root = root.to_path_buf();
        let tls = tls.clone();
        thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_multi_thread()
                .worker_threads(2)
                .enable_all()
                .build()
                .expect("tokio runtime");
            rt.block_on(async move {
                let mut builder = libunftp::ServerBuilder::new(Box::new(move || {
                    unftp_sbe_fs::Filesystem::new(root.clone()).expect("served folder")
                }))
                .greeting("phiscan test server")
                .passive_ports(base..=base + 199);
                if let Some((cert, key)) = tls {
                    builder = builder.ftps(cert, key);
                }
                let server = builder.build().expect("libunftp server");
                if let Err(e) = server.listen(format!("127.0.0.1:{port}")).await {
                    let _ = failed_tx.send(e.to_string());
                }
            });
        });
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(20) {
            if failed.try_recv().is_ok() {
                break;
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                // Connected: to libunftp, unless its listen failed just now.
                thread::sleep(Duration::from_millis(20));
                if failed.try_recv().is_err() {
                    return port;
                }
                break;
            }
            thread::sleep(Duration::from_millis(20));
        }
    }
    panic!("libunftp did not start");
}

/// A control-connection proxy in front of an FTPS server. Connections whose
/// number (from 1) is in `faulty` break the way libunftp sometimes does when
/// its switch to TLS loses the race with the client's ClientHello: the
/// "234" to AUTH TLS is passed on, the client's first TLS bytes are read as a
/// command and answered "500" in plain text, and the connection closes.
/// Returns the proxy's port and the number of connections it has accepted.
/// Data connections go straight to the server (clients connect to the port
/// PASV/EPSV names, on the control connection's peer).
pub fn start_tls_race_proxy(upstream: u16, faulty: &[usize]) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    let faulty = faulty.to_vec();
    thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let n = count.fetch_add(1, Ordering::SeqCst) + 1;
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else {
                continue;
            };
            let break_after_auth = faulty.contains(&n);
            thread::spawn(move || {
                let _ = proxy(client, server, break_after_auth);
            });
        }
    });
    (port, accepted)
}

fn proxy(client: TcpStream, server: TcpStream, break_after_auth: bool) -> std::io::Result<()> {
    let auth_answered = Arc::new(AtomicBool::new(false));
    let answered = auth_answered.clone();
    let (mut to_client, mut from_server) = (client.try_clone()?, server.try_clone()?);
    let server_to_client = thread::spawn(move || -> std::io::Result<()> {
        // Raw bytes: after AUTH TLS they are TLS records, not lines.
        let mut buf = [0u8; 16 * 1024];
        let mut line_start = true;
        loop {
            let n = from_server.read(&mut buf)?;
            if n == 0 {
                // Pass the close on, as the server would have done it.
                return to_client.shutdown(std::net::Shutdown::Both);
            }
            to_client.write_all(&buf[..n])?;
            if !break_after_auth {
                continue;
            }
            for (i, &b) in buf[..n].iter().enumerate() {
                if line_start && buf[i..n].starts_with(b"234") {
                    answered.store(true, Ordering::SeqCst);
                    // The server waits for a handshake that will not reach it.
                    return Ok(());
                }
                line_start = b == b'\n';
            }
        }
    });
    let (mut from_client, mut to_server) = (client.try_clone()?, server.try_clone()?);
    let mut buf = [0u8; 16 * 1024];
    loop {
        let n = from_client.read(&mut buf)?;
        if n == 0 {
            break;
        }
        if auth_answered.load(Ordering::SeqCst) {
            // The ClientHello, taken for a command.
            let mut to_client = client.try_clone()?;
            to_client.write_all(b"500 Command not recognized\r\n")?;
            break;
        }
        to_server.write_all(&buf[..n])?;
    }
    let _ = client.shutdown(std::net::Shutdown::Both);
    let _ = server.shutdown(std::net::Shutdown::Both);
    let _ = server_to_client.join();
    Ok(())
}

/// A self-signed certificate for 127.0.0.1 / localhost, written as PEM.
pub fn self_signed_cert(dir: &Path) -> (PathBuf, PathBuf) {
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".into(), "localhost".into()])
        .expect("self-signed certificate");
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.key_pair.serialize_pem()).unwrap();
    (cert, key)
}

/// A node of the scripted server's tree. Names are bytes (any encoding).
#[derive(Clone, Debug)]
pub enum Node {
    Dir(BTreeMap<Vec<u8>, Node>),
    File(Vec<u8>),
    /// A symbolic link to an absolute path.
    Link(Vec<u8>),
}

impl Node {
    pub fn dir() -> Node {
        Node::Dir(BTreeMap::new())
    }

    /// Adds a file (creating folders) at a `/`-separated byte path.
    pub fn add(&mut self, path: &[u8], content: &[u8]) {
        let mut node = self;
        let parts: Vec<&[u8]> = path.split(|&b| b == b'/').collect();
        for (i, part) in parts.iter().enumerate() {
            let Node::Dir(children) = node else {
                panic!("not a folder")
            };
            if i + 1 == parts.len() {
                children.insert(part.to_vec(), Node::File(content.to_vec()));
                return;
            }
            node = children.entry(part.to_vec()).or_insert_with(Node::dir);
        }
    }

    pub fn add_dir(&mut self, path: &[u8]) {
        let mut node = self;
        for part in path.split(|&b| b == b'/') {
            let Node::Dir(children) = node else {
                panic!("not a folder")
            };
            node = children.entry(part.to_vec()).or_insert_with(Node::dir);
        }
    }

    /// Adds a symbolic link at `path` pointing to the absolute `target`.
    pub fn add_link(&mut self, path: &[u8], target: &[u8]) {
        let (parent, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(i) => (&path[..i], &path[i + 1..]),
            None => (&b""[..], path),
        };
        let mut node = self;
        for part in parent.split(|&b| b == b'/').filter(|p| !p.is_empty()) {
            let Node::Dir(children) = node else {
                panic!("not a folder")
            };
            node = children.entry(part.to_vec()).or_insert_with(Node::dir);
        }
        let Node::Dir(children) = node else {
            panic!("not a folder")
        };
        children.insert(name.to_vec(), Node::Link(target.to_vec()));
    }

    fn find(&self, path: &[u8]) -> Option<&Node> {
        self.resolve(path).map(|(_, n)| n)
    }

    /// Follows links like a Unix server: the real path and its node.
    fn resolve(&self, path: &[u8]) -> Option<(Vec<u8>, &Node)> {
        let mut pending: Vec<Vec<u8>> = path
            .split(|&b| b == b'/')
            .filter(|p| !p.is_empty())
            .map(<[u8]>::to_vec)
            .rev()
            .collect();
        let mut real: Vec<Vec<u8>> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            let mut node = self;
            for p in &real {
                let Node::Dir(children) = node else {
                    return None;
                };
                node = children.get(p)?;
            }
            let Node::Dir(children) = node else {
                return None;
            };
            match children.get(&part)? {
                Node::Link(target) => {
                    hops += 1;
                    if hops > 40 {
                        return None;
                    }
                    real.clear();
                    for p in target.split(|&b| b == b'/').filter(|p| !p.is_empty()).rev() {
                        pending.push(p.to_vec());
                    }
                }
                _ => real.push(part),
            }
        }
        let mut node = self;
        for p in &real {
            let Node::Dir(children) = node else {
                return None;
            };
            node = children.get(p)?;
        }
        let mut joined = b"/".to_vec();
        joined.extend_from_slice(&real.join(&b'/'));
        Some((joined, node))
    }
}

/// How the scripted server behaves.
#[derive(Clone, Debug)]
pub struct Script {
    pub root: Node,
    /// `Some`: logins need this password (any user); `None`: anyone.
    pub password: Option<String>,
    /// Advertise MLST and answer MLSD; otherwise LIST only.
    pub mlsd: bool,
    /// With `mlsd`: MLSD naming a folder is refused (501); MLSD of the
    /// working folder works.
    pub mlsd_no_path: bool,
    /// LIST in DOS (IIS) style rather than `ls -l`.
    pub dos: bool,
    /// Extra lines in every LIST reply that are not listing lines.
    pub garbage: Vec<String>,
    /// RETR of this path sends half the file, then goes silent.
    pub stall: Option<Vec<u8>>,
    /// Listed, but RETR says 550 (deleted between LIST and RETR).
    pub vanish: Option<Vec<u8>>,
    /// RETR of this path sends half the file, closes the data connection
    /// and replies 426 (the server dropped the transfer).
    pub cut: Option<Vec<u8>>,
    /// With `cut`: only the first RETR of that path is cut.
    pub cut_once: bool,
    /// The first RETR of this path gets "450 busy" (a transient failure).
    pub flaky: Option<Vec<u8>>,
    /// CWD into this folder, or listing it, is refused with 550.
    pub deny: Option<Vec<u8>>,
    /// Folders listed world-writable (`drwxrwxrwx`).
    pub world_writable: Vec<Vec<u8>>,
    pub banner: String,
    /// Offer AUTH TLS in FEAT (it is refused if used).
    pub advertise_tls: bool,
    /// Delay before each reply (simulated round trip).
    pub reply_delay: Duration,
    /// Folders whose LIST/MLSD sends these exact bytes instead of the
    /// generated listing (hostile names, `.`/`..`, repeated entries).
    pub raw_listing: Vec<(Vec<u8>, Vec<u8>)>,
    /// This folder lists `n` generated files (`f0000000.txt`...), streamed;
    /// each holds "hello\n".
    pub huge_dir: Option<(Vec<u8>, usize)>,
    /// The listing of this folder never ends: `line` (with `{n}` replaced by
    /// a counter) again and again, with `pause` between lines.
    pub endless_listing: Option<(Vec<u8>, String, Duration)>,
    /// A folder that contains itself: `/loop/loop/...` all resolve to it.
    pub fold: Option<Vec<u8>>,
    /// Misbehaviour in reply to a command line starting with these bytes.
    pub misreply: Vec<(Vec<u8>, Misreply)>,
    /// Misbehaviour of the data connection for RETR of this path.
    pub data_fault: Vec<(Vec<u8>, DataFault)>,
    /// PASV names this host (`a,b,c,d`) instead of 127.0.0.1, where a decoy
    /// listener logs any connection as `!DECOY`.
    pub pasv_host: Option<String>,
    /// Do not offer (or answer) EPSV, so that clients use PASV.
    pub no_epsv: bool,
    /// Offer EPSV in FEAT, but answer the command with this reply (a
    /// server or firewall that refuses it).
    pub epsv_refusal: Option<String>,
    /// Wait this long before the greeting (a slow server).
    pub greeting_delay: Duration,
    /// EPSV reply text; `{port}` becomes the real data port.
    pub epsv_reply: Option<String>,
    /// Active mode: connect to the client from this local address.
    pub active_from: Option<String>,
    /// How AUTH TLS is answered.
    pub auth_tls: AuthTls,
}

/// Ways to answer a command wrongly.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Misreply {
    /// A line that is no FTP reply at all.
    Garbage,
    /// Half a reply code, then the connection closes.
    Truncated,
    /// A multi-line reply that never sends its closing line.
    OpenMultiline,
    /// A stray "226" first, then the real reply (replies one step behind).
    OutOfSequence,
    /// A reply dripped one byte every 300 ms, without end (slowloris).
    Drip,
    /// The control connection closes without a reply.
    Close,
}

/// Ways a data connection misbehaves.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum DataFault {
    /// "150", but the data connection is never accepted, nor any reply sent.
    NeverOpens,
    /// The file is sent, but the data connection stays open, no "226".
    NeverCloses,
    /// The file's bytes again and again, as fast as the client reads.
    Endless,
    /// One byte every 200 ms, without end.
    Drip,
}

/// Answers to AUTH TLS.
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub enum AuthTls {
    /// "534", TLS not available.
    #[default]
    Refuse,
    /// "502", AUTH not implemented at all.
    NotImplemented,
    /// "234", then the connection closes before any handshake.
    AcceptThenClose,
    /// "234", then plaintext instead of a TLS handshake.
    AcceptThenPlaintext,
}

impl Script {
    pub fn new(root: Node) -> Script {
        Script {
            root,
            password: None,
            mlsd: false,
            mlsd_no_path: false,
            dos: false,
            garbage: Vec::new(),
            stall: None,
            vanish: None,
            flaky: None,
            cut: None,
            cut_once: false,
            deny: None,
            world_writable: Vec::new(),
            banner: "scripted FTP server ready".into(),
            advertise_tls: false,
            reply_delay: Duration::ZERO,
            raw_listing: Vec::new(),
            huge_dir: None,
            endless_listing: None,
            fold: None,
            misreply: Vec::new(),
            data_fault: Vec::new(),
            pasv_host: None,
            no_epsv: false,
            epsv_refusal: None,
            greeting_delay: Duration::ZERO,
            epsv_reply: None,
            active_from: None,
            auth_tls: AuthTls::Refuse,
        }
    }
}

/// Commands the scripted server received (password arguments included),
/// for assertions about what the client sent.
pub type Log = Arc<Mutex<Vec<Vec<u8>>>>;

/// What happened once already, across a scripted server's connections.
#[derive(Default)]
struct Firsts {
    flaky_done: std::sync::atomic::AtomicBool,
    cut_done: std::sync::atomic::AtomicBool,
}

/// Starts the scripted server; returns its port and the command log.
pub fn start_scripted(script: Script) -> (u16, Log) {
    let firsts = Arc::new(Firsts::default());
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let script = Arc::new(script);
    let log: Log = Arc::new(Mutex::new(Vec::new()));
    let log2 = log.clone();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let script = script.clone();
            let log = log2.clone();
            let firsts = firsts.clone();
            thread::spawn(move || {
                let _ = serve(conn, &script, &log, &firsts);
            });
        }
    });
    (port, log)
}

fn reply(w: &mut TcpStream, script: &Script, line: &str) -> std::io::Result<()> {
    if !script.reply_delay.is_zero() {
        thread::sleep(script.reply_delay);
    }
    w.write_all(line.as_bytes())?;
    w.write_all(b"\r\n")
}

fn join(cwd: &[u8], arg: &[u8]) -> Vec<u8> {
    let mut p = if arg.starts_with(b"/") {
        arg.to_vec()
    } else {
        let mut p = cwd.to_vec();
        if !p.ends_with(b"/") {
            p.push(b'/');
        }
        p.extend_from_slice(arg);
        p
    };
    while p.len() > 1 && p.ends_with(b"/") {
        p.pop();
    }
    p
}

/// Where the next data connection comes from: passive (we listen) or
/// active (we connect to the client's PORT/EPRT address).
enum DataSource {
    Listen(TcpListener),
    /// The client's address, and the local address to connect from.
    Connect(String, Option<String>),
}

impl DataSource {
    /// Opens the data connection; logs `!DATA FROM <peer>` for passive ones.
    fn open(self, log: &Log) -> std::io::Result<TcpStream> {
        match self {
            DataSource::Listen(l) => {
                let (s, peer) = l.accept()?;
                log.lock()
                    .unwrap()
                    .push(format!("!DATA FROM {}", peer.ip()).into_bytes());
                Ok(s)
            }
            DataSource::Connect(a, None) => TcpStream::connect(a),
            DataSource::Connect(a, Some(from)) => connect_from(&a, &from),
        }
    }
}

/// Connects to `to` from the local address `from` (std cannot bind before
/// connecting; tokio's socket can).
fn connect_from(to: &str, from: &str) -> std::io::Result<TcpStream> {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let to: std::net::SocketAddr = to
        .parse()
        .map_err(|_| std::io::Error::other("bad address"))?;
    let from: std::net::SocketAddr = format!("{from}:0")
        .parse()
        .map_err(|_| std::io::Error::other("bad address"))?;
    rt.block_on(async move {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(from)?;
        let stream = socket.connect(to).await?;
        let stream = stream.into_std()?;
        stream.set_nonblocking(false)?;
        Ok(stream)
    })
}

/// Waits (at most a minute) until the client closes the control connection.
fn wait_for_close(r: &mut BufReader<TcpStream>) {
    let _ = r.get_mut().set_read_timeout(Some(Duration::from_secs(60)));
    let mut sink = [0u8; 256];
    while matches!(r.read(&mut sink), Ok(n) if n > 0) {}
}

/// `/loop/loop/loop/x` is `/loop/x` when `/loop` is the folded folder.
fn fold(script: &Script, path: Vec<u8>) -> Vec<u8> {
    let Some(f) = &script.fold else {
        return path;
    };
    let base = f.rsplit(|&b| b == b'/').next().unwrap_or(f);
    let Some(rest) = path.strip_prefix(f.as_slice()) else {
        return path;
    };
    if !(rest.is_empty() || rest.starts_with(b"/")) {
        return path;
    }
    let mut steps: Vec<&[u8]> = rest
        .split(|&b| b == b'/')
        .filter(|s| !s.is_empty())
        .collect();
    while steps.first() == Some(&base) {
        steps.remove(0);
    }
    let mut out = f.clone();
    for step in steps {
        out.push(b'/');
        out.extend_from_slice(step);
    }
    out
}

fn under(dir: &[u8], path: &[u8]) -> bool {
    path.strip_prefix(dir)
        .is_some_and(|rest| rest.starts_with(b"/"))
}

fn serve(conn: TcpStream, script: &Script, log: &Log, firsts: &Firsts) -> std::io::Result<()> {
    let mut w = conn.try_clone()?;
    let mut r = BufReader::new(conn);
    thread::sleep(script.greeting_delay);
    reply(&mut w, script, &format!("220 {}", script.banner))?;
    let mut cwd: Vec<u8> = b"/".to_vec();
    let mut logged_in = false;
    let mut passive: Option<DataSource> = None;
    let mut rest: u64 = 0;
    loop {
        let mut line = Vec::new();
        if r.read_until(b'\n', &mut line)? == 0 {
            return Ok(());
        }
        while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
            line.pop();
        }
        // Telnet IAC (0xFF) arrives doubled in commands (RFC 854).
        let mut unescaped = Vec::with_capacity(line.len());
        let mut i = 0;
        while i < line.len() {
            unescaped.push(line[i]);
            i += if line[i] == 0xFF && line.get(i + 1) == Some(&0xFF) {
                2
            } else {
                1
            };
        }
        let line = unescaped;
        log.lock().unwrap().push(line.clone());
        if let Some((_, m)) = script.misreply.iter().find(|(p, _)| line.starts_with(p)) {
            match m {
                Misreply::Garbage => {
                    w.write_all(b"this is not an FTP reply\r\n")?;
                    continue;
                }
                Misreply::Truncated => {
                    w.write_all(b"25")?;
                    return Ok(());
                }
                Misreply::OpenMultiline => {
                    w.write_all(b"250-first line\r\n250-second line\r\n")?;
                    wait_for_close(&mut r);
                    return Ok(());
                }
                Misreply::OutOfSequence => w.write_all(b"226 Transfer complete.\r\n")?,
                Misreply::Drip => {
                    w.write_all(b"250-")?;
                    loop {
                        thread::sleep(Duration::from_millis(300));
                        w.write_all(b"z")?;
                    }
                }
                Misreply::Close => return Ok(()),
            }
        }
        let (cmd, arg) = match line.iter().position(|&b| b == b' ') {
            Some(i) => (line[..i].to_ascii_uppercase(), line[i + 1..].to_vec()),
            None => (line.to_ascii_uppercase(), Vec::new()),
        };
        let cmd = String::from_utf8_lossy(&cmd).into_owned();
        if !logged_in && !matches!(cmd.as_str(), "USER" | "PASS" | "FEAT" | "QUIT" | "AUTH") {
            reply(&mut w, script, "530 Please login with USER and PASS.")?;
            continue;
        }
        match cmd.as_str() {
            "USER" => reply(&mut w, script, "331 Password required.")?,
            "PASS" => match &script.password {
                Some(p) if p.as_bytes() != arg.as_slice() => {
                    reply(&mut w, script, "530 Login incorrect.")?
                }
                _ => {
                    logged_in = true;
                    reply(&mut w, script, "230 Logged in.")?
                }
            },
            "FEAT" => {
                let mut lines = vec!["211-Features:".to_string()];
                if !script.no_epsv {
                    lines.push(" EPSV".into());
                }
                lines.extend([" PASV".into(), " SIZE".into(), " REST STREAM".into()]);
                if script.mlsd {
                    lines.push(" MLST type*;size*;modify*;".into());
                }
                if script.advertise_tls {
                    lines.push(" AUTH TLS".into());
                }
                lines.push("211 End".into());
                reply(&mut w, script, &lines.join("\r\n"))?;
            }
            "AUTH" => match script.auth_tls {
                AuthTls::Refuse => reply(&mut w, script, "534 TLS not available.")?,
                AuthTls::NotImplemented => reply(&mut w, script, "502 Command not implemented.")?,
                AuthTls::AcceptThenClose => {
                    reply(&mut w, script, "234 Proceed with negotiation.")?;
                    return Ok(());
                }
                AuthTls::AcceptThenPlaintext => {
                    reply(&mut w, script, "234 Proceed with negotiation.")?;
                    w.write_all(b"220 this is plain text, not a TLS handshake\r\n")?;
                    wait_for_close(&mut r);
                    return Ok(());
                }
            },
            "TYPE" => reply(&mut w, script, "200 Type set.")?,
            "SYST" => reply(&mut w, script, "215 UNIX Type: L8")?,
            "NOOP" => reply(&mut w, script, "200 OK")?,
            "OPTS" => reply(&mut w, script, "200 OK")?,
            "PWD" => {
                let mut msg = b"257 \"".to_vec();
                msg.extend_from_slice(&cwd);
                msg.extend_from_slice(b"\" is the current directory\r\n");
                w.write_all(&msg)?;
            }
            "CWD" => {
                let target = fold(script, join(&cwd, &arg));
                if script.deny.as_deref() == Some(&target[..]) {
                    reply(&mut w, script, "550 Permission denied.")?;
                } else if let Some((real, Node::Dir(_))) = script.root.resolve(&target) {
                    cwd = real;
                    reply(&mut w, script, "250 Directory changed.")?;
                } else {
                    reply(&mut w, script, "550 No such directory.")?;
                }
            }
            "EPSV" if script.no_epsv => reply(&mut w, script, "502 EPSV not implemented.")?,
            "EPSV" if script.epsv_refusal.is_some() => {
                reply(&mut w, script, script.epsv_refusal.as_deref().unwrap_or(""))?
            }
            "EPSV" | "PASV" => {
                let l = TcpListener::bind("127.0.0.1:0")?;
                let p = l.local_addr()?.port();
                passive = Some(DataSource::Listen(l));
                if cmd == "EPSV" {
                    let text = script
                        .epsv_reply
                        .as_deref()
                        .unwrap_or("229 Entering Extended Passive Mode (|||{port}|)")
                        .replace("{port}", &p.to_string())
                        .replace("{control}", &w.local_addr()?.port().to_string());
                    reply(&mut w, script, &text)?;
                } else {
                    let host = script.pasv_host.as_deref().unwrap_or("127,0,0,1");
                    if let Some(h) = &script.pasv_host {
                        // A decoy where the PASV reply points: any connection
                        // to it means the client followed the reply.
                        let decoy_addr = format!("{}:{p}", h.replace(',', "."));
                        if let Ok(decoy) = TcpListener::bind(decoy_addr) {
                            let log = log.clone();
                            thread::spawn(move || {
                                if decoy.accept().is_ok() {
                                    log.lock().unwrap().push(b"!DECOY".to_vec());
                                }
                            });
                        }
                    }
                    reply(
                        &mut w,
                        script,
                        &format!("227 Entering Passive Mode ({host},{},{})", p / 256, p % 256),
                    )?;
                }
            }
            "PORT" | "EPRT" => {
                let text = String::from_utf8_lossy(&arg).into_owned();
                let addr = if cmd == "PORT" {
                    let n: Vec<u16> = text
                        .split(',')
                        .filter_map(|x| x.trim().parse().ok())
                        .collect();
                    (n.len() == 6).then(|| {
                        format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
                    })
                } else {
                    let parts: Vec<&str> = text.split('|').collect();
                    (parts.len() >= 4).then(|| format!("{}:{}", parts[2], parts[3]))
                };
                match addr {
                    Some(a) => {
                        passive = Some(DataSource::Connect(a, script.active_from.clone()));
                        reply(&mut w, script, "200 PORT command successful.")?;
                    }
                    None => reply(&mut w, script, "501 Bad address.")?,
                }
            }
            "REST" => {
                rest = String::from_utf8_lossy(&arg).trim().parse().unwrap_or(0);
                reply(&mut w, script, "350 Restarting.")?;
            }
            "SIZE" => match script.root.find(&fold(script, join(&cwd, &arg))) {
                Some(Node::File(c)) => reply(&mut w, script, &format!("213 {}", c.len()))?,
                _ => reply(&mut w, script, "550 No such file.")?,
            },
            "LIST" | "MLSD" | "NLST" => {
                if cmd == "MLSD" && !script.mlsd {
                    reply(&mut w, script, "500 Unknown command.")?;
                    continue;
                }
                if cmd == "MLSD" && script.mlsd_no_path && !arg.is_empty() {
                    reply(&mut w, script, "501 No arguments, please.")?;
                    continue;
                }
                let dir = if arg.is_empty() || arg.starts_with(b"-") {
                    cwd.clone()
                } else {
                    fold(script, join(&cwd, &arg))
                };
                if script.deny.as_deref() == Some(&dir[..]) {
                    reply(&mut w, script, "550 Permission denied.")?;
                    continue;
                }
                let Some(Node::Dir(children)) = script.root.find(&dir) else {
                    reply(&mut w, script, "550 No such directory.")?;
                    continue;
                };
                let Some(l) = passive.take() else {
                    reply(&mut w, script, "425 Use PASV first.")?;
                    continue;
                };
                reply(&mut w, script, "150 Here comes the directory listing.")?;
                let mut data = l.open(log)?;
                if let Some((_, n)) = script.huge_dir.as_ref().filter(|(d, _)| *d == dir) {
                    let mut sent = Ok(());
                    let mut chunk = Vec::with_capacity(64 * 1024);
                    for i in 0..*n {
                        chunk.extend_from_slice(
                            format!("-rw-r--r--    1 ftp      ftp               6 Mar 14  2024 f{i:07}.txt\r\n")
                                .as_bytes(),
                        );
                        if chunk.len() > 60 * 1024 || i + 1 == *n {
                            sent = data.write_all(&chunk);
                            chunk.clear();
                            if sent.is_err() {
                                break;
                            }
                        }
                    }
                    drop(data);
                    match sent {
                        Ok(()) => reply(&mut w, script, "226 Directory send OK.")?,
                        Err(_) => {
                            reply(&mut w, script, "426 Connection closed; transfer aborted.")?
                        }
                    }
                    continue;
                }
                if let Some((_, line, pause)) = script
                    .endless_listing
                    .as_ref()
                    .filter(|(d, _, _)| *d == dir)
                {
                    for n in 0u64.. {
                        let text = format!("{}\r\n", line.replace("{n}", &n.to_string()));
                        if data.write_all(text.as_bytes()).is_err() {
                            break;
                        }
                        if !pause.is_zero() {
                            thread::sleep(*pause);
                        }
                    }
                    drop(data);
                    reply(&mut w, script, "426 Connection closed; transfer aborted.")?;
                    continue;
                }
                if let Some((_, raw)) = script.raw_listing.iter().find(|(d, _)| *d == dir) {
                    let _ = data.write_all(raw);
                    drop(data);
                    reply(&mut w, script, "226 Directory send OK.")?;
                    continue;
                }
                let mut out = Vec::new();
                if cmd == "LIST" && !script.dos {
                    out.extend_from_slice(b"total 8\r\n");
                }
                for (name, node) in children {
                    let full = join(&dir, name);
                    let (is_dir, size) = match node {
                        Node::Dir(_) => (true, 0),
                        Node::File(c) => (false, c.len()),
                        Node::Link(t) => {
                            let mut line = format!(
                                "lrwxrwxrwx    1 ftp      ftp      {:>10} Mar 14  2024 ",
                                t.len()
                            )
                            .into_bytes();
                            line.extend_from_slice(name);
                            line.extend_from_slice(b" -> ");
                            line.extend_from_slice(t);
                            line.extend_from_slice(b"\r\n");
                            out.extend_from_slice(&line);
                            continue;
                        }
                    };
                    let ww = script.world_writable.contains(&full);
                    let head = match (cmd.as_str(), script.dos) {
                        ("MLSD", _) => format!(
                            "type={};size={};modify=20240101120000;unix.mode={}; ",
                            if is_dir { "dir" } else { "file" },
                            size,
                            if ww {
                                "0777"
                            } else if is_dir {
                                "0755"
                            } else {
                                "0644"
                            }
                        ),
                        (_, true) => {
                            if is_dir {
                                "03-14-24  09:15AM       <DIR>          ".to_string()
                            } else {
                                format!("03-14-24  09:15AM {size:>20} ")
                            }
                        }
                        _ => format!(
                            "{}    1 ftp      ftp      {size:>10} Mar 14  2024 ",
                            if ww {
                                "drwxrwxrwx"
                            } else if is_dir {
                                "drwxr-xr-x"
                            } else {
                                "-rw-r--r--"
                            }
                        ),
                    };
                    out.extend_from_slice(head.as_bytes());
                    out.extend_from_slice(name);
                    out.extend_from_slice(b"\r\n");
                }
                if cmd == "LIST" {
                    for g in &script.garbage {
                        out.extend_from_slice(g.as_bytes());
                        out.extend_from_slice(b"\r\n");
                    }
                }
                let _ = data.write_all(&out);
                drop(data);
                reply(&mut w, script, "226 Directory send OK.")?;
            }
            "RETR" => {
                let path = fold(script, join(&cwd, &arg));
                let offset = std::mem::take(&mut rest);
                if script.flaky.as_deref() == Some(&path[..])
                    && !firsts.flaky_done.swap(true, Ordering::SeqCst)
                {
                    passive = None;
                    reply(&mut w, script, "450 Resource busy, try again.")?;
                    continue;
                }
                let huge = script
                    .huge_dir
                    .as_ref()
                    .is_some_and(|(d, _)| under(d, &path));
                let content = match script.root.find(&path) {
                    _ if huge => b"hello\n".to_vec(),
                    Some(Node::File(c)) if script.vanish.as_deref() != Some(&path[..]) => c.clone(),
                    _ => {
                        reply(&mut w, script, "550 Failed to open file.")?;
                        continue;
                    }
                };
                let Some(l) = passive.take() else {
                    reply(&mut w, script, "425 Use PASV first.")?;
                    continue;
                };
                reply(&mut w, script, "150 Opening BINARY mode data connection.")?;
                let fault = script
                    .data_fault
                    .iter()
                    .find(|(p, _)| *p == path)
                    .map(|(_, f)| f.clone());
                if fault == Some(DataFault::NeverOpens) {
                    let _pending = l;
                    wait_for_close(&mut r);
                    return Ok(());
                }
                let mut data = l.open(log)?;
                let body = content.get(offset as usize..).unwrap_or(&[]);
                match fault {
                    Some(DataFault::NeverCloses) => {
                        let _ = data.write_all(body);
                        wait_for_close(&mut r);
                        return Ok(());
                    }
                    Some(DataFault::Endless) => {
                        let block: Vec<u8> = body.iter().copied().cycle().take(64 * 1024).collect();
                        while !block.is_empty() && data.write_all(&block).is_ok() {}
                        drop(data);
                        reply(&mut w, script, "426 Connection closed; transfer aborted.")?;
                        continue;
                    }
                    Some(DataFault::Drip) => {
                        for b in body.iter().cycle() {
                            if data.write_all(&[*b]).is_err() {
                                break;
                            }
                            thread::sleep(Duration::from_millis(200));
                        }
                        drop(data);
                        reply(&mut w, script, "426 Connection closed; transfer aborted.")?;
                        continue;
                    }
                    _ => {}
                }
                if script.stall.as_deref() == Some(&path[..]) {
                    let _ = data.write_all(&body[..body.len() / 2]);
                    // Silent, connections open, until the client gives up.
                    let mut sink = [0u8; 64];
                    let _ = r.get_mut().set_read_timeout(Some(Duration::from_secs(60)));
                    let _ = r.read(&mut sink);
                    return Ok(());
                }
                if script.cut.as_deref() == Some(&path[..])
                    && !(script.cut_once && firsts.cut_done.swap(true, Ordering::SeqCst))
                {
                    let _ = data.write_all(&body[..body.len() / 2]);
                    drop(data);
                    reply(&mut w, script, "426 Connection closed; transfer aborted.")?;
                    continue;
                }
                match data.write_all(body) {
                    Ok(()) => {
                        drop(data);
                        reply(&mut w, script, "226 Transfer complete.")?;
                    }
                    Err(_) => reply(&mut w, script, "426 Connection closed; transfer aborted.")?,
                }
            }
            "MKD" => reply(&mut w, script, "550 Permission denied.")?,
            "QUIT" => {
                reply(&mut w, script, "221 Goodbye.")?;
                return Ok(());
            }
            _ => reply(&mut w, script, "502 Command not implemented.")?,
        }
    }
}

/// A scan's outputs.
pub struct Outcome {
    pub summary: phiscan::report::Summary,
    /// CSV rows as field vectors (header excluded).
    pub rows: Vec<Vec<String>>,
    pub csv: String,
}

/// Runs a scan of `targets` with `config` tweaks through the library.
pub fn scan(targets: &[&str], tweak: impl FnOnce(&mut phiscan::config::ScanConfig)) -> Outcome {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("report.csv");
    let mut config = phiscan::config::ScanConfig {
        targets: targets.iter().map(|&t| t.into()).collect(),
        output: Some(out.clone()),
        quiet: true,
        ..Default::default()
    };
    config.ftp.timeout_secs = 10;
    tweak(&mut config);
    let summary = phiscan::scan::run(&config).expect("scan runs");
    let csv = std::fs::read_to_string(&out).unwrap();
    let mut reader = csv::ReaderBuilder::new().from_reader(csv.as_bytes());
    let rows = reader
        .records()
        .map(|r| r.unwrap().iter().map(str::to_string).collect())
        .collect();
    Outcome { summary, rows, csv }
}

impl Outcome {
    /// Rows with the given entity column value.
    pub fn entity(&self, entity: &str) -> Vec<&Vec<String>> {
        self.rows
            .iter()
            .filter(|r| r.get(2).map(String::as_str) == Some(entity))
            .collect()
    }

    /// Not-examined examples as (path, reason, detail), binary files left
    /// out (they are named in the summary, but are no failure to read).
    pub fn skipped(&self) -> Vec<(String, String, String)> {
        self.summary
            .not_examined_examples
            .iter()
            .filter(|e| e.reason != phiscan::report::SkipReason::Binary)
            .map(|e| {
                (
                    e.path.clone(),
                    e.reason.as_str().to_string(),
                    e.detail.clone(),
                )
            })
            .collect()
    }
}
