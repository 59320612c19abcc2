//! Robustness under load and adversarial use: a peer that never reads, many connections across
//! threads, futures dropped mid-way, and one huge write. The generic tests run on every
//! transport (`on_every_transport!`): `chan://` directly and through `chanstream::net`,
//! `tcp://` and `unix://`.
//!
//! Tests that hold only for chan://:
//!
//! - `writes_to_a_never_reading_peer_stop_at_the_buffer_size`: a precise buffer size
//!   (`pair_with_buffer`); a socket's buffers are the kernel's.
//! - `a_single_write_is_split_at_the_buffer_size`: a precise buffer size (`pair_with_buffer`).
//! - `a_thousand_connections_exchange_data_across_threads`: dials a `chanstream::Listener` with a
//!   backlog of 1000 in its `Network` (a socket backlog is the kernel's).
//! - `concurrent_readers_get_disjoint_bytes_in_stream_order`: relies on 8-byte reads never being
//!   short, true of chan's 8 KiB buffer; a socket may return a short read at any byte.
//! - `dropping_connect_futures_under_load_never_strands_the_acceptor`: chan's handshake and
//!   backlog (a socket dial completes in the kernel before `accept`).
//! - `a_waker_dropped_by_a_wake_up_may_close_the_connection`: chan's lock order (the peer's write
//!   runs the wake-up); on sockets the reactor thread wakes, and the last write is the OS's cell.
//! - `a_kept_waker_displaced_by_another_task_may_close_the_connection`: chan keeps a woken
//!   waker for its next wait; a socket's deadline change drops it.
//! - `a_wake_up_that_drops_the_connection_does_not_deadlock`: chan's lock order (the wake-up runs
//!   inside the peer's write); on sockets it runs later on the reactor thread.

#[macro_use]
mod common;

use std::net::Shutdown;
use std::pin::pin;
use std::sync::{mpsc, Arc, Mutex};
use std::task::{Poll, Wake, Waker};
use std::time::{Duration, Instant};

use chanstream::{Conn, Error, Network};
use common::{
    chan_err, counting_waker, pair_with_buffer, pattern, poll_pinned, read, run, write, write_all,
    TestConn, Transport,
};
use futures::io::{AsyncReadExt, AsyncWriteExt};

on_every_transport!(
    a_64_mib_write_arrives_intact,
    dropped_read_and_write_futures_lose_nothing,
    deadline_churn_from_another_thread_never_damages_the_stream,
);

#[test]
fn writes_to_a_never_reading_peer_stop_at_the_buffer_size() {
    const BUF: usize = 64 * 1024;
    let (a, _b) = pair_with_buffer(BUF);
    let (waker, _) = counting_waker();
    let chunk = vec![0u8; 1000];
    let mut accepted = 0;
    loop {
        match poll_pinned(pin!(write(&a, &chunk)), &waker) {
            Poll::Ready(Ok(n)) => accepted += n,
            Poll::Ready(Err(e)) => panic!("unexpected error {e:?}"),
            Poll::Pending => break,
        }
        assert!(
            accepted <= BUF,
            "buffered {accepted} bytes, more than the bound"
        );
    }
    assert_eq!(accepted, BUF, "writes stopped before the buffer was full");
    // Further writes keep waiting, and a write deadline ends them.
    a.set_write_deadline(Some(Instant::now() + Duration::from_millis(20)));
    let err = run(write_all(&a, &[1; 4096])).unwrap_err();
    assert_eq!(chan_err(&err), Error::WriteTimeout);
}

#[test]
fn a_single_write_is_split_at_the_buffer_size() {
    let (a, _b) = pair_with_buffer(4096);
    let big = vec![9u8; 1 << 20];
    assert_eq!(run(write(&a, &big)).unwrap(), 4096);
}

fn a_64_mib_write_arrives_intact<T: Transport>() {
    let data = pattern(64, 64 << 20);
    let (mut a, b) = T::pair();
    std::thread::scope(|s| {
        let data = &data;
        s.spawn(move || {
            run(a.write_all(data)).unwrap();
            run(a.close()).unwrap();
        });
        // Read into a buffer of the final size (futures' `read_to_end` zero-fills its spare
        // capacity byte by byte, which is slow in debug builds).
        let mut got = vec![0u8; data.len()];
        let mut filled = 0;
        while filled < got.len() {
            let n = run(read(&b, &mut got[filled..])).unwrap();
            assert!(n > 0, "end of stream after {filled} bytes");
            filled += n;
        }
        assert_eq!(
            run(read(&b, &mut [0; 1])).unwrap(),
            0,
            "bytes beyond the end"
        );
        assert!(got == *data, "64 MiB stream damaged");
    });
}

