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
    /// Wakes the readers when the reading end's read deadline passes.
    read_timer: Timer,
    /// Wakes the writers when the writing end's write deadline passes.
    write_timer: Timer,
}

#[derive(Debug)]
struct State {
    /// Bytes written and not yet read. Its allocation grows with use, never past `capacity`.
    buf: Ring,
    /// The most bytes `buf` may hold.
    capacity: usize,
    /// The reading end shut down reading: buffered and later bytes are discarded, writes fail.
    read_shut: bool,
    /// The writing end shut down writing: readers get the buffered bytes, then end of stream.
    write_shut: bool,
    read_deadline: Option<Instant>,
    write_deadline: Option<Instant>,
    readers: WaitList,
    writers: WaitList,
}

/// Which of a pipe's two kinds of waiter.
#[derive(Debug, Clone, Copy)]
enum Waiters {
    Readers,
    Writers,
}

impl Pipe {
    pub(crate) fn new(capacity: usize) -> Arc<Pipe> {
        Arc::new(Pipe {
            state: Mutex::new(State {
                buf: Ring::default(),
                capacity,
                read_shut: false,
                write_shut: false,
                read_deadline: None,
                write_deadline: None,
                readers: WaitList::default(),
                writers: WaitList::default(),
            }),
            read_timer: Timer::new(),
            write_timer: Timer::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, State> {
        // A panic while the lock is held cannot leave the state half-updated in a way that
        // matters more than losing the connection, so poisoning is ignored.
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
        if deadline::passed(st.read_deadline) {
            return Poll::Ready(Err(Error::ReadTimeout.into()));
        }
        if out.is_empty() {
            return Poll::Ready(Ok(0));
        }
        if !st.buf.is_empty() {
            let n = st.buf.pop_into(out);
            let woken = st.writers.take();
            drop(st);
            woken.wake();
            return Poll::Ready(Ok(n));
        }
        if st.write_shut {
            return Poll::Ready(Ok(0));
        }
        st.readers.register(cx.waker());
        let at = st.read_deadline;
        drop(st);
        if let Some(at) = at {
            self.read_timer.arm(at, || self.waker_of(Waiters::Readers));
        }
        Poll::Pending
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
        if deadline::passed(st.write_deadline) {
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
            let woken = st.readers.take();
            drop(st);
            woken.wake();
            return Poll::Ready(Ok(n));
        }
        st.writers.register(cx.waker());
        let at = st.write_deadline;
        drop(st);
        if let Some(at) = at {
            self.write_timer.arm(at, || self.waker_of(Waiters::Writers));
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

    pub(crate) fn set_read_deadline(&self, at: Option<Instant>) {
        let mut st = self.lock();
        st.read_deadline = at;
        let woken = st.readers.take();
        drop(st);
        if at.is_none() {
            self.read_timer.disarm();
        }
        woken.wake();
    }

    pub(crate) fn set_write_deadline(&self, at: Option<Instant>) {
        let mut st = self.lock();
        st.write_deadline = at;
        let woken = st.writers.take();
        drop(st);
        if at.is_none() {
            self.write_timer.disarm();
        }
        woken.wake();
    }

    fn wake_all(&self, mut st: MutexGuard<'_, State>) {
        let readers = st.readers.take();
        let writers = st.writers.take();
        drop(st);
        readers.wake();
        writers.wake();
    }

    /// The action of a deadline timer: wake one kind of waiter of this pipe, if it still exists.
    fn waker_of(self: &Arc<Self>, which: Waiters) -> OnFire {
        let pipe: Weak<Pipe> = Arc::downgrade(self);
        Box::new(move || {
            if let Some(pipe) = pipe.upgrade() {
                let mut st = pipe.lock();
                let woken = match which {
                    Waiters::Readers => st.readers.take(),
                    Waiters::Writers => st.writers.take(),
                };
                drop(st);
                woken.wake();
            }
        })
    }
}
