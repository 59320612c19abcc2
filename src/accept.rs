//! Accepting: the futures behind [`Listener::accept`] and [`Listener::incoming`], and the
//! listener's accept deadline.

use crate::sync::{self, Arc, AtomicBool, Mutex, MutexGuard, Ordering};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use async_channel::{Recv, TryRecvError};
use futures::stream::Stream;

use crate::backlog::Backlog;
use crate::clock::Clock;
use crate::deadline::{self, Timer};
use crate::link::Link;
use crate::{Conn, Error, Listener};

/// A listener's accept deadline and the `accept`s waiting under it.
pub(crate) struct AcceptGate {
    state: Mutex<GateState>,
    /// Whether a deadline is set, readable without the lock: most listeners never set one,
    /// and their `accept` then skips the lock.
    has_deadline: AtomicBool,
    timer: Timer,
    /// The listener's network's clock.
    clock: Clock,
}

struct GateState {
    deadline: Option<Instant>,
    /// The waiting `accept`s, each under an id of its own: an `accept` leaves the list when it
    /// completes or is dropped, so the list never holds more than the live `accept`s, however
    /// many tasks have accepted before (wakers of finished tasks would otherwise pile up, as the
    /// list is not emptied when it is woken).
    waiting: Vec<(u64, Waker)>,
    next_id: u64,
}

impl AcceptGate {
    pub(crate) fn new(clock: Clock) -> Arc<AcceptGate> {
        Arc::new(AcceptGate {
            state: Mutex::new(GateState {
                deadline: None,
                waiting: Vec::new(),
                next_id: 0,
            }),
            has_deadline: AtomicBool::new(false),
            timer: Timer::new(),
            clock,
        })
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        sync::lock(&self.state)
    }

    /// Sets the deadline and wakes the waiting `accept`s, which re-check it.
    pub(crate) fn set_deadline(&self, deadline: Option<Instant>) {
        let mut st = self.lock();
        st.deadline = deadline;
        self.has_deadline
            .store(deadline.is_some(), Ordering::Release);
        drop(st);
        if deadline.is_none() {
            self.timer.disarm();
        }
        self.wake_all();
    }

    fn wake_all(&self) {
        let wakers: Vec<Waker> = self.lock().waiting.iter().map(|(_, w)| w.clone()).collect();
        for w in wakers {
            w.wake();
        }
    }

    fn passed(&self) -> bool {
        self.has_deadline.load(Ordering::Acquire)
            && deadline::passed(&self.clock, self.lock().deadline)
    }

    /// Registers waiter `id` (assigning one on first use) with `waker`, re-checking the deadline
    /// under the same lock, so that a change made meanwhile is not missed. Returns the deadline
    /// to arm a timer for.
    ///
    /// Wakers leave the list only after the lock is released (here and in `leave`): dropping
    /// one may free its task, and with it a `Listener` whose drop takes the same lock.
    fn wait(&self, id: &mut Option<u64>, waker: &Waker) -> Result<Option<Instant>, Error> {
        let mut st = self.lock();
        if deadline::passed(&self.clock, st.deadline) {
            return Err(Error::AcceptTimeout);
        }
        let key = *id.get_or_insert_with(|| {
            st.next_id += 1;
            st.next_id
        });
        let mut replaced = None;
        match st.waiting.iter_mut().find(|(k, _)| *k == key) {
            Some((_, w)) if w.will_wake(waker) => {}
            Some((_, w)) => replaced = Some(std::mem::replace(w, waker.clone())),
            None => st.waiting.push((key, waker.clone())),
        }
        let deadline = st.deadline;
        drop(st);
        drop(replaced);
        Ok(deadline)
    }

    /// Removes waiter `id`, if registered.
    fn leave(&self, id: &mut Option<u64>) {
        if let Some(key) = id.take() {
            let mut st = self.lock();
            let left = st
                .waiting
                .iter()
                .position(|(k, _)| *k == key)
                .map(|i| st.waiting.swap_remove(i));
            drop(st);
            drop(left);
        }
    }

    fn arm(self: &Arc<Self>, at: Instant) {
        self.timer.arm(&self.clock, at, || {
            let gate = Arc::downgrade(self);
            Box::new(move || {
                if let Some(gate) = gate.upgrade() {
                    gate.wake_all();
                }
            })
        });
    }
}

