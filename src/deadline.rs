//! Deadlines: checking them without a timer, and the one timer that wakes those waiting on one.

use crate::sync::{self, Arc, AtomicBool, Mutex, Ordering};
use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::task::Context;
use std::time::Instant;

use futures::task::{waker, ArcWake};

use crate::clock::{Clock, Sleep};

/// Whether `deadline` has passed on `clock`. A passed deadline is detected by the clock alone,
/// so an operation fails at once even if no timer has fired yet.
pub(crate) fn passed(clock: &Clock, deadline: Option<Instant>) -> bool {
    deadline.is_some_and(|at| clock.now() >= at)
}

/// What a fired timer does: wake every task waiting under one deadline.
pub(crate) type OnFire = Box<dyn Fn() + Send + Sync>;

/// The timer behind one deadline (the read side or the write side of one end, or a listener's
/// accept deadline).
///
/// It is armed when an operation starts to wait under a deadline, and only re-armed when the
/// deadline it was armed for changes or it fired early, so polling never creates timers. When
/// it fires it runs its [`OnFire`] action, which wakes *all* waiters of that deadline: the timer
/// is not tied to the task that happened to arm it, so a task that has since stopped polling
/// cannot swallow the wake-up meant for the others.
pub(crate) struct Timer {
    armed: Mutex<Option<Armed>>,
}

struct Armed {
    at: Instant,
    fire: Arc<Fire>,
    // Dropping the sleep cancels it; it is kept only to stay scheduled.
    _sleep: Sleep,
}

struct Fire {
    fired: AtomicBool,
    on_fire: OnFire,
}

impl ArcWake for Fire {
    fn wake_by_ref(this: &Arc<Self>) {
        this.fired.store(true, Ordering::Release);
        (this.on_fire)();
    }
}

impl Timer {
    pub(crate) fn new() -> Timer {
        Timer {
            armed: Mutex::new(None),
        }
    }

    /// Makes sure the timer will run `on_fire` once `at` has passed. `on_fire` is only built
    /// when a new timer is actually needed.
    pub(crate) fn arm(&self, clock: &Clock, at: Instant, on_fire: impl FnOnce() -> OnFire) {
        self.arm_when(clock, at, on_fire, |armed_at| armed_at == at);
    }

    /// Like [`arm`](Timer::arm), but keeps a timer already armed for an instant no later than
    /// `at`: it fires early, and its action finds the deadline not passed and arms the timer
    /// anew. A deadline moved later before every operation (Go's `now + 5 s` idiom) therefore
    /// costs one timer registration per timer period, not one per operation.
    pub(crate) fn arm_by(&self, clock: &Clock, at: Instant, on_fire: impl FnOnce() -> OnFire) {
        self.arm_when(clock, at, on_fire, |armed_at| armed_at <= at);
    }

    fn arm_when(
        &self,
        clock: &Clock,
        at: Instant,
        on_fire: impl FnOnce() -> OnFire,
        keep: impl FnOnce(Instant) -> bool,
    ) {
        let mut armed = sync::lock(&self.armed);
        if let Some(a) = armed.as_ref() {
            if keep(a.at) && !a.fire.fired.load(Ordering::Acquire) {
                return;
            }
        }
        let fire = Arc::new(Fire {
            fired: AtomicBool::new(false),
            on_fire: on_fire(),
        });
        let Some(mut sleep) = clock.sleep_until(at) else {
            // Unreachably far in the future: it never fires.
            *armed = None;
            return;
        };
        let w = waker(fire.clone());
        if Pin::new(&mut sleep)
            .poll(&mut Context::from_waker(&w))
            .is_ready()
        {
            *armed = None;
            drop(armed);
            (fire.on_fire)();
            return;
        }
        *armed = Some(Armed {
            at,
            fire,
            _sleep: sleep,
        });
    }

    /// Cancels the timer, if armed (the deadline was cleared).
    pub(crate) fn disarm(&self) {
        let old = sync::lock(&self.armed).take();
        drop(old);
    }
}

impl fmt::Debug for Timer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = sync::lock(&self.armed).as_ref().map(|a| a.at);
        f.debug_struct("Timer").field("armed_for", &at).finish()
    }
}
