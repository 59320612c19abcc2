//! Deadlines (SPEC 3): past, present (set while blocked), future, cleared, moved, on clones, and
//! the accept deadline. Timing assertions have a strict lower bound and a loose upper one. The
//! generic tests run on every transport (`on_every_transport!`): `chan://` directly and through
//! `chanstream::net`, `tcp://` and `unix://`.
//!
//! Tests that hold only for chan:// (they test the accept deadline of `chanstream::Listener`,
//! with dials held in its backlog):
//!
//! - `past_accept_deadline_fails_at_once_even_with_a_dial_waiting`: a dial waits in chan's
//!   backlog until accepted (a socket dial completes in the kernel before `accept`).
//! - `future_accept_deadline_fires_on_time`: the accept deadline of a `chanstream::Listener`.
//! - `present_accept_deadline_wakes_a_blocked_accept`: the accept deadline of a
//!   `chanstream::Listener`.
//! - `accept_deadline_moved_later_keeps_accept_waiting`: the accept deadline of a
//!   `chanstream::Listener`, dialed in its `Network`.
//! - `deadline_change_wakes_an_accept_after_another_accept_of_its_task_completed`: chan's
//!   registration of accept wakers in its listener's backlog.

#[macro_use]
mod common;

use std::io::ErrorKind;
use std::net::Shutdown;
use std::pin::pin;
use std::sync::mpsc;
use std::task::Poll;
use std::time::{Duration, Instant};

use chanstream::{Error, Network};
use common::{
    chan_err, counting_waker, fill, poll_once, poll_pinned, read, run, signal_pending, write,
    write_all, write_until_err, TestConn, Transport,
};
use futures::io::{AsyncReadExt, AsyncWriteExt};

on_every_transport!(
    past_read_deadline_fails_at_once_even_with_data_buffered,
    past_write_deadline_fails_at_once_even_with_space,
    deadline_at_now_counts_as_passed,
    read_deadline_does_not_affect_writes_and_write_deadline_not_reads,
    set_deadline_sets_both,
    present_deadline_wakes_a_blocked_read,
    present_deadline_wakes_a_blocked_write_across_threads,
    future_read_deadline_fires_on_time,
    future_write_deadline_fires_on_time,
    deadline_cleared_after_firing_lets_io_resume_without_loss,
    deadline_moved_later_keeps_a_blocked_read_waiting,
    deadline_moved_earlier_wakes_a_blocked_read_on_time,
    deadline_is_shared_by_clones,
    timer_wakes_every_waiter_even_if_the_one_that_armed_it_went_away,
    many_blocked_readers_all_time_out,
    local_shutdown_is_reported_before_a_passed_deadline,
    timeouts_never_lose_or_reorder_bytes,
    deadline_far_beyond_the_clock_never_fires_and_never_panics,
    deadline_renewed_before_every_operation_fires_only_once_left_alone,
    deadline_cleared_while_its_timer_is_armed_never_fires,
    deadline_set_from_racing_threads_takes_the_last_value,
    any_deadline_change_wakes_a_waiting_read_which_rechecks,
);

const LONG_AGO: Duration = Duration::from_secs(3600);

fn past() -> Instant {
    Instant::now()
        .checked_sub(LONG_AGO)
        .unwrap_or_else(Instant::now)
}

fn far() -> Instant {
    Instant::now() + Duration::from_secs(3600)
}

fn assert_timeout(err: std::io::Error, want: Error) {
    assert_eq!(err.kind(), ErrorKind::TimedOut);
    let e = chan_err(&err);
    assert_eq!(e, want);
    assert!(e.is_timeout() && e.is_temporary());
}

/// A scenario found, by reading the clock, that the machine was too slow for its margin: a step
/// that had to come before a deadline came after it, so the outcome proves nothing.
struct TooSlow;

