//! Seeded misbehaviour for tests: short reads and writes, latency, bandwidth, stalls,
//! partitions, resets and dial faults, applied to the connections a `Network` or a listener
//! makes.

use crate::sync::{self, Arc, AtomicBool, AtomicU64, Mutex, MutexGuard, Ordering, Weak};
use std::collections::VecDeque;
use std::fmt;
use std::time::{Duration, Instant};

use crate::clock::Clock;
use crate::deadline::Timer;
use crate::end::End;
use crate::link::Link;

/// The environment variable that replays one seed: [`Faults::random`] takes its seed from it,
/// and [`Faults::for_each_seed`] runs only that seed when it is set.
pub const SEED_VAR: &str = "CHANSTREAM_FAULTS_SEED";

/// Seeded misbehaviour that a [`Network`](crate::Network) ([`Network::set_faults`]) or a
/// listener ([`ListenerBuilder::faults`]) applies to the connections it makes, so a test sees
/// what real networks do: writes split and bytes delayed, stalled and reset, dials refused.
///
/// [`Network::set_faults`]: crate::Network::set_faults
/// [`ListenerBuilder::faults`]: crate::ListenerBuilder::faults
///
/// # What it changes
///
/// Faults change timing and chunking only. No byte is lost, duplicated, reordered or
/// corrupted, unless a reset was asked for: then both ends fail with
/// [`Error::ConnectionReset`](crate::Error::ConnectionReset) and the bytes not yet read are
/// gone, as with TCP's RST.
///
/// | knob | effect |
/// |---|---|
/// | [`short_reads`](Faults::short_reads), [`short_writes`](Faults::short_writes) | with the given probability, a read (write) moves fewer bytes than it could: 1 at worst, never 0 |
/// | [`latency`](Faults::latency) | bytes written become readable only after a delay, plus a random jitter, per direction |
/// | [`bandwidth`](Faults::bandwidth) | bytes become readable no faster than a rate, per direction |
/// | [`stall`](Faults::stall) / [`release`](Faults::release) | bytes are held (writers fill the buffer, then wait) until released |
/// | [`partition`](Faults::partition) / [`heal`](Faults::heal) | connections between two names are stalled both ways and dials between them time out |
/// | [`reset_now`](Faults::reset_now), [`reset_after_bytes`](Faults::reset_after_bytes), [`reset_at`](Faults::reset_at) | connections are reset |
/// | [`refuse_dials`](Faults::refuse_dials), [`time_out_dials`](Faults::time_out_dials), [`delay_dials`](Faults::delay_dials), [`fill_backlog`](Faults::fill_backlog) | the next dials fail or wait |
///
/// Every knob can be changed while connections are open, and takes effect on them at once
/// (a stall released wakes the readers it held). Delays run on the network's
/// [`Clock`](crate::Clock), so on a [`ManualClock`](crate::ManualClock) they cost no real
/// time.
///
/// # Determinism
///
/// The random choices (which operations are shortened and by how much, the jitter) come from
/// a generator per direction of each connection, seeded from the seed, the connection's number
/// under this `Faults` (1, 2, ... in dial order) and the direction. The same seed and the same
/// sequence of operations therefore give the same faults. The seed and the connection's number
/// are in the [`Debug`] of a faulty [`Conn`](crate::Conn); [`Faults::for_each_seed`] names the
/// seed of a failing run and how to replay it ([`SEED_VAR`]).
///
/// A clone is a handle to the same faults, counters and connections.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::{Faults, Network};
/// use futures::io::{AsyncReadExt, AsyncWriteExt};
///
/// let faults = Faults::new(7);
/// faults.short_reads(1.0).short_writes(0.5);
/// let net = Network::new();
/// net.set_faults(Some(faults.clone()));
/// let listener = net.bind("svc")?;
/// let (mut client, mut server) = futures::try_join!(net.connect("svc"), listener.accept())?;
/// client.write_all(b"hello, world").await?; // several writes, each moving part of it
/// client.close().await?;
/// let mut got = Vec::new();
/// server.read_to_end(&mut got).await?;      // every byte, in order
/// assert_eq!(got, b"hello, world");
/// assert!(faults.stats().reads_shortened > 0);
/// assert!(format!("{client:?}").contains("seed: 7"));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct Faults {
    shared: Arc<Shared>,
}

/// Which direction of a connection a knob applies to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Toward {
    /// The bytes the dialed end writes, toward the listener's side.
    Listener,
    /// The bytes the accepted end writes, toward the dialer.
    Dialer,
    /// Both directions.
    Both,
}

impl Toward {
    /// The writers of the pipes this covers.
    fn writers(self) -> &'static [End] {
        match self {
            Toward::Listener => &[End::Dialed],
            Toward::Dialer => &[End::Accepted],
            Toward::Both => &[End::Dialed, End::Accepted],
        }
    }
}

