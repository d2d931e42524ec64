//! Named families of system calls, and the argument guards that make the
//! unprivileged families safe to allow as a whole.

use crate::forksafe::{Got, Once};

use super::rule::{Action, ArgCondition, ArgOp, SyscallRule};

/// A named family of system calls, for building allowlists and denylists.
///
/// The first twelve groups ([`FileIo`](Self::FileIo) to
/// [`SelfConfinement`](Self::SelfConfinement)) are *unprivileged*: together
/// they make up [`Policy::default_profile`](super::Policy::default_profile),
/// and allowing one of them with
/// [`Policy::allow_group`](super::Policy::allow_group) also
/// installs the argument guards listed on its members, so that no
/// unprivileged group ever opens a known escape:
///
/// | system call   | guard                                                                                   |
/// |---------------|-----------------------------------------------------------------------------------------|
/// | `ioctl`       | `TIOCSTI` and `TIOCLINUX` answer `EPERM` (low 32 bits of the request, as the kernel compares) |
/// | `socket`      | `AF_VSOCK` answers `EPERM`                                                              |
/// | `clone`       | any `CLONE_NEW*` flag answers `EPERM`                                                   |
/// | `clone3`      | always answers `ENOSYS`: its flags live in memory a filter cannot read, and libcs fall back to `clone` on `ENOSYS` |
/// | `personality` | only `0` (`PER_LINUX`) and `0xffffffff` (query) are allowed; anything else answers `EPERM` |
/// | `ptrace`      | `PTRACE_ATTACH` and `PTRACE_SEIZE` answer `EPERM` (tracing a child that asked for it with `PTRACE_TRACEME` still works) |
///
/// The other groups are *privileged*: they hold the calls the default
/// profile denies. Allowing a privileged group allows its members without
/// guards (for example [`Namespaces`](Self::Namespaces) allows `clone` and
/// `clone3` with any flags).
///
/// Group members that do not exist on the running architecture (for example
/// `open` or `fork` on aarch64) are skipped. Some rarely used calls belong to
/// no group and are denied by the default profile; name them individually
/// to allow them (`file_getattr`, `file_setattr`, `uprobe`, obsolete calls
/// such as `uselib` or `_sysctl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum SyscallGroup {
    /// Operations on open file descriptors: read/write and their vectored
    /// and positioned forms, seeking, `fcntl`, `ioctl` (guarded), locking,
    /// syncing, `fallocate`/`ftruncate`, splicing and copying, pipes,
    /// `f*` metadata and extended-attribute calls, directory reading and
    /// POSIX AIO (`io_setup` and friends).
    FileIo,
    /// Path-based filesystem calls: opening and creating files, `stat` and
    /// `statx`, access checks, directories, renames, links, permissions and
    /// ownership, timestamps, `mknod`, extended attributes by path,
    /// `umask`, `name_to_handle_at`, and the read-only mount queries
    /// `statmount`/`listmount` (Linux 6.8).
    FileSystem,
    /// Waiting for and being notified of events: `poll`, `select`, `epoll`,
    /// `eventfd`, `inotify` and `fanotify_mark`.
    Events,
    /// Sockets: `socket` (guarded), `socketpair`, `bind`, `connect`,
    /// `listen`, `accept`, send/receive calls, socket options, `shutdown`.
    Networking,
    /// Address-space management: `brk`, `mmap` and friends, `madvise`,
    /// `mlock`, `memfd_create`, `memfd_secret`, protection keys,
    /// `map_shadow_stack` and `mseal`.
    Memory,
    /// What threads and their synchronisation need: `clone` (guarded) and
    /// `clone3` (`ENOSYS`), futexes, robust lists, `rseq`, TLS setup
    /// (`arch_prctl`), `gettid`, `sched_yield`, CPU affinity, `membarrier`.
    Threads,
    /// Process lifecycle and attributes: `execve`, `fork`/`vfork`, `clone`
    /// (guarded), `clone3` (`ENOSYS`), exit and wait, process ids and
    /// sessions, `prctl`, `personality` (guarded), `ptrace` (guarded),
    /// resource limits and usage, scheduling parameters, I/O priorities,
    /// `uname`, `sysinfo`, `getrandom`, pidfds.
    Process,
    /// Signal handling and delivery: `rt_sig*`, `sigaltstack`, `signalfd`,
    /// `kill`/`tkill`/`tgkill`, `pidfd_send_signal`, `pause`,
    /// `restart_syscall`.
    Signals,
    /// Clocks, sleeps and timers, including `timerfd` and the read-only uses
    /// of `adjtimex`/`clock_adjtime` (setting the clock needs
    /// `CAP_SYS_TIME`).
    Time,
    /// System V IPC (shared memory, semaphores, message queues) and POSIX
    /// message queues.
    Ipc,
    /// Reading and changing user and group ids, supplementary groups and
    /// capability sets (changes are checked by the kernel as usual).
    Credentials,
    /// Calls a process uses to restrict itself further: `seccomp` and
    /// Landlock (Linux 5.13).
    SelfConfinement,
    /// Privileged: creating and entering namespaces (`unshare`, `setns`,
    /// `listns`) and `clone`/`clone3` with any flags.
    Namespaces,
    /// Privileged: `mount`, `umount2`, `pivot_root`, `chroot` and the mount
    /// API of Linux 5.2 (`fsopen`, `fsconfig`, `fsmount`, `fspick`,
    /// `move_mount`, `open_tree`, `open_tree_attr`, `mount_setattr`).
    Mount,
    /// Privileged: the kernel keyring (`add_key`, `request_key`, `keyctl`);
    /// keyrings are not namespaced.
    Keyring,
    /// Privileged: loading code into the kernel (`init_module`,
    /// `finit_module`, `delete_module`, `kexec_load`, `kexec_file_load`).
    KernelModules,
    /// Privileged: inspecting or controlling other processes and the kernel
    /// (`ptrace` without guards, `process_vm_readv`/`writev`,
    /// `process_madvise`, `kcmp`, `pidfd_getfd`, `perf_event_open`, `bpf`).
    Tracing,
    /// Privileged: io_uring (Linux 5.1), whose operations bypass system-call
    /// filtering entirely.
    IoUring,
    /// Privileged: NUMA memory policy and page migration (`mbind`,
    /// `set_mempolicy`, `migrate_pages`, `move_pages`, ...).
    Numa,
    /// Privileged: system administration and rarely needed kernel attack
    /// surface: `reboot`, swap, host and domain names, setting clocks,
    /// `acct`, `syslog`, quotas, `iopl`/`ioperm`, `vhangup`,
    /// `fanotify_init`, `open_by_handle_at`, `userfaultfd`, `modify_ldt`,
    /// `lookup_dcookie`, the LSM attribute calls.
    SystemAdmin,
}

