//! `Network` namespaces and the global registry.

mod common;

use chanstream::{Conn, Error, Listener, Network};
use common::{pair_in, run};
use futures::io::{AsyncReadExt, AsyncWriteExt};

#[test]
fn the_same_name_can_be_bound_in_two_networks() {
    let (n1, n2) = (Network::new(), Network::new());
    let l1 = n1.bind("svc").unwrap();
    let l2 = n2.bind("svc").unwrap();
    let (mut c1, mut s1) = pair_in(&l1);
    let (_c2, s2) = pair_in(&l2);
    run(async {
        c1.write_all(b"1").await.unwrap();
        let mut b = [0; 1];
        s1.read_exact(&mut b).await.unwrap();
        assert_eq!(&b, b"1");
    });
    assert_ne!(s1.peer_addr(), c1.peer_addr());
    drop(s2);
}

#[test]
fn a_name_bound_in_another_network_is_refused() {
    let (n1, n2) = (Network::new(), Network::new());
    let _l = n1.bind("only-in-n1").unwrap();
    assert_eq!(
        run(n2.connect("only-in-n1")).unwrap_err(),
        Error::ConnectionRefused
    );
    assert_eq!(
        run(Conn::connect("only-in-n1")).unwrap_err(),
        Error::ConnectionRefused,
        "a private network leaked into the global one"
    );
}

#[test]
fn free_standing_functions_use_the_global_network() {
    let listener = Listener::bind("network-test-global").unwrap();
    assert_eq!(listener.network(), Network::global());
    let (client, server) = run(async {
        futures::try_join!(
            Network::global().connect("network-test-global"),
            listener.accept()
        )
    })
    .unwrap();
    assert_eq!(server.peer_addr(), client.local_addr());
    assert_eq!(
        Network::global().bind("network-test-global").unwrap_err(),
        Error::AddrInUse
    );
}

#[test]
fn clones_of_a_network_share_its_names() {
    let net = Network::new();
    let other = net.clone();
    assert_eq!(net, other);
    assert_ne!(net, Network::new());
    let _l = net.bind("svc").unwrap();
    assert_eq!(other.bind("svc").unwrap_err(), Error::AddrInUse);
}

#[test]
fn dial_identities_are_unique_across_threads() {
    let net = Network::new();
    let listener = net.listener().backlog(1024).bind("svc").unwrap();
    let ids = std::thread::scope(|s| {
        let dialers: Vec<_> = (0..4)
            .map(|_| {
                let net = net.clone();
                s.spawn(move || {
                    (0..100)
                        .map(|_| run(net.connect("svc")).unwrap().local_addr())
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        let acceptor = s.spawn(|| {
            (0..400)
                .map(|_| run(listener.accept()).unwrap())
                .collect::<Vec<_>>()
        });
        let ids: Vec<_> = dialers
            .into_iter()
            .flat_map(|d| d.join().unwrap())
            .collect();
        drop(acceptor.join().unwrap());
        ids
    });
    let unique: std::collections::HashSet<_> = ids.iter().collect();
    assert_eq!(unique.len(), 400);
}
