//! A gRPC server and client in one process, connected by chanstream instead of a TCP port: the
//! server runs on a `Listener` through `serve_with_incoming`, the client dials through a custom
//! connector. This is what Go's `bufconn` is for.
//!
//! Run it with `cargo run --features tokio --example grpc`.

#[path = "support/grpc_echo.rs"]
mod grpc_echo;

use std::time::Instant;

use chanstream::Network;
use futures::StreamExt;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let net = Network::new();
    let listener = net.bind("grpc.example")?;
    println!(
        "server: serving chanstream.test.Echo on {}",
        listener.local_addr()
    );
    let (stop, stopped) = tokio::sync::oneshot::channel();
    let server = grpc_echo::serve(listener, stopped);

    let started = Instant::now();
    let mut grpc = grpc_echo::client(net.clone(), "grpc.example").await;
    let reply = grpc_echo::shout(&mut grpc, "hello over grpc").await?;
    println!(
        "client: unary reply {:?} (the server saw me as {})",
        reply.message, reply.peer
    );

    let mut ticks = grpc_echo::ticks(&mut grpc, "tick", 5).await?;
    while let Some(tick) = ticks.next().await {
        let tick = tick?;
        println!("client: streamed reply {} {:?}", tick.index, tick.message);
    }
    let calls = 1000;
    let timed = Instant::now();
    for i in 0..calls {
        grpc_echo::shout(&mut grpc, &format!("call {i}")).await?;
    }
    println!(
        "client: {calls} unary calls in {:?} ({:.1} µs each)",
        timed.elapsed(),
        timed.elapsed().as_secs_f64() * 1e6 / calls as f64
    );
    println!("done in {:?}", started.elapsed());
    stop.send(()).ok();
    server.await?;
    Ok(())
}
