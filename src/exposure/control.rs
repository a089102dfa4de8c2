//! A bare FTP control connection for the exposure checks: one command, one
//! reply, with the exact reply code and text, over plain TCP, explicit TLS
//! (AUTH TLS) or implicit TLS. The crawler's session (suppaftp) hides what
//! the checks must see: 332 and ACCT, the text of a refused login, the
//! reply to AUTH TLS, PORT to another address, STOR of an empty file.
//!
//! Bounded against any server: every read waits at most the timeout, a
//! reply must be whole within [`REPLY_DEADLINE_FACTOR`] timeouts, and a
//! reply is at most [`MAX_REPLY_BYTES`].

use super::tls::{CertCapture, TlsSetup};
use crate::source::ftp::session::{describe_io, printable, REPLY_DEADLINE_FACTOR};
use std::io::{self, Read, Write};
use std::net::{IpAddr, Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::{Duration, Instant};
use suppaftp::rustls::{self, pki_types::ServerName, ClientConnection, StreamOwned};

/// Longest reply read (all its lines).
pub const MAX_REPLY_BYTES: usize = 64 * 1024;
/// A listing or file head must arrive within this many timeouts.
pub const TRANSFER_DEADLINE_FACTOR: u32 = 6;

/// How a control connection is secured.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Channel {
    Plain,
    /// AUTH TLS after the greeting.
    Explicit,
    /// TLS from the first byte (usually port 990).
    Implicit,
}

/// One reply: its code (0 when it had none) and its text, printable, the
/// lines joined with " | ".
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Reply {
    pub code: u32,
    pub text: String,
    /// The first line after the code, in wire form (one char per byte),
    /// for replies that carry a path (PWD's 257).
    pub wire: String,
}

impl Reply {
    pub fn positive(&self) -> bool {
        (200..300).contains(&self.code)
    }

    /// The reply as shown in reports: code and text, bounded.
    pub fn shown(&self) -> String {
        printable(&format!("{} {}", self.code, self.text), 160)
    }

    /// Whether the text speaks of TLS/SSL/encryption (a server saying
    /// TLS is required, or that anonymous users may not use it).
    pub fn mentions_tls(&self) -> bool {
        let t = self.text.to_ascii_lowercase();
        ["tls", "ssl", "secur", "encrypt", "auth "]
            .iter()
            .any(|w| t.contains(w))
    }
}

/// Why a command got no reply.
#[derive(Debug, Clone, thiserror::Error)]
pub enum ControlError {
    #[error("{0}")]
    Io(String),
    #[error("no complete reply within {0} s")]
    Late(u64),
    #[error("the server closed the connection")]
    Closed,
    #[error("not an FTP reply: {0}")]
    Garbage(String),
    #[error("TLS failed: {0}")]
    Tls(String),
}

impl From<io::Error> for ControlError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::UnexpectedEof => ControlError::Closed,
            _ => match e.get_ref().and_then(|i| i.downcast_ref::<rustls::Error>()) {
                Some(t) => ControlError::Tls(t.to_string()),
                None => ControlError::Io(describe_io(&e)),
            },
        }
    }
}

enum Conn {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Conn {
    fn tcp(&self) -> &TcpStream {
        match self {
            Conn::Plain(s) => s,
            Conn::Tls(s) => &s.sock,
        }
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Tls(s) => s.write(buf),
        }
    }
    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Tls(s) => s.flush(),
        }
    }
}

/// A data connection (plain or TLS), read or written whole.
pub struct Data(Conn);

impl Read for Data {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.0.read(buf)
    }
}

