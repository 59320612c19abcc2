//! Testing a web service in-process (features `axum`, `tonic` and `hyper`).
//!
//! A test that starts a server on a TCP port needs a free port, waits on the kernel, can be
//! reached by anything else on the machine, and collides with the same test running in
//! parallel. Serve on a [`Listener`](crate::Listener) of a [`Network`](crate::Network) of the
//! test's own instead: the app and the client are the ones you ship, unchanged, and only the
//! connections are in-process. Each test makes its own `Network::new()`, so tests running in
//! parallel can all use the same names, and nothing outside the test can reach the server.
//!
//! # An axum app
//!
//! `axum::serve` takes the listener as it takes a `TcpListener`; hyper-util's client takes a
//! [`Connector`](crate::Connector), which dials the URI's host as a name in the network.
//! `ConnectInfo<chanstream::Addr>` is the caller's address (`NAME#N`, unique per
//! connection).
//!
//! ```
//! use axum::extract::{ConnectInfo, Path};
//! use axum::{routing::get, Router};
//! use chanstream::{Addr, Connector, Network};
//! use http_body_util::{BodyExt, Empty};
//! use hyper::body::Bytes;
//! use hyper_util::{client::legacy::Client, rt::TokioExecutor};
//! use std::future::IntoFuture;
//!
//! // The app under test.
//! fn app() -> Router {
//!     Router::new()
//!         .route("/hello/{name}", get(|Path(name): Path<String>| async move { format!("hello, {name}") }))
//!         .route("/whoami", get(|ConnectInfo(me): ConnectInfo<Addr>| async move { me.to_string() }))
//! }
//!
//! // In a test suite: `#[tokio::test] async fn says_hello()`.
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
//! let net = Network::new(); // this test's own
//! let server = app().into_make_service_with_connect_info::<Addr>();
//! tokio::spawn(axum::serve(net.bind("app")?, server).into_future());
//!
//! let client = Client::builder(TokioExecutor::new()).build::<_, Empty<Bytes>>(Connector::new(&net));
//! let resp = client.get("http://app/hello/ferris".parse()?).await?;
//! assert_eq!(resp.into_body().collect().await?.to_bytes(), "hello, ferris");
//!
//! let resp = client.get("http://app/whoami".parse()?).await?;
//! assert!(resp.into_body().collect().await?.to_bytes().starts_with(b"app#"));
//! # Ok(())
//! # }
//! ```
//!
//! # A tonic service
//!
//! `serve_with_incoming` takes the listener's [`incoming`](crate::Listener::incoming)
//! connections (the crate implements tonic's `Connected`, so each request carries the
//! caller's `chanstream::Addr` in its extensions), and `Endpoint::connect_with_connector` takes
//! a `Connector`. Here the service is the standard health service of `tonic-health`; a
//! generated service is served the same way.
//!
//! ```
//! use chanstream::{Connector, Network};
//! use tonic::transport::{Endpoint, Server};
//! use tonic_health::pb::{health_client::HealthClient, HealthCheckRequest};
//! use tonic_health::ServingStatus;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let net = Network::new();
//! let listener = net.bind("grpc")?;
//! let (reporter, health) = tonic_health::server::health_reporter();
//! reporter.set_service_status("store", ServingStatus::Serving).await;
//! tokio::spawn(async move {
//!     Server::builder().add_service(health).serve_with_incoming(listener.incoming()).await
//! });
//!
//! let channel = Endpoint::from_static("http://grpc")
//!     .connect_with_connector(Connector::new(&net))
//!     .await?;
//! let mut client = HealthClient::new(channel);
//! let request = HealthCheckRequest { service: "store".into() };
//! let status = client.check(request).await?.into_inner().status();
//! assert_eq!(status, tonic_health::pb::health_check_response::ServingStatus::Serving);
//! # Ok(())
//! # }
//! ```
//!
//! # What else holds
//!
//! - A dial to a name nobody listens on fails at once with
//!   [`Error::ConnectionRefused`](crate::Error::ConnectionRefused): a client pointed at the
//!   wrong name fails the test instead of hanging it.
//! - A dial never waits for a backlog slot: when more dials arrive at once than the
//!   listener's backlog (default 32) holds before the accept loop takes them, the extra ones
//!   fail at once with the temporary [`Error::ListenQueueFull`](crate::Error::ListenQueueFull).
//!   A test that opens many connections at once binds with a backlog that covers the burst:
//!   `Listener::builder().network(&net).backlog(64).bind("app")`.
//! - The same app runs over TCP or a Unix socket by binding a
//!   [`net::Listener`](crate::net::Listener) instead (feature `net`), with
//!   `ConnectInfo<chanstream::net::Addr>`; `Connector::to("unix:///PATH")` or
//!   `Connector::tcp()` dial it.
//! - axum's accept loop cannot fail: a closed listener accepts nothing more (end `serve`
//!   with `with_graceful_shutdown`), and a failed accept (a passed accept deadline) is retried
//!   every 100 ms, never in a busy loop.
//! - hyper's own server and client take a [`Conn`](crate::Conn) directly (its `rt::Read`
//!   and `rt::Write`), under any executor: no tokio runtime is needed for them.
