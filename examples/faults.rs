//! A client with a retry and timeout policy, tested against dial failures, slow responses,
//! resets and choppy I/O: what each attempt did, the fault counters, and the seed that
//! replays the run.
//!
//! Run it with `cargo run --example faults`; replay a run with
//! `CHANSTREAM_FAULTS_SEED=<seed> cargo run --example faults`.

use std::io;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use chanstream::{Conn, Error, Faults, Listener, Network, Toward};
use futures::io::{AsyncReadExt, AsyncWriteExt};

const SERVICE: &str = "colors";

/// The client's policy: how many attempts, how long each may take, how long to wait between.
struct Policy {
    attempts: u32,
    timeout: Duration,
    backoff: Duration,
}

/// One request: `GET key\n`, answered by `value\n`, within `timeout` (dial included).
async fn get_once(net: &Network, key: &str, timeout: Duration) -> io::Result<String> {
    let started = Instant::now();
    let mut conn = net.connect_timeout(SERVICE, timeout).await?;
    conn.set_deadline(Some(started + timeout));
    conn.write_all(format!("GET {key}\n").as_bytes()).await?;
    let mut reply = Vec::new();
    let mut byte = [0; 1];
    // Byte by byte up to the newline: correct however the reply is split.
    loop {
        match conn.read(&mut byte).await? {
            0 => return Err(io::ErrorKind::UnexpectedEof.into()),
            _ if byte[0] == b'\n' => break,
            _ => reply.push(byte[0]),
        }
    }
    String::from_utf8(reply).map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))
}

/// Whether another attempt may succeed where this one failed.
fn retryable(err: &io::Error) -> bool {
    match Error::from_io(err) {
        Some(e) => {
            e.is_timeout()
                || e.is_temporary()
                || matches!(e, Error::ConnectionRefused | Error::ConnectionReset)
        }
        None => err.kind() == io::ErrorKind::UnexpectedEof,
    }
}

/// The code under test: `get_once` under the policy. Returns the value and a log of attempts.
async fn get(net: &Network, key: &str, policy: &Policy) -> (io::Result<String>, Vec<String>) {
    let mut log = Vec::new();
    let mut last = None;
    for attempt in 1..=policy.attempts {
        match get_once(net, key, policy.timeout).await {
            Ok(value) => {
                log.push(format!("attempt {attempt}: {value:?}"));
                return (Ok(value), log);
            }
            Err(e) => {
                log.push(format!("attempt {attempt}: {e}"));
                let again = retryable(&e);
                last = Some(e);
                if !again {
                    break;
                }
                futures_timer::Delay::new(policy.backoff).await;
            }
        }
    }
    (Err(last.expect("at least one attempt")), log)
}

/// The server: answers each `GET key` line; while `crash` is set, the first request resets
/// every connection instead (a server that dies mid-request).
async fn serve(listener: Listener, faults: Faults, crash: Arc<AtomicBool>) {
    while let Ok(conn) = listener.accept().await {
        let faults = faults.clone();
        let crash = crash.clone();
        std::thread::spawn(move || {
            futures::executor::block_on(async move {
                let mut conn: Conn = conn;
                let mut line = Vec::new();
                let mut byte = [0; 1];
                while conn.read(&mut byte).await.unwrap_or(0) == 1 && byte[0] != b'\n' {
                    line.push(byte[0]);
                }
                if crash.swap(false, Ordering::AcqRel) {
                    faults.reset_now();
                    return;
                }
                let key = String::from_utf8_lossy(&line).replace("GET ", "");
                let value = if key == "sky" { "blue" } else { "unknown" };
                let _ = conn.write_all(format!("{value}\n").as_bytes()).await;
            });
        });
    }
}

fn main() -> ExitCode {
    let faults = Faults::random();
    let seed = faults.seed();
    println!(
        "fault seed {seed} (replay with {}={seed})",
        chanstream::SEED_VAR
    );
    let net = Network::new();
    net.set_faults(Some(faults.clone()));
    let listener = net.bind(SERVICE).expect("a fresh network");
    let crash = Arc::new(AtomicBool::new(false));
    std::thread::spawn({
        let (faults, crash) = (faults.clone(), crash.clone());
        move || futures::executor::block_on(serve(listener, faults, crash))
    });
    let policy = Policy {
        attempts: 4,
        timeout: Duration::from_millis(250),
        backoff: Duration::from_millis(10),
    };

    let mut failures = 0;
    let mut scenario = |title: &str, want_ok: bool, setup: &dyn Fn()| {
        setup();
        let started = Instant::now();
        let (result, log) = futures::executor::block_on(get(&net, "sky", &policy));
        println!(
            "\n{title} ({:.0} ms)",
            started.elapsed().as_secs_f64() * 1000.0
        );
        for line in &log {
            println!("  {line}");
        }
        match &result {
            Ok(value) => println!("  => {value}"),
            Err(e) => println!("  => gave up: {e}"),
        }
        if result.is_ok() != want_ok {
            println!(
                "  !! expected {}",
                if want_ok { "success" } else { "failure" }
            );
            failures += 1;
        }
    };

    scenario("two dials refused, the third gets through", true, &|| {
        faults.refuse_dials(2);
    });
    scenario("every dial times out: the policy gives up", false, &|| {
        faults.time_out_dials(4);
    });
    scenario(
        "answers slower than the deadline: every attempt times out",
        false,
        &|| {
            faults.latency(Toward::Dialer, Duration::from_millis(300), Duration::ZERO);
        },
    );
    scenario(
        "latency within the deadline, with jitter and choppy I/O",
        true,
        &|| {
            faults
                .latency(
                    Toward::Both,
                    Duration::from_millis(10),
                    Duration::from_millis(20),
                )
                .short_reads(0.7)
                .short_writes(0.7);
        },
    );
    scenario(
        "the server resets the first connection mid-request",
        true,
        &|| {
            crash.store(true, Ordering::Release);
        },
    );
    scenario(
        "the backlog is full: a temporary error, retried until it gives up",
        false,
        &|| {
            faults.fill_backlog(true);
        },
    );
    faults.fill_backlog(false);

    let stats = faults.stats();
    println!("\nfault counters: {stats:#?}");
    if failures > 0 {
        println!("{failures} scenario(s) ended otherwise than expected; seed {seed}");
        return ExitCode::FAILURE;
    }
    ExitCode::SUCCESS
}
