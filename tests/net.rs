//! The `net` layer: addresses, binding and dialing on every transport, the cells of the "what
//! the peer sees" table in `chanstream::net`'s docs, Unix socket files, and the same exchange
//! under several executors. (The conformance, shutdown, deadline and robustness suites run
//! over every transport from their own files.)
#![cfg(feature = "net")]

mod common;

use std::io::ErrorKind;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use chanstream::net::{Addr, Conn, Listener};
use chanstream::{Error, Network};
use common::{net_pair, run, unix_addr};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::StreamExt;

/// A fresh address of each transport, and the transport's name.
fn addrs() -> Vec<(&'static str, String)> {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let mut v = vec![
        (
            "chan",
            format!("chan://net-test-{}-{n}", std::process::id()),
        ),
        ("tcp", "tcp://127.0.0.1:0".to_string()),
    ];
    if cfg!(unix) {
        v.push(("unix", unix_addr()));
    }
    v
}

// ---- Addresses and bad input --------------------------------------------------------------

#[test]
fn malformed_addresses_fail_with_invalid_input_naming_the_problem() {
    let cases = [
        ("no-scheme", "no scheme"),
        ("ftp://x:1", "unknown scheme"),
        ("chan://", "empty name"),
        ("tcp://127.0.0.1", "no port"),
        ("tcp://127.0.0.1:99999", "port"),
        ("tcp://::1:80", "brackets"),
        ("unix://relative.sock", "absolute"),
    ];
    for (addr, problem) in cases {
        let bound = run(Listener::bind(addr)).unwrap_err();
        let dialed = run(Conn::connect(addr)).unwrap_err();
        for err in [bound, dialed] {
            assert_eq!(err.kind(), ErrorKind::InvalidInput, "{addr}");
            assert!(err.to_string().contains(problem), "{addr}: {err}");
            assert!(matches!(err, Error::InvalidInput(_)));
        }
    }
}

#[test]
fn bound_addresses_round_trip_through_their_text() {
    for (_, addr) in addrs() {
        let listener = run(Listener::bind(&addr)).unwrap();
        let text = listener.local_addr().to_string();
        assert_eq!(text.parse::<Addr>().unwrap(), listener.local_addr());
        let (client, server) =
            run(async { futures::try_join!(Conn::connect(&text), listener.accept()) }).unwrap();
        assert_eq!(client.peer_addr(), listener.local_addr());
        assert_eq!(server.local_addr(), listener.local_addr());
        assert_eq!(server.peer_addr(), client.local_addr());
        assert_eq!(
            client.local_addr().network(),
            listener.local_addr().network()
        );
    }
}

#[test]
fn tcp_port_zero_binds_an_ephemeral_port_and_ipv6_works_where_available() {
    let listener = run(Listener::bind("tcp://127.0.0.1:0")).unwrap();
    assert_ne!(listener.local_addr().socket_addr().unwrap().port(), 0);
    // IPv6 loopback may be disabled on a host; where it binds, it must work end to end.
    if let Ok(listener) = run(Listener::bind("tcp://[::1]:0")) {
        let addr = listener.local_addr().to_string();
        assert!(addr.starts_with("tcp://[::1]:"), "{addr}");
        let (client, _server) =
            run(async { futures::try_join!(Conn::connect(&addr), listener.accept()) }).unwrap();
        assert_eq!(client.peer_addr(), listener.local_addr());
    }
}

#[test]
fn host_names_are_resolved_and_unknown_hosts_fail_with_host_not_found() {
    let listener = run(Listener::bind("tcp://localhost:0")).unwrap();
    let port = listener.local_addr().socket_addr().unwrap().port();
    let by_name = format!("tcp://localhost:{port}");
    let (client, _server) =
        run(async { futures::try_join!(Conn::connect(&by_name), listener.accept()) }).unwrap();
    assert!(client.peer_addr().socket_addr().unwrap().ip().is_loopback());
    // `.invalid` never resolves (RFC 6761).
    let err = run(Conn::connect("tcp://no-such-host.invalid:80")).unwrap_err();
    assert_eq!(err, Error::HostNotFound);
    assert_eq!(err.kind(), ErrorKind::NotFound);
}

