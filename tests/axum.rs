//! axum (feature `axum`) served on a `Listener` and, with `net`, a `net::Listener`, called
//! through hyper-util's legacy `Client` on a `Connector` (feature `hyper`): several routes,
//! `ConnectInfo`, keep-alive, 50 concurrent requests, graceful shutdown, and what axum's
//! accept loop does with a closed listener or a passed accept deadline.
#![cfg(all(feature = "axum", feature = "hyper"))]

mod common;

use std::collections::HashSet;
use std::fmt::Display;
use std::future::IntoFuture;
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, Path};
use axum::routing::{get, post};
use axum::Router;
use chanstream::{Addr, Connector, Error, Listener, Network};
use common::{counting_waker, tokio_runtime};
use http_body_util::{BodyExt, Full};
use hyper::body::Bytes;
use hyper::StatusCode;
use hyper_util::client::legacy::connect::Connect;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The app under test; `whoami` answers with the caller's `ConnectInfo<A>`.
fn app<A: Clone + Display + Send + Sync + 'static>() -> Router {
    Router::new()
        .route("/", get(|| async { "index" }))
        .route(
            "/users/{id}",
            get(|Path(id): Path<u32>| async move { format!("user {id}") }),
        )
        .route("/echo", post(|body: Bytes| async move { body }))
        .route(
            "/whoami",
            get(|ConnectInfo(peer): ConnectInfo<A>| async move { peer.to_string() }),
        )
}

type HttpClient<C> = Client<C, Full<Bytes>>;

fn client<C: Connect + Clone + Send + Sync + 'static>(connector: C) -> HttpClient<C> {
    Client::builder(TokioExecutor::new()).build(connector)
}

async fn call<C: Connect + Clone + Send + Sync + 'static>(
    client: &HttpClient<C>,
    method: &str,
    uri: &str,
    body: &'static [u8],
) -> Result<(StatusCode, String), hyper_util::client::legacy::Error> {
    let req = hyper::Request::builder()
        .method(method)
        .uri(uri)
        .body(Full::new(Bytes::from_static(body)))
        .unwrap();
    let resp = client.request(req).await?;
    let status = resp.status();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    Ok((status, String::from_utf8(body.to_vec()).unwrap()))
}

async fn get_ok<C: Connect + Clone + Send + Sync + 'static>(
    client: &HttpClient<C>,
    uri: &str,
) -> String {
    let (status, body) = call(client, "GET", uri, b"").await.unwrap();
    assert_eq!(status, StatusCode::OK, "{uri}: {body}");
    body
}

/// Serves `app` on a listener bound to `name` in `net`, with `ConnectInfo<chanstream::Addr>`.
fn serve(net: &Network, name: &str) -> tokio::task::JoinHandle<std::io::Result<()>> {
    let listener = net.bind(name).unwrap();
    tokio::spawn(
        axum::serve(
            listener,
            app::<Addr>().into_make_service_with_connect_info::<Addr>(),
        )
        .into_future(),
    )
}

/// The crate's error behind a client error, if any.
fn chan_error(err: &(dyn std::error::Error + 'static)) -> Option<Error> {
    let mut source = Some(err);
    while let Some(e) = source {
        if let Some(e) = e.downcast_ref::<Error>() {
            return Some(*e);
        }
        source = e.source();
    }
    None
}

#[test]
fn routes_connect_info_and_keep_alive_through_a_connector() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let server = serve(&net, "web");
        let client = client(Connector::new(&net));

        assert_eq!(get_ok(&client, "http://web/").await, "index");
        assert_eq!(get_ok(&client, "http://web/users/7").await, "user 7");
        let (status, body) = call(&client, "POST", "http://web/echo", b"some bytes")
            .await
            .unwrap();
        assert_eq!((status, body.as_str()), (StatusCode::OK, "some bytes"));
        let (status, _) = call(&client, "GET", "http://web/missing", b"")
            .await
            .unwrap();
        assert_eq!(status, StatusCode::NOT_FOUND);

        // ConnectInfo is the dialed end's address; sequential requests reuse connections.
        let mut peers = HashSet::new();
        for _ in 0..20 {
            let peer = get_ok(&client, "http://web/whoami").await;
            assert!(peer.starts_with("web#"), "{peer}");
            peers.insert(peer);
        }
        assert!(peers.len() < 20, "{peers:?}");
        // The port of the URI is ignored: the host is the name.
        assert_eq!(get_ok(&client, "http://web:8080/").await, "index");
        server.abort();
    });
}

