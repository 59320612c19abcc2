//! HTTP/1.1 (`hyper` 1.x) over connections, with the `tokio` feature: several requests on one
//! keep-alive connection, and many connections served from one `Listener`.
#![cfg(feature = "tokio")]

mod common;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use chanstream::{Listener, Network};
use common::tokio_runtime;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

/// Answers `<path> <body length>`.
async fn handle(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let path = req.uri().path().to_owned();
    let body = req.into_body().collect().await.unwrap().to_bytes();
    Ok(Response::new(Full::new(Bytes::from(format!(
        "{path} {}",
        body.len()
    )))))
}

/// Serves HTTP/1.1 on every connection the listener accepts; counts the connections.
fn serve(listener: Listener, accepted: Arc<AtomicUsize>) {
    tokio::spawn(async move {
        while let Ok(conn) = listener.accept().await {
            accepted.fetch_add(1, Ordering::SeqCst);
            tokio::spawn(async move {
                http1::Builder::new()
                    .serve_connection(TokioIo::new(conn), service_fn(handle))
                    .await
                    .unwrap();
            });
        }
    });
}

/// Opens an HTTP/1.1 client connection to `name`.
async fn client(net: &Network, name: &str) -> hyper::client::conn::http1::SendRequest<Full<Bytes>> {
    let conn = net.connect(name).await.unwrap();
    let (sender, connection) = hyper::client::conn::http1::handshake(TokioIo::new(conn))
        .await
        .unwrap();
    tokio::spawn(connection);
    sender
}

async fn post(
    sender: &mut hyper::client::conn::http1::SendRequest<Full<Bytes>>,
    path: &str,
    len: usize,
) -> String {
    sender.ready().await.unwrap();
    let req = Request::post(format!("http://svc{path}"))
        .header("host", "svc")
        .body(Full::new(Bytes::from(vec![b'x'; len])))
        .unwrap();
    let resp = sender.send_request(req).await.unwrap();
    assert_eq!(resp.status(), 200);
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(body.to_vec()).unwrap()
}

#[test]
fn several_requests_share_one_keep_alive_connection() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let accepted = Arc::new(AtomicUsize::new(0));
        serve(net.bind("svc").unwrap(), accepted.clone());
        let mut sender = client(&net, "svc").await;
        for i in 0..20 {
            let len = i * 10_000;
            assert_eq!(
                post(&mut sender, &format!("/r{i}"), len).await,
                format!("/r{i} {len}")
            );
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 1, "keep-alive not used");
    });
}

#[test]
fn many_connections_from_one_listener() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let accepted = Arc::new(AtomicUsize::new(0));
        serve(
            net.listener().backlog(128).bind("svc").unwrap(),
            accepted.clone(),
        );
        let clients: Vec<_> = (0..64)
            .map(|c| {
                let net = net.clone();
                tokio::spawn(async move {
                    let mut sender = client(&net, "svc").await;
                    for i in 0..3 {
                        let path = format!("/c{c}/{i}");
                        assert_eq!(
                            post(&mut sender, &path, c * 100).await,
                            format!("{path} {}", c * 100)
                        );
                    }
                })
            })
            .collect();
        for c in clients {
            c.await.unwrap();
        }
        assert_eq!(accepted.load(Ordering::SeqCst), 64);
    });
}
