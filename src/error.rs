//! Error types.
//!
//! Errors keep the stage at which setup failed and the item (path, fd,
//! hostname...) it failed on, taken from the parent's own plan, so a failure is
//! never reported as a bare errno or confused with the program's exit code.

use std::ffi::OsString;
use std::fmt;
use std::io;
use std::path::PathBuf;

pub use crate::rlimit::ParseRlimitError;
pub use crate::stage::Stage;

/// Result type of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Everything that can go wrong while spawning a sandboxed process.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The sandbox or command configuration is invalid. Raised before any
    /// process is created.
    #[error(transparent)]
    Config(#[from] ConfigError),

    /// The running kernel or host lacks a feature the policy requires.
    #[error(transparent)]
    Unsupported(#[from] Unsupported),

    /// The program was not found (in the sandbox's view of the filesystem).
    #[error("program not found: {program:?} (searched {searched})")]
    ProgramNotFound {
        /// The program as given to [`Command::new`](crate::Command::new).
        program: OsString,
        /// Where it was searched: the `PATH` used, or the literal path.
        searched: SearchPath,
    },

    /// The program exists but cannot be executed (no execute permission,
    /// not a recognised executable format, ...).
    #[error("program is not executable: {path:?}")]
    NotExecutable {
        /// Path of the program inside the sandbox.
        path: PathBuf,
        /// The kernel's reason (`EACCES`, `ENOEXEC`, ...).
        #[source]
        source: io::Error,
    },

    /// The program path names a directory.
    #[error("program is a directory: {path:?}")]
    IsADirectory {
        /// Path inside the sandbox.
        path: PathBuf,
    },

    /// The program is a script whose `#!` interpreter does not exist in the
    /// sandbox.
    #[error("interpreter {interpreter:?} of script {script:?} not found")]
    InterpreterNotFound {
        /// The script's path inside the sandbox.
        script: PathBuf,
        /// The interpreter named on the script's `#!` line.
        interpreter: PathBuf,
    },

    /// The program's arguments and environment exceed a limit `execve`
    /// puts on them. Checked before the sandbox is created, and reported the
    /// same way if `execve` refuses them (`E2BIG`) all the same.
    #[error("failed to execute the program: {limit}")]
    ArgumentsTooLarge {
        /// Which limit, and what exceeds it.
        limit: ArgLimit,
    },

    /// The working directory does not exist in the sandbox or cannot be
    /// entered.
    #[error("failed to enter working directory {path:?}")]
    WorkingDirectory {
        /// The working directory, as seen inside the sandbox.
        path: PathBuf,
        /// The kernel's reason.
        #[source]
        source: io::Error,
    },

    /// The kernel refused to mount a fresh `/proc` for the sandbox's pid
    /// namespace: where the caller's own `/proc` is only partly visible
    /// (paths a container runtime masks or makes read-only by mounting over
    /// them), the kernel refuses a new instance to a user namespace.
    #[error(
        "failed to mount a fresh /proc for the sandbox's pid namespace: {cause}; run without a pid \
         namespace (the caller's /proc, read-only){LADDER}"
    )]
    ProcMountDenied {
        /// What hides part of the caller's `/proc`, from
        /// `/proc/self/mountinfo`.
        cause: ProcBlocker,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },

    /// [`Isolation::BestAvailable`](crate::isolation::Isolation::BestAvailable)
    /// found no rung of the isolation ladder that this host allows and the
    /// policy can be expressed on; each rung tried, and why it did not hold.
    #[error(
        "failed to find any isolation this host allows: {}",
        refused.iter().map(ToString::to_string).collect::<Vec<_>>().join("; ")
    )]
    NoIsolation {
        /// Each rung tried, strongest first, with its error.
        refused: Vec<crate::isolation::Refusal>,
    },

    /// The kernel refused to create a user namespace for an unprivileged
    /// caller. The message explains the likely cause on this host.
    #[error("failed to create a user namespace: {cause}{LADDER}")]
    UserNamespaceDenied {
        /// What is most likely blocking user namespaces here.
        cause: UsernsBlocker,
        /// The kernel's answer.
        #[source]
        source: io::Error,
    },

    /// The sandbox's Landlock policy has an invalid rule or cannot mirror
    /// the filesystem plan, needs a feature the running kernel lacks (a
    /// hard requirement), or Landlock is unavailable.
    #[cfg(feature = "landlock")]
    #[error(transparent)]
    Landlock(#[from] crate::landlock::Error),

    /// A step between clone and exec failed.
    #[error(transparent)]
    Setup(#[from] SetupError),

    /// The sandbox's uid or gid ranges cannot be mapped: invalid ranges,
    /// no subordinate ids for the caller, or the setuid helper missing or
    /// refusing (see [`crate::ids`]).
    #[error(transparent)]
    Ids(#[from] crate::ids::Error),

    /// Creating, limiting or placing the sandbox's cgroup failed (a missing
    /// controller is [`Error::Unsupported`] instead).
    #[error(transparent)]
    Cgroup(crate::cgroup::Error),

    /// The sandbox's supervisor ended during setup without a report (it was
    /// killed from outside, or crashed).
    #[error(
        "failed to set up the sandbox: its supervisor was killed from outside or crashed before \
         it reported{}",
        InParens(status)
    )]
    SupervisorVanished {
        /// Its wait status, when it could be reaped.
        status: Option<crate::ExitStatus>,
    },

    /// The container has ended: it was stopped or killed, its supervisor
    /// was killed from outside or crashed, or it ended while this program
    /// was being handed to it.
    #[error("the container has ended (stopped, killed, or its supervisor died)")]
    ContainerEnded,

    /// The sandbox's setup report is not one this version of the crate
    /// writes (a bug in this crate).
    #[error("failed to read the sandbox's setup report: {problem}")]
    BadReport {
        /// What is wrong with it.
        problem: ReportProblem,
    },

    /// A parent-side operation failed (creating pipes, cloning, ...).
    #[error("failed to {op}")]
    Io {
        /// What the parent was doing.
        op: ParentOp,
        /// The error.
        #[source]
        source: io::Error,
    },

    /// An I/O error brought into this type by `?` (`From<io::Error>`): from
    /// [`Child::wait`](crate::Child::wait), [`Child::kill`](crate::Child::kill)
    /// or the child's stdio handles, which return [`std::io::Result`] as
    /// std's do, or from the caller's own I/O. Which operation failed is
    /// known only to the caller, so the error is passed through unchanged;
    /// the crate's own failures never take this form (they name their
    /// operation, as [`Error::Io`] does).
    #[error(transparent)]
    Other(#[from] io::Error),
}

impl Error {
    /// The [`io::ErrorKind`] that fits this error best: that of the kernel's
    /// answer behind it when there is one, otherwise one that says what kind
    /// of failure it is.
    fn io_kind(&self) -> io::ErrorKind {
        match self {
            Error::Other(e) => e.kind(),
            Error::Config(_) => io::ErrorKind::InvalidInput,
            Error::Unsupported(_) => io::ErrorKind::Unsupported,
            Error::ProgramNotFound { .. } | Error::InterpreterNotFound { .. } => {
                io::ErrorKind::NotFound
            }
            Error::IsADirectory { .. } => io::ErrorKind::IsADirectory,
            Error::ArgumentsTooLarge { .. } => io::ErrorKind::ArgumentListTooLong,
            Error::UserNamespaceDenied { .. } => io::ErrorKind::PermissionDenied,
            Error::BadReport { .. } => io::ErrorKind::InvalidData,
            Error::ContainerEnded => io::ErrorKind::NotConnected,
            _ => {
                let mut cause = std::error::Error::source(self);
                while let Some(c) = cause {
                    if let Some(e) = c.downcast_ref::<io::Error>() {
                        return e.kind();
                    }
                    cause = c.source();
                }
                io::ErrorKind::Other
            }
        }
    }
}

impl From<Error> for io::Error {
    /// Keeps the whole error (its message, and its cause as `source()`)
    /// inside an [`io::Error`] whose kind fits it, so sandbox failures can
    /// travel through `std::io::Result` code; [`Error::Other`] gives back
    /// the `io::Error` it holds.
    fn from(e: Error) -> io::Error {
        match e {
            Error::Other(inner) => inner,
            e => io::Error::new(e.io_kind(), e),
        }
    }
}

/// Where a program was searched for.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum SearchPath {
    /// The program contained a `/` and was executed as given.
    Literal,
    /// The program was searched in these directories, in order.
    Path(OsString),
}

