//! Reading in place (`Reader`, `AsyncBufRead`) and owned chunks (`write_owned`, `read_owned`):
//! the same stream rules as copying reads and writes, with fewer copies.

mod common;

use std::net::Shutdown;
use std::pin::pin;
use std::time::{Duration, Instant};

use chanstream::Error;
use common::{chan_err, counting_waker, pair_with_buffer, pattern, poll_pinned, run, write_all};
use futures::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt};

fn past() -> Instant {
    Instant::now() - Duration::from_millis(1)
}

#[test]
fn reader_consumes_a_stream_in_place_across_threads() {
    let data = pattern(21, 8 << 20);
    let (a, b) = pair_with_buffer(64 * 1024);
    std::thread::scope(|s| {
        let data = &data;
        s.spawn(move || {
            for chunk in data.chunks(3001) {
                run(write_all(&a, chunk)).unwrap();
            }
            a.shutdown(Shutdown::Write).unwrap();
        });
        let mut reader = b.reader();
        let mut got = Vec::with_capacity(data.len());
        run(async {
            loop {
                let buf = reader.fill_buf().await.unwrap();
                if buf.is_empty() {
                    break;
                }
                // Consume in odd-sized steps, as a parser would.
                let n = buf.len().min(777);
                got.extend_from_slice(&buf[..n]);
                reader.consume_unpin(n);
            }
        });
        assert!(got == *data, "stream damaged");
    });
}

#[test]
fn reader_and_copying_reads_on_it_keep_stream_order() {
    let (mut a, b) = pair_with_buffer(1024);
    let mut reader = b.reader();
    run(async {
        a.write_all(b"abcdef").await.unwrap();
        assert_eq!(reader.fill_buf().await.unwrap(), b"abcdef");
        reader.consume_unpin(2);
        let mut two = [0u8; 2];
        reader.read_exact(&mut two).await.unwrap();
        assert_eq!(&two, b"cd");
        a.write_all(b"gh").await.unwrap();
        a.close().await.unwrap();
        let mut rest = String::new();
        reader.read_to_string(&mut rest).await.unwrap();
        assert_eq!(rest, "efgh");
    });
}

#[test]
fn reader_returns_eof_after_read_shutdown_and_drops_what_it_holds() {
    let (mut a, b) = pair_with_buffer(1024);
    let mut reader = b.reader();
    run(async {
        a.write_all(b"held").await.unwrap();
        assert_eq!(reader.fill_buf().await.unwrap(), b"held");
        b.shutdown(Shutdown::Read).unwrap();
        assert!(reader.fill_buf().await.unwrap().is_empty());
        assert_eq!(reader.read(&mut [0; 4]).await.unwrap(), 0);
        let err = a.write(b"x").await.unwrap_err();
        assert_eq!(chan_err(&err), Error::ConnectionClosed);
    });
}

#[test]
fn reader_fails_once_the_deadline_passed_even_with_bytes_in_hand() {
    let (mut a, b) = pair_with_buffer(1024);
    let mut reader = b.reader();
    run(async {
        a.write_all(b"held").await.unwrap();
        assert_eq!(reader.fill_buf().await.unwrap(), b"held");
        b.set_read_deadline(Some(past()));
        let err = reader.fill_buf().await.unwrap_err();
        assert_eq!(chan_err(&err), Error::ReadTimeout);
        let err = reader.read(&mut [0; 4]).await.unwrap_err();
        assert_eq!(chan_err(&err), Error::ReadTimeout);
        // Cleared: nothing was lost.
        b.set_read_deadline(None);
        assert_eq!(reader.fill_buf().await.unwrap(), b"held");
    });
}

#[test]
fn reader_waits_for_bytes_and_is_woken_by_a_write() {
    let (a, b) = pair_with_buffer(1024);
    let mut reader = b.reader();
    let (waker, count) = counting_waker();
    {
        let mut fill = pin!(reader.fill_buf());
        assert!(poll_pinned(fill.as_mut(), &waker).is_pending());
    }
    run(write_all(&a, b"wake")).unwrap();
    assert!(count.count() >= 1);
    assert_eq!(run(reader.fill_buf()).unwrap(), b"wake");
}

