//! The only place that talks to the kernel without a safe wrapper.
//!
//! `raw` issues system calls without libc (for the child zone); `clone`
//! starts a child on a stack of the caller's; `pidfd` signals and reaps
//! through process descriptors; `fork` keeps state private to a process;
//! `lifeline` is what supervisors watch to die with the caller. The rest of
//! the crate goes through `nix` on the parent side, or through the safe
//! wrappers here.

pub(crate) mod clone;
pub(crate) mod fork;
#[cfg(feature = "landlock")]
pub(crate) mod landlock;
pub(crate) mod lifeline;
pub(crate) mod mount;
pub(crate) mod pidfd;
pub(crate) mod raw;
pub(crate) mod shared;
#[cfg(test)]
pub(crate) mod testing;
pub(crate) mod xattr;

/// Takes ownership of the descriptors of an `SCM_RIGHTS` message that
/// `recvmsg` has just returned (as raw numbers, which is how `nix` hands
/// them over). Only for that: the kernel created them in this process's
/// table for the message, and nothing else knows of them yet.
pub(crate) fn adopt_received(fds: Vec<std::os::fd::RawFd>) -> Vec<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    fds.into_iter()
        // SAFETY: see above: each is a new descriptor owned by no one.
        .map(|fd| unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) })
        .collect()
}
