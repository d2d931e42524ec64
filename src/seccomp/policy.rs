//! The policy model: [`Policy`], the plain data a caller builds
//! and the compiler reads (its `validate` and `to_bpf` live with the
//! compiler, in the parent module).

use super::groups::SyscallGroup;
use super::rule::{Action, ArgCondition, ArgOp, SyscallRule};

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
    GroupAction { group: SyscallGroup, action: Action },
}

/// A seccomp policy: what happens to each system call (seccomp filters:
/// Linux 3.17; the actions [`Action::KillProcess`] and
/// [`Action::Log`]: Linux 4.14).
///
/// Build one from [`Policy::default_profile`] (the sandbox's
/// default), [`Policy::allowlist`] or [`Policy::denylist`],
/// then add rules by system call name or by [`SyscallGroup`]. Builder
/// methods cannot fail; problems (an unknown system call name, an argument
/// index above 5, an errno above 4095) are reported when the policy is
/// compiled, by [`Policy::validate`] or when a sandbox using it is
/// spawned. Names are resolved against the native system call table, so a
/// misspelt name is a typed error ([`Error::UnknownSyscall`](super::Error::UnknownSyscall)), never
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
/// use stockade::seccomp::{Action, ArgCondition, ArgOp, Policy, SyscallGroup, SyscallRule};
///
/// let mut policy = Policy::allowlist(Action::Errno(libc::EPERM as u16));
/// policy
///     .allow_group(SyscallGroup::FileIo)
///     .allow_group(SyscallGroup::Memory)
///     // Refines the group: no writes to descriptors above 2.
///     .rule(
///         SyscallRule::new("write", Action::Errno(libc::EBADF as u16))
///             .when(ArgCondition::new32(0, ArgOp::Gt, 2)),
///     );
/// let report = policy.validate()?;
/// assert_eq!(report.conditional_syscalls, 2); // `write` and the guarded `ioctl`
///
/// let mut typo = Policy::default_profile();
/// typo.deny("mkdirr");
/// assert!(matches!(typo.validate(), Err(stockade::seccomp::Error::UnknownSyscall { .. })));
/// # Ok::<(), stockade::seccomp::Error>(())
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
pub struct Policy {
    pub(crate) default_action: Action,
    pub(crate) unknown_action: Action,
    pub(crate) entries: Vec<PolicyEntry>,
}

impl Default for Policy {
    /// The default profile ([`Policy::default_profile`]).
    fn default() -> Self {
        Self::default_profile()
    }
}

impl Policy {
    /// The sandbox's default profile (see the type's documentation).
    pub fn default_profile() -> Self {
        let mut policy = Self::allowlist(Action::Errno(libc::EPERM as u16));
        for &group in SyscallGroup::UNPRIVILEGED {
            policy.allow_group(group);
        }
        policy
    }

    /// An empty allowlist: every known system call gets `default_action`
    /// (typically `Action::Errno(EPERM)`) until rules allow it;
    /// unknown numbers answer `ENOSYS`.
    pub fn allowlist(default_action: Action) -> Self {
        Self {
            default_action,
            unknown_action: Action::Errno(libc::ENOSYS as u16),
            entries: Vec::new(),
        }
    }

    /// An empty denylist: every known system call is allowed until rules
    /// deny it; unknown numbers still answer `ENOSYS`, so that a system call
    /// newer than this crate cannot bypass the list.
    pub fn denylist() -> Self {
        Self::allowlist(Action::Allow)
    }

    /// Sets the action for known system calls no rule matches.
    pub fn default_action(&mut self, action: Action) -> &mut Self {
        self.default_action = action;
        self
    }

    /// Sets the action for system call numbers the native table does not
    /// know (newer than this crate, or unassigned); `ENOSYS` by default.
    pub fn unknown_syscall_action(&mut self, action: Action) -> &mut Self {
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
        self.rule(SyscallRule::new(syscall, Action::Allow))
    }

    /// Makes the system call `syscall` fail with `EPERM` whatever its
    /// arguments.
    pub fn deny(&mut self, syscall: impl Into<String>) -> &mut Self {
        self.rule(SyscallRule::new(syscall, Action::Errno(libc::EPERM as u16)))
    }

    /// Allows every member of `group`, with the group's argument guards
    /// when it is unprivileged (see [`SyscallGroup`]).
    pub fn allow_group(&mut self, group: SyscallGroup) -> &mut Self {
        self.entries.push(PolicyEntry::AllowGroup(group));
        self
    }

    /// Makes every member of `group` fail with `EPERM`.
    pub fn deny_group(&mut self, group: SyscallGroup) -> &mut Self {
        self.group_action(group, Action::Errno(libc::EPERM as u16))
    }

    /// Applies `action` to every member of `group`, whatever the arguments.
    pub fn group_action(&mut self, group: SyscallGroup, action: Action) -> &mut Self {
        self.entries
            .push(PolicyEntry::GroupAction { group, action });
        self
    }
}

/// The rules behind [`Sandbox::deny_net_by_filter`](crate::Sandbox::deny_net_by_filter),
/// appended last so that they win over the policy's own: `socket` for any
/// family but `AF_UNIX` answers `EAFNOSUPPORT`, `io_uring_setup` (whose
/// rings can create sockets) `EPERM`.
pub(crate) fn add_net_filter(policy: &mut Policy) {
    policy
        .rule(
            SyscallRule::new("socket", Action::Errno(libc::EAFNOSUPPORT as u16))
                .when(ArgCondition::new32(0, ArgOp::Ne, libc::AF_UNIX as u32)),
        )
        .rule(SyscallRule::new(
            "io_uring_setup",
            Action::Errno(libc::EPERM as u16),
        ));
}
