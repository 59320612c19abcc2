//! The accepting side: a name bound in a [`Network`], with its backlog and accept deadline.

use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::accept::{Accept, AcceptGate, Incoming};
use crate::backlog::Backlog;
use crate::{Addr, Error, Faults, Network, DEFAULT_BACKLOG, DEFAULT_BUFFER_SIZE};

/// A name bound in a [`Network`], accepting the connections dialed to it.
///
/// # Lifecycle
///
/// [`bind`](Listener::bind) registers the name. Each [`Conn::connect`](crate::Conn::connect) to it queues a request in
/// the backlog (at most [`backlog`](ListenerBuilder::backlog) at a time; beyond that dials fail
/// at once with [`Error::ListenQueueFull`]) and waits; [`accept`](Listener::accept) takes the
/// oldest request still waiting and returns the accepting end, which completes the dial.
///
/// [`close`](Listener::close), or dropping the listener, unregisters the name at once (it can be
/// bound again immediately), fails the dials still waiting with [`Error::ConnectionRefused`],
/// and makes `accept` fail with [`Error::ListenerClosed`]. Connections already accepted are not
/// affected.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::{Conn, Listener};
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// let listener = Listener::bind("doc-listener")?;
/// let (mut client, mut server) = futures::try_join!(Conn::connect("doc-listener"), listener.accept())?;
/// client.write_all(b"ping").await?;
/// let mut buf = [0; 4];
/// server.read_exact(&mut buf).await?;
/// assert_eq!(&buf, b"ping");
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Listener {
    network: Network,
    backlog: Arc<Backlog>,
    gate: Arc<AcceptGate>,
}

/// Options for binding a [`Listener`]: its backlog and the buffer size of its connections.
///
/// ```
/// use chanstream::{Listener, Network};
///
/// let net = Network::new();
/// let listener = Listener::builder()
///     .network(&net)
///     .backlog(128)
///     .buffer_size(256 * 1024)
///     .bind("doc-builder")?;
/// # Ok::<(), chanstream::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct ListenerBuilder {
    network: Network,
    backlog: usize,
    buffer_size: usize,
    faults: Option<Faults>,
}

impl ListenerBuilder {
    /// Binds in `network` instead of [`Network::global`].
    ///
    /// ```
    /// use chanstream::{Listener, Network};
    /// let net = Network::new();
    /// let listener = Listener::builder().network(&net).bind("svc")?;
    /// assert_eq!(listener.network(), &net);
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn network(mut self, network: &Network) -> ListenerBuilder {
        self.network = network.clone();
        self
    }

    /// How many dials may wait for `accept` at once (default [`DEFAULT_BACKLOG`], 32). Must be
    /// at least 1, or `bind` fails with [`Error::InvalidInput`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Network};
    /// let net = Network::new();
    /// let _listener = net.listener().backlog(1).bind("svc")?;
    /// let waiting = net.connect("svc"); // takes the only slot once polled
    /// futures::pin_mut!(waiting);
    /// assert!(futures::poll!(waiting.as_mut()).is_pending());
    /// assert_eq!(net.connect("svc").await.unwrap_err(), Error::ListenQueueFull);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn backlog(mut self, backlog: usize) -> ListenerBuilder {
        self.backlog = backlog;
        self
    }

    /// How many bytes each direction of each connection to this listener buffers (default
    /// [`DEFAULT_BUFFER_SIZE`]). A writer facing a full buffer waits. Memory is allocated as
    /// bytes flow, not up front. Must be at least 1, or `bind` fails with
    /// [`Error::InvalidInput`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use futures::io::AsyncWriteExt;
    /// let net = chanstream::Network::new();
    /// let listener = net.listener().buffer_size(3).bind("svc")?;
    /// let (mut client, _server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// assert_eq!(client.write(b"hello").await?, 3); // a write takes what fits
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn buffer_size(mut self, bytes: usize) -> ListenerBuilder {
        self.buffer_size = bytes;
        self
    }

    /// Applies `faults` to the dials to this listener and the connections they make, instead
    /// of the network's ([`Network::set_faults`]).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, Network};
    /// let faults = Faults::new(9);
    /// faults.refuse_dials(1);
    /// let net = Network::new();
    /// let _flaky = net.listener().faults(&faults).bind("flaky")?;
    /// let steady = net.bind("steady")?;
    /// assert_eq!(net.connect("flaky").await.unwrap_err(), Error::ConnectionRefused);
    /// let (_c, _s) = futures::try_join!(net.connect("steady"), steady.accept())?;
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn faults(mut self, faults: &Faults) -> ListenerBuilder {
        self.faults = Some(faults.clone());
        self
    }

    /// Binds `name`.
    ///
    /// # Errors
    ///
    /// [`Error::AddrInUse`] if `name` is bound already in this network; [`Error::InvalidInput`]
    /// for an empty name or a zero backlog or buffer size.
    ///
    /// ```
    /// use chanstream::{Error, Network};
    /// let net = Network::new();
    /// assert!(matches!(net.listener().backlog(0).bind("svc"), Err(Error::InvalidInput(_))));
    /// let _listener = net.listener().backlog(64).bind("svc")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn bind(&self, name: &str) -> Result<Listener, Error> {
        if name.is_empty() {
            return Err(Error::InvalidInput("empty name"));
        }
        if self.backlog == 0 {
            return Err(Error::InvalidInput("backlog of zero"));
        }
        if self.buffer_size == 0 {
            return Err(Error::InvalidInput("buffer size of zero"));
        }
        let addr = Addr::new(name.into());
        let backlog = Backlog::new(addr, self.backlog, self.buffer_size, self.faults.clone());
        self.network.register(name, backlog.clone())?;
        Ok(Listener {
            network: self.network.clone(),
            backlog,
            gate: AcceptGate::new(self.network.clock()),
        })
    }
}

