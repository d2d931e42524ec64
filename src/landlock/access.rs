//! The rights, scopes and features Landlock offers, and the ABI versions
//! that brought them.

use std::fmt;

use bitflags::bitflags;

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
    /// [`Policy::handle_fs`](crate::landlock::Policy::handle_fs):
    /// read, execute and write, up to ABI 5.
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
    pub fn supported_by(abi: Abi) -> Self {
        supported(FS_FEATURES, abi)
    }
}

pub(super) const FS_FEATURES: &[(FsAccess, Feature)] = &[
    (FsAccess::EXECUTE, Feature::Filesystem),
    (FsAccess::WRITE_FILE, Feature::Filesystem),
    (FsAccess::READ_FILE, Feature::Filesystem),
    (FsAccess::READ_DIR, Feature::Filesystem),
    (FsAccess::REMOVE_DIR, Feature::Filesystem),
    (FsAccess::REMOVE_FILE, Feature::Filesystem),
    (FsAccess::MAKE_CHAR, Feature::Filesystem),
    (FsAccess::MAKE_DIR, Feature::Filesystem),
    (FsAccess::MAKE_REG, Feature::Filesystem),
    (FsAccess::MAKE_SOCK, Feature::Filesystem),
    (FsAccess::MAKE_FIFO, Feature::Filesystem),
    (FsAccess::MAKE_BLOCK, Feature::Filesystem),
    (FsAccess::MAKE_SYM, Feature::Filesystem),
    (FsAccess::REFER, Feature::FsRefer),
    (FsAccess::TRUNCATE, Feature::FsTruncate),
    (FsAccess::IOCTL_DEV, Feature::FsIoctlDev),
    (FsAccess::RESOLVE_UNIX, Feature::FsResolveUnix),
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
    pub fn supported_by(abi: Abi) -> Self {
        supported(NET_FEATURES, abi)
    }
}

pub(super) const NET_FEATURES: &[(NetAccess, Feature)] = &[
    (NetAccess::BIND_TCP, Feature::NetBindTcp),
    (NetAccess::CONNECT_TCP, Feature::NetConnectTcp),
    (NetAccess::BIND_UDP, Feature::NetBindUdp),
    (NetAccess::CONNECT_SEND_UDP, Feature::NetConnectSendUdp),
];

bitflags! {
    /// IPC scopes: interactions the sandbox may only have with processes in
    /// the same Landlock domain (ABI 6, Linux 6.12).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
    #[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
    pub struct Scope: u64 {
        /// Connecting to an abstract unix socket created outside the domain
        /// is denied (ABI 6, Linux 6.12).
        const ABSTRACT_UNIX_SOCKET = 1 << 0;
        /// Sending a signal to a process outside the domain is denied (ABI 6,
        /// Linux 6.12).
        const SIGNAL = 1 << 1;
    }
}

impl Scope {
    /// The scopes a kernel with Landlock ABI `abi` can enforce.
    pub fn supported_by(abi: Abi) -> Self {
        supported(SCOPE_FEATURES, abi)
    }
}

pub(super) const SCOPE_FEATURES: &[(Scope, Feature)] = &[
    (
        Scope::ABSTRACT_UNIX_SOCKET,
        Feature::ScopeAbstractUnixSocket,
    ),
    (Scope::SIGNAL, Feature::ScopeSignal),
];

/// A Landlock capability that appeared in a given ABI version.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Feature {
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
    /// [`Scope::ABSTRACT_UNIX_SOCKET`] (ABI 6, Linux 6.12).
    ScopeAbstractUnixSocket,
    /// [`Scope::SIGNAL`] (ABI 6, Linux 6.12).
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

impl Feature {
    /// The Landlock ABI version that introduced the feature.
    pub fn abi(self) -> Abi {
        match self {
            Self::Filesystem => Abi::V1,
            Self::FsRefer => Abi::V2,
            Self::FsTruncate => Abi::V3,
            Self::NetBindTcp | Self::NetConnectTcp => Abi::V4,
            Self::FsIoctlDev => Abi::V5,
            Self::ScopeAbstractUnixSocket | Self::ScopeSignal => Abi::V6,
            Self::AllThreads => Abi::V8,
            Self::FsResolveUnix => Abi::V9,
            Self::NetBindUdp | Self::NetConnectSendUdp => Abi::V10,
        }
    }

    /// The first Linux release with the feature, e.g. `"6.2"`.
    pub fn linux_version(self) -> &'static str {
        self.abi().linux_version()
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

impl fmt::Display for Feature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (Landlock ABI {}, Linux {})",
            self.describe(),
            self.abi(),
            self.linux_version()
        )
    }
}

/// A Landlock ABI version: what a kernel's Landlock can enforce. Each
/// version keeps everything of the previous ones, so versions compare in
/// release order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Abi {
    /// Filesystem access control (Linux 5.13).
    V1 = 1,
    /// [`FsAccess::REFER`] (Linux 5.19).
    V2 = 2,
    /// [`FsAccess::TRUNCATE`] (Linux 6.2).
    V3 = 3,
    /// TCP bind and connect rules (Linux 6.7).
    V4 = 4,
    /// [`FsAccess::IOCTL_DEV`] (Linux 6.10).
    V5 = 5,
    /// IPC scopes (Linux 6.12).
    V6 = 6,
    /// Audit logging controls, which this crate does not use (Linux 6.15).
    V7 = 7,
    /// Restricting every thread of a process at once (Linux 7.0).
    V8 = 8,
    /// [`FsAccess::RESOLVE_UNIX`] (Linux 7.1).
    V9 = 9,
    /// UDP bind and connect/send rules (Linux 7.2).
    V10 = 10,
}

impl Abi {
    /// The newest version this crate knows.
    pub const NEWEST: Self = Self::V10;

    /// The version's number, as the kernel gives it.
    pub fn version(self) -> u32 {
        self as u32
    }

    /// The first Linux release with the version, e.g. `"6.2"`.
    pub fn linux_version(self) -> &'static str {
        match self {
            Self::V1 => "5.13",
            Self::V2 => "5.19",
            Self::V3 => "6.2",
            Self::V4 => "6.7",
            Self::V5 => "6.10",
            Self::V6 => "6.12",
            Self::V7 => "6.15",
            Self::V8 => "7.0",
            Self::V9 => "7.1",
            Self::V10 => "7.2",
        }
    }

    /// What the kernel's answer `version` stands for: `None` for 0 (no
    /// Landlock), [`NEWEST`](Self::NEWEST) for a kernel newer than this
    /// crate, which enforces everything this crate knows how to ask for.
    pub(crate) fn from_kernel(version: u32) -> Option<Self> {
        Some(match version {
            0 => return None,
            1 => Self::V1,
            2 => Self::V2,
            3 => Self::V3,
            4 => Self::V4,
            5 => Self::V5,
            6 => Self::V6,
            7 => Self::V7,
            8 => Self::V8,
            9 => Self::V9,
            _ => Self::V10,
        })
    }
}

/// The version's number, e.g. `6`.
impl fmt::Display for Abi {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.version())
    }
}

/// Serialized as the version's number.
#[cfg(feature = "serde")]
impl serde::Serialize for Abi {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_u32(self.version())
    }
}

/// The flags of `table` whose feature `abi` has.
fn supported<T: bitflags::Flags + Copy>(table: &[(T, Feature)], abi: Abi) -> T {
    let mut set = T::empty();
    for (flag, feature) in table {
        if abi >= feature.abi() {
            set.insert(*flag);
        }
    }
    set
}
