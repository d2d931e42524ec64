//! Capabilities and `no_new_privs`.
//!
//! The parent computes a plan (plain data, no heap) from a [`Policy`]; the
//! child applies it with raw system calls:
//!
//! 1. lock `SECBIT_NOROOT`, so that uid 0 gains no capabilities from
//!    `execve` (file capabilities still apply, within the bounding set),
//!    unless [`Policy::lock_noroot`] says not to;
//! 2. drop every capability not kept from the bounding set;
//! 3. clear the ambient set;
//! 4. set the effective, permitted and inheritable sets to the kept
//!    capabilities (inheritable only when they are to be ambient);
//! 5. raise the kept capabilities in the ambient set, the only way a
//!    non-root program keeps them across `execve`;
//! 6. set `no_new_privs`.
//!
//! A sandbox that switches ids without a user namespace (a root caller's
//! [`Sandbox::uid`](crate::Sandbox::uid)) does so between steps 3 and 4:
//! leaving uid 0 empties the permitted set, so the steps that need
//! `CAP_SETPCAP` come first, and when capabilities are kept
//! `PR_SET_KEEPCAPS` carries the permitted set over the switch for step 4
//! to reduce.
//!
//! Steps 1 and 2 need `CAP_SETPCAP`. A sandbox child in a new user namespace
//! always has it; a process that stays in the caller's user namespace has it
//! only if the caller does. When the parent cannot promise it, the child
//! checks with `capget` and skips those steps without it (the [`Report`]
//! then does not claim them): such a process has no capabilities to lose,
//! and `no_new_privs` keeps setuid and file-capability binaries from granting
//! new ones.

use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::str::FromStr;

