//! The vocabulary of rules: actions, argument conditions and the rule for
//! one system call.

use std::fmt;

/// What the kernel does with a system call.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
#[cfg_attr(
    feature = "serde",
    derive(serde::Serialize, serde::Deserialize),
    serde(rename_all = "snake_case")
)]
#[non_exhaustive]
pub enum Action {
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

impl Action {
    /// The value a seccomp filter returns for this action.
    pub(super) fn ret(self) -> u32 {
        match self {
            Self::Allow => libc::SECCOMP_RET_ALLOW,
            Self::Log => libc::SECCOMP_RET_LOG,
            Self::Errno(errno) => libc::SECCOMP_RET_ERRNO | u32::from(errno),
            Self::Trap => libc::SECCOMP_RET_TRAP,
            Self::KillProcess => libc::SECCOMP_RET_KILL_PROCESS,
        }
    }

    /// The action a filter return value stands for.
    pub(super) fn from_ret(ret: u32) -> Self {
        match ret & libc::SECCOMP_RET_ACTION_FULL {
            libc::SECCOMP_RET_ALLOW => Self::Allow,
            libc::SECCOMP_RET_LOG => Self::Log,
            libc::SECCOMP_RET_ERRNO => Self::Errno((ret & libc::SECCOMP_RET_DATA) as u16),
            libc::SECCOMP_RET_TRAP => Self::Trap,
            _ => Self::KillProcess,
        }
    }
}

impl fmt::Display for Action {
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
    /// An index above 5 is reported by [`Policy::validate`](super::Policy::validate) as
    /// [`Error::InvalidArgIndex`](super::Error::InvalidArgIndex).
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
    pub(super) syscall: String,
    pub(super) action: Action,
    #[cfg_attr(feature = "serde", serde(default))]
    pub(super) conditions: Vec<ArgCondition>,
}

impl SyscallRule {
    /// A rule that applies `action` to the system call `syscall` (a name
    /// from the native system call table, such as `"openat"`; checked when
    /// the policy is compiled).
    pub fn new(syscall: impl Into<String>, action: Action) -> Self {
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
    pub fn action(&self) -> Action {
        self.action
    }

    /// The argument conditions, all of which must hold.
    pub fn conditions(&self) -> &[ArgCondition] {
        &self.conditions
    }
}