#[test]
fn fifty_concurrent_requests_are_all_answered() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        // Fifty dials at once may all arrive before axum's accept loop runs: a backlog that
        // holds them all (the default, 32, would fail the extra ones with ListenQueueFull).
        let listener = Listener::builder()
            .network(&net)
            .backlog(64)
            .bind("web")
            .unwrap();
        let server = tokio::spawn(
            axum::serve(
                listener,
                app::<Addr>().into_make_service_with_connect_info::<Addr>(),
            )
            .into_future(),
        );
        let client = client(Connector::new(&net));
        let calls = (0..50u32).map(|i| {
            let client = client.clone();
            tokio::spawn(async move {
                let body = get_ok(&client, &format!("http://web/users/{i}")).await;
                assert_eq!(body, format!("user {i}"));
                get_ok(&client, "http://web/whoami").await
            })
        });
        let mut peers = HashSet::new();
        for call in futures::future::join_all(calls).await {
            peers.insert(call.unwrap());
        }
        // Concurrent requests open several pooled connections, each with its own address.
        assert!(!peers.is_empty() && peers.len() <= 50, "{peers:?}");
        assert!(peers.iter().all(|p| p.starts_with("web#")), "{peers:?}");
        server.abort();
    });
}

#[test]
fn a_burst_beyond_the_backlog_fails_only_the_extra_dial_and_at_once() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let listener = Listener::builder()
            .network(&net)
            .backlog(2)
            .bind("web")
            .unwrap();
        let client = client(Connector::new(&net));
        // Three requests while nothing accepts: two dials wait in the backlog, one fails.
        let (done, mut results) = tokio::sync::mpsc::unbounded_channel();
        for _ in 0..3 {
            let (client, done) = (client.clone(), done.clone());
            tokio::spawn(async move {
                let _ = done.send(call(&client, "GET", "http://web/", b"").await);
            });
        }
        let first = results.recv().await.unwrap().unwrap_err();
        let cause = chan_error(&first);
        assert_eq!(cause, Some(Error::ListenQueueFull), "{first:?}");
        assert!(cause.unwrap().is_temporary());
        // Serving now answers the two that waited.
        let server = tokio::spawn(
            axum::serve(
                listener,
                app::<Addr>().into_make_service_with_connect_info::<Addr>(),
            )
            .into_future(),
        );
        for _ in 0..2 {
            let (status, body) = results.recv().await.unwrap().unwrap();
            assert_eq!((status, body.as_str()), (StatusCode::OK, "index"));
        }
        server.abort();
    });
}

#[test]
fn the_default_connector_dials_in_the_global_network() {
    tokio_runtime().block_on(async {
        let server = serve(Network::global(), "axum-test-global.web");
        let client = client(Connector::default());
        assert_eq!(
            get_ok(&client, "http://axum-test-global.web/users/3").await,
            "user 3"
        );
        server.abort();
    });
}

#[test]
fn dialing_a_name_nobody_listens_on_is_a_prompt_error() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let client = client(Connector::new(&net));
        let call = call(&client, "GET", "http://nobody/", b"");
        let err = tokio::time::timeout(Duration::from_secs(5), call)
            .await
            .expect("the request hung")
            .unwrap_err();
        assert!(err.is_connect(), "{err:?}");
        assert_eq!(chan_error(&err), Some(Error::ConnectionRefused), "{err:?}");
    });
}