#[test]
fn a_zero_connect_timeout_or_backlog_is_invalid_input() {
    let err = run(Conn::connect_timeout("tcp://127.0.0.1:1", Duration::ZERO)).unwrap_err();
    assert!(matches!(err, Error::InvalidInput(_)));
    for (_, addr) in addrs() {
        let err = run(Listener::builder().backlog(0).bind(&addr)).unwrap_err();
        assert!(matches!(err, Error::InvalidInput(_)), "{addr}: {err:?}");
    }
}

// ---- Binding and dialing: the same errors on every transport ------------------------------

#[test]
fn dialing_an_address_nobody_listens_on_is_refused_at_once() {
    for (name, addr) in addrs() {
        let listener = run(Listener::bind(&addr)).unwrap();
        let bound = listener.local_addr().to_string();
        drop(listener);
        let started = Instant::now();
        let err = run(Conn::connect(&bound)).unwrap_err();
        assert_eq!(err, Error::ConnectionRefused, "{name}");
        assert_eq!(err.kind(), ErrorKind::ConnectionRefused);
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "{name}: not prompt"
        );
    }
}

#[test]
fn binding_a_taken_address_is_addr_in_use() {
    for (name, addr) in addrs() {
        let listener = run(Listener::bind(&addr)).unwrap();
        let err = run(Listener::bind(&listener.local_addr().to_string())).unwrap_err();
        assert_eq!(err, Error::AddrInUse, "{name}");
        assert_eq!(err.kind(), ErrorKind::AddrInUse);
    }
}

#[test]
fn a_closed_listener_frees_its_address_at_once_and_ends_accepts() {
    for (name, addr) in addrs() {
        let listener = run(Listener::bind(&addr)).unwrap();
        let bound = listener.local_addr().to_string();
        let (accept, pending) = common::signal_pending(listener.accept());
        std::thread::scope(|s| {
            let waiting = s.spawn(|| run(accept));
            pending.recv().unwrap();
            listener.close();
            assert_eq!(
                waiting.join().unwrap().unwrap_err(),
                Error::ListenerClosed,
                "{name}"
            );
        });
        listener.close(); // idempotent
        assert_eq!(run(listener.accept()).unwrap_err(), Error::ListenerClosed);
        assert!(
            run(listener.incoming().next()).is_none(),
            "{name}: incoming goes on"
        );
        assert_eq!(
            run(Conn::connect(&bound)).unwrap_err(),
            Error::ConnectionRefused
        );
        let _again = run(Listener::bind(&bound)).unwrap();
    }
}

#[test]
fn connections_outlive_their_listener() {
    for (name, addr) in addrs() {
        let listener = run(Listener::bind(&addr)).unwrap();
        let bound = listener.local_addr().to_string();
        let (mut client, mut server) =
            run(async { futures::try_join!(Conn::connect(&bound), listener.accept()) }).unwrap();
        drop(listener);
        run(async {
            client.write_all(b"still here").await.unwrap();
            let mut buf = [0; 10];
            server.read_exact(&mut buf).await.unwrap();
            assert_eq!(&buf, b"still here", "{name}");
        });
    }
}

