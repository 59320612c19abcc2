//! A list of tasks waiting for one condition, woken all at once.

use std::task::Waker;

/// The wakers of the tasks waiting for one condition (data to read, space to write). It lives
/// inside the mutex that guards the condition: a task registers while it still holds the lock
/// under which it saw that it must wait, and the task that changes the condition wakes the list
/// under the same lock, so no wake-up is lost in between.
///
/// Every waiter is woken when the condition may have changed; each re-checks and re-registers.
/// Almost always one task waits on a side, again and again (a connection's reader, its writer),
/// so the first waiter's waker is *kept* when it is woken: the same task waiting again costs no
/// clone, and waking it costs no drop. The kept waker is replaced when another task registers,
/// and dropped with the connection. A task that stops waiting (its future dropped) costs at most
/// one spurious wake-up; re-registration of the same task is deduplicated, so the list never
/// grows beyond the number of distinct tasks waiting between two wake-ups.
///
/// No waker is ever *dropped* under the lock: dropping a waker may free its task, and with it a
/// [`Conn`](crate::Conn) whose drop takes the same lock. A waker that a registration displaces,
/// and the further waiters (woken by value), are handed back to be dropped or woken once the
/// lock is released.
#[derive(Debug, Default)]
pub(crate) struct WaitList {
    /// The first waiter's waker, kept after it is woken (see above).
    first: Option<Waker>,
    /// Further waiters, boxed: almost always there is at most one, and every connection holds
    /// four lists, so one word here instead of a `Vec`'s three saves 64 bytes a connection.
    #[allow(clippy::box_collection)]
    rest: Option<Box<Vec<Waker>>>,
    /// Whether `first` is waiting, that is registered since it was last woken.
    first_waits: bool,
}

impl WaitList {
    /// Adds `waker` unless a waker that wakes the same task is already listed. Returns the
    /// kept waker of a task no longer waiting that this one replaces: drop it after releasing
    /// the lock.
    #[must_use = "a displaced waker is dropped after the lock is released"]
    pub(crate) fn register(&mut self, waker: &Waker) -> Option<Waker> {
        let mut displaced = None;
        match &self.first {
            Some(first) if first.will_wake(waker) => {}
            Some(_) if self.first_waits => {
                let rest = self.rest.get_or_insert_with(Box::default);
                if !rest.iter().any(|w| w.will_wake(waker)) {
                    rest.push(waker.clone());
                }
            }
            // Empty, or only a woken task's waker kept: this task becomes the first.
            _ => displaced = self.first.replace(waker.clone()),
        }
        self.first_waits = true;
        displaced
    }

    /// Wakes the first waiter in place and empties the list (keeping the first waker for its
    /// next wait); returns the further waiters, to be woken once the lock is released.
    ///
    /// The first waiter is woken under the lock that guards the condition, as tokio's in-memory
    /// streams do: waking it after releasing the lock would need its waker moved out of the
    /// list, that is a clone per wait and a drop per wake-up, which costs more than the rare case
    /// of a woken task finding the lock still held.
    pub(crate) fn wake(&mut self) -> Woken {
        if std::mem::take(&mut self.first_waits) {
            if let Some(first) = &self.first {
                first.wake_by_ref();
            }
        }
        Woken(self.rest.take())
    }
}

/// Waiters taken out of a [`WaitList`], to be woken after its lock is released.
#[must_use = "the taken wakers must be woken"]
#[derive(Debug)]
pub(crate) struct Woken(#[allow(clippy::box_collection)] Option<Box<Vec<Waker>>>);

impl Woken {
    pub(crate) fn wake(self) {
        if let Some(rest) = self.0 {
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

    #[test]
    fn a_kept_waker_is_woken_only_while_it_waits() {
        let (a, wa) = counting();
        let mut list = WaitList::default();
        let _ = list.register(&wa);
        list.wake().wake();
        assert_eq!(wakes(&a), 1);
        // Kept, but not waiting: no spurious wake-up.
        list.wake().wake();
        assert_eq!(wakes(&a), 1);
        // Waiting again reuses the kept waker instead of cloning the task's.
        let clones = Arc::strong_count(&a);
        let _ = list.register(&wa);
        assert_eq!(Arc::strong_count(&a), clones);
        list.wake().wake();
        assert_eq!(wakes(&a), 2);
    }

    #[test]
    fn every_distinct_waiter_is_woken_once() {
        let (a, wa) = counting();
        let (b, wb) = counting();
        let (c, wc) = counting();
        let mut list = WaitList::default();
        for w in [&wa, &wb, &wc, &wb, &wa] {
            let _ = list.register(w);
        }
        list.wake().wake();
        assert_eq!([wakes(&a), wakes(&b), wakes(&c)], [1, 1, 1]);
        list.wake().wake();
        assert_eq!([wakes(&a), wakes(&b), wakes(&c)], [1, 1, 1]);
    }

    #[test]
    fn a_new_waiter_replaces_a_woken_one() {
        let (a, wa) = counting();
        let (b, wb) = counting();
        let mut list = WaitList::default();
        let _ = list.register(&wa);
        list.wake().wake();
        let kept = Arc::strong_count(&a);
        let _ = list.register(&wb);
        // The woken task's waker is released, not kept alongside the new one.
        assert_eq!(Arc::strong_count(&a), kept - 1);
        list.wake().wake();
        assert_eq!([wakes(&a), wakes(&b)], [1, 1]);
    }
}
