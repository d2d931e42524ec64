//! State private to one process: a child made by `fork` gets its own.
//!
//! A forked child inherits a copy of every static, but of the threads only
//! the one that forked. State that a thread of the parent works on (a queue
//! it drains, descriptors it polls, locks it may have held at the fork)
//! must not be used by the child: [`PerProcess`] gives the child a fresh
//! value instead, without ever waiting for a lock.

use std::sync::atomic::{AtomicBool, AtomicPtr, AtomicU64, Ordering};

/// Forks seen by this process's lineage, counted by a `pthread_atfork`
/// child handler: a value made before a fork is stale after it, even where
/// the pid alone cannot tell (a child that is pid 1 of a new pid namespace
/// forked from a parent that was pid 1 of its own).
static FORKS: AtomicU64 = AtomicU64::new(0);
static ATFORK: AtomicBool = AtomicBool::new(false);

extern "C" fn forked() {
    // Async-signal-safe: one atomic add.
    FORKS.fetch_add(1, Ordering::Relaxed);
}

fn watch_forks() {
    if !ATFORK.swap(true, Ordering::AcqRel) {
        // SAFETY: registers a child handler that only does an atomic add,
        // which is async-signal-safe as a handler run after fork must be.
        unsafe { libc::pthread_atfork(None, None, Some(forked)) };
    }
}

/// Which process (and which generation of forks) made a value.
#[derive(Clone, Copy, PartialEq, Eq)]
struct Maker {
    pid: u32,
    forks: u64,
}

impl Maker {
    fn current() -> Maker {
        Maker {
            pid: std::process::id(),
            forks: FORKS.load(Ordering::Relaxed),
        }
    }
}

struct Owned<T> {
    maker: Maker,
    value: T,
}

/// A lazily made value of which each process has its own: a process forked
/// after the value was made does not see it, and makes another on first
/// use. The values are never dropped (a parent's value, copied into a
/// forked child, may be in any state its threads left it in).
pub(crate) struct PerProcess<T: 'static> {
    slot: AtomicPtr<Owned<T>>,
}

impl<T: Send + Sync + 'static> PerProcess<T> {
    pub(crate) const fn new() -> Self {
        PerProcess {
            slot: AtomicPtr::new(std::ptr::null_mut()),
        }
    }

    /// This process's value, made by `make` if it has none yet. Threads
    /// racing to make it may each call `make`; one value wins and the
    /// others are dropped unused. Never blocks.
    pub(crate) fn get_or_try_init<E>(
        &'static self,
        make: impl FnOnce() -> Result<T, E>,
    ) -> Result<&'static T, E> {
        watch_forks();
        let me = Maker::current();
        let mut make = Some(make);
        let mut fresh: Option<*mut Owned<T>> = None;
        loop {
            let cur = self.slot.load(Ordering::Acquire);
            // SAFETY: a non-null slot holds a pointer from `Box::into_raw`
            // below, whose value is never freed (see the type's docs).
            if let Some(owned) = unsafe { cur.as_ref() } {
                if owned.maker == me {
                    if let Some(p) = fresh {
                        // SAFETY: `p` came from `Box::into_raw` below and
                        // was never published: this thread owns it.
                        drop(unsafe { Box::from_raw(p) });
                    }
                    return Ok(&owned.value);
                }
            }
            let new = match fresh {
                Some(p) => p,
                None => {
                    let value = match make.take() {
                        Some(f) => f()?,
                        // Unreachable: `fresh` is set whenever `make` was used.
                        None => continue,
                    };
                    Box::into_raw(Box::new(Owned { maker: me, value }))
                }
            };
            fresh = Some(new);
            if self
                .slot
                .compare_exchange(cur, new, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                // The replaced value (if any) was another process's: it is
                // left as it is.
                // SAFETY: `new` is now published and never freed.
                return Ok(unsafe { &(*new).value });
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    static CELL: PerProcess<u32> = PerProcess::new();

    #[test]
    fn a_value_is_made_once_per_process() {
        let a = CELL.get_or_try_init(|| Ok::<_, ()>(7)).unwrap();
        let b = CELL.get_or_try_init(|| Ok::<_, ()>(8)).unwrap();
        assert!(std::ptr::eq(a, b));
        assert_eq!(*b, 7);
    }

    #[test]
    fn a_forked_child_makes_its_own() {
        static FORKED: PerProcess<u32> = PerProcess::new();
        let parent = *FORKED.get_or_try_init(|| Ok::<_, ()>(1)).unwrap();
        assert_eq!(parent, 1);
        // SAFETY: the child only reads statics, allocates once and exits
        // with _exit.
        match unsafe { libc::fork() } {
            0 => {
                let v = *FORKED.get_or_try_init(|| Ok::<_, ()>(2)).unwrap();
                // SAFETY: ends the child without running the test harness's
                // exit path.
                unsafe { libc::_exit(if v == 2 { 0 } else { 1 }) }
            }
            pid if pid > 0 => {
                let mut status = 0;
                // SAFETY: waits for the child forked above.
                let r = unsafe { libc::waitpid(pid, &mut status, 0) };
                assert_eq!(r, pid);
                assert!(libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0);
                assert_eq!(*FORKED.get_or_try_init(|| Ok::<_, ()>(3)).unwrap(), 1);
            }
            _ => panic!("fork failed"),
        }
    }
}
