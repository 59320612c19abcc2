//! Every synchronisation protocol of chanstream, model-checked: each test runs a few threads
//! through the public API under loom, which explores their interleavings (up to
//! `LOOM_MAX_PREEMPTIONS` preemptions, 2 unless set) and fails on a lost wake-up (every thread
//! blocked: "deadlock"), a lock taken twice, or a broken assertion.
//!
//! Run with `RUSTFLAGS="--cfg loom" cargo test --release` in this directory.
#![cfg(loom)]

use std::net::Shutdown;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use chanstream::{Conn, Error, Listener, ManualClock, Network};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::FutureExt;
use loom::future::block_on;
use loom::thread::{self, JoinHandle};

mod common;
use common::{model, model_within};

/// A listener named "m" on a network of its own, on a manual clock.
fn listen(buffer: usize) -> (Network, ManualClock, Listener) {
    let clock = ManualClock::new();
    let net = Network::with_clock(clock.clock());
    let listener = net.listener().buffer_size(buffer).bind("m").unwrap();
    (net, clock, listener)
}

/// A connected pair (dialed end, accepted end) whose directions buffer `buffer` bytes each.
fn pair(buffer: usize) -> (Conn, Conn, ManualClock) {
    let (net, clock, listener) = listen(buffer);
    let (dialed, accepted) =
        block_on(async { futures::try_join!(net.connect("m"), listener.accept()) }).unwrap();
    (dialed, accepted, clock)
}

fn kind(e: &std::io::Error) -> Option<Error> {
    Error::from_io(e)
}

/// Everything `conn` reads until end of stream.
fn read_all(conn: &mut Conn) -> Vec<u8> {
    let mut got = Vec::new();
    block_on(conn.read_to_end(&mut got)).unwrap();
    got
}

/// How writing all of `data` fails, if it does.
fn write_error(conn: &mut Conn, data: &[u8]) -> Option<Error> {
    block_on(conn.write_all(data)).err().and_then(|e| kind(&e))
}

/// What a waker that counts nothing does: nothing. Used to poll a future once and drop it.
struct Noop;

impl Wake for Noop {
    fn wake(self: Arc<Self>) {}
}

#[test]
fn a_blocked_read_gets_the_bytes_then_end_of_stream_when_the_peer_writes_and_shuts_down() {
    model(|| {
        let (mut dialed, accepted, _clock) = pair(4);
        let writer = thread::spawn(move || {
            let mut accepted = accepted;
            block_on(accepted.write_all(b"xy")).unwrap();
            accepted.shutdown(Shutdown::Write).unwrap();
        });
        assert_eq!(read_all(&mut dialed), b"xy");
        writer.join().unwrap();
    });
}

#[test]
fn a_write_blocked_on_a_full_buffer_fails_when_the_peer_shuts_reading() {
    model(|| {
        let (mut dialed, accepted, _clock) = pair(1);
        let reader = thread::spawn(move || accepted.shutdown(Shutdown::Read).unwrap());
        assert_eq!(
            write_error(&mut dialed, b"ab"),
            Some(Error::ConnectionClosed)
        );
        reader.join().unwrap();
    });
}

#[test]
fn a_blocked_read_ends_when_the_peers_last_handle_is_dropped_after_a_write() {
    model(|| {
        let (mut dialed, accepted, _clock) = pair(4);
        let peer = thread::spawn(move || {
            let mut accepted = accepted;
            block_on(accepted.write_all(b"x")).unwrap();
            drop(accepted);
        });
        assert_eq!(read_all(&mut dialed), b"x");
        peer.join().unwrap();
    });
}

#[test]
fn a_deadline_set_in_the_past_fails_a_blocked_read() {
    model(|| {
        let (mut dialed, _accepted, clock) = pair(4);
        let other = dialed.clone();
        let setter = thread::spawn(move || other.set_read_deadline(Some(clock.now())));
        let err = block_on(dialed.read(&mut [0; 4])).unwrap_err();
        assert_eq!(kind(&err), Some(Error::ReadTimeout));
        setter.join().unwrap();
    });
}

#[test]
fn a_deadline_timer_firing_fails_a_blocked_write() {
    model(|| {
        let (mut dialed, _accepted, clock) = pair(1);
        dialed.set_write_deadline(Some(clock.now() + Duration::from_secs(1)));
        let ticker = thread::spawn(move || clock.advance(Duration::from_secs(2)));
        // The first byte fits; the second waits for room until the deadline passes.
        assert_eq!(write_error(&mut dialed, b"ab"), Some(Error::WriteTimeout));
        ticker.join().unwrap();
    });
}

