//! An FTP server for the exposure checks, on any 127.x address: real
//! sockets, real TLS (rustls, implicit or AUTH TLS, protected data
//! connections), real active-mode connections (PORT/EPRT), an in-memory
//! tree with per-folder write rules. Each behaviour a check must judge is a
//! switch: which logins it takes and how it answers the others, whether it
//! refuses AUTH TLS although FEAT lists it, upload-only folders, probes it
//! will not let be removed, PORT to any address, 421 to the first logins.

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;
use suppaftp::rustls::{self, ServerConnection, StreamOwned};

/// What a folder lets anonymous users do.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Rights {
    pub mkd: bool,
    pub stor: bool,
    /// DELE and RMD of what is in it.
    pub delete: bool,
}

#[derive(Clone, Debug)]
pub enum Item {
    Dir { mode: &'static str, rights: Rights },
    File(Vec<u8>),
}

/// How AUTH TLS is answered.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Auth {
    /// 234 and a handshake.
    Accept,
    /// 500, although FEAT lists AUTH TLS (pure-ftpd without a certificate).
    RefuseListed,
    /// 502, and FEAT does not list it.
    Refuse,
}

/// How PORT/EPRT are taken.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Port {
    /// 500 Illegal PORT command for another address than the client's.
    RefuseForeign,
    /// 200, and the data connection goes there.
    Connect,
    /// 200, but no connection is ever made (425 to the transfer).
    Lie,
}

#[derive(Clone, Debug)]
pub struct Config {
    pub banner: String,
    pub syst: String,
    /// TLS from the first byte.
    pub implicit: bool,
    pub auth: Auth,
    /// (user, password): logins taken; "*" as password takes any.
    pub logins: Vec<(String, String)>,
    /// These users get 332 after PASS and need ACCT (any account).
    pub acct: bool,
    /// Plain-text logins are refused with "530 TLS required".
    pub tls_required: bool,
    /// Anonymous logins over TLS are refused ("may not use encryption").
    pub anon_no_tls: bool,
    /// The first N login attempts get 421 and the connection closes.
    pub busy_first: usize,
    pub port: Port,
    /// Absolute paths (no trailing slash; "" is the root) to items.
    pub tree: BTreeMap<String, Item>,
    pub mlsd: bool,
    /// Wait this long before the greeting (a slow server, e.g. one doing
    /// reverse DNS).
    pub greeting_delay: Duration,
}

impl Config {
    pub fn new(banner: &str) -> Config {
        let mut tree = BTreeMap::new();
        tree.insert(
            String::new(),
            Item::Dir {
                mode: "drwxr-xr-x",
                rights: Rights::default(),
            },
        );
        Config {
            banner: banner.into(),
            syst: "UNIX Type: L8".into(),
            implicit: false,
            auth: Auth::Refuse,
            logins: vec![("anonymous".into(), "*".into()), ("ftp".into(), "*".into())],
            acct: false,
            tls_required: false,
            anon_no_tls: false,
            busy_first: 0,
            port: Port::RefuseForeign,
            tree,
            mlsd: false,
            greeting_delay: Duration::ZERO,
        }
    }

    pub fn dir(mut self, path: &str, mode: &'static str, rights: Rights) -> Config {
        self.tree.insert(path.into(), Item::Dir { mode, rights });
        self
    }

    pub fn file(mut self, path: &str, content: &[u8]) -> Config {
        self.tree.insert(path.into(), Item::File(content.to_vec()));
        self
    }
}

pub struct Server {
    pub addr: SocketAddr,
    /// Commands received (PASS arguments included, for the tests that
    /// count attempts; never printed by the client).
    pub log: Arc<Mutex<Vec<String>>>,
    pub tree: Arc<Mutex<BTreeMap<String, Item>>>,
    /// Connections accepted.
    pub connections: Arc<AtomicUsize>,
}

impl Server {
    pub fn commands(&self, prefix: &str) -> Vec<String> {
        self.log
            .lock()
            .unwrap()
            .iter()
            .filter(|l| l.starts_with(prefix))
            .cloned()
            .collect()
    }

    /// Paths in the tree whose name contains `part`.
    pub fn paths_with(&self, part: &str) -> Vec<String> {
        self.tree
            .lock()
            .unwrap()
            .keys()
            .filter(|k| k.contains(part))
            .cloned()
            .collect()
    }
}

