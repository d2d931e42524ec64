//! Landlock: unprivileged access control over the filesystem, TCP ports and
//! IPC scopes (Linux 5.13+).
//!
//! A [`LandlockPolicy`] is plain data, used two ways:
//!
//! - to confine the calling process ([`Confinement`](crate::Confinement)),
//!   the policy is turned into a kernel ruleset once ([`prepare`]), opening
//!   every rule path at that moment, and applied with one
//!   `landlock_restrict_self(fd, 0)` system call ([`restrict_self`]) after
//!   `no_new_privs`;
//! - in a sandbox ([`Sandbox::landlock`](crate::Sandbox::landlock)) the
//!   policy is checked against the kernel and lowered to plain data once
//!   ([`lower_for_spawn`]), and each program process builds the ruleset
//!   after `pivot_root` ([`apply_in_child`]): a ruleset prepared in the
//!   caller could not name the sandbox's own mounts, which do not exist yet.
//!   Rule paths are then the program's view.
//!
//! Rules refer to inodes, not to path names: a rule opened on `/home/me/proj`
//! keeps covering that directory when the sandbox sees it at `/work` through a
//! bind mount, and it does not follow a different directory later mounted at
//! `/home/me/proj`.
//!
//! # Compatibility
//!
//! Every right has the Landlock ABI version (and Linux release) that introduced
//! it; see [`LandlockFeature`]. Rules are grouped (filesystem, network, scopes)
//! and each group has a [`CompatLevel`]: under
//! [`CompatLevel::HardRequirement`] (the default) a right the running kernel
//! cannot enforce is a [`LandlockError::Unsupported`] naming it; under
//! [`CompatLevel::BestEffort`] the ruleset is built without it and the
//! [`LandlockReport`] lists it in [`LandlockReport::missing`].

use std::ffi::CString;
use std::io;
use std::os::fd::{AsFd, BorrowedFd, OwnedFd, RawFd};
use std::path::{Path, PathBuf};

use bitflags::bitflags;

use crate::compat::CompatLevel;
use crate::sys::raw::{Errno, sc, syscall6};

bitflags! {
    /// Filesystem access rights, with the kernel's bit values.
    ///
    /// Use the bundles [`FsAccess::READ`], [`FsAccess::READ_EXEC`] and
    /// [`FsAccess::WRITE`] for ordinary rules; the single rights are there for
    /// callers who need finer control. Each right names the Landlock ABI version
    /// and the Linux release that introduced it.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct FsAccess: u64 {
        /// Execute a file (ABI 1, Linux 5.13).
        const EXECUTE = 1 << 0;
        /// Open a file with write access (ABI 1, Linux 5.13).
        const WRITE_FILE = 1 << 1;
        /// Open a file with read access (ABI 1, Linux 5.13).
        const READ_FILE = 1 << 2;
        /// Open a directory or list its content (ABI 1, Linux 5.13).
        const READ_DIR = 1 << 3;
        /// Remove an empty directory or rename one (ABI 1, Linux 5.13).
        const REMOVE_DIR = 1 << 4;
        /// Unlink or rename a file (ABI 1, Linux 5.13).
        const REMOVE_FILE = 1 << 5;
        /// Create, rename or link a character device (ABI 1, Linux 5.13).
        const MAKE_CHAR = 1 << 6;
        /// Create or rename a directory (ABI 1, Linux 5.13).
        const MAKE_DIR = 1 << 7;
        /// Create, rename or link a regular file (ABI 1, Linux 5.13).
        const MAKE_REG = 1 << 8;
        /// Create, rename or link a unix domain socket (ABI 1, Linux 5.13).
        const MAKE_SOCK = 1 << 9;
        /// Create, rename or link a named pipe (ABI 1, Linux 5.13).
        const MAKE_FIFO = 1 << 10;
        /// Create, rename or link a block device (ABI 1, Linux 5.13).
        const MAKE_BLOCK = 1 << 11;
        /// Create, rename or link a symbolic link (ABI 1, Linux 5.13).
        const MAKE_SYM = 1 << 12;
        /// Link or rename a file from or to a different directory (ABI 2,
        /// Linux 5.19). On ABI 1 such reparenting is always denied.
        const REFER = 1 << 13;
        /// Truncate a file with `truncate(2)`, `ftruncate(2)`, `creat(2)` or
        /// `open(2)` with `O_TRUNC` (ABI 3, Linux 6.2). Before ABI 3
        /// truncation is never restricted.
        const TRUNCATE = 1 << 14;
        /// Issue `ioctl(2)` commands on character and block devices (ABI 5,
        /// Linux 6.10). Before ABI 5 device ioctls are never restricted.
        const IOCTL_DEV = 1 << 15;
        /// Connect to a pathname unix domain socket (ABI 9, Linux 7.1). Not
        /// part of any bundle: request it explicitly.
        const RESOLVE_UNIX = 1 << 16;
    }
}

impl FsAccess {
    /// Read files and list directories.
    pub const READ: Self = Self::READ_FILE.union(Self::READ_DIR);
    /// [`FsAccess::READ`] plus executing files.
    pub const READ_EXEC: Self = Self::READ.union(Self::EXECUTE);
    /// Everything that modifies the filesystem: writing files, creating,
    /// removing, renaming and linking entries ([`FsAccess::REFER`] where the
    /// kernel has it), truncating ([`FsAccess::TRUNCATE`], Linux 6.2) and
    /// device ioctls ([`FsAccess::IOCTL_DEV`], Linux 6.10).
    pub const WRITE: Self = Self::WRITE_FILE
        .union(Self::REMOVE_DIR)
        .union(Self::REMOVE_FILE)
        .union(Self::MAKE_CHAR)
        .union(Self::MAKE_DIR)
        .union(Self::MAKE_REG)
        .union(Self::MAKE_SOCK)
        .union(Self::MAKE_FIFO)
        .union(Self::MAKE_BLOCK)
        .union(Self::MAKE_SYM)
        .union(Self::REFER)
        .union(Self::TRUNCATE)
        .union(Self::IOCTL_DEV);
    /// [`FsAccess::READ`] plus [`FsAccess::WRITE`].
    pub const READ_WRITE: Self = Self::READ.union(Self::WRITE);
    /// The rights a filesystem policy handles (denies unless a rule grants
    /// them) when the caller does not choose with
    /// [`LandlockPolicy::handle_fs`]: read, execute and write, up to ABI 5.
    pub const DEFAULT_HANDLED: Self = Self::READ_EXEC.union(Self::WRITE);
    /// The rights that apply to a non-directory; a rule on a file keeps only
    /// these.
    pub const FILE: Self = Self::EXECUTE
        .union(Self::WRITE_FILE)
        .union(Self::READ_FILE)
        .union(Self::TRUNCATE)
        .union(Self::IOCTL_DEV)
        .union(Self::RESOLVE_UNIX);

    /// The rights a kernel with Landlock ABI `abi` can enforce.
    pub fn supported_by(abi: u32) -> Self {
        let mut set = Self::empty();
        for (flag, feature) in FS_FEATURES {
            if abi >= feature.abi() {
                set |= *flag;
            }
        }
        set
    }
}

const FS_FEATURES: &[(FsAccess, LandlockFeature)] = &[
    (FsAccess::EXECUTE, LandlockFeature::Filesystem),
    (FsAccess::WRITE_FILE, LandlockFeature::Filesystem),
    (FsAccess::READ_FILE, LandlockFeature::Filesystem),
    (FsAccess::READ_DIR, LandlockFeature::Filesystem),
    (FsAccess::REMOVE_DIR, LandlockFeature::Filesystem),
    (FsAccess::REMOVE_FILE, LandlockFeature::Filesystem),
    (FsAccess::MAKE_CHAR, LandlockFeature::Filesystem),
    (FsAccess::MAKE_DIR, LandlockFeature::Filesystem),
    (FsAccess::MAKE_REG, LandlockFeature::Filesystem),
    (FsAccess::MAKE_SOCK, LandlockFeature::Filesystem),
    (FsAccess::MAKE_FIFO, LandlockFeature::Filesystem),
    (FsAccess::MAKE_BLOCK, LandlockFeature::Filesystem),
    (FsAccess::MAKE_SYM, LandlockFeature::Filesystem),
    (FsAccess::REFER, LandlockFeature::FsRefer),
    (FsAccess::TRUNCATE, LandlockFeature::FsTruncate),
    (FsAccess::IOCTL_DEV, LandlockFeature::FsIoctlDev),
    (FsAccess::RESOLVE_UNIX, LandlockFeature::FsResolveUnix),
];

bitflags! {
    /// Network access rights, with the kernel's bit values.
    ///
    /// A port rule grants these rights on one port; every right the policy
    /// handles is denied on the other ports.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct NetAccess: u64 {
        /// Bind a TCP socket to a local port (ABI 4, Linux 6.7).
        const BIND_TCP = 1 << 0;
        /// Connect a TCP socket to a remote port (ABI 4, Linux 6.7).
        const CONNECT_TCP = 1 << 1;
        /// Bind a UDP socket to a local port, including the implicit bind
        /// of a first send (ABI 10, Linux 7.2).
        const BIND_UDP = 1 << 2;
        /// Connect a UDP socket or send a datagram to an explicit remote
        /// port (ABI 10, Linux 7.2).
        const CONNECT_SEND_UDP = 1 << 3;
    }
}

impl NetAccess {
    /// The rights a kernel with Landlock ABI `abi` can enforce.
    pub fn supported_by(abi: u32) -> Self {
        let mut set = Self::empty();
        for (flag, feature) in NET_FEATURES {
            if abi >= feature.abi() {
                set |= *flag;
            }
        }
        set
    }
}

const NET_FEATURES: &[(NetAccess, LandlockFeature)] = &[
    (NetAccess::BIND_TCP, LandlockFeature::NetBindTcp),
    (NetAccess::CONNECT_TCP, LandlockFeature::NetConnectTcp),
    (NetAccess::BIND_UDP, LandlockFeature::NetBindUdp),
    (
        NetAccess::CONNECT_SEND_UDP,
        LandlockFeature::NetConnectSendUdp,
    ),
];

bitflags! {
    /// IPC scopes: interactions the sandbox may only have with processes in
    /// the same Landlock domain (ABI 6, Linux 6.12).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct LandlockScope: u64 {
        /// Connecting to an abstract unix socket created outside the domain
        /// is denied (ABI 6, Linux 6.12).
        const ABSTRACT_UNIX_SOCKET = 1 << 0;
        /// Sending a signal to a process outside the domain is denied (ABI 6,
        /// Linux 6.12).
        const SIGNAL = 1 << 1;
    }
}

impl LandlockScope {
    /// The scopes a kernel with Landlock ABI `abi` can enforce.
    pub fn supported_by(abi: u32) -> Self {
        let mut set = Self::empty();
        for (flag, feature) in SCOPE_FEATURES {
            if abi >= feature.abi() {
                set |= *flag;
            }
        }
        set
    }
}

const SCOPE_FEATURES: &[(LandlockScope, LandlockFeature)] = &[
    (
        LandlockScope::ABSTRACT_UNIX_SOCKET,
        LandlockFeature::ScopeAbstractUnixSocket,
    ),
    (LandlockScope::SIGNAL, LandlockFeature::ScopeSignal),
];

/// A Landlock capability that appeared in a given ABI version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum LandlockFeature {
    /// Landlock itself and the basic filesystem rights (ABI 1, Linux 5.13).
    Filesystem,
    /// [`FsAccess::REFER`] (ABI 2, Linux 5.19).
    FsRefer,
    /// [`FsAccess::TRUNCATE`] (ABI 3, Linux 6.2).
    FsTruncate,
    /// [`NetAccess::BIND_TCP`] (ABI 4, Linux 6.7).
    NetBindTcp,
    /// [`NetAccess::CONNECT_TCP`] (ABI 4, Linux 6.7).
    NetConnectTcp,
    /// [`FsAccess::IOCTL_DEV`] (ABI 5, Linux 6.10).
    FsIoctlDev,
    /// [`LandlockScope::ABSTRACT_UNIX_SOCKET`] (ABI 6, Linux 6.12).
    ScopeAbstractUnixSocket,
    /// [`LandlockScope::SIGNAL`] (ABI 6, Linux 6.12).
    ScopeSignal,
    /// Restricting every thread of a process at once (ABI 8, Linux 7.0).
    AllThreads,
    /// [`FsAccess::RESOLVE_UNIX`] (ABI 9, Linux 7.1).
    FsResolveUnix,
    /// [`NetAccess::BIND_UDP`] (ABI 10, Linux 7.2).
    NetBindUdp,
    /// [`NetAccess::CONNECT_SEND_UDP`] (ABI 10, Linux 7.2).
    NetConnectSendUdp,
}

impl LandlockFeature {
    /// The Landlock ABI version that introduced the feature.
    pub fn abi(self) -> u32 {
        match self {
            Self::Filesystem => 1,
            Self::FsRefer => 2,
            Self::FsTruncate => 3,
            Self::NetBindTcp | Self::NetConnectTcp => 4,
            Self::FsIoctlDev => 5,
            Self::ScopeAbstractUnixSocket | Self::ScopeSignal => 6,
            Self::AllThreads => 8,
            Self::FsResolveUnix => 9,
            Self::NetBindUdp | Self::NetConnectSendUdp => 10,
        }
    }