/// Runs `scenario` with a margin of 30 ms, then, while it reports [`TooSlow`], with 120 ms,
/// 480 ms and 1.92 s. A test that needs a step to happen before a deadline passes fails only
/// for a fault of the crate, not because the machine (a sanitizer, valgrind, a loaded host)
/// was slower than the margin.
fn with_growing_margin(mut scenario: impl FnMut(Duration) -> Result<(), TooSlow>) {
    let mut margin = Duration::from_millis(30);
    for _ in 0..4 {
        if scenario(margin).is_ok() {
            return;
        }
        margin *= 4;
    }
    panic!("too slow even with a margin of {:?}", margin / 4);
}

/// Waits, without blocking the executor's thread on a sleep, until `at` has passed.
async fn until(at: Instant) {
    while Instant::now() < at {
        futures_timer::Delay::new(at - Instant::now()).await;
    }
}

fn past_read_deadline_fails_at_once_even_with_data_buffered<T: Transport>() {
    let (a, mut b) = T::pair();
    run(b.write_all(b"data")).unwrap();
    a.set_read_deadline(Some(past()));
    let mut buf = [0u8; 4];
    assert_timeout(run(read(&a, &mut buf)).unwrap_err(), Error::ReadTimeout);
    assert_eq!(buf, [0; 4], "no bytes moved");
    // Cleared: the data is all still there.
    a.set_read_deadline(None);
    run(a.clone().read_exact(&mut buf)).unwrap();
    assert_eq!(&buf, b"data");
}

fn past_write_deadline_fails_at_once_even_with_space<T: Transport>() {
    let (a, b) = T::pair();
    a.set_write_deadline(Some(past()));
    assert_timeout(run(write(&a, b"x")).unwrap_err(), Error::WriteTimeout);
    a.set_write_deadline(None);
    // Nothing was sent by the failed write.
    run(write_all(&a, b"y")).unwrap();
    let mut buf = [0; 1];
    run(read(&b, &mut buf)).unwrap();
    assert_eq!(&buf, b"y");
}

fn deadline_at_now_counts_as_passed<T: Transport>() {
    let (a, _b) = T::pair();
    a.set_read_deadline(Some(Instant::now()));
    assert_timeout(run(read(&a, &mut [0; 1])).unwrap_err(), Error::ReadTimeout);
}

fn read_deadline_does_not_affect_writes_and_write_deadline_not_reads<T: Transport>() {
    let (a, mut b) = T::pair();
    a.set_read_deadline(Some(past()));
    run(write_all(&a, b"w")).unwrap();
    a.set_read_deadline(None);
    a.set_write_deadline(Some(past()));
    run(b.write_all(b"r")).unwrap();
    let mut buf = [0; 1];
    run(read(&a, &mut buf)).unwrap();
    assert_eq!(&buf, b"r");
}

fn set_deadline_sets_both<T: Transport>() {
    let (a, _b) = T::pair();
    a.set_deadline(Some(past()));
    assert_timeout(run(read(&a, &mut [0; 1])).unwrap_err(), Error::ReadTimeout);
    assert_timeout(run(write(&a, b"x")).unwrap_err(), Error::WriteTimeout);
    a.set_deadline(None);
    run(write_all(&a, b"x")).unwrap();
}

fn present_deadline_wakes_a_blocked_read<T: Transport>() {
    let (a, _b) = T::pair();
    let (waker, count) = counting_waker();
    let mut buf = [0; 8];
    let mut r = pin!(read(&a, &mut buf));
    assert!(poll_pinned(r.as_mut(), &waker).is_pending());
    a.set_read_deadline(Some(past()));
    assert!(
        count.count() >= 1,
        "setting the deadline did not wake the read"
    );
    match poll_pinned(r, &waker) {
        Poll::Ready(Err(e)) => assert_timeout(e, Error::ReadTimeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
}

fn present_deadline_wakes_a_blocked_write_across_threads<T: Transport>() {
    let (a, _b) = T::pair();
    fill(&a);
    let (tx, blocked) = mpsc::channel();
    std::thread::scope(|s| {
        let h = s.spawn(|| write_until_err(&a, b"more", tx));
        blocked.recv().unwrap();
        a.set_write_deadline(Some(past()));
        assert_timeout(h.join().unwrap(), Error::WriteTimeout);
    });
}

fn future_read_deadline_fires_on_time<T: Transport>() {
    let (a, _b) = T::pair();
    let start = Instant::now();
    a.set_read_deadline(Some(start + Duration::from_millis(50)));
    assert_timeout(run(read(&a, &mut [0; 8])).unwrap_err(), Error::ReadTimeout);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(50), "fired early: {took:?}");
    assert!(took < Duration::from_secs(5), "fired late: {took:?}");
}

fn future_write_deadline_fires_on_time<T: Transport>() {
    let (a, _b) = T::pair();
    fill(&a);
    let start = Instant::now();
    a.set_write_deadline(Some(start + Duration::from_millis(50)));
    let err = write_until_err(&a, &[1; 1024], mpsc::channel().0);
    assert_timeout(err, Error::WriteTimeout);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(50), "fired early: {took:?}");
    assert!(took < Duration::from_secs(5), "fired late: {took:?}");
}