#[test]
fn a_deadline_moved_later_while_a_read_waits_does_not_fire_at_the_old_time() {
    model(|| {
        let (mut dialed, accepted, clock) = pair(4);
        dialed.set_read_deadline(Some(clock.now() + Duration::from_secs(1)));
        let other = dialed.clone();
        let mover = thread::spawn(move || {
            other.set_read_deadline(Some(clock.now() + Duration::from_secs(10)));
            clock.advance(Duration::from_secs(2));
            let mut accepted = accepted;
            block_on(accepted.write_all(b"x")).unwrap();
            accepted
        });
        let mut byte = [0; 1];
        assert_eq!(block_on(dialed.read(&mut byte)).unwrap(), 1);
        assert_eq!(&byte, b"x");
        drop(mover.join().unwrap());
    });
}

#[test]
fn a_deadline_cleared_while_a_read_waits_lets_it_wait_for_data() {
    model(|| {
        let (mut dialed, accepted, clock) = pair(4);
        dialed.set_read_deadline(Some(clock.now() + Duration::from_secs(1)));
        let other = dialed.clone();
        let clearer = thread::spawn(move || {
            other.set_read_deadline(None);
            clock.advance(Duration::from_secs(2));
            let mut accepted = accepted;
            block_on(accepted.write_all(b"x")).unwrap();
            accepted
        });
        let mut byte = [0; 1];
        assert_eq!(block_on(dialed.read(&mut byte)).unwrap(), 1);
        drop(clearer.join().unwrap());
    });
}

#[test]
fn a_shutdown_of_both_ways_on_one_clone_ends_a_read_and_a_write_waiting_on_others() {
    model(|| {
        let (dialed, _accepted, _clock) = pair(1);
        let mut writer = dialed.clone();
        let writing = thread::spawn(move || write_error(&mut writer, b"ab"));
        let closer = dialed.clone();
        let closing = thread::spawn(move || closer.shutdown(Shutdown::Both).unwrap());
        let mut reader = dialed;
        assert_eq!(read_all(&mut reader), b"");
        assert_eq!(writing.join().unwrap(), Some(Error::ConnectionClosed));
        closing.join().unwrap();
    });
}

#[test]
fn a_deadline_set_in_the_past_fails_a_write_waiting_for_room() {
    model(|| {
        let (mut dialed, _accepted, clock) = pair(1);
        let other = dialed.clone();
        let setter = thread::spawn(move || other.set_write_deadline(Some(clock.now())));
        assert_eq!(write_error(&mut dialed, b"ab"), Some(Error::WriteTimeout));
        setter.join().unwrap();
    });
}

#[test]
fn a_past_deadline_racing_arriving_bytes_fails_the_read_or_lets_it_read_them() {
    model(|| {
        let (mut dialed, accepted, clock) = pair(4);
        let other = dialed.clone();
        let setter = thread::spawn(move || other.set_read_deadline(Some(clock.now())));
        let writer = thread::spawn(move || {
            let mut accepted = accepted;
            block_on(accepted.write_all(b"x")).unwrap();
            accepted
        });
        let mut b = [0; 1];
        let first = block_on(dialed.read(&mut b)).map_err(|e| kind(&e));
        setter.join().unwrap();
        let _accepted = writer.join().unwrap();
        // Once the deadline is set, reads fail and move nothing; cleared, the byte is there
        // unless the first read took it.
        let second = block_on(dialed.read(&mut b)).map_err(|e| kind(&e));
        assert_eq!(second, Err(Some(Error::ReadTimeout)));
        dialed.set_read_deadline(None);
        match first {
            Ok(1) => {}
            Err(Some(Error::ReadTimeout)) => {
                assert_eq!(block_on(dialed.read(&mut b)).unwrap(), 1);
            }
            other => panic!("first read: {other:?}"),
        }
        assert_eq!(&b, b"x");
    });
}

#[test]
fn two_clones_reading_at_once_share_the_bytes_and_both_are_woken() {
    model(|| {
        let (dialed, accepted, _clock) = pair(4);
        let mut first = dialed.clone();
        let one = thread::spawn(move || {
            let mut b = [0; 1];
            block_on(first.read_exact(&mut b)).unwrap();
            b[0]
        });
        let mut second = dialed;
        let two = thread::spawn(move || {
            let mut b = [0; 1];
            block_on(second.read_exact(&mut b)).unwrap();
            b[0]
        });
        let mut accepted = accepted;
        block_on(accepted.write_all(b"x")).unwrap();
        block_on(accepted.write_all(b"y")).unwrap();
        let mut got = [one.join().unwrap(), two.join().unwrap()];
        got.sort_unstable();
        assert_eq!(&got, b"xy");
    });
}

