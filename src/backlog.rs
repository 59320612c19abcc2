//! A listener's backlog: the dial requests waiting for `accept`, and the handshake that settles
//! each of them exactly once.

use crate::sync::{Arc, AtomicBool, AtomicUsize, Ordering};
use std::fmt;

use async_channel::{Receiver, Recv, Sender, TryRecvError};

use crate::end::End;
use crate::handshake::{Outcome, Settle};
use crate::link::Link;
use crate::{Addr, Conn, Error, Faults};

/// The queue of dial requests of one listener.
///
/// A request is the new connection itself (its [`Link`], which carries the
/// [`Handshake`](crate::handshake::Handshake) state), so queuing a dial allocates nothing beyond
/// the connection. Requests travel to `accept`
/// through an unbounded `async-channel`; the backlog limit is enforced by `live`, the number of queued requests still pending, so that a request withdrawn
/// by its dialer (timed out, or its future dropped) frees its slot at once even though its entry
/// is still in the channel. `accept` skips such stale entries, and when they pile up (no
/// `accept` for a long while) the dialer that notices compacts the channel.
pub(crate) struct Backlog {
    addr: Addr,
    limit: usize,
    buffer_size: usize,
    tx: Sender<Arc<Link>>,
    rx: Receiver<Arc<Link>>,
    /// Queued requests not yet settled; at most `limit`.
    live: AtomicUsize,
    compacting: AtomicBool,
    /// The listener's own faults, if it has any.
    faults: Option<Faults>,
}

impl Backlog {
    pub(crate) fn new(
        addr: Addr,
        limit: usize,
        buffer_size: usize,
        faults: Option<Faults>,
    ) -> Arc<Backlog> {
        let (tx, rx) = async_channel::unbounded();
        Arc::new(Backlog {
            addr,
            limit,
            buffer_size,
            tx,
            rx,
            live: AtomicUsize::new(0),
            compacting: AtomicBool::new(false),
            faults,
        })
    }

    pub(crate) fn addr(&self) -> &Addr {
        &self.addr
    }

    pub(crate) fn buffer_size(&self) -> usize {
        self.buffer_size
    }

    /// The listener's own faults.
    pub(crate) fn faults(&self) -> Option<&Faults> {
        self.faults.as_ref()
    }

    /// Whether the listener has closed.
    pub(crate) fn is_closed(&self) -> bool {
        self.tx.is_closed()
    }

    /// Takes a slot and queues the connection that `make` builds, or fails at once.
    pub(crate) fn enqueue(&self, make: impl FnOnce() -> Arc<Link>) -> Result<(), Error> {
        if self.tx.is_closed() {
            return Err(Error::ConnectionRefused);
        }
        self.live
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                (n < self.limit).then_some(n + 1)
            })
            .map_err(|_| Error::ListenQueueFull)?;
        if let Err(e) = self.tx.try_send(make()) {
            // Closed since the check above: the connection is dropped unsettled, with its
            // accepting end's handle.
            self.live.fetch_sub(1, Ordering::AcqRel);
            e.into_inner().drop_handle(End::Accepted);
            return Err(Error::ConnectionRefused);
        }
        self.compact_if_stale();
        Ok(())
    }

    /// The next queued entry, live or stale: pass it to [`claim`](Backlog::claim).
    pub(crate) fn recv(&self) -> Recv<'_, Arc<Link>> {
        self.rx.recv()
    }

    /// The next queued entry if there is one now, without waiting.
    pub(crate) fn try_recv(&self) -> Result<Arc<Link>, TryRecvError> {
        self.rx.try_recv()
    }

    /// Accepts the dial of `link` if its dialer is still waiting, returning the accepting end.
    pub(crate) fn claim(&self, link: Arc<Link>) -> Option<Conn> {
        if !self.settle(&link, Settle::Accepted) {
            return None;
        }
        Some(Conn::adopt(link, End::Accepted))
    }

    /// The dialer gives up. Returns `false` if the request was already accepted or refused.
    pub(crate) fn withdraw(&self, link: &Link) -> bool {
        self.settle(link, Settle::Withdrawn)
    }

    fn refuse(&self, link: &Link) {
        self.settle(link, Settle::Refused);
    }

    /// Settles the request of `link` as `to`, freeing its slot, then wakes its dialer (so a
    /// dialer that dials again at once finds the slot free), unless the dialer is the one
    /// withdrawing; `false` if it had left it already. A request withdrawn or refused drops the
    /// accepting end's handle it held.
    fn settle(&self, link: &Link, to: Settle) -> bool {
        let Some(dialer) = link.settle(to) else {
            return false;
        };
        self.live.fetch_sub(1, Ordering::AcqRel);
        if to != Settle::Accepted {
            link.drop_handle(End::Accepted);
        }
        if to == Settle::Withdrawn {
            drop(dialer);
        } else {
            dialer.wake();
        }
        true
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
                Ok(link) if link.outcome(None) == Outcome::Pending => {
                    if let Err(e) = self.tx.try_send(link) {
                        self.refuse(&e.into_inner());
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
