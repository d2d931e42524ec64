//! Locks and one-time caches that never wait for another thread, for the
//! code a spawn runs.
//!
//! `fork(2)` copies only the thread that calls it. A lock another thread
//! held at that moment stays held in the child for good, and a one-time
//! initialization another thread was running never completes there: std's
//! `Mutex::lock` and `OnceLock::get_or_init` would wait forever. A caller
//! may fork after using stockade from several threads and spawn from the
//! child, so no spawn waits for a lock it has not taken in this process
//! before:
//!
//! - [`lock_briefly`] tries a lock for a bounded time and gives up (the
//!   caller then does without what the lock guards);
//! - [`Once`] is a write-once cache whose value only one thread ever sets;
//!   the others, and a child forked while it was being set, compute their
//!   own value.
//!
//! A lock this process has taken once cannot be held by a thread of
//! another process (a thread the fork did not copy never releases it, so
//! it was not held at the fork): after a successful [`lock_briefly`], code
//! in the same call may take it again with `Mutex::lock`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Mutex, MutexGuard, OnceLock, PoisonError, TryLockError};

/// How many times [`lock_briefly`] tries, yielding the processor between
/// tries: every lock it is used on is held for a few microseconds at most,
/// so a holder that is running has released it long before.
const TRIES: u32 = 200;

/// Takes `m` if it can be had within a bounded time; `None` if it stays
/// held (by another thread that is slow to release it, or by a thread that
/// exists only in the process this one was forked from).
pub(crate) fn lock_briefly<T>(m: &Mutex<T>) -> Option<MutexGuard<'_, T>> {
    for i in 0..TRIES {
        match m.try_lock() {
            Ok(g) => return Some(g),
            Err(TryLockError::Poisoned(p)) => return Some(p.into_inner()),
            Err(TryLockError::WouldBlock) if i < 16 => std::hint::spin_loop(),
            Err(TryLockError::WouldBlock) => std::thread::yield_now(),
        }
    }
    None
}

/// Takes `m`, which this process has already taken once in the same call
/// (see the module's documentation): whoever holds it now releases it soon.
pub(crate) fn relock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(PoisonError::into_inner)
}

/// A value computed once and cached, without ever waiting: the first thread
/// to claim the cache sets it; a thread that finds it claimed but not yet
/// set (or a process forked while it was being set) uses a value of its
/// own.
#[derive(Debug)]
pub(crate) struct Once<T> {
    claimed: AtomicBool,
    value: OnceLock<T>,
}

/// A value from [`Once::get_or_init`]: the cached one, or one computed for
/// this call.
#[derive(Debug)]
pub(crate) enum Got<'a, T> {
    Cached(&'a T),
    Own(T),
}

impl<T> std::ops::Deref for Got<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        match self {
            Got::Cached(v) => v,
            Got::Own(v) => v,
        }
    }
}

impl<T> Default for Once<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T> Once<T> {
    pub(crate) const fn new() -> Self {
        Once {
            claimed: AtomicBool::new(false),
            value: OnceLock::new(),
        }
    }

    /// The cached value, or `init`'s, cached when this call is the first to
    /// claim the cache.
    pub(crate) fn get_or_init(&self, init: impl FnOnce() -> T) -> Got<'_, T> {
        if let Some(v) = self.value.get() {
            return Got::Cached(v);
        }
        let v = init();
        if self.claimed.swap(true, Ordering::AcqRel) {
            // Another thread sets it (or did, or was doing so when this
            // process was forked): never wait for it.
            return match self.value.get() {
                Some(v) => Got::Cached(v),
                None => Got::Own(v),
            };
        }
        // The only thread that ever initializes it: nothing to wait for.
        Got::Cached(self.value.get_or_init(move || v))
    }

    /// Like [`get_or_init`](Self::get_or_init) for an `init` that may fail:
    /// nothing is cached on failure.
    pub(crate) fn get_or_try_init<E>(
        &self,
        init: impl FnOnce() -> Result<T, E>,
    ) -> Result<Got<'_, T>, E> {
        if let Some(v) = self.value.get() {
            return Ok(Got::Cached(v));
        }
        let v = init()?;
        Ok(self.get_or_init(|| v))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_held_lock_is_given_up_on_and_a_free_one_taken() {
        let m = Mutex::new(1);
        let g = m.lock().unwrap();
        std::thread::scope(|s| {
            s.spawn(|| assert!(lock_briefly(&m).is_none()));
        });
        drop(g);
        assert_eq!(lock_briefly(&m).map(|g| *g), Some(1));
    }

    #[test]
    fn once_caches_the_first_value_and_never_waits() {
        let once: Once<u32> = Once::new();
        assert!(matches!(once.get_or_init(|| 1), Got::Cached(1)));
        assert!(matches!(once.get_or_init(|| 2), Got::Cached(1)));
        // Claimed but never set (as after a fork in the middle of `set`):
        // each call uses its own value.
        let stuck: Once<u32> = Once::new();
        stuck.claimed.store(true, Ordering::Relaxed);
        assert!(matches!(stuck.get_or_init(|| 3), Got::Own(3)));
        let failed: Result<Got<'_, u32>, ()> = stuck.get_or_try_init(|| Err(()));
        assert!(failed.is_err());
    }
}
