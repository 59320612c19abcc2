//! hyper 1.x with the `hyper` feature: hyper's `rt::Read`/`rt::Write` on `Conn` directly, so a
//! hyper server and client run with no tokio runtime, under smol and `block_on`, with no
//! adapter type.
#![cfg(feature = "hyper")]

mod common;

use std::convert::Infallible;

use chanstream::{Conn, Listener, Network};
use futures::future::FutureExt;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::service::service_fn;
use hyper::{Request, Response};

/// Answers `<method> <path> <body length>`.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let head = format!("{} {}", req.method(), req.uri().path());
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{head} {}",
        body.len()
    )))))
}

/// Serves one connection with hyper's HTTP/1.1 server.
async fn serve_one(conn: Conn) {
    hyper::server::conn::http1::Builder::new()
        .serve_connection(conn, service_fn(handle))
        .await
        .unwrap();
}

/// Sends `n` requests on one keep-alive connection over `conn` and checks each reply; the
/// connection task runs next to the requests in the same future.
async fn requests(conn: Conn, n: usize) {
    let (mut sender, connection) = hyper::client::conn::http1::handshake(conn).await.unwrap();
    let connection = connection.fuse();
    let requests = async move {
        for i in 0..n {
            let body = vec![b'x'; i * 1000];
            let req = Request::post(format!("http://svc/item/{i}"))
                .header("host", "svc")
                .body(Full::new(Bytes::from(body)))
                .unwrap();
            sender.ready().await.unwrap();
            let resp = sender.send_request(req).await.unwrap();
            assert_eq!(resp.status(), 200);
            let got = resp.into_body().collect().await.unwrap().to_bytes();
            assert_eq!(got, format!("POST /item/{i} {}", i * 1000).as_bytes());
        }
        // Dropping the sender ends the connection.
    }
    .fuse();
    futures::pin_mut!(connection, requests);
    loop {
        futures::select! {
            () = requests => {},
            done = connection => { done.unwrap(); break; }
        }
    }
}

fn pair(net: &Network, listener: &Listener) -> (Conn, Conn) {
    futures::executor::block_on(async {
        futures::try_join!(
            net.connect(&listener.local_addr().to_string()),
            listener.accept()
        )
    })
    .unwrap()
}

#[test]
fn a_hyper_server_and_client_run_under_block_on_without_tokio() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (client, server) = pair(&net, &listener);
    futures::executor::block_on(async {
        futures::join!(serve_one(server), requests(client, 20));
    });
}

#[test]
fn a_hyper_server_and_many_clients_run_under_smol_without_tokio() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    smol::block_on(async {
        let server = smol::spawn(async move {
            for _ in 0..16 {
                let conn = listener.accept().await.unwrap();
                smol::spawn(serve_one(conn)).detach();
            }
        });
        let clients: Vec<_> = (0..16)
            .map(|_| {
                let net = net.clone();
                smol::spawn(async move { requests(net.connect("svc").await.unwrap(), 10).await })
            })
            .collect();
        for c in clients {
            c.await;
        }
        server.await;
    });
}

#[test]
fn large_bodies_cross_whole_in_both_directions() {
    // More than the connection's buffer in each direction: hyper's reads and writes wait.
    async fn echo(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        Ok(Response::new(Full::new(body)))
    }
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (client, server) = pair(&net, &listener);
    let data = common::pattern(3, 3 << 20);
    futures::executor::block_on(async {
        let server =
            hyper::server::conn::http1::Builder::new().serve_connection(server, service_fn(echo));
        let client = async {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(client).await.unwrap();
            let exchange = async {
                let req = Request::post("http://svc/")
                    .header("host", "svc")
                    .body(Full::new(Bytes::from(data.clone())))
                    .unwrap();
                let resp = sender.send_request(req).await.unwrap();
                let got = resp.into_body().collect().await.unwrap().to_bytes();
                assert!(got == data, "body damaged");
                drop(sender);
            };
            let (_, done) = futures::join!(exchange, connection);
            done.unwrap();
        };
        let (served, ()) = futures::join!(server, client);
        served.unwrap();
    });
}

#[cfg(feature = "net")]
#[test]
fn hyper_runs_on_net_conns_over_tcp_under_smol() {
    use chanstream::net;
    smol::block_on(async {
        let listener = net::Listener::bind("tcp://127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().to_string();
        let (client, server) =
            futures::try_join!(net::Conn::connect(&addr), listener.accept()).unwrap();
        let server =
            hyper::server::conn::http1::Builder::new().serve_connection(server, service_fn(handle));
        let client = async {
            let (mut sender, connection) =
                hyper::client::conn::http1::handshake(client).await.unwrap();
            let exchange = async {
                for i in 0..5 {
                    let req = Request::get(format!("http://svc/{i}"))
                        .header("host", "svc")
                        .body(Full::new(Bytes::from(vec![0; 20_000])))
                        .unwrap();
                    let resp = sender.send_request(req).await.unwrap();
                    let got = resp.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(got, format!("GET /{i} 20000").as_bytes());
                }
                drop(sender);
            };
            let (_, done) = futures::join!(exchange, connection);
            done.unwrap();
        };
        let (served, ()) = futures::join!(server, client);
        served.unwrap();
    });
}
