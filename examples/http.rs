//! An axum app and hyper-util's HTTP client in one process, over chanstream: the app is served
//! on a `Listener` with `axum::serve`, the client dials through a `Connector`, and the app sees
//! each caller's address through `ConnectInfo`.
//!
//! Run it with `cargo run --features axum,hyper --example http`.

use std::future::IntoFuture;
use std::time::Instant;

use axum::extract::{ConnectInfo, Path};
use axum::routing::get;
use axum::Router;
use chanstream::{Addr, Connector, Network};
use http_body_util::{BodyExt, Empty};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let app = Router::new()
        .route("/", get(|| async { "hello\n" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}\n") }),
        )
        .route(
            "/whoami",
            get(|ConnectInfo(peer): ConnectInfo<Addr>| async move { format!("you are {peer}\n") }),
        );
    let net = Network::new();
    let listener = net.bind("http.example")?;
    println!("server: listening on {}", listener.local_addr());
    let app = app.into_make_service_with_connect_info::<Addr>();
    tokio::spawn(axum::serve(listener, app).into_future());

    let client =
        Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(Connector::new(&net));
    let started = Instant::now();
    for path in ["/", "/users/1", "/whoami", "/missing"] {
        let resp = client
            .get(format!("http://http.example{path}").parse()?)
            .await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        println!(
            "client: GET {path} -> {status}: {}",
            String::from_utf8_lossy(&body).trim_end()
        );
    }
    println!("4 requests in {:?}", started.elapsed());
    Ok(())
}
