//! A small line-protocol key-value server that takes its listen address as an argument: the
//! kind of program that runs in-process in its tests and on TCP or Unix in production.
//!
//! ```sh
//! cargo run --features net --example kv                            # serve chan://kv, run a demo client
//! cargo run --features net --example kv -- tcp://127.0.0.1:7070    # the same on TCP
//! cargo run --features net --example kv -- --serve tcp://127.0.0.1:7070   # serve until killed
//! ```
//!
//! The protocol: one command a line, `SET key value`, `GET key`, `DEL key`, `QUIT`; one reply
//! a line, `OK`, `VALUE value`, `NOT_FOUND` or `ERR reason`. A client silent for 30 s is
//! dropped (a read deadline set before every read, Go's idiom).

use std::collections::HashMap;
use std::error::Error;
use std::net::Shutdown;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use chanstream::net::{Conn, Listener};
use futures::io::{AsyncBufReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;

type Store = Arc<Mutex<HashMap<String, String>>>;

const IDLE: Duration = Duration::from_secs(30);

fn answer(store: &Store, line: &str) -> Option<String> {
    let mut words = line.splitn(3, ' ');
    let mut store = store.lock().unwrap();
    Some(match (words.next()?, words.next(), words.next()) {
        ("SET", Some(key), Some(value)) => {
            store.insert(key.to_string(), value.to_string());
            "OK".to_string()
        }
        ("GET", Some(key), None) => match store.get(key) {
            Some(value) => format!("VALUE {value}"),
            None => "NOT_FOUND".to_string(),
        },
        ("DEL", Some(key), None) => match store.remove(key) {
            Some(_) => "OK".to_string(),
            None => "NOT_FOUND".to_string(),
        },
        ("QUIT", None, None) => return None,
        _ => "ERR expected SET key value, GET key, DEL key or QUIT".to_string(),
    })
}

/// Serves one client until it quits, half-closes, or stays silent for [`IDLE`].
async fn session(conn: Conn, store: Store) -> std::io::Result<()> {
    let mut lines = BufReader::new(conn.clone()).lines();
    let mut out = conn.clone();
    loop {
        conn.set_read_deadline(Some(Instant::now() + IDLE));
        let Some(line) = lines.next().await else {
            break;
        };
        let Some(reply) = answer(&store, line?.trim_end()) else {
            break;
        };
        out.write_all(format!("{reply}\n").as_bytes()).await?;
    }
    out.close().await
}

/// Accepts clients until the listener is closed, each in a task of its own.
async fn serve(listener: Listener, store: Store) {
    let mut incoming = listener.incoming();
    while let Some(conn) = incoming.next().await {
        match conn {
            Ok(conn) => {
                let store = store.clone();
                smol::spawn(async move {
                    let peer = conn.peer_addr();
                    if let Err(e) = session(conn, store).await {
                        eprintln!("{peer}: {e}");
                    }
                })
                .detach();
            }
            Err(e) => eprintln!("accept: {e}"),
        }
    }
}

/// Sends `commands`, half-closes, and returns the replies.
async fn client(addr: &str, commands: &[&str]) -> Result<Vec<String>, Box<dyn Error>> {
    let conn = Conn::connect(addr).await?;
    conn.set_deadline(Some(Instant::now() + Duration::from_secs(5)));
    let mut out = conn.clone();
    for command in commands {
        out.write_all(format!("{command}\n").as_bytes()).await?;
    }
    conn.shutdown(Shutdown::Write)?;
    let replies = BufReader::new(conn).lines().collect::<Vec<_>>().await;
    Ok(replies.into_iter().collect::<Result<_, _>>()?)
}

fn main() -> Result<(), Box<dyn Error>> {
    let mut args: Vec<String> = std::env::args().skip(1).collect();
    let serve_only = args.first().is_some_and(|a| a == "--serve");
    if serve_only {
        args.remove(0);
    }
    let addr = args.first().cloned().unwrap_or_else(|| "chan://kv".into());
    smol::block_on(async {
        let listener = Listener::bind(&addr).await?;
        let bound = listener.local_addr().to_string();
        println!("serving on {bound}");
        let store = Store::default();
        if serve_only {
            serve(listener, store).await;
            return Ok(());
        }
        let server = smol::spawn(serve(listener, store));
        let first = client(
            &bound,
            &["SET greeting hello world", "GET greeting", "GET nothing"],
        );
        for reply in first.await? {
            println!("client 1 <- {reply}");
        }
        let second = client(
            &bound,
            &["GET greeting", "DEL greeting", "GET greeting", "BOGUS"],
        );
        for reply in second.await? {
            println!("client 2 <- {reply}");
        }
        drop(server); // cancels the accept loop, which drops and closes the listener
        Ok(())
    })
}
