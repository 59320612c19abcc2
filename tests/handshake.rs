//! Dialing, accepting, the backlog, and closing listeners (SPEC 2).

mod common;

use std::task::Poll;
use std::time::Duration;

use chanstream::{Error, Network, DEFAULT_BACKLOG};
use common::{counting_waker, pair_in, poll_once, run, signal_pending};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

#[test]
fn connect_without_listener_is_refused_at_once() {
    let net = Network::new();
    assert_eq!(
        run(net.connect("nobody")).unwrap_err(),
        Error::ConnectionRefused
    );
}

#[test]
fn a_dial_goes_to_the_listener_bound_when_it_is_first_polled() {
    let net = Network::new();
    // Created before anything is bound.
    let early = net.connect("later");
    let listener = net.bind("later").unwrap();
    let (client, _server) = run(async { futures::try_join!(early, listener.accept()) }).unwrap();
    assert_eq!(client.peer_addr().as_str(), "later");

    // Created while one listener is bound, polled after it closed and another took the name.
    let first = net.bind("rebound").unwrap();
    let dial = net.connect("rebound");
    first.close();
    let second = net.bind("rebound").unwrap();
    let (mut client, server) = run(async { futures::try_join!(dial, second.accept()) }).unwrap();
    run(client.write_all(b"x")).unwrap();
    let mut byte = [0u8];
    run((&server).read_exact(&mut byte)).unwrap();
    assert_eq!(&byte, b"x");

    // Created while bound, polled after the name was freed: refused, as a dial to no one.
    let gone = net.bind("gone").unwrap();
    let dial = net.connect("gone");
    drop(gone);
    assert_eq!(run(dial).unwrap_err(), Error::ConnectionRefused);
}

#[test]
fn bind_of_a_taken_name_is_addr_in_use() {
    let net = Network::new();
    let _l = net.bind("taken").unwrap();
    assert_eq!(net.bind("taken").unwrap_err(), Error::AddrInUse);
}

#[test]
fn connect_completes_only_once_accept_takes_it() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (waker, _) = counting_waker();
    let mut dial = net.connect("svc");
    for _ in 0..3 {
        assert!(poll_once(&mut dial, &waker).is_pending());
    }
    let server = run(listener.accept()).unwrap();
    let client = match poll_once(&mut dial, &waker) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("connect still pending after accept"),
    };
    assert_eq!(server.peer_addr(), client.local_addr());
}

#[test]
fn accept_wakes_the_waiting_dialer() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (waker, count) = counting_waker();
    let mut dial = net.connect("svc");
    // The first poll yields (waking itself once); the second one waits for `accept`.
    assert!(poll_once(&mut dial, &waker).is_pending());
    assert!(poll_once(&mut dial, &waker).is_pending());
    let before = count.count();
    let _server = run(listener.accept()).unwrap();
    assert!(count.count() > before, "accept did not wake the dialer");
}

#[test]
fn a_connection_keeps_no_waker_of_its_dialer() {
    // A manual clock: its handshake timer holds the dialer's waker only while the dial waits.
    let clock = chanstream::ManualClock::new();
    let net = Network::with_clock(clock.clock());
    let listener = net.bind("svc").unwrap();
    let (waker, count) = counting_waker();
    let mut dial = net.connect("svc");
    assert!(poll_once(&mut dial, &waker).is_pending());
    assert!(poll_once(&mut dial, &waker).is_pending());
    let server = run(listener.accept()).unwrap();
    let client = match poll_once(&mut dial, &waker) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("connect still pending after accept"),
    };
    drop(dial);
    // Only this test's two handles remain: the live connection released the dialer's waker.
    assert_eq!(std::sync::Arc::strong_count(&count), 2);
    drop((client, server));
}

#[test]
fn a_dialer_that_gives_up_is_neither_woken_nor_kept() {
    let clock = chanstream::ManualClock::new();
    let net = Network::with_clock(clock.clock());
    let _listener = net.bind("svc").unwrap();
    let (waker, count) = counting_waker();
    let mut dial = net.connect("svc");
    assert!(poll_once(&mut dial, &waker).is_pending());
    assert!(poll_once(&mut dial, &waker).is_pending());
    let before = count.count();
    drop(dial);
    assert_eq!(count.count(), before, "the withdrawn dialer was woken");
    assert_eq!(
        std::sync::Arc::strong_count(&count),
        2,
        "its waker is still held"
    );
}

#[test]
fn full_backlog_fails_fast_with_a_temporary_error() {
    let net = Network::new();
    let listener = net.listener().backlog(2).bind("svc").unwrap();
    let (waker, _) = counting_waker();
    let mut a = net.connect("svc");
    let mut b = net.connect("svc");
    assert!(poll_once(&mut a, &waker).is_pending());
    assert!(poll_once(&mut b, &waker).is_pending());
    let mut c = net.connect("svc");
    match poll_once(&mut c, &waker) {
        Poll::Ready(Err(e)) => {
            assert_eq!(e, Error::ListenQueueFull);
            assert!(e.is_temporary() && !e.is_timeout());
        }
        other => panic!("third dial should fail at once, got {other:?}"),
    }
    // Accepting one frees a slot.
    let _s = run(listener.accept()).unwrap();
    let mut d = net.connect("svc");
    assert!(poll_once(&mut d, &waker).is_pending());
}