    /// The first Linux release with the feature, e.g. `"6.2"`.
    pub fn linux_version(self) -> &'static str {
        linux_version_for_abi(self.abi())
    }

    fn describe(self) -> &'static str {
        match self {
            Self::Filesystem => "filesystem access control",
            Self::FsRefer => "the refer right",
            Self::FsTruncate => "the truncate right",
            Self::NetBindTcp => "the TCP bind right",
            Self::NetConnectTcp => "the TCP connect right",
            Self::FsIoctlDev => "the device ioctl right",
            Self::ScopeAbstractUnixSocket => "the abstract unix socket scope",
            Self::ScopeSignal => "the signal scope",
            Self::AllThreads => "restricting all threads at once",
            Self::FsResolveUnix => "the pathname unix socket right",
            Self::NetBindUdp => "the UDP bind right",
            Self::NetConnectSendUdp => "the UDP connect/send right",
        }
    }
}

impl std::fmt::Display for LandlockFeature {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} (Landlock ABI {}, Linux {})",
            self.describe(),
            self.abi(),
            self.linux_version()
        )
    }
}

/// The first Linux release with Landlock ABI `abi`.
fn linux_version_for_abi(abi: u32) -> &'static str {
    match abi {
        0 | 1 => "5.13",
        2 => "5.19",
        3 => "6.2",
        4 => "6.7",
        5 => "6.10",
        6 => "6.12",
        7 => "6.15",
        8 => "7.0",
        9 => "7.1",
        _ => "7.2",
    }
}

/// One filesystem rule: `access` granted beneath `path`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct FsRule {
    pub(crate) path: PathBuf,
    pub(crate) access: FsAccess,
    /// Left out (instead of failing) when the path does not exist.
    #[cfg_attr(feature = "serde", serde(default))]
    pub(crate) optional: bool,
}

/// One network rule: `access` granted on `port`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub(crate) struct NetRule {
    pub(crate) port: u16,
    pub(crate) access: NetAccess,
}

/// A Landlock policy: what the sandboxed program may access.
///
/// Builder methods cannot fail; the policy is checked when it is prepared
/// (by the sandbox before the first spawn, or by [`LandlockPolicy::validate`]).
///
/// A policy has three independent groups, each enforced only when used:
/// - **filesystem** (Linux 5.13): active once a path rule is added or
///   [`handle_fs`](Self::handle_fs)/[`restrict_fs`](Self::restrict_fs) is
///   called. Every handled right is then denied everywhere except beneath the
///   rule paths that grant it. By default the handled rights are
///   [`FsAccess::DEFAULT_HANDLED`] plus any right a rule grants.
/// - **network** (Linux 6.7): active once a port rule is added or
///   [`handle_net`](Self::handle_net)/[`restrict_tcp`](Self::restrict_tcp) is
///   called.
/// - **scopes** (Linux 6.12): active once [`scope`](Self::scope) is called.
///
/// Each group is a [`CompatLevel::HardRequirement`] unless set otherwise
/// ([`fs_compat`](Self::fs_compat), [`net_compat`](Self::net_compat),
/// [`scope_compat`](Self::scope_compat), [`compat`](Self::compat)); for the
/// filesystem group that covers the rule paths too (a missing path is an
/// error, or a note in the report under best-effort).
///
/// What a rule means is Landlock's:
/// - rule paths are resolved (following symbolic links) and opened when the
///   policy is prepared; the rule then covers that file or directory
///   hierarchy wherever it is reached from, and nothing later mounted over
///   the path;
/// - access is checked on the path a file is reached through: `..` and
///   symbolic links cannot leave an allowed hierarchy, but a hard link that
///   already exists inside an allowed directory reaches its file;
/// - creating a hard link or renaming across directories needs
///   [`FsAccess::REFER`] on both sides (always denied on ABI 1) and must not
///   give the file rights it did not have.
///
/// ```
/// # #[cfg(feature = "landlock")] {
/// use stockade::{LandlockPolicy, LandlockScope};
/// let mut policy = LandlockPolicy::new();
/// policy
///     .allow_read_exec("/usr")
///     .allow_read("/etc")
///     .allow_read_write("/tmp")
///     .allow_tcp_connect(443)
///     .scope(LandlockScope::SIGNAL | LandlockScope::ABSTRACT_UNIX_SOCKET);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct LandlockPolicy {
    pub(crate) fs_rules: Vec<FsRule>,
    pub(crate) fs_handled: Option<FsAccess>,
    pub(crate) net_rules: Vec<NetRule>,
    pub(crate) net_handled: NetAccess,
    pub(crate) scopes: LandlockScope,
    #[cfg_attr(feature = "serde", serde(with = "compat_serde"))]
    pub(crate) fs_compat: CompatLevel,
    #[cfg_attr(feature = "serde", serde(with = "compat_serde"))]
    pub(crate) net_compat: CompatLevel,
    #[cfg_attr(feature = "serde", serde(with = "compat_serde"))]
    pub(crate) scope_compat: CompatLevel,
}

impl Default for LandlockPolicy {
    fn default() -> Self {
        Self::new()
    }
}

impl LandlockPolicy {
    /// An empty policy: nothing is restricted until a rule is added.
    pub fn new() -> Self {
        Self {
            fs_rules: Vec::new(),
            fs_handled: None,
            net_rules: Vec::new(),
            net_handled: NetAccess::empty(),
            scopes: LandlockScope::empty(),
            fs_compat: CompatLevel::HardRequirement,
            net_compat: CompatLevel::HardRequirement,
            scope_compat: CompatLevel::HardRequirement,
        }
    }

    /// A filesystem policy mirroring a sandbox's mount plan, so that the
    /// filesystem view still holds where namespaces are unavailable (for
    /// example inside a container that blocks user namespaces).
    ///
    /// Give the *source* paths (as the caller sees them), not where they
    /// appear inside the sandbox: rules attach to the inodes found at
    /// preparation time. Paths in `read_only` get [`FsAccess::READ`], paths in
    /// `read_write` get [`FsAccess::READ_WRITE`], paths in `exec` get
    /// [`FsAccess::READ_EXEC`]; a path listed several times gets the union.
    /// Every other path is denied, including when all lists are empty. The
    /// groups keep their default [`CompatLevel::HardRequirement`].
    pub fn mirror_mounts<R, W, X, P, Q, S>(read_only: R, read_write: W, exec: X) -> Self
    where
        R: IntoIterator<Item = P>,
        W: IntoIterator<Item = Q>,
        X: IntoIterator<Item = S>,
        P: AsRef<Path>,
        Q: AsRef<Path>,
        S: AsRef<Path>,
    {
        let mut policy = Self::new();
        policy.restrict_fs();
        for path in read_only {
            policy.allow(path, FsAccess::READ);
        }
        for path in read_write {
            policy.allow(path, FsAccess::READ_WRITE);
        }
        for path in exec {
            policy.allow(path, FsAccess::READ_EXEC);
        }
        policy
    }

    /// Allows reading files and listing directories beneath `path`.
    pub fn allow_read(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.allow(path, FsAccess::READ)
    }

    /// Allows reading and executing beneath `path`.
    pub fn allow_read_exec(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.allow(path, FsAccess::READ_EXEC)
    }

    /// Allows reading and every kind of modification beneath `path`
    /// ([`FsAccess::READ_WRITE`]).
    pub fn allow_read_write(&mut self, path: impl AsRef<Path>) -> &mut Self {
        self.allow(path, FsAccess::READ_WRITE)
    }

    /// Allows exactly `access` beneath `path`. On a non-directory only the
    /// rights in [`FsAccess::FILE`] apply. The path is resolved (following
    /// symbolic links) when the policy is prepared.
    pub fn allow(&mut self, path: impl AsRef<Path>, access: FsAccess) -> &mut Self {
        self.fs_rules.push(FsRule {
            path: path.as_ref().to_path_buf(),
            access,
            optional: false,
        });
        self
    }

    /// Like [`allow`](Self::allow), but the rule is left out when `path`
    /// cannot be opened, even when the filesystem group is a hard
    /// requirement. The path then stays inaccessible.
    pub fn allow_try(&mut self, path: impl AsRef<Path>, access: FsAccess) -> &mut Self {
        self.fs_rules.push(FsRule {
            path: path.as_ref().to_path_buf(),
            access,
            optional: true,
        });
        self
    }

    /// Sets the filesystem rights the policy handles (denies unless granted by
    /// a rule), replacing [`FsAccess::DEFAULT_HANDLED`]. Rights granted by a
    /// rule are always handled as well. Activates the filesystem group.
    pub fn handle_fs(&mut self, access: FsAccess) -> &mut Self {
        self.fs_handled = Some(access);
        self
    }

    /// Activates the filesystem group with the default handled rights, so that
    /// only the paths given by rules are accessible (none if there are none).
    pub fn restrict_fs(&mut self) -> &mut Self {
        if self.fs_handled.is_none() {
            self.fs_handled = Some(FsAccess::DEFAULT_HANDLED);
        }
        self
    }

    /// Allows binding TCP sockets to `port` (Linux 6.7). Port 0 stands for
    /// the ephemeral port range. Every other bind is denied.
    pub fn allow_tcp_bind(&mut self, port: u16) -> &mut Self {
        self.allow_net(port, NetAccess::BIND_TCP)
    }

    /// Allows connecting TCP sockets to remote `port` (Linux 6.7). Every other
    /// TCP connect is denied.
    pub fn allow_tcp_connect(&mut self, port: u16) -> &mut Self {
        self.allow_net(port, NetAccess::CONNECT_TCP)
    }

    /// Allows exactly `access` on `port`; the rights become handled.
    pub fn allow_net(&mut self, port: u16, access: NetAccess) -> &mut Self {
        self.net_rules.push(NetRule { port, access });
        self.net_handled |= access;
        self
    }

    /// Adds network rights the policy handles (denies on every port no rule
    /// names).
    pub fn handle_net(&mut self, access: NetAccess) -> &mut Self {
        self.net_handled |= access;
        self
    }

    /// Denies TCP bind and connect on every port not allowed by a rule
    /// (Linux 6.7).
    pub fn restrict_tcp(&mut self) -> &mut Self {
        self.handle_net(NetAccess::BIND_TCP | NetAccess::CONNECT_TCP)
    }

    /// Confines the given IPC interactions to the sandbox's own Landlock
    /// domain (Linux 6.12).
    pub fn scope(&mut self, scopes: LandlockScope) -> &mut Self {
        self.scopes |= scopes;
        self
    }

    /// Sets how strictly the filesystem group (rights and rule paths) is
    /// required.
    pub fn fs_compat(&mut self, level: CompatLevel) -> &mut Self {
        self.fs_compat = level;
        self
    }

    /// Sets how strictly the network group is required.
    pub fn net_compat(&mut self, level: CompatLevel) -> &mut Self {
        self.net_compat = level;
        self
    }

    /// Sets how strictly the scopes are required.
    pub fn scope_compat(&mut self, level: CompatLevel) -> &mut Self {
        self.scope_compat = level;
        self
    }

    /// Sets the compatibility level of every group.
    pub fn compat(&mut self, level: CompatLevel) -> &mut Self {
        self.fs_compat = level;
        self.net_compat = level;
        self.scope_compat = level;
        self
    }

    /// Whether the policy restricts nothing at all.
    pub fn is_empty(&self) -> bool {
        self.fs_requested().is_empty() && self.net_requested().is_empty() && self.scopes.is_empty()
    }

    /// Prepares the policy against the running kernel (opening every rule path
    /// and creating the ruleset) and returns what would be enforced, without
    /// applying anything.
    pub fn validate(&self) -> Result<LandlockReport, LandlockError> {
        prepare(self).map(|prepared| prepared.report)
    }

    fn fs_requested(&self) -> FsAccess {
        if self.fs_handled.is_none() && self.fs_rules.is_empty() {
            return FsAccess::empty();
        }
        let mut set = self.fs_handled.unwrap_or(FsAccess::DEFAULT_HANDLED);
        for rule in &self.fs_rules {
            set |= rule.access;
        }
        set
    }

    fn net_requested(&self) -> NetAccess {
        self.net_handled
    }
}

#[cfg(feature = "serde")]
mod compat_serde {
    use crate::compat::CompatLevel;

    pub(super) fn serialize<S: serde::Serializer>(
        level: &CompatLevel,
        serializer: S,
    ) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(match level {
            CompatLevel::BestEffort => "best_effort",
            CompatLevel::HardRequirement => "hard_requirement",
        })
    }

    pub(super) fn deserialize<'de, D: serde::Deserializer<'de>>(
        deserializer: D,
    ) -> Result<CompatLevel, D::Error> {
        let name = <std::borrow::Cow<'de, str> as serde::Deserialize>::deserialize(deserializer)?;
        match &*name {
            "best_effort" => Ok(CompatLevel::BestEffort),
            "hard_requirement" => Ok(CompatLevel::HardRequirement),
            other => Err(serde::de::Error::unknown_variant(
                other,
                &["best_effort", "hard_requirement"],
            )),
        }
    }
}

/// How much of a group of rights took effect.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum LandlockEnforcement {
    /// Every requested right is enforced.
    FullyEnforced,
    /// Some requested rights are enforced, others are missing from the
    /// kernel.
    PartiallyEnforced,
    /// Requested, but nothing of it is enforced.
    NotEnforced,
    /// The policy does not ask for it.
    NotRequested,
}