impl fmt::Display for SearchPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SearchPath::Literal => f.write_str("the literal path"),
            SearchPath::Path(p) => write!(f, "PATH={}", p.to_string_lossy()),
        }
    }
}

/// A limit of `execve` on the program's arguments and environment, for
/// [`Error::ArgumentsTooLarge`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ArgLimit {
    /// One argument, or one environment entry (`NAME=value`), is longer
    /// than the kernel copies: `MAX_ARG_STRLEN`, 32 pages (128 KiB with
    /// 4 KiB pages), its terminating NUL included.
    String {
        /// Which one.
        field: Field,
        /// Its length in bytes, with the NUL (for an environment variable,
        /// of `NAME=value`).
        len: usize,
        /// The most the kernel takes, with the NUL.
        max: usize,
    },
    /// All of them together: the strings with their NULs and the path
    /// executed, plus a pointer to each, take more than the room `execve`
    /// gives them: a quarter of the soft `RLIMIT_STACK` the program runs
    /// with, at most 6 MiB (three quarters of the kernel's 8 MiB default
    /// stack) and at least 128 KiB.
    Total {
        /// What they take, in bytes, as this crate counts it (a script's
        /// `#!` line adds its interpreter and the script's path to it).
        size: usize,
        /// The room `execve` gives them here, in bytes.
        max: usize,
    },
}