#[test]
fn owned_chunk_moves_without_a_copy() {
    let (a, b) = pair_with_buffer(1 << 20);
    for round in 0..10 {
        let chunk = pattern(round, 1 << 20);
        let (address, expected) = (chunk.as_ptr(), chunk.clone());
        run(a.write_owned(chunk)).unwrap();
        let got = run(b.read_owned()).unwrap();
        assert_eq!(got.as_ptr(), address, "round {round}: the chunk was copied");
        assert!(got == expected);
    }
}

#[test]
fn owned_and_copying_writes_interleave_in_stream_order() {
    let (a, b) = pair_with_buffer(4096);
    let mut expected = Vec::new();
    std::thread::scope(|s| {
        let mut sent = Vec::new();
        for i in 0..300u64 {
            sent.push((i, pattern(i, (i as usize * 97) % 5000)));
        }
        for (_, bytes) in &sent {
            expected.extend_from_slice(bytes);
        }
        s.spawn(move || {
            for (i, bytes) in sent {
                if i % 2 == 0 {
                    run(a.write_owned(bytes)).unwrap();
                } else {
                    run(write_all(&a, &bytes)).unwrap();
                }
            }
            a.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        loop {
            let chunk = run(b.read_owned()).unwrap();
            if chunk.is_empty() {
                break;
            }
            assert!(
                chunk.len() <= 4096,
                "read_owned returned more than the buffer holds"
            );
            got.extend_from_slice(&chunk);
        }
        assert!(
            got == expected,
            "owned and copied writes reordered or damaged"
        );
    });
}

#[test]
fn owned_chunk_larger_than_the_buffer_is_sent_in_pieces() {
    let (a, b) = pair_with_buffer(1000);
    let chunk = pattern(9, 100_000);
    std::thread::scope(|s| {
        let expected = chunk.clone();
        s.spawn(move || {
            run(a.write_owned(chunk)).unwrap();
            a.shutdown(Shutdown::Write).unwrap();
        });
        let mut got = Vec::new();
        run((&b).read_to_end(&mut got)).unwrap();
        assert!(got == expected);
    });
}

#[test]
fn owned_write_waits_for_room_and_obeys_the_write_deadline() {
    let (a, b) = pair_with_buffer(100);
    run(write_all(&a, &[1; 60])).unwrap();
    // 50 more bytes do not fit beside 60: the write waits, and the deadline ends it.
    a.set_write_deadline(Some(Instant::now() + Duration::from_millis(20)));
    let err = run(a.write_owned(vec![2; 50])).unwrap_err();
    assert_eq!(chan_err(&err), Error::WriteTimeout);
    a.set_write_deadline(None);
    // Nothing of the timed-out chunk was sent.
    let got = run(b.read_owned()).unwrap();
    assert_eq!(got, vec![1; 60]);
}

#[test]
fn dropped_owned_write_sends_nothing() {
    let (a, b) = pair_with_buffer(10);
    run(write_all(&a, &[1; 10])).unwrap();
    let (waker, _) = counting_waker();
    {
        let mut w = pin!(a.write_owned(vec![2; 5]));
        assert!(poll_pinned(w.as_mut(), &waker).is_pending());
    }
    a.shutdown(Shutdown::Write).unwrap();
    let mut got = Vec::new();
    run((&b).read_to_end(&mut got)).unwrap();
    assert_eq!(got, vec![1; 10]);
}

#[test]
fn owned_writes_follow_the_shutdown_rules() {
    let (a, b) = pair_with_buffer(1024);
    b.shutdown(Shutdown::Read).unwrap();
    let err = run(a.write_owned(vec![1; 4])).unwrap_err();
    assert_eq!(chan_err(&err), Error::ConnectionClosed);
    let (a, _b) = pair_with_buffer(1024);
    a.shutdown(Shutdown::Write).unwrap();
    let err = run(a.write_owned(vec![1; 4])).unwrap_err();
    assert_eq!(chan_err(&err), Error::ConnectionClosed);
}

#[test]
fn read_owned_returns_empty_at_end_of_stream_and_times_out_on_deadline() {
    let (a, b) = pair_with_buffer(1024);
    b.set_read_deadline(Some(past()));
    let err = run(b.read_owned()).unwrap_err();
    assert_eq!(chan_err(&err), Error::ReadTimeout);
    b.set_read_deadline(None);
    a.shutdown(Shutdown::Write).unwrap();
    assert!(run(b.read_owned()).unwrap().is_empty());
}
