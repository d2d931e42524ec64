//! The sandbox's filesystem: the operations a policy lists ([`Op`]) and how
//! its root starts ([`Root`]).
//!
//! The parent lowers the configuration once per policy into a mount plan
//! (`plan`) with every string already converted; the child zone only issues
//! mount-API system calls over that plan. Destinations are resolved inside the
//! new root with `openat2(RESOLVE_IN_ROOT)`, so a symlink planted in a
//! caller-supplied tree cannot redirect a mount out of it.

pub(crate) mod idmap;
pub(crate) mod plan;

use std::ffi::OsStr;
use std::fmt;
use std::path::{Path, PathBuf};

/// Host system directories the default root exposes read-only.
/// How many of the host's system directories a plan can bind: the size of
/// the per-spawn array of idmapped trees (see `plan::SystemBind`).
pub(crate) const SYSTEM_SLOTS: usize = SYSTEM_DIRS.len();

pub(crate) const SYSTEM_DIRS: &[&str] = &[
    "/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32", "/etc",
];

/// Host files under /etc that hold secrets and are masked in the default view
/// and beneath every source that contains them. Paths that do not exist on
/// the host are skipped.
const SECRET_FILES: &[&str] = &[
    "/etc/shadow",
    "/etc/shadow-",
    "/etc/gshadow",
    "/etc/gshadow-",
    "/etc/sudoers",
    "/etc/sudoers.d",
    "/etc/security/opasswd",
    "/etc/krb5.keytab",
    "/etc/ssl/private",
    "/etc/pki/tls/private",
    "/etc/NetworkManager/system-connections",
    "/etc/wpa_supplicant",
    "/etc/libvirt/secrets",
    "/etc/docker/key.json",
    "/etc/machine-id",
];

/// Device nodes bound from the host into the minimal `/dev`.
pub(crate) const DEVICES: &[&str] = &["null", "zero", "full", "random", "urandom", "tty"];

/// Options of a tmpfs mount.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct TmpfsOptions {
    /// Size limit in bytes (default: the kernel's, half of RAM).
    pub size: Option<u64>,
    /// Permission bits of the mount's root (default 0755; 01777 for `/tmp`).
    pub mode: Option<u32>,
}

/// One operation of the filesystem plan, in the order given. Later operations
/// win: an operation on a destination below or at an earlier one's is applied
/// on top of it, as in bubblewrap.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case", tag = "op"))]
#[non_exhaustive]
pub enum Op {
    /// Bind `src` (a host path) at `dest`.
    Bind {
        /// Host path.
        src: PathBuf,
        /// Destination inside the sandbox.
        dest: PathBuf,
        /// Read-only (recursively, including submounts).
        read_only: bool,
        /// Skip silently when `src` does not exist.
        optional: bool,
        /// Allow device nodes (otherwise the bind is `nodev`).
        devices: bool,
        /// Forbid executing files from it (`noexec`, recursively).
        #[cfg_attr(feature = "serde", serde(default))]
        no_exec: bool,
    },
    /// A fresh tmpfs at `dest`.
    Tmpfs {
        /// Destination inside the sandbox.
        dest: PathBuf,
        /// Size and mode.
        options: TmpfsOptions,
    },
    /// An empty directory at `dest`.
    Dir {
        /// Destination inside the sandbox.
        dest: PathBuf,
        /// Permission bits (default 0755).
        mode: Option<u32>,
    },
    /// A symbolic link at `dest` pointing to `target`.
    Symlink {
        /// Link target (not resolved).
        target: PathBuf,
        /// Destination inside the sandbox.
        dest: PathBuf,
    },
    /// A read-only file at `dest` with the given contents.
    File {
        /// Destination inside the sandbox.
        dest: PathBuf,
        /// Contents.
        contents: Vec<u8>,
        /// Permission bits (default 0444).
        mode: Option<u32>,
    },
    /// A writable overlay of `lower` (a host directory, never modified) at
    /// `dest`. With [`Upper::Temporary`] the changes live in memory and
    /// vanish with the sandbox; with [`Upper::Persistent`] they are kept in
    /// a layer directory (see [`crate::layer`]).
    Overlay {
        /// Host directory used as the read-only lower layer.
        lower: PathBuf,
        /// Destination inside the sandbox.
        dest: PathBuf,
        /// Where the changes go.
        #[cfg_attr(feature = "serde", serde(default))]
        upper: Upper,
    },
    /// Hide whatever is at `dest` (a file becomes unreadable, a directory
    /// empty and unreadable). A destination that does not exist is left
    /// alone.
    Mask {
        /// Destination inside the sandbox.
        dest: PathBuf,
    },
}

