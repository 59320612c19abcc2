//! The handshake state of one dial: settled exactly once, by `accept`, by the dialer giving
//! up, or by the listener closing.

/// The handshake state of one dial, part of the connection it dials. It moves once from
/// pending to one of the [`Settle`] outcomes, so that of `accept`, the dialer giving up, and
/// the listener closing, exactly one settles it.
///
/// It is one byte, kept under the lock of the dialed end's pipe (see
/// [`Pipe::settle`](crate::pipe::Pipe::settle)): the dialer checks it and registers to be woken
/// under that lock, in the pipe's wait list, which nothing else uses before the dial is settled
/// (neither end has a [`Conn`](crate::Conn) yet), and settling takes the list out whole, so a
/// connection spends no space of its own on its handshake and keeps no waker of its dialer's.
///
/// Until then the request holds the accepting end's handle (see
/// [`Link::new`](crate::link::Link::new)): `accept` takes it over as the accepted
/// [`Conn`](crate::Conn); a withdrawn or refused request drops it.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Handshake(Option<Settle>);

/// How a pending request is settled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub(crate) enum Settle {
    Accepted = 1,
    /// The dialer gave up.
    Withdrawn = 2,
    /// The listener closed.
    Refused = 3,
}

/// How a request ended, as its dialer sees it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Outcome {
    Pending,
    Accepted,
    Refused,
}

impl Handshake {
    /// Settles a pending request as `to`; `false` if it was settled already.
    pub(crate) fn settle(&mut self, to: Settle) -> bool {
        if self.0.is_some() {
            return false;
        }
        self.0 = Some(to);
        true
    }

    pub(crate) fn outcome(self) -> Outcome {
        match self.0 {
            None => Outcome::Pending,
            Some(Settle::Accepted) => Outcome::Accepted,
            Some(Settle::Withdrawn | Settle::Refused) => Outcome::Refused,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Handshake, Outcome, Settle};

    #[test]
    fn a_request_is_settled_once_and_the_first_outcome_stands() {
        let mut h = Handshake::default();
        assert_eq!(h.outcome(), Outcome::Pending);
        assert!(h.settle(Settle::Accepted));
        assert!(!h.settle(Settle::Withdrawn));
        assert!(!h.settle(Settle::Refused));
        assert_eq!(h.outcome(), Outcome::Accepted);

        let mut h = Handshake::default();
        assert!(h.settle(Settle::Withdrawn));
        assert!(!h.settle(Settle::Accepted));
        assert_eq!(h.outcome(), Outcome::Refused);
    }
}
