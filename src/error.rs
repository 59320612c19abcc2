//! The crate's error type and its mapping onto [`std::io::Error`].

use std::fmt;
use std::io;

/// Why an operation on a [`Listener`](crate::Listener) or [`Conn`](crate::Conn) failed.
///
/// Byte-stream operations (`read`, `write`) report these inside an [`io::Error`]; the value can be
/// recovered with [`Error::from_io`]. Each variant maps onto one fixed [`io::ErrorKind`]:
///
/// | variant | `is_timeout` | `is_temporary` | `io::ErrorKind` |
/// |---|---|---|---|
/// | [`ConnectionRefused`](Error::ConnectionRefused) | no | no | `ConnectionRefused` |
/// | [`AddrInUse`](Error::AddrInUse) | no | no | `AddrInUse` |
/// | [`ListenQueueFull`](Error::ListenQueueFull) | no | yes | `ConnectionRefused` |
/// | [`ConnectTimeout`](Error::ConnectTimeout) | yes | no | `TimedOut` |
/// | [`AcceptTimeout`](Error::AcceptTimeout) | yes | no | `TimedOut` |
/// | [`ConnectionClosed`](Error::ConnectionClosed) | no | no | `BrokenPipe` |
/// | [`ConnectionReset`](Error::ConnectionReset) | no | no | `ConnectionReset` |
/// | [`ReadTimeout`](Error::ReadTimeout) | yes | yes | `TimedOut` |
/// | [`WriteTimeout`](Error::WriteTimeout) | yes | yes | `TimedOut` |
/// | [`ListenerClosed`](Error::ListenerClosed) | no | no | `NotConnected` |
/// | [`InvalidInput`](Error::InvalidInput) | no | no | `InvalidInput` |
/// | [`HostNotFound`](Error::HostNotFound) | no | no | `NotFound` |
/// | [`Os`](Error::Os) | if its kind is `TimedOut` | no | its own |
///
/// ```
/// use chanstream::Error;
///
/// let io: std::io::Error = Error::ReadTimeout.into();
/// assert_eq!(io.kind(), std::io::ErrorKind::TimedOut);
/// assert_eq!(Error::from_io(&io), Some(Error::ReadTimeout));
/// assert!(Error::ReadTimeout.is_timeout() && Error::ReadTimeout.is_temporary());
/// ```
#[non_exhaustive]
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Error {
    /// No listener is bound to the name, or it closed while the dial waited.
    ConnectionRefused,
    /// [`Listener::bind`](crate::Listener::bind) of a name that is already bound.
    AddrInUse,
    /// The listener's backlog is full; a later attempt may succeed.
    ListenQueueFull,
    /// No `accept` took the dial within its handshake timeout.
    ConnectTimeout,
    /// The listener's accept deadline passed.
    AcceptTimeout,
    /// A write after the peer stopped reading, or after this end's own write shutdown.
    ConnectionClosed,
    /// The connection was reset, as by TCP's RST: every later read and write of either end
    /// fails with this, and bytes not yet read are gone. An in-process connection is reset
    /// only by [`Faults`](crate::Faults). A socket reset by the OS (feature `net`) reports
    /// the OS's own error, of the same kind.
    ConnectionReset,
    /// The read deadline passed.
    ReadTimeout,
    /// The write deadline passed.
    WriteTimeout,
    /// `accept` on a listener that has been closed.
    ListenerClosed,
    /// An argument was out of range, or an address malformed; the text says which.
    InvalidInput(&'static str),
    /// A `tcp://` host name resolved to no address (feature `net`).
    HostNotFound,
    /// An operating-system error of a socket (feature `net`) that has no variant of its own:
    /// its [`io::ErrorKind`] and, where the OS gave one, its raw error code
    /// ([`io::Error::raw_os_error`]). Converted into an [`io::Error`] it is the OS's error again.
    Os {
        /// The kind of the OS error.
        kind: io::ErrorKind,
        /// The raw OS error code (`errno` on Unix).
        code: Option<i32>,
    },
}

impl Error {
    /// Whether the operation failed because a timeout or deadline passed.
    ///
    /// ```
    /// use chanstream::Error;
    /// assert!(Error::ConnectTimeout.is_timeout());
    /// assert!(!Error::ConnectionRefused.is_timeout());
    /// ```
    pub fn is_timeout(&self) -> bool {
        match self {
            Error::Os { kind, .. } => *kind == io::ErrorKind::TimedOut,
            _ => matches!(
                self,
                Error::ConnectTimeout
                    | Error::AcceptTimeout
                    | Error::ReadTimeout
                    | Error::WriteTimeout
            ),
        }
    }

    /// Whether the same operation may succeed if retried later.
    ///
    /// ```
    /// use chanstream::Error;
    /// assert!(Error::ListenQueueFull.is_temporary());
    /// assert!(!Error::AcceptTimeout.is_temporary());
    /// ```
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            Error::ListenQueueFull | Error::ReadTimeout | Error::WriteTimeout
        )
    }

    /// The [`io::ErrorKind`] this error is reported as.
    ///
    /// ```
    /// use chanstream::Error;
    /// assert_eq!(Error::ConnectionClosed.kind(), std::io::ErrorKind::BrokenPipe);
    /// ```
    pub fn kind(&self) -> io::ErrorKind {
        match self {
            Error::ConnectionRefused | Error::ListenQueueFull => io::ErrorKind::ConnectionRefused,
            Error::AddrInUse => io::ErrorKind::AddrInUse,
            Error::ConnectTimeout
            | Error::AcceptTimeout
            | Error::ReadTimeout
            | Error::WriteTimeout => io::ErrorKind::TimedOut,
            Error::ConnectionClosed => io::ErrorKind::BrokenPipe,
            Error::ConnectionReset => io::ErrorKind::ConnectionReset,
            Error::ListenerClosed => io::ErrorKind::NotConnected,
            Error::InvalidInput(_) => io::ErrorKind::InvalidInput,
            Error::HostNotFound => io::ErrorKind::NotFound,
            Error::Os { kind, .. } => *kind,
        }
    }

    /// Recovers the [`Error`] carried by an [`io::Error`] that this crate produced.
    ///
    /// An OS error (one with a [raw code](io::Error::raw_os_error), as a socket of the `net`
    /// feature reports) comes back as [`Error::Os`]; any other `io::Error` that did not come
    /// from this crate gives `None`.
    ///
    /// ```
    /// use chanstream::Error;
    ///
    /// let io = std::io::Error::from(Error::ConnectionClosed);
    /// assert_eq!(Error::from_io(&io), Some(Error::ConnectionClosed));
    /// assert_eq!(Error::from_io(&std::io::Error::other("x")), None);
    /// ```
    pub fn from_io(err: &io::Error) -> Option<Error> {
        if let Some(code) = err.raw_os_error() {
            // An `Error::Os` converted into an `io::Error` is the OS's error again.
            return Some(Error::Os {
                kind: err.kind(),
                code: Some(code),
            });
        }
        Error::carried(err)
    }

    /// The [`Error`] inside an `io::Error` made from one.
    pub(crate) fn carried(err: &io::Error) -> Option<Error> {
        err.get_ref()?.downcast_ref::<Error>().copied()
    }

    /// The crate's error for an OS error of a socket: the one it carries if it came from this
    /// crate, a variant of its own for those that have one, otherwise [`Error::Os`].
    #[cfg(feature = "net")]
    pub(crate) fn from_os(err: &io::Error) -> Error {
        if let Some(err) = Error::carried(err) {
            return err;
        }
        match err.kind() {
            io::ErrorKind::ConnectionRefused => Error::ConnectionRefused,
            io::ErrorKind::AddrInUse => Error::AddrInUse,
            io::ErrorKind::BrokenPipe => Error::ConnectionClosed,
            io::ErrorKind::ConnectionReset => Error::ConnectionReset,
            kind => Error::Os {
                kind,
                code: err.raw_os_error(),
            },
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::ConnectionRefused => f.write_str("connection refused"),
            Error::AddrInUse => f.write_str("address in use"),
            Error::ListenQueueFull => f.write_str("listen queue full"),
            Error::ConnectTimeout => f.write_str("connection timed out"),
            Error::AcceptTimeout => f.write_str("accept timed out"),
            Error::ConnectionClosed => f.write_str("connection closed"),
            Error::ConnectionReset => f.write_str("connection reset"),
            Error::ReadTimeout => f.write_str("read timed out"),
            Error::WriteTimeout => f.write_str("write timed out"),
            Error::ListenerClosed => f.write_str("listener closed"),
            Error::InvalidInput(what) => write!(f, "invalid input: {what}"),
            Error::HostNotFound => f.write_str("host name not found"),
            Error::Os {
                code: Some(code), ..
            } => io::Error::from_raw_os_error(*code).fmt(f),
            Error::Os { kind, code: None } => kind.fmt(f),
        }
    }
}

impl std::error::Error for Error {}

impl From<Error> for io::Error {
    fn from(err: Error) -> io::Error {
        match err {
            Error::Os {
                code: Some(code), ..
            } => io::Error::from_raw_os_error(code),
            _ => io::Error::new(err.kind(), err),
        }
    }
}
