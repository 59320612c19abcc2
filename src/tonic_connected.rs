//! tonic's `Connected` for [`Conn`] and, with `net`, [`net::Conn`](crate::net::Conn) (feature
//! `tonic`), so `Server::serve_with_incoming(listener.incoming())` takes a listener's
//! connections as they are.

use tonic::transport::server::Connected;

use crate::{Addr, Conn};

/// The connection info a tonic service finds in each request's extensions
/// (`request.extensions().get::<chanstream::Addr>()`): the peer's address, the dialed end's
/// `NAME#N` on a server connection.
impl Connected for Conn {
    type ConnectInfo = Addr;

    fn connect_info(&self) -> Addr {
        self.peer_addr()
    }
}

/// The peer's address, as `request.extensions().get::<chanstream::net::Addr>()`.
#[cfg(feature = "net")]
impl Connected for crate::net::Conn {
    type ConnectInfo = crate::net::Addr;

    fn connect_info(&self) -> crate::net::Addr {
        self.peer_addr()
    }
}
