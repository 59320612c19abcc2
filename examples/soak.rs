//! Soak: churns connections across a thread pool for a while, verifying every byte.
//!
//! Each session dials an echo server, streams a random amount of patterned data in random-sized
//! writes while reading the echo back, and then either half-closes and drains to end of stream
//! or drops the connection mid-stream. Along the way it sets a deadline before reads (Go's
//! `now + 5 s` idiom), forces a read timeout now and then and carries on after clearing it,
//! and polls reads once and drops them while pending. Every few seconds it prints progress:
//! connections, bytes verified, outcomes and errors by kind, resident memory.
//!
//! It exits non-zero if a byte is wrong or missing, an unexpected error occurs, a session runs
//! past the hang bound, or resident memory grows after the warm-up.
//!
//! ```text
//! cargo run --release --example soak -- --secs 600
//! ```
//! (20 seconds without `--secs`; `--sessions N` sets how many run at once, 64 by default.)

use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chanstream::{Conn, Error, Listener, Network};
use futures::executor::{block_on, ThreadPool};
use futures::io::{AsyncReadExt, AsyncWriteExt};
use futures::task::SpawnExt;
use futures::FutureExt;

/// A session still running after this long has hung.
const HANG: Duration = Duration::from_secs(60);
/// The handshake timeout and the read deadline set before reads: generous, so that a loaded
/// machine does not make them fire.
const PATIENCE: Duration = Duration::from_secs(20);
/// Resident memory may grow this much after the warm-up (allocator slack), no more.
const RSS_SLACK: u64 = 16 << 20;

#[derive(Default)]
struct Stats {
    connections: AtomicU64,
    bytes: AtomicU64,
    /// Outcomes and errors, by kind.
    kinds: Mutex<BTreeMap<String, u64>>,
    /// Sessions running, by id, with when they started.
    running: Mutex<BTreeMap<u64, Instant>>,
    /// What went wrong, if anything did.
    failure: Mutex<Option<String>>,
}

impl Stats {
    fn count(&self, kind: impl Into<String>) {
        *self.kinds.lock().unwrap().entry(kind.into()).or_default() += 1;
    }
    fn fail(&self, what: String) {
        self.failure.lock().unwrap().get_or_insert(what);
    }
}

/// xorshift64*, seeded per session: the byte pattern and every choice come from it.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) % n.max(1)
    }
}

/// The byte at `offset` of session `id`'s stream: a hash of both, so that bytes lost,
/// repeated or taken from another session do not match by chance.
fn pattern(id: u64, offset: u64) -> u8 {
    let mut z = ((id << 40) ^ (offset / 8)).wrapping_add(0x9e37_79b9_7f4a_7c15);
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    (z ^ (z >> 31)).to_le_bytes()[(offset % 8) as usize]
}

fn rss() -> u64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|s| s.split_whitespace().nth(1)?.parse::<u64>().ok())
        .map_or(0, |pages| pages * 4096)
}

fn kind(e: &std::io::Error) -> String {
    match Error::from_io(e) {
        Some(e) => format!("{e:?}"),
        None => format!("io {:?}", e.kind()),
    }
}

/// Echoes until end of stream, then half-closes. A client that dropped its connection
/// mid-stream makes a write fail (broken pipe); that and any other error ends it and is
/// counted by kind.
async fn echo(mut conn: Conn, seed: u64, stats: Arc<Stats>) {
    let mut rng = Rng(seed | 1);
    let mut buf = vec![0; 64 * 1024];
    loop {
        let want = 1 + rng.below(buf.len() as u64) as usize;
        match conn.read(&mut buf[..want]).await {
            Ok(0) => break,
            Err(e) => return stats.count(format!("server read: {}", kind(&e))),
            Ok(n) => {
                if let Err(e) = conn.write_all(&buf[..n]).await {
                    return stats.count(format!("server write: {}", kind(&e)));
                }
            }
        }
    }
    let _ = conn.close().await;
}

async fn serve(listener: Listener, pool: ThreadPool, stats: Arc<Stats>) {
    let mut seed = 0u64;
    while let Ok(conn) = listener.accept().await {
        seed += 1;
        pool.spawn(echo(conn, seed, stats.clone())).unwrap();
    }
}

