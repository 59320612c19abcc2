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
