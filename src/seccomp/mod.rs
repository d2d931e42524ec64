//! seccomp-bpf system call filtering (Linux 3.17+ for the `seccomp` system
//! call; Linux 4.14+ for [`SeccompAction::KillProcess`] and
//! [`SeccompAction::Log`]).
//!
//! A [`SeccompPolicy`] is compiled once, in the parent, into a classic BPF
//! program ([`CompiledFilter`]) that the sandbox stores and installs in every
//! child just before `execve` ([`install`], child-zone safe).

mod codegen;
mod groups;
mod table;

use std::collections::BTreeMap;
use std::fmt;

pub use groups::SyscallGroup;
#[cfg(test)]
pub(crate) use table::max_known;

use crate::sys::raw::Errno;

/// The largest program the kernel accepts (`BPF_MAXINSNS`).
const BPF_MAXINSNS: usize = 4096;
/// The largest errno the kernel passes through (`MAX_ERRNO`); larger values
/// are clamped by the kernel, so the compiler rejects them.
const MAX_ERRNO: u16 = 4095;

/// What the kernel does with a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum SeccompAction {
    /// Run the system call.
    Allow,
    /// Run the system call and log it to the audit log (Linux 4.14).
    Log,
    /// Do not run the system call; return `-1` with this `errno` (at most
    /// 4095; `0` makes the call appear to succeed without running it).
    Errno(u16),
    /// Do not run the system call; send `SIGSYS` to the thread, which may
    /// handle it.
    Trap,
    /// Kill the whole process with `SIGSYS` (Linux 4.14).
    KillProcess,
}

impl SeccompAction {
    /// The value a seccomp filter returns for this action.
    fn ret(self) -> u32 {
        match self {
            Self::Allow => libc::SECCOMP_RET_ALLOW,
            Self::Log => libc::SECCOMP_RET_LOG,
            Self::Errno(errno) => libc::SECCOMP_RET_ERRNO | u32::from(errno),
            Self::Trap => libc::SECCOMP_RET_TRAP,
            Self::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        }
    }

    /// The action a filter return value stands for.
    fn from_ret(ret: u32) -> Self {
        match ret & libc::SECCOMP_RET_ACTION_FULL {
            libc::SECCOMP_RET_ALLOW => Self::Allow,
            libc::SECCOMP_RET_LOG => Self::Log,
            libc::SECCOMP_RET_ERRNO => Self::Errno((ret & libc::SECCOMP_RET_DATA) as u16),
            libc::SECCOMP_RET_TRAP => Self::Trap,
            _ => Self::KillProcess,
        }
    }

    fn validate(self) -> Result<(), SeccompError> {
        match self {
            Self::Errno(errno) if errno > MAX_ERRNO => Err(SeccompError::InvalidErrno { errno }),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for SeccompAction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Allow => f.write_str("allow"),
            Self::Log => f.write_str("log"),
            Self::Errno(errno) => write!(f, "errno({errno})"),
            Self::Trap => f.write_str("trap"),
            Self::KillProcess => f.write_str("kill process"),
        }
    }
}

/// How an argument is compared with a [`ArgCondition`]'s value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ArgOp {
    /// `arg == value`
    Eq,
    /// `arg != value`
    Ne,
    /// `arg < value` (unsigned)
    Lt,
    /// `arg <= value` (unsigned)
    Le,
    /// `arg > value` (unsigned)
    Gt,
    /// `arg >= value` (unsigned)
    Ge,
    /// `arg & mask == value & mask`
    MaskedEq(u64),
}

/// How many bits of an argument a [`ArgCondition`] compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum ArgWidth {
    /// Only the low 32 bits, for arguments the kernel declares as `int` or
    /// `unsigned int` (the kernel ignores the upper half of the register, so
    /// a filter must too, or a caller can slip past an equality check by
    /// setting high bits).
    Low32,
    /// All 64 bits, for `long`, pointer-sized and 64-bit arguments.
    Full64,
}

/// A condition on one system call argument.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct ArgCondition {
    pub(crate) arg: u8,
    pub(crate) width: ArgWidth,
    pub(crate) op: ArgOp,
    pub(crate) value: u64,
}

