//! The supervisor's view of the sandbox's processes and of its own
//! descriptors, shared by a sandbox's init and a container's.

use core::ffi::c_int;

use crate::sys::raw::{self, Errno};

/// Closes every descriptor except those in `keep` (sorted ascending).
///
/// The supervisor's descriptor table is its own copy (it was cloned without
/// `CLONE_FILES`); nothing in the shared address space closes or uses a
/// descriptor through it, and from here on the supervisor uses only those
/// in `keep` and those it opens itself.
pub(super) fn close_all_except(keep: &[c_int]) {
    let mut lo: u32 = 0;
    for &k in keep {
        if k < 0 {
            continue;
        }
        let k = k as u32;
        if k > lo {
            // SAFETY: the range holds none of `keep`; see above.
            let _ = unsafe { raw::close_range(lo, k.wrapping_sub(1), 0) };
        }
        lo = k.wrapping_add(1);
    }
    // SAFETY: as above.
    let _ = unsafe { raw::close_range(lo, u32::MAX, 0) };
}

/// Sends `sig` to every child listed in `/proc/thread-self/children` and
/// to its process group. Returns false if the list cannot be read.
pub(super) fn kill_listed_children(sig: c_int) -> bool {
    let Ok(fd) = raw::openat(
        libc::AT_FDCWD,
        c"/proc/thread-self/children",
        libc::O_RDONLY | libc::O_CLOEXEC,
        0,
    ) else {
        return false;
    };
    let mut buf = [0u8; 256];
    // A pid may straddle two reads: the accumulator carries over.
    let mut pid: i32 = 0;
    let mut digits = false;
    loop {
        let n = match raw::read(fd.raw(), &mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(Errno(libc::EINTR)) => continue,
            Err(_) => break,
        };
        for &b in buf.get(..n).unwrap_or(&[]) {
            if b.is_ascii_digit() {
                pid = pid
                    .saturating_mul(10)
                    .saturating_add(i32::from(b.wrapping_sub(b'0')));
                digits = true;
            } else {
                if digits && pid > 1 {
                    let _ = raw::kill(pid.wrapping_neg(), sig);
                    let _ = raw::kill(pid, sig);
                }
                pid = 0;
                digits = false;
            }
        }
    }
    if digits && pid > 1 {
        let _ = raw::kill(pid.wrapping_neg(), sig);
        let _ = raw::kill(pid, sig);
    }
    drop(fd);
    true
}

/// A `timeval` in microseconds.
pub(super) fn timeval_us(t: &libc::timeval) -> u64 {
    (t.tv_sec as u64)
        .wrapping_mul(1_000_000)
        .wrapping_add(t.tv_usec as u64)
}

/// What one `wait4(-1)` for any child gave.
pub(super) enum Reaped {
    /// A child ended and was reaped: its pid, wait status and usage.
    Child(i32, c_int, libc::rusage),
    /// Children are left, none has ended (without blocking only), or the
    /// call failed otherwise.
    Nothing,
    /// No child is left.
    NoChildren,
}

/// Reaps one child that has ended (waiting for one with `block`), of any
/// kind (`__WALL`), retrying on `EINTR`.
pub(super) fn reap_one(block: bool) -> Reaped {
    let opts = if block {
        libc::__WALL
    } else {
        libc::WNOHANG | libc::__WALL
    };
    loop {
        let mut st: c_int = 0;
        // SAFETY: all-zero is a valid rusage to be filled in.
        let mut ru: libc::rusage = unsafe { core::mem::zeroed() };
        return match raw::wait4(-1, &mut st, opts, Some(&mut ru)) {
            Ok(0) => Reaped::Nothing,
            Ok(pid) => Reaped::Child(pid as i32, st, ru),
            Err(Errno(libc::EINTR)) => continue,
            Err(Errno(libc::ECHILD)) => Reaped::NoChildren,
            Err(_) => Reaped::Nothing,
        };
    }
}
