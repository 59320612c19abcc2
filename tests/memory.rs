//! Memory stays bounded when peers never read. Its own test binary, so that no other test's
//! allocations blur the resident-set measurement.

mod common;

use std::time::{Duration, Instant};

use chanstream::{Error, Network};
use common::{chan_err, run, write_all};

/// Resident set size of this process, in bytes (Linux).
#[cfg(target_os = "linux")]
fn rss() -> usize {
    let statm = std::fs::read_to_string("/proc/self/statm").unwrap();
    let pages: usize = statm.split_whitespace().nth(1).unwrap().parse().unwrap();
    pages * 4096
}

#[cfg(target_os = "linux")]
#[test]
fn never_reading_peers_keep_memory_flat() {
    const CONNS: usize = 200;
    const BUF: usize = 64 * 1024;
    let net = Network::new();
    let listener = net
        .listener()
        .backlog(CONNS)
        .buffer_size(BUF)
        .bind("sink")
        .unwrap();
    let pairs: Vec<_> = (0..CONNS)
        .map(|_| run(async { futures::try_join!(net.connect("sink"), listener.accept()) }).unwrap())
        .collect();
    let chunk = vec![7u8; 1 << 20];
    let before = rss();
    // Each writer tries to push 4 MiB into a peer that never reads; every write stops at the
    // buffer bound, and a write deadline ends the wait.
    for round in 0..4 {
        for (client, _server) in &pairs {
            client.set_write_deadline(Some(Instant::now() + Duration::from_millis(1)));
            let err = run(write_all(client, &chunk)).unwrap_err();
            assert_eq!(chan_err(&err), Error::WriteTimeout, "round {round}");
        }
    }
    let grown = rss().saturating_sub(before);
    let bound = CONNS * BUF;
    assert!(
        grown <= bound + bound / 2 + (4 << 20),
        "resident memory grew by {grown} bytes; buffers are bounded at {bound} in all"
    );
    drop(pairs);
}
