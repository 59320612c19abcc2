//! The list of tasks waiting on one direction of a connection, woken all at once.

use std::task::Waker;

/// The wakers of the tasks waiting on one direction of a connection: its readers (for data),
/// its writers (for space) and, before the dial that made the connection is settled, the dialer
/// (for the outcome). It lives inside the mutex that guards the direction: a task registers
/// while it still holds the lock under which it saw that it must wait, and the task that
/// changes the state takes the list's waiters under the same lock, so no wake-up is lost in
/// between.
///
/// Every waiter is woken when the state may have changed; each re-checks and re-registers.
/// Almost always one task waits, again and again (a connection's reader), so the first
/// waiter's waker is *kept* when it is woken: the same task waiting again costs no clone. The
/// kept waker is replaced when another task registers (a writer waiting on a full buffer, then
/// the reader again: one clone each), and dropped with the connection. A task that stops
/// waiting (its future dropped) costs at most one spurious wake-up; re-registration of the same
/// task is deduplicated, so the list never grows beyond the number of distinct tasks waiting
/// between two wake-ups.
///
/// No waker of another task is woken or dropped under the lock: either may run executor code
/// that frees a task, and with it a [`Conn`](crate::Conn) whose drop takes the same lock. What
/// is to be woken or dropped is handed back, to be dealt with once the lock is released. Only
/// the task making the change, which is running, is woken in place.
///
/// Whether the first waker is waiting (registered since it was last woken) or only kept is
/// one bit, which the list's owner stores where it costs no space (a pipe packs it with its
/// other flags) and passes in: `first_waits`.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    /// The first waiter's waker, kept after it is woken (see above).
    first: Option<Waker>,
    /// Further waiters, boxed: almost always there are none, and every connection holds two
    /// lists, so one word here instead of a `Vec`'s three saves 32 bytes a connection.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Waker>>>,
}

impl WaitList {
    /// Adds `waker` unless a waker that wakes the same task is already listed; afterwards the
    /// first waker waits. Returns the kept waker of a task no longer waiting that this one
    /// replaces: drop it after releasing the lock.
    #[must_use = "a displaced waker is dropped after the lock is released"]
    pub(crate) fn register(&mut self, waker: &Waker, first_waits: bool) -> Option<Waker> {
        let mut displaced = None;
        match &self.first {
            Some(first) if first.will_wake(waker) => {}
            Some(_) if first_waits => {
                let rest = self.rest.get_or_insert_with(Box::default);
                if !rest.iter().any(|w| w.will_wake(waker)) {
                    rest.push(waker.clone());
                }
            }
            // Empty, or only a woken task's waker kept: this task becomes the first.
            _ => displaced = self.first.replace(waker.clone()),
        }
        displaced
    }

    /// Empties the list (keeping the first waker for its next wait) and returns its waiters,
    /// to be woken once the lock is released; afterwards nothing waits.
    ///
    /// `caller` is the waker of the task making the change, if a task is making it. When the
    /// first waiter is that same task (a task that reads and writes both ends, or both halves of
    /// one connection, in a `join!` or `select!`), it is woken at once through `caller`, so its
    /// kept waker is not even cloned; any other first waiter's waker is cloned.
    pub(crate) fn wake(&mut self, first_waits: bool, caller: Option<&Waker>) -> Woken {
        let mut woken = Woken {
            first: None,
            rest: self.rest.take(),
        };
        if first_waits {
            if let Some(first) = &self.first {
                match caller {
                    // The caller's task is running: its executor cannot drop it now, so waking
                    // it here, under the lock, runs nothing that could take the lock.
                    Some(c) if c.will_wake(first) => c.wake_by_ref(),
                    _ => woken.first = Some(first.clone()),
                }
            }
        }
        woken
    }

    /// Whether wakers beyond the first are listed (only while the first waits).
    pub(crate) fn lists_others(&self) -> bool {
        self.rest.is_some()
    }

    /// Takes every waker out of the list, the kept one too, leaving it empty: for a change
    /// after which none of its tasks waits here again (the dial is settled). Wake or drop what
    /// is returned once the lock is released.
    pub(crate) fn take_all(&mut self, first_waits: bool) -> Taken {
        Taken {
            list: std::mem::take(self),
            first_waits,
        }
    }
}

/// Every waker of a [`WaitList`], taken out whole by [`WaitList::take_all`]: wake it, or drop
/// it unwoken, after the list's lock is released.
#[derive(Debug)]
pub(crate) struct Taken {
    list: WaitList,
    first_waits: bool,
}

impl Taken {
    /// Wakes the waiting tasks; a kept waker of a task no longer waiting is only dropped.
    pub(crate) fn wake(self) {
        let WaitList { first, rest } = self.list;
        Woken {
            first: first.filter(|_| self.first_waits),
            rest,
        }
        .wake();
    }
}

/// Waiters taken out of a [`WaitList`], to be woken after its lock is released.
#[must_use = "the taken wakers must be woken"]
#[derive(Debug, Default)]
pub(crate) struct Woken {
    first: Option<Waker>,
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Waker>>>,
}