#[test]
fn default_backlog_is_32() {
    assert_eq!(DEFAULT_BACKLOG, 32);
    let net = Network::new();
    let _listener = net.bind("svc").unwrap();
    let (waker, _) = counting_waker();
    let mut dials: Vec<_> = (0..32).map(|_| net.connect("svc")).collect();
    for d in &mut dials {
        assert!(poll_once(d, &waker).is_pending());
    }
    assert_eq!(run(net.connect("svc")).unwrap_err(), Error::ListenQueueFull);
}

#[test]
fn unaccepted_dial_times_out() {
    let net = Network::new();
    let _listener = net.bind("svc").unwrap();
    let start = std::time::Instant::now();
    let err = run(net.connect_timeout("svc", Duration::from_millis(50))).unwrap_err();
    assert_eq!(err, Error::ConnectTimeout);
    assert!(err.is_timeout() && !err.is_temporary());
    let took = start.elapsed();
    assert!(
        took >= Duration::from_millis(50),
        "timed out early: {took:?}"
    );
    assert!(took < Duration::from_secs(5), "timed out late: {took:?}");
}

#[test]
fn timed_out_dial_is_never_accepted_and_frees_its_slot() {
    let net = Network::new();
    let listener = net.listener().backlog(1).bind("svc").unwrap();
    assert_eq!(
        run(net.connect_timeout("svc", Duration::from_millis(20))).unwrap_err(),
        Error::ConnectTimeout
    );
    // The slot is free again: a new dial is queued, not refused.
    let (client, server) =
        run(async { futures::try_join!(net.connect("svc"), listener.accept()) }).unwrap();
    // And the accepted end is that new dial's, not the timed-out one's.
    assert_eq!(server.peer_addr(), client.local_addr());
    let (mut client, mut server) = (client, server);
    run(async {
        client.write_all(b"live").await.unwrap();
        let mut buf = [0; 4];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"live");
    });
}

#[test]
fn dropped_dial_is_never_accepted_and_frees_its_slot() {
    let net = Network::new();
    let listener = net.listener().backlog(1).bind("svc").unwrap();
    let (waker, _) = counting_waker();
    let mut dial = net.connect("svc");
    assert!(poll_once(&mut dial, &waker).is_pending());
    drop(dial);
    let mut live = net.connect("svc");
    assert!(poll_once(&mut live, &waker).is_pending(), "slot not freed");
    let server = run(listener.accept()).unwrap();
    let client = match poll_once(&mut live, &waker) {
        Poll::Ready(r) => r.unwrap(),
        Poll::Pending => panic!("live dial not accepted"),
    };
    assert_eq!(server.peer_addr(), client.local_addr());
}

#[test]
fn many_abandoned_dials_leave_only_the_live_one_to_accept() {
    let net = Network::new();
    let listener = net.listener().backlog(4).bind("svc").unwrap();
    let (waker, _) = counting_waker();
    for _ in 0..10_000 {
        let mut d = net.connect("svc");
        assert!(poll_once(&mut d, &waker).is_pending());
    }
    let mut live = net.connect("svc");
    assert!(poll_once(&mut live, &waker).is_pending());
    let server = run(listener.accept()).unwrap();
    let Poll::Ready(Ok(client)) = poll_once(&mut live, &waker) else {
        panic!("live dial not accepted first");
    };
    assert_eq!(server.peer_addr(), client.local_addr());
    // Nothing else is waiting.
    listener.set_deadline(Some(std::time::Instant::now()));
    assert_eq!(run(listener.accept()).unwrap_err(), Error::AcceptTimeout);
}

#[test]
fn accept_returns_dials_in_order() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (waker, _) = counting_waker();
    let mut dials: Vec<_> = (0..5).map(|_| net.connect("svc")).collect();
    for d in &mut dials {
        assert!(poll_once(d, &waker).is_pending());
    }
    for d in &mut dials {
        let server = run(listener.accept()).unwrap();
        let Poll::Ready(Ok(client)) = poll_once(d, &waker) else {
            panic!("dial not completed by its accept");
        };
        assert_eq!(server.peer_addr(), client.local_addr());
    }
}

#[test]
fn closing_the_listener_refuses_waiting_dials() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (dial, blocked) = signal_pending(net.connect("svc"));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(dial));
        blocked.recv().unwrap();
        listener.close();
        assert_eq!(h.join().unwrap().unwrap_err(), Error::ConnectionRefused);
    });
    assert_eq!(
        run(net.connect("svc")).unwrap_err(),
        Error::ConnectionRefused
    );
}

#[test]
fn dropping_the_listener_refuses_waiting_dials_and_frees_the_name() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (waker, count) = counting_waker();
    let mut dial = net.connect("svc");
    assert!(poll_once(&mut dial, &waker).is_pending());
    drop(listener);
    assert!(count.count() >= 1, "close did not wake the dialer");
    assert!(matches!(
        poll_once(&mut dial, &waker),
        Poll::Ready(Err(Error::ConnectionRefused))
    ));
    let _again = net.bind("svc").unwrap();
}

