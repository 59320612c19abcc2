//! A conformance suite modelled on Go's `golang.org/x/net/nettest.TestConn`: its eleven checks,
//! each run on a fresh connected pair with real threads standing in for goroutines. Where the Go
//! suite sleeps to let an operation block, these wait for the operation to report `Pending`.

#[macro_use]
mod common;

use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use chanstream::Error;
use common::{
    chan_err, pattern, read, run, signal_pending_to, write, write_all, TestConn, Transport,
};
use futures::io::AsyncReadExt;

on_every_transport!(
    basic_io,
    ping_pong,
    racy_read,
    racy_write,
    read_timeout_does_not_affect_write,
    write_timeout_does_not_affect_read,
    past_timeout,
    present_timeout,
    future_timeout,
    close_timeout,
    concurrent_methods,
    timeout_errors_are_timeouts_and_temporary,
);

fn long_ago() -> Instant {
    Instant::now()
        .checked_sub(Duration::from_secs(3600))
        .unwrap_or_else(Instant::now)
}

fn check_timeout(err: &std::io::Error) {
    assert!(chan_err(err).is_timeout(), "not a timeout: {err:?}");
}

/// Copies `from` to `to` in 1 KiB chunks until end of stream or an error.
fn chunked_copy<C: TestConn>(from: &C, to: &C) -> std::io::Result<u64> {
    run(async {
        let mut buf = [0u8; 1024];
        let mut total = 0;
        loop {
            let n = read(from, &mut buf).await?;
            if n == 0 {
                return Ok(total);
            }
            write_all(to, &buf[..n]).await?;
            total += n as u64;
        }
    })
}

/// Writes pseudo-random bytes to `to` until a write fails.
fn chunked_noise<C: TestConn>(to: &C) {
    let noise = pattern(0, 1024);
    while run(write_all(to, &noise)).is_ok() {}
}

/// Reads and discards until end of stream or an error.
fn discard<C: TestConn>(from: &C) {
    let mut buf = [0u8; 1024];
    while matches!(run(read(from, &mut buf)), Ok(n) if n > 0) {}
}

/// Writes into `c` and reads it back; `c`'s peer must echo.
fn roundtrip<C: TestConn>(c: &C) {
    c.set_deadline(None);
    const S: &[u8] = b"Hello, world!";
    run(write_all(c, S)).unwrap();
    let mut buf = [0u8; S.len()];
    run(c.clone().read_exact(&mut buf)).unwrap();
    assert_eq!(&buf, S);
}

/// Brings an echoed connection back to a known state: writes 0xff and reads until it comes back.
/// Assumes no 0xff is in flight.
fn resync<C: TestConn>(c: &C) {
    c.set_deadline(None);
    std::thread::scope(|s| {
        let w = s.spawn(|| run(write_all(c, &[0xff])));
        let mut buf = [0u8; 1024];
        loop {
            let n = run(read(c, &mut buf)).unwrap();
            assert!(n > 0, "unexpected end of stream while resyncing");
            if buf[..n].iter().position(|&b| b == 0xff) == Some(n - 1) {
                break;
            }
        }
        w.join().unwrap().unwrap();
    });
}

/// Ends a check whose peer runs a helper thread: shuts both ends down, so that thread ends on
/// every transport. (Go's suite closes only `c1`; but on TCP a peer's write after our
/// `shutdown(Read)` does not fail, it waits once the buffers are full: see the `net` docs.)
fn finish<C: TestConn>(c1: &C, c2: &C) {
    let _ = c1.shutdown(Shutdown::Both);
    let _ = c2.shutdown(Shutdown::Both);
}

/// Runs `check` on a fresh pair; shuts both ends afterwards so helper threads finish. (On TCP
/// the second shutdown may report the OS's `NotConnected`, the first having reset the
/// connection: its local effects hold all the same.)
fn with_pair<T: Transport>(check: impl FnOnce(&T::Conn, &T::Conn)) {
    let (c1, c2) = T::pair();
    check(&c1, &c2);
    let _ = c1.shutdown(Shutdown::Both);
    let _ = c2.shutdown(Shutdown::Both);
}

fn basic_io<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        let want = pattern(1, 1 << 20);
        std::thread::scope(|s| {
            s.spawn(|| {
                for chunk in want.chunks(1024) {
                    run(write_all(c1, chunk)).unwrap();
                }
                c1.shutdown(Shutdown::Both).unwrap();
            });
            let got = s
                .spawn(|| {
                    let mut got = Vec::new();
                    let mut buf = [0u8; 1024];
                    loop {
                        match run(read(c2, &mut buf)).unwrap() {
                            0 => break,
                            n => got.extend_from_slice(&buf[..n]),
                        }
                    }
                    c2.shutdown(Shutdown::Both).unwrap();
                    got
                })
                .join()
                .unwrap();
            assert!(got == want, "transmitted data differs");
        });
    });
}

