//! TLS for the exposure checks: a client that completes any handshake
//! (an audit must see what a server presents, trusted or not) while it
//! captures the certificate chain, and the judgement of that certificate:
//! untrusted or self-signed, expired or not yet valid, for another name,
//! RSA key under 2048 bits, SHA-1 signature. The chain is checked against
//! the system's roots by rustls's own WebPKI verifier; the certificate's
//! fields are read with x509-parser.

use sha2::{Digest, Sha256};
use std::sync::{Arc, Mutex, OnceLock};
use suppaftp::rustls::{
    self,
    client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier},
    client::WebPkiServerVerifier,
    crypto::CryptoProvider,
    pki_types::{CertificateDer, ServerName, UnixTime},
    ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme,
};

/// The chain a server presented, and what the system's trust store said.
#[derive(Clone, Debug, Default)]
pub struct Captured {
    /// End-entity certificate first (DER).
    pub chain: Vec<Vec<u8>>,
    /// The WebPKI verdict on the chain and name (`None`: trusted).
    pub webpki_error: Option<rustls::Error>,
    /// The negotiated protocol version, e.g. "TLSv1_3".
    pub version: Option<String>,
}

/// Filled in by the first handshake of a [`TlsSetup`].
#[derive(Debug, Default)]
pub struct CertCapture(Mutex<Option<Captured>>);

impl CertCapture {
    pub fn get(&self) -> Option<Captured> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

/// One service's TLS client: its own session cache (data connections
/// resume the control connection's session, as vsftpd requires) and its
/// own capture.
pub struct TlsSetup {
    pub config: Arc<ClientConfig>,
    pub capture: Arc<CertCapture>,
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// The system's roots, loaded once per process.
fn roots() -> Arc<RootCertStore> {
    static ROOTS: OnceLock<Arc<RootCertStore>> = OnceLock::new();
    ROOTS
        .get_or_init(|| {
            let mut roots = RootCertStore::empty();
            for cert in rustls_native_certs::load_native_certs().certs {
                // A broken system certificate is skipped.
                let _ = roots.add(cert);
            }
            Arc::new(roots)
        })
        .clone()
}

impl TlsSetup {
    pub fn new() -> Result<TlsSetup, String> {
        let provider = provider();
        let webpki = WebPkiServerVerifier::builder_with_provider(roots(), provider.clone())
            .build()
            .ok();
        let capture = Arc::new(CertCapture::default());
        let verifier = Arc::new(Capturing {
            provider: provider.clone(),
            webpki,
            capture: capture.clone(),
        });
        let mut config = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(|e| format!("cannot set up TLS: {e}"))?
            .dangerous()
            .with_custom_certificate_verifier(verifier)
            .with_no_client_auth();
        config.resumption = rustls::client::Resumption::in_memory_sessions(16);
        Ok(TlsSetup {
            config: Arc::new(config),
            capture,
        })
    }
}

/// Accepts the server's certificate (still checking that the handshake is
/// signed by its key) and records the chain and the WebPKI verdict.
#[derive(Debug)]
struct Capturing {
    provider: Arc<CryptoProvider>,
    webpki: Option<Arc<WebPkiServerVerifier>>,
    capture: Arc<CertCapture>,
}

impl ServerCertVerifier for Capturing {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let mut slot = self.capture.0.lock().unwrap_or_else(|p| p.into_inner());
        if slot.is_none() {
            let webpki_error = match &self.webpki {
                Some(v) => v
                    .verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now)
                    .err(),
                None => Some(rustls::Error::General("no trust store".into())),
            };
            let mut chain = vec![end_entity.to_vec()];
            chain.extend(intermediates.iter().map(|c| c.to_vec()));
            *slot = Some(Captured {
                chain,
                webpki_error,
                version: None,
            });
        }
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// One thing wrong with a certificate.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum CertProblem {
    SelfSigned,
    Untrusted,
    Expired,
    NotYetValid,
    NameMismatch,
    WeakRsaKey,
    Sha1Signature,
}

impl CertProblem {
    pub fn rule(self) -> &'static str {
        match self {
            CertProblem::SelfSigned => "ftp-tls-cert-self-signed",
            CertProblem::Untrusted => "ftp-tls-cert-untrusted",
            CertProblem::Expired => "ftp-tls-cert-expired",
            CertProblem::NotYetValid => "ftp-tls-cert-not-yet-valid",
            CertProblem::NameMismatch => "ftp-tls-cert-name-mismatch",
            CertProblem::WeakRsaKey => "ftp-tls-cert-weak-key",
            CertProblem::Sha1Signature => "ftp-tls-cert-sha1",
        }
    }

    /// Short name, written in the `match` column.
    pub fn as_str(self) -> &'static str {
        match self {
            CertProblem::SelfSigned => "self-signed",
            CertProblem::Untrusted => "untrusted chain",
            CertProblem::Expired => "expired",
            CertProblem::NotYetValid => "not yet valid",
            CertProblem::NameMismatch => "name mismatch",
            CertProblem::WeakRsaKey => "RSA key under 2048 bits",
            CertProblem::Sha1Signature => "SHA-1 signature",
        }
    }
}

