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
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use async_io::Async;

use crate::net::Addr;
use crate::readiness::Side;
use crate::sync::{self, Arc, Mutex};
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
        sync::lock(&self.io).clone()
    }

    pub(crate) fn local_addr(&self) -> &Addr {
        &self.local
    }

    pub(crate) fn set_deadline(&self, at: Option<Instant>) {
        self.accept.dir.set_deadline(at);
    }

    /// Closes the socket and ends the waiting `accept`s; `false` if it was closed already.
    pub(crate) fn close(&self) -> bool {
        let io = sync::lock(&self.io).take();
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
