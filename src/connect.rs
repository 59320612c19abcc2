//! The dialing side of the handshake: the future returned by `Conn::connect`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use crate::backlog::Backlog;
use crate::clock::Sleep;
use crate::end::End;
use crate::faults::DialFault;
use crate::handshake::Outcome;
use crate::link::Link;
use crate::{Conn, Error, Faults, Network};

/// The future returned by [`Conn::connect`], [`Conn::connect_timeout`], [`Network::connect`] and
/// [`Network::connect_timeout`]: resolves to the dialed end once a listener has accepted it.
///
/// Like every future it does nothing until polled: the backlog slot is taken on the first poll,
/// with the listener bound to the name at that time.
///
/// # Cancel safety
///
/// Dropping it withdraws the request: `accept` never returns it, and its backlog slot is free at
/// once. If the listener had already accepted, the dialed end is dropped, which the accepted end
/// sees as the peer closing.
///
/// # Panics
///
/// Polling it again after it completed panics, as for any future.
///
/// ```
/// # futures::executor::block_on(async {
/// let net = chanstream::Network::new();
/// let listener = net.bind("svc")?;
/// let dial: chanstream::Connect = net.connect("svc"); // 'static and Send: can be spawned
/// let (client, _server) = futures::try_join!(dial, listener.accept())?;
/// assert_eq!(client.peer_addr().as_str(), "svc");
/// # Ok::<(), chanstream::Error>(())
/// # }).unwrap();
/// ```
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct Connect {
    state: State,
}

enum State {
    Start(Start),
    /// Held back by a dial fault: then started as `then`, or, without one, timed out.
    Held {
        sleep: Option<Sleep>,
        then: Option<Start>,
    },
    Waiting(Waiting),
    /// Failed before it started (bad input): the error, returned on the first poll.
    #[cfg(feature = "hyper")]
    Failed(Error),
    Done,
}

/// A dial not yet started.
struct Start {
    network: Network,
    target: Target,
    timeout: Duration,
    /// The name the dialer gave itself ([`Connect::origin`]).
    origin: Option<Box<str>>,
    /// Whether a dial fault already applied to it (it was delayed).
    faulted: bool,
    /// Faults for this dial alone ([`Connect::faults`]).
    faults: Option<Faults>,
}

/// The listener a dial is for. It is looked up when the dial is created, so that the first poll
/// need not allocate the name; if it has closed by then, the name is looked up again.
enum Target {
    Found(Arc<Backlog>),
    /// Nothing was bound to the name (or it was empty).
    Name(Box<str>),
}

struct Waiting {
    backlog: Arc<Backlog>,
    /// The dialed end, whose connection is the queued request; `None` once handed out or given
    /// up.
    client: Option<Conn>,
    /// The handshake timeout.
    timeout: Duration,
    timer: Timer,
}

/// The handshake timer. It is armed only when the dial is still waiting after yielding once:
/// when an `accept` is already running the dial completes on its second poll, and most dials
/// then never create a timer (creating one wakes the timer thread, which would otherwise be the
/// largest cost of setting up a connection), nor read the clock. The timeout therefore runs
/// from the second poll, which follows the first at once (the first wakes its task).
enum Timer {
    /// Not polled to `Pending` yet.
    Unarmed,
    /// Returned `Pending` once, after waking itself.
    Yielded,
    /// Armed for the timeout; `None` if that lies beyond what the clock can represent (it
    /// never fires).
    Armed(Option<Sleep>),
}

impl Connect {
    pub(crate) fn new(network: &Network, name: &str, timeout: Duration) -> Connect {
        let target = match network.lookup(name) {
            Some(backlog) => Target::Found(backlog),
            None => Target::Name(name.into()),
        };
        Connect {
            state: State::Start(Start {
                network: network.clone(),
                target,
                timeout,
                origin: None,
                faulted: false,
                faults: None,
            }),
        }
    }

    /// Names the dialer, for [`Faults::partition`](crate::Faults::partition): a dial from a
    /// name partitioned from its listener times out, and its connection holds its bytes while
    /// the partition lasts. The name is not an address: the dialed end's
    /// [`local_addr`](Conn::local_addr) is unchanged. Without faults it changes nothing. Called
    /// on a dial already polled, it has no effect.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("db")?;
    /// let dial = net.connect("db").origin("web-1");
    /// let (_client, _server) = futures::try_join!(dial, listener.accept())?;
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn origin(mut self, name: &str) -> Connect {
        if let State::Start(start) = &mut self.state {
            start.origin = Some(name.into());
        }
        self
    }

