//! A connected byte stream: one end of a connection.

use std::fmt;
use std::io;
use std::net::Shutdown;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::connect::Connect;
use crate::end::End;
use crate::link::Link;
use crate::pipe::{Pipe, Side};
use crate::ring::Ring;
use crate::{Addr, Error, Network, Reader};

/// One end of an in-process connection: a bidirectional byte stream with the semantics of a TCP
/// socket.
///
/// A `Conn` comes from [`Conn::connect`] (the dialing end) or [`Listener::accept`](crate::Listener::accept) (the accepting
/// end). Bytes written at one end are read, in order, at the other. Each direction buffers a
/// bounded number of bytes (see [`ListenerBuilder::buffer_size`](crate::ListenerBuilder::buffer_size)); a writer facing a full buffer
/// waits for the reader.
///
/// `Conn` implements [`AsyncRead`](futures::io::AsyncRead) and [`AsyncWrite`](futures::io::AsyncWrite), as does `&Conn`, so one task can read while
/// another writes. Clones are handles to the *same* end: they share its bytes, deadlines and
/// shutdown state. Every method takes `&self`.
///
/// # Closing a `Conn`
///
/// With A one end and B its peer:
///
/// | A does | A reads | A writes | B reads | B writes |
/// |---|---|---|---|---|
/// | `shutdown(Write)` or [`close`](futures::io::AsyncWriteExt::close) | unaffected | fail with `BrokenPipe` | buffered bytes, then `Ok(0)` | unaffected |
/// | `shutdown(Read)` | `Ok(0)` at once; unread bytes are discarded | unaffected | unaffected | fail with `BrokenPipe`, also writes already waiting |
/// | `shutdown(Both)`, or the last clone of A dropped | both rows above | | | |
///
/// Shutting down is idempotent and wakes every operation it ends, at both ends and on every clone.
/// Bytes written before a shutdown or drop are never lost: the peer reads all of them, then end of
/// stream. [`poll_flush`](futures::io::AsyncWrite::poll_flush) succeeds at once: a write's bytes are visible to
/// the peer as soon as the write returns.
///
/// # Deadlines
///
/// [`set_read_deadline`](Conn::set_read_deadline) and
/// [`set_write_deadline`](Conn::set_write_deadline) bound reads and writes in time, as Go's
/// `net.Conn` does. See [`set_deadline`](Conn::set_deadline).
///
/// # Errors
///
/// Reads and writes fail with an [`io::Error`] that carries an [`Error`]
/// ([`Error::from_io`] gets it back): `ReadTimeout` or `WriteTimeout` (kind `TimedOut`), or
/// `ConnectionClosed` (kind `BrokenPipe`).
///
/// # Cancel safety
///
/// A read or write that returns `Pending` has consumed or accepted no bytes, so dropping its
/// future loses nothing.
///
/// # Fairness
///
/// A stream that is always ready (a peer on another thread keeps it fed, or keeps draining it)
/// must not let one task loop over it forever while the other tasks of its executor wait. After
/// 128 reads (writes) in a row that moved bytes without waiting, the next read (write) moves
/// nothing: it wakes its task and returns `Pending` once, so the executor runs the others first.
/// Zero-length operations, errors and end of stream are returned at once, as always. Code that
/// polls without an executor, such as a loop of `now_or_never()` reads, therefore sees that one
/// `Pending` too, even though bytes are buffered.
///
/// # Examples
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::{Conn, Listener};
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use std::net::Shutdown;
///
/// let listener = Listener::bind("doc-conn")?;
/// let (mut client, mut server) = futures::try_join!(Conn::connect("doc-conn"), listener.accept())?;
/// client.write_all(b"hello").await?;
/// client.shutdown(Shutdown::Write)?;
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await?;
/// assert_eq!(got, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Conn {
    link: Arc<Link>,
    /// Which end of the link this is.
    end: End,
}

impl Clone for Conn {
    fn clone(&self) -> Conn {
        self.link.add_handle(self.end);
        Conn {
            link: self.link.clone(),
            end: self.end,
        }
    }
}

impl Drop for Conn {
    fn drop(&mut self) {
        self.link.drop_handle(self.end);
    }
}

impl Conn {
    /// End `end` of `link`, taking over a handle already counted for it (see [`Link::new`]).
    pub(crate) fn adopt(link: Arc<Link>, end: End) -> Conn {
        Conn { link, end }
    }

    /// The connection this is one end of.
    pub(crate) fn link(&self) -> &Link {
        &self.link
    }

    /// Dials `name` in the global [`Network`], waiting up to
    /// [`DEFAULT_CONNECT_TIMEOUT`](crate::DEFAULT_CONNECT_TIMEOUT) (10 s) for the listener to
    /// accept.
    ///
    /// # Errors
    ///
    /// [`Error::ConnectionRefused`] at once if no listener is bound to `name`, or when it closes
    /// while the dial waits; [`Error::ListenQueueFull`] at once if its backlog is full;
    /// [`Error::ConnectTimeout`] if it does not accept in time; [`Error::InvalidInput`] for an
    /// empty name.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes withdraws the request: the listener never accepts
    /// it and its backlog slot is free again at once.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Conn, Error};
    ///
    /// assert_eq!(Conn::connect("doc-nobody-listens").await.unwrap_err(), Error::ConnectionRefused);
    /// # });
    /// ```
    pub fn connect(name: &str) -> Connect {
        Network::global().connect(name)
    }