#[test]
fn a_read_dropped_while_pending_does_not_swallow_the_wake_up_of_the_next_reader() {
    model(|| {
        let (dialed, accepted, _clock) = pair(4);
        let mut abandoned = dialed.clone();
        let dropper = thread::spawn(move || {
            let waker = Waker::from(Arc::new(Noop));
            let mut b = [0; 1];
            let polled = abandoned
                .read(&mut b)
                .poll_unpin(&mut Context::from_waker(&waker));
            // Taken a byte, or registered and then dropped while pending.
            matches!(polled, Poll::Ready(Ok(1)))
        });
        let mut accepted = accepted;
        let writer = thread::spawn(move || {
            block_on(accepted.write_all(b"x")).unwrap();
            block_on(accepted.write_all(b"y")).unwrap();
            accepted
        });
        let mut dialed = dialed;
        let mut b = [0; 1];
        block_on(dialed.read_exact(&mut b)).unwrap();
        let took = dropper.join().unwrap();
        let _accepted = writer.join().unwrap();
        if !took {
            assert_eq!(&b, b"x");
        }
    });
}

/// A waker that owns a connection's last handle and drops it when woken: the case where
/// waking under the pipe's lock would take that lock again.
struct Owner(loom::sync::Mutex<Option<Conn>>);

impl Wake for Owner {
    fn wake(self: Arc<Self>) {
        self.wake_by_ref();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        let conn = self.0.lock().unwrap().take();
        drop(conn);
    }
}

#[test]
fn a_waker_that_drops_the_last_handle_when_woken_by_another_thread_deadlocks_nothing() {
    model(|| {
        let (dialed, accepted, _clock) = pair(4);
        let owner = Arc::new(Owner(loom::sync::Mutex::new(None)));
        let waker = Waker::from(owner.clone());
        {
            let mut reading = &dialed;
            let mut b = [0; 1];
            let polled = reading
                .read(&mut b)
                .poll_unpin(&mut Context::from_waker(&waker));
            assert!(polled.is_pending());
        }
        // The waker registered by the read now holds the dialed end's only handle.
        *owner.0.lock().unwrap() = Some(dialed);
        drop(waker);
        let peer = thread::spawn(move || {
            let mut accepted = accepted;
            block_on(accepted.write_all(b"x")).unwrap();
            // Woken, the waker dropped the dialed end: this end sees end of stream.
            let mut rest = Vec::new();
            block_on(accepted.read_to_end(&mut rest)).unwrap();
            assert!(rest.is_empty());
        });
        drop(owner);
        peer.join().unwrap();
    });
}

type Ending = JoinHandle<Result<Conn, Error>>;

/// A listener with an `accept` and a dial (with `timeout`, if given) racing on two threads.
fn dial_and_accept(timeout: Option<Duration>) -> (Arc<Listener>, ManualClock, Ending, Ending) {
    let (net, clock, listener) = listen(4);
    let listener = Arc::new(listener);
    let accepting = listener.clone();
    let acceptor = thread::spawn(move || block_on(accepting.accept()));
    let dialer = thread::spawn(move || match timeout {
        Some(t) => block_on(net.connect_timeout("m", t)),
        None => block_on(net.connect("m")),
    });
    (listener, clock, dialer, acceptor)
}

/// The dial and the accept agree: both connected (and a byte crosses), or the dial failed with
/// one of `dial_errors` and the accept saw the listener close.
fn agree(dialed: Result<Conn, Error>, accepted: Result<Conn, Error>, dial_errors: &[Error]) {
    match (dialed, accepted) {
        (Ok(mut dialed), Ok(mut accepted)) => {
            block_on(dialed.write_all(b"x")).unwrap();
            let mut b = [0; 1];
            block_on(accepted.read_exact(&mut b)).unwrap();
        }
        (Err(e), Err(Error::ListenerClosed)) if dial_errors.contains(&e) => {}
        other => panic!("dial and accept disagree: {other:?}"),
    }
}

