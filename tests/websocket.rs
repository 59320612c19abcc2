//! WebSocket (`async-tungstenite`) over a connection: handshake, text and binary messages, and
//! the close handshake.

mod common;

use async_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use async_tungstenite::tungstenite::protocol::CloseFrame;
use async_tungstenite::tungstenite::Message;
use async_tungstenite::{accept_async, client_async};
use chanstream::Network;
use common::{pattern, run};
use futures::StreamExt;

#[test]
fn websocket_client_and_server_exchange_messages_and_close() {
    let net = Network::new();
    let listener = net.bind("ws.test").unwrap();
    run(async {
        let server = async {
            let conn = listener.accept().await.unwrap();
            let mut ws = accept_async(conn).await.unwrap();
            // Echo every data message until the client closes.
            while let Some(msg) = ws.next().await {
                match msg.unwrap() {
                    m @ (Message::Text(_) | Message::Binary(_)) => ws.send(m).await.unwrap(),
                    Message::Close(frame) => {
                        assert_eq!(frame.unwrap().code, CloseCode::Normal);
                        break;
                    }
                    _ => {}
                }
            }
            // The close reply has been sent; the stream then ends.
            assert!(ws.next().await.is_none());
        };
        let client = async {
            let conn = net.connect("ws.test").await.unwrap();
            let (mut ws, response) = client_async("ws://ws.test/chat", conn).await.unwrap();
            assert_eq!(response.status(), 101);
            for i in 0..100 {
                let text = format!("message {i}");
                ws.send(Message::text(text.clone())).await.unwrap();
                assert_eq!(ws.next().await.unwrap().unwrap(), Message::text(text));
                let bin = pattern(i, 1 + (i as usize * 977) % 70_000);
                ws.send(Message::binary(bin.clone())).await.unwrap();
                assert_eq!(ws.next().await.unwrap().unwrap(), Message::binary(bin));
            }
            ws.close(Some(CloseFrame {
                code: CloseCode::Normal,
                reason: "done".into(),
            }))
            .await
            .unwrap();
            // The server's close reply completes the handshake.
            match ws.next().await {
                Some(Ok(Message::Close(Some(frame)))) => assert_eq!(frame.code, CloseCode::Normal),
                None => {}
                other => panic!("expected the close reply, got {other:?}"),
            }
        };
        futures::join!(server, client);
    });
}