fn ping_pong<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        let ping_ponger = |c: &T::Conn| {
            let mut buf = [0u8; 8];
            let mut prev = 0u64;
            loop {
                let r = run(c.clone().read_exact(&mut buf));
                match r {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::UnexpectedEof => break,
                    Err(e) => panic!("unexpected read error: {e:?}"),
                }
                let v = u64::from_le_bytes(buf);
                buf = (v + 1).to_le_bytes();
                if prev != 0 {
                    assert_eq!(v, prev + 2, "mismatching value");
                }
                prev = v;
                if v == 1000 {
                    break;
                }
                run(write_all(c, &buf)).unwrap();
            }
            c.shutdown(Shutdown::Both).unwrap();
        };
        std::thread::scope(|s| {
            s.spawn(|| ping_ponger(c1));
            s.spawn(|| ping_ponger(c2));
            run(write_all(c1, &[0; 8])).unwrap();
        });
    });
}

fn racy_read<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        std::thread::scope(|s| {
            s.spawn(|| chunked_noise(c2));
            c1.set_read_deadline(Some(Instant::now() + Duration::from_millis(1)));
            let readers: Vec<_> = (0..10)
                .map(|_| {
                    s.spawn(|| {
                        let mut b1 = vec![0u8; 1024];
                        let b2 = vec![0u8; 1024];
                        for _ in 0..100 {
                            let r = run(read(c1, &mut b1));
                            b1.copy_from_slice(&b2);
                            if let Err(e) = r {
                                check_timeout(&e);
                                c1.set_read_deadline(Some(
                                    Instant::now() + Duration::from_millis(1),
                                ));
                            }
                        }
                    })
                })
                .collect();
            for r in readers {
                r.join().unwrap();
            }
            finish(c1, c2);
        });
    });
}

fn racy_write<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        std::thread::scope(|s| {
            s.spawn(|| discard(c2));
            c1.set_write_deadline(Some(Instant::now() + Duration::from_millis(1)));
            let writers: Vec<_> = (0..10)
                .map(|_| {
                    s.spawn(|| {
                        let mut b1 = vec![0u8; 1024];
                        let b2 = vec![1u8; 1024];
                        for _ in 0..100 {
                            let r = run(write(c1, &b1));
                            b1.copy_from_slice(&b2);
                            if let Err(e) = r {
                                check_timeout(&e);
                                c1.set_write_deadline(Some(
                                    Instant::now() + Duration::from_millis(1),
                                ));
                            }
                        }
                    })
                })
                .collect();
            for w in writers {
                w.join().unwrap();
            }
            finish(c1, c2);
        });
    });
}

fn read_timeout_does_not_affect_write<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        std::thread::scope(|s| {
            s.spawn(|| discard(c2));
            c1.set_read_deadline(Some(long_ago()));
            check_timeout(&run(read(c1, &mut [0; 1024])).unwrap_err());
            run(write_all(c1, &[0; 1024])).unwrap();
            finish(c1, c2);
        });
    });
}

fn write_timeout_does_not_affect_read<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        std::thread::scope(|s| {
            s.spawn(|| chunked_noise(c2));
            c1.set_write_deadline(Some(long_ago()));
            check_timeout(&run(write(c1, &[0; 1024])).unwrap_err());
            assert!(run(read(c1, &mut [0; 1024])).unwrap() > 0);
            finish(c1, c2);
        });
    });
}

fn past_timeout<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        std::thread::scope(|s| {
            s.spawn(|| chunked_copy(c2, c2));
            roundtrip(c1);
            c1.set_deadline(Some(long_ago()));
            let e = run(write(c1, &[0; 1024])).unwrap_err();
            check_timeout(&e);
            let mut buf = [7u8; 1024];
            let e = run(read(c1, &mut buf)).unwrap_err();
            check_timeout(&e);
            assert!(buf.iter().all(|&b| b == 7), "a timed-out read moved bytes");
            roundtrip(c1);
            finish(c1, c2);
        });
    });
}

