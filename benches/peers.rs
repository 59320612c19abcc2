//! chanstream against the in-process streams people use instead, measured side by side in one
//! run, all driven by the same plain executor, `futures::executor::block_on` (the Unix sockets
//! need a reactor, so they get smol's `block_on`, which drives one).
//!
//! `cargo bench --bench peers` for the full run (a few minutes), `-- --quick` for well under a
//! minute, `-- --only SECTION` for one section (throughput, in-place, owned, ping-pong,
//! ping-pong-deadlines, setup, memory). Prints each figure with our ratio to the best peer, then the
//! figures the performance targets are stated in. A full run writes `benches/peers.csv` and
//! `benches/peers.svg` (one-thread throughput by write size), a quick one the same files under
//! `target/peers/`.

use std::fmt::Write as _;
use std::io;
use std::os::unix::net::UnixStream;
use std::pin::Pin;
use std::process::Command;
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use chanstream::{Conn, Listener, Network};
use futures::io::{
    AsyncBufRead, AsyncBufReadExt, AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, BufReader,
};
use futures::StreamExt;
use smol::Async;
use tokio_util::compat::{Compat, TokioAsyncReadCompatExt};

#[cfg(feature = "net")]
#[path = "support/net_layer.rs"]
mod net_layer;

// ---- The contenders -----------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum Peer {
    Chan,
    Duplex64K,
    Duplex1M,
    Piper,
    Unix,
}

const PEERS: [Peer; 5] = [
    Peer::Chan,
    Peer::Duplex64K,
    Peer::Duplex1M,
    Peer::Piper,
    Peer::Unix,
];

impl Peer {
    fn name(self) -> &'static str {
        match self {
            Peer::Chan => "chanstream",
            Peer::Duplex64K => "duplex 64K",
            Peer::Duplex1M => "duplex 1M",
            Peer::Piper => "piper",
            Peer::Unix => "unix pair",
        }
    }

    fn from_name(name: &str) -> Peer {
        *PEERS
            .iter()
            .find(|p| p.name() == name)
            .expect("unknown peer")
    }
}

trait Io: AsyncRead + AsyncWrite + Send + Unpin {}
impl<T: AsyncRead + AsyncWrite + Send + Unpin> Io for T {}
type End = Box<dyn Io>;

/// A bidirectional end made of two piper pipes, one per direction.
struct PiperEnd {
    r: piper::Reader,
    w: piper::Writer,
}

impl AsyncRead for PiperEnd {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.r).poll_read(cx, b)
    }
}

impl AsyncWrite for PiperEnd {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        b: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.w).poll_write(cx, b)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.w).poll_flush(cx)
    }
    fn poll_close(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.w).poll_close(cx)
    }
}

fn duplex(
    cap: usize,
) -> (
    Compat<tokio::io::DuplexStream>,
    Compat<tokio::io::DuplexStream>,
) {
    let (a, b) = tokio::io::duplex(cap);
    (a.compat(), b.compat())
}

/// A connected pair; `chan` is the listener chanstream pairs are dialed through.
fn pair(peer: Peer, chan: &Listener) -> (End, End) {
    match peer {
        Peer::Chan => {
            let net = chan.network();
            let name = chan.local_addr();
            let (a, b) = block_on(peer, async {
                futures::try_join!(net.connect(name.as_str()), chan.accept())
            })
            .unwrap();
            (Box::new(a), Box::new(b))
        }
        Peer::Duplex64K | Peer::Duplex1M => {
            let (a, b) = duplex(if peer == Peer::Duplex64K {
                64 << 10
            } else {
                1 << 20
            });
            (Box::new(a), Box::new(b))
        }
        Peer::Piper => {
            let (r1, w1) = piper::pipe(256 << 10);
            let (r2, w2) = piper::pipe(256 << 10);
            (
                Box::new(PiperEnd { r: r1, w: w2 }),
                Box::new(PiperEnd { r: r2, w: w1 }),
            )
        }
        Peer::Unix => {
            let (a, b) = UnixStream::pair().unwrap();
            (
                Box::new(Async::new(a).unwrap()),
                Box::new(Async::new(b).unwrap()),
            )
        }
    }
}