macro_rules! capabilities {
    ($( $(#[$doc:meta])* $variant:ident = $nr:literal, $name:literal; )*) => {
        /// A Linux capability, with the kernel's number.
        ///
        /// Parses from `"CAP_NET_BIND_SERVICE"`, `"net_bind_service"` or any
        /// case mix; displays as `CAP_NET_BIND_SERVICE`.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        #[repr(u8)]
        #[non_exhaustive]
        pub enum Capability {
            $( $(#[$doc])* $variant = $nr, )*
        }

        impl Capability {
            /// Every capability this crate knows, in kernel order.
            pub const ALL: &'static [Capability] = &[$(Capability::$variant,)*];

            /// The canonical name, e.g. `"CAP_NET_BIND_SERVICE"`.
            pub fn name(self) -> &'static str {
                match self {
                    $( Capability::$variant => $name, )*
                }
            }
        }
    };
}

capabilities! {
    /// Change file ownership.
    Chown = 0, "CAP_CHOWN";
    /// Bypass file read, write and execute permission checks.
    DacOverride = 1, "CAP_DAC_OVERRIDE";
    /// Bypass file read and directory search permission checks.
    DacReadSearch = 2, "CAP_DAC_READ_SEARCH";
    /// Bypass checks that the file owner is the caller.
    Fowner = 3, "CAP_FOWNER";
    /// Keep set-user-ID bits on modification.
    Fsetid = 4, "CAP_FSETID";
    /// Send signals to any process.
    Kill = 5, "CAP_KILL";
    /// Change group IDs.
    Setgid = 6, "CAP_SETGID";
    /// Change user IDs.
    Setuid = 7, "CAP_SETUID";
    /// Change capability sets and securebits.
    Setpcap = 8, "CAP_SETPCAP";
    /// Set immutable and append-only file attributes.
    LinuxImmutable = 9, "CAP_LINUX_IMMUTABLE";
    /// Bind to ports below 1024.
    NetBindService = 10, "CAP_NET_BIND_SERVICE";
    /// Broadcast and listen to multicast.
    NetBroadcast = 11, "CAP_NET_BROADCAST";
    /// Network administration.
    NetAdmin = 12, "CAP_NET_ADMIN";
    /// Raw and packet sockets.
    NetRaw = 13, "CAP_NET_RAW";
    /// Lock memory.
    IpcLock = 14, "CAP_IPC_LOCK";
    /// Bypass System V IPC permission checks.
    IpcOwner = 15, "CAP_IPC_OWNER";
    /// Load and unload kernel modules.
    SysModule = 16, "CAP_SYS_MODULE";
    /// Raw I/O.
    SysRawio = 17, "CAP_SYS_RAWIO";
    /// Use chroot.
    SysChroot = 18, "CAP_SYS_CHROOT";
    /// Trace any process.
    SysPtrace = 19, "CAP_SYS_PTRACE";
    /// Process accounting.
    SysPacct = 20, "CAP_SYS_PACCT";
    /// System administration.
    SysAdmin = 21, "CAP_SYS_ADMIN";
    /// Reboot.
    SysBoot = 22, "CAP_SYS_BOOT";
    /// Raise priorities and set scheduling policies.
    SysNice = 23, "CAP_SYS_NICE";
    /// Override resource limits.
    SysResource = 24, "CAP_SYS_RESOURCE";
    /// Set the system clock.
    SysTime = 25, "CAP_SYS_TIME";
    /// Configure ttys.
    SysTtyConfig = 26, "CAP_SYS_TTY_CONFIG";
    /// Create device nodes.
    Mknod = 27, "CAP_MKNOD";
    /// Take file leases.
    Lease = 28, "CAP_LEASE";
    /// Write to the audit log.
    AuditWrite = 29, "CAP_AUDIT_WRITE";
    /// Configure auditing.
    AuditControl = 30, "CAP_AUDIT_CONTROL";
    /// Set file capabilities.
    Setfcap = 31, "CAP_SETFCAP";
    /// Override mandatory access control.
    MacOverride = 32, "CAP_MAC_OVERRIDE";
    /// Configure mandatory access control.
    MacAdmin = 33, "CAP_MAC_ADMIN";
    /// Configure the kernel log (Linux 2.6.37).
    Syslog = 34, "CAP_SYSLOG";
    /// Set wake-up alarms (Linux 3.0).
    WakeAlarm = 35, "CAP_WAKE_ALARM";
    /// Block system suspend (Linux 3.5).
    BlockSuspend = 36, "CAP_BLOCK_SUSPEND";
    /// Read the audit log (Linux 3.16).
    AuditRead = 37, "CAP_AUDIT_READ";
    /// Performance monitoring (Linux 5.8).
    Perfmon = 38, "CAP_PERFMON";
    /// BPF operations (Linux 5.8).
    Bpf = 39, "CAP_BPF";
    /// Checkpoint/restore operations (Linux 5.9).
    CheckpointRestore = 40, "CAP_CHECKPOINT_RESTORE";
}

impl Capability {
    /// The kernel's number for the capability.
    pub fn number(self) -> u8 {
        self as u8
    }

    /// The capability with kernel number `nr`, if this crate knows it.
    pub fn from_number(nr: u8) -> Option<Self> {
        Self::ALL.get(usize::from(nr)).copied()
    }

    pub(crate) fn bit(self) -> u64 {
        1u64 << self.number()
    }
}

impl std::fmt::Display for Capability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// A capability name that is not known.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("failed to parse capability name {name:?}")]
pub struct ParseCapabilityError {
    /// The name as given.
    pub name: String,
}

impl FromStr for Capability {
    type Err = ParseCapabilityError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = || ParseCapabilityError { name: s.to_owned() };
        let canonical = ::caps::to_canonical(s.trim());
        let cap = ::caps::Capability::from_str(&canonical).map_err(|_| err())?;
        Self::from_number(cap.index()).ok_or_else(err)
    }
}

#[cfg(feature = "serde")]
impl serde::Serialize for Capability {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(self.name())
    }
}

#[cfg(feature = "serde")]
impl<'de> serde::Deserialize<'de> for Capability {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        name.parse().map_err(serde::de::Error::custom)
    }
}

/// Which capabilities the sandboxed program keeps, and `no_new_privs`.
///
/// The default keeps nothing and sets `no_new_privs`: the program starts
/// with every capability set (bounding, ambient, inheritable, permitted,
/// effective) empty and cannot gain privileges through `execve`.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct Policy {
    pub(crate) keep: BTreeSet<Capability>,
    pub(crate) ambient: bool,
    pub(crate) no_new_privs: bool,
    #[cfg_attr(feature = "serde", serde(default = "locked"))]
    pub(crate) lock_noroot: bool,
}