/// A rustls server configuration for a self-signed certificate for `names`.
pub fn tls_config(names: &[&str]) -> Arc<rustls::ServerConfig> {
    let ck =
        rcgen::generate_simple_self_signed(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = rustls::pki_types::CertificateDer::from(ck.cert.der().to_vec());
    let key = rustls::pki_types::PrivateKeyDer::try_from(ck.key_pair.serialize_der()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert], key)
        .unwrap();
    config.session_storage = rustls::server::ServerSessionMemoryCache::new(64);
    Arc::new(config)
}

/// Starts the server on `addr` (port 0 picks one).
pub fn start(addr: SocketAddr, config: Config) -> Server {
    let listener = TcpListener::bind(addr).expect("bind the exposure test server");
    let addr = listener.local_addr().unwrap();
    let tls = tls_config(&["localhost"]);
    let log = Arc::new(Mutex::new(Vec::new()));
    let tree = Arc::new(Mutex::new(config.tree.clone()));
    let connections = Arc::new(AtomicUsize::new(0));
    let attempts = Arc::new(AtomicUsize::new(0));
    let config = Arc::new(config);
    let (log2, tree2, conns2) = (log.clone(), tree.clone(), connections.clone());
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            conns2.fetch_add(1, Ordering::SeqCst);
            let (config, tls, log, tree, attempts) = (
                config.clone(),
                tls.clone(),
                log2.clone(),
                tree2.clone(),
                attempts.clone(),
            );
            thread::spawn(move || {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(30)));
                let _ = serve(conn, &config, &tls, &log, &tree, &attempts);
            });
        }
    });
    Server {
        addr,
        log,
        tree,
        connections,
    }
}

enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    fn tls(tcp: TcpStream, config: &Arc<rustls::ServerConfig>) -> std::io::Result<Stream> {
        let conn = ServerConnection::new(config.clone()).map_err(std::io::Error::other)?;
        let mut s = StreamOwned::new(conn, tcp);
        while s.conn.is_handshaking() {
            s.conn.complete_io(&mut s.sock)?;
        }
        Ok(Stream::Tls(Box::new(s)))
    }

    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    fn close(mut self) {
        if let Stream::Tls(s) = &mut self {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.tcp().shutdown(std::net::Shutdown::Both);
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}

fn say(s: &mut Stream, line: &str) -> std::io::Result<()> {
    s.write_all(format!("{line}\r\n").as_bytes())?;
    s.flush()
}

fn read_line(s: &mut Stream) -> std::io::Result<Option<String>> {
    let mut line = Vec::new();
    let mut b = [0u8; 1];
    loop {
        match s.read(&mut b) {
            Ok(0) => return Ok(None),
            Ok(_) => {
                if b[0] == b'\n' {
                    break;
                }
                line.push(b[0]);
            }
            Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => return Ok(None),
            Err(e) => return Err(e),
        }
    }
    if line.last() == Some(&b'\r') {
        line.pop();
    }
    Ok(Some(String::from_utf8_lossy(&line).into_owned()))
}

fn parent(path: &str) -> &str {
    path.rsplit_once('/').map_or("", |(p, _)| p)
}

fn resolve(cwd: &str, arg: &str) -> String {
    let joined = if arg.starts_with('/') {
        arg.to_string()
    } else {
        format!("{cwd}/{arg}")
    };
    let mut parts: Vec<&str> = Vec::new();
    for p in joined.split('/') {
        match p {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    if parts.is_empty() {
        String::new()
    } else {
        format!("/{}", parts.join("/"))
    }
}

enum Data {
    Passive(TcpListener),
    Active(SocketAddr),
}

fn serve(
    tcp: TcpStream,
    config: &Config,
    tls: &Arc<rustls::ServerConfig>,
    log: &Mutex<Vec<String>>,
    tree: &Mutex<BTreeMap<String, Item>>,
    attempts: &AtomicUsize,
) -> std::io::Result<()> {
    let local = tcp.local_addr()?;
    let peer = tcp.peer_addr()?;
    let mut s = if config.implicit {
        Stream::tls(tcp, tls)?
    } else {
        Stream::Plain(tcp)
    };
    thread::sleep(config.greeting_delay);
    say(&mut s, &format!("220 {}", config.banner))?;
    let mut user: Option<String> = None;
    let mut logged_in = false;
    let mut cwd = String::new();
    let mut data: Option<Data> = None;
    let mut prot_p = false;
    let mut need_acct = false;
    while let Some(line) = read_line(&mut s)? {
        log.lock().unwrap().push(line.clone());
        let (cmd, arg) = match line.split_once(' ') {
            Some((c, a)) => (c.to_ascii_uppercase(), a.to_string()),
            None => (line.to_ascii_uppercase(), String::new()),
        };
        let on_tls = matches!(s, Stream::Tls(_));
        let public = matches!(
            cmd.as_str(),
            "USER" | "PASS" | "ACCT" | "AUTH" | "FEAT" | "SYST" | "QUIT" | "PBSZ" | "PROT"
        );
        if !logged_in && !public {
            say(&mut s, "530 Please login with USER and PASS.")?;
            continue;
        }
        match cmd.as_str() {
            "SYST" => say(&mut s, &format!("215 {}", config.syst))?,
            "FEAT" => {
                let mut lines = vec!["211-Features:".to_string(), " EPSV".into(), " PASV".into()];
                if config.mlsd {
                    lines.push(" MLST type*;size*;modify*;perm*;UNIX.mode*;".into());
                }
                if config.auth != Auth::Refuse {
                    lines.push(" AUTH TLS".into());
                    lines.push(" PBSZ".into());
                    lines.push(" PROT".into());
                }
                lines.push("211 End".into());
                for l in lines {
                    say(&mut s, &l)?;
                }
            }
            "AUTH" => match config.auth {
                Auth::Accept if !on_tls => {
                    say(&mut s, "234 Proceed with negotiation.")?;
                    let Stream::Plain(tcp) = s else {
                        unreachable!()
                    };
                    s = Stream::tls(tcp, tls)?;
                }
                Auth::RefuseListed => say(&mut s, "500 This security scheme is not implemented")?,
                _ => say(&mut s, "502 Command not implemented.")?,
            },
            "PBSZ" => say(&mut s, "200 PBSZ=0")?,
            "PROT" if on_tls => {
                prot_p = arg.eq_ignore_ascii_case("P");
                say(&mut s, "200 Protection level set")?;
            }
            "PROT" => say(&mut s, "503 PROT needs a secure connection")?,
            "USER" => {
                if attempts.fetch_add(1, Ordering::SeqCst) < config.busy_first {
                    say(&mut s, "421 Too many connections, try again later.")?;
                    return Ok(());
                }
                let anonymous = arg == "anonymous" || arg == "ftp";
                if config.tls_required && !on_tls {
                    say(&mut s, "530 Non-anonymous and anonymous sessions must use encryption (TLS required).")?;
                    continue;
                }
                if anonymous && on_tls && config.anon_no_tls {
                    say(&mut s, "530 Anonymous sessions may not use encryption.")?;
                    continue;
                }
                if !config.logins.iter().any(|(u, _)| *u == arg) {
                    say(&mut s, "530 This FTP server does not allow this user.")?;
                    continue;
                }
                user = Some(arg);
                say(&mut s, "331 Please specify the password.")?;
            }
            "PASS" => {
                let ok = user.as_ref().is_some_and(|u| {
                    config
                        .logins
                        .iter()
                        .any(|(lu, lp)| lu == u && (lp == "*" || *lp == arg))
                });
                if !ok {
                    say(&mut s, "530 Login incorrect.")?;
                } else if config.acct {
                    need_acct = true;
                    say(&mut s, "332 Need account for login.")?;
                } else {
                    logged_in = true;
                    say(&mut s, "230 Login successful.")?;
                }
            }
            "ACCT" if need_acct => {
                logged_in = true;
                say(&mut s, "230 Account accepted.")?;
            }
            "PWD" => say(
                &mut s,
                &format!(
                    "257 \"{}\" is the current directory",
                    if cwd.is_empty() { "/" } else { &cwd }
                ),
            )?,
            "CWD" => {
                let p = resolve(&cwd, &arg);
                match tree.lock().unwrap().get(&p) {
                    Some(Item::Dir { .. }) => {
                        cwd = p;
                        say(&mut s, "250 Directory successfully changed.")?;
                    }
                    _ => say(&mut s, "550 Failed to change directory.")?,
                }
            }
            "TYPE" => say(&mut s, "200 Switching to Binary mode.")?,
            "EPSV" | "PASV" => {
                let l = TcpListener::bind((local.ip(), 0))?;
                let p = l.local_addr()?.port();
                data = Some(Data::Passive(l));
                if cmd == "EPSV" {
                    say(
                        &mut s,
                        &format!("229 Entering Extended Passive Mode (|||{p}|)"),
                    )?;
                } else {
                    say(
                        &mut s,
                        &format!(
                            "227 Entering Passive Mode (127,0,0,1,{},{})",
                            p >> 8,
                            p & 255
                        ),
                    )?;
                }
            }
            "PORT" | "EPRT" => {
                let target: Option<SocketAddr> = if cmd == "PORT" {
                    let n: Vec<u16> = arg
                        .split(',')
                        .filter_map(|x| x.trim().parse().ok())
                        .collect();
                    (n.len() == 6)
                        .then(|| {
                            format!("{}.{}.{}.{}:{}", n[0], n[1], n[2], n[3], n[4] * 256 + n[5])
                        })
                        .and_then(|a| a.parse().ok())
                } else {
                    let parts: Vec<&str> = arg.split('|').collect();
                    (parts.len() >= 4)
                        .then(|| format!("{}:{}", parts[2], parts[3]))
                        .and_then(|a| a.parse().ok())
                };
                match target {
                    Some(t) if t.ip() != peer.ip() && config.port == Port::RefuseForeign => {
                        say(&mut s, "500 Illegal PORT command.")?
                    }
                    Some(t) => {
                        data = Some(Data::Active(t));
                        say(&mut s, "200 PORT command successful.")?;
                    }
                    None => say(&mut s, "501 Bad address.")?,
                }
            }
            "LIST" | "MLSD" | "RETR" | "STOR" => {
                let target = resolve(&cwd, &arg);
                let listing_dir = if arg.is_empty() || arg.starts_with('-') {
                    cwd.clone()
                } else {
                    target.clone()
                };
                // Decide before opening the data connection.
                let payload: Result<Vec<u8>, &str> = {
                    let t = tree.lock().unwrap();
                    match cmd.as_str() {
                        "LIST" | "MLSD" => match t.get(&listing_dir) {
                            Some(Item::Dir { .. }) => Ok(listing(&t, &listing_dir, cmd == "MLSD")),
                            _ => Err("550 No such directory."),
                        },
                        "RETR" => match t.get(&target) {
                            Some(Item::File(c)) => Ok(c.clone()),
                            _ => Err("550 Failed to open file."),
                        },
                        _ => match t.get(parent(&target)) {
                            Some(Item::Dir { rights, .. }) if rights.stor => Ok(Vec::new()),
                            _ => Err("553 Could not create file."),
                        },
                    }
                };
                let payload = match payload {
                    Ok(p) => p,
                    Err(e) => {
                        data = None;
                        say(&mut s, e)?;
                        continue;
                    }
                };
                let Some(d) = data.take() else {
                    say(&mut s, "425 Use PORT or PASV first.")?;
                    continue;
                };
                say(&mut s, "150 Here comes the data.")?;
                let tcp = match d {
                    Data::Passive(l) => l.accept().map(|(t, _)| t),
                    Data::Active(_) if config.port == Port::Lie => {
                        say(&mut s, "425 Failed to establish connection.")?;
                        continue;
                    }
                    Data::Active(a) => TcpStream::connect_timeout(&a, Duration::from_secs(5)),
                };
                let Ok(tcp) = tcp else {
                    say(&mut s, "425 Failed to establish connection.")?;
                    continue;
                };
                let _ = tcp.set_read_timeout(Some(Duration::from_secs(10)));
                let mut ds = if prot_p {
                    Stream::tls(tcp, tls)?
                } else {
                    Stream::Plain(tcp)
                };
                if cmd == "STOR" {
                    let mut body = Vec::new();
                    let _ = ds.read_to_end(&mut body);
                    tree.lock().unwrap().insert(target, Item::File(body));
                } else {
                    let _ = ds.write_all(&payload);
                }
                ds.close();
                say(&mut s, "226 Transfer complete.")?;
            }
            "MKD" => {
                let p = resolve(&cwd, &arg);
                let mut t = tree.lock().unwrap();
                let can = matches!(t.get(parent(&p)), Some(Item::Dir { rights, .. }) if rights.mkd)
                    && !t.contains_key(&p);
                if can {
                    t.insert(
                        p.clone(),
                        Item::Dir {
                            mode: "drwxr-xr-x",
                            rights: Rights::default(),
                        },
                    );
                    drop(t);
                    say(&mut s, &format!("257 \"{p}\" created"))?;
                } else {
                    drop(t);
                    say(&mut s, "550 Create directory operation failed.")?
                }
            }
            "RMD" | "DELE" => {
                let p = resolve(&cwd, &arg);
                let mut t = tree.lock().unwrap();
                let allowed =
                    matches!(t.get(parent(&p)), Some(Item::Dir { rights, .. }) if rights.delete);
                let right_kind = match t.get(&p) {
                    Some(Item::Dir { .. }) => cmd == "RMD",
                    Some(Item::File(_)) => cmd == "DELE",
                    None => false,
                };
                if allowed && right_kind {
                    t.remove(&p);
                    drop(t);
                    say(&mut s, "250 Remove operation successful.")?;
                } else {
                    drop(t);
                    say(&mut s, "550 Permission denied.")?;
                }
            }
            "QUIT" => {
                say(&mut s, "221 Goodbye.")?;
                s.close();
                return Ok(());
            }
            _ => say(&mut s, "502 Command not implemented.")?,
        }
    }
    Ok(())
}

fn listing(tree: &BTreeMap<String, Item>, dir: &str, mlsd: bool) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, item) in tree.iter() {
        if path.is_empty() || parent(path) != dir {
            continue;
        }
        let name = path.rsplit('/').next().unwrap_or("");
        let line = match (item, mlsd) {
            (Item::Dir { mode, rights }, true) => {
                let bits = mode_bits(mode);
                let perm = if rights.mkd || rights.stor {
                    "flcdmpe"
                } else {
                    "el"
                };
                format!("type=dir;perm={perm};UNIX.mode=0{bits:o}; {name}")
            }
            (Item::File(c), true) => format!("type=file;size={};UNIX.mode=0644; {name}", c.len()),
            (Item::Dir { mode, .. }, false) => {
                format!("{mode}    2 ftp      ftp          4096 Mar 14  2024 {name}")
            }
            (Item::File(c), false) => {
                format!(
                    "-rw-r--r--    1 ftp      ftp      {:>8} Mar 14  2024 {name}",
                    c.len()
                )
            }
        };
        out.extend_from_slice(line.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out
}

fn mode_bits(mode: &str) -> u32 {
    mode.bytes()
        .skip(1)
        .take(9)
        .fold(0, |acc, b| (acc << 1) | u32::from(b != b'-'))
}

/// libunftp (anonymous, serving `root`, writable) on `addr`; port 0 picks
/// one. Returns where it listens.
pub fn start_unftp_at(addr: SocketAddr, root: &std::path::Path) -> SocketAddr {
    let addr = if addr.port() == 0 {
        TcpListener::bind(addr).unwrap().local_addr().unwrap()
    } else {
        addr
    };
    let root = root.to_path_buf();
    let (failed_tx, failed) = std::sync::mpsc::channel::<String>();
    thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let server = libunftp::ServerBuilder::new(Box::new(move || {
                unftp_sbe_fs::Filesystem::new(root.clone()).unwrap()
            }))
            .greeting("libunftp test server")
            .passive_ports(17000..=17999)
            .build()
            .unwrap();
            if let Err(e) = server.listen(addr.to_string()).await {
                let _ = failed_tx.send(e.to_string());
            }
        });
    });
    for _ in 0..500 {
        if let Ok(e) = failed.try_recv() {
            panic!("libunftp on {addr}: {e}");
        }
        if TcpStream::connect(addr).is_ok() {
            return addr;
        }
        thread::sleep(Duration::from_millis(20));
    }
    panic!("libunftp on {addr} did not start");
}

/// A listener on `addr` that greets like SSH (an open port that is not FTP).
pub fn start_not_ftp(addr: SocketAddr) -> SocketAddr {
    let l = TcpListener::bind(addr).unwrap();
    let addr = l.local_addr().unwrap();
    thread::spawn(move || {
        for mut c in l.incoming().flatten() {
            let _ = c.write_all(b"SSH-2.0-OpenSSH_9.2p1\r\n");
            thread::sleep(Duration::from_millis(100));
        }
    });
    addr
}
