//! The pre-built plan the child zone executes.
//!
//! Everything here is allocated, converted and validated by the parent before
//! clone. The child reads it through a shared reference and writes only to
//! [`Shared`]. It is not `Send`: it lives in the spawning thread's frame until
//! the supervisor no longer needs it.

use core::ffi::{c_char, c_int};
use std::ffi::CString;
use std::sync::Arc;

use super::child::Shared;
use crate::rootfs::MountPlan;

/// uid and gid map contents, written by the supervisor for itself.
pub(crate) struct IdMaps {
    pub(crate) uid_map: Vec<u8>,
    pub(crate) gid_map: Vec<u8>,
}

/// What the helper that enters a template needs (see `spawn::template`).
pub(crate) struct HelperArgs {
    /// The template's user and mount namespaces.
    pub(crate) user_ns: c_int,
    pub(crate) mnt_ns: c_int,
    /// The caller's `/proc` (a directory descriptor).
    pub(crate) host_proc: c_int,
    /// The supervisor's clone flags (without `CLONE_PARENT`).
    pub(crate) flags: u64,
    /// Where the kernel stores the supervisor's pidfd.
    pub(crate) pidfd_out: u64,
    /// The supervisor's stack.
    pub(crate) stack: (*mut u8, usize),
}

pub(crate) struct ChildPlan {
    // Channels.
    pub(crate) report_fd: c_int,
    pub(crate) lifeline_fd: c_int,

    // Supervisor.
    pub(crate) pid_ns: bool,
    pub(crate) id_maps: Option<IdMaps>,
    pub(crate) hostname: Option<Vec<u8>>,
    pub(crate) mounts: Option<Arc<MountPlan>>,
    /// Set when the supervisor starts in a copy of the plan's template
    /// mount namespace: it then builds only the per-spawn part.
    pub(crate) helper: Option<HelperArgs>,
    pub(crate) use_clone3: bool,
    pub(crate) program_stack: (*mut u8, usize),
    pub(crate) cgroup_fd: c_int,
    pub(crate) cgroup_kill_fd: c_int,
    /// Wall-clock limit enforced by the supervisor (0: none).
    pub(crate) timeout_ns: u64,
    pub(crate) shared: Shared,

    // Program process.
    pub(crate) cgroup_procs_fd: c_int,
    pub(crate) new_cgroup_ns: bool,
    pub(crate) new_time_ns: bool,
    pub(crate) set_ids: Option<(u32, u32)>,
    pub(crate) cwd: Option<CString>,
    pub(crate) cwd_in_root: bool,
    pub(crate) cwd_required: bool,
    pub(crate) fd_moves: Vec<(c_int, c_int)>,
    pub(crate) fd_via_temp: bool,
    pub(crate) fd_temp_base: c_int,
    pub(crate) keep_fds: Vec<c_int>,
    pub(crate) rlimits: Vec<(c_int, libc::rlimit64)>,
    pub(crate) caps: crate::caps::CapPlan,
    #[cfg(feature = "landlock")]
    pub(crate) landlock: Option<Arc<crate::landlock::SpawnLandlock>>,
    /// The seccomp program, installed last before exec.
    #[cfg(feature = "seccomp")]
    pub(crate) seccomp: Option<crate::seccomp::ChildProgram>,
    pub(crate) argv: Vec<*const c_char>,
    pub(crate) envp: Vec<*const c_char>,
    pub(crate) candidates: Vec<CString>,
    /// Owners of the strings `argv` and `envp` point into.
    pub(crate) _strings: Vec<CString>,
}