/// The default of [`Policy::lock_noroot`], for policies serialized before it.
#[cfg(feature = "serde")]
fn locked() -> bool {
    true
}

impl Default for Policy {
    fn default() -> Self {
        Self::new()
    }
}

impl Policy {
    /// Keep nothing, set `no_new_privs`.
    pub fn new() -> Self {
        Self {
            keep: BTreeSet::new(),
            ambient: true,
            no_new_privs: true,
            lock_noroot: true,
        }
    }

    /// Keeps `cap` (in the bounding, permitted, effective sets and, unless
    /// [`ambient(false)`](Self::ambient), the inheritable and ambient sets).
    ///
    /// `CAP_SYS_PTRACE` is refused when the sandbox has a pid namespace: its
    /// init process shares the caller's memory, and only the capabilities it
    /// holds and the program lacks keep the program from tracing it.
    pub fn keep(&mut self, cap: Capability) -> &mut Self {
        self.keep.insert(cap);
        self
    }

    /// Keeps every capability in `caps`.
    pub fn keep_all(&mut self, caps: impl IntoIterator<Item = Capability>) -> &mut Self {
        self.keep.extend(caps);
        self
    }

    /// Whether kept capabilities are raised in the ambient set (default
    /// `true`). They must be for the program to hold them after `execve`
    /// (including as uid 0: `SECBIT_NOROOT` is locked). With `false` they
    /// remain only in the bounding set, for binaries with file capabilities.
    pub fn ambient(&mut self, ambient: bool) -> &mut Self {
        self.ambient = ambient;
        self
    }

    /// Whether to set `no_new_privs` (default `true`). Turning it off lets
    /// setuid and file-capability binaries gain privileges (within the
    /// bounding set), and Landlock and seccomp then need `CAP_SYS_ADMIN` kept.
    pub fn no_new_privs(&mut self, no_new_privs: bool) -> &mut Self {
        self.no_new_privs = no_new_privs;
        self
    }

    /// Whether to set and lock `SECBIT_NOROOT` (default `true`): uid 0
    /// gains no capabilities from `execve` and cannot undo that. With
    /// `false` uid 0 gets the bounding set (the kept capabilities) at each
    /// `execve` as on any Linux system, and the securebits stay the
    /// program's to set: what a userland's own init expects (systemd sets
    /// each service's securebits and fails the service when they are
    /// locked). The bounding set still holds only the kept capabilities.
    pub fn lock_noroot(&mut self, lock: bool) -> &mut Self {
        self.lock_noroot = lock;
        self
    }

    /// The kept capabilities, in kernel order.
    pub fn kept(&self) -> impl Iterator<Item = Capability> + '_ {
        self.keep.iter().copied()
    }

    fn keep_mask(&self) -> u64 {
        self.keep.iter().fold(0, |m, c| m | c.bit())
    }
}

/// What the capability setup did.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct Report {
    /// The capabilities kept: in the bounding, permitted and effective sets,
    /// and after `execve` in the program's sets if `ambient`.
    pub kept: Vec<Capability>,
    /// Whether the kept capabilities are ambient, i.e. survive `execve`.
    pub ambient: bool,
    /// Whether the bounding set was reduced to the kept capabilities. `false`
    /// only when the process has no `CAP_SETPCAP` to do it with (it then also
    /// has no capabilities to lose).
    pub bounding_set_dropped: bool,
    /// Whether `SECBIT_NOROOT` is set and locked (uid 0 gains nothing from
    /// `execve`).
    pub noroot_locked: bool,
    /// Whether `no_new_privs` is set.
    pub no_new_privs: bool,
}

/// Errors from planning the capability setup.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// `CAP_SYS_PTRACE` in a sandbox: its supervisor shares the caller's
    /// memory, so it is refused with or without a pid namespace.
    #[error(
        "failed to keep CAP_SYS_PTRACE: the sandbox's supervisor shares the caller's memory, and a program holding CAP_SYS_PTRACE could trace it; remove it from the kept capabilities"
    )]
    PtraceWithPidNamespace,
    /// A kept capability the running kernel does not know.
    #[error("failed to keep {cap}: the running kernel knows capabilities up to number {last_cap}")]
    UnknownToKernel {
        /// The capability.
        cap: Capability,
        /// The kernel's highest capability number.
        last_cap: u8,
    },
    /// A kept capability the process does not hold (no new user namespace).
    #[error(
        "failed to keep {cap}: the calling process does not hold it, and without a new user namespace only held capabilities can be kept"
    )]
    NotHeld {
        /// The capability.
        cap: Capability,
    },
    /// Reading the kernel's highest capability number failed.
    #[error("failed to read the highest capability number from {path}")]
    LastCap {
        /// The file read.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading the calling thread's capabilities failed.
    #[error("failed to read the capabilities of the calling thread")]
    ReadCaps {
        /// The cause.
        #[source]
        source: io::Error,
    },
}

