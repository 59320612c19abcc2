//! Every cell of the shutdown matrix (SPEC 4), for operations started after the shutdown and for
//! operations already blocked, at both ends and on clones. The generic tests run on every
//! transport (`on_every_transport!`): `chan://` directly and through `chanstream::net`,
//! `tcp://` and `unix://`.
//!
//! Tests that hold only for chan:// (what a socket's peer sees is the OS's: the table "What the
//! peer sees" in `chanstream::net`):
//!
//! - `read_shutdown_fails_peer_writes_with_broken_pipe`: on TCP the peer's write after our
//!   `shutdown(Read)` succeeds.
//! - `read_shutdown_fails_a_peer_write_already_waiting`: the same cell for a write already
//!   waiting, which TCP lets through (and a precise buffer size).
//! - `shutdown_both_is_both_rows`: it checks that the peer's write fails after our
//!   `shutdown(Read)`, which TCP accepts.
//! - `dropping_the_last_clone_is_shutdown_both`: on TCP the peer's first write after our close
//!   may succeed.
//! - `peer_vanishing_mid_write_fails_the_blocked_writer`: the peer closes with unread bytes, so
//!   TCP resets and the writer may get `ConnectionReset`, not `BrokenPipe`.
//! - `shutdown_is_idempotent_in_every_combination`: it ends by checking that the peer's write
//!   fails after our `shutdown(Read)`, which TCP accepts.
//! - `shutdown_wakes_every_blocked_operation_at_both_ends`: the peer's blocked write failing at
//!   once on our `shutdown(Both)` is chan's (TCP accepts it; a precise buffer size).
//! - `flush_succeeds_at_once_and_bytes_are_visible_when_write_returns`: when a socket's bytes
//!   become readable at the peer is the OS's timing, not the write's return.
//! - `a_reader_keeps_its_end_open_after_every_conn_clone_is_dropped`: `Conn::reader` exists only
//!   on `chanstream::Conn`.

#[macro_use]
mod common;

use std::io::ErrorKind;
use std::net::Shutdown;
use std::pin::pin;
use std::sync::mpsc;
use std::task::Poll;

use chanstream::Error;
use common::{
    chan_err, counting_waker, fill, pair, pair_with_buffer, poll_once, poll_pinned, read, run,
    signal_pending, write, write_all, write_until_err, TestConn, Transport,
};
use futures::io::{AsyncReadExt, AsyncWriteExt};

on_every_transport!(
    write_shutdown_leaves_own_reads_working,
    write_shutdown_fails_own_writes_with_broken_pipe,
    write_shutdown_lets_peer_read_buffered_bytes_then_eof,
    write_shutdown_leaves_peer_writes_working,
    close_is_a_write_shutdown,
    write_shutdown_wakes_a_blocked_peer_read_with_eof,
    write_shutdown_on_a_clone_fails_a_blocked_write_on_another_clone,
    read_shutdown_returns_eof_at_once_and_discards_unread_bytes,
    read_shutdown_leaves_own_writes_working,
    read_shutdown_leaves_peer_reads_working,
    read_shutdown_on_a_clone_ends_a_blocked_read_on_another_clone,
    dropping_one_clone_keeps_the_connection_open,
    peer_vanishing_wakes_a_blocked_reader_with_eof,
    zero_length_reads_and_writes_on_an_open_stream_return_zero_and_send_nothing,
    eof_comes_only_after_the_last_clone_is_dropped_across_threads,
);

fn assert_broken_pipe(err: std::io::Error) {
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
    assert_eq!(chan_err(&err), Error::ConnectionClosed);
}

async fn read_all<C: TestConn>(c: &C) -> Vec<u8> {
    let mut v = Vec::new();
    c.clone().read_to_end(&mut v).await.unwrap();
    v
}

// ---- A shuts down writing --------------------------------------------------------------------

fn write_shutdown_leaves_own_reads_working<T: Transport>() {
    let (mut a, mut b) = T::pair();
    a.shutdown(Shutdown::Write).unwrap();
    run(async {
        b.write_all(b"reply").await.unwrap();
        let mut buf = [0; 5];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"reply");
    });
}

fn write_shutdown_fails_own_writes_with_broken_pipe<T: Transport>() {
    let (mut a, _b) = T::pair();
    a.shutdown(Shutdown::Write).unwrap();
    assert_broken_pipe(run(a.write(b"x")).unwrap_err());
    // A zero-length write after a write shutdown fails like any other.
    assert_broken_pipe(run(a.write(b"")).unwrap_err());
}

fn write_shutdown_lets_peer_read_buffered_bytes_then_eof<T: Transport>() {
    let (mut a, b) = T::pair();
    run(async {
        a.write_all(b"last words").await.unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_all(&b).await, b"last words");
        assert_eq!(read(&b, &mut [0; 4]).await.unwrap(), 0);
    });
}

fn write_shutdown_leaves_peer_writes_working<T: Transport>() {
    let (a, mut b) = T::pair();
    a.shutdown(Shutdown::Write).unwrap();
    run(async {
        b.write_all(b"still").await.unwrap();
        let mut buf = [0; 5];
        a.clone().read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"still");
    });
}

