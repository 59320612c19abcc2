//! The same server and client code, run once over chanstream and once over TCP on 127.0.0.1:
//! nothing else changes, not even the errors.
//!
//! Run it with `cargo run --example swap`.

use std::io;
use std::net::Shutdown;
use std::time::Instant;

use futures::io::{AsyncBufReadExt, AsyncRead, AsyncWrite, AsyncWriteExt, BufReader};
use futures::{AsyncReadExt, StreamExt};

/// Upper-cases each line it receives until the client half-closes. Knows nothing of transports.
async fn serve<S: AsyncRead + AsyncWrite + Unpin>(conn: S) -> io::Result<()> {
    let (reader, mut writer) = conn.split();
    let mut lines = BufReader::new(reader).lines();
    while let Some(line) = lines.next().await {
        writer
            .write_all(format!("{}\n", line?.to_uppercase()).as_bytes())
            .await?;
    }
    writer.close().await
}

/// Sends two lines, half-closes, and returns the replies. Knows nothing of transports.
async fn talk<S: AsyncRead + AsyncWrite + Unpin>(
    mut conn: S,
    half_close: impl FnOnce(&S) -> io::Result<()>,
) -> io::Result<String> {
    conn.write_all(b"same code\nany transport\n").await?;
    half_close(&conn)?;
    let mut replies = String::new();
    conn.read_to_string(&mut replies).await?;
    Ok(replies)
}

async fn over_chanstream() -> io::Result<()> {
    use chanstream::{Conn, Listener};
    let started = Instant::now();
    let listener = Listener::bind("swap.example")?;
    let (client, server) = futures::try_join!(Conn::connect("swap.example"), listener.accept())?;
    let (replies, ()) = futures::try_join!(
        talk(client, |c| Ok(c.shutdown(Shutdown::Write)?)),
        serve(server)
    )?;
    report("chanstream", listener.local_addr(), &replies, started);
    let refused = Conn::connect("nobody.example")
        .await
        .map(drop)
        .map_err(io::Error::from);
    println!(
        "chanstream: dialing a name nobody listens on: {:?}",
        refused.unwrap_err().kind()
    );
    Ok(())
}

async fn over_tcp() -> io::Result<()> {
    use smol::net::{TcpListener, TcpStream};
    let started = Instant::now();
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let accept = async { Ok::<_, io::Error>(listener.accept().await?.0) };
    let (client, server) = futures::try_join!(TcpStream::connect(addr), accept)?;
    let (replies, ()) =
        futures::try_join!(talk(client, |c| c.shutdown(Shutdown::Write)), serve(server))?;
    report("tcp", addr, &replies, started);
    drop(listener);
    let refused = TcpStream::connect(addr).await.map(drop);
    println!(
        "tcp:        dialing a port nobody listens on: {:?}",
        refused.unwrap_err().kind()
    );
    Ok(())
}

fn report(transport: &str, addr: impl std::fmt::Display, replies: &str, started: Instant) {
    for line in replies.lines() {
        println!("{transport:<10}: {addr} replied {line:?}");
    }
    println!("{transport:<10}: done in {:?}", started.elapsed());
}

fn main() -> io::Result<()> {
    smol::block_on(async {
        over_chanstream().await?;
        over_tcp().await
    })
}