fn deadline_cleared_after_firing_lets_io_resume_without_loss<T: Transport>() {
    let (a, mut b) = T::pair();
    a.set_read_deadline(Some(Instant::now() + Duration::from_millis(20)));
    assert_timeout(run(read(&a, &mut [0; 8])).unwrap_err(), Error::ReadTimeout);
    assert_timeout(run(read(&a, &mut [0; 8])).unwrap_err(), Error::ReadTimeout);
    a.set_read_deadline(None);
    run(b.write_all(b"after")).unwrap();
    let mut buf = [0; 5];
    run(a.clone().read_exact(&mut buf)).unwrap();
    assert_eq!(&buf, b"after");
}

fn deadline_moved_later_keeps_a_blocked_read_waiting<T: Transport>() {
    with_growing_margin(|margin| {
        let (a, b) = T::pair();
        let first = Instant::now() + margin;
        a.set_read_deadline(Some(first));
        let mut buf = [0; 2];
        let (r, blocked) = signal_pending(read(&a, &mut buf));
        let got = std::thread::scope(|s| {
            let h = s.spawn(|| run(r));
            if blocked.recv().is_err() {
                // The read ended without waiting: only the first deadline, passed before the
                // read began, may end it.
                assert_timeout(h.join().unwrap().unwrap_err(), Error::ReadTimeout);
                assert!(Instant::now() >= first);
                return Err(TooSlow);
            }
            a.set_read_deadline(Some(far()));
            if Instant::now() >= first {
                // Moved only after the first deadline passed: the read may rightly have failed.
                a.set_read_deadline(Some(past()));
                let _ = h.join().unwrap();
                return Err(TooSlow);
            }
            // Let the first deadline pass: the read must still be waiting, so it gets the data.
            run(until(first + margin / 2));
            run(write_all(&b, b"ok")).unwrap();
            Ok(h.join().unwrap().unwrap())
        })?;
        assert_eq!(got, 2);
        assert_eq!(&buf, b"ok");
        Ok(())
    });
}

fn deadline_moved_earlier_wakes_a_blocked_read_on_time<T: Transport>() {
    let (a, _b) = T::pair();
    a.set_read_deadline(Some(far()));
    let mut buf = [0; 4];
    let (r, blocked) = signal_pending(read(&a, &mut buf));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(r));
        blocked.recv().unwrap();
        let start = Instant::now();
        a.set_read_deadline(Some(start + Duration::from_millis(40)));
        assert_timeout(h.join().unwrap().unwrap_err(), Error::ReadTimeout);
        let took = start.elapsed();
        assert!(took >= Duration::from_millis(40), "fired early: {took:?}");
        assert!(took < Duration::from_secs(5), "fired late: {took:?}");
    });
}

fn deadline_is_shared_by_clones<T: Transport>() {
    let (a, _b) = T::pair();
    let a2 = a.clone();
    let mut buf = [0; 4];
    let (r, blocked) = signal_pending(read(&a2, &mut buf));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(r));
        blocked.recv().unwrap();
        a.set_read_deadline(Some(past()));
        assert_timeout(h.join().unwrap().unwrap_err(), Error::ReadTimeout);
    });
}