impl fmt::Display for ArgLimit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ArgLimit::String { field, len, max } => write!(
                f,
                "{field} is {len} bytes long with its NUL, more than the {max} bytes execve takes \
                 for one argument or environment entry (MAX_ARG_STRLEN); pass it in a file or \
                 through a pipe instead"
            ),
            ArgLimit::Total { size, max } if size > max => write!(
                f,
                "its arguments and environment take {size} bytes with their pointers, more than \
                 the {max} bytes execve gives them (a quarter of the program's RLIMIT_STACK soft \
                 limit, at most 6 MiB, at least 128 KiB); raise the stack limit or pass less"
            ),
            ArgLimit::Total { size, max } => write!(
                f,
                "execve found its arguments and environment larger than the {max} bytes it gives \
                 them (a quarter of the program's RLIMIT_STACK soft limit, at most 6 MiB, at least \
                 128 KiB): they take {size} bytes with their pointers, and a script's #! line adds \
                 its interpreter and the script's path; raise the stack limit or pass less"
            ),
        }
    }
}

/// What is wrong with a setup report, for [`Error::BadReport`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ReportProblem {
    /// The failure record names a setup step by a number this version does
    /// not know.
    UnknownStage(u32),
}

impl fmt::Display for ReportProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ReportProblem::UnknownStage(n) => write!(
                f,
                "it names setup step {n}, which this version does not know (a bug in this crate)"
            ),
        }
    }
}

/// Shows `" (x)"` for `Some(x)` and nothing for `None`.
struct InParens<'a, T>(&'a Option<T>);

impl<T: fmt::Display> fmt::Display for InParens<'_, T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            Some(x) => write!(f, " ({x})"),
            None => Ok(()),
        }
    }
}

/// A parent-side operation, for [`Error::Io`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ParentOp {
    /// Creating the report channel.
    CreateReportChannel,
    /// Creating a stdio pipe.
    CreatePipe,
    /// Opening `/dev/null` for [`Stdio::null`](crate::Stdio::null).
    OpenDevNull,
    /// Duplicating a file descriptor.
    DuplicateFd,
    /// Mapping the child stacks.
    MapStack,
    /// Cloning the supervisor process.
    Clone,
    /// Reading the child's setup report.
    ReadReport,
    /// Waiting for the sandbox or reading its output.
    Wait,
    /// Creating the lifeline pipe used for die-with-parent.
    CreateLifeline,
    /// Making, for a root caller, the idmapped mounts of the host's system
    /// directories (Linux 5.12), on which every file belongs to `nobody`.
    IdmapSystemView,
    /// Handing a program to a running container's supervisor.
    SendToContainer,
    /// Mapping the memory a container shares with the processes that set
    /// up its programs.
    MapSharedState,
    /// Telling the sandbox's first process that the caller has written its
    /// id maps (ranges, see [`crate::ids`]).
    IdMaps,
    /// Starting the egress proxy of a filtered network or published ports
    /// (receiving the sockets the sandbox opened, starting its thread).
    StartEgressProxy,
    /// Starting to observe the seccomp filter's refusals (the observer's
    /// thread, or watching a program's listener).
    ObserveDenials,
    /// Binding the host address of a published port
    /// ([`Sandbox::publish`](crate::Sandbox::publish)).
    Publish(std::net::SocketAddr),
}

impl fmt::Display for ParentOp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let ParentOp::Publish(addr) = self {
            return write!(f, "listen on {addr} for the published port");
        }
        f.write_str(match self {
            ParentOp::Publish(_) => "listen for a published port",
            ParentOp::StartEgressProxy => "start the network policy's proxy",
            ParentOp::ObserveDenials => "observe the seccomp filter's refusals",
            ParentOp::CreateReportChannel => "create the setup report channel",
            ParentOp::CreatePipe => "create a stdio pipe",
            ParentOp::OpenDevNull => "open /dev/null",
            ParentOp::DuplicateFd => "duplicate a file descriptor",
            ParentOp::MapStack => "map the child stacks",
            ParentOp::Clone => "clone the sandbox process",
            ParentOp::ReadReport => "read the sandbox's setup report",
            ParentOp::Wait => "wait for the sandbox",
            ParentOp::CreateLifeline => "create the lifeline pipe",
            ParentOp::SendToContainer => "hand the program to the container",
            ParentOp::IdMaps => "hand the sandbox its id maps",
            ParentOp::MapSharedState => "map the container's shared state",
            ParentOp::IdmapSystemView => {
                "make the idmapped mounts of the host's system directories"
            }
        })
    }
}