/// What a [`Faults`] has done so far, for a test to assert on ([`Faults::stats`]).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct FaultStats {
    /// Connections made under these faults.
    pub connections: u64,
    /// Bytes written on them (both directions).
    pub bytes_written: u64,
    /// Bytes read on them (both directions).
    pub bytes_read: u64,
    /// Reads that moved fewer bytes than they could.
    pub reads_shortened: u64,
    /// Writes that moved fewer bytes than they could.
    pub writes_shortened: u64,
    /// Writes whose bytes were delayed (latency or bandwidth).
    pub writes_delayed: u64,
    /// Connections reset.
    pub resets: u64,
    /// Dials refused ([`Faults::refuse_dials`]).
    pub dials_refused: u64,
    /// Dials timed out ([`Faults::time_out_dials`] and partitions).
    pub dials_timed_out: u64,
    /// Dials delayed ([`Faults::delay_dials`]).
    pub dials_delayed: u64,
    /// Dials that found the backlog full ([`Faults::fill_backlog`]).
    pub dials_backlog_full: u64,
}

struct Shared {
    seed: u64,
    config: Mutex<Config>,
    counters: Counters,
    /// The connections made under these faults, to apply changes to.
    links: Mutex<Vec<Weak<Link>>>,
    /// Numbers the connections, in dial order.
    conns: AtomicU64,
}

#[derive(Default)]
struct Counters {
    bytes_written: AtomicU64,
    bytes_read: AtomicU64,
    reads_shortened: AtomicU64,
    writes_shortened: AtomicU64,
    writes_delayed: AtomicU64,
    resets: AtomicU64,
    dials_refused: AtomicU64,
    dials_timed_out: AtomicU64,
    dials_delayed: AtomicU64,
    dials_backlog_full: AtomicU64,
}

#[derive(Debug, Clone, Default)]
struct Config {
    short_reads: f64,
    short_writes: f64,
    /// By writer ([`End`] index): base latency and jitter.
    latency: [(Duration, Duration); 2],
    /// By writer: bytes per second.
    bandwidth: [Option<u64>; 2],
    /// By writer.
    stalled: [bool; 2],
    partitions: Vec<(Box<str>, Box<str>)>,
    reset_after_bytes: Option<u64>,
    reset_at: Option<Instant>,
    refuse: u64,
    time_out: u64,
    delay: (u64, Duration),
    fill_backlog: bool,
}

impl Config {
    fn partitioned(&self, a: Option<&str>, b: &str) -> bool {
        let Some(a) = a else { return false };
        self.partitions
            .iter()
            .any(|(x, y)| (&**x == a && &**y == b) || (&**x == b && &**y == a))
    }
}

/// What the next dial does, by the dial faults.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DialFault {
    /// Fails at once with `ConnectionRefused`.
    Refuse,
    /// Waits out its timeout, then fails with `ConnectTimeout`.
    TimeOut,
    /// Waits this long, then proceeds.
    Delay(Duration),
    /// Fails at once with `ListenQueueFull`.
    BacklogFull,
}

impl Faults {
    /// Faults with this seed, and every knob off: connections made under it behave as without
    /// faults until a knob is set.
    ///
    /// ```
    /// let faults = chanstream::Faults::new(42);
    /// assert_eq!(faults.seed(), 42);
    /// ```
    pub fn new(seed: u64) -> Faults {
        Faults {
            shared: Arc::new(Shared {
                seed,
                config: Mutex::new(Config::default()),
                counters: Counters::default(),
                links: Mutex::new(Vec::new()),
                conns: AtomicU64::new(0),
            }),
        }
    }

    /// Faults with the seed in the environment variable [`SEED_VAR`]
    /// (`CHANSTREAM_FAULTS_SEED`) if it holds a number, otherwise a seed of its own (from the
    /// time and a counter). Print [`seed`](Faults::seed) where a test fails, and set the
    /// variable to replay it.
    ///
    /// ```
    /// let faults = chanstream::Faults::random();
    /// println!("fault seed {}", faults.seed());
    /// ```
    pub fn random() -> Faults {
        Faults::new(seed_from_env().unwrap_or_else(fresh_seed))
    }

