//! One-way throughput by per-direction buffer size and write size: the measurement behind
//! `DEFAULT_BUFFER_SIZE`. Run with `cargo bench --bench buffer_size` (add `-- --quick` for a
//! shorter run). Each figure is the median of several runs.

use std::time::Instant;

use chanstream::{Conn, Network};
use futures::executor::block_on;
use futures::io::{AsyncReadExt, AsyncWriteExt};

const RUNS: usize = 5;

fn pair(buffer: usize) -> (Conn, Conn) {
    let net = Network::new();
    let listener = net.listener().buffer_size(buffer).bind("bench").unwrap();
    block_on(async { futures::try_join!(net.connect("bench"), listener.accept()) }).unwrap()
}

/// Moves `total` bytes in writes of `write` bytes; returns GB/s.
fn one_way(buffer: usize, write: usize, total: usize, threads: bool) -> f64 {
    let (mut tx, mut rx) = pair(buffer);
    let chunk = vec![1u8; write];
    let send = async move {
        for _ in 0..total / write {
            tx.write_all(&chunk).await.unwrap();
        }
        tx.close().await.unwrap();
    };
    let recv = async move {
        let mut buf = vec![0u8; 64 * 1024];
        let mut got = 0;
        while let Ok(n @ 1..) = rx.read(&mut buf).await {
            got += n;
        }
        got
    };
    let start = Instant::now();
    let got = if threads {
        std::thread::scope(|s| {
            let h = s.spawn(|| block_on(send));
            let got = block_on(recv);
            h.join().unwrap();
            got
        })
    } else {
        block_on(async { futures::join!(send, recv).1 })
    };
    let secs = start.elapsed().as_secs_f64();
    assert_eq!(got, total / write * write);
    got as f64 / secs / 1e9
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let quick = std::env::args().any(|a| a == "--quick");
    let total = if quick { 64 << 20 } else { 512 << 20 };
    let buffers = [16 << 10, 64 << 10, 256 << 10, 1 << 20];
    let writes = [64usize, 1 << 10, 16 << 10, 256 << 10];
    println!("one-way throughput, GB/s (median of {RUNS}); reader buffer 64 KiB");
    for threads in [false, true] {
        println!("\n{}", if threads { "two threads" } else { "one thread" });
        print!("{:>10}", "buffer");
        for w in writes {
            print!("{:>14}", format!("write {}", human(w)));
        }
        println!();
        for b in buffers {
            print!("{:>10}", human(b));
            for w in writes {
                let bytes = if w < 1024 { total / 8 } else { total };
                let runs = (0..RUNS).map(|_| one_way(b, w, bytes, threads)).collect();
                print!("{:>14.2}", median(runs));
            }
            println!();
        }
    }
}

fn human(n: usize) -> String {
    if n >= 1 << 20 {
        format!("{} MiB", n >> 20)
    } else if n >= 1 << 10 {
        format!("{} KiB", n >> 10)
    } else {
        format!("{n} B")
    }
}