impl SyscallGroup {
    /// Every group, in declaration order.
    pub const ALL: &'static [SyscallGroup] = &[
        Self::FileIo,
        Self::FileSystem,
        Self::Events,
        Self::Networking,
        Self::Memory,
        Self::Threads,
        Self::Process,
        Self::Signals,
        Self::Time,
        Self::Ipc,
        Self::Credentials,
        Self::SelfConfinement,
        Self::Namespaces,
        Self::Mount,
        Self::Keyring,
        Self::KernelModules,
        Self::Tracing,
        Self::IoUring,
        Self::Numa,
        Self::SystemAdmin,
    ];

    /// The unprivileged groups, which the default profile allows.
    pub const UNPRIVILEGED: &'static [SyscallGroup] = &[
        Self::FileIo,
        Self::FileSystem,
        Self::Events,
        Self::Networking,
        Self::Memory,
        Self::Threads,
        Self::Process,
        Self::Signals,
        Self::Time,
        Self::Ipc,
        Self::Credentials,
        Self::SelfConfinement,
    ];

    /// Whether the group is privileged (not part of the default profile,
    /// members allowed without argument guards).
    pub fn is_privileged(self) -> bool {
        !Self::UNPRIVILEGED.contains(&self)
    }

    /// The names of the system calls in this group, across all supported
    /// architectures (names absent from the running architecture are
    /// ignored when the group is used).
    pub fn syscalls(self) -> &'static [&'static str] {
        match self {
            Self::FileIo => &[
                "read",
                "write",
                "readv",
                "writev",
                "pread64",
                "pwrite64",
                "preadv",
                "pwritev",
                "preadv2",
                "pwritev2",
                "lseek",
                "close",
                "close_range",
                "dup",
                "dup2",
                "dup3",
                "fcntl",
                "ioctl",
                "flock",
                "fsync",
                "fdatasync",
                "sync",
                "syncfs",
                "sync_file_range",
                "fallocate",
                "ftruncate",
                "fadvise64",
                "readahead",
                "sendfile",
                "splice",
                "tee",
                "vmsplice",
                "copy_file_range",
                "pipe",
                "pipe2",
                "cachestat",
                "fstat",
                "fstatfs",
                "fchmod",
                "fchown",
                "fchdir",
                "getdents",
                "getdents64",
                "fgetxattr",
                "fsetxattr",
                "flistxattr",
                "fremovexattr",
                "io_setup",
                "io_destroy",
                "io_submit",
                "io_cancel",
                "io_getevents",
                "io_pgetevents",
            ],
            Self::FileSystem => &[
                "open",
                "openat",
                "openat2",
                "creat",
                "stat",
                "lstat",
                "newfstatat",
                "statx",
                "statfs",
                "access",
                "faccessat",
                "faccessat2",
                "getcwd",
                "chdir",
                "mkdir",
                "mkdirat",
                "rmdir",
                "rename",
                "renameat",
                "renameat2",
                "link",
                "linkat",
                "unlink",
                "unlinkat",
                "symlink",
                "symlinkat",
                "readlink",
                "readlinkat",
                "chmod",
                "fchmodat",
                "fchmodat2",
                "chown",
                "lchown",
                "fchownat",
                "umask",
                "utime",
                "utimes",
                "utimensat",
                "futimesat",
                "mknod",
                "mknodat",
                "truncate",
                "setxattr",
                "lsetxattr",
                "getxattr",
                "lgetxattr",
                "listxattr",
                "llistxattr",
                "removexattr",
                "lremovexattr",
                "setxattrat",
                "getxattrat",
                "listxattrat",
                "removexattrat",
                "name_to_handle_at",
                "statmount",
                "listmount",
            ],
            Self::Events => &[
                "poll",
                "ppoll",
                "select",
                "pselect6",
                "epoll_create",
                "epoll_create1",
                "epoll_ctl",
                "epoll_wait",
                "epoll_pwait",
                "epoll_pwait2",
                "epoll_ctl_old",
                "epoll_wait_old",
                "eventfd",
                "eventfd2",
                "inotify_init",
                "inotify_init1",
                "inotify_add_watch",
                "inotify_rm_watch",
                "fanotify_mark",
            ],
            Self::Networking => &[
                "socket",
                "socketpair",
                "bind",
                "connect",
                "listen",
                "accept",
                "accept4",
                "getsockname",
                "getpeername",
                "sendto",
                "recvfrom",
                "sendmsg",
                "recvmsg",
                "sendmmsg",
                "recvmmsg",
                "shutdown",
                "setsockopt",
                "getsockopt",
            ],
            Self::Memory => &[
                "brk",
                "mmap",
                "munmap",
                "mprotect",
                "mremap",
                "madvise",
                "msync",
                "mincore",
                "mlock",
                "mlock2",
                "munlock",
                "mlockall",
                "munlockall",
                "memfd_create",
                "memfd_secret",
                "pkey_mprotect",
                "pkey_alloc",
                "pkey_free",
                "remap_file_pages",
                "map_shadow_stack",
                "mseal",
            ],
            Self::Threads => &[
                "clone",
                "clone3",
                "exit",
                "futex",
                "futex_waitv",
                "futex_wake",
                "futex_wait",
                "futex_requeue",
                "set_robust_list",
                "get_robust_list",
                "set_tid_address",
                "gettid",
                "rseq",
                "arch_prctl",
                "set_thread_area",
                "get_thread_area",
                "sched_yield",
                "sched_getaffinity",
                "sched_setaffinity",
                "getcpu",
                "membarrier",
            ],
            Self::Process => &[
                "execve",
                "execveat",
                "fork",
                "vfork",
                "clone",
                "clone3",
                "exit",
                "exit_group",
                "wait4",
                "waitid",
                "getpid",
                "getppid",
                "getpgid",
                "getpgrp",
                "setpgid",
                "getsid",
                "setsid",
                "prctl",
                "personality",
                "ptrace",
                "getrlimit",
                "setrlimit",
                "prlimit64",
                "getrusage",
                "times",
                "getpriority",
                "setpriority",
                "sched_getparam",
                "sched_setparam",
                "sched_getscheduler",
                "sched_setscheduler",
                "sched_get_priority_max",
                "sched_get_priority_min",
                "sched_rr_get_interval",
                "sched_getattr",
                "sched_setattr",
                "ioprio_get",
                "ioprio_set",
                "uname",
                "sysinfo",
                "getrandom",
                "pidfd_open",
                "process_mrelease",
                "uretprobe",
            ],
            Self::Signals => &[
                "rt_sigaction",
                "rt_sigprocmask",
                "rt_sigreturn",
                "rt_sigpending",
                "rt_sigtimedwait",
                "rt_sigqueueinfo",
                "rt_tgsigqueueinfo",
                "rt_sigsuspend",
                "sigaltstack",
                "signalfd",
                "signalfd4",
                "kill",
                "tkill",
                "tgkill",
                "pidfd_send_signal",
                "pause",
                "restart_syscall",
            ],
            Self::Time => &[
                "clock_gettime",
                "clock_getres",
                "clock_nanosleep",
                "nanosleep",
                "gettimeofday",
                "time",
                "alarm",
                "getitimer",
                "setitimer",
                "timer_create",
                "timer_settime",
                "timer_gettime",
                "timer_getoverrun",
                "timer_delete",
                "timerfd_create",
                "timerfd_settime",
                "timerfd_gettime",
                "adjtimex",
                "clock_adjtime",
            ],
            Self::Ipc => &[
                "shmget",
                "shmat",
                "shmdt",
                "shmctl",
                "semget",
                "semop",
                "semtimedop",
                "semctl",
                "msgget",
                "msgsnd",
                "msgrcv",
                "msgctl",
                "mq_open",
                "mq_unlink",
                "mq_timedsend",
                "mq_timedreceive",
                "mq_notify",
                "mq_getsetattr",
            ],
            Self::Credentials => &[
                "getuid",
                "geteuid",
                "getgid",
                "getegid",
                "getgroups",
                "getresuid",
                "getresgid",
                "setuid",
                "setgid",
                "setreuid",
                "setregid",
                "setresuid",
                "setresgid",
                "setfsuid",
                "setfsgid",
                "setgroups",
                "capget",
                "capset",
            ],
            Self::SelfConfinement => &[
                "seccomp",
                "landlock_create_ruleset",
                "landlock_add_rule",
                "landlock_restrict_self",
            ],
            Self::Namespaces => &["unshare", "setns", "listns", "clone", "clone3"],
            Self::Mount => &[
                "mount",
                "umount2",
                "pivot_root",
                "chroot",
                "fsopen",
                "fsconfig",
                "fsmount",
                "fspick",
                "move_mount",
                "open_tree",
                "open_tree_attr",
                "mount_setattr",
            ],
            Self::Keyring => &["add_key", "request_key", "keyctl"],
            Self::KernelModules => &[
                "init_module",
                "finit_module",
                "delete_module",
                "kexec_load",
                "kexec_file_load",
            ],
            Self::Tracing => &[
                "ptrace",
                "process_vm_readv",
                "process_vm_writev",
                "process_madvise",
                "kcmp",
                "pidfd_getfd",
                "perf_event_open",
                "bpf",
            ],
            Self::IoUring => &["io_uring_setup", "io_uring_enter", "io_uring_register"],
            Self::Numa => &[
                "mbind",
                "set_mempolicy",
                "get_mempolicy",
                "set_mempolicy_home_node",
                "migrate_pages",
                "move_pages",
            ],
            Self::SystemAdmin => &[
                "reboot",
                "swapon",
                "swapoff",
                "sethostname",
                "setdomainname",
                "settimeofday",
                "clock_settime",
                "acct",
                "syslog",
                "quotactl",
                "quotactl_fd",
                "iopl",
                "ioperm",
                "vhangup",
                "fanotify_init",
                "open_by_handle_at",
                "userfaultfd",
                "modify_ldt",
                "lookup_dcookie",
                "nfsservctl",
                "lsm_get_self_attr",
                "lsm_set_self_attr",
                "lsm_list_modules",
            ],
        }
    }
}

