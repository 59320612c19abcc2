//! What the two ends of one connection share: its two directions, its addresses, how many
//! handles each end has, and the handshake that set it up.

use crate::sync::{Arc, AtomicU32, Ordering, Weak};
use std::task::Waker;

use crate::clock::Clock;
use crate::end::End;
use crate::faults::LinkFaults;
use crate::handshake::{Outcome, Settle};
use crate::pipe::{Owner, Pipe};
use crate::waiters::Taken;
use crate::Addr;

/// One connection, in one allocation.
///
/// Each end writes its own pipe (the pipe of [`End::Dialed`] carries what the dialed end writes)
/// and reads its peer's. Each end counts its handles ([`Conn`](crate::Conn) clones); when the
/// last handle of an end goes, that end shuts down both ways, while the allocation lives on as
/// long as the other end has handles.
///
/// A connection is made by its dialer and queued, as the dial request itself, in the listener's
/// backlog; its [`Handshake`](crate::handshake::Handshake), kept in the dialed end's pipe,
/// records how the handshake ended.
///
/// It is 184 bytes (two pipes of 72, the listener's name 16, the dial's number, the handle
/// counts and the environment 8 each), one allocation of 200 with the reference counts.
#[derive(Debug)]
pub(crate) struct Link {
    pipes: [Pipe; 2],
    /// The listener's name: the accepted end's address.
    listener: Addr,
    /// The dial's number in its network: the dialed end's address is `listener#dial`, made
    /// when asked for (an allocation per dial saved); 0 for a connection whose two ends both
    /// go by the listener's name.
    dial: u64,
    /// By [`End`]: its live [`Conn`](crate::Conn) handles (32 bits: a connection is as small
    /// as it can be; more than 2^31 clones of one end abort, as `Arc` does past `isize::MAX`).
    handles: [AtomicU32; 2],
    /// The clock and faults of the network it was made in; `None` for the wall clock and no
    /// faults, so that the common case costs a pointer.
    env: Option<Arc<Env>>,
}

/// What a connection runs under, other than the defaults: its network's clock, and the faults
/// applied to it.
#[derive(Debug)]
pub(crate) struct Env {
    pub(crate) clock: Clock,
    pub(crate) faults: Option<LinkFaults>,
}

/// The wall clock, for connections without an [`Env`].
static SYSTEM: Clock = Clock::SYSTEM;

impl Link {
    /// A new connection between a dialed end numbered `dial` and an accepted end at `listener`,
    /// with one handle on each end: the dialer's, and the one its pending request holds for the
    /// accepting end (taken over by `accept`, or dropped if the request is withdrawn or
    /// refused).
    ///
    /// `env` makes its environment, given the connection it will be part of.
    pub(crate) fn new(
        dial: u64,
        listener: Addr,
        capacity: usize,
        env: impl FnOnce(&Weak<Link>) -> Option<Arc<Env>>,
    ) -> Arc<Link> {
        Arc::new_cyclic(|me| Link {
            pipes: [
                Pipe::new(capacity, End::Dialed),
                Pipe::new(capacity, End::Accepted),
            ],
            listener,
            dial,
            handles: [AtomicU32::new(1), AtomicU32::new(1)],
            env: env(me),
        })
    }

    /// The clock its deadlines run on.
    pub(crate) fn clock(&self) -> &Clock {
        self.env.as_ref().map_or(&SYSTEM, |e| &e.clock)
    }

    /// Its faults, if any apply.
    pub(crate) fn faults(&self) -> Option<&LinkFaults> {
        self.env.as_ref()?.faults.as_ref()
    }

    /// Settles the dial that set this connection up as `to`: `None` if it was settled
    /// already, else the dialer's waker, to wake or drop once the settling is complete (see
    /// [`Pipe::settle`]).
    pub(crate) fn settle(&self, to: Settle) -> Option<Taken> {
        self.pipe(End::Dialed).settle(to)
    }

    /// How the dial that set this connection up ended; while it is pending, `dialer` (if
    /// given) is woken when it is settled.
    pub(crate) fn outcome(&self, dialer: Option<&Waker>) -> Outcome {
        self.pipe(End::Dialed).outcome(dialer)
    }

    /// The pipe `writer` writes (and its peer reads).
    pub(crate) fn pipe(&self, writer: End) -> &Pipe {
        &self.pipes[writer.index()]
    }

    /// The pipe `end` reads.
    pub(crate) fn incoming(&self, end: End) -> &Pipe {
        self.pipe(end.peer())
    }

    /// The pipe `end` writes.
    pub(crate) fn outgoing(&self, end: End) -> &Pipe {
        self.pipe(end)
    }

    pub(crate) fn addr(&self, end: End) -> Addr {
        match end {
            End::Dialed if self.dial != 0 => Addr::numbered(self.listener.as_str(), self.dial),
            _ => self.listener.clone(),
        }
    }

    pub(crate) fn add_handle(&self, end: End) {
        if self.handles[end.index()].fetch_add(1, Ordering::Relaxed) > i32::MAX as u32 {
            // Leaked clones by the billion: the count must not wrap around.
            std::process::abort();
        }
    }

    /// Drops a handle of `end`; the last one shuts the end down both ways, unless the other
    /// end has no handles left either: then nothing can observe the shutdown (every operation
    /// that could wait holds a handle), and the connection is simply freed.
    pub(crate) fn drop_handle(&self, end: End) {
        if self.handles[end.index()].fetch_sub(1, Ordering::AcqRel) == 1
            && self.handles[end.peer().index()].load(Ordering::Acquire) != 0
        {
            self.incoming(end).shut_read();
            self.outgoing(end).shut_write();
            if let Some(fx) = self.faults() {
                fx.end_gone(end);
            }
        }
    }
}

impl Owner for Link {
    fn pipe(&self, writer: End) -> &Pipe {
        Link::pipe(self, writer)
    }

    fn clock(&self) -> &Clock {
        Link::clock(self)
    }
}

#[cfg(all(test, not(loom), target_os = "linux", target_pointer_width = "64"))]
mod tests {
    use super::Link;

    #[test]
    fn an_idle_connection_is_one_allocation_of_200_bytes() {
        // Two pipes of 72 bytes (with Linux's one-word `Mutex`) and five words; the `Arc` adds
        // its two counts. A change that grows a connection shows here before it shows in the
        // `peers` benchmark's memory row.
        assert_eq!(std::mem::size_of::<crate::pipe::Pipe>(), 72);
        assert_eq!(std::mem::size_of::<Link>(), 184);
    }
}