fn listener(backlog: usize) -> Listener {
    Network::new()
        .listener()
        .backlog(backlog)
        .bind("bench")
        .unwrap()
}

// ---- Measurements -------------------------------------------------------------------------

/// Runs `fut` to completion on the calling thread, with the executor `peer` is measured under:
/// the plainest one for the in-process streams, smol's (which drives the I/O reactor) for the
/// Unix sockets.
fn block_on<T>(peer: Peer, fut: impl std::future::Future<Output = T>) -> T {
    if peer == Peer::Unix {
        smol::block_on(fut)
    } else {
        futures::executor::block_on(fut)
    }
}

/// Runs `a` and `b` on two threads of their own, pinned to two different cores (when the
/// machine reports them), so that the pinning does not outlive the measurement.
fn on_two_cores<A: Send, B: Send>(
    a: impl FnOnce() -> A + Send,
    b: impl FnOnce() -> B + Send,
) -> (A, B) {
    let cores = core_affinity::get_core_ids().unwrap_or_default();
    let pin = |i: usize| {
        if let Some(c) = cores.get(i) {
            core_affinity::set_for_current(*c);
        }
    };
    std::thread::scope(|s| {
        let a = s.spawn(|| {
            pin(0);
            a()
        });
        let b = s.spawn(|| {
            pin(1);
            b()
        });
        (a.join().unwrap(), b.join().unwrap())
    })
}

/// One-way throughput in GB/s: `total` bytes in writes of `write` bytes, reader buffer 64 KiB.
fn throughput(peer: Peer, write: usize, total: usize, threads: bool) -> f64 {
    let l = listener(1);
    let (mut tx, mut rx) = pair(peer, &l);
    let chunk = vec![1u8; write];
    let count = total / write;
    let send = async move {
        for _ in 0..count {
            tx.write_all(&chunk).await.unwrap();
        }
        tx.close().await.unwrap();
    };
    let recv = async move {
        let mut buf = vec![0u8; 64 << 10];
        let mut got = 0;
        loop {
            match rx.read(&mut buf).await.unwrap() {
                0 => return got,
                n => got += n,
            }
        }
    };
    let start = Instant::now();
    let got = if threads {
        on_two_cores(|| block_on(peer, send), || block_on(peer, recv)).1
    } else {
        block_on(peer, async { futures::join!(send, recv).1 })
    };
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, count * write);
    got as f64 / secs / 1e9
}

/// Reads until end of stream by consuming each filled buffer whole, in place.
async fn drain_in_place<R: AsyncBufRead + Unpin>(mut r: R) -> usize {
    let mut got = 0;
    loop {
        let n = r.fill_buf().await.unwrap().len();
        if n == 0 {
            return got;
        }
        got += n;
        r.consume_unpin(n);
    }
}

/// In-place consumption in GB/s (`AsyncBufRead`, both ends on one thread): chanstream's
/// `Reader`, piper's own reader, and the others behind a 64 KiB `BufReader`.
fn in_place(peer: Peer, write: usize, total: usize) -> f64 {
    let chunk = vec![1u8; write];
    let count = total / write;
    async fn send<W: AsyncWrite + Unpin>(mut w: W, chunk: &[u8], count: usize) {
        for _ in 0..count {
            w.write_all(chunk).await.unwrap();
        }
        w.close().await.unwrap();
    }
    let l = listener(1);
    let start = Instant::now();
    let got = block_on(peer, async {
        match peer {
            Peer::Chan => {
                let net = l.network();
                let (a, b) = futures::try_join!(net.connect("bench"), l.accept()).unwrap();
                futures::join!(send(a, &chunk, count), drain_in_place(b.reader())).1
            }
            Peer::Piper => {
                let (r, w) = piper::pipe(256 << 10);
                futures::join!(send(w, &chunk, count), drain_in_place(r)).1
            }
            _ => {
                let (a, b) = pair(peer, &l);
                let r = BufReader::with_capacity(64 << 10, b);
                futures::join!(send(a, &chunk, count), drain_in_place(r)).1
            }
        }
    });
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, count * write);
    got as f64 / secs / 1e9
}

