//! TCP: binding with a chosen backlog, dialing, and resolving host names.
//!
//! The sockets themselves run on async-io's reactor through [`socket`](super::socket), which
//! adds the deadlines and local shutdown effects.

use std::io;
use std::net::{SocketAddr, TcpListener, TcpStream, ToSocketAddrs};

use async_io::Async;
use socket2::{Domain, Protocol, Socket, Type};

use super::addr::Tcp;
use super::socket::{ListenIo, Stream};
use super::Addr;
use crate::Error;

impl ListenIo for TcpListener {
    type Stream = TcpStream;

    fn accept_one(&self) -> io::Result<(TcpStream, Addr, Addr)> {
        let (stream, peer) = self.accept()?;
        let local = stream.local_addr()?;
        // As Go does: small writes are sent at once, as an in-process write is visible at once.
        stream.set_nodelay(true)?;
        Ok((stream, Addr::tcp(local), Addr::tcp(peer)))
    }
}

/// A listening socket on `addr` with room for `backlog` connections not yet accepted (the
/// kernel may cap it), with `SO_REUSEADDR` as the standard library sets it.
pub(crate) fn bind(addr: SocketAddr, backlog: u32) -> io::Result<TcpListener> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    #[cfg(unix)]
    socket.set_reuse_address(true)?;
    socket.bind(&addr.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
}

/// Binds the first of `addrs` that can be bound.
pub(crate) fn bind_any(addrs: &[SocketAddr], backlog: u32) -> Result<TcpListener, Error> {
    let mut last = Error::HostNotFound;
    for &addr in addrs {
        match bind(addr, backlog) {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Error::from_os(&e),
        }
    }
    Err(last)
}

/// Dials `addr`.
pub(crate) async fn connect(addr: SocketAddr) -> Result<Stream<TcpStream>, Error> {
    let os = |e: io::Error| Error::from_os(&e);
    // Kept registered with the reactor: the connected socket is used as it is.
    let stream = Async::<TcpStream>::connect(addr).await.map_err(os)?;
    let std = stream.get_ref();
    std.set_nodelay(true).map_err(os)?;
    let local = Addr::tcp(std.local_addr().map_err(os)?);
    let peer = Addr::tcp(std.peer_addr().map_err(os)?);
    Ok(Stream::from_async(stream, local, peer))
}

/// Dials each of `addrs` in turn until one answers; the last error otherwise.
pub(crate) async fn connect_any(addrs: &[SocketAddr]) -> Result<Stream<TcpStream>, Error> {
    let mut last = Error::HostNotFound;
    for &addr in addrs {
        match connect(addr).await {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

/// The socket addresses of a `tcp://` address. A host name is resolved on a thread of its
/// own, as the system resolver blocks and no executor is assumed; an IP address needs none.
pub(crate) async fn resolve(tcp: &Tcp) -> Result<Vec<SocketAddr>, Error> {
    let (host, port) = match tcp {
        Tcp::Ip(addr) => return Ok(vec![*addr]),
        Tcp::Host(host, port) => (host.clone(), *port),
    };
    let (tx, rx) = futures::channel::oneshot::channel();
    std::thread::Builder::new()
        .name("chanstream-resolve".into())
        .spawn(move || {
            let found = (&*host, port)
                .to_socket_addrs()
                .map(Iterator::collect::<Vec<_>>);
            let _ = tx.send(found);
        })
        .map_err(|e| Error::from_os(&e))?;
    match rx.await {
        Ok(Ok(addrs)) if !addrs.is_empty() => Ok(addrs),
        _ => Err(Error::HostNotFound),
    }
}