/// What keeps the kernel from creating a user namespace here, from the
/// evidence this process can see: its errno, the sysctls, the seccomp
/// state and a probe of its own filter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UsernsBlocker {
    /// `kernel.apparmor_restrict_unprivileged_userns = 1` (Ubuntu 23.10+).
    AppArmor,
    /// `user.max_user_namespaces = 0` (ENOSPC).
    MaxUserNamespacesZero,
    /// ENOSPC under a non-zero `user.max_user_namespaces` (`limit`): the
    /// user namespaces this user may have are all in use, or this process
    /// is already nested 32 deep (Linux 4.9+ answers both so).
    UserNamespacesExhausted {
        /// `user.max_user_namespaces` as this process sees it.
        limit: u64,
    },
    /// User namespaces nest at most 32 deep (EUSERS, Linux before 4.9).
    NestingTooDeep,
    /// `kernel.unprivileged_userns_clone = 0` (older Debian kernels).
    UnprivilegedUsernsCloneDisabled,
    /// A seccomp filter on this process refuses namespace creation: its
    /// `/proc/self/status` shows `filters` filters, and `unshare(0)`, which
    /// the kernel always allows, was refused (a container runtime's default
    /// profile: Docker's, containerd's, a Kubernetes pod's `RuntimeDefault`).
    CallerSeccomp {
        /// `Seccomp_filters` in `/proc/self/status` (0 where the kernel
        /// does not say).
        filters: u32,
    },
    /// SELinux is enforcing and may deny `userns_create` (its audit log
    /// says).
    SeLinux,
    /// Nothing recognisable; possibly an LSM policy.
    Unknown,
}

impl fmt::Display for UsernsBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            UsernsBlocker::AppArmor => f.write_str(
                "AppArmor restricts unprivileged user namespaces \
                 (kernel.apparmor_restrict_unprivileged_userns=1); allow them for this program with \
                 an AppArmor profile granting `userns,` or, system-wide, \
                 `sysctl kernel.apparmor_restrict_unprivileged_userns=0`",
            ),
            UsernsBlocker::MaxUserNamespacesZero => f.write_str(
                "user namespaces are disabled (user.max_user_namespaces=0); \
                 raise it with `sysctl user.max_user_namespaces=15000`",
            ),
            UsernsBlocker::UserNamespacesExhausted { limit } => write!(
                f,
                "the kernel has no room for another (ENOSPC): either this user already has as \
                 many user namespaces as user.max_user_namespaces ({limit}) allows (raise it with \
                 `sysctl user.max_user_namespaces=N` in the user namespace that sets the limit, or \
                 end sandboxes no longer needed), or this process is already 32 user namespaces \
                 deep, the most the kernel nests"
            ),
            UsernsBlocker::NestingTooDeep => f.write_str(
                "user namespaces nest at most 32 deep, and this process is already that deep",
            ),
            UsernsBlocker::UnprivilegedUsernsCloneDisabled => f.write_str(
                "unprivileged user namespaces are disabled \
                 (kernel.unprivileged_userns_clone=0); enable with \
                 `sysctl kernel.unprivileged_userns_clone=1`",
            ),
            UsernsBlocker::CallerSeccomp { filters } => write!(
                f,
                "a seccomp filter on this process refuses namespace creation ({filters} \
                 filter(s) in /proc/self/status, and it refuses even unshare(0)), as a container \
                 runtime's default profile does (Docker's, a Kubernetes pod's RuntimeDefault); run \
                 the container with a profile that allows clone, clone3 and unshare of user \
                 namespaces (docs/kubernetes.md)"
            ),
            UsernsBlocker::SeLinux => f.write_str(
                "SELinux is enforcing and may deny it (look for a `userns_create` denial in the \
                 audit log)",
            ),
            UsernsBlocker::Unknown => f.write_str(
                "the kernel refused (no sysctl, seccomp filter or LSM setting this process can \
                 see explains it)",
            ),
        }
    }
}

/// The way out that errors about what the host refuses end with.
pub(crate) const LADDER: &str = "; or let the sandbox step down to what this host allows: \
     Sandbox::isolation(Isolation::BestAvailable)";

/// What keeps the kernel from mounting a fresh `/proc` for a sandbox.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ProcBlocker {
    /// Mounts over parts of the caller's `/proc` (the paths a container
    /// runtime masks: `/proc/kcore`, `/proc/keys`, ...; the first few
    /// listed).
    Overmounted(Vec<PathBuf>),
    /// Nothing visible in `/proc/self/mountinfo` (an LSM policy may refuse
    /// it).
    Unknown,
}

impl fmt::Display for ProcBlocker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProcBlocker::Overmounted(paths) => {
                let list: Vec<String> = paths.iter().map(|p| p.display().to_string()).collect();
                write!(
                    f,
                    "the caller's /proc is only partly visible (mounted over: {}; a container \
                     runtime's masked paths), and the kernel then refuses a new /proc to a user \
                     namespace",
                    list.join(", ")
                )
            }
            ProcBlocker::Unknown => f.write_str(
                "the kernel refused it (an LSM policy may be blocking it; /proc/self/mountinfo \
                 shows nothing mounted over /proc)",
            ),
        }
    }
}

