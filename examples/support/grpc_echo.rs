//! An echo service over gRPC (`tonic`), served on a chanstream `Listener` and called through a
//! chanstream connector. It is the glue `tonic-build` would generate from a `.proto` file,
//! written out so that no build script is needed. Shared by `examples/grpc.rs` and
//! `tests/grpc.rs`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use chanstream::{Addr, Conn, Listener, Network};
use futures::Stream;
use hyper_util::rt::TokioIo;
use tonic::body::Body;
use tonic::codegen::http::{self, uri::PathAndQuery};
use tonic::server::NamedService;
use tonic::transport::server::Connected;
use tonic::transport::{Channel, Endpoint, Server};
use tonic::{Request, Response, Status, Streaming};
use tonic_prost::ProstCodec;

#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoRequest {
    #[prost(string, tag = "1")]
    pub message: String,
    #[prost(uint32, tag = "2")]
    pub repeat: u32,
}

#[derive(Clone, PartialEq, prost::Message)]
pub struct EchoReply {
    #[prost(string, tag = "1")]
    pub message: String,
    #[prost(uint32, tag = "2")]
    pub index: u32,
    /// The caller's address, as the server saw it.
    #[prost(string, tag = "3")]
    pub peer: String,
}

pub const UNARY: &str = "/chanstream.test.Echo/Unary";
pub const STREAM: &str = "/chanstream.test.Echo/Stream";

/// The server end of a connection as tonic wants it: with its connection info.
pub struct GrpcConn(pub Conn);

impl Connected for GrpcConn {
    type ConnectInfo = Addr;
    fn connect_info(&self) -> Addr {
        self.0.peer_addr()
    }
}

impl tokio::io::AsyncRead for GrpcConn {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_read(cx, buf)
    }
}

impl tokio::io::AsyncWrite for GrpcConn {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<std::io::Result<usize>> {
        Pin::new(&mut self.0).poll_write(cx, buf)
    }
    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_flush(cx)
    }
    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<std::io::Result<()>> {
        Pin::new(&mut self.0).poll_shutdown(cx)
    }
}

fn peer_of<T>(req: &Request<T>) -> String {
    req.extensions()
        .get::<Addr>()
        .map(|a| a.to_string())
        .unwrap_or_default()
}

async fn unary(req: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
    let peer = peer_of(&req);
    let message = req.into_inner().message.to_uppercase();
    Ok(Response::new(EchoReply {
        message,
        index: 0,
        peer,
    }))
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

async fn stream(req: Request<EchoRequest>) -> Result<Response<ReplyStream>, Status> {
    let peer = peer_of(&req);
    let EchoRequest { message, repeat } = req.into_inner();
    let replies = futures::stream::iter((0..repeat).map(move |index| {
        Ok(EchoReply {
            message: message.clone(),
            index,
            peer: peer.clone(),
        })
    }));
    Ok(Response::new(Box::pin(replies) as ReplyStream))
}

/// What `tonic-build` would generate for the service: routes calls by path.
#[derive(Clone)]
pub struct EchoServer;

impl NamedService for EchoServer {
    const NAME: &'static str = "chanstream.test.Echo";
}

impl tower::Service<http::Request<Body>> for EchoServer {
    type Response = http::Response<Body>;
    type Error = Infallible;
    type Future =
        Pin<Box<dyn std::future::Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, req: http::Request<Body>) -> Self::Future {
        match req.uri().path() {
            UNARY => Box::pin(async move {
                let mut grpc =
                    tonic::server::Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default());
                Ok(grpc.unary(tower::service_fn(unary), req).await)
            }),
            STREAM => Box::pin(async move {
                let mut grpc =
                    tonic::server::Grpc::new(ProstCodec::<EchoReply, EchoRequest>::default());
                Ok(grpc.server_streaming(tower::service_fn(stream), req).await)
            }),
            _ => Box::pin(async { Ok(Status::unimplemented("no such method").into_http()) }),
        }
    }
}

/// Serves the echo service on every connection `listener` accepts, until `stop` fires.
pub fn serve(
    listener: Listener,
    stop: tokio::sync::oneshot::Receiver<()>,
) -> tokio::task::JoinHandle<()> {
    let incoming = futures::stream::unfold(listener, |l| async move {
        let next = l.accept().await.map(GrpcConn);
        Some((next, l))
    });
    tokio::spawn(async move {
        Server::builder()
            .add_service(EchoServer)
            .serve_with_incoming_shutdown(incoming, async {
                let _ = stop.await;
            })
            .await
            .unwrap();
    })
}

/// A gRPC client whose every connection is dialed through `net`.
pub async fn client(net: Network, name: &'static str) -> tonic::client::Grpc<Channel> {
    let channel = Endpoint::from_static("http://chanstream.invalid")
        .connect_with_connector(tower::service_fn(move |_: http::Uri| {
            let net = net.clone();
            async move { net.connect(name).await.map(TokioIo::new) }
        }))
        .await
        .unwrap();
    tonic::client::Grpc::new(channel)
}

/// Calls the unary method.
pub async fn shout(
    grpc: &mut tonic::client::Grpc<Channel>,
    message: &str,
) -> Result<EchoReply, Status> {
    call_unary(grpc, UNARY, message).await
}

/// Calls the unary method at `path` (to show what an unknown method returns).
pub async fn call_unary(
    grpc: &mut tonic::client::Grpc<Channel>,
    path: &'static str,
    message: &str,
) -> Result<EchoReply, Status> {
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let request = Request::new(EchoRequest {
        message: message.into(),
        repeat: 0,
    });
    let codec = ProstCodec::<EchoRequest, EchoReply>::default();
    Ok(grpc
        .unary(request, PathAndQuery::from_static(path), codec)
        .await?
        .into_inner())
}

/// Calls the server-streaming method: `repeat` replies.
pub async fn ticks(
    grpc: &mut tonic::client::Grpc<Channel>,
    message: &str,
    repeat: u32,
) -> Result<Streaming<EchoReply>, Status> {
    grpc.ready()
        .await
        .map_err(|e| Status::unavailable(e.to_string()))?;
    let request = Request::new(EchoRequest {
        message: message.into(),
        repeat,
    });
    let codec = ProstCodec::<EchoRequest, EchoReply>::default();
    Ok(grpc
        .server_streaming(request, PathAndQuery::from_static(STREAM), codec)
        .await?
        .into_inner())
}
