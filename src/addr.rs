//! Addresses of listeners and connection ends.

use std::fmt;
use std::io::Write as _;
use std::sync::Arc;

/// The address of a [`Listener`](crate::Listener) or of one end of a [`Conn`](crate::Conn).
///
/// A listener's address is the name it was bound to. An accepted connection's local address is
/// that name too; a dialed connection's local address is an identity of the form `name#N`, unique
/// among the dialed ends of its [`Network`](crate::Network), so a server can tell its clients apart.
///
/// ```
/// # futures::executor::block_on(async {
/// use chanstream::{Conn, Network};
///
/// let net = Network::new();
/// let listener = net.bind("db")?;
/// let (client, server) = futures::try_join!(net.connect("db"), listener.accept())?;
/// assert_eq!(listener.local_addr().as_str(), "db");
/// assert_eq!(client.peer_addr(), listener.local_addr());
/// assert_eq!(server.peer_addr(), client.local_addr());
/// assert_eq!(client.local_addr().network(), "chan");
/// # Ok::<(), chanstream::Error>(())
/// # }).unwrap();
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Addr(Arc<str>);

impl Addr {
    pub(crate) fn new(name: Arc<str>) -> Addr {
        Addr(name)
    }

    /// `name#n`, built in one allocation (one is made for every dial): formatted on the stack
    /// when it fits, as it does for any reasonable name.
    pub(crate) fn numbered(name: &str, n: u64) -> Addr {
        const ON_STACK: usize = 64;
        let mut text = [0u8; ON_STACK];
        let mut rest = &mut text[..];
        if write!(rest, "{name}#{n}").is_ok() {
            let len = ON_STACK - rest.len();
            let text = std::str::from_utf8(&text[..len]).expect("a name, '#' and digits");
            return Addr(text.into());
        }
        Addr(format!("{name}#{n}").into())
    }

    /// The network family, always `"chan"` (the counterpart of Go's `net.Addr::Network`).
    ///
    /// ```
    /// let listener = chanstream::Network::new().bind("svc")?;
    /// assert_eq!(listener.local_addr().network(), "chan");
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn network(&self) -> &'static str {
        "chan"
    }

    /// The address as text.
    ///
    /// ```
    /// let listener = chanstream::Network::new().bind("svc")?;
    /// assert_eq!(listener.local_addr().as_str(), "svc");
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Addr({:?})", &*self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::Addr;

    #[test]
    fn numbered_addresses_read_name_hash_number() {
        let long = "n".repeat(70);
        for name in ["db", "名前", "a#b", long.as_str(), &long[..43], &long[..44]] {
            for n in [0, 1, 9, 10, 12_345, u64::MAX] {
                assert_eq!(Addr::numbered(name, n).as_str(), format!("{name}#{n}"));
            }
        }
    }
}