#[test]
fn graceful_shutdown_ends_serve_and_unbinds_the_name() {
    tokio_runtime().block_on(async {
        let net = Network::new();
        let listener = net.bind("web").unwrap();
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(
            axum::serve(
                listener,
                app::<Addr>().into_make_service_with_connect_info::<Addr>(),
            )
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .into_future(),
        );
        let client = client(Connector::new(&net));
        assert_eq!(get_ok(&client, "http://web/").await, "index");
        drop(client); // the idle keep-alive connection closes
        stop.send(()).unwrap();
        tokio::time::timeout(Duration::from_secs(10), server)
            .await
            .expect("serve did not end")
            .unwrap()
            .unwrap();
        // The listener went with `serve`: the name is free again.
        assert_eq!(
            net.connect("web").await.unwrap_err(),
            Error::ConnectionRefused
        );
    });
}

#[test]
fn a_closed_listener_leaves_accept_pending_without_waking() {
    use axum::serve::Listener as AxumListener;
    let net = Network::new();
    let mut listener = net.bind("web").unwrap();
    listener.close();
    let (waker, wakes) = counting_waker();
    let mut accept = Box::pin(AxumListener::accept(&mut listener));
    for _ in 0..3 {
        assert!(common::poll_pinned(accept.as_mut(), &waker).is_pending());
    }
    // Not synchronisation: longer than the retry interval, to see that nothing (no retry
    // timer, no self-wake) comes back to it.
    std::thread::sleep(Duration::from_millis(250));
    assert_eq!(wakes.count(), 0);
}

#[test]
fn a_passed_accept_deadline_is_retried_every_100_ms_not_spun() {
    use axum::serve::Listener as AxumListener;
    let net = Network::new();
    let mut listener = net.bind("web").unwrap();
    listener.set_deadline(Some(Instant::now()));
    let (waker, wakes) = counting_waker();
    {
        let mut accept = Box::pin(AxumListener::accept(&mut listener));
        assert!(common::poll_pinned(accept.as_mut(), &waker).is_pending());
        let start = Instant::now();
        let mut polled = 0;
        while start.elapsed() < Duration::from_millis(450) {
            // Polled again each time it is woken, as an executor would.
            if wakes.count() > polled {
                polled = wakes.count();
                assert!(common::poll_pinned(accept.as_mut(), &waker).is_pending());
            }
            std::thread::sleep(Duration::from_millis(2));
        }
        // About one retry per 100 ms: a spinning loop would have been woken thousands of times.
        assert!(
            (2..=6).contains(&wakes.count()),
            "{} wake-ups",
            wakes.count()
        );
    }
    // With the deadline cleared, the same listener accepts through axum's trait.
    listener.set_deadline(None);
    let (client, (server, peer)) = futures::executor::block_on(async {
        futures::join!(net.connect("web"), AxumListener::accept(&mut listener))
    });
    let client = client.unwrap();
    assert_eq!(peer, client.local_addr());
    assert_eq!(server.peer_addr(), client.local_addr());
}

#[cfg(feature = "net")]
#[test]
fn the_same_app_over_tcp_and_unix_with_net() {
    use chanstream::net;
    tokio_runtime().block_on(async {
        let dir = tempfile::tempdir().unwrap();
        let unix = format!("unix://{}", dir.path().join("web.sock").display());
        for bind in ["tcp://127.0.0.1:0", unix.as_str()] {
            let listener = net::Listener::bind(bind).await.unwrap();
            let addr = listener.local_addr().to_string();
            let server = tokio::spawn(
                axum::serve(
                    listener,
                    app::<net::Addr>().into_make_service_with_connect_info::<net::Addr>(),
                )
                .into_future(),
            );
            // A connector for that one address, whatever the URI says.
            let to = client(Connector::to(&addr).unwrap());
            assert_eq!(get_ok(&to, "http://web/users/9").await, "user 9");
            let whoami = get_ok(&to, "http://web/whoami").await;
            assert!(whoami.starts_with(&bind[..6]), "{bind}: {whoami}");
            if let Some(port) = addr.strip_prefix("tcp://127.0.0.1:") {
                // A connector that dials the URI's host and port.
                let by_uri = client(Connector::tcp());
                let uri = format!("http://127.0.0.1:{port}/");
                assert_eq!(get_ok(&by_uri, &uri).await, "index");
            }
            server.abort();
        }
    });
}