    /// Dials `name` in the global [`Network`] with a handshake timeout of `timeout`.
    ///
    /// # Errors
    ///
    /// As [`connect`](Conn::connect); a zero `timeout` is [`Error::InvalidInput`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Conn, Error, Listener};
    /// use std::time::Duration;
    ///
    /// let _listener = Listener::bind("doc-never-accepts")?;
    /// let err = Conn::connect_timeout("doc-never-accepts", Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err, Error::ConnectTimeout);
    /// assert!(err.is_timeout());
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn connect_timeout(name: &str, timeout: Duration) -> Connect {
        Network::global().connect_timeout(name, timeout)
    }

    /// This end's address: the listener's name on an accepted end, a unique identity of the
    /// form `name#N` on a dialed end.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// assert_eq!(server.local_addr().as_str(), "svc");
    /// assert!(client.local_addr().as_str().starts_with("svc#"));
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> Addr {
        self.link.addr(self.end)
    }

    /// The peer's address: the listener's name on a dialed end, the dialer's identity on an
    /// accepted end.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// assert_eq!(client.peer_addr().as_str(), "svc");
    /// assert_eq!(server.peer_addr(), client.local_addr());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> Addr {
        self.link.addr(self.end.peer())
    }

    /// Sets both the read and the write deadline; `None` clears them.
    ///
    /// A deadline is an absolute [`Instant`]. It applies to operations already waiting and to
    /// later ones: changing it wakes waiting operations, which fail at once if it has passed and
    /// keep waiting otherwise. Once a deadline has passed, every read (write) fails at once with
    /// [`Error::ReadTimeout`] ([`Error::WriteTimeout`]) and moves no bytes, even if data or space
    /// is there; a local shutdown is reported before the deadline. A timeout never damages the
    /// connection: clear or extend the deadline and I/O resumes with no byte lost.
    ///
    /// A deadline already passed when it is set takes effect at once. One set in the future
    /// takes effect when its timer fires: an operation may still complete in the timer
    /// thread's latency after the deadline's instant, never after the timer fired. Setting a
    /// deadline before every operation (Go's `now + 5 s` idiom) is cheap: it reads the clock
    /// once and registers no timer per call.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Conn, Error, Listener};
    /// use futures::io::AsyncReadExt;
    /// use std::time::{Duration, Instant};
    ///
    /// let listener = Listener::bind("doc-deadline")?;
    /// let (mut client, _server) = futures::try_join!(Conn::connect("doc-deadline"), listener.accept())?;
    /// client.set_read_deadline(Some(Instant::now() + Duration::from_millis(10)));
    /// let err = client.read(&mut [0; 8]).await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
    /// client.set_read_deadline(None); // reads may wait again
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.set_read_deadline(deadline);
        self.set_write_deadline(deadline);
    }

    /// Sets the read deadline; `None` clears it. See [`set_deadline`](Conn::set_deadline).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::Error;
    /// use futures::io::AsyncReadExt;
    /// use std::time::Instant;
    ///
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (mut client, _server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// client.set_read_deadline(Some(Instant::now())); // already passed: reads fail at once
    /// let err = client.read(&mut [0; 1]).await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        self.incoming()
            .set_deadline(&self.link, Side::Read, deadline);
    }

    /// Sets the write deadline; `None` clears it. See [`set_deadline`](Conn::set_deadline).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::Error;
    /// use futures::io::AsyncWriteExt;
    /// use std::time::{Duration, Instant};
    ///
    /// let net = chanstream::Network::new();
    /// let listener = net.listener().buffer_size(4).bind("svc")?;
    /// let (mut client, _server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// client.set_write_deadline(Some(Instant::now() + Duration::from_millis(10)));
    /// // The peer never reads: the write fills the 4-byte buffer, then times out.
    /// let err = client.write_all(b"more than four bytes").await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::WriteTimeout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        self.outgoing()
            .set_deadline(&self.link, Side::Write, deadline);
    }

    /// Shuts down the read half, the write half, or both; see [the table above](Conn#closing-a-conn).
    ///
    /// Idempotent, and it affects every clone of this end.
    ///
    /// # Errors
    ///
    /// None at present; the `Result` keeps the signature of [`std::net::TcpStream::shutdown`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Conn, Listener};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// use std::net::Shutdown;
    ///
    /// let listener = Listener::bind("doc-shutdown")?;
    /// let (mut client, mut server) = futures::try_join!(Conn::connect("doc-shutdown"), listener.accept())?;
    /// server.shutdown(Shutdown::Read)?;
    /// let err = client.write(b"x").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// assert_eq!(server.read(&mut [0; 1]).await?, 0);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Error> {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            self.incoming().shut_read();
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.outgoing().shut_write();
        }
        Ok(())
    }

    /// A [`Reader`] on this end, for reading in place.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (mut client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// client.write_all(b"in place").await?;
    /// let mut reader = server.reader();
    /// assert_eq!(reader.fill_buf().await?, b"in place"); // the writer's bytes, not a copy
    /// reader.consume_unpin(8);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reader(&self) -> Reader {
        Reader::new(self.clone())
    }

    /// Sends `chunk` without copying it when it can: a chunk no larger than the buffer size,
    /// written while nothing is buffered, becomes the buffer itself, and a reader's
    /// [`read_owned`](Conn::read_owned) receives the same allocation. (A chunk whose capacity
    /// exceeds its length is first shrunk to fit, which glibc's allocator does in place and
    /// other allocators may do by copying.) A chunk written beside
    /// buffered bytes is copied in once there is room for all of it; a chunk larger than the
    /// buffer size is written in pieces, like [`write_all`](futures::io::AsyncWriteExt::write_all).
    ///
    /// Deadlines, shutdowns and the byte bound apply as to any write.
    ///
    /// # Errors
    ///
    /// As a write: `WriteTimeout`, or `ConnectionClosed` (kind `BrokenPipe`).
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting, it sends nothing (and drops the chunk), except a chunk larger than
    /// the buffer size, of which a prefix may have been sent.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = net.listener().buffer_size(1 << 20).bind("svc")?;
    /// let (client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// let chunk = vec![7u8; 1 << 20];
    /// let address = chunk.as_ptr();
    /// client.write_owned(chunk).await?;
    /// let received = server.read_owned().await?;
    /// assert_eq!(received.len(), 1 << 20);
    /// assert_eq!(received.as_ptr(), address); // the same allocation: no copy
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn write_owned(&self, chunk: Vec<u8>) -> io::Result<()> {
        if chunk.len() > self.outgoing().capacity() {
            let mut this = self;
            return futures::io::AsyncWriteExt::write_all(&mut this, &chunk).await;
        }
        let mut chunk = Some(chunk);
        futures::future::poll_fn(|cx| self.poll_write_chunk(cx, &mut chunk)).await
    }

    /// Receives every byte buffered so far (waiting for at least one) as one owned `Vec`; an
    /// empty `Vec` means end of stream. When the buffered bytes are one chunk sent by
    /// [`write_owned`](Conn::write_owned), this is that chunk's allocation, not a copy.
    ///
    /// # Errors
    ///
    /// As a read: `ReadTimeout`.
    ///
    /// # Cancel safety
    ///
    /// Dropped while waiting, it has taken nothing.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use futures::io::AsyncWriteExt;
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (mut client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// client.write_all(b"one ").await?;
    /// client.write_all(b"two").await?;
    /// client.close().await?;
    /// assert_eq!(server.read_owned().await?, b"one two"); // all that was buffered
    /// assert!(server.read_owned().await?.is_empty()); // end of stream
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn read_owned(&self) -> io::Result<Vec<u8>> {
        let mut taken = Ring::default();
        futures::future::poll_fn(|cx| self.poll_take(cx, &mut taken)).await?;
        Ok(taken.into_vec())
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Conn");
        d.field("local", &self.link.addr(self.end))
            .field("peer", &self.link.addr(self.end.peer()));
        if let Some(fx) = self.link.faults() {
            d.field("fault_seed", &fx.seed())
                .field("fault_conn", &fx.conn());
        }
        d.finish()
    }
}