#[test]
fn a_thousand_connections_exchange_data_across_threads() {
    const CONNS: usize = 1000;
    const THREADS: usize = 4;
    let net = Network::new();
    let listener = net.listener().backlog(CONNS).bind("echo").unwrap();
    let pool = futures::executor::ThreadPool::builder()
        .pool_size(4)
        .create()
        .unwrap();
    std::thread::scope(|s| {
        // The server accepts on one thread and echoes each connection on the pool.
        s.spawn(|| {
            for _ in 0..CONNS {
                let conn = run(listener.accept()).unwrap();
                pool.spawn_ok(async move {
                    let (mut r, mut w) = (&conn, &conn);
                    futures::io::copy(&mut r, &mut w).await.unwrap();
                    conn.shutdown(Shutdown::Write).unwrap();
                });
            }
        });
        let clients: Vec<_> = (0..THREADS)
            .map(|t| {
                let net = net.clone();
                s.spawn(move || {
                    for i in 0..CONNS / THREADS {
                        let seed = (t * CONNS + i) as u64;
                        let data = pattern(seed, 1000 + (seed as usize % 7000));
                        let mut conn = run(net.connect("echo")).unwrap();
                        let reader = conn.clone();
                        run(async {
                            let send = async {
                                conn.write_all(&data).await.unwrap();
                                conn.shutdown(Shutdown::Write).unwrap();
                            };
                            let recv = async {
                                let mut got = Vec::new();
                                (&reader).read_to_end(&mut got).await.unwrap();
                                got
                            };
                            let ((), got) = futures::join!(send, recv);
                            assert!(got == data, "connection {seed} got other bytes back");
                        });
                    }
                })
            })
            .collect();
        for c in clients {
            c.join().unwrap();
        }
    });
}

/// Streams `data` with reads and writes that are each polled a few times and then, often,
/// dropped before completing, from two threads. The stream must still arrive exactly.
fn dropped_read_and_write_futures_lose_nothing<T: Transport>() {
    let data = pattern(3, 2 << 20);
    let (a, b) = T::pair();
    std::thread::scope(|s| {
        let data = &data;
        s.spawn(move || {
            let (waker, _) = counting_waker();
            let mut sent = 0;
            let mut round = 0u32;
            while sent < data.len() {
                round += 1;
                let end = (sent + 1 + (round as usize * 7919) % 9000).min(data.len());
                if round % 3 == 0 {
                    // Sometimes wait properly.
                    sent += run(write(&a, &data[sent..end])).unwrap();
                    continue;
                }
                let mut w = pin!(write(&a, &data[sent..end]));
                for _ in 0..(round % 4) {
                    if let Poll::Ready(r) = poll_pinned(w.as_mut(), &waker) {
                        sent += r.unwrap();
                        break;
                    }
                }
                // Dropped here if still pending: it must have accepted nothing.
            }
            a.shutdown(Shutdown::Write).unwrap();
        });
        let (waker, _) = counting_waker();
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 10_000];
        let mut round = 0u32;
        loop {
            round += 1;
            let len = 1 + (round as usize * 104_729) % buf.len();
            let n = if round % 3 == 0 {
                run(read(&b, &mut buf[..len])).unwrap()
            } else {
                let mut r = pin!(read(&b, &mut buf[..len]));
                match poll_pinned(r.as_mut(), &waker) {
                    Poll::Ready(n) => n.unwrap(),
                    Poll::Pending => continue,
                }
            };
            if n == 0 {
                break;
            }
            got.extend_from_slice(&buf[..n]);
        }
        assert_eq!(got.len(), data.len());
        assert!(got == *data, "stream damaged by dropped futures");
    });
}