impl std::fmt::Display for LandlockEnforcement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::FullyEnforced => "fully enforced",
            Self::PartiallyEnforced => "partially enforced",
            Self::NotEnforced => "not enforced",
            Self::NotRequested => "not requested",
        })
    }
}

/// Why Landlock is not available at all.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum LandlockUnavailable {
    /// The kernel has Landlock but it is not enabled (`EOPNOTSUPP`): add
    /// `landlock` to the `lsm=` kernel boot parameter.
    NotEnabled,
    /// The system call does not exist (`ENOSYS`): the kernel is older than
    /// 5.13 or built without `CONFIG_SECURITY_LANDLOCK`, or a seccomp filter
    /// (such as a container runtime's default profile) blocks it.
    NotImplemented,
}

impl std::fmt::Display for LandlockUnavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::NotEnabled => {
                "Landlock is built into the kernel but not enabled (add landlock to the lsm= boot parameter)"
            }
            Self::NotImplemented => {
                "the kernel has no Landlock system calls (Linux older than 5.13, built without CONFIG_SECURITY_LANDLOCK, or blocked by a seccomp filter)"
            }
        })
    }
}

/// Something the report wants the caller to know that is not a missing
/// right.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum LandlockNote {
    /// A rule path could not be opened and the rule was left out (best-effort
    /// only). The path stays inaccessible.
    SkippedPath {
        /// The rule's path.
        path: PathBuf,
        /// The error number `open(2)` returned.
        errno: i32,
    },
    /// The kernel has Landlock ABI 1, which always denies linking or
    /// renaming a file into another directory; [`FsAccess::REFER`] cannot be
    /// granted. This is stricter than requested, never weaker.
    ReferAlwaysDenied,
}

/// What a prepared Landlock policy enforces on the running kernel.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct LandlockReport {
    /// The kernel's Landlock ABI version (0: Landlock unavailable).
    pub abi: u32,
    /// Why Landlock is unavailable, when `abi` is 0.
    pub unavailable: Option<LandlockUnavailable>,
    /// Overall status: fully enforced only if every requested right is.
    pub status: LandlockEnforcement,
    /// Reading files and listing directories.
    pub fs_read: LandlockEnforcement,
    /// Writing, creating, removing, renaming and linking.
    pub fs_write: LandlockEnforcement,
    /// Executing files.
    pub fs_exec: LandlockEnforcement,
    /// Truncating files (Linux 6.2).
    pub fs_truncate: LandlockEnforcement,
    /// Device ioctls (Linux 6.10).
    pub fs_ioctl_dev: LandlockEnforcement,
    /// Connecting to pathname unix sockets (Linux 7.1).
    pub fs_resolve_unix: LandlockEnforcement,
    /// TCP (Linux 6.7) and UDP (Linux 7.2) bind.
    pub net_bind: LandlockEnforcement,
    /// TCP connect (Linux 6.7) and UDP connect/send (Linux 7.2).
    pub net_connect: LandlockEnforcement,
    /// The abstract unix socket scope (Linux 6.12).
    pub scope_abstract_unix_socket: LandlockEnforcement,
    /// The signal scope (Linux 6.12).
    pub scope_signal: LandlockEnforcement,
    /// Requested features the kernel lacks (best-effort groups only),
    /// lowest ABI first.
    pub missing: Vec<LandlockFeature>,
    /// Everything else worth knowing.
    pub notes: Vec<LandlockNote>,
}

impl LandlockReport {
    /// Each right (or group of rights) with its status, in report order.
    pub fn rights(&self) -> [(&'static str, LandlockEnforcement); 10] {
        [
            ("fs_read", self.fs_read),
            ("fs_write", self.fs_write),
            ("fs_exec", self.fs_exec),
            ("fs_truncate", self.fs_truncate),
            ("fs_ioctl_dev", self.fs_ioctl_dev),
            ("fs_resolve_unix", self.fs_resolve_unix),
            ("net_bind", self.net_bind),
            ("net_connect", self.net_connect),
            (
                "scope_abstract_unix_socket",
                self.scope_abstract_unix_socket,
            ),
            ("scope_signal", self.scope_signal),
        ]
    }
}

/// One line: the ABI, the overall status, each requested right's status,
/// what is missing.
impl std::fmt::Display for LandlockReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self.unavailable {
            Some(reason) => write!(f, "unavailable ({reason}); {}", self.status)?,
            None => write!(f, "ABI {}, {}", self.abi, self.status)?,
        }
        let mut first = true;
        for (name, status) in self.rights() {
            if status == LandlockEnforcement::NotRequested {
                continue;
            }
            f.write_str(if first { " (" } else { ", " })?;
            first = false;
            write!(f, "{name}: {status}")?;
        }
        if !first {
            f.write_str(")")?;
        }
        for (i, m) in self.missing.iter().enumerate() {
            f.write_str(if i == 0 { "; missing: " } else { ", " })?;
            write!(f, "{m}")?;
        }
        Ok(())
    }
}

/// Which group of a [`LandlockPolicy`] an error is about.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum LandlockGroup {
    /// Filesystem rights and rules.
    Filesystem,
    /// Network rights and port rules.
    Network,
    /// IPC scopes.
    Scopes,
}

impl std::fmt::Display for LandlockGroup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Self::Filesystem => "filesystem",
            Self::Network => "network",
            Self::Scopes => "scope",
        })
    }
}

