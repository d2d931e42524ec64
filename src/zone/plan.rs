//! The pre-built plan the child zone executes: the zone's only input.
//!
//! Everything here is allocated, converted and validated by the parent before
//! clone: per policy (borrowed from the compiled policy) or per spawn (owned
//! here). The child reads it through a shared reference and writes only to
//! [`Shared`]. It is not `Send`: it lives in the spawning thread's frame
//! until the supervisor no longer needs it, which [`launch`](super::launch)
//! enforces by borrowing it.
// The parent builds these vectors; the zone only reads them.
#![allow(clippy::disallowed_types)]

use core::cell::{Cell, UnsafeCell};
use core::ffi::{c_char, c_int};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64};
use std::ffi::CString;

use crate::caps::CapPlan;
use crate::fs::SYSTEM_SLOTS;
use crate::fs::plan::MountPlan;
use crate::record::{self, Record};

/// uid and gid map contents, written by the supervisor for itself.
pub(crate) struct IdMaps {
    pub(crate) uid_map: Vec<u8>,
    pub(crate) gid_map: Vec<u8>,
}

/// A policy's template mount namespace, for the helper that enters it (see
/// `crate::template`). Descriptors the caller keeps open for the spawn.
#[derive(Clone, Copy)]
pub(crate) struct TemplateFds {
    /// The template's user and mount namespaces.
    pub(crate) user_ns: c_int,
    pub(crate) mnt_ns: c_int,
    /// The caller's `/proc` (a directory descriptor), through which the
    /// supervisor writes its id maps before it has a `/proc` of its own.
    pub(crate) host_proc: c_int,
}

/// What the helper needs besides the template: filled in by `launch`.
#[derive(Clone, Copy)]
pub(crate) struct HelperArgs {
    pub(crate) template: TemplateFds,
    /// The supervisor's clone flags (without `CLONE_PARENT`).
    pub(crate) flags: u64,
    /// Where the kernel stores the supervisor's pidfd.
    pub(crate) pidfd_out: u64,
    /// The supervisor's stack.
    pub(crate) stack: (*mut u8, usize),
}

/// How the program process arranges its descriptors.
pub(crate) struct FdPlan {
    /// (source, target) pairs: stdio first, then passed descriptors.
    pub(crate) moves: Vec<(c_int, c_int)>,
    /// Some source is also a target: every source is parked at
    /// `temp_base + i` first.
    pub(crate) via_temp: bool,
    pub(crate) temp_base: c_int,
    /// Targets above 2, ascending: everything else above 2 closes on exec.
    pub(crate) keep: Vec<c_int>,
    /// For an exec into a container: the sources of `moves` are indices
    /// into this table, which the container's supervisor fills with the
    /// numbers it received the descriptors at (all above every target).
    /// Empty for a sandbox's first program.
    pub(crate) received: Vec<Cell<c_int>>,
    /// The program's terminal, when it gets one.
    pub(crate) pty: Option<PtyPlan>,
    /// Standard input, a terminal the caller made, becomes the controlling
    /// terminal of the program's session (never with `pty`).
    pub(crate) ctty: bool,
    /// Where the program process sends what it hands the caller (its
    /// terminal's master, its seccomp listener): -1 for the plan's report
    /// channel; for an exec into a container, the exec's channel as its
    /// supervisor holds it (set by that supervisor before the clone).
    pub(crate) send_to: Cell<c_int>,
}

// Built by the parent; empty vectors do not allocate anyway.
#[allow(clippy::disallowed_methods)]
impl Default for FdPlan {
    fn default() -> Self {
        FdPlan {
            moves: Vec::new(),
            via_temp: false,
            temp_base: 0,
            keep: Vec::new(),
            received: Vec::new(),
            pty: None,
            ctty: false,
            send_to: Cell::new(-1),
        }
    }
}

impl FdPlan {
    /// The channel the program process sends on (see `send_to`).
    pub(crate) fn send_to(&self, report_fd: c_int) -> c_int {
        match self.send_to.get() {
            -1 => report_fd,
            fd => fd,
        }
    }
}

