//! An implicit-TLS FTP server for the tests: a TLS-terminating proxy in
//! front of libunftp's explicit FTPS (libunftp has no implicit TLS).
//!
//! Each client connection is met with the TLS handshake at once, as an
//! implicit server does (port 990 style); the proxy then opens a control
//! connection to libunftp, reads its plain greeting, secures it with AUTH
//! TLS, and passes the greeting and everything after it on, decrypted and
//! encrypted again. Data connections go straight to libunftp: the client
//! connects to the port EPSV/PASV names on the control connection's peer
//! (127.0.0.1, libunftp's address too), with TLS since PROT P reaches
//! libunftp through the proxy.

use std::io::{ErrorKind, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::thread;
use std::time::Duration;
use suppaftp::rustls::pki_types::pem::PemObject;
use suppaftp::rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use suppaftp::rustls::{self, ClientConfig, RootCertStore, ServerConfig};

/// Starts the proxy on 127.0.0.1 in front of libunftp's FTPS port
/// `upstream`, serving the certificate and key (PEM) libunftp uses too.
/// Returns its port and the number of connections it has accepted.
pub fn start(upstream: u16, (cert, key): (&Path, &Path)) -> (u16, Arc<AtomicUsize>) {
    let cert_der = CertificateDer::from_pem_slice(&std::fs::read(cert).unwrap()).unwrap();
    let key_der = PrivateKeyDer::from_pem_slice(&std::fs::read(key).unwrap()).unwrap();
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert_der.clone()], key_der)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert_der).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    let (server, client) = (Arc::new(server), Arc::new(client));
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let accepted = Arc::new(AtomicUsize::new(0));
    let count = accepted.clone();
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            count.fetch_add(1, Ordering::SeqCst);
            let (server, client) = (server.clone(), client.clone());
            thread::spawn(move || {
                let _ = serve(conn, upstream, server, client);
            });
        }
    });
    (port, accepted)
}

fn serve(
    conn: TcpStream,
    upstream: u16,
    server: Arc<ServerConfig>,
    client: Arc<ClientConfig>,
) -> std::io::Result<()> {
    let setup = Some(Duration::from_secs(10));
    conn.set_read_timeout(setup)?;
    // The handshake first: nothing is sent before the client's hello.
    let mut down = rustls::StreamOwned::new(
        rustls::ServerConnection::new(server).map_err(std::io::Error::other)?,
        conn,
    );
    while down.conn.is_handshaking() {
        down.conn.complete_io(&mut down.sock)?;
    }
    let up_sock = TcpStream::connect(("127.0.0.1", upstream))?;
    up_sock.set_read_timeout(setup)?;
    let mut plain = up_sock.try_clone()?;
    let greeting = read_reply(&mut plain)?;
    plain.write_all(b"AUTH TLS\r\n")?;
    if !read_reply(&mut plain)?.starts_with(b"234") {
        return Err(std::io::Error::other("libunftp refused AUTH TLS"));
    }
    let name = ServerName::try_from("127.0.0.1").map_err(std::io::Error::other)?;
    let mut up = rustls::StreamOwned::new(
        rustls::ClientConnection::new(client, name).map_err(std::io::Error::other)?,
        up_sock,
    );
    down.write_all(&greeting)?;
    down.flush()?;
    // Both ways on one thread (a TLS stream cannot be split): short read
    // timeouts let each side be polled in turn.
    let poll = Some(Duration::from_millis(10));
    down.sock.set_read_timeout(poll)?;
    up.sock.set_read_timeout(poll)?;
    let mut buf = [0u8; 16 * 1024];
    loop {
        let mut idle = true;
        for (from, to) in [(0, 1), (1, 0)] {
            let read = if from == 0 {
                down.read(&mut buf)
            } else {
                up.read(&mut buf)
            };
            match read {
                Ok(0) => {
                    let _ = down.sock.shutdown(std::net::Shutdown::Both);
                    let _ = up.sock.shutdown(std::net::Shutdown::Both);
                    return Ok(());
                }
                Ok(n) => {
                    idle = false;
                    if to == 1 {
                        up.write_all(&buf[..n])?;
                        up.flush()?;
                    } else {
                        down.write_all(&buf[..n])?;
                        down.flush()?;
                    }
                }
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                Err(e) => return Err(e),
            }
        }
        if idle {
            thread::yield_now();
        }
    }
}

/// One whole reply (its last line is `NNN text`), in plain text.
fn read_reply(s: &mut TcpStream) -> std::io::Result<Vec<u8>> {
    let mut all = Vec::new();
    let mut line = Vec::new();
    let mut byte = [0u8; 1];
    loop {
        if s.read(&mut byte)? == 0 {
            return Err(ErrorKind::UnexpectedEof.into());
        }
        line.push(byte[0]);
        if byte[0] == b'\n' {
            all.extend_from_slice(&line);
            let last =
                line.len() >= 4 && line[..3].iter().all(u8::is_ascii_digit) && line[3] == b' ';
            if last {
                return Ok(all);
            }
            line.clear();
        }
    }
}
