//! The clock that deadlines, handshake timeouts and fault delays run on: the wall clock, a
//! manual clock a test advances, or tokio's clock.

use crate::sync::{self, Arc, Mutex, MutexGuard};
use std::collections::BTreeMap;
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use futures_timer::Delay;

#[cfg(feature = "tokio")]
use crate::Error;

/// The clock a [`Network`](crate::Network) runs its deadlines, handshake timeouts, accept
/// deadlines and fault delays on.
///
/// - [`Clock::system`] (the default): the wall clock, with `futures-timer`'s timer thread.
/// - [`ManualClock`]: time moves only when a test calls [`ManualClock::advance`], so a test of
///   a one-hour timeout takes no real time and is deterministic.
/// - [`Clock::tokio`] (feature `tokio`): tokio's clock, so `tokio::time::pause()` and
///   `tokio::time::advance()` apply to the network's timers too.
///
/// Deadlines are `std::time::Instant`s on the network's clock: compute them from
/// [`Clock::now`] (`clock.now() + timeout`), not from `Instant::now()`, when the clock is not
/// the system one. A clone is a handle to the same clock.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::{Error, ManualClock, Network};
/// use futures::io::AsyncReadExt;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let net = Network::with_clock(clock.clock());
/// let listener = net.bind("svc")?;
/// let (mut client, _server) = futures::try_join!(net.connect("svc"), listener.accept())?;
/// client.set_read_deadline(Some(clock.now() + Duration::from_secs(3600)));
/// let mut buf = [0; 1];
/// let read = client.read(&mut buf);
/// futures::pin_mut!(read);
/// assert!(futures::poll!(read.as_mut()).is_pending());
/// clock.advance(Duration::from_secs(3600)); // an hour, in no time
/// let err = read.await.unwrap_err();
/// assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
#[derive(Clone, Default)]
pub struct Clock {
    kind: Kind,
}

#[derive(Clone, Default)]
enum Kind {
    #[default]
    System,
    Manual(Arc<Manual>),
    #[cfg(feature = "tokio")]
    Tokio(tokio::runtime::Handle),
}

impl Clock {
    /// The wall clock, as a constant.
    pub(crate) const SYSTEM: Clock = Clock { kind: Kind::System };

    /// The wall clock (`Instant::now()`), the default.
    ///
    /// ```
    /// let clock = chanstream::Clock::system();
    /// assert!(clock.now() <= std::time::Instant::now());
    /// ```
    pub fn system() -> Clock {
        Clock::default()
    }

    /// Tokio's clock, of the runtime this is called in: `tokio::time::pause()` and
    /// `advance()` (tokio's `test-util` feature, current-thread runtime) apply to deadlines and
    /// timeouts on this clock. The runtime must have its timer enabled (`enable_time`, as
    /// `#[tokio::test]` has).
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when called outside a tokio runtime.
    ///
    /// ```
    /// # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(async {
    /// let clock = chanstream::Clock::tokio()?;
    /// assert!(clock.now() <= tokio::time::Instant::now().into_std());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// assert!(chanstream::Clock::tokio().is_err()); // no runtime here
    /// ```
    #[cfg(feature = "tokio")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
    pub fn tokio() -> Result<Clock, Error> {
        let handle = tokio::runtime::Handle::try_current()
            .map_err(|_| Error::InvalidInput("Clock::tokio called outside a tokio runtime"))?;
        Ok(Clock {
            kind: Kind::Tokio(handle),
        })
    }

    /// The current time on this clock.
    ///
    /// ```
    /// use chanstream::ManualClock;
    /// use std::time::Duration;
    /// let manual = ManualClock::new();
    /// let start = manual.clock().now();
    /// manual.advance(Duration::from_secs(5));
    /// assert_eq!(manual.clock().now(), start + Duration::from_secs(5));
    /// ```
    pub fn now(&self) -> Instant {
        match &self.kind {
            Kind::System => Instant::now(),
            Kind::Manual(m) => m.now(),
            #[cfg(feature = "tokio")]
            Kind::Tokio(handle) => {
                let _in_runtime = handle.enter();
                tokio::time::Instant::now().into_std()
            }
        }
    }

