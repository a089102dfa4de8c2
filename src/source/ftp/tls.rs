//! TLS for `ftps://` and `ftpes://`: the rustls client configuration
//! (system roots, or any certificate with `--insecure`), and how each new
//! control connection is secured, explicitly or implicitly.

use super::session::{ImplicitOpener, Securer, SocketHook};
use std::net::TcpStream;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use suppaftp::TlsConnector;

type RustlsStream = super::session::RustlsTls;

/// The client configuration: the system's root certificates, or with
/// `insecure` any certificate (the handshake signature is still checked).
pub(super) fn tls_config(insecure: bool) -> Result<Arc<suppaftp::rustls::ClientConfig>, String> {
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

/// Explicit TLS for each new control connection: AUTH TLS, the handshake
/// (checked against `domain`), PBSZ 0 and PROT P.
pub(super) fn explicit_securer(
    config: Arc<suppaftp::rustls::ClientConfig>,
    domain: String,
) -> Securer<RustlsStream> {
    Arc::new(move |s: suppaftp::RustlsFtpStream| s.into_secure(own_sessions(&config), &domain))
}

/// Implicit TLS for each new control connection: the handshake right after
/// the TCP connection, then the greeting inside TLS. PBSZ 0 and PROT P
/// follow in `session::Connector::open`.
pub(super) fn implicit_opener(
    config: Arc<suppaftp::rustls::ClientConfig>,
    domain: String,
) -> ImplicitOpener<RustlsStream> {
    Arc::new(move |addr, hook| {
        let connector = Hooked {
            inner: own_sessions(&config),
            hook,
            control_seen: AtomicBool::new(false),
        };
        suppaftp::RustlsFtpStream::connect_secure_implicit(addr, connector, &domain)
    })
}

/// A connector with a session cache of its own: servers that require TLS
/// session reuse on the data connection (vsftpd require_ssl_reuse) refuse
/// a session resumed from another control connection, which a shared cache
/// would hand out.
fn own_sessions(config: &Arc<suppaftp::rustls::ClientConfig>) -> suppaftp::RustlsConnector {
    let mut own = (**config).clone();
    own.resumption = suppaftp::rustls::client::Resumption::in_memory_sessions(32);
    suppaftp::RustlsConnector::from(Arc::new(own))
}

/// Hands the control connection's socket to a hook before its handshake;
/// data connections (set up elsewhere) go straight through.
struct Hooked {
    inner: suppaftp::RustlsConnector,
    hook: SocketHook,
    control_seen: AtomicBool,
}

impl std::fmt::Debug for Hooked {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Hooked")
    }
}

impl TlsConnector for Hooked {
    type Stream = RustlsStream;

    fn connect(&self, domain: &str, stream: TcpStream) -> suppaftp::FtpResult<RustlsStream> {
        if !self.control_seen.swap(true, Ordering::SeqCst) {
            (self.hook)(&stream).map_err(suppaftp::FtpError::ConnectionError)?;
        }
        self.inner.connect(domain, stream)
    }
}
