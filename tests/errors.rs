//! The error table (SPEC 6) and the round trip through `io::Error`.

use std::io::{self, ErrorKind};

use chanstream::Error;

#[test]
fn every_variant_matches_the_table() {
    let table = [
        (
            Error::ConnectionRefused,
            false,
            false,
            ErrorKind::ConnectionRefused,
        ),
        (Error::AddrInUse, false, false, ErrorKind::AddrInUse),
        (
            Error::ListenQueueFull,
            false,
            true,
            ErrorKind::ConnectionRefused,
        ),
        (Error::ConnectTimeout, true, false, ErrorKind::TimedOut),
        (Error::AcceptTimeout, true, false, ErrorKind::TimedOut),
        (Error::ConnectionClosed, false, false, ErrorKind::BrokenPipe),
        (Error::ReadTimeout, true, true, ErrorKind::TimedOut),
        (Error::WriteTimeout, true, true, ErrorKind::TimedOut),
        (Error::ListenerClosed, false, false, ErrorKind::NotConnected),
        (
            Error::InvalidInput("x"),
            false,
            false,
            ErrorKind::InvalidInput,
        ),
    ];
    for (err, timeout, temporary, kind) in table {
        assert_eq!(err.is_timeout(), timeout, "{err:?}");
        assert_eq!(err.is_temporary(), temporary, "{err:?}");
        assert_eq!(err.kind(), kind, "{err:?}");
        let io: io::Error = err.into();
        assert_eq!(io.kind(), kind, "{err:?}");
        assert_eq!(Error::from_io(&io), Some(err), "value lost in io::Error");
        assert_eq!(io.to_string(), err.to_string());
    }
}

#[test]
fn messages_are_lowercase_without_a_final_period() {
    for err in [
        Error::ConnectionRefused,
        Error::AddrInUse,
        Error::ListenQueueFull,
        Error::ConnectTimeout,
        Error::AcceptTimeout,
        Error::ConnectionClosed,
        Error::ReadTimeout,
        Error::WriteTimeout,
        Error::ListenerClosed,
        Error::InvalidInput("empty name"),
    ] {
        let msg = err.to_string();
        assert!(!msg.is_empty());
        assert_eq!(msg, msg.to_lowercase());
        assert!(!msg.ends_with('.'));
    }
}

#[test]
fn foreign_io_errors_carry_no_chanstream_error() {
    assert_eq!(Error::from_io(&io::Error::other("elsewhere")), None);
    assert_eq!(Error::from_io(&io::Error::from(ErrorKind::TimedOut)), None);
}

#[test]
fn error_is_copy_eq_and_a_std_error() {
    fn is_error<E: std::error::Error + Copy + Eq + Send + Sync + 'static>(_: E) {}
    is_error(Error::ReadTimeout);
}
