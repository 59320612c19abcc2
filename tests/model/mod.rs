//! A model of one connection and one listener, written from the contract (SPEC sections 2-4,
//! 6 and 7), and a driver that runs a sequence of operations against the real crate, polling
//! every future by hand and checking each result against the model after every step.
//!
//! Shared by `tests/model_based.rs` (seeded sequences) and the `model` fuzz target (sequences read
//! from the fuzzer's bytes), through [`Choices`].

use std::collections::VecDeque;
use std::future::Future;
use std::net::Shutdown;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll, Wake, Waker};
use std::time::{Duration, Instant};

use chanstream::{Conn, Connect, Error, Listener, ManualClock, Network};
use futures::io::{AsyncRead, AsyncWrite};

/// Where a sequence's choices come from.
pub trait Choices {
    /// A number below `n` (`n > 0`), or `None` once the choices run out.
    fn below(&mut self, n: usize) -> Option<usize>;
}

/// Seeded choices (splitmix64), for sequences replayable from their seed.
pub struct Seeded(pub u64);

impl Choices for Seeded {
    fn below(&mut self, n: usize) -> Option<usize> {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Some(((z ^ (z >> 31)) % n as u64) as usize)
    }
}

/// Choices read from a byte string (a fuzzer's input), two bytes each.
pub struct Bytes<'a>(pub &'a [u8]);

impl Choices for Bytes<'_> {
    fn below(&mut self, n: usize) -> Option<usize> {
        let head = self.0.get(..2)?;
        let choice = u16::from_le_bytes([head[0], head[1]]) as usize % n;
        self.0 = &self.0[2..];
        Some(choice)
    }
}

/// Counts its wake-ups.
struct Count(AtomicUsize);