/// A pseudo-terminal for the program: opened by the program process in
/// the sandbox's `/dev/pts`, made its controlling terminal, and its master
/// sent to the caller.
pub(crate) struct PtyPlan {
    pub(crate) size: libc::winsize,
    /// The standard streams (bit `n` for descriptor `n`) that become the
    /// terminal.
    pub(crate) streams: u8,
}

/// A socket the supervisor opens in the sandbox's network namespace
/// before the program runs, and hands to the caller (see `crate::net`).
pub(crate) struct NetSocket {
    /// `SOCK_STREAM` or `SOCK_DGRAM`.
    pub(crate) ty: c_int,
    pub(crate) addr: crate::sys::raw::SockAddr,
    pub(crate) listen: bool,
}

/// The network policy's part of the plan.
pub(crate) struct NetPlan<'a> {
    /// The supervisor's end of the network channel: it sends the sockets
    /// below on it, then serves requests for more (published ports).
    pub(crate) fd: c_int,
    /// An address added to the loopback interface (the sandbox's
    /// resolver's), when set.
    pub(crate) loopback_alias: Option<[u8; 4]>,
    pub(crate) sockets: &'a [NetSocket],
}

/// What the program process executes.
#[derive(Default)]
pub(crate) struct ExecPlan {
    pub(crate) argv: Vec<*const c_char>,
    pub(crate) envp: Vec<*const c_char>,
    /// The paths tried in turn, like `execvp`.
    pub(crate) candidates: Vec<CString>,
    /// Owners of the strings `argv` and then `envp` point into, in that
    /// order (the zone reads them only through those pointers).
    pub(crate) strings: Vec<CString>,
}

pub(crate) struct ChildPlan<'a> {
    // Channels.
    pub(crate) report_fd: c_int,
    /// The caller's lifeline (see `crate::sys::lifeline`): the read end of
    /// its pipe and its pidfd (-1: none).
    pub(crate) lifeline_fd: c_int,
    pub(crate) caller_pidfd: c_int,
    /// The network policy's channel and sockets (a filtered network or
    /// published ports).
    pub(crate) net: Option<NetPlan<'a>>,

    // Supervisor.
    /// The supervisor's namespace flags (`CLONE_NEW*`, no time or cgroup
    /// namespace: the program process creates those).
    pub(crate) namespace_flags: u64,
    pub(crate) pid_ns: bool,
    pub(crate) id_maps: Option<IdMaps>,
    /// The caller writes the id maps (ranges, see `crate::ids`): the
    /// supervisor waits for its word on the report channel first.
    pub(crate) await_maps: bool,
    pub(crate) hostname: Option<&'a [u8]>,
    pub(crate) mounts: Option<&'a MountPlan>,
    /// The caller is root: a supervisor that builds the whole of `mounts`
    /// gets the system directories as idmapped trees the caller makes
    /// (see `crate::fs::idmap`).
    pub(crate) root_caller: bool,
    /// Those trees' descriptors, by slot (-1: none): set by `launch`.
    pub(crate) system_trees: Cell<[c_int; SYSTEM_SLOTS]>,
    /// The template the supervisor starts from (it then builds only the
    /// per-spawn part of `mounts`) and what the helper entering it needs:
    /// set by `launch`, which clears it again if the helper fails.
    pub(crate) helper: Cell<Option<HelperArgs>>,
    pub(crate) use_clone3: bool,
    /// The program process's stack: set by `launch`.
    pub(crate) program_stack: Cell<(*mut u8, usize)>,
    pub(crate) cgroup_fd: c_int,
    pub(crate) cgroup_kill_fd: c_int,
    /// Wall-clock limit enforced by the supervisor (0: none).
    pub(crate) timeout_ns: u64,
    /// Set up the sandbox and start no program: a container, whose
    /// supervisor runs programs on request (see `super::container`).
    pub(crate) container: bool,
    /// The program process joins a running container: it has a copy of
    /// the caller's address space, which it makes undumpable first.
    pub(crate) joins_container: bool,
    /// The program is the init of a pid namespace of its own, which its
    /// process creates (the supervisor stays one namespace up) and whose
    /// `/proc` it mounts.
    pub(crate) program_is_init: bool,
    /// A container's init with a terminal: the root is built for this
    /// sandbox alone, with an empty `/dev/console` that the program
    /// process binds its terminal over.
    pub(crate) console: bool,
    /// The state the program process shares with the supervisor. For an
    /// exec into a container it lies in memory mapped shared, because that
    /// program process has a copy of the address space, not the address
    /// space itself.
    pub(crate) shared: &'a Shared,

    // Program process.
    /// The caller's `/proc`, for recording the program's namespace ids
    /// into `shared` (-1: not asked). Close-on-exec; the supervisor drops
    /// its copy with the other inherited descriptors.
    pub(crate) proc_fd: c_int,
    pub(crate) cgroup_procs_fd: c_int,
    pub(crate) new_cgroup_ns: bool,
    /// Mount the new cgroup namespace's root at /sys/fs/cgroup (the
    /// sandbox's first program, or the first exec of a container without
    /// an init of the caller's).
    pub(crate) mount_cgroup: bool,
    /// That mount is read-only.
    pub(crate) mount_cgroup_read_only: bool,
    pub(crate) new_time_ns: bool,
    pub(crate) set_ids: Option<(u32, u32)>,
    /// The switch to `set_ids` keeps the supplementary groups (the user
    /// namespace denies `setgroups`).
    pub(crate) keep_groups: bool,
    pub(crate) cwd: Option<CString>,
    pub(crate) cwd_in_root: bool,
    pub(crate) cwd_required: bool,
    pub(crate) fds: FdPlan,
    /// The policy's rlimits, then those standing in for cgroup limits.
    pub(crate) rlimits: &'a [(c_int, libc::rlimit64)],
    pub(crate) fallback_rlimits: Vec<(c_int, libc::rlimit64)>,
    pub(crate) caps: &'a CapPlan,
    #[cfg(feature = "landlock")]
    /// The Landlock rules, when a ruleset is applied.
    pub(crate) landlock: Option<&'a super::landlock::Rules>,
    /// The seccomp program, installed last before exec.
    #[cfg(feature = "seccomp")]
    pub(crate) seccomp: Option<&'a super::seccomp::ChildProgram>,
    /// The caller's own programs, installed after it.
    #[cfg(feature = "seccomp")]
    pub(crate) seccomp_programs: &'a [super::seccomp::RawProgram],
    pub(crate) exec: ExecPlan,
}

