//! One direction of a connection: a bounded byte buffer between the end that writes it and the
//! end that reads it.

use crate::sync::{self, Arc, Mutex, MutexGuard};
use std::fmt;
use std::io;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use crate::clock::Clock;
use crate::deadline::{OnFire, Timer};
use crate::end::End;
use crate::faults::{LinkFaults, Readable};
use crate::handshake::{Handshake, Outcome, Settle};
use crate::ring::{Lent, Ring};
use crate::waiters::{Taken, WaitList, Woken};
use crate::Error;

/// One direction of a connection.
///
/// Everything that decides whether a read or a write of this direction can proceed sits under one
/// mutex: the bytes, both shutdown flags, the reading end's read deadline and the writing end's
/// write deadline (with whether each has expired), and the waiters. A task therefore checks and registers under the same lock
/// that a writer, a shutdown or a deadline change takes to wake it, and no wake-up is lost. The
/// two directions of a connection are two `Pipe`s and share no lock.
#[derive(Debug)]
pub(crate) struct Pipe {
    state: Mutex<State>,
}

/// What a pipe's mutex guards.
///
/// A connection is two pipes in one allocation, so every byte of a pipe counts twice: the
/// state is 64 bytes (buffer 24, the small fields below 8, deadlines 8, waiters 24), with the
/// mutex 72, and its yes/no facts are bits of one byte ([`Flags`]).
#[derive(Debug)]
struct State {
    /// Bytes written and not yet read; at most `capacity`.
    buf: Ring,
    /// The most bytes `buf` may hold (at most [`ring::MAX`](crate::ring::MAX): a larger
    /// buffer size is capped there).
    capacity: u32,
    flags: Flags,
    /// By [`Side`]: operations in a row that completed without waiting (see [`YIELD_AFTER`]).
    streak: [u8; 2],
    /// The handshake of the dial that made the connection; used in the dialed end's pipe only.
    handshake: Handshake,
    /// The reading end's read deadline and the writing end's write deadline; boxed on first
    /// use, as most connections never set one.
    deadlines: Option<Box<Deadlines>>,
    /// Tasks waiting to read or to write, in one list: readers wait while the buffer is empty
    /// and writers while it is full, so they almost never wait at once, and a change of either
    /// kind wakes both (each re-checks). Before the dial is settled, the dialer waits here.
    waiters: WaitList,
}

/// The yes/no facts of a pipe, as bits.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Flags(u8);

impl Flags {
    /// The reading end shut down reading: buffered and later bytes are discarded, writes fail.
    const READ_SHUT: u8 = 1;
    /// The writing end shut down writing: readers get the buffered bytes, then end of stream.
    const WRITE_SHUT: u8 = 1 << 1;
    /// A write woke a waiting reader that has not read since (see [`HAND_OVER_AT`]).
    const READER_WOKEN: u8 = 1 << 2;
    /// A write has yielded to that woken reader already.
    const HANDED_OVER: u8 = 1 << 3;
    /// The last read copied bytes out, rather than taking the buffer whole as a
    /// [`Reader`](crate::Reader) does (see [`HAND_OVER_WHOLE_AT`]).
    const READER_COPIES: u8 = 1 << 4;
    /// The first waker of `waiters` waits (see [`WaitList`]).
    const WAITING: u8 = 1 << 5;
    /// The pipe is the one [`End::Accepted`] writes (else [`End::Dialed`]'s).
    const ACCEPTED_WRITES: u8 = 1 << 6;

    fn has(self, flag: u8) -> bool {
        self.0 & flag != 0
    }

    fn set(&mut self, flag: u8, on: bool) {
        if on {
            self.0 |= flag;
        } else {
            self.0 &= !flag;
        }
    }
}

impl fmt::Debug for Flags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const NAMES: [&str; 7] = [
            "read_shut",
            "write_shut",
            "reader_woken",
            "handed_over",
            "reader_copies",
            "waiting",
            "accepted_writes",
        ];
        let set = NAMES
            .iter()
            .enumerate()
            .filter(|&(bit, _)| self.has(1 << bit))
            .map(|(_, name)| name);
        f.debug_set().entries(set).finish()
    }
}