    /// Whether this is the wall clock.
    pub(crate) fn is_system(&self) -> bool {
        matches!(self.kind, Kind::System)
    }

    /// A timer that completes once `dur` has passed on this clock, or `None` when its end lies
    /// beyond what [`Instant`] can represent (it would never fire).
    pub(crate) fn sleep(&self, dur: Duration) -> Option<Sleep> {
        self.sleep_until(self.now().checked_add(dur)?)
    }

    /// A timer that completes once `at` has passed on this clock (see [`sleep`](Clock::sleep)).
    /// The clock is read at most once, for the wall clock's relative timer: a manual clock
    /// advanced by another thread meanwhile must not push the timer past `at`.
    pub(crate) fn sleep_until(&self, at: Instant) -> Option<Sleep> {
        at.checked_add(Duration::from_secs(1))?;
        Some(match &self.kind {
            Kind::System => Sleep::Wall(Delay::new(at.saturating_duration_since(Instant::now()))),
            Kind::Manual(m) => Sleep::Manual(ManualSleep {
                clock: m.clone(),
                at,
                key: None,
            }),
            #[cfg(feature = "tokio")]
            Kind::Tokio(handle) => {
                let _in_runtime = handle.enter();
                Sleep::Tokio(Box::pin(tokio::time::sleep_until(
                    tokio::time::Instant::from_std(at),
                )))
            }
        })
    }
}

impl PartialEq for Clock {
    fn eq(&self, other: &Clock) -> bool {
        match (&self.kind, &other.kind) {
            (Kind::System, Kind::System) => true,
            (Kind::Manual(a), Kind::Manual(b)) => Arc::ptr_eq(a, b),
            #[cfg(feature = "tokio")]
            (Kind::Tokio(a), Kind::Tokio(b)) => a.id() == b.id(),
            _ => false,
        }
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::System => f.write_str("Clock::System"),
            Kind::Manual(m) => f
                .debug_struct("Clock::Manual")
                .field("elapsed", &m.lock().elapsed)
                .finish(),
            #[cfg(feature = "tokio")]
            Kind::Tokio(_) => f.write_str("Clock::Tokio"),
        }
    }
}

/// A clock that moves only when told to: deadlines, timeouts and fault delays on it fire when
/// [`advance`](ManualClock::advance) moves it past them, at once and in order, with no real
/// waiting. Give it to a network with [`Network::with_clock`](crate::Network::with_clock).
///
/// Time starts at the wall-clock instant the `ManualClock` was created. Timers due are woken
/// by `advance` itself, on the thread calling it; the tasks they wake run when their executor
/// next runs them. A clone is a handle to the same clock.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::{Error, ManualClock, Network};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let net = Network::with_clock(clock.clock());
/// let _listener = net.bind("slow")?; // never accepts
/// let dial = net.connect_timeout("slow", Duration::from_secs(30));
/// futures::pin_mut!(dial);
/// assert!(futures::poll!(dial.as_mut()).is_pending());
/// assert!(futures::poll!(dial.as_mut()).is_pending());
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(dial.await.unwrap_err(), Error::ConnectTimeout);
/// # Ok::<(), Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<Manual>,
}

struct Manual {
    start: Instant,
    state: Mutex<ManualState>,
}

struct ManualState {
    elapsed: Duration,
    /// The timers not yet due, by instant (then by creation order).
    sleepers: BTreeMap<(Instant, u64), Waker>,
    next_key: u64,
}

impl Manual {
    fn lock(&self) -> MutexGuard<'_, ManualState> {
        sync::lock(&self.state)
    }

    fn now(&self) -> Instant {
        self.start + self.lock().elapsed
    }
}