#[test]
fn concurrent_readers_get_disjoint_bytes_in_stream_order() {
    // The writer sends 8-byte big-endian counters; readers read whole counters (a read of 8 bytes
    // at an 8-aligned stream offset), so each reader's values must increase and, together, cover
    // every counter exactly once.
    const N: u64 = 200_000;
    let (a, b) = pair_with_buffer(8 * 1024);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut bytes = Vec::with_capacity(N as usize * 8);
            for i in 0..N {
                bytes.extend_from_slice(&i.to_be_bytes());
            }
            run(write_all(&a, &bytes)).unwrap();
            a.shutdown(Shutdown::Write).unwrap();
        });
        let readers: Vec<_> = (0..4)
            .map(|_| {
                let b = b.clone();
                s.spawn(move || {
                    let mut seen = Vec::new();
                    let mut buf = [0u8; 8];
                    loop {
                        // 8 bytes at a time; the writer's counters are 8-aligned and every read
                        // takes exactly 8 or is the end, so reads never split a counter...
                        match run(read(&b, &mut buf)).unwrap() {
                            0 => break,
                            8 => seen.push(u64::from_be_bytes(buf)),
                            n => panic!("short read of {n} bytes from an aligned stream"),
                        }
                    }
                    seen
                })
            })
            .collect();
        let mut all = Vec::new();
        for r in readers {
            let seen = r.join().unwrap();
            assert!(
                seen.windows(2).all(|w| w[0] < w[1]),
                "a reader saw bytes out of order"
            );
            all.extend(seen);
        }
        all.sort_unstable();
        assert_eq!(all.len() as u64, N, "bytes lost or duplicated");
        assert!(all.iter().copied().eq(0..N));
    });
}

#[test]
fn dropping_connect_futures_under_load_never_strands_the_acceptor() {
    let net = Network::new();
    let listener = net.listener().backlog(8).bind("svc").unwrap();
    let (waker, _) = counting_waker();
    std::thread::scope(|s| {
        let acceptor = s.spawn(|| {
            let (mut greeted, mut hung_up) = (0, 0);
            while let Ok(c) = run(listener.accept()) {
                // Each accepted end has a dialer that sends one byte, or one that was dropped
                // just after `accept` took it (the dialer was still there when accepted).
                let mut b = [0u8; 1];
                match run(read(&c, &mut b)).unwrap() {
                    1 => {
                        assert_eq!(b, [42]);
                        greeted += 1;
                    }
                    _ => hung_up += 1,
                }
            }
            (greeted, hung_up)
        });
        let (mut live, mut dropped) = (0, 0);
        for i in 0..2000 {
            let mut dial = net.connect("svc");
            let first = common::poll_once(&mut dial, &waker);
            let outcome = match first {
                Poll::Pending if i % 2 == 0 => {
                    drop(dial);
                    dropped += 1;
                    continue;
                }
                Poll::Pending => run(dial),
                Poll::Ready(r) => r,
            };
            match outcome {
                Ok(c) => {
                    run(write_all(&c, &[42])).unwrap();
                    live += 1;
                }
                Err(e) => assert_eq!(e, Error::ListenQueueFull),
            }
        }
        listener.close();
        let (greeted, hung_up) = acceptor.join().unwrap();
        assert_eq!(greeted, live, "a live dial was lost or accepted twice");
        assert!(hung_up <= dropped, "more hang-ups than dropped dials");
    });
}

