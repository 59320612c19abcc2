//! A gRPC server and client in one process, connected by chanstream instead of a TCP port (what
//! Go's `bufconn` is for): tonic serves the standard health service on a `Listener`'s incoming
//! connections, and the client dials through a `Connector`. A unary call, then a streaming one.
//!
//! Run it with `cargo run --features tonic,hyper --example grpc`.

use std::time::Instant;

use chanstream::{Connector, Network};
use tonic::transport::{Endpoint, Server};
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tonic_health::ServingStatus;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = Network::new();
    let listener = net.bind("grpc.example")?;
    println!(
        "server: serving grpc.health.v1.Health on {}",
        listener.local_addr()
    );
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("store", ServingStatus::Serving)
        .await;
    tokio::spawn(async move {
        Server::builder()
            .add_service(health)
            .serve_with_incoming(listener.incoming())
            .await
    });

    let started = Instant::now();
    let channel = Endpoint::from_static("http://grpc.example")
        .connect_with_connector(Connector::new(&net))
        .await?;
    let mut client = HealthClient::new(channel);
    let check = |service: &str| HealthCheckRequest {
        service: service.into(),
    };
    let status = client.check(check("store")).await?.into_inner().status();
    println!("client: check(store) -> {status:?}");
    let unknown = client.check(check("nothing")).await.unwrap_err();
    println!("client: check(nothing) -> {:?}", unknown.code());

    // A server stream: the current status, then every change.
    let mut watch = client.watch(check("store")).await?.into_inner();
    println!(
        "client: watch(store) -> {:?}",
        watch.message().await?.map(|r| r.status())
    );
    reporter
        .set_service_status("store", ServingStatus::NotServing)
        .await;
    println!(
        "client: watch(store) -> {:?}",
        watch.message().await?.map(|r| r.status())
    );

    let calls = 1000;
    let timed = Instant::now();
    for _ in 0..calls {
        client.check(check("store")).await?;
    }
    let each = timed.elapsed().as_secs_f64() * 1e6 / calls as f64;
    println!(
        "client: {calls} unary calls in {:?} ({each:.1} µs each)",
        timed.elapsed()
    );
    println!("done in {:?}", started.elapsed());
    Ok(())
}