#[test]
fn accept_deadline_on_every_transport_fails_waiting_and_later_accepts_then_clears() {
    for (name, addr) in addrs() {
        let listener = run(Listener::bind(&addr)).unwrap();
        let (accept, pending) = common::signal_pending(listener.accept());
        std::thread::scope(|s| {
            let waiting = s.spawn(|| run(accept));
            pending.recv().unwrap();
            listener.set_deadline(Some(Instant::now()));
            assert_eq!(
                waiting.join().unwrap().unwrap_err(),
                Error::AcceptTimeout,
                "{name}"
            );
        });
        assert!(run(listener.accept()).unwrap_err().is_timeout());
        let started = Instant::now();
        listener.set_deadline(Some(started + Duration::from_millis(50)));
        assert_eq!(run(listener.accept()).unwrap_err(), Error::AcceptTimeout);
        assert!(
            started.elapsed() >= Duration::from_millis(50),
            "{name}: early"
        );
        listener.set_deadline(None);
        let bound = listener.local_addr().to_string();
        run(async { futures::try_join!(Conn::connect(&bound), listener.accept()) }).unwrap();
    }
}

#[test]
fn a_dial_that_times_out_is_connect_timeout() {
    // chan://: nobody accepts. tcp://: a backlog that is full (the kernel then drops the
    // handshake, the dial waits). unix:// never waits for accept: see the table.
    let listener = run(Listener::bind(&addrs()[0].1)).unwrap();
    let err = run(Conn::connect_timeout(
        &listener.local_addr().to_string(),
        Duration::from_millis(30),
    ))
    .unwrap_err();
    assert_eq!(err, Error::ConnectTimeout);
    let (tcp, held) = full_tcp_backlog();
    let started = Instant::now();
    let err = run(Conn::connect_timeout(&tcp, Duration::from_millis(100))).unwrap_err();
    assert_eq!(err, Error::ConnectTimeout);
    assert!(err.is_timeout() && err.kind() == ErrorKind::TimedOut);
    assert!(started.elapsed() >= Duration::from_millis(100));
    drop(held);
}

/// A TCP listener with a backlog of 1 that nobody accepts from, filled until a dial waits; the
/// connections that got in are returned to be kept open.
fn full_tcp_backlog() -> (String, (Listener, Vec<Conn>)) {
    let listener = run(Listener::builder().backlog(1).bind("tcp://127.0.0.1:0")).unwrap();
    let addr = listener.local_addr().to_string();
    let mut held = Vec::new();
    for _ in 0..16 {
        match run(Conn::connect_timeout(&addr, Duration::from_millis(200))) {
            Ok(conn) => held.push(conn),
            Err(Error::ConnectTimeout) => return (addr, (listener, held)),
            Err(e) => panic!("dial to a full TCP backlog failed with {e:?}"),
        }
    }
    panic!("16 dials to a TCP backlog of 1 all completed");
}

// ---- What the peer sees: one test per row of the table, each cell asserted ----------------

#[test]
fn table_peer_writes_after_a_read_shutdown() {
    for (name, addr) in addrs() {
        let (a, mut b) = net_pair(&addr);
        a.shutdown(Shutdown::Read).unwrap();
        assert_eq!(
            run(a.clone().read(&mut [0; 4])).unwrap(),
            0,
            "{name}: own read"
        );
        let written = run(b.write(b"hello"));
        match name {
            "tcp" => {
                assert_eq!(written.unwrap(), 5, "tcp: the peer's write succeeds");
                // ... until the buffers are full: then writes wait (`fill` panics on an error).
                assert!(common::fill(&b) > 0);
            }
            _ => {
                let err = written.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::BrokenPipe, "{name}");
                assert_eq!(
                    Error::from_io(&err),
                    Some(Error::ConnectionClosed),
                    "{name}"
                );
            }
        }
    }
}

#[test]
fn table_peer_reads_after_a_close_with_unread_bytes() {
    for (name, addr) in addrs() {
        let (a, mut b) = net_pair(&addr);
        run(async {
            b.write_all(b"never read").await.unwrap();
            a.clone().write_all(b"sent").await.unwrap();
        });
        // B's write returned: its bytes are at A's end (in the kernel's receive queue, for a
        // loopback socket), so A closes with them unread.
        drop(a);
        let mut got = Vec::new();
        let result = run(b.read_to_end(&mut got));
        match name {
            "chan" => {
                result.unwrap();
                assert_eq!(got, b"sent", "chan: every byte, then end of stream");
            }
            _ => {
                let err = result.unwrap_err();
                assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{name}: {err:?}");
                assert!(err.raw_os_error().is_some(), "{name}: the OS error is kept");
                assert!(b"sent".starts_with(&got), "{name}: got {got:?}");
            }
        }
    }
}

