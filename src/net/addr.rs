//! Transport addresses: `chan://NAME`, `tcp://HOST:PORT` and `unix:///ABS/PATH`.

use std::fmt;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
#[cfg(unix)]
use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;

use crate::Error;

/// The address of a [`net::Listener`](crate::net::Listener) or of one end of a
/// [`net::Conn`](crate::net::Conn), on any transport.
///
/// | text | transport | binds | dials |
/// |---|---|---|---|
/// | `chan://NAME` | in-process, in [`Network::global`](crate::Network::global) | `NAME` | `NAME` |
/// | `tcp://HOST:PORT` | TCP; `HOST` an IPv4 address, an IPv6 address in brackets (`tcp://[::1]:80`) or a host name, resolved when bound or dialed | port 0 picks a free port | |
/// | `unix:///ABS/PATH` | Unix domain stream socket (Unix only); the path must be absolute | creates the socket file | |
///
/// The scheme is matched without regard to case and written in lower case. [`Display`](fmt::Display) and
/// [`FromStr`] round-trip: every address that can be bound or dialed parses back from its text
/// to an equal value. The one exception is the local address of a dialed Unix socket, which
/// has no name: it displays as `unix://`, which does not parse.
///
/// Malformed text fails with [`Error::InvalidInput`], whose message names the problem; nothing
/// falls back to another transport.
///
/// ```
/// use chanstream::net::Addr;
///
/// let tcp: Addr = "tcp://[::1]:8080".parse()?;
/// assert_eq!(tcp.network(), "tcp");
/// assert_eq!(tcp.to_string(), "tcp://[::1]:8080");
/// assert_eq!(tcp.socket_addr(), Some("[::1]:8080".parse().unwrap()));
///
/// let chan: Addr = "chan://db".parse()?;
/// assert_eq!((chan.network(), chan.chan_name()), ("chan", Some("db")));
///
/// let err = "http://example.com".parse::<Addr>().unwrap_err();
/// assert_eq!(err.kind(), std::io::ErrorKind::InvalidInput);
/// assert!(err.to_string().contains("unknown scheme"));
/// # Ok::<(), chanstream::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Addr(pub(crate) Repr);

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Repr {
    Chan(crate::Addr),
    Tcp(Tcp),
    #[cfg(unix)]
    /// `None`: an unnamed socket (a dialed end).
    Unix(Option<Arc<Path>>),
}

#[derive(Clone, PartialEq, Eq, Hash)]
pub(crate) enum Tcp {
    Ip(SocketAddr),
    /// A host name, resolved when bound or dialed.
    Host(Arc<str>, u16),
}

impl Addr {
    pub(crate) fn chan(name: &str) -> Addr {
        Addr(Repr::Chan(crate::Addr::new(name.into())))
    }

    pub(crate) fn tcp(addr: SocketAddr) -> Addr {
        Addr(Repr::Tcp(Tcp::Ip(addr)))
    }

    #[cfg(unix)]
    pub(crate) fn unix(path: Option<&Path>) -> Addr {
        Addr(Repr::Unix(path.map(Arc::from)))
    }

    /// The transport: `"chan"`, `"tcp"` or `"unix"`, as Go's `net.Addr::Network`.
    ///
    /// ```
    /// let addr: chanstream::net::Addr = "unix:///tmp/app.sock".parse()?;
    /// assert_eq!(addr.network(), "unix");
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn network(&self) -> &'static str {
        match &self.0 {
            Repr::Chan(_) => "chan",
            Repr::Tcp(_) => "tcp",
            #[cfg(unix)]
            Repr::Unix(_) => "unix",
        }
    }

    /// The listener name of a `chan://` address.
    ///
    /// ```
    /// let addr: chanstream::net::Addr = "chan://cache".parse()?;
    /// assert_eq!(addr.chan_name(), Some("cache"));
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn chan_name(&self) -> Option<&str> {
        match &self.0 {
            Repr::Chan(name) => Some(name.as_str()),
            _ => None,
        }
    }

    /// The socket address of a `tcp://` address given (or bound) as an IP address; `None` for
    /// a host name, which is resolved only when it is bound or dialed.
    ///
    /// ```
    /// use chanstream::net::Addr;
    /// let ip: Addr = "tcp://127.0.0.1:80".parse()?;
    /// assert_eq!(ip.socket_addr(), Some(([127, 0, 0, 1], 80).into()));
    /// let name: Addr = "tcp://localhost:80".parse()?;
    /// assert_eq!(name.socket_addr(), None);
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    pub fn socket_addr(&self) -> Option<SocketAddr> {
        match &self.0 {
            Repr::Tcp(Tcp::Ip(addr)) => Some(*addr),
            _ => None,
        }
    }

    /// The path of a `unix://` address; `None` for an unnamed socket or another transport.
    ///
    /// ```
    /// let addr: chanstream::net::Addr = "unix:///run/app.sock".parse()?;
    /// assert_eq!(addr.unix_path(), Some(std::path::Path::new("/run/app.sock")));
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    #[cfg(unix)]
    pub fn unix_path(&self) -> Option<&Path> {
        match &self.0 {
            Repr::Unix(path) => path.as_deref(),
            _ => None,
        }
    }
}

