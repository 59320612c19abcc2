//! Faults on TCP and Unix sockets (feature `net`): the same knobs as on `chan://`, through a
//! relay; every byte checked, ends of stream and resets crossing it.
#![cfg(feature = "net")]

mod common;

use std::io::ErrorKind;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use chanstream::net::{Conn, Listener};
use chanstream::{Error, Faults, Toward};
use common::{chan_err, pattern, run};
use futures::io::{AsyncReadExt, AsyncWriteExt};

/// The socket addresses to test on: TCP and, where there is one, Unix.
fn addrs(dir: &tempfile::TempDir) -> Vec<String> {
    let mut out = vec!["tcp://127.0.0.1:0".to_string()];
    if cfg!(unix) {
        out.push(format!(
            "unix://{}",
            dir.path().join("faults.sock").display()
        ));
    }
    out
}

async fn bound(addr: &str, faults: Option<&Faults>) -> Listener {
    let builder = Listener::builder();
    match faults {
        Some(f) => builder.faults(f).bind(addr).await.unwrap(),
        None => builder.bind(addr).await.unwrap(),
    }
}

fn every_fault(faults: &Faults) {
    faults.short_reads(0.5).short_writes(0.5).latency(
        Toward::Both,
        Duration::from_micros(20),
        Duration::from_micros(100),
    );
}

#[test]
fn sockets_behind_faults_deliver_every_byte_both_ways_through_a_stall() {
    let dir = tempfile::tempdir().unwrap();
    for addr in addrs(&dir) {
        Faults::for_each_seed(0..3, |faults| {
            every_fault(&faults);
            run(async {
                // Faults on both ends: the dial's and the listener's.
                let listener = bound(&addr, Some(&faults)).await;
                let to = listener.local_addr().to_string();
                let (mut c, mut s) =
                    futures::try_join!(Conn::connect(&to).faults(&faults), listener.accept())
                        .unwrap();
                assert!(format!("{c:?}").contains("fault_seed"), "{c:?}");
                assert_eq!(
                    s.peer_addr(),
                    c.local_addr(),
                    "{addr}: the socket's addresses"
                );
                let up = pattern(faults.seed(), 300_000);
                let down = pattern(faults.seed() + 1, 300_000);
                let client = async {
                    for chunk in up.chunks(4093) {
                        c.write_all(chunk).await.unwrap();
                    }
                    c.shutdown(Shutdown::Write).unwrap();
                    let mut got = Vec::new();
                    c.read_to_end(&mut got).await.unwrap();
                    got
                };
                let server = async {
                    let mut got = vec![0; 100_000];
                    s.read_exact(&mut got).await.unwrap();
                    faults.stall(Toward::Listener);
                    {
                        let mut more = [0; 1];
                        let read = s.read(&mut more);
                        futures::pin_mut!(read);
                        for _ in 0..10 {
                            assert!(futures::poll!(read.as_mut()).is_pending());
                        }
                    }
                    faults.release(Toward::Listener);
                    s.read_to_end(&mut got).await.unwrap(); // the client's half-close arrives
                    for chunk in down.chunks(5003) {
                        s.write_all(chunk).await.unwrap();
                    }
                    s.close().await.unwrap();
                    got
                };
                let (client_got, server_got) = futures::join!(client, server);
                if server_got != up || client_got != down {
                    return Err(format!("{addr}: other bytes"));
                }
                let stats = faults.stats();
                if stats.reads_shortened == 0 || stats.writes_shortened == 0 {
                    return Err(format!("{addr}: faults did not apply: {stats:?}"));
                }
                Ok(())
            })
        })
        .unwrap();
    }
}