impl Op {
    /// The destination inside the sandbox.
    pub fn dest(&self) -> &Path {
        match self {
            Op::Bind { dest, .. }
            | Op::Tmpfs { dest, .. }
            | Op::Dir { dest, .. }
            | Op::Symlink { dest, .. }
            | Op::File { dest, .. }
            | Op::Overlay { dest, .. }
            | Op::Mask { dest } => dest,
        }
    }

    pub(crate) fn name(&self) -> OpName {
        match self {
            Op::Bind {
                read_only: true, ..
            } => OpName::BindRo,
            Op::Bind { devices: true, .. } => OpName::BindDev,
            Op::Bind { .. } => OpName::BindRw,
            Op::Tmpfs { .. } => OpName::Tmpfs,
            Op::Dir { .. } => OpName::Dir,
            Op::Symlink { .. } => OpName::Symlink,
            Op::File { .. } => OpName::File,
            Op::Overlay { .. } => OpName::Overlay,
            Op::Mask { .. } => OpName::Mask,
        }
    }
}

/// What the root of the sandbox's filesystem is.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Root {
    /// A fresh tmpfs holding read-only binds of the host's system
    /// directories (`/usr`, `/bin`, `/sbin`, `/lib*`, `/etc` minus secrets), a
    /// fresh `/proc`, a minimal `/dev` and a private `/tmp`.
    #[default]
    HostSystem,
    /// An empty tmpfs: only what the plan adds (plus `/proc`, `/dev`, `/tmp`
    /// unless disabled).
    Empty,
    /// A host directory (an unpacked image, a debootstrap tree), mounted
    /// read-only as `/`. Mount points the plan needs (`/proc`, `/dev`, `/tmp`,
    /// bind destinations) must already exist in it, unless the root is
    /// writable ([`Config::writable_root`]: they are then made in its
    /// upper layer).
    Dir(PathBuf),
    /// Host directories stacked as the read-only layers of one overlay, the
    /// bottom layer first (the order of an image manifest): an unpacked
    /// image (see `stockade::image`). Whiteouts (character devices 0/0) and
    /// opaque directories (`user.overlay.opaque`, or `trusted.overlay.opaque`
    /// for a root caller without a user namespace) in an upper layer hide
    /// what the layers below hold. Without a writable root, mount points
    /// must exist in one of the layers; with one
    /// ([`Config::writable_root`]), they are made in its upper layer, and
    /// the layers are never modified. At most [`MAX_LAYERS`] layers; one
    /// layer is bound like [`Root::Dir`].
    Layers(Vec<PathBuf>),
}

/// The most layers a [`Root::Layers`] may stack (overlayfs itself allows
/// 500; images rarely have more than a few dozen).
pub const MAX_LAYERS: usize = 128;

/// How a root directory ([`Root::Dir`]) is bound as `/` when it is not a
/// writable overlay.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum RootBind {
    /// Read-only, recursively (the default).
    #[default]
    ReadOnly,
    /// Read-write in place: the program changes the host directory itself
    /// (bubblewrap's `--bind DIR /`). Still `nosuid` and `nodev`.
    ReadWrite,
    /// Read-write in place with device nodes usable (bubblewrap's
    /// `--dev-bind DIR /`). Still `nosuid`.
    Devices,
}

/// Where the changes made to a writable overlay go (its upper layer).
///
/// Overlays use the kernel's overlay filesystem: Linux 5.11 or later for an
/// unprivileged caller (mounted in the sandbox's user namespace, with the
/// `userxattr` option), any kernel with overlayfs for a root caller. The
/// `metacopy` and `redirect_dir` features stay off, so that an upper layer
/// is a plain tree that [`crate::layer::Layer`] can read and apply.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Upper {
    /// A fresh, empty upper layer in memory (a tmpfs) for each sandbox,
    /// discarded with it. Before Linux 6.6, whose tmpfs has no `user.`
    /// extended attributes, such a layer mounted in a user namespace
    /// cannot make opaque directories: deleting a directory of the lower
    /// layer and making one of the same name fails (`EIO`).
    #[default]
    Temporary,
    /// A *layer directory* on the host, holding `upper/` (the changes) and
    /// `work/` (overlayfs's scratch), created (mode 0700) if missing: the
    /// changes persist from one sandbox to the next. It must be on a
    /// filesystem that can hold an overlay upper layer (not another
    /// overlay; for an unprivileged caller, one with `user.` extended
    /// attributes, which tmpfs has from Linux 6.6), outside the lower tree
    /// (and not containing it), and used by one running sandbox at a time:
    /// the sandbox's caller holds an exclusive lock on `LAYER/lock` while
    /// it runs (see [`crate::layer`]). What the program writes there keeps
    /// its owner and mode, set-user-ID bits included (the sandbox mounts
    /// it `nosuid`, the host does not): keep the layer directory private
    /// to the caller, as it is made.
    Persistent(PathBuf),
}

