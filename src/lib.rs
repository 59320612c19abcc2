//! In-process connections with the semantics of TCP sockets.
//!
//! `chanstream` gives you [`Listener`] and [`Conn`]: bind a name, dial it, accept, then read and
//! write bytes through [`futures::io::AsyncRead`] and [`AsyncWrite`](futures::io::AsyncWrite),
//! half-close with [`Conn::shutdown`], and bound operations in time with deadlines. Errors are
//! typed ([`Error`]) and say whether they are timeouts or temporary. Code written against
//! these semantics runs in-process or, with the same logic, over TCP: no socket, no port, no
//! kernel, and no special cases. With the `net` feature, [`net::Listener`] and [`net::Conn`]
//! take an address instead (`chan://NAME`, `tcp://HOST:PORT`, `unix:///PATH`), so one program
//! runs on any of them with the same semantics. With the `axum`, `tonic` and `hyper` features,
//! `axum::serve` takes a [`Listener`], tonic's `serve_with_incoming` takes its `incoming()`
//! connections, and `Connector` dials for hyper-util's client and tonic's `Endpoint`; the
//! `guide` module (with those features) shows how to test a web service in-process.
//!
//! Unlike a bare pipe, a connection has a handshake (a dial waits for `accept`, with a backlog
//! and a timeout), addresses, independent half-closes, and deadlines that wake operations
//! already waiting. It needs no runtime: it works under any executor, or
//! `futures::executor::block_on`.
//!
//! # Rules in brief
//!
//! - A dial to a name nobody listens on fails at once with [`Error::ConnectionRefused`]; a full
//!   backlog fails it at once with [`Error::ListenQueueFull`].
//! - Each direction buffers a bounded number of bytes; a writer facing a full buffer waits.
//! - `shutdown(Write)` (or `close`) lets the peer read what was written, then end of stream;
//!   `shutdown(Read)` discards unread bytes and makes the peer's writes fail with `BrokenPipe`.
//!   Dropping the last clone of an end is `shutdown(Both)`. See [`Conn`] for the full table.
//! - A passed deadline fails every read (write) at once with [`Error::ReadTimeout`]
//!   ([`Error::WriteTimeout`]), moving no bytes; clearing it makes the connection usable again.
//!
//! # Example
//!
//! ```
//! use chanstream::{Conn, Listener};
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use std::net::Shutdown;
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! futures::executor::block_on(async {
//!     let listener = Listener::bind("example")?;
//!     // Dial and accept concurrently: `connect` completes once `accept` takes it.
//!     let (mut client, mut server) =
//!         futures::try_join!(Conn::connect("example"), listener.accept())?;
//!
//!     client.write_all(b"ping").await?;
//!     let mut buf = [0; 4];
//!     server.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"ping");
//!
//!     // Half-close: the server reads what was sent, then end of stream, and can still reply.
//!     client.shutdown(Shutdown::Write)?;
//!     assert_eq!(server.read(&mut buf).await?, 0);
//!     server.write_all(b"pong").await?;
//!     client.read_exact(&mut buf).await?;
//!     assert_eq!(&buf, b"pong");
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Testing a server in-process
//!
//! Write the server against a [`Listener`] (or any stream of connections) and the client against
//! a [`Conn`]; in tests, give each test its own [`Network`] so tests running in parallel can use
//! the same names without colliding, and so nothing outside the test can reach the server:
//!
//! ```
//! use chanstream::{Listener, Network};
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//!
//! /// The code under test: answers each connection with a greeting.
//! async fn greeter(listener: Listener) -> Result<(), chanstream::Error> {
//!     loop {
//!         let mut conn = listener.accept().await?;
//!         let greeting = format!("hello, {}\n", conn.peer_addr());
//!         conn.write_all(greeting.as_bytes()).await.map_err(|_| chanstream::Error::ConnectionClosed)?;
//!     }
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! futures::executor::block_on(async {
//!     let net = Network::new(); // private to this test
//!     let listener = net.bind("greeter")?;
//!     let server = greeter(listener);
//!     let client = async {
//!         let mut conn = net.connect("greeter").await?;
//!         let mut reply = String::new();
//!         conn.read_to_string(&mut reply).await?;
//!         Ok::<_, Box<dyn std::error::Error>>(reply)
//!     };
//!     futures::pin_mut!(server);
//!     // Run the server until the client is done; the client reads until the server drops
//!     // the connection after greeting.
//!     let reply = match futures::future::select(server, Box::pin(client)).await {
//!         futures::future::Either::Right((reply, _server)) => reply?,
//!         futures::future::Either::Left((result, _)) => panic!("server stopped: {result:?}"),
//!     };
//!     assert!(reply.starts_with("hello, greeter#"));
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # Testing under faults
//!
//! A perfect network hides the bugs real ones expose: a parser that assumes one read is one
//! message, a client with no timeout, a retry loop that never gives up. Give a [`Network`] (or
//! one listener, or one dial) a seeded [`Faults`] and its connections misbehave the way
//! networks do, deterministically, without a proxy process or a socket:
//!
//! | knob | what the code under test sees |
//! |---|---|
//! | [`Faults::short_reads`], [`Faults::short_writes`] | reads and writes that move fewer bytes than they could |
//! | [`Faults::latency`], [`Faults::bandwidth`] | bytes that arrive late, or slowly, per direction ([`Toward`]) |
//! | [`Faults::stall`], [`Faults::release`] | bytes held until the test lets them go |
//! | [`Faults::partition`], [`Faults::heal`] | two names that cannot reach each other ([`Connect::origin`] names a dialer) |
//! | [`Faults::reset_now`], [`Faults::reset_after_bytes`], [`Faults::reset_at`] | [`Error::ConnectionReset`] at both ends, unread bytes gone |
//! | [`Faults::refuse_dials`], [`Faults::time_out_dials`], [`Faults::delay_dials`], [`Faults::fill_backlog`] | dials that fail or wait |
//!
//! Each knob's page has an example. Faults change timing and chunking only: nothing is lost,
//! duplicated, reordered or corrupted unless a reset was asked for. [`Faults::stats`] counts
//! what happened; the seed is in a faulty connection's `Debug`, and
//! [`Faults::for_each_seed`] runs a test over many seeds and names the one that failed, with
//! the setting that replays it ([`SEED_VAR`]). With the `net` feature the same faults apply to
//! TCP and Unix sockets ([`net`](crate::net#faults-on-sockets)).
//!
//! Time is a seam too: a [`Network::with_clock`] runs its deadlines, handshake and accept
//! timeouts and fault delays on a [`ManualClock`] that the test advances (an hour passes in
//! no time, and the same steps give the same result), or on tokio's clock ([`Clock::tokio`],
//! feature `tokio`) so that `tokio::time::pause()` applies to them.
//!
//! ```
//! use chanstream::{Error, Faults, ManualClock, Network, Toward};
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use std::time::Duration;
//!
//! /// The code under test: reads one length-prefixed frame.
//! async fn read_frame(conn: &mut chanstream::Conn) -> std::io::Result<Vec<u8>> {
//!     let mut len = [0; 2];
//!     conn.read_exact(&mut len).await?; // `read` would be the bug short reads expose
//!     let mut body = vec![0; u16::from_be_bytes(len) as usize];
//!     conn.read_exact(&mut body).await?;
//!     Ok(body)
//! }
//!
//! # fn main() -> Result<(), chanstream::SeedFailure> {
//! Faults::for_each_seed(0..50, |faults| {
//!     let clock = ManualClock::new();
//!     faults
//!         .short_reads(0.5)
//!         .short_writes(0.5)
//!         .latency(Toward::Both, Duration::from_millis(20), Duration::from_millis(10));
//!     futures::executor::block_on(async {
//!         let net = Network::with_clock(clock.clone());
//!         net.set_faults(Some(faults));
//!         let listener = net.bind("svc")?;
//!         let (mut client, mut server) = futures::try_join!(net.connect("svc"), listener.accept())?;
//!         client.write_all(&[0, 5, b'h', b'e', b'l', b'l', b'o']).await?;
//!         client.set_read_deadline(Some(clock.now() + Duration::from_secs(3600)));
//!         let frame = read_frame(&mut server);
//!         futures::pin_mut!(frame);
//!         let frame = loop {
//!             match futures::poll!(frame.as_mut()) {
//!                 std::task::Poll::Ready(frame) => break frame?,
//!                 // The bytes are in flight: let time pass.
//!                 std::task::Poll::Pending => clock.advance(Duration::from_millis(5)),
//!             }
//!         };
//!         assert_eq!(frame, b"hello");
//!         clock.advance(Duration::from_secs(3600)); // the client's deadline passes
//!         let err = client.read(&mut [0; 1]).await.unwrap_err();
//!         assert_eq!(Error::from_io(&err), Some(Error::ReadTimeout));
//!         Ok::<(), Box<dyn std::error::Error>>(())
//!     })
//! })
//! # }
//! ```
//!
//! # Features
//!
//! - `tokio` (off by default): implements `tokio::io::AsyncRead` and `AsyncWrite` for [`Conn`]
//!   and `&Conn`, so tokio code (hyper through `hyper_util::rt::TokioIo`, tonic, tokio codecs)
//!   uses a connection directly, without `tokio_util::compat`, and adds [`Clock::tokio`]. It
//!   builds tokio's I/O traits and its runtime handle and timer (for the clock), and starts
//!   nothing: no runtime of its own. Without it the crate depends on no executor at all.
//! - `net` (off by default): the [`net`] module, one API over in-process (`chan://NAME`), TCP
//!   (`tcp://HOST:PORT`) and Unix (`unix:///PATH`) connections chosen by address, with the
//!   semantics of [`Conn`] on every transport. Sockets run on `async-io`'s self-driving
//!   reactor, so it needs no executor either.
//!
//! # Implementation
//!
//! - **Registry.** Names live in a [`Network`]; the global one is created lazily on first use.
//!   A listener's backlog is an `async-channel` of dial requests, each request being the new
//!   connection itself (so a dial allocates nothing else); each is settled once, under the
//!   lock of the dialed end's direction, by whichever of `accept`, the dialer's timeout (or
//!   drop), or the listener's close comes first, so `accept` never returns a connection whose
//!   dialer is gone. The dialer waits in that direction's list of waiters, unused until then.
//! - **Data.** Each direction is a byte ring behind its own mutex, allocated as bytes flow and
//!   never beyond its bound; a write copies what fits (at most 256 KiB, see below) and returns
//!   its count, so a huge write is split. The two directions share no lock. A [`Reader`] takes the whole ring at once by
//!   swapping buffers with the connection, so in-place reading costs only the writer's copy,
//!   and [`Conn::write_owned`] installs a chunk as the ring itself, so owned chunks move with
//!   no copy (a chunk with spare capacity is shrunk to fit first, in place under glibc). Both directions, the listener's name, the dial's number and a handle count per
//!   end live in one allocation (the dialed end's address, `name#number`, is made when asked
//!   for, which saves an allocation per dial); deadline state and its timers are allocated on
//!   first use. That allocation is 200 bytes (an idle connected pair measured 212 bytes of
//!   process memory against 224 for tokio's `duplex` in the `peers` benchmark's memory row):
//!   a direction's state is 64 bytes, its yes/no facts bits of one byte, its ring a boxed
//!   slice, and its readers and writers wait in one list (a reader waits on an empty buffer,
//!   a writer on a full one, so they almost never wait at once; any change wakes both, and
//!   each re-checks).
//!
//!   A waiting task registers its waker under the direction's lock, and the task that changes
//!   the state takes the waiters under that lock and wakes them once it is released (a wake-up
//!   may run executor code that drops a connection, which takes the lock); only a task woken
//!   by its own read or write (both ends, or both halves, in one `join!`), which is running, is
//!   woken in place, through its own waker. The waker of the last task to wait is kept after it
//!   is woken, so a reader that waits again and again is not cloned each time (a writer that
//!   waits on a full buffer displaces the reader's kept waker, so with both waiting in turn
//!   each wait clones once). After
//!   128 operations in a row that did not wait, a read or write yields once (it wakes its task
//!   and returns `Pending`), so a stream that another thread keeps ready cannot starve the
//!   other tasks of an executor.
//!
//!   The buffer is large (1 MiB by default) because with the two ends on two threads each
//!   empty or full buffer costs a cross-thread wake-up, which on the 2-core machine measured
//!   takes 10 to 50 µs; a larger buffer means fewer of them. With both ends on one thread a
//!   large buffer would instead fall out of cache, as the writer fills it all before the
//!   reader runs. So a write that wakes a waiting reader remembers it, and once 16 KiB are
//!   buffered and that reader has not read, the next write yields once (between two reads):
//!   a reader on the same thread then drains bytes still in cache, and a reader on another
//!   thread, already running, loses nothing. For the same reason a copying write moves at most
//!   256 KiB per call (`write_all` carries on with the rest). Measured: one thread, 16 KiB
//!   writes, 1 MiB buffer (`buffer_size` benchmark), 20.7 to 26.5 GB/s without the hand-over
//!   and 45 to 58 GB/s with it; two threads, 16 KiB and 256 KiB writes (`peers` benchmark), 5.9 and
//!   4.3 GB/s with a 256 KiB buffer, 10.8 to 15.3 and 10.9 to 13.6 GB/s over four runs with
//!   1 MiB.
//!
//!   A read or write without faults that moves at least 4 KiB copies its bytes with the
//!   direction's lock released: the ring lends the region (its free bytes to the writer, its
//!   oldest bytes to the reader) and takes it back under the lock, so with the two ends on two
//!   threads the writer's copy in and the reader's copy out overlap instead of taking turns.
//!   This is the crate's only `unsafe` code, in the private `ring` module, model-checked with
//!   loom (which sees every byte access) and run under ThreadSanitizer, AddressSanitizer and
//!   valgrind. Measured with the copies under the lock, two pinned threads: at 256 KiB writes
//!   the two threads used 1.09 CPUs between them (`perf stat`), and at 16 KiB a third of all
//!   futex calls were waits on the pipe's mutex (a lock convoy), with 1.6 to 6.7 GB/s at
//!   16 KiB and 256 KiB writes. With the lent copies (`peers` benchmark, four `--only
//!   throughput` runs), 11.3 to 13.3 and 11.8 to 13.5 GB/s (1.07x to 1.20x and 1.19x to 1.43x
//!   tokio's 1 MiB `duplex` in the same runs). Smaller transfers stay under the
//!   lock: a lent copy takes the lock twice, which at 1 KiB costs about as much as the copy.

//!   `async-channel` carries the backlog, not the bytes: a byte ring moves any mix of write
//!   sizes with one lock per write and lets one read drain many writes, and with the swap and
//!   the owned path it also provides the one-copy and zero-copy paths. A channel of chunks was
//!   not built for comparison; the `peers` benchmark measures the ring against tokio's
//!   `duplex`, `piper` and Unix socket pairs (see the README for a run).
//! - **Timers.** Deadlines and handshake timeouts use `futures-timer`, which runs one helper
//!   thread for the process. Deadlines are timer-armed, as Go's `net.Pipe` has them:
//!   setting one in the future arms a timer (or keeps one already armed that fires no later:
//!   it fires early, finds the deadline moved, and is armed again), and the timer marks the
//!   deadline expired and wakes its waiters; setting one already passed expires it at once.
//!   A read or write checks the expired flag under the direction's lock and never reads the
//!   clock, and setting `now + 5 s` before every operation costs one clock read and no timer.
//!   A dial arms its handshake timer only if it is
//!   still waiting after yielding once, so promptly accepted dials create none. The crate
//!   spawns no tasks and depends on no executor.

#![deny(unsafe_code)]
#![deny(unsafe_op_in_unsafe_fn, clippy::undocumented_unsafe_blocks)]
#![cfg_attr(docsrs, feature(doc_cfg))]
#![warn(missing_docs, missing_debug_implementations, unreachable_pub)]

#[macro_use]
mod stream_io;

mod accept;
mod addr;
#[cfg(feature = "axum")]
mod axum_serve;
mod backlog;
mod clock;
mod conn;
mod connect;
#[cfg(feature = "hyper")]
mod connector;
mod deadline;
mod end;
mod error;
mod faults;
#[cfg(all(feature = "axum", feature = "tonic", feature = "hyper"))]
#[cfg_attr(
    docsrs,
    doc(cfg(all(feature = "axum", feature = "tonic", feature = "hyper")))
)]
pub mod guide;
mod handshake;
mod link;
mod listener;
#[cfg(loom)]
#[doc(hidden)]
pub mod loom_hooks;
#[cfg(feature = "net")]
#[cfg_attr(docsrs, doc(cfg(feature = "net")))]
pub mod net;
mod network;
mod pipe;
mod reader;
#[cfg(any(feature = "net", loom))]
mod readiness;
#[allow(unsafe_code)]
mod ring;
mod sync;
#[cfg(feature = "tonic")]
mod tonic_connected;
mod waiters;

use std::time::Duration;

pub use accept::{Accept, Incoming};
pub use addr::Addr;
pub use clock::{Clock, ManualClock};
pub use conn::Conn;
pub use connect::Connect;
#[cfg(feature = "hyper")]
#[cfg_attr(docsrs, doc(cfg(feature = "hyper")))]
pub use connector::Connector;
pub use error::Error;
pub use faults::{FaultStats, Faults, SeedFailure, Toward, SEED_VAR};
pub use listener::{Listener, ListenerBuilder};
pub use network::Network;
pub use reader::Reader;

/// How many dials may wait for `accept` at once, unless [`ListenerBuilder::backlog`] says
/// otherwise.
///
/// ```
/// assert_eq!(chanstream::DEFAULT_BACKLOG, 32);
/// ```
pub const DEFAULT_BACKLOG: usize = 32;

/// How many bytes each direction of a connection buffers, unless
/// [`ListenerBuilder::buffer_size`] says otherwise: 1 MiB.
///
/// Chosen by measurement (the crate's `buffer_size` benchmark, on 2 cores, with
/// `GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=100000000`): with reader and writer on two
/// threads, where every full or empty buffer costs a cross-thread wake-up, 1 MiB moved 1 KiB,
/// 16 KiB and 256 KiB writes at 5.7, 12.4 and 7.7 GB/s, against 4.0, 3.7 and 3.8 GB/s for
/// 256 KiB and about 1 GB/s for 64 KiB. With both ends on one thread a large buffer would fall
/// out of cache, so a writer that woke a reader hands over to it once 16 KiB are waiting (see
/// the crate's Implementation notes), and 1 MiB moves 16 KiB writes as fast as 256 KiB does
/// (56 and 60 GB/s in the same run). Buffers are allocated as bytes flow and never beyond the
/// bound, so an idle connection costs none of this; a busy one whose reader lags holds up to
/// 1 MiB per direction (twice that with a [`Reader`] holding a full buffer). Sizes above
/// 4 GiB − 1 byte are capped there.
///
/// ```
/// assert_eq!(chanstream::DEFAULT_BUFFER_SIZE, 1024 * 1024);
/// ```
pub const DEFAULT_BUFFER_SIZE: usize = 1024 * 1024;

/// How long [`Conn::connect`] waits for `accept`.
///
/// ```
/// assert_eq!(chanstream::DEFAULT_CONNECT_TIMEOUT, std::time::Duration::from_secs(10));
/// ```
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

// The README's examples use the `net`, `axum` and `hyper` features, so they are tested where
// those are enabled (as `.ci/run`'s `cargo test --all-features` does).
#[cfg(all(doctest, feature = "net", feature = "axum", feature = "hyper"))]
#[doc = include_str!("../README.md")]
struct ReadmeDoctests;
