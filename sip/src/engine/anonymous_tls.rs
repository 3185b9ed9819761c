//! `tls_anonymous_enable`: TLS without checking the server's certificate,
//! only when the page asks for it (and with a warning in the log).
//!
//! rsipstack gap: its transport layer dials TLS with no custom verifier, so
//! the connection is dialled here, with a verifier that accepts any
//! certificate, and handed to the transport layer's connection cache, where
//! the REGISTER and every later request find it.

use std::sync::Arc;

use rsipstack::transport::tls::TlsConnection;
use rsipstack::transport::{SipAddr, SipConnection, TlsConfig, TransportLayer};
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, SignatureScheme};

#[derive(Debug)]
struct AcceptAnyCertificate;

impl ServerCertVerifier for AcceptAnyCertificate {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp_response: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        // The certificate is not trusted, but the handshake is still checked.
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
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
            &rustls::crypto::ring::default_provider().signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        rustls::crypto::ring::default_provider()
            .signature_verification_algorithms
            .supported_schemes()
    }
}

/// Dials `target` over TLS without verifying its certificate and caches the
/// connection in `transport`.
pub async fn dial(transport: &TransportLayer, target: &SipAddr) -> Result<(), String> {
    let verifier: Arc<dyn ServerCertVerifier> = Arc::new(AcceptAnyCertificate);
    let connection =
        TlsConnection::connect(target, Some(&TlsConfig::default()), Some(verifier), None)
            .await
            .map_err(|e| format!("TLS to {target}: {e}"))?;
    transport.add_connection(SipConnection::Tls(connection));
    Ok(())
}