/// The filesystem configuration of a sandbox.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Config {
    /// The root.
    pub root: Root,
    /// Mount a fresh `/proc` (or the host's, read-only, without a pid
    /// namespace).
    pub proc: bool,
    /// Create the minimal `/dev`.
    pub dev: bool,
    /// Mount a private tmpfs on `/tmp`.
    pub tmp: bool,
    /// Mount a fresh, read-only `sysfs` on `/sys` (see
    /// [`Sandbox::sys`](crate::Sandbox::sys)).
    #[cfg_attr(feature = "serde", serde(default))]
    pub sys: bool,
    /// Mount a fresh POSIX message queue filesystem (`mqueue`) on
    /// `/dev/mqueue` (see [`Sandbox::mqueue`](crate::Sandbox::mqueue)).
    #[cfg_attr(feature = "serde", serde(default))]
    pub mqueue: bool,
    /// Give the program a private, writable, empty home directory in the
    /// default view (see [`Sandbox::private_home`](crate::Sandbox::private_home)).
    pub home: bool,
    /// Mask known secret files of the host's `/etc` (shadow, sudoers, ...)
    /// wherever they appear: in the default view and beneath any bind,
    /// overlay or root directory whose source contains them. While set, a
    /// source that is such a file (or lies inside one) is refused
    /// ([`Error::HostSecret`]).
    pub mask_secrets: bool,
    /// The caller's operations, in order.
    pub ops: Vec<Op>,
    /// How a [`Root::Dir`] without a writable overlay is bound as `/`
    /// (default [`RootBind::ReadOnly`]; see
    /// [`Sandbox::root_dir_in_place`](crate::Sandbox::root_dir_in_place)).
    #[cfg_attr(feature = "serde", serde(default))]
    pub root_bind: RootBind,
    /// Make the whole root a writable overlay over the root directory (or,
    /// for [`Root::HostSystem`], over each system directory), with the
    /// given upper layer (`None`: a read-only root).
    #[cfg_attr(feature = "serde", serde(default))]
    pub writable_root: Option<Upper>,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            root: Root::HostSystem,
            proc: true,
            dev: true,
            tmp: true,
            sys: false,
            mqueue: false,
            home: true,
            mask_secrets: true,
            ops: Vec::new(),
            root_bind: RootBind::ReadOnly,
            writable_root: None,
        }
    }
}

impl Config {
    /// Whether the configuration differs from "no filesystem changes at all",
    /// i.e. needs a mount namespace.
    pub(crate) fn is_customized(&self) -> bool {
        *self != Config::default()
    }
}

/// Which operation an [`Error`] is about; with the `serde` feature, the
/// `op` of a policy file's `filesystem.ops` entry (`"bind_ro"`, `"tmpfs"`,
/// ...; the root is not an operation there).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum OpName {
    /// The root directory.
    #[cfg_attr(feature = "serde", serde(skip))]
    Root,
    /// A read-only bind.
    BindRo,
    /// A read-write bind.
    BindRw,
    /// A read-write bind that allows device nodes.
    BindDev,
    /// A tmpfs.
    Tmpfs,
    /// A directory.
    Dir,
    /// A symlink.
    Symlink,
    /// A file.
    File,
    /// An overlay.
    Overlay,
    /// A mask.
    Mask,
}

impl fmt::Display for OpName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            OpName::Root => "root",
            OpName::BindRo => "bind_ro",
            OpName::BindRw => "bind_rw",
            OpName::BindDev => "bind_dev",
            OpName::Tmpfs => "tmpfs",
            OpName::Dir => "dir",
            OpName::Symlink => "symlink",
            OpName::File => "file",
            OpName::Overlay => "overlay",
            OpName::Mask => "mask",
        })
    }
}

impl OpName {
    /// How to skip a missing source, for the operations that can.
    fn skip_missing(self) -> &'static str {
        match self {
            OpName::BindRo => " (Sandbox::bind_ro_try skips a missing source)",
            OpName::BindRw => " (Sandbox::bind_rw_try skips a missing source)",
            _ => "",
        }
    }
}

