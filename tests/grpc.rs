//! gRPC (`tonic`) over connections, with the `tokio` feature: a server on a `Listener`
//! (`serve_with_incoming`) and a client that dials through chanstream with a custom connector,
//! making unary and server-streaming calls.
#![cfg(feature = "tokio")]

mod common;

#[path = "../examples/support/grpc_echo.rs"]
mod grpc_echo;

use chanstream::Network;
use common::tokio_runtime;
use futures::StreamExt;
use grpc_echo::{call_unary, client, serve, shout, ticks};

#[test]
fn unary_and_server_streaming_calls_over_chanstream() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server = serve(net.bind("grpc.test").unwrap(), stopped);
        let mut grpc = client(net.clone(), "grpc.test").await;

        let reply = shout(&mut grpc, "hello").await.unwrap();
        assert_eq!(reply.message, "HELLO");
        // The server's connection info is the dialed end's unique address.
        assert!(
            reply.peer.starts_with("grpc.test#"),
            "server saw peer {:?}",
            reply.peer
        );

        let mut replies = ticks(&mut grpc, "tick", 500).await.unwrap();
        let mut n = 0;
        while let Some(r) = replies.next().await {
            let r = r.unwrap();
            assert_eq!((r.message.as_str(), r.index), ("tick", n));
            n += 1;
        }
        assert_eq!(n, 500);

        let err = call_unary(&mut grpc, "/chanstream.test.Echo/Missing", "x")
            .await
            .unwrap_err();
        assert_eq!(err.code(), tonic::Code::Unimplemented);

        stop.send(()).unwrap();
        server.await.unwrap();
    });
}

#[test]
fn many_concurrent_calls_from_several_clients() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let (stop, stopped) = tokio::sync::oneshot::channel();
        let server = serve(net.bind("grpc.test").unwrap(), stopped);
        let calls: Vec<_> = (0..8)
            .map(|c| {
                let net = net.clone();
                tokio::spawn(async move {
                    let mut grpc = client(net, "grpc.test").await;
                    for i in 0..25 {
                        let msg = format!("client {c} call {i}");
                        let reply = shout(&mut grpc, &msg).await.unwrap();
                        assert_eq!(reply.message, msg.to_uppercase());
                    }
                })
            })
            .collect();
        for c in calls {
            c.await.unwrap();
        }
        stop.send(()).unwrap();
        server.await.unwrap();
    });
}