/// A pipe's state, locked.
type Guard<'a> = MutexGuard<'a, State>;

/// A read or write without faults that moves at least this many bytes copies them with the
/// pipe's lock released (see [`Ring::lend_free`]): with the two ends on two threads, the
/// reader's copy out and the writer's copy in then overlap instead of taking turns under the
/// lock. Below it, the lock's second round trip costs more than the overlap gains (a 1 KiB
/// copy takes about as long as an uncontended lock and unlock).
#[cfg(not(loom))]
const OVERLAP_AT: usize = 4 * 1024;
/// Under loom, two bytes: the models' small writes take both paths.
#[cfg(loom)]
const OVERLAP_AT: usize = 2;

/// After this many reads (writes) in a row that moved bytes without ever waiting, the next one
/// yields: it returns `Pending` having moved nothing, after waking its task, so that a task
/// looping over a stream that is always ready (a peer on another thread keeps it fed) lets the
/// other tasks of its executor run. The same number as tokio's per-task budget.
const YIELD_AFTER: u8 = 128;

/// Once a write has woken a waiting reader that copies bytes out and this many bytes are
/// buffered without that reader having read, the next write yields once (see [`State::should_hand_over`]): a reader on the
/// same executor thread then drains bytes still in cache instead of waiting until the writer
/// fills the whole buffer, while a reader on another thread, already running, loses nothing.
const HAND_OVER_AT: usize = 16 * 1024;

/// [`HAND_OVER_AT`] for a reader that takes the buffer whole ([`Pipe::poll_take`]): it copies
/// nothing, so fewer, larger hand-overs pay (measured with the `peers` benchmark's in-place
/// rows: at 16 KiB writes 61 GB/s handing over at 16 KiB, 96 GB/s at 128 KiB).
const HAND_OVER_WHOLE_AT: usize = 128 * 1024;

/// The most bytes one copying write moves, so that a huge write reaches a reader on the same
/// thread in slices that stay in cache (with [`HAND_OVER_AT`]) rather than as one buffer-sized
/// block; the caller's `write_all` carries on with the rest.
const WRITE_SLICE: usize = 256 * 1024;

impl State {
    /// The end that writes this pipe: which of its link's pipes it is.
    fn writer(&self) -> End {
        if self.flags.has(Flags::ACCEPTED_WRITES) {
            End::Accepted
        } else {
            End::Dialed
        }
    }

    /// Registers `waker` as waiting; returns a displaced waker, to drop once the lock is
    /// released.
    fn register(&mut self, waker: &Waker) -> Option<Waker> {
        let displaced = self.waiters.register(waker, self.flags.has(Flags::WAITING));
        self.flags.set(Flags::WAITING, true);
        displaced
    }

    /// Takes every waiter, to be woken once the lock is released (see [`WaitList::wake`]).
    fn take_waiters(&mut self, caller: Option<&Waker>) -> Woken {
        let waiting = self.flags.has(Flags::WAITING);
        self.flags.set(Flags::WAITING, false);
        self.waiters.wake(waiting, caller)
    }

    /// Counts a read (write) about to move bytes without waiting; `true` when it should yield
    /// instead (see [`YIELD_AFTER`]).
    fn should_yield(&mut self, side: Side) -> bool {
        let streak = &mut self.streak[side as usize];
        if *streak == YIELD_AFTER {
            *streak = 0;
            return true;
        }
        *streak += 1;
        false
    }

    /// Whether a write should yield to the reader it woke (see [`HAND_OVER_AT`]); at most once
    /// between two reads.
    fn should_hand_over(&mut self) -> bool {
        let at = if self.flags.has(Flags::READER_COPIES) {
            HAND_OVER_AT
        } else {
            HAND_OVER_WHOLE_AT
        };
        let f = self.flags;
        if f.has(Flags::READER_WOKEN) && !f.has(Flags::HANDED_OVER) && self.buf.len() >= at {
            self.flags.set(Flags::HANDED_OVER, true);
            return true;
        }
        false
    }