/// Errors from preparing a [`LandlockPolicy`].
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum LandlockError {
    /// A hard requirement needs a feature the running kernel lacks.
    #[error(
        "failed to enforce the Landlock {group} rules: the kernel (Landlock ABI {kernel_abi}) lacks {feature}; upgrade the kernel or make the {group} rules best-effort"
    )]
    Unsupported {
        /// The group whose requirement failed.
        group: LandlockGroup,
        /// The lowest-ABI feature the kernel lacks.
        feature: LandlockFeature,
        /// The running kernel's Landlock ABI version.
        kernel_abi: u32,
    },
    /// A hard requirement, but the kernel has no usable Landlock.
    #[error("failed to enforce the Landlock {group} rules: {reason}")]
    Unavailable {
        /// The group whose requirement failed.
        group: LandlockGroup,
        /// Why Landlock is unavailable.
        reason: LandlockUnavailable,
    },
    /// A rule path could not be opened.
    #[error("failed to open the Landlock rule path {path}")]
    RulePath {
        /// The rule's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The kernel refused to create the ruleset.
    #[error("failed to create the Landlock ruleset")]
    CreateRuleset {
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The kernel refused a path rule.
    #[error("failed to add the Landlock rule for {path}")]
    AddPathRule {
        /// The rule's path.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// The kernel refused a port rule.
    #[error("failed to add the Landlock rule for port {port}")]
    AddPortRule {
        /// The rule's port.
        port: u16,
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// The kernel's Landlock status, probed once.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum KernelAbi {
    Available(u32),
    Unavailable(LandlockUnavailable),
}

impl KernelAbi {
    pub(crate) fn version(self) -> u32 {
        match self {
            Self::Available(v) => v,
            Self::Unavailable(_) => 0,
        }
    }
}

/// The running kernel's Landlock ABI version, probed once.
pub(crate) fn kernel_abi() -> KernelAbi {
    use crate::probe::LandlockAbi;
    match crate::probe::landlock_abi() {
        LandlockAbi::Version(v) => KernelAbi::Available(v),
        LandlockAbi::NotEnabled => KernelAbi::Unavailable(LandlockUnavailable::NotEnabled),
        LandlockAbi::NotImplemented => KernelAbi::Unavailable(LandlockUnavailable::NotImplemented),
    }
}

/// The kernel-independent outcome of checking a policy against an ABI.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Resolved {
    abi: KernelAbi,
    /// Requested rights per group.
    req_fs: FsAccess,
    req_net: NetAccess,
    req_scopes: LandlockScope,
    /// What goes to the kernel.
    fs: FsAccess,
    net: NetAccess,
    scopes: LandlockScope,
    missing: Vec<LandlockFeature>,
    notes: Vec<LandlockNote>,
}

fn lowest_missing<T: Copy + PartialEq + bitflags::Flags>(
    missing: T,
    table: &[(T, LandlockFeature)],
    out: &mut Vec<LandlockFeature>,
) {
    for (flag, feature) in table {
        if missing.contains(*flag) && !out.contains(feature) {
            out.push(*feature);
        }
    }
}

/// Checks `policy` against a kernel with Landlock status `abi`, enforcing the
/// compatibility levels. Pure: testable for any ABI.
fn resolve(policy: &LandlockPolicy, abi: KernelAbi) -> Result<Resolved, LandlockError> {
    let req_fs = policy.fs_requested();
    let req_net = policy.net_requested();
    let req_scopes = policy.scopes;
    let groups = [
        (
            LandlockGroup::Filesystem,
            !req_fs.is_empty(),
            policy.fs_compat,
        ),
        (
            LandlockGroup::Network,
            !req_net.is_empty(),
            policy.net_compat,
        ),
        (
            LandlockGroup::Scopes,
            !req_scopes.is_empty(),
            policy.scope_compat,
        ),
    ];
    let version = match abi {
        KernelAbi::Available(v) => v,
        KernelAbi::Unavailable(reason) => {
            for (group, requested, level) in groups {
                if requested && level == CompatLevel::HardRequirement {
                    return Err(LandlockError::Unavailable { group, reason });
                }
            }
            let mut missing = Vec::new();
            if !req_fs.is_empty() || !req_net.is_empty() || !req_scopes.is_empty() {
                missing.push(LandlockFeature::Filesystem);
            }
            lowest_missing(req_fs, FS_FEATURES, &mut missing);
            lowest_missing(req_net, NET_FEATURES, &mut missing);
            lowest_missing(req_scopes, SCOPE_FEATURES, &mut missing);
            missing.sort_by_key(|f| (f.abi(), *f));
            return Ok(Resolved {
                abi,
                req_fs,
                req_net,
                req_scopes,
                fs: FsAccess::empty(),
                net: NetAccess::empty(),
                scopes: LandlockScope::empty(),
                missing,
                notes: Vec::new(),
            });
        }
    };

    let fs = req_fs & FsAccess::supported_by(version);
    let net = req_net & NetAccess::supported_by(version);
    let scopes = req_scopes & LandlockScope::supported_by(version);
    let mut notes = Vec::new();
    // On ABI 1 reparenting is always denied: stricter than asked, so not a
    // missing right.
    let mut fs_missing = req_fs - fs;
    if fs_missing.contains(FsAccess::REFER) {
        fs_missing -= FsAccess::REFER;
        notes.push(LandlockNote::ReferAlwaysDenied);
    }
    let net_missing = req_net - net;
    let scopes_missing = req_scopes - scopes;

    let mut missing = Vec::new();
    let checks: [(LandlockGroup, CompatLevel, Vec<LandlockFeature>); 3] = [
        (LandlockGroup::Filesystem, policy.fs_compat, {
            let mut v = Vec::new();
            lowest_missing(fs_missing, FS_FEATURES, &mut v);
            v
        }),
        (LandlockGroup::Network, policy.net_compat, {
            let mut v = Vec::new();
            lowest_missing(net_missing, NET_FEATURES, &mut v);
            v
        }),
        (LandlockGroup::Scopes, policy.scope_compat, {
            let mut v = Vec::new();
            lowest_missing(scopes_missing, SCOPE_FEATURES, &mut v);
            v
        }),
    ];
    for (group, level, mut features) in checks {
        features.sort_by_key(|f| (f.abi(), *f));
        if let Some(first) = features.first() {
            if level == CompatLevel::HardRequirement {
                return Err(LandlockError::Unsupported {
                    group,
                    feature: *first,
                    kernel_abi: version,
                });
            }
        }
        missing.extend(features);
    }
    missing.sort_by_key(|f| (f.abi(), *f));
    missing.dedup();
    Ok(Resolved {
        abi,
        req_fs,
        req_net,
        req_scopes,
        fs,
        net,
        scopes,
        missing,
        notes,
    })
}

fn group_status(requested: u64, effective: u64, enforced: bool) -> LandlockEnforcement {
    if requested == 0 {
        LandlockEnforcement::NotRequested
    } else if !enforced || effective & requested == 0 {
        LandlockEnforcement::NotEnforced
    } else if effective & requested == requested {
        LandlockEnforcement::FullyEnforced
    } else {
        LandlockEnforcement::PartiallyEnforced
    }
}

fn build_report(resolved: &Resolved, enforced: bool, notes: Vec<LandlockNote>) -> LandlockReport {
    // For the report, REFER on ABI 1 counts as enforced (it is always denied).
    let mut eff_fs = resolved.fs;
    if resolved.abi.version() >= 1 && resolved.req_fs.contains(FsAccess::REFER) {
        eff_fs |= FsAccess::REFER;
    }
    let fs = |mask: FsAccess| {
        group_status(
            (resolved.req_fs & mask).bits(),
            (eff_fs & mask).bits(),
            enforced,
        )
    };
    let net = |mask: NetAccess| {
        group_status(
            (resolved.req_net & mask).bits(),
            (resolved.net & mask).bits(),
            enforced,
        )
    };
    let scope = |mask: LandlockScope| {
        group_status(
            (resolved.req_scopes & mask).bits(),
            (resolved.scopes & mask).bits(),
            enforced,
        )
    };
    let write_mask = FsAccess::WRITE - FsAccess::TRUNCATE - FsAccess::IOCTL_DEV;
    let mut merged = resolved.notes.clone();
    merged.extend(notes);
    let groups = [
        fs(FsAccess::READ),
        fs(write_mask),
        fs(FsAccess::EXECUTE),
        fs(FsAccess::TRUNCATE),
        fs(FsAccess::IOCTL_DEV),
        fs(FsAccess::RESOLVE_UNIX),
        net(NetAccess::BIND_TCP | NetAccess::BIND_UDP),
        net(NetAccess::CONNECT_TCP | NetAccess::CONNECT_SEND_UDP),
        scope(LandlockScope::ABSTRACT_UNIX_SOCKET),
        scope(LandlockScope::SIGNAL),
    ];
    let requested: Vec<_> = groups
        .iter()
        .filter(|s| **s != LandlockEnforcement::NotRequested)
        .collect();
    let status = if requested.is_empty() {
        LandlockEnforcement::NotRequested
    } else if requested
        .iter()
        .all(|s| **s == LandlockEnforcement::FullyEnforced)
    {
        LandlockEnforcement::FullyEnforced
    } else if requested
        .iter()
        .all(|s| **s == LandlockEnforcement::NotEnforced)
    {
        LandlockEnforcement::NotEnforced
    } else {
        LandlockEnforcement::PartiallyEnforced
    };
    let [
        fs_read,
        fs_write,
        fs_exec,
        fs_truncate,
        fs_ioctl_dev,
        fs_resolve_unix,
        net_bind,
        net_connect,
        scope_abstract_unix_socket,
        scope_signal,
    ] = groups;
    LandlockReport {
        abi: resolved.abi.version(),
        unavailable: match resolved.abi {
            KernelAbi::Unavailable(reason) => Some(reason),
            KernelAbi::Available(_) => None,
        },
        status,
        fs_read,
        fs_write,
        fs_exec,
        fs_truncate,
        fs_ioctl_dev,
        fs_resolve_unix,
        net_bind,
        net_connect,
        scope_abstract_unix_socket,
        scope_signal,
        missing: resolved.missing.clone(),
        notes: merged,
    }
}

/// A policy turned into a kernel ruleset, ready to be applied by any number
/// of processes.
#[derive(Debug)]
pub(crate) struct PreparedLandlock {
    fd: Option<OwnedFd>,
    abi: KernelAbi,
    report: LandlockReport,
}

impl PreparedLandlock {
    /// The ruleset to pass to [`restrict_self`]; `None` when there is nothing
    /// to enforce (nothing requested, or best-effort on a kernel without
    /// Landlock).
    pub(crate) fn fd(&self) -> Option<BorrowedFd<'_>> {
        self.fd.as_ref().map(|fd| fd.as_fd())
    }

    /// What the ruleset enforces.
    pub(crate) fn report(&self) -> &LandlockReport {
        &self.report
    }

    /// The kernel's Landlock ABI version (0 when unavailable).
    pub(crate) fn abi(&self) -> u32 {
        self.abi.version()
    }
}

fn open_path(path: &Path) -> io::Result<(OwnedFd, bool)> {
    use nix::fcntl::{OFlag, open};
    use nix::sys::stat::{Mode, SFlag, fstat};
    let fd = open(path, OFlag::O_PATH | OFlag::O_CLOEXEC, Mode::empty())
        .map_err(|e| io::Error::from_raw_os_error(e as i32))?;
    let st = fstat(&fd).map_err(|e| io::Error::from_raw_os_error(e as i32))?;
    let is_dir = SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFDIR;
    Ok((fd, is_dir))
}

/// The kernel's errno behind a ruleset error when there is one (the crate
/// nests it a few sources deep); otherwise the error's description.
fn ruleset_io_error(e: landlock::RulesetError) -> io::Error {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(&e);
    while let Some(c) = cause {
        if let Some(n) = c
            .downcast_ref::<io::Error>()
            .and_then(io::Error::raw_os_error)
        {
            return io::Error::from_raw_os_error(n);
        }
        cause = c.source();
    }
    io::Error::other(e.to_string())
}

/// Builds the kernel ruleset for `policy` (parent side; allocates, opens
/// every rule path). The result is meant to be cached and shared.
pub(crate) fn prepare(policy: &LandlockPolicy) -> Result<PreparedLandlock, LandlockError> {
    prepare_with(policy, kernel_abi())
}

fn prepare_with(
    policy: &LandlockPolicy,
    abi: KernelAbi,
) -> Result<PreparedLandlock, LandlockError> {
    use landlock::{
        AccessFs, AccessNet, BitFlags, CompatLevel as LlCompat, Compatible, NetPort, PathBeneath,
        Ruleset, RulesetAttr, RulesetCreatedAttr, Scope,
    };

    let resolved = resolve(policy, abi)?;
    if resolved.fs.is_empty() && resolved.net.is_empty() && resolved.scopes.is_empty() {
        let report = build_report(&resolved, false, Vec::new());
        return Ok(PreparedLandlock {
            fd: None,
            abi,
            report,
        });
    }

    // Open the rule paths first: a missing path is the likeliest error.
    let mut notes = Vec::new();
    let mut path_rules = Vec::new();
    if !resolved.fs.is_empty() {
        for rule in &policy.fs_rules {
            match open_path(&rule.path) {
                Ok((fd, is_dir)) => {
                    let mut access = rule.access & resolved.fs;
                    if !is_dir {
                        access &= FsAccess::FILE;
                    }
                    if !access.is_empty() {
                        path_rules.push((fd, access, &rule.path));
                    }
                }
                Err(source) => match policy.fs_compat {
                    CompatLevel::HardRequirement if !rule.optional => {
                        return Err(LandlockError::RulePath {
                            path: rule.path.clone(),
                            source,
                        });
                    }
                    _ => notes.push(LandlockNote::SkippedPath {
                        path: rule.path.clone(),
                        errno: source.raw_os_error().unwrap_or(0),
                    }),
                },
            }
        }
    }

    let create_err = |e| LandlockError::CreateRuleset {
        source: ruleset_io_error(e),
    };
    // Everything given to the crate is already known to be supported: any
    // compatibility complaint from it is a bug, so make it an error.
    let mut ruleset = Ruleset::default().set_compatibility(LlCompat::HardRequirement);
    if !resolved.fs.is_empty() {
        ruleset = ruleset
            .handle_access(BitFlags::<AccessFs>::from_bits_truncate(resolved.fs.bits()))
            .map_err(create_err)?;
    }
    if !resolved.net.is_empty() {
        ruleset = ruleset
            .handle_access(BitFlags::<AccessNet>::from_bits_truncate(
                resolved.net.bits(),
            ))
            .map_err(create_err)?;
    }
    if !resolved.scopes.is_empty() {
        ruleset = ruleset
            .scope(BitFlags::<Scope>::from_bits_truncate(
                resolved.scopes.bits(),
            ))
            .map_err(create_err)?;
    }
    let mut created = ruleset.create().map_err(create_err)?;
    for (fd, access, path) in path_rules {
        let rule = PathBeneath::new(fd, BitFlags::<AccessFs>::from_bits_truncate(access.bits()));
        created = created
            .add_rule(rule)
            .map_err(|e| LandlockError::AddPathRule {
                path: path.clone(),
                source: ruleset_io_error(e),
            })?;
    }
    if !resolved.net.is_empty() {
        for rule in &policy.net_rules {
            let access = rule.access & resolved.net;
            if access.is_empty() {
                continue;
            }
            let port = NetPort::new(
                rule.port,
                BitFlags::<AccessNet>::from_bits_truncate(access.bits()),
            );
            created = created
                .add_rule(port)
                .map_err(|e| LandlockError::AddPortRule {
                    port: rule.port,
                    source: ruleset_io_error(e),
                })?;
        }
    }
    let fd: Option<OwnedFd> = created.into();
    let report = build_report(&resolved, fd.is_some(), notes);
    Ok(PreparedLandlock { fd, abi, report })
}

/// `landlock_restrict_self` flag restricting every thread of the process
/// (ABI 8, Linux 7.0).
pub(crate) const RESTRICT_SELF_TSYNC: u32 = 1 << 3;

/// Enforces the ruleset `fd` on the calling thread (and everything it later
/// creates). Child zone: one raw system call, no allocation. The thread must
/// have `no_new_privs` set or `CAP_SYS_ADMIN` in its user namespace.
pub(crate) fn restrict_self(fd: RawFd) -> Result<(), Errno> {
    restrict_self_flags(fd, 0)
}

/// [`restrict_self`] with `landlock_restrict_self` flags.
pub(crate) fn restrict_self_flags(fd: RawFd, flags: u32) -> Result<(), Errno> {
    // SAFETY: landlock_restrict_self takes a file descriptor and a flag word;
    // it reads no user memory. A bad fd is reported as EBADF.
    unsafe { sc!(libc::SYS_landlock_restrict_self, fd, flags) }.map(|_| ())
}

// ---------------------------------------------------------------------------
// Sandboxes: each program process builds its ruleset after pivot_root
// ---------------------------------------------------------------------------
//
// A ruleset prepared by the parent refers to inodes the parent can reach; a
// sandbox's fresh mounts (its tmpfs root, /tmp, /dev, /proc) do not exist
// yet. So for a sandbox the parent only checks the policy against the kernel
// (once per policy) and lowers it to plain data: the ruleset attribute with
// the rights already masked to what the kernel supports, one C string per
// rule path, one attribute per port rule. The program process then creates
// the ruleset, opens each path as it sees it and adds the rules, and
// restricts itself, with raw system calls only.

pub(crate) const LANDLOCK_RULE_PATH_BENEATH: usize = 1;
pub(crate) const LANDLOCK_RULE_NET_PORT: usize = 2;

/// `struct landlock_ruleset_attr` (Linux 6.12 layout; an older kernel
/// accepts it as long as the fields it does not know are zero, which the
/// masking guarantees).
#[repr(C)]
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct RulesetAttr {
    handled_access_fs: u64,
    handled_access_net: u64,
    scoped: u64,
}

/// `struct landlock_path_beneath_attr` (packed in the kernel's ABI).
#[repr(C, packed)]
#[derive(Clone, Copy)]
pub(crate) struct PathBeneathAttr {
    pub(crate) allowed_access: u64,
    pub(crate) parent_fd: i32,
}

/// `struct landlock_net_port_attr`.
#[repr(C)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NetPortAttr {
    pub(crate) allowed_access: u64,
    pub(crate) port: u64,
}

#[derive(Debug)]
pub(crate) struct SpawnPathRule {
    pub(crate) path: CString,
    /// Rights granted when the path is a directory.
    pub(crate) dir_access: u64,
    /// Rights granted when it is anything else.
    pub(crate) file_access: u64,
    pub(crate) optional: bool,
}

/// A [`LandlockPolicy`] lowered for sandboxes: plain data the program
/// process turns into a ruleset after `pivot_root` ([`apply_in_child`]).
#[derive(Debug)]
pub(crate) struct SpawnLandlock {
    pub(crate) attr: RulesetAttr,
    pub(crate) paths: Vec<SpawnPathRule>,
    pub(crate) ports: Vec<NetPortAttr>,
    /// Whether anything goes to the kernel (false: nothing requested, or
    /// best-effort on a kernel without Landlock).
    pub(crate) enforce: bool,
    /// The rule paths and ports, to name a failing rule.
    pub(crate) path_names: Vec<PathBuf>,
    pub(crate) port_names: Vec<u16>,
    pub(crate) report: LandlockReport,
}

/// Error index of `landlock_create_ruleset`.
pub(crate) const INDEX_CREATE: u32 = u32::MAX - 1;
/// Error index of `landlock_restrict_self`.
pub(crate) const INDEX_RESTRICT: u32 = u32::MAX;

impl SpawnLandlock {
    /// What the sandbox's ruleset enforces.
    pub(crate) fn report(&self) -> &LandlockReport {
        &self.report
    }

    /// Whether a ruleset is applied at all.
    pub(crate) fn enforces(&self) -> bool {
        self.enforce
    }

    /// The rule a child-side failure at `index` was about.
    pub(crate) fn target(&self, index: u32) -> Option<crate::error::Target> {
        let i = index as usize;
        if let Some(p) = self.path_names.get(i) {
            return Some(crate::error::Target::Path(p.clone()));
        }
        let j = i.checked_sub(self.path_names.len())?;
        self.port_names
            .get(j)
            .map(|p| crate::error::Target::Port(*p))
    }
}

/// Checks `policy` against the running kernel (probed once) and lowers it
/// for sandboxes. Parent side, once per policy.
pub(crate) fn lower_for_spawn(policy: &LandlockPolicy) -> Result<SpawnLandlock, crate::Error> {
    lower_for_spawn_with(policy, kernel_abi())
}

