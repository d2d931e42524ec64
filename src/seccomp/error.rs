//! Why a seccomp policy could not be compiled or installed.

use super::report::Arch;
use super::rule::Action;

/// Why a seccomp policy could not be compiled or installed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// A rule names a system call the native table does not have.
    #[error("failed to resolve system call `{name}`: it is not in the {arch} system call table")]
    UnknownSyscall {
        /// The name as given.
        name: String,
        /// The architecture whose table was searched.
        arch: Arch,
    },
    /// An argument condition uses an index above 5.
    #[error("failed to compile the rule for `{syscall}`: argument index {index} is not in 0..=5")]
    InvalidArgIndex {
        /// The system call of the rule.
        syscall: String,
        /// The offending index.
        index: u8,
    },
    /// An [`Action::Errno`] value above 4095.
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
    /// A caller's program ([`Program::from_bytes`](super::Program::from_bytes))
    /// is not 1 to 4096 instructions of 8 bytes.
    #[error(
        "failed to read the seccomp program: {bytes} bytes is not 1 to 4096 instructions of 8 bytes"
    )]
    BadProgram {
        /// Length of what was given.
        bytes: usize,
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
        action: Action,
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
