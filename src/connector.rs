//! [`Connector`]: the dialing side for hyper-util's client and tonic's `Endpoint` (feature
//! `hyper`).

use std::fmt;
use std::task::{Context, Poll};
use std::time::Duration;

use http::Uri;

use crate::{Conn, Connect, Error, Network, DEFAULT_CONNECT_TIMEOUT};

/// A `tower::Service<http::Uri>` that dials a chanstream connection for each call: the
/// connector of hyper-util's legacy `Client` and of tonic's `Endpoint::connect_with_connector`.
///
/// [`Connector::new`] dials the URI's host as a name in a [`Network`] (`http://svc/path`
/// dials `svc`; the port, if any, is ignored); [`Connector::default`] does so in
/// [`Network::global`]. With the `net` feature, a `Connector<net::Conn>` dials
/// [`net`](crate::net) addresses: [`Connector::to`] always the same one (`chan://`,
/// `tcp://` or `unix://`, whatever the URI), [`Connector::tcp`] the URI's host and port over
/// TCP.
///
/// The connections it makes implement hyper's `rt::Read` and `rt::Write` and hyper-util's
/// `Connection` (whose extra is the server's address: hyper-util's client puts it in each
/// response's extensions). Its future is `Send` and `Unpin`.
///
/// # Lifecycle
///
/// A `Connector` is a cheap handle: clones dial in the same network, and it keeps no
/// connection of its own (the client pools them). Each call dials once, bounded by the connect
/// timeout ([`DEFAULT_CONNECT_TIMEOUT`], 10 s, unless set with
/// [`connect_timeout`](Connector::connect_timeout)). A dial to a name nobody listens on fails
/// at once with [`Error::ConnectionRefused`]; a URI with no host fails with
/// [`Error::InvalidInput`]. It is always ready: `poll_ready` returns `Ready(Ok(()))`.
///
/// ```
/// use chanstream::{Connector, Network};
/// use hyper_util::client::legacy::Client;
/// use hyper_util::rt::TokioExecutor;
/// use std::future::IntoFuture;
///
/// # #[cfg(feature = "axum")]
/// #[tokio::main(flavor = "current_thread")]
/// async fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
///     let net = Network::new();
///     let app = axum::Router::new().route("/", axum::routing::get(|| async { "hi" }));
///     tokio::spawn(axum::serve(net.bind("web")?, app).into_future());
///
///     let client = Client::builder(TokioExecutor::new())
///         .build::<_, String>(Connector::new(&net));
///     let resp = client.get("http://web/".parse()?).await?;
///     assert_eq!(resp.status(), 200);
///
///     // Nobody listens on "nobody": a prompt error, not a hang.
///     assert!(client.get("http://nobody/".parse()?).await.is_err());
///     Ok(())
/// }
/// # #[cfg(not(feature = "axum"))]
/// # fn main() {}
/// ```
pub struct Connector<C: sealed::Dial = Conn> {
    target: C::Target,
    timeout: Duration,
}

pub(crate) mod sealed {
    use super::*;

    /// The connection types a [`Connector`] can make.
    pub trait Dial: Sized {
        /// Where a call dials.
        type Target: Clone + fmt::Debug + Send + Sync + 'static;
        /// The dial.
        type Future: std::future::Future<Output = Result<Self, Error>> + Send + Unpin + 'static;
        fn dial(target: &Self::Target, uri: &Uri, timeout: Duration) -> Self::Future;
    }
}

impl sealed::Dial for Conn {
    type Target = Network;
    type Future = Connect;

    fn dial(network: &Network, uri: &Uri, timeout: Duration) -> Connect {
        match uri.host() {
            Some(host) if !host.is_empty() => network.connect_timeout(host, timeout),
            _ => Connect::failed(Error::InvalidInput("URI has no host")),
        }
    }
}

impl Connector {
    /// A connector that dials the URI's host as a name in `network`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Connector, Network};
    /// use tower_service::Service;
    ///
    /// let net = Network::new();
    /// let listener = net.bind("svc")?;
    /// let mut connector = Connector::new(&net);
    /// let uri = "http://svc:8080/path".parse().unwrap(); // dials the name "svc"
    /// let (conn, _server) = futures::try_join!(connector.call(uri), listener.accept())?;
    /// assert_eq!(conn.peer_addr().as_str(), "svc");
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn new(network: &Network) -> Connector {
        Connector {
            target: network.clone(),
            timeout: DEFAULT_CONNECT_TIMEOUT,
        }
    }
}

impl Default for Connector {
    /// A connector that dials names in [`Network::global`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Connector, Error};
    /// use tower_service::Service;
    ///
    /// let mut connector = Connector::default();
    /// let uri = "http://doc-connector-nobody/".parse().unwrap();
    /// assert_eq!(connector.call(uri).await.unwrap_err(), Error::ConnectionRefused);
    /// # });
    /// ```
    fn default() -> Connector {
        Connector::new(Network::global())
    }
}

