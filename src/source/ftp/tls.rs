//! TLS for `ftps://`: the rustls client configuration (system roots, or
//! any certificate with `--insecure`).

use super::session::Securer;
use std::sync::Arc;
use suppaftp::TlsConnector;

/// suppaftp's rustls stream (it exports the connector, not the stream).
pub(super) type RustlsStream = <suppaftp::RustlsConnector as TlsConnector>::Stream;

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
    Arc::new(move |s: suppaftp::RustlsFtpStream| {
        // Each control connection gets its own session cache: servers
        // that require TLS session reuse on the data connection (vsftpd
        // require_ssl_reuse) refuse a session resumed from another
        // control connection, which a shared cache would hand out.
        let mut own = (*config).clone();
        own.resumption = suppaftp::rustls::client::Resumption::in_memory_sessions(32);
        s.into_secure(suppaftp::RustlsConnector::from(Arc::new(own)), &domain)
    })
}
