//! `wss://` on the page ports, for deployments whose pages must not open
//! plain `ws://` (`[api] tls_cert` / `tls_key`, PEM files the administrator
//! provides). Plain `ws://` stays available on the same port: the first byte
//! a client sends tells a TLS handshake (a record of type 22) from an HTTP
//! request, so pages served over http and https share the ports the SDK
//! already knows.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::Listener;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::ServerConfig;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::server::TlsStream;
use tokio_rustls::TlsAcceptor;
use tokio_util::either::Either;

/// A TLS record starts with its content type; 22 is a handshake.
const TLS_HANDSHAKE: u8 = 0x16;
/// A client that connects and says nothing, or never finishes its
/// handshake, is dropped after this long.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// Reads the certificate chain and key; the error names the file and why.
pub fn server_config(cert: &Path, key: &Path) -> Result<Arc<ServerConfig>, String> {
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|certs| certs.collect())
        .map_err(|e| format!("[api] tls_cert {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "[api] tls_cert {}: no certificate in it",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("[api] tls_key {}: {e}", key.display()))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let mut config = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("[api] tls_cert and tls_key do not make a certificate: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(Arc::new(config))
}

pub type PageStream = Either<TcpStream, TlsStream<TcpStream>>;

/// The listener of a page port: plain TCP, or plain and TLS side by side.
pub struct PageListener {
    local: SocketAddr,
    inner: Inner,
}

enum Inner {
    Plain(TcpListener),
    /// Connections told apart (and TLS ones handshaken) by a task each, so
    /// a slow client never holds up the others.
    Sorted(mpsc::Receiver<(PageStream, SocketAddr)>),
}

impl PageListener {
    pub async fn bind(addr: SocketAddr, tls: Option<Arc<ServerConfig>>) -> std::io::Result<Self> {
        let tcp = TcpListener::bind(addr).await?;
        let local = tcp.local_addr()?;
        let inner = match tls {
            None => Inner::Plain(tcp),
            Some(config) => {
                let (tx, rx) = mpsc::channel(64);
                tokio::spawn(sort_connections(tcp, TlsAcceptor::from(config), tx));
                Inner::Sorted(rx)
            }
        };
        Ok(Self { local, inner })
    }
}

/// A response or event is one small write the page waits for: no Nagle.
fn no_delay(tcp: &TcpStream) {
    if let Err(e) = tcp.set_nodelay(true) {
        tracing::debug!("TCP_NODELAY not set on a page connection: {e}");
    }
}

async fn sort_connections(
    tcp: TcpListener,
    acceptor: TlsAcceptor,
    tx: mpsc::Sender<(PageStream, SocketAddr)>,
) {
    loop {
        let accepted = tokio::select! {
            a = tcp.accept() => a,
            () = tx.closed() => return,
        };
        let (stream, peer) = match accepted {
            Ok(a) => a,
            Err(e) => {
                tracing::debug!("accepting a page connection failed: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        no_delay(&stream);
        let (tx, acceptor) = (tx.clone(), acceptor.clone());
        tokio::spawn(async move {
            match tokio::time::timeout(HANDSHAKE_TIMEOUT, sort(stream, &acceptor)).await {
                Ok(Ok(io)) => {
                    let _ = tx.send((io, peer)).await;
                }
                Ok(Err(e)) => tracing::debug!(%peer, "page connection dropped: {e}"),
                Err(_) => {
                    tracing::debug!(%peer, "page connection dropped: nothing in {HANDSHAKE_TIMEOUT:?}")
                }
            }
        });
    }
}

async fn sort(stream: TcpStream, acceptor: &TlsAcceptor) -> std::io::Result<PageStream> {
    let mut first = [0u8; 1];
    if stream.peek(&mut first).await? == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    if first[0] == TLS_HANDSHAKE {
        Ok(Either::Right(acceptor.accept(stream).await?))
    } else {
        Ok(Either::Left(stream))
    }
}

impl Listener for PageListener {
    type Io = PageStream;
    type Addr = SocketAddr;

    async fn accept(&mut self) -> (Self::Io, Self::Addr) {
        match &mut self.inner {
            Inner::Plain(tcp) => {
                // axum's own accept loop (it retries failed accepts).
                let (stream, peer) = Listener::accept(tcp).await;
                no_delay(&stream);
                (Either::Left(stream), peer)
            }
            Inner::Sorted(rx) => match rx.recv().await {
                Some(accepted) => accepted,
                None => std::future::pending().await,
            },
        }
    }

    fn local_addr(&self) -> std::io::Result<Self::Addr> {
        Ok(self.local)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn missing_or_bad_files_are_named() {
        let dir = tempfile::tempdir().unwrap();
        let cert = dir.path().join("cert.pem");
        let key = dir.path().join("key.pem");
        let err = server_config(&cert, &key).unwrap_err();
        assert!(
            err.contains("tls_cert") && err.contains("cert.pem"),
            "{err}"
        );
        std::fs::write(&cert, "not a certificate\n").unwrap();
        let err = server_config(&cert, &key).unwrap_err();
        assert!(err.contains("no certificate"), "{err}");
    }

    #[tokio::test]
    async fn a_plain_client_is_served_on_a_port_that_also_takes_tls() {
        // No certificate is needed to see that a plain request is not taken
        // for a handshake: the TLS side is never reached.
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let resolver = Arc::new(rustls::server::ResolvesServerCertUsingSni::new());
        let config = ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_cert_resolver(resolver);
        let mut listener =
            PageListener::bind("127.0.0.1:0".parse().unwrap(), Some(Arc::new(config)))
                .await
                .unwrap();
        let addr = listener.local_addr().unwrap();
        let client = tokio::spawn(async move {
            let mut s = TcpStream::connect(addr).await.unwrap();
            s.write_all(b"GET / HTTP/1.1\r\n\r\n").await.unwrap();
            let mut reply = [0u8; 2];
            s.read_exact(&mut reply).await.unwrap();
            reply
        });
        let (io, _) = listener.accept().await;
        let Either::Left(mut plain) = io else {
            panic!("a plain request was taken for TLS")
        };
        let mut got = [0u8; 3];
        plain.read_exact(&mut got).await.unwrap();
        assert_eq!(&got, b"GET");
        plain.write_all(b"ok").await.unwrap();
        assert_eq!(&client.await.unwrap(), b"ok");
    }
}