/// `TIOCSTI`: push a byte into a terminal's input queue (CVE-2017-5226).
pub(super) const TIOCSTI: u32 = 0x5412;
/// `TIOCLINUX`: Linux console operations, including selection paste.
pub(super) const TIOCLINUX: u32 = 0x541c;
/// `AF_VSOCK`: sockets to the hypervisor and other VMs.
pub(super) const AF_VSOCK: u32 = 40;
/// `PTRACE_ATTACH`.
pub(super) const PTRACE_ATTACH: u64 = 16;
/// `PTRACE_SEIZE` (Linux 3.4).
pub(super) const PTRACE_SEIZE: u64 = 0x4206;
/// Every `CLONE_NEW*` flag `clone` accepts: `CLONE_NEWNS`, `CLONE_NEWCGROUP`,
/// `CLONE_NEWUTS`, `CLONE_NEWIPC`, `CLONE_NEWUSER`, `CLONE_NEWPID`,
/// `CLONE_NEWNET`. (`CLONE_NEWTIME` shares its bit with the exit-signal byte
/// of `clone` and can only be requested through `clone3` or `unshare`.)
pub(super) const CLONE_NEW_MASK: u32 =
    0x0002_0000 | 0x0200_0000 | 0x0400_0000 | 0x0800_0000 | 0x1000_0000 | 0x2000_0000 | 0x4000_0000;
