//! The protocol of one direction of a TCP or Unix socket (`net::Conn`): its shutdown flag,
//! its deadline and its waiting tasks, over a stand-in for the reactor, model-checked as in
//! `models.rs`.
#![cfg(loom)]

use std::sync::Arc;
use std::time::Duration;

use chanstream::loom_hooks::{Ended, SocketSide};
use chanstream::Error;
use loom::future::block_on;
use loom::thread;

mod common;
use common::model;

fn read(side: &SocketSide) -> Result<Ended, Error> {
    block_on(futures::future::poll_fn(|cx| side.poll_read(cx)))
}

/// A read of `side` while another thread runs `other` on it.
fn read_while(
    side: SocketSide,
    other: impl FnOnce(&SocketSide) + Send + 'static,
) -> Result<Ended, Error> {
    let side = Arc::new(side);
    let theirs = side.clone();
    let thread = thread::spawn(move || other(&theirs));
    let out = read(&side);
    thread.join().unwrap();
    out
}

#[test]
fn a_socket_read_waiting_for_the_reactor_ends_when_the_direction_is_shut() {
    model(|| {
        let side = SocketSide::new();
        assert_eq!(read_while(side, |other| other.shut()), Ok(Ended::Shut));
    });
}

#[test]
fn a_socket_read_is_woken_through_the_reactor_when_data_arrives() {
    model(|| {
        let side = SocketSide::new();
        assert_eq!(
            read_while(side, |other| other.make_readable()),
            Ok(Ended::Data)
        );
    });
}

#[test]
fn a_socket_deadline_set_in_the_past_fails_a_waiting_read() {
    model(|| {
        let side = SocketSide::new();
        assert_eq!(
            read_while(side, |other| other.set_deadline(Some(other.clock().now()))),
            Err(Error::ReadTimeout)
        );
    });
}

#[test]
fn a_socket_deadline_set_in_the_past_while_data_arrives_fails_the_read_or_lets_it_read() {
    model(|| {
        let side = Arc::new(SocketSide::new());
        let (a, b) = (side.clone(), side.clone());
        let setter = thread::spawn(move || a.set_deadline(Some(a.clock().now())));
        let reactor = thread::spawn(move || b.make_readable());
        let out = read(&side);
        assert!(
            matches!(out, Ok(Ended::Data) | Err(Error::ReadTimeout)),
            "{out:?}"
        );
        setter.join().unwrap();
        reactor.join().unwrap();
        // Once both have happened, the deadline wins: reads fail and move nothing.
        assert_eq!(read(&side), Err(Error::ReadTimeout));
    });
}

#[test]
fn a_socket_deadline_timer_firing_fails_a_waiting_read() {
    model(|| {
        let side = SocketSide::new();
        side.set_deadline(Some(side.clock().now() + Duration::from_secs(1)));
        assert_eq!(
            read_while(side, |other| other.clock().advance(Duration::from_secs(2))),
            Err(Error::ReadTimeout)
        );
    });
}

#[test]
fn a_socket_deadline_moved_later_or_cleared_keeps_a_read_waiting_until_shut() {
    model(|| {
        let side = Arc::new(SocketSide::new());
        let first = side.clock().now() + Duration::from_secs(1);
        side.set_deadline(Some(first));
        let other = side.clone();
        let mover = thread::spawn(move || {
            // The timer armed for the first deadline fires early and is armed again.
            other.set_deadline(Some(first + Duration::from_secs(10)));
            other.clock().advance(Duration::from_secs(2));
            other.set_deadline(None);
            other.clock().advance(Duration::from_secs(20));
            other.shut();
        });
        assert_eq!(read(&side), Ok(Ended::Shut));
        mover.join().unwrap();
    });
}