/// An invalid sandbox or command configuration, detected before clone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// A string that must become a C string contains a NUL byte.
    #[error("{field} contains a NUL byte")]
    NulByte {
        /// Which input.
        field: Field,
    },
    /// An environment variable name that `execve` cannot pass (one with a
    /// NUL byte is [`ConfigError::NulByte`]).
    #[error("invalid environment variable name {name:?}: {problem}")]
    EnvName {
        /// The name given.
        name: OsString,
        /// What is wrong with it.
        problem: EnvNameProblem,
    },
    /// The hostname is empty, longer than 64 bytes, or set without a UTS
    /// namespace.
    #[error("invalid hostname {hostname:?}: {reason}")]
    Hostname {
        /// The hostname given.
        hostname: OsString,
        /// Why it is invalid.
        reason: HostnameProblem,
    },
    /// A uid or gid inside the sandbox was requested that this configuration
    /// cannot provide.
    #[error("cannot run as {kind} {id} inside the sandbox: {reason}")]
    Identity {
        /// "uid" or "gid".
        kind: IdKind,
        /// The requested id.
        id: u32,
        /// Why.
        reason: IdentityProblem,
    },
    /// [`Command::user`](crate::Command::user) asked for a uid or gid that
    /// the sandbox's user namespace does not map: a program can run only as
    /// ids its namespace maps (the policy's own, and with
    /// [`Sandbox::uid_ranges`](crate::Sandbox::uid_ranges) or
    /// [`Sandbox::gid_ranges`](crate::Sandbox::gid_ranges) those ranges).
    #[error(
        "cannot run as {kind} {id} inside the sandbox: its user namespace maps only {}",
        crate::ids::describe_inside(*kind, mapped)
    )]
    UnmappedId {
        /// "uid" or "gid".
        kind: IdKind,
        /// The requested id.
        id: u32,
        /// The ranges the namespace maps (their `inside` ids are those a
        /// program may run as).
        mapped: Vec<crate::ids::IdRange>,
    },
    /// A file descriptor was passed to a number the sandbox reserves or
    /// twice to the same number.
    #[error("cannot pass a file descriptor as fd {fd}: {reason}")]
    FdTarget {
        /// The target descriptor number in the child.
        fd: i32,
        /// Why.
        reason: FdProblem,
    },
    /// More descriptors than one exec into a container can carry: the
    /// standard streams and passed descriptors that are not inherited
    /// (the kernel passes at most 253 per message, one of which the exec
    /// itself needs).
    #[error("cannot pass {count} file descriptors to a program in a container: at most {max}")]
    TooManyFds {
        /// How many the command needs passed.
        count: usize,
        /// The most an exec can pass.
        max: usize,
    },
    /// An invalid filesystem operation.
    #[error(transparent)]
    Fs(#[from] crate::fs::Error),
    /// An invalid capability policy.
    #[error(transparent)]
    Capabilities(#[from] crate::caps::Error),
    /// The combination of namespaces is not possible.
    #[error("invalid namespace combination: {reason}")]
    Namespaces {
        /// Why.
        reason: NamespaceProblem,
    },
    /// A resource limit whose soft value exceeds its hard value.
    #[error("invalid rlimit {resource}: soft limit {soft} exceeds hard limit {hard}")]
    Rlimit {
        /// The limit.
        resource: crate::rlimit::Rlimit,
        /// The soft value given.
        soft: u64,
        /// The hard value given.
        hard: u64,
    },
    /// A zero wall-clock timeout.
    #[error("invalid timeout: it must be longer than zero")]
    Timeout,
    /// A cgroup limit that is out of range or malformed.
    #[error("invalid cgroup setting `{field}`: {problem}")]
    Cgroup {
        /// The offending setting.
        field: crate::cgroup::Field,
        /// What is wrong with it.
        problem: crate::cgroup::Problem,
    },
    /// A Landlock policy with `no_new_privs` turned off and `CAP_SYS_ADMIN`
    /// not kept: the kernel would refuse to apply it.
    #[error(
        "invalid Landlock setup: applying a ruleset needs no_new_privs, or CAP_SYS_ADMIN kept in the sandbox; keep no_new_privs or keep CAP_SYS_ADMIN (Sandbox::keep_capability)"
    )]
    LandlockNeedsNoNewPrivs,
    /// [`Network::Blocked`](crate::Network::Blocked)
    /// with the seccomp filter turned off: nothing would deny the sockets.
    #[error(
        "invalid network setup: Network::Blocked needs the seccomp filter, which is turned off (use Network::Isolated instead)"
    )]
    NetFilterNeedsSeccomp,
    /// [`Sandbox::program_as_init`](crate::Sandbox::program_as_init)
    /// without a pid namespace: there is no namespace for the program to be
    /// the init of.
    #[error(
        "invalid program_as_init: the program can be pid 1 only of a new pid namespace (add Namespaces::PID)"
    )]
    InitNeedsPidNamespace,
    /// A terminal ([`Command::pty`](crate::Command::pty)) for a sandbox
    /// without its own `/dev`, whose `devpts` instance would hold it.
    #[error(
        "invalid pty: the program's terminal comes from the sandbox's own /dev/pts, but {reason}"
    )]
    PtyNeedsDev {
        /// What is missing.
        reason: PtyProblem,
    },
    /// [`Sandbox::start_init`](crate::Sandbox::start_init) with a policy
    /// without a pid namespace: there is no namespace for the init to be
    /// pid 1 of.
    #[error(
        "invalid start_init: a container's init can be pid 1 only of a new pid namespace (add Namespaces::PID)"
    )]
    StartInitNeedsPidNamespace,
    /// [`Sandbox::mount_cgroup`](crate::Sandbox::mount_cgroup) without a
    /// mount or cgroup namespace, or without a cgroup of the sandbox's own
    /// to mount.
    #[error(
        "invalid mount_cgroup: it needs the mount and cgroup namespaces (Namespaces::MOUNT, Namespaces::CGROUP) and a cgroup of the sandbox's own (a cgroup limit, cgroup placement or a cgroup parent) unless read-only"
    )]
    MountCgroupNeeds,
    /// [`Sandbox::sys`](crate::Sandbox::sys) with a user namespace but
    /// without a network namespace: the kernel mounts sysfs in a user
    /// namespace only for a network namespace that namespace owns.
    #[error(
        "invalid sys: a user namespace may mount /sys (sysfs) only for a network namespace of its own (add Namespaces::NET)"
    )]
    SysNeedsNetworkNamespace,
    /// [`Sandbox::mqueue`](crate::Sandbox::mqueue) with a user namespace
    /// but without an IPC namespace (the kernel mounts mqueue only for an
    /// IPC namespace the mounting user namespace owns), or without the
    /// minimal `/dev` that holds it.
    #[error(
        "invalid mqueue: /dev/mqueue needs the sandbox's own /dev (dev) and, with a user namespace, an IPC namespace of its own (add Namespaces::IPC)"
    )]
    MqueueNeedsIpcNamespace,
    /// A filtered network ([`Sandbox::egress`](crate::Sandbox::egress),
    /// [`Network::Filtered`](crate::Network::Filtered)) without a network
    /// namespace: its only way out is the proxy because the namespace has
    /// no other.
    #[error(
        "invalid egress: a filtered network needs a network namespace of its own (add Namespaces::NET)"
    )]
    FilteredNeedsNetworkNamespace,
    /// [`Sandbox::publish`](crate::Sandbox::publish) without a network
    /// namespace: the program's ports are then the host's already.
    #[error(
        "invalid publish: a published port forwards into a network namespace of the sandbox's own (add Namespaces::NET, or drop publish with the host network)"
    )]
    PublishNeedsNetworkNamespace,
    /// A [`Sandbox::stop_signal`](crate::Sandbox::stop_signal) that is not
    /// a signal number (1 to 64).
    #[error("invalid stop_signal {signal}: expected a signal number from 1 to 64")]
    StopSignal {
        /// The number given.
        signal: i32,
    },
    /// An egress rule or setting that does not parse
    /// ([`Egress`](crate::Egress)): a malformed name, wildcard, port or
    /// address range, or a zero limit.
    #[error("invalid egress {option} rule {rule:?}: {problem}")]
    EgressRule {
        /// The setter it was given to: `allow`, `deny`, `allow_private`,
        /// `transparent_ports` or `max_connections`.
        option: &'static str,
        /// The rule as given.
        rule: String,
        /// What is wrong with it.
        problem: crate::net::problem::RuleProblem,
    },
    /// The sandbox's seccomp policy does not compile (an unknown system
    /// call name, an argument index above 5, an errno above 4095, a program
    /// longer than the kernel accepts).
    #[cfg(feature = "seccomp")]
    #[error(transparent)]
    Seccomp(crate::seccomp::Error),
    /// A seccomp policy that refuses, whatever the arguments, the system
    /// call the sandbox executes its program with (`execve`): no program
    /// could ever start.
    #[cfg(feature = "seccomp")]
    #[error(
        "invalid seccomp setup: the policy answers `{syscall}` with {action} whatever its arguments, and the sandbox starts the program with `{syscall}`; allow it (seccomp::Policy::allow(\"{syscall}\"))"
    )]
    SeccompDeniesExec {
        /// The system call.
        syscall: String,
        /// What the policy answers it with.
        action: crate::seccomp::Action,
    },
    /// A seccomp filter with `no_new_privs` turned off and `CAP_SYS_ADMIN`
    /// not kept: the kernel would refuse to install it.
    #[cfg(feature = "seccomp")]
    #[error(
        "invalid seccomp setup: installing a filter needs no_new_privs, or CAP_SYS_ADMIN kept in the sandbox; keep no_new_privs, keep CAP_SYS_ADMIN, or turn the filter off with Sandbox::seccomp(None)"
    )]
    SeccompNeedsNoNewPrivs,
}