impl ChildPlan<'_> {
    /// Whether the program process sends a seccomp listener.
    pub(crate) fn sends_listener(&self) -> bool {
        #[cfg(feature = "seccomp")]
        if let Some(p) = self.seccomp {
            return p.observed();
        }
        false
    }
}

/// State the supervisor and the program process share while setting up.
/// Lives inside the plan; only the fields here are written after clone.
pub(crate) struct Shared {
    /// The pid the program process must see as its parent.
    pub(crate) expected_ppid: AtomicI32,
    /// Set (release) by the program process after writing `error`.
    pub(crate) failed: AtomicU32,
    /// The program process's failure record.
    pub(crate) error: UnsafeCell<Record>,
    /// Set by the program process of a container's exec once it has
    /// mounted the container's cgroup tree at /sys/fs/cgroup (a container
    /// without an init of the caller's: the first exec mounts it). Execs
    /// are set up one at a time: the supervisor clones each with
    /// CLONE_VFORK.
    pub(crate) cgroup_mounted: AtomicBool,
    /// The program's namespaces' inode numbers, stored by the program
    /// process before it executes the program when the plan has a
    /// `proc_fd` (0: not read), in the order of
    /// `NamespaceIds::LINKS`.
    pub(crate) ns_ids: [AtomicU64; 8],
}

// SAFETY: `error` is written only by a program process, before the
// release store to `failed`, and read only by the supervisor that cloned
// it, after observing that store with acquire ordering and once the program
// process has stopped running our code (CLONE_VFORK); the caller's threads
// only pass references to it along. The other fields are atomics.
unsafe impl Sync for Shared {}

impl Shared {
    pub(crate) fn new() -> Shared {
        Shared {
            expected_ppid: AtomicI32::new(0),
            failed: AtomicU32::new(0),
            cgroup_mounted: AtomicBool::new(false),
            ns_ids: Default::default(),
            error: UnsafeCell::new(Record::new(record::KIND_ERROR)),
        }
    }
}
