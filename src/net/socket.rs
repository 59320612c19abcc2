//! What TCP and Unix sockets share: Go's deadlines and the local shutdown effects, implemented
//! over the readiness events of async-io's reactor, written once for both transports.
//!
//! The OS knows nothing of deadlines, and what a socket's own end sees after a shutdown differs
//! between systems, so both are the crate's: each direction of a socket (and a listener's
//! accept) has a [`Direction`] holding its shutdown flag, its deadline and the tasks waiting on
//! it. A waiting operation registers its task there, then asks the reactor for readiness with
//! the direction's own waker, which wakes every registered task. A deadline change, a timer
//! firing, a shutdown and a readiness event all wake the same tasks, and each re-checks in one
//! order: local shutdown, then deadline, then the socket. The reactor is handed one waker per
//! direction however many tasks or clones wait, so clones never displace each other's wake-ups
//! (async-io keeps one waker per direction of a source).

use std::fmt;
use std::io::{self, Read, Write};
use std::net::Shutdown;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use async_io::Async;
use once_cell::sync::Lazy;

use crate::clock::Clock;
use crate::deadline::Timer;
use crate::net::Addr;
use crate::Error;

/// A socket handle async-io can register: a file descriptor (a socket on Windows).
#[cfg(unix)]
pub(crate) trait Source: std::os::fd::AsFd {}
#[cfg(unix)]
impl<T: std::os::fd::AsFd> Source for T {}
#[cfg(windows)]
pub(crate) trait Source: std::os::windows::io::AsSocket {}
#[cfg(windows)]
impl<T: std::os::windows::io::AsSocket> Source for T {}

/// A connected stream socket of the standard library (`TcpStream`, `UnixStream`).
pub(crate) trait StreamIo: Source + Send + Sync + 'static {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize>;
    fn write_some(&self, buf: &[u8]) -> io::Result<usize>;
    fn shutdown_os(&self, how: Shutdown) -> io::Result<()>;
}

impl StreamIo for std::net::TcpStream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn shutdown_os(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

#[cfg(unix)]
impl StreamIo for std::os::unix::net::UnixStream {
    fn read_some(&self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self).read(buf)
    }
    fn write_some(&self, buf: &[u8]) -> io::Result<usize> {
        (&*self).write(buf)
    }
    fn shutdown_os(&self, how: Shutdown) -> io::Result<()> {
        self.shutdown(how)
    }
}

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
    pub(crate) fn new() -> Arc<Direction> {
        Arc::new(Direction {
            shut: AtomicBool::new(false),
            deadline: AtomicU64::new(NONE),
            waiters: Mutex::new(Vec::new()),
            waiting: AtomicBool::new(false),
            timer: Timer::new(),
        })
    }

    fn lock(&self) -> MutexGuard<'_, Vec<Waker>> {
        self.waiters.lock().unwrap_or_else(|e| e.into_inner())
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
        self.set_deadline_at(at, Instant::now);
    }

    /// [`set_deadline`](Direction::set_deadline), with the clock read by `now` (once for the
    /// two directions of a `set_deadline` on a connection).
    fn set_deadline_at(self: &Arc<Self>, at: Option<Instant>, now: impl FnOnce() -> Instant) {
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
        self.timer.arm_by(&Clock::SYSTEM, at, move || {
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
            if nanos(Instant::now()) < state {
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
    pub(crate) fn new() -> Side {
        let dir = Direction::new();
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

/// A connected TCP or Unix socket shared by the clones of one [`net::Conn`](crate::net::Conn).
pub(crate) struct Stream<S: StreamIo> {
    inner: Arc<Shared<S>>,
}

struct Shared<S: StreamIo> {
    io: Async<S>,
    read: Side,
    write: Side,
    local: Addr,
    peer: Addr,
}

impl<S: StreamIo> Clone for Stream<S> {
    fn clone(&self) -> Self {
        Stream {
            inner: self.inner.clone(),
        }
    }
}

/// An OS error of a read or write: a broken pipe becomes the crate's
/// [`Error::ConnectionClosed`] (the same kind), others stay as the OS gave them.
fn io_error(err: io::Error) -> io::Error {
    match err.kind() {
        io::ErrorKind::BrokenPipe if Error::carried(&err).is_none() => {
            Error::ConnectionClosed.into()
        }
        _ => err,
    }
}

impl<S: StreamIo> Stream<S> {
    pub(crate) fn new(io: S, local: Addr, peer: Addr) -> io::Result<Stream<S>> {
        Ok(Stream::from_async(Async::new(io)?, local, peer))
    }

    /// A socket already registered with the reactor.
    pub(crate) fn from_async(io: Async<S>, local: Addr, peer: Addr) -> Stream<S> {
        Stream {
            inner: Arc::new(Shared {
                io,
                read: Side::new(),
                write: Side::new(),
                local,
                peer,
            }),
        }
    }

    pub(crate) fn local_addr(&self) -> &Addr {
        &self.inner.local
    }

    pub(crate) fn peer_addr(&self) -> &Addr {
        &self.inner.peer
    }

    pub(crate) fn set_read_deadline(&self, at: Option<Instant>) {
        self.inner.read.dir.set_deadline(at);
    }

    pub(crate) fn set_write_deadline(&self, at: Option<Instant>) {
        self.inner.write.dir.set_deadline(at);
    }

    /// Both deadlines, with one clock read.
    pub(crate) fn set_deadline(&self, at: Option<Instant>) {
        let now = std::cell::OnceCell::new();
        let now = || *now.get_or_init(Instant::now);
        self.inner.read.dir.set_deadline_at(at, now);
        self.inner.write.dir.set_deadline_at(at, now);
    }

    /// The local effects at once and on every clone; then the OS's shutdown, whose error (say,
    /// not connected after a reset) is returned. A half already shut is not shut again.
    pub(crate) fn shutdown(&self, how: Shutdown) -> Result<(), Error> {
        let sh = &*self.inner;
        let mut os = None;
        if matches!(how, Shutdown::Read | Shutdown::Both) && !sh.read.dir.shut() {
            os = Some(Shutdown::Read);
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) && !sh.write.dir.shut() {
            os = Some(if os.is_some() {
                Shutdown::Both
            } else {
                Shutdown::Write
            });
        }
        match os {
            Some(how) => sh
                .io
                .get_ref()
                .shutdown_os(how)
                .map_err(|e| Error::from_os(&e)),
            None => Ok(()),
        }
    }

    /// Ends the connection abruptly: the socket will close with a reset (`SO_LINGER` of zero:
    /// TCP sends an RST instead of a FIN), and this end's operations stop at once, as after a
    /// local shutdown, with nothing sent to the peer until the last clone closes the socket.
    pub(crate) fn abort(&self) {
        let _ = socket2::SockRef::from(self.inner.io.get_ref()).set_linger(Some(Duration::ZERO));
        self.inner.read.dir.shut();
        self.inner.write.dir.shut();
    }

    pub(crate) fn poll_read_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let sh = &*self.inner;
        let read = || match buf.is_empty() {
            true => Ok(0),
            false => sh.io.get_ref().read_some(buf),
        };
        sh.read
            .poll_op(
                cx,
                || Ok(0),
                Error::ReadTimeout,
                read,
                |cx| sh.io.poll_readable(cx),
            )
            .map_err(io_error)
    }

    pub(crate) fn poll_write_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let sh = &*self.inner;
        let write = || match buf.is_empty() {
            true => Ok(0),
            false => sh.io.get_ref().write_some(buf),
        };
        let closed = || Err(Error::ConnectionClosed.into());
        sh.write
            .poll_op(cx, closed, Error::WriteTimeout, write, |cx| {
                sh.io.poll_writable(cx)
            })
            .map_err(io_error)
    }

    /// `close`: a write shutdown (the OS's error, if any, as an `io::Error`).
    pub(crate) fn close_write(&self) -> io::Result<()> {
        self.shutdown(Shutdown::Write).map_err(io::Error::from)
    }
}

impl<S: StreamIo> fmt::Debug for Stream<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Conn")
            .field("local", &self.inner.local)
            .field("peer", &self.inner.peer)
            .field("read", &self.inner.read)
            .field("write", &self.inner.write)
            .finish()
    }
}

/// A listening socket of the standard library (`TcpListener`, `UnixListener`).
pub(crate) trait ListenIo: Source + Send + Sync + 'static {
    type Stream: StreamIo;
    /// Accepts one connection: the stream, and its local and peer addresses.
    fn accept_one(&self) -> io::Result<(Self::Stream, Addr, Addr)>;
}

