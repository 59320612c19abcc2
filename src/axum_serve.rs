//! `axum::serve` on a [`Listener`] and, with `net`, a [`net::Listener`](crate::net::Listener)
//! (feature `axum`), with `ConnectInfo` giving the dialed end's address.
//!
//! axum's `Listener::accept` cannot fail, so errors are handled here, as axum's own TCP
//! listener handles them: a closed listener never yields another connection (its `accept`
//! stays pending, using no CPU; end `serve` with `with_graceful_shutdown`); any other error (a
//! passed accept deadline, an OS error such as too many open files) is retried after
//! [`ACCEPT_RETRY`], so a failing `accept` cannot spin.

use std::io;
use std::time::Duration;

use axum::extract::connect_info::Connected;
use axum::serve::IncomingStream;

use crate::{Addr, Conn, Error, Listener};

/// How long the accept loop waits before it retries an `accept` that failed with anything but
/// [`Error::ListenerClosed`].
const ACCEPT_RETRY: Duration = Duration::from_millis(100);

/// What the accept loop does after `err`: waits forever once the listener is closed, else
/// [`ACCEPT_RETRY`].
async fn after_accept_error(err: Error) {
    match err {
        Error::ListenerClosed => futures::future::pending::<()>().await,
        _ => futures_timer::Delay::new(ACCEPT_RETRY).await,
    }
}

/// `axum::serve(listener, app)`: each accepted connection is served, and its peer's address
/// (the dialed end's, `NAME#N`) is the `ConnectInfo` of
/// `into_make_service_with_connect_info::<chanstream::Addr>()`.
///
/// A closed listener accepts nothing more (`serve` keeps serving the connections it has; end
/// it with `with_graceful_shutdown`); a failed `accept` (a passed accept deadline) is retried
/// after 100 ms.
impl axum::serve::Listener for Listener {
    type Io = Conn;
    type Addr = Addr;

    async fn accept(&mut self) -> (Conn, Addr) {
        loop {
            match Listener::accept(self).await {
                Ok(conn) => {
                    let peer = conn.peer_addr();
                    return (conn, peer);
                }
                Err(e) => after_accept_error(e).await,
            }
        }
    }

    fn local_addr(&self) -> io::Result<Addr> {
        Ok(Listener::local_addr(self))
    }
}

impl Connected<IncomingStream<'_, Listener>> for Addr {
    fn connect_info(stream: IncomingStream<'_, Listener>) -> Addr {
        stream.remote_addr().clone()
    }
}

#[cfg(feature = "net")]
mod net_listener {
    use super::*;
    use crate::net;

    /// `axum::serve(listener, app)` on any transport; `ConnectInfo<net::Addr>` is the peer's
    /// address. A closed listener and a failed `accept` behave as for
    /// [`chanstream::Listener`](crate::Listener) (an OS error too is retried after 100 ms).
    impl axum::serve::Listener for net::Listener {
        type Io = net::Conn;
        type Addr = net::Addr;

        async fn accept(&mut self) -> (net::Conn, net::Addr) {
            loop {
                match net::Listener::accept(self).await {
                    Ok(conn) => {
                        let peer = conn.peer_addr();
                        return (conn, peer);
                    }
                    Err(e) => after_accept_error(e).await,
                }
            }
        }

        fn local_addr(&self) -> io::Result<net::Addr> {
            Ok(net::Listener::local_addr(self))
        }
    }

    impl Connected<IncomingStream<'_, net::Listener>> for net::Addr {
        fn connect_info(stream: IncomingStream<'_, net::Listener>) -> net::Addr {
            stream.remote_addr().clone()
        }
    }
}