/// The future returned by [`Listener::accept`].
///
/// ```
/// # futures::executor::block_on(async {
/// let net = chanstream::Network::new();
/// let listener = net.bind("svc")?;
/// let accept: chanstream::Accept<'_> = listener.accept();
/// let (server, _client) = futures::try_join!(accept, net.connect("svc"))?;
/// assert_eq!(server.local_addr().as_str(), "svc");
/// # Ok::<(), chanstream::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Accept<'a> {
    backlog: &'a Backlog,
    gate: &'a Arc<AcceptGate>,
    /// Created only when no dial is queued and this `accept` has to wait.
    recv: Option<Pin<Box<Recv<'a, Arc<Link>>>>>,
    /// This `accept`'s place among the gate's waiters, while it waits.
    waiting: Option<u64>,
}

impl<'a> Accept<'a> {
    pub(crate) fn new(backlog: &'a Backlog, gate: &'a Arc<AcceptGate>) -> Accept<'a> {
        Accept {
            backlog,
            gate,
            recv: None,
            waiting: None,
        }
    }

    fn finish(&mut self, out: Result<Conn, Error>) -> Poll<Result<Conn, Error>> {
        self.recv = None;
        self.gate.leave(&mut self.waiting);
        Poll::Ready(out)
    }
}

impl Accept<'_> {
    /// The next queued request, or `None` once the listener is closed. A dial already queued
    /// is taken without creating (and boxing) a `Recv` future.
    fn poll_request(&mut self, cx: &mut Context<'_>) -> Poll<Option<Arc<Link>>> {
        if let Some(recv) = self.recv.as_mut() {
            return recv.as_mut().poll(cx).map(Result::ok);
        }
        match self.backlog.try_recv() {
            Ok(request) => Poll::Ready(Some(request)),
            Err(TryRecvError::Closed) => Poll::Ready(None),
            Err(TryRecvError::Empty) => {
                let backlog = self.backlog;
                let recv = self.recv.insert(Box::pin(backlog.recv()));
                recv.as_mut().poll(cx).map(Result::ok)
            }
        }
    }

    /// Nothing queued: wait, through the gate, for a dial or the accept deadline.
    fn wait(&mut self, cx: &Context<'_>) -> Poll<Result<Conn, Error>> {
        match self.gate.wait(&mut self.waiting, cx.waker()) {
            Err(e) => self.finish(Err(e)),
            Ok(deadline) => {
                if let Some(at) = deadline {
                    self.gate.arm(at);
                }
                Poll::Pending
            }
        }
    }
}

impl Future for Accept<'_> {
    type Output = Result<Conn, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = &mut *self;
        loop {
            if this.gate.passed() {
                return this.finish(Err(Error::AcceptTimeout));
            }
            match this.poll_request(cx) {
                Poll::Ready(Some(request)) => {
                    this.recv = None;
                    // A stale entry (its dialer gave up) is skipped.
                    if let Some(conn) = this.backlog.claim(request) {
                        return this.finish(Ok(conn));
                    }
                }
                Poll::Ready(None) => return this.finish(Err(Error::ListenerClosed)),
                Poll::Pending => return this.wait(cx),
            }
        }
    }
}

impl Drop for Accept<'_> {
    fn drop(&mut self) {
        self.gate.leave(&mut self.waiting);
    }
}

impl fmt::Debug for Accept<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Accept")
            .field("listener", self.backlog.addr())
            .field("waiting", &self.waiting.is_some())
            .finish()
    }
}

/// The stream returned by [`Listener::incoming`].
///
/// ```
/// # futures::executor::block_on(async {
/// use futures::StreamExt;
/// let net = chanstream::Network::new();
/// let listener = net.bind("svc")?;
/// let mut incoming: chanstream::Incoming<'_> = listener.incoming();
/// let (server, _client) = futures::join!(incoming.next(), net.connect("svc"));
/// assert!(server.unwrap().is_ok());
/// # Ok::<(), chanstream::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a Listener,
    accept: Option<Accept<'a>>,
}

impl<'a> Incoming<'a> {
    pub(crate) fn new(listener: &'a Listener) -> Incoming<'a> {
        Incoming {
            listener,
            accept: None,
        }
    }
}

impl Stream for Incoming<'_> {
    type Item = Result<Conn, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let listener = self.listener;
        let accept = self.accept.get_or_insert_with(|| listener.accept());
        let out = futures::ready!(Pin::new(accept).poll(cx));
        self.accept = None;
        Poll::Ready(match out {
            Err(Error::ListenerClosed) => None,
            other => Some(other),
        })
    }
}

impl fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("listener", &self.listener.local_addr())
            .finish()
    }
}