    /// Runs `test` once for each seed, with a new `Faults` of that seed, and stops at the first
    /// failure: an `Err` or a panic, reported with its seed and the setting that replays it.
    /// When the environment variable [`SEED_VAR`] holds a number, only that seed runs.
    ///
    /// # Errors
    ///
    /// A [`SeedFailure`] naming the seed and what failed.
    ///
    /// ```
    /// use chanstream::{Faults, Network};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// Faults::for_each_seed(0..20, |faults| {
    ///     faults.short_reads(0.5).short_writes(0.5);
    ///     futures::executor::block_on(async {
    ///         let net = Network::new();
    ///         net.set_faults(Some(faults));
    ///         let listener = net.bind("svc")?;
    ///         let (mut c, mut s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    ///         c.write_all(b"0123456789").await?;
    ///         let mut buf = [0; 10];
    ///         s.read_exact(&mut buf).await?; // a single `read` could return less
    ///         assert_eq!(&buf, b"0123456789");
    ///         Ok::<(), Box<dyn std::error::Error>>(())
    ///     })
    /// })?;
    /// # Ok::<(), chanstream::SeedFailure>(())
    /// ```
    pub fn for_each_seed<E: fmt::Display>(
        seeds: impl IntoIterator<Item = u64>,
        mut test: impl FnMut(Faults) -> Result<(), E>,
    ) -> Result<(), SeedFailure> {
        let mut run = |seed: u64| {
            let faults = Faults::new(seed);
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| test(faults))) {
                Ok(Ok(())) => Ok(()),
                Ok(Err(e)) => Err(SeedFailure {
                    seed,
                    what: e.to_string(),
                }),
                Err(panic) => Err(SeedFailure {
                    seed,
                    what: panic_message(&*panic),
                }),
            }
        };
        match seed_from_env() {
            Some(seed) => run(seed),
            None => seeds.into_iter().try_for_each(run),
        }
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.shared.seed
    }

    /// With probability `p` (0 to 1; values outside are clamped, NaN is 0), a read moves fewer
    /// bytes than it could: between 1 and one less than the bytes it could move. A read that
    /// could move one byte moves it.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// let faults = chanstream::Faults::new(1);
    /// faults.short_reads(1.0);
    /// let net = chanstream::Network::new();
    /// net.set_faults(Some(faults));
    /// let listener = net.bind("svc")?;
    /// let (mut c, mut s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// c.write_all(b"frame").await?;
    /// let mut buf = [0; 5];
    /// let n = s.read(&mut buf).await?;
    /// assert!(n >= 1 && n < 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn short_reads(&self, p: f64) -> &Faults {
        self.update(|c| c.short_reads = probability(p))
    }

    /// With probability `p` (as for [`short_reads`](Faults::short_reads)), a write moves fewer
    /// bytes than it could: between 1 and one less. `write_all` loops, so it still writes
    /// everything; code that assumes one `write` takes the whole buffer breaks. Chunks handed
    /// over whole ([`Conn::write_owned`](crate::Conn::write_owned)) are never split.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use futures::io::AsyncWriteExt;
    /// let faults = chanstream::Faults::new(1);
    /// faults.short_writes(1.0);
    /// let net = chanstream::Network::new();
    /// net.set_faults(Some(faults));
    /// let listener = net.bind("svc")?;
    /// let (mut c, _s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// let n = c.write(b"frame").await?;
    /// assert!(n >= 1 && n < 5);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn short_writes(&self, p: f64) -> &Faults {
        self.update(|c| c.short_writes = probability(p))
    }

    /// Bytes written toward `toward` become readable `base` after they were written, plus a
    /// random jitter in `0..jitter`; bytes stay in order (a byte is never readable before one
    /// written earlier). Zero and zero turn it off.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Faults, ManualClock, Network, Toward};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let faults = Faults::new(1);
    /// faults.latency(Toward::Listener, Duration::from_millis(50), Duration::ZERO);
    /// let net = Network::with_clock(clock.clock());
    /// net.set_faults(Some(faults));
    /// let listener = net.bind("svc")?;
    /// let (mut c, mut s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// c.write_all(b"ping").await?;
    /// let mut buf = [0; 4];
    /// let read = s.read_exact(&mut buf);
    /// futures::pin_mut!(read);
    /// assert!(futures::poll!(read.as_mut()).is_pending()); // in flight
    /// clock.advance(Duration::from_millis(50));
    /// read.await?;
    /// assert_eq!(&buf, b"ping");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn latency(&self, toward: Toward, base: Duration, jitter: Duration) -> &Faults {
        self.update(|c| {
            for w in toward.writers() {
                c.latency[w.index()] = (base, jitter);
            }
        })
    }

    /// Bytes written toward `toward` become readable no faster than `bytes_per_second`
    /// (`None` removes the cap; `Some(0)` lets nothing through, as a stall).
    ///
    /// ```
    /// use chanstream::{Faults, Toward};
    /// let faults = Faults::new(1);
    /// faults.bandwidth(Toward::Both, Some(1_000_000)); // 1 MB/s each way
    /// ```
    pub fn bandwidth(&self, toward: Toward, bytes_per_second: Option<u64>) -> &Faults {
        self.update(|c| {
            for w in toward.writers() {
                c.bandwidth[w.index()] = bytes_per_second;
            }
        })
    }

    /// Holds the bytes written toward `toward`, on every connection, until
    /// [`release`](Faults::release): readers wait (deadlines still apply) and writers fill the
    /// buffer, then wait.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Faults, Network, Toward};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let faults = Faults::new(1);
    /// let net = Network::new();
    /// net.set_faults(Some(faults.clone()));
    /// let listener = net.bind("svc")?;
    /// let (mut c, mut s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// faults.stall(Toward::Listener);
    /// c.write_all(b"held").await?;
    /// let mut buf = [0; 4];
    /// let read = s.read_exact(&mut buf);
    /// futures::pin_mut!(read);
    /// assert!(futures::poll!(read.as_mut()).is_pending());
    /// faults.release(Toward::Listener); // wakes the reader
    /// read.await?;
    /// assert_eq!(&buf, b"held");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn stall(&self, toward: Toward) -> &Faults {
        self.set_stall(toward, true)
    }

    /// Ends a [`stall`](Faults::stall): the held bytes become readable (subject to latency
    /// and bandwidth) and the waiting readers are woken. See [`stall`](Faults::stall) for an
    /// example.
    pub fn release(&self, toward: Toward) -> &Faults {
        self.set_stall(toward, false)
    }

    fn set_stall(&self, toward: Toward, stalled: bool) -> &Faults {
        self.update(|c| {
            for w in toward.writers() {
                c.stalled[w.index()] = stalled;
            }
        })
    }

    /// Cuts `a` off from `b`, until [`heal`](Faults::heal): a dial between them (a dial from
    /// `a`, named with [`Connect::origin`](crate::Connect::origin), to the listener `b`, or the
    /// other way round) waits out its timeout and fails with `ConnectTimeout`, and their
    /// connections hold their bytes both ways, as a network that drops every packet. Names
    /// are listener names; a dial without an origin is never partitioned.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, Network};
    /// use std::time::Duration;
    ///
    /// let faults = Faults::new(1);
    /// let net = Network::new();
    /// net.set_faults(Some(faults.clone()));
    /// let _b = net.bind("b")?;
    /// faults.partition("a", "b");
    /// let dial = net.connect_timeout("b", Duration::from_millis(20)).origin("a");
    /// assert_eq!(dial.await.unwrap_err(), Error::ConnectTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn partition(&self, a: &str, b: &str) -> &Faults {
        self.update(|c| c.partitions.push((a.into(), b.into())))
    }

    /// Ends every [`partition`](Faults::partition): held bytes flow again, and dials between
    /// the names reach their listener.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Faults, Network};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let faults = Faults::new(1);
    /// let net = Network::new();
    /// net.set_faults(Some(faults.clone()));
    /// let b = net.bind("b")?;
    /// let (mut a, mut at_b) = futures::try_join!(net.connect("b").origin("a"), b.accept())?;
    /// faults.partition("a", "b");
    /// a.write_all(b"queued").await?; // held by the partition
    /// faults.heal();
    /// let mut buf = [0; 6];
    /// at_b.read_exact(&mut buf).await?;
    /// assert_eq!(&buf, b"queued");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn heal(&self) -> &Faults {
        self.update(|c| c.partitions.clear())
    }

    /// Resets every open connection made under these faults: both ends fail their reads and
    /// writes from now on with [`Error::ConnectionReset`](crate::Error::ConnectionReset), and
    /// bytes not yet read are discarded. Connections made later are not affected.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, Network};
    /// use futures::io::{AsyncReadExt, AsyncWriteExt};
    ///
    /// let faults = Faults::new(1);
    /// let net = Network::new();
    /// net.set_faults(Some(faults.clone()));
    /// let listener = net.bind("svc")?;
    /// let (mut c, mut s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// c.write_all(b"lost").await?;
    /// faults.reset_now();
    /// let err = s.read(&mut [0; 4]).await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ConnectionReset));
    /// let err = c.write(b"x").await.unwrap_err();
    /// assert_eq!(err.kind(), std::io::ErrorKind::ConnectionReset);
    /// assert_eq!(faults.stats().resets, 1);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reset_now(&self) -> &Faults {
        for fx in self.links().iter().filter_map(|l| l.faults()) {
            fx.reset();
        }
        self
    }

    /// Resets each connection once `n` bytes have been written on it, both directions
    /// counted: the write that reaches `n` moves only the bytes up to it, and the connection
    /// is then reset. `None` turns it off.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, Network};
    /// use futures::io::AsyncWriteExt;
    ///
    /// let faults = Faults::new(1);
    /// faults.reset_after_bytes(Some(3));
    /// let net = Network::new();
    /// net.set_faults(Some(faults));
    /// let listener = net.bind("svc")?;
    /// let (mut c, _s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// assert_eq!(c.write(b"hello").await?, 3);
    /// let err = c.write(b"lo").await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ConnectionReset));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reset_after_bytes(&self, n: Option<u64>) -> &Faults {
        self.configure(|c| c.reset_after_bytes = n)
    }

    /// Resets each connection when `at` passes on its network's clock (a connection made
    /// later is reset at once). `None` turns it off.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, ManualClock, Network};
    /// use futures::io::AsyncReadExt;
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let faults = Faults::new(1);
    /// faults.reset_at(Some(clock.now() + Duration::from_secs(60)));
    /// let net = Network::with_clock(clock.clock());
    /// net.set_faults(Some(faults));
    /// let listener = net.bind("svc")?;
    /// let (mut c, _s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// let mut buf = [0; 1];
    /// let read = c.read(&mut buf);
    /// futures::pin_mut!(read);
    /// assert!(futures::poll!(read.as_mut()).is_pending());
    /// clock.advance(Duration::from_secs(60));
    /// let err = read.await.unwrap_err();
    /// assert_eq!(Error::from_io(&err), Some(Error::ConnectionReset));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub fn reset_at(&self, at: Option<Instant>) -> &Faults {
        self.configure(|c| c.reset_at = at);
        for fx in self.links().iter().filter_map(|l| l.faults()) {
            fx.arm_reset(at);
        }
        self
    }

    /// The next `n` dials fail at once with
    /// [`Error::ConnectionRefused`](crate::Error::ConnectionRefused) (added to any still
    /// pending).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, Network};
    /// let faults = Faults::new(1);
    /// faults.refuse_dials(1);
    /// let net = Network::new();
    /// net.set_faults(Some(faults.clone()));
    /// let listener = net.bind("svc")?;
    /// assert_eq!(net.connect("svc").await.unwrap_err(), Error::ConnectionRefused);
    /// let (_c, _s) = futures::try_join!(net.connect("svc"), listener.accept())?; // the next one works
    /// assert_eq!(faults.stats().dials_refused, 1);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn refuse_dials(&self, n: u64) -> &Faults {
        self.configure(|c| c.refuse = c.refuse.saturating_add(n))
    }

    /// The next `n` dials wait out their handshake timeout and fail with
    /// [`Error::ConnectTimeout`](crate::Error::ConnectTimeout), as a dial into a network that
    /// drops it; no listener sees them.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, ManualClock, Network};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let faults = Faults::new(1);
    /// faults.time_out_dials(1);
    /// let net = Network::with_clock(clock.clone());
    /// net.set_faults(Some(faults));
    /// let _listener = net.bind("svc")?;
    /// let dial = net.connect_timeout("svc", Duration::from_secs(10));
    /// futures::pin_mut!(dial);
    /// assert!(futures::poll!(dial.as_mut()).is_pending());
    /// clock.advance(Duration::from_secs(10));
    /// assert_eq!(dial.await.unwrap_err(), Error::ConnectTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn time_out_dials(&self, n: u64) -> &Faults {
        self.configure(|c| c.time_out = c.time_out.saturating_add(n))
    }

    /// The next `n` dials wait `by` before they reach the listener; the wait counts against
    /// their handshake timeout (one that is shorter fails with `ConnectTimeout`).
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Faults, ManualClock, Network};
    /// use std::time::Duration;
    ///
    /// let clock = ManualClock::new();
    /// let faults = Faults::new(1);
    /// faults.delay_dials(1, Duration::from_millis(300));
    /// let net = Network::with_clock(clock.clone());
    /// net.set_faults(Some(faults));
    /// let listener = net.bind("svc")?;
    /// let dial = net.connect("svc");
    /// let accept = listener.accept();
    /// futures::pin_mut!(dial, accept);
    /// assert!(futures::poll!(dial.as_mut()).is_pending());
    /// assert!(futures::poll!(accept.as_mut()).is_pending()); // not there yet
    /// clock.advance(Duration::from_millis(300));
    /// let (_client, _server) = futures::try_join!(dial, accept)?;
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn delay_dials(&self, n: u64, by: Duration) -> &Faults {
        self.configure(|c| c.delay = (n, by))
    }

    /// While `full`, every dial fails at once with
    /// [`Error::ListenQueueFull`](crate::Error::ListenQueueFull), as on a listener whose
    /// backlog is full.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, Network};
    /// let faults = Faults::new(1);
    /// let net = Network::new();
    /// net.set_faults(Some(faults.clone()));
    /// let listener = net.bind("svc")?;
    /// faults.fill_backlog(true);
    /// let err = net.connect("svc").await.unwrap_err();
    /// assert!(err == Error::ListenQueueFull && err.is_temporary());
    /// faults.fill_backlog(false);
    /// let (_c, _s) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn fill_backlog(&self, full: bool) -> &Faults {
        self.configure(|c| c.fill_backlog = full)
    }

    /// What these faults have done so far.
    pub fn stats(&self) -> FaultStats {
        let c = &self.shared.counters;
        let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
        FaultStats {
            connections: self.shared.conns.load(Ordering::Relaxed),
            bytes_written: get(&c.bytes_written),
            bytes_read: get(&c.bytes_read),
            reads_shortened: get(&c.reads_shortened),
            writes_shortened: get(&c.writes_shortened),
            writes_delayed: get(&c.writes_delayed),
            resets: get(&c.resets),
            dials_refused: get(&c.dials_refused),
            dials_timed_out: get(&c.dials_timed_out),
            dials_delayed: get(&c.dials_delayed),
            dials_backlog_full: get(&c.dials_backlog_full),
        }
    }

    fn config(&self) -> MutexGuard<'_, Config> {
        self.shared.config()
    }

    /// Changes a setting that no waiting operation depends on (dial faults, resets, which
    /// arm or act on their own).
    fn configure(&self, change: impl FnOnce(&mut Config)) -> &Faults {
        change(&mut self.config());
        self
    }

    /// Changes a setting waiting reads may depend on, then wakes every waiting operation of
    /// every connection, which re-checks under the new settings.
    fn update(&self, change: impl FnOnce(&mut Config)) -> &Faults {
        self.configure(change);
        for link in self.links() {
            link.pipe(End::Dialed).wake_waiters();
            link.pipe(End::Accepted).wake_waiters();
        }
        self
    }

    /// The live connections made under these faults.
    fn links(&self) -> Vec<Arc<Link>> {
        let links = sync::lock(&self.shared.links);
        links.iter().filter_map(Weak::upgrade).collect()
    }

    /// Consumes a dial fault for a dial from `origin` to `listener`, if one applies.
    pub(crate) fn dial_fault(&self, origin: Option<&str>, listener: &str) -> Option<DialFault> {
        let mut c = self.config();
        let counters = &self.shared.counters;
        let fault = if c.refuse > 0 {
            c.refuse -= 1;
            counters.dials_refused.fetch_add(1, Ordering::Relaxed);
            DialFault::Refuse
        } else if c.time_out > 0 || c.partitioned(origin, listener) {
            c.time_out = c.time_out.saturating_sub(1);
            counters.dials_timed_out.fetch_add(1, Ordering::Relaxed);
            DialFault::TimeOut
        } else if c.fill_backlog {
            counters.dials_backlog_full.fetch_add(1, Ordering::Relaxed);
            DialFault::BacklogFull
        } else if c.delay.0 > 0 {
            c.delay.0 -= 1;
            counters.dials_delayed.fetch_add(1, Ordering::Relaxed);
            DialFault::Delay(c.delay.1)
        } else {
            return None;
        };
        Some(fault)
    }

    /// The fault state of a new connection from `origin` to `listener`, part of `link`.
    pub(crate) fn for_link(
        &self,
        clock: Clock,
        origin: Option<Box<str>>,
        listener: &str,
        link: Weak<Link>,
    ) -> LinkFaults {
        let conn = self.shared.conns.fetch_add(1, Ordering::Relaxed) + 1;
        let pipe = |end: End| {
            Mutex::new(PipeFaults {
                rng: Rng::new(self.shared.seed, conn, end),
                written: 0,
                read: 0,
                ready_end: 0,
                segments: VecDeque::new(),
                tx_free: None,
            })
        };
        LinkFaults {
            faults: self.clone(),
            clock,
            conn,
            origin,
            listener: listener.into(),
            pipes: [pipe(End::Dialed), pipe(End::Accepted)],
            timers: [Timer::new(), Timer::new()],
            reset_timer: Timer::new(),
            written: AtomicU64::new(0),
            reset: AtomicBool::new(false),
            link,
            on_gone: Mutex::new(None),
        }
    }
}

