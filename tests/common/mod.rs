//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use std::net::Shutdown;
use std::time::Instant;

use chanstream::{Conn, Error, Listener, Network};
use futures::future::{select, Either};
use futures::io::{AsyncRead, AsyncWrite};

/// Runs `fut` to completion on this thread, failing the test instead of hanging if it takes
/// longer than a minute.
pub fn run<F: Future>(fut: F) -> F::Output {
    futures::executor::block_on(async {
        let fut = std::pin::pin!(fut);
        match select(fut, futures_timer::Delay::new(Duration::from_secs(60))).await {
            Either::Left((out, _)) => out,
            Either::Right(_) => panic!("test future did not complete within 60 s"),
        }
    })
}

/// A connected pair (dialed end, accepted end) in a fresh network.
pub fn pair() -> (Conn, Conn) {
    pair_in(&Network::new().listener().bind("pair").unwrap())
}

/// A connected pair whose directions each buffer `bytes`.
pub fn pair_with_buffer(bytes: usize) -> (Conn, Conn) {
    pair_in(
        &Network::new()
            .listener()
            .buffer_size(bytes)
            .bind("pair")
            .unwrap(),
    )
}

/// Dials `listener` (in its own network) and accepts.
pub fn pair_in(listener: &Listener) -> (Conn, Conn) {
    let net = listener.network();
    run(async {
        futures::try_join!(
            net.connect(listener.local_addr().as_str()),
            listener.accept()
        )
    })
    .unwrap()
}

/// The error carried by an `io::Error` from a read or write.
pub fn chan_err(err: &std::io::Error) -> Error {
    Error::from_io(err).unwrap_or_else(|| panic!("not a chanstream error: {err:?}"))
}

/// Wraps a future and reports, once, the first time it returns `Pending`: a reliable signal
/// that the operation is blocked, where a test would otherwise sleep and hope.
pub struct SignalPending<F> {
    inner: Pin<Box<F>>,
    tx: Option<mpsc::Sender<()>>,
}

pub fn signal_pending<F: Future>(fut: F) -> (SignalPending<F>, mpsc::Receiver<()>) {
    let (tx, rx) = mpsc::channel();
    (
        SignalPending {
            inner: Box::pin(fut),
            tx: Some(tx),
        },
        rx,
    )
}

impl<F: Future> Future for SignalPending<F> {
    type Output = F::Output;
    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let out = self.inner.as_mut().poll(cx);
        if out.is_pending() {
            if let Some(tx) = self.tx.take() {
                let _ = tx.send(());
            }
        }
        out
    }
}

/// A waker that counts how often it was woken.
pub struct CountingWaker(AtomicUsize);

impl Wake for CountingWaker {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

pub fn counting_waker() -> (Waker, Arc<CountingWaker>) {
    let count = Arc::new(CountingWaker(AtomicUsize::new(0)));
    (Waker::from(count.clone()), count)
}

impl CountingWaker {
    pub fn count(&self) -> usize {
        self.0.load(Ordering::SeqCst)
    }
}

/// Polls `fut` once with `waker`.
pub fn poll_once<F: Future + Unpin>(fut: &mut F, waker: &Waker) -> Poll<F::Output> {
    Pin::new(fut).poll(&mut Context::from_waker(waker))
}

/// Deterministic pseudo-random test data for stream `seed` (fast even in debug builds).
pub fn pattern(seed: u64, len: usize) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = vec![0u8; len];
    for chunk in out.chunks_mut(8) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        chunk.copy_from_slice(&x.to_le_bytes()[..chunk.len()]);
    }
    out
}

/// `read` through a shared reference (on a clone, which shares the end), as a future that can
/// be stored.
pub async fn read<C: TestConn>(conn: &C, buf: &mut [u8]) -> std::io::Result<usize> {
    futures::io::AsyncReadExt::read(&mut conn.clone(), buf).await
}

/// `write` through a shared reference, as a future that can be stored.
pub async fn write<C: TestConn>(conn: &C, data: &[u8]) -> std::io::Result<usize> {
    futures::io::AsyncWriteExt::write(&mut conn.clone(), data).await
}

