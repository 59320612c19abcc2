//! One API over in-process, TCP and Unix connections, chosen by address (feature `net`).
//!
//! A program written against [`net::Listener`](Listener) and [`net::Conn`](Conn) runs over
//! in-process connections, TCP or Unix sockets by changing an address string, with no special
//! cases: the same deadlines, the same half-closes, the same errors.
//!
//! | address | transport |
//! |---|---|
//! | `chan://NAME` | in-process ([`chanstream::Conn`](crate::Conn)), in [`Network::global`](crate::Network::global); any other network through `From<chanstream::Listener>` and `From<chanstream::Conn>` |
//! | `tcp://HOST:PORT` | TCP: an IPv4 address, an IPv6 address in brackets (`tcp://[::1]:80`) or a host name; port 0 binds a free port |
//! | `unix:///ABS/PATH` | a Unix domain stream socket (Unix only) |
//!
//! A malformed address, an unknown scheme or a relative Unix path is an
//! [`Error::InvalidInput`](crate::Error::InvalidInput) whose text names the problem: never a
//! panic, never a fallback to another transport.
//!
//! ```
//! use chanstream::net::{Conn, Listener};
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use std::net::Shutdown;
//!
//! /// Written once, for every transport.
//! async fn exchange(addr: &str) -> Result<String, Box<dyn std::error::Error>> {
//!     let listener = Listener::bind(addr).await?;
//!     let addr = listener.local_addr().to_string(); // the port the OS picked, for tcp://…:0
//!     let (mut client, mut server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
//!     client.write_all(b"hello").await?;
//!     client.shutdown(Shutdown::Write)?;
//!     let mut got = String::new();
//!     server.read_to_string(&mut got).await?;
//!     Ok(got)
//! }
//!
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! futures::executor::block_on(async {
//!     let dir = std::env::temp_dir().join(format!("chanstream-doc-{}", std::process::id()));
//!     std::fs::create_dir_all(&dir)?;
//!     let unix = format!("unix://{}", dir.join("doc.sock").display());
//!     for addr in ["chan://doc-net", "tcp://127.0.0.1:0", unix.as_str()] {
//!         assert_eq!(exchange(addr).await?, "hello");
//!     }
//!     std::fs::remove_dir_all(&dir)?;
//!     Ok(())
//! })
//! # }
//! ```
//!
//! # One semantics on every transport
//!
//! What an end sees of its own operations is the crate's, not the OS's, on every transport:
//!
//! - **Deadlines** as [`chanstream::Conn::set_deadline`](crate::Conn::set_deadline) (Go's
//!   `net.Conn` rules): a passed read (write) deadline fails every read (write) at once with
//!   `ReadTimeout` (`WriteTimeout`), moving no bytes; changing a deadline wakes the operations
//!   blocked under it; a timeout never damages the connection. The accept deadline likewise.
//!   On sockets a deadline set in the future takes effect when its timer fires (timer-armed
//!   deadlines, as Go's `net.Pipe` has them): an operation may still complete in the timer thread's
//!   latency after the deadline's instant, never after the timer fired; a deadline already
//!   passed when set takes effect at once.
//! - **Local shutdown**: after `shutdown(Read)` reads return `Ok(0)` at once; after
//!   `shutdown(Write)` (or `close`) writes fail with `BrokenPipe`; both hold on every clone at
//!   once, and repeating a shutdown changes nothing.
//! - **Errors**: the same [`Error`](crate::Error) variants and [`std::io::ErrorKind`]s:
//!   `ConnectionRefused` when nothing listens (for `unix://`, also a path with no socket file),
//!   `AddrInUse`, `ConnectTimeout` (every transport's dial is bounded: 10 s by default),
//!   `ReadTimeout` / `WriteTimeout` / `AcceptTimeout`, `ConnectionClosed` (`BrokenPipe`) for a
//!   write that can no longer be delivered. Any other OS error keeps its kind and raw code
//!   ([`Error::Os`](crate::Error::Os), or the OS's own `io::Error` from a read or write).
//! - Clones of a [`Conn`] share one socket; [`AsyncRead`](futures::io::AsyncRead) and
//!   [`AsyncWrite`](futures::io::AsyncWrite) are implemented for `Conn` and `&Conn` (tokio's
//!   too with the `tokio` feature); `poll_flush` succeeds at once. TCP sockets are set to
//!   `TCP_NODELAY`, as Go sets them, so a small write leaves at once.
//!
//! # What the peer sees
//!
//! What a socket's *peer* sees after some operations is decided by the OS. A is one end, B
//! its peer; Linux's behaviour, each cell checked by the crate's tests:
//!
//! | | `chan://` | `tcp://` | `unix://` |
//! |---|---|---|---|
//! | B writes after A's `shutdown(Read)` | fail with `BrokenPipe` at once, also a write already waiting | succeed (A never reads the bytes) until the kernel's buffers are full, then wait until A closes | fail with `BrokenPipe` |
//! | B reads after A closed with unread bytes in its incoming direction | every byte A wrote, then end of stream | the OS answers with a reset: B may get part of what A wrote, then `ConnectionReset` | what A wrote, then `ConnectionReset` |
//! | B writes after A closed | fail with `BrokenPipe` | the first write may succeed, later ones fail with `BrokenPipe` | fail with `BrokenPipe` |
//! | `shutdown` by B after a reset | `Ok` | the OS's `NotConnected` ([`Error::Os`](crate::Error::Os)); the local effects hold | `Ok` |
//! | a dial completes | when `accept` takes it | when the kernel queues it, before `accept` | when the kernel queues it, before `accept` |
//! | a dial to a listener whose backlog is full | fails at once with `ListenQueueFull` | waits (the kernel retries) until a slot frees or the dial's timeout: `ConnectTimeout`; never `ListenQueueFull` | fails at once with `ListenQueueFull` |
//!
//! The crate's conformance suite (a port of Go's nettest `TestConn`) and its shutdown, deadline
//! and robustness suites run on `chan://`, on `chan://` through this layer, on TCP and on Unix
//! from one generic harness. The tests that stay `chan://`-only, and why:
//!
//! | tests | why they cannot hold for a socket |
//! |---|---|
//! | the peer's write fails after `shutdown(Read)`, `shutdown(Both)` or the last clone dropped, also when it was already waiting, and every shutdown combination ending in that check | the first row of the table: TCP takes the peer's writes |
//! | a blocked writer fails with `BrokenPipe` when its peer vanishes with unread bytes | the second row: TCP answers with a reset, the writer may see `ConnectionReset` |
//! | writes stop at exactly the buffer size; a single write is split at it | a socket's buffers are the kernel's, sized and resized by it |
//! | a write's bytes are readable by the peer the moment the write returns | on a socket that is the kernel's timing (it passes on loopback, but Linux may defer delivery under load) |
//! | concurrent 8-byte readers each get whole 8-byte records | a socket may return a short read at any byte (the bytes are still disjoint and in order) |
//! | dials held in the backlog until `accept` (accept deadlines with dials waiting, dropped dials under load, a thousand dials in a backlog of 1000) | the fifth row: a socket's dial completes in the kernel before `accept` |
//! | lock order and waker-drop cases of the in-process pipe; `Conn::reader` | internals and API of `chanstream::Conn` only |
//!
//! So the graceful close, the one that loses nothing on every transport, is: `shutdown(Write)`,
//! read to end of stream, then drop (Go's `TCPConn.Close` with unread data resets the
//! connection too).
//!
//! ```
//! # futures::executor::block_on(async {
//! use chanstream::net::{Conn, Listener};
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use std::net::Shutdown;
//!
//! let listener = Listener::bind("tcp://127.0.0.1:0").await?;
//! let addr = listener.local_addr().to_string();
//! let (mut client, mut server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
//! client.write_all(b"request").await?;
//! client.shutdown(Shutdown::Write)?; // end of stream for the server
//! let mut request = Vec::new();
//! server.read_to_end(&mut request).await?; // drained: nothing is left unread
//! server.write_all(b"reply").await?;
//! server.shutdown(Shutdown::Write)?;
//! let mut reply = Vec::new();
//! client.read_to_end(&mut reply).await?;
//! assert_eq!((&request[..], &reply[..]), (&b"request"[..], &b"reply"[..]));
//! drop((client, server)); // both ends drained: no reset, on any transport
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Unix socket files
//!
//! A Unix listener removes the socket file it created when it is closed or dropped (unless
//! another file has replaced it meanwhile), so the path can be bound again. Binding a path
//! that holds a socket file left by a listener that no longer exists (a process that died
//! without closing it, which every dial to is refused) replaces that file; a path where a
//! listener is live, or that holds anything other than a socket, fails with `AddrInUse`. A
//! dialed Unix end has no name: its local address displays as `unix://`, the one address that
//! does not parse back.
//!
//! # Faults on sockets
//!
//! [`Faults`](crate::Faults) apply to TCP and Unix sockets too:
//! [`ListenerBuilder::faults`] for the connections a listener accepts,
//! [`Connect::faults`] for a dial and its connection. On `chan://` these are the in-process
//! faults themselves. On a socket, the `Conn` returned is one end of an in-process connection
//! made under the faults, and a relay thread (one per faulty socket) copies bytes between its
//! other end and the socket. So short reads and writes, latency, bandwidth and stalls act on
//! a socket exactly as on `chan://`, deadlines and shutdowns keep their rules, and
//! `local_addr`/`peer_addr` are the socket's. Across the relay:
//!
//! - a `shutdown(Write)` of this end becomes the socket's; the peer's end of stream becomes
//!   this end's, after the bytes before it;
//! - a reset asked of the faults fails this end with [`Error::ConnectionReset`](crate::Error)
//!   and closes the socket with a reset (TCP sends an RST; a Unix peer sees the close);
//!   a socket reset by the peer resets this end;
//! - the last handle dropped ends the relay and closes the socket.
//!
//! Dial faults (refuse, time out, delay, full backlog) apply where the dial is made. A write
//! completes once the relay buffers it (64 KiB each way, as a kernel's socket buffer would),
//! and timing runs on the wall clock (sockets have no [`Network`](crate::Network) clock).
//!
//! ```
//! # futures::executor::block_on(async {
//! use chanstream::net::{Conn, Listener};
//! use chanstream::{Faults, Toward};
//! use futures::io::{AsyncReadExt, AsyncWriteExt};
//! use std::time::Duration;
//!
//! let faults = Faults::new(11);
//! faults
//!     .short_reads(0.5)
//!     .latency(Toward::Both, Duration::from_micros(100), Duration::from_micros(100));
//! let listener = Listener::builder().faults(&faults).bind("tcp://127.0.0.1:0").await?;
//! let addr = listener.local_addr().to_string();
//! let (mut client, mut server) = futures::try_join!(Conn::connect(&addr), listener.accept())?;
//! client.write_all(b"over a slow, choppy socket").await?;
//! let mut got = [0; 26];
//! server.read_exact(&mut got).await?;
//! assert_eq!(&got, b"over a slow, choppy socket");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```
//!
//! # Implementation
//!
//! TCP and Unix sockets run on `async-io`'s reactor, which drives itself from a helper thread
//! of its own (as `futures-timer` runs one for timers), so `net` works under
//! `futures::executor::block_on`, a thread pool, smol or tokio. Deadlines and the local
//! shutdown effects are the crate's, written once for both socket transports: each direction
//! of a socket keeps its shutdown flag, its deadline and the tasks waiting on it; an operation
//! checks the flag, then whether the deadline has expired (one atomic load, no clock), then
//! tries the socket, and when it must wait it registers its task there and asks the reactor
//! for readiness with the direction's own waker, which wakes every registered task. Deadlines
//! are Go's timer-armed ones: setting a deadline in the future arms a timer, which marks the
//! deadline expired and wakes the waiters when it fires; setting one already passed marks it
//! expired at once. A shutdown, an expiry and a readiness event all wake the same tasks, which
//! re-check in that order. A timer that fires no later than a new deadline is kept (it fires,
//! finds the deadline moved, and is re-armed for it), so setting `now + 5 s` before every
//! operation costs a clock read and two atomic operations, and no timer registration. Host
//! names are resolved by the system resolver on a thread
//! started for the purpose.

mod addr;
mod chan;
mod conn;
mod faulty;
mod listener;
mod socket;
mod tcp;
#[cfg(unix)]
mod unix;

pub use addr::Addr;
pub use conn::{Conn, Connect};
pub use listener::{Accept, Incoming, Listener, ListenerBuilder, DEFAULT_SOCKET_BACKLOG};