impl ArgCondition {
    /// Compares all 64 bits of argument `arg` (0 to 5) with `value`.
    ///
    /// An index above 5 is reported by [`SeccompPolicy::validate`] as
    /// [`SeccompError::InvalidArgIndex`].
    pub fn new(arg: u8, op: ArgOp, value: u64) -> Self {
        Self {
            arg,
            width: ArgWidth::Full64,
            op,
            value,
        }
    }

    /// Compares the low 32 bits of argument `arg` (0 to 5) with `value`; use
    /// this for `int` and `unsigned int` arguments such as `ioctl`'s request
    /// or `socket`'s domain. With [`ArgOp::MaskedEq`] only the low 32 bits of
    /// the mask are used.
    pub fn new32(arg: u8, op: ArgOp, value: u32) -> Self {
        Self {
            arg,
            width: ArgWidth::Low32,
            op,
            value: u64::from(value),
        }
    }

    /// The argument index.
    pub fn arg(&self) -> u8 {
        self.arg
    }

    /// How many bits are compared.
    pub fn width(&self) -> ArgWidth {
        self.width
    }

    /// The comparison.
    pub fn op(&self) -> ArgOp {
        self.op
    }

    /// The value compared with.
    pub fn value(&self) -> u64 {
        self.value
    }
}

/// A rule for one system call, by name: an action, taken when all of the
/// rule's argument conditions hold (always, when it has none).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SyscallRule {
    syscall: String,
    action: SeccompAction,
    #[cfg_attr(feature = "serde", serde(default))]
    conditions: Vec<ArgCondition>,
}

impl SyscallRule {
    /// A rule that applies `action` to the system call `syscall` (a name
    /// from the native system call table, such as `"openat"`; checked when
    /// the policy is compiled).
    pub fn new(syscall: impl Into<String>, action: SeccompAction) -> Self {
        Self {
            syscall: syscall.into(),
            action,
            conditions: Vec::new(),
        }
    }

    /// Adds an argument condition; the rule matches only when all of its
    /// conditions hold.
    #[must_use]
    pub fn when(mut self, condition: ArgCondition) -> Self {
        self.conditions.push(condition);
        self
    }

    /// The system call's name.
    pub fn syscall(&self) -> &str {
        &self.syscall
    }

    /// The action taken when the rule matches.
    pub fn action(&self) -> SeccompAction {
        self.action
    }

    /// The argument conditions, all of which must hold.
    pub fn conditions(&self) -> &[ArgCondition] {
        &self.conditions
    }
}

/// One entry of a policy, in the order the caller added it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
pub(crate) enum PolicyEntry {
    Rule(SyscallRule),
    AllowGroup(SyscallGroup),
    GroupAction {
        group: SyscallGroup,
        action: SeccompAction,
    },
}