/// Owned-chunk throughput in GB/s: `chunk`-byte buffers handed from writer to reader with
/// `write_owned` / `read_owned` (buffer size set to the chunk size); the reader hands each
/// buffer back to the writer for reuse, so nothing is allocated per chunk.
fn owned(chunk: usize, total: usize) -> f64 {
    let l = Network::new()
        .listener()
        .buffer_size(chunk)
        .bind("owned")
        .unwrap();
    let net = l.network();
    let (a, b) = block_on(Peer::Chan, async {
        futures::try_join!(net.connect("owned"), l.accept())
    })
    .unwrap();
    let count = total / chunk;
    let (give_back, mut returned) = futures::channel::mpsc::unbounded::<Vec<u8>>();
    let start = Instant::now();
    let got = block_on(Peer::Chan, async {
        let send = async {
            let mut spare = vec![vec![1u8; chunk], vec![1u8; chunk]];
            for _ in 0..count {
                let buf = match spare.pop() {
                    Some(buf) => buf,
                    None => returned.next().await.unwrap(),
                };
                a.write_owned(buf).await.unwrap();
            }
            a.shutdown(std::net::Shutdown::Write).unwrap();
        };
        let recv = async {
            let mut got = 0;
            loop {
                let buf = b.read_owned().await.unwrap();
                if buf.is_empty() {
                    return got;
                }
                got += buf.len();
                let _ = give_back.unbounded_send(buf);
            }
        };
        futures::join!(send, recv).1
    });
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, count * chunk);
    got as f64 / secs / 1e9
}

/// Round trip in ns: `msg` bytes there and back, `rounds` times.
fn ping_pong(peer: Peer, msg: usize, rounds: usize, threads: bool) -> f64 {
    let l = listener(1);
    let (mut a, mut b) = pair(peer, &l);
    let client = async move {
        let mut buf = vec![7u8; msg];
        for _ in 0..rounds {
            a.write_all(&buf).await.unwrap();
            a.read_exact(&mut buf).await.unwrap();
        }
    };
    let server = async move {
        let mut buf = vec![0u8; msg];
        for _ in 0..rounds {
            b.read_exact(&mut buf).await.unwrap();
            b.write_all(&buf).await.unwrap();
        }
    };
    let start = Instant::now();
    if threads {
        on_two_cores(|| block_on(peer, client), || block_on(peer, server));
    } else {
        block_on(peer, async { futures::join!(client, server) });
    }
    start.elapsed().as_nanos() as f64 / rounds as f64
}

/// How a deadline ping-pong sets its deadlines.
#[derive(Clone, Copy, PartialEq)]
enum Deadlines {
    /// Read and write deadlines set once, an hour ahead.
    Once,
    /// The read (write) deadline set 5 s ahead before every read (write): Go's idiom.
    Each,
}