    /// Whether the deadline of `side` has passed: its timer fired, or it was set in the past.
    /// Operations read this flag, never the clock.
    fn expired(&self, side: Side) -> bool {
        self.deadlines
            .as_ref()
            .is_some_and(|d| d.expired[side as usize])
    }
}

/// The deadlines of a pipe, by [`Side`], as Go's `net.Pipe` keeps them: a deadline set in the
/// future arms a timer, and the timer marks it expired when it fires; one set in the past is
/// expired at once.
#[derive(Debug, Default)]
struct Deadlines {
    at: [Option<Instant>; 2],
    expired: [bool; 2],
    /// The instant no later than which a live timer fires, if one is known to: a deadline
    /// set at or after it needs no timer of its own (the timer fires early, finds the
    /// deadline moved, and is armed again for it). Cleared when the timer fires.
    armed: [Option<Instant>; 2],
    /// Expire the read deadline (index [`Side::Read`]) or the write deadline ([`Side::Write`])
    /// and wake its waiters when it passes; made when a deadline is first set in the future.
    /// Shared, so that a timer is armed after the pipe's lock is released.
    timers: Option<Arc<[Timer; 2]>>,
}

impl Deadlines {
    /// The timers, made on first use.
    fn timers(&mut self) -> Arc<[Timer; 2]> {
        self.timers
            .get_or_insert_with(|| Arc::new([Timer::new(), Timer::new()]))
            .clone()
    }
}

/// What a pipe is part of: the connection whose two directions are its two pipes, with the
/// clock its deadlines run on. A deadline timer holds its owner weakly (a pending timer keeps
/// nothing alive) and finds its pipe again through it.
pub(crate) trait Owner: Send + Sync + 'static {
    /// The pipe `writer` writes.
    fn pipe(&self, writer: End) -> &Pipe;
    fn clock(&self) -> &Clock;
}

/// The reading or the writing side of a pipe; indexes its per-side fields.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Side {
    Read = 0,
    Write = 1,
}

impl Pipe {
    pub(crate) fn new(capacity: usize, writer: End) -> Pipe {
        Pipe {
            state: Mutex::new(State {
                buf: Ring::default(),
                capacity: capacity.min(crate::ring::MAX) as u32,
                flags: Flags(match writer {
                    End::Dialed => Flags::READER_COPIES,
                    End::Accepted => Flags::READER_COPIES | Flags::ACCEPTED_WRITES,
                }),
                streak: [0; 2],
                handshake: Handshake::default(),
                deadlines: None,
                waiters: WaitList::default(),
            }),
        }
    }