fn lower_for_spawn_with(
    policy: &LandlockPolicy,
    abi: KernelAbi,
) -> Result<SpawnLandlock, crate::Error> {
    use crate::error::{ConfigError, LandlockRuleProblem};
    use std::os::unix::ffi::OsStrExt;

    // Configuration errors first: they do not depend on the kernel.
    for rule in &policy.fs_rules {
        let reason = if !rule.path.is_absolute() {
            Some(LandlockRuleProblem::RelativePath)
        } else if rule.path.as_os_str().as_bytes().contains(&0) {
            Some(LandlockRuleProblem::NulByte)
        } else {
            None
        };
        if let Some(reason) = reason {
            return Err(ConfigError::LandlockRule {
                path: rule.path.clone(),
                reason,
            }
            .into());
        }
    }
    let resolved = resolve(policy, abi)?;
    let enforce =
        !(resolved.fs.is_empty() && resolved.net.is_empty() && resolved.scopes.is_empty());
    let mut paths = Vec::new();
    let mut path_names = Vec::new();
    let mut ports = Vec::new();
    let mut port_names = Vec::new();
    if enforce {
        for rule in &policy.fs_rules {
            let dir_access = rule.access & resolved.fs;
            if dir_access.is_empty() {
                continue;
            }
            paths.push(SpawnPathRule {
                path: CString::new(rule.path.as_os_str().as_bytes()).unwrap_or_default(),
                dir_access: dir_access.bits(),
                file_access: (dir_access & FsAccess::FILE).bits(),
                // Under best-effort a missing path is left out, as prepare
                // does.
                optional: rule.optional || policy.fs_compat == CompatLevel::BestEffort,
            });
            path_names.push(rule.path.clone());
        }
        for rule in &policy.net_rules {
            let access = rule.access & resolved.net;
            if access.is_empty() {
                continue;
            }
            ports.push(NetPortAttr {
                allowed_access: access.bits(),
                port: u64::from(rule.port),
            });
            port_names.push(rule.port);
        }
    }
    let report = build_report(&resolved, enforce, Vec::new());
    Ok(SpawnLandlock {
        attr: RulesetAttr {
            handled_access_fs: resolved.fs.bits(),
            handled_access_net: resolved.net.bits(),
            scoped: resolved.scopes.bits(),
        },
        paths,
        ports,
        enforce,
        path_names,
        port_names,
        report,
    })
}

// ---------------------------------------------------------------------------
// Mirroring a sandbox's filesystem plan
// ---------------------------------------------------------------------------

impl LandlockPolicy {
    /// Filesystem rules granting what a sandbox's filesystem plan exposes,
    /// and nothing else: read and execute where the plan mounts read-only
    /// (the host's system directories, `bind_ro`, a custom root), read,
    /// write and execute where it mounts writable (`bind_rw`, tmpfs,
    /// overlays, `/tmp`), read on `/proc` and on created files and
    /// directories, read and write on the minimal `/dev`'s devices.
    /// Rules for optional binds, and for system directories the host does
    /// not have, are optional too ([`allow_try`](Self::allow_try)).
    ///
    /// With `mount_namespace` the rule paths are the plan's destinations,
    /// as the program sees them: the rules back up the mounts. Without one
    /// (where namespaces are unavailable, as in a container that blocks
    /// user namespaces), nothing is mounted and the rules alone stand in for
    /// the plan, on host paths: then only the host system view (without the
    /// host's secrets under `/etc`, which are left out of the rules), the
    /// minimal `/dev`'s devices, `/proc`, and binds whose source is their
    /// destination can be mirrored. `/tmp` is not granted (there is no
    /// private `/tmp` to give); anything else is a
    /// [`ConfigError::LandlockMirror`](crate::ConfigError::LandlockMirror).
    ///
    /// The filesystem group stays a [`CompatLevel::HardRequirement`].
    pub fn from_fs_plan(
        fs: &crate::fs::FsConfig,
        mount_namespace: bool,
    ) -> Result<Self, crate::error::ConfigError> {
        let mut policy = Self::new();
        policy.restrict_fs();
        policy.add_fs_plan(fs, mount_namespace)?;
        Ok(policy)
    }

    /// Adds the rules of [`from_fs_plan`](Self::from_fs_plan) to this
    /// policy.
    pub(crate) fn add_fs_plan(
        &mut self,
        fs: &crate::fs::FsConfig,
        mount_ns: bool,
    ) -> Result<(), crate::error::ConfigError> {
        use crate::error::ConfigError;
        use crate::fs::{FsOp, OpName, RootKind};
        const WRITABLE: FsAccess = FsAccess::READ_WRITE.union(FsAccess::EXECUTE);
        self.restrict_fs();
        let cannot = |op: OpName, dest: &Path| ConfigError::LandlockMirror {
            op,
            dest: dest.to_owned(),
        };
        match &fs.root {
            RootKind::HostSystem => {
                for dir in crate::fs::SYSTEM_DIRS {
                    let access = if *dir == "/etc" {
                        FsAccess::READ
                    } else {
                        FsAccess::READ_EXEC
                    };
                    if mount_ns || *dir != "/etc" || !fs.mask_secrets {
                        self.allow_try(dir, access);
                    } else {
                        // Landlock cannot take back part of a granted
                        // hierarchy: grant /etc piecewise around the secrets.
                        let secrets = crate::fs::host_secrets();
                        grant_around(self, Path::new(dir), &secrets, access);
                    }
                }
            }
            RootKind::Dir(_) if mount_ns => {
                self.allow("/", FsAccess::READ_EXEC);
            }
            RootKind::Empty if mount_ns => {}
            _ => return Err(cannot(OpName::Root, Path::new("/"))),
        }
        if fs.proc {
            self.allow_try("/proc", FsAccess::READ);
        }
        if fs.dev {
            for d in crate::fs::DEVICES {
                self.allow_try(Path::new("/dev").join(d), FsAccess::READ_WRITE);
            }
            if mount_ns {
                self.allow_try("/dev", FsAccess::READ);
                self.allow_try("/dev/pts", FsAccess::READ_WRITE);
                self.allow_try("/dev/shm", WRITABLE);
            }
        }
        if fs.tmp && mount_ns {
            self.allow("/tmp", WRITABLE);
        }
        for op in &fs.ops {
            let dest = op.dest();
            match op {
                FsOp::Bind {
                    src,
                    read_only,
                    optional,
                    ..
                } => {
                    if !mount_ns && !same_path(src, dest) {
                        return Err(cannot(op.name(), dest));
                    }
                    let access = if *read_only {
                        FsAccess::READ_EXEC
                    } else {
                        WRITABLE
                    };
                    if *optional {
                        self.allow_try(dest, access);
                    } else {
                        self.allow(dest, access);
                    }
                }
                _ if !mount_ns => return Err(cannot(op.name(), dest)),
                FsOp::Tmpfs { .. } | FsOp::Overlay { .. } => {
                    self.allow(dest, WRITABLE);
                }
                FsOp::Dir { .. } | FsOp::File { .. } => {
                    self.allow(dest, FsAccess::READ);
                }
                // A symlink is followed to its target, which needs a rule
                // of its own; a mask hides what is below it.
                _ => {}
            }
        }
        Ok(())
    }
}

/// Whether two absolute paths name the same place, ignoring `.` and
/// repeated slashes (not symbolic links).
fn same_path(a: &Path, b: &Path) -> bool {
    a.components().eq(b.components())
}