#[test]
fn table_peer_writes_after_a_close() {
    for (name, addr) in addrs() {
        let (a, mut b) = net_pair(&addr);
        drop(a);
        // End of stream first, on every transport.
        assert_eq!(run(b.read(&mut [0; 4])).unwrap(), 0, "{name}");
        let first = run(b.write(b"x"));
        let second = run(b.write(b"x"));
        match name {
            "tcp" => {
                // The first may go out (the RST comes back in answer to it); a later one fails.
                let failed = first.err().or(second.err()).or(run(b.write(b"x")).err());
                assert_eq!(
                    failed.expect("tcp: writes kept succeeding").kind(),
                    ErrorKind::BrokenPipe
                );
            }
            _ => {
                assert_eq!(first.unwrap_err().kind(), ErrorKind::BrokenPipe, "{name}");
                assert_eq!(second.unwrap_err().kind(), ErrorKind::BrokenPipe, "{name}");
            }
        }
    }
}

#[test]
fn table_shutdown_after_a_reset() {
    for (name, addr) in addrs() {
        let (a, b) = net_pair(&addr);
        run(b.clone().write_all(b"unread")).unwrap();
        drop(a); // with unread bytes: a reset on sockets
        let mut buf = [0; 8];
        let _ = run(b.clone().read(&mut buf));
        let result = b.shutdown(Shutdown::Write);
        match name {
            "tcp" => assert!(
                matches!(
                    result,
                    Err(Error::Os {
                        kind: ErrorKind::NotConnected,
                        code: Some(_)
                    })
                ),
                "tcp: {result:?}"
            ),
            _ => result.unwrap(),
        }
        // The local effect holds all the same, and a repeated shutdown is Ok.
        assert_eq!(
            run(b.clone().write(b"x")).unwrap_err().kind(),
            ErrorKind::BrokenPipe
        );
        b.shutdown(Shutdown::Write).unwrap();
    }
}

#[test]
fn table_when_a_dial_completes() {
    for (name, addr) in addrs() {
        let listener = run(Listener::bind(&addr)).unwrap();
        let bound = listener.local_addr().to_string();
        // Long enough for a socket dial on a slow machine (under valgrind), short for chan's.
        let limit = match name {
            "chan" => Duration::from_millis(50),
            _ => Duration::from_secs(10),
        };
        let result = run(Conn::connect_timeout(&bound, limit));
        match name {
            "chan" => assert_eq!(
                result.unwrap_err(),
                Error::ConnectTimeout,
                "chan waits for accept"
            ),
            _ => {
                let client = result.unwrap_or_else(|e| panic!("{name}: {e:?}"));
                let server = run(listener.accept()).unwrap();
                assert_eq!(server.peer_addr(), client.local_addr());
            }
        }
    }
}

#[test]
fn table_a_dial_to_a_full_backlog() {
    for (name, addr) in addrs() {
        if name == "tcp" {
            // Never ListenQueueFull: a dial past the backlog waits, then times out.
            let (addr, held) = full_tcp_backlog();
            let err = run(Conn::connect_timeout(&addr, Duration::from_millis(50))).unwrap_err();
            assert_eq!(err, Error::ConnectTimeout);
            drop(held);
            continue;
        }
        let listener = run(Listener::builder().backlog(1).bind(&addr)).unwrap();
        let bound = listener.local_addr().to_string();
        let mut held = Vec::new();
        let err = loop {
            // chan:// queues a dial only while it is polled: keep the dials pending.
            let mut dial = Box::pin(Conn::connect(&bound));
            match futures::FutureExt::now_or_never(&mut dial) {
                Some(Ok(conn)) => held.push(Ok(conn)),
                Some(Err(e)) => break e,
                None => held.push(Err(dial)),
            }
            assert!(held.len() < 64, "{name}: the backlog never filled");
        };
        assert_eq!(err, Error::ListenQueueFull, "{name}");
        assert!(err.is_temporary());
    }
}

