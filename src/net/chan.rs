//! In-process connections (`chan://NAME`): the crate's own [`Listener`](crate::Listener) and
//! [`Conn`](crate::Conn), in [`Network::global`](crate::Network::global), or in any network
//! through the `From` conversions.

use std::time::Duration;

use crate::{Conn, Connect, Error, Faults, Listener, Network};

/// Binds `name` in the global network with `backlog` (a zero backlog is refused by the
/// builder) and `faults`.
pub(crate) fn bind(
    name: &str,
    backlog: Option<u32>,
    faults: Option<&Faults>,
) -> Result<Listener, Error> {
    let mut builder = Network::global().listener();
    if let Some(backlog) = backlog {
        builder = builder.backlog(backlog as usize);
    }
    if let Some(faults) = faults {
        builder = builder.faults(faults);
    }
    builder.bind(name)
}

/// Dials `name` in the global network.
pub(crate) fn connect(name: &str, timeout: Duration) -> Connect {
    Conn::connect_timeout(name, timeout)
}
