//! A stream that is always ready yields now and then, so that one task looping over it cannot
//! starve the other tasks of a single-threaded executor.

mod common;

use std::cell::Cell;
use std::rc::Rc;

use common::{pair, pair_with_buffer, pattern, read, run, write_all};
use futures::executor::LocalPool;
use futures::io::AsyncReadExt;
use futures::task::LocalSpawnExt;

/// Operations the looping task makes, far more than any fair budget.
const OPS: usize = 4096;

/// Spawns `looping` (which calls `step` `OPS` times) and then a task that raises a flag, on one
/// single-threaded pool; returns after how many steps the looping task first saw the flag, or
/// `None` if it never did (it ran to the end without letting the other task run).
fn steps_before_neighbour_ran<F>(step: F) -> Option<usize>
where
    F: Fn(usize) -> futures::future::LocalBoxFuture<'static, ()> + 'static,
{
    let mut pool = LocalPool::new();
    let flag = Rc::new(Cell::new(false));
    let seen = Rc::new(Cell::new(None));
    let (f, s) = (flag.clone(), seen.clone());
    pool.spawner()
        .spawn_local(async move {
            for i in 0..OPS {
                step(i).await;
                if f.get() && s.get().is_none() {
                    s.set(Some(i + 1));
                }
            }
        })
        .unwrap();
    pool.spawner()
        .spawn_local(async move { flag.set(true) })
        .unwrap();
    pool.run();
    seen.get()
}

#[test]
fn a_reader_whose_data_is_always_there_lets_other_tasks_run() {
    let (client, server) = pair();
    let data = pattern(1, OPS);
    run(write_all(&client, &data)).unwrap();
    let got = Rc::new(std::cell::RefCell::new(Vec::new()));
    let sink = got.clone();
    let server = Rc::new(server);
    let steps = steps_before_neighbour_ran(move |_| {
        let (server, sink) = (server.clone(), sink.clone());
        Box::pin(async move {
            let mut byte = [0u8];
            assert_eq!(read(&*server, &mut byte).await.unwrap(), 1);
            sink.borrow_mut().push(byte[0]);
        })
    });
    // 128 reads move a byte each, the 129th yields first, and then sees the flag.
    assert_eq!(
        steps,
        Some(129),
        "the neighbour ran only after {steps:?} reads"
    );
    // Yielding lost, duplicated or reordered nothing.
    assert_eq!(*got.borrow(), data);
}

#[test]
fn a_writer_whose_buffer_always_has_room_lets_other_tasks_run() {
    let (client, server) = pair_with_buffer(1 << 20);
    let data = pattern(2, OPS);
    let client = Rc::new(client);
    let source = Rc::new(data.clone());
    let steps = steps_before_neighbour_ran({
        let client = client.clone();
        move |i| {
            let (client, source) = (client.clone(), source.clone());
            Box::pin(async move { write_all(&*client, &source[i..i + 1]).await.unwrap() })
        }
    });
    // 128 writes move a byte each, the 129th yields first, and then sees the flag.
    assert_eq!(
        steps,
        Some(129),
        "the neighbour ran only after {steps:?} writes"
    );
    drop(client);
    let mut got = Vec::new();
    run((&server).read_to_end(&mut got)).unwrap();
    assert_eq!(got, data);
}

#[test]
fn a_yield_is_only_a_pending_poll_that_moved_nothing() {
    // Polled by hand with a counting waker: the 129th read in a row returns `Pending` and wakes
    // its task at once; the next poll reads the byte it did not take.
    let (client, server) = pair();
    let data = pattern(3, 200);
    run(write_all(&client, &data)).unwrap();
    let (waker, count) = common::counting_waker();
    let mut got = Vec::new();
    let mut pendings = 0;
    while got.len() < data.len() {
        let mut byte = [0u8];
        let mut fut = Box::pin(read(&server, &mut byte));
        let polled = common::poll_pinned(fut.as_mut(), &waker);
        drop(fut);
        match polled {
            std::task::Poll::Ready(n) => {
                assert_eq!(n.unwrap(), 1);
                got.push(byte[0]);
            }
            std::task::Poll::Pending => {
                pendings += 1;
                assert_eq!(count.count(), pendings, "a yield wakes its task at once");
                assert_eq!(got.len(), 128, "yields after 128 reads in a row");
            }
        }
    }
    assert_eq!(pendings, 1);
    assert_eq!(got, data);
    drop(client);
}

/// Polls one write of `data` on `conn` by hand.
fn poll_write_once(
    conn: &chanstream::Conn,
    data: &[u8],
    waker: &std::task::Waker,
) -> std::task::Poll<usize> {
    let mut cx = std::task::Context::from_waker(waker);
    futures::io::AsyncWrite::poll_write(std::pin::Pin::new(&mut &*conn), &mut cx, data)
        .map(|r| r.unwrap())
}

