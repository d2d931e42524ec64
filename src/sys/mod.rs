//! The only place that talks to the kernel without a safe wrapper.
//!
//! `raw` issues system calls without libc (for the child zone); the rest of the
//! crate goes through `nix`/`libc` on the parent side.

pub(crate) mod clone;
pub(crate) mod raw;