impl Data {
    /// Ends the transfer the way the protocol wants: a TLS close_notify
    /// (servers that check for it log an error otherwise), then FIN.
    pub fn close(mut self) {
        if let Conn::Tls(s) = &mut self.0 {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.0.tcp().shutdown(Shutdown::Write);
    }
}

pub struct Control {
    conn: Conn,
    buf: Vec<u8>,
    pub timeout: Duration,
    pub peer: SocketAddr,
    pub local: SocketAddr,
    /// The TLS set-up used for this connection (data connections share
    /// its session cache), once TLS is on.
    tls: Option<(Arc<TlsSetup>, ServerName<'static>)>,
    /// Data connections are protected (PROT P accepted).
    pub prot_private: bool,
}

impl Control {
    /// Connects. With [`Channel::Implicit`] the TLS handshake comes first;
    /// the greeting is read and returned in every case. The certificate
    /// chain the server presents goes to `tls`'s capture.
    pub fn open(
        addr: SocketAddr,
        channel: Channel,
        timeout: Duration,
        tls: &Arc<TlsSetup>,
        name: &ServerName<'static>,
    ) -> Result<(Control, Reply), ControlError> {
        let tcp = TcpStream::connect_timeout(&addr, timeout)?;
        tcp.set_read_timeout(Some(timeout))?;
        tcp.set_write_timeout(Some(timeout))?;
        let _ = tcp.set_nodelay(true);
        let local = tcp.local_addr()?;
        let mut c = Control {
            conn: Conn::Plain(tcp),
            buf: Vec::new(),
            timeout,
            peer: addr,
            local,
            tls: None,
            prot_private: false,
        };
        if channel == Channel::Implicit {
            c.start_tls(tls, name)?;
        }
        let greeting = c.read_reply()?;
        if channel == Channel::Explicit {
            let r = c.cmd("AUTH TLS")?;
            if r.code != 234 {
                return Err(ControlError::Tls(format!(
                    "the server refused AUTH TLS: {}",
                    r.shown()
                )));
            }
            c.start_tls(tls, name)?;
        }
        Ok((c, greeting))
    }

    /// Turns the connection into TLS (after a 234 to AUTH TLS, or at once
    /// for implicit TLS) and completes the handshake.
    pub fn start_tls(
        &mut self,
        tls: &Arc<TlsSetup>,
        name: &ServerName<'static>,
    ) -> Result<(), ControlError> {
        let tcp = self.conn.tcp().try_clone()?;
        let conn = ClientConnection::new(tls.config.clone(), name.clone())
            .map_err(|e| ControlError::Tls(e.to_string()))?;
        let mut stream = StreamOwned::new(conn, tcp);
        let deadline = Instant::now() + self.timeout * REPLY_DEADLINE_FACTOR;
        while stream.conn.is_handshaking() {
            if Instant::now() > deadline {
                return Err(ControlError::Tls(
                    "the handshake did not finish in time".into(),
                ));
            }
            stream
                .conn
                .complete_io(&mut stream.sock)
                .map_err(|e| match ControlError::from(e) {
                    ControlError::Closed => {
                        ControlError::Tls("the server closed the connection".into())
                    }
                    ControlError::Io(m) => ControlError::Tls(m),
                    other => other,
                })?;
        }
        self.conn = Conn::Tls(Box::new(stream));
        self.tls = Some((tls.clone(), name.clone()));
        Ok(())
    }

    pub fn is_tls(&self) -> bool {
        matches!(self.conn, Conn::Tls(_))
    }

    /// What the TLS handshake captured (the certificate chain).
    pub fn capture(&self) -> Option<&CertCapture> {
        self.tls.as_ref().map(|(t, _)| &*t.capture)
    }

    /// Sends one command line (no CR LF) and reads its reply.
    pub fn cmd(&mut self, line: &str) -> Result<Reply, ControlError> {
        self.send(line)?;
        self.read_reply()
    }

    /// Sends one command line, in wire form (paths as listed go back byte
    /// for byte; text typed by the user goes through `wire::from_text`).
    pub fn send(&mut self, line: &str) -> Result<(), ControlError> {
        if line.contains(['\r', '\n']) {
            return Err(ControlError::Io("a command with a line break".into()));
        }
        let mut bytes =
            crate::source::ftp::wire::to_bytes(line).unwrap_or_else(|| line.as_bytes().to_vec());
        bytes.extend_from_slice(b"\r\n");
        self.conn.write_all(&bytes)?;
        self.conn.flush()?;
        Ok(())
    }

