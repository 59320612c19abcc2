//! An HTTP/1.1 server and client (`hyper` 1.x) in one process, over chanstream: several requests
//! on one keep-alive connection.
//!
//! Run it with `cargo run --features tokio --example http`.

use std::convert::Infallible;
use std::time::Instant;

use chanstream::Network;
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Request, Response};
use hyper_util::rt::TokioIo;

async fn hello(req: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let reply = format!("hello from {} {}\n", req.method(), req.uri().path());
    Ok(Response::new(Full::new(Bytes::from(reply))))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let net = Network::new();
    let listener = net.bind("http.example")?;
    println!("server: listening on {}", listener.local_addr());
    tokio::spawn(async move {
        while let Ok(conn) = listener.accept().await {
            println!("server: connection from {}", conn.peer_addr());
            tokio::spawn(
                http1::Builder::new().serve_connection(TokioIo::new(conn), service_fn(hello)),
            );
        }
    });

    let started = Instant::now();
    let conn = net.connect("http.example").await?;
    let (mut sender, connection) =
        hyper::client::conn::http1::handshake(TokioIo::new(conn)).await?;
    tokio::spawn(connection);
    for path in ["/", "/users/1", "/health"] {
        let req = Request::get(format!("http://http.example{path}"))
            .header("host", "http.example")
            .body(Full::new(Bytes::new()))?;
        sender.ready().await?;
        let resp = sender.send_request(req).await?;
        let status = resp.status();
        let body = resp.into_body().collect().await?.to_bytes();
        println!(
            "client: GET {path} -> {status}: {}",
            String::from_utf8_lossy(&body).trim_end()
        );
    }
    println!(
        "3 requests on one keep-alive connection in {:?}",
        started.elapsed()
    );
    Ok(())
}