/// What a certificate says, and what is wrong with it.
#[derive(Clone, Debug, Default)]
pub struct CertReport {
    pub subject: String,
    pub issuer: String,
    pub not_before: String,
    pub not_after: String,
    /// SHA-256 of the DER, hex, colon-separated.
    pub sha256: String,
    pub key: String,
    pub signature: String,
    /// `(problem, detail)`, e.g. `(NameMismatch, "not valid for 10.0.0.5")`.
    pub problems: Vec<(CertProblem, String)>,
}

impl CertReport {
    /// The context column: the facts an administrator needs to find the
    /// certificate.
    pub fn context(&self, detail: &str) -> String {
        format!(
            "{detail}; subject: {}; issuer: {}; valid {} to {}; key: {}; signature: {}; SHA-256 {}",
            self.subject,
            self.issuer,
            self.not_before,
            self.not_after,
            self.key,
            self.signature,
            self.sha256
        )
    }
}

/// Judges the captured chain for a connection to `name`, at `now`
/// (seconds since the epoch). `None` when nothing parsable was captured.
pub fn judge(captured: &Captured, name: &ServerName<'_>, now: i64) -> Option<CertReport> {
    use x509_parser::prelude::*;
    let der = captured.chain.first()?;
    let (_, cert) = X509Certificate::from_der(der).ok()?;
    let mut r = CertReport {
        subject: cert.subject().to_string(),
        issuer: cert.issuer().to_string(),
        not_before: cert.validity().not_before.to_string(),
        not_after: cert.validity().not_after.to_string(),
        sha256: Sha256::digest(der)
            .iter()
            .map(|b| format!("{b:02X}"))
            .collect::<Vec<_>>()
            .join(":"),
        ..CertReport::default()
    };
    let self_signed = cert.subject().as_raw() == cert.issuer().as_raw();
    match &captured.webpki_error {
        None => {}
        Some(rustls::Error::InvalidCertificate(e)) => {
            use rustls::CertificateError as C;
            match e {
                // Dates and names are judged below, whatever the chain.
                C::Expired
                | C::ExpiredContext { .. }
                | C::NotValidYet
                | C::NotValidYetContext { .. }
                | C::NotValidForName
                | C::NotValidForNameContext { .. } => {}
                // Issued by itself: no authority vouches for it, whatever
                // else WebPKI says of it (a CA certificate used as a
                // server's, as `openssl req -x509` makes them).
                _ if self_signed => r.problems.push((
                    CertProblem::SelfSigned,
                    "self-signed: no trusted authority vouches for it".into(),
                )),
                C::UnknownIssuer => r.problems.push((
                    CertProblem::Untrusted,
                    "the chain does not lead to a trusted authority".into(),
                )),
                other => r.problems.push((
                    CertProblem::Untrusted,
                    format!(
                        "the chain is not trusted: {}",
                        rustls::Error::InvalidCertificate(other.clone())
                    ),
                )),
            }
        }
        Some(other) => r.problems.push((
            CertProblem::Untrusted,
            format!("the chain could not be checked: {other}"),
        )),
    }
    let validity = cert.validity();
    if now > validity.not_after.timestamp() {
        r.problems
            .push((CertProblem::Expired, format!("expired on {}", r.not_after)));
    } else if now < validity.not_before.timestamp() {
        r.problems.push((
            CertProblem::NotYetValid,
            format!("not valid before {}", r.not_before),
        ));
    }
    let der_cert = CertificateDer::from(der.as_slice());
    let name_ok = rustls::server::ParsedCertificate::try_from(&der_cert)
        .ok()
        .map(|p| rustls::client::verify_server_name(&p, name).is_ok());
    if name_ok == Some(false) {
        let no_san = matches!(cert.subject_alternative_name(), Ok(None));
        r.problems.push((
            CertProblem::NameMismatch,
            format!(
                "not issued for {}{}",
                name.to_str(),
                if no_san {
                    " (it has no subjectAltName; clients do not read the name in its CN)"
                } else {
                    ""
                }
            ),
        ));
    }
    match cert.public_key().parsed() {
        Ok(x509_parser::public_key::PublicKey::RSA(rsa)) => {
            let bits = rsa.key_size();
            r.key = format!("RSA {bits} bits");
            if bits < 2048 {
                r.problems.push((
                    CertProblem::WeakRsaKey,
                    format!("RSA key of {bits} bits (under 2048)"),
                ));
            }
        }
        Ok(x509_parser::public_key::PublicKey::EC(ec)) => {
            r.key = format!("EC {} bits", ec.key_size());
        }
        Ok(other) => r.key = format!("{:?}", std::mem::discriminant(&other)),
        Err(_) => r.key = "unreadable".into(),
    }
    let sig = cert.signature_algorithm.algorithm.to_id_string();
    let sha1 = [
        "1.2.840.113549.1.1.5", // sha1WithRSAEncryption
        "1.2.840.10045.4.1",    // ecdsa-with-SHA1
        "1.2.840.10040.4.3",    // dsa-with-sha1
        "1.3.14.3.2.29",        // sha1WithRSASignature (OIW)
    ];
    r.signature = match sig.as_str() {
        "1.2.840.113549.1.1.11" => "sha256WithRSAEncryption".into(),
        "1.2.840.113549.1.1.12" => "sha384WithRSAEncryption".into(),
        "1.2.840.113549.1.1.13" => "sha512WithRSAEncryption".into(),
        "1.2.840.10045.4.3.2" => "ecdsa-with-SHA256".into(),
        "1.2.840.10045.4.3.3" => "ecdsa-with-SHA384".into(),
        "1.3.101.112" => "Ed25519".into(),
        s if sha1.contains(&s) => "SHA-1".into(),
        s => s.to_string(),
    };
    // A self-signed root's own signature does not matter to trust; any
    // other SHA-1 signature can be forged.
    if sha1.contains(&sig.as_str()) {
        r.problems.push((
            CertProblem::Sha1Signature,
            "signed with SHA-1 (collisions can be forged)".into(),
        ));
    }
    r.problems.sort();
    r.problems.dedup_by_key(|(p, _)| *p);
    Some(r)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn now() -> i64 {
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs() as i64
    }

    fn untrusted() -> Option<rustls::Error> {
        Some(rustls::Error::InvalidCertificate(
            rustls::CertificateError::UnknownIssuer,
        ))
    }

    #[test]
    fn self_signed_for_another_name() {
        let ck = rcgen::generate_simple_self_signed(vec!["files.clinic.example".into()]).unwrap();
        let captured = Captured {
            chain: vec![ck.cert.der().to_vec()],
            webpki_error: untrusted(),
            version: None,
        };
        let name = ServerName::try_from("127.0.0.1").unwrap();
        let r = judge(&captured, &name, now()).unwrap();
        let problems: Vec<CertProblem> = r.problems.iter().map(|p| p.0).collect();
        assert_eq!(
            problems,
            [CertProblem::SelfSigned, CertProblem::NameMismatch],
            "{r:?}"
        );
        assert!(r.key.starts_with("EC "), "{}", r.key);
        assert_eq!(r.sha256.len(), 32 * 3 - 1);
        // Whatever WebPKI objects to (a CA certificate used by a server, as
        // `openssl req -x509` makes), one issued by itself is self-signed.
        let odd = Captured {
            webpki_error: Some(rustls::Error::InvalidCertificate(
                rustls::CertificateError::BadEncoding,
            )),
            ..captured.clone()
        };
        let r = judge(&odd, &name, now()).unwrap();
        assert_eq!(r.problems[0].0, CertProblem::SelfSigned);
        let ok_name = ServerName::try_from("files.clinic.example").unwrap();
        let r = judge(&captured, &ok_name, now()).unwrap();
        assert_eq!(r.problems.len(), 1);
        // Past its end date.
        let mut params = rcgen::CertificateParams::new(vec!["h".into()]).unwrap();
        params.not_before = rcgen::date_time_ymd(1999, 1, 1);
        params.not_after = rcgen::date_time_ymd(2001, 1, 1);
        let old = params
            .self_signed(&rcgen::KeyPair::generate().unwrap())
            .unwrap();
        let captured = Captured {
            chain: vec![old.der().to_vec()],
            webpki_error: untrusted(),
            version: None,
        };
        let r = judge(&captured, &ServerName::try_from("h").unwrap(), now()).unwrap();
        let problems: Vec<CertProblem> = r.problems.iter().map(|p| p.0).collect();
        assert_eq!(problems, [CertProblem::SelfSigned, CertProblem::Expired]);
        assert!(r.problems[1].1.contains("2001"), "{:?}", r.problems);
    }

    #[test]
    fn weak_rsa_and_sha1_are_named() {
        // openssl req -x509 -newkey rsa:1024 -sha1 -subj /CN=old-nas.example
        let der = include_bytes!("../../tests/data/certs/rsa1024-sha1.der");
        let captured = Captured {
            chain: vec![der.to_vec()],
            webpki_error: untrusted(),
            version: None,
        };
        let r = judge(
            &captured,
            &ServerName::try_from("old-nas.example").unwrap(),
            now(),
        )
        .unwrap();
        let problems: Vec<CertProblem> = r.problems.iter().map(|p| p.0).collect();
        assert_eq!(
            problems,
            [
                CertProblem::SelfSigned,
                CertProblem::NameMismatch,
                CertProblem::WeakRsaKey,
                CertProblem::Sha1Signature
            ],
            "{r:?}"
        );
        assert_eq!(r.key, "RSA 1024 bits");
        // The name is only in the CN, which clients no longer read.
        assert!(
            r.problems[1].1.contains("subjectAltName"),
            "{:?}",
            r.problems
        );
        assert!(r.subject.contains("CN=old-nas.example"), "{}", r.subject);
        let context = r.context("x");
        assert!(
            context.contains("SHA-256 ") && context.contains("valid "),
            "{context}"
        );
    }
}