/// [`ping_pong`] of 1 byte on one thread, chanstream with deadlines.
fn ping_pong_deadlines(mode: Deadlines, rounds: usize) -> f64 {
    let l = listener(1);
    let net = l.network();
    let (a, b): (Conn, Conn) = block_on(Peer::Chan, async {
        futures::try_join!(net.connect("bench"), l.accept())
    })
    .unwrap();
    if mode == Deadlines::Once {
        let far = Some(Instant::now() + Duration::from_secs(3600));
        a.set_deadline(far);
        b.set_deadline(far);
    }
    let each = mode == Deadlines::Each;
    let ahead = Duration::from_secs(5);
    let end = |conn: Conn, first_write: bool| async move {
        let mut buf = [7u8; 1];
        for _ in 0..rounds {
            for write in [first_write, !first_write] {
                if write {
                    if each {
                        conn.set_write_deadline(Some(Instant::now() + ahead));
                    }
                    (&conn).write_all(&buf).await.unwrap();
                } else {
                    if each {
                        conn.set_read_deadline(Some(Instant::now() + ahead));
                    }
                    (&conn).read_exact(&mut buf).await.unwrap();
                }
            }
        }
    };
    let start = Instant::now();
    block_on(Peer::Chan, async {
        futures::join!(end(a, true), end(b, false))
    });
    start.elapsed().as_nanos() as f64 / rounds as f64
}

/// Connections per second: set up (for chanstream: connect + accept), echo one byte, close.
fn setup_rate(peer: Peer, conns: usize) -> f64 {
    let l = listener(64);
    let start = Instant::now();
    for _ in 0..conns {
        let (mut a, mut b) = pair(peer, &l);
        block_on(peer, async {
            let mut byte = [1u8];
            a.write_all(&byte).await.unwrap();
            b.read_exact(&mut byte).await.unwrap();
            b.write_all(&byte).await.unwrap();
            a.read_exact(&mut byte).await.unwrap();
        });
    }
    conns as f64 / start.elapsed().as_secs_f64()
}

/// Resident bytes per idle connected pair, measured in a child process of its own (a process
/// that already freed memory would hide the cost).
fn idle_memory(peer: Peer, pairs: usize) -> f64 {
    let out = Command::new(std::env::current_exe().unwrap())
        .args(["--idle-memory", peer.name(), &pairs.to_string()])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout)
        .unwrap()
        .trim()
        .parse()
        .unwrap()
}

fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    statm
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse::<usize>()
        .unwrap()
        * 4096
}

/// The child side of [`idle_memory`]: opens `pairs` pairs, each held as its peer's own types
/// (no boxing, so only the pair itself is counted), and prints the resident bytes per pair.
fn idle_memory_child(peer: Peer, pairs: usize) {
    fn measure<T>(pairs: usize, mut make: impl FnMut() -> T) -> f64 {
        let mut keep = Vec::with_capacity(pairs);
        let before = rss();
        for _ in 0..pairs {
            keep.push(make());
        }
        let after = rss();
        // The `Vec` of pairs itself is not part of the cost.
        let own = pairs * std::mem::size_of::<T>();
        drop(keep);
        (after - before).saturating_sub(own) as f64 / pairs as f64
    }
    let per_pair = match peer {
        Peer::Chan => {
            let l = listener(pairs);
            let net = l.network().clone();
            measure(pairs, || {
                block_on(peer, async {
                    futures::try_join!(net.connect("bench"), l.accept())
                })
                .unwrap()
            })
        }
        Peer::Duplex64K => measure(pairs, || tokio::io::duplex(64 << 10)),
        Peer::Duplex1M => measure(pairs, || tokio::io::duplex(1 << 20)),
        Peer::Piper => measure(pairs, || (piper::pipe(256 << 10), piper::pipe(256 << 10))),
        Peer::Unix => measure(pairs, || UnixStream::pair().unwrap()),
    };
    println!("{per_pair}");
}

/// What one `Instant::now()` costs, in ns (best of 5).
fn clock_read_ns() -> f64 {
    let reads = 1_000_000;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reads {
                std::hint::black_box(Instant::now());
            }
            start.elapsed().as_nanos() as f64 / reads as f64
        })
        .fold(f64::INFINITY, f64::min)
}

