//! `Connector` (feature `hyper`) as a `tower::Service<http::Uri>`: what it dials, its errors on
//! bad input, and the bounds hyper-util's client and tonic's `Endpoint` put on it.
#![cfg(feature = "hyper")]

mod common;

use std::time::Duration;

use chanstream::{Conn, Connector, Error, Network};
use common::run;
use tower_service::Service;

fn uri(s: &str) -> http::Uri {
    s.parse().unwrap()
}

#[test]
fn dials_the_uris_host_as_a_name_in_its_network() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let mut connector = Connector::new(&net);
    for u in ["http://svc/", "http://svc:50051/x?y", "https://svc"] {
        let (conn, server) =
            run(async { futures::try_join!(connector.call(uri(u)), listener.accept()) }).unwrap();
        assert_eq!(conn.peer_addr().as_str(), "svc", "{u}");
        assert_eq!(server.peer_addr(), conn.local_addr(), "{u}");
    }
    // Another network does not see the name.
    let other = Network::new();
    let err = run(Connector::new(&other).call(uri("http://svc/"))).unwrap_err();
    assert_eq!(err, Error::ConnectionRefused);
}

#[test]
fn bad_input_is_invalid_input_not_a_panic() {
    let net = Network::new();
    let _listener = net.bind("svc").unwrap();
    let mut connector = Connector::new(&net);
    let err = run(connector.call(uri("/only/a/path"))).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
    let mut zero = Connector::new(&net).connect_timeout(Duration::ZERO);
    let err = run(zero.call(uri("http://svc/"))).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}

#[test]
fn a_dial_nobody_accepts_ends_with_the_connect_timeout() {
    let net = Network::new();
    let _listener = net.bind("svc").unwrap();
    let mut connector = Connector::new(&net).connect_timeout(Duration::from_millis(30));
    let started = std::time::Instant::now();
    assert_eq!(
        run(connector.call(uri("http://svc/"))).unwrap_err(),
        Error::ConnectTimeout
    );
    assert!(started.elapsed() >= Duration::from_millis(30));
}

#[test]
fn clones_dial_in_the_same_network_and_it_is_always_ready() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let mut connector = Connector::new(&net).clone();
    let (waker, _) = common::counting_waker();
    let mut cx = std::task::Context::from_waker(&waker);
    assert!(matches!(
        connector.poll_ready(&mut cx),
        std::task::Poll::Ready(Ok(()))
    ));
    let (conn, _server) =
        run(async { futures::try_join!(connector.call(uri("http://svc/")), listener.accept()) })
            .unwrap();
    assert_eq!(conn.peer_addr().as_str(), "svc");
    assert!(format!("{connector:?}").contains("Connector"));
}

#[test]
fn meets_the_bounds_of_hyper_util_and_tonic() {
    fn connector<C>(_: &C)
    where
        C: Service<http::Uri> + Clone + Send + Sync + 'static,
        C::Response: hyper::rt::Read
            + hyper::rt::Write
            + hyper_util::client::legacy::connect::Connection
            + Send
            + Unpin
            + 'static,
        C::Future: Send + Unpin + 'static,
        C::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
    }
    connector(&Connector::default());
    // The in-process connector's connection is a `Conn`.
    let _: Option<<Connector as Service<http::Uri>>::Response> = None::<Conn>;
    #[cfg(feature = "net")]
    connector(&Connector::tcp());
}

#[test]
fn the_connection_reports_the_servers_address_to_hyper_util() {
    use hyper_util::client::legacy::connect::Connection;
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (conn, _server) = run(async {
        futures::try_join!(
            Connector::new(&net).call(uri("http://svc/")),
            listener.accept()
        )
    })
    .unwrap();
    let mut extensions = http::Extensions::new();
    conn.connected().get_extras(&mut extensions);
    assert_eq!(
        extensions.get::<chanstream::Addr>().map(|a| a.as_str()),
        Some("svc")
    );
}

#[cfg(feature = "net")]
#[test]
fn net_connectors_parse_their_address_at_once() {
    for bad in ["unix://relative", "tcp://nohost", "ftp://x:1", ""] {
        assert!(
            matches!(Connector::to(bad), Err(Error::InvalidInput(_))),
            "{bad:?}"
        );
    }
    let err = run(Connector::tcp().call(uri("/no/host"))).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)), "{err:?}");
}