impl Shared {
    fn config(&self) -> MutexGuard<'_, Config> {
        sync::lock(&self.config)
    }
}

impl fmt::Debug for Faults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Faults")
            .field("seed", &self.shared.seed)
            .field("config", &*self.config())
            .field("stats", &self.stats())
            .finish()
    }
}

/// A run of [`Faults::for_each_seed`] that failed: its seed, and what failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SeedFailure {
    /// The seed of the failing run.
    pub seed: u64,
    /// The error, or the panic message, of the failing run.
    pub what: String,
}

impl fmt::Display for SeedFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "failed with fault seed {seed} (replay with {SEED_VAR}={seed}): {}",
            self.what,
            seed = self.seed
        )
    }
}

impl std::error::Error for SeedFailure {}

fn panic_message(panic: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = panic.downcast_ref::<&str>() {
        format!("panicked: {s}")
    } else if let Some(s) = panic.downcast_ref::<String>() {
        format!("panicked: {s}")
    } else {
        "panicked".to_owned()
    }
}

fn seed_from_env() -> Option<u64> {
    std::env::var(SEED_VAR).ok()?.trim().parse().ok()
}

fn fresh_seed() -> u64 {
    // A seed counter, not a protocol: the standard library's atomic even under loom.
    static COUNTER: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64);
    splitmix(nanos ^ COUNTER.fetch_add(1, Ordering::Relaxed).rotate_left(32))
}