#[test]
fn close_is_idempotent_and_rebinding_is_immediate() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    listener.close();
    listener.close();
    let second = net.bind("svc").unwrap();
    // Closing (or dropping) the old listener again must not unbind the new one.
    listener.close();
    drop(listener);
    let (c, s) = pair_in(&second);
    assert_eq!(s.peer_addr(), c.local_addr());
}

#[test]
fn accepted_connections_survive_listener_close() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (mut client, mut server) = pair_in(&listener);
    drop(listener);
    run(async {
        client.write_all(b"still here").await.unwrap();
        let mut buf = [0; 10];
        server.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still here");
    });
}

#[test]
fn accept_on_a_closed_listener_fails() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    listener.close();
    assert_eq!(run(listener.accept()).unwrap_err(), Error::ListenerClosed);
}

#[test]
fn close_wakes_a_blocked_accept() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (accept, blocked) = signal_pending(listener.accept());
    std::thread::scope(|s| {
        let h = s.spawn(|| run(accept));
        blocked.recv().unwrap();
        listener.close();
        assert_eq!(h.join().unwrap().unwrap_err(), Error::ListenerClosed);
    });
}

#[test]
fn incoming_yields_connections_and_ends_when_closed() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    run(async {
        let dials = async {
            let mut v = Vec::new();
            for _ in 0..3 {
                v.push(net.connect("svc").await.unwrap());
            }
            listener.close();
            v
        };
        let accepts = listener.incoming().collect::<Vec<_>>();
        let (clients, servers) = futures::join!(dials, accepts);
        assert_eq!(servers.len(), 3);
        for (c, s) in clients.iter().zip(&servers) {
            assert_eq!(s.as_ref().unwrap().peer_addr(), c.local_addr());
        }
    });
}

#[test]
fn dropped_accept_loses_no_connection() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (waker, _) = counting_waker();
    let mut accept = listener.accept();
    assert!(poll_once(&mut accept, &waker).is_pending());
    drop(accept);
    let (client, server) =
        run(async { futures::try_join!(net.connect("svc"), listener.accept()) }).unwrap();
    assert_eq!(server.peer_addr(), client.local_addr());
}

#[test]
fn bad_arguments_are_clear_errors() {
    let net = Network::new();
    assert!(matches!(net.bind(""), Err(Error::InvalidInput(_))));
    assert!(matches!(
        net.listener().backlog(0).bind("a"),
        Err(Error::InvalidInput(_))
    ));
    assert!(matches!(
        net.listener().buffer_size(0).bind("a"),
        Err(Error::InvalidInput(_))
    ));
    let _l = net.bind("a").unwrap();
    assert!(matches!(run(net.connect("")), Err(Error::InvalidInput(_))));
    assert!(matches!(
        run(net.connect_timeout("a", Duration::ZERO)),
        Err(Error::InvalidInput(_))
    ));
    let io: std::io::Error = Error::InvalidInput("empty name").into();
    assert_eq!(io.kind(), std::io::ErrorKind::InvalidInput);
    assert_eq!(
        Error::InvalidInput("empty name").to_string(),
        "invalid input: empty name"
    );
}

#[test]
fn huge_timeout_and_backlog_are_accepted() {
    let net = Network::new();
    let listener = net.listener().backlog(usize::MAX).bind("svc").unwrap();
    let (c, s) = run(async {
        futures::try_join!(net.connect_timeout("svc", Duration::MAX), listener.accept())
    })
    .unwrap();
    assert_eq!(s.peer_addr(), c.local_addr());
}

#[test]
fn dials_racing_listener_close_are_each_accepted_or_refused_exactly_once() {
    for round in 0..50 {
        let net = Network::new();
        let listener = net.listener().backlog(64).bind("svc").unwrap();
        std::thread::scope(|s| {
            let dialers: Vec<_> = (0..4)
                .map(|_| {
                    let net = net.clone();
                    s.spawn(move || {
                        let mut outcomes = Vec::new();
                        for _ in 0..8 {
                            outcomes.push(run(net.connect("svc")).map(|_| ()));
                        }
                        outcomes
                    })
                })
                .collect();
            let acceptor = s.spawn(|| {
                let mut n = 0;
                while run(listener.accept()).is_ok() {
                    n += 1;
                    if n == round % 20 {
                        listener.close();
                    }
                }
                n
            });
            let mut ok = 0;
            for d in dialers {
                for o in d.join().unwrap() {
                    match o {
                        Ok(()) => ok += 1,
                        Err(e) => assert_eq!(e, Error::ConnectionRefused),
                    }
                }
            }
            if round % 20 == 0 || ok == 32 {
                listener.close();
            }
            let accepted = acceptor.join().unwrap();
            assert_eq!(
                ok, accepted,
                "every completed dial was accepted exactly once"
            );
        });
    }
}