fn close_is_a_write_shutdown<T: Transport>() {
    let (mut a, mut b) = T::pair();
    run(async {
        a.write_all(b"bye").await.unwrap();
        a.close().await.unwrap();
        a.close().await.unwrap();
        assert_broken_pipe(a.write(b"x").await.unwrap_err());
        assert_eq!(read_all(&b).await, b"bye");
        // The other direction still works.
        b.write_all(b"ok").await.unwrap();
        let mut buf = [0; 2];
        a.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"ok");
    });
}

fn write_shutdown_wakes_a_blocked_peer_read_with_eof<T: Transport>() {
    let (a, b) = T::pair();
    let mut buf = [0; 8];
    let (read, blocked) = signal_pending(read(&b, &mut buf));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(read));
        blocked.recv().unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(h.join().unwrap().unwrap(), 0);
    });
}

fn write_shutdown_on_a_clone_fails_a_blocked_write_on_another_clone<T: Transport>() {
    let (a, _b) = T::pair();
    let a2 = a.clone();
    fill(&a);
    let (tx, blocked) = mpsc::channel();
    std::thread::scope(|s| {
        let h = s.spawn(|| write_until_err(&a, b"more", tx));
        blocked.recv().unwrap();
        a2.shutdown(Shutdown::Write).unwrap();
        assert_broken_pipe(h.join().unwrap());
    });
}

// ---- A shuts down reading --------------------------------------------------------------------

fn read_shutdown_returns_eof_at_once_and_discards_unread_bytes<T: Transport>() {
    let (a, mut b) = T::pair();
    run(async {
        b.write_all(b"unread").await.unwrap();
        a.shutdown(Shutdown::Read).unwrap();
        assert_eq!(read(&a, &mut [0; 8]).await.unwrap(), 0);
        assert_eq!(read(&a, &mut [0; 8]).await.unwrap(), 0);
    });
}

fn read_shutdown_leaves_own_writes_working<T: Transport>() {
    let (mut a, b) = T::pair();
    a.shutdown(Shutdown::Read).unwrap();
    run(async {
        a.write_all(b"one way").await.unwrap();
        a.shutdown(Shutdown::Write).unwrap();
        assert_eq!(read_all(&b).await, b"one way");
    });
}

fn read_shutdown_leaves_peer_reads_working<T: Transport>() {
    let (mut a, b) = T::pair();
    a.shutdown(Shutdown::Read).unwrap();
    run(async {
        a.write_all(b"x").await.unwrap();
        let mut buf = [0; 1];
        b.clone().read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"x");
    });
}

#[test]
fn read_shutdown_fails_peer_writes_with_broken_pipe() {
    let (a, mut b) = pair();
    a.shutdown(Shutdown::Read).unwrap();
    assert_broken_pipe(run(b.write(b"x")).unwrap_err());
    assert_broken_pipe(run(b.write(b"")).unwrap_err());
}

#[test]
fn read_shutdown_fails_a_peer_write_already_waiting() {
    let (a, b) = pair_with_buffer(16);
    let data = vec![7u8; 1024];
    let (write, blocked) = signal_pending(write_all(&b, &data));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(write));
        blocked.recv().unwrap();
        a.shutdown(Shutdown::Read).unwrap();
        assert_broken_pipe(h.join().unwrap().unwrap_err());
    });
}

fn read_shutdown_on_a_clone_ends_a_blocked_read_on_another_clone<T: Transport>() {
    let (a, _b) = T::pair();
    let a2 = a.clone();
    let mut buf = [0; 8];
    let (read, blocked) = signal_pending(read(&a, &mut buf));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(read));
        blocked.recv().unwrap();
        a2.shutdown(Shutdown::Read).unwrap();
        assert_eq!(h.join().unwrap().unwrap(), 0);
    });
}

// ---- Both, and dropping ----------------------------------------------------------------------

#[test]
fn shutdown_both_is_both_rows() {
    let (mut a, mut b) = pair();
    run(async {
        a.write_all(b"before").await.unwrap();
        b.write_all(b"discarded").await.unwrap();
        a.shutdown(Shutdown::Both).unwrap();
        assert_eq!(a.read(&mut [0; 8]).await.unwrap(), 0);
        assert_broken_pipe(a.write(b"x").await.unwrap_err());
        assert_eq!(read_all(&b).await, b"before");
        assert_broken_pipe(b.write(b"x").await.unwrap_err());
    });
}

#[test]
fn dropping_the_last_clone_is_shutdown_both() {
    let (mut a, mut b) = pair();
    run(async {
        a.write_all(b"written before drop").await.unwrap();
    });
    drop(a);
    run(async {
        assert_eq!(read_all(&b).await, b"written before drop");
        assert_broken_pipe(b.write(b"x").await.unwrap_err());
    });
}

