//! The dialing side of the handshake: the future returned by `Conn::connect`.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use futures_timer::Delay;

use crate::backlog::{Backlog, Outcome, Request};
use crate::{deadline, Conn, Error, Network};

/// The future returned by [`Conn::connect`], [`Conn::connect_timeout`], [`Network::connect`] and
/// [`Network::connect_timeout`]: resolves to the dialed end once a listener has accepted it.
///
/// Like every future it does nothing until polled: the name is looked up, and a backlog slot
/// taken, on the first poll.
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
        name: Box<str>,
        timeout: Duration,
    },
    Waiting(Waiting),
    Done,
}

struct Waiting {
    backlog: Arc<Backlog>,
    request: Arc<Request>,
    /// The dialed end; `None` once handed out or given up.
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
    pub(crate) fn new(network: Network, name: &str, timeout: Duration) -> Connect {
        Connect {
            state: State::Start {
                network,
                name: name.into(),
                timeout,
            },
        }
    }
}

impl Future for Connect {
    type Output = Result<Conn, Error>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let state = &mut self.state;
        if let State::Start {
            network,
            name,
            timeout,
        } = state
        {
            match start(network, name, *timeout) {
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

/// Looks `name` up and queues a dial request with its listener.
fn start(network: &Network, name: &str, timeout: Duration) -> Result<Waiting, Error> {
    if name.is_empty() {
        return Err(Error::InvalidInput("empty name"));
    }
    if timeout.is_zero() {
        return Err(Error::InvalidInput("zero connect timeout"));
    }
    let backlog = network.lookup(name).ok_or(Error::ConnectionRefused)?;
    let mut client = None;
    let request = backlog.enqueue(|| {
        let (dialed, accepted) = Conn::pair(
            network.dialer_addr(name),
            backlog.addr().clone(),
            backlog.buffer_size(),
        );
        client = Some(dialed);
        Request::new(accepted)
    })?;
    Ok(Waiting {
        backlog,
        request,
        client,
        timeout,
        timer: Timer::Unarmed,
    })
}

impl Waiting {
    fn poll(&mut self, cx: &mut Context<'_>) -> Poll<Result<Conn, Error>> {
        self.request.register(cx.waker());
        if let Some(done) = self.settled() {
            return Poll::Ready(done);
        }
        match &mut self.timer {
            Timer::Unarmed => {
                self.timer = Timer::Yielded;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            Timer::Yielded => self.timer = Timer::Armed(deadline::delay(self.timeout)),
            Timer::Armed(_) => {}
        }
        let Timer::Armed(Some(delay)) = &mut self.timer else {
            return Poll::Pending;
        };
        if Pin::new(delay).poll(cx).is_pending() {
            return Poll::Pending;
        }
        if self.backlog.withdraw(&self.request) {
            self.client = None;
            return Poll::Ready(Err(Error::ConnectTimeout));
        }
        // Accepted or refused in the meantime: that outcome stands.
        Poll::Ready(self.settled().expect("a request leaves PENDING only once"))
    }

    fn settled(&mut self) -> Option<Result<Conn, Error>> {
        match self.request.outcome() {
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
        if self.client.is_some() {
            self.backlog.withdraw(&self.request);
        }
    }
}

impl fmt::Debug for Connect {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Connect");
        match &self.state {
            State::Start { name, timeout, .. } => d.field("name", name).field("timeout", timeout),
            State::Waiting(w) => d
                .field("listener", w.backlog.addr())
                .field("request", &w.request),
            State::Done => d.field("done", &true),
        };
        d.finish()
    }
}
