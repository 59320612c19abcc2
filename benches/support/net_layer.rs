//! What the `net` layer costs over raw sockets: `chanstream::net::Conn` on TCP and Unix
//! against `async-net`'s sockets (async-io's, as `net` uses), on the same executor (smol's
//! `block_on`, which drives async-io's reactor), the measurements interleaved, each
//! run starting at another kind.

use std::time::{Duration, Instant};

use chanstream::net;
use futures::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// The layer's operations a measurement may use; the raw sockets have no deadlines.
trait End: AsyncRead + AsyncWrite + Unpin + Send {
    fn deadline(&self, _at: Option<Instant>) {}
}
impl End for async_net::TcpStream {}
impl End for async_net::unix::UnixStream {}
impl End for net::Conn {
    fn deadline(&self, at: Option<Instant>) {
        self.set_deadline(at);
    }
}

type Pair = (Box<dyn End>, Box<dyn End>);

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Raw,
    Layer,
    /// The layer with read and write deadlines set once, an hour ahead.
    DeadlinesOnce,
    /// The layer with the deadline set 5 s ahead before every read and write (Go's idiom).
    DeadlinesEach,
}

fn pair(kind: Kind, unix: Option<&str>) -> Pair {
    smol::block_on(async {
        if kind == Kind::Raw {
            return match unix {
                None => {
                    let l = async_net::TcpListener::bind("127.0.0.1:0").await.unwrap();
                    let addr = l.local_addr().unwrap();
                    let (a, (b, _)) =
                        futures::try_join!(async_net::TcpStream::connect(addr), l.accept())
                            .unwrap();
                    a.set_nodelay(true).unwrap();
                    b.set_nodelay(true).unwrap();
                    (Box::new(a) as Box<dyn End>, Box::new(b) as Box<dyn End>)
                }
                Some(path) => {
                    let _ = std::fs::remove_file(path);
                    let l = async_net::unix::UnixListener::bind(path).unwrap();
                    let (a, (b, _)) =
                        futures::try_join!(async_net::unix::UnixStream::connect(path), l.accept())
                            .unwrap();
                    (Box::new(a) as Box<dyn End>, Box::new(b) as Box<dyn End>)
                }
            };
        }
        let addr = match unix {
            None => "tcp://127.0.0.1:0".to_string(),
            Some(path) => format!("unix://{path}"),
        };
        let l = net::Listener::bind(&addr).await.unwrap();
        let (a, b) =
            futures::try_join!(net::Conn::connect(&l.local_addr().to_string()), l.accept())
                .unwrap();
        if kind == Kind::DeadlinesOnce {
            let far = Some(Instant::now() + Duration::from_secs(3600));
            a.set_deadline(far);
            b.set_deadline(far);
        }
        (Box::new(a) as Box<dyn End>, Box::new(b) as Box<dyn End>)
    })
}

fn each(kind: Kind, end: &dyn End) {
    if kind == Kind::DeadlinesEach {
        end.deadline(Some(Instant::now() + Duration::from_secs(5)));
    }
}

/// One-way GB/s, 16 KiB writes, writer and reader in one `join!`.
fn throughput(kind: Kind, unix: Option<&str>, total: usize) -> f64 {
    let (mut tx, mut rx) = pair(kind, unix);
    let chunk = vec![1u8; 16 << 10];
    let start = Instant::now();
    smol::block_on(async {
        let writer = async {
            let mut sent = 0;
            while sent < total {
                each(kind, &*tx);
                tx.write_all(&chunk).await.unwrap();
                sent += chunk.len();
            }
            tx.close().await.unwrap();
        };
        let reader = async {
            let mut buf = vec![0u8; 64 << 10];
            let mut got = 0;
            loop {
                each(kind, &*rx);
                match rx.read(&mut buf).await.unwrap() {
                    0 => break,
                    n => got += n,
                }
            }
            assert_eq!(got, total);
        };
        futures::join!(writer, reader);
    });
    total as f64 / start.elapsed().as_secs_f64() / 1e9
}

/// Nanoseconds per 1-byte round trip, both ends in one `join!`.
fn ping_pong(kind: Kind, unix: Option<&str>, rounds: usize) -> f64 {
    let (mut a, mut b) = pair(kind, unix);
    let start = Instant::now();
    smol::block_on(async {
        let client = async {
            let mut buf = [7u8; 1];
            for _ in 0..rounds {
                each(kind, &*a);
                a.write_all(&buf).await.unwrap();
                each(kind, &*a);
                a.read_exact(&mut buf).await.unwrap();
            }
        };
        let server = async {
            let mut buf = [0u8; 1];
            for _ in 0..rounds {
                each(kind, &*b);
                b.read_exact(&mut buf).await.unwrap();
                each(kind, &*b);
                b.write_all(&buf).await.unwrap();
            }
        };
        futures::join!(client, server);
    });
    start.elapsed().as_nanos() as f64 / rounds as f64
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

/// Runs the measurements and prints the table, with the plain layer's figure over the raw
/// socket's (throughput: below 1.00x is a cost; ping-pong time: above 1.00x is).
pub fn run(quick: bool, runs: usize) {
    let dir = tempfile::tempdir().unwrap();
    let sock = dir.path().join("bench.sock");
    let sock = sock.to_str().unwrap().to_string();
    let total = if quick { 64 << 20 } else { 512 << 20 };
    let rounds = if quick { 10_000 } else { 50_000 };
    let kinds = [
        Kind::Raw,
        Kind::Layer,
        Kind::DeadlinesOnce,
        Kind::DeadlinesEach,
    ];
    println!("net layer vs raw async-net sockets (smol block_on, median of {runs}, interleaved)\n");
    println!(
        "{:<34}{:>12}{:>12}{:>16}{:>16}{:>12}",
        "metric", "raw", "net::Conn", "deadlines once", "deadline each", "layer/raw"
    );
    for (transport, unix) in [("tcp", None), ("unix", Some(sock.as_str()))] {
        for metric in ["throughput 16 KiB writes (GB/s)", "ping-pong 1 B (ns)"] {
            let mut samples = vec![Vec::new(); kinds.len()];
            for run in 0..runs {
                // Each run starts at another kind, so no kind always follows the same one.
                for i in (0..kinds.len()).map(|k| (k + run) % kinds.len()) {
                    let kind = kinds[i];
                    samples[i].push(if metric.starts_with("throughput") {
                        throughput(kind, unix, total)
                    } else {
                        ping_pong(kind, unix, rounds)
                    });
                }
            }
            let m: Vec<f64> = samples.into_iter().map(median).collect();
            let ratio = m[1] / m[0];
            println!(
                "{:<34}{:>12.2}{:>12.2}{:>16.2}{:>16.2}{:>11.3}x",
                format!("{transport} {metric}"),
                m[0],
                m[1],
                m[2],
                m[3],
                ratio
            );
        }
    }
    println!();
}
