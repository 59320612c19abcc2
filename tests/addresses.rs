//! Addresses (SPEC 5).

mod common;

use std::collections::HashSet;

use chanstream::Network;
use common::pair_in;

#[test]
fn listener_and_dialed_peer_addresses_are_the_bound_name() {
    let net = Network::new();
    let listener = net.bind("db:5432").unwrap();
    let (client, server) = pair_in(&listener);
    assert_eq!(listener.local_addr().as_str(), "db:5432");
    assert_eq!(client.peer_addr(), listener.local_addr());
    assert_eq!(server.local_addr(), listener.local_addr());
}

#[test]
fn dialed_ends_have_unique_identities_matching_the_accepted_peer() {
    let net = Network::new();
    let a = net.bind("a").unwrap();
    let b = net.bind("b").unwrap();
    let mut seen = HashSet::new();
    for i in 0..200 {
        let listener = if i % 2 == 0 { &a } else { &b };
        let (client, server) = pair_in(listener);
        assert_eq!(server.peer_addr(), client.local_addr());
        assert_ne!(client.local_addr(), listener.local_addr());
        assert!(seen.insert(client.local_addr()), "identity reused");
    }
}

#[test]
fn addr_reports_the_chan_network_and_displays_as_its_text() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (client, _server) = pair_in(&listener);
    for addr in [
        listener.local_addr(),
        client.local_addr(),
        client.peer_addr(),
    ] {
        assert_eq!(addr.network(), "chan");
        assert_eq!(addr.to_string(), addr.as_str());
    }
    assert!(format!("{:?}", listener.local_addr()).contains("svc"));
}

#[test]
fn clones_report_the_same_addresses() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (client, _server) = pair_in(&listener);
    let c2 = client.clone();
    assert_eq!(c2.local_addr(), client.local_addr());
    assert_eq!(c2.peer_addr(), client.peer_addr());
}