    /// Applies `faults` to this dial and its connection, instead of the listener's
    /// ([`ListenerBuilder::faults`](crate::ListenerBuilder::faults)) or the network's
    /// ([`Network::set_faults`]). Called on a dial already polled, it has no effect.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Error, Faults, Network};
    /// let faults = Faults::new(1);
    /// faults.refuse_dials(1);
    /// let net = Network::new();
    /// let listener = net.bind("svc")?;
    /// assert_eq!(net.connect("svc").faults(&faults).await.unwrap_err(), Error::ConnectionRefused);
    /// let (_c, _s) = futures::try_join!(net.connect("svc"), listener.accept())?; // no faults
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn faults(mut self, faults: &Faults) -> Connect {
        if let State::Start(start) = &mut self.state {
            start.faults = Some(faults.clone());
        }
        self
    }
}

#[cfg(feature = "hyper")]
impl Connect {
    /// A dial that fails with `err` when polled.
    pub(crate) fn failed(err: Error) -> Connect {
        Connect {
            state: State::Failed(err),
        }
    }
}

impl Future for Connect {
    type Output = Result<Conn, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let state = &mut self.state;
        #[cfg(feature = "hyper")]
        if let State::Failed(err) = *state {
            *state = State::Done;
            return Poll::Ready(Err(err));
        }
        loop {
            match state {
                State::Start(start) => match begin(start) {
                    Ok(next) => *state = next,
                    Err(e) => {
                        *state = State::Done;
                        return Poll::Ready(Err(e));
                    }
                },
                State::Held { sleep, then } => {
                    match sleep {
                        Some(sleep) => futures::ready!(Pin::new(sleep).poll(cx)),
                        None => return Poll::Pending,
                    }
                    match then.take() {
                        Some(start) => *state = State::Start(start),
                        None => {
                            *state = State::Done;
                            return Poll::Ready(Err(Error::ConnectTimeout));
                        }
                    }
                }
                _ => break,
            }
        }
        let State::Waiting(waiting) = state else {
            panic!("`Connect` polled after completion");
        };
        let out = waiting.poll(cx);
        if out.is_ready() {
            *state = State::Done;
        }
        out
    }
}

/// Queues a new connection, as a dial request, with the listener bound to the target's name;
/// or holds the dial back, as a dial fault says.
fn begin(start: &mut Start) -> Result<State, Error> {
    let network = &start.network;
    // Moved out, leaving a placeholder that allocates nothing (an empty name).
    let target = std::mem::replace(&mut start.target, Target::Name(Box::default()));
    let (backlog, name) = match target {
        Target::Name(name) if name.is_empty() => return Err(Error::InvalidInput("empty name")),
        _ if start.timeout.is_zero() => return Err(Error::InvalidInput("zero connect timeout")),
        Target::Found(backlog) if !backlog.is_closed() => (Some(backlog), None),
        // Closed since the dial was created: whatever is bound to the name now.
        Target::Found(closed) => {
            let name = closed.addr().as_str();
            (network.lookup(name), Some(name.into()))
        }
        Target::Name(name) => (network.lookup(&name), Some(name)),
    };
    let faults = match (&start.faults, &backlog) {
        (Some(own), _) => Some(own.clone()),
        (None, Some(b)) if b.faults().is_some() => b.faults().cloned(),
        _ => network.faults(),
    };
    if let Some(f) = faults.as_ref().filter(|_| !start.faulted) {
        let listener = match (&backlog, &name) {
            (Some(b), _) => b.addr().as_str(),
            (None, Some(n)) => n,
            (None, None) => "",
        };
        if let Some(fault) = f.dial_fault(start.origin.as_deref(), listener) {
            let target = match (backlog, name) {
                (Some(b), _) => Target::Found(b),
                (None, name) => Target::Name(name.unwrap_or_default()),
            };
            return held(start, target, fault);
        }
    }
    let backlog = backlog.ok_or(Error::ConnectionRefused)?;
    let mut client = None;
    let origin = start.origin.take();
    backlog.enqueue(|| {
        let name = backlog.addr().as_str();
        let link = Link::new(
            network.next_dial(),
            backlog.addr().clone(),
            backlog.buffer_size(),
            |me| network.env(faults.as_ref(), origin, name, me),
        );
        client = Some(Conn::adopt(link.clone(), End::Dialed));
        link
    })?;
    if let Some(fx) = client.as_ref().and_then(|c| c.link().faults()) {
        fx.start();
    }
    Ok(State::Waiting(Waiting {
        backlog,
        client,
        timeout: start.timeout,
        timer: Timer::Unarmed,
    }))
}