impl Conn {
    /// The direction this end reads.
    pub(crate) fn incoming(&self) -> &Pipe {
        self.link.incoming(self.end)
    }

    /// The direction this end writes.
    pub(crate) fn outgoing(&self) -> &Pipe {
        self.link.outgoing(self.end)
    }

    /// The read behind every `AsyncRead` impl.
    pub(crate) fn poll_read_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        self.incoming().poll_read(cx, buf, self.link.faults())
    }

    /// A read that hands the bytes to `sink` (see [`Pipe::poll_read_to`]).
    #[cfg(feature = "hyper")]
    pub(crate) fn poll_read_to(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        self.incoming()
            .poll_read_to(cx, max, sink, self.link.faults())
    }

    /// The write behind every `AsyncWrite` impl.
    pub(crate) fn poll_write_bytes(
        &self,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.outgoing().poll_write(cx, buf, self.link.faults())
    }

    /// Takes every buffered byte at once into `into` (see [`Pipe::poll_take`]).
    pub(crate) fn poll_take(&self, cx: &mut Context<'_>, into: &mut Ring) -> Poll<io::Result<()>> {
        self.incoming().poll_take(cx, into, self.link.faults())
    }

    /// `close` and tokio's `shutdown`: a write shutdown.
    pub(crate) fn close_write(&self) -> io::Result<()> {
        self.outgoing().shut_write();
        Ok(())
    }

    /// Hands `chunk` over whole (see [`Pipe::poll_write_owned`]).
    pub(crate) fn poll_write_chunk(
        &self,
        cx: &mut Context<'_>,
        chunk: &mut Option<Vec<u8>>,
    ) -> Poll<io::Result<()>> {
        self.outgoing()
            .poll_write_owned(cx, chunk, self.link.faults())
    }
}

impl_stream_io!(Conn);