/// A seccomp policy: what happens to each system call (seccomp filters:
/// Linux 3.17; the actions [`SeccompAction::KillProcess`] and
/// [`SeccompAction::Log`]: Linux 4.14).
///
/// Build one from [`SeccompPolicy::default_profile`] (the sandbox's
/// default), [`SeccompPolicy::allowlist`] or [`SeccompPolicy::denylist`],
/// then add rules by system call name or by [`SyscallGroup`]. Builder
/// methods cannot fail; problems (an unknown system call name, an argument
/// index above 5, an errno above 4095) are reported when the policy is
/// compiled, by [`SeccompPolicy::validate`] or when a sandbox using it is
/// spawned. Names are resolved against the native system call table, so a
/// misspelt name is a typed error ([`SeccompError::UnknownSyscall`]), never
/// a silently missing rule. A sandbox compiles its policy once and reuses
/// the program for every spawn.
///
/// # Rule semantics
///
/// A policy has a *default action* for known system calls no rule matches,
/// an *unknown action* for system call numbers the crate's table does not
/// know (newer than the table, or holes in it; `ENOSYS` by default, so that
/// libcs fall back to older calls), and an ordered list of rules. For each
/// system call the **last matching rule wins**: a rule without argument
/// conditions always matches, a rule with conditions matches when all of
/// them hold. So a later rule refines or overrides an earlier one:
///
/// ```
/// use stockade::{ArgCondition, ArgOp, SeccompAction, SeccompPolicy, SyscallGroup, SyscallRule};
///
/// let mut policy = SeccompPolicy::allowlist(SeccompAction::Errno(libc::EPERM as u16));
/// policy
///     .allow_group(SyscallGroup::FileIo)
///     .allow_group(SyscallGroup::Memory)
///     // Refines the group: no writes to descriptors above 2.
///     .rule(
///         SyscallRule::new("write", SeccompAction::Errno(libc::EBADF as u16))
///             .when(ArgCondition::new32(0, ArgOp::Gt, 2)),
///     );
/// let report = policy.validate()?;
/// assert_eq!(report.conditional_syscalls, 2); // `write` and the guarded `ioctl`
///
/// let mut typo = SeccompPolicy::default_profile();
/// typo.deny("mkdirr");
/// assert!(matches!(typo.validate(), Err(stockade::SeccompError::UnknownSyscall { .. })));
/// # Ok::<(), stockade::SeccompError>(())
/// ```
///
/// # The default profile
///
/// The default profile allows the twelve unprivileged [`SyscallGroup`]s
/// with their argument guards (about 300 system calls on x86_64), answers
/// every other known system call with `EPERM` and every unknown number with
/// `ENOSYS`. It is a subset of Docker's default profile for a container
/// without capabilities. Compared with Docker it also denies the keyring
/// calls (`add_key`, `request_key`, `keyctl`; keyrings are not
/// namespaced), `process_vm_readv`/`process_vm_writev`, `ptrace` attach and
/// seize (Docker allows all of `ptrace` from Linux 4.8), `modify_ldt`, and
/// the `personality` values Docker allows beyond `0` and the query
/// (`PER_LINUX32`, `ADDR_NO_RANDOMIZE`). Like Docker it answers `clone3`
/// with `ENOSYS`, because a filter cannot read the flags `clone3` takes
/// from memory, while it can inspect those of `clone`.
///
/// # The compiled program
///
/// The program checks the architecture first: anything but the native one
/// (the i386 entry through `int 0x80` on x86_64, aarch32 on aarch64) kills
/// the process. On x86_64 it then kills x32-ABI calls (numbers with bit
/// `0x40000000`), answers numbers above the table's largest with the
/// unknown action, and finds the system call by a binary search over ranges
/// of numbers that share a decision. Arguments are loaded only at the
/// leaves of the few system calls that need checks, so the decision for
/// every other system call depends on nothing but the architecture and the
/// number: the kernel's action cache (Linux 5.11) then proves such calls
/// always allowed and skips the filter for them entirely.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize, serde::Deserialize))]
pub struct SeccompPolicy {
    pub(crate) default_action: SeccompAction,
    pub(crate) unknown_action: SeccompAction,
    pub(crate) entries: Vec<PolicyEntry>,
}

impl Default for SeccompPolicy {
    /// The default profile ([`SeccompPolicy::default_profile`]).
    fn default() -> Self {
        Self::default_profile()
    }
}

impl SeccompPolicy {
    /// The sandbox's default profile (see the type's documentation).
    pub fn default_profile() -> Self {
        let mut policy = Self::allowlist(SeccompAction::Errno(libc::EPERM as u16));
        for &group in SyscallGroup::UNPRIVILEGED {
            policy.allow_group(group);
        }
        policy
    }

    /// An empty allowlist: every known system call gets `default_action`
    /// (typically `SeccompAction::Errno(EPERM)`) until rules allow it;
    /// unknown numbers answer `ENOSYS`.
    pub fn allowlist(default_action: SeccompAction) -> Self {
        Self {
            default_action,
            unknown_action: SeccompAction::Errno(libc::ENOSYS as u16),
            entries: Vec::new(),
        }
    }

    /// An empty denylist: every known system call is allowed until rules
    /// deny it; unknown numbers still answer `ENOSYS`, so that a system call
    /// newer than this crate cannot bypass the list.
    pub fn denylist() -> Self {
        Self::allowlist(SeccompAction::Allow)
    }