/// `t + d`, or, where that is beyond what `Instant` holds, as late as a century allows: bytes
/// delayed that long are held for good, and setting an absurd latency is not a panic.
fn later(t: Instant, d: Duration) -> Instant {
    const CENTURY: Duration = Duration::from_secs(100 * 365 * 24 * 3600);
    t.checked_add(d)
        .or_else(|| t.checked_add(CENTURY))
        .unwrap_or(t)
}

fn probability(p: f64) -> f64 {
    if p.is_nan() {
        0.0
    } else {
        p.clamp(0.0, 1.0)
    }
}

fn splitmix(mut x: u64) -> u64 {
    x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    x ^ (x >> 31)
}

/// A small deterministic generator (xorshift64*), one per direction of a faulty connection.
#[derive(Debug)]
struct Rng(u64);

impl Rng {
    fn new(seed: u64, conn: u64, writer: End) -> Rng {
        let s = splitmix(splitmix(seed) ^ splitmix(conn.wrapping_mul(2) + writer.index() as u64));
        Rng(s | 1)
    }

    fn next(&mut self) -> u64 {
        let mut x = self.0;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.0 = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// `true` with probability `p`.
    fn chance(&mut self, p: f64) -> bool {
        p > 0.0 && ((self.next() >> 11) as f64 / (1u64 << 53) as f64) < p
    }

    /// A number in `0..n` (`n > 0`).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
}

/// The faults of one connection: part of its [`Link`](crate::link::Link).
pub(crate) struct LinkFaults {
    faults: Faults,
    clock: Clock,
    /// Its number under `faults`.
    conn: u64,
    /// The dialer's name, for partitions.
    origin: Option<Box<str>>,
    listener: Box<str>,
    /// By writer: the state of that direction.
    pipes: [Mutex<PipeFaults>; 2],
    /// By writer: wakes the readers when delayed bytes become readable.
    timers: [Timer; 2],
    reset_timer: Timer,
    /// Bytes written, both directions.
    written: AtomicU64,
    reset: AtomicBool,
    link: Weak<Link>,
    /// Run once when the last handle of the given end is gone (a relay stops).
    on_gone: Mutex<Option<(End, OnGone)>>,
}

/// What [`LinkFaults::on_gone`] runs.
pub(crate) type OnGone = Box<dyn FnOnce() + Send>;

/// The faults of one direction of a connection, under its own lock (taken under the pipe's).
#[derive(Debug)]
struct PipeFaults {
    rng: Rng,
    /// Bytes written into this direction, and read out of it, so far.
    written: u64,
    read: u64,
    /// The stream offset up to which bytes are readable (when `segments` is empty, all
    /// written bytes are).
    ready_end: u64,
    /// Delayed bytes: the stream offset each write ended at, and when it becomes readable;
    /// in order of both.
    segments: VecDeque<(u64, Instant)>,
    /// When the bytes written so far have passed the bandwidth cap.
    tx_free: Option<Instant>,
}

/// What a read may take now.
pub(crate) enum Readable {
    /// This many bytes (at least 1).
    Now(usize),
    /// Nothing until this instant.
    At(Instant),
    /// Nothing until a knob changes (stall, partition, zero bandwidth).
    Held,
}

impl LinkFaults {
    fn pipe(&self, writer: End) -> MutexGuard<'_, PipeFaults> {
        sync::lock(&self.pipes[writer.index()])
    }