    /// Reads one whole reply (all lines of a multi-line one).
    pub fn read_reply(&mut self) -> Result<Reply, ControlError> {
        let limit = self.timeout * REPLY_DEADLINE_FACTOR;
        let deadline = Instant::now() + limit;
        let mut lines: Vec<String> = Vec::new();
        let mut wire = String::new();
        let mut code: Option<[u8; 3]> = None;
        let mut total = 0usize;
        loop {
            let line = self.read_line(deadline, limit)?;
            total += line.len();
            if total > MAX_REPLY_BYTES {
                return Err(ControlError::Garbage(format!(
                    "a reply longer than {MAX_REPLY_BYTES} bytes"
                )));
            }
            let text = String::from_utf8_lossy(&line).into_owned();
            let head: Option<[u8; 3]> = line
                .get(..3)
                .filter(|c| c.iter().all(u8::is_ascii_digit))
                .map(|c| [c[0], c[1], c[2]]);
            match (code, head) {
                (None, None) => {
                    return Err(ControlError::Garbage(printable(&text, 80)));
                }
                (None, Some(c)) => {
                    code = Some(c);
                    let rest = line.get(3..).unwrap_or(&[]);
                    wire = crate::source::ftp::wire::from_bytes(rest.get(1..).unwrap_or(&[]));
                    lines.push(strip_code(&text));
                    if rest.first() != Some(&b'-') {
                        break;
                    }
                }
                (Some(c), Some(h)) if c == h && line.get(3) != Some(&b'-') => {
                    lines.push(strip_code(&text));
                    break;
                }
                (Some(_), _) => lines.push(strip_code(&text)),
            }
        }
        let code = code
            .and_then(|c| std::str::from_utf8(&c).ok()?.parse().ok())
            .unwrap_or(0);
        let joined: Vec<&str> = lines
            .iter()
            .map(|l| l.trim())
            .filter(|l| !l.is_empty())
            .collect();
        Ok(Reply {
            code,
            text: printable(&joined.join(" | "), 600),
            wire,
        })
    }