#[test]
fn a_dial_racing_its_own_timeout_is_accepted_or_timed_out_never_both() {
    model(|| {
        let (listener, clock, dialer, acceptor) = dial_and_accept(Some(Duration::from_secs(1)));
        clock.advance(Duration::from_secs(2));
        let dialed = dialer.join().unwrap();
        listener.close();
        agree(dialed, acceptor.join().unwrap(), &[Error::ConnectTimeout]);
    });
}

#[test]
fn a_write_blocked_on_a_full_buffer_fails_when_the_peers_last_handle_is_dropped() {
    model(|| {
        let (mut dialed, accepted, _clock) = pair(1);
        let peer = thread::spawn(move || drop(accepted));
        assert_eq!(
            write_error(&mut dialed, b"ab"),
            Some(Error::ConnectionClosed)
        );
        peer.join().unwrap();
    });
}

#[test]
fn a_dial_racing_its_timeout_an_accept_and_a_listener_close_is_settled_once() {
    model(|| {
        let (listener, clock, dialer, acceptor) = dial_and_accept(Some(Duration::from_secs(1)));
        let ticker = thread::spawn(move || clock.advance(Duration::from_secs(2)));
        listener.close();
        let dialed = dialer.join().unwrap();
        ticker.join().unwrap();
        let errors = [Error::ConnectTimeout, Error::ConnectionRefused];
        agree(dialed, acceptor.join().unwrap(), &errors);
    });
}

#[test]
fn a_dial_racing_a_listener_close_is_accepted_or_refused() {
    model(|| {
        let (listener, _clock, dialer, acceptor) = dial_and_accept(None);
        listener.close();
        let dialed = dialer.join().unwrap();
        agree(
            dialed,
            acceptor.join().unwrap(),
            &[Error::ConnectionRefused],
        );
    });
}

#[test]
fn two_accepts_waiting_share_one_dial_and_the_other_sees_the_close() {
    // Four threads: one preemption keeps it to seconds (60 s with two).
    model_within(1, || {
        let (net, _clock, listener) = listen(4);
        let listener = Arc::new(listener);
        let accepts: Vec<Ending> = (0..2)
            .map(|_| {
                let l = listener.clone();
                thread::spawn(move || block_on(l.accept()))
            })
            .collect();
        let dialed = block_on(net.connect("m")).unwrap();
        listener.close();
        let mut outcomes: Vec<_> = accepts.into_iter().map(|h| h.join().unwrap()).collect();
        outcomes.sort_by_key(Result::is_err);
        match (&outcomes[0], &outcomes[1]) {
            (Ok(accepted), Err(Error::ListenerClosed)) => {
                assert_eq!(accepted.peer_addr(), dialed.local_addr());
            }
            other => panic!("two accepts and one dial: {other:?}"),
        }
    });
}

#[test]
fn an_accept_deadline_timer_racing_a_dial_accepts_it_or_times_out_and_leaves_it_queued() {
    model(|| {
        let (net, clock, listener) = listen(4);
        listener.set_deadline(Some(clock.now() + Duration::from_secs(1)));
        let listener = Arc::new(listener);
        let ticker = thread::spawn(move || clock.advance(Duration::from_secs(2)));
        let dialer = thread::spawn(move || block_on(net.connect("m")));
        let accepted = block_on(listener.accept());
        ticker.join().unwrap();
        match accepted {
            Ok(_) => {
                dialer.join().unwrap().unwrap();
            }
            Err(Error::AcceptTimeout) => {
                // The dial waits on; the deadline cleared, the next accept takes it.
                listener.set_deadline(None);
                block_on(listener.accept()).unwrap();
                dialer.join().unwrap().unwrap();
            }
            Err(e) => panic!("accept: {e:?}"),
        }
    });
}

#[test]
fn an_accept_waits_out_its_deadline_on_the_clock() {
    model(|| {
        let (_net, clock, listener) = listen(4);
        listener.set_deadline(Some(clock.now() + Duration::from_secs(1)));
        let ticker = thread::spawn(move || clock.advance(Duration::from_secs(2)));
        assert_eq!(
            block_on(listener.accept()).unwrap_err(),
            Error::AcceptTimeout
        );
        ticker.join().unwrap();
    });
}

#[test]
fn an_accept_deadline_set_in_the_past_while_waiting_fails_the_accept_and_a_dial_still_connects_later(
) {
    model(|| {
        let (net, clock, listener) = listen(4);
        let listener = Arc::new(listener);
        let setter = listener.clone();
        let now = clock.now();
        let gate = thread::spawn(move || setter.set_deadline(Some(now)));
        assert_eq!(
            block_on(listener.accept()).unwrap_err(),
            Error::AcceptTimeout
        );
        gate.join().unwrap();
        listener.set_deadline(None);
        let dialer = thread::spawn(move || block_on(net.connect("m")).map(drop));
        block_on(listener.accept()).unwrap();
        dialer.join().unwrap().unwrap();
    });
}