    /// Sets the action for known system calls no rule matches.
    pub fn default_action(&mut self, action: SeccompAction) -> &mut Self {
        self.default_action = action;
        self
    }

    /// Sets the action for system call numbers the native table does not
    /// know (newer than this crate, or unassigned); `ENOSYS` by default.
    pub fn unknown_syscall_action(&mut self, action: SeccompAction) -> &mut Self {
        self.unknown_action = action;
        self
    }

    /// Adds a rule; it takes precedence over earlier rules for the same
    /// system call.
    pub fn rule(&mut self, rule: SyscallRule) -> &mut Self {
        self.entries.push(PolicyEntry::Rule(rule));
        self
    }

    /// Allows the system call `syscall` whatever its arguments.
    pub fn allow(&mut self, syscall: impl Into<String>) -> &mut Self {
        self.rule(SyscallRule::new(syscall, SeccompAction::Allow))
    }

    /// Makes the system call `syscall` fail with `EPERM` whatever its
    /// arguments.
    pub fn deny(&mut self, syscall: impl Into<String>) -> &mut Self {
        self.rule(SyscallRule::new(
            syscall,
            SeccompAction::Errno(libc::EPERM as u16),
        ))
    }

    /// Allows every member of `group`, with the group's argument guards
    /// when it is unprivileged (see [`SyscallGroup`]).
    pub fn allow_group(&mut self, group: SyscallGroup) -> &mut Self {
        self.entries.push(PolicyEntry::AllowGroup(group));
        self
    }

    /// Makes every member of `group` fail with `EPERM`.
    pub fn deny_group(&mut self, group: SyscallGroup) -> &mut Self {
        self.group_action(group, SeccompAction::Errno(libc::EPERM as u16))
    }

    /// Applies `action` to every member of `group`, whatever the arguments.
    pub fn group_action(&mut self, group: SyscallGroup, action: SeccompAction) -> &mut Self {
        self.entries
            .push(PolicyEntry::GroupAction { group, action });
        self
    }

    /// Compiles the policy and reports what it would enforce, without
    /// installing anything.
    pub fn validate(&self) -> Result<SeccompReport, SeccompError> {
        compile(self).map(|filter| filter.report)
    }

    /// Compiles the policy into the classic BPF program the kernel runs, for
    /// inspection or for installing by other means (for example
    /// `bwrap --seccomp FD` reads this format).
    pub fn to_bpf(&self) -> Result<Vec<libc::sock_filter>, SeccompError> {
        compile(self).map(|filter| filter.program.into_vec())
    }
}

/// Whether a policy is the default profile or was customised.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize),
    serde(rename_all = "lowercase")
)]
#[non_exhaustive]
pub enum SeccompProfile {
    /// Exactly [`SeccompPolicy::default_profile`].
    Default,
    /// Anything else.
    Custom,
}

impl fmt::Display for SeccompProfile {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::Default => "default",
            Self::Custom => "custom",
        })
    }
}

/// The architecture a filter was compiled for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub enum SeccompArch {
    /// x86_64 (the filter kills i386 and x32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "x86_64"))]
    X86_64,
    /// aarch64 (the filter kills aarch32 system calls).
    #[cfg_attr(feature = "serde", serde(rename = "aarch64"))]
    Aarch64,
}

impl SeccompArch {
    /// The architecture this crate was compiled for.
    pub const NATIVE: Self = if cfg!(target_arch = "x86_64") {
        Self::X86_64
    } else {
        Self::Aarch64
    };
}

impl fmt::Display for SeccompArch {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::X86_64 => "x86_64",
            Self::Aarch64 => "aarch64",
        })
    }
}

/// What a compiled seccomp policy enforces, for the enforcement report.
#[derive(Clone, Debug, PartialEq, Eq)]
#[cfg_attr(feature = "serde", derive(serde::Serialize))]
#[non_exhaustive]
pub struct SeccompReport {
    /// Whether the policy is the default profile.
    pub profile: SeccompProfile,
    /// Per-system-call decisions in the program: one for each argument
    /// check and one for each system call with an explicit unconditional
    /// rule (rules shadowed by later ones are not counted).
    pub rules: usize,
    /// Known system calls allowed whatever their arguments.
    pub allowed_syscalls: usize,
    /// Known system calls whose outcome depends on their arguments.
    pub conditional_syscalls: usize,
    /// Length of the BPF program.
    pub instructions: usize,
    /// Action for known system calls no rule matches.
    pub default_action: SeccompAction,
    /// Action for system call numbers the table does not know.
    pub unknown_syscall_action: SeccompAction,
    /// The architecture the program accepts; every other one is killed.
    pub arch: SeccompArch,
}

