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