/// Which configuration input a [`ConfigError`] is about.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Field {
    /// The program name.
    Program,
    /// Argument number `n` (0 is argv\[0\]).
    Arg(usize),
    /// An environment variable name or value.
    Env(OsString),
    /// The working directory.
    CurrentDir,
    /// The hostname.
    Hostname,
    /// A path in the filesystem plan.
    Path(PathBuf),
}

impl fmt::Display for Field {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Field::Program => f.write_str("the program name"),
            Field::Arg(n) => write!(f, "argument {n}"),
            Field::Env(k) => write!(f, "environment variable {:?}", k),
            Field::CurrentDir => f.write_str("the working directory"),
            Field::Hostname => f.write_str("the hostname"),
            Field::Path(p) => write!(f, "path {:?}", p),
        }
    }
}

/// Why an environment variable name is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum EnvNameProblem {
    /// The name is empty.
    Empty,
    /// The name contains `=`, which ends a name in the environment: the
    /// program would see another variable.
    ContainsEquals,
}

impl fmt::Display for EnvNameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            EnvNameProblem::Empty => "it is empty",
            EnvNameProblem::ContainsEquals => {
                "it contains '=', which ends a name in the environment (the program would see \
                 another variable)"
            }
        })
    }
}

/// Why a sandbox cannot give its program a terminal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum PtyProblem {
    /// The sandbox has no mount namespace, so no `/dev` of its own.
    NoMountNamespace,
    /// [`Sandbox::dev`](crate::Sandbox::dev) is turned off.
    NoDev,
}