/// Copy speed in GB/s of `size`-byte blocks (`copy_from_slice`, i.e. `memcpy`), best of 5.
fn copy_speed(size: usize) -> f64 {
    let src = vec![1u8; size];
    let mut dst = vec![0u8; size];
    let reps = (256 << 20) / size;
    (0..5)
        .map(|_| {
            let start = Instant::now();
            for _ in 0..reps {
                dst.copy_from_slice(std::hint::black_box(&src));
                std::hint::black_box(&mut dst);
            }
            (reps * size) as f64 / start.elapsed().as_secs_f64() / 1e9
        })
        .fold(0.0, f64::max)
}

/// Some glibc builds copy 64-256 KiB blocks with `rep movsb`, which on some (virtual) machines
/// runs many times slower than the vector loop used for other sizes, and hides every design
/// difference between the streams. Says how fast 128 KiB and 1 MiB blocks copy, with a warning
/// when 128 KiB copies run at less than a third of the speed of 1 MiB copies.
fn memcpy_check() -> (bool, String) {
    let (mid, large) = (copy_speed(128 << 10), copy_speed(1 << 20));
    let slow = mid * 3.0 < large;
    let speeds =
        format!("memcpy: 128 KiB blocks at {mid:.1} GB/s, 1 MiB blocks at {large:.1} GB/s");
    if slow {
        let warning = format!(
            "WARNING: {speeds}, the slow `rep movsb` copy: figures with 16-256 KiB writes \
             measure it, not the streams. Run with \
             GLIBC_TUNABLES=glibc.cpu.x86_rep_movsb_threshold=100000000."
        );
        (true, warning)
    } else {
        (false, format!("{speeds}: no slow copy"))
    }
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

// ---- Report -------------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

struct Row {
    metric: String,
    unit: &'static str,
    better: Better,
    values: Vec<(Peer, f64)>,
}

impl Row {
    fn ours(&self) -> f64 {
        self.values
            .iter()
            .find(|(p, _)| *p == Peer::Chan)
            .unwrap()
            .1
    }

    /// The best peer's figure, among `among` (all other peers when empty).
    fn best_peer(&self, among: &[Peer]) -> Option<(Peer, f64)> {
        let mut others = self.values.iter().filter(|(p, v)| {
            *p != Peer::Chan && v.is_finite() && (among.is_empty() || among.contains(p))
        });
        let first = *others.next()?;
        Some(others.fold(first, |best, &(p, v)| match self.better {
            Better::Higher if v > best.1 => (p, v),
            Better::Lower if v < best.1 => (p, v),
            _ => best,
        }))
    }
}

fn print_rows(rows: &[Row]) {
    print!("{:<34}", "metric");
    for p in PEERS {
        print!("{:>12}", p.name());
    }
    println!("{:>18}", "ours / best peer");
    for r in rows {
        print!("{:<34}", format!("{} ({})", r.metric, r.unit));
        for p in PEERS {
            match r.values.iter().find(|(q, _)| *q == p) {
                Some((_, v)) if v.is_finite() => print!("{:>12}", fmt_value(*v)),
                _ => print!("{:>12}", "-"),
            }
        }
        match r.best_peer(&[]) {
            Some((p, best)) => println!("{:>9.2}x {:<9}", r.ours() / best, p.name()),
            None => println!(),
        }
    }
}

fn fmt_value(v: f64) -> String {
    if v >= 1e6 {
        format!("{:.2}M", v / 1e6)
    } else if v >= 100.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
    }
}

fn write_csv(rows: &[Row]) -> String {
    let mut csv = String::from("metric,unit,peer,value\n");
    for r in rows {
        for (p, v) in &r.values {
            if v.is_finite() {
                writeln!(csv, "{},{},{},{v}", r.metric, r.unit, p.name()).unwrap();
            }
        }
    }
    csv
}