/// Grants `access` on `dir` except beneath the paths in `secrets`: the
/// entries of every directory on the way to a secret are granted one by
/// one, the secret itself is not.
fn grant_around(policy: &mut LandlockPolicy, dir: &Path, secrets: &[PathBuf], access: FsAccess) {
    if secrets.iter().any(|s| s == dir) {
        return;
    }
    if !secrets.iter().any(|s| s.starts_with(dir)) {
        policy.allow_try(dir, access);
        return;
    }
    let Ok(rd) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<PathBuf> = rd.filter_map(|e| e.ok()).map(|e| e.path()).collect();
    entries.sort();
    for e in entries {
        grant_around(policy, &e, secrets, access);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::zone::landlock::apply_in_child;

    fn fs_policy() -> LandlockPolicy {
        let mut p = LandlockPolicy::new();
        p.allow_read("/usr").allow_read_write("/tmp");
        p
    }

    #[test]
    fn bits_match_the_kernel_and_the_landlock_crate() {
        use landlock::{AccessFs, AccessNet, Scope};
        let pairs: &[(FsAccess, AccessFs)] = &[
            (FsAccess::EXECUTE, AccessFs::Execute),
            (FsAccess::WRITE_FILE, AccessFs::WriteFile),
            (FsAccess::READ_FILE, AccessFs::ReadFile),
            (FsAccess::READ_DIR, AccessFs::ReadDir),
            (FsAccess::REMOVE_DIR, AccessFs::RemoveDir),
            (FsAccess::REMOVE_FILE, AccessFs::RemoveFile),
            (FsAccess::MAKE_CHAR, AccessFs::MakeChar),
            (FsAccess::MAKE_DIR, AccessFs::MakeDir),
            (FsAccess::MAKE_REG, AccessFs::MakeReg),
            (FsAccess::MAKE_SOCK, AccessFs::MakeSock),
            (FsAccess::MAKE_FIFO, AccessFs::MakeFifo),
            (FsAccess::MAKE_BLOCK, AccessFs::MakeBlock),
            (FsAccess::MAKE_SYM, AccessFs::MakeSym),
            (FsAccess::REFER, AccessFs::Refer),
            (FsAccess::TRUNCATE, AccessFs::Truncate),
            (FsAccess::IOCTL_DEV, AccessFs::IoctlDev),
            (FsAccess::RESOLVE_UNIX, AccessFs::ResolveUnix),
        ];
        for (ours, theirs) in pairs {
            assert_eq!(ours.bits(), *theirs as u64, "{ours:?}");
        }
        assert_eq!(pairs.len(), FsAccess::all().iter().count());
        assert_eq!(NetAccess::BIND_TCP.bits(), AccessNet::BindTcp as u64);
        assert_eq!(NetAccess::CONNECT_TCP.bits(), AccessNet::ConnectTcp as u64);
        assert_eq!(NetAccess::BIND_UDP.bits(), AccessNet::BindUdp as u64);
        assert_eq!(
            NetAccess::CONNECT_SEND_UDP.bits(),
            AccessNet::ConnectSendUdp as u64
        );
        assert_eq!(
            LandlockScope::ABSTRACT_UNIX_SOCKET.bits(),
            Scope::AbstractUnixSocket as u64
        );
        assert_eq!(LandlockScope::SIGNAL.bits(), Scope::Signal as u64);
    }

    #[test]
    fn supported_rights_follow_the_abi_table() {
        use landlock::{ABI, Access, AccessFs, AccessNet, Scope};
        let abis = [
            ABI::V1,
            ABI::V2,
            ABI::V3,
            ABI::V4,
            ABI::V5,
            ABI::V6,
            ABI::V7,
            ABI::V8,
            ABI::V9,
            ABI::V10,
        ];
        for (i, abi) in abis.into_iter().enumerate() {
            let v = i as u32 + 1;
            assert_eq!(
                FsAccess::supported_by(v).bits(),
                AccessFs::from_all(abi).bits(),
                "fs at ABI {v}"
            );
            assert_eq!(
                NetAccess::supported_by(v).bits(),
                AccessNet::from_all(abi).bits(),
                "net at ABI {v}"
            );
            assert_eq!(
                LandlockScope::supported_by(v).bits(),
                Scope::from_all(abi).bits(),
                "scopes at ABI {v}"
            );
        }
        assert!(FsAccess::supported_by(0).is_empty());
        assert_eq!(FsAccess::FILE.bits(), AccessFs::from_file(ABI::V10).bits());
    }

    #[test]
    fn bundles() {
        assert!(FsAccess::WRITE.contains(FsAccess::TRUNCATE | FsAccess::IOCTL_DEV));
        assert!(FsAccess::WRITE.contains(FsAccess::REFER));
        assert!(!FsAccess::WRITE.contains(FsAccess::RESOLVE_UNIX));
        assert!(!FsAccess::DEFAULT_HANDLED.contains(FsAccess::RESOLVE_UNIX));
        assert_eq!(FsAccess::DEFAULT_HANDLED, FsAccess::supported_by(5));
        assert!((FsAccess::READ & FsAccess::WRITE).is_empty());
    }

    #[test]
    fn features_name_abi_and_kernel() {
        assert_eq!(LandlockFeature::FsTruncate.abi(), 3);
        assert_eq!(LandlockFeature::FsTruncate.linux_version(), "6.2");
        assert_eq!(LandlockFeature::NetBindTcp.linux_version(), "6.7");
        assert_eq!(LandlockFeature::FsIoctlDev.linux_version(), "6.10");
        assert_eq!(LandlockFeature::ScopeSignal.linux_version(), "6.12");
        assert_eq!(
            LandlockFeature::FsTruncate.to_string(),
            "the truncate right (Landlock ABI 3, Linux 6.2)"
        );
    }

    #[test]
    fn empty_policy_requests_nothing() {
        let p = LandlockPolicy::new();
        assert!(p.is_empty());
        let r = resolve(&p, KernelAbi::Available(7)).unwrap();
        let report = build_report(&r, false, Vec::new());
        assert_eq!(report.status, LandlockEnforcement::NotRequested);
        assert_eq!(report.fs_read, LandlockEnforcement::NotRequested);
        // Even without Landlock an empty policy is fine.
        let r = resolve(&p, KernelAbi::Unavailable(LandlockUnavailable::NotEnabled)).unwrap();
        assert!(r.missing.is_empty());
    }

    #[test]
    fn handled_rights_include_rule_rights() {
        let mut p = LandlockPolicy::new();
        p.handle_fs(FsAccess::READ_FILE)
            .allow("/tmp", FsAccess::WRITE_FILE);
        assert_eq!(p.fs_requested(), FsAccess::READ_FILE | FsAccess::WRITE_FILE);
        let mut p = LandlockPolicy::new();
        p.allow("/tmp", FsAccess::RESOLVE_UNIX);
        assert_eq!(
            p.fs_requested(),
            FsAccess::DEFAULT_HANDLED | FsAccess::RESOLVE_UNIX
        );
        let mut p = LandlockPolicy::new();
        p.restrict_fs();
        assert_eq!(p.fs_requested(), FsAccess::DEFAULT_HANDLED);
        assert!(!p.is_empty());
    }

    #[test]
    fn hard_requirement_names_the_missing_right() {
        let p = fs_policy();
        // ABI 2 (Linux 6.1): truncate is the first thing missing.
        match resolve(&p, KernelAbi::Available(2)) {
            Err(LandlockError::Unsupported {
                group: LandlockGroup::Filesystem,
                feature: LandlockFeature::FsTruncate,
                kernel_abi: 2,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        // ABI 4: device ioctl.
        match resolve(&p, KernelAbi::Available(4)) {
            Err(LandlockError::Unsupported {
                feature: LandlockFeature::FsIoctlDev,
                ..
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        assert!(resolve(&p, KernelAbi::Available(5)).is_ok());
        let err = resolve(&p, KernelAbi::Available(2)).unwrap_err();
        let msg = err.to_string();
        assert!(msg.starts_with("failed to "), "{msg}");
        assert!(msg.contains("Linux 6.2"), "{msg}");
    }

    #[test]
    fn refer_on_abi_1_is_not_a_missing_right() {
        let mut p = LandlockPolicy::new();
        p.handle_fs(FsAccess::supported_by(1) | FsAccess::REFER);
        let r = resolve(&p, KernelAbi::Available(1)).unwrap();
        assert!(r.missing.is_empty());
        assert_eq!(r.notes, vec![LandlockNote::ReferAlwaysDenied]);
        assert!(!r.fs.contains(FsAccess::REFER));
        let report = build_report(&r, true, Vec::new());
        assert_eq!(report.fs_write, LandlockEnforcement::FullyEnforced);
        assert_eq!(report.status, LandlockEnforcement::FullyEnforced);
    }

    #[test]
    fn best_effort_reports_what_is_missing() {
        let mut p = fs_policy();
        p.allow_tcp_connect(443)
            .scope(LandlockScope::SIGNAL)
            .compat(CompatLevel::BestEffort);
        let r = resolve(&p, KernelAbi::Available(2)).unwrap();
        assert_eq!(
            r.missing,
            vec![
                LandlockFeature::FsTruncate,
                LandlockFeature::NetConnectTcp,
                LandlockFeature::FsIoctlDev,
                LandlockFeature::ScopeSignal,
            ]
        );
        assert!(r.net.is_empty());
        assert!(r.scopes.is_empty());
        let report = build_report(&r, true, Vec::new());
        assert_eq!(report.abi, 2);
        assert_eq!(report.fs_read, LandlockEnforcement::FullyEnforced);
        assert_eq!(report.fs_write, LandlockEnforcement::FullyEnforced);
        assert_eq!(report.fs_exec, LandlockEnforcement::FullyEnforced);
        assert_eq!(report.fs_truncate, LandlockEnforcement::NotEnforced);
        assert_eq!(report.fs_ioctl_dev, LandlockEnforcement::NotEnforced);
        assert_eq!(report.fs_resolve_unix, LandlockEnforcement::NotRequested);
        assert_eq!(report.net_bind, LandlockEnforcement::NotRequested);
        assert_eq!(report.net_connect, LandlockEnforcement::NotEnforced);
        assert_eq!(report.scope_signal, LandlockEnforcement::NotEnforced);
        assert_eq!(
            report.scope_abstract_unix_socket,
            LandlockEnforcement::NotRequested
        );
        assert_eq!(report.status, LandlockEnforcement::PartiallyEnforced);
    }

    #[test]
    fn groups_have_their_own_compat_level() {
        let mut p = fs_policy();
        p.allow_tcp_bind(80).net_compat(CompatLevel::BestEffort);
        // The network group may degrade on ABI 3, the fs group may not.
        match resolve(&p, KernelAbi::Available(3)) {
            Err(LandlockError::Unsupported {
                group: LandlockGroup::Filesystem,
                feature: LandlockFeature::FsIoctlDev,
                ..
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        let r = resolve(&p, KernelAbi::Available(5)).unwrap();
        assert_eq!(r.net, NetAccess::BIND_TCP);
        assert!(r.missing.is_empty());
        p.fs_compat(CompatLevel::BestEffort)
            .net_compat(CompatLevel::HardRequirement);
        match resolve(&p, KernelAbi::Available(3)) {
            Err(LandlockError::Unsupported {
                group: LandlockGroup::Network,
                feature: LandlockFeature::NetBindTcp,
                kernel_abi: 3,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn partial_group_status() {
        let mut p = LandlockPolicy::new();
        p.allow_net(53, NetAccess::CONNECT_TCP | NetAccess::CONNECT_SEND_UDP)
            .net_compat(CompatLevel::BestEffort);
        let r = resolve(&p, KernelAbi::Available(7)).unwrap();
        assert_eq!(r.missing, vec![LandlockFeature::NetConnectSendUdp]);
        let report = build_report(&r, true, Vec::new());
        assert_eq!(report.net_connect, LandlockEnforcement::PartiallyEnforced);
        assert_eq!(report.status, LandlockEnforcement::PartiallyEnforced);
        let r = resolve(&p, KernelAbi::Available(10)).unwrap();
        let report = build_report(&r, true, Vec::new());
        assert_eq!(report.net_connect, LandlockEnforcement::FullyEnforced);
        assert_eq!(report.status, LandlockEnforcement::FullyEnforced);
    }

    #[test]
    fn unavailable_landlock() {
        let p = fs_policy();
        let reason = LandlockUnavailable::NotImplemented;
        match resolve(&p, KernelAbi::Unavailable(reason)) {
            Err(LandlockError::Unavailable {
                group: LandlockGroup::Filesystem,
                reason: LandlockUnavailable::NotImplemented,
            }) => {}
            other => panic!("unexpected {other:?}"),
        }
        let mut p = fs_policy();
        p.compat(CompatLevel::BestEffort);
        let r = resolve(&p, KernelAbi::Unavailable(reason)).unwrap();
        assert_eq!(r.missing.first(), Some(&LandlockFeature::Filesystem));
        let report = build_report(&r, false, Vec::new());
        assert_eq!(report.abi, 0);
        assert_eq!(report.unavailable, Some(reason));
        assert_eq!(report.status, LandlockEnforcement::NotEnforced);
        assert_eq!(report.fs_read, LandlockEnforcement::NotEnforced);
    }

    #[test]
    fn mirror_mounts_grants_the_union() {
        let p = LandlockPolicy::mirror_mounts(["/usr", "/etc"], ["/tmp"], ["/usr"]);
        assert_eq!(
            p.fs_rules,
            vec![
                FsRule {
                    path: "/usr".into(),
                    access: FsAccess::READ,
                    optional: false,
                },
                FsRule {
                    path: "/etc".into(),
                    access: FsAccess::READ,
                    optional: false,
                },
                FsRule {
                    path: "/tmp".into(),
                    access: FsAccess::READ_WRITE,
                    optional: false,
                },
                FsRule {
                    path: "/usr".into(),
                    access: FsAccess::READ_EXEC,
                    optional: false,
                },
            ]
        );
        assert_eq!(p.fs_requested(), FsAccess::DEFAULT_HANDLED);
        let empty = LandlockPolicy::mirror_mounts(
            Vec::<PathBuf>::new(),
            Vec::<PathBuf>::new(),
            Vec::<PathBuf>::new(),
        );
        assert!(
            !empty.is_empty(),
            "an empty mount plan still denies everything"
        );
    }

    // ---- Lowering for sandboxes and mirroring (pure) ----

    #[test]
    fn lowering_masks_rights_to_the_kernel() {
        let mut p = LandlockPolicy::new();
        p.allow_read_write("/tmp")
            .allow_try("/opt", FsAccess::READ)
            .allow_tcp_connect(443)
            .scope(LandlockScope::SIGNAL)
            .compat(CompatLevel::BestEffort);

        // ABI 2 (Linux 6.1): no truncate, ioctl, ports or scopes.
        let l = lower_for_spawn_with(&p, KernelAbi::Available(2)).unwrap();
        let fs2 = FsAccess::DEFAULT_HANDLED & FsAccess::supported_by(2);
        assert_eq!(
            l.attr,
            RulesetAttr {
                handled_access_fs: fs2.bits(),
                handled_access_net: 0,
                scoped: 0,
            }
        );
        assert!(l.enforces());
        assert!(l.ports.is_empty());
        assert_eq!(l.paths.len(), 2);
        assert_eq!(l.paths[0].path.as_bytes(), b"/tmp");
        assert_eq!(l.paths[0].dir_access, (FsAccess::READ_WRITE & fs2).bits());
        assert_eq!(
            l.paths[0].file_access,
            (FsAccess::READ_WRITE & fs2 & FsAccess::FILE).bits()
        );
        // Best-effort: every rule may be left out when its path is missing.
        assert!(l.paths.iter().all(|r| r.optional));
        assert_eq!(
            l.report().missing.first(),
            Some(&LandlockFeature::FsTruncate)
        );
        assert_eq!(l.report().net_connect, LandlockEnforcement::NotEnforced);

        // ABI 6: everything requested goes to the kernel.
        let l = lower_for_spawn_with(&p, KernelAbi::Available(6)).unwrap();
        assert_eq!(l.attr.handled_access_fs, FsAccess::DEFAULT_HANDLED.bits());
        assert_eq!(l.attr.handled_access_net, NetAccess::CONNECT_TCP.bits());
        assert_eq!(l.attr.scoped, LandlockScope::SIGNAL.bits());
        assert_eq!(
            l.ports,
            [NetPortAttr {
                allowed_access: NetAccess::CONNECT_TCP.bits(),
                port: 443
            }]
        );
        assert_eq!(l.report().status, LandlockEnforcement::FullyEnforced);
        use crate::error::Target;
        assert_eq!(l.target(0), Some(Target::Path("/tmp".into())));
        assert_eq!(l.target(1), Some(Target::Path("/opt".into())));
        assert_eq!(l.target(2), Some(Target::Port(443)));
        assert_eq!(l.target(3), None);
        assert_eq!(l.target(INDEX_CREATE), None);
        assert_eq!(l.target(INDEX_RESTRICT), None);

        // Hard requirements: only the optional rule is optional.
        p.compat(CompatLevel::HardRequirement);
        let l = lower_for_spawn_with(&p, KernelAbi::Available(6)).unwrap();
        assert_eq!(
            l.paths.iter().map(|r| r.optional).collect::<Vec<_>>(),
            [false, true]
        );
        assert!(matches!(
            lower_for_spawn_with(&p, KernelAbi::Available(3)),
            Err(crate::Error::Landlock(LandlockError::Unsupported {
                group: LandlockGroup::Filesystem,
                feature: LandlockFeature::FsIoctlDev,
                kernel_abi: 3,
            }))
        ));
        // No Landlock at all, best-effort: nothing to apply, and reported.
        p.compat(CompatLevel::BestEffort);
        let l = lower_for_spawn_with(&p, KernelAbi::Unavailable(LandlockUnavailable::NotEnabled))
            .unwrap();
        assert!(!l.enforces());
        assert_eq!(l.report().status, LandlockEnforcement::NotEnforced);
        assert_eq!(
            l.report().unavailable,
            Some(LandlockUnavailable::NotEnabled)
        );
    }

    #[test]
    fn lowering_rejects_relative_and_nul_paths() {
        use crate::error::{ConfigError, LandlockRuleProblem};
        for (path, want) in [
            ("rel", LandlockRuleProblem::RelativePath),
            ("/a\0b", LandlockRuleProblem::NulByte),
        ] {
            let mut p = LandlockPolicy::new();
            p.allow_read(path);
            match lower_for_spawn_with(&p, KernelAbi::Available(6)) {
                Err(crate::Error::Config(ConfigError::LandlockRule { reason, .. })) => {
                    assert_eq!(reason, want)
                }
                other => panic!("{path:?}: unexpected {other:?}"),
            }
        }
    }

    fn rule(p: &LandlockPolicy, path: &str) -> Option<(FsAccess, bool)> {
        p.fs_rules
            .iter()
            .find(|r| r.path == Path::new(path))
            .map(|r| (r.access, r.optional))
    }

    #[test]
    fn mirroring_a_plan_with_a_mount_namespace_uses_destinations() {
        use crate::fs::{FsConfig, FsOp};
        let writable = FsAccess::READ_WRITE | FsAccess::EXECUTE;
        let mut fs = FsConfig::default();
        fs.ops.push(FsOp::Bind {
            src: "/host/proj".into(),
            dest: "/work".into(),
            read_only: false,
            optional: false,
            devices: false,
        });
        fs.ops.push(FsOp::Bind {
            src: "/host/opt".into(),
            dest: "/opt".into(),
            read_only: true,
            optional: true,
            devices: false,
        });
        fs.ops.push(FsOp::File {
            dest: "/etc/motd".into(),
            contents: Vec::new(),
            mode: None,
        });
        let p = LandlockPolicy::from_fs_plan(&fs, true).unwrap();
        assert_eq!(rule(&p, "/usr"), Some((FsAccess::READ_EXEC, true)));
        assert_eq!(rule(&p, "/etc"), Some((FsAccess::READ, true)));
        assert_eq!(rule(&p, "/proc"), Some((FsAccess::READ, true)));
        assert_eq!(rule(&p, "/dev/null"), Some((FsAccess::READ_WRITE, true)));
        assert_eq!(rule(&p, "/tmp"), Some((writable, false)));
        assert_eq!(rule(&p, "/work"), Some((writable, false)));
        assert_eq!(rule(&p, "/opt"), Some((FsAccess::READ_EXEC, true)));
        assert_eq!(rule(&p, "/etc/motd"), Some((FsAccess::READ, false)));
        assert_eq!(rule(&p, "/host/proj"), None);
        assert_eq!(p.fs_requested(), FsAccess::DEFAULT_HANDLED);

        let mut fs = FsConfig {
            root: crate::fs::RootKind::Dir("/img".into()),
            tmp: false,
            proc: false,
            dev: false,
            ..FsConfig::default()
        };
        fs.ops.clear();
        let p = LandlockPolicy::from_fs_plan(&fs, true).unwrap();
        assert_eq!(p.fs_rules.len(), 1);
        assert_eq!(rule(&p, "/"), Some((FsAccess::READ_EXEC, false)));
    }

    #[test]
    fn mirroring_without_a_mount_namespace_uses_host_paths() {
        use crate::error::ConfigError;
        use crate::fs::{FsConfig, FsOp, OpName};
        let mut fs = FsConfig::default();
        fs.ops.push(FsOp::Bind {
            src: "/srv/data".into(),
            dest: "/srv/./data/".into(),
            read_only: true,
            optional: false,
            devices: false,
        });
        let p = LandlockPolicy::from_fs_plan(&fs, false).unwrap();
        assert_eq!(rule(&p, "/srv/./data/"), Some((FsAccess::READ_EXEC, false)));
        assert_eq!(rule(&p, "/tmp"), None, "no private /tmp to give");
        assert_eq!(rule(&p, "/dev"), None, "only the devices");
        assert_eq!(rule(&p, "/dev/null"), Some((FsAccess::READ_WRITE, true)));
        if !crate::fs::host_secrets().is_empty() {
            assert_eq!(rule(&p, "/etc"), None, "granted around the secrets");
        }
        for s in crate::fs::host_secrets() {
            assert!(
                !p.fs_rules.iter().any(|r| s.starts_with(&r.path)),
                "{s:?} is granted"
            );
        }
        fs.ops.push(FsOp::Mask {
            dest: "/etc/hosts".into(),
        });
        match LandlockPolicy::from_fs_plan(&fs, false) {
            Err(ConfigError::LandlockMirror { op, dest }) => {
                assert_eq!(op, OpName::Mask);
                assert_eq!(dest, Path::new("/etc/hosts"));
            }
            other => panic!("unexpected {other:?}"),
        }
    }

    #[test]
    fn granting_around_secrets() {
        let d = tempfile::tempdir().unwrap();
        let etc = d.path().join("etc");
        for sub in ["ssl/certs", "ssl/private", "skel"] {
            std::fs::create_dir_all(etc.join(sub)).unwrap();
        }
        for f in ["passwd", "shadow", "ssl/openssl.cnf"] {
            std::fs::write(etc.join(f), "x").unwrap();
        }
        let secrets = [etc.join("shadow"), etc.join("ssl/private")];
        let mut p = LandlockPolicy::new();
        grant_around(&mut p, &etc, &secrets, FsAccess::READ);
        let mut got: Vec<_> = p
            .fs_rules
            .iter()
            .map(|r| r.path.strip_prefix(&etc).unwrap().to_owned())
            .collect();
        got.sort();
        let want: Vec<PathBuf> = ["passwd", "skel", "ssl/certs", "ssl/openssl.cnf"]
            .iter()
            .map(PathBuf::from)
            .collect();
        assert_eq!(got, want);
        assert!(p.fs_rules.iter().all(|r| r.access == FsAccess::READ));
    }

    #[test]
    fn enforcement_display_says_whether_the_mirror_holds() {
        let mut p = LandlockPolicy::new();
        p.allow_read("/usr").compat(CompatLevel::BestEffort);
        let report = |abi| lower_for_spawn_with(&p, abi).unwrap().report().clone();
        let mut e = crate::enforcement::Enforcement {
            namespaces: crate::namespaces::Namespaces::empty(),
            uid: None,
            gid: None,
            filesystem: false,
            filesystem_template: false,
            cgroup: None,
            rlimit_fallbacks: Vec::new(),
            landlock: Some(report(KernelAbi::Available(2))),
            landlock_mirrors_fs: true,
            #[cfg(feature = "seccomp")]
            seccomp: None,
            net_filter: false,
        };
        let text = e.to_string();
        assert!(
            text.contains("filesystem: host, confined by Landlock rules mirroring the mount plan"),
            "{text}"
        );
        assert!(
            text.contains("landlock: ABI 2, partially enforced (fs_read: fully enforced"),
            "{text}"
        );
        assert!(text.contains("fs_truncate: not enforced"), "{text}");
        assert!(
            text.contains("missing: the truncate right (Landlock ABI 3, Linux 6.2)"),
            "{text}"
        );
        e.landlock = Some(report(KernelAbi::Unavailable(
            LandlockUnavailable::NotImplemented,
        )));
        let text = e.to_string();
        assert!(
            text.contains("filesystem: host, not enforced: Landlock rules mirroring"),
            "{text}"
        );
        assert!(text.contains("landlock: unavailable ("), "{text}");
        e.filesystem = true;
        e.landlock = Some(report(KernelAbi::Available(6)));
        let text = e.to_string();
        assert!(
            text.contains("private root, backed by Landlock rules"),
            "{text}"
        );
        assert!(text.ends_with("landlock: ABI 6, fully enforced (fs_read: fully enforced, fs_write: fully enforced, fs_exec: fully enforced, fs_truncate: fully enforced, fs_ioctl_dev: fully enforced)"), "{text}");
    }

    // ---- Against the running kernel (irreversible parts in forked children) ----

    use std::ffi::CString;
    use std::os::unix::ffi::OsStrExt;

    fn cstr(p: &Path) -> CString {
        CString::new(p.as_os_str().as_bytes()).unwrap()
    }

    /// Forks; the child runs `f` (raw system calls only: the parent is
    /// multi-threaded) and exits with its result.
    fn in_child(f: impl FnOnce() -> i32) -> i32 {
        // SAFETY: the child only issues raw system calls and then _exit()s.
        let pid = unsafe { libc::fork() };
        assert!(pid >= 0, "fork failed");
        if pid == 0 {
            let code = f();
            // SAFETY: ends the child without running the parent's destructors.
            unsafe { libc::_exit(code) };
        }
        let mut status = 0;
        // SAFETY: waits for the child forked above; status is a live i32.
        let r = unsafe { libc::waitpid(pid, &mut status, 0) };
        assert_eq!(r, pid);
        assert!(libc::WIFEXITED(status), "child died: {status:#x}");
        libc::WEXITSTATUS(status)
    }

    /// 0 if `path` opens for reading, else the errno.
    fn open_errno(path: &CString) -> i32 {
        // SAFETY: path is NUL-terminated and outlives the call.
        match unsafe {
            sc!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_RDONLY | libc::O_CLOEXEC
            )
        } {
            Ok(fd) => {
                // SAFETY: closes the fd just opened.
                let _ = unsafe { sc!(libc::SYS_close, fd) };
                0
            }
            Err(Errno(e)) => e,
        }
    }

    fn kernel_version() -> u32 {
        kernel_abi().version()
    }

    /// A filesystem policy every Landlock kernel (ABI 1+) can enforce.
    fn abi1_policy(allowed: &Path) -> LandlockPolicy {
        let mut p = LandlockPolicy::new();
        p.handle_fs(FsAccess::READ).allow_read(allowed);
        p
    }

    #[test]
    fn probe_matches_the_kernel() {
        // SAFETY: the version query reads no memory.
        let raw =
            unsafe { libc::syscall(libc::SYS_landlock_create_ruleset, 0usize, 0usize, 1usize) };
        if raw > 0 {
            assert_eq!(kernel_abi(), KernelAbi::Available(raw as u32));
        } else {
            assert!(matches!(kernel_abi(), KernelAbi::Unavailable(_)));
        }
    }

    #[test]
    fn prepare_reports_the_kernel_abi() {
        let dir = tempfile::tempdir().unwrap();
        let mut p = abi1_policy(dir.path());
        p.allow_tcp_connect(443)
            .scope(LandlockScope::SIGNAL)
            .compat(CompatLevel::BestEffort);
        let prepared = prepare(&p).unwrap();
        let abi = kernel_version();
        assert_eq!(prepared.report().abi, abi);
        assert_eq!(prepared.abi(), abi);
        assert_eq!(prepared.fd().is_some(), abi >= 1);
        let expect = |min| {
            if abi >= min {
                LandlockEnforcement::FullyEnforced
            } else {
                LandlockEnforcement::NotEnforced
            }
        };
        assert_eq!(prepared.report().fs_read, expect(1));
        assert_eq!(prepared.report().net_connect, expect(4));
        assert_eq!(prepared.report().scope_signal, expect(6));
        assert_eq!(
            prepared.report().net_bind,
            LandlockEnforcement::NotRequested
        );
    }

    #[test]
    fn missing_rule_path() {
        if kernel_version() == 0 {
            eprintln!("SKIPPED: no Landlock on this kernel");
            assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("no-such-dir");
        let mut p = abi1_policy(dir.path());
        p.allow_read(&missing);
        match prepare(&p) {
            Err(LandlockError::RulePath { path, source }) => {
                assert_eq!(path, missing);
                assert_eq!(source.raw_os_error(), Some(libc::ENOENT));
            }
            other => panic!("unexpected {other:?}"),
        }
        p.fs_compat(CompatLevel::BestEffort);
        let prepared = prepare(&p).unwrap();
        assert!(prepared.fd().is_some());
        assert_eq!(
            prepared.report().notes,
            vec![LandlockNote::SkippedPath {
                path: missing,
                errno: libc::ENOENT
            }]
        );
        assert_eq!(prepared.report().status, LandlockEnforcement::FullyEnforced);
    }

    #[test]
    fn file_rules_keep_file_rights_only() {
        if kernel_version() == 0 {
            eprintln!("SKIPPED: no Landlock on this kernel");
            assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("f");
        std::fs::write(&file, "x").unwrap();
        // READ_DIR on a file would be EINVAL from the kernel: it is dropped.
        let p = abi1_policy(&file);
        let prepared = prepare(&p).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let (f, other) = (cstr(&file), cstr(dir.path()));
        let code = in_child(|| {
            if set_no_new_privs_raw().is_err() || restrict_self(fd).is_err() {
                return 100;
            }
            match (open_errno(&f), open_errno(&other)) {
                (0, libc::EACCES) => 0,
                (0, _) => 2,
                _ => 1,
            }
        });
        assert_eq!(code, 0);
    }

    fn set_no_new_privs_raw() -> Result<(), Errno> {
        crate::zone::caps::set_no_new_privs()
    }

    use std::os::fd::AsRawFd;

    #[test]
    fn one_ruleset_fd_serves_many_processes_threads_and_layers() {
        if kernel_version() == 0 {
            eprintln!("SKIPPED: no Landlock on this kernel");
            assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        let denied = dir.path().join("denied");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::create_dir(&denied).unwrap();
        std::fs::write(allowed.join("a"), "a").unwrap();
        std::fs::write(denied.join("b"), "b").unwrap();
        let prepared = std::sync::Arc::new(prepare(&abi1_policy(&allowed)).unwrap());
        let a = std::sync::Arc::new(cstr(&allowed.join("a")));
        let b = std::sync::Arc::new(cstr(&denied.join("b")));
        let threads: Vec<_> = (0..4)
            .map(|t| {
                let (prepared, a, b) = (prepared.clone(), a.clone(), b.clone());
                std::thread::spawn(move || {
                    let fd = prepared.fd().unwrap().as_raw_fd();
                    for i in 0..8 {
                        // Some children stack the same ruleset several times.
                        let layers = 1 + (t + i) % 3;
                        let code = in_child(|| {
                            if set_no_new_privs_raw().is_err() {
                                return 100;
                            }
                            for _ in 0..layers {
                                if restrict_self(fd).is_err() {
                                    return 101;
                                }
                            }
                            match (open_errno(&a), open_errno(&b)) {
                                (0, libc::EACCES) => 0,
                                (0, _) => 2,
                                _ => 1,
                            }
                        });
                        assert_eq!(code, 0, "thread {t} child {i}");
                    }
                })
            })
            .collect();
        for t in threads {
            t.join().unwrap();
        }
        // The parent itself is untouched.
        assert_eq!(open_errno(&b), 0);
    }

    #[test]
    fn restrict_self_without_no_new_privs_is_refused() {
        if kernel_version() == 0 {
            eprintln!("SKIPPED: no Landlock on this kernel");
            assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let prepared = prepare(&abi1_policy(dir.path())).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let code = in_child(|| {
            // Drop CAP_SYS_ADMIN (root test runs) so that only no_new_privs
            // could allow restrict_self.
            // SAFETY: prctl(PR_CAPBSET_DROP) and capset over a stack struct.
            unsafe {
                let mut hdr = [0x2008_0522u32, 0];
                let data = [0u32; 6];
                let _ = sc!(libc::SYS_capset, hdr.as_mut_ptr(), data.as_ptr());
            }
            match restrict_self(fd) {
                Err(Errno(libc::EPERM)) => 0,
                Err(_) => 2,
                Ok(()) => 1,
            }
        });
        assert_eq!(code, 0);
    }

    /// A kernel refusal keeps its errno through the crate's nested errors.
    #[test]
    fn kernel_errors_keep_their_errno() {
        if kernel_version() == 0 {
            eprintln!("SKIPPED: no Landlock on this kernel");
            assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
            return;
        }
        let mut p = LandlockPolicy::new();
        p.handle_fs(FsAccess::READ);
        let code = in_child(|| {
            // No free descriptor: creating the ruleset fails with EMFILE.
            // (This child allocates: acceptable in a test, glibc's malloc is
            // fork-safe, and nothing here takes another lock.)
            let limit = libc::rlimit {
                rlim_cur: 3,
                rlim_max: 3,
            };
            for fd in 3..1024 {
                // SAFETY: closes descriptors this child does not use.
                let _ = unsafe { sc!(libc::SYS_close, fd) };
            }
            // SAFETY: setrlimit reads a live stack struct.
            if unsafe {
                sc!(
                    libc::SYS_setrlimit,
                    libc::RLIMIT_NOFILE,
                    &limit as *const libc::rlimit
                )
            }
            .is_err()
            {
                return 100;
            }
            match prepare(&p) {
                Err(LandlockError::CreateRuleset { source })
                    if source.raw_os_error() == Some(libc::EMFILE) =>
                {
                    0
                }
                Err(_) => 1,
                Ok(_) => 2,
            }
        });
        assert_eq!(code, 0);
    }

    /// Rules refer to inodes: after the child's mount namespace changes, the
    /// rule still covers the directory wherever it is mounted, and does not
    /// cover whatever now sits at the original path.
    #[test]
    fn rules_follow_inodes_across_mount_namespace_changes() {
        if kernel_version() == 0 {
            eprintln!("SKIPPED: no Landlock on this kernel");
            assert!(std::env::var_os("STOCKADE_REQUIRE_ALL_FEATURES").is_none());
            return;
        }
        let dir = tempfile::tempdir().unwrap();
        let allowed = dir.path().join("allowed");
        let mnt = dir.path().join("mnt");
        std::fs::create_dir(&allowed).unwrap();
        std::fs::create_dir(&mnt).unwrap();
        std::fs::write(allowed.join("a"), "a").unwrap();
        let policy = abi1_policy(&allowed);
        let prepared = prepare(&policy).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let root = root_is_privileged();

        let (c_allowed, c_mnt) = (cstr(&allowed), cstr(&mnt));
        let c_view = cstr(&mnt.join("view"));
        let c_view_a = cstr(&mnt.join("view").join("a"));
        let c_old_a = cstr(&allowed.join("a"));
        let c_shadow = cstr(&allowed.join("shadow"));
        let uid_map = format!("0 {} 1", nix::unistd::geteuid()).into_bytes();
        let gid_map = format!("0 {} 1", nix::unistd::getegid()).into_bytes();
        let c_setgroups = CString::new("/proc/self/setgroups").unwrap();
        let c_uid_map = CString::new("/proc/self/uid_map").unwrap();
        let c_gid_map = CString::new("/proc/self/gid_map").unwrap();
        let (slash, tmpfs) = (CString::new("/").unwrap(), CString::new("tmpfs").unwrap());
        let code = in_child(|| {
            let flags = if root {
                libc::CLONE_NEWNS
            } else {
                libc::CLONE_NEWNS | libc::CLONE_NEWUSER
            };
            if raw_unshare(flags).is_err() {
                return 90;
            }
            // Unprivileged: map our ids, or nothing can be created.
            if !root
                && (raw_write(&c_setgroups, b"deny").is_err()
                    || raw_write(&c_uid_map, &uid_map).is_err()
                    || raw_write(&c_gid_map, &gid_map).is_err())
            {
                return 89;
            }
            let none = None;
            if raw_mount(none, &slash, none, libc::MS_REC | libc::MS_PRIVATE).is_err() {
                return 91;
            }
            // The directory appears somewhere else...
            if raw_mount(Some(&tmpfs), &c_mnt, Some(&tmpfs), 0).is_err()
                || raw_mkdir(&c_view).is_err()
                || raw_mount(Some(&c_allowed), &c_view, none, libc::MS_BIND).is_err()
            {
                return 92;
            }
            // ...and something else now sits at its original path.
            if raw_mount(Some(&tmpfs), &c_allowed, Some(&tmpfs), 0).is_err() {
                return 93;
            }
            if raw_create(&c_shadow).is_err() {
                return 94;
            }
            if open_errno(&c_old_a) != libc::ENOENT || open_errno(&c_shadow) != 0 {
                return 95;
            }
            if set_no_new_privs_raw().is_err() || restrict_self(fd).is_err() {
                return 100;
            }
            if open_errno(&c_view_a) != 0 {
                return 1;
            }
            if open_errno(&c_shadow) != libc::EACCES {
                return 2;
            }
            0
        });
        assert_eq!(code, 0);
    }

    fn raw_unshare(flags: i32) -> Result<usize, Errno> {
        // SAFETY: unshare takes no pointers.
        unsafe { sc!(libc::SYS_unshare, flags) }
    }

    fn raw_mount(
        src: Option<&CString>,
        target: &CString,
        fstype: Option<&CString>,
        flags: libc::c_ulong,
    ) -> Result<usize, Errno> {
        let ptr = |s: Option<&CString>| s.map_or(core::ptr::null(), |s| s.as_ptr());
        // SAFETY: NUL-terminated strings (or NULL) that outlive the call; no
        // mount data.
        unsafe {
            sc!(
                libc::SYS_mount,
                ptr(src),
                target.as_ptr(),
                ptr(fstype),
                flags,
                0usize
            )
        }
    }

    fn raw_mkdir(path: &CString) -> Result<usize, Errno> {
        // SAFETY: a NUL-terminated string that outlives the call.
        unsafe { sc!(libc::SYS_mkdirat, libc::AT_FDCWD, path.as_ptr(), 0o755) }
    }

    fn raw_write(path: &CString, data: &[u8]) -> Result<(), Errno> {
        // SAFETY: a NUL-terminated string that outlives the call.
        let fd = unsafe {
            sc!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_WRONLY | libc::O_CLOEXEC
            )
        }?;
        // SAFETY: data is a live buffer of data.len() bytes.
        let r = unsafe { sc!(libc::SYS_write, fd, data.as_ptr(), data.len()) };
        // SAFETY: closes the fd just opened.
        let _ = unsafe { sc!(libc::SYS_close, fd) };
        r.map(|_| ())
    }

    fn raw_create(path: &CString) -> Result<(), Errno> {
        // SAFETY: a NUL-terminated string that outlives the call.
        let fd = unsafe {
            sc!(
                libc::SYS_openat,
                libc::AT_FDCWD,
                path.as_ptr(),
                libc::O_CREAT | libc::O_WRONLY | libc::O_CLOEXEC,
                0o644
            )
        }?;
        // SAFETY: closes the fd just opened.
        let _ = unsafe { sc!(libc::SYS_close, fd) };
        Ok(())
    }

    fn monotonic_ns() -> u64 {
        let mut t = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: writes into a live stack timespec.
        let _ = unsafe {
            sc!(
                libc::SYS_clock_gettime,
                libc::CLOCK_MONOTONIC,
                &mut t as *mut libc::timespec
            )
        };
        t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64
    }

    fn root_is_privileged() -> bool {
        ::caps::has_cap(
            None,
            ::caps::CapSet::Effective,
            ::caps::Capability::CAP_SYS_ADMIN,
        )
        .unwrap_or(false)
    }

    /// Costs of preparing a typical ruleset and of restrict_self; prints
    /// numbers, asserts nothing about them.
    #[test]
    #[ignore = "measurement: cargo test --release --lib landlock::tests::measure -- --ignored --nocapture"]
    fn measure() {
        assert!(kernel_version() >= 1, "needs Landlock");
        let dirs = [
            "/usr",
            "/bin",
            "/lib",
            "/etc",
            "/tmp",
            "/var",
            "/opt",
            "/srv",
            "/home",
            "/dev/null",
        ];
        let mut policy = LandlockPolicy::new();
        for d in &dirs[..5] {
            policy.allow_read_exec(d);
        }
        for d in &dirs[5..] {
            policy.allow_read_write(d);
        }
        policy.compat(CompatLevel::BestEffort);
        let n = 2000;
        let start = std::time::Instant::now();
        for _ in 0..n {
            std::hint::black_box(prepare(&policy).unwrap());
        }
        let per = start.elapsed() / n;
        println!(
            "prepare (10 paths, ABI {}): {per:?} per ruleset",
            kernel_version()
        );

        let prepared = prepare(&policy).unwrap();
        let fd = prepared.fd().unwrap().as_raw_fd();
        let mut samples = Vec::new();
        for _ in 0..200 {
            let mut pipe = [0; 2];
            // SAFETY: pipe writes two fds into the array.
            assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
            let w = pipe[1];
            let code = in_child(|| {
                let _ = set_no_new_privs_raw();
                let t0 = monotonic_ns();
                if restrict_self(fd).is_err() {
                    return 1;
                }
                let ns = monotonic_ns() - t0;
                // SAFETY: reads 8 bytes from a live stack value.
                let _ = unsafe { sc!(libc::SYS_write, w, &ns as *const u64, 8) };
                0
            });
            assert_eq!(code, 0);
            let mut buf = [0u8; 8];
            // SAFETY: reads 8 bytes into a live buffer.
            let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), 8) };
            assert_eq!(n, 8);
            for fd in pipe {
                // SAFETY: closes the pipe ends created above.
                unsafe { libc::close(fd) };
            }
            samples.push(u64::from_ne_bytes(buf));
        }
        samples.sort_unstable();
        println!(
            "restrict_self: median {} ns, p90 {} ns, min {} ns ({} samples, one per fresh process)",
            samples[samples.len() / 2],
            samples[samples.len() * 9 / 10],
            samples[0],
            samples.len()
        );
    }

    /// Per-spawn cost of building and applying a sandbox's ruleset in the
    /// program process (create, open + fstat + add_rule per path, restrict):
    /// prints numbers, asserts nothing about them.
    #[test]
    #[ignore = "measurement: cargo test --release --lib landlock::tests::measure_spawn_ruleset -- --ignored --nocapture"]
    fn measure_spawn_ruleset() {
        assert!(kernel_version() >= 1, "needs Landlock");
        let mirror = LandlockPolicy::from_fs_plan(&crate::fs::FsConfig::default(), true).unwrap();
        let mut explicit = LandlockPolicy::new();
        for d in ["/usr", "/bin", "/lib", "/lib64", "/etc"] {
            explicit.allow_try(d, FsAccess::READ_EXEC);
        }
        explicit
            .allow_read_write("/tmp")
            .allow("/dev/null", FsAccess::READ_WRITE);
        let mut scope_only = LandlockPolicy::new();
        scope_only.scope(LandlockScope::ABSTRACT_UNIX_SOCKET | LandlockScope::SIGNAL);
        for (name, mut policy) in [
            ("scopes only (0 paths)", scope_only),
            ("7 paths", explicit),
            ("default mount plan mirrored", mirror),
        ] {
            policy.compat(CompatLevel::BestEffort);
            let lowered = lower_for_spawn(&policy).unwrap();
            let mut samples = Vec::new();
            for _ in 0..300 {
                let mut pipe = [0; 2];
                // SAFETY: pipe writes two fds into the array.
                assert_eq!(unsafe { libc::pipe(pipe.as_mut_ptr()) }, 0);
                let w = pipe[1];
                let code = in_child(|| {
                    let _ = set_no_new_privs_raw();
                    let t0 = monotonic_ns();
                    if apply_in_child(&lowered).is_err() {
                        return 1;
                    }
                    let ns = monotonic_ns() - t0;
                    // SAFETY: reads 8 bytes from a live stack value.
                    let _ = unsafe { sc!(libc::SYS_write, w, &ns as *const u64, 8) };
                    0
                });
                assert_eq!(code, 0);
                let mut buf = [0u8; 8];
                // SAFETY: reads 8 bytes into a live buffer.
                let n = unsafe { libc::read(pipe[0], buf.as_mut_ptr().cast(), 8) };
                assert_eq!(n, 8);
                for fd in pipe {
                    // SAFETY: closes the pipe ends created above.
                    unsafe { libc::close(fd) };
                }
                samples.push(u64::from_ne_bytes(buf));
            }
            samples.sort_unstable();
            println!(
                "build + restrict, {name} ({} rules, ABI {}): median {} ns, p90 {} ns, min {} ns ({} fresh processes)",
                lowered.paths.len(),
                kernel_version(),
                samples[samples.len() / 2],
                samples[samples.len() * 9 / 10],
                samples[0],
                samples.len()
            );
        }
    }
}