/// `write_all` through a shared reference, as a future that can be stored.
pub async fn write_all<C: TestConn>(conn: &C, data: &[u8]) -> std::io::Result<()> {
    futures::io::AsyncWriteExt::write_all(&mut conn.clone(), data).await
}

/// Polls a future that is not `Unpin` once.
pub fn poll_pinned<F: Future>(fut: Pin<&mut F>, waker: &Waker) -> Poll<F::Output> {
    fut.poll(&mut Context::from_waker(waker))
}

/// Like [`signal_pending`], reporting on an existing channel (for loops of operations).
pub fn signal_pending_to<F: Future>(fut: F, tx: mpsc::Sender<()>) -> SignalPending<F> {
    SignalPending {
        inner: Box::pin(fut),
        tx: Some(tx),
    }
}

/// A multi-threaded tokio runtime with two workers, for the tests that run under tokio.
pub fn tokio_runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap()
}

/// What the suites shared by every transport need of a connection: `chanstream::Conn` and,
/// with the `net` feature, `chanstream::net::Conn` on `chan://`, `tcp://` and `unix://`.
pub trait TestConn:
    AsyncRead + AsyncWrite + Unpin + Clone + Send + Sync + std::fmt::Debug + 'static
{
    fn set_deadline(&self, at: Option<Instant>);
    fn set_read_deadline(&self, at: Option<Instant>);
    fn set_write_deadline(&self, at: Option<Instant>);
    fn shutdown(&self, how: Shutdown) -> Result<(), Error>;
    /// The local and the peer address, as text.
    fn addrs(&self) -> (String, String);
}

macro_rules! impl_test_conn {
    ($t:ty) => {
        impl TestConn for $t {
            fn set_deadline(&self, at: Option<Instant>) {
                <$t>::set_deadline(self, at)
            }
            fn set_read_deadline(&self, at: Option<Instant>) {
                <$t>::set_read_deadline(self, at)
            }
            fn set_write_deadline(&self, at: Option<Instant>) {
                <$t>::set_write_deadline(self, at)
            }
            fn shutdown(&self, how: Shutdown) -> Result<(), Error> {
                <$t>::shutdown(self, how)
            }
            fn addrs(&self) -> (String, String) {
                (self.local_addr().to_string(), self.peer_addr().to_string())
            }
        }
    };
}

impl_test_conn!(Conn);
#[cfg(feature = "net")]
impl_test_conn!(chanstream::net::Conn);

/// A way to make connected pairs: the suites run once per transport.
pub trait Transport {
    type Conn: TestConn;
    /// A connected pair (dialed end, accepted end), private to the caller.
    fn pair() -> (Self::Conn, Self::Conn);
}

/// `chanstream::Conn` itself.
pub struct Chan;

impl Transport for Chan {
    type Conn = Conn;
    fn pair() -> (Conn, Conn) {
        pair()
    }
}

#[cfg(feature = "net")]
#[allow(unused_imports)]
pub use net_transports::*;

#[cfg(feature = "net")]
mod net_transports {
    use super::*;
    use chanstream::net;

    /// A pair dialed and accepted through `chanstream::net` at `addr`.
    pub fn net_pair(addr: &str) -> (net::Conn, net::Conn) {
        run(async {
            let listener = net::Listener::bind(addr).await?;
            let addr = listener.local_addr().to_string();
            futures::try_join!(net::Conn::connect(&addr), listener.accept())
        })
        .unwrap_or_else(|e| panic!("no pair at {addr}: {e}"))
    }

    /// A `unix://` address in a fresh temporary directory, kept until the process exits.
    pub fn unix_addr() -> String {
        let dir = tempfile::tempdir().unwrap().keep();
        format!("unix://{}", dir.join("test.sock").display())
    }

    /// `chan://` through `chanstream::net`, in a name of its own.
    pub struct NetChan;
    impl Transport for NetChan {
        type Conn = net::Conn;
        fn pair() -> (net::Conn, net::Conn) {
            static N: AtomicUsize = AtomicUsize::new(0);
            net_pair(&format!(
                "chan://test-pair-{}-{}",
                std::process::id(),
                N.fetch_add(1, Ordering::Relaxed)
            ))
        }
    }

