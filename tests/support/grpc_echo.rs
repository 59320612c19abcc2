//! An echo service over gRPC (`tonic`), served on a chanstream `Listener` and called through
//! chanstream's `Connector`. Most of it is the glue `tonic-build` would generate from a
//! `.proto` file, written out so that no build script is needed. Used by `tests/grpc.rs`.
#![allow(dead_code)]

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use chanstream::{Addr, Connector, Listener, Network};
use futures::Stream;
use tonic::body::Body;
use tonic::codegen::http::{self, uri::PathAndQuery};
use tonic::server::NamedService;
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

/// The caller's address, from the connection info tonic puts in each request: a
/// `chanstream::Addr` on a `Conn`, a `chanstream::net::Addr` on a `net::Conn`.
fn peer_of<T>(req: &Request<T>) -> String {
    let chan = req.extensions().get::<Addr>().map(|a| a.to_string());
    #[cfg(feature = "net")]
    let chan = chan.or_else(|| {
        req.extensions()
            .get::<chanstream::net::Addr>()
            .map(|a| a.to_string())
    });
    chan.unwrap_or_default()
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
    tokio::spawn(async move {
        Server::builder()
            .add_service(EchoServer)
            .serve_with_incoming_shutdown(listener.incoming(), async {
                let _ = stop.await;
            })
            .await
            .unwrap();
    })
}

/// A gRPC client whose connections are dialed to `name` in `net`.
pub async fn client(
    net: &Network,
    name: &str,
) -> Result<tonic::client::Grpc<Channel>, tonic::transport::Error> {
    client_with(Connector::new(net), &format!("http://{name}")).await
}

/// A gRPC client for `uri` whose connections `connector` dials.
pub async fn client_with<C>(
    connector: C,
    uri: &str,
) -> Result<tonic::client::Grpc<Channel>, tonic::transport::Error>
where
    C: tower::Service<http::Uri> + Send + 'static,
    C::Response: hyper::rt::Read + hyper::rt::Write + Send + Unpin + 'static,
    C::Future: Send,
    C::Error: std::error::Error + Send + Sync + 'static,
{
    let channel = Endpoint::from_shared(uri.to_string())?
        .connect_with_connector(connector)
        .await?;
    Ok(tonic::client::Grpc::new(channel))
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
