//! The same echo exchange under several executors: the crate needs none of its own.

mod common;

use std::net::Shutdown;

use chanstream::{Conn, Listener, Network};
use common::pattern;
use futures::io::{AsyncReadExt, AsyncWriteExt};

/// Serves one connection: echoes until end of stream, then closes.
async fn echo_server(listener: Listener) {
    let conn = listener.accept().await.unwrap();
    let (mut r, mut w) = (&conn, &conn);
    futures::io::copy(&mut r, &mut w).await.unwrap();
    conn.shutdown(Shutdown::Write).unwrap();
}

/// Sends `data`, half-closes, and returns everything echoed back.
async fn echo_client(net: Network, data: Vec<u8>) -> Vec<u8> {
    let conn = net.connect("echo").await.unwrap();
    let send = async {
        (&conn).write_all(&data).await.unwrap();
        conn.shutdown(Shutdown::Write).unwrap();
    };
    let recv = async {
        let mut got = Vec::new();
        (&conn).read_to_end(&mut got).await.unwrap();
        got
    };
    futures::join!(send, recv).1
}

fn setup() -> (Network, Listener, Vec<u8>) {
    let net = Network::new();
    let listener = net.listener().buffer_size(4096).bind("echo").unwrap();
    (net, listener, pattern(11, 300_000))
}

#[test]
fn echo_under_block_on() {
    let (net, listener, data) = setup();
    let got = futures::executor::block_on(async {
        futures::join!(echo_server(listener), echo_client(net, data.clone())).1
    });
    assert!(got == data);
}

#[test]
fn echo_under_a_thread_pool() {
    use futures::task::SpawnExt;
    let (net, listener, data) = setup();
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(4)
        .create()
        .unwrap();
    let server = pool.spawn_with_handle(echo_server(listener)).unwrap();
    let client = pool
        .spawn_with_handle(echo_client(net, data.clone()))
        .unwrap();
    let got = common::run(async {
        server.await;
        client.await
    });
    assert!(got == data);
}

#[test]
fn echo_under_smol() {
    let (net, listener, data) = setup();
    let got = smol::block_on(async {
        let server = smol::spawn(echo_server(listener));
        let client = smol::spawn(echo_client(net, data.clone()));
        server.await;
        client.await
    });
    assert!(got == data);
}

#[test]
fn echo_under_tokio_through_compat() {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio_util::compat::FuturesAsyncReadCompatExt;

    let (net, listener, data) = setup();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let got = rt.block_on(async {
        let server = tokio::spawn(async move {
            let conn = listener.accept().await.unwrap();
            let mut io = conn.compat();
            let mut buf = vec![0u8; 8192];
            loop {
                let n = io.read(&mut buf).await.unwrap();
                if n == 0 {
                    break;
                }
                io.write_all(&buf[..n]).await.unwrap();
            }
            io.shutdown().await.unwrap();
        });
        let expected = data.clone();
        let client = tokio::spawn(async move {
            let conn: Conn = net.connect("echo").await.unwrap();
            let (mut rd, mut wr) = tokio::io::split(conn.compat());
            let send = tokio::spawn(async move {
                wr.write_all(&expected).await.unwrap();
                wr.shutdown().await.unwrap();
            });
            let mut got = Vec::new();
            rd.read_to_end(&mut got).await.unwrap();
            send.await.unwrap();
            got
        });
        server.await.unwrap();
        client.await.unwrap()
    });
    assert!(got == data);
}