impl fmt::Display for SeccompReport {
    /// One line, for example `default profile, 312 rules (286 system calls
    /// allowed, 6 checked by argument, others errno(1))`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} profile, {} rules ({} system calls allowed, {} checked by argument, others {})",
            self.profile,
            self.rules,
            self.allowed_syscalls,
            self.conditional_syscalls,
            self.default_action
        )
    }
}

/// Why a seccomp policy could not be compiled or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeccompError {
    /// A rule names a system call the native table does not have.
    #[error("failed to resolve system call `{name}`: it is not in the {arch} system call table")]
    UnknownSyscall {
        /// The name as given.
        name: String,
        /// The architecture whose table was searched.
        arch: SeccompArch,
    },
    /// An argument condition uses an index above 5.
    #[error("failed to compile the rule for `{syscall}`: argument index {index} is not in 0..=5")]
    InvalidArgIndex {
        /// The system call of the rule.
        syscall: String,
        /// The offending index.
        index: u8,
    },
    /// An [`SeccompAction::Errno`] value above 4095.
    #[error("failed to compile the seccomp policy: errno {errno} is above 4095")]
    InvalidErrno {
        /// The offending value.
        errno: u16,
    },
    /// The program exceeds the kernel's length limit.
    #[error(
        "failed to compile the seccomp policy: the program has {instructions} instructions, \
         more than the kernel's limit of {limit}"
    )]
    TooLarge {
        /// Length of the generated program.
        instructions: usize,
        /// The kernel's limit.
        limit: usize,
    },
    /// The argument checks for a system call could not be generated.
    #[error("failed to generate the argument checks for `{syscall}`")]
    CodeGeneration {
        /// The system call whose checks failed.
        syscall: String,
        /// What went wrong.
        #[source]
        source: Box<dyn std::error::Error + Send + Sync>,
    },
    /// The generated program failed its own structural check (a bug in
    /// this crate; the kernel would refuse the program).
    #[error(
        "failed to compile the seccomp policy: instruction {instruction} of the program is malformed"
    )]
    Malformed {
        /// Index of the offending instruction.
        instruction: usize,
    },
    /// The kernel has no seccomp filters (Linux 3.17 with
    /// `CONFIG_SECCOMP_FILTER`), or cannot say which actions it supports
    /// (Linux 4.14).
    #[error(
        "failed to use seccomp: the kernel does not support seccomp filters (Linux 4.14 or later needed)"
    )]
    Unsupported {
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// The kernel does not support an action the policy uses.
    #[error("failed to use seccomp: the kernel does not support the action {action}")]
    ActionUnsupported {
        /// The action.
        action: SeccompAction,
    },
    /// `prctl(PR_SET_NO_NEW_PRIVS)` failed.
    #[error("failed to set no_new_privs")]
    NoNewPrivs {
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
    /// The `seccomp` system call refused the filter.
    #[error("failed to install the seccomp filter")]
    Install {
        /// The kernel's error.
        #[source]
        source: std::io::Error,
    },
}

/// A compiled policy: the BPF program and its report. Immutable; meant to be
/// shared (`Arc`) between every spawn of a sandbox.
pub(crate) struct CompiledFilter {
    program: Box<[libc::sock_filter]>,
    /// `program.len()`, checked at compile time to fit `sock_fprog::len`.
    len: u16,
    report: SeccompReport,
}

impl fmt::Debug for CompiledFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CompiledFilter")
            .field("instructions", &self.program.len())
            .field("report", &self.report)
            .finish()
    }
}

impl CompiledFilter {
    /// The BPF program.
    pub(crate) fn instructions(&self) -> &[libc::sock_filter] {
        &self.program
    }

