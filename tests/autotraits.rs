//! The public types are thread-safe and movable, as SPEC 1 requires.

use chanstream::{Accept, Addr, Conn, Connect, Error, Incoming, Listener, Network};

fn assert_send<T: Send>() {}
fn assert_sync<T: Sync>() {}
fn assert_unpin<T: Unpin>() {}
fn assert_static<T: 'static>() {}
fn assert_debug<T: std::fmt::Debug>() {}

#[test]
fn conn_is_clone_send_sync_unpin_debug_static() {
    fn clone<T: Clone>() {}
    clone::<Conn>();
    assert_send::<Conn>();
    assert_sync::<Conn>();
    assert_unpin::<Conn>();
    assert_debug::<Conn>();
    assert_static::<Conn>();
}

#[test]
fn listener_is_send_sync_unpin() {
    assert_send::<Listener>();
    assert_sync::<Listener>();
    assert_unpin::<Listener>();
    assert_debug::<Listener>();
}

#[test]
fn futures_and_streams_are_send() {
    assert_send::<Connect>();
    assert_unpin::<Connect>();
    assert_send::<Accept<'static>>();
    assert_unpin::<Accept<'static>>();
    assert_send::<Incoming<'static>>();
    assert_unpin::<Incoming<'static>>();
}

#[test]
fn small_types_are_send_sync() {
    assert_send::<Addr>();
    assert_sync::<Addr>();
    assert_send::<Network>();
    assert_sync::<Network>();
    assert_send::<Error>();
    assert_sync::<Error>();
}