fn present_timeout<T: Transport>() {
    with_pair::<T>(|c1, _c2| {
        let deadline_set = AtomicBool::new(false);
        let (tx, blocked) = mpsc::channel();
        std::thread::scope(|s| {
            let reader = {
                let tx = tx.clone();
                let deadline_set = &deadline_set;
                s.spawn(move || {
                    let mut buf = [0u8; 1024];
                    let r = run(signal_pending_to(read(c1, &mut buf), tx));
                    check_timeout(&r.unwrap_err());
                    assert!(
                        deadline_set.load(Ordering::SeqCst),
                        "read timed out before deadline was set"
                    );
                })
            };
            let writer = {
                let deadline_set = &deadline_set;
                s.spawn(move || {
                    let buf = [0u8; 1024];
                    let err = loop {
                        if let Err(e) = run(signal_pending_to(write(c1, &buf), tx.clone())) {
                            break e;
                        }
                    };
                    check_timeout(&err);
                    assert!(
                        deadline_set.load(Ordering::SeqCst),
                        "write timed out before deadline was set"
                    );
                })
            };
            blocked.recv().unwrap();
            blocked.recv().unwrap();
            deadline_set.store(true, Ordering::SeqCst);
            c1.set_read_deadline(Some(long_ago()));
            c1.set_write_deadline(Some(long_ago()));
            reader.join().unwrap();
            writer.join().unwrap();
        });
    });
}

fn future_timeout<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        c1.set_deadline(Some(Instant::now() + Duration::from_millis(100)));
        std::thread::scope(|s| {
            let r = s.spawn(|| check_timeout(&run(read(c1, &mut [0; 1024])).unwrap_err()));
            let w = s.spawn(|| {
                let err = loop {
                    if let Err(e) = run(write(c1, &[0; 1024])) {
                        break e;
                    }
                };
                check_timeout(&err);
            });
            r.join().unwrap();
            w.join().unwrap();
            s.spawn(|| chunked_copy(c2, c2));
            resync(c1);
            roundtrip(c1);
            finish(c1, c2);
        });
    });
}

fn close_timeout<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        c1.set_deadline(None);
        std::thread::scope(|s| {
            s.spawn(|| chunked_copy(c2, c2));
            let (tx, started) = mpsc::channel();
            let reader = {
                let tx = tx.clone();
                s.spawn(move || {
                    let mut buf = [0u8; 1024];
                    loop {
                        match run(read(c1, &mut buf)) {
                            Ok(0) | Err(_) => break,
                            Ok(_) => {
                                let _ = tx.send(());
                            }
                        }
                    }
                })
            };
            let writer = s.spawn(move || {
                let buf = [0u8; 1024];
                loop {
                    if run(write(c1, &buf)).is_err() {
                        break;
                    }
                    let _ = tx.send(());
                }
            });
            // Both loops are running: the reader has seen echoed bytes.
            started.recv().unwrap();
            started.recv().unwrap();
            finish(c1, c2);
            reader.join().unwrap();
            writer.join().unwrap();
        });
    });
}

fn concurrent_methods<T: Transport>() {
    with_pair::<T>(|c1, c2| {
        std::thread::scope(|s| {
            s.spawn(|| chunked_copy(c2, c2));
            let pool = futures::executor::ThreadPool::builder()
                .pool_size(8)
                .create()
                .unwrap();
            let (done_tx, done) = mpsc::channel::<()>();
            for _ in 0..100 {
                for op in 0..6 {
                    let c = c1.clone();
                    let done_tx = done_tx.clone();
                    pool.spawn_ok(async move {
                        match op {
                            0 => drop(read(&c, &mut [0; 1024]).await),
                            1 => drop(write(&c, &[0; 1024]).await),
                            2 => c.set_deadline(Some(Instant::now() + Duration::from_millis(10))),
                            3 => c.set_read_deadline(Some(long_ago())),
                            4 => c.set_write_deadline(Some(long_ago())),
                            _ => drop(c.addrs()),
                        }
                        drop(done_tx);
                    });
                }
            }
            drop(done_tx);
            // Every task has finished when the last sender is gone.
            assert!(done.recv().is_err());
            resync(c1);
            roundtrip(c1);
            finish(c1, c2);
        });
    });
}

fn timeout_errors_are_timeouts_and_temporary<T: Transport>() {
    let (c1, _c2) = T::pair();
    c1.set_deadline(Some(long_ago()));
    for e in [
        run(read(&c1, &mut [0; 1])).unwrap_err(),
        run(write(&c1, &[0; 1])).unwrap_err(),
    ] {
        let e = chan_err(&e);
        assert!(e.is_timeout() && e.is_temporary());
        assert!(matches!(e, Error::ReadTimeout | Error::WriteTimeout));
    }
}
