//! seccomp, child-zone half: installs a filter compiled once per policy.

#[allow(clippy::disallowed_types)] // Built by the parent, see ChildProgram.
use std::sync::Arc;

use crate::record::{self, Record};
use crate::seccomp::CompiledFilter;
use crate::sys::raw::{self, Errno, sc, syscall6};

/// `SECCOMP_FILTER_FLAG_TSYNC`: install on every thread of the process.
pub(crate) const FILTER_FLAG_TSYNC: u32 = libc::SECCOMP_FILTER_FLAG_TSYNC as u32;

/// A compiled filter lowered for the child zone: the `sock_fprog` the
/// kernel takes, built in the parent, pointing into the filter it keeps
/// alive. Part of the spawn plan.
// The parent builds and drops it; the zone only reads `fprog`.
#[allow(clippy::disallowed_types)]
pub(crate) struct ChildProgram {
    fprog: libc::sock_fprog,
    /// The notifying form (see `crate::seccomp::notify`), when refusals
    /// are observed.
    notify: Option<libc::sock_fprog>,
    /// Owns the instructions `fprog` and `notify` point to.
    _filter: Arc<CompiledFilter>,
}

// SAFETY: `fprog` points into the instructions of the `CompiledFilter` the
// value owns through an `Arc`; they are never written after compilation, so
// sharing and sending the pointer is as safe as sharing the filter itself.
unsafe impl Send for ChildProgram {}
// SAFETY: as above: nothing is mutated through a shared reference.
unsafe impl Sync for ChildProgram {}

impl std::fmt::Debug for ChildProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ChildProgram")
            .field("len", &self.fprog.len)
            .finish_non_exhaustive()
    }
}

impl ChildProgram {
    /// The compiled filter.
    pub(crate) fn filter(&self) -> &CompiledFilter {
        &self._filter
    }

    /// The shared compiled filter (parent side).
    #[allow(clippy::disallowed_types)]
    pub(crate) fn shared(&self) -> &Arc<CompiledFilter> {
        &self._filter
    }

    /// Lowers a shared compiled filter (parent side); `observe` installs
    /// its notifying form, whose refusals the caller answers.
    #[allow(clippy::disallowed_types)]
    pub(crate) fn new(filter: Arc<CompiledFilter>, observe: bool) -> Self {
        Self {
            fprog: filter.fprog(),
            notify: if observe { filter.notify_fprog() } else { None },
            _filter: filter,
        }
    }

    /// Whether the program process sends a listener (or the reason it has
    /// none) before it executes the program.
    pub(crate) fn observed(&self) -> bool {
        self.notify.is_some()
    }

    /// Installs the filter on the calling thread (which, in the program
    /// process, is the whole process). Child-zone safe.
    ///
    /// When refusals are observed, installs the notifying form with a new
    /// listener and sends the listener on `report_to` (a `KIND_LISTENER`
    /// record), then closes it: the program never holds it. A kernel
    /// without user notification (`EINVAL`) or a caller already under a
    /// filter with a listener (`EBUSY`) gets the plain filter, and the
    /// record says why, without a descriptor.
    pub(crate) fn install(&self, report_to: core::ffi::c_int) -> Result<(), Errno> {
        let Some(notify) = &self.notify else {
            return set_mode_filter(&self.fprog, 0).map(drop);
        };
        let mut rec = Record::new(record::KIND_LISTENER);
        match set_mode_filter(notify, FILTER_FLAG_NEW_LISTENER) {
            Ok(fd) => {
                // SAFETY: with NEW_LISTENER the call returned a new
                // descriptor (close-on-exec) that only we own.
                let listener = unsafe { raw::Fd::from_raw(fd as core::ffi::c_int) };
                raw::send_with_fd(report_to, &rec.encode(), listener.raw())?;
                // Closed here, before the program runs: a refused call
                // waits for the caller, and only the caller can answer.
                drop(listener);
                Ok(())
            }
            Err(Errno(e @ (libc::EINVAL | libc::EBUSY))) => {
                set_mode_filter(&self.fprog, 0)?;
                rec.errno = e;
                // Under the plain filter now: should the policy refuse the
                // send, the program still runs as it would unobserved.
                let _ = raw::send(report_to, &rec.encode());
                Ok(())
            }
            Err(e) => Err(e),
        }
    }
}

/// A caller-made program lowered for the child zone, as [`ChildProgram`]
/// is for the policy's filter.
pub(crate) struct RawProgram {
    fprog: libc::sock_fprog,
    /// Owns the instructions `fprog` points to.
    _program: crate::seccomp::Program,
}

