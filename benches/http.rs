//! HTTP/1.1 requests per second from hyper-util's client to an axum app, over chanstream
//! (`axum::serve` on a `Listener`, the client on a `Connector`) against the same app and
//! client over loopback TCP (`tokio::net::TcpListener`, hyper-util's `HttpConnector`), in the
//! same run, interleaved, median of the runs.
//!
//! `cargo bench --all-features --bench http` (a few seconds per row); `-- --quick` for a
//! short run.

use std::future::IntoFuture;
use std::time::Instant;

use axum::routing::get;
use axum::Router;
use chanstream::{Connector, Network};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::connect::{Connect, HttpConnector};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

fn app() -> Router {
    Router::new().route("/", get(|| async { "hello, world" }))
}

/// Requests per second: `clients` tasks, each sending `per_client` GETs in turn.
async fn measure<C>(
    client: Client<C, Empty<Bytes>>,
    uri: &str,
    clients: usize,
    per_client: usize,
) -> f64
where
    C: Connect + Clone + Send + Sync + 'static,
{
    let uri: hyper::Uri = uri.parse().unwrap();
    // Warm the pool.
    let warm = client.get(uri.clone()).await.unwrap();
    warm.into_body().collect().await.unwrap();
    let start = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|_| {
            let client = client.clone();
            let uri = uri.clone();
            tokio::spawn(async move {
                for _ in 0..per_client {
                    let resp = client.get(uri.clone()).await.unwrap();
                    assert_eq!(resp.status(), 200);
                    let body = resp.into_body().collect().await.unwrap().to_bytes();
                    assert_eq!(body.len(), 12);
                }
            })
        })
        .collect();
    for t in tasks {
        t.await.unwrap();
    }
    (clients * per_client) as f64 / start.elapsed().as_secs_f64()
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let (runs, requests) = if quick { (3, 2_000) } else { (7, 20_000) };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    rt.block_on(async {
        let net = Network::new();
        tokio::spawn(axum::serve(net.bind("app").unwrap(), app()).into_future());
        let tcp = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let tcp_uri = format!("http://{}/", tcp.local_addr().unwrap());
        tokio::spawn(axum::serve(tcp, app()).into_future());

        println!(
            "HTTP/1.1 GET, axum app, hyper-util client, tokio with 2 workers, median of {runs}\n"
        );
        println!(
            "{:<28}{:>16}{:>16}{:>14}",
            "clients", "chanstream req/s", "TCP req/s", "chan / TCP"
        );
        for clients in [1, 16] {
            let per_client = requests / clients;
            let (mut chan, mut tcp) = (Vec::new(), Vec::new());
            for run in 0..runs {
                // Alternate which goes first.
                for which in [run % 2, 1 - run % 2] {
                    if which == 0 {
                        let client =
                            Client::builder(TokioExecutor::new()).build(Connector::new(&net));
                        chan.push(measure(client, "http://app/", clients, per_client).await);
                    } else {
                        let mut http = HttpConnector::new();
                        http.set_nodelay(true);
                        let client = Client::builder(TokioExecutor::new()).build(http);
                        tcp.push(measure(client, &tcp_uri, clients, per_client).await);
                    }
                }
            }
            let (c, t) = (median(chan), median(tcp));
            println!(
                "{:<28}{:>16.0}{:>16.0}{:>13.2}x",
                format!("{clients} sequential"),
                c,
                t,
                c / t
            );
        }
    });
}
