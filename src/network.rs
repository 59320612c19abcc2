//! Registries of names: the global one and isolated ones.

use crate::sync::{self, Arc, AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering, Weak};
use std::collections::HashMap;
use std::fmt;
use std::time::Duration;

use once_cell::sync::Lazy;

use crate::backlog::Backlog;
use crate::clock::Clock;
use crate::connect::Connect;
use crate::link::{Env, Link};
use crate::{Error, Faults, Listener, ListenerBuilder, DEFAULT_CONNECT_TIMEOUT};

/// A namespace of listener names. A name bound in one `Network` cannot be dialed from another.
///
/// [`Listener::bind`] and [`Conn::connect`](crate::Conn::connect) use [`Network::global`]. Tests
/// that run in parallel can each create their own `Network` so their names never collide.
/// Clones of a `Network` are handles to the same namespace; it lives as long as any handle,
/// listener or dial in progress refers to it.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::{Error, Network};
///
/// let a = Network::new();
/// let b = Network::new();
/// let _listener = a.bind("svc")?;
/// assert_eq!(b.connect("svc").await.unwrap_err(), Error::ConnectionRefused);
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Network {
    registry: Arc<Registry>,
}

struct Registry {
    names: Mutex<HashMap<Box<str>, Arc<Backlog>>>,
    /// Numbers the dialed ends, for their unique addresses.
    dials: AtomicU64,
    clock: Clock,
    /// The environment of its connections without faults: `None` on the wall clock.
    env: Option<Arc<Env>>,
    faults: Mutex<Option<Faults>>,
    /// Whether `faults` is set, read without its lock on every dial.
    has_faults: AtomicBool,
}

static GLOBAL: Lazy<Network> = Lazy::new(Network::new);

impl Network {
    /// A new, empty namespace.
    ///
    /// ```
    /// use chanstream::Network;
    /// let (a, b) = (Network::new(), Network::new());
    /// let _in_a = a.bind("svc")?;
    /// let _in_b = b.bind("svc")?; // no clash
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn new() -> Network {
        Network::with_clock(Clock::system())
    }

