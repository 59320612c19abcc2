//! [`Listener`]: accepting connections on any transport.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Instant;

use super::addr::Repr;
use super::conn::ConnRepr;
use super::socket::SocketListener;
use super::{chan, tcp, Addr, Conn};
use crate::end::End;
use crate::{Error, Faults};

/// How many connections not yet accepted a TCP or Unix listener holds, unless
/// [`ListenerBuilder::backlog`] says otherwise: 1024 (the kernel may cap it, at
/// `net.core.somaxconn` on Linux). A `chan://` listener keeps [`DEFAULT_BACKLOG`](crate::DEFAULT_BACKLOG).
///
/// ```
/// assert_eq!(chanstream::net::DEFAULT_SOCKET_BACKLOG, 1024);
/// ```
pub const DEFAULT_SOCKET_BACKLOG: u32 = 1024;

/// A listener on `chan://`, `tcp://` or `unix://`, with one set of semantics: those of
/// [`chanstream::Listener`](crate::Listener).
///
/// # Lifecycle
///
/// [`bind`](Listener::bind) binds the address: a `chan://` name in the global
/// [`Network`](crate::Network), a TCP port (port 0 picks a free one: see
/// [`local_addr`](Listener::local_addr)), or a Unix socket file. [`accept`](Listener::accept)
/// returns the next connection. [`set_deadline`](Listener::set_deadline) bounds accepts in time
/// ([`Error::AcceptTimeout`]), waking those already waiting.
///
/// [`close`](Listener::close), or dropping the listener, releases the address at once (it can
/// be bound again at once; a Unix listener removes its socket file), fails waiting and later
/// `accept`s with [`Error::ListenerClosed`], and refuses later dials. Connections already
/// accepted are not affected.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::net::{Conn, Listener};
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// for addr in ["chan://doc-net-listener", "tcp://127.0.0.1:0"] {
///     let listener = Listener::bind(addr).await?;
///     let addr = listener.local_addr().to_string();
///     let (mut client, mut server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
///     client.write_all(b"ping").await?;
///     let mut buf = [0; 4];
///     server.read_exact(&mut buf).await?;
///     assert_eq!(&buf, b"ping");
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Listener(ListenerRepr, Option<Faults>);

enum ListenerRepr {
    Chan(crate::Listener),
    Tcp(SocketListener<std::net::TcpListener>),
    #[cfg(unix)]
    Unix(super::unix::UnixListen),
}

/// Options for binding a [`Listener`]: its backlog.
///
/// ```
/// # futures::executor::block_on(async {
/// let listener = chanstream::net::Listener::builder().backlog(16).bind("tcp://127.0.0.1:0").await?;
/// assert_eq!(listener.local_addr().network(), "tcp");
/// # Ok::<(), chanstream::Error>(())
/// # }).unwrap();
/// ```
#[derive(Debug, Clone, Default)]
pub struct ListenerBuilder {
    backlog: Option<u32>,
    faults: Option<Faults>,
}

impl ListenerBuilder {
    /// How many connections may wait for `accept` (default [`DEFAULT_SOCKET_BACKLOG`] for
    /// sockets, [`DEFAULT_BACKLOG`](crate::DEFAULT_BACKLOG) for `chan://`). Must be at least 1,
    /// or `bind` fails with [`Error::InvalidInput`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::Listener, Error};
    /// let err = Listener::builder().backlog(0).bind("tcp://127.0.0.1:0").await.unwrap_err();
    /// assert!(matches!(err, Error::InvalidInput(_)));
    /// # });
    /// ```
    pub fn backlog(mut self, backlog: u32) -> ListenerBuilder {
        self.backlog = Some(backlog);
        self
    }