/// Where the child's credentials come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Creds {
    /// A new user namespace: every capability, within it.
    NewUserNamespace,
    /// The caller's own credentials (no new user namespace).
    Inherited {
        /// The effective set.
        effective: u64,
        /// The permitted set.
        permitted: u64,
    },
}

/// Everything [`plan`] needs to know about the environment.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CapContext {
    pub(crate) creds: Creds,
    pub(crate) pid_namespace: bool,
    /// The kernel's highest capability number.
    pub(crate) last_cap: u8,
}

const CAP_LAST_CAP: &str = "/proc/sys/kernel/cap_last_cap";

/// Reads the kernel's highest capability number from `path` (normally
/// `/proc/sys/kernel/cap_last_cap`), falling back to probing the bounding set
/// when the file cannot be read (no /proc).
pub(crate) fn last_cap_from(path: &Path) -> Result<u8, Error> {
    match std::fs::read_to_string(path) {
        Ok(text) => text.trim().parse::<u8>().map_err(|e| Error::LastCap {
            path: path.to_path_buf(),
            source: io::Error::new(io::ErrorKind::InvalidData, e),
        }),
        Err(source) => ::caps::runtime::thread_all_supported()
            .iter()
            .map(|c| c.index())
            .max()
            .ok_or(Error::LastCap {
                path: path.to_path_buf(),
                source,
            }),
    }
}

/// The kernel's highest capability number, read once per process: it
/// does not change while the kernel runs, and every policy compiled asks.
fn last_cap() -> Result<u8, Error> {
    use std::sync::atomic::{AtomicU16, Ordering};
    /// The number plus one; 0 until it has been read.
    static SEEN: AtomicU16 = AtomicU16::new(0);
    if let Some(n) = SEEN.load(Ordering::Relaxed).checked_sub(1) {
        return Ok(n as u8);
    }
    let n = last_cap_from(Path::new(CAP_LAST_CAP))?;
    SEEN.store(u16::from(n) + 1, Ordering::Relaxed);
    Ok(n)
}

fn set_to_mask(set: &::caps::CapsHashSet) -> u64 {
    set.iter().fold(0u64, |m, c| m | c.bitmask())
}

impl CapContext {
    /// A child in a new user namespace.
    pub(crate) fn new_user_namespace(pid_namespace: bool) -> Result<Self, Error> {
        Ok(Self {
            creds: Creds::NewUserNamespace,
            pid_namespace,
            last_cap: last_cap()?,
        })
    }

    /// A child with the calling thread's credentials.
    pub(crate) fn inherited(pid_namespace: bool) -> Result<Self, Error> {
        let read = |set| {
            ::caps::read(None, set)
                .map(|s| set_to_mask(&s))
                .map_err(|e| Error::ReadCaps {
                    // The caps crate's error keeps the kernel's answer as
                    // text only; it is kept whole, not copied.
                    source: io::Error::other(e),
                })
        };
        Ok(Self {
            creds: Creds::Inherited {
                effective: read(::caps::CapSet::Effective)?,
                permitted: read(::caps::CapSet::Permitted)?,
            },
            pid_namespace,
            last_cap: last_cap()?,
        })
    }
}

/// Whether the steps needing `CAP_SETPCAP` (securebits, bounding set) run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Setpcap {
    /// The child will hold `CAP_SETPCAP`: failing is an error.
    Required,
    /// The parent could not tell: the child checks with `capget` and skips
    /// the steps without `CAP_SETPCAP` (it then has nothing to lose; a child
    /// that entered a user namespace on its own has it and drops everything).
    IfHeld,
}