    /// Registers the new connection with its faults (so that later changes reach it) and arms
    /// its reset timer; called once the connection exists.
    pub(crate) fn start(&self) {
        {
            let mut links = sync::lock(&self.faults.shared.links);
            if links.len() >= 64 && links.len().is_power_of_two() {
                links.retain(|l| l.strong_count() > 0);
            }
            links.push(self.link.clone());
        }
        let at = self.faults.config().reset_at;
        self.arm_reset(at);
    }

    fn arm_reset(&self, at: Option<Instant>) {
        let Some(at) = at else {
            self.reset_timer.disarm();
            return;
        };
        let link = self.link.clone();
        self.reset_timer.arm(&self.clock, at, move || {
            Box::new(move || {
                let Some(link) = link.upgrade() else { return };
                let Some(fx) = link.faults() else { return };
                let due = fx.faults.config().reset_at;
                if due.is_some_and(|at| fx.clock.now() >= at) {
                    fx.reset();
                }
            })
        });
    }

    /// Runs `hook` once the last handle of `end` is gone.
    #[cfg(feature = "net")]
    pub(crate) fn when_gone(&self, end: End, hook: OnGone) {
        *sync::lock(&self.on_gone) = Some((end, hook));
    }

    /// Drops the hook set by [`when_gone`](LinkFaults::when_gone) without running it.
    #[cfg(feature = "net")]
    pub(crate) fn forget_gone(&self) {
        let hook = sync::lock(&self.on_gone).take();
        drop(hook);
    }

