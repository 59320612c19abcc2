//! The dialing side of the handshake: the future returned by `Conn::connect`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_timer::Delay;

use crate::backlog::Backlog;
use crate::handshake::Outcome;
use crate::link::{End, Link};
use crate::{deadline, Addr, Conn, Error, Network};

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
    Start {
        network: Network,
        target: Target,
        timeout: Duration,
    },
    Waiting(Waiting),
    /// Failed before it started (bad input): the error, returned on the first poll.
    #[cfg(feature = "hyper")]
    Failed(Error),
    Done,
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
    Armed(Option<Delay>),
}

impl Connect {
    pub(crate) fn new(network: &Network, name: &str, timeout: Duration) -> Connect {
        let target = match network.lookup(name) {
            Some(backlog) => Target::Found(backlog),
            None => Target::Name(name.into()),
        };
        Connect {
            state: State::Start {
                network: network.clone(),
                target,
                timeout,
            },
        }
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
        if let State::Start {
            network,
            target,
            timeout,
        } = state
        {
            // Moved out, leaving a placeholder that allocates nothing (an empty name).
            let target = std::mem::replace(target, Target::Name(Box::default()));
            match start(network, target, *timeout) {
                Ok(waiting) => *state = State::Waiting(waiting),
                Err(e) => {
                    *state = State::Done;
                    return Poll::Ready(Err(e));
                }
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

/// Queues a new connection, as a dial request, with the listener bound to the target's name.
fn start(network: &Network, target: Target, timeout: Duration) -> Result<Waiting, Error> {
    let backlog = match target {
        Target::Name(name) if name.is_empty() => return Err(Error::InvalidInput("empty name")),
        _ if timeout.is_zero() => return Err(Error::InvalidInput("zero connect timeout")),
        Target::Found(backlog) if !backlog.is_closed() => Some(backlog),
        // Closed since the dial was created: whatever is bound to the name now.
        Target::Found(closed) => network.lookup(closed.addr().as_str()),
        Target::Name(name) => network.lookup(&name),
    };
    let backlog = backlog.ok_or(Error::ConnectionRefused)?;
    let mut client = None;
    backlog.enqueue(|| {
        let dialer = Addr::numbered(backlog.addr().as_str(), network.next_dial());
        let link = Link::new(dialer, backlog.addr().clone(), backlog.buffer_size());
        client = Some(Conn::adopt(link.clone(), End::Dialed));
        link
    })?;
    Ok(Waiting {
        backlog,
        client,
        timeout,
        timer: Timer::Unarmed,
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
        if let Some(done) = self.settled() {
            return Poll::Ready(done);
        }
        if let Timer::Unarmed = self.timer {
            // Polled again at once: no need to register for a wake-up yet.
            self.timer = Timer::Yielded;
            cx.waker().wake_by_ref();
            return Poll::Pending;
        }
        self.dialing().request().register(cx.waker());
        // Settled before the registration took effect?
        if let Some(done) = self.settled() {
            return Poll::Ready(done);
        }
        self.poll_timeout(cx)
    }

    /// Still pending after registering: the handshake timer (armed on the first wait) ends
    /// the dial with `ConnectTimeout`, unless it was settled meanwhile.
    fn poll_timeout(&mut self, cx: &mut Context<'_>) -> Poll<Result<Conn, Error>> {
        if let Timer::Yielded = self.timer {
            self.timer = Timer::Armed(deadline::delay(self.timeout));
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
        Poll::Ready(self.settled().expect("a request is settled only once"))
    }

    fn settled(&mut self) -> Option<Result<Conn, Error>> {
        match self.dialing().request().outcome() {
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
            State::Start {
                target: Target::Found(backlog),
                timeout,
                ..
            } => d.field("name", backlog.addr()).field("timeout", timeout),
            State::Start {
                target: Target::Name(name),
                timeout,
                ..
            } => d.field("name", name).field("timeout", timeout),
            State::Waiting(w) => d
                .field("listener", w.backlog.addr())
                .field("request", &w.link().map(Link::request)),
            #[cfg(feature = "hyper")]
            State::Failed(err) => d.field("failed", err),
            State::Done => d.field("done", &true),
        };
        d.finish()
    }
}