    /// What the program enforces.
    pub(crate) fn report(&self) -> &SeccompReport {
        &self.report
    }
}

/// What a policy decides for one known system call.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Decision {
    /// The same return value whatever the arguments.
    Const(u32),
    /// Argument checks in order (first match wins), then `fallback`.
    Checked {
        rules: Vec<(Vec<ArgCondition>, u32)>,
        fallback: u32,
    },
}

/// One rule resolved to a system call number, in policy order.
struct Resolved<'a> {
    conditions: &'a [ArgCondition],
    action: SeccompAction,
}

/// Compiles `policy` for the native architecture.
/// The rules behind [`Sandbox::deny_net_by_filter`](crate::Sandbox::deny_net_by_filter),
/// appended last so that they win over the policy's own: `socket` for any
/// family but `AF_UNIX` answers `EAFNOSUPPORT`, `io_uring_setup` (whose
/// rings can create sockets) `EPERM`.
pub(crate) fn add_net_filter(policy: &mut SeccompPolicy) {
    policy
        .rule(
            SyscallRule::new("socket", SeccompAction::Errno(libc::EAFNOSUPPORT as u16))
                .when(ArgCondition::new32(0, ArgOp::Ne, libc::AF_UNIX as u32)),
        )
        .rule(SyscallRule::new(
            "io_uring_setup",
            SeccompAction::Errno(libc::EPERM as u16),
        ));
}

pub(crate) fn compile(policy: &SeccompPolicy) -> Result<CompiledFilter, SeccompError> {
    policy.default_action.validate()?;
    policy.unknown_action.validate()?;

    let mut per_nr: BTreeMap<u32, Vec<Resolved<'_>>> = BTreeMap::new();
    for entry in &policy.entries {
        match entry {
            PolicyEntry::Rule(rule) => {
                let nr =
                    table::lookup(&rule.syscall).ok_or_else(|| SeccompError::UnknownSyscall {
                        name: rule.syscall.clone(),
                        arch: SeccompArch::NATIVE,
                    })?;
                rule.action.validate()?;
                if let Some(bad) = rule.conditions.iter().find(|c| c.arg > 5) {
                    return Err(SeccompError::InvalidArgIndex {
                        syscall: rule.syscall.clone(),
                        index: bad.arg,
                    });
                }
                per_nr.entry(nr).or_default().push(Resolved {
                    conditions: &rule.conditions,
                    action: rule.action,
                });
            }
            PolicyEntry::AllowGroup(group) => {
                for &name in group.syscalls() {
                    let Some(nr) = table::lookup(name) else {
                        continue;
                    };
                    let slot = per_nr.entry(nr).or_default();
                    let guard = if group.is_privileged() {
                        None
                    } else {
                        groups::guard(name)
                    };
                    match guard {
                        Some(rules) => slot.extend(rules.iter().map(|rule| Resolved {
                            conditions: &rule.conditions,
                            action: rule.action,
                        })),
                        None => slot.push(Resolved {
                            conditions: &[],
                            action: SeccompAction::Allow,
                        }),
                    }
                }
            }
            PolicyEntry::GroupAction { group, action } => {
                action.validate()?;
                for &name in group.syscalls() {
                    let Some(nr) = table::lookup(name) else {
                        continue;
                    };
                    per_nr.entry(nr).or_default().push(Resolved {
                        conditions: &[],
                        action: *action,
                    });
                }
            }
        }
    }

    let default_ret = policy.default_action.ret();
    let mut rules = 0;
    let mut decisions: BTreeMap<u32, Decision> = BTreeMap::new();
    for &(_, nr) in table::NATIVE {
        let Some(entries) = per_nr.get(&nr) else {
            decisions.insert(nr, Decision::Const(default_ret));
            continue;
        };
        let (decision, counted) = decide(entries, default_ret);
        rules += counted;
        decisions.insert(nr, decision);
    }

    let mut allowed = 0;
    let mut conditional = 0;
    for decision in decisions.values() {
        match decision {
            Decision::Const(ret) if *ret == libc::SECCOMP_RET_ALLOW => allowed += 1,
            Decision::Const(_) => {}
            Decision::Checked { .. } => conditional += 1,
        }
    }

    let program = codegen::generate(
        &decisions,
        table::max_known(),
        policy.unknown_action.ret(),
        table::NATIVE_AUDIT_ARCH,
        cfg!(target_arch = "x86_64"),
    )
    .map_err(|(nr, source)| SeccompError::CodeGeneration {
        syscall: table::NATIVE
            .iter()
            .find(|&&(_, n)| n == nr)
            .map_or_else(|| nr.to_string(), |&(name, _)| name.to_owned()),
        source,
    })?;
    if let Some(pc) = codegen::first_malformed(&program) {
        return Err(SeccompError::Malformed { instruction: pc });
    }
    let len = u16::try_from(program.len())
        .ok()
        .filter(|&len| usize::from(len) <= BPF_MAXINSNS)
        .ok_or(SeccompError::TooLarge {
            instructions: program.len(),
            limit: BPF_MAXINSNS,
        })?;

    let profile = if *policy == SeccompPolicy::default_profile() {
        SeccompProfile::Default
    } else {
        SeccompProfile::Custom
    };
    let report = SeccompReport {
        profile,
        rules,
        allowed_syscalls: allowed,
        conditional_syscalls: conditional,
        instructions: program.len(),
        default_action: policy.default_action,
        unknown_syscall_action: policy.unknown_action,
        arch: SeccompArch::NATIVE,
    };
    Ok(CompiledFilter {
        program: program.into_boxed_slice(),
        len,
        report,
    })
}