/// One client session; `Err` names what broke the contract.
async fn session(net: Network, id: u64, stats: Arc<Stats>) -> Result<(), String> {
    let mut rng = Rng(id.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1);
    let conn = net
        .connect_timeout("soak", PATIENCE)
        .await
        .map_err(|e| format!("dial: {e}"))?;
    stats.connections.fetch_add(1, Ordering::Relaxed);
    let total = match rng.below(4) {
        0 => rng.below(64),
        1 => rng.below(4096),
        _ => rng.below(256 * 1024),
    };
    // A quarter of the sessions drop the connection part-way through.
    let abort_at = (rng.below(4) == 0).then(|| rng.below(total + 1));
    let writer = {
        let mut conn = conn.clone();
        let mut rng = Rng(rng.below(u64::MAX) | 1);
        async move {
            let mut sent = 0;
            let mut chunk = Vec::new();
            while sent < total {
                let n = (1 + rng.below(32 * 1024)).min(total - sent);
                chunk.clear();
                chunk.extend((sent..sent + n).map(|o| pattern(id, o)));
                if let Err(e) = conn.write_all(&chunk).await {
                    return Err(format!("write at {sent}: {}", kind(&e)));
                }
                sent += n;
            }
            conn.close().await.map_err(|e| format!("close: {e}"))
        }
    };
    let reader = {
        let mut conn = conn;
        let stats = stats.clone();
        async move {
            let mut got = 0u64;
            let mut buf = vec![0; 48 * 1024];
            loop {
                if abort_at.is_some_and(|at| got >= at) {
                    stats.count("aborted mid-stream");
                    return Ok(false);
                }
                let want = 1 + rng.below(buf.len() as u64) as usize;
                match rng.below(16) {
                    // Go's idiom: a deadline before every read.
                    0..=7 => conn.set_read_deadline(Some(Instant::now() + PATIENCE)),
                    // A deadline in the past: the read times out and moves nothing; cleared,
                    // the stream goes on where it was.
                    8 => {
                        conn.set_read_deadline(Some(Instant::now()));
                        match conn.read(&mut buf[..want]).await {
                            Err(e) if Error::from_io(&e) == Some(Error::ReadTimeout) => {
                                stats.count("forced read timeout")
                            }
                            other => return Err(format!("read past its deadline: {other:?}")),
                        }
                        conn.set_read_deadline(None);
                    }
                    // A read polled once and dropped if pending: it must have taken nothing.
                    9 => {
                        let mut read = conn.read(&mut buf[..want]);
                        if let Some(out) = (&mut read).now_or_never() {
                            drop(read);
                            let n = out.map_err(|e| format!("read at {got}: {}", kind(&e)))?;
                            if n == 0 {
                                break;
                            }
                            verify(id, got, &buf[..n])?;
                            got += n as u64;
                            stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
                        } else {
                            stats.count("read dropped while pending");
                        }
                        continue;
                    }
                    _ => conn.set_read_deadline(None),
                }
                let n = conn
                    .read(&mut buf[..want])
                    .await
                    .map_err(|e| format!("read at {got} of {total}: {}", kind(&e)))?;
                if n == 0 {
                    break;
                }
                verify(id, got, &buf[..n])?;
                got += n as u64;
                stats.bytes.fetch_add(n as u64, Ordering::Relaxed);
            }
            if got != total {
                return Err(format!("end of stream after {got} of {total} bytes"));
            }
            Ok(true)
        }
    };
    // The reader may finish (abort) before the writer: then the writer is dropped mid-write.
    let reading = reader.fuse();
    let writing = writer.fuse();
    futures::pin_mut!(reading, writing);
    let mut wrote = None;
    loop {
        futures::select! {
            w = writing => {
                // A failed write is reported at once, even if the reader would abort.
                w.clone()?;
                wrote = Some(w);
            }
            r = reading => {
                let complete = r?;
                if complete {
                    // Every byte came back, so every write returned.
                    match wrote {
                        Some(w) => w?,
                        None => writing.await?,
                    }
                    stats.count("complete");
                }
                return Ok(());
            }
        }
    }
}

/// Checks that `bytes`, read at `offset` of session `id`'s stream, are the ones it sent.
fn verify(id: u64, offset: u64, bytes: &[u8]) -> Result<(), String> {
    for (i, &b) in bytes.iter().enumerate() {
        let at = offset + i as u64;
        if b != pattern(id, at) {
            return Err(format!("byte {at} is {b}, expected {}", pattern(id, at)));
        }
    }
    Ok(())
}

