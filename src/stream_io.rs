//! The I/O traits of a connection type, written once for [`Conn`](crate::Conn) and, with the
//! `net` feature, [`net::Conn`](crate::net::Conn): futures' `AsyncRead` and `AsyncWrite` for
//! the type and for a shared reference to it, tokio's with the `tokio` feature, and hyper's
//! `rt::Read`/`rt::Write` and hyper-util's `Connection` with the `hyper` feature.
//!
//! The type provides inherent methods: `poll_read_bytes(&self, cx, buf)`,
//! `poll_write_bytes(&self, cx, buf)`, `close_write(&self) -> io::Result<()>` (a write
//! shutdown), with `hyper` `poll_read_to(&self, cx, max, sink)` (a read that hands the bytes
//! to `sink`, as hyper's cursor over uninitialised memory takes them) and `peer_addr`.
//! Flushing succeeds at once: a write's bytes are delivered when it returns.

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
        #[cfg(feature = "hyper")]
        impl_stream_io!(@hyper $conn);
    };
    // hyper's traits, and hyper-util's `Connection` (its `extra` is the peer's address, which
    // hyper-util's client puts in each response's extensions).
    (@hyper $t:ty) => {
        impl ::hyper::rt::Read for $t {
            fn poll_read(
                self: std::pin::Pin<&mut Self>,
                cx: &mut std::task::Context<'_>,
                mut buf: ::hyper::rt::ReadBufCursor<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                let max = buf.remaining();
                futures::ready!(self.poll_read_to(cx, max, &mut |bytes| buf.put_slice(bytes)))?;
                std::task::Poll::Ready(Ok(()))
            }
        }

        impl ::hyper::rt::Write for $t {
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

            /// A write shutdown, as `poll_close` of futures' `AsyncWrite`.
            fn poll_shutdown(
                self: std::pin::Pin<&mut Self>,
                _: &mut std::task::Context<'_>,
            ) -> std::task::Poll<std::io::Result<()>> {
                std::task::Poll::Ready(self.close_write())
            }
        }

        impl ::hyper_util::client::legacy::connect::Connection for $t {
            fn connected(&self) -> ::hyper_util::client::legacy::connect::Connected {
                ::hyper_util::client::legacy::connect::Connected::new().extra(self.peer_addr())
            }
        }
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