    fn lock(&self) -> Guard<'_> {
        sync::lock(&self.state)
    }

    /// Reads into `out`. `fx` is the connection's faults, if any (here and below).
    ///
    /// Without faults, a read of at least [`OVERLAP_AT`] bytes copies them out with the lock
    /// released (see [`Ring::lend_filled`]), so that a writer on another thread stores more
    /// meanwhile.
    pub(crate) fn poll_read(
        &self,
        cx: &mut Context<'_>,
        out: &mut [u8],
        fx: Option<&LinkFaults>,
    ) -> Poll<io::Result<usize>> {
        let overlap = fx.is_none();
        self.poll_read_with(cx, out.len(), true, fx, |mut st, max| {
            let len = max.min(out.len());
            if overlap && len >= OVERLAP_AT {
                if let Some(lent) = st.buf.lend_filled(len) {
                    let (st, n) = self.copy_unlocked(st, lent, |l| l.copy_to(&mut out[..l.len()]));
                    return (st, (n, n));
                }
            }
            let n = st.buf.pop_into(&mut out[..len]);
            (st, (n, n))
        })
    }

    /// Reads at most `max` bytes, handing them to `sink` straight from the buffer (one or two
    /// slices), for a reader whose memory is not a `&mut [u8]` (hyper's `ReadBufCursor`).
    #[cfg(feature = "hyper")]
    pub(crate) fn poll_read_to(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        sink: &mut dyn FnMut(&[u8]),
        fx: Option<&LinkFaults>,
    ) -> Poll<io::Result<usize>> {
        self.poll_read_with(cx, max, true, fx, |mut st, max| {
            let mut moved = 0;
            while moved < max && !st.buf.is_empty() {
                let front = st.buf.front();
                let n = front.len().min(max - moved);
                sink(&front[..n]);
                st.buf.consume(n);
                moved += n;
            }
            (st, (moved, moved))
        })
    }

    /// Takes every buffered byte at once: swaps the buffer with `into`, which must be empty, so
    /// the reader owns the bytes without copying them and the pipe reuses `into`'s allocation.
    /// On end of stream `into` stays empty. Under faults that hold some of the bytes back, it
    /// takes (by copying) only those readable now.
    pub(crate) fn poll_take(
        &self,
        cx: &mut Context<'_>,
        into: &mut Ring,
        fx: Option<&LinkFaults>,
    ) -> Poll<io::Result<()>> {
        debug_assert!(into.is_empty());
        self.poll_read_with(cx, usize::MAX, false, fx, |mut st, max| {
            let buf = &mut st.buf;
            let n = buf.len().min(max);
            // A ring with a region lent (a writer filling its free bytes) keeps its
            // allocation: its bytes are copied instead.
            if n == buf.len() && !buf.is_lent() {
                std::mem::swap(buf, into);
            } else {
                let mut part = vec![0; n];
                buf.pop_into(&mut part);
                *into = Ring::from_vec(part);
            }
            (st, ((), n))
        })
    }

    /// The checks every read makes, in the contract's order (local shutdown, reset, deadline,
    /// then data or end of stream); `take` moves at most the given number of bytes once there
    /// are some, and says how many it moved. A read that `want`s nothing moves nothing;
    /// `T::default()` is what a read that moves nothing returns. `copies` says whether it copies
    /// the bytes out (see [`HAND_OVER_AT`]).
    fn poll_read_with<'s, T: Default>(
        &'s self,
        cx: &mut Context<'_>,
        want: usize,
        copies: bool,
        fx: Option<&LinkFaults>,
        take: impl FnOnce(Guard<'s>, usize) -> (Guard<'s>, (T, usize)),
    ) -> Poll<io::Result<T>> {
        match fx {
            None => self.poll_read_under(cx, want, copies, NoFaults, take),
            Some(fx) => self.poll_read_under(cx, want, copies, fx, take),
        }
    }

    /// [`poll_read_with`](Pipe::poll_read_with) under the faults `fx`, compiled apart for a
    /// connection without faults ([`NoFaults`]), whose read path is then the same as if
    /// faults did not exist.
    #[inline(always)]
    fn poll_read_under<'s, T: Default>(
        &'s self,
        cx: &mut Context<'_>,
        want: usize,
        copies: bool,
        fx: impl Hooks,
        take: impl FnOnce(Guard<'s>, usize) -> (Guard<'s>, (T, usize)),
    ) -> Poll<io::Result<T>> {
        let mut st = self.lock();
        st.flags.set(Flags::READER_COPIES, copies);
        if st.flags.has(Flags::READ_SHUT) {
            return Poll::Ready(Ok(T::default()));
        }
        if fx.is_reset() {
            return Poll::Ready(Err(Error::ConnectionReset.into()));
        }
        if st.expired(Side::Read) {
            return Poll::Ready(Err(Error::ReadTimeout.into()));
        }
        if want == 0 {
            return Poll::Ready(Ok(T::default()));
        }
        if st.buf.filled_lent() {
            // Another read is copying the oldest bytes out.
            return self.wait(st, cx, Side::Read);
        }
        if !st.buf.is_empty() {
            if st.should_yield(Side::Read) {
                return yield_now(cx);
            }
            let max = match fx.readable(st.writer(), st.buf.len(), want) {
                Readable::Now(n) => n,
                Readable::At(at) => {
                    let writer = st.writer();
                    let waiting = self.wait(st, cx, Side::Read);
                    fx.wake_readers_at(writer, at);
                    return waiting;
                }
                Readable::Held => return self.wait(st, cx, Side::Read),
            };
            let (mut st, (taken, n)) = take(st, max);
            st.flags
                .set(Flags::READER_WOKEN | Flags::HANDED_OVER, false);
            fx.consumed(st.writer(), n);
            wake_unlocked(st, Some(cx.waker()));
            return Poll::Ready(Ok(taken));
        }
        // Not while a write is filling the free bytes: they come before the end of stream.
        if st.flags.has(Flags::WRITE_SHUT) && !st.buf.free_lent() {
            return Poll::Ready(Ok(T::default()));
        }
        self.wait(st, cx, Side::Read)
    }

    /// Whether a reader holding bytes it took earlier may still hand them out: `Ok(false)` once
    /// reading was shut down (they are to be discarded), an error once the connection was reset
    /// or the read deadline passed.
    pub(crate) fn check_read(&self, fx: Option<&LinkFaults>) -> io::Result<bool> {
        let st = self.lock();
        if st.flags.has(Flags::READ_SHUT) {
            return Ok(false);
        }
        if fx.is_some_and(LinkFaults::is_reset) {
            return Err(Error::ConnectionReset.into());
        }
        if st.expired(Side::Read) {
            return Err(Error::ReadTimeout.into());
        }
        Ok(true)
    }

    pub(crate) fn poll_write(
        &self,
        cx: &mut Context<'_>,
        data: &[u8],
        fx: Option<&LinkFaults>,
    ) -> Poll<io::Result<usize>> {
        let overlap = fx.is_none();
        self.poll_write_with(cx, data.len(), fx, |mut st, capacity, max| {
            let n = max.min(data.len()).min(WRITE_SLICE);
            if overlap && n >= OVERLAP_AT {
                if let Some(lent) = st.buf.lend_free(n, capacity) {
                    // Dropped if reading was shut down or the connection reset meanwhile:
                    // the write came first, as if the bytes had been discarded with the
                    // buffered ones.
                    let (st, n) = self.copy_unlocked(st, lent, |l| l.fill_from(&data[..l.len()]));
                    return (st, Some((n, n)));
                }
            }
            let n = st.buf.push(&data[..n], capacity);
            (st, Some((n, n)))
        })
    }

    /// Hands over `chunk` (taken from the option once accepted). An empty buffer adopts the
    /// chunk's allocation, so its bytes are not copied (a chunk with spare capacity is shrunk
    /// to fit first: glibc's allocator does that in place, others may copy); a chunk that fits
    /// beside buffered bytes is copied in; otherwise the caller waits. The caller keeps chunks
    /// within the capacity.
    pub(crate) fn poll_write_owned(
        &self,
        cx: &mut Context<'_>,
        chunk: &mut Option<Vec<u8>>,
        fx: Option<&LinkFaults>,
    ) -> Poll<io::Result<()>> {
        let len = chunk.as_ref().map_or(0, Vec::len);
        // Whole or not at all: the room a short write would leave is ignored.
        self.poll_write_with(cx, len, fx, |mut st, capacity, _| {
            let buf = &mut st.buf;
            if buf.is_empty() && !buf.is_lent() {
                *buf = Ring::from_vec(chunk.take().unwrap_or_default());
            } else if buf.room(capacity) >= len {
                buf.push(&chunk.take().unwrap_or_default(), capacity);
            } else {
                return (st, None);
            }
            (st, Some(((), len)))
        })
    }

    /// The checks every write makes, in the contract's order (local shutdown, reset, deadline,
    /// peer shutdown, then space); `put` stores at most the given number of bytes (there is
    /// room for them; the buffer's capacity comes first) and says how many it stored, or
    /// returns `None` to wait for space.
    fn poll_write_with<'s, T: Default>(
        &'s self,
        cx: &mut Context<'_>,
        len: usize,
        fx: Option<&LinkFaults>,
        put: impl FnOnce(Guard<'s>, usize, usize) -> (Guard<'s>, Option<(T, usize)>),
    ) -> Poll<io::Result<T>> {
        match fx {
            None => self.poll_write_under(cx, len, NoFaults, put),
            Some(fx) => self.poll_write_under(cx, len, fx, put),
        }
    }

    /// [`poll_write_with`](Pipe::poll_write_with) under the faults `fx` (see
    /// [`poll_read_under`](Pipe::poll_read_under)).
    #[inline(always)]
    fn poll_write_under<'s, T: Default>(
        &'s self,
        cx: &mut Context<'_>,
        len: usize,
        fx: impl Hooks,
        put: impl FnOnce(Guard<'s>, usize, usize) -> (Guard<'s>, Option<(T, usize)>),
    ) -> Poll<io::Result<T>> {
        let mut st = self.lock();
        if st.flags.has(Flags::WRITE_SHUT) {
            return Poll::Ready(Err(Error::ConnectionClosed.into()));
        }
        if fx.is_reset() {
            return Poll::Ready(Err(Error::ConnectionReset.into()));
        }
        if st.expired(Side::Write) {
            return Poll::Ready(Err(Error::WriteTimeout.into()));
        }
        if st.flags.has(Flags::READ_SHUT) {
            return Poll::Ready(Err(Error::ConnectionClosed.into()));
        }
        if len == 0 {
            return Poll::Ready(Ok(T::default()));
        }
        let capacity = st.capacity as usize;
        // None while another write is filling the free bytes.
        let room = st.buf.room(capacity);
        if room > 0 {
            if st.should_yield(Side::Write) || st.should_hand_over() {
                return yield_now(cx);
            }
            let Some(max) = fx.writable(st.writer(), room.min(len)) else {
                drop(st);
                fx.reset();
                return Poll::Ready(Err(Error::ConnectionReset.into()));
            };
            let (guard, put) = put(st, capacity, max);
            st = guard;
            if let Some((done, n)) = put {
                let spent = fx.wrote(st.writer(), n);
                if st.flags.has(Flags::WAITING) {
                    // Who waits while bytes arrive is almost always a reader: a writer waits
                    // on a full buffer, which this write found not full, and only a
                    // `write_owned` waits on one with too little room for its whole chunk. The
                    // flag only decides when a write yields (see `HAND_OVER_AT`), so a wrong
                    // guess costs at most one early yield.
                    st.flags.set(Flags::READER_WOKEN, true);
                    wake_unlocked(st, Some(cx.waker()));
                } else {
                    drop(st);
                }
                if spent {
                    fx.reset();
                }
                return Poll::Ready(Ok(done));
            }
        }
        self.wait(st, cx, Side::Write)
    }

    /// Releases the lock, runs `copy` on the region `lent` out of the buffer, and takes the
    /// lock again to give the region back; returns the lock and the region's length.
    fn copy_unlocked<'s>(
        &'s self,
        st: Guard<'s>,
        lent: Lent,
        copy: impl FnOnce(&Lent),
    ) -> (Guard<'s>, usize) {
        drop(st);
        copy(&lent);
        let n = lent.len();
        let mut st = self.lock();
        st.buf.commit(lent);
        (st, n)
    }

    /// The most bytes this direction buffers (read under the lock, where it costs no space).
    pub(crate) fn capacity(&self) -> usize {
        self.lock().capacity as usize
    }

    /// Registers the caller as waiting on `side`.
    fn wait<T>(&self, mut st: MutexGuard<'_, State>, cx: &Context<'_>, side: Side) -> Poll<T> {
        let displaced = st.register(cx.waker());
        st.streak[side as usize] = 0;
        drop(st);
        drop(displaced);
        Poll::Pending
    }

    /// The reading end stops reading: unread bytes are dropped, readers see end of stream and
    /// writers (waiting or later) fail.
    pub(crate) fn shut_read(&self) {
        let mut st = self.lock();
        st.flags.set(Flags::READ_SHUT, true);
        st.buf.clear();
        self.wake_all(st);
    }

    /// The writing end stops writing: readers drain what is buffered, then see end of stream.
    pub(crate) fn shut_write(&self) {
        let mut st = self.lock();
        st.flags.set(Flags::WRITE_SHUT, true);
        self.wake_all(st);
    }

    /// Sets the deadline of `side` and wakes its waiters, which re-check: one already passed
    /// fails them at once; one in the future is left to a timer, so they wait again, and
    /// setting `now + 5 s` before every operation costs a clock read under the lock, no timer.
    /// A cleared deadline leaves its timer armed: it fires, finds no deadline, and does
    /// nothing.
    pub(crate) fn set_deadline<O: Owner>(&self, owner: &Arc<O>, side: Side, at: Option<Instant>) {
        let mut st = self.lock();
        let s = side as usize;
        let mut arm = None;
        match at {
            None => {
                if let Some(d) = st.deadlines.as_mut() {
                    d.at[s] = None;
                    d.expired[s] = false;
                }
            }
            Some(at) => {
                let d = st.deadlines.get_or_insert_with(Box::default);
                d.at[s] = Some(at);
                d.expired[s] = at <= owner.clock().now();
                if !d.expired[s] && !d.armed[s].is_some_and(|armed| armed <= at) {
                    d.armed[s] = Some(at);
                    arm = Some((at, d.timers()));
                }
            }
        }
        let writer = st.writer();
        wake_unlocked(st, None);
        // Armed once the lock is released: a timer that fires at once takes it.
        if let Some((at, timers)) = arm {
            timers[s].arm_by(owner.clock(), at, || on_fire(owner, writer, side));
        }
    }

    /// Wakes every waiting reader and writer, to re-check (the faults changed).
    pub(crate) fn wake_waiters(&self) {
        self.wake_all(self.lock());
    }

    /// The connection was reset: the buffered bytes are discarded and everyone is woken.
    pub(crate) fn discard(&self) {
        let mut st = self.lock();
        st.buf.clear();
        self.wake_all(st);
    }

    fn wake_all(&self, st: MutexGuard<'_, State>) {
        wake_unlocked(st, None);
    }

    /// Settles the handshake of the dial that made this pipe's connection (kept in the dialed
    /// end's pipe: see [`Handshake`]) as `to`. `None` if it was settled already; otherwise the
    /// wait list, taken out whole: before settlement only the dialer waits in it, and it does
    /// not wait here again. Once the settling is complete, wake it for [`Settle::Accepted`] and
    /// [`Settle::Refused`]; drop it unwoken for [`Settle::Withdrawn`] (the dialer itself
    /// withdraws). Either way the connection keeps no waker of the dialer's.
    pub(crate) fn settle(&self, to: Settle) -> Option<Taken> {
        let mut st = self.lock();
        if !st.handshake.settle(to) {
            return None;
        }
        let waiting = st.flags.has(Flags::WAITING);
        st.flags.set(Flags::WAITING, false);
        Some(st.waiters.take_all(waiting))
    }

    /// The outcome of the dial that made this connection; while it is pending, `dialer` (if
    /// given) is registered to be woken when it is settled.
    pub(crate) fn outcome(&self, dialer: Option<&Waker>) -> Outcome {
        let mut st = self.lock();
        let outcome = st.handshake.outcome();
        let displaced = match dialer {
            Some(waker) if outcome == Outcome::Pending => st.register(waker),
            _ => None,
        };
        drop(st);
        drop(displaced);
        outcome
    }
}

