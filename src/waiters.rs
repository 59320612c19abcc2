//! A list of tasks waiting for one condition, woken all at once.

use std::task::Waker;

/// The wakers of the tasks waiting for one condition (data to read, space to write, a connection
/// to accept). It lives inside the mutex that guards the condition, so a task registers while it
/// still holds the lock under which it saw that it must wait, and no wake-up is lost in between.
///
/// Every waiter is woken when the condition may have changed; each re-checks and re-registers.
/// A task that stops waiting (its future dropped) leaves a stale waker that costs one spurious
/// wake-up; re-registration of the same task is deduplicated, so the list never grows beyond the
/// number of distinct tasks waiting between two wake-ups.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    first: Option<Waker>,
    /// Further waiters, boxed: almost always there is at most one, and every connection holds
    /// four lists, so one word here instead of a `Vec`'s three saves 64 bytes a connection.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Waker>>>,
}

impl WaitList {
    /// Adds `waker` unless a waker that wakes the same task is already listed.
    pub(crate) fn register(&mut self, waker: &Waker) {
        match &self.first {
            None => self.first = Some(waker.clone()),
            Some(first) if first.will_wake(waker) => {}
            Some(_) => {
                let rest = self.rest.get_or_insert_with(Box::default);
                if !rest.iter().any(|w| w.will_wake(waker)) {
                    rest.push(waker.clone());
                }
            }
        }
    }

    /// Empties the list; the caller wakes the result once it has released its lock, so that a
    /// woken task never finds the lock still held by its waker.
    pub(crate) fn take(&mut self) -> Woken {
        Woken {
            first: self.first.take(),
            rest: self.rest.take(),
        }
    }
}

/// Wakers taken out of a [`WaitList`], to be woken after the lock is released.
#[must_use = "the taken wakers must be woken"]
#[derive(Debug)]
pub(crate) struct Woken {
    first: Option<Waker>,
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Waker>>>,
}

impl Woken {
    pub(crate) fn wake(self) {
        if let Some(w) = self.first {
            w.wake();
        }
        if let Some(rest) = self.rest {
            for w in *rest {
                w.wake();
            }
        }
    }
}
