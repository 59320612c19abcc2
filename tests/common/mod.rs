//! Helpers shared by the integration tests.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::Duration;

use chanstream::{Conn, Error, Listener, Network};
use futures::future::{select, Either};

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

/// `read` through a shared reference, as a future that can be stored.
pub async fn read(mut conn: &Conn, buf: &mut [u8]) -> std::io::Result<usize> {
    futures::io::AsyncReadExt::read(&mut conn, buf).await
}

/// `write` through a shared reference, as a future that can be stored.
pub async fn write(mut conn: &Conn, data: &[u8]) -> std::io::Result<usize> {
    futures::io::AsyncWriteExt::write(&mut conn, data).await
}

/// `write_all` through a shared reference, as a future that can be stored.
pub async fn write_all(mut conn: &Conn, data: &[u8]) -> std::io::Result<()> {
    futures::io::AsyncWriteExt::write_all(&mut conn, data).await
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