/// The action of a deadline timer of `side` of the pipe `writer` writes in `owner` (held
/// weakly, so a pending timer keeps nothing alive): if the deadline has passed, mark it expired
/// and wake its waiters; if it was moved later, arm the timer again for it.
fn on_fire<O: Owner>(owner: &Arc<O>, writer: End, side: Side) -> OnFire {
    let owner = Arc::downgrade(owner);
    Box::new(move || {
        let Some(owner) = owner.upgrade() else { return };
        let pipe = owner.pipe(writer);
        let mut st = pipe.lock();
        let s = side as usize;
        let Some(d) = st.deadlines.as_mut() else {
            return;
        };
        d.armed[s] = None;
        let Some(at) = d.at[s].filter(|_| !d.expired[s]) else {
            return;
        };
        if owner.clock().now() >= at {
            d.expired[s] = true;
            return wake_unlocked(st, None);
        }
        d.armed[s] = Some(at);
        let timers = d.timers();
        drop(st);
        timers[s].arm_by(owner.clock(), at, || on_fire(&owner, writer, side));
    })
}

/// Wakes the waiters once `st`'s lock is released (see [`WaitList::wake`]); `caller` is the
/// waker of the task making the change, if a task is making it.
#[inline]
fn wake_unlocked(mut st: MutexGuard<'_, State>, caller: Option<&Waker>) {
    // Nothing waits (a waker beyond the kept one is listed only while one waits): a change
    // nobody waits for costs only the unlock.
    if !st.flags.has(Flags::WAITING) {
        debug_assert!(!st.waiters.lists_others());
        return;
    }
    let woken = st.take_waiters(caller);
    drop(st);
    woken.wake();
}