    fn read_line(&mut self, deadline: Instant, limit: Duration) -> Result<Vec<u8>, ControlError> {
        loop {
            if let Some(i) = memchr::memchr(b'\n', &self.buf) {
                let mut line: Vec<u8> = self.buf.drain(..=i).collect();
                while line.last().is_some_and(|b| *b == b'\n' || *b == b'\r') {
                    line.pop();
                }
                return Ok(line);
            }
            if self.buf.len() > MAX_REPLY_BYTES {
                return Err(ControlError::Garbage("a reply line without end".into()));
            }
            if Instant::now() > deadline {
                return Err(ControlError::Late(limit.as_secs()));
            }
            let mut chunk = [0u8; 4096];
            let n = self.conn.read(&mut chunk)?;
            if n == 0 {
                return Err(ControlError::Closed);
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
    }

    /// PBSZ 0 and PROT P on a TLS connection (data connections protected);
    /// `false` when the server refuses protected data connections.
    pub fn protect_data(&mut self) -> Result<bool, ControlError> {
        if !self.is_tls() {
            return Ok(false);
        }
        let _ = self.cmd("PBSZ 0")?;
        let r = self.cmd("PROT P")?;
        self.prot_private = r.positive();
        Ok(self.prot_private)
    }

    /// Opens a passive data connection: EPSV, or PASV where EPSV is
    /// refused; always to the control connection's peer, whatever address
    /// the reply names. The caller then sends the transfer command and
    /// calls [`Control::data_ready`].
    pub fn passive(&mut self) -> Result<Result<TcpStream, Reply>, ControlError> {
        let r = self.cmd("EPSV")?;
        let port = if r.code == 229 {
            epsv_port(&r.text)
        } else {
            if self.peer.is_ipv6() {
                return Ok(Err(r));
            }
            let r = self.cmd("PASV")?;
            if r.code != 227 {
                return Ok(Err(r));
            }
            pasv_port(&r.text)
        };
        let Some(port) = port else {
            return Err(ControlError::Garbage(format!(
                "a passive reply without a port: {}",
                r.shown()
            )));
        };
        let addr = SocketAddr::new(self.peer.ip(), port);
        let s = TcpStream::connect_timeout(&addr, self.timeout)?;
        s.set_read_timeout(Some(self.timeout))?;
        s.set_write_timeout(Some(self.timeout))?;
        Ok(Ok(s))
    }

    /// After a 150/125 to a transfer command: the data connection, with TLS
    /// when PROT P is on.
    pub fn data_ready(&self, s: TcpStream) -> Result<Data, ControlError> {
        match (&self.tls, self.prot_private) {
            (Some((tls, name)), true) => {
                let conn = ClientConnection::new(tls.config.clone(), name.clone())
                    .map_err(|e| ControlError::Tls(e.to_string()))?;
                let mut stream = StreamOwned::new(conn, s);
                while stream.conn.is_handshaking() {
                    stream.conn.complete_io(&mut stream.sock)?;
                }
                Ok(Data(Conn::Tls(Box::new(stream))))
            }
            _ => Ok(Data(Conn::Plain(s))),
        }
    }

    /// Runs a transfer command that sends us data (LIST, MLSD, RETR),
    /// handing at most `max` bytes to `sink`. `Ok(Err(reply))` when the
    /// server refused it.
    pub fn read_transfer(
        &mut self,
        command: &str,
        max: usize,
        sink: &mut Vec<u8>,
    ) -> Result<Result<(), Reply>, ControlError> {
        let s = match self.passive()? {
            Ok(s) => s,
            Err(r) => return Ok(Err(r)),
        };
        let r = self.cmd(command)?;
        if !matches!(r.code, 125 | 150) {
            return Ok(Err(r));
        }
        let mut data = self.data_ready(s)?;
        let mut chunk = [0u8; 8192];
        let mut cut = false;
        // Each read waits at most the timeout; the whole transfer at most
        // this long, however the server paces its bytes.
        let deadline = Instant::now() + self.timeout * TRANSFER_DEADLINE_FACTOR;
        loop {
            if sink.len() >= max || Instant::now() > deadline {
                cut = true;
                break;
            }
            match data.read(&mut chunk) {
                Ok(0) => break,
                Ok(n) => {
                    let keep = n.min(max - sink.len());
                    sink.extend_from_slice(&chunk[..keep]);
                }
                // A TLS data connection closed without close_notify.
                Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => break,
                Err(e) => return Err(e.into()),
            }
        }
        data.close();
        let end = self.read_reply()?;
        if cut || end.positive() || matches!(end.code, 426 | 450 | 451) {
            Ok(Ok(()))
        } else {
            Ok(Err(end))
        }
    }

    /// STOR of an empty file: `Ok(Ok(()))` when the server accepted and
    /// completed it.
    pub fn store_empty(&mut self, path: &str) -> Result<Result<(), Reply>, ControlError> {
        let _ = self.cmd("TYPE I")?;
        let s = match self.passive()? {
            Ok(s) => s,
            Err(r) => return Ok(Err(r)),
        };
        let r = self.cmd(&format!("STOR {path}"))?;
        if !matches!(r.code, 125 | 150) {
            drop(s);
            return Ok(Err(r));
        }
        self.data_ready(s)?.close();
        let end = self.read_reply()?;
        Ok(if end.positive() { Ok(()) } else { Err(end) })
    }

    /// QUIT, without waiting long for the answer.
    pub fn quit(mut self) {
        let _ = self
            .conn
            .tcp()
            .set_read_timeout(Some(Duration::from_millis(500)));
        let _ = self.cmd("QUIT");
        if let Conn::Tls(s) = &mut self.conn {
            s.conn.send_close_notify();
            let _ = s.flush();
        }
        let _ = self.conn.tcp().shutdown(Shutdown::Both);
    }
}

fn strip_code(line: &str) -> String {
    let rest = if line
        .get(..3)
        .is_some_and(|c| c.bytes().all(|b| b.is_ascii_digit()))
    {
        line.get(3..).unwrap_or("")
    } else {
        line
    };
    rest.strip_prefix(['-', ' ']).unwrap_or(rest).to_string()
}

/// The port of a 229 reply: `(|||6446|)`.
pub fn epsv_port(text: &str) -> Option<u16> {
    let open = text.find('(')?;
    let inner = &text[open + 1..];
    let close = inner.find(')')?;
    let inner = &inner[..close];
    let d = inner.chars().next()?;
    let parts: Vec<&str> = inner.split(d).collect();
    parts.get(3)?.parse().ok().filter(|p| *p > 0)
}

/// The port of a 227 reply: `(h1,h2,h3,h4,p1,p2)` (the address is not used).
pub fn pasv_port(text: &str) -> Option<u16> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let nums: Vec<u16> = text[start..]
        .split(|c: char| !c.is_ascii_digit())
        .filter(|s| !s.is_empty())
        .take(6)
        .map(|s| s.parse().ok())
        .collect::<Option<Vec<u16>>>()?;
    if nums.len() != 6 || nums[4] > 255 || nums[5] > 255 {
        return None;
    }
    Some(nums[4] * 256 + nums[5]).filter(|p| *p > 0)
}

/// `PORT` argument for an IPv4 address and port.
pub fn port_arg(ip: std::net::Ipv4Addr, port: u16) -> String {
    let o = ip.octets();
    format!(
        "{},{},{},{},{},{}",
        o[0],
        o[1],
        o[2],
        o[3],
        port >> 8,
        port & 0xff
    )
}

/// `EPRT` argument: `|1|a.b.c.d|port|` or `|2|v6|port|`.
pub fn eprt_arg(ip: IpAddr, port: u16) -> String {
    match ip {
        IpAddr::V4(v4) => format!("|1|{v4}|{port}|"),
        IpAddr::V6(v6) => format!("|2|{v6}|{port}|"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passive_replies() {
        assert_eq!(
            epsv_port("Entering Extended Passive Mode (|||6446|)"),
            Some(6446)
        );
        assert_eq!(epsv_port("ok (!!!21!)"), Some(21));
        assert_eq!(epsv_port("no port"), None);
        assert_eq!(
            pasv_port("Entering Passive Mode (10,0,0,5,200,10)."),
            Some(200 * 256 + 10)
        );
        assert_eq!(pasv_port("Entering Passive Mode (1,2,3,4,300,1)"), None);
        assert_eq!(pasv_port("Entering Passive Mode"), None);
        assert_eq!(
            port_arg("127.0.0.2".parse().unwrap(), 5001),
            "127,0,0,2,19,137"
        );
        assert_eq!(eprt_arg("::1".parse().unwrap(), 21), "|2|::1|21|");
    }

    #[test]
    fn replies_single_and_multi_line() {
        let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
        let addr = listener.local_addr().unwrap();
        std::thread::spawn(move || {
            let (mut s, _) = listener.accept().unwrap();
            s.write_all(
                b"220-Welcome\r\n220-\r\n 220 not the end\r\n220 ready\r\n331 Password\r\nhello\r\n",
            )
            .unwrap();
            std::thread::sleep(Duration::from_secs(2));
        });
        let tls = Arc::new(TlsSetup::new().unwrap());
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let (mut c, greeting) =
            Control::open(addr, Channel::Plain, Duration::from_secs(5), &tls, &name).unwrap();
        assert_eq!(greeting.code, 220);
        assert_eq!(greeting.text, "Welcome | 220 not the end | ready");
        let r = c.read_reply().unwrap();
        assert_eq!((r.code, r.text.as_str()), (331, "Password"));
        assert!(matches!(c.read_reply(), Err(ControlError::Garbage(_))));
    }
}
