//! The synchronisation primitives the crate's protocols are built on, in one place: the
//! standard library's, or, when the crate is compiled with `--cfg loom`, loom's, so that the
//! same code is model-checked (see the `loom` directory of the repository).
//!
//! Only what takes part in a protocol goes through here: the mutexes and atomics that decide
//! whether an operation proceeds, waits or is woken. Reference
//! counting ([`Arc`], [`Weak`]) stays the standard library's: loom does not model weak
//! references, and counting decides no outcome here.

pub(crate) use std::sync::{Arc, Weak};

#[cfg(not(loom))]
pub(crate) use std::sync::{
    atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

#[cfg(loom)]
pub(crate) use loom::sync::{
    atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicUsize, Ordering},
    Mutex, MutexGuard,
};

/// Locks `mutex`, ignoring poisoning: every update the crate makes under a lock leaves the
/// state consistent before anything can panic, so a lock poisoned by a panic elsewhere is
/// still safe to use.
pub(crate) fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}
