//! TLS 1.3 (`futures-rustls`, ring provider) over chanstream, with a certificate generated on the
//! spot: handshake, one request and reply, close_notify. No runtime: plain `block_on`.
//!
//! Run it with `cargo run --example tls`.

use std::sync::Arc;
use std::time::Instant;

use chanstream::Network;
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures_rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer, ServerName};
use futures_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
use futures_rustls::{TlsAcceptor, TlsConnector};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

fn configs() -> Result<(TlsAcceptor, TlsConnector), BoxError> {
    let key = rcgen::generate_simple_self_signed(vec!["tls.example".to_string()])?;
    let cert = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private)?;
    let mut roots = RootCertStore::empty();
    roots.add(cert)?;
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(&[&rustls::version::TLS13])?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok((
        TlsAcceptor::from(Arc::new(server)),
        TlsConnector::from(Arc::new(client)),
    ))
}

fn main() -> Result<(), BoxError> {
    let (acceptor, connector) = configs()?;
    let net = Network::new();
    let listener = net.bind("tls.example")?;
    let started = Instant::now();
    futures::executor::block_on(async {
        let server = async {
            let mut tls = acceptor.accept(listener.accept().await?).await?;
            let (_, session) = tls.get_ref();
            println!(
                "server: {:?} with {:?}",
                session.protocol_version().unwrap(),
                session.negotiated_cipher_suite().unwrap().suite()
            );
            let mut request = String::new();
            tls.read_to_string(&mut request).await?; // until the client's close_notify
            println!("server: received {request:?}");
            tls.write_all(request.to_uppercase().as_bytes()).await?;
            tls.close().await?;
            Ok::<_, BoxError>(())
        };
        let client = async {
            let conn = net.connect("tls.example").await?;
            let name = ServerName::try_from("tls.example")?;
            let mut tls = connector.connect(name, conn).await?;
            tls.write_all(b"secret hello").await?;
            // Half-close: close_notify, while the reply can still be read.
            tls.get_mut().1.send_close_notify();
            tls.flush().await?;
            let mut reply = String::new();
            tls.read_to_string(&mut reply).await?;
            println!("client: received {reply:?}, then close_notify");
            Ok::<_, BoxError>(())
        };
        futures::try_join!(server, client)
    })?;
    println!("done in {:?}", started.elapsed());
    Ok(())
}