impl FromStr for Addr {
    type Err = Error;

    fn from_str(text: &str) -> Result<Addr, Error> {
        let Some((scheme, rest)) = text.split_once("://") else {
            return Err(Error::InvalidInput(
                "address has no scheme: expected chan://NAME, tcp://HOST:PORT or unix:///ABS/PATH",
            ));
        };
        if scheme.eq_ignore_ascii_case("chan") {
            parse_chan(rest)
        } else if scheme.eq_ignore_ascii_case("tcp") {
            parse_tcp(rest)
        } else if scheme.eq_ignore_ascii_case("unix") {
            parse_unix(rest)
        } else {
            Err(Error::InvalidInput(
                "unknown scheme: expected chan://NAME, tcp://HOST:PORT or unix:///ABS/PATH",
            ))
        }
    }
}

fn parse_chan(name: &str) -> Result<Addr, Error> {
    if name.is_empty() {
        return Err(Error::InvalidInput("chan:// address has an empty name"));
    }
    Ok(Addr::chan(name))
}

fn parse_tcp(rest: &str) -> Result<Addr, Error> {
    let (host, port) = if let Some(bracketed) = rest.strip_prefix('[') {
        let (ip, port) = bracketed.split_once("]:").ok_or(Error::InvalidInput(
            "tcp:// IPv6 address must be written [ADDR]:PORT",
        ))?;
        let ip: Ipv6Addr = ip
            .parse()
            .map_err(|_| Error::InvalidInput("tcp:// address has an invalid IPv6 address"))?;
        (Host::Ip(IpAddr::V6(ip)), port)
    } else {
        let (host, port) = rest.rsplit_once(':').ok_or(Error::InvalidInput(
            "tcp:// address has no port (tcp://HOST:PORT)",
        ))?;
        if host.contains(':') {
            return Err(Error::InvalidInput(
                "tcp:// IPv6 address must be in brackets (tcp://[::1]:80)",
            ));
        }
        (parse_host(host)?, port)
    };
    // `u16::from_str` alone would take a leading `+`.
    let port = match port.parse::<u16>() {
        Ok(number) if port.bytes().all(|b| b.is_ascii_digit()) => number,
        _ => {
            return Err(Error::InvalidInput(
                "tcp:// port is not a number from 0 to 65535",
            ))
        }
    };
    Ok(Addr(Repr::Tcp(match host {
        Host::Ip(ip) => Tcp::Ip(SocketAddr::new(ip, port)),
        Host::Name(name) => Tcp::Host(name.into(), port),
    })))
}

enum Host<'a> {
    Ip(IpAddr),
    Name(&'a str),
}

fn parse_host(host: &str) -> Result<Host<'_>, Error> {
    if host.is_empty() {
        return Err(Error::InvalidInput("tcp:// address has no host"));
    }
    if let Ok(ip) = host.parse::<Ipv4Addr>() {
        return Ok(Host::Ip(IpAddr::V4(ip)));
    }
    let valid = host.len() <= 253
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
    if !valid {
        return Err(Error::InvalidInput(
            "tcp:// address has an invalid host name",
        ));
    }
    Ok(Host::Name(host))
}

#[cfg(unix)]
fn parse_unix(path: &str) -> Result<Addr, Error> {
    if path.is_empty() {
        return Err(Error::InvalidInput("unix:// address has no path"));
    }
    if !path.starts_with('/') {
        return Err(Error::InvalidInput(
            "unix:// path must be absolute (unix:///ABS/PATH)",
        ));
    }
    if path.contains('\0') {
        return Err(Error::InvalidInput("unix:// path contains a NUL byte"));
    }
    Ok(Addr::unix(Some(Path::new(path))))
}

