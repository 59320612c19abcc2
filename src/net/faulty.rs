//! [`Faults`] on TCP and Unix sockets: the socket is relayed through an in-process connection
//! that carries the faults, so a socket sees exactly the faults an in-process connection sees.
//!
//! The user holds one end of an in-process connection made under the faults; a relay thread
//! (one per faulty socket, running async-io's `block_on`) holds the other end and the socket,
//! and copies bytes both ways. Ends of stream, half-closes and resets cross the relay: a reset
//! asked of the faults closes the socket with an RST (TCP), and a reset of the socket resets
//! the in-process connection. When the user's last handle goes, the relay ends and closes the
//! socket.

use std::io;
use std::net::Shutdown;
use std::sync::Arc;

use futures::io::{AsyncReadExt, AsyncWriteExt};

use super::conn::ConnRepr;
use super::{Addr, Conn};
use crate::clock::Clock;
use crate::end::End;
use crate::link::{Env, Link};
use crate::{Error, Faults};

/// How many bytes each direction of the relayed connection buffers, and the relay copies at
/// a time.
const RELAY_BUFFER: usize = 64 << 10;

/// A socket behind faults: the user's end of the relayed connection, with the socket's
/// addresses.
#[derive(Clone)]
pub(crate) struct Faulty {
    pub(crate) conn: crate::Conn,
    pub(crate) local: Addr,
    pub(crate) peer: Addr,
}

/// Puts `socket` behind `faults`; the user's end is `end` of the connection (the dialed end
/// for a dial, the accepted one for an accept), so that [`Toward`](crate::Toward) means the
/// same as on `chan://`.
pub(crate) fn wrap(socket: Conn, faults: &Faults, end: End) -> Result<Conn, Error> {
    let local = socket.local_addr();
    let peer = socket.peer_addr();
    let listener = match end {
        End::Dialed => peer.to_string(),
        End::Accepted => local.to_string(),
    };
    let name = crate::Addr::new(Arc::from(listener.as_str()));
    let link = Link::new(0, name, RELAY_BUFFER, |me| {
        Some(Arc::new(Env {
            clock: Clock::SYSTEM,
            faults: Some(faults.for_link(Clock::SYSTEM, None, &listener, me.clone())),
        }))
    });
    let user = crate::Conn::adopt(link.clone(), end);
    let relay = crate::Conn::adopt(link.clone(), end.peer());
    let fx = link.faults().expect("made with faults");
    fx.start();
    // When the user's last handle goes, the relay stops reading the socket.
    let watched = socket.clone();
    fx.when_gone(
        end,
        Box::new(move || {
            let _ = watched.shutdown(Shutdown::Read);
        }),
    );
    std::thread::Builder::new()
        .name("chanstream-faults-relay".into())
        .spawn(move || async_io::block_on(run(relay, socket)))
        .map_err(|e| Error::from_os(&e))?;
    Ok(Conn(ConnRepr::Faulty(Faulty {
        conn: user,
        local,
        peer,
    })))
}

fn is_reset(err: &io::Error) -> bool {
    err.kind() == io::ErrorKind::ConnectionReset
}

/// Resets the relayed connection (a reset of the socket).
fn reset(relay: &crate::Conn) {
    if let Some(fx) = relay.link().faults() {
        fx.reset();
    }
}

/// Aborts the socket: it closes with a reset.
fn abort(socket: &Conn) {
    match &socket.0 {
        ConnRepr::Tcp(s) => s.abort(),
        #[cfg(unix)]
        ConnRepr::Unix(s) => s.abort(),
        ConnRepr::Chan(_) | ConnRepr::Faulty(_) => {}
    }
}

/// How one direction of the relay ended.
enum Ended {
    /// End of stream from the source.
    Eof,
    /// Reading the source failed.
    Read(io::Error),
    /// Writing the destination failed.
    Write(io::Error),
}

/// Copies `from` into `to` until one of them ends.
async fn copy<R, W>(mut from: R, mut to: W) -> Ended
where
    R: futures::io::AsyncRead + Unpin,
    W: futures::io::AsyncWrite + Unpin,
{
    let mut buf = vec![0; RELAY_BUFFER];
    loop {
        match from.read(&mut buf).await {
            Ok(0) => return Ended::Eof,
            Ok(n) => {
                if let Err(e) = to.write_all(&buf[..n]).await {
                    return Ended::Write(e);
                }
            }
            Err(e) => return Ended::Read(e),
        }
    }
}

/// Copies both ways until both directions have ended, carrying each end of stream, reset
/// and refusal across.
async fn run(relay: crate::Conn, socket: Conn) {
    // What the user writes, to the socket.
    let up = async {
        match copy(&relay, &socket).await {
            // The user shut down writing (or is gone): so does the socket.
            Ended::Eof => {
                let _ = socket.shutdown(Shutdown::Write);
            }
            Ended::Read(e) if is_reset(&e) => abort(&socket),
            Ended::Read(_) => {}
            Ended::Write(e) if is_reset(&e) => reset(&relay),
            // The peer stopped reading: the user's writes fail from now on.
            Ended::Write(_) => {
                let _ = relay.shutdown(Shutdown::Read);
            }
        }
    };
    // What the peer sends, to the user.
    let down = async {
        match copy(&socket, &relay).await {
            Ended::Eof => {
                let _ = relay.shutdown(Shutdown::Write);
            }
            Ended::Read(e) if is_reset(&e) => reset(&relay),
            Ended::Read(_) => {
                let _ = relay.shutdown(Shutdown::Write);
            }
            Ended::Write(e) if is_reset(&e) => abort(&socket),
            // The user stopped reading, or is gone.
            Ended::Write(_) => {
                let _ = socket.shutdown(Shutdown::Read);
            }
        }
    };
    futures::future::join(up, down).await;
    // The socket closes now (with a reset, if aborted), not when the user's handles go.
    if let Some(fx) = relay.link().faults() {
        fx.forget_gone();
    }
}
