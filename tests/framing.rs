//! Length-delimited framing (`asynchronous-codec`) over a connection: 10,000 frames each way.

mod common;

use asynchronous_codec::{Framed, LengthCodec};
use bytes::Bytes;
use common::{pair_with_buffer, pattern, run};
use futures::{SinkExt, StreamExt};

const FRAMES: usize = 10_000;

fn frame(i: usize) -> Bytes {
    // Sizes from 0 to ~3 KiB, so frames straddle buffer boundaries in every way.
    Bytes::from(pattern(i as u64, (i * 131) % 3000))
}

#[test]
fn ten_thousand_length_delimited_frames_arrive_whole_and_in_order() {
    // A small buffer forces frames to be split across many reads and writes.
    let (client, server) = pair_with_buffer(4096);
    run(async {
        let mut tx = Framed::new(client, LengthCodec);
        let mut rx = Framed::new(server, LengthCodec);
        let send = async {
            for i in 0..FRAMES {
                tx.feed(frame(i)).await.unwrap();
            }
            tx.close().await.unwrap();
        };
        let recv = async {
            let mut n = 0;
            while let Some(got) = rx.next().await {
                assert_eq!(got.unwrap(), frame(n), "frame {n}");
                n += 1;
            }
            n
        };
        let ((), received) = futures::join!(send, recv);
        assert_eq!(received, FRAMES);
    });
}

#[test]
fn frames_echo_back_on_the_same_connection() {
    let (client, server) = pair_with_buffer(64 * 1024);
    run(async {
        let echo = async {
            let mut io = Framed::new(server, LengthCodec);
            while let Some(f) = io.next().await {
                io.send(f.unwrap()).await.unwrap();
            }
            io.close().await.unwrap();
        };
        let talk = async {
            let mut io = Framed::new(client, LengthCodec);
            for i in 0..1000 {
                io.send(frame(i)).await.unwrap();
                assert_eq!(io.next().await.unwrap().unwrap(), frame(i));
            }
            io.close().await.unwrap();
            assert!(io.next().await.is_none(), "echo did not end the stream");
        };
        futures::join!(echo, talk);
    });
}