    /// The last handle of `end` is gone.
    pub(crate) fn end_gone(&self, end: End) {
        let mut slot = sync::lock(&self.on_gone);
        if slot.as_ref().is_some_and(|(e, _)| *e == end) {
            let (_, hook) = slot.take().expect("checked");
            drop(slot);
            hook();
        }
    }

    /// Whether the connection has been reset.
    pub(crate) fn is_reset(&self) -> bool {
        self.reset.load(Ordering::Acquire)
    }

    /// Resets the connection (once): both directions discard their bytes and wake everyone.
    pub(crate) fn reset(&self) {
        if self.reset.swap(true, Ordering::AcqRel) {
            return;
        }
        self.faults
            .shared
            .counters
            .resets
            .fetch_add(1, Ordering::Relaxed);
        if let Some(link) = self.link.upgrade() {
            link.pipe(End::Dialed).discard();
            link.pipe(End::Accepted).discard();
        }
    }

    /// How much of the `buffered` bytes of the direction `writer` writes a read that wants
    /// `want` may take now.
    #[cold]
    pub(crate) fn readable(&self, writer: End, buffered: usize, want: usize) -> Readable {
        let w = writer.index();
        let (p, held) = {
            let c = self.faults.config();
            let held = c.stalled[w]
                || c.bandwidth[w] == Some(0)
                || c.partitioned(self.origin.as_deref(), &self.listener);
            (c.short_reads, held)
        };
        if held {
            return Readable::Held;
        }
        let mut pf = self.pipe(writer);
        if !pf.segments.is_empty() {
            let now = self.clock.now();
            while let Some(&(end, at)) = pf.segments.front() {
                if at > now {
                    break;
                }
                pf.ready_end = end;
                pf.segments.pop_front();
            }
        }
        let ready = if pf.segments.is_empty() {
            buffered
        } else {
            (pf.ready_end.saturating_sub(pf.read) as usize).min(buffered)
        };
        if ready == 0 {
            return match pf.segments.front() {
                Some(&(_, at)) => Readable::At(at),
                None => Readable::Held,
            };
        }
        let mut n = ready.min(want);
        if n >= 2 && pf.rng.chance(p) {
            n = 1 + pf.rng.below(n as u64 - 1) as usize;
            self.count(|c| &c.reads_shortened, 1);
        }
        Readable::Now(n)
    }

