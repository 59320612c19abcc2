//! One direction of a socket (its reads, its writes, or a listener's accepts) as the crate
//! runs it over the reactor's readiness events: the local shutdown flag, Go's deadline and the
//! tasks waiting (see [`net::socket`](crate::net) for how the transports use it). It needs no
//! socket, so the loom models check it without one.

use std::fmt;
use std::io;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use once_cell::sync::Lazy;

use crate::clock::Clock;
use crate::deadline::Timer;
use crate::sync::{self, Arc, AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering};
use crate::Error;

/// One direction of a socket (its reads, its writes, or a listener's accepts): the local
/// shutdown flag, the deadline, and the tasks waiting.
///
/// The deadline works as Go's `net.Pipe` deadlines do: setting one in the future arms a timer,
/// and the timer marks the deadline expired and wakes the waiters when it fires. Operations
/// read one atomic and never the clock. Setting a deadline already passed marks it expired at
/// once, with no timer.
///
/// Wakers are registered under `waiters`' lock and taken under it by whoever changes the
/// condition, then woken once it is released (a wake-up may run executor code that drops a
/// connection). An `Arc<Direction>` is itself the waker given to the reactor: waking it wakes
/// every registered task.
pub(crate) struct Direction {
    /// The direction was shut down locally (or the listener closed).
    shut: AtomicBool,
    /// The deadline in nanoseconds since [`BASE`] ([`NONE`] when unset), with [`EXPIRED`] set
    /// once it has passed. Checked with no lock.
    ///
    /// While it holds a deadline not expired, a timer is armed (or firing) that fires no later
    /// than that deadline and then re-checks it. So a deadline moved later needs no timer of
    /// its own: the one armed fires early, finds the deadline not passed, and is re-armed.
    deadline: AtomicU64,
    /// The clock deadlines are read on and timers run on: the wall clock for sockets.
    clock: Clock,
    /// Distinct tasks waiting since the last wake-up.
    waiters: Mutex<Vec<Waker>>,
    /// Whether `waiters` may be non-empty, read without its lock by a deadline change (which
    /// wakes waiters only when there are some).
    waiting: AtomicBool,
    timer: Timer,
}

/// No deadline / no timer. Deadlines are capped below it, so [`EXPIRED`] is a bit of its own.
const NONE: u64 = (1 << 63) - 1;

/// The bit of [`Direction::deadline`] that says the deadline has passed.
const EXPIRED: u64 = 1 << 63;

/// The origin of the nanosecond deadlines; an earlier instant counts as 0 (passed).
static BASE: Lazy<Instant> = Lazy::new(Instant::now);

/// Fixes [`BASE`] now, if it is not yet: a clock whose instants are to count must start after.
#[cfg(loom)]
pub(crate) fn fix_base() {
    Lazy::force(&BASE);
}

fn nanos(at: Instant) -> u64 {
    at.checked_duration_since(*BASE).map_or(0, |d| {
        u64::try_from(d.as_nanos()).map_or(NONE - 1, |n| n.min(NONE - 1))
    })
}

/// The instant of deadline `d` (as [`nanos`]); `None` for none, or beyond what `Instant` holds.
fn instant(d: u64) -> Option<Instant> {
    (d != NONE).then(|| BASE.checked_add(Duration::from_nanos(d)))?
}

fn expired(state: u64) -> bool {
    state & EXPIRED != 0
}