impl<C: sealed::Dial> Connector<C> {
    /// Bounds each dial by `timeout` instead of [`DEFAULT_CONNECT_TIMEOUT`]. A zero timeout
    /// fails every dial with [`Error::InvalidInput`].
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use chanstream::{Connector, Error, Network};
    /// use std::time::Duration;
    /// use tower_service::Service;
    ///
    /// let net = Network::new();
    /// let _listener = net.bind("busy")?; // bound, but nobody accepts
    /// let mut connector = Connector::new(&net).connect_timeout(Duration::from_millis(10));
    /// let err = connector.call("http://busy/".parse().unwrap()).await.unwrap_err();
    /// assert_eq!(err, Error::ConnectTimeout);
    /// # Ok::<(), Error>(())
    /// # }).unwrap();
    /// ```
    pub fn connect_timeout(mut self, timeout: Duration) -> Connector<C> {
        self.timeout = timeout;
        self
    }
}

impl<C: sealed::Dial> Clone for Connector<C> {
    fn clone(&self) -> Self {
        Connector {
            target: self.target.clone(),
            timeout: self.timeout,
        }
    }
}

impl<C: sealed::Dial> fmt::Debug for Connector<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connector")
            .field("target", &self.target)
            .field("timeout", &self.timeout)
            .finish()
    }
}

impl<C: sealed::Dial> tower_service::Service<Uri> for Connector<C> {
    type Response = C;
    type Error = Error;
    type Future = C::Future;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Error>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, uri: Uri) -> C::Future {
        C::dial(&self.target, &uri, self.timeout)
    }
}

#[cfg(feature = "net")]
mod net_dial {
    use super::*;
    use crate::net;

    /// Where a `Connector<net::Conn>` dials.
    #[derive(Clone, Debug)]
    pub enum NetTarget {
        /// Always this address.
        To(net::Addr),
        /// The URI's host and port, over TCP.
        Tcp,
    }

    impl sealed::Dial for net::Conn {
        type Target = NetTarget;
        type Future = net::Connect;

        fn dial(target: &NetTarget, uri: &Uri, timeout: Duration) -> net::Connect {
            match target {
                NetTarget::To(addr) => net::Conn::connect_addr(addr.clone(), timeout),
                NetTarget::Tcp => match tcp_addr(uri) {
                    Ok(addr) => net::Conn::connect_timeout(&addr, timeout),
                    Err(e) => net::Connect::failed(e),
                },
            }
        }
    }

    /// `tcp://HOST:PORT` for `uri`; the port defaults to the scheme's (80 for `http`, 443 for
    /// `https`).
    fn tcp_addr(uri: &Uri) -> Result<String, Error> {
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or(Error::InvalidInput("URI has no host"))?;
        let port = match (uri.port_u16(), uri.scheme_str()) {
            (Some(port), _) => port,
            (None, Some("http")) => 80,
            (None, Some("https")) => 443,
            (None, _) => return Err(Error::InvalidInput("URI has no port and no http(s) scheme")),
        };
        Ok(format!("tcp://{host}:{port}"))
    }

    impl Connector<net::Conn> {
        /// A connector that dials `addr` (`chan://NAME`, `tcp://HOST:PORT` or
        /// `unix:///PATH`) for every URI: the URI then only names the host the requests are
        /// for (HTTP over a Unix socket, say).
        ///
        /// # Errors
        ///
        /// [`Error::InvalidInput`] for a malformed address, as [`net::Addr`]'s parser gives.
        ///
        /// ```
        /// use chanstream::{net, Connector};
        ///
        /// let connector: Connector<net::Conn> = Connector::to("unix:///run/app.sock")?;
        /// assert!(Connector::to("unix://relative").is_err());
        /// # Ok::<(), chanstream::Error>(())
        /// ```
        pub fn to(addr: &str) -> Result<Connector<net::Conn>, Error> {
            Ok(Connector {
                target: NetTarget::To(addr.parse()?),
                timeout: DEFAULT_CONNECT_TIMEOUT,
            })
        }

        /// A connector that dials the URI's host and port over TCP, as
        /// `tcp://HOST:PORT` (the port defaults to 80 for `http` and 443 for `https`).
        ///
        /// ```
        /// use chanstream::{net, Connector};
        ///
        /// let connector: Connector<net::Conn> = Connector::tcp();
        /// # drop(connector);
        /// ```
        pub fn tcp() -> Connector<net::Conn> {
            Connector {
                target: NetTarget::Tcp,
                timeout: DEFAULT_CONNECT_TIMEOUT,
            }
        }
    }

    #[cfg(test)]
    mod tests {
        use super::tcp_addr;

        #[test]
        fn tcp_addr_takes_the_port_from_the_uri_or_the_scheme() {
            let addr = |u: &str| tcp_addr(&u.parse().unwrap());
            assert_eq!(
                addr("http://127.0.0.1:8080/x").unwrap(),
                "tcp://127.0.0.1:8080"
            );
            assert_eq!(addr("http://example.com/").unwrap(), "tcp://example.com:80");
            assert_eq!(addr("https://[::1]/").unwrap(), "tcp://[::1]:443");
            assert!(addr("/only/a/path").is_err());
            assert!(addr("ftp://host/").is_err());
        }
    }
}