    /// Counts `n` bytes read from the direction `writer` writes.
    #[cold]
    pub(crate) fn consumed(&self, writer: End, n: usize) {
        self.pipe(writer).read += n as u64;
        self.count(|c| &c.bytes_read, n as u64);
    }

    /// How many of the `room` bytes a write into the direction `writer` writes may move, or
    /// `None` when the connection is due to be reset instead.
    #[cold]
    pub(crate) fn writable(&self, writer: End, room: usize) -> Option<usize> {
        let (p, left) = {
            let c = self.faults.config();
            let left = c
                .reset_after_bytes
                .map(|n| n.saturating_sub(self.written.load(Ordering::Acquire)));
            (c.short_writes, left)
        };
        if left == Some(0) {
            return None;
        }
        let mut n = room;
        if n >= 2 {
            let mut pf = self.pipe(writer);
            if pf.rng.chance(p) {
                n = 1 + pf.rng.below(n as u64 - 1) as usize;
                self.count(|c| &c.writes_shortened, 1);
            }
        }
        Some(left.map_or(n, |left| n.min(left.min(usize::MAX as u64) as usize)))
    }

    /// Records `n` bytes written into the direction `writer` writes: when they become
    /// readable. Returns `true` when the connection is to be reset now (its byte budget is
    /// spent).
    #[cold]
    pub(crate) fn wrote(&self, writer: End, n: usize) -> bool {
        let w = writer.index();
        let (latency, bandwidth, budget) = {
            let c = self.faults.config();
            (c.latency[w], c.bandwidth[w], c.reset_after_bytes)
        };
        let mut pf = self.pipe(writer);
        pf.written += n as u64;
        if latency != (Duration::ZERO, Duration::ZERO) || bandwidth.is_some() {
            let now = self.clock.now();
            let mut sent = now;
            if let Some(rate) = bandwidth.filter(|&r| r > 0) {
                let start = pf.tx_free.map_or(now, |t| t.max(now));
                let nanos = (n as u128 * 1_000_000_000 / u128::from(rate)).min(u64::MAX as u128);
                sent = later(start, Duration::from_nanos(nanos as u64));
                pf.tx_free = Some(sent);
            }
            let (base, jitter) = latency;
            let mut delay = base;
            if !jitter.is_zero() {
                let j = pf.rng.below(jitter.as_nanos().min(u64::MAX as u128) as u64);
                delay = delay.saturating_add(Duration::from_nanos(j));
            }
            let mut at = later(sent, delay);
            if let Some(&(_, last)) = pf.segments.back() {
                at = at.max(last);
            }
            let end = pf.written;
            pf.segments.push_back((end, at));
            self.count(|c| &c.writes_delayed, 1);
        } else if pf.segments.is_empty() {
            pf.ready_end = pf.written;
        } else {
            // Behind delayed bytes: readable with the last of them, never before.
            let last = pf.segments.back().map(|&(_, at)| at);
            let end = pf.written;
            if let Some(at) = last {
                pf.segments.push_back((end, at));
            }
        }
        drop(pf);
        self.count(|c| &c.bytes_written, n as u64);
        let total = self.written.fetch_add(n as u64, Ordering::AcqRel) + n as u64;
        budget.is_some_and(|b| total >= b)
    }

    /// Makes sure the readers of the direction `writer` writes are woken at `at`, when delayed
    /// bytes become readable.
    #[cold]
    pub(crate) fn wake_readers_at(&self, writer: End, at: Instant) {
        let link = self.link.clone();
        self.timers[writer.index()].arm_by(&self.clock, at, move || {
            Box::new(move || {
                if let Some(link) = link.upgrade() {
                    link.pipe(writer).wake_waiters();
                }
            })
        });
    }

    fn count(&self, which: impl FnOnce(&Counters) -> &AtomicU64, n: u64) {
        which(&self.faults.shared.counters).fetch_add(n, Ordering::Relaxed);
    }

    /// The seed and this connection's number, for `Debug`.
    pub(crate) fn seed(&self) -> u64 {
        self.faults.seed()
    }

    pub(crate) fn conn(&self) -> u64 {
        self.conn
    }
}

impl fmt::Debug for LinkFaults {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LinkFaults")
            .field("seed", &self.faults.seed())
            .field("conn", &self.conn)
            .field("reset", &self.is_reset())
            .finish()
    }
}
