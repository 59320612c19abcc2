//! The same conformance-style exchange (an echo with a half-close, a ping-pong, and a read
//! deadline that fires and is then cleared) under several executors: the crate needs none of
//! its own.

mod common;

use std::net::Shutdown;
use std::time::{Duration, Instant};

use chanstream::{Conn, Error, Listener, Network};
use common::{pattern, tokio_runtime};
use futures::io::{AsyncReadExt, AsyncWriteExt};

const PING_PONGS: u32 = 200;

/// Serves one connection: echoes until end of stream, then closes its write side.
async fn server(listener: Listener) {
    let conn = listener.accept().await.unwrap();
    let (mut r, mut w) = (&conn, &conn);
    futures::io::copy(&mut r, &mut w).await.unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
}

/// Drives the exchange from the client side against [`server`]'s echo.
async fn client(net: Network, data: Vec<u8>) {
    let mut conn: Conn = net.connect("echo").await.unwrap();

    // Ping-pong: each 4-byte counter comes back before the next is sent.
    for i in 0..PING_PONGS {
        conn.write_all(&i.to_le_bytes()).await.unwrap();
        let mut b = [0u8; 4];
        conn.read_exact(&mut b).await.unwrap();
        assert_eq!(u32::from_le_bytes(b), i);
    }

    // A read deadline fires while nothing is in flight, then is cleared: nothing is lost.
    conn.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)));
    let err = conn.read(&mut [0u8; 1]).await.unwrap_err();
    assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
    conn.set_read_deadline(None);

    // Bulk echo with a half-close: every byte comes back, then end of stream.
    let send = async {
        (&conn).write_all(&data).await.unwrap();
        conn.shutdown(Shutdown::Write).unwrap();
    };
    let recv = async {
        let mut got = Vec::new();
        (&conn).read_to_end(&mut got).await.unwrap();
        got
    };
    let ((), got) = futures::join!(send, recv);
    assert!(got == data, "echoed bytes differ");
}

fn setup() -> (Network, Listener, Vec<u8>) {
    let net = Network::new();
    let listener = net.listener().buffer_size(4096).bind("echo").unwrap();
    (net, listener, pattern(11, 300_000))
}

#[test]
fn exchange_under_block_on() {
    let (net, listener, data) = setup();
    futures::executor::block_on(async {
        futures::join!(server(listener), client(net, data));
    });
}

#[test]
fn exchange_under_a_thread_pool() {
    use futures::task::SpawnExt;
    let (net, listener, data) = setup();
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(4)
        .create()
        .unwrap();
    let server = pool.spawn_with_handle(server(listener)).unwrap();
    let client = pool.spawn_with_handle(client(net, data)).unwrap();
    common::run(async {
        server.await;
        client.await;
    });
}

#[test]
fn exchange_under_smol() {
    let (net, listener, data) = setup();
    smol::block_on(async {
        let server = smol::spawn(server(listener));
        let client = smol::spawn(client(net, data));
        server.await;
        client.await;
    });
}

#[test]
fn exchange_under_async_std() {
    let (net, listener, data) = setup();
    async_std::task::block_on(async {
        let server = async_std::task::spawn(server(listener));
        let client = async_std::task::spawn(client(net, data));
        server.await;
        client.await;
    });
}

#[test]
fn exchange_under_tokio_multi_threaded() {
    let (net, listener, data) = setup();
    tokio_runtime().block_on(async {
        let server = tokio::spawn(server(listener));
        let client = tokio::spawn(client(net, data));
        server.await.unwrap();
        client.await.unwrap();
    });
}

#[test]
fn echo_through_tokio_util_compat() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_util::compat::FuturesAsyncReadCompatExt;

    let (net, listener, data) = setup();
    let got = tokio_runtime().block_on(async {
        let server = tokio::spawn(server(listener));
        let expected = data.clone();
        let conn = net.connect("echo").await.unwrap();
        let (mut rd, mut wr) = tokio::io::split(conn.compat());
        let send = tokio::spawn(async move {
            wr.write_all(&expected).await.unwrap();
            wr.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.unwrap();
        send.await.unwrap();
        server.await.unwrap();
        got
    });
    assert!(got == data);
}

/// With the `tokio` feature, `Conn` is a tokio stream itself: no compat wrapper.
#[cfg(feature = "tokio")]
#[test]
fn echo_through_the_tokio_feature() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};

    let (net, listener, data) = setup();
    let got = tokio_runtime().block_on(async {
        let server = tokio::spawn(async move {
            let mut conn = listener.accept().await.unwrap();
            let mut buf = vec![0u8; 8192];
            loop {
                let n = tokio::io::AsyncReadExt::read(&mut conn, &mut buf)
                    .await
                    .unwrap();
                if n == 0 {
                    break;
                }
                tokio::io::AsyncWriteExt::write_all(&mut conn, &buf[..n])
                    .await
                    .unwrap();
            }
            tokio::io::AsyncWriteExt::shutdown(&mut conn).await.unwrap();
        });
        let conn = net.connect("echo").await.unwrap();
        let (mut rd, mut wr) = tokio::io::split(conn);
        let expected = data.clone();
        let send = tokio::spawn(async move {
            wr.write_all(&expected).await.unwrap();
            wr.shutdown().await.unwrap();
        });
        let mut got = Vec::new();
        rd.read_to_end(&mut got).await.unwrap();
        send.await.unwrap();
        server.await.unwrap();
        got
    });
    assert!(got == data);
}