/// What a read or write asks of its connection's faults. A connection without faults answers
/// with [`NoFaults`], whose answers are constants: its data path is compiled apart, with no
/// fault checks in it.
trait Hooks: Copy {
    fn is_reset(self) -> bool;
    /// How many bytes a read may take now (see [`LinkFaults::readable`]).
    fn readable(self, writer: End, buffered: usize, want: usize) -> Readable;
    fn consumed(self, writer: End, n: usize);
    /// How many bytes a write may move, or `None` to reset the connection instead.
    fn writable(self, writer: End, room: usize) -> Option<usize>;
    /// Records a write; `true` when the connection is to be reset now.
    fn wrote(self, writer: End, n: usize) -> bool;
    fn wake_readers_at(self, writer: End, at: Instant);
    fn reset(self);
}

/// The faults of a connection that has none.
#[derive(Clone, Copy)]
struct NoFaults;

impl Hooks for NoFaults {
    #[inline(always)]
    fn is_reset(self) -> bool {
        false
    }
    #[inline(always)]
    fn readable(self, _: End, buffered: usize, want: usize) -> Readable {
        Readable::Now(buffered.min(want))
    }
    #[inline(always)]
    fn consumed(self, _: End, _: usize) {}
    #[inline(always)]
    fn writable(self, _: End, room: usize) -> Option<usize> {
        Some(room)
    }
    #[inline(always)]
    fn wrote(self, _: End, _: usize) -> bool {
        false
    }
    #[inline(always)]
    fn wake_readers_at(self, _: End, _: Instant) {}
    #[inline(always)]
    fn reset(self) {}
}

impl Hooks for &LinkFaults {
    fn is_reset(self) -> bool {
        LinkFaults::is_reset(self)
    }
    fn readable(self, writer: End, buffered: usize, want: usize) -> Readable {
        LinkFaults::readable(self, writer, buffered, want)
    }
    fn consumed(self, writer: End, n: usize) {
        LinkFaults::consumed(self, writer, n)
    }
    fn writable(self, writer: End, room: usize) -> Option<usize> {
        LinkFaults::writable(self, writer, room)
    }
    fn wrote(self, writer: End, n: usize) -> bool {
        LinkFaults::wrote(self, writer, n)
    }
    fn wake_readers_at(self, writer: End, at: Instant) {
        LinkFaults::wake_readers_at(self, writer, at)
    }
    fn reset(self) {
        LinkFaults::reset(self)
    }
}

/// Gives the executor a turn: wakes the task at once and returns `Pending`.
fn yield_now<T>(cx: &Context<'_>) -> Poll<T> {
    cx.waker().wake_by_ref();
    Poll::Pending
}