impl Direction {
    fn new(clock: Clock) -> Arc<Direction> {
        Arc::new(Direction {
            shut: AtomicBool::new(false),
            deadline: AtomicU64::new(NONE),
            clock,
            waiters: Mutex::new(Vec::new()),
            waiting: AtomicBool::new(false),
            timer: Timer::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Waker>> {
        sync::lock(&self.waiters)
    }

    pub(crate) fn is_shut(&self) -> bool {
        self.shut.load(Ordering::Acquire)
    }

    /// Marks the direction shut and wakes its waiters; `true` if it already was.
    pub(crate) fn shut(&self) -> bool {
        let was = self.shut.swap(true, Ordering::AcqRel);
        if !was {
            self.wake_all();
        }
        was
    }

    /// Whether the deadline has passed (its timer fired, or it was set in the past).
    fn is_expired(&self) -> bool {
        expired(self.deadline.load(Ordering::Acquire))
    }

    /// Sets the deadline and wakes the waiting operations, which re-check: one already passed
    /// fails them at once; one in the future is left to a timer, and they wait again.
    ///
    /// A cleared deadline leaves its timer armed: it fires, finds no deadline and does
    /// nothing. (Cancelling it here could cancel the timer a concurrent `set_deadline`
    /// counts on.)
    pub(crate) fn set_deadline(self: &Arc<Self>, at: Option<Instant>) {
        self.set_deadline_at(at, || self.clock.now());
    }

    /// [`set_deadline`](Direction::set_deadline), with the clock read by `now` (once for the
    /// two directions of a `set_deadline` on a connection).
    pub(crate) fn set_deadline_at(
        self: &Arc<Self>,
        at: Option<Instant>,
        now: impl FnOnce() -> Instant,
    ) {
        let Some(at) = at else {
            self.deadline.store(NONE, Ordering::SeqCst);
            return self.wake_waiting();
        };
        let d = nanos(at);
        if at <= now() {
            self.deadline.store(d | EXPIRED, Ordering::SeqCst);
            self.wake_all();
            return;
        }
        let old = self.deadline.swap(d, Ordering::SeqCst);
        // A deadline moved later (Go's `now + 5 s` before every operation) keeps the timer of
        // the one it replaces, which fires no later than `d`.
        if old == NONE || expired(old) || old > d {
            self.arm(d);
        }
        self.wake_waiting();
    }

    /// Wakes the waiters, if there may be any: no lock is taken when none waits (Go's
    /// `now + 5 s` before each operation is set while nothing waits). A task registering
    /// meanwhile re-checks the deadline after registering, so it cannot miss this change.
    fn wake_waiting(&self) {
        if self.waiting.load(Ordering::SeqCst) {
            self.wake_all();
        }
    }

    /// Makes sure a timer fires no later than deadline `d`.
    fn arm(self: &Arc<Self>, d: u64) {
        let Some(at) = instant(d) else {
            return; // beyond what `Instant` holds: it never passes
        };
        let weak = Arc::downgrade(self);
        self.timer.arm_by(&self.clock, at, move || {
            Box::new(move || {
                if let Some(dir) = weak.upgrade() {
                    dir.fire();
                }
            })
        });
    }

    /// A timer fired: mark the deadline expired and wake the waiters if it has passed, or arm
    /// the timer again if the deadline was moved later meanwhile.
    fn fire(self: &Arc<Self>) {
        let mut state = self.deadline.load(Ordering::SeqCst);
        while state != NONE && !expired(state) {
            if nanos(self.clock.now()) < state {
                return self.arm(state);
            }
            match self.deadline.compare_exchange(
                state,
                state | EXPIRED,
                Ordering::SeqCst,
                Ordering::SeqCst,
            ) {
                Ok(_) => return self.wake_all(),
                Err(now) => state = now,
            }
        }
    }

    pub(crate) fn wake_all(&self) {
        let mut list = self.lock();
        self.waiting.store(false, Ordering::SeqCst);
        let waiters = std::mem::take(&mut *list);
        drop(list);
        waiters.into_iter().for_each(Waker::wake);
    }

    /// Registers the task of `cx` to be woken by the next change or readiness event. Call
    /// before the last check of the condition, so a change made in between is not missed.
    fn register(&self, cx: &Context<'_>) {
        let mut waiters = self.lock();
        if !waiters.iter().any(|w| w.will_wake(cx.waker())) {
            waiters.push(cx.waker().clone());
        }
        self.waiting.store(true, Ordering::SeqCst);
    }
}

impl Wake for Direction {
    fn wake(self: Arc<Self>) {
        self.wake_all();
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.wake_all();
    }
}

impl fmt::Debug for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.deadline.load(Ordering::Acquire);
        f.debug_struct("Direction")
            .field("shut", &self.is_shut())
            .field("deadline", &instant(state & !EXPIRED))
            .field("expired", &expired(state))
            .field("waiting", &self.lock().len())
            .finish()
    }
}

/// A direction and the waker that stands for it at the reactor.
pub(crate) struct Side {
    pub(crate) dir: Arc<Direction>,
    waker: Waker,
}

impl Side {
    /// A side on the wall clock, as every socket's.
    #[cfg(feature = "net")]
    pub(crate) fn new() -> Side {
        Side::with_clock(Clock::SYSTEM)
    }

    /// A side whose deadlines run on `clock` (see [`fix_base`]).
    pub(crate) fn with_clock(clock: Clock) -> Side {
        let dir = Direction::new(clock);
        Side {
            waker: Waker::from(dir.clone()),
            dir,
        }
    }

    /// Runs a non-blocking socket operation as every operation of a side runs: a local
    /// shutdown is reported first (`on_shut`), then an expired deadline (`timeout`), then `op`
    /// is tried. While it would block, the task registers, re-checks for a shutdown or an
    /// expiry that came meanwhile, and waits for readiness through `poll_ready`, polled with
    /// the side's own waker.
    pub(crate) fn poll_op<T>(
        &self,
        cx: &mut Context<'_>,
        on_shut: impl Fn() -> io::Result<T>,
        timeout: Error,
        mut op: impl FnMut() -> io::Result<T>,
        mut poll_ready: impl FnMut(&mut Context<'_>) -> Poll<io::Result<()>>,
    ) -> Poll<io::Result<T>> {
        loop {
            if self.dir.is_shut() {
                return Poll::Ready(on_shut());
            }
            if self.dir.is_expired() {
                return Poll::Ready(Err(timeout.into()));
            }
            match op() {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                done => return Poll::Ready(done),
            }
            self.dir.register(cx);
            if self.dir.is_shut() || self.dir.is_expired() {
                continue;
            }
            futures::ready!(poll_ready(&mut Context::from_waker(&self.waker)))?;
        }
    }
}

impl fmt::Debug for Side {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.dir.fmt(f)
    }
}
