//! TLS 1.3 (`futures-rustls`, ring provider) over a connection, with a certificate generated at
//! test time: handshake, 1 MiB each way, close_notify, then end of stream.

mod common;

use chanstream::Network;
use common::{pattern, run};
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use futures_rustls::pki_types::ServerName;
use futures_rustls::rustls;
use futures_rustls::{TlsAcceptor, TlsConnector};

const MIB: usize = 1 << 20;

fn configs() -> (TlsAcceptor, TlsConnector) {
    common::tls_configs(&[&rustls::version::TLS13])
}

/// Sends `out` while receiving everything the peer sends until its close_notify.
async fn exchange<S: AsyncRead + AsyncWrite + Unpin>(tls: S, out: &[u8]) -> Vec<u8> {
    let (mut rd, mut wr) = tls.split();
    let send = async {
        wr.write_all(out).await.unwrap();
        wr.close().await.unwrap(); // sends close_notify
    };
    let recv = async {
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.unwrap(); // ends cleanly at the peer's close_notify
        got
    };
    futures::join!(send, recv).1
}

#[test]
fn tls13_handshake_then_a_mebibyte_each_way_then_close_notify() {
    let (acceptor, connector) = configs();
    let net = Network::new();
    let listener = net.bind("tls.test").unwrap();
    let to_server = pattern(1, MIB);
    let to_client = pattern(2, MIB);
    run(async {
        let server = async {
            let conn = listener.accept().await.unwrap();
            let tls = acceptor.accept(conn).await.unwrap();
            assert_eq!(
                tls.get_ref().1.protocol_version(),
                Some(rustls::ProtocolVersion::TLSv1_3)
            );
            exchange(tls, &to_client).await
        };
        let client = async {
            let conn = net.connect("tls.test").await.unwrap();
            let name = ServerName::try_from("tls.test").unwrap();
            let tls = connector.connect(name, conn).await.unwrap();
            exchange(tls, &to_server).await
        };
        let (server_got, client_got) = futures::join!(server, client);
        assert!(server_got == to_server, "server received other bytes");
        assert!(client_got == to_client, "client received other bytes");
    });
}

#[test]
fn tls_handshake_fails_cleanly_for_the_wrong_name() {
    let (acceptor, connector) = configs();
    let net = Network::new();
    let listener = net.bind("tls.test").unwrap();
    run(async {
        let server = async {
            let conn = listener.accept().await.unwrap();
            assert!(acceptor.accept(conn).await.is_err());
        };
        let client = async {
            let conn = net.connect("tls.test").await.unwrap();
            let name = ServerName::try_from("other.test").unwrap();
            assert!(connector.connect(name, conn).await.is_err());
        };
        futures::join!(server, client);
    });
}
