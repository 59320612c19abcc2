//! [`Conn`]: one end of a connection on any transport.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::Shutdown;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use super::addr::Repr;
use super::faulty::Faulty;
use super::socket::Stream;
use super::{chan, tcp, Addr};
use crate::end::End;
use crate::faults::DialFault;
use crate::{Error, Faults, DEFAULT_CONNECT_TIMEOUT};

/// One end of a connection over `chan://`, `tcp://` or `unix://`, with one set of semantics:
/// those of [`chanstream::Conn`](crate::Conn).
///
/// A `Conn` comes from [`Conn::connect`] or [`Listener::accept`](crate::net::Listener::accept),
/// or from a [`chanstream::Conn`](crate::Conn) through `From`. It implements
/// [`AsyncRead`](futures::io::AsyncRead) and [`AsyncWrite`](futures::io::AsyncWrite), as does `&Conn` (and tokio's traits with the `tokio`
/// feature). Clones are handles to the same end (the same socket): they share its bytes,
/// deadlines and shutdown state. Every method takes `&self`.
///
/// # Closing a `Conn`
///
/// What this end sees is the same on every transport:
///
/// | this end does | its reads | its writes |
/// |---|---|---|
/// | `shutdown(Write)` or [`close`](futures::io::AsyncWriteExt::close) | unaffected | fail with `BrokenPipe` ([`Error::ConnectionClosed`]) |
/// | `shutdown(Read)` | `Ok(0)` at once | unaffected |
/// | `shutdown(Both)`, or the last clone dropped | both rows above | |
///
/// The peer reads every byte written before a `shutdown(Write)`, then end of stream. What the
/// peer sees in the other cases is decided by the OS for sockets: see the
/// [table in the module docs](crate::net#what-the-peer-sees). The graceful close on every
/// transport is: `shutdown(Write)`, read to end of stream, then drop.
///
/// # Deadlines
///
/// As [`chanstream::Conn::set_deadline`](crate::Conn::set_deadline), on every transport: a
/// deadline change wakes blocked operations, a passed deadline fails reads with
/// [`Error::ReadTimeout`] and writes with [`Error::WriteTimeout`] at once, moving no bytes, and
/// a timeout never damages the connection.
///
/// # Errors
///
/// Reads and writes fail with an [`io::Error`]. The crate's own errors (timeouts,
/// [`Error::ConnectionClosed`]) carry an [`Error`] ([`Error::from_io`]); other OS errors of a
/// socket (a reset, say) are the OS's `io::Error`, with its kind and raw code.
///
/// # Cancel safety
///
/// A read or write that returns `Pending` has moved no bytes, so dropping its future loses
/// nothing.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::net::{Conn, Listener};
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
/// use std::net::Shutdown;
///
/// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
/// let addr = listener.local_addr().to_string();
/// let (mut client, mut server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
/// client.write_all(b"hello").await?;
/// client.shutdown(Shutdown::Write)?;
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await?;
/// assert_eq!(got, b"hello");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Conn(pub(crate) ConnRepr);

#[derive(Clone)]
pub(crate) enum ConnRepr {
    Chan(crate::Conn),
    Tcp(Stream<std::net::TcpStream>),
    #[cfg(unix)]
    Unix(Stream<std::os::unix::net::UnixStream>),
    /// A socket behind faults, through an in-process relay.
    Faulty(Faulty),
}

/// Runs `$body` with `$c` bound to the transport's connection, whatever it is.
macro_rules! on_transport {
    ($conn:expr, $c:ident => $body:expr) => {
        match $conn {
            ConnRepr::Chan($c) => $body,
            ConnRepr::Tcp($c) => $body,
            #[cfg(unix)]
            ConnRepr::Unix($c) => $body,
            ConnRepr::Faulty(Faulty { conn: $c, .. }) => $body,
        }
    };
}

impl Conn {
    /// Dials `addr` (`chan://NAME`, `tcp://HOST:PORT` or `unix:///PATH`), waiting up to
    /// [`DEFAULT_CONNECT_TIMEOUT`] (10 s) for the connection to be set up.
    ///
    /// The returned future is `'static` and `Send`: the address is parsed at once (a
    /// malformed one fails on the first poll). A host name is resolved when it is polled.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed address; [`Error::ConnectionRefused`] when
    /// nothing listens there (for `unix://`, also a path with no socket file);
    /// [`Error::ListenQueueFull`] when the listener's backlog is full (`chan://` and, on
    /// Linux, `unix://`); [`Error::ConnectTimeout`] after the timeout;
    /// [`Error::HostNotFound`] when a host name does not resolve; [`Error::Os`] for other OS
    /// errors.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes abandons the dial; for `chan://` the request is
    /// withdrawn from the backlog.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::Conn, Error};
    ///
    /// assert_eq!(Conn::connect("chan://doc-net-nobody").await.unwrap_err(), Error::ConnectionRefused);
    /// assert!(matches!(Conn::connect("tcp//oops").await, Err(Error::InvalidInput(_))));
    /// # });
    /// ```
    pub fn connect(addr: &str) -> Connect {
        Conn::connect_timeout(addr, DEFAULT_CONNECT_TIMEOUT)
    }

