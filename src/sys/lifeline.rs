//! The caller's lifeline: what every supervisor watches to die with the
//! process that spawned it.
//!
//! Made once per process, on its first spawn:
//!
//! * a pidfd of the process (`pidfd_open`, Linux 5.3), which becomes
//!   readable once its whole thread group has exited, whatever else holds a
//!   copy of the descriptor;
//! * a close-on-exec pipe whose write end only this process holds: its read
//!   end hangs up when the process exits *or executes another program*,
//!   which the pidfd does not tell.
//!
//! A child made by `fork()` copies both. A fork handler closes the copies in
//! the child, so the pipe still hangs up when the caller executes even while
//! a child it forked lives on, and the child makes a lifeline of its own on
//! its first spawn: the state is keyed on the pid, which also covers a fork
//! that bypasses libc's handlers (a raw `clone`). Such a fork leaves its
//! child holding copies of the pipe, and then only the pidfd ends the
//! caller's sandboxes, at the caller's death but not at its `exec`.
//!
//! Where `pidfd_open` is missing (`ENOSYS`) or refused (`EPERM`, a filter),
//! the pipe alone is the lifeline, as before pidfds: the sandboxes end when
//! every process holding its write end has exited or executed, which the
//! fork handler narrows to the caller unless a process was forked without
//! libc.
//!
//! No lock: a thread that finds another thread of its process making the
//! lifeline yields until it is published, and a child forked meanwhile
//! (which has no such thread) makes its own.

use std::io;
use std::os::fd::{BorrowedFd, IntoRawFd, RawFd};
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU64, Ordering};

/// The lifeline's descriptors, open for the rest of the process's life.
#[derive(Clone, Copy, Debug)]
pub struct Lifeline {
    /// The pipe's read end: hangs up when the process exits or executes.
    pub pipe: BorrowedFd<'static>,
    /// The process's pidfd: readable when it has exited. `None` where the
    /// kernel has no `pidfd_open`.
    pub pidfd: Option<BorrowedFd<'static>>,
}

/// `pid << 2 | BUILDING` or `pid << 2 | READY`, or 0 (nothing made yet).
static STATE: AtomicU64 = AtomicU64::new(0);
static PIPE_READ: AtomicI32 = AtomicI32::new(-1);
static PIPE_WRITE: AtomicI32 = AtomicI32::new(-1);
static PIDFD: AtomicI32 = AtomicI32::new(-1);
/// Whether the fork handler is registered (it is inherited by forked
/// children along with the rest of the address space).
static HANDLER: AtomicBool = AtomicBool::new(false);

const BUILDING: u64 = 1;
const READY: u64 = 2;
const MASK: u64 = 3;

fn state(pid: u32, what: u64) -> u64 {
    (u64::from(pid) << 2) | what
}

/// This process's lifeline, made on first use.
pub fn get() -> io::Result<Lifeline> {
    let me = std::process::id();
    loop {
        let s = STATE.load(Ordering::Acquire);
        if s == state(me, READY) {
            return Ok(published());
        }
        if s == state(me, BUILDING) {
            // Another thread of this process is making it (two system
            // calls): wait for it to be published.
            std::thread::yield_now();
            continue;
        }
        // Nothing yet, or what the process we were forked from left in the
        // copy of its memory (the fork handler did not run, or the parent
        // was making its own at the time): ours to replace. Its copies of
        // the parent's descriptors stay open here; they are close-on-exec.
        if STATE
            .compare_exchange(s, state(me, BUILDING), Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            continue;
        }
        return match make() {
            Ok(()) => {
                STATE.store(state(me, READY), Ordering::Release);
                Ok(published())
            }
            Err(e) => {
                STATE.store(0, Ordering::Release);
                Err(e)
            }
        };
    }
}

fn published() -> Lifeline {
    let pipe = PIPE_READ.load(Ordering::Relaxed);
    let pidfd = PIDFD.load(Ordering::Relaxed);
    // SAFETY: READY (observed with acquire ordering, after the stores in
    // `make`) says this is an open descriptor of this process that this
    // module owns and never closes in it (only the fork handler closes it,
    // in a forked child, before anything there can use it).
    let pipe = unsafe { BorrowedFd::borrow_raw(pipe) };
    Lifeline {
        pipe,
        // SAFETY: as above.
        pidfd: (pidfd >= 0).then(|| unsafe { BorrowedFd::borrow_raw(pidfd) }),
    }
}

fn make() -> io::Result<()> {
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC)?;
    // Close-on-exec, as every pidfd is.
    let pidfd = match rustix::process::pidfd_open(
        rustix::process::getpid(),
        rustix::process::PidfdFlags::empty(),
    ) {
        Ok(fd) => Some(fd),
        // Before Linux 5.3, or a seccomp filter refusing the call: the pipe
        // alone keeps the lifeline.
        Err(rustix::io::Errno::NOSYS | rustix::io::Errno::PERM) => None,
        Err(e) => return Err(e.into()),
    };
    register_fork_handler();
    PIPE_READ.store(r.into_raw_fd(), Ordering::Relaxed);
    PIPE_WRITE.store(w.into_raw_fd(), Ordering::Relaxed);
    PIDFD.store(pidfd.map_or(-1, IntoRawFd::into_raw_fd), Ordering::Relaxed);
    Ok(())
}

fn register_fork_handler() {
    if HANDLER.swap(true, Ordering::AcqRel) {
        return;
    }
    // SAFETY: registers a child handler that only uses atomics and raw
    // `close` system calls, which are async-signal-safe, as the child of a
    // fork in a multithreaded process requires; no prepare or parent
    // handler. Should registration fail (ENOMEM), forked children keep
    // copies of the pipe: the pidfd still ends the sandboxes at the caller's
    // death.
    let _ = unsafe { libc::pthread_atfork(None, None, Some(forked_child)) };
}

/// Runs in the child of every `fork()` through libc: closes the copies of
/// the parent's lifeline, which are not the child's.
extern "C" fn forked_child() {
    if STATE.load(Ordering::Acquire) & MASK != READY {
        // Nothing made, or the parent was making it in another thread at
        // the time of the fork: the numbers are not known to be ours to
        // close. `get` replaces the state on the child's first spawn.
        return;
    }
    for slot in [&PIPE_WRITE, &PIPE_READ, &PIDFD] {
        let fd: RawFd = slot.swap(-1, Ordering::Relaxed);
        if fd >= 0 {
            // SAFETY: READY says `fd` is a descriptor of the lifeline, which
            // this module owns; the fork copied it into this child, where
            // nothing else refers to it (the child's only thread is running
            // this handler) and the swap above forgets it.
            let _ = unsafe { super::raw::close(fd) };
        }
    }
    STATE.store(0, Ordering::Release);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::fd::AsRawFd;

    #[test]
    fn one_lifeline_per_process() {
        let a = get().unwrap();
        let b = get().unwrap();
        assert_eq!(a.pipe.as_raw_fd(), b.pipe.as_raw_fd());
        assert_eq!(
            a.pidfd.map(|f| f.as_raw_fd()),
            b.pidfd.map(|f| f.as_raw_fd())
        );
        assert_eq!(
            STATE.load(Ordering::Relaxed),
            state(std::process::id(), READY)
        );
    }
}