/// Whether a path is a file or a directory, for [`Error::KindMismatch`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum NodeKind {
    /// Anything but a directory.
    File,
    /// A directory.
    Directory,
}

impl fmt::Display for NodeKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            NodeKind::File => "file",
            NodeKind::Directory => "directory",
        })
    }
}

/// An invalid filesystem operation, detected before clone.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A destination is not an absolute path, or contains `..`.
    #[error("{op} destination {path:?} must be an absolute path without `..`")]
    BadDestination {
        /// The operation.
        op: OpName,
        /// The destination given.
        path: PathBuf,
    },
    /// The destination is `/` itself, which only the root can be.
    #[error("{op} cannot target `/`; use Sandbox::root_dir for a custom root")]
    RootDestination {
        /// The operation.
        op: OpName,
    },
    /// A source path does not exist or cannot be looked up (use the `_try`
    /// variant to skip it); the cause says why.
    #[error("failed to find {op} source {path:?}{}", op.skip_missing())]
    MissingSource {
        /// The operation.
        op: OpName,
        /// The host path.
        path: PathBuf,
        /// The error from `stat`.
        #[source]
        source: std::io::Error,
    },
    /// A source path must be absolute.
    #[error("{op} source {path:?} must be an absolute path")]
    RelativeSource {
        /// The operation.
        op: OpName,
        /// The path given.
        path: PathBuf,
    },
    /// The source must be a directory (overlay lower dir, custom root).
    #[error("{op} source {path:?} is not a directory")]
    NotADirectory {
        /// The operation.
        op: OpName,
        /// The host path.
        path: PathBuf,
    },
    /// A tmpfs size of zero or over 1 TiB.
    #[error("tmpfs size {size} for {dest:?} is invalid (must be 1 byte to 1 TiB)")]
    TmpfsSize {
        /// Destination.
        dest: PathBuf,
        /// The size given.
        size: u64,
    },
    /// Permission bits outside 0o7777.
    #[error("{op} mode {mode:#o} for {dest:?} is invalid (must be at most 0o7777)")]
    Mode {
        /// The operation.
        op: OpName,
        /// Destination.
        dest: PathBuf,
        /// The mode given.
        mode: u32,
    },
    /// A path or symlink target contains a NUL byte.
    #[error("{op} path {path:?} contains a NUL byte")]
    NulByte {
        /// The operation.
        op: OpName,
        /// The path.
        path: PathBuf,
    },
    /// A directory is bound onto a path an earlier operation made a file,
    /// or a file onto a directory.
    #[error("{op} of {src:?} onto {dest:?}: a {src_kind} cannot be mounted on a {dest_kind}")]
    KindMismatch {
        /// The operation.
        op: OpName,
        /// The source.
        src: PathBuf,
        /// The destination.
        dest: PathBuf,
        /// What the source is.
        src_kind: NodeKind,
        /// What an earlier operation made the destination.
        dest_kind: NodeKind,
    },
    /// File contents over 16 MiB.
    #[error("file contents for {dest:?} are {len} bytes; at most 16 MiB are allowed")]
    FileTooLarge {
        /// Destination.
        dest: PathBuf,
        /// Length given.
        len: usize,
    },
    /// A source is one of the host's secret files that sandboxes never see
    /// by default (`/etc/shadow`, an SSH host key, ...), or lies inside
    /// one. A source that merely contains such files is allowed: they stay
    /// masked beneath its destination.
    #[error(
        "{op} source {path:?} would expose the host secret {secret:?}, which stays masked \
         unless Sandbox::mask_host_secrets(false) is set"
    )]
    HostSecret {
        /// The operation.
        op: OpName,
        /// The source given.
        path: PathBuf,
        /// The secret it is or lies in.
        secret: PathBuf,
    },
    /// A persistent upper layer's directory is on an overlay filesystem,
    /// which cannot hold another overlay's upper layer.
    #[error(
        "{op} layer directory {path:?} is on an overlay filesystem, which cannot hold an \
         overlay upper layer; choose a directory on ext4, xfs, btrfs or tmpfs"
    )]
    LayerOnOverlay {
        /// The operation (`root` for the writable root).
        op: OpName,
        /// The layer directory.
        path: PathBuf,
    },
    /// A persistent upper layer's directory is on a filesystem without
    /// `user.` extended attributes, which the overlay of an unprivileged
    /// caller (mounted with `userxattr`) keeps its whiteouts' and opaque
    /// directories' marks in; the cause is the error from setting one.
    #[error(
        "{op} layer directory {path:?} is on a filesystem without `user.` extended attributes, \
         which an unprivileged caller's overlay needs (tmpfs has them from Linux 6.6); choose a \
         directory on ext4, xfs or btrfs"
    )]
    LayerNoUserXattr {
        /// The operation (`root` for the writable root).
        op: OpName,
        /// The layer directory.
        path: PathBuf,
        /// The error from setting a `user.` attribute.
        #[source]
        source: std::io::Error,
    },
    /// A persistent upper layer's directory lies inside its lower
    /// directory, or contains it.
    #[error(
        "{op} layer directory {path:?} overlaps the lower directory {lower:?}: neither may \
         contain the other"
    )]
    LayerOverlapsLower {
        /// The operation (`root` for the writable root).
        op: OpName,
        /// The layer directory.
        path: PathBuf,
        /// The lower directory.
        lower: PathBuf,
    },
    /// A persistent upper layer's directory is the layer of a sandbox that
    /// is still running (its caller holds `LAYER/lock`).
    #[error("{op} layer directory {path:?} is in use by a running sandbox; stop it first")]
    LayerInUse {
        /// The operation (`root` for the writable root).
        op: OpName,
        /// The layer directory.
        path: PathBuf,
    },
    /// A persistent upper layer's directory, or its `upper/`, `work/` or
    /// `lock`, could not be created or opened.
    #[error("failed to prepare {op} layer directory {path:?}")]
    Layer {
        /// The operation (`root` for the writable root).
        op: OpName,
        /// The path that could not be created or opened.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A writable root was asked for over an empty root, which has no
    /// lower tree.
    #[error(
        "a writable root needs a lower tree: Sandbox::root_dir or the default view, not \
         Sandbox::empty_root"
    )]
    WritableEmptyRoot,
    /// A [`Root::Layers`] with no layer, or more than [`MAX_LAYERS`].
    #[error(
        "a root of stacked layers needs 1 to {max} layers, not {count}",
        max = MAX_LAYERS
    )]
    LayerCount {
        /// The number of layers given.
        count: usize,
    },
}