/// The capability setup, lowered to plain data for the child.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct CapPlan {
    pub(crate) last_cap: u8,
    pub(crate) keep: u64,
    pub(crate) setpcap: Setpcap,
    pub(crate) ambient: bool,
    pub(crate) no_new_privs: bool,
    /// Set and lock `SECBIT_NOROOT`.
    pub(crate) lock_noroot: bool,
}

impl CapPlan {
    /// Whether [`apply`] sets `no_new_privs`.
    #[allow(dead_code, reason = "used by the sandbox spawn path")]
    pub(crate) fn no_new_privs(&self) -> bool {
        self.no_new_privs
    }

    /// Overrides whether [`apply`] sets `no_new_privs`.
    pub(crate) fn set_no_new_privs(&mut self, yes: bool) {
        self.no_new_privs = yes;
    }

    /// Whether `cap` stays in the effective set.
    pub(crate) fn keeps(&self, cap: Capability) -> bool {
        self.keep & cap.bit() != 0
    }

    /// What the plan does, for the enforcement report (parent side).
    pub(crate) fn report(&self) -> Report {
        Report {
            kept: Capability::ALL
                .iter()
                .copied()
                .filter(|c| self.keeps(*c))
                .collect(),
            ambient: self.ambient && self.keep != 0,
            bounding_set_dropped: self.setpcap == Setpcap::Required,
            noroot_locked: self.lock_noroot && self.setpcap == Setpcap::Required,
            no_new_privs: self.no_new_privs,
        }
    }
}

/// Checks `policy` against `ctx` and lowers it to a [`CapPlan`].
pub(crate) fn plan(policy: &Policy, ctx: &CapContext) -> Result<CapPlan, Error> {
    if ctx.pid_namespace && policy.keep.contains(&Capability::SysPtrace) {
        return Err(Error::PtraceWithPidNamespace);
    }
    // The masks are 64 bits wide, as capset's version 3 is.
    let last_cap = ctx.last_cap.min(63);
    for cap in &policy.keep {
        if cap.number() > last_cap {
            return Err(Error::UnknownToKernel {
                cap: *cap,
                last_cap,
            });
        }
    }
    let keep = policy.keep_mask();
    let setpcap = match ctx.creds {
        Creds::NewUserNamespace => Setpcap::Required,
        Creds::Inherited {
            effective,
            permitted,
        } => {
            if let Some(cap) = policy.keep.iter().find(|c| permitted & c.bit() == 0) {
                return Err(Error::NotHeld { cap: *cap });
            }
            if effective & Capability::Setpcap.bit() != 0 {
                Setpcap::Required
            } else {
                Setpcap::IfHeld
            }
        }
    };
    Ok(CapPlan {
        last_cap,
        keep,
        setpcap,
        ambient: policy.ambient,
        no_new_privs: policy.no_new_privs,
        lock_noroot: policy.lock_noroot,
    })
}

/// The step of the capability setup (between fork or clone and exec) that
/// failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[cfg_attr(feature = "serde", serde(rename_all = "snake_case"))]
#[non_exhaustive]
pub enum Stage {
    /// Reading the current capabilities.
    Capget,
    /// Reading or setting the securebits.
    Securebits,
    /// Dropping capability `cap` (a kernel number) from the bounding set.
    BoundingSet {
        /// The capability number.
        cap: u8,
    },
    /// Clearing the ambient set.
    AmbientClear,
    /// Setting the effective, permitted and inheritable sets.
    Capset,
    /// Raising capability `cap` (a kernel number) in the ambient set.
    AmbientRaise {
        /// The capability number.
        cap: u8,
    },
    /// Setting `no_new_privs`.
    NoNewPrivs,
}