/// A grouped bar chart of one-thread throughput by write size.
fn write_svg(rows: &[Row], sizes: &[&str]) -> String {
    let colors = ["#d62728", "#1f77b4", "#aec7e8", "#2ca02c", "#7f7f7f"];
    let (w, h, left, bottom, top) = (760.0, 380.0, 60.0, 50.0, 40.0);
    let plot_h = h - bottom - top;
    let max = rows
        .iter()
        .flat_map(|r| r.values.iter().map(|v| v.1))
        .fold(1.0, f64::max);
    let max = (max / 5.0).ceil() * 5.0;
    let group_w = (w - left - 20.0) / sizes.len() as f64;
    let bar_w = group_w * 0.8 / PEERS.len() as f64;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{w}\" height=\"{h}\" font-family=\"sans-serif\" font-size=\"12\">\n\
         <rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n\
         <text x=\"{left}\" y=\"22\" font-size=\"14\">One-way throughput, both ends on one thread (GB/s, higher is better)</text>\n"
    );
    for i in 0..=5 {
        let v = max * i as f64 / 5.0;
        let y = h - bottom - plot_h * i as f64 / 5.0;
        writeln!(
            svg,
            "<line x1=\"{left}\" x2=\"{}\" y1=\"{y}\" y2=\"{y}\" stroke=\"#ddd\"/>",
            w - 20.0
        )
        .unwrap();
        writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\" text-anchor=\"end\">{v:.0}</text>",
            left - 6.0,
            y + 4.0
        )
        .unwrap();
    }
    for (g, (row, size)) in rows.iter().zip(sizes).enumerate() {
        let gx = left + g as f64 * group_w + group_w * 0.1;
        for (i, p) in PEERS.iter().enumerate() {
            let v = row.values.iter().find(|(q, _)| q == p).map_or(0.0, |x| x.1);
            let bh = plot_h * v / max;
            writeln!(
                svg,
                "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"{}\"><title>{}: {v:.2} GB/s</title></rect>",
                gx + i as f64 * bar_w,
                h - bottom - bh,
                bar_w - 2.0,
                colors[i],
                p.name()
            )
            .unwrap();
        }
        writeln!(
            svg,
            "<text x=\"{:.1}\" y=\"{}\" text-anchor=\"middle\">{size} writes</text>",
            gx + group_w * 0.4,
            h - bottom + 18.0
        )
        .unwrap();
    }
    for (i, p) in PEERS.iter().enumerate() {
        let x = left + i as f64 * 130.0;
        writeln!(
            svg,
            "<rect x=\"{x}\" y=\"{}\" width=\"12\" height=\"12\" fill=\"{}\"/>",
            h - 20.0,
            colors[i]
        )
        .unwrap();
        writeln!(
            svg,
            "<text x=\"{}\" y=\"{}\">{}</text>",
            x + 16.0,
            h - 10.0,
            p.name()
        )
        .unwrap();
    }
    svg.push_str("</svg>\n");
    svg
}

/// Runs `f` `runs` times and returns the median.
fn med(runs: usize, f: impl Fn() -> f64) -> f64 {
    median((0..runs).map(|_| f()).collect())
}

fn per_peer(runs: usize, f: impl Fn(Peer) -> f64) -> Vec<(Peer, f64)> {
    PEERS.iter().map(|&p| (p, med(runs, || f(p)))).collect()
}

