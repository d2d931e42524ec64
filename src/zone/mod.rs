//! The child zone: everything that runs between clone and exec.
//!
//! Two processes run this code, both in the caller's address space
//! (`CLONE_VM`) and on stacks of their own, concurrently with the caller's
//! other threads:
//!
//! * the **supervisor** sets up what the namespaces share (id maps, hostname,
//!   the root filesystem), clones the program process, and then stays as the
//!   sandbox's init: it reaps orphans, forwards signals to the program, dies
//!   with the caller (its lifeline), and finally reports the program's wait
//!   status;
//! * the **program** process arranges what is per-process (cgroup,
//!   descriptors, limits, credentials, Landlock, seccomp) and executes the
//!   program.
//!
//! Rules for this wing (the same rule std follows before `execvp`): only raw
//! system calls (`crate::sys::raw`) over data the parent built; no allocation,
//! no locks, no panics, no unwinding, no thread-locals. The lints below fence
//! the obvious panic sources, and `clippy.toml` lists the allocating,
//! formatting, printing, panicking, locking and libc-backed APIs that the
//! `disallowed_*` lints refuse here (they are allowed elsewhere in the
//! crate). The few items here that are parent-side code allow them by name.
#![deny(
    clippy::indexing_slicing,
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::arithmetic_side_effects,
    clippy::disallowed_methods,
    clippy::disallowed_types,
    clippy::disallowed_macros
)]

pub(crate) mod caps;
pub(crate) mod container;
#[cfg(feature = "landlock")]
pub(crate) mod landlock;
pub(crate) mod launch;
mod net;
pub(crate) mod plan;
pub(crate) mod program;
pub(crate) mod rootfs;
#[cfg(feature = "seccomp")]
pub(crate) mod seccomp;
pub(crate) mod supervisor;
pub(crate) mod template;
mod tree;
pub(crate) mod userns;

use core::ffi::c_int;

use crate::record::{self, Record};
use crate::stage::Stage;
use crate::sys::raw::{self, Errno};

/// A failed setup step: which, on what item, and the kernel's answer.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Fail {
    pub(crate) stage: Stage,
    pub(crate) index: u32,
    pub(crate) errno: Errno,
    pub(crate) flags: u32,
}

impl Fail {
    pub(crate) fn new(stage: Stage, index: u32, errno: Errno) -> Fail {
        Fail {
            stage,
            index,
            errno,
            flags: 0,
        }
    }

    fn record(&self) -> Record {
        let mut r = Record::new(record::KIND_ERROR);
        r.stage = self.stage as u32;
        r.index = self.index;
        r.errno = self.errno.0;
        r.flags = self.flags;
        r
    }
}

pub(crate) type Step<T = ()> = Result<T, Fail>;

/// Attaches a stage to a raw system call result.
pub(crate) trait StepExt<T> {
    fn at(self, stage: Stage, index: u32) -> Step<T>;
}

impl<T> StepExt<T> for Result<T, Errno> {
    fn at(self, stage: Stage, index: u32) -> Step<T> {
        self.map_err(|e| Fail::new(stage, index, e))
    }
}

const SIGSET_ALL: u64 = !0;

fn sigbit(sig: c_int) -> u64 {
    1u64.checked_shl((sig as u32).wrapping_sub(1)).unwrap_or(0)
}

fn send(fd: c_int, rec: &Record) {
    // Nothing useful can be done if the parent is gone.
    let _ = raw::send(fd, &rec.encode());
}

pub(crate) fn write_file(dir: c_int, path: &core::ffi::CStr, data: &[u8], stage: Stage) -> Step {
    let fd = raw::openat(dir, path, libc::O_WRONLY | libc::O_CLOEXEC, 0).at(stage, 0)?;
    let r = raw::write(fd.raw(), data);
    drop(fd);
    match r {
        Ok(n) if n == data.len() => Ok(()),
        Ok(_) => Err(Fail::new(stage, 0, Errno(libc::EIO))),
        Err(e) => Err(Fail::new(stage, 0, e)),
    }
}

/// Sets every signal's disposition to its default (`SIGKILL` and `SIGSTOP`
/// have no other). Each process of the zone starts with the caller's
/// dispositions, copied at clone: a `SIGCHLD` the caller ignores would have
/// the kernel reap the zone's children behind its back, and an ignored
/// signal stays ignored across `execve`. The caller's handlers never run
/// here (every signal is blocked from the clone on), and none is kept.
pub(crate) fn reset_signal_dispositions() {
    for sig in 1..=64 {
        if sig != libc::SIGKILL && sig != libc::SIGSTOP {
            let _ = raw::set_disposition(sig, raw::Disposition::Default);
        }
    }
}

/// Runs `f` with every signal blocked in the calling thread: a process
/// cloned with `CLONE_VM` must not run the caller's handlers on its stack
/// before it has reset them.
pub(crate) fn with_signals_blocked<T>(f: impl FnOnce() -> T) -> T {
    use nix::sys::signal::{SigSet, SigmaskHow, pthread_sigmask};
    let mut old = SigSet::empty();
    let _ = pthread_sigmask(
        SigmaskHow::SIG_SETMASK,
        Some(&SigSet::all()),
        Some(&mut old),
    );
    let r = f();
    let _ = pthread_sigmask(SigmaskHow::SIG_SETMASK, Some(&old), None);
    r
}

/// Waits for a child that has already exited (it was cloned with
/// `CLONE_VFORK`) and returns its wait status.
pub(crate) fn reap_exited(pid: i32) -> Result<c_int, Errno> {
    loop {
        let mut st: c_int = 0;
        match raw::wait4(pid, &mut st, libc::__WALL, None) {
            Err(Errno(libc::EINTR)) => {}
            r => return r.map(|_| st),
        }
    }
}