fn timer_wakes_every_waiter_even_if_the_one_that_armed_it_went_away<T: Transport>() {
    let (a, _b) = T::pair();
    let a2 = a.clone();
    let at = Instant::now() + Duration::from_millis(40);
    a.set_read_deadline(Some(at));
    // The first reader starts waiting (arming the timer), then gives up.
    let (waker, _) = counting_waker();
    let mut buf1 = [0; 1];
    assert!(poll_pinned(pin!(read(&a, &mut buf1)), &waker).is_pending());
    // A second reader, on a clone and another thread, waits under the same deadline.
    let mut buf2 = [0; 1];
    let err = std::thread::scope(|s| s.spawn(|| run(read(&a2, &mut buf2))).join().unwrap());
    assert_timeout(err.unwrap_err(), Error::ReadTimeout);
    assert!(Instant::now() >= at);
}

fn many_blocked_readers_all_time_out<T: Transport>() {
    let (a, _b) = T::pair();
    a.set_read_deadline(Some(Instant::now() + Duration::from_millis(30)));
    std::thread::scope(|s| {
        let hs: Vec<_> = (0..8)
            .map(|_| {
                let c = a.clone();
                s.spawn(move || run(async move { read(&c, &mut [0; 8]).await }))
            })
            .collect();
        for h in hs {
            assert_timeout(h.join().unwrap().unwrap_err(), Error::ReadTimeout);
        }
    });
}

fn local_shutdown_is_reported_before_a_passed_deadline<T: Transport>() {
    let (a, _b) = T::pair();
    a.set_deadline(Some(past()));
    a.shutdown(Shutdown::Both).unwrap();
    assert_eq!(run(read(&a, &mut [0; 4])).unwrap(), 0);
    let err = run(write(&a, b"x")).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::BrokenPipe);
}

fn timeouts_never_lose_or_reorder_bytes<T: Transport>() {
    let (a, b) = T::pair();
    // More than chan's 1 MiB buffer, read 100 bytes at a time: writes wait and time out too.
    let data = common::pattern(7, 3 << 20);
    std::thread::scope(|s| {
        let data = &data;
        s.spawn(move || {
            let mut sent = 0;
            while sent < data.len() {
                a.set_write_deadline(Some(Instant::now() + Duration::from_micros(200)));
                match run(write(&a, &data[sent..])) {
                    Ok(n) => sent += n,
                    Err(e) => assert_eq!(chan_err(&e), Error::WriteTimeout),
                }
            }
            a.set_write_deadline(None);
            a.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        let mut buf = [0; 100];
        loop {
            b.set_read_deadline(Some(Instant::now() + Duration::from_micros(200)));
            match run(read(&b, &mut buf)) {
                Ok(0) => break,
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => assert_eq!(chan_err(&e), Error::ReadTimeout),
            }
        }
        assert!(got == *data, "stream damaged by timeouts");
    });
}

// ---- The accept deadline ---------------------------------------------------------------------

#[test]
fn past_accept_deadline_fails_at_once_even_with_a_dial_waiting() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (waker, _) = counting_waker();
    let mut dial = net.connect("svc");
    assert!(poll_once(&mut dial, &waker).is_pending());
    listener.set_deadline(Some(past()));
    let err = run(listener.accept()).unwrap_err();
    assert_eq!(err, Error::AcceptTimeout);
    assert!(err.is_timeout() && !err.is_temporary());
    // Cleared: the waiting dial is still there to accept.
    listener.set_deadline(None);
    let server = run(listener.accept()).unwrap();
    let Poll::Ready(Ok(client)) = poll_once(&mut dial, &waker) else {
        panic!("dial not completed");
    };
    assert_eq!(server.peer_addr(), client.local_addr());
}

#[test]
fn future_accept_deadline_fires_on_time() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let start = Instant::now();
    listener.set_deadline(Some(start + Duration::from_millis(50)));
    assert_eq!(run(listener.accept()).unwrap_err(), Error::AcceptTimeout);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(50), "fired early: {took:?}");
    assert!(took < Duration::from_secs(5), "fired late: {took:?}");
}

#[test]
fn present_accept_deadline_wakes_a_blocked_accept() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    let (acc, blocked) = signal_pending(listener.accept());
    std::thread::scope(|s| {
        let h = s.spawn(|| run(acc));
        blocked.recv().unwrap();
        listener.set_deadline(Some(past()));
        assert_eq!(h.join().unwrap().unwrap_err(), Error::AcceptTimeout);
    });
}