const SIZES: [(usize, &str); 5] = [
    (64, "64 B"),
    (1 << 10, "1 KiB"),
    (16 << 10, "16 KiB"),
    (256 << 10, "256 KiB"),
    (1 << 20, "1 MiB"),
];

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--idle-memory") {
        idle_memory_child(Peer::from_name(&args[i + 1]), args[i + 2].parse().unwrap());
        return;
    }
    let quick = args.iter().any(|a| a == "--quick");
    // `--only WORD`: run only the sections whose name contains WORD (for profiling).
    let only = args
        .iter()
        .position(|a| a == "--only")
        .map(|i| args[i + 1].clone());
    let want = |section: &str| only.as_ref().map_or(true, |w| section.contains(w.as_str()));
    let runs = if quick { 3 } else { 7 };
    let scale = if quick { 1 } else { 4 };
    let (slow_copy, memcpy) = memcpy_check();
    if slow_copy {
        eprintln!("{memcpy}\n");
    }
    let mut rows = Vec::new();

    if want("throughput") {
        for threads in [false, true] {
            for (size, label) in SIZES {
                if threads && size > 256 << 10 {
                    continue;
                }
                let total = if size < 1024 { 16 << 20 } else { 128 << 20 } * scale;
                let threads_label = if threads { "2 threads" } else { "1 thread" };
                rows.push(Row {
                    metric: format!("throughput {label} writes, {threads_label}"),
                    unit: "GB/s",
                    better: Better::Higher,
                    values: per_peer(runs, |p| throughput(p, size, total, threads)),
                });
            }
        }
    }
    if want("in-place") {
        for (size, label) in &SIZES[2..] {
            rows.push(Row {
                metric: format!("in place (AsyncBufRead) {label} writes"),
                unit: "GB/s",
                better: Better::Higher,
                values: per_peer(runs, |p| in_place(p, *size, (128 << 20) * scale)),
            });
        }
    }
    if want("owned") {
        rows.push(Row {
            metric: "owned 1 MiB chunks".into(),
            unit: "GB/s",
            better: Better::Higher,
            values: vec![(
                Peer::Chan,
                med(runs, || owned(1 << 20, (512 << 20) * scale)),
            )],
        });
    }
    if want("ping-pong") {
        for threads in [false, true] {
            for msg in [1usize, 64] {
                let rounds = if threads { 20_000 } else { 100_000 } * scale;
                let threads_label = if threads { "2 threads" } else { "1 thread" };
                rows.push(Row {
                    metric: format!("ping-pong {msg} B, {threads_label}"),
                    unit: "ns",
                    better: Better::Lower,
                    values: per_peer(runs, |p| ping_pong(p, msg, rounds, threads)),
                });
            }
        }
    }
    if want("ping-pong-deadlines") {
        let rounds = 100_000 * scale;
        for (mode, label) in [
            (Deadlines::Once, "deadlines set"),
            (Deadlines::Each, "deadline set before each op"),
        ] {
            rows.push(Row {
                metric: format!("ping-pong 1 B, 1 thread, {label}"),
                unit: "ns",
                better: Better::Lower,
                values: vec![(Peer::Chan, med(runs, || ping_pong_deadlines(mode, rounds)))],
            });
        }
    }
    if want("setup") {
        rows.push(Row {
            metric: "set-up + 1 B echo + close".into(),
            unit: "conn/s",
            better: Better::Higher,
            values: per_peer(runs, |p| setup_rate(p, 20_000 * scale)),
        });
    }
    if want("memory") {
        let pairs = 100_000;
        rows.push(Row {
            metric: format!("idle memory, {pairs} pairs"),
            unit: "B/pair",
            better: Better::Lower,
            values: PEERS
                .iter()
                .map(|&p| {
                    (
                        p,
                        if p == Peer::Unix {
                            f64::NAN
                        } else {
                            idle_memory(p, pairs)
                        },
                    )
                })
                .collect(),
        });
    }

    #[cfg(feature = "net")]
    if want("net") {
        net_layer::run(quick, runs);
    }

    let mode = if quick { "quick" } else { "full" };
    println!("chanstream vs in-process peers ({mode} run, median of {runs})\n");
    println!("{memcpy}\n");
    print_rows(&rows);
    println!("(unix pair memory lives in the kernel, not in the process: not measured)\n");
    print_targets(&rows);
    if only.is_none() {
        // A full run's figures are the ones the README shows; a quick run's go under target/.
        let root = env!("CARGO_MANIFEST_DIR");
        let dir = if quick {
            format!("{root}/target/peers")
        } else {
            format!("{root}/benches")
        };
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(format!("{dir}/peers.csv"), write_csv(&rows)).unwrap();
        let labels: Vec<_> = SIZES.iter().map(|s| s.1).collect();
        std::fs::write(
            format!("{dir}/peers.svg"),
            write_svg(&rows[..SIZES.len()], &labels),
        )
        .unwrap();
        println!("\nwrote {dir}/peers.csv and peers.svg");
    }
}