/// A third thread keeps moving both ends' deadlines (into the past, the near future, away)
/// while a transfer runs; the reader and writer retry on timeouts. The stream must arrive exact.
fn deadline_churn_from_another_thread_never_damages_the_stream<T: Transport>() {
    let data = pattern(5, 4 << 20);
    let (a, b) = T::pair();
    let retry_on_timeout = |r: std::io::Result<usize>| match r {
        Ok(n) => Some(n),
        Err(e) => {
            assert!(chan_err(&e).is_timeout(), "unexpected error {e:?}");
            None
        }
    };
    std::thread::scope(|s| {
        let data = &data;
        let (a2, b2) = (a.clone(), b.clone());
        s.spawn(move || {
            for i in 0u32..20_000 {
                let at = match i % 4 {
                    0 => Some(Instant::now()),
                    1 => Some(Instant::now() + Duration::from_micros(50)),
                    2 => None,
                    _ => Some(Instant::now() + Duration::from_secs(60)),
                };
                a2.set_write_deadline(at);
                b2.set_read_deadline(at);
            }
            a2.set_write_deadline(None);
            b2.set_read_deadline(None);
        });
        s.spawn(move || {
            let mut sent = 0;
            while sent < data.len() {
                let end = (sent + 3000).min(data.len());
                sent += retry_on_timeout(run(write(&a, &data[sent..end]))).unwrap_or(0);
            }
            a.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::with_capacity(data.len());
        let mut buf = vec![0u8; 5000];
        loop {
            match retry_on_timeout(run(read(&b, &mut buf))) {
                Some(0) => break,
                Some(n) => got.extend_from_slice(&buf[..n]),
                None => {}
            }
        }
        assert!(got == *data, "stream damaged by deadline churn");
    });
}

/// A waker whose last drop drops the connection end it holds, as a task's waker does when the
/// task that held the end is gone and only the waker keeps it alive.
struct HoldsEnd(Mutex<Option<Conn>>);

impl Wake for HoldsEnd {
    fn wake(self: Arc<Self>) {}
}

/// A waker whose wake-up drops the connection end it holds, as an executor does when it can no
/// longer schedule the task (it was shut down) and drops the task, with its future, at once.
struct DropsEndWhenWoken(Mutex<Option<Conn>>);

impl Wake for DropsEndWhenWoken {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let end = self.0.lock().unwrap().take();
        drop(end);
    }
}

/// Runs `body` on a thread of its own and fails if it does not finish within a minute (a
/// deadlock cannot be interrupted, only detected).
fn deadlock_free(body: impl FnOnce() + Send + 'static) {
    let (done, finished) = mpsc::channel();
    let thread = std::thread::spawn(move || {
        body();
        let _ = done.send(());
    });
    match finished.recv_timeout(Duration::from_secs(60)) {
        Ok(()) => thread.join().unwrap(),
        Err(mpsc::RecvTimeoutError::Disconnected) => {
            std::panic::resume_unwind(thread.join().unwrap_err())
        }
        Err(mpsc::RecvTimeoutError::Timeout) => panic!("deadlocked: still running after 60 s"),
    }
}

#[test]
fn a_waker_dropped_by_a_wake_up_may_close_the_connection() {
    deadlock_free(|| {
        let (client, server) = pair_with_buffer(1024);
        let (first, _) = counting_waker();
        let holder = Arc::new(HoldsEnd(Mutex::new(None)));
        let second = Waker::from(holder.clone());
        let mut buf = [0u8; 1];
        // Two reads wait on the server end; the second is a further waiter.
        assert!(poll_pinned(pin!(read(&server, &mut buf)), &first).is_pending());
        assert!(poll_pinned(pin!(read(&server, &mut buf)), &second).is_pending());
        // Only the second waiter's waker keeps the server end alive now.
        *holder.0.lock().unwrap() = Some(server);
        drop((second, holder));
        // The write wakes it, which drops it and with it the server end's last handle; shutting
        // that end down takes the lock the write holds while it wakes.
        assert_eq!(run(write(&client, b"x")).unwrap(), 1);
        let err = run(write_all(&client, b"y")).unwrap_err();
        assert_eq!(chan_err(&err), Error::ConnectionClosed);
    });
}

#[test]
fn a_kept_waker_displaced_by_another_task_may_close_the_connection() {
    deadlock_free(|| {
        let (client, server) = pair_with_buffer(1024);
        let holder = Arc::new(HoldsEnd(Mutex::new(None)));
        let first = Waker::from(holder.clone());
        let mut buf = [0u8; 1];
        assert!(poll_pinned(pin!(read(&server, &mut buf)), &first).is_pending());
        // A deadline change wakes the waiting read; its waker is kept for its next wait.
        server.set_read_deadline(None);
        // Only that kept waker keeps the client end alive now.
        *holder.0.lock().unwrap() = Some(client);
        drop((first, holder));
        // Another task's read displaces the kept waker, whose drop drops the client end's last
        // handle; shutting that end down takes the lock the read holds while it registers.
        let (other, woken) = counting_waker();
        assert!(poll_pinned(pin!(read(&server, &mut buf)), &other).is_pending());
        assert_eq!(
            woken.count(),
            1,
            "the client's shutdown wakes the new reader"
        );
        assert_eq!(run(read(&server, &mut buf)).unwrap(), 0);
    });
}

#[test]
fn a_wake_up_that_drops_the_connection_does_not_deadlock() {
    deadlock_free(|| {
        let (client, server) = pair_with_buffer(1024);
        let dropper = Arc::new(DropsEndWhenWoken(Mutex::new(None)));
        let waker = Waker::from(dropper.clone());
        let mut buf = [0u8; 1];
        assert!(poll_pinned(pin!(read(&server, &mut buf)), &waker).is_pending());
        // The waiting task owns the server end; waking it drops the end (its last handle),
        // which shuts it down and takes the lock the waking write holds.
        *dropper.0.lock().unwrap() = Some(server);
        assert_eq!(run(write(&client, b"x")).unwrap(), 1);
        assert!(
            dropper.0.lock().unwrap().is_none(),
            "the wake-up dropped the end"
        );
        let err = run(write_all(&client, b"y")).unwrap_err();
        assert_eq!(chan_err(&err), Error::ConnectionClosed);
    });
}
