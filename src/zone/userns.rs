//! A user namespace with id maps of the caller's choosing, for idmapped
//! mounts (see `crate::fs::idmap`).
//!
//! Only a process in the parent user namespace with `CAP_SETUID` may write
//! maps other than its own id into a namespace, and a namespace exists only
//! while a process or a descriptor holds it: a holder process is cloned
//! into a new user namespace, the caller writes its maps through `/proc`,
//! opens the namespace and ends the holder.
//!
//! `new_userns` is parent-side code; the holder's entry point follows the
//! zone's rules.

use core::ffi::{c_int, c_void};
#[allow(clippy::disallowed_types)] // For `new_userns`, which is parent-side.
use std::os::fd::{AsRawFd, BorrowedFd, IntoRawFd, OwnedFd};
use std::sync::atomic::{AtomicU64, Ordering};

use super::{reap_exited, with_signals_blocked};
use crate::sys::clone::{self, CloneArgs, StackMap};
use crate::sys::raw::{self, Errno};

/// Stack size of the holder, which only waits.
const STACK_SIZE: usize = 16 * 1024;

/// Entry point of the holder: waits until it is killed (by the caller, or
/// by the kernel if the caller's thread ends first).
///
/// # Safety
/// None beyond running on its own stack: it reads nothing.
unsafe extern "C" fn holder_entry(_arg: *mut c_void) -> c_int {
    let _ = raw::set_parent_death_signal(libc::SIGKILL);
    loop {
        // No descriptors and no timeout: sleeps until a signal ends it
        // (every catchable signal is blocked, SIGKILL is not).
        let _ = raw::poll(&mut [], None);
    }
}

/// Creates a user namespace, child of the caller's, with the given
/// `uid_map` and `gid_map` contents, and returns a descriptor of it. The
/// caller needs `CAP_SETUID` and `CAP_SETGID` over its own user namespace
/// for maps other than its own ids.
///
/// Parent-side code: it formats paths and returns an owned descriptor.
#[allow(clippy::disallowed_types, clippy::disallowed_macros)]
pub(crate) fn new_userns(uid_map: &[u8], gid_map: &[u8]) -> Result<OwnedFd, Errno> {
    use std::io::Write;
    let stacks = StackMap::new(1, STACK_SIZE)
        .map_err(|e| Errno(e.raw_os_error().unwrap_or(libc::ENOMEM)))?;
    let (lo, size) = stacks.stack(0).ok_or(Errno(libc::EINVAL))?;
    let flags = (libc::CLONE_VM | libc::CLONE_NEWUSER) as u64;
    let r = with_signals_blocked(|| {
        if crate::probe::clone3() {
            let args = CloneArgs {
                flags,
                exit_signal: 0,
                stack: lo as u64,
                stack_size: size as u64,
                ..CloneArgs::default()
            };
            // SAFETY: the holder runs on `stacks`, which stays mapped until
            // it has been reaped below; its entry point reads nothing and
            // follows the child-zone rules.
            unsafe { clone::clone3(&args, holder_entry, core::ptr::null_mut()) }
        } else {
            let top = lo.wrapping_add(size);
            // SAFETY: as above, for the legacy system call (no pidfd).
            unsafe {
                clone::clone_legacy(
                    flags,
                    top,
                    core::ptr::null_mut(),
                    holder_entry,
                    core::ptr::null_mut(),
                )
            }
        }
    });
    let pid = r? as i32;
    let io = |e: std::io::Error| Errno(e.raw_os_error().unwrap_or(libc::EIO));
    let configure = || -> Result<OwnedFd, Errno> {
        let write = |name: &str, data: &[u8]| -> Result<(), Errno> {
            let mut f = std::fs::OpenOptions::new()
                .write(true)
                .open(format!("/proc/{pid}/{name}"))
                .map_err(io)?;
            f.write_all(data).map_err(io)
        };
        write("uid_map", uid_map)?;
        write("gid_map", gid_map)?;
        let ns = std::fs::File::open(format!("/proc/{pid}/ns/user")).map_err(io)?;
        Ok(ns.into())
    };
    let ns = configure();
    // The holder has done its part whatever happened; the namespace lives
    // on through the descriptor.
    let _ = raw::kill(pid, libc::SIGKILL);
    if reap_exited(pid).is_err() {
        // Not known to be gone: it may still run on this memory.
        std::mem::forget(stacks);
    }
    ns
}

/// Maps only the overflow id (`nobody`, 65534) to itself: on a mount
/// idmapped with it, every other owner (the host's root first of all) is
/// nobody the sandbox can be or hold a capability over, so only a file's
/// "others" permission bits apply, as to an unprivileged caller's sandbox.
const NOBODY_ONLY: &[u8] = b"65534 65534 1\n";

/// The namespace of [`NOBODY_ONLY`], made once per process: the descriptor
/// (never closed) and the process it was made in, packed by [`pack`], or
/// one of the states below.
static NOBODY_ONLY_NS: AtomicU64 = AtomicU64::new(UNTRIED);
const UNTRIED: u64 = u64::MAX;
/// The kernel refused for good (no user namespaces, no privilege).
const REFUSED: u64 = u64::MAX - 1;

/// A descriptor made by process `pid`, as stored in [`NOBODY_ONLY_NS`].
fn pack(pid: i32, fd: c_int) -> u64 {
    (u64::from(pid as u32) << 32) | u64::from(fd as u32)
}

/// A user namespace that maps only the overflow uid and gid to themselves,
/// made once per process (without a lock: threads that race make one each
/// and all but one are closed; a process forked from the one that made it
/// makes its own, as it may have closed the descriptor). Refusals that will
/// not change (`EPERM`, `EINVAL`, `EUSERS`, `ENOSYS`) are remembered; other
/// failures (`ENOSPC`: too many user namespaces for now) are retried next
/// time.
#[allow(clippy::disallowed_types)] // Parent-side: it owns the descriptor with std's type.
pub(crate) fn nobody_only() -> Result<BorrowedFd<'static>, Errno> {
    let borrow = |fd: c_int| {
        // SAFETY: a descriptor stored in NOBODY_ONLY_NS is never closed by
        // the process that made it.
        unsafe { BorrowedFd::borrow_raw(fd) }
    };
    let pid = raw::getpid();
    let seen = NOBODY_ONLY_NS.load(Ordering::Acquire);
    match seen {
        REFUSED => return Err(Errno(libc::EPERM)),
        UNTRIED => {}
        v if (v >> 32) as u32 == pid as u32 => return Ok(borrow(v as u32 as c_int)),
        // Made by the process this one was forked from.
        _ => {}
    }
    match new_userns(NOBODY_ONLY, NOBODY_ONLY) {
        Ok(ns) => {
            let fd = ns.as_raw_fd();
            match NOBODY_ONLY_NS.compare_exchange(
                seen,
                pack(pid, fd),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    // Kept for the life of the process.
                    let _ = ns.into_raw_fd();
                    Ok(borrow(fd))
                }
                // Another thread stored one first: ours is closed.
                Err(v) if v != REFUSED && v != UNTRIED && (v >> 32) as u32 == pid as u32 => {
                    Ok(borrow(v as u32 as c_int))
                }
                Err(_) => Err(Errno(libc::EPERM)),
            }
        }
        Err(e) => {
            if matches!(
                e.0,
                libc::EPERM | libc::EINVAL | libc::EUSERS | libc::ENOSYS
            ) {
                let _ = NOBODY_ONLY_NS.compare_exchange(
                    seen,
                    REFUSED,
                    Ordering::AcqRel,
                    Ordering::Acquire,
                );
            }
            Err(e)
        }
    }
}