// ---- Unix socket files ----------------------------------------------------------------------

#[cfg(unix)]
mod unix_files {
    use super::*;
    use std::path::PathBuf;

    fn path_of(addr: &str) -> PathBuf {
        PathBuf::from(addr.strip_prefix("unix://").unwrap())
    }

    #[test]
    fn a_unix_listener_removes_its_socket_file_on_close_and_on_drop() {
        let addr = unix_addr();
        let listener = run(Listener::bind(&addr)).unwrap();
        assert!(path_of(&addr).exists());
        listener.close();
        assert!(!path_of(&addr).exists(), "close left the file");
        let listener = run(Listener::bind(&addr)).unwrap();
        drop(listener);
        assert!(!path_of(&addr).exists(), "drop left the file");
        let _again = run(Listener::bind(&addr)).unwrap();
    }

    #[test]
    fn a_stale_socket_file_is_replaced_but_a_live_one_or_a_plain_file_is_addr_in_use() {
        let addr = unix_addr();
        let path = path_of(&addr);
        // A listener that died without cleaning up: bound by the standard library, then
        // dropped (it leaves its file).
        drop(std::os::unix::net::UnixListener::bind(&path).unwrap());
        assert!(path.exists());
        let listener = run(Listener::bind(&addr)).unwrap();
        let (client, _server) =
            run(async { futures::try_join!(Conn::connect(&addr), listener.accept()) }).unwrap();
        assert_eq!(client.peer_addr().to_string(), addr);
        assert_eq!(run(Listener::bind(&addr)).unwrap_err(), Error::AddrInUse);
        drop(listener);
        std::fs::write(&path, b"not a socket").unwrap();
        assert_eq!(run(Listener::bind(&addr)).unwrap_err(), Error::AddrInUse);
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"not a socket",
            "a plain file was touched"
        );
    }

    #[test]
    fn a_listener_leaves_a_file_that_replaced_its_own() {
        let addr = unix_addr();
        let path = path_of(&addr);
        let listener = run(Listener::bind(&addr)).unwrap();
        std::fs::remove_file(&path).unwrap();
        std::fs::write(&path, b"someone else's").unwrap();
        drop(listener);
        assert_eq!(std::fs::read(&path).unwrap(), b"someone else's");
    }

    #[test]
    fn dialing_a_path_with_no_socket_file_is_refused() {
        let addr = unix_addr();
        assert_eq!(
            run(Conn::connect(&addr)).unwrap_err(),
            Error::ConnectionRefused
        );
    }

    #[test]
    fn a_dialed_unix_end_is_unnamed() {
        let (client, server) = net_pair(&unix_addr());
        assert_eq!(client.local_addr().to_string(), "unix://");
        assert_eq!(client.local_addr().unix_path(), None);
        assert_eq!(server.peer_addr(), client.local_addr());
        assert!("unix://".parse::<Addr>().is_err());
    }

    #[test]
    fn binding_in_a_missing_directory_keeps_the_os_error() {
        let err = run(Listener::bind("unix:///nonexistent-dir-chanstream/x.sock")).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
        assert!(matches!(err, Error::Os { code: Some(_), .. }), "{err:?}");
        let io: std::io::Error = err.into();
        assert!(io.raw_os_error().is_some());
        assert_eq!(Error::from_io(&io), Some(err), "an OS error converts back");
    }
}

// ---- Conversions and isolated networks ------------------------------------------------------

