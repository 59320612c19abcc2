//! Reading without copying: a reader that consumes bytes in place (`AsyncBufRead`), and owned
//! chunks that move from writer to reader with no copy at all.

use std::fmt;
use std::io;
use std::pin::Pin;
use std::task::{Context, Poll};

use futures::io::{AsyncBufRead, AsyncRead};

use crate::ring::Ring;
use crate::Conn;

/// A reading handle on a [`Conn`] that hands out the buffered bytes in place, through
/// [`AsyncBufRead`], instead of copying them into a buffer of the caller's.
///
/// When it needs bytes it takes *everything* the connection has buffered at once, by swapping
/// buffers with the connection (its own, emptied, buffer goes back to be written into), so a
/// parser or codec reads the bytes where the writer put them: one copy in all, the writer's.
/// Bytes a `Reader` has taken are its own: other readers of the connection never see them, and
/// dropping the `Reader` drops them. The connection may buffer its bound again meanwhile, so
/// with a `Reader` a direction holds at most twice its buffer size.
///
/// It obeys the connection's rules: after `shutdown(Read)` it returns end of stream and
/// discards what it holds; once the read deadline has passed it fails, even with bytes in hand.
///
/// ```
/// # futures::executor::block_on(async {
/// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
///
/// let net = chanstream::Network::new();
/// let listener = net.bind("svc")?;
/// let (mut client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
/// client.write_all(b"first line\nsecond line\n").await?;
/// client.close().await?;
/// let mut lines = server.reader().lines();
/// use futures::StreamExt;
/// assert_eq!(lines.next().await.unwrap()?, "first line");
/// assert_eq!(lines.next().await.unwrap()?, "second line");
/// assert!(lines.next().await.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// # }).unwrap();
/// ```
pub struct Reader {
    conn: Conn,
    /// Bytes taken from the connection and not yet consumed.
    held: Ring,
}

impl Reader {
    pub(crate) fn new(conn: Conn) -> Reader {
        Reader {
            conn,
            held: Ring::default(),
        }
    }

    /// The connection this reader reads from.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// let reader = server.reader();
    /// assert_eq!(reader.get_ref().peer_addr(), client.local_addr());
    /// # Ok::<(), chanstream::Error>(())
    /// # }).unwrap();
    /// ```
    pub fn get_ref(&self) -> &Conn {
        &self.conn
    }

    /// Like [`Conn::read_owned`], handing out first whatever this reader holds.
    ///
    /// # Errors
    ///
    /// As a read: `ReadTimeout`.
    ///
    /// ```
    /// # futures::executor::block_on(async {
    /// use futures::io::{AsyncBufReadExt, AsyncWriteExt};
    /// let net = chanstream::Network::new();
    /// let listener = net.bind("svc")?;
    /// let (mut client, server) = futures::try_join!(net.connect("svc"), listener.accept())?;
    /// client.write_all(b"header|body").await?;
    /// let mut reader = server.reader();
    /// let n = reader.fill_buf().await?.iter().position(|&b| b == b'|').unwrap() + 1;
    /// reader.consume_unpin(n);
    /// assert_eq!(reader.read_owned().await?, b"body");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// # }).unwrap();
    /// ```
    pub async fn read_owned(&mut self) -> io::Result<Vec<u8>> {
        if self.check_held()? {
            return Ok(std::mem::take(&mut self.held).into_vec());
        }
        self.conn.read_owned().await
    }

    /// Whether this reader holds bytes it may still hand out. It drops them once reading was
    /// shut down (the connection then reports end of stream) and fails once the read deadline
    /// has passed, as any read would.
    fn check_held(&mut self) -> io::Result<bool> {
        if self.held.is_empty() {
            return Ok(false);
        }
        if self.conn.incoming().check_read(self.conn.link().faults())? {
            return Ok(true);
        }
        self.held = Ring::default();
        Ok(false)
    }
}

impl AsyncBufRead for Reader {
    fn poll_fill_buf(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<&[u8]>> {
        let this = self.get_mut();
        if !this.check_held()? {
            futures::ready!(this.conn.poll_take(cx, &mut this.held))?;
        }
        Poll::Ready(Ok(this.held.front()))
    }

    fn consume(self: Pin<&mut Self>, amt: usize) {
        self.get_mut().held.consume(amt);
    }
}

impl AsyncRead for Reader {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut [u8],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        if this.check_held()? {
            return Poll::Ready(Ok(this.held.pop_into(buf)));
        }
        this.conn.poll_read_bytes(cx, buf)
    }
}

impl fmt::Debug for Reader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Reader")
            .field("conn", &self.conn)
            .field("held", &self.held.len())
            .finish()
    }
}