fn dropping_one_clone_keeps_the_connection_open<T: Transport>() {
    let (a, mut b) = T::pair();
    let mut a2 = a.clone();
    drop(a);
    run(async {
        b.write_all(b"hi").await.unwrap();
        let mut buf = [0; 2];
        a2.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"hi");
        a2.write_all(b"yo").await.unwrap();
        b.read_exact(&mut buf).await.unwrap();
        assert_eq!(&buf, b"yo");
    });
}

#[test]
fn peer_vanishing_mid_write_fails_the_blocked_writer() {
    let (a, b) = pair_with_buffer(1024);
    let data = vec![1u8; 1 << 20];
    let (write, blocked) = signal_pending(write_all(&a, &data));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(write));
        blocked.recv().unwrap();
        drop(b);
        assert_broken_pipe(h.join().unwrap().unwrap_err());
    });
}

fn peer_vanishing_wakes_a_blocked_reader_with_eof<T: Transport>() {
    let (a, b) = T::pair();
    let mut buf = [0; 8];
    let (read, blocked) = signal_pending(read(&a, &mut buf));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(read));
        blocked.recv().unwrap();
        drop(b);
        assert_eq!(h.join().unwrap().unwrap(), 0);
    });
}

#[test]
fn shutdown_is_idempotent_in_every_combination() {
    let (a, mut b) = pair();
    for how in [
        Shutdown::Write,
        Shutdown::Write,
        Shutdown::Read,
        Shutdown::Both,
        Shutdown::Both,
    ] {
        a.shutdown(how).unwrap();
        b.shutdown(Shutdown::Read).unwrap();
    }
    assert_broken_pipe(run(b.write(b"x")).unwrap_err());
    assert_eq!(run((&a).read(&mut [0; 1])).unwrap(), 0);
}

#[test]
fn shutdown_wakes_every_blocked_operation_at_both_ends() {
    let (a, b) = pair_with_buffer(4);
    run((&a).write_all(b"full")).unwrap();
    run((&b).write_all(b"full")).unwrap();
    // Both directions are full, so a write blocks at each end.
    let (waker, count) = counting_waker();
    let mut wa = pin!(write(&a, b"x"));
    let mut wb = pin!(write(&b, b"x"));
    assert!(poll_pinned(wa.as_mut(), &waker).is_pending());
    assert!(poll_pinned(wb.as_mut(), &waker).is_pending());
    a.shutdown(Shutdown::Both).unwrap();
    assert!(count.count() >= 2, "not every blocked write was woken");
    assert!(matches!(poll_pinned(wa, &waker), Poll::Ready(Err(_))));
    assert!(matches!(poll_pinned(wb, &waker), Poll::Ready(Err(_))));
}

#[test]
fn flush_succeeds_at_once_and_bytes_are_visible_when_write_returns() {
    let (mut a, b) = pair();
    let (waker, _) = counting_waker();
    assert!(matches!(
        poll_once(&mut a.flush(), &waker),
        Poll::Ready(Ok(()))
    ));
    run(a.write_all(b"now")).unwrap();
    let mut buf = [0; 3];
    assert!(matches!(
        poll_pinned(pin!(read(&b, &mut buf)), &waker),
        Poll::Ready(Ok(3))
    ));
    assert_eq!(&buf, b"now");
}

fn zero_length_reads_and_writes_on_an_open_stream_return_zero_and_send_nothing<T: Transport>() {
    let (mut a, b) = T::pair();
    let (waker, _) = counting_waker();
    assert!(matches!(
        poll_once(&mut a.write(b""), &waker),
        Poll::Ready(Ok(0))
    ));
    assert!(matches!(
        poll_pinned(pin!(read(&b, &mut [])), &waker),
        Poll::Ready(Ok(0))
    ));
    // Nothing was sent: a real read still waits.
    assert!(poll_pinned(pin!(read(&b, &mut [0; 4])), &waker).is_pending());
}

fn eof_comes_only_after_the_last_clone_is_dropped_across_threads<T: Transport>() {
    for _ in 0..50 {
        let (a, b) = T::pair();
        std::thread::scope(|s| {
            for id in 0..8u8 {
                let clone = a.clone();
                s.spawn(move || {
                    run(write_all(&clone, &[id; 100])).unwrap();
                    drop(clone);
                });
            }
            drop(a);
            let got = run(read_all(&b));
            // Every clone's bytes arrived (whole, as each fits the buffer) before end of stream.
            assert_eq!(
                got.len(),
                800,
                "end of stream before the last clone was dropped"
            );
            for id in 0..8u8 {
                assert_eq!(got.iter().filter(|&&x| x == id).count(), 100);
            }
        });
    }
}

#[test]
fn a_reader_keeps_its_end_open_after_every_conn_clone_is_dropped() {
    let (a, mut b) = pair();
    let reader = a.reader();
    drop(a);
    run(async {
        // The end is still open: writes to it succeed and the reader receives them.
        b.write_all(b"still open").await.unwrap();
        b.close().await.unwrap();
        let mut got = String::new();
        let mut reader = reader;
        reader.read_to_string(&mut got).await.unwrap();
        assert_eq!(got, "still open");
    });
}