/// Resolves the rules for one system call (in policy order) into a
/// decision, and counts the rules that survive shadowing.
fn decide(entries: &[Resolved<'_>], default_ret: u32) -> (Decision, usize) {
    // Last match wins: walk backwards; conditional rules are tried in that
    // order until the first unconditional one, which ends the search.
    let mut checked = Vec::new();
    let mut fallback = None;
    for entry in entries.iter().rev() {
        if entry.conditions.is_empty() {
            fallback = Some(entry.action.ret());
            break;
        }
        checked.push((entry.conditions.to_vec(), entry.action.ret()));
    }
    let explicit = fallback.is_some();
    let fallback = fallback.unwrap_or(default_ret);
    // A check whose action equals what follows it changes nothing.
    while checked.last().is_some_and(|(_, ret)| *ret == fallback) {
        checked.pop();
    }
    let counted = checked.len() + usize::from(explicit);
    if checked.is_empty() {
        (Decision::Const(fallback), counted)
    } else {
        (
            Decision::Checked {
                rules: checked,
                fallback,
            },
            counted,
        )
    }
}

/// Checks, without installing anything, that the running kernel has
/// seccomp filters and supports every action `filter` returns (asked with
/// `SECCOMP_GET_ACTION_AVAIL`, Linux 4.14). Parent side; meant to be probed
/// once per filter so that a missing feature is a typed error before any
/// spawn rather than a failure in the child.
pub(crate) fn check_support(filter: &CompiledFilter) -> Result<(), SeccompError> {
    let mut seen: Vec<u32> = Vec::new();
    for ins in filter
        .instructions()
        .iter()
        .filter(|i| i.code == codegen::RET_K)
    {
        let action = ins.k & libc::SECCOMP_RET_ACTION_FULL;
        if seen.contains(&action) {
            continue;
        }
        seen.push(action);
        match crate::probe::seccomp_action(action) {
            Ok(_) => {}
            Err(Errno(libc::EOPNOTSUPP)) => {
                return Err(SeccompError::ActionUnsupported {
                    action: SeccompAction::from_ret(ins.k),
                });
            }
            Err(errno) => {
                return Err(SeccompError::Unsupported {
                    source: errno.into_io(),
                });
            }
        }
    }
    Ok(())
}

impl CompiledFilter {
    /// The `sock_fprog` describing this filter's program.
    pub(crate) fn fprog(&self) -> libc::sock_fprog {
        libc::sock_fprog {
            len: self.len,
            // The kernel only reads (copies) the program, despite the
            // pointer's `*mut` type.
            filter: self.program.as_ptr().cast_mut(),
        }
    }
}

#[cfg(test)]
mod tests;