    /// Dials `addr` with a set-up timeout of `timeout` (resolving a host name included).
    ///
    /// # Errors
    ///
    /// As [`connect`](Conn::connect); a zero `timeout` is [`Error::InvalidInput`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::{Conn, Listener}, Error};
    /// use std::time::Duration;
    ///
    /// let _listener = Listener::bind("chan://doc-net-never-accepts").await?;
    /// let err = Conn::connect_timeout("chan://doc-net-never-accepts", Duration::from_millis(10))
    ///     .await
    ///     .unwrap_err();
    /// assert_eq!(err, Error::ConnectTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn connect_timeout(addr: &str, timeout: Duration) -> Connect {
        match addr.parse::<Addr>() {
            Ok(addr) => Conn::connect_addr(addr, timeout),
            Err(e) => Connect::failed(e),
        }
    }

    /// Dials a parsed address (see [`connect_timeout`](Conn::connect_timeout)).
    pub(crate) fn connect_addr(addr: Addr, timeout: Duration) -> Connect {
        if timeout.is_zero() {
            return Connect::failed(Error::InvalidInput("connect timeout of zero"));
        }
        match addr.0 {
            Repr::Chan(name) => Connect(ConnectRepr::Chan(chan::connect(name.as_str(), timeout))),
            #[cfg(unix)]
            Repr::Unix(None) => Connect::failed(Error::InvalidInput("unix:// address has no path")),
            _ => Connect(ConnectRepr::Socket {
                addr,
                timeout,
                faults: None,
            }),
        }
    }

    /// This end's address: on an accepted end the listener's address, on a dialed end a
    /// `chan://` identity of the form `NAME#N`, the socket's ephemeral `tcp://` address, or
    /// `unix://` (an unnamed Unix socket).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::net::{Conn, Listener};
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (client, server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
    /// assert_eq!(server.local_addr(), listener.local_addr());
    /// assert_eq!(server.peer_addr(), client.local_addr());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> Addr {
        match &self.0 {
            ConnRepr::Chan(c) => c.local_addr().into(),
            ConnRepr::Tcp(s) => s.local_addr().clone(),
            #[cfg(unix)]
            ConnRepr::Unix(s) => s.local_addr().clone(),
            ConnRepr::Faulty(f) => f.local.clone(),
        }
    }

    /// The peer's address: on a dialed end the listener's address, on an accepted end the
    /// dialed end's [`local_addr`](Conn::local_addr).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::net::{Conn, Listener};
    ///
    /// let listener = Listener::bind("chan://doc-net-peer").await?;
    /// let (client, _server) = futures::try_join!(Conn::connect("chan://doc-net-peer"), listener.accept())?;
    /// assert_eq!(client.peer_addr().to_string(), "chan://doc-net-peer");
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn peer_addr(&self) -> Addr {
        match &self.0 {
            ConnRepr::Chan(c) => c.peer_addr().into(),
            ConnRepr::Tcp(s) => s.peer_addr().clone(),
            #[cfg(unix)]
            ConnRepr::Unix(s) => s.peer_addr().clone(),
            ConnRepr::Faulty(f) => f.peer.clone(),
        }
    }

    /// Sets both the read and the write deadline; `None` clears them. See
    /// [`chanstream::Conn::set_deadline`](crate::Conn::set_deadline): the rules are the same on
    /// every transport.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::{Conn, Listener}, Error};
    /// use futures::io::AsyncReadExt;
    /// use std::time::{Duration, Instant};
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (mut client, _server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
    /// client.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
    /// let err = client.read(&mut [0; 8]).await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
    /// client.set_deadline(None); // the connection is undamaged
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        on_transport!(&self.0, c => c.set_deadline(deadline))
    }

    /// Sets the read deadline; `None` clears it. See [`set_deadline`](Conn::set_deadline).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::{Conn, Listener}, Error};
    /// use futures::io::AsyncReadExt;
    /// use std::time::Instant;
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (mut client, _server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
    /// client.set_read_deadline(Some(Instant::now())); // already passed: fails at once
    /// let err = client.read(&mut [0; 1]).await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_read_deadline(&self, deadline: Option<Instant>) {
        on_transport!(&self.0, c => c.set_read_deadline(deadline))
    }

    /// Sets the write deadline; `None` clears it. See [`set_deadline`](Conn::set_deadline).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::{Conn, Listener}, Error};
    /// use futures::io::AsyncWriteExt;
    /// use std::time::Instant;
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (mut client, _server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
    /// client.set_write_deadline(Some(Instant::now()));
    /// let err = client.write(b"x").await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::WriteTimeout));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn set_write_deadline(&self, deadline: Option<Instant>) {
        on_transport!(&self.0, c => c.set_write_deadline(deadline))
    }

    /// Shuts down the read half, the write half, or both: see
    /// [the table above](Conn#closing-a-conn). The local effects hold at once, on every clone,
    /// and a repeated shutdown is `Ok` and changes nothing.
    ///
    /// # Errors
    ///
    /// On a socket, the OS's error for its own shutdown of a half not yet shut (for example
    /// [`Error::Os`] of kind `NotConnected` after the peer reset the connection); the local
    /// effects hold all the same. Never an error on `chan://`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::net::{Conn, Listener};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// use std::net::Shutdown;
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (mut client, mut server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
    /// client.shutdown(Shutdown::Write)?;
    /// assert_eq!(server.read(&mut [0; 1]).await?, 0); // end of stream
    /// let err = client.write(b"x").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::BrokenPipe);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn shutdown(&self, how: Shutdown) -> Result<(), Error> {
        on_transport!(&self.0, c => c.shutdown(how))
    }

    fn poll_read_bytes(&self, cx: &mut Context<'_>, buf: &mut [u8]) -> Poll<io::Result<usize>> {
        on_transport!(&self.0, c => c.poll_read_bytes(cx, buf))
    }

    fn poll_write_bytes(&self, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        on_transport!(&self.0, c => c.poll_write_bytes(cx, buf))
    }

    /// A read that hands the bytes to `sink`: straight from the buffer on `chan://`, through a
    /// buffer on the stack (at most [`SINK_CHUNK`] bytes) on a socket.
    #[cfg(feature = "hyper")]
    fn poll_read_to(
        &self,
        cx: &mut Context<'_>,
        max: usize,
        sink: &mut dyn FnMut(&[u8]),
    ) -> Poll<io::Result<usize>> {
        if let ConnRepr::Chan(c) | ConnRepr::Faulty(Faulty { conn: c, .. }) = &self.0 {
            return c.poll_read_to(cx, max, sink);
        }
        let mut buf = [0; SINK_CHUNK];
        let want = max.min(SINK_CHUNK);
        let n = futures::ready!(self.poll_read_bytes(cx, &mut buf[..want]))?;
        sink(&buf[..n]);
        Poll::Ready(Ok(n))
    }

    fn close_write(&self) -> io::Result<()> {
        on_transport!(&self.0, c => c.close_write())
    }
}