#[test]
fn an_accept_dropped_while_pending_leaves_the_dial_to_the_next_accept() {
    model(|| {
        let (net, _clock, listener) = listen(4);
        let listener = Arc::new(listener);
        let dialer = thread::spawn(move || block_on(net.connect("m")).map(drop));
        let waker = Waker::from(Arc::new(Noop));
        let first = listener
            .accept()
            .poll_unpin(&mut Context::from_waker(&waker));
        let took = match first {
            Poll::Ready(Ok(_)) => true,
            Poll::Ready(Err(e)) => panic!("accept failed: {e:?}"),
            Poll::Pending => false,
        };
        if !took {
            block_on(listener.accept()).unwrap();
        }
        dialer.join().unwrap().unwrap();
    });
}

// The byte ring's lending: a read or write of at least two bytes (under loom) copies them with
// the direction's lock released. Loom sees every byte access through its cells, so two
// accesses to the same byte that race fail the model.

#[test]
fn a_write_and_a_read_copying_outside_the_lock_keep_the_bytes_in_order() {
    model(|| {
        let (mut dialed, accepted, _clock) = pair(4);
        let writer = thread::spawn(move || {
            let mut accepted = accepted;
            for piece in [b"ab", b"cd", b"ef"] {
                block_on(accepted.write_all(piece)).unwrap();
            }
        });
        // Two bytes at a time: a read can empty the buffer while the next write fills the
        // bytes after them.
        let mut got = Vec::new();
        while got.len() < 6 {
            let mut two = [0; 2];
            let n = block_on(dialed.read(&mut two)).unwrap();
            got.extend_from_slice(&two[..n]);
        }
        assert_eq!(got, b"abcdef");
        writer.join().unwrap();
    });
}

#[test]
fn a_shutdown_racing_a_write_copying_outside_the_lock_ends_the_stream_after_its_bytes() {
    model(|| {
        let (mut dialed, accepted, _clock) = pair(4);
        let other = accepted.clone();
        let writer = thread::spawn(move || {
            let mut accepted = accepted;
            block_on(accepted.write(b"abc"))
        });
        other.shutdown(Shutdown::Write).unwrap();
        drop(other);
        let written = writer.join().unwrap();
        let got = read_all(&mut dialed);
        match written {
            Ok(n) => assert_eq!(got, &b"abc"[..n]),
            Err(e) => {
                assert_eq!(kind(&e), Some(Error::ConnectionClosed));
                assert!(got.is_empty());
            }
        }
    });
}

#[test]
fn a_read_racing_a_shutdown_and_a_write_copying_outside_the_lock_sees_no_bytes_after_the_end() {
    model(|| {
        let (mut dialed, accepted, _clock) = pair(4);
        let other = accepted.clone();
        let writer = thread::spawn(move || {
            let mut accepted = accepted;
            let _ = block_on(accepted.write(b"ab"));
        });
        let reader = thread::spawn(move || {
            let mut got = Vec::new();
            let mut buf = [0; 2];
            loop {
                match block_on(dialed.read(&mut buf)).unwrap() {
                    0 => return (got, dialed),
                    n => got.extend_from_slice(&buf[..n]),
                }
            }
        });
        other.shutdown(Shutdown::Write).unwrap();
        writer.join().unwrap();
        let (got, mut dialed) = reader.join().unwrap();
        // Once a read saw the end of stream, nothing follows it.
        assert!(read_all(&mut dialed).is_empty());
        assert!(got.is_empty() || got == b"ab", "{got:?}");
    });
}

#[test]
fn reading_shut_down_while_a_write_copies_outside_the_lock_frees_the_buffer_once() {
    model(|| {
        let (dialed, accepted, _clock) = pair(4);
        let writer = thread::spawn(move || {
            let mut accepted = accepted;
            block_on(accepted.write(b"ab")).map_err(|e| kind(&e))
        });
        dialed.shutdown(Shutdown::Read).unwrap();
        match writer.join().unwrap() {
            Ok(n) => assert_eq!(n, 2),
            Err(e) => assert_eq!(e, Some(Error::ConnectionClosed)),
        }
    });
}
