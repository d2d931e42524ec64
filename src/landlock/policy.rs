//! The policy: plain data saying what the sandboxed program may access.

use std::path::{Path, PathBuf};

use super::access::{FsAccess, NetAccess, Scope};
use crate::compat::CompatLevel;

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
/// (by the sandbox before the first spawn, or by [`Policy::validate`]).
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
/// use stockade::landlock::{Policy, Scope};
/// let mut policy = Policy::new();
/// policy
///     .allow_read_exec("/usr")
///     .allow_read("/etc")
///     .allow_read_write("/tmp")
///     .allow_tcp_connect(443)
///     .scope(Scope::SIGNAL | Scope::ABSTRACT_UNIX_SOCKET);
/// # }
/// ```
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Policy {
    pub(crate) fs_rules: Vec<FsRule>,
    pub(crate) fs_handled: Option<FsAccess>,
    pub(crate) net_rules: Vec<NetRule>,
    pub(crate) net_handled: NetAccess,
    pub(crate) scopes: Scope,
    pub(crate) fs_compat: CompatLevel,
    pub(crate) net_compat: CompatLevel,
    pub(crate) scope_compat: CompatLevel,
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// An empty policy: nothing is restricted until a rule is added.
    pub fn new() -> Self {
        Self {
            fs_rules: Vec::new(),
            fs_handled: None,
            net_rules: Vec::new(),
            net_handled: NetAccess::empty(),
            scopes: Scope::empty(),
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
    pub fn scope(&mut self, scopes: Scope) -> &mut Self {
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

    pub(super) fn fs_requested(&self) -> FsAccess {
        if self.fs_handled.is_none() && self.fs_rules.is_empty() {
            return FsAccess::empty();
        }
        let mut set = self.fs_handled.unwrap_or(FsAccess::DEFAULT_HANDLED);
        for rule in &self.fs_rules {
            set |= rule.access;
        }
        set
    }

    pub(super) fn net_requested(&self) -> NetAccess {
        self.net_handled
    }
}
