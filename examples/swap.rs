//! The same server and client code over any transport: the address is the only thing that
//! changes, and not even the errors do.
//!
//! ```sh
//! cargo run --features net --example swap -- tcp://127.0.0.1:0
//! cargo run --features net --example swap -- unix:///tmp/swap.sock
//! cargo run --features net --example swap            # chan://, tcp:// and unix:// in turn
//! ```

use std::error::Error;
use std::net::Shutdown;
use std::time::{Duration, Instant};

use chanstream::net::{Conn, Listener};
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures::StreamExt;

/// Upper-cases each line it receives until the client half-closes, then closes.
async fn serve(conn: Conn) -> std::io::Result<()> {
    let mut lines = BufReader::new(conn.clone()).lines();
    let mut out = conn.clone();
    while let Some(line) = lines.next().await {
        out.write_all(format!("{}\n", line?.to_uppercase()).as_bytes())
            .await?;
    }
    out.close().await
}

/// Sends two lines, half-closes, and returns the replies; gives up after a second.
async fn talk(mut conn: Conn) -> std::io::Result<String> {
    conn.set_deadline(Some(Instant::now() + Duration::from_secs(1)));
    conn.write_all(b"same code\nany transport\n").await?;
    conn.shutdown(Shutdown::Write)?;
    let mut replies = String::new();
    conn.read_to_string(&mut replies).await?;
    Ok(replies)
}

async fn run(addr: &str) -> Result<(), Box<dyn Error>> {
    let started = Instant::now();
    let listener = Listener::bind(addr).await?;
    let bound = listener.local_addr();
    let (client, server) =
        futures::try_join!(Conn::connect(&bound.to_string()), listener.accept())?;
    let (replies, ()) = futures::try_join!(talk(client), serve(server))?;
    for line in replies.lines() {
        println!("{bound}: replied {line:?}");
    }
    println!("{bound}: done in {:?}", started.elapsed());
    listener.close();
    let refused = Conn::connect(&bound.to_string()).await.unwrap_err();
    println!(
        "{bound}: dialing it after close: {refused} ({:?})",
        refused.kind()
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = tempfile::tempdir()?;
    let addrs = match std::env::args().nth(1) {
        Some(addr) => vec![addr],
        None => vec![
            "chan://swap.example".to_string(),
            "tcp://127.0.0.1:0".to_string(),
            format!("unix://{}", dir.path().join("swap.sock").display()),
        ],
    };
    futures::executor::block_on(async {
        for addr in &addrs {
            run(addr).await?;
        }
        Ok(())
    })
}