/// A listening socket with an accept deadline and a `close` that takes effect at once.
pub(crate) struct SocketListener<L: ListenIo> {
    /// `None` once closed: the socket itself is closed when the last poll using it returns.
    io: Mutex<Option<Arc<Async<L>>>>,
    accept: Side,
    local: Addr,
}

impl<L: ListenIo> SocketListener<L> {
    pub(crate) fn new(io: L, local: Addr) -> io::Result<SocketListener<L>> {
        Ok(SocketListener {
            io: Mutex::new(Some(Arc::new(Async::new(io)?))),
            accept: Side::new(),
            local,
        })
    }

    fn io(&self) -> Option<Arc<Async<L>>> {
        self.io.lock().unwrap_or_else(|e| e.into_inner()).clone()
    }

    pub(crate) fn local_addr(&self) -> &Addr {
        &self.local
    }

    pub(crate) fn set_deadline(&self, at: Option<Instant>) {
        self.accept.dir.set_deadline(at);
    }

    /// Closes the socket and ends the waiting `accept`s; `false` if it was closed already.
    pub(crate) fn close(&self) -> bool {
        let io = self.io.lock().unwrap_or_else(|e| e.into_inner()).take();
        let was_open = io.is_some();
        drop(io);
        self.accept.dir.shut();
        was_open
    }

    pub(crate) fn poll_accept(
        &self,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Stream<L::Stream>, Error>> {
        // `close` takes the socket before it shuts the side, so a side not shut has one.
        let Some(io) = self.io() else {
            return Poll::Ready(Err(Error::ListenerClosed));
        };
        let accept = || loop {
            match io.get_ref().accept_one() {
                // The peer gave up before it was accepted: take the next one.
                Err(e) if e.kind() == io::ErrorKind::ConnectionAborted => continue,
                other => return other,
            }
        };
        let closed = || Err(Error::ListenerClosed.into());
        let accepted =
            futures::ready!(self
                .accept
                .poll_op(cx, closed, Error::AcceptTimeout, accept, |cx| io
                    .poll_readable(cx),));
        Poll::Ready(
            accepted
                .and_then(|(stream, local, peer)| Stream::new(stream, local, peer))
                .map_err(|e| Error::from_os(&e)),
        )
    }
}

impl<L: ListenIo> fmt::Debug for SocketListener<L> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("local", &self.local)
            .field("closed", &self.io().is_none())
            .field("accept", &self.accept)
            .finish()
    }
}