#[test]
fn a_writer_yields_once_to_the_reader_it_woke_when_16_kib_are_waiting() {
    let (client, server) = pair_with_buffer(1 << 20);
    let (reader_waker, reader_woken) = common::counting_waker();
    let mut buf = vec![0u8; 64 << 10];
    let mut read_fut = Box::pin(read(&server, &mut buf));
    assert!(common::poll_pinned(read_fut.as_mut(), &reader_waker).is_pending());

    let (waker, woken) = common::counting_waker();
    let data = pattern(4, 40 << 10);
    let mut sent = 0;
    for _ in 0..16 {
        assert_eq!(
            poll_write_once(&client, &data[sent..sent + 1024], &waker),
            std::task::Poll::Ready(1024)
        );
        sent += 1024;
    }
    assert_eq!(
        reader_woken.count(),
        1,
        "the first write woke the waiting reader"
    );
    // 16 KiB wait for a reader that has not run: the writer yields, having moved nothing...
    assert!(poll_write_once(&client, &data[sent..sent + 1024], &waker).is_pending());
    assert_eq!(woken.count(), 1, "a yield wakes its own task");
    // ...once: the next writes go on while the reader still has not run.
    for _ in 0..8 {
        assert_eq!(
            poll_write_once(&client, &data[sent..sent + 1024], &waker),
            std::task::Poll::Ready(1024)
        );
        sent += 1024;
    }
    let std::task::Poll::Ready(n) = common::poll_pinned(read_fut.as_mut(), &reader_waker) else {
        panic!("the woken reader has bytes to read");
    };
    assert_eq!(n.unwrap(), sent);
    drop(read_fut);
    assert_eq!(buf[..sent], data[..sent]);
}

#[test]
fn a_writer_alone_on_a_thread_does_not_yield_to_a_reader_that_is_not_waiting() {
    // No reader is registered: nothing to hand over to, so only the every-128 budget applies.
    let (client, _server) = pair_with_buffer(1 << 20);
    let (waker, woken) = common::counting_waker();
    let data = vec![7u8; 1024];
    for _ in 0..128 {
        assert_eq!(
            poll_write_once(&client, &data, &waker),
            std::task::Poll::Ready(1024)
        );
    }
    assert_eq!(woken.count(), 0);
}

#[test]
fn a_huge_write_moves_at_most_256_kib_per_call() {
    let (client, server) = pair_with_buffer(4 << 20);
    let (waker, _) = common::counting_waker();
    let data = pattern(5, 1 << 20);
    assert_eq!(
        poll_write_once(&client, &data, &waker),
        std::task::Poll::Ready(256 << 10)
    );
    // `write_all` carries on with the rest, and every byte arrives in order.
    run(write_all(&client, &data[256 << 10..])).unwrap();
    drop(client);
    let mut got = Vec::new();
    run((&server).read_to_end(&mut got)).unwrap();
    assert_eq!(got, data);
}

/// Writes `data` in 1 KiB writes, then shuts down writing.
async fn send_in_1_kib_writes(conn: &chanstream::Conn, data: &[u8]) {
    for chunk in data.chunks(1024) {
        write_all(conn, chunk).await.unwrap();
    }
    conn.shutdown(std::net::Shutdown::Write).unwrap();
}

#[test]
fn a_task_that_writes_and_reads_one_connection_reads_in_16_kib_slices() {
    // One task, writer and reader in one `join!`: the reader drains each 16 KiB while it is
    // still in cache, instead of after the writer has filled the whole buffer.
    let (client, mut server) = pair_with_buffer(1 << 20);
    let data = pattern(6, 1 << 20);
    let reads = run(async {
        let send = send_in_1_kib_writes(&client, &data);
        let recv = async {
            let mut got = Vec::new();
            let mut sizes = Vec::new();
            let mut buf = vec![0u8; 64 << 10];
            loop {
                match server.read(&mut buf).await.unwrap() {
                    0 => return (got, sizes),
                    n => {
                        sizes.push(n);
                        got.extend_from_slice(&buf[..n]);
                    }
                }
            }
        };
        futures::join!(send, recv).1
    });
    assert_eq!(reads.0, data);
    // The writer runs first and writes 128 KiB (its budget) before the reader first waits;
    // from then on each read finds at most one hand-over's worth.
    let mut before = 0;
    let later: Vec<usize> = reads
        .1
        .into_iter()
        .skip_while(|&n| {
            before += n;
            before <= 128 << 10
        })
        .collect();
    assert!(later.len() > 50, "{} reads", later.len());
    assert!(
        later.iter().all(|&n| n <= 17 << 10),
        "reads larger than a hand-over: {:?}",
        later.iter().filter(|&&n| n > 17 << 10).collect::<Vec<_>>()
    );
}

#[test]
fn a_task_that_writes_and_reads_in_place_takes_up_to_128_kib_at_a_time() {
    // With the reader taking the buffer whole (`Conn::reader`), the writer hands over at
    // 128 KiB instead of 16 KiB: nothing is copied out, so fewer, larger takes pay.
    use futures::io::AsyncBufReadExt;
    let (client, server) = pair_with_buffer(1 << 20);
    let data = pattern(7, 2 << 20);
    let (got, fills) = run(async {
        let send = send_in_1_kib_writes(&client, &data);
        let recv = async {
            let mut reader = server.reader();
            let (mut got, mut fills) = (Vec::new(), Vec::new());
            loop {
                let buf = reader.fill_buf().await.unwrap();
                if buf.is_empty() {
                    return (got, fills);
                }
                let n = buf.len();
                got.extend_from_slice(buf);
                fills.push(n);
                reader.consume_unpin(n);
            }
        };
        futures::join!(send, recv).1
    });
    assert_eq!(got, data);
    let later = &fills[2..];
    assert!(later.len() > 8, "{fills:?}");
    assert!(
        later.iter().all(|&n| n > 17 << 10 && n <= 129 << 10),
        "takes outside (16 KiB, 128 KiB]: {fills:?}"
    );
}