fn arg(name: &str) -> Option<u64> {
    let args: Vec<String> = std::env::args().collect();
    let i = args.iter().position(|a| a == name)?;
    args.get(i + 1)?.parse().ok()
}

fn main() -> ExitCode {
    let secs = arg("--secs").unwrap_or(20);
    let sessions = arg("--sessions").unwrap_or(64).max(1);
    let duration = Duration::from_secs(secs);
    let warm_up = duration / 4;
    let pool = ThreadPool::builder().pool_size(4).create().unwrap();
    let net = Network::new();
    let listener = net.listener().backlog(1024).bind("soak").unwrap();
    let stats = Arc::new(Stats::default());
    pool.spawn(serve(listener, pool.clone(), stats.clone()))
        .unwrap();
    let (slots, free) = async_channel::bounded::<()>(sessions as usize);
    println!("soak: {secs} s, {sessions} sessions at a time, 4 threads");

    let start = Instant::now();
    let driver = {
        let (stats, pool) = (stats.clone(), pool.clone());
        std::thread::spawn(move || {
            block_on(async {
                let mut id = 0u64;
                while start.elapsed() < duration && stats.failure.lock().unwrap().is_none() {
                    slots.send(()).await.unwrap();
                    id += 1;
                    stats.running.lock().unwrap().insert(id, Instant::now());
                    let (net, stats, free) = (net.clone(), stats.clone(), free.clone());
                    pool.spawn(async move {
                        if let Err(e) = session(net, id, stats.clone()).await {
                            stats.fail(format!("session {id}: {e}"));
                        }
                        stats.running.lock().unwrap().remove(&id);
                        free.recv().await.unwrap();
                    })
                    .unwrap();
                }
                // Wait for the sessions still running.
                while !stats.running.lock().unwrap().is_empty() {
                    if stats.failure.lock().unwrap().is_some() {
                        break;
                    }
                    futures_timer::Delay::new(Duration::from_millis(50)).await;
                }
            })
        })
    };

    // Resident memory: the highest reading in the window after the warm-up, against the
    // highest in the last window of the run (highs, as 64 sessions' buffers come and go).
    let window = duration / 4;
    let (mut early, mut late) = (0, 0);
    let mut last = Instant::now();
    while !driver.is_finished() {
        std::thread::sleep(Duration::from_millis(100));
        let oldest = stats.running.lock().unwrap().values().min().copied();
        if let Some(t) = oldest.filter(|t| t.elapsed() > HANG) {
            stats.fail(format!("a session has run for {:?}: hung", t.elapsed()));
            break;
        }
        let now_rss = rss();
        let t = start.elapsed();
        if t >= warm_up && t < warm_up + window {
            early = early.max(now_rss);
        }
        if t + window >= duration {
            late = late.max(now_rss);
        }
        if last.elapsed() >= Duration::from_secs(2) {
            last = Instant::now();
            println!(
                "{:>5.1} s  connections {:>8}  bytes {:>12}  rss {:>6.1} MiB  {:?}",
                start.elapsed().as_secs_f64(),
                stats.connections.load(Ordering::Relaxed),
                stats.bytes.load(Ordering::Relaxed),
                now_rss as f64 / (1 << 20) as f64,
                stats.kinds.lock().unwrap(),
            );
        }
        if stats.failure.lock().unwrap().is_some() {
            break;
        }
    }
    if driver.join().is_err() {
        stats.fail("the session driver panicked".into());
    }
    let failure = stats.failure.lock().unwrap().clone();
    println!(
        "done: {:.1} s, {} connections, {} bytes verified, {:?}",
        start.elapsed().as_secs_f64(),
        stats.connections.load(Ordering::Relaxed),
        stats.bytes.load(Ordering::Relaxed),
        stats.kinds.lock().unwrap(),
    );
    if let Some(f) = failure {
        eprintln!("soak FAILED: {f}");
        return ExitCode::FAILURE;
    }
    let mib = |b: u64| b as f64 / (1 << 20) as f64;
    println!(
        "resident memory: at most {:.1} MiB after the warm-up, at most {:.1} MiB at the end",
        mib(early),
        mib(late)
    );
    if early == 0 {
        println!("(resident memory not measured: /proc/self/statm is not readable here)");
    } else if late > early + RSS_SLACK.max(early / 4) {
        eprintln!("soak FAILED: resident memory grew after the warm-up");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
