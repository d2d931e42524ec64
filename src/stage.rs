//! The steps of a sandbox's setup between clone and exec.
//!
//! Ground-floor vocabulary: the child zone tags a failure with its [`Stage`]
//! (as a number in the fixed-size failure record), and the parent turns the
//! number back into the enum to name the step in its typed error.

use std::fmt;

macro_rules! stages {
    ($($(#[$m:meta])* $name:ident = $n:literal => $text:literal,)*) => {
        /// A step of the sandbox setup between clone and exec, in order.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        #[non_exhaustive]
        #[repr(u32)]
        pub enum Stage {
            $($(#[$m])* $name = $n,)*
        }

        impl Stage {
            pub(crate) fn from_u32(v: u32) -> Option<Stage> {
                match v {
                    $($n => Some(Stage::$name),)*
                    _ => None,
                }
            }
        }

        impl fmt::Display for Stage {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(match self {
                    $(Stage::$name => $text,)*
                })
            }
        }
    };
}

stages! {
    /// Writing `deny` to `/proc/self/setgroups`.
    SetGroups = 1 => "writing /proc/self/setgroups",
    /// Writing the uid map.
    UidMap = 2 => "writing the uid map",
    /// Writing the gid map.
    GidMap = 3 => "writing the gid map",
    /// `setsid(2)`.
    Setsid = 4 => "creating a new session",
    /// `sethostname(2)`.
    Hostname = 5 => "setting the hostname",
    /// Making the inherited mounts private.
    MountPropagation = 6 => "making mounts private",
    /// Creating the new root filesystem.
    RootMount = 7 => "creating the root filesystem",
    /// An operation of the filesystem plan.
    MountOp = 8 => "building the filesystem",
    /// `pivot_root(2)` into the new root and detaching the old one.
    PivotRoot = 9 => "switching to the new root",
    /// Becoming a child subreaper.
    Subreaper = 10 => "becoming a subreaper",
    /// Cloning the program process.
    CloneProgram = 11 => "creating the program process",
    /// Setting the parent-death signal.
    DeathSignal = 12 => "setting the parent-death signal",
    /// Moving into the sandbox cgroup.
    Cgroup = 13 => "joining the sandbox cgroup",
    /// Creating the cgroup namespace.
    CgroupNamespace = 14 => "creating the cgroup namespace",
    /// Switching uid/gid (no user namespace).
    SetIds = 15 => "switching user and group ids",
    /// Entering the working directory.
    Chdir = 16 => "entering the working directory",
    /// Arranging file descriptors.
    Fds = 17 => "arranging file descriptors",
    /// Resetting signal dispositions and the mask.
    Signals = 18 => "resetting signals",
    /// Setting a resource limit.
    Rlimit = 19 => "setting a resource limit",
    /// Dropping capabilities.
    Capabilities = 20 => "dropping capabilities",
    /// Setting no_new_privs.
    NoNewPrivs = 21 => "setting no_new_privs",
    /// Applying the Landlock ruleset.
    Landlock = 22 => "applying the Landlock ruleset",
    /// Installing the seccomp filter.
    Seccomp = 23 => "installing the seccomp filter",
    /// `execve(2)`.
    Exec = 24 => "executing the program",
    /// Creating the time namespace.
    TimeNamespace = 25 => "creating the time namespace",
    /// A container's supervisor receiving an exec request.
    ExecRequest = 26 => "handing the program to the container",
    /// Making the program process's memory unreadable to the container's
    /// other processes (`PR_SET_DUMPABLE`).
    Dumpable = 27 => "making the program process undumpable",
    /// Bringing the network namespace's loopback interface up.
    Loopback = 28 => "bringing the loopback interface up",
    /// Giving the program its terminal: opening a pseudo-terminal of the
    /// sandbox's `/dev/pts`, making it the controlling terminal and the
    /// standard streams, and handing the master to the caller; or making
    /// the caller's terminal on standard input the controlling terminal
    /// ([`Command::controlling_terminal`](crate::Command::controlling_terminal)).
    Terminal = 29 => "setting up the program's terminal",
    /// Mounting the sandbox's cgroup at `/sys/fs/cgroup`
    /// ([`Sandbox::mount_cgroup`](crate::Sandbox::mount_cgroup)).
    CgroupMount = 30 => "mounting the sandbox's cgroup at /sys/fs/cgroup",
    /// Opening, in the sandbox's network namespace, a socket of its network
    /// policy (the egress proxy's listeners, see
    /// [`Sandbox::egress`](crate::Sandbox::egress)) and handing it to the
    /// caller.
    NetSocket = 31 => "opening the network policy's sockets in the sandbox",
    /// Adding the sandbox resolver's address to the loopback interface.
    ResolverAddress = 32 => "adding the resolver's address to the loopback interface",
}
