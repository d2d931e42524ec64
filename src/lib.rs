//! Run child processes inside a Linux sandbox, with an API shaped like
//! [`std::process`].
//!
//! ```
//! use stockade::{Command, Sandbox};
//!
//! # fn main() -> Result<(), stockade::Error> {
//! // The default policy: new user, mount, pid, network, IPC, UTS and cgroup
//! // namespaces, a read-only view of the host's system directories without its
//! // secrets, fresh /proc, minimal /dev, private /tmp, a cleared environment,
//! // no capabilities, no_new_privs and the default seccomp profile.
//! let sandbox = Sandbox::new();
//!
//! let out = sandbox.output(Command::new("sh").arg("-c").arg("echo $$; ls /"))?;
//! assert!(out.status.success());
//! let text = String::from_utf8_lossy(&out.stdout);
//! assert!(text.starts_with("2\n"), "the program is pid 2, under the sandbox's init");
//! assert!(!text.contains("home"), "the host's home directories are not there");
//!
//! // A Sandbox is a reusable policy: spawn from it as often as needed, from
//! // any thread.
//! let mut child = sandbox.spawn(Command::new("sleep").arg("100"))?;
//! println!("{}", child.enforcement());
//! child.kill().expect("kill");
//! assert_eq!(child.wait().expect("wait").signal(), Some(9));
//! # Ok(())
//! # }
//! ```
//!
//! # How a spawn works
//!
//! Everything that allocates, resolves a path or can fail for configuration
//! reasons happens in the caller, before `clone3`: argument and environment
//! strings, the mount plan, file descriptor moves. The caller then clones a
//! *supervisor* with `CLONE_VM` (so a spawn costs the same from a 1 GiB process
//! as from a small one) on a stack of its own. The supervisor writes its uid/gid
//! map, builds the root filesystem and pivots into it, then creates the program
//! process with `CLONE_VFORK`; that process arranges descriptors and
//! credentials, builds its Landlock ruleset, installs the seccomp filter
//! compiled once per policy, and executes the program. Between clone and
//! exec only raw system calls run over the pre-built plan: no allocation, no locks, no panics, which
//! is what makes spawning safe from multi-threaded and async programs.
//!
//! The supervisor stays as the sandbox's init: it reaps orphans, forwards
//! signals to the program, and ends the sandbox when the caller dies. A failed
//! setup step comes back as a typed [`Error`] naming the step and the item,
//! never as an exit code.
//!
//! # Async
//!
//! With the `tokio` feature, the `tokio` module adds `Sandbox::spawn_async`,
//! `output_async` and `status_async`, and an `AsyncChild` whose `wait` awaits
//! the sandbox's pidfd on tokio's reactor, with no `SIGCHLD` handler and no
//! thread per child.
#![deny(missing_docs)]

mod caps;
pub mod cgroup;
mod child;
mod command;
mod compat;
mod confine;
mod error;
#[cfg(feature = "landlock")]
mod landlock;
mod limits;
mod namespaces;
#[cfg(feature = "serde")]
pub mod policy;
mod rootfs;
mod sandbox;
#[cfg(feature = "seccomp")]
mod seccomp;
mod spawn;
mod sys;
#[cfg(feature = "tokio")]
pub mod tokio;

pub use self::caps::{
    CapStage, Capability, CapsError, CapsPolicy, CapsReport, ParseCapabilityError,
};
pub use cgroup::{
    CgroupConfig, CgroupError, CgroupField, CgroupReport, CgroupUsage, Controller, Unavailable,
};
pub use child::{
    Child, ChildStderr, ChildStdin, ChildStdout, ExitStatus, Outcome, Output, Usage, Verdict,
};
pub use command::{Command, Stdio};
pub use compat::{CompatLevel, Enforcement};
pub use confine::{ConfineError, ConfineReport, ConfineStage, Confinement, PreparedConfinement};
pub use error::{
    ChildSetupError, ConfigError, Error, FdProblem, Feature, Field, HostnameProblem, IdKind,
    IdentityProblem, LandlockRuleProblem, NamespaceProblem, ParentOp, Result, SearchPath, Stage,
    Target, Unsupported, UnsupportedReason, UsernsBlocker,
};
#[cfg(feature = "landlock")]
pub use landlock::{
    FsAccess, LandlockEnforcement, LandlockError, LandlockFeature, LandlockGroup, LandlockNote,
    LandlockPolicy, LandlockReport, LandlockScope, LandlockUnavailable, NetAccess,
};
pub use limits::{ParseRlimitError, RLIM_INFINITY, Rlimit};
pub use namespaces::{IdMapping, Namespaces};
#[cfg(feature = "serde")]
pub use policy::{Inexpressible, PolicyError, PolicyFormat};
pub use rootfs::{FsConfig, FsError, FsOp, OpName, RootKind, TmpfsOptions};
pub use sandbox::Sandbox;
#[cfg(feature = "seccomp")]
pub use seccomp::{
    ArgCondition, ArgOp, ArgWidth, SeccompAction, SeccompArch, SeccompError, SeccompPolicy,
    SeccompProfile, SeccompReport, SyscallGroup, SyscallRule,
};
pub use spawn::BASE_ENV;

/// The README's examples, compiled as documentation tests.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
/// Entry points for the fuzz targets under `fuzz/`; not part of the API.
#[doc(hidden)]
pub mod __fuzz {
    use crate::spawn::report::{ExitInfo, Record};

    /// Decodes `bytes` as the caller decodes a message from a sandbox's
    /// report channel, and everything derived from an accepted record (its
    /// detail, setup stage and exit accounting). Returns whether the record
    /// was accepted; an accepted record re-encodes to the same bytes.
    pub fn decode_record(bytes: &[u8]) -> bool {
        let Some(rec) = Record::decode(bytes) else {
            return false;
        };
        assert_eq!(rec.as_bytes(), bytes, "decode/encode round trip");
        assert!(rec.detail().len() <= rec.detail.len());
        let _ = crate::error::Stage::from_u32(rec.stage);
        let _ = ExitInfo::decode(&rec);
        true
    }
}