impl fmt::Display for PtyProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            PtyProblem::NoMountNamespace => {
                "the sandbox has no mount namespace (add Namespaces::MOUNT)"
            }
            PtyProblem::NoDev => "its /dev is turned off (Sandbox::dev(false)); turn it on",
        })
    }
}

/// Why a hostname is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum HostnameProblem {
    /// Empty.
    Empty,
    /// Longer than 64 bytes (`HOST_NAME_MAX`).
    TooLong,
    /// Contains a NUL byte.
    NulByte,
    /// A hostname needs a UTS namespace.
    NoUtsNamespace,
}

impl fmt::Display for HostnameProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            HostnameProblem::Empty => "it is empty",
            HostnameProblem::TooLong => "it is longer than 64 bytes",
            HostnameProblem::NulByte => "it contains a NUL byte",
            HostnameProblem::NoUtsNamespace => {
                "setting a hostname requires the UTS namespace (Namespaces::UTS)"
            }
        })
    }
}

/// "uid" or "gid" (defined with the id ranges, which speak of them too).
pub use crate::ids::IdKind;

/// Why an identity cannot be provided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum IdentityProblem {
    /// Without a user namespace only root can switch ids.
    NeedsUserNamespaceOrRoot,
    /// The id is the overflow id (65534 is allowed, but `u32::MAX` is not a
    /// valid id).
    Invalid,
}

impl fmt::Display for IdentityProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            IdentityProblem::NeedsUserNamespaceOrRoot => {
                "without a user namespace (Namespaces::USER) only a root caller can switch ids"
            }
            IdentityProblem::Invalid => "it is not a valid id",
        })
    }
}

/// Why a passed file descriptor target is invalid.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum FdProblem {
    /// Negative descriptor number.
    Negative,
    /// Targets 0, 1 and 2 are set through `stdin`/`stdout`/`stderr`.
    Stdio,
    /// The same target was given twice.
    Duplicate,
}

impl fmt::Display for FdProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FdProblem::Negative => "descriptor numbers cannot be negative",
            FdProblem::Stdio => "use stdin/stdout/stderr for descriptors 0-2",
            FdProblem::Duplicate => "the same descriptor number was given twice",
        })
    }
}

/// Why a namespace combination is impossible.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NamespaceProblem {
    /// An unprivileged caller needs a user namespace to create any other
    /// namespace.
    NeedsUserNamespace,
    /// A filesystem plan (root, binds, tmpfs...) needs a mount namespace.
    RootfsNeedsMountNamespace,
}

impl fmt::Display for NamespaceProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NamespaceProblem::NeedsUserNamespace => {
                "an unprivileged caller needs a user namespace (Namespaces::USER) to create \
                 other namespaces"
            }
            NamespaceProblem::RootfsNeedsMountNamespace => {
                "a filesystem plan requires the mount namespace (Namespaces::MOUNT)"
            }
        })
    }
}

/// The running kernel or host lacks something the policy requires.
#[derive(Debug, thiserror::Error)]
#[error("{feature} is not available: {reason}")]
pub struct Unsupported {
    /// The feature.
    pub feature: Feature,
    /// Why, and how to get it.
    pub reason: UnsupportedReason,
}