impl From<crate::Conn> for Conn {
    /// The same connection through the transport-independent layer: how a connection of an
    /// isolated [`Network`](crate::Network) is used with it.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (client, _server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// let client = chanstream::net::Conn::from(client);
    /// assert_eq!(client.peer_addr().to_string(), "chan://svc");
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    fn from(conn: crate::Conn) -> Conn {
        Conn(ConnRepr::Chan(conn))
    }
}

impl fmt::Debug for Conn {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ConnRepr::Faulty(faulty) = &self.0 {
            return f
                .debug_struct("Conn")
                .field("local", &faulty.local)
                .field("peer", &faulty.peer)
                .field("through", &faulty.conn)
                .finish();
        }
        on_transport!(&self.0, c => c.fmt(f))
    }
}

impl_stream_io!(Conn);

/// The future returned by [`Conn::connect`] and [`Conn::connect_timeout`]: `'static`, `Send`
/// and `Unpin`, so it can be stored, spawned or boxed freely.
///
/// # Cancel safety
///
/// Dropping it abandons the dial (a `chan://` request is withdrawn from the backlog; a
/// socket being connected is closed).
///
/// ```
/// # futures::executor::block_on(async {
/// let dial: chanstream::net::Connect = chanstream::net::Conn::connect("chan://doc-net-connect");
/// assert!(dial.await.is_err()); // nobody listens
/// # });
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Connect(ConnectRepr);

/// The most a socket read for hyper moves at once (hyper's read buffer starts at 8 KiB).
#[cfg(feature = "hyper")]
const SINK_CHUNK: usize = 8 << 10;

type SocketDial = Pin<Box<dyn Future<Output = Result<Conn, Error>> + Send>>;

enum ConnectRepr {
    Chan(crate::Connect),
    /// A socket dial not yet polled.
    Socket {
        addr: Addr,
        timeout: Duration,
        faults: Option<Faults>,
    },
    /// A socket dial under way.
    Dialing(SocketDial),
    /// Bad input: the error, as often as it is polled.
    Failed(Error),
}