#[cfg(not(unix))]
fn parse_unix(_: &str) -> Result<Addr, Error> {
    Err(Error::InvalidInput(
        "unix:// addresses are not supported on this platform",
    ))
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.0 {
            Repr::Chan(name) => write!(f, "chan://{name}"),
            Repr::Tcp(Tcp::Ip(addr)) => write!(f, "tcp://{addr}"),
            Repr::Tcp(Tcp::Host(host, port)) => write!(f, "tcp://{host}:{port}"),
            #[cfg(unix)]
            Repr::Unix(path) => {
                f.write_str("unix://")?;
                match path {
                    Some(path) => write!(f, "{}", path.display()),
                    None => Ok(()),
                }
            }
        }
    }
}

impl fmt::Debug for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Addr({:?})", self.to_string())
    }
}

impl From<crate::Addr> for Addr {
    /// The `chan://` address of an in-process address.
    ///
    /// ```
    /// let listener = chanstream::Network::new().bind("svc")?;
    /// let addr = chanstream::net::Addr::from(listener.local_addr());
    /// assert_eq!(addr.to_string(), "chan://svc");
    /// # Ok::<(), chanstream::Error>(())
    /// ```
    fn from(addr: crate::Addr) -> Addr {
        Addr(Repr::Chan(addr))
    }
}

#[cfg(test)]
mod tests {
    use super::Addr;
    use crate::Error;

    fn invalid(text: &str) -> &'static str {
        match text.parse::<Addr>() {
            Err(Error::InvalidInput(why)) => why,
            other => panic!("{text:?} parsed as {other:?}"),
        }
    }

    #[test]
    fn every_bindable_address_round_trips() {
        let texts = [
            "chan://db",
            "chan://db#7",
            "chan://a b/c",
            "tcp://127.0.0.1:0",
            "tcp://0.0.0.0:65535",
            "tcp://[::1]:80",
            "tcp://[fe80::1]:443",
            "tcp://localhost:8080",
            "tcp://my-host.example.com:1",
            #[cfg(unix)]
            "unix:///tmp/x.sock",
            #[cfg(unix)]
            "unix:///",
        ];
        for text in texts {
            let addr: Addr = text.parse().unwrap();
            assert_eq!(addr.to_string(), text);
            assert_eq!(addr.to_string().parse::<Addr>().unwrap(), addr);
        }
    }

    #[test]
    fn schemes_ignore_case_and_display_lower_case() {
        let addr: Addr = "TCP://127.0.0.1:1".parse().unwrap();
        assert_eq!(addr.to_string(), "tcp://127.0.0.1:1");
        assert_eq!(addr.network(), "tcp");
    }

    #[test]
    fn malformed_addresses_name_their_problem() {
        assert!(invalid("127.0.0.1:80").contains("no scheme"));
        assert!(invalid("udp://1.2.3.4:5").contains("unknown scheme"));
        assert!(invalid("chan://").contains("empty name"));
        assert!(invalid("tcp://127.0.0.1").contains("no port"));
        assert!(invalid("tcp://:80").contains("no host"));
        assert!(invalid("tcp://127.0.0.1:65536").contains("port"));
        assert!(invalid("tcp://127.0.0.1:-1").contains("port"));
        assert!(invalid("tcp://127.0.0.1:+80").contains("port"));
        assert!(invalid("tcp://127.0.0.1:").contains("port"));
        assert!(invalid("tcp://127.0.0.1:80/path").contains("port"));
        assert!(invalid("tcp://::1:80").contains("brackets"));
        assert!(invalid("tcp://[::1]").contains("[ADDR]:PORT"));
        assert!(invalid("tcp://[zz::1]:80").contains("IPv6"));
        assert!(invalid("tcp://bad host:80").contains("host name"));
        assert!(invalid("tcp://a..b:80").contains("host name"));
        #[cfg(unix)]
        {
            assert!(invalid("unix://").contains("no path"));
            assert!(invalid("unix://relative/path").contains("absolute"));
            assert!(invalid("unix:///a\0b").contains("NUL"));
        }
        #[cfg(not(unix))]
        assert!(invalid("unix:///tmp/x").contains("not supported"));
    }
}