/// What a dial fault makes of a dial not yet started.
fn held(start: &mut Start, target: Target, fault: DialFault) -> Result<State, Error> {
    let clock = start.network.clock();
    let timeout = start.timeout;
    let (wait, then) = match fault {
        DialFault::Refuse => return Err(Error::ConnectionRefused),
        DialFault::BacklogFull => return Err(Error::ListenQueueFull),
        DialFault::TimeOut => (timeout, None),
        DialFault::Delay(by) if by >= timeout => (timeout, None),
        DialFault::Delay(by) => {
            let then = Start {
                network: start.network.clone(),
                target,
                timeout: timeout - by,
                origin: start.origin.take(),
                faulted: true,
                faults: start.faults.take(),
            };
            (by, Some(then))
        }
    };
    Ok(State::Held {
        sleep: clock.sleep(wait),
        then,
    })
}

impl Waiting {
    /// The connection being dialed, which is the request (`None` once the dial has ended).
    fn link(&self) -> Option<&Link> {
        self.client.as_ref().map(Conn::link)
    }

    /// [`link`](Waiting::link) while the dial is under way, as it is whenever it is polled.
    fn dialing(&self) -> &Link {
        self.link().expect("`Connect` polled after completion")
    }

    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Conn, Error>> {
        if let Timer::Unarmed = self.timer {
            if let Some(done) = self.settled(None) {
                return Poll::Ready(done);
            }
            // Polled again at once: no need to register for a wake-up yet.
            self.timer = Timer::Yielded;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        // Checked and registered for under one lock: no settling is missed in between.
        if let Some(done) = self.settled(Some(cx.waker())) {
            return Poll::Ready(done);
        }
        self.poll_timeout(cx)
    }

    /// Still pending after registering: the handshake timer (armed on the first wait) ends
    /// the dial with `ConnectTimeout`, unless it was settled meanwhile.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<Result<Conn, Error>> {
        if let Timer::Yielded = self.timer {
            self.timer = Timer::Armed(self.dialing().clock().sleep(self.timeout));
        }
        let Timer::Armed(Some(delay)) = &mut self.timer else {
            return Poll::Pending;
        };
        if Pin::new(delay).poll(cx).is_pending() {
            return Poll::Pending;
        }
        if self.backlog.withdraw(self.dialing()) {
            self.client = None;
            return Poll::Ready(Err(Error::ConnectTimeout));
        }
        // Accepted or refused in the meantime: that outcome stands.
        Poll::Ready(self.settled(None).expect("a request is settled only once"))
    }

    /// The dial's result once it is settled; until then `dialer`, if given, is registered to
    /// be woken when it is.
    fn settled(&mut self, dialer: Option<&Waker>) -> Option<Result<Conn, Error>> {
        match self.dialing().outcome(dialer) {
            Outcome::Pending => None,
            Outcome::Accepted => self.client.take().map(Ok),
            Outcome::Refused => {
                self.client = None;
                Some(Err(Error::ConnectionRefused))
            }
        }
    }
}

impl Drop for Waiting {
    fn drop(&mut self) {
        if let Some(link) = self.link() {
            self.backlog.withdraw(link);
        }
    }
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Connect");
        match &self.state {
            State::Start(Start {
                target: Target::Found(backlog),
                timeout,
                ..
            }) => d.field("name", backlog.addr()).field("timeout", timeout),
            State::Start(Start {
                target: Target::Name(name),
                timeout,
                ..
            }) => d.field("name", name).field("timeout", timeout),
            State::Held { then, .. } => d.field("held_by_faults", &then.is_some()),
            State::Waiting(w) => d
                .field("listener", w.backlog.addr())
                .field("request", &w.link().map(|l| l.outcome(None))),
            #[cfg(feature = "hyper")]
            State::Failed(err) => d.field("failed", err),
            State::Done => d.field("done", &true),
        };
        d.finish()
    }
}