/// The figures the targets are stated in, for the rows that were measured.
fn print_targets(rows: &[Row]) {
    let get = |metric: &str| rows.iter().find(|r| r.metric == metric);
    let copying = [Peer::Duplex64K, Peer::Duplex1M, Peer::Piper];
    for (_, label) in SIZES {
        if let Some(r) = get(&format!("throughput {label} writes, 1 thread")) {
            let (p, best) = r.best_peer(&copying).unwrap();
            println!(
                "copying {label}: {:.2}x the best of duplex and piper ({})",
                r.ours() / best,
                p.name()
            );
        }
    }
    for (_, label) in &SIZES[2..] {
        let (Some(r), Some(copy)) = (
            get(&format!("in place (AsyncBufRead) {label} writes")),
            get(&format!("throughput {label} writes, 1 thread")),
        ) else {
            continue;
        };
        let piper = r.values.iter().find(|(p, _)| *p == Peer::Piper).unwrap().1;
        let (_, best_copy) = copy.best_peer(&[]).unwrap();
        println!(
            "in place {label}: {:.2}x piper's in-place reader, {:.2}x the best peer's copying figure",
            r.ours() / piper,
            r.ours() / best_copy
        );
    }
    if let (Some(o), Some(copy)) = (
        get("owned 1 MiB chunks"),
        get("throughput 1 MiB writes, 1 thread"),
    ) {
        let (_, best) = copy.best_peer(&[]).unwrap();
        println!(
            "owned 1 MiB chunks: {:.0} GB/s, {:.0}x the best copying peer at 1 MiB writes",
            o.ours(),
            o.ours() / best
        );
    }
    if let Some(r) = get("ping-pong 1 B, 1 thread") {
        let duplex = r
            .values
            .iter()
            .find(|(p, _)| *p == Peer::Duplex64K)
            .unwrap()
            .1;
        println!(
            "ping-pong 1 B: {:.2}x tokio's duplex (64K)",
            r.ours() / duplex
        );
    }
    if let Some(r) = get("throughput 256 KiB writes, 2 threads") {
        let duplex = r
            .values
            .iter()
            .find(|(p, _)| *p == Peer::Duplex1M)
            .unwrap()
            .1;
        println!(
            "two pinned threads, 256 KiB writes: {:.2}x tokio's 1 MiB duplex",
            r.ours() / duplex
        );
    }
    if let (Some(with), Some(plain)) = (
        get("ping-pong 1 B, 1 thread, deadlines set"),
        get("ping-pong 1 B, 1 thread"),
    ) {
        println!(
            "deadlines set: ping-pong {:.2}x the same without",
            with.ours() / plain.ours()
        );
    }
    if let (Some(with), Some(plain)) = (
        get("ping-pong 1 B, 1 thread, deadline set before each op"),
        get("ping-pong 1 B, 1 thread"),
    ) {
        println!(
            "deadline set 5 s ahead before each read and write: ping-pong {:.2}x the same without",
            with.ours() / plain.ours()
        );
        // The caller's own `Instant::now()` before each of the 4 operations of a round trip,
        // and the one clock read each set needs (a deadline already passed must fail at once).
        let now = clock_read_ns();
        println!(
            "  (one Instant::now() takes {now:.0} ns here: the caller's 4 and the crate's 4 per round \
             trip alone are {:.2}x the plain ping-pong)",
            8.0 * now / plain.ours()
        );
    }
    if let Some(r) = get("set-up + 1 B echo + close") {
        println!(
            "set-up: {:.2}M connections per second, handshake included",
            r.ours() / 1e6
        );
    }
    if let Some(r) = get("idle memory, 100000 pairs") {
        println!("idle memory: {:.0} B per connected pair", r.ours());
    }
}