// SAFETY: `fprog` points into the instructions the value owns (an `Arc`
// never written after construction), as for `ChildProgram`.
unsafe impl Send for RawProgram {}
// SAFETY: as above: nothing is mutated through a shared reference.
unsafe impl Sync for RawProgram {}

impl std::fmt::Debug for RawProgram {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RawProgram")
            .field("len", &self.fprog.len)
            .finish_non_exhaustive()
    }
}

impl RawProgram {
    /// Lowers `program` (parent side).
    pub(crate) fn new(program: crate::seccomp::Program) -> Self {
        Self {
            fprog: program.fprog(),
            _program: program,
        }
    }

    /// Installs the program on the calling thread. Child-zone safe.
    pub(crate) fn install(&self) -> Result<(), Errno> {
        set_mode_filter(&self.fprog, 0).map(drop)
    }
}

/// `SECCOMP_FILTER_FLAG_NEW_LISTENER` (Linux 5.0).
const FILTER_FLAG_NEW_LISTENER: u32 = 1 << 3;

/// `seccomp(SECCOMP_SET_MODE_FILTER, flags, prog)`. With
/// [`FILTER_FLAG_TSYNC`], a positive value is the id of a thread that could
/// not be synchronised (nothing was installed).
///
/// Child-zone safe: no allocation, no panic, no libc. The caller must have
/// set `no_new_privs` (or hold `CAP_SYS_ADMIN` in its user namespace).
fn set_mode_filter(prog: &libc::sock_fprog, flags: u32) -> Result<usize, Errno> {
    // SAFETY: `prog` is a live reference to a sock_fprog whose pointer and
    // length describe initialised instructions owned by a CompiledFilter the
    // caller keeps alive for the call; the kernel copies the program and
    // never writes through the pointer.
    unsafe {
        sc!(
            libc::SYS_seccomp,
            libc::SECCOMP_SET_MODE_FILTER,
            flags,
            core::ptr::from_ref(prog)
        )
    }
}

/// Installs `filter` on the calling thread with
/// `seccomp(SECCOMP_SET_MODE_FILTER, 0, ...)`. Child-zone safe (see
/// [`set_mode_filter`]). Without TSYNC the filter applies to the calling
/// thread only; threads and processes it creates later inherit it.
pub(crate) fn install(filter: &CompiledFilter) -> Result<(), Errno> {
    set_mode_filter(&filter.fprog(), 0).map(drop)
}

/// Installs `filter` on every thread of the process at once
/// (`SECCOMP_FILTER_FLAG_TSYNC`, Linux 3.17), setting `no_new_privs` on
/// each of them when the caller has it. `Ok(Some(tid))` names a thread
/// whose filters diverge from the caller's, in which case nothing was
/// installed. Child-zone safe.
pub(crate) fn install_all_threads(filter: &CompiledFilter) -> Result<Option<u32>, Errno> {
    set_mode_filter(&filter.fprog(), FILTER_FLAG_TSYNC).map(|tid| (tid != 0).then_some(tid as u32))
}

#[cfg(test)]
#[allow(clippy::expect_used, clippy::disallowed_macros)] // Test code, in the parent.
mod tests {
    use super::*;
    use crate::seccomp;
    use crate::sys::testing;

    #[test]
    fn install_confines_a_forked_child() {
        // The filter is compiled here, in the parent; the child only makes raw
        // system calls, as the program process does.
        let filter = crate::seccomp::compile(&seccomp::Policy::default_profile())
            .expect("the default profile compiles");
        let unknown = crate::seccomp::max_known().wrapping_add(1);
        let pid = testing::fork(|| {
            if crate::zone::caps::set_no_new_privs().is_err() || install(&filter).is_err() {
                return 10;
            }
            // SAFETY: getppid takes no arguments.
            if unsafe { sc!(libc::SYS_getppid) }.is_err() {
                return 11;
            }
            // SAFETY: unshare(0) takes an integer and changes nothing.
            if unsafe { sc!(libc::SYS_unshare, 0) } != Err(Errno(libc::EPERM)) {
                return 12;
            }
            // SAFETY: a null clone_args pointer is never dereferenced (the
            // call is refused by the filter, or with EFAULT).
            if unsafe { sc!(libc::SYS_clone3, 0, 88) } != Err(Errno(libc::ENOSYS)) {
                return 13;
            }
            // SAFETY: a number the filter does not know, without arguments:
            // the filter answers it (a kernel too old to have it, too).
            if unsafe { sc!(unknown) } != Err(Errno(libc::ENOSYS)) {
                return 14;
            }
            0
        })
        .expect("fork");
        assert_eq!(testing::wait(pid), Ok(0), "the child's exit code");
    }
}
