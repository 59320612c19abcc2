//! The two ends of a connection.

/// One of the two ends of a connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum End {
    /// The end `connect` returns.
    Dialed = 0,
    /// The end `accept` returns.
    Accepted = 1,
}

impl End {
    /// The other end.
    pub(crate) fn peer(self) -> End {
        match self {
            End::Dialed => End::Accepted,
            End::Accepted => End::Dialed,
        }
    }

    pub(crate) fn index(self) -> usize {
        self as usize
    }
}