/// `personality(0xffffffff)` queries the current persona without changing it.
pub(super) const PERSONALITY_QUERY: u32 = 0xffff_ffff;

/// The rules unprivileged groups install for the system calls they guard.
#[derive(Debug)]
pub(super) struct Guards(Vec<(&'static str, Vec<SyscallRule>)>);

impl Guards {
    /// The rules an unprivileged group installs for `name`, in policy order
    /// (the last matching rule wins), or `None` when the call is allowed
    /// outright.
    pub(super) fn get(&self, name: &str) -> Option<&[SyscallRule]> {
        self.0
            .iter()
            .find(|(guarded, _)| *guarded == name)
            .map(|(_, rules)| rules.as_slice())
    }
}

/// Every guard, built once (a thread that finds another building them, or
/// a process forked meanwhile, builds its own rather than wait).
pub(super) fn guards() -> Got<'static, Guards> {
    static GUARDS: Once<Guards> = Once::new();
    GUARDS.get_or_init(|| {
        Guards(
            [
                "ioctl",
                "socket",
                "clone",
                "clone3",
                "personality",
                "ptrace",
            ]
            .into_iter()
            .filter_map(|name| build_guard(name).map(|rules| (name, rules)))
            .collect(),
        )
    })
}

fn build_guard(name: &str) -> Option<Vec<SyscallRule>> {
    let eperm = Action::Errno(libc::EPERM as u16);
    let allow = Action::Allow;
    let rules = match name {
        "ioctl" => vec![
            SyscallRule::new(name, allow),
            SyscallRule::new(name, eperm).when(ArgCondition::new32(1, ArgOp::Eq, TIOCSTI)),
            SyscallRule::new(name, eperm).when(ArgCondition::new32(1, ArgOp::Eq, TIOCLINUX)),
        ],
        "socket" => vec![
            SyscallRule::new(name, allow),
            SyscallRule::new(name, eperm).when(ArgCondition::new32(0, ArgOp::Eq, AF_VSOCK)),
        ],
        "clone" => vec![
            SyscallRule::new(name, eperm),
            SyscallRule::new(name, allow).when(ArgCondition::new32(
                0,
                ArgOp::MaskedEq(u64::from(CLONE_NEW_MASK)),
                0,
            )),
        ],
        "clone3" => vec![SyscallRule::new(name, Action::Errno(libc::ENOSYS as u16))],
        "personality" => vec![
            SyscallRule::new(name, eperm),
            SyscallRule::new(name, allow).when(ArgCondition::new32(0, ArgOp::Eq, 0)),
            SyscallRule::new(name, allow).when(ArgCondition::new32(
                0,
                ArgOp::Eq,
                PERSONALITY_QUERY,
            )),
        ],
        "ptrace" => vec![
            SyscallRule::new(name, allow),
            SyscallRule::new(name, eperm).when(ArgCondition::new(0, ArgOp::Eq, PTRACE_ATTACH)),
            SyscallRule::new(name, eperm).when(ArgCondition::new(0, ArgOp::Eq, PTRACE_SEIZE)),
        ],
        _ => return None,
    };
    Some(rules)
}
