//! One direction of a connection: a bounded byte buffer between the end that writes it and the
//! end that reads it.

use std::io;
use std::sync::{Arc, Mutex, MutexGuard, Weak};
use std::task::{Context, Poll};
use std::time::Instant;

use crate::deadline::{self, OnFire, Timer};
use crate::ring::Ring;
use crate::waiters::WaitList;
use crate::Error;

/// One direction of a connection.
///
/// Everything that decides whether a read or a write of this direction can proceed sits under one
/// mutex: the bytes, both shutdown flags, the reading end's read deadline and the writing end's
/// write deadline, and the waiters. A task therefore checks and registers under the same lock
/// that a writer, a shutdown or a deadline change takes to wake it, and no wake-up is lost. The
/// two directions of a connection are two `Pipe`s and share no lock.
#[derive(Debug)]
pub(crate) struct Pipe {
    state: Mutex<State>,
    /// Wake the readers (index [`Side::Read`]) or writers ([`Side::Write`]) when their deadline
    /// passes.
    timers: [Timer; 2],
}

#[derive(Debug)]
struct State {
    /// Bytes written and not yet read.
    buf: Ring,
    /// The most bytes `buf` may hold.
    capacity: usize,
    /// The reading end shut down reading: buffered and later bytes are discarded, writes fail.
    read_shut: bool,
    /// The writing end shut down writing: readers get the buffered bytes, then end of stream.
    write_shut: bool,
    /// The reading end's read deadline and the writing end's write deadline, by [`Side`].
    deadlines: [Option<Instant>; 2],
    /// Tasks waiting to read and to write, by [`Side`].
    waiters: [WaitList; 2],
}

/// The reading or the writing side of a pipe; indexes its per-side fields.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Read = 0,
    Write = 1,
}

impl Pipe {
    pub(crate) fn new(capacity: usize) -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(State {
                buf: Ring::default(),
                capacity,
                read_shut: false,
                write_shut: false,
                deadlines: [None, None],
                waiters: [WaitList::default(), WaitList::default()],
            }),
            timers: [Timer::new(), Timer::new()],
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // Every update leaves the state consistent before anything can panic, so a poisoned lock
        // (a panic elsewhere while it was held) is still safe to use.
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub(crate) fn poll_read(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        out: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let mut st = self.lock();
        if st.read_shut {
            return Poll::Ready(Ok(0));
        }
        if deadline::passed(st.deadlines[Side::Read as usize]) {
            return Poll::Ready(Err(Error::ReadTimeout.into()));
        }
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !st.buf.is_empty() {
            let n = st.buf.pop_into(out);
            let woken = st.waiters[Side::Write as usize].take();
            drop(st);
            woken.wake();
            return Poll::Ready(Ok(n));
        }
        if st.write_shut {
            return Poll::Ready(Ok(0));
        }
        self.wait(st, cx, Side::Read)
    }

    pub(crate) fn poll_write(
        self: &Arc<Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        let mut st = self.lock();
        if st.write_shut {
            return Poll::Ready(Err(Error::ConnectionClosed.into()));
        }
        if deadline::passed(st.deadlines[Side::Write as usize]) {
            return Poll::Ready(Err(Error::WriteTimeout.into()));
        }
        if st.read_shut {
            return Poll::Ready(Err(Error::ConnectionClosed.into()));
        }
        if data.is_empty() {
            return Poll::Ready(Ok(0));
        }
        let space = st.capacity - st.buf.len();
        if space > 0 {
            let n = space.min(data.len());
            let capacity = st.capacity;
            st.buf.push(&data[..n], capacity);
            let woken = st.waiters[Side::Read as usize].take();
            drop(st);
            woken.wake();
            return Poll::Ready(Ok(n));
        }
        self.wait(st, cx, Side::Write)
    }

    /// Registers the caller as waiting on `side`, and makes sure its deadline, if any, has a
    /// timer. The timer is armed after the lock is released: its action takes the same lock.
    fn wait<T>(
        self: &Arc<Self>,
        mut st: MutexGuard<'_, State>,
        cx: &Context<'_>,
        side: Side,
    ) -> Poll<T> {
        st.waiters[side as usize].register(cx.waker());
        let at = st.deadlines[side as usize];
        drop(st);
        if let Some(at) = at {
            self.timers[side as usize].arm(at, || self.waker_of(side));
        }
        Poll::Pending
    }

    /// The reading end stops reading: unread bytes are dropped, readers see end of stream and
    /// writers (waiting or later) fail.
    pub(crate) fn shut_read(&self) {
        let mut st = self.lock();
        st.read_shut = true;
        st.buf.clear();
        self.wake_all(st);
    }

    /// The writing end stops writing: readers drain what is buffered, then see end of stream.
    pub(crate) fn shut_write(&self) {
        let mut st = self.lock();
        st.write_shut = true;
        self.wake_all(st);
    }

    /// Sets the deadline of `side` and wakes its waiters, which re-check it.
    pub(crate) fn set_deadline(&self, side: Side, at: Option<Instant>) {
        let mut st = self.lock();
        st.deadlines[side as usize] = at;
        let woken = st.waiters[side as usize].take();
        drop(st);
        if at.is_none() {
            self.timers[side as usize].disarm();
        }
        woken.wake();
    }

    fn wake_all(&self, mut st: MutexGuard<'_, State>) {
        let [readers, writers] = &mut st.waiters;
        let (readers, writers) = (readers.take(), writers.take());
        drop(st);
        readers.wake();
        writers.wake();
    }

    /// The action of a deadline timer: wake the waiters of `side`, if the pipe still exists.
    fn waker_of(self: &Arc<Self>, side: Side) -> OnFire {
        let pipe: Weak<Pipe> = Arc::downgrade(self);
        Box::new(move || {
            if let Some(pipe) = pipe.upgrade() {
                let woken = pipe.lock().waiters[side as usize].take();
                woken.wake();
            }
        })
    }
}
