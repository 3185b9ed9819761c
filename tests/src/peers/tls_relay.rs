//! A TLS end in front of a server: the user agent's TLS connection ends
//! here (with a certificate it trusts, Kamailio's), and what it carries goes
//! on in plain TCP to the server and back. Bytes can be put on the way to
//! the user agent as if the server had sent them: a hostile or broken server
//! on a TLS flow, which a recording relay (encrypted bytes only) cannot be.

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

/// One TLS connection from the user agent.
#[derive(Debug, Clone, Default)]
pub struct Flow {
    /// Plain bytes the user agent sent (decrypted), in order.
    pub from_client: Vec<u8>,
    /// The user agent closed its side.
    pub client_closed: bool,
}

type Flows = Arc<Mutex<Vec<(Flow, mpsc::UnboundedSender<Vec<u8>>)>>>;

pub struct TlsRelay {
    pub port: u16,
    flows: Flows,
    accept: tokio::task::JoinHandle<()>,
}

impl TlsRelay {
    /// Listens on a free port of 127.0.0.1 with `cert`/`key` (PEM) and
    /// relays every connection, decrypted, to `target` over TCP.
    pub async fn start(target: SocketAddr, cert: &Path, key: &Path) -> std::io::Result<Self> {
        let certs = CertificateDer::pem_file_iter(cert)
            .and_then(|c| c.collect::<Result<Vec<_>, _>>())
            .map_err(std::io::Error::other)?;
        let key = PrivateKeyDer::from_pem_file(key).map_err(std::io::Error::other)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(std::io::Error::other)?
            .with_no_client_auth()
            .with_single_cert(certs, key)
            .map_err(std::io::Error::other)?;
        let acceptor = TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let port = listener.local_addr()?.port();
        let flows: Flows = Arc::default();
        let all = flows.clone();
        let accept = tokio::spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    continue;
                };
                let Ok(server) = TcpStream::connect(target).await else {
                    continue;
                };
                let (tx, rx) = mpsc::unbounded_channel();
                let index = match all.lock() {
                    Ok(mut f) => {
                        f.push((Flow::default(), tx));
                        f.len() - 1
                    }
                    Err(_) => continue,
                };
                tokio::spawn(relay(tls, server, rx, all.clone(), index));
            }
        });
        Ok(Self {
            port,
            flows,
            accept,
        })
    }

    /// Puts `bytes` on the latest flow towards the user agent.
    pub fn send_to_client(&self, bytes: &[u8]) -> std::io::Result<()> {
        let flows = self
            .flows
            .lock()
            .map_err(|_| std::io::Error::other("relay poisoned"))?;
        let (_, tx) = flows
            .last()
            .ok_or_else(|| std::io::Error::other("no connection relayed yet"))?;
        tx.send(bytes.to_vec())
            .map_err(|_| std::io::Error::other("that flow has ended"))
    }

    /// Every flow so far, in the order the user agent opened them.
    pub fn flows(&self) -> Vec<Flow> {
        self.flows
            .lock()
            .map(|f| f.iter().map(|(flow, _)| flow.clone()).collect())
            .unwrap_or_default()
    }
}

impl Drop for TlsRelay {
    fn drop(&mut self) {
        self.accept.abort();
    }
}

/// Copies both ways until either side ends; what the server sends and
/// what the test injects go to the user agent in the order they come.
async fn relay(
    tls: tokio_rustls::server::TlsStream<TcpStream>,
    server: TcpStream,
    mut inject: mpsc::UnboundedReceiver<Vec<u8>>,
    flows: Flows,
    index: usize,
) {
    let (mut client_rd, mut client_wr) = tokio::io::split(tls);
    let (mut server_rd, mut server_wr) = server.into_split();
    let record = flows.clone();
    let upstream = tokio::spawn(async move {
        let mut buf = vec![0u8; 16384];
        loop {
            match client_rd.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if let Ok(mut f) = record.lock() {
                        f[index].0.from_client.extend_from_slice(&buf[..n]);
                    }
                    if server_wr.write_all(&buf[..n]).await.is_err() {
                        break;
                    }
                }
            }
        }
        if let Ok(mut f) = record.lock() {
            f[index].0.client_closed = true;
        }
        let _ = server_wr.shutdown().await;
    });
    let mut buf = vec![0u8; 16384];
    loop {
        tokio::select! {
            read = server_rd.read(&mut buf) => match read {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if write(&mut client_wr, &buf[..n]).await.is_err() {
                        break;
                    }
                }
            },
            Some(bytes) = inject.recv() => {
                if write(&mut client_wr, &bytes).await.is_err() {
                    break;
                }
            }
        }
        if upstream.is_finished() {
            break;
        }
    }
    let _ = client_wr.shutdown().await;
    let _ = upstream.await;
}

async fn write(to: &mut (impl AsyncWriteExt + Unpin), bytes: &[u8]) -> std::io::Result<()> {
    to.write_all(bytes).await?;
    to.flush().await
}
