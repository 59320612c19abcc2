//! The I/O traits of a connection type, written once for [`Conn`](crate::Conn) and, with the
//! `net` feature, [`net::Conn`](crate::net::Conn): futures' `AsyncRead` and `AsyncWrite` for
//! the type and for a shared reference to it, and tokio's with the `tokio` feature.
//!
//! The type provides three inherent methods: `poll_read_bytes(&self, cx, buf)`,
//! `poll_write_bytes(&self, cx, buf)` and `close_write(&self) -> io::Result<()>` (a write
//! shutdown). Flushing succeeds at once: a write's bytes are delivered when it returns.

macro_rules! impl_stream_io {
    ($conn:ty) => {
        impl futures::io::AsyncRead for &$conn {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_read_bytes(cx, buf)
            }
        }

        impl futures::io::AsyncWrite for &$conn {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                self.poll_write_bytes(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.close_write())
            }
        }

        impl futures::io::AsyncRead for $conn {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut [u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_read(cx, buf)
            }
        }

        impl futures::io::AsyncWrite for $conn {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                std::pin::Pin::new(&mut &*self).poll_write(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_flush(cx)
            }

            fn poll_close(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::pin::Pin::new(&mut &*self).poll_close(cx)
            }
        }

        #[cfg(feature = "tokio")]
        impl_stream_io!(@tokio &$conn, |this| this);
        #[cfg(feature = "tokio")]
        impl_stream_io!(@tokio $conn, |this| &*this);
    };
    // tokio's traits, for `$t`, through `$inner` (the connection behind `this: Pin<&mut $t>`).
    (@tokio $t:ty, |$this:ident| $inner:expr) => {
        impl tokio::io::AsyncRead for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &mut tokio::io::ReadBuf<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                let n = futures::ready!($inner.poll_read_bytes(cx, buf.initialize_unfilled()))?;
                buf.advance(n);
                std::task::Poll::Ready(Ok(()))
            }
        }

        impl tokio::io::AsyncWrite for $t {
            fn poll_write(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                buf: &[u8],
            ) -> std::task::Poll<std::io::Result<usize>> {
                let $this = &*self;
                $inner.poll_write_bytes(cx, buf)
            }

            fn poll_flush(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(Ok(()))
            }

            /// A write shutdown, as `poll_close` of futures' `AsyncWrite`.
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let $this = &*self;
                std::task::Poll::Ready($inner.close_write())
            }
        }
    };
}