/// The host's secret files that exist (not symbolic links), including SSH
/// host private keys: what the default view masks.
pub(crate) fn host_secrets() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = SECRET_FILES
        .iter()
        .map(PathBuf::from)
        .filter(|p| std::fs::symlink_metadata(p).is_ok_and(|m| !m.file_type().is_symlink()))
        .collect();
    if let Ok(rd) = std::fs::read_dir("/etc/ssh") {
        out.extend(rd.filter_map(|e| e.ok()).map(|e| e.path()).filter(|p| {
            p.file_name()
                .and_then(OsStr::to_str)
                .is_some_and(|n| n.starts_with("ssh_host_") && n.ends_with("_key"))
        }));
    }
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::error::tests::{assert_actionable, os};

    /// Which variant `e` is; a new variant must be named here and sampled
    /// below.
    fn variant(e: &Error) -> &'static str {
        match e {
            Error::BadDestination { .. } => "BadDestination",
            Error::RootDestination { .. } => "RootDestination",
            Error::MissingSource { .. } => "MissingSource",
            Error::RelativeSource { .. } => "RelativeSource",
            Error::NotADirectory { .. } => "NotADirectory",
            Error::TmpfsSize { .. } => "TmpfsSize",
            Error::Mode { .. } => "Mode",
            Error::NulByte { .. } => "NulByte",
            Error::KindMismatch { .. } => "KindMismatch",
            Error::FileTooLarge { .. } => "FileTooLarge",
            Error::HostSecret { .. } => "HostSecret",
            Error::LayerOnOverlay { .. } => "LayerOnOverlay",
            Error::LayerNoUserXattr { .. } => "LayerNoUserXattr",
            Error::LayerOverlapsLower { .. } => "LayerOverlapsLower",
            Error::LayerInUse { .. } => "LayerInUse",
            Error::Layer { .. } => "Layer",
            Error::WritableEmptyRoot => "WritableEmptyRoot",
            Error::LayerCount { .. } => "LayerCount",
        }
    }

    #[test]
    fn every_error_says_what_is_wrong_in_one_line() {
        let samples: Vec<(Error, Vec<&str>)> = vec![
            (
                Error::BadDestination {
                    op: OpName::BindRw,
                    path: "/a/../etc".into(),
                },
                vec!["bind_rw", "\"/a/../etc\"", "absolute"],
            ),
            (
                Error::RootDestination { op: OpName::Tmpfs },
                vec!["tmpfs", "`/`", "Sandbox::root_dir"],
            ),
            (
                Error::MissingSource {
                    op: OpName::BindRo,
                    path: "/opt/data".into(),
                    source: os(libc::ENOENT),
                },
                vec!["bind_ro", "\"/opt/data\"", "Sandbox::bind_ro_try"],
            ),
            (
                Error::RelativeSource {
                    op: OpName::Overlay,
                    path: "lower".into(),
                },
                vec!["overlay", "\"lower\"", "absolute"],
            ),
            (
                Error::NotADirectory {
                    op: OpName::Root,
                    path: "/etc/passwd".into(),
                },
                vec!["root", "\"/etc/passwd\""],
            ),
            (
                Error::TmpfsSize {
                    dest: "/tmp".into(),
                    size: 0,
                },
                vec!["size 0", "\"/tmp\"", "1 TiB"],
            ),
            (
                Error::Mode {
                    op: OpName::File,
                    dest: "/f".into(),
                    mode: 0o10000,
                },
                vec!["file", "0o10000", "\"/f\"", "0o7777"],
            ),
            (
                Error::NulByte {
                    op: OpName::Symlink,
                    path: "/l\0".into(),
                },
                vec!["symlink", "\"/l\\0\"", "NUL"],
            ),
            (
                Error::KindMismatch {
                    op: OpName::BindRo,
                    src: "/usr".into(),
                    dest: "/f".into(),
                    src_kind: NodeKind::Directory,
                    dest_kind: NodeKind::File,
                },
                vec![
                    "bind_ro",
                    "\"/usr\"",
                    "\"/f\"",
                    "a directory cannot be mounted on a file",
                ],
            ),
            (
                Error::FileTooLarge {
                    dest: "/big".into(),
                    len: 17 << 20,
                },
                vec!["\"/big\"", "17825792 bytes", "16 MiB"],
            ),
            (
                Error::HostSecret {
                    op: OpName::BindRo,
                    path: "/etc/ssh/ssh_host_ed25519_key".into(),
                    secret: "/etc/ssh/ssh_host_ed25519_key".into(),
                },
                vec![
                    "bind_ro",
                    "\"/etc/ssh/ssh_host_ed25519_key\"",
                    "Sandbox::mask_host_secrets(false)",
                ],
            ),
            (
                Error::LayerOnOverlay {
                    op: OpName::Root,
                    path: "/var/layer".into(),
                },
                vec!["root", "\"/var/layer\"", "overlay filesystem", "ext4"],
            ),
            (
                Error::LayerNoUserXattr {
                    op: OpName::Overlay,
                    path: "/dev/shm/layer".into(),
                    source: os(libc::EOPNOTSUPP),
                },
                vec!["overlay", "\"/dev/shm/layer\"", "`user.`", "Linux 6.6"],
            ),
            (
                Error::LayerOverlapsLower {
                    op: OpName::Root,
                    path: "/srv/root/layer".into(),
                    lower: "/srv/root".into(),
                },
                vec!["root", "\"/srv/root/layer\"", "\"/srv/root\"", "contain"],
            ),
            (
                Error::LayerInUse {
                    op: OpName::Root,
                    path: "/var/layer".into(),
                },
                vec!["root", "\"/var/layer\"", "running sandbox", "stop it first"],
            ),
            (
                Error::Layer {
                    op: OpName::Overlay,
                    path: "/ro/layer".into(),
                    source: os(libc::EROFS),
                },
                vec!["overlay", "\"/ro/layer\""],
            ),
            (
                Error::WritableEmptyRoot,
                vec!["writable root", "Sandbox::root_dir", "Sandbox::empty_root"],
            ),
            (
                Error::LayerCount { count: 0 },
                vec!["layers", "1 to 128", "not 0"],
            ),
        ];
        for (e, items) in &samples {
            assert_actionable(e, items);
        }
        let seen: std::collections::BTreeSet<_> = samples.iter().map(|(e, _)| variant(e)).collect();
        assert_eq!(seen.len(), 18, "a variant has no sample");
        // Only the operations that have a `_try` form suggest it.
        let e = Error::MissingSource {
            op: OpName::Overlay,
            path: "/lower".into(),
            source: os(libc::ENOENT),
        };
        assert_eq!(e.to_string(), "failed to find overlay source \"/lower\"");
    }
}
