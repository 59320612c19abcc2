//! A listener's backlog: the dial requests waiting for `accept`, and the handshake that settles
//! each of them exactly once.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use async_channel::{Receiver, Recv, Sender, TryRecvError};
use futures::task::AtomicWaker;

use crate::{Addr, Conn, Error};

/// The queue of dial requests of one listener.
///
/// Requests travel to `accept` through an unbounded `async-channel`; the backlog limit is
/// enforced by `live`, the number of queued requests still pending, so that a request withdrawn
/// by its dialer (timed out, or its future dropped) frees its slot at once even though its entry
/// is still in the channel. `accept` skips such stale entries, and when they pile up (no
/// `accept` for a long while) the dialer that notices compacts the channel.
pub(crate) struct Backlog {
    addr: Addr,
    limit: usize,
    buffer_size: usize,
    tx: Sender<Arc<Request>>,
    rx: Receiver<Arc<Request>>,
    /// Queued requests not yet settled; at most `limit`.
    live: AtomicUsize,
    compacting: AtomicBool,
}

/// One dial request. Its state moves once from `PENDING` to one of the others, by a
/// compare-and-swap, so that of `accept`, the dialer giving up, and the listener closing, exactly
/// one settles it.
pub(crate) struct Request {
    state: AtomicU8,
    /// Woken when the request is accepted or refused.
    dialer: AtomicWaker,
    /// The accepting end, handed to `accept`; dropped if the request is withdrawn or refused.
    server: Mutex<Option<Conn>>,
}

const PENDING: u8 = 0;
const ACCEPTED: u8 = 1;
const WITHDRAWN: u8 = 2;
const REFUSED: u8 = 3;

/// How a request ended, as its dialer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pending,
    Accepted,
    Refused,
}

impl Backlog {
    pub(crate) fn new(addr: Addr, limit: usize, buffer_size: usize) -> Arc<Backlog> {
        let (tx, rx) = async_channel::unbounded();
        Arc::new(Backlog {
            addr,
            limit,
            buffer_size,
            tx,
            rx,
            live: AtomicUsize::new(0),
            compacting: AtomicBool::new(false),
        })
    }

    pub(crate) fn addr(&self) -> &Addr {
        &self.addr
    }

    pub(crate) fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// Takes a slot and queues the request that `make` builds, or fails at once.
    pub(crate) fn enqueue(
        &self,
        make: impl FnOnce() -> Arc<Request>,
    ) -> Result<Arc<Request>, Error> {
        if self.tx.is_closed() {
            return Err(Error::ConnectionRefused);
        }
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .map_err(|_| Error::ListenQueueFull)?;
        let request = make();
        if self.tx.try_send(request.clone()).is_err() {
            // Closed since the check above.
            self.live.fetch_sub(1, Ordering::AcqRel);
            return Err(Error::ConnectionRefused);
        }
        self.compact_if_stale();
        Ok(request)
    }

    /// The next queued entry, live or stale: pass it to [`claim`](Backlog::claim).
    pub(crate) fn recv(&self) -> Recv<'_, Arc<Request>> {
        self.rx.recv()
    }

    /// The next queued entry if there is one now, without waiting.
    pub(crate) fn try_recv(&self) -> Result<Arc<Request>, TryRecvError> {
        self.rx.try_recv()
    }

    /// Accepts `request` if its dialer is still waiting, returning the accepting end.
    pub(crate) fn claim(&self, request: &Request) -> Option<Conn> {
        let conn = self.settle(request, ACCEPTED)?;
        request.dialer.wake();
        Some(conn)
    }

    /// The dialer gives up. Returns `false` if the request was already accepted or refused.
    pub(crate) fn withdraw(&self, request: &Request) -> bool {
        self.settle(request, WITHDRAWN).is_some()
    }

    fn refuse(&self, request: &Request) {
        if self.settle(request, REFUSED).is_some() {
            request.dialer.wake();
        }
    }

    /// Moves `request` out of `PENDING`, freeing its slot; `None` if it had left it already.
    fn settle(&self, request: &Request, to: u8) -> Option<Conn> {
        request
            .state
            .compare_exchange(PENDING, to, Ordering::AcqRel, Ordering::Acquire)
            .ok()?;
        self.live.fetch_sub(1, Ordering::AcqRel);
        request
            .server
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .take()
    }

    /// Refuses every queued request and every later one. Returns `false` if already closed.
    pub(crate) fn close(&self) -> bool {
        if !self.tx.close() {
            return false;
        }
        while let Ok(request) = self.rx.try_recv() {
            self.refuse(&request);
        }
        true
    }

    /// Drops stale entries once they outnumber the live ones (plus some slack, so the cost is
    /// amortised over many dials). Live entries are re-queued in their order, behind any that
    /// other dialers queue meanwhile.
    fn compact_if_stale(&self) {
        let queued = self.tx.len();
        if queued
            <= self
                .live
                .load(Ordering::Acquire)
                .saturating_mul(2)
                .saturating_add(32)
        {
            return;
        }
        if self.compacting.swap(true, Ordering::AcqRel) {
            return;
        }
        for _ in 0..queued {
            match self.rx.try_recv() {
                Ok(request) if request.outcome() == Outcome::Pending => {
                    if self.tx.try_send(request.clone()).is_err() {
                        self.refuse(&request);
                    }
                }
                Ok(_stale) => {}
                Err(TryRecvError::Empty | TryRecvError::Closed) => break,
            }
        }
        self.compacting.store(false, Ordering::Release);
    }
}

impl fmt::Debug for Backlog {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Backlog")
            .field("addr", &self.addr)
            .field("limit", &self.limit)
            .field("pending", &self.live.load(Ordering::Relaxed))
            .field("closed", &self.tx.is_closed())
            .finish()
    }
}

impl Request {
    pub(crate) fn new(server: Conn) -> Arc<Request> {
        Arc::new(Request {
            state: AtomicU8::new(PENDING),
            dialer: AtomicWaker::new(),
            server: Mutex::new(Some(server)),
        })
    }

    /// Registers the dialer's waker, to be woken when the request is settled.
    pub(crate) fn register(&self, waker: &std::task::Waker) {
        self.dialer.register(waker);
    }

    pub(crate) fn outcome(&self) -> Outcome {
        match self.state.load(Ordering::Acquire) {
            PENDING => Outcome::Pending,
            ACCEPTED => Outcome::Accepted,
            _ => Outcome::Refused,
        }
    }
}

impl fmt::Debug for Request {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Request")
            .field("outcome", &self.outcome())
            .finish()
    }
}
