//! What the two ends of one connection share: its two directions, its addresses, how many
//! handles each end has, and the handshake that set it up.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use crate::backlog::Request;
use crate::pipe::Pipe;
use crate::Addr;

/// One connection, in one allocation.
///
/// End 0 is the dialed end, end 1 the accepted one. Pipe `e` carries what end `e` writes, so end
/// `e` reads pipe `1 - e`. Each end counts its handles ([`Conn`](crate::Conn) clones); when the
/// last handle of an end goes, that end shuts down both ways, while the allocation lives on as
/// long as the other end has handles.
///
/// A connection is made by its dialer and queued, as the dial request itself, in the listener's
/// backlog; its [`Request`] records how the handshake ended.
#[derive(Debug)]
pub(crate) struct Link {
    pipes: [Pipe; 2],
    addrs: [Addr; 2],
    handles: [AtomicUsize; 2],
    request: Request,
}

impl Link {
    /// A new connection between a dialed end at `dialer` and an accepted end at `listener`,
    /// with one handle on each end: the dialer's, and the one its pending request holds for the
    /// accepting end (taken over by `accept`, or dropped if the request is withdrawn or
    /// refused).
    pub(crate) fn new(dialer: Addr, listener: Addr, capacity: usize) -> Arc<Link> {
        Arc::new(Link {
            pipes: [Pipe::new(capacity, 0), Pipe::new(capacity, 1)],
            addrs: [dialer, listener],
            handles: [AtomicUsize::new(1), AtomicUsize::new(1)],
            request: Request::new(),
        })
    }

    /// The state of the dial that set this connection up.
    pub(crate) fn request(&self) -> &Request {
        &self.request
    }

    pub(crate) fn pipe(&self, index: u8) -> &Pipe {
        &self.pipes[usize::from(index)]
    }

    /// The pipe end `end` reads.
    pub(crate) fn incoming(&self, end: u8) -> &Pipe {
        self.pipe(1 - end)
    }

    /// The pipe end `end` writes.
    pub(crate) fn outgoing(&self, end: u8) -> &Pipe {
        self.pipe(end)
    }

    pub(crate) fn addr(&self, end: u8) -> &Addr {
        &self.addrs[usize::from(end)]
    }

    pub(crate) fn add_handle(&self, end: u8) {
        self.handles[usize::from(end)].fetch_add(1, Ordering::Relaxed);
    }

    /// Drops a handle of `end`; the last one shuts the end down both ways, unless the other
    /// end has no handles left either: then nothing can observe the shutdown (every operation
    /// that could wait holds a handle), and the connection is simply freed.
    pub(crate) fn drop_handle(&self, end: u8) {
        if self.handles[usize::from(end)].fetch_sub(1, Ordering::AcqRel) == 1
            && self.handles[usize::from(1 - end)].load(Ordering::Acquire) != 0
        {
            self.incoming(end).shut_read();
            self.outgoing(end).shut_write();
        }
    }
}