impl Wake for Count {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
    fn wake_by_ref(self: &Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

fn counter() -> (Arc<Count>, Waker) {
    let c = Arc::new(Count(AtomicUsize::new(0)));
    (c.clone(), Waker::from(c))
}

fn wakes(c: &Count) -> usize {
    c.0.load(Ordering::SeqCst)
}

/// Bytes each direction buffers, and the listener's backlog.
const CAPACITY: usize = 8;
const BACKLOG: usize = 2;
/// How many yields in a row an operation may make before it counts as stuck.
const YIELDS: usize = 8;
/// The handshake timeout of every dial, in seconds.
const DIAL_TIMEOUT: i64 = 3;

/// One direction of the connection, as the contract describes it: indexed by the end that
/// writes it.
#[derive(Default, Debug)]
struct Dir {
    buf: VecDeque<u8>,
    /// The reading end shut reading (or its last handle went).
    read_shut: bool,
    /// The writing end shut writing (or its last handle went).
    write_shut: bool,
    /// The reading end's read deadline and the writing end's write deadline, in model seconds.
    read_deadline: Option<i64>,
    write_deadline: Option<i64>,
    /// The next byte value the writer sends (stream position, so loss or reordering shows).
    next: u8,
}

/// What the contract says an operation does now.
#[derive(Debug, PartialEq)]
enum Expect {
    /// Completes with one of these (more than one where the contract leaves a choice).
    OneOf(Vec<Result<usize, Error>>),
    /// Moves between 1 and this many bytes.
    Moves(usize),
    /// Waits.
    Waits,
}

fn is(outcome: Result<usize, Error>) -> Expect {
    Expect::OneOf(vec![outcome])
}

/// `err`, or, for an operation of zero bytes, `Ok(0)` too: the contract says both that such
/// an operation on an open stream returns `Ok(0)` at once and that it fails like any other
/// once a deadline passed or the peer stopped reading.
fn fails(err: Error, n: usize) -> Expect {
    if n == 0 {
        Expect::OneOf(vec![Ok(0), Err(err)])
    } else {
        is(Err(err))
    }
}

#[derive(Debug, Clone, Copy)]
enum Io {
    Read(usize),
    Write(usize),
}

/// An operation that returned `Pending`, with its waker, kept to check it is woken.
struct Waiting {
    end: usize,
    handle: u64,
    io: Io,
    count: Arc<Count>,
    waker: Waker,
    seen: usize,
}

struct Dial {
    id: u64,
    /// When its handshake timeout ends it, in model seconds.
    gives_up: i64,
    fut: Pin<Box<Connect>>,
    count: Arc<Count>,
    waker: Waker,
    seen: usize,
}

/// The real objects and the model, side by side.
pub struct Run {
    clock: ManualClock,
    start: Instant,
    /// Model time, in whole seconds since `start`.
    now: i64,
    net: Network,
    /// Where each new connection is dialed.
    pairs: Listener,
    listener: Option<Listener>,
    closed: bool,
    /// The listener's accept deadline, in model seconds.
    accept_deadline: Option<i64>,
    dials: Vec<Dial>,
    /// Handles of each end (0 dialed, 1 accepted), with ids.
    handles: [Vec<(u64, Conn)>; 2],
    dirs: [Dir; 2],
    waiting: Vec<Waiting>,
    next_id: u64,
    /// What was done, for the failure message.
    pub trace: Vec<String>,
}

impl Run {
    pub fn new() -> Run {
        let clock = ManualClock::new();
        let net = Network::with_clock(clock.clock());
        let listener = net.listener().backlog(BACKLOG).bind("model").unwrap();
        let pairs = net.listener().buffer_size(CAPACITY).bind("pairs").unwrap();
        let start = clock.now();
        let mut run = Run {
            clock,
            start,
            now: 0,
            net,
            pairs,
            listener: Some(listener),
            closed: false,
            accept_deadline: None,
            dials: Vec::new(),
            handles: [Vec::new(), Vec::new()],
            dirs: [Dir::default(), Dir::default()],
            waiting: Vec::new(),
            next_id: 0,
            trace: Vec::new(),
        };
        run.reconnect();
        run
    }

    /// A fresh connection, once both ends of the last one are gone (on a listener of its own).
    fn reconnect(&mut self) {
        let (dialed, accepted) = futures::executor::block_on(async {
            futures::try_join!(self.net.connect("pairs"), self.pairs.accept())
        })
        .unwrap();
        let (a, b) = (self.next_id, self.next_id + 1);
        self.next_id += 2;
        self.trace
            .push(format!("new connection: handles {a} and {b}"));
        self.handles = [vec![(a, dialed)], vec![(b, accepted)]];
        self.dirs = [Dir::default(), Dir::default()];
        // Each connection's streams start at a value of their own, so that bytes of an earlier
        // connection showing up in this one would not match.
        self.dirs[0].next = (a as u8).wrapping_mul(61);
        self.dirs[1].next = (b as u8).wrapping_mul(61).wrapping_add(128);
    }

    fn instant(&self, secs: i64) -> Instant {
        if secs >= 0 {
            self.start + Duration::from_secs(secs as u64)
        } else {
            self.start - Duration::from_secs(secs.unsigned_abs())
        }
    }

    fn expired(&self, deadline: Option<i64>) -> bool {
        deadline.is_some_and(|at| at <= self.now)
    }

    /// What a read of `n` bytes on `end` does now.
    fn expect_read(&self, end: usize, n: usize) -> Expect {
        let d = &self.dirs[1 - end];
        if d.read_shut {
            is(Ok(0))
        } else if self.expired(d.read_deadline) {
            fails(Error::ReadTimeout, n)
        } else if n == 0 {
            is(Ok(0))
        } else if !d.buf.is_empty() {
            Expect::Moves(n.min(d.buf.len()))
        } else if d.write_shut {
            is(Ok(0))
        } else {
            Expect::Waits
        }
    }

    /// What a write of `n` bytes on `end` does now.
    fn expect_write(&self, end: usize, n: usize) -> Expect {
        let d = &self.dirs[end];
        if d.write_shut {
            is(Err(Error::ConnectionClosed))
        } else if self.expired(d.write_deadline) && d.read_shut {
            // The contract orders a local shutdown before the deadline, not the peer's.
            let mut either = vec![Err(Error::WriteTimeout), Err(Error::ConnectionClosed)];
            if n == 0 {
                either.push(Ok(0));
            }
            Expect::OneOf(either)
        } else if self.expired(d.write_deadline) {
            fails(Error::WriteTimeout, n)
        } else if d.read_shut {
            fails(Error::ConnectionClosed, n)
        } else if n == 0 {
            is(Ok(0))
        } else if d.buf.len() < CAPACITY {
            Expect::Moves(n.min(CAPACITY - d.buf.len()))
        } else {
            Expect::Waits
        }
    }

    fn expect(&self, end: usize, io: Io) -> Expect {
        match io {
            Io::Read(n) => self.expect_read(end, n),
            Io::Write(n) => self.expect_write(end, n),
        }
    }

    fn conn(&self, end: usize, handle: u64) -> &Conn {
        &self.handles[end]
            .iter()
            .find(|(id, _)| *id == handle)
            .unwrap()
            .1
    }

    /// Polls `io` once on handle `handle` of `end` with `waker`; checks the result against
    /// the model and applies it. Returns whether it is pending (and should wait). A yield is
    /// polled again, at most `yields` times in a row.
    fn poll_io(
        &mut self,
        end: usize,
        handle: u64,
        io: Io,
        count: &Arc<Count>,
        waker: &Waker,
        yields: usize,
    ) -> bool {
        let expect = self.expect(end, io);
        let before = wakes(count);
        let mut cx = Context::from_waker(waker);
        let mut conn = self.conn(end, handle);
        let mut buf = vec![
            0;
            match io {
                Io::Read(n) | Io::Write(n) => n,
            }
        ];
        if let Io::Write(_) = io {
            let mut next = self.dirs[end].next;
            for b in &mut buf {
                *b = next;
                next = next.wrapping_add(1);
            }
        }
        let got = match io {
            Io::Read(_) => Pin::new(&mut conn).poll_read(&mut cx, &mut buf),
            Io::Write(_) => Pin::new(&mut conn).poll_write(&mut cx, &buf),
        };
        let got = match got {
            Poll::Pending if expect != Expect::Waits => {
                // A yield (a long run of ready operations gives the executor a turn): it must
                // have woken its own task and moved nothing; polled again, it proceeds.
                assert!(
                    wakes(count) > before,
                    "{io:?} on end {end}: Pending, expected {expect:?}, and its task was not woken"
                );
                assert!(yields > 0, "{io:?} on end {end}: yields again and again");
                return self.poll_io(end, handle, io, count, waker, yields - 1);
            }
            Poll::Pending => return true,
            Poll::Ready(r) => r.map_err(|e| {
                Error::from_io(&e).unwrap_or_else(|| panic!("{io:?}: not a chanstream error: {e}"))
            }),
        };
        match (&expect, &got) {
            (Expect::OneOf(allowed), got) if allowed.contains(got) => {}
            (Expect::Moves(max), Ok(n)) if (1..=*max).contains(n) => {}
            _ => panic!("{io:?} on end {end}: got {got:?}, expected {expect:?}"),
        }
        if let Ok(n) = got {
            match io {
                Io::Read(_) => {
                    let d = &mut self.dirs[1 - end];
                    let want: Vec<u8> = d.buf.drain(..n).collect();
                    assert_eq!(
                        &buf[..n],
                        &want[..],
                        "read on end {end}: wrong bytes (lost or reordered)"
                    );
                }
                Io::Write(_) => {
                    let d = &mut self.dirs[end];
                    d.buf.extend(&buf[..n]);
                    d.next = d.next.wrapping_add(n as u8);
                }
            }
        }
        false
    }

    /// Runs one operation chosen from `choices`; `false` once they run out.
    pub fn step(&mut self, choices: &mut dyn Choices) -> bool {
        if self.handles.iter().all(Vec::is_empty) {
            self.reconnect();
        }
        let Some(op) = choices.below(16) else {
            return false;
        };
        let mut pick = |n: usize| choices.below(n).unwrap_or(0);
        let end = pick(2);
        let live = !self.handles[end].is_empty();
        match op {
            0..=3 if live => {
                let handle = self.handles[end][pick(self.handles[end].len())].0;
                let n = pick(2 * CAPACITY + 1);
                let io = if op < 2 { Io::Read(n) } else { Io::Write(n) };
                self.trace
                    .push(format!("{io:?} on end {end} (handle {handle})"));
                let (count, waker) = counter();
                if self.poll_io(end, handle, io, &count, &waker, YIELDS) {
                    let seen = wakes(&count);
                    // Kept waiting, or polled once and dropped (the waker goes with it).
                    if pick(3) > 0 {
                        self.waiting.push(Waiting {
                            end,
                            handle,
                            io,
                            count,
                            waker,
                            seen,
                        });
                    }
                }
            }
            4 if live && pick(3) == 0 => {
                let how = [Shutdown::Read, Shutdown::Write, Shutdown::Both][pick(3)];
                self.trace.push(format!("shutdown({how:?}) on end {end}"));
                let handle = self.handles[end][pick(self.handles[end].len())].0;
                assert_eq!(self.conn(end, handle).shutdown(how), Ok(()));
                self.shut(end, how);
            }
            5 | 6 if live => {
                // Past, now, future or cleared; on reads, writes or both.
                let at = match pick(4) {
                    0 => Some(self.now - 1 - pick(3) as i64),
                    1 => Some(self.now),
                    2 => Some(self.now + 1 + pick(3) as i64),
                    _ => None,
                };
                let which = pick(3);
                self.trace.push(format!(
                    "deadline {at:?} (now {}) for {} on end {end}",
                    self.now,
                    ["reads", "writes", "both"][which]
                ));
                let instant = at.map(|s| self.instant(s));
                let conn = &self.handles[end][pick(self.handles[end].len())].1;
                match which {
                    0 => conn.set_read_deadline(instant),
                    1 => conn.set_write_deadline(instant),
                    _ => conn.set_deadline(instant),
                }
                if which != 1 {
                    self.dirs[1 - end].read_deadline = at;
                }
                if which != 0 {
                    self.dirs[end].write_deadline = at;
                }
            }
            7 => {
                let by = 1 + pick(2) as i64;
                self.trace
                    .push(format!("advance the clock {by} s to {}", self.now + by));
                self.clock.advance(Duration::from_secs(by as u64));
                self.now += by;
            }
            8 if live => {
                let conn = self.handles[end][pick(self.handles[end].len())].1.clone();
                let id = self.next_id;
                self.next_id += 1;
                self.trace.push(format!("clone end {end} as handle {id}"));
                self.handles[end].push((id, conn));
            }
            9 if live && pick(2) == 0 => {
                let i = pick(self.handles[end].len());
                let id = self.handles[end][i].0;
                self.trace.push(format!("drop handle {id} of end {end}"));
                // Operations on that handle go first: they borrow it.
                self.waiting.retain(|w| !(w.end == end && w.handle == id));
                drop(self.handles[end].remove(i));
                if self.handles[end].is_empty() && !self.handles[1 - end].is_empty() {
                    self.shut(end, Shutdown::Both);
                }
            }
            10 | 11 => self.dial(),
            12 => self.accept(),
            13 if !self.dials.is_empty() => {
                let i = pick(self.dials.len());
                self.trace.push(format!("drop dial {}", self.dials[i].id));
                self.dials.remove(i);
            }
            14 if self.closed => {
                // The name can be bound again at once.
                self.trace.push("bind the listener again".into());
                self.listener = None;
                let listener = self.net.listener().backlog(BACKLOG).bind("model");
                self.listener = Some(listener.expect("binding a closed listener's name"));
                self.closed = false;
                self.accept_deadline = None;
            }
            14 if pick(4) == 0 => {
                self.trace.push("close the listener".into());
                if let Some(l) = &self.listener {
                    l.close();
                }
                if pick(2) == 0 {
                    self.listener = None;
                }
                self.closed = true;
            }
            15 => {
                let at = match pick(3) {
                    0 => Some(self.now - pick(2) as i64),
                    1 => Some(self.now + 1 + pick(3) as i64),
                    _ => None,
                };
                self.trace
                    .push(format!("accept deadline {at:?} (now {})", self.now));
                if let Some(l) = &self.listener {
                    l.set_deadline(at.map(|s| self.instant(s)));
                    self.accept_deadline = at;
                }
            }
            _ => {}
        }
        self.check_waiting();
        self.check_dials();
        true
    }

    fn shut(&mut self, end: usize, how: Shutdown) {
        if matches!(how, Shutdown::Read | Shutdown::Both) {
            let d = &mut self.dirs[1 - end];
            d.read_shut = true;
            d.buf.clear();
        }
        if matches!(how, Shutdown::Write | Shutdown::Both) {
            self.dirs[end].write_shut = true;
        }
    }

    /// Every waiting operation that the model says can now complete must have been woken; each
    /// woken one is polled again, as its executor would.
    fn check_waiting(&mut self) {
        // Polling one may make another ready (a read makes room for a waiting write): go
        // round until a pass polls nothing.
        while self.check_waiting_once() {}
    }

    /// One pass of [`check_waiting`](Run::check_waiting); `true` if it polled any.
    fn check_waiting_once(&mut self) -> bool {
        let mut polled = false;
        let waiting = std::mem::take(&mut self.waiting);
        for w in waiting {
            let ready = self.expect(w.end, w.io) != Expect::Waits;
            let woken = wakes(&w.count) > w.seen;
            if ready {
                assert!(
                    woken,
                    "{:?} on end {} can proceed ({:?}) but was not woken",
                    w.io,
                    w.end,
                    self.expect(w.end, w.io)
                );
            }
            if woken {
                polled = true;
                self.trace
                    .push(format!("poll again: {:?} on end {}", w.io, w.end));
                if self.poll_io(w.end, w.handle, w.io, &w.count, &w.waker, YIELDS) {
                    let seen = wakes(&w.count);
                    self.waiting.push(Waiting { seen, ..w });
                }
            } else {
                self.waiting.push(w);
            }
        }
        polled
    }

    fn live_dials(&self) -> usize {
        self.dials.len()
    }

    fn dial(&mut self) {
        let id = self.next_id;
        self.next_id += 1;
        self.trace.push(format!("dial {id}"));
        let timeout = Duration::from_secs(DIAL_TIMEOUT as u64);
        let mut fut = Box::pin(self.net.connect_timeout("model", timeout));
        let (count, waker) = counter();
        let mut got = fut.as_mut().poll(&mut Context::from_waker(&waker));
        // Pending having woken itself (a yield): polled again, as its executor would.
        for _ in 0..2 {
            if got.is_ready() || wakes(&count) == 0 {
                break;
            }
            count.0.store(0, Ordering::SeqCst);
            got = fut.as_mut().poll(&mut Context::from_waker(&waker));
        }
        let want = if self.closed {
            Some(Error::ConnectionRefused)
        } else if self.live_dials() == BACKLOG {
            Some(Error::ListenQueueFull)
        } else {
            None
        };
        match (got, want) {
            (Poll::Ready(Err(e)), Some(want)) => assert_eq!(e, want, "dial {id}"),
            (Poll::Pending, None) => {
                let seen = wakes(&count);
                self.dials.push(Dial {
                    id,
                    gives_up: self.now + DIAL_TIMEOUT,
                    fut,
                    count,
                    waker,
                    seen,
                });
            }
            (got, want) => panic!(
                "dial {id}: got {:?}, expected {want:?}",
                got.map(|r| r.map(drop))
            ),
        }
    }

    fn accept(&mut self) {
        let Some(listener) = &self.listener else {
            return;
        };
        self.trace.push("accept".into());
        let (_count, waker) = counter();
        let mut accept = listener.accept();
        let got = Pin::new(&mut accept).poll(&mut Context::from_waker(&waker));
        drop(accept);
        match got {
            Poll::Ready(Err(e)) => {
                if self.closed {
                    // The contract says only that it fails.
                } else if self.expired(self.accept_deadline) {
                    assert_eq!(e, Error::AcceptTimeout);
                } else {
                    panic!("accept failed on an open listener: {e:?}");
                }
            }
            Poll::Pending => assert!(
                !self.closed && self.dials.is_empty() && !self.expired(self.accept_deadline),
                "accept waits with {} dials queued (closed: {})",
                self.dials.len(),
                self.closed
            ),
            Poll::Ready(Ok(server)) => {
                assert!(
                    !self.closed,
                    "accept on a closed listener returned a connection"
                );
                assert!(
                    !self.expired(self.accept_deadline),
                    "accept returned a connection after its deadline"
                );
                assert_eq!(server.local_addr().as_str(), "model");
                // Exactly one waiting dial was accepted: it is woken and completes, with the
                // accepted connection as its peer.
                let mut done = None;
                for (i, d) in self.dials.iter_mut().enumerate() {
                    if wakes(&d.count) == d.seen {
                        continue;
                    }
                    d.seen = wakes(&d.count);
                    if let Poll::Ready(r) = d.fut.as_mut().poll(&mut Context::from_waker(&d.waker))
                    {
                        let client =
                            r.unwrap_or_else(|e| panic!("accepted dial {} failed: {e:?}", d.id));
                        assert_eq!(client.local_addr(), server.peer_addr());
                        assert_eq!(client.peer_addr().as_str(), "model");
                        assert!(
                            done.replace(i).is_none(),
                            "two dials completed for one accept"
                        );
                    }
                }
                let i = done.expect("accept returned a connection but no dial completed");
                self.trace
                    .push(format!("dial {} accepted", self.dials[i].id));
                self.dials.remove(i);
            }
        }
    }

    /// After `close`, every waiting dial is woken and refused; once its handshake timeout has
    /// passed, a dial is woken and times out.
    fn check_dials(&mut self) {
        for mut d in std::mem::take(&mut self.dials) {
            let want = if self.closed {
                Error::ConnectionRefused
            } else if d.gives_up <= self.now {
                Error::ConnectTimeout
            } else {
                self.dials.push(d);
                continue;
            };
            assert!(
                wakes(&d.count) > d.seen,
                "dial {} was not woken to fail with {want:?}",
                d.id
            );
            match d.fut.as_mut().poll(&mut Context::from_waker(&d.waker)) {
                Poll::Ready(Err(e)) if e == want => {
                    self.trace.push(format!("dial {}: {e:?}", d.id))
                }
                other => panic!(
                    "dial {}: {:?}, expected {want:?}",
                    d.id,
                    other.map(|r| r.map(drop))
                ),
            }
        }
    }
}

impl Default for Run {
    fn default() -> Run {
        Run::new()
    }
}

/// Runs up to `steps` operations; at the first departure from the model, returns what
/// departed and the operations that led there.
pub fn run(choices: &mut dyn Choices, steps: usize) -> Result<(), String> {
    let mut run = Run::new();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        for _ in 0..steps {
            if !run.step(choices) {
                break;
            }
        }
    }));
    outcome.map_err(|panic| {
        let msg = panic
            .downcast_ref::<String>()
            .cloned()
            .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
            .unwrap_or_default();
        format!("{msg}\nafter:\n  {}", run.trace.join("\n  "))
    })
}