impl std::fmt::Display for Stage {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let cap_name =
            |nr: u8| Capability::from_number(nr).map_or("an unknown capability", |c| c.name());
        match self {
            Self::Capget => f.write_str("read the capability sets"),
            Self::Securebits => f.write_str("lock the securebits"),
            Self::BoundingSet { cap } => write!(f, "drop {} from the bounding set", cap_name(*cap)),
            Self::AmbientClear => f.write_str("clear the ambient capabilities"),
            Self::Capset => f.write_str("set the capability sets"),
            Self::AmbientRaise { cap } => write!(f, "raise {} in the ambient set", cap_name(*cap)),
            Self::NoNewPrivs => f.write_str("set no_new_privs"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn userns(pid_namespace: bool) -> CapContext {
        CapContext {
            creds: Creds::NewUserNamespace,
            pid_namespace,
            last_cap: 40,
        }
    }

    #[test]
    fn numbers_match_the_caps_crate() {
        for cap in ::caps::all() {
            let ours = Capability::from_number(cap.index()).unwrap();
            assert_eq!(ours.name(), cap.to_string());
            assert_eq!(ours.number(), cap.index());
        }
        assert_eq!(Capability::ALL.len(), ::caps::all().len());
        for (i, cap) in Capability::ALL.iter().enumerate() {
            assert_eq!(usize::from(cap.number()), i);
        }
        assert_eq!(Capability::from_number(41), None);
    }

    #[test]
    fn parse_names() {
        for s in [
            "CAP_NET_BIND_SERVICE",
            "net_bind_service",
            "Cap_Net_Bind_Service",
            "NET_BIND_SERVICE",
            " cap_net_bind_service\n",
        ] {
            assert_eq!(
                s.parse::<Capability>(),
                Ok(Capability::NetBindService),
                "{s:?}"
            );
        }
        assert_eq!("sys_ptrace".parse(), Ok(Capability::SysPtrace));
        assert_eq!(
            "checkpoint_restore".parse(),
            Ok(Capability::CheckpointRestore)
        );
        let err = "net_bind_services".parse::<Capability>().unwrap_err();
        assert_eq!(err.name, "net_bind_services");
        assert!(err.to_string().starts_with("failed to parse"));
        assert!("".parse::<Capability>().is_err());
        assert_eq!(
            Capability::NetBindService.to_string(),
            "CAP_NET_BIND_SERVICE"
        );
    }

    #[test]
    fn default_plan_drops_everything() {
        let plan = plan(&Policy::new(), &userns(true)).unwrap();
        assert_eq!(plan.keep, 0);
        assert_eq!(plan.last_cap, 40);
        assert!(plan.setpcap == Setpcap::Required && plan.no_new_privs);
        let report = plan.report();
        assert!(report.kept.is_empty());
        assert!(!report.ambient);
        assert!(report.no_new_privs && report.bounding_set_dropped && report.noroot_locked);
    }

    #[test]
    fn keep_masks() {
        let mut p = Policy::new();
        p.keep(Capability::NetBindService).keep(Capability::Chown);
        let plan = plan(&p, &userns(true)).unwrap();
        assert_eq!(plan.keep, (1 << 10) | 1);
        assert!(plan.keeps(Capability::NetBindService));
        assert!(!plan.keeps(Capability::SysAdmin));
        let report = plan.report();
        assert_eq!(
            report.kept,
            vec![Capability::Chown, Capability::NetBindService]
        );
        assert!(report.ambient);
        p.ambient(false).no_new_privs(false);
        let report = super::plan(&p, &userns(false)).unwrap().report();
        assert!(!report.ambient && !report.no_new_privs);
    }

    #[test]
    fn ptrace_is_refused_with_a_pid_namespace() {
        let mut p = Policy::new();
        p.keep(Capability::SysPtrace);
        assert!(matches!(
            plan(&p, &userns(true)),
            Err(Error::PtraceWithPidNamespace)
        ));
        assert!(
            plan(&p, &userns(false))
                .unwrap()
                .keeps(Capability::SysPtrace)
        );
    }

    #[test]
    fn caps_beyond_the_kernel_are_refused() {
        let mut p = Policy::new();
        p.keep(Capability::CheckpointRestore);
        let ctx = CapContext {
            last_cap: 39,
            ..userns(false)
        };
        assert!(matches!(
            plan(&p, &ctx),
            Err(Error::UnknownToKernel {
                cap: Capability::CheckpointRestore,
                last_cap: 39
            })
        ));
        // A kernel knowing more than this crate: everything up to its last
        // capability is dropped.
        let ctx = CapContext {
            last_cap: 45,
            ..userns(false)
        };
        assert_eq!(plan(&Policy::new(), &ctx).unwrap().last_cap, 45);
    }

    #[test]
    fn inherited_credentials() {
        let mut p = Policy::new();
        p.keep(Capability::NetBindService);
        // Not held: refused.
        let ctx = CapContext {
            creds: Creds::Inherited {
                effective: 0,
                permitted: 0,
            },
            pid_namespace: false,
            last_cap: 40,
        };
        assert!(matches!(
            plan(&p, &ctx),
            Err(Error::NotHeld {
                cap: Capability::NetBindService
            })
        ));
        // Nothing held, nothing kept: the bounding set and securebits only if
        // the child turns out to hold CAP_SETPCAP, and the report does not
        // promise them.
        let plan0 = plan(&Policy::new(), &ctx).unwrap();
        assert!(plan0.setpcap == Setpcap::IfHeld && plan0.no_new_privs);
        assert!(!plan0.report().bounding_set_dropped);
        assert!(!plan0.report().noroot_locked);
        // Root-like credentials.
        let all = (1u64 << 41) - 1;
        let ctx = CapContext {
            creds: Creds::Inherited {
                effective: all,
                permitted: all,
            },
            ..ctx
        };
        let plan1 = plan(&p, &ctx).unwrap();
        assert_eq!(plan1.setpcap, Setpcap::Required);
    }

    #[test]
    fn last_cap_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cap_last_cap");
        std::fs::write(&file, "40\n").unwrap();
        assert_eq!(last_cap_from(&file).unwrap(), 40);
        std::fs::write(&file, "forty\n").unwrap();
        match last_cap_from(&file) {
            Err(Error::LastCap { path, .. }) => assert_eq!(path, file),
            other => panic!("unexpected {other:?}"),
        }
        // Missing file: falls back to probing the bounding set.
        let probed = last_cap_from(&dir.path().join("missing")).unwrap();
        assert!(probed >= 36, "{probed}");
    }

    #[test]
    fn stage_messages_name_the_capability() {
        assert_eq!(
            Stage::BoundingSet { cap: 21 }.to_string(),
            "drop CAP_SYS_ADMIN from the bounding set"
        );
        assert_eq!(
            Stage::AmbientRaise { cap: 10 }.to_string(),
            "raise CAP_NET_BIND_SERVICE in the ambient set"
        );
    }

    /// Which variant `e` is; a new variant must be named here and sampled
    /// below.
    fn variant(e: &Error) -> &'static str {
        match e {
            Error::PtraceWithPidNamespace => "PtraceWithPidNamespace",
            Error::UnknownToKernel { .. } => "UnknownToKernel",
            Error::NotHeld { .. } => "NotHeld",
            Error::LastCap { .. } => "LastCap",
            Error::ReadCaps { .. } => "ReadCaps",
        }
    }