    /// A new, empty namespace whose deadlines, handshake timeouts, accept deadlines and fault
    /// delays run on `clock`: a [`ManualClock`](crate::ManualClock) a test advances, or tokio's
    /// clock ([`Clock::tokio`]).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, ManualClock, Network};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let net = Network::with_clock(clock.clone());
    /// let listener = net.bind("svc")?;
    /// listener.set_deadline(Some(clock.now() + Duration::from_secs(3600)));
    /// let accept = listener.accept();
    /// futures::pin_mut!(accept);
    /// assert!(futures::poll!(accept.as_mut()).is_pending());
    /// clock.advance(Duration::from_secs(3600));
    /// assert_eq!(accept.await.unwrap_err(), Error::AcceptTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn with_clock(clock: impl Into<Clock>) -> Network {
        let clock = clock.into();
        let env = (!clock.is_system()).then(|| {
            Arc::new(Env {
                clock: clock.clone(),
                faults: None,
            })
        });
        Network {
            registry: Arc::new(Registry {
                names: Mutex::new(HashMap::new()),
                dials: AtomicU64::new(0),
                clock,
                env,
                faults: Mutex::new(None),
                has_faults: AtomicBool::new(false),
            }),
        }
    }

    /// The clock this network runs on.
    ///
    /// ```
    /// let net = chanstream::Network::new();
    /// assert_eq!(net.clock(), chanstream::Clock::system());
    /// ```
    pub fn clock(&self) -> Clock {
        self.registry.clock.clone()
    }

    /// Applies `faults` to the connections dialed in this network from now on (`None`: no
    /// faults for later dials). Connections already made keep the faults they were made
    /// with; a listener with faults of its own ([`ListenerBuilder::faults`]) uses those
    /// instead. The global network takes faults too, but isolated networks keep tests apart.
    ///
    /// ```
    /// use chanstream::{Faults, Network};
    /// let net = Network::new();
    /// net.set_faults(Some(Faults::new(3)));
    /// assert_eq!(net.faults().map(|f| f.seed()), Some(3));
    /// ```
    pub fn set_faults(&self, faults: Option<Faults>) {
        let mut slot = sync::lock(&self.registry.faults);
        self.registry
            .has_faults
            .store(faults.is_some(), Ordering::Release);
        *slot = faults;
    }

    /// The faults set with [`set_faults`](Network::set_faults).
    pub fn faults(&self) -> Option<Faults> {
        if !self.registry.has_faults.load(Ordering::Acquire) {
            return None;
        }
        sync::lock(&self.registry.faults).clone()
    }

    /// The environment of a new connection `link` from `origin` to `listener`, under `faults`.
    pub(crate) fn env(
        &self,
        faults: Option<&Faults>,
        origin: Option<Box<str>>,
        listener: &str,
        link: &Weak<Link>,
    ) -> Option<Arc<Env>> {
        let Some(faults) = faults else {
            return self.registry.env.clone();
        };
        let clock = self.clock();
        Some(Arc::new(Env {
            faults: Some(faults.for_link(clock.clone(), origin, listener, link.clone())),
            clock,
        }))
    }

    /// The process-wide namespace used by [`Listener::bind`] and
    /// [`Conn::connect`](crate::Conn::connect).
    ///
    /// ```
    /// use chanstream::{Listener, Network};
    /// let listener = Listener::bind("doc-global")?;
    /// assert_eq!(listener.network(), Network::global());
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn global() -> &'static Network {
        &GLOBAL
    }

    /// Binds `name` in this network with the default options; see [`Listener::bind`].
    ///
    /// # Errors
    ///
    /// [`Error::AddrInUse`] if the name is taken here; [`Error::InvalidInput`] if it is empty.
    ///
    /// ```
    /// use chanstream::{Error, Network};
    /// let net = Network::new();
    /// let _listener = net.bind("svc")?;
    /// assert_eq!(net.bind("svc").unwrap_err(), Error::AddrInUse);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn bind(&self, name: &str) -> Result<Listener, Error> {
        self.listener().bind(name)
    }

    /// Options for binding a listener in this network.
    ///
    /// ```
    /// let net = chanstream::Network::new();
    /// let _listener = net.listener().backlog(128).buffer_size(1 << 20).bind("svc")?;
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn listener(&self) -> ListenerBuilder {
        Listener::builder().network(self)
    }

    /// Dials `name` in this network; see [`Conn::connect`](crate::Conn::connect).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// assert_eq!(server.peer_addr(), client.local_addr());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn connect(&self, name: &str) -> Connect {
        self.connect_timeout(name, DEFAULT_CONNECT_TIMEOUT)
    }

    /// Dials `name` in this network with a handshake timeout; see
    /// [`Conn::connect_timeout`](crate::Conn::connect_timeout).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Network};
    /// use std::time::Duration;
    /// let net = Network::new();
    /// let _listener = net.bind("svc")?; // never accepts
    /// let err = net.connect_timeout("svc", Duration::from_millis(10)).await.unwrap_err();
    /// assert_eq!(err, Error::ConnectTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn connect_timeout(&self, name: &str, timeout: Duration) -> Connect {
        Connect::new(self, name, timeout)
    }

    fn names(&self) -> MutexGuard<'_, HashMap<Box<str>, Arc<Backlog>>> {
        sync::lock(&self.registry.names)
    }

    pub(crate) fn register(&self, name: &str, backlog: Arc<Backlog>) -> Result<(), Error> {
        let mut names = self.names();
        if names.contains_key(name) {
            return Err(Error::AddrInUse);
        }
        names.insert(name.into(), backlog);
        Ok(())
    }

    /// Removes `name` if it is still bound to `backlog` (and not to a later listener).
    pub(crate) fn unregister(&self, name: &str, backlog: &Arc<Backlog>) {
        let mut names = self.names();
        if names.get(name).is_some_and(|b| Arc::ptr_eq(b, backlog)) {
            names.remove(name);
        }
    }

    pub(crate) fn lookup(&self, name: &str) -> Option<Arc<Backlog>> {
        self.names().get(name).cloned()
    }

    /// A fresh address for a dialed end: unique in this network.
    pub(crate) fn next_dial(&self) -> u64 {
        self.registry.dials.fetch_add(1, Ordering::Relaxed) + 1
    }
}

impl Default for Network {
    fn default() -> Network {
        Network::new()
    }
}

impl PartialEq for Network {
    fn eq(&self, other: &Network) -> bool {
        Arc::ptr_eq(&self.registry, &other.registry)
    }
}

impl Eq for Network {}

impl fmt::Debug for Network {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let global = Arc::ptr_eq(&self.registry, &GLOBAL.registry);
        f.debug_struct("Network")
            .field("global", &global)
            .field("listeners", &self.names().len())
            .field("clock", &self.registry.clock)
            .field("faults", &self.faults().map(|f| f.seed()))
            .finish()
    }
}
