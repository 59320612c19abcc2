//! gRPC (`tonic`) over connections, with the `tonic` and `hyper` features: a server on a
//! `Listener` (`serve_with_incoming(listener.incoming())`, no wrapper type) and a client through
//! `Connector` (`Endpoint::connect_with_connector`), making unary and server-streaming calls.
#![cfg(all(feature = "tonic", feature = "hyper"))]

mod common;

#[path = "support/grpc_echo.rs"]
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
        let mut grpc = client(&net, "grpc.test").await.unwrap();

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
                    let mut grpc = client(&net, "grpc.test").await.unwrap();
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

#[test]
fn dialing_a_name_nobody_listens_on_fails_promptly() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let dial = client(&net, "nobody.test");
        let result = tokio::time::timeout(std::time::Duration::from_secs(5), dial)
            .await
            .expect("the dial hung");
        let err = result.expect_err("a dial to nobody succeeded");
        // tonic wraps the connector's error: the crate's error is its source.
        let mut source: Option<&(dyn std::error::Error + 'static)> = Some(&err);
        let mut found = None;
        while let Some(e) = source {
            if let Some(e) = e.downcast_ref::<chanstream::Error>() {
                found = Some(*e);
            }
            source = e.source();
        }
        assert_eq!(found, Some(chanstream::Error::ConnectionRefused), "{err:?}");
    });
}

#[cfg(feature = "net")]
#[test]
fn the_same_service_over_tcp_with_net_conns() {
    use chanstream::{net, Connector};
    tokio_runtime().block_on(async {
        let listener = net::Listener::bind("tcp://127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().to_string();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(async move {
            tonic::transport::Server::builder()
                .add_service(grpc_echo::EchoServer)
                .serve_with_incoming_shutdown(listener.incoming(), async {
                    let _ = stopped.await;
                })
                .await
                .unwrap();
        });
        let connector = Connector::to(&addr).unwrap();
        let mut grpc = grpc_echo::client_with(connector, "http://echo.test")
            .await
            .unwrap();
        let reply = shout(&mut grpc, "over tcp").await.unwrap();
        assert_eq!(reply.message, "OVER TCP");
        // The connection info is the client socket's address.
        assert!(reply.peer.starts_with("tcp://127.0.0.1:"), "{}", reply.peer);
        assert_ne!(reply.peer, addr);
        let mut replies = ticks(&mut grpc, "t", 20).await.unwrap();
        let mut n = 0;
        while let Some(r) = replies.next().await {
            assert_eq!(r.unwrap().index, n);
            n += 1;
        }
        assert_eq!(n, 20);
        stop.send(()).unwrap();
        server.await.unwrap();
    });
}