    #[test]
    fn every_error_says_what_is_wrong_in_one_line() {
        use crate::error::tests::{assert_actionable, os};
        let samples: Vec<(Error, Vec<&str>)> = vec![
            (
                Error::PtraceWithPidNamespace,
                vec!["CAP_SYS_PTRACE", "kept capabilities"],
            ),
            (
                Error::UnknownToKernel {
                    cap: Capability::CheckpointRestore,
                    last_cap: 39,
                },
                vec!["CAP_CHECKPOINT_RESTORE", "39"],
            ),
            (
                Error::NotHeld {
                    cap: Capability::NetRaw,
                },
                vec!["CAP_NET_RAW", "user namespace"],
            ),
            (
                Error::LastCap {
                    path: CAP_LAST_CAP.into(),
                    source: io::Error::new(
                        io::ErrorKind::InvalidData,
                        "forty".parse::<u8>().unwrap_err(),
                    ),
                },
                vec![CAP_LAST_CAP],
            ),
            (
                Error::ReadCaps {
                    source: os(libc::EPERM),
                },
                vec!["capabilities of the calling thread"],
            ),
        ];
        for (e, items) in &samples {
            assert_actionable(e, items);
            assert!(e.to_string().starts_with("failed to "), "{e}");
        }
        let seen: BTreeSet<_> = samples.iter().map(|(e, _)| variant(e)).collect();
        assert_eq!(seen.len(), 5, "a variant has no sample");
        assert_actionable(
            &"cap_frob".parse::<Capability>().unwrap_err(),
            &["\"cap_frob\""],
        );
    }
}