#[test]
fn accept_deadline_moved_later_keeps_accept_waiting() {
    // On a manual clock, so that a slow machine cannot pass the first deadline before the
    // accept even waits.
    let clock = chanstream::ManualClock::new();
    let net = Network::with_clock(clock.clock());
    let listener = net.bind("svc").unwrap();
    listener.set_deadline(Some(clock.now() + Duration::from_secs(30)));
    let (acc, blocked) = signal_pending(listener.accept());
    std::thread::scope(|s| {
        let h = s.spawn(|| run(acc));
        blocked.recv().unwrap();
        listener.set_deadline(Some(clock.now() + Duration::from_secs(3600)));
        clock.advance(Duration::from_secs(50));
        let client = run(net.connect("svc")).unwrap();
        assert_eq!(h.join().unwrap().unwrap().peer_addr(), client.local_addr());
    });
}

fn deadline_far_beyond_the_clock_never_fires_and_never_panics<T: Transport>() {
    let (a, mut b) = T::pair();
    let very_far = Instant::now() + Duration::from_secs(u64::MAX / 4);
    a.set_read_deadline(Some(very_far));
    let mut buf = [0; 2];
    let (r, blocked) = signal_pending(read(&a, &mut buf));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(r));
        blocked.recv().unwrap();
        run(b.write_all(b"hi")).unwrap();
        assert_eq!(h.join().unwrap().unwrap(), 2);
    });
}

#[test]
fn deadline_change_wakes_an_accept_after_another_accept_of_its_task_completed() {
    let net = Network::new();
    let listener = net.bind("svc").unwrap();
    // Two accepts pending in one task (one waker), as under `join!`.
    let (waker, count) = counting_waker();
    let mut first = listener.accept();
    let mut second = listener.accept();
    assert!(poll_once(&mut first, &waker).is_pending());
    assert!(poll_once(&mut second, &waker).is_pending());
    // A dial completes the first one.
    let mut dial = net.connect("svc");
    let _ = poll_once(&mut dial, &waker);
    assert!(matches!(poll_once(&mut first, &waker), Poll::Ready(Ok(_))));
    drop(first);
    // The second one is still registered: moving the deadline into the past wakes it.
    let before = count.count();
    listener.set_deadline(Some(past()));
    assert!(count.count() > before, "the waiting accept was not woken");
    assert!(matches!(
        poll_once(&mut second, &waker),
        Poll::Ready(Err(Error::AcceptTimeout))
    ));
}

fn deadline_renewed_before_every_operation_fires_only_once_left_alone<T: Transport>() {
    // Go's idiom: `now + d` before every read and write. The timer armed for the first
    // deadline fires while later ones are in force; it must neither fail an operation nor be
    // lost, so the deadline still fires once renewal stops.
    with_growing_margin(|d| {
        let (a, b) = T::pair();
        let renewing = Instant::now();
        let mut buf = [0; 1];
        let mut rounds = 0;
        while renewing.elapsed() < 4 * d {
            let set = Instant::now();
            a.set_deadline(Some(set + d));
            run(write_all(&b, &[rounds as u8])).unwrap();
            let round = run(async {
                let n = read(&a, &mut buf).await?;
                write_all(&a, b"k").await?;
                Ok::<_, std::io::Error>(n)
            });
            match round {
                Ok(n) => assert_eq!(n, 1, "round {rounds}"),
                Err(e) => {
                    // A round may fail only by timing out, and only if it took longer than
                    // the deadline it set.
                    assert_eq!(e.kind(), ErrorKind::TimedOut, "round {rounds}: {e:?}");
                    assert!(set.elapsed() >= d, "round {rounds} failed in time: {e:?}");
                    return Err(TooSlow);
                }
            }
            assert_eq!(buf[0], rounds as u8);
            assert_eq!(run(read(&b, &mut buf)).unwrap(), 1);
            rounds += 1;
            run(futures_timer::Delay::new(Duration::from_millis(1)));
        }
        let last = Instant::now();
        a.set_read_deadline(Some(last + d));
        assert_timeout(run(read(&a, &mut buf)).unwrap_err(), Error::ReadTimeout);
        let took = last.elapsed();
        assert!(took >= d, "fired early: {took:?}");
        assert!(took < d + Duration::from_secs(5), "fired late: {took:?}");
        Ok(())
    });
}

