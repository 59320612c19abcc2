//! Internal protocols the public API cannot drive without an OS, exported only when the crate
//! is compiled with `--cfg loom`, for the model checks in the repository's `loom` directory.
//! Nothing here is part of the crate's API.

use std::io;
use std::task::{Context, Poll};
use std::time::Instant;

use crate::readiness::{self, Side};
use crate::sync::{AtomicBool, Ordering};
use crate::Error;
use crate::ManualClock;
use loom::future::AtomicWaker;

/// One direction of a socket (its shutdown flag, deadline and waiting tasks) over a
/// stand-in for the reactor: the socket becomes readable when
/// [`make_readable`](SocketSide::make_readable) is called, which wakes the waker the
/// direction handed to the "reactor", as async-io would.
pub struct SocketSide {
    side: Side,
    clock: ManualClock,
    readable: AtomicBool,
    reactor: AtomicWaker,
}

impl std::fmt::Debug for SocketSide {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.side.fmt(f)
    }
}

/// How a read of a [`SocketSide`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ended {
    /// Shut down locally.
    Shut,
    /// The socket was readable.
    Data,
}

impl SocketSide {
    #[allow(clippy::new_without_default)]
    /// A side on a manual clock of its own.
    pub fn new() -> SocketSide {
        readiness::fix_base();
        let clock = ManualClock::new();
        SocketSide {
            side: Side::with_clock(clock.clock()),
            clock,
            readable: AtomicBool::new(false),
            reactor: AtomicWaker::new(),
        }
    }

    /// A read, as `net::Conn` runs it: shutdown, then deadline, then the socket.
    pub fn poll_read(&self, cx: &mut Context<'_>) -> Poll<Result<Ended, Error>> {
        let out = self.side.poll_op(
            cx,
            || Ok(Ended::Shut),
            Error::ReadTimeout,
            || {
                if self.readable.load(Ordering::Acquire) {
                    Ok(Ended::Data)
                } else {
                    Err(io::ErrorKind::WouldBlock.into())
                }
            },
            |cx| {
                self.reactor.register_by_ref(cx.waker());
                if self.readable.load(Ordering::Acquire) {
                    Poll::Ready(Ok(()))
                } else {
                    Poll::Pending
                }
            },
        );
        out.map(|r| r.map_err(|e| Error::from_io(&e).expect("a chanstream error")))
    }

    pub fn shut(&self) {
        self.side.dir.shut();
    }

    pub fn set_deadline(&self, at: Option<Instant>) {
        self.side.dir.set_deadline(at);
    }

    /// Its clock, to set deadlines on and advance.
    pub fn clock(&self) -> &ManualClock {
        &self.clock
    }

    /// The "reactor" reports the socket readable.
    pub fn make_readable(&self) {
        self.readable.store(true, Ordering::Release);
        self.reactor.wake();
    }
}