#[test]
fn isolated_networks_work_through_the_layer() {
    let net = Network::new();
    let listener: Listener = net.listener().backlog(4).bind("isolated").unwrap().into();
    let (client, server) = run(async {
        futures::try_join!(
            async { net.connect("isolated").await.map(Conn::from) },
            listener.accept()
        )
    })
    .unwrap();
    assert_eq!(listener.local_addr().to_string(), "chan://isolated");
    assert_eq!(server.peer_addr(), client.local_addr());
    // Not reachable through the global network.
    assert_eq!(
        run(Conn::connect("chan://isolated")).unwrap_err(),
        Error::ConnectionRefused
    );
}

// ---- The same exchange under every executor, on every transport -----------------------------

/// Ping-pong, a read deadline that fires, and a 1 MiB echo with a half-close.
async fn exchange(addr: String) {
    let listener = Listener::bind(&addr).await.unwrap();
    let bound = listener.local_addr().to_string();
    let (mut client, server) =
        futures::try_join!(Conn::connect(&bound), listener.accept()).unwrap();
    let data = common::pattern(3, 1 << 20);
    let echo = async {
        let mut buf = vec![0; 64 << 10];
        let mut s = server.clone();
        loop {
            let n = s.read(&mut buf).await.unwrap();
            if n == 0 {
                break s.shutdown(Shutdown::Write).unwrap();
            }
            s.write_all(&buf[..n]).await.unwrap();
        }
    };
    let talk = async {
        client.write_all(b"ping").await.unwrap();
        let mut four = [0; 4];
        client.read_exact(&mut four).await.unwrap();
        assert_eq!(&four, b"ping");
        client.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)));
        let err = client.read(&mut four).await.unwrap_err();
        assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
        client.set_read_deadline(None);
        let mut writer = client.clone();
        let send = async {
            writer.write_all(&data).await.unwrap();
            writer.shutdown(Shutdown::Write).unwrap();
        };
        let mut got = Vec::new();
        let receive = client.read_to_end(&mut got);
        let ((), n) = futures::join!(send, receive);
        assert_eq!(n.unwrap(), data.len());
        assert!(got == data, "echo differs");
    };
    futures::join!(echo, talk);
}

#[test]
fn the_exchange_runs_under_block_on() {
    for (_, addr) in addrs() {
        futures::executor::block_on(exchange(addr));
    }
}

#[test]
fn the_exchange_runs_on_a_thread_pool() {
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(2)
        .create()
        .unwrap();
    for (_, addr) in addrs() {
        let (tx, rx) = std::sync::mpsc::channel();
        pool.spawn_ok(async move {
            exchange(addr).await;
            tx.send(()).unwrap();
        });
        rx.recv_timeout(Duration::from_secs(60))
            .expect("the exchange did not finish");
    }
}

#[test]
fn the_exchange_runs_under_smol() {
    for (_, addr) in addrs() {
        smol::block_on(smol::spawn(exchange(addr)));
    }
}

#[test]
fn the_exchange_runs_under_async_std() {
    for (_, addr) in addrs() {
        async_std::task::block_on(async_std::task::spawn(exchange(addr)));
    }
}

#[test]
fn the_exchange_runs_under_tokio() {
    let rt = common::tokio_runtime();
    for (_, addr) in addrs() {
        rt.block_on(async { tokio::spawn(exchange(addr)).await.unwrap() });
    }
}

#[cfg(feature = "tokio")]
#[test]
fn tokio_traits_work_on_every_transport() {
    let rt = common::tokio_runtime();
    for (name, addr) in addrs() {
        let (mut a, mut b) = net_pair(&addr);
        rt.block_on(async {
            tokio::io::AsyncWriteExt::write_all(&mut a, b"tokio")
                .await
                .unwrap();
            tokio::io::AsyncWriteExt::shutdown(&mut a).await.unwrap();
            let mut got = Vec::new();
            tokio::io::AsyncReadExt::read_to_end(&mut b, &mut got)
                .await
                .unwrap();
            assert_eq!(got, b"tokio", "{name}");
        });
    }
}