    /// Applies `faults` to the connections this listener accepts, on every transport: on
    /// `chan://` as [`chanstream::ListenerBuilder::faults`](crate::ListenerBuilder::faults)
    /// (dial faults included); on TCP and Unix each accepted socket is relayed through an
    /// in-process connection carrying the faults (see
    /// [the module docs](crate::net#faults-on-sockets)). A socket's dial faults apply where it
    /// is dialed ([`Connect::faults`](crate::net::Connect::faults)).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::net::{Conn, Listener};
    /// use chanstream::{Error, Faults};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let faults = Faults::new(4);
    /// let listener = Listener::builder().faults(&faults).bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (mut client, mut server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
    /// client.write_all(b"before").await?;
    /// let mut buf = [0; 6];
    /// server.read_exact(&mut buf).await?;
    /// faults.reset_now();
    /// let err = server.read(&mut buf).await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ConnectionReset));
    /// // The client's socket was reset by the peer (an RST).
    /// let err = client.read(&mut buf).await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn faults(mut self, faults: &Faults) -> ListenerBuilder {
        self.faults = Some(faults.clone());
        self
    }

    /// Binds `addr`; see [`Listener::bind`].
    ///
    /// # Errors
    ///
    /// As [`Listener::bind`]; a zero backlog is [`Error::InvalidInput`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let listener = chanstream::net::Listener::builder().backlog(4).bind("chan://doc-net-builder").await?;
    /// assert_eq!(listener.local_addr().to_string(), "chan://doc-net-builder");
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind(
        &self,
        addr: &str,
    ) -> impl Future<Output = Result<Listener, Error>> + Send + 'static {
        let parsed = addr.parse::<Addr>();
        let backlog = self.backlog;
        let faults = self.faults.clone();
        async move {
            if backlog == Some(0) {
                return Err(Error::InvalidInput("backlog of zero"));
            }
            let socket_backlog = backlog.unwrap_or(DEFAULT_SOCKET_BACKLOG);
            let os = |e: std::io::Error| Error::from_os(&e);
            let repr = match parsed?.0 {
                Repr::Chan(name) => {
                    let chan = chan::bind(name.as_str(), backlog, faults.as_ref())?;
                    // Its faults are the chan listener's own.
                    return Ok(Listener(ListenerRepr::Chan(chan), None));
                }
                Repr::Tcp(addr) => {
                    let addrs = tcp::resolve(&addr).await?;
                    let listener = tcp::bind_any(&addrs, socket_backlog)?;
                    let local = Addr::tcp(listener.local_addr().map_err(os)?);
                    ListenerRepr::Tcp(SocketListener::new(listener, local).map_err(os)?)
                }
                #[cfg(unix)]
                Repr::Unix(Some(path)) => {
                    ListenerRepr::Unix(super::unix::UnixListen::bind(&path, socket_backlog)?)
                }
                #[cfg(unix)]
                Repr::Unix(None) => return Err(Error::InvalidInput("unix:// address has no path")),
            };
            Ok(Listener(repr, faults))
        }
    }
}

impl Listener {
    /// Binds `addr` (`chan://NAME`, `tcp://HOST:PORT` or `unix:///PATH`) with the default
    /// options. The returned future is `'static` and `Send`; a host name is resolved when it
    /// is polled, and the first of its addresses that can be bound is.
    ///
    /// A Unix socket file left behind by a listener that no longer exists (a process that
    /// died without closing it), which refuses every dial, is replaced; a path where a
    /// listener is live, or that holds anything but a socket, fails with
    /// [`Error::AddrInUse`].
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] for a malformed address; [`Error::AddrInUse`] when the address
    /// is taken; [`Error::HostNotFound`]; [`Error::Os`] for other OS errors (a missing
    /// directory, no permission).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::Listener, Error};
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let taken = listener.local_addr().to_string();
    /// assert_eq!(Listener::bind(&taken).await.unwrap_err(), Error::AddrInUse);
    /// assert!(matches!(Listener::bind("tcp://127.0.0.1").await, Err(Error::InvalidInput(_))));
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn bind(addr: &str) -> impl Future<Output = Result<Listener, Error>> + Send + 'static {
        Listener::builder().bind(addr)
    }

    /// Options for binding a listener.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let _listener = chanstream::net::Listener::builder().backlog(64).bind("tcp://[::1]:0").await;
    /// # });
    /// ```
    pub fn builder() -> ListenerBuilder {
        ListenerBuilder::default()
    }

    /// Waits for the next connection and returns its accepting end.
    ///
    /// # Errors
    ///
    /// [`Error::AcceptTimeout`] once the accept deadline has passed; [`Error::ListenerClosed`]
    /// once the listener is closed; [`Error::Os`] for an OS error of the listening socket
    /// (running out of file descriptors, say), after which `accept` may be called again.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes loses no connection.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::net::{Conn, Listener};
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let (client, server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
    /// assert_eq!(server.peer_addr(), client.local_addr());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn accept(&self) -> Accept<'_> {
        let repr = match &self.0 {
            ListenerRepr::Chan(l) => AcceptRepr::Chan(l.accept()),
            ListenerRepr::Tcp(l) => AcceptRepr::Tcp(l),
            #[cfg(unix)]
            ListenerRepr::Unix(l) => AcceptRepr::Unix(&l.socket),
        };
        Accept(repr, self.1.as_ref())
    }

    /// The accepted connections, one `accept` after another. The stream ends once the listener
    /// is closed; an accept deadline that passes yields `Err(AcceptTimeout)` items, and an OS
    /// error of the listening socket an `Err` item, after which the stream goes on.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::net::{Conn, Listener};
    /// use futures::StreamExt;
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// let mut incoming = listener.incoming();
    /// let (client, server) = futures::join!(Conn::connect(&addr), incoming.next());
    /// assert_eq!(server.unwrap()?.peer_addr(), client?.local_addr());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming {
            listener: self,
            accept: None,
        }
    }

    /// The bound address; for `tcp://` with port 0, the port the OS picked.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let listener = chanstream::net::Listener::bind("tcp://127.0.0.1:0").await?;
    /// assert_ne!(listener.local_addr().socket_addr().unwrap().port(), 0);
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn local_addr(&self) -> Addr {
        match &self.0 {
            ListenerRepr::Chan(l) => l.local_addr().into(),
            ListenerRepr::Tcp(l) => l.local_addr().clone(),
            #[cfg(unix)]
            ListenerRepr::Unix(l) => l.socket.local_addr().clone(),
        }
    }

    /// Sets the accept deadline; `None` clears it. It applies to `accept`s already waiting,
    /// which re-check at once; once it has passed, every `accept` fails with
    /// [`Error::AcceptTimeout`] until it is cleared or moved later.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::Listener, Error};
    /// use std::time::{Duration, Instant};
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// listener.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
    /// assert_eq!(listener.accept().await.unwrap_err(), Error::AcceptTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        match &self.0 {
            ListenerRepr::Chan(l) => l.set_deadline(deadline),
            ListenerRepr::Tcp(l) => l.set_deadline(deadline),
            #[cfg(unix)]
            ListenerRepr::Unix(l) => l.socket.set_deadline(deadline),
        }
    }

    /// Closes the listener: releases its address at once (a Unix listener removes its socket
    /// file), refuses later dials and ends `accept`s with [`Error::ListenerClosed`].
    /// Idempotent; dropping the listener does the same.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{net::{Conn, Listener}, Error};
    ///
    /// let listener = Listener::bind("tcp://127.0.0.1:0").await?;
    /// let addr = listener.local_addr().to_string();
    /// listener.close();
    /// assert_eq!(listener.accept().await.unwrap_err(), Error::ListenerClosed);
    /// assert_eq!(Conn::connect(&addr).await.unwrap_err(), Error::ConnectionRefused);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) {
        match &self.0 {
            ListenerRepr::Chan(l) => l.close(),
            ListenerRepr::Tcp(l) => {
                l.close();
            }
            #[cfg(unix)]
            ListenerRepr::Unix(l) => l.close(),
        }
    }
}