impl Listener {
    /// Binds `name` in the global [`Network`] with the default options.
    ///
    /// # Errors
    ///
    /// [`Error::AddrInUse`] if the name is taken; [`Error::InvalidInput`] if it is empty.
    ///
    /// ```
    /// use chanstream::{Error, Listener};
    ///
    /// let listener = Listener::bind("doc-bind")?;
    /// assert_eq!(Listener::bind("doc-bind").unwrap_err(), Error::AddrInUse);
    /// drop(listener);
    /// let _again = Listener::bind("doc-bind")?;
    /// # Ok::<(), Error>(())
    /// ```
    pub fn bind(name: &str) -> Result<Listener, Error> {
        Listener::builder().bind(name)
    }

    /// Options for binding a listener, in the global [`Network`] unless
    /// [`ListenerBuilder::network`] says otherwise.
    ///
    /// ```
    /// let listener = chanstream::Listener::builder().backlog(8).bind("doc-builder-fn")?;
    /// assert_eq!(listener.network(), chanstream::Network::global());
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn builder() -> ListenerBuilder {
        ListenerBuilder {
            network: Network::global().clone(),
            backlog: DEFAULT_BACKLOG,
            buffer_size: DEFAULT_BUFFER_SIZE,
            faults: None,
        }
    }

    /// Waits for the next dial and returns the accepting end of its connection.
    ///
    /// # Errors
    ///
    /// [`Error::AcceptTimeout`] once the accept deadline has passed (at once if it already has);
    /// [`Error::ListenerClosed`] once the listener is closed.
    ///
    /// # Cancel safety
    ///
    /// Dropping the future before it completes loses no connection: a dial it had not returned
    /// stays queued for the next `accept`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Conn, Listener};
    ///
    /// let listener = Listener::bind("doc-accept")?;
    /// let (client, server) = futures::try_join!(Conn::connect("doc-accept"), listener.accept())?;
    /// assert_eq!(server.peer_addr(), client.local_addr());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn accept(&self) -> Accept<'_> {
        Accept::new(&self.backlog, &self.gate)
    }

    /// The accepted connections, one `accept` after another. The stream ends once the listener
    /// is closed; an accept deadline that passes yields `Err(AcceptTimeout)` items.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Conn, Listener};
    /// use futures::StreamExt;
    ///
    /// let listener = Listener::bind("doc-incoming")?;
    /// let _client = futures::join!(Conn::connect("doc-incoming"), async {
    ///     let server = listener.incoming().next().await.unwrap()?;
    ///     assert_eq!(server.local_addr().as_str(), "doc-incoming");
    ///     Ok::<_, chanstream::Error>(())
    /// });
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn incoming(&self) -> Incoming<'_> {
        Incoming::new(self)
    }

    /// The network this listener is bound in.
    ///
    /// ```
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// assert_eq!(listener.network(), &net);
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn network(&self) -> &Network {
        &self.network
    }

    /// The name this listener is bound to.
    ///
    /// ```
    /// let listener = chanstream::Network::new().bind("db")?;
    /// assert_eq!(listener.local_addr().to_string(), "db");
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn local_addr(&self) -> Addr {
        self.backlog.addr().clone()
    }

    /// Sets the accept deadline; `None` clears it. Like a [`Conn`](crate::Conn)'s deadlines it applies to
    /// `accept`s already waiting, which re-check at once; once it has passed, every `accept`
    /// fails with [`Error::AcceptTimeout`] until it is cleared or moved later.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Listener};
    /// use std::time::{Duration, Instant};
    ///
    /// let listener = Listener::bind("doc-accept-deadline")?;
    /// listener.set_deadline(Some(Instant::now() + Duration::from_millis(10)));
    /// assert_eq!(listener.accept().await.unwrap_err(), Error::AcceptTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn set_deadline(&self, deadline: Option<Instant>) {
        self.gate.set_deadline(deadline);
    }

    /// Closes the listener: unregisters its name at once, refuses the dials waiting in its
    /// backlog, and ends `accept`s with [`Error::ListenerClosed`]. Idempotent; dropping the
    /// listener does the same.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Network};
    /// let net = Network::new();
    /// let listener = net.bind("svc")?;
    /// listener.close();
    /// assert_eq!(net.connect("svc").await.unwrap_err(), Error::ConnectionRefused);
    /// assert_eq!(listener.accept().await.unwrap_err(), Error::ListenerClosed);
    /// let _again = net.bind("svc")?; // the name is free at once
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn close(&self) {
        if self.backlog.close() {
            self.network
                .unregister(self.backlog.addr().as_str(), &self.backlog);
        }
    }
}

impl Drop for Listener {
    fn drop(&mut self) {
        self.close();
    }
}

impl fmt::Debug for Listener {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Listener")
            .field("network", &self.network)
            .field("backlog", &self.backlog)
            .finish()
    }
}
