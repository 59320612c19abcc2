//! The handshake state of one dial: settled exactly once, by `accept`, by the dialer giving
//! up, or by the listener closing.

use std::fmt;
use std::task::Waker;

use crate::sync::{AtomicU8, AtomicWaker, Ordering};

/// The handshake state of one dial, part of the connection it dials. Its state moves once from
/// pending to one of the others, by a compare-and-swap, so that of `accept`, the dialer giving
/// up, and the listener closing, exactly one settles it.
///
/// Until then the request holds the accepting end's handle (see
/// [`Link::new`](crate::link::Link::new)): `accept` takes it over as the accepted
/// [`Conn`](crate::Conn); a withdrawn or refused request drops it.
pub(crate) struct Request {
    state: AtomicU8,
    /// Woken when the request is accepted or refused.
    dialer: AtomicWaker,
}

const PENDING: u8 = 0;

/// How a pending request is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Settle {
    Accepted = 1,
    /// The dialer gave up.
    Withdrawn = 2,
    /// The listener closed.
    Refused = 3,
}

/// How a request ended, as its dialer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pending,
    Accepted,
    Refused,
}

impl Request {
    pub(crate) fn new() -> Request {
        Request {
            state: AtomicU8::new(PENDING),
            dialer: AtomicWaker::new(),
        }
    }

    /// Registers the dialer's waker, to be woken when the request is settled.
    pub(crate) fn register(&self, waker: &Waker) {
        self.dialer.register(waker);
    }

    /// Wakes the dialer (once the request is settled).
    pub(crate) fn wake_dialer(&self) {
        self.dialer.wake();
    }

    /// Settles a pending request as `to`; `false` if it was settled already.
    pub(crate) fn settle(&self, to: Settle) -> bool {
        self.state
            .compare_exchange(PENDING, to as u8, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    pub(crate) fn outcome(&self) -> Outcome {
        match self.state.load(Ordering::Acquire) {
            PENDING => Outcome::Pending,
            s if s == Settle::Accepted as u8 => Outcome::Accepted,
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