fn deadline_cleared_while_its_timer_is_armed_never_fires<T: Transport>() {
    let (a, b) = T::pair();
    let at = Instant::now() + Duration::from_millis(20);
    a.set_read_deadline(Some(at));
    a.set_read_deadline(None);
    let mut buf = [0; 2];
    let (r, blocked) = signal_pending(read(&a, &mut buf));
    std::thread::scope(|s| {
        let h = s.spawn(|| run(r));
        blocked.recv().unwrap();
        // The cleared deadline's instant passes while the read waits.
        run(until(at + Duration::from_millis(30)));
        run(write_all(&b, b"ok")).unwrap();
        assert_eq!(h.join().unwrap().unwrap(), 2);
    });
    assert_eq!(&buf, b"ok");
}

fn deadline_set_from_racing_threads_takes_the_last_value<T: Transport>() {
    // Threads set past, near, far and no deadlines while timers armed for the near ones fire;
    // once they stop, the deadline set last is the one in force.
    let (a, b) = T::pair();
    std::thread::scope(|s| {
        for t in 0..3u32 {
            let a = a.clone();
            s.spawn(move || {
                for i in 0..300u32 {
                    let at = match (i + t) % 4 {
                        0 => Some(past()),
                        1 => Some(Instant::now() + Duration::from_micros(50 * u64::from(i % 7))),
                        2 => Some(far()),
                        _ => None,
                    };
                    a.set_read_deadline(at);
                    if i % 16 == 0 {
                        std::thread::yield_now();
                    }
                }
            });
        }
    });
    // A cleared deadline: a read waits for data, however the race ended.
    a.set_read_deadline(None);
    // Not synchronisation: the racing near deadlines' timers (at most 300 µs ahead) fire
    // meanwhile, and must find no deadline to expire.
    run(until(Instant::now() + Duration::from_millis(5)));
    run(write_all(&b, b"x")).unwrap();
    let mut buf = [0; 1];
    assert_eq!(run(read(&a, &mut buf)).unwrap(), 1);
    // A near deadline: a blocked read times out on time.
    let start = Instant::now();
    a.set_read_deadline(Some(start + Duration::from_millis(30)));
    assert_timeout(run(read(&a, &mut buf)).unwrap_err(), Error::ReadTimeout);
    let took = start.elapsed();
    assert!(took >= Duration::from_millis(30), "fired early: {took:?}");
    assert!(took < Duration::from_secs(5), "fired late: {took:?}");
}

fn any_deadline_change_wakes_a_waiting_read_which_rechecks<T: Transport>() {
    let (a, b) = T::pair();
    let (waker, wakes) = counting_waker();
    let mut buf = [0; 2];
    let mut r = Box::pin(read(&a, &mut buf));
    assert!(poll_pinned(r.as_mut(), &waker).is_pending());
    // Moved into the future, cleared, then into the future again: each wakes the read, which
    // re-checks and waits again.
    for at in [Some(far()), None, Some(far())] {
        let before = wakes.count();
        a.set_read_deadline(at);
        assert!(wakes.count() > before, "not woken by {at:?}");
        assert!(poll_pinned(r.as_mut(), &waker).is_pending());
    }
    // Moved into the past: it fails at once when polled.
    let before = wakes.count();
    a.set_read_deadline(Some(past()));
    assert!(wakes.count() > before);
    match poll_pinned(r.as_mut(), &waker) {
        Poll::Ready(Err(e)) => assert_timeout(e, Error::ReadTimeout),
        other => panic!("expected a timeout, got {other:?}"),
    }
    drop(r);
    a.set_read_deadline(None);
    run(write_all(&b, b"ok")).unwrap();
    assert_eq!(run(read(&a, &mut buf)).unwrap(), 2);
}