impl Woken {
    #[inline]
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

#[cfg(test)]
mod tests {
    use super::WaitList;
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;
    use std::task::{Wake, Waker};

    /// A waker that counts its wake-ups, and how many clones of it are alive.
    struct Count(AtomicUsize);

    impl Wake for Count {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }

    fn counting() -> (Arc<Count>, Waker) {
        let count = Arc::new(Count(AtomicUsize::new(0)));
        (count.clone(), Waker::from(count))
    }

    fn wakes(c: &Count) -> usize {
        c.0.load(Ordering::SeqCst)
    }

    /// A list with the bit its owner keeps for it.
    #[derive(Default)]
    struct Owned {
        list: WaitList,
        first_waits: bool,
    }

    impl Owned {
        fn register(&mut self, waker: &Waker) -> Option<Waker> {
            let displaced = self.list.register(waker, self.first_waits);
            self.first_waits = true;
            displaced
        }

        fn wake(&mut self, caller: Option<&Waker>) -> super::Woken {
            let waits = std::mem::take(&mut self.first_waits);
            self.list.wake(waits, caller)
        }
    }

    #[test]
    fn a_kept_waker_is_woken_only_while_it_waits() {
        let (a, wa) = counting();
        let mut list = Owned::default();
        let _ = list.register(&wa);
        list.wake(None).wake();
        assert_eq!(wakes(&a), 1);
        // Kept, but not waiting: no spurious wake-up.
        list.wake(None).wake();
        assert_eq!(wakes(&a), 1);
        // Waiting again reuses the kept waker instead of cloning the task's.
        let clones = Arc::strong_count(&a);
        let _ = list.register(&wa);
        assert_eq!(Arc::strong_count(&a), clones);
        list.wake(None).wake();
        assert_eq!(wakes(&a), 2);
    }

    #[test]
    fn the_waking_task_wakes_itself_without_a_clone() {
        let (a, wa) = counting();
        let (_, wb) = counting();
        let mut list = Owned::default();
        let _ = list.register(&wa);
        let refs = Arc::strong_count(&a);
        let woken = list.wake(Some(&wa));
        assert_eq!(wakes(&a), 1, "the running task is woken at once");
        assert_eq!(Arc::strong_count(&a), refs, "its kept waker was not cloned");
        woken.wake();
        assert_eq!(wakes(&a), 1);
        // Woken by another task, the kept waker is cloned, to be woken outside the lock.
        let _ = list.register(&wa);
        let woken = list.wake(Some(&wb));
        assert_eq!((wakes(&a), Arc::strong_count(&a)), (1, refs + 1));
        woken.wake();
        assert_eq!((wakes(&a), Arc::strong_count(&a)), (2, refs));
    }

    #[test]
    fn every_distinct_waiter_is_woken_once() {
        let (a, wa) = counting();
        let (b, wb) = counting();
        let (c, wc) = counting();
        let mut list = Owned::default();
        for w in [&wa, &wb, &wc, &wb, &wa] {
            let _ = list.register(w);
        }
        list.wake(None).wake();
        assert_eq!([wakes(&a), wakes(&b), wakes(&c)], [1, 1, 1]);
        list.wake(None).wake();
        assert_eq!([wakes(&a), wakes(&b), wakes(&c)], [1, 1, 1]);
    }

    #[test]
    fn a_new_waiter_replaces_a_woken_one() {
        let (a, wa) = counting();
        let (b, wb) = counting();
        let mut list = Owned::default();
        let _ = list.register(&wa);
        list.wake(None).wake();
        let kept = Arc::strong_count(&a);
        let _ = list.register(&wb);
        // The woken task's waker is released, not kept alongside the new one.
        assert_eq!(Arc::strong_count(&a), kept - 1);
        list.wake(None).wake();
        assert_eq!([wakes(&a), wakes(&b)], [1, 1]);
    }

    #[test]
    fn taking_all_releases_the_kept_waker() {
        let (a, wa) = counting();
        let (b, wb) = counting();
        let mut list = Owned::default();
        let refs = Arc::strong_count(&a);
        let _ = list.register(&wa);
        list.wake(None).wake();
        // Kept, not waiting: taken out and dropped, not woken.
        let taken = list.list.take_all(std::mem::take(&mut list.first_waits));
        assert_eq!(
            Arc::strong_count(&a),
            refs + 1,
            "dropped only after the lock"
        );
        taken.wake();
        assert_eq!((wakes(&a), Arc::strong_count(&a)), (1, refs));
        // Waiting: woken, and released too.
        let _ = list.register(&wa);
        let _ = list.register(&wb);
        let taken = list.list.take_all(std::mem::take(&mut list.first_waits));
        let _ = list.register(&wb);
        assert_eq!(Arc::strong_count(&b), 4, "the list starts afresh");
        taken.wake();
        assert_eq!([wakes(&a), wakes(&b)], [2, 1]);
        assert_eq!(Arc::strong_count(&a), refs);
        // Dropped unwoken.
        let _ = list.register(&wa);
        drop(list.list.take_all(true));
        assert_eq!((wakes(&a), Arc::strong_count(&a)), (2, refs));
    }
}