impl ManualClock {
    /// A manual clock reading the current wall-clock time, which then stands still.
    ///
    /// ```
    /// let clock = chanstream::ManualClock::new();
    /// let t = clock.now();
    /// std::thread::sleep(std::time::Duration::from_millis(1));
    /// assert_eq!(clock.now(), t);
    /// ```
    pub fn new() -> ManualClock {
        ManualClock {
            inner: Arc::new(Manual {
                start: Instant::now(),
                state: Mutex::new(ManualState {
                    elapsed: Duration::ZERO,
                    sleepers: BTreeMap::new(),
                    next_key: 0,
                }),
            }),
        }
    }

    /// The current time on this clock.
    pub fn now(&self) -> Instant {
        self.inner.now()
    }

    /// How far the clock has been advanced since it was created.
    ///
    /// ```
    /// let clock = chanstream::ManualClock::new();
    /// clock.advance(std::time::Duration::from_millis(250));
    /// assert_eq!(clock.elapsed(), std::time::Duration::from_millis(250));
    /// ```
    pub fn elapsed(&self) -> Duration {
        self.inner.lock().elapsed
    }

    /// Moves the clock forward by `by` and wakes every timer due by then, earliest first. A
    /// duration that would overflow the clock moves it as far as it can go.
    pub fn advance(&self, by: Duration) {
        let mut st = self.inner.lock();
        let elapsed = st.elapsed.saturating_add(by);
        // Keep `start + elapsed` representable.
        st.elapsed = if self.inner.start.checked_add(elapsed).is_some() {
            elapsed
        } else {
            st.elapsed
        };
        let now = self.inner.start + st.elapsed;
        let later = st.sleepers.split_off(&(now, u64::MAX));
        let due = std::mem::replace(&mut st.sleepers, later);
        drop(st);
        for waker in due.into_values() {
            waker.wake();
        }
    }

    /// This clock, as a [`Clock`] to give to a [`Network`](crate::Network).
    pub fn clock(&self) -> Clock {
        Clock {
            kind: Kind::Manual(self.inner.clone()),
        }
    }

    /// How many timers are waiting on this clock (armed deadlines, handshake timeouts and
    /// fault delays not yet due): a test can wait for a task to reach its timer before it
    /// advances the clock.
    pub fn timers(&self) -> usize {
        self.inner.lock().sleepers.len()
    }
}

impl Default for ManualClock {
    fn default() -> ManualClock {
        ManualClock::new()
    }
}

impl From<ManualClock> for Clock {
    fn from(manual: ManualClock) -> Clock {
        manual.clock()
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let st = self.inner.lock();
        f.debug_struct("ManualClock")
            .field("elapsed", &st.elapsed)
            .field("timers", &st.sleepers.len())
            .finish()
    }
}

/// A timer on some [`Clock`].
pub(crate) enum Sleep {
    Wall(Delay),
    Manual(ManualSleep),
    #[cfg(feature = "tokio")]
    Tokio(Pin<Box<tokio::time::Sleep>>),
}

pub(crate) struct ManualSleep {
    clock: Arc<Manual>,
    at: Instant,
    /// Its entry among the clock's sleepers, once registered.
    key: Option<u64>,
}

impl Future for Sleep {
    type Output = ();

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<()> {
        match self.get_mut() {
            Sleep::Wall(delay) => Pin::new(delay).poll(cx),
            Sleep::Manual(sleep) => sleep.poll(cx),
            #[cfg(feature = "tokio")]
            Sleep::Tokio(sleep) => sleep.as_mut().poll(cx),
        }
    }
}

impl ManualSleep {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<()> {
        let mut st = self.clock.lock();
        if self.clock.start + st.elapsed >= self.at {
            if let Some(key) = self.key.take() {
                let gone = st.sleepers.remove(&(self.at, key));
                drop(st);
                drop(gone);
            }
            return Poll::Ready(());
        }
        let key = *self.key.get_or_insert_with(|| {
            st.next_key += 1;
            st.next_key
        });
        let old = st.sleepers.insert((self.at, key), cx.waker().clone());
        drop(st);
        drop(old);
        Poll::Pending
    }
}

impl Drop for ManualSleep {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            let mut st = self.clock.lock();
            let gone = st.sleepers.remove(&(self.at, key));
            drop(st);
            drop(gone);
        }
    }
}