#[test]
fn a_reset_of_a_faulty_tcp_socket_fails_this_end_and_resets_the_peer() {
    let faults = Faults::new(1);
    run(async {
        let listener = bound("tcp://127.0.0.1:0", Some(&faults)).await;
        let to = listener.local_addr().to_string();
        let (mut plain, mut faulty) =
            futures::try_join!(Conn::connect(&to), listener.accept()).unwrap();
        plain.write_all(b"some bytes").await.unwrap();
        let mut buf = [0; 10];
        faulty.read_exact(&mut buf).await.unwrap();
        faults.reset_now();
        assert_eq!(
            chan_err(&faulty.read(&mut buf).await.unwrap_err()),
            Error::ConnectionReset
        );
        assert_eq!(
            chan_err(&faulty.write(b"x").await.unwrap_err()),
            Error::ConnectionReset
        );
        // The plain peer's socket gets the RST.
        let err = plain.read(&mut buf).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err:?}");
    });
}

#[test]
fn dropping_a_faulty_socket_closes_it_and_the_peer_sees_end_of_stream() {
    let dir = tempfile::tempdir().unwrap();
    for addr in addrs(&dir) {
        let faults = Faults::new(2);
        run(async {
            let listener = bound(&addr, None).await;
            let to = listener.local_addr().to_string();
            let (faulty, mut plain) =
                futures::try_join!(Conn::connect(&to).faults(&faults), listener.accept()).unwrap();
            let clone = faulty.clone();
            drop(faulty);
            let mut probe = [0; 1];
            {
                // A clone keeps it open.
                let read = plain.read(&mut probe);
                futures::pin_mut!(read);
                assert!(futures::poll!(read.as_mut()).is_pending(), "{addr}");
            }
            drop(clone);
            assert_eq!(plain.read(&mut probe).await.unwrap(), 0, "{addr}");
        });
    }
}

#[test]
fn dial_faults_apply_to_socket_dials() {
    let faults = Faults::new(3);
    run(async {
        let listener = bound("tcp://127.0.0.1:0", None).await;
        let to = listener.local_addr().to_string();
        faults.refuse_dials(1);
        let err = Conn::connect(&to).faults(&faults).await.unwrap_err();
        assert_eq!(err, Error::ConnectionRefused);
        faults.time_out_dials(1);
        let started = Instant::now();
        let err = Conn::connect_timeout(&to, Duration::from_millis(30))
            .faults(&faults)
            .await
            .unwrap_err();
        assert_eq!(err, Error::ConnectTimeout);
        assert!(started.elapsed() >= Duration::from_millis(30));
        faults.fill_backlog(true);
        let err = Conn::connect(&to).faults(&faults).await.unwrap_err();
        assert_eq!(err, Error::ListenQueueFull);
        faults.fill_backlog(false);
        faults.delay_dials(1, Duration::from_millis(5));
        let (_c, _s) =
            futures::try_join!(Conn::connect(&to).faults(&faults), listener.accept()).unwrap();
    });
    let stats = faults.stats();
    assert_eq!(
        (
            stats.dials_refused,
            stats.dials_timed_out,
            stats.dials_backlog_full,
            stats.dials_delayed
        ),
        (1, 1, 1, 1)
    );
}

#[test]
fn deadlines_and_half_close_keep_their_rules_behind_faults() {
    let faults = Faults::new(4);
    faults.short_reads(1.0);
    run(async {
        let listener = bound("tcp://127.0.0.1:0", Some(&faults)).await;
        let to = listener.local_addr().to_string();
        let (mut c, mut s) = futures::try_join!(Conn::connect(&to), listener.accept()).unwrap();
        s.set_read_deadline(Some(Instant::now()));
        assert_eq!(
            chan_err(&s.read(&mut [0; 4]).await.unwrap_err()),
            Error::ReadTimeout
        );
        s.set_read_deadline(None);
        c.write_all(b"abcd").await.unwrap();
        c.shutdown(Shutdown::Write).unwrap();
        let mut got = Vec::new();
        s.read_to_end(&mut got).await.unwrap();
        assert_eq!(got, b"abcd");
        s.shutdown(Shutdown::Write).unwrap();
        assert_eq!(
            chan_err(&s.write(b"x").await.unwrap_err()),
            Error::ConnectionClosed
        );
        assert_eq!(c.read(&mut [0; 1]).await.unwrap(), 0);
    });
}