/// A kernel-dependent feature.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Feature {
    /// `clone3(2)` or `clone(2)` with `CLONE_PIDFD` (Linux 5.2/5.3).
    PidFd,
    /// The time namespace (Linux 5.6), entered by the program at exec
    /// (later kernels; checked after each spawn).
    TimeNamespace,
    /// The new mount API and `mount_setattr(2)` (Linux 5.12), used to build
    /// the root filesystem.
    MountApi,
    /// A cgroup v2 hierarchy the caller may create cgroups in (Linux 4.5),
    /// needed by every cgroup limit and by cgroup placement.
    Cgroup2,
    /// A cgroup v2 controller, needed by the limits that use it.
    CgroupController(crate::cgroup::Controller),
    /// seccomp filters (Linux 3.17, `CONFIG_SECCOMP_FILTER`) and the query
    /// of the actions they support (Linux 4.14).
    #[cfg(feature = "seccomp")]
    SeccompFilter,
    /// A seccomp filter action the running kernel does not report as
    /// available (Linux 4.14 brought
    /// [`KillProcess`](crate::seccomp::Action::KillProcess) and
    /// [`Log`](crate::seccomp::Action::Log)).
    #[cfg(feature = "seccomp")]
    SeccompAction(crate::seccomp::Action),
    /// Overlay filesystem mounts (writable overlays and roots): Linux 5.11
    /// for a caller in a user namespace (`userxattr`), overlayfs for root.
    Overlay,
}

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Feature::PidFd => "process file descriptors (Linux 5.3)",
            Feature::TimeNamespace => {
                "a time namespace entered at exec (kernels before that change leave the \
                 program in the caller's time namespace; Debian's 6.1 does, 6.12 does not)"
            }
            Feature::MountApi => "the mount API with mount_setattr (Linux 5.12)",
            Feature::Cgroup2 => "a cgroup v2 hierarchy (Linux 4.5)",
            Feature::CgroupController(c) => {
                return write!(f, "the {c} cgroup v2 controller (Linux {})", c.since());
            }
            #[cfg(feature = "seccomp")]
            Feature::SeccompFilter => {
                "seccomp filters (Linux 4.14 with CONFIG_SECCOMP_FILTER; Sandbox::seccomp(None) \
                 runs without one)"
            }
            #[cfg(feature = "seccomp")]
            Feature::SeccompAction(action) => {
                return write!(f, "the seccomp action {action}");
            }
            Feature::Overlay => {
                "overlay mounts in a user namespace (Linux 5.11 with overlayfs; a root caller \
                 without Namespaces::USER needs only overlayfs)"
            }
        })
    }
}

/// Why a feature is unavailable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum UnsupportedReason {
    /// The kernel does not implement it.
    Kernel,
    /// A seccomp filter or LSM policy blocks it.
    Blocked,
    /// The cgroup setup of this host or of the caller does not provide it;
    /// the message says how to get it.
    Cgroup(crate::cgroup::Unavailable),
}

impl fmt::Display for UnsupportedReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            UnsupportedReason::Kernel => "the running kernel does not implement it",
            UnsupportedReason::Blocked => "a seccomp filter or security policy blocks it",
            UnsupportedReason::Cgroup(u) => {
                return write!(f, "{u}; to fix: {}", u.advice());
            }
        })
    }
}

/// A failure between clone and exec, in the sandbox's setup.
#[derive(Debug, thiserror::Error)]
#[error("failed to set up the sandbox at {stage}{}", InParens(target))]
pub struct SetupError {
    /// The step that failed.
    pub stage: Stage,
    /// The item the step was working on, from the parent's plan.
    pub target: Option<Target>,
    /// The kernel's answer.
    #[source]
    pub source: io::Error,
}

/// The item a setup step was working on.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Target {
    /// A path (inside the sandbox unless the stage says otherwise).
    Path(PathBuf),
    /// A file descriptor number in the child.
    Fd(i32),
    /// A resource limit.
    Rlimit(crate::rlimit::Rlimit),
    /// A TCP port of a Landlock rule.
    Port(u16),
    /// An operation of the filesystem plan, by destination and, for the
    /// caller's own operations, their index in
    /// [`Sandbox::get_fs_ops`](crate::Sandbox::get_fs_ops) (`None` for the default
    /// mounts: system directories, `/proc`, `/dev`, `/tmp`).
    MountOp {
        /// Index among the caller's filesystem operations.
        index: Option<usize>,
        /// The operation's destination inside the sandbox.
        dest: PathBuf,
    },
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Target::Path(p) => write!(f, "{}", p.display()),
            Target::Fd(n) => write!(f, "fd {n}"),
            Target::Rlimit(n) => write!(f, "rlimit {n}"),
            Target::Port(p) => write!(f, "port {p}"),
            Target::MountOp {
                index: Some(i),
                dest,
            } => {
                write!(f, "filesystem operation #{i} on {}", dest.display())
            }
            Target::MountOp { index: None, dest } => {
                write!(f, "default mount on {}", dest.display())
            }
        }
    }
}

impl From<crate::cgroup::Error> for Error {
    /// A missing cgroup feature becomes [`Error::Unsupported`], an invalid
    /// setting [`ConfigError::Cgroup`], anything else [`Error::Cgroup`].
    fn from(e: crate::cgroup::Error) -> Error {
        use crate::cgroup::{self, Unavailable};
        match e {
            cgroup::Error::Invalid { field, problem } => {
                ConfigError::Cgroup { field, problem }.into()
            }
            cgroup::Error::Unsupported {
                controller, reason, ..
            } => Unsupported {
                feature: Feature::CgroupController(controller),
                reason: UnsupportedReason::Cgroup(reason),
            }
            .into(),
            cgroup::Error::NoCgroup2 => Unsupported {
                feature: Feature::Cgroup2,
                reason: UnsupportedReason::Cgroup(Unavailable::NoCgroup2),
            }
            .into(),
            other => Error::Cgroup(other),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