impl From<crate::Listener> for Listener {
    /// The same listener through the transport-independent layer: how a listener of an
    /// isolated [`Network`](crate::Network), or with options of its own, is used with it.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = chanstream::net::Listener::from(net.listener().buffer_size(4096).bind("svc")?);
    /// let (client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// assert_eq!(server.peer_addr(), chanstream::net::Addr::from(client.local_addr()));
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    fn from(listener: crate::Listener) -> Listener {
        Listener(ListenerRepr::Chan(listener), None)
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            ListenerRepr::Chan(l) => l.fmt(f),
            ListenerRepr::Tcp(l) => l.fmt(f),
            #[cfg(unix)]
            ListenerRepr::Unix(l) => l.socket.fmt(f),
        }
    }
}

/// The future returned by [`Listener::accept`].
///
/// # Cancel safety
///
/// Dropping it loses no connection: one it had not returned stays for the next `accept`.
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Accept<'a>(AcceptRepr<'a>, Option<&'a Faults>);

/// A socket accept keeps no state between polls: each poll tries the socket.
enum AcceptRepr<'a> {
    Chan(crate::Accept<'a>),
    Tcp(&'a SocketListener<std::net::TcpListener>),
    #[cfg(unix)]
    Unix(&'a SocketListener<std::os::unix::net::UnixListener>),
}

impl Future for Accept<'_> {
    type Output = Result<Conn, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let socket = match &mut self.0 {
            AcceptRepr::Chan(accept) => return Pin::new(accept).poll(cx).map_ok(Conn::from),
            AcceptRepr::Tcp(l) => {
                futures::ready!(l.poll_accept(cx)).map(|s| Conn(ConnRepr::Tcp(s)))
            }
            #[cfg(unix)]
            AcceptRepr::Unix(l) => {
                futures::ready!(l.poll_accept(cx)).map(|s| Conn(ConnRepr::Unix(s)))
            }
        };
        Poll::Ready(match (socket, self.1) {
            (Ok(conn), Some(faults)) => super::faulty::wrap(conn, faults, End::Accepted),
            (socket, _) => socket,
        })
    }
}

impl fmt::Debug for Accept<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Accept { .. }")
    }
}

/// The stream returned by [`Listener::incoming`]; `Unpin`.
#[must_use = "streams do nothing unless polled"]
pub struct Incoming<'a> {
    listener: &'a Listener,
    accept: Option<Accept<'a>>,
}

impl futures::Stream for Incoming<'_> {
    type Item = Result<Conn, Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = &mut *self;
        let accept = this.accept.get_or_insert_with(|| this.listener.accept());
        let result = futures::ready!(Pin::new(accept).poll(cx));
        this.accept = None;
        Poll::Ready(match result {
            Err(Error::ListenerClosed) => None,
            other => Some(other),
        })
    }
}

impl fmt::Debug for Incoming<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Incoming")
            .field("listener", self.listener)
            .finish()
    }
}