impl Connect {
    pub(crate) fn failed(err: Error) -> Connect {
        Connect(ConnectRepr::Failed(err))
    }

    /// Applies `faults` to this dial and the connection it makes, on every transport: dial
    /// faults ([`Faults::refuse_dials`] and the others) before the dial, the other faults on
    /// its connection. On `chan://` this is [`chanstream::Connect::faults`](crate::Connect::faults);
    /// a TCP or Unix socket is relayed through an in-process connection carrying the faults
    /// (see [the module docs](crate::net#faults-on-sockets)). Called on a dial already polled,
    /// it has no effect.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::net::{Conn, Listener};
    /// use chanstream::Faults;
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let faults = Faults::new(3);
    /// faults.short_writes(1.0);
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (mut client, mut server) =
    ///     futures::try_join!(Conn::connect(&addr).faults(&faults), listener.accept())?;
    /// let n = client.write(b"split me").await?;
    /// assert!(n < 8); // the socket's writes are shortened
    /// client.write_all(&b"split me"[n..]).await?;
    /// let mut got = [0; 8];
    /// server.read_exact(&mut got).await?;
    /// assert_eq!(&got, b"split me");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn faults(mut self, faults: &Faults) -> Connect {
        self.0 = match self.0 {
            ConnectRepr::Chan(dial) => ConnectRepr::Chan(dial.faults(faults)),
            ConnectRepr::Socket { addr, timeout, .. } => ConnectRepr::Socket {
                addr,
                timeout,
                faults: Some(faults.clone()),
            },
            other => other,
        };
        self
    }
}

/// Waits `dur` on the wall clock (forever if that is beyond what the clock holds).
async fn sleep(dur: Duration) {
    match crate::clock::Clock::SYSTEM.sleep(dur) {
        Some(sleep) => sleep.await,
        None => futures::future::pending().await,
    }
}

/// A socket dial bounded by `timeout`, under `faults` if any.
async fn dial_socket(
    addr: Addr,
    mut timeout: Duration,
    faults: Option<Faults>,
) -> Result<Conn, Error> {
    if let Some(fault) = faults
        .as_ref()
        .and_then(|f| f.dial_fault(None, &addr.to_string()))
    {
        match fault {
            DialFault::Refuse => return Err(Error::ConnectionRefused),
            DialFault::BacklogFull => return Err(Error::ListenQueueFull),
            DialFault::Delay(by) if by < timeout => {
                sleep(by).await;
                timeout -= by;
            }
            DialFault::TimeOut | DialFault::Delay(_) => {
                sleep(timeout).await;
                return Err(Error::ConnectTimeout);
            }
        }
    }
    let dial = async move {
        match addr.0 {
            Repr::Tcp(tcp_addr) => {
                let addrs = tcp::resolve(&tcp_addr).await?;
                Ok(Conn(ConnRepr::Tcp(tcp::connect_any(&addrs).await?)))
            }
            #[cfg(unix)]
            Repr::Unix(Some(path)) => Ok(Conn(ConnRepr::Unix(super::unix::connect(&path)?))),
            _ => Err(Error::InvalidInput("not a socket address")),
        }
    };
    let dial = std::pin::pin!(dial);
    let conn = match crate::clock::Clock::SYSTEM.sleep(timeout) {
        None => dial.await?,
        Some(timer) => match futures::future::select(dial, timer).await {
            futures::future::Either::Left((dialed, _)) => dialed?,
            futures::future::Either::Right(_) => return Err(Error::ConnectTimeout),
        },
    };
    match faults {
        Some(faults) => super::faulty::wrap(conn, &faults, End::Dialed),
        None => Ok(conn),
    }
}

impl Future for Connect {
    type Output = Result<Conn, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let dial = match &mut self.0 {
            ConnectRepr::Chan(dial) => return Pin::new(dial).poll(cx).map_ok(Conn::from),
            ConnectRepr::Dialing(dial) => return dial.as_mut().poll(cx),
            ConnectRepr::Failed(err) => return Poll::Ready(Err(*err)),
            // The first poll of a socket dial starts it.
            ConnectRepr::Socket {
                addr,
                timeout,
                faults,
            } => Box::pin(dial_socket(addr.clone(), *timeout, faults.take())),
        };
        self.0 = ConnectRepr::Dialing(dial);
        self.poll(cx)
    }
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ConnectRepr::Chan(dial) => dial.fmt(f),
            ConnectRepr::Socket { addr, .. } => {
                f.debug_struct("Connect").field("addr", addr).finish()
            }
            ConnectRepr::Dialing(_) => f.write_str("Connect { socket }"),
            ConnectRepr::Failed(err) => f.debug_tuple("Connect").field(err).finish(),
        }
    }
}
