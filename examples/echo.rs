//! An echo server and several clients, all in one process, talking over named connections.
//!
//! Run it with `cargo run --example echo`.

use std::net::Shutdown;
use std::time::Instant;

use chanstream::{Conn, Listener};
use futures::executor::ThreadPool;
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use futures::task::SpawnExt;
use futures::StreamExt;

const SERVER: &str = "echo.example";
const CLIENTS: usize = 4;

/// Echoes every line back, upper-cased, until the client half-closes.
async fn serve(conn: Conn) -> std::io::Result<u64> {
    let peer = conn.peer_addr();
    let mut lines = BufReader::new(&conn).lines();
    let mut writer = &conn;
    let mut echoed = 0;
    while let Some(line) = lines.next().await {
        let reply = format!("{}\n", line?.to_uppercase());
        writer.write_all(reply.as_bytes()).await?;
        echoed += reply.len() as u64;
    }
    conn.shutdown(Shutdown::Write)?;
    println!("server: {peer} hung up after {echoed} bytes");
    Ok(echoed)
}

/// Sends a few lines, half-closes, and prints what came back.
async fn client(id: usize) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let started = Instant::now();
    let mut conn = Conn::connect(SERVER).await?;
    let me = conn.local_addr();
    for word in ["hello", "from", "client"] {
        let line = format!("{word} {id}\n");
        conn.write_all(line.as_bytes()).await?;
        println!("{me}: sent     {:?}", line.trim_end());
    }
    conn.shutdown(Shutdown::Write)?;
    let mut replies = String::new();
    conn.read_to_string(&mut replies).await?;
    for reply in replies.lines() {
        println!("{me}: received {reply:?}");
    }
    println!("{me}: done in {:?}", started.elapsed());
    Ok(())
}

/// Pushes `bytes` through one connection and reports the rate.
async fn bulk(bytes: usize) -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let listener = Listener::bind("bulk.example")?;
    let (mut tx, mut rx) = futures::try_join!(Conn::connect("bulk.example"), listener.accept())?;
    let chunk = vec![0xA5u8; 64 * 1024];
    let started = Instant::now();
    let send = async {
        for _ in 0..bytes / chunk.len() {
            tx.write_all(&chunk).await?;
        }
        tx.close().await
    };
    let recv = async {
        let mut buf = vec![0u8; 64 * 1024];
        let mut total = 0;
        loop {
            match rx.read(&mut buf).await? {
                0 => return Ok::<_, std::io::Error>(total),
                n => total += n,
            }
        }
    };
    let ((), received) = futures::try_join!(send, recv)?;
    let secs = started.elapsed().as_secs_f64();
    println!(
        "bulk: {} MiB in {:.1} ms ({:.2} GB/s)",
        received >> 20,
        secs * 1e3,
        received as f64 / secs / 1e9
    );
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
    let pool = ThreadPool::new()?;
    let started = Instant::now();
    let listener = Listener::bind(SERVER)?;
    println!(
        "server: listening on {} ({})",
        listener.local_addr(),
        listener.local_addr().network()
    );

    let server = pool.spawn_with_handle({
        let pool = pool.clone();
        async move {
            let mut handlers = Vec::new();
            let mut incoming = listener.incoming();
            while let Some(conn) = incoming.next().await {
                handlers.push(pool.spawn_with_handle(serve(conn?))?);
                if handlers.len() == CLIENTS {
                    break;
                }
            }
            let total: u64 = futures::future::try_join_all(handlers).await?.iter().sum();
            Ok::<_, Box<dyn std::error::Error + Send + Sync>>(total)
        }
    })?;
    let clients: Vec<_> = (0..CLIENTS)
        .map(|id| pool.spawn_with_handle(client(id)))
        .collect::<Result<_, _>>()?;

    futures::executor::block_on(async {
        for c in clients {
            c.await?;
        }
        let echoed = server.await?;
        println!(
            "{CLIENTS} clients served, {echoed} bytes echoed, in {:?}",
            started.elapsed()
        );
        bulk(256 << 20).await
    })
}