    /// TCP on 127.0.0.1.
    pub struct Tcp;
    impl Transport for Tcp {
        type Conn = net::Conn;
        fn pair() -> (net::Conn, net::Conn) {
            net_pair("tcp://127.0.0.1:0")
        }
    }

    /// A Unix socket in a temporary directory.
    #[cfg(unix)]
    pub struct Unix;
    #[cfg(unix)]
    impl Transport for Unix {
        type Conn = net::Conn;
        fn pair() -> (net::Conn, net::Conn) {
            net_pair(&unix_addr())
        }
    }
}

/// Writes 64 KiB chunks into `conn` until a write would wait: its outgoing buffers (the
/// peer's too, for a socket) are then full. Returns how many bytes went in.
pub fn fill<C: TestConn>(conn: &C) -> usize {
    let chunk = vec![0x5a; 64 * 1024];
    let waker = futures::task::noop_waker();
    let mut total = 0;
    let mut c = conn.clone();
    loop {
        let mut cx = Context::from_waker(&waker);
        match Pin::new(&mut c).poll_write(&mut cx, &chunk) {
            Poll::Ready(Ok(n)) => total += n,
            Poll::Pending => return total,
            Poll::Ready(Err(e)) => panic!("write failed while filling: {e}"),
        }
    }
}

/// Generates, for each named generic test `fn NAME<T: Transport>()`, one `#[test]` per
/// transport: `chan::NAME` and, with the `net` feature, `net_chan::NAME`, `tcp::NAME` and
/// `unix::NAME`.
#[allow(unused_macros)]
macro_rules! on_every_transport {
    ($($name:ident),* $(,)?) => {
        mod chan {
            $( #[test] fn $name() { super::$name::<crate::common::Chan>() } )*
        }
        #[cfg(feature = "net")]
        mod net_chan {
            $( #[test] fn $name() { super::$name::<crate::common::NetChan>() } )*
        }
        #[cfg(feature = "net")]
        mod tcp {
            $( #[test] fn $name() { super::$name::<crate::common::Tcp>() } )*
        }
        #[cfg(all(feature = "net", unix))]
        mod unix {
            $( #[test] fn $name() { super::$name::<crate::common::Unix>() } )*
        }
    };
}

/// Writes `data` into `conn` until a write fails and returns that error, reporting on `tx`
/// each time a write waits. After [`fill`] a socket may still take a few bytes (the peer's
/// acknowledgements free space), so a test that needs a write blocked until something ends it
/// writes in a loop: a write that went through is followed by one that waits.
pub fn write_until_err<C: TestConn>(conn: &C, data: &[u8], tx: mpsc::Sender<()>) -> std::io::Error {
    loop {
        if let Err(e) = run(signal_pending_to(write(conn, data), tx.clone())) {
            return e;
        }
    }
}

/// A TLS acceptor and connector (ring provider) for the name `tls.test`, with a certificate
/// generated now; `versions` are the protocol versions both allow.
pub fn tls_configs(
    versions: &[&'static futures_rustls::rustls::SupportedProtocolVersion],
) -> (futures_rustls::TlsAcceptor, futures_rustls::TlsConnector) {
    use futures_rustls::pki_types::{PrivateKeyDer, PrivatePkcs8KeyDer};
    use futures_rustls::rustls::{self, ClientConfig, RootCertStore, ServerConfig};
    let key = rcgen::generate_simple_self_signed(vec!["tls.test".to_string()]).unwrap();
    let cert = key.cert.der().clone();
    let private = PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(key.signing_key.serialize_der()));
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let server = ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(versions)
        .unwrap()
        .with_no_client_auth()
        .with_single_cert(vec![cert.clone()], private)
        .unwrap();
    let mut roots = RootCertStore::empty();
    roots.add(cert).unwrap();
    let client = ClientConfig::builder_with_provider(provider)
        .with_protocol_versions(versions)
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        futures_rustls::TlsAcceptor::from(Arc::new(server)),
        futures_rustls::TlsConnector::from(Arc::new(client)),
    )
}
