//! stockade: run child processes inside a Linux sandbox.
#![deny(missing_docs)]

mod compat;
#[cfg(feature = "seccomp")]
mod seccomp;
mod sys;

pub use compat::CompatLevel;
#[cfg(feature = "seccomp")]
pub use seccomp::{
    ArgCondition, ArgOp, ArgWidth, SeccompAction, SeccompArch, SeccompError, SeccompPolicy,
    SeccompProfile, SeccompReport, SyscallGroup, SyscallRule,
};
